//! The platform-neutral summary of one post, and its renderings for each
//! chat platform and the console.

pub mod links;
pub mod ranking;
pub mod text;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::ptt::{self, Article, Board, PostId, Tally, TitleInfo};
use crate::text::truncate_chars;

/// The most characters each digest field keeps (DESIGN.md, "Bounds"): a
/// longer value is cut and ends with `…`. The digest is stored once per post
/// and read back by `/latest`, so a hostile page cannot bloat the store.
pub mod caps {
    /// `title`, in characters (PTT itself allows far less; a forged page may not).
    pub const TITLE: usize = 200;
    /// `original_title` (原文標題), in characters.
    pub const ORIGINAL_TITLE: usize = 300;
    /// `published` (發布時間), in characters.
    pub const PUBLISHED: usize = 100;
    /// `reporter` (記者署名), in characters.
    pub const REPORTER: usize = 200;
    /// `excerpt` (原文內容), in characters (cut where it is read).
    pub const EXCERPT: usize = crate::ptt::news::EXCERPT_MAX_CHARS;
    /// `author`, in characters (PTT user ids are at most 12).
    pub const AUTHOR: usize = 40;
    /// `source_url`, in characters: a longer link is `null`, never cut (a
    /// cut link is a dead one); enforced where the link is read.
    pub const SOURCE_URL: usize = crate::ptt::news::MAX_SOURCE_URL_CHARS;
    /// `stocks`: the most companies listed (codes and names from the
    /// embedded table, so each entry is short).
    pub const STOCKS: usize = crate::stocks::MAX_IN_DIGEST;
}

/// A listed company a post mentions: `{"code": "2330", "name": "台積電"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRef {
    /// The exchange code.
    pub code: String,
    /// The short name.
    pub name: String,
}

/// A rise of the net push by at least `rise` within `minutes`: the
/// subscription word `hot:N/M` (`crate::filter`), and what a message
/// relayed for it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hot {
    /// N, 1–`filter::MAX_HOT_RISE`.
    pub rise: u32,
    /// M, 1–`filter::MAX_HOT_MINUTES`.
    pub minutes: u32,
}

impl Hot {
    /// Reads `N/M` (already normalised); `None` when malformed or out of range.
    /// The line a message relayed for it shows: `🔥 +20 in 10 min`.
    pub fn line(self) -> String {
        format!("🔥 +{} in {} min", self.rise, self.minutes)
    }
}

/// One post's digest. Serializes to exactly the JSON of DESIGN.md's "Digest
/// JSON" (every key present, `null` for what the page lacks), and is what the
/// outbox stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// The board.
    pub board: String,
    /// The post id.
    pub id: String,
    /// `https://www.ptt.cc/bbs/{board}/{id}.html`, never from `ptt.base_url`.
    pub url: String,
    /// The PTT title.
    pub title: Option<String>,
    /// The text inside the title's leading brackets.
    pub tag: Option<String>,
    /// `Re:`
    pub is_reply: bool,
    /// `Fw:`
    pub is_forward: bool,
    /// The author's user id, without the nickname.
    pub author: Option<String>,
    /// The 時間 metaline, +08:00.
    pub posted_at: Option<DateTime<FixedOffset>>,
    /// 原文標題
    pub original_title: Option<String>,
    /// The first URL of 原文連結.
    pub source_url: Option<String>,
    /// 發布時間
    pub published: Option<String>,
    /// 記者署名
    pub reporter: Option<String>,
    /// 原文內容, at most 300 characters.
    pub excerpt: Option<String>,
    /// The reaction tally.
    pub tally: Tally,
    /// The listed companies the title, then the excerpt, mention (at most
    /// [`caps::STOCKS`]). Digests stored before this key read as none.
    #[serde(default)]
    pub stocks: Vec<StockRef>,
    /// Set on the copy rendered for one destination when it gets the post
    /// because it caught fire (`hot:N/M`): renderers add [`Hot::line`].
    /// Never stored nor in the digest JSON.
    #[serde(skip)]
    pub hot: Option<Hot>,
}

impl Digest {
    /// Builds the digest of a parsed article whose board and id are known.
    pub fn from_article(article: &Article, board: &Board, id: &PostId) -> Digest {
        let title = article.title.clone().filter(|t| !t.trim().is_empty());
        let info = title.as_deref().map(TitleInfo::parse).unwrap_or_default();
        let news = ptt::extract_news_linked(&article.body, &article.links);
        let cap = |v: Option<String>, max: usize| v.map(|s| truncate_chars(&s, max));
        let title = cap(title, caps::TITLE);
        let stocks =
            crate::stocks::mentioned(title.as_deref().unwrap_or(""), news.excerpt.as_deref())
                .into_iter()
                .take(caps::STOCKS)
                .map(|c| StockRef {
                    code: c.code.to_owned(),
                    name: c.name.to_owned(),
                })
                .collect();
        Digest {
            board: board.as_str().to_owned(),
            id: id.as_str().to_owned(),
            url: ptt::post_url(board, id),
            title,
            tag: info.tag,
            is_reply: info.is_reply,
            is_forward: info.is_forward,
            author: cap(article.author.clone(), caps::AUTHOR),
            posted_at: article.posted_at,
            original_title: cap(news.original_title, caps::ORIGINAL_TITLE),
            source_url: news.source_url,
            published: cap(news.published, caps::PUBLISHED),
            reporter: cap(news.reporter, caps::REPORTER),
            excerpt: news.excerpt,
            tally: article.tally(),
            stocks,
            hot: None,
        }
    }

    /// The title to show: the PTT title, else the post id.
    pub fn display_title(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.id)
    }

    /// `推 24 噓 3 → 15`, with `sep` between the three.
    pub fn tally_line(&self, sep: &str) -> String {
        format!(
            "推 {}{sep}噓 {}{sep}→ {}",
            self.tally.push, self.tally.boo, self.tally.neutral
        )
    }

    /// `標的：台積電 2330、鴻海 2317`, or `None` when no company is mentioned.
    pub fn stocks_line(&self) -> Option<String> {
        (!self.stocks.is_empty()).then(|| {
            let names: Vec<String> = self
                .stocks
                .iter()
                .take(caps::STOCKS)
                .map(|s| format!("{} {}", s.name, s.code))
                .collect();
            format!("標的：{}", names.join("、"))
        })
    }

    /// `🔥 +20 in 10 min` when this copy is relayed for a `hot:` word.
    pub fn hot_line(&self) -> Option<String> {
        self.hot.map(Hot::line)
    }

    /// `someid · 2026-01-28 13:25`, or whichever of the two is known.
    pub fn byline(&self) -> String {
        let time = self.posted_at.as_ref().map(ptt::time::display);
        [self.author.clone(), time]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ")
    }
}
