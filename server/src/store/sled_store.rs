//! [`SledStorage`]: the embedded default store, one sled tree with prefixed keys.
//!
//! Keys: `m/<name>` meta (`m/seq` the last sequence number), `u/<user>` users,
//! `v/<device>` devices, `d/<doc>` document records, `s/<doc>` snapshots
//! (`(upto_seq, bytes)`), `c/<doc>\0<seq>` changes, `l/<scope>\0<seq>` log entries,
//! `i/<scope>\0<doc>` the per-scope document index, `a/<doc>\0<hash>` the audit record
//! of each change ([`ChangeAudit`]: who pushed it, from which device, received when),
//! `y/<doc>` the listing summary, `e/<doc>` an erasure whose key deletion is pending.
//! Sequence numbers are big-endian so keys sort by them.
//!
//! # Content at rest
//!
//! Change bytes, snapshots and summaries are sealed under the case's data key
//! ([`seal`](crate::store::seal)); the data keys are files in `<dir>/keys/`, wrapped
//! under the master key, so that an erasure deletes the key's only copy (sled would keep
//! an old value of its own tree in its log files). A new case's key file is written
//! before its first write set; an erasure's write set records `e/<doc>`, then the key
//! file is deleted and `e/<doc>` removed (finished at open after a crash). A store
//! written before sealing is sealed forward when it opens (`upgrade.rs`).
//!
//! # Multi-key writes, durability and group commit
//!
//! A commit, an erasure or a compaction writes several keys. sled's batches and
//! transactions would make them atomic, but the first one switches sled, for the rest of
//! the process, into a mode where every read takes a global read-write lock that every
//! batch takes for writing: under load, reads and commits then spent much of their time
//! waiting for each other. So a multi-key write is a [`WriteSet`] instead: the whole set
//! is first stored under one key (`w/intent`; a single sled write is atomic, crash
//! included, and sled recovers its log in order), then each write is made in order, then
//! the intent is removed. A set interrupted by a crash is finished when the store opens,
//! one interrupted by an error before the next multi-key write. Every set is written
//! under [`SledStorage`]'s own record lock, which also covers its reads of the document
//! record and the sequence number, so one set sees what the previous one wrote.
//!
//! Readers may see a set half made, so each set is ordered for them: a commit writes
//! the changes and their log entries, then the index and the document record, and the
//! sequence number last (a reader that read sequence number `n` finds every log entry up
//! to `n` and records at least that new); an erasure writes the tombstone record first
//! (content read before the record, as [`Storage::doc_bytes`] does, is then known to be
//! torn); a compaction writes the snapshot before the record.
//!
//! Writes are visible to readers as soon as they return and durable after
//! [`Storage::flush`]. Every write bumps a counter; `flush` remembers
//! the counter value its last `sled` flush covered, so callers that arrive while another
//! flush runs wait for it and return without flushing again if it covered their writes
//! (many requests' writes made durable by one fsync).

pub mod export;
mod keys;
#[cfg(test)]
mod tests;
mod upgrade;
mod write_set;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{de::DeserializeOwned, Serialize};

use self::write_set::{dec, dec_device, dec_user, enc, key, seq_key, seq_suffix, WriteSet};
use super::seal::{KeyCache, KeyFiles, MasterKey, Place, SEAL_OVERHEAD};
use super::{
    BackupInfo, ChangeAudit, CommitOutcome, Compacted, DeviceRecord, DocCommit, DocRecord, Dump,
    Hash, LogEntry, LogKind, ScopeKey, Storage, StoreError, StoredChange, UserRecord,
};

const SEQ_KEY: &[u8] = b"m/seq";
/// Key of the multi-key write in progress (see the module docs).
const INTENT_KEY: &[u8] = b"w/intent";

/// The sled-backed [`Storage`].
#[derive(Debug, Clone)]
pub struct SledStorage {
    db: sled::Db,
    tree: sled::Tree,
    writes: Arc<WriteCount>,
    /// Held by every read-modify-write of document records and the sequence number
    /// (commit, compact, erase), so each reads what the previous one wrote; holds
    /// whether a multi-key write was left unfinished by an error.
    records: Arc<Mutex<Unfinished>>,
    /// The data keys' table (wrapped under `master`) and those unwrapped so far.
    keys: Arc<KeyFiles>,
    master: MasterKey,
    key_cache: Arc<KeyCache>,
}

/// A multi-key write failed part way: its intent is still stored and is finished before
/// the next one.
#[derive(Debug, Default)]
struct Unfinished(bool);

/// Writes made and writes known durable (see the module docs).
#[derive(Debug, Default)]
struct WriteCount {
    /// Writes completed so far.
    done: AtomicU64,
    /// The value of `done` the last completed flush covered; held while flushing.
    flushed: Mutex<u64>,
}

fn db_err(e: sled::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Prefix of the erasures whose key deletion is pending.
const ERASING: &str = "e";

impl SledStorage {
    /// Opens (or creates) the store in directory `path`, with the default page cache
    /// ([`DEFAULT_SLED_CACHE_BYTES`](crate::config::DEFAULT_SLED_CACHE_BYTES)) and the
    /// master key of [`MasterKey::resolve`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, crate::config::DEFAULT_SLED_CACHE_BYTES)
    }

    /// Opens (or creates) the store in directory `path` with a page cache of
    /// `cache_bytes` (sled's own default, 1 GiB, is most of a small server's memory)
    /// and the master key of [`MasterKey::resolve`].
    pub fn open_with(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        Self::open_keyed(path, cache_bytes, MasterKey::resolve(path)?)
    }

    /// Opens (or creates) the store in directory `path` with master key `master`.
    pub fn open_keyed(
        path: &Path,
        cache_bytes: u64,
        master: MasterKey,
    ) -> Result<Self, StoreError> {
        let db = casesync_core::store::open_sled(
            &sled::Config::new().path(path).cache_capacity(cache_bytes),
        )
        .map_err(db_err)?;
        let dir = path.join("keys");
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Key(e.to_string()))?;
        Self::from_db(db, KeyFiles::Dir(dir), master)
    }

    /// A throw-away store (for tests), its keys in memory.
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).open().map_err(db_err)?;
        Self::from_db(
            db,
            KeyFiles::Memory(Mutex::default()),
            MasterKey::generate(),
        )
    }

    fn from_db(db: sled::Db, keys: KeyFiles, master: MasterKey) -> Result<Self, StoreError> {
        let tree = db.open_tree("casesync").map_err(db_err)?;
        let store = SledStorage {
            db,
            tree,
            writes: Arc::default(),
            records: Arc::default(),
            keys: Arc::new(keys),
            master,
            key_cache: Arc::default(),
        };
        // A multi-key write cut short by a crash is finished before anything reads, then
        // the key deletions of erasures, then content written before sealing is sealed.
        store.finish_unfinished()?;
        store.finish_erasures()?;
        upgrade::seal_forward(&store)?;
        upgrade::tombstones_forward(&store)?;
        Ok(store)
    }

    /// The lock of record read-modify-writes (the `records` field), with any multi-key
    /// write an error left unfinished finished first.
    fn lock_writes(&self) -> Result<std::sync::MutexGuard<'_, Unfinished>, StoreError> {
        let mut guard = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.0 {
            self.finish_unfinished()?;
            guard.0 = false;
        }
        Ok(guard)
    }

    /// Makes every write of a stored intent, then removes it (a no-op without one). The
    /// writes are whole puts and removals, so making them again is harmless.
    fn finish_unfinished(&self) -> Result<(), StoreError> {
        let Some(v) = self.tree.get(INTENT_KEY).map_err(db_err)? else {
            return Ok(());
        };
        let set: WriteSet = dec(&v)?;
        tracing::warn!(
            writes = set.ops.len(),
            "finishing an interrupted store write"
        );
        self.write_each(&set)?;
        self.tree.remove(INTENT_KEY).map_err(db_err)?;
        self.wrote();
        Ok(())
    }

    /// Makes the multi-key write `set` (see the module docs); the caller holds the
    /// record lock `guard`. After an error the set is finished before the next one.
    fn apply(&self, guard: &mut Unfinished, set: &WriteSet) -> Result<(), StoreError> {
        let made = (|| {
            self.tree.insert(INTENT_KEY, enc(set)?).map_err(db_err)?;
            self.write_each(set)?;
            self.tree.remove(INTENT_KEY).map_err(db_err)?;
            Ok(())
        })();
        self.wrote();
        if made.is_err() {
            guard.0 = true;
        }
        made
    }

    fn write_each(&self, set: &WriteSet) -> Result<(), StoreError> {
        for (k, v) in &set.ops {
            match v {
                Some(v) => self.tree.insert(k.as_slice(), v.as_slice()),
                None => self.tree.remove(k.as_slice()),
            }
            .map_err(db_err)?;
        }
        Ok(())
    }

    /// Counts a completed write (after it returned: a flush that reads the count
    /// afterwards covers it).
    fn wrote(&self) {
        self.writes.done.fetch_add(1, Ordering::SeqCst);
    }

    fn get<T: DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>, StoreError> {
        match self.tree.get(k).map_err(db_err)? {
            Some(v) => dec(&v).map(Some),
            None => Ok(None),
        }
    }

    fn all<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>, StoreError> {
        self.tree
            .scan_prefix(prefix.as_bytes())
            .map(|kv| {
                let (_, v) = kv.map_err(db_err)?;
                dec(&v)
            })
            .collect()
    }

    fn put<T: Serialize>(&self, k: &[u8], v: &T) -> Result<(), StoreError> {
        self.tree.insert(k, enc(v)?).map_err(db_err)?;
        self.wrote();
        Ok(())
    }
}

/// The outcome of a commit of a case erased since the caller read it: nothing stored.
fn add_commit_erased(seq: u64) -> CommitOutcome {
    CommitOutcome {
        last_seq: seq,
        routing_changed: false,
        record: None,
    }
}

impl Storage for SledStorage {
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(key("m", name))
            .map_err(db_err)?
            .map(|v| v.to_vec()))
    }

    fn set_meta(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key("m", name), value).map_err(db_err)?;
        self.wrote();
        Ok(())
    }

    fn user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.tree.get(key("u", user_id)).map_err(db_err)? {
            Some(v) => dec_user(&v).map(Some),
            None => Ok(None),
        }
    }

    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.put(&key("u", &user.user_id), user)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.tree
            .scan_prefix(b"u/")
            .map(|kv| dec_user(&kv.map_err(db_err)?.1))
            .collect()
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let Some(raw) = self.tree.get(key("v", device_id)).map_err(db_err)? else {
            return Ok(None);
        };
        let mut d = dec_device(&raw)?;
        d.last_sync_ms = self.get(&key("t", device_id))?;
        Ok(Some(d))
    }

    fn set_last_sync(&self, device_id: &str, ms: i64) -> Result<(), StoreError> {
        self.put(&key("t", device_id), &ms)
    }

    fn put_device(&self, device: &DeviceRecord) -> Result<(), StoreError> {
        self.put(&key("v", &device.device_id), device)
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let mut all = self
            .tree
            .scan_prefix(b"v/")
            .map(|kv| dec_device(&kv.map_err(db_err)?.1))
            .collect::<Result<Vec<DeviceRecord>, StoreError>>()?;
        for d in &mut all {
            d.last_sync_ms = self.get(&key("t", &d.device_id))?;
        }
        Ok(all)
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self
            .tree
            .get(SEQ_KEY)
            .map_err(db_err)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    fn doc(&self, doc_id: &str) -> Result<Option<DocRecord>, StoreError> {
        let Some(mut rec): Option<DocRecord> = self.get(&key("d", doc_id))? else {
            return Ok(None);
        };
        if rec.erased {
            return Ok(Some(rec));
        }
        if let Some(v) = self.tree.get(key("y", doc_id)).map_err(db_err)? {
            // No key (a copy restored with a newer key table, after the case's
            // erasure): the record without its summary, so it can be erased again.
            match self.case_key(doc_id)? {
                Some(ck) => rec.summary = Some(dec(&ck.open(doc_id, Place::Summary, &v)?)?),
                None => tracing::warn!(doc = doc_id, "a live case has no data key"),
            }
        }
        Ok(Some(rec))
    }

    fn doc_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // Content first, record last: pulls read without the writer lock, and an erasure
        // writes its tombstone before removing anything, so one that lands between the
        // reads below is seen by the record check: torn content is never returned. Compaction keeps the changes
        // it folds into a snapshot, so either snapshot plus its later changes is whole.
        // No key: unknown or erased (an erasure deletes the key after its tombstone).
        let Some(ck) = self.case_key(doc_id)? else {
            return match self.get::<DocRecord>(&key("d", doc_id))? {
                Some(rec) if !rec.erased => {
                    Err(StoreError::Key(format!("case {doc_id} has no data key")))
                }
                _ => Ok(None),
            };
        };
        let (upto, mut out): (u64, Vec<u8>) = match self.get::<(u64, Vec<u8>)>(&key("s", doc_id))? {
            Some((upto, sealed)) => (upto, ck.open(doc_id, Place::Snapshot(upto), &sealed)?),
            None => (0, Vec::new()),
        };
        let start = seq_key("c", doc_id, upto.saturating_add(1));
        let end = seq_key("c", doc_id, u64::MAX);
        for kv in self.tree.range(start..=end) {
            let (k, v) = kv.map_err(db_err)?;
            let seq = seq_suffix(&k).ok_or_else(|| StoreError::Corrupt("change key".into()))?;
            let ch: StoredChange = dec(&v)?;
            out.extend_from_slice(&ck.open(doc_id, Place::Change(seq), &ch.bytes)?);
        }
        match self.get::<DocRecord>(&key("d", doc_id))? {
            Some(rec) if !rec.erased => Ok(Some(out)),
            _ => Ok(None),
        }
    }

    fn commit(&self, commit: DocCommit) -> Result<CommitOutcome, StoreError> {
        let mut out = self.commit_all(vec![commit])?;
        out.pop()
            .ok_or_else(|| StoreError::Db("commit produced no outcome".into()))
    }

    fn commit_all(&self, commits: Vec<DocCommit>) -> Result<Vec<CommitOutcome>, StoreError> {
        let mut guard = self.lock_writes()?;
        let (set, out) = self.plan_commits(commits)?;
        if let Some(set) = set {
            self.apply(&mut guard, &set)?;
        }
        Ok(out)
    }

    fn compact(
        &self,
        doc_id: &str,
        saved: Vec<u8>,
        upto_seq: u64,
    ) -> Result<Compacted, StoreError> {
        let mut guard = self.lock_writes()?;
        let Some(before) = self.doc(doc_id)? else {
            return Ok(Compacted::default());
        };
        let unchanged = Compacted {
            before: Some(before.clone()),
            after: None,
        };
        if before.erased {
            return Ok(unchanged);
        }
        let ck = self.live_key(doc_id)?;
        let snap = enc(&(
            upto_seq,
            ck.seal(doc_id, Place::Snapshot(upto_seq), &saved)?,
        ))?;
        let sk = key("s", doc_id);
        if let Some(v) = self.tree.get(&sk).map_err(db_err)? {
            // The snapshot's first field is the sequence number it covers.
            let (current, _): (u64, _) =
                postcard::take_from_bytes(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if current >= upto_seq {
                return Ok(unchanged);
            }
        }
        // Changes committed after `upto_seq` (maybe also in `saved`) stay the tail.
        let (mut changes, mut bytes) = (0u32, 0u64);
        let start = seq_key("c", doc_id, upto_seq.saturating_add(1));
        let end = seq_key("c", doc_id, u64::MAX);
        for kv in self.tree.range(start..=end) {
            let (_, v) = kv.map_err(db_err)?;
            let ch: StoredChange = dec(&v)?;
            changes = changes.saturating_add(1);
            bytes += ch.bytes.len().saturating_sub(SEAL_OVERHEAD) as u64;
        }
        let mut after = before.clone();
        after.tail_changes = changes;
        after.tail_bytes = bytes;
        after.snapshot_bytes = saved.len() as u64;
        let mut stored = after.clone();
        stored.summary = None;
        let mut set = WriteSet::default();
        set.insert(sk, snap);
        set.insert(key("d", doc_id), enc(&stored)?);
        self.apply(&mut guard, &set)?;
        Ok(Compacted {
            before: Some(before),
            after: Some(after),
        })
    }

    fn erase(&self, doc_id: &str) -> Result<Option<u64>, StoreError> {
        let mut guard = self.lock_writes()?;
        let Some((set, seq)) = self.plan_erase(doc_id)? else {
            return Ok(None);
        };
        self.apply(&mut guard, &set)?;
        // The tombstone durable first, then the key gone for good (crypto-shredding:
        // every older copy of the content is now unreadable), then its mark.
        self.db.flush().map_err(db_err)?;
        self.keys.delete(doc_id)?;
        self.key_cache.forget(doc_id);
        self.tree.remove(key(ERASING, doc_id)).map_err(db_err)?;
        self.wrote();
        Ok(Some(seq))
    }

    fn audit(&self, doc_id: &str) -> Result<Vec<(Hash, ChangeAudit)>, StoreError> {
        let prefix = format!("a/{doc_id}\0").into_bytes();
        self.tree
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(db_err)?;
                let hash: Hash = k[prefix.len()..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("audit key".into()))?;
                Ok((hash, dec(&v)?))
            })
            .collect()
    }

    fn change_at(&self, doc_id: &str, seq: u64) -> Result<Option<StoredChange>, StoreError> {
        let Some(ch): Option<StoredChange> = self.get(&seq_key("c", doc_id, seq))? else {
            return Ok(None);
        };
        // No key: erased meanwhile.
        let Some(ck) = self.case_key(doc_id)? else {
            return Ok(None);
        };
        Ok(Some(StoredChange {
            hash: ch.hash,
            bytes: ck.open(doc_id, Place::Change(seq), &ch.bytes)?,
        }))
    }

    fn log(&self, scope: &ScopeKey, after: u64, upto: u64) -> Result<Vec<LogEntry>, StoreError> {
        if upto <= after {
            return Ok(Vec::new());
        }
        let s = scope.encode();
        let start = seq_key("l", &s, after.saturating_add(1));
        let end = seq_key("l", &s, upto);
        self.tree
            .range(start..=end)
            .map(|kv| {
                let (k, v) = kv.map_err(db_err)?;
                let seq = seq_suffix(&k).ok_or_else(|| StoreError::Corrupt("log key".into()))?;
                let (doc_id, kind): (String, LogKind) = dec(&v)?;
                Ok(LogEntry { seq, doc_id, kind })
            })
            .collect()
    }

    fn doc_ids(
        &self,
        scope: &ScopeKey,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = format!("i/{}\0", scope.encode()).into_bytes();
        let mut start = prefix.clone();
        start.extend_from_slice(after.as_bytes());
        let mut out = Vec::new();
        for kv in self.tree.range(start..) {
            let (k, _) = kv.map_err(db_err)?;
            let Some(id) = k.strip_prefix(prefix.as_slice()) else {
                break;
            };
            let id = String::from_utf8_lossy(id).into_owned();
            if id.as_str() <= after {
                continue;
            }
            out.push(id);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn docs_to_compact(&self, min_changes: u32) -> Result<Vec<String>, StoreError> {
        Ok(self
            .all::<DocRecord>("d/")?
            .into_iter()
            .filter(|r| !r.erased && r.tail_changes >= min_changes)
            .map(|r| r.doc_id)
            .collect())
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Group commit: writes this caller made before calling are counted in `want`;
        // a flush that read a count of at least `want` before syncing covered them.
        let want = self.writes.done.load(Ordering::SeqCst);
        let mut flushed = self
            .writes
            .flushed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *flushed >= want {
            return Ok(());
        }
        let covers = self.writes.done.load(Ordering::SeqCst);
        self.db.flush().map_err(db_err)?;
        *flushed = covers;
        Ok(())
    }

    fn backup(&self, to: &Path) -> Result<BackupInfo, StoreError> {
        self.export_to(to)
    }

    fn dump(&self) -> Result<Dump, StoreError> {
        self.tree
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(db_err))
            .collect()
    }
}
