//! Long polling: getMe, the command menu, then a getUpdates loop that hands
//! each chat's updates, in order, to a task of that chat (so one slow or
//! paced chat never holds up another, and the loop never waits on a
//! handler).
//!
//! **Nothing is confirmed before it is handled.** The offset sent to
//! Telegram is the oldest update handed to a chat task and not handled yet
//! (or one past the newest seen when all are handled), so a stop or a crash
//! loses no command: the next listener receives the unhandled ones again.
//! Telegram sends those again on every call meanwhile; the loop skips what
//! it has already handed on. The cost: while one chat's oldest update waits
//! (its pacing, a 429), at most Telegram's 100 updates past it are received,
//! and the rest wait for it.
//!
//! A chat whose queue is full is answered "busy" (once until its queue
//! takes an update again) instead of losing a command silently, and every
//! command counts against the chat's rate limit
//! ([`Handler::admit`](crate::commands::Handler::admit)).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use teloxide::payloads::{GetUpdatesSetters, SetMyCommandsSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    AllowedUpdate, BotCommand, ChatId, ChatMemberKind, ChatMemberUpdated, Message, MessageId,
    Recipient, Update, UpdateKind,
};
use teloxide::{ApiError, RequestError};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::errors::{Failure, TelegramError, classify};
use super::render::MAX_TEXT_UTF16;
use super::{Call, Me, Shared};
use crate::chat::SendOutcome;
use crate::clock::now_secs;
use crate::commands::grammar::ParseError;
use crate::commands::i18n::fill;
use crate::commands::{
    self, Admission, Command, CommandError, Context, Lang, Membership, Reply, ReplyKind,
};
use crate::dest::Destination;

/// A chat's task ends after this long without updates.
const CHAT_IDLE: Duration = Duration::from_secs(30);
/// The name this listener reports its readiness faults under.
const PLATFORM: &str = "telegram";
/// The readiness fault of a 409 Conflict on getUpdates.
const CONFLICT: &str = "another instance polls with this Telegram token (409 Conflict)";
/// Updates of one chat waiting for its task; a command past them is
/// answered "busy" (a flood).
const CHAT_QUEUE: usize = 64;
/// Updates handed to chat tasks and not handled yet, at most (Telegram
/// sends at most 100 past the offset, so this is a guard, not a limit met
/// in practice): past it, updates are left for a later getUpdates.
const MAX_IN_FLIGHT: usize = 1024;
/// When getUpdates brought nothing new (only updates still being handled),
/// the next call waits for one of them to be handled, or this long.
const IN_FLIGHT_RECHECK: Duration = Duration::from_secs(1);
/// The getUpdates that confirms the offset at a stop gets this long.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a command reply waits out a 429 before it is given up.
const REPLY_RETRIES: u32 = 2;
/// Lookups (getChat, getChatMember) wait out a 429 this long at most, once.
const READ_RETRY_MAX: Duration = Duration::from_secs(30);
/// An empty getUpdates answer faster than this means the server does not
/// hold long polls; the next call waits the rest.
const MIN_EMPTY_POLL: Duration = Duration::from_millis(200);
/// Command names in the order of `Texts::menu`.
const MENU: [&str; 7] = [
    "subscribe",
    "unsubscribe",
    "list",
    "latest",
    "top",
    "status",
    "help",
];

/// Runs the listener until shutdown.
pub(super) async fn run(s: Arc<Shared>) -> Result<(), TelegramError> {
    let Some(me) = get_me(&s).await? else {
        return Ok(());
    };
    tracing::info!(bot = %me.username, "Telegram bot connected");
    let _ = s.me.set(me.clone());
    register_commands(&s).await;
    poll(s, Arc::new(me)).await;
    Ok(())
}

/// getMe, retried until it answers; `None` when shut down first.
async fn get_me(s: &Shared) -> Result<Option<Me>, TelegramError> {
    let mut wait = s.options.retry_start;
    loop {
        let r = tokio::select! {
            biased;
            () = s.ctx.shutdown.cancelled() => return Ok(None),
            r = s.bot.get_me().into_future() => r,
        };
        let pause = match r {
            Ok(me) => {
                let username = me.user.username.clone().ok_or(TelegramError::NoUsername)?;
                return Ok(Some(Me {
                    id: me.user.id,
                    username,
                }));
            }
            Err(e) => match classify(&e, &s.redactor) {
                Failure::InvalidToken => return Err(TelegramError::InvalidToken),
                Failure::RetryAfter(d) => d,
                f => {
                    tracing::warn!(error = %f, retry_in = ?wait, "Telegram getMe failed; retrying");
                    let w = wait;
                    wait = (wait * 2).min(s.options.retry_max);
                    w
                }
            },
        };
        if !sleep_or_stop(s, pause).await {
            return Ok(None);
        }
    }
}

/// Sleeps; false when shutdown came first.
async fn sleep_or_stop(s: &Shared, d: Duration) -> bool {
    tokio::select! {
        biased;
        () = s.ctx.shutdown.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

fn menu(lang: Lang) -> Vec<BotCommand> {
    MENU.iter()
        .zip(lang.texts().menu)
        .map(|(name, description)| BotCommand::new(*name, description))
        .collect()
}

/// setMyCommands: the default menu in `bot.locale`, and one each for
/// Chinese and English users. A failure is logged, not fatal.
async fn register_commands(s: &Shared) {
    let menus = [
        (None, s.ctx.default_lang),
        (Some("zh"), Lang::ZhTw),
        (Some("en"), Lang::En),
    ];
    for (code, lang) in menus {
        let mut req = s.bot.set_my_commands(menu(lang));
        if let Some(c) = code {
            req = req.language_code(c);
        }
        let r = tokio::select! {
            biased;
            () = s.ctx.shutdown.cancelled() => return,
            r = req.into_future() => r,
        };
        if let Err(e) = r {
            let f = classify(&e, &s.redactor);
            tracing::warn!(error = %f, language = code.unwrap_or("default"), "cannot register the Telegram command menu");
        }
    }
}

/// The updates handed to chat tasks and not handled yet, by update id.
#[derive(Default)]
struct InFlight {
    ids: Mutex<BTreeSet<i32>>,
    /// Notified when one is handled.
    handled: Notify,
}

impl InFlight {
    /// Marks an update handed on; false when too many are in flight.
    fn start(&self, id: i32) -> bool {
        let Ok(mut ids) = self.ids.lock() else {
            return false;
        };
        if ids.len() >= MAX_IN_FLIGHT {
            return false;
        }
        ids.insert(id);
        true
    }

    /// Marks an update handled (or settled without its task).
    fn done(&self, id: i32) {
        if let Ok(mut ids) = self.ids.lock() {
            ids.remove(&id);
        }
        self.handled.notify_one();
    }

    fn oldest(&self) -> Option<i32> {
        self.ids.lock().ok()?.first().copied()
    }
}

/// One update for a chat's task: its id (to mark it handled) and content.
type Queued = (i32, UpdateKind);

/// A chat's queue, as the getUpdates loop sees it.
struct ChatQueue {
    tx: mpsc::Sender<Queued>,
    /// The chat was told "busy" since its queue last took an update.
    told_busy: bool,
}

/// The getUpdates loop.
async fn poll(s: Arc<Shared>, me: Arc<Me>) {
    let timeout = u32::try_from(s.options.poll_timeout.as_secs()).unwrap_or(10);
    let in_flight = Arc::new(InFlight::default());
    // One past the newest update handed on or settled: older ones that
    // Telegram sends again are skipped.
    let mut seen: Option<i32> = None;
    let mut confirmed: Option<i32> = None;
    let mut wait = s.options.retry_start;
    let mut conflict_logged: Option<Instant> = None;
    let mut chats: HashMap<i64, ChatQueue> = HashMap::new();
    loop {
        let offset = in_flight.oldest().or(seen);
        let mut req = s.bot.get_updates().timeout(timeout).allowed_updates([
            AllowedUpdate::Message,
            AllowedUpdate::ChannelPost,
            AllowedUpdate::MyChatMember,
        ]);
        if let Some(o) = offset {
            req = req.offset(o);
        }
        let asked = Instant::now();
        let r = tokio::select! {
            biased;
            () = s.ctx.shutdown.cancelled() => break,
            r = req.into_future() => r,
        };
        let pause = match r {
            Ok(updates) if updates.is_empty() && asked.elapsed() < MIN_EMPTY_POLL => {
                // A server that does not hold long polls: do not spin.
                clear_conflict(&s);
                confirmed = offset;
                wait = s.options.retry_start;
                MIN_EMPTY_POLL
            }
            Ok(updates) => {
                clear_conflict(&s);
                confirmed = offset;
                wait = s.options.retry_start;
                let mut fresh = 0;
                for u in updates {
                    let id = i32::try_from(u.id.0).unwrap_or(i32::MAX);
                    if seen.is_some_and(|n| id < n) {
                        // Handed on already, still being handled.
                        continue;
                    }
                    if !dispatch(&s, &me, &mut chats, &in_flight, id, u) {
                        // Too many in flight: left for a later call.
                        break;
                    }
                    seen = Some(id.saturating_add(1));
                    fresh += 1;
                }
                chats.retain(|_, q| !q.tx.is_closed());
                if fresh > 0 {
                    continue;
                }
                // Only updates still being handled: Telegram would send
                // them again at once. Wait for one to be handled (or a
                // while, for other chats' new updates).
                let handled = in_flight.handled.notified();
                tokio::select! {
                    biased;
                    () = s.ctx.shutdown.cancelled() => break,
                    () = handled => {}
                    () = tokio::time::sleep(IN_FLIGHT_RECHECK) => {}
                }
                continue;
            }
            Err(e) if webhook_active(&e) => {
                tracing::warn!("a webhook is set for this bot; deleting it to use long polling");
                if let Err(e) = s.bot.delete_webhook().await {
                    let f = classify(&e, &s.redactor);
                    tracing::warn!(error = %f, "cannot delete the webhook");
                }
                s.options.retry_start
            }
            Err(e) => match classify(&e, &s.redactor) {
                Failure::Conflict => {
                    s.ctx
                        .status
                        .set_platform_fault(PLATFORM, Some((now_secs(), CONFLICT.into())));
                    if conflict_logged.is_none_or(|t| t.elapsed() >= s.options.conflict_log_every) {
                        tracing::error!(
                            "Telegram answered 409 Conflict on getUpdates: another instance polls with this token"
                        );
                        conflict_logged = Some(Instant::now());
                    }
                    s.options.retry_start
                }
                Failure::RetryAfter(d) => d,
                f => {
                    tracing::warn!(error = %f, retry_in = ?wait, "Telegram getUpdates failed; retrying");
                    let w = wait;
                    wait = (wait * 2).min(s.options.retry_max);
                    w
                }
            },
        };
        if !sleep_or_stop(&s, pause).await {
            break;
        }
    }
    confirm(&s, in_flight.oldest().or(seen), confirmed).await;
    tracing::debug!("Telegram listener stopped");
}

/// At a stop: confirms the updates handled since the last getUpdates (one
/// more short call with the offset), so the next listener does not handle
/// them again. Best effort; a crash instead repeats them (commands are safe
/// to repeat).
async fn confirm(s: &Shared, offset: Option<i32>, confirmed: Option<i32>) {
    let Some(o) = offset else { return };
    if confirmed.is_some_and(|c| c >= o) {
        return;
    }
    let req = s.bot.get_updates().offset(o).limit(1).timeout(0);
    match tokio::time::timeout(CONFIRM_TIMEOUT, req.into_future()).await {
        Ok(Ok(_)) => tracing::debug!(offset = o, "confirmed the handled Telegram updates"),
        Ok(Err(e)) => {
            let f = classify(&e, &s.redactor);
            tracing::debug!(error = %f, "cannot confirm the handled Telegram updates; they may be handled again");
        }
        Err(_) => tracing::debug!("confirming the handled Telegram updates timed out"),
    }
}

/// getUpdates refused because a webhook is set (Telegram says "Conflict:
/// can't use getUpdates method while webhook is active…", which is not
/// another instance polling).
fn webhook_active(e: &RequestError) -> bool {
    match e {
        RequestError::Api(ApiError::CantGetUpdates) => true,
        RequestError::Api(ApiError::Unknown(desc)) => desc.contains("webhook is active"),
        _ => false,
    }
}

/// A successful getUpdates: no other instance holds the token (any more).
fn clear_conflict(s: &Shared) {
    if s.ctx.status.platform_fault(PLATFORM).is_some() {
        s.ctx.status.set_platform_fault(PLATFORM, None);
        tracing::info!("Telegram getUpdates works again (no more 409 Conflict)");
    }
}

/// Hands an update to its chat's task, starting one when needed; a command
/// that finds the chat's queue full is answered "busy". False when too many
/// updates are in flight to take this one (it is left for a later call).
fn dispatch(
    s: &Arc<Shared>,
    me: &Arc<Me>,
    chats: &mut HashMap<i64, ChatQueue>,
    in_flight: &Arc<InFlight>,
    id: i32,
    u: Update,
) -> bool {
    let chat = match &u.kind {
        UpdateKind::Message(m) | UpdateKind::ChannelPost(m) => m.chat.id.0,
        UpdateKind::MyChatMember(c) => c.chat.id.0,
        UpdateKind::Error(_) => {
            tracing::debug!(update = u.id.0, "skipping an update teloxide cannot read");
            return true;
        }
        _ => return true,
    };
    if !in_flight.start(id) {
        return false;
    }
    let mut item = (id, u.kind);
    if let Some(q) = chats.get_mut(&chat) {
        match q.tx.try_send(item) {
            Ok(()) => {
                q.told_busy = false;
                return true;
            }
            Err(mpsc::error::TrySendError::Full((id, kind))) => {
                in_flight.done(id);
                if !q.told_busy && answer_busy(s, me, &kind) {
                    q.told_busy = true;
                } else {
                    tracing::warn!(chat, "too many updates from one chat; dropping one");
                }
                return true;
            }
            Err(mpsc::error::TrySendError::Closed(k)) => item = k,
        }
    }
    let (tx, rx) = mpsc::channel(CHAT_QUEUE);
    // A fresh channel has room.
    let _ = tx.try_send(item);
    chats.insert(
        chat,
        ChatQueue {
            tx,
            told_busy: false,
        },
    );
    tokio::spawn(chat_task(
        Arc::clone(s),
        Arc::clone(me),
        Arc::clone(in_flight),
        rx,
    ));
    true
}

/// Answers "busy" (or "slow down", as the chat's rate says) to an update
/// that is a command for this bot, without waiting for the reply; false
/// when it is no command of ours.
fn answer_busy(s: &Arc<Shared>, me: &Me, kind: &UpdateKind) -> bool {
    let (UpdateKind::Message(m) | UpdateKind::ChannelPost(m)) = kind else {
        return false;
    };
    if !for_us(m, me) {
        return false;
    }
    let dest = destination(m);
    let lang = language(s, m);
    let reply = match s.ctx.handler.admit(&dest) {
        Admission::Answer => Reply::busy(lang),
        Admission::SlowDown => Reply::slow_down(lang),
        Admission::Ignore => return true,
    };
    tracing::warn!(chat = %dest, "a chat's command queue is full; answering busy");
    let s = Arc::clone(s);
    tokio::spawn(async move {
        tokio::select! {
            biased;
            () = s.ctx.shutdown.cancelled() => {}
            outcome = s.send_reply(&dest, &reply, 0) => {
                if !matches!(outcome, SendOutcome::Sent { .. }) {
                    tracing::debug!(chat = %dest, ?outcome, "cannot answer busy");
                }
            }
        }
    });
    true
}

/// Handles one chat's updates in order; ends when idle or at shutdown.
/// An update stopped by shutdown stays in flight (unconfirmed).
async fn chat_task(
    s: Arc<Shared>,
    me: Arc<Me>,
    in_flight: Arc<InFlight>,
    mut rx: mpsc::Receiver<Queued>,
) {
    loop {
        let next = tokio::select! {
            biased;
            () = s.ctx.shutdown.cancelled() => return,
            next = tokio::time::timeout(CHAT_IDLE, rx.recv()) => next,
        };
        match next {
            Ok(Some((id, kind))) => {
                if !handle_or_stop(&s, &me, kind).await {
                    return;
                }
                in_flight.done(id);
            }
            Ok(None) => return,
            Err(_) => {
                // Idle: refuse new updates (the loop starts another task),
                // but finish those already queued.
                rx.close();
                while let Ok((id, kind)) = rx.try_recv() {
                    if !handle_or_stop(&s, &me, kind).await {
                        return;
                    }
                    in_flight.done(id);
                }
                return;
            }
        }
    }
}

/// Handles an update; false when shutdown came first.
async fn handle_or_stop(s: &Arc<Shared>, me: &Me, kind: UpdateKind) -> bool {
    tokio::select! {
        biased;
        () = s.ctx.shutdown.cancelled() => false,
        () = handle(s, me, kind) => true,
    }
}

async fn handle(s: &Arc<Shared>, me: &Me, kind: UpdateKind) {
    match kind {
        UpdateKind::Message(m) => on_message(s, me, m, false).await,
        UpdateKind::ChannelPost(m) => on_message(s, me, m, true).await,
        UpdateKind::MyChatMember(c) => on_membership(s, &c).await,
        _ => {}
    }
}

/// The bot was added, removed, blocked or unblocked: resume or pause the
/// chat's deliveries.
async fn on_membership(s: &Shared, c: &ChatMemberUpdated) {
    let chat = c.chat.id.0.to_string();
    let event = if c.new_chat_member.kind.is_present() {
        Membership::Joined { chat }
    } else {
        let reason = match c.new_chat_member.kind {
            ChatMemberKind::Banned(_) => "the bot was removed from the chat or blocked",
            _ => "the bot left the chat",
        };
        Membership::Left {
            chat,
            reason: reason.into(),
        }
    };
    s.ctx.handler.membership(super::ID, event).await;
}

/// Where a message came from: the chat, and its forum topic if any.
fn destination(m: &Message) -> Destination {
    Destination {
        platform: super::ID,
        chat: m.chat.id.0.to_string(),
        thread: if m.is_topic_message {
            m.thread_id.map(|t| t.0.0.to_string())
        } else {
            None
        },
    }
}

/// Whether `/cmd@name …` names this bot.
fn addressed_to(text: &str, username: &str) -> bool {
    let head = text.split_whitespace().next().unwrap_or("");
    head.split_once('@')
        .is_some_and(|(_, a)| a.eq_ignore_ascii_case(username))
}

/// The reply language: the user's in a private chat, else `bot.locale`.
fn language(s: &Shared, m: &Message) -> Lang {
    if !m.chat.is_private() {
        return s.ctx.default_lang;
    }
    m.from
        .as_ref()
        .and_then(|u| u.language_code.as_deref())
        .and_then(Lang::from_code)
        .unwrap_or(s.ctx.default_lang)
}

/// Whether a message is a command this bot answers (its own commands,
/// `/cmd @channel` in a private chat), from a person or an anonymous admin.
fn for_us(m: &Message, me: &Me) -> bool {
    let Some(text) = m.text() else { return false };
    if from_a_bot(m) {
        return false;
    }
    (m.chat.is_private() && channel_target(text).is_some())
        || command_for_us(text, me, m.chat.is_private()).is_some()
}

/// Other bots (but not an anonymous admin, who posts as the group).
fn from_a_bot(m: &Message) -> bool {
    m.sender_chat.is_none() && m.from.as_ref().is_some_and(|u| u.is_bot)
}

/// The command in a text, when it is for this bot: `None` for other text
/// and for another bot's command in a group.
fn command_for_us(text: &str, me: &Me, private: bool) -> Option<Result<Command, CommandError>> {
    let parsed = match commands::parse(text, Some(&me.username)) {
        Ok(None) => return None,
        Ok(Some(c)) => Ok(c),
        Err(e) => Err(e),
    };
    if let Err(e) = &parsed
        && matches!(e.error, ParseError::UnknownCommand(_))
        && !private
        && !addressed_to(text, &me.username)
    {
        // Another bot's command in a group: not ours to answer.
        return None;
    }
    Some(parsed)
}

/// Counts a command against its chat's rate limit: true when it is to be
/// handled; past the limit the chat gets one "slow down", then nothing.
async fn admitted(s: &Arc<Shared>, m: &Message, channel_post: bool) -> bool {
    let dest = destination(m);
    match s.ctx.handler.admit(&dest) {
        Admission::Answer => true,
        Admission::SlowDown => {
            let reply = Reply::slow_down(language(s, m));
            answer(s, m, &dest, &reply, channel_post).await;
            false
        }
        Admission::Ignore => false,
    }
}

/// Sends a command's reply into the chat it came from; in a channel, the
/// command and the reply are deleted after a while.
async fn answer(
    s: &Arc<Shared>,
    m: &Message,
    dest: &Destination,
    reply: &Reply,
    channel_post: bool,
) {
    match s.send_reply(dest, reply, REPLY_RETRIES).await {
        SendOutcome::Sent { message_id } => {
            if channel_post {
                let mut ids = vec![m.id];
                ids.extend(message_id.parse().ok().map(MessageId));
                schedule_cleanup(s, m.chat.id, ids);
            }
        }
        other => tracing::warn!(chat = %dest, outcome = ?other, "cannot answer a Telegram command"),
    }
}

async fn on_message(s: &Arc<Shared>, me: &Me, m: Message, channel_post: bool) {
    if let Some(new) = m.migrate_to_chat_id() {
        s.migrate(m.chat.id.0, new.0).await;
        return;
    }
    let Some(text) = m.text() else { return };
    if from_a_bot(&m) {
        return;
    }
    let private = m.chat.is_private();
    if private && let Some((channel, rest)) = channel_target(text) {
        if admitted(s, &m, channel_post).await {
            on_channel_command(s, me, &m, &channel, &rest).await;
        }
        return;
    }
    let Some(parsed) = command_for_us(text, me, private) else {
        return;
    };
    // Before any lookup the command needs.
    if !admitted(s, &m, channel_post).await {
        return;
    }
    let dest = destination(&m);
    let needs_admin = matches!(
        parsed,
        Ok(Command::Subscribe { .. } | Command::Unsubscribe(_))
    );
    let is_admin = private || channel_post || (needs_admin && is_group_admin(s, &m).await);
    let ctx = Context {
        dest: dest.clone(),
        is_admin,
        lang: language(s, &m),
        max_reply_chars: MAX_TEXT_UTF16,
    };
    let reply = s.ctx.handler.handle(&ctx, parsed).await;
    answer(s, &m, &dest, &reply, channel_post).await;
}

/// In a group: the sender is an anonymous admin (posting as the group) or
/// getChatMember says creator or administrator.
async fn is_group_admin(s: &Shared, m: &Message) -> bool {
    if let Some(sc) = &m.sender_chat {
        return sc.id == m.chat.id;
    }
    let Some(user) = &m.from else { return false };
    let asker = m.chat.id.0.to_string();
    match lookup(s, &asker, || {
        s.bot.get_chat_member(m.chat.id, user.id).into_future()
    })
    .await
    {
        Ok(member) => member.kind.is_privileged(),
        Err(f) => {
            tracing::warn!(chat = m.chat.id.0, error = %f, "cannot check a Telegram chat member; treating as not an admin");
            false
        }
    }
}

/// A lookup (getChat, getChatMember) for a command sent in `asker`, paced
/// like every call ([`Call::Lookup`]: a 429 holds only the asker's
/// lookups); a 429 is waited out once.
async fn lookup<T, F>(s: &Shared, asker: &str, mut call: impl FnMut() -> F) -> Result<T, Failure>
where
    F: Future<Output = Result<T, RequestError>>,
{
    let what = Call::Lookup { asker };
    match s.paced(what, call()).await {
        // The pacer holds the asker's lookups for `d`.
        Err(Failure::RetryAfter(d)) if d <= READ_RETRY_MAX => s.paced(what, call()).await,
        r => r,
    }
}

/// Deletes a channel's command and the bot's reply after a while, without
/// holding up the chat's task.
fn schedule_cleanup(s: &Arc<Shared>, chat: ChatId, ids: Vec<MessageId>) {
    let s = Arc::clone(s);
    tokio::spawn(async move {
        if !sleep_or_stop(&s, s.options.channel_cleanup_after).await {
            return;
        }
        let key = chat.0.to_string();
        for id in ids {
            // A 429 holds the chat in the pacer; the second try waits it out.
            for attempt in 0..2 {
                let req = s.bot.delete_message(chat, id);
                match s.paced(Call::Command(&key), req.into_future()).await {
                    Ok(_) => break,
                    Err(Failure::RetryAfter(_)) if attempt == 0 => {}
                    Err(f) => {
                        tracing::debug!(chat = chat.0, message = id.0, error = %f, "cannot delete a channel message");
                        break;
                    }
                }
            }
        }
    });
}

/// `/subscribe @channel …` (also `unsubscribe`, `list`, `latest`): the
/// channel, and the command without it.
fn channel_target(text: &str) -> Option<(String, String)> {
    let text = text.trim_start();
    let (head, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let name = head.strip_prefix('/').or_else(|| head.strip_prefix('／'))?;
    let name = name.split('@').next().unwrap_or("").to_ascii_lowercase();
    if !matches!(
        name.as_str(),
        "subscribe" | "sub" | "unsubscribe" | "unsub" | "list" | "latest"
    ) {
        return None;
    }
    let args = args.trim_start();
    let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let channel = first.strip_prefix('@')?;
    if channel.is_empty()
        || !channel
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    Some((format!("@{channel}"), format!("{head} {rest}")))
}

/// A command for a channel, sent from a private chat by its admin.
async fn on_channel_command(s: &Arc<Shared>, me: &Me, m: &Message, channel: &str, text: &str) {
    let parsed = match commands::parse(text, Some(&me.username)) {
        Ok(None) => return,
        Ok(Some(c)) => Ok(c),
        Err(e) => Err(e),
    };
    let lang = language(s, m);
    let t = lang.texts();
    let subscribing = matches!(parsed, Ok(Command::Subscribe { .. }));
    let reply = match check_channel(s, me, m, channel, subscribing).await {
        Ok(id) => {
            let ctx = Context {
                dest: Destination::chat(super::ID, id.to_string()),
                is_admin: true,
                lang,
                max_reply_chars: MAX_TEXT_UTF16,
            };
            s.ctx.handler.handle(&ctx, parsed).await
        }
        Err(refusal) => Reply {
            text: fill(refusal(t), &[("channel", channel)]),
            kind: ReplyKind::Error,
        },
    };
    answer(s, m, &destination(m), &reply, false).await;
}

type Refusal = fn(&commands::i18n::Texts) -> &'static str;

/// The channel's id when it is a channel, the sender administers it, and
/// (when subscribing) the bot may post there. The lookups are the private
/// chat's (the asker's), never the channel's.
async fn check_channel(
    s: &Shared,
    me: &Me,
    m: &Message,
    channel: &str,
    must_post: bool,
) -> Result<i64, Refusal> {
    let asker = m.chat.id.0.to_string();
    let chat = lookup(s, &asker, || {
        s.bot
            .get_chat(Recipient::ChannelUsername(channel.to_owned()))
            .into_future()
    })
    .await
    .map_err(|f| {
        tracing::debug!(channel, error = %f, "getChat failed");
        (|t| t.channel_not_found) as Refusal
    })?;
    if !chat.is_channel() {
        return Err(|t| t.channel_not_found);
    }
    let Some(user) = &m.from else {
        return Err(|t| t.channel_not_admin);
    };
    let sender = lookup(s, &asker, || {
        s.bot.get_chat_member(chat.id, user.id).into_future()
    })
    .await;
    if !sender.is_ok_and(|member| member.kind.is_privileged()) {
        return Err(|t| t.channel_not_admin);
    }
    if must_post {
        let can_post = match lookup(s, &asker, || {
            s.bot.get_chat_member(chat.id, me.id).into_future()
        })
        .await
        {
            Ok(bot) => match bot.kind {
                ChatMemberKind::Owner(_) => true,
                ChatMemberKind::Administrator(a) => a.can_post_messages,
                _ => false,
            },
            Err(_) => false,
        };
        if !can_post {
            return Err(|t| t.channel_bot_cannot_post);
        }
    }
    Ok(chat.id.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_targets_are_split_off() {
        assert_eq!(
            channel_target("/subscribe @my_news Stock tag:新聞"),
            Some(("@my_news".into(), "/subscribe Stock tag:新聞".into()))
        );
        assert_eq!(
            channel_target("/list@ptt_bot @chan"),
            Some(("@chan".into(), "/list@ptt_bot ".into()))
        );
        assert_eq!(channel_target("/subscribe Stock"), None);
        assert_eq!(channel_target("/help @chan"), None);
        assert_eq!(channel_target("/subscribe @"), None);
        assert_eq!(channel_target("/subscribe @a<b"), None);
    }

    #[test]
    fn updates_in_flight_are_bounded_and_the_oldest_is_the_offset() {
        let f = InFlight::default();
        assert_eq!(f.oldest(), None);
        for id in 0..MAX_IN_FLIGHT {
            assert!(f.start(i32::try_from(id).unwrap() + 10));
        }
        assert!(!f.start(5), "past the cap, an update is left for later");
        assert_eq!(f.oldest(), Some(10));
        f.done(10);
        assert_eq!(f.oldest(), Some(11));
        assert!(f.start(5));
        assert_eq!(f.oldest(), Some(5));
    }

    #[test]
    fn addressing() {
        assert!(addressed_to("/frob@PTT_bot x", "ptt_bot"));
        assert!(!addressed_to("/frob x", "ptt_bot"));
        assert!(!addressed_to("/frob@other", "ptt_bot"));
    }

    #[test]
    fn the_menu_has_every_command_in_both_languages() {
        for lang in [Lang::ZhTw, Lang::En] {
            let m = menu(lang);
            assert_eq!(m.len(), 7);
            assert!(m.iter().all(|c| !c.command.starts_with('/')));
        }
        assert_eq!(menu(Lang::ZhTw)[0].description, "訂閱看板新文章");
    }
}
