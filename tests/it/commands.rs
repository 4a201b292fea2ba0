//! Chat commands through the platform-neutral handler on a real SQLite store:
//! what a user sees in the reply and what the store holds afterwards
//! (DESIGN.md, "Commands (same words on every platform)").

use crate::support::board_of;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone};
use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::commands::i18n::{EN, Texts, ZH_TW, fill};
use ptt_relay::commands::{Admission, Context, Handler, Lang, Reply, ReplyKind, parse};
use ptt_relay::dest::Destination;
use ptt_relay::digest::Digest;
use ptt_relay::ptt::time::taipei;
use ptt_relay::ptt::{Board, Tally, TitleInfo};
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::store::{Store, Subscription};
use ptt_relay::telemetry::status::RuntimeStatus;
use tempfile::TempDir;

const BOT: &str = "ptt_relay_bot";
/// 2026-01-28 13:25:59 +08:00.
const BASE: i64 = 1_769_577_959;

struct Env {
    handler: Handler,
    store: Arc<SqliteStore>,
    status: Arc<RuntimeStatus>,
    _dir: TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .expect("open the store");
    let status = Arc::new(RuntimeStatus::new("this instance"));
    let boards = vec![
        Board::parse("Stock").expect("board"),
        Board::parse("Tech_Job").expect("board"),
    ];
    let handler = Handler::new(store.clone() as Arc<dyn Store>, boards, status.clone());
    Env {
        handler,
        store,
        status,
        _dir: dir,
    }
}

fn dest(chat: &str) -> Destination {
    Destination::chat(TELEGRAM, chat)
}

/// An administrator of `chat`, English replies, a roomy reply limit.
fn admin(chat: &str) -> Context {
    Context {
        dest: dest(chat),
        is_admin: true,
        lang: Lang::En,
        max_reply_chars: 4096,
    }
}

fn member(chat: &str) -> Context {
    Context {
        is_admin: false,
        ..admin(chat)
    }
}

fn with_lang(ctx: Context, lang: Lang) -> Context {
    Context { lang, ..ctx }
}

fn with_max(ctx: Context, max_reply_chars: usize) -> Context {
    Context {
        max_reply_chars,
        ..ctx
    }
}

impl Env {
    /// Parses `text` as the chat would send it and handles it.
    async fn send(&self, ctx: &Context, text: &str) -> Reply {
        let parsed = parse(text, Some(BOT))
            .transpose()
            .unwrap_or_else(|| panic!("{text:?} was ignored"));
        self.handler.handle(ctx, parsed).await
    }

    /// As an adapter does: counts the command against its chat's rate
    /// limit, then handles it; `None` when it is ignored.
    async fn command(&self, ctx: &Context, text: &str) -> Option<Reply> {
        match self.handler.admit(&ctx.dest) {
            Admission::Answer => Some(self.send(ctx, text).await),
            Admission::SlowDown => Some(Reply::slow_down(ctx.lang)),
            Admission::Ignore => None,
        }
    }

    /// Sends and expects a confirmation.
    async fn done(&self, ctx: &Context, text: &str) -> Reply {
        let r = self.send(ctx, text).await;
        assert_eq!(r.kind, ReplyKind::Done, "{text:?} got {r:?}");
        r
    }

    async fn subs(&self, chat: &str) -> Vec<Subscription> {
        self.store
            .subscriptions_of(&dest(chat))
            .await
            .expect("subscriptions_of")
    }

    /// `(id, board, filter)` of a chat's subscriptions.
    async fn rows(&self, chat: &str) -> Vec<(i64, String, String)> {
        self.subs(chat)
            .await
            .into_iter()
            .map(|s| (s.id, s.board.to_string(), s.filter.canonical()))
            .collect()
    }

    async fn keep(&self, d: &Digest) {
        self.store
            .accept_post(d, &[], d.posted_at.expect("posted_at").timestamp())
            .await
            .expect("accept_post");
    }
}

fn row(id: i64, board: &str, filter: &str) -> (i64, String, String) {
    (id, board.to_owned(), filter.to_owned())
}

fn at(epoch: i64) -> DateTime<FixedOffset> {
    taipei().timestamp_opt(epoch, 0).single().expect("time")
}

/// A digest built by hand; the id's epoch is `epoch` (the store orders by it).
fn digest(board: &str, epoch: i64, title: &str, author: &str, net: i64) -> Digest {
    let id = format!("M.{epoch}.A.{:03X}", epoch % 0xFFF);
    let info = TitleInfo::parse(title);
    let push = u32::try_from(net.max(0)).expect("push");
    let boo = u32::try_from((-net).max(0)).expect("boo");
    Digest {
        board: board.to_owned(),
        url: format!("https://www.ptt.cc/bbs/{board}/{id}.html"),
        id,
        title: Some(title.to_owned()),
        tag: info.tag,
        is_reply: info.is_reply,
        is_forward: info.is_forward,
        author: Some(author.to_owned()),
        posted_at: Some(at(epoch)),
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
            neutral: 2,
            net,
            total: push + boo + 2,
        },
    }
}

/// The post ids a `/latest` reply lists, in order.
fn listed(reply: &Reply) -> Vec<String> {
    reply
        .text
        .lines()
        .filter_map(|l| l.split_once("https://www.ptt.cc/bbs/"))
        .map(|(_, path)| {
            let file = path.rsplit('/').next().expect("file");
            file.trim_end_matches(".html").to_owned()
        })
        .collect()
}

fn ids(ds: &[&Digest]) -> Vec<String> {
    ds.iter().map(|d| d.id.clone()).collect()
}

/// Asserts a refusal that leaves the chat's subscriptions as they were.
async fn assert_refused_unchanged(env: &Env, ctx: &Context, text: &str) -> Reply {
    let chat = ctx.dest.chat.clone();
    let before = env.rows(&chat).await;
    let r = env.send(ctx, text).await;
    assert_eq!(r.kind, ReplyKind::Error, "{text:?} got {r:?}");
    assert_eq!(env.rows(&chat).await, before, "{text:?} changed the store");
    r
}

// ---------------------------------------------------------------- /subscribe

#[tokio::test]
async fn subscribe_without_a_board_uses_the_first_polled_board() {
    let env = env().await;
    let r = env.done(&admin("1"), "/subscribe").await;
    assert_eq!(r.text, "Subscribed #1: Stock tag:新聞");
    assert!(!r.ephemeral(), "a confirmation is shown to everyone");
    assert_eq!(env.rows("1").await, vec![row(1, "Stock", "tag:新聞")]);
    let s = &env.subs("1").await[0];
    assert_eq!(s.dest, dest("1"));
    assert!(!s.paused);
}

#[tokio::test]
async fn subscribe_matches_the_board_case_insensitively_and_stores_ptts_spelling() {
    let env = env().await;
    let ctx = admin("1");
    let r = env.done(&ctx, "/subscribe stock kw:台積電").await;
    assert_eq!(r.text, "Subscribed #1: Stock tag:新聞 kw:台積電");
    let r = env.done(&ctx, "/subscribe TECH_JOB").await;
    assert_eq!(r.text, "Subscribed #2: Tech_Job tag:新聞");
    // Full-width letters are the same board after NFKC.
    let r = env.done(&ctx, "/subscribe Ｓｔｏｃｋ kw:台積電").await;
    assert_eq!(r.text, "Already subscribed #1: Stock tag:新聞 kw:台積電");
    assert_eq!(
        env.rows("1").await,
        vec![
            row(1, "Stock", "tag:新聞 kw:台積電"),
            row(2, "Tech_Job", "tag:新聞"),
        ]
    );
}

#[tokio::test]
async fn every_filter_word_is_stored_in_canonical_form() {
    let env = env().await;
    let ctx = admin("1");
    let cases = [
        ("tag:閒聊", "Stock", "tag:閒聊"),
        ("tag:[標的]", "Stock", "tag:標的"),
        ("tag:*", "Stock", "tag:*"),
        ("kw:台積電 kw:ADR", "Stock", "tag:新聞 kw:adr kw:台積電"),
        ("not:盤中 not:閒聊", "Stock", "tag:新聞 not:盤中 not:閒聊"),
        ("author:SomeID", "Stock", "tag:新聞 author:someid"),
        ("push:1", "Stock", "tag:新聞 push:1"),
        ("push:999", "Stock", "tag:新聞 push:999"),
        ("re:yes", "Stock", "tag:新聞 re:yes"),
        ("fw:yes", "Stock", "tag:新聞 fw:yes"),
        ("kw:\"台積電 ADR\"", "Stock", "tag:新聞 kw:\"台積電 adr\""),
        (
            "Tech_Job fw:yes re:yes push:5 author:Boss not:實習 kw:Rust tag:*",
            "Tech_Job",
            "tag:* kw:rust not:實習 author:boss push:5 re:yes fw:yes",
        ),
    ];
    let mut want = Vec::new();
    for (i, (words, board, canonical)) in cases.iter().enumerate() {
        let id = i as i64 + 1;
        let r = env.done(&ctx, &format!("/subscribe {words}")).await;
        assert_eq!(
            r.text,
            format!("Subscribed #{id}: {board} {canonical}"),
            "{words}"
        );
        want.push(row(id, board, canonical));
    }
    assert_eq!(env.rows("1").await, want);
}

#[tokio::test]
async fn the_same_subscription_twice_answers_with_the_existing_id() {
    let env = env().await;
    let ctx = admin("1");
    env.done(&ctx, "/subscribe kw:台積電").await;
    let r = env.done(&ctx, "/subscribe kw:台積電").await;
    assert_eq!(r.text, "Already subscribed #1: Stock tag:新聞 kw:台積電");
    assert_eq!(
        env.rows("1").await,
        vec![row(1, "Stock", "tag:新聞 kw:台積電")]
    );
}

#[tokio::test]
async fn equivalent_filters_are_one_subscription() {
    let env = env().await;
    let ctx = admin("1");
    env.done(&ctx, "/subscribe kw:ai kw:台積電").await;
    for same in [
        "/subscribe kw:ＡＩ kw:台積電",
        "/subscribe Stock kw:台積電 KW:AI",
        "/subscribe stock tag:新聞 kw:ai kw:ai kw:台積電 re:no fw:no",
        "／subscribe　kw：ＡＩ　kw：台積電",
        "/SUBSCRIBE@ptt_relay_bot kw:“AI” kw:「台積電」",
    ] {
        let r = env.done(&ctx, same).await;
        assert_eq!(
            r.text, "Already subscribed #1: Stock tag:新聞 kw:ai kw:台積電",
            "{same}"
        );
    }
    assert_eq!(
        env.rows("1").await,
        vec![row(1, "Stock", "tag:新聞 kw:ai kw:台積電")]
    );
    // The defaults spelled out are the default subscription.
    env.done(&ctx, "/subscribe").await;
    let r = env.done(&ctx, "/subscribe tag:新聞 re:no fw:no").await;
    assert_eq!(r.text, "Already subscribed #2: Stock tag:新聞");
    assert_eq!(env.subs("1").await.len(), 2);
}

#[tokio::test]
async fn a_board_that_is_not_polled_is_refused_with_the_polled_boards() {
    let env = env().await;
    let ctx = admin("1");
    for text in ["/subscribe Gossiping", "/subscribe Gossiping kw:台積電"] {
        let r = assert_refused_unchanged(&env, &ctx, text).await;
        assert_eq!(
            r.text,
            "Board Gossiping is not relayed. Boards you can subscribe to: Stock, Tech_Job"
        );
    }
    assert!(env.subs("1").await.is_empty());
}

#[tokio::test]
async fn push_takes_1_to_999() {
    let env = env().await;
    let ctx = admin("1");
    for bad in ["push:0", "push:1000", "push:-1", "push:many", "push:"] {
        let r = assert_refused_unchanged(&env, &ctx, &format!("/subscribe {bad}")).await;
        let value = bad.trim_start_matches("push:");
        assert!(
            r.text.contains(&format!("push: \"{value}\"")),
            "{bad}: {}",
            r.text
        );
        assert!(r.text.contains(EN.usage_subscribe), "{bad}: {}", r.text);
    }
    env.done(&ctx, "/subscribe push:1").await;
    env.done(&ctx, "/subscribe push:999").await;
    assert_eq!(
        env.rows("1").await,
        vec![
            row(1, "Stock", "tag:新聞 push:1"),
            row(2, "Stock", "tag:新聞 push:999"),
        ]
    );
}

#[tokio::test]
async fn hot_takes_a_rise_of_1_to_999_within_1_to_60_minutes() {
    let env = env().await;
    let ctx = admin("1");
    for bad in [
        "hot:0/10",
        "hot:1000/10",
        "hot:20/0",
        "hot:20/61",
        "hot:20",
        "hot:fast",
    ] {
        let r = assert_refused_unchanged(&env, &ctx, &format!("/subscribe {bad}")).await;
        let value = bad.trim_start_matches("hot:");
        assert!(
            r.text.contains(&format!("hot: \"{value}\"")),
            "{bad}: {}",
            r.text
        );
        assert!(r.text.contains("hot:N/M"), "{bad}: {}", r.text);
    }
    env.done(&ctx, "/subscribe hot:1/1 kw:台積電").await;
    env.done(&ctx, "/subscribe hot:999/60").await;
    assert_eq!(
        env.rows("1").await,
        vec![
            row(1, "Stock", "tag:新聞 kw:台積電 hot:1/1"),
            row(2, "Stock", "tag:新聞 hot:999/60"),
        ]
    );
}

#[tokio::test]
async fn yes_no_words_and_single_keys_are_checked() {
    let env = env().await;
    let ctx = admin("1");
    for (text, what) in [
        ("/subscribe re:maybe", "bad value for re: \"maybe\""),
        ("/subscribe fw:sometimes", "bad value for fw: \"sometimes\""),
        ("/subscribe tag:a tag:b", "tag: may appear only once"),
        (
            "/subscribe author:a author:b",
            "author: may appear only once",
        ),
        ("/subscribe push:3 push:4", "push: may appear only once"),
        ("/subscribe kw:", "bad value for kw"),
        ("/subscribe not:\"\"", "bad value for not"),
        ("/subscribe author:\"two words\"", "bad value for author"),
    ] {
        let r = assert_refused_unchanged(&env, &ctx, text).await;
        assert!(r.text.contains(what), "{text}: {}", r.text);
        assert!(r.text.contains(EN.usage_subscribe), "{text}: {}", r.text);
    }
    assert!(env.subs("1").await.is_empty());
}

#[tokio::test]
async fn stock_and_sector_words_are_stored_as_code_and_group_and_unknown_ones_get_the_closest() {
    let env = env().await;
    let ctx = admin("1");
    env.done(&ctx, "/subscribe stock:台積電 sector:半導體業")
        .await;
    assert_eq!(
        env.rows("1").await,
        vec![(
            1,
            "Stock".into(),
            "tag:新聞 stock:2330 sector:半導體業".into()
        )]
    );
    let r = env.send(&ctx, "/subscribe stock:2330").await;
    assert_eq!(r.kind, ReplyKind::Done, "{r:?}");
    for (text, closest) in [
        ("/subscribe stock:台積", "2330 台積電"),
        ("/subscribe sector:半導體", "半導體業"),
    ] {
        let r = assert_refused_unchanged(&env, &ctx, text).await;
        assert!(r.text.contains("closest: "), "{text}: {}", r.text);
        assert!(r.text.contains(closest), "{text}: {}", r.text);
    }
    let zh = Context {
        lang: Lang::ZhTw,
        ..admin("1")
    };
    let r = assert_refused_unchanged(&env, &zh, "/subscribe stock:9999x").await;
    assert!(r.text.contains("最接近的："), "{}", r.text);
}

// -------------------------------------------------------------- /unsubscribe

async fn three_subscriptions(env: &Env, ctx: &Context) {
    env.done(ctx, "/subscribe").await;
    env.done(ctx, "/subscribe kw:台積電").await;
    env.done(ctx, "/subscribe Tech_Job").await;
}

#[tokio::test]
async fn unsubscribe_by_id() {
    let env = env().await;
    let ctx = admin("1");
    three_subscriptions(&env, &ctx).await;
    let r = env.done(&ctx, "/unsubscribe 2").await;
    assert_eq!(r.text, "Removed 1 subscription(s).");
    assert_eq!(
        env.rows("1").await,
        vec![row(1, "Stock", "tag:新聞"), row(3, "Tech_Job", "tag:新聞")]
    );
    env.done(&ctx, "/unsubscribe #3").await;
    assert_eq!(env.rows("1").await, vec![row(1, "Stock", "tag:新聞")]);
}

#[tokio::test]
async fn unsubscribe_by_board_is_case_insensitive() {
    let env = env().await;
    let ctx = admin("1");
    three_subscriptions(&env, &ctx).await;
    let r = env.done(&ctx, "/unsubscribe stock").await;
    assert_eq!(r.text, "Removed 2 subscription(s).");
    assert_eq!(env.rows("1").await, vec![row(3, "Tech_Job", "tag:新聞")]);
    let r = assert_refused_unchanged(&env, &ctx, "/unsubscribe Stock").await;
    assert_eq!(r.text, EN.nothing_to_unsubscribe);
}

#[tokio::test]
async fn unsubscribe_all_empties_only_this_chat() {
    let env = env().await;
    three_subscriptions(&env, &admin("1")).await;
    env.done(&admin("2"), "/subscribe").await;
    let r = env.done(&admin("1"), "/unsubscribe ALL").await;
    assert_eq!(r.text, "Removed 3 subscription(s).");
    assert!(env.subs("1").await.is_empty());
    assert_eq!(env.rows("2").await, vec![row(1, "Stock", "tag:新聞")]);
    let r = env.send(&admin("1"), "/unsubscribe all").await;
    assert_eq!(r.kind, ReplyKind::Error);
    assert_eq!(r.text, EN.nothing_to_unsubscribe);
}

#[tokio::test]
async fn an_unknown_id_removes_nothing_and_says_so() {
    let env = env().await;
    let ctx = admin("1");
    three_subscriptions(&env, &ctx).await;
    // Chat 2 has ids 1 and 2; its #2 is not chat 1's business.
    env.done(&admin("2"), "/subscribe").await;
    env.done(&admin("2"), "/subscribe Tech_Job").await;
    env.done(&ctx, "/unsubscribe 2").await;
    for text in ["/unsubscribe 2", "/unsubscribe 42", "/unsubscribe #0"] {
        let r = assert_refused_unchanged(&env, &ctx, text).await;
        assert_eq!(
            r.text, "No matching subscription. /list shows the ids.",
            "{text}"
        );
    }
    assert_eq!(env.subs("1").await.len(), 2);
    assert_eq!(env.subs("2").await.len(), 2);
}

// -------------------------------------------------------------------- /list

#[tokio::test]
async fn list_shows_one_line_per_subscription() {
    let env = env().await;
    let ctx = admin("1");
    let r = env.send(&ctx, "/list").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(r.text, "No subscriptions yet. Use /subscribe to start.");
    env.done(&ctx, "/subscribe").await;
    env.done(&ctx, "/subscribe tech_job tag:* kw:\"Rust 工程師\" push:10")
        .await;
    let r = env.send(&ctx, "/list").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert!(r.ephemeral());
    assert_eq!(
        r.text,
        "Subscriptions of this chat:\n\
         #1 Stock tag:新聞\n\
         #2 Tech_Job tag:* kw:\"rust 工程師\" push:10"
    );
    // Another chat sees none of them.
    let r = env.send(&admin("2"), "/list").await;
    assert_eq!(r.text, EN.list_empty);
}

#[tokio::test]
async fn a_long_list_is_cut_to_fit_with_and_more() {
    let env = env().await;
    let ctx = admin("1");
    for i in 1..=12 {
        env.done(&ctx, &format!("/subscribe kw:關鍵字{i:02}")).await;
    }
    let r = env.send(&with_max(admin("1"), 200), "/list").await;
    assert!(
        r.text.chars().count() <= 200,
        "{} chars",
        r.text.chars().count()
    );
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(lines[0], EN.list_heading);
    let shown = &lines[1..lines.len() - 1];
    assert!(!shown.is_empty());
    for (i, line) in shown.iter().enumerate() {
        assert_eq!(
            *line,
            format!("#{} Stock tag:新聞 kw:關鍵字{:02}", i + 1, i + 1)
        );
    }
    assert_eq!(
        lines[lines.len() - 1],
        format!("…and {} more", 12 - shown.len())
    );
}

// ------------------------------------------------------------------ /latest

/// Posts covering every filter word; `(label, digest)`, oldest first.
fn posts() -> Vec<(&'static str, Digest)> {
    let e = |n: i64| BASE + 60 * n;
    vec![
        (
            "A",
            digest("Stock", e(1), "[新聞] 台積電ADR大漲", "Reporter1", 50),
        ),
        (
            "B",
            digest("Stock", e(2), "[新聞] 台積電法說會", "reporter2", 5),
        ),
        (
            "C",
            digest("Stock", e(3), "[閒聊] 台積電ADR 盤中", "Chatter", 0),
        ),
        (
            "D",
            digest("Stock", e(4), "Re: [新聞] 台積電ADR大漲", "Replier", 12),
        ),
        (
            "E",
            digest("Stock", e(5), "Fw: [新聞] 聯發科 AI 晶片", "Fwder", 3),
        ),
        (
            "F",
            digest("Stock", e(6), "[新聞] 輝達ＡＩ伺服器", "Reporter1", 100),
        ),
        ("G", digest("Stock", e(7), "沒有標籤的文章", "Someone", 1)),
        (
            "H",
            digest("Stock", e(8), "[新聞] 台積電 ADR 收漲", "Reporter3", -4),
        ),
        (
            "J",
            digest("Tech_Job", e(9), "[新聞] 台積電徵才", "Reporter1", 20),
        ),
        (
            "K",
            digest("Gossiping", e(10), "[新聞] 台積電八卦", "Reporter1", 9),
        ),
    ]
}

async fn keep_posts(env: &Env) -> Vec<(&'static str, Digest)> {
    let posts = posts();
    // Stored out of order: /latest orders by the post, not by arrival.
    for i in [4, 0, 9, 2, 7, 1, 8, 5, 3, 6] {
        env.keep(&posts[i].1).await;
    }
    posts
}

fn labels_of(posts: &[(&'static str, Digest)], reply: &Reply) -> String {
    listed(reply)
        .iter()
        .map(|id| {
            posts
                .iter()
                .find(|(_, d)| &d.id == id)
                .map_or("?", |(l, _)| *l)
        })
        .collect()
}

#[tokio::test]
async fn latest_honours_every_filter_word() {
    let env = env().await;
    let posts = keep_posts(&env).await;
    let cases = [
        ("", "HFBA"),
        ("tag:閒聊", "C"),
        ("tag:［閒聊］", "C"),
        ("tag:*", "HGFCBA"),
        ("tag:* re:yes fw:yes", "HGFEDCBA"),
        ("kw:台積電", "HBA"),
        ("kw:台積電 kw:adr", "HA"),
        ("kw:\"台積電 ADR\"", "H"),
        ("tag:* kw:台積電 kw:ADR", "HCA"),
        ("not:adr", "FB"),
        ("not:ADR not:法說", "F"),
        ("author:REPORTER1", "FA"),
        ("author:reporter2", "B"),
        ("push:50", "FA"),
        ("push:51", "F"),
        ("re:yes", "HFDBA"),
        ("fw:yes", "HFEBA"),
        ("re:no fw:no", "HFBA"),
        ("kw:ai", "F"),
        ("kw:ＡＩ fw:yes", "FE"),
        ("Tech_Job", "J"),
        ("tech_job kw:徵才", "J"),
    ];
    for (i, (words, want)) in cases.iter().enumerate() {
        let chat = format!("matrix-{i}");
        env.done(&admin(&chat), &format!("/subscribe {words}"))
            .await;
        let r = env.send(&admin(&chat), "/latest 20").await;
        assert_eq!(r.kind, ReplyKind::Info, "{words}: {r:?}");
        assert_eq!(
            labels_of(&posts, &r),
            *want,
            "/subscribe {words} → {}",
            r.text
        );
    }
    let r = {
        env.done(&admin("none"), "/subscribe Tech_Job kw:adr").await;
        env.send(&admin("none"), "/latest").await
    };
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(r.text, "No posts matching this chat's subscriptions yet.");
}

#[tokio::test]
async fn latest_lists_the_union_of_the_chats_subscriptions_newest_first() {
    let env = env().await;
    let posts = keep_posts(&env).await;
    let ctx = admin("1");
    env.done(&ctx, "/subscribe tag:閒聊").await;
    env.done(&ctx, "/subscribe Tech_Job").await;
    env.done(&ctx, "/subscribe author:reporter1").await;
    let r = env.send(&ctx, "/latest").await;
    assert_eq!(labels_of(&posts, &r), "JFCA");
    // One line per post: `MM-DD HH:MM title url`, in Taipei time.
    let j = &posts[8].1;
    assert_eq!(
        r.text.lines().next(),
        Some(format!("01-28 13:34 [新聞] 台積電徵才 {}", j.url).as_str())
    );
    // Another chat's subscriptions do not leak in.
    env.done(&admin("2"), "/subscribe kw:法說").await;
    let r = env.send(&admin("2"), "/latest").await;
    assert_eq!(labels_of(&posts, &r), "B");
    // Nothing subscribed, nothing listed (the digests exist).
    let r = env.send(&admin("3"), "/latest").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(r.text, EN.latest_empty);
}

#[tokio::test]
async fn latest_defaults_to_five_and_takes_1_to_20() {
    let env = env().await;
    let news: Vec<Digest> = (0..25)
        .map(|i| {
            digest(
                "Stock",
                BASE + 600 * i,
                &format!("[新聞] 第{i:02}則"),
                "r",
                0,
            )
        })
        .collect();
    // Newest stored first, so insertion order is not the answer.
    for d in news.iter().rev() {
        env.keep(d).await;
    }
    let ctx = admin("1");
    env.done(&ctx, "/subscribe").await;
    let newest = |n: usize| -> Vec<String> {
        let v: Vec<&Digest> = news.iter().rev().take(n).collect();
        ids(&v)
    };
    let r = env.send(&ctx, "/latest").await;
    assert_eq!(listed(&r), newest(5));
    assert_eq!(r.text.lines().count(), 5);
    let r = env.send(&ctx, "/latest 1").await;
    assert_eq!(listed(&r), newest(1));
    let r = env.send(&ctx, "/latest 20").await;
    assert_eq!(listed(&r), newest(20));
    let r = env.send(&ctx, "/latest ７").await;
    assert_eq!(listed(&r), newest(7));
}

#[tokio::test]
async fn latest_is_cut_to_fit_with_and_more() {
    let env = env().await;
    let news: Vec<Digest> = (0..8)
        .map(|i| {
            digest(
                "Stock",
                BASE + 60 * i,
                &format!("[新聞] 長長的標題第{i}則"),
                "r",
                0,
            )
        })
        .collect();
    for d in &news {
        env.keep(d).await;
    }
    env.done(&admin("1"), "/subscribe").await;
    let ctx = with_max(admin("1"), 200);
    let r = env.send(&ctx, "/latest 6").await;
    assert_eq!(r.kind, ReplyKind::Info);
    let chars = r.text.chars().count();
    assert!(chars <= 200, "{chars} chars: {}", r.text);
    let shown = listed(&r);
    assert!(!shown.is_empty() && shown.len() < 6, "{}", r.text);
    let newest: Vec<&Digest> = news.iter().rev().take(shown.len()).collect();
    assert_eq!(shown, ids(&newest));
    assert_eq!(
        r.text.lines().last(),
        Some(format!("…and {} more", 6 - shown.len()).as_str())
    );
    // Enough room: no "more".
    let r = env.send(&admin("1"), "/latest 6").await;
    assert_eq!(listed(&r).len(), 6);
    assert!(!r.text.contains("more"), "{}", r.text);
}

// ------------------------------------------------------------ /status, /help

#[tokio::test]
async fn status_reports_boards_polls_outbox_tracking_leader_and_version() {
    let env = env().await;
    let r = env.send(&member("1"), "/status").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(
        r.text,
        format!(
            "Boards relayed: Stock, Tech_Job\n\
             Stock last polled successfully: not yet\n\
             Tech_Job last polled successfully: not yet\n\
             Deliveries pending: 0\n\
             Posts with live tallies: 0\n\
             Last tally edit: not yet\n\
             Leader: this instance\n\
             Version: ptt-relay {}",
            env!("CARGO_PKG_VERSION")
        )
    );

    env.store
        .record_poll(&board_of("Stock"), true, BASE)
        .await
        .unwrap();
    // A failed poll later does not move the last successful one.
    env.store
        .record_poll(&board_of("Stock"), false, BASE + 3600)
        .await
        .unwrap();
    let d = digest("Stock", BASE, "[新聞] 台積電", "r", 1);
    env.store
        .accept_post(&d, &[dest("1"), dest("2"), dest("3")], BASE)
        .await
        .unwrap();
    env.status.set_tracked_posts(4);
    env.status.record_edit(BASE + 120);
    env.status.set_leader("node-b");
    let r = env.send(&member("1"), "/status").await;
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(
        lines[..7],
        [
            "Boards relayed: Stock, Tech_Job",
            "Stock last polled successfully: 2026-01-28 13:25",
            "Tech_Job last polled successfully: not yet",
            "Deliveries pending: 3",
            "Posts with live tallies: 4",
            "Last tally edit: 2026-01-28 13:27",
            "Leader: node-b",
        ]
    );
}

#[tokio::test]
async fn help_and_start_show_the_usage() {
    let env = env().await;
    for text in ["/help", "/start", "/help subscribe", "/start@ptt_relay_bot"] {
        let r = env.send(&member("1"), text).await;
        assert_eq!(r.kind, ReplyKind::Info, "{text}");
        assert_eq!(r.text, EN.help, "{text}");
        for cmd in ["/subscribe", "/unsubscribe", "/list", "/latest", "/status"] {
            assert!(r.text.contains(cmd), "{text} lacks {cmd}");
        }
        assert!(r.text.contains("kw:"), "{text} lacks the filter words");
    }
}

// --------------------------------------------------------------- who may

#[tokio::test]
async fn only_admins_subscribe_or_unsubscribe() {
    let env = env().await;
    env.done(&admin("1"), "/subscribe").await;
    let before = env.rows("1").await;
    let ctx = member("1");
    for text in [
        "/subscribe",
        "/subscribe kw:台積電",
        "/subscribe Tech_Job",
        "/unsubscribe 1",
        "/unsubscribe Stock",
        "/unsubscribe all",
    ] {
        let r = env.send(&ctx, text).await;
        assert_eq!(r.kind, ReplyKind::Error, "{text}");
        assert_eq!(
            r.text, "Only administrators can subscribe or unsubscribe.",
            "{text}"
        );
    }
    assert_eq!(env.rows("1").await, before);
    assert_eq!(
        env.store.count_subscriptions(TELEGRAM, "1").await.unwrap(),
        1
    );
}

#[tokio::test]
async fn everyone_may_list_latest_status_and_help() {
    let env = env().await;
    let posts = keep_posts(&env).await;
    env.done(&admin("1"), "/subscribe").await;
    let ctx = member("1");
    let r = env.send(&ctx, "/list").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(r.text, "Subscriptions of this chat:\n#1 Stock tag:新聞");
    let r = env.send(&ctx, "/latest 2").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(labels_of(&posts, &r), "HF");
    let r = env.send(&ctx, "/status").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert!(r.text.starts_with("Boards relayed: Stock, Tech_Job"));
    let r = env.send(&ctx, "/help").await;
    assert_eq!((r.kind, r.text.as_str()), (ReplyKind::Info, EN.help));
}

// ---------------------------------------------------------------- malformed

#[tokio::test]
async fn malformed_commands_say_what_is_wrong_and_show_the_usage() {
    let env = env().await;
    let ctx = admin("1");
    env.done(&ctx, "/subscribe").await;
    let cases: &[(&str, &str, &str)] = &[
        (
            "/subscribe kw:\"台積電 ADR",
            "a quote is not closed",
            EN.usage_subscribe,
        ),
        ("/subscribe color:red", "color:red", EN.usage_subscribe),
        ("/subscribe Stock 台積電", "台積電", EN.usage_subscribe),
        ("/subscribe 台積電", "台積電", EN.usage_subscribe),
        ("/subscribe kw:a Stock", "Stock", EN.usage_subscribe),
        ("/latest 0", "\"0\"", EN.usage_latest),
        ("/latest 21", "\"21\"", EN.usage_latest),
        ("/latest five", "\"five\"", EN.usage_latest),
        ("/latest 1 2", "takes no words", EN.usage_latest),
        (
            "/unsubscribe",
            "missing the subscription id",
            EN.usage_unsubscribe,
        ),
        ("/unsubscribe 1 2", "takes no words", EN.usage_unsubscribe),
        ("/unsubscribe ../x", "../x", EN.usage_unsubscribe),
        ("/list all", "takes no words", EN.help),
        ("/status now", "takes no words", EN.help),
    ];
    for &(text, what, usage) in cases {
        let r = assert_refused_unchanged(&env, &ctx, text).await;
        assert!(
            r.text.starts_with("Malformed command: "),
            "{text}: {}",
            r.text
        );
        assert!(
            r.text.contains(what),
            "{text} should say {what:?}: {}",
            r.text
        );
        assert!(r.text.contains(usage), "{text} lacks its usage: {}", r.text);
        assert!(r.ephemeral(), "{text}");
    }
    // The usage lines themselves name the command and its words.
    assert!(EN.usage_subscribe.starts_with("Usage: /subscribe [BOARD]"));
    assert!(
        EN.usage_unsubscribe
            .starts_with("Usage: /unsubscribe ID|BOARD|all")
    );
    assert!(EN.usage_latest.starts_with("Usage: /latest [N]"));
}

#[tokio::test]
async fn an_unknown_command_is_named_and_points_to_help() {
    let env = env().await;
    let ctx = member("1");
    for (text, name) in [
        ("/frobnicate", "frobnicate"),
        ("/Subscribes kw:a", "subscribes"),
    ] {
        let r = assert_refused_unchanged(&env, &ctx, text).await;
        assert_eq!(
            r.text,
            format!("Unknown command /{name}.\n{}", EN.help),
            "{text}"
        );
    }
}

// ------------------------------------------------------------------- limits

#[tokio::test]
async fn a_chat_has_at_most_50_subscriptions() {
    let env = env().await;
    let ctx = admin("1");
    for i in 1..=50 {
        let r = env.done(&ctx, &format!("/subscribe kw:k{i}")).await;
        assert!(
            r.text.starts_with(&format!("Subscribed #{i}: ")),
            "{}",
            r.text
        );
    }
    let r = assert_refused_unchanged(&env, &ctx, "/subscribe kw:k51").await;
    assert_eq!(
        r.text,
        "A chat can have at most 50 subscriptions. /unsubscribe some first."
    );
    // Threads of the chat share the limit.
    let topic = Context {
        dest: Destination {
            thread: Some("7".into()),
            ..dest("1")
        },
        ..admin("1")
    };
    let r = env.send(&topic, "/subscribe kw:k52").await;
    assert_eq!(r.kind, ReplyKind::Error, "{}", r.text);
    // Repeating an existing one still answers with its id.
    let r = env.done(&ctx, "/subscribe kw:k50").await;
    assert!(r.text.starts_with("Already subscribed #50: "), "{}", r.text);
    assert_eq!(env.subs("1").await.len(), 50);
    // Room again after an unsubscribe.
    env.done(&ctx, "/unsubscribe 17").await;
    let r = env.done(&ctx, "/subscribe kw:k51").await;
    assert!(r.text.starts_with("Subscribed #17: "), "{}", r.text);
    assert_eq!(env.subs("1").await.len(), 50);
}

#[tokio::test]
async fn at_most_20_filter_words() {
    let env = env().await;
    let ctx = admin("1");
    let words = |n: usize| -> String {
        (1..=n)
            .map(|i| format!("kw:w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for text in [
        format!("/subscribe {}", words(21)),
        format!("/subscribe Stock {}", words(21)),
    ] {
        let r = assert_refused_unchanged(&env, &ctx, &text).await;
        assert!(r.text.contains("too many words"), "{}", r.text);
        assert!(r.text.contains(EN.usage_subscribe), "{}", r.text);
    }
    assert!(env.subs("1").await.is_empty());
    env.done(&ctx, &format!("/subscribe {}", words(20))).await;
    env.done(&ctx, &format!("/subscribe Tech_Job {}", words(20)))
        .await;
    assert_eq!(env.subs("1").await.len(), 2);
}

#[tokio::test]
async fn at_most_64_characters_a_word() {
    let env = env().await;
    let ctx = admin("1");
    for word in [
        format!("kw:{}", "長".repeat(65)),
        format!("not:\"{} {}\"", "a".repeat(32), "b".repeat(32)),
        format!("author:{}", "x".repeat(65)),
    ] {
        let r = assert_refused_unchanged(&env, &ctx, &format!("/subscribe {word}")).await;
        assert!(
            r.text
                .contains("is too long (at most 64 characters a word)"),
            "{word}: {}",
            r.text
        );
        assert!(r.text.contains(EN.usage_subscribe), "{word}: {}", r.text);
    }
    let ok = "長".repeat(64);
    let r = env.done(&ctx, &format!("/subscribe kw:{ok}")).await;
    assert_eq!(r.text, format!("Subscribed #1: Stock tag:新聞 kw:{ok}"));
}

// ---------------------------------------------------------------------- ids

#[tokio::test]
async fn ids_are_small_and_unique_within_a_chat() {
    let env = env().await;
    let r = env.done(&admin("1"), "/subscribe").await;
    assert!(r.text.starts_with("Subscribed #1: "));
    let r = env.done(&admin("2"), "/subscribe").await;
    assert!(r.text.starts_with("Subscribed #1: "));
    let r = env.done(&admin("1"), "/subscribe Tech_Job").await;
    assert!(r.text.starts_with("Subscribed #2: "));
    // The same chat id on another platform is another chat.
    let discord = Context {
        dest: Destination::chat(DISCORD, "1"),
        ..admin("1")
    };
    let r = env.done(&discord, "/subscribe").await;
    assert!(r.text.starts_with("Subscribed #1: "));
    // A topic of chat 1 lists only its own, but ids stay unique in the chat.
    let topic = Context {
        dest: Destination {
            thread: Some("7".into()),
            ..dest("1")
        },
        ..admin("1")
    };
    let r = env.done(&topic, "/subscribe").await;
    assert_eq!(r.text, "Subscribed #3: Stock tag:新聞");
    let r = env.send(&topic, "/list").await;
    assert_eq!(r.text, "Subscriptions of this chat:\n#3 Stock tag:新聞");

    // A freed id is reused.
    env.done(&admin("1"), "/unsubscribe 1").await;
    let r = env.done(&admin("1"), "/subscribe kw:台積電").await;
    assert_eq!(r.text, "Subscribed #1: Stock tag:新聞 kw:台積電");
    assert_eq!(
        env.rows("1").await,
        vec![
            row(1, "Stock", "tag:新聞 kw:台積電"),
            row(2, "Tech_Job", "tag:新聞"),
        ]
    );
    assert_eq!(env.rows("2").await, vec![row(1, "Stock", "tag:新聞")]);
}

// ----------------------------------------------------------------- language

#[tokio::test]
async fn replies_follow_the_chats_language() {
    let env = env().await;
    let posts = keep_posts(&env).await;
    let en = admin("en");
    let zh = with_lang(admin("zh"), Lang::ZhTw);
    // (command, expected with these texts)
    type Expect = fn(&Texts) -> String;
    let cases: [(&str, Expect); 9] = [
        ("/list", |t| t.list_empty.to_owned()),
        ("/latest", |t| t.latest_empty.to_owned()),
        ("/subscribe", |t| {
            fill(
                t.subscribed,
                &[("id", "1"), ("board", "Stock"), ("filter", "tag:新聞")],
            )
        }),
        ("/subscribe tag:新聞", |t| {
            fill(
                t.already_subscribed,
                &[("id", "1"), ("board", "Stock"), ("filter", "tag:新聞")],
            )
        }),
        ("/subscribe Gossiping", |t| {
            fill(
                t.board_not_polled,
                &[("board", "Gossiping"), ("boards", "Stock, Tech_Job")],
            )
        }),
        ("/list", |t| {
            format!("{}\n#1 Stock tag:新聞", t.list_heading)
        }),
        ("/unsubscribe 9", |t| t.nothing_to_unsubscribe.to_owned()),
        ("/help", |t| t.help.to_owned()),
        ("/frobnicate", |t| {
            format!(
                "{}\n{}",
                fill(t.unknown_command, &[("name", "frobnicate")]),
                t.help
            )
        }),
    ];
    for (text, expect) in cases {
        let e = env.send(&en, text).await;
        let z = env.send(&zh, text).await;
        assert_eq!(e.text, expect(&EN), "{text} in English");
        assert_eq!(z.text, expect(&ZH_TW), "{text} in Chinese");
        assert_eq!(e.kind, z.kind, "{text}");
        assert_ne!(e.text, z.text, "{text}");
    }
    // Spot checks of the words themselves.
    let z = env.send(&zh, "/subscribe kw:台積電").await;
    assert_eq!(z.text, "已訂閱 #2：Stock tag:新聞 kw:台積電");
    let z = env.send(&zh, "/unsubscribe 2").await;
    assert_eq!(z.text, "已取消 1 個訂閱。");
    let z = env
        .send(&with_lang(member("zh"), Lang::ZhTw), "/subscribe")
        .await;
    assert_eq!(z.text, "只有管理員可以訂閱或取消訂閱。");
    let z = env.send(&zh, "/latest 0").await;
    assert!(z.text.starts_with("指令有誤："), "{}", z.text);
    assert!(z.text.ends_with(ZH_TW.usage_latest), "{}", z.text);
    let z = env.send(&zh, "/status").await;
    assert!(
        z.text.starts_with("轉播看板：Stock, Tech_Job\n"),
        "{}",
        z.text
    );
    assert!(
        z.text.contains("Stock 上次成功讀取：尚未讀取"),
        "{}",
        z.text
    );
    let z = env.send(&zh, "/latest 1").await;
    assert_eq!(labels_of(&posts, &z), "H");
    let z = env
        .send(
            &with_max(with_lang(admin("zh"), Lang::ZhTw), 60),
            "/latest 3",
        )
        .await;
    assert_eq!(z.text, "…還有 3 則");
}

// ------------------------------------------------------------------- paused

#[tokio::test]
async fn any_command_resumes_a_paused_chat_and_says_so() {
    let env = env().await;
    env.done(&admin("1"), "/subscribe").await;
    env.done(&admin("2"), "/subscribe").await;
    env.store
        .pause_chat(TELEGRAM, "1", "bot was blocked", BASE)
        .await
        .unwrap();
    assert!(env.subs("1").await[0].paused, "pause_chat marks the chat");
    assert!(!env.subs("2").await[0].paused, "other chats are not paused");

    // Even a refused command from a member resumes it.
    let r = env.send(&member("1"), "/unsubscribe all").await;
    assert_eq!(r.kind, ReplyKind::Error);
    assert_eq!(
        r.text,
        "Deliveries to this chat are resumed.\nOnly administrators can subscribe or unsubscribe."
    );
    assert!(!env.subs("1").await[0].paused);
    let r = env.send(&member("1"), "/list").await;
    assert_eq!(r.text, "Subscriptions of this chat:\n#1 Stock tag:新聞");

    // Every command kind resumes, in the chat's language.
    for text in [
        "/list",
        "/latest",
        "/status",
        "/help",
        "/frobnicate",
        "/latest 0",
    ] {
        env.store
            .pause_chat(TELEGRAM, "1", "chat not found", BASE)
            .await
            .unwrap();
        let r = env.send(&with_lang(member("1"), Lang::ZhTw), text).await;
        assert!(
            r.text.starts_with("已恢復傳送到這個聊天室。\n"),
            "{text}: {}",
            r.text
        );
        assert!(!env.subs("1").await[0].paused, "{text}");
        let again = env.send(&with_lang(member("1"), Lang::ZhTw), text).await;
        assert!(!again.text.contains("已恢復"), "{text}: {}", again.text);
    }
    assert!(!env.subs("2").await.is_empty());
}

#[tokio::test]
async fn the_resumed_line_still_fits_the_reply_limit() {
    let env = env().await;
    let ctx = admin("1");
    for i in 1..=12 {
        env.done(&ctx, &format!("/subscribe kw:關鍵字{i:02}")).await;
    }
    env.store
        .pause_chat(TELEGRAM, "1", "blocked", BASE)
        .await
        .unwrap();
    let r = env.send(&with_max(admin("1"), 200), "/list").await;
    assert!(r.text.starts_with(EN.resumed), "{}", r.text);
    let chars = r.text.chars().count();
    assert!(chars <= 200, "{chars} chars over 200: {}", r.text);
    assert!(
        r.text
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("…and "))
    );
}

// -------------------------------------------------------------- addressing

#[tokio::test]
async fn commands_for_other_bots_are_ignored() {
    for text in [
        "/subscribe@otherbot",
        "/subscribe@otherbot kw:\"unbalanced",
        "/latest@otherbot 99",
        "/frobnicate@otherbot",
        "/help@ptt_relay_bot_not",
        "hello /subscribe",
        "subscribe",
    ] {
        assert_eq!(parse(text, Some(BOT)), Ok(None), "{text}");
    }
    let env = env().await;
    let ctx = admin("1");
    let r = env.done(&ctx, "/subscribe@ptt_relay_bot kw:台積電").await;
    assert_eq!(r.text, "Subscribed #1: Stock tag:新聞 kw:台積電");
    let r = env.done(&ctx, "/subscribe@PTT_Relay_Bot kw:台積電").await;
    assert!(r.text.starts_with("Already subscribed #1"));
    let r = env.send(&ctx, "/list@ptt_relay_bot").await;
    assert_eq!(r.kind, ReplyKind::Info);
    assert_eq!(
        r.text,
        "Subscriptions of this chat:\n#1 Stock tag:新聞 kw:台積電"
    );
    let r = env.send(&ctx, "/latest@ptt_relay_bot 21").await;
    assert_eq!(r.kind, ReplyKind::Error);
    assert!(r.text.contains(EN.usage_latest));
    env.done(&ctx, "/unsubscribe@ptt_relay_bot 1").await;
    assert!(env.subs("1").await.is_empty());
}

/// `/status` is answered to any member: it names the leader by role only,
/// never by host name or process id (DESIGN.md "Bounds").
#[tokio::test]
async fn status_shows_no_host_name_or_process_id() {
    let env = env().await;
    let pid = std::process::id().to_string();
    let replica = format!("relay-host-7-{pid}-beef");
    for lead in [true, false] {
        if lead {
            env.status.set_leading_here(&replica);
        } else {
            env.status.set_leading_elsewhere(&replica, "relay-host-7");
        }
        for lang in [Lang::En, Lang::ZhTw] {
            let ctx = Context {
                lang,
                ..member("1")
            };
            let r = env.send(&ctx, "/status").await;
            assert_eq!(r.kind, ReplyKind::Info);
            assert!(!r.text.contains("relay-host-7"), "host shown: {}", r.text);
            assert!(!r.text.contains(&pid), "pid shown: {}", r.text);
            assert!(!r.text.contains("beef"), "replica tag shown: {}", r.text);
        }
    }
}

/// Issue 14, kind 7: 12 commands in a minute from one chat get 10 answers
/// and one "slow down", and nothing else; another chat (and the same chat
/// a minute later) is answered.
#[tokio::test]
async fn a_chat_gets_ten_answers_a_minute_then_one_slow_down_then_nothing() {
    let e = env().await;
    let chat = admin("-1001");
    let mut replies = Vec::new();
    for _ in 0..12 {
        replies.extend(e.command(&chat, "/list").await);
    }
    assert_eq!(replies.len(), 11, "{replies:#?}");
    assert!(replies[..10].iter().all(|r| r.text == EN.list_empty));
    assert_eq!(
        replies[10].text,
        "Slow down: at most 10 commands a minute are answered in a chat; the rest of this minute is ignored."
    );
    assert_eq!(replies[10].kind, ReplyKind::Error);
    // A topic of the chat shares its limit; another chat has its own.
    let topic = Context {
        dest: Destination {
            thread: Some("5".into()),
            ..dest("-1001")
        },
        ..chat.clone()
    };
    assert!(e.command(&topic, "/list").await.is_none());
    let other = e.command(&admin("-1002"), "/list").await;
    assert_eq!(other.map(|r| r.text).as_deref(), Some(EN.list_empty));
    // A minute later the chat is answered again (tokio's clock, paused to
    // move it; the store's own waits run on the real one again after).
    tokio::time::pause();
    assert_eq!(e.handler.admit(&chat.dest), Admission::Ignore);
    tokio::time::advance(ptt_relay::commands::limit::WINDOW).await;
    tokio::time::resume();
    let again = e.command(&chat, "/list").await;
    assert_eq!(again.map(|r| r.text).as_deref(), Some(EN.list_empty));
    // Both languages have the texts.
    for t in [&EN, &ZH_TW] {
        assert!(fill(t.slow_down, &[("n", "10")]).contains("10"));
        assert!(!t.busy.is_empty());
    }
}

/// Configuration-defined subscriptions (webhooks): the wanted one is added
/// before any other is removed, a repeat changes nothing, a paused
/// destination resumes, and an unpolled board is refused without removing
/// what is there.
#[tokio::test]
async fn subscriptions_set_from_the_configuration_replace_the_old_without_a_gap() {
    let e = env().await;
    let d = dest("hook");
    let filter = |w: &str| ptt_relay::filter::Filter::parse_str(w).expect("filter");
    e.handler
        .set_subscriptions(&d, &[("stock".into(), filter("tag:新聞"))])
        .await
        .expect("applied");
    assert_eq!(e.rows("hook").await, [row(1, "Stock", "tag:新聞")]);
    // The same again keeps it (same id).
    e.handler
        .set_subscriptions(&d, &[("Stock".into(), filter("tag:新聞"))])
        .await
        .expect("applied");
    assert_eq!(e.rows("hook").await, [row(1, "Stock", "tag:新聞")]);
    // A changed filter: the new one gets the next id (it was added while
    // the old one still stood), then the old one goes.
    e.store
        .pause_chat(d.platform, "hook", "404", 1)
        .await
        .expect("pause");
    e.handler
        .set_subscriptions(&d, &[("Stock".into(), filter("tag:新聞 kw:台積電"))])
        .await
        .expect("applied");
    assert_eq!(
        e.rows("hook").await,
        [row(2, "Stock", "tag:新聞 kw:台積電")]
    );
    assert!(
        !e.store
            .resume_chat(d.platform, "hook")
            .await
            .expect("resume"),
        "it was resumed already"
    );
    // A board that is not polled: refused, and nothing removed.
    let err = e
        .handler
        .set_subscriptions(&d, &[("Gossiping".into(), filter("tag:新聞"))])
        .await
        .expect_err("not polled");
    assert!(err[0].contains("Gossiping"), "{err:?}");
    assert_eq!(
        e.rows("hook").await,
        [row(2, "Stock", "tag:新聞 kw:台積電")]
    );
}
