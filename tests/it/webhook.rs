//! Outgoing webhooks (DESIGN.md, "Webhook destinations") through the real
//! service: configured only in the config (no command is ever sent), each
//! format delivered to a fake receiver, the Discord format's tally edit,
//! the outbox's retry after a 500 (delivered once), and `check-config`
//! never showing a webhook URL or the signing secret.

use crate::support;

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use ptt_relay::app::Running;
use ptt_relay::chat::PlatformId;
use ptt_relay::config::Settings;
use ptt_relay::dest::Destination;
use ptt_relay::relay::tally::TallyOptions;
use serde_json::json;
use sha2::Sha256;
use support::fake_ptt::FakePtt;
use support::fake_webhook::FakeWebhook;
use support::harness::{self, seeded, settings, wait_for};

const SECRET: &str = "wh-s3cret-key";
const DISCORD_PATH: &str = "/api/webhooks/42/d1sc0rd-t0ken";
const SLACK_PATH: &str = "/services/T000/B000/sl4ck-t0ken";
const JSON_PATH: &str = "/ingest/js0n-t0ken";

fn webhook(name: &str) -> Destination {
    Destination::chat(PlatformId::parse("webhook").unwrap(), name)
}

fn fast_tally() -> TallyOptions {
    TallyOptions {
        window: Duration::from_secs(600),
        first_step: Duration::from_secs(2),
        max_step: Duration::from_secs(4),
        hot_minute: Duration::from_secs(60),
        boom_recount: Duration::from_secs(300),
    }
}

/// The settings of a test: these `[[webhook.destinations]]` and the
/// signing secret, nothing else on.
fn with_webhooks(ptt: &FakePtt, db: &std::path::Path, destinations: serde_json::Value) -> Settings {
    let mut s = settings(ptt, db);
    s.platforms.set(
        "webhook",
        json!({ "secret": SECRET, "destinations": destinations }),
    );
    s
}

/// Starts the service and waits until its webhooks are subscribed (the
/// listener applies the configuration) and the board is seeded.
async fn start(s: &Settings, names: &[&str]) -> Running {
    let r = harness::start(s, vec![], Some(fast_tally())).await;
    for name in names {
        let dest = webhook(name);
        for _ in 0..300 {
            if !r.store().subscriptions_of(&dest).await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            r.store().subscriptions_of(&dest).await.unwrap().len(),
            1,
            "{name} subscribed from the config"
        );
    }
    seeded(&r).await;
    r
}

fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("x"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_format_gets_the_post_and_the_discord_one_its_tally_edit() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let hook = FakeWebhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = with_webhooks(
        &ptt,
        &dir.path().join("db"),
        json!([
            {"name": "team-discord", "url": hook.url(DISCORD_PATH), "format": "discord", "filter": "Stock silent:yes"},
            {"name": "team-slack", "url": hook.url(SLACK_PATH), "format": "slack", "filter": "Stock kw:台積電"},
            {"name": "team-json", "url": hook.url(JSON_PATH), "format": "json", "filter": "Stock tag:新聞"},
        ]),
    );
    let r = start(&s, &["team-discord", "team-slack", "team-json"]).await;
    // Not the Slack hook's words (`kw:台積電`): not delivered there. (A
    // filter without a `tag:` means `tag:新聞`, as with /subscribe.)
    let other = ptt.add_post("Stock", "[新聞] 聯發科 <&>", "a");
    let id = ptt.add_post("Stock", "[新聞] 台積電 <b>漲停</b> & more", "r");
    wait_for("three deliveries", || {
        hook.accepted(DISCORD_PATH).len() == 2
            && hook.accepted(SLACK_PATH).len() == 1
            && hook.accepted(JSON_PATH).len() == 2
    })
    .await;
    let url = format!("https://www.ptt.cc/bbs/Stock/{id}.html");

    // discord: the execute-webhook body, with ?wait=true.
    let discord = hook.accepted(DISCORD_PATH);
    let d = discord
        .iter()
        .find(|r| r.json()["embeds"][0]["url"] == json!(url))
        .expect("the post's Discord message");
    assert_eq!(d.method, "POST");
    assert_eq!(d.query.as_deref(), Some("wait=true"));
    let body = d.json();
    assert_eq!(body["username"], "Stock");
    // `silent:yes`: Discord's SUPPRESS_NOTIFICATIONS flag.
    assert_eq!(body["flags"], 4096, "{body}");
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(
        body["embeds"][0]["title"],
        "[新聞] 台積電 <b>漲停</b> & more"
    );
    assert!(
        body["embeds"][0]["fields"]
            .to_string()
            .contains("推 0 · 噓 0 · → 0"),
        "{body}"
    );
    assert!(discord.iter().any(|r| r.json()["embeds"][0]["url"]
        == json!(format!("https://www.ptt.cc/bbs/Stock/{other}.html"))));

    // slack: Block Kit, PTT text escaped.
    let slack = &hook.accepted(SLACK_PATH)[0];
    let body = slack.json();
    assert!(body["text"].as_str().unwrap().contains(&url), "{body}");
    let blocks = body["blocks"].to_string();
    assert!(
        blocks.contains(&format!(
            "*<{url}|[新聞] 台積電 &lt;b&gt;漲停&lt;/b&gt; &amp; more>*"
        )),
        "{blocks}"
    );
    assert!(!blocks.contains("<b>"), "{blocks}");

    // json: the digest JSON, a delivery id, a valid signature.
    let json_posts = hook.accepted(JSON_PATH);
    let js = json_posts
        .iter()
        .find(|r| r.json()["id"] == json!(id))
        .expect("the post's JSON delivery");
    let body = js.json();
    assert_eq!(body["id"], json!(id));
    assert_eq!(body["url"], json!(url));
    assert_eq!(body["tally"]["push"], 0);
    let delivery = js.header("x-ptt-relay-delivery").expect("a delivery id");
    assert_eq!(delivery.len(), 32, "{delivery}");
    let sig = js.header("x-ptt-relay-signature").expect("a signature");
    assert!(verify(SECRET, &js.body, &sig), "{sig}");
    assert!(!verify("another key", &js.body, &sig));
    assert_eq!(
        js.header("content-type").as_deref(),
        Some("application/json")
    );

    // The tally changes: the Discord message is edited in place; Slack
    // and JSON get nothing more.
    ptt.add_pushes("Stock", &id, &["推", "推", "推", "噓"]);
    let message_id = d.message_id.clone().expect("the created message's id");
    let edit_path = format!("{DISCORD_PATH}/messages/{message_id}");
    wait_for("the tally edit", || {
        hook.to_path(&edit_path).iter().any(|r| r.status == 200)
    })
    .await;
    let edit = &hook.to_path(&edit_path)[0];
    assert_eq!(edit.method, "PATCH");
    let body = edit.json();
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert!(
        body["embeds"][0]["fields"]
            .to_string()
            .contains("推 3 · 噓 1 · → 0"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hook.to_path(SLACK_PATH).len(), 1);
    assert_eq!(hook.to_path(JSON_PATH).len(), 2);
    assert_ne!(
        json_posts[0].header("x-ptt-relay-delivery"),
        json_posts[1].header("x-ptt-relay-delivery")
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_then_a_success_delivers_once_through_the_outbox() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let hook = FakeWebhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = with_webhooks(
        &ptt,
        &dir.path().join("db"),
        json!([{"name": "ingest", "url": hook.url(JSON_PATH), "format": "json", "filter": "Stock"}]),
    );
    let r = start(&s, &["ingest"]).await;
    hook.fail_next(500, &[], 1);
    let id = ptt.add_post("Stock", "[新聞] 先失敗再成功", "r");
    wait_for("the retried delivery", || {
        hook.accepted(JSON_PATH).len() == 1
    })
    .await;
    // Let polls and the outbox run on: still exactly one delivery.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = hook.to_path(JSON_PATH);
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 200],
        "one failure, one delivery"
    );
    // Both attempts carry the same delivery id (receivers drop repeats).
    let ids: Vec<_> = all
        .iter()
        .map(|r| r.header("x-ptt-relay-delivery").unwrap())
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(all[1].json()["id"], json!(id));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after_and_a_404_pauses_the_destination() {
    let ptt = FakePtt::start(&["Stock"]).await;
    let hook = FakeWebhook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = with_webhooks(
        &ptt,
        &dir.path().join("db"),
        json!([{"name": "slow", "url": hook.url(SLACK_PATH), "format": "slack", "filter": "Stock"}]),
    );
    let r = start(&s, &["slow"]).await;
    hook.fail_next(429, &[("retry-after", "2")], 1);
    ptt.add_post("Stock", "[新聞] 請稍候", "r");
    wait_for("the delivery after the wait", || {
        hook.accepted(SLACK_PATH).len() == 1
    })
    .await;
    let all = hook.to_path(SLACK_PATH);
    assert_eq!(all.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);

    // The hook is deleted: 404 pauses the destination, its row kept.
    hook.fail_next(404, &[], 1);
    ptt.add_post("Stock", "[新聞] 鉤子不見了", "r");
    wait_for("the 404", || hook.to_path(SLACK_PATH).len() == 3).await;
    let paused = async {
        for _ in 0..100 {
            let subs = r.store().subscriptions_of(&webhook("slow")).await.unwrap();
            if subs.iter().all(|s| s.paused) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(paused.await, "the destination is paused");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hook.to_path(SLACK_PATH).len(), 3, "nothing more is sent");
    r.stop().await;

    // The next start applies the configuration again: resumed, and the
    // kept row is delivered.
    let r = start(&s, &["slow"]).await;
    wait_for("the kept row delivered", || {
        hook.accepted(SLACK_PATH).len() == 2
    })
    .await;
    r.stop().await;
}

#[test]
fn check_config_never_shows_a_webhook_url_or_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[webhook]
secret = "{SECRET}"

[[webhook.destinations]]
name = "team-slack"
url = "https://hooks.example.com{SLACK_PATH}?token=q-t0ken"
format = "slack"
filter = "Stock kw:台積電"

[[webhook.destinations]]
name = "team-json"
url = "https://user:pa55word@ingest.example.com{JSON_PATH}"
format = "json"
filter = "Stock"
"#
        ),
    )
    .unwrap();
    let out = support::binary::command(dir.path())
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let shown: toml::Table = stdout.parse().expect("TOML");
    let hooks = shown["webhook"]["destinations"].as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{stdout}");
    assert_eq!(hooks[0]["name"].as_str(), Some("team-slack"));
    assert_eq!(
        hooks[0]["url"].as_str(),
        Some("https://hooks.example.com/***")
    );
    assert_eq!(shown["webhook"]["secret"].as_str(), Some("***"));
    for secret in [
        SECRET,
        SLACK_PATH,
        JSON_PATH,
        "sl4ck-t0ken",
        "js0n-t0ken",
        "q-t0ken",
        "pa55word",
    ] {
        assert!(!stdout.contains(secret), "{secret} shown: {stdout}");
        assert!(!stderr.contains(secret), "{secret} logged: {stderr}");
    }

    // A bad entry is refused (exit 2), named, its URL not echoed.
    std::fs::write(
        &file,
        format!(
            "[[webhook.destinations]]\nname = \"x\"\nurl = \"ftp://hooks.example.com{SLACK_PATH}\"\nformat = \"slack\"\nfilter = \"Stock\"\n"
        ),
    )
    .unwrap();
    let out = support::binary::command(dir.path())
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("webhook.destinations[0].url"), "{stderr}");
    assert!(!stderr.contains("sl4ck-t0ken"), "{stderr}");
}
