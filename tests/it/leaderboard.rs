//! `top:N` leaderboards (DESIGN.md, "Delivery options, channel kinds and
//! investor words"): one message per Taipei day per subscription, posted
//! with the day's first qualifying post, edited as tallies change (at most
//! once per 5 minutes), final after 00:00 +08:00, a new one the next day —
//! through the worker on a real SQLite store at chosen moments, and
//! through the running app, the fake PTT and the real teloxide client
//! against the fake Bot API.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use ptt_relay::app::{self, Extras};
use ptt_relay::chat::ChatSink;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::chat::telegram::{TelegramAdapter, TelegramOptions, TelegramSettings};
use ptt_relay::commands::Lang;
use ptt_relay::dest::Destination;
use ptt_relay::digest::Digest;
use ptt_relay::ptt::time::taipei;
use ptt_relay::ptt::{Board, PostId, Tally, TitleInfo};
use ptt_relay::relay::leaderboard::{EDIT_EVERY, LeaderboardOptions, Leaderboards, RoundReport};
use ptt_relay::relay::tally::TallyOptions;
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::store::{Store, TrackStart};
use secrecy::SecretString;
use support::fake_ptt::FakePtt;
use support::fake_telegram::FakeTelegram;
use support::harness::{self, seeded, wait_for};
use support::recording::RecordingSink;
use tokio_util::sync::CancellationToken;

/// 2026-01-28 00:00 +08:00.
const DAY1: i64 = 1_769_529_600;
const DAY2: i64 = DAY1 + 86_400;

fn at(day: i64, hour: i64, minute: i64) -> i64 {
    day + hour * 3600 + minute * 60
}

fn stock() -> Board {
    Board::parse("Stock").unwrap()
}

fn chat(id: &str) -> Destination {
    Destination::chat(TELEGRAM, id)
}

/// A post created (and first seen) at `epoch` with this net push.
fn digest(epoch: i64, title: &str, net: i64) -> Digest {
    let id = format!("M.{epoch}.A.{:03X}", epoch % 0xFFF);
    let info = TitleInfo::parse(title);
    Digest {
        board: "Stock".into(),
        url: format!("https://www.ptt.cc/bbs/Stock/{id}.html"),
        id,
        title: Some(title.to_owned()),
        tag: info.tag,
        is_reply: info.is_reply,
        is_forward: info.is_forward,
        author: Some("reporter".into()),
        posted_at: Some(taipei().timestamp_opt(epoch, 0).unwrap()),
        original_title: None,
        source_url: None,
        published: None,
        reporter: None,
        excerpt: None,
        stocks: Vec::new(),
        hot: None,
        tally: tally(net),
    }
}

fn tally(net: i64) -> Tally {
    let push = u32::try_from(net.max(0)).unwrap();
    let boo = u32::try_from((-net).max(0)).unwrap();
    Tally {
        push,
        boo,
        neutral: 0,
        net,
        total: push + boo,
    }
}

/// The worker, a recording sink and the store, with three chats: `top:5`,
/// `top:3` of 台積電 posts, and a plain subscription.
struct Env {
    store: Arc<SqliteStore>,
    sink: RecordingSink,
    worker: Leaderboards,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .unwrap();
    for (c, words) in [("100", "top:5"), ("200", "kw:台積電 top:3"), ("300", "")] {
        store
            .subscribe(&chat(c), &stock(), &support::filter_of(words), 0)
            .await
            .unwrap();
    }
    let sink = RecordingSink::new();
    let worker = Leaderboards::new(
        store.clone() as Arc<dyn Store>,
        &[Arc::new(sink.clone()) as Arc<dyn ChatSink>],
        vec![stock()],
        LeaderboardOptions {
            edit_every: EDIT_EVERY,
            round: Duration::from_secs(30),
            lang: Lang::En,
        },
    );
    Env {
        store,
        sink,
        worker,
        _dir: dir,
    }
}

impl Env {
    /// Keeps a post as the poller does for a leaderboard: its digest, its
    /// tally tracked.
    async fn keep(&self, d: &Digest, seen: i64) {
        self.store.accept_post(d, &[], seen).await.unwrap();
        let id = PostId::parse(&d.id).unwrap();
        self.store
            .track(&TrackStart {
                board: &stock(),
                id: &id,
                relayed: true,
                threshold: None,
                hot: false,
                marker: "",
                tally: Some(d.tally),
                now: seen,
                until_at: seen + 3 * 86_400,
                first_step_secs: 60,
            })
            .await
            .unwrap();
    }

    /// A re-count of a post's article found `net`, as the tracker records
    /// it.
    async fn recount(&self, d: &Digest, net: i64, now: i64) {
        let tracked = self.store.tracked_posts(&stock(), now).await.unwrap();
        let post = tracked.iter().find(|t| t.id.as_str() == d.id).unwrap();
        let counted = Digest {
            tally: tally(net),
            ..d.clone()
        };
        self.store
            .record_tally(post, &counted, now + 60, 60)
            .await
            .unwrap();
    }

    async fn round(&self, now: i64) -> RoundReport {
        self.worker.round(now).await.unwrap()
    }

    /// The ids of the posts a chat's last leaderboard message showed.
    fn shown(&self, c: &str) -> Vec<String> {
        self.sink
            .boards()
            .iter()
            .rev()
            .find(|b| b.dest.chat == c)
            .map(|b| b.board.posts.iter().map(|d| d.id.clone()).collect())
            .unwrap_or_default()
    }
}

fn report(posted: usize, edited: usize, finished: usize) -> RoundReport {
    RoundReport {
        posted,
        edited,
        finished,
    }
}

#[tokio::test]
async fn a_top_5_leaderboard_is_posted_once_a_day_edited_as_tallies_change_and_final_at_midnight() {
    let e = env().await;
    assert_eq!(
        e.round(at(DAY1, 8, 0)).await,
        report(0, 0, 0),
        "nothing yet"
    );

    let a = digest(at(DAY1, 9, 0), "[新聞] 台積電 A", 5);
    let b = digest(at(DAY1, 9, 10), "[新聞] 鴻海 B", 9);
    let c = digest(at(DAY1, 9, 20), "[新聞] 聯發科 C", 2);
    let d = digest(at(DAY1, 9, 30), "[新聞] 台積電 D", 7);
    let chat_post = digest(at(DAY1, 9, 40), "[閒聊] 盤中 E", 50);
    let yesterday = digest(at(DAY1, -1, 59), "[新聞] 昨天的 F", 99);
    let h = digest(at(DAY1, 9, 41), "[新聞] 小漲 H", 1);
    let sixth = digest(at(DAY1, 9, 42), "[新聞] 沒人看 I", 0);
    for p in [&a, &b, &c, &d, &chat_post, &yesterday, &h, &sixth] {
        e.keep(p, at(DAY1, 9, 50)).await;
    }
    // One message per top: subscription, with its own words' posts.
    assert_eq!(e.round(at(DAY1, 10, 0)).await, report(2, 0, 0));
    assert_eq!(
        e.shown("100"),
        [
            b.id.as_str(),
            d.id.as_str(),
            a.id.as_str(),
            c.id.as_str(),
            h.id.as_str()
        ]
    );
    assert_eq!(e.shown("200"), [d.id.as_str(), a.id.as_str()]);
    assert!(e.shown("300").is_empty(), "a plain subscription has none");
    let boards = e.sink.boards();
    assert!(boards.iter().all(|b| !b.edit));
    assert!(
        boards[0].board.heading.contains("Stock") && boards[0].board.heading.contains("2026-01-28"),
        "{}",
        boards[0].board.heading
    );
    assert!(e.sink.sent().is_empty(), "no single posts");
    assert_eq!(
        e.round(at(DAY1, 10, 1)).await,
        report(0, 0, 0),
        "nothing changed"
    );

    // C climbs to the top at 10:02: the edit waits for 10:05.
    e.recount(&c, 20, at(DAY1, 10, 2)).await;
    assert_eq!(e.round(at(DAY1, 10, 2)).await, report(0, 0, 0));
    // Another change meanwhile: one edit carries both.
    e.recount(&a, 8, at(DAY1, 10, 3)).await;
    assert_eq!(e.round(at(DAY1, 10, 4)).await, report(0, 0, 0));
    assert_eq!(e.round(at(DAY1, 10, 5)).await, report(0, 2, 0));
    assert_eq!(
        e.shown("100"),
        [
            c.id.as_str(),
            b.id.as_str(),
            a.id.as_str(),
            d.id.as_str(),
            h.id.as_str()
        ]
    );
    assert_eq!(e.shown("200"), [a.id.as_str(), d.id.as_str()]);
    let last = e.sink.boards().last().unwrap().clone();
    assert!(last.edit);
    let first_ids: Vec<String> = e.sink.boards()[..2]
        .iter()
        .map(|b| b.message_id.clone())
        .collect();
    assert!(
        first_ids.contains(&last.message_id),
        "edits the same message"
    );
    assert_eq!(e.round(at(DAY1, 10, 20)).await, report(0, 0, 0));

    // Midnight: both are made final; nothing qualifies for the new day yet.
    assert_eq!(e.round(at(DAY2, 0, 0)).await, report(0, 2, 2));
    for b in &e.sink.boards()[e.sink.boards().len() - 2..] {
        assert!(b.edit);
        assert!(b.board.heading.contains("(final)"), "{}", b.board.heading);
        assert!(
            b.board.heading.contains("2026-01-28"),
            "{}",
            b.board.heading
        );
    }
    assert_eq!(
        e.shown("100"),
        [
            c.id.as_str(),
            b.id.as_str(),
            a.id.as_str(),
            d.id.as_str(),
            h.id.as_str()
        ]
    );
    assert_eq!(e.round(at(DAY2, 0, 10)).await, report(0, 0, 0));

    // The new day's first post starts a new message.
    let g = digest(at(DAY2, 0, 15), "[新聞] 新的一天 G", 1);
    e.keep(&g, at(DAY2, 0, 15)).await;
    assert_eq!(e.round(at(DAY2, 0, 16)).await, report(1, 0, 0));
    let newest = e.sink.boards().last().unwrap().clone();
    assert!(!newest.edit);
    assert_eq!(newest.dest, chat("100"));
    assert!(!first_ids.contains(&newest.message_id), "a new message");
    assert_eq!(e.shown("100"), [g.id.as_str()]);
}

/// One chat with `top:3` on two boards: a message for each, each with
/// its board's posts.
#[tokio::test]
async fn a_chat_with_top_on_two_boards_gets_a_leaderboard_for_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .unwrap();
    let tech = Board::parse("Tech_Job").unwrap();
    for board in [stock(), tech.clone()] {
        store
            .subscribe(&chat("100"), &board, &support::filter_of("tag:* top:3"), 0)
            .await
            .unwrap();
    }
    let sink = RecordingSink::new();
    let worker = Leaderboards::new(
        store.clone() as Arc<dyn Store>,
        &[Arc::new(sink.clone()) as Arc<dyn ChatSink>],
        vec![stock(), tech],
        LeaderboardOptions::default(),
    );
    let on_stock = digest(at(DAY1, 9, 0), "[新聞] 股板", 5);
    let on_tech = Digest {
        board: "Tech_Job".into(),
        url: on_stock.url.replace("Stock", "Tech_Job"),
        id: "M.1769562000.A.001".into(),
        title: Some("[請益] 科技板".into()),
        ..on_stock.clone()
    };
    for d in [&on_stock, &on_tech] {
        store.accept_post(d, &[], at(DAY1, 9, 0)).await.unwrap();
    }
    assert_eq!(
        worker.round(at(DAY1, 10, 0)).await.unwrap(),
        report(2, 0, 0)
    );
    assert_eq!(
        worker.round(at(DAY1, 10, 30)).await.unwrap(),
        report(0, 0, 0)
    );
    let boards = sink.boards();
    let shown: Vec<(String, Vec<String>)> = boards
        .iter()
        .map(|b| {
            (
                b.board.name.clone(),
                b.board.posts.iter().map(|d| d.board.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("📊 Stock 2026-01-28".to_owned(), vec!["Stock".to_owned()]),
            (
                "📊 Tech_Job 2026-01-28".to_owned(),
                vec!["Tech_Job".to_owned()]
            ),
        ]
    );
    assert_ne!(boards[0].board.key, boards[1].board.key);
}

/// A leaderboard the platform refuses for good is not posted again every
/// round; one that failed for a while is; a chat that is gone is paused
/// and its final edit not tried again.
#[tokio::test]
async fn a_refused_leaderboard_is_left_for_the_day_a_failed_one_tried_again_a_gone_chat_paused() {
    let e = env().await;
    e.keep(
        &digest(at(DAY1, 9, 0), "[新聞] 台積電 A", 5),
        at(DAY1, 9, 0),
    )
    .await;
    *e.sink.fail_with.lock().unwrap() = Some(ptt_relay::chat::SendOutcome::Transient("503".into()));
    assert_eq!(e.round(at(DAY1, 10, 0)).await, report(0, 0, 0));
    *e.sink.fail_with.lock().unwrap() = None;
    assert_eq!(e.round(at(DAY1, 10, 1)).await, report(2, 0, 0));

    let e = env().await;
    e.keep(
        &digest(at(DAY1, 9, 0), "[新聞] 台積電 A", 5),
        at(DAY1, 9, 0),
    )
    .await;
    *e.sink.fail_with.lock().unwrap() = Some(ptt_relay::chat::SendOutcome::Rejected(
        "400 Bad Request: chat not found".into(),
    ));
    assert_eq!(e.round(at(DAY1, 10, 0)).await, report(0, 0, 0));
    *e.sink.fail_with.lock().unwrap() = None;
    assert_eq!(e.round(at(DAY1, 10, 1)).await, report(0, 0, 0));
    assert!(e.sink.boards().is_empty());
    // Nor at midnight: there is nothing to make final.
    assert_eq!(e.round(at(DAY2, 0, 0)).await, report(0, 0, 0));

    // A chat that removed the bot is paused, and its final edit is not
    // tried every round.
    let e = env().await;
    e.keep(
        &digest(at(DAY1, 9, 0), "[新聞] 台積電 A", 5),
        at(DAY1, 9, 0),
    )
    .await;
    assert_eq!(e.round(at(DAY1, 10, 0)).await, report(2, 0, 0));
    *e.sink.fail_with.lock().unwrap() = Some(ptt_relay::chat::SendOutcome::DestinationGone(
        "403 Forbidden: bot was kicked".into(),
    ));
    assert_eq!(e.round(at(DAY2, 0, 0)).await, report(0, 0, 2));
    assert_eq!(e.round(at(DAY2, 0, 1)).await, report(0, 0, 0));
    let subs = e.store.subscriptions_of(&chat("100")).await.unwrap();
    assert!(subs.iter().all(|s| s.paused), "{subs:?}");
}

const TOKEN: &str = "31337:LEADERBOARD-TEST-TOKEN";
const CHAT: i64 = 8002;

struct Live {
    ptt: FakePtt,
    tg: FakeTelegram,
    running: app::Running,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

/// The running app against the fake PTT and the fake Bot API (the real
/// teloxide client), with `words` subscribed in [`CHAT`], leaderboards
/// edited every second and these tally settings.
async fn live(words: &str, tally: TallyOptions) -> Live {
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
        retry_start: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        ..TelegramOptions::default()
    };
    let handler = Some(Arc::clone(&ctx.handler));
    let adapter = TelegramAdapter::with_options(&settings, ctx, options).unwrap();
    let running = app::start_with_store(
        &s,
        store,
        Extras {
            sinks: vec![adapter.sink()],
            tally: Some(tally),
            leaderboards: Some(LeaderboardOptions {
                edit_every: Duration::from_secs(1),
                round: Duration::from_millis(500),
                ..LeaderboardOptions::default()
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
        words,
    )
    .await;
    seeded(&running).await;
    Live {
        ptt,
        tg,
        running,
        shutdown,
        _dir: dir,
    }
}

impl Live {
    /// The leaderboard as the chat shows it now.
    fn shown(&self) -> String {
        let sent = self.tg.sent_to(CHAT);
        self.tg
            .edits()
            .last()
            .map(|e| e.visible.clone())
            .or_else(|| sent.first().map(|m| m.visible.clone()))
            .unwrap_or_default()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.running.stop().await;
    }
}

/// The running app: a `top:3` chat gets one message with the day's posts
/// linked, edited when a post gains pushes, and never a single post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_shows_the_leaderboard_and_edits_it_as_pushes_come_in() {
    let l = live(
        "Stock top:3",
        TallyOptions {
            window: Duration::from_secs(600),
            first_step: Duration::from_secs(2),
            max_step: Duration::from_secs(4),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        },
    )
    .await;
    let (ptt, tg) = (&l.ptt, &l.tg);
    let first = ptt.add_post("Stock", "[新聞] 台積電 <b>法說</b> & 展望", "reporter");
    let second = ptt.add_post("Stock", "[新聞] 鴻海營收", "reporter");
    ptt.add_post("Stock", "[閒聊] 今天盤勢", "someone");
    let url = |id: &str| format!("https://www.ptt.cc/bbs/Stock/{id}.html");
    let sent = tg.wait_sent(CHAT, 1, Duration::from_secs(30)).await;
    assert!(
        sent[0].visible.starts_with("📊 Stock"),
        "{}",
        sent[0].visible
    );
    assert_eq!(
        sent[0]
            .link_preview
            .as_ref()
            .map(|p| p["is_disabled"].clone()),
        Some(serde_json::json!(true)),
        "no preview of the first link"
    );
    wait_for("both posts on the board", || {
        let shown = l.shown();
        shown.contains("鴻海營收") && shown.contains("法說")
    })
    .await;

    // The second post gains 12 pushes: it leads after the next edit.
    ptt.add_pushes("Stock", &second, &["推"; 12]);
    wait_for("the edit with the new leader", || {
        l.shown()
            .lines()
            .nth(1)
            .is_some_and(|line| line.starts_with("1. 推 12") && line.contains("鴻海營收"))
    })
    .await;
    let edits = tg.edits();
    let last = edits.last().unwrap();
    assert_eq!(last.message_id, sent[0].message_id, "the same message");
    assert!(
        last.visible
            .contains("2. 推 0 噓 0 → 0 (+0) [新聞] 台積電 <b>法說</b> & 展望"),
        "PTT text shown as written: {}",
        last.visible
    );
    assert!(!last.visible.contains("今天盤勢"), "another tag");
    assert!(
        last.text
            .contains(&format!("<a href=\"{}\">", url(&second)))
    );
    assert!(last.text.contains(&format!("<a href=\"{}\">", url(&first))));
    // Only the leaderboard reached the chat.
    assert_eq!(tg.sent_to(CHAT).len(), 1, "{:#?}", tg.sent_to(CHAT));
    assert_eq!(tg.answered_429(), 0);
    l.stop().await;
}

/// Two posts past 100 net pushes both show `爆` on the index, which no
/// longer tells their order: the leaderboard still ranks them by their
/// articles' counts, re-read while they stand at `爆` (the tracking
/// schedule is far too slow here to do it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_at_boom_are_ranked_by_their_counts_while_the_marker_stands_still() {
    let l = live(
        "Stock top:3",
        TallyOptions {
            window: Duration::from_secs(3600),
            first_step: Duration::from_secs(1800),
            max_step: Duration::from_secs(1800),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(1),
        },
    )
    .await;
    let ptt = &l.ptt;
    let a = ptt.add_post("Stock", "[新聞] 甲", "reporter");
    let b = ptt.add_post("Stock", "[新聞] 乙", "reporter");
    wait_for("the leaderboard", || l.shown().contains("乙")).await;
    ptt.add_pushes("Stock", &a, &["推"; 110]);
    ptt.add_pushes("Stock", &b, &["推"; 120]);
    wait_for("乙 leading at 120", || {
        l.shown()
            .lines()
            .nth(1)
            .is_some_and(|line| line.starts_with("1. 推 120") && line.contains("乙"))
    })
    .await;
    // 甲 climbs to 140; its marker stays 爆.
    ptt.add_pushes("Stock", &a, &["推"; 30]);
    wait_for("甲 leading at 140", || {
        l.shown()
            .lines()
            .nth(1)
            .is_some_and(|line| line.starts_with("1. 推 140") && line.contains("甲"))
    })
    .await;
    l.stop().await;
}
