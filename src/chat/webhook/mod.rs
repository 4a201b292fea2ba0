//! Outgoing webhooks (DESIGN.md, "Webhook destinations"): operators list
//! them in the config file (`[[webhook.destinations]]`); there is no bot
//! and no command. Each entry is one destination, its chat id in the store
//! being its `name`, and its subscription its `filter` (the `/subscribe`
//! words, board first).
//!
//! The configuration is the subscriptions' source of truth. The listener
//! (the leader's, like every platform's) hands each destination's
//! subscription to the command handler when it starts
//! (`Handler::set_subscriptions`: the configured one added first, any other
//! removed after, so no post falls between): a changed filter replaces the
//! old one, and a destination paused after a 404/410 resumes on the next
//! start. So the poller, the router, the tally
//! tracker and the store treat a webhook like any chat, and nothing
//! outside this folder knows about webhooks. A destination removed from
//! the configuration finds no URL here: it is paused (destination gone)
//! and its subscription forgotten after `relay.gone_chat_days`.
//!
//! Formats, bodies and headers: [`render`]; sending, pacing and answers:
//! [`sink`].

pub mod render;
pub mod settings;
pub mod sink;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use self::settings::{Subscription, WebhookSettings, subscription};
use self::sink::WebhookSink;
use crate::chat::pacing::{Pacer, per_chat};
use crate::chat::{AdapterContext, Configured, Enabled, Started};
use crate::dest::{Destination, Platform as PlatformId};
use crate::digest::Digest;

/// The webhooks' platform id: their rows in the store, their config
/// section (`[webhook]`), their metrics label.
pub const ID: PlatformId = PlatformId::new("webhook");

/// Webhook pacing (DESIGN.md): one request a second per URL, five a second
/// overall (for the whole deployment; see [`Pacer::shared_by`]).
pub fn pacer() -> Pacer {
    Pacer::new(vec![per_chat(Duration::from_secs(1), |_| true)], Some(5))
}

/// The webhooks as the registry lists them.
pub struct Webhook;

impl crate::chat::Section for WebhookSettings {
    fn normalized(self) -> Self {
        WebhookSettings::normalized(self)
    }

    fn problems(&self) -> Vec<String> {
        WebhookSettings::problems(self)
    }

    fn enabled(self) -> Option<Box<dyn Enabled>> {
        (!self.destinations.is_empty()).then(|| Box::new(On(self)) as Box<dyn Enabled>)
    }
}

/// The registry's entry for webhooks.
pub static WEBHOOK: Webhook = Webhook;

impl crate::chat::Platform for Webhook {
    fn id(&self) -> PlatformId {
        ID
    }

    fn configure(&self, section: Option<&serde_json::Value>) -> Result<Configured, Vec<String>> {
        crate::chat::configure_section::<WebhookSettings>("webhook", section)
    }

    /// What each format would POST, as one JSON object by format.
    fn preview(&self, digest: &Digest) -> String {
        let json: serde_json::Value =
            serde_json::from_slice(&render::json_body(digest)).unwrap_or_default();
        let all = serde_json::json!({
            "discord": render::discord_body(digest),
            "slack": render::slack_body(digest),
            "json": json,
        });
        serde_json::to_string_pretty(&all).unwrap_or_else(|_| "{}".into())
    }
}

/// Webhooks configured, ready to start.
struct On(WebhookSettings);

impl Enabled for On {
    fn start(&self, ctx: AdapterContext) -> Result<Started, String> {
        let mut subscriptions = Vec::new();
        for (i, d) in self.0.destinations.iter().enumerate() {
            let sub = subscription(&d.filter)
                .map_err(|e| format!("webhook.destinations[{i}].filter: {e}"))?;
            if !ctx
                .handler
                .boards()
                .iter()
                .any(|b| b.eq_ignore_case(&sub.board))
            {
                return Err(format!(
                    "webhook.destinations[{i}].filter: board {} is not in ptt.boards",
                    sub.board
                ));
            }
            subscriptions.push((d.name.clone(), sub));
        }
        let pacer = Arc::new(pacer().shared_by(Arc::clone(&ctx.share)));
        let sink = WebhookSink::new(&self.0, pacer)?;
        Ok(Started {
            sink: Arc::new(sink),
            listener: Arc::new(ConfigSync { ctx, subscriptions }),
        })
    }
}

/// The webhooks' listener: no commands arrive; it hands the configured
/// subscriptions to the command handler, then waits for the stop.
struct ConfigSync {
    ctx: AdapterContext,
    subscriptions: Vec<(String, Subscription)>,
}

impl ConfigSync {
    async fn apply(&self) {
        for (name, sub) in &self.subscriptions {
            // The one subscription the configuration gives, replacing any
            // earlier one: added first, the others removed after, so no
            // post falls between.
            let dest = Destination::chat(ID, name.clone());
            let wanted = [(sub.board.clone(), sub.filter.clone())];
            match self.ctx.handler.set_subscriptions(&dest, &wanted).await {
                Ok(()) => {
                    tracing::debug!(webhook = %name, board = %sub.board, filter = %sub.filter.canonical(), "webhook subscribed from the configuration");
                }
                Err(errors) => {
                    tracing::error!(webhook = %name, errors = %errors.join("; "), "cannot subscribe a webhook to its filter");
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::chat::Listener for ConfigSync {
    async fn run(&self, stop: CancellationToken) -> Result<(), String> {
        tokio::select! {
            () = self.apply() => {}
            () = stop.cancelled() => return Ok(()),
            () = self.ctx.shutdown.cancelled() => return Ok(()),
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = self.ctx.shutdown.cancelled() => {}
        }
        Ok(())
    }
}
