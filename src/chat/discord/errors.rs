//! Discord failures: the adapter's own error type, the classification of
//! serenity's errors into [`SendOutcome`]s, and the redaction that keeps the
//! bot token (and interaction tokens) out of every log line and message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serenity::http::HttpError;

use crate::chat::SendOutcome;

/// First wait after a 429 in `api_url` mode (serenity hides `retry_after`).
pub const RATE_LIMIT_START: Duration = Duration::from_secs(2);
/// Longest wait after consecutive 429s.
pub const RATE_LIMIT_MAX: Duration = Duration::from_secs(60);

/// Discord's JSON error codes we act on.
pub mod codes {
    /// Unknown Channel.
    pub const UNKNOWN_CHANNEL: isize = 10003;
    /// Unknown Message.
    pub const UNKNOWN_MESSAGE: isize = 10008;
    /// Missing Access.
    pub const MISSING_ACCESS: isize = 50001;
    /// Cannot send messages to this user.
    pub const CANNOT_MESSAGE_USER: isize = 50007;
    /// Missing Permissions.
    pub const MISSING_PERMISSIONS: isize = 50013;
}

/// Why the Discord adapter could not be built or started. Every message is
/// redacted: no token ever appears in one.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    /// `discord.token` is unset or empty.
    #[error("discord.token is not set")]
    NoToken,
    /// A setting cannot be used.
    #[error("invalid Discord configuration: {0}")]
    Config(String),
    /// Discord refused the start-up (a bad token, a missing application…).
    #[error("Discord start-up failed while {doing}: {reason}")]
    Startup {
        /// What was being done.
        doing: &'static str,
        /// Why (redacted).
        reason: String,
    },
    /// The gateway stopped with an error it cannot recover from.
    #[error("the Discord gateway failed: {0}")]
    Gateway(String),
}

/// Removes secrets from text before it is logged or returned: the bot
/// token (with or without its `Bot ` prefix) and the tokens in interaction
/// and webhook URLs.
#[derive(Clone)]
pub struct Redactor {
    token: String,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(***)")
    }
}

impl Redactor {
    /// A redactor for this bot token.
    pub fn new(token: &str) -> Self {
        let token = token.trim();
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        Redactor {
            token: token.to_owned(),
        }
    }

    /// The text with every secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let token = secrecy::SecretString::from(self.token.clone());
        let mut out = crate::telemetry::redact::redact(text, &[&token]);
        for marker in ["/webhooks/", "/interactions/"] {
            out = redact_after_id(&out, marker);
        }
        out
    }
}

/// Replaces the path segment after `{marker}{id}/` (an interaction or
/// webhook token) with `***`.
fn redact_after_id(text: &str, marker: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let (head, tail) = rest.split_at(at + marker.len());
        out.push_str(head);
        let id_len = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (id, after_id) = tail.split_at(id_len);
        out.push_str(id);
        match after_id.strip_prefix('/') {
            Some(token_and_more) if id_len > 0 => {
                let end = token_and_more
                    .find(['/', '?', ' ', ')', '"'])
                    .unwrap_or(token_and_more.len());
                out.push_str("/***");
                rest = &token_and_more[end..];
            }
            _ => rest = after_id,
        }
    }
    out.push_str(rest);
    out
}

/// Consecutive 429s per channel, for the doubling wait of `api_url` mode.
#[derive(Debug, Default)]
pub struct Strikes {
    counts: Mutex<HashMap<String, u32>>,
}

impl Strikes {
    /// Counts a 429 for `channel` and returns how long to wait: 2 s, then
    /// doubling up to 60 s.
    pub fn hit(&self, channel: &str) -> Duration {
        let n = self
            .counts
            .lock()
            .map(|mut c| {
                let n = c.entry(channel.to_owned()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1);
        backoff_for(n)
    }

    /// A success: the next 429 starts again at 2 s.
    pub fn clear(&self, channel: &str) {
        if let Ok(mut c) = self.counts.lock() {
            c.remove(channel);
        }
    }
}

/// The wait after the `n`th consecutive 429 (n ≥ 1).
pub fn backoff_for(n: u32) -> Duration {
    let doublings = n.saturating_sub(1).min(16);
    RATE_LIMIT_START
        .saturating_mul(1u32 << doublings)
        .min(RATE_LIMIT_MAX)
}

/// What a failed call means, before 429 bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429.
    RateLimited,
    /// 5xx, timeout, network, a refused token.
    Transient(String),
    /// The channel is gone or closed to us.
    Gone(String),
    /// Refused for good.
    Rejected(String),
    /// Discord answered 2xx but the body could not be read: the call
    /// happened.
    Accepted(String),
}

/// Classifies an HTTP status and Discord JSON error code.
pub fn classify_status(status: u16, code: isize, message: &str) -> Failure {
    let what = format!("{status} (code {code}): {message}");
    match status {
        429 => Failure::RateLimited,
        401 => Failure::Transient(format!("Discord refused the bot token: {what}")),
        403 => Failure::Gone(what),
        404 if code == codes::UNKNOWN_CHANNEL => Failure::Gone(what),
        408 => Failure::Transient(what),
        400..=499 => Failure::Rejected(what),
        _ => Failure::Transient(what),
    }
}

/// Classifies one of serenity's errors; every text is redacted.
pub fn classify(err: &serenity::Error, redactor: &Redactor) -> Failure {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(resp)) => {
            let message = redactor.redact(&resp.error.message);
            classify_status(resp.status_code.as_u16(), resp.error.code, &message)
        }
        serenity::Error::Http(HttpError::Request(e)) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            Failure::Transient(redactor.redact(&format!("{kind}: {}", error_chain(e))))
        }
        serenity::Error::Json(e) => Failure::Accepted(redactor.redact(&e.to_string())),
        serenity::Error::Model(e) => Failure::Rejected(redactor.redact(&e.to_string())),
        other => Failure::Transient(redactor.redact(&other.to_string())),
    }
}

/// An error and its sources, joined (reqwest hides the cause in `source`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Turns a failure into the outcome the outbox acts on, with the 429
/// bookkeeping for `channel` (the caller holds the channel in its pacer).
pub fn outcome(failure: Failure, channel: &str, strikes: &Strikes) -> SendOutcome {
    match failure {
        Failure::RateLimited => SendOutcome::RateLimited {
            retry_after: strikes.hit(channel),
        },
        Failure::Transient(r) => SendOutcome::Transient(r),
        Failure::Gone(r) => SendOutcome::DestinationGone(r),
        Failure::Rejected(r) => SendOutcome::Rejected(r),
        Failure::Accepted(r) => {
            tracing::warn!(chat = %channel, reason = %r, "Discord accepted a call but its answer could not be read");
            SendOutcome::Sent {
                message_id: String::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes_map_to_outcomes() {
        assert_eq!(classify_status(429, 0, "slow"), Failure::RateLimited);
        assert!(matches!(
            classify_status(403, codes::MISSING_ACCESS, "Missing Access"),
            Failure::Gone(_)
        ));
        assert!(matches!(
            classify_status(403, codes::MISSING_PERMISSIONS, "Missing Permissions"),
            Failure::Gone(_)
        ));
        assert!(matches!(
            classify_status(404, codes::UNKNOWN_CHANNEL, "Unknown Channel"),
            Failure::Gone(_)
        ));
        assert!(matches!(
            classify_status(404, codes::UNKNOWN_MESSAGE, "Unknown Message"),
            Failure::Rejected(_)
        ));
        assert!(matches!(
            classify_status(400, 50035, "Invalid Form Body"),
            Failure::Rejected(_)
        ));
        assert!(matches!(
            classify_status(500, 0, "oops"),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify_status(502, -1, "bad gateway"),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify_status(401, 0, "401: Unauthorized"),
            Failure::Transient(_)
        ));
    }

    #[test]
    fn rate_limit_waits_double_from_two_seconds_to_a_minute_and_reset() {
        let s = Strikes::default();
        let waits: Vec<u64> = (0..7).map(|_| s.hit("1").as_secs()).collect();
        assert_eq!(waits, vec![2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(s.hit("2").as_secs(), 2, "channels count apart");
        s.clear("1");
        assert_eq!(s.hit("1").as_secs(), 2);
        assert_eq!(backoff_for(u32::MAX), RATE_LIMIT_MAX);
    }

    #[test]
    fn tokens_are_redacted_everywhere() {
        let r = Redactor::new("Bot MTIzNDU2Nzg5.secret.token");
        let text = "Authorization: Bot MTIzNDU2Nzg5.secret.token failed; \
                    url http://x/api/v10/webhooks/42/aW50ZXJhY3Rpb24/messages/@original \
                    and http://x/api/v10/interactions/7/dG9rZW4/callback";
        let out = r.redact(text);
        assert!(!out.contains("MTIzNDU2Nzg5.secret.token"), "{out}");
        assert!(!out.contains("aW50ZXJhY3Rpb24"), "{out}");
        assert!(!out.contains("dG9rZW4"), "{out}");
        assert!(out.contains("/webhooks/42/***/messages/@original"), "{out}");
        assert!(out.contains("/interactions/7/***/callback"), "{out}");
        assert_eq!(r.redact("/webhooks/abc"), "/webhooks/abc");
        assert!(!format!("{r:?}").contains("secret"));
    }
}
