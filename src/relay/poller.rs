//! One task per board: polls its index page, finds new posts at or above
//! the high-water mark (walking back through `‹ 上頁` after downtime),
//! fetches the articles some target could want, and queues their digests.
//! A post whose article cannot be read yet stays pending in the store,
//! holds the mark back and is retried with back-off.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::router::{Router, Target};
use super::tally::Tracker;
use crate::clock::now_secs;
use crate::digest::Digest;
use crate::filter::PostView;
use crate::ptt::budget::Priority;
use crate::ptt::client::{FetchError, PttClient};
use crate::ptt::jitter;
use crate::ptt::{
    Board, IndexPage, IndexRow, PostId, PushMarker, page_is_complete, parse_article, parse_index,
};
use crate::store::{PendingPost, Store, StoreError};
use crate::telemetry::metrics::metrics;
use crate::telemetry::status::RuntimeStatus;

/// Longest wait between retries of a pending post (unless the poll interval
/// is longer).
const PENDING_RETRY_CAP: Duration = Duration::from_secs(1800);
/// Parse failures are logged at most this often per board.
const PARSE_LOG_EVERY: Duration = Duration::from_secs(3600);

/// Poller settings.
#[derive(Debug, Clone)]
pub struct PollerOptions {
    /// Between polls (jittered ±10%).
    pub interval: Duration,
    /// Pages walked back after downtime.
    pub catchup_pages: u32,
    /// Posts relayed when the board is first seen.
    pub backfill: u32,
    /// How long a post whose article cannot be read is retried before it is
    /// given up on (`relay.max_delivery_age_hours`).
    pub max_age: Duration,
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// Fetching a page failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// An index page was cut off before its end.
    #[error("index page {page} of {board} was cut off before its end")]
    Incomplete {
        /// The board.
        board: String,
        /// The page.
        page: String,
    },
    /// The index page has no rows we can read.
    #[error("index page of {board} yields no posts (PTT markup changed?)")]
    Markup {
        /// The board.
        board: String,
        /// The first 200 bytes of the page.
        head: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// New posts found.
    pub new_posts: usize,
    /// Posts queued for at least one destination.
    pub relayed: usize,
    /// Deliveries queued.
    pub queued: usize,
    /// Index pages read.
    pub pages: u32,
    /// The board was seeded by this poll.
    pub seeded: bool,
}

/// Polls one board.
pub struct Poller {
    board: Board,
    client: PttClient,
    store: Arc<dyn Store>,
    router: Arc<Router>,
    options: PollerOptions,
    wake: Vec<Arc<Notify>>,
    status: Arc<RuntimeStatus>,
    tracker: Option<Arc<Tracker>>,
    /// The leaderboard worker, woken when a post counts for a `top:`
    /// subscription.
    leaderboards: Option<Arc<Notify>>,
    last_parse_log: Option<Instant>,
    /// The newest row of the last complete walk: the index is known down
    /// to here. `None` after a start, where the stored mark is used.
    walked: Option<PostId>,
    /// The rows of the newest page when it last showed no linked row and
    /// the walk below it was complete (see [`bare_rows`]). Posts are only
    /// ever added to the newest page, so while it shows exactly these rows
    /// nothing was posted, and an idle poll stays one request.
    bare_first_page: Option<Vec<BareRow>>,
}

/// A row of a page without linked rows, as far as the page shows it.
type BareRow = (String, String, String);

impl Poller {
    /// A poller; `wake` is notified when deliveries were queued.
    pub fn new(
        board: Board,
        client: PttClient,
        store: Arc<dyn Store>,
        router: Arc<Router>,
        options: PollerOptions,
        wake: Vec<Arc<Notify>>,
        status: Arc<RuntimeStatus>,
    ) -> Self {
        Poller {
            board,
            client,
            store,
            router,
            options,
            wake,
            status,
            tracker: None,
            leaderboards: None,
            last_parse_log: None,
            walked: None,
            bare_first_page: None,
        }
    }

    /// Keeps tallies live through `tracker`: relayed posts and push:N
    /// candidates are tracked, and every index page's markers are compared.
    pub fn with_tracker(mut self, tracker: Arc<Tracker>) -> Self {
        self.tracker = Some(tracker);
        self
    }

    /// Wakes the leaderboard worker (`super::leaderboard`) through `wake`
    /// when a post counts for a `top:` subscription.
    pub fn with_leaderboards(mut self, wake: Arc<Notify>) -> Self {
        self.leaderboards = Some(wake);
        self
    }

    /// Polls until `shutdown`, one poll an interval (jittered), failed or
    /// not: a failed poll is not followed by a longer wait, so that once PTT
    /// answers again news flows within one interval. (The PTT client's
    /// budget already pauses every request during a Cloudflare block.)
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let result = tokio::select! {
                r = self.poll_once() => r,
                () = shutdown.cancelled() => break,
            };
            let ok = result.is_ok();
            let board = self.board.as_str();
            self.status
                .set_markup_failing(board, matches!(result, Err(PollError::Markup { .. })));
            match result {
                Ok(report) => {
                    metrics().poll(board, "ok");
                    if report.new_posts > 0 {
                        tracing::debug!(board = %self.board, ?report, "polled");
                    }
                }
                Err(e) => {
                    let outcome = match &e {
                        PollError::Markup { .. } => "markup",
                        PollError::Fetch(_) | PollError::Incomplete { .. } => "fetch_error",
                        PollError::Store(_) => "store_error",
                    };
                    metrics().poll(board, outcome);
                    self.report_failure(&e);
                }
            }
            if let Err(e) = self.store.record_poll(&self.board, ok, now_secs()).await {
                tracing::error!(board = %self.board, error = %e, "cannot record a poll");
            }
            let wait = self.next_wait();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => break,
            }
        }
        tracing::debug!(board = %self.board, "poller stopped");
    }

    /// The wait before the next poll: the interval ±10%.
    fn next_wait(&self) -> Duration {
        self.options.interval.mul_f64(jitter::factor(0.9, 1.1))
    }

    fn report_failure(&mut self, e: &PollError) {
        match e {
            PollError::Markup { head, .. } => {
                metrics().parse_failure(self.board.as_str(), "index");
                let due = self
                    .last_parse_log
                    .is_none_or(|t| t.elapsed() >= PARSE_LOG_EVERY);
                if due {
                    self.last_parse_log = Some(Instant::now());
                    let url = format!("{}bbs/{}/index.html", self.client.base_url(), self.board);
                    tracing::error!(board = %self.board, %url, head = %head, "{e}");
                }
            }
            e => tracing::warn!(board = %self.board, error = %e, "poll failed"),
        }
    }

    /// Reads an index page (`page` names it in errors): a page cut off
    /// before its end, or one whose rows yield neither ids nor recognisable
    /// deleted rows (and is not the empty-board form), is a failure.
    fn read_page(&self, html: &str, page: &str) -> Result<IndexPage, PollError> {
        if !page_is_complete(html) {
            return Err(PollError::Incomplete {
                board: self.board.to_string(),
                page: page.to_owned(),
            });
        }
        let parsed = parse_index(html);
        let empty_board = parsed.has_list && parsed.rows.is_empty();
        let readable = parsed
            .rows
            .iter()
            .any(|r| r.id.is_some() || is_deleted_row(r));
        if empty_board || readable {
            return Ok(parsed);
        }
        let mut end = html.len().min(200);
        while !html.is_char_boundary(end) {
            end -= 1;
        }
        Err(PollError::Markup {
            board: self.board.to_string(),
            head: html[..end].to_owned(),
        })
    }

    /// One poll: reads the index (and catch-up pages), retries pending posts
    /// that are due, then relays what is new, oldest first.
    ///
    /// A row is new when it is not seen, not pending, and its epoch is at
    /// least the mark's: the hex part of an id never decides. The walk goes
    /// back while the oldest linked row of the last page read may hide newer
    /// posts on older pages (it lies above the walked range). The mark only
    /// moves over finished work: not at all when a catch-up page failed (the
    /// next poll walks again), and never past a pending post.
    pub async fn poll_once(&mut self) -> Result<PollReport, PollError> {
        let mut report = PollReport::default();
        let board = self.board.clone();
        let html = self
            .client
            .fetch_index(&self.board, None, Priority::Index)
            .await?;
        let page = self.read_page(&html, "index.html")?;
        report.pages = 1;
        if let Some(tracker) = &self.tracker {
            tracker.observe_index(&self.board, &page.rows).await?;
        }
        let state = self.store.board_state(&board).await?;
        let Some(mark) = state.mark else {
            self.seed(&page, &mut report).await?;
            return Ok(report);
        };
        // How far down the index is known to have been walked: the mark
        // after a start (it never passes unfinished work), the newest row of
        // the last complete walk afterwards.
        let floor = match &self.walked {
            Some(w) if w.epoch() >= mark.epoch() => w.clone(),
            _ => mark.clone(),
        };
        let pending = self.store.pending_posts(&board).await?;
        let pending_ids: HashSet<PostId> = pending.iter().map(|p| p.id.clone()).collect();

        let mut pages = vec![page];
        let mut walk_complete = true;
        loop {
            let last = pages.last().expect("at least the first page");
            let rows = relayable(last);
            let go_on = if rows.is_empty() {
                // A catch-up page of deleted rows only says nothing about
                // what lies below it. Nor does a newest page of deleted rows
                // only: a page that turned over with a post deleted at once
                // hides the post before it on the older page. Only a newest
                // page without any row, or one showing exactly the rows it
                // showed after the last complete walk, says nothing is new.
                pages.len() > 1 || {
                    let bare = bare_rows(last);
                    !bare.is_empty() && self.bare_first_page.as_ref() != Some(&bare)
                }
            } else {
                self.hides_older(&rows, &floor, &pending_ids).await?
            };
            if !go_on || report.pages > self.options.catchup_pages {
                break;
            }
            let Some(href) = last.prev_page.clone() else {
                break;
            };
            let older = match self
                .client
                .fetch_index(&self.board, Some(&href), Priority::Catchup)
                .await
            {
                Ok(html) => self.read_page(&html, &href),
                Err(e) => Err(e.into()),
            };
            match older {
                Ok(older) => {
                    report.pages += 1;
                    pages.push(older);
                }
                Err(PollError::Store(e)) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(board = %board, page = %href, error = %e, "catch-up page failed; the mark stays, and the next poll walks again");
                    walk_complete = false;
                    break;
                }
            }
        }

        // Every linked row read, oldest first (page order within a second).
        let mut found: Vec<IndexRow> = Vec::new();
        let mut ids = HashSet::new();
        for page in pages.iter().rev() {
            for row in relayable(page) {
                if row.id.as_ref().is_some_and(|id| ids.insert(id.clone())) {
                    found.push(row);
                }
            }
        }
        found.sort_by_key(|r| r.id.as_ref().map_or(0, PostId::epoch));
        let newest = found.iter().filter_map(|r| r.id.clone()).max();
        let oldest_epoch = found
            .iter()
            .filter_map(|r| r.id.as_ref())
            .map(PostId::epoch)
            .min();
        let listed: HashSet<&PostId> = pages
            .iter()
            .flat_map(|p| p.rows.iter().filter_map(|r| r.id.as_ref()))
            .collect();

        let now = now_secs();
        let mut work = Vec::new();
        for post in pending {
            // Its place is inside what was read, yet its row is gone: it
            // was deleted (its row no longer links it) or moved away.
            if !listed.contains(&post.id) && oldest_epoch.is_some_and(|e| e < post.id.epoch()) {
                tracing::info!(board = %board, post = %post.id, "post deleted before it could be read; skipped");
                self.finish(&post.id, true).await?;
                continue;
            }
            let expired = now - post.first_seen_at >= self.max_age_secs();
            if post.next_attempt_at <= now || expired {
                let row = found
                    .iter()
                    .find(|r| r.id.as_ref() == Some(&post.id))
                    .cloned()
                    .unwrap_or_else(|| row_of(&post));
                work.push(Work {
                    row,
                    id: post.id.clone(),
                    pending: Some(post),
                });
            }
        }
        for row in found {
            let Some(id) = row.id.clone() else { continue };
            if id.epoch() < mark.epoch()
                || pending_ids.contains(&id)
                || self.store.is_seen(&board, &id).await?
            {
                continue;
            }
            report.new_posts += 1;
            metrics().posts_seen(board.as_str(), 1);
            work.push(Work {
                row,
                id,
                pending: None,
            });
        }
        self.work_through(work, &mut report).await?;

        if walk_complete {
            let first = pages.first().expect("at least the first page");
            self.bare_first_page = relayable(first).is_empty().then(|| bare_rows(first));
        }
        if walk_complete && let Some(newest) = newest {
            if newest.epoch() >= floor.epoch() {
                self.walked = Some(newest.clone());
            }
            self.raise_mark_held(&newest).await?;
        }
        Ok(report)
    }

    /// Whether the page whose linked rows are `rows` may hide newer posts on
    /// older pages: its oldest row lies above `floor`, or in the floor's
    /// second and some row of that second is neither seen nor pending.
    async fn hides_older(
        &self,
        rows: &[IndexRow],
        floor: &PostId,
        pending: &HashSet<PostId>,
    ) -> Result<bool, PollError> {
        let Some(oldest) = rows
            .iter()
            .filter_map(|r| r.id.as_ref())
            .map(PostId::epoch)
            .min()
        else {
            return Ok(false);
        };
        if oldest != floor.epoch() {
            return Ok(oldest > floor.epoch());
        }
        for id in rows.iter().filter_map(|r| r.id.as_ref()) {
            if id.epoch() == oldest
                && !pending.contains(id)
                && !self.store.is_seen(&self.board, id).await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The first successful poll of a board: records what the page shows
    /// as seen and relays nothing but the newest `backfill` posts. A page
    /// without any linked row seeds the mark at the current time, so that
    /// nothing older is ever relayed and the next post is.
    async fn seed(&mut self, page: &IndexPage, report: &mut PollReport) -> Result<(), PollError> {
        report.seeded = true;
        let board = self.board.clone();
        let mut rows = relayable(page);
        let Some(newest) = rows.iter().filter_map(|r| r.id.clone()).max() else {
            let mark =
                PostId::parse(&format!("M.{}.A.0", now_secs())).expect("a time is a valid post id");
            self.store.raise_mark(&board, &mark).await?;
            tracing::info!(board = %board, mark = %mark, "board seeded at the current time (no linked post on its first page)");
            self.walked = Some(mark);
            return Ok(());
        };
        let keep = (self.options.backfill as usize).min(rows.len());
        let backfill: Vec<IndexRow> = rows.split_off(rows.len() - keep);
        let seen: Vec<PostId> = rows.iter().filter_map(|r| r.id.clone()).collect();
        self.store.mark_seen(&board, &seen, now_secs()).await?;
        tracing::info!(board = %board, posts = page.rows.len(), backfill = backfill.len(), "board seeded");
        let work = backfill
            .into_iter()
            .filter_map(|row| {
                let id = row.id.clone()?;
                report.new_posts += 1;
                metrics().posts_seen(board.as_str(), 1);
                Some(Work {
                    row,
                    id,
                    pending: None,
                })
            })
            .collect();
        self.work_through(work, report).await?;
        self.raise_mark_held(&newest).await?;
        self.walked = Some(newest);
        Ok(())
    }

    /// Raises the mark to `to`, but never past the oldest pending post.
    async fn raise_mark_held(&self, to: &PostId) -> Result<(), PollError> {
        let board = &self.board;
        let held = self.store.pending_posts(board).await?.into_iter().next();
        let mark = match held {
            Some(p) if p.id < *to => p.id,
            _ => to.clone(),
        };
        self.store.raise_mark(board, &mark).await?;
        Ok(())
    }

    fn max_age_secs(&self) -> i64 {
        i64::try_from(self.options.max_age.as_secs()).unwrap_or(i64::MAX)
    }

    /// The wait before retry number `attempts` of a pending post: the poll
    /// interval, doubled per failure, at most 30 minutes (or one interval
    /// when that is longer).
    fn retry_delay(&self, attempts: u32) -> i64 {
        let interval = self.options.interval.as_secs().max(1);
        let cap = PENDING_RETRY_CAP.as_secs().max(interval);
        let delay = interval
            .saturating_mul(1 << attempts.saturating_sub(1).min(20))
            .min(cap);
        i64::try_from(delay).unwrap_or(i64::MAX)
    }

    /// A post is finished with: seen, and no longer pending.
    async fn finish(&self, id: &PostId, was_pending: bool) -> Result<(), PollError> {
        let board = &self.board;
        self.store
            .mark_seen(board, std::slice::from_ref(id), now_secs())
            .await?;
        if was_pending {
            self.store.remove_pending(board, id).await?;
        }
        Ok(())
    }

    /// Handles posts in order: relayed (or not wanted) and gone ones are
    /// finished; one whose article could not be read is kept pending with
    /// its next retry (the next poll when PTT as a whole failed, a growing
    /// back-off when its own page did), or given up on past `max_age`. Once
    /// PTT itself seems down, the rest are kept pending untried, due at the
    /// next poll.
    async fn work_through(
        &self,
        work: Vec<Work>,
        report: &mut PollReport,
    ) -> Result<(), PollError> {
        if work.is_empty() {
            return Ok(());
        }
        let board = self.board.as_str();
        let targets = self.router.targets(&self.board).await?;
        let mut ptt_down = false;
        for Work { row, id, pending } in work {
            let now = now_secs();
            let outcome = if ptt_down {
                None
            } else {
                Some(self.handle(&row, &id, &targets, report).await?)
            };
            // An outage of PTT as a whole is no fault of this post: it is
            // tried again at the next poll, so that it follows as soon as
            // PTT answers. Only a failure of its own page backs off.
            let mut backs_off = false;
            let (reason, error) = match outcome {
                Some(Outcome::Done) => {
                    self.finish(&id, pending.is_some()).await?;
                    continue;
                }
                Some(Outcome::Gone) => {
                    tracing::info!(board, post = %id, "post gone before it could be read; skipped");
                    self.finish(&id, pending.is_some()).await?;
                    continue;
                }
                Some(Outcome::Failed {
                    reason,
                    error,
                    ptt_down: down,
                }) => {
                    ptt_down |= down;
                    backs_off = !down;
                    (Some(reason), error)
                }
                None => (None, String::new()),
            };
            let first_seen_at = pending.as_ref().map_or(now, |p| p.first_seen_at);
            let attempts = pending.as_ref().map_or(0, |p| p.attempts) + u32::from(reason.is_some());
            if let Some(reason) = reason
                && now - first_seen_at >= self.max_age_secs()
            {
                metrics().post_abandoned(board, reason);
                tracing::error!(
                    board,
                    post = %id,
                    title = %row.title,
                    reason,
                    attempts,
                    error = %error,
                    "giving up on a post: its article could not be read for {} hours",
                    self.options.max_age.as_secs() / 3600
                );
                self.finish(&id, pending.is_some()).await?;
                continue;
            }
            let next_attempt_at = if backs_off {
                now + self.retry_delay(attempts)
            } else {
                now
            };
            if reason.is_some() {
                tracing::warn!(board, post = %id, attempts, error = %error, retry_in_secs = next_attempt_at - now, "article could not be read; the post stays pending");
            }
            let last_error = if error.is_empty() {
                pending
                    .as_ref()
                    .map(|p| p.last_error.clone())
                    .unwrap_or_default()
            } else {
                error
            };
            self.store
                .put_pending(&PendingPost {
                    board: self.board.clone(),
                    id: id.clone(),
                    title: row.title.clone(),
                    author: row.author.clone(),
                    marker: row.push.raw.clone(),
                    first_seen_at,
                    attempts,
                    next_attempt_at,
                    last_error,
                })
                .await?;
        }
        Ok(())
    }

    /// Relays one post to the targets that want it, fetching its article
    /// only when some target could want it.
    async fn handle(
        &self,
        row: &IndexRow,
        id: &PostId,
        targets: &[Target],
        report: &mut PollReport,
    ) -> Result<Outcome, PollError> {
        let board = self.board.as_str();
        let view = PostView {
            title: &row.title,
            author: Some(&row.author),
        };
        let matching = targets.iter().filter(|t| t.filter.matches_post(view));
        // `hot:` targets never take a post at first sight: the tracker
        // watches its push marker and relays it once it catches fire.
        let (hot, wanted): (Vec<&Target>, Vec<&Target>) =
            matching.partition(|t| t.filter.hot.is_some());
        // `top:` targets rank the day's posts on a leaderboard
        // (`super::leaderboard`): they take no single post, but need its
        // digest kept and its tally live.
        let (top, wanted): (Vec<&Target>, Vec<&Target>) =
            wanted.into_iter().partition(|t| t.filter.top.is_some());
        if !hot.is_empty()
            && let Some(tracker) = &self.tracker
        {
            tracker.track_hot(&self.board, id, &row.push).await?;
        }
        // push:N targets need the article only once the marker shows N.
        let needs_article = wanted.iter().any(|t| {
            t.filter.push.is_none_or(|n| {
                !row.push.is_negative() && i64::from(row.push.bound()) >= i64::from(n)
            })
        });
        let candidate_threshold = wanted.iter().filter_map(|t| t.filter.push).min();
        let needs_article = needs_article || !top.is_empty();
        if !needs_article {
            if let (Some(n), Some(tracker)) = (candidate_threshold, &self.tracker) {
                tracker
                    .track_candidate(&self.board, id, &row.push.raw, n, None)
                    .await?;
            }
            return Ok(Outcome::Done);
        }
        let digest = match self.fetch_digest(row, id).await {
            Ok(digest) => digest,
            Err(outcome) => return Ok(outcome),
        };
        let dests: Vec<_> = wanted
            .iter()
            .filter(|t| t.filter.matches(&digest))
            .map(|t| t.dest.clone())
            .collect();
        if !dests.is_empty() {
            let queued = self.store.accept_post(&digest, &dests, now_secs()).await?;
            report.relayed += 1;
            metrics().post_relayed(board);
            report.queued += queued;
            tracing::info!(board, post = %id, title = %digest.display_title(), destinations = dests.len(), "relaying post");
            for w in &self.wake {
                w.notify_one();
            }
            if let Some(tracker) = &self.tracker {
                tracker
                    .track_relayed(&self.board, id, &row.push.raw, digest.tally)
                    .await?;
            }
        }
        if top.iter().any(|t| t.filter.matches_but_push(&digest)) {
            if dests.is_empty() {
                self.store.accept_post(&digest, &[], now_secs()).await?;
                if let Some(tracker) = &self.tracker {
                    tracker
                        .track_relayed(&self.board, id, &row.push.raw, digest.tally)
                        .await?;
                }
            }
            tracing::debug!(board, post = %id, "post counts for a leaderboard");
            if let Some(w) = &self.leaderboards {
                w.notify_one();
            }
        }
        // Not hot enough yet for some push:N subscription.
        let pending = wanted
            .iter()
            .filter(|t| t.filter.push.is_some() && !t.filter.matches(&digest))
            .filter_map(|t| t.filter.push)
            .min();
        if let (Some(n), Some(tracker)) = (pending, &self.tracker) {
            if dests.is_empty() {
                // Keep the digest so a later edit or /latest can use it.
                self.store.accept_post(&digest, &[], now_secs()).await?;
            }
            tracker
                .track_candidate(&self.board, id, &row.push.raw, n, Some(digest.tally))
                .await?;
        }
        Ok(Outcome::Done)
    }

    /// The digest of a row's article, or why there is none: gone (a 404),
    /// or a failure to retry (any other fetch error, a page cut off, a 200
    /// answer without article markup).
    async fn fetch_digest(&self, row: &IndexRow, id: &PostId) -> Result<Digest, Outcome> {
        let html = match self
            .client
            .fetch_article(&self.board, id, Priority::Article)
            .await
        {
            Ok(h) => h,
            Err(FetchError::NotFound { .. }) => return Err(Outcome::Gone),
            Err(e) => {
                return Err(Outcome::Failed {
                    reason: "fetch_failed",
                    ptt_down: ptt_seems_down(&e),
                    error: e.to_string(),
                });
            }
        };
        if !page_is_complete(&html) {
            return Err(Outcome::Failed {
                reason: "truncated",
                error: "article page cut off before its end".into(),
                ptt_down: false,
            });
        }
        let Some(article) = parse_article(&html) else {
            metrics().parse_failure(self.board.as_str(), "article");
            return Err(Outcome::Failed {
                reason: "not_an_article",
                error: "the answer holds no article content".into(),
                ptt_down: false,
            });
        };
        let mut digest = Digest::from_article(&article, &self.board, id);
        // The index row is authoritative for what the board shows.
        if !row.title.is_empty() {
            let info = crate::ptt::TitleInfo::parse(&row.title);
            digest.title = Some(row.title.clone());
            digest.tag = info.tag;
            digest.is_reply = info.is_reply;
            digest.is_forward = info.is_forward;
        }
        if digest.author.is_none() && !row.author.is_empty() && row.author != "-" {
            digest.author = Some(row.author.clone());
        }
        Ok(digest)
    }
}

/// A post to handle in this poll.
struct Work {
    row: IndexRow,
    id: PostId,
    /// Its record when it was already pending.
    pending: Option<PendingPost>,
}

/// How handling one post ended.
enum Outcome {
    /// Relayed, or wanted by no target: finished.
    Done,
    /// The article is gone (404): finished.
    Gone,
    /// The article could not be read; try again later.
    Failed {
        /// A short label for the metric (`fetch_failed`, `truncated`,
        /// `not_an_article`).
        reason: &'static str,
        /// The error, for the logs and the pending record.
        error: String,
        /// PTT itself seems unreachable: do not try the rest now.
        ptt_down: bool,
    },
}

/// Whether a failed fetch says PTT as a whole is unreachable or refusing
/// (so fetching the next article now would fail the same way).
fn ptt_seems_down(e: &FetchError) -> bool {
    matches!(
        e,
        FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Network { .. }
            | FetchError::Blocked { .. }
    ) || e.status().is_some_and(|s| s >= 500 || s == 429 || s == 408)
}

/// A pending post's index row, rebuilt from its record.
fn row_of(post: &PendingPost) -> IndexRow {
    let info = crate::ptt::TitleInfo::parse(&post.title);
    IndexRow {
        id: Some(post.id.clone()),
        href: None,
        title: post.title.clone(),
        tag: info.tag,
        is_reply: info.is_reply,
        is_forward: info.is_forward,
        author: post.author.clone(),
        date: String::new(),
        push: PushMarker {
            raw: post.marker.clone(),
        },
        mark: String::new(),
        deleted: false,
        pinned: false,
    }
}

/// A deleted row as PTT shows it: no link, and a title saying so
/// (`(本文已被刪除) [author]`, `(已被xxx刪除) <reason>`).
fn is_deleted_row(row: &IndexRow) -> bool {
    row.deleted && row.title.contains("刪除")
}

/// The unpinned rows of a page without linked rows (title, author, date):
/// what tells two such pages apart.
fn bare_rows(page: &IndexPage) -> Vec<BareRow> {
    page.rows
        .iter()
        .filter(|r| !r.pinned)
        .map(|r| (r.title.clone(), r.author.clone(), r.date.clone()))
        .collect()
}

/// Rows that may be relayed: linked, not deleted, not pinned.
fn relayable(page: &IndexPage) -> Vec<IndexRow> {
    page.rows
        .iter()
        .filter(|r| !r.pinned && !r.deleted && r.id.is_some())
        .cloned()
        .collect()
}
