//! The article parser over real PTT pages saved by other people
//! (`../shared/reference/ptt`, outside this repository). The pages are not
//! ours to copy, so the test reads them in place and is skipped, saying so,
//! when the folder is not there.

use std::path::{Path, PathBuf};

use ptt_relay::ptt::{Tally, parse_article, post_url};
use serde_json::Value;

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/ptt")
}

fn str_field<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected.json entry without {key}: {entry}"))
}

fn count(tally: &Value, key: &str) -> u32 {
    tally
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("tally without {key}: {tally}"))
}

#[test]
fn reference_articles_match_expected_json() {
    let dir = reference_dir();
    let expected_path = dir.join("expected.json");
    if !expected_path.is_file() {
        println!(
            "skipped: {} not found (the shared reference pages are not part of this repository)",
            expected_path.display()
        );
        return;
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).expect("read expected.json"))
            .expect("expected.json is JSON");
    let articles = expected
        .get("articles")
        .and_then(Value::as_array)
        .expect("expected.json has an articles array");
    assert!(!articles.is_empty());

    for entry in articles {
        let file = str_field(entry, "file");
        let html = std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("reading {file}: {e}"));
        let a = parse_article(&html).unwrap_or_else(|| panic!("{file}: no #main-content"));

        let (board, id) = a
            .board_and_id()
            .unwrap_or_else(|| panic!("{file}: no board and id"));
        assert_eq!(board.as_str(), str_field(entry, "board"), "{file}: board");
        assert_eq!(id.as_str(), str_field(entry, "id"), "{file}: id");
        assert_eq!(
            post_url(&board, &id),
            str_field(entry, "url"),
            "{file}: url"
        );
        assert_eq!(
            a.author.as_deref(),
            Some(str_field(entry, "author")),
            "{file}: author"
        );
        if let Some(title) = entry.get("title").and_then(Value::as_str) {
            assert_eq!(a.title.as_deref(), Some(title), "{file}: title");
        }
        let t = entry.get("tally").expect("tally");
        let want = Tally {
            push: count(t, "push"),
            boo: count(t, "boo"),
            neutral: count(t, "neutral"),
            net: t.get("net").and_then(Value::as_i64).expect("net"),
            total: count(t, "total"),
        };
        assert_eq!(a.tally(), want, "{file}: tally");
    }
}
