//! Persistent state behind one trait: boards' high-water marks, seen posts,
//! recent digests, subscriptions, the delivery outbox and sent messages.
//!
//! The poller, the outbox worker and the command handler only see
//! [`Store`]; SQLite ([`sqlite::SqliteStore`]) is the embedded default,
//! PostgreSQL ([`postgres::PostgresStore`]) serves several replicas, one
//! of which leads ([`leader::Leadership`]). Both read rows back through
//! `rows` and run the queries their dialects share from `queries`.

pub mod leader;
pub mod migrate;
pub mod postgres;
mod queries;
mod rows;
pub mod sqlite;

use std::time::Duration;

use async_trait::async_trait;

use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::filter::Filter;
use crate::ptt::{Board, PostId, Tally};

/// Seconds since the Unix epoch (see [`crate::clock`]).
pub use crate::clock::now_secs;

/// Subscriptions a chat may hold (all its threads together).
pub const MAX_SUBSCRIPTIONS: usize = 50;

/// A store failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("cannot open the store at {location}: {reason}")]
    Open {
        /// The file or server (passwords masked).
        location: String,
        /// Why.
        reason: String,
    },
    /// Another process holds this store.
    #[error("another ptt-relay (pid {pid} on {host}) uses this store")]
    Locked {
        /// Its process id.
        pid: i64,
        /// Its host name.
        host: String,
    },
    /// The store was migrated by a newer ptt-relay.
    #[error(
        "the store has schema version {found}, newer than this ptt-relay knows ({known}); run a newer release or restore a backup"
    )]
    TooNew {
        /// Version in the store.
        found: i64,
        /// Newest version this binary knows.
        known: i64,
    },
    /// A migration failed.
    #[error("migrating the store to schema {version} failed: {reason}")]
    Migrate {
        /// The migration.
        version: i64,
        /// Why.
        reason: String,
    },
    /// A query failed.
    #[error("store query failed while {doing}: {reason}")]
    Query {
        /// What was being done.
        doing: &'static str,
        /// Why.
        reason: String,
    },
    /// An outcome for an outbox row whose claim is no longer the caller's:
    /// the claim expired (the sender stalled or waited too long) and
    /// another sender took the row, or the row was finished meanwhile.
    /// Nothing was changed.
    #[error("the claim on outbox row {row} was lost (another sender took the row)")]
    ClaimLost {
        /// The row.
        row: i64,
    },
    /// The chat already has [`MAX_SUBSCRIPTIONS`] subscriptions (checked
    /// inside the inserting transaction).
    #[error("the chat already has {max} subscriptions")]
    SubscriptionLimit {
        /// The limit.
        max: usize,
    },
    /// A stored value could not be read back.
    #[error("store holds a malformed {what}: {reason}")]
    Corrupt {
        /// What.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    /// Whether the process must stop with exit code 2 (configuration-like:
    /// the store belongs to another process or a newer release).
    pub fn is_usage(&self) -> bool {
        matches!(self, StoreError::Locked { .. } | StoreError::TooNew { .. })
    }
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The small id, unique within the chat.
    pub id: i64,
    /// Where it delivers.
    pub dest: Destination,
    /// The board.
    pub board: Board,
    /// The filter (stored as its canonical words).
    pub filter: Filter,
    /// Its chat is paused (the bot was removed or blocked).
    pub paused: bool,
}

/// What `unsubscribe` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// One subscription by its id.
    Id(i64),
    /// All of the chat's subscriptions to a board (case-insensitive).
    Board(Board),
    /// Everything of the chat.
    All,
}

/// How long a claim on an outbox row lasts from when [`Store::due_rows`]
/// takes it or [`Store::renew_claim`] renews it (seconds). A sender must not
/// start a send unless its claim holds for the send's whole timeout (see
/// `relay::outbox`).
pub const CLAIM_SECS: i64 = 60;

/// A pending delivery, claimed by the caller of [`Store::due_rows`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Row id (insertion order = delivery order per destination).
    pub id: i64,
    /// Where to.
    pub dest: Destination,
    /// What.
    pub digest: Digest,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was queued (Unix seconds).
    pub created_at: i64,
    /// The claim token `due_rows` wrote on the row: outcomes
    /// ([`Store::mark_sent`], [`Store::mark_retry`], [`Store::mark_rejected`])
    /// and [`Store::renew_claim`] take effect only while the row still
    /// carries it.
    pub claim: String,
}

/// A chat forgotten by [`Store::forget_gone_chats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoneChat {
    /// Its platform.
    pub platform: Platform,
    /// Its chat id.
    pub chat: String,
    /// How many subscriptions it had.
    pub subscriptions: u64,
}

/// A fresh claim token: 128 random bits in hex.
pub fn claim_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A message sent for a post, for later edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// Where.
    pub dest: Destination,
    /// The platform's message id.
    pub message_id: String,
}

/// A post whose tally is kept live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedPost {
    /// Its board.
    pub board: Board,
    /// Its id.
    pub id: PostId,
    /// It was relayed (its messages are edited).
    pub relayed: bool,
    /// The smallest `push:N` it is a candidate for.
    pub threshold: Option<u32>,
    /// It is a candidate of some `hot:N/M` subscription: its push samples
    /// are kept ([`Store::push_samples`]).
    pub hot: bool,
    /// The push marker last seen on an index page.
    pub marker: String,
    /// The tally last counted from the article.
    pub tally: Option<Tally>,
    /// Tracking ends then (Unix seconds).
    pub until_at: i64,
    /// The next scheduled re-check.
    pub next_check_at: i64,
    /// The current schedule step in seconds.
    pub step_secs: i64,
    /// Its marker changed: re-check at the next chance.
    pub fetch_due: bool,
}

/// Starting (or widening) the tracking of a post.
#[derive(Debug, Clone)]
pub struct TrackStart<'a> {
    /// Its board.
    pub board: &'a Board,
    /// Its id.
    pub id: &'a PostId,
    /// It was relayed.
    pub relayed: bool,
    /// A `push:N` it is a candidate for.
    pub threshold: Option<u32>,
    /// It is a candidate of some `hot:N/M` subscription.
    pub hot: bool,
    /// The marker on the index row.
    pub marker: &'a str,
    /// The tally if the article was read.
    pub tally: Option<Tally>,
    /// Now.
    pub now: i64,
    /// When tracking ends.
    pub until_at: i64,
    /// The first scheduled re-check step.
    pub first_step_secs: i64,
}

/// How long push samples are kept (seconds): the longest `hot:` window.
pub const PUSH_SAMPLE_SECS: i64 = 3600;

/// What a post's net push was at one moment, as far as it is known: an
/// index marker gives a range (`爆` is 100 or more, `X2` −20 to −29), an
/// article count the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushSample {
    /// When (Unix seconds).
    pub at: i64,
    /// The least the net push was.
    pub lo: i64,
    /// The most the net push was.
    pub hi: i64,
}

/// A message to edit to its post's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct EditJob {
    /// Where.
    pub dest: Destination,
    /// The platform's message id.
    pub message_id: String,
    /// The post's current digest.
    pub digest: Digest,
    /// The post was deleted on PTT.
    pub deleted: bool,
}

/// A `top:N` leaderboard message: one per destination, subscription
/// (board and words) and Taipei day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderboardMessage {
    /// Where.
    pub dest: Destination,
    /// The subscription's board.
    pub board: Board,
    /// The subscription's canonical words ([`Filter::canonical`]), `top:N`
    /// among them.
    pub words: String,
    /// The +08:00 day it ranks, `YYYY-MM-DD`.
    pub day: String,
    /// The platform's message id; `None` until the platform took the
    /// message (a post that failed, or was cut short by a crash, is posted
    /// again).
    pub message_id: Option<String>,
    /// What the message shows
    /// ([`Leaderboard::fingerprint`](crate::digest::ranking::Leaderboard::fingerprint)).
    pub shown: String,
    /// When it was posted or last edited (Unix seconds).
    pub edited_at: i64,
    /// The day ended and the message shows its final ranking (or can no
    /// longer be edited): it is left alone.
    pub is_final: bool,
}

/// A board's polling state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoardState {
    /// The high-water mark.
    pub mark: Option<PostId>,
    /// Last successful poll (Unix seconds).
    pub last_ok_at: Option<i64>,
}

/// A post found on a board's index whose handling is not finished: its
/// article could not be read yet (or was not tried before PTT went away).
/// It holds the board's mark back and is retried until it is relayed, gone,
/// or given up on after `relay.max_delivery_age_hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPost {
    /// Its board.
    pub board: Board,
    /// Its id.
    pub id: PostId,
    /// The title on the index row.
    pub title: String,
    /// The author on the index row.
    pub author: String,
    /// The push marker on the index row.
    pub marker: String,
    /// When it was first found (Unix seconds).
    pub first_seen_at: i64,
    /// Failed attempts to read it so far.
    pub attempts: u32,
    /// When to try again (Unix seconds).
    pub next_attempt_at: i64,
    /// Why the last attempt failed (empty before the first).
    pub last_error: String,
}

/// Persistent state. Every method is one short transaction.
#[async_trait]
pub trait Store: Send + Sync {
    /// Answers when the store is reachable.
    async fn ping(&self) -> Result<()>;

    /// A board's mark and last successful poll.
    async fn board_state(&self, board: &Board) -> Result<BoardState>;
    /// Raises a board's high-water mark (never lowers it).
    async fn raise_mark(&self, board: &Board, mark: &PostId) -> Result<()>;
    /// Records a poll; `ok` also sets the last successful poll.
    async fn record_poll(&self, board: &Board, ok: bool, at: i64) -> Result<()>;

    /// Whether a post was seen before.
    async fn is_seen(&self, board: &Board, id: &PostId) -> Result<bool>;
    /// Records posts as seen.
    async fn mark_seen(&self, board: &Board, ids: &[PostId], at: i64) -> Result<()>;

    /// Records a pending post, or replaces the record of the same post.
    async fn put_pending(&self, post: &PendingPost) -> Result<()>;
    /// A board's pending posts, oldest id first.
    async fn pending_posts(&self, board: &Board) -> Result<Vec<PendingPost>>;
    /// Forgets a pending post (relayed, gone or given up on); a post that is
    /// not pending is no error.
    async fn remove_pending(&self, board: &Board, id: &PostId) -> Result<()>;

    /// Keeps a post's digest (for `/latest`) and queues it for every
    /// destination, at most once per post × destination. Returns how many
    /// rows were newly queued.
    async fn accept_post(&self, digest: &Digest, dests: &[Destination], at: i64) -> Result<usize>;
    /// A post's kept digest.
    async fn digest(&self, board: &Board, id: &PostId) -> Result<Option<Digest>>;
    /// The newest digests of these boards, newest first.
    async fn latest_digests(&self, boards: &[Board], limit: usize) -> Result<Vec<Digest>>;
    /// The digests of these boards whose post was created (its id's
    /// epoch) or first seen at or after `since`, each with when it was
    /// first seen, newest first.
    async fn digests_since(
        &self,
        boards: &[Board],
        since: i64,
        limit: usize,
    ) -> Result<Vec<(Digest, i64)>>;

    /// Adds a subscription (its filter stored as its canonical words), or
    /// finds the identical one. Returns its id and
    /// whether it was created; [`StoreError::SubscriptionLimit`] when a new
    /// one would exceed [`MAX_SUBSCRIPTIONS`] for the chat (all threads),
    /// checked in the inserting transaction.
    async fn subscribe(
        &self,
        dest: &Destination,
        board: &Board,
        filter: &Filter,
        at: i64,
    ) -> Result<(i64, bool)>;
    /// Removes subscriptions of a chat (of the destination's thread for a
    /// board or `all`); returns how many.
    async fn unsubscribe(&self, dest: &Destination, what: &Removal) -> Result<usize>;
    /// The subscriptions of a destination's chat and thread.
    async fn subscriptions_of(&self, dest: &Destination) -> Result<Vec<Subscription>>;
    /// How many subscriptions a chat has (all threads).
    async fn count_subscriptions(&self, platform: Platform, chat: &str) -> Result<usize>;
    /// Every subscription to a board (case-insensitive), paused ones included.
    /// A stored row whose board or filter no longer parses is logged and
    /// left out (here and in [`Store::subscriptions_of`]).
    async fn subscriptions_for_board(&self, board: &Board) -> Result<Vec<Subscription>>;

    /// Pauses a chat: its rows stay queued but are not sent.
    async fn pause_chat(&self, platform: Platform, chat: &str, reason: &str, at: i64)
    -> Result<()>;
    /// Forgets the chats paused before `now - gone_for` (DESIGN.md,
    /// "Bounds", `relay.gone_chat_days`): removes their subscriptions,
    /// expires their pending rows and unpauses them (a chat that comes back
    /// subscribes again). Returns them with how many subscriptions each had,
    /// ordered by platform and chat.
    async fn forget_gone_chats(&self, now: i64, gone_for: Duration) -> Result<Vec<GoneChat>>;
    /// Resumes a chat; returns whether it was paused.
    async fn resume_chat(&self, platform: Platform, chat: &str) -> Result<bool>;
    /// Records that a chat belongs to a group (a Discord guild).
    async fn set_chat_group(&self, platform: Platform, chat: &str, group: &str) -> Result<()>;
    /// The chats known to belong to a group.
    async fn chats_in_group(&self, platform: Platform, group: &str) -> Result<Vec<String>>;
    /// Moves a chat's subscriptions, rows and sent messages to a new id (a
    /// Telegram group that became a supergroup).
    async fn move_chat(&self, platform: Platform, from: &str, to: &str) -> Result<()>;

    /// For each destination of a platform that has pending rows, is not
    /// paused and not in `busy`, its oldest pending row if it is due and
    /// not claimed; each returned row is *claimed*: it carries a fresh claim
    /// token ([`OutboxRow::claim`]) and nobody else is handed it (nor its
    /// destination's later rows) until an outcome is recorded or the claim
    /// expires [`CLAIM_SECS`] after `now`.
    async fn due_rows(
        &self,
        platform: Platform,
        now: i64,
        busy: &[Destination],
        limit: usize,
    ) -> Result<Vec<OutboxRow>>;
    /// Extends the caller's claim on a row to [`CLAIM_SECS`] after `now`.
    /// [`StoreError::ClaimLost`] when the row no longer carries the row's
    /// claim token (another sender took it, or it is finished).
    async fn renew_claim(&self, row: &OutboxRow, now: i64) -> Result<()>;
    /// A row was accepted by the platform (also ends the claim).
    /// [`StoreError::ClaimLost`], changing nothing, when the row no longer
    /// carries the row's claim token.
    async fn mark_sent(&self, row: &OutboxRow, message_id: &str, at: i64) -> Result<()>;
    /// A row failed and is retried at `next_at` (also ends the claim).
    /// [`StoreError::ClaimLost`], changing nothing, when the row no longer
    /// carries the row's claim token.
    async fn mark_retry(
        &self,
        row: &OutboxRow,
        next_at: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<()>;
    /// A row was refused for good. [`StoreError::ClaimLost`], changing
    /// nothing, when the row no longer carries the row's claim token.
    async fn mark_rejected(&self, row: &OutboxRow, error: &str, at: i64) -> Result<()>;
    /// Pending rows of a platform (all platforms when `None`).
    async fn outbox_depth(&self, platform: Option<Platform>) -> Result<u64>;
    /// The queue time of the oldest pending row.
    async fn oldest_pending_at(&self) -> Result<Option<i64>>;
    /// When the next row of a platform that a worker could take is due
    /// (for sleeping): the earliest retry time among each destination's
    /// oldest pending row, leaving out paused destinations (Unix seconds;
    /// `None` when there is nothing to take).
    async fn next_due_at(&self, platform: Platform) -> Result<Option<i64>>;

    /// Messages sent for a post.
    async fn sent_messages(&self, post_id: &str) -> Result<Vec<SentMessage>>;

    /// Starts tracking a post, or widens it (relayed, a lower threshold).
    async fn track(&self, start: &TrackStart<'_>) -> Result<()>;
    /// A board's posts still tracked at `now`.
    async fn tracked_posts(&self, board: &Board, now: i64) -> Result<Vec<TrackedPost>>;
    /// Records a new marker; `fetch_due` asks for a re-check.
    async fn set_tracked_marker(
        &self,
        board: &Board,
        id: &PostId,
        marker: &str,
        fetch_due: bool,
    ) -> Result<()>;
    /// Posts to re-check now: marker changed, or (relayed) schedule due.
    async fn due_tally_checks(&self, now: i64, limit: usize) -> Result<Vec<TrackedPost>>;
    /// Records a counted tally and the next check; keeps the digest current
    /// and queues an edit of every message that shows another tally.
    /// Returns how many edits were queued.
    async fn record_tally(
        &self,
        post: &TrackedPost,
        digest: &Digest,
        next_check_at: i64,
        step_secs: i64,
    ) -> Result<u64>;
    /// A tracked post is gone from PTT: stop tracking it and queue one
    /// "deleted" edit of each of its messages.
    async fn mark_post_deleted(&self, board: &Board, id: &PostId) -> Result<u64>;
    /// Edits due on a platform, one per destination not in `busy`.
    async fn due_edits(
        &self,
        platform: Platform,
        busy: &[Destination],
        limit: usize,
    ) -> Result<Vec<EditJob>>;
    /// An edit went through (or changed nothing visible).
    async fn edit_done(&self, job: &EditJob) -> Result<()>;
    /// A message can no longer be edited: stop editing it.
    async fn edit_gone(&self, job: &EditJob) -> Result<()>;
    /// Records what a `hot:` candidate's net push was at `sample.at` (a
    /// second sample at the same moment replaces the first).
    async fn record_push_sample(
        &self,
        board: &Board,
        id: &PostId,
        sample: PushSample,
    ) -> Result<()>;
    /// A post's push samples taken at or after `since`, oldest first.
    async fn push_samples(&self, board: &Board, id: &PostId, since: i64)
    -> Result<Vec<PushSample>>;
    /// The leaderboard message of a destination's subscription (its
    /// board and canonical words) for a day (`YYYY-MM-DD`, +08:00).
    async fn leaderboard_message(
        &self,
        dest: &Destination,
        board: &Board,
        words: &str,
        day: &str,
    ) -> Result<Option<LeaderboardMessage>>;
    /// Records a leaderboard message, replacing the record of the same
    /// destination, board, words and day.
    async fn put_leaderboard_message(&self, message: &LeaderboardMessage) -> Result<()>;
    /// Leaderboard messages of days before `day` (`YYYY-MM-DD`) that are
    /// not final yet, oldest day first, at most `limit`.
    async fn open_leaderboard_messages(
        &self,
        day: &str,
        limit: usize,
    ) -> Result<Vec<LeaderboardMessage>>;
    /// Stops tracking posts whose window ended, and forgets push samples
    /// older than [`PUSH_SAMPLE_SECS`]; returns how many posts.
    async fn untrack_expired(&self, now: i64) -> Result<u64>;
    /// How many posts are tracked at `now`.
    async fn count_tracked(&self, now: i64) -> Result<u64>;

    /// Expires undelivered rows older than `max_age` and deletes seen posts,
    /// digests, finished rows, sent messages and final leaderboard
    /// messages older than `retention`.
    /// Marks are never lowered. Returns rows expired and deleted.
    async fn prune(&self, now: i64, max_age: Duration, retention: Duration) -> Result<(u64, u64)>;

    /// Records that this process (a replica) is alive at `now`, and returns
    /// how many replicas sharing the store were seen within `live_secs`,
    /// this one included: the platforms' overall limits are divided among
    /// them. SQLite (one process per file) answers 1.
    async fn replica_heartbeat(&self, now: i64, live_secs: i64) -> Result<u32>;

    /// Releases whatever the process holds (the SQLite lease, outbox
    /// claims, the replica's heartbeat).
    async fn close(&self);
}
