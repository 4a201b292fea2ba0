//! Live reaction tallies: tracked posts are every relayed post and every
//! `push:N` candidate, for `relay.track_hours`. Two triggers re-count a
//! post's pushes from its article: a changed push marker on a polled index
//! page, and a schedule (first at `relay.track_first_secs`, doubling up to
//! `relay.track_max_step_secs`) that covers relayed posts off the page. A
//! candidate costs no article fetch until its marker reaches N. Re-checks
//! use the lowest priority of the shared PTT budget.
//!
//! `hot:N/M` candidates (posts matching a `hot:` subscription's words) are
//! tracked too: while their marker changes, the ranges it allows are kept
//! as push samples, and the article is read only when the samples say the
//! rise may have happened ([`super::hot`]); the read's count decides, and
//! a post that caught fire is relayed once to each such subscription.
//!
//! While a board has a `top:` leaderboard, a relayed post standing at `爆`
//! is also re-counted every `boom_recount` (5 minutes): the marker no
//! longer tells how it ranks among the others at 100 or more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::hot;
use super::router::Router;
use crate::clock::now_secs;
use crate::digest::Digest;
use crate::filter::Hot;
use crate::ptt::budget::Priority;
use crate::ptt::client::{FetchError, PttClient};
use crate::ptt::{Board, IndexRow, PostId, PushMarker, Tally, page_is_complete, parse_article};
use crate::store::{PUSH_SAMPLE_SECS, PushSample, Store, StoreError, TrackStart, TrackedPost};
use crate::telemetry::status::RuntimeStatus;

/// Tracking settings.
#[derive(Debug, Clone, Copy)]
pub struct TallyOptions {
    /// How long a post is tracked.
    pub window: Duration,
    /// The first scheduled re-check.
    pub first_step: Duration,
    /// The largest step of the schedule.
    pub max_step: Duration,
    /// The length of a minute of `hot:N/M` (60 s; tests shorten it).
    pub hot_minute: Duration,
    /// While its board has a `top:` leaderboard, how often a relayed post
    /// standing at `爆` is re-counted ([`BOOM_RECOUNT`]; tests shorten it).
    pub boom_recount: Duration,
}

impl TallyOptions {
    /// The step after `step`: doubled, at most `max_step`.
    pub fn next_step(&self, step: i64) -> i64 {
        step.saturating_mul(2)
            .min(self.max_step.as_secs() as i64)
            .max(1)
    }

    /// How many scheduled re-checks one relayed post gets over the window
    /// (the cost of the schedule, without marker-triggered checks).
    pub fn scheduled_checks(&self) -> u64 {
        let window = self.window.as_secs() as i64;
        let mut step = self.first_step.as_secs() as i64;
        let mut at = step;
        let mut n = 0;
        while at < window {
            n += 1;
            step = self.next_step(step);
            at += step;
        }
        n
    }
}

/// How often a relayed post standing at `爆` is re-counted while its
/// board has a `top:` leaderboard: as often as a leaderboard may be
/// edited.
pub const BOOM_RECOUNT: Duration = Duration::from_secs(300);

/// The net-push bound a marker proves, when positive.
fn marker_reaches(marker: &PushMarker, n: u32) -> bool {
    !marker.is_negative() && i64::from(marker.bound()) >= i64::from(n)
}

/// Keeps tallies live and fires `push:N` subscriptions.
pub struct Tracker {
    store: Arc<dyn Store>,
    client: PttClient,
    router: Arc<Router>,
    options: TallyOptions,
    status: Arc<RuntimeStatus>,
    /// Outbox workers, woken when a hot post is queued.
    wake_outbox: Vec<Arc<Notify>>,
    /// Edit workers, woken when edits are queued.
    wake_edits: Vec<Arc<Notify>>,
    wake_self: Notify,
    /// When each board's index was last observed: a marker that changed
    /// since still showed its old value then.
    observed_at: Mutex<HashMap<Board, i64>>,
}

impl Tracker {
    /// A tracker.
    pub fn new(
        store: Arc<dyn Store>,
        client: PttClient,
        router: Arc<Router>,
        options: TallyOptions,
        status: Arc<RuntimeStatus>,
        wake_outbox: Vec<Arc<Notify>>,
        wake_edits: Vec<Arc<Notify>>,
    ) -> Self {
        Tracker {
            store,
            client,
            router,
            options,
            status,
            wake_outbox,
            wake_edits,
            wake_self: Notify::new(),
            observed_at: Mutex::new(HashMap::new()),
        }
    }

    fn start<'a>(
        &self,
        board: &'a Board,
        id: &'a PostId,
        marker: &'a str,
        relayed: bool,
        threshold: Option<u32>,
        tally: Option<Tally>,
    ) -> TrackStart<'a> {
        let now = now_secs();
        TrackStart {
            board,
            id,
            relayed,
            threshold,
            hot: false,
            marker,
            tally,
            now,
            until_at: now + self.options.window.as_secs() as i64,
            first_step_secs: self.options.first_step.as_secs().max(1) as i64,
        }
    }

    /// A post was relayed: keep its messages' tally live.
    pub async fn track_relayed(
        &self,
        board: &Board,
        id: &PostId,
        marker: &str,
        tally: Tally,
    ) -> Result<(), StoreError> {
        self.store
            .track(&self.start(board, id, marker, true, None, Some(tally)))
            .await
    }

    /// A post matches every word but `push:` of a `push:N` subscription and
    /// is not hot yet.
    pub async fn track_candidate(
        &self,
        board: &Board,
        id: &PostId,
        marker: &str,
        threshold: u32,
        tally: Option<Tally>,
    ) -> Result<(), StoreError> {
        self.store
            .track(&self.start(board, id, marker, false, Some(threshold), tally))
            .await
    }

    /// A post matches the words of a `hot:N/M` subscription: keep its
    /// push samples, starting with what its marker shows now.
    pub async fn track_hot(
        &self,
        board: &Board,
        id: &PostId,
        marker: &PushMarker,
    ) -> Result<(), StoreError> {
        let start = TrackStart {
            hot: true,
            ..self.start(board, id, &marker.raw, false, None, None)
        };
        self.store.track(&start).await?;
        let (lo, hi) = marker.range();
        self.store
            .record_push_sample(
                board,
                id,
                PushSample {
                    at: start.now,
                    lo,
                    hi,
                },
            )
            .await
    }

    /// Compares the markers of a polled index page with the last ones seen;
    /// a change queues a re-count (for a `push:N` candidate, only once the
    /// marker reaches its N; for a `hot:` candidate, only once its samples
    /// say the rise may have happened).
    pub async fn observe_index(&self, board: &Board, rows: &[IndexRow]) -> Result<(), StoreError> {
        let now = now_secs();
        let previous = self
            .observed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(board.clone(), now)
            .filter(|at| *at < now);
        let tracked = self.store.tracked_posts(board, now).await?;
        if tracked.is_empty() {
            return Ok(());
        }
        let mut words: Option<Vec<Hot>> = None;
        let mut ranked: Option<bool> = None;
        let mut queued = false;
        for row in rows {
            let Some(id) = &row.id else { continue };
            let Some(t) = tracked.iter().find(|t| &t.id == id) else {
                continue;
            };
            let changed = t.marker != row.push.raw;
            let mut due =
                changed && (t.relayed || t.threshold.is_some_and(|n| marker_reaches(&row.push, n)));
            // `爆` hides any rise above 100: such a candidate is re-counted
            // now and then even while its marker stands still.
            if t.hot && (changed || row.push.raw.trim() == "爆") {
                let words = match &mut words {
                    Some(w) => w,
                    None => words.insert(self.hot_words(board).await?),
                };
                due |= !words.is_empty()
                    && self
                        .may_be_hot(t, row, changed.then_some(previous).flatten(), now, words)
                        .await?;
            }
            // A leaderboard ranks the posts at `爆` by their article's
            // count, which the marker no longer shows: while a board has a
            // `top:` subscription, such a post is re-counted every
            // `boom_recount`.
            let recount = i64::try_from(self.options.boom_recount.as_secs()).unwrap_or(i64::MAX);
            if !due
                && t.relayed
                && row.push.raw.trim() == "爆"
                && now - (t.next_check_at - t.step_secs) >= recount
            {
                due = match ranked {
                    Some(r) => r,
                    None => *ranked.insert(self.has_leaderboards(board).await?),
                };
            }
            if changed || due {
                self.store
                    .set_tracked_marker(board, id, &row.push.raw, due)
                    .await?;
            }
            queued |= due;
        }
        if queued {
            self.wake_self.notify_one();
        }
        Ok(())
    }

    /// Whether some subscription to a board keeps a `top:` leaderboard.
    async fn has_leaderboards(&self, board: &Board) -> Result<bool, StoreError> {
        Ok(self
            .router
            .targets(board)
            .await?
            .iter()
            .any(|t| t.filter.top.is_some()))
    }

    /// The `hot:` words of a board's subscriptions.
    async fn hot_words(&self, board: &Board) -> Result<Vec<Hot>, StoreError> {
        let mut words: Vec<Hot> = self
            .router
            .targets(board)
            .await?
            .iter()
            .filter_map(|t| t.filter.hot)
            .collect();
        words.sort_unstable_by_key(|h| (h.rise, h.minutes));
        words.dedup();
        Ok(words)
    }

    /// Records a `hot:` candidate's marker change (its old value as of the
    /// previous observation `previous`, its new one now) and says whether
    /// the rise of some word may have happened; for a marker standing at
    /// `爆` (`previous` is `None`), whether its last count is older than
    /// half the shortest window.
    async fn may_be_hot(
        &self,
        t: &TrackedPost,
        row: &IndexRow,
        previous: Option<i64>,
        now: i64,
        words: &[Hot],
    ) -> Result<bool, StoreError> {
        let minute = self.options.hot_minute;
        let changed = t.marker != row.push.raw;
        if changed {
            if let Some(at) = previous {
                let (lo, hi) = PushMarker {
                    raw: t.marker.clone(),
                }
                .range();
                self.store
                    .record_push_sample(&t.board, &t.id, PushSample { at, lo, hi })
                    .await?;
            }
            let (lo, hi) = row.push.range();
            self.store
                .record_push_sample(&t.board, &t.id, PushSample { at: now, lo, hi })
                .await?;
        }
        let samples = self
            .store
            .push_samples(&t.board, &t.id, now - PUSH_SAMPLE_SECS)
            .await?;
        if changed {
            let most = row.push.range().1;
            return Ok(words
                .iter()
                .any(|h| hot::may_have_risen(&samples, now, most, *h, minute)));
        }
        let half = words
            .iter()
            .map(|h| hot::window_secs(*h, minute) / 2)
            .min()
            .unwrap_or(60)
            .max(1);
        let last_count = samples.iter().filter(|s| s.lo == s.hi).map(|s| s.at).max();
        Ok(last_count.is_none_or(|at| now - at >= half))
    }

    /// Re-checks due posts until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut last_housekeeping = 0;
        loop {
            let now = now_secs();
            if now - last_housekeeping >= 30 {
                last_housekeeping = now;
                if let Err(e) = self.store.untrack_expired(now).await {
                    tracing::error!(error = %e, "cannot end expired tally tracking");
                }
            }
            match self.store.count_tracked(now).await {
                Ok(n) => self.status.set_tracked_posts(n),
                Err(e) => tracing::error!(error = %e, "cannot count tracked posts"),
            }
            let due = match self.store.due_tally_checks(now, 8).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read due tally checks");
                    Vec::new()
                }
            };
            // A full batch: more may be due at once.
            let more = due.len() >= 8;
            for post in due {
                if shutdown.is_cancelled() {
                    break;
                }
                tokio::select! {
                    () = self.check(&post) => {}
                    () = shutdown.cancelled() => break,
                }
            }
            // Marker changes wake the tracker; scheduled checks are at least
            // one first step apart, so looking that often (at most every
            // 30 s, at least every second) keeps them on time.
            let nap = if more {
                Duration::ZERO
            } else {
                self.options
                    .first_step
                    .clamp(Duration::from_secs(1), Duration::from_secs(30))
            };
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                () = self.wake_self.notified() => {}
                () = shutdown.cancelled() => break,
            }
        }
        tracing::debug!("tally tracker stopped");
    }

    /// One re-count of a tracked post.
    async fn check(&self, post: &TrackedPost) {
        if let Err(e) = self.try_check(post).await {
            tracing::warn!(board = %post.board, post = %post.id, error = %e, "tally re-check failed");
            // Try again at the next step; a marker change asks again sooner.
            let step = post.step_secs.max(1);
            // The stored digest carries the latest tally; `post.tally` is
            // the snapshot taken when this check was queued, which another
            // check may have overtaken since: writing it back would roll
            // every message back to older numbers.
            if let Ok(Some(d)) = self.store.digest(&post.board, &post.id).await {
                let _ = self
                    .store
                    .record_tally(post, &d, now_secs() + step, step)
                    .await;
            } else {
                let _ = self
                    .store
                    .set_tracked_marker(&post.board, &post.id, &post.marker, false)
                    .await;
            }
        }
    }

    async fn try_check(&self, post: &TrackedPost) -> Result<(), CheckError> {
        let board = &post.board;
        let html = match self
            .client
            .fetch_article(board, &post.id, Priority::Tally)
            .await
        {
            Ok(h) => h,
            Err(FetchError::NotFound { .. }) => {
                let edits = self.store.mark_post_deleted(&post.board, &post.id).await?;
                tracing::info!(board = %post.board, post = %post.id, edits, "post deleted on PTT; marking its messages");
                self.wake(&self.wake_edits);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        // A page cut off in transit parses, with fewer push lines: counted,
        // it would roll every message back to smaller numbers.
        if !page_is_complete(&html) {
            return Err(CheckError::Incomplete);
        }
        let article = parse_article(&html).ok_or(CheckError::NotAnArticle)?;
        let tally = article.tally();
        let mut digest = match self.store.digest(&post.board, &post.id).await? {
            Some(d) => d,
            None => Digest::from_article(&article, board, &post.id),
        };
        digest.tally = tally;
        let scheduled = !post.fetch_due;
        let step = if scheduled && post.relayed {
            self.options.next_step(post.step_secs)
        } else {
            post.step_secs.max(1)
        };
        let edits = self
            .store
            .record_tally(post, &digest, now_secs() + step, step)
            .await?;
        if edits > 0 {
            tracing::debug!(board = %post.board, post = %post.id, edits, ?tally, "tally changed");
            self.wake(&self.wake_edits);
        }
        if let Some(n) = post.threshold
            && tally.net >= i64::from(n)
        {
            self.fire_hot(board, post, &digest).await?;
        }
        if post.hot {
            self.fire_rise(board, post, &digest).await?;
        }
        Ok(())
    }

    /// Records a `hot:` candidate's count and delivers it to the `hot:N/M`
    /// subscriptions whose rise it proves (once each: the outbox key is
    /// unique).
    async fn fire_rise(
        &self,
        board: &Board,
        post: &TrackedPost,
        digest: &Digest,
    ) -> Result<(), CheckError> {
        let now = now_secs();
        let net = digest.tally.net;
        let samples = self
            .store
            .push_samples(board, &post.id, now - PUSH_SAMPLE_SECS)
            .await?;
        self.store
            .record_push_sample(
                board,
                &post.id,
                PushSample {
                    at: now,
                    lo: net,
                    hi: net,
                },
            )
            .await?;
        let minute = self.options.hot_minute;
        let dests: Vec<_> = self
            .router
            .targets(board)
            .await?
            .into_iter()
            .filter(|t| {
                t.filter
                    .hot
                    .is_some_and(|h| hot::has_risen(&samples, now, net, h, minute))
                    && t.filter.matches(digest)
            })
            .map(|t| t.dest)
            .collect();
        if dests.is_empty() {
            return Ok(());
        }
        let queued = self.store.accept_post(digest, &dests, now).await?;
        if queued > 0 {
            tracing::info!(board = %board, post = %post.id, net, destinations = queued, "post caught fire; relayed to hot subscriptions");
            crate::telemetry::metrics::metrics().post_relayed(board.as_str());
            self.wake(&self.wake_outbox);
        }
        self.track_relayed(board, &post.id, &post.marker, digest.tally)
            .await?;
        Ok(())
    }

    /// Delivers a post that became hot to the `push:N` subscriptions it now
    /// satisfies (once each: the outbox key is unique).
    async fn fire_hot(
        &self,
        board: &Board,
        post: &TrackedPost,
        digest: &Digest,
    ) -> Result<(), CheckError> {
        let dests: Vec<_> = self
            .router
            .targets(board)
            .await?
            .into_iter()
            .filter(|t| {
                t.filter.push.is_some()
                    && t.filter.hot.is_none()
                    && t.filter.top.is_none()
                    && t.filter.matches(digest)
            })
            .map(|t| t.dest)
            .collect();
        if dests.is_empty() {
            return Ok(());
        }
        let queued = self.store.accept_post(digest, &dests, now_secs()).await?;
        if queued > 0 {
            tracing::info!(board = %board, post = %post.id, net = digest.tally.net, destinations = queued, "hot post relayed to push subscriptions");
            crate::telemetry::metrics::metrics().post_relayed(board.as_str());
            self.wake(&self.wake_outbox);
        }
        self.track_relayed(board, &post.id, &post.marker, digest.tally)
            .await?;
        Ok(())
    }

    fn wake(&self, which: &[Arc<Notify>]) {
        for w in which {
            w.notify_one();
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the page has no article content")]
    NotAnArticle,
    #[error("the page was cut off")]
    Incomplete,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_up_to_its_largest_step() {
        let o = TallyOptions {
            window: Duration::from_secs(6 * 3600),
            first_step: Duration::from_secs(120),
            max_step: Duration::from_secs(1800),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        };
        assert_eq!(o.next_step(120), 240);
        assert_eq!(o.next_step(1200), 1800);
        assert_eq!(o.next_step(1800), 1800);
        // 120, 240, 480, 960, then every 1800 s: checks at
        // Checks at 120, 360, 840, 1800 s, then every 1800 s up to 19800 s.
        assert_eq!(o.scheduled_checks(), 14);
    }

    /// The cost of tracking 100 relayed posts for 6 hours, in PTT requests,
    /// against re-fetching every article every minute. Each post stays on
    /// the polled index page for its first 2 hours (a busy Stock board
    /// turns a page over in about that time) and gets reactions at a rate
    /// decaying from 1 a minute with a 30-minute half-life (about 40 in all,
    /// typical of a news post), 70% 推. A
    /// marker-triggered check happens on each poll (every 60 s) that shows
    /// another net push; the schedule adds its checks; index polls are not
    /// counted (they happen anyway).
    #[test]
    fn tracking_100_posts_for_6_hours_costs_a_small_fraction_of_naive_refetching() {
        let o = TallyOptions {
            window: Duration::from_secs(6 * 3600),
            first_step: Duration::from_secs(120),
            max_step: Duration::from_secs(1800),
            hot_minute: Duration::from_secs(60),
            boom_recount: Duration::from_secs(300),
        };
        let mut rng_state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rand01 = move || {
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 7;
            rng_state ^= rng_state << 17;
            (rng_state >> 11) as f64 / (1u64 << 53) as f64
        };
        let posts = 100u64;
        let mut marker_checks = 0u64;
        for _ in 0..posts {
            let mut net: i64 = 0;
            let mut shown = 0i64;
            for minute in 0..120u32 {
                let rate = 0.5f64.powf(f64::from(minute) / 30.0);
                // Reactions this minute: Bernoulli trials approximating the rate.
                for _ in 0..6 {
                    if rand01() < rate / 6.0 {
                        net += if rand01() < 0.7 { 1 } else { -1 };
                    }
                }
                if net != shown {
                    marker_checks += 1;
                    shown = net;
                }
            }
        }
        let scheduled = posts * o.scheduled_checks();
        let ours = scheduled + marker_checks;
        let naive = posts * 6 * 60;
        eprintln!(
            "tracking {posts} posts for 6 h: {ours} article fetches \
             ({scheduled} scheduled + {marker_checks} on marker changes) vs {naive} naive \
             = {:.1}%",
            100.0 * ours as f64 / naive as f64
        );
        assert!(ours * 5 < naive, "{ours} vs {naive}");
    }

    #[test]
    fn markers_reach_a_threshold_only_when_positive() {
        let m = |raw: &str| PushMarker { raw: raw.into() };
        assert!(marker_reaches(&m("30"), 30));
        assert!(!marker_reaches(&m("29"), 30));
        assert!(marker_reaches(&m("爆"), 99));
        assert!(!marker_reaches(&m("X3"), 1));
        assert!(!marker_reaches(&m(""), 1));
    }
}
