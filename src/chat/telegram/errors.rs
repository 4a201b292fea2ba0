//! Telegram's failures sorted into what the outbox and the listener do
//! about them, and the bot token kept out of every message.
//!
//! teloxide drops the HTTP status and `error_code` of a failed call and
//! keeps only its description (known ones as [`ApiError`] variants), so the
//! classes below are decided from the variant or the description's prefix
//! ("Forbidden: …" is Telegram's 403).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use teloxide::{ApiError, RequestError};

/// Why the adapter could not be built or its listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// `telegram.token` is unset.
    #[error("telegram.token is not set")]
    NoToken,
    /// `telegram.api_url` cannot be used.
    #[error("telegram.api_url {url:?} cannot be used: {reason}")]
    ApiUrl {
        /// The URL as configured.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the Telegram HTTP client: {0}")]
    Client(String),
    /// Telegram refused the token (401 Unauthorized).
    #[error("Telegram refused the bot token (401 Unauthorized); check telegram.token")]
    InvalidToken,
    /// getMe answered without a bot username.
    #[error("Telegram's getMe answered without a bot username")]
    NoUsername,
}

/// Replaces the bot token in text with `***`: teloxide's network errors
/// print the request URL, which is `…/bot<TOKEN>/<Method>`.
#[derive(Clone)]
pub struct Redactor {
    token: SecretString,
    encoded: SecretString,
}

impl Redactor {
    /// A redactor for this token.
    pub fn new(token: &SecretString) -> Self {
        // The URL path holds the token percent-encoded where needed.
        let encoded: String =
            url::form_urlencoded::byte_serialize(token.expose_secret().as_bytes()).collect();
        Redactor {
            token: token.clone(),
            encoded: SecretString::from(encoded),
        }
    }

    /// `text` with every occurrence of the token replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        crate::telemetry::redact::redact(text, &[&self.token, &self.encoded])
    }

    /// An error with its sources, redacted.
    pub fn error(&self, e: &(dyn std::error::Error + 'static)) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let next = s.to_string();
            if !text.contains(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            source = s.source();
        }
        self.redact(&text)
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor(***)")
    }
}

/// What a failed call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429: wait this long.
    RetryAfter(Duration),
    /// The group became a supergroup with this id.
    Migrated(i64),
    /// The bot cannot reach the chat any more (403, chat not found).
    Gone(String),
    /// Worth retrying later (5xx, network, timeouts, unreadable answers).
    Transient(String),
    /// The message was not modified (an edit with nothing new).
    NotModified,
    /// The message to edit or delete is gone.
    MessageGone(String),
    /// The token is not (or no longer) valid.
    InvalidToken,
    /// Another process polls with this token (409 Conflict on getUpdates).
    Conflict,
    /// Refused for good.
    Rejected(String),
    /// Telegram answered `"ok":true` but the rest could not be read: the
    /// call happened (a resend would post the message again).
    Accepted(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::RetryAfter(d) => write!(f, "429 Too Many Requests: retry after {d:?}"),
            Failure::Migrated(id) => write!(f, "the group became supergroup {id}"),
            Failure::Gone(t)
            | Failure::Transient(t)
            | Failure::MessageGone(t)
            | Failure::Rejected(t)
            | Failure::Accepted(t) => f.write_str(t),
            Failure::NotModified => f.write_str("message is not modified"),
            Failure::InvalidToken => {
                f.write_str("Telegram refused the bot token (401 Unauthorized)")
            }
            Failure::Conflict => {
                f.write_str("409 Conflict: another instance polls getUpdates with this token")
            }
        }
    }
}

/// Descriptions of server-side failures that teloxide reports as API
/// errors when the body carries them.
const SERVER_ERRORS: &[&str] = &[
    "Internal Server Error",
    "Bad Gateway",
    "Service Unavailable",
    "Gateway Timeout",
];

/// Sorts a teloxide error; every text in the result is redacted.
pub fn classify(e: &RequestError, r: &Redactor) -> Failure {
    match e {
        RequestError::RetryAfter(s) => Failure::RetryAfter(s.duration()),
        RequestError::MigrateToChatId(id) => Failure::Migrated(id.0),
        RequestError::Network(_) | RequestError::Io(_) => Failure::Transient(r.error(e)),
        // An answer that is not Telegram's JSON: a proxy's 502 page, a
        // cut-off body. Its start helps (web servers often quote the path,
        // token included: redacted).
        RequestError::InvalidJson { source, raw } => {
            let start = crate::text::truncate_chars(&crate::text::collapse_whitespace(raw), 200);
            let text = r.redact(&format!(
                "Telegram's answer could not be read ({source}): {start}"
            ));
            if said_ok(raw) {
                Failure::Accepted(text)
            } else {
                Failure::Transient(text)
            }
        }
        RequestError::Api(api) => classify_api(api, r),
    }
}

/// Whether an unreadable answer still begins the way Telegram answers a call
/// it carried out (`{"ok":true` — a cut-off body, or one without `result`).
fn said_ok(raw: &str) -> bool {
    let start: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(10)
        .collect();
    start == r#"{"ok":true"#
}

fn classify_api(api: &ApiError, r: &Redactor) -> Failure {
    let text = r.redact(&api_text(api));
    match api {
        ApiError::BotBlocked
        | ApiError::BotKicked
        | ApiError::BotKickedFromSupergroup
        | ApiError::BotKickedFromChannel
        | ApiError::UserDeactivated
        | ApiError::CantInitiateConversation
        | ApiError::CantTalkWithBots
        | ApiError::ChatNotFound
        | ApiError::GroupDeactivated
        | ApiError::NotEnoughRightsToPostMessages => Failure::Gone(text),
        ApiError::MessageNotModified => Failure::NotModified,
        ApiError::MessageToEditNotFound
        | ApiError::MessageCantBeEdited
        | ApiError::MessageIdInvalid
        | ApiError::MessageToDeleteNotFound
        | ApiError::MessageCantBeDeleted => Failure::MessageGone(text),
        ApiError::InvalidToken => Failure::InvalidToken,
        ApiError::TerminatedByOtherGetUpdates => Failure::Conflict,
        ApiError::Unknown(desc) => classify_description(desc, text),
        _ => Failure::Rejected(text),
    }
}

/// Descriptions teloxide does not know, by Telegram's conventions.
fn classify_description(desc: &str, text: String) -> Failure {
    let lower = desc.to_ascii_lowercase();
    if lower.starts_with("forbidden")
        || lower.contains("chat not found")
        || lower.contains("bot was kicked")
        || lower.contains("bot is not a member")
    {
        Failure::Gone(text)
    } else if lower.contains("message is not modified") {
        Failure::NotModified
    } else if lower.contains("message to edit not found")
        || lower.contains("message to delete not found")
        || lower.contains("message can't be edited")
    {
        Failure::MessageGone(text)
    } else if lower.starts_with("conflict") {
        Failure::Conflict
    } else if lower.starts_with("unauthorized") {
        Failure::InvalidToken
    } else if lower.starts_with("too many requests") {
        // A 429 without retry_after: wait a little anyway.
        Failure::RetryAfter(Duration::from_secs(1))
    } else if SERVER_ERRORS
        .iter()
        .any(|s| lower.starts_with(&s.to_ascii_lowercase()))
    {
        Failure::Transient(text)
    } else {
        Failure::Rejected(text)
    }
}

/// Telegram's description of an API error.
fn api_text(api: &ApiError) -> String {
    match api {
        ApiError::Unknown(desc) => desc.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use teloxide::types::{ChatId, Seconds};

    fn redactor() -> Redactor {
        Redactor::new(&SecretString::from("123456:ABC-def_ghi"))
    }

    #[test]
    fn the_token_is_replaced_plain_and_encoded() {
        let r = redactor();
        assert_eq!(
            r.redact("error sending request for url (http://x/bot123456:ABC-def_ghi/GetMe)"),
            "error sending request for url (http://x/bot***/GetMe)"
        );
        assert_eq!(r.redact("bot123456%3AABC-def_ghi/x"), "bot***/x");
        assert!(!format!("{r:?}").contains("ABC"));
    }

    #[test]
    fn errors_are_sorted_like_the_design_says() {
        let r = redactor();
        let api = |e: ApiError| classify(&RequestError::Api(e), &r);
        assert_eq!(
            classify(&RequestError::RetryAfter(Seconds::from_seconds(7)), &r),
            Failure::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            classify(&RequestError::MigrateToChatId(ChatId(-1_005)), &r),
            Failure::Migrated(-1_005)
        );
        assert!(matches!(api(ApiError::BotBlocked), Failure::Gone(_)));
        assert!(matches!(api(ApiError::ChatNotFound), Failure::Gone(_)));
        assert!(matches!(
            api(ApiError::BotKickedFromSupergroup),
            Failure::Gone(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown(
                "Forbidden: bot is not a member of the channel chat".into()
            )),
            Failure::Gone(_)
        ));
        assert_eq!(api(ApiError::MessageNotModified), Failure::NotModified);
        assert!(matches!(
            api(ApiError::MessageToEditNotFound),
            Failure::MessageGone(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown("Internal Server Error".into())),
            Failure::Transient(_)
        ));
        assert!(matches!(
            api(ApiError::Unknown(
                "Bad Request: can't parse entities: x".into()
            )),
            Failure::Rejected(_)
        ));
        assert!(matches!(
            api(ApiError::MessageIsTooLong),
            Failure::Rejected(_)
        ));
        assert_eq!(
            api(ApiError::TerminatedByOtherGetUpdates),
            Failure::Conflict
        );
        assert_eq!(api(ApiError::InvalidToken), Failure::InvalidToken);
        let io = RequestError::Io(Arc::new(std::io::Error::other(
            "broken pipe to /bot123456:ABC-def_ghi/SendMessage",
        )));
        match classify(&io, &r) {
            Failure::Transient(t) => {
                assert!(t.contains("bot***"), "{t}");
                assert!(!t.contains("ABC-def"), "{t}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreadable_answer_is_accepted_only_when_it_says_ok() {
        let r = redactor();
        let invalid = |raw: &str| RequestError::InvalidJson {
            source: Arc::new(serde_json::from_str::<u8>("x").unwrap_err()),
            raw: raw.into(),
        };
        for raw in [
            r#"{"ok":true}"#,
            r#"{"ok":true,"result":{"message_id":10"#,
            " { \"ok\" : true ,",
        ] {
            assert!(
                matches!(classify(&invalid(raw), &r), Failure::Accepted(_)),
                "{raw}"
            );
        }
        for raw in [
            "<html>502 Bad Gateway</html>",
            "",
            r#"{"ok":false,"error_code":500"#,
            r#"{"ok":tru"#,
            r#"{"okay":true}"#,
        ] {
            assert!(
                matches!(classify(&invalid(raw), &r), Failure::Transient(_)),
                "{raw}"
            );
        }
    }
}
