//! The bodies a webhook receives, one per [`Format`]:
//!
//! - `discord`: an execute-webhook body — the Discord platform's own embed
//!   (its renderer, reached through the registry, which is how one platform
//!   folder uses another's output without naming it), `allowed_mentions`
//!   parsing nothing, and the board as `username`;
//! - `slack`: a Block Kit message, `text` plus blocks, every PTT string
//!   escaped for Slack (`&`, `<`, `>`) and every block within Slack's 3000
//!   characters; a link is shown whole or left out, never cut;
//! - `json`: the digest JSON of DESIGN.md, with a stable delivery id and an
//!   optional HMAC-SHA256 signature (headers, see the sink).

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::settings::Format;
use crate::commands::i18n::DIGEST;
use crate::digest::{Digest, links};
use crate::text::{strip_controls, truncate_chars, truncate_chars_keeping_links};

/// Slack's limit for the text of a section or context block.
pub const SLACK_BLOCK_MAX: usize = 3000;

/// The Discord platform's message body for a digest (`embeds`,
/// `allowed_mentions`), from its own renderer.
fn discord_message(d: &Digest) -> Value {
    crate::chat::registry::find("discord")
        .and_then(|p| serde_json::from_str::<Value>(&p.preview(d)).ok())
        .unwrap_or_else(|| json!({}))
}

/// The embed-carrying part of a Discord body: `embeds` and
/// `allowed_mentions` (parsing nothing), with a status before the title
/// (a post deleted on PTT) when one is given.
fn discord_parts(d: &Digest, status: Option<&str>) -> Value {
    let message = match status {
        // The Discord renderer puts a status before the display title.
        Some(s) => {
            let mut marked = d.clone();
            marked.title = Some(format!("{s} {}", d.display_title()));
            discord_message(&marked)
        }
        None => discord_message(d),
    };
    json!({
        "embeds": message.get("embeds").cloned().unwrap_or_else(|| json!([])),
        "allowed_mentions": { "parse": [] },
    })
}

/// Discord's message flag for "no push or desktop notification".
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;

/// The execute-webhook body (`POST {url}?wait=true`): the embed, no
/// mentions, the board as the sender's name.
pub fn discord_body(d: &Digest) -> Value {
    let mut body = discord_parts(d, None);
    if let Some(obj) = body.as_object_mut() {
        // Discord refuses a username over 80 characters; boards are ≤ 12.
        obj.insert(
            "username".into(),
            json!(truncate_chars(&strip_controls(&d.board), 80)),
        );
    }
    body
}

/// The body of a tally edit (`PATCH {url}/messages/{id}`).
pub fn discord_edit_body(d: &Digest, deleted: bool) -> Value {
    discord_parts(d, deleted.then_some(DIGEST.deleted_title))
}

/// Escapes text for Slack: `&`, `<` and `>` (Slack's control characters),
/// controls dropped.
pub fn slack_escape(s: &str) -> String {
    strip_controls(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A URL inside Slack's `<url|label>`: escaped, and the `|` that would end
/// it percent-encoded.
fn slack_url(u: &str) -> String {
    slack_escape(u).replace('|', "%7C")
}

/// `s` cut to `max` characters (never inside a link) and escaped, within
/// `max` characters once escaped.
fn slack_within(s: &str, max: usize) -> String {
    let mut keep = max;
    loop {
        let out = slack_escape(&truncate_chars_keeping_links(s, keep));
        if out.chars().count() <= max || keep == 0 {
            return out;
        }
        keep = keep.saturating_sub(out.chars().count() - max).min(keep - 1);
    }
}

/// A Slack Block Kit message: the title linking to the post and the
/// headline; the excerpt; the source link; the tally, board, author and
/// time. `text` is the notification's fallback.
pub fn slack_body(d: &Digest) -> Value {
    let title = slack_within(d.display_title(), 500);
    let post = slack_url(&d.url);
    let mut head = format!("*<{post}|{title}>*");
    if let Some(h) = d.original_title.as_deref().filter(|h| !h.trim().is_empty()) {
        head.push('\n');
        head.push_str(&slack_within(h, 1000));
    }
    if let Some(line) = d.hot_line() {
        head.push('\n');
        head.push_str(&slack_within(&line, 100));
    }
    if let Some(line) = d.stocks_line() {
        head.push('\n');
        head.push_str(&slack_within(&line, 300));
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": head },
    })];
    if let Some(e) = d.excerpt.as_deref().filter(|e| !e.trim().is_empty()) {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": slack_within(e, 1500) },
        }));
    }
    // A source link too long for a block is left out (never cut); the
    // post's link stays in the title.
    if let Some(src) = d.source_url.as_deref().and_then(links::href) {
        let line = format!("原文連結：<{}>", slack_url(&src));
        if line.chars().count() <= SLACK_BLOCK_MAX {
            blocks.push(json!({
                "type": "context",
                "elements": [{ "type": "mrkdwn", "text": line }],
            }));
        }
    }
    let footer = [d.tally_line(" · "), d.board.clone(), d.byline()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": slack_within(&footer, 1000) }],
    }));
    json!({
        "text": format!("{} {}", slack_within(d.display_title(), 500), d.url),
        "blocks": blocks,
        "unfurl_links": false,
    })
}

/// The `json` body: the digest JSON (DESIGN.md, "Digest JSON").
pub fn json_body(d: &Digest) -> Vec<u8> {
    serde_json::to_vec(d).unwrap_or_else(|_| b"{}".to_vec())
}

/// The body of a first delivery in `format`.
///
/// `silent` (a `silent:yes` filter) sets the Discord message flag
/// SUPPRESS_NOTIFICATIONS (4096); Slack and JSON receivers have no such
/// thing and get the same body either way.
pub fn body(format: Format, d: &Digest, silent: bool) -> Vec<u8> {
    match format {
        Format::Embeds => {
            let mut body = discord_body(d);
            if silent && let Some(obj) = body.as_object_mut() {
                obj.insert("flags".into(), json!(SUPPRESS_NOTIFICATIONS));
            }
            body.to_string().into_bytes()
        }
        Format::Slack => slack_body(d).to_string().into_bytes(),
        Format::Json => json_body(d),
    }
}

/// `X-PTT-Relay-Delivery`: the same for every attempt to deliver one post
/// to one destination, different for any other (32 hex digits of the
/// SHA-256 of board, post id and destination name, fixed by definition).
pub fn delivery_id(board: &str, post_id: &str, destination: &str) -> String {
    let mut h = Sha256::new();
    for part in ["ptt-relay delivery", board, post_id, destination] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize()[..16])
}

/// `X-PTT-Relay-Signature`: `sha256=` and the hex HMAC-SHA256 of the body.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new_from_slice(&[]).expect("empty key"));
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        let mut d: Digest = serde_json::from_value(json!({
            "board": "Stock", "id": "M.1.A.1",
            "url": "https://www.ptt.cc/bbs/Stock/M.1.A.1.html",
            "title": "[新聞] A&B <@here> 台積電", "tag": "新聞",
            "is_reply": false, "is_forward": false, "author": "someid",
            "posted_at": "2026-01-28T13:25:57+08:00",
            "original_title": "Head <b>&", "source_url": "https://ex.com/a?x=1&y=|2",
            "published": null, "reporter": null, "excerpt": "text > more",
            "tally": {"push": 24, "boo": 3, "neutral": 15, "net": 21, "total": 42},
            "stocks": []
        }))
        .unwrap();
        d.excerpt = Some("text > more".into());
        d
    }

    #[test]
    fn slack_text_is_escaped_everywhere() {
        let b = slack_body(&digest());
        let all = b.to_string();
        assert!(!all.contains("<@here>"), "{all}");
        assert!(all.contains("A&amp;B &lt;@here&gt;"), "{all}");
        assert!(all.contains("Head &lt;b&gt;&amp;"), "{all}");
        assert!(all.contains("text &gt; more"), "{all}");
        assert!(
            all.contains("<https://www.ptt.cc/bbs/Stock/M.1.A.1.html|"),
            "{all}"
        );
        assert!(all.contains("x=1&amp;y=%7C2"), "{all}");
        assert!(all.contains("推 24 · 噓 3 · → 15"), "{all}");
        for block in b["blocks"].as_array().unwrap() {
            let t = block["text"]["text"]
                .as_str()
                .or(block["elements"][0]["text"].as_str())
                .unwrap();
            assert!(t.chars().count() <= SLACK_BLOCK_MAX);
        }
    }

    #[test]
    fn long_slack_text_stays_within_a_block() {
        let mut d = digest();
        d.original_title = Some("<&>".repeat(2000));
        d.excerpt = Some("&".repeat(5000));
        for block in slack_body(&d)["blocks"].as_array().unwrap() {
            let t = block["text"]["text"]
                .as_str()
                .or(block["elements"][0]["text"].as_str())
                .unwrap();
            assert!(t.chars().count() <= SLACK_BLOCK_MAX, "{}", t.len());
            assert!(!t.ends_with("&am"), "no cut entity");
        }
    }

    #[test]
    fn the_discord_body_is_the_discord_embed_with_the_board_as_sender() {
        let d = digest();
        let b = discord_body(&d);
        assert_eq!(b["username"], "Stock");
        assert_eq!(b["allowed_mentions"], json!({"parse": []}));
        assert_eq!(b["embeds"][0]["url"], d.url);
        assert_eq!(b["embeds"][0]["title"], "[新聞] A&B <@here> 台積電");
        let e = discord_edit_body(&d, true);
        assert_eq!(
            e["embeds"][0]["title"],
            "【已刪除】 [新聞] A&B <@here> 台積電"
        );
        assert!(e.get("username").is_none());
    }

    #[test]
    fn delivery_ids_and_signatures_are_stable() {
        let a = delivery_id("Stock", "M.1.A.1", "hook");
        assert_eq!(a.len(), 32);
        assert_eq!(a, delivery_id("Stock", "M.1.A.1", "hook"));
        assert_ne!(a, delivery_id("Stock", "M.1.A.1", "hook2"));
        assert_ne!(a, delivery_id("Stock", "M.1.A.2", "hook"));
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
