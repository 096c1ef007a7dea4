//! Case content at rest: sealed under a per-case data key (crypto-shredding).
//!
//! Every record holding case content — a stored change's bytes, a snapshot, the listing
//! summary — is sealed with XChaCha20-Poly1305 (core's [`Sealer`], the same layout as the
//! device store: 24 random nonce bytes, ciphertext, 16 tag bytes) under the case's own
//! 32-byte data key, behind a 4-byte marker ([`SEALED_MARK`]) that tells sealed values
//! from the plaintext a store written before this version holds. The associated data
//! binds each value to its case and place ([`Place`]: a change's sequence number, a
//! snapshot's, the summary), so a value copied to another case or another record fails
//! to open instead of being read as that record.
//!
//! The data keys are kept in a key table apart from the content (sled: one file per case
//! under `<data>/keys/`; PostgreSQL: the `casesync_keys.case_keys` table), each wrapped
//! under the server's [`MasterKey`] (from `CASESYNC_MASTER_KEY`, a key file named by
//! `CASESYNC_MASTER_KEY_FILE`, or `<data>/master.key`, created on first start). Erasing a
//! case deletes its key: every copy of its content made before — sled's log files,
//! PostgreSQL's dead tuples, WAL and data backups, a cache's memory after eviction — is
//! then ciphertext nobody can open. A backup of the key table taken before the erasure
//! undoes that, so key backups are kept apart and short (docs/DEPLOYMENT.md).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use casesync_core::store::crypto::{Sealer, NONCE_LEN, TAG_LEN};
use rand::RngCore;

use super::StoreError;

/// The environment variable holding the master key itself (64 hex digits, or 32 bytes
/// in standard base64).
pub const MASTER_KEY_ENV: &str = "CASESYNC_MASTER_KEY";
/// The environment variable naming the master key file (instead of `<data>/master.key`).
pub const MASTER_KEY_FILE_ENV: &str = "CASESYNC_MASTER_KEY_FILE";
/// The master key file's name in the data directory, when neither variable is set.
pub const MASTER_KEY_FILE_NAME: &str = "master.key";
/// The marker in front of every sealed value (never the start of an Automerge change or
/// document, which begin with the bytes `85 6f 4a 83`).
pub const SEALED_MARK: &[u8; 4] = b"csx1";
/// The id the master key's check value is wrapped under (no case id holds a NUL).
const CHECK_ID: &str = "\u{0}master-check";
/// Bytes a sealed value has beyond its plaintext.
pub const SEAL_OVERHEAD: usize = SEALED_MARK.len() + NONCE_LEN + TAG_LEN;
/// Data keys kept unwrapped in memory at most (then the cache starts over).
pub const KEY_CACHE_ENTRIES: usize = 100_000;

/// Where in a case a sealed value lives: part of its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The change stored at this sequence number.
    Change(u64),
    /// The snapshot covering changes up to this sequence number.
    Snapshot(u64),
    /// The listing summary.
    Summary,
}

fn aad(doc_id: &str, place: Place) -> Vec<u8> {
    let (tag, n) = match place {
        Place::Change(s) => (b'c', s),
        Place::Snapshot(s) => (b's', s),
        Place::Summary => (b'y', 0),
    };
    let mut a = Vec::with_capacity(doc_id.len() + 20);
    a.extend_from_slice(b"casesync/case/");
    a.push(tag);
    a.extend_from_slice(&n.to_be_bytes());
    a.extend_from_slice(doc_id.as_bytes());
    a
}

fn key_aad(doc_id: &str) -> Vec<u8> {
    let mut a = b"casesync/key/".to_vec();
    a.extend_from_slice(doc_id.as_bytes());
    a
}

/// Whether `v` is a sealed value (rather than plaintext from an older version).
pub fn is_sealed(v: &[u8]) -> bool {
    v.starts_with(SEALED_MARK)
}

fn mark(sealed: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEALED_MARK.len() + sealed.len());
    out.extend_from_slice(SEALED_MARK);
    out.extend_from_slice(&sealed);
    out
}

fn seal_err(_: casesync_core::store::StoreError) -> StoreError {
    StoreError::Db("could not encrypt a record".into())
}

/// The server's master key: wraps the per-case data keys.
#[derive(Clone)]
pub struct MasterKey(Arc<Sealer>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(k: &[u8; 32]) -> Self {
        MasterKey(Arc::new(Sealer::new(k)))
    }

    /// A fresh random master key (temporary stores, tests).
    pub fn generate() -> Self {
        Self::from_bytes(&random_key())
    }

    /// A master key written as 64 hex digits or as 32 bytes in standard base64.
    pub fn from_text(text: &str) -> Result<Self, StoreError> {
        let t = text.trim();
        let bytes = hex::decode(t)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .ok_or_else(|| StoreError::Key("the master key is neither hex nor base64".into()))?;
        let k: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Key("the master key must be 32 bytes".into()))?;
        Ok(Self::from_bytes(&k))
    }

    /// The master key in file `path` (hex), created (mode 0600) with a new random key if
    /// there is none, which is logged.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text)
                .map_err(|e| StoreError::Key(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let k = random_key();
                write_new_file(path, hex::encode(k).as_bytes())?;
                tracing::warn!(
                    path = %path.display(),
                    "created a new master key: back it up apart from the data; \
                     without it no case can be read"
                );
                Ok(Self::from_bytes(&k))
            }
            Err(e) => Err(StoreError::Key(format!("{}: {e}", path.display()))),
        }
    }

    /// The master key from the environment ([`MASTER_KEY_ENV`], else the file named by
    /// [`MASTER_KEY_FILE_ENV`]), else from `<data>/master.key` (created if missing).
    pub fn resolve(data: &Path) -> Result<Self, StoreError> {
        if let Some(text) = std::env::var(MASTER_KEY_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            return Self::from_text(&text)
                .map_err(|e| StoreError::Key(format!("{MASTER_KEY_ENV}: {e}")));
        }
        let path = std::env::var_os(MASTER_KEY_FILE_ENV)
            .filter(|p| !p.is_empty())
            .map_or_else(|| data.join(MASTER_KEY_FILE_NAME), PathBuf::from);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Key(e.to_string()))?;
        }
        Self::load_or_create(&path)
    }

    /// A value that only this master key opens, stored once beside the key table so
    /// that starting with another master key is refused ([`Self::verify`]).
    pub fn check_value(&self) -> Result<Vec<u8>, StoreError> {
        self.wrap(CHECK_ID, &[0; 32])
    }

    /// Whether `stored` (a [`Self::check_value`]) is this master key's.
    pub fn verify(&self, stored: &[u8]) -> Result<(), StoreError> {
        self.unwrap(CHECK_ID, stored).map(|_| ()).map_err(|_| {
            StoreError::Key(format!(
                "the master key does not open this store's keys: start with the key it was \
                 created with ({MASTER_KEY_ENV}, {MASTER_KEY_FILE_ENV} or <data>/{MASTER_KEY_FILE_NAME})"
            ))
        })
    }

    /// `key` (a case's data key) wrapped for the key table.
    pub fn wrap(&self, doc_id: &str, key: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
        Ok(mark(self.0.seal(&key_aad(doc_id), key).map_err(seal_err)?))
    }

    /// The data key of `doc_id` from its key-table entry.
    pub fn unwrap(&self, doc_id: &str, wrapped: &[u8]) -> Result<[u8; 32], StoreError> {
        let inner = wrapped
            .strip_prefix(SEALED_MARK.as_slice())
            .ok_or_else(|| StoreError::Key(format!("the key of case {doc_id} is malformed")))?;
        self.0
            .open(&key_aad(doc_id), inner)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| {
                StoreError::Key(format!(
                    "the key of case {doc_id} does not open with this master key"
                ))
            })
    }
}

/// 32 random bytes from the OS generator.
pub fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

/// Writes a new file at `path` (refusing to replace one), readable by its owner only,
/// and makes it durable.
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::Key(format!("{}: {e}", path.display())))
}

/// Time this process spent on sealing at rest, so its cost can be read beside the
/// server's CPU time (`/metrics`: `casesync_sealing_seconds_total{op}` and
/// `casesync_sealing_ops_total{op}`; load-bench prints µs per sync). Relaxed atomics:
/// two clock reads and two additions per operation.
pub mod clock {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::Instant;

    /// What is timed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        /// Sealing a record (change, snapshot, summary).
        Seal = 0,
        /// Opening a record.
        Open = 1,
        /// Writing a case key to the key table (sled: a file, its fsync and the
        /// directory's).
        KeyWrite = 2,
    }

    /// Every [`Op`] with its metric label.
    pub const OPS: [(Op, &str); 3] = [
        (Op::Seal, "seal"),
        (Op::Open, "open"),
        (Op::KeyWrite, "key_write"),
    ];

    static NANOS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    static COUNT: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

    /// Runs `f`, adding its time to `op`'s total.
    pub fn timed<T>(op: Op, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        NANOS[op as usize].fetch_add(ns, Relaxed);
        COUNT[op as usize].fetch_add(1, Relaxed);
        out
    }

    /// `(nanoseconds, operations)` spent on `op` since the process started.
    pub fn total(op: Op) -> (u64, u64) {
        (
            NANOS[op as usize].load(Relaxed),
            COUNT[op as usize].load(Relaxed),
        )
    }
}

/// A case's data key, unwrapped: seals and opens its records.
#[derive(Clone)]
pub struct CaseKey(Arc<Sealer>);

impl std::fmt::Debug for CaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseKey(..)")
    }
}

impl CaseKey {
    /// The case key of these bytes.
    pub fn from_bytes(k: &[u8; 32]) -> Self {
        CaseKey(Arc::new(Sealer::new(k)))
    }

    /// `plain`, sealed as the record at `place` of case `doc_id`.
    pub fn seal(&self, doc_id: &str, place: Place, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        clock::timed(clock::Op::Seal, || {
            Ok(mark(
                self.0.seal(&aad(doc_id, place), plain).map_err(seal_err)?,
            ))
        })
    }

    /// The plaintext of the record at `place` of case `doc_id`; an error if it is not
    /// sealed, was sealed for another case or place, or was altered.
    pub fn open(&self, doc_id: &str, place: Place, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        clock::timed(clock::Op::Open, || {
            sealed
                .strip_prefix(SEALED_MARK.as_slice())
                .and_then(|inner| self.0.open(&aad(doc_id, place), inner))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("a sealed record of case {doc_id} does not open"))
                })
        })
    }
}

/// Unwrapped data keys by case id, in memory (bounded by [`KEY_CACHE_ENTRIES`]).
#[derive(Debug, Default)]
pub struct KeyCache(Mutex<HashMap<String, CaseKey>>);

impl KeyCache {
    /// The cached key of `doc_id`.
    pub fn get(&self, doc_id: &str) -> Option<CaseKey> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(doc_id)
            .cloned()
    }

    /// Remembers the key of `doc_id`.
    pub fn put(&self, doc_id: &str, key: CaseKey) {
        let mut m = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if m.len() >= KEY_CACHE_ENTRIES {
            m.clear();
        }
        m.insert(doc_id.to_owned(), key);
    }

    /// Forgets the key of `doc_id` (erased).
    pub fn forget(&self, doc_id: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(doc_id);
    }
}

/// The sled store's key table: one file per case in a directory (`<data>/keys/`), so
/// that deleting a key deletes its only copy (a sled log would keep the old value), or
/// in memory for a temporary store.
#[derive(Debug)]
pub enum KeyFiles {
    /// Files in this directory.
    Dir(PathBuf),
    /// In memory (temporary stores).
    Memory(Mutex<HashMap<String, Vec<u8>>>),
}

impl KeyFiles {
    fn file(dir: &Path, doc_id: &str) -> PathBuf {
        use sha2::Digest;
        dir.join(hex::encode(sha2::Sha256::digest(doc_id.as_bytes())))
    }

    /// The wrapped key of `doc_id`, if any.
    pub fn get(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            KeyFiles::Dir(dir) => match std::fs::read(Self::file(dir, doc_id)) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Key(e.to_string())),
            },
            KeyFiles::Memory(m) => Ok(m
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(doc_id)
                .cloned()),
        }
    }

    /// Stores the wrapped key of `doc_id` durably (written aside, then renamed).
    pub fn put(&self, doc_id: &str, wrapped: &[u8]) -> Result<(), StoreError> {
        match self {
            KeyFiles::Dir(dir) => clock::timed(clock::Op::KeyWrite, || {
                let path = Self::file(dir, doc_id);
                let tmp = path.with_extension("new");
                let _ = std::fs::remove_file(&tmp);
                write_new_file(&tmp, wrapped)?;
                std::fs::rename(&tmp, &path).map_err(|e| StoreError::Key(e.to_string()))?;
                sync_dir(dir)
            }),
            KeyFiles::Memory(m) => {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(doc_id.to_owned(), wrapped.to_vec());
                Ok(())
            }
        }
    }

    /// Deletes the key of `doc_id` durably (nothing if there is none).
    pub fn delete(&self, doc_id: &str) -> Result<(), StoreError> {
        match self {
            KeyFiles::Dir(dir) => {
                match std::fs::remove_file(Self::file(dir, doc_id)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(StoreError::Key(e.to_string())),
                }
                sync_dir(dir)
            }
            KeyFiles::Memory(m) => {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(doc_id);
                Ok(())
            }
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::Key(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_opens_only_in_its_case_and_place() {
        let k = CaseKey::from_bytes(&random_key());
        let v = k
            .seal("case-1", Place::Change(7), "রহিমা খাতুন".as_bytes())
            .expect("seal");
        assert!(is_sealed(&v));
        assert_eq!(v.len(), "রহিমা খাতুন".len() + SEAL_OVERHEAD);
        assert_eq!(
            k.open("case-1", Place::Change(7), &v).expect("open"),
            "রহিমা খাতুন".as_bytes()
        );
        assert!(k.open("case-2", Place::Change(7), &v).is_err());
        assert!(k.open("case-1", Place::Change(8), &v).is_err());
        assert!(k.open("case-1", Place::Snapshot(7), &v).is_err());
        assert!(CaseKey::from_bytes(&random_key())
            .open("case-1", Place::Change(7), &v)
            .is_err());
        assert!(k.open("case-1", Place::Change(7), &v[4..]).is_err());
    }

    #[test]
    fn wrapped_keys_open_only_with_their_master_key_and_case() {
        let m = MasterKey::generate();
        let dk = random_key();
        let w = m.wrap("c1", &dk).expect("wrap");
        assert_eq!(m.unwrap("c1", &w).expect("unwrap"), dk);
        assert!(m.unwrap("c2", &w).is_err());
        assert!(MasterKey::generate().unwrap("c1", &w).is_err());
    }

    #[test]
    fn master_key_text_file_and_bad_input() {
        let k = [9u8; 32];
        let hexed = hex::encode(k);
        let b64 = base64::engine::general_purpose::STANDARD.encode(k);
        let w = MasterKey::from_bytes(&k).wrap("c", &k).expect("wrap");
        for t in [hexed.as_str(), b64.as_str()] {
            let m = MasterKey::from_text(t).expect("parses");
            assert_eq!(m.unwrap("c", &w).expect("same key"), k);
        }
        assert!(MasterKey::from_text("abcd").is_err());
        assert!(MasterKey::from_text("not a key at all").is_err());
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(MASTER_KEY_FILE_NAME);
        let first = MasterKey::load_or_create(&path).expect("created");
        let again = MasterKey::load_or_create(&path).expect("read");
        let w = first.wrap("c", &k).expect("wrap");
        assert_eq!(again.unwrap("c", &w).expect("same"), k);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn key_files_are_deleted_for_good() {
        let dir = tempfile::tempdir().expect("dir");
        let files = KeyFiles::Dir(dir.path().to_path_buf());
        files.put("c1", b"wrapped").expect("put");
        assert_eq!(
            files.get("c1").expect("get").as_deref(),
            Some(&b"wrapped"[..])
        );
        files.delete("c1").expect("delete");
        assert_eq!(files.get("c1").expect("get"), None);
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
        files.delete("c1").expect("deleting again is fine");
    }
}
