//! `/latest [N]`: the last N digests matching this chat's subscriptions,
//! newest first.

use super::grammar::ParseError;
use super::handler::{Context, Handler, Reply, ReplyKind, fit_lines};
use crate::ptt::Board;

/// Default of `/latest N`.
pub const LATEST_DEFAULT: u8 = 5;
/// Most digests `/latest` lists.
pub const LATEST_MAX: u8 = 20;

/// A parsed `/latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// How many digests (1–[`LATEST_MAX`]).
    pub n: u8,
}

impl Latest {
    /// From the words after `/latest`: none, or a count.
    pub fn parse(words: &[String]) -> Result<Self, ParseError> {
        match words {
            [] => Ok(Latest { n: LATEST_DEFAULT }),
            [n] => match n.parse::<u8>() {
                Ok(n) if (1..=LATEST_MAX).contains(&n) => Ok(Latest { n }),
                _ => Err(ParseError::BadCount(n.clone())),
            },
            _ => Err(ParseError::UnexpectedWords),
        }
    }

    /// One line a digest (`MM-DD HH:MM title url`), cut to fit the reply.
    pub(super) async fn apply(self, h: &Handler, ctx: &Context) -> crate::store::Result<Reply> {
        let t = ctx.lang.texts();
        let subs = h.store().subscriptions_of(&ctx.dest).await?;
        let mut boards: Vec<Board> = subs.iter().map(|s| s.board.clone()).collect();
        boards.sort_by_key(|b| b.as_str().to_ascii_lowercase());
        boards.dedup_by(|a, b| a.eq_ignore_case(b.as_str()));
        let digests = if boards.is_empty() {
            Vec::new()
        } else {
            h.store().latest_digests(&boards, 500).await?
        };
        let lines: Vec<String> = digests
            .iter()
            .filter(|d| {
                subs.iter()
                    .any(|s| s.board.eq_ignore_case(&d.board) && s.filter.matches(d))
            })
            .take(usize::from(self.n))
            .map(|d| {
                let when = d
                    .posted_at
                    .map(|p| p.format("%m-%d %H:%M ").to_string())
                    .unwrap_or_default();
                format!(
                    "{when}{} {}",
                    crate::text::strip_controls(d.display_title()),
                    d.url
                )
            })
            .collect();
        if lines.is_empty() {
            return Ok(Reply::new(ReplyKind::Info, t.latest_empty));
        }
        Ok(Reply::new(
            ReplyKind::Info,
            fit_lines(t, "", &lines, ctx.max_reply_chars),
        ))
    }
}
