//! Starting the real service in-process against the fakes.

use crate::support::board_of;
use std::sync::Arc;
use std::time::Duration;

use ptt_relay::app::{self, Extras, Running};
use ptt_relay::chat::{AdapterContext, ChatSink};
use ptt_relay::commands::{self, Context, Handler, Lang};
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::relay::tally::TallyOptions;
use ptt_relay::store::Store;
use ptt_relay::telemetry::status::RuntimeStatus;
use tokio_util::sync::CancellationToken;

use super::fake_ptt::FakePtt;

/// Settings for a test: the fake PTT, a fast poll, a temporary store, no
/// console, an ephemeral health port.
pub fn settings(ptt: &FakePtt, db: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.ptt.base_url = ptt.base_url.clone();
    s.ptt.boards = vec!["Stock".into()];
    s.ptt.poll_interval_secs = 1;
    s.ptt.requests_per_sec = 200.0;
    s.store.url = format!("sqlite://{}", db.display());
    s.console.enabled = Some(false);
    s.shutdown.timeout_secs = 2;
    s.http.listen = "127.0.0.1:0".into();
    s
}

/// Starts the service with these sinks (PTT client tuned for fast faults).
pub async fn start(
    s: &Settings,
    sinks: Vec<Arc<dyn ChatSink>>,
    tally: Option<TallyOptions>,
) -> Running {
    super::init_logs();
    app::start_with(
        s,
        Extras {
            sinks,
            ptt_client: Some(Box::new(|o| {
                o.request_timeout = Duration::from_millis(500);
                o.connect_timeout = Duration::from_millis(500);
                o.initial_backoff = Duration::from_millis(10);
                o.max_backoff = Duration::from_millis(100);
                o.block_backoff = Duration::from_millis(100);
                o.max_attempts = 2;
            })),
            tally,
            handler: None,
            share: None,
            leaderboards: None,
        },
    )
    .await
    .expect("start")
}

/// Runs `/subscribe WORDS` as an admin of `dest` and checks it worked.
pub async fn subscribe(r: &Running, dest: Destination, words: &str) {
    let ctx = Context {
        dest,
        is_admin: true,
        lang: Lang::En,
        max_reply_chars: 4096,
    };
    let parsed =
        commands::parse(&format!("/subscribe {words}"), None).map(|c| c.expect("a command"));
    let reply = r.handler().handle(&ctx, parsed).await;
    assert!(reply.text.contains("Subscribed"), "{}", reply.text);
}

/// Waits up to 30 s for `cond`.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the board has been seeded by a first poll.
pub async fn seeded(r: &Running) {
    for _ in 0..100 {
        if r.store()
            .board_state(&board_of("Stock"))
            .await
            .unwrap()
            .mark
            .is_some()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("board never seeded");
}

/// The context a chat adapter started by a test gets: a handler over
/// `store`, the boards
/// of `s`, zh-TW by default and a fresh runtime status.
pub fn adapter_context(
    s: &Settings,
    store: &Arc<dyn Store>,
    shutdown: &CancellationToken,
) -> AdapterContext {
    let status = Arc::new(RuntimeStatus::new("this instance"));
    AdapterContext {
        handler: Arc::new(Handler::new(
            Arc::clone(store),
            s.boards(),
            Arc::clone(&status),
        )),
        status,
        default_lang: Lang::ZhTw,
        shutdown: shutdown.clone(),
        share: ptt_relay::chat::pacing::Share::alone(),
    }
}
