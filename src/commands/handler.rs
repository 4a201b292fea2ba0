//! Applying a command: what every command shares (the [`Handler`], rate
//! limiting, resuming a paused chat, the [`Context`] and [`Reply`] types,
//! malformed-command replies); each command's own half is in its file.

use std::sync::Arc;

use super::grammar::{Command, CommandError, CommandName, ParseError};
use super::i18n::{Lang, Texts, fill};
use super::limit::{Admission, CommandLimiter, PER_WINDOW};
use crate::dest::Destination;
use crate::ptt::Board;
use crate::store::Store;
use crate::telemetry::status::RuntimeStatus;

/// Most subscriptions a chat may have (enforced by the store).
pub use crate::store::MAX_SUBSCRIPTIONS;

/// Who is asking, and where.
#[derive(Debug, Clone)]
pub struct Context {
    /// The chat (and thread) the command came from, or targets.
    pub dest: Destination,
    /// The sender administers the chat (or it is a private chat).
    pub is_admin: bool,
    /// The reply language.
    pub lang: Lang,
    /// The platform's limit for a reply, in characters.
    pub max_reply_chars: usize,
}

/// What kind of reply this is (platforms show errors privately where they
/// can).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// A confirmation.
    Done,
    /// A list or status.
    Info,
    /// Refused or malformed.
    Error,
}

/// A plain-text reply; adapters escape it for their markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The text, lines separated by `\n`.
    pub text: String,
    /// Its kind.
    pub kind: ReplyKind,
}

impl Reply {
    pub(super) fn new(kind: ReplyKind, text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            kind,
        }
    }

    /// Lists and errors are shown only to the asker where the platform can
    /// (Discord ephemeral replies).
    pub fn ephemeral(&self) -> bool {
        self.kind != ReplyKind::Done
    }

    /// The one answer to the command past a chat's rate limit (see
    /// [`Handler::admit`]).
    pub fn slow_down(lang: Lang) -> Reply {
        let n = PER_WINDOW.to_string();
        Reply::new(ReplyKind::Error, fill(lang.texts().slow_down, &[("n", &n)]))
    }

    /// The answer to a command that found its chat's queue full.
    pub fn busy(lang: Lang) -> Reply {
        Reply::new(ReplyKind::Error, lang.texts().busy)
    }
}

/// Applies commands against the store.
pub struct Handler {
    store: Arc<dyn Store>,
    boards: Vec<Board>,
    status: Arc<RuntimeStatus>,
    outbox_kick: Arc<tokio::sync::Notify>,
    limiter: CommandLimiter,
}

impl Handler {
    /// A handler for the polled `boards`.
    pub fn new(store: Arc<dyn Store>, boards: Vec<Board>, status: Arc<RuntimeStatus>) -> Self {
        Handler {
            store,
            boards,
            status,
            outbox_kick: Arc::new(tokio::sync::Notify::new()),
            limiter: CommandLimiter::new(),
        }
    }

    /// The store the handler applies commands and events to.
    pub(super) fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The runtime status `/status` reports.
    pub(super) fn runtime_status(&self) -> &RuntimeStatus {
        &self.status
    }

    /// Notified when a paused destination is resumed, so the outbox
    /// workers look for its waiting rows at once.
    pub fn outbox_kick(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox_kick)
    }

    /// Tells the outbox workers that a destination was resumed (by a
    /// command here, or by a membership change an adapter saw).
    pub fn destination_resumed(&self) {
        self.outbox_kick.notify_waiters();
    }

    /// The polled boards.
    pub fn boards(&self) -> &[Board] {
        &self.boards
    }

    /// Counts a command sent in `from` against its chat's rate limit (10 a
    /// minute; see [`limit`](super::limit)) and says whether to answer it.
    /// Adapters ask once per command they would answer, before any lookup
    /// it needs and before [`handle`](Self::handle): on
    /// [`Admission::SlowDown`] they send [`Reply::slow_down`], on
    /// [`Admission::Ignore`] nothing (or the least the platform requires).
    /// `from` is where the command was typed, even when it targets another
    /// chat (`/list @channel` counts for the private chat).
    pub fn admit(&self, from: &Destination) -> Admission {
        let a = self.limiter.admit(from);
        if a == Admission::SlowDown {
            tracing::info!(chat = %from, "a chat sent too many commands; ignoring it for the rest of the minute");
        }
        a
    }

    /// Handles a parsed command (or its parse error). A command from a
    /// paused chat resumes it, and the reply says so.
    pub async fn handle(&self, ctx: &Context, parsed: Result<Command, CommandError>) -> Reply {
        let t = ctx.lang.texts();
        let resumed = match self
            .store
            .resume_chat(ctx.dest.platform, &ctx.dest.chat)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, chat = %ctx.dest, "store failed while resuming a chat");
                false
            }
        };
        if resumed {
            self.destination_resumed();
        }
        // The "resumed" line goes before the reply: leave room for it.
        let room;
        let ctx = if resumed {
            room = Context {
                max_reply_chars: ctx
                    .max_reply_chars
                    .saturating_sub(t.resumed.chars().count() + 1),
                ..ctx.clone()
            };
            &room
        } else {
            ctx
        };
        let mut reply = match parsed {
            Ok(cmd) => match self.apply(ctx, cmd).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, chat = %ctx.dest, "store failed during a command");
                    Reply::new(ReplyKind::Error, t.internal_error)
                }
            },
            Err(e) => malformed(t, &e),
        };
        if resumed {
            reply.text = format!("{}\n{}", t.resumed, reply.text);
        }
        reply
    }

    async fn apply(&self, ctx: &Context, cmd: Command) -> crate::store::Result<Reply> {
        match cmd {
            Command::Subscribe(c) => c.apply(self, ctx).await,
            Command::Unsubscribe(c) => c.apply(self, ctx).await,
            Command::List(c) => c.apply(self, ctx).await,
            Command::Latest(c) => c.apply(self, ctx).await,
            Command::Top(c) => c.apply(self, ctx).await,
            Command::Status(c) => c.apply(self, ctx).await,
            Command::Help(c) => Ok(c.apply(ctx)),
        }
    }

    /// The polled board `name` names (any case), or the first polled board.
    pub(super) fn board_named(&self, name: Option<&str>) -> Option<&Board> {
        match name {
            None => self.boards.first(),
            Some(n) => self.boards.iter().find(|b| b.eq_ignore_case(n)),
        }
    }

    /// The polled boards, comma-separated.
    pub(super) fn board_list(&self) -> String {
        self.boards
            .iter()
            .map(Board::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn malformed(t: &Texts, e: &CommandError) -> Reply {
    if let ParseError::UnknownCommand(name) = &e.error {
        return Reply::new(
            ReplyKind::Error,
            format!("{}\n{}", fill(t.unknown_command, &[("name", name)]), t.help),
        );
    }
    let usage = match e.command {
        CommandName::Subscribe => t.usage_subscribe,
        CommandName::Unsubscribe => t.usage_unsubscribe,
        CommandName::Latest => t.usage_latest,
        CommandName::Top => t.usage_top,
        CommandName::Other => t.help,
    };
    Reply::new(
        ReplyKind::Error,
        format!(
            "{}\n{usage}",
            fill(t.malformed, &[("what", &describe(t, &e.error))])
        ),
    )
}

/// What was wrong, in the reply's language.
fn describe(t: &Texts, e: &ParseError) -> String {
    use crate::filter::{FilterError, MAX_WORD_CHARS, MAX_WORDS};
    let max_words = MAX_WORDS.to_string();
    let max_chars = MAX_WORD_CHARS.to_string();
    match e {
        ParseError::UnknownCommand(name) => fill(t.unknown_command, &[("name", name)]),
        ParseError::UnbalancedQuote => t.err_unbalanced_quote.to_owned(),
        ParseError::MissingTarget => t.err_missing_target.to_owned(),
        ParseError::BadTarget(q) => fill(t.err_bad_target, &[("q", q)]),
        ParseError::BadCount(q) => fill(t.err_bad_count, &[("q", q)]),
        ParseError::BadTopCount(q) => fill(t.err_bad_top_count, &[("q", q)]),
        ParseError::UnexpectedWords => t.err_unexpected_words.to_owned(),
        ParseError::Filter(f) => match f {
            FilterError::UnknownWord(q) => fill(t.err_unknown_word, &[("q", q)]),
            FilterError::BadValue { key, value } => {
                fill(t.err_bad_value, &[("key", key), ("q", value)])
            }
            FilterError::Repeated(key) => fill(t.err_repeated, &[("key", key)]),
            FilterError::Conflict(a, b) => fill(t.err_conflict, &[("a", a), ("b", b)]),
            FilterError::TooManyWords => fill(t.err_too_many_words, &[("max", &max_words)]),
            FilterError::WordTooLong(q) => {
                fill(t.err_word_too_long, &[("q", q), ("max", &max_chars)])
            }
            FilterError::NotListed {
                key,
                value,
                closest,
            } => fill(
                t.err_not_listed,
                &[
                    ("key", key),
                    ("q", value),
                    ("closest", &closest.join(t.list_separator)),
                ],
            ),
        },
    }
}

/// Joins a heading and lines within `max` characters, ending with
/// "…and K more" when lines had to be left out.
pub(super) fn fit_lines(t: &Texts, heading: &str, lines: &[String], max: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    if !heading.is_empty() {
        out.push(heading.to_owned());
    }
    let mut used: usize = heading.chars().count();
    for (i, line) in lines.iter().enumerate() {
        let left = lines.len() - i - 1;
        let more = if left > 0 {
            fill(t.and_more, &[("k", &left.to_string())])
                .chars()
                .count()
                + 1
        } else {
            0
        };
        let len = line.chars().count() + 1;
        if used + len + more > max {
            let k = (lines.len() - i).to_string();
            out.push(fill(t.and_more, &[("k", &k)]));
            break;
        }
        used += len;
        out.push(line.clone());
    }
    out.join("\n")
}
