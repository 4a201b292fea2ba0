//! `parse_article` and `extract_news` never panic: not on arbitrary text,
//! not on PTT-like fragments, not on real pages cut at any character.

use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use ptt_relay::ptt::{extract_news, parse_article};

/// Our fixtures, and the shared reference pages when that folder exists.
static PAGES: LazyLock<Vec<String>> = LazyLock::new(read_pages);

fn read_pages() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = Vec::new();
    for dir in [
        root.join("tests/fixtures"),
        root.join("../shared/reference/ptt"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("article_") && n.ends_with(".html"))
            })
            .collect();
        paths.sort();
        pages.extend(paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
    }
    assert!(!pages.is_empty(), "the fixtures are part of the repository");
    pages
}

/// Pieces of PTT markup and of the news template, to build plausible input.
const PIECES: &[&str] = &[
    "<div id=\"main-content\" class=\"bbs-screen bbs-content\">",
    "<div class=\"article-metaline\"><span class=\"article-meta-tag\">作者</span><span class=\"article-meta-value\">",
    "<div class=\"article-metaline-right\"><span class=\"article-meta-tag\">看板</span><span class=\"article-meta-value\">",
    "<span class=\"article-meta-tag\">時間</span><span class=\"article-meta-value\">Sat Jul  4 13:48:46 2020",
    "<span class=\"article-meta-tag\">標題</span>",
    "</span></div>",
    "<div class=\"push\">",
    "<span class=\"hl push-tag\">推 </span>",
    "<span class=\"f1 hl push-tag\">→ </span>",
    "<span class=\"f3 hl push-userid\">",
    "<span class=\"f3 push-content\">: ",
    "<span class=\"push-ipdatetime\"> 07/04 13:49\n",
    "</span>",
    "</div>",
    "<div class=\"richcontent\">",
    "<title>",
    "</title>",
    " - 看板 Stock - 批踢踢實業坊",
    "<link rel=\"canonical\" href=\"https://www.ptt.cc/bbs/Stock/M.1.A.A.html\">",
    "<span class=\"f2\">※ 文章網址: ",
    "※ 編輯: ",
    "※ 發信站",
    "※ 引述《a (b)》之銘言：",
    "\n: ",
    "\n",
    "\n--\n",
    "1.",
    "原文標題",
    "原文連結",
    "發布時間",
    "記者署名",
    "原文內容",
    "心得/評論",
    "完整新聞標題",
    "(必須檢附)",
    "（",
    "(",
    "：",
    ":",
    "https://",
    "http://",
    "tinyurl.com/abc",
    ":99999",
    "[",
    "\u{3000}",
    "字",
    "é",
    "😀",
    "&amp;",
    "&lt;",
    " ",
];

fn fragments() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|v| v.concat())
}

fn check(input: &str) {
    if let Some(article) = parse_article(input) {
        let _ = article.tally();
        let _ = article.board_and_id();
        let news = extract_news(&article.body);
        for text in [&news.excerpt, &news.comment].into_iter().flatten() {
            assert!(text.chars().count() <= 300);
        }
    }
    let news = extract_news(input);
    for text in [&news.excerpt, &news.comment].into_iter().flatten() {
        assert!(text.chars().count() <= 300);
    }
}

proptest! {
    // Failing cases are saved next to this file (tests/prop_article.proptest-regressions).
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(input in any::<String>()) {
        check(&input);
    }

    #[test]
    fn ptt_like_fragments_never_panic(input in fragments()) {
        check(&input);
    }

    #[test]
    fn pages_cut_at_any_char_never_panic(page in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(), from_start in any::<bool>()) {
        let html = page.get(&PAGES);
        let chars = html.chars().count();
        let n = cut.index(chars + 1);
        let piece: String = if from_start {
            html.chars().take(n).collect()
        } else {
            html.chars().skip(n).collect()
        };
        check(&piece);
    }
}
