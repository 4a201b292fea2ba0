//! Telegram rendering: the `text` of a sendMessage call in HTML parse mode.
//!
//! Every PTT-supplied string is escaped (`&`, `<`, `>`, and `"` in
//! attributes); the message never exceeds Telegram's 4096 UTF-16 code units
//! after entity parsing: the excerpt is cut first, at a character boundary,
//! with `…`. A link is never cut (DESIGN.md, "Messages"): the source link's
//! `href` is the whole address, percent-encoded, and its text the readable
//! address (or its host when that is long); a cut in PTT text falls before a
//! link written there, never inside it.

use crate::digest::ranking::{Leaderboard, ranked_title};
use crate::digest::{Digest, links};
use crate::text::{
    strip_controls, truncate_chars, truncate_chars_keeping_links, truncate_utf16_keeping_links,
    utf16_len,
};

/// The longest readable source address shown as the link's text, in
/// characters; a longer one shows its host (the `href` is whole either way).
pub const MAX_LINK_TEXT: usize = 120;

/// Telegram's limit for a message text, after entity parsing.
pub const MAX_TEXT_UTF16: usize = 4096;

/// Escapes text for Telegram HTML (element content and attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `<a href="…">text</a>`, with both parts escaped (unlike teloxide's
/// `html::link`, which leaves `"` in the href).
pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", escape(href), escape(text))
}

/// The visible length of HTML we generated: tags removed, our four entities
/// counted as one character each. Only valid for output of this module.
pub fn visible_utf16_len(html: &str) -> usize {
    let mut len = 0;
    let mut chars = html.chars();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                }
            }
            '&' => {
                for c in chars.by_ref() {
                    if c == ';' {
                        break;
                    }
                }
                len += 1;
            }
            c => len += c.len_utf16(),
        }
    }
    len
}

/// The text of a source link: the readable address, or its host when the
/// address is longer than [`MAX_LINK_TEXT`] (never a cut address).
fn link_text(href: &str) -> String {
    let text = strip_controls(&links::readable(href));
    if text.chars().count() <= MAX_LINK_TEXT {
        return text;
    }
    url::Url::parse(href)
        .ok()
        .and_then(|u| u.host_str().map(links::readable_host))
        .unwrap_or_else(|| "原文".to_owned())
}

/// The message text of a `top:N` leaderboard: the heading in bold, then
/// one line a post (`1. 推 24 噓 3 → 15 (+21)` and the title linking to the
/// post). Lines that would pass Telegram's limit are left out, last first.
pub fn leaderboard(b: &Leaderboard) -> String {
    let mut out = format!("<b>{}</b>", escape(&strip_controls(&b.heading)));
    for (i, d) in b.posts.iter().enumerate() {
        let line = format!(
            "\n{}. {} ({:+}) {}",
            i + 1,
            d.tally_line(" "),
            d.tally.net,
            link(&d.url, &ranked_title(d))
        );
        if visible_utf16_len(&out) + visible_utf16_len(&line) > MAX_TEXT_UTF16 {
            break;
        }
        out.push_str(&line);
    }
    out
}

/// The message text for a digest.
pub fn render(d: &Digest) -> String {
    render_with_status(d, None)
}

/// The message text, with an optional status line (e.g. that the post was
/// deleted on PTT) above the rest.
pub fn render_with_status(d: &Digest, status: Option<&str>) -> String {
    let title = truncate_chars_keeping_links(&strip_controls(d.display_title()), 300);
    let mut head = String::new();
    if let Some(s) = status {
        head.push_str(&format!("<b>{}</b>\n", escape(s)));
    }
    head.push_str(&format!("<b>{}</b>\n", link(&d.url, &title)));
    if let Some(t) = &d.original_title {
        let t = truncate_chars_keeping_links(&strip_controls(t), 500);
        head.push_str(&format!("原文標題：{}\n", escape(&t)));
    }
    if let Some(href) = d.source_url.as_deref().and_then(links::href) {
        head.push_str(&format!("原文連結：{}\n", link(&href, &link_text(&href))));
    }
    if let Some(line) = d.hot_line() {
        head.push_str(&format!("{}\n", escape(&line)));
    }
    if let Some(line) = d.stocks_line() {
        head.push_str(&format!("{}\n", escape(&strip_controls(&line))));
    }
    head.push_str(&format!("{}\n", d.tally_line(" ")));
    let byline = strip_controls(&d.byline());
    let tail = if byline.is_empty() {
        format!("#{}", d.board)
    } else {
        format!("{} · #{}", escape(&truncate_chars(&byline, 200)), d.board)
    };
    let mut out = head + &tail;
    if let Some(excerpt) = &d.excerpt {
        let excerpt = strip_controls(excerpt);
        let used = visible_utf16_len(&out) + utf16_len("\n\n");
        let room = MAX_TEXT_UTF16.saturating_sub(used);
        if room > 1 && !excerpt.trim().is_empty() {
            let cut = truncate_utf16_keeping_links(&excerpt, room);
            out.push_str(&format!("\n\n<blockquote>{}</blockquote>", escape(&cut)));
        }
    }
    out
}
