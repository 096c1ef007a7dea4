//! The initial pull puts the worker's nearest follow-ups first, closed cases last, and
//! loses no case when cases change between its pages (issue #17, "useful after the
//! first page").

use std::collections::BTreeMap;

use casesync_core::case::{ClosureInput, ClosureReason};

use super::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn visit_due(next: NaiveDate) -> VisitInput {
    VisitInput {
        next_visit_date: Some(next),
        ..visit("ঘরে গিয়ে দেখা হলো")
    }
}

/// The coordinator edits the server's copy of `id` and pushes the change.
fn edit(w: &World, coord: &UserRecord, id: &str, f: impl FnOnce(&mut CaseDoc)) {
    let mut d = server_copy(w, id, "laptop");
    let h = d.heads();
    f(&mut d);
    let r = w.sync(coord, "laptop", &[], push(id, raw(d.changes_since(&h))));
    assert!(r.refused.is_empty(), "{:?}", r.refused);
}

/// Seven cases of chw1, whose id order is the opposite of the order wanted.
fn caseload(w: &World, coord: &UserRecord) {
    let cases = [
        ("a-closed-1", "নাসরিন আক্তার"),
        ("a-closed-2", "فاطمه رضایی"),
        ("b-open-1", "สมหญิง ใจดี"),
        ("b-open-2", "Nguyễn Thị Lan"),
        ("c-due-far", "زهرا حسینی"),
        ("d-due-near", "রহিমা বেগম"),
        ("e-overdue", "Trần Văn Bình"),
    ];
    for (id, name) in cases {
        let mut d = create(coord, "laptop", id, name, "chw1", false);
        let r = w.sync(coord, "laptop", &[], push(id, all_changes(&mut d)));
        assert!(r.refused.is_empty(), "{:?}", r.refused);
    }
    let c = ctx(coord);
    for id in ["a-closed-1", "a-closed-2"] {
        edit(w, coord, id, |d| {
            d.close(
                &c,
                &ClosureInput {
                    date: day(2025, 11, 20),
                    reason: ClosureReason::GoalsAchieved,
                    client_agreed: true,
                    summary: "লক্ষ্য পূরণ".into(),
                },
            )
            .expect("close");
        });
    }
    for (id, next) in [
        ("c-due-far", day(2026, 3, 1)),
        ("d-due-near", day(2025, 12, 10)),
        ("e-overdue", day(2025, 11, 1)),
    ] {
        edit(w, coord, id, |d| {
            d.add_visit(&c, &visit_due(next)).expect("visit");
        });
    }
}

/// Applies a page to the device's copies.
fn apply_page(held: &mut BTreeMap<String, Option<CaseDoc>>, page: &SyncResponse) {
    for d in &page.docs {
        apply(held.entry(d.doc_id.clone()).or_default(), &d.body);
    }
}

#[test]
fn the_initial_pull_sends_the_nearest_follow_ups_first_and_closed_cases_last() {
    let w = world();
    let coord = user("coord", Role::Coordinator, false);
    caseload(&w, &coord);
    let chw = user("chw1", Role::Chw, false);
    let mut cursor = Vec::new();
    // A one-byte page budget: one case a page (the first entry always fits).
    let pages = w.pull_all(&chw, "phone", &mut cursor, 1);
    let order: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.docs.iter().map(|d| d.doc_id.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            "e-overdue",
            "d-due-near",
            "c-due-far",
            "b-open-1",
            "b-open-2",
            "a-closed-1",
            "a-closed-2"
        ],
        "due and overdue first by date, then open, closed last"
    );
    assert_eq!(pages[0].remaining_estimate, 6);
}

#[test]
fn cases_changed_between_pages_of_the_initial_pull_all_arrive_whole() {
    let w = world();
    let coord = user("coord", Role::Coordinator, false);
    caseload(&w, &coord);
    let chw = user("chw1", Role::Chw, false);
    let c = ctx(&coord);
    let mut held: BTreeMap<String, Option<CaseDoc>> = BTreeMap::new();
    let mut cursor = Vec::new();
    let first = w.sync_paged(&chw, "phone", &cursor, vec![], 1);
    cursor = first.cursor.clone();
    apply_page(&mut held, &first);
    assert_eq!(held.keys().collect::<Vec<_>>(), ["e-overdue"]);
    // Between pages: a case not sent yet gets a follow-up earlier than the one already
    // sent (its new place is behind the cursor), a case already sent changes, and a
    // closed case not sent yet is reopened.
    edit(&w, &coord, "b-open-2", |d| {
        d.add_visit(&c, &visit_due(day(2025, 10, 1)))
            .expect("visit");
    });
    edit(&w, &coord, "e-overdue", |d| {
        d.add_visit(&c, &visit_due(day(2025, 12, 1)))
            .expect("visit");
    });
    edit(&w, &coord, "a-closed-2", |d| d.reopen(&c).expect("reopen"));
    for page in w.pull_all(&chw, "phone", &mut cursor, 1) {
        apply_page(&mut held, &page);
    }
    let ids: Vec<&String> = held.keys().collect();
    assert_eq!(ids.len(), 7, "every case arrived: {ids:?}");
    for (id, doc) in &mut held {
        let here = doc.as_mut().expect("held").read().expect("read");
        let there = server_copy(&w, id, "x").read().expect("read");
        assert_eq!(here, there, "{id} is whole on the phone");
    }
}
