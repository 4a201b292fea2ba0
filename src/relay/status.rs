//! Runtime facts shown by `/status`, `/readyz` and `/metrics` that are not in
//! the store.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Shared, cheap-to-update runtime state.
#[derive(Debug, Default)]
pub struct RuntimeStatus {
    tracked_posts: AtomicU64,
    last_edit_at: AtomicI64,
    leader: Mutex<String>,
}

impl RuntimeStatus {
    /// A status naming who leads (e.g. "this instance").
    pub fn new(leader: impl Into<String>) -> Self {
        RuntimeStatus {
            leader: Mutex::new(leader.into()),
            ..Default::default()
        }
    }

    /// Posts whose tally is tracked.
    pub fn tracked_posts(&self) -> u64 {
        self.tracked_posts.load(Ordering::Relaxed)
    }

    /// Sets the tracked post count.
    pub fn set_tracked_posts(&self, n: u64) {
        self.tracked_posts.store(n, Ordering::Relaxed);
    }

    /// When the last tally edit ran (Unix seconds).
    pub fn last_edit_at(&self) -> Option<i64> {
        match self.last_edit_at.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t),
        }
    }

    /// Records a tally edit.
    pub fn record_edit(&self, at: i64) {
        self.last_edit_at.store(at, Ordering::Relaxed);
    }

    /// Who leads.
    pub fn leader(&self) -> String {
        self.leader.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sets who leads.
    pub fn set_leader(&self, leader: impl Into<String>) {
        if let Ok(mut l) = self.leader.lock() {
            *l = leader.into();
        }
    }
}
