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

/// [`truncate_chars`] that never cuts a link: when the cut would fall in a
/// word holding `http://` or `https://`, the text is cut before that link
/// instead (a chat would show the start of a cut address as a dead link).
pub fn truncate_chars_keeping_links(s: &str, max: usize) -> String {
    truncate_keeping_links(s, max, |_| 1)
}

/// [`truncate_utf16`] that never cuts a link (see
/// [`truncate_chars_keeping_links`]).
pub fn truncate_utf16_keeping_links(s: &str, max: usize) -> String {
    truncate_keeping_links(s, max, char::len_utf16)
}

fn truncate_keeping_links(s: &str, max: usize, width: impl Fn(char) -> usize) -> String {
    let cut = truncate_by(s, max, &width);
    if cut == s {
        return cut;
    }
    let Some(kept) = cut.strip_suffix(ELLIPSIS) else {
        return cut;
    };
    // The word the cut ends in, and whether a link starts in it: a whole
    // link followed by more of the word is cut too, so the `…` never runs
    // on from an address either.
    let word_start = kept
        .char_indices()
        .rev()
        .find(|&(_, c)| is_link_separator(c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    // The whole word in `s`, so a link cut inside its scheme counts too.
    let rest = s.get(word_start..).unwrap_or_default();
    let word = rest.split(is_link_separator).next().unwrap_or_default();
    match crate::ptt::links::scheme_start(word) {
        Some(at) if word_start + at < kept.len() => {
            let mut out = kept[..word_start + at].trim_end().to_owned();
            out.push(ELLIPSIS);
            out
        }
        _ => cut,
    }
}

fn is_link_separator(c: char) -> bool {
    crate::ptt::links::is_separator(c)
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
    fn a_cut_never_falls_inside_a_link() {
        let s = "見 https://a.example/abcdef 後面";
        assert_eq!(truncate_chars_keeping_links(s, 10), "見…");
        assert_eq!(truncate_chars_keeping_links(s, 30), s);
        assert_eq!(
            truncate_chars_keeping_links(s, 28),
            "見 https://a.example/abcdef …"
        );
        assert_eq!(
            truncate_chars_keeping_links("(https://a.example/x)y", 10),
            "(…"
        );
        assert_eq!(
            truncate_utf16_keeping_links("😀 http://a.example/😀", 8),
            "😀…"
        );
        assert_eq!(truncate_chars_keeping_links("https://a.example/", 5), "…");
        assert_eq!(
            truncate_chars_keeping_links("plain words here", 8),
            "plain w…"
        );
    }

    #[test]
    fn whitespace_and_controls() {
        assert_eq!(collapse_whitespace("  a \u{3000}\n b  "), "a b");
        assert_eq!(strip_controls("a\u{1b}[31mb\nc"), "a[31mb c");
    }
}
