//! The board index parser: never panics, and what it returns is consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay::ptt::{PostId, parse_index};

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let page = parse_index(&html);
    for row in &page.rows {
        if let Some(id) = &row.id {
            assert_eq!(PostId::parse(id.as_str()).as_ref(), Some(id), "{row:?}");
        }
        match &row.href {
            Some(href) => {
                assert!(!href.trim().is_empty(), "{row:?}");
                assert_eq!(PostId::from_path(href), row.id, "{row:?}");
            }
            None => assert!(row.id.is_none(), "{row:?}"),
        }
        if row.deleted {
            assert!(row.href.is_none(), "{row:?}");
        }
        for text in [&row.title, &row.author, &row.date, &row.mark, &row.push.raw] {
            assert_eq!(text.trim(), text.as_str(), "untrimmed field in {row:?}");
        }
        if let Some(tag) = &row.tag {
            let n = tag.chars().count();
            assert!((1..=16).contains(&n), "{row:?}");
        }
        let bound = row.push.bound();
        assert!((-100..=100).contains(&bound), "{row:?}");
        assert_eq!(row.push.is_negative(), bound < 0, "{row:?}");
    }
    if let Some(prev) = &page.prev_page {
        assert!(!prev.is_empty() && prev.trim() == prev, "{prev:?}");
    }
    assert_eq!(
        page.ids().count(),
        page.rows.iter().filter(|r| r.id.is_some()).count()
    );
    // Ids order consistently (a total order), as the poller sorts them.
    let ids: Vec<&PostId> = page.ids().take(64).collect();
    for a in &ids {
        for b in &ids {
            assert_eq!(a.cmp(b), b.cmp(a).reverse(), "{a} vs {b}");
            assert_eq!(a.cmp(b).is_eq(), a == b, "{a} vs {b}");
        }
    }
});
