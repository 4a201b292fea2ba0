//! The Telegram renderer: for any digest (arbitrary Unicode in every text
//! field, long strings, any tally and time) the message is valid Telegram
//! HTML within 4096 visible UTF-16 units. See `ptt_relay_fuzz::digest_case`
//! for the input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay_fuzz::{Input, assert_telegram, digest_case};

fuzz_target!(|data: &[u8]| {
    let case = digest_case(&Input::split(data));
    assert_telegram(&case.digest, case.status.as_deref());
});
