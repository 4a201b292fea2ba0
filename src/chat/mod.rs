//! Chat platforms: the [`Platform`] trait each platform folder implements
//! (settings, start), the [`ChatSink`] it sends through and the
//! [`Listener`] it receives commands on; [`registry`] is the one list of
//! them. The poller, the store, the command handler and `app.rs` never
//! name a platform.

pub mod console;
pub mod discord;
pub mod pacing;
pub mod registry;
pub mod telegram;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::commands::Reply;
use crate::dest::Destination;
use crate::digest::Digest;
use crate::digest::ranking::Leaderboard;
use crate::filter::DeliveryOptions;

/// A platform's id as stored, logged and counted (`telegram`, `discord`,
/// `console`).
pub use crate::dest::Platform as PlatformId;

/// A chat platform as the [`registry`] lists it: how to read its own
/// config section and how to start it. The model is vector's
/// `SinkConfig::build`, which returns a sink and its health check; here
/// starting returns the sink and the listener, and readiness faults are
/// reported through [`AdapterContext::status`].
pub trait Platform: Send + Sync {
    /// Its id: the name of its config section (`[telegram]`), of its rows
    /// in the store, of `preview --format`, and its metrics label.
    fn id(&self) -> PlatformId;

    /// Reads and checks its section (`None` when the configuration has
    /// none). `Err`: one message per bad key, naming it (`telegram.api_url
    /// must be an http(s) URL`).
    fn configure(&self, section: Option<&serde_json::Value>) -> Result<Configured, Vec<String>>;

    /// How `preview --format <id>` shows a digest: what this platform
    /// would send (text or JSON).
    fn preview(&self, digest: &Digest) -> String;
}

/// A platform's section, read and checked.
pub struct Configured {
    /// Keys of the section that no setting has, as `section.key`.
    pub unknown_keys: Vec<String>,
    /// The section as `check-config` prints it: defaults filled in,
    /// secrets masked.
    pub shown: toml::Table,
    /// Set when the platform is on (its token is set).
    pub enabled: Option<Box<dyn Enabled>>,
}

/// A platform that is on, ready to start.
pub trait Enabled: Send + Sync {
    /// Starts the adapter: its sink (every replica sends) and its listener
    /// (the leader receives commands). `Err` is a configuration problem
    /// found only now (e.g. a URL the HTTP client refuses): exit 2.
    fn start(&self, ctx: AdapterContext) -> Result<Started, String>;
}

/// A started platform.
pub struct Started {
    /// Where the outbox sends.
    pub sink: Arc<dyn ChatSink>,
    /// Where commands and membership changes come from.
    pub listener: Arc<dyn Listener>,
}

/// Receives a platform's commands and membership changes and hands them to
/// the command handler (one `run(stop)` shape for every platform).
#[async_trait]
pub trait Listener: Send + Sync {
    /// Runs until `stop` (or the context's shutdown) is cancelled; may be
    /// run again after (a leader that lost and regained its lease). `Err`
    /// only for a fatal failure, such as the platform refusing the token:
    /// the service stops (exit 2) with this message, which names the
    /// platform and no secret.
    async fn run(&self, stop: CancellationToken) -> Result<(), String>;
}

/// Reads a platform section into its typed settings (defaults for what is
/// missing), collecting the keys that `T` has no field for as
/// `name.key`. `Err` names the section and what serde refused.
pub fn read_section<T: DeserializeOwned + Default>(
    name: &str,
    section: Option<&serde_json::Value>,
) -> Result<(T, Vec<String>), Vec<String>> {
    let Some(section) = section else {
        return Ok((T::default(), Vec::new()));
    };
    let mut unknown = Vec::new();
    let value: T = serde_ignored::deserialize(section.clone(), |path| {
        unknown.push(format!("{name}.{path}"));
    })
    .map_err(|e| {
        let e = e.to_string();
        // A value's own check may name its key already.
        if e.starts_with(&format!("{name}.")) {
            vec![e]
        } else {
            vec![format!("{name}: {e}")]
        }
    })?;
    Ok((value, unknown))
}

/// A platform's typed config section, as [`configure_section`] reads it.
pub trait Section: DeserializeOwned + Default + serde::Serialize {
    /// Empty values made unset, and the like.
    fn normalized(self) -> Self;
    /// Every bad key, named (`telegram.api_url must be an http(s) URL`).
    fn problems(&self) -> Vec<String>;
    /// The platform ready to start, when these settings turn it on.
    fn enabled(self) -> Option<Box<dyn Enabled>>;
}

/// What every [`Platform::configure`] does with its section `name`: read it
/// ([`read_section`]), normalize and check it, show it (masked) and say
/// whether it turns the platform on.
pub fn configure_section<T: Section>(
    name: &str,
    section: Option<&serde_json::Value>,
) -> Result<Configured, Vec<String>> {
    let (s, unknown_keys) = read_section::<T>(name, section)?;
    let s = s.normalized();
    let problems = s.problems();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Configured {
        unknown_keys,
        shown: shown(&s),
        enabled: s.enabled(),
    })
}

/// A platform's settings as `check-config` prints them (its `Serialize`
/// masks its secrets).
pub fn shown<T: serde::Serialize>(settings: &T) -> toml::Table {
    toml::Table::try_from(settings).unwrap_or_default()
}

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
    fn platform(&self) -> PlatformId;

    /// Sends a digest to a destination, with the options of the
    /// destination's subscriptions that match it (silent, link preview;
    /// a platform applies those it has).
    async fn send(
        &self,
        dest: &Destination,
        digest: &Digest,
        opts: &DeliveryOptions,
    ) -> SendOutcome;

    /// Waits until the platform's pacing lets a message to `dest` go, and
    /// keeps that turn for the next call to `dest` (within two seconds), so
    /// that [`send`](Self::send) goes out at once. The outbox waits here
    /// before a delivery, then checks its claim on the row still holds for
    /// a whole send, and only then sends. Platforms without pacing return
    /// at once.
    async fn wait_turn(&self, dest: &Destination) {
        let _ = dest;
    }

    /// Edits a message sent earlier to show the digest's current state;
    /// `opts` as for [`send`](Self::send) (an edit keeps the message's
    /// link preview).
    async fn edit(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
        opts: &DeliveryOptions,
    ) -> SendOutcome;

    /// Posts a `top:N` leaderboard (one paced attempt). Platforms without
    /// leaderboards (webhooks, the console) refuse it
    /// ([`SendOutcome::Rejected`]).
    async fn post_leaderboard(&self, dest: &Destination, board: &Leaderboard) -> SendOutcome {
        let _ = (dest, board);
        SendOutcome::Rejected(format!("{} shows no leaderboards", self.platform()))
    }

    /// Edits a leaderboard posted by
    /// [`post_leaderboard`](Self::post_leaderboard) to show `board`; a
    /// message that can no longer be edited is
    /// [`SendOutcome::Rejected`], and one already showing it counts as
    /// sent.
    async fn edit_leaderboard(
        &self,
        dest: &Destination,
        message_id: &str,
        board: &Leaderboard,
    ) -> SendOutcome {
        let _ = (dest, message_id, board);
        SendOutcome::Rejected(format!("{} shows no leaderboards", self.platform()))
    }

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
