//! Scope shrinks (issue #13): a user who loses a district or sensitive access gets the
//! cases now outside their scope listed as removed, after their unsent edits to them
//! are acknowledged.

use std::collections::BTreeSet;

use super::*;

fn coordinator(districts: &[&str], sensitive: bool) -> UserRecord {
    let mut u = user("coord", Role::Coordinator, sensitive);
    u.districts = districts.iter().map(|d| (*d).to_owned()).collect();
    u
}

fn create_in(u: &UserRecord, device: &str, id: &str, district: &str, sensitive: bool) -> CaseDoc {
    CaseDoc::create(
        &ctx(u),
        device_actor(device),
        &NewCase {
            id: id.into(),
            district: district.into(),
            village: "গোয়াইনঘাট".into(),
            assigned_to: "chw1".into(),
            sensitive,
            client_name: "Nguyễn Thị Lan".into(),
        },
    )
    .expect("create")
}

/// Changes the user's scope the way an administrator does.
fn change_scope(w: &World, u: &mut UserRecord, districts: &[&str], sensitive: bool) {
    let districts: Vec<String> = districts.iter().map(|d| (*d).to_owned()).collect();
    *u = crate::auth::set_scope(w.store.as_ref(), &u.user_id, &districts, sensitive)
        .expect("set scope");
}

/// A CHW of both districts registers `cases` (id, district, sensitive), assigned to
/// themselves; `u`'s `device` pulls to the end. Returns its copies and its cursor.
fn seed(
    w: &World,
    u: &UserRecord,
    device: &str,
    cases: &[(&str, &str, bool)],
) -> (Vec<CaseDoc>, Vec<u8>) {
    let mut chw = user("chw1", Role::Chw, false);
    chw.districts = vec!["sylhet".into(), "dhaka".into()];
    let pushes = cases
        .iter()
        .map(|(id, d, s)| DocPush {
            doc_id: (*id).into(),
            changes: all_changes(&mut create_in(&chw, "phone", id, d, *s)),
        })
        .collect();
    let r = w.sync(&chw, "phone", &[], pushes);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    let mut cursor = Vec::new();
    let pages = w.pull_all(u, device, &mut cursor, 0);
    let held: usize = pages.iter().map(|p| p.docs.len()).sum();
    assert_eq!(held, cases.len());
    let docs = cases
        .iter()
        .map(|(id, ..)| server_copy(w, id, device))
        .collect();
    (docs, cursor)
}

/// Syncs with `push` from `cursor` and pulls to the end; returns the first response
/// and every id listed as removed.
fn sync_to_end(
    w: &World,
    u: &UserRecord,
    device: &str,
    cursor: &mut Vec<u8>,
    push: Vec<DocPush>,
    page: u32,
) -> (SyncResponse, BTreeSet<String>, usize) {
    let first = w.sync_paged(u, device, cursor, push, page);
    *cursor = first.cursor.clone();
    let mut removed: BTreeSet<String> = first.removed.iter().cloned().collect();
    let mut pages = 1;
    if first.more {
        for p in w.pull_all(u, device, cursor, page) {
            assert!(p.removed.len() < casesync_core::protocol::MAX_DOCS_PER_MESSAGE);
            removed.extend(p.removed.iter().cloned());
            pages += 1;
        }
    }
    (first, removed, pages)
}

fn visit_push(u: &UserRecord, doc: &mut CaseDoc, id: &str, notes: &str) -> Vec<DocPush> {
    let h = doc.heads();
    doc.add_visit(&ctx(u), &visit(notes)).expect("visit");
    push(id, raw(doc.changes_since(&h)))
}

#[test]
fn a_coordinator_who_loses_a_district_has_its_cases_removed_after_their_edits_are_acked() {
    let w = world();
    let mut coord = coordinator(&["sylhet", "dhaka"], true);
    w.store.put_user(&coord).expect("put");
    let (mut docs, mut cursor) = seed(
        &w,
        &coord,
        "laptop",
        &[
            ("case-s1", "sylhet", false),
            ("case-s2", "sylhet", true),
            ("case-d1", "dhaka", false),
        ],
    );
    // An edit made offline before the district was taken away.
    let edit = visit_push(&coord, &mut docs[0], "case-s1", "edited before the change");
    change_scope(&w, &mut coord, &["dhaka"], true);
    let (first, removed, _) = sync_to_end(&w, &coord, "laptop", &mut cursor, edit, 0);
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    assert_eq!(first.acked.len(), 1, "the unsent edit is acknowledged");
    let expected: BTreeSet<String> = ["case-s1", "case-s2"].map(String::from).into();
    assert_eq!(removed, expected);
    let stored = server_copy(&w, "case-s1", "x").read().expect("read");
    assert_eq!(stored.visits.len(), 1, "the edit reached the server");
    // Up to date now: the next sync removes nothing and sends nothing.
    let (again, removed, _) = sync_to_end(&w, &coord, "laptop", &mut cursor, vec![], 0);
    assert!(removed.is_empty() && again.docs.is_empty());
    // Another coordinator's device that never had the district gets no removals.
    let other = coordinator(&["dhaka"], true);
    let mut c = Vec::new();
    let pages = w.pull_all(&other, "laptop-2", &mut c, 0);
    assert!(pages.iter().all(|p| p.removed.is_empty()));
}

#[test]
fn a_coordinator_who_loses_sensitive_access_has_the_sensitive_cases_removed() {
    let w = world();
    let mut coord = coordinator(&["sylhet"], true);
    w.store.put_user(&coord).expect("put");
    let (mut docs, mut cursor) = seed(
        &w,
        &coord,
        "laptop",
        &[
            ("case-o", "sylhet", false),
            ("case-s", "sylhet", true),
            ("case-s2", "sylhet", true),
        ],
    );
    let edit = visit_push(&coord, &mut docs[1], "case-s", "sensitive visit");
    change_scope(&w, &mut coord, &["sylhet"], false);
    let (first, removed, _) = sync_to_end(&w, &coord, "laptop", &mut cursor, edit, 0);
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    let expected: BTreeSet<String> = ["case-s", "case-s2"].map(String::from).into();
    assert_eq!(removed, expected);
    let stored = server_copy(&w, "case-s", "x").read().expect("read");
    assert_eq!(stored.visits.len(), 1, "the edit reached the server");
}

#[test]
fn a_long_removal_list_spans_bounded_pages() {
    let w = world();
    let mut coord = coordinator(&["sylhet", "dhaka"], true);
    w.store.put_user(&coord).expect("put");
    let ids: Vec<String> = (0..300).map(|i| format!("case-{i:03}")).collect();
    let mut cases: Vec<(&str, &str, bool)> =
        ids.iter().map(|i| (i.as_str(), "dhaka", false)).collect();
    cases.push(("keep", "sylhet", false));
    let (_, mut cursor) = seed(&w, &coord, "laptop", &cases);
    change_scope(&w, &mut coord, &["sylhet"], true);
    let (_, removed, pages) = sync_to_end(&w, &coord, "laptop", &mut cursor, vec![], 256);
    assert_eq!(removed, ids.iter().cloned().collect::<BTreeSet<_>>());
    assert!(pages > 2, "the removals span pages ({pages})");
}

#[test]
fn a_wider_scope_removes_nothing() {
    let w = world();
    let mut coord = coordinator(&["sylhet"], false);
    w.store.put_user(&coord).expect("put");
    let (_, mut cursor) = seed(&w, &coord, "laptop", &[("case-o", "sylhet", false)]);
    change_scope(&w, &mut coord, &["sylhet", "dhaka"], true);
    let (_, removed, _) = sync_to_end(&w, &coord, "laptop", &mut cursor, vec![], 0);
    assert!(removed.is_empty(), "{removed:?}");
}

fn device(id: &str, user: &str, created_ms: i64) -> crate::store::DeviceRecord {
    crate::store::DeviceRecord {
        device_id: id.into(),
        user_id: user.into(),
        revoked: false,
        refresh_hash: None,
        refresh_expires_ms: 0,
        refresh_family: String::new(),
        used_refresh: Vec::new(),
        rotated_hash: None,
        rotated_ms: 0,
        family_revoked_ms: 0,
        created_ms,
        last_sync_ms: None,
    }
}

#[test]
fn a_case_registered_before_the_district_was_taken_away_still_reaches_the_server() {
    let w = world();
    let mut coord = coordinator(&["sylhet", "dhaka"], true);
    w.store.put_user(&coord).expect("put");
    w.store
        .put_device(&device("laptop", "coord", 0))
        .expect("put");
    let (_, mut cursor) = seed(&w, &coord, "laptop", &[("case-d1", "dhaka", false)]);
    let mut offline = create_in(&coord, "laptop", "case-new", "dhaka", false);
    change_scope(&w, &mut coord, &["sylhet"], true);
    // Told of the change first (the removal arrives), then the push.
    let (_, removed, _) = sync_to_end(&w, &coord, "laptop", &mut cursor, vec![], 0);
    assert_eq!(removed, BTreeSet::from(["case-d1".to_owned()]));
    let creation = push("case-new", all_changes(&mut offline));
    let (first, removed, _) = sync_to_end(&w, &coord, "laptop", &mut cursor, creation, 0);
    assert!(first.refused.is_empty(), "{:?}", first.refused);
    assert_eq!(removed, BTreeSet::from(["case-new".to_owned()]));
    // A device logged in after the change may not register cases there.
    w.store
        .put_device(&device("laptop-2", "coord", i64::MAX))
        .expect("put");
    let mut late = create_in(&coord, "laptop-2", "case-late", "dhaka", false);
    let r = w.sync(
        &coord,
        "laptop-2",
        &[],
        push("case-late", all_changes(&mut late)),
    );
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].code, RefusalCode::OutOfScope);
}
