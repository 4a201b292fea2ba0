//! DESIGN.md's polling rules, one test per kind of lost or late post (issue
//! 12, kinds 1–5): the real service against the fake PTT (or, for the
//! same-second case, the real binary against the case's static pages).

use crate::support;
use crate::support::{board_of, filter_of};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ptt_relay::app::{self, Extras, Running};
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::ptt::PostId;
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::store::{PendingPost, Store, now_secs};
use support::binary::{Relay, wait_until};
use support::fake_ptt::{FakePtt, Fault};
use support::harness::{self, seeded, settings, wait_for};
use support::recording::RecordingSink;

fn chat(id: &str) -> Destination {
    Destination::chat(TELEGRAM, id)
}

async fn start(s: &Settings, sink: &RecordingSink) -> Running {
    harness::start(s, vec![Arc::new(sink.clone())], None).await
}

fn news(n: usize, what: &str) -> Vec<String> {
    (0..n).map(|i| format!("[新聞] {what} {i}")).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Kind 1: 30 posts arrive while the relay is down (two index pages); on
/// restart the older page fails once with `fault`. Every post must still
/// arrive, once.
async fn catch_up_page_fails_once(fault: Fault, times: usize) {
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_posts("Stock", &news(5, "seed"));
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&ptt, &dir.path().join("db.sqlite"));
    let sink = RecordingSink::new();
    let r = start(&s, &sink).await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;
    r.stop().await;

    // 5 + 30 posts: index1.html holds the seeds and 15 new ones,
    // index.html (index2) the other 15.
    let ids = ptt.add_posts("Stock", &news(30, "while down"));
    ptt.fault_path("/bbs/Stock/index1.html", fault.clone(), times);
    let r = start(&s, &sink).await;
    wait_for("all 30 posts", || sink.ids_for("100").len() >= 30).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = sink.ids_for("100");
    assert_eq!(got.len(), 30, "doubled: {got:?}");
    assert_eq!(sorted(got), sorted(ids), "after {fault:?}");
    assert_eq!(ptt.scripted_faults_left(), 0, "the fault was never met");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_page_answering_503_once_loses_no_post() {
    // Both attempts of the one fetch fail.
    catch_up_page_fails_once(Fault::Status(503), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_page_cut_off_once_loses_no_post() {
    catch_up_page_fails_once(Fault::Truncated, 1).await;
}

/// Kind 2: an article answered once with a foreign 200 page, another once
/// cut off; both arrive later, complete, in the order they were posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_answered_once_with_a_foreign_or_cut_off_page_is_retried() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    let foreign = ptt.add_post("Stock", "[新聞] 外來頁面", "r");
    ptt.fault_path(&format!("/bbs/Stock/{foreign}.html"), Fault::Garbage, 1);
    let cut = ptt.add_post("Stock", "[新聞] 半頁", "r");
    ptt.fault_path(&format!("/bbs/Stock/{cut}.html"), Fault::Truncated, 1);
    wait_for("both posts", || sink.ids_for("100").len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.ids_for("100"), vec![foreign, cut]);
    for sent in sink.sent() {
        let d = &sent.digest;
        assert!(
            d.original_title
                .as_deref()
                .is_some_and(|t| t.starts_with("Original headline")),
            "incomplete digest: {d:?}"
        );
        assert!(
            d.excerpt
                .as_deref()
                .is_some_and(|t| t.contains("Paragraph of post")),
            "incomplete digest: {d:?}"
        );
    }
    assert_eq!(ptt.scripted_faults_left(), 0);
    r.stop().await;
}

/// Kind 2: a post whose article keeps failing stays pending across a
/// restart and holds the mark back, yet costs no index page beyond the
/// first: it is retried by its URL, not found again by walking back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_post_survives_a_restart_and_costs_no_walk_back() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&ptt, &dir.path().join("db.sqlite"));
    let sink = RecordingSink::new();
    let r = start(&s, &sink).await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    let stuck = ptt.add_post("Stock", "[新聞] 讀不到", "r");
    ptt.fault_path(&format!("/bbs/Stock/{stuck}.html"), Fault::Garbage, 10_000);
    // Enough newer posts to push it off the newest index page.
    let newer = ptt.add_posts("Stock", &news(25, "newer"));
    wait_for("the newer posts", || sink.ids_for("100").len() >= 25).await;
    assert_eq!(sink.ids_for("100"), newer);
    let stuck_id = PostId::parse(&stuck).unwrap();
    let pending = r.store().pending_posts(&board_of("Stock")).await.unwrap();
    assert_eq!(
        pending.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&stuck_id]
    );
    let mark = r
        .store()
        .board_state(&board_of("Stock"))
        .await
        .unwrap()
        .mark
        .unwrap();
    assert!(
        mark.epoch() <= stuck_id.epoch(),
        "the mark {mark} passed the pending post {stuck}"
    );

    let before = ptt.requests().len();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let window: Vec<String> = ptt.requests()[before..].to_vec();
    let index: Vec<&String> = window.iter().filter(|p| p.contains("/index")).collect();
    assert!(index.len() >= 2, "expected a few polls: {window:?}");
    assert!(
        index.iter().all(|p| *p == "/bbs/Stock/index.html"),
        "a pending post made polls walk back: {window:?}"
    );
    r.stop().await;

    // PTT serves it again while the relay is down: the next start relays
    // it, and only it.
    ptt.clear_scripted_faults();
    let r = start(&s, &sink).await;
    wait_for("the pending post", || sink.ids_for("100").len() >= 26).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut expected = newer;
    expected.push(stuck);
    assert_eq!(sink.ids_for("100"), expected);
    assert!(
        r.store()
            .pending_posts(&board_of("Stock"))
            .await
            .unwrap()
            .is_empty()
    );
    r.stop().await;
}

/// Kind 2: a post unreadable for `relay.max_delivery_age_hours` is given
/// up: counted in `ptt_relay_posts_abandoned_total`, never relayed, and it
/// no longer holds the mark back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_unreadable_past_the_delivery_age_is_given_up_and_counted() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let old = ptt.add_post("Stock", "[新聞] 早就讀不到", "r");
    ptt.fault_path(&format!("/bbs/Stock/{old}.html"), Fault::Garbage, 10_000);
    let newest = ptt.add_post("Stock", "[新聞] 已轉", "r");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let old_id = PostId::parse(&old).unwrap();
    let newest_id = PostId::parse(&newest).unwrap();
    {
        // A store left by an earlier run: the post has been pending for
        // longer than the 24 hours allowed.
        let store = SqliteStore::open(&db).await.unwrap();
        store
            .subscribe(&chat("100"), &board_of("Stock"), &filter_of("tag:新聞"), 0)
            .await
            .unwrap();
        store
            .mark_seen(
                &board_of("Stock"),
                std::slice::from_ref(&newest_id),
                now_secs(),
            )
            .await
            .unwrap();
        store.raise_mark(&board_of("Stock"), &old_id).await.unwrap();
        store
            .put_pending(&PendingPost {
                board: board_of("Stock"),
                id: old_id.clone(),
                title: "[新聞] 早就讀不到".into(),
                author: "r".into(),
                marker: String::new(),
                first_seen_at: now_secs() - 25 * 3600,
                attempts: 30,
                next_attempt_at: 0,
                last_error: "article page has no article content".into(),
            })
            .await
            .unwrap();
        store.close().await;
    }
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &db), &sink).await;
    let store = r.store();
    for _ in 0..100 {
        if store
            .pending_posts(&board_of("Stock"))
            .await
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        store
            .pending_posts(&board_of("Stock"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.is_seen(&board_of("Stock"), &old_id).await.unwrap());
    let mark = store
        .board_state(&board_of("Stock"))
        .await
        .unwrap()
        .mark
        .unwrap();
    assert_eq!(mark, newest_id, "the mark is no longer held back");
    let metrics = ptt_relay::telemetry::metrics::metrics().encode();
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "ptt_relay_posts_abandoned_total{board=\"Stock\",reason=\"not_an_article\"} "
        ) && !l.ends_with(" 0")),
        "{metrics}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(sink.sent().is_empty(), "{:?}", sink.ids_for("100"));
    r.stop().await;
}

/// Kind 4: at seeding, the newest index page holds only deleted rows and a
/// pinned one (or only deleted rows). Nothing older than the seeding may
/// ever be relayed; a post made after it is.
async fn quiet_board(pinned: bool) {
    let ptt = FakePtt::start(&["Stock"]).await;
    let three_days = Duration::from_secs(3 * 86_400);
    // index1.html: 20 three-day-old posts; index.html (index2): deleted ones.
    for i in 0..20 {
        ptt.add_post_aged("Stock", &format!("[新聞] 三天前 {i}"), "r", three_days);
    }
    for i in 0..5 {
        let id = ptt.add_post_aged("Stock", &format!("[新聞] 刪了 {i}"), "r", three_days);
        ptt.delete_post("Stock", &id);
    }
    if pinned {
        ptt.add_pinned("Stock", "[公告] 板規");
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    let fresh = ptt.add_post("Stock", "[新聞] 今天的新聞", "r");
    wait_for("the new post", || !sink.ids_for("100").is_empty()).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.ids_for("100"), vec![fresh]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_seeded_on_deleted_and_pinned_rows_relays_nothing_older() {
    quiet_board(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_seeded_on_deleted_rows_only_relays_its_next_post() {
    quiet_board(false).await;
}

/// Found by the simulation (seed 1148): a post fills the older index page
/// and the next one, which opens the newest page, is deleted at once. The
/// newest page then shows a deleted row only; the post on the page before
/// it is still relayed at the next poll, and once it has been, an idle poll
/// of that page costs one request again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_before_a_newest_page_of_deleted_rows_is_relayed() {
    let ptt = FakePtt::start(&["Stock"]).await;
    ptt.add_posts("Stock", &news(19, "seed"));
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    // The 20th post fills index1.html; the 21st opens index.html and is
    // deleted before a poll sees it linked.
    let ids = ptt.add_posts("Stock", &news(2, "new"));
    ptt.delete_post("Stock", &ids[1]);
    wait_for("the post before the deleted one", || {
        !sink.ids_for("100").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = ptt.index_requests();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let idle = ptt.index_requests() - before;
    assert_eq!(sink.ids_for("100"), vec![ids[0].clone()]);
    // About three polls in 3.5 s, each of index.html alone.
    assert!(
        idle <= 4,
        "{idle} index requests in 3.5 s of idle 1-second polls"
    );
    r.stop().await;
}

/// Kind 5: with 1-second polls, six plain 503 pages (nginx's, not
/// Cloudflare's) and then recovery: the post made during the outage is
/// relayed within one interval plus 2 s of PTT answering again. The
/// client's block pause keeps its real defaults (30 s doubling to 10 min).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_six_plain_503s_a_new_post_arrives_within_an_interval_and_2s() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&ptt, &dir.path().join("db.sqlite"));
    let sink = RecordingSink::new();
    support::init_logs();
    let r = app::start_with(
        &s,
        Extras {
            sinks: vec![Arc::new(sink.clone())],
            ptt_client: Some(Box::new(|o| {
                o.request_timeout = Duration::from_millis(500);
                o.connect_timeout = Duration::from_millis(500);
                o.initial_backoff = Duration::from_millis(10);
                o.max_attempts = 2;
            })),
            tally: None,
            handler: None,
            share: None,
            leaderboards: None,
        },
    )
    .await
    .expect("start");
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    ptt.fault_next(Fault::PlainError(503), 6);
    let post = ptt.add_post("Stock", "[新聞] 停機時的新聞", "r");
    wait_until("the outage to end", Duration::from_secs(120), || {
        ptt.scripted_faults_left() == 0
    })
    .await;
    let recovered = Instant::now();
    wait_until("the post", Duration::from_secs(60), || {
        !sink.ids_for("100").is_empty()
    })
    .await;
    let took = recovered.elapsed();
    assert!(
        took <= Duration::from_secs(3),
        "relayed {took:?} after PTT answered again"
    );
    assert_eq!(sink.ids_for("100"), vec![post]);
    r.stop().await;
}

/// Kind 5, article side: while PTT answers the index but fails an
/// article with plain 503s, the post is retried every poll, not on a
/// growing back-off; once the article is served it is relayed within one
/// interval plus 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_article_outage_delays_its_post_by_at_most_an_interval_after_it_ends() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(&settings(&ptt, &dir.path().join("db.sqlite")), &sink).await;
    harness::subscribe(&r, chat("100"), "Stock").await;
    seeded(&r).await;

    let post = ptt.add_post("Stock", "[新聞] 文章頁暫時壞了", "r");
    // Two attempts a poll: about five polls of failures.
    ptt.fault_path(
        &format!("/bbs/Stock/{post}.html"),
        Fault::PlainError(503),
        10,
    );
    wait_until("the outage to end", Duration::from_secs(120), || {
        ptt.scripted_faults_left() == 0
    })
    .await;
    let recovered = Instant::now();
    wait_until("the post", Duration::from_secs(60), || {
        !sink.ids_for("100").is_empty()
    })
    .await;
    let took = recovered.elapsed();
    assert!(
        took <= Duration::from_secs(3),
        "relayed {took:?} after PTT served the article again"
    );
    assert_eq!(sink.ids_for("100"), vec![post]);
    r.stop().await;
}

// ------------------------------------------------------------ same second

const CASE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/same-second-ids"
);
const A: &str = "M.1764490000.A.F00";
const B: &str = "M.1764490000.A.0B1";

/// The case's pages, with A's and B's hex parts swapped when `swap`.
fn case_pages(swap: bool) -> HashMap<String, String> {
    let fix = |text: &str| {
        if swap {
            text.replace("A.F00", "A.@@@")
                .replace("A.0B1", "A.F00")
                .replace("A.@@@", "A.0B1")
        } else {
            text.to_owned()
        }
    };
    let mut pages = HashMap::new();
    for file in [
        "index_phase1_seed.html",
        "index_phase2_A.html",
        "index_phase3_A_then_B.html",
        "M.1764490000.A.F00.html",
        "M.1764490000.A.0B1.html",
    ] {
        let text = std::fs::read_to_string(format!("{CASE}/{file}")).unwrap();
        pages.insert(fix(file), fix(&text));
    }
    pages
}

/// Serves the case: `index.html` is the current phase's page; the two
/// articles are served by name; anything else is a 404.
struct CaseServer {
    base_url: String,
    phase: Arc<Mutex<&'static str>>,
    index_requests: Arc<Mutex<usize>>,
}

async fn case_server(pages: HashMap<String, String>) -> CaseServer {
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::{Html, IntoResponse};

    type Shared = (
        Arc<HashMap<String, String>>,
        Arc<Mutex<&'static str>>,
        Arc<Mutex<usize>>,
    );
    let phase = Arc::new(Mutex::new("index_phase1_seed.html"));
    let index_requests = Arc::new(Mutex::new(0));
    let state: Shared = (
        Arc::new(pages),
        Arc::clone(&phase),
        Arc::clone(&index_requests),
    );
    async fn page(
        State((pages, phase, count)): State<Shared>,
        Path(file): Path<String>,
    ) -> axum::response::Response {
        let name = if file == "index.html" {
            *count.lock().unwrap() += 1;
            (*phase.lock().unwrap()).to_owned()
        } else {
            file
        };
        match pages.get(&name) {
            Some(html) => Html(html.clone()).into_response(),
            None => (StatusCode::NOT_FOUND, Html("404")).into_response(),
        }
    }
    let app = axum::Router::new()
        .route("/bbs/Stock/{file}", axum::routing::get(page))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    CaseServer {
        base_url: format!("http://{addr}"),
        phase,
        index_requests,
    }
}

/// The ids of the JSON digests printed on stdout.
fn printed(relay: &Relay) -> Vec<String> {
    relay
        .stdout()
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON digest a line");
            v["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// `../shared/cases/same-second-ids/`: A is relayed, then B (same second,
/// listed after A) must be relayed too, each once, whichever hex is larger.
async fn same_second(swap: bool) {
    let (first, second) = if swap { (B, A) } else { (A, B) };
    let server = case_server(case_pages(swap)).await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::run(
        dir.path(),
        &[
            ("PTT_RELAY__PTT__BASE_URL", server.base_url.clone()),
            ("PTT_RELAY__PTT__BOARDS", "Stock".into()),
            ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
            ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
            ("PTT_RELAY__CONSOLE__FORMAT", "json".into()),
            ("PTT_RELAY__HTTP__LISTEN", "127.0.0.1:0".into()),
            ("PTT_RELAY__SHUTDOWN__TIMEOUT_SECS", "3".into()),
        ],
    );
    let polls = || *server.index_requests.lock().unwrap();
    wait_until("the seeding poll", Duration::from_secs(20), || polls() >= 2).await;
    assert!(relay.stdout().is_empty(), "{:?}", relay.stdout());

    *server.phase.lock().unwrap() = "index_phase2_A.html";
    wait_until("A", Duration::from_secs(20), || !relay.stdout().is_empty()).await;
    assert_eq!(printed(&relay), vec![first.to_owned()]);

    *server.phase.lock().unwrap() = "index_phase3_A_then_B.html";
    let at = polls();
    wait_until("a few more polls", Duration::from_secs(20), || {
        polls() >= at + 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        printed(&relay),
        vec![first.to_owned(), second.to_owned()],
        "stderr: {:?}",
        relay.stderr()
    );
    relay.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_posts_of_the_same_second_are_both_relayed_smaller_hex_last() {
    same_second(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_posts_of_the_same_second_are_both_relayed_larger_hex_last() {
    same_second(true).await;
}
