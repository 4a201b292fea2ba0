//! Every renderer over random digests (issue 13): long source addresses
//! (up to past the 2,048-character bound), links inside the title, headline
//! and excerpt, emoji and astral CJK (two UTF-16 units each), HTML- and
//! markdown-looking text. Each rendering stays within its platform's limits
//! and every link in it is whole: where the start of a link shows, the
//! whole link shows.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use ptt_relay::chat::discord::render as discord;
use ptt_relay::chat::telegram::render as telegram;
use ptt_relay::digest::{Digest, links, text};
use ptt_relay::ptt::Tally;
use serde_json::Value;

use crate::support::telegram_html;

const POST_URL: &str = "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html";
/// Every generated source address starts so, and no other text does.
const SOURCE_START: &str = "https://src.example/";

/// Pieces of PTT text: CJK, emoji and CJK Extension B (astral), HTML and
/// markdown specials, spaces.
fn text_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,12}",
        Just("台積電法說會".to_owned()),
        Just("😀".to_owned()),
        Just("𠀀𠀁𠀂".to_owned()),
        Just("<b>".to_owned()),
        Just("</a><script>".to_owned()),
        Just("&amp;".to_owned()),
        Just("\"".to_owned()),
        Just("*_`|~>".to_owned()),
        Just("@everyone".to_owned()),
        Just(" ".to_owned()),
        Just("。".to_owned()),
    ]
}

/// Pieces of an address's path: ASCII, Chinese, emoji, query characters,
/// quotes and brackets (a stored digest may hold any of them).
fn path_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{1,16}",
        Just("/".to_owned()),
        Just("台積電".to_owned()),
        Just("😀".to_owned()),
        Just("?a=1&b=2".to_owned()),
        Just("%E5%8F%B0".to_owned()),
        Just("_(x)".to_owned()),
        Just("\"".to_owned()),
        Just("#frag".to_owned()),
        Just("-".to_owned()),
    ]
}

fn path(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(path_piece(), 0..max_pieces).prop_map(|p| p.concat())
}

/// A text of pieces with link paths among them: `(piece, is_link)`.
fn items(max_len: usize) -> impl Strategy<Value = Vec<(String, bool)>> {
    prop::collection::vec(
        prop_oneof![
            4 => text_piece().prop_map(|t| (t, false)),
            1 => path(40).prop_map(|p| (p, true)),
        ],
        0..max_len,
    )
}

/// Joins `items` into a text; link `k` (counted over every field, in
/// `found`) is `https://h{k}x.example/…z`, set off by spaces, so its start
/// is unique.
fn assemble(items: Vec<(String, bool)>, found: &mut Vec<String>) -> String {
    let mut text = String::new();
    for (item, is_link) in items {
        if is_link {
            let link = format!("https://h{}x.example/{item}z", found.len());
            text.push(' ');
            text.push_str(&link);
            text.push(' ');
            found.push(link);
        } else {
            text.push_str(&item);
        }
    }
    text
}

fn digest() -> impl Strategy<Value = (Digest, Vec<String>)> {
    (
        items(200),
        proptest::option::of(items(200)),
        proptest::option::of(items(1_500)),
        proptest::option::of(path(300)),
        0u32..500,
        0u32..500,
    )
        .prop_map(|(title, headline, excerpt, source, push, boo)| {
            let mut found = Vec::new();
            let title = assemble(title, &mut found);
            let original_title = headline.map(|h| assemble(h, &mut found));
            let excerpt = excerpt.map(|e| assemble(e, &mut found));
            let d = Digest {
                board: "Stock".into(),
                id: "M.1769577959.A.C89".into(),
                url: POST_URL.into(),
                title: Some(title),
                tag: None,
                is_reply: false,
                is_forward: false,
                author: Some("someid".into()),
                posted_at: None,
                original_title,
                source_url: source.map(|p| format!("{SOURCE_START}{p}z")),
                published: None,
                reporter: None,
                excerpt,
                stocks: Vec::new(),
                hot: None,
                tally: Tally {
                    push,
                    boo,
                    neutral: 3,
                    net: i64::from(push) - i64::from(boo),
                    total: push + boo + 3,
                },
            };
            (d, found)
        })
}

/// Wherever the start of `link` shows in `shown`, the whole `link` does.
fn assert_whole(shown: &str, start: &str, link: &str, what: &str) {
    let starts = shown.matches(start).count();
    let wholes = shown.matches(link).count();
    assert_eq!(
        starts, wholes,
        "{what}: {starts} starts of {link:?} but {wholes} whole\n{shown}"
    );
}

/// The start of a generated text link: `https://h{k}x.example/`.
fn start_of(link: &str) -> &str {
    let host_end = link["https://".len()..].find('/').expect("a path") + "https://".len() + 1;
    &link[..host_end]
}

fn check_telegram(d: &Digest, found: &[String]) {
    let html = telegram::render(d);
    let parsed = telegram_html::parse(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    assert!(
        parsed.utf16_len() <= telegram::MAX_TEXT_UTF16,
        "{}",
        parsed.utf16_len()
    );
    let href = d.source_url.as_deref().and_then(links::href);
    assert_eq!(parsed.links[0].href, POST_URL);
    for l in &parsed.links[1..] {
        assert_eq!(Some(&l.href), href.as_ref(), "only the source is linked");
    }
    if let Some(href) = &href {
        assert_eq!(parsed.links.len(), 2, "the source link is there: {html}");
        assert!(url::Url::parse(&parsed.links[1].href).is_ok());
        assert!(!parsed.links[1].href.contains(['"', ' ', '<', '>']));
        assert_whole(
            &parsed.text,
            SOURCE_START,
            &links::readable(href),
            "Telegram source text",
        );
    }
    for link in found {
        assert_whole(&parsed.text, start_of(link), link, "Telegram text");
    }
}

fn check_discord(d: &Digest, found: &[String]) {
    let body = discord::message_body(d, None);
    let e = &body["embeds"][0];
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    assert!(chars(&e["title"]) <= discord::MAX_TITLE);
    assert!(chars(&e["description"]) <= discord::MAX_DESCRIPTION);
    let fields = e["fields"].as_array().expect("fields");
    for f in fields {
        assert!(chars(&f["value"]) <= discord::MAX_FIELD_VALUE, "{f}");
        assert!(chars(&f["value"]) > 0, "{f}");
    }
    let embed = discord::embed(d);
    assert!(embed.total_chars() <= discord::MAX_EMBED_TOTAL);
    assert_eq!(e["url"], POST_URL);
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    let shown = [e["title"].as_str(), e["description"].as_str()]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .chain(
            fields
                .iter()
                .filter_map(|f| f["value"].as_str().map(str::to_owned)),
        )
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(href) = d.source_url.as_deref().and_then(links::href) {
        assert_whole(&shown, SOURCE_START, &href, "Discord source");
        if href.chars().count() <= 2_048 {
            assert!(
                shown.contains(&href),
                "a source that fits is shown: {shown}"
            );
        }
    }
    for link in found {
        assert_whole(&shown, start_of(link), link, "Discord text");
    }
}

fn check_console(d: &Digest, found: &[String]) {
    let shown = text::render(d);
    if let Some(u) = &d.source_url {
        assert_whole(&shown, SOURCE_START, u, "console source");
    }
    for link in found {
        assert_whole(&shown, start_of(link), link, "console text");
    }
    let json: Value = serde_json::from_str(&text::render_json(d)).expect("JSON");
    assert_eq!(json["source_url"].as_str(), d.source_url.as_deref());
}

proptest! {
    // Failing cases are saved next to this file (tests/it/prop_renderers.proptest-regressions).
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_renderer_keeps_limits_and_every_link_whole((d, found) in digest()) {
        check_telegram(&d, &found);
        check_discord(&d, &found);
        check_console(&d, &found);
    }
}
