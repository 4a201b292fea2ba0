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
//!
//! The `Replicas` family runs two or three replicas on one PostgreSQL
//! schema (`replica.rs`), sharing the same PTT and the same platforms, and
//! plays leader loss on them: the leader (or a follower) crashes and
//! restarts later; a replica freezes for longer than its claims last (as
//! SIGSTOP or `docker pause` do, `freeze.rs`), sometimes with the server
//! ending its sessions meanwhile (a frozen VM past TCP keepalive, or
//! `idle_session_timeout`), which hands the lead to another replica while
//! it is frozen. Forty more Telegram chats take every post, so a burst
//! needs more than one replica's share of Telegram's overall limit. Its
//! histories are shorter (posts for 12 minutes, pushes within 4, a
//! 10-minute tally window, 22 minutes in all), as every replica reads the
//! store every second.

pub mod chat;
pub mod check;
pub mod freeze;
pub mod ptt;
pub mod replica;
pub mod serial_store;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ptt_relay::app::{self, Backend, Extras, Running};
use ptt_relay::chat::ChatSink;
use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::chat::pacing::Share;
use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::clock;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::ptt::transport::Transport;
use ptt_relay::relay::tally::TallyOptions;
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use chat::{ChatFaults, SimChat};
use freeze::Freeze;
use ptt::{BOARD, Fault, Outage, ReplicaPtt, SimPost, SimPtt};
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
    /// Two or three replicas on PostgreSQL: crashes and restarts of the
    /// leader and of followers, freezes past the claims' expiry (some
    /// losing the lead meanwhile), PTT outages, chat faults.
    Replicas,
}

/// How long a history runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// 90 minutes of posts, pushes within 20 and deletions within 40
    /// minutes of their post, a 60-minute tally window, 85 minutes of
    /// settling: 175 simulated minutes (`scripts/simulate.sh`).
    Full,
    /// A shorter history: 20 minutes of posts, pushes within 4 and
    /// deletions within 8 minutes of their post, tally checks from every
    /// minute to every 2.5, a 30-minute tally window (longer than the last
    /// push, 4 minutes, plus two of the longest outages, 8 each, two of the
    /// longest crashes, 3 each, and a check's step, 2.5: seed 2967 of a
    /// 20-minute window lost its last push to two outages), 36 minutes of
    /// settling: 56 simulated minutes (the 200 seeds of `cargo test`).
    /// Every fault of the full shape still happens.
    Short,
}

impl Shape {
    /// `PTT_RELAY_SIM_SHAPE` (`full` or `short`), else `default`.
    pub fn from_env(default: Shape) -> Shape {
        match std::env::var("PTT_RELAY_SIM_SHAPE").as_deref() {
            Ok("full") => Shape::Full,
            Ok("short") => Shape::Short,
            _ => default,
        }
    }

    /// Its name in `PTT_RELAY_SIM_SHAPE`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Full => "full",
            Shape::Short => "short",
        }
    }
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
    /// Replicas on PostgreSQL (`Replicas`); 0: one process on SQLite.
    pub replicas: usize,
    /// How long after its post a push may come, and a deletion.
    pub push_spread: Duration,
    pub delete_spread: Duration,
    /// How long the run goes on after the last post.
    pub settle: Duration,
    /// How long a relayed post's tally is tracked.
    pub tally_window: Duration,
    /// The tally tracker's first and longest step between checks.
    pub tally_steps: (Duration, Duration),
    /// The shape the lengths above come from.
    pub shape: Shape,
}

impl Scenario {
    /// A seed of a family with the default 60-second interval.
    pub fn new(seed: u64, family: Family) -> Scenario {
        let mut sc = Scenario {
            seed,
            family,
            interval_secs: 60,
            posting: Duration::from_secs(90 * 60),
            outage: None,
            replicas: 0,
            push_spread: Duration::from_secs(1200),
            delete_spread: Duration::from_secs(2400),
            settle: SETTLE,
            tally_window: Duration::from_secs(60 * 60),
            tally_steps: (Duration::from_secs(120), Duration::from_secs(600)),
            shape: Shape::Full,
        };
        if family == Family::Replicas {
            sc.replicas = 2 + (seed % 2) as usize;
            // (A shape of its own: every replica reads the store each second.)
            sc.posting = Duration::from_secs(12 * 60);
            sc.push_spread = Duration::from_secs(240);
            sc.delete_spread = Duration::from_secs(480);
            sc.settle = Duration::from_secs(10 * 60);
            sc.tally_window = Duration::from_secs(10 * 60);
        }
        sc
    }

    /// A seed of a family in a shape (`Replicas` keeps its own).
    pub fn shaped(seed: u64, family: Family, shape: Shape) -> Scenario {
        let mut sc = Scenario::new(seed, family);
        if shape == Shape::Short && family != Family::Replicas {
            sc.posting = Duration::from_secs(20 * 60);
            sc.push_spread = Duration::from_secs(240);
            sc.delete_spread = Duration::from_secs(480);
            sc.tally_window = Duration::from_secs(30 * 60);
            sc.tally_steps = (Duration::from_secs(60), Duration::from_secs(150));
            sc.settle = Duration::from_secs(36 * 60);
            sc.shape = Shape::Short;
        }
        sc
    }
}

/// A subscriber of the simulation: a destination and its words.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub dest: Destination,
    pub words: &'static str,
}

/// Telegram chats taking every post in a `Replicas` run.
pub const FANOUT_CHATS: usize = 40;

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
    /// Freezes of a replica (`Replicas`).
    pub stalls: usize,
    /// Times when a crash or a freeze kept the relay from its usual pace
    /// (from, to): the latency rule does not apply across them.
    pub disruptions: Vec<(Instant, Instant)>,
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
    /// A replica crashes (the leader, or a follower), down this long.
    ReplicaCrash {
        leader: bool,
        down: Duration,
    },
    /// Replica `i` starts again.
    Restart(usize),
    /// A replica freezes this long; `cut`: the server ends its sessions
    /// meanwhile.
    Stall {
        leader: bool,
        len: Duration,
        cut: bool,
    },
}

impl Event {
    fn describe(&self) -> String {
        match self {
            Event::Burst(n) => format!("burst of {n}"),
            Event::Push(id, tag) => format!("{tag} on {id}"),
            Event::Delete(id) => format!("delete {id}"),
            Event::Crash(down) => format!("crash, down {down:?}"),
            Event::Leave(chat) => format!("{chat} leaves"),
            Event::ReplicaCrash { leader, down } => {
                format!("a replica crashes (leader: {leader}), down {down:?}")
            }
            Event::Restart(i) => format!("replica {i} starts again"),
            Event::Stall { leader, len, cut } => {
                format!("a replica freezes (leader: {leader}) for {len:?}, sessions cut: {cut}")
            }
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
        freeze: None,
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
    // (`store.lease_secs` stays 15: the leader pings its lock every 5 s.)
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

/// A process's sinks: the same platforms as `old` (the first process's),
/// new pacers (on `share`, for a replica), stopped by `freeze`.
fn chats(
    seed: u64,
    faults: ChatFaults,
    old: Option<&Chats>,
    share: Option<&Arc<Share>>,
    freeze: Option<&Arc<Freeze>>,
) -> Chats {
    let mut telegram = SimChat::new(TELEGRAM, faults, seed ^ 1);
    let mut discord = SimChat::new(DISCORD, faults, seed ^ 2);
    telegram.reliable.insert(PROBE.into());
    if let Some(old) = old {
        // A new process: new pacers, the same platforms.
        telegram.share_platform(&old.telegram);
        discord.share_platform(&old.discord);
    }
    if let Some(share) = share {
        telegram = telegram.shared_by(Arc::clone(share));
        discord = discord.shared_by(Arc::clone(share));
    }
    telegram.freeze = freeze.cloned();
    discord.freeze = freeze.cloned();
    Chats {
        telegram: Arc::new(telegram),
        discord: Arc::new(discord),
    }
}

fn extras(sc: &Scenario, transport: Arc<dyn Transport>, chats: &Chats) -> Extras {
    Extras {
        sinks: vec![
            Arc::clone(&chats.telegram) as Arc<dyn ChatSink>,
            Arc::clone(&chats.discord) as Arc<dyn ChatSink>,
        ],
        ptt_client: Some(Box::new(move |o| {
            o.transport = Some(Arc::clone(&transport));
        })),
        tally: Some(TallyOptions {
            window: sc.tally_window,
            first_step: sc.tally_steps.0,
            max_step: sc.tally_steps.1,
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        }),
        handler: None,
        share: None,
        leaderboards: None,
    }
}

async fn start_relay(
    sc: &Scenario,
    s: &Settings,
    db: &Path,
    net: &Arc<SimPtt>,
    chats: &Chats,
) -> Running {
    app::start_with_store(
        s,
        open_store(db),
        extras(sc, Arc::clone(net) as Arc<dyn Transport>, chats),
    )
    .await
    .expect("start the relay")
}

/// The PostgreSQL schema of a `Replicas` run.
struct Pg {
    schema: crate::support::pg::TestSchema,
}

/// One replica process.
struct Replica {
    running: Option<Running>,
    freeze: Arc<Freeze>,
    /// Its sessions' name (also its replica id).
    name: String,
    /// When it comes back after a crash.
    down_until: Option<Instant>,
}

impl Replica {
    fn up(&self) -> bool {
        self.running.is_some()
    }

    fn frozen(&self) -> bool {
        self.freeze.frozen()
    }

    fn leads(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.status().is_leader())
    }
}

/// Starts replica `i` (its `generation`-th process) on the schema.
async fn start_replica(
    sc: &Scenario,
    s: &Settings,
    pg: &Pg,
    net: &Arc<SimPtt>,
    platforms: &Chats,
    i: usize,
    generation: u32,
) -> Replica {
    let freeze = Arc::new(Freeze::default());
    let name = format!("{}-r{i}g{generation}", pg.schema.name);
    let runtime = store_runtime();
    let ping = Duration::from_secs((s.store.lease_secs / 3).max(1));
    let (store, election) = replica::open(&runtime, &pg.schema.url, &name, ping, &freeze);
    let share = Share::replica();
    let own = chats(
        sc.seed,
        chat_faults(sc),
        Some(platforms),
        Some(&share),
        Some(&freeze),
    );
    let transport = Arc::new(ReplicaPtt {
        net: Arc::clone(net),
        freeze: Arc::clone(&freeze),
    });
    let mut extras = extras(sc, transport, &own);
    extras.share = Some(share);
    let backend = Backend {
        store: Arc::new(SerialStore {
            inner: store as Arc<dyn Store>,
            runtime,
            freeze: Some(Arc::clone(&freeze)),
        }),
        election: Some(Box::new(election)),
        lease: None,
    };
    let running = app::start_backend(s, backend, extras)
        .await
        .expect("start a replica");
    Replica {
        running: Some(running),
        freeze,
        name,
        down_until: None,
    }
}

fn chat_faults(sc: &Scenario) -> ChatFaults {
    if matches!(sc.family, Family::Chaos | Family::Replicas) {
        ChatFaults {
            rate_limited: 0.03,
            server_error: 0.03,
            timeout: 0.01,
            lost_answer: 0.01,
        }
    } else {
        ChatFaults::NONE
    }
}

/// Runs one scenario to the end and returns what happened. A `Replicas`
/// scenario needs `PTT_RELAY_TEST_PG_URL` (its caller checks).
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
    let pg = (sc.family == Family::Replicas).then(|| {
        let url = std::env::var(crate::support::pg::ENV).expect("a PostgreSQL URL for replicas");
        Pg {
            schema: store_runtime().block_on(crate::support::pg::TestSchema::create(&url)),
        }
    });
    rt.block_on(run_in(sc, &db, pg.as_ref()))
}

async fn run_in(sc: &Scenario, db: &Path, pg: Option<&Pg>) -> Outcome {
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
    let faults = chat_faults(sc);
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
    if sc.family == Family::Replicas {
        // Leader loss and stalls, while posts arrive.
        for _ in 0..rng.random_range(1..4) {
            let t = Duration::from_secs(rng.random_range(60..sc.posting.as_secs()));
            let leader = rng.random_bool(0.7);
            let e = if rng.random_bool(0.5) {
                Event::ReplicaCrash {
                    leader,
                    down: Duration::from_secs(rng.random_range(1..180)),
                }
            } else {
                // Longer than a claim (60 s) and than the lead's ping.
                Event::Stall {
                    leader,
                    len: Duration::from_secs(rng.random_range(61..150)),
                    cut: rng.random_bool(0.5),
                }
            };
            at(&mut events, t, e);
        }
        if rng.random_bool(0.3) {
            let t = Duration::from_secs(rng.random_range(60..sc.posting.as_secs()));
            at(&mut events, t, Event::Leave("1001"));
        }
    }

    let s = settings(sc.interval_secs);
    let mut subs = subscribers();
    if sc.family == Family::Replicas {
        // A burst to many chats: more than one replica's share of
        // Telegram's overall limit, so the replicas' sum is what holds.
        subs.extend((0..FANOUT_CHATS).map(|i| Subscriber {
            dest: Destination::chat(TELEGRAM, (3000 + i).to_string()),
            words: "tag:*",
        }));
    }
    let runtime = store_runtime();
    if let Some(pg) = pg {
        let store = replica::serially(
            &runtime,
            ptt_relay::store::postgres::PostgresStore::open(&pg.schema.url, "sim-setup".into()),
        )
        .expect("open the PostgreSQL store");
        for sub in &subs {
            replica::serially(
                &runtime,
                store.subscribe(
                    &sub.dest,
                    &crate::support::board_of(BOARD),
                    &crate::support::filter_of(sub.words),
                    clock::now_secs(),
                ),
            )
            .expect("subscribe");
        }
        replica::serially(&runtime, store.close());
    } else {
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
    // The platforms (the first process's sinks; later ones share them).
    let platforms = chats(sc.seed, faults, None, None, None);
    let mut chats_now = None;
    let mut running = None;
    let mut replicas: Vec<Replica> = Vec::new();
    let mut generations = Vec::new();
    if let Some(pg) = pg {
        for i in 0..sc.replicas {
            replicas.push(start_replica(sc, &s, pg, &net, &platforms, i, 0).await);
            generations.push(0);
        }
    } else {
        running = Some(start_relay(sc, &s, db, &net, &platforms).await);
    }
    let mut crashes = 0;
    let mut stalls = 0;
    let mut disruptions = Vec::new();
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
                        let dt = Duration::from_secs(rng.random_range(5..sc.push_spread.as_secs()));
                        let tag = ["推", "推", "推", "噓", "→"][rng.random_range(0..5)];
                        at(&mut events, t + dt, Event::Push(p.id.clone(), tag));
                    }
                    if rng.random_bool(0.08) {
                        let dt =
                            Duration::from_secs(rng.random_range(5..sc.delete_spread.as_secs()));
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
                let next = chats(sc.seed, faults, Some(&platforms), None, None);
                running = Some(start_relay(sc, &s, db, &net, &next).await);
                chats_now = Some(next);
            }
            Event::Leave(chat) => {
                let now = Instant::now();
                platforms.telegram.leave(chat, now);
                left.push((chat.to_owned(), now));
            }
            Event::ReplicaCrash { leader, down } => {
                let Some(i) = pick(&replicas, leader, &mut rng) else {
                    continue;
                };
                let r = &mut replicas[i];
                drop(r.running.take());
                // The process is gone, and so are its sessions (and with
                // them the lead, if it held it).
                if let Some(pg) = pg {
                    replica::end_sessions(&runtime, &pg.schema.admin_url, &r.name);
                }
                crashes += 1;
                r.down_until = Some(Instant::now() + down);
                disruptions.push((
                    Instant::now(),
                    Instant::now() + down + Duration::from_secs(15),
                ));
                at(&mut events, t + down, Event::Restart(i));
            }
            Event::Restart(i) => {
                let Some(pg) = pg else { continue };
                generations[i] += 1;
                replicas[i] = start_replica(sc, &s, pg, &net, &platforms, i, generations[i]).await;
            }
            Event::Stall { leader, len, cut } => {
                let Some(i) = pick(&replicas, leader, &mut rng) else {
                    continue;
                };
                let r = &replicas[i];
                r.freeze.freeze(Instant::now() + len);
                if cut && let Some(pg) = pg {
                    // The server drops the frozen process's sessions: the
                    // lead passes to another replica while it is frozen.
                    replica::end_sessions(&runtime, &pg.schema.admin_url, &r.name);
                }
                stalls += 1;
                disruptions.push((
                    Instant::now(),
                    Instant::now() + len + Duration::from_secs(15),
                ));
            }
        }
    }
    // Let the last posts be delivered and their tallies settle.
    tokio::time::sleep_until(start + sc.posting + sc.settle).await;
    if let Some(r) = running.take() {
        r.stop().await;
    }
    for r in &mut replicas {
        if let Some(running) = r.running.take() {
            running.stop().await;
        }
    }
    drop(chats_now);

    let st = net.state.lock().unwrap();
    Outcome {
        scenario: sc.clone(),
        posts: st.posts.clone(),
        outages,
        first_index_ok: st.first_index_ok,
        start,
        telegram: platforms.telegram.take_record(),
        discord: platforms.discord.take_record(),
        left,
        crashes,
        stalls,
        disruptions,
        subscribers: subs,
        index_requests: st.index_requests,
        article_requests: st.article_requests,
    }
}

/// The replica an event hits: the leader when `leader` and one leads
/// (and is not frozen), else any running, unfrozen one.
fn pick(replicas: &[Replica], leader: bool, rng: &mut StdRng) -> Option<usize> {
    let live: Vec<usize> = (0..replicas.len())
        .filter(|&i| replicas[i].up() && !replicas[i].frozen())
        .collect();
    if leader && let Some(&i) = live.iter().find(|&&i| replicas[i].leads()) {
        return Some(i);
    }
    if live.is_empty() {
        return None;
    }
    Some(live[rng.random_range(0..live.len())])
}
