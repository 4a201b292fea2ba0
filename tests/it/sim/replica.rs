//! PostgreSQL replicas in the simulation: each replica is a whole process
//! (`app::start_backend` with a PostgreSQL store and an election) on its
//! own sessions to one schema, with its own pacers sharing the platforms'
//! overall limits through the store's heartbeat, its own way to PTT, and
//! its own [`Freeze`]. Store and leadership calls run to completion on the
//! real-time store runtime while the simulation waits (as `SerialStore`
//! does), so the server's answers never race the virtual clock.
//!
//! A crash drops the process where it stands and the server ends its
//! sessions (as it does when a process dies: its sockets close), which
//! frees the leadership lock; the simulation waits (in real time, with
//! virtual time held) until the server has, so the next leader is the same
//! in every replay. The store's reads are fully ordered (see
//! `PostgresStore::due_rows`), so a replica seed replays exactly:
//! `simulation::replica_seeds_keep_every_promise` plays one twice.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ptt_relay::app::{Elect, Election};
use ptt_relay::store::StoreError;
use ptt_relay::store::postgres::{LeaderInfo, Leadership, PostgresStore};
use sqlx::{Connection, PgConnection};

use super::freeze::Freeze;

/// Runs `fut` to completion on `runtime` while virtual time holds still.
pub fn serially<F: Future>(runtime: &tokio::runtime::Handle, fut: F) -> F::Output {
    let _enter = runtime.enter();
    ptt_relay::clock::hold_still(|| futures::executor::block_on(fut))
}

/// A replica's election, each call run serially and stopped by its freeze.
pub struct SerialElection {
    pub inner: Election,
    pub runtime: tokio::runtime::Handle,
    pub freeze: Arc<Freeze>,
}

#[async_trait]
impl Elect for SerialElection {
    fn replica_id(&self) -> &str {
        self.inner.replica_id()
    }

    async fn try_acquire(&mut self) -> Result<bool, StoreError> {
        self.freeze.pass().await;
        serially(&self.runtime, self.inner.try_acquire())
    }

    async fn ping(&mut self) -> Result<(), StoreError> {
        self.freeze.pass().await;
        serially(&self.runtime, self.inner.ping())
    }

    async fn record(&mut self, now: i64) -> Result<(), StoreError> {
        self.freeze.pass().await;
        serially(&self.runtime, self.inner.record(now))
    }

    async fn release(&mut self) {
        self.freeze.pass().await;
        serially(&self.runtime, self.inner.release());
    }

    async fn leader(&self) -> Result<Option<LeaderInfo>, StoreError> {
        self.freeze.pass().await;
        serially(&self.runtime, self.inner.leader())
    }
}

/// `url` with the sessions named `name` (`application_name`), so that the
/// server can end one replica's sessions, and without waiting for each
/// commit to reach the disk (`synchronous_commit = off`: the simulation
/// never crashes the server, only the replicas, and each of its store
/// calls waits for the answer).
pub fn named(url: &str, name: &str) -> String {
    let mut u = url::Url::parse(url).expect("a valid test URL");
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "application_name")
        .map(|(k, v)| {
            if k == "options" {
                (k.into_owned(), format!("{v} -c synchronous_commit=off"))
            } else {
                (k.into_owned(), v.into_owned())
            }
        })
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("application_name", name);
    u.to_string()
}

/// Opens a replica's store and its election (leadership pinged within
/// `ping`), serially.
pub fn open(
    runtime: &tokio::runtime::Handle,
    url: &str,
    name: &str,
    ping: Duration,
    freeze: &Arc<Freeze>,
) -> (Arc<PostgresStore>, SerialElection) {
    let url = named(url, name);
    let store = serially(runtime, PostgresStore::open(&url, name.to_owned()))
        .expect("open the PostgreSQL store");
    let leadership = Leadership::new(&url, name.to_owned())
        .expect("leadership")
        .with_timeout(ping);
    let election = SerialElection {
        inner: Election {
            leadership,
            store: Arc::clone(&store),
        },
        runtime: runtime.clone(),
        freeze: Arc::clone(freeze),
    };
    (store, election)
}

/// The server ends every session named `name` (a dead or cut-off
/// process's), and this waits until they are gone.
pub fn end_sessions(runtime: &tokio::runtime::Handle, admin_url: &str, name: &str) {
    serially(runtime, async {
        let mut conn = PgConnection::connect(admin_url)
            .await
            .expect("connect to the test server");
        for _ in 0..2000 {
            let left: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .expect("read the sessions");
            if left == 0 {
                let _ = conn.close().await;
                return;
            }
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(name)
            .execute(&mut conn)
            .await
            .expect("end the sessions");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the sessions of {name} did not end");
    });
}
