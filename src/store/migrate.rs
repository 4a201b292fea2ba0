//! Embedded, forward-only schema migrations.

use super::{Result, StoreError};

/// One migration: its version and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Schema version this migration produces (1, 2, …).
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// The SQL, run in one transaction.
    pub sql: &'static str,
}

/// SQLite migrations, oldest first.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("sql/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "pending_posts",
        sql: include_str!("sql/sqlite/0002_pending_posts.sql"),
    },
    Migration {
        version: 3,
        name: "fenced_claims",
        sql: include_str!("sql/sqlite/0003_fenced_claims.sql"),
    },
    Migration {
        version: 4,
        name: "digest_once",
        sql: include_str!("sql/sqlite/0004_digest_once.sql"),
    },
    Migration {
        version: 5,
        name: "hot",
        sql: include_str!("sql/sqlite/0005_hot.sql"),
    },
    Migration {
        version: 6,
        name: "leaderboards",
        sql: include_str!("sql/sqlite/0006_leaderboards.sql"),
    },
];

/// PostgreSQL migrations, oldest first. Each must work with the previous
/// release's queries (additive changes only), because replicas are upgraded
/// one at a time.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("sql/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "pending_posts",
        sql: include_str!("sql/postgres/0002_pending_posts.sql"),
    },
    Migration {
        version: 3,
        name: "fenced_claims",
        sql: include_str!("sql/postgres/0003_fenced_claims.sql"),
    },
    Migration {
        version: 4,
        name: "digest_once",
        sql: include_str!("sql/postgres/0004_digest_once.sql"),
    },
    Migration {
        version: 5,
        name: "hot",
        sql: include_str!("sql/postgres/0005_hot.sql"),
    },
    Migration {
        version: 6,
        name: "leaderboards",
        sql: include_str!("sql/postgres/0006_leaderboards.sql"),
    },
];

/// The newest version in a list.
pub fn newest(migrations: &[Migration]) -> i64 {
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The migrations of a list that a store at version `current` still needs,
/// oldest first; [`StoreError::TooNew`] when a newer release migrated it.
pub fn pending(migrations: &[Migration], current: i64) -> Result<Vec<&Migration>> {
    let known = newest(migrations);
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    Ok(migrations.iter().filter(|m| m.version > current).collect())
}
