//! `/ptt subscribe channel:#…`: subscribing another channel of the same
//! server. The member needs Manage Channels in that channel — Discord puts
//! the member's permissions there in the interaction
//! (`data.resolved.channels[id].permissions`; `member.permissions` is for
//! the channel the command was typed in). The bot must see the channel
//! (`GET /channels/{id}`, which also gives its server and permission
//! overwrites) and be able to post there: its permissions in the channel
//! are computed from the server's roles (`GET /guilds/{id}`), its own
//! roles (`GET /guilds/{id}/members/{bot}`) and the channel's overwrites.

use serenity::all::{
    Channel, ChannelId, ChannelType, CommandDataOptionValue, CommandInteraction, GuildId,
    Permissions,
};
use serenity::http::Http;

use super::errors::Redactor;

use crate::commands::i18n::ChannelOptionTexts;

/// The channel a `/ptt subscribe` names with its `channel` option, as the
/// interaction carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The channel.
    pub channel: ChannelId,
    /// Its type, when Discord resolved it.
    pub kind: Option<ChannelType>,
    /// The member's permissions in it, when Discord resolved them.
    pub member_permissions: Option<Permissions>,
}

/// The `channel` option of a `subscribe`, when it names another channel
/// than the one the command was typed in.
pub fn target_of(cmd: &CommandInteraction) -> Option<Target> {
    let first = cmd.data.options.first()?;
    if first.name != "subscribe" {
        return None;
    }
    let CommandDataOptionValue::SubCommand(inner) = &first.value else {
        return None;
    };
    let channel = inner.iter().find_map(|o| match (&*o.name, &o.value) {
        ("channel", CommandDataOptionValue::Channel(c)) => Some(*c),
        _ => None,
    })?;
    if channel == cmd.channel_id {
        return None;
    }
    let resolved = cmd.data.resolved.channels.get(&channel);
    Some(Target {
        channel,
        kind: resolved.map(|c| c.kind),
        member_permissions: resolved.and_then(|c| c.permissions),
    })
}

/// Why a channel cannot be subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The command came from a DM.
    NotInServer,
    /// Not a text, announcement or forum channel.
    WrongKind,
    /// The member lacks Manage Channels there.
    MemberNotManager,
    /// The channel is in another server.
    OtherServer,
    /// The bot cannot see it.
    BotCannotSee,
    /// The bot lacks these of the four permissions it needs (indexes into
    /// [`ChannelOptionTexts::permission_names`]).
    BotLacks(Vec<usize>),
    /// Discord did not answer the checks.
    CheckFailed,
}

impl Refusal {
    /// The refusal in a language, naming the channel.
    pub fn text(&self, t: &ChannelOptionTexts, channel: ChannelId) -> String {
        let mention = format!("<#{channel}>");
        let template = match self {
            Refusal::NotInServer => t.not_in_server,
            Refusal::WrongKind => t.wrong_kind,
            Refusal::MemberNotManager => t.member_not_manager,
            Refusal::OtherServer => t.other_server,
            Refusal::BotCannotSee => t.bot_cannot_see,
            Refusal::BotLacks(_) => t.bot_lacks,
            Refusal::CheckFailed => t.check_failed,
        };
        let missing = match self {
            Refusal::BotLacks(which) => which
                .iter()
                .filter_map(|i| t.permission_names.get(*i).copied())
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        };
        crate::commands::i18n::fill(template, &[("channel", &mention), ("missing", &missing)])
    }
}

/// The four permissions the bot may need, in the order of
/// [`ChannelOptionTexts::permission_names`].
const NEEDED: [Permissions; 4] = [
    Permissions::VIEW_CHANNEL,
    Permissions::SEND_MESSAGES,
    Permissions::EMBED_LINKS,
    Permissions::READ_MESSAGE_HISTORY,
];

/// What the bot needs in a channel of this kind: to see it, post
/// (a forum: open posts, which Send Messages allows) and embed links; in
/// a forum also to read message history (before opening a post it reads
/// the starter messages of same-named posts, see
/// [`super::forum`]). Publishing its own messages in an announcement
/// channel needs nothing more.
pub fn needed(kind: ChannelType) -> Permissions {
    let base = Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES | Permissions::EMBED_LINKS;
    if kind == ChannelType::Forum {
        base | Permissions::READ_MESSAGE_HISTORY
    } else {
        base
    }
}

/// The permissions of the invite link in README.md (274877991936): what
/// [`needed`] asks in every channel kind, and Send Messages in Threads for
/// subscriptions made inside a thread or forum post.
pub const INVITE: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::EMBED_LINKS)
    .union(Permissions::READ_MESSAGE_HISTORY)
    .union(Permissions::SEND_MESSAGES_IN_THREADS);

fn allowed(kind: ChannelType) -> bool {
    matches!(
        kind,
        ChannelType::Text | ChannelType::News | ChannelType::Forum
    )
}

/// Checks that the member and the bot may use `target` from a command of
/// `guild`.
pub async fn check(
    http: &Http,
    redactor: &Redactor,
    guild: Option<GuildId>,
    target: &Target,
) -> Result<(), Refusal> {
    let Some(guild) = guild else {
        return Err(Refusal::NotInServer);
    };
    if target.kind.is_some_and(|k| !allowed(k)) {
        return Err(Refusal::WrongKind);
    }
    let manager = target
        .member_permissions
        .is_some_and(|p| p.manage_channels() || p.administrator());
    if !manager {
        return Err(Refusal::MemberNotManager);
    }
    let channel = match http.get_channel(target.channel).await {
        Ok(Channel::Guild(c)) => c,
        Ok(_) => return Err(Refusal::OtherServer),
        Err(e) => return Err(lookup_failure(&e, redactor)),
    };
    if channel.guild_id != guild {
        return Err(Refusal::OtherServer);
    }
    if !allowed(channel.kind) {
        return Err(Refusal::WrongKind);
    }
    let me = http
        .get_current_user()
        .await
        .map_err(|e| failed(&e, redactor))?;
    let server = http
        .get_guild(guild)
        .await
        .map_err(|e| failed(&e, redactor))?;
    let member = http
        .get_member(guild, me.id)
        .await
        .map_err(|e| failed(&e, redactor))?;
    let has = server.user_permissions_in(&channel, &member);
    let need = needed(channel.kind);
    let missing: Vec<usize> = NEEDED
        .iter()
        .enumerate()
        .filter(|(_, p)| need.contains(**p) && !has.contains(**p))
        .map(|(i, _)| i)
        .collect();
    if missing.first() == Some(&0) {
        return Err(Refusal::BotCannotSee);
    }
    if !missing.is_empty() {
        return Err(Refusal::BotLacks(missing));
    }
    Ok(())
}

/// A failed `GET /channels/{id}`: 403/404 mean the bot cannot see it.
fn lookup_failure(e: &serenity::Error, redactor: &Redactor) -> Refusal {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r))
            if matches!(r.status_code.as_u16(), 403 | 404) =>
        {
            Refusal::BotCannotSee
        }
        _ => failed(e, redactor),
    }
}

/// A check Discord did not answer (logged, token redacted).
fn failed(e: &serenity::Error, redactor: &Redactor) -> Refusal {
    tracing::warn!(error = %redactor.redact(&e.to_string()), "cannot check the bot's permissions in a channel");
    Refusal::CheckFailed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::i18n::{CHANNEL_OPTION_EN, CHANNEL_OPTION_ZH_TW};

    #[test]
    fn refusals_name_the_channel_and_the_missing_permissions() {
        let c = ChannelId::new(42);
        let r = Refusal::BotLacks(vec![1, 3]);
        assert_eq!(
            r.text(&CHANNEL_OPTION_EN, c),
            "The bot lacks permissions in <#42>: Send Messages, Read Message History."
        );
        assert!(
            r.text(&CHANNEL_OPTION_ZH_TW, c)
                .contains("傳送訊息, 讀取訊息歷史")
        );
        assert!(needed(ChannelType::Forum).read_message_history());
        assert!(!needed(ChannelType::News).read_message_history());
    }

    #[test]
    fn the_readmes_invite_link_asks_for_what_every_channel_kind_needs() {
        assert_eq!(INVITE.bits(), 274_877_991_936);
        for kind in [ChannelType::Text, ChannelType::News, ChannelType::Forum] {
            assert!(INVITE.contains(needed(kind)), "{kind:?}");
        }
        let readme = include_str!("../../../README.md");
        assert!(readme.contains("permissions=274877991936"));
    }
}
