//! `hot:N/M`: whether a post's net push rose by at least N within M
//! minutes, judged from its push samples ([`PushSample`]): the ranges its
//! index markers allowed when they changed, and the counts its article
//! gave when it was read.
//!
//! A rise counts only when it is proved: the article's count, read at the
//! end of the window, is N above the most some sample inside the window
//! allowed (so a marker's uncertainty — `""` is −9…0, `爆` 100 or more,
//! `X2` −29…−20 — never raises a false alarm). The index poll, which is
//! free, asks first whether such a proof is possible — whether the most
//! the marker now allows is N above that — and only then is the article
//! read (one request).

use std::time::Duration;

use crate::filter::Hot;
use crate::store::PushSample;

/// The window of `hot` in seconds, `minute` being the length of a minute
/// (60 s; tests shorten it).
pub fn window_secs(hot: Hot, minute: Duration) -> i64 {
    i64::from(hot.minutes) * i64::try_from(minute.as_secs().max(1)).unwrap_or(60)
}

/// Whether a read of the article at `now` could prove a rise of
/// `hot.rise` ([`has_risen`]), the net push being now at most `most_now`.
pub fn may_have_risen(
    samples: &[PushSample],
    now: i64,
    most_now: i64,
    hot: Hot,
    minute: Duration,
) -> bool {
    let since = now - window_secs(hot, minute);
    samples
        .iter()
        .filter(|s| s.at >= since && s.at <= now)
        .any(|s| most_now.saturating_sub(s.hi) >= i64::from(hot.rise))
}

/// Whether the article's count `net`, read at `now`, proves a rise of
/// `hot.rise` within the window ending then.
pub fn has_risen(samples: &[PushSample], now: i64, net: i64, hot: Hot, minute: Duration) -> bool {
    let since = now - window_secs(hot, minute);
    samples
        .iter()
        .filter(|s| s.at >= since && s.at <= now)
        .any(|s| net.saturating_sub(s.hi) >= i64::from(hot.rise))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const H20_10: Hot = Hot {
        rise: 20,
        minutes: 10,
    };

    fn s(at: i64, lo: i64, hi: i64) -> PushSample {
        PushSample { at, lo, hi }
    }

    #[test]
    fn a_rise_inside_the_window_counts_and_one_spread_wider_does_not() {
        // 0 → 20 in 8 minutes.
        let fast = [s(0, 0, 0), s(240, 10, 10), s(480, 20, 20)];
        assert!(may_have_risen(&fast, 480, 20, H20_10, MINUTE));
        assert!(has_risen(&fast, 480, 20, H20_10, MINUTE));
        // 0 → 20 in 15 minutes: no 10-minute stretch holds 20.
        let slow = [s(0, 0, 0), s(300, 7, 7), s(600, 13, 13), s(900, 20, 20)];
        assert!(!may_have_risen(&slow, 900, 20, H20_10, MINUTE));
        assert!(!has_risen(&slow, 900, 20, H20_10, MINUTE));
    }

    #[test]
    fn marker_ranges_may_cost_a_read_but_never_fire_alone() {
        // "" (−9…0) then 12: 21 up at most, yet not provably 20: no read.
        let samples = [s(0, -9, 0), s(60, 12, 12)];
        assert!(!may_have_risen(&samples, 60, 12, H20_10, MINUTE));
        // Then 22: a read; the article says 19 (a push was taken back).
        assert!(may_have_risen(&samples, 90, 22, H20_10, MINUTE));
        assert!(!has_risen(&samples, 90, 19, H20_10, MINUTE));
        // 90 → 爆: may; the article's 115 proves +25.
        let boom = [s(0, 90, 90), s(60, 100, crate::ptt::index::UNBOUNDED)];
        assert!(may_have_risen(
            &boom,
            60,
            crate::ptt::index::UNBOUNDED,
            H20_10,
            MINUTE
        ));
        assert!(has_risen(&boom, 60, 115, H20_10, MINUTE));
        // X2 (−29…−20) to 0: the article's −1 proves only +19.
        let from_boos = [s(0, -29, -20)];
        assert!(may_have_risen(&from_boos, 60, 0, H20_10, MINUTE));
        assert!(!may_have_risen(&from_boos, 60, -1, H20_10, MINUTE));
        assert!(!has_risen(&from_boos, 60, -1, H20_10, MINUTE));
        assert!(has_risen(&from_boos, 60, 0, H20_10, MINUTE));
    }

    #[test]
    fn a_shorter_minute_shrinks_the_window() {
        let samples = [s(0, 0, 0)];
        assert!(has_risen(&samples, 10, 20, H20_10, Duration::from_secs(1)));
        assert!(!has_risen(&samples, 11, 20, H20_10, Duration::from_secs(1)));
    }
}
