//! Chat commands, parsed once into a platform-neutral [`Command`] and
//! handled in one place ([`Handler`]); every reply text lives in [`i18n`].

pub mod configured;
pub mod events;
pub mod grammar;
pub mod handler;
pub mod i18n;
pub mod limit;

pub use events::Membership;
pub use grammar::{Command, CommandError, parse};
pub use handler::{Context, Handler, Reply, ReplyKind};
pub use i18n::Lang;
pub use limit::Admission;
