//! Untrusted bytes into the sync request decoder (what the server does with every
//! `POST /v1/sync` body). It must never panic, and whatever it accepts must be valid and
//! survive a re-encode unchanged.
#![no_main]

use casesync_core::protocol::{decode_request, encode_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_request(data) {
        req.validate().expect("a decoded request is valid");
        let again = decode_request(&encode_request(&req)).expect("a re-encoded request decodes");
        assert_eq!(again, req, "re-encoding changes nothing");
    }
});
