//! The device store suite, run on both backends, plus backend-specific tests.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::*;
use crate::case::{device_actor, ClientUpdate, EditCtx, NewCase, Role, Stage};

mod suite;

const KEY: [u8; 32] = [0x42; 32];
const NAMES: [(&str, &str); 4] = [
    ("bn-1", "রহিমা খাতুন"),
    ("fa-1", "زهرا احمدی"),
    ("th-1", "สมชาย จันทร์เพ็ญ"),
    ("vi-1", "Nguyễn Thị Hoa"),
];

fn ctx() -> EditCtx {
    EditCtx::new("chw-7", Role::Chw, 1_700_000_000_000)
}

fn new_doc(id: &str, name: &str) -> CaseDoc {
    let new = NewCase {
        id: id.into(),
        district: "Sylhet".into(),
        village: "Kanaighat".into(),
        assigned_to: "chw-7".into(),
        sensitive: false,
        client_name: name.into(),
    };
    CaseDoc::create(&ctx(), device_actor("dev"), &new).expect("create case")
}

fn save_all(store: &DeviceStore) {
    for (id, name) in NAMES {
        store
            .save_local(&mut new_doc(id, name))
            .expect("save_local");
    }
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// Runs `test` on a fresh in-memory store and on a fresh sled store.
fn on_both(test: fn(&DeviceStore)) {
    test(&DeviceStore::with_backend(Box::new(MemoryBackend::new()), &KEY).expect("memory"));
    test(&DeviceStore::in_memory(&KEY));
    let dir = tempfile::tempdir().expect("tempdir");
    test(&DeviceStore::open(&dir.path().join("store"), &KEY).expect("sled"));
}

/// One `#[test]` per suite function, each run on every backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                on_both(suite::$name);
            }
        )*
    };
}

on_both_backends!(
    round_trip_multilingual,
    missing_and_invalid,
    corrupt_record_is_isolated,
    values_do_not_leak_plaintext,
    batch_writes_every_kind,
    listing_filters_and_order,
    actor_is_persisted,
    wipe_removes_everything,
    wipe_reports_the_unsent_changes_it_destroys,
);
#[test]
fn failed_write_leaves_the_store_unchanged() {
    let mem = MemoryBackend::new();
    let store = DeviceStore::with_backend(Box::new(mem.clone()), &KEY).expect("store");
    store
        .save_local(&mut new_doc("bn-1", NAMES[0].1))
        .expect("save");
    let before = mem.scan_prefix(b"").expect("scan");

    mem.fail_next_apply();
    let mut doc = new_doc("fa-1", NAMES[1].1);
    assert!(matches!(
        store.save_local(&mut doc),
        Err(StoreError::Backend(_))
    ));
    mem.fail_next_apply();
    let mut batch = StoreBatch::new();
    batch.remove_case("bn-1").set_cursor(vec![7]);
    assert!(store.apply(batch).is_err());
    assert_eq!(mem.scan_prefix(b"").expect("scan"), before);

    store.save_local(&mut doc).expect("the next write succeeds");
    assert_eq!(store.outbox().expect("outbox"), vec!["bn-1", "fa-1"]);
}

#[test]
fn wrong_key_on_memory_backend_is_refused() {
    let mem = MemoryBackend::new();
    DeviceStore::with_backend(Box::new(mem.clone()), &KEY).expect("create");
    let before = mem.scan_prefix(b"").expect("scan");
    let err = DeviceStore::with_backend(Box::new(mem.clone()), &[0x43; 32]).expect_err("wrong key");
    assert!(matches!(err, StoreError::WrongKey));
    assert_eq!(mem.scan_prefix(b"").expect("scan"), before);
}

/// Hashes of every file under `dir`, by relative path.
fn dir_hashes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("prefix")
                    .display()
                    .to_string();
                out.insert(
                    rel,
                    Sha256::digest(std::fs::read(&path).expect("read")).to_vec(),
                );
            }
        }
    }
    out
}

#[test]
fn wrong_key_on_sled_leaves_files_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    {
        let store = DeviceStore::open(&path, &KEY).expect("create");
        save_all(&store);
    }
    let before = dir_hashes(&path);
    assert!(!before.is_empty());
    let err = DeviceStore::open(&path, &[0x43; 32]).expect_err("wrong key");
    assert!(matches!(err, StoreError::WrongKey));
    assert_eq!(err.to_string(), "the store key is wrong for this store");
    assert_eq!(dir_hashes(&path), before, "a wrong key touches nothing");

    let store = DeviceStore::open(&path, &KEY).expect("the right key still opens it");
    for (id, name) in NAMES {
        assert_eq!(store.summary(id).expect("summary").name, name);
        store.load_case(id).expect("load");
    }
}

#[test]
fn sled_store_persists_across_reopen_and_recovers_its_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let actor = {
        let store = DeviceStore::open(&path, &KEY).expect("create");
        save_all(&store);
        let mut batch = StoreBatch::new();
        batch.set_cursor(b"c-1".to_vec()).clear_outbox("bn-1");
        store.apply(batch).expect("apply");
        store.actor("phone-1").expect("actor")
    };
    // Without its key-check file the key is checked against the database record,
    // and the file is written again.
    std::fs::remove_file(path.join("keycheck")).expect("remove key file");
    let err = DeviceStore::open(&path, &[0x43; 32]).expect_err("wrong key");
    assert!(matches!(err, StoreError::WrongKey));
    let store = DeviceStore::open(&path, &KEY).expect("reopen");
    assert!(path.join("keycheck").exists());
    assert_eq!(store.actor("phone-1").expect("actor"), actor);
    assert_eq!(store.cursor().expect("cursor"), b"c-1");
    assert_eq!(store.outbox().expect("outbox"), ["fa-1", "th-1", "vi-1"]);
    assert_eq!(store.case_ids().expect("ids").len(), NAMES.len());
    drop(store);
    // A damaged key-check file is refused like a wrong key, without opening sled.
    std::fs::write(path.join("keycheck"), b"junk").expect("write");
    let err = DeviceStore::open(&path, &KEY).expect_err("damaged key file");
    assert!(matches!(err, StoreError::WrongKey));
}

/// Every file under `dir` that holds `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(
                std::fs::read_dir(&p)
                    .expect("ls")
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if std::fs::read(&p)
            .expect("read")
            .windows(needle.len())
            .any(|w| w == needle)
        {
            out.push(p);
        }
    }
    out
}

/// A wipe removes the database's files: the sealed values stored before (which the
/// app's key, still in the Keystore, would open) are in no file afterwards.
#[test]
fn a_wipe_on_disk_leaves_no_old_value_in_any_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let store = DeviceStore::open(&path, &KEY).expect("open");
    save_all(&store);
    store.backend().flush().expect("flush");
    let sealed: Vec<Vec<u8>> = store
        .backend()
        .scan_prefix(b"d/")
        .expect("scan")
        .into_iter()
        .map(|(_, v)| v[..64].to_vec())
        .collect();
    assert_eq!(sealed.len(), NAMES.len());
    assert!(
        !files_holding(&path, &sealed[0]).is_empty(),
        "the search finds a stored value"
    );
    store.wipe().expect("wipe");
    for v in &sealed {
        let left = files_holding(&path, v);
        assert!(
            left.is_empty(),
            "an old value survives the wipe in {left:?}"
        );
    }
    // Still open with the same key, empty, and usable; and it reopens.
    assert!(store.case_ids().expect("ids").is_empty());
    let mut doc = new_doc("bn-2", "রহিমা খাতুন");
    store.save_local(&mut doc).expect("save after wipe");
    drop(store);
    let store = DeviceStore::open(&path, &KEY).expect("reopen");
    assert_eq!(store.case_ids().expect("ids"), ["bn-2"]);
}

/// The plaintext encodings of stored records are a format: a change must be deliberate.
#[test]
fn stored_formats_are_pinned() {
    let store = DeviceStore::in_memory(&KEY);
    let s = CaseSummary {
        id: "c1".into(),
        name: "Hoa".into(),
        stage: Stage::Monitoring,
        assigned_to: "u1".into(),
        district: "D".into(),
        village: "V".into(),
        sensitive: true,
        next_due: Some(date("2024-05-10")),
        updated_at: 1_700_000_000_000,
    };
    let mut batch = StoreBatch::new();
    batch
        .put_case("c1", new_doc("c1", "Hoa").save(), &s)
        .set_acked_seq("c1", 0x0102)
        .mark_outbox("c1")
        .defer_removal("c1");
    store.apply(batch).expect("apply");
    let plain = |k: &[u8]| {
        let v = store.backend().get(k).expect("get").expect("present");
        Sealer::new(&KEY).open(k, &v).expect("opens")
    };
    assert_eq!(
        hex::encode(plain(b"i/10")),
        "0102633103486f61040275310144015601010a323032342d30352d313080a0abfef962"
    );
    // i/10 is the bucket of "c1"; the bucket holds a list of summaries sorted by id.
    // The acknowledged sequence number: a u64, little-endian.
    assert_eq!(hex::encode(plain(b"a/c1")), "0201000000000000");
    // Outbox marks and deferred removals: the key is the record, the value is empty.
    assert_eq!(plain(b"o/c1"), b"");
    assert_eq!(plain(b"r/c1"), b"");
    assert_eq!(plain(KEY_CHECK), KEY_CHECK_PLAIN);
}

#[test]
fn unreadable_key_check_in_a_non_empty_store_is_reported() {
    let mem = MemoryBackend::new();
    mem.apply(vec![BatchOp::Put(b"s/x".to_vec(), vec![0; 50])])
        .expect("raw");
    let err = DeviceStore::with_backend(Box::new(mem), &KEY).expect_err("no key check");
    assert!(matches!(err, StoreError::CorruptMeta(_)));
}

#[test]
fn error_messages_carry_no_case_content() {
    let store = DeviceStore::in_memory(&KEY);
    save_all(&store);
    store
        .backend()
        .apply(vec![BatchOp::Put(b"d/bn-1".to_vec(), vec![9; 60])])
        .expect("raw");
    let msg = store.load_case("bn-1").expect_err("corrupt").to_string();
    assert_eq!(msg, "the stored record of case bn-1 is unreadable");
}

/// sled lets go of its file lock a moment after the last handle is dropped (its
/// background threads close it): a store opened again at once in the same process waits
/// for it instead of failing (CI saw "could not acquire lock" on a reopen).
#[test]
fn a_store_reopened_while_its_lock_is_let_go_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let first = SledBackend::open(&path).expect("create");
    // The lock is still held when the second open starts, and let go 200 ms later.
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(first);
    });
    let second = SledBackend::open(&path).expect("opens once the first handle lets go");
    holder.join().expect("holder");
    second
        .apply(vec![BatchOp::Put(b"k".to_vec(), b"v".to_vec())])
        .expect("write");
}

/// A store another handle keeps open is refused after [`SLED_LOCK_WAIT`], not waited on
/// forever.
#[test]
fn a_store_held_open_elsewhere_is_refused_after_the_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    let _held = SledBackend::open(&path).expect("create");
    let start = std::time::Instant::now();
    let err = SledBackend::open(&path).expect_err("held");
    assert!(err.to_string().contains("could not acquire lock"), "{err}");
    assert!(start.elapsed() >= SLED_LOCK_WAIT);
}
