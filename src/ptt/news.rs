//! The fields of a news post, from the Stock board's template (原文標題,
//! 原文連結, 發布時間, 記者署名, 原文內容, 心得/評論) and its older variants.

use super::links::{self, PageLink};

/// What the news template of a post says. Missing sections are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewsFields {
    /// 原文標題, a title wrapped over lines joined.
    pub original_title: Option<String>,
    /// The first http(s) URL of the 原文連結 section: the `href` where PTT
    /// linked it, else the text as PTT's linker reads it, trimmed (see
    /// [`links`](super::links)); it parses as a URL, is serialised by the
    /// `url` crate (ASCII, percent-encoded) and has at most
    /// [`MAX_SOURCE_URL_CHARS`] characters.
    pub source_url: Option<String>,
    /// 發布時間, as written.
    pub published: Option<String>,
    /// 記者署名, as written.
    pub reporter: Option<String>,
    /// 原文內容, whitespace collapsed, at most 300 characters, cut with `…`.
    pub excerpt: Option<String>,
    /// 心得/評論, whitespace collapsed, at most 300 characters, cut with `…`.
    pub comment: Option<String>,
}

/// The longest [`NewsFields::source_url`], in characters: a longer one is
/// `None` (DESIGN.md, "Bounds").
pub const MAX_SOURCE_URL_CHARS: usize = 2048;

/// The most characters [`NewsFields::excerpt`] and [`NewsFields::comment`]
/// hold, the closing `…` of a cut text included.
pub const EXCERPT_MAX_CHARS: usize = 300;

/// Extracts the news fields from an article body (as in
/// [`Article::body`](super::Article::body)). Quoted lines of a reply
/// (`: …`, `※ 引述…`) are not read. Never panics.
///
/// The rules:
/// - A section starts with a label at the start of a line, after optional
///   numbering (`1.`, `２、`) and whitespace, followed by optional
///   parenthesised hints (`(必須檢附)`, `（…）`) and `：` or `:`. Text after
///   the colon is the first line of the value. A section runs until the next
///   label, the signature line `--`, or the end. Sections may be missing or
///   in any order; when one appears twice the first that yields a value wins.
/// - Labels: 原文標題, 原文連結, 發布時間 (also 發佈時間), 記者署名, 原文內容,
///   心得/評論 (also 心得／評論, 心得), and the older 媒體來源 (read but
///   ignored), 完整新聞標題, 完整新聞連結, 完整新聞內文, 備註.
/// - Lines starting with `※` (the template's hints, a reply's `※ 引述`) and
///   lines starting with `:` (a reply's quote) are skipped everywhere.
/// - `original_title`, `published`, `reporter`: the first paragraph of the
///   section (its first non-blank lines up to a blank line), each line
///   trimmed. Wrapped lines are joined with one space, or with nothing when
///   the break falls between two CJK characters (Chinese text has no spaces
///   between words; Hangul is not joined this way).
/// - `source_url`: the first link of the 原文連結 section, read as
///   [`links`](super::links) says (to whitespace, CJK included, without
///   trailing punctuation or an unmatched closing bracket), or the `href` of
///   PTT's `<a>` around it; `None` over [`MAX_SOURCE_URL_CHARS`].
/// - `excerpt`, `comment`: the whole section with every run of whitespace
///   (full-width space `\u{3000}` included) collapsed to one space, at most
///   [`EXCERPT_MAX_CHARS`] characters, cut with `…`.
/// - Empty values are `None`.
pub fn extract_news(body: &str) -> NewsFields {
    extract_news_linked(body, &[])
}

/// [`extract_news`], with the links PTT wrote into the body (as in
/// [`Article::links`](super::Article::links)): a `source_url` PTT linked is
/// read from its `href`.
pub fn extract_news_linked(body: &str, page_links: &[PageLink]) -> NewsFields {
    let mut fields = NewsFields::default();
    for section in sections(body) {
        let lines = &section.lines;
        match section.field {
            Field::Title => set_once(&mut fields.original_title, || first_paragraph(lines)),
            Field::Url => set_once(&mut fields.source_url, || source_url(lines, page_links)),
            Field::Published => set_once(&mut fields.published, || first_paragraph(lines)),
            Field::Reporter => set_once(&mut fields.reporter, || first_paragraph(lines)),
            Field::Content => set_once(&mut fields.excerpt, || collapsed(lines)),
            Field::Comment => set_once(&mut fields.comment, || collapsed(lines)),
            Field::Ignored => {}
        }
    }
    fields
}

/// Which field a section feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Url,
    Published,
    Reporter,
    Content,
    Comment,
    /// A known label whose value is not kept (媒體來源): it still ends the
    /// section before it.
    Ignored,
}

/// Section labels, current Stock template first, then the older variant.
const LABELS: &[(&str, Field)] = &[
    ("原文標題", Field::Title),
    ("原文連結", Field::Url),
    ("發布時間", Field::Published),
    ("發佈時間", Field::Published),
    ("記者署名", Field::Reporter),
    ("原文內容", Field::Content),
    ("心得/評論", Field::Comment),
    ("心得／評論", Field::Comment),
    ("心得", Field::Comment),
    ("媒體來源", Field::Ignored),
    ("完整新聞標題", Field::Title),
    ("完整新聞內文", Field::Content),
    ("完整新聞連結", Field::Url),
    ("備註", Field::Comment),
];

/// One labelled section: the text after the label's colon, then the
/// following lines (hints and quotes removed, blank lines kept as `""`).
struct Section<'a> {
    field: Field,
    lines: Vec<&'a str>,
}

fn sections(body: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    let mut open = false;
    for line in body.lines() {
        let start = line.trim_start();
        if start.starts_with('※') || start.starts_with(':') {
            continue;
        }
        if start.trim_end() == "--" {
            open = false;
            continue;
        }
        if let Some((field, rest)) = label(start) {
            // A hint written after the colon (`原文標題：※請勿刪減…`) is no value.
            let rest = rest.trim();
            let first = if rest.starts_with('※') { "" } else { rest };
            out.push(Section {
                field,
                lines: vec![first],
            });
            open = true;
        } else if open && let Some(section) = out.last_mut() {
            section.lines.push(line.trim());
        }
    }
    out
}

/// Reads a section label at the start of `line` (already left-trimmed):
/// the field and the text after the colon.
fn label(line: &str) -> Option<(Field, &str)> {
    let rest = strip_numbering(line);
    LABELS.iter().find_map(|&(name, field)| {
        let after = rest.strip_prefix(name)?;
        Some((field, after_hints_and_colon(after)?))
    })
}

/// `1.`, `12、`, `３．` followed by optional whitespace; digits without such
/// a mark are not numbering.
fn strip_numbering(s: &str) -> &str {
    let digits = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || ('０'..='９').contains(&c)))
        .map_or(s.len(), |(i, _)| i);
    if digits == 0 {
        return s;
    }
    s.get(digits..)
        .and_then(|r| r.strip_prefix(['.', '．', '、']))
        .map_or(s, str::trim_start)
}

/// Skips `(hint)` / `（hint）` groups and whitespace, then requires `:` or
/// `：`; returns what follows the colon.
fn after_hints_and_colon(mut s: &str) -> Option<&str> {
    loop {
        s = s.trim_start();
        if let Some(inner) = s.strip_prefix(['(', '（']) {
            let close = inner.find([')', '）'])?;
            let close_len = inner.get(close..)?.chars().next()?.len_utf8();
            s = inner.get(close + close_len..)?;
        } else {
            return s.strip_prefix([':', '：']);
        }
    }
}

fn set_once(slot: &mut Option<String>, value: impl FnOnce() -> Option<String>) {
    if slot.is_none() {
        *slot = value();
    }
}

/// The first non-blank run of lines, joined (see [`join_wrapped`]).
fn first_paragraph(lines: &[&str]) -> Option<String> {
    let mut joined = String::new();
    for line in lines.iter().skip_while(|l| l.is_empty()) {
        if line.is_empty() {
            break;
        }
        join_wrapped(&mut joined, line);
    }
    (!joined.is_empty()).then_some(joined)
}

/// Appends a wrapped line: no space between two CJK characters, else one.
fn join_wrapped(out: &mut String, line: &str) {
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    let glue = match (out.chars().next_back(), line.chars().next()) {
        (None, _) => false,
        (Some(a), Some(b)) => !(joins_tight(a) && joins_tight(b)),
        (Some(_), None) => false,
    };
    if glue {
        out.push(' ');
    }
    out.push_str(line);
}

/// Characters written without spaces between words: CJK ideographs, kana,
/// CJK and full-width punctuation (not Hangul, which uses spaces).
fn joins_tight(c: char) -> bool {
    is_wide(c) && !is_hangul(c)
}

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' | '\u{AC00}'..='\u{D7AF}')
}

/// East Asian wide and full-width characters.
fn is_wide(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{115F}'
        | '\u{2E80}'..='\u{303E}'
        | '\u{3041}'..='\u{33FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{A000}'..='\u{A4CF}'
        | '\u{AC00}'..='\u{D7A3}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FF60}'
        | '\u{FFE0}'..='\u{FFE6}'
        | '\u{20000}'..='\u{3FFFD}'
    )
}

/// The source link of a 原文連結 section: its first link in text
/// ([`links::first_link`]); when PTT linked that text (a [`PageLink`] whose
/// text the found link starts with), the `href` of PTT's link instead. A link
/// over [`MAX_SOURCE_URL_CHARS`] is `None` (DESIGN.md, "Bounds").
///
/// Only the one found link is looked up among the page's links, so the
/// whole is linear in the section's and the links' length.
fn source_url(lines: &[&str], page_links: &[PageLink]) -> Option<String> {
    let found = lines.iter().find_map(|line| links::first_link(line))?;
    let url = page_links
        .iter()
        .filter(|l| {
            let text = l.text.trim();
            links::scheme_start(text) == Some(0) && found.raw.starts_with(text)
        })
        .find_map(|l| links::link_from_href(&l.href))
        .unwrap_or(found.url);
    (url.chars().count() <= MAX_SOURCE_URL_CHARS).then_some(url)
}

/// All lines, whitespace collapsed, cut to [`EXCERPT_MAX_CHARS`].
fn collapsed(lines: &[&str]) -> Option<String> {
    let text = lines
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then(|| cut(text, EXCERPT_MAX_CHARS))
}

/// At most `max` characters; a longer text keeps `max − 1` of them (trailing
/// whitespace dropped) and ends with `…`.
fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    let kept = out.trim_end().len();
    out.truncate(kept);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_with_numbering_hints_and_either_colon() {
        assert_eq!(label("原文標題：x"), Some((Field::Title, "x")));
        assert_eq!(label("1.原文連結(必須檢附)：a"), Some((Field::Url, "a")));
        assert_eq!(label("4.完整新聞連結 (或短網址):"), Some((Field::Url, "")));
        assert_eq!(
            label("２、心得／評論（必填）: c"),
            Some((Field::Comment, " c"))
        );
        assert_eq!(label("原文標題 沒有冒號"), None);
        assert_eq!(label("原文標題（沒關的括號："), None);
        assert_eq!(label("12原文標題："), None);
        assert_eq!(label("心得感想：x"), None);
    }

    #[test]
    fn wrapped_titles_join_with_a_space_except_between_cjk() {
        let f = extract_news(
            "原文標題：\nExclusive: Example Corp wins\napproval to ship chips\n\n原文連結：",
        );
        assert_eq!(
            f.original_title.as_deref(),
            Some("Exclusive: Example Corp wins approval to ship chips")
        );
        let f = extract_news("原文標題：\n外資連三賣　台股\n失守季線\n");
        assert_eq!(
            f.original_title.as_deref(),
            Some("外資連三賣　台股失守季線")
        );
        let f = extract_news("原文標題：台積電ADR\n大漲5%\n");
        assert_eq!(f.original_title.as_deref(), Some("台積電ADR 大漲5%"));
    }

    #[test]
    fn hints_after_the_colon_and_on_their_own_line_are_skipped() {
        let f = extract_news(
            "原文標題：※請勿刪減原文標題\n真正的標題\n記者署名：※原文無記載者得留空\n\n原文內容：\n內容",
        );
        assert_eq!(f.original_title.as_deref(), Some("真正的標題"));
        assert_eq!(f.reporter, None);
        assert_eq!(f.excerpt.as_deref(), Some("內容"));
    }

    #[test]
    fn older_template_maps_to_the_same_fields() {
        let body = "1.媒體來源:\n範例日報\n2.完整新聞標題:\n範例公司宣布擴廠\n3.完整新聞內文:\n範例公司今天宣布，\n將在南部擴廠。\n4.完整新聞連結 (或短網址):\nhttp://news.example.com/a/1\n5.備註:\n投資人觀望\n--\n簽名檔";
        let f = extract_news(body);
        assert_eq!(f.original_title.as_deref(), Some("範例公司宣布擴廠"));
        assert_eq!(
            f.excerpt.as_deref(),
            Some("範例公司今天宣布， 將在南部擴廠。")
        );
        assert_eq!(f.source_url.as_deref(), Some("http://news.example.com/a/1"));
        assert_eq!(f.comment.as_deref(), Some("投資人觀望"));
        assert_eq!(f.published, None);
        assert_eq!(f.reporter, None);
    }

    #[test]
    fn quoted_template_is_not_read_but_own_template_is() {
        let body = "※ 引述《someone (某人)》之銘言：\n: 原文標題：引用的標題\n: 原文連結：https://quoted.example.com/\n\n原文標題：自己的標題\n原文連結：https://own.example.com/x\n";
        let f = extract_news(body);
        assert_eq!(f.original_title.as_deref(), Some("自己的標題"));
        assert_eq!(f.source_url.as_deref(), Some("https://own.example.com/x"));
    }

    fn first_url(lines: &[&str]) -> Option<String> {
        source_url(lines, &[])
    }

    #[test]
    fn urls_run_to_whitespace_lose_trailing_punctuation_and_must_parse() {
        assert_eq!(
            first_url(&["見https://tinyurl.com/abc。 謝謝"]),
            Some("https://tinyurl.com/abc".to_owned())
        );
        assert_eq!(
            first_url(&["http:// 壞的", "HTTPS://Example.COM/Path?q=1 後面"]),
            Some("https://example.com/Path?q=1".to_owned())
        );
        assert_eq!(
            first_url(&["https://a.example:99999/", "ftp://x.example/"]),
            None
        );
        assert_eq!(first_url(&["h", "ht", "http", "https:/"]), None);
    }

    #[test]
    fn the_href_of_ptts_link_wins_over_its_text() {
        let page = [PageLink {
            href: "https://a.example/x?a=1&b=2".into(),
            text: "https://a.example/x?a=1&b=2".into(),
        }];
        assert_eq!(
            source_url(&["(https://a.example/x?a=1&b=2)"], &page),
            Some("https://a.example/x?a=1&b=2".to_owned())
        );
        // A link elsewhere on the page with other text is not this one.
        let other = [PageLink {
            href: "https://other.example/".into(),
            text: "https://other.example/".into(),
        }];
        assert_eq!(
            source_url(&["https://a.example/y"], &other),
            Some("https://a.example/y".to_owned())
        );
    }

    #[test]
    fn a_source_url_over_the_bound_is_none() {
        let at = format!(
            "https://a.example/{}",
            "a".repeat(MAX_SOURCE_URL_CHARS - 18)
        );
        assert_eq!(at.len(), MAX_SOURCE_URL_CHARS);
        assert_eq!(first_url(&[&at]), Some(at.clone()));
        let over = format!("{at}b");
        assert_eq!(first_url(&[&over]), None);
    }

    #[test]
    fn cut_counts_chars_and_the_ellipsis() {
        let long = "字".repeat(301);
        let c = cut(long, 300);
        assert_eq!(c.chars().count(), 300);
        assert!(c.ends_with("字…"));
        assert_eq!(cut("短".to_owned(), 300), "短");
        assert_eq!(cut("a".repeat(300), 300).chars().count(), 300);
        assert!(!cut("a".repeat(300), 300).ends_with('…'));
    }
}
