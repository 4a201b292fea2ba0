//! Queries written once for both stores: where the SQL is the same in both
//! dialects it lives here, with `$n` placeholders (which SQLite reads as
//! parameter `n` too) and flags compared with `= TRUE` / `= FALSE` (SQLite
//! keeps them as 0/1, and the comparison keeps its indexes usable).
//! Each method is the [`Store`](super::Store) method of the same name (a
//! `…_in` one runs inside the caller's transaction, which each backend
//! begins its own way); what differs between the dialects (locking,
//! upserts, claim fences, JSON columns) stays in `sqlite.rs` and
//! `postgres.rs`.

use sqlx::postgres::PgQueryResult;
use sqlx::query::Query;
use sqlx::sqlite::SqliteQueryResult;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Postgres, Sqlite, Type};

use super::rows::{
    BindDest, Fields, SUBSCRIPTION_COLUMNS, TRACKED_COLUMNS, board_state_of, digest_json,
    digest_of, edit_jobs, pending_posts_of, q, sent_message_of, smallest_free_id, subscriptions_of,
    tracked_of,
};
use super::{
    BoardState, EditJob, MAX_SUBSCRIPTIONS, PendingPost, Removal, Result, SentMessage, StoreError,
    Subscription, TrackedPost,
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
}

impl Db for Sqlite {
    const BYTEWISE: &'static str = "BINARY";
}

impl Db for Postgres {
    const BYTEWISE: &'static str = "\"C\"";
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
        let rows = sqlx::query(
            "SELECT platform, chat, thread, message_id FROM sent_messages WHERE post_id = $1",
        )
        .bind(post_id)
        .fetch_all(self.0)
        .await
        .map_err(q("reading sent messages"))?;
        rows.iter().map(sent_message_of).collect()
    }

    pub async fn tracked_posts(&self, board: &Board, now: i64) -> Result<Vec<TrackedPost>> {
        let sql = format!(
            "SELECT {TRACKED_COLUMNS} FROM tracked_posts
             WHERE board = $1 AND deleted = FALSE AND until_at > $2"
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
             ORDER BY fetch_due DESC, next_check_at LIMIT $2"
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
        let rows = sqlx::query(
            "SELECT s.platform, s.chat, s.thread, s.message_id, d.digest,
                    COALESCE(t.deleted, FALSE) AS post_deleted
             FROM sent_messages s
             JOIN digests d ON d.board = s.board AND d.post_id = s.post_id
             LEFT JOIN tracked_posts t ON t.board = s.board AND t.post_id = s.post_id
             WHERE s.platform = $1 AND s.edit_due = TRUE AND s.gone = FALSE
             ORDER BY s.sent_at LIMIT $2",
        )
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
        let query = sqlx::query("DELETE FROM tracked_posts WHERE until_at <= $1 OR deleted = TRUE")
            .bind(now);
        self.run(query, "ending tally tracking").await
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

    /// Deletes finished rows, seen posts, digests and sent messages from
    /// before `keep_after`; returns how many.
    pub async fn prune_before(&self, keep_after: i64) -> Result<u64> {
        let mut deleted = 0;
        for sql in [
            "DELETE FROM outbox WHERE state <> 'pending' AND done_at < $1",
            "DELETE FROM seen_posts WHERE seen_at < $1",
            "DELETE FROM digests WHERE seen_at < $1",
            "DELETE FROM sent_messages WHERE sent_at < $1",
        ] {
            deleted += self
                .run(sqlx::query(sql).bind(keep_after), "pruning")
                .await?;
        }
        Ok(deleted)
    }
}
