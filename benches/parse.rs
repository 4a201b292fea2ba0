//! Parser and renderer benchmarks.
//!
//! Run with `cargo bench --bench parse`. Groups:
//! - `index`: `parse_index` on `tests/fixtures/index_Stock_newest.html`.
//! - `article`: `parse_article` on the stock-news fixture with its push lines
//!   replaced by 40 and by 1,500 generated ones.
//! - `render`: `Digest::from_article`, the Telegram and Discord renderings,
//!   and `extract_news` on the fixture article's body.
//! - `links`: link extraction (`ptt::links`, issue 13) on hostile 原文連結
//!   lines of 10 kB and 100 kB: `http://[` repeated with no whitespace (one
//!   word that never parses), the same with spaces (many words), and one
//!   address followed by closing brackets (`trim_end`). Linear scanning
//!   shows as a ×10 time for ×10 input.
//!
//! Throughput is reported in bytes of input (MB/s); pages per second is
//! 1 / (time per iteration), since each iteration parses one page.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ptt_relay::chat::discord::render as discord;
use ptt_relay::chat::telegram::render as telegram;
use ptt_relay::digest::Digest;
use ptt_relay::ptt::links::first_link;
use ptt_relay::ptt::{PushKind, extract_news, parse_article, parse_index};

const INDEX_HTML: &str = include_str!("../tests/fixtures/index_Stock_newest.html");
const ARTICLE_HTML: &str = include_str!("../tests/fixtures/article_stock_news.html");

/// Push contents of varied length, some with ASCII, a URL or full-width text.
const CONTENTS: &[&str] = &[
    "供應鏈要噴了",
    "看法說會再說",
    "利多出盡",
    "推 整理",
    "補充  首批是試產量",
    "這次出口許可範圍到底多大？有沒有人看到原文",
    "https://example.com/news/2026/01/28/chip-export",
    "all in",
    "空軍總司令部報到，明天開盤見真章，不要太早下車",
    "XD",
    "ＡＩ題材還能炒多久",
    "謝謝分享",
];

/// The three kinds in a 推-heavy mix, as on a busy Stock thread:
/// 推, →, 推, 噓, →, 推, 推, 噓 (4 推, 2 噓, 2 →).
const KINDS: &[PushKind] = &[
    PushKind::Push,
    PushKind::Neutral,
    PushKind::Push,
    PushKind::Boo,
    PushKind::Neutral,
    PushKind::Push,
    PushKind::Push,
    PushKind::Boo,
];

/// Push line `i` in the fixture's markup: `<div class="push">` with the tag,
/// user id, content and ip/time spans, 推 as `hl push-tag` and 噓/→ as
/// `f1 hl push-tag`.
fn push_line(i: usize) -> String {
    let (tag_class, tag) = match KINDS[i % KINDS.len()] {
        PushKind::Push => ("hl push-tag", "推"),
        PushKind::Boo => ("f1 hl push-tag", "噓"),
        PushKind::Neutral => ("f1 hl push-tag", "→"),
    };
    let user = format!("user{i:04}");
    let content = CONTENTS[i % CONTENTS.len()];
    // Every seventh push shows its IP, as PTT does for some boards/users.
    let ip = if i.is_multiple_of(7) {
        format!("198.51.100.{} ", i % 250 + 1)
    } else {
        String::new()
    };
    let minutes = 13 * 60 + 49 + i;
    let (hh, mm) = ((minutes / 60) % 24, minutes % 60);
    format!(
        "<div class=\"push\"><span class=\"{tag_class}\">{tag} </span>\
         <span class=\"f3 hl push-userid\">{user}</span>\
         <span class=\"f3 push-content\">: {content}</span>\
         <span class=\"push-ipdatetime\"> {ip}01/28 {hh:02}:{mm:02}\n</span></div>"
    )
}

/// The stock-news fixture with everything from its first push line to its
/// last one (pushes, the `※ 編輯` lines and the warning box among them)
/// replaced by `n` generated push lines.
fn article_with_pushes(n: usize) -> String {
    let start = ARTICLE_HTML
        .find("<div class=\"push\">")
        .expect("fixture has a push line");
    let last_close = "</span></div></div>";
    let end = ARTICLE_HTML
        .rfind(last_close)
        .expect("fixture's last push closes #main-content")
        + "</span></div>".len();
    let mut html = String::with_capacity(ARTICLE_HTML.len() + n * 260);
    html.push_str(&ARTICLE_HTML[..start]);
    for i in 0..n {
        html.push_str(&push_line(i));
    }
    html.push_str(&ARTICLE_HTML[end..]);
    html
}

/// Checks, outside any timed loop, that a generated page parses to exactly
/// `n` pushes of the expected kinds, so a broken page cannot be measured.
fn check_generated(html: &str, n: usize) {
    let article = parse_article(html).expect("generated page is an article");
    assert_eq!(article.pushes.len(), n, "generated page: push count");
    let expected = |kind: PushKind| (0..n).filter(|i| KINDS[i % KINDS.len()] == kind).count();
    let tally = article.tally();
    assert_eq!(tally.push as usize, expected(PushKind::Push));
    assert_eq!(tally.boo as usize, expected(PushKind::Boo));
    assert_eq!(tally.neutral as usize, expected(PushKind::Neutral));
    assert_eq!(article.pushes[n - 1].user, format!("user{:04}", n - 1));
    let fixture = parse_article(ARTICLE_HTML).expect("fixture is an article");
    assert_eq!(article.body, fixture.body, "generated page: body unchanged");
    assert_eq!(article.title, fixture.title);
}

fn bench_index(c: &mut Criterion) {
    let page = parse_index(INDEX_HTML);
    assert!(
        page.has_list && !page.rows.is_empty(),
        "index fixture parses"
    );
    eprintln!(
        "index_Stock_newest.html: {} bytes, {} rows",
        INDEX_HTML.len(),
        page.rows.len()
    );

    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Bytes(INDEX_HTML.len() as u64));
    group.bench_function("parse_index/Stock_newest", |b| {
        b.iter(|| parse_index(black_box(INDEX_HTML)))
    });
    group.finish();
}

fn bench_article(c: &mut Criterion) {
    let mut group = c.benchmark_group("article");
    for n in [40usize, 1_500] {
        let html = article_with_pushes(n);
        check_generated(&html, n);
        eprintln!("article with {n} pushes: {} bytes", html.len());
        group.throughput(Throughput::Bytes(html.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("parse_article/pushes", n),
            html.as_str(),
            |b, html| b.iter(|| parse_article(black_box(html))),
        );
    }
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let article = parse_article(ARTICLE_HTML).expect("fixture is an article");
    let (board, id) = article.board_and_id().expect("fixture has board and id");
    let digest = Digest::from_article(&article, &board, &id);
    assert!(digest.excerpt.is_some() && digest.source_url.is_some());
    assert!(!telegram::render(&digest).is_empty());
    eprintln!("article_stock_news.html body: {} bytes", article.body.len());

    let mut group = c.benchmark_group("render");
    group.bench_function("Digest::from_article", |b| {
        b.iter(|| Digest::from_article(black_box(&article), black_box(&board), black_box(&id)))
    });
    group.bench_function("telegram::render", |b| {
        b.iter(|| telegram::render(black_box(&digest)))
    });
    group.bench_function("discord::message_body", |b| {
        b.iter(|| discord::message_body(black_box(&digest), black_box(Some("nonce0123456789"))))
    });
    // Set last: a group's throughput applies to every benchmark after it.
    group.throughput(Throughput::Bytes(article.body.len() as u64));
    group.bench_function("extract_news", |b| {
        b.iter(|| extract_news(black_box(&article.body)))
    });
    group.finish();
}

/// A hostile 原文連結 line of about `bytes` bytes, by kind.
fn hostile_line(kind: &str, bytes: usize) -> String {
    let unit = match kind {
        "brackets" => "http://[",
        "brackets_spaced" => "http://[ ",
        "closing" => ")",
        other => panic!("unknown kind {other}"),
    };
    let head = if kind == "closing" {
        "https://a.example/x"
    } else {
        ""
    };
    let mut line = head.to_owned();
    while line.len() < bytes {
        line.push_str(unit);
    }
    line
}

fn bench_links(c: &mut Criterion) {
    let mut group = c.benchmark_group("links");
    for kind in ["brackets", "brackets_spaced", "closing"] {
        for bytes in [10_000usize, 100_000] {
            let line = hostile_line(kind, bytes);
            let body = format!("原文連結：{line}\n原文內容：\n內容\n");
            // Checked outside the timed loop: what each input yields.
            let want = (kind == "closing").then(|| "https://a.example/x".to_owned());
            assert_eq!(first_link(&line).map(|f| f.url), want);
            assert_eq!(extract_news(&body).source_url, want);
            group.throughput(Throughput::Bytes(line.len() as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("first_link/{kind}"), bytes),
                line.as_str(),
                |b, line| b.iter(|| first_link(black_box(line))),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("extract_news/{kind}"), bytes),
                body.as_str(),
                |b, body| b.iter(|| extract_news(black_box(body))),
            );
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = bench_index, bench_article, bench_render, bench_links
}
criterion_main!(benches);
