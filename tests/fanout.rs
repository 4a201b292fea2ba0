//! Fan-out at the platforms' limits, measured through fakes that enforce the
//! real limits. These are measurements, not pass/fail timing checks: run
//! them with `scripts/fanout.sh` (they are ignored in the normal test run
//! because they take minutes). They do assert zero lost, zero duplicated
//! and zero 429s; the rates are printed.

mod support;

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use ptt_relay::app::{self, Extras};
use ptt_relay::chat::AdapterContext;
use ptt_relay::chat::telegram::{TelegramAdapter, TelegramOptions};
use ptt_relay::commands::{Handler, Lang};
use ptt_relay::config::TelegramSettings;
use ptt_relay::dest::{Destination, Platform};
use ptt_relay::relay::status::RuntimeStatus;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use secrecy::SecretString;
use support::fake_ptt::FakePtt;
use support::fake_telegram::FakeTelegram;
use support::harness::{self, seeded};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "5555:FANOUT-TOKEN";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (about 40 s): run scripts/fanout.sh"]
async fn one_post_to_1000_telegram_chats() {
    let chats = 1000usize;
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = harness::settings(&ptt, &db);
    let store: Arc<dyn Store> = SqliteStore::open(&db).await.unwrap();
    for i in 0..chats {
        let dest = Destination::chat(Platform::Telegram, (100_000 + i).to_string());
        store
            .subscribe(&dest, "Stock", "tag:新聞", 0)
            .await
            .unwrap();
    }
    let status = Arc::new(RuntimeStatus::new("this instance"));
    let shutdown = CancellationToken::new();
    let ctx = AdapterContext {
        store: Arc::clone(&store),
        handler: Arc::new(Handler::new(
            Arc::clone(&store),
            s.boards(),
            Arc::clone(&status),
        )),
        status,
        default_lang: Lang::ZhTw,
        shutdown: shutdown.clone(),
    };
    let settings = TelegramSettings {
        token: Some(SecretString::from(TOKEN.to_owned())),
        api_url: tg.api_url.clone(),
        link_preview: "off".into(),
    };
    let adapter =
        TelegramAdapter::with_options(&settings, ctx, TelegramOptions::default()).unwrap();
    let running = app::start_with_store(
        &s,
        store,
        Extras {
            sinks: vec![adapter.sink()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    seeded(&running).await;
    let id = ptt.add_post("Stock", "[新聞] 一千個聊天室", "reporter");
    let posted = Instant::now();
    let deadline = posted + Duration::from_secs(180);
    loop {
        let n = tg.sent().iter().filter(|m| m.text.contains(&id)).count();
        if n >= chats || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent: Vec<_> = tg
        .sent()
        .into_iter()
        .filter(|m| m.text.contains(&id))
        .collect();
    let mut per_chat = std::collections::HashMap::new();
    for m in &sent {
        *per_chat.entry(m.chat_id).or_insert(0) += 1;
    }
    let first = sent.iter().map(|m| m.at).min().unwrap();
    let last = sent.iter().map(|m| m.at).max().unwrap();
    let span = last.duration_since(first).as_secs_f64();
    let rate = (sent.len() - 1) as f64 / span;
    println!(
        "FANOUT telegram chats={chats} delivered={} distinct={} duplicates={} 429s={} \
         first_to_last={span:.2}s rate={rate:.1}/s ({:.0}% of 30/s) post_to_last={:.2}s",
        sent.len(),
        per_chat.len(),
        sent.len() - per_chat.len(),
        tg.answered_429(),
        100.0 * rate / 30.0,
        last.duration_since(posted).as_secs_f64(),
    );
    assert_eq!(per_chat.len(), chats, "lost deliveries");
    assert_eq!(sent.len(), chats, "duplicated deliveries");
    assert_eq!(tg.answered_429(), 0);
    shutdown.cancel();
    running.stop().await;
}
