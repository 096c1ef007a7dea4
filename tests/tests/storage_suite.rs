//! One storage suite, two engines: every test function here runs against a temporary
//! sled store and against PostgreSQL (a fresh database per test on the server named by
//! `CASESYNC_TEST_DATABASE_URL`; without it the PostgreSQL half is skipped, and says so).
//!
//! The tests at the end are PostgreSQL-only: several `PgStorage`s on one database stand
//! for several server instances, committing at once without the in-process writer lock.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};

use automerge::Change;
use casesync_core::case::{
    device_actor, CaseDoc, ClientUpdate, EditCtx, NewCase, Role, VisitInput, VisitKind,
};
use casesync_server::auth::{disable_user, set_scope};
use casesync_server::store::{
    ChangeAudit, DeviceRecord, DocCommit, LogKind, MasterKey, PgStorage, Routing, ScopeKey,
    SledStorage, Storage, StoredChange, UserRecord,
};
use casesync_server::sync::scope::past_scopes;
use casesync_tests::harness::TestDatabase;
use chrono::NaiveDate;

const D: &str = "sylhet";

fn ctx(user: &str, role: Role) -> EditCtx {
    EditCtx::new(user, role, 1_700_000_000_000)
}

fn new_case(id: &str, assigned: &str) -> CaseDoc {
    CaseDoc::create(
        &ctx("coord", Role::Coordinator),
        device_actor("laptop-coord"),
        &NewCase {
            id: id.into(),
            district: D.into(),
            village: "গোয়াইনঘাট".into(),
            assigned_to: assigned.into(),
            sensitive: false,
            client_name: "রহিমা খাতুন".into(),
        },
    )
    .expect("create")
}

fn stored(changes: &[Change]) -> Vec<StoredChange> {
    changes
        .iter()
        .map(|c| StoredChange {
            hash: c.hash().0,
            bytes: c.raw_bytes().to_vec(),
        })
        .collect()
}

/// The commit of `doc`'s changes since `since` (what the sync engine would send).
fn commit_of(doc: &mut CaseDoc, since: &[automerge::ChangeHash]) -> DocCommit {
    let case = doc.read().expect("read");
    DocCommit {
        doc_id: case.id.clone(),
        routing: Routing {
            district: case.district.clone(),
            assigned_to: case.assigned_to.clone(),
            sensitive: case.sensitive,
        },
        summary: case.summary(),
        changes: stored(&doc.changes_since(since)),
        audit: None,
    }
}

fn visit(notes: &str) -> VisitInput {
    VisitInput {
        date: NaiveDate::from_ymd_opt(2025, 3, 1).expect("date"),
        kind: VisitKind::Home,
        notes: notes.into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: None,
    }
}

fn district() -> ScopeKey {
    ScopeKey::District(D.into())
}

fn user_key(u: &str) -> ScopeKey {
    ScopeKey::User(u.into())
}

// ---------------------------------------------------------------------------------
// The shared suite.

fn meta_users_and_devices(s: &dyn Storage) {
    assert_eq!(s.meta("x").expect("meta"), None);
    s.set_meta("x", b"one").expect("set");
    s.set_meta("x", b"two").expect("set");
    assert_eq!(s.meta("x").expect("meta").as_deref(), Some(&b"two"[..]));

    for id in ["zara", "amin", "Bilal"] {
        s.put_user(&UserRecord {
            user_id: id.into(),
            role: Role::Chw,
            districts: vec![D.into(), "khulna".into()],
            sensitive_access: false,
            password_hash: "$argon2id$v=19$...".into(),
            disabled: false,
            created_ms: 5,
            must_change_password: id == "zara",
            time_zone: (id == "zara").then(|| "Asia/Dhaka".to_string()),
            agency: None,
        })
        .expect("put user");
    }
    let zara = s.user("zara").expect("user").expect("exists");
    assert!(zara.must_change_password);
    assert_eq!(zara.time_zone.as_deref(), Some("Asia/Dhaka"));
    let mut u = s.user("amin").expect("user").expect("exists");
    assert!(!u.must_change_password);
    assert_eq!(u.time_zone, None);
    assert_eq!(u.districts, vec![D.to_string(), "khulna".into()]);
    u.disabled = true;
    s.put_user(&u).expect("update");
    assert!(s.user("amin").expect("user").expect("exists").disabled);
    assert_eq!(s.user("nobody").expect("user"), None);
    let ids: Vec<String> = s
        .users()
        .expect("users")
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(ids, vec!["Bilal", "amin", "zara"], "by id, byte order");

    let dev = DeviceRecord {
        device_id: "phone-1".into(),
        user_id: "amin".into(),
        revoked: false,
        refresh_hash: Some([7; 32]),
        refresh_expires_ms: 99,
        refresh_family: "fam".into(),
        used_refresh: vec![[1; 32], [2; 32]],
        created_ms: 3,
        last_sync_ms: None,
        rotated_hash: Some([3; 32]),
        rotated_ms: 98,
        family_revoked_ms: 5,
    };
    s.put_device(&dev).expect("put device");
    assert_eq!(s.device("phone-1").expect("device"), Some(dev.clone()));
    s.set_last_sync("phone-1", 1234).expect("last sync");
    // A device record written afterwards (token rotation) keeps the last sync time.
    s.put_device(&DeviceRecord {
        refresh_hash: None,
        ..dev.clone()
    })
    .expect("put device");
    let got = s.device("phone-1").expect("device").expect("exists");
    assert_eq!((got.last_sync_ms, got.refresh_hash), (Some(1234), None));
    assert_eq!(s.devices().expect("devices").len(), 1);
    assert_eq!(s.device("phone-2").expect("device"), None);
}

fn commit_assigns_sequence_numbers_and_logs_every_scope(s: &dyn Storage) {
    assert_eq!(s.last_seq().expect("seq"), 0);
    let mut doc = new_case("case-a", "chw1");
    let c = commit_of(&mut doc, &[]);
    let n = c.changes.len() as u64;
    let out = s.commit(c.clone()).expect("commit");
    s.flush().expect("flush");
    assert!(out.routing_changed, "a new case is a routing event");
    assert_eq!(out.last_seq, n + 1);
    assert_eq!(s.last_seq().expect("seq"), n + 1);

    let rec = s.doc("case-a").expect("doc").expect("exists");
    assert_eq!(rec.created_seq, n + 1);
    assert_eq!(rec.routing.assigned_to, "chw1");
    assert_eq!(rec.history, vec![(n + 1, c.routing.clone())]);
    assert_eq!(rec.summary.as_ref(), Some(&c.summary));
    assert_eq!(rec.tail_changes as u64, n);
    assert!(!rec.erased);

    for key in [district(), user_key("chw1")] {
        let log = s.log(&key, 0, u64::MAX).expect("log");
        assert_eq!(log.len() as u64, n + 1, "{key:?}");
        assert_eq!(
            log.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=n + 1).collect::<Vec<_>>()
        );
        assert!(matches!(log[0].kind, LogKind::Change(h) if h == c.changes[0].hash));
        assert_eq!(log[n as usize].kind, LogKind::Routing);
        assert_eq!(
            s.doc_ids(&key, "", 10).expect("ids"),
            vec!["case-a".to_string()]
        );
    }
    assert!(s.log(&user_key("chw2"), 0, 100).expect("log").is_empty());
    let ch = s.change_at("case-a", 1).expect("change").expect("exists");
    assert_eq!(ch, c.changes[0]);
    assert_eq!(s.change_at("case-a", 999).expect("change"), None);

    let bytes = s.doc_bytes("case-a").expect("bytes").expect("exists");
    let mut back = CaseDoc::load(&bytes).expect("loads");
    assert_eq!(back.read().expect("read"), doc.read().expect("read"));
    assert_eq!(s.doc("nope").expect("doc"), None);
    assert_eq!(s.doc_bytes("nope").expect("bytes"), None);

    // More changes: the next numbers, the same keys, no routing event.
    let heads = doc.automerge().get_heads();
    doc.add_visit(&ctx("chw1", Role::Chw), &visit("first visit"))
        .expect("visit");
    let c2 = commit_of(&mut doc, &heads);
    // Read first, as the engine does: the commit then hands back the record it wrote.
    let seen = s.doc("case-a").expect("doc");
    let out = s.commit(c2.clone()).expect("commit");
    assert!(!out.routing_changed);
    let now = s.doc("case-a").expect("doc");
    assert!(out.record.is_some(), "the caller's view was current");
    assert_eq!(out.record, now, "the record handed back is the one stored");
    assert_ne!(seen, now);
    assert_eq!(out.last_seq, n + 1 + c2.changes.len() as u64);
    let tail = s.log(&district(), n + 1, out.last_seq).expect("log");
    assert_eq!(tail.len(), c2.changes.len());
    let bytes = s.doc_bytes("case-a").expect("bytes").expect("exists");
    let mut back = CaseDoc::load(&bytes).expect("loads");
    assert_eq!(back.read().expect("read").visits.len(), 1);
}

fn reassignment_logs_under_old_and_new_keys(s: &dyn Storage) {
    let mut doc = new_case("case-r", "chw1");
    let first = s.commit(commit_of(&mut doc, &[])).expect("commit").last_seq;
    let heads = doc.automerge().get_heads();
    doc.reassign(&ctx("coord", Role::Coordinator), "chw2")
        .expect("reassign");
    s.doc("case-r").expect("doc");
    let out = s.commit(commit_of(&mut doc, &heads)).expect("commit");
    assert!(out.routing_changed);
    let rec = s.doc("case-r").expect("doc").expect("exists");
    assert_eq!(out.record.as_ref(), Some(&rec));
    assert_eq!(rec.routing.assigned_to, "chw2");
    assert_eq!(rec.history.len(), 2);
    assert_eq!(
        rec.routing_at(first).map(|r| r.assigned_to.as_str()),
        Some("chw1")
    );
    assert_eq!(
        rec.routing_at(out.last_seq).map(|r| r.assigned_to.as_str()),
        Some("chw2")
    );
    assert_eq!(rec.routing_at(0), None);
    for key in [user_key("chw1"), user_key("chw2"), district()] {
        let log = s.log(&key, first, out.last_seq).expect("log");
        assert!(
            log.iter()
                .any(|e| e.seq == out.last_seq && e.kind == LogKind::Routing),
            "routing entry under {key:?}"
        );
    }
    assert!(s
        .doc_ids(&user_key("chw1"), "", 10)
        .expect("ids")
        .is_empty());
    assert_eq!(
        s.doc_ids(&user_key("chw2"), "", 10).expect("ids"),
        vec!["case-r".to_string()]
    );
}

fn log_ranges_and_index_pages_are_exact(s: &dyn Storage) {
    // Ids whose byte order differs from a linguistic collation.
    let ids = ["case-B", "case-a", "case_a", "caseA", "case-Z9", "case-1"];
    for id in ids {
        let mut doc = new_case(id, "chw1");
        s.commit(commit_of(&mut doc, &[])).expect("commit");
    }
    let mut expect: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    expect.sort();
    let mut paged = Vec::new();
    let mut after = String::new();
    loop {
        let page = s.doc_ids(&district(), &after, 2).expect("ids");
        if page.is_empty() {
            break;
        }
        after = page.last().cloned().unwrap_or_default();
        paged.extend(page);
    }
    assert_eq!(paged, expect, "pages in byte order, none skipped");
    assert_eq!(
        s.doc_ids(&district(), "case-a", usize::MAX).expect("ids"),
        expect[expect.iter().position(|i| i == "case-a").expect("pos") + 1..].to_vec()
    );

    let head = s.last_seq().expect("seq");
    let all = s.log(&district(), 0, head).expect("log");
    assert_eq!(
        all.len() as u64,
        head,
        "one district: every number is in its log"
    );
    for (after, upto) in [(0, 3), (3, 3), (5, 2), (head - 1, head), (head, head + 10)] {
        let got: Vec<u64> = s
            .log(&district(), after, upto)
            .expect("log")
            .iter()
            .map(|e| e.seq)
            .collect();
        let want: Vec<u64> = (after + 1..=upto.min(head)).collect();
        assert_eq!(got, want, "({after}, {upto}]");
    }
}

fn compaction_keeps_the_content(s: &dyn Storage) {
    let mut doc = new_case("case-c", "chw1");
    s.commit(commit_of(&mut doc, &[])).expect("commit");
    for i in 0..5 {
        let heads = doc.automerge().get_heads();
        doc.add_visit(&ctx("chw1", Role::Chw), &visit(&format!("visit {i}")))
            .expect("visit");
        s.commit(commit_of(&mut doc, &heads)).expect("commit");
    }
    let before = s.doc("case-c").expect("doc").expect("exists");
    assert!(s
        .docs_to_compact(before.tail_changes)
        .expect("to compact")
        .contains(&"case-c".to_string()));
    let upto = s.last_seq().expect("seq");
    let bytes = s.doc_bytes("case-c").expect("bytes").expect("exists");
    let mut loaded = CaseDoc::load(&bytes).expect("loads");
    let done = s
        .compact("case-c", loaded.automerge().save(), upto)
        .expect("compact");
    let after = s.doc("case-c").expect("doc").expect("exists");
    assert_eq!(done.before.as_ref(), Some(&before), "the record as found");
    assert_eq!(done.after.as_ref(), Some(&after), "the record as written");
    assert_eq!((after.tail_changes, after.tail_bytes), (0, 0));
    assert!(after.snapshot_bytes > 0);
    assert!(s
        .docs_to_compact(1)
        .expect("to compact")
        .iter()
        .all(|d| d != "case-c"));
    // Changes after the snapshot are still part of the content.
    let heads = doc.automerge().get_heads();
    doc.update_client(
        &ctx("chw1", Role::Chw),
        &ClientUpdate {
            phone: Some("+8801711000000".into()),
            ..Default::default()
        },
    )
    .expect("phone");
    s.commit(commit_of(&mut doc, &heads)).expect("commit");
    let bytes = s.doc_bytes("case-c").expect("bytes").expect("exists");
    let mut back = CaseDoc::load(&bytes).expect("loads");
    assert_eq!(back.read().expect("read"), doc.read().expect("read"));
    assert_eq!(
        s.doc("case-c").expect("doc").expect("exists").tail_changes,
        1
    );
    // Changes stay addressable by sequence number for pulls.
    assert!(s.change_at("case-c", 1).expect("change").is_some());
}

/// Several cases in one `commit_all` (a request's pushes): numbered in order without a
/// gap, each outcome as one `commit` would give it, a case met twice built on its first.
fn commit_all_numbers_in_order(s: &dyn Storage) {
    let mut a = new_case("case-m1", "chw1");
    let mut b = new_case("case-m2", "chw1");
    let first_a = commit_of(&mut a, &[]);
    let first_b = commit_of(&mut b, &[]);
    let heads = a.automerge().get_heads();
    a.add_visit(&ctx("chw1", Role::Chw), &visit("ghé thăm lần hai"))
        .expect("visit");
    let second_a = commit_of(&mut a, &heads);
    let start = s.last_seq().expect("seq");
    let (na, nb, na2) = (
        first_a.changes.len() as u64,
        first_b.changes.len() as u64,
        second_a.changes.len() as u64,
    );
    let out = s
        .commit_all(vec![first_a, first_b, second_a])
        .expect("commit all");
    assert_eq!(out.len(), 3);
    // Changes then the routing entry of each new case; the second push of A adds changes.
    assert_eq!(out[0].last_seq, start + na + 1);
    assert_eq!(out[1].last_seq, start + na + 1 + nb + 1);
    assert_eq!(out[2].last_seq, start + na + 1 + nb + 1 + na2);
    assert_eq!(s.last_seq().expect("seq"), out[2].last_seq);
    assert!(out[0].routing_changed && out[1].routing_changed && !out[2].routing_changed);
    let rec_a = s.doc("case-m1").expect("doc").expect("exists");
    if let Some(r) = &out[2].record {
        assert_eq!(r, &rec_a, "a record handed back is the one stored");
    }
    assert_eq!(rec_a.tail_changes as u64, na + na2);
    let log = s.log(&district(), start, u64::MAX).expect("log");
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (start + 1..=out[2].last_seq).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    let mut back =
        CaseDoc::load(&s.doc_bytes("case-m1").expect("bytes").expect("exists")).expect("loads");
    assert_eq!(back.read().expect("read"), a.read().expect("read"));
}

/// Compaction runs beside commits (no writer lock): a snapshot read after a later
/// commit holds that change too, which stays in the tail; an older snapshot never
/// replaces a newer one.
fn compaction_beside_a_later_commit_keeps_everything(s: &dyn Storage) {
    let mut doc = new_case("case-k", "chw1");
    s.commit(commit_of(&mut doc, &[])).expect("commit");
    let old_upto = s.last_seq().expect("seq");
    let old_saved = CaseDoc::load(&s.doc_bytes("case-k").expect("bytes").expect("exists"))
        .expect("loads")
        .automerge()
        .save();
    let heads = doc.automerge().get_heads();
    doc.add_visit(&ctx("chw1", Role::Chw), &visit("ghé thăm — বাড়ি পরিদর্শন"))
        .expect("visit");
    s.commit(commit_of(&mut doc, &heads)).expect("commit");
    let upto = s.last_seq().expect("seq");
    // A compactor that read the sequence number here, then the content after one more
    // commit.
    let heads = doc.automerge().get_heads();
    doc.add_visit(&ctx("chw1", Role::Chw), &visit("ملاقات دوم"))
        .expect("visit");
    let later = commit_of(&mut doc, &heads);
    let later_bytes: u64 = later.changes.iter().map(|c| c.bytes.len() as u64).sum();
    s.commit(later.clone()).expect("commit");
    let bytes = s.doc_bytes("case-k").expect("bytes").expect("exists");
    let saved = CaseDoc::load(&bytes).expect("loads").automerge().save();
    s.compact("case-k", saved, upto).expect("compact");
    let rec = s.doc("case-k").expect("doc").expect("exists");
    assert_eq!(
        (rec.tail_changes, rec.tail_bytes),
        (later.changes.len() as u32, later_bytes),
        "the change after the snapshot's number stays the tail"
    );
    let bytes = s.doc_bytes("case-k").expect("bytes").expect("exists");
    let mut back = CaseDoc::load(&bytes).expect("a change in both snapshot and tail loads");
    assert_eq!(back.read().expect("read"), doc.read().expect("read"));
    // A slower compactor with an older snapshot changes nothing.
    let done = s.compact("case-k", old_saved, old_upto).expect("compact");
    assert_eq!(done.after, None);
    assert_eq!(done.before.as_ref(), Some(&rec));
    assert_eq!(s.doc("case-k").expect("doc").expect("exists"), rec);
    let bytes = s.doc_bytes("case-k").expect("bytes").expect("exists");
    let mut back = CaseDoc::load(&bytes).expect("loads");
    assert_eq!(back.read().expect("read").visits.len(), 2);
}

fn erasure_leaves_only_a_tombstone(s: &dyn Storage) {
    let mut doc = new_case("case-e", "chw1");
    let c = commit_of(&mut doc, &[]);
    s.commit(c).expect("commit");
    let seq = s.erase("case-e").expect("erase").expect("erased now");
    assert_eq!(s.last_seq().expect("seq"), seq);
    assert_eq!(s.erase("case-e").expect("erase"), None, "only once");
    assert_eq!(s.erase("never-was").expect("erase"), None);
    let rec = s.doc("case-e").expect("doc").expect("tombstone");
    assert!(rec.erased);
    assert_eq!(rec.summary, None);
    // Only what the protocol needs: no district, assignee, sensitivity or history.
    assert_eq!(rec.routing, Routing::none());
    assert!(rec.history.is_empty());
    assert_eq!(s.doc_bytes("case-e").expect("bytes"), None);
    assert_eq!(s.change_at("case-e", 1).expect("change"), None);
    for key in [district(), user_key("chw1")] {
        let log = s.log(&key, seq - 1, seq).expect("log");
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].kind, LogKind::Erased);
        assert!(s.doc_ids(&key, "", 10).expect("ids").is_empty());
    }
    let dump = format!("{:?}", s.dump().expect("dump"));
    assert!(!dump.contains("রহিমা"), "no content left");
}

/// Each change is stored with who pushed it (user, device, receive time), by hash, in
/// the same commit; a commit without an audit records none; erasure removes them.
fn audit_records_who_pushed_each_change(s: &dyn Storage) {
    let mut doc = new_case("case-w", "chw1");
    let first = commit_of(&mut doc, &[]);
    let first_hashes: Vec<_> = first.changes.iter().map(|c| c.hash).collect();
    s.commit(first).expect("commit");
    let h = doc.heads();
    doc.add_visit(&ctx("chw1", Role::Chw), &visit("Bà Trần Thị Lan khỏe hơn"))
        .expect("visit");
    let mut c = commit_of(&mut doc, &h);
    let audit = ChangeAudit {
        user_id: "chw1".into(),
        device_id: "điện-thoại-1".into(),
        received_ms: 1_700_000_123_456,
    };
    c.audit = Some(audit.clone());
    let hashes: Vec<_> = c.changes.iter().map(|c| c.hash).collect();
    s.commit(c).expect("commit");
    let got = s.audit("case-w").expect("audit");
    let mut want: Vec<_> = hashes.iter().map(|h| (*h, audit.clone())).collect();
    want.sort_by_key(|a| a.0);
    assert_eq!(got, want, "the audited changes, none for the first commit");
    assert!(got.iter().all(|(h, _)| !first_hashes.contains(h)));
    assert!(s.audit("never-was").expect("audit").is_empty());
    s.erase("case-w").expect("erase");
    assert!(
        s.audit("case-w").expect("audit").is_empty(),
        "erased with the case"
    );
}

/// Writers commit (under `writer`, when given: the single-instance writer lock) while
/// readers follow the log the way a pull does; no reader may miss or repeat an entry.
fn followers_never_skip_under_concurrent_commits(
    stores: &[Arc<dyn Storage>],
    writer: Option<Arc<Mutex<()>>>,
) {
    const WRITERS: usize = 4;
    const CASES_EACH: usize = 12;
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::scope(|sc| {
        for w in 0..WRITERS {
            let s = stores[w % stores.len()].clone();
            let (writer, done) = (writer.clone(), done.clone());
            sc.spawn(move || {
                for i in 0..CASES_EACH {
                    let mut doc = new_case(&format!("case-{w}-{i}"), "chw1");
                    let c = commit_of(&mut doc, &[]);
                    let _g = writer.as_ref().map(|m| m.lock());
                    s.commit(c).expect("commit");
                }
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        for r in 0..2 {
            let s = stores[r % stores.len()].clone();
            let done = done.clone();
            sc.spawn(move || {
                let mut cursor = 0;
                let mut seen = Vec::new();
                loop {
                    let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
                    let head = s.last_seq().expect("head");
                    let page = s.log(&district(), cursor, head).expect("log");
                    for e in &page {
                        assert!(e.seq > cursor && e.seq <= head);
                    }
                    seen.extend(page.iter().map(|e| e.seq));
                    cursor = head;
                    if finished {
                        break;
                    }
                }
                let all: Vec<u64> = s
                    .log(&district(), 0, u64::MAX)
                    .expect("log")
                    .iter()
                    .map(|e| e.seq)
                    .collect();
                assert_eq!(seen, all, "a follower saw every entry once, in order");
                assert_eq!(all, (1..=all.len() as u64).collect::<Vec<_>>(), "no gaps");
            });
        }
    });
    let ids: BTreeSet<String> = (0..WRITERS)
        .flat_map(|w| (0..CASES_EACH).map(move |i| format!("case-{w}-{i}")))
        .collect();
    let indexed: BTreeSet<String> = stores[0]
        .doc_ids(&district(), "", usize::MAX)
        .expect("ids")
        .into_iter()
        .collect();
    assert_eq!(indexed, ids);
}

// ---------------------------------------------------------------------------------
// Engines.

fn sled() -> Arc<dyn Storage> {
    Arc::new(SledStorage::temporary().expect("sled"))
}

/// A fresh database and `n` stores on it (`None`: no PostgreSQL configured).
fn pg(n: usize) -> Option<(TestDatabase, Vec<Arc<dyn Storage>>)> {
    let db = TestDatabase::from_env().expect("test database")?;
    let stores = (0..n)
        .map(|_| {
            Arc::new(PgStorage::connect(&db.url, 4, master()).expect("connect")) as Arc<dyn Storage>
        })
        .collect();
    Some((db, stores))
}

/// The master key every store of one test database shares (as instances must).
fn master() -> MasterKey {
    MasterKey::from_bytes(&[7; 32])
}

fn skipped() {
    eprintln!("skipped: CASESYNC_TEST_DATABASE_URL is not set (scripts/pg start)");
}

/// Issue #13: a scope change keeps the scope the user had; disabling a user revokes
/// their devices (and only theirs).
fn scope_changes_and_disabling_are_stored(s: &dyn Storage) {
    let coord = UserRecord {
        user_id: "coord".into(),
        role: Role::Coordinator,
        districts: vec!["khulna".into(), D.into()],
        sensitive_access: true,
        password_hash: String::new(),
        disabled: false,
        created_ms: 5,
        must_change_password: false,
        time_zone: None,
        agency: None,
    };
    s.put_user(&coord).expect("put user");
    let device = |id: &str, user: &str| DeviceRecord {
        device_id: id.into(),
        user_id: user.into(),
        revoked: false,
        refresh_hash: Some([7; 32]),
        refresh_expires_ms: 99,
        refresh_family: "fam".into(),
        used_refresh: Vec::new(),
        rotated_hash: None,
        rotated_ms: 0,
        family_revoked_ms: 0,
        created_ms: 3,
        last_sync_ms: None,
    };
    s.put_device(&device("laptop", "coord"))
        .expect("put device");
    s.put_device(&device("phone", "chw")).expect("put device");
    assert!(past_scopes(s, "coord").expect("past").is_empty());

    let now = set_scope(s, "coord", &[D.into()], false).expect("set scope");
    assert_eq!(s.user("coord").expect("user"), Some(now.clone()));
    assert_eq!(
        (now.districts.clone(), now.sensitive_access),
        (vec![D.to_owned()], false)
    );
    let past = past_scopes(s, "coord").expect("past");
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].districts, vec!["khulna".to_owned(), D.into()]);
    assert!(past[0].sensitive_access && past[0].until_ms > 0);
    // Given back and taken again: each scope is kept once.
    set_scope(s, "coord", &coord.districts, true).expect("set scope");
    set_scope(s, "coord", &[D.into()], false).expect("set scope");
    assert_eq!(past_scopes(s, "coord").expect("past").len(), 2);

    let off = disable_user(s, "coord").expect("disable");
    assert!(off.disabled && s.user("coord").expect("user").expect("coord").disabled);
    let laptop = s.device("laptop").expect("device").expect("laptop");
    assert!(laptop.revoked && laptop.refresh_hash.is_none());
    assert!(!s.device("phone").expect("device").expect("phone").revoked);
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod on_sled {
            $(#[test] fn $name() { super::$name(super::sled().as_ref()); })*
        }
        mod on_postgres {
            $(#[test] fn $name() {
                match super::pg(1) {
                    Some((_db, s)) => super::$name(s[0].as_ref()),
                    None => super::skipped(),
                }
            })*
        }
    };
}

suite!(
    meta_users_and_devices,
    commit_assigns_sequence_numbers_and_logs_every_scope,
    reassignment_logs_under_old_and_new_keys,
    log_ranges_and_index_pages_are_exact,
    compaction_keeps_the_content,
    compaction_beside_a_later_commit_keeps_everything,
    commit_all_numbers_in_order,
    erasure_leaves_only_a_tombstone,
    scope_changes_and_disabling_are_stored,
    audit_records_who_pushed_each_change,
);

#[test]
fn followers_never_skip_on_sled_with_the_writer_lock() {
    followers_never_skip_under_concurrent_commits(&[sled()], Some(Arc::new(Mutex::new(()))));
}

#[test]
fn followers_never_skip_on_postgres_with_three_instances_and_no_lock() {
    let Some((_db, stores)) = pg(3) else {
        return skipped();
    };
    followers_never_skip_under_concurrent_commits(&stores, None);
}

// ---------------------------------------------------------------------------------
// PostgreSQL only: what several instances can do to each other.

#[test]
fn migrations_run_once_even_when_instances_start_together() {
    let Some(db) = TestDatabase::from_env().expect("test database") else {
        return skipped();
    };
    let stores: Vec<PgStorage> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..3)
            .map(|_| sc.spawn(|| PgStorage::connect(&db.url, 1, master()).expect("connect")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let secrets: BTreeSet<Vec<u8>> = stores
        .iter()
        .map(|s| s.meta("jwt_secret").expect("meta").expect("secret"))
        .collect();
    assert_eq!(secrets.len(), 1, "one token secret for every instance");
    let dump = stores[0].dump().expect("dump");
    assert!(dump.iter().any(|(k, _)| k == b"log_counter/1"));
    // A restart applies nothing and keeps the data.
    stores[0].set_meta("kept", b"yes").expect("meta");
    drop(stores);
    let again = PgStorage::connect(&db.url, 1, master()).expect("reconnect");
    assert_eq!(
        again.meta("kept").expect("meta").as_deref(),
        Some(&b"yes"[..])
    );
}

#[test]
fn concurrent_pushes_to_one_case_through_two_instances_keep_both() {
    let Some((_db, stores)) = pg(2) else {
        return skipped();
    };
    let mut base = new_case("case-x", "chw1");
    stores[0].commit(commit_of(&mut base, &[])).expect("commit");
    let saved = base.automerge().save();
    for round in 0..5 {
        // Both instances read the case, then both commit: one reassigns (coordinator),
        // the other adds a visit (CHW). Whatever the order, the stored routing is the
        // merged one and both edits are kept.
        let barrier = Arc::new(Barrier::new(2));
        std::thread::scope(|sc| {
            for (i, s) in stores.iter().enumerate() {
                let (barrier, saved) = (barrier.clone(), saved.clone());
                sc.spawn(move || {
                    let rec = s.doc("case-x").expect("doc").expect("exists");
                    let bytes = s.doc_bytes("case-x").expect("bytes").expect("exists");
                    let mut doc = CaseDoc::load(&bytes).expect("load");
                    let heads = doc.automerge().get_heads();
                    if i == 0 {
                        doc.set_actor(device_actor("laptop-coord"));
                        let to = if rec.routing.assigned_to == "chw1" {
                            "chw2"
                        } else {
                            "chw1"
                        };
                        doc.reassign(&ctx("coord", Role::Coordinator), to)
                            .expect("reassign");
                    } else {
                        doc.set_actor(device_actor("phone-chw"));
                        doc.add_visit(&ctx("chw1", Role::Chw), &visit(&format!("r{round}")))
                            .expect("visit");
                    }
                    let c = commit_of(&mut doc, &heads);
                    barrier.wait();
                    s.commit(c).expect("commit");
                    drop(saved);
                });
            }
        });
        let rec = stores[1].doc("case-x").expect("doc").expect("exists");
        let bytes = stores[1]
            .doc_bytes("case-x")
            .expect("bytes")
            .expect("exists");
        let case = CaseDoc::load(&bytes).expect("load").read().expect("read");
        assert_eq!(case.visits.len(), round + 1, "every visit kept");
        assert_eq!(
            rec.routing.assigned_to, case.assigned_to,
            "stored routing is the merged case's (round {round})"
        );
        assert_eq!(rec.summary.as_ref(), Some(&case.summary()));
        let scope_docs = stores[0]
            .doc_ids(&user_key(&case.assigned_to), "", 10)
            .expect("ids");
        assert_eq!(scope_docs, vec!["case-x".to_string()], "index follows");
    }
}

#[test]
fn a_retried_push_through_another_instance_is_stored_once() {
    let Some((_db, stores)) = pg(2) else {
        return skipped();
    };
    let mut doc = new_case("case-y", "chw1");
    let c = commit_of(&mut doc, &[]);
    // Both instances see no case (the retry's check), then both commit.
    let both_checked = std::sync::Barrier::new(stores.len());
    std::thread::scope(|sc| {
        for s in &stores {
            let c = c.clone();
            let both_checked = &both_checked;
            sc.spawn(move || {
                assert_eq!(s.doc("case-y").expect("doc"), None);
                both_checked.wait();
                s.commit(c).expect("commit");
            });
        }
    });
    let n = c.changes.len() as u64;
    assert_eq!(stores[0].last_seq().expect("seq"), n + 1, "stored once");
    assert_eq!(
        stores[0].log(&district(), 0, 100).expect("log").len() as u64,
        n + 1
    );
}

#[test]
fn a_push_committed_after_erasure_does_not_resurrect_the_case() {
    let Some((_db, stores)) = pg(2) else {
        return skipped();
    };
    let mut doc = new_case("case-z", "chw1");
    stores[0].commit(commit_of(&mut doc, &[])).expect("commit");
    // Instance 1 has read the case and checked a push; instance 0 erases it first.
    assert!(stores[1].doc("case-z").expect("doc").is_some());
    let heads = doc.automerge().get_heads();
    doc.add_visit(&ctx("chw1", Role::Chw), &visit("late"))
        .expect("visit");
    let late = commit_of(&mut doc, &heads);
    let erased_at = stores[0].erase("case-z").expect("erase").expect("erased");
    stores[1].commit(late).expect("commit");
    assert_eq!(stores[1].doc_bytes("case-z").expect("bytes"), None);
    assert_eq!(stores[1].last_seq().expect("seq"), erased_at);
    assert!(stores[1]
        .doc_ids(&district(), "", 10)
        .expect("ids")
        .is_empty());
}
