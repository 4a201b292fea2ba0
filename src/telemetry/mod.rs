//! Logging: every log line goes to stderr (stdout carries only the product),
//! human-readable or JSON.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` overrides the default level
/// (`info` for ptt-relay, `warn` for libraries). Safe to call twice.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,ptt_relay=info,ptt-relay=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().with_current_span(false).try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

pub mod metrics;
pub mod redact;
pub mod status;
