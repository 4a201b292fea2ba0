//! What a post title says about itself: its tag and whether it is a reply or
//! a forward.

/// The parts of a title such as `Re: [新聞] 台積電...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TitleInfo {
    /// The text inside the leading brackets (`新聞`), after any `Re:`/`Fw:`.
    pub tag: Option<String>,
    /// The title starts with `Re:` (also `RE:`, `Re：`).
    pub is_reply: bool,
    /// The title starts with `Fw:` (also `FW:`, `Fwd:`).
    pub is_forward: bool,
}

impl TitleInfo {
    /// Reads the prefixes of a title. Several prefixes may stack
    /// (`Re: Fw: [新聞] …`); the tag's brackets are any pair of
    /// [`TAG_BRACKETS`] (`[新聞]`, `［新聞］`, `【新聞】`), spaces inside them
    /// trimmed (DESIGN.md, "Digest JSON", `tag`).
    pub fn parse(title: &str) -> Self {
        let mut info = TitleInfo::default();
        let mut rest = title.trim_start();
        loop {
            if let Some(r) = strip_prefix_ci(rest, &["Re:", "Re："]) {
                info.is_reply = true;
                rest = r.trim_start();
            } else if let Some(r) = strip_prefix_ci(rest, &["Fwd:", "Fw:", "Fwd：", "Fw："]) {
                info.is_forward = true;
                rest = r.trim_start();
            } else {
                break;
            }
        }
        let Some(&(open, close)) = rest
            .chars()
            .next()
            .and_then(|c| TAG_BRACKETS.iter().find(|(o, _)| *o == c))
        else {
            return info;
        };
        let inner = &rest[open.len_utf8()..];
        if let Some(end) = inner.find(close) {
            let tag = inner[..end].trim();
            if !tag.is_empty() && tag.chars().count() <= 16 {
                info.tag = Some(tag.to_owned());
            }
        }
        info
    }
}

/// The bracket pairs a title's leading tag is written in: ASCII `[]`,
/// full-width `［］` and lenticular `【】`.
pub const TAG_BRACKETS: &[(char, char)] = &[('[', ']'), ('［', '］'), ('【', '】')];

/// Whether `c` is one of the [`TAG_BRACKETS`], opening or closing.
pub fn is_tag_bracket(c: char) -> bool {
    TAG_BRACKETS.iter().any(|&(o, cl)| c == o || c == cl)
}

fn strip_prefix_ci<'a>(s: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| {
        let head = s.get(..p.len())?;
        head.eq_ignore_ascii_case(p).then(|| &s[p.len()..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tag_reply_and_forward() {
        let t = TitleInfo::parse("[新聞] 台積電");
        assert_eq!(t.tag.as_deref(), Some("新聞"));
        assert!(!t.is_reply && !t.is_forward);
        let t = TitleInfo::parse("Re: [新聞] 台積電");
        assert_eq!(t.tag.as_deref(), Some("新聞"));
        assert!(t.is_reply);
        let t = TitleInfo::parse("Fw: [情報] x");
        assert!(t.is_forward);
        assert_eq!(t.tag.as_deref(), Some("情報"));
        let t = TitleInfo::parse("RE: Fw: ［新聞］ x");
        assert!(t.is_reply && t.is_forward);
        assert_eq!(t.tag.as_deref(), Some("新聞"));
        assert_eq!(TitleInfo::parse("沒有標籤").tag, None);
        assert_eq!(TitleInfo::parse("[ unclosed").tag, None);
    }

    #[test]
    fn every_bracket_form_gives_the_same_trimmed_tag() {
        for title in [
            "[新聞] 台積電",
            "［新聞］台積電",
            "【新聞】台積電董事會核准資本預算",
            "【 新聞 】 台積電",
            "Re: 【新聞】台積電",
            "Fw:［ 新聞］x",
        ] {
            assert_eq!(
                TitleInfo::parse(title).tag.as_deref(),
                Some("新聞"),
                "{title}"
            );
        }
        let t = TitleInfo::parse("Re: 【新聞】台積電");
        assert!(t.is_reply && !t.is_forward);
        // A bracket only closes its own kind.
        assert_eq!(TitleInfo::parse("【新聞] x").tag, None);
        assert_eq!(TitleInfo::parse("[新聞】 x").tag, None);
        assert_eq!(TitleInfo::parse("【】 x").tag, None);
    }
}
