//! Membership changes an adapter sees (the bot added to or removed from a
//! chat, a server gone or back, a group that became a supergroup), applied
//! in one place. Adapters never write the store themselves (DESIGN.md,
//! Layout): they report what happened here.

use crate::dest::Platform;
use crate::store::now_secs;

use super::Handler;

/// What changed about the bot's place in a chat or group of chats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Membership {
    /// The bot can post in `chat` again (added back, unblocked): its
    /// deliveries resume.
    Joined {
        /// The chat id.
        chat: String,
    },
    /// The bot can no longer post in `chat` (removed, kicked, blocked):
    /// its deliveries pause, and after `relay.gone_chat_days` its
    /// subscriptions go.
    Left {
        /// The chat id.
        chat: String,
        /// Why, for the log and `/status` (no user text).
        reason: String,
    },
    /// `chat` belongs to `group` (a Discord server), so that the group's
    /// removal or return pauses or resumes it.
    InGroup {
        /// The chat id.
        chat: String,
        /// The group id.
        group: String,
    },
    /// The bot was removed from a whole group: every known chat of it
    /// pauses.
    GroupLeft {
        /// The group id.
        group: String,
        /// Why.
        reason: String,
    },
    /// The bot is back in a group: its chats resume.
    GroupJoined {
        /// The group id.
        group: String,
    },
    /// A chat got a new id (a Telegram group that became a supergroup):
    /// its subscriptions, queued rows and sent-message records move.
    Migrated {
        /// The old chat id.
        from: String,
        /// The new chat id.
        to: String,
    },
}

impl Handler {
    /// Applies a membership change seen on `platform`. Store failures are
    /// logged (ERROR), never returned: the adapter has nothing to do about
    /// them, and the next event or command tries again.
    pub async fn membership(&self, platform: Platform, event: Membership) {
        let store = self.store();
        match event {
            Membership::Joined { chat } => match store.resume_chat(platform, &chat).await {
                Ok(true) => {
                    tracing::info!(%platform, chat, "the bot is back in a chat; resumed");
                    self.destination_resumed();
                }
                Ok(false) => tracing::debug!(%platform, chat, "the bot joined a chat"),
                Err(e) => tracing::error!(%platform, chat, error = %e, "cannot resume a chat"),
            },
            Membership::Left { chat, reason } => {
                match store.pause_chat(platform, &chat, &reason, now_secs()).await {
                    Ok(()) => tracing::info!(%platform, chat, reason, "paused a chat"),
                    Err(e) => tracing::error!(%platform, chat, error = %e, "cannot pause a chat"),
                }
            }
            Membership::InGroup { chat, group } => {
                if let Err(e) = store.set_chat_group(platform, &chat, &group).await {
                    tracing::error!(%platform, chat, group, error = %e, "cannot record a chat's group");
                }
            }
            Membership::GroupLeft { group, reason } => {
                let chats = match store.chats_in_group(platform, &group).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(%platform, group, error = %e, "cannot read a group's chats");
                        return;
                    }
                };
                let now = now_secs();
                for chat in &chats {
                    if let Err(e) = store.pause_chat(platform, chat, &reason, now).await {
                        tracing::error!(%platform, chat, error = %e, "cannot pause a chat");
                    }
                }
                tracing::info!(%platform, group, chats = chats.len(), "removed from a group; its chats are paused");
            }
            Membership::GroupJoined { group } => {
                let chats = match store.chats_in_group(platform, &group).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(%platform, group, error = %e, "cannot read a group's chats");
                        return;
                    }
                };
                let mut resumed = 0;
                for chat in &chats {
                    match store.resume_chat(platform, chat).await {
                        Ok(true) => resumed += 1,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::error!(%platform, chat, error = %e, "cannot resume a chat")
                        }
                    }
                }
                if resumed > 0 {
                    self.destination_resumed();
                    tracing::info!(%platform, group, chats = resumed, "back in a group; its chats are resumed");
                }
            }
            Membership::Migrated { from, to } => {
                if from == to || from.is_empty() || to.is_empty() {
                    return;
                }
                match store.move_chat(platform, &from, &to).await {
                    Ok(()) => {
                        tracing::info!(%platform, from, to, "a chat got a new id (a group became a supergroup); moved it")
                    }
                    Err(e) => {
                        tracing::error!(%platform, from, to, error = %e, "cannot move a chat to its new id")
                    }
                }
            }
        }
    }
}
