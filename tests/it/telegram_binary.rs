//! `ptt-relay run` with a Telegram token, as an operator runs it: the real
//! binary builds the Telegram adapter from its settings and talks to the
//! fake Bot API; the fake PTT supplies posts.

use crate::support;

use std::time::Duration;

use support::binary::{Relay, command, wait_until};
use support::fake_ptt::FakePtt;
use support::fake_telegram::FakeTelegram;

const TOKEN: &str = "424242:BINARY-TEST-SECRET-TOKEN";

fn env(ptt: &FakePtt, tg: &FakeTelegram, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PTT_RELAY__PTT__BASE_URL", ptt.base_url.clone()),
        ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
        ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
        ("PTT_RELAY__SHUTDOWN__TIMEOUT_SECS", "3".into()),
        ("PTT_RELAY__HTTP__LISTEN", "127.0.0.1:0".into()),
        ("PTT_RELAY__TELEGRAM__TOKEN", token.into()),
        ("PTT_RELAY__TELEGRAM__API_URL", tg.api_url.clone()),
        ("RUST_LOG", "ptt_relay=debug".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_private_chat_receives_the_next_news_post() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::run(dir.path(), &env(&ptt, &tg, TOKEN));
    wait_until("the command menu", Duration::from_secs(30), || {
        !tg.commands().is_empty()
    })
    .await;
    tg.private_message(5001, "zh-TW", "/subscribe");
    let replies = tg.wait_sent(5001, 1, Duration::from_secs(30)).await;
    assert!(replies[0].visible.contains("已訂閱 #1"), "{:?}", replies[0]);
    wait_until("the first poll", Duration::from_secs(20), || {
        ptt.index_requests() >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let id = ptt.add_post("Stock", "[新聞] 從二進位檔送出", "reporter");
    let got = tg.wait_sent(5001, 2, Duration::from_secs(30)).await;
    let digest = &got[1];
    assert_eq!(digest.parse_mode.as_deref(), Some("HTML"));
    assert!(digest.visible.contains("[新聞] 從二進位檔送出"));
    assert!(
        digest
            .text
            .contains(&format!("https://www.ptt.cc/bbs/Stock/{id}.html"))
    );
    // No console output when a token is set; the token never in the logs.
    assert!(relay.stdout().is_empty(), "{:?}", relay.stdout());
    // The relay logs the delivery once it has read Telegram's answer,
    // which may be a moment after the fake recorded the message.
    wait_until("the delivery logged", Duration::from_secs(10), || {
        relay.stderr().iter().any(|l| l.contains("delivered"))
    })
    .await;
    let logs = relay.stderr().join("\n");
    assert!(!logs.contains("BINARY-TEST-SECRET-TOKEN"), "token in logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_telegram_refuses_stops_the_service_with_exit_2_and_no_token_in_output() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "999999:WRONG-SECRET-TOKEN-VALUE";
    let mut relay = Relay::run(dir.path(), &env(&ptt, &tg, wrong));
    let status = relay.wait(Duration::from_secs(30)).expect("exits");
    assert_eq!(status.code(), Some(2));
    let err = relay.stderr();
    let last = err.last().cloned().unwrap_or_default();
    assert!(last.starts_with("error: Telegram"), "{err:?}");
    assert!(
        !err.join("\n").contains("WRONG-SECRET-TOKEN-VALUE"),
        "{err:?}"
    );
    let cfg = command(dir.path())
        .arg("check-config")
        .env("PTT_RELAY__TELEGRAM__TOKEN", wrong)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&cfg.stdout);
    assert!(out.contains("token = \"***\"") && !out.contains("WRONG-SECRET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_fan_out_exits_0_and_the_next_start_completes_it_exactly_once() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Relay::run(dir.path(), &env(&ptt, &tg, TOKEN));
    let chats: Vec<i64> = (0..120).map(|i| 7000 + i).collect();
    wait_until("the listener", Duration::from_secs(30), || {
        !tg.commands().is_empty()
    })
    .await;
    for &c in &chats {
        tg.private_message(c, "en", "/subscribe");
    }
    wait_until("all confirmations", Duration::from_secs(60), || {
        chats.iter().all(|&c| !tg.sent_to(c).is_empty())
    })
    .await;
    let id = ptt.add_post("Stock", "[新聞] 大量轉發", "reporter");
    let delivered = |tg: &FakeTelegram| tg.sent().iter().filter(|m| m.text.contains(&id)).count();
    wait_until("the fan-out under way", Duration::from_secs(30), || {
        delivered(&tg) >= 20
    })
    .await;
    relay.terminate();
    let status = relay
        .wait(Duration::from_secs(10))
        .expect("exit within the grace");
    assert_eq!(status.code(), Some(0), "{:?}", relay.stderr());
    let before = delivered(&tg);
    assert!(before < chats.len(), "the fan-out finished before SIGTERM");

    let _relay = Relay::run(dir.path(), &env(&ptt, &tg, TOKEN));
    wait_until("the rest of the fan-out", Duration::from_secs(60), || {
        delivered(&tg) >= chats.len()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for &c in &chats {
        let n = tg
            .sent_to(c)
            .iter()
            .filter(|m| m.text.contains(&id))
            .count();
        assert_eq!(n, 1, "chat {c} got the post {n} times");
    }
    assert_eq!(tg.answered_429(), 0);
}
