//! Small text helpers shared by the parsers and the renderers.

/// The ellipsis every cut ends with.
pub const ELLIPSIS: char = '…';

/// Collapses every run of whitespace (including the full-width space
/// U+3000) into one ASCII space and trims the ends.
pub fn collapse_whitespace(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\u{3000}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Cuts `s` to at most `max` characters (code points), ending with `…` when
/// it was cut; the `…` counts within `max`.
pub fn truncate_chars(s: &str, max: usize) -> String {
    truncate_by(s, max, |_| 1)
}

/// Cuts `s` to at most `max` UTF-16 code units (how Telegram counts),
/// ending with `…` when it was cut; the `…` counts within `max`.
pub fn truncate_utf16(s: &str, max: usize) -> String {
    truncate_by(s, max, char::len_utf16)
}

fn truncate_by(s: &str, max: usize, width: impl Fn(char) -> usize) -> String {
    let total: usize = s.chars().map(&width).sum();
    if total <= max {
        return s.to_owned();
    }
    let budget = max.saturating_sub(width(ELLIPSIS));
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        let w = width(c);
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    if max >= width(ELLIPSIS) {
        out.push(ELLIPSIS);
    }
    out
}

/// Length in UTF-16 code units.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Removes control characters (terminal escapes, NULs) from PTT-supplied
/// text; newlines and tabs become spaces.
pub fn strip_controls(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' | '\t' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_the_ellipsis_and_keeps_characters_whole() {
        assert_eq!(truncate_chars("台積電法說會", 4), "台積電…");
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 0), "");
        // An emoji is two UTF-16 units and is never split.
        assert_eq!(truncate_utf16("ab😀cd", 4), "ab…");
        assert_eq!(utf16_len("ab😀"), 4);
    }

    #[test]
    fn whitespace_and_controls() {
        assert_eq!(collapse_whitespace("  a \u{3000}\n b  "), "a b");
        assert_eq!(strip_controls("a\u{1b}[31mb\nc"), "a[31mb c");
    }
}
