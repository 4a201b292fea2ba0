//! `hot:N/M` (DESIGN.md, "investor words"): the word, the `🔥` line on
//! every renderer, and the running app against the fake PTT — what fires,
//! what does not, and what it costs in PTT requests.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::app::Running;
use ptt_relay::chat::discord::render as discord;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::chat::telegram::render as telegram;
use ptt_relay::chat::webhook::render as webhook;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::digest::{Digest, text};
use ptt_relay::filter::Hot;
use ptt_relay::relay::tally::TallyOptions;
use serde_json::json;
use support::fake_ptt::FakePtt;
use support::harness::{self, seeded, settings, wait_for};
use support::recording::RecordingSink;

fn chat(id: &str) -> Destination {
    Destination::chat(TELEGRAM, id)
}

/// Tally tracking at the speed of the tests, `minute` long minutes.
fn fast_tally(minute: Duration) -> TallyOptions {
    TallyOptions {
        window: Duration::from_secs(600),
        first_step: Duration::from_secs(2),
        max_step: Duration::from_secs(4),
        hot_minute: minute,
        boom_recount: Duration::from_secs(300),
    }
}

async fn start(s: &Settings, sink: &RecordingSink, tally: TallyOptions) -> Running {
    harness::start(s, vec![Arc::new(sink.clone())], Some(tally)).await
}

fn article_fetches(ptt: &FakePtt, id: &str) -> usize {
    ptt.requests().iter().filter(|p| p.contains(id)).count()
}

#[test]
fn every_renderer_shows_the_fire_line_only_on_a_message_relayed_for_it() {
    let mut d: Digest = serde_json::from_value(json!({
        "board": "Stock", "id": "M.1769577959.A.C89",
        "url": "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html",
        "title": "[新聞] 台積電 @everyone <b>", "tag": "新聞", "is_reply": false,
        "is_forward": false, "author": "someid", "posted_at": null,
        "original_title": null, "source_url": null, "published": null,
        "reporter": null, "excerpt": null,
        "tally": {"push": 30, "boo": 2, "neutral": 1, "total": 33, "net": 28},
        "stocks": []
    }))
    .unwrap();
    let line = "🔥 +20 in 10 min";
    for shown in [false, true] {
        d.hot = shown.then_some(Hot {
            rise: 20,
            minutes: 10,
        });
        let rendered = [
            ("console", text::render(&d)),
            ("telegram", telegram::render(&d)),
            ("discord", discord::embed(&d).description),
            ("discord webhook", webhook::discord_body(&d).to_string()),
            ("slack", webhook::slack_body(&d).to_string()),
        ];
        for (name, out) in rendered {
            assert_eq!(out.contains(line), shown, "{name}: {out}");
        }
        // Never stored, never in the digest JSON.
        assert!(!text::render_json(&d).contains("hot"));
    }
}

/// `hot:20/10` with a minute of 2 s (so the test takes half a minute): a
/// post gaining 20 net pushes in 8 minutes is relayed once, with its 🔥
/// line, and one gaining them in 15 minutes is not; neither that one nor
/// a post that does not move costs an article read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_20_10_fires_once_for_20_net_pushes_in_8_minutes_and_not_in_15() {
    const MINUTE: Duration = Duration::from_secs(2);
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let r = start(
        &settings(&ptt, &dir.path().join("db")),
        &sink,
        fast_tally(MINUTE),
    )
    .await;
    harness::subscribe(&r, chat("100"), "Stock hot:20/10").await;
    seeded(&r).await;
    let fast = ptt.add_post("Stock", "[新聞] 八分鐘內衝上來", "r");
    let slow = ptt.add_post("Stock", "[新聞] 十五分鐘慢慢漲", "r");
    let still = ptt.add_post("Stock", "[新聞] 沒人理", "r");
    tokio::time::sleep(2 * MINUTE).await;
    assert!(sink.sent().is_empty(), "relayed at first sight");
    // One step a minute: `fast` gets 20 in its first 8 minutes, `slow`
    // the same 20 spread over 15 (a 噓 now and then, as on PTT).
    let share =
        |total: usize, steps: usize, step: usize| total * step / steps - total * (step - 1) / steps;
    for step in 1..=15 {
        if step <= 8 {
            ptt.add_pushes("Stock", &fast, &vec!["推"; share(20, 8, step)]);
        }
        let mut slow_now = vec!["推"; share(20, 15, step)];
        if step % 5 == 0 {
            slow_now.extend(["推", "噓"]);
        }
        ptt.add_pushes("Stock", &slow, &slow_now);
        if step == 8 {
            wait_for("the post that caught fire", || {
                sink.ids_for("100") == vec![fast.clone()]
            })
            .await;
        }
        tokio::time::sleep(MINUTE).await;
    }
    // More pushes on the fired post: still one message.
    ptt.add_pushes("Stock", &fast, &["推"; 25]);
    tokio::time::sleep(3 * MINUTE).await;
    assert_eq!(
        sink.ids_for("100"),
        vec![fast.clone()],
        "slow fired, or fast twice"
    );
    let sent = &sink.sent()[0];
    assert!(sent.digest.tally.net >= 20, "{:?}", sent.digest.tally);
    assert_eq!(
        sent.digest.hot_line().as_deref(),
        Some("🔥 +20 in 10 min"),
        "the message says why"
    );
    // The markers alone ruled both out: no 10 minutes held a rise of 20.
    assert_eq!(article_fetches(&ptt, &still), 0, "a still post cost a read");
    assert_eq!(article_fetches(&ptt, &slow), 0, "a slow post cost a read");
    assert!(
        article_fetches(&ptt, &fast) >= 1,
        "not confirmed from the article"
    );
    r.stop().await;
}

/// The PTT requests of one busy hour on a board with 50 `hot:`
/// subscriptions (every pairing of N 10, 20, 30, 50, 100 with M 5, 10, 15,
/// 30, 60 minutes, twice), compressed 60-fold: a poll a second (the
/// default is a minute), a minute of 1 s, the tally schedule likewise
/// (first re-check 2 s, largest step 30 s, a 6-minute window for 6 h).
///
/// The hour: 40 news posts (one every 1.5 minutes, as on a busy Stock
/// board); reactions decay with a 30-minute half-life from 0.3 a minute
/// (most posts), 2 a minute (every 7th) or 8 a minute (every 20th), 70%
/// 推. Article reads are what `hot:` could add to the poll's one index
/// request a minute; re-reading every candidate on the newest page at
/// every poll would take about 20 × 60 = 1,200 an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_hot_subscriptions_on_a_busy_board_cost_few_article_reads_an_hour() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let tally = TallyOptions {
        window: Duration::from_secs(6 * 60),
        first_step: Duration::from_secs(2),
        max_step: Duration::from_secs(30),
        hot_minute: Duration::from_secs(1),
        boom_recount: Duration::from_secs(300),
    };
    let r = start(&settings(&ptt, &dir.path().join("db")), &sink, tally).await;
    let mut n = 0;
    for _ in 0..2 {
        for rise in [10, 20, 30, 50, 100] {
            for minutes in [5, 10, 15, 30, 60] {
                n += 1;
                let words = format!("Stock hot:{rise}/{minutes}");
                harness::subscribe(&r, chat(&n.to_string()), &words).await;
            }
        }
    }
    seeded(&r).await;
    let (index_before, articles_before) = (ptt.index_requests(), ptt.article_requests());

    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand01 = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let began = tokio::time::Instant::now();
    let mut posts: Vec<(String, f64, u32)> = Vec::new();
    let mut reactions = 0;
    for minute in 0..60u32 {
        if minute % 3 != 2 {
            let k = posts.len() + 1;
            let rate = if k.is_multiple_of(20) {
                8.0
            } else if k.is_multiple_of(7) {
                2.0
            } else {
                0.3
            };
            let id = ptt.add_post("Stock", &format!("[新聞] 第{k}則"), "reporter1");
            posts.push((id, rate, minute));
        }
        for (id, rate, born) in &posts {
            let now = rate * 0.5f64.powf(f64::from(minute - born) / 30.0);
            let mut tags = Vec::new();
            for _ in 0..10 {
                if rand01() < now / 10.0 {
                    tags.push(if rand01() < 0.7 { "推" } else { "噓" });
                }
            }
            reactions += tags.len();
            ptt.add_pushes("Stock", id, &tags);
        }
        tokio::time::sleep_until(began + Duration::from_secs(u64::from(minute) + 1)).await;
    }
    let index = ptt.index_requests() - index_before;
    let articles = ptt.article_requests() - articles_before;
    let fired: std::collections::BTreeSet<String> =
        sink.sent().into_iter().map(|s| s.digest.id).collect();
    let deliveries = sink.sent().len();
    let cold_reads: usize = posts
        .iter()
        .filter(|(id, ..)| !fired.contains(id))
        .map(|(id, ..)| article_fetches(&ptt, id))
        .sum();
    r.stop().await;
    eprintln!(
        "one busy hour, 50 hot: subscriptions: {} posts, {reactions} reactions; \
         PTT requests {} ({index} index, {articles} article reads, {cold_reads} of them \
         of posts that never caught fire); {} posts caught fire, {deliveries} deliveries",
        posts.len(),
        index + articles,
        fired.len()
    );
    assert_eq!(posts.len(), 40);
    assert!(!fired.is_empty(), "no post caught fire");
    assert!(
        articles <= 60,
        "{articles} article reads in an hour (more than one a minute)"
    );
}
