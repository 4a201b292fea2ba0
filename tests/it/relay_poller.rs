//! The real poller and outbox against a fake PTT on 127.0.0.1 and a
//! recording sink.

use crate::support;
use crate::support::{board_of, filter_of};

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::app::Running;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use support::fake_ptt::{FakePtt, Fault};
use support::harness::{self, seeded, settings, wait_for};
use support::recording::RecordingSink;

async fn start(s: &Settings, sink: &RecordingSink) -> Running {
    harness::start(s, vec![Arc::new(sink.clone())], None).await
}

fn chat(id: &str) -> Destination {
    Destination::chat(TELEGRAM, id)
}

async fn subscribe(r: &Running, chat_id: &str, words: &str) {
    harness::subscribe(r, chat(chat_id), words).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_news_post_reaches_each_matching_chat_once_and_no_other() {
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_post("Stock", "[新聞] 舊文章不該轉", "old");
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    subscribe(&r, "100", "Stock").await;
    subscribe(&r, "200", "Stock kw:台積電").await;
    subscribe(&r, "300", "Stock tag:閒聊").await;
    seeded(&r).await;

    let news = ptt.add_post("Stock", "[新聞] 台積電法說會", "reporter");
    let chat_post = ptt.add_post("Stock", "[閒聊] 今天盤勢", "someone");
    let reply = ptt.add_post("Stock", "Re: [新聞] 台積電法說會", "other");
    let other_news = ptt.add_post("Stock", "[新聞] 聯發科新品", "reporter");

    wait_for("deliveries", || sink.sent().len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.ids_for("100"), vec![news.clone(), other_news.clone()]);
    assert_eq!(sink.ids_for("200"), vec![news.clone()]);
    assert_eq!(sink.ids_for("300"), vec![chat_post.clone()]);
    assert!(!sink.sent().iter().any(|s| s.digest.id == reply));
    // Order holds per destination, not across them: find the news post's.
    let sent = sink.sent();
    let d = &sent
        .iter()
        .find(|s| s.digest.id == news)
        .expect("the news post")
        .digest;
    assert_eq!(d.url, format!("https://www.ptt.cc/bbs/Stock/{news}.html"));
    assert_eq!(d.tag.as_deref(), Some("新聞"));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_poll_is_one_request_and_unwanted_posts_cost_no_article_fetch() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    subscribe(&r, "100", "Stock").await;
    seeded(&r).await;
    ptt.add_post("Stock", "[閒聊] 沒人訂", "x");
    ptt.add_post("Stock", "[問卦] 沒人訂", "x");
    let before = ptt.index_requests();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let polls = ptt.index_requests() - before;
    assert!(polls >= 2, "expected a few polls, got {polls}");
    assert_eq!(ptt.article_requests(), 0, "{:?}", ptt.requests());
    assert!(sink.sent().is_empty());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_45_posts_between_polls_arrives_completely_and_in_order() {
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_posts("Stock", &["[新聞] seed".to_owned()]);
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&ptt, &dir.path().join("db.sqlite"));
    s.ptt.poll_interval_secs = 3;
    let sink = RecordingSink::new();
    let r = start(&s, &sink).await;
    subscribe(&r, "100", "Stock").await;
    seeded(&r).await;
    let titles: Vec<String> = (0..45).map(|i| format!("[新聞] 第{i}則")).collect();
    let ids = ptt.add_posts("Stock", &titles);
    wait_for("45 deliveries", || sink.ids_for("100").len() >= 45).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.ids_for("100"), ids);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_store_delivers_nothing_twice() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let s = settings(&ptt, &db);
    let sink = RecordingSink::new();
    let r = start(&s, &sink).await;
    subscribe(&r, "100", "Stock").await;
    seeded(&r).await;
    let first = ptt.add_posts("Stock", &["[新聞] 一".into(), "[新聞] 二".into()]);
    wait_for("first deliveries", || sink.ids_for("100").len() >= 2).await;
    r.stop().await;

    let r = start(&s, &sink).await;
    let second = ptt.add_posts("Stock", &["[新聞] 三".into()]);
    wait_for("the post made while restarted", || {
        sink.ids_for("100").len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut expected = first;
    expected.extend(second);
    assert_eq!(sink.ids_for("100"), expected);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ptt_faults_delay_delivery_but_lose_nothing() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    subscribe(&r, "100", "Stock").await;
    seeded(&r).await;
    let mut ids = Vec::new();
    for fault in [
        Fault::Status(503),
        Fault::Hang,
        Fault::Truncated,
        Fault::Cloudflare,
        Fault::Garbage,
        Fault::Status(429),
    ] {
        ptt.set_fault(Some(fault.clone()));
        ids.push(ptt.add_post("Stock", &format!("[新聞] during {fault:?}"), "r"));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !sink.ids_for("100").contains(ids.last().unwrap()),
            "delivered during {fault:?}"
        );
        ptt.set_fault(None);
        wait_for("recovery", || sink.ids_for("100").len() == ids.len()).await;
    }
    assert_eq!(sink.ids_for("100"), ids);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_and_deleted_rows_are_never_relayed() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    subscribe(&r, "100", "Stock").await;
    seeded(&r).await;
    let gone = ptt.add_post("Stock", "[新聞] 刪掉了", "r");
    ptt.delete_post("Stock", &gone);
    ptt.add_pinned("Stock", "[新聞] 置底公告");
    let kept = ptt.add_post("Stock", "[新聞] 留著", "r");
    wait_for("the kept post", || !sink.ids_for("100").is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.ids_for("100"), vec![kept]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_relays_the_newest_posts_when_a_board_is_first_seen() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let ids = ptt.add_posts(
        "Stock",
        &(0..5).map(|i| format!("[新聞] 舊{i}")).collect::<Vec<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let mut s = settings(&ptt, &db);
    s.ptt.backfill = 2;
    // Subscribe before the first poll: open the store, subscribe, close.
    {
        let store = ptt_relay::store::sqlite::SqliteStore::open(&db)
            .await
            .unwrap();
        use ptt_relay::store::Store;
        store
            .subscribe(&chat("100"), &board_of("Stock"), &filter_of("tag:新聞"), 0)
            .await
            .unwrap();
        store.close().await;
    }
    let sink = RecordingSink::new();
    let r = start(&s, &sink).await;
    wait_for("backfill", || sink.ids_for("100").len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.ids_for("100"), ids[3..].to_vec());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_sends_and_the_next_start_delivers_the_rest() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let s = settings(&ptt, &db);
    let slow = RecordingSink::new();
    *slow.delay.lock().unwrap() = Duration::from_millis(700);
    let r = start(&s, &slow).await;
    for chat_id in ["100", "200", "300"] {
        subscribe(&r, chat_id, "Stock").await;
    }
    seeded(&r).await;
    let ids = ptt.add_posts(
        "Stock",
        &(0..4)
            .map(|i| format!("[新聞] 消息{i}"))
            .collect::<Vec<_>>(),
    );
    // Wait until sends are in flight, then stop.
    wait_for("rows queued", || ptt.article_requests() >= 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    r.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        started.elapsed()
    );
    let before = slow.sent().len();
    assert!(before < 12, "everything was delivered before the stop");

    let fast = RecordingSink::new();
    let r = start(&s, &fast).await;
    wait_for("the rest", || before + fast.sent().len() >= 12).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for chat_id in ["100", "200", "300"] {
        let mut got = slow.ids_for(chat_id);
        got.extend(fast.ids_for(chat_id));
        assert_eq!(got, ids, "chat {chat_id}");
    }
    r.stop().await;
}
