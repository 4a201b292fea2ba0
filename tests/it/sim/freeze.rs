//! A replica frozen as SIGSTOP, `docker pause` or a stalled VM freeze a
//! process: nothing of it gets out until the freeze ends.
//!
//! All replicas share one simulated runtime, so a freeze cannot stop a
//! replica's tasks from being polled; it stops them at the seams instead.
//! Every seam of the replica — each store call and leadership call, each
//! PTT request, each chat request — waits at its [`Freeze`] until the
//! freeze ends, and so does the reading of an answer that was on the wire
//! when the freeze began (the platform acted; the replica learns it after).
//! Between seams a frozen replica's timers still fire in virtual time and
//! its tasks run up to their next seam; what they computed meanwhile
//! stands as if it had been computed just before the freeze. One piece of
//! that would make the model unfair: a pacer keeps running while frozen,
//! so a message let go by it during the freeze would leave at the thaw
//! together with others; a chat request stopped at the freeze therefore
//! takes a fresh pacing turn after it (a frozen process's pacer does not
//! run). Requests in flight when the freeze begins reach the platform
//! (they were on the wire).

use std::sync::Mutex;

use tokio::time::Instant;

/// One process's freeze.
#[derive(Default)]
pub struct Freeze {
    until: Mutex<Option<Instant>>,
}

impl Freeze {
    /// Freezes the process until `until`.
    pub fn freeze(&self, until: Instant) {
        *self.until.lock().unwrap() = Some(until);
    }

    /// Waits while the process is frozen; `true` when it had to wait.
    pub async fn pass(&self) -> bool {
        let mut waited = false;
        loop {
            let until = *self.until.lock().unwrap();
            match until {
                Some(t) if t > Instant::now() => {
                    waited = true;
                    tokio::time::sleep_until(t).await;
                }
                _ => return waited,
            }
        }
    }
}

/// Passes an optional freeze (`false`: not frozen, or none).
pub async fn pass(freeze: &Option<std::sync::Arc<Freeze>>) -> bool {
    match freeze {
        Some(f) => f.pass().await,
        None => false,
    }
}

impl Freeze {
    /// Whether the process is frozen now.
    pub fn frozen(&self) -> bool {
        self.until
            .lock()
            .unwrap()
            .is_some_and(|t| t > Instant::now())
    }
}
