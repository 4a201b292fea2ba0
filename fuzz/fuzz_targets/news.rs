//! The news-field extractor: never panics, and each field keeps its promise.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay::ptt::extract_news;
use ptt_relay::ptt::news::EXCERPT_MAX_CHARS;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let f = extract_news(&body);

    // One paragraph, joined, trimmed, non-empty.
    for v in [&f.original_title, &f.published, &f.reporter]
        .into_iter()
        .flatten()
    {
        assert!(!v.is_empty(), "empty field");
        assert!(!v.contains('\n'), "{v:?} has a line break");
        assert_eq!(v.trim(), v, "untrimmed {v:?}");
    }
    // Whitespace collapsed, at most 300 characters.
    for v in [&f.excerpt, &f.comment].into_iter().flatten() {
        assert!(!v.is_empty(), "empty field");
        assert!(v.chars().count() <= EXCERPT_MAX_CHARS, "{v:?} too long");
        assert_eq!(v.trim(), v, "untrimmed {v:?}");
        assert!(
            !v.chars().any(|c| c.is_whitespace() && c != ' '),
            "{v:?} keeps a whitespace other than a space"
        );
        assert!(!v.contains("  "), "{v:?} keeps a run of spaces");
    }
    // A URL that parses, http(s), with a host.
    if let Some(u) = &f.source_url {
        let parsed = match url::Url::parse(u) {
            Ok(p) => p,
            Err(e) => panic!("source_url {u:?} does not parse: {e}"),
        };
        assert!(matches!(parsed.scheme(), "http" | "https"), "{u:?}");
        assert!(parsed.host_str().is_some_and(|h| !h.is_empty()), "{u:?}");
        assert!(!u.contains(char::is_whitespace), "{u:?}");
    }
});
