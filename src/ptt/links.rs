//! Where a web link in PTT text begins and ends.
//!
//! PTT's own linker (the `<a>` it writes around an address) takes everything
//! from `http://` or `https://` up to the next whitespace, Chinese characters
//! included. What a reader means is a little shorter: a sentence around the
//! address leaves its punctuation and a closing bracket next to it. So a link
//! is read as PTT reads it, then loses, from its end:
//! - sentence punctuation: `.,;:!?`, their full-width forms `．，；：！？`, the
//!   ideographic `。、`, and `」』）】>`;
//! - a closing `)` `]` `}` that has no opening partner inside the link
//!   (`…/TSMC_(company)` keeps its `)`, `(…/abc)` loses it).
//!
//! What is left must parse as an http(s) URL with a host (`url` crate); the
//! link is that URL as the `url` crate writes it: Chinese text in the path
//! percent-encoded, an IDN host in punycode, so it is a valid href anywhere.
//!
//! Every function here is linear in its input's length: each
//! whitespace-separated word is searched once for a scheme, trimmed once and
//! parsed at most once (a line of ten thousand `http://[` is ten thousand
//! failed parses of eight bytes each, not ten thousand scans of the line).
//! The rule is DESIGN.md's ("Digest JSON", `source_url`).

/// A link PTT wrote into an article's body: an `<a>` element's `href`
/// attribute and its text, as the page has them (entities decoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PageLink {
    /// The `href` attribute.
    pub href: String,
    /// The element's text.
    pub text: String,
}

/// A link found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundLink<'a> {
    /// The text as PTT's linker reads it: from the scheme to the next
    /// whitespace (or the end), before any trimming.
    pub raw: &'a str,
    /// The link, trimmed and parsed, as the `url` crate serialises it.
    pub url: String,
}

/// Characters that end a sentence or a quotation rather than an address:
/// dropped from a link's end.
pub const TRAILING_PUNCTUATION: &[char] = &[
    '.', ',', ';', ':', '!', '?', '．', '，', '；', '：', '！', '？', '。', '、', '」', '』', '）',
    '】', '>',
];

/// Bracket pairs whose closing half leaves a link's end when the link holds
/// fewer opening halves than closing ones.
const BRACKETS: &[(char, char)] = &[
    ('(', ')'),
    ('[', ']'),
    ('{', '}'),
    ('（', '）'),
    ('【', '】'),
    ('「', '」'),
    ('『', '』'),
    ('<', '>'),
];

/// The first web link in `text`: the first whitespace-separated word holding
/// `http://` or `https://` (any case) whose link, from there to the word's
/// end, trimmed by [`trim_end`], parses as a [`web_url`]. Only the first
/// scheme in a word is tried (PTT's linker links from it to the word's end).
pub fn first_link(text: &str) -> Option<FoundLink<'_>> {
    text.split(is_separator).find_map(|word| {
        let start = scheme_start(word)?;
        let raw = word.get(start..)?;
        let url = web_url(trim_end(raw))?;
        Some(FoundLink { raw, url })
    })
}

/// A link from an `href` PTT wrote: trimmed like text (PTT's linker put a
/// sentence's final `.` inside the `href` too) and parsed as a [`web_url`].
pub fn link_from_href(href: &str) -> Option<String> {
    web_url(trim_end(href.trim()))
}

/// Whether `c` ends a link: whitespace (the full-width space included) or a
/// control character.
pub fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// The byte offset of the first `http://` or `https://` in `word`, any case.
pub fn scheme_start(word: &str) -> Option<usize> {
    let bytes = word.as_bytes();
    (0..bytes.len()).find(|&i| {
        let rest = &bytes[i..];
        let starts = |p: &[u8]| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
        starts(b"http://") || starts(b"https://")
    })
}

/// `s` without trailing [`TRAILING_PUNCTUATION`] and unmatched closing
/// brackets, repeatedly (`(see https://a.example/x).` loses `).`). Linear:
/// the bracket balance is counted once, then kept up to date as characters
/// leave the end.
pub fn trim_end(s: &str) -> &str {
    let mut balance = [0i64; BRACKETS.len()];
    for c in s.chars() {
        for (i, &(open, close)) in BRACKETS.iter().enumerate() {
            if c == open {
                balance[i] += 1;
            } else if c == close {
                balance[i] -= 1;
            }
        }
    }
    let mut end = s;
    while let Some(c) = end.chars().next_back() {
        let pair = BRACKETS.iter().position(|&(_, close)| close == c);
        let unmatched = pair.is_some_and(|i| balance[i] < 0);
        if !(unmatched || TRAILING_PUNCTUATION.contains(&c)) {
            break;
        }
        if let Some(i) = pair {
            balance[i] += 1;
        }
        end = &end[..end.len() - c.len_utf8()];
    }
    end
}

/// `s` parsed as an absolute http(s) URL with a non-empty host, serialised by
/// the `url` crate (ASCII only); `None` when it does not parse, or when the
/// serialisation would end in [`TRAILING_PUNCTUATION`] (so a link never
/// does).
pub fn web_url(s: &str) -> Option<String> {
    let url = url::Url::parse(s).ok()?;
    let web = matches!(url.scheme(), "http" | "https");
    if !web || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let out = String::from(url);
    let ends_in_punctuation = out
        .chars()
        .next_back()
        .is_some_and(|c| TRAILING_PUNCTUATION.contains(&c));
    (!ends_in_punctuation).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(text: &str) -> Option<String> {
        first_link(text).map(|f| f.url)
    }

    #[test]
    fn a_link_runs_to_whitespace_with_cjk_inside() {
        assert_eq!(
            link("https://tw.stock.yahoo.com/news/台積電法說會前夕-外資連三買超-023015123.html 後面"),
            Some("https://tw.stock.yahoo.com/news/%E5%8F%B0%E7%A9%8D%E9%9B%BB%E6%B3%95%E8%AA%AA%E6%9C%83%E5%89%8D%E5%A4%95-%E5%A4%96%E8%B3%87%E9%80%A3%E4%B8%89%E8%B2%B7%E8%B6%85-023015123.html".into())
        );
        assert_eq!(
            link("見https://tinyurl.com/abc。"),
            Some("https://tinyurl.com/abc".into())
        );
        assert_eq!(
            link("a\u{3000}https://a.example/x\u{3000}b"),
            Some("https://a.example/x".into())
        );
    }

    #[test]
    fn trailing_punctuation_and_unmatched_brackets_leave_the_end() {
        assert_eq!(
            trim_end("https://tinyurl.com/2p8abcd)"),
            "https://tinyurl.com/2p8abcd"
        );
        assert_eq!(trim_end("https://a.example/1."), "https://a.example/1");
        assert_eq!(trim_end("https://a.example/1).」"), "https://a.example/1");
        assert_eq!(
            trim_end("https://a.example/x?a=1&b=2!?"),
            "https://a.example/x?a=1&b=2"
        );
        assert_eq!(trim_end("https://a.example/x，"), "https://a.example/x");
        assert_eq!(trim_end("https://a.example/x。"), "https://a.example/x");
        assert_eq!(trim_end("https://a.example/x>"), "https://a.example/x");
        assert_eq!(trim_end("https://a.example/x】"), "https://a.example/x");
        assert_eq!(
            trim_end("https://en.wikipedia.org/wiki/TSMC_(company)"),
            "https://en.wikipedia.org/wiki/TSMC_(company)"
        );
        assert_eq!(
            trim_end("https://en.wikipedia.org/wiki/TSMC_(company))."),
            "https://en.wikipedia.org/wiki/TSMC_(company)"
        );
        assert_eq!(trim_end("https://a.example/x[1]"), "https://a.example/x[1]");
        assert_eq!(trim_end("https://a.example/x]"), "https://a.example/x");
        assert_eq!(trim_end(")))"), "");
        assert_eq!(trim_end(""), "");
    }

    #[test]
    fn only_http_urls_with_a_host_that_parse() {
        assert_eq!(
            link("http:// 壞的 HTTPS://Example.COM/Path?q=1 後面"),
            Some("https://example.com/Path?q=1".into())
        );
        assert_eq!(link("https://a.example:99999/ ftp://x.example/"), None);
        assert_eq!(link("h ht http https:/ javascript:alert(1)"), None);
        assert_eq!(link("http://[http://[http://["), None);
        assert_eq!(
            link("https://例子.台灣/路徑"),
            Some("https://xn--fsqu00a.xn--kpry57d/%E8%B7%AF%E5%BE%91".into())
        );
    }

    #[test]
    fn hrefs_are_trimmed_like_text() {
        assert_eq!(
            link_from_href(" https://news.example.com.tw/a/20261130123. "),
            Some("https://news.example.com.tw/a/20261130123".into())
        );
        assert_eq!(link_from_href("javascript:alert(1)"), None);
        assert_eq!(link_from_href("/bbs/Stock/index.html"), None);
    }
}
