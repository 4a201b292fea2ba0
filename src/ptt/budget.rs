//! The request budget: one token bucket shared by every request sent to PTT.
//!
//! PTT is a volunteer-run site behind Cloudflare, so all traffic (index polls,
//! article fetches, catch-up pages, tally re-fetches) draws from one bucket of
//! `ptt.requests_per_sec` tokens a second with a burst of [`BURST`]. When
//! several tasks wait, the most urgent kind of request goes first
//! ([`Priority`]), and within one priority the first to ask is served first.
//! A 429 or a Cloudflare page anywhere pauses everything through
//! [`RequestBudget::hold_off`], so one warning slows all PTT traffic, not just
//! the request that received it.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How many requests may go out back to back after an idle spell.
pub const BURST: f64 = 3.0;

/// What a request is for; earlier variants are served first.
///
/// The order is the design's: a missed index poll delays every relay, a new
/// article is what users wait for, catch-up pages can lag a little, and tally
/// re-fetches only refresh numbers already sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// A board's newest index page (the regular poll).
    Index,
    /// An article that is about to be relayed.
    Article,
    /// Older index pages walked back after downtime.
    Catchup,
    /// Re-fetching an already relayed article for its push tally.
    Tally,
}

impl Priority {
    const COUNT: usize = 4;

    fn rank(self) -> usize {
        match self {
            Priority::Index => 0,
            Priority::Article => 1,
            Priority::Catchup => 2,
            Priority::Tally => 3,
        }
    }
}

/// The rate given to [`RequestBudget::new`] was zero, negative or not a
/// number.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("requests_per_sec must be a positive number, got {0}")]
pub struct InvalidRate(pub f64);

/// A priority-ordered token bucket shared by all PTT requests.
///
/// Cloning is cheap and every clone draws from the same bucket (the state is
/// behind an `Arc`), so hand clones to every task instead of wrapping this in
/// another `Arc`.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rate: f64,
    state: Mutex<State>,
    /// Woken whenever the head of the queue may have changed: a token was
    /// taken, a waiter gave up, a waiter arrived, or a hold-off was set.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    /// When `tokens` was last brought up to date. May lie in the future after
    /// a hold-off: refilling starts only when the hold-off ends.
    refilled_at: Instant,
    hold_until: Option<Instant>,
    queues: [VecDeque<u64>; Priority::COUNT],
    next_ticket: u64,
}

impl State {
    fn refill(&mut self, now: Instant, rate: f64) {
        if now > self.refilled_at {
            let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * rate).min(BURST);
            self.refilled_at = now;
        }
    }

    /// The ticket that is served next: the oldest of the most urgent
    /// non-empty queue.
    fn head(&self) -> Option<u64> {
        self.queues.iter().find_map(|q| q.front().copied())
    }

    fn remove(&mut self, rank: usize, ticket: u64) -> bool {
        let queue = &mut self.queues[rank];
        match queue.iter().position(|&t| t == ticket) {
            Some(i) => {
                queue.remove(i);
                true
            }
            None => false,
        }
    }
}

impl RequestBudget {
    /// A full bucket refilled at `requests_per_sec` tokens a second (values
    /// below 1, such as 0.5, mean one request every few seconds).
    pub fn new(requests_per_sec: f64) -> Result<Self, InvalidRate> {
        if !(requests_per_sec.is_finite() && requests_per_sec > 0.0) {
            return Err(InvalidRate(requests_per_sec));
        }
        Ok(RequestBudget {
            inner: Arc::new(Inner {
                rate: requests_per_sec,
                state: Mutex::new(State {
                    tokens: BURST,
                    refilled_at: Instant::now(),
                    hold_until: None,
                    queues: Default::default(),
                    next_ticket: 0,
                }),
                changed: Notify::new(),
            }),
        })
    }

    /// The configured rate in requests a second.
    pub fn requests_per_sec(&self) -> f64 {
        self.inner.rate
    }

    /// Waits for one token. Returns once a token is available, any hold-off
    /// has passed, and no earlier caller of the same or a more urgent
    /// priority is still waiting.
    ///
    /// Cancel-safe: dropping the future gives up the place in the queue
    /// without consuming a token.
    pub async fn acquire(&self, priority: Priority) {
        let inner = &*self.inner;
        let rank = priority.rank();
        let ticket = {
            let mut state = inner.lock();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.queues[rank].push_back(ticket);
            ticket
        };
        let mut place = Place {
            inner,
            rank,
            ticket,
            served: false,
        };
        // A newcomer may now be the head (it outranks the old one), and the
        // old head must then stop waiting for a token that is not its.
        inner.changed.notify_waiters();

        loop {
            // Register interest before looking at the state, so a change made
            // between the look and the wait is not missed.
            let mut changed = pin!(inner.changed.notified());
            changed.as_mut().enable();

            let wake_at = {
                let mut state = inner.lock();
                let now = Instant::now();
                if state.head() != Some(ticket) {
                    None
                } else if let Some(until) = state.hold_until.filter(|&u| u > now) {
                    Some(until)
                } else {
                    state.refill(now, inner.rate);
                    if state.tokens >= 1.0 {
                        state.tokens -= 1.0;
                        state.remove(rank, ticket);
                        place.served = true;
                        drop(state);
                        // The next in line becomes the head.
                        inner.changed.notify_waiters();
                        return;
                    }
                    // At least the timer's resolution: a wait that rounds to
                    // nothing would find the bucket unchanged on a clock that
                    // has not moved (a paused one) and spin.
                    let missing = (1.0 - state.tokens) / inner.rate;
                    Some(now + Duration::from_secs_f64(missing).max(Duration::from_millis(1)))
                }
            };

            match wake_at {
                Some(at) => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// Makes every acquisition wait at least until `until`, e.g. for a
    /// `Retry-After` or after a Cloudflare block. An earlier `until` than a
    /// hold-off already in force changes nothing.
    ///
    /// After the hold-off, requests resume at the steady rate: the bucket
    /// holds a single token at `until` instead of a full burst, so a
    /// rate-limited site is not hit with three requests at once.
    pub fn hold_off(&self, until: Instant) {
        {
            let mut state = self.inner.lock();
            if until <= Instant::now() || state.hold_until.is_some_and(|u| u >= until) {
                return;
            }
            state.hold_until = Some(until);
            state.tokens = 1.0;
            state.refilled_at = until;
        }
        self.inner.changed.notify_waiters();
    }

    /// When the current hold-off ends, if one is in force.
    pub fn held_until(&self) -> Option<Instant> {
        let state = self.inner.lock();
        state.hold_until.filter(|&u| u > Instant::now())
    }

    /// How many callers are waiting in [`acquire`](Self::acquire) right now.
    pub fn waiting(&self) -> usize {
        self.inner.lock().queues.iter().map(VecDeque::len).sum()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update
        // under the lock is a plain assignment.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A waiter's place in the queue; leaving it (a cancelled acquire) frees the
/// place and lets the next waiter move up.
struct Place<'a> {
    inner: &'a Inner,
    rank: usize,
    ticket: u64,
    served: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let removed = self.inner.lock().remove(self.rank, self.ticket);
        if removed {
            self.inner.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    //! Real-time tests (tokio's `test-util` feature, needed for
    //! `tokio::time::pause`, is not enabled in this crate): rates are high
    //! so the tests stay fast, and only lower bounds on elapsed time are
    //! asserted.

    use super::*;
    use std::sync::Mutex as StdMutex;
    use std::time::Duration;

    async fn wait_for_waiters(budget: &RequestBudget, n: usize) {
        for _ in 0..10_000 {
            if budget.waiting() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("waiters never queued");
    }

    #[test]
    fn rejects_rates_that_are_not_positive() {
        assert!(RequestBudget::new(0.0).is_err());
        assert!(RequestBudget::new(-1.0).is_err());
        assert!(RequestBudget::new(f64::NAN).is_err());
        assert!(RequestBudget::new(f64::INFINITY).is_err());
        assert!(RequestBudget::new(0.5).is_ok());
    }

    #[tokio::test]
    async fn burst_is_served_at_once() {
        let budget = RequestBudget::new(0.01).unwrap();
        // Three tokens at once; a fourth would take 100 s.
        tokio::time::timeout(Duration::from_secs(30), async {
            for _ in 0..3 {
                budget.acquire(Priority::Tally).await;
            }
        })
        .await
        .expect("the burst of three is immediate");
    }

    #[tokio::test]
    async fn rate_limits_acquisitions_after_the_burst() {
        let rate = 40.0;
        let budget = RequestBudget::new(rate).unwrap();
        let n = 11;
        let start = Instant::now();
        for _ in 0..n {
            budget.acquire(Priority::Index).await;
        }
        let expected = (n as f64 - BURST) / rate; // 0.2 s
        let took = start.elapsed().as_secs_f64();
        assert!(
            took >= expected * 0.95,
            "took {took}s, expected ≥ {expected}s"
        );
    }

    #[tokio::test]
    async fn fractional_rate_spaces_requests() {
        let budget = RequestBudget::new(0.5).unwrap();
        for _ in 0..3 {
            budget.acquire(Priority::Index).await;
        }
        // Half a token a second: the fourth request needs 2 s. Check it is
        // still waiting after a while, then stop waiting (keep the test fast).
        let fourth =
            tokio::time::timeout(Duration::from_millis(300), budget.acquire(Priority::Index)).await;
        assert!(fourth.is_err(), "the fourth token came too early");
        assert_eq!(budget.waiting(), 0, "a cancelled acquire leaves the queue");
    }

    #[tokio::test]
    async fn higher_priority_waiter_goes_first() {
        let budget = RequestBudget::new(20.0).unwrap();
        // Nobody is served while all three queue up, however slow the
        // machine is at spawning them.
        budget.hold_off(Instant::now() + Duration::from_millis(500));
        let order = Arc::new(StdMutex::new(Vec::new()));

        let spawn = |p: Priority| {
            let budget = budget.clone();
            let order = Arc::clone(&order);
            tokio::spawn(async move {
                budget.acquire(p).await;
                order.lock().unwrap().push(p);
            })
        };
        let tally = spawn(Priority::Tally);
        wait_for_waiters(&budget, 1).await;
        let catchup = spawn(Priority::Catchup);
        wait_for_waiters(&budget, 2).await;
        let index = spawn(Priority::Index);
        wait_for_waiters(&budget, 3).await;

        for task in [tally, catchup, index] {
            task.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec![Priority::Index, Priority::Catchup, Priority::Tally]
        );
    }

    #[tokio::test]
    async fn same_priority_is_first_come_first_served() {
        let budget = RequestBudget::new(20.0).unwrap();
        budget.hold_off(Instant::now() + Duration::from_millis(500));
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..4 {
            let b = budget.clone();
            let o = Arc::clone(&order);
            tasks.push(tokio::spawn(async move {
                b.acquire(Priority::Article).await;
                o.lock().unwrap().push(i);
            }));
            wait_for_waiters(&budget, i + 1).await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn hold_off_delays_every_acquire() {
        let budget = RequestBudget::new(100.0).unwrap();
        let start = Instant::now();
        let until = start + Duration::from_millis(300);
        budget.hold_off(until);
        // An earlier hold-off does not shorten the one in force.
        budget.hold_off(start + Duration::from_millis(10));
        assert_eq!(budget.held_until(), Some(until));

        let b = budget.clone();
        let other = tokio::spawn(async move {
            b.acquire(Priority::Tally).await;
            Instant::now()
        });
        budget.acquire(Priority::Index).await;
        assert!(Instant::now() >= until);
        assert!(other.await.unwrap() >= until);
    }

    #[tokio::test]
    async fn hold_off_applies_to_a_waiter_already_queued() {
        // One token a second: the queued waiter cannot be served before the
        // hold-off below is set.
        let budget = RequestBudget::new(1.0).unwrap();
        for _ in 0..3 {
            budget.acquire(Priority::Index).await;
        }
        let b = budget.clone();
        let waiter = tokio::spawn(async move {
            b.acquire(Priority::Index).await;
            Instant::now()
        });
        wait_for_waiters(&budget, 1).await;
        let until = Instant::now() + Duration::from_millis(250);
        budget.hold_off(until);
        assert!(waiter.await.unwrap() >= until);
    }
}
