//! Announcement channels: the two budgets of publishing (crossposting) there — Discord's 10 publishes
//! an hour per channel, and at most 3 edits an hour of a published message
//! (each edit of a published message goes out again to every following
//! server).
//!
//! Both budgets are kept in this process's memory: after a restart (or on
//! another replica) a channel may get up to a fresh hour's budget; Discord's
//! own limit then answers 429, which is counted as a skipped publish too.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Publishes an hour per announcement channel (Discord's limit).
pub const PUBLISH_PER_HOUR: usize = 10;
/// Tally edits an hour per published message.
pub const EDITS_PER_HOUR: usize = 3;
const HOUR: Duration = Duration::from_secs(3600);
/// Published messages remembered for their edit budget (the oldest are
/// forgotten first: a post's tally is tracked for hours, not days).
const PUBLISHED_MAX: usize = 10_000;

/// A sliding hour's events.
#[derive(Debug, Default)]
struct Window(VecDeque<Instant>);

impl Window {
    /// Takes a slot of `max` an hour at `now`, or says how long until one
    /// frees up.
    fn take(&mut self, max: usize, now: Instant) -> Result<(), Duration> {
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HOUR)
        {
            self.0.pop_front();
        }
        if self.0.len() >= max {
            let oldest = self.0.front().copied().unwrap_or(now);
            return Err(HOUR.saturating_sub(now.duration_since(oldest)));
        }
        self.0.push_back(now);
        Ok(())
    }
}

/// Publish budgets of one Discord sink.
#[derive(Debug, Default)]
pub struct Publishing {
    /// Channel id → its publishes in the last hour.
    publishes: Mutex<HashMap<String, Window>>,
    /// Published message id → its edits in the last hour; with the order
    /// they were published, to forget the oldest.
    edits: Mutex<(HashMap<String, Window>, VecDeque<String>)>,
}

impl Publishing {
    /// Takes one of the channel's publishes of this hour; `false` when
    /// the hour's [`PUBLISH_PER_HOUR`] are used up.
    pub fn take_publish(&self, channel: &str) -> bool {
        lock(&self.publishes)
            .entry(channel.to_owned())
            .or_default()
            .take(PUBLISH_PER_HOUR, Instant::now())
            .is_ok()
    }

    /// Remembers a published message (its edits are budgeted from now).
    pub fn published(&self, message_id: &str) {
        let mut guard = lock(&self.edits);
        let (windows, order) = &mut *guard;
        if windows
            .insert(message_id.to_owned(), Window::default())
            .is_none()
        {
            order.push_back(message_id.to_owned());
        }
        while order.len() > PUBLISHED_MAX {
            if let Some(old) = order.pop_front() {
                windows.remove(&old);
            }
        }
    }

    /// Takes one of a message's edits of this hour: `Ok` for a message
    /// not published (no budget) or one with an edit left; `Err(wait)`
    /// until the next one frees up.
    pub fn take_edit(&self, message_id: &str) -> Result<(), Duration> {
        match lock(&self.edits).0.get_mut(message_id) {
            Some(w) => w.take(EDITS_PER_HOUR, Instant::now()),
            None => Ok(()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_publishes_and_three_edits_an_hour() {
        let p = Publishing::default();
        for _ in 0..PUBLISH_PER_HOUR {
            assert!(p.take_publish("1"));
        }
        assert!(!p.take_publish("1"), "the 11th of the hour");
        assert!(p.take_publish("2"), "another channel has its own budget");
        p.published("m");
        for _ in 0..EDITS_PER_HOUR {
            assert_eq!(p.take_edit("m"), Ok(()));
        }
        let wait = p.take_edit("m").unwrap_err();
        assert!(wait > Duration::from_secs(3500), "{wait:?}");
        assert_eq!(p.take_edit("unpublished"), Ok(()));
        tokio::time::advance(HOUR).await;
        assert!(p.take_publish("1"));
        assert_eq!(p.take_edit("m"), Ok(()));
    }
}
