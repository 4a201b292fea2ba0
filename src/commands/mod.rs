//! Chat commands, parsed once into a platform-neutral [`Command`] and
//! handled in one place ([`Handler`]); every reply text lives in [`i18n`].
//! Each command has one file holding its parse and apply halves.

pub mod configured;
pub mod events;
pub mod grammar;
pub mod handler;
pub mod help;
pub mod i18n;
pub mod latest;
pub mod limit;
pub mod list;
pub mod status;
pub mod subscribe;
pub mod top;
pub mod unsubscribe;

pub use events::Membership;
pub use grammar::{Command, CommandError, parse};
pub use handler::{Context, Handler, Reply, ReplyKind};
pub use help::Help;
pub use i18n::Lang;
pub use latest::Latest;
pub use limit::Admission;
pub use list::List;
pub use status::Status;
pub use subscribe::Subscribe;
pub use top::Top;
pub use unsubscribe::{Target, Unsubscribe};
