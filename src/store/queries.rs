//! Queries written once for both stores: where the SQL is the same in both
//! dialects it lives here, with `$n` placeholders (which SQLite reads as
//! parameter `n` too) and flags compared with `= TRUE` / `= FALSE` (SQLite
//! keeps them as 0/1, and the comparison keeps its indexes usable).
//! Each method is the [`Store`](super::Store) method of the same name (a
//! `…_in` one runs inside the caller's transaction, which each backend
//! begins its own way); what differs between the dialects (locking,
//! upserts, claim fences, JSON columns) stays in `sqlite.rs` and
//! `postgres.rs`.

use std::time::Duration;

use sqlx::postgres::PgQueryResult;
use sqlx::query::Query;
use sqlx::sqlite::SqliteQueryResult;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Postgres, Sqlite, Transaction, Type};

use super::rows::{
    BindDest, Fields, SUBSCRIPTION_COLUMNS, TRACKED_COLUMNS, board_state_of, claimed, digest_json,
    digest_of, edit_jobs, leaderboard_of, pending_posts_of, q, sent_message_of, smallest_free_id,
    subscriptions_of, tracked_of,
};
use super::{
    BoardState, CLAIM_SECS, EditJob, GoneChat, LeaderboardMessage, MAX_SUBSCRIPTIONS, OutboxRow,
    PUSH_SAMPLE_SECS, PendingPost, PushSample, Removal, Result, SentMessage, StoreError,
    Subscription, TrackStart, TrackedPost,
};
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::filter::Filter;
use crate::ptt::{Board, PostId};

/// A database both stores run on: its rows read through [`Fields`], its
/// results tell how many rows changed.
pub(super) trait Db:
    Database<Arguments: IntoArguments<Self>, Row: Fields, QueryResult: Affected>
{
    /// The collation that orders text by its bytes.
    const BYTEWISE: &'static str;
    /// The `SET` clause that ends an outbox row's claim (PostgreSQL also
    /// names the replica that held it).
    const RELEASE_CLAIM: &'static str;
}

impl Db for Sqlite {
    const BYTEWISE: &'static str = "BINARY";
    const RELEASE_CLAIM: &'static str = "claim_token = NULL, claimed_until = NULL";
}

impl Db for Postgres {
    const BYTEWISE: &'static str = "\"C\"";
    const RELEASE_CLAIM: &'static str =
        "claimed_by = NULL, claimed_until = NULL, claim_token = NULL";
}

/// How many rows a statement changed.
pub(super) trait Affected {
    /// The count.
    fn affected(&self) -> u64;
}

impl Affected for SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl Affected for PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// The shared queries, on a store's pool.
pub(super) struct Shared<'p, DB: Database>(pub &'p Pool<DB>);

impl<DB> Shared<'_, DB>
where
    DB: Db,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    i64: for<'a> Encode<'a, DB> + Type<DB>,
    bool: for<'a> Encode<'a, DB> + Type<DB>,
{
    /// Runs a statement on the pool; returns how many rows it changed.
    async fn run<'q>(
        &self,
        query: Query<'q, DB, DB::Arguments>,
        doing: &'static str,
    ) -> Result<u64> {
        Ok(query.execute(self.0).await.map_err(q(doing))?.affected())
    }

    pub async fn ping(&self) -> Result<()> {
        self.run(sqlx::query("SELECT 1"), "pinging").await?;
        Ok(())
    }

    pub async fn board_state(&self, board: &Board) -> Result<BoardState> {
        let row = sqlx::query("SELECT mark_id, last_ok_at FROM boards WHERE board = $1")
            .bind(board.as_str())
            .fetch_optional(self.0)
            .await
            .map_err(q("reading a board's mark"))?;
        row.map_or(Ok(BoardState::default()), |r| board_state_of(&r))
    }

    pub async fn record_poll(&self, board: &Board, ok: bool, at: i64) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO boards (board, last_poll_at, last_ok_at)
             VALUES ($1, $2, CASE WHEN $3 THEN $2 END)
             ON CONFLICT (board) DO UPDATE SET last_poll_at = $2,
             last_ok_at = CASE WHEN $3 THEN $2 ELSE boards.last_ok_at END",
        );
        let query = query.bind(board.as_str()).bind(at).bind(ok);
        self.run(query, "recording a poll").await?;
        Ok(())
    }

    pub async fn put_pending(&self, post: &PendingPost) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO pending_posts (board, post_id, epoch, title, author, marker,
                 first_seen_at, attempts, next_attempt_at, last_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (board, post_id) DO UPDATE SET title = excluded.title,
                 author = excluded.author, marker = excluded.marker,
                 first_seen_at = excluded.first_seen_at, attempts = excluded.attempts,
                 next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error",
        )
        .bind(post.board.as_str())
        .bind(post.id.as_str())
        .bind(post.id.epoch())
        .bind(post.title.as_str())
        .bind(post.author.as_str())
        .bind(post.marker.as_str())
        .bind(post.first_seen_at)
        .bind(i64::from(post.attempts))
        .bind(post.next_attempt_at)
        .bind(post.last_error.as_str());
        self.run(query, "recording a pending post").await?;
        Ok(())
    }

    pub async fn is_seen(&self, board: &Board, id: &PostId) -> Result<bool> {
        sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM seen_posts WHERE board = $1 AND post_id = $2) AS seen",
        )
        .bind(board.as_str())
        .bind(id.as_str())
        .fetch_one(self.0)
        .await
        .map_err(q("checking a seen post"))?
        .flag("seen")
    }

    pub async fn pending_posts(&self, board: &Board) -> Result<Vec<PendingPost>> {
        let sql = format!(
            "SELECT board, post_id, title, author, marker, first_seen_at, attempts,
                 next_attempt_at, last_error
             FROM pending_posts WHERE board = $1 ORDER BY epoch, post_id COLLATE {}",
            DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(board.as_str())
            .fetch_all(self.0)
            .await
            .map_err(q("reading pending posts"))?;
        pending_posts_of(&rows)
    }

    pub async fn remove_pending(&self, board: &Board, id: &PostId) -> Result<()> {
        let query = sqlx::query("DELETE FROM pending_posts WHERE board = $1 AND post_id = $2")
            .bind(board.as_str())
            .bind(id.as_str());
        self.run(query, "forgetting a pending post").await?;
        Ok(())
    }

    pub async fn digest(&self, board: &Board, id: &PostId) -> Result<Option<Digest>> {
        let row = sqlx::query("SELECT digest FROM digests WHERE board = $1 AND post_id = $2")
            .bind(board.as_str())
            .bind(id.as_str())
            .fetch_optional(self.0)
            .await
            .map_err(q("reading a digest"))?;
        row.map(|r| digest_of(&r.text("digest")?)).transpose()
    }

    /// `accept_post` inside the caller's transaction.
    pub async fn accept_in(
        &self,
        conn: &mut DB::Connection,
        digest: &Digest,
        dests: &[Destination],
        at: i64,
    ) -> Result<usize> {
        let json = digest_json(digest)?;
        let epoch = PostId::parse(&digest.id).map_or(0, |id| id.epoch());
        sqlx::query(
            "INSERT INTO digests (board, post_id, epoch, digest, seen_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (board, post_id) DO UPDATE SET digest = excluded.digest",
        )
        .bind(digest.board.as_str())
        .bind(digest.id.as_str())
        .bind(epoch)
        .bind(json.as_str())
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(q("keeping a digest"))?;
        let mut queued = 0;
        for d in dests {
            queued += sqlx::query(
                // A paused (gone) destination gets no new rows.
                "INSERT INTO outbox
                 (board, post_id, platform, chat, thread, next_attempt_at, created_at)
                 SELECT $1, $2, $3, $4, $5, $6, $6
                 WHERE NOT EXISTS (SELECT 1 FROM paused_chats WHERE platform = $3 AND chat = $4)
                 ON CONFLICT (post_id, platform, chat, thread) DO NOTHING",
            )
            .bind(digest.board.as_str())
            .bind(digest.id.as_str())
            .bind_dest(d)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map_err(q("queueing a post"))?
            .affected() as usize;
        }
        Ok(queued)
    }

    /// `subscribe` inside the caller's transaction, which must keep two
    /// subscribes of one chat from interleaving.
    pub async fn subscribe_in(
        &self,
        conn: &mut DB::Connection,
        dest: &Destination,
        board: &Board,
        filter: &Filter,
        at: i64,
    ) -> Result<(i64, bool)> {
        let filter = filter.canonical();
        let existing = sqlx::query(
            "SELECT local_id FROM subscriptions
             WHERE platform = $1 AND chat = $2 AND thread = $3 AND board = $4 AND filter = $5",
        )
        .bind_dest(dest)
        .bind(board.as_str())
        .bind(filter.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(q("subscribing"))?;
        if let Some(row) = existing {
            return Ok((row.int("local_id")?, false));
        }
        let used = sqlx::query(
            "SELECT local_id FROM subscriptions WHERE platform = $1 AND chat = $2 ORDER BY local_id",
        )
        .bind(dest.platform.as_str())
        .bind(dest.chat.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(q("subscribing"))?
        .iter()
        .map(|r| r.int("local_id"))
        .collect::<Result<Vec<i64>>>()?;
        // Counted in the caller's transaction, which holds the chat's write
        // lock: concurrent subscribes cannot pass the limit together.
        if used.len() >= MAX_SUBSCRIPTIONS {
            return Err(StoreError::SubscriptionLimit {
                max: MAX_SUBSCRIPTIONS,
            });
        }
        let id = smallest_free_id(&used);
        sqlx::query(
            "INSERT INTO subscriptions (platform, chat, thread, local_id, board, filter, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind_dest(dest)
        .bind(id)
        .bind(board.as_str())
        .bind(filter.as_str())
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(q("subscribing"))?;
        Ok((id, true))
    }

    pub async fn unsubscribe(&self, dest: &Destination, what: &Removal) -> Result<usize> {
        let query = match what {
            Removal::Id(id) => sqlx::query(
                "DELETE FROM subscriptions WHERE platform = $1 AND chat = $2 AND local_id = $3",
            )
            .bind(dest.platform.as_str())
            .bind(dest.chat.as_str())
            .bind(*id),
            Removal::Board(board) => sqlx::query(
                "DELETE FROM subscriptions WHERE platform = $1 AND chat = $2 AND thread = $3
                 AND lower(board) = lower($4)",
            )
            .bind_dest(dest)
            .bind(board.as_str()),
            Removal::All => sqlx::query(
                "DELETE FROM subscriptions WHERE platform = $1 AND chat = $2 AND thread = $3",
            )
            .bind_dest(dest),
        };
        Ok(self.run(query, "unsubscribing").await? as usize)
    }

    pub async fn subscriptions_of(&self, dest: &Destination) -> Result<Vec<Subscription>> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s
             WHERE s.platform = $1 AND s.chat = $2 AND s.thread = $3 ORDER BY s.local_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind_dest(dest)
            .fetch_all(self.0)
            .await
            .map_err(q("listing subscriptions"))?;
        subscriptions_of(&rows)
    }

    pub async fn count_subscriptions(&self, platform: Platform, chat: &str) -> Result<usize> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM subscriptions WHERE platform = $1 AND chat = $2",
        )
        .bind(platform.as_str())
        .bind(chat)
        .fetch_one(self.0)
        .await
        .map_err(q("counting subscriptions"))?;
        Ok(row.int("n")? as usize)
    }

    pub async fn subscriptions_for_board(&self, board: &Board) -> Result<Vec<Subscription>> {
        let sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s
             WHERE lower(s.board) = lower($1)
             ORDER BY s.platform COLLATE {c}, s.chat COLLATE {c}, s.local_id",
            c = DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(board.as_str())
            .fetch_all(self.0)
            .await
            .map_err(q("reading a board's subscriptions"))?;
        subscriptions_of(&rows)
    }

    pub async fn resume_chat(&self, platform: Platform, chat: &str) -> Result<bool> {
        let query = sqlx::query("DELETE FROM paused_chats WHERE platform = $1 AND chat = $2")
            .bind(platform.as_str())
            .bind(chat);
        Ok(self.run(query, "resuming a chat").await? > 0)
    }

    pub async fn set_chat_group(&self, platform: Platform, chat: &str, group: &str) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO chat_groups (platform, chat, grp) VALUES ($1, $2, $3)
             ON CONFLICT (platform, chat) DO UPDATE SET grp = excluded.grp",
        )
        .bind(platform.as_str())
        .bind(chat)
        .bind(group);
        self.run(query, "recording a chat's group").await?;
        Ok(())
    }

    pub async fn chats_in_group(&self, platform: Platform, group: &str) -> Result<Vec<String>> {
        let sql = format!(
            "SELECT chat FROM chat_groups WHERE platform = $1 AND grp = $2
             ORDER BY chat COLLATE {}",
            DB::BYTEWISE
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(platform.as_str())
            .bind(group)
            .fetch_all(self.0)
            .await
            .map_err(q("reading a group's chats"))?
            .iter()
            .map(|r| r.text("chat"))
            .collect()
    }

    pub async fn outbox_depth(&self, platform: Option<Platform>) -> Result<u64> {
        let query = match platform {
            Some(p) => sqlx::query(
                "SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND platform = $1",
            )
            .bind(p.as_str()),
            None => sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'"),
        };
        let row = query
            .fetch_one(self.0)
            .await
            .map_err(q("measuring the outbox"))?;
        Ok(row.int("n")? as u64)
    }

    pub async fn oldest_pending_at(&self) -> Result<Option<i64>> {
        sqlx::query("SELECT MIN(created_at) AS oldest FROM outbox WHERE state = 'pending'")
            .fetch_one(self.0)
            .await
            .map_err(q("measuring the outbox"))?
            .opt_int("oldest")
    }

    pub async fn sent_messages(&self, post_id: &str) -> Result<Vec<SentMessage>> {
        // Ordered (bytewise, as on both stores) so that every replica, and
        // every replay of a simulated history, acts on them in one order.
        let sql = format!(
            "SELECT platform, chat, thread, message_id FROM sent_messages WHERE post_id = $1
             ORDER BY platform COLLATE {c}, chat COLLATE {c}, thread COLLATE {c}",
            c = DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(post_id)
            .fetch_all(self.0)
            .await
            .map_err(q("reading sent messages"))?;
        rows.iter().map(sent_message_of).collect()
    }

    pub async fn tracked_posts(&self, board: &Board, now: i64) -> Result<Vec<TrackedPost>> {
        let sql = format!(
            "SELECT {TRACKED_COLUMNS} FROM tracked_posts
             WHERE board = $1 AND deleted = FALSE AND until_at > $2
             ORDER BY post_id COLLATE {}",
            DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(board.as_str())
            .bind(now)
            .fetch_all(self.0)
            .await
            .map_err(q("reading tracked posts"))?;
        rows.iter().map(tracked_of).collect()
    }

    pub async fn set_tracked_marker(
        &self,
        board: &Board,
        id: &PostId,
        marker: &str,
        fetch_due: bool,
    ) -> Result<()> {
        let query = sqlx::query(
            "UPDATE tracked_posts SET marker = $1, fetch_due = (fetch_due OR $2)
             WHERE board = $3 AND post_id = $4",
        )
        .bind(marker)
        .bind(fetch_due)
        .bind(board.as_str())
        .bind(id.as_str());
        self.run(query, "recording a push marker").await?;
        Ok(())
    }

    pub async fn due_tally_checks(&self, now: i64, limit: usize) -> Result<Vec<TrackedPost>> {
        let sql = format!(
            "SELECT {TRACKED_COLUMNS} FROM tracked_posts
             WHERE deleted = FALSE AND until_at > $1
               AND (fetch_due = TRUE OR (relayed = TRUE AND next_check_at <= $1))
             ORDER BY fetch_due DESC, next_check_at, board COLLATE {c}, post_id COLLATE {c}
             LIMIT CAST($2 AS INTEGER)",
            c = DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(limit as i64)
            .fetch_all(self.0)
            .await
            .map_err(q("reading due tally checks"))?;
        rows.iter().map(tracked_of).collect()
    }

    /// `mark_post_deleted` inside the caller's transaction.
    pub async fn mark_post_deleted_in(
        &self,
        conn: &mut DB::Connection,
        board: &Board,
        id: &PostId,
    ) -> Result<u64> {
        sqlx::query("UPDATE tracked_posts SET deleted = TRUE WHERE board = $1 AND post_id = $2")
            .bind(board.as_str())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(q("marking a post deleted"))?;
        Ok(sqlx::query(
            "UPDATE sent_messages SET edit_due = TRUE
             WHERE post_id = $1 AND gone = FALSE AND deleted = FALSE",
        )
        .bind(id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(q("marking a post deleted"))?
        .affected())
    }

    pub async fn due_edits(
        &self,
        platform: Platform,
        busy: &[Destination],
        limit: usize,
    ) -> Result<Vec<EditJob>> {
        // Each destination's oldest due edit only (its head), so that a
        // busy or resting destination with many due edits takes one row of
        // the batch, not all of them: at most `busy.len()` rows are left
        // out. Ordered fully (ties by post, chat, thread), so that every
        // replica and every replay edits in one order.
        let sql = format!(
            "SELECT s.platform, s.chat, s.thread, s.message_id, d.digest,
                    COALESCE(t.deleted, FALSE) AS post_deleted
             FROM (SELECT e.*, ROW_NUMBER() OVER (
                       PARTITION BY e.chat, e.thread
                       ORDER BY e.sent_at, e.post_id COLLATE {c}) AS n
                   FROM sent_messages e
                   WHERE e.platform = $1 AND e.edit_due = TRUE AND e.gone = FALSE) s
             JOIN digests d ON d.board = s.board AND d.post_id = s.post_id
             LEFT JOIN tracked_posts t ON t.board = s.board AND t.post_id = s.post_id
             WHERE s.n = 1
             ORDER BY s.sent_at, s.post_id COLLATE {c}, s.chat COLLATE {c}, s.thread COLLATE {c}
             LIMIT CAST($2 AS INTEGER)",
            c = DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(platform.as_str())
            .bind((limit + busy.len()) as i64)
            .fetch_all(self.0)
            .await
            .map_err(q("reading due edits"))?;
        edit_jobs(&rows, busy, limit)
    }

    pub async fn edit_gone(&self, job: &EditJob) -> Result<()> {
        let query = sqlx::query(
            "UPDATE sent_messages SET edit_due = FALSE, gone = TRUE
             WHERE post_id = $1 AND platform = $2 AND chat = $3 AND thread = $4",
        )
        .bind(job.digest.id.as_str())
        .bind_dest(&job.dest);
        self.run(query, "recording an edit").await?;
        Ok(())
    }

    pub async fn untrack_expired(&self, now: i64) -> Result<u64> {
        let samples =
            sqlx::query("DELETE FROM push_samples WHERE seen_at < $1").bind(now - PUSH_SAMPLE_SECS);
        self.run(samples, "forgetting push samples").await?;
        let query = sqlx::query("DELETE FROM tracked_posts WHERE until_at <= $1 OR deleted = TRUE")
            .bind(now);
        self.run(query, "ending tally tracking").await
    }

    pub async fn record_push_sample(
        &self,
        board: &Board,
        id: &PostId,
        sample: PushSample,
    ) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO push_samples (board, post_id, seen_at, lo, hi) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (board, post_id, seen_at) DO UPDATE SET lo = excluded.lo, hi = excluded.hi",
        )
        .bind(board.as_str())
        .bind(id.as_str())
        .bind(sample.at)
        .bind(sample.lo)
        .bind(sample.hi);
        self.run(query, "recording a push sample").await?;
        Ok(())
    }

    pub async fn push_samples(
        &self,
        board: &Board,
        id: &PostId,
        since: i64,
    ) -> Result<Vec<PushSample>> {
        let rows = sqlx::query(
            "SELECT seen_at, lo, hi FROM push_samples
             WHERE board = $1 AND post_id = $2 AND seen_at >= $3 ORDER BY seen_at",
        )
        .bind(board.as_str())
        .bind(id.as_str())
        .bind(since)
        .fetch_all(self.0)
        .await
        .map_err(q("reading push samples"))?;
        rows.iter()
            .map(|r| {
                Ok(PushSample {
                    at: r.int("seen_at")?,
                    lo: r.int("lo")?,
                    hi: r.int("hi")?,
                })
            })
            .collect()
    }

    pub async fn leaderboard_message(
        &self,
        dest: &Destination,
        board: &Board,
        words: &str,
        day: &str,
    ) -> Result<Option<LeaderboardMessage>> {
        let row = sqlx::query(
            "SELECT platform, chat, thread, words, day, board, message_id, shown, edited_at, final
             FROM leaderboards
             WHERE platform = $1 AND chat = $2 AND thread = $3 AND board = $4 AND words = $5
               AND day = $6",
        )
        .bind_dest(dest)
        .bind(board.as_str())
        .bind(words)
        .bind(day)
        .fetch_optional(self.0)
        .await
        .map_err(q("reading a leaderboard message"))?;
        row.as_ref().map(leaderboard_of).transpose()
    }

    pub async fn put_leaderboard_message(&self, m: &LeaderboardMessage) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO leaderboards
                 (platform, chat, thread, board, words, day, message_id, shown, edited_at, final)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (platform, chat, thread, board, words, day) DO UPDATE SET
                 message_id = excluded.message_id,
                 shown = excluded.shown, edited_at = excluded.edited_at, final = excluded.final",
        )
        .bind_dest(&m.dest)
        .bind(m.board.as_str())
        .bind(m.words.as_str())
        .bind(m.day.as_str())
        .bind(m.message_id.as_deref().unwrap_or(""))
        .bind(m.shown.as_str())
        .bind(m.edited_at)
        .bind(m.is_final);
        self.run(query, "recording a leaderboard message").await?;
        Ok(())
    }

    pub async fn open_leaderboard_messages(
        &self,
        day: &str,
        limit: usize,
    ) -> Result<Vec<LeaderboardMessage>> {
        let sql = format!(
            "SELECT platform, chat, thread, words, day, board, message_id, shown, edited_at, final
             FROM leaderboards WHERE final = FALSE AND day < $1
             ORDER BY day, platform, chat COLLATE {b}, thread COLLATE {b}, board COLLATE {b},
                 words COLLATE {b}
             LIMIT CAST($2 AS INTEGER)",
            b = DB::BYTEWISE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(day)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.0)
            .await
            .map_err(q("reading open leaderboard messages"))?;
        rows.iter().map(leaderboard_of).collect()
    }

    pub async fn count_tracked(&self, now: i64) -> Result<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM tracked_posts WHERE deleted = FALSE AND until_at > $1",
        )
        .bind(now)
        .fetch_one(self.0)
        .await
        .map_err(q("counting tracked posts"))?;
        Ok(row.int("n")? as u64)
    }

    /// Expires undelivered rows older than `max_age`, then deletes what is
    /// older than `retention` ([`Store::prune`](super::Store::prune)).
    pub async fn prune(
        &self,
        now: i64,
        max_age: Duration,
        retention: Duration,
    ) -> Result<(u64, u64)> {
        let expire_before = now - max_age.as_secs() as i64;
        let keep_after = now - retention.as_secs() as i64;
        let sql = format!(
            "UPDATE outbox SET state = 'expired', done_at = $1, {}
             WHERE state = 'pending' AND created_at < $2",
            DB::RELEASE_CLAIM
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(expire_before);
        let expired = self.run(query, "expiring old deliveries").await?;
        Ok((expired, self.prune_before(keep_after).await?))
    }

    /// [`Store::renew_claim`](super::Store::renew_claim); see [`owner_fence`].
    pub async fn renew_claim(&self, row: &OutboxRow, now: i64, owner: Option<&str>) -> Result<()> {
        let sql = format!(
            "UPDATE outbox SET claimed_until = $1
             WHERE id = $2 AND state = 'pending' AND claim_token = $3{}",
            owner_fence(owner, 4)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now + CLAIM_SECS)
            .bind(row.id)
            .bind(row.claim.as_str());
        let n = self
            .run(bind_owner(query, owner), "renewing a claim")
            .await?;
        claimed(n, row.id)
    }

    /// [`Store::mark_retry`](super::Store::mark_retry); see [`owner_fence`].
    pub async fn mark_retry(
        &self,
        row: &OutboxRow,
        next_at: i64,
        error: &str,
        count_attempt: bool,
        owner: Option<&str>,
    ) -> Result<()> {
        // Only with our own claim: if ours expired and another sender took
        // the row meanwhile, its claim and its outcome stand.
        let sql = format!(
            "UPDATE outbox SET next_attempt_at = $1, last_error = $2,
             attempts = attempts + CASE WHEN $3 THEN 1 ELSE 0 END, {}
             WHERE id = $4 AND state = 'pending' AND claim_token = $5{}",
            DB::RELEASE_CLAIM,
            owner_fence(owner, 6)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(next_at)
            .bind(error)
            .bind(count_attempt)
            .bind(row.id)
            .bind(row.claim.as_str());
        let n = self
            .run(bind_owner(query, owner), "scheduling a retry")
            .await?;
        claimed(n, row.id)
    }

    /// [`Store::mark_rejected`](super::Store::mark_rejected); see [`owner_fence`].
    pub async fn mark_rejected(
        &self,
        row: &OutboxRow,
        error: &str,
        at: i64,
        owner: Option<&str>,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE outbox SET state = 'rejected', last_error = $1, done_at = $2,
             attempts = attempts + 1, {}
             WHERE id = $3 AND state = 'pending' AND claim_token = $4{}",
            DB::RELEASE_CLAIM,
            owner_fence(owner, 5)
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(error)
            .bind(at)
            .bind(row.id)
            .bind(row.claim.as_str());
        let n = self
            .run(bind_owner(query, owner), "rejecting a delivery")
            .await?;
        claimed(n, row.id)
    }

    /// Deletes finished rows, seen posts, digests and sent messages from
    /// before `keep_after`; returns how many.
    pub async fn prune_before(&self, keep_after: i64) -> Result<u64> {
        let mut deleted = 0;
        for sql in [
            "DELETE FROM outbox WHERE state <> 'pending' AND done_at < $1",
            "DELETE FROM seen_posts WHERE seen_at < $1",
            "DELETE FROM digests WHERE seen_at < $1",
            "DELETE FROM sent_messages WHERE sent_at < $1",
            "DELETE FROM leaderboards WHERE final = TRUE AND edited_at < $1",
        ] {
            deleted += self
                .run(sqlx::query(sql).bind(keep_after), "pruning")
                .await?;
        }
        Ok(deleted)
    }
}

/// With a claim `owner` (a PostgreSQL replica), the condition that the row
/// is still claimed by it, as parameter `$n`; nothing when the claim token
/// alone fences (SQLite: one process per file). An outcome or a renewal
/// changes a row only while the caller's claim is still on it.
fn owner_fence(owner: Option<&str>, n: u8) -> String {
    owner.map_or_else(String::new, |_| format!(" AND claimed_by = ${n}"))
}

/// Binds the claim's owner, when it has one, after the statement's other
/// parameters (see [`owner_fence`]).
fn bind_owner<'q, DB: Database>(
    query: Query<'q, DB, DB::Arguments>,
    owner: Option<&'q str>,
) -> Query<'q, DB, DB::Arguments>
where
    &'q str: Encode<'q, DB> + Type<DB>,
{
    match owner {
        Some(o) => query.bind(o),
        None => query,
    }
}

/// What a store does its own way: how it begins a write, keeps two
/// subscribes of one chat apart and fences claims, and the
/// [`Store`](super::Store) methods whose SQL differs between the dialects
/// (each is the `Store` method of the same name). [`impl_store!`] writes
/// the rest once for both.
pub(super) trait Dialect: Sync {
    /// The database.
    type DB: Db;
    /// The queries both dialects share, on this store's pool.
    fn shared(&self) -> Shared<'_, Self::DB>;
    /// Begins a transaction that writes (SQLite takes the file's write
    /// lock at once, so two writers never deadlock on an upgrade).
    async fn begin_write(&self, doing: &'static str) -> Result<Transaction<'_, Self::DB>>;
    /// Inside a subscribe's transaction: keeps subscribes of one chat from
    /// interleaving (both would pick the same free id).
    async fn lock_subscriber(
        &self,
        conn: &mut <Self::DB as Database>::Connection,
        dest: &Destination,
    ) -> Result<()>;
    /// Who holds this process's claims besides their token (PostgreSQL:
    /// the replica), `None` when the token alone fences them.
    fn claim_owner(&self) -> Option<&str>;

    async fn raise_mark(&self, board: &Board, mark: &PostId) -> Result<()>;
    async fn mark_seen(&self, board: &Board, ids: &[PostId], at: i64) -> Result<()>;
    async fn latest_digests(&self, boards: &[Board], limit: usize) -> Result<Vec<Digest>>;
    async fn digests_since(
        &self,
        boards: &[Board],
        since: i64,
        limit: usize,
    ) -> Result<Vec<(Digest, i64)>>;
    async fn pause_chat(&self, platform: Platform, chat: &str, reason: &str, at: i64)
    -> Result<()>;
    async fn forget_gone_chats(&self, now: i64, gone_for: Duration) -> Result<Vec<GoneChat>>;
    async fn move_chat(&self, platform: Platform, from: &str, to: &str) -> Result<()>;
    async fn due_rows(
        &self,
        platform: Platform,
        now: i64,
        busy: &[Destination],
        limit: usize,
    ) -> Result<Vec<OutboxRow>>;
    async fn mark_sent(&self, row: &OutboxRow, message_id: &str, at: i64) -> Result<()>;
    async fn next_due_at(&self, platform: Platform) -> Result<Option<i64>>;
    async fn track(&self, start: &TrackStart<'_>) -> Result<()>;
    async fn record_tally(
        &self,
        post: &TrackedPost,
        digest: &Digest,
        next_check_at: i64,
        step_secs: i64,
    ) -> Result<u64>;
    async fn edit_done(&self, job: &EditJob) -> Result<()>;
    async fn replica_heartbeat(&self, now: i64, live_secs: i64) -> Result<u32>;
    async fn close(&self);
}

/// `impl Store for $store`, for a store that implements [`Dialect`]: the
/// methods both dialects share are written here once (on [`Shared`], in a
/// transaction begun by [`Dialect::begin_write`]); the others call the
/// store's [`Dialect`] method of the same name. (A macro rather than a
/// blanket impl: each store's futures stay concrete, so `Send` is checked
/// on its own types.)
macro_rules! impl_store {
    ($store:ty) => {
        const _: () = {
            use std::time::Duration;

            use $crate::dest::{Destination, Platform};
            use $crate::digest::Digest;
            use $crate::filter::Filter;
            use $crate::ptt::{Board, PostId};
            use $crate::store::queries::Dialect;
            use $crate::store::rows::q;
            use $crate::store::{
                BoardState, EditJob, GoneChat, LeaderboardMessage, OutboxRow, PendingPost,
                PushSample, Removal, Result, SentMessage, Store, Subscription, TrackStart,
                TrackedPost,
            };

            #[async_trait::async_trait]
            impl Store for $store {
                async fn ping(&self) -> Result<()> {
                    self.shared().ping().await
                }
                async fn board_state(&self, board: &Board) -> Result<BoardState> {
                    self.shared().board_state(board).await
                }
                async fn raise_mark(&self, board: &Board, mark: &PostId) -> Result<()> {
                    Dialect::raise_mark(self, board, mark).await
                }
                async fn record_poll(&self, board: &Board, ok: bool, at: i64) -> Result<()> {
                    self.shared().record_poll(board, ok, at).await
                }
                async fn is_seen(&self, board: &Board, id: &PostId) -> Result<bool> {
                    self.shared().is_seen(board, id).await
                }
                async fn mark_seen(&self, board: &Board, ids: &[PostId], at: i64) -> Result<()> {
                    Dialect::mark_seen(self, board, ids, at).await
                }
                async fn put_pending(&self, post: &PendingPost) -> Result<()> {
                    self.shared().put_pending(post).await
                }
                async fn pending_posts(&self, board: &Board) -> Result<Vec<PendingPost>> {
                    self.shared().pending_posts(board).await
                }
                async fn remove_pending(&self, board: &Board, id: &PostId) -> Result<()> {
                    self.shared().remove_pending(board, id).await
                }
                async fn accept_post(
                    &self,
                    digest: &Digest,
                    dests: &[Destination],
                    at: i64,
                ) -> Result<usize> {
                    let doing = "queueing a post";
                    let mut tx = self.begin_write(doing).await?;
                    let queued = self.shared().accept_in(&mut tx, digest, dests, at).await?;
                    tx.commit().await.map_err(q(doing))?;
                    Ok(queued)
                }
                async fn digest(&self, board: &Board, id: &PostId) -> Result<Option<Digest>> {
                    self.shared().digest(board, id).await
                }
                async fn latest_digests(
                    &self,
                    boards: &[Board],
                    limit: usize,
                ) -> Result<Vec<Digest>> {
                    Dialect::latest_digests(self, boards, limit).await
                }
                async fn digests_since(
                    &self,
                    boards: &[Board],
                    since: i64,
                    limit: usize,
                ) -> Result<Vec<(Digest, i64)>> {
                    Dialect::digests_since(self, boards, since, limit).await
                }
                async fn subscribe(
                    &self,
                    dest: &Destination,
                    board: &Board,
                    filter: &Filter,
                    at: i64,
                ) -> Result<(i64, bool)> {
                    let doing = "subscribing";
                    let mut tx = self.begin_write(doing).await?;
                    self.lock_subscriber(&mut tx, dest).await?;
                    let subscribed = self
                        .shared()
                        .subscribe_in(&mut tx, dest, board, filter, at)
                        .await?;
                    tx.commit().await.map_err(q(doing))?;
                    Ok(subscribed)
                }
                async fn unsubscribe(&self, dest: &Destination, what: &Removal) -> Result<usize> {
                    self.shared().unsubscribe(dest, what).await
                }
                async fn subscriptions_of(&self, dest: &Destination) -> Result<Vec<Subscription>> {
                    self.shared().subscriptions_of(dest).await
                }
                async fn count_subscriptions(
                    &self,
                    platform: Platform,
                    chat: &str,
                ) -> Result<usize> {
                    self.shared().count_subscriptions(platform, chat).await
                }
                async fn subscriptions_for_board(
                    &self,
                    board: &Board,
                ) -> Result<Vec<Subscription>> {
                    self.shared().subscriptions_for_board(board).await
                }
                async fn pause_chat(
                    &self,
                    platform: Platform,
                    chat: &str,
                    reason: &str,
                    at: i64,
                ) -> Result<()> {
                    Dialect::pause_chat(self, platform, chat, reason, at).await
                }
                async fn forget_gone_chats(
                    &self,
                    now: i64,
                    gone_for: Duration,
                ) -> Result<Vec<GoneChat>> {
                    Dialect::forget_gone_chats(self, now, gone_for).await
                }
                async fn resume_chat(&self, platform: Platform, chat: &str) -> Result<bool> {
                    self.shared().resume_chat(platform, chat).await
                }
                async fn set_chat_group(
                    &self,
                    platform: Platform,
                    chat: &str,
                    group: &str,
                ) -> Result<()> {
                    self.shared().set_chat_group(platform, chat, group).await
                }
                async fn chats_in_group(
                    &self,
                    platform: Platform,
                    group: &str,
                ) -> Result<Vec<String>> {
                    self.shared().chats_in_group(platform, group).await
                }
                async fn move_chat(&self, platform: Platform, from: &str, to: &str) -> Result<()> {
                    Dialect::move_chat(self, platform, from, to).await
                }
                async fn due_rows(
                    &self,
                    platform: Platform,
                    now: i64,
                    busy: &[Destination],
                    limit: usize,
                ) -> Result<Vec<OutboxRow>> {
                    Dialect::due_rows(self, platform, now, busy, limit).await
                }
                async fn renew_claim(&self, row: &OutboxRow, now: i64) -> Result<()> {
                    self.shared()
                        .renew_claim(row, now, self.claim_owner())
                        .await
                }
                async fn mark_sent(
                    &self,
                    row: &OutboxRow,
                    message_id: &str,
                    at: i64,
                ) -> Result<()> {
                    Dialect::mark_sent(self, row, message_id, at).await
                }
                async fn mark_retry(
                    &self,
                    row: &OutboxRow,
                    next_at: i64,
                    error: &str,
                    count_attempt: bool,
                ) -> Result<()> {
                    let owner = self.claim_owner();
                    self.shared()
                        .mark_retry(row, next_at, error, count_attempt, owner)
                        .await
                }
                async fn mark_rejected(&self, row: &OutboxRow, error: &str, at: i64) -> Result<()> {
                    let owner = self.claim_owner();
                    self.shared().mark_rejected(row, error, at, owner).await
                }
                async fn outbox_depth(&self, platform: Option<Platform>) -> Result<u64> {
                    self.shared().outbox_depth(platform).await
                }
                async fn oldest_pending_at(&self) -> Result<Option<i64>> {
                    self.shared().oldest_pending_at().await
                }
                async fn next_due_at(&self, platform: Platform) -> Result<Option<i64>> {
                    Dialect::next_due_at(self, platform).await
                }
                async fn sent_messages(&self, post_id: &str) -> Result<Vec<SentMessage>> {
                    self.shared().sent_messages(post_id).await
                }
                async fn track(&self, start: &TrackStart<'_>) -> Result<()> {
                    Dialect::track(self, start).await
                }
                async fn tracked_posts(&self, board: &Board, now: i64) -> Result<Vec<TrackedPost>> {
                    self.shared().tracked_posts(board, now).await
                }
                async fn set_tracked_marker(
                    &self,
                    board: &Board,
                    id: &PostId,
                    marker: &str,
                    fetch_due: bool,
                ) -> Result<()> {
                    self.shared()
                        .set_tracked_marker(board, id, marker, fetch_due)
                        .await
                }
                async fn due_tally_checks(
                    &self,
                    now: i64,
                    limit: usize,
                ) -> Result<Vec<TrackedPost>> {
                    self.shared().due_tally_checks(now, limit).await
                }
                async fn record_tally(
                    &self,
                    post: &TrackedPost,
                    digest: &Digest,
                    next_check_at: i64,
                    step_secs: i64,
                ) -> Result<u64> {
                    Dialect::record_tally(self, post, digest, next_check_at, step_secs).await
                }
                async fn mark_post_deleted(&self, board: &Board, id: &PostId) -> Result<u64> {
                    let doing = "marking a post deleted";
                    let mut tx = self.begin_write(doing).await?;
                    let queued = self
                        .shared()
                        .mark_post_deleted_in(&mut tx, board, id)
                        .await?;
                    tx.commit().await.map_err(q(doing))?;
                    Ok(queued)
                }
                async fn due_edits(
                    &self,
                    platform: Platform,
                    busy: &[Destination],
                    limit: usize,
                ) -> Result<Vec<EditJob>> {
                    self.shared().due_edits(platform, busy, limit).await
                }
                async fn edit_done(&self, job: &EditJob) -> Result<()> {
                    Dialect::edit_done(self, job).await
                }
                async fn edit_gone(&self, job: &EditJob) -> Result<()> {
                    self.shared().edit_gone(job).await
                }
                async fn record_push_sample(
                    &self,
                    board: &Board,
                    id: &PostId,
                    sample: PushSample,
                ) -> Result<()> {
                    self.shared().record_push_sample(board, id, sample).await
                }
                async fn push_samples(
                    &self,
                    board: &Board,
                    id: &PostId,
                    since: i64,
                ) -> Result<Vec<PushSample>> {
                    self.shared().push_samples(board, id, since).await
                }
                async fn leaderboard_message(
                    &self,
                    dest: &Destination,
                    board: &Board,
                    words: &str,
                    day: &str,
                ) -> Result<Option<LeaderboardMessage>> {
                    self.shared()
                        .leaderboard_message(dest, board, words, day)
                        .await
                }
                async fn put_leaderboard_message(
                    &self,
                    message: &LeaderboardMessage,
                ) -> Result<()> {
                    self.shared().put_leaderboard_message(message).await
                }
                async fn open_leaderboard_messages(
                    &self,
                    day: &str,
                    limit: usize,
                ) -> Result<Vec<LeaderboardMessage>> {
                    self.shared().open_leaderboard_messages(day, limit).await
                }
                async fn untrack_expired(&self, now: i64) -> Result<u64> {
                    self.shared().untrack_expired(now).await
                }
                async fn count_tracked(&self, now: i64) -> Result<u64> {
                    self.shared().count_tracked(now).await
                }
                async fn prune(
                    &self,
                    now: i64,
                    max_age: Duration,
                    retention: Duration,
                ) -> Result<(u64, u64)> {
                    self.shared().prune(now, max_age, retention).await
                }
                async fn replica_heartbeat(&self, now: i64, live_secs: i64) -> Result<u32> {
                    Dialect::replica_heartbeat(self, now, live_secs).await
                }
                async fn close(&self) {
                    Dialect::close(self).await
                }
            }
        };
    };
}
pub(super) use impl_store;
