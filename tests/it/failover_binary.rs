//! Several replicas on PostgreSQL, as operators run them: three `ptt-relay
//! run` processes share one database, the fake PTT and the fake Bot API.
//! The leader is killed with SIGKILL during a burst of posts and a fan-out:
//! another replica takes over within the lease, every post reaches every
//! subscribed chat, and repeats are at most the sends in flight at the kill.
//! Needs PostgreSQL: `PTT_RELAY_TEST_PG_URL` (skipped, saying so, when unset).

use crate::support;
use crate::support::{board_of, filter_of};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::dest::Destination;
use ptt_relay::store::Store;
use ptt_relay::store::postgres::PostgresStore;
use support::binary::{Relay, wait_until};
use support::fake_ptt::FakePtt;
use support::fake_telegram::{FakeTelegram, Limits};
use support::pg::{TestSchema, pg_url};

const TOKEN: &str = "777:REPLICA-TOKEN";
const CHATS: i64 = 12;
const LEASE_SECS: u64 = 3;

fn env(ptt: &FakePtt, tg: &FakeTelegram, db: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PTT_RELAY__PTT__BASE_URL", ptt.base_url.clone()),
        ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
        ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
        ("PTT_RELAY__STORE__URL", db.to_owned()),
        ("PTT_RELAY__STORE__LEASE_SECS", LEASE_SECS.to_string()),
        ("PTT_RELAY__HTTP__LISTEN", "127.0.0.1:0".into()),
        ("PTT_RELAY__TELEGRAM__TOKEN", TOKEN.into()),
        ("PTT_RELAY__TELEGRAM__API_URL", tg.api_url.clone()),
        ("PTT_RELAY__SHUTDOWN__TIMEOUT_SECS", "3".into()),
    ]
}

fn leads(r: &Relay) -> bool {
    r.stderr().iter().any(|l| l.contains("this replica leads"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_fan_out_loses_nothing_and_a_new_leader_takes_over() {
    let Some(admin) = pg_url() else { return };
    let schema = TestSchema::create(&admin).await;
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    // Three replicas each pace themselves; the shared limit is not what
    // this test is about.
    tg.set_limits(Limits {
        enabled: false,
        ..Limits::default()
    });
    {
        let store = PostgresStore::open(&schema.url, "setup".into())
            .await
            .unwrap();
        for c in 0..CHATS {
            let dest = Destination::chat(TELEGRAM, (9100 + c).to_string());
            store
                .subscribe(&dest, &board_of("Stock"), &filter_of("tag:新聞"), 0)
                .await
                .unwrap();
        }
        store.close().await;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut replicas: Vec<Relay> = (0..3)
        .map(|_| Relay::run(dir.path(), &env(&ptt, &tg, &schema.url)))
        .collect();
    wait_until("a leader", Duration::from_secs(30), || {
        replicas.iter().filter(|r| leads(r)).count() == 1
    })
    .await;
    wait_until("the first poll", Duration::from_secs(20), || {
        ptt.index_requests() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        replicas.iter().filter(|r| leads(r)).count(),
        1,
        "two leaders"
    );

    // A burst of posts; kill the leader while they fan out.
    let mut ids = ptt.add_posts(
        "Stock",
        &(0..10)
            .map(|i| format!("[新聞] 第一波{i}"))
            .collect::<Vec<_>>(),
    );
    let delivered = |tg: &FakeTelegram, ids: &[String]| {
        tg.sent()
            .iter()
            .filter(|m| ids.iter().any(|id| m.text.contains(id.as_str())))
            .count()
    };
    wait_until("the fan-out under way", Duration::from_secs(30), || {
        delivered(&tg, &ids) >= 15
    })
    .await;
    let leader = replicas.iter().position(leads).unwrap();
    let mut old = replicas.remove(leader);
    old.child.kill().unwrap();
    old.wait(Duration::from_secs(5)).expect("killed");
    let killed_at = Instant::now();
    let polls_at_kill = ptt.index_requests();
    assert!(
        delivered(&tg, &ids) < ids.len() * CHATS as usize,
        "fan-out finished before the kill"
    );

    // More posts while the lock changes hands.
    ids.extend(
        ptt.add_posts(
            "Stock",
            &(0..5)
                .map(|i| format!("[新聞] 第二波{i}"))
                .collect::<Vec<_>>(),
        ),
    );
    wait_until("a new leader", Duration::from_secs(30), || {
        replicas.iter().filter(|r| leads(r)).count() == 1 && ptt.index_requests() > polls_at_kill
    })
    .await;
    let takeover = killed_at.elapsed();
    println!("FAILOVER new leader polled {takeover:.2?} after the kill (lease {LEASE_SECS} s)");
    assert!(
        takeover < Duration::from_secs(LEASE_SECS * 4),
        "took {takeover:?} to take over"
    );

    let expected = ids.len() * CHATS as usize;
    wait_until("every post in every chat", Duration::from_secs(90), || {
        let sent = tg.sent();
        (0..CHATS).all(|c| {
            ids.iter().all(|id| {
                sent.iter()
                    .any(|m| m.chat_id == 9100 + c && m.text.contains(id.as_str()))
            })
        })
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut counts: HashMap<(i64, &str), usize> = HashMap::new();
    for m in tg.sent() {
        for id in &ids {
            if m.text.contains(id.as_str()) {
                *counts.entry((m.chat_id, id.as_str())).or_default() += 1;
            }
        }
    }
    assert_eq!(counts.len(), expected);
    let repeats: usize = counts.values().map(|n| n - 1).sum();
    println!("FAILOVER delivered {expected} post×chat pairs, {repeats} repeated");
    // At most the dead replica's sends in flight (outbox.concurrency = 8).
    assert!(repeats <= 8, "{repeats} repeats");
    for r in &replicas {
        r.terminate();
    }
    for r in &mut replicas {
        assert_eq!(
            r.wait(Duration::from_secs(10)).and_then(|s| s.code()),
            Some(0)
        );
    }
}
