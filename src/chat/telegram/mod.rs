//! The Telegram adapter (teloxide): a [`ChatSink`] the outbox sends
//! through, and a long-polling listener that answers commands and follows
//! the bot's membership of chats.
//!
//! Every call that puts something in a chat — deliveries, tally edits,
//! command replies, deletions — and every lookup a command makes (getChat,
//! getChatMember) first waits on one shared [`Pacer`], so Telegram's limits
//! are kept proactively; a 429 is still honoured (see [`Call`]: the chat,
//! the asker's lookups, or — for deliveries only — every chat, is held for
//! `retry_after`). teloxide's `Throttle`
//! is not used: it skips edits and keeps a hidden retry queue of its own.
//!
//! The bot token is in every request URL; every error text this module logs
//! or returns goes through a [`Redactor`] first.

mod errors;
mod listener;
pub mod render;
pub mod settings;
mod sink;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use secrecy::ExposeSecret;
use teloxide::Bot;
use teloxide::types::{LinkPreviewOptions, UserId};
use tokio::time::Instant;

pub use errors::{Redactor, TelegramError};

use crate::chat::pacing::{Pacer, per_chat};
use crate::chat::{AdapterContext, ChatSink, Configured, Enabled, Listener, Started};
use crate::dest::Platform as PlatformId;
use crate::digest::Digest;
use crate::filter::{DeliveryOptions, Preview};
use errors::{Failure, classify};
pub use settings::{LinkPreview, TelegramSettings};

/// teloxide's HTTP client gives up after this long (the default of
/// [`TelegramOptions::request_timeout`]); a long poll must answer well
/// before.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(17);
/// The longest getUpdates long poll we ask for.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(15);
/// How much sooner than the HTTP client's timeout a long poll must end.
const POLL_MARGIN: Duration = Duration::from_secs(2);
/// Two chats rate-limited within this span look like a global limit.
const GLOBAL_429_SPAN: Duration = Duration::from_secs(2);

/// Timings of the listener; the defaults suit Telegram, tests shorten them.
#[derive(Debug, Clone)]
pub struct TelegramOptions {
    /// The getUpdates long-poll timeout (at most 15 s, under the HTTP
    /// client's 17 s).
    pub poll_timeout: Duration,
    /// How long a command posted in a channel, and the bot's reply to it,
    /// stay before the bot deletes both.
    pub channel_cleanup_after: Duration,
    /// The first wait after a failed getMe or getUpdates; it doubles up to
    /// `retry_max`.
    pub retry_start: Duration,
    /// The longest wait between failed getMe or getUpdates calls.
    pub retry_max: Duration,
    /// A 409 Conflict on getUpdates is logged at most this often.
    pub conflict_log_every: Duration,
    /// A call that gets no answer in this time fails as transient (17 s,
    /// teloxide's default). The long poll is shortened to end 2 s before.
    pub request_timeout: Duration,
}

impl Default for TelegramOptions {
    fn default() -> Self {
        TelegramOptions {
            poll_timeout: Duration::from_secs(10),
            channel_cleanup_after: Duration::from_secs(60),
            retry_start: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            conflict_log_every: Duration::from_secs(60),
            request_timeout: CLIENT_TIMEOUT,
        }
    }
}

impl From<Preview> for LinkPreview {
    fn from(p: Preview) -> Self {
        match p {
            Preview::Source => LinkPreview::Source,
            Preview::Ptt => LinkPreview::Ptt,
            Preview::Off => LinkPreview::Off,
        }
    }
}

impl Shared {
    /// A message's preview: its subscriptions' `preview:` word, else
    /// `telegram.link_preview`.
    fn preview_of(&self, opts: &DeliveryOptions) -> LinkPreview {
        opts.preview.map_or(self.preview, LinkPreview::from)
    }
}

impl LinkPreview {
    fn options(self, d: &Digest) -> LinkPreviewOptions {
        let url = match self {
            LinkPreview::Source => Some(d.source_url.clone().unwrap_or_else(|| d.url.clone())),
            LinkPreview::Ptt => Some(d.url.clone()),
            LinkPreview::Off => None,
        };
        LinkPreviewOptions {
            is_disabled: url.is_none(),
            url,
            prefer_small_media: false,
            prefer_large_media: false,
            show_above_text: false,
        }
    }
}

/// Previews off (command replies).
fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

/// The bot as getMe describes it.
#[derive(Debug, Clone)]
struct Me {
    id: UserId,
    username: String,
}

/// State shared by the sink and the listener.
struct Shared {
    bot: Bot,
    pacer: Arc<Pacer>,
    ctx: AdapterContext,
    redactor: Redactor,
    preview: LinkPreview,
    options: TelegramOptions,
    me: OnceLock<Me>,
    recent_429: Mutex<Vec<(Instant, String)>>,
}

/// What a call is for: it decides whose pacing turn the call takes, and
/// whom a 429 on it holds back. Only deliveries can hold every chat: a 429
/// on a command's reply or lookup holds the asking chat alone, so a stranger
/// whose commands are throttled never delays anyone else's news.
#[derive(Debug, Clone, Copy)]
pub(super) enum Call<'a> {
    /// A delivery, tally edit or deletion of a digest in this chat (the
    /// outbox's calls): the chat's turn; a 429 holds the chat, and every
    /// chat when a second chat's delivery is refused soon after.
    Delivery(&'a str),
    /// A message to this chat on behalf of a command sent there (a reply,
    /// the clean-up of a channel's command): the chat's turn; a 429 holds
    /// that chat only.
    Command(&'a str),
    /// A lookup (getChat, getChatMember) for a command sent in `asker`: a
    /// turn of the asker's lookups (one a second, within the overall
    /// limit); a 429 holds only the asker's lookups, never the chat looked
    /// up.
    Lookup {
        /// The chat the command was sent in.
        asker: &'a str,
    },
}

impl Call<'_> {
    /// The pacer's key. Lookups are not messages to a chat, so they are
    /// paced apart from the asker's messages (but count in the overall
    /// limit like every call).
    fn key(self) -> std::borrow::Cow<'static, str> {
        match self {
            Call::Delivery(chat) | Call::Command(chat) => chat.to_owned().into(),
            Call::Lookup { asker } => format!("lookup:{asker}").into(),
        }
    }
}

impl Shared {
    /// Waits for the call's pacing turn, makes the call, and sorts a
    /// failure; a 429 holds back whom [`Call`] says.
    async fn paced<T>(
        &self,
        what: Call<'_>,
        call: impl Future<Output = Result<T, teloxide::RequestError>>,
    ) -> Result<T, Failure> {
        let key = what.key();
        self.pacer.wait(&key).await;
        call.await.map_err(|e| {
            let f = classify(&e, &self.redactor);
            if let Failure::RetryAfter(d) = &f {
                self.rate_limited(what, &key, *d);
            }
            f
        })
    }

    /// Telegram does not say whether a 429 is for one chat or for the bot:
    /// hold the call's key; for deliveries, hold everything when a second
    /// chat is refused soon after. Command replies and lookups never count
    /// towards that (a stranger's throttled commands must not hold anyone
    /// else's news); were the limit the bot's, the deliveries' own 429s
    /// would show it.
    fn rate_limited(&self, what: Call<'_>, key: &str, retry_after: Duration) {
        tracing::warn!(
            chat = key,
            ?retry_after,
            "Telegram asked us to slow down (429)"
        );
        crate::telemetry::metrics::metrics().rate_limited("telegram");
        self.pacer.hold_chat(key, retry_after);
        let Call::Delivery(chat) = what else { return };
        let now = Instant::now();
        let global = match self.recent_429.lock() {
            Ok(mut recent) => {
                recent.retain(|(at, _)| now.duration_since(*at) < GLOBAL_429_SPAN);
                recent.push((now, chat.to_owned()));
                recent.iter().any(|(_, c)| c != chat)
            }
            Err(_) => false,
        };
        if global {
            self.pacer.hold_all(retry_after);
        }
    }
}

/// The Telegram bot: cheap to clone (one shared state).
#[derive(Clone)]
pub struct TelegramAdapter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TelegramAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: teloxide's Bot prints its token.
        f.debug_struct("TelegramAdapter")
            .field("api_url", &self.shared.bot.api_url().as_str())
            .field("preview", &self.shared.preview)
            .finish_non_exhaustive()
    }
}

impl TelegramAdapter {
    /// Builds the teloxide bot for `telegram.token` and `telegram.api_url`;
    /// no network yet.
    pub fn new(settings: &TelegramSettings, ctx: AdapterContext) -> Result<Self, TelegramError> {
        Self::with_options(settings, ctx, TelegramOptions::default())
    }

    /// [`new`](Self::new) with other timings (tests).
    pub fn with_options(
        settings: &TelegramSettings,
        ctx: AdapterContext,
        mut options: TelegramOptions,
    ) -> Result<Self, TelegramError> {
        let token = settings.token.as_ref().ok_or(TelegramError::NoToken)?;
        if token.expose_secret().trim().is_empty() {
            return Err(TelegramError::NoToken);
        }
        let redactor = Redactor::new(token);
        let api_url = api_url(&settings.api_url)?;
        let mut client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(options.request_timeout)
            .tcp_nodelay(true);
        if is_loopback(&api_url) {
            // A local Bot API server or a test fake: never through a proxy.
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|e| TelegramError::Client(redactor.error(&e)))?;
        let bot = Bot::with_client(token.expose_secret(), client).set_api_url(api_url);
        options.poll_timeout = options
            .poll_timeout
            .min(MAX_POLL_TIMEOUT)
            .min(options.request_timeout.saturating_sub(POLL_MARGIN));
        Ok(TelegramAdapter {
            shared: Arc::new(Shared {
                bot,
                pacer: Arc::new(pacer().shared_by(Arc::clone(&ctx.share)).hold_after_start()),
                ctx,
                redactor,
                preview: settings.link_preview,
                options,
                me: OnceLock::new(),
                recent_429: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The sink the outbox sends through (every replica runs one).
    pub fn sink(&self) -> Arc<dyn ChatSink> {
        Arc::new(sink::TelegramSink::new(Arc::clone(&self.shared)))
    }

    /// getMe, setMyCommands (Traditional Chinese and English), then long
    /// polling until the context's shutdown token is cancelled (only the
    /// leader runs this). Errors only for fatal start-up failures (Telegram
    /// refuses the token); network trouble is retried.
    pub async fn run_listener(&self) -> Result<(), TelegramError> {
        listener::run(Arc::clone(&self.shared)).await
    }

    /// The same bot and pacer, with listeners stopping at `stop` instead of
    /// the service's shutdown: one leadership term runs its listener on
    /// this, while deliveries keep using the long-lived adapter.
    pub fn with_stop(&self, stop: tokio_util::sync::CancellationToken) -> Self {
        let s = &self.shared;
        let mut ctx = s.ctx.clone();
        ctx.shutdown = stop;
        TelegramAdapter {
            shared: Arc::new(Shared {
                bot: s.bot.clone(),
                pacer: Arc::clone(&s.pacer),
                ctx,
                redactor: s.redactor.clone(),
                preview: s.preview,
                options: s.options.clone(),
                me: OnceLock::new(),
                recent_429: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The bot's username, once the listener has asked getMe.
    pub fn bot_username(&self) -> Option<String> {
        self.shared.me.get().map(|m| m.username.clone())
    }
}

/// Parses `telegram.api_url`; a trailing `/` is dropped (teloxide appends
/// `/bot<TOKEN>/<Method>`).
fn api_url(raw: &str) -> Result<reqwest::Url, TelegramError> {
    let err = |reason: &str| TelegramError::ApiUrl {
        url: crate::telemetry::redact::mask_url(raw),
        reason: reason.to_owned(),
    };
    let mut url = reqwest::Url::parse(raw).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(err("not an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("a query or fragment cannot be used"));
    }
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
    }
    Ok(url)
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Telegram's limits as we keep them (this process alone with them; see
/// [`Pacer::shared_by`]): one message a second to a chat, one every three
/// seconds to a group (20 a minute), 30 a second overall. Source: Telegram
/// Bot API FAQ, "My bot is hitting limits, how do I avoid this?"
/// (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>).
pub fn pacer() -> Pacer {
    Pacer::new(
        vec![
            per_chat(Duration::from_secs(1), |_| true),
            per_chat(Duration::from_secs(3), is_group),
        ],
        Some(30),
    )
}

/// Group and supergroup ids are negative.
fn is_group(chat: &str) -> bool {
    chat.starts_with('-')
}

/// Telegram's platform id: its rows in the store, its config section
/// (`[telegram]`), its metrics label.
pub const ID: PlatformId = PlatformId::new("telegram");

/// Telegram as the registry lists it.
pub struct Telegram;

impl crate::chat::Section for TelegramSettings {
    fn normalized(self) -> Self {
        TelegramSettings::normalized(self)
    }

    fn problems(&self) -> Vec<String> {
        TelegramSettings::problems(self)
    }

    fn enabled(self) -> Option<Box<dyn Enabled>> {
        (self.token.is_some()).then(|| Box::new(On(self)) as Box<dyn Enabled>)
    }
}

/// The registry's entry for Telegram.
pub static TELEGRAM: Telegram = Telegram;

impl crate::chat::Platform for Telegram {
    fn id(&self) -> PlatformId {
        ID
    }

    fn configure(&self, section: Option<&serde_json::Value>) -> Result<Configured, Vec<String>> {
        crate::chat::configure_section::<TelegramSettings>("telegram", section)
    }

    fn preview(&self, digest: &Digest) -> String {
        render::render(digest)
    }
}

/// Telegram with a token, ready to start.
struct On(TelegramSettings);

impl Enabled for On {
    fn start(&self, ctx: AdapterContext) -> Result<Started, String> {
        let adapter = TelegramAdapter::new(&self.0, ctx).map_err(|e| e.to_string())?;
        Ok(Started {
            sink: adapter.sink(),
            listener: Arc::new(adapter),
        })
    }
}

#[async_trait::async_trait]
impl Listener for TelegramAdapter {
    async fn run(&self, stop: tokio_util::sync::CancellationToken) -> Result<(), String> {
        self.with_stop(stop)
            .run_listener()
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chat_gets_one_message_a_second_and_groups_one_every_three() {
        let p = pacer();
        let start = std::time::Instant::now();
        for _ in 0..3 {
            p.wait("12345").await;
        }
        let private = start.elapsed();
        assert!(private >= Duration::from_millis(1900), "{private:?}");
        let start = std::time::Instant::now();
        for _ in 0..2 {
            p.wait("-100777").await;
        }
        assert!(start.elapsed() >= Duration::from_millis(2900));
    }

    #[test]
    fn api_urls_lose_a_trailing_slash() {
        assert_eq!(
            api_url("https://api.telegram.org").unwrap().as_str(),
            "https://api.telegram.org/"
        );
        assert_eq!(
            api_url("http://127.0.0.1:8081/tg/").unwrap().as_str(),
            "http://127.0.0.1:8081/tg"
        );
        assert!(api_url("ftp://x").is_err());
        assert!(is_loopback(&api_url("http://127.0.0.1:1").unwrap()));
        assert!(!is_loopback(&api_url("https://api.telegram.org").unwrap()));
    }

    #[test]
    fn link_previews_follow_the_setting() {
        let mut d = crate::digest::Digest {
            board: "Stock".into(),
            id: "M.1.A.1".into(),
            url: "https://www.ptt.cc/bbs/Stock/M.1.A.1.html".into(),
            title: None,
            tag: None,
            is_reply: false,
            is_forward: false,
            author: None,
            posted_at: None,
            original_title: None,
            source_url: Some("https://news.example.com/a".into()),
            published: None,
            reporter: None,
            excerpt: None,
            tally: Default::default(),
            stocks: Vec::new(),
            hot: None,
        };
        let src = LinkPreview::Source.options(&d);
        assert_eq!(src.url.as_deref(), Some("https://news.example.com/a"));
        assert!(!src.is_disabled);
        assert_eq!(
            LinkPreview::Ptt.options(&d).url.as_deref(),
            Some(d.url.as_str())
        );
        assert!(LinkPreview::Off.options(&d).is_disabled);
        d.source_url = None;
        assert_eq!(
            LinkPreview::Source.options(&d).url.as_deref(),
            Some(d.url.as_str())
        );
        assert!(LinkPreview::try_from("always".to_owned()).is_err());
    }
}
