//! The Discord renderer: for any digest the embed keeps Discord's limits and
//! the message body pings nobody. See `ptt_relay_fuzz::digest_case` for the
//! input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay_fuzz::{Input, assert_discord, digest_case, field};

fuzz_target!(|data: &[u8]| {
    let input = Input::split(data);
    let case = digest_case(&input);
    assert_discord(
        &case.digest,
        case.status.as_deref(),
        input.field(field::NONCE_DEST),
    );
});
