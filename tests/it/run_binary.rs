//! `ptt-relay run` as a user runs it: the real binary, no tokens (console
//! sink), against the fake PTT.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use support::binary::{Relay, command, wait_until};
use support::fake_ptt::FakePtt;

fn env(ptt: &FakePtt) -> Vec<(&'static str, String)> {
    vec![
        ("PTT_RELAY__PTT__BASE_URL", ptt.base_url.clone()),
        ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
        ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
        ("PTT_RELAY__SHUTDOWN__TIMEOUT_SECS", "3".into()),
        ("PTT_RELAY__HTTP__LISTEN", "127.0.0.1:0".into()),
    ]
}

/// Post ids printed on stdout (the last line of each text block is the URL).
fn printed_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("https://www.ptt.cc/bbs/Stock/"))
        .map(|f| f.trim_end_matches(".html").to_owned())
        .collect()
}

async fn seeded(relay: &Relay, ptt: &FakePtt) {
    wait_until("the first poll", Duration::from_secs(20), || {
        ptt.index_requests() >= 1
    })
    .await;
    // Let the seeding poll finish before posts appear.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        relay.stdout().is_empty(),
        "printed before any new post: {:?}",
        relay.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_tokens_creates_its_store_and_prints_new_news_posts() {
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_post("Stock", "[新聞] 舊聞", "old");
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::run(dir.path(), &env(&ptt));
    seeded(&relay, &ptt).await;
    assert!(
        dir.path().join("data/ptt-relay.db").exists(),
        "store not created"
    );

    let news = ptt.add_post("Stock", "[新聞] 台積電法說會", "reporter");
    ptt.add_post("Stock", "[閒聊] 不該印出", "someone");
    wait_until("the news block", Duration::from_secs(20), || {
        printed_ids(&relay.stdout()) == vec![news.clone()]
    })
    .await;
    let out = relay.stdout().join("\n");
    assert!(out.contains("[Stock] [新聞] 台積電法說會"), "{out}");
    assert!(out.contains("原文連結：https://news.example.com/"), "{out}");
    assert!(out.contains("推 0  噓 0  → 0"), "{out}");
    // Logs never reach stdout.
    assert!(!out.contains("INFO") && !out.contains("WARN"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_console_format_prints_one_digest_per_line() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(&ptt);
    e.push(("PTT_RELAY__CONSOLE__FORMAT", "json".into()));
    let relay = Relay::run(dir.path(), &e);
    seeded(&relay, &ptt).await;
    let id = ptt.add_post("Stock", "[新聞] JSON", "r");
    wait_until("a JSON line", Duration::from_secs(20), || {
        !relay.stdout().is_empty()
    })
    .await;
    let lines = relay.stdout();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["id"], id);
    assert_eq!(v["url"], format!("https://www.ptt.cc/bbs/Stock/{id}.html"));
    assert_eq!(v["tally"]["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_and_a_second_process_on_the_same_store_is_refused() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::run(dir.path(), &env(&ptt));
    seeded(&relay, &ptt).await;

    let second = command(dir.path())
        .arg("run")
        .envs(env(&ptt).into_iter().map(|(k, v)| (k.to_string(), v)))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another ptt-relay (pid"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    relay.terminate();
    let status = relay
        .wait(Duration::from_secs(10))
        .expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr: {:?}", relay.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_deliveries_loses_nothing_and_repeats_at_most_the_one_in_flight() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::run(dir.path(), &env(&ptt));
    seeded(&relay, &ptt).await;
    let titles: Vec<String> = (0..30).map(|i| format!("[新聞] 快訊{i}")).collect();
    let ids = ptt.add_posts("Stock", &titles);
    wait_until("some deliveries", Duration::from_secs(30), || {
        printed_ids(&relay.stdout()).len() >= 8
    })
    .await;
    relay.child.kill().unwrap();
    relay.wait(Duration::from_secs(5)).expect("killed");
    let first = printed_ids(&relay.stdout());
    assert!(
        first.len() < ids.len(),
        "all delivered before the kill; test proves nothing"
    );

    let relay = Relay::run(dir.path(), &env(&ptt));
    wait_until("the rest after restart", Duration::from_secs(60), || {
        let mut all = first.clone();
        all.extend(printed_ids(&relay.stdout()));
        ids.iter().all(|id| all.contains(id))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut all = first.clone();
    all.extend(printed_ids(&relay.stdout()));
    let mut counts: HashMap<&String, usize> = HashMap::new();
    for id in &all {
        *counts.entry(id).or_default() += 1;
    }
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    // The console sink has one destination, so at most one send in flight.
    assert!(duplicates <= 1, "duplicates: {duplicates} in {all:?}");
    assert!(ids.iter().all(|id| counts.contains_key(id)));
    // Each run printed in post order.
    let second = printed_ids(&relay.stdout());
    let mut sorted = second.clone();
    sorted.sort_by_key(|id| ids.iter().position(|x| x == id));
    assert_eq!(second, sorted);
}
