//! Runtime facts shown by `/status`, `/readyz` and `/metrics` that are not in
//! the store.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// Shared, cheap-to-update runtime state.
#[derive(Debug, Default)]
pub struct RuntimeStatus {
    tracked_posts: AtomicU64,
    last_edit_at: AtomicI64,
    leader: Mutex<String>,
    telegram_conflict_at: AtomicI64,
    markup_failing: Mutex<Vec<String>>,
    is_leader: AtomicBool,
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

    /// Telegram answered 409 Conflict on getUpdates at `at` (another
    /// instance polls with this token); `None` clears it.
    pub fn set_telegram_conflict(&self, at: Option<i64>) {
        self.telegram_conflict_at
            .store(at.unwrap_or(0), Ordering::Relaxed);
    }

    /// When the last 409 Conflict was seen, if it is still current.
    pub fn telegram_conflict(&self) -> Option<i64> {
        match self.telegram_conflict_at.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t),
        }
    }

    /// Records whether a board's index page parses.
    pub fn set_markup_failing(&self, board: &str, failing: bool) {
        if let Ok(mut v) = self.markup_failing.lock() {
            v.retain(|b| b != board);
            if failing {
                v.push(board.to_owned());
            }
        }
    }

    /// Boards whose index page does not parse.
    pub fn markup_failing(&self) -> Vec<String> {
        self.markup_failing
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Whether this process leads (polls PTT and runs the chat listeners).
    pub fn is_leader(&self) -> bool {
        self.is_leader.load(Ordering::Relaxed)
    }

    /// Sets leadership.
    pub fn set_is_leader(&self, leader: bool) {
        self.is_leader.store(leader, Ordering::Relaxed);
    }

    /// Sets who leads.
    pub fn set_leader(&self, leader: impl Into<String>) {
        if let Ok(mut l) = self.leader.lock() {
            *l = leader.into();
        }
    }
}
