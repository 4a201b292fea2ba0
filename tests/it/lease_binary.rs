//! Two `ptt-relay run` processes on one SQLite file (issue 12, kind 7): a
//! process stalled past its store lease (SIGSTOP, as `docker pause` or a
//! frozen VM does). While its lock file is held, a second process is
//! refused even after the lease row expired. Where the lock does not work
//! (a file system that ignores `flock`; here: the lock file removed), the
//! second process takes the store over, and the stalled one, resumed, must
//! stop polling and sending at once and exit 1 with a clear message, so
//! that every post reaches every chat once.

use crate::support;
use crate::support::{board_of, filter_of};

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::dest::Destination;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use support::binary::{Relay, wait_until};
use support::fake_ptt::FakePtt;
use support::fake_telegram::FakeTelegram;

const TOKEN: &str = "555:LEASE-TEST-TOKEN";
const CHATS: i64 = 4;
/// Longer than the SQLite lease (30 s).
const STALL: Duration = Duration::from_secs(36);

fn env(ptt: &FakePtt, tg: &FakeTelegram, db: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PTT_RELAY__PTT__BASE_URL", ptt.base_url.clone()),
        ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
        ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
        ("PTT_RELAY__STORE__URL", db.to_owned()),
        ("PTT_RELAY__HTTP__LISTEN", "127.0.0.1:0".into()),
        ("PTT_RELAY__TELEGRAM__TOKEN", TOKEN.into()),
        ("PTT_RELAY__TELEGRAM__API_URL", tg.api_url.clone()),
        ("PTT_RELAY__SHUTDOWN__TIMEOUT_SECS", "3".into()),
    ]
}

fn signal(r: &Relay, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &r.child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_stalled_past_its_lease_exits_1_and_the_new_holder_delivers_once() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let db = format!("sqlite://{}", path.display());
    {
        let store = SqliteStore::open_unleased(&path).await.unwrap();
        for c in 0..CHATS {
            let dest = Destination::chat(TELEGRAM, (9300 + c).to_string());
            store
                .subscribe(&dest, &board_of("Stock"), &filter_of("tag:新聞"), 0)
                .await
                .unwrap();
        }
        store.close().await;
    }
    let mut a = Relay::run(dir.path(), &env(&ptt, &tg, &db));
    for _ in 0..300 {
        if ptt.index_requests() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ptt.index_requests() >= 1,
        "A never polled: {:?}",
        a.stderr()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A freezes. Its lease row expires, but its lock file still holds.
    signal(&a, "-STOP");
    tokio::time::sleep(STALL).await;
    let mut refused = Relay::run(dir.path(), &env(&ptt, &tg, &db));
    let status = refused.wait(Duration::from_secs(20));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(2),
        "{:?}",
        refused.stderr()
    );
    assert!(
        refused
            .stderr()
            .iter()
            .any(|l| l.contains("another ptt-relay")),
        "{:?}",
        refused.stderr()
    );
    // Without the lock (a file system that ignores it), the expired lease
    // row is all there is: B takes the store over.
    std::fs::remove_file(format!("{}.lock", path.display())).expect("the lock file");
    let b = Relay::run(dir.path(), &env(&ptt, &tg, &db));
    for _ in 0..300 {
        if b.stderr().iter().any(|l| l.contains("ptt-relay started")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        b.stderr().iter().any(|l| l.contains("ptt-relay started")),
        "B did not start: {:?}",
        b.stderr()
    );
    let polls = ptt.index_requests();
    wait_until("B polling", Duration::from_secs(30), || {
        ptt.index_requests() > polls
    })
    .await;

    // A wakes up next to B; news arrives.
    signal(&a, "-CONT");
    let ids = ptt.add_posts(
        "Stock",
        &(0..5)
            .map(|i| format!("[新聞] 兩個行程{i}"))
            .collect::<Vec<_>>(),
    );
    wait_until("every post in every chat", Duration::from_secs(60), || {
        let sent = tg.sent();
        (0..CHATS).all(|c| {
            ids.iter().all(|id| {
                sent.iter()
                    .any(|m| m.chat_id == 9300 + c && m.text.contains(id.as_str()))
            })
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut counts: HashMap<(i64, &str), usize> = HashMap::new();
    for m in tg.sent() {
        for id in &ids {
            if m.text.contains(id.as_str()) {
                *counts.entry((m.chat_id, id.as_str())).or_default() += 1;
            }
        }
    }
    let repeats: usize = counts.values().map(|n| n - 1).sum();
    assert_eq!(counts.len(), ids.len() * CHATS as usize);
    assert_eq!(repeats, 0, "{repeats} repeated deliveries: {counts:?}");
    // A stopped at once, saying why.
    let Some(status) = a.wait(Duration::from_secs(10)) else {
        panic!("A did not stop: {:?}", a.stderr());
    };
    assert_eq!(status.code(), Some(1), "{:?}", a.stderr());
    let err = a.stderr().join("\n");
    assert!(err.contains("took this store over"), "{err}");
    b.terminate();
    let mut b = b;
    assert_eq!(
        b.wait(Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0)
    );
}
