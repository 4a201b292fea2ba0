//! The SQLite store's one-process lease as it behaves in containers: there
//! every ptt-relay is pid 1, and a container restarted after a crash keeps
//! its host name, so the lease row's "pid 1 on HOST" says nothing about
//! whether its holder still runs.

use std::path::Path;
use std::str::FromStr;

use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::store::{Store, StoreError};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// Writes the lease row a killed process leaves behind.
async fn leave_lease(db: &Path, pid: i64, host: &str) {
    SqliteStore::open_unleased(db).await.unwrap().close().await;
    let mut conn = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(db)
        .connect()
        .await
        .unwrap();
    let expires = ptt_relay::store::now_secs() + 30;
    sqlx::query(
        "INSERT INTO lease (id, pid, host, expires_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
         expires_at = excluded.expires_at",
    )
    .bind(pid)
    .bind(host)
    .bind(expires)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

/// A container killed (OOM, `docker kill`, a stop past its grace period) and
/// started again on the same volume: its unexpired lease row names pid 1 on
/// the same host, and pid 1 runs (here: the machine's init), yet nothing
/// holds the store.
#[tokio::test]
async fn a_stale_lease_row_naming_a_running_pid_on_this_host_does_not_refuse_a_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    leave_lease(&db, 1, &ptt_relay::host::name()).await;
    let store = SqliteStore::open(&db)
        .await
        .expect("a stale lease row refused the start");
    store.close().await;
}

/// Two containers on one volume: both are pid 1, and with the same host name
/// (`hostname:` in compose, host networking) their lease rows look alike.
/// The second must still be refused. In one process the second open stands
/// in for it: same pid, same host.
#[tokio::test]
async fn a_second_store_with_the_same_pid_and_host_is_refused_while_the_first_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let first = SqliteStore::open(&db).await.unwrap();
    match SqliteStore::open(&db).await {
        Err(StoreError::Locked { pid, host }) => {
            assert_eq!(pid, i64::from(std::process::id()));
            assert_eq!(host, ptt_relay::host::name());
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(second) => {
            second.close().await;
            panic!("a second store opened while the first holds it");
        }
    }
    // Once the first closes, the store is free again.
    first.close().await;
    SqliteStore::open(&db).await.unwrap().close().await;
}
