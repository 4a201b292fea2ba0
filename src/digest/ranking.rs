//! A Taipei day's posts ranked by net push: `/top` answers with one
//! ranking, and a `top:N` subscription keeps one [`Leaderboard`] message a
//! day (DESIGN.md, "Delivery options, channel kinds and investor words").

use chrono::NaiveDate;

use super::Digest;
use crate::ptt::time::taipei_day;
use crate::text::{strip_controls, truncate_chars};

/// Most of a day's digests read to rank them.
pub const DAY_LIMIT: usize = 2000;

/// The longest title a ranking line shows, in characters.
pub const MAX_TITLE_CHARS: usize = 80;

/// The posts among `digests` (each with when it was first seen, Unix
/// seconds) that fall on `day` (+08:00) — by `posted_at`, else when first
/// seen — and that `keep` accepts: the `n` with the highest net push, ties
/// going to the earlier post (then the smaller id).
pub fn rank(
    digests: Vec<(Digest, i64)>,
    day: NaiveDate,
    keep: impl Fn(&Digest) -> bool,
    n: usize,
) -> Vec<Digest> {
    let mut today: Vec<(Digest, i64)> = digests
        .into_iter()
        .map(|(d, seen)| {
            let at = d.posted_at.map_or(seen, |p| p.timestamp());
            (d, at)
        })
        .filter(|(d, at)| taipei_day(*at).1 == day && keep(d))
        .collect();
    today.sort_by(|(a, at_a), (b, at_b)| {
        b.tally
            .net
            .cmp(&a.tally.net)
            .then(at_a.cmp(at_b))
            .then_with(|| a.id.cmp(&b.id))
    });
    today.into_iter().take(n).map(|(d, _)| d).collect()
}

/// A post's title as a ranking shows it: with its tag (a title that lost
/// it gets it back), without control characters, cut to
/// [`MAX_TITLE_CHARS`].
pub fn ranked_title(d: &Digest) -> String {
    let title = strip_controls(d.display_title());
    let title = match (&d.tag, d.title.as_deref()) {
        (Some(tag), Some(ti)) if !ti.contains(tag.as_str()) => format!("[{tag}] {title}"),
        _ => title,
    };
    truncate_chars(&title, MAX_TITLE_CHARS)
}

/// A ranked post as one line of plain text, `place` counting from 1:
/// `1. 推 24 噓 3 → 15 (+21) [新聞] title url`.
pub fn plain_line(place: usize, d: &Digest) -> String {
    format!(
        "{place}. {} ({:+}) {} {}",
        d.tally_line(" "),
        d.tally.net,
        ranked_title(d),
        d.url
    )
}

/// A `top:N` leaderboard as a chat shows it: a heading, then one line a
/// post, best first (each platform renders the lines: rank, tally, the
/// title linking to the post).
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    /// Names this message among the destination's (its day and its
    /// subscription's board and words): what a platform's idempotency key is made
    /// of.
    pub key: String,
    /// A short name (`📊 Stock 2026-12-01`), for what a platform names
    /// apart from the message (a Discord forum post).
    pub name: String,
    /// Posted without a notification (the subscription's `silent:yes`).
    pub silent: bool,
    /// The first line (the board, the day, live or final), in the bot's
    /// language.
    pub heading: String,
    /// The ranked posts, best first.
    pub posts: Vec<Digest>,
}

impl Leaderboard {
    /// What the message shows, in a form that changes exactly when the
    /// rendered message would: the heading's day and state aside, each
    /// post's id, title and tally in order. An edit is due only when this
    /// changes.
    pub fn fingerprint(&self) -> String {
        self.posts
            .iter()
            .map(|d| {
                format!(
                    "{} {} {} {} {}",
                    d.id,
                    d.tally.push,
                    d.tally.boo,
                    d.tally.neutral,
                    ranked_title(d)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ptt::Tally;

    fn post(id: &str, net: i64, seen: i64) -> (Digest, i64) {
        let d: Digest = serde_json::from_value(serde_json::json!({
            "board": "Stock", "id": id,
            "url": format!("https://www.ptt.cc/bbs/Stock/{id}.html"),
            "title": "[新聞] 標題", "tag": "新聞", "is_reply": false,
            "is_forward": false, "author": "a", "posted_at": null,
            "original_title": null, "source_url": null, "published": null,
            "reporter": null, "excerpt": null,
            "tally": {"push": 0, "boo": 0, "neutral": 0, "total": 0, "net": 0},
            "stocks": []
        }))
        .unwrap();
        let push = u32::try_from(net.max(0)).unwrap();
        (
            Digest {
                tally: Tally {
                    push,
                    net,
                    total: push,
                    ..d.tally
                },
                ..d
            },
            seen,
        )
    }

    #[test]
    fn the_days_posts_by_net_push_ties_to_the_earlier() {
        // 2026-01-28 00:00 +08:00.
        let midnight = 1_769_529_600;
        let day = taipei_day(midnight).1;
        let digests = vec![
            post("M.3.A.1", 5, midnight + 300),
            post("M.1.A.1", 9, midnight + 100),
            post("M.2.A.1", 9, midnight + 50),
            post("M.0.A.1", 99, midnight - 1),
            post("M.4.A.1", 7, midnight + 10),
        ];
        let ids = |v: Vec<Digest>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(
            ids(rank(digests.clone(), day, |_| true, 3)),
            ["M.2.A.1", "M.1.A.1", "M.4.A.1"]
        );
        assert_eq!(
            ids(rank(digests, day, |d| d.tally.net < 9, 5)),
            ["M.4.A.1", "M.3.A.1"]
        );
    }
}
