//! The one list of chat platforms. `app.rs`, `main.rs` (`check-config`,
//! `preview`) and the relay loop over it and never name a platform: adding
//! one is a folder under `src/chat/` plus a line here.

use super::{Enabled, Platform, PlatformId};
use crate::config::{ConfigError, Settings};

/// Every chat platform, in the order they start and print.
pub fn platforms() -> [&'static dyn Platform; 3] {
    [
        &super::telegram::TELEGRAM,
        &super::discord::DISCORD,
        &super::webhook::WEBHOOK,
    ]
}

/// The platform called `name`, if any.
pub fn find(name: &str) -> Option<&'static dyn Platform> {
    platforms().into_iter().find(|p| p.id().as_str() == name)
}

/// The chat platforms of a configuration, read and checked.
pub struct Configured {
    /// The platforms that are on (their token is set), with their ids.
    pub enabled: Vec<(PlatformId, Box<dyn Enabled>)>,
    /// Keys no platform section has, and sections no platform has.
    pub unknown_keys: Vec<String>,
    /// Every platform's section as `check-config` prints it (masked).
    pub shown: toml::Table,
}

impl Configured {
    /// Whether any chat platform is on (the console sink is on by default
    /// only when none is).
    pub fn any_enabled(&self) -> bool {
        !self.enabled.is_empty()
    }
}

/// Reads every platform's section of `settings`. `Err`
/// ([`ConfigError::Invalid`]) lists every bad key of every section.
pub fn configure(settings: &Settings) -> Result<Configured, ConfigError> {
    let mut out = Configured {
        enabled: Vec::new(),
        unknown_keys: Vec::new(),
        shown: toml::Table::new(),
    };
    let mut errors = Vec::new();
    for p in platforms() {
        let name = p.id().as_str();
        match p.configure(settings.platforms.get(name)) {
            Ok(c) => {
                out.unknown_keys.extend(c.unknown_keys);
                out.shown
                    .insert(name.to_owned(), toml::Value::Table(c.shown));
                if let Some(e) = c.enabled {
                    out.enabled.push((p.id(), e));
                }
            }
            Err(e) => errors.extend(e),
        }
    }
    out.unknown_keys.extend(
        settings
            .platforms
            .names()
            .filter(|n| find(n).is_none())
            .map(str::to_owned),
    );
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError::Invalid(errors))
    }
}
