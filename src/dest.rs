//! Where a digest goes: a platform, a chat, and optionally a thread or topic.

use std::fmt;

/// A chat platform's id (`telegram`, `discord`, `console`, …): the name its
/// rows carry in the store, its config section, its `preview --format` and
/// its metrics label. Each platform folder defines its own
/// (`chat::telegram::ID`); this module knows only the console's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform(&'static str);

/// Names read back from the store, each kept once (a handful at most).
static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl Platform {
    /// The console sink (stdout).
    pub const CONSOLE: Platform = Platform("console");

    /// A platform id written in the code: lowercase ASCII letters, digits
    /// and `_` (see [`parse`](Self::parse)).
    pub const fn new(name: &'static str) -> Platform {
        Platform(name)
    }

    /// The name stored in the database and shown in logs.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// A stored name as an id: 1–32 lowercase ASCII letters, digits or
    /// `_`, starting with a letter; `None` otherwise.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (1..=32).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return None;
        }
        let mut names = NAMES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = names.get(s) {
            return Some(Platform(known));
        }
        let name: &'static str = Box::leak(s.to_owned().into_boxed_str());
        names.insert(name);
        Some(Platform(name))
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place digests are delivered to: a chat, or a topic/thread inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    /// The platform.
    pub platform: Platform,
    /// The chat (Telegram chat id, Discord channel id, `stdout`).
    pub chat: String,
    /// A Telegram topic (`message_thread_id`) or Discord thread, if any.
    pub thread: Option<String>,
}

impl Destination {
    /// A destination without a thread.
    pub fn chat(platform: Platform, chat: impl Into<String>) -> Self {
        Destination {
            platform,
            chat: chat.into(),
            thread: None,
        }
    }

    /// The console sink's one destination.
    pub fn console() -> Self {
        Destination::chat(Platform::CONSOLE, "stdout")
    }

    /// The thread as stored (`""` for none, so it can be part of a key).
    pub fn thread_key(&self) -> &str {
        self.thread.as_deref().unwrap_or("")
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.thread {
            Some(t) => write!(f, "{}:{}/{}", self.platform, self.chat, t),
            None => write!(f, "{}:{}", self.platform, self.chat),
        }
    }
}
