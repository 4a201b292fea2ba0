//! The simulated www.ptt.cc: one board whose posts arrive in bursts (several
//! in one second, ids in any hex order), gain pushes, get deleted, and turn
//! the index pages over; a pinned row; and faults, both outages (every
//! request fails the same way for minutes) and single failed requests. It
//! answers the real `PttClient` through its `Transport` seam, on the paused
//! clock, with the same pages as the fake PTT of the other tests.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ptt_relay::ptt::transport::{RawRequest, RawResponse, Transport, TransportError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::support::fake_ptt::{FakePost, FakePush, PAGE_SIZE, article_html, index_html};

/// The simulated board's name.
pub const BOARD: &str = "Stock";

/// How a request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `503 Service Unavailable`, nginx's plain page.
    Plain503,
    /// `500 Internal Server Error` with an empty body.
    Status500,
    /// `429 Too Many Requests` with `Retry-After: 5`.
    TooMany,
    /// Cloudflare's challenge page (a block).
    Cloudflare,
    /// A 200 page cut off in the middle.
    Truncated,
    /// A 200 page that is not PTT's.
    Foreign,
    /// No answer until the client gives up.
    Hang,
    /// The connection breaks mid-body.
    BodyCut,
}

impl Fault {
    /// Every kind, for drawing one.
    pub const ALL: [Fault; 8] = [
        Fault::Plain503,
        Fault::Status500,
        Fault::TooMany,
        Fault::Cloudflare,
        Fault::Truncated,
        Fault::Foreign,
        Fault::Hang,
        Fault::BodyCut,
    ];
}

/// A post of the model.
#[derive(Clone, Debug)]
pub struct SimPost {
    /// `M.<epoch>.A.<hex>`.
    pub id: String,
    /// Its epoch (the second it was posted).
    pub epoch: i64,
    /// The title, `[tag] …`.
    pub title: String,
    /// When it appeared on the board (virtual).
    pub appeared: Instant,
    /// Posted before the relay's seeding (never to be relayed).
    pub before_start: bool,
    /// Push lines so far: `推`, `噓` or `→`.
    pub pushes: Vec<&'static str>,
    /// The highest net push it ever had.
    pub peak: i64,
    /// When it was deleted, if it was.
    pub deleted_at: Option<Instant>,
    /// A request for its article, or for an index page holding it, failed
    /// at least once: it may legitimately arrive after newer posts.
    pub held: bool,
}

impl SimPost {
    /// Net push (推 − 噓).
    pub fn net(&self) -> i64 {
        self.pushes
            .iter()
            .map(|t| match *t {
                "推" => 1,
                "噓" => -1,
                _ => 0,
            })
            .sum()
    }

    fn fake(&self) -> FakePost {
        FakePost {
            id: self.id.clone(),
            title: self.title.clone(),
            author: "simuser".into(),
            headline: format!("原文標題 {}", self.id),
            source: format!("https://news.example.com.tw/a/{}", self.epoch),
            body: "模擬新聞內文，至少要有一些字數的內容在這裡。".into(),
            pushes: self
                .pushes
                .iter()
                .enumerate()
                .map(|(i, tag)| FakePush {
                    tag,
                    user: format!("u{i}"),
                    content: "ok".into(),
                })
                .collect(),
            deleted: self.deleted_at.is_some(),
        }
    }
}

/// An outage: from `start` to `end` every request fails with `fault`.
#[derive(Clone, Copy, Debug)]
pub struct Outage {
    pub start: Instant,
    pub end: Instant,
    pub fault: Fault,
}

/// The board and its faults.
pub struct State {
    /// Posts in board order (oldest first), as PTT lists them.
    pub posts: Vec<SimPost>,
    /// The pinned row.
    pub pinned: SimPost,
    /// Outages, in time order.
    pub outages: Vec<Outage>,
    /// Chance that a request outside an outage fails (one request).
    pub sporadic: f64,
    rng: StdRng,
    /// Requests answered, by kind.
    pub index_requests: u64,
    pub article_requests: u64,
    /// When the first complete index page was served (the seeding).
    pub first_index_ok: Option<Instant>,
}

/// The simulated PTT, shared by the transport and the scenario driver.
pub struct SimPtt {
    pub state: Mutex<State>,
    /// One request's time on the wire.
    latency: Duration,
}

impl SimPtt {
    /// An empty board; `seed` draws the sporadic faults.
    pub fn new(seed: u64, sporadic: f64, base_epoch: i64) -> SimPtt {
        let pinned = SimPost {
            id: format!("M.{}.A.0AA", base_epoch - 90 * 86_400),
            epoch: base_epoch - 90 * 86_400,
            title: "[公告] 板規".into(),
            appeared: Instant::now(),
            before_start: true,
            pushes: Vec::new(),
            peak: 0,
            deleted_at: None,
            held: false,
        };
        SimPtt {
            state: Mutex::new(State {
                posts: Vec::new(),
                pinned,
                outages: Vec::new(),
                sporadic,
                rng: StdRng::seed_from_u64(seed ^ 0x5054_5450),
                index_requests: 0,
                article_requests: 0,
                first_index_ok: None,
            }),
            latency: Duration::from_millis(80),
        }
    }

    fn fault_now(&self, st: &mut State) -> Option<Fault> {
        let now = Instant::now();
        if let Some(o) = st.outages.iter().find(|o| o.start <= now && now < o.end) {
            return Some(o.fault);
        }
        if st.sporadic > 0.0 && st.rng.random_bool(st.sporadic) {
            let i = st.rng.random_range(0..Fault::ALL.len());
            return Some(Fault::ALL[i]);
        }
        None
    }
}

fn nginx(code: u16, reason: &str) -> RawResponse {
    RawResponse {
        status: code,
        headers: vec![("content-type".into(), "text/html".into())],
        body: format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ),
    }
}

fn ok(body: String) -> RawResponse {
    RawResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body,
    }
}

/// What a page request asks for.
enum Page {
    /// Index page `n` (`None`: the newest).
    Index(Option<usize>),
    Article(String),
    Other,
}

fn page_of(req: &RawRequest) -> Page {
    let path = req.url.path();
    let Some(file) = path.strip_prefix(&format!("/bbs/{BOARD}/")) else {
        return Page::Other;
    };
    if let Some(rest) = file
        .strip_prefix("index")
        .and_then(|f| f.strip_suffix(".html"))
    {
        return if rest.is_empty() {
            Page::Index(None)
        } else {
            rest.parse().map_or(Page::Other, |n| Page::Index(Some(n)))
        };
    }
    file.strip_suffix(".html")
        .map_or(Page::Other, |id| Page::Article(id.to_owned()))
}

#[async_trait]
impl Transport for SimPtt {
    async fn send(&self, request: RawRequest) -> Result<RawResponse, TransportError> {
        tokio::time::sleep(self.latency).await;
        let page = page_of(&request);
        let (fault, answer) = {
            let mut st = self.state.lock().unwrap();
            let fault = self.fault_now(&mut st);
            let answer = match &page {
                Page::Index(n) => {
                    st.index_requests += 1;
                    let last = st.posts.len().div_ceil(PAGE_SIZE).max(1);
                    let n = n.unwrap_or(last);
                    if !(1..=last).contains(&n) {
                        Err(404)
                    } else {
                        let start = (n - 1) * PAGE_SIZE;
                        let end = (start + PAGE_SIZE).min(st.posts.len());
                        if fault.is_some() {
                            for p in &mut st.posts[start..end] {
                                p.held = true;
                            }
                        } else if st.first_index_ok.is_none() {
                            st.first_index_ok = Some(Instant::now());
                        }
                        let rows: Vec<FakePost> =
                            st.posts[start..end].iter().map(SimPost::fake).collect();
                        let pinned = if n == last {
                            vec![st.pinned.fake()]
                        } else {
                            Vec::new()
                        };
                        Ok(index_html(BOARD, &rows, &pinned, n))
                    }
                }
                Page::Article(id) => {
                    st.article_requests += 1;
                    let failed = fault.is_some();
                    match st.posts.iter_mut().find(|p| p.id == *id) {
                        Some(p) if p.deleted_at.is_none() => {
                            p.held |= failed;
                            Ok(article_html(BOARD, &p.fake()))
                        }
                        _ => Err(404),
                    }
                }
                Page::Other => Err(404),
            };
            (fault, answer)
        };
        match fault {
            Some(Fault::Plain503) => return Ok(nginx(503, "Service Temporarily Unavailable")),
            Some(Fault::Status500) => {
                return Ok(RawResponse {
                    status: 500,
                    ..RawResponse::default()
                });
            }
            Some(Fault::TooMany) => {
                let mut r = nginx(429, "Too Many Requests");
                r.headers.push(("retry-after".into(), "5".into()));
                return Ok(r);
            }
            Some(Fault::Cloudflare) => {
                return Ok(RawResponse {
                    status: 503,
                    headers: vec![("content-type".into(), "text/html".into())],
                    body: "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser before accessing. Cloudflare Ray ID: 1234</body></html>".into(),
                });
            }
            Some(Fault::Foreign) => {
                return Ok(ok(
                    "<html><body><h1>Welcome to nginx!</h1></body></html>".into()
                ));
            }
            Some(Fault::Hang) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return Err(TransportError::Timeout);
            }
            Some(Fault::BodyCut) => {
                return Err(TransportError::BodyCut {
                    reason: "connection reset by peer".into(),
                });
            }
            Some(Fault::Truncated) => {
                if let Ok(body) = &answer {
                    let mut cut = body.len() / 2;
                    while !body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    return Ok(ok(body[..cut].to_owned()));
                }
            }
            None => {}
        }
        match answer {
            Ok(body) => Ok(ok(body)),
            Err(code) => Ok(RawResponse {
                status: code,
                headers: Vec::new(),
                body: "<html><body>404 - Not Found.</body></html>".into(),
            }),
        }
    }
}

/// Distinct same-second hex suffixes: `M.<epoch>.A.<hex>`.
pub fn post_id(epoch: i64, hex: u16) -> String {
    format!("M.{epoch}.A.{hex:03X}")
}

/// Posts appended in one burst, in board order.
pub fn burst(
    rng: &mut StdRng,
    epoch: i64,
    n: usize,
    titles: &mut dyn FnMut(&mut StdRng) -> String,
) -> Vec<SimPost> {
    let mut used = BTreeMap::new();
    let mut out = Vec::new();
    let mut second = epoch;
    for _ in 0..n {
        // Often several in one second, their hex in any order.
        if rng.random_bool(0.4) {
            second += 1;
        }
        let hex = loop {
            let h = rng.random_range(0..0xFFF_u16);
            if used.insert((second, h), ()).is_none() {
                break h;
            }
        };
        out.push(SimPost {
            id: post_id(second, hex),
            epoch: second,
            title: titles(rng),
            appeared: Instant::now(),
            before_start: false,
            pushes: Vec::new(),
            peak: 0,
            deleted_at: None,
            held: false,
        });
    }
    out
}

/// One replica's way to PTT: its requests, and its reading of their
/// answers, wait while the replica is frozen (see `freeze.rs`).
pub struct ReplicaPtt {
    pub net: std::sync::Arc<SimPtt>,
    pub freeze: std::sync::Arc<super::freeze::Freeze>,
}

#[async_trait]
impl Transport for ReplicaPtt {
    async fn send(&self, request: RawRequest) -> Result<RawResponse, TransportError> {
        self.freeze.pass().await;
        let answer = self.net.send(request).await;
        self.freeze.pass().await;
        answer
    }
}
