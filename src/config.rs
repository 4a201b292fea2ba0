//! Layered configuration: built-in defaults → `config/default.toml` →
//! `--config FILE` → `PTT_RELAY__SECTION__KEY` environment variables.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

use crate::ptt::Board;

/// The file read when it exists in the working directory.
pub const DEFAULT_FILE: &str = "config/default.toml";
/// Prefix of environment variables (`PTT_RELAY__PTT__BOARDS=Stock,Tech_Job`).
pub const ENV_PREFIX: &str = "PTT_RELAY";

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or parsed.
    #[error("configuration: {0}")]
    Load(String),
    /// Keys that no setting has (an error for `check-config`).
    #[error("unknown configuration keys: {}", .0.join(", "))]
    UnknownKeys(Vec<String>),
    /// Values that are out of range or malformed.
    #[error("invalid configuration: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Every setting of ptt-relay.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Settings {
    /// Where and how PTT is read.
    pub ptt: PttSettings,
    /// The store.
    pub store: StoreSettings,
    /// The console sink.
    pub console: ConsoleSettings,
    /// Relaying and tally tracking.
    pub relay: RelaySettings,
    /// The delivery outbox.
    pub outbox: OutboxSettings,
    /// Bot replies.
    pub bot: BotSettings,
    /// The health and metrics endpoint.
    pub http: HttpSettings,
    /// Logging.
    pub log: LogSettings,
    /// Graceful shutdown.
    pub shutdown: ShutdownSettings,
    /// Every other top-level section, as read: the chat platforms' own
    /// (`[telegram]`, `[discord]`, …), which each platform types, checks
    /// and prints itself (`chat::registry`); a name no platform has is an
    /// unknown key there.
    #[serde(skip)]
    pub platforms: PlatformSections,
}

/// The sections of [`Settings`] that are not the core's: each platform's,
/// by name, as plain values. Debug output shows only their names (they
/// hold tokens).
#[derive(Clone, Default, PartialEq)]
pub struct PlatformSections(BTreeMap<String, serde_json::Value>);

impl PlatformSections {
    /// The section called `name`, if the configuration has one.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }

    /// Sets (replaces) a section, as a configuration file would: e.g.
    /// `json!({"token": "…", "api_url": "http://127.0.0.1:9/"})`.
    pub fn set(&mut self, name: &str, section: serde_json::Value) {
        self.0.insert(name.to_owned(), section);
    }

    /// The names of the sections present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl std::fmt::Debug for PlatformSections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The core's own sections; any other top-level key is a platform's.
const CORE_SECTIONS: &[&str] = &[
    "ptt", "store", "console", "relay", "outbox", "bot", "http", "log", "shutdown",
];

/// `[ptt]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct PttSettings {
    /// Where to fetch pages; never used to build links.
    #[serde(serialize_with = "mask_url_password")]
    pub base_url: String,
    /// The boards polled.
    pub boards: Vec<String>,
    /// Seconds between index polls of a board (jittered).
    pub poll_interval_secs: u64,
    /// One budget for all PTT requests.
    pub requests_per_sec: f64,
    /// Index pages walked back after downtime.
    pub catchup_pages: u32,
    /// Posts relayed when a board is seen for the first time.
    pub backfill: u32,
}

impl Default for PttSettings {
    fn default() -> Self {
        PttSettings {
            base_url: "https://www.ptt.cc".into(),
            boards: vec!["Stock".into()],
            poll_interval_secs: 60,
            requests_per_sec: 1.0,
            catchup_pages: 5,
            backfill: 0,
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct StoreSettings {
    /// `sqlite://PATH`, `sqlite:///abs/path` or `postgres://…`.
    #[serde(serialize_with = "mask_url_password")]
    pub url: String,
    /// Days seen posts, digests and finished outbox rows are kept.
    pub retention_days: u32,
    /// PostgreSQL leadership lease.
    pub lease_secs: u64,
}

impl StoreSettings {
    /// `retention_days` as a duration.
    pub fn retention(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.retention_days).saturating_mul(86_400))
    }
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: "sqlite://data/ptt-relay.db".into(),
            retention_days: 30,
            lease_secs: 15,
        }
    }
}

/// `[console]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ConsoleSettings {
    /// Print digests on stdout; default: when no chat token is set.
    pub enabled: Option<bool>,
    /// The `/subscribe` words after BOARD, applied to every polled board.
    pub filter: String,
    /// `text` or `json`.
    pub format: OutputFormat,
}

/// How the console sink prints digests and the log prints lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum OutputFormat {
    /// For people: a block per digest, a line per log event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl TryFrom<String> for OutputFormat {
    type Error = String;

    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "text" => Ok(OutputFormat::Text),
            "json" => Ok(OutputFormat::Json),
            _ => Err(format!("must be text or json, not {v:?}")),
        }
    }
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            enabled: None,
            filter: "tag:新聞".into(),
            format: OutputFormat::Text,
        }
    }
}

/// `[relay]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RelaySettings {
    /// How long a relayed post's tally is kept live.
    pub track_hours: u64,
    /// First scheduled tally re-check.
    pub track_first_secs: u64,
    /// The schedule doubles up to this step.
    pub track_max_step_secs: u64,
    /// Older undelivered rows expire.
    pub max_delivery_age_hours: u64,
    /// The subscriptions of a destination paused this long (the bot was
    /// blocked, removed or kicked) are removed, in days.
    pub gone_chat_days: u32,
}

impl RelaySettings {
    /// `max_delivery_age_hours` as a duration (saturating; in range it
    /// cannot overflow).
    pub fn max_delivery_age(&self) -> std::time::Duration {
        hours(self.max_delivery_age_hours)
    }

    /// `track_hours` as a duration (saturating).
    pub fn track_window(&self) -> std::time::Duration {
        hours(self.track_hours)
    }

    /// `gone_chat_days` as a duration.
    pub fn gone_chat_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.gone_chat_days) * 86_400)
    }
}

/// Whole hours as a duration, saturating instead of overflowing.
fn hours(h: u64) -> std::time::Duration {
    std::time::Duration::from_secs(h.saturating_mul(3_600))
}

impl Default for RelaySettings {
    fn default() -> Self {
        RelaySettings {
            track_hours: 6,
            track_first_secs: 120,
            track_max_step_secs: 1800,
            max_delivery_age_hours: 24,
            gone_chat_days: 30,
        }
    }
}

/// `[outbox]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Sends in flight per platform, one per destination.
    pub concurrency: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings { concurrency: 8 }
    }
}

/// `[bot]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct BotSettings {
    /// `zh-TW` or `en`, for replies without a known language.
    pub locale: String,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            locale: "zh-TW".into(),
        }
    }
}

/// `[http]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct HttpSettings {
    /// Address of `/healthz`, `/readyz`, `/metrics`.
    pub listen: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: "127.0.0.1:9187".into(),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: OutputFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: OutputFormat::Text,
        }
    }
}

/// `[shutdown]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ShutdownSettings {
    /// Grace for in-flight sends on SIGTERM.
    pub timeout_secs: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings { timeout_secs: 8 }
    }
}

/// Where the layers come from; the environment can be replaced in tests.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// `--config FILE`, which must exist when given.
    pub file: Option<std::path::PathBuf>,
    /// Replaces the process environment when set.
    pub env: Option<BTreeMap<String, String>>,
}

/// A loaded configuration and the keys no setting has.
#[derive(Debug)]
pub struct Loaded {
    /// The validated settings.
    pub settings: Settings,
    /// Unknown keys (`run` warns, `check-config` refuses).
    pub unknown_keys: Vec<String>,
}

impl Settings {
    /// Loads and validates every layer.
    pub fn load(sources: &Sources) -> Result<Loaded, ConfigError> {
        let mut builder = config::Config::builder();
        if Path::new(DEFAULT_FILE).is_file() {
            builder = builder.add_source(config::File::with_name(DEFAULT_FILE).required(true));
        }
        if let Some(file) = &sources.file {
            if !file.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} not found",
                    file.display()
                )));
            }
            builder = builder.add_source(
                config::File::from(file.as_path())
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let mut env = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("ptt.boards")
            .try_parsing(true)
            .ignore_empty(true);
        if let Some(vars) = &sources.env {
            env = env.source(Some(vars.clone().into_iter().collect()));
        }
        let raw = builder
            .add_source(env)
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let load = |e: config::ConfigError| ConfigError::Load(e.to_string());
        let mut table: config::Map<String, config::Value> = raw.try_deserialize().map_err(load)?;
        let mut platforms = PlatformSections::default();
        for name in table.keys().cloned().collect::<Vec<_>>() {
            if !CORE_SECTIONS.contains(&name.as_str())
                && let Some(section) = table.remove(&name)
            {
                let section = section
                    .try_deserialize()
                    .map_err(|e| ConfigError::Load(format!("{name}: {e}")))?;
                platforms.set(&name, section);
            }
        }
        let core = config::Value::new(None, config::ValueKind::Table(table));
        let mut unknown_keys = Vec::new();
        let mut settings: Settings =
            serde_ignored::deserialize(core, |path| unknown_keys.push(path.to_string()))
                .map_err(|e| ConfigError::Load(e.to_string()))?;
        settings.platforms = platforms;
        settings.normalize();
        settings.validate()?;
        Ok(Loaded {
            settings,
            unknown_keys,
        })
    }

    /// Board names are trimmed; empty ones dropped.
    fn normalize(&mut self) {
        for b in &mut self.ptt.boards {
            *b = b.trim().to_owned();
        }
        self.ptt.boards.retain(|b| !b.is_empty());
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut errs = Vec::new();
        if !is_http_url(&self.ptt.base_url) {
            errs.push("ptt.base_url must be an http(s) URL".to_owned());
        }
        if self.ptt.boards.is_empty() {
            errs.push("ptt.boards must name at least one board".into());
        }
        for b in &self.ptt.boards {
            if Board::parse(b).is_none() {
                errs.push(format!("ptt.boards: {b:?} is not a PTT board name"));
            }
        }
        for r in RANGES {
            if let Some(msg) = self.numeric(r.key).and_then(|v| r.check(v)) {
                errs.push(msg);
            }
        }
        let one_of = |key: &str, v: &str, allowed: &[&str], errs: &mut Vec<String>| {
            if !allowed.contains(&v) {
                errs.push(format!("{key} must be one of {}", allowed.join(", ")));
            }
        };
        one_of("bot.locale", &self.bot.locale, &["zh-TW", "en"], &mut errs);
        if StoreUrl::parse(&self.store.url).is_none() {
            errs.push("store.url must be sqlite://PATH or postgres://…".into());
        }
        match crate::filter::Filter::parse_str(&self.console.filter) {
            Err(e) => errs.push(format!("console.filter: {e}")),
            Ok(f) if f.top.is_some() => {
                errs.push("console.filter: top: is for chats, not the console".into());
            }
            Ok(_) => {}
        }
        if self.http.listen.parse::<SocketAddr>().is_err() {
            errs.push("http.listen must be an address such as 127.0.0.1:9187".into());
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(errs))
        }
    }

    /// The value of a numeric key of [`RANGES`], as a number.
    fn numeric(&self, key: &str) -> Option<Number> {
        let u = |v: u64| Some(Number::Int(v));
        match key {
            "ptt.poll_interval_secs" => u(self.ptt.poll_interval_secs),
            "ptt.requests_per_sec" => Some(Number::Float(self.ptt.requests_per_sec)),
            "ptt.catchup_pages" => u(self.ptt.catchup_pages.into()),
            "ptt.backfill" => u(self.ptt.backfill.into()),
            "store.retention_days" => u(self.store.retention_days.into()),
            "store.lease_secs" => u(self.store.lease_secs),
            "relay.track_hours" => u(self.relay.track_hours),
            "relay.track_first_secs" => u(self.relay.track_first_secs),
            "relay.track_max_step_secs" => u(self.relay.track_max_step_secs),
            "relay.max_delivery_age_hours" => u(self.relay.max_delivery_age_hours),
            "relay.gone_chat_days" => u(self.relay.gone_chat_days.into()),
            "outbox.concurrency" => u(self.outbox.concurrency.into()),
            "shutdown.timeout_secs" => u(self.shutdown.timeout_secs),
            _ => None,
        }
    }

    /// The polled boards, validated.
    pub fn boards(&self) -> Vec<Board> {
        self.ptt
            .boards
            .iter()
            .filter_map(|b| Board::parse(b))
            .collect()
    }

    /// Whether the console sink prints digests: `console.enabled`, by
    /// default when no chat platform is on.
    pub fn console_enabled(&self, chat_platform_on: bool) -> bool {
        self.console.enabled.unwrap_or(!chat_platform_on)
    }

    /// The core's effective configuration as TOML (the platforms print
    /// their own sections, `chat::registry`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

/// The allowed range of one numeric key (both ends included).
#[derive(Debug, Clone, Copy)]
pub struct Range {
    /// The key, `section.name`.
    pub key: &'static str,
    /// The smallest allowed value.
    pub min: f64,
    /// The largest allowed value.
    pub max: f64,
}

/// A numeric setting's value.
#[derive(Debug, Clone, Copy)]
enum Number {
    Int(u64),
    Float(f64),
}

impl Range {
    /// The range of `key`, both ends included (a platform states the
    /// ranges of its own section's keys with this).
    pub const fn new(key: &'static str, min: f64, max: f64) -> Range {
        Range { key, min, max }
    }

    /// The refusal naming the key, the value and the range, when the whole
    /// number `v` is outside it.
    pub fn check_int(&self, v: u64) -> Option<String> {
        self.check(Number::Int(v))
    }

    /// The refusal naming the key, the value and the range, when `v` is
    /// outside it (or not a finite number).
    fn check(&self, v: Number) -> Option<String> {
        let (inside, shown) = match v {
            // u64 → f64 rounds only above 2^53, far beyond every maximum
            // but those of ids (u64::MAX as f64, above any u64).
            #[allow(clippy::cast_precision_loss)]
            Number::Int(i) => {
                let f = i as f64;
                (f >= self.min && f <= self.max, i.to_string())
            }
            Number::Float(f) => (
                f.is_finite() && f >= self.min && f <= self.max,
                format!("{f:?}"),
            ),
        };
        (!inside).then(|| {
            format!(
                "{} = {shown} is out of range: it must be from {} to {}",
                self.key,
                show(self.min),
                show(self.max)
            )
        })
    }
}

fn show(v: f64) -> String {
    #[allow(clippy::cast_precision_loss)]
    if v >= u64::MAX as f64 {
        "18446744073709551615".into()
    } else {
        format!("{v}")
    }
}

/// Every numeric key's range (README "Configuration" shows the same
/// table). `check-config` and `run` refuse a value outside it (exit 2).
/// The ranges also keep every derived duration (hours × 3600, days ×
/// 86,400, 1 / requests per second) far from overflowing.
pub const RANGES: &[Range] = &[
    r("ptt.poll_interval_secs", 1.0, 86_400.0),
    r("ptt.requests_per_sec", 0.01, 100.0),
    r("ptt.catchup_pages", 0.0, 100.0),
    r("ptt.backfill", 0.0, 1_000.0),
    r("store.retention_days", 1.0, 3_650.0),
    r("store.lease_secs", 1.0, 3_600.0),
    r("relay.track_hours", 0.0, 720.0),
    r("relay.track_first_secs", 1.0, 86_400.0),
    r("relay.track_max_step_secs", 1.0, 86_400.0),
    r("relay.max_delivery_age_hours", 1.0, 8_760.0),
    r("relay.gone_chat_days", 1.0, 3_650.0),
    r("outbox.concurrency", 1.0, 256.0),
    r("shutdown.timeout_secs", 1.0, 3_600.0),
];

const fn r(key: &'static str, min: f64, max: f64) -> Range {
    Range { key, min, max }
}

/// Where the store lives, from `store.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite file: `sqlite://rel/path` (relative to the working dir) or
    /// `sqlite:///abs/path`.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL, as given.
    Postgres(String),
}

impl StoreUrl {
    /// Parses `store.url`.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            return (!path.is_empty()).then(|| StoreUrl::Sqlite(path.into()));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return url::Url::parse(s)
                .ok()
                .filter(|u| u.has_host())
                .map(|_| StoreUrl::Postgres(s.to_owned()));
        }
        None
    }
}

/// Whether `value` is an absolute `http` or `https` URL with a host.
pub fn is_http_url(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Replaces the password of a URL with `***`, in the user info and in a
/// `password=` query parameter (see [`crate::telemetry::redact::mask_url`]).
pub fn mask_password(url: &str) -> String {
    crate::telemetry::redact::mask_url(url)
}

/// Serializes a secret as `***` (or nothing when unset), for
/// `check-config`.
pub fn mask_secret<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("***"),
        None => s.serialize_none(),
    }
}

/// Serializes a URL with its password masked ([`mask_password`]).
pub fn mask_url_password<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&mask_password(v))
}

/// [`mask_url_password`] for an optional URL.
pub fn mask_opt_url_password<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(u) => s.serialize_some(&mask_password(u)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        Settings::load(&Sources {
            file: None,
            env: Some(
                env.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        })
    }

    #[test]
    fn defaults_hold_without_any_layer() {
        let s = load(&[]).unwrap().settings;
        assert_eq!(s.ptt.boards, vec!["Stock"]);
        assert_eq!(s.ptt.poll_interval_secs, 60);
        assert!(s.console_enabled(false));
        assert!(s.platforms.names().next().is_none());
        assert_eq!(s.store.url, "sqlite://data/ptt-relay.db");
    }

    #[test]
    fn environment_overrides_with_lists_and_empty_values_unset() {
        let l = load(&[
            ("PTT_RELAY__PTT__BOARDS", "Stock,Tech_Job"),
            ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "30"),
            ("PTT_RELAY__TELEGRAM__TOKEN", ""),
            ("PTT_RELAY__DISCORD__TOKEN", "12345:secret-value"),
        ])
        .unwrap();
        assert_eq!(l.settings.ptt.boards, vec!["Stock", "Tech_Job"]);
        assert_eq!(l.settings.ptt.poll_interval_secs, 30);
        // Platform sections are kept for their platforms, values as given.
        assert_eq!(
            l.settings.platforms.names().collect::<Vec<_>>(),
            ["discord"],
            "an empty value is unset"
        );
        assert!(!format!("{:?}", l.settings).contains("secret-value"));
        let printed = l.settings.to_masked_toml();
        assert!(!printed.contains("secret-value"), "{printed}");
    }

    #[test]
    fn invalid_values_are_reported_together() {
        let err = load(&[
            ("PTT_RELAY__PTT__POLL_INTERVAL_SECS", "0"),
            ("PTT_RELAY__PTT__BOARDS", "../etc"),
            ("PTT_RELAY__PTT__BASE_URL", "not a url"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("poll_interval_secs"), "{err}");
        assert!(err.contains("not a PTT board name"), "{err}");
        assert!(err.contains("ptt.base_url"), "{err}");
    }

    #[test]
    fn a_format_that_is_neither_text_nor_json_is_refused_naming_the_key() {
        let err = load(&[("PTT_RELAY__CONSOLE__FORMAT", "xml")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("console.format"), "{err}");
        assert!(err.contains("json"), "{err}");
        let l = load(&[("PTT_RELAY__LOG__FORMAT", "json")]).unwrap();
        assert_eq!(l.settings.log.format, OutputFormat::Json);
    }

    #[test]
    fn unknown_keys_are_collected() {
        let l = load(&[("PTT_RELAY__PTT__BORADS", "Stock")]).unwrap();
        assert_eq!(l.unknown_keys, vec!["ptt.borads"]);
    }

    #[test]
    fn url_passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://user:hunter2@db:5432/relay"),
            "postgres://user:***@db:5432/relay"
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///data/x.db"),
            Some(StoreUrl::Sqlite("/data/x.db".into()))
        );
        assert_eq!(
            StoreUrl::parse("sqlite://data/x.db"),
            Some(StoreUrl::Sqlite("data/x.db".into()))
        );
        assert_eq!(StoreUrl::parse("mysql://x"), None);
    }
}
