//! A fake Telegram Bot API on 127.0.0.1, answering like Telegram:
//! `POST /bot{token}/{method}` with case-insensitive method names, JSON or
//! form bodies, `{"ok":true,"result":…}` or errors in the body
//! (`{"ok":false,"error_code":N,"description":…,"parameters":…}`).
//!
//! sendMessage and editMessageText validate Telegram HTML (with
//! [`telegram_html`]), enforce the 4096 UTF-16 limit on the visible text,
//! and enforce Telegram's flood limits: 30 messages a second overall, one a
//! second per chat, 20 a minute per group — a message past them gets a 429
//! with `retry_after`. The windows are shortened by [`Limits::tolerance`]
//! (25 ms by default): a sender paced exactly at the limit sees its
//! requests arrive with a millisecond or two of network and timer jitter,
//! and Telegram itself does not count to the millisecond.
//!
//! Tests inject updates (served by a long-polling getUpdates), configure
//! administrators and chats, switch faults on (403 blocked, chat not found,
//! migrate_to_chat_id, 409 on getUpdates, 500s, forced 429s, and a
//! [`SendFault`] on sendMessage: black-holed, or answered with unreadable
//! JSON), and read what the bot sent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::telegram_html;

/// The fake bot's user id.
pub const BOT_ID: i64 = 7_000_000_001;
/// The fake bot's username.
pub const BOT_USERNAME: &str = "ptt_relay_bot";
/// The longest long poll the fake holds (teloxide's client gives up at 17 s).
const MAX_LONG_POLL: Duration = Duration::from_secs(15);

/// Telegram's flood limits as the fake applies them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Whether limits are enforced at all.
    pub enabled: bool,
    /// Messages a second, all chats together.
    pub global_per_sec: usize,
    /// Messages a minute in one group, supergroup or channel.
    pub group_per_min: usize,
    /// How much shorter than 1 s / 60 s the windows are (arrival jitter).
    pub tolerance: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enabled: true,
            global_per_sec: 30,
            group_per_min: 20,
            tolerance: Duration::from_millis(25),
        }
    }
}

/// What kind of chat an id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Private,
    Group,
    Supergroup { forum: bool },
    Channel,
}

#[derive(Debug, Clone)]
struct FakeChat {
    kind: ChatKind,
    username: Option<String>,
}

/// A fault in how every sendMessage is answered while it is switched on
/// ([`FakeTelegram::set_send_fault`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFault {
    /// The request is swallowed before Telegram sees it: never processed,
    /// and answered (with a 502) only after this long — longer than the
    /// client waits.
    BlackHole(Duration),
    /// Something in front of Telegram answers 200 with an HTML page: not
    /// JSON, and nothing is sent.
    NotJson,
    /// Telegram sends the message but its 200 answer is cut off halfway:
    /// truncated JSON.
    Truncated,
    /// Telegram sends the message and answers `{"ok":true}` without
    /// `result`.
    OkWithoutResult,
}

/// A message the bot sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub chat_id: i64,
    pub message_id: i64,
    pub thread: Option<i64>,
    /// As sent (HTML when `parse_mode` is HTML).
    pub text: String,
    pub parse_mode: Option<String>,
    /// `link_preview_options` as sent (checked by [`check_preview`]).
    pub link_preview: Option<Value>,
    /// `disable_notification: true`: delivered without a notification.
    pub silent: bool,
    /// The visible text (tags removed, entities decoded).
    pub visible: String,
    /// Links of the HTML, in order.
    pub links: Vec<telegram_html::Link>,
    pub at: Instant,
}

/// An accepted editMessageText.
#[derive(Debug, Clone)]
pub struct Edit {
    pub chat_id: i64,
    pub message_id: i64,
    pub text: String,
    pub visible: String,
    /// `link_preview_options` as sent (checked by [`check_preview`]).
    pub link_preview: Option<Value>,
    pub at: Instant,
}

/// One answered call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Lower-case method name.
    pub method: String,
    pub params: Value,
    /// 200, or the error code answered.
    pub code: u16,
    pub description: Option<String>,
}

#[derive(Default)]
struct Book {
    token: String,
    limits: Limits,
    chats: HashMap<i64, FakeChat>,
    admins: HashMap<i64, HashSet<i64>>,
    owners: HashMap<i64, i64>,
    bot_can_post: HashMap<i64, bool>,
    updates: VecDeque<(i64, Value)>,
    next_update_id: i64,
    next_message_id: HashMap<i64, i64>,
    messages: HashMap<(i64, i64), String>,
    sent: Vec<Sent>,
    edits: Vec<Edit>,
    deleted: Vec<(i64, i64)>,
    commands: Vec<Value>,
    calls: Vec<Call>,
    get_updates_params: Vec<Value>,
    // Faults.
    blocked: HashSet<i64>,
    not_found: HashSet<i64>,
    migrated: HashMap<i64, i64>,
    conflict: bool,
    webhook: bool,
    fail_500: HashMap<String, usize>,
    force_429: HashMap<String, VecDeque<u32>>,
    send_fault: Option<SendFault>,
    faulted_sends: usize,
    // Flood control.
    window_all: VecDeque<Instant>,
    window_chat: HashMap<i64, VecDeque<Instant>>,
    answered_429: u64,
}

struct Inner {
    state: Mutex<Book>,
    updates: Notify,
}

/// A running fake Bot API.
#[derive(Clone)]
pub struct FakeTelegram {
    inner: Arc<Inner>,
    /// The value for `telegram.api_url`.
    pub api_url: String,
}

/// An error answer: error_code, description, parameters.
type ApiErr = (u16, String, Option<Value>);

type Answer = Result<Value, ApiErr>;

fn bad(description: impl Into<String>) -> ApiErr {
    (400, description.into(), None)
}

impl FakeTelegram {
    /// Starts the fake for a token.
    pub async fn start(token: &str) -> FakeTelegram {
        let inner = Arc::new(Inner {
            state: Mutex::new(Book {
                token: token.to_owned(),
                next_update_id: 100_000,
                ..Default::default()
            }),
            updates: Notify::new(),
        });
        let app = Router::new()
            .route("/{bot}/{method}", any(api))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakeTelegram {
            inner,
            api_url: format!("http://{addr}"),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Book> {
        self.inner.state.lock().unwrap()
    }

    // ---- configuration ----

    /// Replaces the flood limits.
    pub fn set_limits(&self, limits: Limits) {
        self.state().limits = limits;
    }

    /// Declares a chat (unknown ids are private when positive, supergroups
    /// when below -10^12, else groups).
    pub fn add_chat(&self, id: i64, kind: ChatKind, username: Option<&str>) {
        self.state().chats.insert(
            id,
            FakeChat {
                kind,
                username: username.map(|u| u.trim_start_matches('@').to_owned()),
            },
        );
    }

    /// Makes a user an administrator of a chat.
    pub fn add_admin(&self, chat: i64, user: i64) {
        self.state().admins.entry(chat).or_default().insert(user);
    }

    /// Makes a user the creator of a chat.
    pub fn set_owner(&self, chat: i64, user: i64) {
        self.state().owners.insert(chat, user);
    }

    /// Whether the bot may post in a channel (default: yes, as an admin).
    pub fn set_bot_can_post(&self, channel: i64, can: bool) {
        self.state().bot_can_post.insert(channel, can);
    }

    // ---- faults ----

    /// 403 "Forbidden: bot was blocked by the user" for a chat.
    pub fn block(&self, chat: i64, blocked: bool) {
        let mut s = self.state();
        if blocked {
            s.blocked.insert(chat);
        } else {
            s.blocked.remove(&chat);
        }
    }

    /// 400 "Bad Request: chat not found" for a chat, or no more.
    pub fn set_not_found(&self, chat: i64, on: bool) {
        let mut s = self.state();
        if on {
            s.not_found.insert(chat);
        } else {
            s.not_found.remove(&chat);
        }
    }

    /// The group became a supergroup: sends to `from` answer
    /// migrate_to_chat_id `to`.
    pub fn migrate(&self, from: i64, to: i64) {
        let mut s = self.state();
        s.migrated.insert(from, to);
        s.chats.insert(
            to,
            FakeChat {
                kind: ChatKind::Supergroup { forum: false },
                username: None,
            },
        );
    }

    /// getUpdates answers 409 Conflict while on.
    pub fn set_conflict(&self, on: bool) {
        self.state().conflict = on;
        self.inner.updates.notify_waiters();
    }

    /// A webhook is set: getUpdates is refused until deleteWebhook.
    pub fn set_webhook(&self, on: bool) {
        self.state().webhook = on;
    }

    /// The next `n` calls of `method` (or of any method: `*`) answer 500.
    pub fn fail_500(&self, method: &str, n: usize) {
        self.state().fail_500.insert(method.to_ascii_lowercase(), n);
    }

    /// The next call of `method` answers 429 with this retry_after.
    pub fn force_429(&self, method: &str, retry_after: u32) {
        self.state()
            .force_429
            .entry(method.to_ascii_lowercase())
            .or_default()
            .push_back(retry_after);
    }

    /// Switches a fault of every sendMessage on (`Some`) or off.
    pub fn set_send_fault(&self, fault: Option<SendFault>) {
        self.state().send_fault = fault;
    }

    /// sendMessage calls answered with a [`SendFault`] so far (a
    /// black-holed one counts when it arrives).
    pub fn faulted_sends(&self) -> usize {
        self.state().faulted_sends
    }

    // ---- updates ----

    /// Queues an update (`kind` is its field: `message`, `channel_post`,
    /// `my_chat_member`); returns its update_id.
    pub fn push_update(&self, kind: &str, payload: Value) -> i64 {
        let id = {
            let mut s = self.state();
            s.next_update_id += 1;
            let id = s.next_update_id;
            s.updates
                .push_back((id, json!({ "update_id": id, kind: payload })));
            id
        };
        self.inner.updates.notify_waiters();
        id
    }

    fn new_message(&self, chat: i64, text: &str) -> (i64, Value) {
        let mut s = self.state();
        let id = next_message_id(&mut s, chat);
        s.messages.insert((chat, id), text.to_owned());
        (id, chat_json(&s, chat))
    }

    /// A user's text in a private chat (chat id = user id); returns the
    /// message id.
    pub fn private_message(&self, user: i64, language: &str, text: &str) -> i64 {
        let (id, chat) = self.new_message(user, text);
        self.push_update(
            "message",
            json!({
                "message_id": id, "date": now(), "chat": chat,
                "from": user_json(user, Some(language)), "text": text,
            }),
        );
        id
    }

    /// A user's text in a group or supergroup.
    pub fn group_message(&self, chat: i64, user: i64, text: &str) -> i64 {
        let (id, chat_v) = self.new_message(chat, text);
        self.push_update(
            "message",
            json!({
                "message_id": id, "date": now(), "chat": chat_v,
                "from": user_json(user, Some("zh-hant")), "text": text,
            }),
        );
        id
    }

    /// A text from an anonymous group admin (sent as the group itself).
    pub fn anonymous_admin_message(&self, chat: i64, text: &str) -> i64 {
        let (id, chat_v) = self.new_message(chat, text);
        self.push_update(
            "message",
            json!({
                "message_id": id, "date": now(), "chat": chat_v.clone(),
                "sender_chat": chat_v,
                "from": {"id": 1_087_968_824i64, "is_bot": true, "first_name": "Group", "username": "GroupAnonymousBot"},
                "text": text,
            }),
        );
        id
    }

    /// A user's text in a forum topic of a supergroup.
    pub fn topic_message(&self, chat: i64, thread: i64, user: i64, text: &str) -> i64 {
        let (id, chat_v) = self.new_message(chat, text);
        self.push_update(
            "message",
            json!({
                "message_id": id, "message_thread_id": thread, "is_topic_message": true,
                "date": now(), "chat": chat_v,
                "from": user_json(user, Some("en")), "text": text,
            }),
        );
        id
    }

    /// A post in a channel (no sender user).
    pub fn channel_post(&self, chat: i64, text: &str) -> i64 {
        let (id, chat_v) = self.new_message(chat, text);
        self.push_update(
            "channel_post",
            json!({
                "message_id": id, "date": now(), "chat": chat_v.clone(),
                "sender_chat": chat_v, "text": text,
            }),
        );
        id
    }

    /// The bot's status in a chat changed (`member`, `administrator`,
    /// `left`, `kicked`).
    pub fn bot_status_changed(&self, chat: i64, old: &str, new: &str) -> i64 {
        let chat_v = chat_json(&self.state(), chat);
        let bot = bot_user_json();
        self.push_update(
            "my_chat_member",
            json!({
                "chat": chat_v, "from": user_json(42, None), "date": now(),
                "old_chat_member": member_json(bot.clone(), old),
                "new_chat_member": member_json(bot, new),
            }),
        );
        0
    }

    /// The service message an old group gets when it becomes a supergroup.
    pub fn migration_message(&self, from: i64, to: i64) -> i64 {
        let (id, chat_v) = self.new_message(from, "");
        self.push_update(
            "message",
            json!({
                "message_id": id, "date": now(), "chat": chat_v,
                "from": user_json(42, None), "migrate_to_chat_id": to,
            }),
        );
        id
    }

    // ---- what happened ----

    /// Every message the bot sent.
    pub fn sent(&self) -> Vec<Sent> {
        self.state().sent.clone()
    }

    /// Messages sent to one chat.
    pub fn sent_to(&self, chat: i64) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|m| m.chat_id == chat)
            .collect()
    }

    /// Waits (up to `timeout`) until a chat got at least `n` messages.
    pub async fn wait_sent(&self, chat: i64, n: usize, timeout: Duration) -> Vec<Sent> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.sent_to(chat);
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out waiting for {n} message(s) to {chat}; got {:#?}\nerrors: {:#?}",
                    got,
                    self.errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Accepted edits.
    pub fn edits(&self) -> Vec<Edit> {
        self.state().edits.clone()
    }

    /// Deleted (chat, message) pairs.
    pub fn deleted(&self) -> Vec<(i64, i64)> {
        self.state().deleted.clone()
    }

    /// The bodies of setMyCommands calls.
    pub fn commands(&self) -> Vec<Value> {
        self.state().commands.clone()
    }

    /// Every call answered.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// How many calls of a method (case-insensitive) were answered.
    pub fn count(&self, method: &str) -> usize {
        let m = method.to_ascii_lowercase();
        self.state().calls.iter().filter(|c| c.method == m).count()
    }

    /// Calls answered with an error: (method, code, description).
    pub fn errors(&self) -> Vec<(String, u16, String)> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.code != 200)
            .map(|c| {
                (
                    c.method.clone(),
                    c.code,
                    c.description.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// 429s answered by flood control (forced ones included).
    pub fn answered_429(&self) -> u64 {
        self.state().answered_429
    }

    /// Parameters of every getUpdates call.
    pub fn get_updates_params(&self) -> Vec<Value> {
        self.state().get_updates_params.clone()
    }

    /// Updates not yet confirmed by an offset.
    pub fn pending_updates(&self) -> usize {
        self.state().updates.len()
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn next_message_id(s: &mut Book, chat: i64) -> i64 {
    let n = s.next_message_id.entry(chat).or_insert(1000);
    *n += 1;
    *n
}

fn kind_of(s: &Book, chat: i64) -> FakeChat {
    s.chats.get(&chat).cloned().unwrap_or(FakeChat {
        kind: if chat > 0 {
            ChatKind::Private
        } else if chat < -1_000_000_000_000 {
            ChatKind::Supergroup { forum: false }
        } else {
            ChatKind::Group
        },
        username: None,
    })
}

fn chat_json(s: &Book, chat: i64) -> Value {
    let c = kind_of(s, chat);
    match c.kind {
        ChatKind::Private => json!({
            "id": chat, "type": "private", "first_name": format!("User {chat}"),
            "username": format!("user{chat}"),
        }),
        ChatKind::Group => json!({"id": chat, "type": "group", "title": format!("Group {chat}")}),
        ChatKind::Supergroup { forum } => json!({
            "id": chat, "type": "supergroup", "title": format!("Supergroup {chat}"),
            "is_forum": forum,
        }),
        ChatKind::Channel => json!({
            "id": chat, "type": "channel", "title": format!("Channel {chat}"),
            "username": c.username,
        }),
    }
}

fn user_json(id: i64, language: Option<&str>) -> Value {
    let mut u = json!({
        "id": id, "is_bot": false, "first_name": format!("User{id}"),
        "username": format!("user{id}"),
    });
    if let Some(l) = language {
        u["language_code"] = json!(l);
    }
    u
}

fn bot_user_json() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "PTT Relay", "username": BOT_USERNAME})
}

/// A ChatMember with every field its status requires.
fn member_json(user: Value, status: &str) -> Value {
    match status {
        "administrator" => json!({
            "user": user, "status": "administrator", "can_be_edited": false,
            "is_anonymous": false, "can_manage_chat": true, "can_delete_messages": true,
            "can_manage_video_chats": true, "can_restrict_members": true,
            "can_promote_members": false, "can_change_info": true, "can_invite_users": true,
            "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false,
            "can_post_messages": true, "can_edit_messages": true, "can_pin_messages": true,
            "can_manage_topics": true,
        }),
        "administrator_no_post" => json!({
            "user": user, "status": "administrator", "can_be_edited": false,
            "is_anonymous": false, "can_manage_chat": true, "can_delete_messages": false,
            "can_manage_video_chats": false, "can_restrict_members": false,
            "can_promote_members": false, "can_change_info": false, "can_invite_users": true,
            "can_post_stories": false, "can_edit_stories": false, "can_delete_stories": false,
            "can_post_messages": false, "can_edit_messages": false, "can_pin_messages": false,
            "can_manage_topics": false,
        }),
        "creator" => json!({"user": user, "status": "creator", "is_anonymous": false}),
        "kicked" => json!({"user": user, "status": "kicked", "until_date": 0}),
        other => json!({"user": user, "status": other}),
    }
}

/// Request parameters from a JSON or form body, as JSON values.
fn params(headers: &HeaderMap, body: &[u8]) -> Value {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if body.is_empty() {
        return json!({});
    }
    if ct.starts_with("application/x-www-form-urlencoded") {
        let mut map = serde_json::Map::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            let value = serde_json::from_str::<Value>(&v).unwrap_or(Value::String(v.into_owned()));
            map.insert(k.into_owned(), value);
        }
        return Value::Object(map);
    }
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn reply(code: u16, body: Value) -> Response {
    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response()
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = method.to_ascii_lowercase();
    let p = params(&headers, &body);
    let token_ok = bot
        .strip_prefix("bot")
        .is_some_and(|t| t == inner.state.lock().unwrap().token);
    let fault = {
        let mut s = inner.state.lock().unwrap();
        let f = s.send_fault.filter(|_| token_ok && method == "sendmessage");
        if f.is_some() {
            s.faulted_sends += 1;
        }
        f
    };
    match fault {
        Some(SendFault::BlackHole(hold)) => {
            tokio::time::sleep(hold).await;
            return (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response();
        }
        Some(SendFault::NotJson) => {
            return (
                StatusCode::OK,
                [("content-type", "text/html")],
                "<html><body>Upstream is warming up</body></html>",
            )
                .into_response();
        }
        _ => {}
    }
    let answer: Answer = if !token_ok {
        Err((401, "Unauthorized".into(), None))
    } else if p.is_null() {
        Err(bad("Bad Request: invalid JSON body"))
    } else if method == "getupdates" {
        get_updates(&inner, &p).await
    } else {
        let mut s = inner.state.lock().unwrap();
        handle(&mut s, &method, &p)
    };
    let mut s = inner.state.lock().unwrap();
    let (code, body, description) = match answer {
        Ok(result) => (200, json!({"ok": true, "result": result}), None),
        Err((code, description, parameters)) => {
            if code == 429 {
                s.answered_429 += 1;
            }
            let mut b = json!({"ok": false, "error_code": code, "description": description});
            if let Some(p) = parameters {
                b["parameters"] = p;
            }
            (code, b, Some(description))
        }
    };
    s.calls.push(Call {
        method,
        params: p,
        code,
        description,
    });
    match fault {
        Some(SendFault::Truncated) if code == 200 => {
            let full = body.to_string();
            let cut: String = full.chars().take(full.chars().count() / 2).collect();
            (StatusCode::OK, [("content-type", "application/json")], cut).into_response()
        }
        Some(SendFault::OkWithoutResult) if code == 200 => reply(200, json!({"ok": true})),
        _ => reply(code, body),
    }
}

/// Faults that apply to every method before it runs.
fn injected_fault(s: &mut Book, method: &str) -> Option<ApiErr> {
    for key in [method, "*"] {
        if let Some(n) = s.fail_500.get_mut(key)
            && *n > 0
        {
            *n -= 1;
            return Some((500, "Internal Server Error".into(), None));
        }
    }
    if let Some(q) = s.force_429.get_mut(method)
        && let Some(secs) = q.pop_front()
    {
        return Some(too_many(secs));
    }
    None
}

fn too_many(secs: u32) -> ApiErr {
    (
        429,
        format!("Too Many Requests: retry after {secs}"),
        Some(json!({"retry_after": secs})),
    )
}

async fn get_updates(inner: &Inner, p: &Value) -> Answer {
    let offset = p["offset"].as_i64().unwrap_or(0);
    // Telegram answers at most `limit` (1–100, default 100) updates a call.
    let limit = p["limit"]
        .as_u64()
        .map_or(100, |l| l.clamp(1, 100) as usize);
    let timeout = Duration::from_secs(p["timeout"].as_u64().unwrap_or(0)).min(MAX_LONG_POLL);
    let allowed: Option<Vec<String>> = p["allowed_updates"].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let deadline = Instant::now() + timeout;
    {
        let mut s = inner.state.lock().unwrap();
        s.get_updates_params.push(p.clone());
        if let Some(f) = injected_fault(&mut s, "getupdates") {
            return Err(f);
        }
    }
    loop {
        let notified = inner.updates.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut s = inner.state.lock().unwrap();
            if s.webhook {
                return Err((
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first".into(),
                    None,
                ));
            }
            if s.conflict {
                return Err((
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running".into(),
                    None,
                ));
            }
            // An offset confirms every update before it.
            s.updates.retain(|(id, _)| *id >= offset);
            let ready: Vec<Value> = s
                .updates
                .iter()
                .filter(|(_, u)| {
                    allowed
                        .as_ref()
                        .is_none_or(|a| a.iter().any(|k| u.get(k).is_some()))
                })
                .map(|(_, u)| u.clone())
                .take(limit)
                .collect();
            if !ready.is_empty() || Instant::now() >= deadline {
                return Ok(Value::Array(ready));
            }
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

fn chat_id(s: &Book, v: &Value) -> Result<i64, ApiErr> {
    if let Some(id) = v.as_i64() {
        return Ok(id);
    }
    if let Some(text) = v.as_str() {
        if let Ok(id) = text.parse::<i64>() {
            return Ok(id);
        }
        if let Some(name) = text.strip_prefix('@') {
            return s
                .chats
                .iter()
                .find(|(_, c)| c.username.as_deref() == Some(name))
                .map(|(id, _)| *id)
                .ok_or_else(|| bad("Bad Request: chat not found"));
        }
    }
    Err(bad("Bad Request: chat_id is empty"))
}

/// Errors a message to `chat` gets before anything else.
fn chat_fault(s: &Book, chat: i64) -> Option<ApiErr> {
    if s.blocked.contains(&chat) {
        return Some((403, "Forbidden: bot was blocked by the user".into(), None));
    }
    if s.not_found.contains(&chat) {
        return Some(bad("Bad Request: chat not found"));
    }
    if let Some(to) = s.migrated.get(&chat) {
        return Some((
            400,
            "Bad Request: group chat was upgraded to a supergroup chat".into(),
            Some(json!({"migrate_to_chat_id": to})),
        ));
    }
    None
}

/// Flood control: `Some(retry_after)` when this message would exceed a
/// limit; otherwise records it.
fn flood(s: &mut Book, chat: i64) -> Option<u32> {
    let l = s.limits.clone();
    if !l.enabled {
        return None;
    }
    let now = Instant::now();
    let second = Duration::from_secs(1) - l.tolerance;
    let minute = Duration::from_secs(60) - l.tolerance;
    s.window_all
        .retain(|t| now.duration_since(*t) < Duration::from_secs(1));
    if s.window_all
        .iter()
        .filter(|t| now.duration_since(**t) < second)
        .count()
        >= l.global_per_sec
    {
        return Some(1);
    }
    let w = s.window_chat.entry(chat).or_default();
    w.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
    if w.iter().any(|t| now.duration_since(*t) < second) {
        return Some(1);
    }
    let kind = kind_of(s, chat).kind;
    let w = s.window_chat.entry(chat).or_default();
    if kind != ChatKind::Private {
        let in_minute: Vec<Instant> = w
            .iter()
            .copied()
            .filter(|t| now.duration_since(*t) < minute)
            .collect();
        if in_minute.len() >= l.group_per_min {
            let oldest = in_minute[in_minute.len() - l.group_per_min];
            let left = minute.saturating_sub(now.duration_since(oldest));
            return Some(left.as_secs() as u32 + 1);
        }
    }
    w.push_back(now);
    s.window_all.push_back(now);
    None
}

/// Validates a message text: (visible text, links).
fn check_text(
    text: &str,
    parse_mode: Option<&str>,
) -> Result<(String, Vec<telegram_html::Link>), ApiErr> {
    let (visible, links) = match parse_mode {
        Some(m) if m.eq_ignore_ascii_case("html") => {
            let parsed = telegram_html::parse(text)
                .map_err(|e| bad(format!("Bad Request: can't parse entities: {e}")))?;
            (parsed.text, parsed.links)
        }
        Some(other) if !other.is_empty() => {
            return Err(bad(format!("Bad Request: unsupported parse_mode {other}")));
        }
        _ => (text.to_owned(), Vec::new()),
    };
    if visible.trim().is_empty() {
        return Err(bad("Bad Request: message text is empty"));
    }
    if visible.encode_utf16().count() > 4096 {
        return Err(bad("Bad Request: message is too long"));
    }
    Ok((visible, links))
}

fn handle(s: &mut Book, method: &str, p: &Value) -> Answer {
    if let Some(f) = injected_fault(s, method) {
        return Err(f);
    }
    match method {
        "getme" => Ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "PTT Relay",
            "username": BOT_USERNAME, "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false,
        })),
        "getwebhookinfo" => Ok(json!({
            "url": "", "has_custom_certificate": false, "pending_update_count": 0,
        })),
        "deletewebhook" => {
            s.webhook = false;
            Ok(json!(true))
        }
        "setmycommands" => {
            let commands = p["commands"].as_array().cloned().unwrap_or_default();
            for c in &commands {
                let name = c["command"].as_str().unwrap_or("");
                let ok = !name.is_empty()
                    && name.len() <= 32
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                let desc = c["description"].as_str().unwrap_or("");
                if !ok || desc.is_empty() || desc.chars().count() > 256 {
                    return Err(bad("Bad Request: BOT_COMMAND_INVALID"));
                }
            }
            s.commands.push(p.clone());
            Ok(json!(true))
        }
        "sendmessage" => send_message(s, p),
        "editmessagetext" => edit_message_text(s, p),
        "deletemessage" => {
            let chat = chat_id(s, &p["chat_id"])?;
            let id = p["message_id"].as_i64().unwrap_or(0);
            if s.messages.remove(&(chat, id)).is_none() {
                return Err(bad("Bad Request: message to delete not found"));
            }
            s.deleted.push((chat, id));
            Ok(json!(true))
        }
        "getchat" => {
            let chat = chat_id(s, &p["chat_id"])?;
            if s.not_found.contains(&chat) || !s.chats.contains_key(&chat) {
                return Err(bad("Bad Request: chat not found"));
            }
            let mut c = chat_json(s, chat);
            c["accent_color_id"] = json!(0);
            c["max_reaction_count"] = json!(11);
            c["accepted_gift_types"] = json!({
                "unlimited_gifts": false, "limited_gifts": false,
                "unique_gifts": false, "premium_subscription": false,
            });
            Ok(c)
        }
        "getchatmember" => {
            let chat = chat_id(s, &p["chat_id"])?;
            let user = p["user_id"].as_i64().unwrap_or(0);
            if s.not_found.contains(&chat) {
                return Err(bad("Bad Request: chat not found"));
            }
            if user == BOT_ID {
                let status = match s.bot_can_post.get(&chat) {
                    Some(false) => "administrator_no_post",
                    _ => "administrator",
                };
                return Ok(member_json(bot_user_json(), status));
            }
            let status = if s.owners.get(&chat) == Some(&user) {
                "creator"
            } else if s.admins.get(&chat).is_some_and(|a| a.contains(&user)) {
                "administrator"
            } else {
                "member"
            };
            Ok(member_json(user_json(user, None), status))
        }
        _ => Err((404, "Not Found".into(), None)),
    }
}

/// `link_preview_options` as the Bot API reads it: an object whose
/// `is_disabled`, `prefer_small_media`, `prefer_large_media` and
/// `show_above_text` are booleans and whose `url` is an http(s) URL;
/// anything else is refused as Telegram does ("can't parse").
fn check_preview(p: &Value) -> Result<Option<Value>, ApiErr> {
    let Some(o) = p.get("link_preview_options") else {
        return Ok(None);
    };
    let cant = || bad("Bad Request: can't parse link preview options");
    let map = o.as_object().ok_or_else(cant)?;
    for (k, v) in map {
        let ok = match k.as_str() {
            "is_disabled" | "prefer_small_media" | "prefer_large_media" | "show_above_text" => {
                v.is_boolean()
            }
            "url" => v.as_str().is_some_and(|u| {
                url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            }),
            _ => false,
        };
        if !ok {
            return Err(cant());
        }
    }
    Ok(Some(o.clone()))
}

fn send_message(s: &mut Book, p: &Value) -> Answer {
    let chat = chat_id(s, &p["chat_id"])?;
    if let Some(f) = chat_fault(s, chat) {
        return Err(f);
    }
    let text = p["text"].as_str().unwrap_or("").to_owned();
    let parse_mode = p["parse_mode"].as_str().map(str::to_owned);
    let (visible, links) = check_text(&text, parse_mode.as_deref())?;
    let link_preview = check_preview(p)?;
    let silent = match p.get("disable_notification") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("Bad Request: can't parse disable_notification")),
    };
    let thread = p["message_thread_id"].as_i64();
    if let Some(t) = thread {
        let forum = matches!(kind_of(s, chat).kind, ChatKind::Supergroup { forum: true });
        if !forum || t <= 0 {
            return Err(bad("Bad Request: message thread not found"));
        }
    }
    if let Some(secs) = flood(s, chat) {
        return Err(too_many(secs));
    }
    let id = next_message_id(s, chat);
    s.messages.insert((chat, id), text.clone());
    s.sent.push(Sent {
        chat_id: chat,
        message_id: id,
        thread,
        text: text.clone(),
        parse_mode,
        link_preview,
        silent,
        visible,
        links,
        at: Instant::now(),
    });
    let mut m = json!({
        "message_id": id, "date": now(), "chat": chat_json(s, chat),
        "from": bot_user_json(), "text": text,
    });
    if let Some(t) = thread {
        m["message_thread_id"] = json!(t);
        m["is_topic_message"] = json!(true);
    }
    Ok(m)
}

fn edit_message_text(s: &mut Book, p: &Value) -> Answer {
    let chat = chat_id(s, &p["chat_id"])?;
    if let Some(f) = chat_fault(s, chat) {
        return Err(f);
    }
    let id = p["message_id"].as_i64().unwrap_or(0);
    let text = p["text"].as_str().unwrap_or("").to_owned();
    let Some(old) = s.messages.get(&(chat, id)).cloned() else {
        return Err(bad("Bad Request: message to edit not found"));
    };
    let (visible, _) = check_text(&text, p["parse_mode"].as_str())?;
    let link_preview = check_preview(p)?;
    if old == text {
        return Err(bad(
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    if let Some(secs) = flood(s, chat) {
        return Err(too_many(secs));
    }
    s.messages.insert((chat, id), text.clone());
    s.edits.push(Edit {
        chat_id: chat,
        message_id: id,
        text: text.clone(),
        visible,
        link_preview,
        at: Instant::now(),
    });
    Ok(json!({
        "message_id": id, "date": now(), "edit_date": now(), "chat": chat_json(s, chat),
        "from": bot_user_json(), "text": text,
    }))
}
