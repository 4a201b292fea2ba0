//! The [`ChatSink`] trait every platform implements, and the console sink.
//! The poller, the store and the command handler never name a platform.

pub mod console;
pub mod discord;
pub mod pacing;
pub mod telegram;

use std::time::Duration;

use async_trait::async_trait;

use crate::commands::Reply;
use crate::dest::{Destination, Platform};
use crate::digest::Digest;

/// The result of one attempt to send, edit or reply. Adapters make one
/// attempt and classify it; only the outbox retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted, with the platform's message id.
    Sent {
        /// The message id (for later edits).
        message_id: String,
    },
    /// The platform asked us to wait.
    RateLimited {
        /// How long.
        retry_after: Duration,
    },
    /// 5xx, timeout, network: retried with backoff.
    Transient(String),
    /// The bot was removed or blocked, or the chat is gone: the destination
    /// is paused and its rows kept.
    DestinationGone(String),
    /// Refused for good (any other 4xx): the row is marked rejected.
    Rejected(String),
    /// The chat has a new id (a Telegram group that became a supergroup,
    /// `migrate_to_chat_id`): the destination's subscriptions, rows and
    /// sent-message records move there, and the row is sent again at once.
    Migrated {
        /// The new chat id.
        to: String,
    },
}

/// How an edited message should show its post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKind {
    /// New tally numbers.
    Tally,
    /// The post was deleted on PTT.
    Deleted,
}

/// One chat platform (or the console).
#[async_trait]
pub trait ChatSink: Send + Sync {
    /// Which platform this is.
    fn platform(&self) -> Platform;

    /// Sends a digest to a destination.
    async fn send(&self, dest: &Destination, digest: &Digest) -> SendOutcome;

    /// Waits until the platform's pacing lets a message to `dest` go, and
    /// keeps that turn for the next call to `dest` (within two seconds), so
    /// that [`send`](Self::send) goes out at once. The outbox waits here
    /// before a delivery, then checks its claim on the row still holds for
    /// a whole send, and only then sends. Platforms without pacing return
    /// at once.
    async fn wait_turn(&self, dest: &Destination) {
        let _ = dest;
    }

    /// Edits a message sent earlier to show the digest's current state.
    async fn edit(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
    ) -> SendOutcome;

    /// Answers a command in a destination (platforms whose commands arrive
    /// through their own channel, such as Discord interactions, answer
    /// there instead).
    async fn answer(&self, dest: &Destination, reply: &Reply) -> SendOutcome;
}

/// What a platform adapter gets from the core: where to keep state, how to
/// answer commands, and when to stop.
#[derive(Clone)]
pub struct AdapterContext {
    /// The command handler: commands, and membership changes
    /// ([`crate::commands::Membership`]) — adapters never write the store.
    pub handler: std::sync::Arc<crate::commands::Handler>,
    /// Runtime status (e.g. Telegram's 409 Conflict for `/readyz`).
    pub status: std::sync::Arc<crate::telemetry::status::RuntimeStatus>,
    /// Reply language when the chat's is unknown (`bot.locale`).
    pub default_lang: crate::commands::Lang,
    /// Cancelled when the service stops.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// How many replicas share the platforms' overall limits
    /// ([`pacing::Share::alone`] for one process).
    pub share: std::sync::Arc<pacing::Share>,
}
