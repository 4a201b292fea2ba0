//! The Prometheus metrics of DESIGN.md, exactly these names:
//! `ptt_relay_polls_total{board,outcome}`, `ptt_relay_ptt_requests_total{status}`,
//! `ptt_relay_ptt_request_duration_seconds`, `ptt_relay_posts_seen_total{board}`,
//! `ptt_relay_posts_relayed_total{board}`, `ptt_relay_posts_abandoned_total{board,reason}`,
//! `ptt_relay_deliveries_total{platform,outcome}`,
//! `ptt_relay_rate_limited_total{platform}`, `ptt_relay_outbox_depth`,
//! `ptt_relay_outbox_oldest_seconds`, `ptt_relay_tracked_posts`,
//! `ptt_relay_edits_total{platform,outcome}`,
//! `ptt_relay_parse_failures_total{board,page}`, `ptt_relay_leader`,
//! `ptt_relay_build_info{version}`.
//!
//! One process-wide set ([`metrics()`]); the gauges that mirror the store
//! are refreshed when `/metrics` is scraped.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

type Labels = Vec<(&'static str, String)>;

/// Every metric.
pub struct Metrics {
    registry: Registry,
    /// Polls by board and outcome (`ok`, `error`, `markup`).
    pub polls: Family<Labels, Counter>,
    /// PTT HTTP responses by status (or `error` for no response).
    pub ptt_requests: Family<Labels, Counter>,
    /// PTT request durations.
    pub ptt_request_duration: Histogram,
    /// New posts seen by board.
    pub posts_seen: Family<Labels, Counter>,
    /// Posts queued for at least one destination, by board.
    pub posts_relayed: Family<Labels, Counter>,
    /// Posts given up on (article unreadable past the delivery age), by
    /// board and the last failure's kind.
    pub posts_abandoned: Family<Labels, Counter>,
    /// Delivery attempts by platform and outcome.
    pub deliveries: Family<Labels, Counter>,
    /// Rate-limited answers by platform.
    pub rate_limited: Family<Labels, Counter>,
    /// Messages of announcement channels left unpublished (the channel's
    /// publish limit, 10 an hour, was used up, or the publish failed).
    pub publish_skipped: Family<Labels, Counter>,
    /// Pending outbox rows.
    pub outbox_depth: Gauge,
    /// Age of the oldest pending row.
    pub outbox_oldest_seconds: Gauge<f64, AtomicU64>,
    /// Posts whose tally is tracked.
    pub tracked_posts: Gauge,
    /// Edits by platform and outcome.
    pub edits: Family<Labels, Counter>,
    /// Pages that did not parse, by board and page kind.
    pub parse_failures: Family<Labels, Counter>,
    /// 1 when this process leads.
    pub leader: Gauge,
    /// 1, labelled with the version.
    pub build_info: Family<Labels, Gauge>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("ptt_relay");
        let m = Metrics {
            polls: Family::default(),
            ptt_requests: Family::default(),
            ptt_request_duration: Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0]),
            posts_seen: Family::default(),
            posts_relayed: Family::default(),
            posts_abandoned: Family::default(),
            deliveries: Family::default(),
            rate_limited: Family::default(),
            publish_skipped: Family::default(),
            outbox_depth: Gauge::default(),
            outbox_oldest_seconds: Gauge::default(),
            tracked_posts: Gauge::default(),
            edits: Family::default(),
            parse_failures: Family::default(),
            leader: Gauge::default(),
            build_info: Family::default(),
            registry: Registry::default(),
        };
        registry.register("polls", "Index polls by board and outcome", m.polls.clone());
        registry.register(
            "ptt_requests",
            "PTT HTTP requests by response status",
            m.ptt_requests.clone(),
        );
        registry.register_with_unit(
            "ptt_request_duration",
            "PTT HTTP request duration",
            Unit::Seconds,
            m.ptt_request_duration.clone(),
        );
        registry.register(
            "posts_seen",
            "New posts seen by board",
            m.posts_seen.clone(),
        );
        registry.register(
            "posts_relayed",
            "Posts queued for at least one destination, by board",
            m.posts_relayed.clone(),
        );
        registry.register(
            "posts_abandoned",
            "Posts given up on because their article could not be read in time, by board and reason",
            m.posts_abandoned.clone(),
        );
        registry.register(
            "deliveries",
            "Delivery attempts by platform and outcome",
            m.deliveries.clone(),
        );
        registry.register(
            "rate_limited",
            "Rate-limited answers by platform",
            m.rate_limited.clone(),
        );
        registry.register(
            "publish_skipped",
            "Announcement channel messages left unpublished, by platform",
            m.publish_skipped.clone(),
        );
        registry.register("outbox_depth", "Pending deliveries", m.outbox_depth.clone());
        registry.register(
            "outbox_oldest_seconds",
            "Age of the oldest pending delivery in seconds",
            m.outbox_oldest_seconds.clone(),
        );
        registry.register(
            "tracked_posts",
            "Posts whose reaction tally is kept live",
            m.tracked_posts.clone(),
        );
        registry.register(
            "edits",
            "Message edits by platform and outcome",
            m.edits.clone(),
        );
        registry.register(
            "parse_failures",
            "PTT pages that did not parse, by board and page kind",
            m.parse_failures.clone(),
        );
        registry.register("leader", "1 when this process leads", m.leader.clone());
        registry.register("build_info", "Build information", m.build_info.clone());
        m.build_info
            .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_owned())])
            .set(1);
        Metrics { registry, ..m }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Counts a poll.
    pub fn poll(&self, board: &str, outcome: &'static str) {
        self.polls
            .get_or_create(&vec![
                ("board", board.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts a PTT response (`status` is the HTTP status or `error`).
    pub fn ptt_request(&self, status: &str, seconds: f64) {
        self.ptt_requests
            .get_or_create(&vec![("status", status.to_owned())])
            .inc();
        self.ptt_request_duration.observe(seconds);
    }

    /// Counts new posts.
    pub fn posts_seen(&self, board: &str, n: u64) {
        self.posts_seen
            .get_or_create(&vec![("board", board.to_owned())])
            .inc_by(n);
    }

    /// Counts a relayed post.
    pub fn post_relayed(&self, board: &str) {
        self.posts_relayed
            .get_or_create(&vec![("board", board.to_owned())])
            .inc();
    }

    /// Counts a post given up on.
    pub fn post_abandoned(&self, board: &str, reason: &'static str) {
        self.posts_abandoned
            .get_or_create(&vec![
                ("board", board.to_owned()),
                ("reason", reason.to_owned()),
            ])
            .inc();
    }

    /// Counts a delivery attempt.
    pub fn delivery(&self, platform: &str, outcome: &'static str) {
        self.deliveries
            .get_or_create(&vec![
                ("platform", platform.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts a rate-limited answer.
    pub fn rate_limited(&self, platform: &str) {
        self.rate_limited
            .get_or_create(&vec![("platform", platform.to_owned())])
            .inc();
    }

    /// Counts a message of an announcement channel left unpublished.
    pub fn publish_skipped(&self, platform: &str) {
        self.publish_skipped
            .get_or_create(&vec![("platform", platform.to_owned())])
            .inc();
    }

    /// Counts an edit.
    pub fn edit(&self, platform: &str, outcome: &'static str) {
        self.edits
            .get_or_create(&vec![
                ("platform", platform.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// Counts a page that did not parse (`page` is `index` or `article`).
    pub fn parse_failure(&self, board: &str, page: &'static str) {
        self.parse_failures
            .get_or_create(&vec![
                ("board", board.to_owned()),
                ("page", page.to_owned()),
            ])
            .inc();
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_metric_is_exposed() {
        let m = metrics();
        m.poll("Stock", "ok");
        m.ptt_request("200", 0.1);
        m.posts_seen("Stock", 1);
        m.post_relayed("Stock");
        m.post_abandoned("Stock", "fetch_failed");
        m.delivery("telegram", "sent");
        m.rate_limited("telegram");
        m.edit("telegram", "sent");
        m.parse_failure("Stock", "index");
        let text = m.encode();
        for name in [
            "ptt_relay_polls_total{",
            "ptt_relay_ptt_requests_total{",
            "ptt_relay_ptt_request_duration_seconds_bucket",
            "ptt_relay_posts_seen_total{",
            "ptt_relay_posts_relayed_total{",
            "ptt_relay_posts_abandoned_total{board=\"Stock\",reason=\"fetch_failed\"}",
            "ptt_relay_deliveries_total{",
            "ptt_relay_rate_limited_total{",
            "ptt_relay_outbox_depth ",
            "ptt_relay_outbox_oldest_seconds ",
            "ptt_relay_tracked_posts ",
            "ptt_relay_edits_total{",
            "ptt_relay_parse_failures_total{",
            "ptt_relay_leader ",
            "ptt_relay_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
