//! Leadership among PostgreSQL replicas: one replica leads (polls, tracks
//! tallies, edits), the others follow and only send. See [`Leadership`].

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use super::postgres::{connect_one, connect_options, schema_key};
use super::rows::q;
use super::{Result, StoreError, now_secs};

/// Advisory lock class of leadership (per schema).
const LEADER_LOCK_CLASS: i32 = 0x5054_5202;

/// The replica that leads, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInfo {
    /// Its replica id.
    pub replica_id: String,
    /// Its host name.
    pub host: String,
    /// When it took the lead (Unix seconds).
    pub since: i64,
    /// Its last recorded heartbeat (Unix seconds).
    pub last_seen: i64,
}

/// Leadership among replicas: a session advisory lock
/// (`pg_try_advisory_lock`) held on ONE dedicated connection outside the
/// pool. The lock lives as long as that session: when the process dies or
/// the connection breaks, the server releases it and another replica can
/// take it.
///
/// Use: call [`try_acquire`](Self::try_acquire) every few seconds while
/// following; once it returns `true`, start leader work and call
/// [`ping`](Self::ping) every `lease_secs / 3`. Any ping error means the
/// lock may be gone: stop leader work at once, then compete again with
/// `try_acquire` (which reconnects). [`record`](Self::record) refreshes the
/// `leader` row followers read with [`PostgresStore::leader`](super::postgres::PostgresStore::leader).
///
/// **PgBouncer:** in transaction (or statement) pooling mode, session
/// advisory locks do not work (the lock stays on whichever server
/// connection ran it, and other clients' transactions share that
/// connection). Connect this to PostgreSQL directly or through session
/// pooling; otherwise a lease row with an expiry would be needed instead.
///
/// A server only notices a vanished client (network partition) when TCP
/// keepalives or `idle_session_timeout` fire, so the lock may outlive a
/// partitioned leader for that long; the partitioned leader's own pings
/// fail (they time out) and it stops.
pub struct Leadership {
    url: String,
    options: PgConnectOptions,
    replica_id: String,
    host: String,
    conn: Option<PgConnection>,
    key: i32,
    held: bool,
    since: i64,
    timeout: Duration,
}

impl Leadership {
    /// A contender for leadership (connects on the first
    /// [`try_acquire`](Self::try_acquire)). The store at `url` must have
    /// been opened (migrated) with [`PostgresStore::open`](super::postgres::PostgresStore::open). Fails only on a
    /// malformed URL.
    pub fn new(url: &str, replica_id: String) -> Result<Self> {
        Ok(Leadership {
            url: url.to_owned(),
            options: connect_options(url)?,
            replica_id,
            host: crate::host::name(),
            conn: None,
            key: 0,
            held: false,
            since: 0,
            timeout: Duration::from_secs(5),
        })
    }

    /// Sets how long `ping`, `try_acquire` and `record` wait for the server
    /// before counting as failed (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether this contender holds the lock (as far as it last knew).
    pub fn is_leader(&self) -> bool {
        self.held
    }

    /// This contender's replica id.
    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// Tries to take the lock (`pg_try_advisory_lock`), reconnecting when
    /// the dedicated connection is missing or broken. `Ok(true)`: this
    /// replica leads (and the `leader` row names it); `Ok(false)`: another
    /// does. When already leading, it checks the connection instead.
    pub async fn try_acquire(&mut self) -> Result<bool> {
        if self.held {
            self.ping().await?;
            return Ok(true);
        }
        if self.conn.is_none() {
            let mut conn = connect_one(&self.url, &self.options).await?;
            self.key = self.bounded(schema_key(&mut conn)).await?;
            self.conn = Some(conn);
        }
        let (class, key, timeout) = (LEADER_LOCK_CLASS, self.key, self.timeout);
        let Some(conn) = self.conn.as_mut() else {
            return Ok(false);
        };
        let attempt = tokio::time::timeout(
            timeout,
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1, $2)")
                .bind(class)
                .bind(key)
                .fetch_one(&mut *conn),
        )
        .await;
        let got = match attempt {
            Ok(Ok(got)) => got,
            Ok(Err(e)) => {
                self.drop_connection();
                return Err(q("taking the leadership lock")(e));
            }
            Err(_) => {
                self.drop_connection();
                return Err(timed_out("taking the leadership lock"));
            }
        };
        if got {
            self.held = true;
            self.since = now_secs();
            if let Err(e) = self.record(self.since).await {
                self.lose();
                return Err(e);
            }
        }
        Ok(got)
    }

    /// `SELECT 1` on the lock's connection. Any error means leadership is
    /// lost (the connection is dropped, which frees the lock if the server
    /// still held it): stop leader work at once.
    pub async fn ping(&mut self) -> Result<()> {
        if !self.held {
            return Err(StoreError::Query {
                doing: "pinging the leadership connection",
                reason: "this replica does not lead".into(),
            });
        }
        let timeout = self.timeout;
        let Some(conn) = self.conn.as_mut() else {
            self.held = false;
            return Err(StoreError::Query {
                doing: "pinging the leadership connection",
                reason: "no connection".into(),
            });
        };
        match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&mut *conn)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                self.lose();
                Err(q("pinging the leadership connection")(e))
            }
            Err(_) => {
                self.lose();
                Err(timed_out("pinging the leadership connection"))
            }
        }
    }

    /// Writes the `leader` row (this replica, host, since, `last_seen` =
    /// `now`) on the lock's connection; a heartbeat for followers. Does
    /// nothing unless leading. An error counts as lost leadership.
    pub async fn record(&mut self, now: i64) -> Result<()> {
        if !self.held {
            return Ok(());
        }
        let timeout = self.timeout;
        let Some(conn) = self.conn.as_mut() else {
            self.held = false;
            return Ok(());
        };
        let write = sqlx::query(
            "INSERT INTO leader (id, replica_id, host, since, last_seen) VALUES (1, $1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET replica_id = excluded.replica_id,
                 host = excluded.host, since = excluded.since, last_seen = excluded.last_seen",
        )
        .bind(&self.replica_id)
        .bind(&self.host)
        .bind(self.since)
        .bind(now)
        .execute(&mut *conn);
        match tokio::time::timeout(timeout, write).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                self.lose();
                Err(q("recording the leader")(e))
            }
            Err(_) => {
                self.lose();
                Err(timed_out("recording the leader"))
            }
        }
    }

    /// Gives up leadership (unlocks and closes the connection), e.g. on
    /// shutdown, so another replica takes over without waiting.
    pub async fn release(&mut self) {
        self.held = false;
        if let Some(mut conn) = self.conn.take() {
            let _ = tokio::time::timeout(self.timeout, async {
                let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                    .bind(LEADER_LOCK_CLASS)
                    .bind(self.key)
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            })
            .await;
        }
    }

    async fn bounded<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::time::timeout(self.timeout, f)
            .await
            .unwrap_or_else(|_| Err(timed_out("reading the current schema")))
    }

    /// Leadership is gone: forget the connection (closing the socket frees
    /// the lock server-side if the session was still alive).
    fn lose(&mut self) {
        self.held = false;
        self.drop_connection();
    }

    fn drop_connection(&mut self) {
        // Dropping a PgConnection closes its socket without a round trip.
        self.conn = None;
    }
}

fn timed_out(doing: &'static str) -> StoreError {
    StoreError::Query {
        doing,
        reason: "the server did not answer in time".into(),
    }
}
