//! The outbox worker of one platform: takes (claims) each destination's
//! oldest due row, keeps up to `concurrency` sends in flight (one per
//! destination), and records the outcome. Only the outbox retries.
//!
//! Claims are fenced (DESIGN.md, Delivery): an outcome lands only with the
//! claim token the row was taken with. A delivery waits for its pacing turn
//! while holding its claim, so before it sends it makes sure the claim holds
//! for a whole send ([`SEND_LIMIT`] plus a margin), renewing it if not; a
//! claim found lost means another sender has the row, and this one does not
//! send. Claim ages are measured on the monotonic clock from before the
//! claim was taken, so a process stalled past its claim finds it out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use tokio::time::Instant;

use crate::chat::{ChatSink, SendOutcome};
use crate::clock::now_secs;
use crate::dest::Destination;
use crate::store::{CLAIM_SECS, OutboxRow, Store, StoreError};
use crate::telemetry::metrics::metrics;

/// First transient backoff.
const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest transient backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// How long a worker of a process that runs alone sleeps when nothing is
/// due and nothing wakes it. Such a process queues every row itself and
/// wakes its workers, and a retry's time is read from the store, so the
/// store is only read to be safe.
pub const IDLE_ALONE: Duration = Duration::from_secs(30);
/// The same for a replica: other processes queue rows too, so it looks
/// once a second.
pub const IDLE_REPLICA: Duration = Duration::from_secs(1);
/// The longest one send may take once started; a send still unanswered
/// then is dropped and retried as transient (a lost answer). Longer than
/// the adapters' own request timeouts (Telegram 17 s). A claim (60 s) or
/// SQLite's store lease must hold this long when a send starts.
pub const SEND_LIMIT: Duration = Duration::from_secs(20);
/// Room left on a claim after a whole send: the replicas' clocks (NTP) and
/// the store's one-second resolution.
const CLAIM_MARGIN: Duration = Duration::from_secs(10);

/// Whether this process may still start a send: on SQLite, while its lease
/// on the store surely holds (see `SqliteStore::lease_valid`).
pub trait SendGate: Send + Sync {
    /// `true` while a send may start now.
    fn may_send(&self) -> bool;
}

/// A gate that is always open (PostgreSQL replicas: the fenced claims
/// decide).
pub struct AlwaysOpen;

impl SendGate for AlwaysOpen {
    fn may_send(&self) -> bool {
        true
    }
}

/// Delivers one platform's rows.
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    sink: Arc<dyn ChatSink>,
    concurrency: usize,
    wake: Arc<Notify>,
    /// Woken (all workers at once) when a paused destination resumes.
    kick: Arc<Notify>,
    idle: Duration,
    gate: Arc<dyn SendGate>,
}

impl OutboxWorker {
    /// A worker; notify `wake` when rows are queued. It sleeps at most
    /// [`IDLE_ALONE`] between reads of the store; see [`Self::idle_wait`].
    pub fn new(
        store: Arc<dyn Store>,
        sink: Arc<dyn ChatSink>,
        concurrency: usize,
        wake: Arc<Notify>,
    ) -> Self {
        OutboxWorker {
            store,
            sink,
            concurrency: concurrency.max(1),
            wake,
            kick: Arc::new(Notify::new()),
            idle: IDLE_ALONE,
            gate: Arc::new(AlwaysOpen),
        }
    }

    /// Also wake up on `kick` (notified to all workers when a paused
    /// destination resumes).
    pub fn woken_by(mut self, kick: Arc<Notify>) -> Self {
        self.kick = kick;
        self
    }

    /// The longest sleep between reads of the store when nothing is due
    /// ([`IDLE_REPLICA`] where other processes queue rows too).
    pub fn idle_wait(mut self, idle: Duration) -> Self {
        self.idle = idle;
        self
    }

    /// Sends only while `gate` allows (checked just before each send).
    pub fn with_gate(mut self, gate: Arc<dyn SendGate>) -> Self {
        self.gate = gate;
        self
    }

    /// Runs until `shutdown`; then takes no more rows and gives in-flight
    /// sends up to `grace` to finish. What is left stays in the outbox.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        let platform = self.sink.platform();
        let mut inflight: JoinSet<Destination> = JoinSet::new();
        let mut busy: Vec<Destination> = Vec::new();
        // Claimed rows waiting for a free slot (their destinations are busy).
        let mut ready: std::collections::VecDeque<Claimed> = std::collections::VecDeque::new();
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::pin!(deadline);
        loop {
            let stopping = shutdown.is_cancelled();
            let open = self.gate.may_send();
            // A closed gate is looked at again soon.
            let mut nap = if open {
                self.idle
            } else {
                Duration::from_secs(1)
            };
            if !stopping && inflight.len() < self.concurrency && open && ready.is_empty() {
                // A whole batch, not just the free slots: with a deep
                // backlog the store is read once per `concurrency` sends,
                // not once per send (the read walks every destination).
                let since = Instant::now();
                match self
                    .store
                    .due_rows(platform, now_secs(), &busy, self.concurrency)
                    .await
                {
                    Ok(rows) if rows.is_empty() => {
                        // Sleep until the next retry is due, if sooner; a
                        // row due already waits for its destination's send
                        // in flight (whose end wakes the worker too).
                        let now = now_secs();
                        if let Ok(Some(at)) = self.store.next_due_at(platform).await {
                            let wait = Duration::from_secs(at.saturating_sub(now).max(1) as u64);
                            nap = nap.min(wait);
                        }
                    }
                    Ok(rows) => {
                        for row in rows {
                            busy.push(row.dest.clone());
                            ready.push_back(Claimed { row, since });
                        }
                    }
                    Err(e) => tracing::error!(%platform, error = %e, "cannot read the outbox"),
                }
            }
            // Claimed rows start as slots free up; one that waited long has
            // its claim renewed (or found lost) in `deliver`.
            while !stopping && open && inflight.len() < self.concurrency {
                let Some(claimed) = ready.pop_front() else {
                    break;
                };
                let store = Arc::clone(&self.store);
                let sink = Arc::clone(&self.sink);
                let gate = Arc::clone(&self.gate);
                inflight.spawn(deliver(store, sink, gate, claimed));
            }
            if stopping && inflight.is_empty() {
                break;
            }
            tokio::select! {
                Some(done) = inflight.join_next() => {
                    if let Ok(dest) = done {
                        busy.retain(|d| *d != dest);
                    } else {
                        // A panicked or aborted send: rebuild the busy list
                        // from the rows waiting (the store's claims keep the
                        // ones in flight from being handed out again).
                        busy = ready.iter().map(|c| c.row.dest.clone()).collect();
                    }
                }
                () = self.wake.notified(), if !stopping => {}
                () = self.kick.notified(), if !stopping => {}
                () = tokio::time::sleep(nap), if !stopping => {}
                () = shutdown.cancelled(), if !stopping => {}
                () = &mut deadline => {
                    let left = inflight.len();
                    if left > 0 {
                        tracing::warn!(%platform, in_flight = left, "shutdown grace over; unfinished sends stay in the outbox");
                    }
                    inflight.abort_all();
                    break;
                }
            }
        }
        tracing::debug!(%platform, "outbox worker stopped");
    }
}

/// A claimed row, with when (on this process's monotonic clock) its claim
/// was last taken or renewed: the claim holds until `CLAIM_SECS` after
/// that, whatever the wall clock does.
struct Claimed {
    row: OutboxRow,
    since: Instant,
}

/// Whether a claim taken at `since` still holds for a whole send started
/// now (with room for the store's and the replicas' clocks).
fn holds_for_a_send(since: Instant) -> bool {
    since.elapsed() + SEND_LIMIT + CLAIM_MARGIN <= Duration::from_secs(CLAIM_SECS as u64)
}

/// One send attempt and its bookkeeping. Returns the destination so the
/// worker can take its next row.
///
/// The row is claimed (fenced, see [`Store::due_rows`]). The sink first
/// waits for the destination's pacing turn, which can be long (a 429's
/// `retry_after`, a burst to many chats); if the claim would not hold for a
/// whole send after that wait, it is renewed; a claim lost meanwhile (this
/// process stalled and another sender took the row) means no send at all.
/// The send itself is cut off after [`SEND_LIMIT`], so it never outlives
/// the claim.
async fn deliver(
    store: Arc<dyn Store>,
    sink: Arc<dyn ChatSink>,
    gate: Arc<dyn SendGate>,
    claimed: Claimed,
) -> Destination {
    let Claimed { row, mut since } = claimed;
    let platform = row.dest.platform.as_str();
    sink.wait_turn(&row.dest).await;
    let opts = match super::options::for_message(&*store, &row.dest, &row.digest).await {
        Ok(opts) => opts,
        Err(e) => {
            tracing::warn!(post = %row.digest.id, chat = %row.dest, error = %e, "cannot read the destination's delivery options; not sending");
            let _ = store
                .mark_retry(
                    &row,
                    now_secs() + 1,
                    "cannot read the delivery options",
                    false,
                )
                .await;
            return row.dest;
        }
    };
    if !holds_for_a_send(since) {
        let began = Instant::now();
        match store.renew_claim(&row, now_secs()).await {
            Ok(()) => since = began,
            Err(e) => {
                claim_lost(&row, &e, "before sending");
                return row.dest;
            }
        }
    }
    if !holds_for_a_send(since) || !gate.may_send() {
        // The renewal itself was slow (or the process stalled), or this
        // process may no longer send: try again later, without a send.
        tracing::warn!(post = %row.digest.id, chat = %row.dest, "no time left on the claim (or the store lease) for a send; not sending");
        let _ = store
            .mark_retry(&row, now_secs(), "claim too short for a send", false)
            .await;
        return row.dest;
    }
    let digest = super::options::as_sent(&row.digest, &opts);
    let send = sink.send(&row.dest, &digest, &opts);
    let outcome = match tokio::time::timeout(SEND_LIMIT, send).await {
        Ok(outcome) => outcome,
        Err(_) => SendOutcome::Transient(format!("no answer within {SEND_LIMIT:?}")),
    };
    let now = now_secs();
    let label = match &outcome {
        SendOutcome::Sent { .. } => "sent",
        // Adapters count the 429s themselves (ptt_relay_rate_limited_total).
        SendOutcome::RateLimited { .. } => "rate_limited",
        SendOutcome::Transient(_) => "transient",
        SendOutcome::DestinationGone(_) => "gone",
        SendOutcome::Rejected(_) => "rejected",
        SendOutcome::Migrated { .. } => "migrated",
    };
    metrics().delivery(platform, label);
    let result = match &outcome {
        SendOutcome::Sent { message_id } => {
            tracing::info!(post = %row.digest.id, chat = %row.dest, "delivered");
            store.mark_sent(&row, message_id, now).await
        }
        SendOutcome::RateLimited { retry_after } => {
            let at = now + retry_after.as_secs().max(1) as i64;
            tracing::debug!(post = %row.digest.id, chat = %row.dest, ?retry_after, "rate limited");
            store.mark_retry(&row, at, "rate limited", false).await
        }
        SendOutcome::Transient(reason) => {
            let wait = backoff(row.attempts);
            tracing::warn!(post = %row.digest.id, chat = %row.dest, %reason, retry_in = ?wait, "delivery failed; will retry");
            store
                .mark_retry(&row, now + wait.as_secs() as i64, reason, true)
                .await
        }
        SendOutcome::DestinationGone(reason) => {
            tracing::warn!(post = %row.digest.id, chat = %row.dest, %reason, "destination gone; pausing it");
            store
                .pause_chat(row.dest.platform, &row.dest.chat, reason, now)
                .await
        }
        SendOutcome::Rejected(reason) => {
            tracing::warn!(post = %row.digest.id, chat = %row.dest, %reason, "delivery rejected");
            store.mark_rejected(&row, reason, now).await
        }
        SendOutcome::Migrated { to } => {
            tracing::info!(post = %row.digest.id, chat = %row.dest, to, "the chat has a new id; moving it");
            match store.move_chat(row.dest.platform, &row.dest.chat, to).await {
                // The row moved with its chat (same id and claim): again,
                // now, counting the attempt so that a chat that keeps
                // answering "migrated" backs off.
                Ok(()) => {
                    store
                        .mark_retry(&row, now, "the chat has a new id", true)
                        .await
                }
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Err(e @ StoreError::ClaimLost { .. }) => claim_lost(&row, &e, "after sending"),
        Err(e) => {
            tracing::error!(post = %row.digest.id, chat = %row.dest, error = %e, "cannot record a delivery outcome");
        }
        Ok(()) => {}
    }
    row.dest
}

/// Logs and counts (`ptt_relay_deliveries_total{outcome="claim_lost"}`) a
/// claim found lost; any other store error is logged as such.
fn claim_lost(row: &OutboxRow, e: &StoreError, when: &'static str) {
    let platform = row.dest.platform.as_str();
    if matches!(e, StoreError::ClaimLost { .. }) {
        metrics().delivery(platform, "claim_lost");
        tracing::warn!(post = %row.digest.id, chat = %row.dest, when, "the claim on this delivery was lost (another sender took it); leaving it to that sender");
    } else {
        tracing::error!(post = %row.digest.id, chat = %row.dest, error = %e, when, "cannot renew the claim on a delivery; not sending");
    }
}

/// 1 s doubling to 10 min, with jitter (×0.5–1.0).
fn backoff(attempts: u32) -> Duration {
    let base = BACKOFF_START
        .saturating_mul(1u32 << attempts.min(12))
        .min(BACKOFF_MAX);
    base.mul_f64(crate::clock::random_range(0.5..=1.0))
        .max(BACKOFF_START)
}
