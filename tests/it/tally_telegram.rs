//! Live tallies on Telegram: the relayed message is edited (editMessageText
//! through the real teloxide client and the fake Bot API) to the new
//! numbers within one tracking step; ten changes make one edit; an
//! unchanged tally makes none; a deleted post is marked once.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::app::{self, Extras, Running};
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::chat::telegram::TelegramSettings;
use ptt_relay::chat::telegram::{TelegramAdapter, TelegramOptions};
use ptt_relay::dest::Destination;
use ptt_relay::relay::tally::TallyOptions;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use secrecy::SecretString;
use support::fake_ptt::FakePtt;
use support::fake_telegram::FakeTelegram;
use support::harness::{self, seeded, wait_for};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "31337:TALLY-TEST-TOKEN";
const CHAT: i64 = 8001;

struct Setup {
    ptt: FakePtt,
    tg: FakeTelegram,
    running: Running,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

async fn setup() -> Setup {
    support::init_logs();
    let ptt = FakePtt::start(&["Stock"]).await;
    let tg = FakeTelegram::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let s = harness::settings(&ptt, &db);
    let store: Arc<dyn Store> = SqliteStore::open(&db).await.unwrap();
    let shutdown = CancellationToken::new();
    let ctx = harness::adapter_context(&s, &store, &shutdown);
    let settings = TelegramSettings {
        token: Some(SecretString::from(TOKEN.to_owned())),
        api_url: tg.api_url.clone(),
        link_preview: ptt_relay::chat::telegram::LinkPreview::Off,
    };
    let options = TelegramOptions {
        poll_timeout: Duration::from_secs(1),
        channel_cleanup_after: Duration::from_secs(1),
        retry_start: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        conflict_log_every: Duration::from_secs(60),
        ..TelegramOptions::default()
    };
    let handler = Some(Arc::clone(&ctx.handler));
    let adapter = TelegramAdapter::with_options(&settings, ctx, options).unwrap();
    let running = app::start_with_store(
        &s,
        store,
        Extras {
            sinks: vec![adapter.sink()],
            tally: Some(TallyOptions {
                window: Duration::from_secs(600),
                first_step: Duration::from_secs(2),
                max_step: Duration::from_secs(4),
                hot_minute: Duration::from_secs(60),
                boom_recount: Duration::from_secs(300),
            }),
            handler,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    harness::subscribe(
        &running,
        Destination::chat(TELEGRAM, CHAT.to_string()),
        "Stock",
    )
    .await;
    seeded(&running).await;
    Setup {
        ptt,
        tg,
        running,
        _dir: dir,
        shutdown,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_telegram_message_follows_the_tally_and_is_marked_when_deleted() {
    let Setup {
        ptt,
        tg,
        running,
        _dir,
        shutdown,
    } = setup().await;
    let id = ptt.add_post("Stock", "[新聞] 推文即時更新", "reporter");
    let sent = tg.wait_sent(CHAT, 1, Duration::from_secs(30)).await;
    assert!(
        sent[0].visible.contains("推 0 噓 0 → 0"),
        "{:?}",
        sent[0].visible
    );

    // Ten changes between two checks: one edit with the latest numbers.
    ptt.add_pushes(
        "Stock",
        &id,
        &["推", "推", "推", "推", "推", "推", "噓", "噓", "→", "→"],
    );
    wait_for("the edit", || !tg.edits().is_empty()).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let edits = tg.edits();
    assert_eq!(edits.len(), 1, "{edits:#?}");
    assert_eq!(edits[0].chat_id, CHAT);
    assert_eq!(edits[0].message_id, sent[0].message_id);
    assert!(
        edits[0].visible.contains("推 6 噓 2 → 2"),
        "{}",
        edits[0].visible
    );

    // Deleted on PTT: marked once, then left alone.
    ptt.delete_post("Stock", &id);
    wait_for("the deleted mark", || tg.edits().len() == 2).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let edits = tg.edits();
    assert_eq!(edits.len(), 2, "{edits:#?}");
    assert!(edits[1].visible.contains("已刪除"), "{}", edits[1].visible);
    assert_eq!(tg.answered_429(), 0);
    shutdown.cancel();
    running.stop().await;
}
