//! `[telegram]`: the Telegram bot's settings, read and checked here (the
//! core's `config.rs` knows no platform).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{mask_secret, mask_url_password};

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
    /// `source`, `ptt` or `off`.
    pub link_preview: String,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        TelegramSettings {
            token: None,
            api_url: "https://api.telegram.org".into(),
            link_preview: "source".into(),
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
        if !["source", "ptt", "off"].contains(&self.link_preview.as_str()) {
            errs.push("telegram.link_preview must be one of source, ptt, off".to_owned());
        }
        errs
    }
}
