//! Issue 14, kind 2: every digest field is capped, and the store keeps a
//! post's digest once however many chats it goes to (DESIGN.md, "Bounds").
//! Also the migration that moved existing outbox rows to the shared digest.

use crate::support::board_of;
use std::path::Path;

use ptt_relay::chat::telegram::ID as TELEGRAM;
use ptt_relay::dest::Destination;
use ptt_relay::digest::{Digest, caps};
use ptt_relay::ptt::{Board, PostId, Tally, parse_article};
use ptt_relay::store::postgres::PostgresStore;
use ptt_relay::store::sqlite::SqliteStore;
use ptt_relay::store::{Store, migrate};
use sqlx::{Connection, SqliteConnection};

use crate::support::fake_ptt::{FakePost, article_html};
use crate::support::pg::{TestSchema, pg_url};

const ID: &str = "M.1769580000.A.1B2";

fn chars(s: &Option<String>) -> usize {
    s.as_deref().map_or(0, |s| s.chars().count())
}

/// A page as a hostile poster could shape it: a 0.9 MB 原文標題, a long
/// title, reporter, time and author.
fn hostile_post() -> FakePost {
    FakePost {
        id: ID.into(),
        title: format!("[新聞] {}", "長".repeat(5_000)),
        author: "a".repeat(500),
        headline: "台".repeat(300_000),
        source: "https://example.com/news/1".into(),
        body: "內文".repeat(10_000),
        pushes: Vec::new(),
        deleted: false,
    }
}

#[test]
fn digest_fields_are_capped_however_long_the_page() {
    let html = article_html("Stock", &hostile_post());
    assert!(html.len() > 900_000, "the page holds a 0.9 MB headline");
    let article = parse_article(&html).expect("the page parses");
    let board = Board::parse("Stock").unwrap();
    let d = Digest::from_article(&article, &board, &PostId::parse(ID).unwrap());
    for (name, len, cap) in [
        ("title", chars(&d.title), caps::TITLE),
        (
            "original_title",
            chars(&d.original_title),
            caps::ORIGINAL_TITLE,
        ),
        ("author", chars(&d.author), caps::AUTHOR),
        ("excerpt", chars(&d.excerpt), caps::EXCERPT),
    ] {
        assert!(len > 0, "{name} is read");
        assert!(len <= cap, "{name}: {len} characters, cap {cap}");
    }
    let headline = d.original_title.as_deref().unwrap();
    assert!(headline.starts_with("台台台"));
    assert!(headline.ends_with('…'), "a cut field says so");
    let json = serde_json::to_string(&d).unwrap();
    assert!(
        json.len() < 8_000,
        "the whole digest is small: {} bytes",
        json.len()
    );
}

/// `n` different-looking CJK characters (3 bytes each in UTF-8), so that
/// a store compressing its values (PostgreSQL's TOAST) gains little.
fn cjk(n: usize, seed: u32) -> String {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from_u32(0x4E00 + x % 0x5000).unwrap_or('字')
        })
        .collect()
}

/// A digest with every field at its cap, in 3-byte characters.
fn maximal_digest() -> Digest {
    let mut seed = 0;
    let mut full = |n: usize| {
        seed += 1;
        Some(cjk(n, seed))
    };
    Digest {
        board: "Stock".into(),
        id: ID.into(),
        url: format!("https://www.ptt.cc/bbs/Stock/{ID}.html"),
        title: full(caps::TITLE),
        tag: Some("新聞".into()),
        is_reply: false,
        is_forward: false,
        author: Some("a".repeat(caps::AUTHOR)),
        posted_at: None,
        original_title: full(caps::ORIGINAL_TITLE),
        source_url: Some(format!(
            "https://example.com/{}",
            "a".repeat(caps::SOURCE_URL - 20)
        )),
        published: full(caps::PUBLISHED),
        reporter: full(caps::REPORTER),
        excerpt: full(caps::EXCERPT),
        stocks: Vec::new(),
        hot: None,
        tally: Tally::default(),
    }
}

fn chats(n: usize) -> Vec<Destination> {
    (0..n)
        .map(|i| Destination::chat(TELEGRAM, format!("-100{i:010}")))
        .collect()
}

/// The SQLite file's size with its write-ahead log folded in.
async fn sqlite_bytes(path: &Path) -> u64 {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut c)
        .await
        .unwrap();
    let _ = c.close().await;
    std::fs::metadata(path).unwrap().len()
}

const DESTS: usize = 1_000;
const MB: u64 = 1_000_000;

#[tokio::test]
async fn one_post_to_a_thousand_chats_adds_less_than_a_megabyte_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let before = sqlite_bytes(&path).await;
    let d = maximal_digest();
    let digest_bytes = serde_json::to_string(&d).unwrap().len();
    assert_eq!(
        store.accept_post(&d, &chats(DESTS), 1).await.unwrap(),
        DESTS
    );
    let grown = sqlite_bytes(&path).await - before;
    println!(
        "STORE GROWTH sqlite: {grown} bytes for one post ({digest_bytes}-byte digest) to {DESTS} chats"
    );
    assert!(grown < MB, "the store grew by {grown} bytes");
    // Every row still renders the whole digest.
    let rows = store.due_rows(TELEGRAM, 2, &[], 5).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.digest == d));
    store.close().await;
}

#[tokio::test]
async fn one_post_to_a_thousand_chats_adds_less_than_a_megabyte_postgres() {
    let Some(admin) = pg_url() else { return };
    let schema = TestSchema::create(&admin).await;
    let store = PostgresStore::open(&schema.url, "growth".into())
        .await
        .unwrap();
    let mut conn = schema.conn().await;
    let size =
        "SELECT (pg_total_relation_size('outbox') + pg_total_relation_size('digests'))::BIGINT";
    let before: i64 = sqlx::query_scalar(size).fetch_one(&mut conn).await.unwrap();
    let d = maximal_digest();
    assert_eq!(
        store.accept_post(&d, &chats(DESTS), 1).await.unwrap(),
        DESTS
    );
    let after: i64 = sqlx::query_scalar(size).fetch_one(&mut conn).await.unwrap();
    let grown = (after - before) as u64;
    println!("STORE GROWTH postgres: {grown} bytes for one post to {DESTS} chats");
    assert!(grown < MB, "the store grew by {grown} bytes");
    let rows = store.due_rows(TELEGRAM, 2, &[], 5).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.digest == d));
    store.close().await;
}

/// Two posts of a previous release's store: `kept` has its digest in
/// `digests` too (with a newer tally), `orphan` only in its outbox row.
fn old_rows() -> (Digest, Digest) {
    let mut kept = maximal_digest();
    kept.tally.push = 7;
    kept.tally.total = 7;
    kept.tally.net = 7;
    let mut orphan = maximal_digest();
    orphan.id = "M.1769580100.A.2C3".into();
    orphan.url = format!("https://www.ptt.cc/bbs/Stock/{}.html", orphan.id);
    (kept, orphan)
}

#[tokio::test]
async fn a_schema_3_sqlite_store_keeps_its_queued_posts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let (kept, orphan) = old_rows();
    {
        let mut c = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        for m in migrate::SQLITE.iter().filter(|m| m.version <= 3) {
            sqlx::raw_sql(m.sql).execute(&mut c).await.unwrap();
            sqlx::query("INSERT INTO schema_migrations VALUES (?, ?, 0)")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut c)
                .await
                .unwrap();
        }
        let mut stale = kept.clone();
        stale.tally = Tally::default();
        sqlx::query("INSERT INTO digests (board, post_id, epoch, digest, seen_at) VALUES ('Stock', ?, 1769580000, ?, 1)")
            .bind(&kept.id)
            .bind(serde_json::to_string(&kept).unwrap())
            .execute(&mut c)
            .await
            .unwrap();
        for (d, chat) in [(&stale, "-1001"), (&orphan, "-1002")] {
            sqlx::query(
                "INSERT INTO outbox (board, post_id, platform, chat, thread, digest, next_attempt_at, created_at)
                 VALUES ('Stock', ?, 'telegram', ?, '', ?, 1, 1)",
            )
            .bind(&d.id)
            .bind(chat)
            .bind(serde_json::to_string(d).unwrap())
            .execute(&mut c)
            .await
            .unwrap();
        }
        let _ = c.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let rows = store.due_rows(TELEGRAM, 2, &[], 10).await.unwrap();
    let got: Vec<(&str, &Digest)> = rows
        .iter()
        .map(|r| (r.dest.chat.as_str(), &r.digest))
        .collect();
    assert_eq!(
        got,
        vec![("-1001", &kept), ("-1002", &orphan)],
        "both posts still go, the kept digest current"
    );
    assert_eq!(
        store
            .digest(&board_of("Stock"), &PostId::parse(&orphan.id).unwrap())
            .await
            .unwrap()
            .as_ref(),
        Some(&orphan),
        "the orphan's digest moved to the digests table"
    );
    store.close().await;
}

#[tokio::test]
async fn a_schema_3_postgres_store_keeps_its_queued_posts() {
    let Some(admin) = pg_url() else { return };
    let schema = TestSchema::create(&admin).await;
    let (kept, orphan) = old_rows();
    {
        let mut c = schema.conn().await;
        sqlx::raw_sql(
            "CREATE TABLE schema_migrations (
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        for m in migrate::POSTGRES.iter().filter(|m| m.version <= 3) {
            sqlx::raw_sql(m.sql).execute(&mut c).await.unwrap();
            sqlx::query("INSERT INTO schema_migrations VALUES ($1, $2, 0)")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut c)
                .await
                .unwrap();
        }
        let mut stale = kept.clone();
        stale.tally = Tally::default();
        sqlx::query("INSERT INTO digests (board, post_id, epoch, digest, seen_at) VALUES ('Stock', $1, 1769580000, $2, 1)")
            .bind(&kept.id)
            .bind(serde_json::to_string(&kept).unwrap())
            .execute(&mut c)
            .await
            .unwrap();
        for (d, chat) in [(&stale, "-1001"), (&orphan, "-1002")] {
            sqlx::query(
                "INSERT INTO outbox (board, post_id, platform, chat, thread, digest, next_attempt_at, created_at)
                 VALUES ('Stock', $1, 'telegram', $2, '', $3, 1, 1)",
            )
            .bind(&d.id)
            .bind(chat)
            .bind(serde_json::to_string(d).unwrap())
            .execute(&mut c)
            .await
            .unwrap();
        }
        let _ = c.close().await;
    }
    let store = PostgresStore::open(&schema.url, "upgrade".into())
        .await
        .unwrap();
    let rows = store.due_rows(TELEGRAM, 2, &[], 10).await.unwrap();
    let got: Vec<(&str, &Digest)> = rows
        .iter()
        .map(|r| (r.dest.chat.as_str(), &r.digest))
        .collect();
    assert_eq!(
        got,
        vec![("-1001", &kept), ("-1002", &orphan)],
        "both posts still go, the kept digest current"
    );
    // The previous release reads outbox.digest: the copies it needs stay.
    let mut c = schema.conn().await;
    let copies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE digest IS NOT NULL")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(copies, 2);
    store.close().await;
}

#[tokio::test]
async fn a_row_without_a_digest_is_rejected_and_does_not_stall_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relay.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut lost = maximal_digest();
    lost.id = "M.1769570000.A.000".into();
    let d = maximal_digest();
    store.accept_post(&lost, &chats(1), 1).await.unwrap();
    store.accept_post(&d, &chats(2), 1).await.unwrap();
    let mut c = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM digests WHERE post_id = ?")
        .bind(&lost.id)
        .execute(&mut c)
        .await
        .unwrap();
    let _ = c.close().await;
    let first = store.due_rows(TELEGRAM, 2, &[], 10).await.unwrap();
    assert_eq!(
        first.len(),
        1,
        "the row behind the broken one goes; the other chat's too"
    );
    assert_eq!(first[0].dest.chat, chats(2)[1].chat);
    let next = store
        .due_rows(
            TELEGRAM,
            2,
            &first.iter().map(|r| r.dest.clone()).collect::<Vec<_>>(),
            10,
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1, "the first chat's next row is now its head");
    assert_eq!(next[0].digest, d);
    store.close().await;
}
