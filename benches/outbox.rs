//! Outbox benchmarks: the due-rows query at a deep backlog (issue 14,
//! kind 3).
//!
//! Run with `cargo bench --bench outbox`. A SQLite store holds 200,000
//! pending rows across 2,000 Telegram chats (100 posts, each queued for
//! every chat), as after a long chat-side outage. Groups:
//! - `due_rows_200k`: `Store::due_rows` asking for one row (what the outbox
//!   worker asks each time a send ends), and `Store::next_due_at`. Each
//!   iteration asks as of an hour later, past the previous claim, so every
//!   iteration sees the same backlog.
//!
//! At 30 sends a second (Telegram's overall limit), the worker has about
//! 33 ms per send for everything: one due-rows call must take a small part
//! of that for the outbox to keep up with the platform.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ptt_relay::dest::Destination;
use ptt_relay::digest::Digest;
use ptt_relay::ptt::Tally;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;

const CHATS: usize = 2_000;
const POSTS: usize = 100;

fn digest(i: usize) -> Digest {
    let id = format!("M.{}.A.{:03X}", 1_769_580_000 + i * 60, i % 4096);
    Digest {
        board: "Stock".into(),
        url: format!("https://www.ptt.cc/bbs/Stock/{id}.html"),
        id,
        title: Some(format!("[新聞] 台積電法說會 第{i}則")),
        tag: Some("新聞".into()),
        is_reply: false,
        is_forward: false,
        author: Some("someid".into()),
        posted_at: None,
        original_title: Some("台積電法說會前夕 外資連續買超".into()),
        source_url: Some("https://tw.stock.yahoo.com/news/a.html".into()),
        published: None,
        reporter: None,
        excerpt: Some("台積電將於明日舉行法說會".repeat(10)),
        stocks: Vec::new(),
        hot: None,
        tally: Tally::default(),
    }
}

fn due_rows(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = rt
        .block_on(SqliteStore::open(&dir.path().join("relay.db")))
        .expect("a store");
    let chats: Vec<Destination> = (0..CHATS)
        .map(|i| Destination::chat(ptt_relay::chat::telegram::ID, format!("-100{i:010}")))
        .collect();
    rt.block_on(async {
        for i in 0..POSTS {
            store
                .accept_post(&digest(i), &chats, 1)
                .await
                .expect("queued");
        }
    });
    let mut g = c.benchmark_group("due_rows_200k");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    let mut now = 10;
    g.bench_function("due_rows_one", |b| {
        b.iter(|| {
            now += 3_600;
            let rows = rt
                .block_on(store.due_rows(ptt_relay::chat::telegram::ID, now, &[], 1))
                .expect("due rows");
            black_box(rows)
        })
    });
    g.bench_function("next_due_at", |b| {
        b.iter(|| black_box(rt.block_on(store.next_due_at(ptt_relay::chat::telegram::ID))))
    });
    g.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, due_rows);
criterion_main!(benches);
