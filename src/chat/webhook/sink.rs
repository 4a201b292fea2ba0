//! The webhook [`ChatSink`]: one POST per delivery, one PATCH per tally
//! edit (the `discord` format only), paced 1 a second per URL and 5 a
//! second overall, each answer classified for the outbox: 2xx sent · 429
//! rate-limited (`Retry-After`) · 404/410 destination gone (paused) · any
//! other 4xx (and a redirect, never followed) rejected · 5xx, timeout,
//! network transient.
//!
//! A webhook URL is a secret: it is never logged or put in an outcome
//! (reqwest's errors are stripped of it), and the pacer knows each URL by
//! a hash.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest as _, Sha256};

use super::render;
use super::settings::{Format, WebhookSettings};
use crate::chat::pacing::Pacer;
use crate::chat::{ChatSink, EditKind, SendOutcome};
use crate::commands::Reply;
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::filter::DeliveryOptions;
use crate::text::{strip_controls, truncate_chars};

/// A request that gets no answer in this time fails (transiently); below
/// the outbox's limit for one send.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The wait after a 429 that names none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);
/// The longest `Retry-After` honoured as given.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The header with a delivery's stable id (`json`).
pub const DELIVERY_HEADER: &str = "X-PTT-Relay-Delivery";
/// The header with the body's signature (`json`, with `webhook.secret`).
pub const SIGNATURE_HEADER: &str = "X-PTT-Relay-Signature";

/// One configured webhook.
struct Hook {
    url: url::Url,
    format: Format,
    /// The pacer's name for the URL (a hash: the pacer never holds it).
    pace_key: String,
    /// Loopback (a fake, a local relay): no HTTP proxy in between.
    local: bool,
}

/// Sends digests to the configured webhooks.
pub struct WebhookSink {
    hooks: HashMap<String, Hook>,
    secret: Option<SecretString>,
    client: reqwest::Client,
    local_client: reqwest::Client,
    pacer: Arc<Pacer>,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink")
            .field("hooks", &self.hooks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn pace_key(url: &str) -> String {
    let h = Sha256::digest(url.as_bytes());
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn build_client(no_proxy: bool) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ptt-relay/", env!("CARGO_PKG_VERSION")));
    if no_proxy {
        b = b.no_proxy();
    }
    b.build()
        .map_err(|e| format!("cannot build the webhook HTTP client: {}", e.without_url()))
}

impl WebhookSink {
    /// A sink for the settings' destinations (checked), paced by `pacer`.
    pub fn new(settings: &WebhookSettings, pacer: Arc<Pacer>) -> Result<Self, String> {
        let mut hooks = HashMap::new();
        for (i, d) in settings.destinations.iter().enumerate() {
            let raw = d.url.expose_secret().trim();
            let url = url::Url::parse(raw)
                .map_err(|_| format!("webhook.destinations[{i}].url is not a URL"))?;
            hooks.insert(
                d.name.clone(),
                Hook {
                    local: is_loopback(&url),
                    pace_key: pace_key(url.as_str()),
                    url,
                    format: d.format,
                },
            );
        }
        Ok(WebhookSink {
            hooks,
            secret: settings.secret.clone(),
            client: build_client(false)?,
            local_client: build_client(true)?,
            pacer,
        })
    }

    fn hook(&self, dest: &Destination) -> Result<&Hook, SendOutcome> {
        self.hooks.get(&dest.chat).ok_or_else(|| {
            // Subscriptions of a webhook since removed from the
            // configuration: paused, and forgotten after
            // `relay.gone_chat_days`.
            SendOutcome::DestinationGone("this webhook is no longer in the configuration".into())
        })
    }

    fn request(&self, hook: &Hook, method: Method, url: url::Url) -> reqwest::RequestBuilder {
        let client = if hook.local {
            &self.local_client
        } else {
            &self.client
        };
        client
            .request(method, url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
    }

    /// Sends a request and classifies its answer; a 2xx becomes
    /// [`SendOutcome::Sent`] with `on_success`'s id (from the body).
    async fn call(
        &self,
        hook: &Hook,
        request: reqwest::RequestBuilder,
        editing: bool,
        on_success: impl FnOnce(&[u8]) -> String,
    ) -> SendOutcome {
        self.pacer.wait(&hook.pace_key).await;
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return SendOutcome::Transient(describe(&e)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_seconds);
        let body: Vec<u8> = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) if status.is_success() => {
                // The hook took it; its answer was lost.
                tracing::debug!(error = %describe(&e), "a webhook's answer could not be read");
                Vec::new()
            }
            Err(e) => return SendOutcome::Transient(describe(&e)),
        };
        let out = classify(status, retry_after, &body, hook.format, editing);
        match &out {
            SendOutcome::RateLimited { retry_after } => {
                self.pacer.hold_chat(&hook.pace_key, *retry_after);
                out
            }
            SendOutcome::Sent { .. } => SendOutcome::Sent {
                message_id: on_success(&body),
            },
            _ => out,
        }
    }
}

/// A reqwest error without its URL.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The error's own Display names the URL: only the kind and the causes
    // below it are shown.
    let mut source = std::error::Error::source(e);
    let mut causes = Vec::new();
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    if causes.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}

/// `Retry-After` in seconds (an integer or a decimal; dates are not
/// honoured and fall back to the default).
fn parse_seconds(v: &str) -> Option<Duration> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0)
        .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())))
}

/// A short, printable excerpt of an answer's body.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    truncate_chars(&strip_controls(text.trim()), 200)
}

/// Classifies an answer. 2xx: sent (the id is filled in by the caller).
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    format: Format,
    editing: bool,
) -> SendOutcome {
    let code = status.as_u16();
    if status.is_success() {
        return SendOutcome::Sent {
            message_id: String::new(),
        };
    }
    if code == 429 {
        let from_body = || {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("retry_after")?.as_f64())
                .and_then(|s| parse_seconds(&s.to_string()))
        };
        return SendOutcome::RateLimited {
            retry_after: retry_after
                .or_else(from_body)
                .unwrap_or(DEFAULT_RETRY_AFTER),
        };
    }
    if status.is_server_error() {
        return SendOutcome::Transient(format!("HTTP {code}"));
    }
    if code == 404 || code == 410 {
        // Editing a Discord webhook's message that is gone (10008 Unknown
        // Message) is the message's end, not the webhook's.
        let unknown_webhook = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("code")?.as_u64())
            .is_some_and(|c| c == 10015);
        if editing && format == Format::Embeds && !unknown_webhook && code == 404 {
            return SendOutcome::Rejected(format!("HTTP {code}: the message is gone"));
        }
        return SendOutcome::DestinationGone(format!("HTTP {code}"));
    }
    SendOutcome::Rejected(format!("HTTP {code}: {}", excerpt(body)))
}

/// The id of a message an execute-webhook call with `?wait=true` created.
fn discord_message_id(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id")?.as_str().map(str::to_owned))
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default()
}

#[async_trait]
impl ChatSink for WebhookSink {
    fn platform(&self) -> Platform {
        super::ID
    }

    async fn send(
        &self,
        dest: &Destination,
        digest: &Digest,
        opts: &DeliveryOptions,
    ) -> SendOutcome {
        let hook = match self.hook(dest) {
            Ok(h) => h,
            Err(out) => return out,
        };
        let body = render::body(hook.format, digest, opts.silent);
        let delivery = render::delivery_id(&digest.board, &digest.id, &dest.chat);
        match hook.format {
            Format::Embeds => {
                let mut url = hook.url.clone();
                url.query_pairs_mut().append_pair("wait", "true");
                let req = self.request(hook, Method::POST, url).body(body);
                self.call(hook, req, false, discord_message_id).await
            }
            Format::Slack => {
                let req = self
                    .request(hook, Method::POST, hook.url.clone())
                    .body(body);
                self.call(hook, req, false, |_| delivery.clone()).await
            }
            Format::Json => {
                let mut req = self
                    .request(hook, Method::POST, hook.url.clone())
                    .header(DELIVERY_HEADER, &delivery);
                if let Some(secret) = &self.secret {
                    req = req.header(
                        SIGNATURE_HEADER,
                        render::signature(secret.expose_secret().as_bytes(), &body),
                    );
                }
                self.call(hook, req.body(body), false, |_| delivery.clone())
                    .await
            }
        }
    }

    async fn wait_turn(&self, dest: &Destination) {
        if let Ok(hook) = self.hook(dest) {
            self.pacer.take_turn(&hook.pace_key).await;
        }
    }

    async fn edit(
        &self,
        dest: &Destination,
        message_id: &str,
        digest: &Digest,
        kind: EditKind,
        _: &DeliveryOptions,
    ) -> SendOutcome {
        let hook = match self.hook(dest) {
            Ok(h) => h,
            Err(out) => return out,
        };
        if hook.format != Format::Embeds {
            return SendOutcome::Rejected("this webhook format has no edits".into());
        }
        if message_id.is_empty() || !message_id.bytes().all(|b| b.is_ascii_digit()) {
            return SendOutcome::Rejected("no message id to edit".into());
        }
        let mut url = hook.url.clone();
        let Ok(mut segments) = url.path_segments_mut() else {
            return SendOutcome::Rejected("this webhook URL cannot be edited".into());
        };
        segments.pop_if_empty().extend(["messages", message_id]);
        drop(segments);
        let body = render::discord_edit_body(digest, kind == EditKind::Deleted);
        let req = self
            .request(hook, Method::PATCH, url)
            .body(body.to_string());
        let id = message_id.to_owned();
        self.call(hook, req, true, |_| id).await
    }

    async fn answer(&self, _dest: &Destination, _reply: &Reply) -> SendOutcome {
        SendOutcome::Rejected("webhooks take no commands".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        let ok = StatusCode::OK;
        assert!(matches!(
            classify(ok, None, b"", Format::Json, false),
            SendOutcome::Sent { .. }
        ));
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(7)),
                b"",
                Format::Slack,
                false
            ),
            SendOutcome::RateLimited {
                retry_after: Duration::from_secs(7)
            }
        );
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                br#"{"retry_after": 1.5}"#,
                Format::Embeds,
                false
            ),
            SendOutcome::RateLimited {
                retry_after: Duration::from_millis(1500)
            }
        );
        for code in [404, 410] {
            let s = StatusCode::from_u16(code).unwrap();
            assert!(matches!(
                classify(s, None, b"", Format::Json, false),
                SendOutcome::DestinationGone(_)
            ));
        }
        assert!(matches!(
            classify(
                StatusCode::NOT_FOUND,
                None,
                br#"{"code":10008}"#,
                Format::Embeds,
                true
            ),
            SendOutcome::Rejected(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::NOT_FOUND,
                None,
                br#"{"code":10015}"#,
                Format::Embeds,
                true
            ),
            SendOutcome::DestinationGone(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, None, b"bad", Format::Json, false),
            SendOutcome::Rejected(_)
        ));
        assert!(matches!(
            classify(StatusCode::FOUND, None, b"", Format::Json, false),
            SendOutcome::Rejected(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, b"", Format::Json, false),
            SendOutcome::Transient(_)
        ));
        assert_eq!(parse_seconds("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_seconds("99999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(discord_message_id(br#"{"id":"123"}"#), "123");
        assert_eq!(discord_message_id(br#"{"id":"../x"}"#), "");
    }
}
