//! A fake Discord on 127.0.0.1: the REST API under `/api/v10/…` and the
//! gateway websocket on the same port, enough for serenity's real client.
//!
//! REST validates messages like Discord (content ≤ 2000, ≤ 10 embeds, embed
//! title 256, description 4096, 25 fields of 256/1024, footer 2048, 6000 in
//! all, nonce ≤ 25), honours `enforce_nonce` (a repeated nonce in a channel
//! returns the earlier message), rate-limits like Discord (5 messages per
//! 5 s per channel, 50 requests a second overall) with Discord's 429 body
//! and headers, and records everything. Faults can be switched on per
//! channel (403 Missing Access, 404 Unknown Channel, 500), as a storm of
//! 429s, or as a [`CreateFault`] on every message create (an answer held
//! past the client's timeout, a 200 whose JSON is cut off or is not JSON
//! at all). The gateway: HELLO → IDENTIFY → READY (+ GUILD_CREATE per guild),
//! ACKs heartbeats, and sends dispatches a test injects, with increasing
//! sequence numbers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// The application (and bot user) id.
pub const APP_ID: u64 = 900_000_000_000_000_001;
/// The id of the registered `/ptt` command in interactions.
pub const COMMAND_ID: u64 = 900_000_000_000_000_002;
/// The heartbeat interval the gateway asks for.
pub const HEARTBEAT_MS: u64 = 2_000;
/// Manage Channels.
pub const MANAGE_CHANNELS: u64 = 1 << 4;
/// View Channel | Send Messages | Read Message History: an ordinary member.
pub const MEMBER: u64 = (1 << 10) | (1 << 11) | (1 << 16);

/// Discord's per-channel message limit: this many …
pub const CHANNEL_LIMIT: u32 = 5;
/// … per this window.
pub const CHANNEL_WINDOW: Duration = Duration::from_secs(5);
/// What @everyone may do in the fake's servers (the bot has no other
/// role): View Channel, Send Messages, Send Messages in Threads, Create
/// Public Threads, Embed Links, Read Message History.
pub const EVERYONE: u64 = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 35) | (1 << 14) | (1 << 16);

/// Discord's global limit per second.
pub const GLOBAL_LIMIT: u32 = 50;

/// One REST request.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
    pub auth: Option<String>,
    pub at: Instant,
}

/// A message created with `POST /channels/{id}/messages`.
#[derive(Clone, Debug)]
pub struct Created {
    pub id: String,
    pub channel: String,
    pub body: Value,
    pub at: Instant,
}

/// A forum post created with `POST /channels/{forum}/threads`.
#[derive(Clone, Debug)]
pub struct Thread {
    /// The thread's id (= its starter message's id).
    pub id: String,
    /// The forum it is in.
    pub forum: String,
    pub name: String,
    /// Ids of the forum tags applied.
    pub applied_tags: Vec<String>,
    /// The starter message's body as sent (`message`).
    pub message: Value,
    /// Deleted by a moderator ([`FakeDiscord::delete_thread`]).
    pub deleted: bool,
    pub at: Instant,
}

/// A per-channel fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelFault {
    /// 403 {"code":50001,"message":"Missing Access"}
    MissingAccess,
    /// 404 {"code":10003,"message":"Unknown Channel"}
    UnknownChannel,
    /// 500
    ServerError,
}

/// A fault in how every `POST /channels/{id}/messages` is answered while it
/// is switched on ([`FakeDiscord::set_create_fault`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateFault {
    /// Discord takes the message (it is created and its nonce remembered;
    /// a repeated nonce is answered with the earlier message as usual) but
    /// the answer is held this long — longer than the client waits.
    AcceptThenHang(Duration),
    /// Discord takes the message but its 200 answer is cut off halfway:
    /// truncated JSON.
    Truncated,
    /// Something in front of Discord answers 200 with an HTML page: not
    /// JSON, and nothing is created.
    NotJson,
}

/// What the user saw as the answer to an interaction.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The text shown.
    pub content: String,
    /// Only the user sees it.
    pub ephemeral: bool,
    /// The first callback was a deferral (type 5).
    pub deferred: bool,
    /// `allowed_mentions` of the body that carried the text.
    pub allowed_mentions: Value,
}

/// Where an interaction comes from.
#[derive(Clone, Debug)]
pub struct Origin {
    /// The channel (a thread's own id inside a thread).
    pub channel: u64,
    /// Discord channel type (0 text, 11 public thread, …).
    pub channel_type: u8,
    /// The parent channel of a thread (or forum).
    pub parent: Option<u64>,
    /// The server, or `None` for a DM.
    pub guild: Option<u64>,
    /// The member's permissions in the channel.
    pub permissions: u64,
    /// The user's client language.
    pub locale: String,
}

impl Origin {
    /// A text channel of a server.
    pub fn channel(guild: u64, channel: u64, permissions: u64) -> Self {
        Origin {
            channel,
            channel_type: 0,
            parent: None,
            guild: Some(guild),
            permissions,
            locale: "zh-TW".into(),
        }
    }

    /// A DM with the bot.
    pub fn dm(channel: u64) -> Self {
        Origin {
            channel,
            channel_type: 1,
            parent: None,
            guild: None,
            permissions: 0,
            locale: "zh-TW".into(),
        }
    }

    /// The same, in another language.
    pub fn locale(mut self, locale: &str) -> Self {
        self.locale = locale.into();
        self
    }
}

#[derive(Default)]
struct Windows {
    per_channel: HashMap<String, (Instant, u32)>,
    global: Option<(Instant, u32)>,
}

struct Inner {
    token: String,
    echo_auth: bool,
    guilds: Vec<u64>,
    base_ws: String,
    requests: Vec<Request>,
    messages: Vec<Created>,
    message_bodies: HashMap<String, Value>,
    edits: Vec<(String, String, Value)>,
    nonces: HashMap<(String, String), Value>,
    nonce_hits: usize,
    callbacks: HashMap<String, Value>,
    token_to_interaction: HashMap<String, String>,
    originals: HashMap<String, Value>,
    originals_deleted: HashSet<String>,
    followups: HashMap<String, Vec<Value>>,
    commands: Vec<(String, Value)>,
    faults: HashMap<String, ChannelFault>,
    create_fault: Option<CreateFault>,
    faulted_creates: usize,
    storm_left: usize,
    rate_limited: usize,
    limits: Windows,
    next_id: u64,
    identifies: Vec<Value>,
    readies: usize,
    heartbeats: usize,
    open_connections: usize,
    first_429_at: Option<Instant>,
    /// Channel types other than text (0): announcement 5, forum 15, …
    channel_types: HashMap<String, u64>,
    /// Published messages: (channel, message id, when).
    crossposts: Vec<(String, String, Instant)>,
    /// Forum channel → its tags (name, id).
    forum_tags: HashMap<String, Vec<(String, String)>>,
    /// Forum posts, in the order created.
    threads: Vec<Thread>,
    /// Channel → permissions denied to the bot there (a member overwrite).
    bot_denied: HashMap<String, u64>,
    /// Channel → its server, when not the first of `guilds`.
    channel_guilds: HashMap<String, u64>,
}

/// A running fake Discord.
#[derive(Clone)]
pub struct FakeDiscord {
    inner: Arc<Mutex<Inner>>,
    dispatch: broadcast::Sender<(String, Value)>,
    /// `http://127.0.0.1:PORT` — `discord.api_url`.
    pub base_url: String,
}

type Shared = (Arc<Mutex<Inner>>, broadcast::Sender<(String, Value)>);

impl FakeDiscord {
    /// Starts the fake for a bot token and the servers the bot is in.
    pub async fn start(token: &str, guilds: &[u64]) -> FakeDiscord {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            echo_auth: false,
            guilds: guilds.to_vec(),
            base_ws: format!("ws://{addr}/gw"),
            requests: Vec::new(),
            messages: Vec::new(),
            message_bodies: HashMap::new(),
            edits: Vec::new(),
            nonces: HashMap::new(),
            nonce_hits: 0,
            callbacks: HashMap::new(),
            token_to_interaction: HashMap::new(),
            originals: HashMap::new(),
            originals_deleted: HashSet::new(),
            followups: HashMap::new(),
            commands: Vec::new(),
            faults: HashMap::new(),
            create_fault: None,
            faulted_creates: 0,
            storm_left: 0,
            rate_limited: 0,
            limits: Windows::default(),
            next_id: 1_400_000_000_000_000_000,
            channel_types: HashMap::new(),
            crossposts: Vec::new(),
            forum_tags: HashMap::new(),
            threads: Vec::new(),
            bot_denied: HashMap::new(),
            channel_guilds: HashMap::new(),
            identifies: Vec::new(),
            readies: 0,
            heartbeats: 0,
            open_connections: 0,
            first_429_at: None,
        }));
        let (dispatch, _) = broadcast::channel(256);
        let app = Router::new()
            .route("/gw", get(gateway))
            .fallback(rest)
            .with_state((Arc::clone(&inner), dispatch.clone()));
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakeDiscord {
            inner,
            dispatch,
            base_url: format!("http://{addr}"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// Every REST request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Messages created (a repeated nonce creates none).
    pub fn messages(&self) -> Vec<Created> {
        self.lock().messages.clone()
    }

    /// Messages created in one channel.
    pub fn messages_in(&self, channel: u64) -> Vec<Created> {
        let c = channel.to_string();
        self.messages()
            .into_iter()
            .filter(|m| m.channel == c)
            .collect()
    }

    /// Message edits: (channel, message id, body).
    pub fn edits(&self) -> Vec<(String, String, Value)> {
        self.lock().edits.clone()
    }

    /// Creates answered with an earlier message because of its nonce.
    pub fn nonce_hits(&self) -> usize {
        self.lock().nonce_hits
    }

    /// Command registrations: (path, body).
    pub fn commands(&self) -> Vec<(String, Value)> {
        self.lock().commands.clone()
    }

    /// 429s answered.
    pub fn rate_limited(&self) -> usize {
        self.lock().rate_limited
    }

    /// When the first 429 was answered.
    pub fn first_429_at(&self) -> Option<Instant> {
        self.lock().first_429_at
    }

    /// IDENTIFY payloads received.
    pub fn identifies(&self) -> Vec<Value> {
        self.lock().identifies.clone()
    }

    /// Heartbeats acknowledged.
    pub fn heartbeats(&self) -> usize {
        self.lock().heartbeats
    }

    /// Gateway connections open now.
    pub fn open_connections(&self) -> usize {
        self.lock().open_connections
    }

    /// Switches a channel's fault on or off.
    /// Makes a channel of another type than text (0): announcement 5,
    /// forum 15. `GET /channels/{id}` answers it.
    pub fn set_channel_type(&self, channel: u64, kind: u64) {
        self.inner
            .lock()
            .unwrap()
            .channel_types
            .insert(channel.to_string(), kind);
    }

    /// Makes a channel a forum (type 15) with these tags; returns the
    /// tags' ids, in order.
    pub fn set_forum(&self, channel: u64, tags: &[&str]) -> Vec<String> {
        let mut s = self.lock();
        s.channel_types.insert(channel.to_string(), 15);
        let mut made = Vec::new();
        for name in tags {
            s.next_id += 1;
            made.push((name.to_string(), s.next_id.to_string()));
        }
        s.forum_tags.insert(channel.to_string(), made.clone());
        made.into_iter().map(|(_, id)| id).collect()
    }

    /// Denies the bot these permissions in a channel (a member overwrite
    /// that `GET /channels/{id}` shows).
    pub fn deny_bot(&self, channel: u64, permissions: u64) {
        self.lock()
            .bot_denied
            .insert(channel.to_string(), permissions);
    }

    /// Puts a channel in another server.
    pub fn set_channel_guild(&self, channel: u64, guild: u64) {
        self.lock()
            .channel_guilds
            .insert(channel.to_string(), guild);
    }

    /// The forum posts created in a forum (deleted ones too), in order.
    pub fn threads_in(&self, forum: u64) -> Vec<Thread> {
        let forum = forum.to_string();
        self.lock()
            .threads
            .iter()
            .filter(|t| t.forum == forum)
            .cloned()
            .collect()
    }

    /// A moderator deletes a forum post: the thread and its messages are
    /// gone (Unknown Channel from then on).
    pub fn delete_thread(&self, thread: &str) {
        let mut s = self.lock();
        for t in s.threads.iter_mut().filter(|t| t.id == thread) {
            t.deleted = true;
        }
        s.message_bodies.remove(thread);
        s.faults
            .insert(thread.to_owned(), ChannelFault::UnknownChannel);
    }

    /// Ids of the messages published (crossposted) in a channel, in order.
    pub fn crossposts_in(&self, channel: u64) -> Vec<String> {
        let channel = channel.to_string();
        self.inner
            .lock()
            .unwrap()
            .crossposts
            .iter()
            .filter(|(c, _, _)| *c == channel)
            .map(|(_, m, _)| m.clone())
            .collect()
    }

    pub fn set_fault(&self, channel: u64, fault: Option<ChannelFault>) {
        let mut s = self.lock();
        match fault {
            Some(f) => s.faults.insert(channel.to_string(), f),
            None => s.faults.remove(&channel.to_string()),
        };
    }

    /// Switches a fault of every message create on (`Some`) or off.
    pub fn set_create_fault(&self, fault: Option<CreateFault>) {
        self.lock().create_fault = fault;
    }

    /// Message creates answered with a [`CreateFault`] so far.
    pub fn faulted_creates(&self) -> usize {
        self.lock().faulted_creates
    }

    /// The next `n` message creates are answered 429.
    pub fn storm(&self, n: usize) {
        self.lock().storm_left = n;
    }

    /// How many 429s of the current storm are still to come.
    pub fn storm_left(&self) -> usize {
        self.lock().storm_left
    }

    /// Error messages echo the Authorization header (a careless proxy):
    /// whatever logs or returns them must redact the token.
    pub fn echo_auth_in_errors(&self, on: bool) {
        self.lock().echo_auth = on;
    }

    /// Waits until a client identified and got READY.
    pub async fn wait_ready(&self) {
        wait_until("the gateway's READY", || self.lock().readies > 0).await;
    }

    /// Sends a dispatch to the connected client(s).
    pub fn dispatch(&self, t: &str, d: Value) {
        let _ = self.dispatch.send((t.to_owned(), d));
    }

    /// The bot was removed from a server (`unavailable: false`) or the
    /// server has an outage (`true`).
    pub fn guild_delete(&self, guild: u64, unavailable: bool) {
        self.dispatch(
            "GUILD_DELETE",
            json!({ "id": guild.to_string(), "unavailable": unavailable }),
        );
    }

    /// The bot is (back) in a server.
    pub fn guild_create(&self, guild: u64) {
        self.dispatch("GUILD_CREATE", guild_json(guild));
    }

    /// Injects `/ptt <sub>` with options (`[{"name","type","value"}]`);
    /// returns the interaction id.
    pub fn slash(&self, origin: &Origin, sub: &str, options: Value) -> String {
        self.slash_resolved(origin, sub, options, Value::Null)
    }

    /// [`slash`](Self::slash) with `data.resolved` (the channels a CHANNEL
    /// option names, with the member's permissions there).
    pub fn slash_resolved(
        &self,
        origin: &Origin,
        sub: &str,
        options: Value,
        resolved: Value,
    ) -> String {
        let (id, token) = {
            let mut s = self.lock();
            s.next_id += 1;
            let id = s.next_id.to_string();
            let token = format!("aW50ZXJhY3Rpb24.{id}.tok");
            s.token_to_interaction.insert(token.clone(), id.clone());
            (id, token)
        };
        let user = json!({
            "id": "700000000000000001", "username": "member", "discriminator": "0",
            "global_name": "Member", "avatar": null
        });
        let mut channel = json!({
            "id": origin.channel.to_string(), "type": origin.channel_type, "name": "news",
            "permissions": origin.permissions.to_string()
        });
        if let Some(p) = origin.parent {
            channel["parent_id"] = json!(p.to_string());
        }
        let mut d = json!({
            "id": id,
            "application_id": APP_ID.to_string(),
            "type": 2,
            "data": {
                "id": COMMAND_ID.to_string(), "name": "ptt", "type": 1,
                "options": [{ "name": sub, "type": 1, "options": options }]
            },
            "channel_id": origin.channel.to_string(),
            "channel": channel,
            "token": token,
            "version": 1,
            "app_permissions": "562949953421311",
            "locale": origin.locale,
            "entitlements": [],
            "authorizing_integration_owners": { "0": "1" },
            "attachment_size_limit": 26_214_400,
        });
        if !resolved.is_null() {
            d["data"]["resolved"] = resolved;
        }
        match origin.guild {
            Some(g) => {
                d["guild_id"] = json!(g.to_string());
                d["guild_locale"] = json!("zh-TW");
                d["context"] = json!(0);
                d["member"] = json!({
                    "user": user, "nick": null, "avatar": null, "roles": [],
                    "joined_at": "2026-01-01T00:00:00.000000+00:00", "premium_since": null,
                    "deaf": false, "mute": false, "flags": 0, "pending": false,
                    "permissions": origin.permissions.to_string(),
                    "communication_disabled_until": null
                });
            }
            None => {
                d["user"] = user;
                d["context"] = json!(1);
            }
        }
        self.dispatch("INTERACTION_CREATE", d);
        id
    }

    /// The answer shown for an interaction, once there is one with text.
    pub fn answer(&self, interaction: &str) -> Option<Answer> {
        let s = self.lock();
        let cb = s.callbacks.get(interaction)?;
        let kind = cb["type"].as_u64().unwrap_or(0);
        let flags = |v: &Value| v["flags"].as_u64().unwrap_or(0) & 64 != 0;
        if kind == 4 {
            return Some(Answer {
                content: cb["data"]["content"].as_str().unwrap_or("").to_owned(),
                ephemeral: flags(&cb["data"]),
                deferred: false,
                allowed_mentions: cb["data"]["allowed_mentions"].clone(),
            });
        }
        if kind != 5 {
            return None;
        }
        if let Some(f) = s.followups.get(interaction).and_then(|f| f.last()) {
            return Some(Answer {
                content: f["content"].as_str().unwrap_or("").to_owned(),
                ephemeral: flags(f),
                deferred: true,
                allowed_mentions: f["allowed_mentions"].clone(),
            });
        }
        if s.originals_deleted.contains(interaction) {
            return None;
        }
        let edit = s.originals.get(interaction)?;
        Some(Answer {
            content: edit["content"].as_str().unwrap_or("").to_owned(),
            ephemeral: flags(&cb["data"]),
            deferred: true,
            allowed_mentions: edit["allowed_mentions"].clone(),
        })
    }

    /// The raw first callback of an interaction.
    pub fn callback(&self, interaction: &str) -> Option<Value> {
        self.lock().callbacks.get(interaction).cloned()
    }

    /// Waits (up to 10 s) for the answer to an interaction.
    pub async fn wait_answer(&self, interaction: &str) -> Answer {
        let mut found = None;
        wait_until("an interaction's answer", || {
            found = self.answer(interaction);
            found.is_some()
        })
        .await;
        found.unwrap()
    }
}

/// Polls `cond` every 50 ms for up to 15 s.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A server as GUILD_CREATE carries it (every field serenity requires).
const GUILD_JSON: &str = r#"{
    "id": "0", "name": "Test server", "icon": null, "icon_hash": null,
    "splash": null, "discovery_splash": null, "owner_id": "700000000000000009",
    "widget_enabled": false, "widget_channel_id": null, "verification_level": 0,
    "default_message_notifications": 0, "explicit_content_filter": 0, "roles": [],
    "emojis": [], "features": [], "mfa_level": 0, "application_id": null,
    "system_channel_id": null, "system_channel_flags": 0, "rules_channel_id": null,
    "max_presences": null, "max_members": 500000, "vanity_url_code": null,
    "description": null, "banner": null, "premium_tier": 0,
    "premium_subscription_count": 0, "preferred_locale": "zh-TW",
    "public_updates_channel_id": null, "max_video_channel_users": 25,
    "max_stage_video_channel_users": 50, "nsfw_level": 0, "stickers": [],
    "premium_progress_bar_enabled": false,
    "joined_at": "2026-01-01T00:00:00.000000+00:00", "large": false,
    "unavailable": false, "member_count": 2, "voice_states": [], "members": [],
    "channels": [], "threads": [], "presences": [], "stage_instances": [],
    "guild_scheduled_events": [], "safety_alerts_channel_id": null,
    "incidents_data": null
}"#;

fn guild_json(guild: u64) -> Value {
    let mut g: Value = serde_json::from_str(GUILD_JSON).unwrap();
    g["id"] = json!(guild.to_string());
    g
}

fn bot_user() -> Value {
    json!({
        "id": APP_ID.to_string(), "username": "ptt-relay", "discriminator": "0",
        "global_name": null, "avatar": null, "bot": true
    })
}

// ---------------------------------------------------------------- gateway

async fn gateway(ws: WebSocketUpgrade, State((inner, dispatch)): State<Shared>) -> Response {
    ws.on_upgrade(move |socket| run_gateway(socket, inner, dispatch))
}

async fn send(socket: &mut WebSocket, v: Value) -> bool {
    socket
        .send(Message::Text(v.to_string().into()))
        .await
        .is_ok()
}

async fn run_gateway(
    mut socket: WebSocket,
    inner: Arc<Mutex<Inner>>,
    dispatch: broadcast::Sender<(String, Value)>,
) {
    inner.lock().unwrap().open_connections += 1;
    let mut rx = dispatch.subscribe();
    let mut session = Session::default();
    let hello =
        json!({ "op": 10, "s": null, "t": null, "d": { "heartbeat_interval": HEARTBEAT_MS } });
    let mut open = send(&mut socket, hello).await;
    while open {
        open = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => session.on_frame(&mut socket, &inner, &t).await,
                Some(Ok(Message::Close(_))) => {
                    // Reading on sends the close reply the client waits for.
                    while let Some(Ok(_)) = socket.recv().await {}
                    false
                }
                None | Some(Err(_)) => false,
                Some(Ok(_)) => true,
            },
            ev = rx.recv() => match ev {
                Ok((t, d)) if session.identified => session.dispatch(&mut socket, &t, d).await,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => false,
            },
        };
    }
    inner.lock().unwrap().open_connections -= 1;
}

/// One gateway connection's state.
#[derive(Default)]
struct Session {
    seq: u64,
    identified: bool,
}

impl Session {
    /// Sends a dispatch with the next sequence number.
    async fn dispatch(&mut self, socket: &mut WebSocket, t: &str, d: Value) -> bool {
        self.seq += 1;
        send(socket, json!({ "op": 0, "t": t, "s": self.seq, "d": d })).await
    }

    /// Answers a frame from the client; `false` when the socket is gone.
    async fn on_frame(&mut self, socket: &mut WebSocket, inner: &Mutex<Inner>, text: &str) -> bool {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return true;
        };
        match v["op"].as_u64() {
            Some(1) => {
                inner.lock().unwrap().heartbeats += 1;
                send(socket, json!({ "op": 11, "s": null, "t": null, "d": null })).await
            }
            Some(2) => {
                let (guilds, ws) = {
                    let mut s = inner.lock().unwrap();
                    s.identifies.push(v["d"].clone());
                    (s.guilds.clone(), s.base_ws.clone())
                };
                let unavailable: Vec<Value> = guilds
                    .iter()
                    .map(|g| json!({ "id": g.to_string(), "unavailable": true }))
                    .collect();
                let ready = json!({
                    "v": 10, "user": bot_user(), "guilds": unavailable,
                    "session_id": "fake-session", "resume_gateway_url": ws, "shard": [0, 1],
                    "application": { "id": APP_ID.to_string(), "flags": 0 }
                });
                if !self.dispatch(socket, "READY", ready).await {
                    return false;
                }
                self.identified = true;
                inner.lock().unwrap().readies += 1;
                for g in guilds {
                    if !self.dispatch(socket, "GUILD_CREATE", guild_json(g)).await {
                        return false;
                    }
                }
                true
            }
            // No resuming here: a fresh session.
            Some(6) => send(socket, json!({ "op": 9, "s": null, "t": null, "d": false })).await,
            _ => true,
        }
    }
}

// ------------------------------------------------------------------- REST

fn error(status: u16, code: i64, message: &str) -> (u16, Value) {
    (status, json!({ "code": code, "message": message }))
}

fn reply((status, body): (u16, Value), headers: Vec<(&'static str, String)>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    let mut r = (status, axum::Json(body)).into_response();
    for (k, v) in headers {
        if let Ok(v) = v.parse() {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

async fn rest(
    State((inner, _)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body: Value = if body.is_empty() {
        Value::Null
    } else if content_type.starts_with("multipart/form-data") {
        multipart_payload(content_type, &body).unwrap_or(Value::String("<no payload_json>".into()))
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::String("<not json>".into()))
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_create = method == Method::POST
        && matches!(
            path.strip_prefix("/api/v10/channels/")
                .map(|r| r.split('/').collect::<Vec<_>>())
                .as_deref(),
            Some([_, "messages"] | [_, "threads"])
        );
    // Decided under the lock, answered (perhaps after a wait) without it.
    let (answer, extra, fault) = {
        let mut s = inner.lock().unwrap();
        let fault = s.create_fault.filter(|_| is_create);
        if fault == Some(CreateFault::NotJson) {
            s.faulted_creates += 1;
            s.requests.push(Request {
                method: method.to_string(),
                path,
                body,
                status: 200,
                auth,
                at: Instant::now(),
            });
            return (
                StatusCode::OK,
                [("content-type", "text/html")],
                "<html><body>Upstream is warming up</body></html>",
            )
                .into_response();
        }
        let (mut answer, extra) = route(&mut s, &method, &path, &body, auth.as_deref());
        if s.echo_auth
            && answer.0 >= 400
            && let Some(m) = answer.1["message"].as_str()
        {
            answer.1["message"] = json!(format!("{m} ({})", auth.as_deref().unwrap_or("")));
        }
        s.requests.push(Request {
            method: method.to_string(),
            path,
            body,
            status: answer.0,
            auth,
            at: Instant::now(),
        });
        if fault.is_some() && answer.0 == 200 {
            s.faulted_creates += 1;
        }
        (answer, extra, fault)
    };
    match fault {
        Some(CreateFault::AcceptThenHang(hold)) => {
            tokio::time::sleep(hold).await;
            reply(answer, extra)
        }
        Some(CreateFault::Truncated) if answer.0 == 200 => {
            let full = answer.1.to_string();
            let cut: String = full.chars().take(full.chars().count() / 2).collect();
            (StatusCode::OK, [("content-type", "application/json")], cut).into_response()
        }
        _ => reply(answer, extra),
    }
}

type Answered = ((u16, Value), Vec<(&'static str, String)>);

fn route(s: &mut Inner, method: &Method, path: &str, body: &Value, auth: Option<&str>) -> Answered {
    let Some(rest) = path.strip_prefix("/api/v10/") else {
        return (error(404, 0, "404: Not Found"), vec![]);
    };
    let parts: Vec<&str> = rest.split('/').collect();
    if parts[0] == "gateway" {
        let url = s.base_ws.clone();
        return (
            (
                200,
                json!({
                    "url": url, "shards": 1,
                    "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1 }
                }),
            ),
            vec![],
        );
    }
    let expected = format!("Bot {}", s.token);
    if auth != Some(expected.as_str()) {
        return (error(401, 0, "401: Unauthorized"), vec![]);
    }
    if let Some(limited) = global_limit(s) {
        return limited;
    }
    let m = method.as_str();
    let ok = |v: Value| ((200, v), vec![]);
    match (m, parts.as_slice()) {
        ("GET", ["users", "@me"]) => ok(bot_user()),
        ("GET", ["oauth2", "applications", "@me"]) => ok(json!({
            "id": APP_ID.to_string(), "name": "ptt-relay", "icon": null, "description": "",
            "bot_public": true, "bot_require_code_grant": false, "verify_key": "00",
            "owner": bot_user(), "team": null, "flags": 0
        })),
        ("PUT", ["applications", app, "commands"]) if *app == APP_ID.to_string() => {
            s.commands.push((path.to_owned(), body.clone()));
            ok(registered(body, None))
        }
        ("PUT", ["applications", app, "guilds", guild, "commands"])
            if *app == APP_ID.to_string() =>
        {
            s.commands.push((path.to_owned(), body.clone()));
            ok(registered(body, Some(guild)))
        }
        ("POST", ["interactions", id, token, "callback"]) => {
            if s.token_to_interaction.get(*token).map(String::as_str) != Some(*id) {
                return (error(404, 10062, "Unknown interaction"), vec![]);
            }
            if s.callbacks.contains_key(*id) {
                return (
                    error(400, 40060, "Interaction has already been acknowledged."),
                    vec![],
                );
            }
            if body["type"] == json!(4)
                && let Some(bad) = validate_message(&body["data"], true)
            {
                return (bad, vec![]);
            }
            s.callbacks.insert((*id).to_owned(), body.clone());
            ((204, Value::Null), vec![])
        }
        (_, ["webhooks", app, token, rest @ ..]) if *app == APP_ID.to_string() => {
            let Some(id) = s.token_to_interaction.get(*token).cloned() else {
                return (error(404, 10015, "Unknown Webhook"), vec![]);
            };
            match (m, rest) {
                ("PATCH", ["messages", "@original"]) => {
                    if let Some(bad) = validate_message(body, false) {
                        return (bad, vec![]);
                    }
                    s.originals.insert(id.clone(), body.clone());
                    let msg = message_json(s, &id, body);
                    ok(msg)
                }
                ("GET", ["messages", "@original"]) => {
                    let b = s.originals.get(&id).cloned().unwrap_or(json!({}));
                    let msg = message_json(s, &id, &b);
                    ok(msg)
                }
                ("DELETE", ["messages", "@original"]) => {
                    s.originals_deleted.insert(id);
                    ((204, Value::Null), vec![])
                }
                ("POST", []) => {
                    if let Some(bad) = validate_message(body, true) {
                        return (bad, vec![]);
                    }
                    s.followups
                        .entry(id.clone())
                        .or_default()
                        .push(body.clone());
                    let msg = message_json(s, &id, body);
                    ok(msg)
                }
                _ => (error(405, 0, "405: Method Not Allowed"), vec![]),
            }
        }
        ("POST", ["channels", channel, "messages"]) => create_message(s, channel, body),
        ("POST", ["channels", channel, "threads"]) => create_thread(s, channel, body),
        ("GET", ["channels", channel, "messages", mid]) => match channel_fault(s, channel) {
            Some(f) => (f, vec![]),
            None => match s.message_bodies.get(*mid) {
                Some(m) if m["channel_id"] == json!(channel) => ok(m.clone()),
                _ => (error(404, 10008, "Unknown Message"), vec![]),
            },
        },
        ("GET", ["guilds", guild]) => {
            let mut g = guild_json(guild.parse().unwrap_or(0));
            g["roles"] = json!([{
                "id": guild, "name": "@everyone", "color": 0, "hoist": false,
                "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
                "icon": null, "unicode_emoji": null, "position": 0,
                "permissions": EVERYONE.to_string(), "managed": false,
                "mentionable": false, "flags": 0
            }]);
            ok(g)
        }
        ("GET", ["guilds", _, "members", user]) if *user == APP_ID.to_string() => ok(json!({
            "user": bot_user(), "nick": null, "avatar": null, "roles": [],
            "joined_at": "2026-01-01T00:00:00.000000+00:00", "premium_since": null,
            "deaf": false, "mute": false, "flags": 0, "pending": false,
            "communication_disabled_until": null
        })),
        ("GET", ["guilds", guild, "threads", "active"]) => {
            let threads: Vec<Value> = s
                .threads
                .iter()
                .filter(|t| !t.deleted)
                .map(|t| thread_json(t, guild))
                .collect();
            ok(json!({ "threads": threads, "members": [] }))
        }
        ("GET", ["channels", channel]) => match channel_fault(s, channel) {
            Some(f) => (f, vec![]),
            None => {
                let guild = s.guilds.first().copied().unwrap_or(0).to_string();
                if let Some(t) = s.threads.iter().find(|t| t.id == *channel) {
                    return ok(thread_json(t, &guild));
                }
                let kind = s.channel_types.get(*channel).copied().unwrap_or(0);
                let guild = s
                    .channel_guilds
                    .get(*channel)
                    .map_or(guild, |g| g.to_string());
                let overwrites: Vec<Value> = s
                    .bot_denied
                    .get(*channel)
                    .map(|deny| json!({
                        "id": APP_ID.to_string(), "type": 1, "allow": "0", "deny": deny.to_string()
                    }))
                    .into_iter()
                    .collect();
                let mut c = json!({
                    "id": channel, "type": kind, "guild_id": guild, "name": "news",
                    "position": 0, "permission_overwrites": overwrites, "nsfw": false,
                    "parent_id": null, "last_message_id": null, "flags": 0
                });
                if let Some(tags) = s.forum_tags.get(*channel) {
                    c["available_tags"] = Value::Array(
                        tags.iter()
                            .map(|(name, id)| {
                                json!({
                                    "id": id, "name": name, "moderated": false,
                                    "emoji_id": null, "emoji_name": null
                                })
                            })
                            .collect(),
                    );
                }
                ((200, c), vec![])
            }
        },
        ("POST", ["channels", channel, "messages", mid, "crosspost"]) => crosspost(s, channel, mid),
        ("PATCH", ["channels", channel, "messages", mid]) => edit_message(s, channel, mid, body),
        _ => (error(404, 0, "404: Not Found"), vec![]),
    }
}

fn registered(body: &Value, guild: Option<&str>) -> Value {
    let items = body.as_array().cloned().unwrap_or_default();
    Value::Array(
        items
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                c["id"] = json!((COMMAND_ID + i as u64).to_string());
                c["application_id"] = json!(APP_ID.to_string());
                c["version"] = json!("1");
                if c.get("type").is_none() {
                    c["type"] = json!(1);
                }
                if let Some(g) = guild {
                    c["guild_id"] = json!(g);
                }
                c
            })
            .collect(),
    )
}

fn global_limit(s: &mut Inner) -> Option<Answered> {
    let now = Instant::now();
    let w = s.limits.global.get_or_insert((now, 0));
    if now.duration_since(w.0) >= Duration::from_secs(1) {
        *w = (now, 0);
    }
    w.1 += 1;
    if w.1 <= GLOBAL_LIMIT {
        return None;
    }
    let after = Duration::from_secs(1).saturating_sub(now.duration_since(w.0));
    Some(too_many(s, after, true, GLOBAL_LIMIT))
}

fn too_many(s: &mut Inner, after: Duration, global: bool, limit: u32) -> Answered {
    s.rate_limited += 1;
    s.first_429_at.get_or_insert(Instant::now());
    let secs = after.as_secs_f64().max(0.001);
    let mut headers = vec![
        ("retry-after", format!("{}", secs.ceil() as u64)),
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", "0".into()),
        ("x-ratelimit-reset-after", format!("{secs:.3}")),
        ("x-ratelimit-bucket", "fake-bucket".into()),
        (
            "x-ratelimit-scope",
            if global { "global" } else { "user" }.into(),
        ),
    ];
    if global {
        headers.push(("x-ratelimit-global", "true".into()));
    }
    (
        (
            429,
            json!({
                "message": "You are being rate limited.",
                "retry_after": secs,
                "global": global,
                "code": 0
            }),
        ),
        headers,
    )
}

fn channel_fault(s: &Inner, channel: &str) -> Option<(u16, Value)> {
    s.faults.get(channel).map(|f| match f {
        ChannelFault::MissingAccess => error(403, 50001, "Missing Access"),
        ChannelFault::UnknownChannel => error(404, 10003, "Unknown Channel"),
        ChannelFault::ServerError => error(500, 0, "500: Internal Server Error"),
    })
}

fn channel_limit(s: &mut Inner, channel: &str) -> Option<Answered> {
    let now = Instant::now();
    let w = s
        .limits
        .per_channel
        .entry(channel.to_owned())
        .or_insert((now, 0));
    if now.duration_since(w.0) >= CHANNEL_WINDOW {
        *w = (now, 0);
    }
    if w.1 >= CHANNEL_LIMIT {
        let after = CHANNEL_WINDOW.saturating_sub(now.duration_since(w.0));
        return Some(too_many(s, after, false, CHANNEL_LIMIT));
    }
    w.1 += 1;
    None
}

fn create_message(s: &mut Inner, channel: &str, body: &Value) -> Answered {
    if let Some(f) = channel_fault(s, channel) {
        return (f, vec![]);
    }
    if s.storm_left > 0 {
        s.storm_left -= 1;
        return too_many(s, Duration::from_millis(1500), false, CHANNEL_LIMIT);
    }
    if let Some(limited) = channel_limit(s, channel) {
        return limited;
    }
    if let Some(bad) = validate_message(body, true) {
        return (bad, vec![]);
    }
    // A channel message may set only SUPPRESS_EMBEDS (4) and
    // SUPPRESS_NOTIFICATIONS (4096) itself (IS_VOICE_MESSAGE too, which we
    // never send).
    if !body["flags"].is_null() && body["flags"].as_u64().is_none_or(|n| n & !(4 | 4096) != 0) {
        let errors = json!({ "flags": { "_errors": [{ "code": "BASE_TYPE_BAD_FLAGS", "message": "Invalid flags" }] } });
        let body = json!({ "code": 50035, "message": "Invalid Form Body", "errors": errors });
        return ((400, body), vec![]);
    }
    let nonce = match &body["nonce"] {
        Value::String(n) => Some(n.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    if body["enforce_nonce"] == json!(true)
        && let Some(n) = &nonce
        && let Some(earlier) = s.nonces.get(&(channel.to_owned(), n.clone()))
    {
        s.nonce_hits += 1;
        return ((200, earlier.clone()), vec![]);
    }
    s.next_id += 1;
    let id = s.next_id.to_string();
    let msg = message_with_id(&id, channel, body);
    s.messages.push(Created {
        id: id.clone(),
        channel: channel.to_owned(),
        body: body.clone(),
        at: Instant::now(),
    });
    s.message_bodies.insert(id, msg.clone());
    if let Some(n) = nonce {
        s.nonces.insert((channel.to_owned(), n), msg.clone());
    }
    ((200, msg), vec![])
}

/// A forum post (thread) as Discord shows it.
fn thread_json(t: &Thread, guild: &str) -> Value {
    json!({
        "id": t.id, "type": 11, "guild_id": guild, "parent_id": t.forum,
        "owner_id": APP_ID.to_string(), "name": t.name, "last_message_id": t.id,
        "position": 0, "permission_overwrites": [], "nsfw": false, "flags": 0,
        "rate_limit_per_user": 0, "message_count": 0, "member_count": 1,
        "total_message_sent": 0, "applied_tags": t.applied_tags,
        "thread_metadata": {
            "archived": false, "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-28T05:30:00.000000+00:00", "locked": false,
            "create_timestamp": "2026-01-28T05:30:00.000000+00:00"
        }
    })
}

/// `POST /channels/{forum}/threads`: a forum post with its starter
/// message (same checks as a message), a name of 1–100 characters, and
/// only the forum's own tags.
fn create_thread(s: &mut Inner, channel: &str, body: &Value) -> Answered {
    if let Some(f) = channel_fault(s, channel) {
        return (f, vec![]);
    }
    if let Some(limited) = channel_limit(s, channel) {
        return limited;
    }
    if s.channel_types.get(channel) != Some(&15) {
        return (
            error(400, 50024, "Cannot execute action on this channel type"),
            vec![],
        );
    }
    let invalid = |field: &str| {
        let errors =
            json!({ field: { "_errors": [{ "code": "BASE_TYPE_BAD", "message": "Invalid" }] } });
        (
            (
                400,
                json!({ "code": 50035, "message": "Invalid Form Body", "errors": errors }),
            ),
            vec![],
        )
    };
    let name = chars(&body["name"]);
    if name == 0 || name > 100 {
        return invalid("name");
    }
    let message = &body["message"];
    if let Some(bad) = validate_message(message, true) {
        return (bad, vec![]);
    }
    if !message["flags"].is_null()
        && message["flags"]
            .as_u64()
            .is_none_or(|n| n & !(4 | 4096) != 0)
    {
        return invalid("message.flags");
    }
    let tags = s.forum_tags.get(channel).cloned().unwrap_or_default();
    let applied: Vec<String> = body["applied_tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if applied.iter().any(|a| !tags.iter().any(|(_, id)| id == a)) {
        return invalid("applied_tags");
    }
    s.next_id += 1;
    let id = s.next_id.to_string();
    let starter = message_with_id(&id, &id, message);
    s.message_bodies.insert(id.clone(), starter.clone());
    let thread = Thread {
        id: id.clone(),
        forum: channel.to_owned(),
        name: body["name"].as_str().unwrap_or("").to_owned(),
        applied_tags: applied,
        message: message.clone(),
        deleted: false,
        at: Instant::now(),
    };
    let guild = s.guilds.first().copied().unwrap_or(0).to_string();
    let mut answer = thread_json(&thread, &guild);
    answer["message"] = starter;
    s.threads.push(thread);
    ((200, answer), vec![])
}

/// The `payload_json` part of a multipart body (how serenity sends a
/// forum post).
fn multipart_payload(content_type: &str, body: &[u8]) -> Option<Value> {
    let boundary = content_type.split("boundary=").nth(1)?.trim_matches('"');
    let text = String::from_utf8_lossy(body);
    text.split(&format!("--{boundary}")).find_map(|part| {
        let (head, content) = part.split_once("\r\n\r\n")?;
        if !head.contains("name=\"payload_json\"") {
            return None;
        }
        serde_json::from_str(content.trim_end_matches("\r\n")).ok()
    })
}

/// Discord's publish limit: 10 crossposts an hour per channel.
pub const PUBLISH_LIMIT: usize = 10;
const PUBLISH_WINDOW: Duration = Duration::from_secs(3600);

/// `POST /channels/{id}/messages/{mid}/crosspost`: only in an announcement
/// channel, once per message, 10 an hour per channel (then a 429 until the
/// oldest of the hour's ten is an hour old).
fn crosspost(s: &mut Inner, channel: &str, mid: &str) -> Answered {
    if let Some(f) = channel_fault(s, channel) {
        return (f, vec![]);
    }
    let Some(msg) = s.message_bodies.get(mid).cloned() else {
        return (error(404, 10008, "Unknown Message"), vec![]);
    };
    if msg["channel_id"] != json!(channel) {
        return (error(404, 10008, "Unknown Message"), vec![]);
    }
    if s.channel_types.get(channel) != Some(&5) {
        return (error(400, 50068, "Invalid message type"), vec![]);
    }
    if msg["flags"].as_u64().unwrap_or(0) & 1 != 0 {
        return (
            error(400, 40033, "This message has already been crossposted"),
            vec![],
        );
    }
    let now = Instant::now();
    let hour: Vec<Instant> = s
        .crossposts
        .iter()
        .filter(|(c, _, at)| c == channel && now.duration_since(*at) < PUBLISH_WINDOW)
        .map(|(_, _, at)| *at)
        .collect();
    if hour.len() >= PUBLISH_LIMIT {
        let after = PUBLISH_WINDOW.saturating_sub(now.duration_since(hour[0]));
        return too_many(s, after, false, PUBLISH_LIMIT as u32);
    }
    s.crossposts.push((channel.to_owned(), mid.to_owned(), now));
    let mut published = msg;
    published["flags"] = json!(published["flags"].as_u64().unwrap_or(0) | 1);
    s.message_bodies.insert(mid.to_owned(), published.clone());
    ((200, published), vec![])
}

fn edit_message(s: &mut Inner, channel: &str, mid: &str, body: &Value) -> Answered {
    if let Some(f) = channel_fault(s, channel) {
        return (f, vec![]);
    }
    if let Some(limited) = channel_limit(s, channel) {
        return limited;
    }
    let known = s
        .message_bodies
        .get(mid)
        .is_some_and(|m| m["channel_id"] == json!(channel));
    if !known {
        return (error(404, 10008, "Unknown Message"), vec![]);
    }
    if let Some(bad) = validate_message(body, false) {
        return (bad, vec![]);
    }
    s.edits
        .push((channel.to_owned(), mid.to_owned(), body.clone()));
    let msg = message_with_id(mid, channel, body);
    s.message_bodies.insert(mid.to_owned(), msg.clone());
    ((200, msg), vec![])
}

fn message_json(s: &mut Inner, channel: &str, body: &Value) -> Value {
    s.next_id += 1;
    let id = s.next_id.to_string();
    message_with_id(&id, channel, body)
}

fn message_with_id(id: &str, channel: &str, body: &Value) -> Value {
    json!({
        "id": id, "channel_id": channel, "author": bot_user(),
        "content": body["content"].as_str().unwrap_or(""),
        "timestamp": "2026-01-28T05:30:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": body["embeds"].as_array().cloned().unwrap_or_default(),
        "pinned": false, "type": 0, "flags": body["flags"].as_u64().unwrap_or(0),
        "nonce": body["nonce"].clone()
    })
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Discord's checks of a message body: `Some(400 answer)` when invalid.
/// A new message (`new`) must have content or an embed.
pub fn validate_message(body: &Value, new: bool) -> Option<(u16, Value)> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let content = chars(&body["content"]);
    if content > 2000 {
        problems.push(("content".into(), "Must be 2000 or fewer in length.".into()));
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        problems.push(("embeds".into(), "Must be 10 or fewer in length.".into()));
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let check = |problems: &mut Vec<(String, String)>, field: &str, n: usize, max: usize| {
            if n > max {
                problems.push((
                    format!("embeds.{i}.{field}"),
                    format!("Must be {max} or fewer in length."),
                ));
            }
        };
        let title = chars(&e["title"]);
        let description = chars(&e["description"]);
        let footer = chars(&e["footer"]["text"]);
        let author = chars(&e["author"]["name"]);
        check(&mut problems, "title", title, 256);
        check(&mut problems, "description", description, 4096);
        check(&mut problems, "footer.text", footer, 2048);
        check(&mut problems, "author.name", author, 256);
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        check(&mut problems, "fields", fields.len(), 25);
        let mut field_chars = 0;
        for (j, f) in fields.iter().enumerate() {
            let name = chars(&f["name"]);
            let value = chars(&f["value"]);
            if name == 0 || value == 0 {
                problems.push((
                    format!("embeds.{i}.fields.{j}"),
                    "This field is required".into(),
                ));
            }
            check(&mut problems, &format!("fields.{j}.name"), name, 256);
            check(&mut problems, &format!("fields.{j}.value"), value, 1024);
            field_chars += name + value;
        }
        total += title + description + footer + author + field_chars;
    }
    if total > 6000 {
        problems.push((
            "embeds".into(),
            "Embed size exceeds maximum size of 6000".into(),
        ));
    }
    match &body["nonce"] {
        Value::String(n) if n.chars().count() > 25 => {
            problems.push(("nonce".into(), "Must be 25 or fewer in length.".into()))
        }
        Value::Null | Value::String(_) | Value::Number(_) => {}
        _ => problems.push(("nonce".into(), "Invalid nonce".into())),
    }
    if let Some(parse) = body["allowed_mentions"]["parse"].as_array()
        && parse
            .iter()
            .any(|p| !matches!(p.as_str(), Some("users" | "roles" | "everyone")))
    {
        problems.push(("allowed_mentions.parse".into(), "Invalid value".into()));
    }
    if new && problems.is_empty() && content == 0 && embeds.is_empty() {
        return Some(error(400, 50006, "Cannot send an empty message"));
    }
    if problems.is_empty() {
        return None;
    }
    let mut errors = serde_json::Map::new();
    for (path, message) in &problems {
        errors.insert(
            path.clone(),
            json!({ "_errors": [{ "code": "BASE_TYPE_MAX_LENGTH", "message": message }] }),
        );
    }
    Some((
        400,
        json!({ "code": 50035, "message": "Invalid Form Body", "errors": errors }),
    ))
}
