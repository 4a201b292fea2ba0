//! One task per board: polls its index page, finds new posts above the
//! high-water mark (walking back through `‹ 上頁` after downtime), fetches
//! the articles some target could want, and queues their digests.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::router::{Router, Target};
use super::status::RuntimeStatus;
use super::tally::Tracker;
use crate::commands::PostView;
use crate::digest::Digest;
use crate::ptt::budget::Priority;
use crate::ptt::client::{FetchError, PttClient};
use crate::ptt::jitter;
use crate::ptt::{Board, IndexPage, IndexRow, PostId, parse_article, parse_index};
use crate::store::{Store, StoreError, now_secs};
use crate::telemetry::metrics::metrics;

/// The sentinel mark of a board that was empty when first seen, so that its
/// first post counts as new.
const EMPTY_BOARD_MARK: &str = "M.0.A.0";
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
}

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// Fetching a page failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
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
    last_parse_log: Option<Instant>,
}

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
            last_parse_log: None,
        }
    }

    /// Keeps tallies live through `tracker`: relayed posts and push:N
    /// candidates are tracked, and every index page's markers are compared.
    pub fn with_tracker(mut self, tracker: Arc<Tracker>) -> Self {
        self.tracker = Some(tracker);
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
                        PollError::Fetch(_) => "fetch_error",
                        PollError::Store(_) => "store_error",
                    };
                    metrics().poll(board, outcome);
                    self.report_failure(&e);
                }
            }
            if let Err(e) = self
                .store
                .record_poll(self.board.as_str(), ok, now_secs())
                .await
            {
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

    fn check_markup(&self, html: &str, page: &IndexPage) -> Result<(), PollError> {
        let empty_board = page.has_list && page.rows.is_empty();
        if empty_board || page.rows.iter().any(|r| r.id.is_some()) {
            return Ok(());
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

    /// One poll: reads the index (and catch-up pages), then relays what is
    /// new, oldest first. The mark only rises past posts fully handled.
    pub async fn poll_once(&mut self) -> Result<PollReport, PollError> {
        let mut report = PollReport::default();
        let html = self
            .client
            .fetch_index(&self.board, None, Priority::Index)
            .await?;
        let page = parse_index(&html);
        self.check_markup(&html, &page)?;
        report.pages = 1;
        if let Some(tracker) = &self.tracker {
            tracker.observe_index(&self.board, &page.rows).await?;
        }
        let board = self.board.as_str().to_owned();
        let state = self.store.board_state(&board).await?;
        let mut rows = relayable(&page);

        let Some(mark) = state.mark else {
            report.seeded = true;
            let newest = rows.iter().filter_map(|r| r.id.clone()).max();
            let keep = (self.options.backfill as usize).min(rows.len());
            let backfill: Vec<IndexRow> = rows.split_off(rows.len() - keep);
            let seen: Vec<PostId> = rows.iter().filter_map(|r| r.id.clone()).collect();
            self.store.mark_seen(&board, &seen, now_secs()).await?;
            tracing::info!(board = %board, posts = page.rows.len(), backfill = backfill.len(), "board seeded");
            self.relay_rows(backfill, &mut report).await?;
            let mark = newest.unwrap_or_else(|| {
                PostId::parse(EMPTY_BOARD_MARK).expect("the sentinel is a valid id")
            });
            self.store.raise_mark(&board, &mark).await?;
            return Ok(report);
        };

        // Walk back while the oldest linked row is still above the mark.
        let mut prev = page.prev_page.clone();
        let mut oldest = rows.iter().filter_map(|r| r.id.clone()).min();
        while oldest.as_ref().is_some_and(|o| *o > mark)
            && report.pages <= self.options.catchup_pages
        {
            let Some(href) = prev.take() else { break };
            let html = match self
                .client
                .fetch_index(&self.board, Some(&href), Priority::Catchup)
                .await
            {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(board = %board, page = %href, error = %e, "catch-up page failed");
                    break;
                }
            };
            let older = parse_index(&html);
            report.pages += 1;
            let mut older_rows = relayable(&older);
            oldest = older_rows.iter().filter_map(|r| r.id.clone()).min();
            older_rows.append(&mut rows);
            rows = older_rows;
            prev = older.prev_page;
        }

        let mut fresh: Vec<IndexRow> = rows
            .into_iter()
            .filter(|r| r.id.as_ref().is_some_and(|id| *id > mark))
            .collect();
        fresh.sort_by(|a, b| a.id.cmp(&b.id));
        fresh.dedup_by(|a, b| a.id == b.id);
        let mut unseen = Vec::with_capacity(fresh.len());
        for row in fresh {
            if let Some(id) = &row.id
                && !self.store.is_seen(&board, id).await?
            {
                unseen.push(row);
            }
        }
        self.relay_rows(unseen, &mut report).await?;
        Ok(report)
    }

    /// Relays rows oldest first; each handled row is marked seen and raises
    /// the mark, so a failure leaves the rest for the next poll.
    async fn relay_rows(
        &self,
        rows: Vec<IndexRow>,
        report: &mut PollReport,
    ) -> Result<(), PollError> {
        if rows.is_empty() {
            return Ok(());
        }
        let board = self.board.as_str();
        let targets = self.router.targets(board).await?;
        for row in rows {
            let Some(id) = row.id.clone() else { continue };
            report.new_posts += 1;
            metrics().posts_seen(board, 1);
            let view = PostView {
                title: &row.title,
                author: Some(&row.author),
            };
            let wanted: Vec<&Target> = targets
                .iter()
                .filter(|t| t.filter.matches_post(view))
                .collect();
            // push:N targets need the article only once the marker shows N.
            let needs_article = wanted.iter().any(|t| {
                t.filter.push.is_none_or(|n| {
                    !row.push.is_negative() && i64::from(row.push.bound()) >= i64::from(n)
                })
            });
            let candidate_threshold = wanted.iter().filter_map(|t| t.filter.push).min();
            if needs_article {
                match self.fetch_digest(&row, &id).await {
                    Ok(Some(digest)) => {
                        let dests: Vec<_> = wanted
                            .iter()
                            .filter(|t| t.filter.matches(&digest))
                            .map(|t| t.dest.clone())
                            .collect();
                        if !dests.is_empty() {
                            let queued =
                                self.store.accept_post(&digest, &dests, now_secs()).await?;
                            report.relayed += 1;
                            metrics().post_relayed(board);
                            report.queued += queued;
                            tracing::info!(board, post = %id, title = %digest.display_title(), destinations = dests.len(), "relaying post");
                            for w in &self.wake {
                                w.notify_one();
                            }
                            if let Some(tracker) = &self.tracker {
                                tracker
                                    .track_relayed(board, &id, &row.push.raw, digest.tally)
                                    .await?;
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
                                .track_candidate(board, &id, &row.push.raw, n, Some(digest.tally))
                                .await?;
                        }
                    }
                    Ok(None) => {
                        tracing::info!(board, post = %id, "post gone before it could be read; skipped");
                    }
                    Err(e) => return Err(e),
                }
            } else if let (Some(n), Some(tracker)) = (candidate_threshold, &self.tracker) {
                tracker
                    .track_candidate(board, &id, &row.push.raw, n, None)
                    .await?;
            }
            self.store
                .mark_seen(board, std::slice::from_ref(&id), now_secs())
                .await?;
            self.store.raise_mark(board, &id).await?;
        }
        Ok(())
    }

    /// The digest of a row's article; `None` when the post is gone.
    async fn fetch_digest(&self, row: &IndexRow, id: &PostId) -> Result<Option<Digest>, PollError> {
        let html = match self
            .client
            .fetch_article(&self.board, id, Priority::Article)
            .await
        {
            Ok(h) => h,
            Err(FetchError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(article) = parse_article(&html) else {
            metrics().parse_failure(self.board.as_str(), "article");
            tracing::warn!(board = %self.board, post = %id, "article page has no article content; skipped");
            return Ok(None);
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
        Ok(Some(digest))
    }
}

/// Rows that may be relayed: linked, not deleted, not pinned.
fn relayable(page: &IndexPage) -> Vec<IndexRow> {
    page.rows
        .iter()
        .filter(|r| !r.pinned && !r.deleted && r.id.is_some())
        .cloned()
        .collect()
}
