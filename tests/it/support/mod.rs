//! Shared test support: fakes of the external services and helpers.
#![allow(dead_code)]

pub mod binary;
pub mod fake_discord;
pub mod fake_ptt;
pub mod fake_telegram;
pub mod fake_webhook;
pub mod harness;
pub mod pg;
pub mod recording;
pub mod telegram_html;

/// Sends the library's logs to the test output (shown for failing tests).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("ptt_relay=debug")),
        )
        .with_test_writer()
        .try_init();
}

/// A board name the tests know to be valid.
pub fn board_of(name: &str) -> ptt_relay::ptt::Board {
    ptt_relay::ptt::Board::parse(name).expect("a valid board name")
}

/// Subscription filter words the tests know to parse.
pub fn filter_of(words: &str) -> ptt_relay::filter::Filter {
    ptt_relay::filter::Filter::parse_str(words).expect("valid filter words")
}
