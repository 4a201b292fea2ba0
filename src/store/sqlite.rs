//! The embedded SQLite store (WAL mode, busy timeout, one process per file).
//!
//! One process per file is kept by a lease row (pid, host, expiry),
//! renewed every 5 s. A renewal that finds the row no longer names this
//! process means it was stalled past the expiry and another process took
//! the store over: [`SqliteStore::lease_lost`] resolves and the app stops
//! polling and sending at once and exits 1 (DESIGN.md, Store). Until a
//! renewal notices, [`SqliteStore::lease_valid`] (the monotonic time since
//! the last renewal) keeps a stalled process from starting a send. Outbox
//! claims are fenced as on PostgreSQL (see [`Store::due_rows`](super::Store::due_rows)); taking the
//! lease voids the previous holder's claims.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::task::JoinHandle;

use super::migrate;
use super::queries::{Dialect, Shared, impl_store};
use super::rows::{
    BindDest, Fields, claimed, dest_of, digest_json, digest_of, outbox_row_of, platform_of, q,
    tally_json,
};
use super::{
    CLAIM_SECS, EditJob, GoneChat, OutboxRow, Result, StoreError, TrackStart, TrackedPost,
    claim_token, now_secs,
};
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::ptt::{Board, PostId};

/// How long a lease lasts without renewal.
const LEASE_SECS: i64 = 30;
/// How often the lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// A send starts only while the lease holds for at least this much longer
/// (on the monotonic clock, from before the renewal that set it): a whole
/// send (`relay::outbox::SEND_LIMIT`, 20 s) plus a second of the store's
/// time resolution. With renewals every 5 s that leaves 4 s of slack.
const LEASE_SEND_MARGIN: Duration = Duration::from_secs(21);

/// The SQLite store.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    pid: i64,
    lease_task: std::sync::Mutex<Option<JoinHandle<()>>>,
    lease: LeaseState,
    /// `<file>.lock`, exclusively locked (`flock`) while this store holds
    /// the lease: see [`lock_file`].
    lock: std::sync::Mutex<Option<std::fs::File>>,
}

/// This process's hold on the store's lease.
#[derive(Default)]
struct LeaseState {
    /// Until when (monotonic) the lease surely holds: the start of the last
    /// successful take or renewal plus [`LEASE_SECS`]. `None`: not leased.
    until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Cancelled when another process took the lease over.
    lost: tokio_util::sync::CancellationToken,
    /// Why, once lost.
    why: std::sync::Mutex<Option<String>>,
}

impl SqliteStore {
    /// Opens (creating the file and its folder) and migrates the store, then
    /// takes the lease that keeps a second process out.
    pub async fn open(path: &Path) -> Result<Arc<Self>> {
        let store = Self::open_unleased(path).await?;
        let began = tokio::time::Instant::now();
        store.take_lease().await?;
        store.lease.set_until(began);
        let weak = Arc::downgrade(&store);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(RENEW_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(store) = weak.upgrade() else { break };
                match store.renew_lease().await {
                    Ok(()) => {}
                    Err(StoreError::Locked { pid, host }) => {
                        let why = format!(
                            "another ptt-relay (pid {pid} on {host}) took this store over while this process was stalled past its lease; stopping so that only one process delivers"
                        );
                        tracing::error!("{why}");
                        store.lease.lose(why);
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew the store lease"),
                }
            }
        });
        if let Ok(mut slot) = store.lease_task.lock() {
            *slot = Some(task);
        }
        Ok(store)
    }

    /// Opens and migrates without the lease (tools and tests that inspect a
    /// store another process may hold).
    pub async fn open_unleased(path: &Path) -> Result<Arc<Self>> {
        let location = path.display().to_string();
        let open_err = |reason: String| StoreError::Open {
            location: location.clone(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
        }
        let existed = path.exists();
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| open_err(e.to_string()))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A local file's connections do not go stale: no ping before
            // every query (it doubled each call's round trips).
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        let store = Arc::new(SqliteStore {
            pool,
            path: path.to_owned(),
            pid: i64::from(std::process::id()),
            lease_task: std::sync::Mutex::new(None),
            lease: LeaseState::default(),
            lock: std::sync::Mutex::new(None),
        });
        store.migrate(existed).await?;
        Ok(store)
    }

    async fn migrate(&self, existed: bool) -> Result<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(q("creating the migrations table"))?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&self.pool)
                .await
                .map_err(q("reading the schema version"))?;
        let pending = migrate::pending(migrate::SQLITE, current)?;
        if pending.is_empty() {
            return Ok(());
        }
        if existed && current > 0 {
            self.backup(current).await?;
        }
        for m in pending {
            let mut tx = self.begin_write("starting a migration").await?;
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migrate {
                    version: m.version,
                    reason: e.to_string(),
                })?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(now_secs())
            .execute(&mut *tx)
            .await
            .map_err(q("recording a migration"))?;
            tx.commit().await.map_err(|e| StoreError::Migrate {
                version: m.version,
                reason: e.to_string(),
            })?;
            tracing::info!(version = m.version, name = m.name, "store migrated");
        }
        Ok(())
    }

    /// `VACUUM INTO <file>.bak-<n>` before a migration.
    async fn backup(&self, version: i64) -> Result<()> {
        let mut target = self.path.clone().into_os_string();
        target.push(format!(".bak-{version}"));
        let target = PathBuf::from(target);
        if target.exists() {
            return Ok(());
        }
        sqlx::query("VACUUM INTO ?")
            .bind(target.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await
            .map_err(q("backing up the store before migrating"))?;
        tracing::info!(backup = %target.display(), "store backed up before migrating");
        Ok(())
    }

    async fn take_lease(&self) -> Result<()> {
        let host = crate::host::name();
        let now = now_secs();
        let mut tx = self.begin_write("taking the lease").await?;
        // Locked inside the write transaction: a holder has written its row
        // by the time another process can look.
        let lock = lock_file_waiting(&self.path).await?;
        let holder = sqlx::query("SELECT pid, host, expires_at FROM lease WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(q("reading the lease"))?;
        let (pid, other_host, expires_at) = match &holder {
            Some(row) => (row.int("pid")?, row.text("host")?, row.int("expires_at")?),
            None => (0, String::from("unknown host"), 0),
        };
        let refused = match &lock {
            LockFile::Held(_) => false,
            LockFile::Busy => true,
            LockFile::Unsupported => {
                let ours = pid == self.pid && other_host == host;
                let dead = other_host == host && !process_alive(pid);
                holder.is_some() && !ours && !dead && expires_at > now
            }
        };
        if refused {
            return Err(StoreError::Locked {
                pid,
                host: other_host,
            });
        }
        sqlx::query(
            "INSERT INTO lease (id, pid, host, expires_at) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
             expires_at = excluded.expires_at",
        )
        .bind(self.pid)
        .bind(&host)
        .bind(now + LEASE_SECS)
        .execute(&mut *tx)
        .await
        .map_err(q("writing the lease"))?;
        // Claims left by the previous holder (gone, or stalled past its
        // lease) are void: its outcomes will not match them anyway.
        sqlx::query(
            "UPDATE outbox SET claim_token = NULL, claimed_until = NULL
             WHERE claim_token IS NOT NULL",
        )
        .execute(&mut *tx)
        .await
        .map_err(q("taking the lease"))?;
        tx.commit().await.map_err(q("taking the lease"))?;
        if let (LockFile::Held(file), Ok(mut slot)) = (lock, self.lock.lock()) {
            *slot = Some(file);
        }
        Ok(())
    }

    /// Extends the lease. [`StoreError::Locked`] (naming the new holder)
    /// when the lease is no longer this process's: it stalled past the
    /// expiry and another process took the store over (or took it and let
    /// it go). Our lease having expired while nobody took it is no loss.
    async fn renew_lease(&self) -> Result<()> {
        let began = tokio::time::Instant::now();
        let renewed =
            sqlx::query("UPDATE lease SET expires_at = ? WHERE id = 1 AND pid = ? AND host = ?")
                .bind(now_secs() + LEASE_SECS)
                .bind(self.pid)
                .bind(crate::host::name())
                .execute(&self.pool)
                .await
                .map_err(q("renewing the lease"))?
                .rows_affected();
        if renewed == 1 {
            self.lease.set_until(began);
            return Ok(());
        }
        let holder = sqlx::query("SELECT pid, host FROM lease WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading the lease"))?;
        let (pid, host) = match holder {
            Some(r) => (r.int("pid")?, r.text("host")?),
            None => (0, "nobody (it was released)".into()),
        };
        Err(StoreError::Locked { pid, host })
    }

    /// Whether this process surely still holds the store's lease, on the
    /// monotonic clock: `false` once the lease could have expired (the
    /// process stalled, or renewals failed) with too little left for a
    /// whole send, and for good once another process took it. The outbox
    /// starts a send only while this is `true`.
    pub fn lease_valid(&self) -> bool {
        !self.lease.lost.is_cancelled()
            && self
                .lease
                .until
                .lock()
                .ok()
                .and_then(|u| *u)
                .is_some_and(|until| tokio::time::Instant::now() + LEASE_SEND_MARGIN <= until)
    }

    /// Resolves, with a message for the operator, once another process
    /// took this store's lease over: this process must stop polling and
    /// sending at once and exit 1. Never resolves for an unleased store.
    pub async fn lease_lost(&self) -> String {
        self.lease.lost.cancelled().await;
        self.lease
            .why
            .lock()
            .ok()
            .and_then(|w| w.clone())
            .unwrap_or_else(|| "the store lease was lost".into())
    }
}

impl LeaseState {
    fn set_until(&self, began: tokio::time::Instant) {
        if let Ok(mut u) = self.until.lock() {
            *u = Some(began + Duration::from_secs(LEASE_SECS as u64));
        }
    }

    fn lose(&self, why: String) {
        if let Ok(mut u) = self.until.lock() {
            *u = None;
        }
        if let Ok(mut w) = self.why.lock() {
            *w = Some(why);
        }
        self.lost.cancel();
    }
}

/// The store's lock file, as [`lock_file`] found it.
enum LockFile {
    /// Locked by this process now.
    Held(std::fs::File),
    /// Locked by another running process.
    Busy,
    /// The file system has no `flock` (then the lease row's pid and host
    /// decide).
    Unsupported,
}

/// Tries an exclusive lock on `<store file>.lock`, created next to the
/// store. The kernel drops the lock when its holder exits, however it exits,
/// so a free lock means no other process on this machine holds the store:
/// in containers the lease row cannot tell that, as every ptt-relay there is
/// pid 1 and a restarted container keeps its host name.
///
/// Errors: [`StoreError::Open`] when the file cannot be created.
/// [`lock_file`], trying again for up to [`LOCK_WAIT`] while it is busy: a
/// holder that is just exiting (or a child process between `fork` and
/// `exec`, which shares the lock until its `exec` closes the file) lets go
/// within moments.
async fn lock_file_waiting(store: &Path) -> Result<LockFile> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match lock_file(store)? {
            LockFile::Busy if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return Ok(other),
        }
    }
}

/// How long a start waits for a busy lock file before it is refused.
const LOCK_WAIT: Duration = Duration::from_secs(2);

fn lock_file(store: &Path) -> Result<LockFile> {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Open {
            location: path.display().to_string(),
            reason: e.to_string(),
        })?;
    Ok(match file.try_lock() {
        Ok(()) => LockFile::Held(file),
        Err(std::fs::TryLockError::WouldBlock) => LockFile::Busy,
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::warn!(error = %e, file = %path.display(), "cannot lock the store's lock file; the lease row alone keeps a second process out");
            LockFile::Unsupported
        }
    })
}

/// Whether a local process exists (Linux `/proc`; elsewhere assume it does).
fn process_alive(pid: i64) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie (state Z) has exited.
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// `heads(id)`: each destination's oldest pending row of platform `?1`,
/// found by a loose scan of the `outbox_pending` index (state, platform,
/// chat, thread, id) — one index seek per destination, not one per pending
/// row, so a deep backlog does not slow every call (DESIGN.md, "Bounds").
/// The walk ends with one `NULL` id, which a join drops.
const HEADS: &str = "WITH RECURSIVE heads(id) AS (
    SELECT (SELECT id FROM outbox WHERE state = 'pending' AND platform = ?1
            ORDER BY chat, thread, id LIMIT 1)
    UNION ALL
    SELECT (SELECT n.id FROM outbox n
            WHERE n.state = 'pending' AND n.platform = ?1
              AND (n.chat, n.thread) > (c.chat, c.thread)
            ORDER BY n.chat, n.thread, n.id LIMIT 1)
    FROM heads JOIN outbox c ON c.id = heads.id
)";

impl Dialect for SqliteStore {
    type DB = Sqlite;

    fn shared(&self) -> Shared<'_, Sqlite> {
        Shared(&self.pool)
    }

    async fn begin_write(&self, doing: &'static str) -> Result<Transaction<'_, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(q(doing))
    }

    async fn lock_subscriber(&self, _: &mut SqliteConnection, _: &Destination) -> Result<()> {
        // BEGIN IMMEDIATE holds the whole file's write lock already.
        Ok(())
    }

    fn claim_owner(&self) -> Option<&str> {
        // One process per file: every claim is this process's.
        None
    }

    async fn raise_mark(&self, board: &Board, mark: &PostId) -> Result<()> {
        let mut tx = self.begin_write("raising a mark").await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT mark_id FROM boards WHERE board = ?")
                .bind(board.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(q("raising a mark"))?
                .flatten();
        if current
            .as_deref()
            .and_then(PostId::parse)
            .is_some_and(|c| &c >= mark)
        {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO boards (board, mark_id) VALUES (?, ?)
             ON CONFLICT (board) DO UPDATE SET mark_id = excluded.mark_id",
        )
        .bind(board.as_str())
        .bind(mark.as_str())
        .execute(&mut *tx)
        .await
        .map_err(q("raising a mark"))?;
        tx.commit().await.map_err(q("raising a mark"))?;
        Ok(())
    }

    async fn mark_seen(&self, board: &Board, ids: &[PostId], at: i64) -> Result<()> {
        let mut tx = self.begin_write("marking posts seen").await?;
        for id in ids {
            sqlx::query(
                "INSERT OR IGNORE INTO seen_posts (board, post_id, seen_at) VALUES (?, ?, ?)",
            )
            .bind(board.as_str())
            .bind(id.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(q("marking posts seen"))?;
        }
        tx.commit().await.map_err(q("marking posts seen"))?;
        Ok(())
    }

    async fn latest_digests(&self, boards: &[Board], limit: usize) -> Result<Vec<Digest>> {
        let boards: Vec<String> = boards
            .iter()
            .map(|b| b.as_str().to_ascii_lowercase())
            .collect();
        let list = serde_json::to_string(&boards).unwrap_or_else(|_| "[]".into());
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM digests WHERE lower(board) IN (SELECT value FROM json_each(?))
             ORDER BY epoch DESC, post_id DESC LIMIT CAST(? AS INTEGER)",
        )
        .bind(list)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading recent digests"))?;
        rows.iter().map(|j| digest_of(j)).collect()
    }

    async fn digests_since(
        &self,
        boards: &[Board],
        since: i64,
        limit: usize,
    ) -> Result<Vec<(Digest, i64)>> {
        let boards: Vec<String> = boards
            .iter()
            .map(|b| b.as_str().to_ascii_lowercase())
            .collect();
        let list = serde_json::to_string(&boards).unwrap_or_else(|_| "[]".into());
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT digest, seen_at FROM digests
             WHERE lower(board) IN (SELECT value FROM json_each(?)) AND (epoch >= ? OR seen_at >= ?)
             ORDER BY epoch DESC, post_id DESC LIMIT ?",
        )
        .bind(list)
        .bind(since)
        .bind(since)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading the day's digests"))?;
        rows.iter()
            .map(|(j, seen)| Ok((digest_of(j)?, *seen)))
            .collect()
    }

    async fn pause_chat(
        &self,
        platform: Platform,
        chat: &str,
        reason: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO paused_chats (platform, chat, reason, paused_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (platform, chat) DO NOTHING",
        )
        .bind(platform.as_str())
        .bind(chat)
        .bind(reason)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(q("pausing a chat"))?;
        // The row that found the chat gone stays queued without an outcome:
        // drop its claim so a resume need not wait for it to expire (one
        // process per file: every claim is this process's).
        sqlx::query(
            "UPDATE outbox SET claim_token = NULL, claimed_until = NULL
             WHERE state = 'pending' AND platform = ? AND chat = ?",
        )
        .bind(platform.as_str())
        .bind(chat)
        .execute(&self.pool)
        .await
        .map_err(q("pausing a chat"))?;
        Ok(())
    }

    async fn forget_gone_chats(&self, now: i64, gone_for: Duration) -> Result<Vec<GoneChat>> {
        let before = now.saturating_sub(i64::try_from(gone_for.as_secs()).unwrap_or(i64::MAX));
        let mut tx = self.begin_write("forgetting gone chats").await?;
        let rows = sqlx::query(
            "SELECT p.platform, p.chat,
                    (SELECT COUNT(*) FROM subscriptions s
                     WHERE s.platform = p.platform AND s.chat = p.chat) AS subscriptions
             FROM paused_chats p WHERE p.paused_at < ? ORDER BY p.platform, p.chat",
        )
        .bind(before)
        .fetch_all(&mut *tx)
        .await
        .map_err(q("finding gone chats"))?;
        let mut gone = Vec::with_capacity(rows.len());
        for row in &rows {
            let platform = row.text("platform")?;
            let chat = row.text("chat")?;
            for sql in [
                "DELETE FROM subscriptions WHERE platform = ?2 AND chat = ?3",
                "UPDATE outbox SET state = 'expired', done_at = ?1, claim_token = NULL,
                 claimed_until = NULL WHERE state = 'pending' AND platform = ?2 AND chat = ?3",
                "DELETE FROM paused_chats WHERE platform = ?2 AND chat = ?3",
            ] {
                sqlx::query(sql)
                    .bind(now)
                    .bind(&platform)
                    .bind(&chat)
                    .execute(&mut *tx)
                    .await
                    .map_err(q("forgetting a gone chat"))?;
            }
            gone.push(GoneChat {
                platform: platform_of(platform)?,
                chat,
                subscriptions: row.int("subscriptions")?.max(0) as u64,
            });
        }
        tx.commit().await.map_err(q("forgetting gone chats"))?;
        Ok(gone)
    }

    async fn move_chat(&self, platform: Platform, from: &str, to: &str) -> Result<()> {
        let mut tx = self.begin_write("moving a chat").await?;
        for table in [
            "subscriptions",
            "outbox",
            "sent_messages",
            "paused_chats",
            "leaderboards",
        ] {
            let sql =
                format!("UPDATE OR IGNORE {table} SET chat = ? WHERE platform = ? AND chat = ?");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(to)
                .bind(platform.as_str())
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(q("moving a chat"))?;
        }
        tx.commit().await.map_err(q("moving a chat"))?;
        Ok(())
    }

    async fn due_rows(
        &self,
        platform: Platform,
        now: i64,
        busy: &[Destination],
        limit: usize,
    ) -> Result<Vec<OutboxRow>> {
        let mut tx = self.begin_write("taking due deliveries").await?;
        // The digest is the post's one kept copy, current tally included.
        // `LIMIT CAST(? AS INTEGER)`, not `LIMIT ?`: SQLite (3.47 and
        // later) plans a bare bound LIMIT as a constant and re-prepares the
        // statement each time the bound value changes (`sqlite3ExprIsInteger`
        // marks the parameter in the statement's `expmask`); the limit here
        // changes with every busy destination. The cast keeps one plan.
        let sql = format!(
            "{HEADS} SELECT o.id, o.platform, o.chat, o.thread, d.digest, o.attempts, o.created_at
             FROM heads h JOIN outbox o ON o.id = h.id
             LEFT JOIN digests d ON d.board = o.board AND d.post_id = o.post_id
             WHERE o.next_attempt_at <= ?2
               AND (o.claimed_until IS NULL OR o.claimed_until <= ?2)
               AND NOT EXISTS (SELECT 1 FROM paused_chats p
                               WHERE p.platform = o.platform AND p.chat = o.chat)
             ORDER BY o.id LIMIT CAST(?3 AS INTEGER)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(platform.as_str())
            .bind(now)
            .bind((limit + busy.len()) as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(q("taking due deliveries"))?;
        let token = claim_token();
        let mut out = Vec::new();
        for row in &rows {
            let dest = dest_of(row)?;
            if busy.contains(&dest) {
                continue;
            }
            let id = row.int("id")?;
            let taken = match outbox_row_of(row, token.clone()) {
                Ok(taken) => taken,
                Err(e) => {
                    // Nothing to render: refuse this row rather than stall
                    // the destination (or every destination) behind it.
                    tracing::error!(row = id, chat = %dest, error = %e, "cannot deliver an outbox row; rejected");
                    sqlx::query(
                        "UPDATE outbox SET state = 'rejected', last_error = ?, done_at = ?
                         WHERE id = ?",
                    )
                    .bind(e.to_string())
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(q("rejecting an unreadable row"))?;
                    continue;
                }
            };
            sqlx::query("UPDATE outbox SET claim_token = ?, claimed_until = ? WHERE id = ?")
                .bind(&token)
                .bind(now + CLAIM_SECS)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(q("claiming due deliveries"))?;
            out.push(taken);
            if out.len() >= limit {
                break;
            }
        }
        tx.commit().await.map_err(q("claiming due deliveries"))?;
        Ok(out)
    }

    async fn mark_sent(&self, row: &OutboxRow, message_id: &str, at: i64) -> Result<()> {
        let mut tx = self.begin_write("recording a delivery").await?;
        let n = sqlx::query(
            "UPDATE outbox SET state = 'sent', done_at = ?, attempts = attempts + 1,
             claim_token = NULL, claimed_until = NULL
             WHERE id = ? AND state = 'pending' AND claim_token = ?",
        )
        .bind(at)
        .bind(row.id)
        .bind(&row.claim)
        .execute(&mut *tx)
        .await
        .map_err(q("recording a delivery"))?
        .rows_affected();
        // Dropping `tx` rolls back: nothing changes for a lost claim.
        claimed(n, row.id)?;
        sqlx::query(
            "INSERT OR REPLACE INTO sent_messages
             (board, post_id, platform, chat, thread, message_id, sent_at, shown)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.digest.board)
        .bind(&row.digest.id)
        .bind_dest(&row.dest)
        .bind(message_id)
        .bind(at)
        .bind(tally_json(&row.digest.tally))
        .execute(&mut *tx)
        .await
        .map_err(q("recording a delivery"))?;
        tx.commit().await.map_err(q("recording a delivery"))?;
        Ok(())
    }

    async fn next_due_at(&self, platform: Platform) -> Result<Option<i64>> {
        let sql = format!(
            "{HEADS} SELECT MIN(o.next_attempt_at) FROM heads h JOIN outbox o ON o.id = h.id
             WHERE NOT EXISTS (SELECT 1 FROM paused_chats p
                               WHERE p.platform = o.platform AND p.chat = o.chat)"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(platform.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(q("measuring the outbox"))
    }

    async fn track(&self, t: &TrackStart<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO tracked_posts (board, post_id, relayed, threshold, marker, tally,
                 started_at, until_at, next_check_at, step_secs, hot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7 + ?9, ?9, ?10)
             ON CONFLICT (board, post_id) DO UPDATE SET
                 relayed = MAX(tracked_posts.relayed, excluded.relayed),
                 hot = MAX(tracked_posts.hot, excluded.hot),
                 threshold = CASE
                     WHEN tracked_posts.threshold IS NULL THEN excluded.threshold
                     WHEN excluded.threshold IS NULL THEN tracked_posts.threshold
                     ELSE MIN(tracked_posts.threshold, excluded.threshold) END,
                 tally = COALESCE(excluded.tally, tracked_posts.tally)",
        )
        .bind(t.board.as_str())
        .bind(t.id.as_str())
        .bind(t.relayed)
        .bind(t.threshold.map(i64::from))
        .bind(t.marker)
        .bind(t.tally.as_ref().map(tally_json))
        .bind(t.now)
        .bind(t.until_at)
        .bind(t.first_step_secs)
        .bind(t.hot)
        .execute(&self.pool)
        .await
        .map_err(q("tracking a post"))?;
        Ok(())
    }

    async fn record_tally(
        &self,
        post: &TrackedPost,
        digest: &Digest,
        next_check_at: i64,
        step_secs: i64,
    ) -> Result<u64> {
        let tally = tally_json(&digest.tally);
        let json = digest_json(digest)?;
        let mut tx = self.begin_write("recording a tally").await?;
        sqlx::query(
            "UPDATE tracked_posts SET tally = ?, fetch_due = 0, next_check_at = ?, step_secs = ?
             WHERE board = ? AND post_id = ?",
        )
        .bind(&tally)
        .bind(next_check_at)
        .bind(step_secs)
        .bind(post.board.as_str())
        .bind(post.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(q("recording a tally"))?;
        sqlx::query("UPDATE digests SET digest = ? WHERE board = ? AND post_id = ?")
            .bind(&json)
            .bind(post.board.as_str())
            .bind(post.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(q("recording a tally"))?;
        let queued = sqlx::query(
            "UPDATE sent_messages SET edit_due = 1
             WHERE post_id = ? AND gone = 0 AND deleted = 0 AND COALESCE(shown, '') <> ?",
        )
        .bind(post.id.as_str())
        .bind(&tally)
        .execute(&mut *tx)
        .await
        .map_err(q("queueing edits"))?
        .rows_affected();
        tx.commit().await.map_err(q("recording a tally"))?;
        Ok(queued)
    }

    async fn edit_done(&self, job: &EditJob) -> Result<()> {
        sqlx::query(
            "UPDATE sent_messages SET edit_due = 0, shown = ?, deleted = MAX(deleted, ?)
             WHERE post_id = ? AND platform = ? AND chat = ? AND thread = ?",
        )
        .bind(tally_json(&job.digest.tally))
        .bind(job.deleted)
        .bind(&job.digest.id)
        .bind_dest(&job.dest)
        .execute(&self.pool)
        .await
        .map_err(q("recording an edit"))?;
        Ok(())
    }

    async fn replica_heartbeat(&self, _now: i64, _live_secs: i64) -> Result<u32> {
        // One process per file: it has the platforms' limits to itself.
        Ok(1)
    }

    async fn close(&self) {
        let leased = match self.lease_task.lock() {
            Ok(mut slot) => slot.take().map(|task| task.abort()).is_some(),
            Err(_) => false,
        };
        // A lost lease leaves the claims and the lease to their new holder.
        if leased && !self.lease.lost.is_cancelled() {
            // Sends have stopped: give their claims back.
            let _ = sqlx::query(
                "UPDATE outbox SET claim_token = NULL, claimed_until = NULL
                 WHERE claim_token IS NOT NULL",
            )
            .execute(&self.pool)
            .await;
        }
        if leased && !self.lease.lost.is_cancelled() {
            let _ = sqlx::query("DELETE FROM lease WHERE id = 1 AND pid = ? AND host = ?")
                .bind(self.pid)
                .bind(crate::host::name())
                .execute(&self.pool)
                .await;
        }
        self.pool.close().await;
        if let Ok(mut slot) = self.lock.lock() {
            slot.take();
        }
    }
}

impl_store!(SqliteStore);
