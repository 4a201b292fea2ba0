//! The Telegram adapter end to end: the real teloxide client against the
//! fake Bot API on 127.0.0.1, the real poller and outbox against the fake
//! PTT. Commands arrive as injected updates; assertions are on what the
//! fake Bot API received.

use crate::support;
use crate::support::{board_of, filter_of};

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::app::{self, Extras, Running};
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::chat::telegram::TelegramSettings;
use ptt_relay::chat::telegram::{TelegramAdapter, TelegramError, TelegramOptions};
use ptt_relay::chat::{AdapterContext, EditKind, SendOutcome};
use ptt_relay::commands::{Handler, Lang};
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::digest::Digest;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::telemetry::status::RuntimeStatus;
use secrecy::SecretString;
use support::fake_ptt::FakePtt;
use support::fake_telegram::{ChatKind, FakeTelegram, SendFault};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "123456789:TEST-token_for-the-fake";
const WAIT: Duration = Duration::from_secs(30);

fn fast_options() -> TelegramOptions {
    TelegramOptions {
        poll_timeout: Duration::from_secs(1),
        channel_cleanup_after: Duration::from_secs(1),
        retry_start: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        conflict_log_every: Duration::from_secs(60),
        ..TelegramOptions::default()
    }
}

fn tg_settings(api_url: &str, token: &str) -> TelegramSettings {
    TelegramSettings {
        token: Some(SecretString::from(token.to_owned())),
        api_url: api_url.to_owned(),
        link_preview: ptt_relay::chat::telegram::LinkPreview::Source,
    }
}

/// The service with the Telegram adapter, against both fakes.
struct Harness {
    tg: FakeTelegram,
    ptt: FakePtt,
    running: Option<Running>,
    adapter: TelegramAdapter,
    store: Arc<dyn Store>,
    status: Arc<RuntimeStatus>,
    shutdown: CancellationToken,
    listener: Option<JoinHandle<Result<(), TelegramError>>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tune: impl FnOnce(&mut Settings)) -> Harness {
        Self::start_with_options(tune, fast_options()).await
    }

    async fn start_with_options(
        tune: impl FnOnce(&mut Settings),
        options: TelegramOptions,
    ) -> Harness {
        support::init_logs();
        let ptt = FakePtt::start(&["Stock"]).await;
        let tg = FakeTelegram::start(TOKEN).await;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db.sqlite");
        let mut s = support::harness::settings(&ptt, &db);
        tune(&mut s);
        let store: Arc<dyn Store> = SqliteStore::open(&db).await.unwrap();
        let shutdown = CancellationToken::new();
        let ctx = support::harness::adapter_context(&s, &store, &shutdown);
        let status = Arc::clone(&ctx.status);
        let handler = Arc::clone(&ctx.handler);
        let adapter =
            TelegramAdapter::with_options(&tg_settings(&tg.api_url, TOKEN), ctx, options).unwrap();
        // The app gets the adapter's sink as an extra; its own settings
        // carry no token, so it starts no Telegram adapter of its own.
        let running = app::start_with_store(
            &s,
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
                tally: None,
                handler: Some(handler),
                share: None,
                leaderboards: None,
            },
        )
        .await
        .unwrap();
        let a = adapter.clone();
        let listener = tokio::spawn(async move { a.run_listener().await });
        let h = Harness {
            tg,
            ptt,
            running: Some(running),
            adapter,
            store,
            status,
            shutdown,
            listener: Some(listener),
            _dir: dir,
        };
        h.wait_until("the bot to start polling", || h.tg.count("getUpdates") > 0)
            .await;
        h.seeded().await;
        h
    }

    async fn seeded(&self) {
        for _ in 0..200 {
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

    async fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !cond() {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}; sent: {:#?}\nerrors: {:#?}",
                    self.tg.sent(),
                    self.tg.errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn eventually(&self, what: &str, mut cond: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !cond().await {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {what}; errors: {:#?}",
                    self.tg.errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The next message to a chat after the `n` it already got.
    async fn next_to(&self, chat: i64, n: usize) -> support::fake_telegram::Sent {
        self.tg.wait_sent(chat, n + 1, WAIT).await[n].clone()
    }

    async fn subs(&self, dest: &Destination) -> Vec<ptt_relay::store::Subscription> {
        self.store.subscriptions_of(dest).await.unwrap()
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(l) = self.listener.take() {
            let r = tokio::time::timeout(Duration::from_secs(5), l)
                .await
                .expect("the listener stops promptly")
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
        }
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }
}

/// Sends a private command and returns the visible text of the answer.
async fn ask(h: &Harness, user: i64, n: &mut usize, text: &str) -> String {
    h.tg.private_message(user, "en-US", text);
    let m = h.next_to(user, *n).await;
    *n += 1;
    assert_eq!(m.thread, None);
    m.visible
}

fn tg(chat: i64) -> Destination {
    Destination::chat(TELEGRAM, chat.to_string())
}

fn assert_no_flood(h: &Harness) {
    assert_eq!(h.tg.answered_429(), 0, "429s: {:?}", h.tg.errors());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admins_subscribe_in_a_group_is_confirmed_and_the_next_news_post_arrives_as_valid_html()
{
    let h = Harness::start().await;
    let group = -4001;
    h.tg.add_chat(group, ChatKind::Group, None);
    h.tg.add_admin(group, 11);

    // The start-up: the menu in both languages, and long polling for the
    // three update kinds.
    let menus = h.tg.commands();
    assert_eq!(menus.len(), 3, "{menus:?}");
    let langs: Vec<&str> = menus
        .iter()
        .map(|m| m["language_code"].as_str().unwrap_or(""))
        .collect();
    assert!(langs.contains(&"zh") && langs.contains(&"en"), "{langs:?}");
    let zh = menus.iter().find(|m| m["language_code"] == "zh").unwrap();
    assert_eq!(zh["commands"][0]["command"], "subscribe");
    assert_eq!(zh["commands"][0]["description"], "訂閱看板新文章");
    let params = h.tg.get_updates_params();
    let allowed = params[0]["allowed_updates"].to_string();
    for kind in ["message", "channel_post", "my_chat_member"] {
        assert!(allowed.contains(kind), "{allowed}");
    }
    assert_eq!(h.adapter.bot_username().as_deref(), Some("ptt_relay_bot"));

    // A 429 on the admin check is waited out, not taken for "no".
    h.tg.force_429("getChatMember", 1);
    h.tg.group_message(group, 11, "/subscribe@ptt_relay_bot Stock");
    let reply = h.next_to(group, 0).await;
    assert_eq!(h.tg.count("getChatMember"), 2);
    assert!(reply.visible.contains("已訂閱 #1"), "{}", reply.visible);
    assert_eq!(reply.parse_mode.as_deref(), Some("HTML"));

    let id = h
        .ptt
        .add_post("Stock", "[新聞] 台積電法說會 & <更多>", "reporter");
    let m = h.next_to(group, 1).await;
    assert_eq!(m.parse_mode.as_deref(), Some("HTML"));
    assert!(
        m.visible.contains("[新聞] 台積電法說會 & <更多>"),
        "{}",
        m.visible
    );
    let post_url = format!("https://www.ptt.cc/bbs/Stock/{id}.html");
    let hrefs: Vec<&str> = m.links.iter().map(|l| l.href.as_str()).collect();
    assert_eq!(hrefs[0], post_url, "{hrefs:?}");
    assert!(
        hrefs
            .iter()
            .any(|h| h.starts_with("https://news.example.com/a/")),
        "{hrefs:?}"
    );
    assert!(m.visible.contains("推 0"), "{}", m.visible);
    assert!(m.visible.contains("噓 0") && m.visible.contains("→ 0"));
    // link_preview = source: the preview shows the news source.
    let preview = m.link_preview.clone().unwrap();
    assert!(
        preview["url"]
            .as_str()
            .unwrap()
            .starts_with("https://news.example.com/a/"),
        "{preview}"
    );
    // The group's reply and delivery were paced: 20 a minute per group is
    // one every 3 s.
    assert!(m.at.duration_since(reply.at) >= Duration::from_millis(2900));
    // Only the forced 429: pacing provoked none.
    assert_eq!(h.tg.answered_429(), 1, "{:?}", h.tg.errors());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_non_admin_is_refused_an_anonymous_admin_is_not_and_other_bots_commands_are_ignored() {
    let h = Harness::start().await;
    let group = -1_002_000_000_001;
    h.tg.add_chat(group, ChatKind::Supergroup { forum: false }, None);
    h.tg.add_admin(group, 11);

    h.tg.group_message(group, 12, "/subscribe Stock");
    let refused = h.next_to(group, 0).await;
    assert!(
        refused.visible.contains("只有管理員"),
        "{}",
        refused.visible
    );
    assert!(h.subs(&tg(group)).await.is_empty());
    assert_eq!(
        h.store
            .count_subscriptions(TELEGRAM, &group.to_string())
            .await
            .unwrap(),
        0
    );

    // Not ours: another bot's command, and an unknown command in a group.
    h.tg.group_message(group, 12, "/subscribe@otherbot Stock");
    h.tg.group_message(group, 12, "/frobnicate");
    // Ours: anonymous admin posting as the group.
    h.tg.anonymous_admin_message(group, "/subscribe Stock kw:台積電");
    let ok = h.next_to(group, 1).await;
    assert!(ok.visible.contains("已訂閱 #1"), "{}", ok.visible);
    assert_eq!(h.subs(&tg(group)).await.len(), 1);
    // An unknown command addressed to us does get an answer.
    h.tg.group_message(group, 12, "/frobnicate@ptt_relay_bot");
    let unknown = h.next_to(group, 2).await;
    assert!(
        unknown.visible.contains("/frobnicate"),
        "{}",
        unknown.visible
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.tg.sent_to(group).len(), 3);
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_unsubscribe_latest_status_help_and_malformed_commands_answer_in_a_private_chat() {
    let h = Harness::start().await;
    let user = 501;
    let mut n = 0;
    let r = ask(&h, user, &mut n, "/subscribe Stock kw:台積電").await;
    assert!(r.contains("Subscribed #1"), "{r}");
    let r = ask(&h, user, &mut n, "/list").await;
    assert!(r.contains("#1 Stock"), "{r}");
    let r = ask(&h, user, &mut n, "/latest").await;
    assert!(r.contains("No posts"), "{r}");
    h.ptt
        .add_post("Stock", "[新聞] 台積電 ADR 大漲", "reporter");
    h.tg.wait_sent(user, n + 1, WAIT).await;
    n += 1;
    let r = ask(&h, user, &mut n, "/latest 3").await;
    assert!(r.contains("台積電 ADR 大漲"), "{r}");
    let r = ask(&h, user, &mut n, "/status").await;
    assert!(r.contains("Boards relayed: Stock"), "{r}");
    // A 429 on a reply is waited out: the reply still arrives.
    h.tg.force_429("sendMessage", 1);
    let r = ask(&h, user, &mut n, "/help").await;
    assert!(
        r.contains("/subscribe") && r.contains("/unsubscribe"),
        "{r}"
    );
    // Another chat for the malformed ones: a chat's 11th command in a
    // minute would only be told to slow down.
    let (other, mut m) = (502, 0);
    let r = ask(&h, other, &mut m, "/subscribe kw:\"open").await;
    assert!(r.contains("Malformed command"), "{r}");
    assert!(r.contains("Usage: /subscribe"), "{r}");
    let r = ask(&h, other, &mut m, "/latest 99").await;
    assert!(r.contains("Usage: /latest"), "{r}");
    let r = ask(&h, other, &mut m, "/frobnicate").await;
    assert!(r.contains("Unknown command /frobnicate"), "{r}");
    let r = ask(&h, user, &mut n, "/unsubscribe 1").await;
    assert!(r.contains("Removed 1"), "{r}");
    let r = ask(&h, user, &mut n, "/list").await;
    assert!(r.contains("No subscriptions"), "{r}");
    // Replies to a private chat keep one a second.
    let sent = h.tg.sent_to(user);
    for pair in sent.windows(2) {
        assert!(pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(950));
    }
    // Replies are escaped plain text with previews off (the one digest
    // has links and a preview).
    let (digests, replies): (Vec<_>, Vec<_>) = sent.iter().partition(|m| !m.links.is_empty());
    assert_eq!(digests.len(), 1);
    assert!(
        replies
            .iter()
            .all(|m| m.link_preview.as_ref().unwrap()["is_disabled"] == true)
    );
    assert_eq!(h.tg.answered_429(), 1, "{:?}", h.tg.errors());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_channel_post_command_subscribes_the_channel_and_is_cleaned_up() {
    let h = Harness::start().await;
    let channel = -1_003_000_000_001;
    h.tg.add_chat(channel, ChatKind::Channel, Some("ptt_news_ch"));
    let cmd = h.tg.channel_post(channel, "/subscribe Stock");
    let reply = h.next_to(channel, 0).await;
    assert!(reply.visible.contains("已訂閱 #1"), "{}", reply.visible);
    assert_eq!(h.subs(&tg(channel)).await.len(), 1);
    // Both the command and the reply are deleted after the (shortened) 60 s.
    h.wait_until("the channel clean-up", || {
        let d = h.tg.deleted();
        d.contains(&(channel, cmd)) && d.contains(&(channel, reply.message_id))
    })
    .await;
    let id = h.ptt.add_post("Stock", "[新聞] 頻道新聞", "reporter");
    let m = h.next_to(channel, 1).await;
    assert!(m.text.contains(&id), "{}", m.text);
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_channel_is_subscribed_from_a_private_chat_only_by_its_admin_and_where_the_bot_can_post()
{
    let h = Harness::start().await;
    let channel = -1_003_000_000_002;
    h.tg.add_chat(channel, ChatKind::Channel, Some("pttnews"));
    h.tg.add_admin(channel, 777);
    let closed = -1_003_000_000_003;
    h.tg.add_chat(closed, ChatKind::Channel, Some("closedch"));
    h.tg.set_owner(closed, 777);
    h.tg.set_bot_can_post(closed, false);

    h.tg.private_message(778, "en", "/subscribe @pttnews Stock");
    let r = h.next_to(778, 0).await.visible;
    assert!(r.contains("do not administer"), "{r}");
    h.tg.private_message(777, "en", "/subscribe @nosuchchannel Stock");
    let r = h.next_to(777, 0).await.visible;
    assert!(r.contains("Cannot find the channel @nosuchchannel"), "{r}");
    h.tg.private_message(777, "en", "/subscribe @closedch Stock");
    let r = h.next_to(777, 1).await.visible;
    assert!(r.contains("may not post"), "{r}");
    assert!(h.subs(&tg(closed)).await.is_empty());
    assert!(h.subs(&tg(channel)).await.is_empty());

    h.tg.private_message(777, "en", "/subscribe @pttnews Stock kw:台積電");
    let r = h.next_to(777, 2).await.visible;
    assert!(r.contains("Subscribed #1"), "{r}");
    let subs = h.subs(&tg(channel)).await;
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].filter.canonical(), "tag:新聞 kw:台積電");
    // Nothing was subscribed for the private chat itself.
    assert!(h.subs(&tg(777)).await.is_empty());
    h.tg.private_message(777, "en", "/list @pttnews");
    let r = h.next_to(777, 3).await.visible;
    assert!(r.contains("#1 Stock"), "{r}");
    h.ptt.add_post("Stock", "[新聞] 台積電頻道", "reporter");
    let m = h.next_to(channel, 0).await;
    assert!(m.visible.contains("台積電頻道"));
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_topic_subscription_replies_and_delivers_into_its_topic() {
    let h = Harness::start().await;
    let forum = -1_004_000_000_001;
    h.tg.add_chat(forum, ChatKind::Supergroup { forum: true }, None);
    h.tg.add_admin(forum, 21);
    h.tg.topic_message(forum, 77, 21, "/subscribe Stock");
    let reply = h.next_to(forum, 0).await;
    assert_eq!(reply.thread, Some(77));
    assert!(reply.visible.contains("已訂閱 #1"), "{}", reply.visible);
    let dest = Destination {
        platform: TELEGRAM,
        chat: forum.to_string(),
        thread: Some("77".into()),
    };
    assert_eq!(h.subs(&dest).await.len(), 1);
    h.ptt.add_post("Stock", "[新聞] 討論串新聞", "reporter");
    let m = h.next_to(forum, 1).await;
    assert_eq!(m.thread, Some(77));
    assert!(m.visible.contains("討論串新聞"));
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_post_fans_out_to_200_chats_once_each_without_provoking_a_429() {
    let h = Harness::start().await;
    let mut chats: Vec<i64> = (0..100).map(|i| 10_001 + i).collect();
    chats.extend((0..100).map(|i| -20_001 - i));
    for c in &chats {
        h.store
            .subscribe(&tg(*c), &board_of("Stock"), &filter_of("tag:新聞"), 0)
            .await
            .unwrap();
    }
    h.ptt.add_post("Stock", "[新聞] 兩百個聊天室", "reporter");
    h.wait_until("200 deliveries", || h.tg.sent().len() >= 200)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = h.tg.sent();
    assert_eq!(sent.len(), 200, "some chat got it twice");
    let mut got: Vec<i64> = sent.iter().map(|m| m.chat_id).collect();
    got.sort_unstable();
    let mut want = chats.clone();
    want.sort_unstable();
    assert_eq!(got, want);
    let first = sent.iter().map(|m| m.at).min().unwrap();
    let last = sent.iter().map(|m| m.at).max().unwrap();
    let secs = last.duration_since(first).as_secs_f64();
    let rate = 199.0 / secs;
    println!(
        "fan-out: 200 messages in {secs:.2} s = {rate:.1} messages/s (limit 30/s); 429s answered: {}",
        h.tg.answered_429()
    );
    assert!(rate <= 30.5, "{rate:.1}/s is faster than Telegram allows");
    assert_no_flood(&h);
    assert!(h.tg.errors().is_empty(), "{:?}", h.tg.errors());
    h.stop().await;
}

fn hostile_digest() -> Digest {
    Digest {
        board: "Stock".into(),
        id: "M.1769577959.A.C89".into(),
        url: "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html".into(),
        title: Some("[新聞] <b>粗體</b> & @everyone </a><script>".into()),
        tag: Some("新聞".into()),
        is_reply: false,
        is_forward: false,
        author: Some("a<b>&\"c".into()),
        posted_at: None,
        original_title: Some("\"Quoted\" <i>headline</i> & more".into()),
        source_url: Some("https://news.example.com/a?x=1&y=\"2\"".into()),
        published: None,
        reporter: None,
        excerpt: Some("😀<&>".repeat(2_500)),
        stocks: Vec::new(),
        hot: None,
        tally: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_title_and_a_10000_character_excerpt_are_delivered_escaped_within_limits() {
    let h = Harness::start().await;
    // Through the whole pipeline: a hostile title on the fake PTT.
    let user = 601;
    h.store
        .subscribe(&tg(user), &board_of("Stock"), &filter_of("tag:新聞"), 0)
        .await
        .unwrap();
    h.ptt.add_post(
        "Stock",
        "[新聞] <b>粗體</b> & @everyone \"引號\"",
        "reporter",
    );
    let m = h.next_to(user, 0).await;
    assert!(
        m.visible
            .contains("[新聞] <b>粗體</b> & @everyone \"引號\""),
        "{}",
        m.visible
    );
    assert!(m.text.contains("&lt;b&gt;粗體&lt;/b&gt; &amp; @everyone"));

    // Straight through the sink: a digest no parser would produce.
    let d = hostile_digest();
    assert_eq!(d.excerpt.as_ref().unwrap().chars().count(), 10_000);
    let outcome = h
        .adapter
        .sink()
        .send(&tg(user), &d, &Default::default())
        .await;
    assert!(
        matches!(outcome, SendOutcome::Sent { .. }),
        "{outcome:?}: {:?}",
        h.tg.errors()
    );
    let m = h.tg.sent_to(user).pop().unwrap();
    assert!(m.visible.encode_utf16().count() <= 4096);
    assert!(m.visible.encode_utf16().count() > 4000, "cut too much");
    assert!(m.visible.contains("<b>粗體</b> & @everyone </a><script>"));
    assert!(m.visible.contains("…"));
    assert_eq!(m.links[0].href, d.url);
    // Whole, percent-encoded where an href needs it (issue 13).
    assert_eq!(m.links[1].href, "https://news.example.com/a?x=1&y=%222%22");
    assert!(h.tg.errors().is_empty(), "{:?}", h.tg.errors());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_chat_is_paused_and_resumed_by_membership_or_a_command() {
    let h = Harness::start().await;
    let (user, group) = (701, -7_001);
    for c in [user, group] {
        h.store
            .subscribe(&tg(c), &board_of("Stock"), &filter_of("tag:新聞"), 0)
            .await
            .unwrap();
    }
    h.tg.block(user, true);
    h.tg.set_not_found(group, true);
    let first = h.ptt.add_post("Stock", "[新聞] 被封鎖時", "reporter");
    h.wait_until("both chats paused", || {
        h.tg.errors()
            .iter()
            .filter(|e| e.0 == "sendmessage")
            .count()
            >= 2
    })
    .await;
    for c in [user, group] {
        h.eventually("the chat paused", async || {
            h.subs(&tg(c)).await.iter().all(|s| s.paused)
        })
        .await;
    }

    // Unblocked: Telegram tells the bot it is a member again.
    h.tg.block(user, false);
    h.tg.bot_status_changed(user, "kicked", "member");
    let m = h.next_to(user, 0).await;
    assert!(m.text.contains(&first));
    assert!(!h.subs(&tg(user)).await[0].paused);

    // The private chat blocks the bot again: my_chat_member pauses it.
    h.tg.bot_status_changed(user, "member", "kicked");
    h.eventually("paused by my_chat_member", async || {
        h.subs(&tg(user)).await.iter().all(|s| s.paused)
    })
    .await;

    // A command from the group resumes it, and the reply says so.
    h.tg.add_admin(group, 31);
    let mut s = h.store.subscriptions_of(&tg(group)).await.unwrap();
    assert!(s.pop().unwrap().paused);
    h.tg.set_not_found(group, false);
    h.tg.group_message(group, 31, "/list");
    // The resumed row and the reply race for the group's pacing slot.
    let got = h.tg.wait_sent(group, 2, WAIT).await;
    let (digests, replies): (Vec<_>, Vec<_>) = got.iter().partition(|m| !m.links.is_empty());
    assert_eq!(replies.len(), 1, "{got:#?}");
    assert!(
        replies[0].visible.contains("已恢復"),
        "{}",
        replies[0].visible
    );
    assert!(digests[0].text.contains(&first));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_that_became_a_supergroup_is_moved_and_its_post_arrives_at_the_new_id() {
    let h = Harness::start().await;
    let (old, new) = (-8_001, -1_008_000_000_001);
    h.store
        .subscribe(&tg(old), &board_of("Stock"), &filter_of("tag:新聞"), 0)
        .await
        .unwrap();
    h.tg.migrate(old, new);
    let id = h.ptt.add_post("Stock", "[新聞] 升級之後", "reporter");
    let m = h.next_to(new, 0).await;
    assert!(m.text.contains(&id));
    assert!(h.subs(&tg(old)).await.is_empty());
    assert_eq!(h.subs(&tg(new)).await.len(), 1);

    // The service message of an upgrade moves a group too.
    let (old2, new2) = (-8_002, -1_008_000_000_002);
    h.store
        .subscribe(
            &tg(old2),
            &board_of("Stock"),
            &filter_of("tag:新聞 kw:x"),
            0,
        )
        .await
        .unwrap();
    h.tg.migration_message(old2, new2);
    h.eventually("the moved subscription", async || {
        !h.subs(&tg(new2)).await.is_empty()
    })
    .await;
    assert!(h.subs(&tg(old2)).await.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_409_conflict_is_reported_and_cleared_after_a_good_get_updates() {
    let h = Harness::start().await;
    assert_eq!(h.status.platform_fault("telegram"), None);
    h.tg.set_conflict(true);
    h.wait_until("the conflict reported", || {
        h.status.platform_fault("telegram").is_some()
    })
    .await;
    let calls = h.tg.count("getUpdates");
    h.wait_until("a few more refused polls", || {
        h.tg.count("getUpdates") >= calls + 2
    })
    .await;
    assert!(h.status.platform_fault("telegram").is_some());
    h.tg.set_conflict(false);
    h.wait_until("the conflict cleared", || {
        h.status.platform_fault("telegram").is_none()
    })
    .await;
    // And commands work again.
    h.tg.private_message(901, "en", "/help");
    h.next_to(901, 0).await;

    // A webhook set for the bot is no conflict: the bot deletes it.
    h.tg.set_webhook(true);
    h.wait_until("the webhook deleted", || h.tg.count("deleteWebhook") == 1)
        .await;
    assert_eq!(h.status.platform_fault("telegram"), None);
    h.tg.private_message(901, "en", "/help");
    h.next_to(901, 1).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fake_refuses_floods_and_429s_are_honoured_for_sends_and_edits() {
    let h = Harness::start().await;
    // The fake enforces Telegram's limit: 40 unpaced sends in a burst.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("{}/bot{TOKEN}/sendMessage", h.tg.api_url);
    let burst = (0..40).map(|i| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .post(&url)
                .json(&serde_json::json!({"chat_id": 30_000 + i, "text": "x"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let codes: Vec<u16> = futures_join_all(burst).await;
    assert!(codes.contains(&429), "{codes:?}");
    let floods = h.tg.answered_429();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let sink = h.adapter.sink();
    let user = 801;
    let d = hostile_digest();
    let SendOutcome::Sent { message_id } = sink.send(&tg(user), &d, &Default::default()).await
    else {
        panic!("send failed: {:?}", h.tg.errors());
    };
    // A forced 429 on an edit: reported with its retry_after, and the chat
    // is held back for that long.
    h.tg.force_429("editMessageText", 2);
    let mut tallied = d.clone();
    tallied.tally.push = 5;
    let out = sink
        .edit(
            &tg(user),
            &message_id,
            &tallied,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert_eq!(
        out,
        SendOutcome::RateLimited {
            retry_after: Duration::from_secs(2)
        }
    );
    let held = std::time::Instant::now();
    let out = sink
        .edit(
            &tg(user),
            &message_id,
            &tallied,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    assert!(held.elapsed() >= Duration::from_millis(1900));
    let edit = h.tg.edits().pop().unwrap();
    assert!(edit.visible.contains("推 5"), "{}", edit.visible);
    // Nothing new: "message is not modified" counts as done.
    let out = sink
        .edit(
            &tg(user),
            &message_id,
            &tallied,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert_eq!(
        out,
        SendOutcome::Sent {
            message_id: message_id.clone()
        }
    );
    // Deleted on PTT: the mark on top.
    let out = sink
        .edit(
            &tg(user),
            &message_id,
            &tallied,
            EditKind::Deleted,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    assert!(h.tg.edits().pop().unwrap().visible.starts_with("【"));
    // An edit of a message that is gone is rejected.
    let out = sink
        .edit(
            &tg(user),
            "999999",
            &tallied,
            EditKind::Tally,
            &Default::default(),
        )
        .await;
    assert!(matches!(out, SendOutcome::Rejected(_)), "{out:?}");
    // A forced 429 on a send, too.
    h.tg.force_429("sendMessage", 3);
    let out = sink.send(&tg(802), &d, &Default::default()).await;
    assert_eq!(
        out,
        SendOutcome::RateLimited {
            retry_after: Duration::from_secs(3)
        }
    );
    assert_eq!(h.tg.answered_429(), floods + 2, "{:?}", h.tg.errors());
    h.stop().await;
}

#[tokio::test]
async fn the_fake_answers_like_telegram() {
    let fake = FakeTelegram::start(TOKEN).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = async |method: &str, form: &[(&str, &str)]| {
        let r = client
            .post(format!("{}/bot{TOKEN}/{method}", fake.api_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        (code, r.json::<serde_json::Value>().await.unwrap())
    };
    // Method names in any case, form bodies.
    let (code, body) = call("GETME", &[]).await;
    assert_eq!((code, &body["ok"]), (200, &serde_json::json!(true)));
    assert_eq!(body["result"]["username"], "ptt_relay_bot");
    let (code, body) = call(
        "sendmessage",
        &[
            ("chat_id", "5"),
            ("text", "<b>ok</b> &amp;"),
            ("parse_mode", "HTML"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{body}");
    // Errors are in the body.
    let (code, body) = call(
        "sendMessage",
        &[
            ("chat_id", "6"),
            ("text", "<b>open"),
            ("parse_mode", "HTML"),
        ],
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["ok"], false);
    assert_eq!(body["error_code"], 400);
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .starts_with("Bad Request: can't parse entities"),
        "{body}"
    );
    let long = "字".repeat(4097);
    let (code, body) = call("sendMessage", &[("chat_id", "7"), ("text", &long)]).await;
    assert_eq!(code, 400);
    assert_eq!(body["description"], "Bad Request: message is too long");
    let fits = "字".repeat(4096);
    let (code, _) = call("sendMessage", &[("chat_id", "8"), ("text", &fits)]).await;
    assert_eq!(code, 200);
    // Too fast for one chat: 429 with retry_after.
    let (code, body) = call("sendMessage", &[("chat_id", "8"), ("text", "again")]).await;
    assert_eq!(code, 429);
    assert!(body["parameters"]["retry_after"].as_u64().unwrap() >= 1);
    // A wrong token.
    let r = client
        .post(format!("{}/bot1:wrong/getMe", fake.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(fake.answered_429(), 1);
}

async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_are_transient_and_malformed_destinations_rejected() {
    let h = Harness::start().await;
    let sink = h.adapter.sink();
    h.tg.fail_500("sendMessage", 1);
    let out = sink
        .send(&tg(901), &hostile_digest(), &Default::default())
        .await;
    assert!(matches!(out, SendOutcome::Transient(_)), "{out:?}");
    let out = sink
        .send(&tg(901), &hostile_digest(), &Default::default())
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    let bad = Destination::chat(TELEGRAM, "not-a-number");
    assert!(matches!(
        sink.send(&bad, &hostile_digest(), &Default::default())
            .await,
        SendOutcome::Rejected(_)
    ));
    h.stop().await;
}

/// Waits until every outbox row is delivered.
async fn outbox_drained(h: &Harness) {
    h.eventually("the outbox to drain", async || {
        h.store.outbox_depth(None).await.unwrap() == 0
    })
    .await;
}

/// The posts a chat got, by their PTT ids, in order.
fn posts_in(h: &Harness, chat: i64, ids: &[&String]) -> Vec<String> {
    h.tg.sent_to(chat)
        .iter()
        .filter_map(|m| ids.iter().find(|id| m.text.contains(id.as_str())))
        .map(|id| (*id).clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_send_black_holed_past_the_timeout_is_retried_once_the_fault_ends_without_a_duplicate() {
    let h = Harness::start_with_options(
        |_| {},
        TelegramOptions {
            request_timeout: Duration::from_secs(3),
            ..fast_options()
        },
    )
    .await;
    let chat = 31_001;
    h.store
        .subscribe(&tg(chat), &board_of("Stock"), &filter_of("tag:新聞"), 0)
        .await
        .unwrap();
    // Requests vanish before Telegram sees them; no answer comes in time.
    h.tg.set_send_fault(Some(SendFault::BlackHole(Duration::from_secs(30))));
    let polls = h.tg.count("getUpdates");
    let first = h.ptt.add_post("Stock", "[新聞] 石沉大海", "reporter");
    h.wait_until("the send and one retry to vanish", || {
        h.tg.faulted_sends() >= 2
    })
    .await;
    // Long polling went on meanwhile.
    assert!(h.tg.count("getUpdates") > polls + 1);
    assert!(!h.listener.as_ref().unwrap().is_finished());
    assert!(h.tg.sent_to(chat).is_empty());
    assert_eq!(
        h.store.outbox_depth(None).await.unwrap(),
        1,
        "the post waits in the outbox"
    );
    // The fault ends: commands are answered again, the post is delivered
    // once, and later posts flow.
    h.tg.set_send_fault(None);
    let mut n = 0;
    let listed = ask(&h, 31_002, &mut n, "/list").await;
    assert!(!listed.is_empty());
    outbox_drained(&h).await;
    let second = h.ptt.add_post("Stock", "[新聞] 風平浪靜", "reporter");
    h.tg.wait_sent(chat, 2, WAIT).await;
    outbox_drained(&h).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(posts_in(&h, chat, &[&first, &second]), vec![first, second]);
    assert_eq!(h.tg.sent_to(chat).len(), 2, "nothing was sent twice");
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreadable_answers_to_sends_lose_nothing_and_duplicate_nothing() {
    let h = Harness::start().await;
    let chat = 32_001;
    h.store
        .subscribe(&tg(chat), &board_of("Stock"), &filter_of("tag:新聞"), 0)
        .await
        .unwrap();
    let mut ids: Vec<String> = Vec::new();

    // Something in front of Telegram answers 200 with a web page: nothing
    // was sent, so the post stays queued and is sent once it clears.
    h.tg.set_send_fault(Some(SendFault::NotJson));
    ids.push(h.ptt.add_post("Stock", "[新聞] 網頁回答", "reporter"));
    h.wait_until("two web-page answers", || h.tg.faulted_sends() >= 2)
        .await;
    assert!(h.tg.sent_to(chat).is_empty());
    assert_eq!(h.store.outbox_depth(None).await.unwrap(), 1);
    h.tg.set_send_fault(None);
    outbox_drained(&h).await;
    assert_eq!(h.tg.sent_to(chat).len(), 1);

    // Telegram sent it, but its answer is cut off, or says ok without a
    // result: "ok" means done, so it is not sent again.
    for (fault, title) in [
        (SendFault::Truncated, "[新聞] 回答被截斷"),
        (SendFault::OkWithoutResult, "[新聞] 只有 ok"),
    ] {
        let before = h.tg.faulted_sends();
        h.tg.set_send_fault(Some(fault));
        ids.push(h.ptt.add_post("Stock", title, "reporter"));
        h.wait_until("the faulty answer", || h.tg.faulted_sends() > before)
            .await;
        outbox_drained(&h).await;
        h.tg.set_send_fault(None);
    }
    // Delivery goes on as usual afterwards.
    ids.push(h.ptt.add_post("Stock", "[新聞] 一切如常", "reporter"));
    h.tg.wait_sent(chat, ids.len(), WAIT).await;
    outbox_drained(&h).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let want: Vec<&String> = ids.iter().collect();
    assert_eq!(posts_in(&h, chat, &want), ids, "each post once, in order");
    assert_eq!(
        h.tg.sent_to(chat).len(),
        ids.len(),
        "nothing was sent twice"
    );
    assert!(
        !h.listener.as_ref().unwrap().is_finished(),
        "the adapter is up"
    );
    assert_no_flood(&h);
    h.stop().await;
}

/// A log writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// An HTTP server that answers every request with a 404 HTML page quoting
/// the path; returns its URL and the paths it saw.
async fn echo_server() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let s = Arc::clone(&s);
        async move {
            s.lock().unwrap().push(uri.path().to_owned());
            (
                axum::http::StatusCode::NOT_FOUND,
                axum::response::Html(format!(
                    "<html><body>Cannot POST {}</body></html>",
                    uri.path()
                )),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    (format!("http://{addr}"), seen)
}

/// A context whose store is a throwaway SQLite file.
async fn bare_context(dir: &std::path::Path) -> (AdapterContext, CancellationToken) {
    let store: Arc<dyn Store> = SqliteStore::open(&dir.join("db.sqlite")).await.unwrap();
    let status = Arc::new(RuntimeStatus::new("this instance"));
    let shutdown = CancellationToken::new();
    (
        AdapterContext {
            handler: Arc::new(Handler::new(
                Arc::clone(&store),
                Vec::new(),
                Arc::clone(&status),
            )),
            status,
            default_lang: Lang::En,
            shutdown: shutdown.clone(),
            share: ptt_relay::chat::pacing::Share::alone(),
        },
        shutdown,
    )
}

// Single-threaded, so the thread-local log capture sees every task.
#[tokio::test]
async fn the_token_never_appears_in_logs_or_errors() {
    let secret = "987654321:RECOGNIZABLE-secret-TOKEN";
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("ptt_relay=debug"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();

    // A Bot API that is not there: network errors.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    // A server that is no Bot API and echoes the request path (token
    // included) in an HTML error page, as many web servers do.
    let echo = echo_server().await;
    for api_url in [format!("http://{closed}"), echo.0.clone()] {
        let (ctx, shutdown) =
            bare_context(&dir.path().join(api_url.replace([':', '/'], "_"))).await;
        let adapter =
            TelegramAdapter::with_options(&tg_settings(&api_url, secret), ctx, fast_options())
                .unwrap();
        assert!(!format!("{adapter:?}").contains("RECOGNIZABLE"));
        let out = adapter
            .sink()
            .send(&tg(1), &hostile_digest(), &Default::default())
            .await;
        let SendOutcome::Transient(reason) = out else {
            panic!("{out:?}")
        };
        assert!(!reason.contains("RECOGNIZABLE"), "{reason}");
        let a = adapter.clone();
        let listener = tokio::spawn(async move { a.run_listener().await });
        tokio::time::sleep(Duration::from_millis(800)).await;
        shutdown.cancel();
        let r = tokio::time::timeout(Duration::from_secs(5), listener)
            .await
            .unwrap()
            .unwrap();
        assert!(r.is_ok(), "{r:?}");
    }
    // The token was in what the echo server answered.
    let paths = echo.1.lock().unwrap().clone();
    assert!(
        paths.iter().any(|p| p.contains("RECOGNIZABLE")),
        "{paths:?}"
    );

    // A Bot API that refuses the token: a start-up failure, redacted.
    let fake = FakeTelegram::start("111:another-token").await;
    let (ctx, _shutdown) = bare_context(&dir.path().join("b")).await;
    let adapter =
        TelegramAdapter::with_options(&tg_settings(&fake.api_url, secret), ctx, fast_options())
            .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), adapter.run_listener())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, TelegramError::InvalidToken), "{err:?}");
    assert!(!err.to_string().contains("RECOGNIZABLE"));
    assert!(!format!("{err:?}").contains("RECOGNIZABLE"));

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("getMe failed"), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(text.contains("Cannot POST /bot***/GetMe"), "{text}");
    assert!(!text.contains("RECOGNIZABLE"), "{text}");
}

/// How long a post takes to reach `chat` (the `n`+1-th message there).
async fn delivery_time(h: &Harness, chat: i64, n: usize, title: &str) -> Duration {
    let added = tokio::time::Instant::now();
    let id = h.ptt.add_post("Stock", title, "reporter");
    let m = h.next_to(chat, n).await;
    assert!(m.text.contains(&id), "{}", m.text);
    added.elapsed()
}

/// Issue 14, kind 1: strangers whose lookups (getChat) and replies are
/// refused with a long retry_after hold only themselves: a subscriber's
/// news arrives within its own pacing, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_strangers_throttled_lookups_and_replies_do_not_delay_another_chats_delivery() {
    const RETRY_AFTER: u32 = 60;
    const BOUND: Duration = Duration::from_secs(15);
    let h = Harness::start().await;
    let subscriber = 601;
    let mut n = 0;
    let r = ask(&h, subscriber, &mut n, "/subscribe Stock").await;
    assert!(r.contains("Subscribed #1"), "{r}");
    let before = delivery_time(&h, subscriber, n, "[新聞] 基準").await;
    n += 1;

    // Two strangers' lookups are refused for a minute.
    h.tg.force_429("getChat", RETRY_AFTER);
    h.tg.force_429("getChat", RETRY_AFTER);
    h.tg.private_message(701, "en", "/list @chan_a");
    h.tg.private_message(702, "en", "/list @chan_b");
    h.wait_until("both lookups refused", || h.tg.answered_429() == 2)
        .await;
    let lookups = delivery_time(&h, subscriber, n, "[新聞] 查詢被擋").await;
    n += 1;
    // They were paced and answered (the channel could not be looked up).
    assert!(h.next_to(701, 0).await.visible.contains("Cannot find"));
    assert!(h.next_to(702, 0).await.visible.contains("Cannot find"));

    // Two strangers' replies are refused for a minute.
    h.tg.force_429("sendMessage", RETRY_AFTER);
    h.tg.force_429("sendMessage", RETRY_AFTER);
    h.tg.private_message(703, "en", "/help");
    h.tg.private_message(704, "en", "/help");
    h.wait_until("both replies refused", || h.tg.answered_429() == 4)
        .await;
    let replies = delivery_time(&h, subscriber, n, "[新聞] 回覆被擋").await;
    eprintln!(
        "delivery: {before:?} before, {lookups:?} with lookups throttled, {replies:?} with replies throttled"
    );
    assert!(lookups < BOUND, "{lookups:?} (before: {before:?})");
    assert!(replies < BOUND, "{replies:?} (before: {before:?})");
    h.stop().await;
}

/// Issue 14, kind 7: updates are confirmed to Telegram only once handled,
/// so commands queued behind a chat's pacing when the listener stops are
/// answered by the next listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_queued_but_not_handled_before_a_stop_are_handled_after_a_restart() {
    let mut h = Harness::start().await;
    let group = -1_005_000_000_001;
    h.tg.add_chat(group, ChatKind::Supergroup { forum: false }, None);
    // A group's replies go one every 3 s: five commands queue up.
    let asked = [
        ("/help", "PTT 新聞轉播機器人"),
        ("/list", "目前沒有訂閱"),
        ("/status", "轉播看板："),
        ("/latest", "還沒有符合訂閱的文章"),
        ("/latest 99", "「99」不是 1–20 的數字"),
    ];
    for (text, _) in asked {
        h.tg.group_message(group, 41, text);
    }
    h.tg.wait_sent(group, 1, WAIT).await;
    // Stop the listener (a deploy, a crash of the leader).
    h.shutdown.cancel();
    let first = h.listener.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("the listener stops promptly")
        .unwrap()
        .unwrap();
    let answered = h.tg.sent_to(group).len();
    assert!(answered < asked.len(), "all answered before the stop");

    // The next listener (same bot, same pacer).
    let stop = CancellationToken::new();
    let next = h.adapter.with_stop(stop.clone());
    let second = tokio::spawn(async move { next.run_listener().await });
    for (text, reply) in asked {
        h.wait_until(&format!("the answer to {text}"), || {
            h.tg.sent_to(group)
                .iter()
                .any(|m| m.visible.contains(reply))
        })
        .await;
    }
    // At most the one in hand at the stop is answered twice.
    let sent = h.tg.sent_to(group).len();
    assert!(sent <= asked.len() + 1, "{:#?}", h.tg.sent_to(group));
    // Handled updates are confirmed.
    h.wait_until("the handled updates confirmed", || {
        h.tg.pending_updates() == 0
    })
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the listener stops promptly")
        .unwrap()
        .unwrap();
    assert_no_flood(&h);
    h.stop().await;
}

/// Issue 14, kind 7: a command that finds its chat's queue full is answered
/// "busy" (once), not dropped silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_command_that_finds_its_chats_queue_full_is_answered_busy() {
    let h = Harness::start().await;
    let group = -1_005_000_000_002;
    h.tg.add_chat(group, ChatKind::Supergroup { forum: false }, None);
    // A member's /subscribe needs a lookup; it is refused for 20 s and the
    // chat's task waits it out, while its queue (64) fills.
    h.tg.force_429("getChatMember", 20);
    h.tg.group_message(group, 42, "/subscribe Stock");
    h.wait_until("the lookup refused", || h.tg.answered_429() == 1)
        .await;
    for _ in 0..70 {
        h.tg.group_message(group, 42, "/list");
    }
    let busy = h.next_to(group, 0).await;
    assert!(
        busy.visible.contains("指令太多，來不及處理"),
        "{}",
        busy.visible
    );
    // Once, not once per command that did not fit.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(h.tg.sent_to(group).len(), 1, "{:#?}", h.tg.sent_to(group));
    h.stop().await;
}

/// Issue 14, kind 7: 12 commands in a minute from one chat get 10 answers
/// and one "slow down", and nothing else; another chat is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_commands_in_a_minute_get_ten_answers_and_one_slow_down() {
    let h = Harness::start().await;
    let user = 801;
    for _ in 0..12 {
        h.tg.private_message(user, "en", "/status");
    }
    let sent = h.tg.wait_sent(user, 11, WAIT).await;
    assert!(
        sent[..10]
            .iter()
            .all(|m| m.visible.contains("Boards relayed")),
        "{sent:#?}"
    );
    assert!(sent[10].visible.starts_with("Slow down"), "{sent:#?}");
    let mut n = 0;
    let r = ask(&h, 802, &mut n, "/status").await;
    assert!(r.contains("Boards relayed"), "{r}");
    // The 12th is ignored (give it time to show up if it were answered).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.tg.sent_to(user).len(), 11, "{:#?}", h.tg.sent_to(user));
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_and_preview_words_reach_the_wire_and_two_matching_subscriptions_send_one_merged_message()
 {
    let h = Harness::start().await;
    let user = 7101;
    let mut n = 0;
    // #1 silent with the post's preview; #2 loud, for 台積電 only.
    let r = ask(&h, user, &mut n, "/subscribe Stock silent:yes preview:ptt").await;
    assert!(
        r.contains("#1") && r.contains("silent:yes preview:ptt"),
        "{r}"
    );
    let r = ask(&h, user, &mut n, "/subscribe Stock kw:台積電 preview:off").await;
    assert!(r.contains("#2"), "{r}");
    let list = ask(&h, user, &mut n, "/list").await;
    assert!(
        list.contains("#1 Stock tag:新聞 silent:yes preview:ptt"),
        "{list}"
    );
    assert!(
        list.contains("#2 Stock tag:新聞 kw:台積電 preview:off"),
        "{list}"
    );

    // Only #1 matches: silent, previewing the PTT post (not the source
    // that telegram.link_preview = source would show).
    let quiet = h.ptt.add_post("Stock", "[新聞] 聯發科營收", "reporter");
    let m = h.next_to(user, n).await;
    n += 1;
    assert!(m.text.contains(&quiet), "{}", m.text);
    assert!(m.silent, "a silent subscription's message notifies");
    let preview = m.link_preview.clone().unwrap();
    assert_eq!(
        preview["url"],
        format!("https://www.ptt.cc/bbs/Stock/{quiet}.html"),
        "{preview}"
    );
    assert_ne!(preview["is_disabled"], true, "{preview}");

    // Both match: one message, loud (not every match is silent), with the
    // preview of #1, the lowest-numbered.
    let both = h.ptt.add_post("Stock", "[新聞] 台積電法說", "reporter");
    let m = h.next_to(user, n).await;
    n += 1;
    assert!(m.text.contains(&both), "{}", m.text);
    assert!(!m.silent, "a loud subscription matched too");
    assert_eq!(
        m.link_preview.clone().unwrap()["url"],
        format!("https://www.ptt.cc/bbs/Stock/{both}.html")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.tg.sent_to(user).len(), n, "one message per post");

    // After #1 is gone, #2 alone: loud, no preview at all.
    ask(&h, user, &mut n, "/unsubscribe 1").await;
    let off = h.ptt.add_post("Stock", "[新聞] 台積電擴產", "reporter");
    let m = h.next_to(user, n).await;
    assert!(m.text.contains(&off), "{}", m.text);
    assert!(!m.silent);
    assert_eq!(m.link_preview.clone().unwrap()["is_disabled"], true);
    assert_eq!(m.link_preview.clone().unwrap().get("url"), None);
    assert_no_flood(&h);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tally_edit_keeps_the_messages_preview_option() {
    let h = Harness::start().await;
    let sink = h.adapter.sink();
    let d = hostile_digest();
    let off = ptt_relay::filter::DeliveryOptions {
        silent: true,
        preview: Some(ptt_relay::filter::Preview::Off),
        hot: None,
    };
    let SendOutcome::Sent { message_id } = sink.send(&tg(7201), &d, &off).await else {
        panic!("send failed: {:?}", h.tg.errors());
    };
    let sent = h.tg.sent_to(7201).pop().unwrap();
    assert!(sent.silent);
    assert_eq!(sent.link_preview.unwrap()["is_disabled"], true);
    let mut tallied = d.clone();
    tallied.tally.push = 9;
    let out = sink
        .edit(&tg(7201), &message_id, &tallied, EditKind::Tally, &off)
        .await;
    assert!(matches!(out, SendOutcome::Sent { .. }), "{out:?}");
    let edit = h.tg.edits().pop().unwrap();
    // Without the option the edit would turn the (source) preview back on.
    assert_eq!(edit.link_preview.unwrap()["is_disabled"], true);
    h.stop().await;
}
