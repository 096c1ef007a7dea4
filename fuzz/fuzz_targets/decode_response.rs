//! Untrusted bytes into the sync response decoder (what a phone does with every page
//! from the server, or from whatever sits between). It must never panic, and whatever it
//! accepts must be valid and survive a re-encode unchanged.
#![no_main]

use casesync_core::protocol::{decode_response, encode_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = decode_response(data) {
        resp.validate().expect("a decoded response is valid");
        let again =
            decode_response(&encode_response(&resp)).expect("a re-encoded response decodes");
        assert_eq!(again, resp, "re-encoding changes nothing");
    }
});
