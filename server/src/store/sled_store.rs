//! [`SledStorage`]: the embedded default store, one sled tree with prefixed keys.
//!
//! Keys: `m/<name>` meta (`m/seq` the last sequence number), `u/<user>` users,
//! `v/<device>` devices, `d/<doc>` document records, `s/<doc>` snapshots
//! (`(upto_seq, bytes)`), `c/<doc>\0<seq>` changes, `l/<scope>\0<seq>` log entries,
//! `i/<scope>\0<doc>` the per-scope document index, `a/<doc>\0<hash>` the audit record
//! of each change ([`ChangeAudit`]: who pushed it, from which device, received when). Sequence numbers are big-endian so
//! keys sort by them.
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

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{
    ChangeAudit, CommitOutcome, Compacted, DeviceRecord, DeviceRecordV1, DocCommit, DocRecord,
    Dump, Hash, LogEntry, LogKind, ScopeKey, Storage, StoreError, StoredChange, UserRecord,
};

const SEQ_KEY: &[u8] = b"m/seq";
/// Key of the multi-key write in progress (see the module docs).
const INTENT_KEY: &[u8] = b"w/intent";

/// A multi-key write: puts (`Some`) and removals (`None`), made in order (see the
/// module docs).
#[derive(Debug, Default, Serialize, Deserialize)]
struct WriteSet {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteSet {
    fn insert(&mut self, k: impl Into<Vec<u8>>, v: impl Into<Vec<u8>>) {
        self.ops.push((k.into(), Some(v.into())));
    }

    fn remove(&mut self, k: impl Into<Vec<u8>>) {
        self.ops.push((k.into(), None));
    }
}

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

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A device record, as written now or by the version before refresh grace
/// ([`DeviceRecordV1`]: the same fields without the trailing new ones).
fn dec_device(b: &[u8]) -> Result<DeviceRecord, StoreError> {
    match postcard::from_bytes::<DeviceRecord>(b) {
        Ok(d) => Ok(d),
        Err(_) => postcard::from_bytes::<DeviceRecordV1>(b)
            .map(DeviceRecord::from)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
    }
}

fn key(prefix: &str, id: &str) -> Vec<u8> {
    format!("{prefix}/{id}").into_bytes()
}

fn seq_key(prefix: &str, id: &str, seq: u64) -> Vec<u8> {
    let mut k = format!("{prefix}/{id}\0").into_bytes();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn audit_key(doc_id: &str, hash: &Hash) -> Vec<u8> {
    let mut k = format!("a/{doc_id}\0").into_bytes();
    k.extend_from_slice(hash);
    k
}

fn index_key(scope: &ScopeKey, doc_id: &str) -> Vec<u8> {
    format!("i/{}\0{doc_id}", scope.encode()).into_bytes()
}

fn seq_suffix(k: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = k.get(k.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

impl SledStorage {
    /// Opens (or creates) the store in directory `path`, with the default page cache
    /// ([`DEFAULT_SLED_CACHE_BYTES`](crate::config::DEFAULT_SLED_CACHE_BYTES)).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, crate::config::DEFAULT_SLED_CACHE_BYTES)
    }

    /// Opens (or creates) the store in directory `path` with a page cache of
    /// `cache_bytes` (sled's own default, 1 GiB, is most of a small server's memory).
    pub fn open_with(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(db_err)?;
        Self::from_db(db)
    }

    /// A throw-away store (for tests).
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).open().map_err(db_err)?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree("casesync").map_err(db_err)?;
        let store = SledStorage {
            db,
            tree,
            writes: Arc::default(),
            records: Arc::default(),
        };
        // A multi-key write cut short by a crash is finished before anything reads.
        store.finish_unfinished()?;
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

    /// The write set of `commits` (none if nothing is to be written) and their outcomes;
    /// the caller holds the record lock.
    fn plan_commits(
        &self,
        commits: Vec<DocCommit>,
    ) -> Result<(Option<WriteSet>, Vec<CommitOutcome>), StoreError> {
        let mut seq = self.last_seq()?;
        let mut set = WriteSet::default();
        // Records written earlier in this set (a case may come twice).
        let mut written: HashMap<String, DocRecord> = HashMap::new();
        let mut out = Vec::with_capacity(commits.len());
        for commit in commits {
            let existing = match written.remove(&commit.doc_id) {
                Some(r) => Some(r),
                None => self.get(&key("d", &commit.doc_id))?,
            };
            let outcome = add_commit(&mut set, &mut seq, existing, commit)?;
            if let Some(r) = &outcome.record {
                written.insert(r.doc_id.clone(), r.clone());
            }
            out.push(outcome);
        }
        if written.is_empty() {
            return Ok((None, out));
        }
        set.insert(SEQ_KEY, &seq.to_be_bytes()[..]);
        Ok((Some(set), out))
    }

    /// The write set erasing `doc_id` and the sequence number of its log entry (none if
    /// there is no such live case); the caller holds the record lock. The tombstone comes
    /// first, so a reader that reads content and then the record (as `doc_bytes` does)
    /// never takes part of the content for all of it.
    fn plan_erase(&self, doc_id: &str) -> Result<Option<(WriteSet, u64)>, StoreError> {
        let dk = key("d", doc_id);
        let Some(mut rec): Option<DocRecord> = self.get(&dk)? else {
            return Ok(None);
        };
        if rec.erased {
            return Ok(None);
        }
        let scopes = rec.routing.scope_keys();
        rec.erased = true;
        rec.summary = None;
        rec.tail_changes = 0;
        rec.tail_bytes = 0;
        rec.snapshot_bytes = 0;
        let mut set = WriteSet::default();
        set.insert(dk, enc(&rec)?);
        let start = seq_key("c", doc_id, 0);
        let end = seq_key("c", doc_id, u64::MAX);
        for kv in self.tree.range(start..=end) {
            let (k, _) = kv.map_err(db_err)?;
            set.remove(k.to_vec());
        }
        for kv in self.tree.scan_prefix(format!("a/{doc_id}\0").as_bytes()) {
            let (k, _) = kv.map_err(db_err)?;
            set.remove(k.to_vec());
        }
        set.remove(key("s", doc_id));
        let seq = self.last_seq()? + 1;
        let entry = enc(&(doc_id, LogKind::Erased))?;
        for k in scopes {
            set.remove(index_key(&k, doc_id));
            set.insert(seq_key("l", &k.encode(), seq), entry.as_slice());
        }
        set.insert(SEQ_KEY, &seq.to_be_bytes()[..]);
        Ok(Some((set, seq)))
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

    fn put<T: Serialize>(&self, k: &[u8], v: &T) -> Result<(), StoreError> {
        self.tree.insert(k, enc(v)?).map_err(db_err)?;
        self.wrote();
        Ok(())
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
}

/// Adds one document's commit to `set` (changes and log entries, index, record),
/// numbering from `seq` on; `existing` is its record before (as stored, or as written
/// earlier in the same set).
fn add_commit(
    set: &mut WriteSet,
    seq: &mut u64,
    existing: Option<DocRecord>,
    commit: DocCommit,
) -> Result<CommitOutcome, StoreError> {
    if existing.as_ref().is_some_and(|r| r.erased) {
        // Erased since the caller read it: nothing of it is stored.
        return Ok(CommitOutcome {
            last_seq: *seq,
            routing_changed: false,
            record: None,
        });
    }
    let prev = existing.as_ref().map(|r| r.routing.clone());
    let mut rec = existing.unwrap_or_else(|| DocRecord {
        doc_id: commit.doc_id.clone(),
        routing: commit.routing.clone(),
        history: Vec::new(),
        erased: false,
        created_seq: 0,
        summary: None,
        tail_changes: 0,
        tail_bytes: 0,
        snapshot_bytes: 0,
    });
    let keys = commit.routing.scope_keys();
    let encoded_keys: Vec<String> = keys.iter().map(ScopeKey::encode).collect();
    for c in &commit.changes {
        *seq += 1;
        set.insert(seq_key("c", &commit.doc_id, *seq), enc(c)?);
        if let Some(a) = &commit.audit {
            set.insert(audit_key(&commit.doc_id, &c.hash), enc(a)?);
        }
        let entry = enc(&(commit.doc_id.as_str(), LogKind::Change(c.hash)))?;
        for k in &encoded_keys {
            set.insert(seq_key("l", k, *seq), entry.as_slice());
        }
        rec.tail_changes = rec.tail_changes.saturating_add(1);
        rec.tail_bytes += c.bytes.len() as u64;
    }
    let routing_changed = prev.as_ref() != Some(&commit.routing);
    if routing_changed {
        *seq += 1;
        let mut all_keys: Vec<ScopeKey> = keys.to_vec();
        if let Some(p) = &prev {
            for k in p.scope_keys() {
                set.remove(index_key(&k, &commit.doc_id));
                all_keys.push(k);
            }
        } else {
            rec.created_seq = *seq;
        }
        all_keys.sort();
        all_keys.dedup();
        let entry = enc(&(commit.doc_id.as_str(), LogKind::Routing))?;
        for k in &all_keys {
            set.insert(seq_key("l", &k.encode(), *seq), entry.as_slice());
        }
        // After the removals: an index key both old and new stays.
        for k in &keys {
            set.insert(index_key(k, &commit.doc_id), &[][..]);
        }
        rec.history.push((*seq, commit.routing.clone()));
        rec.routing = commit.routing;
    }
    rec.summary = Some(commit.summary);
    set.insert(key("d", &rec.doc_id), enc(&rec)?);
    Ok(CommitOutcome {
        last_seq: *seq,
        routing_changed,
        record: Some(rec),
    })
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
        self.get(&key("u", user_id))
    }

    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.put(&key("u", &user.user_id), user)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.all("u/")
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
        self.get(&key("d", doc_id))
    }

    fn doc_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // Content first, record last: pulls read without the writer lock, and an erasure
        // writes its tombstone before removing anything, so one that lands between the
        // reads below is seen by the record check: torn content is never returned. Compaction keeps the changes
        // it folds into a snapshot, so either snapshot plus its later changes is whole.
        let (upto, mut out): (u64, Vec<u8>) = self.get(&key("s", doc_id))?.unwrap_or_default();
        let start = seq_key("c", doc_id, upto.saturating_add(1));
        let end = seq_key("c", doc_id, u64::MAX);
        for kv in self.tree.range(start..=end) {
            let (_, v) = kv.map_err(db_err)?;
            let ch: StoredChange = dec(&v)?;
            out.extend_from_slice(&ch.bytes);
        }
        match self.doc(doc_id)? {
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
        let snap = enc(&(upto_seq, saved.as_slice()))?;
        let mut guard = self.lock_writes()?;
        let dk = key("d", doc_id);
        let Some(before): Option<DocRecord> = self.get(&dk)? else {
            return Ok(Compacted::default());
        };
        let unchanged = Compacted {
            before: Some(before.clone()),
            after: None,
        };
        if before.erased {
            return Ok(unchanged);
        }
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
            bytes += ch.bytes.len() as u64;
        }
        let mut after = before.clone();
        after.tail_changes = changes;
        after.tail_bytes = bytes;
        after.snapshot_bytes = saved.len() as u64;
        let mut set = WriteSet::default();
        set.insert(sk, snap);
        set.insert(dk, enc(&after)?);
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
        self.get(&seq_key("c", doc_id, seq))
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

    fn dump(&self) -> Result<Dump, StoreError> {
        self.tree
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(db_err))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Routing;
    use casesync_core::case::{device_actor, CaseDoc, EditCtx, NewCase, Role};

    fn commit_of(id: &str, name: &str) -> DocCommit {
        let ctx = EditCtx {
            user_id: "chw".into(),
            role: Role::Chw,
            now_ms: 1,
        };
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
        let expected = whole.dump().expect("dump");
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
                reopened.dump().expect("dump"),
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
        let expected = whole.dump().expect("dump");
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
        assert_eq!(reopened.dump().expect("dump"), expected);
        assert_eq!(reopened.erase("c1").expect("erase again"), None);
    }
}
