//! The command grammar: never panics; an accepted `/subscribe` filter's
//! canonical form (what the store keeps) parses back to the same filter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay::commands::grammar::{LATEST_MAX, Target};
use ptt_relay::commands::{Command, Latest, Subscribe, Unsubscribe, parse};
use ptt_relay::filter::{Filter, PostView};
use ptt_relay::ptt::Board;

fn assert_round_trip(filter: &Filter, from: &str) {
    let canonical = filter.canonical();
    match Filter::parse_str(&canonical) {
        Ok(again) => assert_eq!(
            &again, filter,
            "canonical {canonical:?} of {from:?} parses to another filter"
        ),
        Err(e) => panic!("canonical {canonical:?} of {from:?} does not parse: {e}"),
    }
    // Exercise matching (NFKC, case folding) on the input itself.
    let _ = filter.matches_post(PostView {
        title: from,
        author: Some(from),
    });
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for bot in [Some("ptt_relay_bot"), None] {
        match parse(&text, bot) {
            Ok(Some(Command::Subscribe(Subscribe { board, filter }))) => {
                if let Some(b) = &board {
                    assert!(Board::parse(b).is_some(), "board {b:?}");
                }
                assert_round_trip(&filter, &text);
            }
            Ok(Some(Command::Unsubscribe(Unsubscribe {
                target: Target::Board(b),
            }))) => {
                assert_eq!(Board::parse(b.as_str()).as_ref(), Some(&b), "board {b:?}");
            }
            Ok(Some(Command::Latest(Latest { n }))) => assert!((1..=LATEST_MAX).contains(&n)),
            Ok(_) | Err(_) => {}
        }
    }
    // Stored and configured filters go through parse_str.
    if let Ok(filter) = Filter::parse_str(&text) {
        assert_round_trip(&filter, &text);
    }
});
