//! Who wants a board's posts: its subscriptions, plus the console filter.

use std::sync::Arc;

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
}

impl Router {
    /// A router over the store's subscriptions; `console` is the console
    /// sink's filter when the console is enabled.
    pub fn new(store: Arc<dyn Store>, console: Option<Filter>) -> Self {
        Router { store, console }
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
            match Filter::parse_str(&sub.filter) {
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
}
