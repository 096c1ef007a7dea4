//! Hostile input against the real server binary (DESIGN §5: bad input of any kind gets a
//! clear 4xx, never a panic, and never corrupts stored data).
//!
//! One table of malformed and hostile requests, sent over raw TCP (so nothing is
//! normalised or refused by a client library first). Each row states its expected status
//! and the error contract's body — `Content-Type: application/json`, an object of exactly
//! `code` (as expected) and a non-empty `message` — or, for a sync round trip that is
//! answered 200, the expected push refusals. The only answers without the JSON body are
//! hyper's, for request heads it refuses before any service runs (a bare status, no
//! body: it has no hook for one; `server/README.md`), and the dashboard's HTML pages.
//! After every row the server must still answer `/healthz`, and what the API
//! serves — every case read as a coordinator of both districts with sensitive access,
//! and the heads of every case a full pull yields — must equal the baseline. Around the
//! whole table the server is stopped and its sled directory dumped: the two dumps must
//! be identical except for the keys listed in [`table::legitimately_written`].
//!
//! By concern: `table.rs` (the table and its run; its rows in `table/`), `changes.rs`
//! (hostile Automerge changes and pages), `memory.rs` (what refusing costs), `slow.rs`
//! (slow and idle clients), `fuzz_seeds.rs` (the fuzz corpora), `wire.rs` (hand-made
//! bodies).

use std::fmt::Write as _;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit};
use casesync_core::case::*;
use casesync_core::protocol::{
    encode_request, encode_response, DocBody, DocPush, DocUpdate, PushAck, Refusal, RefusalCode,
    SyncRequest, SyncResponse, CONTENT_TYPE, PROTOCOL_VERSION,
};
use casesync_tests::dump::*;
use casesync_tests::fixtures::*;
use casesync_tests::harness::*;
use casesync_tests::hostile;

mod changes;
mod fuzz_seeds;
mod memory;
mod slow;
mod table;
mod wire;

use wire::*;

const DHAKA: &str = "dhaka";
const KHULNA: &str = "khulna";

fn users() -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, DHAKA);
    coord.districts.push(KHULNA.into());
    coord.sensitive_access = true;
    vec![
        coord,
        UserSpec::new("chw-a", Role::Chw, DHAKA),
        UserSpec::new("chw-b", Role::Chw, KHULNA),
        UserSpec::new("admin", Role::Admin, DHAKA),
    ]
}

fn spec(name: &str) -> UserSpec {
    users()
        .into_iter()
        .find(|u| u.username == name)
        .expect("known user")
}

/// [`changes_by`] for material known to be editable.
fn edit(
    doc: CaseDoc,
    actor: ActorId,
    f: impl FnOnce(&mut CaseDoc) -> Result<(), CaseError>,
) -> Vec<Vec<u8>> {
    changes_by(doc, actor, f).expect("edit")
}

fn load(bytes: &[u8]) -> CaseDoc {
    CaseDoc::load(bytes).expect("load")
}
