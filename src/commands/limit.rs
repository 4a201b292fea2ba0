//! The per-chat command rate limit, kept once for every platform: at most
//! [`PER_WINDOW`] commands a minute per chat are answered; the next one gets
//! one "slow down" reply and the rest of that minute is ignored.
//!
//! The window is fixed: it opens with a chat's first command and lasts
//! [`WINDOW`]; the next command after it opens a new one. Times are on
//! tokio's clock, so a paused clock drives the limit as real time does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::dest::{Destination, Platform};

/// Commands answered per chat in one window.
pub const PER_WINDOW: u32 = 10;
/// The window the limit counts in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What to do with a command, by its chat's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Answer it.
    Answer,
    /// Do not handle it; answer once that the chat should slow down.
    SlowDown,
    /// Do not handle or answer it (the chat was told to slow down).
    Ignore,
}

/// One chat's window.
#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    count: u32,
}

/// Counts commands per chat (platform and chat id; a chat's topics and
/// threads share its limit).
#[derive(Debug)]
pub(super) struct CommandLimiter {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    windows: HashMap<(Platform, String), Window>,
    /// When closed windows were last dropped (keeps memory to the chats
    /// active within about two windows).
    swept: Instant,
}

impl CommandLimiter {
    pub(super) fn new() -> Self {
        CommandLimiter {
            state: Mutex::new(State {
                windows: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }

    /// Counts a command from `from`'s chat and says what to do with it.
    pub(super) fn admit(&self, from: &Destination) -> Admission {
        let now = Instant::now();
        let Ok(mut s) = self.state.lock() else {
            return Admission::Answer;
        };
        if now.duration_since(s.swept) >= WINDOW {
            s.windows
                .retain(|_, w| now.duration_since(w.opened) < WINDOW);
            s.swept = now;
        }
        let w = s
            .windows
            .entry((from.platform, from.chat.clone()))
            .or_insert(Window {
                opened: now,
                count: 0,
            });
        if now.duration_since(w.opened) >= WINDOW {
            *w = Window {
                opened: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        match w.count {
            n if n <= PER_WINDOW => Admission::Answer,
            n if n == PER_WINDOW + 1 => Admission::SlowDown,
            _ => Admission::Ignore,
        }
    }

    /// How many chats are counted now (tests).
    #[cfg(test)]
    fn chats(&self) -> usize {
        self.state.lock().map_or(0, |s| s.windows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(id: &str) -> Destination {
        Destination::chat(Platform::new("telegram"), id)
    }

    #[tokio::test(start_paused = true)]
    async fn ten_a_minute_then_one_slow_down_then_silence_until_the_window_ends() {
        let l = CommandLimiter::new();
        let a = chat("1");
        let got: Vec<Admission> = (0..13).map(|_| l.admit(&a)).collect();
        assert!(got[..10].iter().all(|x| *x == Admission::Answer));
        assert_eq!(got[10], Admission::SlowDown);
        assert_eq!(got[11..], [Admission::Ignore, Admission::Ignore]);
        // Another chat, and another platform's chat of the same id, count
        // on their own; a topic of the chat does not.
        assert_eq!(l.admit(&chat("2")), Admission::Answer);
        assert_eq!(
            l.admit(&Destination::chat(Platform::new("discord"), "1")),
            Admission::Answer
        );
        let topic = Destination {
            thread: Some("7".into()),
            ..a.clone()
        };
        assert_eq!(l.admit(&topic), Admission::Ignore);
        tokio::time::advance(WINDOW - Duration::from_millis(1)).await;
        assert_eq!(l.admit(&a), Admission::Ignore);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(l.admit(&a), Admission::Answer);
    }

    #[tokio::test(start_paused = true)]
    async fn closed_windows_are_forgotten() {
        let l = CommandLimiter::new();
        for i in 0..100 {
            l.admit(&chat(&i.to_string()));
        }
        assert_eq!(l.chats(), 100);
        tokio::time::advance(WINDOW).await;
        l.admit(&chat("x"));
        assert_eq!(l.chats(), 1);
    }
}
