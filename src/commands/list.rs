//! `/list`: this chat's subscriptions, one line each, paused ones marked.

use super::grammar::{ParseError, no_words};
use super::handler::{Context, Handler, Reply, ReplyKind, fit_lines};

/// A parsed `/list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct List;

impl List {
    /// Takes no words.
    pub(super) fn parse(words: &[String]) -> Result<Self, ParseError> {
        no_words(words, List)
    }

    /// `#id board words` a line, cut to fit the reply.
    pub(super) async fn apply(self, h: &Handler, ctx: &Context) -> crate::store::Result<Reply> {
        let t = ctx.lang.texts();
        let subs = h.store().subscriptions_of(&ctx.dest).await?;
        if subs.is_empty() {
            return Ok(Reply::new(ReplyKind::Info, t.list_empty));
        }
        let lines: Vec<String> = subs
            .iter()
            .map(|s| {
                let paused = if s.paused { t.paused_mark } else { "" };
                format!("#{} {} {}{}", s.id, s.board, s.filter.canonical(), paused)
            })
            .collect();
        Ok(Reply::new(
            ReplyKind::Info,
            fit_lines(t, t.list_heading, &lines, ctx.max_reply_chars),
        ))
    }
}
