//! DESIGN.md's polling rules, one test per kind of lost or late post (issue
//! 12, kinds 1–5): the real service against the fake PTT (or, for the
//! same-second case, the real binary against the case's static pages).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ptt_relay::app::{self, Extras};
use ptt_relay::dest::{Destination, Platform};
use support::binary::wait_until;
use support::fake_ptt::{FakePtt, Fault};
use support::harness::{self, seeded, settings};
use support::recording::RecordingSink;

fn chat(id: &str) -> Destination {
    Destination::chat(Platform::Telegram, id)
}

/// Kind 5: with 1-second polls, six plain 503 pages (nginx's, not
/// Cloudflare's) and then recovery: the post made during the outage is
/// relayed within one interval plus 2 s of PTT answering again. The
/// client's block pause keeps its real defaults (30 s doubling to 10 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_six_plain_503s_a_new_post_arrives_within_an_interval_and_2s() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&ptt, &dir.path().join("db.sqlite"));
    let sink = RecordingSink::new();
    support::init_logs();
    let r = app::start_with(
        &s,
        Extras {
            sinks: vec![Arc::new(sink.clone())],
            ptt_client: Some(Box::new(|o| {
                o.request_timeout = Duration::from_millis(500);
                o.connect_timeout = Duration::from_millis(500);
                o.initial_backoff = Duration::from_millis(10);
                o.max_attempts = 2;
            })),
            tally: None,
        },
    )
    .await
    .expect("start");
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    ptt.fault_next(Fault::PlainError(503), 6);
    let post = ptt.add_post("Stock", "[新聞] 停機時的新聞", "r");
    wait_until("the outage to end", Duration::from_secs(120), || {
        ptt.scripted_faults_left() == 0
    })
    .await;
    let recovered = Instant::now();
    wait_until("the post", Duration::from_secs(60), || {
        !sink.ids_for("100").is_empty()
    })
    .await;
    let took = recovered.elapsed();
    assert!(
        took <= Duration::from_secs(3),
        "relayed {took:?} after PTT answered again"
    );
    assert_eq!(sink.ids_for("100"), vec![post]);
    r.stop().await;
}
