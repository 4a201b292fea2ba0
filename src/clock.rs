//! Wall-clock time and jitter, with a virtual mode for deterministic
//! simulation.
//!
//! Everything in the relay that asks "what time is it" (Unix seconds for the
//! store) or "how much jitter" goes through here. In production both come
//! from the system: [`now_secs`] is `chrono::Utc::now()` and [`random_range`]
//! the thread-local RNG. A simulation test calls [`simulate`] on the thread
//! that runs its current-thread tokio runtime with a paused clock: from then
//! on, and until the returned guard is dropped, Unix time on that thread is a
//! fixed starting point plus the runtime's virtual elapsed time
//! (`tokio::time::Instant`), and jitter comes from an RNG seeded by the test.
//! All of the runtime's tasks run on that thread, so one seed replays one
//! history.

use std::cell::RefCell;

use rand::distr::uniform::{SampleRange, SampleUniform};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

struct Virtual {
    /// Unix seconds at `start`.
    base_secs: i64,
    start: tokio::time::Instant,
    rng: StdRng,
    /// Set by [`hold_still`]: the Unix seconds to report meanwhile.
    held: Option<i64>,
}

thread_local! {
    static VIRTUAL: RefCell<Option<Virtual>> = const { RefCell::new(None) };
}

/// Seconds since the Unix epoch (virtual under [`simulate`]).
pub fn now_secs() -> i64 {
    VIRTUAL.with(|v| match &*v.borrow() {
        Some(Virtual {
            held: Some(secs), ..
        }) => *secs,
        Some(sim) => {
            let elapsed = tokio::time::Instant::now().saturating_duration_since(sim.start);
            sim.base_secs
                .saturating_add(i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        }
        None => chrono::Utc::now().timestamp(),
    })
}

/// A random value in `range`, for jitter (seeded under [`simulate`]).
///
/// # Panics
/// When `range` is empty, as [`rand::Rng::random_range`] does.
pub fn random_range<T, R>(range: R) -> T
where
    T: SampleUniform,
    R: SampleRange<T>,
{
    VIRTUAL.with(|v| match &mut *v.borrow_mut() {
        Some(sim) => sim.rng.random_range(range),
        None => rand::rng().random_range(range),
    })
}

/// Restores the system clock when dropped.
#[must_use = "the virtual clock ends when the guard is dropped"]
pub struct SimulationGuard(());

impl Drop for SimulationGuard {
    fn drop(&mut self) {
        VIRTUAL.with(|v| v.borrow_mut().take());
    }
}

/// Switches this thread to virtual time: Unix time `base_secs` now, then
/// advancing with `tokio::time::Instant` (pause the runtime's clock to make
/// it virtual), and jitter from an RNG seeded with `seed`. For simulation
/// tests only; call it inside the runtime.
pub fn simulate(base_secs: i64, seed: u64) -> SimulationGuard {
    VIRTUAL.with(|v| {
        *v.borrow_mut() = Some(Virtual {
            base_secs,
            start: tokio::time::Instant::now(),
            rng: StdRng::seed_from_u64(seed),
            held: None,
        });
    });
    SimulationGuard(())
}

/// Runs `f` with this thread's virtual Unix time held at its current value
/// (a no-op outside [`simulate`]). A simulation uses it while it drives
/// something on another runtime synchronously, e.g. a store whose
/// connections live on a real-time runtime: `tokio::time::Instant` there is
/// not the simulation's.
pub fn hold_still<R>(f: impl FnOnce() -> R) -> R {
    let now = now_secs();
    let previous = VIRTUAL.with(|v| v.borrow_mut().as_mut().map(|sim| sim.held.replace(now)));
    let out = f();
    if let Some(previous) = previous {
        VIRTUAL.with(|v| {
            if let Some(sim) = v.borrow_mut().as_mut() {
                sim.held = previous;
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn virtual_time_follows_the_paused_clock_and_jitter_replays() {
        let draws = |seed| {
            let _guard = simulate(1_000, seed);
            (0..5)
                .map(|_| random_range(0..1_000_000))
                .collect::<Vec<u32>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));

        let guard = simulate(1_764_490_000, 1);
        assert_eq!(now_secs(), 1_764_490_000);
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(now_secs(), 1_764_490_090);
        drop(guard);
        assert!(now_secs() > 1_764_490_090 + 86_400 * 365 || now_secs() > 1_700_000_000);
    }
}
