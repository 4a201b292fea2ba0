//! Discord rendering: one embed, and the body of
//! `POST /channels/{id}/messages`.
//!
//! Limits respected: title 256, description 4096, field value 1024, footer
//! 2048, 6000 characters in all; the excerpt is cut first. A link is never
//! cut (DESIGN.md, "Messages"): the source address goes in the 原文連結
//! field when it fits in 1024 characters, else in the description (the
//! excerpt making room), else it is left out while the embed still links to
//! the post; a cut in PTT text falls before a link written there. PTT text is
//! escaped for Discord markdown, and `allowed_mentions` parses nothing, so a
//! title can never ping anyone.

use serde::Serialize;
use serde_json::{Value, json};

use super::sink::MAX_CONTENT;
use crate::digest::ranking::{Leaderboard, ranked_title};
use crate::digest::{Digest, links};
use crate::ptt::links::scheme_start;
use crate::text::{strip_controls, truncate_chars, truncate_chars_keeping_links};

/// Discord's limit for the characters of all embeds of a message.
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Embed title limit.
pub const MAX_TITLE: usize = 256;
/// Embed description limit.
pub const MAX_DESCRIPTION: usize = 4096;
/// Embed field value limit.
pub const MAX_FIELD_VALUE: usize = 1024;

/// Green for a positive net push.
pub const COLOR_POSITIVE: u32 = 0x2E_CC_71;
/// Red for a negative net push.
pub const COLOR_NEGATIVE: u32 = 0xE7_4C_3C;
/// Grey for zero.
pub const COLOR_NEUTRAL: u32 = 0x95_A5_A6;

/// An embed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Shown side by side.
    pub inline: bool,
}

/// The footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Footer {
    /// Text.
    pub text: String,
}

/// A Discord embed, serializing to Discord's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Embed {
    /// Title (≤ 256), linking to `url`.
    pub title: String,
    /// The post's URL.
    pub url: String,
    /// Headline and excerpt.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Source link and tally.
    pub fields: Vec<Field>,
    /// Board, author and time.
    pub footer: Footer,
    /// The post's time (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Colour by net push.
    pub color: u32,
}

impl Embed {
    /// Characters Discord counts towards the 6000 limit.
    pub fn total_chars(&self) -> usize {
        let n = |s: &str| s.chars().count();
        n(&self.title)
            + n(&self.description)
            + n(&self.footer.text)
            + self
                .fields
                .iter()
                .map(|f| n(&f.name) + n(&f.value))
                .sum::<usize>()
    }
}

/// Escapes Discord markdown so PTT text shows as written: emphasis, code,
/// spoilers, masked links and `<…>` mentions are neutralised, and quote,
/// heading and list markers at the start of a line. A link (from `http://`
/// or `https://` to the end of its word) is left alone so it stays
/// clickable and whole.
pub fn escape_markdown(s: &str) -> String {
    let clean = strip_controls(s);
    let mut out = String::with_capacity(clean.len() + 8);
    let mut line_start = true;
    for (i, word) in clean.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let (text, link) = match scheme_start(word) {
            Some(at) => word.split_at(at),
            None => (word, ""),
        };
        for c in text.chars() {
            let escape = matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<')
                || (line_start && matches!(c, '>' | '#' | '-' | '+'));
            if escape {
                out.push('\\');
            }
            out.push(c);
            line_start = false;
        }
        if !link.is_empty() {
            out.push_str(link);
            line_start = false;
        }
    }
    out
}

/// The content of a `top:N` leaderboard message: the heading in bold,
/// then one line a post (`1. 推 24 噓 3 → 15 (+21)` and the title as a
/// masked link to the post, its embed suppressed). Lines that would pass
/// Discord's 2000 characters are left out, last first.
pub fn leaderboard(b: &Leaderboard) -> String {
    let mut out = format!("**{}**", escape_markdown(&b.heading));
    for (i, d) in b.posts.iter().enumerate() {
        let line = format!(
            "\n{}. {} ({:+}) [{}](<{}>)",
            i + 1,
            d.tally_line(" "),
            d.tally.net,
            escape_link_text(&ranked_title(d)),
            d.url
        );
        if out.chars().count() + line.chars().count() > MAX_CONTENT {
            break;
        }
        out.push_str(&line);
    }
    out
}

/// Text inside a masked link's brackets: markdown escaped, and a link's
/// `:` taken out of play, since Discord refuses a masked link whose text
/// holds an address.
fn escape_link_text(s: &str) -> String {
    escape_markdown(&s.replace("://", ":\u{2060}//"))
}

/// A command reply as a message's `content`: plain text, so its markdown
/// is escaped (a PTT title in `/latest` or `/top` shows as written, never
/// as bold text or a masked link), cut to Discord's 2000 characters
/// without cutting a link.
///
/// Channel mentions (`<#id>`) stay: our replies name channels with them,
/// and one never pings.
pub fn reply_content(text: &str) -> String {
    let escaped = escaped_within(text.trim_end(), MAX_CONTENT);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(at) = rest.find("\\<#") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after[2..].chars().take_while(char::is_ascii_digit).count();
        let is_channel = digits > 0 && after[2 + digits..].starts_with('>');
        if !is_channel {
            out.push('\\');
        }
        out.push_str("<#");
        rest = &after[2..];
    }
    out.push_str(rest);
    out
}

/// Escaped and cut to `max` characters without leaving a dangling `\` or a
/// cut link.
fn escaped_within(s: &str, max: usize) -> String {
    let mut text = truncate_chars_keeping_links(s, max);
    loop {
        let escaped = escape_markdown(&text);
        if escaped.chars().count() <= max {
            return escaped;
        }
        let keep = text
            .chars()
            .count()
            .saturating_sub(escaped.chars().count() - max + 1);
        text = truncate_chars_keeping_links(&text, keep);
        if keep == 0 {
            return String::new();
        }
    }
}

/// The embed of a digest, with an optional status line (e.g. deleted on PTT).
pub fn embed_with_status(d: &Digest, status: Option<&str>) -> Embed {
    // Embed titles show text as written (no markdown to escape).
    let title = match status {
        Some(s) => format!("{s} {}", d.display_title()),
        None => d.display_title().to_owned(),
    };
    let title = truncate_chars_keeping_links(&strip_controls(&title), MAX_TITLE);
    let source = d.source_url.as_deref().and_then(links::href);
    // A source address too long for a field goes to the description.
    let (field_source, description_source) = match source {
        Some(u) if u.chars().count() <= MAX_FIELD_VALUE => (Some(u), None),
        other => (None, other.map(|u| format!("{SOURCE_LABEL}：{u}"))),
    };
    let mut fields = Vec::new();
    if let Some(u) = field_source {
        fields.push(Field {
            name: SOURCE_LABEL.into(),
            value: u,
            inline: false,
        });
    }
    fields.push(Field {
        name: "推噓".into(),
        value: d.tally_line(" · "),
        inline: false,
    });
    let footer = Footer {
        text: truncate_chars(
            &strip_controls(&[d.board.clone(), d.byline()].join(" · ")),
            256,
        ),
    };
    let color = match d.tally.net {
        n if n > 0 => COLOR_POSITIVE,
        n if n < 0 => COLOR_NEGATIVE,
        _ => COLOR_NEUTRAL,
    };
    let mut embed = Embed {
        title,
        url: d.url.clone(),
        description: String::new(),
        fields,
        footer,
        timestamp: d.posted_at.map(|t| t.to_rfc3339()),
        color,
    };
    let headline = d
        .original_title
        .as_deref()
        .map(|t| format!("**{}**", escaped_within(t, 500)))
        .unwrap_or_default();
    let mut parts = vec![headline];
    if let Some(line) = d.hot_line() {
        parts.push(escaped_within(&line, 100));
    }
    if let Some(line) = d.stocks_line() {
        parts.push(escaped_within(&line, 300));
    }
    // The source line, whole, when the description and the embed have room
    // for it next to the headline; else it is left out.
    if let Some(line) = description_source {
        let mut with_line = parts.clone();
        with_line.push(line.clone());
        if fits(&embed, &with_line, 0) {
            parts.push(line);
        }
    }
    let excerpt_room = room_for_one_more(&embed, &parts);
    let excerpt = d
        .excerpt
        .as_deref()
        .filter(|e| !e.trim().is_empty() && excerpt_room > 1)
        .map(|e| escaped_within(e, excerpt_room))
        .unwrap_or_default();
    parts.push(excerpt);
    embed.description = join_parts(&parts);
    embed
}

/// The name of the source link's field, and its label in the description.
const SOURCE_LABEL: &str = "原文連結";

/// The separator of the description's parts.
const PART_SEPARATOR: &str = "\n\n";

/// The description made of the non-empty `parts`.
fn join_parts<S: AsRef<str>>(parts: &[S]) -> String {
    parts
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(PART_SEPARATOR)
}

/// Whether a description of `parts`, plus `extra` more characters, stays
/// within the description's and the embed's limits (the embed's description
/// still empty).
fn fits<S: AsRef<str>>(embed: &Embed, parts: &[S], extra: usize) -> bool {
    let len = join_parts(parts).chars().count() + extra;
    len <= MAX_DESCRIPTION && embed.total_chars() + len <= MAX_EMBED_TOTAL
}

/// How many characters one more part after `parts` may have.
fn room_for_one_more<S: AsRef<str>>(embed: &Embed, parts: &[S]) -> usize {
    let used = join_parts(parts).chars().count();
    let separator = if used == 0 {
        0
    } else {
        PART_SEPARATOR.chars().count()
    };
    let used = used + separator;
    MAX_DESCRIPTION
        .saturating_sub(used)
        .min(MAX_EMBED_TOTAL.saturating_sub(embed.total_chars() + used))
}

/// The embed of a digest.
pub fn embed(d: &Digest) -> Embed {
    embed_with_status(d, None)
}

/// `allowed_mentions` that parses nothing: no @everyone, role or user ping.
pub fn no_mentions() -> Value {
    json!({ "parse": [] })
}

/// The body of `POST /channels/{id}/messages` for a digest, with a `nonce`
/// (and `enforce_nonce`) when one is given.
pub fn message_body(d: &Digest, nonce: Option<&str>) -> Value {
    let mut body = json!({
        "embeds": [embed(d)],
        "allowed_mentions": no_mentions(),
    });
    if let (Some(n), Some(obj)) = (nonce, body.as_object_mut()) {
        obj.insert("nonce".into(), json!(n));
        obj.insert("enforce_nonce".into(), json!(true));
    }
    body
}

/// A nonce (≤ 25 characters, stable across restarts and releases) for a
/// post sent to one destination, so Discord drops a resend.
pub fn nonce(post_id: &str, destination: &str) -> String {
    // FNV-1a, 64-bit: fixed by its definition, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in post_id.bytes().chain([0]).chain(destination.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("ptt{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_show_markdown_as_written_but_keep_channel_mentions() {
        assert_eq!(
            reply_content("1. **漲停** <@&12> <#34> <#x> https://a.example/x_y_z"),
            "1. \\*\\*漲停\\*\\* \\<@&12> <#34> \\<#x> https://a.example/x_y_z"
        );
        assert!(reply_content(&"字".repeat(3000)).chars().count() <= MAX_CONTENT);
    }
}
