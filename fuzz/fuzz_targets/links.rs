//! Link extraction (`ptt::links`, issue 13): never panics, and a link it
//! returns always parses as an http(s) URL with a host and never ends in
//! the trailing punctuation DESIGN.md leaves out. Scanning is linear: run
//! with a large `-max_len` (scripts/fuzz.sh uses 65,536) and libFuzzer's
//! `-timeout` flags any input that is slow for its length; the criterion
//! bench `links` (benches/parse.rs) shows the ratio.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay::ptt::links::{self, TRAILING_PUNCTUATION};
use ptt_relay::ptt::{PageLink, extract_news_linked};

fn assert_good_link(link: &str, from: &str) {
    let parsed = match url::Url::parse(link) {
        Ok(p) => p,
        Err(e) => panic!("{link:?} (from {from:?}) does not parse: {e}"),
    };
    assert!(matches!(parsed.scheme(), "http" | "https"), "{link:?}");
    assert!(parsed.host_str().is_some_and(|h| !h.is_empty()), "{link:?}");
    assert_eq!(parsed.as_str(), link, "not in the url crate's form");
    assert!(
        !link.ends_with(TRAILING_PUNCTUATION),
        "{link:?} ends in punctuation (from {from:?})"
    );
    assert!(!link.contains(char::is_whitespace), "{link:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    if let Some(found) = links::first_link(&text) {
        assert_good_link(&found.url, found.raw);
        assert!(text.contains(found.raw));
        assert!(!found.raw.contains(links::is_separator), "{:?}", found.raw);
        assert_eq!(links::scheme_start(found.raw), Some(0), "{:?}", found.raw);
    }

    let trimmed = links::trim_end(&text);
    assert!(text.starts_with(trimmed));
    assert!(!trimmed.ends_with(TRAILING_PUNCTUATION), "{trimmed:?}");

    if let Some(link) = links::link_from_href(&text) {
        assert_good_link(&link, &text);
    }

    // The same text as a 原文連結 section, and as PTT's link around it.
    let body = format!("原文連結：\n{text}\n");
    let page_links = [PageLink {
        href: text.to_string(),
        text: text.to_string(),
    }];
    for news in [
        ptt_relay::ptt::extract_news(&body),
        extract_news_linked(&body, &page_links),
    ] {
        if let Some(u) = &news.source_url {
            assert_good_link(u, &text);
            assert!(
                u.chars().count() <= 2_048,
                "{} characters",
                u.chars().count()
            );
        }
    }
});
