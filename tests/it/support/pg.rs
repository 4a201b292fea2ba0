//! PostgreSQL for tests: the server's URL from `PTT_RELAY_TEST_PG_URL`
//! (tests say they skipped when it is unset) and a schema of its own per
//! test, dropped afterwards.

use sqlx::{Connection, PgConnection};

pub const ENV: &str = "PTT_RELAY_TEST_PG_URL";

/// The test server's URL, or `None` (after saying so) when unset.
pub fn pg_url() -> Option<String> {
    match std::env::var(ENV) {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            println!("skipped: {ENV} is not set");
            None
        }
    }
}

/// A schema of its own for one test, dropped when this is dropped (also
/// when the test fails).
pub struct TestSchema {
    pub admin_url: String,
    pub name: String,
    /// The server URL with `search_path` (and `application_name`) set to
    /// this schema.
    pub url: String,
}

impl TestSchema {
    pub async fn create(admin_url: &str) -> TestSchema {
        let name = format!("test_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::connect(admin_url)
            .await
            .expect("connect to the test server");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        let _ = conn.close().await;
        let mut url = url::Url::parse(admin_url).expect("a valid test URL");
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={name}"))
            .append_pair("application_name", &format!("ptt-{name}"));
        TestSchema {
            admin_url: admin_url.to_owned(),
            url: url.to_string(),
            name,
        }
    }

    /// A connection outside the store, in this schema.
    pub async fn conn(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test schema")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        // Drop cannot await: do it on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}
