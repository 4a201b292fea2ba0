//! ptt-relay: watches PTT boards for tagged posts and relays short digests to
//! Discord and Telegram chats.

pub mod app;
pub mod chat;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dest;
pub mod digest;
pub mod filter;
pub mod host;
pub mod http;
pub mod preview;
pub mod ptt;
pub mod relay;
pub mod stocks;
pub mod store;
pub mod telemetry;
pub mod text;
