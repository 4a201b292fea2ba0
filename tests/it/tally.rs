//! Live tallies and push:N subscriptions, with the real poller, tracker and
//! edit worker against the fake PTT (pushes added while the test runs).

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::app::Running;
use ptt_relay::chat::EditKind;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::relay::tally::TallyOptions;
use support::fake_ptt::FakePtt;
use support::harness::{self, seeded, settings, wait_for};
use support::recording::RecordingSink;

fn chat(id: &str) -> Destination {
    Destination::chat(TELEGRAM, id)
}

fn fast_tally(window_secs: u64) -> TallyOptions {
    TallyOptions {
        window: Duration::from_secs(window_secs),
        first_step: Duration::from_secs(2),
        max_step: Duration::from_secs(4),
        hot_minute: Duration::from_secs(60),
        boom_recount: Duration::from_secs(300),
    }
}

async fn start(s: &Settings, sink: &RecordingSink, tally: TallyOptions) -> Running {
    harness::start(s, vec![Arc::new(sink.clone())], Some(tally)).await
}

fn article_fetches(ptt: &FakePtt, id: &str) -> usize {
    ptt.requests().iter().filter(|p| p.contains(id)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_message_is_edited_to_the_new_tally_and_ten_changes_make_one_edit() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(
        &settings(&ptt, &dir.path().join("db")),
        &sink,
        fast_tally(600),
    )
    .await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;
    let id = ptt.add_post("Stock", "[新聞] 推文會變", "r");
    wait_for("delivery", || sink.ids_for("100") == vec![id.clone()]).await;
    assert_eq!(sink.sent()[0].digest.tally.total, 0);

    // Ten reactions arrive between two checks.
    ptt.add_pushes(
        "Stock",
        &id,
        &["推", "推", "推", "推", "推", "推", "推", "噓", "→", "→"],
    );
    wait_for("an edit", || !sink.edits().is_empty()).await;
    // Let several more polls and scheduled checks pass: nothing changes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let edits = sink.edits();
    assert_eq!(edits.len(), 1, "{edits:?}");
    let e = &edits[0];
    assert_eq!(e.kind, EditKind::Tally);
    assert_eq!(e.dest, chat("100"));
    assert_eq!(e.message_id, "1");
    assert_eq!(
        (
            e.digest.tally.push,
            e.digest.tally.boo,
            e.digest.tally.neutral,
            e.digest.tally.net
        ),
        (7, 1, 2, 6)
    );
    // The tracker kept re-checking (the schedule), without editing.
    assert!(article_fetches(&ptt, &id) >= 3, "{:?}", ptt.requests());

    // One more push: one more edit.
    ptt.add_push("Stock", &id, "推");
    wait_for("a second edit", || sink.edits().len() == 2).await;
    assert_eq!(sink.edits()[1].digest.tally.push, 8);
    let status = r.status();
    assert_eq!(status.tracked_posts(), 1);
    assert!(status.last_edit_at().is_some());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_off_the_polled_page_is_still_updated_by_the_schedule() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(
        &settings(&ptt, &dir.path().join("db")),
        &sink,
        fast_tally(600),
    )
    .await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;
    let id = ptt.add_post("Stock", "[新聞] 會被擠出第一頁", "r");
    wait_for("delivery", || sink.ids_for("100").len() == 1).await;
    // 25 newer posts push it off the newest index page.
    ptt.add_posts(
        "Stock",
        &(0..25).map(|i| format!("[閒聊] {i}")).collect::<Vec<_>>(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ptt.add_pushes("Stock", &id, &["推", "推"]);
    wait_for("the scheduled edit", || !sink.edits().is_empty()).await;
    assert_eq!(sink.edits()[0].digest.tally.push, 2);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracking_stops_after_the_window() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(
        &settings(&ptt, &dir.path().join("db")),
        &sink,
        fast_tally(3),
    )
    .await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;
    let id = ptt.add_post("Stock", "[新聞] 短暫追蹤", "r");
    wait_for("delivery", || sink.ids_for("100").len() == 1).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let fetches = article_fetches(&ptt, &id);
    for _ in 0..5 {
        ptt.add_push("Stock", &id, "推");
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(sink.edits().is_empty(), "{:?}", sink.edits());
    assert_eq!(
        article_fetches(&ptt, &id),
        fetches,
        "still fetched after the window"
    );
    assert_eq!(r.status().tracked_posts(), 0);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_deleted_on_ptt_is_marked_once_and_no_longer_tracked() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(
        &settings(&ptt, &dir.path().join("db")),
        &sink,
        fast_tally(600),
    )
    .await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    harness::subscribe(&r, chat("200"), "Stock").await;
    seeded(&r).await;
    let id = ptt.add_post("Stock", "[新聞] 之後會刪", "r");
    wait_for("deliveries", || sink.sent().len() == 2).await;
    ptt.delete_post("Stock", &id);
    wait_for("deleted marks", || sink.edits().len() == 2).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let edits = sink.edits();
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert!(edits.iter().all(|e| e.kind == EditKind::Deleted));
    let fetches = article_fetches(&ptt, &id);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(article_fetches(&ptt, &id), fetches);
    assert_eq!(r.status().tracked_posts(), 0);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_30_fires_when_and_only_when_the_net_push_reaches_30_once_across_restarts() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = settings(&ptt, &db);
    let sink = RecordingSink::new();
    let r = start(&s, &sink, fast_tally(600)).await;
    // The only subscription on the board.
    harness::subscribe(&r, chat("100"), "Stock push:30").await;
    seeded(&r).await;
    let id = ptt.add_post("Stock", "[新聞] 會變熱門", "r");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        article_fetches(&ptt, &id),
        0,
        "a cold candidate cost a fetch"
    );

    // 31 推 and 3 噓: net 28, marker 28.
    let mut reactions = vec!["推"; 31];
    reactions.extend(["噓"; 3]);
    ptt.add_pushes("Stock", &id, &reactions);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(sink.sent().is_empty(), "delivered below 30");
    assert_eq!(
        article_fetches(&ptt, &id),
        0,
        "fetched before the marker reached 30"
    );

    ptt.add_pushes("Stock", &id, &["推", "推"]);
    wait_for("the hot post", || sink.ids_for("100") == vec![id.clone()]).await;
    assert_eq!(sink.sent()[0].digest.tally.net, 30);
    r.stop().await;

    // More pushes after a restart: never a second delivery.
    let r = start(&s, &sink, fast_tally(600)).await;
    for _ in 0..5 {
        ptt.add_push("Stock", &id, "推");
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sink.ids_for("100"), vec![id.clone()]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_already_hot_when_first_seen_is_delivered_at_once() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let mut s = settings(&ptt, &dir.path().join("db"));
    s.ptt.poll_interval_secs = 2;
    let r = start(&s, &sink, fast_tally(600)).await;
    harness::subscribe(&r, chat("100"), "Stock push:10").await;
    harness::subscribe(&r, chat("200"), "Stock push:50").await;
    seeded(&r).await;
    let id = ptt.add_post("Stock", "[新聞] 一出來就爆", "r");
    ptt.add_pushes("Stock", &id, &["推"; 12]);
    wait_for("the hot post", || sink.ids_for("100") == vec![id.clone()]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(sink.ids_for("200").is_empty());
    r.stop().await;
}
