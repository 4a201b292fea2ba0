//! The console sink's rendering: a plain-text block, or one JSON line.

use super::Digest;
use crate::text::strip_controls;

/// One console block: a few lines, each ending with `\n`. PTT text is
/// stripped of control characters so a title cannot drive the terminal.
pub fn render(d: &Digest) -> String {
    let mut out = format!("[{}] {}\n", d.board, strip_controls(d.display_title()));
    if let Some(t) = &d.original_title {
        out.push_str(&format!("  原文標題：{}\n", strip_controls(t)));
    }
    if let Some(u) = &d.source_url {
        out.push_str(&format!("  原文連結：{}\n", strip_controls(u)));
    }
    if let Some(line) = d.hot_line() {
        out.push_str(&format!("  {line}\n"));
    }
    if let Some(line) = d.stocks_line() {
        out.push_str(&format!("  {}\n", strip_controls(&line)));
    }
    let byline = strip_controls(&d.byline());
    if byline.is_empty() {
        out.push_str(&format!("  {}\n", d.tally_line("  ")));
    } else {
        out.push_str(&format!("  {} · {}\n", d.tally_line("  "), byline));
    }
    out.push_str(&format!("  {}\n", d.url));
    out
}

/// The digest as one line of JSON (DESIGN.md's digest JSON).
pub fn render_json(d: &Digest) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| "{}".into())
}
