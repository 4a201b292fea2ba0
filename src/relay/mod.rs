//! The relay engine: board pollers, the outbox workers and runtime status.

pub mod edits;
pub mod outbox;
pub mod poller;
pub mod router;
pub mod status;
pub mod tally;
