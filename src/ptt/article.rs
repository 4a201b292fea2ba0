//! Article pages (`/bbs/<Board>/M.<epoch>.A.<hex>.html`).
//!
//! The page is read with `scraper`: the metalines (`div.article-metaline`,
//! `div.article-metaline-right`), the push lines (`div.push`), and the body,
//! which is every other piece of text inside `#main-content`. The walk over
//! the tree is iterative, so a deeply nested (hostile) page cannot exhaust
//! the stack.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset};
use scraper::{ElementRef, Html, Node, Selector};

use super::ids::{Board, PostId};
use super::links::{self, PageLink};
use super::time::parse_asctime;

/// The kind of a push line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// 推
    Push,
    /// 噓
    Boo,
    /// →
    Neutral,
}

impl PushKind {
    /// Reads a `span.push-tag` text (`推`, `噓`, `→`, surrounding whitespace
    /// ignored); anything else is `None`.
    pub fn from_tag(tag: &str) -> Option<PushKind> {
        match tag.trim() {
            "推" => Some(PushKind::Push),
            "噓" => Some(PushKind::Boo),
            "→" => Some(PushKind::Neutral),
            _ => None,
        }
    }
}

/// One push (推文) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// 推, 噓 or →.
    pub kind: PushKind,
    /// The pusher's user id.
    pub user: String,
    /// The text, without the leading `: `.
    pub content: String,
    /// `push-ipdatetime`, trimmed (`07/04 13:49`, or with an IP first).
    pub ip_time: String,
}

/// Reaction counts: 推 push, 噓 boo, → neutral; net = push − boo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// 推
    pub push: u32,
    /// 噓
    pub boo: u32,
    /// →
    pub neutral: u32,
    /// push − boo
    pub net: i64,
    /// push + boo + neutral
    pub total: u32,
}

impl Tally {
    /// Counts push lines.
    pub fn count(pushes: &[Push]) -> Tally {
        let mut t = Tally::default();
        for p in pushes {
            match p.kind {
                PushKind::Push => t.push += 1,
                PushKind::Boo => t.boo += 1,
                PushKind::Neutral => t.neutral += 1,
            }
        }
        t.net = i64::from(t.push) - i64::from(t.boo);
        t.total = t.push + t.boo + t.neutral;
        t
    }
}

/// A parsed article page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Article {
    /// 作者 metaline: the user id, without the nickname.
    pub author: Option<String>,
    /// 作者 metaline: the nickname inside the parentheses (may be empty).
    pub nickname: Option<String>,
    /// 看板 metaline.
    pub board: Option<String>,
    /// 標題 metaline, else `<title>` (without ` - 看板 X - 批踢踢實業坊`) or og:title.
    pub title: Option<String>,
    /// 時間 metaline, read as +08:00.
    pub posted_at: Option<DateTime<FixedOffset>>,
    /// `<link rel="canonical">` href.
    pub canonical_link: Option<String>,
    /// The last `※ 文章網址:` URL.
    pub article_url_line: Option<String>,
    /// The body text (between the metalines and the push lines, without the
    /// `※ 發信站` / `※ 文章網址` / `※ 編輯` lines), lines joined with `\n`.
    pub body: String,
    /// Push lines in page order.
    pub pushes: Vec<Push>,
    /// The `<a>` elements of the body whose `href` is an http(s) address, in
    /// page order: PTT links each address it finds in the text, and its
    /// `href` is where a link really ends.
    pub links: Vec<PageLink>,
    /// `※ 編輯:` lines, trimmed, in page order.
    pub edits: Vec<String>,
}

impl Article {
    /// The reaction tally of the push lines.
    pub fn tally(&self) -> Tally {
        Tally::count(&self.pushes)
    }

    /// The board and id this page is, from `<link rel=canonical>`, else the
    /// last `※ 文章網址` line.
    pub fn board_and_id(&self) -> Option<(Board, PostId)> {
        [&self.canonical_link, &self.article_url_line]
            .into_iter()
            .flatten()
            .find_map(|u| board_and_id_from_url(u))
    }
}

/// Reads `(board, id)` from a URL or path `…/bbs/<Board>/M.<e>.A.<h>.html`.
pub fn board_and_id_from_url(url: &str) -> Option<(Board, PostId)> {
    let path = url.split(['?', '#']).next()?;
    let mut parts = path.rsplit('/');
    let file = parts.next()?;
    let board = parts.next()?;
    if parts.next()? != "bbs" {
        return None;
    }
    let id = PostId::parse(file.strip_suffix(".html")?)?;
    Some((Board::parse(board)?, id))
}

/// Parses an article page. Never panics; returns `None` when the page is not
/// an article at all (no `#main-content`).
///
/// What is read, and from where:
/// - `author`/`nickname`, `board`, `title`, `posted_at`: the metalines (作者
///   `userid (nickname)`, 看板, 標題, 時間). A page without a 標題 metaline
///   takes its title from `<title>` (without ` - 看板 X - 批踢踢實業坊`), else
///   from `og:title`.
/// - `body`: the text of `#main-content` without the metalines, the push
///   lines, image previews (`div.richcontent`) and the `※ 發信站` /
///   `※ 文章網址` / `※ 編輯` lines. Each line loses its trailing whitespace;
///   blank lines at the start and the end are dropped. Quotes of a reply
///   (`※ 引述…`, `: …`) stay, and so does text the author added among the
///   push lines (an edit on PTT can append lines after them).
/// - `pushes`: each `div.push` with a 推/噓/→ tag, in page order; other
///   `div.push` elements (PTT's warning boxes) are skipped.
/// - `links`: the `<a href="http…">` elements met while reading `body`,
///   with their direct text.
pub fn parse_article(html: &str) -> Option<Article> {
    let doc = Html::parse_document(html);
    let main = doc.select(&MAIN_CONTENT).next()?;

    let mut article = Article::default();
    read_metalines(main, &mut article);

    let raw = walk_main_content(main, &mut article.pushes, &mut article.links);
    split_body(&raw, &mut article);

    if article.title.is_none() {
        article.title = doc
            .select(&TITLE)
            .next()
            .and_then(|t| non_empty(strip_site_suffix(&t.text().collect::<String>())))
            .or_else(|| {
                doc.select(&OG_TITLE)
                    .next()
                    .and_then(|m| m.attr("content"))
                    .and_then(non_empty)
            });
    }
    article.canonical_link = doc
        .select(&CANONICAL)
        .next()
        .and_then(|l| l.attr("href"))
        .and_then(non_empty);
    Some(article)
}

/// Compiles a selector written in this file; the texts are constants, so a
/// failure is a bug caught by the first test that parses a page.
fn selector(css: &str) -> Selector {
    #[allow(clippy::expect_used)]
    Selector::parse(css).expect("constant selector is valid CSS")
}

static MAIN_CONTENT: LazyLock<Selector> = LazyLock::new(|| selector("#main-content"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("title"));
static OG_TITLE: LazyLock<Selector> = LazyLock::new(|| selector(r#"meta[property="og:title"]"#));
static CANONICAL: LazyLock<Selector> = LazyLock::new(|| selector(r#"link[rel="canonical"]"#));
static METALINE: LazyLock<Selector> =
    LazyLock::new(|| selector("div.article-metaline, div.article-metaline-right"));
static META_TAG: LazyLock<Selector> = LazyLock::new(|| selector("span.article-meta-tag"));
static META_VALUE: LazyLock<Selector> = LazyLock::new(|| selector("span.article-meta-value"));
static PUSH_TAG: LazyLock<Selector> = LazyLock::new(|| selector("span.push-tag"));
static PUSH_USER: LazyLock<Selector> = LazyLock::new(|| selector("span.push-userid"));
static PUSH_CONTENT: LazyLock<Selector> = LazyLock::new(|| selector("span.push-content"));
static PUSH_IP_TIME: LazyLock<Selector> = LazyLock::new(|| selector("span.push-ipdatetime"));

/// The site name PTT appends to every `<title>`.
const SITE_SUFFIX: &str = "- 批踢踢實業坊";

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn text_of(el: ElementRef<'_>, sel: &Selector) -> Option<String> {
    el.select(sel).next().map(|e| e.text().collect())
}

/// `TITLE - 看板 Board - 批踢踢實業坊` → `TITLE`; other titles are only trimmed.
fn strip_site_suffix(title: &str) -> &str {
    let title = title.trim();
    let Some(rest) = title.strip_suffix(SITE_SUFFIX) else {
        return title;
    };
    let rest = rest.trim_end();
    match rest.rfind(" - 看板 ") {
        Some(i) => rest.get(..i).unwrap_or(rest).trim(),
        None => rest,
    }
}

/// Fills author, nickname, board, title and time from the metalines. The
/// first metaline of each kind wins.
fn read_metalines(main: ElementRef<'_>, article: &mut Article) {
    for line in main.select(&METALINE) {
        let (Some(tag), Some(value)) = (text_of(line, &META_TAG), text_of(line, &META_VALUE))
        else {
            continue;
        };
        let value = value.trim();
        match tag.trim() {
            "作者" if article.author.is_none() => {
                let (author, nickname) = split_author(value);
                article.author = author;
                article.nickname = nickname;
            }
            "看板" if article.board.is_none() => article.board = non_empty(value),
            "標題" if article.title.is_none() => article.title = non_empty(value),
            "時間" if article.posted_at.is_none() => article.posted_at = parse_asctime(value),
            _ => {}
        }
    }
}

/// `userid (nickname)` → (`userid`, `nickname`); the nickname is what lies
/// between the first `(` and the last `)`, possibly empty. Without
/// parentheses the nickname is `None`.
fn split_author(value: &str) -> (Option<String>, Option<String>) {
    let Some((id, rest)) = value.split_once('(') else {
        return (non_empty(value), None);
    };
    let nick = rest.rsplit_once(')').map_or(rest, |(n, _)| n).trim();
    (non_empty(id), Some(nick.to_owned()))
}

/// One step of the iterative walk: entering a node, or leaving a block
/// element (which ends the current line).
enum Step<N> {
    Open(N),
    Close,
}

/// Elements whose content is never text of the article.
const SKIPPED_ELEMENTS: &[&str] = &["script", "style", "noscript", "template", "iframe", "img"];

/// Elements that start and end a line of their own.
const BLOCK_ELEMENTS: &[&str] = &[
    "div",
    "p",
    "pre",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "blockquote",
];

/// The text of `#main-content` in document order, without metalines, pushes
/// and image previews; the pushes are collected on the way.
///
/// A block element (`div`, `p`, …) starts and ends a line, unless the text
/// around it already breaks the line there: PTT puts each image preview
/// between two line breaks of the text, and that must not add a blank line.
fn walk_main_content(
    main: ElementRef<'_>,
    pushes: &mut Vec<Push>,
    page_links: &mut Vec<PageLink>,
) -> String {
    let mut out = Text::default();
    let mut stack = vec![Step::Open(*main)];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Open(node) => node,
            Step::Close => {
                out.block_boundary();
                continue;
            }
        };
        let el = match node.value() {
            Node::Text(t) => {
                out.push(t);
                continue;
            }
            Node::Element(el) => el,
            _ => continue,
        };
        let name = el.name();
        if SKIPPED_ELEMENTS.contains(&name) {
            continue;
        }
        if name == "br" {
            out.push("\n");
            continue;
        }
        if name == "a"
            && let Some(href) = el.attr("href")
            && links::scheme_start(href.trim()) == Some(0)
        {
            // Only the direct text of the `<a>` (PTT writes one text node):
            // each node is read once however the page nests its elements.
            let text = node
                .children()
                .filter_map(|c| c.value().as_text().map(|t| &**t))
                .collect();
            page_links.push(PageLink {
                href: href.to_owned(),
                text,
            });
        }
        if name == "div" {
            let has = |class| el.classes().any(|c| c == class);
            if has("push") {
                out.block_boundary();
                if let Some(push) = ElementRef::wrap(node).and_then(parse_push) {
                    pushes.push(push);
                }
                continue;
            }
            if has("article-metaline") || has("article-metaline-right") || has("richcontent") {
                out.block_boundary();
                continue;
            }
        }
        if BLOCK_ELEMENTS.contains(&name) {
            out.block_boundary();
            stack.push(Step::Close);
        }
        stack.extend(node.children().rev().map(Step::Open));
    }
    out.text
}

/// The text being collected, and whether a block boundary asks for a line
/// break before the next text.
#[derive(Default)]
struct Text {
    text: String,
    break_pending: bool,
}

impl Text {
    fn block_boundary(&mut self) {
        self.break_pending = true;
    }

    fn push(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if std::mem::take(&mut self.break_pending)
            && !self.text.is_empty()
            && !self.text.ends_with('\n')
            && !s.starts_with('\n')
        {
            self.text.push('\n');
        }
        self.text.push_str(s);
    }
}

/// Reads one `div.push`; `None` when its tag is not 推, 噓 or →.
fn parse_push(el: ElementRef<'_>) -> Option<Push> {
    let kind = PushKind::from_tag(&text_of(el, &PUSH_TAG)?)?;
    let user = text_of(el, &PUSH_USER).unwrap_or_default();
    let content = text_of(el, &PUSH_CONTENT).unwrap_or_default();
    let content = content.trim_start();
    let content = content
        .strip_prefix(':')
        .or_else(|| content.strip_prefix('：'))
        .unwrap_or(content);
    Some(Push {
        kind,
        user: user.trim().to_owned(),
        content: content.trim().to_owned(),
        ip_time: text_of(el, &PUSH_IP_TIME)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    })
}

/// The system line a body line is, if any: `(label, rest after the label)`
/// for `※ 發信站`, `※ 文章網址` and `※ 編輯` (the space after `※` optional).
fn system_line(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.trim_start().strip_prefix('※')?.trim_start();
    ["發信站", "文章網址", "編輯"]
        .into_iter()
        .find_map(|label| Some((label, rest.strip_prefix(label)?)))
}

/// Splits the walked text into the body, the edit lines and the last
/// 文章網址 URL.
fn split_body(raw: &str, article: &mut Article) {
    let mut lines: Vec<&str> = Vec::new();
    for line in raw.lines() {
        match system_line(line) {
            Some(("文章網址", rest)) => {
                let url = rest.trim_start().trim_start_matches([':', '：']).trim();
                if let Some(url) = url.split_whitespace().next() {
                    article.article_url_line = Some(url.to_owned());
                }
            }
            Some(("編輯", _)) => article.edits.push(line.trim().to_owned()),
            Some(_) => {}
            None => lines.push(line.trim_end()),
        }
    }
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    if let (Some(first), Some(last)) = (first, last) {
        article.body = lines.get(first..=last).unwrap_or_default().join("\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_splits_into_id_and_nickname() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            split_author("sky419012 (fly)"),
            (some("sky419012"), some("fly"))
        );
        assert_eq!(
            split_author("senyek9527 ()"),
            (some("senyek9527"), some(""))
        );
        assert_eq!(split_author("a (b (c))"), (some("a"), some("b (c)")));
        assert_eq!(split_author("a (unclosed"), (some("a"), some("unclosed")));
        assert_eq!(split_author("plain"), (some("plain"), None));
        assert_eq!(split_author(" (x)"), (None, some("x")));
    }

    #[test]
    fn site_suffix_is_stripped_from_title_elements() {
        assert_eq!(
            strip_site_suffix("[閒聊] 聊聊大王 - 看板 Baseball - 批踢踢實業坊"),
            "[閒聊] 聊聊大王"
        );
        assert_eq!(
            strip_site_suffix("A - 看板 B - 看板 Stock - 批踢踢實業坊"),
            "A - 看板 B"
        );
        assert_eq!(
            strip_site_suffix("看板 Stock 文章列表 - 批踢踢實業坊"),
            "看板 Stock 文章列表"
        );
        assert_eq!(strip_site_suffix(" 自訂 "), "自訂");
    }
}
