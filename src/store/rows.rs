//! What the SQLite and PostgreSQL stores share around their SQL: reading
//! rows back into the store's types, the JSON kept for digests and
//! tallies, binding a destination, and mapping errors.
//!
//! Column names are the same in both schemas; only flags differ (SQLite
//! keeps them as integers), which [`Fields::flag`] hides.

use sqlx::postgres::PgRow;
use sqlx::query::Query;
use sqlx::sqlite::SqliteRow;
use sqlx::{ColumnIndex, Database, Decode, Encode, Row, Type};

use super::{
    BoardState, EditJob, LeaderboardMessage, OutboxRow, PendingPost, Result, SentMessage,
    StoreError, Subscription, TrackedPost,
};
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::filter::Filter;
use crate::ptt::{Board, PostId, Tally};

/// Maps a query error to [`StoreError::Query`], saying what was being done.
pub(super) fn q(doing: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::Query {
        doing,
        reason: e.to_string(),
    }
}

/// `Ok` when an outcome changed its row (the caller's claim held), else
/// [`StoreError::ClaimLost`].
pub(super) fn claimed(rows_affected: u64, row: i64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::ClaimLost { row })
    } else {
        Ok(())
    }
}

/// The smallest subscription id not in `used` (sorted).
pub(super) fn smallest_free_id(used: &[i64]) -> i64 {
    let mut id = 1;
    for &u in used {
        if u == id {
            id += 1;
        } else if u > id {
            break;
        }
    }
    id
}

/// The columns [`subscription_of`] reads, from `subscriptions s`.
pub(super) const SUBSCRIPTION_COLUMNS: &str = "s.platform, s.chat, s.thread, s.local_id, s.board, s.filter,
    EXISTS (SELECT 1 FROM paused_chats p WHERE p.platform = s.platform AND p.chat = s.chat) AS paused";

/// The columns [`tracked_of`] reads, from `tracked_posts`.
pub(super) const TRACKED_COLUMNS: &str = "board, post_id, relayed, threshold, hot, marker,
    CAST(tally AS TEXT) AS tally, until_at, next_check_at, step_secs, fetch_due";

/// A row's columns as the store's types; a missing or mistyped column is
/// [`StoreError::Corrupt`].
pub(super) trait Fields {
    /// A text column.
    fn text(&self, col: &'static str) -> Result<String>;
    /// A nullable text column.
    fn opt_text(&self, col: &'static str) -> Result<Option<String>>;
    /// An integer column.
    fn int(&self, col: &'static str) -> Result<i64>;
    /// A nullable integer column.
    fn opt_int(&self, col: &'static str) -> Result<Option<i64>>;
    /// A flag (a `BOOLEAN` on PostgreSQL, an integer on SQLite).
    fn flag(&self, col: &'static str) -> Result<bool>;
}

fn get<'r, R, T>(row: &'r R, col: &'static str) -> Result<T>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(col).map_err(|e| StoreError::Corrupt {
        what: col,
        reason: e.to_string(),
    })
}

macro_rules! fields {
    ($row:ty, $flag:ty, $truth:expr) => {
        impl Fields for $row {
            fn text(&self, col: &'static str) -> Result<String> {
                get(self, col)
            }
            fn opt_text(&self, col: &'static str) -> Result<Option<String>> {
                get(self, col)
            }
            fn int(&self, col: &'static str) -> Result<i64> {
                get(self, col)
            }
            fn opt_int(&self, col: &'static str) -> Result<Option<i64>> {
                get(self, col)
            }
            fn flag(&self, col: &'static str) -> Result<bool> {
                get::<_, $flag>(self, col).map($truth)
            }
        }
    };
}

fields!(PgRow, bool, |b| b);
fields!(SqliteRow, i64, |n| n != 0);

/// Binding a destination's platform, chat and thread key, in that order.
pub(super) trait BindDest<'q> {
    /// Binds the next three parameters.
    fn bind_dest(self, dest: &'q Destination) -> Self;
}

impl<'a, 'q, DB: Database> BindDest<'a> for Query<'q, DB, DB::Arguments>
where
    &'a str: Encode<'a, DB> + Type<DB>,
{
    fn bind_dest(self, d: &'a Destination) -> Self {
        self.bind(d.platform.as_str())
            .bind(d.chat.as_str())
            .bind(d.thread_key())
    }
}

/// A stored platform name.
pub(super) fn platform_of(name: String) -> Result<Platform> {
    Platform::parse(&name).ok_or(StoreError::Corrupt {
        what: "platform",
        reason: name,
    })
}

/// A stored post id (`what` names it in the error).
fn post_id_of(id: String, what: &'static str) -> Result<PostId> {
    PostId::parse(&id).ok_or(StoreError::Corrupt { what, reason: id })
}

/// A stored board name.
fn board_of(name: String) -> Result<Board> {
    Board::parse(&name).ok_or(StoreError::Corrupt {
        what: "board",
        reason: name,
    })
}

/// A count or attempt number, clamped into `u32`.
fn small(n: i64) -> u32 {
    n.clamp(0, i64::from(u32::MAX)) as u32
}

/// The destination in a row's `platform`, `chat` and `thread` columns.
pub(super) fn dest_of(row: &impl Fields) -> Result<Destination> {
    let thread = row.text("thread")?;
    Ok(Destination {
        platform: platform_of(row.text("platform")?)?,
        chat: row.text("chat")?,
        thread: (!thread.is_empty()).then_some(thread),
    })
}

/// A digest from its stored JSON.
pub(super) fn digest_of(json: &str) -> Result<Digest> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: "digest",
        reason: e.to_string(),
    })
}

/// A digest's stored JSON.
pub(super) fn digest_json(digest: &Digest) -> Result<String> {
    serde_json::to_string(digest).map_err(|e| StoreError::Corrupt {
        what: "digest",
        reason: e.to_string(),
    })
}

/// A tally's stored JSON.
pub(super) fn tally_json(t: &Tally) -> String {
    serde_json::to_string(t).unwrap_or_default()
}

/// A board's state from `mark_id` and `last_ok_at`.
pub(super) fn board_state_of(row: &impl Fields) -> Result<BoardState> {
    Ok(BoardState {
        mark: row.opt_text("mark_id")?.as_deref().and_then(PostId::parse),
        last_ok_at: row.opt_int("last_ok_at")?,
    })
}

/// A pending post (`pending_posts` columns).
fn pending_of(row: &impl Fields) -> Result<PendingPost> {
    Ok(PendingPost {
        board: board_of(row.text("board")?)?,
        id: post_id_of(row.text("post_id")?, "pending post id")?,
        title: row.text("title")?,
        author: row.text("author")?,
        marker: row.text("marker")?,
        first_seen_at: row.int("first_seen_at")?,
        attempts: small(row.int("attempts")?),
        next_attempt_at: row.int("next_attempt_at")?,
        last_error: row.text("last_error")?,
    })
}

/// Rows of `pending_posts`, oldest post id first.
pub(super) fn pending_posts_of<R: Fields>(rows: &[R]) -> Result<Vec<PendingPost>> {
    let mut posts = rows.iter().map(pending_of).collect::<Result<Vec<_>>>()?;
    posts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(posts)
}

/// A tracked post ([`TRACKED_COLUMNS`]).
pub(super) fn tracked_of(row: &impl Fields) -> Result<TrackedPost> {
    Ok(TrackedPost {
        board: board_of(row.text("board")?)?,
        id: post_id_of(row.text("post_id")?, "post id")?,
        relayed: row.flag("relayed")?,
        threshold: row.opt_int("threshold")?.map(small),
        hot: row.flag("hot")?,
        marker: row.text("marker")?,
        tally: row
            .opt_text("tally")?
            .and_then(|j| serde_json::from_str(&j).ok()),
        until_at: row.int("until_at")?,
        next_check_at: row.int("next_check_at")?,
        step_secs: row.int("step_secs")?,
        fetch_due: row.flag("fetch_due")?,
    })
}

/// Subscriptions from rows of [`SUBSCRIPTION_COLUMNS`], in row order. A
/// row whose board or filter words no longer parse (written by hand, or
/// under older rules) is logged and left out, so one bad row does not stop
/// the deliveries of every other subscription.
pub(super) fn subscriptions_of<R: Fields>(rows: &[R]) -> Result<Vec<Subscription>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.int("local_id")?;
        let dest = dest_of(row)?;
        let (board, words) = (row.text("board")?, row.text("filter")?);
        let Some(board) = Board::parse(&board) else {
            tracing::error!(chat = %dest, id, board = %board, "stored subscription names no valid board; skipped");
            continue;
        };
        let filter = match Filter::parse_str(&words) {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(chat = %dest, id, error = %e, "stored filter does not parse; subscription skipped");
                continue;
            }
        };
        out.push(Subscription {
            id,
            dest,
            board,
            filter,
            paused: row.flag("paused")?,
        });
    }
    Ok(out)
}

/// A sent message (destination columns and `message_id`).
/// A leaderboard message from a row of `leaderboards`.
pub(super) fn leaderboard_of(row: &impl Fields) -> Result<LeaderboardMessage> {
    Ok(LeaderboardMessage {
        dest: dest_of(row)?,
        board: board_of(row.text("board")?)?,
        words: row.text("words")?,
        day: row.text("day")?,
        message_id: Some(row.text("message_id")?).filter(|m| !m.is_empty()),
        shown: row.text("shown")?,
        edited_at: row.int("edited_at")?,
        is_final: row.flag("final")?,
    })
}

pub(super) fn sent_message_of(row: &impl Fields) -> Result<SentMessage> {
    Ok(SentMessage {
        dest: dest_of(row)?,
        message_id: row.text("message_id")?,
    })
}

/// The digest an outbox row delivers: its post's kept digest, which must
/// be there and readable.
pub(super) fn kept_digest(json: Option<String>) -> Result<Digest> {
    let json = json.ok_or_else(|| StoreError::Corrupt {
        what: "digest",
        reason: "its post's digest is missing".into(),
    })?;
    digest_of(&json)
}

/// A claimed outbox row (`id`, destination, `digest`, `attempts`,
/// `created_at`) carrying `claim`.
pub(super) fn outbox_row_of(row: &impl Fields, claim: String) -> Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.int("id")?,
        dest: dest_of(row)?,
        digest: kept_digest(row.opt_text("digest")?)?,
        attempts: small(row.int("attempts")?),
        created_at: row.int("created_at")?,
        claim,
    })
}

/// The edits to make from rows of due sent messages (oldest first): at
/// most one per destination, none for a `busy` one, at most `limit`.
pub(super) fn edit_jobs<R: Fields>(
    rows: &[R],
    busy: &[Destination],
    limit: usize,
) -> Result<Vec<EditJob>> {
    let mut out: Vec<EditJob> = Vec::new();
    for row in rows {
        let dest = dest_of(row)?;
        if busy.contains(&dest) || out.iter().any(|j| j.dest == dest) {
            continue;
        }
        out.push(EditJob {
            dest,
            message_id: row.text("message_id")?,
            digest: digest_of(&row.text("digest")?)?,
            deleted: row.flag("post_deleted")?,
        });
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smallest_free_id_fills_gaps() {
        assert_eq!(smallest_free_id(&[]), 1);
        assert_eq!(smallest_free_id(&[1, 2, 4]), 3);
        assert_eq!(smallest_free_id(&[2, 3]), 1);
    }
}
