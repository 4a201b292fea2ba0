//! Who wants a board's posts: its subscriptions, plus the console filter.

use std::sync::Arc;

use crate::dest::Destination;
use crate::filter::Filter;
use crate::ptt::Board;
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

    /// Every target of a board: the console's, then each subscription's
    /// (the store hands their filters over parsed).
    pub async fn targets(&self, board: &Board) -> store::Result<Vec<Target>> {
        let console = self.console.iter().map(|f| Target {
            dest: Destination::console(),
            filter: f.clone(),
        });
        let subscribed = self.store.subscriptions_for_board(board).await?;
        Ok(console
            .chain(subscribed.into_iter().map(|sub| Target {
                dest: sub.dest,
                filter: sub.filter,
            }))
            .collect())
    }
}
