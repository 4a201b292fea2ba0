//! `/status`: boards polled, last successful poll, outbox depth, tracked
//! posts, leader, version.

use chrono::{TimeZone, Utc};

use super::grammar::{ParseError, no_words};
use super::handler::{Context, Handler, Reply, ReplyKind};
use super::i18n::fill;
use crate::ptt::time;

/// A parsed `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status;

impl Status {
    /// Takes no words.
    pub(super) fn parse(words: &[String]) -> Result<Self, ParseError> {
        no_words(words, Status)
    }

    /// One line a fact.
    pub(super) async fn apply(self, h: &Handler, ctx: &Context) -> crate::store::Result<Reply> {
        let t = ctx.lang.texts();
        let mut lines = vec![fill(t.status_boards, &[("boards", &h.board_list())])];
        for b in h.boards() {
            let state = h.store().board_state(b).await?;
            let when = state
                .last_ok_at
                .map_or_else(|| t.status_never.to_owned(), show_time);
            lines.push(fill(
                t.status_board_line,
                &[("board", b.as_str()), ("when", &when)],
            ));
        }
        let depth = h.store().outbox_depth(None).await?;
        lines.push(fill(t.status_outbox, &[("n", &depth.to_string())]));
        let status = h.runtime_status();
        lines.push(fill(
            t.status_tracked,
            &[("n", &status.tracked_posts().to_string())],
        ));
        let last_edit = status
            .last_edit_at()
            .map_or_else(|| t.status_never.to_owned(), show_time);
        lines.push(fill(t.status_last_edit, &[("when", &last_edit)]));
        lines.push(fill(t.status_leader, &[("leader", &status.leader())]));
        lines.push(fill(
            t.status_version,
            &[("version", env!("CARGO_PKG_VERSION"))],
        ));
        Ok(Reply::new(ReplyKind::Info, lines.join("\n")))
    }
}

fn show_time(secs: i64) -> String {
    Utc.timestamp_opt(secs, 0)
        .single()
        .map(|t| time::display(&t.fixed_offset()))
        .unwrap_or_default()
}
