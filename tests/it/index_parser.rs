//! The board index parser over the project's own fixture pages
//! (`tests/fixtures/index_*.html`, written in PTT's markup).

use ptt_relay::ptt::{IndexPage, IndexRow, PostId, PushMarker, parse_index};

fn fixture(name: &str) -> IndexPage {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let html = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_index(&html)
}

fn pid(s: &str) -> Option<PostId> {
    let id = PostId::parse(s);
    assert!(id.is_some(), "test bug: {s} is not a valid id");
    id
}

fn href(board: &str, id: &str) -> Option<String> {
    Some(format!("/bbs/{board}/{id}.html"))
}

fn push(raw: &str) -> PushMarker {
    PushMarker { raw: raw.into() }
}

fn assert_rows(page: &IndexPage, expected: &[IndexRow]) {
    assert_eq!(page.rows.len(), expected.len(), "row count");
    for (i, (got, want)) in page.rows.iter().zip(expected).enumerate() {
        assert_eq!(got, want, "row {i}");
    }
}

#[test]
fn stock_newest_page_current_layout() {
    let page = fixture("index_Stock_newest.html");
    assert!(page.has_list);
    assert_eq!(page.prev_page.as_deref(), Some("/bbs/Stock/index7000.html"));
    let expected = [
        IndexRow {
            id: pid("M.1769570001.A.1A2"),
            href: href("Stock", "M.1769570001.A.1A2"),
            title: "[新聞] 台積電法說會釋出樂觀展望 上修全年營收".into(),
            tag: Some("新聞".into()),
            is_reply: false,
            is_forward: false,
            author: "newsfeeder".into(),
            date: "1/28".into(),
            push: push(""),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769570342.A.3B4"),
            href: href("Stock", "M.1769570342.A.3B4"),
            title: "Re: [新聞] 台積電法說會釋出樂觀展望 上修全年營收".into(),
            tag: Some("新聞".into()),
            is_reply: true,
            is_forward: false,
            author: "tradermei".into(),
            date: "1/28".into(),
            push: push("7"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: None,
            href: None,
            title: "(本文已被刪除) [bearwolf]".into(),
            tag: None,
            is_reply: false,
            is_forward: false,
            author: "-".into(),
            date: "1/28".into(),
            push: push("3"),
            mark: String::new(),
            deleted: true,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769571200.A.C0F"),
            href: href("Stock", "M.1769571200.A.C0F"),
            title: "[閒聊] 2026/01/28 盤中閒聊".into(),
            tag: Some("閒聊".into()),
            is_reply: false,
            is_forward: false,
            author: "StockBot".into(),
            date: "1/28".into(),
            push: push("42"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769572811.A.9E1"),
            href: href("Stock", "M.1769572811.A.9E1"),
            title: "[標的] 2330 台積電 多".into(),
            tag: Some("標的".into()),
            is_reply: false,
            is_forward: false,
            author: "longonly".into(),
            date: "1/28".into(),
            push: push("爆"),
            mark: "M".into(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: None,
            href: None,
            title: "(已被kevin0417刪除) <shortking>".into(),
            tag: None,
            is_reply: false,
            is_forward: false,
            author: "-".into(),
            date: "1/28".into(),
            push: push("X1"),
            mark: String::new(),
            deleted: true,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769574003.A.0D7"),
            href: href("Stock", "M.1769574003.A.0D7"),
            title: "Fw: [情報] 0050 除息公告".into(),
            tag: Some("情報".into()),
            is_reply: false,
            is_forward: true,
            author: "etfwatch".into(),
            date: "1/28".into(),
            push: push("X1"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769575555.A.FFF"),
            href: href("Stock", "M.1769575555.A.FFF"),
            title: "[請益] 融資斷頭了怎麼辦".into(),
            tag: Some("請益".into()),
            is_reply: false,
            is_forward: false,
            author: "margincall".into(),
            date: "1/28".into(),
            push: push("XX"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769576120.A.2B8"),
            href: href("Stock", "M.1769576120.A.2B8"),
            title: "Re: Fw: [心得] 存股十年的一點心得".into(),
            tag: Some("心得".into()),
            is_reply: true,
            is_forward: true,
            author: "dividendcat".into(),
            date: "1/28".into(),
            push: push("1"),
            mark: "S".into(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769577959.A.C89"),
            href: href("Stock", "M.1769577959.A.C89"),
            title: "[新聞] 美股收盤 費半大漲3%".into(),
            tag: Some("新聞".into()),
            is_reply: false,
            is_forward: false,
            author: "newsfeeder".into(),
            date: "1/28".into(),
            push: push("99"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1767196800.A.5A5"),
            href: href("Stock", "M.1767196800.A.5A5"),
            title: "[公告] 股票板板規 (2026/01/01 修訂)".into(),
            tag: Some("公告".into()),
            is_reply: false,
            is_forward: false,
            author: "StockMaster".into(),
            date: "1/01".into(),
            push: push("爆"),
            mark: "!".into(),
            deleted: false,
            pinned: true,
        },
        IndexRow {
            id: pid("M.1767321000.A.11E"),
            href: href("Stock", "M.1767321000.A.11E"),
            title: "[公告] 每日盤後閒聊請至置底文".into(),
            tag: Some("公告".into()),
            is_reply: false,
            is_forward: false,
            author: "StockMaster".into(),
            date: "1/02".into(),
            push: push(""),
            mark: "M".into(),
            deleted: false,
            pinned: true,
        },
    ];
    assert_rows(&page, &expected);

    let bounds: Vec<i32> = page.rows.iter().map(|r| r.push.bound()).collect();
    assert_eq!(bounds, [0, 7, 3, 42, 100, -10, -10, -100, 1, 99, 100, 0]);
    let negative: Vec<bool> = page.rows.iter().map(|r| r.push.is_negative()).collect();
    assert_eq!(
        negative,
        [
            false, false, false, false, false, true, true, true, false, false, false, false
        ]
    );
    let ids: Vec<&str> = page.ids().map(PostId::as_str).collect();
    assert_eq!(
        ids,
        [
            "M.1769570001.A.1A2",
            "M.1769570342.A.3B4",
            "M.1769571200.A.C0F",
            "M.1769572811.A.9E1",
            "M.1769574003.A.0D7",
            "M.1769575555.A.FFF",
            "M.1769576120.A.2B8",
            "M.1769577959.A.C89",
            "M.1767196800.A.5A5",
            "M.1767321000.A.11E",
        ]
    );
}

#[test]
fn stock_2016_layout() {
    let page = fixture("index_Stock_2016.html");
    assert!(page.has_list);
    assert_eq!(page.prev_page.as_deref(), Some("/bbs/Stock/index3120.html"));
    let expected = [
        IndexRow {
            id: pid("M.1458790001.A.3E1"),
            href: href("Stock", "M.1458790001.A.3E1"),
            title: "[新聞] 央行理監事會 利率維持不變".into(),
            tag: Some("新聞".into()),
            is_reply: false,
            is_forward: false,
            author: "newsman".into(),
            date: "3/24".into(),
            push: push("2"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: None,
            href: None,
            title: "(本文已被刪除) [oldtimer]".into(),
            tag: None,
            is_reply: false,
            is_forward: false,
            author: "-".into(),
            date: "3/24".into(),
            push: push(""),
            mark: String::new(),
            deleted: true,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1458790522.A.8C0"),
            href: href("Stock", "M.1458790522.A.8C0"),
            title: "Re: [新聞] 央行理監事會 利率維持不變".into(),
            tag: Some("新聞".into()),
            is_reply: true,
            is_forward: false,
            author: "rateguy".into(),
            date: "3/24".into(),
            push: push("15"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        // A link whose id is not hex: kept, not deleted, but without an id.
        IndexRow {
            id: None,
            href: href("Stock", "M.1458791000.A.G12"),
            title: "[請益] 權證一直賠怎麼辦".into(),
            tag: Some("請益".into()),
            is_reply: false,
            is_forward: false,
            author: "warrantlose".into(),
            date: "3/24".into(),
            push: push("X3"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1458795600.A.4D4"),
            href: href("Stock", "M.1458795600.A.4D4"),
            title: "[閒聊] 2016/03/24 盤後閒聊".into(),
            tag: Some("閒聊".into()),
            is_reply: false,
            is_forward: false,
            author: "StockBot".into(),
            date: "3/24".into(),
            push: push("爆"),
            mark: "M".into(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1451606400.A.001"),
            href: href("Stock", "M.1451606400.A.001"),
            title: "[公告] 板規 v5.2".into(),
            tag: Some("公告".into()),
            is_reply: false,
            is_forward: false,
            author: "boardmod".into(),
            date: "1/01".into(),
            push: push(""),
            mark: "!".into(),
            deleted: false,
            pinned: true,
        },
        IndexRow {
            id: pid("M.1455523200.A.E9A"),
            href: href("Stock", "M.1455523200.A.E9A"),
            title: "[情報] 2016 除權息一覽".into(),
            tag: Some("情報".into()),
            is_reply: false,
            is_forward: false,
            author: "boardmod".into(),
            date: "2/15".into(),
            push: push("爆"),
            mark: "M".into(),
            deleted: false,
            pinned: true,
        },
    ];
    assert_rows(&page, &expected);
    assert_eq!(page.rows[3].push.bound(), -30);
    assert!(page.rows[3].push.is_negative());
}

#[test]
fn search_result_page_with_disabled_prev() {
    let page = fixture("index_search_Stock_author.html");
    assert!(page.has_list);
    assert_eq!(page.prev_page, None);
    let expected = [
        IndexRow {
            id: pid("M.1762150000.A.0AB"),
            href: href("Stock", "M.1762150000.A.0AB"),
            title: "[心得] 第一次買ETF就上手".into(),
            tag: Some("心得".into()),
            is_reply: false,
            is_forward: false,
            author: "tradermei".into(),
            date: "11/03".into(),
            push: push(""),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1765790000.A.D3C"),
            href: href("Stock", "M.1765790000.A.D3C"),
            title: "Re: [請益] 現在進場還來得及嗎".into(),
            tag: Some("請益".into()),
            is_reply: true,
            is_forward: false,
            author: "tradermei".into(),
            date: "12/15".into(),
            push: push("12"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1767600000.A.77E"),
            href: href("Stock", "M.1767600000.A.77E"),
            title: "[閒聊] 空軍總部集合".into(),
            tag: Some("閒聊".into()),
            is_reply: false,
            is_forward: false,
            author: "tradermei".into(),
            date: "1/05".into(),
            push: push("X2"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
    ];
    assert_rows(&page, &expected);
}

#[test]
fn empty_board_has_list_but_no_rows() {
    let page = fixture("index_EmptyTest_empty.html");
    assert_eq!(
        page,
        IndexPage {
            rows: Vec::new(),
            prev_page: None,
            has_list: true,
        }
    );
}

#[test]
fn hostile_titles_are_unescaped_text() {
    let page = fixture("index_Stock_hostile.html");
    assert!(page.has_list);
    assert_eq!(page.prev_page.as_deref(), Some("/bbs/Stock/index7001.html"));
    let expected = [
        IndexRow {
            id: pid("M.1769904000.A.A11"),
            href: href("Stock", "M.1769904000.A.A11"),
            title: "[新聞] A<B> & C @everyone".into(),
            tag: Some("新聞".into()),
            is_reply: false,
            is_forward: false,
            author: "mischief01".into(),
            date: "1/31".into(),
            push: push("5"),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769904060.A.B22"),
            href: href("Stock", "M.1769904060.A.B22"),
            title: "[閒聊] <script>alert(\"x\")</script> @here <@&123456789>".into(),
            tag: Some("閒聊".into()),
            is_reply: false,
            is_forward: false,
            author: "mischief02".into(),
            date: "1/31".into(),
            push: push(""),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
        IndexRow {
            id: pid("M.1769904120.A.C33"),
            href: href("Stock", "M.1769904120.A.C33"),
            // Decoded exactly once: `&amp;amp;` is the text `&amp;`.
            title: "Re: [新聞] **粗體** __底線__ [連結](https://evil.example/) &amp;".into(),
            tag: Some("新聞".into()),
            is_reply: true,
            is_forward: false,
            author: "mischief03".into(),
            date: "1/31".into(),
            push: push(""),
            mark: String::new(),
            deleted: false,
            pinned: false,
        },
    ];
    assert_rows(&page, &expected);
}

#[test]
fn prev_page_href_is_attribute_decoded() {
    let html = r#"<div class="btn-group btn-group-paging">
        <a class="btn wide" href="/bbs/Stock/search?page=3&amp;q=author%3Atradermei">最舊</a>
        <a class="btn wide" href="/bbs/Stock/search?page=2&amp;q=author%3Atradermei">&lsaquo; 上頁</a>
        <a class="btn wide disabled">下頁 &rsaquo;</a>
    </div>
    <div class="r-list-container action-bar-margin bbs-screen"></div>"#;
    let page = parse_index(html);
    assert_eq!(
        page.prev_page.as_deref(),
        Some("/bbs/Stock/search?page=2&q=author%3Atradermei")
    );
    assert!(page.has_list);
    assert!(page.rows.is_empty());
}

#[test]
fn prev_page_none_when_disabled_even_with_href_or_without_href() {
    let disabled = r#"<div class="btn-group btn-group-paging">
        <a class="btn wide disabled" href="/bbs/Stock/index1.html">&lsaquo; 上頁</a></div>"#;
    assert_eq!(parse_index(disabled).prev_page, None);
    let no_href = r#"<div class="btn-group btn-group-paging">
        <a class="btn wide">&lsaquo; 上頁</a></div>"#;
    assert_eq!(parse_index(no_href).prev_page, None);
}

#[test]
fn non_ptt_pages_yield_nothing() {
    let cloudflare = "<!DOCTYPE html><html><head><title>Just a moment...</title></head>\
        <body><div id=\"challenge-running\">Checking your browser</div></body></html>";
    assert_eq!(parse_index(cloudflare), IndexPage::default());
    assert_eq!(parse_index(""), IndexPage::default());
    assert_eq!(
        parse_index("not html at all <<<>>> &&&"),
        IndexPage::default()
    );
}

#[test]
fn separator_only_pins_its_own_siblings() {
    // A separator in another container does not pin rows elsewhere, and
    // rows before the separator stay unpinned.
    let html = r#"<div class="r-list-container bbs-screen">
        <div class="r-ent"><div class="title"><a href="/bbs/T/M.1.A.001.html">[a] one</a></div></div>
        <div class="r-list-sep"></div>
        <div class="r-ent"><div class="title"><a href="/bbs/T/M.2.A.002.html">[b] two</a></div></div>
      </div>
      <div class="other">
        <div class="r-ent"><div class="title"><a href="/bbs/T/M.3.A.003.html">[c] three</a></div></div>
      </div>"#;
    let page = parse_index(html);
    let pinned: Vec<bool> = page.rows.iter().map(|r| r.pinned).collect();
    assert_eq!(pinned, [false, true, false]);
    // Missing meta divs read as empty text.
    assert_eq!(page.rows[0].author, "");
    assert_eq!(page.rows[0].date, "");
    assert_eq!(page.rows[0].mark, "");
    assert_eq!(page.rows[0].push, PushMarker::default());
}
