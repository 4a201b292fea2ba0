//! The digest renderers (Telegram HTML, Discord embed, console text) on the
//! fixture pages and on hand-made hostile digests, plus the tests of the
//! Telegram HTML validator in `tests/it/support/telegram_html.rs`.

use crate::support;

use chrono::{DateTime, FixedOffset};
use ptt_relay::chat::discord::render as discord;
use ptt_relay::chat::telegram::render as telegram;
use ptt_relay::digest::{Digest, text};
use ptt_relay::preview::digest_of;
use ptt_relay::ptt::Tally;
use serde_json::{Value, json};
use support::telegram_html::{self, validate};

const FIXTURES: &[&str] = &[
    "article_hostile_title.html",
    "article_long_excerpt.html",
    "article_no_metalines.html",
    "article_reply_news.html",
    "article_stock_news.html",
    "article_stock_news_variant.html",
];

const HOSTILE_TITLE: &str = "[新聞] A<B> & C @everyone";
const POST_URL: &str = "https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html";

fn fixture_digest(name: &str) -> Digest {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let html = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    digest_of(&html, &path, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn tally(push: u32, boo: u32, neutral: u32) -> Tally {
    Tally {
        push,
        boo,
        neutral,
        net: i64::from(push) - i64::from(boo),
        total: push + boo + neutral,
    }
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("RFC 3339")
}

/// A complete digest, like the one in DESIGN.md.
fn sample() -> Digest {
    Digest {
        board: "Stock".into(),
        id: "M.1769577959.A.C89".into(),
        url: POST_URL.into(),
        title: Some("[新聞] 傳中國已批准進口首批輝達H200 AI晶片".into()),
        tag: Some("新聞".into()),
        is_reply: false,
        is_forward: false,
        author: Some("someid".into()),
        posted_at: Some(at("2026-01-28T13:25:57+08:00")),
        original_title: Some("Exclusive: China gives green light to first imports".into()),
        source_url: Some("https://tinyurl.com/25mewn6c".into()),
        published: Some("January 28, 2026 12:33 PM GMT+8".into()),
        reporter: Some("Reporting by Reuters staff".into()),
        excerpt: Some("Jan 28 (Reuters) - China has approved the first imports.".into()),
        stocks: Vec::new(),
        hot: None,
        tally: tally(24, 3, 15),
    }
}

/// `len` characters of CJK, emoji (2 UTF-16 units), HTML and markdown
/// specials, and spaces.
fn hostile_text(len: usize) -> String {
    const PIECES: &[&str] = &[
        "台積電",
        "😀",
        "<",
        "&",
        ">",
        "\"",
        "*",
        "_",
        " ",
        "ab",
        "`",
    ];
    PIECES
        .iter()
        .cycle()
        .flat_map(|p| p.chars())
        .take(len)
        .collect()
}

fn long_digest() -> Digest {
    Digest {
        excerpt: Some(hostile_text(10_000)),
        ..sample()
    }
}

fn assert_tally_shown(s: &str, d: &Digest) {
    for part in [
        format!("推 {}", d.tally.push),
        format!("噓 {}", d.tally.boo),
        format!("→ {}", d.tally.neutral),
    ] {
        assert!(s.contains(&part), "{part:?} missing from {s:?}");
    }
}

// ---------------------------------------------------------------------------
// The validator itself.

#[test]
fn validator_accepts_every_supported_tag_and_decodes_entities() {
    let html = concat!(
        "<b>b</b><strong>st</strong><i>i</i><em>em</em><u>u</u><ins>ins</ins>",
        "<s>s</s><strike>k</strike><del>d</del>",
        "<span class=\"tg-spoiler\">sp</span><tg-spoiler>tg</tg-spoiler>",
        "<a href=\"https://x.example/?a=1&amp;b=&quot;2&quot;\">link</a>",
        "<code>c</code><pre><code class=\"language-rust\">fn</code></pre><pre>p</pre>",
        "<blockquote>q</blockquote><blockquote expandable>e</blockquote>",
        "<b>x <i>y <u>z</u></i></b>",
        " &lt;&gt;&amp;&quot;&#39;&#x41; 😀\n",
    );
    let parsed = telegram_html::parse(html).unwrap();
    assert_eq!(parsed.text, "bstiemuinsskdsptglinkcfnpqex y z <>&\"'A 😀\n");
    assert_eq!(parsed.links.len(), 1);
    assert_eq!(parsed.links[0].href, "https://x.example/?a=1&b=\"2\"");
    assert_eq!(parsed.links[0].text, "link");
    // The emoji is two UTF-16 units; every entity is one.
    assert_eq!(parsed.utf16_len(), parsed.text.chars().count() + 1);
    assert_eq!(telegram_html::visible_utf16_len("&amp;😀").unwrap(), 3);
    assert_eq!(
        validate("plain \"text\" 台積電").unwrap(),
        "plain \"text\" 台積電"
    );
}

#[test]
fn validator_rejects_what_telegram_rejects() {
    let bad = [
        ("A<B>", "<B>"),
        ("a < b", "tag"),
        ("a > b", "raw '>'"),
        ("fish & chips", "raw '&'"),
        ("&nbsp;", "unsupported entity"),
        ("&#;", "unsupported entity"),
        ("<b>open", "never closed"),
        ("close</b>", "closes nothing"),
        ("<b><i>x</b></i>", "improper nesting"),
        ("<div>x</div>", "unsupported tag"),
        ("<script>x</script>", "unsupported tag"),
        ("<B>x</B>", "lowercase"),
        ("<br/>", "malformed"),
        ("<span>x</span>", "tg-spoiler"),
        ("<span class=\"red\">x</span>", "tg-spoiler"),
        ("<a>x</a>", "no href"),
        ("<a href=\"\">x</a>", "empty href"),
        ("<a href=https://x.example>x</a>", "double-quoted"),
        ("<a href='https://x.example'>x</a>", "double-quoted"),
        ("<a href=\"https://x.example/\"q\">x</a>", "attribute"),
        ("<a href=\"https://x.example/?a&b\">x</a>", "raw '&'"),
        ("<a href=\"x\" title=\"t\">x</a>", "unsupported attribute"),
        (
            "<a href=\"x\"><a href=\"y\">x</a></a>",
            "inside another <a>",
        ),
        ("<b class=\"x\">x</b>", "unsupported attribute"),
        ("<code><b>x</b></code>", "inside <code>"),
        ("<pre><b>x</b></pre>", "inside <pre>"),
        (
            "<code class=\"language-rust\">x</code>",
            "only inside <pre>",
        ),
        (
            "<blockquote><blockquote>x</blockquote></blockquote>",
            "nested",
        ),
        ("<blockquote expandable=\"yes\">x</blockquote>", "no value"),
        ("<b", "unterminated"),
    ];
    for (html, why) in bad {
        let err = validate(html).expect_err(html);
        assert!(err.contains(why), "{html:?}: expected {why:?} in {err:?}");
    }
}

// ---------------------------------------------------------------------------
// Telegram.

#[test]
fn telegram_escapes_a_hostile_title_and_links_it_to_the_post() {
    let d = Digest {
        title: Some(HOSTILE_TITLE.into()),
        ..sample()
    };
    let html = telegram::render(&d);
    let parsed = telegram_html::parse(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    assert!(
        html.contains("[新聞] A&lt;B&gt; &amp; C @everyone"),
        "title not escaped: {html}"
    );
    assert!(!html.contains("A<B>"), "{html}");
    assert!(
        html.contains(&format!("href=\"{POST_URL}\"")),
        "href not quoted: {html}"
    );
    let title_link = parsed
        .links
        .iter()
        .find(|l| l.text == HOSTILE_TITLE)
        .unwrap_or_else(|| panic!("no link with the title text: {:?}", parsed.links));
    assert_eq!(title_link.href, POST_URL);
    assert!(parsed.text.starts_with(HOSTILE_TITLE), "{}", parsed.text);
}

#[test]
fn telegram_cuts_a_huge_excerpt_within_4096_utf16_units_and_keeps_the_rest() {
    let d = long_digest();
    let html = telegram::render(&d);
    let parsed = telegram_html::parse(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    let len = parsed.utf16_len();
    assert!(len <= 4096, "visible length {len} > 4096");
    // The excerpt was cut, not dropped.
    assert!(len > 3500, "visible length {len}: excerpt dropped?");
    assert!(parsed.text.ends_with('…'), "{}", parsed.text);
    assert!(!parsed.text.contains('\u{FFFD}'), "a character was split");
    let title = d.title.as_deref().unwrap();
    assert!(parsed.text.contains(title), "title missing");
    assert!(parsed.text.contains(d.original_title.as_deref().unwrap()));
    assert!(parsed.text.contains("原文標題"));
    assert!(parsed.text.contains("原文連結"));
    assert!(
        parsed
            .links
            .iter()
            .any(|l| Some(l.href.as_str()) == d.source_url.as_deref()),
        "source link missing: {:?}",
        parsed.links
    );
    assert!(parsed.links.iter().any(|l| l.href == POST_URL));
    assert_tally_shown(&parsed.text, &d);
    // The excerpt shown is a prefix of the real one.
    let shown = parsed.text.rsplit("\n\n").next().unwrap();
    let shown = shown.strip_suffix('…').unwrap();
    assert!(shown.len() > 100, "{shown:?}");
    assert!(d.excerpt.as_deref().unwrap().starts_with(shown));
}

#[test]
fn telegram_fits_even_when_every_field_is_huge() {
    let d = Digest {
        title: Some(hostile_text(5_000)),
        original_title: Some(hostile_text(5_000)),
        source_url: Some(format!("https://news.example.com/{}", "a".repeat(5_000))),
        author: Some(hostile_text(1_000)),
        ..long_digest()
    };
    let html = telegram::render(&d);
    let len = telegram_html::visible_utf16_len(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    assert!(len <= 4096, "visible length {len} > 4096");
    assert_tally_shown(&validate(&html).unwrap(), &d);
}

#[test]
fn telegram_keeps_href_attributes_intact_with_quotes_in_urls_and_titles() {
    let source = "https://news.example.com/a?q=\"x\"&y=<b>' onclick=\"alert(1)";
    let d = Digest {
        title: Some("[新聞] \"引號\" <a href=\"x\">".into()),
        source_url: Some(source.into()),
        ..sample()
    };
    let html = telegram::render(&d);
    let parsed = telegram_html::parse(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    let hrefs: Vec<&str> = parsed.links.iter().map(|l| l.href.as_str()).collect();
    // The source href is the whole address, percent-encoded where an href
    // needs it (issue 13): no quote or bracket is left to end the attribute.
    let encoded = "https://news.example.com/a?q=%22x%22&y=%3Cb%3E%27%20onclick=%22alert(1)";
    assert_eq!(url::Url::parse(source).unwrap().as_str(), encoded);
    assert_eq!(hrefs, vec![POST_URL, encoded], "{html}");
    assert_eq!(parsed.links[0].text, "[新聞] \"引號\" <a href=\"x\">");
    assert!(!html.contains("onclick=\""), "{html}");
}

#[test]
fn telegram_strips_terminal_controls_and_shows_the_byline() {
    let d = Digest {
        title: Some("[新聞] \u{1b}[31m紅字\u{7}".into()),
        ..sample()
    };
    let text = validate(&telegram::render(&d)).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.contains("紅字"));
    assert!(text.contains("someid"), "{text}");
    assert!(text.contains("2026-01-28 13:25"), "{text}");
    assert!(text.contains("Stock"), "{text}");
}

#[test]
fn telegram_status_line_is_escaped_too() {
    let html = telegram::render_with_status(&sample(), Some("<已刪除> & gone"));
    let text = validate(&html).unwrap_or_else(|e| panic!("{e}\n{html}"));
    assert!(text.starts_with("<已刪除> & gone\n"), "{text}");
}

#[test]
fn telegram_renders_every_fixture_as_valid_html() {
    for name in FIXTURES {
        let d = fixture_digest(name);
        let html = telegram::render(&d);
        let parsed = telegram_html::parse(&html).unwrap_or_else(|e| panic!("{name}: {e}\n{html}"));
        assert!(parsed.utf16_len() <= 4096, "{name}");
        assert!(
            parsed.links.iter().any(|l| l.href == d.url),
            "{name}: no link to {}",
            d.url
        );
        assert!(parsed.text.contains(d.display_title()), "{name}");
        assert_tally_shown(&parsed.text, &d);
        if let Some(source) = &d.source_url {
            assert!(
                parsed.links.iter().any(|l| &l.href == source),
                "{name}: source link"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Discord.

/// The characters Discord counts towards an embed's 6000, from its JSON.
fn counted_chars(embed: &Value) -> usize {
    let n = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    n(&embed["title"])
        + n(&embed["description"])
        + n(&embed["footer"]["text"])
        + n(&embed["author"]["name"])
        + embed["fields"].as_array().map_or(0, |fields| {
            fields.iter().map(|f| n(&f["name"]) + n(&f["value"])).sum()
        })
}

fn only_embed(body: &Value) -> &Value {
    let embeds = body["embeds"].as_array().expect("embeds array");
    assert_eq!(embeds.len(), 1, "{body:#}");
    &embeds[0]
}

fn assert_discord_limits(body: &Value) {
    let e = only_embed(body);
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    assert!(chars(&e["title"]) <= 256, "title {}", chars(&e["title"]));
    assert!(chars(&e["description"]) <= 4096, "description");
    assert!(chars(&e["footer"]["text"]) <= 2048, "footer");
    let fields = e["fields"].as_array().expect("fields");
    assert!(fields.len() <= 25);
    for f in fields {
        assert!(chars(&f["name"]) <= 256, "field name {f}");
        assert!(
            chars(&f["value"]) <= 1024,
            "field value {}",
            chars(&f["value"])
        );
        assert!(chars(&f["value"]) > 0, "empty field value {f}");
    }
    assert!(counted_chars(e) <= 6000, "total {}", counted_chars(e));
}

fn field_value<'a>(embed: &'a Value, name: &str) -> Option<&'a str> {
    embed["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == name)?["value"]
        .as_str()
}

#[test]
fn discord_body_never_pings_anyone() {
    let d = Digest {
        title: Some(HOSTILE_TITLE.into()),
        excerpt: Some("@here <@123456789> <@&42> @everyone".into()),
        ..sample()
    };
    let body = discord::message_body(&d, None);
    assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
    assert!(body.get("nonce").is_none() && body.get("enforce_nonce").is_none());
    let with_nonce = discord::message_body(&d, Some("ptt0123"));
    assert_eq!(with_nonce["allowed_mentions"], json!({ "parse": [] }));
    assert_eq!(with_nonce["nonce"], "ptt0123");
    assert_eq!(with_nonce["enforce_nonce"], true);
    // No user or role mention syntax survives in the description.
    let description = only_embed(&body)["description"].as_str().unwrap();
    assert!(!description.contains(" <@"), "{description}");
    assert_eq!(only_embed(&body)["title"], HOSTILE_TITLE);
    assert_eq!(only_embed(&body)["url"], POST_URL);
}

#[test]
fn discord_respects_every_limit_with_huge_fields() {
    let d = Digest {
        title: Some(hostile_text(1_000)),
        original_title: Some(hostile_text(1_000)),
        excerpt: Some(hostile_text(10_000)),
        ..sample()
    };
    let body = discord::message_body(&d, None);
    assert_discord_limits(&body);
    let e = discord::embed(&d);
    assert!(e.total_chars() <= 6000, "{}", e.total_chars());
    assert_eq!(e.total_chars(), counted_chars(only_embed(&body)));
    assert!(e.title.chars().count() <= 256);
    assert!(e.title.ends_with('…'), "{}", e.title);
    // The excerpt was cut with an ellipsis, not dropped.
    assert!(e.description.ends_with('…'), "{}", e.description);
    assert!(e.description.chars().count() > 1_000);
    assert_tally_shown(field_value(only_embed(&body), "推噓").unwrap(), &d);

    // Markdown-heavy text doubles when escaped: still within the limits.
    let stars = Digest {
        title: Some("*".repeat(1_000)),
        original_title: Some("_".repeat(1_000)),
        excerpt: Some("*_`|~".repeat(2_000)),
        source_url: Some(format!("https://news.example.com/{}", "a".repeat(3_000))),
        author: Some("x".repeat(3_000)),
        ..sample()
    };
    let body = discord::message_body(&stars, None);
    assert_discord_limits(&body);
    assert!(
        !only_embed(&body)["description"]
            .as_str()
            .unwrap()
            .ends_with("\\…")
    );
}

#[test]
fn discord_colour_follows_the_net_push() {
    let colour = |t: Tally| {
        let body = discord::message_body(
            &Digest {
                stocks: Vec::new(),
                hot: None,
                tally: t,
                ..sample()
            },
            None,
        );
        let c = only_embed(&body)["color"].as_u64().expect("color");
        ((c >> 16) & 0xff, (c >> 8) & 0xff, c & 0xff)
    };
    let (r, g, b) = colour(tally(5, 2, 0));
    assert!(g > r + 40 && g > b, "not green: {r} {g} {b}");
    let (r, g, b) = colour(tally(2, 5, 9));
    assert!(r > g + 40 && r > b + 40, "not red: {r} {g} {b}");
    let (r, g, b) = colour(tally(3, 3, 1));
    let (lo, hi) = (r.min(g).min(b), r.max(g).max(b));
    assert!(hi - lo < 40, "not grey: {r} {g} {b}");
    assert_eq!(colour(tally(0, 0, 0)), (r, g, b));
}

#[test]
fn discord_embed_has_timestamp_footer_and_tally() {
    let d = sample();
    let body = discord::message_body(&d, None);
    let e = only_embed(&body);
    let ts = e["timestamp"].as_str().expect("timestamp");
    assert_eq!(
        DateTime::parse_from_rfc3339(ts).unwrap(),
        d.posted_at.unwrap()
    );
    let footer = e["footer"]["text"].as_str().unwrap();
    for part in ["Stock", "someid", "2026-01-28 13:25"] {
        assert!(
            footer.contains(part),
            "{part} missing from footer {footer:?}"
        );
    }
    assert_tally_shown(field_value(e, "推噓").expect("tally field"), &d);
    assert!(
        e["fields"].as_array().unwrap().iter().any(|f| f["value"]
            .as_str()
            .unwrap()
            .contains("https://tinyurl.com/25mewn6c")),
        "source link field: {e:#}"
    );
    let description = e["description"].as_str().unwrap();
    assert!(description.contains("Exclusive: China gives green light"));
    assert!(description.contains("China has approved"));

    let undated = discord::message_body(
        &Digest {
            posted_at: None,
            ..sample()
        },
        None,
    );
    assert!(
        only_embed(&undated)
            .get("timestamp")
            .is_none_or(Value::is_null),
        "{undated:#}"
    );
}

#[test]
fn discord_nonce_is_short_stable_and_per_destination() {
    let a = discord::nonce("M.1769577959.A.C89", "discord:123456789012345678");
    assert!(a.chars().count() <= 25, "{a}");
    assert!(!a.is_empty());
    assert_eq!(
        a,
        discord::nonce("M.1769577959.A.C89", "discord:123456789012345678")
    );
    assert_ne!(
        a,
        discord::nonce("M.1769577959.A.C89", "discord:123456789012345679")
    );
    assert_ne!(
        a,
        discord::nonce("M.1769577959.A.C8A", "discord:123456789012345678")
    );
    // The boundary between post and destination matters.
    assert_ne!(discord::nonce("ab", "c"), discord::nonce("a", "bc"));
    let long = discord::nonce(&"M".repeat(500), &"9".repeat(500));
    assert!(long.chars().count() <= 25, "{long}");
}

#[test]
fn discord_renders_every_fixture_within_limits() {
    for name in FIXTURES {
        let d = fixture_digest(name);
        let body = discord::message_body(&d, None);
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }), "{name}");
        assert_discord_limits(&body);
        let e = only_embed(&body);
        assert_eq!(e["url"], d.url.as_str(), "{name}");
        assert_tally_shown(field_value(e, "推噓").unwrap(), &d);
        assert_eq!(
            e.get("timestamp").is_some(),
            d.posted_at.is_some(),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Console text.

fn assert_one_block(block: &str) {
    assert!(block.ends_with('\n'), "{block:?}");
    assert!(!block.ends_with("\n\n"), "{block:?}");
    assert!(!block.contains("\n\n"), "more than one block: {block:?}");
    assert!(!block.trim().is_empty());
}

#[test]
fn text_block_has_every_part() {
    let d = sample();
    let block = text::render(&d);
    assert_one_block(&block);
    assert!(block.contains(d.title.as_deref().unwrap()), "{block}");
    assert!(block.contains("原文標題"), "{block}");
    assert!(
        block.contains(d.original_title.as_deref().unwrap()),
        "{block}"
    );
    assert!(block.contains("原文連結"), "{block}");
    assert!(block.contains("https://tinyurl.com/25mewn6c"), "{block}");
    assert!(block.contains(POST_URL), "{block}");
    assert!(block.contains("someid"), "{block}");
    assert_tally_shown(&block, &d);
}

#[test]
fn text_block_strips_control_characters() {
    let d = Digest {
        title: Some("[新聞] \u{1b}[31m紅字\u{1b}[0m\r\n第二行\u{0}".into()),
        original_title: Some("\u{1b}]0;pwned\u{7}headline".into()),
        author: Some("evil\u{1b}[2J".into()),
        ..sample()
    };
    let block = text::render(&d);
    assert_one_block(&block);
    assert_eq!(block.lines().count(), 5, "{block}");
    let bad: Vec<char> = block
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(bad.is_empty(), "control characters {bad:?} in {block:?}");
    assert!(block.contains("紅字"));
    assert!(block.contains("第二行"));
}

#[test]
fn text_block_renders_every_fixture() {
    for name in FIXTURES {
        let d = fixture_digest(name);
        let block = text::render(&d);
        assert_one_block(&block);
        assert!(block.contains(d.display_title()), "{name}: {block}");
        assert!(block.contains(&d.url), "{name}: {block}");
        assert_tally_shown(&block, &d);
        if let Some(t) = &d.original_title {
            assert!(block.contains(&format!("原文標題：{t}")), "{name}: {block}");
        }
        if let Some(u) = &d.source_url {
            assert!(block.contains(&format!("原文連結：{u}")), "{name}: {block}");
        }
    }
}

#[test]
fn text_json_line_is_the_digest_json() {
    let d = sample();
    let line = text::render_json(&d);
    assert!(!line.contains('\n'));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["url"], POST_URL);
    assert_eq!(v["posted_at"], "2026-01-28T13:25:57+08:00");
    assert_eq!(
        v["tally"],
        json!({"push": 24, "boo": 3, "neutral": 15, "net": 21, "total": 42})
    );
}
