//! `/unsubscribe ID|BOARD|all`: remove this chat's subscriptions.

use super::grammar::ParseError;
use super::handler::{Context, Handler, Reply, ReplyKind};
use super::i18n::fill;
use crate::store::Removal;

/// What `/unsubscribe` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A subscription id.
    Id(i64),
    /// Every subscription to a board.
    Board(crate::ptt::Board),
    /// Everything.
    All,
}

/// A parsed `/unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// What to remove.
    pub target: Target,
}

impl Unsubscribe {
    /// From the words after `/unsubscribe`: exactly one.
    pub(super) fn parse(words: &[String]) -> Result<Self, ParseError> {
        let [word] = words else {
            return Err(if words.is_empty() {
                ParseError::MissingTarget
            } else {
                ParseError::UnexpectedWords
            });
        };
        let t = word.trim_start_matches('#');
        let target = if t.eq_ignore_ascii_case("all") {
            Target::All
        } else if let Ok(id) = t.parse::<i64>() {
            Target::Id(id)
        } else if let Some(b) = crate::ptt::Board::parse(t) {
            Target::Board(b)
        } else {
            return Err(ParseError::BadTarget(word.clone()));
        };
        Ok(Unsubscribe { target })
    }

    /// Admins only; an id must be one of this chat's.
    pub(super) async fn apply(self, h: &Handler, ctx: &Context) -> crate::store::Result<Reply> {
        let t = ctx.lang.texts();
        if !ctx.is_admin {
            return Ok(Reply::new(ReplyKind::Error, t.admins_only));
        }
        let removal = match self.target {
            Target::Id(id) => {
                // Only ids this destination can see.
                let mine = h.store().subscriptions_of(&ctx.dest).await?;
                if !mine.iter().any(|s| s.id == id) {
                    return Ok(Reply::new(ReplyKind::Error, t.nothing_to_unsubscribe));
                }
                Removal::Id(id)
            }
            Target::Board(b) => Removal::Board(b),
            Target::All => Removal::All,
        };
        let n = h.store().unsubscribe(&ctx.dest, &removal).await?;
        Ok(if n == 0 {
            Reply::new(ReplyKind::Error, t.nothing_to_unsubscribe)
        } else {
            tracing::info!(chat = %ctx.dest, removed = n, "unsubscribed");
            Reply::new(
                ReplyKind::Done,
                fill(t.unsubscribed, &[("n", &n.to_string())]),
            )
        })
    }
}
