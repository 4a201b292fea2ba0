//! The index parser against real ptt.cc pages kept outside the repository
//! (`../shared/reference/ptt`, with the expected values in `expected.json`).
//! Skipped, with a note, when that folder is absent.

use std::path::{Path, PathBuf};

use ptt_relay::ptt::{PostId, parse_index};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/ptt")
}

fn strings(v: &Value, key: &str, file: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{file}: expected.json has no array {key:?}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{file}: {key} holds a non-string"))
                .to_owned()
        })
        .collect()
}

fn count(v: &Value, key: &str, file: &str) -> usize {
    v[key]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| panic!("{file}: expected.json has no count {key:?}"))
}

#[test]
fn corpus_index_pages_match_expected() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        println!(
            "corpus test skipped: reference folder {} does not exist (it lives outside the repository)",
            dir.display()
        );
        return;
    }
    let expected_path = dir.join("expected.json");
    let text = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    let expected: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    let indexes = expected["indexes"]
        .as_array()
        .expect("expected.json has an \"indexes\" array");
    assert!(!indexes.is_empty(), "expected.json lists no index pages");

    for entry in indexes {
        let file = entry["file"].as_str().expect("index entry has a file name");
        let html =
            std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let page = parse_index(&html);

        assert!(page.has_list, "{file}: has_list");

        let entries = count(entry, "entries", file);
        if file == "index_LoL_2016_old-layout_pttifierLib.html" {
            // One row links to a non-hex id (`M.1457622048.A.Z80`), an edit
            // by whoever saved the page: keeping or skipping it is allowed.
            assert!(
                page.rows.len() == entries || page.rows.len() + 1 == entries,
                "{file}: {} rows, expected {entries} or {}",
                page.rows.len(),
                entries - 1
            );
        } else {
            assert_eq!(page.rows.len(), entries, "{file}: entries");
        }

        let deleted = page.rows.iter().filter(|r| r.deleted).count();
        assert_eq!(deleted, count(entry, "deleted", file), "{file}: deleted");
        let pinned = page.rows.iter().filter(|r| r.pinned).count();
        assert_eq!(pinned, count(entry, "pinned", file), "{file}: pinned");
        // Pinned rows come last.
        assert!(
            page.rows.windows(2).all(|w| !w[0].pinned || w[1].pinned),
            "{file}: a pinned row before an unpinned one"
        );

        let prev = entry["prev_page"].as_str();
        assert_eq!(page.prev_page.as_deref(), prev, "{file}: prev_page");

        let ids: Vec<String> = page.ids().map(|id| id.as_str().to_owned()).collect();
        assert_eq!(ids, strings(entry, "ids", file), "{file}: ids");
        for id in &ids {
            assert!(PostId::parse(id).is_some(), "{file}: invalid id {id}");
        }
        for row in &page.rows {
            assert_eq!(row.deleted, row.href.is_none(), "{file}: {row:?}");
            if row.deleted {
                assert!(row.id.is_none(), "{file}: deleted row with id {row:?}");
            }
        }

        let markers: Vec<String> = page.rows.iter().map(|r| r.push.raw.clone()).collect();
        let want_markers = strings(entry, "push_markers", file);
        if page.rows.len() == entries {
            assert_eq!(markers, want_markers, "{file}: push_markers");
        } else {
            // The skipped invalid-id row's marker is missing from ours.
            assert_eq!(
                markers.len() + 1,
                want_markers.len(),
                "{file}: push_markers"
            );
        }
    }
}
