//! The health HTTP server under abuse (DESIGN.md "Bounds"): half-sent
//! requests are closed after the header-read timeout, connections are
//! capped, and request bodies are refused — so `/healthz` keeps answering.

use std::sync::Arc;
use std::time::Duration;

use ptt_relay::http::{HttpState, serve};
use ptt_relay::store::Store;
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::telemetry::status::RuntimeStatus;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// A guard against hanging forever on a server that never answers; far
/// above the 10 s header-read timeout.
const HANG_GUARD: Duration = Duration::from_secs(90);

struct Server {
    port: u16,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("relay.db"))
        .await
        .expect("open the store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let shutdown = CancellationToken::new();
    let state = HttpState {
        store: store as Arc<dyn Store>,
        status: Arc::new(RuntimeStatus::new("this instance")),
        boards: vec![ptt_relay::ptt::Board::parse("Stock").unwrap()],
        poll_interval: Duration::from_secs(60),
    };
    tokio::spawn(serve(listener, state, shutdown.clone()));
    Server {
        port,
        shutdown,
        _dir: dir,
    }
}

/// Sends `request` on a new connection and returns everything the server
/// wrote until it closed the connection.
async fn exchange(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_do_not_stop_healthz_and_are_closed() {
    let srv = server().await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(("127.0.0.1", srv.port))
            .await
            .expect("connect");
        // Headers never finished.
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nX-Slow: ")
            .await
            .expect("write");
        idle.push(s);
    }
    let health = tokio::time::timeout(
        HANG_GUARD,
        exchange(
            srv.port,
            b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
        ),
    )
    .await
    .expect("/healthz answers while 300 half-sent requests are open");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");

    // Every half-sent request is closed by the server: none holds a
    // connection (or a file descriptor) for good.
    let closed = tokio::time::timeout(HANG_GUARD, async {
        for mut s in idle {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "half-sent requests were left open");
    srv.shutdown.cancel();
}

#[tokio::test]
async fn request_bodies_are_refused() {
    let srv = server().await;
    let reply = tokio::time::timeout(
        HANG_GUARD,
        exchange(
            srv.port,
            b"POST /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        ),
    )
    .await
    .expect("an answer");
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let reply = tokio::time::timeout(
        HANG_GUARD,
        exchange(
            srv.port,
            b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
        ),
    )
    .await
    .expect("an answer");
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    srv.shutdown.cancel();
}
