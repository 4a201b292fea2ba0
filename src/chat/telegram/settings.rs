//! `[telegram]`: the Telegram bot's settings, read and checked here (the
//! core's `config.rs` knows no platform).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{mask_secret, mask_url_password};

/// What a digest's link preview shows (`telegram.link_preview`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum LinkPreview {
    /// The news source, else the post.
    Source,
    /// The PTT post.
    Ptt,
    /// None.
    Off,
}

impl TryFrom<String> for LinkPreview {
    type Error = String;

    /// The error names the key: serde does not say which field failed.
    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "source" => Ok(LinkPreview::Source),
            "ptt" => Ok(LinkPreview::Ptt),
            "off" => Ok(LinkPreview::Off),
            _ => Err(format!(
                "telegram.link_preview must be source, ptt or off, not {v:?}"
            )),
        }
    }
}

/// `[telegram]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TelegramSettings {
    /// The bot token; unset = Telegram off.
    #[serde(serialize_with = "mask_secret")]
    pub token: Option<SecretString>,
    /// The Bot API server.
    #[serde(serialize_with = "mask_url_password")]
    pub api_url: String,
    /// What a digest's link preview shows.
    pub link_preview: LinkPreview,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        TelegramSettings {
            token: None,
            api_url: "https://api.telegram.org".into(),
            link_preview: LinkPreview::Source,
        }
    }
}

impl TelegramSettings {
    /// An empty token counts as unset.
    pub fn normalized(mut self) -> Self {
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret().trim().is_empty())
        {
            self.token = None;
        }
        self
    }

    /// Every bad key, named (`telegram.api_url must be an http(s) URL`).
    pub fn problems(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if !crate::config::is_http_url(&self.api_url) {
            errs.push("telegram.api_url must be an http(s) URL".to_owned());
        }
        errs
    }
}
