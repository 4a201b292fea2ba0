//! `/top [BOARD] [N]` (DESIGN.md, "Commands"): today's (+08:00) posts
//! matching the chat's subscriptions, ranked by net push, through the
//! platform-neutral handler on a real SQLite store; the reply fits
//! Telegram's 4096 and Discord's 2000 characters.

use std::sync::Arc;

use chrono::TimeZone;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::commands::i18n::{EN, ZH_TW};
use ptt_relay::commands::{Context, Handler, Lang, Reply, ReplyKind, parse};
use ptt_relay::dest::Destination;
use ptt_relay::digest::Digest;
use ptt_relay::filter::Filter;
use ptt_relay::ptt::time::taipei;
use ptt_relay::ptt::{Board, Tally, TitleInfo};
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::telemetry::status::RuntimeStatus;
use tempfile::TempDir;

struct Env {
    handler: Handler,
    store: Arc<SqliteStore>,
    _dir: TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .unwrap();
    let boards = vec![
        Board::parse("Stock").unwrap(),
        Board::parse("Tech_Job").unwrap(),
    ];
    let status = Arc::new(RuntimeStatus::new("this instance"));
    let handler = Handler::new(store.clone() as Arc<dyn Store>, boards, status);
    Env {
        handler,
        store,
        _dir: dir,
    }
}

fn ctx(chat: &str, max_reply_chars: usize) -> Context {
    Context {
        dest: Destination::chat(TELEGRAM, chat),
        is_admin: false,
        lang: Lang::En,
        max_reply_chars,
    }
}

impl Env {
    async fn send(&self, ctx: &Context, text: &str) -> Reply {
        let parsed = parse(text, None).transpose().expect("a command");
        self.handler.handle(ctx, parsed).await
    }

    async fn subscribe(&self, chat: &str, board: &str, words: &str) {
        let filter = Filter::parse_str(words).unwrap();
        self.store
            .subscribe(
                &Destination::chat(TELEGRAM, chat),
                &Board::parse(board).unwrap(),
                &filter,
                0,
            )
            .await
            .unwrap();
    }

    /// Keeps a digest as the poller does, first seen at `seen`.
    async fn keep(&self, d: &Digest, seen: i64) {
        self.store.accept_post(d, &[], seen).await.unwrap();
    }
}

/// The start of the current +08:00 day.
fn today() -> i64 {
    let now = taipei()
        .timestamp_opt(chrono::Utc::now().timestamp(), 0)
        .unwrap();
    let midnight = now.date_naive().and_hms_opt(0, 0, 0).unwrap();
    taipei().from_local_datetime(&midnight).unwrap().timestamp()
}

/// A digest of a post created at `epoch` (also its `posted_at`, unless
/// `None` is asked for) with this net push.
fn digest(board: &str, epoch: i64, title: &str, net: i64, posted: bool) -> Digest {
    let id = format!("M.{epoch}.A.{:03X}", epoch % 0xFFF);
    let info = TitleInfo::parse(title);
    let push = u32::try_from(net.max(0)).unwrap();
    let boo = u32::try_from((-net).max(0)).unwrap();
    Digest {
        board: board.to_owned(),
        url: format!("https://www.ptt.cc/bbs/{board}/{id}.html"),
        id,
        title: Some(title.to_owned()),
        tag: info.tag,
        is_reply: info.is_reply,
        is_forward: info.is_forward,
        author: Some("reporter".into()),
        posted_at: posted.then(|| taipei().timestamp_opt(epoch, 0).unwrap()),
        original_title: None,
        source_url: None,
        published: None,
        reporter: None,
        excerpt: None,
        stocks: Vec::new(),
        hot: None,
        tally: Tally {
            push,
            boo,
            neutral: 1,
            net,
            total: push + boo + 1,
        },
    }
}

/// The post ids a reply ranks, in order.
fn ranked(reply: &Reply) -> Vec<String> {
    reply
        .text
        .lines()
        .filter_map(|l| l.rsplit_once('/'))
        .map(|(_, file)| file.trim_end_matches(".html").to_owned())
        .collect()
}

#[tokio::test]
async fn top_ranks_todays_matching_posts_by_net_push_earlier_first_on_ties() {
    let env = env().await;
    env.subscribe("1", "Stock", "kw:台積電").await;
    env.subscribe("1", "Tech_Job", "tag:*").await;
    let day = today();
    let a = digest("Stock", day + 60, "[新聞] 台積電ADR大漲", 50, true);
    let b = digest("Stock", day + 120, "[新聞] 台積電法說會", 5, true);
    let tie = digest("Stock", day + 180, "[新聞] 台積電擴產", 50, true);
    let other = digest("Stock", day + 240, "[新聞] 聯發科新品", 99, true);
    let yesterday = digest("Stock", day - 60, "[新聞] 台積電昨天的新聞", 200, true);
    // No 時間 line: the day it was first seen counts.
    let unposted = digest("Stock", day - 3600, "[新聞] 台積電沒有時間", 7, false);
    let job = digest("Tech_Job", day + 300, "[徵才] Rust 工程師", 12, true);
    let elsewhere = digest("Gossiping", day + 360, "[新聞] 台積電八卦", 80, true);
    for (d, seen) in [
        (&a, day + 61),
        (&b, day + 121),
        (&tie, day + 181),
        (&other, day + 241),
        (&yesterday, day - 59),
        (&unposted, day + 30),
        (&job, day + 301),
        (&elsewhere, day + 361),
    ] {
        env.keep(d, seen).await;
    }
    let r = env.send(&ctx("1", 4096), "/top").await;
    assert_eq!(r.kind, ReplyKind::Info, "{r:?}");
    assert_eq!(
        ranked(&r),
        [&a.id, &tie.id, &job.id, &unposted.id, &b.id].map(String::clone),
        "{}",
        r.text
    );
    let lines: Vec<&str> = r.text.lines().collect();
    assert!(lines[0].starts_with("Today's top posts ("), "{}", r.text);
    assert_eq!(
        lines[1],
        format!("1. 推 50 噓 0 → 1 (+50) [新聞] 台積電ADR大漲 {}", a.url)
    );
    // A board, a count, both.
    let r = env.send(&ctx("1", 4096), "/top stock 3").await;
    assert_eq!(
        ranked(&r),
        [&a.id, &tie.id, &unposted.id].map(String::clone)
    );
    let r = env.send(&ctx("1", 4096), "/top Tech_Job").await;
    assert_eq!(ranked(&r), std::slice::from_ref(&job.id));
    // Nothing matches today in another chat; a zh-TW one says so in zh-TW.
    let zh = Context {
        lang: Lang::ZhTw,
        ..ctx("2", 4096)
    };
    assert_eq!(env.send(&zh, "/top").await.text, ZH_TW.top_empty);
}

#[tokio::test]
async fn top_refuses_a_bad_count_or_an_unpolled_board_with_its_usage() {
    let env = env().await;
    for bad in ["/top 2", "/top 21", "/top Stock 0", "/top 5 Stock"] {
        let r = env.send(&ctx("1", 4096), bad).await;
        assert_eq!(r.kind, ReplyKind::Error, "{bad}: {r:?}");
        assert!(r.text.contains(EN.usage_top), "{bad}: {}", r.text);
    }
    let r = env.send(&ctx("1", 4096), "/top 2").await;
    assert!(
        r.text.contains("\"2\" is not a number from 3 to 20"),
        "{}",
        r.text
    );
    let r = env.send(&ctx("1", 4096), "/top Gossiping").await;
    assert_eq!(
        r.text,
        "Board Gossiping is not relayed. Boards you can subscribe to: Stock, Tech_Job"
    );
}

#[tokio::test]
async fn a_top_20_of_long_titles_fits_telegrams_4096_and_discords_2000_characters() {
    let env = env().await;
    env.subscribe("1", "Stock", "tag:*").await;
    let day = today();
    for i in 0..25 {
        let title = format!("[新聞] {i:02} {}", "很長的標題@everyone<b>".repeat(10));
        env.keep(
            &digest("Stock", day + 60 * i, &title, 100 - i, true),
            day + 60 * i,
        )
        .await;
    }
    for limit in [4096, 2000] {
        let r = env.send(&ctx("1", limit), "/top 20").await;
        let chars = r.text.chars().count();
        assert!(chars <= limit, "{chars} > {limit}");
        let shown = ranked(&r).len();
        if shown < 20 {
            let last = r.text.lines().last().unwrap();
            assert_eq!(last, format!("…and {} more", 20 - shown), "{limit}");
        }
        if limit == 2000 {
            assert!((5..20).contains(&shown), "{shown} lines in 2000 characters");
        }
        // Every listed URL is whole.
        for line in r.text.lines().skip(1).take(shown) {
            assert!(line.ends_with(".html"), "{line}");
        }
    }
}
