//! `parse_index` never panics: not on arbitrary text or bytes, and not on
//! real-looking pages cut short at any point.

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;
use ptt_relay::ptt::parse_index;

/// The project's fixtures, plus the reference pages when that folder exists.
static PAGES: LazyLock<Vec<String>> = LazyLock::new(load_pages);

fn load_pages() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = Vec::new();
    for dir in [
        root.join("tests/fixtures"),
        root.join("../shared/reference/ptt"),
    ] {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                (name.starts_with("index_") || name.starts_with("search_"))
                    && name.ends_with(".html")
            })
            .collect();
        paths.sort();
        for p in paths {
            if let Ok(s) = std::fs::read_to_string(&p) {
                pages.push(s);
            }
        }
    }
    assert!(!pages.is_empty(), "no fixture pages found");
    pages
}

/// Cuts `s` at `at` (a fraction of its length), moved back to a char boundary.
fn cut(s: &str, at: f64) -> &str {
    // `as` saturates; the fraction keeps the result within 0..=len.
    let mut i = ((s.len() as f64) * at) as usize;
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// Fragments of PTT markup, to build inputs that get past the first tags.
const PIECES: &[&str] = &[
    "<div class=\"r-list-container action-bar-margin bbs-screen\">",
    "<div class=\"r-ent\">",
    "<div class=\"r-list-sep\"></div>",
    "<div class=\"nrec\"><span class=\"hl f1\">爆</span></div>",
    "<div class=\"nrec\"><span class=\"hl f1\">X",
    "<div class=\"mark\">M</div>",
    "<div class=\"title\">",
    "<a href=\"/bbs/Stock/M.1769577959.A.C89.html\">",
    "<a href=\"/bbs/Stock/M.",
    "[新聞] ",
    "Re: ",
    "(本文已被刪除) [x]",
    "&lt;&amp;&#x22ef;&",
    "</a>",
    "</div>",
    "<div class=\"meta\"><div class=\"date\"> 1/28</div><div class=\"author\">",
    "<div class=\"btn-group btn-group-paging\">",
    "<div class=\"btn-group pull-right\">",
    "<a class=\"btn wide\" href=\"/bbs/Stock/index1.html\">&lsaquo; 上頁</a>",
    "<a class=\"btn wide disabled\">&lsaquo; 上頁",
    "<!--",
    "<script>",
    "<table><tr>",
    "\u{0}",
];

proptest! {
    // No regression files: this crate keeps its test inputs in the sources.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_strings(s in ".{0,400}") {
        let _ = parse_index(&s);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let s = String::from_utf8_lossy(&b);
        let _ = parse_index(&s);
    }

    #[test]
    fn never_panics_on_markup_soup(
        parts in proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(PIECES).prop_map(str::to_owned),
                "[^<>]{0,12}",
            ],
            0..60,
        )
    ) {
        let page = parse_index(&parts.concat());
        for row in &page.rows {
            // Invariants the poller relies on.
            if row.deleted {
                prop_assert!(row.id.is_none() && row.href.is_none());
            }
            prop_assert!(row.href.is_some() || row.id.is_none());
            prop_assert_eq!(row.title.trim(), row.title.as_str());
            prop_assert_eq!(row.author.trim(), row.author.as_str());
            prop_assert_eq!(row.push.raw.trim(), row.push.raw.as_str());
        }
    }

    #[test]
    fn never_panics_on_cut_pages(which in any::<prop::sample::Index>(), at in 0.0f64..=1.0) {
        let page = &PAGES[which.index(PAGES.len())];
        let _ = parse_index(cut(page, at));
    }
}

#[test]
fn cut_pages_exhaustive_sample() {
    // Deterministic coverage too: every page cut at 97 evenly spaced points.
    for page in PAGES.iter() {
        for k in 0..=96 {
            let _ = parse_index(cut(page, f64::from(k) / 96.0));
        }
    }
}
