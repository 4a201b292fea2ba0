//! `/top [BOARD] [N]`: today's (+08:00) posts matching this chat's
//! subscriptions, ranked by net push.

use super::grammar::ParseError;
use super::handler::{Context, Handler, Reply, ReplyKind, fit_lines};
use super::i18n::fill;
use crate::clock::now_secs;
use crate::digest::ranking::{DAY_LIMIT, plain_line, rank};
use crate::ptt::Board;
use crate::ptt::time::taipei_day;

/// Default of `/top N`.
pub const TOP_DEFAULT: u8 = 10;
pub use crate::filter::{TOP_MAX, TOP_MIN};

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
        let ranked = rank(
            digests,
            day,
            |d| {
                subs.iter()
                    .any(|s| s.board.eq_ignore_case(&d.board) && s.filter.matches(d))
            },
            usize::from(self.n),
        );
        let lines: Vec<String> = ranked
            .iter()
            .enumerate()
            .map(|(i, d)| plain_line(i + 1, d))
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
}
