//! The HTTP client for PTT's web front end.
//!
//! [`PttClient`] fetches board index pages and articles as text; parsing
//! happens elsewhere. It is the only way the service talks to PTT, so it owns
//! the politeness rules: every HTTP request (redirect hops and the over-18
//! form included) first takes a token from the shared [`RequestBudget`].
//! Only a page bearing Cloudflare's own challenge or block markers is a
//! block, which pauses the whole budget (30 s doubling to 10 min). Any other
//! 5xx, 429 or error page is an ordinary transient fault: retried with
//! exponential backoff and jitter, honouring `Retry-After`, and never paused
//! longer than `max_transient_pause` (the poll interval), so that news flows
//! again as soon as PTT answers.
//!
//! Errors name the path that was fetched and nothing else: no full URLs (the
//! base URL is the operator's), no headers, no reqwest debug output.
//!
//! The bytes travel through a [`Transport`] (reqwest by default); every
//! judgement about what came back is made here, above that seam.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::telemetry::metrics::metrics;

use super::budget::{InvalidRate, Priority, RequestBudget};
use super::ids::{Board, PostId};
use super::jitter;
use super::transport::{
    Method, RawRequest, RawResponse, ReqwestTransport, Transport, TransportError,
};

/// The `User-Agent` sent with every request, so PTT's operators can tell
/// who is knocking and where to complain.
pub const USER_AGENT: &str = concat!(
    "ptt-relay/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/ptt-relay/ptt-relay)"
);

/// Same-host redirects followed for one request (the over-18 gate is
/// handled apart and not counted).
const MAX_REDIRECTS: u32 = 3;

/// Bodies longer than this are refused: PTT pages are at most a few hundred
/// KiB, so anything this large is not a page we can use.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Where PTT sends visitors of over-18 boards who have not agreed yet.
const OVER18_PATH: &str = "/ask/over18";

/// How a [`PttClient`] is set up. Build one with [`ClientOptions::new`] and
/// change the fields that differ from the defaults.
#[derive(Clone)]
pub struct ClientOptions {
    /// Where PTT is (`ptt.base_url`). Only its scheme, host and port are
    /// used: request paths are absolute (`/bbs/...`).
    pub base_url: Url,
    /// Rate of the shared request budget (`ptt.requests_per_sec`); positive,
    /// may be below 1.
    pub requests_per_sec: f64,
    /// Time allowed to open a connection (default 5 s).
    pub connect_timeout: Duration,
    /// Time allowed for one whole HTTP request, body included (default
    /// 20 s).
    pub request_timeout: Duration,
    /// HTTP attempts per fetch, the first included (default 4; 0 counts as
    /// 1).
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles for each further retry, with
    /// jitter (default 1 s).
    pub initial_backoff: Duration,
    /// Cap on any retry delay, honoured `Retry-After` and block pause
    /// (default 10 min).
    pub max_backoff: Duration,
    /// Cap on any pause for a transient fault (a 5xx, 429 or plain error
    /// page): each retry delay, an honoured `Retry-After` and the budget
    /// pause after a 429. The service sets it to `ptt.poll_interval_secs`
    /// (default 60 s). Cloudflare blocks are not capped by it.
    pub max_transient_pause: Duration,
    /// How long the whole budget pauses after the first Cloudflare block;
    /// it doubles with each consecutive block up to `max_backoff` and resets
    /// after a successful fetch (default 30 s).
    pub block_backoff: Duration,
    /// Sends the requests instead of reqwest when set (a simulation's fake
    /// network; see [`PttClient::with_transport`]). `None` by default. Lets
    /// a caller that only tunes options (the app's test hook) swap the
    /// network without another constructor.
    pub transport: Option<Arc<dyn Transport>>,
}

impl ClientOptions {
    /// The defaults, fetching from `base_url` at one request a second.
    pub fn new(base_url: Url) -> Self {
        ClientOptions {
            base_url,
            requests_per_sec: 1.0,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            max_transient_pause: Duration::from_secs(60),
            block_backoff: Duration::from_secs(30),
            transport: None,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("base_url", &redacted(&self.base_url))
            .field("requests_per_sec", &self.requests_per_sec)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_transient_pause", &self.max_transient_pause)
            .field("block_backoff", &self.block_backoff)
            .field("transport", &self.transport.as_ref().map(|_| "custom"))
            .finish()
    }
}

/// Why a [`PttClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `requests_per_sec` is not a positive number.
    #[error("ptt.requests_per_sec: {0}")]
    InvalidRate(#[from] InvalidRate),
    /// The base URL is not an http(s) URL with a host. The URL itself is not
    /// printed: it may carry a password.
    #[error("ptt.base_url must be an http:// or https:// URL with a host (scheme given: {scheme})")]
    InvalidBaseUrl {
        /// The scheme that was given.
        scheme: String,
    },
    /// reqwest could not set up its client (e.g. the TLS backend).
    #[error("cannot set up the HTTP client for PTT: {reason}")]
    Http {
        /// The innermost cause.
        reason: String,
    },
}

/// Why a fetch from PTT failed. Each message is one line naming the path
/// that was fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No complete answer within `request_timeout` (or no connection within
    /// `connect_timeout`), after all attempts.
    #[error("timed out fetching {path}")]
    Timeout {
        /// What was fetched.
        path: String,
    },
    /// The connection could not be opened (refused, DNS, TLS), after all
    /// attempts.
    #[error("cannot connect to PTT fetching {path}: {reason}")]
    Connect {
        /// What was fetched.
        path: String,
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        reason: String,
    },
    /// The connection failed mid-way (reset, bad gzip), after all attempts.
    #[error("network error fetching {path}: {reason}")]
    Network {
        /// What was fetched.
        path: String,
        /// The innermost cause.
        reason: String,
    },
    /// An HTTP status that is not handled otherwise: a 4xx, or a 5xx/429
    /// that persisted through all attempts.
    #[error("HTTP {status} fetching {path}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// What was fetched.
        path: String,
    },
    /// 404: the page does not exist (a deleted post, a wrong board). Never
    /// retried.
    #[error("not found (HTTP 404): {path}")]
    NotFound {
        /// What was fetched.
        path: String,
    },
    /// An error answer bearing Cloudflare's own challenge or block markers
    /// (the `cf-mitigated` header, `challenge-platform`, "Just a moment...",
    /// "Attention Required! | Cloudflare"). Not retried here; every PTT
    /// request is paused for `backoff`, so callers just carry on later.
    #[error(
        "blocked by Cloudflare fetching {path} (HTTP {status}); PTT requests paused for {}s",
        .backoff.as_secs()
    )]
    Blocked {
        /// The HTTP status code.
        status: u16,
        /// What was fetched.
        path: String,
        /// How long the whole request budget is paused.
        backoff: Duration,
    },
    /// Still redirected to the over-18 gate after sending the cookie and
    /// answering the form once.
    #[error("still sent to the over-18 gate after answering it, fetching {path}")]
    Over18Loop {
        /// What was fetched.
        path: String,
    },
    /// A redirect that is not followed: to another host, without a usable
    /// `Location`, or more than three in a row.
    #[error("redirect not followed fetching {path}: {reason}")]
    Redirect {
        /// What was fetched.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The body is larger than any PTT page.
    #[error("response too large fetching {path} (over {limit} bytes)")]
    TooLarge {
        /// What was fetched.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The path given is not an absolute path on PTT (e.g. a full URL, or an
    /// index href outside `/bbs/`). Nothing was sent.
    #[error("not a PTT page path: {path}")]
    InvalidPath {
        /// The path as given, with control characters escaped.
        path: String,
    },
}

impl FetchError {
    /// Whether trying again later may succeed: timeouts, network faults,
    /// Cloudflare blocks, 5xx, 429 and 408. Not-found pages, other 4xx, the
    /// over-18 loop, bad redirects and bad paths will fail the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Network { .. }
            | FetchError::Blocked { .. } => true,
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FetchError::NotFound { .. }
            | FetchError::Over18Loop { .. }
            | FetchError::Redirect { .. }
            | FetchError::TooLarge { .. }
            | FetchError::InvalidPath { .. } => false,
        }
    }

    /// The path that was fetched.
    pub fn path(&self) -> &str {
        match self {
            FetchError::Timeout { path }
            | FetchError::Connect { path, .. }
            | FetchError::Network { path, .. }
            | FetchError::Status { path, .. }
            | FetchError::NotFound { path }
            | FetchError::Blocked { path, .. }
            | FetchError::Over18Loop { path }
            | FetchError::Redirect { path, .. }
            | FetchError::TooLarge { path, .. }
            | FetchError::InvalidPath { path } => path,
        }
    }

    /// The HTTP status PTT (or Cloudflare) answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } | FetchError::Blocked { status, .. } => Some(*status),
            FetchError::NotFound { .. } => Some(404),
            _ => None,
        }
    }
}

/// The outcome of one attempt that did not produce a body.
enum Failure {
    /// Worth another attempt. `budget_held` says the whole budget was already
    /// paused for it (a `Retry-After` or a 429), so no extra local sleep is
    /// needed.
    Retry {
        error: FetchError,
        budget_held: bool,
    },
    /// Give up now.
    Final(FetchError),
}

/// The PTT web client. Cheap to clone; clones share the connection pool,
/// the request budget and the block back-off.
#[derive(Clone)]
pub struct PttClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PttClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PttClient")
            .field("base_url", &redacted(&self.inner.base))
            .field("requests_per_sec", &self.inner.budget.requests_per_sec())
            .finish_non_exhaustive()
    }
}

struct Inner {
    transport: Arc<dyn Transport>,
    base: Url,
    request_timeout: Duration,
    budget: RequestBudget,
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_transient_pause: Duration,
    block_backoff: Duration,
    /// The pause applied at the next Cloudflare block.
    next_block: Mutex<Duration>,
}

impl PttClient {
    /// A client for `options`: through `options.transport` when set, else
    /// over reqwest using the system's proxy settings (`HTTPS_PROXY` etc.),
    /// as operators may need.
    pub fn new(options: ClientOptions) -> Result<Self, BuildError> {
        match options.transport.clone() {
            Some(transport) => Self::with_transport(options, transport),
            None => Self::with_builder(options, reqwest::Client::builder()),
        }
    }

    /// A client built on top of `builder`, for settings this module does not
    /// make (tests pass one with `.no_proxy()`). The user agent, timeouts,
    /// redirect policy and the over-18 cookie are always set here and
    /// override the builder's.
    pub fn with_builder(
        options: ClientOptions,
        builder: reqwest::ClientBuilder,
    ) -> Result<Self, BuildError> {
        check_base(&options.base_url)?;
        let transport =
            ReqwestTransport::new(builder, options.connect_timeout, options.request_timeout)
                .map_err(|e| BuildError::Http {
                    reason: e.to_string(),
                })?;
        Self::with_transport(options, Arc::new(transport))
    }

    /// A client that sends its requests through `transport` instead of
    /// reqwest (a deterministic simulation's fake network). Everything but
    /// the bytes on the wire (budget, retries, back-off, `Retry-After`,
    /// redirects, the over-18 gate, telling Cloudflare's pages from PTT's,
    /// and the `request_timeout` around each request) still happens here.
    /// `connect_timeout` is the transport's business.
    pub fn with_transport(
        options: ClientOptions,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, BuildError> {
        let budget = RequestBudget::new(options.requests_per_sec)?;
        let base = options.base_url;
        check_base(&base)?;
        Ok(PttClient {
            inner: Arc::new(Inner {
                transport,
                base,
                request_timeout: options.request_timeout,
                budget,
                max_attempts: options.max_attempts.max(1),
                initial_backoff: options.initial_backoff,
                max_backoff: options.max_backoff,
                max_transient_pause: options.max_transient_pause.min(options.max_backoff),
                block_backoff: options.block_backoff.min(options.max_backoff),
                next_block: Mutex::new(options.block_backoff.min(options.max_backoff)),
            }),
        })
    }

    /// The budget every request of this client draws from; hand it to
    /// anything else that must slow down with PTT.
    pub fn budget(&self) -> &RequestBudget {
        &self.inner.budget
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// A board's index page: the newest (`page` = `None`, i.e.
    /// `/bbs/{board}/index.html`) or the page at `page`, an href taken from
    /// a previous page's paging links (it must start with `/bbs/`).
    pub async fn fetch_index(
        &self,
        board: &Board,
        page: Option<&str>,
        priority: Priority,
    ) -> Result<String, FetchError> {
        match page {
            None => {
                self.get(&format!("/bbs/{}/index.html", board.as_str()), priority)
                    .await
            }
            Some(href) => {
                let path = label(href);
                match self.url_for(href) {
                    // Checked after resolving, so `/bbs/../ask` cannot slip out.
                    Some(url) if url.path().starts_with("/bbs/") => {
                        self.fetch(&url, &path, priority).await
                    }
                    _ => Err(FetchError::InvalidPath { path }),
                }
            }
        }
    }

    /// An article page, `/bbs/{board}/{id}.html`.
    pub async fn fetch_article(
        &self,
        board: &Board,
        id: &PostId,
        priority: Priority,
    ) -> Result<String, FetchError> {
        self.get(
            &format!("/bbs/{}/{}.html", board.as_str(), id.as_str()),
            priority,
        )
        .await
    }

    /// GETs `path_and_query` (absolute, e.g. `/bbs/Stock/index.html`) from
    /// the base URL and returns the body as text.
    ///
    /// Each HTTP request takes a budget token at `priority` first. Timeouts,
    /// connection faults, 5xx and 429 are retried up to `max_attempts` times
    /// with exponential backoff and jitter; a `Retry-After` (or any 429)
    /// pauses the whole budget instead. A Cloudflare page is returned at once
    /// as [`FetchError::Blocked`] after pausing the budget.
    pub async fn get(
        &self,
        path_and_query: &str,
        priority: Priority,
    ) -> Result<String, FetchError> {
        let label = label(path_and_query);
        let url = self
            .url_for(path_and_query)
            .ok_or_else(|| FetchError::InvalidPath {
                path: label.clone(),
            })?;
        self.fetch(&url, &label, priority).await
    }

    /// [`get`](Self::get) for a URL already resolved against the base;
    /// `label` is the path as shown in errors and logs.
    async fn fetch(
        &self,
        url: &Url,
        label: &str,
        priority: Priority,
    ) -> Result<String, FetchError> {
        let inner = &*self.inner;
        let mut attempt = 1;
        loop {
            match self.attempt(url, label, priority, attempt).await {
                Ok(body) => {
                    self.blocks_over();
                    return Ok(body);
                }
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry { error, .. }) if attempt >= inner.max_attempts => {
                    return Err(error);
                }
                Err(Failure::Retry { error, budget_held }) => {
                    let delay = if budget_held {
                        inner.budget.held_until().map_or(Duration::ZERO, |u| {
                            u.saturating_duration_since(Instant::now())
                        })
                    } else {
                        self.backoff(attempt)
                    };
                    tracing::warn!(
                        path = %label,
                        attempt,
                        max_attempts = inner.max_attempts,
                        reason = %error,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "PTT request failed; retrying"
                    );
                    if !budget_held {
                        tokio::time::sleep(delay).await;
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// `path_and_query` resolved against the base, or `None` when it is not
    /// an absolute path on the base's host (a full URL, `//host/...`, `\`
    /// tricks).
    fn url_for(&self, path_and_query: &str) -> Option<Url> {
        if !path_and_query.starts_with('/') || path_and_query.starts_with("//") {
            return None;
        }
        let base = &self.inner.base;
        let url = base.join(path_and_query).ok()?;
        (url.origin() == base.origin()).then_some(url)
    }

    /// One attempt: a GET, following same-host redirects and answering the
    /// over-18 gate once.
    async fn attempt(
        &self,
        start: &Url,
        label: &str,
        priority: Priority,
        attempt: u32,
    ) -> Result<String, Failure> {
        let inner = &*self.inner;
        let mut url = start.clone();
        let mut redirects = 0;
        let mut gate_answered = false;
        loop {
            inner.budget.acquire(priority).await;
            let sent = Instant::now();
            let response = self
                .send(self.request(Method::Get, url.clone(), Vec::new()), label)
                .await?;
            let status = response.status;
            tracing::debug!(
                path = %label,
                url_path = url.path(),
                status,
                elapsed_ms = u64::try_from(sent.elapsed().as_millis()).unwrap_or(u64::MAX),
                "PTT response"
            );

            if (300..400).contains(&status) {
                let Some(target) = location(&url, &response) else {
                    return Err(Failure::Final(FetchError::Redirect {
                        path: label.to_owned(),
                        reason: format!("HTTP {status} without a usable Location"),
                    }));
                };
                // Same host, any scheme or port: an http → https upgrade is
                // fine, another host is not PTT.
                if target.host_str() != inner.base.host_str() {
                    return Err(Failure::Final(FetchError::Redirect {
                        path: label.to_owned(),
                        reason: format!(
                            "to another host ({})",
                            target.host_str().unwrap_or("none")
                        ),
                    }));
                }
                if target.path() == OVER18_PATH {
                    if gate_answered {
                        return Err(Failure::Final(FetchError::Over18Loop {
                            path: label.to_owned(),
                        }));
                    }
                    gate_answered = true;
                    let from = target
                        .query_pairs()
                        .find(|(k, _)| k == "from")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_else(|| path_and_query(start));
                    tracing::debug!(path = %label, "answering PTT's over-18 form");
                    self.answer_over18(&from, label, priority, attempt).await?;
                    url = start.clone();
                    continue;
                }
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(Failure::Final(FetchError::Redirect {
                        path: label.to_owned(),
                        reason: format!("more than {MAX_REDIRECTS} redirects"),
                    }));
                }
                url = target;
                continue;
            }

            return self.judge(response, label, attempt);
        }
    }

    /// A request with the headers every PTT request carries: the user
    /// agent and the over-18 cookie.
    fn request(&self, method: Method, url: Url, form: Vec<(String, String)>) -> RawRequest {
        RawRequest {
            method,
            url,
            headers: vec![
                ("user-agent".to_owned(), USER_AGENT.to_owned()),
                ("cookie".to_owned(), "over18=1".to_owned()),
            ],
            form,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }

    /// Sends one request through the transport within `request_timeout`,
    /// counting it in the metrics.
    async fn send(&self, request: RawRequest, label: &str) -> Result<RawResponse, Failure> {
        let inner = &*self.inner;
        let sent = Instant::now();
        let result = tokio::time::timeout(inner.request_timeout, inner.transport.send(request))
            .await
            .unwrap_or(Err(TransportError::Timeout));
        let seconds = sent.elapsed().as_secs_f64();
        match result {
            Ok(response) => {
                metrics().ptt_request(&response.status.to_string(), seconds);
                Ok(response)
            }
            Err(e) => {
                metrics().ptt_request("error", seconds);
                Err(transport_failure(e, label))
            }
        }
    }

    /// POSTs the over-18 form (`from`, `yes=yes`). Success or a redirect
    /// means it was taken; anything else is judged like any response.
    async fn answer_over18(
        &self,
        from: &str,
        label: &str,
        priority: Priority,
        attempt: u32,
    ) -> Result<(), Failure> {
        let inner = &*self.inner;
        let form_label = format!("{OVER18_PATH} (for {label})");
        let mut url = inner.base.clone();
        url.set_path(OVER18_PATH);
        url.set_query(None);
        url.set_fragment(None);
        inner.budget.acquire(priority).await;
        let form = vec![
            ("from".to_owned(), from.to_owned()),
            ("yes".to_owned(), "yes".to_owned()),
        ];
        let response = self
            .send(self.request(Method::Post, url, form), &form_label)
            .await?;
        if (200..400).contains(&response.status) {
            return Ok(());
        }
        self.judge(response, &form_label, attempt).map(drop)
    }

    /// Turns a final (non-redirect) response into the body or a failure.
    fn judge(&self, response: RawResponse, label: &str, attempt: u32) -> Result<String, Failure> {
        let code = response.status;
        if (200..300).contains(&code) {
            return Ok(response.body);
        }
        let inner = &*self.inner;
        let retry_after = retry_after(response.header("retry-after"));

        if is_cloudflare_block(&response) {
            let backoff = self
                .next_block_pause()
                .max(retry_after.unwrap_or_default().min(inner.max_backoff));
            inner.budget.hold_off(Instant::now() + backoff);
            tracing::warn!(
                path = %label,
                status = code,
                pause_secs = backoff.as_secs(),
                "Cloudflare blocked a PTT request; pausing all PTT requests"
            );
            return Err(Failure::Final(FetchError::Blocked {
                status: code,
                path: label.to_owned(),
                backoff,
            }));
        }
        if code == 404 {
            return Err(Failure::Final(FetchError::NotFound {
                path: label.to_owned(),
            }));
        }
        let error = FetchError::Status {
            status: code,
            path: label.to_owned(),
        };
        if code == 429 || (500..600).contains(&code) {
            // A 429 means we are too fast as a whole, and a Retry-After is
            // PTT telling everyone to wait: both pause the whole budget, but
            // never longer than one poll interval, so that a short outage
            // does not silence the relay for longer than it lasted.
            let pause = match retry_after {
                Some(d) => Some(d.min(inner.max_transient_pause)),
                None if code == 429 => Some(self.backoff(attempt)),
                None => None,
            };
            if let Some(pause) = pause {
                inner.budget.hold_off(Instant::now() + pause);
            }
            return Err(Failure::Retry {
                error,
                budget_held: pause.is_some(),
            });
        }
        Err(Failure::Final(error))
    }

    /// The delay before retry number `attempt` (1-based): `initial_backoff`
    /// doubled per retry, capped at `max_transient_pause` (itself at most
    /// `max_backoff`), then scaled by a random factor in [0.5, 1] so that
    /// retries do not march in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let inner = &*self.inner;
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let full = inner
            .initial_backoff
            .saturating_mul(factor)
            .min(inner.max_transient_pause);
        full.mul_f64(jitter::factor(0.5, 1.0))
    }

    /// The pause for this Cloudflare block; the next one will be twice as
    /// long, up to `max_backoff`.
    fn next_block_pause(&self) -> Duration {
        let inner = &*self.inner;
        let mut next = inner
            .next_block
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let pause = *next;
        *next = next.saturating_mul(2).min(inner.max_backoff);
        pause
    }

    /// A successful fetch ends a run of blocks.
    fn blocks_over(&self) {
        let inner = &*self.inner;
        *inner
            .next_block
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = inner.block_backoff;
    }
}

/// Turns a transport error into a retry or a final error.
fn transport_failure(error: TransportError, label: &str) -> Failure {
    let path = label.to_owned();
    let error = match error {
        TransportError::Invalid { .. } => {
            return Failure::Final(FetchError::InvalidPath { path });
        }
        TransportError::TooLarge { limit } => {
            return Failure::Final(FetchError::TooLarge { path, limit });
        }
        TransportError::Timeout => FetchError::Timeout { path },
        TransportError::Connect { reason } => FetchError::Connect { path, reason },
        TransportError::BodyCut { reason } => FetchError::Network { path, reason },
    };
    Failure::Retry {
        error,
        budget_held: false,
    }
}

/// Whether a base URL can be used: http(s) with a host.
fn check_base(base: &Url) -> Result<(), BuildError> {
    if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
        return Err(BuildError::InvalidBaseUrl {
            scheme: base.scheme().to_owned(),
        });
    }
    Ok(())
}

/// A path as shown in errors and logs: control characters escaped, at most
/// 200 characters.
fn label(path: &str) -> String {
    one_line(path, 200)
}

fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `url` as text with any password replaced by `***`.
fn redacted(url: &Url) -> String {
    crate::telemetry::redact::mask_url(url.as_str())
}

/// The path and query of `url`, e.g. `/bbs/Gossiping/index.html`.
fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The redirect target, resolved against the URL that was fetched.
fn location(current: &Url, response: &RawResponse) -> Option<Url> {
    let value = response.header("location")?;
    current.join(value.trim()).ok()
}

/// A `Retry-After` value as delay-seconds or an HTTP date.
fn retry_after(value: Option<&str>) -> Option<Duration> {
    let value = value?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    // The relay's clock (virtual in the simulation), not the system's.
    let secs = when.timestamp().saturating_sub(crate::clock::now_secs());
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
}

/// Whether an error answer is Cloudflare's challenge or block page: it has
/// the `cf-mitigated` header, or its body carries one of Cloudflare's own
/// markers. Nothing else counts: a plain 503 page (nginx's, PTT's, or
/// Cloudflare's "origin is down" pages such as 521/522) is an ordinary
/// outage, and real PTT pages load Cloudflare's analytics beacon, so the
/// word "cloudflare" alone proves nothing.
fn is_cloudflare_block(response: &RawResponse) -> bool {
    const MARKERS: [&str; 3] = [
        "challenge-platform",
        "Just a moment...",
        "Attention Required! | Cloudflare",
    ];
    response.header("cf-mitigated").is_some() || MARKERS.iter().any(|m| response.body.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> PttClient {
        PttClient::with_builder(
            ClientOptions::new(Url::parse(base).unwrap()),
            reqwest::Client::builder().no_proxy(),
        )
        .unwrap()
    }

    /// A transport answering from a script, recording what was asked.
    struct Scripted {
        answers: Mutex<std::collections::VecDeque<Result<RawResponse, TransportError>>>,
        asked: Mutex<Vec<RawRequest>>,
    }

    impl Scripted {
        fn new(answers: Vec<Result<RawResponse, TransportError>>) -> Arc<Self> {
            Arc::new(Scripted {
                answers: Mutex::new(answers.into()),
                asked: Mutex::new(Vec::new()),
            })
        }
    }

    #[async_trait::async_trait]
    impl Transport for Scripted {
        async fn send(&self, request: RawRequest) -> Result<RawResponse, TransportError> {
            self.asked.lock().unwrap().push(request);
            let next = self.answers.lock().unwrap().pop_front();
            match next {
                Some(answer) => answer,
                // Nothing scripted: hang, so the client's timeout decides.
                None => std::future::pending().await,
            }
        }
    }

    fn answer(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<RawResponse, TransportError> {
        Ok(RawResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        })
    }

    fn scripted_client(t: &Arc<Scripted>) -> PttClient {
        let mut o = ClientOptions::new(Url::parse("https://www.ptt.cc").unwrap());
        o.requests_per_sec = 100.0;
        PttClient::with_transport(o, Arc::clone(t) as Arc<dyn Transport>).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_scripted_transport_drives_retries_redirects_and_the_over18_gate() {
        let t = Scripted::new(vec![
            answer(500, &[], ""),
            Err(TransportError::BodyCut {
                reason: "reset".into(),
            }),
            answer(
                302,
                &[(
                    "location",
                    "/ask/over18?from=%2Fbbs%2FGossiping%2Findex.html",
                )],
                "",
            ),
            answer(200, &[], ""),
            answer(200, &[], "<title>批踢踢實業坊</title>"),
        ]);
        let c = scripted_client(&t);
        let body = c
            .get("/bbs/Gossiping/index.html", Priority::Index)
            .await
            .unwrap();
        assert!(body.contains("批踢踢"));
        let asked = t.asked.lock().unwrap().clone();
        let paths: Vec<_> = asked
            .iter()
            .map(|r| (r.method, r.url.path().to_owned()))
            .collect();
        assert_eq!(
            paths,
            vec![
                (Method::Get, "/bbs/Gossiping/index.html".to_owned()),
                (Method::Get, "/bbs/Gossiping/index.html".to_owned()),
                (Method::Get, "/bbs/Gossiping/index.html".to_owned()),
                (Method::Post, "/ask/over18".to_owned()),
                (Method::Get, "/bbs/Gossiping/index.html".to_owned()),
            ]
        );
        assert_eq!(asked[0].header("Cookie"), Some("over18=1"));
        assert_eq!(asked[0].header("user-agent"), Some(USER_AGENT));
        assert!(
            asked[3]
                .form
                .contains(&("from".to_owned(), "/bbs/Gossiping/index.html".to_owned()))
        );
        assert!(
            asked[3]
                .form
                .contains(&("yes".to_owned(), "yes".to_owned()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_transport_in_the_options_replaces_reqwest() {
        let t = Scripted::new(vec![answer(200, &[], "<title>批踢踢實業坊</title>")]);
        let mut o = ClientOptions::new(Url::parse("https://www.ptt.cc").unwrap());
        o.transport = Some(Arc::clone(&t) as Arc<dyn Transport>);
        let c = PttClient::new(o).unwrap();
        c.get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap();
        assert_eq!(t.asked.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_transport_times_out_on_the_clock() {
        let t = Scripted::new(Vec::new());
        let c = scripted_client(&t);
        let start = Instant::now();
        let err = c
            .get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
        // Four attempts of 20 s each, with back-off between them.
        assert_eq!(t.asked.lock().unwrap().len(), 4);
        assert!(start.elapsed() >= Duration::from_secs(80));
    }

    #[tokio::test(start_paused = true)]
    async fn a_plain_503_page_is_retried_not_blocked() {
        let plain =
            "<html><head><title>503 Service Unavailable</title></head><body>nginx</body></html>";
        let t = Scripted::new(vec![
            answer(503, &[], plain),
            answer(503, &[], plain),
            answer(200, &[], "<title>批踢踢實業坊</title>"),
        ]);
        let c = scripted_client(&t);
        let start = Instant::now();
        c.get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap();
        assert_eq!(t.asked.lock().unwrap().len(), 3);
        assert!(
            c.budget().held_until().is_none(),
            "a plain 503 paused the budget"
        );
        // Two retries: at most 1 s and 2 s.
        assert!(
            start.elapsed() <= Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_up_to_the_transient_cap() {
        let t = Scripted::new(vec![
            answer(503, &[("retry-after", "3600")], ""),
            answer(429, &[("retry-after", "5")], ""),
            answer(200, &[], "<title>批踢踢實業坊</title>"),
        ]);
        let mut o = ClientOptions::new(Url::parse("https://www.ptt.cc").unwrap());
        o.requests_per_sec = 100.0;
        o.max_transient_pause = Duration::from_secs(10);
        let c = PttClient::with_transport(o, Arc::clone(&t) as Arc<dyn Transport>).unwrap();
        let start = Instant::now();
        c.get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap();
        let took = start.elapsed();
        // 10 s (an hour asked, capped) then the 5 s asked.
        assert!(
            took >= Duration::from_secs(15) && took < Duration::from_secs(16),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cloudflare_challenge_pauses_everything_and_doubles() {
        let challenge = "<title>Just a moment...</title>";
        let t = Scripted::new(vec![
            answer(403, &[("cf-mitigated", "challenge")], challenge),
            answer(403, &[("cf-mitigated", "challenge")], challenge),
            answer(200, &[], "<title>批踢踢實業坊</title>"),
        ]);
        let c = scripted_client(&t);
        let e = c
            .get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap_err();
        assert!(
            matches!(e, FetchError::Blocked { backoff, .. } if backoff == Duration::from_secs(30)),
            "{e}"
        );
        let start = Instant::now();
        let e = c
            .get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap_err();
        assert!(start.elapsed() >= Duration::from_secs(30));
        assert!(
            matches!(e, FetchError::Blocked { backoff, .. } if backoff == Duration::from_secs(60)),
            "{e}"
        );
        c.get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn too_large_and_not_found_are_final() {
        let t = Scripted::new(vec![
            Err(TransportError::TooLarge {
                limit: MAX_BODY_BYTES,
            }),
            answer(404, &[], "<html>404</html>"),
        ]);
        let c = scripted_client(&t);
        let e = c
            .get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::TooLarge { .. }), "{e}");
        let e = c
            .get("/bbs/Stock/index.html", Priority::Index)
            .await
            .unwrap_err();
        assert!(matches!(e, FetchError::NotFound { .. }), "{e}");
        assert_eq!(t.asked.lock().unwrap().len(), 2);
    }

    #[test]
    fn user_agent_names_the_service_and_version() {
        assert!(USER_AGENT.starts_with(&format!("ptt-relay/{} ", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn paths_must_stay_on_the_base_host() {
        let c = client("https://www.ptt.cc");
        assert_eq!(
            c.url_for("/bbs/Stock/index.html").unwrap().as_str(),
            "https://www.ptt.cc/bbs/Stock/index.html"
        );
        assert_eq!(
            c.url_for("/bbs/Stock/search?q=thread:x").unwrap().as_str(),
            "https://www.ptt.cc/bbs/Stock/search?q=thread:x"
        );
        for bad in [
            "",
            "bbs/Stock/index.html",
            "//evil.example/bbs/",
            "/\\evil.example/bbs/",
            "https://evil.example/bbs/",
        ] {
            assert!(c.url_for(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn rejects_bad_options() {
        let mut o = ClientOptions::new(Url::parse("https://www.ptt.cc").unwrap());
        o.requests_per_sec = 0.0;
        assert!(matches!(PttClient::new(o), Err(BuildError::InvalidRate(_))));
        let o = ClientOptions::new(Url::parse("ftp://user:pw@www.ptt.cc").unwrap());
        let err = PttClient::new(o).unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn debug_output_hides_a_password_in_the_base_url() {
        let o = ClientOptions::new(Url::parse("https://u:hunter2@www.ptt.cc").unwrap());
        assert!(!format!("{o:?}").contains("hunter2"));
        let c = PttClient::with_builder(o, reqwest::Client::builder().no_proxy()).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("***"),
            "{shown}"
        );
    }

    #[test]
    fn recognises_ptt_and_cloudflare_pages() {
        let page = |headers: &[(&str, &str)], body: &str| RawResponse {
            status: 503,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        };
        for blocked in [
            page(
                &[],
                "<title>Just a moment...</title> www.ptt.cc needs to review the security",
            ),
            page(
                &[],
                "<title>Attention Required! | Cloudflare</title> You are unable to access ptt.cc",
            ),
            page(
                &[],
                "<script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1\">",
            ),
            page(&[("cf-mitigated", "challenge")], ""),
        ] {
            assert!(is_cloudflare_block(&blocked), "{blocked:?}");
        }
        for plain in [
            page(&[], ""),
            page(
                &[],
                "<html><head><title>503 Service Unavailable</title></head><body><center><h1>503 Service Unavailable</h1></center><hr><center>nginx</center></body></html>",
            ),
            page(&[], "<title>看板 Stock 文章列表 - 批踢踢實業坊</title>"),
            page(
                &[("server", "cloudflare")],
                "<title>www.ptt.cc | 522: Connection timed out</title><div id=\"cf-error-details\">",
            ),
        ] {
            assert!(!is_cloudflare_block(&plain), "{plain:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut o = ClientOptions::new(Url::parse("https://www.ptt.cc").unwrap());
        o.initial_backoff = Duration::from_secs(1);
        o.max_backoff = Duration::from_secs(5);
        let c = PttClient::with_builder(o, reqwest::Client::builder().no_proxy()).unwrap();
        for _ in 0..20 {
            let d1 = c.backoff(1);
            assert!(d1 >= Duration::from_millis(500) && d1 <= Duration::from_secs(1));
            let d3 = c.backoff(3);
            assert!(d3 >= Duration::from_secs(2) && d3 <= Duration::from_secs(4));
            let d9 = c.backoff(40);
            assert!(d9 >= Duration::from_millis(2500) && d9 <= Duration::from_secs(5));
        }
    }

    #[test]
    fn block_pause_doubles_to_the_cap_and_resets() {
        let mut o = ClientOptions::new(Url::parse("https://www.ptt.cc").unwrap());
        o.block_backoff = Duration::from_secs(30);
        o.max_backoff = Duration::from_secs(100);
        let c = PttClient::with_builder(o, reqwest::Client::builder().no_proxy()).unwrap();
        let pauses: Vec<_> = (0..4).map(|_| c.next_block_pause().as_secs()).collect();
        assert_eq!(pauses, vec![30, 60, 100, 100]);
        c.blocks_over();
        assert_eq!(c.next_block_pause().as_secs(), 30);
    }

    #[test]
    fn error_messages_are_one_line_and_name_the_path() {
        let e = FetchError::Blocked {
            status: 503,
            path: "/bbs/Stock/index.html".into(),
            backoff: Duration::from_secs(30),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("/bbs/Stock/index.html") && msg.contains("30s"),
            "{msg}"
        );
        assert!(e.is_transient());
        assert_eq!(label("/a\nb"), "/a\\nb");
        assert!(!FetchError::NotFound { path: "/x".into() }.is_transient());
        assert!(
            FetchError::Status {
                status: 502,
                path: "/x".into()
            }
            .is_transient()
        );
        assert!(
            !FetchError::Status {
                status: 403,
                path: "/x".into()
            }
            .is_transient()
        );
    }
}
