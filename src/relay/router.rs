//! Who wants a board's posts: its subscriptions, plus the console filter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::dest::Destination;
use crate::filter::Filter;
use crate::store::{self, Store};

/// A destination and the filter it subscribed with.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where.
    pub dest: Destination,
    /// What it wants.
    pub filter: Filter,
}

/// Resolves the targets of a board.
pub struct Router {
    store: Arc<dyn Store>,
    console: Option<Filter>,
    /// Stored filters already parsed, by their canonical words: a poll
    /// parses only filters it has not seen (subscriptions change rarely).
    parsed: Mutex<HashMap<String, Filter>>,
}

/// At most this many parsed filters are kept; past it the memo starts
/// over (a bound, not a cache policy: real deployments hold far fewer).
const PARSED_MAX: usize = 10_000;

impl Router {
    /// A router over the store's subscriptions; `console` is the console
    /// sink's filter when the console is enabled.
    pub fn new(store: Arc<dyn Store>, console: Option<Filter>) -> Self {
        Router {
            store,
            console,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// Every target of a board. A stored filter that no longer parses is
    /// logged and skipped.
    pub async fn targets(&self, board: &str) -> store::Result<Vec<Target>> {
        let mut out: Vec<Target> = self
            .console
            .iter()
            .map(|f| Target {
                dest: Destination::console(),
                filter: f.clone(),
            })
            .collect();
        for sub in self.store.subscriptions_for_board(board).await? {
            match self.parse(&sub.filter) {
                Ok(filter) => out.push(Target {
                    dest: sub.dest,
                    filter,
                }),
                Err(e) => {
                    tracing::error!(chat = %sub.dest, id = sub.id, error = %e, "stored filter does not parse")
                }
            }
        }
        Ok(out)
    }

    /// A stored filter, parsed once.
    fn parse(&self, words: &str) -> Result<Filter, crate::filter::FilterError> {
        let mut parsed = self
            .parsed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(f) = parsed.get(words) {
            return Ok(f.clone());
        }
        let f = Filter::parse_str(words)?;
        if parsed.len() >= PARSED_MAX {
            parsed.clear();
        }
        parsed.insert(words.to_owned(), f.clone());
        Ok(f)
    }
}
