//! The PTT client against local fakes on 127.0.0.1: headers, the over-18
//! gate, redirects, retries, Cloudflare blocks, timeouts and the request
//! budget. Timing assertions are lower bounds only; every test has a hang
//! guard.

use std::future::Future;
use std::time::{Duration, Instant};

use ptt_relay::ptt::budget::Priority;
use ptt_relay::ptt::client::{ClientOptions, FetchError, PttClient};
use ptt_relay::ptt::{Board, PostId};
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PTT_INDEX: &str = "<!DOCTYPE html><html><head><title>看板 Stock 文章列表 - 批踢踢實業坊</title></head>\
<body><div class=\"r-list-container\">ok</div></body></html>";

const PTT_403: &str = "<!DOCTYPE html><html><head><title>403 - 批踢踢實業坊</title></head>\
<body>Forbidden</body></html>";

/// Shaped like Cloudflare's interstitial; note that it names the domain.
const CLOUDFLARE_CHALLENGE: &str = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
<meta http-equiv=\"refresh\" content=\"390\"></head><body><div class=\"main-wrapper\">\
<h1>www.ptt.cc</h1><p>www.ptt.cc needs to review the security of your connection before proceeding.</p>\
<script>(function(){window._cf_chl_opt={cvId: '3'};})();</script></div></body></html>";

/// Options for fast tests: a generous budget, short timeouts and backoffs.
fn options(base: &str) -> ClientOptions {
    let mut o = ClientOptions::new(Url::parse(base).expect("fake server URL"));
    o.requests_per_sec = 1000.0;
    o.connect_timeout = Duration::from_secs(2);
    o.request_timeout = Duration::from_secs(3);
    o.max_attempts = 4;
    o.initial_backoff = Duration::from_millis(10);
    o.max_backoff = Duration::from_secs(2);
    o.block_backoff = Duration::from_millis(300);
    o
}

/// The real client, kept away from any proxy configured on the machine.
fn client(o: ClientOptions) -> PttClient {
    PttClient::with_builder(o, reqwest::Client::builder().no_proxy()).expect("client")
}

/// Fails the test instead of hanging it.
async fn guard<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("the client hung")
}

fn stock() -> Board {
    Board::parse("Stock").unwrap()
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recording is on")
}

async fn count(server: &MockServer, verb: &str) -> usize {
    requests(server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == verb)
        .count()
}

#[tokio::test]
async fn sends_user_agent_and_over18_cookie() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .and(header("cookie", "over18=1"))
        .respond_with(ResponseTemplate::new(200).set_body_string(PTT_INDEX))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));

    let body = guard(c.fetch_index(&stock(), None, Priority::Index))
        .await
        .expect("index");
    assert_eq!(body, PTT_INDEX);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 1);
    let ua = reqs[0]
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .expect("a User-Agent");
    assert!(
        ua.starts_with(&format!("ptt-relay/{}", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
}

#[tokio::test]
async fn fetches_articles_and_older_index_pages_by_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/M.1769577959.A.C89.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string("article"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index6965.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string("older"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));
    let id = PostId::parse("M.1769577959.A.C89").unwrap();

    let article = guard(c.fetch_article(&stock(), &id, Priority::Article)).await;
    assert_eq!(article.unwrap(), "article");
    let older = guard(c.fetch_index(
        &stock(),
        Some("/bbs/Stock/index6965.html"),
        Priority::Catchup,
    ))
    .await;
    assert_eq!(older.unwrap(), "older");
}

#[tokio::test]
async fn refuses_index_hrefs_outside_bbs_without_sending() {
    let server = MockServer::start().await;
    let c = client(options(&server.uri()));
    for href in [
        "https://evil.example/bbs/Stock/index1.html",
        "/ask/over18",
        "//evil.example/bbs/",
        "/bbs/../ask/over18",
        "/bbs/%2e%2e/ask/over18",
    ] {
        let err = guard(c.fetch_index(&stock(), Some(href), Priority::Catchup))
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::InvalidPath { .. }), "{err}");
        assert!(!err.is_transient());
    }
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn answers_the_over18_form_once_then_retries() {
    let server = MockServer::start().await;
    // The first GET meets the gate; the form is answered; the retry passes.
    Mock::given(method("GET"))
        .and(path("/bbs/Gossiping/index.html"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            "/ask/over18?from=%2Fbbs%2FGossiping%2Findex.html",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bbs/Gossiping/index.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string(PTT_INDEX))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ask/over18"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "/bbs/Gossiping/index.html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));
    let board = Board::parse("Gossiping").unwrap();

    let body = guard(c.fetch_index(&board, None, Priority::Index))
        .await
        .expect("passes the gate");
    assert_eq!(body, PTT_INDEX);

    let reqs = requests(&server).await;
    let post = reqs
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("the form was posted");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&post.body)
        .into_owned()
        .collect();
    assert_eq!(
        form,
        vec![
            ("from".to_owned(), "/bbs/Gossiping/index.html".to_owned()),
            ("yes".to_owned(), "yes".to_owned()),
        ]
    );
    assert_eq!(count(&server, "GET").await, 2);
}

#[tokio::test]
async fn a_gate_that_keeps_coming_back_is_an_over18_loop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/Gossiping/index.html"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            "/ask/over18?from=%2Fbbs%2FGossiping%2Findex.html",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ask/over18"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "/bbs/Gossiping/index.html"),
        )
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));
    let board = Board::parse("Gossiping").unwrap();

    let err = guard(c.fetch_index(&board, None, Priority::Index))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Over18Loop { .. }), "{err}");
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("/bbs/Gossiping/index.html"),
        "{err}"
    );
    assert_eq!(count(&server, "POST").await, 1, "the form is answered once");
    assert_eq!(count(&server, "GET").await, 2, "the page is retried once");
}

#[tokio::test]
async fn follows_same_host_redirects_but_not_loops_or_other_hosts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/stock/index.html"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/bbs/Stock/index.html"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string(PTT_INDEX))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/a"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/b"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/b"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/a"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/away"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "http://elsewhere.invalid/bbs/"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/nowhere"))
        .respond_with(ResponseTemplate::new(302))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));

    let body = guard(c.get("/bbs/stock/index.html", Priority::Index)).await;
    assert_eq!(body.unwrap(), PTT_INDEX);

    let err = guard(c.get("/a", Priority::Index)).await.unwrap_err();
    assert!(matches!(err, FetchError::Redirect { .. }), "{err}");
    // The first request and three redirects, no retries.
    let loop_hops = requests(&server)
        .await
        .iter()
        .filter(|r| matches!(r.url.path(), "/a" | "/b"))
        .count();
    assert_eq!(loop_hops, 4);

    let err = guard(c.get("/away", Priority::Index)).await.unwrap_err();
    assert!(matches!(err, FetchError::Redirect { .. }), "{err}");
    assert!(err.to_string().contains("elsewhere.invalid"), "{err}");

    let err = guard(c.get("/nowhere", Priority::Index)).await.unwrap_err();
    assert!(matches!(err, FetchError::Redirect { .. }), "{err}");
}

#[tokio::test]
async fn retries_server_errors_then_returns_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string(PTT_INDEX))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));

    let body = guard(c.fetch_index(&stock(), None, Priority::Index)).await;
    assert_eq!(body.unwrap(), PTT_INDEX);
    assert_eq!(count(&server, "GET").await, 3);
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let mut o = options(&server.uri());
    o.max_attempts = 3;
    let c = client(o);

    let err = guard(c.get("/bbs/Stock/index.html", Priority::Index))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 502, .. }),
        "{err}"
    );
    assert!(err.is_transient());
    assert_eq!(err.to_string(), "HTTP 502 fetching /bbs/Stock/index.html");
    assert_eq!(count(&server, "GET").await, 3);
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string(PTT_INDEX))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));

    let start = Instant::now();
    let body = guard(c.fetch_index(&stock(), None, Priority::Index)).await;
    assert_eq!(body.unwrap(), PTT_INDEX);
    assert!(
        start.elapsed() >= Duration::from_millis(990),
        "Retry-After ignored: {:?}",
        start.elapsed()
    );
    assert_eq!(count(&server, "GET").await, 2);
}

#[tokio::test]
async fn a_cloudflare_page_is_blocked_and_pauses_all_requests() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/index.html"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("content-type", "text/html; charset=UTF-8")
                .set_body_string(CLOUDFLARE_CHALLENGE),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bbs/Stock/M.1769577959.A.C89.html"))
        .respond_with(ResponseTemplate::new(200).set_body_string("article"))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));

    let err = guard(c.fetch_index(&stock(), None, Priority::Index))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Blocked { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_transient());
    let msg = err.to_string();
    assert!(
        msg.contains("/bbs/Stock/index.html") && !msg.contains('\n'),
        "{msg}"
    );
    assert_eq!(
        count(&server, "GET").await,
        1,
        "a block is not retried here"
    );
    assert!(c.budget().held_until().is_some());

    // Every other request waits out the pause (300 ms in these options).
    let start = Instant::now();
    let id = PostId::parse("M.1769577959.A.C89").unwrap();
    let article = guard(c.fetch_article(&stock(), &id, Priority::Article)).await;
    assert_eq!(article.unwrap(), "article");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_403_with_ptt_markup_is_not_blocked() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string(PTT_403))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));

    let err = guard(c.get("/bbs/Secret/index.html", Priority::Index))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 403, .. }),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(count(&server, "GET").await, 1);
    assert!(c.budget().held_until().is_none());
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("404 - Not Found."))
        .mount(&server)
        .await;
    let c = client(options(&server.uri()));
    let id = PostId::parse("M.1769577959.A.C89").unwrap();

    let err = guard(c.fetch_article(&stock(), &id, Priority::Tally))
        .await
        .unwrap_err();
    match &err {
        FetchError::NotFound { path } => {
            assert_eq!(path, "/bbs/Stock/M.1769577959.A.C89.html")
        }
        other => panic!("expected NotFound, got {other}"),
    }
    assert!(!err.is_transient());
    assert_eq!(count(&server, "GET").await, 1);
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut o = options(&format!("http://{addr}"));
    o.request_timeout = Duration::from_millis(300);
    o.max_attempts = 2;
    let c = client(o);

    let start = Instant::now();
    let err = guard(c.get("/bbs/Stock/index.html", Priority::Index))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(err.to_string(), "timed out fetching /bbs/Stock/index.html");
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "two attempts"
    );
    holder.abort();
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_without_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut o = options(&format!("http://{addr}"));
    o.max_attempts = 2;
    let c = client(o);

    let err = guard(c.get("/bbs/Stock/index.html", Priority::Index))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect { .. }), "{err}");
    assert!(err.is_transient());
    let msg = err.to_string();
    assert!(msg.contains("/bbs/Stock/index.html"), "{msg}");
    assert!(!msg.contains(&addr.to_string()), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[tokio::test]
async fn the_budget_limits_the_rate() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(PTT_INDEX))
        .mount(&server)
        .await;
    let mut o = options(&server.uri());
    o.requests_per_sec = 5.0;
    let c = client(o);

    // A burst of 3, then one every 200 ms: 6 requests need ≥ 0.6 s.
    let start = Instant::now();
    for _ in 0..6 {
        guard(c.fetch_index(&stock(), None, Priority::Index))
            .await
            .expect("page");
    }
    assert!(
        start.elapsed() >= Duration::from_millis(550),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(count(&server, "GET").await, 6);
}
