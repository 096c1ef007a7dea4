//! Hostile Automerge: changes that a checksum, a re-save or automerge itself would
//! trip over, and a hostile page sent to a phone.

use super::*;

/// BUG (found by this suite): the server acknowledges and stores a change whose chunk
/// checksum is wrong. `Change::from_bytes` does not verify the checksum, the change hash
/// is computed over the content (so it equals the genuine change's hash), and the stored
/// raw bytes then make the case fail to load: every later push to it is 500, and every
/// device in its scope gets a snapshot it cannot load, so their syncs fail — one CHW
/// bricks a case and the district's sync with 1 flipped byte. The genuine change is
/// then also lost: its hash is "already stored".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_with_a_wrong_checksum_is_refused_and_the_case_survives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProc::start(&dir.path().join("server"), &users()).expect("server");
    let url = server.url.clone();
    let http = http_client();
    let chw = Device::login(&url, dir.path(), &spec("chw-a"), "phone-a")
        .await
        .expect("login");
    let coord = Device::login(&url, dir.path(), &spec("coord"), "laptop-coord")
        .await
        .expect("login");
    chw.create(
        &new_case("case-c", DHAKA, "chw-a", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    let baseline = api_dump(&http, &url, &coord.token, "laptop-coord", &["case-c"])
        .await
        .expect("baseline");

    let chw_ctx = ctx("chw-a", Role::Chw);
    let genuine = edit(
        chw.store.load_case("case-c").expect("case"),
        chw.store.actor("phone-a").expect("actor"),
        |d| d.add_visit(&chw_ctx, &visit("মা ও শিশু সুস্থ")).map(|_| ()),
    );
    let mut flipped = genuine[0].clone();
    flipped[5] ^= 0xff; // inside the checksum (bytes 4..8)
    let resp = push(&http, &url, &chw.token, "phone-a", "case-c", vec![flipped])
        .await
        .expect("push");
    let served = api_dump(&http, &url, &coord.token, "laptop-coord", &["case-c"]).await;
    assert!(
        resp.acked.is_empty() && resp.refused.first().map(|r| r.code) == Some(RefusalCode::Invalid),
        "a change with a wrong checksum must be refused Invalid; got acked {:?} refused {:?}",
        resp.acked,
        resp.refused
    );
    assert_eq!(
        served.expect("the case still loads"),
        baseline,
        "nothing stored"
    );
    // The genuine change is then stored normally.
    let resp = push(&http, &url, &chw.token, "phone-a", "case-c", genuine)
        .await
        .expect("push");
    assert_eq!(resp.acked.len(), 1, "{:?}", resp.refused);
    coord.sync().await.expect("the coordinator still syncs");
}

/// BUG (found by `fuzz/push_change`, input in `fuzz/regressions/push_change`): a change
/// whose bytes do not survive a re-encode (one byte of a column header changed, checksum
/// recomputed) is accepted by the server; its raw bytes load, but once the case is
/// re-saved — by the background compaction on the server, or by every device that
/// applies it — the document no longer loads ("mismatching heads"): the case is bricked
/// on the server and corrupt on the phones. Runs the server's sync engine in-process.
#[test]
fn a_change_that_does_not_survive_a_re_save_is_refused() {
    use casesync_server::config::Settings;
    use casesync_server::store::{SledStorage, Storage, UserRecord};
    use casesync_server::sync::SyncEngine;
    use std::sync::Arc;

    let base = include_bytes!("../../../fuzz/fixtures/base_case.automerge");
    let input = include_bytes!("../../../fuzz/regressions/push_change/non-canonical-change");
    // Framing of the fuzz input: flags, u16 length, the change.
    let mut change = input[3..].to_vec();
    fix_checksum(&mut change);
    let store = Arc::new(SledStorage::temporary().expect("sled"));
    let engine = SyncEngine::new(store.clone(), Settings::default());
    engine
        .store_new(&mut load(base), None)
        .expect("store the base case");
    let coord = UserRecord {
        user_id: "coord".into(),
        role: Role::Coordinator,
        districts: vec!["fuzz-district".into()],
        sensitive_access: true,
        password_hash: String::new(),
        disabled: false,
        created_ms: 0,
        must_change_password: false,
        time_zone: None,
        agency: None,
    };
    let req = sync_request(
        "fuzz-phone",
        vec![],
        vec![DocPush {
            doc_id: "fuzz-case".into(),
            changes: vec![change],
        }],
    );
    let (resp, _) = engine.sync(&coord, "fuzz-phone", &req).expect("sync");
    engine.compact(0).expect("compact");
    let bytes = store.doc_bytes("fuzz-case").expect("read").expect("stored");
    assert!(
        CaseDoc::load(&bytes).is_ok(),
        "after compaction the case no longer loads; the push was acked {:?}, refused {:?}",
        resp.acked,
        resp.refused
    );
}

/// BUG (found by `fuzz/push_change`, input in `fuzz/regressions/push_change`):
/// automerge 0.12 panics ("Obj ... Missing from Index", op_set2/change/batch.rs) applying
/// a hostile change with a valid checksum. The server survives (the panic is inside
/// `spawn_blocking`) and stores nothing, but answers 500 instead of refusing the push,
/// and a device applying such a change would panic mid-sync.
#[tokio::test]
async fn a_change_that_panics_automerge_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chw = UserSpec::new("chw1", Role::Chw, "fuzz-district");
    let server =
        ServerProc::start(&dir.path().join("server"), std::slice::from_ref(&chw)).expect("server");
    let http = http_client();
    let l = login(&http, &server.url, "chw1", &chw.password, "fuzz-phone")
        .await
        .expect("login");
    let base = include_bytes!("../../../fuzz/fixtures/base_case.automerge");
    let r = push(
        &http,
        &server.url,
        &l.access_token,
        "fuzz-phone",
        "fuzz-case",
        all_changes(&mut load(base)),
    )
    .await
    .expect("push the base case");
    assert_eq!(r.acked.len(), 1, "{:?}", r.refused);
    let input = include_bytes!("../../../fuzz/regressions/push_change/automerge-panic");
    let mut change = input[3..].to_vec();
    fix_checksum(&mut change);
    let req = sync_request(
        "fuzz-phone",
        vec![],
        vec![DocPush {
            doc_id: "fuzz-case".into(),
            changes: vec![change],
        }],
    );
    let (status, body) = post_sync(&http, &server.url, &l.access_token, encode_request(&req))
        .await
        .expect("sync");
    let refused = casesync_core::protocol::decode_response(&body)
        .ok()
        .and_then(|r| r.refused.first().map(|x| x.code));
    assert_eq!(
        (status, refused),
        (200, Some(RefusalCode::Invalid)),
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
}

/// A page from a compromised server (or a forged one) carrying Automerge bytes that
/// Automerge would inflate or expand without bound: the phone refuses the page, stores
/// nothing of it, and a genuine page afterwards still applies.
#[test]
fn a_hostile_page_changes_nothing_on_the_phone() {
    use casesync_core::protocol::decode_response;
    use casesync_core::store::{DeviceStore, SummaryFilter};
    use casesync_core::sync::SyncSession;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = DeviceStore::open(&dir.path().join("store"), &test_key()).expect("store");
    let chw = ctx("chw-a", Role::Chw);
    let mut genuine = CaseDoc::create(
        &chw,
        device_actor("server"),
        &new_case("case-h1", DHAKA, "chw-a", "ফাতেমা বেগম", false),
    )
    .expect("create");
    let summary = genuine.summary().expect("summary");
    let mut many = CaseDoc::load(&genuine.save()).expect("load");
    many.set_actor(device_actor("server"));
    let rle = hostile::run_length_change(&mut many, "nulls", 500_000);
    let page = |body: DocBody| SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: b"c1".to_vec(),
        docs: vec![DocUpdate {
            doc_id: "case-h1".into(),
            body,
        }],
        removed: vec![],
        acked: vec![],
        refused: vec![],
        more: false,
        remaining_estimate: 0,
        wipe: false,
    };
    let snapshot = |doc: Vec<u8>| DocBody::Snapshot {
        doc,
        summary: summary.clone(),
    };
    let hostile_pages = [
        (
            "snapshot: a document column inflating to 256 MiB",
            snapshot(hostile::deflated_document_bomb(256 << 20)),
        ),
        (
            "snapshot: a compressed change chunk of 1 GiB",
            snapshot(hostile::gib_change_bomb().to_vec()),
        ),
        ("snapshot: a bundle", snapshot(hostile::bundle_chunk())),
        (
            "changes: a compressed change chunk of 1 GiB",
            DocBody::Changes(vec![hostile::gib_change_bomb().to_vec()]),
        ),
        ("changes: 500,000 operations", DocBody::Changes(vec![rle])),
    ];
    let empty = store
        .list_summaries(&SummaryFilter::default())
        .expect("list");
    for (name, body) in hostile_pages {
        let bytes = encode_response(&page(body));
        assert!(
            decode_response(&bytes).is_ok(),
            "{name}: the page itself is well formed"
        );
        let mut session = SyncSession::new(&store, "phone-h", 64 * 1024).expect("session");
        session.next_request().expect("request");
        assert!(session.handle_response(&bytes).is_err(), "{name}: refused");
        assert!(
            store.load_case("case-h1").is_err(),
            "{name}: nothing stored"
        );
        assert_eq!(
            store
                .list_summaries(&SummaryFilter::default())
                .expect("list"),
            empty,
            "{name}: the index is unchanged"
        );
    }
    let mut session = SyncSession::new(&store, "phone-h", 64 * 1024).expect("session");
    session.next_request().expect("request");
    let ok = encode_response(&page(snapshot(genuine.save())));
    session
        .handle_response(&ok)
        .expect("a genuine page applies");
    assert_eq!(
        store
            .load_case("case-h1")
            .expect("stored")
            .read()
            .expect("read")
            .client
            .name,
        "ফাতেমা বেগম"
    );
}
