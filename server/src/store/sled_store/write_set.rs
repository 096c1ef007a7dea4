//! The sled store's records and write sets: key layout, encoding, and a commit planned
//! (by [`crate::store::plan`]) as one [`WriteSet`] with its content sealed.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use std::collections::HashMap;

use super::{add_commit_erased, db_err, SledStorage, ERASING, SEQ_KEY};
use crate::store::plan::{new_record, plan_commit};
use crate::store::seal::{CaseKey, Place};
use crate::store::{
    CaseSummary, CommitOutcome, DeviceRecord, DeviceRecordV1, DocCommit, DocRecord, Hash, LogKind,
    ScopeKey, Storage, StoreError, StoredChange, UserRecord, UserRecordV1, UserRecordV2,
    UserRecordV3,
};

/// A multi-key write: puts (`Some`) and removals (`None`), made in order (see the
/// module docs of `sled_store`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct WriteSet {
    pub(super) ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteSet {
    pub(super) fn insert(&mut self, k: impl Into<Vec<u8>>, v: impl Into<Vec<u8>>) {
        self.ops.push((k.into(), Some(v.into())));
    }

    pub(super) fn remove(&mut self, k: impl Into<Vec<u8>>) {
        self.ops.push((k.into(), None));
    }
}

pub(super) fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A device record, as written now or by the version before refresh grace
/// ([`DeviceRecordV1`]: the same fields without the trailing new ones).
pub(super) fn dec_device(b: &[u8]) -> Result<DeviceRecord, StoreError> {
    match postcard::from_bytes::<DeviceRecord>(b) {
        Ok(d) => Ok(d),
        Err(_) => postcard::from_bytes::<DeviceRecordV1>(b)
            .map(DeviceRecord::from)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
    }
}

/// A user record, as written now, by the version before agency staff
/// ([`UserRecordV3`]), by the one before per-user time zones
/// ([`UserRecordV2`]) or by the one before password resets ([`UserRecordV1`]): each the
/// same fields without the trailing newer ones.
pub(super) fn dec_user(b: &[u8]) -> Result<UserRecord, StoreError> {
    if let Ok(u) = postcard::from_bytes::<UserRecord>(b) {
        return Ok(u);
    }
    if let Ok(u) = postcard::from_bytes::<UserRecordV3>(b) {
        return Ok(u.into());
    }
    if let Ok(u) = postcard::from_bytes::<UserRecordV2>(b) {
        return Ok(u.into());
    }
    postcard::from_bytes::<UserRecordV1>(b)
        .map(UserRecord::from)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn key(prefix: &str, id: &str) -> Vec<u8> {
    format!("{prefix}/{id}").into_bytes()
}

pub(super) fn seq_key(prefix: &str, id: &str, seq: u64) -> Vec<u8> {
    let mut k = format!("{prefix}/{id}\0").into_bytes();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(super) fn audit_key(doc_id: &str, hash: &Hash) -> Vec<u8> {
    let mut k = format!("a/{doc_id}\0").into_bytes();
    k.extend_from_slice(hash);
    k
}

pub(super) fn index_key(scope: &ScopeKey, doc_id: &str) -> Vec<u8> {
    format!("i/{}\0{doc_id}", scope.encode()).into_bytes()
}

pub(super) fn seq_suffix(k: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = k.get(k.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The stored value of change `c` at `seq`: its hash, and its bytes sealed.
pub(super) fn sealed_change(
    ck: &CaseKey,
    doc_id: &str,
    seq: u64,
    c: &StoredChange,
) -> Result<Vec<u8>, StoreError> {
    enc(&StoredChange {
        hash: c.hash,
        bytes: ck.seal(doc_id, Place::Change(seq), &c.bytes)?,
    })
}

/// The stored value of a summary (`y/<doc>`), sealed.
pub(super) fn sealed_summary(
    ck: &CaseKey,
    doc_id: &str,
    summary: &CaseSummary,
) -> Result<Vec<u8>, StoreError> {
    ck.seal(doc_id, Place::Summary, &enc(summary)?)
}

/// Adds one document's commit to `set` (changes and log entries, index, summary,
/// record), numbering from `seq` on; `existing` is its record before (as stored, or as
/// written earlier in the same set); `ck` its data key.
pub(super) fn add_commit(
    set: &mut WriteSet,
    seq: &mut u64,
    existing: Option<DocRecord>,
    commit: DocCommit,
    ck: &CaseKey,
) -> Result<CommitOutcome, StoreError> {
    if existing.as_ref().is_some_and(|r| r.erased) {
        // Erased since the caller read it: nothing of it is stored.
        return Ok(CommitOutcome {
            last_seq: *seq,
            routing_changed: false,
            record: None,
        });
    }
    let id = commit.doc_id.as_str();
    let prev = existing.as_ref().map(|r| r.routing.clone());
    let rec = existing.unwrap_or_else(|| new_record(id, &commit.routing));
    let fresh: Vec<&StoredChange> = commit.changes.iter().collect();
    let plan = plan_commit(rec, prev.as_ref(), &commit.routing, &fresh, *seq);
    for (s, c) in &plan.changes {
        set.insert(seq_key("c", id, *s), sealed_change(ck, id, *s, c)?);
        if let Some(a) = &commit.audit {
            set.insert(audit_key(id, &c.hash), enc(a)?);
        }
    }
    for (k, s, kind) in &plan.log {
        set.insert(seq_key("l", &k.encode(), *s), enc(&(id, *kind))?);
    }
    for k in &plan.index_remove {
        set.remove(index_key(k, id));
    }
    for k in &plan.index_add {
        set.insert(index_key(k, id), &[][..]);
    }
    set.insert(key("y", id), sealed_summary(ck, id, &commit.summary)?);
    // The record is stored without its summary (sealed apart, above).
    let mut rec = plan.record;
    rec.summary = None;
    set.insert(key("d", id), enc(&rec)?);
    rec.summary = Some(commit.summary);
    *seq = plan.last_seq;
    Ok(CommitOutcome {
        last_seq: *seq,
        routing_changed: plan.routing_changed,
        record: Some(rec),
    })
}

impl SledStorage {
    /// The write set of `commits` (none if nothing is to be written) and their outcomes;
    /// the caller holds the record lock.
    pub(super) fn plan_commits(
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
            let live = !existing.as_ref().is_some_and(|r| r.erased);
            let outcome = if live {
                let ck = self.case_key_or_new(&commit.doc_id)?;
                add_commit(&mut set, &mut seq, existing, commit, &ck)?
            } else {
                add_commit_erased(seq)
            };
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
    pub(super) fn plan_erase(&self, doc_id: &str) -> Result<Option<(WriteSet, u64)>, StoreError> {
        let dk = key("d", doc_id);
        let Some(rec): Option<DocRecord> = self.get(&dk)? else {
            return Ok(None);
        };
        if rec.erased {
            return Ok(None);
        }
        let scopes = rec.routing.scope_keys();
        let mut set = WriteSet::default();
        set.insert(dk, enc(&rec.into_tombstone())?);
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
        set.remove(key("y", doc_id));
        set.insert(key(ERASING, doc_id), &[][..]);
        let seq = self.last_seq()? + 1;
        let entry = enc(&(doc_id, LogKind::Erased))?;
        for k in scopes {
            set.remove(index_key(&k, doc_id));
            set.insert(seq_key("l", &k.encode(), seq), entry.as_slice());
        }
        set.insert(SEQ_KEY, &seq.to_be_bytes()[..]);
        Ok(Some((set, seq)))
    }
}
