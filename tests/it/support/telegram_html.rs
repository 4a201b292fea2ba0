//! A strict validator of Telegram Bot API HTML (`parse_mode = "HTML"`).
//!
//! Accepts only the tags Telegram supports — `b strong i em u ins s strike
//! del`, `span class="tg-spoiler"`, `tg-spoiler`, `a href="…"`, `code`
//! (optionally `class="language-…"` inside `pre`), `pre`, `blockquote`
//! (optionally `expandable`) — properly nested and closed, with every
//! attribute value double-quoted. `<`, `>` and `&` may appear only as markup
//! or as the entities `&lt;` `&gt;` `&amp;` `&quot;` (or numeric `&#NN;` /
//! `&#xHH;`). Returns the visible text (tags removed, entities decoded), which
//! is what Telegram's 4096 UTF-16 code-unit limit applies to.

/// One `<a href>` of a message: its decoded href and its visible text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub href: String,
    pub text: String,
}

/// A valid message: its visible text and its links, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub text: String,
    pub links: Vec<Link>,
}

impl Parsed {
    /// The visible length in UTF-16 code units (Telegram's measure).
    pub fn utf16_len(&self) -> usize {
        self.text.encode_utf16().count()
    }
}

/// Validates `html` and returns its visible text.
pub fn validate(html: &str) -> Result<String, String> {
    parse(html).map(|p| p.text)
}

/// The visible length of valid Telegram HTML, in UTF-16 code units.
pub fn visible_utf16_len(html: &str) -> Result<usize, String> {
    parse(html).map(|p| p.utf16_len())
}

/// Validates `html` and returns its visible text and links.
pub fn parse(html: &str) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    // Open elements: tag name, and for `a` the index of its link.
    let mut stack: Vec<(String, Option<usize>)> = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let rest = &html[i..];
        let c = rest.chars().next().expect("not at the end");
        match c {
            '<' => {
                let end = rest
                    .find('>')
                    .ok_or_else(|| format!("unterminated tag at byte {i}: {:?}", snippet(rest)))?;
                let tag = &rest[1..end];
                if tag.contains('<') {
                    return Err(format!(
                        "raw '<' inside a tag at byte {i}: {:?}",
                        snippet(rest)
                    ));
                }
                if let Some(name) = tag.strip_prefix('/') {
                    close(name, i, &mut stack)?;
                } else {
                    open(tag, i, &mut stack, &mut out)?;
                }
                i += end + 1;
            }
            '>' => return Err(format!("raw '>' in text at byte {i}: {:?}", snippet(rest))),
            '&' => {
                let (decoded, len) = entity(rest).map_err(|e| format!("{e} at byte {i}"))?;
                push_text(&mut out, &stack, decoded);
                i += len;
            }
            c => {
                push_text(&mut out, &stack, c);
                i += c.len_utf8();
            }
        }
    }
    if let Some((name, _)) = stack.last() {
        return Err(format!("<{name}> is never closed"));
    }
    Ok(out)
}

const SIMPLE: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "tg-spoiler",
];

fn push_text(out: &mut Parsed, stack: &[(String, Option<usize>)], c: char) {
    out.text.push(c);
    if let Some(link) = stack.iter().rev().find_map(|(_, l)| *l) {
        out.links[link].text.push(c);
    }
}

fn open(
    tag: &str,
    at: usize,
    stack: &mut Vec<(String, Option<usize>)>,
    out: &mut Parsed,
) -> Result<(), String> {
    let name_end = tag
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(tag.len());
    let name = &tag[..name_end];
    if name.is_empty() || tag.ends_with('/') {
        return Err(format!("malformed tag <{tag}> at byte {at}"));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("tag names are lowercase: <{name}> at byte {at}"));
    }
    let attrs = attributes(&tag[name_end..]).map_err(|e| format!("<{name}> at byte {at}: {e}"))?;
    let get = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let only = |allowed: &[&str]| -> Result<(), String> {
        match attrs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(format!(
                "<{name}> at byte {at} has unsupported attribute {k}"
            )),
            None => Ok(()),
        }
    };
    let inside = |t: &str| stack.iter().any(|(n, _)| n == t);
    // Nothing may be nested inside code; inside pre only code.
    if inside("code") {
        return Err(format!("<{name}> at byte {at} is inside <code>"));
    }
    if inside("pre") && name != "code" {
        return Err(format!("<{name}> at byte {at} is inside <pre>"));
    }
    let mut link = None;
    match name {
        n if SIMPLE.contains(&n) => only(&[])?,
        "span" => {
            only(&["class"])?;
            if get("class").map(|v| v.as_deref()) != Some(Some("tg-spoiler")) {
                return Err(format!(
                    "<span> at byte {at} needs class=\"tg-spoiler\" (Telegram supports no other span)"
                ));
            }
        }
        "a" => {
            only(&["href"])?;
            if inside("a") {
                return Err(format!("<a> at byte {at} is inside another <a>"));
            }
            let href = match get("href") {
                Some(Some(h)) if !h.trim().is_empty() => h.clone(),
                Some(Some(_)) => return Err(format!("<a> at byte {at} has an empty href")),
                Some(None) => return Err(format!("<a> at byte {at}: href needs a value")),
                None => return Err(format!("<a> at byte {at} has no href")),
            };
            out.links.push(Link {
                href,
                text: String::new(),
            });
            link = Some(out.links.len() - 1);
        }
        "code" => {
            only(&["class"])?;
            if let Some(class) = get("class") {
                let ok = class
                    .as_deref()
                    .and_then(|c| c.strip_prefix("language-"))
                    .is_some_and(|l| !l.is_empty());
                if !ok || !inside("pre") {
                    return Err(format!(
                        "<code> at byte {at}: class must be language-… and only inside <pre>"
                    ));
                }
            }
        }
        "pre" => only(&[])?,
        "blockquote" => {
            only(&["expandable"])?;
            if let Some(Some(_)) = get("expandable") {
                return Err(format!(
                    "<blockquote> at byte {at}: expandable takes no value"
                ));
            }
            if inside("blockquote") {
                return Err(format!("<blockquote> at byte {at} is nested in another"));
            }
        }
        other => return Err(format!("unsupported tag <{other}> at byte {at}")),
    }
    stack.push((name.to_owned(), link));
    Ok(())
}

fn close(name: &str, at: usize, stack: &mut Vec<(String, Option<usize>)>) -> Result<(), String> {
    if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(format!("malformed closing tag </{name}> at byte {at}"));
    }
    match stack.pop() {
        Some((open, _)) if open == name => Ok(()),
        Some((open, _)) => Err(format!(
            "</{name}> at byte {at} closes <{open}> (improper nesting)"
        )),
        None => Err(format!("</{name}> at byte {at} closes nothing")),
    }
}

/// Parses ` key="value" key2` into (key, decoded value or None).
fn attributes(s: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut attrs: Vec<(String, Option<String>)> = Vec::new();
    let mut rest = s;
    loop {
        let trimmed = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Ok(attrs);
        }
        if trimmed.len() == rest.len() {
            return Err(format!(
                "attributes must be separated by spaces near {trimmed:?}"
            ));
        }
        let key_end = trimmed
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .unwrap_or(trimmed.len());
        let key = &trimmed[..key_end];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
        {
            return Err(format!("bad attribute name {key:?}"));
        }
        if attrs.iter().any(|(k, _)| k == key) {
            return Err(format!("attribute {key} given twice"));
        }
        let after = &trimmed[key_end..];
        let Some(value_part) = after.strip_prefix('=') else {
            attrs.push((key.to_owned(), None));
            rest = after;
            continue;
        };
        let Some(quoted) = value_part.strip_prefix('"') else {
            return Err(format!("value of {key} is not double-quoted"));
        };
        let close = quoted
            .find('"')
            .ok_or_else(|| format!("value of {key} has no closing quote"))?;
        let raw = &quoted[..close];
        attrs.push((key.to_owned(), Some(decode_attribute(raw)?)));
        rest = &quoted[close + 1..];
    }
}

fn decode_attribute(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        let c = rest.chars().next().expect("not at the end");
        match c {
            '<' | '>' => return Err(format!("raw {c:?} in an attribute value: {raw:?}")),
            '&' => {
                let (decoded, len) = entity(rest)?;
                out.push(decoded);
                i += len;
            }
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Ok(out)
}

/// Decodes the entity at the start of `s` (which starts with `&`): the
/// character and the entity's length in bytes.
fn entity(s: &str) -> Result<(char, usize), String> {
    let end = s
        .find(';')
        .filter(|&e| e <= 12)
        .ok_or_else(|| format!("raw '&' (not an entity): {:?}", snippet(s)))?;
    let body = &s[1..end];
    let c = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let code = if let Some(hex) = body.strip_prefix("#x").or(body.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = body.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
                .ok_or_else(|| format!("unsupported entity &{body};"))?
        }
    };
    Ok((c, end + 1))
}

fn snippet(s: &str) -> String {
    s.chars().take(40).collect()
}
