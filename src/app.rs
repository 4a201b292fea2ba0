//! Assembling the service from its settings: the store, the PTT client, the
//! sinks, one poller per board, one outbox worker per sink, and pruning.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::chat::console::ConsoleSink;
use crate::chat::pacing::Share;
use crate::chat::{AdapterContext, ChatSink, Listener, PlatformId, registry};
use crate::clock::now_secs;
use crate::commands::{Handler, Lang};
use crate::config::{Settings, StoreUrl};
use crate::filter::Filter;
use crate::ptt::client::{ClientOptions, PttClient};
use crate::relay::edits::EditWorker;
use crate::relay::leaderboard::{LeaderboardOptions, Leaderboards};
use crate::relay::outbox::{self, OutboxWorker, SendGate};
use crate::relay::poller::{Poller, PollerOptions};
use crate::relay::router::Router;
use crate::relay::tally::{TallyOptions, Tracker};
use crate::store::postgres::{LeaderInfo, Leadership, PostgresStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use crate::telemetry::status::RuntimeStatus;

/// How often old rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store failed to open, is held by another process, or is too new.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The health endpoint's address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// `http.listen`.
        addr: String,
        /// Why.
        reason: String,
    },
}

impl StartError {
    /// Exit code 2 (usage/configuration) rather than 1 (runtime).
    pub fn is_usage(&self) -> bool {
        match self {
            StartError::Store(e) => e.is_usage(),
            StartError::Config(_) => true,
            StartError::Listen { .. } => false,
        }
    }
}

/// The running service.
pub struct Running {
    shutdown: CancellationToken,
    pollers: JoinSet<()>,
    workers: JoinSet<()>,
    store: Arc<dyn Store>,
    handler: Arc<Handler>,
    status: Arc<RuntimeStatus>,
    http_addr: std::net::SocketAddr,
    fatal: tokio::sync::watch::Receiver<Option<String>>,
    lost: tokio::sync::watch::Receiver<Option<String>>,
}

/// The store, and (on PostgreSQL) what decides which replica leads.
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    /// `None`: this process always leads (SQLite, one process per file).
    pub election: Option<Box<dyn Elect>>,
    /// The SQLite store whose lease this process holds: sends start only
    /// while the lease surely holds, and losing it stops the process.
    pub lease: Option<Arc<SqliteStore>>,
}

/// PostgreSQL leadership: the lock and the store to read the leader from.
pub struct Election {
    /// The advisory lock on its own connection.
    pub leadership: Leadership,
    /// The store (for the leader row).
    pub store: Arc<PostgresStore>,
}

/// What decides whether this replica leads: [`Election`] in production;
/// a seam so that a simulation can run each call on its own terms (e.g.
/// to completion on another runtime, or frozen). The methods are those of
/// [`Leadership`], plus the leader row; errors are the store's.
#[async_trait::async_trait]
pub trait Elect: Send {
    /// This replica's id.
    fn replica_id(&self) -> &str;
    /// Tries to take the lead ([`Leadership::try_acquire`]).
    async fn try_acquire(&mut self) -> Result<bool, StoreError>;
    /// Checks that the lead still holds ([`Leadership::ping`]); an error
    /// means it is lost.
    async fn ping(&mut self) -> Result<(), StoreError>;
    /// Records this replica as the leader at `now` (Unix seconds).
    async fn record(&mut self, now: i64) -> Result<(), StoreError>;
    /// Gives the lead up.
    async fn release(&mut self);
    /// Who leads, as recorded in the store.
    async fn leader(&self) -> Result<Option<LeaderInfo>, StoreError>;
}

#[async_trait::async_trait]
impl Elect for Election {
    fn replica_id(&self) -> &str {
        self.leadership.replica_id()
    }

    async fn try_acquire(&mut self) -> Result<bool, StoreError> {
        self.leadership.try_acquire().await
    }

    async fn ping(&mut self) -> Result<(), StoreError> {
        self.leadership.ping().await
    }

    async fn record(&mut self, now: i64) -> Result<(), StoreError> {
        self.leadership.record(now).await
    }

    async fn release(&mut self) {
        self.leadership.release().await;
    }

    async fn leader(&self) -> Result<Option<LeaderInfo>, StoreError> {
        self.store.leader().await
    }
}

/// A unique id of this process among replicas: host, pid and a random tag.
pub fn replica_id() -> String {
    format!(
        "{}-{}-{:04x}",
        crate::host::name(),
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Opens the store that `store.url` names (and, for PostgreSQL, prepares
/// the leadership lock).
pub async fn open_backend(settings: &Settings) -> Result<Backend, StartError> {
    match StoreUrl::parse(&settings.store.url) {
        Some(StoreUrl::Sqlite(path)) => {
            let store = SqliteStore::open(&path).await?;
            Ok(Backend {
                store: Arc::clone(&store) as Arc<dyn Store>,
                election: None,
                lease: Some(store),
            })
        }
        Some(StoreUrl::Postgres(url)) => {
            let id = replica_id();
            let store = PostgresStore::open(&url, id.clone()).await?;
            let ping = Duration::from_secs((settings.store.lease_secs / 3).max(1));
            let leadership = Leadership::new(&url, id)?.with_timeout(ping);
            Ok(Backend {
                store: Arc::clone(&store) as Arc<dyn Store>,
                election: Some(Box::new(Election { leadership, store })),
                lease: None,
            })
        }
        None => Err(StartError::Config("store.url is malformed".into())),
    }
}

/// Adjusts the PTT client's options before it is built.
pub type ClientTuning = Box<dyn Fn(&mut ClientOptions) + Send>;

/// What tests and embedders can add to a start.
#[derive(Default)]
pub struct Extras {
    /// Sinks besides those the settings enable (e.g. a recording sink).
    pub sinks: Vec<Arc<dyn ChatSink>>,
    /// Replaces the PTT client's request timeout and backoffs (short in
    /// fault tests).
    pub ptt_client: Option<ClientTuning>,
    /// Replaces the tally tracking window and schedule (seconds instead of
    /// hours in tests).
    pub tally: Option<TallyOptions>,
    /// The command handler, when a chat adapter was built outside (tests):
    /// the adapter and the service then share one handler, as they do when
    /// the service builds its adapters.
    pub handler: Option<Arc<Handler>>,
    /// The replicas' share of the platforms' overall limits, when extra
    /// sinks pace with it (a simulation's replicas); `None`: a new one.
    /// Used only on a backend with an election.
    pub share: Option<Arc<Share>>,
    /// Replaces how `top:N` leaderboards are kept (a short edit interval
    /// in tests); the heading language is `bot.locale`'s either way.
    pub leaderboards: Option<LeaderboardOptions>,
}

/// Starts the service with the sinks its settings enable.
pub async fn start(settings: &Settings) -> Result<Running, StartError> {
    start_with(settings, Extras::default()).await
}

/// Starts the service with extras.
pub async fn start_with(settings: &Settings, extras: Extras) -> Result<Running, StartError> {
    let backend = open_backend(settings).await?;
    start_backend(settings, backend, extras).await
}

/// Starts the service on an opened store, leading alone.
pub async fn start_with_store(
    settings: &Settings,
    store: Arc<dyn Store>,
    extras: Extras,
) -> Result<Running, StartError> {
    start_backend(
        settings,
        Backend {
            store,
            election: None,
            lease: None,
        },
        extras,
    )
    .await
}

/// Starts the service on an opened backend.
pub async fn start_backend(
    settings: &Settings,
    backend: Backend,
    extras: Extras,
) -> Result<Running, StartError> {
    let Backend {
        store,
        election,
        lease,
    } = backend;
    // Other processes queue rows too (PostgreSQL replicas).
    let replicas = election.is_some();
    let boards = settings.boards();
    let status = Arc::new(RuntimeStatus::new("this instance"));
    let listener = tokio::net::TcpListener::bind(&settings.http.listen)
        .await
        .map_err(|e| StartError::Listen {
            addr: settings.http.listen.clone(),
            reason: e.to_string(),
        })?;
    let http_addr = listener.local_addr().map_err(|e| StartError::Listen {
        addr: settings.http.listen.clone(),
        reason: e.to_string(),
    })?;
    let handler = extras.handler.clone().unwrap_or_else(|| {
        Arc::new(Handler::new(
            Arc::clone(&store),
            boards.clone(),
            Arc::clone(&status),
        ))
    });

    let base_url = url::Url::parse(&settings.ptt.base_url)
        .map_err(|e| StartError::Config(format!("ptt.base_url: {e}")))?;
    let mut options = ClientOptions::new(base_url);
    options.requests_per_sec = settings.ptt.requests_per_sec;
    // A transient fault never silences the relay for longer than a poll.
    options.max_transient_pause = Duration::from_secs(settings.ptt.poll_interval_secs);
    if let Some(tune) = &extras.ptt_client {
        tune(&mut options);
    }
    let client = PttClient::new(options).map_err(|e| StartError::Config(e.to_string()))?;

    let shutdown = CancellationToken::new();
    let (fatal_tx, fatal_rx) = tokio::sync::watch::channel(None::<String>);
    let (lost_tx, lost_rx) = tokio::sync::watch::channel(None::<String>);
    // Replicas share the platforms' overall limits; one process has them
    // to itself.
    let share = if election.is_some() {
        extras.share.clone().unwrap_or_else(Share::replica)
    } else {
        Share::alone()
    };
    let mut sinks: Vec<Arc<dyn ChatSink>> = Vec::new();
    let adapter_ctx = AdapterContext {
        handler: Arc::clone(&handler),
        status: Arc::clone(&status),
        default_lang: Lang::from_setting(&settings.bot.locale),
        shutdown: shutdown.clone(),
        share: Arc::clone(&share),
    };
    let platforms = registry::configure(settings).map_err(|e| StartError::Config(e.to_string()))?;
    let console_on = settings.console_enabled(platforms.any_enabled());
    let mut listeners = Vec::new();
    for (id, platform) in &platforms.enabled {
        let started = platform
            .start(adapter_ctx.clone())
            .map_err(StartError::Config)?;
        sinks.push(started.sink);
        listeners.push((*id, started.listener));
    }
    let console_filter = if console_on {
        let filter = Filter::parse_str(&settings.console.filter)
            .map_err(|e| StartError::Config(format!("console.filter: {e}")))?;
        sinks.push(Arc::new(ConsoleSink::new(
            settings.console.format == crate::config::OutputFormat::Json,
        )));
        Some(filter)
    } else {
        None
    };
    sinks.extend(extras.sinks);
    let router = Arc::new(Router::new(Arc::clone(&store), console_filter));

    let grace = Duration::from_secs(settings.shutdown.timeout_secs);
    let mut workers = JoinSet::new();
    let mut wakes = Vec::new();
    for sink in &sinks {
        let wake = Arc::new(Notify::new());
        wakes.push(Arc::clone(&wake));
        let mut worker = OutboxWorker::new(
            Arc::clone(&store),
            Arc::clone(sink),
            settings.outbox.concurrency as usize,
            wake,
        )
        .woken_by(handler.outbox_kick())
        .idle_wait(if replicas {
            outbox::IDLE_REPLICA
        } else {
            outbox::IDLE_ALONE
        });
        if let Some(lease) = &lease {
            worker = worker.with_gate(Arc::new(LeaseGate(Arc::clone(lease))));
        }
        workers.spawn(worker.run(shutdown.clone(), grace));
    }
    if let Some(lease) = lease {
        // A lost lease stops polling and sending at once; the caller exits 1.
        let stop = shutdown.clone();
        workers.spawn(async move {
            tokio::select! {
                why = lease.lease_lost() => {
                    stop.cancel();
                    let _ = lost_tx.send(Some(why));
                }
                () = stop.cancelled() => {}
            }
        });
    }
    if election.is_some() {
        workers.spawn(beat(
            Arc::clone(&store),
            Arc::clone(&share),
            shutdown.clone(),
        ));
    }

    let max_age = settings.relay.max_delivery_age();
    let retention = settings.store.retention();
    let gone_for = settings.relay.gone_chat_age();
    let prune_store = Arc::clone(&store);
    let prune_stop = shutdown.clone();
    workers.spawn(async move {
        loop {
            match prune_store.prune(now_secs(), max_age, retention).await {
                Ok((expired, deleted)) if expired + deleted > 0 => {
                    tracing::info!(expired, deleted, "store pruned");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "pruning failed"),
            }
            match prune_store.forget_gone_chats(now_secs(), gone_for).await {
                Ok(gone) => {
                    for g in gone {
                        tracing::info!(
                            platform = %g.platform,
                            chat = %g.chat,
                            subscriptions = g.subscriptions,
                            days = gone_for.as_secs() / 86_400,
                            "removed the subscriptions of a chat paused (gone) too long"
                        );
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot forget gone chats"),
            }
            tokio::select! {
                () = tokio::time::sleep(PRUNE_EVERY) => {}
                () = prune_stop.cancelled() => break,
            }
        }
    });

    workers.spawn(crate::http::serve(
        listener,
        crate::http::HttpState {
            store: Arc::clone(&store),
            status: Arc::clone(&status),
            boards: boards.clone(),
            poll_interval: Duration::from_secs(settings.ptt.poll_interval_secs),
        },
        shutdown.clone(),
    ));

    let work = Arc::new(LeaderWork {
        store: Arc::clone(&store),
        client,
        router,
        status: Arc::clone(&status),
        sinks,
        outbox_wakes: wakes,
        poller: PollerOptions {
            interval: Duration::from_secs(settings.ptt.poll_interval_secs),
            catchup_pages: settings.ptt.catchup_pages,
            backfill: settings.ptt.backfill,
            max_age: settings.relay.max_delivery_age(),
        },
        boards,
        leaderboards: LeaderboardOptions {
            lang: Lang::from_setting(&settings.bot.locale),
            ..extras.leaderboards.unwrap_or_default()
        },
        tally: extras.tally.unwrap_or(TallyOptions {
            window: settings.relay.track_window(),
            first_step: Duration::from_secs(settings.relay.track_first_secs),
            max_step: Duration::from_secs(settings.relay.track_max_step_secs),
            hot_minute: Duration::from_secs(60),
            boom_recount: crate::relay::tally::BOOM_RECOUNT,
        }),
        listeners,
        fatal: fatal_tx,
    });
    let mut pollers = JoinSet::new();
    let lease = Duration::from_secs(settings.store.lease_secs);
    pollers.spawn(supervise(work, election, lease, shutdown.clone()));
    tracing::info!(
        boards = ?settings.ptt.boards,
        console = console_on,
        http = %http_addr,
        "ptt-relay started"
    );
    Ok(Running {
        shutdown,
        pollers,
        workers,
        store,
        handler,
        status,
        http_addr,
        fatal: fatal_rx,
        lost: lost_rx,
    })
}

/// Sends start only while this process surely holds the SQLite lease.
struct LeaseGate(Arc<SqliteStore>);

impl SendGate for LeaseGate {
    fn may_send(&self) -> bool {
        self.0.lease_valid()
    }
}

/// A replica's heartbeat: every [`Share::BEAT`] it records itself in the
/// store and learns how many replicas share the platforms' overall limits;
/// on the way out it leaves the list (at `close`).
async fn beat(store: Arc<dyn Store>, share: Arc<Share>, shutdown: CancellationToken) {
    loop {
        let began = tokio::time::Instant::now();
        match store.replica_heartbeat(now_secs(), Share::LIVE_SECS).await {
            Ok(n) => {
                if n != share.replicas() {
                    tracing::info!(replicas = n, "replicas sharing the platforms' limits");
                }
                share.beat(began, n);
            }
            Err(e) => tracing::warn!(error = %e, "cannot record this replica's heartbeat"),
        }
        tokio::select! {
            () = tokio::time::sleep(Share::BEAT) => {}
            () = shutdown.cancelled() => break,
        }
    }
}

/// What only the leader runs: pollers, the tally tracker, edit workers,
/// the leaderboard worker and the chat listeners. Every replica runs the outbox workers.
struct LeaderWork {
    store: Arc<dyn Store>,
    client: PttClient,
    router: Arc<Router>,
    status: Arc<RuntimeStatus>,
    sinks: Vec<Arc<dyn ChatSink>>,
    outbox_wakes: Vec<Arc<Notify>>,
    poller: PollerOptions,
    boards: Vec<crate::ptt::Board>,
    tally: TallyOptions,
    leaderboards: LeaderboardOptions,
    /// Each enabled platform's listener (commands, membership changes).
    listeners: Vec<(PlatformId, Arc<dyn Listener>)>,
    fatal: tokio::sync::watch::Sender<Option<String>>,
}

impl LeaderWork {
    /// Starts one leadership term's tasks; they stop when `term` is cancelled.
    fn spawn(&self, term: &CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let mut edit_wakes = Vec::new();
        for sink in &self.sinks {
            let wake = Arc::new(Notify::new());
            edit_wakes.push(Arc::clone(&wake));
            let editor = EditWorker::new(
                Arc::clone(&self.store),
                Arc::clone(sink),
                Arc::clone(&self.status),
                wake,
            );
            set.spawn(editor.run(term.clone()));
        }
        let tracker = Arc::new(Tracker::new(
            Arc::clone(&self.store),
            self.client.clone(),
            Arc::clone(&self.router),
            self.tally,
            Arc::clone(&self.status),
            self.outbox_wakes.clone(),
            edit_wakes,
        ));
        set.spawn(Arc::clone(&tracker).run(term.clone()));
        let leaderboards = Arc::new(Leaderboards::new(
            Arc::clone(&self.store),
            &self.sinks,
            self.boards.clone(),
            self.leaderboards,
        ));
        let leaderboards_wake = leaderboards.waker();
        set.spawn(leaderboards.run(term.clone()));
        for board in &self.boards {
            let poller = Poller::new(
                board.clone(),
                self.client.clone(),
                Arc::clone(&self.store),
                Arc::clone(&self.router),
                self.poller.clone(),
                self.outbox_wakes.clone(),
                Arc::clone(&self.status),
            )
            .with_tracker(Arc::clone(&tracker))
            .with_leaderboards(Arc::clone(&leaderboards_wake));
            set.spawn(poller.run(term.clone()));
        }
        for (platform, listener) in &self.listeners {
            let (platform, listener) = (*platform, Arc::clone(listener));
            let fatal = self.fatal.clone();
            let stop = term.clone();
            set.spawn(async move {
                if let Err(e) = listener.run(stop).await {
                    tracing::error!(%platform, error = %e, "a chat platform's listener stopped");
                    let _ = fatal.send(Some(e));
                }
            });
        }
        set
    }
}

/// Runs the leader's work: at once when this process always leads, or for
/// as long as it holds the PostgreSQL lock. A replica that loses the lock
/// stops its leader work at once and competes again.
async fn supervise(
    work: Arc<LeaderWork>,
    election: Option<Box<dyn Elect>>,
    lease: Duration,
    shutdown: CancellationToken,
) {
    let Some(mut leadership) = election else {
        work.status.set_is_leader(true);
        let mut set = work.spawn(&shutdown.child_token());
        while set.join_next().await.is_some() {}
        return;
    };
    let beat = (lease / 3).max(Duration::from_secs(1));
    let me = leadership.replica_id().to_owned();
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        match leadership.try_acquire().await {
            Ok(true) => {
                tracing::info!(replica = %me, "this replica leads: polling PTT and running the chat listeners");
                work.status.set_is_leader(true);
                work.status.set_leading_here(&me);
                if let Err(e) = leadership.record(now_secs()).await {
                    tracing::warn!(error = %e, "cannot record the leader");
                }
                let term = shutdown.child_token();
                let mut set = work.spawn(&term);
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(beat) => {}
                        () = shutdown.cancelled() => break,
                    }
                    let alive = match leadership.ping().await {
                        Ok(()) => leadership.record(now_secs()).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = alive {
                        tracing::warn!(replica = %me, error = %e, "lost leadership; stopping leader work");
                        break;
                    }
                }
                term.cancel();
                while set.join_next().await.is_some() {}
                work.status.set_is_leader(false);
            }
            Ok(false) => {
                work.status.set_is_leader(false);
                if let Ok(Some(leader)) = leadership.leader().await {
                    work.status
                        .set_leading_elsewhere(&leader.replica_id, &leader.host);
                }
            }
            Err(e) => {
                work.status.set_is_leader(false);
                tracing::warn!(replica = %me, error = %e, "cannot compete for leadership");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(beat) => {}
            () = shutdown.cancelled() => break,
        }
    }
    leadership.release().await;
}

impl Running {
    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The command handler.
    pub fn handler(&self) -> &Arc<Handler> {
        &self.handler
    }

    /// Runtime status.
    pub fn status(&self) -> &Arc<RuntimeStatus> {
        &self.status
    }

    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        self.http_addr
    }

    /// Resolves with the reason when a part of the service cannot go on
    /// (e.g. Telegram refuses the token); the caller should stop and exit 2.
    pub async fn fatal(&self) -> String {
        let mut rx = self.fatal.clone();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves with the reason when this process lost the store to another
    /// (a SQLite lease taken over while the process was stalled): polling
    /// and sending have already stopped; the caller should stop and exit 1.
    pub async fn lost_store(&self) -> String {
        let mut rx = self.lost.clone();
        loop {
            if let Some(reason) = rx.borrow_and_update().clone() {
                return reason;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// A token cancelled when the service stops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops polling and taking rows at once; in-flight sends get the
    /// configured grace; then the store is closed.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.pollers.join_next().await.is_some() {}
        while self.workers.join_next().await.is_some() {}
        self.store.close().await;
        tracing::info!("ptt-relay stopped");
    }
}
