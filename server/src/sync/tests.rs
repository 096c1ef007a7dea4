//! Sync engine tests: pushes are validated, pulls page through the scope.

use std::sync::Arc;

use automerge::{transaction::Transactable, Change, ROOT};
use casesync_core::case::{device_actor, CaseDoc, EditCtx, NewCase, Role, VisitInput, VisitKind};
use casesync_core::protocol::{
    DocBody, DocPush, RefusalCode, SyncRequest, SyncResponse, PROTOCOL_VERSION,
};
use chrono::NaiveDate;

use super::*;
use crate::store::{SledStorage, Storage, UserRecord};

struct World {
    engine: SyncEngine,
    store: Arc<SledStorage>,
}

fn world() -> World {
    world_with(Settings::default())
}

fn world_with(settings: Settings) -> World {
    let store = Arc::new(SledStorage::temporary().expect("store"));
    World {
        engine: SyncEngine::new(store.clone(), settings),
        store,
    }
}

fn user(id: &str, role: Role, sensitive: bool) -> UserRecord {
    UserRecord {
        user_id: id.into(),
        role,
        districts: vec!["sylhet".into()],
        sensitive_access: sensitive,
        password_hash: String::new(),
        disabled: false,
        created_ms: 0,
        must_change_password: false,
        time_zone: None,
        agency: None,
    }
}

fn ctx(u: &UserRecord) -> EditCtx {
    EditCtx::new(u.user_id.clone(), u.role, 1_700_000_000_000)
}

/// A device-side replica of one case.
fn create(
    u: &UserRecord,
    device: &str,
    id: &str,
    name: &str,
    assigned: &str,
    sensitive: bool,
) -> CaseDoc {
    CaseDoc::create(
        &ctx(u),
        device_actor(device),
        &NewCase {
            id: id.into(),
            district: "sylhet".into(),
            village: "গোয়াইনঘাট".into(),
            assigned_to: assigned.into(),
            sensitive,
            client_name: name.into(),
        },
    )
    .expect("create")
}

fn raw(changes: Vec<Change>) -> Vec<Vec<u8>> {
    changes.iter().map(|c| c.raw_bytes().to_vec()).collect()
}

fn all_changes(d: &mut CaseDoc) -> Vec<Vec<u8>> {
    raw(d.changes_since(&[]))
}

fn visit(notes: &str) -> VisitInput {
    VisitInput {
        date: NaiveDate::from_ymd_opt(2024, 3, 1).expect("date"),
        kind: VisitKind::Home,
        notes: notes.into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: None,
    }
}

impl World {
    fn sync(
        &self,
        u: &UserRecord,
        device: &str,
        cursor: &[u8],
        push: Vec<DocPush>,
    ) -> SyncResponse {
        self.sync_paged(u, device, cursor, push, 0)
    }

    fn sync_paged(
        &self,
        u: &UserRecord,
        device: &str,
        cursor: &[u8],
        push: Vec<DocPush>,
        page: u32,
    ) -> SyncResponse {
        let req = SyncRequest {
            version: PROTOCOL_VERSION,
            device_id: device.into(),
            cursor: cursor.to_vec(),
            push,
            max_page_bytes: page,
        };
        let r = self.engine.sync(u, device, &req).expect("sync").0;
        let wire = casesync_core::protocol::encode_response(&r);
        let back = casesync_core::protocol::decode_response(&wire).expect("valid response");
        assert_eq!(back, r);
        r
    }

    /// Pulls until `more` is false; returns every page.
    fn pull_all(
        &self,
        u: &UserRecord,
        device: &str,
        cursor: &mut Vec<u8>,
        page: u32,
    ) -> Vec<SyncResponse> {
        let mut pages = Vec::new();
        loop {
            let r = self.sync_paged(u, device, cursor, vec![], page);
            *cursor = r.cursor.clone();
            let more = r.more;
            pages.push(r);
            if !more {
                return pages;
            }
            assert!(pages.len() < 1000, "paging does not progress");
        }
    }
}

fn push(id: &str, changes: Vec<Vec<u8>>) -> Vec<DocPush> {
    vec![DocPush {
        doc_id: id.into(),
        changes,
    }]
}

fn apply(doc: &mut Option<CaseDoc>, body: &DocBody) {
    match body {
        DocBody::Snapshot { doc: bytes, .. } => {
            *doc = Some(CaseDoc::load(bytes).expect("snapshot loads"))
        }
        DocBody::Changes(cs) => {
            let d = doc.as_mut().expect("changes for a known doc");
            let cs = cs
                .iter()
                .map(|b| Change::from_bytes(b.clone()).expect("change"))
                .collect();
            d.apply_changes(cs).expect("apply");
        }
    }
}

#[test]
fn push_and_pull_round_trip_between_two_devices() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let coord = user("coord", Role::Coordinator, false);
    let mut phone = create(&chw, "phone-a", "case-1", "নাসরিন আক্তার", "chw1", false);
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", all_changes(&mut phone)),
    );
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.acked.len(), 1);
    assert!(
        r.docs.is_empty(),
        "own new case is not echoed back: {:?}",
        r.docs.len()
    );
    let mut phone_cursor = r.cursor;

    // The coordinator's fresh laptop gets a snapshot with its summary.
    let mut laptop_cursor = Vec::new();
    let pages = w.pull_all(&coord, "laptop-1", &mut laptop_cursor, 0);
    let docs: Vec<_> = pages.iter().flat_map(|p| p.docs.iter()).collect();
    assert_eq!(docs.len(), 1);
    let mut laptop = None;
    apply(&mut laptop, &docs[0].body);
    match &docs[0].body {
        DocBody::Snapshot { summary, .. } => assert_eq!(summary.name, "নাসরিন আক্তার"),
        DocBody::Changes(_) => panic!("fresh device gets a snapshot"),
    }
    let mut laptop = laptop.expect("doc");
    laptop.set_actor(device_actor("laptop-1"));
    let before = laptop.heads();
    laptop
        .add_visit(&ctx(&coord), &visit("ملاقات در خانه"))
        .expect("visit");
    let r = w.sync(
        &coord,
        "laptop-1",
        &laptop_cursor,
        push("case-1", raw(laptop.changes_since(&before))),
    );
    assert_eq!(r.acked.len(), 1);
    assert!(r.docs.is_empty(), "an up-to-date device gets nothing back");

    // The phone pulls the coordinator's change as a change, not a snapshot.
    let r = w.sync(&chw, "phone-a", &phone_cursor, vec![]);
    assert_eq!(r.docs.len(), 1);
    assert!(matches!(r.docs[0].body, DocBody::Changes(ref c) if c.len() == 1));
    let mut p = Some(phone);
    apply(&mut p, &r.docs[0].body);
    let mut phone = p.expect("doc");
    assert_eq!(phone.read().expect("read").visits.len(), 1);
    assert_eq!(phone.heads(), laptop.heads());
    phone_cursor = r.cursor;
    let r = w.sync(&chw, "phone-a", &phone_cursor, vec![]);
    assert!(r.docs.is_empty() && r.removed.is_empty() && !r.more);

    // Replaying a push is harmless.
    let n = w.store.last_seq().expect("seq");
    let r = w.sync(
        &chw,
        "phone-a",
        &phone_cursor,
        push("case-1", all_changes(&mut phone)),
    );
    assert_eq!(r.acked.len(), 1);
    assert_eq!(w.store.last_seq().expect("seq"), n);
}

#[test]
fn refused_pushes_store_nothing() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let mut phone = create(&chw, "phone-a", "case-1", "สมชาย ใจดี", "chw1", false);
    w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", all_changes(&mut phone)),
    );
    let dump = w.store.dump().expect("dump");

    // A CHW reassigning their own case.
    let before = phone.heads();
    phone
        .automerge()
        .put(ROOT, "assigned_to", "chw2")
        .expect("put");
    phone.automerge().commit();
    let sneaky = raw(phone.changes_since(&before));
    let r = w.sync(&chw, "phone-a", &[], push("case-1", sneaky.clone()));
    assert_eq!(r.refused[0].code, RefusalCode::RestrictedField);
    // A change signed by another device's actor.
    let mut other = create(&chw, "phone-b", "case-2", "Nguyễn Thị Lan", "chw1", false);
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-2", all_changes(&mut other)),
    );
    assert_eq!(r.refused[0].code, RefusalCode::ForeignActor);
    // Garbage, a missing dependency, a bad id, an admin push, another worker's case.
    // (Long enough to decode as a request: a change under 10 bytes fails the whole
    // request, `ProtocolError`.)
    let r = w.sync(&chw, "phone-a", &[], push("case-1", vec![vec![1; 32]]));
    assert_eq!(r.refused[0].code, RefusalCode::Invalid);
    let mut lonely = phone.clone();
    let h = lonely.heads();
    lonely.add_visit(&ctx(&chw), &visit("a")).expect("visit");
    let h2 = lonely.heads();
    lonely.add_visit(&ctx(&chw), &visit("b")).expect("visit");
    let _ = h;
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", raw(lonely.changes_since(&h2))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::MissingDependencies);
    let r = w.sync(&chw, "phone-a", &[], push("case-new", vec![]));
    assert_eq!(r.refused[0].code, RefusalCode::Invalid);
    let admin = user("admin", Role::Admin, false);
    let r = w.sync(&admin, "phone-a", &[], push("case-1", sneaky));
    assert_eq!(r.refused[0].code, RefusalCode::OutOfScope);
    let chw2 = user("chw2", Role::Chw, false);
    let r = w.sync(
        &chw2,
        "phone-a",
        &[],
        push("case-1", raw(lonely.changes_since(&h2))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::OutOfScope);
    // A CHW creating a case for someone else.
    let mut theirs = create(
        &user("chw2", Role::Chw, false),
        "phone-a",
        "case-3",
        "Trần Văn An",
        "chw2",
        false,
    );
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-3", all_changes(&mut theirs)),
    );
    assert_eq!(r.refused[0].code, RefusalCode::OutOfScope);

    assert_eq!(
        w.store.dump().expect("dump"),
        dump,
        "refused pushes changed the store"
    );

    // One refused document does not stop the others.
    let h = phone.heads();
    let mut good = w
        .store
        .doc_bytes("case-1")
        .expect("bytes")
        .map(|b| CaseDoc::load(&b).expect("load"))
        .expect("doc");
    good.set_actor(device_actor("phone-a"));
    let h0 = good.heads();
    good.add_visit(&ctx(&chw), &visit("বাড়িতে দেখা"))
        .expect("visit");
    let _ = h;
    let mut pushes = push("case-2", all_changes(&mut other));
    pushes.extend(push("case-1", raw(good.changes_since(&h0))));
    let r = w.sync(&chw, "phone-a", &[], pushes);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.acked.len(), 1);
}

#[test]
fn reassignment_while_offline_keeps_the_old_workers_edits() {
    let w = world();
    let chw1 = user("chw1", Role::Chw, false);
    let chw2 = user("chw2", Role::Chw, false);
    // A case is reassigned only to a health worker the store knows (`can_assign`).
    w.store.put_user(&chw2).expect("user");
    let coord = user("coord", Role::Coordinator, false);
    let mut old = create(&coord, "laptop", "case-1", "Lê Thị Hoa", "chw1", false);
    w.sync(&coord, "laptop", &[], push("case-1", all_changes(&mut old)));
    let mut c1 = Vec::new();
    let pages = w.pull_all(&chw1, "phone-1", &mut c1, 0);
    let mut phone1 = None;
    apply(&mut phone1, &pages[0].docs[0].body);
    let mut phone1 = phone1.expect("doc");
    phone1.set_actor(device_actor("phone-1"));
    let mut c2 = Vec::new();
    assert!(w
        .pull_all(&chw2, "phone-2", &mut c2, 0)
        .iter()
        .all(|p| p.docs.is_empty()));

    // The coordinator reassigns while chw1 is offline and records a visit.
    let h = old.heads();
    old.reassign(&ctx(&coord), "chw2").expect("reassign");
    let r = w.sync(
        &coord,
        "laptop",
        &[],
        push("case-1", raw(old.changes_since(&h))),
    );
    assert!(r.refused.is_empty());
    let h = phone1.heads();
    phone1
        .add_visit(&ctx(&chw1), &visit("ghi chú thăm nhà"))
        .expect("visit");

    // chw1 comes back: the edit is accepted, then the case leaves their phone.
    let r = w.sync(
        &chw1,
        "phone-1",
        &c1,
        push("case-1", raw(phone1.changes_since(&h))),
    );
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.removed, vec!["case-1".to_string()]);
    assert!(r.docs.is_empty());

    // chw2 gets the case with chw1's visit.
    let pages = w.pull_all(&chw2, "phone-2", &mut c2, 0);
    let mut phone2 = None;
    for p in &pages {
        for d in &p.docs {
            apply(&mut phone2, &d.body);
        }
    }
    let case = phone2.expect("doc").read().expect("read");
    assert_eq!(case.assigned_to, "chw2");
    assert_eq!(case.visits.len(), 1);
}

#[test]
fn erased_cases_leave_every_device() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let mut phone = create(&chw, "phone-a", "case-1", "রহিমা বেগম", "chw1", false);
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", all_changes(&mut phone)),
    );
    let cursor = r.cursor;
    assert!(w.store.erase("case-1").expect("erase").is_some());
    assert!(w.store.doc_bytes("case-1").expect("bytes").is_none());
    let dump = format!("{:?}", w.store.dump().expect("dump"));
    assert!(!dump.contains("রহিমা"), "erased content stays on the server");
    let r = w.sync(&chw, "phone-a", &cursor, vec![]);
    assert_eq!(r.removed, vec!["case-1".to_string()]);
    let h = phone.heads();
    phone.add_visit(&ctx(&chw), &visit("x")).expect("visit");
    let r = w.sync(
        &chw,
        "phone-a",
        &cursor,
        push("case-1", raw(phone.changes_since(&h))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::Erased);
    let mut fresh = Vec::new();
    assert!(w
        .pull_all(&chw, "phone-b", &mut fresh, 0)
        .iter()
        .all(|p| p.docs.is_empty()));
}

#[test]
fn an_erased_case_keeps_a_tombstone_that_names_nobody_and_still_leaves_every_phone() {
    let w = world();
    let chw1 = user("chw1", Role::Chw, false);
    let chw2 = user("chw2", Role::Chw, false);
    w.store.put_user(&chw2).expect("user");
    let coord = user("coord", Role::Coordinator, true);
    let mut laptop = create(&coord, "laptop", "case-1", "زهرا حسینی", "chw1", true);
    let r = w.sync(
        &coord,
        "laptop",
        &[],
        push("case-1", all_changes(&mut laptop)),
    );
    let coord_cursor = r.cursor;
    // chw1 holds the case; it is moved to chw2 while chw1's phone is away (its cursor
    // is from before the move), and chw2 gets it.
    let mut c1 = Vec::new();
    assert_eq!(w.pull_all(&chw1, "phone-1", &mut c1, 0)[0].docs.len(), 1);
    let h = laptop.heads();
    laptop.reassign(&ctx(&coord), "chw2").expect("reassign");
    let r = w.sync(
        &coord,
        "laptop",
        &coord_cursor,
        push("case-1", raw(laptop.changes_since(&h))),
    );
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    let coord_cursor = r.cursor;
    let mut c2 = Vec::new();
    assert_eq!(w.pull_all(&chw2, "phone-2", &mut c2, 0)[0].docs.len(), 1);

    assert!(w.store.erase("case-1").expect("erase").is_some());
    let tomb = w.store.doc("case-1").expect("doc").expect("tombstone");
    assert!(tomb.erased);
    assert_eq!(
        tomb.routing,
        Routing::none(),
        "no district, assignee or sensitivity"
    );
    assert!(tomb.history.is_empty(), "no routing history");
    assert!(tomb.summary.is_none());

    // Every phone that may hold it is told to remove it: the old assignee from before
    // the move, the new one, the coordinator.
    for (u, device, cursor) in [
        (&chw1, "phone-1", &c1),
        (&chw2, "phone-2", &c2),
        (&coord, "laptop", &coord_cursor),
    ] {
        let r = w.sync(u, device, cursor, vec![]);
        assert_eq!(r.removed, vec!["case-1".to_string()], "{device}");
        assert!(r.docs.is_empty(), "{device}");
    }
    // A push to it is still refused as erased, and a fresh phone gets nothing.
    let h = laptop.heads();
    laptop.add_visit(&ctx(&coord), &visit("x")).expect("visit");
    let r = w.sync(
        &coord,
        "laptop",
        &coord_cursor,
        push("case-1", raw(laptop.changes_since(&h))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::Erased);
    let mut fresh = Vec::new();
    assert!(w
        .pull_all(&chw2, "phone-3", &mut fresh, 0)
        .iter()
        .all(|p| p.docs.is_empty()));
}

#[test]
fn sensitive_cases_and_admins() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let mut phone = create(&chw, "phone-a", "case-s", "مریم احمدی", "chw1", true);
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-s", all_changes(&mut phone)),
    );
    assert!(r.refused.is_empty());
    for (u, expect) in [
        (user("coord", Role::Coordinator, false), 0),
        (user("coord2", Role::Coordinator, true), 1),
        (user("admin", Role::Admin, false), 0),
        (user("chw2", Role::Chw, false), 0),
    ] {
        let mut c = Vec::new();
        let n: usize = w
            .pull_all(&u, "dev", &mut c, 0)
            .iter()
            .map(|p| p.docs.len())
            .sum();
        assert_eq!(n, expect, "{}", u.user_id);
    }
}

#[test]
fn pages_are_capped_and_resume() {
    let w = world();
    let coord = user("coord", Role::Coordinator, false);
    let names = ["নাসরিন", "فاطمه", "สมหญิง", "Nguyễn Văn Bình"];
    for i in 0..30 {
        let mut d = create(
            &coord,
            "laptop",
            &format!("case-{i:02}"),
            names[i % 4],
            "chw1",
            false,
        );
        w.sync(
            &coord,
            "laptop",
            &[],
            push(&format!("case-{i:02}"), all_changes(&mut d)),
        );
    }
    let chw = user("chw1", Role::Chw, false);
    let mut cursor = Vec::new();
    let pages = w.pull_all(&chw, "phone", &mut cursor, 600);
    assert!(pages.len() > 3, "{} pages", pages.len());
    let mut ids: Vec<_> = pages
        .iter()
        .flat_map(|p| p.docs.iter().map(|d| d.doc_id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    assert!(pages[0].remaining_estimate > 0);

    // New edits after the initial pull come through the log, paged too.
    for i in 0..30 {
        let id = format!("case-{i:02}");
        let mut d = CaseDoc::load(&w.store.doc_bytes(&id).expect("b").expect("doc")).expect("load");
        d.set_actor(device_actor("laptop"));
        let h = d.heads();
        d.add_visit(&ctx(&coord), &visit(&"ملاحظات ".repeat(50)))
            .expect("visit");
        w.sync(&coord, "laptop", &[], push(&id, raw(d.changes_since(&h))));
    }
    let pages = w.pull_all(&chw, "phone", &mut cursor, 1200);
    assert!(pages.len() > 1);
    let n: usize = pages
        .iter()
        .flat_map(|p| p.docs.iter())
        .map(|d| match &d.body {
            DocBody::Changes(c) => c.len(),
            DocBody::Snapshot { .. } => 1000,
        })
        .sum();
    assert_eq!(n, 30, "each change exactly once, as changes");
    // Compaction keeps documents loadable and pulls working.
    let compacted = w.engine.compact(1).expect("compact");
    assert_eq!(compacted, 30);
    let mut fresh = Vec::new();
    let pages = w.pull_all(&chw, "phone-2", &mut fresh, 0);
    let mut k = 0;
    for p in &pages {
        for d in &p.docs {
            let mut doc = None;
            apply(&mut doc, &d.body);
            assert_eq!(doc.expect("doc").read().expect("read").visits.len(), 1);
            k += 1;
        }
    }
    assert_eq!(k, 30);
}

#[test]
fn oversized_documents_are_refused() {
    let w = world_with(Settings {
        max_doc_bytes: 2_000,
        ..Settings::default()
    });
    let chw = user("chw1", Role::Chw, false);
    let mut phone = create(&chw, "phone-a", "case-1", "Phạm Minh", "chw1", false);
    w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", all_changes(&mut phone)),
    );
    let dump = w.store.dump().expect("dump");
    let h = phone.heads();
    phone
        .add_visit(&ctx(&chw), &visit(&"ข้อความยาว".repeat(300)))
        .expect("visit");
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", raw(phone.changes_since(&h))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::TooLarge);
    assert_eq!(w.store.dump().expect("dump"), dump);
}

#[test]
fn a_coordinator_without_sensitive_access_registers_a_sensitive_case() {
    let w = world();
    let plain = user("coord", Role::Coordinator, false);
    let other = user("coord2", Role::Coordinator, false);
    let mut laptop = create(&plain, "laptop", "case-s", "Lê Thị Mai", "chw1", true);
    laptop.set_actor(device_actor("laptop"));
    let creation = all_changes(&mut laptop);
    let r = w.sync(&plain, "laptop", &[], push("case-s", creation.clone()));
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.removed, ["case-s"], "it leaves the coordinator's laptop");
    // The response was lost: the same push again, still without a cursor, is accepted
    // and the case listed as removed again (an initial page lists no other removals).
    let r = w.sync(&plain, "laptop", &[], push("case-s", creation));
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.removed, ["case-s"]);
    assert!(r.docs.is_empty());
    // An edit made offline meanwhile still reaches the server.
    let h = laptop.heads();
    laptop.add_visit(&ctx(&plain), &visit("x")).expect("visit");
    let r = w.sync(
        &plain,
        "laptop",
        &[],
        push("case-s", raw(laptop.changes_since(&h))),
    );
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.removed, ["case-s"]);
    // Another coordinator without access, who did not register it, may not write it.
    let mut leaked = CaseDoc::load(&laptop.save()).expect("copy");
    leaked.set_actor(device_actor("laptop-2"));
    let h = leaked.heads();
    leaked.add_visit(&ctx(&other), &visit("y")).expect("visit");
    let r = w.sync(
        &other,
        "laptop-2",
        &[],
        push("case-s", raw(leaked.changes_since(&h))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::OutOfScope);
    assert!(r.removed.is_empty());
    // The assigned CHW gets the case with the visit.
    let mut c = Vec::new();
    let pages = w.pull_all(&user("chw1", Role::Chw, false), "phone", &mut c, 0);
    let mut phone = None;
    for d in pages.iter().flat_map(|p| &p.docs) {
        apply(&mut phone, &d.body);
    }
    assert_eq!(phone.expect("doc").read().expect("read").visits.len(), 1);
}

#[test]
fn a_coordinators_edits_after_making_a_case_sensitive_are_kept() {
    let w = world();
    let plain = user("coord", Role::Coordinator, false);
    let chw = user("chw1", Role::Chw, false);
    // A case the coordinator did not register (that rule is the test above's).
    let mut phone = create(&chw, "phone", "case-1", "Lê Thị Hoa", "chw1", false);
    w.sync(&chw, "phone", &[], push("case-1", all_changes(&mut phone)));
    let r = w.sync(&plain, "laptop", &[], vec![]);
    let mut laptop = None;
    apply(&mut laptop, &r.docs[0].body);
    let mut laptop = laptop.expect("the coordinator has it");
    laptop.set_actor(device_actor("laptop"));
    let cursor = r.cursor;
    let h = laptop.heads();
    laptop.set_sensitive(&ctx(&plain), true).expect("sensitive");
    let sensitive = raw(laptop.changes_since(&h));
    let r = w.sync(&plain, "laptop", &cursor, push("case-1", sensitive.clone()));
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.removed, ["case-1"]);
    // That response was lost; a visit recorded meanwhile goes with the repeated push.
    let h = laptop.heads();
    laptop.add_visit(&ctx(&plain), &visit("x")).expect("visit");
    let mut again = sensitive;
    again.extend(raw(laptop.changes_since(&h)));
    let r = w.sync(&plain, "laptop", &cursor, push("case-1", again));
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(r.removed, ["case-1"]);
}

/// The server's copy of `id`, signed by `device` for further edits.
fn server_copy(w: &World, id: &str, device: &str) -> CaseDoc {
    let mut d = w
        .store
        .doc_bytes(id)
        .expect("bytes")
        .map(|b| CaseDoc::load(&b).expect("load"))
        .expect("doc");
    d.set_actor(device_actor(device));
    d
}

#[test]
fn a_push_validated_against_a_moved_record_is_validated_again() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let mut phone = create(&chw, "phone-a", "case-1", "Ayesha Begum", "chw1", false);
    w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", all_changes(&mut phone)),
    );
    // Two devices edit the same case; A is validated (without the writer lock), then B
    // is stored before A commits.
    let mut a = server_copy(&w, "case-1", "phone-a");
    let mut b = server_copy(&w, "case-1", "phone-b");
    let (ha, hb) = (a.heads(), b.heads());
    a.add_visit(&ctx(&chw), &visit("from a")).expect("visit");
    b.add_visit(&ctx(&chw), &visit("from b")).expect("visit");
    let push_a = push("case-1", raw(a.changes_since(&ha)));
    let mut budget = crate::sync::PushBudget::for_request(usize::MAX);
    let checked = w
        .engine
        .check_push(&chw, &push_a[0], &mut budget)
        .expect("checked");
    let prepared = match w.engine.prepare_push(&chw, "phone-a", &checked) {
        Ok(push::Decision::Commit(p)) => p,
        _ => panic!("a valid push prepares a commit"),
    };
    let r = w.sync(
        &chw,
        "phone-b",
        &[],
        push("case-1", raw(b.changes_since(&hb))),
    );
    assert_eq!(r.acked.len(), 1);
    let dump = w.store.dump().expect("dump");
    let stale = w.engine.commit_if_current(*prepared).expect("commit");
    assert!(
        stale.is_none(),
        "a push validated against an old record is not stored"
    );
    assert_eq!(w.store.dump().expect("dump"), dump, "it stored nothing");

    // The whole path: validated again under the lock, stored on top of B.
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: "phone-a".into(),
        cursor: Vec::new(),
        push: push_a,
        max_page_bytes: 0,
    };
    let pushed = w.engine.push_all(&chw, "phone-a", &req).expect("push");
    assert_eq!((pushed.acked.len(), pushed.refused.len()), (1, 0));
    let visits = server_copy(&w, "case-1", "x").read().expect("read").visits;
    let mut notes: Vec<String> = visits.values().map(|v| v.notes.clone()).collect();
    notes.sort();
    assert_eq!(notes, ["from a", "from b"]);
}

/// `case-1` of `chw` registered from `phone-a` with its district held as an Automerge
/// Text ("sylhet", the worker's own district: accepted); the phone's copy and the Text.
fn case_with_district_as_text(
    w: &World,
    chw: &UserRecord,
    name: &str,
) -> (CaseDoc, automerge::ObjId) {
    let mut phone = create(chw, "phone-a", "case-1", name, "chw1", false);
    let am = phone.automerge();
    let district = am
        .put_object(ROOT, "district", automerge::ObjType::Text)
        .expect("text");
    am.splice_text(&district, 0, 0, "sylhet").expect("splice");
    am.commit();
    let r = w.sync(chw, "phone-a", &[], push("case-1", all_changes(&mut phone)));
    assert_eq!(r.acked.len(), 1, "created in the worker's own district");
    (phone, district)
}

#[test]
fn a_worker_cannot_move_a_case_by_editing_a_district_held_as_text() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let (mut phone, district) = case_with_district_as_text(&w, &chw, "Ayesha Begum");
    let dump = w.store.dump().expect("dump");
    let before = phone.heads();
    let am = phone.automerge();
    am.splice_text(&district, 0, 6, "dhaka").expect("splice");
    am.commit();
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", raw(phone.changes_since(&before))),
    );
    assert_eq!(r.refused[0].code, RefusalCode::RestrictedField);
    assert_eq!(w.store.dump().expect("dump"), dump);
}

/// The restricted-field check by operation stands on its own: a worker's edit that puts
/// a restricted value back unchanged (a root operation), or rewrites a restricted Text
/// to the same string (operations under the key), moves nothing — the routing read after
/// applying is the same — and is refused all the same.
#[test]
fn restricted_operations_are_refused_even_when_the_value_stays() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let (mut phone, district) = case_with_district_as_text(&w, &chw, "Trần Văn Bình");
    let dump = w.store.dump().expect("dump");
    // Same string: delete the last letter and type it again.
    let before = phone.heads();
    let am = phone.automerge();
    am.splice_text(&district, 5, 1, "t").expect("splice");
    am.commit();
    let same_text = raw(phone.changes_since(&before));
    let r = w.sync(&chw, "phone-a", &[], push("case-1", same_text.clone()));
    assert_eq!(r.refused[0].code, RefusalCode::RestrictedField);
    assert_eq!(w.store.dump().expect("dump"), dump);
    // Same value at the root: the sensitivity put back as it was.
    let mut fresh = create(&chw, "phone-a", "case-2", "ปราณี ศรีสุข", "chw1", false);
    let r = w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-2", all_changes(&mut fresh)),
    );
    assert_eq!(r.acked.len(), 1);
    let dump = w.store.dump().expect("dump");
    let before = fresh.heads();
    // (Automerge writes no operation for a put of the value already there: flip and
    // flip back in one change.)
    let am = fresh.automerge();
    am.put(ROOT, "sensitive", true).expect("put");
    am.put(ROOT, "sensitive", false).expect("put");
    am.commit();
    let same_value = raw(fresh.changes_since(&before));
    assert_eq!(same_value.len(), 1);
    let r = w.sync(&chw, "phone-a", &[], push("case-2", same_value));
    assert_eq!(r.refused[0].code, RefusalCode::RestrictedField);
    assert_eq!(w.store.dump().expect("dump"), dump);
}

#[test]
fn stored_summaries_follow_every_push() {
    let w = world();
    let chw = user("chw1", Role::Chw, false);
    let mut phone = create(&chw, "phone-a", "case-1", "Ayesha Begum", "chw1", false);
    w.sync(
        &chw,
        "phone-a",
        &[],
        push("case-1", all_changes(&mut phone)),
    );
    let stored = |w: &World| w.store.doc("case-1").expect("doc").expect("rec").summary;
    // An edit outside what the summary reads (the assessment), one inside it (a visit
    // with a next date), then outside again: the stored summary is always the one read
    // from the whole case.
    let mut later = ctx(&chw);
    for (i, step) in ["extra", "visit", "extra"].iter().enumerate() {
        later.now_ms += 60_000;
        let before = phone.heads();
        match *step {
            "extra" => phone
                .set_extra(
                    &later,
                    "round",
                    &casesync_core::case::ExtraValue::Int(i as i64),
                )
                .expect("extra"),
            _ => {
                let mut v = visit("visited");
                v.next_visit_date = NaiveDate::from_ymd_opt(2024, 4, 1);
                phone.add_visit(&later, &v).expect("visit");
            }
        }
        let r = w.sync(
            &chw,
            "phone-a",
            &[],
            push("case-1", raw(phone.changes_since(&before))),
        );
        assert_eq!(r.acked.len(), 1);
        let expected = phone.read().expect("read").summary();
        assert_eq!(stored(&w), Some(expected), "after the {step} edit");
    }
    assert!(stored(&w).and_then(|s| s.next_due).is_some());
}

#[test]
fn a_new_case_naming_another_registrar_is_refused() {
    let w = world();
    let coord = user("coord", Role::Coordinator, true);
    let other = user("coord2", Role::Coordinator, false);
    // Made as `coord2` (so `created_by` names them) but pushed by `coord`'s laptop:
    // accepted, it would let coord2 write to a sensitive case they cannot read.
    let mut forged = create(&other, "laptop", "case-f", "Nguyễn Văn An", "chw1", true);
    forged.set_actor(device_actor("laptop"));
    let dump = w.store.dump().expect("dump");
    let r = w.sync(
        &coord,
        "laptop",
        &[],
        push("case-f", all_changes(&mut forged)),
    );
    assert_eq!(r.refused.len(), 1, "{:?}", r.refused);
    assert_eq!(r.refused[0].code, RefusalCode::Invalid);
    assert_eq!(w.store.dump().expect("dump"), dump);
    // The same case registered by its pusher is taken.
    let mut own = create(&coord, "laptop", "case-f", "Nguyễn Văn An", "chw1", true);
    own.set_actor(device_actor("laptop"));
    let r = w.sync(&coord, "laptop", &[], push("case-f", all_changes(&mut own)));
    assert!(r.refused.is_empty(), "{:?}", r.refused);
}

mod initial_order;
mod scope_shrink;
