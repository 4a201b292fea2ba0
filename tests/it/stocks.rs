//! `stock:` and `sector:` (DESIGN.md, "investor words"): parsing, matching
//! a post's title and excerpt, the digest's `stocks`, the `標的：` line on
//! every renderer, and a subscription through the running app.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::chat::discord::render as discord;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::chat::telegram::render as telegram;
use ptt_relay::chat::webhook::render as webhook;
use ptt_relay::dest::Destination;
use ptt_relay::digest::{Digest, StockRef, text};
use ptt_relay::filter::{Filter, FilterError};
use ptt_relay::preview::digest_of;
use serde_json::{Value, json};
use support::fake_ptt::FakePtt;
use support::harness::{self, seeded, settings, wait_for};
use support::recording::RecordingSink;

/// A news digest with this title and excerpt, mentioning no company unless
/// they do.
fn digest(title: &str, excerpt: Option<&str>) -> Digest {
    serde_json::from_value(json!({
        "board": "Stock", "id": "M.1769577959.A.C89",
        "url": "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html",
        "title": title, "tag": "新聞", "is_reply": false, "is_forward": false,
        "author": "someid", "posted_at": null, "original_title": null,
        "source_url": null, "published": null, "reporter": null,
        "excerpt": excerpt,
        "tally": { "push": 1, "boo": 0, "neutral": 0, "net": 1, "total": 1 },
        "stocks": [],
    }))
    .expect("a digest")
}

fn filter(s: &str) -> Filter {
    Filter::parse_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn stock_by_code_or_by_name_matches_a_post_naming_either_and_no_other() {
    let by_code = filter("stock:2330");
    let by_name = filter("stock:台積電");
    assert_eq!(by_code, by_name);
    assert_eq!(by_code.canonical(), "tag:新聞 stock:2330");
    assert_eq!(Filter::parse_str(&by_code.canonical()), Ok(by_code.clone()));
    for f in [&by_code, &by_name] {
        assert!(f.matches(&digest("[新聞] 台積電法說會釋出樂觀展望", None)));
        assert!(f.matches(&digest("[新聞] 2330 外資連三買", None)));
        assert!(f.matches(&digest(
            "[新聞] 晶圓代工龍頭擴產",
            Some("臺積電(2330)今日宣布")
        )));
        assert!(!f.matches(&digest("[新聞] 鴻海營收創新高", Some("鴻海(2317)公布"))));
        // Not a separate number: part of a longer one, a year, an amount.
        assert!(!f.matches(&digest("[新聞] 12330 與 2330元", None)));
    }
    // Several stock: words: any may be named.
    let either = filter("stock:2330 stock:鴻海");
    assert!(either.matches(&digest("[新聞] 鴻海營收創新高", None)));
    assert!(!either.matches(&digest("[新聞] 央行理監事會", None)));
}

#[test]
fn sector_matches_a_post_naming_any_company_of_the_group() {
    let f = filter("sector:半導體業");
    assert_eq!(f.canonical(), "tag:新聞 sector:半導體業");
    assert!(f.matches(&digest("[新聞] 聯發科新品發表", None)));
    assert!(f.matches(&digest(
        "[新聞] 外資連三買",
        Some("日月光投控與台積電同步走高")
    )));
    assert!(!f.matches(&digest("[新聞] 長榮航載客創新高", None)));
    // The other words still apply.
    let both = filter("sector:半導體業 not:法說");
    assert!(!both.matches(&digest("[新聞] 聯發科法說", None)));
}

#[test]
fn unknown_codes_names_and_groups_are_refused_with_the_closest() {
    let closest = |s: &str| match Filter::parse_str(s) {
        Err(FilterError::NotListed { closest, .. }) => closest,
        other => panic!("{s}: {other:?}"),
    };
    let near = closest("stock:2339");
    assert!(!near.is_empty() && near.len() <= 5, "{near:?}");
    assert_eq!(near[0], "2338 光罩", "{near:?}");
    assert!(near.contains(&"2330 台積電".to_owned()), "{near:?}");
    assert!(closest("stock:台積").contains(&"2330 台積電".to_owned()));
    assert_eq!(closest("sector:半導體")[0], "半導體業");
    // The reply says so, with the suggestions.
    let e = Filter::parse_str("stock:台積").unwrap_err();
    assert!(e.to_string().contains("2330 台積電"), "{e}");
}

#[test]
fn the_digest_json_lists_the_companies_title_first_at_most_five() {
    let fixture = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tag-brackets/article_lenticular.html"),
    )
    .expect("fixture");
    let d = digest_of(&fixture, "article_lenticular.html", None).expect("a digest");
    let v: Value = serde_json::from_str(&text::render_json(&d)).unwrap();
    assert_eq!(v["stocks"], json!([{"code": "2330", "name": "台積電"}]));

    // Seven companies: the title's first, then the excerpt's, five kept.
    let page = fixture
        .replace("台積電董事會核准資本預算", "鴻海與台積電合作")
        .replace(
            "原文內容：",
            "原文內容：\n聯發科、日月光投控、2303、中華電(2412)與國泰金齊漲，台積電亦同。",
        );
    let d = digest_of(&page, "page.html", None).expect("a digest");
    let codes: Vec<&str> = d.stocks.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes, ["2317", "2330", "2454", "3711", "2303"]);

    let none = digest_of(&fixture.replace("台積電", "某公司"), "x.html", None).unwrap();
    let v: Value = serde_json::from_str(&text::render_json(&none)).unwrap();
    assert_eq!(v["stocks"], json!([]));
}

#[test]
fn every_renderer_shows_the_stocks_line_when_there_are_stocks() {
    let mut d = digest("[新聞] 台積電與鴻海合作", None);
    let line = "標的：台積電 2330、鴻海 2317";
    for (format, shown) in [("none", false), ("two", true)] {
        if shown {
            d.stocks = vec![
                StockRef {
                    code: "2330".into(),
                    name: "台積電".into(),
                },
                StockRef {
                    code: "2317".into(),
                    name: "鴻海".into(),
                },
            ];
        }
        let rendered = [
            ("console", text::render(&d)),
            ("telegram", telegram::render(&d)),
            ("discord", discord::embed(&d).description),
            ("slack", webhook::slack_body(&d).to_string()),
        ];
        for (name, out) in rendered {
            assert_eq!(out.contains(line), shown, "{format} {name}: {out}");
        }
        let json: Value = serde_json::from_slice(&webhook::json_body(&d)).unwrap();
        assert_eq!(
            json["stocks"].as_array().map(Vec::len),
            Some(d.stocks.len())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_subscription_receives_only_posts_naming_the_company() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = harness::start(
        &settings(&ptt, &dir.path().join("db.sqlite")),
        vec![Arc::new(sink.clone())],
        None,
    )
    .await;
    let chat = |id: &str| Destination::chat(TELEGRAM, id);
    harness::subscribe(&r, chat("100"), "Stock stock:台積電").await;
    harness::subscribe(&r, chat("200"), "Stock").await;
    seeded(&r).await;

    let in_title = ptt.add_post("Stock", "[新聞] 台積電法說會", "reporter");
    let other = ptt.add_post("Stock", "[新聞] 鴻海營收創新高", "reporter");
    let in_excerpt = ptt.add_post_with("Stock", "[新聞] 晶圓代工擴產", "reporter", |p| {
        p.body = "臺積電(2330)今天宣布擴產。".into();
    });

    wait_for("deliveries", || sink.sent().len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sink.ids_for("100"),
        vec![in_title.clone(), in_excerpt.clone()]
    );
    assert_eq!(
        sink.ids_for("200"),
        vec![in_title, other, in_excerpt.clone()]
    );
    let sent = sink.sent();
    let d = &sent
        .iter()
        .find(|s| s.digest.id == in_excerpt)
        .unwrap()
        .digest;
    assert_eq!(
        d.stocks,
        vec![StockRef {
            code: "2330".into(),
            name: "台積電".into(),
        }]
    );
    r.stop().await;
}
