//! Subscription filters: `tag:` `kw:` `not:` `author:` `push:` `re:` `fw:`
//! `stock:` `sector:` (and `hot:`, decided over time by the tally
//! tracker; `top:`, a daily leaderboard instead of single posts), matched case-insensitively after NFKC normalisation,
//! and the delivery options `silent:` and `preview:` ([`DeliveryOptions`]),
//! which say how a matching post is sent rather than whether.

use unicode_normalization::UnicodeNormalization;

use crate::digest::Digest;
pub use crate::digest::Hot;
use crate::ptt::TitleInfo;
use crate::ptt::title::is_tag_bracket;

/// The default tag of a subscription.
pub const DEFAULT_TAG: &str = "新聞";
/// Most words a subscription may have.
pub const MAX_WORDS: usize = 20;
/// Longest word, in characters.
pub const MAX_WORD_CHARS: usize = 64;
/// Largest `push:` threshold.
pub const MAX_PUSH: u32 = 999;
/// Largest rise of `hot:N/M`.
pub const MAX_HOT_RISE: u32 = 999;
/// Longest window of `hot:N/M`, in minutes.
pub const MAX_HOT_MINUTES: u32 = 60;
/// Fewest posts of a `top:N` leaderboard (and of `/top N`).
pub const TOP_MIN: u8 = 3;
/// Most posts of a `top:N` leaderboard (and of `/top N`).
pub const TOP_MAX: u8 = 20;

/// NFKC, then lower case: full-width `ＡＩ` equals `ai`. NFKC again after
/// lowering, so that normalising twice changes nothing: `T` + U+035A +
/// U+0344 lowers to a `t` that composes with its diaeresis (`ẗ`).
pub fn normalize(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase().nfkc().collect()
}

/// Why filter words were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A word with no known key.
    #[error("unknown word {0:?}")]
    UnknownWord(String),
    /// Two keys that exclude each other (`top:` with `hot:`).
    #[error("{0} and {1} cannot be used together")]
    Conflict(&'static str, &'static str),
    /// A key with a bad value.
    #[error("bad value for {key}: {value:?}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
    },
    /// A key given twice that may appear once.
    #[error("{0} given twice")]
    Repeated(&'static str),
    /// Too many words.
    #[error("too many words")]
    TooManyWords,
    /// A word over the length limit.
    #[error("word too long: {0:?}")]
    WordTooLong(String),
    /// A `stock:` or `sector:` value that names no listed company or
    /// industry group, with the closest ones (`2330 台積電`, `半導體業`).
    #[error("unknown {key}: {value:?} (closest: {})", closest.join(", "))]
    NotListed {
        /// `stock` or `sector`.
        key: &'static str,
        /// The value (normalised).
        value: String,
        /// The closest codes and names, or groups, best first.
        closest: Vec<String>,
    },
}

/// Which tag a subscription wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// `tag:*`: any tag, or none.
    Any,
    /// One tag (normalised).
    Is(String),
}

/// A parsed subscription filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// `tag:` (default 新聞).
    pub tag: TagFilter,
    /// `kw:`: all must appear in the title (normalised).
    pub kw: Vec<String>,
    /// `not:`: none may appear in the title (normalised).
    pub not: Vec<String>,
    /// `author:` (normalised).
    pub author: Option<String>,
    /// `push:N`: relay once the net push reaches N.
    pub push: Option<u32>,
    /// `re:yes`: replies too.
    pub re: bool,
    /// `fw:yes`: forwards too.
    pub fw: bool,
    /// `silent:yes`: delivered without a notification.
    pub silent: bool,
    /// `preview:source|ptt|off`: this subscription's link preview (the
    /// platform's setting when `None`).
    pub preview: Option<Preview>,
    /// `stock:`: codes of listed companies (any may be mentioned, see
    /// [`crate::stocks`]); with `sector:`, any of either.
    pub stocks: Vec<String>,
    /// `sector:`: industry groups (any company of one mentioned).
    pub sectors: Vec<String>,
    /// `hot:N/M`: relay once the net push rose by N within M minutes
    /// (decided by the tally tracker, never at first sight).
    pub hot: Option<Hot>,
    /// `top:N` ([`TOP_MIN`]–[`TOP_MAX`]): no single posts; one message a
    /// Taipei day ranking the day's N matching posts by net push, edited
    /// live (see `relay::leaderboard`).
    pub top: Option<u8>,
}

/// What a message's link preview shows (`preview:` word; Telegram's
/// `telegram.link_preview` setting uses the same three values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preview {
    /// The news source's link, else the post's.
    Source,
    /// The PTT post's link.
    Ptt,
    /// No preview.
    Off,
}

impl Preview {
    /// The word's value: `source`, `ptt` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preview::Source => "source",
            Preview::Ptt => "ptt",
            Preview::Off => "off",
        }
    }

    /// Reads `source`, `ptt` or `off` (already normalised).
    pub fn parse(v: &str) -> Option<Preview> {
        match v {
            "source" => Some(Preview::Source),
            "ptt" => Some(Preview::Ptt),
            "off" => Some(Preview::Off),
            _ => None,
        }
    }
}

/// How one message is sent to one destination, decided from the
/// subscriptions of that destination that match the post
/// ([`DeliveryOptions::merge`]). Platforms without such a feature ignore
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryOptions {
    /// No notification (Telegram `disable_notification`, Discord's
    /// `SUPPRESS_NOTIFICATIONS` flag).
    pub silent: bool,
    /// The link preview; `None`: the platform's own setting.
    pub preview: Option<Preview>,
    /// The `hot:N/M` the message was relayed for, shown as its `🔥` line:
    /// set only when every matching subscription is a `hot:` one (so the
    /// post reached this destination because it caught fire), from the
    /// lowest-numbered one.
    pub hot: Option<Hot>,
}

impl DeliveryOptions {
    /// One message for several matching subscriptions of one destination
    /// (DESIGN.md, "Delivery options"): silent only if every one is
    /// silent; the preview of the lowest-numbered one. `subs` are the
    /// matching subscriptions' ids and filters in any order; none gives
    /// the defaults (a loud message with the platform's preview).
    pub fn merge<'a>(subs: impl IntoIterator<Item = (i64, &'a Filter)>) -> DeliveryOptions {
        let mut silent = None;
        let mut all_hot = true;
        let mut lowest: Option<(i64, &Filter)> = None;
        for (id, f) in subs {
            silent = Some(silent.unwrap_or(true) && f.silent);
            all_hot &= f.hot.is_some();
            if lowest.is_none_or(|(low, _)| id < low) {
                lowest = Some((id, f));
            }
        }
        DeliveryOptions {
            silent: silent.unwrap_or(false),
            preview: lowest.and_then(|(_, f)| f.preview),
            hot: lowest.filter(|_| all_hot).and_then(|(_, f)| f.hot),
        }
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            tag: TagFilter::Is(DEFAULT_TAG.into()),
            kw: Vec::new(),
            not: Vec::new(),
            author: None,
            push: None,
            re: false,
            fw: false,
            silent: false,
            preview: None,
            stocks: Vec::new(),
            sectors: Vec::new(),
            hot: None,
            top: None,
        }
    }
}

/// What a filter looks at in a post.
#[derive(Debug, Clone, Copy)]
pub struct PostView<'a> {
    /// The PTT title.
    pub title: &'a str,
    /// The author id.
    pub author: Option<&'a str>,
}

impl<'a> PostView<'a> {
    /// The view of a digest.
    pub fn of_digest(d: &'a Digest) -> Self {
        PostView {
            title: d.title.as_deref().unwrap_or(""),
            author: d.author.as_deref(),
        }
    }
}

impl Filter {
    /// Parses filter words (`key:value`, values already unquoted).
    ///
    /// At most [`MAX_WORDS`] words besides one `tag:`, which
    /// [`canonical`](Self::canonical) always writes: so a filter of 20 `kw:`
    /// words is stored as 21 words and still parses back.
    pub fn parse(words: &[String]) -> Result<Filter, FilterError> {
        let is_tag = |w: &String| {
            w.split_once(':')
                .is_some_and(|(k, _)| normalize(k) == "tag")
        };
        let tag_words = words.iter().filter(|w| is_tag(w)).count();
        if words.len() - tag_words.min(1) > MAX_WORDS {
            return Err(FilterError::TooManyWords);
        }
        let mut f = Filter::default();
        let (mut tag_seen, mut re_seen, mut fw_seen) = (false, false, false);
        let mut silent_seen = false;
        for word in words {
            let (key, raw) = word
                .split_once(':')
                .ok_or_else(|| FilterError::UnknownWord(word.clone()))?;
            // Checked after normalisation, as `canonical` writes it back:
            // NFKC and lower case can lengthen a value (`㌀` → `アパート`,
            // `İ` → `i̇`), add a space (`¨` → ` ̈`) or make a quote (`＂`).
            let normalized = normalize(raw);
            let value = normalized.trim();
            if value.chars().count() > MAX_WORD_CHARS {
                return Err(FilterError::WordTooLong(word.clone()));
            }
            let bad = |key: &'static str| FilterError::BadValue {
                key,
                value: value.to_owned(),
            };
            // Empty, or with a quote that could not be written back.
            let unquotable = value.is_empty() || value.contains(QUOTES);
            match normalize(key).as_str() {
                "tag" => {
                    if std::mem::replace(&mut tag_seen, true) {
                        return Err(FilterError::Repeated("tag"));
                    }
                    // `[ 新聞 ]` and `【新聞】` are the tag `新聞`, as a title's tag is read.
                    let v = value.trim_matches(|c: char| is_tag_bracket(c) || c.is_whitespace());
                    if unquotable || v.is_empty() {
                        return Err(bad("tag"));
                    }
                    f.tag = if v == "*" {
                        TagFilter::Any
                    } else {
                        TagFilter::Is(v.to_owned())
                    };
                }
                "kw" => {
                    if unquotable {
                        return Err(bad("kw"));
                    }
                    f.kw.push(value.to_owned());
                }
                "not" => {
                    if unquotable {
                        return Err(bad("not"));
                    }
                    f.not.push(value.to_owned());
                }
                "author" => {
                    if f.author.is_some() {
                        return Err(FilterError::Repeated("author"));
                    }
                    if unquotable || value.contains(char::is_whitespace) {
                        return Err(bad("author"));
                    }
                    f.author = Some(value.to_owned());
                }
                "push" => {
                    if f.push.is_some() {
                        return Err(FilterError::Repeated("push"));
                    }
                    let n: u32 = value.parse().map_err(|_| bad("push"))?;
                    if !(1..=MAX_PUSH).contains(&n) {
                        return Err(bad("push"));
                    }
                    f.push = Some(n);
                }
                "re" => {
                    if std::mem::replace(&mut re_seen, true) {
                        return Err(FilterError::Repeated("re"));
                    }
                    f.re = yes_no(value).ok_or_else(|| bad("re"))?;
                }
                "fw" => {
                    if std::mem::replace(&mut fw_seen, true) {
                        return Err(FilterError::Repeated("fw"));
                    }
                    f.fw = yes_no(value).ok_or_else(|| bad("fw"))?;
                }
                "silent" => {
                    if std::mem::replace(&mut silent_seen, true) {
                        return Err(FilterError::Repeated("silent"));
                    }
                    f.silent = yes_no(value).ok_or_else(|| bad("silent"))?;
                }
                "preview" => {
                    if f.preview.is_some() {
                        return Err(FilterError::Repeated("preview"));
                    }
                    f.preview = Some(Preview::parse(value).ok_or_else(|| bad("preview"))?);
                }
                "stock" => match crate::stocks::lookup(value) {
                    Ok(c) => f.stocks.push(c.code.to_owned()),
                    Err(closest) => return Err(not_listed("stock", value, closest)),
                },
                "hot" => {
                    if f.hot.is_some() {
                        return Err(FilterError::Repeated("hot"));
                    }
                    f.hot = Some(parse_hot(value).ok_or_else(|| bad("hot"))?);
                }
                "top" => {
                    if f.top.is_some() {
                        return Err(FilterError::Repeated("top"));
                    }
                    let n: u8 = value.parse().map_err(|_| bad("top"))?;
                    if !(TOP_MIN..=TOP_MAX).contains(&n) {
                        return Err(bad("top"));
                    }
                    f.top = Some(n);
                }
                "sector" => match crate::stocks::group(value) {
                    Ok(g) => f.sectors.push(g.to_owned()),
                    Err(closest) => return Err(not_listed("sector", value, closest)),
                },
                _ => return Err(FilterError::UnknownWord(word.clone())),
            }
        }
        f.kw.sort();
        f.kw.dedup();
        f.not.sort();
        f.not.dedup();
        f.stocks.sort();
        f.stocks.dedup();
        f.sectors.sort();
        f.sectors.dedup();
        // A leaderboard ranks the day's posts; a rise relays single ones.
        if f.top.is_some() && f.hot.is_some() {
            return Err(FilterError::Conflict("top", "hot"));
        }
        Ok(f)
    }

    /// Parses a stored or configured filter string (the same words as
    /// `/subscribe`, quoting allowed).
    pub fn parse_str(s: &str) -> Result<Filter, FilterError> {
        let words = split_words(s).map_err(|_| FilterError::BadValue {
            key: "filter",
            value: s.to_owned(),
        })?;
        Filter::parse(&words)
    }

    /// The canonical words, stored and shown in `/list`; equal filters give
    /// equal strings.
    pub fn canonical(&self) -> String {
        let mut words = vec![match &self.tag {
            TagFilter::Any => "tag:*".to_owned(),
            TagFilter::Is(t) => format!("tag:{}", quote(t)),
        }];
        words.extend(self.kw.iter().map(|k| format!("kw:{}", quote(k))));
        words.extend(self.not.iter().map(|k| format!("not:{}", quote(k))));
        if let Some(a) = &self.author {
            words.push(format!("author:{a}"));
        }
        if let Some(n) = self.push {
            words.push(format!("push:{n}"));
        }
        if self.re {
            words.push("re:yes".into());
        }
        if self.fw {
            words.push("fw:yes".into());
        }
        if self.silent {
            words.push("silent:yes".into());
        }
        if let Some(p) = self.preview {
            words.push(format!("preview:{}", p.as_str()));
        }
        words.extend(self.stocks.iter().map(|c| format!("stock:{c}")));
        words.extend(self.sectors.iter().map(|g| format!("sector:{}", quote(g))));
        if let Some(h) = self.hot {
            words.push(format!("hot:{}/{}", h.rise, h.minutes));
        }
        if let Some(n) = self.top {
            words.push(format!("top:{n}"));
        }
        words.join(" ")
    }

    /// Every condition but `push:`, `stock:` and `sector:`: what can be
    /// decided from a title and an author (an index row); the other three
    /// need the article (its tally, its excerpt).
    pub fn matches_post(&self, post: PostView<'_>) -> bool {
        let info = TitleInfo::parse(post.title);
        if info.is_reply && !self.re || info.is_forward && !self.fw {
            return false;
        }
        if let TagFilter::Is(want) = &self.tag
            && info.tag.as_deref().map(normalize).as_deref() != Some(want.as_str())
        {
            return false;
        }
        let title = normalize(post.title);
        if !self.kw.iter().all(|k| title.contains(k.as_str())) {
            return false;
        }
        if self.not.iter().any(|k| title.contains(k.as_str())) {
            return false;
        }
        if let Some(a) = &self.author
            && post.author.map(normalize).as_deref() != Some(a.as_str())
        {
            return false;
        }
        true
    }

    /// The whole filter against a digest: `push:N` needs the net push at N,
    /// `stock:`/`sector:` a listed company of theirs named in the title or
    /// the excerpt. `hot:` is not decided here: a rise over time is not in
    /// a digest (see `relay::hot`).
    pub fn matches(&self, d: &Digest) -> bool {
        self.matches_post(PostView::of_digest(d))
            && self.push.is_none_or(|n| d.tally.net >= i64::from(n))
            && self.matches_stocks(d)
    }

    /// Every condition but `push:`: whether the post may count for a
    /// `top:` leaderboard, whose ranking and `push:` look at the tally
    /// later.
    pub fn matches_but_push(&self, d: &Digest) -> bool {
        self.matches_post(PostView::of_digest(d)) && self.matches_stocks(d)
    }

    /// Whether the post names a company of `stock:` or of `sector:` (true
    /// when there is neither). Every company mentioned counts, not only
    /// the digest's first five.
    fn matches_stocks(&self, d: &Digest) -> bool {
        if self.stocks.is_empty() && self.sectors.is_empty() {
            return true;
        }
        crate::stocks::mentioned(d.title.as_deref().unwrap_or(""), d.excerpt.as_deref())
            .iter()
            .any(|c| {
                self.stocks.iter().any(|s| s == c.code) || self.sectors.iter().any(|g| g == c.group)
            })
    }
}

/// Reads `N/M` (already normalised) as a [`Hot`]; `None` when malformed
/// or out of range.
pub fn parse_hot(v: &str) -> Option<Hot> {
    let (n, m) = v.split_once('/')?;
    let (rise, minutes) = (n.trim().parse().ok()?, m.trim().parse().ok()?);
    ((1..=MAX_HOT_RISE).contains(&rise) && (1..=MAX_HOT_MINUTES).contains(&minutes))
        .then_some(Hot { rise, minutes })
}

fn not_listed(key: &'static str, value: &str, closest: Vec<String>) -> FilterError {
    FilterError::NotListed {
        key,
        value: value.to_owned(),
        closest,
    }
}

fn yes_no(v: &str) -> Option<bool> {
    match normalize(v).as_str() {
        "yes" | "y" | "true" | "1" | "on" => Some(true),
        "no" | "n" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// What [`split_words`] reads as a quote: no value may hold
/// one, since a canonical word could not be read back.
const QUOTES: [char; 5] = ['"', '“', '”', '「', '」'];

fn quote(v: &str) -> String {
    if v.contains(char::is_whitespace) {
        format!("\"{v}\"")
    } else {
        v.to_owned()
    }
}

/// A `"` (or curly quote, 「」) without its pair, found by [`split_words`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unbalanced quote")]
pub struct UnbalancedQuote;

/// Splits words on whitespace (also the full-width space), keeping
/// double-quoted values together: `kw:"台積電 ADR"` is one word
/// `kw:台積電 ADR`. Curly quotes count as quotes.
pub fn split_words(s: &str) -> Result<Vec<String>, UnbalancedQuote> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut has_word = false;
    for c in s.chars() {
        match c {
            '"' | '“' | '”' | '「' | '」' => {
                in_quote = !in_quote;
                has_word = true;
            }
            c if (c.is_whitespace() || c == '\u{3000}') && !in_quote => {
                if has_word {
                    words.push(std::mem::take(&mut cur));
                    has_word = false;
                }
            }
            c => {
                cur.push(c);
                has_word = true;
            }
        }
    }
    if in_quote {
        return Err(UnbalancedQuote);
    }
    if has_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    fn post<'a>(title: &'a str) -> PostView<'a> {
        PostView {
            title,
            author: Some("SomeID"),
        }
    }

    #[test]
    fn default_filter_wants_news_but_not_replies_or_forwards() {
        let f = Filter::parse(&[]).unwrap();
        assert!(f.matches_post(post("[新聞] 台積電法說")));
        assert!(!f.matches_post(post("[閒聊] 今天")));
        assert!(!f.matches_post(post("Re: [新聞] 台積電法說")));
        assert!(!f.matches_post(post("Fw: [新聞] 台積電法說")));
        assert_eq!(f.canonical(), "tag:新聞");
    }

    #[test]
    fn a_tag_in_any_bracket_form_meets_the_tag_filter() {
        let f = Filter::parse(&[]).unwrap();
        assert!(f.matches_post(post("【新聞】台積電董事會核准資本預算")));
        assert!(f.matches_post(post("［ 新聞 ］台積電")));
        assert!(!f.matches_post(post("Re: 【新聞】台積電")));
        assert_eq!(
            Filter::parse_str("tag:【新聞】").unwrap(),
            Filter::parse_str("tag:新聞").unwrap()
        );
    }

    #[test]
    fn keywords_are_nfkc_and_case_insensitive() {
        let f = Filter::parse(&words(&["kw:ＡＩ", "not:廣告", "author:someid"])).unwrap();
        assert!(f.matches_post(post("[新聞] 輝達ai晶片")));
        assert!(!f.matches_post(post("[新聞] 輝達晶片")));
        assert!(!f.matches_post(post("[新聞] AI 廣告")));
        let other = PostView {
            title: "[新聞] AI",
            author: Some("other"),
        };
        assert!(!f.matches_post(other));
    }

    #[test]
    fn any_tag_replies_and_forwards_can_be_asked_for() {
        let f = Filter::parse(&words(&["tag:*", "re:yes", "fw:yes"])).unwrap();
        assert!(f.matches_post(post("Re: [閒聊] x")));
        assert!(f.matches_post(post("沒有標籤")));
        assert_eq!(f.canonical(), "tag:* re:yes fw:yes");
    }

    #[test]
    fn bad_words_are_refused() {
        assert!(matches!(
            Filter::parse(&words(&["push:0"])),
            Err(FilterError::BadValue { key: "push", .. })
        ));
        assert!(matches!(
            Filter::parse(&words(&["push:1000"])),
            Err(FilterError::BadValue { .. })
        ));
        assert!(matches!(
            Filter::parse(&words(&["color:red"])),
            Err(FilterError::UnknownWord(_))
        ));
        assert!(matches!(
            Filter::parse(&words(&["re:maybe"])),
            Err(FilterError::BadValue { key: "re", .. })
        ));
        let many: Vec<String> = (0..21).map(|i| format!("kw:{i}")).collect();
        assert_eq!(Filter::parse(&many), Err(FilterError::TooManyWords));
        let long = format!("kw:{}", "長".repeat(65));
        assert!(matches!(
            Filter::parse(&[long]),
            Err(FilterError::WordTooLong(_))
        ));
    }

    #[test]
    fn canonical_form_parses_back_to_the_same_filter() {
        // Found by fuzz/fuzz_targets/command.rs: each was accepted but its
        // canonical form (what the store keeps) failed to parse or parsed to
        // another filter.
        let mut many: Vec<String> = (0..20).map(|i| format!("kw:w{i}")).collect();
        let twenty = Filter::parse(&many).unwrap();
        assert_eq!(Filter::parse_str(&twenty.canonical()), Ok(twenty));
        many.push("tag:x".into());
        assert!(Filter::parse(&many).is_ok());
        many.push("re:yes".into());
        assert_eq!(Filter::parse(&many), Err(FilterError::TooManyWords));
        for s in [
            "tag:\"[ x ]\"",
            "tag:［x］",
            "tag:＊",
            "author:¨",
            "kw:㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀㌀",
            "kw:İİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİİ",
            "kw:a＂b",
            "kw:｢x｣",
            "tag:\"[ ] ]\"",
            "tag:\"{\u{c} sub T\u{35a}\u{344}\u{35b}\"[",
        ] {
            if let Ok(f) = Filter::parse_str(s) {
                assert_eq!(Filter::parse_str(&f.canonical()), Ok(f), "{s}");
            }
        }
        assert_eq!(
            Filter::parse_str("tag:\"[ 新聞 ]\"").unwrap().tag,
            TagFilter::Is("新聞".into())
        );
    }

    #[test]
    fn delivery_options_are_words_that_list_and_parse_back() {
        let f = Filter::parse(&words(&["preview:OFF", "silent:yes", "kw:台積電"])).unwrap();
        assert!(f.silent);
        assert_eq!(f.preview, Some(Preview::Off));
        assert_eq!(f.canonical(), "tag:新聞 kw:台積電 silent:yes preview:off");
        assert_eq!(Filter::parse_str(&f.canonical()), Ok(f.clone()));
        // They say how, not whether: the same posts match.
        assert!(f.matches_post(post("[新聞] 台積電法說")));
        let quiet = Filter::parse(&words(&["silent:no"])).unwrap();
        assert_eq!(quiet.canonical(), "tag:新聞");
        assert!(matches!(
            Filter::parse(&words(&["preview:big"])),
            Err(FilterError::BadValue { key: "preview", .. })
        ));
        assert_eq!(
            Filter::parse(&words(&["silent:yes", "silent:no"])),
            Err(FilterError::Repeated("silent"))
        );
        assert_eq!(
            Filter::parse(&words(&["preview:ptt", "preview:off"])),
            Err(FilterError::Repeated("preview"))
        );
    }

    #[test]
    fn top_takes_3_to_20_once_never_with_hot_and_lists_back() {
        let f = Filter::parse(&words(&["top:5", "kw:台積電"])).unwrap();
        assert_eq!(f.top, Some(5));
        assert_eq!(f.canonical(), "tag:新聞 kw:台積電 top:5");
        assert_eq!(Filter::parse_str(&f.canonical()).unwrap(), f);
        for bad in ["top:2", "top:21", "top:0", "top:x", "top:", "top:-5"] {
            assert!(
                matches!(
                    Filter::parse(&words(&[bad])),
                    Err(FilterError::BadValue { key: "top", .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            Filter::parse(&words(&["top:5", "top:6"])),
            Err(FilterError::Repeated("top"))
        );
        assert_eq!(
            Filter::parse(&words(&["top:5", "hot:20/10"])),
            Err(FilterError::Conflict("top", "hot"))
        );
    }

    #[test]
    fn hot_takes_a_rise_and_minutes_in_range_and_lists_back() {
        let f = Filter::parse(&words(&["hot:20/10", "kw:台積電"])).unwrap();
        assert_eq!(
            f.hot,
            Some(Hot {
                rise: 20,
                minutes: 10
            })
        );
        assert_eq!(f.canonical(), "tag:新聞 kw:台積電 hot:20/10");
        assert_eq!(Filter::parse_str(&f.canonical()), Ok(f));
        assert_eq!(
            Hot {
                rise: 20,
                minutes: 10
            }
            .line(),
            "🔥 +20 in 10 min"
        );
        assert!(
            Filter::parse(&words(&["hot:１/６０"])).is_ok(),
            "full-width digits"
        );
        for bad in [
            "hot:0/10",
            "hot:1000/10",
            "hot:5/0",
            "hot:5/61",
            "hot:5",
            "hot:a/b",
            "hot:5/10/2",
            "hot:-1/5",
        ] {
            assert!(
                matches!(
                    Filter::parse(&words(&[bad])),
                    Err(FilterError::BadValue { key: "hot", .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            Filter::parse(&words(&["hot:5/10", "hot:6/10"])),
            Err(FilterError::Repeated("hot"))
        );
    }

    #[test]
    fn the_fire_line_shows_only_when_every_matching_subscription_is_hot() {
        let hot = Filter::parse(&words(&["hot:20/10"])).unwrap();
        let hotter = Filter::parse(&words(&["hot:5/3"])).unwrap();
        let plain = Filter::default();
        assert_eq!(
            DeliveryOptions::merge([(4, &hot), (2, &hotter)]).hot,
            Some(Hot {
                rise: 5,
                minutes: 3
            })
        );
        assert_eq!(DeliveryOptions::merge([(4, &hot), (9, &plain)]).hot, None);
    }

    #[test]
    fn one_message_is_silent_only_if_every_matching_subscription_is() {
        let loud = Filter::parse(&words(&["preview:ptt"])).unwrap();
        let silent = Filter::parse(&words(&["silent:yes", "preview:off"])).unwrap();
        let plain = Filter::default();
        let both = DeliveryOptions::merge([(3, &silent), (2, &loud)]);
        assert!(!both.silent);
        assert_eq!(both.preview, Some(Preview::Ptt), "#2 is the lowest");
        let only_silent = DeliveryOptions::merge([(7, &silent), (5, &silent)]);
        assert!(only_silent.silent);
        assert_eq!(only_silent.preview, Some(Preview::Off));
        // The lowest-numbered one without a preview word: the platform's.
        assert_eq!(
            DeliveryOptions::merge([(1, &plain), (2, &silent)]).preview,
            None
        );
        assert_eq!(DeliveryOptions::merge([]), DeliveryOptions::default());
    }

    #[test]
    fn canonical_form_is_order_independent() {
        let a = Filter::parse(&words(&["kw:b", "kw:A"])).unwrap();
        let b = Filter::parse(&words(&["kw:a", "kw:B", "tag:新聞"])).unwrap();
        assert_eq!(a.canonical(), b.canonical());
        let spaced = Filter::parse(&words(&["kw:台積電 ADR"])).unwrap();
        assert_eq!(spaced.canonical(), "tag:新聞 kw:\"台積電 adr\"");
        assert_eq!(Filter::parse_str(&spaced.canonical()).unwrap(), spaced);
    }
}
