//! Where a 原文連結 address ends (issue 13, the kind of `source-link-cjk` and
//! `source-link-punctuation`): Taiwanese news sites' URL shapes, written as
//! posters write them (bare, in brackets, before a full stop, in quotes),
//! on pages marked up as PTT does it (its linker wraps everything from
//! `http` to the next whitespace in an `<a>`), and as plain text.

use ptt_relay::preview::digest_of;
use ptt_relay::ptt::extract_news;

/// Addresses as the sites publish them: (name, address as written, the same
/// address as the `url` crate serialises it).
const SHAPES: &[(&str, &str, &str)] = &[
    (
        "udn",
        "https://udn.com/news/story/7238/8123456",
        "https://udn.com/news/story/7238/8123456",
    ),
    (
        "udn money, query",
        "https://money.udn.com/money/story/5612/8123456?from=edn_maintab_index&utm_source=ptt",
        "https://money.udn.com/money/story/5612/8123456?from=edn_maintab_index&utm_source=ptt",
    ),
    (
        "cna",
        "https://www.cna.com.tw/news/afe/202611300123.aspx",
        "https://www.cna.com.tw/news/afe/202611300123.aspx",
    ),
    (
        "ltn",
        "https://ec.ltn.com.tw/article/breakingnews/4873210",
        "https://ec.ltn.com.tw/article/breakingnews/4873210",
    ),
    (
        "cnyes, query and fragment",
        "https://news.cnyes.com/news/id/5790123?exp=a&utm_medium=share#comments",
        "https://news.cnyes.com/news/id/5790123?exp=a&utm_medium=share#comments",
    ),
    (
        "moneydj, query",
        "https://www.moneydj.com/kmdj/news/newsviewer.aspx?a=4a6e4c0e-1234-4abc-9def-0123456789ab&c=MB010000",
        "https://www.moneydj.com/kmdj/news/newsviewer.aspx?a=4a6e4c0e-1234-4abc-9def-0123456789ab&c=MB010000",
    ),
    (
        "yahoo, Chinese slug",
        "https://tw.stock.yahoo.com/news/台積電法說會前夕-外資連三買超-023015123.html",
        "https://tw.stock.yahoo.com/news/%E5%8F%B0%E7%A9%8D%E9%9B%BB%E6%B3%95%E8%AA%AA%E6%9C%83%E5%89%8D%E5%A4%95-%E5%A4%96%E8%B3%87%E9%80%A3%E4%B8%89%E8%B2%B7%E8%B6%85-023015123.html",
    ),
    (
        "udn, Chinese query",
        "https://udn.com/search/word/2/台積電?page=2&sort=new",
        "https://udn.com/search/word/2/%E5%8F%B0%E7%A9%8D%E9%9B%BB?page=2&sort=new",
    ),
    (
        "Chinese fragment",
        "https://www.cna.com.tw/news/afe/202611300123.aspx#第二段",
        "https://www.cna.com.tw/news/afe/202611300123.aspx#%E7%AC%AC%E4%BA%8C%E6%AE%B5",
    ),
    (
        "IDN host",
        "https://新聞.台灣/報導/1",
        "https://xn--efvv70d.xn--kpry57d/%E5%A0%B1%E5%B0%8E/1",
    ),
    (
        "wikipedia, balanced brackets",
        "https://en.wikipedia.org/wiki/TSMC_(company)",
        "https://en.wikipedia.org/wiki/TSMC_(company)",
    ),
];

/// How posters write an address into the 原文連結 line: `{}` is the address.
/// (Text running on without a space, `{}，謝謝`, is part of the link as PTT
/// reads it: DESIGN.md's rule reads to whitespace.)
const CONTEXTS: &[&str] = &[
    "{}",
    "({})",
    "（{}）",
    "{}.",
    "{}。",
    "「{}」",
    "【{}】",
    "<{}>",
    "見{}，",
    "見{} ，謝謝",
    "{}!? 後面的話",
    "({}).",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line as PTT marks it up: from `http` to the next whitespace, each
/// address is an `<a>` whose `href` and text are that run.
fn ptt_linked(line: &str) -> String {
    line.split(' ')
        .map(|word| match word.find("http") {
            Some(i) => format!(
                "{}<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">{}</a>",
                escape(&word[..i]),
                escape(&word[i..]),
                escape(&word[i..])
            ),
            None => escape(word),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Stock news page whose 原文連結 section holds `link_line` (already
/// marked up).
fn page(link_line: &str) -> String {
    format!(
        r#"<html><head><link rel="canonical" href="https://www.ptt.cc/bbs/Stock/M.1764469800.A.1C5.html"></head><body><div id="main-content" class="bbs-screen bbs-content"><div class="article-metaline"><span class="article-meta-tag">作者</span><span class="article-meta-value">someid (某人)</span></div><div class="article-metaline"><span class="article-meta-tag">標題</span><span class="article-meta-value">[新聞] 測試</span></div>
原文標題：
測試標題
原文連結：
{link_line}
原文內容：
內容。
--
</div></body></html>"#
    )
}

fn source_url_of_page(html: &str) -> Option<String> {
    digest_of(html, "M.1764469800.A.1C5.html", None)
        .expect("a digest")
        .source_url
}

#[test]
fn every_site_shape_in_every_context_is_read_whole_from_a_ptt_page() {
    let mut wrong = Vec::new();
    for &(site, written, want) in SHAPES {
        for context in CONTEXTS {
            let line = context.replace("{}", written);
            let got = source_url_of_page(&page(&ptt_linked(&line)));
            if got.as_deref() != Some(want) {
                wrong.push(format!("{site} in {context:?}: got {got:?}, want {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_site_shape_in_every_context_is_read_whole_from_plain_text() {
    let mut wrong = Vec::new();
    for &(site, written, want) in SHAPES {
        for context in CONTEXTS {
            let line = context.replace("{}", written);
            let body = format!("原文標題：\n測試\n原文連結：\n{line}\n原文內容：\n內容\n");
            let got = extract_news(&body).source_url;
            if got.as_deref() != Some(want) {
                wrong.push(format!("{site} in {context:?}: got {got:?}, want {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_href_ptt_wrote_is_taken_where_the_text_would_read_further() {
    // PTT's `<a>` ends before the `)`; the text alone would also be trimmed,
    // and the `&amp;` of the markup is `&`.
    let line = "(<a href=\"https://news.cnyes.com/news/id/5790123?exp=a&amp;b=1\">https://news.cnyes.com/news/id/5790123?exp=a&amp;b=1</a>)";
    assert_eq!(
        source_url_of_page(&page(line)).as_deref(),
        Some("https://news.cnyes.com/news/id/5790123?exp=a&b=1")
    );
    // Percent-encoded already: not encoded a second time.
    let line =
        ptt_linked("https://news.example.com.tw/search?q=%E5%8F%B0%E7%A9%8D%E9%9B%BB&page=2");
    assert_eq!(
        source_url_of_page(&page(&line)).as_deref(),
        Some("https://news.example.com.tw/search?q=%E5%8F%B0%E7%A9%8D%E9%9B%BB&page=2")
    );
}

#[test]
fn an_address_over_2048_characters_is_null() {
    let long = format!("https://news.google.com/rss/articles/{}", "A".repeat(2_048));
    assert_eq!(source_url_of_page(&page(&ptt_linked(&long))), None);
    let fits = format!("https://news.google.com/rss/articles/{}", "A".repeat(2_000));
    assert_eq!(source_url_of_page(&page(&ptt_linked(&fits))), Some(fits));
}

#[test]
fn no_address_that_does_not_parse_is_taken() {
    for line in [
        "http://[",
        "https://",
        "http://a.example:99999/",
        "ftp://a.example/",
    ] {
        let body = format!("原文連結：\n{line}\n");
        assert_eq!(extract_news(&body).source_url, None, "{line}");
        assert_eq!(source_url_of_page(&page(&ptt_linked(line))), None, "{line}");
    }
}
