//! What an operator sees: `/healthz`, `/readyz`, `/metrics` and
//! `ptt-relay healthcheck`, on the real binary against the fake PTT.

use crate::support;

use std::time::Duration;

use support::binary::{Relay, command, wait_until};
use support::fake_ptt::{FakePtt, Fault};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn env(ptt: &FakePtt, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("PTT_RELAY__PTT__BASE_URL", ptt.base_url.clone()),
        ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
        ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
        ("PTT_RELAY__HTTP__LISTEN", format!("127.0.0.1:{port}")),
    ]
}

async fn get(port: u16, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    match client
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// The value of a sample line `name{labels} value` (or `name value`).
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_as_a_post_is_relayed_and_readyz_follows_ptt() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::run(dir.path(), &env(&ptt, port));

    wait_until("/healthz", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    assert_eq!(get(port, "/healthz").await.0, 200);
    let healthcheck = command(dir.path())
        .arg("healthcheck")
        .env("PTT_RELAY__HTTP__LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    assert_eq!(healthcheck.status.code(), Some(0));

    // Ready once the board was polled.
    let mut ready = false;
    for _ in 0..100 {
        if get(port, "/readyz").await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "never ready");

    let (_, before) = get(port, "/metrics").await;
    for name in [
        "ptt_relay_polls_total",
        "ptt_relay_ptt_requests_total",
        "ptt_relay_ptt_request_duration_seconds",
        "ptt_relay_outbox_depth",
        "ptt_relay_outbox_oldest_seconds",
        "ptt_relay_tracked_posts",
        "ptt_relay_leader",
        "ptt_relay_build_info",
    ] {
        assert!(before.contains(name), "{name} missing:\n{before}");
    }
    assert!(before.contains(&format!(
        "ptt_relay_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    assert_eq!(sample(&before, "ptt_relay_leader "), 1.0);

    ptt.add_post("Stock", "[新聞] 指標測試", "r");
    wait_until("the post printed", Duration::from_secs(20), || {
        !relay.stdout().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, after) = get(port, "/metrics").await;
    assert_eq!(
        sample(&after, "ptt_relay_posts_seen_total{board=\"Stock\"}"),
        1.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, "ptt_relay_posts_relayed_total{board=\"Stock\"}"),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            "ptt_relay_deliveries_total{platform=\"console\",outcome=\"sent\"}"
        ),
        1.0
    );
    assert!(
        sample(
            &after,
            "ptt_relay_polls_total{board=\"Stock\",outcome=\"ok\"}"
        ) > sample(
            &before,
            "ptt_relay_polls_total{board=\"Stock\",outcome=\"ok\"}"
        )
    );
    assert!(sample(&after, "ptt_relay_ptt_requests_total{status=\"200\"}") >= 2.0);

    // PTT down for longer than 3 intervals: not ready, with the reason.
    ptt.set_fault(Some(Fault::Status(503)));
    let mut down = String::new();
    for _ in 0..150 {
        let (status, body) = get(port, "/readyz").await;
        if status == 503 {
            down = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(down.contains("Stock not polled successfully"), "{down:?}");
    let (_, failing) = get(port, "/metrics").await;
    assert!(sample(&failing, "ptt_relay_ptt_requests_total{status=\"503\"}") >= 1.0);

    ptt.set_fault(None);
    let mut back = false;
    for _ in 0..300 {
        if get(port, "/readyz").await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "not ready again after PTT came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_markup_that_stopped_parsing() {
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_post("Stock", "[新聞] x", "r");
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::run(dir.path(), &env(&ptt, port));
    ptt.set_fault(Some(Fault::Garbage));
    let mut body = String::new();
    for _ in 0..150 {
        let (status, b) = get(port, "/readyz").await;
        if status == 503 && b.contains("markup") {
            body = b;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(body.contains("PTT markup changed?"), "{body:?}");
    let (_, metrics) = get(port, "/metrics").await;
    assert!(
        sample(
            &metrics,
            "ptt_relay_parse_failures_total{board=\"Stock\",page=\"index\"}"
        ) >= 1.0
    );
    // Logged once (per hour), with the URL and the page's start.
    let logs = relay.stderr().join("\n");
    assert_eq!(logs.matches("yields no posts").count(), 1, "{logs}");
    assert!(logs.contains("/bbs/Stock/index.html"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_fails_when_nothing_listens() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .arg("healthcheck")
        .env(
            "PTT_RELAY__HTTP__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_on_stderr_with_the_post_and_chat() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(&ptt, free_port());
    e.push(("PTT_RELAY__LOG__FORMAT", "json".into()));
    let relay = Relay::run(dir.path(), &e);
    wait_until("the first poll", Duration::from_secs(20), || {
        ptt.index_requests() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let id = ptt.add_post("Stock", "[新聞] JSON 日誌", "r");
    wait_until("the delivery log", Duration::from_secs(20), || {
        relay.stderr().iter().any(|l| l.contains("delivered"))
    })
    .await;
    let lines = relay.stderr();
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    let delivered = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["fields"]["message"] == "delivered")
        .expect("a delivery line");
    assert_eq!(delivered["fields"]["post"], id);
    assert_eq!(delivered["fields"]["chat"], "console:stdout");
    // stdout still carries only the product.
    assert!(relay.stdout().iter().any(|l| l.contains(&id)));
}
