//! Discord, through serenity: a REST [`ChatSink`] every replica runs, and a
//! gateway listener (leader only) for the `/ptt` slash command and guild
//! membership.
//!
//! With `discord.api_url` every REST call goes to that base URL (a
//! rate-limiting proxy such as twilight-http-proxy, or a fake in tests) and
//! serenity's own rate limiter is off — serenity ignores a proxy otherwise.
//! 429s then reach us without `retry_after`, and are retried by the outbox
//! after 2 s doubling to 60 s per channel. Without `api_url` serenity's
//! limiter waits out 429s itself. Our pacer runs in both modes.
//!
//! The gateway asks for `GUILDS` only (GUILD_CREATE/DELETE; interactions
//! need no intent, and message content is never read).

mod channels;
pub mod commands;
pub mod errors;
pub mod forum;
mod gateway;
mod publish;
pub mod render;
pub mod settings;
pub mod sink;
pub mod target;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serenity::all::{Command as SlashCommand, GatewayIntents, GuildId};
use serenity::builder::CreateAllowedMentions;
use serenity::client::ClientBuilder;
use serenity::http::{Http, HttpBuilder, HttpError};
use tokio_util::sync::CancellationToken;

pub use errors::{DiscordError, Redactor};
pub use sink::DiscordSink;

use self::errors::{Failure, classify};
use self::gateway::Listener;
use crate::chat::pacing::{Pacer, per_chat};
use crate::chat::{AdapterContext, ChatSink, Configured, Enabled, Started};
use crate::dest::Platform as PlatformId;
use crate::digest::Digest;
pub use settings::DiscordSettings;

/// A REST call that gets no answer in this time fails (transiently): the
/// default of [`DiscordOptions::request_timeout`].
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Connecting to Discord (or the proxy).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers taking longer than this are deferred first.
const DEFER_AFTER: Duration = Duration::from_millis(1500);
/// Start-up retries back off from 1 s to this.
const STARTUP_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// After shutdown, how long the gateway gets to close.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Timings of the adapter; the defaults suit Discord, tests shorten them.
#[derive(Debug, Clone)]
pub struct DiscordOptions {
    /// A REST call that gets no answer in this time fails as transient
    /// (default 20 s). A create-message that timed out after Discord took
    /// it is not posted twice when retried: it carries our nonce with
    /// `enforce_nonce`.
    pub request_timeout: Duration,
}

impl Default for DiscordOptions {
    fn default() -> Self {
        DiscordOptions {
            request_timeout: REQUEST_TIMEOUT,
        }
    }
}

/// The Discord adapter: builds serenity's HTTP client from the settings,
/// hands out the sink, and runs the gateway.
pub struct DiscordAdapter {
    http: Arc<Http>,
    token: secrecy::SecretString,
    api_url: Option<String>,
    guild_id: Option<GuildId>,
    ctx: AdapterContext,
    pacer: Arc<Pacer>,
    redactor: Redactor,
    sink: Arc<DiscordSink>,
    defer_after: Duration,
    options: DiscordOptions,
}

impl std::fmt::Debug for DiscordAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordAdapter")
            .field("api_url", &self.api_url.as_ref().map(|_| "set"))
            .field("guild_id", &self.guild_id)
            .finish_non_exhaustive()
    }
}

impl DiscordAdapter {
    /// Builds serenity's Http (`HttpBuilder::new(token)`; with `api_url`:
    /// `.proxy(url).ratelimiter_disabled(true)`) — no network yet.
    pub fn new(settings: &DiscordSettings, ctx: AdapterContext) -> Result<Self, DiscordError> {
        Self::with_options(settings, ctx, DiscordOptions::default())
    }

    /// [`new`](Self::new) with other timings (tests).
    pub fn with_options(
        settings: &DiscordSettings,
        ctx: AdapterContext,
        options: DiscordOptions,
    ) -> Result<Self, DiscordError> {
        let token = settings
            .token
            .as_ref()
            .map(|t| t.expose_secret().trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or(DiscordError::NoToken)?;
        let bare = token.strip_prefix("Bot ").unwrap_or(&token);
        if bare.is_empty() || bare.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DiscordError::Config(
                "discord.token contains spaces or control characters".into(),
            ));
        }
        let api_url = match settings.api_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) => Some(check_api_url(u)?),
        };
        let guild_id = match settings.guild_id {
            None => None,
            Some(0) => {
                return Err(DiscordError::Config(
                    "discord.guild_id must be a server id".into(),
                ));
            }
            Some(g) => Some(GuildId::new(g)),
        };
        let redactor = Redactor::new(&token);
        let http = Arc::new(build_http(&token, api_url.as_deref(), &options)?);
        let pacer = Arc::new(pacer().shared_by(Arc::clone(&ctx.share)).hold_after_start());
        let sink = Arc::new(DiscordSink::new(
            Arc::clone(&http),
            Arc::clone(&pacer),
            redactor.clone(),
        ));
        Ok(DiscordAdapter {
            http,
            token: token.into(),
            api_url,
            guild_id,
            ctx,
            pacer,
            redactor,
            sink,
            defer_after: DEFER_AFTER,
            options,
        })
    }

    /// How long a command may take before its answer is deferred (default
    /// 1.5 s). Zero defers every answer (tests use it to exercise that
    /// path).
    pub fn set_defer_after(&mut self, after: Duration) {
        self.defer_after = after;
    }

    /// The sink the outbox sends through (every replica runs it): REST
    /// only, no gateway.
    pub fn sink(&self) -> Arc<dyn ChatSink> {
        Arc::clone(&self.sink) as Arc<dyn ChatSink>
    }

    /// Registers `/ptt` (globally, or in `discord.guild_id`), then runs the
    /// gateway until `ctx.shutdown` is cancelled (only the leader runs
    /// this). Transient failures at start-up are retried; `Err` only for
    /// fatal ones (a refused token, a refused registration), token
    /// redacted.
    pub async fn run_listener(&self) -> Result<(), DiscordError> {
        self.run_listener_until(self.ctx.shutdown.clone()).await
    }

    /// [`run_listener`](Self::run_listener), stopping when `stop` (or
    /// `ctx.shutdown`) is cancelled — for a leader that loses its lease
    /// while the process keeps running. May be called again afterwards.
    pub async fn run_listener_until(&self, stop: CancellationToken) -> Result<(), DiscordError> {
        // Cancelled with `ctx.shutdown` (a child) or with `stop`.
        let either = self.ctx.shutdown.child_token();
        let link = either.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => link.cancel(),
                () = link.cancelled() => {}
            }
        });
        let stop = either;
        let result = self.listen(&stop).await;
        // Ends the helper task above when we return for another reason.
        stop.cancel();
        result
    }

    async fn listen(&self, stop: &CancellationToken) -> Result<(), DiscordError> {
        let Some(app) = self
            .startup(stop, "reading the bot's application", || {
                self.http.get_current_application_info()
            })
            .await?
        else {
            return Ok(());
        };
        self.http.set_application_id(app.id);
        let registered = self
            .startup(stop, "registering the /ptt command", || async {
                let commands = vec![commands::ptt_command()];
                match self.guild_id {
                    Some(g) => g.set_commands(&*self.http, commands).await,
                    None => SlashCommand::set_global_commands(&*self.http, commands).await,
                }
            })
            .await?;
        if registered.is_none() {
            return Ok(());
        }
        match self.guild_id {
            Some(g) => tracing::info!(guild = %g, "registered /ptt in one Discord server"),
            None => tracing::info!("registered /ptt globally"),
        }
        self.run_gateway(stop).await
    }

    async fn run_gateway(&self, stop: &CancellationToken) -> Result<(), DiscordError> {
        let listener = Listener {
            http: Arc::clone(&self.http),
            ctx: self.ctx.clone(),
            pacer: Arc::clone(&self.pacer),
            redactor: self.redactor.clone(),
            defer_after: self.defer_after,
        };
        // The client's own Http only asks for the gateway URL; every other
        // call goes through the shared one above.
        let http = build_http(
            self.token.expose_secret(),
            self.api_url.as_deref(),
            &self.options,
        )?;
        let mut client = ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
            .event_handler(listener)
            .await
            .map_err(|e| DiscordError::Startup {
                doing: "building the gateway client",
                reason: self.redactor.redact(&e.to_string()),
            })?;
        let shards = Arc::clone(&client.shard_manager);
        let shutdown = stop.clone();
        let stopper = tokio::spawn(async move {
            shutdown.cancelled().await;
            shards.shutdown_all().await;
        });
        let stopped = async {
            stop.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
        };
        let result = tokio::select! {
            r = client.start() => r,
            () = stopped => Ok(()),
        };
        stopper.abort();
        match result {
            Ok(()) => {
                tracing::info!("Discord gateway stopped");
                Ok(())
            }
            Err(_) if stop.is_cancelled() => Ok(()),
            Err(e) => Err(DiscordError::Gateway(self.redactor.redact(&e.to_string()))),
        }
    }

    /// Runs a start-up call, retrying transient failures (1 s doubling to
    /// a minute) until it succeeds, fails for good, or the service stops
    /// (`Ok(None)`).
    async fn startup<T, F, Fut>(
        &self,
        stop: &CancellationToken,
        doing: &'static str,
        call: F,
    ) -> Result<Option<T>, DiscordError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = serenity::Result<T>>,
    {
        let mut wait = Duration::from_secs(1);
        loop {
            let err = tokio::select! {
                r = call() => match r {
                    Ok(v) => return Ok(Some(v)),
                    Err(e) => e,
                },
                () = stop.cancelled() => return Ok(None),
            };
            let unauthorized = matches!(
                &err,
                serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) if r.status_code.as_u16() == 401
            );
            let reason = match classify(&err, &self.redactor) {
                Failure::Transient(r) if !unauthorized => r,
                Failure::RateLimited => "rate limited".to_owned(),
                Failure::Transient(r)
                | Failure::Gone(r)
                | Failure::Rejected(r)
                | Failure::Accepted(r) => {
                    return Err(DiscordError::Startup { doing, reason: r });
                }
            };
            tracing::warn!(%reason, retry_in = ?wait, "Discord start-up failed while {doing}; will retry");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => return Ok(None),
            }
            wait = (wait * 2).min(STARTUP_BACKOFF_MAX);
        }
    }
}

/// Checks `discord.api_url` (never echoing it: it may hold a password).
fn check_api_url(u: &str) -> Result<String, DiscordError> {
    let parsed = url::Url::parse(u)
        .map_err(|_| DiscordError::Config("discord.api_url is not a URL".into()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(DiscordError::Config(
            "discord.api_url must be an http(s) URL".into(),
        ));
    }
    // serenity appends `/api/v10/…` itself: accept the base with or
    // without it.
    let base = u.trim_end_matches('/');
    let base = base
        .strip_suffix("/api/v10")
        .or_else(|| base.strip_suffix("/api"))
        .unwrap_or(base);
    Ok(base.to_owned())
}

/// Whether a URL points at this machine (no HTTP proxy should capture it).
fn is_loopback(u: &str) -> bool {
    match url::Url::parse(u)
        .ok()
        .and_then(|p| p.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// serenity's HTTP client: timeouts, no mentions parsed by default, and in
/// `api_url` mode the proxy with serenity's rate limiter off.
fn build_http(
    token: &str,
    api_url: Option<&str>,
    options: &DiscordOptions,
) -> Result<Http, DiscordError> {
    let mut client = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(options.request_timeout)
        .connect_timeout(CONNECT_TIMEOUT);
    if api_url.is_some_and(is_loopback) {
        client = client.no_proxy();
    }
    let client = client
        .build()
        .map_err(|e| DiscordError::Config(format!("cannot build the HTTP client: {e}")))?;
    let mut builder = HttpBuilder::new(token)
        .client(client)
        .default_allowed_mentions(CreateAllowedMentions::new());
    if let Some(url) = api_url {
        builder = builder.proxy(url).ratelimiter_disabled(true);
    }
    Ok(builder.build())
}

/// Discord's limits as we keep them (this process alone with them; see
/// [`Pacer::shared_by`]). Discord allows 5 messages per 5 s in a channel,
/// counted from the bucket's first message: at exactly 1 a second, a first
/// message that arrived late and a sixth that arrived early share one
/// bucket, so 1.05 s leaves a quarter of a second for that jitter. The
/// global limit is 50 requests a second; 47 keeps 3 for clock jitter.
/// Source: Discord developer docs, "Rate Limits"
/// (<https://discord.com/developers/docs/topics/rate-limits>).
pub fn pacer() -> Pacer {
    Pacer::new(
        vec![per_chat(Duration::from_millis(1050), |_| true)],
        Some(47),
    )
}

/// Discord's platform id: its rows in the store, its config section
/// (`[discord]`), its metrics label.
pub const ID: PlatformId = PlatformId::new("discord");

/// Discord as the registry lists it.
pub struct Discord;

impl crate::chat::Section for DiscordSettings {
    fn normalized(self) -> Self {
        DiscordSettings::normalized(self)
    }

    fn problems(&self) -> Vec<String> {
        DiscordSettings::problems(self)
    }

    fn enabled(self) -> Option<Box<dyn Enabled>> {
        (self.token.is_some()).then(|| Box::new(On(self)) as Box<dyn Enabled>)
    }
}

/// The registry's entry for Discord.
pub static DISCORD: Discord = Discord;

impl crate::chat::Platform for Discord {
    fn id(&self) -> PlatformId {
        ID
    }

    fn configure(&self, section: Option<&serde_json::Value>) -> Result<Configured, Vec<String>> {
        crate::chat::configure_section::<DiscordSettings>("discord", section)
    }

    /// The body of the `POST /channels/{id}/messages` call, as JSON.
    fn preview(&self, digest: &Digest) -> String {
        serde_json::to_string_pretty(&render::message_body(digest, None))
            .unwrap_or_else(|_| "{}".into())
    }
}

/// Discord with a token, ready to start.
struct On(DiscordSettings);

impl Enabled for On {
    fn start(&self, ctx: AdapterContext) -> Result<Started, String> {
        let adapter = DiscordAdapter::new(&self.0, ctx).map_err(|e| e.to_string())?;
        Ok(Started {
            sink: adapter.sink(),
            listener: Arc::new(adapter),
        })
    }
}

#[async_trait::async_trait]
impl crate::chat::Listener for DiscordAdapter {
    async fn run(&self, stop: CancellationToken) -> Result<(), String> {
        self.run_listener_until(stop)
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_checked_without_echoing_them() {
        assert_eq!(
            check_api_url("http://127.0.0.1:3000/").unwrap(),
            "http://127.0.0.1:3000"
        );
        let e = check_api_url("ftp://user:hunter2@host").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
        assert!(check_api_url("not a url").is_err());
        assert_eq!(
            check_api_url("http://proxy:3000/api/v10/").unwrap(),
            "http://proxy:3000"
        );
        assert_eq!(
            check_api_url("http://proxy:3000/api").unwrap(),
            "http://proxy:3000"
        );
        assert!(is_loopback("http://127.0.0.1:1"));
        assert!(is_loopback("http://localhost:1"));
        assert!(is_loopback("http://[::1]:1"));
        assert!(!is_loopback("http://proxy.internal:3000"));
    }

    #[test]
    fn the_proxy_is_used_only_with_serenitys_limiter_off() {
        let http = build_http(
            "abc.def.ghi",
            Some("http://127.0.0.1:9"),
            &DiscordOptions::default(),
        )
        .unwrap();
        assert!(http.ratelimiter.is_none());
        assert_eq!(http.proxy.as_deref(), Some("http://127.0.0.1:9"));
        assert!(http.default_allowed_mentions.is_some());
        let http = build_http("abc.def.ghi", None, &DiscordOptions::default()).unwrap();
        assert!(http.ratelimiter.is_some());
        assert!(http.proxy.is_none());
    }
}
