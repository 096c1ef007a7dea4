//! The device store: case documents, their listing index, the outbox and the sync cursor,
//! encrypted at rest.
//!
//! Every value is sealed with XChaCha20-Poly1305 under the 32-byte key the app supplies
//! (from the Android Keystore), with the record's key as associated data; see
//! [`crypto`](self::crypto) for the layout. Keys are not encrypted: they hold only case
//! ids and record kinds (`d/` documents, `a/` acknowledged sequence numbers, `o/`
//! outbox, `r/` deferred removals, `x/` parked refusals (see `refused.rs`), `m/`
//! metadata)
//! and the numbers of the summary index buckets (`i/`, see `index.rs`: listing reads a
//! few dozen buckets, never one record per case, and never a document).
//!
//! A key-check record, written when the store is created (and copied to a `keycheck`
//! file beside the sled directory, since sled rewrites files whenever it opens), lets
//! [`DeviceStore::open`] refuse a wrong key with [`StoreError::WrongKey`] before anything
//! is written. A record
//! that fails to decrypt or parse is an error for its case only
//! ([`StoreError::Corrupt`]); a damaged index bucket is rebuilt from the documents, and
//! listing reports the cases it could not rebuild beside the readable ones.
//!
//! Storage sits behind the [`Backend`] trait: [`SledBackend`] on the device,
//! [`MemoryBackend`] for tests.

mod backend;
mod batch;
pub mod crypto;
mod disk;
mod index;
mod listing;
mod refused;
#[cfg(test)]
mod tests;

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use automerge::ActorId;

use crate::case::{
    actor_belongs_to, validate_case_id, Case, CaseDoc, CaseError, CaseSummary, EditCtx, IdSource,
    NewCase,
};

pub use backend::{
    open_sled, Backend, BatchOp, KeyValues, MemoryBackend, SledBackend, SLED_LOCK_WAIT,
};
pub use batch::StoreBatch;
pub use listing::{Listing, SummaryFilter};
#[cfg(test)]
pub(crate) use refused::refused_record_for_test;
pub use refused::{Discarded, RefusedCase};

use batch::{id_of, key, ACKED, ACTOR, AGENCIES, CURSOR, DOC, KEY_CHECK, OUTBOX, REMOVAL};
use crypto::Sealer;

/// The plaintext of the key-check record.
const KEY_CHECK_PLAIN: &[u8] = b"casesync device store v1";

/// Why a store operation failed. Messages name case ids at most, never case content.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key does not open this store. Nothing was written.
    #[error("the store key is wrong for this store")]
    WrongKey,
    /// One case's stored record could not be decrypted or parsed.
    #[error("the stored record of case {case_id} is unreadable")]
    Corrupt {
        /// The case.
        case_id: String,
    },
    /// A store-wide record (sync cursor, actor id, key check) could not be read.
    #[error("the store's {0} record is unreadable")]
    CorruptMeta(&'static str),
    /// No such case in the store.
    #[error("case {0} is not in the store")]
    NotFound(String),
    /// The case document was refused (invalid id or document).
    #[error(transparent)]
    Case(#[from] CaseError),
    /// The storage engine failed.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// What a wipe destroyed that the server never received: the app tells the worker
/// (a wipe never happens silently over unsent work).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct WipeReport {
    /// Cases that had edits not yet acknowledged by the server (outbox entries).
    pub unsent_cases: i64,
    /// This device's changes in them not yet acknowledged by the server.
    pub unsent_changes: i64,
}

/// The encrypted store of one device. Cheap to share behind an `Arc`; every method
/// takes `&self`.
pub struct DeviceStore {
    backend: Box<dyn Backend>,
    sealer: Sealer,
    /// Serialises read-modify-write sequences (index buckets in `apply`, actor creation,
    /// wipe).
    write_lock: Mutex<()>,
    /// Serialises the read-modify-writes of case documents: a local edit
    /// ([`DeviceStore::edit`]), a sync request being built or a page applied
    /// ([`SyncSession`](crate::sync::SyncSession)), retrying or discarding refused edits,
    /// a wipe; so a page never interleaves with an edit of the same case. Taken before
    /// `write_lock`, never after.
    case_lock: Mutex<()>,
    /// Where the actor id and the entry ids of loaded documents come from.
    ids: IdSource,
}

impl std::fmt::Debug for DeviceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceStore(..)")
    }
}

impl DeviceStore {
    /// Opens (or creates) the store in directory `path` with `key`. A wrong key is
    /// [`StoreError::WrongKey`] and leaves every file in `path` as it was.
    pub fn open(path: &Path, key: &[u8; 32]) -> Result<Self, StoreError> {
        let has_key_file = match disk::check_key_file(path, &Sealer::new(key))? {
            Some(true) => true,
            Some(false) => return Err(StoreError::WrongKey),
            None => false,
        };
        let store = Self::with_backend(Box::new(disk::open_sled(path)?), key)?;
        if !has_key_file {
            let sealed = store
                .backend
                .get(KEY_CHECK)?
                .ok_or(StoreError::CorruptMeta("key check"))?;
            disk::write_key_file(path, &sealed)?;
        }
        Ok(store)
    }

    /// A new, empty store in memory.
    pub fn in_memory(key: &[u8; 32]) -> Self {
        let sealer = Sealer::new(key);
        let backend = MemoryBackend::new();
        if let Ok(check) = sealer.seal(KEY_CHECK, KEY_CHECK_PLAIN) {
            // Cannot fail: a fresh memory backend accepts any write.
            let _ = backend.apply(vec![BatchOp::Put(KEY_CHECK.to_vec(), check)]);
        }
        Self::from_parts(Box::new(backend), sealer)
    }

    /// Opens the store held by `backend` with `key`: checks the key against the
    /// key-check record, or writes that record when the store is empty.
    pub fn with_backend(backend: Box<dyn Backend>, key: &[u8; 32]) -> Result<Self, StoreError> {
        let sealer = Sealer::new(key);
        match backend.get(KEY_CHECK)? {
            Some(v) => match sealer.open(KEY_CHECK, &v) {
                Some(plain) if plain == KEY_CHECK_PLAIN => {}
                _ => return Err(StoreError::WrongKey),
            },
            None => {
                if !backend.scan_keys(b"")?.is_empty() {
                    return Err(StoreError::CorruptMeta("key check"));
                }
                let check = sealer.seal(KEY_CHECK, KEY_CHECK_PLAIN)?;
                backend.apply(vec![BatchOp::Put(KEY_CHECK.to_vec(), check)])?;
                backend.flush()?;
            }
        }
        Ok(Self::from_parts(backend, sealer))
    }

    fn from_parts(backend: Box<dyn Backend>, sealer: Sealer) -> Self {
        Self {
            backend,
            sealer,
            write_lock: Mutex::new(()),
            case_lock: Mutex::new(()),
            ids: IdSource::os(),
        }
    }

    /// This store with ids from `ids` instead of the OS: the actor id it creates and the
    /// entry ids of the documents it loads (a simulation that must replay exactly).
    pub fn with_id_source(mut self, ids: IdSource) -> Self {
        self.ids = ids;
        self
    }

    /// The raw backend (values as stored, i.e. encrypted), for diagnostics and tests.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Reads and decrypts the record under `k`: `None` when absent, `Some(Err(()))` when
    /// it does not decrypt.
    fn read(&self, k: &[u8]) -> Result<Option<Result<Vec<u8>, ()>>, StoreError> {
        Ok(self
            .backend
            .get(k)?
            .map(|v| self.sealer.open(k, &v).ok_or(())))
    }

    /// Reads a record of case `id`: `Ok(None)` when absent, `Corrupt` when unreadable.
    fn read_case_record(&self, prefix: &[u8], id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_case_id(id)?;
        match self.read(&key(prefix, id))? {
            None => Ok(None),
            Some(Ok(plain)) => Ok(Some(plain)),
            Some(Err(())) => Err(corrupt(id)),
        }
    }

    /// After a local edit: stores `doc`, its summary and an outbox mark, atomically.
    pub fn save_local(&self, doc: &mut CaseDoc) -> Result<(), StoreError> {
        let id = doc.id()?;
        let summary = doc.summary()?;
        let mut batch = StoreBatch::new();
        batch.put_case(&id, doc.save(), &summary).mark_outbox(&id);
        self.apply(batch)
    }

    /// Opens case `id` (read-only until the app sets its actor).
    pub fn load_case(&self, id: &str) -> Result<CaseDoc, StoreError> {
        let bytes = self
            .read_case_record(DOC, id)?
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))?;
        let mut doc = CaseDoc::load(&bytes).map_err(|_| corrupt(id))?;
        doc.set_id_source(self.ids.clone());
        Ok(doc)
    }

    /// The listing summary of case `id`, without loading its document.
    pub fn summary(&self, id: &str) -> Result<CaseSummary, StoreError> {
        validate_case_id(id)?;
        let (summaries, unreadable) = self.load_bucket(index::bucket_of(id))?;
        if let Some(s) = summaries.into_iter().find(|s| s.id == id) {
            Ok(s)
        } else if unreadable.iter().any(|u| u == id) {
            Err(corrupt(id))
        } else {
            Err(StoreError::NotFound(id.to_owned()))
        }
    }

    /// The summaries that pass `filter`, sorted by next due date (none last) then name,
    /// from the index alone. Cases whose summary cannot be read or rebuilt are reported
    /// in [`Listing::corrupt`], not fatal.
    pub fn list_summaries(&self, filter: &SummaryFilter) -> Result<Listing, StoreError> {
        let mut summaries = Vec::new();
        let mut corrupt = Vec::new();
        for (k, v) in self.backend.scan_prefix(index::INDEX)? {
            let Some(b) = index::bucket_of_key(&k) else {
                continue;
            };
            match self.sealer.open(&k, &v).and_then(|p| index::decode(b, &p)) {
                Some(s) => summaries.extend(s),
                None => {
                    let (s, bad) = self.rebuild_bucket(b)?;
                    summaries.extend(s);
                    corrupt.extend(bad);
                }
            }
        }
        corrupt.sort();
        Ok(Listing {
            summaries: listing::select(summaries, filter),
            corrupt,
        })
    }

    /// Bucket `b` of the index: its summaries, and the cases it should hold but whose
    /// summary could be neither read nor rebuilt.
    fn load_bucket(&self, b: usize) -> Result<(Vec<CaseSummary>, Vec<String>), StoreError> {
        let k = index::bucket_key(b);
        let Some(v) = self.backend.get(&k)? else {
            return Ok((Vec::new(), Vec::new()));
        };
        match self.sealer.open(&k, &v).and_then(|p| index::decode(b, &p)) {
            Some(s) => Ok((s, Vec::new())),
            None => self.rebuild_bucket(b),
        }
    }

    /// Recomputes bucket `b` from the documents of its cases.
    fn rebuild_bucket(&self, b: usize) -> Result<(Vec<CaseSummary>, Vec<String>), StoreError> {
        let mut summaries = Vec::new();
        let mut unreadable = Vec::new();
        for id in self.ids_with(DOC)? {
            if index::bucket_of(&id) != b {
                continue;
            }
            let summary = self
                .load_case(&id)
                .and_then(|mut d| d.summary().map_err(|_| corrupt(&id)));
            match summary {
                Ok(s) if s.id == id => summaries.push(s),
                Ok(_) | Err(StoreError::Corrupt { .. }) => unreadable.push(id),
                Err(e) => return Err(e),
            }
        }
        Ok((summaries, unreadable))
    }

    /// Ids of every case in the store, in id order.
    pub fn case_ids(&self) -> Result<Vec<String>, StoreError> {
        self.ids_with(DOC)
    }

    /// Ids of the cases with local changes not yet acknowledged by the server.
    pub fn outbox(&self) -> Result<Vec<String>, StoreError> {
        self.ids_with(OUTBOX)
    }

    /// Ids of the cases to remove once their unsent changes are acknowledged (see
    /// [`StoreBatch::defer_removal`]).
    pub fn deferred_removals(&self) -> Result<Vec<String>, StoreError> {
        self.ids_with(REMOVAL)
    }

    /// Ids of the cases whose push the server refused, parked until something changes
    /// (see [`DeviceStore::refused`]).
    pub fn refused_ids(&self) -> Result<Vec<String>, StoreError> {
        self.ids_with(batch::REFUSED)
    }

    fn ids_with(&self, prefix: &[u8]) -> Result<Vec<String>, StoreError> {
        Ok(self
            .backend
            .scan_keys(prefix)?
            .into_iter()
            .filter_map(|k| id_of(prefix, &k))
            .collect())
    }

    /// The highest sequence number of this device's own changes to case `id` that the
    /// server acknowledged (0 if none).
    pub fn acked_seq(&self, id: &str) -> Result<u64, StoreError> {
        match self.read_case_record(ACKED, id)? {
            None => Ok(0),
            Some(p) => <[u8; 8]>::try_from(p.as_slice())
                .map(u64::from_le_bytes)
                .map_err(|_| corrupt(id)),
        }
    }

    /// The sync cursor (empty before the first sync).
    pub fn cursor(&self) -> Result<Vec<u8>, StoreError> {
        match self.read(CURSOR)? {
            None => Ok(Vec::new()),
            Some(r) => r.map_err(|()| StoreError::CorruptMeta("sync cursor")),
        }
    }

    /// The directory of registered agencies as last stored ([`set_agencies`](Self::set_agencies));
    /// empty before the first. Offline: the worker refers from it without signal.
    pub fn agencies(&self) -> Result<Vec<crate::protocol::Agency>, StoreError> {
        match self.read(AGENCIES)? {
            None => Ok(Vec::new()),
            Some(Ok(plain)) => {
                serde_json::from_slice(&plain).map_err(|_| StoreError::CorruptMeta("agencies"))
            }
            Some(Err(())) => Err(StoreError::CorruptMeta("agencies")),
        }
    }

    /// Replaces the stored directory (sealed like every record; a wipe removes it).
    pub fn set_agencies(&self, agencies: &[crate::protocol::Agency]) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(agencies).map_err(|e| StoreError::Backend(e.to_string()))?;
        let sealed = self.sealer.seal(AGENCIES, &plain)?;
        self.backend
            .apply(vec![BatchOp::Put(AGENCIES.to_vec(), sealed)])?;
        self.backend.flush()
    }

    /// This store's Automerge actor for `device_id`, created and persisted on first use.
    /// A stored actor made for another device id is replaced by a new one.
    pub fn actor(&self, device_id: &str) -> Result<ActorId, StoreError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = self.read(ACTOR)? {
            let bytes = r.map_err(|()| StoreError::CorruptMeta("actor id"))?;
            let actor = ActorId::from(bytes.as_slice());
            if actor_belongs_to(&actor, device_id) {
                return Ok(actor);
            }
        }
        let actor = self.ids.device_actor(device_id);
        let sealed = self.sealer.seal(ACTOR, actor.to_bytes())?;
        self.backend
            .apply(vec![BatchOp::Put(ACTOR.to_vec(), sealed)])?;
        self.backend.flush()?;
        Ok(actor)
    }

    /// Holds the case lock (see the field) for the caller's read-modify-write.
    pub(crate) fn lock_cases(&self) -> std::sync::MutexGuard<'_, ()> {
        self.case_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Edits case `id` as `device_id`: loads it, signs with the device's actor, runs `f`
    /// and saves it (outbox marked), all under the case lock, so no sync page or other
    /// edit of the store interleaves. Nothing is saved when `f` fails.
    pub fn edit<R>(
        &self,
        id: &str,
        device_id: &str,
        ctx: &EditCtx,
        f: impl FnOnce(&mut CaseDoc, &EditCtx) -> Result<R, CaseError>,
    ) -> Result<R, StoreError> {
        let _cases = self.lock_cases();
        let mut doc = self.load_case(id)?;
        doc.set_actor(self.actor(device_id)?);
        let r = f(&mut doc, ctx)?;
        self.save_local(&mut doc)?;
        Ok(r)
    }

    /// Registers a new case as `device_id` (see [`CaseDoc::create`]) and saves it, under
    /// the case lock; returns what was saved.
    pub fn create_case(
        &self,
        device_id: &str,
        ctx: &EditCtx,
        new_case: &NewCase,
    ) -> Result<Case, StoreError> {
        let _cases = self.lock_cases();
        let mut doc = CaseDoc::create(ctx, self.actor(device_id)?, new_case)?;
        self.save_local(&mut doc)?;
        Ok(doc.read()?)
    }

    /// Applies `batch` as one atomic write, then flushes it to disk.
    pub fn apply(&self, batch: StoreBatch) -> Result<(), StoreError> {
        let sealed = batch.seal(&self.sealer)?;
        let mut ops = sealed.ops;
        if ops.is_empty() && sealed.index.is_empty() {
            return Ok(());
        }
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut buckets: BTreeMap<usize, Vec<CaseSummary>> = BTreeMap::new();
        for (id, edit) in sealed.index {
            let b = index::bucket_of(&id);
            let bucket = match buckets.entry(b) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.load_bucket(b)?.0),
            };
            match edit {
                Some(s) => index::upsert(bucket, s),
                None => index::remove(bucket, &id),
            }
        }
        for (b, summaries) in buckets {
            let k = index::bucket_key(b);
            if summaries.is_empty() {
                ops.push(BatchOp::Delete(k));
            } else {
                let v = self.sealer.seal(&k, &index::encode(&summaries)?)?;
                ops.push(BatchOp::Put(k, v));
            }
        }
        self.backend.apply(ops)?;
        self.backend.flush()
    }

    /// What is not yet acknowledged by the server: the cases in the outbox and this
    /// device's changes in them above their acknowledged sequence number. A case whose
    /// record cannot be read counts as one unsent case with no countable change.
    pub fn unsent(&self) -> Result<WipeReport, StoreError> {
        let outbox = self.outbox()?;
        let actor = match self.read(ACTOR)? {
            Some(Ok(bytes)) => Some(ActorId::from(bytes.as_slice())),
            _ => None,
        };
        let mut changes = 0i64;
        if let Some(actor) = actor {
            for id in &outbox {
                let (Ok(mut doc), Ok(acked)) = (self.load_case(id), self.acked_seq(id)) else {
                    continue;
                };
                changes += doc.own_changes_after(&actor, acked).0.len() as i64;
            }
        }
        Ok(WipeReport {
            unsent_cases: outbox.len() as i64,
            unsent_changes: changes,
        })
    }

    /// Removes every case, mark, cursor and the actor id (a revoked device) by removing
    /// the database's files and starting an empty one (a deletion would leave the old
    /// values in sled's files, readable with the key). The store stays open with the
    /// same key and is empty afterwards. Returns what was destroyed unsent
    /// ([`DeviceStore::unsent`] just before).
    pub fn wipe(&self) -> Result<WipeReport, StoreError> {
        let _cases = self.lock_cases();
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let report = self.unsent()?;
        let check = self
            .backend
            .get(KEY_CHECK)?
            .ok_or(StoreError::CorruptMeta("key check"))?;
        self.backend.destroy_and_recreate()?;
        self.backend
            .apply(vec![BatchOp::Put(KEY_CHECK.to_vec(), check)])?;
        self.backend.flush()?;
        Ok(report)
    }
}

fn corrupt(id: &str) -> StoreError {
    StoreError::Corrupt {
        case_id: id.to_owned(),
    }
}
