//! `/subscribe [BOARD] [WORD]…`: subscribe this chat (or topic, thread) to
//! a polled board's posts matching a filter.

use super::grammar::ParseError;
use super::handler::{Context, Handler, Reply, ReplyKind};
use super::i18n::fill;
use crate::filter::{Filter, FilterError, MAX_WORDS};
use crate::store::{StoreError, now_secs};

/// A parsed `/subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The board as typed (checked against the polled boards when applied).
    pub board: Option<String>,
    /// The filter.
    pub filter: Filter,
}

impl Subscribe {
    /// From the words after `/subscribe`.
    pub(super) fn parse(words: &[String]) -> Result<Self, ParseError> {
        // A board, a `tag:` and MAX_WORDS more; Filter::parse decides.
        if words.len() > MAX_WORDS + 2 {
            return Err(ParseError::Filter(FilterError::TooManyWords));
        }
        // The first word is a board when it can be a PTT board name;
        // anything else (`台積電`) is a filter word, refused with usage.
        let (board, rest) = match words.split_first() {
            Some((first, rest))
                if !first.contains(':') && crate::ptt::Board::parse(first).is_some() =>
            {
                (Some(first.clone()), rest)
            }
            _ => (None, words),
        };
        let filter = Filter::parse(rest)?;
        Ok(Subscribe { board, filter })
    }

    /// Admins only; a board that is not polled is refused with the list of
    /// polled ones.
    pub(super) async fn apply(self, h: &Handler, ctx: &Context) -> crate::store::Result<Reply> {
        let t = ctx.lang.texts();
        if !ctx.is_admin {
            return Ok(Reply::new(ReplyKind::Error, t.admins_only));
        }
        let Some(b) = h.board_named(self.board.as_deref()) else {
            let typed = self.board.unwrap_or_default();
            return Ok(Reply::new(
                ReplyKind::Error,
                fill(
                    t.board_not_polled,
                    &[("board", &typed), ("boards", &h.board_list())],
                ),
            ));
        };
        let canonical = self.filter.canonical();
        // The limit is checked by the store inside the inserting
        // transaction, so concurrent commands cannot pass it.
        let (id, created) = match h
            .store()
            .subscribe(&ctx.dest, b, &self.filter, now_secs())
            .await
        {
            Ok(r) => r,
            Err(StoreError::SubscriptionLimit { max }) => {
                let max = max.to_string();
                return Ok(Reply::new(
                    ReplyKind::Error,
                    fill(t.too_many_subscriptions, &[("max", &max)]),
                ));
            }
            Err(e) => return Err(e),
        };
        let id = id.to_string();
        let values = [
            ("id", id.as_str()),
            ("board", b.as_str()),
            ("filter", &canonical),
        ];
        Ok(if created {
            tracing::info!(chat = %ctx.dest, board = %b, filter = %canonical, "subscribed");
            Reply::new(ReplyKind::Done, fill(t.subscribed, &values))
        } else {
            Reply::new(ReplyKind::Done, fill(t.already_subscribed, &values))
        })
    }
}
