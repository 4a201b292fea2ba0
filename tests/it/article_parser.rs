//! The article parser and the news-field extractor over the project's own
//! fixture pages (`tests/fixtures/article_*.html`, written in PTT's markup).

use ptt_relay::ptt::article::board_and_id_from_url;
use ptt_relay::ptt::news::EXCERPT_MAX_CHARS;
use ptt_relay::ptt::{
    Article, NewsFields, Push, PushKind, Tally, extract_news, parse_article, post_url,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn parse_fixture(name: &str) -> Article {
    parse_article(&fixture(name)).unwrap_or_else(|| panic!("{name} has no #main-content"))
}

fn push(kind: PushKind, user: &str, content: &str, ip_time: &str) -> Push {
    Push {
        kind,
        user: user.to_owned(),
        content: content.to_owned(),
        ip_time: ip_time.to_owned(),
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn rfc3339(a: &Article) -> Option<String> {
    a.posted_at.map(|t| t.to_rfc3339())
}

fn url_of(a: &Article) -> Option<String> {
    a.board_and_id().map(|(b, id)| post_url(&b, &id))
}

#[test]
fn stock_news_post_every_article_field() {
    let a = parse_fixture("article_stock_news.html");
    let url = "https://www.ptt.cc/bbs/Stock/M.1769577957.A.1F2.html";
    assert_eq!(a.author, s("kaiwen0728"));
    assert_eq!(a.nickname, s("小凱"));
    assert_eq!(a.board, s("Stock"));
    assert_eq!(
        a.title,
        s("[新聞] 範例半導體獲准出口新一代AI晶片 供應鏈受惠")
    );
    assert_eq!(rfc3339(&a), s("2026-01-28T13:25:57+08:00"));
    assert_eq!(a.canonical_link, s(url));
    assert_eq!(a.article_url_line, s(url));
    assert_eq!(url_of(&a), s(url));
    let (board, id) = a.board_and_id().expect("board and id");
    assert_eq!(
        (board.as_str(), id.as_str()),
        ("Stock", "M.1769577957.A.1F2")
    );

    let body = "原文標題：\n\
                ※請勿刪減原文標題\n\
                Exclusive: Example Semiconductor cleared to ship its next AI accelerator\n\
                \n\
                原文連結：\n\
                ※網址超過一行過長請用縮網址工具\n\
                https://tinyurl.com/ex4mple1\n\
                \n\
                發布時間：\n\
                ※請以原文網頁/報紙之發布時間為準\n\
                January 28, 2026 12:33 PM GMT+8\n\
                \n\
                記者署名：\n\
                ※原文無記載者得留空\n\
                Reporting by Example Newsroom; Editing by A. Editor\n\
                \n\
                原文內容：\n\
                Jan 28 (Example Wire) - Regulators have cleared Example Semiconductor to ship\n\
                its next-generation AI accelerator to overseas customers, two people familiar\n\
                with the matter said on Wednesday.\n\
                \n\
                The approval covers an initial batch, the people said.\n\
                \n\
                https://i.imgur.com/AbCdEf1.png\n\
                \n\
                心得/評論：\n\
                ※必需填寫滿30正體中文字，無意義者板規處分\n\
                出口許可終於下來，供應鏈的訂單能見度應該會拉長，\n\
                不過首批數量不多，短線先觀察法說會怎麼說。\n\
                \n\
                --";
    assert_eq!(a.body, body);
    assert!(!a.body.contains("發信站"));
    assert!(!a.body.contains("文章網址"));
    assert!(!a.body.contains("編輯:"));
    assert!(
        !a.body.contains("cache.ptt.cc"),
        "image previews are not text"
    );
    assert!(!a.body.contains("範例警告"), "warning boxes are not text");

    assert_eq!(
        a.pushes,
        vec![
            push(PushKind::Push, "chipwatcher", "供應鏈要噴了", "01/28 13:27"),
            push(
                PushKind::Neutral,
                "slowtrader",
                "看法說會再說",
                "01/28 13:28"
            ),
            push(PushKind::Boo, "bearcub", "利多出盡", "01/28 13:30"),
            push(
                PushKind::Push,
                "etf0050fan",
                "推 整理",
                "198.51.100.23 01/28 13:33"
            ),
            push(
                PushKind::Neutral,
                "chipwatcher",
                "補充  首批是試產量",
                "01/28 13:41"
            ),
        ]
    );
    assert_eq!(
        a.edits,
        vec![
            "※ 編輯: kaiwen0728 (203.0.113.7 臺灣), 01/28/2026 13:31:02".to_owned(),
            "※ 編輯: kaiwen0728 (203.0.113.7 臺灣), 01/28/2026 13:40:45".to_owned(),
        ]
    );
    assert_eq!(
        a.tally(),
        Tally {
            push: 2,
            boo: 1,
            neutral: 2,
            net: 1,
            total: 5
        }
    );
}

#[test]
fn stock_news_post_every_news_field() {
    let a = parse_fixture("article_stock_news.html");
    assert_eq!(
        extract_news(&a.body),
        NewsFields {
            original_title: s(
                "Exclusive: Example Semiconductor cleared to ship its next AI accelerator"
            ),
            source_url: s("https://tinyurl.com/ex4mple1"),
            published: s("January 28, 2026 12:33 PM GMT+8"),
            reporter: s("Reporting by Example Newsroom; Editing by A. Editor"),
            excerpt: s(
                "Jan 28 (Example Wire) - Regulators have cleared Example Semiconductor to ship \
                 its next-generation AI accelerator to overseas customers, two people familiar \
                 with the matter said on Wednesday. The approval covers an initial batch, the \
                 people said. https://i.imgur.com/AbCdEf1.png"
            ),
            comment: s(
                "出口許可終於下來，供應鏈的訂單能見度應該會拉長， 不過首批數量不多，短線先觀察法說會怎麼說。"
            ),
        }
    );
}

#[test]
fn template_variant_numbered_mixed_colons_out_of_order() {
    let a = parse_fixture("article_stock_news_variant.html");
    let url = "https://www.ptt.cc/bbs/Stock/M.1769994307.A.0B3.html";
    assert_eq!(a.author, s("tw50fan"));
    assert_eq!(
        a.nickname,
        s("台股(長期)觀察"),
        "nickname keeps inner parentheses"
    );
    assert_eq!(a.board, s("Stock"));
    assert_eq!(a.title, s("[新聞] 外資連三賣 台股失守季線"));
    assert_eq!(
        rfc3339(&a),
        s("2026-02-02T09:05:07+08:00"),
        "two spaces before a one-digit day"
    );
    assert_eq!(a.canonical_link, s(url));
    assert_eq!(a.article_url_line, s(url));
    assert_eq!(url_of(&a), s(url));
    assert_eq!(
        a.body,
        "1.原文連結(必須檢附): 網址https://tinyurl.com:99999/oops\n\
         https://tinyurl.com/v4riant2\n\
         \n\
         2.原文標題（標題必須完全正確）：\n\
         外資連三賣\u{3000}台股\n\
         失守季線\n\
         \n\
         3.原文內容(請刪除與內文無關的連結)：\n\
         \u{3000}\u{3000}（範例通訊社記者王小明台北2日電）外資連續第三個交易日賣超，加權指數今天盤中跌破季線。\n\
         \n\
         \u{3000}\u{3000}法人表示，短線仍須留意匯率變化。\n\
         \n\
         4.心得/評論(必需填寫滿30正體中文字)：心得寫在同一行，外資賣超的節奏還沒結束，季線失守後先看月線能不能守住再說。\n\
         \n\
         發布時間: 2026/02/02 09:00\n\
         ※請以原文網頁/報紙之發布時間為準\n\
         \n\
         --"
    );
    assert_eq!(
        a.pushes,
        vec![
            push(PushKind::Push, "longhold", "季線下買", "02/02 09:10"),
            push(PushKind::Boo, "shortking", "還會跌", "02/02 09:12"),
        ]
    );
    assert!(a.edits.is_empty());
    assert_eq!(
        a.tally(),
        Tally {
            push: 1,
            boo: 1,
            neutral: 0,
            net: 0,
            total: 2
        }
    );

    assert_eq!(
        extract_news(&a.body),
        NewsFields {
            // Wrapped between two CJK characters: joined without a space.
            original_title: s("外資連三賣\u{3000}台股失守季線"),
            // `https://tinyurl.com:99999/oops` does not parse (port): skipped.
            source_url: s("https://tinyurl.com/v4riant2"),
            // Same line, ASCII colon, after 心得/評論, hint line below skipped.
            published: s("2026/02/02 09:00"),
            reporter: None,
            excerpt: s(
                "（範例通訊社記者王小明台北2日電）外資連續第三個交易日賣超，加權指數今天盤中跌破季線。 法人表示，短線仍須留意匯率變化。"
            ),
            comment: s(
                "心得寫在同一行，外資賣超的節奏還沒結束，季線失守後先看月線能不能守住再說。"
            ),
        }
    );
}

#[test]
fn reply_keeps_the_quote_in_the_body_but_reads_no_field_from_it() {
    let a = parse_fixture("article_reply_news.html");
    let url = "https://www.ptt.cc/bbs/Stock/M.1769580000.A.7D1.html";
    assert_eq!(a.author, s("lurker42"));
    assert_eq!(a.nickname, s(""), "empty nickname `()`");
    assert_eq!(a.board, s("Stock"));
    assert_eq!(
        a.title,
        s("Re: [新聞] 範例半導體獲准出口新一代AI晶片 供應鏈受惠")
    );
    assert_eq!(rfc3339(&a), s("2026-01-28T14:00:00+08:00"));
    assert_eq!(a.canonical_link, s(url));
    assert_eq!(a.article_url_line, s(url));
    assert_eq!(url_of(&a), s(url));
    assert_eq!(
        a.body,
        "※ 引述《kaiwen0728 (小凱)》之銘言：\n\
         : 原文標題：\n\
         : Exclusive: Example Semiconductor cleared to ship its next AI accelerator\n\
         : 原文連結：\n\
         : https://tinyurl.com/ex4mple1\n\
         : 發布時間：\n\
         : January 28, 2026 12:33 PM GMT+8\n\
         : 記者署名：\n\
         : Reporting by Example Newsroom; Editing by A. Editor\n\
         : 原文內容：\n\
         : Jan 28 (Example Wire) - Regulators have cleared Example Semiconductor to ship\n\
         : 心得/評論：\n\
         : 出口許可終於下來，供應鏈的訂單能見度應該會拉長，\n\
         \n\
         批准歸批准，實際出貨量才是重點，先別急著追高。\n\
         \n\
         --"
    );
    assert_eq!(
        a.pushes,
        vec![
            push(PushKind::Push, "chipwatcher", "中肯", "01/28 14:02"),
            push(PushKind::Boo, "bullrun", "酸", "01/28 14:05"),
        ]
    );
    assert!(a.edits.is_empty());
    assert_eq!(
        a.tally(),
        Tally {
            push: 1,
            boo: 1,
            neutral: 0,
            net: 0,
            total: 2
        }
    );
    assert_eq!(extract_news(&a.body), NewsFields::default());
}

#[test]
fn page_without_metalines_falls_back_to_the_title_element() {
    let a = parse_fixture("article_no_metalines.html");
    let url = "https://www.ptt.cc/bbs/Stock/M.1769600000.A.ABC.html";
    assert_eq!(a.author, None);
    assert_eq!(a.nickname, None);
    assert_eq!(a.board, None);
    assert_eq!(a.title, s("[新聞] 沒有標頭的轉錄文章"));
    assert_eq!(a.posted_at, None);
    assert_eq!(a.canonical_link, None);
    assert_eq!(a.article_url_line, s(url));
    assert_eq!(url_of(&a), s(url), "board and id from the 文章網址 line");
    assert_eq!(
        a.body,
        "※ [本文轉錄自 Test 看板 #1ExAmPlE ]\n\
         \n\
         這篇文章沒有作者、看板、標題、時間的標頭。\n\
         \n\
         --"
    );
    assert!(a.pushes.is_empty());
    assert!(a.edits.is_empty());
    assert_eq!(a.tally(), Tally::default());
    assert_eq!(extract_news(&a.body), NewsFields::default());
}

#[test]
fn hostile_title_and_fields_come_back_unescaped_and_unchanged() {
    let a = parse_fixture("article_hostile_title.html");
    let url = "https://www.ptt.cc/bbs/Stock/M.1769610000.A.D0E.html";
    assert_eq!(a.author, s("x<y>"));
    assert_eq!(
        a.nickname,
        s("&amp;"),
        "the text `&amp;`, escaped once in the page"
    );
    assert_eq!(a.board, s("Stock"));
    assert_eq!(a.title, s("[新聞] A<B> & C @everyone"));
    assert_eq!(rfc3339(&a), s("2026-01-28T15:00:00+08:00"));
    assert_eq!(a.canonical_link, s(url));
    assert_eq!(a.article_url_line, s(url));
    assert_eq!(url_of(&a), s(url));
    assert_eq!(
        a.body,
        "原文標題：\n\
         A<B> & C @everyone <script>alert(1)</script>\n\
         \n\
         原文連結：\n\
         https://news.example.com/a?x=1&y=\"q\"<b>\n\
         \n\
         原文內容：\n\
         <img src=x onerror=alert(1)> & @here \"quoted\"\n\
         \n\
         心得/評論：\n\
         <@123456789> &amp; ||spoiler||\n\
         \n\
         --"
    );
    assert_eq!(
        a.pushes,
        vec![push(
            PushKind::Neutral,
            "@everyone",
            "<b>bold</b> & @here",
            "01/28 15:01"
        )]
    );
    assert!(a.edits.is_empty());
    assert_eq!(a.tally().total, 1);
    assert_eq!(
        extract_news(&a.body),
        NewsFields {
            original_title: s("A<B> & C @everyone <script>alert(1)</script>"),
            // As the url crate serialises it: quotes and angle brackets
            // encoded; the final `>` is trailing punctuation (DESIGN.md,
            // "Digest JSON", issue 13), so it is not part of the link.
            source_url: s("https://news.example.com/a?x=1&y=%22q%22%3Cb"),
            published: None,
            reporter: None,
            excerpt: s("<img src=x onerror=alert(1)> & @here \"quoted\""),
            comment: s("<@123456789> &amp; ||spoiler||"),
        }
    );
}

#[test]
fn long_excerpt_and_comment_are_cut_at_300_chars_with_an_ellipsis() {
    let a = parse_fixture("article_long_excerpt.html");
    let url = "https://www.ptt.cc/bbs/Stock/M.1769620000.A.F00.html";
    assert_eq!(a.author, s("longwriter"));
    assert_eq!(a.nickname, s("長文"));
    assert_eq!(a.board, s("Stock"));
    assert_eq!(a.title, s("[新聞] 範例長文 原文內容超過三百字"));
    assert_eq!(rfc3339(&a), s("2026-01-28T16:00:00+08:00"));
    assert_eq!(a.canonical_link, s(url));
    assert_eq!(a.article_url_line, s(url));
    assert_eq!(url_of(&a), s(url));
    assert!(
        a.body
            .starts_with("原文標題：\n範例長文標題\n\n原文內容：\n\u{3000}\u{3000}範例市場")
    );
    assert!(a.body.ends_with("第二段心得\n\n--"));
    assert_eq!(
        a.pushes,
        vec![push(PushKind::Push, "reader1", "長", "01/28 16:05")]
    );
    assert!(a.edits.is_empty());

    let paragraph = "範例市場今天開盤後震盪，權值股走勢分歧，電子類股在外資調節下小幅走低，金融類股則有買盤進駐。 \
                     分析師指出，近期美元走強、資金回流美國，新興市場普遍承壓；但國內企業獲利仍有支撐， \
                     Example analysts said the index could stay range-bound until the central bank meeting next week.";
    let full = [paragraph; 6].join(" ");
    let expected: String = full
        .chars()
        .take(EXCERPT_MAX_CHARS - 1)
        .chain(['…'])
        .collect();

    let news = extract_news(&a.body);
    assert_eq!(news.original_title, s("範例長文標題"));
    assert_eq!(news.source_url, None);
    assert_eq!(news.published, None);
    assert_eq!(news.reporter, None);
    let excerpt = news.excerpt.expect("excerpt");
    assert_eq!(excerpt, expected);
    assert_eq!(excerpt.chars().count(), 300);
    assert!(excerpt.ends_with("Example analysts said th…"));
    let comment = news.comment.expect("comment");
    assert_eq!(comment.chars().count(), 300);
    assert!(comment.starts_with("這是一段很長的心得，這是一段很長的心得，"));
    assert!(comment.contains("這是一段很長的心得， 第二段心得 第二段心得"));
    assert!(comment.ends_with('…'));
    for text in [&excerpt, &comment] {
        assert!(!text.contains("  "), "whitespace runs collapsed");
        assert!(!text.contains('\u{3000}'), "full-width spaces collapsed");
        assert!(!text.contains('\n'));
    }
}

#[test]
fn not_an_article_without_main_content() {
    assert_eq!(parse_article(""), None);
    assert_eq!(
        parse_article(
            "<html><head><title>看板 Stock 文章列表 - 批踢踢實業坊</title></head></html>"
        ),
        None
    );
    assert_eq!(
        parse_article(&fixture("article_stock_news.html").replace("main-content", "x")),
        None
    );
}

#[test]
fn title_falls_back_to_og_title_then_nothing() {
    let html = r#"<html><head><meta property="og:title" content="[新聞] 只有 og &amp; 標題"></head>
        <body><div id="main-content">本文</div></body></html>"#;
    let a = parse_article(html).expect("article");
    assert_eq!(a.title, s("[新聞] 只有 og & 標題"));
    assert_eq!(a.body, "本文");
    assert_eq!(a.board_and_id(), None);

    let a = parse_article(r#"<div id="main-content"></div>"#).expect("article");
    assert_eq!(a, Article::default());

    // An empty 標題 metaline falls back too; a <title> without PTT's suffix
    // is taken as it is.
    let html = r#"<title> 自訂標題 </title><div id="main-content"><div class="article-metaline"><span class="article-meta-tag">標題</span><span class="article-meta-value"> </span></div></div>"#;
    assert_eq!(parse_article(html).and_then(|a| a.title), s("自訂標題"));
}

#[test]
fn image_previews_and_warning_boxes_do_not_change_lines() {
    let html = concat!(
        r#"<div id="main-content">第一行 <a href="https://i.imgur.com/x.jpg">https://i.imgur.com/x.jpg</a>"#,
        "\n",
        r#"<div class="richcontent"><img src="//cache.ptt.cc/x.jpg" alt=""></div>第二行"#,
        r#"<div class="richcontent"><div class="resize-container">預覽</div></div>第三行"#,
        "\n",
        r#"<div class="push center warning-box">警告</div>"#,
        r#"<div class="push"><span class="hl push-tag">爆 </span><span class="push-userid">u</span></div>"#,
        r#"<div class="push"><span class="f1 hl push-tag">→ </span><span class="f3 hl push-userid">nocontent</span></div>"#,
        "</div>"
    );
    let a = parse_article(html).expect("article");
    assert_eq!(a.body, "第一行 https://i.imgur.com/x.jpg\n第二行\n第三行");
    assert_eq!(
        a.pushes,
        vec![push(PushKind::Neutral, "nocontent", "", "")],
        "unknown tags skipped; missing spans are empty"
    );
}

#[test]
fn system_lines_without_the_space_and_with_full_width_colons() {
    let html = concat!(
        "<div id=\"main-content\">內文\n--\n",
        "<span class=\"f2\">※發信站: 批踢踢實業坊(ptt.cc)\n</span>",
        "<span class=\"f2\">※ 文章網址：https://www.ptt.cc/bbs/Stock/M.1.A.AAA.html\n</span>",
        "<span class=\"f2\">※ 文章網址: https://www.ptt.cc/bbs/Stock/M.2.A.BBB.html\n</span>",
        "<span class=\"f2\">※編輯：someone (192.0.2.9 臺灣), 01/01/2026 00:00:00\n</span>",
        "</div>"
    );
    let a = parse_article(html).expect("article");
    assert_eq!(a.body, "內文\n--");
    assert_eq!(
        a.article_url_line,
        s("https://www.ptt.cc/bbs/Stock/M.2.A.BBB.html"),
        "the last 文章網址 line wins"
    );
    assert_eq!(
        a.edits,
        vec!["※編輯：someone (192.0.2.9 臺灣), 01/01/2026 00:00:00".to_owned()]
    );
    let (board, id) = a.board_and_id().expect("board and id");
    assert_eq!((board.as_str(), id.as_str()), ("Stock", "M.2.A.BBB"));
}

#[test]
fn board_and_id_prefer_the_canonical_link() {
    let a = Article {
        canonical_link: s("https://www.ptt.cc/bbs/Stock/M.1769577957.A.1F2.html"),
        article_url_line: s("https://www.ptt.cc/bbs/Other/M.1.A.000.html"),
        ..Article::default()
    };
    let (board, id) = a.board_and_id().expect("board and id");
    assert_eq!(
        (board.as_str(), id.as_str()),
        ("Stock", "M.1769577957.A.1F2")
    );
    assert!(board_and_id_from_url("https://www.ptt.cc/bbs/Stock/index.html").is_none());
    assert!(board_and_id_from_url("/bbs/Stock/M.1769577957.A.1F2.html?x=1").is_some());
}

#[test]
fn push_kinds_from_tags() {
    assert_eq!(PushKind::from_tag("推 "), Some(PushKind::Push));
    assert_eq!(PushKind::from_tag(" 噓"), Some(PushKind::Boo));
    assert_eq!(PushKind::from_tag("→ "), Some(PushKind::Neutral));
    assert_eq!(PushKind::from_tag("爆"), None);
    assert_eq!(PushKind::from_tag(""), None);
}
