//! Subscriptions that come from the configuration instead of chat commands
//! (outgoing webhooks): applied through the handler, like a command, so no
//! adapter writes the store.

use crate::clock::now_secs;
use crate::dest::Destination;
use crate::filter::Filter;
use crate::store::Removal;

use super::Handler;

impl Handler {
    /// Makes `dest`'s subscriptions exactly `wanted` (board as written,
    /// filter): the wanted ones are added first (an existing one is kept),
    /// then every other one of `dest` is removed, so no post is routed
    /// while `dest` has none. A paused `dest` resumes (a restart after a
    /// fix is how an operator brings it back). `Err` lists what could not
    /// be applied (a board that is not polled, a store failure); what could
    /// be applied is.
    pub async fn set_subscriptions(
        &self,
        dest: &Destination,
        wanted: &[(String, Filter)],
    ) -> Result<(), Vec<String>> {
        let store = self.store();
        let mut errors = Vec::new();
        let mut keep = Vec::new();
        for (board, filter) in wanted {
            let Some(b) = self.board_named(Some(board)) else {
                errors.push(format!("board {board:?} is not polled (ptt.boards)"));
                continue;
            };
            match store.subscribe(dest, b, filter, now_secs()).await {
                Ok((id, _)) => keep.push(id),
                Err(e) => errors.push(format!("cannot subscribe to {b}: {e}")),
            }
        }
        if !errors.is_empty() {
            // Half applied: keep what was there rather than remove it.
            return Err(errors);
        }
        match store.subscriptions_of(dest).await {
            Ok(subs) => {
                for s in subs.iter().filter(|s| !keep.contains(&s.id)) {
                    if let Err(e) = store.unsubscribe(dest, &Removal::Id(s.id)).await {
                        errors.push(format!("cannot remove subscription #{}: {e}", s.id));
                    }
                }
            }
            Err(e) => errors.push(format!("cannot list the subscriptions: {e}")),
        }
        match store.resume_chat(dest.platform, &dest.chat).await {
            Ok(true) => self.destination_resumed(),
            Ok(false) => {}
            Err(e) => errors.push(format!("cannot resume: {e}")),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
