//! Arbitrary bytes pushed as Automerge changes to the server's sync engine (the code
//! behind `POST /v1/sync`) over a fresh temporary sled store holding one case, and
//! applied to the same case as a device would.
//!
//! Input: one flag byte, then changes, each a little-endian `u16` length and its bytes.
//! Flags: bit 0 recomputes each change's chunk checksum (so mutations reach the change
//! decoder instead of stopping at the checksum), bit 1 pushes to a new document id
//! instead of the stored case, bit 2 pushes as the case's coordinator instead of its CHW.
//!
//! Checked: nothing panics; the engine never fails (a failure is a store error or a
//! stored case that no longer loads); an accepted push leaves a case that loads, reads,
//! and is served back in a page that the device's decoder accepts.
#![no_main]

use std::sync::Arc;

use automerge::Change;
use casesync_core::case::{CaseDoc, Role};
use casesync_core::protocol::{
    decode_response, encode_response, DocPush, SyncRequest, PROTOCOL_VERSION,
};
use casesync_server::config::Settings;
use casesync_server::store::{SledStorage, Storage, UserRecord};
use casesync_server::sync::SyncEngine;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// A case in district `fuzz-district` assigned to `chw1`, written by actors of device
/// `fuzz-phone` (made by `write_fuzz_seeds` in tests/tests/hostile_input/fuzz_seeds.rs).
const BASE: &[u8] = include_bytes!("../fixtures/base_case.automerge");
const CASE_ID: &str = "fuzz-case";
const NEW_ID: &str = "fuzz-new";
const DEVICE: &str = "fuzz-phone";
const DISTRICT: &str = "fuzz-district";

fn user(id: &str, role: Role) -> UserRecord {
    UserRecord {
        user_id: id.into(),
        role,
        districts: vec![DISTRICT.into()],
        sensitive_access: true,
        password_hash: String::new(),
        disabled: false,
        created_ms: 0,
    }
}

/// Splits the input into changes; with `fix`, rewrites each chunk checksum.
fn changes(mut data: &[u8], fix: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while data.len() >= 2 && out.len() < 64 {
        let n = u16::from_le_bytes([data[0], data[1]]) as usize;
        let take = n.min(data.len() - 2);
        let mut c = data[2..2 + take].to_vec();
        data = &data[2 + take..];
        if fix && c.len() >= 8 {
            let sum = Sha256::digest(&c[8..]);
            c[4..8].copy_from_slice(&sum[..4]);
        }
        out.push(c);
    }
    out
}

/// Whether a chunk's checksum (bytes 4..8) matches the SHA-256 of the rest.
fn checksum_ok(c: &[u8]) -> bool {
    c.len() >= 8 && Sha256::digest(&c[8..])[..4] == c[4..8]
}

/// KNOWN BUG, found by this target and by `tests/tests/hostile_input/`
/// (`a_change_with_a_wrong_checksum_is_refused_and_the_case_survives`): the server stores
/// a pushed change whose chunk checksum is wrong, and the case then no longer loads.
/// Until that is fixed, such inputs skip the server side so the fuzzer can look for
/// other bugs; `CASESYNC_FUZZ_KNOWN_BUGS=1` pushes them anyway.
fn skip_known_bug(changes: &[Vec<u8>]) -> bool {
    !known_bugs() && changes.iter().any(|c| !checksum_ok(c))
}

/// `CASESYNC_FUZZ_KNOWN_BUGS` is set: report the known bugs instead of skipping them.
fn known_bugs() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("CASESYNC_FUZZ_KNOWN_BUGS").is_some())
}

fn pull(engine: &SyncEngine, who: &UserRecord) {
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: DEVICE.into(),
        cursor: Vec::new(),
        push: Vec::new(),
        max_page_bytes: 0,
    };
    let (resp, _) = engine.sync(who, DEVICE, &req).expect("a pull never fails");
    decode_response(&encode_response(&resp)).expect("the device decodes every page");
}

fuzz_target!(init: {
    // libfuzzer-sys aborts on any panic from its hook; keep its hook for every panic
    // except the known automerge one caught above, so that one can be skipped.
    let abort_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let known = info
            .location()
            .is_some_and(|l| l.file().contains("automerge") && !known_bugs());
        if !known {
            abort_hook(info);
        }
    }));
}, |data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let pushed = changes(rest, flags & 1 != 0);
    let doc_id = if flags & 2 != 0 { NEW_ID } else { CASE_ID };
    let who = if flags & 4 != 0 {
        user("coord", Role::Coordinator)
    } else {
        user("chw1", Role::Chw)
    };

    // The device side: the same bytes applied to its copy of the case.
    if let Ok(parsed) = pushed
        .iter()
        .map(|b| Change::from_bytes(b.clone()))
        .collect::<Result<Vec<_>, _>>()
    {
        let mut doc = CaseDoc::load(BASE).expect("base case");
        // KNOWN BUG 3: automerge 0.12 panics applying some hostile changes
        // ("Obj ... Missing from Index", fuzz/regressions/push_change/automerge-panic).
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.apply_changes(parsed).is_ok()
        }));
        let applied = match applied {
            Ok(ok) => ok,
            Err(_) if !known_bugs() => return,
            Err(e) => std::panic::resume_unwind(e),
        };
        if applied {
            let _ = doc.read();
            let _ = doc.summary();
            let _ = doc.history();
            let _ = doc.conflicts();
            let saved = doc.save();
            if CaseDoc::load(&saved).is_err() {
                // KNOWN BUG 2: a change that does not survive save() + load() (e.g. a
                // non-canonical column encoding, see fuzz/regressions/push_change) is
                // accepted by the server and bricks the case once it is re-saved.
                assert!(!known_bugs(), "a saved document loads");
                return;
            }
        }
    }

    // The server side.
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: DEVICE.into(),
        cursor: Vec::new(),
        push: vec![DocPush {
            doc_id: doc_id.into(),
            changes: pushed,
        }],
        max_page_bytes: 0,
    };
    if req.validate().is_err() {
        return; // decode_request refuses it before the engine sees it
    }
    if skip_known_bug(&req.push[0].changes) {
        return;
    }
    let store = Arc::new(SledStorage::temporary().expect("temporary sled"));
    let engine = SyncEngine::new(store.clone(), Settings::default());
    let mut base = CaseDoc::load(BASE).expect("base case");
    engine.store_new(&mut base).expect("store the base case");
    let (resp, _) = engine.sync(&who, DEVICE, &req).expect("a push never fails");
    decode_response(&encode_response(&resp)).expect("the device decodes the answer");
    for ack in &resp.acked {
        let bytes = store
            .doc_bytes(&ack.doc_id)
            .expect("store")
            .expect("an acknowledged case is stored");
        let mut doc = CaseDoc::load(&bytes).expect("an acknowledged case loads");
        let case = doc.read().expect("an acknowledged case reads");
        assert_eq!(case.id, ack.doc_id);
    }
    pull(&engine, &who);
});
