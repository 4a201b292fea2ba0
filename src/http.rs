//! The operator endpoints on `http.listen`: `/healthz`, `/readyz`,
//! `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;

use crate::clock::now_secs;
use crate::store::Store;
use crate::telemetry::metrics::metrics;
use crate::telemetry::status::RuntimeStatus;

/// A chat platform's readiness fault (e.g. a 409 Conflict on Telegram's
/// getUpdates) keeps `/readyz` at 503 this long after it was last seen.
const FAULT_WINDOW_SECS: i64 = 120;

/// What the endpoints look at.
#[derive(Clone)]
pub struct HttpState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Runtime status.
    pub status: Arc<RuntimeStatus>,
    /// The polled boards.
    pub boards: Vec<crate::ptt::Board>,
    /// `ptt.poll_interval_secs`.
    pub poll_interval: Duration,
}

/// The router (public for tests).
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// A client must send its request headers within this long, else the
/// connection is closed (DESIGN.md "Bounds").
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections held at once; further ones wait in the listen backlog until
/// one closes.
pub const MAX_CONNECTIONS: usize = 256;

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves until `shutdown`: HTTP/1 only, headers read within
/// [`HEADER_READ_TIMEOUT`] (hyper's timer), at most [`MAX_CONNECTIONS`]
/// connections (a semaphore taken before each accept), one request per
/// connection (no keep-alive, so no idle connection outlives a request)
/// and no request bodies (tower-http's limit of 0 bytes: 413).
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: CancellationToken) {
    let app = router(state).layer(RequestBodyLimitLayer::new(0));
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(false);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. out of file descriptors: wait instead of spinning.
                    tracing::warn!(error = %e, "the health endpoint cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let conn =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors are the client's (timeouts, resets): nothing to report.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
}

/// Why the service is not ready, or `None` when it is.
pub async fn not_ready(state: &HttpState) -> Vec<String> {
    let mut reasons = Vec::new();
    if let Err(e) = state.store.ping().await {
        reasons.push(format!("store does not answer: {e}"));
        return reasons;
    }
    let now = now_secs();
    let limit = 3 * state.poll_interval.as_secs() as i64;
    for board in &state.boards {
        match state.store.board_state(board).await {
            Ok(s) => match s.last_ok_at {
                None => reasons.push(format!("{board} not polled successfully yet")),
                Some(t) if now - t > limit => reasons.push(format!(
                    "{board} not polled successfully for {}s (limit {limit}s)",
                    now - t
                )),
                Some(_) => {}
            },
            Err(e) => reasons.push(format!("store does not answer: {e}")),
        }
    }
    for board in state.status.markup_failing() {
        reasons.push(format!(
            "PTT markup changed? {board}'s index page yields no posts"
        ));
    }
    for (_, at, fault) in state.status.platform_faults() {
        if now - at < FAULT_WINDOW_SECS {
            reasons.push(fault);
        }
    }
    reasons
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    let reasons = not_ready(&state).await;
    if reasons.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", reasons.join("; ")),
        )
    }
}

async fn metrics_text(State(state): State<HttpState>) -> impl IntoResponse {
    let m = metrics();
    if let Ok(depth) = state.store.outbox_depth(None).await {
        m.outbox_depth.set(depth as i64);
    }
    if let Ok(oldest) = state.store.oldest_pending_at().await {
        let age = oldest.map_or(0, |t| (now_secs() - t).max(0));
        m.outbox_oldest_seconds.set(age as f64);
    }
    m.tracked_posts.set(state.status.tracked_posts() as i64);
    m.leader.set(i64::from(state.status.is_leader()));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}
