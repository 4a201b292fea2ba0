//! A fake www.ptt.cc on 127.0.0.1: board index pages (20 rows a page, with
//! `‹ 上頁` links), article pages with push lines, and injectable faults.
//! Posts and pushes can be added while a test runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

/// Rows per index page.
pub const PAGE_SIZE: usize = 20;

/// A push line.
#[derive(Clone, Debug)]
pub struct FakePush {
    pub tag: &'static str,
    pub user: String,
    pub content: String,
}

/// A post.
#[derive(Clone, Debug)]
pub struct FakePost {
    pub id: String,
    pub title: String,
    pub author: String,
    pub headline: String,
    pub source: String,
    pub body: String,
    pub pushes: Vec<FakePush>,
    pub deleted: bool,
}

/// What the fake does instead of answering normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 5xx or 429 with an empty body.
    Status(u16),
    /// 5xx or 429 with a plain error page (nginx's), not Cloudflare's.
    PlainError(u16),
    /// Never answers (until the client gives up).
    Hang,
    /// Index pages cut in the middle of the row list.
    Truncated,
    /// A Cloudflare-style 503 page.
    Cloudflare,
    /// Pages that are not PTT markup at all.
    Garbage,
    /// The connection closes in the middle of the body.
    CloseConnection,
    /// Every page redirects to the over-18 form, which redirects back.
    Over18Loop,
    /// The board is gone: 404 for everything.
    BoardGone,
}

/// A fault for the next few requests (of one path, or of any page).
struct Scripted {
    path: Option<String>,
    fault: Fault,
    left: usize,
}

#[derive(Default)]
struct Inner {
    boards: HashMap<String, Vec<FakePost>>,
    pinned: HashMap<String, Vec<FakePost>>,
    fault: Option<Fault>,
    scripted: Vec<Scripted>,
    requests: Vec<String>,
    next_epoch: i64,
    aged: i64,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A running fake PTT.
#[derive(Clone)]
pub struct FakePtt {
    inner: Arc<Mutex<Inner>>,
    pub base_url: String,
}

impl FakePtt {
    /// Starts the fake with the given (empty) boards.
    pub async fn start(boards: &[&str]) -> FakePtt {
        // Posts are dated like PTT's: created now (a few seconds apart).
        let mut inner = Inner {
            next_epoch: now_secs(),
            ..Default::default()
        };
        for b in boards {
            inner.boards.insert(b.to_string(), Vec::new());
        }
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new()
            .route("/bbs/{board}/{file}", get(page))
            .route("/ask/over18", axum::routing::post(over18_form))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakePtt {
            inner,
            base_url: format!("http://{addr}"),
        }
    }

    /// Adds a post with a news template body; returns its id.
    pub fn add_post(&self, board: &str, title: &str, author: &str) -> String {
        self.add_post_with(board, title, author, |_| {})
    }

    /// Adds a post, changed (a hostile headline, a long body, …) before
    /// anyone can fetch it; returns its id.
    pub fn add_post_with(
        &self,
        board: &str,
        title: &str,
        author: &str,
        change: impl FnOnce(&mut FakePost),
    ) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.next_epoch = (inner.next_epoch + 7).max(now_secs());
        let epoch = inner.next_epoch;
        let id = format!("M.{epoch}.A.{:03X}", (epoch * 37) % 4096);
        Self::push_post(&mut inner, board, id, title, author, change)
    }

    /// Adds a post created `age` ago (older posts first, as PTT lists
    /// them); returns its id.
    pub fn add_post_aged(&self, board: &str, title: &str, author: &str, age: Duration) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.aged += 1;
        let epoch = now_secs() - age.as_secs() as i64 + inner.aged;
        let id = format!("M.{epoch}.A.{:03X}", inner.aged % 4096);
        Self::push_post(&mut inner, board, id, title, author, |_| {})
    }

    fn push_post(
        inner: &mut Inner,
        board: &str,
        id: String,
        title: &str,
        author: &str,
        change: impl FnOnce(&mut FakePost),
    ) -> String {
        let n = inner.boards.get(board).map_or(0, Vec::len);
        let mut post = FakePost {
            id: id.clone(),
            title: title.to_owned(),
            author: author.to_owned(),
            headline: format!("Original headline {n}"),
            source: format!("https://news.example.com/a/{n}"),
            body: format!("Paragraph of post {n}."),
            pushes: Vec::new(),
            deleted: false,
        };
        change(&mut post);
        inner.boards.entry(board.to_owned()).or_default().push(post);
        id
    }

    /// Adds many posts at once.
    pub fn add_posts(&self, board: &str, titles: &[String]) -> Vec<String> {
        titles
            .iter()
            .map(|t| self.add_post(board, t, "reporter1"))
            .collect()
    }

    /// Adds a pinned post (shown after `r-list-sep` on the newest page).
    pub fn add_pinned(&self, board: &str, title: &str) -> String {
        let id = self.add_post(board, title, "SYSOP");
        let mut inner = self.inner.lock().unwrap();
        let posts = inner.boards.get_mut(board).unwrap();
        let post = posts.pop().unwrap();
        inner.pinned.entry(board.to_owned()).or_default().push(post);
        id
    }

    /// Adds a push line (`推`, `噓` or `→`) to a post.
    pub fn add_push(&self, board: &str, id: &str, tag: &'static str) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(p) = find(&mut inner, board, id) {
            let n = p.pushes.len();
            p.pushes.push(FakePush {
                tag,
                user: format!("user{n}"),
                content: format!("comment {n}"),
            });
        }
    }

    /// Adds several push lines at once (no poll sees a state in between).
    pub fn add_pushes(&self, board: &str, id: &str, tags: &[&'static str]) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(p) = find(&mut inner, board, id) {
            for tag in tags {
                let n = p.pushes.len();
                p.pushes.push(FakePush {
                    tag,
                    user: format!("user{n}"),
                    content: format!("comment {n}"),
                });
            }
        }
    }

    /// Marks a post deleted.
    pub fn delete_post(&self, board: &str, id: &str) {
        let mut inner = self.inner.lock().unwrap();
        if let Some(p) = find(&mut inner, board, id) {
            p.deleted = true;
        }
    }

    /// Sets or clears a fault.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.inner.lock().unwrap().fault = fault;
    }

    /// The next `times` requests for exactly `path` (e.g.
    /// `/bbs/Stock/index1.html`) meet `fault`; others are answered as usual.
    pub fn fault_path(&self, path: &str, fault: Fault, times: usize) {
        self.inner.lock().unwrap().scripted.push(Scripted {
            path: Some(path.to_owned()),
            fault,
            left: times,
        });
    }

    /// The next `times` page requests, whatever their path, meet `fault`.
    pub fn fault_next(&self, fault: Fault, times: usize) {
        self.inner.lock().unwrap().scripted.push(Scripted {
            path: None,
            fault,
            left: times,
        });
    }

    /// Scripted faults ([`fault_path`](Self::fault_path),
    /// [`fault_next`](Self::fault_next)) not yet served.
    pub fn scripted_faults_left(&self) -> usize {
        self.inner
            .lock()
            .unwrap()
            .scripted
            .iter()
            .map(|s| s.left)
            .sum()
    }

    /// Ends every scripted fault.
    pub fn clear_scripted_faults(&self) {
        self.inner.lock().unwrap().scripted.clear();
    }

    /// Paths requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// How many requests asked for article pages.
    pub fn article_requests(&self) -> usize {
        self.requests().iter().filter(|p| p.contains("/M.")).count()
    }

    /// How many requests asked for index pages.
    pub fn index_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|p| p.contains("/index"))
            .count()
    }
}

fn find<'a>(inner: &'a mut Inner, board: &str, id: &str) -> Option<&'a mut FakePost> {
    let Inner { boards, pinned, .. } = inner;
    boards
        .get_mut(board)
        .into_iter()
        .chain(pinned.get_mut(board))
        .flat_map(|v| v.iter_mut())
        .find(|p| p.id == id)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((board, file)): Path<(String, String)>,
) -> Response {
    let (fault, html) = {
        let mut inner = inner.lock().unwrap();
        let path = format!("/bbs/{board}/{file}");
        inner.requests.push(path.clone());
        let scripted = inner
            .scripted
            .iter_mut()
            .find(|s| s.left > 0 && s.path.as_ref().is_none_or(|p| *p == path))
            .map(|s| {
                s.left -= 1;
                s.fault.clone()
            });
        inner.scripted.retain(|s| s.left > 0);
        let fault = scripted.or_else(|| inner.fault.clone());
        let html = render(&inner, &board, &file);
        (fault, html)
    };
    match fault {
        Some(Fault::Status(code)) => {
            return StatusCode::from_u16(code).unwrap().into_response();
        }
        Some(Fault::PlainError(code)) => {
            let status = StatusCode::from_u16(code).unwrap();
            let reason = status.canonical_reason().unwrap_or("Error");
            return (
                status,
                Html(format!(
                    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
                )),
            )
                .into_response();
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Some(Fault::Cloudflare) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser before accessing. Cloudflare Ray ID: 1234</body></html>"),
            )
                .into_response();
        }
        Some(Fault::Garbage) => {
            return Html("<html><body><h1>Welcome to nginx!</h1></body></html>").into_response();
        }
        Some(Fault::CloseConnection) => {
            // Announce more bytes than are sent: the server aborts the
            // connection mid-body.
            return Response::builder()
                .header("content-type", "text/html")
                .header("content-length", "100000")
                .body(axum::body::Body::from(
                    "<html><body><div class=\"r-list-container",
                ))
                .unwrap();
        }
        Some(Fault::Over18Loop) => {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header("location", format!("/ask/over18?from=/bbs/{board}/{file}"))
                .body(axum::body::Body::empty())
                .unwrap();
        }
        Some(Fault::BoardGone) => {
            return (
                StatusCode::NOT_FOUND,
                Html("<html><body>404 - Not Found.</body></html>"),
            )
                .into_response();
        }
        Some(Fault::Truncated) => {
            if let Some(Ok(h)) = html {
                // Index pages end before the first row; articles halfway.
                let mut cut = h.find("<div class=\"r-ent\">").unwrap_or(h.len() / 2);
                while !h.is_char_boundary(cut) {
                    cut -= 1;
                }
                return Html(h[..cut].to_owned()).into_response();
            }
        }
        None => {}
    }
    match html {
        Some(Ok(h)) => Html(h).into_response(),
        Some(Err(code)) => (
            code,
            Html("<html><body>404 - Not Found.</body></html>".to_owned()),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html("<html><body>404</body></html>".to_owned()),
        )
            .into_response(),
    }
}

/// The over-18 form: answered, it redirects back to the page — which (in
/// the loop fault) redirects to the form again.
async fn over18_form(State(inner): State<Arc<Mutex<Inner>>>, body: String) -> Response {
    inner.lock().unwrap().requests.push("/ask/over18".into());
    let from = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("from="))
        .map(|v| v.replace("%2F", "/"))
        .unwrap_or_else(|| "/".into());
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", from)
        .body(axum::body::Body::empty())
        .unwrap()
}

fn render(inner: &Inner, board: &str, file: &str) -> Option<Result<String, StatusCode>> {
    let posts = inner.boards.get(board)?;
    if let Some(rest) = file
        .strip_prefix("index")
        .and_then(|f| f.strip_suffix(".html"))
    {
        let last = posts.len().div_ceil(PAGE_SIZE).max(1);
        let n = if rest.is_empty() {
            last
        } else {
            match rest.parse::<usize>() {
                Ok(n) if (1..=last).contains(&n) => n,
                _ => return Some(Err(StatusCode::NOT_FOUND)),
            }
        };
        let start = (n - 1) * PAGE_SIZE;
        let rows = &posts[start.min(posts.len())..(start + PAGE_SIZE).min(posts.len())];
        let pinned = if n == last {
            inner.pinned.get(board).cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        return Some(Ok(index_html(board, rows, &pinned, n)));
    }
    let id = file.strip_suffix(".html")?;
    let post = posts
        .iter()
        .chain(inner.pinned.get(board).into_iter().flatten())
        .find(|p| p.id == id)?;
    if post.deleted {
        return Some(Err(StatusCode::NOT_FOUND));
    }
    Some(Ok(article_html(board, post)))
}

/// The index row's push marker (`爆`, `X1`, a number or nothing).
pub fn marker(p: &FakePost) -> String {
    let net: i64 = p
        .pushes
        .iter()
        .map(|x| match x.tag {
            "推" => 1,
            "噓" => -1,
            _ => 0,
        })
        .sum();
    match net {
        n if n >= 100 => "<span class=\"hl f1\">爆</span>".into(),
        n if n >= 10 => format!("<span class=\"hl f3\">{n}</span>"),
        n if n > 0 => format!("<span class=\"hl f2\">{n}</span>"),
        n if n <= -100 => "<span class=\"hl f1\">XX</span>".into(),
        n if n <= -10 => format!("<span class=\"hl f1\">X{}</span>", -n / 10),
        _ => String::new(),
    }
}

fn row_html(board: &str, p: &FakePost) -> String {
    let title = if p.deleted {
        format!("(本文已被刪除) [{}]", esc(&p.author))
    } else {
        format!(
            "<a href=\"/bbs/{board}/{}.html\">{}</a>",
            p.id,
            esc(&p.title)
        )
    };
    let author = if p.deleted {
        "-".to_owned()
    } else {
        esc(&p.author)
    };
    format!(
        "\t\t<div class=\"r-ent\">\n\t\t\t<div class=\"nrec\">{}</div>\n\t\t\t<div class=\"title\">\n\t\t\t\n\t\t\t\t{title}\n\t\t\t\n\t\t\t</div>\n\t\t\t<div class=\"meta\">\n\t\t\t\t<div class=\"author\">{author}</div>\n\t\t\t\t<div class=\"article-menu\"></div>\n\t\t\t\t<div class=\"date\"> 1/28</div>\n\t\t\t\t<div class=\"mark\"></div>\n\t\t\t</div>\n\t\t</div>\n",
        marker(p)
    )
}

/// An index page `n` of `board` with these rows (oldest first) and pinned rows.
pub fn index_html(board: &str, rows: &[FakePost], pinned: &[FakePost], n: usize) -> String {
    let prev = if n > 1 {
        format!(
            "<a class=\"btn wide\" href=\"/bbs/{board}/index{}.html\">&lsaquo; 上頁</a>",
            n - 1
        )
    } else {
        "<a class=\"btn wide disabled\">&lsaquo; 上頁</a>".to_owned()
    };
    let mut list = String::new();
    for p in rows {
        list.push_str(&row_html(board, p));
    }
    if !pinned.is_empty() {
        list.push_str("\t\t<div class=\"r-list-sep\"></div>\n");
        for p in pinned {
            list.push_str(&row_html(board, p));
        }
    }
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>看板 {board} 文章列表 - 批踢踢實業坊</title>\n</head>\n<body>\n<div id=\"topbar-container\"><div id=\"topbar\" class=\"bbs-content\"><a id=\"logo\" href=\"/bbs/\">批踢踢實業坊</a></div></div>\n<div id=\"main-container\">\n<div id=\"action-bar-container\">\n<div class=\"action-bar\">\n<div class=\"btn-group btn-group-paging\">\n<a class=\"btn wide\" href=\"/bbs/{board}/index1.html\">最舊</a>\n{prev}\n<a class=\"btn wide disabled\">下頁 &rsaquo;</a>\n<a class=\"btn wide\" href=\"/bbs/{board}/index.html\">最新</a>\n</div>\n</div>\n</div>\n<div class=\"r-list-container action-bar-margin bbs-screen\">\n{list}\t</div>\n</div>\n</body>\n</html>\n"
    )
}

/// The article page of `p`.
pub fn article_html(board: &str, p: &FakePost) -> String {
    let epoch: i64 =
        p.id.split('.')
            .nth(1)
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
    let time = chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%a %b %e %H:%M:%S %Y")
        .to_string();
    let mut pushes = String::new();
    for x in &p.pushes {
        let class = if x.tag == "推" {
            "hl push-tag"
        } else {
            "f1 hl push-tag"
        };
        pushes.push_str(&format!(
            "<div class=\"push\"><span class=\"{class}\">{} </span><span class=\"f3 hl push-userid\">{}</span><span class=\"f3 push-content\">: {}</span><span class=\"push-ipdatetime\"> 01/28 14:00\n</span></div>",
            x.tag, x.user, esc(&x.content)
        ));
    }
    let url = format!("https://www.ptt.cc/bbs/{board}/{}.html", p.id);
    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title} - 看板 {board} - 批踢踢實業坊</title>\n<link rel=\"canonical\" href=\"{url}\">\n</head>\n<body>\n<div id=\"main-container\">\n<div id=\"main-content\" class=\"bbs-screen bbs-content\"><div class=\"article-metaline\"><span class=\"article-meta-tag\">作者</span><span class=\"article-meta-value\">{author} (nick)</span></div><div class=\"article-metaline-right\"><span class=\"article-meta-tag\">看板</span><span class=\"article-meta-value\">{board}</span></div><div class=\"article-metaline\"><span class=\"article-meta-tag\">標題</span><span class=\"article-meta-value\">{title}</span></div><div class=\"article-metaline\"><span class=\"article-meta-tag\">時間</span><span class=\"article-meta-value\">{time}</span></div>\n原文標題：\n{headline}\n\n原文連結：\n<a href=\"{source}\" target=\"_blank\" rel=\"nofollow\">{source}</a>\n\n發布時間：\n2026-01-28 12:00\n\n記者署名：\n記者王小明\n\n原文內容：\n{body}\n\n心得/評論：\n這是心得，至少三十個字的評論內容在這裡湊滿字數的句子。\n\n--\n<span class=\"f2\">※ 發信站: 批踢踢實業坊(ptt.cc), 來自: 1.2.3.4 (臺灣)\n</span><span class=\"f2\">※ 文章網址: <a href=\"{url}\" target=\"_blank\" rel=\"nofollow\">{url}</a>\n</span>{pushes}</div>\n</div>\n</body>\n</html>\n",
        title = esc(&p.title),
        author = esc(&p.author),
        headline = esc(&p.headline),
        source = esc(&p.source),
        body = esc(&p.body),
    )
}
