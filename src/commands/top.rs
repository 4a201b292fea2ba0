//! `/top [BOARD] [N]`: today's (+08:00) posts matching this chat's
//! subscriptions, ranked by net push.

use chrono::{DateTime, FixedOffset, TimeZone};

use super::grammar::ParseError;
use super::handler::{Context, Handler, Reply, ReplyKind, fit_lines};
use super::i18n::fill;
use crate::clock::now_secs;
use crate::digest::Digest;
use crate::ptt::Board;
use crate::ptt::time::taipei;
use crate::text::strip_controls;

/// Default of `/top N`.
pub const TOP_DEFAULT: u8 = 10;
/// Fewest posts `/top` ranks.
pub const TOP_MIN: u8 = 3;
/// Most posts `/top` ranks.
pub const TOP_MAX: u8 = 20;

/// Most of the day's digests read to rank them.
const DAY_LIMIT: usize = 2000;

/// A parsed `/top`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    /// Only this board's posts (any case); all the chat's boards when `None`.
    pub board: Option<String>,
    /// How many posts ([`TOP_MIN`]–[`TOP_MAX`]).
    pub n: u8,
}

impl Top {
    /// From the words after `/top`: an optional board, then an optional
    /// count.
    pub fn parse(words: &[String]) -> Result<Self, ParseError> {
        let count = |w: &String| match w.parse::<u8>() {
            Ok(n) if (TOP_MIN..=TOP_MAX).contains(&n) => Ok(n),
            _ => Err(ParseError::BadTopCount(w.clone())),
        };
        let numeric = |w: &String| w.chars().all(|c| c.is_ascii_digit() || c == '-');
        match words {
            [] => Ok(Top {
                board: None,
                n: TOP_DEFAULT,
            }),
            [n] if numeric(n) => Ok(Top {
                board: None,
                n: count(n)?,
            }),
            [b] => Ok(Top {
                board: Some(b.clone()),
                n: TOP_DEFAULT,
            }),
            [b, n] if !numeric(b) => Ok(Top {
                board: Some(b.clone()),
                n: count(n)?,
            }),
            _ => Err(ParseError::UnexpectedWords),
        }
    }

    /// One line a post (`1. 推 24 噓 3 → 15 [新聞] title url`), the
    /// highest net push first (ties: the earlier post), cut to fit.
    pub(super) async fn apply(self, h: &Handler, ctx: &Context) -> crate::store::Result<Reply> {
        let t = ctx.lang.texts();
        let board = match &self.board {
            None => None,
            Some(name) => match h.board_named(Some(name)) {
                Some(b) => Some(b.clone()),
                None => {
                    return Ok(Reply::new(
                        ReplyKind::Error,
                        fill(
                            t.board_not_polled,
                            &[("board", name), ("boards", &h.board_list())],
                        ),
                    ));
                }
            },
        };
        let subs: Vec<_> = h
            .store()
            .subscriptions_of(&ctx.dest)
            .await?
            .into_iter()
            .filter(|s| {
                board
                    .as_ref()
                    .is_none_or(|b| s.board.eq_ignore_case(b.as_str()))
            })
            .collect();
        let mut boards: Vec<Board> = subs.iter().map(|s| s.board.clone()).collect();
        boards.sort_by_key(|b| b.as_str().to_ascii_lowercase());
        boards.dedup_by(|a, b| a.eq_ignore_case(b.as_str()));
        let now = now_secs();
        let (day_start, day) = taipei_day(now);
        let digests = if boards.is_empty() {
            Vec::new()
        } else {
            h.store()
                .digests_since(&boards, day_start, DAY_LIMIT)
                .await?
        };
        let mut today: Vec<(Digest, i64)> = digests
            .into_iter()
            .map(|(d, seen)| {
                let at = d.posted_at.map_or(seen, |p| p.timestamp());
                (d, at)
            })
            .filter(|(d, at)| {
                taipei_day(*at).1 == day
                    && subs
                        .iter()
                        .any(|s| s.board.eq_ignore_case(&d.board) && s.filter.matches(d))
            })
            .collect();
        today.sort_by(|(a, at_a), (b, at_b)| {
            b.tally
                .net
                .cmp(&a.tally.net)
                .then(at_a.cmp(at_b))
                .then_with(|| a.id.cmp(&b.id))
        });
        let lines: Vec<String> = today
            .iter()
            .take(usize::from(self.n))
            .enumerate()
            .map(|(i, (d, _))| format!("{}. {}", i + 1, line(d)))
            .collect();
        if lines.is_empty() {
            return Ok(Reply::new(ReplyKind::Info, t.top_empty));
        }
        let heading = fill(
            t.top_heading,
            &[("day", &day.format("%Y-%m-%d").to_string())],
        );
        Ok(Reply::new(
            ReplyKind::Info,
            fit_lines(t, &heading, &lines, ctx.max_reply_chars),
        ))
    }
}

/// A post's line: its tally, its title (with its tag, as PTT shows it; no
/// controls) and its link.
fn line(d: &Digest) -> String {
    let title = strip_controls(d.display_title());
    let title = match (&d.tag, d.title.as_deref()) {
        // A title that lost its tag (never on PTT's own index) gets it back.
        (Some(tag), Some(ti)) if !ti.contains(tag.as_str()) => format!("[{tag}] {title}"),
        _ => title,
    };
    format!(
        "{} ({:+}) {} {}",
        d.tally_line(" "),
        d.tally.net,
        crate::text::truncate_chars(&title, 120),
        d.url
    )
}

/// The +08:00 day of `at` (Unix seconds): when it starts, and its date.
fn taipei_day(at: i64) -> (i64, chrono::NaiveDate) {
    let local: DateTime<FixedOffset> = taipei()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_board_then_a_count_both_optional() {
        let top = |b: Option<&str>, n| Top {
            board: b.map(str::to_owned),
            n,
        };
        assert_eq!(Top::parse(&[]), Ok(top(None, 10)));
        assert_eq!(Top::parse(&words(&["5"])), Ok(top(None, 5)));
        assert_eq!(Top::parse(&words(&["stock"])), Ok(top(Some("stock"), 10)));
        assert_eq!(
            Top::parse(&words(&["Stock", "20"])),
            Ok(top(Some("Stock"), 20))
        );
        for bad in ["2", "21", "0", "-3", "999"] {
            assert_eq!(
                Top::parse(&words(&[bad])),
                Err(ParseError::BadTopCount(bad.into()))
            );
        }
        assert_eq!(
            Top::parse(&words(&["5", "Stock"])),
            Err(ParseError::UnexpectedWords)
        );
        assert_eq!(
            Top::parse(&words(&["Stock", "5", "x"])),
            Err(ParseError::UnexpectedWords)
        );
    }

    #[test]
    fn the_day_turns_at_midnight_in_taipei() {
        // 2026-01-28 00:00 +08:00 = 2026-01-27 16:00 UTC.
        let midnight = 1_769_529_600;
        assert_eq!(taipei_day(midnight).0, midnight);
        assert_eq!(taipei_day(midnight + 86_399).0, midnight);
        assert_eq!(taipei_day(midnight - 1).0, midnight - 86_400);
        assert_eq!(taipei_day(midnight).1.to_string(), "2026-01-28");
    }
}
