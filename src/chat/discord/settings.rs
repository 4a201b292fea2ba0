//! `[discord]`: the Discord bot's settings, read and checked here (the
//! core's `config.rs` knows no platform).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::{Range, mask_opt_url_password, mask_secret};

/// The ranges of this section's numeric keys (README's table of ranges
/// lists them with the core's).
#[allow(clippy::cast_precision_loss)]
pub const RANGES: &[Range] = &[Range::new("discord.guild_id", 1.0, u64::MAX as f64)];

/// `[discord]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DiscordSettings {
    /// The bot token; unset = Discord off.
    #[serde(serialize_with = "mask_secret")]
    pub token: Option<SecretString>,
    /// A rate-limiting proxy or a fake; unset = discord.com.
    #[serde(serialize_with = "mask_opt_url_password")]
    pub api_url: Option<String>,
    /// Register `/ptt` in this guild only.
    pub guild_id: Option<u64>,
}

impl DiscordSettings {
    /// An empty token or `api_url` counts as unset.
    pub fn normalized(mut self) -> Self {
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret().trim().is_empty())
        {
            self.token = None;
        }
        if self.api_url.as_deref().is_some_and(|u| u.trim().is_empty()) {
            self.api_url = None;
        }
        self
    }

    /// Every bad key, named (`discord.api_url must be an http(s) URL`).
    pub fn problems(&self) -> Vec<String> {
        let mut errs = Vec::new();
        if let Some(u) = &self.api_url
            && !crate::config::is_http_url(u)
        {
            errs.push("discord.api_url must be an http(s) URL".to_owned());
        }
        if let Some(id) = self.guild_id {
            errs.extend(RANGES[0].check_int(id));
        }
        errs
    }
}
