//! The delivery options of one message: decided when it is sent (and
//! again when it is edited) from the subscriptions of its destination that
//! match the post, merged by [`DeliveryOptions::merge`].
//!
//! Deciding at send time needs no column in the outbox or the sent
//! messages: a destination's subscriptions are few (at most 50) and read
//! by one indexed query. The price: a subscription changed between the
//! queueing and the send applies already, and a `push:N` subscription
//! whose post fell below N again no longer counts.

use crate::dest::Destination;
use crate::digest::Digest;
use crate::filter::DeliveryOptions;
use crate::store::{self, Store};

/// The digest as this destination's message shows it: with the `🔥` line
/// of the `hot:` word it was relayed for, if any.
pub fn as_sent(digest: &Digest, opts: &DeliveryOptions) -> Digest {
    let mut shown = digest.clone();
    shown.hot = opts.hot;
    shown
}

/// The options of a message of `digest` to `dest`: those of `dest`'s
/// subscriptions to the post's board that match it (defaults when none
/// does, or for the console). A stored filter that no longer parses is
/// left out (the store logs it).
pub async fn for_message(
    store: &dyn Store,
    dest: &Destination,
    digest: &Digest,
) -> store::Result<DeliveryOptions> {
    if dest.platform == crate::dest::Platform::CONSOLE {
        return Ok(DeliveryOptions::default());
    }
    let subs = store.subscriptions_of(dest).await?;
    Ok(DeliveryOptions::merge(
        subs.iter()
            // A `top:` subscription sends its leaderboard, never this.
            .filter(|s| {
                s.filter.top.is_none()
                    && s.board.eq_ignore_case(&digest.board)
                    && s.filter.matches(digest)
            })
            .map(|s| (s.id, &s.filter)),
    ))
}
