//! The `Store` contract, run against both backends: SQLite (in a temporary
//! folder, always) and PostgreSQL (when `PTT_RELAY_TEST_PG_URL` names a
//! server; each test then works in its own schema, dropped at the end, so
//! tests run in parallel). Then PostgreSQL-only tests: replicas sharing an
//! outbox, leadership, concurrent migrations, refusal of a newer schema.

use crate::support;
use crate::support::{board_of, filter_of};

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::dest::{Destination, Platform};
use ptt_relay::digest::Digest;
use ptt_relay::ptt::{PostId, Tally};
use ptt_relay::store::postgres::{CLAIM_SECS, Leadership, PostgresStore};
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::store::{
    BoardState, EditJob, LeaderboardMessage, MAX_SUBSCRIPTIONS, OutboxRow, PendingPost, PushSample,
    Removal, SentMessage, Store, StoreError, TrackStart, migrate,
};
use sqlx::Connection;
use support::pg::{TestSchema, pg_url};

// ---------------------------------------------------------------- helpers

/// A store under test and what keeps its data alive.
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<TestSchema>,
}

impl Backend {
    async fn close(self) {
        self.store.close().await;
    }
}

async fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .expect("open SQLite");
    Backend {
        store,
        _dir: Some(dir),
        _schema: None,
    }
}

async fn pg_backend() -> Option<Backend> {
    let admin = pg_url()?;
    let schema = TestSchema::create(&admin).await;
    let store = PostgresStore::open(&schema.url, "replica-test".into())
        .await
        .expect("open PostgreSQL");
    Some(Backend {
        store,
        _dir: None,
        _schema: Some(schema),
    })
}

/// Runs each named contract check once per backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let b = super::sqlite_backend().await;
                    super::$name(&*b.store).await;
                    b.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(b) = super::pg_backend().await else { return };
                    super::$name(&*b.store).await;
                    b.close().await;
                }
            )*
        }
    };
}

contract!(
    marks_are_never_lowered_and_polls_are_recorded,
    seen_posts,
    accept_post_queues_once_per_destination,
    latest_digests_newest_first_of_the_asked_boards,
    digests_since_are_the_posts_created_or_first_seen_since,
    subscribe_finds_the_same_and_takes_the_smallest_free_id,
    concurrent_subscribes_do_not_pass_the_limit,
    unsubscribe_by_id_board_and_all,
    pause_resume_and_chat_groups,
    move_chat_moves_what_does_not_collide,
    due_rows_takes_each_destinations_oldest_due_row,
    delivery_outcomes_and_outbox_measures,
    tracking_starts_widens_and_schedules,
    hot_candidates_keep_an_hour_of_push_samples,
    tallies_queue_edits_only_when_the_shown_tally_differs,
    due_edits_come_in_one_order_whatever_the_rows_history,
    a_resting_destination_does_not_starve_the_others_edits,
    a_deleted_post_is_marked_once,
    prune_expires_and_deletes_but_keeps_marks,
    pending_posts_are_kept_replaced_and_removed,
    claims_are_fenced_by_their_token,
    a_paused_destination_gets_no_new_rows,
    chats_gone_too_long_are_forgotten,
    leaderboard_messages_are_kept_per_destination_words_and_day,
);

fn pid(s: &str) -> PostId {
    PostId::parse(s).unwrap_or_else(|| panic!("bad test id {s}"))
}

fn digest(board: &str, id: &str, title: &str) -> Digest {
    Digest {
        board: board.into(),
        id: id.into(),
        url: format!("https://www.ptt.cc/bbs/{board}/{id}.html"),
        title: Some(title.into()),
        tag: Some("新聞".into()),
        is_reply: false,
        is_forward: false,
        author: Some("someid".into()),
        posted_at: None,
        original_title: Some("Headline".into()),
        source_url: Some("https://example.com/a".into()),
        published: None,
        reporter: None,
        excerpt: Some("text".into()),
        stocks: Vec::new(),
        hot: None,
        tally: Tally::default(),
    }
}

fn tally(push: u32, boo: u32) -> Tally {
    Tally {
        push,
        boo,
        neutral: 0,
        net: i64::from(push) - i64::from(boo),
        total: push + boo,
    }
}

fn tg(chat: &str) -> Destination {
    Destination::chat(TELEGRAM, chat)
}

fn tg_thread(chat: &str, thread: &str) -> Destination {
    Destination {
        platform: TELEGRAM,
        chat: chat.into(),
        thread: Some(thread.into()),
    }
}

fn dc(chat: &str) -> Destination {
    Destination::chat(DISCORD, chat)
}

fn ids(rows: &[OutboxRow]) -> Vec<String> {
    rows.iter()
        .map(|r| format!("{}>{}", r.digest.id, r.dest))
        .collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

// ------------------------------------------------------- contract checks

async fn marks_are_never_lowered_and_polls_are_recorded(s: &dyn Store) {
    assert_eq!(
        s.board_state(&board_of("Stock")).await.unwrap(),
        BoardState::default()
    );
    s.raise_mark(&board_of("Stock"), &pid("M.100.A.A"))
        .await
        .unwrap();
    assert_eq!(
        s.board_state(&board_of("Stock")).await.unwrap().mark,
        Some(pid("M.100.A.A"))
    );
    // Lower (older epoch, and same epoch with a smaller hex): kept.
    s.raise_mark(&board_of("Stock"), &pid("M.99.A.FFF"))
        .await
        .unwrap();
    s.raise_mark(&board_of("Stock"), &pid("M.100.A.9"))
        .await
        .unwrap();
    assert_eq!(
        s.board_state(&board_of("Stock")).await.unwrap().mark,
        Some(pid("M.100.A.A"))
    );
    // Hex is compared by value, not as text: 1A > A.
    s.raise_mark(&board_of("Stock"), &pid("M.100.A.1A"))
        .await
        .unwrap();
    assert_eq!(
        s.board_state(&board_of("Stock")).await.unwrap().mark,
        Some(pid("M.100.A.1A"))
    );
    s.raise_mark(&board_of("Stock"), &pid("M.101.A.1"))
        .await
        .unwrap();
    assert_eq!(
        s.board_state(&board_of("Stock")).await.unwrap().mark,
        Some(pid("M.101.A.1"))
    );

    // Polls: a failure records no successful poll and keeps the last one.
    s.record_poll(&board_of("Tech"), false, 10).await.unwrap();
    assert_eq!(
        s.board_state(&board_of("Tech")).await.unwrap(),
        BoardState {
            mark: None,
            last_ok_at: None
        }
    );
    s.record_poll(&board_of("Tech"), true, 20).await.unwrap();
    s.record_poll(&board_of("Tech"), false, 30).await.unwrap();
    assert_eq!(
        s.board_state(&board_of("Tech")).await.unwrap().last_ok_at,
        Some(20)
    );
    s.record_poll(&board_of("Stock"), true, 40).await.unwrap();
    let st = s.board_state(&board_of("Stock")).await.unwrap();
    assert_eq!(st.last_ok_at, Some(40));
    assert_eq!(st.mark, Some(pid("M.101.A.1")), "a poll keeps the mark");
    // A mark raised after polls keeps the poll time.
    s.raise_mark(&board_of("Tech"), &pid("M.5.A.5"))
        .await
        .unwrap();
    assert_eq!(
        s.board_state(&board_of("Tech")).await.unwrap(),
        BoardState {
            mark: Some(pid("M.5.A.5")),
            last_ok_at: Some(20)
        }
    );
}

async fn seen_posts(s: &dyn Store) {
    let a = pid("M.1.A.1");
    let b = pid("M.2.A.2");
    assert!(!s.is_seen(&board_of("Stock"), &a).await.unwrap());
    s.mark_seen(&board_of("Stock"), &[a.clone(), b.clone()], 5)
        .await
        .unwrap();
    s.mark_seen(&board_of("Stock"), std::slice::from_ref(&a), 6)
        .await
        .unwrap();
    s.mark_seen(&board_of("Stock"), &[], 6).await.unwrap();
    assert!(s.is_seen(&board_of("Stock"), &a).await.unwrap());
    assert!(s.is_seen(&board_of("Stock"), &b).await.unwrap());
    assert!(
        !s.is_seen(&board_of("Tech"), &a).await.unwrap(),
        "seen is per board"
    );
}

async fn accept_post_queues_once_per_destination(s: &dyn Store) {
    let d = digest("Stock", "M.100.A.1", "first");
    let dests = [tg("1"), tg_thread("1", "7"), dc("9")];
    assert_eq!(s.accept_post(&d, &dests, 100).await.unwrap(), 3);
    // The same post × destination again: not queued again (the digest is
    // kept current).
    let d2 = digest("Stock", "M.100.A.1", "edited");
    assert_eq!(s.accept_post(&d2, &dests, 101).await.unwrap(), 0);
    assert_eq!(
        s.accept_post(&d2, &[tg("1"), tg("2")], 102).await.unwrap(),
        1
    );
    assert_eq!(s.outbox_depth(None).await.unwrap(), 4);
    assert_eq!(
        s.digest(&board_of("Stock"), &pid("M.100.A.1"))
            .await
            .unwrap(),
        Some(d2.clone())
    );
    assert_eq!(
        s.digest(&board_of("Stock"), &pid("M.100.A.2"))
            .await
            .unwrap(),
        None
    );
    // A post with no destination is kept for /latest only.
    let lone = digest("Stock", "M.101.A.1", "lone");
    assert_eq!(s.accept_post(&lone, &[], 103).await.unwrap(), 0);
    assert_eq!(
        s.digest(&board_of("Stock"), &pid("M.101.A.1"))
            .await
            .unwrap(),
        Some(lone)
    );
    assert_eq!(s.outbox_depth(None).await.unwrap(), 4);
}

async fn digests_since_are_the_posts_created_or_first_seen_since(s: &dyn Store) {
    for (board, id, seen) in [
        ("Stock", "M.100.A.1", 150),   // old, seen before
        ("Stock", "M.90.A.1", 1000),   // old, first seen since
        ("Stock", "M.1000.A.1", 1001), // new
        ("Tech_Job", "M.1100.A.1", 1101),
        ("Gossiping", "M.1200.A.1", 1201),
    ] {
        s.accept_post(&digest(board, id, id), &[], seen)
            .await
            .unwrap();
    }
    let boards = vec![board_of("stock"), board_of("TECH_JOB")];
    let got: Vec<(String, i64)> = s
        .digests_since(&boards, 1000, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(d, seen)| (d.id, seen))
        .collect();
    assert_eq!(
        got,
        [
            ("M.1100.A.1".to_owned(), 1101),
            ("M.1000.A.1".to_owned(), 1001),
            ("M.90.A.1".to_owned(), 1000)
        ]
    );
    assert_eq!(s.digests_since(&boards, 1000, 1).await.unwrap().len(), 1);
    assert!(s.digests_since(&[], 0, 10).await.unwrap().is_empty());
}

async fn latest_digests_newest_first_of_the_asked_boards(s: &dyn Store) {
    for (board, id) in [
        ("Stock", "M.100.A.1"),
        ("Stock", "M.300.A.1"),
        ("Tech_Job", "M.200.A.1"),
        ("Stock", "M.300.A.B00"),
        ("Stock", "M.300.A.a00"),
        ("Gossiping", "M.400.A.1"),
    ] {
        s.accept_post(&digest(board, id, id), &[], 1).await.unwrap();
    }
    let got = |v: Vec<Digest>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let boards = vec![board_of("stock"), board_of("TECH_JOB")];
    // Newest epoch first; within an epoch, the id in descending byte order.
    assert_eq!(
        got(s.latest_digests(&boards, 10).await.unwrap()),
        [
            "M.300.A.a00",
            "M.300.A.B00",
            "M.300.A.1",
            "M.200.A.1",
            "M.100.A.1"
        ]
    );
    assert_eq!(
        got(s.latest_digests(&boards, 2).await.unwrap()),
        ["M.300.A.a00", "M.300.A.B00"]
    );
    assert!(s.latest_digests(&[], 10).await.unwrap().is_empty());
    assert_eq!(
        got(s
            .latest_digests(&[board_of("gossiping")], 10)
            .await
            .unwrap()),
        ["M.400.A.1"]
    );
}

/// The subscription limit is checked inside the inserting transaction:
/// 30 subscribes of one chat at once, on top of 40, leave it at the limit;
/// the refused ones say so, and finding an existing one still works.
async fn concurrent_subscribes_do_not_pass_the_limit(s: &dyn Store) {
    let chat = tg("limit");
    for i in 0..40 {
        s.subscribe(
            &chat,
            &board_of("Stock"),
            &filter_of(&format!("kw:old{i}")),
            1,
        )
        .await
        .expect("below the limit");
    }
    let stock = board_of("Stock");
    let filters: Vec<_> = (0..30).map(|i| filter_of(&format!("kw:new{i}"))).collect();
    let results =
        futures::future::join_all(filters.iter().map(|f| s.subscribe(&chat, &stock, f, 2))).await;
    let created = results
        .iter()
        .filter(|r| matches!(r, Ok((_, true))))
        .count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::SubscriptionLimit { max: 50 })))
        .count();
    assert_eq!(created, 10, "{results:?}");
    assert_eq!(refused, 20, "{results:?}");
    assert_eq!(
        s.count_subscriptions(chat.platform, &chat.chat)
            .await
            .unwrap(),
        MAX_SUBSCRIPTIONS
    );
    // At the limit: an identical subscription is still found, a new one
    // refused; another chat is not affected.
    assert!(matches!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("kw:old3"), 3)
            .await,
        Ok((_, false))
    ));
    assert!(matches!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("kw:another"), 3)
            .await,
        Err(StoreError::SubscriptionLimit { .. })
    ));
    assert!(matches!(
        s.subscribe(
            &tg("other"),
            &board_of("Stock"),
            &filter_of("kw:another"),
            3
        )
        .await,
        Ok((_, true))
    ));
}

async fn subscribe_finds_the_same_and_takes_the_smallest_free_id(s: &dyn Store) {
    let chat = tg("100");
    assert_eq!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("tag:新聞"), 1)
            .await
            .unwrap(),
        (1, true)
    );
    assert_eq!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("tag:新聞"), 2)
            .await
            .unwrap(),
        (1, false),
        "the same subscription twice answers the existing id"
    );
    assert_eq!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("tag:* kw:AI"), 3)
            .await
            .unwrap(),
        (2, true)
    );
    assert_eq!(
        s.subscribe(&chat, &board_of("Tech_Job"), &filter_of("tag:新聞"), 4)
            .await
            .unwrap(),
        (3, true)
    );
    // Ids are unique within the chat, across its threads.
    let topic = tg_thread("100", "5");
    assert_eq!(
        s.subscribe(&topic, &board_of("Stock"), &filter_of("tag:新聞"), 5)
            .await
            .unwrap(),
        (4, true)
    );
    // Another chat (and another platform) starts at 1.
    assert_eq!(
        s.subscribe(&tg("200"), &board_of("Stock"), &filter_of("tag:新聞"), 6)
            .await
            .unwrap(),
        (1, true)
    );
    assert_eq!(
        s.subscribe(&dc("100"), &board_of("Stock"), &filter_of("tag:新聞"), 6)
            .await
            .unwrap(),
        (1, true)
    );
    // The smallest free id is reused.
    assert_eq!(s.unsubscribe(&chat, &Removal::Id(2)).await.unwrap(), 1);
    assert_eq!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("tag:* kw:TSMC"), 7)
            .await
            .unwrap(),
        (2, true)
    );
    assert_eq!(
        s.subscribe(&chat, &board_of("Stock"), &filter_of("tag:* kw:ASML"), 8)
            .await
            .unwrap(),
        (5, true)
    );

    let mine = s.subscriptions_of(&chat).await.unwrap();
    assert_eq!(
        mine.iter().map(|x| x.id).collect::<Vec<_>>(),
        [1, 2, 3, 5],
        "listed by id, this thread only"
    );
    assert_eq!(mine[1].filter.canonical(), "tag:* kw:tsmc");
    assert_eq!(mine[1].dest, chat);
    assert!(!mine[0].paused);
    let in_topic = s.subscriptions_of(&topic).await.unwrap();
    assert_eq!(in_topic.len(), 1);
    assert_eq!(in_topic[0].dest, topic);
    assert_eq!(s.count_subscriptions(TELEGRAM, "100").await.unwrap(), 5);
    assert_eq!(s.count_subscriptions(DISCORD, "100").await.unwrap(), 1);
    let board: Vec<(Destination, i64)> = s
        .subscriptions_for_board(&board_of("STOCK"))
        .await
        .unwrap()
        .into_iter()
        .map(|x| (x.dest, x.id))
        .collect();
    assert_eq!(
        board,
        [
            (dc("100"), 1),
            (tg("100"), 1),
            (tg("100"), 2),
            (topic.clone(), 4),
            (tg("100"), 5),
            (tg("200"), 1),
        ],
        "by platform, chat, id"
    );
}

async fn unsubscribe_by_id_board_and_all(s: &dyn Store) {
    let chat = tg("1");
    let topic = tg_thread("1", "9");
    s.subscribe(&chat, &board_of("Stock"), &filter_of("kw:a"), 1)
        .await
        .unwrap();
    s.subscribe(&chat, &board_of("Stock"), &filter_of("kw:b"), 1)
        .await
        .unwrap();
    s.subscribe(&chat, &board_of("Tech_Job"), &filter_of("kw:a"), 1)
        .await
        .unwrap();
    s.subscribe(&topic, &board_of("Stock"), &filter_of("kw:a"), 1)
        .await
        .unwrap();
    s.subscribe(&tg("2"), &board_of("Stock"), &filter_of("kw:a"), 1)
        .await
        .unwrap();

    assert_eq!(s.unsubscribe(&chat, &Removal::Id(42)).await.unwrap(), 0);
    // A board: this thread's only, case-insensitive.
    assert_eq!(
        s.unsubscribe(&chat, &Removal::Board(board_of("stock")))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.subscriptions_of(&topic).await.unwrap().len(), 1);
    // An id: the chat's, whatever the thread.
    assert_eq!(s.unsubscribe(&chat, &Removal::Id(4)).await.unwrap(), 1);
    assert!(s.subscriptions_of(&topic).await.unwrap().is_empty());
    assert_eq!(s.unsubscribe(&chat, &Removal::All).await.unwrap(), 1);
    assert_eq!(s.unsubscribe(&chat, &Removal::All).await.unwrap(), 0);
    assert_eq!(s.count_subscriptions(TELEGRAM, "1").await.unwrap(), 0);
    assert_eq!(s.count_subscriptions(TELEGRAM, "2").await.unwrap(), 1);
}

/// Issue 14, kind 3: a chat that blocked or removed the bot queues no work.
async fn a_paused_destination_gets_no_new_rows(s: &dyn Store) {
    s.pause_chat(
        TELEGRAM,
        "gone",
        "Forbidden: bot was blocked by the user",
        1,
    )
    .await
    .unwrap();
    let d = digest("Stock", "M.1769580000.A.001", "[新聞] a");
    let queued = s
        .accept_post(&d, &[tg("gone"), tg("here")], 2)
        .await
        .unwrap();
    assert_eq!(queued, 1, "only the chat that is still there gets a row");
    assert_eq!(s.outbox_depth(None).await.unwrap(), 1);
    // Back again: the posts of its absence are not sent after all.
    assert!(s.resume_chat(TELEGRAM, "gone").await.unwrap());
    let rows = s.due_rows(TELEGRAM, 3, &[], 10).await.unwrap();
    let chats: Vec<&str> = rows.iter().map(|r| r.dest.chat.as_str()).collect();
    assert_eq!(chats, ["here"]);
}

/// Issue 14, kind 3: after `relay.gone_chat_days` a paused chat's
/// subscriptions are removed and its rows expire; others are untouched.
async fn chats_gone_too_long_are_forgotten(s: &dyn Store) {
    const DAY: i64 = 86_400;
    let day = Duration::from_secs(86_400);
    for chat in ["old", "recent", "live"] {
        s.subscribe(&tg(chat), &board_of("Stock"), &filter_of("tag:新聞"), 0)
            .await
            .unwrap();
        s.subscribe(&tg(chat), &board_of("Gossiping"), &filter_of(""), 0)
            .await
            .unwrap();
    }
    let d = digest("Stock", "M.1769580000.A.001", "[新聞] a");
    s.accept_post(&d, &[tg("old"), tg("recent"), tg("live")], 1)
        .await
        .unwrap();
    s.pause_chat(TELEGRAM, "old", "blocked", 2).await.unwrap();
    s.pause_chat(TELEGRAM, "recent", "blocked", 20 * DAY)
        .await
        .unwrap();
    let now = 31 * DAY;
    let gone = s.forget_gone_chats(now, 30 * day).await.unwrap();
    assert_eq!(
        gone,
        [ptt_relay::store::GoneChat {
            platform: TELEGRAM,
            chat: "old".into(),
            subscriptions: 2,
        }]
    );
    assert!(s.subscriptions_of(&tg("old")).await.unwrap().is_empty());
    assert_eq!(s.subscriptions_of(&tg("recent")).await.unwrap().len(), 2);
    assert_eq!(s.subscriptions_of(&tg("live")).await.unwrap().len(), 2);
    assert!(
        !s.resume_chat(TELEGRAM, "old").await.unwrap(),
        "a forgotten chat is no longer paused"
    );
    // Its row expired; the others still wait (one of them paused).
    assert_eq!(s.outbox_depth(Some(TELEGRAM)).await.unwrap(), 2);
    assert!(
        s.forget_gone_chats(now, 30 * day).await.unwrap().is_empty(),
        "once"
    );
}

async fn pause_resume_and_chat_groups(s: &dyn Store) {
    let chat = dc("c1");
    s.subscribe(&chat, &board_of("Stock"), &filter_of("kw:a"), 1)
        .await
        .unwrap();
    s.pause_chat(DISCORD, "c1", "Missing Access", 2)
        .await
        .unwrap();
    s.pause_chat(DISCORD, "c1", "again", 3).await.unwrap();
    assert!(s.subscriptions_of(&chat).await.unwrap()[0].paused);
    assert!(s.subscriptions_for_board(&board_of("Stock")).await.unwrap()[0].paused);
    assert!(
        !s.resume_chat(TELEGRAM, "c1").await.unwrap(),
        "pauses are per platform"
    );
    assert!(s.resume_chat(DISCORD, "c1").await.unwrap());
    assert!(!s.resume_chat(DISCORD, "c1").await.unwrap());
    assert!(!s.subscriptions_of(&chat).await.unwrap()[0].paused);

    s.set_chat_group(DISCORD, "c1", "g1").await.unwrap();
    s.set_chat_group(DISCORD, "c2", "g1").await.unwrap();
    s.set_chat_group(DISCORD, "c3", "g2").await.unwrap();
    s.set_chat_group(TELEGRAM, "c4", "g1").await.unwrap();
    assert_eq!(
        sorted(s.chats_in_group(DISCORD, "g1").await.unwrap()),
        ["c1", "c2"]
    );
    // A chat belongs to one group: setting again moves it.
    s.set_chat_group(DISCORD, "c1", "g2").await.unwrap();
    assert_eq!(
        sorted(s.chats_in_group(DISCORD, "g2").await.unwrap()),
        ["c1", "c3"]
    );
    assert_eq!(s.chats_in_group(DISCORD, "g1").await.unwrap(), ["c2"]);
    assert!(s.chats_in_group(DISCORD, "nope").await.unwrap().is_empty());
}

async fn move_chat_moves_what_does_not_collide(s: &dyn Store) {
    let old = tg("-1");
    let new = tg("-100");
    s.subscribe(&old, &board_of("Stock"), &filter_of("kw:a"), 1)
        .await
        .unwrap();
    s.subscribe(&old, &board_of("Stock"), &filter_of("kw:b"), 1)
        .await
        .unwrap();
    // Already at the new id: the same filter "a" (id 1).
    s.subscribe(&new, &board_of("Stock"), &filter_of("kw:a"), 1)
        .await
        .unwrap();
    s.accept_post(
        &digest("Stock", "M.1.A.1", "one"),
        std::slice::from_ref(&old),
        10,
    )
    .await
    .unwrap();
    let rows = s.due_rows(TELEGRAM, 10, &[], 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    s.mark_sent(&rows[0], "m1", 11).await.unwrap();
    s.accept_post(
        &digest("Stock", "M.2.A.1", "two"),
        std::slice::from_ref(&old),
        12,
    )
    .await
    .unwrap();
    s.pause_chat(TELEGRAM, "-1", "gone", 13).await.unwrap();

    s.move_chat(TELEGRAM, "-1", "-100").await.unwrap();

    let moved: Vec<(i64, String)> = s
        .subscriptions_of(&new)
        .await
        .unwrap()
        .into_iter()
        .map(|x| (x.id, x.filter.canonical()))
        .collect();
    assert_eq!(
        moved,
        [
            (1, "tag:新聞 kw:a".to_string()),
            (2, "tag:新聞 kw:b".to_string())
        ]
    );
    // The colliding subscription stays behind, as it was.
    let left: Vec<(i64, String)> = s
        .subscriptions_of(&old)
        .await
        .unwrap()
        .into_iter()
        .map(|x| (x.id, x.filter.canonical()))
        .collect();
    assert_eq!(left, [(1, "tag:新聞 kw:a".to_string())]);
    assert_eq!(
        s.sent_messages("M.1.A.1").await.unwrap(),
        [SentMessage {
            dest: new.clone(),
            message_id: "m1".into()
        }]
    );
    // The pause moved too; once resumed, the pending row goes to the new id.
    assert!(s.due_rows(TELEGRAM, 20, &[], 10).await.unwrap().is_empty());
    assert!(s.resume_chat(TELEGRAM, "-100").await.unwrap());
    let rows = s.due_rows(TELEGRAM, 20, &[], 10).await.unwrap();
    assert_eq!(ids(&rows), ["M.2.A.1>telegram:-100"]);
}

async fn due_rows_takes_each_destinations_oldest_due_row(s: &dyn Store) {
    let (a, b, c, d) = (tg("a"), tg("b"), tg("c"), tg_thread("a", "t"));
    let e = dc("e");
    for (n, dests) in [
        (1, vec![a.clone(), b.clone(), e.clone()]),
        (2, vec![a.clone(), c.clone(), d.clone()]),
        (3, vec![a.clone(), b.clone()]),
    ] {
        let id = format!("M.{n}.A.1");
        s.accept_post(&digest("Stock", &id, &id), &dests, 100 + n)
            .await
            .unwrap();
    }
    // Not yet due (queued at 101..103): nothing.
    assert!(s.due_rows(TELEGRAM, 100, &[], 10).await.unwrap().is_empty());
    // One row per destination, its oldest, in queue order; a thread is its
    // own destination; other platforms are not included.
    let rows = s.due_rows(TELEGRAM, 200, &[], 10).await.unwrap();
    assert_eq!(
        ids(&rows),
        [
            "M.1.A.1>telegram:a",
            "M.1.A.1>telegram:b",
            "M.2.A.1>telegram:c",
            "M.2.A.1>telegram:a/t"
        ]
    );
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(rows[0].attempts, 0);
    assert_eq!(rows[0].created_at, 101);
    assert_eq!(rows[0].digest.title.as_deref(), Some("M.1.A.1"));
    // What due_rows hands out is in flight (PostgreSQL claims it) until an
    // outcome is recorded: give it back with an uncounted retry.
    release(s, &rows).await;
    // Limit: the oldest first.
    let few = s.due_rows(TELEGRAM, 200, &[], 2).await.unwrap();
    assert_eq!(ids(&few), ["M.1.A.1>telegram:a", "M.1.A.1>telegram:b"]);
    release(s, &few).await;
    // Busy destinations are skipped (a busy Discord "b" is another one).
    let rows = s
        .due_rows(TELEGRAM, 200, &[a.clone(), c.clone(), dc("b")], 10)
        .await
        .unwrap();
    assert_eq!(ids(&rows), ["M.1.A.1>telegram:b", "M.2.A.1>telegram:a/t"]);
    release(s, &rows).await;
    // Paused chats are skipped (all their threads).
    s.pause_chat(TELEGRAM, "a", "gone", 150).await.unwrap();
    let rows = s.due_rows(TELEGRAM, 200, &[], 10).await.unwrap();
    assert_eq!(ids(&rows), ["M.1.A.1>telegram:b", "M.2.A.1>telegram:c"]);
    release(s, &rows).await;
    assert!(s.resume_chat(TELEGRAM, "a").await.unwrap());
    // A head that is not due holds its destination back: order is kept.
    let rows = s.due_rows(TELEGRAM, 200, &[], 10).await.unwrap();
    assert_eq!(rows.len(), 4);
    let a_row = rows.iter().find(|r| r.dest == a).unwrap().id;
    for r in &rows {
        let at = if r.id == a_row { 500 } else { 150 };
        s.mark_retry(r, at, "later", r.id == a_row).await.unwrap();
    }
    let rows = s.due_rows(TELEGRAM, 200, &[], 10).await.unwrap();
    assert_eq!(rows.len(), 3);
    assert!(!rows.iter().any(|r| r.dest == a), "{:?}", ids(&rows));
    release(s, &rows).await;
    let rows = s.due_rows(TELEGRAM, 500, &[], 10).await.unwrap();
    let head = rows.iter().find(|r| r.dest == a).unwrap();
    assert_eq!(head.id, a_row);
    assert_eq!(head.attempts, 1, "a counted retry");
    // Sending the head brings the destination's next row.
    s.mark_sent(head, "m", 501).await.unwrap();
    let others: Vec<OutboxRow> = rows.iter().filter(|r| r.dest != a).cloned().collect();
    release(s, &others).await;
    let rows = s.due_rows(TELEGRAM, 502, &[], 10).await.unwrap();
    assert!(
        ids(&rows).contains(&"M.2.A.1>telegram:a".to_string()),
        "{:?}",
        ids(&rows)
    );
    let discord = s.due_rows(DISCORD, 502, &[], 10).await.unwrap();
    assert_eq!(ids(&discord), ["M.1.A.1>discord:e"]);
}

/// Issue 12, kind 6: a sender whose claim expired while it waited (in the
/// pacer, or a long `retry_after`) and was taken by another sender cannot
/// record an outcome or renew: it gets `ClaimLost` and nothing changes.
async fn claims_are_fenced_by_their_token(s: &dyn Store) {
    let x = tg("x");
    s.accept_post(
        &digest("Stock", "M.1.A.1", "one"),
        std::slice::from_ref(&x),
        100,
    )
    .await
    .unwrap();
    let first = s.due_rows(TELEGRAM, 1000, &[], 5).await.unwrap();
    assert_eq!(ids(&first), ["M.1.A.1>telegram:x"]);
    assert!(!first[0].claim.is_empty());
    // Claimed: nobody is handed it again until the claim expires; a renewal
    // with the token extends it.
    assert!(
        s.due_rows(TELEGRAM, 1000 + CLAIM_SECS - 1, &[], 5)
            .await
            .unwrap()
            .is_empty()
    );
    s.renew_claim(&first[0], 1030).await.unwrap();
    assert!(
        s.due_rows(TELEGRAM, 1030 + CLAIM_SECS - 1, &[], 5)
            .await
            .unwrap()
            .is_empty(),
        "the renewal extended the claim"
    );
    // The claim expires; the row is handed out again with a new token.
    let second = s
        .due_rows(TELEGRAM, 1030 + CLAIM_SECS, &[], 5)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_ne!(second[0].claim, first[0].claim);
    // The first sender's late outcomes and renewals are refused.
    let lost = |r: std::result::Result<(), StoreError>| matches!(r, Err(StoreError::ClaimLost { row }) if row == first[0].id);
    assert!(lost(s.mark_sent(&first[0], "stale", 1100).await));
    assert!(lost(s.mark_retry(&first[0], 1100, "stale", true).await));
    assert!(lost(s.mark_rejected(&first[0], "stale", 1100).await));
    assert!(lost(s.renew_claim(&first[0], 1100).await));
    assert!(s.sent_messages("M.1.A.1").await.unwrap().is_empty());
    assert_eq!(s.outbox_depth(None).await.unwrap(), 1);
    assert!(
        s.due_rows(TELEGRAM, 1101, &[], 5).await.unwrap().is_empty(),
        "the second claim stands"
    );
    // The holder's outcome lands, once.
    s.mark_sent(&second[0], "m-2", 1102).await.unwrap();
    assert_eq!(
        s.sent_messages("M.1.A.1").await.unwrap(),
        [SentMessage {
            dest: x.clone(),
            message_id: "m-2".into()
        }]
    );
    assert_eq!(s.outbox_depth(None).await.unwrap(), 0);
    assert!(matches!(
        s.mark_sent(&second[0], "again", 1103).await,
        Err(StoreError::ClaimLost { .. })
    ));
}

/// Gives rows back without counting an attempt (due again at 150).
async fn release(s: &dyn Store, rows: &[OutboxRow]) {
    for r in rows {
        s.mark_retry(r, 150, "test", false).await.unwrap();
    }
}

async fn delivery_outcomes_and_outbox_measures(s: &dyn Store) {
    assert_eq!(s.outbox_depth(None).await.unwrap(), 0);
    assert_eq!(s.oldest_pending_at().await.unwrap(), None);
    assert_eq!(s.next_due_at(TELEGRAM).await.unwrap(), None);
    let a = tg("a");
    s.accept_post(&digest("Stock", "M.1.A.1", "1"), &[a.clone(), dc("d")], 100)
        .await
        .unwrap();
    s.accept_post(
        &digest("Stock", "M.2.A.1", "2"),
        std::slice::from_ref(&a),
        110,
    )
    .await
    .unwrap();
    s.accept_post(
        &digest("Stock", "M.3.A.1", "3"),
        std::slice::from_ref(&a),
        120,
    )
    .await
    .unwrap();
    assert_eq!(s.outbox_depth(None).await.unwrap(), 4);
    assert_eq!(s.outbox_depth(Some(TELEGRAM)).await.unwrap(), 3);
    assert_eq!(s.outbox_depth(Some(DISCORD)).await.unwrap(), 1);
    assert_eq!(s.outbox_depth(Some(Platform::CONSOLE)).await.unwrap(), 0);
    assert_eq!(s.oldest_pending_at().await.unwrap(), Some(100));
    assert_eq!(s.next_due_at(TELEGRAM).await.unwrap(), Some(100));

    // Rate limited: not counted as an attempt; transient: counted.
    let r1 = s.due_rows(TELEGRAM, 130, &[], 5).await.unwrap();
    assert_eq!(ids(&r1), ["M.1.A.1>telegram:a"]);
    s.mark_retry(&r1[0], 140, "rate limited", false)
        .await
        .unwrap();
    // The next row a worker can take is this retry at 140: the rows queued
    // at 110 and 120 wait behind it (same destination), so they do not
    // make the worker wake before then.
    assert_eq!(s.next_due_at(TELEGRAM).await.unwrap(), Some(140));
    // A paused destination's rows are nothing to wake up for.
    s.pause_chat(TELEGRAM, "a", "blocked", 131).await.unwrap();
    assert_eq!(s.next_due_at(TELEGRAM).await.unwrap(), None);
    assert!(s.resume_chat(TELEGRAM, "a").await.unwrap());
    assert_eq!(s.next_due_at(TELEGRAM).await.unwrap(), Some(140));
    assert!(s.due_rows(TELEGRAM, 139, &[], 5).await.unwrap().is_empty());
    let r1 = s.due_rows(TELEGRAM, 140, &[], 5).await.unwrap();
    assert_eq!(r1[0].attempts, 0);
    s.mark_retry(&r1[0], 150, "timeout", true).await.unwrap();
    let r1 = s.due_rows(TELEGRAM, 150, &[], 5).await.unwrap();
    assert_eq!(r1[0].attempts, 1);

    // Sent: recorded with its message id; the next row comes.
    s.mark_sent(&r1[0], "msg-1", 151).await.unwrap();
    assert_eq!(
        s.sent_messages("M.1.A.1").await.unwrap(),
        [SentMessage {
            dest: a.clone(),
            message_id: "msg-1".into()
        }]
    );
    assert!(s.sent_messages("M.2.A.1").await.unwrap().is_empty());
    assert_eq!(s.outbox_depth(None).await.unwrap(), 3);
    assert_eq!(s.oldest_pending_at().await.unwrap(), Some(100), "discord's");
    let r2 = s.due_rows(TELEGRAM, 152, &[], 5).await.unwrap();
    assert_eq!(ids(&r2), ["M.2.A.1>telegram:a"]);

    // Rejected: finished without a message; the next row comes.
    s.mark_rejected(&r2[0], "400 Bad Request", 153)
        .await
        .unwrap();
    assert!(s.sent_messages("M.2.A.1").await.unwrap().is_empty());
    assert_eq!(s.outbox_depth(Some(TELEGRAM)).await.unwrap(), 1);
    let r3 = s.due_rows(TELEGRAM, 154, &[], 5).await.unwrap();
    assert_eq!(ids(&r3), ["M.3.A.1>telegram:a"]);
    s.mark_sent(&r3[0], "msg-3", 155).await.unwrap();
    assert!(s.due_rows(TELEGRAM, 999, &[], 5).await.unwrap().is_empty());
    assert_eq!(s.next_due_at(TELEGRAM).await.unwrap(), None);
    assert_eq!(s.outbox_depth(None).await.unwrap(), 1);
}

/// A track start on `board` (leaked: a few bytes a test, so that the
/// start can be kept and spread over many statements).
fn start<'a>(board: &str, id: &'a PostId, now: i64) -> TrackStart<'a> {
    TrackStart {
        board: Box::leak(Box::new(board_of(board))),
        id,
        relayed: false,
        threshold: None,
        hot: false,
        marker: "",
        tally: None,
        now,
        until_at: now + 1000,
        first_step_secs: 120,
    }
}

async fn hot_candidates_keep_an_hour_of_push_samples(s: &dyn Store) {
    let p = pid("M.1.A.1");
    let stock = board_of("Stock");
    s.track(&TrackStart {
        hot: true,
        ..start("Stock", &p, 100)
    })
    .await
    .unwrap();
    // Widening by a push:N or a relay keeps it a hot candidate.
    s.track(&TrackStart {
        relayed: true,
        ..start("Stock", &p, 110)
    })
    .await
    .unwrap();
    let t = &s.tracked_posts(&stock, 110).await.unwrap()[0];
    assert!(t.hot && t.relayed);
    let sample = |at, lo, hi| PushSample { at, lo, hi };
    for x in [
        sample(100, 5, 5),
        sample(160, 100, 1_000_000),
        sample(400, -29, -20),
    ] {
        s.record_push_sample(&stock, &p, x).await.unwrap();
    }
    // The article's count at the same second replaces the marker's range.
    s.record_push_sample(&stock, &p, sample(160, 130, 130))
        .await
        .unwrap();
    assert_eq!(
        s.push_samples(&stock, &p, 100).await.unwrap(),
        vec![
            sample(100, 5, 5),
            sample(160, 130, 130),
            sample(400, -29, -20)
        ]
    );
    assert_eq!(
        s.push_samples(&stock, &p, 161).await.unwrap(),
        vec![sample(400, -29, -20)]
    );
    assert!(
        s.push_samples(&board_of("Tech_Job"), &p, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // An hour later the first two are forgotten.
    s.untrack_expired(160 + 3600 + 1).await.unwrap();
    assert_eq!(
        s.push_samples(&stock, &p, 0).await.unwrap(),
        vec![sample(400, -29, -20)]
    );
}

async fn tracking_starts_widens_and_schedules(s: &dyn Store) {
    let p1 = pid("M.1.A.1");
    let p2 = pid("M.2.A.1");
    let p3 = pid("M.3.A.1");
    // A candidate of push:30, then of push:10, then relayed.
    s.track(&TrackStart {
        threshold: Some(30),
        marker: "5",
        ..start("Stock", &p1, 100)
    })
    .await
    .unwrap();
    let t = &s.tracked_posts(&board_of("Stock"), 100).await.unwrap()[0];
    assert_eq!(
        (t.relayed, t.threshold, t.marker.as_str(), t.tally),
        (false, Some(30), "5", None)
    );
    assert_eq!(
        (t.until_at, t.next_check_at, t.step_secs, t.fetch_due),
        (1100, 220, 120, false)
    );
    s.track(&TrackStart {
        threshold: Some(50),
        ..start("Stock", &p1, 150)
    })
    .await
    .unwrap();
    s.track(&TrackStart {
        threshold: Some(10),
        tally: Some(tally(3, 1)),
        ..start("Stock", &p1, 160)
    })
    .await
    .unwrap();
    s.track(&TrackStart {
        relayed: true,
        ..start("Stock", &p1, 170)
    })
    .await
    .unwrap();
    let t = &s.tracked_posts(&board_of("Stock"), 170).await.unwrap()[0];
    assert!(t.relayed);
    assert_eq!(t.threshold, Some(10), "the smallest push:N");
    assert_eq!(t.tally, Some(tally(3, 1)), "kept when not given again");
    assert_eq!(t.marker, "5", "widening keeps the marker");
    assert_eq!(t.until_at, 1100, "widening keeps the window");
    // Not relayed again: stays relayed.
    s.track(&start("Stock", &p1, 180)).await.unwrap();
    assert!(s.tracked_posts(&board_of("Stock"), 180).await.unwrap()[0].relayed);
    // A relayed post without a threshold, then a threshold.
    s.track(&TrackStart {
        relayed: true,
        ..start("Stock", &p2, 100)
    })
    .await
    .unwrap();
    s.track(&TrackStart {
        threshold: Some(20),
        ..start("Stock", &p2, 100)
    })
    .await
    .unwrap();
    // A candidate only, on another board.
    s.track(&TrackStart {
        threshold: Some(99),
        ..start("Tech_Job", &p3, 100)
    })
    .await
    .unwrap();
    let stock = s.tracked_posts(&board_of("Stock"), 200).await.unwrap();
    assert_eq!(stock.len(), 2);
    let t2 = stock.iter().find(|t| t.id == p2).unwrap();
    assert_eq!((t2.relayed, t2.threshold), (true, Some(20)));
    assert_eq!(s.count_tracked(200).await.unwrap(), 3);
    // The window ends: not listed, not counted.
    assert!(
        s.tracked_posts(&board_of("Stock"), 1100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.count_tracked(1100).await.unwrap(), 0);

    // Due checks: a changed marker first, then relayed posts whose schedule
    // is due; a candidate never by schedule alone.
    assert!(s.due_tally_checks(219, 10).await.unwrap().is_empty());
    let due: HashSet<PostId> = s
        .due_tally_checks(300, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(due, HashSet::from([p1.clone(), p2.clone()]));
    s.set_tracked_marker(&board_of("Tech_Job"), &p3, "爆", true)
        .await
        .unwrap();
    s.set_tracked_marker(&board_of("Stock"), &p2, "7", true)
        .await
        .unwrap();
    // A later marker without a change request keeps the request.
    s.set_tracked_marker(&board_of("Stock"), &p2, "8", false)
        .await
        .unwrap();
    let due = s.due_tally_checks(200, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|t| t.id.clone()).collect::<HashSet<_>>(),
        HashSet::from([p2.clone(), p3.clone()])
    );
    assert!(due.iter().all(|t| t.fetch_due));
    let p2t = due.iter().find(|t| t.id == p2).unwrap();
    assert_eq!(p2t.marker, "8");
    let due = s.due_tally_checks(300, 10).await.unwrap();
    assert_eq!(due.len(), 3);
    assert!(due[0].fetch_due && due[1].fetch_due && !due[2].fetch_due);
    assert_eq!(due[2].id, p1);
    assert_eq!(s.due_tally_checks(300, 1).await.unwrap().len(), 1);

    // Recording a tally clears the request and sets the next check.
    let mut d = digest("Tech_Job", p3.as_str(), "hot");
    d.tally = tally(120, 3);
    let p3_due = due.iter().find(|t| t.id == p3).unwrap();
    assert_eq!(s.record_tally(p3_due, &d, 900, 240).await.unwrap(), 0);
    let p3t = s.tracked_posts(&board_of("Tech_Job"), 300).await.unwrap();
    let p3t = p3t.iter().find(|t| t.id == p3).unwrap();
    assert!(!p3t.fetch_due);
    assert_eq!((p3t.next_check_at, p3t.step_secs), (900, 240));
    assert_eq!(p3t.tally, Some(tally(120, 3)));

    // Ending: expired and deleted posts are removed.
    assert_eq!(s.untrack_expired(1099).await.unwrap(), 0);
    s.mark_post_deleted(&board_of("Stock"), &p2).await.unwrap();
    assert_eq!(
        s.count_tracked(300).await.unwrap(),
        2,
        "deleted is not counted"
    );
    assert!(
        s.tracked_posts(&board_of("Stock"), 300)
            .await
            .unwrap()
            .iter()
            .all(|t| t.id != p2)
    );
    assert_eq!(s.untrack_expired(1099).await.unwrap(), 1);
    assert_eq!(s.untrack_expired(1100).await.unwrap(), 2);
    assert_eq!(s.count_tracked(0).await.unwrap(), 0);
}

/// Queues a post to `dests` and records every first row as sent.
async fn relay(s: &dyn Store, d: &Digest, dests: &[Destination], at: i64) {
    s.accept_post(d, dests, at).await.unwrap();
    for platform in [TELEGRAM, DISCORD] {
        for row in s.due_rows(platform, at, &[], 50).await.unwrap() {
            let mid = format!("m-{}-{}", row.dest, row.digest.id);
            s.mark_sent(&row, &mid, at).await.unwrap();
        }
    }
}

/// Due edits come oldest message first and, among messages of one second
/// (a fan-out), by post and chat, however the rows were written since:
/// every replica, and every replay of a simulated history, edits in one
/// order. (Ties came back in the order the rows lay on disk, which every
/// update and autovacuum change: replica seed 2 of the simulation once
/// diverged there.)
async fn due_edits_come_in_one_order_whatever_the_rows_history(s: &dyn Store) {
    let id = pid("M.1.A.1");
    let mut d = digest("Stock", id.as_str(), "t");
    d.tally = tally(1, 0);
    let chats: Vec<Destination> = (0..40).map(|i| tg(&format!("c{i:02}"))).collect();
    relay(s, &d, &chats, 100).await;
    s.track(&TrackStart {
        relayed: true,
        tally: Some(d.tally),
        ..start("Stock", &id, 100)
    })
    .await
    .unwrap();
    let post = s
        .tracked_posts(&board_of("Stock"), 100)
        .await
        .unwrap()
        .remove(0);
    // An edit of every message; the first 20 done (their rows rewritten
    // once more), then another tally: all 40 due again.
    for (n, done) in [(2, 20), (3, 0)] {
        let mut next = d.clone();
        next.tally = tally(n, 0);
        assert_eq!(s.record_tally(&post, &next, 300, 240).await.unwrap(), 40);
        for job in s
            .due_edits(TELEGRAM, &[], done)
            .await
            .unwrap()
            .iter()
            .take(done)
        {
            s.edit_done(job).await.unwrap();
        }
    }
    let chats_of =
        |jobs: &[EditJob]| -> Vec<String> { jobs.iter().map(|j| j.dest.chat.clone()).collect() };
    let first: Vec<String> = (0..10).map(|i| format!("c{i:02}")).collect();
    assert_eq!(
        chats_of(&s.due_edits(TELEGRAM, &[], 10).await.unwrap()),
        first
    );
    let busy = [chats[0].clone(), chats[5].clone()];
    let expected: Vec<String> = [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
        .iter()
        .map(|i| format!("c{i:02}"))
        .collect();
    assert_eq!(
        chats_of(&s.due_edits(TELEGRAM, &busy, 10).await.unwrap()),
        expected
    );
}

/// A destination resting (a rate-limited Discord channel waits up to an
/// hour) with many due edits must not hold back another destination's:
/// `due_edits` read `limit + busy` rows oldest first and dropped the busy
/// ones, so six old edits of one resting chat left nothing for the rest.
async fn a_resting_destination_does_not_starve_the_others_edits(s: &dyn Store) {
    let (resting, other) = (tg("resting"), tg("other"));
    let mut posts = Vec::new();
    for i in 0..6i64 {
        posts.push((pid(&format!("M.{}.A.1", 1 + i)), resting.clone(), 100 + i));
    }
    posts.push((pid("M.99.A.1"), other.clone(), 200));
    for (id, dest, at) in &posts {
        let mut d = digest("Stock", id.as_str(), "t");
        d.tally = tally(1, 0);
        relay(s, &d, std::slice::from_ref(dest), *at).await;
        s.track(&TrackStart {
            relayed: true,
            tally: Some(d.tally),
            ..start("Stock", id, *at)
        })
        .await
        .unwrap();
    }
    for post in s.tracked_posts(&board_of("Stock"), 300).await.unwrap() {
        let mut next = s
            .digest(&board_of("Stock"), &post.id)
            .await
            .unwrap()
            .unwrap();
        next.tally = tally(2, 0);
        assert_eq!(s.record_tally(&post, &next, 400, 240).await.unwrap(), 1);
    }
    let jobs = s
        .due_edits(TELEGRAM, std::slice::from_ref(&resting), 4)
        .await
        .unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.dest.clone()).collect::<Vec<_>>(),
        std::slice::from_ref(&other),
        "the other chat's due edit"
    );
    // Without anything busy: one edit per destination, the oldest first.
    let jobs = s.due_edits(TELEGRAM, &[], 4).await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.dest.clone()).collect::<Vec<_>>(),
        [resting, other]
    );
    assert_eq!(jobs[0].digest.id.as_str(), "M.1.A.1");
}

async fn tallies_queue_edits_only_when_the_shown_tally_differs(s: &dyn Store) {
    let id = pid("M.1.A.1");
    let mut d = digest("Stock", id.as_str(), "t");
    d.tally = tally(1, 0);
    let (a, b, c) = (tg("a"), tg("b"), dc("c"));
    relay(s, &d, &[a.clone(), b.clone(), c.clone()], 100).await;
    assert_eq!(s.sent_messages(id.as_str()).await.unwrap().len(), 3);
    s.track(&TrackStart {
        relayed: true,
        tally: Some(d.tally),
        ..start("Stock", &id, 100)
    })
    .await
    .unwrap();
    let post = s
        .tracked_posts(&board_of("Stock"), 100)
        .await
        .unwrap()
        .remove(0);

    // The same tally: nothing to edit.
    assert_eq!(s.record_tally(&post, &d, 300, 240).await.unwrap(), 0);
    assert!(s.due_edits(TELEGRAM, &[], 10).await.unwrap().is_empty());

    // A new tally: one edit per message, the digest kept current.
    let mut d2 = d.clone();
    d2.tally = tally(5, 1);
    assert_eq!(s.record_tally(&post, &d2, 300, 240).await.unwrap(), 3);
    assert_eq!(
        s.digest(&board_of("Stock"), &id).await.unwrap(),
        Some(d2.clone())
    );
    let edits = s.due_edits(TELEGRAM, &[], 10).await.unwrap();
    assert_eq!(
        sorted(edits.iter().map(|e| e.dest.clone()).collect()),
        [a.clone(), b.clone()]
    );
    assert!(edits.iter().all(|e| e.digest == d2 && !e.deleted));
    let ea = edits.iter().find(|e| e.dest == a).unwrap().clone();
    assert_eq!(ea.message_id, "m-telegram:a-M.1.A.1");
    assert_eq!(s.due_edits(TELEGRAM, &[], 1).await.unwrap().len(), 1);
    assert_eq!(
        s.due_edits(TELEGRAM, std::slice::from_ref(&a), 10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.dest.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&b),
        "busy destinations wait"
    );
    // Edits coalesce: a newer tally while queued is still one edit.
    let mut d3 = d.clone();
    d3.tally = tally(9, 1);
    assert_eq!(s.record_tally(&post, &d3, 300, 240).await.unwrap(), 3);
    let edits = s.due_edits(TELEGRAM, &[], 10).await.unwrap();
    assert_eq!(edits.len(), 2);
    assert!(edits.iter().all(|e| e.digest == d3));
    let ea = edits.iter().find(|e| e.dest == a).unwrap().clone();
    let eb = edits.iter().find(|e| e.dest == b).unwrap().clone();

    // Done: a shows d3. Gone: b is never edited again.
    s.edit_done(&ea).await.unwrap();
    s.edit_gone(&eb).await.unwrap();
    assert!(s.due_edits(TELEGRAM, &[], 10).await.unwrap().is_empty());
    let ec = s.due_edits(DISCORD, &[], 10).await.unwrap();
    assert_eq!(ec.len(), 1);
    s.edit_done(&ec[0]).await.unwrap();
    assert_eq!(
        s.record_tally(&post, &d3, 300, 240).await.unwrap(),
        0,
        "every editable message shows this tally"
    );
    let mut d4 = d.clone();
    d4.tally = tally(9, 2);
    assert_eq!(s.record_tally(&post, &d4, 300, 240).await.unwrap(), 2);
    let edits = s.due_edits(TELEGRAM, &[], 10).await.unwrap();
    assert_eq!(
        edits.iter().map(|e| e.dest.clone()).collect::<Vec<_>>(),
        [a]
    );
}

async fn a_deleted_post_is_marked_once(s: &dyn Store) {
    let id = pid("M.1.A.1");
    let d = digest("Stock", id.as_str(), "t");
    relay(s, &d, &[tg("a"), dc("c")], 100).await;
    s.track(&TrackStart {
        relayed: true,
        ..start("Stock", &id, 100)
    })
    .await
    .unwrap();
    assert_eq!(
        s.mark_post_deleted(&board_of("Stock"), &id).await.unwrap(),
        2
    );
    let edits: Vec<EditJob> = s.due_edits(TELEGRAM, &[], 10).await.unwrap();
    assert_eq!(edits.len(), 1);
    assert!(edits[0].deleted);
    s.edit_done(&edits[0]).await.unwrap();
    let dc_edits = s.due_edits(DISCORD, &[], 10).await.unwrap();
    assert!(dc_edits[0].deleted);
    s.edit_done(&dc_edits[0]).await.unwrap();
    assert_eq!(
        s.mark_post_deleted(&board_of("Stock"), &id).await.unwrap(),
        0,
        "messages already marked are not edited again"
    );
    assert!(s.due_edits(TELEGRAM, &[], 10).await.unwrap().is_empty());
    s.set_tracked_marker(&board_of("Stock"), &id, "3", true)
        .await
        .unwrap();
    assert!(
        s.due_tally_checks(150, 10).await.unwrap().is_empty(),
        "a deleted post is not checked again"
    );
    assert_eq!(s.count_tracked(150).await.unwrap(), 0);
}

fn pending(board: &str, id: &str, attempts: u32, next: i64) -> PendingPost {
    PendingPost {
        board: board_of(board),
        id: pid(id),
        title: format!("[新聞] {id}"),
        author: "someid".into(),
        marker: "3".into(),
        first_seen_at: 100,
        attempts,
        next_attempt_at: next,
        last_error: if attempts == 0 {
            String::new()
        } else {
            "HTTP 503 fetching /bbs/x".into()
        },
    }
}

async fn pending_posts_are_kept_replaced_and_removed(s: &dyn Store) {
    assert!(
        s.pending_posts(&board_of("Stock"))
            .await
            .unwrap()
            .is_empty()
    );
    // Oldest id first: by epoch, then the hex by value (1A > B).
    let a = pending("Stock", "M.200.A.1A", 0, 100);
    let b = pending("Stock", "M.200.A.B", 1, 130);
    let c = pending("Stock", "M.150.A.FFF", 2, 160);
    let other = pending("Tech", "M.100.A.1", 0, 100);
    for p in [&a, &b, &c, &other] {
        s.put_pending(p).await.unwrap();
    }
    assert_eq!(
        s.pending_posts(&board_of("Stock")).await.unwrap(),
        vec![c.clone(), b.clone(), a.clone()]
    );
    // Replacing keeps one record per post, with the new values.
    let b2 = PendingPost {
        attempts: 2,
        next_attempt_at: 190,
        last_error: "article page cut off".into(),
        marker: "5".into(),
        ..b.clone()
    };
    s.put_pending(&b2).await.unwrap();
    assert_eq!(
        s.pending_posts(&board_of("Stock")).await.unwrap(),
        vec![c.clone(), b2, a.clone()]
    );
    s.remove_pending(&board_of("Stock"), &c.id).await.unwrap();
    s.remove_pending(&board_of("Stock"), &pid("M.1.A.1"))
        .await
        .unwrap();
    // The same id on another board is another post.
    s.remove_pending(&board_of("Tech"), &a.id).await.unwrap();
    let left: Vec<PostId> = s
        .pending_posts(&board_of("Stock"))
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(left, vec![b.id.clone(), a.id.clone()]);
    assert_eq!(
        s.pending_posts(&board_of("Tech")).await.unwrap(),
        vec![other]
    );
    // Pending is not seen: the two are separate records.
    assert!(!s.is_seen(&board_of("Stock"), &a.id).await.unwrap());
}

async fn prune_expires_and_deletes_but_keeps_marks(s: &dyn Store) {
    const DAY: i64 = 86_400;
    let now = 100 * DAY;
    s.raise_mark(&board_of("Stock"), &pid("M.1.A.1"))
        .await
        .unwrap();
    s.mark_seen(&board_of("Stock"), &[pid("M.1.A.1")], now - 40 * DAY)
        .await
        .unwrap();
    s.mark_seen(&board_of("Stock"), &[pid("M.2.A.1")], now - DAY)
        .await
        .unwrap();
    // Old, sent long ago: everything about it goes.
    relay(
        s,
        &digest("Stock", "M.1.A.1", "old"),
        &[tg("a")],
        now - 40 * DAY,
    )
    .await;
    // Undelivered for two days: expires (kept while within retention).
    s.accept_post(
        &digest("Stock", "M.2.A.1", "late"),
        &[tg("b")],
        now - 2 * DAY,
    )
    .await
    .unwrap();
    // Fresh.
    s.accept_post(&digest("Stock", "M.3.A.1", "new"), &[tg("c")], now - 60)
        .await
        .unwrap();
    let (expired, deleted) = s
        .prune(
            now,
            Duration::from_secs(24 * 3600),
            Duration::from_secs(30 * 24 * 3600),
        )
        .await
        .unwrap();
    assert_eq!(expired, 1);
    // The sent row, one seen post, one digest, one sent message.
    assert_eq!(deleted, 4);
    assert_eq!(s.outbox_depth(None).await.unwrap(), 1);
    assert_eq!(s.oldest_pending_at().await.unwrap(), Some(now - 60));
    assert!(
        !s.is_seen(&board_of("Stock"), &pid("M.1.A.1"))
            .await
            .unwrap()
    );
    assert!(
        s.is_seen(&board_of("Stock"), &pid("M.2.A.1"))
            .await
            .unwrap()
    );
    assert_eq!(
        s.digest(&board_of("Stock"), &pid("M.1.A.1")).await.unwrap(),
        None
    );
    assert!(
        s.digest(&board_of("Stock"), &pid("M.2.A.1"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(s.sent_messages("M.1.A.1").await.unwrap().is_empty());
    assert_eq!(
        s.board_state(&board_of("Stock")).await.unwrap().mark,
        Some(pid("M.1.A.1")),
        "marks are never lowered or removed"
    );
    // The expired row is finished: pruned once retention passes.
    let (expired, deleted) = s
        .prune(
            now + 31 * DAY,
            Duration::from_secs(24 * 3600),
            Duration::from_secs(30 * 24 * 3600),
        )
        .await
        .unwrap();
    assert_eq!(expired, 1, "the fresh row expires too");
    // The expired row (done at `now`), one seen post, two digests; the
    // just-expired row stays for retention.
    assert_eq!(deleted, 4);
    assert_eq!(s.outbox_depth(None).await.unwrap(), 0);
}

// ----------------------------------------------------- PostgreSQL only

async fn pg_schema() -> Option<TestSchema> {
    let admin = pg_url()?;
    Some(TestSchema::create(&admin).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_send_the_same_row_and_keep_order() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    let a = PostgresStore::open(&schema.url, "replica-a".into())
        .await
        .unwrap();
    let b = PostgresStore::open(&schema.url, "replica-b".into())
        .await
        .unwrap();
    let dests: Vec<Destination> = (0..20).map(|n| tg(&format!("chat-{n:02}"))).collect();
    for n in 0..10 {
        let id = format!("M.{}.A.1", 1000 + n);
        assert_eq!(
            a.accept_post(&digest("Stock", &id, &id), &dests, 100)
                .await
                .unwrap(),
            20
        );
    }
    // (replica, row id, destination), in the order the sends began.
    let log: Arc<Mutex<Vec<(String, i64, Destination)>>> = Arc::default();
    let run = |store: Arc<PostgresStore>, log: Arc<Mutex<Vec<(String, i64, Destination)>>>| async move {
        let mut idle = 0;
        while idle < 20 {
            let rows = store.due_rows(TELEGRAM, 200, &[], 8).await.unwrap();
            if rows.is_empty() {
                idle += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            idle = 0;
            let mut sends = tokio::task::JoinSet::new();
            for row in rows {
                let store = Arc::clone(&store);
                let log = Arc::clone(&log);
                sends.spawn(async move {
                    log.lock().unwrap().push((
                        store.replica_id().to_owned(),
                        row.id,
                        row.dest.clone(),
                    ));
                    tokio::time::sleep(Duration::from_millis(rand::random_range(0..3))).await;
                    store.mark_sent(&row, "m", 201).await.unwrap();
                });
            }
            while let Some(r) = sends.join_next().await {
                r.unwrap();
            }
        }
    };
    tokio::join!(
        run(Arc::clone(&a), Arc::clone(&log)),
        run(Arc::clone(&b), Arc::clone(&log))
    );
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 200, "every row sent exactly once");
    let unique: HashSet<i64> = log.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(unique.len(), 200, "no row sent twice");
    let mut per_dest: BTreeMap<Destination, Vec<i64>> = BTreeMap::new();
    for (_, id, dest) in &log {
        per_dest.entry(dest.clone()).or_default().push(*id);
    }
    assert_eq!(per_dest.len(), 20);
    for (dest, sent) in &per_dest {
        assert!(
            sent.windows(2).all(|w| w[0] < w[1]),
            "{dest} out of order: {sent:?}"
        );
    }
    let by_a = log.iter().filter(|(r, _, _)| r == "replica-a").count();
    println!("replica-a sent {by_a}, replica-b sent {}", 200 - by_a);
    assert_eq!(a.outbox_depth(None).await.unwrap(), 0);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_claim_holds_its_destination_until_it_expires() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    let a = PostgresStore::open(&schema.url, "replica-a".into())
        .await
        .unwrap();
    let b = PostgresStore::open(&schema.url, "replica-b".into())
        .await
        .unwrap();
    let chat = tg("x");
    for n in 1..=2 {
        let id = format!("M.{n}.A.1");
        a.accept_post(&digest("Stock", &id, &id), &[chat.clone(), tg("y")], 100)
            .await
            .unwrap();
    }
    let taken = a.due_rows(TELEGRAM, 1000, &[], 1).await.unwrap();
    assert_eq!(ids(&taken), ["M.1.A.1>telegram:x"]);
    // Neither that row nor its destination's next row for anyone while the
    // claim holds; other destinations are free.
    let other = b.due_rows(TELEGRAM, 1000, &[], 10).await.unwrap();
    assert_eq!(ids(&other), ["M.1.A.1>telegram:y"]);
    b.mark_retry(&other[0], 5000, "later", false).await.unwrap();
    assert!(
        a.due_rows(TELEGRAM, 1000 + CLAIM_SECS - 1, &[], 10)
            .await
            .unwrap()
            .is_empty(),
        "even the claimer does not take it twice"
    );
    // Replica a "dies": once its claim expires, b takes the row.
    let retaken = b
        .due_rows(TELEGRAM, 1000 + CLAIM_SECS, &[], 10)
        .await
        .unwrap();
    assert_eq!(ids(&retaken), ["M.1.A.1>telegram:x"]);
    assert_eq!(retaken[0].id, taken[0].id);
    // A late outcome from a does not free b's claim: it is refused.
    assert!(matches!(
        a.mark_retry(&taken[0], 1000, "late", true).await,
        Err(StoreError::ClaimLost { .. })
    ));
    assert!(
        a.due_rows(TELEGRAM, 1000 + CLAIM_SECS + 1, &[], 10)
            .await
            .unwrap()
            .is_empty()
    );
    b.mark_sent(&retaken[0], "m", 1100).await.unwrap();
    let next = a.due_rows(TELEGRAM, 1101, &[], 10).await.unwrap();
    assert_eq!(ids(&next), ["M.2.A.1>telegram:x"]);
    // close() gives back this replica's claims at once.
    a.close().await;
    let after = b.due_rows(TELEGRAM, 1102, &[], 10).await.unwrap();
    assert_eq!(ids(&after), ["M.2.A.1>telegram:x"]);
    // Pausing a chat drops the pauser's claim on it.
    b.pause_chat(TELEGRAM, "x", "gone", 1103).await.unwrap();
    b.resume_chat(TELEGRAM, "x").await.unwrap();
    let again = b.due_rows(TELEGRAM, 1104, &[], 10).await.unwrap();
    assert_eq!(ids(&again), ["M.2.A.1>telegram:x"]);
    b.close().await;
}

/// Waits up to `secs` for `l` to take the lead.
async fn acquires_within(l: &mut Leadership, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if l.try_acquire().await.unwrap_or(false) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn only_one_replica_leads_and_another_takes_over_when_it_goes() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    let store = PostgresStore::open(&schema.url, "replica-a".into())
        .await
        .unwrap();
    assert_eq!(store.leader().await.unwrap(), None);
    let mut a = Leadership::new(&schema.url, "replica-a".into()).unwrap();
    let mut b = Leadership::new(&schema.url, "replica-b".into()).unwrap();
    let mut c = Leadership::new(&schema.url, "replica-c".into()).unwrap();
    assert!(a.try_acquire().await.unwrap());
    assert!(a.is_leader());
    assert!(!b.try_acquire().await.unwrap());
    assert!(!c.try_acquire().await.unwrap());
    assert!(!b.is_leader());
    assert!(a.try_acquire().await.unwrap(), "the leader stays leader");
    assert!(!b.try_acquire().await.unwrap());
    a.ping().await.unwrap();
    assert!(b.ping().await.is_err(), "a follower has nothing to ping");
    let info = store.leader().await.unwrap().expect("a leader row");
    assert_eq!(info.replica_id, "replica-a");
    assert!(!info.host.is_empty());
    a.record(info.since + 7).await.unwrap();
    assert_eq!(
        store.leader().await.unwrap().unwrap().last_seen,
        info.since + 7
    );
    b.record(1).await.unwrap();
    assert_eq!(
        store.leader().await.unwrap().unwrap().replica_id,
        "replica-a",
        "a follower does not write the leader row"
    );

    // The leader's connection closes (process gone): b takes over.
    drop(a);
    assert!(acquires_within(&mut b, 5).await, "b leads after a dropped");
    assert_eq!(
        store.leader().await.unwrap().unwrap().replica_id,
        "replica-b"
    );
    assert!(!c.try_acquire().await.unwrap());
    // A release hands over at once.
    b.release().await;
    assert!(!b.is_leader());
    assert!(acquires_within(&mut c, 5).await, "c leads after b released");
    assert!(!b.try_acquire().await.unwrap());
    c.release().await;
    store.close().await;
}

#[tokio::test]
async fn the_leader_loses_the_lead_when_the_server_ends_its_session() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    let store = PostgresStore::open(&schema.url, "replica-a".into())
        .await
        .unwrap();
    let mut a = Leadership::new(&schema.url, "replica-a".into()).unwrap();
    let mut b = Leadership::new(&schema.url, "replica-b".into()).unwrap();
    assert!(a.try_acquire().await.unwrap());
    assert!(!b.try_acquire().await.unwrap());
    // Terminate the backend holding an advisory lock in this schema's
    // sessions (the application name is unique to this test).
    let mut admin = schema.conn().await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
         WHERE a.application_name = $1 AND a.pid <> pg_backend_pid()
           AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid
                       AND l.locktype = 'advisory' AND l.granted)",
    )
    .bind(format!("ptt-{}", schema.name))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, [true], "exactly the leader's backend");
    let _ = admin.close().await;
    assert!(
        a.ping().await.is_err(),
        "ping fails once the session is gone"
    );
    assert!(!a.is_leader());
    assert!(acquires_within(&mut b, 5).await, "b takes over");
    // a competes again (reconnecting) and follows.
    assert!(!a.try_acquire().await.unwrap());
    b.release().await;
    assert!(
        acquires_within(&mut a, 5).await,
        "a reconnects and leads again"
    );
    a.release().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_migrate_once() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    // Hold the replicas at the schema version check, then let them go
    // together: without the migration lock they would all apply schema 1.
    let mut gate = schema.conn().await;
    sqlx::raw_sql(
        "CREATE TABLE schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut gate)
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut gate)
        .await
        .unwrap();
    let opens: Vec<_> = (0..4)
        .map(|n| {
            let url = schema.url.clone();
            tokio::spawn(async move { PostgresStore::open(&url, format!("r{n}")).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::raw_sql("COMMIT").execute(&mut gate).await.unwrap();
    let _ = gate.close().await;
    let mut stores = Vec::new();
    for o in opens {
        stores.push(o.await.unwrap().expect("every replica opens"));
    }
    let mut conn = schema.conn().await;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let known: Vec<i64> = migrate::POSTGRES.iter().map(|m| m.version).collect();
    assert_eq!(versions, known);
    let _ = conn.close().await;
    for s in stores {
        s.ping().await.unwrap();
        s.close().await;
    }
}

#[tokio::test]
async fn a_schema_from_a_newer_release_is_refused() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    PostgresStore::open(&schema.url, "r".into())
        .await
        .unwrap()
        .close()
        .await;
    let mut conn = schema.conn().await;
    sqlx::query(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    match PostgresStore::open(&schema.url, "r".into()).await {
        Err(e @ StoreError::TooNew { found: 999, known })
            if known == migrate::newest(migrate::POSTGRES) =>
        {
            assert!(e.is_usage())
        }
        Err(e) => panic!("expected TooNew, got {e}"),
        Ok(_) => panic!("expected TooNew, the store opened"),
    }
}

#[tokio::test]
async fn sslmode_require_in_the_url_connects_over_tls() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    let mut admin = schema.conn().await;
    let ssl: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    if ssl != "on" {
        println!("skipped: the test server does not offer TLS");
        return;
    }
    let store = PostgresStore::open(&format!("{}&sslmode=require", schema.url), "tls".into())
        .await
        .expect("open over TLS");
    store.ping().await.unwrap();
    let plain: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.application_name = $1 AND a.pid <> pg_backend_pid() AND NOT s.ssl",
    )
    .bind(format!("ptt-{}", schema.name))
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let tls: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.application_name = $1 AND a.pid <> pg_backend_pid() AND s.ssl",
    )
    .bind(format!("ptt-{}", schema.name))
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(tls >= 1, "the pool's connection uses TLS");
    assert_eq!(plain, 0);
    let _ = admin.close().await;
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_an_open_error_with_the_password_masked() {
    // Needs no server: nothing listens on port 1.
    let url = "postgres://postgres:secret@127.0.0.1:1/x";
    match PostgresStore::open(url, "r".into()).await {
        Err(e @ StoreError::Open { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("***"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
            assert!(msg.contains("127.0.0.1:1"), "{msg}");
        }
        Err(e) => panic!("expected Open, got {e}"),
        Ok(_) => panic!("opened a store on port 1"),
    }
    let mut l = Leadership::new(url, "r".into()).unwrap();
    match l.try_acquire().await {
        Err(e @ StoreError::Open { .. }) => assert!(!e.to_string().contains("secret")),
        other => panic!("expected Open, got {:?}", other.map_err(|e| e.to_string())),
    }
    assert!(!l.is_leader());
}

fn board_message(dest: Destination, words: &str, day: &str) -> LeaderboardMessage {
    LeaderboardMessage {
        dest,
        board: board_of("Stock"),
        words: words.into(),
        day: day.into(),
        message_id: None,
        shown: String::new(),
        edited_at: 100,
        is_final: false,
    }
}

async fn leaderboard_messages_are_kept_per_destination_words_and_day(s: &dyn Store) {
    let words = "tag:新聞 top:5";
    assert_eq!(
        s.leaderboard_message(&tg("1"), &board_of("Stock"), words, "2026-01-28")
            .await
            .unwrap(),
        None
    );
    let mut m = board_message(tg("1"), words, "2026-01-28");
    s.put_leaderboard_message(&m).await.unwrap();
    assert_eq!(
        s.leaderboard_message(&tg("1"), &board_of("Stock"), words, "2026-01-28")
            .await
            .unwrap(),
        Some(m.clone()),
        "not posted yet: no message id"
    );
    m.message_id = Some("77".into());
    m.shown = "ranking".into();
    m.edited_at = 200;
    s.put_leaderboard_message(&m).await.unwrap();
    let other_words = board_message(tg("1"), "tag:新聞 top:3", "2026-01-28");
    let thread = board_message(tg_thread("1", "9"), words, "2026-01-28");
    let next_day = board_message(tg("1"), words, "2026-01-29");
    let other_board = LeaderboardMessage {
        board: board_of("Tech_Job"),
        ..board_message(tg("1"), words, "2026-01-28")
    };
    for other in [&other_words, &thread, &next_day, &other_board] {
        s.put_leaderboard_message(other).await.unwrap();
    }
    let got = |dest: Destination, w: &'static str, day: &'static str| async move {
        s.leaderboard_message(&dest, &board_of("Stock"), w, day)
            .await
            .unwrap()
    };
    assert_eq!(
        got(tg("1"), words, "2026-01-28").await,
        Some(m.clone()),
        "replaced"
    );
    assert_eq!(
        s.leaderboard_message(&tg("1"), &board_of("Tech_Job"), words, "2026-01-28")
            .await
            .unwrap(),
        Some(other_board.clone()),
        "the same words on another board are another leaderboard"
    );
    assert_eq!(
        got(tg_thread("1", "9"), words, "2026-01-28").await,
        Some(thread.clone())
    );
    // Open ones of days before the given one, oldest day first.
    let open = s.open_leaderboard_messages("2026-01-29", 10).await.unwrap();
    assert_eq!(
        sorted(open.iter().map(|o| o.words.clone()).collect()),
        [
            "tag:新聞 top:3",
            "tag:新聞 top:5",
            "tag:新聞 top:5",
            "tag:新聞 top:5"
        ]
    );
    assert!(open.iter().all(|o| o.day == "2026-01-28"));
    assert_eq!(
        s.open_leaderboard_messages("2026-01-29", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    let open = s.open_leaderboard_messages("2026-01-30", 10).await.unwrap();
    assert_eq!(open.last().unwrap().day, "2026-01-29");
    m.is_final = true;
    s.put_leaderboard_message(&m).await.unwrap();
    assert_eq!(
        s.open_leaderboard_messages("2026-01-29", 10)
            .await
            .unwrap()
            .len(),
        3
    );
    // A group that became a supergroup takes its leaderboards along.
    s.move_chat(TELEGRAM, "1", "-1001").await.unwrap();
    let moved = got(tg("-1001"), words, "2026-01-28").await.unwrap();
    assert_eq!(moved.message_id.as_deref(), Some("77"));
    assert_eq!(got(tg("1"), words, "2026-01-28").await, None);
    // Final ones go with the other old records.
    s.prune(10_000, Duration::from_secs(1), Duration::from_secs(1_000))
        .await
        .unwrap();
    assert_eq!(got(tg("-1001"), words, "2026-01-28").await, None, "pruned");
    assert!(
        got(tg("-1001"), words, "2026-01-29").await.is_some(),
        "open: kept"
    );
}
