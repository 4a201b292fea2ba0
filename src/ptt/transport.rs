//! The seam between [`PttClient`](super::client::PttClient) and the network.
//!
//! A [`Transport`] sends one HTTP request and hands back the status, the
//! headers and the whole body, or says why there is no answer. It makes no
//! judgement at all: it follows no redirect, retries nothing, waits for no
//! budget and does not tell PTT's pages from Cloudflare's. All of that stays
//! in the client, above this seam, so that a test can drive the real client
//! (retries, back-off, `Retry-After`, the over-18 gate, the request budget)
//! against a scripted transport on a paused clock, without sockets.
//!
//! [`ReqwestTransport`] is the one the service uses.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::redirect;
use url::Url;

/// The HTTP method of a [`RawRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A page fetch.
    Get,
    /// A form post (`application/x-www-form-urlencoded`), used for PTT's
    /// over-18 form.
    Post,
}

/// One HTTP request, fully decided by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// GET or POST.
    pub method: Method,
    /// The absolute URL.
    pub url: Url,
    /// Request headers (names in lower case), e.g. `user-agent` and
    /// `cookie: over18=1`.
    pub headers: Vec<(String, String)>,
    /// Form fields of a POST, sent URL-encoded; empty for a GET.
    pub form: Vec<(String, String)>,
    /// A body longer than this is not read to the end:
    /// [`TransportError::TooLarge`].
    pub max_body_bytes: usize,
}

impl RawRequest {
    /// The value of a request header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers, names in lower case (at least `location`,
    /// `retry-after`, `cf-mitigated` and `content-type` when present).
    pub headers: Vec<(String, String)>,
    /// The body as text; invalid UTF-8 bytes become U+FFFD.
    pub body: String,
}

impl RawResponse {
    /// The value of a response header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a [`Transport`] has no answer. Messages are one line and name no URL
/// (the base URL is the operator's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection, or no complete answer, in time.
    #[error("timed out")]
    Timeout,
    /// The connection could not be opened (refused, DNS, TLS).
    #[error("cannot connect: {reason}")]
    Connect {
        /// The innermost cause, e.g. `Connection refused (os error 111)`.
        reason: String,
    },
    /// The connection failed after it was opened: reset, or the body was
    /// cut off (fewer bytes than announced, bad gzip).
    #[error("connection failed mid-way: {reason}")]
    BodyCut {
        /// The innermost cause.
        reason: String,
    },
    /// The body is longer than [`RawRequest::max_body_bytes`].
    #[error("response over {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request could not be sent at all (a malformed URL or header).
    #[error("request not sendable: {reason}")]
    Invalid {
        /// Why.
        reason: String,
    },
}

/// Sends one HTTP request. Implementations follow no redirects and retry
/// nothing; the caller bounds the whole call with its own timeout.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends `request` and reads the whole answer.
    async fn send(&self, request: RawRequest) -> Result<RawResponse, TransportError>;
}

/// The [`Transport`] over reqwest that the service uses.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    http: reqwest::Client,
}

impl ReqwestTransport {
    /// A transport built on `builder` (proxy settings and the like), with
    /// redirects off and the given connect and whole-request timeouts.
    pub fn new(
        builder: reqwest::ClientBuilder,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Self, TransportError> {
        let http = builder
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|e| TransportError::Invalid {
                reason: root_cause(&e),
            })?;
        Ok(ReqwestTransport { http })
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, request: RawRequest) -> Result<RawResponse, TransportError> {
        let mut builder = match request.method {
            Method::Get => self.http.get(request.url),
            Method::Post => self.http.post(request.url).form(&request.form),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let mut response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let limit = request.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(TransportError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if bytes.len() + chunk.len() > limit {
                return Err(TransportError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// Classifies a reqwest error.
fn transport_error(error: reqwest::Error) -> TransportError {
    if error.is_builder() {
        TransportError::Invalid {
            reason: root_cause(&error),
        }
    } else if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_connect() {
        TransportError::Connect {
            reason: root_cause(&error),
        }
    } else {
        TransportError::BodyCut {
            reason: root_cause(&error),
        }
    }
}

/// The innermost cause of an error, on one line of at most 200 characters.
/// reqwest's own message names the URL; the innermost cause (`Connection
/// refused (os error 111)`) is what an operator needs.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let mut out = String::new();
    for (i, c) in cause.to_string().chars().enumerate() {
        if i == 200 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_whatever_their_case() {
        let r = RawResponse {
            status: 503,
            headers: vec![("retry-after".into(), "7".into())],
            body: String::new(),
        };
        assert_eq!(r.header("Retry-After"), Some("7"));
        assert_eq!(r.header("location"), None);
    }
}
