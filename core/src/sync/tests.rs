//! The session against a scripted server: refused pushes are parked, not resent.

use super::*;
use crate::case::{device_actor, ClientUpdate, EditCtx, NewCase, Role};
use crate::protocol::{DocUpdate, PushAck, Refusal};

const KEY: [u8; 32] = [7; 32];
const DEVICE: &str = "dev-refused";
const CASE: &str = "case-fa-1";

fn ctx() -> EditCtx {
    EditCtx::new("chw-3", Role::Chw, 1_700_000_000_000)
}

fn page(acked: &[&str], refused: &[(&str, RefusalCode)], docs: Vec<DocUpdate>) -> SyncResponse {
    SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![1],
        docs,
        removed: Vec::new(),
        acked: acked
            .iter()
            .map(|id| PushAck {
                doc_id: (*id).into(),
                hashes: Vec::new(),
            })
            .collect(),
        refused: refused
            .iter()
            .map(|(id, code)| Refusal {
                doc_id: (*id).into(),
                code: *code,
                message: "این تغییر مجاز نیست".into(),
            })
            .collect(),
        more: false,
        remaining_estimate: 0,
        wipe: false,
    }
}

/// One session of one round trip: the cases pushed and the step after `answer`.
fn round(
    store: &DeviceStore,
    answer: impl FnOnce(&[DocPush]) -> SyncResponse,
) -> (Vec<String>, Step) {
    let mut s = SyncSession::new(store, DEVICE, DEFAULT_PAGE_BYTES).expect("session");
    let req = protocol::decode_request(&s.next_request().expect("request")).expect("decode");
    let resp = answer(&req.push);
    let step = s
        .handle_response(&protocol::encode_response(&resp))
        .expect("response");
    (req.push.into_iter().map(|p| p.doc_id).collect(), step)
}

fn edit(store: &DeviceStore, phone: &str) {
    let mut doc = store.load_case(CASE).expect("load");
    doc.set_actor(store.actor(DEVICE).expect("actor"));
    let u = ClientUpdate {
        phone: Some(phone.into()),
        ..Default::default()
    };
    doc.update_client(&ctx(), &u).expect("edit");
    store.save_local(&mut doc).expect("save");
}

/// A store with the case registered on it and accepted by the server.
fn accepted() -> DeviceStore {
    let store = DeviceStore::in_memory(&KEY);
    let new = NewCase {
        id: CASE.into(),
        district: "Herat".into(),
        village: "گذره".into(),
        assigned_to: "chw-3".into(),
        sensitive: false,
        client_name: "زهرا احمدی".into(),
    };
    let mut doc =
        CaseDoc::create(&ctx(), store.actor(DEVICE).expect("actor"), &new).expect("create");
    store.save_local(&mut doc).expect("save");
    let (pushed, step) = round(&store, |_| page(&[CASE], &[], Vec::new()));
    assert_eq!((pushed, step), (vec![CASE.to_owned()], Step::Done));
    assert!(store.outbox().expect("outbox").is_empty());
    store
}

/// Refuses the next push of the case; returns what was pushed.
fn refuse(store: &DeviceStore) -> Vec<String> {
    let (pushed, step) = round(store, |_| {
        page(&[], &[(CASE, RefusalCode::RestrictedField)], Vec::new())
    });
    assert_eq!(step, Step::Done, "a parked refusal is not waited for");
    pushed
}

fn phone(store: &DeviceStore) -> Option<String> {
    store
        .load_case(CASE)
        .expect("load")
        .read()
        .expect("read")
        .client
        .phone
}

#[test]
fn a_refused_push_is_parked_not_resent() {
    let store = accepted();
    edit(&store, "০১৭১১");
    assert_eq!(refuse(&store), vec![CASE.to_owned()]);
    // Not sent again, session after session; still unsent, listed with the reason, and
    // the device still shows the edit.
    for _ in 0..3 {
        let (pushed, step) = round(&store, |_| page(&[], &[], Vec::new()));
        assert!(pushed.is_empty(), "refused push resent: {pushed:?}");
        assert_eq!(step, Step::Done);
    }
    assert_eq!(store.outbox().expect("outbox"), vec![CASE.to_owned()]);
    let refused = store.refused().expect("refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].case_id, CASE);
    assert_eq!(refused[0].code, RefusalCode::RestrictedField);
    assert_eq!(refused[0].message, "این تغییر مجاز نیست");
    assert_eq!(refused[0].unsent_changes, 1);
    assert_eq!(phone(&store).as_deref(), Some("০১৭১১"));
}

#[test]
fn a_new_local_edit_sends_the_refused_case_again() {
    let store = accepted();
    edit(&store, "1");
    refuse(&store);
    edit(&store, "2");
    let mut changes = 0;
    let (pushed, _) = round(&store, |push| {
        changes = push[0].changes.len();
        page(&[CASE], &[], Vec::new())
    });
    assert_eq!(pushed, vec![CASE.to_owned()]);
    assert_eq!(changes, 2, "the refused change goes up with the new one");
    assert!(store.refused().expect("refused").is_empty());
    assert!(store.outbox().expect("outbox").is_empty());
}

#[test]
fn retry_sends_again_and_a_second_refusal_parks_again() {
    let store = accepted();
    edit(&store, "1");
    refuse(&store);
    assert!(!store.retry_refused("case-other").expect("retry unknown"));
    assert!(store.retry_refused(CASE).expect("retry"));
    assert_eq!(refuse(&store), vec![CASE.to_owned()]);
    let (pushed, _) = round(&store, |_| page(&[], &[], Vec::new()));
    assert!(pushed.is_empty());
}

#[test]
fn the_server_sending_the_case_again_retries_it() {
    let store = accepted();
    edit(&store, "1");
    refuse(&store);
    // Someone else's change to the case reaches the device: the case changed on the
    // server (or came back into scope), so the refused push is tried once more.
    let mut theirs = store.load_case(CASE).expect("load");
    let base = theirs.heads();
    theirs.set_actor(device_actor("coord-phone"));
    theirs.set_village(&ctx(), "Injil").expect("village");
    let raw: Vec<Vec<u8>> = theirs
        .changes_since(&base)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let update = DocUpdate {
        doc_id: CASE.into(),
        body: DocBody::Changes(raw),
    };
    let (pushed, _) = round(&store, |_| page(&[], &[], vec![update]));
    assert!(pushed.is_empty(), "sent before the case changed");
    assert!(store.refused().expect("refused").is_empty());
    let (pushed, _) = round(&store, |_| page(&[CASE], &[], Vec::new()));
    assert_eq!(pushed, vec![CASE.to_owned()]);
}

#[test]
fn discard_returns_the_case_to_what_the_server_accepted() {
    let store = accepted();
    let mut before = store.load_case(CASE).expect("load");
    let heads = before.heads();
    edit(&store, "1");
    edit(&store, "2");
    assert!(
        matches!(store.discard_refused(CASE), Err(StoreError::NotFound(_))),
        "unsent edits that were never refused are not discarded"
    );
    refuse(&store);
    let d = store.discard_refused(CASE).expect("discard");
    assert_eq!((d.changes, d.case_removed), (2, false));
    let mut after = store.load_case(CASE).expect("load");
    assert_eq!(after.heads(), heads);
    assert_eq!(phone(&store), None);
    assert!(store.outbox().expect("outbox").is_empty());
    assert!(store.refused().expect("refused").is_empty());
    assert_eq!(
        store.summary(CASE).expect("summary"),
        before.summary().expect("summary")
    );
    // The device edits on: a new change, accepted.
    edit(&store, "3");
    let (pushed, _) = round(&store, |_| page(&[CASE], &[], Vec::new()));
    assert_eq!(pushed, vec![CASE.to_owned()]);
}

#[test]
fn discarding_a_case_the_server_never_accepted_removes_it() {
    let store = DeviceStore::in_memory(&KEY);
    let new = NewCase {
        id: CASE.into(),
        district: "elsewhere".into(),
        village: String::new(),
        assigned_to: "chw-3".into(),
        sensitive: false,
        client_name: "สมชาย".into(),
    };
    let mut doc =
        CaseDoc::create(&ctx(), store.actor(DEVICE).expect("actor"), &new).expect("create");
    store.save_local(&mut doc).expect("save");
    let (_, step) = round(&store, |_| {
        page(&[], &[(CASE, RefusalCode::OutOfScope)], Vec::new())
    });
    assert_eq!(step, Step::Done);
    let d = store.discard_refused(CASE).expect("discard");
    assert!(d.case_removed);
    assert!(store.case_ids().expect("ids").is_empty());
    assert!(store.refused().expect("refused").is_empty());
}

#[test]
fn an_erased_refusal_still_removes_the_case() {
    let store = accepted();
    edit(&store, "1");
    round(&store, |_| {
        page(&[], &[(CASE, RefusalCode::Erased)], Vec::new())
    });
    assert!(store.case_ids().expect("ids").is_empty());
    assert!(store.refused().expect("refused").is_empty());
}

#[test]
fn the_stored_refusal_record_is_pinned() {
    let r = crate::store::refused_record_for_test(RefusalCode::OutOfScope, "Tiếng Việt", 3);
    assert_eq!(
        String::from_utf8(r).expect("utf8"),
        r#"{"code":"OutOfScope","message":"Tiếng Việt","seq":3}"#
    );
    let long = "ক".repeat(crate::protocol::MAX_REFUSAL_MESSAGE_BYTES);
    let r = crate::store::refused_record_for_test(RefusalCode::Invalid, &long, 1);
    let v: serde_json::Value = serde_json::from_slice(&r).expect("json");
    let kept = v["message"].as_str().expect("message");
    assert!(kept.len() <= crate::protocol::MAX_REFUSAL_MESSAGE_BYTES && long.starts_with(kept));
}

#[test]
fn a_lost_answer_halves_the_page_asked_for_and_pages_that_arrive_grow_it_back() {
    let store = accepted();
    let asked = |s: &mut SyncSession<'_>| {
        let req = protocol::decode_request(&s.next_request().expect("request")).expect("decode");
        req.max_page_bytes
    };
    let mut s = SyncSession::new(&store, DEVICE, DEFAULT_PAGE_BYTES).expect("session");
    assert_eq!(asked(&mut s), DEFAULT_PAGE_BYTES);
    s.abandon_request();
    assert_eq!(asked(&mut s), DEFAULT_PAGE_BYTES / 2);
    for _ in 0..10 {
        s.abandon_request();
        s.next_request().expect("request");
    }
    s.abandon_request();
    assert_eq!(asked(&mut s), MIN_PAGE_BYTES, "never under the floor");
    let mut more = page(&[], &[], Vec::new());
    more.more = true;
    s.handle_response(&protocol::encode_response(&more))
        .expect("response");
    assert_eq!(
        asked(&mut s),
        MIN_PAGE_BYTES * 2,
        "a page that arrived doubles it"
    );
    for _ in 0..10 {
        s.handle_response(&protocol::encode_response(&more))
            .expect("response");
        s.next_request().expect("request");
    }
    s.abandon_request();
    assert_eq!(
        s.page_bytes(),
        DEFAULT_PAGE_BYTES / 2,
        "back to the size asked for, then halved once"
    );

    // An answer that arrived as an error (a refused token) keeps the size.
    asked(&mut s);
    s.forget_request();
    assert_eq!(
        asked(&mut s),
        DEFAULT_PAGE_BYTES / 2,
        "an error answer halves nothing"
    );

    // A session asking for the server's own size (0) halves from the default.
    let mut z = SyncSession::new(&store, DEVICE, 0).expect("session");
    assert_eq!(asked(&mut z), 0);
    z.abandon_request();
    assert_eq!(asked(&mut z), DEFAULT_PAGE_BYTES / 2);
    z.handle_response(&protocol::encode_response(&more))
        .expect("response");
    assert_eq!(asked(&mut z), 0, "grown back to the server's own size");
}

#[test]
fn each_page_says_which_cases_it_changed_and_removed() {
    let store = accepted();
    let raw = |doc: &mut CaseDoc, base: &[automerge::ChangeHash]| -> Vec<Vec<u8>> {
        doc.changes_since(base)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    };
    // A case new to the device and a coordinator's change to the device's own case.
    let mut other = CaseDoc::create(
        &ctx(),
        device_actor("coord-phone"),
        &NewCase {
            id: "case-th-2".into(),
            district: "Herat".into(),
            village: "บ้านนา".into(),
            assigned_to: "chw-3".into(),
            sensitive: false,
            client_name: "สมศรี ใจดี".into(),
        },
    )
    .expect("create");
    let mut theirs = store.load_case(CASE).expect("load");
    let base = theirs.heads();
    theirs.set_actor(device_actor("coord-phone"));
    theirs.set_village(&ctx(), "Injil").expect("village");

    let mut s = SyncSession::new(&store, DEVICE, DEFAULT_PAGE_BYTES).expect("session");
    assert_eq!(s.last_page(), &PageChanges::default());
    s.next_request().expect("request");
    let mut first = page(
        &[],
        &[],
        vec![
            DocUpdate {
                doc_id: "case-th-2".into(),
                body: DocBody::Changes(raw(&mut other, &[])),
            },
            DocUpdate {
                doc_id: CASE.into(),
                body: DocBody::Changes(raw(&mut theirs, &base)),
            },
        ],
    );
    first.more = true;
    let step = s
        .handle_response(&protocol::encode_response(&first))
        .expect("first page");
    assert_eq!(step, Step::Continue);
    assert_eq!(
        s.last_page(),
        &PageChanges {
            changed: vec![CASE.to_owned(), "case-th-2".to_owned()],
            removed: vec![],
        }
    );
    // The next page takes the device's case away (reassigned).
    s.next_request().expect("request");
    let mut second = page(&[], &[], Vec::new());
    second.removed = vec![CASE.to_owned()];
    let step = s
        .handle_response(&protocol::encode_response(&second))
        .expect("second page");
    assert_eq!(step, Step::Done);
    assert_eq!(
        s.last_page(),
        &PageChanges {
            changed: vec![],
            removed: vec![CASE.to_owned()],
        }
    );
    // The session's totals: what is on the device now, what left it.
    let p = s.progress();
    assert_eq!(p.changed_ids, BTreeSet::from(["case-th-2".to_owned()]));
    assert_eq!(p.removed_ids, BTreeSet::from([CASE.to_owned()]));
    assert!(store.load_case(CASE).is_err());
    assert_eq!(
        store
            .load_case("case-th-2")
            .expect("saved")
            .read()
            .expect("read")
            .village,
        "บ้านนา"
    );
}
