//! How a digest's links are shown: an href every platform accepts, and a
//! text a reader can read.
//!
//! A link is atomic (DESIGN.md, "Messages"): renderers show it whole or not
//! at all, never cut.

use percent_encoding::percent_decode_str;

/// `url` as a valid href: parsed and serialised by the `url` crate, so
/// Chinese text and spaces are percent-encoded and an IDN host is punycode
/// (digests store it so already; older stored ones are re-encoded here).
/// `None` when it is not an http(s) URL: the renderers then leave it out.
pub fn href(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| String::from(parsed))
}

/// `url` for reading: the host in Unicode (`新聞.台灣`, not
/// `xn--efvv70d.xn--kpry57d`) and percent-encoded UTF-8 text decoded
/// (`/news/台積電…`). ASCII escapes (`%20`, `%2F`) stay encoded so the text
/// reads as one address, and so do decoded characters that could disguise
/// it (controls, bidirectional marks, spaces). An address that does not
/// parse is returned as given.
pub fn readable(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return url.to_owned();
    };
    let host = readable_host(parsed.host_str().unwrap_or_default());
    let serialized = parsed.as_str();
    let after_host = match parsed.port() {
        Some(port) => format!(":{port}{}", &serialized[path_start(&parsed)..]),
        None => serialized[path_start(&parsed)..].to_owned(),
    };
    format!(
        "{}://{host}{}",
        parsed.scheme(),
        decode_non_ascii(&after_host)
    )
}

/// A host for reading: an IDN host in Unicode (`新聞.台灣`); as given when
/// it is not valid IDNA or would show disguising characters.
pub fn readable_host(host: &str) -> String {
    let (unicode_host, result) = idna::domain_to_unicode(host);
    if result.is_ok() && !unicode_host.chars().any(is_disguising) {
        unicode_host
    } else {
        host.to_owned()
    }
}

/// The byte offset where the path begins in the serialisation.
fn path_start(url: &url::Url) -> usize {
    use url::Position;
    url[..Position::BeforePath].len()
}

/// Decodes each run of `%XX` escapes of non-ASCII bytes that is valid UTF-8
/// without disguising characters; everything else is kept as written.
fn decode_non_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let run = escape_run(&rest[i..]);
        let decoded = percent_decode_str(run).decode_utf8().ok();
        match decoded {
            Some(text) if !run.is_empty() && !text.chars().any(is_disguising) => {
                out.push_str(&text);
                rest = &rest[i + run.len()..];
            }
            _ => {
                // Keep the `%` (and, for a run, all of it) as written.
                let keep = run.len().max(1);
                out.push_str(&rest[i..i + keep]);
                rest = &rest[i + keep..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The longest prefix of `s` made of `%XX` escapes whose bytes are all
/// non-ASCII (`%E5%8F%B0…`).
fn escape_run(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut end = 0;
    while end + 3 <= bytes.len()
        && bytes[end] == b'%'
        && let Some(byte) = std::str::from_utf8(&bytes[end + 1..end + 3])
            .ok()
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        && byte >= 0x80
    {
        end += 3;
    }
    &s[..end]
}

/// Characters that would hide what an address says: controls, format
/// characters such as bidirectional overrides, and any whitespace.
fn is_disguising(c: char) -> bool {
    c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_percent_encoded_and_punycode() {
        assert_eq!(
            href("https://新聞.台灣/報導 1?q=台積電").as_deref(),
            Some(
                "https://xn--efvv70d.xn--kpry57d/%E5%A0%B1%E5%B0%8E%201?q=%E5%8F%B0%E7%A9%8D%E9%9B%BB"
            )
        );
        assert_eq!(href("javascript:alert(1)"), None);
        assert_eq!(href("not a url"), None);
    }

    #[test]
    fn readable_text_decodes_chinese_and_idn_but_not_ascii_escapes() {
        assert_eq!(
            readable(
                "https://xn--efvv70d.xn--kpry57d/%E5%A0%B1%E5%B0%8E%201?q=%E5%8F%B0%E7%A9%8D%E9%9B%BB#x"
            ),
            "https://新聞.台灣/報導%201?q=台積電#x"
        );
        assert_eq!(
            readable("https://a.example:8443/%E2%80%AE%E5%8F%B0"),
            "https://a.example:8443/%E2%80%AE%E5%8F%B0"
        );
        assert_eq!(
            readable("https://a.example/%E5%8F"),
            "https://a.example/%E5%8F"
        );
        assert_eq!(readable("https://a.example/100%"), "https://a.example/100%");
        assert_eq!(readable("nonsense"), "nonsense");
    }
}
