//! `top:N` leaderboards (DESIGN.md, "Delivery options, channel kinds and
//! investor words"): one message per Taipei day per `top:` subscription,
//! ranking the day's posts matching its other words by net push.
//!
//! The message is posted once the day has a qualifying post, edited when
//! the ranking changes (at most once per [`LeaderboardOptions::edit_every`],
//! so that changes in between make one edit with the latest numbers), and
//! edited a last time after 00:00 +08:00 to show the day's final ranking;
//! the next day's qualifying post starts a new one. The numbers are the
//! tallies the tracker keeps live: a qualifying post is tracked like a
//! relayed one, re-counted from its article when its index marker changes
//! (also at `爆`, where the marker no longer says by how much) and on the
//! tracker's schedule. Posts, edits and the final edit go through the
//! platform's sink, paced with everything else; the leader runs this.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::chat::{ChatSink, SendOutcome};
use crate::clock::now_secs;
use crate::commands::Lang;
use crate::commands::i18n::fill;
use crate::dest::{Destination, Platform};
use crate::digest::Digest;
use crate::digest::ranking::{DAY_LIMIT, Leaderboard, rank};
use crate::filter::Filter;
use crate::ptt::Board;
use crate::ptt::time::{taipei, taipei_day};
use crate::store::{LeaderboardMessage, Store, StoreError, Subscription};

/// The least time between two edits of one leaderboard (DESIGN.md: at
/// most one edit per 5 minutes).
pub const EDIT_EVERY: Duration = Duration::from_secs(300);

/// Past days' leaderboards finished in one round, at most.
const FINALS_PER_ROUND: usize = 50;

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct LeaderboardOptions {
    /// The least time between two edits of one message ([`EDIT_EVERY`]).
    pub edit_every: Duration,
    /// How often the worker looks when nothing wakes it (a new day's
    /// final edits wait at most this long).
    pub round: Duration,
    /// The language of the headings (`bot.locale`).
    pub lang: Lang,
}

impl Default for LeaderboardOptions {
    fn default() -> Self {
        LeaderboardOptions {
            edit_every: EDIT_EVERY,
            round: Duration::from_secs(30),
            lang: Lang::default(),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Leaderboards posted.
    pub posted: usize,
    /// Leaderboards edited (final edits included).
    pub edited: usize,
    /// Past days' leaderboards made final.
    pub finished: usize,
}

/// Keeps every `top:` subscription's leaderboard of the day.
pub struct Leaderboards {
    store: Arc<dyn Store>,
    sinks: HashMap<Platform, Arc<dyn ChatSink>>,
    boards: Vec<Board>,
    options: LeaderboardOptions,
    wake: Arc<Notify>,
}

impl Leaderboards {
    /// A worker over the boards' subscriptions, posting through `sinks`.
    pub fn new(
        store: Arc<dyn Store>,
        sinks: &[Arc<dyn ChatSink>],
        boards: Vec<Board>,
        options: LeaderboardOptions,
    ) -> Self {
        Leaderboards {
            store,
            sinks: sinks
                .iter()
                .map(|s| (s.platform(), Arc::clone(s)))
                .collect(),
            boards,
            options,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Notified when a post counts for a leaderboard: the worker looks at
    /// once.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Runs rounds until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let round = tokio::select! {
                r = self.round(now_secs()) => r,
                () = shutdown.cancelled() => break,
            };
            if let Err(e) = round {
                tracing::error!(error = %e, "cannot bring the leaderboards up to date");
            }
            tokio::select! {
                () = tokio::time::sleep(self.options.round) => {}
                () = self.wake.notified() => {}
                () = shutdown.cancelled() => break,
            }
        }
        tracing::debug!("leaderboard worker stopped");
    }

    /// One round at `now` (Unix seconds): past days' leaderboards get
    /// their final edit, then each `top:` subscription's leaderboard of
    /// today is posted or brought up to date. A platform's failure leaves
    /// its message for the next round; `Err` only when the store fails.
    pub async fn round(&self, now: i64) -> Result<RoundReport, StoreError> {
        let mut report = RoundReport::default();
        let (day_start, day) = taipei_day(now);
        let today = day.format("%Y-%m-%d").to_string();
        for message in self
            .store
            .open_leaderboard_messages(&today, FINALS_PER_ROUND)
            .await?
        {
            self.finish(message, now, &mut report).await?;
        }
        for board in &self.boards {
            let subs: Vec<Subscription> = self
                .store
                .subscriptions_for_board(board)
                .await?
                .into_iter()
                .filter(|s| s.filter.top.is_some() && !s.paused)
                .collect();
            if subs.is_empty() {
                continue;
            }
            let digests = self
                .store
                .digests_since(std::slice::from_ref(board), day_start, DAY_LIMIT)
                .await?;
            for sub in &subs {
                self.keep(sub, &digests, day, &today, now, &mut report)
                    .await?;
            }
        }
        Ok(report)
    }

    /// Posts or updates one subscription's leaderboard of today.
    async fn keep(
        &self,
        sub: &Subscription,
        digests: &[(Digest, i64)],
        day: NaiveDate,
        today: &str,
        now: i64,
        report: &mut RoundReport,
    ) -> Result<(), StoreError> {
        let words = sub.filter.canonical();
        let existing = self
            .store
            .leaderboard_message(&sub.dest, &sub.board, &words, today)
            .await?;
        let posts = ranking(&sub.board, &sub.filter, digests, day);
        let board = Leaderboard {
            key: key(&sub.board, today, &words),
            name: name(&sub.board, today),
            silent: sub.filter.silent,
            heading: fill(
                self.options.lang.texts().leaderboard_live,
                &[
                    ("board", sub.board.as_str()),
                    ("day", today),
                    ("time", &clock_time(now)),
                ],
            ),
            posts,
        };
        let shown = board.fingerprint();
        let mut message = match existing {
            Some(m) if m.is_final => return Ok(()),
            Some(m) => m,
            // Nothing qualifies yet: no message today so far.
            None if board.posts.is_empty() => return Ok(()),
            None => LeaderboardMessage {
                dest: sub.dest.clone(),
                board: sub.board.clone(),
                words,
                day: today.to_owned(),
                message_id: None,
                shown: String::new(),
                edited_at: now,
                is_final: false,
            },
        };
        let Some(sink) = self.sink(&sub.dest) else {
            return Ok(());
        };
        let Some(id) = message.message_id.clone() else {
            let outcome = sink.post_leaderboard(&sub.dest, &board).await;
            if let SendOutcome::Sent { message_id } = &outcome {
                tracing::info!(chat = %sub.dest, board = %sub.board, day = today, "leaderboard posted");
                message.message_id = Some(message_id.clone());
                message.shown = shown;
                message.edited_at = now;
                // Taken, but its id could not be read: it cannot be
                // edited, and posting it again would show it twice.
                message.is_final = message_id.is_empty();
                report.posted += 1;
            } else {
                self.failed(&mut message, &outcome, "post", now).await?;
            }
            return self.store.put_leaderboard_message(&message).await;
        };
        let rested = now - message.edited_at >= secs(self.options.edit_every);
        if message.shown == shown || !rested {
            return Ok(());
        }
        let outcome = sink.edit_leaderboard(&sub.dest, &id, &board).await;
        if matches!(outcome, SendOutcome::Sent { .. }) {
            message.shown = shown;
            message.edited_at = now;
            report.edited += 1;
        } else {
            self.failed(&mut message, &outcome, "edit", now).await?;
        }
        self.store.put_leaderboard_message(&message).await
    }

    /// The final edit of a past day's leaderboard: its heading says so and
    /// its ranking is the day's last.
    async fn finish(
        &self,
        mut message: LeaderboardMessage,
        now: i64,
        report: &mut RoundReport,
    ) -> Result<(), StoreError> {
        let day = NaiveDate::parse_from_str(&message.day, "%Y-%m-%d").ok();
        let filter = Filter::parse_str(&message.words).ok();
        let sink = self.sink(&message.dest);
        let (Some(day), Some(filter), Some(sink), Some(id)) =
            (day, filter, sink, message.message_id.clone())
        else {
            // Never posted, or nothing left to edit it with: it stays as
            // it is.
            message.is_final = true;
            report.finished += 1;
            return self.store.put_leaderboard_message(&message).await;
        };
        let start = day_start(day);
        let digests = self
            .store
            .digests_since(std::slice::from_ref(&message.board), start, DAY_LIMIT)
            .await?;
        let board = Leaderboard {
            key: key(&message.board, &message.day, &message.words),
            name: name(&message.board, &message.day),
            silent: filter.silent,
            heading: fill(
                self.options.lang.texts().leaderboard_final,
                &[("board", message.board.as_str()), ("day", &message.day)],
            ),
            posts: ranking(&message.board, &filter, &digests, day),
        };
        let outcome = sink.edit_leaderboard(&message.dest, &id, &board).await;
        match outcome {
            SendOutcome::Sent { .. } => {
                tracing::info!(chat = %message.dest, board = %message.board, day = %message.day, "leaderboard final");
                message.shown = board.fingerprint();
                message.edited_at = now;
                message.is_final = true;
                report.edited += 1;
            }
            other => self.failed(&mut message, &other, "final edit", now).await?,
        }
        if message.is_final {
            report.finished += 1;
        }
        self.store.put_leaderboard_message(&message).await
    }

    /// What a failed post or edit means for the message: one refused for
    /// good (or a message that can no longer be edited) is left alone
    /// from now on; a chat gone is paused, as the outbox does, and its
    /// leaderboard left alone too; a moved chat moves; anything else is
    /// tried again next round.
    async fn failed(
        &self,
        message: &mut LeaderboardMessage,
        outcome: &SendOutcome,
        what: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let dest = &message.dest;
        match outcome {
            SendOutcome::Sent { .. } => {}
            SendOutcome::RateLimited { retry_after } => {
                tracing::debug!(chat = %dest, ?retry_after, what, "leaderboard rate limited; next round");
            }
            SendOutcome::Transient(why) => {
                tracing::warn!(chat = %dest, reason = %why, what, "leaderboard failed; next round");
            }
            SendOutcome::Rejected(why) => {
                tracing::warn!(chat = %dest, reason = %why, what, "leaderboard refused; leaving it for the day");
                message.is_final = true;
            }
            SendOutcome::DestinationGone(why) => {
                tracing::warn!(chat = %dest, reason = %why, what, "leaderboard's chat is gone; pausing it");
                self.store
                    .pause_chat(dest.platform, &dest.chat, why, now)
                    .await?;
                message.is_final = true;
            }
            SendOutcome::Migrated { to } => {
                tracing::info!(chat = %dest, to = %to, "leaderboard's chat moved");
                self.store.move_chat(dest.platform, &dest.chat, to).await?;
                message.dest.chat.clone_from(to);
            }
        }
        Ok(())
    }

    fn sink(&self, dest: &Destination) -> Option<&Arc<dyn ChatSink>> {
        let sink = self.sinks.get(&dest.platform);
        if sink.is_none() {
            tracing::debug!(chat = %dest, "no sink for a leaderboard's platform");
        }
        sink
    }
}

/// The ranking of `filter`'s posts of `board` on `day`.
fn ranking(
    board: &Board,
    filter: &Filter,
    digests: &[(Digest, i64)],
    day: NaiveDate,
) -> Vec<Digest> {
    let n = usize::from(filter.top.unwrap_or(crate::filter::TOP_MAX));
    rank(
        digests.to_vec(),
        day,
        |d| board.eq_ignore_case(&d.board) && filter.matches(d),
        n,
    )
}

/// The leaderboard's name among a destination's: its board, day and
/// words.
fn key(board: &Board, day: &str, words: &str) -> String {
    format!("top {board} {day} {words}")
}

/// A short name for a leaderboard: `📊 Stock 2026-12-01`.
fn name(board: &Board, day: &str) -> String {
    format!("📊 {board} {day}")
}

/// When `day` (+08:00) starts, in Unix seconds.
fn day_start(day: NaiveDate) -> i64 {
    use chrono::TimeZone;
    taipei()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .map_or(0, |t| t.timestamp())
}

/// `HH:MM` of `now` in +08:00.
fn clock_time(now: i64) -> String {
    use chrono::TimeZone;
    taipei()
        .timestamp_opt(now, 0)
        .single()
        .map_or_else(String::new, |t| t.format("%H:%M").to_string())
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
