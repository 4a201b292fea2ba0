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
    leader_detail: Mutex<String>,
    /// Readiness faults a chat platform reports, by platform: when last
    /// seen (Unix seconds) and what.
    platform_faults: Mutex<std::collections::BTreeMap<String, (i64, String)>>,
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

    /// Who leads, as chats see it: a role ("this instance", "this
    /// replica", "another replica"), never a host name or process id.
    pub fn leader(&self) -> String {
        self.leader.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// A chat platform reports a fault that makes this instance not ready
    /// (Telegram: another instance polls with this token, 409 Conflict),
    /// seen at `at` (Unix seconds); `None` clears it. `/readyz` shows a
    /// fault for a while after it was last seen.
    pub fn set_platform_fault(&self, platform: &str, fault: Option<(i64, String)>) {
        if let Ok(mut faults) = self.platform_faults.lock() {
            match fault {
                Some(f) => {
                    faults.insert(platform.to_owned(), f);
                }
                None => {
                    faults.remove(platform);
                }
            }
        }
    }

    /// A platform's current fault: when last seen and what.
    pub fn platform_fault(&self, platform: &str) -> Option<(i64, String)> {
        self.platform_faults
            .lock()
            .ok()
            .and_then(|f| f.get(platform).cloned())
    }

    /// Every platform's current fault, by platform.
    pub fn platform_faults(&self) -> Vec<(String, i64, String)> {
        self.platform_faults
            .lock()
            .map(|f| {
                f.iter()
                    .map(|(p, (at, what))| (p.clone(), *at, what.clone()))
                    .collect()
            })
            .unwrap_or_default()
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

    /// This replica (`replica_id`, from `app::replica_id`) leads. Chats
    /// see only "this replica": a replica id holds the host name and the
    /// process id, which replies never show (DESIGN.md "Bounds").
    pub fn set_leading_here(&self, replica_id: &str) {
        self.set_leader("this replica");
        self.set_leader_detail(replica_id.to_owned());
    }

    /// Another replica leads: its id and host, from the leader row. Chats
    /// see only "another replica".
    pub fn set_leading_elsewhere(&self, replica_id: &str, host: &str) {
        self.set_leader("another replica");
        self.set_leader_detail(format!("{replica_id} on {host}"));
    }

    /// Who leads, with replica id and host: for operators (logs, local
    /// endpoints), never for chat replies. Empty until known.
    pub fn leader_detail(&self) -> String {
        self.leader_detail
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    fn set_leader_detail(&self, detail: String) {
        if let Ok(mut l) = self.leader_detail.lock() {
            *l = detail;
        }
    }
}
