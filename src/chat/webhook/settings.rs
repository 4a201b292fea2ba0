//! `[webhook]`: the outgoing webhooks, read and checked here (the core's
//! `config.rs` knows no platform).
//!
//! ```toml
//! [webhook]
//! secret = "…"                    # HMAC key for `json` webhooks (optional)
//! [[webhook.destinations]]
//! name = "team-slack"
//! url = "https://hooks.example/…" # secret
//! format = "slack"                # "discord" | "slack" | "json"
//! filter = "Stock kw:台積電"       # the /subscribe words, BOARD first
//! ```
//!
//! A webhook URL is a secret (it holds the hook's token): `check-config`
//! shows only its scheme and host, and no log or error carries it.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::commands::{Command, Subscribe, parse};
use crate::config::mask_secret;
use crate::filter::Filter;

/// The longest destination name (it is a chat id in the store, a log field
/// and a metrics label).
pub const MAX_NAME: usize = 64;

/// `[webhook]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// Signs `json` deliveries (`X-PTT-Relay-Signature`); unset = unsigned.
    #[serde(serialize_with = "mask_secret")]
    pub secret: Option<SecretString>,
    /// The webhooks; none = webhooks off.
    pub destinations: Vec<DestinationSettings>,
}

/// One `[[webhook.destinations]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct DestinationSettings {
    /// Unique; its chat id in the store, shown in logs and `/metrics`.
    pub name: String,
    /// Where to POST (a secret).
    #[serde(serialize_with = "mask_webhook_url")]
    pub url: SecretString,
    /// The body's shape.
    pub format: Format,
    /// The `/subscribe` words, board first.
    pub filter: String,
}

/// What a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `discord`: a Discord execute-webhook body, an embed (tally edits
    /// too).
    #[serde(rename = "discord")]
    Embeds,
    /// A Slack Block Kit message (no edits).
    Slack,
    /// The digest JSON, with a delivery id and an optional signature (no
    /// edits).
    Json,
}

/// A webhook URL as `check-config` shows it: scheme and host, the rest
/// (path, query, user info: where hooks keep their token) masked.
pub fn masked_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) if u.has_host() => {
            let host = u.host_str().unwrap_or_default();
            match u.port() {
                Some(p) => format!("{}://{host}:{p}/***", u.scheme()),
                None => format!("{}://{host}/***", u.scheme()),
            }
        }
        _ => "***".to_owned(),
    }
}

fn mask_webhook_url<S: Serializer>(v: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&masked_url(v.expose_secret()))
}

/// A destination's subscription, read from its `filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The board as written.
    pub board: String,
    /// The words after it.
    pub filter: Filter,
}

/// Reads a `filter` as `/subscribe` would: a board first, then words.
/// `Err` says what is wrong (never echoing anything but the filter).
pub fn subscription(filter: &str) -> Result<Subscription, String> {
    match parse(&format!("/subscribe {filter}"), None) {
        Ok(Some(Command::Subscribe(Subscribe {
            board: Some(_),
            filter,
        }))) if filter.top.is_some() => {
            Err("top: is for chats (a webhook message is never edited)".to_owned())
        }
        Ok(Some(Command::Subscribe(Subscribe {
            board: Some(board),
            filter,
        }))) => Ok(Subscription { board, filter }),
        Ok(_) => Err("must start with a PTT board name".to_owned()),
        Err(e) => Err(e.error.to_string()),
    }
}

impl WebhookSettings {
    /// An empty secret counts as unset; names and filters are trimmed.
    pub fn normalized(mut self) -> Self {
        if self
            .secret
            .as_ref()
            .is_some_and(|t| t.expose_secret().trim().is_empty())
        {
            self.secret = None;
        }
        for d in &mut self.destinations {
            d.name = d.name.trim().to_owned();
            d.filter = d.filter.trim().to_owned();
        }
        self
    }

    /// Every bad key, named (`webhook.destinations[0].url must be an
    /// http(s) URL`), never showing a URL.
    pub fn problems(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (i, d) in self.destinations.iter().enumerate() {
            let key = format!("webhook.destinations[{i}]");
            let name_ok = (1..=MAX_NAME).contains(&d.name.len())
                && d.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !name_ok {
                errs.push(format!(
                    "{key}.name must be 1–{MAX_NAME} ASCII letters, digits, '-', '_' or '.'"
                ));
            } else if self.destinations[..i].iter().any(|o| o.name == d.name) {
                errs.push(format!("{key}.name {:?} is used twice", d.name));
            }
            if !crate::config::is_http_url(d.url.expose_secret().trim()) {
                errs.push(format!("{key}.url must be an http(s) URL"));
            }
            if let Err(e) = subscription(&d.filter) {
                errs.push(format!("{key}.filter {:?}: {e}", d.filter));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: serde_json::Value) -> Result<WebhookSettings, Vec<String>> {
        let (s, unknown) =
            crate::chat::read_section::<WebhookSettings>("webhook", Some(&v)).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        let s = s.normalized();
        let p = s.problems();
        if p.is_empty() { Ok(s) } else { Err(p) }
    }

    #[test]
    fn a_destination_is_read_and_its_url_never_shown() {
        let s = read(serde_json::json!({
            "secret": "s3cret",
            "destinations": [{
                "name": "team-slack",
                "url": "https://hooks.example/services/T0/B0/tok3n?x=1",
                "format": "slack",
                "filter": "Stock kw:台積電",
            }],
        }))
        .unwrap();
        assert_eq!(s.destinations[0].format, Format::Slack);
        let sub = subscription(&s.destinations[0].filter).unwrap();
        assert_eq!(sub.board, "Stock");
        let shown = toml::to_string(&crate::chat::shown(&s)).unwrap();
        assert!(!shown.contains("tok3n"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("https://hooks.example/***"), "{shown}");
        assert!(!format!("{s:?}").contains("tok3n"));
    }

    #[test]
    fn bad_entries_are_named_without_their_url() {
        let errs = read(serde_json::json!({
            "destinations": [
                {"name": "a", "url": "ftp://user:pw@x/tok3n", "format": "json", "filter": "Stock"},
                {"name": "a", "url": "https://x/", "format": "json", "filter": "kw:x"},
                {"name": "b c", "url": "https://x/", "format": "json", "filter": "Stock"},
                {"name": "d", "url": "https://x/", "format": "discord", "filter": "Stock top:5"},
            ],
        }))
        .unwrap_err();
        let all = errs.join("\n");
        assert!(all.contains("webhook.destinations[0].url"), "{all}");
        assert!(
            all.contains("webhook.destinations[1].name \"a\" is used twice"),
            "{all}"
        );
        assert!(all.contains("webhook.destinations[1].filter"), "{all}");
        assert!(all.contains("webhook.destinations[2].name"), "{all}");
        assert!(
            all.contains("webhook.destinations[3].filter \"Stock top:5\": top: is for chats"),
            "{all}"
        );
        assert!(!all.contains("tok3n"), "{all}");
        assert_eq!(masked_url("not a url/tok3n"), "***");
        assert_eq!(
            masked_url("http://127.0.0.1:9/h/t"),
            "http://127.0.0.1:9/***"
        );
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let v = serde_json::json!({
            "destinations": [{"name": "a", "url": "https://x/", "format": "xml", "filter": "Stock"}],
        });
        assert!(crate::chat::read_section::<WebhookSettings>("webhook", Some(&v)).is_err());
    }
}
