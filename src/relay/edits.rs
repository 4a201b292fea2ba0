//! The edit worker of one platform: brings sent messages up to date with
//! their post's tally (or marks them deleted), one edit per message per
//! change. It reads the post's current digest when it edits, so ten changes
//! between two edits make one edit with the latest numbers. Edits are paced
//! by the platform's sink like every other call, and run beside deliveries:
//! a failing edit never holds a delivery back.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::chat::{ChatSink, EditKind, SendOutcome};
use crate::clock::now_secs;
use crate::dest::Destination;
use crate::store::{EditJob, Store};
use crate::telemetry::metrics::metrics;
use crate::telemetry::status::RuntimeStatus;

/// Edits in flight per platform.
const CONCURRENCY: usize = 4;
/// The longest sleep between reads of the store when nothing wakes the
/// worker (edits are queued by this process, which wakes it).
const IDLE: Duration = Duration::from_secs(30);

/// Edits one platform's messages.
pub struct EditWorker {
    store: Arc<dyn Store>,
    sink: Arc<dyn ChatSink>,
    status: Arc<RuntimeStatus>,
    wake: Arc<Notify>,
}

impl EditWorker {
    /// A worker; notify `wake` when edits are queued.
    pub fn new(
        store: Arc<dyn Store>,
        sink: Arc<dyn ChatSink>,
        status: Arc<RuntimeStatus>,
        wake: Arc<Notify>,
    ) -> Self {
        EditWorker {
            store,
            sink,
            status,
            wake,
        }
    }

    /// Runs until `shutdown`. Edits still due stay due for the next start.
    pub async fn run(self, shutdown: CancellationToken) {
        let platform = self.sink.platform();
        let mut inflight: JoinSet<(Destination, Option<Duration>)> = JoinSet::new();
        let mut flying: Vec<Destination> = Vec::new();
        // Destinations resting after a failure or a rate limit.
        let mut resting: Vec<(Destination, tokio::time::Instant)> = Vec::new();
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            let now = tokio::time::Instant::now();
            resting.retain(|(_, until)| *until > now);
            if inflight.len() < CONCURRENCY {
                let mut busy: Vec<Destination> = resting.iter().map(|(d, _)| d.clone()).collect();
                busy.extend(flying.iter().cloned());
                match self
                    .store
                    .due_edits(platform, &busy, CONCURRENCY - inflight.len())
                    .await
                {
                    Ok(jobs) => {
                        for job in jobs {
                            flying.push(job.dest.clone());
                            let store = Arc::clone(&self.store);
                            let sink = Arc::clone(&self.sink);
                            let status = Arc::clone(&self.status);
                            inflight.spawn(async move { edit(store, sink, status, job).await });
                        }
                    }
                    Err(e) => tracing::error!(%platform, error = %e, "cannot read due edits"),
                }
            }
            // Edits are queued in this process, which wakes the worker; a
            // resting destination's turn is known.
            let nap = resting
                .iter()
                .map(|(_, until)| until.saturating_duration_since(tokio::time::Instant::now()))
                .min()
                .unwrap_or(IDLE)
                .min(IDLE);
            tokio::select! {
                Some(done) = inflight.join_next() => match done {
                    Ok((dest, rest)) => {
                        flying.retain(|d| *d != dest);
                        if let Some(rest) = rest {
                            resting.push((dest, tokio::time::Instant::now() + rest));
                        }
                    }
                    Err(_) => flying.clear(),
                },
                () = self.wake.notified() => {}
                () = tokio::time::sleep(nap) => {}
                () = shutdown.cancelled() => {}
            }
        }
        inflight.abort_all();
        tracing::debug!(%platform, "edit worker stopped");
    }
}

/// One edit and its bookkeeping; returns how long the destination should
/// rest before its next edit (after a failure).
async fn edit(
    store: Arc<dyn Store>,
    sink: Arc<dyn ChatSink>,
    status: Arc<RuntimeStatus>,
    job: EditJob,
) -> (Destination, Option<Duration>) {
    let kind = if job.deleted {
        EditKind::Deleted
    } else {
        EditKind::Tally
    };
    let platform = job.dest.platform.as_str();
    let opts = match super::options::for_message(&*store, &job.dest, &job.digest).await {
        Ok(opts) => opts,
        Err(e) => {
            tracing::debug!(post = %job.digest.id, chat = %job.dest, error = %e, "cannot read the delivery options; will retry the edit");
            return (job.dest, Some(Duration::from_secs(30)));
        }
    };
    let outcome = sink
        .edit(
            &job.dest,
            &job.message_id,
            &super::options::as_sent(&job.digest, &opts),
            kind,
            &opts,
        )
        .await;
    let (label, rest, result) = match &outcome {
        SendOutcome::Sent { .. } => {
            status.record_edit(now_secs());
            ("sent", None, store.edit_done(&job).await)
        }
        SendOutcome::RateLimited { retry_after } => ("rate_limited", Some(*retry_after), Ok(())),
        SendOutcome::Transient(reason) => {
            tracing::debug!(post = %job.digest.id, chat = %job.dest, %reason, "edit failed; will retry");
            ("transient", Some(Duration::from_secs(30)), Ok(()))
        }
        SendOutcome::Migrated { to } => {
            // Sent messages move with their chat; the edit comes again.
            let moved = store.move_chat(job.dest.platform, &job.dest.chat, to).await;
            ("migrated", Some(Duration::from_secs(1)), moved)
        }
        SendOutcome::DestinationGone(reason) | SendOutcome::Rejected(reason) => {
            tracing::info!(post = %job.digest.id, chat = %job.dest, %reason, "message can no longer be edited");
            ("rejected", None, store.edit_gone(&job).await)
        }
    };
    metrics().edit(platform, label);
    if let Err(e) = result {
        tracing::error!(post = %job.digest.id, chat = %job.dest, error = %e, "cannot record an edit");
    }
    (job.dest, rest)
}
