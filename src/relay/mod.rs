//! The relay engine: board pollers, the outbox and tally edit workers.

pub mod edits;
pub mod hot;
pub mod leaderboard;
pub mod options;
pub mod outbox;
pub mod poller;
pub mod router;
pub mod tally;
