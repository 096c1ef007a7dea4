//! The coordinator's two decisions on a possible duplicate client (issue #15 §1):
//! `close_as_duplicate` and `mark_distinct`, their rules, the lifecycle rules a pushed
//! change meets, concurrent decisions, and documents written before the fields existed.

use casesync_core::case::rules::{check_records, check_stage, may_change_facts, RuleKind};
use casesync_core::case::*;
use chrono::NaiveDate;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn chw() -> EditCtx {
    EditCtx::new("chw-rahima", Role::Chw, 2_000)
}

fn coordinator() -> EditCtx {
    EditCtx::new("coord-zahra", Role::Coordinator, 3_000)
}

fn new_case(id: &str, name: &str) -> CaseDoc {
    CaseDoc::create(
        &EditCtx::new("chw-rahima", Role::Chw, 1_000),
        device_actor("phone-a"),
        &NewCase {
            id: id.into(),
            district: "sylhet".into(),
            village: "ده‌نو".into(),
            assigned_to: "chw-rahima".into(),
            sensitive: false,
            client_name: name.into(),
        },
    )
    .expect("create")
}

/// The saved bytes: "writes nothing" is "the bytes are the same".
fn bytes(doc: &mut CaseDoc) -> Vec<u8> {
    doc.save()
}

#[test]
fn a_coordinator_closes_the_newer_case_as_a_duplicate_of_the_surviving_one() {
    let mut doc = new_case("case-new", "زهرا حسینی");
    doc.close_as_duplicate(
        &coordinator(),
        "case-old",
        d("2025-02-01"),
        "همان زهرا حسینی / same woman",
    )
    .expect("close as duplicate");
    let case = doc.read().expect("read");
    assert_eq!(case.stage, Stage::Closed);
    let closure = case.closure.expect("closure");
    assert_eq!(closure.reason, ClosureReason::Duplicate);
    assert_eq!(closure.duplicate_of.as_deref(), Some("case-old"));
    assert!(
        !closure.client_agreed,
        "an administrative act, no agreement"
    );
    // The change is in the timeline, by the coordinator.
    let last = doc.history().pop().expect("history");
    assert_eq!(last.user, "coord-zahra");
    assert_eq!(last.summary, "case closed (duplicate)");
    // Reopening (a coordinator's act) drops the link with the closure.
    doc.reopen(&coordinator()).expect("reopen");
    let case = doc.read().expect("read");
    assert_eq!(case.stage, Stage::Monitoring);
    assert!(case.closure.is_none());
}

#[test]
fn close_as_duplicate_is_refused_to_workers_of_itself_twice_and_through_close() {
    let mut doc = new_case("case-new", "Nguyễn Thị Lan");
    let before = bytes(&mut doc);
    let e = doc
        .close_as_duplicate(&chw(), "case-old", d("2025-02-01"), "")
        .expect_err("a worker");
    assert!(matches!(e, CaseError::Forbidden { .. }), "{e}");
    let admin = EditCtx::new("admin", Role::Admin, 3_000);
    doc.close_as_duplicate(&admin, "case-old", d("2025-02-01"), "")
        .expect_err("an admin");
    let e = doc
        .close_as_duplicate(&coordinator(), "case-new", d("2025-02-01"), "")
        .expect_err("itself");
    assert!(matches!(e, CaseError::Invalid { .. }), "{e}");
    doc.close_as_duplicate(&coordinator(), "", d("2025-02-01"), "")
        .expect_err("no surviving case");
    // The ordinary close does not take the reason: it would name no surviving case.
    doc.close(
        &coordinator(),
        &ClosureInput {
            date: d("2025-02-01"),
            reason: ClosureReason::Duplicate,
            client_agreed: false,
            summary: String::new(),
        },
    )
    .expect_err("close with reason duplicate");
    assert_eq!(bytes(&mut doc), before, "a refused edit writes nothing");
    doc.close_as_duplicate(&coordinator(), "case-old", d("2025-02-01"), "")
        .expect("first");
    let once = bytes(&mut doc);
    doc.close_as_duplicate(&coordinator(), "case-other", d("2025-02-02"), "")
        .expect_err("already closed");
    assert_eq!(bytes(&mut doc), once, "the repeat writes nothing");
    assert_eq!(
        doc.read()
            .expect("read")
            .closure
            .and_then(|c| c.duplicate_of)
            .as_deref(),
        Some("case-old")
    );
}

#[test]
fn mark_distinct_records_the_other_case_once_and_only_for_coordinators() {
    let mut doc = new_case("case-a", "সমচায় / สมชาย ใจดี");
    let before = bytes(&mut doc);
    let e = doc.mark_distinct(&chw(), "case-b").expect_err("a worker");
    assert!(matches!(e, CaseError::Forbidden { .. }), "{e}");
    doc.mark_distinct(&coordinator(), "case-a")
        .expect_err("itself");
    doc.mark_distinct(&coordinator(), "not an id!")
        .expect_err("a malformed id");
    assert_eq!(bytes(&mut doc), before, "refused edits write nothing");
    doc.mark_distinct(&coordinator(), "case-b").expect("mark");
    doc.mark_distinct(&coordinator(), "case-0c").expect("mark");
    let once = bytes(&mut doc);
    let e = doc
        .mark_distinct(&coordinator(), "case-b")
        .expect_err("repeat");
    assert!(e.to_string().contains("already"), "{e}");
    assert_eq!(bytes(&mut doc), once, "the repeat writes nothing");
    let case = doc.read().expect("read");
    assert_eq!(case.distinct_from, vec!["case-0c", "case-b"]);
    // The client's own fields read as before.
    assert_eq!(case.client.name, "সমচায় / สมชาย ใจดี");
    let last = doc.history().pop().expect("history");
    assert_eq!(last.summary, "marked a different person");
    assert_eq!(last.user, "coord-zahra");
}

#[test]
fn two_coordinators_deciding_at_once_merge_without_a_conflict() {
    let mut a = new_case("case-a", "Trần Văn Nam");
    let mut b = CaseDoc::load(&a.save()).expect("load");
    b.set_actor(device_actor("server:coord2"));
    a.mark_distinct(&coordinator(), "case-b").expect("a");
    b.mark_distinct(&EditCtx::new("coord2", Role::Coordinator, 3_001), "case-b")
        .expect("b");
    b.mark_distinct(&EditCtx::new("coord2", Role::Coordinator, 3_002), "case-c")
        .expect("b");
    a.merge(&mut b).expect("merge");
    let case = a.read().expect("read");
    assert_eq!(case.distinct_from, vec!["case-b", "case-c"]);
    assert!(a.conflicts().is_empty(), "{:?}", a.conflicts());
}

#[test]
fn pushed_changes_meet_the_same_rules() {
    // What the server judges: the facts before and after a change, by the pusher's role.
    let mut doc = new_case("case-a", "مریم احمدی");
    let before = doc.facts();
    let mut marked = CaseDoc::load(&doc.save()).expect("load");
    marked
        .mark_distinct(&coordinator(), "case-b")
        .expect("mark");
    let after = marked.facts();
    assert!(after.distinct.contains("case-b"));
    let e = check_records(&before, &after, Role::Chw).expect_err("a worker's mark");
    assert_eq!(e.kind, RuleKind::Role);
    check_records(&before, &after, Role::Coordinator).expect("a coordinator's");
    // Taking a decision back is refused to everyone.
    let e = check_records(&after, &before, Role::Coordinator).expect_err("unmark");
    assert_eq!(e.kind, RuleKind::Lifecycle);
    // The mark is read by the rules: the server does not skip them for it.
    assert!(may_change_facts(&[Some("client")], Some("distinct:case-b")));
    assert!(!may_change_facts(&[Some("client")], Some("phone")));

    let mut closed = CaseDoc::load(&doc.save()).expect("load");
    closed
        .close_as_duplicate(&coordinator(), "case-b", d("2025-02-01"), "")
        .expect("close");
    let after = closed.facts();
    assert_eq!(after.duplicate_of.as_deref(), Some("case-b"));
    let e = check_records(&before, &after, Role::Chw).expect_err("a worker's link");
    assert_eq!(e.kind, RuleKind::Role);
    let e = check_stage(&before, &after, Role::Chw).expect_err("a worker's closure");
    assert_eq!(e.kind, RuleKind::Role);
    check_records(&before, &after, Role::Coordinator).expect("records");
    check_stage(&before, &after, Role::Coordinator).expect("stage");
    // A duplicate closure without the surviving case is not one the API makes.
    let mut unnamed = after.clone();
    unnamed.duplicate_of = None;
    let e = check_stage(&before, &unnamed, Role::Coordinator).expect_err("unnamed");
    assert_eq!(e.kind, RuleKind::Lifecycle);
}

#[test]
fn documents_written_before_the_fields_existed_still_read_and_take_them() {
    // A case document saved by an earlier build (the fuzz corpus' base case).
    let old = include_bytes!("../../fuzz/fixtures/base_case.automerge");
    let mut doc = CaseDoc::load(old).expect("an old document loads");
    let case = doc.read().expect("and reads");
    assert!(case.distinct_from.is_empty());
    assert!(case
        .closure
        .as_ref()
        .is_none_or(|c| c.duplicate_of.is_none()));
    let id = case.id.clone();
    let mut doc = CaseDoc::load_for_edit(old, device_actor("server:coord"), &coordinator())
        .expect("open for edit");
    doc.mark_distinct(&coordinator(), "case-other")
        .expect("mark an old document");
    let case = doc.read().expect("read");
    assert_eq!(case.id, id);
    assert_eq!(case.distinct_from, vec!["case-other"]);
    // And a case as JSON from before the fields (an import file, a stored summary).
    let mut json = serde_json::to_value(&case).expect("json");
    json.as_object_mut()
        .expect("object")
        .remove("distinct_from");
    let back: Case = serde_json::from_value(json).expect("reads without the field");
    assert!(back.distinct_from.is_empty());
}

/// A decided pair is never offered again on the phone (`possibleDuplicatesOfCase`
/// filters with `dedup::already_decided`): different people, or one closed as a
/// duplicate.
#[test]
fn decided_pairs_are_known_as_decided() {
    let mut a = new_case("case-a", "زهرا حسینی");
    let mut b = new_case("case-b", "زهرا حسيني");
    let mut c = new_case("case-c", "Zahra Hosseini");
    let read = |d: &mut CaseDoc| d.read().expect("read");
    assert!(!casesync_core::dedup::already_decided(
        &read(&mut a),
        &read(&mut b)
    ));
    a.mark_distinct(&coordinator(), "case-b").expect("mark");
    assert!(casesync_core::dedup::already_decided(
        &read(&mut a),
        &read(&mut b)
    ));
    assert!(
        casesync_core::dedup::already_decided(&read(&mut b), &read(&mut a)),
        "either way"
    );
    assert!(!casesync_core::dedup::already_decided(
        &read(&mut a),
        &read(&mut c)
    ));
    c.close_as_duplicate(&coordinator(), "case-a", d("2025-03-01"), "same woman")
        .expect("closed as a duplicate");
    assert!(casesync_core::dedup::already_decided(
        &read(&mut a),
        &read(&mut c)
    ));
}
