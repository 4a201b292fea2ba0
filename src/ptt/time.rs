//! PTT's clock: Asia/Taipei, a fixed +08:00 with no daylight saving.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Asia/Taipei as a fixed offset.
pub fn taipei() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The +08:00 day of `at` (Unix seconds): when it starts (Unix seconds),
/// and its date.
pub fn taipei_day(at: i64) -> (i64, NaiveDate) {
    let local = taipei()
        .timestamp_opt(at, 0)
        .single()
        .unwrap_or_else(|| taipei().timestamp_opt(0, 0).single().expect("the epoch"));
    let date = local.date_naive();
    let start = taipei()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .map_or(at, |s| s.timestamp());
    (start, date)
}

/// Parses the 時間 metaline value, C `asctime` format
/// (`Sat Jul  4 13:48:46 2020`), as Taipei time.
pub fn parse_asctime(s: &str) -> Option<DateTime<FixedOffset>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    // Weekday is optional in practice; accept "Jul 4 13:48:46 2020" too.
    let words = match words.len() {
        5 => &words[1..],
        4 => &words[..],
        _ => return None,
    };
    let joined = words.join(" ");
    let naive = NaiveDateTime::parse_from_str(&joined, "%b %d %H:%M:%S %Y").ok()?;
    taipei().from_local_datetime(&naive).single()
}

/// Formats a time for users: `YYYY-MM-DD HH:MM` in +08:00.
pub fn display(t: &DateTime<FixedOffset>) -> String {
    t.with_timezone(&taipei())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Resolves a date without a year (`7/04`, an index row's date) to the year
/// that puts it closest to `now` and not more than a day ahead.
pub fn resolve_month_day(md: &str, now: DateTime<Utc>) -> Option<NaiveDate> {
    let (m, d) = md.trim().split_once('/')?;
    let (m, d): (u32, u32) = (m.trim().parse().ok()?, d.trim().parse().ok()?);
    let today = now.with_timezone(&taipei()).date_naive();
    let limit = today.succ_opt()?;
    [today.year() + 1, today.year(), today.year() - 1]
        .into_iter()
        .filter_map(|y| NaiveDate::from_ymd_opt(y, m, d))
        .filter(|date| *date <= limit)
        .min_by_key(|date| (today - *date).num_days().abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_turns_at_midnight_in_taipei() {
        // 2026-01-28 00:00 +08:00 = 2026-01-27 16:00 UTC.
        let midnight = 1_769_529_600;
        assert_eq!(taipei_day(midnight).0, midnight);
        assert_eq!(taipei_day(midnight + 86_399).0, midnight);
        assert_eq!(taipei_day(midnight - 1).0, midnight - 86_400);
        assert_eq!(taipei_day(midnight).1.to_string(), "2026-01-28");
    }

    #[test]
    fn asctime_with_padded_day_is_taipei_time() {
        let t = parse_asctime("Sat Jul  4 13:48:46 2020").unwrap();
        assert_eq!(t.to_rfc3339(), "2020-07-04T13:48:46+08:00");
        assert!(parse_asctime("yesterday").is_none());
        assert_eq!(display(&t), "2020-07-04 13:48");
    }

    #[test]
    fn month_day_takes_the_nearest_year_not_in_the_future() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(
            resolve_month_day("12/31", now),
            NaiveDate::from_ymd_opt(2025, 12, 31)
        );
        assert_eq!(
            resolve_month_day(" 1/03", now),
            NaiveDate::from_ymd_opt(2026, 1, 3)
        );
        assert_eq!(resolve_month_day("2/30", now), None);
    }
}
