//! Forum channels: one forum post (a thread with a starter message) per
//! PTT post, `POST /channels/{forum}/threads` with `name` (the PTT title
//! cut to 100 characters), `message` (the digest, as any other message)
//! and `applied_tags` (the forum tag named like the PTT tag).
//!
//! The starter message of a forum post lives in the thread, and its id is
//! the thread's: the id we keep for a forum delivery is the thread id, and
//! a tally edit is `PATCH /channels/{thread}/messages/{thread}`.
//!
//! # No second thread for one post
//!
//! A message create carries our nonce with `enforce_nonce`, so Discord
//! itself drops a repeat. A forum create has no nonce, and the outbox may
//! repeat one that Discord carried out: the answer was lost (a timeout, a
//! cut connection, an unreadable body), or the process stopped between
//! Discord's answer and the store's record, or another replica took the
//! row over. Recording the thread before the next attempt cannot cover
//! those: the thread id is exactly what was lost. So every forum create is
//! preceded by a look for the thread it would make: the server's active
//! threads (`GET /guilds/{guild}/threads/active`, one request), those of
//! this forum opened by this bot under the same name, and of these (rarely
//! any: two posts with one title) the one whose starter message links to
//! this PTT post (`GET /channels/{thread}/messages/{thread}`). If there is
//! one, it is the delivery, and nothing is created.
//!
//! The look is made before every create, not only after a failed attempt,
//! because the outbox cannot say whether a row was tried before (a crash
//! mid-send leaves no mark): Discord's thread list is the one record that
//! survives every failure. It costs one request per forum post. It cannot
//! see a thread that was archived (closed by a moderator, or idle past the
//! forum's auto-archive time, an hour at least) before the repeat; a repeat
//! comes within the outbox's backoff (at most 10 minutes) unless the forum
//! itself was unreachable meanwhile.

use serenity::all::{ChannelId, GuildChannel, MessageId, UserId};

use crate::digest::Digest;
use crate::text::truncate_chars;

/// Discord's limit for a thread name, in characters.
pub const MAX_NAME: usize = 100;
/// Same-named threads whose starter message is read at most, per create.
pub const MAX_CANDIDATES: usize = 5;

/// The forum post's name: the PTT title (the post id when it has none),
/// cut to 100 characters.
pub fn thread_name(digest: &Digest) -> String {
    let title = digest.display_title().trim();
    let title = if title.is_empty() {
        digest.id.as_str()
    } else {
        title
    };
    truncate_chars(title, MAX_NAME)
}

/// The threads that may be an earlier create of this post: in `forum`,
/// opened by `me`, named `name`; at most [`MAX_CANDIDATES`].
pub fn candidates<'a>(
    threads: &'a [GuildChannel],
    forum: ChannelId,
    me: UserId,
    name: &str,
) -> Vec<&'a GuildChannel> {
    threads
        .iter()
        .filter(|t| t.parent_id == Some(forum) && t.owner_id == Some(me) && t.name == name)
        .take(MAX_CANDIDATES)
        .collect()
}

/// The starter message of a forum post: in the thread, with the thread's
/// id.
pub fn starter(thread: ChannelId) -> (ChannelId, MessageId) {
    (thread, MessageId::new(thread.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_title_cut_to_100_characters() {
        let mut d: Digest = serde_json::from_value(serde_json::json!({
            "board": "Stock", "id": "M.1.A.1",
            "url": "https://www.ptt.cc/bbs/Stock/M.1.A.1.html",
            "title": null, "tag": "新聞", "is_reply": false, "is_forward": false,
            "author": null, "posted_at": null, "original_title": null,
            "source_url": null, "published": null, "reporter": null, "excerpt": null,
            "tally": {"push": 0, "boo": 0, "neutral": 0, "net": 0, "total": 0},
            "stocks": []
        }))
        .unwrap();
        d.title = Some(format!("[新聞] {}", "長".repeat(200)));
        let name = thread_name(&d);
        assert_eq!(name.chars().count(), MAX_NAME);
        assert!(name.starts_with("[新聞] 長"), "{name}");
        assert!(name.len() > MAX_NAME, "characters, not bytes");
        d.title = Some("  ".into());
        assert_eq!(thread_name(&d), "M.1.A.1");
        d.title = Some("[新聞] 短".into());
        assert_eq!(thread_name(&d), "[新聞] 短");
    }
}
