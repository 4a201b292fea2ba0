//! Fault injection on the PTT side: for each fault the service stays up,
//! loses nothing already accepted, sends nothing twice, and recovers on its
//! own when the fault ends.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::dest::Destination;
use support::fake_ptt::{FakePtt, Fault};
use support::harness::{self, seeded, settings, wait_for};
use support::recording::RecordingSink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ptt_fault_delays_but_loses_and_doubles_nothing() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = harness::start(
        &settings(&ptt, &dir.path().join("db")),
        vec![Arc::new(sink.clone())],
        None,
    )
    .await;
    let chat = Destination::chat(TELEGRAM, "100");
    harness::subscribe(&r, chat, "Stock").await;
    seeded(&r).await;

    let mut expected = Vec::new();
    for fault in [
        Fault::Status(500),
        Fault::Status(503),
        Fault::Status(429),
        Fault::Hang,
        Fault::CloseConnection,
        Fault::Truncated,
        Fault::Garbage,
        Fault::Cloudflare,
        Fault::Over18Loop,
        Fault::BoardGone,
    ] {
        // A post accepted before the fault, one made during it.
        expected.push(ptt.add_post("Stock", &format!("[新聞] before {fault:?}"), "r"));
        wait_for("the post before the fault", || {
            sink.ids_for("100") == expected
        })
        .await;
        ptt.set_fault(Some(fault.clone()));
        expected.push(ptt.add_post("Stock", &format!("[新聞] during {fault:?}"), "r"));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            sink.ids_for("100").len(),
            expected.len() - 1,
            "delivered during {fault:?}"
        );
        ptt.set_fault(None);
        wait_for("recovery", || sink.ids_for("100") == expected).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.ids_for("100"), expected, "lost or doubled");
    // The over-18 form was answered (and the loop given up on).
    assert!(ptt.requests().iter().any(|p| p == "/ask/over18"));
    r.stop().await;
}
