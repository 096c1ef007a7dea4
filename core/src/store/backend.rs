//! The storage trait under the device store, and its two implementations.
//!
//! A [`Backend`] is a small ordered key-value map with atomic batches. It knows nothing
//! about cases or encryption: [`DeviceStore`](super::DeviceStore) encrypts every value
//! before it gets here. [`SledBackend`] is the real one; [`MemoryBackend`] serves unit
//! tests and can be told to fail its next write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::StoreError;

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Sets `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Removes `key` (no error when it is absent).
    Delete(Vec<u8>),
}

/// `(key, value)` pairs in key order, as a prefix scan returns them.
pub type KeyValues = Vec<(Vec<u8>, Vec<u8>)>;

/// An ordered key-value map with atomic batches: what the device store needs from disk.
pub trait Backend: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<KeyValues, StoreError>;

    /// Every key that starts with `prefix`, in key order (values are not read out).
    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError>;

    /// Applies every op of `batch`, or none of them when it returns an error.
    fn apply(&self, batch: Vec<BatchOp>) -> Result<(), StoreError>;

    /// Makes every applied batch durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Empties the map by destroying its storage and starting a new, empty one: on disk
    /// the database's files are removed (a deletion would leave old values in them).
    fn destroy_and_recreate(&self) -> Result<(), StoreError>;
}

/// The in-memory backend: a `BTreeMap` behind a mutex. Clones share the same map, so a
/// test can keep a handle after giving one to a [`DeviceStore`](super::DeviceStore).
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    map: Arc<Mutex<BTreeMap<Vec<u8>, Vec<u8>>>>,
    fail_next_apply: Arc<AtomicBool>,
}

impl MemoryBackend {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next [`apply`](Backend::apply) fail without writing anything, as a full
    /// disk or a crash before the commit would (for tests of atomicity and resumption).
    pub fn fail_next_apply(&self) {
        self.fail_next_apply.store(true, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // The map is never left half-updated (no op below can panic midway), so a
        // poisoned lock still guards consistent data.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<KeyValues, StoreError> {
        Ok(self
            .lock()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .range(prefix.to_vec()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn apply(&self, batch: Vec<BatchOp>) -> Result<(), StoreError> {
        if self.fail_next_apply.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Backend("simulated write failure".into()));
        }
        let mut map = self.lock();
        for op in batch {
            match op {
                BatchOp::Put(k, v) => {
                    map.insert(k, v);
                }
                BatchOp::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn destroy_and_recreate(&self) -> Result<(), StoreError> {
        self.lock().clear();
        Ok(())
    }
}

/// The on-disk backend: one sled database (its default tree). The database is behind a
/// lock only so that a wipe can replace it ([`Backend::destroy_and_recreate`]).
#[derive(Debug, Clone)]
pub struct SledBackend {
    db: Arc<RwLock<sled::Db>>,
    path: PathBuf,
}

fn sled_err(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// How long opening a sled database waits for its file lock to be let go: dropping a
/// `sled::Db` returns before sled's background threads have closed the lock file
/// (sled issues #1234, #1289), so a store closed and opened again at once in one
/// process (a phone app reopening its store, a wipe, a restart in a test) would fail
/// with "could not acquire lock". A database another process holds still fails, after
/// this wait.
pub const SLED_LOCK_WAIT: Duration = Duration::from_secs(3);

/// How often the lock is tried again within [`SLED_LOCK_WAIT`].
const SLED_LOCK_RETRY: Duration = Duration::from_millis(20);

/// Opens the sled database `config` describes, waiting up to [`SLED_LOCK_WAIT`] for its
/// file lock; any other error is returned at once. Every sled database of casesync (the
/// phone's and the server's) is opened here.
pub fn open_sled(config: &sled::Config) -> Result<sled::Db, sled::Error> {
    let deadline = Instant::now() + SLED_LOCK_WAIT;
    loop {
        match config.open() {
            Err(e) if is_lock_held(&e) && Instant::now() < deadline => {
                std::thread::sleep(SLED_LOCK_RETRY);
            }
            other => return other,
        }
    }
}

/// Whether `e` is sled saying another handle holds the database's file lock (sled 0.34
/// reports it as an `Other` I/O error with this sentence).
fn is_lock_held(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock"))
}

impl SledBackend {
    /// Opens (or creates) the sled database in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = open_sled(&sled::Config::new().path(path)).map_err(sled_err)?;
        Ok(Self {
            db: Arc::new(RwLock::new(db)),
            path: path.to_path_buf(),
        })
    }

    fn db(&self) -> sled::Db {
        // A clone is a handle on the same database (sled's `Db` is shared inside).
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db().get(key).map_err(sled_err)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<KeyValues, StoreError> {
        self.db()
            .scan_prefix(prefix)
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(sled_err))
            .collect()
    }

    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.db()
            .scan_prefix(prefix)
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(sled_err))
            .collect()
    }

    fn apply(&self, batch: Vec<BatchOp>) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for op in batch {
            match op {
                BatchOp::Put(k, v) => b.insert(k, v),
                BatchOp::Delete(k) => b.remove(k),
            }
        }
        self.db().apply_batch(b).map_err(sled_err)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db().flush().map(|_| ()).map_err(sled_err)
    }

    fn destroy_and_recreate(&self) -> Result<(), StoreError> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // Our handle goes first (a throw-away database stands in), then the files.
        let stand_in = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(sled_err)?;
        drop(std::mem::replace(&mut *db, stand_in));
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "removing the store: {}",
                    e.kind()
                )))
            }
        }
        *db = open_sled(&sled::Config::new().path(&self.path)).map_err(sled_err)?;
        Ok(())
    }
}
