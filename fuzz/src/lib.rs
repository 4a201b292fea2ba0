//! Shared pieces of the fuzz targets: an input splitter that turns fuzz bytes
//! into a [`Digest`], a strict checker of the Telegram HTML our renderer may
//! produce, and the renderer invariants that both the renderer targets and
//! the article target assert.
//!
//! Invariant failures panic, which libFuzzer reports as a crash.

use chrono::{DateTime, FixedOffset};
use ptt_relay::chat::discord::render as discord;
use ptt_relay::chat::telegram::render as telegram;
use ptt_relay::digest::{self, Digest};
use ptt_relay::ptt::{self, Board, PostId, Tally, TitleInfo};

// ---------------------------------------------------------------------------
// Fuzz input → fields
// ---------------------------------------------------------------------------

/// Bytes of fixed-size header at the start of a structured input.
pub const HEADER_LEN: usize = 24;

/// Separates the text fields after the header (never valid UTF-8).
pub const FIELD_SEP: u8 = 0xFF;

/// A field starting with this byte and a count byte `r` is its remaining
/// text repeated `1 + 8·r` times: short inputs reach very long strings.
pub const REPEAT_MARK: u8 = 0xFE;

/// No field grows past this many bytes when repeated.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// A structured input: a fixed header and text fields.
pub struct Input {
    /// The header, zero-padded when the input is shorter.
    pub header: [u8; HEADER_LEN],
    /// The text fields (lossy UTF-8), in order.
    pub fields: Vec<String>,
}

impl Input {
    /// Splits fuzz bytes: `HEADER_LEN` bytes, then fields separated by
    /// [`FIELD_SEP`], each optionally repeated (see [`REPEAT_MARK`]).
    pub fn split(data: &[u8]) -> Input {
        let mut header = [0u8; HEADER_LEN];
        let n = data.len().min(HEADER_LEN);
        header[..n].copy_from_slice(&data[..n]);
        let rest = &data[n..];
        let fields = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split(|&b| b == FIELD_SEP).map(field_text).collect()
        };
        Input { header, fields }
    }

    /// Field `i`, `""` when absent.
    pub fn field(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", String::as_str)
    }

    /// Header bit `bit` (0-based over the whole header).
    pub fn bit(&self, bit: usize) -> bool {
        self.header[bit / 8] & (1 << (bit % 8)) != 0
    }

    /// Four header bytes at `at` as a little-endian u32.
    pub fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes([
            self.header[at],
            self.header[at + 1],
            self.header[at + 2],
            self.header[at + 3],
        ])
    }
}

fn field_text(raw: &[u8]) -> String {
    match raw {
        [REPEAT_MARK, r, text @ ..] => {
            let text = String::from_utf8_lossy(text);
            if text.is_empty() {
                return String::new();
            }
            let times = 1 + 8 * usize::from(*r);
            let times = times.min(MAX_FIELD_BYTES / text.len()).max(1);
            text.repeat(times)
        }
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Field order of a digest input.
pub mod field {
    pub const BOARD: usize = 0;
    pub const ID: usize = 1;
    pub const URL: usize = 2;
    pub const TITLE: usize = 3;
    pub const AUTHOR: usize = 4;
    pub const ORIGINAL_TITLE: usize = 5;
    pub const SOURCE_URL: usize = 6;
    pub const PUBLISHED: usize = 7;
    pub const REPORTER: usize = 8;
    pub const EXCERPT: usize = 9;
    pub const STATUS: usize = 10;
    pub const ASCTIME: usize = 11;
    pub const NONCE_DEST: usize = 12;
}

/// The status line real callers pass (the i18n table's deleted mark).
pub const DELETED_MARK: &str = ptt_relay::commands::i18n::DIGEST.deleted_line;

/// A digest and the status line to render it with.
pub struct Case {
    pub digest: Digest,
    pub status: Option<String>,
}

/// Builds a digest from a structured input.
///
/// Header: byte 0 = which optional fields are present (bit 0 title, 1
/// author, 2 posted_at, 3 original_title, 4 source_url, 5 excerpt, 6
/// published and reporter, 7 the url is field URL rather than the post's
/// URL); byte 1 = status (0 none, 1 the deleted mark, 2 a hostile fixed one,
/// 3 field STATUS cut to 64 characters); bytes 4–15 push, boo, neutral
/// (u32 each);
/// bytes 16–20 the post time (seconds) and 22–23 its offset, used when
/// field ASCTIME is no asctime.
///
/// What the renderers can rely on is kept, the rest is arbitrary: the board
/// and id are valid (else `Stock` / a fixed id), the title and the source
/// URL are non-blank when present (as `Digest::from_article` and
/// `extract_news` guarantee), the URL is non-blank, other present fields are
/// non-empty.
pub fn digest_case(input: &Input) -> Case {
    use field::*;
    let non_empty = |i: usize| Some(input.field(i).to_owned()).filter(|s| !s.is_empty());
    let non_blank = |i: usize| Some(input.field(i).to_owned()).filter(|s| !s.trim().is_empty());
    let present = |bit: usize| input.bit(bit);

    let board = Board::parse(input.field(BOARD)).unwrap_or_else(|| board("Stock"));
    let id = PostId::parse(input.field(ID)).unwrap_or_else(|| post_id("M.1769577959.A.C89"));
    let url = present(7)
        .then(|| non_blank(URL))
        .flatten()
        .unwrap_or_else(|| ptt::post_url(&board, &id));
    let title = present(0).then(|| non_blank(TITLE)).flatten();
    let info = title.as_deref().map(TitleInfo::parse).unwrap_or_default();
    let (push, boo, neutral) = (input.u32_at(4), input.u32_at(8), input.u32_at(12));
    let tally = Tally {
        push,
        boo,
        neutral,
        net: i64::from(push) - i64::from(boo),
        total: push.saturating_add(boo).saturating_add(neutral),
    };
    let posted_at = present(2).then(|| posted_at(input)).flatten();
    let digest = Digest {
        board: board.as_str().to_owned(),
        id: id.as_str().to_owned(),
        url,
        title,
        tag: info.tag,
        is_reply: info.is_reply,
        is_forward: info.is_forward,
        author: present(1).then(|| non_empty(AUTHOR)).flatten(),
        posted_at,
        original_title: present(3).then(|| non_empty(ORIGINAL_TITLE)).flatten(),
        source_url: present(4).then(|| non_blank(SOURCE_URL)).flatten(),
        published: present(6).then(|| non_empty(PUBLISHED)).flatten(),
        reporter: present(6).then(|| non_empty(REPORTER)).flatten(),
        excerpt: present(5).then(|| non_empty(EXCERPT)).flatten(),
        tally,
        stocks: Vec::new(),
        hot: None,
    };
    let status = match input.header[1] % 4 {
        0 => None,
        1 => Some(DELETED_MARK.to_owned()),
        2 => Some("<已刪除> & \"gone\" 😀".to_owned()),
        _ => Some(input.field(STATUS).chars().take(64).collect()),
    };
    Case { digest, status }
}

fn posted_at(input: &Input) -> Option<DateTime<FixedOffset>> {
    if let Some(t) = ptt::time::parse_asctime(input.field(field::ASCTIME)) {
        return Some(t);
    }
    let h = &input.header;
    // Any second within about ±17,000 years of 1970.
    let secs = i64::from_le_bytes([h[16], h[17], h[18], h[19], h[20], 0, 0, 0]) - (1 << 39);
    let offset = i32::from(i16::from_le_bytes([h[22], h[23]])) * 3;
    let offset = FixedOffset::east_opt(offset % 86_400)?;
    Some(DateTime::from_timestamp(secs, 0)?.with_timezone(&offset))
}

fn board(s: &str) -> Board {
    match Board::parse(s) {
        Some(b) => b,
        None => unreachable!("{s:?} is a valid board"),
    }
}

fn post_id(s: &str) -> PostId {
    match PostId::parse(s) {
        Some(id) => id,
        None => unreachable!("{s:?} is a valid post id"),
    }
}

// ---------------------------------------------------------------------------
// Telegram HTML
// ---------------------------------------------------------------------------

/// What a valid message says: its visible text (tags removed, entities
/// decoded) and the decoded hrefs of its links, in order.
#[derive(Debug, Default)]
pub struct TelegramText {
    pub text: String,
    pub hrefs: Vec<String>,
}

impl TelegramText {
    /// Telegram's measure: UTF-16 code units of the visible text.
    pub fn utf16_len(&self) -> usize {
        self.text.encode_utf16().count()
    }
}

/// Checks that `html` is Telegram HTML of the kind our renderer may emit,
/// which is stricter than what Telegram accepts: only `<b>`, `<blockquote>`
/// and `<a href="…">` (exactly that spelling), properly nested and closed,
/// no `<a>` in an `<a>` and no nested `<blockquote>`; every `&` starts one
/// of `&amp;` `&lt;` `&gt;` `&quot;`; no raw `<` or `>` outside tags; an
/// href holds no raw `"`, `<` or `>` and is not blank once decoded.
pub fn check_telegram_html(html: &str) -> Result<TelegramText, String> {
    let mut out = TelegramText::default();
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        let at = html.len() - rest.len();
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("unterminated tag at byte {at}"))?;
                let tag = &rest[1..end];
                if tag.contains('<') {
                    return Err(format!("raw '<' at byte {at}"));
                }
                if let Some(name) = tag.strip_prefix('/') {
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!("</{name}> closes <{open}> at byte {at}"));
                        }
                        None => return Err(format!("</{name}> closes nothing at byte {at}")),
                    }
                } else if tag == "b" || tag == "blockquote" {
                    if tag == "blockquote" && stack.contains(&"blockquote") {
                        return Err(format!("nested <blockquote> at byte {at}"));
                    }
                    stack.push(tag);
                } else if let Some(raw) = tag
                    .strip_prefix("a href=\"")
                    .and_then(|v| v.strip_suffix('"'))
                {
                    if stack.contains(&"a") {
                        return Err(format!("<a> inside <a> at byte {at}"));
                    }
                    if raw.contains('"') {
                        return Err(format!("raw '\"' in an href at byte {at}"));
                    }
                    let href = decode(raw).map_err(|e| format!("href at byte {at}: {e}"))?;
                    if href.trim().is_empty() {
                        return Err(format!("blank href at byte {at}"));
                    }
                    out.hrefs.push(href);
                    stack.push("a");
                } else {
                    return Err(format!("unsupported tag <{tag}> at byte {at}"));
                }
                rest = &rest[end + 1..];
            }
            '>' => return Err(format!("raw '>' at byte {at}")),
            '&' => {
                let (ch, len) = entity(rest).map_err(|e| format!("{e} at byte {at}"))?;
                out.text.push(ch);
                rest = &rest[len..];
            }
            c => {
                out.text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    match stack.last() {
        Some(open) => Err(format!("<{open}> is never closed")),
        None => Ok(out),
    }
}

const ENTITIES: &[(&str, char)] = &[
    ("&amp;", '&'),
    ("&lt;", '<'),
    ("&gt;", '>'),
    ("&quot;", '"'),
];

/// The entity at the start of `s` (which starts with `&`).
fn entity(s: &str) -> Result<(char, usize), String> {
    ENTITIES
        .iter()
        .find(|(e, _)| s.starts_with(e))
        .map(|&(e, c)| (c, e.len()))
        .ok_or_else(|| format!("raw '&': {:?}", s.chars().take(12).collect::<String>()))
}

fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' | '>' => return Err(format!("raw {c:?}")),
            '&' => {
                let (ch, len) = entity(rest)?;
                out.push(ch);
                rest = &rest[len..];
            }
            c => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Renderer invariants
// ---------------------------------------------------------------------------

/// Renders `d` for Telegram (with and without `status`) and asserts: valid
/// Telegram HTML (see [`check_telegram_html`]), at most
/// [`telegram::MAX_TEXT_UTF16`] visible UTF-16 units, the renderer's own
/// [`telegram::visible_utf16_len`] agreeing, and the first link going to the
/// digest's URL.
pub fn assert_telegram(d: &Digest, status: Option<&str>) {
    let mut variants = vec![(telegram::render(d), None)];
    if status.is_some() {
        variants.push((telegram::render_with_status(d, status), status));
    }
    for (html, status) in variants {
        let parsed = match check_telegram_html(&html) {
            Ok(p) => p,
            Err(e) => panic!("invalid Telegram HTML ({e}) for status {status:?}:\n{html}"),
        };
        let len = parsed.utf16_len();
        assert!(
            len <= telegram::MAX_TEXT_UTF16,
            "visible length {len} > {} UTF-16 units for status {status:?}:\n{html}",
            telegram::MAX_TEXT_UTF16
        );
        assert_eq!(
            telegram::visible_utf16_len(&html),
            len,
            "visible_utf16_len disagrees with the decoded text:\n{html}"
        );
        assert_eq!(
            parsed.hrefs.first(),
            Some(&d.url),
            "the first link is not the post's URL:\n{html}"
        );
        // The source link's href is the address as the `url` crate writes
        // it (percent-encoded); one that is no http(s) URL is left out.
        if let Some(src) = d.source_url.as_deref().and_then(digest::links::href) {
            assert!(
                parsed.hrefs.iter().any(|h| *h == src),
                "no link to the source URL {src:?}:\n{html}"
            );
        }
    }
}

/// Renders `d` for Discord (the embed, with and without `status`, and the
/// message body) and asserts Discord's limits (title 256, description
/// 4096, field name 256 and value 1024, footer 2048, 25 fields, 6000 in all,
/// counted in characters), that [`discord::Embed::total_chars`] matches the
/// serialized embed, `allowed_mentions` = `{"parse": []}`, and a nonce of at
/// most 25 characters.
pub fn assert_discord(d: &Digest, status: Option<&str>, nonce_dest: &str) {
    let n = |s: &str| s.chars().count();
    let mut embeds = vec![(discord::embed(d), None)];
    if status.is_some() {
        embeds.push((discord::embed_with_status(d, status), status));
    }
    for (e, status) in &embeds {
        let ctx = || format!("status {status:?}, embed {e:#?}");
        assert!(
            n(&e.title) <= discord::MAX_TITLE,
            "title too long: {}",
            ctx()
        );
        assert!(
            n(&e.description) <= discord::MAX_DESCRIPTION,
            "description too long ({}): {}",
            n(&e.description),
            ctx()
        );
        assert!(e.fields.len() <= 25, "too many fields: {}", ctx());
        for f in &e.fields {
            assert!(n(&f.name) <= 256, "field name too long: {}", ctx());
            assert!(
                n(&f.value) <= discord::MAX_FIELD_VALUE,
                "field value too long: {}",
                ctx()
            );
        }
        assert!(n(&e.footer.text) <= 2048, "footer too long: {}", ctx());
        let total = e.total_chars();
        assert!(
            total <= discord::MAX_EMBED_TOTAL,
            "total {total} > {}: {}",
            discord::MAX_EMBED_TOTAL,
            ctx()
        );
        // Recount from the JSON Discord receives.
        let json = match serde_json::to_value(e) {
            Ok(v) => v,
            Err(err) => panic!("embed does not serialize ({err}): {}", ctx()),
        };
        let s = |v: &serde_json::Value| v.as_str().map_or(0, n);
        let mut recount = s(&json["title"]) + s(&json["description"]) + s(&json["footer"]["text"]);
        if let Some(fields) = json["fields"].as_array() {
            recount += fields
                .iter()
                .map(|f| s(&f["name"]) + s(&f["value"]))
                .sum::<usize>();
        }
        assert_eq!(
            recount,
            total,
            "total_chars disagrees with the JSON: {}",
            ctx()
        );
    }

    let nonce = discord::nonce(&d.id, nonce_dest);
    assert!(n(&nonce) <= 25, "nonce too long: {nonce:?}");
    for nonce in [None, Some(nonce.as_str())] {
        let body = discord::message_body(d, nonce);
        assert_eq!(
            body["allowed_mentions"],
            serde_json::json!({ "parse": [] }),
            "allowed_mentions must parse nothing: {body}"
        );
        let sent = body["embeds"].as_array().map_or(0, Vec::len);
        assert_eq!(sent, 1, "one embed per message: {body}");
        if let Ok(e) = serde_json::to_value(discord::embed(d)) {
            assert_eq!(body["embeds"][0], e, "the body's embed is embed(d)");
        }
    }
}
