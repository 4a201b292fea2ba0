//! The Discord adapter end to end: the real serenity client (REST and
//! gateway) against an in-process fake Discord, the real app (poller,
//! outbox, store) against the fake PTT.

use crate::support;
use crate::support::board_of;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ptt_relay::app::{self, Extras, Running};
use ptt_relay::chat::discord::DiscordSettings;
use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::chat::discord::{DiscordAdapter, DiscordError, DiscordOptions};
use ptt_relay::chat::{EditKind, SendOutcome};
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::digest::Digest;
use ptt_relay::ptt::Tally;
use ptt_relay::relay::leaderboard::LeaderboardOptions;
use ptt_relay::relay::tally::TallyOptions;
use ptt_relay::store::Store;
use secrecy::SecretString;
use serde_json::{Value, json};
use support::fake_discord::{
    APP_ID, ChannelFault, CreateFault, FakeDiscord, MANAGE_CHANNELS, MEMBER, Origin, wait_until,
};
use support::fake_ptt::FakePtt;
use support::harness::adapter_context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A recognisable token: it must never show up in a log line or an error.
const TOKEN: &str = "MTk4NjIyNDgzNDcxOTI1MjQ4.Gx7Qz1.SECRET-token-never-logged_0123456789";
const GUILD: u64 = 800_000_000_000_000_001;
const CHANNEL: u64 = 810_000_000_000_000_001;
const OTHER: u64 = 810_000_000_000_000_002;
const THIRD: u64 = 810_000_000_000_000_003;

// ------------------------------------------------------------ log capture

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary (ours at trace, serenity's at debug)
/// goes to one buffer the token test reads.
fn init_logs() -> Arc<Mutex<Vec<u8>>> {
    let logs = LOGS.get_or_init(|| Arc::new(Mutex::new(Vec::new())));
    let writer = Capture(Arc::clone(logs));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,ptt_relay=trace,serenity=debug",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init();
    Arc::clone(logs)
}

fn logs_text() -> String {
    String::from_utf8_lossy(&init_logs().lock().unwrap()).into_owned()
}

// ---------------------------------------------------------------- harness

#[derive(Default)]
struct Options {
    guild_id: Option<u64>,
    defer_all: bool,
    tally: Option<TallyOptions>,
    /// The REST client's timeout (default: the product's).
    request_timeout: Option<Duration>,
    /// How `top:N` leaderboards are kept (default: the product's).
    leaderboards: Option<LeaderboardOptions>,
}

struct Harness {
    ptt: FakePtt,
    discord: FakeDiscord,
    running: Running,
    adapter: Arc<DiscordAdapter>,
    listener: JoinHandle<Result<(), DiscordError>>,
    shutdown: CancellationToken,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

/// The app's settings: no Discord section (each test starts its own
/// adapter with [`discord_settings`]).
fn settings(ptt: &FakePtt, _discord: &FakeDiscord, db: &std::path::Path) -> Settings {
    support::harness::settings(ptt, db)
}

/// The test adapter's settings: the fake's URL and the token.
fn discord_settings(discord: &FakeDiscord) -> DiscordSettings {
    DiscordSettings {
        token: Some(SecretString::from(TOKEN)),
        api_url: Some(discord.base_url.clone()),
        guild_id: None,
    }
}

async fn start(opts: Options) -> Harness {
    init_logs();
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_post("Stock", "[新聞] 舊文章", "old");
    let discord = FakeDiscord::start(TOKEN, &[GUILD]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&ptt, &discord, &dir.path().join("db.sqlite"));
    let mut ds = discord_settings(&discord);
    ds.guild_id = opts.guild_id;
    let store = app::open_backend(&s).await.expect("store").store;
    let shutdown = CancellationToken::new();
    let mut options = DiscordOptions::default();
    if let Some(t) = opts.request_timeout {
        options.request_timeout = t;
    }
    let ctx = adapter_context(&s, &store, &shutdown);
    let handler = Arc::clone(&ctx.handler);
    let mut adapter = DiscordAdapter::with_options(&ds, ctx, options).expect("adapter");
    if opts.defer_all {
        adapter.set_defer_after(Duration::ZERO);
    }
    let adapter = Arc::new(adapter);
    // The app gets no token: this test's adapter is the only Discord one.
    let app_settings = s.clone();
    let running = app::start_with_store(
        &app_settings,
        Arc::clone(&store),
        Extras {
            sinks: vec![adapter.sink()],
            ptt_client: Some(Box::new(|o| {
                o.request_timeout = Duration::from_millis(500);
                o.connect_timeout = Duration::from_millis(500);
                o.initial_backoff = Duration::from_millis(10);
                o.max_backoff = Duration::from_millis(100);
                o.block_backoff = Duration::from_millis(100);
                o.max_attempts = 2;
            })),
            tally: opts.tally,
            handler: Some(handler),
            share: None,
            leaderboards: opts.leaderboards,
        },
    )
    .await
    .expect("start");
    let listener = tokio::spawn({
        let a = Arc::clone(&adapter);
        async move { a.run_listener().await }
    });
    discord.wait_ready().await;
    Harness {
        ptt,
        discord,
        running,
        adapter,
        listener,
        shutdown,
        store,
        _dir: dir,
    }
}

impl Harness {
    /// Waits until the board is seeded (nothing before it is relayed).
    async fn seeded(&self) {
        for _ in 0..100 {
            if self
                .store
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

    /// Runs `/ptt sub` and waits for its answer.
    async fn ask(
        &self,
        origin: &Origin,
        sub: &str,
        options: Value,
    ) -> support::fake_discord::Answer {
        let id = self.discord.slash(origin, sub, options);
        self.discord.wait_answer(&id).await
    }

    async fn subscribed(&self, channel: u64) -> Vec<ptt_relay::store::Subscription> {
        self.store
            .subscriptions_of(&dest(channel))
            .await
            .expect("subscriptions")
    }

    async fn wait_paused(&self, channel: u64) {
        for _ in 0..300 {
            let subs = self.subscribed(channel).await;
            if !subs.is_empty() && subs.iter().all(|s| s.paused) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("channel {channel} was never paused");
    }

    async fn wait_resumed(&self, channel: u64) {
        for _ in 0..300 {
            let subs = self.subscribed(channel).await;
            if !subs.is_empty() && subs.iter().all(|s| !s.paused) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("channel {channel} was never resumed");
    }

    /// Stops the gateway (cleanly: the listener returns Ok and the socket
    /// closes) and the app.
    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(15), self.listener)
            .await
            .expect("the listener stops")
            .expect("the listener task");
        assert!(result.is_ok(), "{result:?}");
        let discord = self.discord.clone();
        wait_until("the gateway socket to close", || {
            discord.open_connections() == 0
        })
        .await;
        self.running.stop().await;
    }
}

fn dest(channel: u64) -> Destination {
    Destination::chat(DISCORD, channel.to_string())
}

fn manager(channel: u64) -> Origin {
    Origin::channel(GUILD, channel, MANAGE_CHANNELS | MEMBER)
}

fn member(channel: u64) -> Origin {
    Origin::channel(GUILD, channel, MEMBER)
}

fn opt(name: &str, value: impl Into<Value>) -> Value {
    let value = value.into();
    let kind = match &value {
        Value::Bool(_) => 5,
        Value::Number(_) => 4,
        _ => 3,
    };
    json!({ "name": name, "type": kind, "value": value })
}

fn embed_of(body: &Value) -> &Value {
    let embeds = body["embeds"].as_array().expect("embeds");
    assert_eq!(embeds.len(), 1, "{body}");
    &embeds[0]
}

fn field<'a>(embed: &'a Value, name: &str) -> &'a str {
    embed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["value"].as_str())
        .unwrap_or_else(|| panic!("no field {name} in {embed}"))
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_managers_subscribe_is_confirmed_and_the_next_news_post_arrives_as_an_embed() {
    let h = start(Options::default()).await;

    // Start-up: /ptt registered globally, the gateway with GUILDS only.
    let commands = h.discord.commands();
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert_eq!(
        commands[0].0,
        format!("/api/v10/applications/{APP_ID}/commands")
    );
    assert_eq!(commands[0].1[0]["name"], "ptt");
    let identify = &h.discord.identifies()[0];
    assert_eq!(identify["intents"], 1, "GUILDS only: {identify}");

    let a = h
        .ask(
            &manager(CHANNEL),
            "subscribe",
            json!([opt("board", "Stock")]),
        )
        .await;
    assert!(a.content.contains("已訂閱 #1"), "{a:?}");
    assert!(!a.ephemeral, "a confirmation is public");
    assert_eq!(a.allowed_mentions["parse"], json!([]));
    let in_guild = h
        .store
        .chats_in_group(DISCORD, &GUILD.to_string())
        .await
        .unwrap();
    assert_eq!(in_guild, vec![CHANNEL.to_string()]);

    h.seeded().await;
    let post = h.ptt.add_post("Stock", "[新聞] 台積電法說會", "reporter");
    let d = h.discord.clone();
    wait_until("the digest", || !d.messages_in(CHANNEL).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let messages = h.discord.messages_in(CHANNEL);
    assert_eq!(messages.len(), 1, "one post, one message");
    let body = &messages[0].body;
    let e = embed_of(body);
    assert_eq!(e["title"], "[新聞] 台積電法說會");
    assert_eq!(
        e["url"],
        format!("https://www.ptt.cc/bbs/Stock/{post}.html")
    );
    assert!(field(e, "原文連結").starts_with("https://news.example.com/a/"));
    assert_eq!(field(e, "推噓"), "推 0 · 噓 0 · → 0");
    assert!(e["footer"]["text"].as_str().unwrap().starts_with("Stock"));
    assert!(e["timestamp"].is_string());
    assert!(
        e["description"]
            .as_str()
            .unwrap()
            .contains("Original headline")
    );
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(body["enforce_nonce"], true);
    let nonce = body["nonce"].as_str().expect("a nonce");
    assert!(nonce.len() <= 25, "{nonce}");
    assert_eq!(
        nonce,
        ptt_relay::chat::discord::render::nonce(&post, &dest(CHANNEL).to_string())
    );
    // Every REST call carried the bot token, none with a real discord.com.
    for r in h.discord.requests() {
        if !r.path.contains("/gateway") {
            assert_eq!(
                r.auth.as_deref(),
                Some(format!("Bot {TOKEN}").as_str()),
                "{r:?}"
            );
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_without_manage_channels_is_refused_but_may_list() {
    let h = start(Options::default()).await;
    let a = h
        .ask(
            &member(CHANNEL),
            "subscribe",
            json!([opt("board", "Stock")]),
        )
        .await;
    assert!(a.content.contains("只有管理員"), "{a:?}");
    assert!(a.ephemeral, "a refusal is private");
    assert!(h.subscribed(CHANNEL).await.is_empty());
    let a = h
        .ask(
            &member(CHANNEL),
            "unsubscribe",
            json!([opt("target", "all")]),
        )
        .await;
    assert!(a.content.contains("只有管理員"), "{a:?}");
    // Administrator counts as Manage Channels.
    let admin = Origin::channel(GUILD, CHANNEL, 1 << 3);
    let a = h.ask(&admin, "subscribe", json!([])).await;
    assert!(a.content.contains("已訂閱 #1"), "{a:?}");
    let a = h.ask(&member(CHANNEL), "list", json!([])).await;
    assert!(a.content.contains("#1 Stock tag:新聞"), "{a:?}");
    assert!(a.ephemeral);
    h.stop().await;
}

/// Issue 14, kind 7: at most 10 commands a minute are answered in a
/// channel; the 11th is told to slow down, and the rest of the minute gets
/// the least answer Discord needs (the same "slow down", only for the
/// asker) without being run. Another channel is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_commands_in_a_minute_get_ten_answers_and_then_slow_down() {
    let h = start(Options::default()).await;
    let origin = member(CHANNEL).locale("en-US");
    let mut answers = Vec::new();
    for _ in 0..12 {
        answers.push(h.ask(&origin, "help", json!([])).await);
    }
    for a in &answers[..10] {
        assert!(a.content.contains("/subscribe"), "{a:?}");
    }
    for a in &answers[10..] {
        assert!(a.content.starts_with("Slow down"), "{a:?}");
        assert!(a.ephemeral, "{a:?}");
    }
    let a = h
        .ask(&member(OTHER).locale("en-US"), "help", json!([]))
        .await;
    assert!(a.content.contains("/subscribe"), "{a:?}");
    // Nothing was posted in the channel.
    assert!(h.discord.messages_in(CHANNEL).is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stock_sector_and_hot_options_subscribe_with_the_same_words_as_the_text_command() {
    let h = start(Options::default()).await;
    let a = h
        .ask(
            &manager(CHANNEL).locale("en-US"),
            "subscribe",
            json!([
                opt("stock", "台積電 2317"),
                opt("sector", "半導體業"),
                opt("hot", "20/10")
            ]),
        )
        .await;
    assert!(a.content.contains("#1"), "{a:?}");
    let subs = h.subscribed(CHANNEL).await;
    assert_eq!(
        subs[0].filter.canonical(),
        "tag:新聞 stock:2317 stock:2330 sector:半導體業 hot:20/10"
    );
    let a = h
        .ask(
            &manager(CHANNEL).locale("en-US"),
            "subscribe",
            json!([opt("hot", "20/61")]),
        )
        .await;
    assert!(a.content.contains("bad value for hot: \"20/61\""), "{a:?}");
    assert!(a.ephemeral);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_unsubscribe_latest_status_and_help_answer_in_the_users_language() {
    let h = start(Options::default()).await;
    let a = h
        .ask(
            &manager(CHANNEL),
            "subscribe",
            json!([opt("kw", "台積電"), opt("push", 1), opt("re", false)]),
        )
        .await;
    assert!(a.content.contains("#1"), "{a:?}");
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#2"), "{a:?}");
    h.seeded().await;
    let post = h.ptt.add_post("Stock", "[新聞] 聯發科新品", "reporter");
    let d = h.discord.clone();
    wait_until("the digest", || !d.messages_in(CHANNEL).is_empty()).await;

    let en = member(CHANNEL).locale("en-US");
    let a = h.ask(&en, "list", json!([])).await;
    assert!(a.ephemeral);
    assert!(a.content.contains("Subscriptions of this chat"), "{a:?}");
    assert!(
        a.content.contains("#1 Stock tag:新聞 kw:台積電 push:1"),
        "{a:?}"
    );
    assert!(a.content.contains("#2 Stock tag:新聞"), "{a:?}");
    let a = h.ask(&en, "latest", json!([opt("n", 5)])).await;
    assert!(a.ephemeral);
    assert!(a.content.contains("聯發科新品"), "{a:?}");
    assert!(a.content.contains(&post), "{a:?}");
    let a = h
        .ask(&en, "top", json!([opt("board", "stock"), opt("n", 3)]))
        .await;
    assert!(a.ephemeral);
    assert!(a.content.starts_with("Today's top posts"), "{a:?}");
    assert!(a.content.contains(&post), "{a:?}");
    let a = h.ask(&en, "status", json!([])).await;
    assert!(a.content.contains("Boards relayed: Stock"), "{a:?}");
    assert!(a.content.contains("Version: ptt-relay"), "{a:?}");
    let a = h.ask(&member(CHANNEL), "help", json!([])).await;
    assert!(a.content.contains("/subscribe"), "{a:?}");
    assert!(
        a.content.contains("指令"),
        "zh-TW for a zh-TW client: {a:?}"
    );

    let a = h
        .ask(
            &manager(CHANNEL).locale("en-US"),
            "unsubscribe",
            json!([opt("target", "1")]),
        )
        .await;
    assert!(a.content.contains("Removed 1 subscription"), "{a:?}");
    assert!(!a.ephemeral);
    let a = h
        .ask(
            &manager(CHANNEL),
            "unsubscribe",
            json!([opt("target", "all")]),
        )
        .await;
    assert!(a.content.contains("已取消 1 個訂閱"), "{a:?}");
    let a = h.ask(&en, "list", json!([])).await;
    assert!(a.content.contains("No subscriptions yet"), "{a:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_options_get_a_clear_private_reply_and_change_nothing() {
    let h = start(Options::default()).await;
    let en = manager(CHANNEL).locale("en-US");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "subscribe",
            json!([opt("push", 0)]),
            "bad value for push: \"0\"",
        ),
        (
            "subscribe",
            json!([opt("board", "Nope")]),
            "Board Nope is not relayed",
        ),
        (
            "subscribe",
            json!([opt("kw", "\"open")]),
            "a quote is not closed",
        ),
        (
            "subscribe",
            json!([opt("author", "two words")]),
            "bad value for author",
        ),
        (
            "unsubscribe",
            json!([opt("target", "../x")]),
            "\"../x\" is not a subscription id",
        ),
        (
            "unsubscribe",
            json!([opt("target", "9")]),
            "No matching subscription",
        ),
        (
            "latest",
            json!([opt("n", 21)]),
            "\"21\" is not a number from 1 to 20",
        ),
        (
            "top",
            json!([opt("n", 2)]),
            "\"2\" is not a number from 3 to 20",
        ),
    ];
    for (sub, options, expected) in cases {
        let a = h.ask(&en, sub, options.clone()).await;
        assert!(a.ephemeral, "{sub} {options}: {a:?}");
        assert!(a.content.contains(expected), "{sub} {options}: {a:?}");
        assert_eq!(a.allowed_mentions["parse"], json!([]));
    }
    let a = h.ask(&en, "subscribe", json!([opt("push", 0)])).await;
    assert!(a.content.contains("Usage: /subscribe"), "{a:?}");
    assert!(h.subscribed(CHANNEL).await.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_guild_id_the_command_is_registered_in_that_server_with_both_languages() {
    let h = start(Options {
        guild_id: Some(GUILD),
        ..Options::default()
    })
    .await;
    let commands = h.discord.commands();
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert_eq!(
        commands[0].0,
        format!("/api/v10/applications/{APP_ID}/guilds/{GUILD}/commands")
    );
    let ptt = &commands[0].1[0];
    assert_eq!(ptt["name"], "ptt");
    assert_eq!(
        ptt["default_member_permissions"],
        MANAGE_CHANNELS.to_string()
    );
    assert_eq!(ptt["dm_permission"], true);
    let subs: Vec<&str> = ptt["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        subs,
        [
            "subscribe",
            "unsubscribe",
            "list",
            "latest",
            "top",
            "status",
            "help"
        ]
    );
    for o in ptt["options"].as_array().unwrap() {
        assert_eq!(o["type"], 1);
        assert!(o["description_localizations"]["zh-TW"].is_string(), "{o}");
        assert!(o["description_localizations"]["en-US"].is_string(), "{o}");
    }
    let subscribe: Vec<&str> = ptt["options"][0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        subscribe,
        [
            "board", "tag", "kw", "not", "author", "push", "re", "fw", "silent", "preview",
            "channel", "stock", "sector", "hot", "top"
        ]
    );
    for o in ptt["options"][0]["options"].as_array().unwrap() {
        assert!(o["description_localizations"]["zh-TW"].is_string(), "{o}");
        assert!(o["description_localizations"]["en-US"].is_string(), "{o}");
    }
    let hot = &ptt["options"][0]["options"][13];
    assert_eq!(
        hot["description_localizations"]["zh-TW"],
        ptt_relay::commands::i18n::ZH_TW.options.hot
    );
    let channel = &ptt["options"][0]["options"][10];
    assert_eq!(channel["type"], 7, "a channel option");
    assert_eq!(channel["channel_types"], json!([0, 5, 15]));
    assert!(
        channel["description_localizations"]["zh-TW"]
            .as_str()
            .is_some_and(|d| d.contains("論壇")),
        "{channel}"
    );
    let preview = &ptt["options"][0]["options"][9];
    assert_eq!(preview["choices"][2]["value"], "off");
    assert_eq!(ptt["options"][1]["options"][0]["name"], "target");
    assert_eq!(ptt["options"][1]["options"][0]["required"], true);
    assert_eq!(ptt["options"][3]["options"][0]["min_value"], 1);
    assert_eq!(ptt["options"][3]["options"][0]["max_value"], 20);
    h.stop().await;
}

fn hostile_digest(excerpt_chars: usize) -> Digest {
    let title = format!(
        "[新聞] @everyone @here <@&123456789012345678> <@123456789012345678> **粗** `碼` ||雷|| [點我](https://evil.example) {}",
        "長".repeat(400)
    );
    Digest {
        board: "Stock".into(),
        id: "M.1769577959.A.C89".into(),
        url: "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html".into(),
        title: Some(title),
        tag: Some("新聞".into()),
        is_reply: false,
        is_forward: false,
        author: Some("someid".into()),
        posted_at: chrono::DateTime::parse_from_rfc3339("2026-01-28T13:25:57+08:00").ok(),
        original_title: Some(format!("@everyone {}", "H".repeat(2000))),
        source_url: Some(format!("https://news.example.com/{}", "p".repeat(1500))),
        published: None,
        reporter: None,
        excerpt: Some(format!("<@&1> @everyone {}", "字".repeat(excerpt_chars))),
        stocks: Vec::new(),
        hot: None,
        tally: Tally {
            push: 24,
            boo: 3,
            neutral: 15,
            net: 21,
            total: 42,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_title_and_a_10000_character_excerpt_arrive_within_limits_unpinged() {
    let h = start(Options::default()).await;
    // Straight through the sink: a digest far over every limit.
    let out = h
        .adapter
        .sink()
        .send(&dest(OTHER), &hostile_digest(10_000), &Default::default())
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    let m = &h.discord.messages_in(OTHER)[0];
    let e = embed_of(&m.body);
    assert!(chars(&e["title"]) <= 256);
    assert!(chars(&e["description"]) <= 4096);
    assert!(e["description"].as_str().unwrap().ends_with('…'));
    for f in e["fields"].as_array().unwrap() {
        assert!(chars(&f["value"]) <= 1024, "{f}");
    }
    let total = chars(&e["title"])
        + chars(&e["description"])
        + chars(&e["footer"]["text"])
        + e["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| chars(&f["name"]) + chars(&f["value"]))
            .sum::<usize>();
    assert!(total <= 6000, "{total}");
    assert_eq!(m.body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(m.body["allowed_mentions"]["users"], json!([]));
    assert_eq!(m.body["allowed_mentions"]["roles"], json!([]));
    assert!(m.body["content"].as_str().unwrap_or("").is_empty());

    // And end to end, from a PTT post with a hostile title and a 10,000
    // character body.
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.seeded().await;
    let title =
        "[新聞] @everyone <@&123456789012345678> **ping** ||x|| `y` [a](https://evil.example)";
    h.ptt.add_post_with("Stock", title, "reporter", |p| {
        p.headline = "@here <@1> **headline**".into();
        p.body = "內文 @everyone ".repeat(1000);
    });
    let d = h.discord.clone();
    wait_until("the digest", || !d.messages_in(CHANNEL).is_empty()).await;
    let m = &h.discord.messages_in(CHANNEL)[0];
    let e = embed_of(&m.body);
    assert_eq!(e["title"], title, "titles are shown as written");
    let desc = e["description"].as_str().unwrap();
    assert!(
        desc.contains("\\*\\*headline\\*\\*"),
        "markdown escaped: {desc}"
    );
    assert!(desc.contains("\\<@1>"), "mentions neutralised: {desc}");
    assert!(chars(&e["description"]) <= 4096);
    assert_eq!(m.body["allowed_mentions"]["parse"], json!([]));
    // A command reply quoting the title escapes it too: no bold, spoiler,
    // code or masked link, and still no ping.
    for (sub, options) in [("latest", json!([])), ("top", json!([]))] {
        let a = h.ask(&manager(CHANNEL), sub, options).await;
        assert!(
            a.content.contains(
                "\\[新聞\\] @everyone \\<@&123456789012345678> \\*\\*ping\\*\\* \\|\\|x\\|\\| \\`y\\` \\[a\\]("
            ),
            "{sub}: {a:?}"
        );
        assert_eq!(a.allowed_mentions["parse"], json!([]));
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_access_and_unknown_channel_pause_the_subscription_until_the_server_is_back() {
    let h = start(Options::default()).await;
    for c in [CHANNEL, OTHER, THIRD] {
        let a = h.ask(&manager(c), "subscribe", json!([])).await;
        assert!(a.content.contains("#1"), "{a:?}");
    }
    h.discord
        .set_fault(CHANNEL, Some(ChannelFault::MissingAccess));
    h.discord
        .set_fault(OTHER, Some(ChannelFault::UnknownChannel));
    h.seeded().await;
    h.ptt.add_post("Stock", "[新聞] 暫停測試", "reporter");
    let d = h.discord.clone();
    wait_until("the healthy channel's digest", || {
        !d.messages_in(THIRD).is_empty()
    })
    .await;
    h.wait_paused(CHANNEL).await;
    h.wait_paused(OTHER).await;
    assert!(!h.subscribed(THIRD).await[0].paused);
    let a = h.ask(&member(THIRD), "list", json!([])).await;
    assert!(!a.content.contains("暫停"), "{a:?}");
    // Paused: no more attempts.
    let attempts = |d: &FakeDiscord, c: u64| {
        d.requests()
            .iter()
            .filter(|r| r.path == format!("/api/v10/channels/{c}/messages"))
            .count()
    };
    let before = attempts(&h.discord, CHANNEL);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        attempts(&h.discord, CHANNEL),
        before,
        "a paused channel is left alone"
    );

    // A command from a paused channel resumes it, and says so; its kept
    // row is delivered.
    h.discord.set_fault(OTHER, None);
    let a = h.ask(&member(OTHER), "list", json!([])).await;
    assert!(a.content.contains("已恢復傳送"), "{a:?}");
    wait_until("the kept row", || d.messages_in(OTHER).len() == 1).await;
    assert!(h.subscribed(CHANNEL).await[0].paused);

    // The server is back (GUILD_CREATE): the other kept row is delivered.
    h.discord.set_fault(CHANNEL, None);
    h.discord.guild_create(GUILD);
    wait_until("the kept rows", || d.messages_in(CHANNEL).len() == 1).await;
    assert!(!h.subscribed(CHANNEL).await[0].paused);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(d.messages_in(OTHER).len(), 1, "nothing twice");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removal_from_a_server_pauses_its_channels_and_rejoining_resumes_them() {
    let h = start(Options::default()).await;
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.seeded().await;

    // An outage is not a removal.
    h.discord.guild_delete(GUILD, true);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!h.subscribed(CHANNEL).await[0].paused);

    h.discord.guild_delete(GUILD, false);
    h.wait_paused(CHANNEL).await;
    let post = h.ptt.add_post("Stock", "[新聞] 移除期間的文章", "reporter");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        h.discord.messages_in(CHANNEL).is_empty(),
        "nothing while removed"
    );

    // Back in the server: news from now on, not the backlog of its
    // absence (a gone destination queues nothing; DESIGN.md, "Bounds").
    h.discord.guild_create(GUILD);
    h.wait_resumed(CHANNEL).await;
    let after = h.ptt.add_post("Stock", "[新聞] 回來之後的文章", "reporter");
    let d = h.discord.clone();
    wait_until("the post made after rejoining", || {
        !d.messages_in(CHANNEL).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let urls: Vec<String> = h
        .discord
        .messages_in(CHANNEL)
        .iter()
        .map(|m| {
            embed_of(&m.body)["url"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        urls,
        [format!("https://www.ptt.cc/bbs/Stock/{after}.html")],
        "not {post}, made while removed"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_delays_but_loses_nothing_and_sends_nothing_twice() {
    let h = start(Options::default()).await;
    for c in [CHANNEL, OTHER] {
        let a = h.ask(&manager(c), "subscribe", json!([])).await;
        assert!(a.content.contains("#1"), "{a:?}");
    }
    h.seeded().await;
    h.discord.storm(4);
    let ids = [
        h.ptt.add_post("Stock", "[新聞] 風暴一", "reporter"),
        h.ptt.add_post("Stock", "[新聞] 風暴二", "reporter"),
    ];
    let d = h.discord.clone();
    tokio::time::timeout(Duration::from_secs(60), async {
        while d.messages_in(CHANNEL).len() < 2 || d.messages_in(OTHER).len() < 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every post arrives despite the storm");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(h.discord.rate_limited(), 4);
    for c in [CHANNEL, OTHER] {
        let urls: Vec<String> = h
            .discord
            .messages_in(c)
            .iter()
            .map(|m| embed_of(&m.body)["url"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = ids
            .iter()
            .map(|id| format!("https://www.ptt.cc/bbs/Stock/{id}.html"))
            .collect();
        assert_eq!(urls, expected, "each post once, in order, in {c}");
        // Each consecutive 429 of a channel doubled the wait: 2 s, 4 s, …
        let reqs: Vec<_> = h
            .discord
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == format!("/api/v10/channels/{c}/messages"))
            .collect();
        let limited: Vec<Instant> = reqs
            .iter()
            .filter(|r| r.status == 429)
            .map(|r| r.at)
            .collect();
        let first_ok = reqs.iter().find(|r| r.status == 200).map(|r| r.at).unwrap();
        if let Some(first) = limited.first() {
            let waits: u64 = (0..limited.len() as u32).map(|k| 2u64 << k.min(5)).sum();
            let waited = first_ok.duration_since(*first);
            assert!(
                waited >= Duration::from_secs(waits) - Duration::from_millis(100),
                "{c}: {} 429s, then the first send after {waited:?}",
                limited.len()
            );
        }
    }
    assert_eq!(h.discord.nonce_hits(), 0, "nothing was sent twice");
    assert_eq!(h.running.store().outbox_depth(None).await.unwrap(), 0);
    h.stop().await;
}

/// Waits (up to 30 s) until every outbox row is delivered.
async fn outbox_drained(h: &Harness) {
    for _ in 0..300 {
        if h.store.outbox_depth(None).await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox never drained");
}

fn post_urls(h: &Harness, channel: u64) -> Vec<String> {
    h.discord
        .messages_in(channel)
        .iter()
        .map(|m| embed_of(&m.body)["url"].as_str().unwrap().to_owned())
        .collect()
}

fn urls_of(ids: &[&String]) -> Vec<String> {
    ids.iter()
        .map(|id| format!("https://www.ptt.cc/bbs/Stock/{id}.html"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_accepted_then_hung_past_the_timeout_is_retried_without_a_duplicate() {
    let h = start(Options {
        request_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    })
    .await;
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.seeded().await;
    // Discord takes the message, then the answer never comes in time.
    h.discord
        .set_create_fault(Some(CreateFault::AcceptThenHang(Duration::from_secs(3))));
    let first = h.ptt.add_post("Stock", "[新聞] 收下了卻沒回答", "reporter");
    let d = h.discord.clone();
    wait_until("the create and one retry to time out", || {
        d.faulted_creates() >= 2
    })
    .await;
    // The retry carried the same nonce: Discord answered with the first
    // message instead of posting it again.
    assert_eq!(post_urls(&h, CHANNEL), urls_of(&[&first]));
    assert!(h.discord.nonce_hits() >= 1);
    assert_eq!(
        h.store.outbox_depth(None).await.unwrap(),
        1,
        "the row waits in the outbox"
    );
    assert!(!h.listener.is_finished(), "the adapter is still up");
    // The fault ends: the next retry reads the answer, and later posts
    // flow again.
    h.discord.set_create_fault(None);
    outbox_drained(&h).await;
    let second = h.ptt.add_post("Stock", "[新聞] 恢復之後", "reporter");
    wait_until("the post after the fault", || {
        d.messages_in(CHANNEL).len() >= 2
    })
    .await;
    outbox_drained(&h).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(post_urls(&h, CHANNEL), urls_of(&[&first, &second]));
    assert_eq!(h.discord.rate_limited(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreadable_answers_to_creates_are_retried_and_never_duplicated_or_lost() {
    let h = start(Options::default()).await;
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.seeded().await;
    let d = h.discord.clone();

    // Discord posts the message but its answer is cut off: the retry (same
    // nonce) gets the message back instead of a second one.
    h.discord.set_create_fault(Some(CreateFault::Truncated));
    let first = h.ptt.add_post("Stock", "[新聞] 回答被截斷", "reporter");
    wait_until("two truncated answers", || d.faulted_creates() >= 2).await;
    assert_eq!(post_urls(&h, CHANNEL), urls_of(&[&first]));
    assert_eq!(h.store.outbox_depth(None).await.unwrap(), 1);
    h.discord.set_create_fault(None);
    outbox_drained(&h).await;
    assert_eq!(post_urls(&h, CHANNEL), urls_of(&[&first]));
    // … with its id, so its tally can still be edited.
    let recorded = h.store.sent_messages(&first).await.unwrap();
    let ids: Vec<&str> = recorded.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, vec![h.discord.messages_in(CHANNEL)[0].id.as_str()]);

    // Something in front of Discord answers 200 with a web page: nothing
    // was posted, and the post must not be taken for delivered.
    let before = h.discord.faulted_creates();
    h.discord.set_create_fault(Some(CreateFault::NotJson));
    let second = h
        .ptt
        .add_post("Stock", "[新聞] 不是 JSON 的回答", "reporter");
    wait_until("two web-page answers", || d.faulted_creates() >= before + 2).await;
    assert_eq!(post_urls(&h, CHANNEL), urls_of(&[&first]));
    assert_eq!(
        h.store.outbox_depth(None).await.unwrap(),
        1,
        "the post waits in the outbox"
    );
    assert!(!h.listener.is_finished(), "the adapter is still up");
    h.discord.set_create_fault(None);
    outbox_drained(&h).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(post_urls(&h, CHANNEL), urls_of(&[&first, &second]));
    assert_eq!(h.discord.rate_limited(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_into_one_channel_is_paced_below_discords_limit_and_kept_in_order() {
    let h = start(Options::default()).await;
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.seeded().await;
    let titles: Vec<String> = (0..8).map(|i| format!("[新聞] 第{i}則")).collect();
    let ids = h.ptt.add_posts("Stock", &titles);
    let d = h.discord.clone();
    tokio::time::timeout(Duration::from_secs(60), async {
        while d.messages_in(CHANNEL).len() < ids.len() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the whole burst arrives");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let messages = h.discord.messages_in(CHANNEL);
    let urls: Vec<&str> = messages
        .iter()
        .map(|m| embed_of(&m.body)["url"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = ids
        .iter()
        .map(|id| format!("https://www.ptt.cc/bbs/Stock/{id}.html"))
        .collect();
    assert_eq!(urls, expected);
    // Our pacer, not Discord, spaced them: one a second at most.
    let spread = messages.last().unwrap().at - messages[0].at;
    assert!(spread >= Duration::from_millis(6900), "{spread:?}");
    assert_eq!(
        h.discord.rate_limited(),
        0,
        "Discord never had to refuse one"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_made_in_a_thread_or_forum_post_delivers_there() {
    let h = start(Options::default()).await;
    let thread = 820_000_000_000_000_001;
    let forum_post = 820_000_000_000_000_002;
    let mut in_thread = manager(thread);
    in_thread.channel_type = 11;
    in_thread.parent = Some(CHANNEL);
    let mut in_forum = manager(forum_post);
    in_forum.channel_type = 11;
    in_forum.parent = Some(830_000_000_000_000_001);
    for o in [&in_thread, &in_forum] {
        let a = h.ask(o, "subscribe", json!([])).await;
        assert!(a.content.contains("#1"), "{a:?}");
    }
    h.seeded().await;
    h.ptt.add_post("Stock", "[新聞] 討論串", "reporter");
    let d = h.discord.clone();
    wait_until("the thread digests", || {
        d.messages_in(thread).len() == 1 && d.messages_in(forum_post).len() == 1
    })
    .await;
    assert!(h.discord.messages_in(CHANNEL).is_empty(), "not the parent");
    let mut groups = h
        .store
        .chats_in_group(DISCORD, &GUILD.to_string())
        .await
        .unwrap();
    groups.sort();
    assert_eq!(groups, vec![thread.to_string(), forum_post.to_string()]);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dm_is_a_private_chat_where_the_user_may_subscribe() {
    let h = start(Options::default()).await;
    let dm = 840_000_000_000_000_001;
    let a = h.ask(&Origin::dm(dm), "subscribe", json!([])).await;
    assert!(a.content.contains("已訂閱 #1"), "{a:?}");
    h.seeded().await;
    h.ptt.add_post("Stock", "[新聞] 私訊", "reporter");
    let d = h.discord.clone();
    wait_until("the DM digest", || d.messages_in(dm).len() == 1).await;
    assert!(
        h.store
            .chats_in_group(DISCORD, &GUILD.to_string())
            .await
            .unwrap()
            .is_empty()
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_answers_are_deferred_then_completed_with_the_right_visibility() {
    let h = start(Options {
        defer_all: true,
        ..Options::default()
    })
    .await;
    // Deferred publicly, completed by editing the original.
    let id = h.discord.slash(&manager(CHANNEL), "subscribe", json!([]));
    let a = h.discord.wait_answer(&id).await;
    assert!(a.deferred);
    assert!(!a.ephemeral);
    assert!(a.content.contains("已訂閱 #1"), "{a:?}");
    assert_eq!(h.discord.callback(&id).unwrap()["type"], 5);
    // Guessed public, turned out an error: the deferral is replaced by a
    // private follow-up.
    let id = h
        .discord
        .slash(&manager(CHANNEL), "subscribe", json!([opt("push", 0)]));
    let a = h.discord.wait_answer(&id).await;
    assert!(a.deferred);
    assert!(a.ephemeral, "{a:?}");
    assert!(a.content.contains("push"), "{a:?}");
    assert_eq!(a.allowed_mentions["parse"], json!([]));
    // A list is deferred privately.
    let id = h.discord.slash(&member(CHANNEL), "list", json!([]));
    let a = h.discord.wait_answer(&id).await;
    assert!(a.deferred && a.ephemeral, "{a:?}");
    assert!(a.content.contains("#1"), "{a:?}");
    assert_eq!(
        h.discord.callback(&id).unwrap()["data"]["flags"],
        64,
        "deferred as ephemeral"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tally_edits_and_deletions_edit_the_message_and_unknown_messages_are_rejected() {
    let h = start(Options::default()).await;
    let sink = h.adapter.sink();
    let mut digest = hostile_digest(50);
    digest.title = Some("[新聞] 推文更新".into());
    let SendOutcome::Sent { message_id } =
        sink.send(&dest(OTHER), &digest, &Default::default()).await
    else {
        panic!("not sent");
    };
    // A resend (after a crash) carries the same nonce: Discord answers
    // with the earlier message instead of posting again.
    let again = sink.send(&dest(OTHER), &digest, &Default::default()).await;
    assert_eq!(
        again,
        SendOutcome::Sent {
            message_id: message_id.clone()
        }
    );
    assert_eq!(h.discord.messages_in(OTHER).len(), 1);
    assert_eq!(h.discord.nonce_hits(), 1);
    digest.tally.push = 30;
    digest.tally.net = 27;
    let out = sink
        .edit(
            &dest(OTHER),
            &message_id,
            &digest,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    let out = sink
        .edit(
            &dest(OTHER),
            &message_id,
            &digest,
            EditKind::Deleted,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    let edits = h.discord.edits();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0].1, message_id);
    assert_eq!(field(embed_of(&edits[0].2), "推噓"), "推 30 · 噓 3 · → 15");
    let deleted = embed_of(&edits[1].2)["title"].as_str().unwrap().to_owned();
    assert!(deleted.starts_with("【已刪除】"), "{deleted}");
    assert_eq!(edits[1].2["allowed_mentions"]["parse"], json!([]));
    let out = sink
        .edit(
            &dest(OTHER),
            "1234567890",
            &digest,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Rejected(_)), "{out:?}");
    let out = sink
        .edit(
            &dest(OTHER),
            "",
            &digest,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Rejected(_)), "{out:?}");
    // A command answer sent as a message (rarely used on Discord).
    let reply = ptt_relay::commands::Reply {
        text: format!("@everyone {}", "長".repeat(3000)),
        kind: ptt_relay::commands::ReplyKind::Info,
    };
    let out = sink.answer(&dest(THIRD), &reply).await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    let m = &h.discord.messages_in(THIRD)[0].body;
    assert_eq!(chars(&m["content"]), 2000);
    assert_eq!(m["allowed_mentions"]["parse"], json!([]));
    h.discord.set_fault(OTHER, Some(ChannelFault::ServerError));
    let out = sink.send(&dest(OTHER), &digest, &Default::default()).await;
    assert!(matches!(out, SendOutcome::Transient(_)), "{out:?}");
    let out = sink
        .send(
            &Destination::chat(DISCORD, "stdout"),
            &digest,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Rejected(_)), "{out:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_token_never_appears_in_logs_or_error_messages() {
    init_logs();
    // A careless proxy that echoes the Authorization header in its errors.
    let discord = FakeDiscord::start("the-right-token-is-something-else", &[GUILD]).await;
    discord.echo_auth_in_errors(true);
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&ptt, &discord, &dir.path().join("db.sqlite"));
    let store = app::open_backend(&s).await.unwrap().store;
    let shutdown = CancellationToken::new();
    let adapter = DiscordAdapter::new(
        &discord_settings(&discord),
        adapter_context(&s, &store, &shutdown),
    )
    .unwrap();
    assert!(!format!("{adapter:?}").contains(TOKEN));

    // A refused token is fatal at start-up, and says so without the token.
    let err = tokio::time::timeout(Duration::from_secs(10), adapter.run_listener())
        .await
        .expect("fails fast")
        .expect_err("a refused token is fatal");
    let text = err.to_string();
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!format!("{err:?}").contains(TOKEN));
    // The echoing proxy really did put the token in its answer.
    let echoed = discord
        .requests()
        .iter()
        .any(|r| r.status == 401 && r.auth.as_deref() == Some(&format!("Bot {TOKEN}")));
    assert!(echoed);

    // A failing send: the reason (stored and logged by the outbox) is
    // redacted too.
    let out = adapter
        .sink()
        .send(&dest(CHANNEL), &hostile_digest(10), &Default::default())
        .await;
    let SendOutcome::Transient(reason) = &out else {
        panic!("{out:?}");
    };
    assert!(reason.contains("***"), "{reason}");
    assert!(!reason.contains(TOKEN), "{reason}");

    // Nothing listening at all.
    let mut closed = discord_settings(&discord);
    closed.api_url = Some("http://127.0.0.1:9".into());
    let offline = DiscordAdapter::new(&closed, adapter_context(&s, &store, &shutdown)).unwrap();
    let out = offline
        .sink()
        .send(&dest(CHANNEL), &hostile_digest(10), &Default::default())
        .await;
    assert!(
        matches!(&out, SendOutcome::Transient(r) if !r.contains(TOKEN)),
        "{out:?}"
    );

    // The right token, a channel closed to us and a post: the outbox logs
    // the (echoed) reason while pausing the channel.
    let h = start(Options::default()).await;
    h.discord.echo_auth_in_errors(true);
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.discord
        .set_fault(CHANNEL, Some(ChannelFault::MissingAccess));
    h.seeded().await;
    h.ptt.add_post("Stock", "[新聞] 洩漏測試", "reporter");
    h.wait_paused(CHANNEL).await;
    h.stop().await;

    let logs = logs_text();
    assert!(
        logs.contains("destination gone"),
        "the capture works: {} bytes",
        logs.len()
    );
    assert!(
        logs.contains("Missing Access (Bot ***)"),
        "redacted, not dropped"
    );
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    assert!(!logs.contains("SECRET-token-never-logged"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listener_stops_on_its_own_token_and_can_run_again() {
    let h = start(Options::default()).await;
    assert_eq!(h.discord.identifies().len(), 1);
    // A second run (e.g. after regaining leadership), stopped on its own.
    let stop = CancellationToken::new();
    let again = tokio::spawn({
        let a = Arc::clone(&h.adapter);
        let stop = stop.clone();
        async move { a.run_listener_until(stop).await }
    });
    let d = h.discord.clone();
    wait_until("a second IDENTIFY", || d.identifies().len() == 2).await;
    assert_eq!(h.discord.commands().len(), 2, "registered again");
    stop.cancel();
    let result = tokio::time::timeout(Duration::from_secs(15), again)
        .await
        .expect("stops")
        .expect("task");
    assert!(result.is_ok(), "{result:?}");
    wait_until("one socket left", || d.open_connections() == 1).await;
    // The first listener still answers.
    let a = h.ask(&member(CHANNEL), "help", json!([])).await;
    assert!(a.content.contains("/subscribe"), "{a:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_live_tally_edits_the_embed_and_a_deleted_post_is_marked() {
    let h = start(Options {
        tally: Some(TallyOptions {
            window: Duration::from_secs(600),
            first_step: Duration::from_secs(2),
            max_step: Duration::from_secs(4),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        }),
        ..Options::default()
    })
    .await;
    let a = h.ask(&manager(CHANNEL), "subscribe", json!([])).await;
    assert!(a.content.contains("#1"), "{a:?}");
    h.seeded().await;
    let id = h.ptt.add_post("Stock", "[新聞] 推文會變", "reporter");
    let d = h.discord.clone();
    wait_until("the digest", || d.messages_in(CHANNEL).len() == 1).await;
    let message = h.discord.messages_in(CHANNEL)[0].id.clone();
    h.ptt.add_pushes("Stock", &id, &["推", "推", "推", "噓"]);
    wait_until("a tally edit", || !d.edits().is_empty()).await;
    let (channel, edited, body) = h.discord.edits()[0].clone();
    assert_eq!(
        (channel.as_str(), edited.as_str()),
        (CHANNEL.to_string().as_str(), message.as_str())
    );
    let e = embed_of(&body);
    assert_eq!(field(e, "推噓"), "推 3 · 噓 1 · → 0");
    assert_eq!(e["color"], ptt_relay::chat::discord::render::COLOR_POSITIVE);
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));

    h.ptt.delete_post("Stock", &id);
    wait_until("the deletion mark", || {
        d.edits().iter().any(|(_, _, b)| {
            embed_of(b)["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("【已刪除】"))
        })
    })
    .await;
    assert_eq!(
        h.discord.messages_in(CHANNEL).len(),
        1,
        "edited, not re-sent"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_subscription_suppresses_notifications_unless_a_loud_one_matches_too() {
    let h = start(Options::default()).await;
    // #1 silent (with a preview choice, which Discord's embeds ignore);
    // #2 loud, for 台積電 only.
    let a = h
        .ask(
            &manager(CHANNEL),
            "subscribe",
            json!([
                opt("board", "Stock"),
                opt("silent", true),
                opt("preview", "off")
            ]),
        )
        .await;
    assert!(a.content.contains("#1"), "{a:?}");
    assert!(a.content.contains("silent:yes preview:off"), "{a:?}");
    let a = h
        .ask(&manager(CHANNEL), "subscribe", json!([opt("kw", "台積電")]))
        .await;
    assert!(a.content.contains("#2"), "{a:?}");
    let list = h.ask(&member(CHANNEL), "list", json!([])).await;
    assert!(
        list.content
            .contains("#1 Stock tag:新聞 silent:yes preview:off"),
        "{list:?}"
    );

    h.seeded().await;
    let d = h.discord.clone();
    let quiet = h.ptt.add_post("Stock", "[新聞] 聯發科營收", "reporter");
    wait_until("the silent digest", || d.messages_in(CHANNEL).len() == 1).await;
    let both = h.ptt.add_post("Stock", "[新聞] 台積電法說", "reporter");
    wait_until("the loud digest", || d.messages_in(CHANNEL).len() == 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let messages = h.discord.messages_in(CHANNEL);
    assert_eq!(messages.len(), 2, "one message per post");
    let url = |id: &str| format!("https://www.ptt.cc/bbs/Stock/{id}.html");
    assert_eq!(embed_of(&messages[0].body)["url"], url(&quiet));
    assert_eq!(
        messages[0].body["flags"], 4096,
        "SUPPRESS_NOTIFICATIONS: {}",
        messages[0].body
    );
    // Both match: silent only if every matching one is.
    assert_eq!(embed_of(&messages[1].body)["url"], url(&both));
    assert_eq!(messages[1].body["flags"].as_u64().unwrap_or(0) & 4096, 0);
    h.stop().await;
}

/// `ptt_relay_publish_skipped_total` of Discord in this process.
fn publish_skipped() -> u64 {
    let text = ptt_relay::telemetry::metrics::metrics().encode();
    text.lines()
        .find(|l| l.starts_with("ptt_relay_publish_skipped_total{platform=\"discord\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_announcement_channel_publishes_the_first_10_posts_of_an_hour_and_counts_the_11th() {
    const NEWS: u64 = 810_000_000_000_000_005;
    let h = start(Options::default()).await;
    h.discord.set_channel_type(NEWS, 5);
    let sink = h.adapter.sink();
    let before = publish_skipped();
    let post = |i: usize| {
        let mut d = hostile_digest(10);
        d.id = format!("M.{}.A.{i:03}", 1_769_577_959 + i);
        d.url = format!("https://www.ptt.cc/bbs/Stock/{}.html", d.id);
        d
    };
    let mut sent = Vec::new();
    for i in 0..11 {
        let out = sink.send(&dest(NEWS), &post(i), &Default::default()).await;
        let SendOutcome::Sent { message_id } = out else {
            panic!("send {i}: {out:?}");
        };
        sent.push(message_id);
    }
    assert_eq!(h.discord.messages_in(NEWS).len(), 11, "all 11 are posted");
    assert_eq!(
        h.discord.crossposts_in(NEWS),
        sent[..10],
        "the first 10 are published"
    );
    assert_eq!(publish_skipped(), before + 1, "the 11th is counted");
    // The channel's type was asked once.
    let asked = h
        .discord
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == format!("/api/v10/channels/{NEWS}"))
        .count();
    assert_eq!(asked, 1);
    // A text channel's messages are not published.
    let out = sink.send(&dest(OTHER), &post(0), &Default::default()).await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    assert!(h.discord.crossposts_in(OTHER).is_empty());

    // A published message takes 3 tally edits an hour; the 4th waits
    // (and then carries the latest numbers); the deleted mark goes at once.
    let mut d = post(0);
    for push in 1..=3 {
        d.tally.push = push;
        let out = sink
            .edit(
                &dest(NEWS),
                &sent[0],
                &d,
                EditKind::Tally,
                &Default::default(),
            )
            .await;
        assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    }
    d.tally.push = 4;
    let out = sink
        .edit(
            &dest(NEWS),
            &sent[0],
            &d,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    let SendOutcome::RateLimited { retry_after } = out else {
        panic!("a 4th edit within the hour: {out:?}");
    };
    assert!(retry_after > Duration::from_secs(3500), "{retry_after:?}");
    assert_eq!(h.discord.edits().len(), 3);
    let out = sink
        .edit(
            &dest(NEWS),
            &sent[0],
            &d,
            EditKind::Deleted,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    // The unpublished 11th is edited freely.
    for push in 1..=4 {
        d.tally.push = push;
        let out = sink
            .edit(
                &dest(NEWS),
                &sent[10],
                &d,
                EditKind::Tally,
                &Default::default(),
            )
            .await;
        assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    }
    assert_eq!(h.discord.rate_limited(), 0, "{:?}", h.discord.requests());
    h.stop().await;
}

// ------------------------------------------------------- forum channels

const FORUM: u64 = 810_000_000_000_000_015;

/// Subscribes the forum to every post of the board (any tag), as the
/// `channel` option would.
async fn subscribe_forum(h: &Harness) {
    h.store
        .subscribe(
            &dest(FORUM),
            &board_of("Stock"),
            &support::filter_of("tag:*"),
            0,
        )
        .await
        .unwrap();
}

/// PATCHes of a message, by status.
fn patches_of(h: &Harness, message: &str) -> Vec<u16> {
    h.discord
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&format!("/messages/{message}")))
        .map(|r| r.status)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forum_gets_one_tagged_post_per_ptt_post_whose_starter_message_is_edited_and_marked() {
    let h = start(Options {
        tally: Some(TallyOptions {
            window: Duration::from_secs(600),
            first_step: Duration::from_secs(2),
            max_step: Duration::from_secs(4),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        }),
        ..Options::default()
    })
    .await;
    let tags = h.discord.set_forum(FORUM, &["公告", "新聞"]);
    subscribe_forum(&h).await;
    h.seeded().await;
    let d = h.discord.clone();
    let news = h.ptt.add_post("Stock", "[新聞] 台積電法說會", "reporter");
    let long_title = format!("[心得] {}", "長".repeat(120));
    let talk = h.ptt.add_post("Stock", &long_title, "someone");
    wait_until("two forum posts", || d.threads_in(FORUM).len() == 2).await;
    outbox_drained(&h).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let posts = h.discord.threads_in(FORUM);
    assert_eq!(posts.len(), 2, "one forum post per PTT post");
    assert!(h.discord.messages_in(FORUM).is_empty(), "no plain messages");
    // Named by the title; the forum tag named like the PTT tag applied.
    assert_eq!(posts[0].name, "[新聞] 台積電法說會");
    assert_eq!(posts[0].applied_tags, vec![tags[1].clone()]);
    let url = |id: &str| format!("https://www.ptt.cc/bbs/Stock/{id}.html");
    assert_eq!(embed_of(&posts[0].message)["url"], url(&news));
    assert_eq!(posts[0].message["allowed_mentions"]["parse"], json!([]));
    // 100 characters (not bytes) of a longer title; no forum tag 心得.
    assert_eq!(posts[1].name.chars().count(), 100);
    assert!(long_title.starts_with(posts[1].name.trim_end_matches('…')));
    assert!(posts[1].applied_tags.is_empty());
    assert_eq!(embed_of(&posts[1].message)["url"], url(&talk));
    // The id kept is the thread's, which is its starter message's.
    let kept = h.store.sent_messages(&news).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].message_id, posts[0].id);

    // The tally edits the starter message, in the thread.
    h.ptt.add_pushes("Stock", &news, &["推", "推", "噓"]);
    wait_until("a tally edit", || !d.edits().is_empty()).await;
    let (channel, message, body) = h.discord.edits()[0].clone();
    assert_eq!(
        (channel.as_str(), message.as_str()),
        (posts[0].id.as_str(), posts[0].id.as_str())
    );
    assert_eq!(field(embed_of(&body), "推噓"), "推 2 · 噓 1 · → 0");

    // Deleted on PTT: the starter message is marked.
    h.ptt.delete_post("Stock", &news);
    wait_until("the deletion mark", || {
        d.edits().iter().any(|(c, _, b)| {
            *c == posts[0].id
                && embed_of(b)["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("【已刪除】"))
        })
    })
    .await;

    // A moderator deletes the other forum post: its tally is no longer
    // tracked there (one refused edit, then none), and the forum still
    // takes new posts.
    h.discord.delete_thread(&posts[1].id);
    h.ptt.add_pushes("Stock", &talk, &["推"]);
    wait_until("the refused edit", || {
        patches_of(&h, &posts[1].id) == vec![404]
    })
    .await;
    h.ptt.add_pushes("Stock", &talk, &["推", "推"]);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(patches_of(&h, &posts[1].id), vec![404], "not tried again");
    assert!(
        !h.subscribed(FORUM).await[0].paused,
        "the forum is not paused"
    );
    h.ptt.add_post("Stock", "[新聞] 之後的新聞", "reporter");
    wait_until("a third forum post", || d.threads_in(FORUM).len() == 3).await;
    assert_eq!(h.discord.rate_limited(), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forum_post_whose_answer_was_lost_is_not_opened_twice() {
    let h = start(Options {
        request_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    })
    .await;
    h.discord.set_forum(FORUM, &["新聞"]);
    subscribe_forum(&h).await;
    h.seeded().await;
    let d = h.discord.clone();

    // Discord opens the forum post, then the answer never comes in time:
    // the retry finds the post instead of opening another.
    h.discord
        .set_create_fault(Some(CreateFault::AcceptThenHang(Duration::from_secs(3))));
    let first = h.ptt.add_post("Stock", "[新聞] 收下了卻沒回答", "reporter");
    wait_until("the hung create", || d.faulted_creates() >= 1).await;
    outbox_drained(&h).await;
    assert_eq!(h.discord.threads_in(FORUM).len(), 1);
    assert_eq!(h.discord.faulted_creates(), 1, "no second create");
    let thread = h.discord.threads_in(FORUM)[0].id.clone();
    let kept = h.store.sent_messages(&first).await.unwrap();
    assert_eq!(kept[0].message_id, thread, "kept with the found post's id");

    // The answer is cut off halfway: the same.
    h.discord.set_create_fault(Some(CreateFault::Truncated));
    h.ptt.add_post("Stock", "[新聞] 回答被截斷", "reporter");
    wait_until("the truncated create", || d.faulted_creates() >= 2).await;
    outbox_drained(&h).await;
    assert_eq!(h.discord.threads_in(FORUM).len(), 2);
    assert_eq!(h.discord.faulted_creates(), 2, "no second create");

    // Two PTT posts with one title are two forum posts: the look for an
    // earlier create matches the starter message's link, not the name.
    h.discord.set_create_fault(None);
    let a = h.ptt.add_post("Stock", "[新聞] 同一個標題", "reporter");
    wait_until("the first of two", || d.threads_in(FORUM).len() == 3).await;
    let b = h.ptt.add_post("Stock", "[新聞] 同一個標題", "reporter");
    wait_until("the second of two", || d.threads_in(FORUM).len() == 4).await;
    outbox_drained(&h).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let posts = h.discord.threads_in(FORUM);
    assert_eq!(posts.len(), 4, "{posts:?}");
    let urls: Vec<String> = posts[2..]
        .iter()
        .map(|t| embed_of(&t.message)["url"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(urls, urls_of(&[&a, &b]));
    assert_eq!(h.discord.rate_limited(), 0);
    h.stop().await;
}

// ------------------------------------------------------ the channel option

/// `/ptt subscribe channel:<id>` from `origin`, with Discord's resolved
/// channel (its type, the member's permissions there); waits for the
/// answer.
async fn subscribe_channel(
    h: &Harness,
    origin: &Origin,
    channel: u64,
    kind: u64,
    permissions: u64,
) -> support::fake_discord::Answer {
    let option = json!({ "name": "channel", "type": 7, "value": channel.to_string() });
    let resolved = json!({ "channels": { channel.to_string(): {
        "id": channel.to_string(), "name": "target", "type": kind,
        "permissions": permissions.to_string()
    } } });
    let id = h
        .discord
        .slash_resolved(origin, "subscribe", json!([option]), resolved);
    h.discord.wait_answer(&id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_channel_option_subscribes_another_channel_only_when_member_and_bot_may() {
    let h = start(Options::default()).await;
    h.discord.set_forum(FORUM, &["新聞"]);
    let here = manager(CHANNEL);
    let en = manager(CHANNEL).locale("en-US");
    let mention = |c: u64| format!("<#{c}>");

    // Manage Channels here is not enough: the member needs it there.
    let a = subscribe_channel(&h, &here, FORUM, 15, MEMBER).await;
    assert!(a.ephemeral, "{a:?}");
    assert!(a.content.contains("管理頻道"), "{a:?}");
    assert!(a.content.contains(&mention(FORUM)), "{a:?}");
    let a = subscribe_channel(&h, &en, FORUM, 15, MEMBER).await;
    assert_eq!(
        a.content,
        format!(
            "You need Manage Channels in {} to subscribe it.",
            mention(FORUM)
        )
    );

    // The bot must be able to post there (a forum: also read history).
    h.discord.deny_bot(FORUM, 1 << 16);
    let a = subscribe_channel(&h, &en, FORUM, 15, MANAGE_CHANNELS | MEMBER).await;
    assert!(a.ephemeral, "{a:?}");
    assert_eq!(
        a.content,
        format!(
            "The bot lacks permissions in {}: Read Message History.",
            mention(FORUM)
        )
    );
    h.discord.deny_bot(THIRD, (1 << 11) | (1 << 14));
    let a = subscribe_channel(&h, &here, THIRD, 0, MANAGE_CHANNELS | MEMBER).await;
    assert_eq!(
        a.content,
        format!("機器人在 {} 缺少權限：傳送訊息, 嵌入連結。", mention(THIRD))
    );
    h.discord.deny_bot(OTHER, 1 << 10);
    let a = subscribe_channel(&h, &en, OTHER, 0, MANAGE_CHANNELS | MEMBER).await;
    assert!(a.content.contains("cannot see"), "{a:?}");
    // Only channels of this server.
    h.discord.deny_bot(OTHER, 0);
    h.discord.set_channel_guild(OTHER, 800_000_000_000_000_009);
    let a = subscribe_channel(&h, &en, OTHER, 0, MANAGE_CHANNELS | MEMBER).await;
    assert_eq!(
        a.content,
        format!("{} is not in this server.", mention(OTHER))
    );
    for c in [CHANNEL, FORUM, OTHER, THIRD] {
        assert!(
            h.subscribed(c).await.is_empty(),
            "nothing subscribed in {c}"
        );
    }

    // Allowed: a member with Manage Channels in the forum (not here)
    // subscribes the forum, which then gets its forum posts.
    h.discord.deny_bot(FORUM, 0);
    let a = subscribe_channel(&h, &member(CHANNEL), FORUM, 15, MANAGE_CHANNELS | MEMBER).await;
    assert!(!a.ephemeral, "{a:?}");
    assert!(a.content.starts_with(&mention(FORUM)), "{a:?}");
    assert!(a.content.contains("#1"), "{a:?}");
    assert_eq!(h.subscribed(FORUM).await.len(), 1);
    assert!(h.subscribed(CHANNEL).await.is_empty());
    let groups = h
        .store
        .chats_in_group(DISCORD, &GUILD.to_string())
        .await
        .unwrap();
    assert_eq!(groups, vec![FORUM.to_string()]);
    h.seeded().await;
    h.ptt.add_post("Stock", "[新聞] 論壇訂閱", "reporter");
    let d = h.discord.clone();
    wait_until("the forum post", || d.threads_in(FORUM).len() == 1).await;
    assert!(h.discord.messages_in(CHANNEL).is_empty());
    h.stop().await;
}

/// A `top:3` channel gets the day's leaderboard as one plain message
/// (through serenity against the fake): markdown and mentions of PTT
/// titles neutralised, titles as masked links without embeds, a nonce;
/// it is edited (PATCH) when a post gains pushes, and no digest is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_top_3_channel_gets_one_leaderboard_message_edited_as_pushes_come_in() {
    let h = start(Options {
        tally: Some(TallyOptions {
            window: Duration::from_secs(600),
            first_step: Duration::from_secs(2),
            max_step: Duration::from_secs(4),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        }),
        leaderboards: Some(LeaderboardOptions {
            edit_every: Duration::from_secs(1),
            round: Duration::from_millis(500),
            ..LeaderboardOptions::default()
        }),
        ..Options::default()
    })
    .await;
    h.store
        .subscribe(
            &dest(CHANNEL),
            &board_of("Stock"),
            &support::filter_of("top:3"),
            0,
        )
        .await
        .unwrap();
    h.seeded().await;
    let loud = h.ptt.add_post(
        "Stock",
        "[新聞] @everyone **漲停** [x](https://evil.example)",
        "r",
    );
    let quiet = h.ptt.add_post("Stock", "[新聞] 鴻海營收", "r");
    let d = h.discord.clone();
    wait_until("the leaderboard", || !d.messages_in(CHANNEL).is_empty()).await;
    let m = &h.discord.messages_in(CHANNEL)[0];
    let content = m.body["content"].as_str().unwrap().to_owned();
    assert!(content.starts_with("**📊 Stock"), "{content}");
    assert_eq!(m.body["allowed_mentions"]["parse"], json!([]));
    assert!(m.body["nonce"].is_string(), "{}", m.body);
    assert!(m.body.get("embeds").is_none_or(|e| e == &json!([])));
    let url = |id: &str| format!("https://www.ptt.cc/bbs/Stock/{id}.html");
    wait_until("both posts on the board", || {
        let shown = d.edits().last().map_or(content.clone(), |(_, _, b)| {
            b["content"].as_str().unwrap_or("").to_owned()
        });
        shown.contains(&url(&loud)) && shown.contains(&url(&quiet))
    })
    .await;
    h.ptt.add_pushes("Stock", &quiet, &["推"; 12]);
    wait_until("the edit with the new leader", || {
        d.edits().last().is_some_and(|(_, _, b)| {
            b["content"]
                .as_str()
                .and_then(|c| c.lines().nth(1))
                .is_some_and(|l| l.starts_with("1. 推 12") && l.contains(&url(&quiet)))
        })
    })
    .await;
    let (channel, message, body) = h.discord.edits().last().unwrap().clone();
    assert_eq!(channel, CHANNEL.to_string());
    assert_eq!(message, m.id, "the same message");
    let text = body["content"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "2. 推 0 噓 0 → 0 (+0) [\\[新聞\\] @everyone \\*\\*漲停\\*\\* \\[x\\](https:\u{2060}//evil.example)](<{}>)",
            url(&loud)
        )),
        "{text}"
    );
    assert_eq!(body["allowed_mentions"]["parse"], json!([]));
    assert_eq!(
        h.discord.messages_in(CHANNEL).len(),
        1,
        "no digest, one leaderboard"
    );
    h.stop().await;
}
