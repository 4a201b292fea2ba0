//! Board index pages (`/bbs/<Board>/index.html`, `index<N>.html`, and search
//! result pages, which share the markup), in the current and the 2016 layout.

use std::collections::HashSet;
use std::sync::LazyLock;

use scraper::{CaseSensitivity, ElementRef, Html, Selector};

use super::ids::PostId;
use super::title::TitleInfo;

/// The push marker of an index row (`div.nrec`): empty, `1`–`99`, `爆`
/// (100 or more), `X1`–`X9` (−10·N or lower) or `XX` (−100 or lower).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushMarker {
    /// The text as PTT shows it, `""` when empty.
    pub raw: String,
}

/// A net push count beyond any real post's, for the open ends of
/// [`PushMarker::range`].
pub const UNBOUNDED: i64 = 1_000_000;

impl PushMarker {
    /// A bound on the post's net push count that the marker guarantees:
    /// for empty and positive markers a lower bound (`""` → 0, `37` → 37,
    /// `爆` → 100); for `X` markers an upper bound (`X3` → −30, `XX` → −100).
    /// Unknown text counts as 0.
    pub fn bound(&self) -> i32 {
        let raw = self.raw.trim();
        match raw {
            "" => 0,
            "爆" => 100,
            "XX" => -100,
            _ => {
                let b = raw.as_bytes();
                match b {
                    // `1`–`9`.
                    [d @ b'1'..=b'9'] => i32::from(d - b'0'),
                    // `10`–`99`.
                    [t @ b'1'..=b'9', u @ b'0'..=b'9'] => {
                        i32::from(t - b'0') * 10 + i32::from(u - b'0')
                    }
                    // `X1`–`X9`.
                    [b'X', d @ b'1'..=b'9'] => -10 * i32::from(d - b'0'),
                    _ => 0,
                }
            }
        }
    }

    /// The net push counts the marker allows, `(least, most)`, with
    /// [`UNBOUNDED`] standing in for no limit: `""` → −9…0 (PTT shows
    /// nothing from −9 to 0), `37` → 37…37, `爆` → 100…, `X3` → −39…−30,
    /// `XX` → …−100. Unknown text allows anything.
    pub fn range(&self) -> (i64, i64) {
        let b = i64::from(self.bound());
        match self.raw.trim() {
            "" => (-9, 0),
            "爆" => (100, UNBOUNDED),
            "XX" => (-UNBOUNDED, -100),
            _ if b > 0 => (b, b),
            _ if b < 0 => (b - 9, b),
            _ => (-UNBOUNDED, UNBOUNDED),
        }
    }

    /// `true` for `X1`–`X9` and `XX`, where [`bound`](Self::bound) is an
    /// upper bound. Other text starting with `X` is unknown, so `false`.
    pub fn is_negative(&self) -> bool {
        self.bound() < 0
    }
}

/// One `div.r-ent` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// The post id, `None` for a deleted row (or a link without a valid id).
    pub id: Option<PostId>,
    /// The link as given (`/bbs/Stock/M.….html`), `None` when deleted (or
    /// when the title's `<a>` has no href).
    pub href: Option<String>,
    /// The title text, trimmed and unescaped (`(本文已被刪除) [id]` for deleted rows).
    pub title: String,
    /// The text inside the title's leading brackets.
    pub tag: Option<String>,
    /// The title starts with `Re:`.
    pub is_reply: bool,
    /// The title starts with `Fw:`.
    pub is_forward: bool,
    /// The author id (`-` on deleted rows).
    pub author: String,
    /// The `M/DD` date, trimmed.
    pub date: String,
    /// The push marker.
    pub push: PushMarker,
    /// `div.mark` text (`M`, `!`, `S`, or empty).
    pub mark: String,
    /// The row has no link: the post was deleted.
    pub deleted: bool,
    /// The row comes after `div.r-list-sep` (置底).
    pub pinned: bool,
}

/// A parsed index page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexPage {
    /// The rows in page order (oldest first, pinned rows last).
    pub rows: Vec<IndexRow>,
    /// The href of `‹ 上頁`, `None` when disabled or absent.
    pub prev_page: Option<String>,
    /// The page has the list container (`div.r-list-container`), so no rows
    /// means an empty board rather than markup we do not understand.
    pub has_list: bool,
}

impl IndexPage {
    /// The valid post ids of the page's rows, in page order (deleted rows
    /// and links without a valid id are skipped; pinned rows are included).
    pub fn ids(&self) -> impl Iterator<Item = &PostId> + '_ {
        self.rows.iter().filter_map(|r| r.id.as_ref())
    }
}

/// Compiles a selector written in this file. The strings are constants
/// exercised by the tests, so failure is a programming error.
fn sel(css: &str) -> Selector {
    match Selector::parse(css) {
        Ok(s) => s,
        Err(e) => panic!("invalid built-in selector {css:?}: {e}"),
    }
}

/// Rows and separators together, so document order tells which rows follow
/// a separator.
static ROWS_AND_SEPS: LazyLock<Selector> = LazyLock::new(|| sel("div.r-ent, div.r-list-sep"));
static LIST: LazyLock<Selector> = LazyLock::new(|| sel("div.r-list-container"));
static PAGING_LINKS: LazyLock<Selector> =
    LazyLock::new(|| sel("div.btn-group-paging a, div.btn-group.pull-right a"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| sel(".title"));
static LINK: LazyLock<Selector> = LazyLock::new(|| sel("a"));
static AUTHOR: LazyLock<Selector> = LazyLock::new(|| sel(".author"));
static DATE: LazyLock<Selector> = LazyLock::new(|| sel(".date"));
static MARK: LazyLock<Selector> = LazyLock::new(|| sel(".mark"));
static NREC: LazyLock<Selector> = LazyLock::new(|| sel(".nrec"));

/// Parses an index page. Never panics; markup it does not recognise yields
/// an empty page with `has_list == false`.
///
/// Rows are every `div.r-ent` in the document (normally all inside
/// `div.r-list-container`); a row is pinned when an earlier sibling is a
/// `div.r-list-sep`. Fields inside a row are found by class, not position,
/// so both the current layout (`meta` = author, menu, date, mark) and the
/// 2016 one (`mark` before `title`, `meta` = date, author) are read.
pub fn parse_index(html: &str) -> IndexPage {
    let doc = Html::parse_document(html);

    let mut rows = Vec::new();
    // Parents (by node id) in which a separator has been seen so far.
    let mut sep_parents = HashSet::new();
    for el in doc.select(&ROWS_AND_SEPS) {
        let parent = el.parent().map(|p| p.id());
        if el
            .value()
            .has_class("r-list-sep", CaseSensitivity::CaseSensitive)
        {
            sep_parents.insert(parent);
            continue;
        }
        rows.push(parse_row(el, sep_parents.contains(&parent)));
    }

    IndexPage {
        rows,
        prev_page: prev_page(&doc),
        has_list: doc.select(&LIST).next().is_some(),
    }
}

/// Reads one `div.r-ent`.
fn parse_row(row: ElementRef<'_>, pinned: bool) -> IndexRow {
    let title_div = row.select(&TITLE).next();
    let link = title_div.and_then(|t| t.select(&LINK).next());
    let title = match (link, title_div) {
        (Some(a), _) => text_of(a),
        (None, Some(t)) => text_of(t),
        (None, None) => String::new(),
    };
    let href = link
        .and_then(|a| a.attr("href"))
        .filter(|h| !h.trim().is_empty())
        .map(str::to_owned);
    let id = href.as_deref().and_then(PostId::from_path);
    let info = TitleInfo::parse(&title);
    let field = |s: &Selector| row.select(s).next().map(text_of).unwrap_or_default();
    IndexRow {
        id,
        href,
        tag: info.tag,
        is_reply: info.is_reply,
        is_forward: info.is_forward,
        title,
        author: field(&AUTHOR),
        date: field(&DATE),
        push: PushMarker { raw: field(&NREC) },
        mark: field(&MARK),
        deleted: link.is_none(),
        pinned,
    }
}

/// The href of the first paging link whose text contains `上頁`, unless it
/// is disabled or has no (non-blank) href.
fn prev_page(doc: &Html) -> Option<String> {
    let a = doc
        .select(&PAGING_LINKS)
        .find(|a| a.text().any(|t| t.contains("上頁")))?;
    if a.value()
        .has_class("disabled", CaseSensitivity::AsciiCaseInsensitive)
    {
        return None;
    }
    a.attr("href")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

/// All text inside an element, trimmed.
fn text_of(el: ElementRef<'_>) -> String {
    let s: String = el.text().collect();
    s.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(raw: &str) -> PushMarker {
        PushMarker { raw: raw.into() }
    }

    #[test]
    fn push_marker_ranges_hold_every_count_the_marker_allows() {
        use super::UNBOUNDED as U;
        assert_eq!(m("").range(), (-9, 0));
        assert_eq!(m("7").range(), (7, 7));
        assert_eq!(m("99").range(), (99, 99));
        assert_eq!(m("爆").range(), (100, U));
        assert_eq!(m("X1").range(), (-19, -10));
        assert_eq!(m("X9").range(), (-99, -90));
        assert_eq!(m("XX").range(), (-U, -100));
        assert_eq!(m("abc").range(), (-U, U));
    }

    #[test]
    fn push_marker_bounds() {
        assert_eq!(m("").bound(), 0);
        assert_eq!(m("1").bound(), 1);
        assert_eq!(m("9").bound(), 9);
        assert_eq!(m("10").bound(), 10);
        assert_eq!(m("37").bound(), 37);
        assert_eq!(m("99").bound(), 99);
        assert_eq!(m("爆").bound(), 100);
        assert_eq!(m("X1").bound(), -10);
        assert_eq!(m("X9").bound(), -90);
        assert_eq!(m("XX").bound(), -100);
        for odd in [
            "0", "05", "100", "X0", "X", "XXX", "-3", "+5", "x1", "abc", "爆爆",
        ] {
            assert_eq!(m(odd).bound(), 0, "{odd:?}");
            assert!(!m(odd).is_negative(), "{odd:?}");
        }
        assert!(m("X3").is_negative() && m("XX").is_negative());
        assert!(!m("爆").is_negative() && !m("").is_negative());
    }

    #[test]
    fn built_in_selectors_compile() {
        for s in [
            &ROWS_AND_SEPS,
            &LIST,
            &PAGING_LINKS,
            &TITLE,
            &LINK,
            &AUTHOR,
            &DATE,
            &MARK,
            &NREC,
        ] {
            LazyLock::force(s);
        }
    }

    #[test]
    fn unrecognised_markup_is_an_empty_page() {
        assert_eq!(parse_index(""), IndexPage::default());
        assert_eq!(
            parse_index("<html><body><h1>Just a moment...</h1></body></html>"),
            IndexPage::default()
        );
    }
}
