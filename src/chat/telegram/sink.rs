//! Deliveries, tally edits and command replies: one paced attempt each,
//! classified into a [`SendOutcome`].

use std::sync::Arc;

use async_trait::async_trait;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, LinkPreviewOptions, Message, MessageId, ParseMode, ThreadId};

use super::errors::Failure;
use super::render::{MAX_TEXT_UTF16, escape, leaderboard, render, render_with_status};
use super::{Call, Shared, no_preview};
use crate::chat::{ChatSink, EditKind, SendOutcome};
use crate::commands::i18n::DIGEST;
use crate::commands::{Membership, Reply};
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::digest::ranking::Leaderboard;
use crate::filter::DeliveryOptions;
use crate::text::truncate_utf16;

/// A command reply waits out a 429 this long at most.
const REPLY_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// The [`ChatSink`] of Telegram.
pub struct TelegramSink {
    shared: Arc<Shared>,
}

impl TelegramSink {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        TelegramSink { shared }
    }
}

/// Where a message goes, parsed from a [`Destination`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    pub chat: ChatId,
    pub thread: Option<ThreadId>,
}

impl Target {
    /// The chat id and topic of a destination; `None` when malformed.
    pub fn of(dest: &Destination) -> Option<Target> {
        let chat = ChatId(dest.chat.parse().ok()?);
        let thread = match &dest.thread {
            None => None,
            Some(t) => Some(ThreadId(MessageId(t.parse().ok()?))),
        };
        Some(Target { chat, thread })
    }
}

impl Shared {
    /// One paced sendMessage in HTML parse mode; `reply` when it answers a
    /// command (a 429 then holds only this chat); `silent` sends it with
    /// `disable_notification`.
    pub(super) async fn send_html(
        &self,
        to: Target,
        html: String,
        preview: LinkPreviewOptions,
        reply: bool,
        silent: bool,
    ) -> Result<Message, Failure> {
        let mut req = self
            .bot
            .send_message(to.chat, html)
            .parse_mode(ParseMode::Html)
            .link_preview_options(preview);
        if silent {
            req = req.disable_notification(true);
        }
        if let Some(t) = to.thread {
            req = req.message_thread_id(t);
        }
        let chat = to.chat.0.to_string();
        let what = if reply {
            Call::Command(&chat)
        } else {
            Call::Delivery(&chat)
        };
        self.paced(what, async move { req.await }).await
    }

    /// Sends a command reply (plain text, escaped) into a destination. A
    /// group that became a supergroup is moved and the reply sent there; a
    /// 429 of at most 30 s is waited out (the pacer holds the chat) up to
    /// `retries` times, since no outbox row stands behind a reply. (Longer
    /// waits would keep the chat's update unconfirmed, and with it every
    /// later one, for that long.)
    pub(super) async fn send_reply(
        &self,
        dest: &Destination,
        reply: &Reply,
        retries: u32,
    ) -> SendOutcome {
        let Some(mut to) = Target::of(dest) else {
            return SendOutcome::Rejected(format!("malformed Telegram destination {dest}"));
        };
        let text = truncate_utf16(reply.text.trim_end(), MAX_TEXT_UTF16);
        if text.trim().is_empty() {
            return SendOutcome::Rejected("empty reply".into());
        }
        let html = escape(&text);
        let mut left = retries;
        let mut migrated = false;
        loop {
            match self
                .send_html(to, html.clone(), no_preview(), true, false)
                .await
            {
                Ok(m) => return sent(&m),
                Err(Failure::Migrated(new)) if !migrated => {
                    self.migrate(to.chat.0, new).await;
                    to.chat = ChatId(new);
                    migrated = true;
                }
                Err(Failure::RetryAfter(d)) if left > 0 && d <= REPLY_WAIT_MAX => left -= 1,
                Err(f) => return self.outcome(dest, f).await,
            }
        }
    }

    /// One paced editMessageText in HTML parse mode; a message already
    /// showing `html` (or an answer that cannot be read) counts as edited.
    async fn edit_html(
        &self,
        dest: &Destination,
        message_id: &str,
        html: String,
        preview: LinkPreviewOptions,
    ) -> SendOutcome {
        let (Some(to), Ok(id)) = (Target::of(dest), message_id.parse::<i32>()) else {
            return SendOutcome::Rejected(format!(
                "malformed Telegram message {dest} #{message_id}"
            ));
        };
        let req = self
            .bot
            .edit_message_text(to.chat, MessageId(id), html)
            .parse_mode(ParseMode::Html)
            .link_preview_options(preview);
        let unchanged = SendOutcome::Sent {
            message_id: message_id.to_owned(),
        };
        match self
            .paced(Call::Delivery(&dest.chat), async move { req.await })
            .await
        {
            Ok(_) | Err(Failure::NotModified | Failure::Accepted(_)) => unchanged,
            Err(f) => self.outcome(dest, f).await,
        }
    }

    /// A failure as the outbox sees it.
    async fn outcome(&self, dest: &Destination, f: Failure) -> SendOutcome {
        match f {
            Failure::RetryAfter(d) => SendOutcome::RateLimited { retry_after: d },
            Failure::Migrated(new) => SendOutcome::Migrated {
                to: new.to_string(),
            },
            Failure::Gone(why) => SendOutcome::DestinationGone(why),
            Failure::Transient(why) => SendOutcome::Transient(why),
            Failure::InvalidToken => {
                SendOutcome::Transient("Telegram refused the bot token (401)".into())
            }
            Failure::Conflict => SendOutcome::Transient("409 Conflict".into()),
            Failure::NotModified => SendOutcome::Rejected("message is not modified".into()),
            Failure::MessageGone(why) | Failure::Rejected(why) => SendOutcome::Rejected(why),
            Failure::Accepted(why) => {
                // Resending would post it twice (Telegram has no
                // idempotency key); without its id it cannot be edited.
                tracing::warn!(chat = %dest, reason = %why, "Telegram took a message but its answer could not be read");
                SendOutcome::Sent {
                    message_id: String::new(),
                }
            }
        }
    }

    /// Reports that a group became a supergroup: the handler moves its
    /// subscriptions, rows and sent messages there.
    pub(super) async fn migrate(&self, from: i64, to: i64) {
        if from == 0 || from == to {
            return;
        }
        let event = Membership::Migrated {
            from: from.to_string(),
            to: to.to_string(),
        };
        self.ctx.handler.membership(super::ID, event).await;
    }
}

fn sent(m: &Message) -> SendOutcome {
    SendOutcome::Sent {
        message_id: m.id.0.to_string(),
    }
}

#[async_trait]
impl ChatSink for TelegramSink {
    fn platform(&self) -> Platform {
        super::ID
    }

    async fn send(
        &self,
        dest: &Destination,
        digest: &Digest,
        opts: &DeliveryOptions,
    ) -> SendOutcome {
        let s = &self.shared;
        let Some(to) = Target::of(dest) else {
            return SendOutcome::Rejected(format!("malformed Telegram destination {dest}"));
        };
        let preview = s.preview_of(opts).options(digest);
        match s
            .send_html(to, render(digest), preview, false, opts.silent)
            .await
        {
            Ok(m) => sent(&m),
            Err(f) => s.outcome(dest, f).await,
        }
    }

    async fn wait_turn(&self, dest: &Destination) {
        // The pacer's key is the chat id as `send_html` spells it.
        if let Some(to) = Target::of(dest) {
            self.shared.pacer.take_turn(&to.chat.0.to_string()).await;
        }
    }

    async fn edit(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
        opts: &DeliveryOptions,
    ) -> SendOutcome {
        let s = &self.shared;
        let status = match kind {
            EditKind::Tally => None,
            EditKind::Deleted => Some(DIGEST.deleted_line),
        };
        let html = render_with_status(digest, status);
        s.edit_html(dest, message_id, html, s.preview_of(opts).options(digest))
            .await
    }

    async fn post_leaderboard(&self, dest: &Destination, board: &Leaderboard) -> SendOutcome {
        let s = &self.shared;
        let Some(to) = Target::of(dest) else {
            return SendOutcome::Rejected(format!("malformed Telegram destination {dest}"));
        };
        match s
            .send_html(to, leaderboard(board), no_preview(), false, board.silent)
            .await
        {
            Ok(m) => sent(&m),
            Err(f) => s.outcome(dest, f).await,
        }
    }

    async fn edit_leaderboard(
        &self,
        dest: &Destination,
        message_id: &str,
        board: &Leaderboard,
    ) -> SendOutcome {
        self.shared
            .edit_html(dest, message_id, leaderboard(board), no_preview())
            .await
    }

    async fn answer(&self, dest: &Destination, reply: &Reply) -> SendOutcome {
        // One attempt, like every sink call.
        self.shared.send_reply(dest, reply, 0).await
    }
}
