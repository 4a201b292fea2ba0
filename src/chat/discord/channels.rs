//! What the Discord sink knows of each channel it posts to: its kind (a
//! text channel, an announcement channel, a forum) and, for a forum, its
//! server and tags. Read with `GET /channels/{id}` (serenity's
//! `Http::get_channel`) and kept for an hour: a server can turn a text
//! channel into an announcement channel and back, and edit a forum's tags.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serenity::all::{Channel, ChannelType, ForumTagId, GuildId};
use tokio::time::Instant;

/// How long a channel's kind is trusted before it is read again.
const KEPT: Duration = Duration::from_secs(3600);
/// Channels remembered at most (then all are forgotten and read again).
const KNOWN_MAX: usize = 50_000;

/// How a channel takes our digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A message (text channels, threads, DMs, anything not below).
    Message,
    /// A message, then published (crossposted) to following servers.
    Announcement,
    /// One forum post (thread) per PTT post.
    Forum(Forum),
}

/// A forum channel (type 15) as the sink uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forum {
    /// Its server, whose active threads are searched before a create.
    pub guild: GuildId,
    /// Its tags that anyone who may post can apply: name → id. A
    /// moderated tag needs Manage Threads, which the bot is not asked for
    /// (applying one would be refused with 403, taken for "no access"), so
    /// it is left out: such a post goes untagged.
    pub tags: Vec<(String, ForumTagId)>,
}

impl Forum {
    /// The tag whose name equals the PTT tag (`新聞`), if the forum has
    /// one. Names compare exactly, after trimming spaces.
    pub fn tag_for(&self, ptt_tag: &str) -> Option<ForumTagId> {
        let want = ptt_tag.trim();
        if want.is_empty() {
            return None;
        }
        self.tags
            .iter()
            .find(|(name, _)| name.trim() == want)
            .map(|(_, id)| *id)
    }
}

impl Kind {
    /// The kind of a channel as `GET /channels/{id}` answers it.
    pub fn of(channel: &Channel) -> Kind {
        let Channel::Guild(g) = channel else {
            return Kind::Message;
        };
        match g.kind {
            ChannelType::News => Kind::Announcement,
            ChannelType::Forum => Kind::Forum(Forum {
                guild: g.guild_id,
                tags: g
                    .available_tags
                    .iter()
                    .filter(|t| !t.moderated)
                    .map(|t| (t.name.clone(), t.id))
                    .collect(),
            }),
            _ => Kind::Message,
        }
    }
}

/// Channel id → its kind and when it was read.
#[derive(Debug, Default)]
pub struct Channels {
    known: Mutex<HashMap<String, (Arc<Kind>, Instant)>>,
}

impl Channels {
    /// A channel's kind, if read within the hour.
    pub fn get(&self, channel: &str) -> Option<Arc<Kind>> {
        let known = lock(&self.known);
        let (kind, at) = known.get(channel)?;
        (at.elapsed() < KEPT).then(|| Arc::clone(kind))
    }

    /// Records a channel's kind, read just now.
    pub fn set(&self, channel: &str, kind: Kind) -> Arc<Kind> {
        let kind = Arc::new(kind);
        let mut known = lock(&self.known);
        if known.len() >= KNOWN_MAX {
            known.clear();
        }
        known.insert(channel.to_owned(), (Arc::clone(&kind), Instant::now()));
        kind
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn kinds_are_kept_for_an_hour_and_tags_match_by_name() {
        let c = Channels::default();
        assert_eq!(c.get("1"), None);
        let forum = Forum {
            guild: GuildId::new(9),
            tags: vec![
                ("公告".into(), ForumTagId::new(3)),
                (" 新聞 ".into(), ForumTagId::new(4)),
            ],
        };
        assert_eq!(forum.tag_for("新聞"), Some(ForumTagId::new(4)));
        assert_eq!(forum.tag_for("新聞稿"), None);
        assert_eq!(forum.tag_for(""), None);
        c.set("1", Kind::Forum(forum));
        assert!(matches!(c.get("1").as_deref(), Some(Kind::Forum(_))));
        tokio::time::advance(KEPT).await;
        assert_eq!(c.get("1"), None, "read again after an hour");
    }

    #[test]
    fn a_moderated_tag_is_never_applied() {
        let channel: Channel = serde_json::from_value(serde_json::json!({
            "id": "20", "type": 15, "guild_id": "9", "name": "新聞區",
            "position": 0, "permission_overwrites": [], "nsfw": false,
            "available_tags": [
                {"id": "3", "name": "新聞", "moderated": true, "emoji_id": null, "emoji_name": null},
                {"id": "4", "name": "標的", "moderated": false, "emoji_id": null, "emoji_name": null}
            ]
        }))
        .expect("a forum channel");
        let Kind::Forum(forum) = Kind::of(&channel) else {
            panic!("a forum");
        };
        assert_eq!(
            forum.tag_for("新聞"),
            None,
            "moderated: needs Manage Threads"
        );
        assert_eq!(forum.tag_for("標的"), Some(ForumTagId::new(4)));
    }
}
