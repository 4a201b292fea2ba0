//! Soak run: hours of traffic compressed into minutes, against the test
//! fakes, with the real release binary as a child process.
//!
//! Run it with `scripts/soak.sh [MINUTES]`, or directly:
//! `cargo run --locked --release --example soak -- --binary target/release/ptt-relay --minutes 10`.
//!
//! Phases:
//! 1. setup: fake PTT (5 boards), fake Telegram and fake Discord (both
//!    enforcing their real limits); 500 Telegram chats and 500 Discord
//!    channels subscribe through real chat commands with mixed filters;
//!    then 30 s idle with both adapters connected (the idle RSS figure);
//! 2. traffic: posts on the 5 boards, pushes on recent posts, deletions,
//!    and short random faults on all three services;
//! 3. drain: traffic and faults stop; wait (bounded) until every expected
//!    delivery arrived and the outbox is empty.
//!
//! A sample line every 10 s (RSS, CPU, polls, CPU per poll, outbox depth,
//! deliveries); a final `SOAK` block. Exit status 1 when a delivery was
//! lost, duplicated or unexpected, when RSS grew more than 10% after
//! warm-up, or when the relay died.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ptt_relay::filter::{Filter, PostView};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

// The fakes shared with the integration tests, file by file: the example
// uses only a part of them (and `tests/it/support/mod.rs` also brings in
// helpers that need the test harness's environment).
#[allow(dead_code)]
#[path = "../tests/it/support/fake_discord.rs"]
mod fake_discord;
#[allow(dead_code)]
#[path = "../tests/it/support/fake_ptt.rs"]
mod fake_ptt;
#[allow(dead_code)]
#[path = "../tests/it/support/fake_telegram.rs"]
mod fake_telegram;
#[allow(dead_code)]
#[path = "../tests/it/support/telegram_html.rs"]
mod telegram_html;

use fake_discord::{ChannelFault, FakeDiscord, MANAGE_CHANNELS, MEMBER, Origin};
use fake_ptt::{FakePtt, Fault};
use fake_telegram::FakeTelegram;

/// The polled boards.
const BOARDS: [&str; 5] = ["Stock", "Gossiping", "Tech_Job", "Lifeismoney", "Baseball"];
/// Fake credentials (never printed).
const TG_TOKEN: &str = "777001:SOAK-TELEGRAM-TOKEN";
const DC_TOKEN: &str = "SOAK.DISCORD.TOKEN";
/// The Discord server all channels belong to.
const GUILD: u64 = 800_000_000_000_000_077;
/// Destinations per platform.
const PER_PLATFORM: usize = 500;
/// Telegram chats from this index on are groups (the others private).
const TG_GROUPS_FROM: usize = 400;
/// Filter words of the subscription slots (destination `i` of a platform
/// takes board `i % 5` and slot `(i / 5) % 10`).
const SLOTS: [&[(&str, &str)]; 10] = [
    &[],
    &[("tag", "*")],
    &[("kw", "台積電")],
    &[("tag", "*"), ("not", "閒聊")],
    &[("tag", "情報"), ("fw", "yes")],
    &[("tag", "*"), ("author", "reporter1")],
    &[("tag", "*"), ("kw", "ai")],
    &[("push", "3")],
    &[("tag", "*"), ("push", "5")],
    &[("re", "yes")],
];
/// Sample period.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Idle time with every subscription in place.
const IDLE: Duration = Duration::from_secs(30);
/// Longest wait for the outbox to drain at the end.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);
/// Allowed RSS growth after warm-up, in percent.
const RSS_LIMIT_PCT: f64 = 10.0;

// ------------------------------------------------------------------ model

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Dest {
    Telegram(i64),
    Discord(u64),
}

impl Dest {
    fn is_telegram(self) -> bool {
        matches!(self, Dest::Telegram(_))
    }
}

/// One subscription, as sent and as the crate's own filter reads it.
struct Sub {
    dest: Dest,
    board: &'static str,
    words: &'static [(&'static str, &'static str)],
    filter: Filter,
}

impl Sub {
    /// Destination `i` of a platform.
    fn new(dest: Dest, i: usize) -> Sub {
        let words = SLOTS[(i / BOARDS.len()) % SLOTS.len()];
        let text: Vec<String> = words.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        Sub {
            dest,
            board: BOARDS[i % BOARDS.len()],
            words,
            filter: Filter::parse(&text).expect("the soak's filters parse"),
        }
    }

    /// The Telegram command.
    fn telegram_text(&self) -> String {
        let mut t = format!("/subscribe {}", self.board);
        for (k, v) in self.words {
            let _ = write!(t, " {k}:{v}");
        }
        t
    }

    /// The Discord `/ptt subscribe` options.
    fn discord_options(&self) -> Value {
        let mut opts = vec![json!({"name": "board", "type": 3, "value": self.board})];
        for (k, v) in self.words {
            opts.push(match *k {
                "push" => json!({"name": k, "type": 4, "value": v.parse::<i64>().unwrap_or(1)}),
                "re" | "fw" => json!({"name": k, "type": 5, "value": *v == "yes"}),
                _ => json!({"name": k, "type": 3, "value": v}),
            });
        }
        Value::Array(opts)
    }

    /// Whether this subscription wants the post as it ends up.
    fn wants(&self, p: &PostRec) -> bool {
        self.board == p.board
            && self.filter.matches_post(PostView {
                title: &p.title,
                author: Some(&p.author),
            })
            && self.filter.push.is_none_or(|n| p.net >= i64::from(n))
    }
}

/// A post added to the fake PTT.
#[derive(Clone)]
struct PostRec {
    board: &'static str,
    id: String,
    title: String,
    author: String,
    /// Net push (推 − 噓); pushes never lower it, so "ever reached N" is
    /// "ends at N or more".
    net: i64,
    pushed: bool,
    deleted: bool,
}

/// Everything the traffic generator did.
#[derive(Default)]
struct World {
    posts: Vec<PostRec>,
    push_batches: usize,
    faults: Vec<String>,
    /// 429s forced on Telegram sendMessage.
    tg_forced_429: u64,
    /// Discord storm 429s answered (counted when the next storm starts).
    dc_storm_answered: usize,
    /// Storm 429s announced but not yet counted.
    dc_storm_pending: usize,
}

/// One sample line.
#[derive(Clone, Debug)]
struct Sample {
    t: f64,
    phase: &'static str,
    rss_mb: f64,
    cpu_s: f64,
    polls: f64,
    outbox: f64,
    delivered_tg: usize,
    delivered_dc: usize,
}

/// Shared state of the run.
struct Soak {
    ptt: FakePtt,
    tg: FakeTelegram,
    dc: FakeDiscord,
    subs: Vec<Sub>,
    world: Mutex<World>,
    samples: Mutex<Vec<Sample>>,
    phase: Mutex<&'static str>,
    started: Instant,
    pid: u32,
    metrics_url: String,
    http: reqwest::Client,
    clk_tck: f64,
}

// -------------------------------------------------------------- arguments

struct Args {
    binary: PathBuf,
    minutes: f64,
    out: PathBuf,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        binary: PathBuf::from("target/release/ptt-relay"),
        minutes: 10.0,
        out: PathBuf::from("target/soak"),
        seed: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--binary" => args.binary = PathBuf::from(value()?),
            "--minutes" => {
                args.minutes = value()?.parse().map_err(|_| "--minutes: a number")?;
            }
            "--out" => args.out = PathBuf::from(value()?),
            "--seed" => args.seed = value()?.parse().map_err(|_| "--seed: a number")?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: soak --binary PATH [--minutes N] [--out DIR] [--seed N]"
                ));
            }
        }
    }
    Ok(args)
}

// ------------------------------------------------------------------- main

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(1)
        }
    }
}

/// The whole run; `Ok(pass)`.
async fn run(args: Args) -> Result<bool, String> {
    let binary = std::fs::canonicalize(&args.binary)
        .map_err(|e| format!("binary {}: {e}", args.binary.display()))?;
    let _ = std::fs::remove_dir_all(&args.out);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let ptt = FakePtt::start(&BOARDS).await;
    for b in BOARDS {
        // Something to seed on: never relayed.
        ptt.add_post(b, "[公告] 板規", "SYSOP");
    }
    let tg = FakeTelegram::start(TG_TOKEN).await;
    let dc = FakeDiscord::start(DC_TOKEN, &[GUILD]).await;
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let mut relay = RelayProcess::spawn(&binary, &args.out, &env(&ptt, &tg, &dc, port))?;
    let soak = Arc::new(Soak {
        subs: subscriptions(),
        ptt,
        tg,
        dc,
        world: Mutex::new(World::default()),
        samples: Mutex::new(Vec::new()),
        phase: Mutex::new("setup"),
        started: Instant::now(),
        pid: relay.child.id(),
        metrics_url: format!("http://127.0.0.1:{port}/metrics"),
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| e.to_string())?,
        clk_tck: clk_tck(),
    });
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_loop(Arc::clone(&soak), Arc::clone(&stop_sampling)));

    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let outcome = phases(&soak, &mut relay, total, args.seed).await;
    stop_sampling.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let exited = relay.stop();
    let timing = outcome?;
    let report = Report::build(&soak, &timing, &args.out, exited);
    write_samples(&soak, &args.out);
    report.print();
    Ok(report.pass())
}

/// Start and end of each phase, seconds since the start.
struct Timing {
    connected: f64,
    subscribed: f64,
    idle_rss_mb: f64,
    traffic_start: f64,
    traffic_end: f64,
    drained: Option<f64>,
    end: f64,
}

/// Setup, idle, traffic, drain.
async fn phases(
    soak: &Arc<Soak>,
    relay: &mut RelayProcess,
    total: Duration,
    seed: u64,
) -> Result<Timing, String> {
    wait_connected(soak, relay).await?;
    let connected = soak.secs();
    println!("soak: both adapters connected after {connected:.1} s");
    subscribe_all(soak, relay).await?;
    let subscribed = soak.secs();
    println!(
        "soak: {} subscriptions confirmed after {subscribed:.1} s; idling {} s",
        soak.subs.len(),
        IDLE.as_secs()
    );
    soak.set_phase("idle");
    tokio::time::sleep(IDLE).await;
    relay.alive()?;
    let idle_rss_mb = rss_kb(soak.pid).unwrap_or(0) as f64 / 1024.0;
    println!("soak: idle RSS {idle_rss_mb:.1} MB");

    soak.set_phase("traffic");
    let traffic_start = soak.secs();
    let left = total.saturating_sub(soak.started.elapsed());
    // Leave about a minute for the drain; at least two minutes of traffic.
    let traffic = left
        .saturating_sub(Duration::from_secs(60))
        .max(Duration::from_secs(120));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = vec![
        tokio::spawn(post_loop(Arc::clone(soak), Arc::clone(&stop), seed)),
        tokio::spawn(push_loop(Arc::clone(soak), Arc::clone(&stop), seed + 1)),
        tokio::spawn(delete_loop(Arc::clone(soak), Arc::clone(&stop), seed + 2)),
        tokio::spawn(fault_loop(Arc::clone(soak), Arc::clone(&stop), seed + 3)),
    ];
    let until = Instant::now() + traffic;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        relay.alive()?;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    clear_faults(soak);
    let traffic_end = soak.secs();

    soak.set_phase("drain");
    let drained = drain(soak, relay).await?;
    // Late repeats would show up here.
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(Timing {
        connected,
        subscribed,
        idle_rss_mb,
        traffic_start,
        traffic_end,
        drained,
        end: soak.secs(),
    })
}

impl Soak {
    fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn set_phase(&self, p: &'static str) {
        *self.phase.lock().unwrap() = p;
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }
}

// ------------------------------------------------------- the relay process

/// The `ptt-relay run` child; killed when dropped.
struct RelayProcess {
    child: Child,
    log: PathBuf,
}

impl RelayProcess {
    fn spawn(binary: &Path, dir: &Path, env: &[(&str, String)]) -> Result<Self, String> {
        let log = dir.join("relay.log");
        let err = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = Command::new(binary);
        cmd.arg("run").current_dir(dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("PTT_RELAY") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", binary.display()))?;
        Ok(RelayProcess { child, log })
    }

    /// An error when the process has exited.
    fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "the relay exited ({status}); last log lines:\n{}",
                tail(&self.log, 20)
            )),
            Err(e) => Err(format!("waiting for the relay: {e}")),
        }
    }

    /// SIGTERM, then a kill after 15 s; the exit code when it exited.
    fn stop(&mut self) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The relay's configuration: all five boards polled every second, both
/// platforms pointed at the fakes, tally schedule compressed like the rest.
fn env(
    ptt: &FakePtt,
    tg: &FakeTelegram,
    dc: &FakeDiscord,
    port: u16,
) -> Vec<(&'static str, String)> {
    vec![
        ("PTT_RELAY__PTT__BASE_URL", ptt.base_url.clone()),
        ("PTT_RELAY__PTT__BOARDS", BOARDS.join(",")),
        ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "1".into()),
        ("PTT_RELAY__PTT__REQUESTS_PER_SEC", "20".into()),
        ("PTT_RELAY__TELEGRAM__TOKEN", TG_TOKEN.into()),
        ("PTT_RELAY__TELEGRAM__API_URL", tg.api_url.clone()),
        ("PTT_RELAY__DISCORD__TOKEN", DC_TOKEN.into()),
        ("PTT_RELAY__DISCORD__API_URL", dc.base_url.clone()),
        ("PTT_RELAY__DISCORD__GUILD_ID", GUILD.to_string()),
        ("PTT_RELAY__RELAY__TRACK_FIRST_SECS", "10".into()),
        ("PTT_RELAY__RELAY__TRACK_MAX_STEP_SECS", "60".into()),
        ("PTT_RELAY__SHUTDOWN__TIMEOUT_SECS", "3".into()),
        ("PTT_RELAY__HTTP__LISTEN", format!("127.0.0.1:{port}")),
        ("RUST_LOG", "ptt_relay=info".into()),
    ]
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ------------------------------------------------------------------ setup

/// 500 Telegram chats (400 private, 100 groups) and 500 Discord channels.
fn subscriptions() -> Vec<Sub> {
    let mut subs = Vec::with_capacity(2 * PER_PLATFORM);
    for i in 0..PER_PLATFORM {
        let chat = if i < TG_GROUPS_FROM {
            100_000 + i as i64
        } else {
            -(500_000 + i as i64)
        };
        subs.push(Sub::new(Dest::Telegram(chat), i));
    }
    for i in 0..PER_PLATFORM {
        subs.push(Sub::new(
            Dest::Discord(810_000_000_000_000_000 + i as u64),
            i,
        ));
    }
    subs
}

/// Waits until Telegram's command menu is set and Discord's gateway is up
/// with `/ptt` registered.
async fn wait_connected(soak: &Soak, relay: &mut RelayProcess) -> Result<(), String> {
    let limit = Instant::now() + Duration::from_secs(60);
    while Instant::now() < limit {
        relay.alive()?;
        if !soak.tg.commands().is_empty()
            && !soak.dc.identifies().is_empty()
            && !soak.dc.commands().is_empty()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("the adapters did not connect within 60 s".into())
}

/// Sends every `/subscribe` (about 25 a second on each platform) and waits
/// for all confirmations.
async fn subscribe_all(soak: &Soak, relay: &mut RelayProcess) -> Result<(), String> {
    let mut interactions = HashMap::new();
    for (n, sub) in soak.subs.iter().enumerate() {
        match sub.dest {
            Dest::Telegram(chat) if chat > 0 => {
                soak.tg.private_message(chat, "en", &sub.telegram_text());
            }
            Dest::Telegram(chat) => {
                let admin = 900_000 - chat;
                soak.tg.add_admin(chat, admin);
                soak.tg.group_message(chat, admin, &sub.telegram_text());
            }
            Dest::Discord(channel) => {
                let origin = Origin::channel(GUILD, channel, MANAGE_CHANNELS | MEMBER).locale("en");
                let id = soak.dc.slash(&origin, "subscribe", sub.discord_options());
                interactions.insert(id, channel);
            }
        }
        if n % 25 == 24 {
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }
    let limit = Instant::now() + Duration::from_secs(120);
    loop {
        relay.alive()?;
        let tg_ok: HashSet<i64> = soak
            .tg
            .sent()
            .iter()
            .filter(|m| is_confirmation(&m.visible))
            .map(|m| m.chat_id)
            .collect();
        let dc_ok = interactions
            .keys()
            .filter(|id| {
                soak.dc
                    .answer(id)
                    .is_some_and(|a| is_confirmation(&a.content))
            })
            .count();
        let done = tg_ok.len() + dc_ok;
        if done >= soak.subs.len() {
            return Ok(());
        }
        if Instant::now() > limit {
            return Err(format!(
                "only {} Telegram and {dc_ok} Discord subscriptions confirmed within 120 s",
                tg_ok.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_confirmation(text: &str) -> bool {
    text.contains("Subscribed #") || text.contains("已訂閱 #")
}

// ---------------------------------------------------------------- traffic

/// Tags and how often they occur (out of 20).
const TITLE_KINDS: [(&str, usize); 7] = [
    ("[新聞]", 9),
    ("[標的]", 2),
    ("[閒聊]", 2),
    ("[情報]", 2),
    ("[問卦]", 1),
    ("Re: [新聞]", 3),
    ("Fw: [情報]", 1),
];
const SUBJECTS: [&str; 8] = [
    "台積電法說會",
    "聯發科新品",
    "ＡＩ伺服器出貨",
    "AI晶片禁令",
    "央行升息",
    "中職開幕戰",
    "房價走勢",
    "美股收盤",
];
const AUTHORS: [&str; 4] = ["reporter1", "Reporter2", "newsbot", "someone"];

fn random_title(rng: &mut StdRng, n: usize) -> String {
    let mut pick = rng.random_range(0..20);
    let mut kind = TITLE_KINDS[0].0;
    for (k, weight) in TITLE_KINDS {
        if pick < weight {
            kind = k;
            break;
        }
        pick -= weight;
    }
    let subject = SUBJECTS.choose(rng).copied().unwrap_or("快訊");
    format!("{kind} {subject} 第{n}則")
}

/// A new post every 2–6 s on a random board: about 0.25 posts a second,
/// some 35 deliveries per post and platform.
async fn post_loop(soak: Arc<Soak>, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let board = *BOARDS.choose(&mut rng).unwrap_or(&BOARDS[0]);
        let title = random_title(&mut rng, n);
        let author = AUTHORS.choose(&mut rng).copied().unwrap_or("someone");
        let id = soak.ptt.add_post(board, &title, author);
        soak.world().posts.push(PostRec {
            board,
            id,
            title,
            author: author.to_owned(),
            net: 0,
            pushed: false,
            deleted: false,
        });
        sleep_unless_stopped(&stop, rng.random_range(2000..6000)).await;
    }
}

/// Every 3–9 s, 1–4 push lines on one of a board's 15 newest live posts;
/// a batch never lowers the net push.
async fn push_loop(soak: Arc<Soak>, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        sleep_unless_stopped(&stop, rng.random_range(3000..9000)).await;
        let board = *BOARDS.choose(&mut rng).unwrap_or(&BOARDS[0]);
        let mut w = soak.world();
        let recent: Vec<usize> = (0..w.posts.len())
            .rev()
            .filter(|&i| w.posts[i].board == board)
            .take(15)
            .filter(|&i| !w.posts[i].deleted)
            .collect();
        let Some(&i) = recent.choose(&mut rng) else {
            continue;
        };
        let ups = rng.random_range(1..=3);
        let mut tags: Vec<&'static str> = vec!["推"; ups];
        if rng.random_bool(0.3) {
            tags.push("噓");
        }
        if rng.random_bool(0.5) {
            tags.push("→");
        }
        let downs = tags.iter().filter(|t| **t == "噓").count();
        let p = &mut w.posts[i];
        soak.ptt.add_pushes(board, &p.id, &tags);
        p.net += (ups - downs) as i64;
        p.pushed = true;
        w.push_batches += 1;
    }
}

/// Every 30–60 s, deletes a post that never got pushes and has already
/// reached some destination (so every delivery it owes is in the outbox).
async fn delete_loop(soak: Arc<Soak>, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        sleep_unless_stopped(&stop, rng.random_range(30_000..60_000)).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let reached: HashSet<String> = delivered(&soak).keys().map(|(_, id)| id.clone()).collect();
        let mut w = soak.world();
        let candidates: Vec<usize> = (0..w.posts.len())
            .filter(|&i| {
                let p = &w.posts[i];
                !p.pushed && !p.deleted && reached.contains(&p.id)
            })
            .collect();
        if let Some(&i) = candidates.choose(&mut rng) {
            let p = &mut w.posts[i];
            soak.ptt.delete_post(p.board, &p.id);
            p.deleted = true;
        }
    }
}

/// A fault on one of the services.
#[derive(Clone, Copy, Debug)]
enum FaultKind {
    Ptt500,
    Ptt503,
    Ptt429,
    PttHang,
    PttClose,
    Telegram500,
    Telegram429,
    TelegramUpdates500,
    DiscordStorm,
    Discord500,
}

const FAULTS: [FaultKind; 10] = [
    FaultKind::Ptt500,
    FaultKind::Ptt503,
    FaultKind::Ptt429,
    FaultKind::PttHang,
    FaultKind::PttClose,
    FaultKind::Telegram500,
    FaultKind::Telegram429,
    FaultKind::TelegramUpdates500,
    FaultKind::DiscordStorm,
    FaultKind::Discord500,
];

/// Every 15–35 s, one fault for 2–6 s: every kind once per round, in a
/// random order, so a ten-minute run sees each kind at least once.
async fn fault_loop(soak: Arc<Soak>, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut round: Vec<FaultKind> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        sleep_unless_stopped(&stop, rng.random_range(15_000..35_000)).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if round.is_empty() {
            round = FAULTS.to_vec();
            round.shuffle(&mut rng);
        }
        let Some(kind) = round.pop() else { continue };
        let channels: Vec<u64> = (0..5)
            .map(|_| 810_000_000_000_000_000 + rng.random_range(0..PER_PLATFORM as u64))
            .collect();
        start_fault(&soak, kind, &channels);
        soak.world()
            .faults
            .push(format!("{:.0}s {kind:?}", soak.secs()));
        tokio::time::sleep(Duration::from_millis(rng.random_range(2000..6000))).await;
        end_fault(&soak, kind, &channels);
    }
}

fn start_fault(soak: &Soak, kind: FaultKind, channels: &[u64]) {
    match kind {
        FaultKind::Ptt500 => soak.ptt.set_fault(Some(Fault::Status(500))),
        FaultKind::Ptt503 => soak.ptt.set_fault(Some(Fault::Status(503))),
        FaultKind::Ptt429 => soak.ptt.set_fault(Some(Fault::Status(429))),
        FaultKind::PttHang => soak.ptt.set_fault(Some(Fault::Hang)),
        FaultKind::PttClose => soak.ptt.set_fault(Some(Fault::CloseConnection)),
        FaultKind::Telegram500 => soak.tg.fail_500("sendMessage", 3),
        FaultKind::Telegram429 => {
            for _ in 0..3 {
                soak.tg.force_429("sendMessage", 2);
            }
            soak.world().tg_forced_429 += 3;
        }
        FaultKind::TelegramUpdates500 => soak.tg.fail_500("getUpdates", 2),
        FaultKind::DiscordStorm => {
            let mut w = soak.world();
            w.dc_storm_answered += w.dc_storm_pending - soak.dc.storm_left();
            w.dc_storm_pending = 20;
            soak.dc.storm(20);
        }
        FaultKind::Discord500 => {
            for &c in channels {
                soak.dc.set_fault(c, Some(ChannelFault::ServerError));
            }
        }
    }
}

fn end_fault(soak: &Soak, kind: FaultKind, channels: &[u64]) {
    match kind {
        FaultKind::Ptt500
        | FaultKind::Ptt503
        | FaultKind::Ptt429
        | FaultKind::PttHang
        | FaultKind::PttClose => soak.ptt.set_fault(None),
        FaultKind::Discord500 => {
            for &c in channels {
                soak.dc.set_fault(c, None);
            }
        }
        // One-shot faults: used up by the next calls.
        FaultKind::Telegram500
        | FaultKind::Telegram429
        | FaultKind::TelegramUpdates500
        | FaultKind::DiscordStorm => {}
    }
}

/// After the traffic: no fault left anywhere (forced Telegram 429s are
/// used up by the next sends).
fn clear_faults(soak: &Soak) {
    soak.ptt.set_fault(None);
    soak.tg.fail_500("sendMessage", 0);
    soak.tg.fail_500("getUpdates", 0);
    let mut w = soak.world();
    w.dc_storm_answered += w.dc_storm_pending - soak.dc.storm_left();
    w.dc_storm_pending = 0;
    soak.dc.storm(0);
    for s in &soak.subs {
        if let Dest::Discord(c) = s.dest {
            soak.dc.set_fault(c, None);
        }
    }
}

async fn sleep_unless_stopped(stop: &AtomicBool, ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------ drain

/// Waits until every expected delivery arrived and the outbox is empty;
/// the time it happened, or `None` after [`DRAIN_LIMIT`].
async fn drain(soak: &Soak, relay: &mut RelayProcess) -> Result<Option<f64>, String> {
    let limit = Instant::now() + DRAIN_LIMIT;
    while Instant::now() < limit {
        relay.alive()?;
        let tally = Tally::count(soak);
        let outbox = soak
            .metrics()
            .await
            .map(|m| metric(&m, "ptt_relay_outbox_depth"));
        if tally.lost() == 0 && outbox == Some(0.0) {
            return Ok(Some(soak.secs()));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(None)
}

// ------------------------------------------------------------- measuring

/// (destination, post id) → messages that carried the post.
fn delivered(soak: &Soak) -> HashMap<(Dest, String), usize> {
    let mut got = HashMap::new();
    for m in soak.tg.sent() {
        if let Some(id) = post_id(&m.text) {
            *got.entry((Dest::Telegram(m.chat_id), id)).or_insert(0) += 1;
        }
    }
    for m in soak.dc.messages() {
        let channel = m.channel.parse().unwrap_or(0);
        if let Some(id) = post_id(&m.body.to_string()) {
            *got.entry((Dest::Discord(channel), id)).or_insert(0) += 1;
        }
    }
    got
}

/// The post id in the first `https://www.ptt.cc/bbs/BOARD/ID.html` link.
fn post_id(text: &str) -> Option<String> {
    let rest = &text[text.find("https://www.ptt.cc/bbs/")? + 23..];
    let (_, file) = rest.split_once('/')?;
    let end = file.find(".html")?;
    Some(file[..end].to_owned())
}

/// Deliveries expected and made.
#[derive(Default)]
struct Tally {
    expected: [usize; 2],
    expected_push: [usize; 2],
    made: [usize; 2],
    lost: [usize; 2],
    lost_push: [usize; 2],
    duplicates: [usize; 2],
    unexpected: [usize; 2],
    lost_examples: Vec<String>,
    unexpected_examples: Vec<String>,
}

impl Tally {
    /// Index 0 Telegram, 1 Discord.
    fn count(soak: &Soak) -> Tally {
        let got = delivered(soak);
        let posts = soak.world().posts.clone();
        let mut t = Tally::default();
        let mut wanted = HashSet::new();
        for p in &posts {
            for s in soak.subs.iter().filter(|s| s.wants(p)) {
                let k = usize::from(!s.dest.is_telegram());
                let push = s.filter.push.is_some();
                t.expected[k] += 1;
                t.expected_push[k] += usize::from(push);
                let key = (s.dest, p.id.clone());
                if !got.contains_key(&key) {
                    t.lost[k] += 1;
                    t.lost_push[k] += usize::from(push);
                    if t.lost_examples.len() < 5 {
                        t.lost_examples.push(format!(
                            "{:?} {}/{} {:?} net {} deleted {}",
                            s.dest, p.board, p.id, p.title, p.net, p.deleted
                        ));
                    }
                }
                wanted.insert(key);
            }
        }
        for (key, n) in &got {
            let k = usize::from(!key.0.is_telegram());
            t.made[k] += n;
            t.duplicates[k] += n - 1;
            if !wanted.contains(key) {
                t.unexpected[k] += 1;
                if t.unexpected_examples.len() < 5 {
                    t.unexpected_examples.push(format!("{:?} {}", key.0, key.1));
                }
            }
        }
        t
    }

    fn lost(&self) -> usize {
        self.lost.iter().sum()
    }
}

impl Soak {
    async fn metrics(&self) -> Option<String> {
        let r = self.http.get(&self.metrics_url).send().await.ok()?;
        r.text().await.ok()
    }
}

/// The sum of a metric's samples (every label set).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// VmRSS in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime in seconds.
fn cpu_secs(pid: u32, clk_tck: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is
    // field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clk_tck)
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A sample every [`SAMPLE_EVERY`], printed as it is taken.
async fn sample_loop(soak: Arc<Soak>, stop: Arc<AtomicBool>) {
    let mut next = Instant::now();
    let mut last: Option<Sample> = None;
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() < next {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        next += SAMPLE_EVERY;
        let Some(s) = take_sample(&soak, last.as_ref()).await else {
            continue;
        };
        let per_poll = last.as_ref().and_then(|l| {
            let polls = s.polls - l.polls;
            (polls > 0.0).then(|| 1000.0 * (s.cpu_s - l.cpu_s) / polls)
        });
        println!(
            "SAMPLE t={:>5.0}s phase={:<7} rss={:>6.1}MB cpu={:>7.2}s polls={:>6.0} cpu/poll={} outbox={:>4.0} delivered=tg:{} dc:{}",
            s.t,
            s.phase,
            s.rss_mb,
            s.cpu_s,
            s.polls,
            per_poll.map_or("   -  ".into(), |v| format!("{v:>5.2}ms")),
            s.outbox,
            s.delivered_tg,
            s.delivered_dc
        );
        soak.samples.lock().unwrap().push(s.clone());
        last = Some(s);
    }
}

async fn take_sample(soak: &Soak, last: Option<&Sample>) -> Option<Sample> {
    let rss = rss_kb(soak.pid)?;
    let cpu = cpu_secs(soak.pid, soak.clk_tck)?;
    let (polls, outbox) = match soak.metrics().await {
        Some(m) => (
            metric(&m, "ptt_relay_polls_total"),
            metric(&m, "ptt_relay_outbox_depth"),
        ),
        None => last.map_or((0.0, 0.0), |l| (l.polls, l.outbox)),
    };
    let tg = soak
        .tg
        .sent()
        .iter()
        .filter(|m| post_id(&m.text).is_some())
        .count();
    Some(Sample {
        t: soak.secs(),
        phase: *soak.phase.lock().unwrap(),
        rss_mb: rss as f64 / 1024.0,
        cpu_s: cpu,
        polls,
        outbox,
        delivered_tg: tg,
        delivered_dc: soak.dc.messages().len(),
    })
}

fn write_samples(soak: &Soak, dir: &Path) {
    let mut csv =
        String::from("t_secs,phase,rss_mb,cpu_secs,polls,outbox,delivered_tg,delivered_dc\n");
    for s in soak.samples.lock().unwrap().iter() {
        let _ = writeln!(
            csv,
            "{:.1},{},{:.2},{:.2},{},{},{},{}",
            s.t, s.phase, s.rss_mb, s.cpu_s, s.polls, s.outbox, s.delivered_tg, s.delivered_dc
        );
    }
    let _ = std::fs::write(dir.join("samples.csv"), csv);
}

// ----------------------------------------------------------------- report

/// The final figures.
struct Report {
    lines: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn build(soak: &Soak, timing: &Timing, dir: &Path, exit: Option<i32>) -> Report {
        let mut r = Report {
            lines: Vec::new(),
            failures: Vec::new(),
        };
        let tally = Tally::count(soak);
        r.run_lines(soak, timing);
        r.delivery_lines(soak, &tally);
        r.rate_limit_lines(soak);
        r.resource_lines(soak, timing);
        r.log_lines(dir, exit);
        r
    }

    fn line(&mut self, label: &str, text: String) {
        self.lines.push(format!("SOAK {label:<14} {text}"));
    }

    fn run_lines(&mut self, soak: &Soak, t: &Timing) {
        self.line(
            "run",
            format!(
                "{:.0} s: setup {:.0} s (adapters up at {:.0} s), idle {:.0} s, traffic {:.0} s, drain {}",
                t.end,
                t.subscribed,
                t.connected,
                t.traffic_start - t.subscribed,
                t.traffic_end - t.traffic_start,
                t.drained.map_or(format!("NOT DONE after {} s", DRAIN_LIMIT.as_secs()), |d| {
                    format!("{:.0} s", d - t.traffic_end)
                })
            ),
        );
        let push_subs = soak.subs.iter().filter(|s| s.filter.push.is_some()).count();
        self.line(
            "subscriptions",
            format!(
                "{} = {PER_PLATFORM} Telegram chats ({TG_GROUPS_FROM} private, {} groups) + {PER_PLATFORM} Discord channels on {} boards; {push_subs} with push:N",
                soak.subs.len(),
                PER_PLATFORM - TG_GROUPS_FROM,
                BOARDS.len()
            ),
        );
        self.line(
            "idle RSS",
            format!(
                "{:.1} MB (both adapters connected, {} subscriptions, after {} s idle)",
                t.idle_rss_mb,
                soak.subs.len(),
                IDLE.as_secs()
            ),
        );
        let w = soak.world();
        let deleted = w.posts.iter().filter(|p| p.deleted).count();
        let pushed = w.posts.iter().filter(|p| p.pushed).count();
        let traffic = (t.traffic_end - t.traffic_start).max(1.0);
        let (posts, batches, faults) = (w.posts.len(), w.push_batches, w.faults.len());
        drop(w);
        self.line(
            "traffic",
            format!(
                "{posts} posts ({:.2}/s), {batches} push batches on {pushed} posts, {deleted} deleted, {faults} faults",
                posts as f64 / traffic
            ),
        );
        let summary = fault_summary(&soak.world().faults);
        self.line("faults", summary);
    }

    fn delivery_lines(&mut self, soak: &Soak, t: &Tally) {
        for (k, name) in ["telegram", "discord"].iter().enumerate() {
            self.line(
                name,
                format!(
                    "expected {} (push:N {}), made {}, lost {} (push:N {}), duplicates {}, unexpected {}",
                    t.expected[k],
                    t.expected_push[k],
                    t.made[k],
                    t.lost[k],
                    t.lost_push[k],
                    t.duplicates[k],
                    t.unexpected[k]
                ),
            );
        }
        let (lost, dups, unexpected) = (
            t.lost(),
            t.duplicates.iter().sum::<usize>(),
            t.unexpected.iter().sum::<usize>(),
        );
        self.line(
            "deliveries",
            format!(
                "expected {}, made {}, lost {lost}, duplicates {dups}, unexpected {unexpected}; Discord nonce repeats (dropped by Discord) {}",
                t.expected.iter().sum::<usize>(),
                t.made.iter().sum::<usize>(),
                soak.dc.nonce_hits()
            ),
        );
        for e in &t.lost_examples {
            self.line("lost e.g.", e.clone());
        }
        for e in &t.unexpected_examples {
            self.line("unexpected e.g.", e.clone());
        }
        if lost > 0 {
            self.failures.push(format!("{lost} deliveries lost"));
        }
        if dups > 0 {
            self.failures.push(format!("{dups} duplicate deliveries"));
        }
        if unexpected > 0 {
            self.failures
                .push(format!("{unexpected} deliveries nobody subscribed to"));
        }
        let edits_tg = soak.tg.edits().len();
        let edits_dc = soak.dc.edits().len();
        self.line(
            "tally edits",
            format!("telegram {edits_tg}, discord {edits_dc}"),
        );
    }

    fn rate_limit_lines(&mut self, soak: &Soak) {
        let w = soak.world();
        let forced = w.tg_forced_429;
        let storm = w.dc_storm_answered;
        drop(w);
        let tg = soak.tg.answered_429();
        let dc = soak.dc.rate_limited();
        self.line(
            "429s",
            format!(
                "telegram {tg} answered, {forced} forced, {} unforced; discord {dc} answered, {storm} in storms, {} unforced",
                tg.saturating_sub(forced),
                dc.saturating_sub(storm)
            ),
        );
    }

    fn resource_lines(&mut self, soak: &Soak, t: &Timing) {
        let samples = soak.samples.lock().unwrap().clone();
        let traffic: Vec<&Sample> = samples.iter().filter(|s| s.phase == "traffic").collect();
        let warm = t.traffic_start + 0.2 * (t.traffic_end - t.traffic_start);
        let after: Vec<&Sample> = traffic.iter().copied().filter(|s| s.t >= warm).collect();
        let mean = |v: &[&Sample]| v.iter().map(|s| s.rss_mb).sum::<f64>() / v.len().max(1) as f64;
        if after.len() >= 6 {
            let first = mean(&after[..3]);
            let last = mean(&after[after.len() - 3..]);
            let growth = last - first;
            let pct = 100.0 * growth / first.max(1.0);
            let max = samples.iter().map(|s| s.rss_mb).fold(0.0, f64::max);
            self.line(
                "RSS",
                format!(
                    "after warm-up (t≥{warm:.0}s, first 3 samples) {first:.1} MB → last 3 traffic samples {last:.1} MB: {growth:+.1} MB ({pct:+.1}%); max {max:.1} MB"
                ),
            );
            if pct > RSS_LIMIT_PCT {
                self.failures.push(format!(
                    "RSS grew {pct:.1}% after warm-up (limit {RSS_LIMIT_PCT}%)"
                ));
            }
        } else {
            self.line("RSS", "too few samples after warm-up to judge".into());
            self.failures.push("too few samples to judge RSS".into());
        }
        if let (Some(a), Some(b)) = (traffic.first(), traffic.last()) {
            let polls = b.polls - a.polls;
            let cpu = b.cpu_s - a.cpu_s;
            let secs = (b.t - a.t).max(1.0);
            self.line(
                "CPU",
                format!(
                    "traffic: {cpu:.1} s over {secs:.0} s ({:.1}% of a core), {polls:.0} polls, {:.2} ms CPU per poll (everything the process does, divided by polls)",
                    100.0 * cpu / secs,
                    1000.0 * cpu / polls.max(1.0)
                ),
            );
        }
        let max_outbox = samples.iter().map(|s| s.outbox).fold(0.0, f64::max);
        let final_outbox = samples.last().map_or(0.0, |s| s.outbox);
        self.line(
            "outbox",
            format!("max depth {max_outbox:.0}, last sample {final_outbox:.0}"),
        );
        if t.drained.is_none() {
            self.failures.push("the outbox did not drain".into());
        }
    }

    fn log_lines(&mut self, dir: &Path, exit: Option<i32>) {
        let log = std::fs::read_to_string(dir.join("relay.log")).unwrap_or_default();
        let count = |w: &str| log.lines().filter(|l| l.contains(w)).count();
        let (warn, error, panics) = (count(" WARN "), count(" ERROR "), count("panicked"));
        self.line(
            "relay log",
            format!(
                "{} lines, {warn} WARN, {error} ERROR, {panics} panics ({}); exit after SIGTERM: {}",
                log.lines().count(),
                dir.join("relay.log").display(),
                exit.map_or("none (killed)".into(), |c| c.to_string())
            ),
        );
        if panics > 0 {
            self.failures.push("the relay panicked".into());
        }
        if exit != Some(0) {
            self.failures
                .push("the relay did not exit 0 on SIGTERM".into());
        }
    }

    fn pass(&self) -> bool {
        self.failures.is_empty()
    }

    fn print(&self) {
        println!("SOAK ---------------------------------------------------------------");
        for l in &self.lines {
            println!("{l}");
        }
        let result = if self.pass() {
            "PASS".to_owned()
        } else {
            format!("FAIL: {}", self.failures.join("; "))
        };
        println!("SOAK {:<14} {result}", "result");
    }
}

/// "Ptt500×2, DiscordStorm×1, …".
fn fault_summary(faults: &[String]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for f in faults {
        let kind = f.split_once(' ').map_or(f.as_str(), |(_, k)| k).to_owned();
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k}×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
