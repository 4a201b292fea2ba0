//! A chat sink that records what it was asked to send.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::chat::{ChatSink, EditKind, SendOutcome};
use ptt_relay::commands::Reply;
use ptt_relay::dest::{Destination, Platform};
use ptt_relay::digest::Digest;
use ptt_relay::digest::ranking::Leaderboard;
use ptt_relay::filter::DeliveryOptions;

/// One recorded send.
#[derive(Clone, Debug)]
pub struct Sent {
    pub dest: Destination,
    pub digest: Digest,
    pub opts: DeliveryOptions,
}

/// One recorded edit.
#[derive(Clone, Debug)]
pub struct Edited {
    pub dest: Destination,
    pub message_id: String,
    pub digest: Digest,
    pub kind: EditKind,
}

/// One recorded leaderboard post (`message_id` of the post) or edit.
#[derive(Clone, Debug)]
pub struct Board {
    pub dest: Destination,
    pub message_id: String,
    pub edit: bool,
    pub board: Leaderboard,
}

/// Records sends and edits; can be told to fail.
#[derive(Clone, Default)]
pub struct RecordingSink {
    pub sent: Arc<Mutex<Vec<Sent>>>,
    pub edits: Arc<Mutex<Vec<Edited>>>,
    pub boards: Arc<Mutex<Vec<Board>>>,
    pub fail_with: Arc<Mutex<Option<SendOutcome>>>,
    pub delay: Arc<Mutex<Duration>>,
}

impl RecordingSink {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    pub fn edits(&self) -> Vec<Edited> {
        self.edits.lock().unwrap().clone()
    }

    /// Leaderboard posts and edits, in order.
    pub fn boards(&self) -> Vec<Board> {
        self.boards.lock().unwrap().clone()
    }

    /// Post ids sent to a chat, in order.
    pub fn ids_for(&self, chat: &str) -> Vec<String> {
        self.sent()
            .into_iter()
            .filter(|s| s.dest.chat == chat)
            .map(|s| s.digest.id)
            .collect()
    }
}

#[async_trait]
impl ChatSink for RecordingSink {
    fn platform(&self) -> Platform {
        TELEGRAM
    }

    async fn send(
        &self,
        dest: &Destination,
        digest: &Digest,
        opts: &DeliveryOptions,
    ) -> SendOutcome {
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(f) = self.fail_with.lock().unwrap().clone() {
            return f;
        }
        self.sent.lock().unwrap().push(Sent {
            dest: dest.clone(),
            digest: digest.clone(),
            opts: *opts,
        });
        SendOutcome::Sent {
            message_id: format!("{}", self.sent.lock().unwrap().len()),
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
        self.edits.lock().unwrap().push(Edited {
            dest: dest.clone(),
            message_id: message_id.to_owned(),
            digest: digest.clone(),
            kind,
        });
        SendOutcome::Sent {
            message_id: message_id.to_owned(),
        }
    }

    async fn post_leaderboard(&self, dest: &Destination, board: &Leaderboard) -> SendOutcome {
        if let Some(f) = self.fail_with.lock().unwrap().clone() {
            return f;
        }
        let mut boards = self.boards.lock().unwrap();
        let message_id = format!("board-{}", boards.len() + 1);
        boards.push(Board {
            dest: dest.clone(),
            message_id: message_id.clone(),
            edit: false,
            board: board.clone(),
        });
        SendOutcome::Sent { message_id }
    }

    async fn edit_leaderboard(
        &self,
        dest: &Destination,
        message_id: &str,
        board: &Leaderboard,
    ) -> SendOutcome {
        if let Some(f) = self.fail_with.lock().unwrap().clone() {
            return f;
        }
        self.boards.lock().unwrap().push(Board {
            dest: dest.clone(),
            message_id: message_id.to_owned(),
            edit: true,
            board: board.clone(),
        });
        SendOutcome::Sent {
            message_id: message_id.to_owned(),
        }
    }

    async fn answer(&self, _: &Destination, _: &Reply) -> SendOutcome {
        SendOutcome::Sent {
            message_id: String::new(),
        }
    }
}
