//! Proactive pacing inside each platform's limits, shared by deliveries,
//! edits and command replies: a message waits here before it is sent, so
//! the platform never has to refuse it.
//!
//! Telegram: 1 message a second per chat, 20 a minute per group or channel
//! (negative chat ids), 30 in any second overall. Discord: one every 1.05 s
//! per channel (Discord allows 5 per 5 s), 47 in any second overall
//! (Discord allows 50). Limits are smooth (burst 1), so no window of the
//! platform's can see more than its limit.
//!
//! **The overall limit holds for the whole deployment.** Replicas sharing a
//! PostgreSQL store beat every second ([`Share`], fed by the app's heartbeat
//! task) and each takes an equal part of the overall limit: with `N` live
//! replicas, a replica lets at most `k = ⌊limit / N⌋` messages go in any
//! one-second window, by spacing them strictly `1.05 s / k` apart (strict
//! spacing lets at most `⌊1 s / spacing⌋ + 1 = k` into any window; the 5 %
//! absorbs the jitter between our clock and the platform's). N replicas
//! together stay within `N·k ≤ limit` in every window, however their sends
//! interleave. A replica whose view of `N` may be stale (its last beat is
//! older than [`Share::FRESH_FOR`]) sends nothing until it beats again, and
//! a replica that joins (or comes back after others may have counted it
//! out) holds for [`Share::JOIN_HOLD`] so the others see it first.
//!
//! A chat's spacing is counted from the moment its message is let go, after
//! the overall limit: when a burst (one post to hundreds of chats) makes
//! the overall limit the slower one, a message leaves later than its chat
//! allowed, and the chat's next message must still wait its full period
//! after that — else the platform sees two messages closer than its limit.
//!
//! Every limit is a "next allowed instant" on tokio's clock, the clock the
//! sleeps use, so a paused (simulated) clock drives the pacer exactly as
//! real time does (governor's limiters keep a clock of their own).
//!
//! A turn can be taken ahead of the call ([`Pacer::take_turn`]): the outbox
//! waits for its turn first, checks that its claim on the row still holds
//! for a whole send, and only then sends; the send uses the turn at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How long a new process waits before its first send (one window of the
/// platforms' per-second limits).
pub const RESTART_HOLD: Duration = Duration::from_secs(1);

/// The window the overall limits count in.
const WINDOW: Duration = Duration::from_secs(1);
/// Spacing is this much wider than the window over the budget.
const SLACK: f64 = 1.05;
/// A turn taken ahead is used by the next call within this long, or lost.
const TURN_KEPT: Duration = Duration::from_secs(2);

/// Which chats a limit applies to.
/// Which chats a per-chat limit applies to, by chat id.
pub type Applies = fn(&str) -> bool;

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

/// How many replicas share the platforms' overall limits, and whether that
/// is known well enough to send. One per process, shared by its pacers.
#[derive(Debug)]
pub struct Share {
    state: Mutex<ShareState>,
}

#[derive(Debug)]
struct ShareState {
    replicas: u32,
    /// `None`: always known (one process alone, e.g. SQLite).
    last_beat: Option<Option<Instant>>,
    hold_until: Option<Instant>,
}

impl Share {
    /// A replica's count is trusted this long after the heartbeat that
    /// read it began (under the others' [`JOIN_HOLD`](Self::JOIN_HOLD),
    /// so a replica that joined meanwhile is seen before it sends, and well
    /// under the store's liveness window, so the others never count this
    /// replica out while it sends).
    pub const FRESH_FOR: Duration = Duration::from_secs(2);
    /// How long a replica that joins, or beats again after a gap in which
    /// the others may have counted it out, holds its sends.
    pub const JOIN_HOLD: Duration = Duration::from_secs(3);
    /// The store counts a replica live while its last beat is this recent
    /// (seconds).
    pub const LIVE_SECS: i64 = 5;
    /// How often a replica beats.
    pub const BEAT: Duration = Duration::from_secs(1);

    /// One process alone with the platforms (SQLite): the whole limit,
    /// always.
    pub fn alone() -> std::sync::Arc<Share> {
        std::sync::Arc::new(Share {
            state: Mutex::new(ShareState {
                replicas: 1,
                last_beat: None,
                hold_until: None,
            }),
        })
    }

    /// A replica among others: nothing may be sent until the first
    /// [`beat`](Self::beat).
    pub fn replica() -> std::sync::Arc<Share> {
        std::sync::Arc::new(Share {
            state: Mutex::new(ShareState {
                replicas: 1,
                last_beat: Some(None),
                hold_until: None,
            }),
        })
    }

    /// A heartbeat that began at `began` found `replicas` live replicas
    /// (this one included).
    pub fn beat(&self, began: Instant, replicas: u32) {
        let Ok(mut s) = self.state.lock() else { return };
        s.replicas = replicas.max(1);
        if let Some(last) = s.last_beat {
            let away = Duration::from_secs(Self::LIVE_SECS as u64 - 1);
            if last.is_none_or(|l| began.duration_since(l) >= away) {
                // New, or back from a gap: the others may not count us yet.
                tracing::info!(replicas, hold = ?Self::JOIN_HOLD, "joining the replicas' share of the platforms' limits");
                s.hold_until = Some(began + Self::JOIN_HOLD);
            }
            s.last_beat = Some(Some(began));
        }
    }

    /// How many replicas share the limits now.
    pub fn replicas(&self) -> u32 {
        self.state.lock().map_or(1, |s| s.replicas)
    }

    /// When sending may go on: `Ok(())` now, `Err(Some(t))` not before
    /// `t`, `Err(None)` not before the next beat.
    fn ready(&self, now: Instant) -> Result<(), Option<Instant>> {
        let Ok(s) = self.state.lock() else {
            return Ok(());
        };
        if let Some(h) = s.hold_until
            && h > now
        {
            return Err(Some(h));
        }
        match s.last_beat {
            None => Ok(()),
            Some(Some(b)) if now < b + Self::FRESH_FOR => Ok(()),
            Some(_) => Err(None),
        }
    }
}

/// The overall limit of one platform: a budget per one-second window for
/// the whole deployment, split among the replicas.
struct Overall {
    /// Messages in any one-second window, all replicas together (`None`:
    /// unlimited).
    budget: Option<u32>,
    share: std::sync::Arc<Share>,
    /// When the next message may be let go.
    next: Mutex<Option<Instant>>,
}

impl Overall {
    /// The spacing of this replica's messages.
    fn spacing(&self) -> Duration {
        match self.budget {
            None => Duration::ZERO,
            Some(b) => {
                let k = (b / self.share.replicas()).max(1);
                WINDOW.mul_f64(SLACK / f64::from(k))
            }
        }
    }

    /// Waits until this replica may let a message go, and takes the turn.
    async fn until_ready(&self) {
        loop {
            let now = Instant::now();
            match self.share.ready(now) {
                Ok(()) => {}
                Err(Some(t)) => {
                    tokio::time::sleep_until(t).await;
                    continue;
                }
                Err(None) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
            // Spaced from when the previous message was actually let go
            // (not from its planned slot): a late wake-up must not let the
            // next ones catch up in a burst.
            let until = {
                let Ok(mut next) = self.next.lock() else {
                    return;
                };
                match *next {
                    Some(n) if n > now => n,
                    _ => {
                        *next = Some(now + self.spacing());
                        return;
                    }
                }
            };
            tokio::time::sleep_until(until).await;
        }
    }
}

/// The limiter set of one platform.
pub struct Pacer {
    per_chat: Vec<ChatLimit>,
    overall: Overall,
    held: Mutex<HashMap<String, Instant>>,
    held_all: Mutex<Option<Instant>>,
    /// Turns taken ahead ([`take_turn`](Self::take_turn)), by chat.
    turns: Mutex<HashMap<String, Instant>>,
    calls: std::sync::atomic::AtomicU64,
}

/// A per-chat limit's period, as the tables below read.
/// A per-chat limit: at least `period` between the messages let go to each
/// chat that `applies` selects (by chat id). A platform's pacing is a few of
/// these and an overall limit ([`Pacer::new`]).
pub fn per_chat(period: Duration, applies: Applies) -> (Duration, Applies) {
    (period, applies)
}

impl Pacer {
    /// No limits (the console, tests).
    pub fn unlimited() -> Self {
        Pacer::new(Vec::new(), None)
    }

    /// A pacer with these per-chat limits ([`per_chat`]) and, if any, an
    /// overall limit of `budget` messages a second (this process alone
    /// with it; see [`shared_by`](Self::shared_by)). Each platform folder
    /// states its own limits.
    pub fn new(per_chat: Vec<(Duration, Applies)>, budget: Option<u32>) -> Self {
        Pacer {
            per_chat: per_chat
                .into_iter()
                .map(|(period, applies)| ChatLimit {
                    period,
                    applies,
                    next: Mutex::new(HashMap::new()),
                })
                .collect(),
            overall: Overall {
                budget,
                share: Share::alone(),
                next: Mutex::new(None),
            },
            held: Mutex::new(HashMap::new()),
            held_all: Mutex::new(None),
            turns: Mutex::new(HashMap::new()),
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The overall limit is the deployment's, shared with the replicas
    /// `share` counts.
    pub fn shared_by(mut self, share: std::sync::Arc<Share>) -> Self {
        self.overall.share = share;
        self
    }

    /// Waits until a message to `chat` may go out, and counts it. A turn
    /// taken ahead for `chat` (and not used yet) is used at once.
    pub async fn wait(&self, chat: &str) {
        if self.use_turn(chat) {
            return;
        }
        self.wait_turn(chat).await;
    }

    /// Waits for `chat`'s turn like [`wait`](Self::wait), and keeps it for
    /// the next call to `chat` within two seconds: a caller can check
    /// something (its claim on a row) between the wait and the send.
    pub async fn take_turn(&self, chat: &str) {
        self.wait_turn(chat).await;
        if let Ok(mut t) = self.turns.lock() {
            t.insert(chat.to_owned(), Instant::now() + TURN_KEPT);
        }
    }

    /// Uses a turn taken ahead for `chat`, if one is kept; the chat's
    /// periods restart from now (the message leaves now, not at the turn).
    fn use_turn(&self, chat: &str) -> bool {
        let kept = self
            .turns
            .lock()
            .ok()
            .and_then(|mut t| t.remove(chat))
            .is_some_and(|until| until > Instant::now());
        if kept {
            let now = Instant::now();
            for l in self.per_chat.iter().filter(|l| (l.applies)(chat)) {
                if let Ok(mut m) = l.next.lock() {
                    m.insert(chat.to_owned(), now + l.period);
                }
            }
        }
        kept
    }

    async fn wait_turn(&self, chat: &str) {
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
            self.overall.until_ready().await;
            // The overall wait may have been long, and another message to
            // this chat (a reply, an edit) may have gone meanwhile.
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
    /// now, counting its next period from now. A turn kept for the chat is
    /// void once another message took the chat's turn.
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
        for (period, m) in &mut maps {
            m.insert(chat.to_owned(), now + *period);
        }
        if let Ok(mut t) = self.turns.lock() {
            t.remove(chat);
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
        if let Ok(mut t) = self.turns.lock() {
            t.retain(|_, until| *until > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Limits like a platform's: 1 s a chat, 3 s a chat whose id starts
    /// with `-`, 30 a second overall.
    fn limits() -> Pacer {
        Pacer::new(
            vec![
                per_chat(Duration::from_secs(1), |_| true),
                per_chat(Duration::from_secs(3), |c| c.starts_with('-')),
            ],
            Some(30),
        )
    }

    #[tokio::test]
    async fn a_chats_period_counts_from_when_its_message_left_after_the_overall_limit() {
        // The overall limit is the slower one here, as in a fan-out burst:
        // chat `a`'s second message leaves at 1.6 s instead of the 1.0 s
        // its chat allowed; its third must still wait a second after that.
        // Two in a window: 525 ms apart.
        let p = Pacer::new(vec![per_chat(Duration::from_secs(1), |_| true)], Some(2));
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
        let p = limits().hold_after_start();
        let start = std::time::Instant::now();
        p.wait("12345").await;
        assert!(start.elapsed() >= RESTART_HOLD - Duration::from_millis(5));
    }

    #[tokio::test]
    async fn a_hold_delays_only_its_chat() {
        let p = limits();
        p.hold_chat("1", Duration::from_millis(600));
        let start = std::time::Instant::now();
        tokio::select! {
            () = p.wait("1") => panic!("the held chat went first"),
            () = p.wait("2") => {}
        }
        p.wait("1").await;
        assert!(start.elapsed() >= Duration::from_millis(600));
    }

    /// Sends let go at these times: the most in any one-second window.
    fn busiest_second(at: &[Instant]) -> usize {
        let mut best = 0;
        let mut first = 0;
        for last in 0..at.len() {
            while at[last].duration_since(at[first]) >= Duration::from_secs(1) {
                first += 1;
            }
            best = best.max(last - first + 1);
        }
        best
    }

    #[tokio::test(start_paused = true)]
    async fn three_replicas_each_take_a_third_of_every_second() {
        let share = Share::replica();
        let p = limits().shared_by(Arc::clone(&share));
        let start = Instant::now();
        share.beat(start, 3);
        let beats = {
            let share = Arc::clone(&share);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Share::BEAT).await;
                    share.beat(Instant::now(), 3);
                }
            })
        };
        let mut at = Vec::new();
        for chat in 0..40 {
            p.wait(&chat.to_string()).await;
            at.push(Instant::now());
        }
        beats.abort();
        // A replica that joins holds first, then lets ⌊30 / 3⌋ = 10 go in
        // any second: three of them stay within Telegram's 30.
        assert!(at[0].duration_since(start) >= Share::JOIN_HOLD);
        assert_eq!(busiest_second(&at), 10);
        let span = at[39].duration_since(at[0]).as_secs_f64();
        assert!(39.0 / span >= 9.0, "{:.1}/s", 39.0 / span);
    }
}
