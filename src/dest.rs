//! Where a digest goes: a platform, a chat, and optionally a thread or topic.

use std::fmt;

/// A chat platform (or the console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// Telegram.
    Telegram,
    /// Discord.
    Discord,
    /// The console sink (stdout).
    Console,
}

impl Platform {
    /// The name stored in the database and shown in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Console => "console",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "telegram" => Some(Platform::Telegram),
            "discord" => Some(Platform::Discord),
            "console" => Some(Platform::Console),
            _ => None,
        }
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
        Destination::chat(Platform::Console, "stdout")
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
