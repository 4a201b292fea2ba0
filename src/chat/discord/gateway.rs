//! The gateway side (leader only): slash command interactions, and guild
//! membership (GUILD_DELETE pauses a server's channels, GUILD_CREATE
//! resumes them).

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    CommandInteraction, Context as SerenityContext, EventHandler, Guild, GuildId, Interaction,
    Ready, UnavailableGuild,
};
use serenity::builder::{
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    EditInteractionResponse,
};
use serenity::http::Http;
use tokio::time::Instant;

use super::commands::{COMMAND_NAME, answered_publicly, subcommand_of, to_command};
use super::errors::Redactor;
use super::render::reply_content;
use super::sink::{MAX_CONTENT, no_mentions};
use super::target;
use crate::chat::AdapterContext;
use crate::chat::pacing::Pacer;
use crate::commands::grammar::{CommandName, ParseError};
use crate::commands::{
    Admission, Command, CommandError, Context, Lang, Membership, Reply, ReplyKind,
};
use crate::dest::Destination;

/// Discord drops an interaction not answered within 3 s; the first answer
/// (the reply or a deferral) goes out by this time after it arrived.
const ANSWER_BY: Duration = Duration::from_millis(2200);

/// Why a server's channels are paused.
const REMOVED_REASON: &str = "the bot was removed from the Discord server";

/// Receives gateway events.
pub(super) struct Listener {
    pub(super) http: Arc<Http>,
    pub(super) ctx: AdapterContext,
    pub(super) pacer: Arc<Pacer>,
    pub(super) redactor: Redactor,
    pub(super) defer_after: Duration,
}

#[serenity::async_trait]
impl EventHandler for Listener {
    async fn ready(&self, _: SerenityContext, ready: Ready) {
        tracing::info!(
            user = %ready.user.name,
            guilds = ready.guilds.len(),
            "Discord gateway ready"
        );
    }

    async fn interaction_create(&self, _: SerenityContext, interaction: Interaction) {
        if let Interaction::Command(cmd) = interaction
            && cmd.data.name == COMMAND_NAME
        {
            self.on_command(cmd).await;
        }
    }

    async fn guild_create(&self, _: SerenityContext, guild: Guild, _: Option<bool>) {
        self.resume_guild(guild.id).await;
    }

    async fn guild_delete(
        &self,
        _: SerenityContext,
        incomplete: UnavailableGuild,
        _: Option<Guild>,
    ) {
        // `unavailable` is an outage, not a removal: keep delivering (the
        // sends fail transiently until the server is back).
        if !incomplete.unavailable {
            self.pause_guild(incomplete.id).await;
        }
    }
}

impl Listener {
    async fn on_command(&self, cmd: CommandInteraction) {
        let received = Instant::now();
        let chat = cmd.channel_id.to_string();
        // DMs are private chats; in a server, Manage Channels (or
        // Administrator) in this channel, as Discord computed it.
        let is_admin = match cmd.guild_id {
            None => true,
            Some(_) => cmd
                .member
                .as_ref()
                .and_then(|m| m.permissions)
                .is_some_and(|p| p.manage_channels() || p.administrator()),
        };
        let lang = Lang::from_code(&cmd.locale).unwrap_or(self.ctx.default_lang);
        let context = Context {
            dest: Destination::chat(super::ID, chat.clone()),
            is_admin,
            lang,
            max_reply_chars: MAX_CONTENT,
        };
        let (name, parsed) = match subcommand_of(&cmd.data.options) {
            Some((name, options)) => {
                let parsed = to_command(&name, &options);
                (name, parsed)
            }
            None => (
                String::new(),
                Err(CommandError {
                    command: CommandName::Other,
                    error: ParseError::UnknownCommand(COMMAND_NAME.into()),
                }),
            ),
        };
        tracing::debug!(%chat, subcommand = %name, is_admin, "Discord command");
        match self.ctx.handler.admit(&context.dest) {
            Admission::Answer => {}
            Admission::SlowDown => {
                self.pace_until(&chat, received + ANSWER_BY).await;
                self.respond(&cmd, &chat, &Reply::slow_down(lang)).await;
                return;
            }
            Admission::Ignore => {
                // Discord shows "The application did not respond" to an
                // interaction left unanswered, so the rest of the minute
                // gets the least answer there is: the same "slow down",
                // ephemeral (only the asker sees it; nothing is posted in
                // the channel) and not handled. Interaction answers do not
                // count against the channel's message limits: unpaced.
                self.respond(&cmd, &chat, &Reply::slow_down(lang)).await;
                return;
            }
        }
        let public = answered_publicly(&parsed);
        let handler = Arc::clone(&self.ctx.handler);
        let guild = cmd.guild_id;
        // `subscribe channel:#other`: checked, then subscribed there.
        let target = match &parsed {
            Ok(Command::Subscribe(_)) => target::target_of(&cmd),
            _ => None,
        };
        let http = Arc::clone(&self.http);
        let redactor = self.redactor.clone();
        let work = async move {
            let mut context = context;
            if let Some(t) = &target {
                if let Err(refusal) = target::check(&http, &redactor, guild, t).await {
                    tracing::debug!(channel = %t.channel, ?refusal, "refused to subscribe another channel");
                    return Reply {
                        text: refusal.text(lang.channel_option(), t.channel),
                        kind: ReplyKind::Error,
                    };
                }
                context.dest = Destination::chat(super::ID, t.channel.to_string());
                context.is_admin = true;
            }
            // Which server the channel is in, for GUILD_DELETE/CREATE.
            if let Some(guild) = guild {
                let event = Membership::InGroup {
                    chat: context.dest.chat.clone(),
                    group: guild.to_string(),
                };
                handler.membership(super::ID, event).await;
            }
            let mut reply = handler.handle(&context, parsed).await;
            if let Some(t) = &target {
                // Says which channel the answer is about.
                reply.text = format!("<#{}> {}", t.channel, reply.text);
            }
            reply
        };
        tokio::pin!(work);
        let early = if self.defer_after.is_zero() {
            None
        } else {
            tokio::select! {
                reply = &mut work => Some(reply),
                () = tokio::time::sleep(self.defer_after) => None,
            }
        };
        self.pace_until(&chat, received + ANSWER_BY).await;
        match early {
            Some(reply) => self.respond(&cmd, &chat, &reply).await,
            None => {
                let defer = CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new()
                        .ephemeral(!public)
                        .allowed_mentions(no_mentions()),
                );
                if let Err(e) = cmd.create_response(&*self.http, defer).await {
                    self.log_failure("deferring a command's answer", &chat, &e);
                }
                let reply = work.await;
                self.pacer.wait(&chat).await;
                self.finish_deferred(&cmd, &chat, &reply, public).await;
            }
        }
    }

    /// Answers an interaction with its reply at once.
    async fn respond(&self, cmd: &CommandInteraction, chat: &str, reply: &Reply) {
        let message = CreateInteractionResponseMessage::new()
            .content(reply_content(&reply.text))
            .ephemeral(reply.ephemeral())
            .allowed_mentions(no_mentions());
        let answer = CreateInteractionResponse::Message(message);
        if let Err(e) = cmd.create_response(&*self.http, answer).await {
            self.log_failure("answering a command", chat, &e);
        }
    }

    /// Waits for the pacer, but not past `deadline`: the 3-second window
    /// matters more than smoothness for an interaction's first answer.
    async fn pace_until(&self, chat: &str, deadline: Instant) {
        let _ = tokio::time::timeout_at(deadline, self.pacer.wait(chat)).await;
    }

    /// Replaces a deferred answer with the reply; when the reply should be
    /// shown differently (private vs public) than guessed, the deferral is
    /// deleted and the reply sent as a follow-up with the right flag.
    async fn finish_deferred(
        &self,
        cmd: &CommandInteraction,
        chat: &str,
        reply: &Reply,
        public: bool,
    ) {
        let text = reply_content(&reply.text);
        if reply.ephemeral() != public {
            let edit = EditInteractionResponse::new()
                .content(text)
                .allowed_mentions(no_mentions());
            if let Err(e) = cmd.edit_response(&*self.http, edit).await {
                self.log_failure("editing a deferred answer", chat, &e);
            }
            return;
        }
        if let Err(e) = cmd.delete_response(&*self.http).await {
            self.log_failure("deleting a deferred answer", chat, &e);
        }
        let followup = CreateInteractionResponseFollowup::new()
            .content(text)
            .ephemeral(reply.ephemeral())
            .allowed_mentions(no_mentions());
        if let Err(e) = cmd.create_followup(&*self.http, followup).await {
            self.log_failure("sending a command's answer", chat, &e);
        }
    }

    fn log_failure(&self, doing: &str, chat: &str, err: &serenity::Error) {
        let error = self.redactor.redact(&err.to_string());
        tracing::warn!(%chat, %error, "Discord failed while {doing}");
    }

    async fn pause_guild(&self, guild: GuildId) {
        let event = Membership::GroupLeft {
            group: guild.to_string(),
            reason: REMOVED_REASON.into(),
        };
        self.ctx.handler.membership(super::ID, event).await;
    }

    async fn resume_guild(&self, guild: GuildId) {
        let event = Membership::GroupJoined {
            group: guild.to_string(),
        };
        self.ctx.handler.membership(super::ID, event).await;
    }
}
