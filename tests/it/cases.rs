//! The cases of issue 13 (`../shared/cases/`: `tag-brackets`,
//! `source-link-cjk`, `source-link-punctuation`, `discord-long-link`), each
//! with its expected value, through the real binary's `preview` as the
//! cases' READMEs run it. The pages are copied into `tests/fixtures/<case>/`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use ptt_relay::filter::{Filter, PostView};
use ptt_relay::ptt::parse_index;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::telegram_html;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `ptt-relay preview <case page> --format <format>`, in an empty working
/// directory with an empty environment: its stdout (the run must succeed).
fn preview(page: &str, format: &str) -> String {
    let dir = TempDir::new().expect("temp dir");
    let mut cmd = Command::cargo_bin("ptt-relay").expect("the ptt-relay binary");
    cmd.env_clear().current_dir(dir.path());
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    let path = case(page);
    let out = cmd
        .args([
            "preview",
            path.to_str().expect("UTF-8 path"),
            "--format",
            format,
        ])
        .output()
        .expect("running ptt-relay");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    assert!(
        out.status.success(),
        "preview {page} --format {format}: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json(page: &str) -> Value {
    serde_json::from_str(&preview(page, "json")).expect("one JSON digest")
}

fn discord(page: &str) -> Value {
    serde_json::from_str(&preview(page, "discord")).expect("one Discord body")
}

fn telegram(page: &str) -> telegram_html::Parsed {
    let html = preview(page, "telegram");
    telegram_html::parse(html.trim_end_matches('\n')).unwrap_or_else(|e| panic!("{e}\n{html}"))
}

/// The Discord embed's 原文連結 field value, or the description when the
/// address was moved there.
fn discord_text(body: &Value) -> String {
    let e = &body["embeds"][0];
    let fields = e["fields"].as_array().expect("fields");
    let mut all = vec![e["description"].as_str().unwrap_or_default().to_owned()];
    all.extend(
        fields
            .iter()
            .map(|f| f["value"].as_str().unwrap_or_default().to_owned()),
    );
    all.join("\n")
}

fn source_field(body: &Value) -> Option<String> {
    body["embeds"][0]["fields"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == "原文連結")
        .and_then(|f| f["value"].as_str().map(str::to_owned))
}

/// The source address as the JSON has it, whole in the Telegram href and in
/// the Discord 原文連結 field.
fn assert_source_everywhere(page: &str, want: &str) {
    assert_eq!(json(page)["source_url"], want, "{page}: JSON source_url");
    let tg = telegram(page);
    assert_eq!(
        tg.links.get(1).map(|l| l.href.as_str()),
        Some(want),
        "{page}: Telegram 原文連結 href"
    );
    assert_eq!(
        source_field(&discord(page)).as_deref(),
        Some(want),
        "{page}: Discord 原文連結 field"
    );
}

const YAHOO_CJK: &str = "https://tw.stock.yahoo.com/news/%E5%8F%B0%E7%A9%8D%E9%9B%BB%E6%B3%95%E8%AA%AA%E6%9C%83%E5%89%8D%E5%A4%95-%E5%A4%96%E8%B3%87%E9%80%A3%E4%B8%89%E8%B2%B7%E8%B6%85-023015123.html";

#[test]
fn source_link_cjk_keeps_the_chinese_path_and_the_control_is_unchanged() {
    assert_source_everywhere("source-link-cjk/article_cjk_path.html", YAHOO_CJK);
    assert_source_everywhere(
        "source-link-cjk/article_percent_encoded.html",
        "https://news.example.com.tw/search?q=%E5%8F%B0%E7%A9%8D%E9%9B%BB&page=2",
    );
    // The reader sees the address in Chinese, not its percent-encoding.
    let tg = telegram("source-link-cjk/article_cjk_path.html");
    assert_eq!(
        tg.links[1].text,
        "https://tw.stock.yahoo.com/news/台積電法說會前夕-外資連三買超-023015123.html"
    );
}

#[test]
fn source_link_punctuation_leaves_the_bracket_and_the_full_stop_out() {
    assert_source_everywhere(
        "source-link-punctuation/article_paren.html",
        "https://tinyurl.com/2p8abcd",
    );
    assert_source_everywhere(
        "source-link-punctuation/article_period.html",
        "https://news.example.com.tw/a/20261130123",
    );
}

#[test]
fn tag_brackets_lenticular_tag_is_read_and_relayed_by_the_default_filter() {
    let v = json("tag-brackets/article_lenticular.html");
    assert_eq!(v["tag"], "新聞");
    let title = v["title"].as_str().expect("title");
    assert_eq!(title, "【新聞】台積電董事會核准資本預算");
    let default = Filter::parse(&[]).expect("the default filter");
    assert!(default.matches_post(PostView {
        title,
        author: None
    }));
}

#[test]
fn tag_brackets_every_form_is_a_tag_in_index_rows_too() {
    let page = std::fs::read_to_string(case("index_Stock_newest.html")).expect("index fixture");
    let page = page
        .replacen("[新聞]", "【新聞】", 1)
        .replacen("[新聞]", "［ 新聞 ］", 1);
    let rows = parse_index(&page).rows;
    let news: Vec<_> = rows
        .iter()
        .filter(|r| r.tag.as_deref() == Some("新聞"))
        .collect();
    assert_eq!(news.len(), 3, "{rows:#?}");
    assert!(
        news.iter()
            .any(|r| r.title.starts_with("【新聞】") && !r.is_reply)
    );
    assert!(
        news.iter()
            .any(|r| r.title.starts_with("Re: ［ 新聞 ］") && r.is_reply)
    );
}

const LONG: &str = "discord-long-link/article_long_limits.html";
const LONG_POST: &str = "https://www.ptt.cc/bbs/Stock/M.1764476000.A.5A9.html";

#[test]
fn discord_long_link_is_whole_or_absent_and_every_limit_is_met() {
    let source = json(LONG)["source_url"]
        .as_str()
        .expect("a source_url")
        .to_owned();
    assert_eq!(source.chars().count(), 1_577);
    assert!(source.starts_with("https://news.google.com/rss/articles/CBMi"));
    assert!(source.ends_with("?oc=5&hl=zh-TW&gl=TW&ceid=TW:zh-Hant"));

    let body = discord(LONG);
    let e = &body["embeds"][0];
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    assert!(chars(&e["title"]) <= 256);
    assert!(chars(&e["description"]) <= 4096);
    let fields = e["fields"].as_array().expect("fields");
    for f in fields {
        assert!(chars(&f["value"]) <= 1024, "{f}");
    }
    let total = chars(&e["title"])
        + chars(&e["description"])
        + chars(&e["footer"]["text"])
        + fields
            .iter()
            .map(|f| chars(&f["name"]) + chars(&f["value"]))
            .sum::<usize>();
    assert!(total <= 6000, "{total}");
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(e["url"], LONG_POST);
    // No cut copy of the address: every occurrence of its start is the
    // whole address. The description had room, so it is there.
    let text = discord_text(&body);
    let start = &source[..40];
    let occurrences = text.matches(start).count();
    assert_eq!(text.matches(source.as_str()).count(), occurrences, "{text}");
    assert_eq!(occurrences, 1, "the whole address, once: {text}");
}

#[test]
fn discord_long_link_telegram_stays_within_4096_with_the_whole_href() {
    let source = json(LONG)["source_url"].as_str().unwrap().to_owned();
    let tg = telegram(LONG);
    assert!(tg.utf16_len() <= 4096, "{}", tg.utf16_len());
    assert_eq!(tg.links[0].href, LONG_POST);
    assert_eq!(tg.links[1].href, source);
    assert!(!tg.text.contains(&source[..40]) || tg.text.contains(&source));
}
