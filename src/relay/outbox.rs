//! The outbox worker of one platform: takes each destination's oldest due
//! row, keeps up to `concurrency` sends in flight (one per destination),
//! and records the outcome. Only the outbox retries.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::chat::{ChatSink, SendOutcome};
use crate::dest::Destination;
use crate::store::{OutboxRow, Store, now_secs};
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

/// Delivers one platform's rows.
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    sink: Arc<dyn ChatSink>,
    concurrency: usize,
    wake: Arc<Notify>,
    /// Woken (all workers at once) when a paused destination resumes.
    kick: Arc<Notify>,
    idle: Duration,
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

    /// Runs until `shutdown`; then takes no more rows and gives in-flight
    /// sends up to `grace` to finish. What is left stays in the outbox.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        let platform = self.sink.platform();
        let mut inflight: JoinSet<Destination> = JoinSet::new();
        let mut busy: Vec<Destination> = Vec::new();
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::pin!(deadline);
        loop {
            let stopping = shutdown.is_cancelled();
            let mut nap = self.idle;
            if !stopping && inflight.len() < self.concurrency {
                let free = self.concurrency - inflight.len();
                match self.store.due_rows(platform, now_secs(), &busy, free).await {
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
                            let store = Arc::clone(&self.store);
                            let sink = Arc::clone(&self.sink);
                            inflight.spawn(async move { deliver(store, sink, row).await });
                        }
                    }
                    Err(e) => tracing::error!(%platform, error = %e, "cannot read the outbox"),
                }
            }
            if stopping && inflight.is_empty() {
                break;
            }
            tokio::select! {
                Some(done) = inflight.join_next() => {
                    if let Ok(dest) = done {
                        busy.retain(|d| *d != dest);
                    } else {
                        // A panicked or aborted send: rebuild the busy list.
                        busy.clear();
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

/// One send attempt and its bookkeeping. Returns the destination so the
/// worker can take its next row.
async fn deliver(store: Arc<dyn Store>, sink: Arc<dyn ChatSink>, row: OutboxRow) -> Destination {
    let outcome = sink.send(&row.dest, &row.digest).await;
    let now = now_secs();
    let platform = row.dest.platform.as_str();
    let label = match &outcome {
        SendOutcome::Sent { .. } => "sent",
        // Adapters count the 429s themselves (ptt_relay_rate_limited_total).
        SendOutcome::RateLimited { .. } => "rate_limited",
        SendOutcome::Transient(_) => "transient",
        SendOutcome::DestinationGone(_) => "gone",
        SendOutcome::Rejected(_) => "rejected",
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
            store.mark_retry(row.id, at, "rate limited", false).await
        }
        SendOutcome::Transient(reason) => {
            let wait = backoff(row.attempts);
            tracing::warn!(post = %row.digest.id, chat = %row.dest, %reason, retry_in = ?wait, "delivery failed; will retry");
            store
                .mark_retry(row.id, now + wait.as_secs() as i64, reason, true)
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
            store.mark_rejected(row.id, reason, now).await
        }
    };
    if let Err(e) = result {
        tracing::error!(post = %row.digest.id, chat = %row.dest, error = %e, "cannot record a delivery outcome");
    }
    row.dest
}

/// 1 s doubling to 10 min, with jitter (×0.5–1.0).
fn backoff(attempts: u32) -> Duration {
    let base = BACKOFF_START
        .saturating_mul(1u32 << attempts.min(12))
        .min(BACKOFF_MAX);
    base.mul_f64(crate::clock::random_range(0.5..=1.0))
        .max(BACKOFF_START)
}
