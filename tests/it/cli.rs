//! The real `ptt-relay` binary: `preview` in every format (from files and
//! from a local HTTP server), `check-config`, exit codes and what goes to
//! stdout and stderr (DESIGN.md "CLI", "Output streams and exit codes",
//! "Configuration", "Digest JSON", "Messages").
//!
//! Every command runs in a fresh temporary working directory (so the repo's
//! `config/default.toml` is not read unless a test puts one there) with an
//! empty environment apart from `PATH` (no `PTT_RELAY__*`, no `RUST_LOG`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::{Value, json};
use support::telegram_html;
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ARTICLE_PATH: &str = "/bbs/Stock/M.1769577959.A.C89.html";

/// The keys of DESIGN.md's digest JSON, in its order.
const DIGEST_KEYS: &[&str] = &[
    "board",
    "id",
    "url",
    "title",
    "tag",
    "is_reply",
    "is_forward",
    "author",
    "posted_at",
    "original_title",
    "source_url",
    "published",
    "reporter",
    "excerpt",
    "tally",
    "stocks",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).expect("fixture")
}

fn article_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .expect("tests/fixtures")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("article_") && n.ends_with(".html"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "article fixtures: {files:?}");
    files
}

/// A working directory and a way to run the binary in it.
struct Cli {
    dir: TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, contents).expect("write");
        p
    }

    fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("ptt-relay").expect("the ptt-relay binary");
        cmd.env_clear().current_dir(self.path());
        if let Some(p) = std::env::var_os("PATH") {
            cmd.env("PATH", p);
        }
        cmd
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("running ptt-relay"), args)
    }
}

/// A finished run.
struct Run {
    what: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(o: Output, args: &[&str]) -> Run {
        Run {
            what: format!("ptt-relay {}", args.join(" ")),
            code: o.status.code(),
            stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
        }
    }

    fn context(&self) -> String {
        format!(
            "{} → exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// Exit 0 and nothing on stderr.
    fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "{}", self.context());
        assert_eq!(self.stderr, "", "{}", self.context());
        self
    }

    /// Exit `code`, nothing on stdout, exactly one line on stderr and no
    /// panic or backtrace text; returns that line.
    fn failure(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{}", self.context());
        assert_eq!(
            self.stdout,
            "",
            "stdout must stay empty: {}",
            self.context()
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "exactly one line on stderr: {}",
            self.context()
        );
        assert!(self.stderr.ends_with('\n'), "{}", self.context());
        let lower = self.stderr.to_lowercase();
        assert!(
            !lower.contains("panicked") && !lower.contains("backtrace"),
            "{}",
            self.context()
        );
        lines[0]
    }

    /// stdout as exactly one JSON value, which must be an object.
    fn one_json_object(&self) -> Value {
        let values: Vec<Value> = serde_json::Deserializer::from_str(&self.stdout)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.context()));
        assert_eq!(values.len(), 1, "one JSON value: {}", self.context());
        let v = values.into_iter().next().unwrap();
        assert!(v.is_object(), "{}", self.context());
        v
    }
}

fn preview(cli: &Cli, source: &str, format: &str) -> Run {
    cli.run(&["preview", source, "--format", format], &[])
}

fn assert_digest_json(v: &Value, ctx: &str) {
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut expected = DIGEST_KEYS.to_vec();
    keys.sort_unstable();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{ctx}");
    for k in ["board", "id", "url"] {
        assert!(v[k].is_string(), "{k} must be a string: {ctx}");
    }
    for k in ["is_reply", "is_forward"] {
        assert!(v[k].is_boolean(), "{k} must be a boolean: {ctx}");
    }
    for k in [
        "title",
        "tag",
        "author",
        "posted_at",
        "original_title",
        "source_url",
        "published",
        "reporter",
        "excerpt",
    ] {
        assert!(
            v[k].is_string() || v[k].is_null(),
            "{k} must be a string or null: {ctx}"
        );
    }
    let board = v["board"].as_str().unwrap();
    let id = v["id"].as_str().unwrap();
    assert_eq!(
        v["url"].as_str().unwrap(),
        format!("https://www.ptt.cc/bbs/{board}/{id}.html"),
        "{ctx}"
    );
    if let Some(t) = v["posted_at"].as_str() {
        let parsed = chrono::DateTime::parse_from_rfc3339(t)
            .unwrap_or_else(|e| panic!("posted_at {t:?}: {e}: {ctx}"));
        assert_eq!(parsed.offset().local_minus_utc(), 8 * 3600, "{ctx}");
        assert!(t.ends_with("+08:00"), "{t}: {ctx}");
    }
    if let Some(u) = v["source_url"].as_str() {
        let u = url::Url::parse(u).unwrap_or_else(|e| panic!("source_url {u:?}: {e}"));
        assert!(matches!(u.scheme(), "http" | "https"), "{ctx}");
    }
    if let Some(e) = v["excerpt"].as_str() {
        assert!(e.chars().count() <= 300, "{ctx}");
    }
    let t = &v["tally"];
    let n = |k: &str| {
        t[k].as_i64()
            .unwrap_or_else(|| panic!("tally.{k} must be a number: {ctx}"))
    };
    let mut tally_keys: Vec<&str> = t
        .as_object()
        .expect("tally object")
        .keys()
        .map(String::as_str)
        .collect();
    tally_keys.sort_unstable();
    assert_eq!(
        tally_keys,
        ["boo", "net", "neutral", "push", "total"],
        "{ctx}"
    );
    assert_eq!(n("net"), n("push") - n("boo"), "{ctx}");
    assert_eq!(n("total"), n("push") + n("boo") + n("neutral"), "{ctx}");
}

// ---------------------------------------------------------------------------
// preview FILE

#[test]
fn preview_json_is_one_complete_digest_object_for_every_fixture() {
    let cli = Cli::new();
    for file in article_fixtures() {
        let run = preview(&cli, file.to_str().unwrap(), "json");
        run.success();
        let v = run.one_json_object();
        assert_digest_json(&v, &run.context());
    }
}

#[test]
fn preview_json_of_the_stock_news_fixture_has_its_values() {
    let cli = Cli::new();
    let run = preview(
        &cli,
        fixture("article_stock_news.html").to_str().unwrap(),
        "json",
    );
    run.success();
    let v = run.one_json_object();
    let ctx = run.context();
    assert_eq!(v["board"], "Stock", "{ctx}");
    assert_eq!(v["id"], "M.1769577957.A.1F2", "{ctx}");
    assert_eq!(
        v["url"], "https://www.ptt.cc/bbs/Stock/M.1769577957.A.1F2.html",
        "{ctx}"
    );
    assert_eq!(v["tag"], "新聞", "{ctx}");
    assert_eq!(v["author"], "kaiwen0728", "{ctx}");
    assert_eq!(v["posted_at"], "2026-01-28T13:25:57+08:00", "{ctx}");
    assert_eq!(v["is_reply"], false, "{ctx}");
}

#[test]
fn preview_times_are_taipei_whatever_the_host_zone() {
    let cli = Cli::new();
    let file = fixture("article_stock_news.html");
    for tz in ["UTC", "America/New_York", "Pacific/Kiritimati"] {
        let json = cli.run(
            &["preview", file.to_str().unwrap(), "--format", "json"],
            &[("TZ", tz)],
        );
        json.success();
        let v = json.one_json_object();
        assert_eq!(v["posted_at"], "2026-01-28T13:25:57+08:00", "{tz}");
        let text = cli.run(
            &["preview", file.to_str().unwrap(), "--format", "text"],
            &[("TZ", tz)],
        );
        text.success();
        assert!(
            text.stdout.contains("2026-01-28 13:25"),
            "{}",
            text.context()
        );
    }
}

#[test]
fn preview_json_has_nulls_for_what_the_page_lacks() {
    let cli = Cli::new();
    let run = preview(
        &cli,
        fixture("article_no_metalines.html").to_str().unwrap(),
        "json",
    );
    run.success();
    let v = run.one_json_object();
    let ctx = run.context();
    assert_digest_json(&v, &ctx);
    for k in ["author", "posted_at", "original_title", "source_url"] {
        assert!(v[k].is_null(), "{k} should be null: {ctx}");
    }
    // No canonical link: the board and id come from the 文章網址 line.
    assert_eq!(
        v["url"], "https://www.ptt.cc/bbs/Stock/M.1769600000.A.ABC.html",
        "{ctx}"
    );
}

#[test]
fn preview_reads_the_post_id_from_the_file_name_as_a_last_resort() {
    let cli = Cli::new();
    let html = strip_post_links(&fixture_text("article_stock_news.html"));
    let file = cli.write("M.1769577959.A.C89.html", &html);
    let run = preview(&cli, file.to_str().unwrap(), "json");
    run.success();
    let v = run.one_json_object();
    assert_eq!(
        v["url"],
        "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html",
        "{}",
        run.context()
    );
}

#[test]
fn preview_text_is_exactly_one_console_block() {
    let cli = Cli::new();
    for file in article_fixtures() {
        let json = preview(&cli, file.to_str().unwrap(), "json");
        let v = json.one_json_object();
        let run = preview(&cli, file.to_str().unwrap(), "text");
        run.success();
        let ctx = run.context();
        let out = &run.stdout;
        assert!(out.ends_with('\n') && !out.ends_with("\n\n"), "{ctx}");
        assert!(!out.contains("\n\n"), "more than one block: {ctx}");
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "control characters: {ctx}"
        );
        let lines: Vec<&str> = out.lines().collect();
        let board = v["board"].as_str().unwrap();
        assert!(lines[0].starts_with(&format!("[{board}] ")), "{ctx}");
        if let Some(title) = v["title"].as_str() {
            assert!(lines[0].contains(title), "{ctx}");
        }
        assert_eq!(
            lines.last().unwrap().trim(),
            v["url"].as_str().unwrap(),
            "{ctx}"
        );
        let t = &v["tally"];
        for part in [
            format!("推 {}", t["push"]),
            format!("噓 {}", t["boo"]),
            format!("→ {}", t["neutral"]),
        ] {
            assert!(out.contains(&part), "{part}: {ctx}");
        }
        if let Some(h) = v["original_title"].as_str() {
            assert!(out.contains(&format!("原文標題：{h}")), "{ctx}");
        }
        if let Some(u) = v["source_url"].as_str() {
            assert!(out.contains(&format!("原文連結：{u}")), "{ctx}");
        }
    }
}

#[test]
fn preview_telegram_is_valid_html_and_one_newline() {
    let cli = Cli::new();
    for file in article_fixtures() {
        let v = preview(&cli, file.to_str().unwrap(), "json").one_json_object();
        let run = preview(&cli, file.to_str().unwrap(), "telegram");
        run.success();
        let ctx = run.context();
        let html = run
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("no trailing newline: {ctx}"));
        assert!(
            !html.ends_with('\n'),
            "more than one trailing newline: {ctx}"
        );
        let parsed = telegram_html::parse(html).unwrap_or_else(|e| panic!("{e}: {ctx}"));
        assert!(parsed.utf16_len() <= 4096, "{ctx}");
        let url = v["url"].as_str().unwrap();
        assert!(
            parsed.links.iter().any(|l| l.href == url),
            "no link to the post: {ctx}"
        );
        if let Some(t) = v["title"].as_str() {
            assert!(parsed.text.contains(t), "{ctx}");
        }
    }
}

#[test]
fn preview_discord_is_one_message_body() {
    let cli = Cli::new();
    for file in article_fixtures() {
        let v = preview(&cli, file.to_str().unwrap(), "json").one_json_object();
        let run = preview(&cli, file.to_str().unwrap(), "discord");
        run.success();
        let ctx = run.context();
        let body = run.one_json_object();
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }), "{ctx}");
        let embeds = body["embeds"].as_array().expect("embeds");
        assert_eq!(embeds.len(), 1, "{ctx}");
        let e = &embeds[0];
        assert_eq!(e["url"], v["url"], "{ctx}");
        assert!(e["title"].as_str().unwrap().chars().count() <= 256, "{ctx}");
        assert!(e["color"].is_u64(), "{ctx}");
        let allowed: &[&str] = &["embeds", "allowed_mentions", "nonce", "enforce_nonce"];
        for k in body.as_object().unwrap().keys() {
            assert!(allowed.contains(&k.as_str()), "unexpected key {k}: {ctx}");
        }
    }
}

#[test]
fn preview_escapes_the_hostile_fixture_for_telegram() {
    let cli = Cli::new();
    let file = fixture("article_hostile_title.html");
    let run = preview(&cli, file.to_str().unwrap(), "telegram");
    run.success();
    let ctx = run.context();
    let html = run.stdout.strip_suffix('\n').unwrap();
    let parsed = telegram_html::parse(html).unwrap_or_else(|e| panic!("{e}: {ctx}"));
    assert!(html.contains("A&lt;B&gt; &amp; C @everyone"), "{ctx}");
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "{ctx}"
    );
    let title = parsed
        .links
        .iter()
        .find(|l| l.text == "[新聞] A<B> & C @everyone")
        .unwrap_or_else(|| panic!("title link: {ctx}"));
    assert_eq!(
        title.href, "https://www.ptt.cc/bbs/Stock/M.1769610000.A.D0E.html",
        "{ctx}"
    );
    assert!(parsed.text.contains("<script>alert(1)</script>"), "{ctx}");
}

#[test]
fn preview_never_pings_from_the_hostile_fixture_on_discord() {
    let cli = Cli::new();
    let file = fixture("article_hostile_title.html");
    let run = preview(&cli, file.to_str().unwrap(), "discord");
    run.success();
    let body = run.one_json_object();
    let ctx = run.context();
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }), "{ctx}");
    let e = &body["embeds"][0];
    assert_eq!(e["title"], "[新聞] A<B> & C @everyone", "{ctx}");
    assert_eq!(
        e["url"], "https://www.ptt.cc/bbs/Stock/M.1769610000.A.D0E.html",
        "{ctx}"
    );
    assert!(e["color"].is_u64(), "{ctx}");
}

#[test]
fn preview_file_reads_no_configuration() {
    let cli = Cli::new();
    cli.write("config/default.toml", "this is [not TOML\n");
    let file = fixture("article_stock_news.html");
    let run = cli.run(
        &["preview", file.to_str().unwrap(), "--format", "json"],
        &[("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "0")],
    );
    run.success();
    assert_digest_json(&run.one_json_object(), &run.context());
}

#[test]
fn preview_defaults_to_text() {
    let cli = Cli::new();
    let file = fixture("article_stock_news.html");
    let default = cli.run(&["preview", file.to_str().unwrap()], &[]);
    default.success();
    let text = preview(&cli, file.to_str().unwrap(), "text");
    assert_eq!(default.stdout, text.stdout);
}

// ---------------------------------------------------------------------------
// preview: bad input

#[test]
fn preview_of_a_missing_file_is_a_usage_error() {
    let cli = Cli::new();
    let run = preview(&cli, "no-such.html", "json");
    let line = run.failure(2);
    assert!(line.contains("not a PTT article URL or file"), "{line}");
}

#[test]
fn preview_of_a_non_ptt_url_is_a_usage_error() {
    let cli = Cli::new();
    for bad in [
        "https://example.com/x",
        "https://www.ptt.cc/bbs/Stock/index.html",
        "ftp://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html",
    ] {
        let run = preview(&cli, bad, "json");
        let line = run.failure(2);
        assert!(line.contains("not a PTT article URL or file"), "{line}");
    }
}

#[test]
fn preview_of_an_index_page_says_it_is_not_an_article() {
    let cli = Cli::new();
    let file = fixture("index_Stock_newest.html");
    let run = preview(&cli, file.to_str().unwrap(), "json");
    let line = run.failure(2);
    assert!(line.contains("not a PTT article"), "{line}");
}

#[tokio::test]
async fn preview_of_a_404_url_is_a_runtime_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ARTICLE_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>404</html>"))
        .expect(1..)
        .mount(&server)
        .await;
    let cli = Cli::new();
    let url = format!("{}{ARTICLE_PATH}", server.uri());
    let run = preview(&cli, &url, "json");
    let line = run.failure(1);
    assert!(line.contains("404"), "{line}");
}

#[test]
fn preview_of_an_unreachable_host_is_a_runtime_failure() {
    let cli = Cli::new();
    let run = preview(&cli, &format!("http://127.0.0.1:1{ARTICLE_PATH}"), "json");
    run.failure(1);
}

#[test]
fn preview_without_a_source_is_a_clap_usage_error() {
    let cli = Cli::new();
    let run = cli.run(&["preview"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.context());
    assert_eq!(run.stdout, "", "{}", run.context());
    assert!(run.stderr.contains("Usage"), "{}", run.context());
    let bad_format = cli.run(
        &[
            "preview",
            fixture("article_stock_news.html").to_str().unwrap(),
            "--format",
            "xml",
        ],
        &[],
    );
    assert_eq!(bad_format.code, Some(2), "{}", bad_format.context());
    assert_eq!(bad_format.stdout, "", "{}", bad_format.context());
}

// ---------------------------------------------------------------------------
// preview URL

/// The page without `<link rel=canonical>` and the `※ 文章網址` line.
fn strip_post_links(html: &str) -> String {
    let out: String = html
        .lines()
        .filter(|l| !l.contains("rel=\"canonical\""))
        .map(|l| {
            if l.contains("文章網址") {
                // The line also closes the previous line's span.
                "</span>\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(
        !out.contains("www.ptt.cc/bbs/Stock/M.1769577957.A.1F2"),
        "links left in the page"
    );
    assert!(out.contains("id=\"main-content\""));
    out
}

async fn serve(html: String) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ARTICLE_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html; charset=utf-8")
                .set_body_string(html),
        )
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn preview_url_fetches_the_page_and_builds_www_ptt_cc_links() {
    let server = serve(strip_post_links(&fixture_text("article_stock_news.html"))).await;
    let cli = Cli::new();
    let url = format!("{}{ARTICLE_PATH}", server.uri());
    let run = preview(&cli, &url, "json");
    assert_eq!(run.code, Some(0), "{}", run.context());
    let v = run.one_json_object();
    assert_digest_json(&v, &run.context());
    // Neither canonical link nor 文章網址: the URL's board and id, on www.ptt.cc.
    assert_eq!(
        v["url"],
        "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html",
        "{}",
        run.context()
    );
    assert_eq!(v["author"], "kaiwen0728", "{}", run.context());
}

#[tokio::test]
async fn preview_url_prefers_the_pages_canonical_link() {
    let server = serve(fixture_text("article_stock_news.html")).await;
    let cli = Cli::new();
    let url = format!("{}{ARTICLE_PATH}", server.uri());
    let run = preview(&cli, &url, "json");
    assert_eq!(run.code, Some(0), "{}", run.context());
    let v = run.one_json_object();
    // DESIGN.md: canonical first, else 文章網址, else the URL.
    assert_eq!(
        v["url"],
        "https://www.ptt.cc/bbs/Stock/M.1769577957.A.1F2.html",
        "{}",
        run.context()
    );
}

#[tokio::test]
async fn preview_url_of_an_index_page_is_not_an_article() {
    let server = serve(fixture_text("index_Stock_newest.html")).await;
    let cli = Cli::new();
    let url = format!("{}{ARTICLE_PATH}", server.uri());
    let run = preview(&cli, &url, "telegram");
    let line = run.failure(2);
    assert!(line.contains("not a PTT article"), "{line}");
}

// ---------------------------------------------------------------------------
// check-config

const SECRET_ENV: &[(&str, &str)] = &[
    ("PTT_RELAY__TELEGRAM__TOKEN", "123456:SECRET-TOKEN-VALUE"),
    ("PTT_RELAY__STORE__URL", "postgres://relay:hunter2@db/relay"),
];

fn toml_of(run: &Run) -> toml::Table {
    run.stdout
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("stdout is not TOML ({e}): {}", run.context()))
}

fn boards(run: &Run) -> Vec<String> {
    toml_of(run)["ptt"]["boards"]
        .as_array()
        .unwrap_or_else(|| panic!("ptt.boards: {}", run.context()))
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn check_config_masks_secrets() {
    let cli = Cli::new();
    let run = cli.run(&["check-config"], SECRET_ENV);
    run.success();
    let ctx = run.context();
    assert!(run.stdout.contains("token = \"***\""), "{ctx}");
    assert!(
        run.stdout.contains("postgres://relay:***@db/relay"),
        "{ctx}"
    );
    for secret in ["SECRET-TOKEN-VALUE", "hunter2", "123456:"] {
        assert!(!run.stdout.contains(secret), "{secret} leaked: {ctx}");
        assert!(!run.stderr.contains(secret), "{secret} leaked: {ctx}");
    }
    let t = toml_of(&run);
    assert_eq!(t["telegram"]["token"].as_str(), Some("***"), "{ctx}");
    assert_eq!(
        t["store"]["url"].as_str(),
        Some("postgres://relay:***@db/relay"),
        "{ctx}"
    );
}

#[test]
fn check_config_masks_secrets_from_a_config_file_too() {
    let cli = Cli::new();
    let file = cli.write(
        "relay.toml",
        "[discord]\ntoken = \"discord-SECRET-TOKEN-VALUE\"\n\
         api_url = \"https://proxy:hunter2@proxy.example/\"\n",
    );
    let run = cli.run(&["check-config", "--config", file.to_str().unwrap()], &[]);
    run.success();
    let ctx = run.context();
    for secret in ["SECRET-TOKEN-VALUE", "hunter2"] {
        assert!(!run.stdout.contains(secret), "{secret} leaked: {ctx}");
        assert!(!run.stderr.contains(secret), "{secret} leaked: {ctx}");
    }
    let t = toml_of(&run);
    assert_eq!(t["discord"]["token"].as_str(), Some("***"), "{ctx}");
}

#[test]
fn check_config_prints_the_defaults_without_any_layer() {
    let cli = Cli::new();
    let run = cli.run(&["check-config"], &[]);
    run.success();
    let t = toml_of(&run);
    let ctx = run.context();
    assert_eq!(boards(&run), ["Stock"], "{ctx}");
    assert_eq!(
        t["ptt"]["poll_interval_secs"].as_integer(),
        Some(60),
        "{ctx}"
    );
    assert_eq!(t["ptt"]["base_url"].as_str(), Some("https://www.ptt.cc"));
    assert_eq!(
        t["store"]["url"].as_str(),
        Some("sqlite://data/ptt-relay.db")
    );
    assert_eq!(t["http"]["listen"].as_str(), Some("127.0.0.1:9187"));
    assert!(
        t.get("telegram").and_then(|s| s.get("token")).is_none(),
        "no token configured: {ctx}"
    );
}

#[test]
fn check_config_rejects_invalid_values_naming_the_key() {
    let cli = Cli::new();
    let run = cli.run(
        &["check-config"],
        &[("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "0")],
    );
    let line = run.failure(2);
    assert!(line.contains("poll_interval_secs"), "{line}");
    let run = cli.run(
        &["check-config"],
        &[("PTT_RELAY__TELEGRAM__LINK_PREVIEW", "sometimes")],
    );
    let line = run.failure(2);
    assert!(line.contains("link_preview"), "{line}");
}

#[test]
fn check_config_rejects_unknown_keys() {
    let cli = Cli::new();
    let run = cli.run(&["check-config"], &[("PTT_RELAY__PTT__BORADS", "Stock")]);
    let line = run.failure(2);
    assert!(line.contains("borads"), "{line}");
}

#[test]
fn check_config_rejects_a_missing_config_file() {
    let cli = Cli::new();
    let run = cli.run(&["check-config", "--config", "no-such.toml"], &[]);
    let line = run.failure(2);
    assert!(line.contains("no-such.toml"), "{line}");
}

#[test]
fn check_config_rejects_values_of_the_wrong_type_naming_the_key() {
    let cli = Cli::new();
    let run = cli.run(
        &["check-config"],
        &[("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "soon")],
    );
    let line = run.failure(2);
    assert!(line.contains("ptt.poll_interval_secs"), "{line}");
    let file = cli.write("relay.toml", "[ptt]\npoll_interval_secs = \"x\"\n");
    let run = cli.run(&["check-config", "--config", file.to_str().unwrap()], &[]);
    let line = run.failure(2);
    assert!(line.contains("ptt.poll_interval_secs"), "{line}");
}

#[test]
fn check_config_reports_a_broken_config_file_on_one_line() {
    let cli = Cli::new();
    let broken = cli.write("broken.toml", "[ptt\nboards = \n");
    let run = cli.run(&["check-config", "--config", broken.to_str().unwrap()], &[]);
    let line = run.failure(2);
    assert!(line.contains("broken.toml"), "{line}");
}

#[test]
fn check_config_reflects_a_config_file() {
    let cli = Cli::new();
    let file = cli.write("relay.toml", "[ptt]\nboards = [\"Stock\", \"Tech_Job\"]\n");
    let run = cli.run(&["check-config", "--config", file.to_str().unwrap()], &[]);
    run.success();
    assert_eq!(boards(&run), ["Stock", "Tech_Job"], "{}", run.context());
}

#[test]
fn check_config_layers_default_file_then_config_file_then_environment() {
    let cli = Cli::new();
    cli.write(
        "config/default.toml",
        "[ptt]\nboards = [\"Tech_Job\"]\npoll_interval_secs = 30\ncatchup_pages = 7\n",
    );
    let file = cli.write(
        "relay.toml",
        "[ptt]\npoll_interval_secs = 45\nbackfill = 2\n",
    );
    let run = cli.run(
        &["check-config", "--config", file.to_str().unwrap()],
        &[("PTT_RELAY__PTT__BACKFILL", "3")],
    );
    run.success();
    let t = toml_of(&run);
    let ctx = run.context();
    assert_eq!(boards(&run), ["Tech_Job"], "{ctx}");
    assert_eq!(t["ptt"]["catchup_pages"].as_integer(), Some(7), "{ctx}");
    assert_eq!(
        t["ptt"]["poll_interval_secs"].as_integer(),
        Some(45),
        "{ctx}"
    );
    assert_eq!(t["ptt"]["backfill"].as_integer(), Some(3), "{ctx}");
}

#[test]
fn check_config_takes_boards_as_a_comma_list_from_the_environment() {
    let cli = Cli::new();
    let run = cli.run(
        &["check-config"],
        &[("PTT_RELAY__PTT__BOARDS", "Stock,Tech_Job")],
    );
    run.success();
    assert_eq!(boards(&run), ["Stock", "Tech_Job"], "{}", run.context());
}

#[test]
fn check_config_treats_an_empty_env_value_as_unset() {
    let cli = Cli::new();
    let file = cli.write("relay.toml", "[ptt]\nboards = [\"Tech_Job\"]\n");
    let run = cli.run(
        &["check-config", "--config", file.to_str().unwrap()],
        &[
            ("PTT_RELAY__PTT__BOARDS", ""),
            ("PTT_RELAY__TELEGRAM__TOKEN", ""),
            ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", ""),
        ],
    );
    run.success();
    let ctx = run.context();
    // The file's boards survive an empty variable.
    assert_eq!(boards(&run), ["Tech_Job"], "{ctx}");
    let t = toml_of(&run);
    assert!(
        t.get("telegram").and_then(|s| s.get("token")).is_none(),
        "an empty token is no token: {ctx}"
    );
    assert_eq!(
        t["ptt"]["poll_interval_secs"].as_integer(),
        Some(60),
        "{ctx}"
    );

    let run = cli.run(&["check-config"], &[("PTT_RELAY__PTT__BOARDS", "")]);
    run.success();
    assert_eq!(boards(&run), ["Stock"], "{}", run.context());
}

// ---------------------------------------------------------------------------
// misc

#[test]
fn version_is_printed() {
    let cli = Cli::new();
    let run = cli.run(&["--version"], &[]);
    run.success();
    assert_eq!(
        run.stdout.trim(),
        format!("ptt-relay {}", env!("CARGO_PKG_VERSION")),
        "{}",
        run.context()
    );
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let cli = Cli::new();
    let run = cli.run(&["frobnicate"], &[]);
    assert_eq!(run.code, Some(2), "{}", run.context());
    assert_eq!(run.stdout, "", "{}", run.context());
}

/// A password given as a `password=` query parameter of the store URL
/// (libpq accepts it there) is masked like one in the user info.
#[test]
fn check_config_masks_a_password_query_parameter() {
    let cli = Cli::new();
    let run = cli.run(
        &["check-config"],
        &[(
            "PTT_RELAY__STORE__URL",
            "postgres://relay@db/relay?sslmode=disable&password=QUERY-SECRET-PW",
        )],
    );
    run.success();
    let ctx = run.context();
    assert!(!run.stdout.contains("QUERY-SECRET-PW"), "leaked: {ctx}");
    assert!(!run.stderr.contains("QUERY-SECRET-PW"), "leaked: {ctx}");
    let t = toml_of(&run);
    assert_eq!(
        t["store"]["url"].as_str(),
        Some("postgres://relay@db/relay?sslmode=disable&password=***"),
        "{ctx}"
    );
}

/// `run` cannot reach the store: its error names the server without the
/// password, wherever in the URL the password was.
#[test]
fn run_masks_the_store_password_in_its_connection_error() {
    for url in [
        "postgres://relay@127.0.0.1:1/relay?password=QUERY-SECRET-PW",
        "postgres://relay:QUERY-SECRET-PW@127.0.0.1:1/relay",
    ] {
        let cli = Cli::new();
        let run = cli.run(&["run"], &[("PTT_RELAY__STORE__URL", url)]);
        let ctx = run.context();
        assert_ne!(run.code, Some(0), "{ctx}");
        assert!(run.stderr.contains("127.0.0.1:1"), "no location: {ctx}");
        assert!(!run.stderr.contains("QUERY-SECRET-PW"), "leaked: {ctx}");
        assert!(!run.stdout.contains("QUERY-SECRET-PW"), "leaked: {ctx}");
    }
}

/// Every numeric key has a range; a value outside it is refused by
/// `check-config` and by `run` (exit 2) with the key, the value and the
/// range.
#[test]
fn out_of_range_values_are_refused_with_key_value_and_range() {
    let cases = [
        (
            "PTT_RELAY__PTT__REQUESTS_PER_SEC",
            "1e-300",
            "ptt.requests_per_sec = 1e-300",
            "0.01 to 100",
        ),
        (
            "PTT_RELAY__PTT__POLL_INTERVAL_SECS",
            "0",
            "ptt.poll_interval_secs = 0",
            "1 to 86400",
        ),
        (
            "PTT_RELAY__RELAY__MAX_DELIVERY_AGE_HOURS",
            "18446744073709551615",
            "relay.max_delivery_age_hours = 18446744073709551615",
            "1 to 8760",
        ),
        (
            "PTT_RELAY__RELAY__TRACK_HOURS",
            "5124095576030431",
            "relay.track_hours = 5124095576030431",
            "0 to 720",
        ),
        (
            "PTT_RELAY__STORE__RETENTION_DAYS",
            "4000000000",
            "store.retention_days = 4000000000",
            "1 to 3650",
        ),
        (
            "PTT_RELAY__OUTBOX__CONCURRENCY",
            "100000",
            "outbox.concurrency = 100000",
            "1 to 256",
        ),
        (
            "PTT_RELAY__PTT__CATCHUP_PAGES",
            "1000000",
            "ptt.catchup_pages = 1000000",
            "0 to 100",
        ),
    ];
    for (var, value, named, range) in cases {
        for cmd in ["check-config", "run"] {
            let cli = Cli::new();
            let run = cli.run(&[cmd], &[(var, value)]);
            let line = run.failure(2);
            assert!(line.contains(named), "{cmd} {var}={value}: {line}");
            assert!(line.contains(range), "{cmd} {var}={value}: {line}");
        }
    }
}
