//! The invariants of issue 12, checked on one run's outcome. Each returns
//! the violations it found, as lines that say what a user would have seen.

use std::collections::HashMap;
use std::time::Duration;

use ptt_relay::chat::discord::ID as DISCORD;
use ptt_relay::dest::Platform;
use tokio::time::Instant;

use super::chat::{Record, Shown};
use super::ptt::{Fault, SimPost};
use super::{Family, Outcome, PROBE, Subscriber};

/// Whether `sub` may get `post` (the subscription words used in the
/// simulation, read as DESIGN.md's grammar reads them): `push:N` once the
/// net push reached N at some point.
fn may_get(sub: &Subscriber, post: &SimPost) -> bool {
    wants(sub, post, post.peak)
}

/// Whether `sub` must get `post`: `push:N` when the post ends at N or more.
fn must_get(sub: &Subscriber, post: &SimPost) -> bool {
    wants(sub, post, post.net())
}

fn wants(sub: &Subscriber, post: &SimPost, net: i64) -> bool {
    let tag = post
        .title
        .strip_prefix('[')
        .and_then(|t| t.split_once(']'))
        .map(|(t, _)| t);
    match sub.words {
        "tag:*" => true,
        "tag:新聞" => tag == Some("新聞"),
        "kw:台積電" => tag == Some("新聞") && post.title.contains("台積電"),
        "push:3" => tag == Some("新聞") && net >= 3,
        other => panic!("no model for the words {other}"),
    }
}

fn record_of(o: &Outcome, p: Platform) -> &Record {
    match p {
        DISCORD => &o.discord,
        _ => &o.telegram,
    }
}

/// The board's posts by id.
fn posts_by_id(o: &Outcome) -> HashMap<&str, &SimPost> {
    o.posts.iter().map(|p| (p.id.as_str(), p)).collect()
}

/// When `post` reached the latency probe chat, if it did.
pub fn probe_arrival(o: &Outcome, post: &str) -> Option<Instant> {
    o.telegram
        .shown
        .iter()
        .find(|m| m.dest.chat == PROBE && m.post == post)
        .map(|m| m.at)
}

/// Was the post on the board when the relay seeded (or before)?
fn is_old(o: &Outcome, post: &SimPost) -> bool {
    post.before_start
        || o.first_index_ok
            .is_none_or(|seeded| post.appeared <= seeded)
}

fn secs(o: &Outcome, t: Instant) -> f64 {
    t.duration_since(o.start).as_secs_f64()
}

/// Every check; an empty list means the run kept every promise.
pub fn all(o: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    v.extend(every_post_once(o));
    v.extend(order(o));
    v.extend(final_tally(o));
    v.extend(rate_windows(o));
    if matches!(o.scenario.family, Family::Outages | Family::Replicas) {
        v.extend(latency_after_faults(o));
    }
    v
}

/// Every listed, never-deleted, new post that a destination's words match
/// reached it; nothing old did; a repeat only where that very send's answer
/// was lost or its process died during it.
pub fn every_post_once(o: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    let by_id = posts_by_id(o);
    for sub in &o.subscribers {
        let rec = record_of(o, sub.dest.platform);
        let shown: Vec<&Shown> = rec.shown.iter().filter(|m| m.dest == sub.dest).collect();
        let mut count: HashMap<&str, usize> = HashMap::new();
        for m in &shown {
            *count.entry(m.post.as_str()).or_default() += 1;
        }
        for (post, n) in &count {
            let Some(p) = by_id.get(post) else {
                v.push(format!(
                    "{}: got {post}, which is no post of the board",
                    sub.dest
                ));
                continue;
            };
            if is_old(o, p) {
                v.push(format!(
                    "{}: got {post}, posted before the relay seeded the board",
                    sub.dest
                ));
            }
            if !may_get(sub, p) {
                v.push(format!(
                    "{}: got {post} ({}), not its words {}",
                    sub.dest, p.title, sub.words
                ));
            }
            if *n > 1
                && !rec
                    .unacknowledged
                    .contains(&(sub.dest.chat.clone(), (*post).to_owned()))
            {
                v.push(format!("{}: got {post} {n} times", sub.dest));
            }
        }
        if o.left.iter().any(|(chat, _)| *chat == sub.dest.chat) {
            continue;
        }
        for p in &o.posts {
            if is_old(o, p) || p.deleted_at.is_some() || !must_get(sub, p) {
                continue;
            }
            if !count.contains_key(p.id.as_str()) {
                v.push(format!(
                    "{}: never got {} ({}, appeared at {:.0} s)",
                    sub.dest,
                    p.id,
                    p.title,
                    secs(o, p.appeared)
                ));
            }
        }
    }
    v
}

/// Per destination, a post never arrives before an older one found with it
/// (one held back by a failed request may arrive after newer ones).
pub fn order(o: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    let by_id = posts_by_id(o);
    for sub in &o.subscribers {
        if sub.words.starts_with("push:") {
            continue; // relayed when the push count arrives, not in order
        }
        let rec = record_of(o, sub.dest.platform);
        let mut seen: Vec<&SimPost> = Vec::new();
        for m in rec.shown.iter().filter(|m| m.dest == sub.dest) {
            let Some(p) = by_id.get(m.post.as_str()) else {
                continue;
            };
            if seen.iter().any(|q| q.id == p.id) {
                continue;
            }
            if let Some(newer) = seen.iter().find(|q| q.epoch > p.epoch)
                && !p.held
                && p.deleted_at.is_none()
            {
                v.push(format!(
                    "{}: {} arrived after the newer {}",
                    sub.dest, p.id, newer.id
                ));
            }
            seen.push(p);
        }
    }
    v
}

/// The last version of every message shows the post's final tally (posts
/// not deleted, in chats still there).
pub fn final_tally(o: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    let by_id = posts_by_id(o);
    for rec in [&o.telegram, &o.discord] {
        // Only the last message of a post in a chat: an earlier one whose
        // answer was lost is unknown to the relay and cannot be edited.
        let mut last: HashMap<(&str, &str), &Shown> = HashMap::new();
        for m in &rec.shown {
            last.insert((m.dest.chat.as_str(), m.post.as_str()), m);
        }
        let mut last: Vec<&Shown> = last.into_values().collect();
        last.sort_by_key(|m| m.at);
        for m in last {
            if o.left.iter().any(|(chat, _)| *chat == m.dest.chat) {
                continue;
            }
            let Some(p) = by_id.get(m.post.as_str()) else {
                continue;
            };
            if p.deleted_at.is_some() {
                continue;
            }
            if m.net != p.net() {
                v.push(format!(
                    "{}: the message of {} shows net {}, the post ended at {}",
                    m.dest,
                    p.id,
                    m.net,
                    p.net()
                ));
            }
        }
    }
    v
}

/// Requests of each platform stay within its overall limit in every
/// one-second window (Telegram 30, Discord 50): every process's and every
/// replica's requests together (the platforms' records are shared).
pub fn rate_windows(o: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    for (name, rec, limit) in [("Telegram", &o.telegram, 30), ("Discord", &o.discord, 50)] {
        let mut at = rec.requests.clone();
        at.sort();
        let mut lo = 0;
        for hi in 0..at.len() {
            while at[hi].duration_since(at[lo]) >= Duration::from_secs(1) {
                lo += 1;
            }
            if hi - lo + 1 > limit {
                v.push(format!(
                    "{name}: {} requests within one second at {:.1} s",
                    hi - lo + 1,
                    secs(o, at[lo])
                ));
                break;
            }
        }
        if rec.rate_limited > 0 && !matches!(o.scenario.family, Family::Chaos | Family::Replicas) {
            v.push(format!("{name}: {} answers were 429", rec.rate_limited));
        }
    }
    v
}

/// Once a plain fault ends, the next new post reaches the probe chat within
/// one poll interval (plus its 10% jitter) and 2 s. With replicas, not
/// across a crash or a freeze (a lead changing hands, a frozen leader).
pub fn latency_after_faults(o: &Outcome) -> Vec<String> {
    let mut v = Vec::new();
    let interval = o.scenario.interval_secs as f64;
    let bound = interval * 1.1 + 2.0;
    for f in &o.outages {
        if f.fault == Fault::Cloudflare {
            continue; // a block is paused on purpose, up to 10 minutes
        }
        let Some(p) = o
            .posts
            .iter()
            .filter(|p| p.appeared >= f.end && p.deleted_at.is_none())
            .min_by_key(|p| p.appeared)
        else {
            continue;
        };
        let Some(arrived) = probe_arrival(o, &p.id) else {
            v.push(format!(
                "probe: never got {} after the {:?} outage",
                p.id, f.fault
            ));
            continue;
        };
        let limit = p.appeared + Duration::from_secs_f64(bound);
        if o.outages
            .iter()
            .any(|g| g.start < limit && g.end > f.end && g.start != f.start)
        {
            continue; // another fault began before this one was over for it
        }
        if o.disruptions
            .iter()
            .any(|&(from, to)| from < limit && to > f.start)
        {
            continue; // a crash or a freeze, not the fault, held it
        }
        if o.outages.iter().any(|g| {
            g.fault == Fault::Cloudflare
                && g.start < limit
                && g.end + Duration::from_secs(600) > p.appeared
        }) {
            continue; // a block's pause (up to 10 minutes) outlasts it
        }
        let took = arrived.duration_since(p.appeared).as_secs_f64();
        if took > bound {
            v.push(format!(
                "probe: {} took {took:.1} s after the {:?} outage ending at {:.0} s (bound {bound:.0} s)",
                p.id,
                f.fault,
                secs(o, f.end)
            ));
        }
    }
    v
}

/// A digest of everything the platforms saw, to compare two runs.
pub fn fingerprint(o: &Outcome) -> String {
    let mut s = String::new();
    for rec in [&o.telegram, &o.discord] {
        for m in &rec.shown {
            s.push_str(&format!(
                "{} {} {} {} {:?}\n",
                m.dest,
                m.post,
                m.net,
                m.deleted_mark,
                m.at.duration_since(o.start)
            ));
        }
        s.push_str(&format!("requests {}\n", rec.requests.len()));
    }
    s.push_str(&format!(
        "ptt {} {}\n",
        o.index_requests, o.article_requests
    ));
    s
}
