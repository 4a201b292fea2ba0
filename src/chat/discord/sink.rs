//! The Discord [`ChatSink`]: REST only (every replica runs it). One attempt
//! per call, paced by our own limiter, classified for the outbox.

use std::sync::Arc;

use async_trait::async_trait;
use serenity::all::{ChannelId, MessageFlags, MessageId, Nonce, Timestamp, UserId};
use serenity::builder::{
    CreateAllowedMentions, CreateEmbed, CreateEmbedFooter, CreateForumPost, CreateMessage,
    EditMessage,
};
use serenity::http::Http;
use serenity::http::HttpError;
use tokio::sync::OnceCell;

use super::channels::{Channels, Forum, Kind};
use super::errors::{Failure, Redactor, Strikes, classify, outcome};
use super::forum;
use super::publish::Publishing;
use crate::chat::discord::render::{self, Embed, embed, embed_with_status, nonce, reply_content};
use crate::chat::pacing::Pacer;
use crate::chat::{ChatSink, EditKind, SendOutcome};
use crate::commands::Reply;
use crate::commands::i18n::DIGEST;
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::digest::ranking::Leaderboard;
use crate::filter::DeliveryOptions;
use crate::telemetry::metrics::metrics;
use crate::text::truncate_chars;

/// Discord's limit for a message's `content`.
pub const MAX_CONTENT: usize = 2000;

/// Converts our rendered embed into serenity's builder (the content is
/// decided by [`crate::chat::discord::render`], not here).
pub fn to_create_embed(e: &Embed) -> CreateEmbed {
    let mut c = CreateEmbed::new()
        .title(e.title.clone())
        .url(e.url.clone())
        .colour(e.color)
        .footer(CreateEmbedFooter::new(e.footer.text.clone()));
    if !e.description.is_empty() {
        c = c.description(e.description.clone());
    }
    for f in &e.fields {
        c = c.field(f.name.clone(), f.value.clone(), f.inline);
    }
    if let Some(ts) = e
        .timestamp
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
    {
        c = c.timestamp(ts);
    }
    c
}

/// `allowed_mentions` that parses nothing.
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A Discord snowflake from its decimal form.
pub fn snowflake(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().filter(|n| *n != 0)
}

/// Sends digests, tally edits and replies through Discord's REST API.
pub struct DiscordSink {
    http: Arc<Http>,
    pacer: Arc<Pacer>,
    strikes: Strikes,
    redactor: Redactor,
    publishing: Publishing,
    channels: Channels,
    me: OnceCell<UserId>,
}

/// The pacing key of the lookups made for a channel (its kind, a forum's
/// threads): counted in the overall budget, apart from its messages.
fn lookup_key(chat: &str) -> String {
    format!("{chat}/lookup")
}

/// Discord's code for "This message has already been crossposted".
const ALREADY_CROSSPOSTED: isize = 40033;

impl DiscordSink {
    /// A sink over an HTTP client, sharing the platform's pacer.
    pub fn new(http: Arc<Http>, pacer: Arc<Pacer>, redactor: Redactor) -> Self {
        DiscordSink {
            http,
            pacer,
            strikes: Strikes::default(),
            redactor,
            publishing: Publishing::default(),
            channels: Channels::default(),
            me: OnceCell::new(),
        }
    }

    /// How a channel takes our digests (text, announcement, forum),
    /// asked of Discord (`GET /channels/{id}`) once an hour per channel;
    /// paced as a lookup (its own key, counted in the overall budget).
    async fn kind(&self, chat: &str, channel: ChannelId) -> Result<Arc<Kind>, Failure> {
        if let Some(known) = self.channels.get(chat) {
            return Ok(known);
        }
        self.pacer.wait(&lookup_key(chat)).await;
        match self.http.get_channel(channel).await {
            Ok(c) => Ok(self.channels.set(chat, Kind::of(&c))),
            Err(e) => {
                let why = classify(&e, &self.redactor);
                tracing::debug!(chat, reason = ?why, "cannot read the channel's type");
                Err(why)
            }
        }
    }

    /// This bot's user id (the owner of the forum posts it opens), asked
    /// once (`GET /users/@me`).
    async fn me(&self) -> Result<UserId, Failure> {
        self.me
            .get_or_try_init(|| async {
                self.http
                    .get_current_user()
                    .await
                    .map(|u| u.id)
                    .map_err(|e| classify(&e, &self.redactor))
            })
            .await
            .copied()
    }

    /// The forum post an earlier create of this post opened, if any (see
    /// [`super::forum`]: the server's active threads, then the starter
    /// message of each same-named one of ours in this forum).
    async fn earlier_post(
        &self,
        chat: &str,
        forum_id: ChannelId,
        forum: &Forum,
        name: &str,
        digest: &Digest,
    ) -> Result<Option<ChannelId>, Failure> {
        let me = self.me().await?;
        self.pacer.wait(&lookup_key(chat)).await;
        let active = forum
            .guild
            .get_active_threads(&*self.http)
            .await
            .map_err(|e| classify(&e, &self.redactor))?;
        for thread in forum::candidates(&active.threads, forum_id, me, name) {
            let (channel, message) = forum::starter(thread.id);
            self.pacer.wait(&lookup_key(chat)).await;
            match channel.message(&*self.http, message).await {
                Ok(m)
                    if m.embeds
                        .iter()
                        .any(|e| e.url.as_deref() == Some(&digest.url)) =>
                {
                    return Ok(Some(thread.id));
                }
                Ok(_) => {}
                // A starter message (or post) deleted meanwhile is not ours
                // to find.
                Err(e) => match classify(&e, &self.redactor) {
                    Failure::Rejected(_) | Failure::Gone(_) => {}
                    f => return Err(f),
                },
            }
        }
        Ok(None)
    }

    /// One forum post for a PTT post, unless an earlier create opened it.
    async fn send_forum(
        &self,
        chat: &str,
        forum_id: ChannelId,
        forum: &Forum,
        digest: &Digest,
        message: CreateMessage,
    ) -> SendOutcome {
        let name = forum::thread_name(digest);
        match self
            .earlier_post(chat, forum_id, forum, &name, digest)
            .await
        {
            Ok(Some(thread)) => {
                tracing::info!(chat, post = %digest.id, thread = %thread, "the forum post was opened by an earlier attempt; not opening another");
                return self.succeeded(chat, thread.to_string());
            }
            Ok(None) => {}
            Err(f) => return self.failed_with(chat, f),
        }
        let mut post = CreateForumPost::new(name, message);
        if let Some(tag) = digest.tag.as_deref().and_then(|t| forum.tag_for(t)) {
            post = post.add_applied_tag(tag);
        }
        self.pacer.wait(chat).await;
        match forum_id.create_forum_post(&*self.http, post).await {
            Ok(thread) => self.succeeded(chat, thread.id.to_string()),
            Err(e) => match classify(&e, &self.redactor) {
                // The post may exist; the retry looks for it first.
                Failure::Accepted(r) => {
                    SendOutcome::Transient(format!("Discord's answer could not be read: {r}"))
                }
                f => self.failed_with(chat, f),
            },
        }
    }

    /// Publishes (crossposts) a message just sent to an announcement
    /// channel, within the channel's budget of 10 an hour; one over it, or
    /// one Discord refuses, stays unpublished and is counted
    /// (`ptt_relay_publish_skipped_total`).
    async fn publish(&self, chat: &str, channel: ChannelId, message: MessageId) {
        let platform = super::ID.as_str();
        if !self.publishing.take_publish(chat) {
            metrics().publish_skipped(platform);
            tracing::info!(
                chat,
                "the announcement channel's publishes of this hour (10) are used up; the message stays unpublished"
            );
            return;
        }
        match channel.crosspost(&*self.http, message).await {
            Ok(_) => self.publishing.published(&message.to_string()),
            // A send retried after a lost answer: published the first time.
            Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(r)))
                if r.error.code == ALREADY_CROSSPOSTED =>
            {
                self.publishing.published(&message.to_string());
            }
            Err(e) => {
                metrics().publish_skipped(platform);
                let why = classify(&e, &self.redactor);
                tracing::warn!(chat, reason = ?why, "cannot publish a message of an announcement channel; it stays unpublished");
            }
        }
    }

    /// One paced edit of message `mid` sent to `channel`. A forum post's
    /// starter message lives in its thread, whose id it shares (the id
    /// kept for a forum delivery).
    async fn edit_in(
        &self,
        chat: &str,
        channel: ChannelId,
        mid: u64,
        edit: EditMessage,
    ) -> SendOutcome {
        let forum = match self.kind(chat, channel).await {
            Ok(k) => matches!(*k, Kind::Forum(_)),
            Err(f) => return self.failed_with(chat, f),
        };
        let (in_channel, message) = if forum {
            forum::starter(ChannelId::new(mid))
        } else {
            (channel, MessageId::new(mid))
        };
        self.pacer.wait(chat).await;
        match in_channel.edit_message(&*self.http, message, edit).await {
            Ok(m) => self.succeeded(chat, m.id.to_string()),
            Err(e) => match classify(&e, &self.redactor) {
                // A forum post deleted by a moderator (Unknown Channel):
                // that message is gone, the forum is not.
                Failure::Gone(r) if forum => {
                    SendOutcome::Rejected(format!("the forum post is gone or closed to us: {r}"))
                }
                f => self.failed_with(chat, f),
            },
        }
    }

    /// The channel a destination posts to (a thread is its own channel).
    fn channel(dest: &Destination) -> Result<(String, ChannelId), SendOutcome> {
        let chat = dest.thread.as_deref().unwrap_or(&dest.chat);
        match snowflake(chat) {
            Some(id) => Ok((chat.to_owned(), ChannelId::new(id))),
            None => Err(SendOutcome::Rejected(format!(
                "not a Discord channel id: {chat:?}"
            ))),
        }
    }

    fn succeeded(&self, chat: &str, message_id: String) -> SendOutcome {
        self.strikes.clear(chat);
        SendOutcome::Sent { message_id }
    }

    fn failed(&self, chat: &str, err: &serenity::Error) -> SendOutcome {
        self.failed_with(chat, classify(err, &self.redactor))
    }

    fn failed_with(&self, chat: &str, failure: Failure) -> SendOutcome {
        let out = outcome(failure, chat, &self.strikes);
        if let SendOutcome::RateLimited { retry_after } = &out {
            self.pacer.hold_chat(chat, *retry_after);
        }
        out
    }
}

#[async_trait]
impl ChatSink for DiscordSink {
    fn platform(&self) -> Platform {
        super::ID
    }

    async fn send(
        &self,
        dest: &Destination,
        digest: &Digest,
        opts: &DeliveryOptions,
    ) -> SendOutcome {
        let (chat, channel) = match Self::channel(dest) {
            Ok(c) => c,
            Err(out) => return out,
        };
        let kind = match self.kind(&chat, channel).await {
            Ok(k) => k,
            Err(f) => return self.failed_with(&chat, f),
        };
        let mut message = CreateMessage::new()
            .embed(to_create_embed(&embed(digest)))
            .allowed_mentions(no_mentions());
        if opts.silent {
            // `flags` 4096: delivered without a push or desktop
            // notification. (Discord has no per-message preview choice
            // for embeds; `preview:` is a Telegram option.)
            message = message.flags(MessageFlags::SUPPRESS_NOTIFICATIONS);
        }
        if let Kind::Forum(forum) = &*kind {
            return self
                .send_forum(&chat, channel, forum, digest, message)
                .await;
        }
        let message = message
            .nonce(Nonce::String(nonce(&digest.id, &dest.to_string())))
            .enforce_nonce(true);
        self.pacer.wait(&chat).await;
        match channel.send_message(&*self.http, message).await {
            Ok(m) => {
                let out = self.succeeded(&chat, m.id.to_string());
                if *kind == Kind::Announcement {
                    self.publish(&chat, channel, m.id).await;
                }
                out
            }
            Err(e) => match classify(&e, &self.redactor) {
                // A 2xx whose body cannot be read may come from Discord
                // (the message exists) or from something in front of it
                // (it does not). The create carries our nonce with
                // enforce_nonce, so a retry cannot post it twice, and
                // answers with the message (and its id) if it exists.
                Failure::Accepted(r) => {
                    SendOutcome::Transient(format!("Discord's answer could not be read: {r}"))
                }
                f => self.failed_with(&chat, f),
            },
        }
    }

    async fn wait_turn(&self, dest: &Destination) {
        if let Ok((chat, _)) = Self::channel(dest) {
            self.pacer.take_turn(&chat).await;
        }
    }

    async fn edit(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
        _: &DeliveryOptions,
    ) -> SendOutcome {
        let (chat, channel) = match Self::channel(dest) {
            Ok(c) => c,
            Err(out) => return out,
        };
        let Some(mid) = snowflake(message_id) else {
            return SendOutcome::Rejected(format!("not a Discord message id: {message_id:?}"));
        };
        let status = match kind {
            EditKind::Tally => None,
            EditKind::Deleted => Some(DIGEST.deleted_title),
        };
        // Every edit of a published message reaches every following
        // server again: at most 3 tally edits an hour. The one that waits
        // reads the post's tally when it goes, so it carries every change
        // made meanwhile (coalesced). The deleted mark always goes.
        if kind == EditKind::Tally
            && let Err(wait) = self.publishing.take_edit(message_id)
        {
            return SendOutcome::RateLimited { retry_after: wait };
        }
        let edit = EditMessage::new()
            .embed(to_create_embed(&embed_with_status(digest, status)))
            .allowed_mentions(no_mentions());
        self.edit_in(&chat, channel, mid, edit).await
    }

    async fn post_leaderboard(&self, dest: &Destination, board: &Leaderboard) -> SendOutcome {
        let (chat, channel) = match Self::channel(dest) {
            Ok(c) => c,
            Err(out) => return out,
        };
        let kind = match self.kind(&chat, channel).await {
            Ok(k) => k,
            Err(f) => return self.failed_with(&chat, f),
        };
        let mut message = CreateMessage::new()
            .content(render::leaderboard(board))
            .allowed_mentions(no_mentions());
        if board.silent {
            message = message.flags(MessageFlags::SUPPRESS_NOTIFICATIONS);
        }
        self.pacer.wait(&chat).await;
        let made = if let Kind::Forum(_) = &*kind {
            // A forum takes it as a post of its own (named by its board
            // and day); its id is the thread's, as for a digest.
            let name = truncate_chars(&board.name, forum::MAX_NAME);
            channel
                .create_forum_post(&*self.http, CreateForumPost::new(name, message))
                .await
                .map(|thread| thread.id.to_string())
        } else {
            // Not published in an announcement channel: its edits would
            // reach every following server again.
            let message = message
                .nonce(Nonce::String(nonce(&board.key, &dest.to_string())))
                .enforce_nonce(true);
            channel
                .send_message(&*self.http, message)
                .await
                .map(|m| m.id.to_string())
        };
        match made {
            Ok(id) => self.succeeded(&chat, id),
            Err(e) => match classify(&e, &self.redactor) {
                // As for a digest: the nonce makes the retry safe, and it
                // answers with the message's id (a forum post has no
                // nonce: taken as sent, it is not posted twice).
                Failure::Accepted(r) if !matches!(*kind, Kind::Forum(_)) => {
                    SendOutcome::Transient(format!("Discord's answer could not be read: {r}"))
                }
                f => self.failed_with(&chat, f),
            },
        }
    }

    async fn edit_leaderboard(
        &self,
        dest: &Destination,
        message_id: &str,
        board: &Leaderboard,
    ) -> SendOutcome {
        let (chat, channel) = match Self::channel(dest) {
            Ok(c) => c,
            Err(out) => return out,
        };
        let Some(mid) = snowflake(message_id) else {
            return SendOutcome::Rejected(format!("not a Discord message id: {message_id:?}"));
        };
        let edit = EditMessage::new()
            .content(render::leaderboard(board))
            .allowed_mentions(no_mentions());
        self.edit_in(&chat, channel, mid, edit).await
    }

    async fn answer(&self, dest: &Destination, reply: &Reply) -> SendOutcome {
        let (chat, channel) = match Self::channel(dest) {
            Ok(c) => c,
            Err(out) => return out,
        };
        let message = CreateMessage::new()
            .content(reply_content(&reply.text))
            .allowed_mentions(no_mentions());
        self.pacer.wait(&chat).await;
        match channel.send_message(&*self.http, message).await {
            Ok(m) => self.succeeded(&chat, m.id.to_string()),
            Err(e) => self.failed(&chat, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::discord::render::{Field, Footer};

    #[test]
    fn our_embed_becomes_the_same_json_through_serenity() {
        let e = Embed {
            title: "[新聞] 標題".into(),
            url: "https://www.ptt.cc/bbs/Stock/M.1.A.1.html".into(),
            description: "**headline**\n\nexcerpt".into(),
            fields: vec![Field {
                name: "推噓".into(),
                value: "推 1 · 噓 0 · → 0".into(),
                inline: false,
            }],
            footer: Footer {
                text: "Stock · someid".into(),
            },
            timestamp: Some("2026-01-28T13:25:57+08:00".into()),
            color: 0x2E_CC_71,
        };
        let v = serde_json::to_value(to_create_embed(&e)).unwrap();
        assert_eq!(v["title"], e.title);
        assert_eq!(v["url"], e.url);
        assert_eq!(v["description"], e.description);
        assert_eq!(v["color"], 0x2E_CC_71);
        assert_eq!(v["footer"]["text"], "Stock · someid");
        assert_eq!(v["fields"][0]["name"], "推噓");
        assert_eq!(v["fields"][0]["value"], "推 1 · 噓 0 · → 0");
        assert_eq!(v["timestamp"], "2026-01-28T13:25:57+08:00");
        let none = serde_json::to_value(no_mentions()).unwrap();
        assert_eq!(none["parse"], serde_json::json!([]));
    }

    #[test]
    fn ids_must_be_snowflakes() {
        assert_eq!(snowflake("123"), Some(123));
        assert_eq!(snowflake("0"), None);
        assert_eq!(snowflake("-5"), None);
        assert_eq!(snowflake("stdout"), None);
    }
}
