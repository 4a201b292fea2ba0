//! The simulated chat platforms, at the sink seam: each call waits in the
//! real [`Pacer`] of its platform (as the real adapters do), spends some
//! time on the wire, and then the platform acts or refuses as the real ones
//! do — a 429 with `retry_after`, a 5xx, a timeout, an answer lost after the
//! platform posted the message, a chat that removed the bot. Discord drops a
//! repeated nonce itself (a few minutes' window). The platform's own record
//! (what the chat members see) is what the invariants check.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::chat::pacing::{Pacer, Share};
use ptt_relay::chat::{ChatSink, EditKind, SendOutcome};
use ptt_relay::commands::Reply;
use ptt_relay::dest::{Destination, Platform};
use ptt_relay::digest::Digest;
use ptt_relay::filter::DeliveryOptions;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::freeze::{self, Freeze};

/// How long Discord remembers a nonce.
const NONCE_WINDOW: Duration = Duration::from_secs(300);
/// A call's time on the wire.
const LATENCY: Duration = Duration::from_millis(120);
/// The adapters' request timeout.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Chances of each failure of one call.
#[derive(Clone, Copy, Debug)]
pub struct ChatFaults {
    pub rate_limited: f64,
    pub server_error: f64,
    pub timeout: f64,
    pub lost_answer: f64,
}

impl ChatFaults {
    /// No failures.
    pub const NONE: ChatFaults = ChatFaults {
        rate_limited: 0.0,
        server_error: 0.0,
        timeout: 0.0,
        lost_answer: 0.0,
    };
}

/// One message as the chat sees it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub dest: Destination,
    pub post: String,
    pub message_id: String,
    /// When the platform posted it.
    pub at: Instant,
    /// The tally the message shows now (net), updated by edits.
    pub net: i64,
    /// Marked deleted by an edit.
    pub deleted_mark: bool,
}

/// What one platform saw.
#[derive(Default)]
pub struct Record {
    /// Messages in the order the platform posted them.
    pub shown: Vec<Shown>,
    /// Every request that reached the platform (sends, edits, refused ones).
    pub requests: Vec<Instant>,
    /// Sends whose outcome the relay never learned: the platform acted
    /// but the answer was lost, or the process died during the call.
    pub unacknowledged: HashSet<(String, String)>,
    /// 429 answers given.
    pub rate_limited: u64,
    /// Discord nonces: post × chat → when first used.
    nonces: HashMap<(String, String), Instant>,
    next_id: u64,
}

/// One simulated platform and the sink the relay uses for it.
pub struct SimChat {
    platform: Platform,
    pacer: Pacer,
    faults: ChatFaults,
    /// Chats exempt from faults (the latency probe).
    pub reliable: HashSet<String>,
    /// Chats that removed the bot, and from when.
    pub left: Arc<Mutex<HashMap<String, Instant>>>,
    rng: Arc<Mutex<StdRng>>,
    pub record: Arc<Mutex<Record>>,
    /// The process's freeze (a stalled replica), see `freeze.rs`.
    pub freeze: Option<Arc<Freeze>>,
}

impl SimChat {
    /// A platform with its real pacing and these fault chances.
    pub fn new(platform: Platform, faults: ChatFaults, seed: u64) -> SimChat {
        let pacer = match platform {
            DISCORD => ptt_relay::chat::discord::pacer().hold_after_start(),
            _ => ptt_relay::chat::telegram::pacer().hold_after_start(),
        };
        SimChat {
            platform,
            pacer,
            faults,
            reliable: HashSet::new(),
            left: Arc::new(Mutex::new(HashMap::new())),
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
            record: Arc::new(Mutex::new(Record::default())),
            freeze: None,
        }
    }

    /// A replica's sink: its pacer takes this replica's share of the
    /// platform's overall limit (fed by the app's heartbeat).
    pub fn shared_by(mut self, share: Arc<Share>) -> SimChat {
        self.pacer = std::mem::replace(&mut self.pacer, Pacer::unlimited()).shared_by(share);
        self
    }

    /// Waits for a pacing turn for `chat`; a turn stopped by the freeze is
    /// taken again after it (a frozen pacer lets nothing go).
    async fn paced(&self, chat: &str) {
        loop {
            self.pacer.wait(chat).await;
            if !freeze::pass(&self.freeze).await {
                break;
            }
        }
    }

    /// The same platform seen by a new process (whose pacer starts afresh).
    pub fn share_platform(&mut self, old: &SimChat) {
        self.left = Arc::clone(&old.left);
        self.rng = Arc::clone(&old.rng);
        self.record = Arc::clone(&old.record);
    }

    /// `chat` removes the bot at `at`.
    pub fn leave(&self, chat: &str, at: Instant) {
        self.left.lock().unwrap().insert(chat.to_owned(), at);
    }

    /// What the platform saw.
    pub fn take_record(&self) -> Record {
        std::mem::take(&mut *self.record.lock().unwrap())
    }

    fn draw(&self, chat: &str) -> Option<Failure> {
        if self.reliable.contains(chat) {
            return None;
        }
        let f = self.faults;
        let mut rng = self.rng.lock().unwrap();
        let x: f64 = rng.random();
        let mut edge = f.rate_limited;
        if x < edge {
            return Some(Failure::RateLimited(Duration::from_secs(
                rng.random_range(1..6),
            )));
        }
        edge += f.server_error;
        if x < edge {
            return Some(Failure::ServerError);
        }
        edge += f.timeout;
        if x < edge {
            return Some(Failure::Timeout {
                acted: rng.random_bool(0.5),
            });
        }
        edge += f.lost_answer;
        if x < edge {
            return Some(Failure::LostAnswer);
        }
        None
    }

    fn gone(&self, chat: &str) -> bool {
        self.left
            .lock()
            .unwrap()
            .get(chat)
            .is_some_and(|t| *t <= Instant::now())
    }

    /// Posts the message (or, on Discord, finds the one with this nonce).
    fn act(&self, dest: &Destination, digest: &Digest) -> String {
        let mut r = self.record.lock().unwrap();
        let key = (dest.chat.clone(), digest.id.clone());
        if self.platform == DISCORD
            && let Some(first) = r.nonces.get(&key)
            && first.elapsed() < NONCE_WINDOW
            && let Some(m) = r
                .shown
                .iter()
                .find(|m| m.dest == *dest && m.post == digest.id)
        {
            return m.message_id.clone();
        }
        r.nonces.insert(key, Instant::now());
        r.next_id += 1;
        let id = r.next_id.to_string();
        r.shown.push(Shown {
            dest: dest.clone(),
            post: digest.id.clone(),
            message_id: id.clone(),
            at: Instant::now(),
            net: digest.tally.net,
            deleted_mark: false,
        });
        id
    }
}

enum Failure {
    RateLimited(Duration),
    ServerError,
    Timeout { acted: bool },
    LostAnswer,
}

/// Marks a send whose caller went away (a crash) after the platform acted.
struct InFlight<'a> {
    record: &'a Mutex<Record>,
    key: (String, String),
    acted: bool,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.acted && !self.done {
            self.record
                .lock()
                .unwrap()
                .unacknowledged
                .insert(self.key.clone());
        }
    }
}

#[async_trait]
impl ChatSink for SimChat {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn wait_turn(&self, dest: &Destination) {
        // As the adapters do: the outbox takes the turn before it checks
        // its claim, and the send uses it.
        self.pacer.take_turn(&dest.chat).await;
    }

    async fn send(&self, dest: &Destination, digest: &Digest, _: &DeliveryOptions) -> SendOutcome {
        self.paced(&dest.chat).await;
        let mut flight = InFlight {
            record: &self.record,
            key: (dest.chat.clone(), digest.id.clone()),
            acted: false,
            done: false,
        };
        tokio::time::sleep(LATENCY / 2).await;
        self.record.lock().unwrap().requests.push(Instant::now());
        if self.gone(&dest.chat) {
            flight.done = true;
            return SendOutcome::DestinationGone("Forbidden: bot was kicked".into());
        }
        let outcome = match self.draw(&dest.chat) {
            Some(Failure::RateLimited(after)) => {
                self.record.lock().unwrap().rate_limited += 1;
                self.pacer.hold_chat(&dest.chat, after);
                SendOutcome::RateLimited { retry_after: after }
            }
            Some(Failure::ServerError) => SendOutcome::Transient("502 Bad Gateway".into()),
            Some(Failure::Timeout { acted }) => {
                if acted {
                    self.act(dest, digest);
                    flight.acted = true;
                }
                tokio::time::sleep(TIMEOUT).await;
                if acted {
                    self.record
                        .lock()
                        .unwrap()
                        .unacknowledged
                        .insert(flight.key.clone());
                }
                SendOutcome::Transient("timed out".into())
            }
            Some(Failure::LostAnswer) => {
                self.act(dest, digest);
                self.record
                    .lock()
                    .unwrap()
                    .unacknowledged
                    .insert(flight.key.clone());
                flight.acted = true;
                tokio::time::sleep(LATENCY / 2).await;
                SendOutcome::Transient("connection reset".into())
            }
            None => {
                let message_id = self.act(dest, digest);
                flight.acted = true;
                tokio::time::sleep(LATENCY / 2).await;
                SendOutcome::Sent { message_id }
            }
        };
        // A frozen process reads the answer when it thaws.
        freeze::pass(&self.freeze).await;
        flight.done = true;
        outcome
    }

    async fn edit(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
        _: &DeliveryOptions,
    ) -> SendOutcome {
        self.paced(&dest.chat).await;
        let outcome = self.edit_now(dest, message_id, digest, kind).await;
        freeze::pass(&self.freeze).await;
        outcome
    }

    async fn answer(&self, _dest: &Destination, _reply: &Reply) -> SendOutcome {
        SendOutcome::Sent {
            message_id: "0".into(),
        }
    }
}

impl SimChat {
    async fn edit_now(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
    ) -> SendOutcome {
        tokio::time::sleep(LATENCY / 2).await;
        self.record.lock().unwrap().requests.push(Instant::now());
        if self.gone(&dest.chat) {
            return SendOutcome::DestinationGone("Forbidden: bot was kicked".into());
        }
        match self.draw(&dest.chat) {
            Some(Failure::RateLimited(after)) => {
                self.record.lock().unwrap().rate_limited += 1;
                self.pacer.hold_chat(&dest.chat, after);
                return SendOutcome::RateLimited { retry_after: after };
            }
            Some(Failure::ServerError | Failure::Timeout { acted: false }) => {
                return SendOutcome::Transient("502 Bad Gateway".into());
            }
            _ => {}
        }
        let mut r = self.record.lock().unwrap();
        match r
            .shown
            .iter_mut()
            .find(|m| m.dest == *dest && m.message_id == message_id)
        {
            Some(m) => {
                m.net = digest.tally.net;
                if kind == EditKind::Deleted {
                    m.deleted_mark = true;
                }
                SendOutcome::Sent {
                    message_id: message_id.to_owned(),
                }
            }
            None => SendOutcome::Rejected("message to edit not found".into()),
        }
    }
}
