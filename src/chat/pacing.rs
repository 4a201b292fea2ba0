//! Proactive pacing inside each platform's limits, shared by deliveries,
//! edits and command replies: a message waits here before it is sent, so
//! the platform never has to refuse it.
//!
//! Telegram: 1 message a second per chat, 20 a minute per group or channel
//! (negative chat ids), 28 a second overall (Telegram allows 30). Discord: one
//! every 1.05 s per channel (Discord allows 5 per 5 s), 45 a second overall
//! (Discord allows 50). Limits are smooth (burst 1), so no window
//! of the platform's can see more than its limit.
//!
//! A chat's spacing is counted from the moment its message is let go, after
//! the overall limit: when a burst (one post to hundreds of chats) makes
//! the overall limit the slower one, a message leaves later than its chat
//! allowed, and the chat's next message must still wait its full period
//! after that — else the platform sees two messages closer than its limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long a new process waits before its first send (one window of the
/// platforms' per-second limits).
pub const RESTART_HOLD: Duration = Duration::from_secs(1);

/// Which chats a limit applies to.
type Applies = fn(&str) -> bool;

/// One limit: `period` between the messages let go to a chat, applied to
/// chats the predicate selects.
struct ChatLimit {
    period: Duration,
    applies: Applies,
    /// When each chat may have its next message.
    next: Mutex<HashMap<String, Instant>>,
}

impl ChatLimit {
    /// When `chat` may have its next message under this limit.
    fn ready_at(&self, chat: &str) -> Option<Instant> {
        if !(self.applies)(chat) {
            return None;
        }
        self.next.lock().ok()?.get(chat).copied()
    }
}

/// The limiter set of one platform.
pub struct Pacer {
    per_chat: Vec<ChatLimit>,
    /// The overall limit: one message every `global_period`.
    global_period: Duration,
    /// When the next message of any chat may go.
    global_next: Mutex<Option<Instant>>,
    held: Mutex<HashMap<String, Instant>>,
    held_all: Mutex<Option<Instant>>,
    calls: std::sync::atomic::AtomicU64,
}

/// A per-chat limit's period, as the tables below read.
fn per_chat(period: Duration, applies: Applies) -> (Duration, Applies) {
    (period, applies)
}

fn is_group(chat: &str) -> bool {
    chat.starts_with('-')
}

impl Pacer {
    /// Telegram's limits.
    pub fn telegram() -> Self {
        Pacer::new(
            vec![
                per_chat(Duration::from_secs(1), |_| true),
                per_chat(Duration::from_secs(3), is_group),
            ],
            // Telegram allows 30 a second overall; 28 leaves room for the
            // jitter between our pacer and the request's arrival.
            Duration::from_micros(1_000_000 / 28 + 1),
        )
    }

    /// Discord's limits.
    pub fn discord() -> Self {
        Pacer::new(
            // Discord allows 5 per 5 s in a channel, counted from the
            // bucket's first message: at exactly 1 a second, a first message
            // that arrived late and a sixth that arrived early share one
            // bucket. 1.05 s leaves a quarter of a second for that jitter.
            vec![per_chat(Duration::from_millis(1050), |_| true)],
            Duration::from_micros(1_000_000 / 45 + 1),
        )
    }

    /// No limits (the console, tests).
    pub fn unlimited() -> Self {
        Pacer::new(Vec::new(), Duration::from_nanos(1))
    }

    fn new(per_chat: Vec<(Duration, Applies)>, global: Duration) -> Self {
        Pacer {
            per_chat: per_chat
                .into_iter()
                .map(|(period, applies)| ChatLimit {
                    period,
                    applies,
                    next: Mutex::new(HashMap::new()),
                })
                .collect(),
            global_period: global,
            global_next: Mutex::new(None),
            held: Mutex::new(HashMap::new()),
            held_all: Mutex::new(None),
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Waits until a message to `chat` may go out, and counts it.
    pub async fn wait(&self, chat: &str) {
        loop {
            let hold = {
                let chat_hold = self.held.lock().ok().and_then(|h| h.get(chat).copied());
                let all_hold = self.held_all.lock().ok().and_then(|h| *h);
                let limits = self.per_chat.iter().filter_map(|l| l.ready_at(chat)).max();
                chat_hold.max(all_hold).max(limits)
            };
            if let Some(until) = hold
                && until > Instant::now()
            {
                tokio::time::sleep_until(until).await;
            }
            // The overall limit last: its wait may have been long, and
            // another message to this chat (a reply, an edit) may have gone
            // meanwhile, so the chat's limits are checked again.
            if let Some(next) = self.global_next.lock().ok().and_then(|n| *n)
                && next > Instant::now()
            {
                tokio::time::sleep_until(next).await;
            }
            if self.let_go(chat) {
                break;
            }
        }
        let n = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 10_000 == 9_999 {
            self.forget_idle();
        }
    }

    /// Takes the chat's turn when every limit of the chat allows a message
    /// now, counting its next period from now.
    fn let_go(&self, chat: &str) -> bool {
        let now = Instant::now();
        let mut maps: Vec<_> = self
            .per_chat
            .iter()
            .filter(|l| (l.applies)(chat))
            .filter_map(|l| Some((l.period, l.next.lock().ok()?)))
            .collect();
        if maps
            .iter()
            .any(|(_, m)| m.get(chat).is_some_and(|t| *t > now))
        {
            return false;
        }
        let Ok(mut global) = self.global_next.lock() else {
            return false;
        };
        if global.is_some_and(|t| t > now) {
            return false;
        }
        *global = Some(now + self.global_period);
        for (period, m) in &mut maps {
            m.insert(chat.to_owned(), now + *period);
        }
        true
    }

    /// Holds every chat back for the platform's window after start-up: a
    /// process restarted at once (a deploy, a crash) would otherwise add
    /// its first second of sends to the previous process's last one, and
    /// the platform counts both against the same limit.
    pub fn hold_after_start(self) -> Self {
        self.hold_all(RESTART_HOLD);
        self
    }

    /// The platform told us to wait (a 429): hold this chat back.
    pub fn hold_chat(&self, chat: &str, retry_after: Duration) {
        if let Ok(mut h) = self.held.lock() {
            let until = Instant::now() + retry_after;
            let e = h.entry(chat.to_owned()).or_insert(until);
            *e = (*e).max(until);
        }
    }

    /// A global 429: hold every chat back.
    pub fn hold_all(&self, retry_after: Duration) {
        if let Ok(mut h) = self.held_all.lock() {
            let until = Instant::now() + retry_after;
            *h = Some(h.map_or(until, |t| t.max(until)));
        }
    }

    /// Drops state of chats that have been quiet (keeps memory flat).
    fn forget_idle(&self) {
        let now = Instant::now();
        for limit in &self.per_chat {
            if let Ok(mut m) = limit.next.lock() {
                m.retain(|_, next| *next > now);
            }
        }
        if let Ok(mut h) = self.held.lock() {
            h.retain(|_, until| *until > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chat_gets_one_message_a_second_and_groups_one_every_three() {
        let p = Pacer::telegram();
        let start = std::time::Instant::now();
        for _ in 0..3 {
            p.wait("12345").await;
        }
        let private = start.elapsed();
        assert!(private >= Duration::from_millis(1900), "{private:?}");
        let start = std::time::Instant::now();
        for _ in 0..2 {
            p.wait("-100777").await;
        }
        assert!(start.elapsed() >= Duration::from_millis(2900));
    }

    #[tokio::test]
    async fn a_chats_period_counts_from_when_its_message_left_after_the_overall_limit() {
        // The overall limit is the slower one here, as in a fan-out burst:
        // chat `a`'s second message leaves at 1.6 s instead of the 1.0 s
        // its chat allowed; its third must still wait a second after that.
        let p = Pacer::new(
            vec![per_chat(Duration::from_secs(1), |_| true)],
            Duration::from_millis(400),
        );
        for chat in ["a", "b", "c", "d", "a"] {
            p.wait(chat).await;
        }
        let left = std::time::Instant::now();
        p.wait("a").await;
        let gap = left.elapsed();
        assert!(gap >= Duration::from_millis(980), "{gap:?}");
    }

    #[tokio::test]
    async fn a_new_process_waits_one_window_before_its_first_send() {
        let p = Pacer::telegram().hold_after_start();
        let start = std::time::Instant::now();
        p.wait("12345").await;
        assert!(start.elapsed() >= RESTART_HOLD - Duration::from_millis(5));
    }

    #[tokio::test]
    async fn a_hold_delays_only_its_chat() {
        let p = Pacer::discord();
        p.hold_chat("1", Duration::from_millis(600));
        let start = std::time::Instant::now();
        tokio::select! {
            () = p.wait("1") => panic!("the held chat went first"),
            () = p.wait("2") => {}
        }
        p.wait("1").await;
        assert!(start.elapsed() >= Duration::from_millis(600));
    }
}
