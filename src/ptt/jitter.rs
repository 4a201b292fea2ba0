//! Random jitter, drawn in one place so that a deterministic run (a
//! simulation on a paused clock) replays it: see [`crate::clock`].

/// A random factor in `[low, high]` (uniform; `low` when the range is empty),
/// to spread retries and polls so that they do not march in step.
pub fn factor(low: f64, high: f64) -> f64 {
    if high > low {
        crate::clock::random_range(low..=high)
    } else {
        low
    }
}
