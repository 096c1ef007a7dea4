//! Crash recovery of multi-key writes, old record layouts, sealing at rest.

use super::*;
use crate::store::{DeviceRecordV1, Routing, UserRecordV1, UserRecordV2};
use casesync_core::case::{device_actor, CaseDoc, EditCtx, NewCase, Role};

fn commit_of(id: &str, name: &str) -> DocCommit {
    let ctx = EditCtx::new("chw", Role::Chw, 1);
    let new = NewCase {
        id: id.into(),
        district: "d1".into(),
        village: "গ্রাম".into(),
        assigned_to: "chw".into(),
        sensitive: false,
        client_name: name.into(),
    };
    let mut doc = CaseDoc::create(&ctx, device_actor("dev"), &new).expect("create");
    let case = doc.read().expect("read");
    DocCommit {
        doc_id: id.into(),
        routing: Routing {
            district: case.district.clone(),
            assigned_to: case.assigned_to.clone(),
            sensitive: false,
        },
        summary: case.summary(),
        changes: doc
            .changes_since(&[])
            .iter()
            .map(|c| StoredChange {
                hash: c.hash().0,
                bytes: c.raw_bytes().to_vec(),
            })
            .collect(),
        audit: None,
    }
}

#[test]
fn device_records_written_before_refresh_grace_are_still_read() {
    let store = SledStorage::temporary().expect("store");
    let old = DeviceRecordV1 {
        device_id: "phone-1".into(),
        user_id: "chw".into(),
        revoked: false,
        refresh_hash: Some([7; 32]),
        refresh_expires_ms: 99,
        refresh_family: "fam".into(),
        used_refresh: vec![[1; 32]],
        created_ms: 5,
        last_sync_ms: None,
    };
    store
        .tree
        .insert(key("v", "phone-1"), enc(&old).expect("enc"))
        .expect("old record");
    let read = store.device("phone-1").expect("read").expect("present");
    assert_eq!(read, DeviceRecord::from(old));
    assert_eq!((read.rotated_hash, read.family_revoked_ms), (None, 0));
    assert_eq!(store.devices().expect("all"), vec![read.clone()]);
    // Written back, it takes the current layout and reads the same.
    let mut now = read;
    now.rotated_hash = Some([2; 32]);
    now.rotated_ms = 11;
    store.put_device(&now).expect("put");
    assert_eq!(store.device("phone-1").expect("read"), Some(now));
}

#[test]
fn user_records_written_before_password_resets_are_still_read() {
    let store = SledStorage::temporary().expect("store");
    let old = UserRecordV1 {
        user_id: "nasrin".into(),
        role: Role::Coordinator,
        districts: vec!["সিলেট".into()],
        sensitive_access: true,
        password_hash: "$argon2id$old".into(),
        disabled: false,
        created_ms: 5,
    };
    store
        .tree
        .insert(key("u", "nasrin"), enc(&old).expect("enc"))
        .expect("old record");
    let read = store.user("nasrin").expect("read").expect("present");
    assert_eq!(read, UserRecord::from(old));
    assert!(!read.must_change_password);
    assert_eq!(store.users().expect("all"), vec![read.clone()]);
    let mut now = read;
    now.must_change_password = true;
    store.put_user(&now).expect("put");
    assert_eq!(store.user("nasrin").expect("read"), Some(now));
}

#[test]
fn user_records_written_before_time_zones_are_still_read() {
    let store = SledStorage::temporary().expect("store");
    let old = UserRecordV2 {
        user_id: "parisa".into(),
        role: Role::Coordinator,
        districts: vec!["هرات".into()],
        sensitive_access: false,
        password_hash: "$argon2id$old".into(),
        disabled: false,
        created_ms: 7,
        must_change_password: true,
    };
    store
        .tree
        .insert(key("u", "parisa"), enc(&old).expect("enc"))
        .expect("old record");
    let read = store.user("parisa").expect("read").expect("present");
    assert_eq!(read, UserRecord::from(old));
    assert!(read.must_change_password, "the V2 field is kept");
    assert_eq!(read.time_zone, None);
    let mut now = read;
    now.time_zone = Some("Asia/Kabul".into());
    store.put_user(&now).expect("put");
    assert_eq!(store.user("parisa").expect("read"), Some(now));
}

/// Stores the intent of `set` and only its first `n` writes, as a crash would
/// leave it.
fn cut_short(store: &SledStorage, set: &WriteSet, n: usize) {
    store
        .tree
        .insert(INTENT_KEY, enc(set).expect("enc"))
        .expect("intent");
    let first = WriteSet {
        ops: set.ops[..n].to_vec(),
    };
    store.write_each(&first).expect("writes");
    store.db.flush().expect("flush");
}

/// What each case reads as: its record and its content.
type Reads = Vec<(Option<DocRecord>, Option<Vec<u8>>)>;

/// The dump with sealed values (random nonces, per-store keys) blanked, and what each
/// case reads as: two stores written alike compare equal.
fn plain_view(store: &SledStorage, ids: &[&str]) -> (Dump, Reads) {
    let dump = store
        .dump()
        .expect("dump")
        .into_iter()
        .map(|(k, v)| {
            let sealed = [&b"c/"[..], b"s/", b"y/", b"m/master-check"]
                .iter()
                .any(|p| k.starts_with(p));
            (k, if sealed { Vec::new() } else { v })
        })
        .collect();
    let reads = ids
        .iter()
        .map(|id| {
            (
                store.doc(id).expect("doc"),
                store.doc_bytes(id).expect("bytes"),
            )
        })
        .collect();
    (dump, reads)
}

#[test]
fn a_write_cut_short_is_finished_when_the_store_opens() {
    let whole_dir = tempfile::tempdir().expect("dir");
    let cut_dir = tempfile::tempdir().expect("dir");
    // Built once: a case's ids are random.
    let c1 = commit_of("c1", "Nguyễn Thị Hoa");
    let more = vec![commit_of("c2", "زهرا احمدی"), commit_of("c3", "สมชาย ใจดี")];
    let first = || c1.clone();
    let second = || more.clone();
    let whole = SledStorage::open(whole_dir.path()).expect("open");
    whole.commit(first()).expect("commit");
    whole.commit_all(second()).expect("commit");
    let ids = ["c1", "c2", "c3"];
    let expected = plain_view(&whole, &ids);
    drop(whole);
    for n in [0, 1, 3] {
        let _ = std::fs::remove_dir_all(cut_dir.path());
        {
            let cut = SledStorage::open(cut_dir.path()).expect("open");
            cut.commit(first()).expect("commit");
            let _guard = cut.lock_writes().expect("lock");
            let (set, _) = cut.plan_commits(second()).expect("plan");
            let set = set.expect("something to write");
            assert!(set.ops.len() > 3);
            cut_short(&cut, &set, n);
        }
        let reopened = SledStorage::open(cut_dir.path()).expect("reopen");
        assert_eq!(
            plain_view(&reopened, &ids),
            expected,
            "cut after {n} writes"
        );
        // A change and a routing entry per case.
        assert_eq!(reopened.last_seq().expect("seq"), 6);
        assert!(reopened.doc("c3").expect("doc").is_some());
    }
}

#[test]
fn an_erasure_cut_short_hides_the_case_and_is_finished_when_the_store_opens() {
    let whole_dir = tempfile::tempdir().expect("dir");
    let cut_dir = tempfile::tempdir().expect("dir");
    let c1 = commit_of("c1", "Nguyễn Thị Hoa");
    let whole = SledStorage::open(whole_dir.path()).expect("open");
    whole.commit(c1.clone()).expect("commit");
    assert_eq!(whole.erase("c1").expect("erase"), Some(3));
    let expected = plain_view(&whole, &["c1"]);
    drop(whole);
    {
        let cut = SledStorage::open(cut_dir.path()).expect("open");
        cut.commit(c1).expect("commit");
        let _guard = cut.lock_writes().expect("lock");
        let (set, _) = cut.plan_erase("c1").expect("plan").expect("live case");
        cut_short(&cut, &set, 1);
        // What a reader sees meanwhile: the tombstone, no content.
        assert!(cut.doc("c1").expect("doc").expect("record").erased);
        assert_eq!(cut.doc_bytes("c1").expect("bytes"), None);
    }
    let reopened = SledStorage::open(cut_dir.path()).expect("reopen");
    assert_eq!(plain_view(&reopened, &["c1"]), expected);
    assert_eq!(reopened.erase("c1").expect("erase again"), None);
    // The pending key deletion was finished too.
    let key_files = std::fs::read_dir(cut_dir.path().join("keys")).expect("keys dir");
    assert_eq!(key_files.count(), 0);
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn case_content_is_sealed_and_unreadable_once_its_key_is_gone() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStorage::open(dir.path()).expect("open");
    store.commit(commit_of("c1", "রহিমা খাতুন")).expect("commit");
    let bytes = store.doc_bytes("c1").expect("bytes").expect("live");
    assert!(CaseDoc::load(&bytes).is_ok());
    assert_eq!(
        store
            .doc("c1")
            .expect("doc")
            .expect("rec")
            .summary
            .map(|s| s.name),
        Some("রহিমা খাতুন".to_owned())
    );
    for (k, v) in store.dump().expect("dump") {
        for plain in ["রহিমা খাতুন", "গ্রাম"] {
            assert!(
                !contains(&v, plain),
                "plaintext under {}",
                String::from_utf8_lossy(&k)
            );
        }
    }
    // A value moved to another case's place does not open.
    let change = store
        .tree
        .get(seq_key("c", "c1", 1))
        .expect("get")
        .expect("change");
    store.commit(commit_of("c2", "สมชาย ใจดี")).expect("commit");
    store
        .tree
        .insert(seq_key("c", "c2", 3), change)
        .expect("swap");
    assert!(store.doc_bytes("c2").is_err());
    // Erased: the key file is gone, and the sealed values taken before stay sealed.
    let sealed_before = store
        .tree
        .get(seq_key("c", "c1", 1))
        .expect("get")
        .expect("v");
    store.erase("c1").expect("erase");
    assert!(store.case_key("c1").expect("key").is_none());
    assert_eq!(store.keys.get("c1").expect("key file"), None);
    let ch: StoredChange = dec(&sealed_before).expect("dec");
    assert!(crate::store::seal::is_sealed(&ch.bytes));
}

#[test]
fn a_store_written_before_sealing_is_sealed_forward_when_it_opens() {
    let dir = tempfile::tempdir().expect("dir");
    let (bytes, rec) = {
        let store = SledStorage::open(dir.path()).expect("open");
        let commit = commit_of("c1", "زهرا احمدی");
        store.commit(commit.clone()).expect("commit");
        store
            .compact("c1", store.doc_bytes("c1").expect("b").expect("live"), 1)
            .expect("compact");
        store
            .commit(commit_of("c2", "Nguyễn Thị Hoa"))
            .expect("commit");
        let bytes = store.doc_bytes("c1").expect("b").expect("live");
        let rec = store.doc("c1").expect("doc").expect("rec");
        // Rewritten as the previous version stored it: plaintext, summary in the record.
        for id in ["c1", "c2"] {
            let ck = store.live_key(id).expect("key");
            for kv in store.tree.scan_prefix(format!("c/{id}\0")) {
                let (k, v) = kv.expect("kv");
                let seq = seq_suffix(&k).expect("seq");
                let ch: StoredChange = dec(&v).expect("dec");
                let plain = StoredChange {
                    hash: ch.hash,
                    bytes: ck.open(id, Place::Change(seq), &ch.bytes).expect("open"),
                };
                store
                    .tree
                    .insert(k, enc(&plain).expect("enc"))
                    .expect("put");
            }
            if let Some(v) = store.tree.get(key("s", id)).expect("get") {
                let (upto, sealed): (u64, Vec<u8>) = dec(&v).expect("dec");
                let plain = ck.open(id, Place::Snapshot(upto), &sealed).expect("open");
                store
                    .tree
                    .insert(key("s", id), enc(&(upto, plain)).expect("enc"))
                    .expect("put");
            }
            let full = store.doc(id).expect("doc").expect("rec");
            store
                .tree
                .insert(key("d", id), enc(&full).expect("enc"))
                .expect("put");
            store.tree.remove(key("y", id)).expect("rm");
            store.keys.delete(id).expect("no key yet");
        }
        store.tree.remove(b"m/at-rest").expect("rm");
        store.db.flush().expect("flush");
        let old = store.dump().expect("dump");
        assert!(
            old.iter().any(|(_, v)| contains(v, "زهرا احمدی")),
            "old layout is plaintext"
        );
        (bytes, rec)
    };
    let store = SledStorage::open(dir.path()).expect("reopen");
    assert_eq!(store.doc_bytes("c1").expect("bytes"), Some(bytes));
    assert_eq!(store.doc("c1").expect("doc"), Some(rec));
    assert!(store
        .doc("c2")
        .expect("doc")
        .expect("rec")
        .summary
        .is_some());
    for (k, v) in store.dump().expect("dump") {
        for plain in ["زهرا احمدی", "Nguyễn Thị Hoa"] {
            assert!(
                !contains(&v, plain),
                "plaintext under {}",
                String::from_utf8_lossy(&k)
            );
        }
    }
}

#[test]
fn another_master_key_is_refused_at_open() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStorage::open_keyed(dir.path(), 1 << 20, MasterKey::generate()).expect("open");
    store.commit(commit_of("c1", "สมชาย ใจดี")).expect("commit");
    drop(store);
    let err =
        SledStorage::open_keyed(dir.path(), 1 << 20, MasterKey::generate()).expect_err("refused");
    assert!(matches!(err, StoreError::Key(_)), "{err}");
}

#[test]
fn a_tombstone_written_by_an_older_version_is_reduced_when_the_store_opens() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let store = SledStorage::open(dir.path()).expect("open");
        let commit = commit_of("c1", "ফাতেমা খাতুন");
        let routing = commit.routing.clone();
        store.commit(commit).expect("commit");
        store.erase("c1").expect("erase").expect("live case");
        // Rewritten as the previous version left it: routing and history kept.
        let mut old = store.doc("c1").expect("doc").expect("tombstone");
        old.routing = routing.clone();
        old.history = vec![(1, routing)];
        store
            .tree
            .insert(key("d", "c1"), enc(&old).expect("enc"))
            .expect("put");
        store.tree.remove(b"m/tombstones").expect("rm");
        store.db.flush().expect("flush");
    }
    let store = SledStorage::open(dir.path()).expect("reopen");
    let tomb = store.doc("c1").expect("doc").expect("tombstone");
    assert!(tomb.erased);
    assert_eq!(tomb.routing, Routing::none());
    assert!(tomb.history.is_empty());
    assert_eq!(store.erase("c1").expect("erase again"), None);
}

/// Backups taken while another thread commits are each a state between two commits:
/// the restored counter is the backup's plus the gap, every log entry up to the
/// backup's number is there and none beyond it, and every change the log names is
/// stored and every case it names reads whole.
#[test]
fn backups_taken_during_commits_are_states_between_two_commits() {
    use crate::store::{restore_sled, RESTORE_SEQ_GAP};
    let dir = tempfile::tempdir().expect("tempdir");
    let master = MasterKey::generate();
    let store =
        SledStorage::open_keyed(&dir.path().join("live"), 1 << 20, master.clone()).expect("store");
    let writer = store.clone();
    let names = ["রহিমা খাতুন", "زهرا احمدی", "สมชาย จันทร์เพ็ญ", "Nguyễn Thị Hoa"];
    let commits = std::thread::spawn(move || {
        for i in 0..200 {
            writer
                .commit(commit_of(&format!("c{i:03}"), names[i % names.len()]))
                .expect("commit");
        }
    });
    let mut seen = Vec::new();
    for b in 0..4 {
        let to = dir.path().join(format!("backup-{b}"));
        let info = store.backup(&to).expect("backup");
        let data = dir.path().join(format!("restored-{b}"));
        let mark = restore_sled(&to, &data, &master, 1 << 20).expect("restore");
        assert_eq!(mark.restored_seq, info.last_seq + RESTORE_SEQ_GAP);
        let back = SledStorage::open_keyed(&data, 1 << 20, master.clone()).expect("open");
        assert_eq!(back.last_seq().expect("seq"), mark.restored_seq);
        let log = back
            .log(&ScopeKey::District("d1".into()), 0, u64::MAX)
            .expect("log");
        assert_eq!(
            log.last().map_or(0, |e| e.seq),
            info.last_seq,
            "counter and log agree"
        );
        for e in &log {
            if let LogKind::Change(h) = e.kind {
                let ch = back
                    .change_at(&e.doc_id, e.seq)
                    .expect("read")
                    .expect("change");
                assert_eq!(ch.hash, h);
            }
            assert!(
                back.doc_bytes(&e.doc_id).expect("read").is_some(),
                "{} whole",
                e.doc_id
            );
        }
        seen.push(info.last_seq);
        drop(back);
    }
    commits.join().expect("commits");
    eprintln!("backups at sequence numbers {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}
