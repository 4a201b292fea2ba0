//! A deterministic simulation of the whole relay (issue 12).
//!
//! One seed is one history: a board whose posts arrive in bursts, gain
//! pushes and get deleted; PTT outages and single failed requests of every
//! kind; chat platforms that rate-limit, fail, time out and lose answers;
//! chats that remove the bot; and crashes of the relay at random points,
//! restarted on the same SQLite file. The real poller, router, outbox, tally
//! tracking, pacing and SQLite store run on a current-thread tokio runtime
//! with a paused clock (virtual time: hours pass in milliseconds); only what
//! crosses the network is modelled — PTT at the client's `Transport` seam,
//! the chat platforms at the `ChatSink` seam (the adapters' HTTP behaviour
//! is proved against fake servers by the adapter tests). Every store call
//! runs to completion while the simulation waits (see `serial_store.rs`), so
//! a seed replays exactly. After each run, `check` tests the invariants of
//! issue 12; a failing run names its seed.

pub mod chat;
pub mod check;
pub mod ptt;
pub mod serial_store;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ptt_relay::app::{self, Extras, Running};
use ptt_relay::chat::ChatSink;
use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::clock;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::relay::tally::TallyOptions;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use chat::{ChatFaults, SimChat};
use ptt::{BOARD, Fault, Outage, SimPost, SimPtt};
use serial_store::SerialStore;

/// Unix time at the start of every run (2026-09-22 01:46:40 UTC).
pub const BASE_EPOCH: i64 = 1_790_000_000;

/// How long a run goes on after the last post: longer than the tally
/// window (60 min) after the last push (20 min after its post).
pub const SETTLE: Duration = Duration::from_secs(85 * 60);

/// What kind of history a seed draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Everything at once: outages, single failed requests, chat faults,
    /// crashes, a chat leaving.
    Chaos,
    /// PTT outages only (no other fault): the latency rule is checked.
    Outages,
    /// A quiet board: posts before the start, none after.
    Idle,
}

/// One simulated run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub family: Family,
    /// `ptt.poll_interval_secs`.
    pub interval_secs: u64,
    /// How long posts keep arriving.
    pub posting: Duration,
    /// A fixed outage instead of drawn ones: (start, length, fault).
    pub outage: Option<(Duration, Duration, Fault)>,
}

impl Scenario {
    /// A seed of a family with the default 60-second interval.
    pub fn new(seed: u64, family: Family) -> Scenario {
        Scenario {
            seed,
            family,
            interval_secs: 60,
            posting: Duration::from_secs(90 * 60),
            outage: None,
        }
    }
}

/// A subscriber of the simulation: a destination and its words.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub dest: Destination,
    pub words: &'static str,
}

/// The chat that measures latency: every post, no faults.
pub const PROBE: &str = "1004";

fn subscribers() -> Vec<Subscriber> {
    let tg = |chat: &str, words| Subscriber {
        dest: Destination::chat(TELEGRAM, chat),
        words,
    };
    let dc = |chat: &str, words| Subscriber {
        dest: Destination::chat(DISCORD, chat),
        words,
    };
    vec![
        tg("1001", "tag:新聞"),
        tg("1002", "kw:台積電"),
        tg("-1003", "tag:*"),
        tg(PROBE, "tag:*"),
        tg("1005", "push:3"),
        dc("2001", "tag:新聞"),
        dc("2002", "tag:*"),
    ]
}

/// What happened in a run, for the checks and the figures.
pub struct Outcome {
    pub scenario: Scenario,
    pub posts: Vec<SimPost>,
    pub outages: Vec<Outage>,
    pub first_index_ok: Option<Instant>,
    pub start: Instant,
    pub telegram: chat::Record,
    pub discord: chat::Record,
    pub left: Vec<(String, Instant)>,
    pub crashes: usize,
    pub subscribers: Vec<Subscriber>,
    pub index_requests: u64,
    pub article_requests: u64,
}

enum Event {
    Burst(usize),
    Push(String, &'static str),
    Delete(String),
    Crash(Duration),
    Leave(&'static str),
}

impl Event {
    fn describe(&self) -> String {
        match self {
            Event::Burst(n) => format!("burst of {n}"),
            Event::Push(id, tag) => format!("{tag} on {id}"),
            Event::Delete(id) => format!("delete {id}"),
            Event::Crash(down) => format!("crash, down {down:?}"),
            Event::Leave(chat) => format!("{chat} leaves"),
        }
    }
}

/// The runtime that owns the store's connections (real time).
fn store_runtime() -> tokio::runtime::Handle {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("store runtime")
    })
    .handle()
    .clone()
}

fn open_store(path: &Path) -> Arc<dyn Store> {
    let runtime = store_runtime();
    let inner = {
        let _enter = runtime.enter();
        clock::hold_still(|| futures::executor::block_on(SqliteStore::open_unleased(path)))
            .expect("open the store")
    };
    Arc::new(SerialStore {
        inner: inner as Arc<dyn Store>,
        runtime,
    })
}

fn title(rng: &mut StdRng) -> String {
    let tag = match rng.random_range(0..10) {
        0..6 => "新聞",
        6 | 7 => "標的",
        8 => "請益",
        _ => "心得",
    };
    let who = if rng.random_bool(0.3) {
        "台積電"
    } else {
        ["聯發科", "鴻海", "長榮", "大立光"][rng.random_range(0..4)]
    };
    format!("[{tag}] {who} 第{}則", rng.random_range(1..10_000))
}

fn settings(interval: u64) -> Settings {
    let mut s = Settings::default();
    s.ptt.base_url = "https://ptt.sim".into();
    s.ptt.boards = vec![BOARD.into()];
    s.ptt.poll_interval_secs = interval;
    s.console.enabled = Some(false);
    s.http.listen = "127.0.0.1:0".into();
    s.shutdown.timeout_secs = 2;
    s
}

struct Chats {
    telegram: Arc<SimChat>,
    discord: Arc<SimChat>,
}

fn chats(seed: u64, faults: ChatFaults, old: Option<&Chats>) -> Chats {
    let mut telegram = SimChat::new(TELEGRAM, faults, seed ^ 1);
    let mut discord = SimChat::new(DISCORD, faults, seed ^ 2);
    telegram.reliable.insert(PROBE.into());
    if let Some(old) = old {
        // A new process: new pacers, the same platforms.
        telegram.share_platform(&old.telegram);
        discord.share_platform(&old.discord);
    }
    Chats {
        telegram: Arc::new(telegram),
        discord: Arc::new(discord),
    }
}

async fn start_relay(s: &Settings, db: &Path, net: &Arc<SimPtt>, chats: &Chats) -> Running {
    let net = Arc::clone(net);
    let extras = Extras {
        sinks: vec![
            Arc::clone(&chats.telegram) as Arc<dyn ChatSink>,
            Arc::clone(&chats.discord) as Arc<dyn ChatSink>,
        ],
        ptt_client: Some(Box::new(move |o| {
            o.transport = Some(Arc::clone(&net) as _);
        })),
        tally: Some(TallyOptions {
            window: Duration::from_secs(60 * 60),
            first_step: Duration::from_secs(120),
            max_step: Duration::from_secs(600),
        }),
        handler: None,
    };
    app::start_with_store(s, open_store(db), extras)
        .await
        .expect("start the relay")
}

/// Runs one scenario to the end and returns what happened.
pub fn run(sc: &Scenario) -> Outcome {
    if std::env::var_os("PTT_RELAY_SIM_LOG").is_some() {
        crate::support::init_logs();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let dir = tempfile::Builder::new()
        .prefix("ptt-relay-sim")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .expect("temp dir");
    let db = dir.path().join("sim.db");
    rt.block_on(run_in(sc, &db))
}

async fn run_in(sc: &Scenario, db: &Path) -> Outcome {
    let _clock = clock::simulate(BASE_EPOCH, sc.seed);
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(sc.seed);
    let chaos = sc.family == Family::Chaos;
    let sporadic = if chaos { 0.03 } else { 0.0 };
    let net = Arc::new(SimPtt::new(sc.seed, sporadic, BASE_EPOCH));

    // The board before the relay starts: three days of posts, a few deleted.
    {
        let mut st = net.state.lock().unwrap();
        let mut epoch = BASE_EPOCH - 3 * 86_400;
        for i in 0..rng.random_range(5..45) {
            epoch += rng.random_range(60..3600);
            let mut p = ptt::burst(&mut rng, epoch, 1, &mut title).remove(0);
            p.before_start = true;
            if i % 7 == 3 {
                p.deleted_at = Some(start);
            }
            st.posts.push(p);
        }
    }

    // The history, drawn up front.
    let mut events: BTreeMap<(Duration, u32), Event> = BTreeMap::new();
    let mut seq = 0;
    let mut at = |events: &mut BTreeMap<_, _>, t: Duration, e: Event| {
        seq += 1;
        events.insert((t, seq), e);
    };
    if sc.family != Family::Idle {
        let mut t = Duration::from_secs(rng.random_range(30..300));
        while t < sc.posting {
            let n = if rng.random_bool(0.1) {
                rng.random_range(4..9)
            } else {
                rng.random_range(1..4)
            };
            at(&mut events, t, Event::Burst(n));
            t += Duration::from_secs(rng.random_range(60..900));
        }
    }
    let mut outages = Vec::new();
    if let Some((from, len, fault)) = sc.outage {
        outages.push(Outage {
            start: start + from,
            end: start + from + len,
            fault,
        });
    } else if sc.family != Family::Idle {
        for _ in 0..rng.random_range(0..3) {
            let from = Duration::from_secs(rng.random_range(600..sc.posting.as_secs()));
            let len = Duration::from_secs(rng.random_range(60..480));
            let fault = Fault::ALL[rng.random_range(0..Fault::ALL.len())];
            outages.push(Outage {
                start: start + from,
                end: start + from + len,
                fault,
            });
        }
    }
    net.state.lock().unwrap().outages = outages.clone();
    let faults = if chaos {
        ChatFaults {
            rate_limited: 0.03,
            server_error: 0.03,
            timeout: 0.01,
            lost_answer: 0.01,
        }
    } else {
        ChatFaults::NONE
    };
    if chaos {
        for _ in 0..rng.random_range(0..3) {
            let t = Duration::from_secs(rng.random_range(120..sc.posting.as_secs()));
            let down = Duration::from_secs(rng.random_range(1..180));
            at(&mut events, t, Event::Crash(down));
        }
        if rng.random_bool(0.3) {
            let t = Duration::from_secs(rng.random_range(60..sc.posting.as_secs()));
            at(&mut events, t, Event::Leave("1001"));
        }
    }

    let s = settings(sc.interval_secs);
    let subs = subscribers();
    {
        let store = open_store(db);
        for sub in &subs {
            store
                .subscribe(
                    &sub.dest,
                    &crate::support::board_of(BOARD),
                    &crate::support::filter_of(sub.words),
                    clock::now_secs(),
                )
                .await
                .expect("subscribe");
        }
        store.close().await;
    }
    let mut chats_now = chats(sc.seed, faults, None);
    let mut running = Some(start_relay(&s, db, &net, &chats_now).await);
    let mut crashes = 0;
    let mut left = Vec::new();

    // Play the history; a burst draws its posts' pushes and deletions.
    let verbose = std::env::var_os("PTT_RELAY_SIM_LOG").is_some();
    while let Some(((t, _), event)) = events.pop_first() {
        tokio::time::sleep_until(start + t).await;
        if verbose {
            eprintln!("sim {:>7.1}s {}", t.as_secs_f64(), event.describe());
        }
        match event {
            Event::Burst(n) => {
                let mut st = net.state.lock().unwrap();
                let last = st.posts.last().map_or(0, |p| p.epoch);
                let epoch = clock::now_secs().max(last);
                let posts = ptt::burst(&mut rng, epoch, n, &mut title);
                for p in &posts {
                    let pushes = match rng.random_range(0..4) {
                        0 => 0,
                        1 => rng.random_range(1..4),
                        _ => rng.random_range(3..14),
                    };
                    for _ in 0..pushes {
                        let dt = Duration::from_secs(rng.random_range(5..1200));
                        let tag = ["推", "推", "推", "噓", "→"][rng.random_range(0..5)];
                        at(&mut events, t + dt, Event::Push(p.id.clone(), tag));
                    }
                    if rng.random_bool(0.08) {
                        let dt = Duration::from_secs(rng.random_range(5..2400));
                        at(&mut events, t + dt, Event::Delete(p.id.clone()));
                    }
                }
                st.posts.extend(posts);
            }
            Event::Push(id, tag) => {
                let mut st = net.state.lock().unwrap();
                if let Some(p) = st.posts.iter_mut().find(|p| p.id == id)
                    && p.deleted_at.is_none()
                {
                    p.pushes.push(tag);
                    p.peak = p.peak.max(p.net());
                }
            }
            Event::Delete(id) => {
                let mut st = net.state.lock().unwrap();
                if let Some(p) = st.posts.iter_mut().find(|p| p.id == id) {
                    p.deleted_at = Some(Instant::now());
                }
            }
            Event::Crash(down) => {
                // The process dies where it stands: every task is dropped
                // at its current await point; the store keeps what was
                // committed.
                drop(running.take());
                crashes += 1;
                tokio::time::sleep(down).await;
                chats_now = chats(sc.seed, faults, Some(&chats_now));
                running = Some(start_relay(&s, db, &net, &chats_now).await);
            }
            Event::Leave(chat) => {
                let now = Instant::now();
                chats_now.telegram.leave(chat, now);
                left.push((chat.to_owned(), now));
            }
        }
    }
    // Let the last posts be delivered and their tallies settle.
    tokio::time::sleep_until(start + sc.posting + SETTLE).await;
    if let Some(r) = running.take() {
        r.stop().await;
    }

    let st = net.state.lock().unwrap();
    Outcome {
        scenario: sc.clone(),
        posts: st.posts.clone(),
        outages,
        first_index_ok: st.first_index_ok,
        start,
        telegram: chats_now.telegram.take_record(),
        discord: chats_now.discord.take_record(),
        left,
        crashes,
        subscribers: subs,
        index_requests: st.index_requests,
        article_requests: st.article_requests,
    }
}
