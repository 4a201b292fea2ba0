//! `/help` and `/start`: usage.

use super::grammar::ParseError;
use super::handler::{Context, Reply, ReplyKind};

/// A parsed `/help` (or `/start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Help;

impl Help {
    /// Any words are ignored.
    pub(super) fn parse(_words: &[String]) -> Result<Self, ParseError> {
        Ok(Help)
    }

    /// The usage text.
    pub(super) fn apply(self, ctx: &Context) -> Reply {
        Reply::new(ReplyKind::Info, ctx.lang.texts().help)
    }
}
