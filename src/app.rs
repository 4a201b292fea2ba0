//! Assembling the service from its settings: the store, the PTT client, the
//! sinks, one poller per board, one outbox worker per sink, and pruning.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::chat::ChatSink;
use crate::chat::console::ConsoleSink;
use crate::commands::{Filter, Handler};
use crate::config::{Settings, StoreUrl};
use crate::ptt::client::{ClientOptions, PttClient};
use crate::relay::edits::EditWorker;
use crate::relay::outbox::OutboxWorker;
use crate::relay::poller::{Poller, PollerOptions};
use crate::relay::router::Router;
use crate::relay::status::RuntimeStatus;
use crate::relay::tally::{TallyOptions, Tracker};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError, now_secs};

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
}

/// Opens the store that `store.url` names.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StartError> {
    match StoreUrl::parse(&settings.store.url) {
        Some(StoreUrl::Sqlite(path)) => Ok(SqliteStore::open(&path).await?),
        Some(StoreUrl::Postgres(_)) => Err(StartError::Config(
            "store.url: PostgreSQL is not supported by this release yet".into(),
        )),
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
}

/// Starts the service with the sinks its settings enable.
pub async fn start(settings: &Settings) -> Result<Running, StartError> {
    start_with(settings, Extras::default()).await
}

/// Starts the service with extras.
pub async fn start_with(settings: &Settings, extras: Extras) -> Result<Running, StartError> {
    let store = open_store(settings).await?;
    start_with_store(settings, store, extras).await
}

/// Starts the service on an opened store.
pub async fn start_with_store(
    settings: &Settings,
    store: Arc<dyn Store>,
    extras: Extras,
) -> Result<Running, StartError> {
    let boards = settings.boards();
    let status = Arc::new(RuntimeStatus::new("this instance"));
    status.set_is_leader(true);
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
    let handler = Arc::new(Handler::new(
        Arc::clone(&store),
        boards.clone(),
        Arc::clone(&status),
    ));

    let base_url = url::Url::parse(&settings.ptt.base_url)
        .map_err(|e| StartError::Config(format!("ptt.base_url: {e}")))?;
    let mut options = ClientOptions::new(base_url);
    options.requests_per_sec = settings.ptt.requests_per_sec;
    if let Some(tune) = &extras.ptt_client {
        tune(&mut options);
    }
    let client = PttClient::new(options).map_err(|e| StartError::Config(e.to_string()))?;

    let mut sinks: Vec<Arc<dyn ChatSink>> = Vec::new();
    let console_filter = if settings.console_enabled() {
        let filter = Filter::parse_str(&settings.console.filter)
            .map_err(|e| StartError::Config(format!("console.filter: {e}")))?;
        sinks.push(Arc::new(ConsoleSink::new(
            settings.console.format == "json",
        )));
        Some(filter)
    } else {
        None
    };
    sinks.extend(extras.sinks);
    let router = Arc::new(Router::new(Arc::clone(&store), console_filter));

    let shutdown = CancellationToken::new();
    let grace = Duration::from_secs(settings.shutdown.timeout_secs);
    let mut workers = JoinSet::new();
    let mut wakes = Vec::new();
    let mut edit_wakes = Vec::new();
    for sink in sinks {
        let wake = Arc::new(Notify::new());
        wakes.push(Arc::clone(&wake));
        let worker = OutboxWorker::new(
            Arc::clone(&store),
            Arc::clone(&sink),
            settings.outbox.concurrency as usize,
            wake,
        );
        workers.spawn(worker.run(shutdown.clone(), grace));
        let edit_wake = Arc::new(Notify::new());
        edit_wakes.push(Arc::clone(&edit_wake));
        let editor = EditWorker::new(Arc::clone(&store), sink, Arc::clone(&status), edit_wake);
        workers.spawn(editor.run(shutdown.clone()));
    }
    let tracker = Arc::new(Tracker::new(
        Arc::clone(&store),
        client.clone(),
        Arc::clone(&router),
        extras.tally.unwrap_or(TallyOptions {
            window: Duration::from_secs(settings.relay.track_hours * 3600),
            first_step: Duration::from_secs(settings.relay.track_first_secs),
            max_step: Duration::from_secs(settings.relay.track_max_step_secs),
        }),
        Arc::clone(&status),
        wakes.clone(),
        edit_wakes,
    ));
    workers.spawn(Arc::clone(&tracker).run(shutdown.clone()));

    let max_age = Duration::from_secs(settings.relay.max_delivery_age_hours * 3600);
    let retention = Duration::from_secs(u64::from(settings.store.retention_days) * 86_400);
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
            boards: settings.ptt.boards.clone(),
            poll_interval: Duration::from_secs(settings.ptt.poll_interval_secs),
        },
        shutdown.clone(),
    ));

    let mut pollers = JoinSet::new();
    let poller_options = PollerOptions {
        interval: Duration::from_secs(settings.ptt.poll_interval_secs),
        catchup_pages: settings.ptt.catchup_pages,
        backfill: settings.ptt.backfill,
    };
    for board in boards {
        let poller = Poller::new(
            board,
            client.clone(),
            Arc::clone(&store),
            Arc::clone(&router),
            poller_options.clone(),
            wakes.clone(),
            Arc::clone(&status),
        )
        .with_tracker(Arc::clone(&tracker));
        pollers.spawn(poller.run(shutdown.clone()));
    }
    tracing::info!(
        boards = ?settings.ptt.boards,
        console = settings.console_enabled(),
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
    })
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
