//! The PostgreSQL store, for several replicas sharing one database.
//!
//! Behaves as [`SqliteStore`](super::sqlite::SqliteStore) does (same return
//! values, uniqueness, ordering and pruning), with two additions for
//! replicas:
//!
//! - every replica sends: [`Store::due_rows`](super::Store::due_rows) *claims* the rows it returns
//!   (`claimed_by` = this replica, `claimed_until` = now + [`CLAIM_SECS`]) in
//!   one transaction with `FOR UPDATE SKIP LOCKED`, and a destination whose
//!   oldest pending row is claimed by anyone is skipped, so per-destination
//!   order holds across replicas. A replica that dies leaves claims that
//!   expire; another replica then takes the rows. Claims are *fenced*: each
//!   carries a random `claim_token`, and an outcome (sent, retry, rejected)
//!   or a renewal changes the row only while it still carries the token and
//!   this replica's id, else it is [`StoreError::ClaimLost`]. (A replica of
//!   the release before schema 3 claims without a token; the id check keeps
//!   a newer replica's late outcome from landing on such a claim.)
//! - replicas beat ([`Store::replica_heartbeat`](super::Store::replica_heartbeat)) in the `replicas` table,
//!   so each can take its share of the platforms' overall limits.
//! - one replica leads: [`Leadership`] (in [`super::leader`]) holds a session advisory lock on a
//!   dedicated connection.
//!
//! Advisory lock keys are two 32-bit integers: a fixed class per purpose
//! and a hash of the connection's `current_schema()`, so deployments (and
//! tests) in different schemas of one database do not contend.
//!
//! Claims compare `claimed_until` with the caller's `now`: replicas' clocks
//! must agree to well within [`CLAIM_SECS`] (NTP). Through PgBouncer, use
//! session pooling (transaction pooling breaks the leadership lock, and
//! before PgBouncer 1.21 also the prepared statements sqlx caches).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

use super::migrate;
use super::queries::{Dialect, Shared, impl_store};
use super::rows::{
    BindDest, Fields, claimed, digest_json, digest_of, outbox_row_of, platform_of, q, tally_json,
};
use super::{
    EditJob, GoneChat, OutboxRow, Result, StoreError, TrackStart, TrackedPost, claim_token,
    now_secs,
};
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::ptt::{Board, PostId};
use crate::telemetry::redact::mask_url;

pub use super::leader::{LeaderInfo, Leadership};

/// How long a replica's claim on an outbox row lasts (seconds). A row
/// claimed by a replica that stopped is taken by another after this.
pub use super::CLAIM_SECS;

/// Advisory lock class serialising migrations (per schema).
const MIGRATE_LOCK_CLASS: i32 = 0x5054_5201;
/// Transaction advisory lock class serialising `subscribe` per chat.
const SUBSCRIBE_LOCK_CLASS: i32 = 0x5054_5203;

/// Pool size.
const MAX_CONNECTIONS: u32 = 8;
/// How long to wait for a pooled connection (including connecting).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a dedicated connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Server-side limit on one statement of the pool (unless the URL sets its
/// own in `options`).
const SET_STATEMENT_TIMEOUT: &str = "SET statement_timeout = '30s'";

/// The URL with its password masked, for messages.
fn masked(url: &str) -> String {
    mask_url(url)
}

/// A stable 32-bit FNV-1a hash (the second half of advisory lock keys).
fn key_hash(s: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// Parses a `postgres://` URL into connect options, naming the
/// application `ptt-relay` unless the URL names it.
pub(super) fn connect_options(url: &str) -> Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Open {
        location: masked(url),
        reason: e.to_string(),
    })?;
    Ok(if options.get_application_name().is_none() {
        options.application_name("ptt-relay")
    } else {
        options
    })
}

/// Whether the URL's startup `options` set a statement timeout (which then
/// wins over ours).
fn sets_statement_timeout(options: &PgConnectOptions) -> bool {
    options
        .get_options()
        .is_some_and(|o| o.contains("statement_timeout"))
}

/// Opens one connection outside any pool, within [`CONNECT_TIMEOUT`].
pub(super) async fn connect_one(url: &str, options: &PgConnectOptions) -> Result<PgConnection> {
    let open_err = |reason: String| StoreError::Open {
        location: masked(url),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(open_err(e.to_string())),
        Err(_) => Err(open_err(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// The hash of the connection's `current_schema()` (see the module doc).
pub(super) async fn schema_key(conn: &mut PgConnection) -> Result<i32> {
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(q("reading the current schema"))?;
    Ok(key_hash(schema.as_deref().unwrap_or("")))
}

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: PgPool,
    replica_id: String,
    location: String,
}

impl PostgresStore {
    /// Connects, migrates (under an advisory lock, so replicas starting
    /// together do not race) and opens a pool of connections.
    ///
    /// `replica_id` names this process in outbox claims and must differ
    /// between replicas sharing the database (e.g. host name + pid, or a
    /// random id per start). Errors: [`StoreError::Open`] (password masked)
    /// when the server cannot be reached or refuses us,
    /// [`StoreError::TooNew`] when a newer release migrated the schema.
    pub async fn open(url: &str, replica_id: String) -> Result<Arc<Self>> {
        let location = masked(url);
        let options = connect_options(url)?;
        let mut conn = connect_one(url, &options).await?;
        let migrated = migrate_schema(&mut conn).await;
        let _ = conn.close().await;
        migrated?;
        let mut pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(600));
        if !sets_statement_timeout(&options) {
            // A plain SET rather than a startup option: PgBouncer refuses
            // unknown startup parameters such as `options`.
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(SET_STATEMENT_TIMEOUT).execute(conn).await?;
                    Ok(())
                })
            });
        }
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open {
                location: location.clone(),
                reason: e.to_string(),
            })?;
        Ok(Arc::new(PostgresStore {
            pool,
            replica_id,
            location,
        }))
    }

    /// This replica's id (as written in outbox claims).
    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// The server (password masked), for logs.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Who leads, as last recorded by [`Leadership`] (for followers'
    /// `/status`); `None` before any replica led.
    pub async fn leader(&self) -> Result<Option<LeaderInfo>> {
        let row = sqlx::query("SELECT replica_id, host, since, last_seen FROM leader WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading the leader"))?;
        row.map(|r| {
            Ok(LeaderInfo {
                replica_id: r.text("replica_id")?,
                host: r.text("host")?,
                since: r.int("since")?,
                last_seen: r.int("last_seen")?,
            })
        })
        .transpose()
    }

    /// Gives up this replica's unexpired outbox claims (after its sends
    /// stopped), so other replicas need not wait for them to expire.
    pub async fn release_claims(&self) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, claim_token = NULL
             WHERE state = 'pending' AND claimed_by = $1",
        )
        .bind(&self.replica_id)
        .execute(&self.pool)
        .await
        .map_err(q("releasing outbox claims"))?
        .rows_affected())
    }
}

/// Applies pending migrations while holding the schema's migration lock.
async fn migrate_schema(conn: &mut PgConnection) -> Result<()> {
    // Migrations may outlast the pool's statement timeout; the lock wait
    // ends when the other replica's session does.
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await
        .map_err(q("preparing to migrate"))?;
    let key = schema_key(conn).await?;
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(MIGRATE_LOCK_CLASS)
        .bind(key)
        .execute(&mut *conn)
        .await
        .map_err(q("waiting for the migration lock"))?;
    let result = migrate_locked(conn).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(MIGRATE_LOCK_CLASS)
        .bind(key)
        .execute(&mut *conn)
        .await;
    result
}

async fn migrate_locked(conn: &mut PgConnection) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(q("creating the migrations table"))?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(q("reading the schema version"))?;
    let pending = migrate::pending(migrate::POSTGRES, current)?;
    for m in pending {
        let failed = |e: sqlx::Error| StoreError::Migrate {
            version: m.version,
            reason: e.to_string(),
        };
        let mut tx = conn.begin().await.map_err(failed)?;
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_secs())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        tracing::info!(version = m.version, name = m.name, "store migrated");
    }
    Ok(())
}

/// `heads(id, chat, thread)`: each destination's oldest pending row of
/// platform `$1`, found by a loose scan of the `outbox_pending` index
/// (state, platform, chat, thread, id) — one index seek per destination,
/// not a pass over every pending row, so a deep backlog does not slow every
/// call (DESIGN.md, "Bounds").
const HEADS: &str = "WITH RECURSIVE heads AS (
    (SELECT id, chat, thread FROM outbox WHERE state = 'pending' AND platform = $1
     ORDER BY chat, thread, id LIMIT 1)
    UNION ALL
    SELECT n.id, n.chat, n.thread FROM heads h, LATERAL (
        SELECT id, chat, thread FROM outbox
        WHERE state = 'pending' AND platform = $1 AND (chat, thread) > (h.chat, h.thread)
        ORDER BY chat, thread, id LIMIT 1) n
)";

impl Dialect for PostgresStore {
    type DB = Postgres;

    fn shared(&self) -> Shared<'_, Postgres> {
        Shared(&self.pool)
    }

    async fn begin_write(&self, doing: &'static str) -> Result<Transaction<'_, Postgres>> {
        self.pool.begin().await.map_err(q(doing))
    }

    async fn lock_subscriber(&self, conn: &mut PgConnection, dest: &Destination) -> Result<()> {
        // Two commands of one chat must not pick the same free id.
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(SUBSCRIBE_LOCK_CLASS)
            .bind(key_hash(&format!(
                "{}\u{0}{}",
                dest.platform.as_str(),
                dest.chat
            )))
            .execute(&mut *conn)
            .await
            .map_err(q("subscribing"))?;
        Ok(())
    }

    fn claim_owner(&self) -> Option<&str> {
        Some(&self.replica_id)
    }

    async fn raise_mark(&self, board: &Board, mark: &PostId) -> Result<()> {
        let mut tx = self.begin_write("raising a mark").await?;
        // Create the row first so the row lock below serialises raisers.
        sqlx::query("INSERT INTO boards (board) VALUES ($1) ON CONFLICT (board) DO NOTHING")
            .bind(board.as_str())
            .execute(&mut *tx)
            .await
            .map_err(q("raising a mark"))?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT mark_id FROM boards WHERE board = $1 FOR UPDATE")
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
            // Nothing to change; the possibly inserted empty row is rolled back.
            return Ok(());
        }
        sqlx::query("UPDATE boards SET mark_id = $2 WHERE board = $1")
            .bind(board.as_str())
            .bind(mark.as_str())
            .execute(&mut *tx)
            .await
            .map_err(q("raising a mark"))?;
        tx.commit().await.map_err(q("raising a mark"))?;
        Ok(())
    }

    async fn mark_seen(&self, board: &Board, ids: &[PostId], at: i64) -> Result<()> {
        let ids: Vec<&str> = ids.iter().map(PostId::as_str).collect();
        sqlx::query(
            "INSERT INTO seen_posts (board, post_id, seen_at)
             SELECT $1, id, $3 FROM unnest($2::text[]) AS t(id)
             ON CONFLICT (board, post_id) DO NOTHING",
        )
        .bind(board.as_str())
        .bind(&ids)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(q("marking posts seen"))?;
        Ok(())
    }

    async fn latest_digests(&self, boards: &[Board], limit: usize) -> Result<Vec<Digest>> {
        let boards: Vec<String> = boards
            .iter()
            .map(|b| b.as_str().to_ascii_lowercase())
            .collect();
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM digests WHERE lower(board) = ANY($1::text[])
             ORDER BY epoch DESC, post_id COLLATE \"C\" DESC LIMIT $2",
        )
        .bind(&boards)
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
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT digest, seen_at FROM digests
             WHERE lower(board) = ANY($1::text[]) AND (epoch >= $2 OR seen_at >= $2)
             ORDER BY epoch DESC, post_id COLLATE \"C\" DESC LIMIT $3",
        )
        .bind(&boards)
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
        let mut tx = self.begin_write("pausing a chat").await?;
        sqlx::query(
            "INSERT INTO paused_chats (platform, chat, reason, paused_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (platform, chat) DO NOTHING",
        )
        .bind(platform.as_str())
        .bind(chat)
        .bind(reason)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(q("pausing a chat"))?;
        // The row that found the chat gone stays queued without an outcome:
        // drop this replica's claim so a resume need not wait for it.
        sqlx::query(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL, claim_token = NULL
             WHERE state = 'pending' AND platform = $1 AND chat = $2 AND claimed_by = $3",
        )
        .bind(platform.as_str())
        .bind(chat)
        .bind(&self.replica_id)
        .execute(&mut *tx)
        .await
        .map_err(q("pausing a chat"))?;
        tx.commit().await.map_err(q("pausing a chat"))?;
        Ok(())
    }

    async fn forget_gone_chats(&self, now: i64, gone_for: Duration) -> Result<Vec<GoneChat>> {
        let before = now.saturating_sub(i64::try_from(gone_for.as_secs()).unwrap_or(i64::MAX));
        let mut tx = self.begin_write("forgetting gone chats").await?;
        let rows =
            sqlx::query("DELETE FROM paused_chats WHERE paused_at < $1 RETURNING platform, chat")
                .bind(before)
                .fetch_all(&mut *tx)
                .await
                .map_err(q("finding gone chats"))?;
        let mut gone = Vec::with_capacity(rows.len());
        for row in &rows {
            let platform = row.text("platform")?;
            let chat = row.text("chat")?;
            let removed =
                sqlx::query("DELETE FROM subscriptions WHERE platform = $1 AND chat = $2")
                    .bind(&platform)
                    .bind(&chat)
                    .execute(&mut *tx)
                    .await
                    .map_err(q("forgetting a gone chat"))?
                    .rows_affected();
            sqlx::query(
                "UPDATE outbox SET state = 'expired', done_at = $1, claimed_by = NULL,
                 claimed_until = NULL, claim_token = NULL
                 WHERE state = 'pending' AND platform = $2 AND chat = $3",
            )
            .bind(now)
            .bind(&platform)
            .bind(&chat)
            .execute(&mut *tx)
            .await
            .map_err(q("forgetting a gone chat"))?;
            gone.push(GoneChat {
                platform: platform_of(platform)?,
                chat,
                subscriptions: removed,
            });
        }
        tx.commit().await.map_err(q("forgetting gone chats"))?;
        gone.sort_by(|a, b| (a.platform.as_str(), &a.chat).cmp(&(b.platform.as_str(), &b.chat)));
        Ok(gone)
    }

    async fn move_chat(&self, platform: Platform, from: &str, to: &str) -> Result<()> {
        // SQLite's UPDATE OR IGNORE: rows that would collide with a row
        // already at the new id stay where they are.
        const MOVES: [&str; 5] = [
            "UPDATE subscriptions s SET chat = $1 WHERE s.platform = $2 AND s.chat = $3
             AND NOT EXISTS (SELECT 1 FROM subscriptions t
                 WHERE t.platform = s.platform AND t.chat = $1
                   AND (t.local_id = s.local_id
                        OR (t.thread = s.thread AND t.board = s.board AND t.filter = s.filter)))",
            "UPDATE outbox s SET chat = $1 WHERE s.platform = $2 AND s.chat = $3
             AND NOT EXISTS (SELECT 1 FROM outbox t
                 WHERE t.post_id = s.post_id AND t.platform = s.platform AND t.chat = $1
                   AND t.thread = s.thread)",
            "UPDATE sent_messages s SET chat = $1 WHERE s.platform = $2 AND s.chat = $3
             AND NOT EXISTS (SELECT 1 FROM sent_messages t
                 WHERE t.post_id = s.post_id AND t.platform = s.platform AND t.chat = $1
                   AND t.thread = s.thread)",
            "UPDATE paused_chats s SET chat = $1 WHERE s.platform = $2 AND s.chat = $3
             AND NOT EXISTS (SELECT 1 FROM paused_chats t
                 WHERE t.platform = s.platform AND t.chat = $1)",
            "UPDATE leaderboards s SET chat = $1 WHERE s.platform = $2 AND s.chat = $3
             AND NOT EXISTS (SELECT 1 FROM leaderboards t
                 WHERE t.platform = s.platform AND t.chat = $1 AND t.thread = s.thread
                   AND t.board = s.board AND t.words = s.words AND t.day = s.day)",
        ];
        let mut tx = self.begin_write("moving a chat").await?;
        for sql in MOVES {
            sqlx::query(sql)
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
        let (busy_chats, busy_threads): (Vec<&str>, Vec<&str>) = busy
            .iter()
            .filter(|d| d.platform == platform)
            .map(|d| (d.chat.as_str(), d.thread_key()))
            .unzip();
        // `heads`: each destination's oldest pending row. `pick` locks the
        // due, unclaimed, unpaused, not busy ones, skipping rows another
        // replica is claiming right now; its conditions are on `o` so that
        // PostgreSQL re-checks them on a row changed since our snapshot.
        let mut tx = self.begin_write("taking due deliveries").await?;
        let sql = format!(
            "{HEADS}, pick AS (
                 SELECT o.id FROM outbox o JOIN heads h ON h.id = o.id
                 WHERE o.state = 'pending'
                   AND o.next_attempt_at <= $2
                   AND (o.claimed_until IS NULL OR o.claimed_until <= $2)
                   AND NOT EXISTS (SELECT 1 FROM paused_chats p
                                   WHERE p.platform = o.platform AND p.chat = o.chat)
                   AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS b(chat, thread)
                                   WHERE b.chat = o.chat AND b.thread = o.thread)
                 ORDER BY o.id
                 LIMIT $5
                 FOR UPDATE OF o SKIP LOCKED
             ), claimed AS (
                 UPDATE outbox SET claimed_by = $6, claimed_until = $2 + $7, claim_token = $8
                 FROM pick WHERE outbox.id = pick.id
                 RETURNING outbox.id, outbox.board, outbox.post_id, outbox.platform, outbox.chat,
                           outbox.thread, outbox.digest, outbox.attempts, outbox.created_at,
                           outbox.claim_token
             )
             SELECT c.id, c.platform, c.chat, c.thread, COALESCE(d.digest, c.digest) AS digest,
                    c.attempts, c.created_at, c.claim_token
             FROM claimed c LEFT JOIN digests d ON d.board = c.board AND d.post_id = c.post_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(platform.as_str())
            .bind(now)
            .bind(&busy_chats)
            .bind(&busy_threads)
            .bind(limit as i64)
            .bind(&self.replica_id)
            .bind(CLAIM_SECS)
            .bind(claim_token())
            .fetch_all(&mut *tx)
            .await
            .map_err(q("taking due deliveries"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let claim = row.opt_text("claim_token")?.unwrap_or_default();
            match outbox_row_of(row, claim) {
                Ok(r) => out.push(r),
                Err(e) => {
                    // Nothing to render: refuse this row rather than stall
                    // the destination (or every destination) behind it.
                    let id = row.int("id")?;
                    tracing::error!(row = id, error = %e, "cannot deliver an outbox row; rejected");
                    sqlx::query(
                        "UPDATE outbox SET state = 'rejected', last_error = $1, done_at = $2,
                         claimed_by = NULL, claimed_until = NULL, claim_token = NULL
                         WHERE id = $3",
                    )
                    .bind(e.to_string())
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(q("rejecting an unreadable row"))?;
                }
            }
        }
        tx.commit().await.map_err(q("taking due deliveries"))?;
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    async fn mark_sent(&self, row: &OutboxRow, message_id: &str, at: i64) -> Result<()> {
        let mut tx = self.begin_write("recording a delivery").await?;
        let n = sqlx::query(
            "UPDATE outbox SET state = 'sent', done_at = $1, attempts = attempts + 1,
             claimed_by = NULL, claimed_until = NULL, claim_token = NULL
             WHERE id = $2 AND state = 'pending' AND claim_token = $3 AND claimed_by = $4",
        )
        .bind(at)
        .bind(row.id)
        .bind(&row.claim)
        .bind(&self.replica_id)
        .execute(&mut *tx)
        .await
        .map_err(q("recording a delivery"))?
        .rows_affected();
        // Dropping `tx` rolls back: nothing changes for a lost claim.
        claimed(n, row.id)?;
        // INSERT OR REPLACE: a new record with fresh edit state.
        sqlx::query(
            "INSERT INTO sent_messages
             (board, post_id, platform, chat, thread, message_id, sent_at, shown)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
             ON CONFLICT (post_id, platform, chat, thread) DO UPDATE SET
                 board = excluded.board, message_id = excluded.message_id,
                 sent_at = excluded.sent_at, shown = excluded.shown,
                 edit_due = FALSE, deleted = FALSE, gone = FALSE",
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
            "{HEADS}
             SELECT MIN(GREATEST(o.next_attempt_at, COALESCE(o.claimed_until, 0)))
             FROM outbox o JOIN heads h ON h.id = o.id
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
        // LEAST ignores NULLs: the smaller threshold, or whichever is set.
        sqlx::query(
            "INSERT INTO tracked_posts (board, post_id, relayed, threshold, marker, tally,
                 started_at, until_at, next_check_at, step_secs, hot)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $7 + $9, $9, $10)
             ON CONFLICT (board, post_id) DO UPDATE SET
                 relayed = tracked_posts.relayed OR excluded.relayed,
                 hot = tracked_posts.hot OR excluded.hot,
                 threshold = LEAST(tracked_posts.threshold, excluded.threshold),
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
            "UPDATE tracked_posts SET tally = $1::jsonb, fetch_due = FALSE, next_check_at = $2,
             step_secs = $3 WHERE board = $4 AND post_id = $5",
        )
        .bind(&tally)
        .bind(next_check_at)
        .bind(step_secs)
        .bind(post.board.as_str())
        .bind(post.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(q("recording a tally"))?;
        sqlx::query("UPDATE digests SET digest = $1 WHERE board = $2 AND post_id = $3")
            .bind(&json)
            .bind(post.board.as_str())
            .bind(post.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(q("recording a tally"))?;
        let queued = sqlx::query(
            "UPDATE sent_messages SET edit_due = TRUE
             WHERE post_id = $1 AND NOT gone AND NOT deleted
               AND shown IS DISTINCT FROM $2::jsonb",
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
            "UPDATE sent_messages SET edit_due = FALSE, shown = $1::jsonb, deleted = deleted OR $2
             WHERE post_id = $3 AND platform = $4 AND chat = $5 AND thread = $6",
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

    async fn replica_heartbeat(&self, now: i64, live_secs: i64) -> Result<u32> {
        let mut tx = self.begin_write("beating").await?;
        sqlx::query(
            "INSERT INTO replicas (replica_id, host, started_at, last_seen) VALUES ($1, $2, $3, $3)
             ON CONFLICT (replica_id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(&self.replica_id)
        .bind(crate::host::name())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(q("beating"))?;
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM replicas WHERE last_seen > $1 OR replica_id = $2",
        )
        .bind(now - live_secs)
        .bind(&self.replica_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(q("counting live replicas"))?;
        // Forget replicas gone for long (their ids are per start).
        sqlx::query("DELETE FROM replicas WHERE last_seen < $1")
            .bind(now - 3600)
            .execute(&mut *tx)
            .await
            .map_err(q("beating"))?;
        tx.commit().await.map_err(q("beating"))?;
        Ok(live.clamp(1, i64::from(u32::MAX)) as u32)
    }

    async fn close(&self) {
        let _ = sqlx::query("DELETE FROM replicas WHERE replica_id = $1")
            .bind(&self.replica_id)
            .execute(&self.pool)
            .await;
        if let Err(e) = self.release_claims().await {
            tracing::debug!(error = %e, "cannot release outbox claims");
        }
        self.pool.close().await;
    }
}

impl_store!(PostgresStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_is_stable_and_spreads() {
        // FNV-1a of "" is the offset basis; the key must never change
        // between releases (replicas of two versions share the lock).
        assert_eq!(key_hash(""), 0x811c_9dc5_u32 as i32);
        assert_eq!(key_hash("public"), key_hash("public"));
        assert_ne!(key_hash("public"), key_hash("test_a"));
    }

    #[test]
    fn connect_options_keep_the_urls_own_settings() {
        let o = connect_options("postgres://u:p@h/db?options=-c%20statement_timeout%3D5s").unwrap();
        assert!(sets_statement_timeout(&o));
        assert_eq!(o.get_application_name(), Some("ptt-relay"));
        let o = connect_options("postgres://u:p@h/db?application_name=mine").unwrap();
        assert!(!sets_statement_timeout(&o));
        assert_eq!(o.get_application_name(), Some("mine"));
    }

    #[test]
    fn a_malformed_url_is_an_open_error_without_the_password() {
        let e = connect_options("postgres://u:secret@h:notaport/db")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("u:***@h:notaport/db"), "{e}");
    }

    #[test]
    fn masked_hides_the_password_of_any_url() {
        assert_eq!(masked("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(masked("postgres://u:p@w@h:x/db"), "postgres://u:***@h:x/db");
        assert_eq!(masked("postgres://h/db"), "postgres://h/db");
    }
}
