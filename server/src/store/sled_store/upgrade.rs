//! Opening a store written before content was sealed: its content is sealed forward
//! (each case gets a data key; its changes, snapshot and summary are sealed in one
//! write set per case), then `m/at-rest` records that it is done. A case half done by a
//! crash is finished on the next open (sealed values are told apart by their marker).
//! The same pass checks the master key against the store's `m/master-check`.

use super::write_set::{dec, enc, key, sealed_change, sealed_summary, seq_key, seq_suffix};
use super::{db_err, SledStorage, WriteSet};
use crate::store::seal::{is_sealed, Place};
use crate::store::{DocRecord, StoreError, StoredChange};

/// Set once every case's content is sealed.
const SEALED_META: &[u8] = b"m/at-rest";
/// The master key's check value.
const MASTER_CHECK: &[u8] = b"m/master-check";
/// Set once every tombstone is reduced to what the protocol needs.
const TOMBSTONES_META: &[u8] = b"m/tombstones";

/// Checks the master key, then seals what an older version stored in plaintext.
pub(super) fn seal_forward(store: &SledStorage) -> Result<(), StoreError> {
    match store.tree.get(MASTER_CHECK).map_err(db_err)? {
        Some(v) => store.master.verify(&v)?,
        None => {
            store
                .tree
                .insert(MASTER_CHECK, store.master.check_value()?)
                .map_err(db_err)?;
            store.wrote();
        }
    }
    if store.tree.get(SEALED_META).map_err(db_err)?.is_some() {
        return Ok(());
    }
    let live: Vec<DocRecord> = store
        .tree
        .scan_prefix(b"d/")
        .map(|kv| dec::<DocRecord>(&kv.map_err(db_err)?.1))
        .filter(|r| !r.as_ref().is_ok_and(|r| r.erased))
        .collect::<Result<_, _>>()?;
    let mut sealed = 0usize;
    let mut guard = store.lock_writes()?;
    for rec in live {
        let id = rec.doc_id.as_str();
        let ck = store.case_key_or_new(id)?;
        let mut set = WriteSet::default();
        for kv in store
            .tree
            .range(seq_key("c", id, 0)..=seq_key("c", id, u64::MAX))
        {
            let (k, v) = kv.map_err(db_err)?;
            let ch: StoredChange = dec(&v)?;
            if !is_sealed(&ch.bytes) {
                let seq = seq_suffix(&k).ok_or_else(|| StoreError::Corrupt("change key".into()))?;
                set.insert(k.to_vec(), sealed_change(&ck, id, seq, &ch)?);
            }
        }
        if let Some(v) = store.tree.get(key("s", id)).map_err(db_err)? {
            let (upto, bytes): (u64, Vec<u8>) = dec(&v)?;
            if !is_sealed(&bytes) {
                let snap = ck.seal(id, Place::Snapshot(upto), &bytes)?;
                set.insert(key("s", id), enc(&(upto, snap))?);
            }
        }
        if let Some(summary) = &rec.summary {
            set.insert(key("y", id), sealed_summary(&ck, id, summary)?);
            let mut bare = rec.clone();
            bare.summary = None;
            set.insert(key("d", id), enc(&bare)?);
        }
        if !set.ops.is_empty() {
            store.apply(&mut guard, &set)?;
            sealed += 1;
        }
    }
    store
        .tree
        .insert(SEALED_META, &b"sealed-v1"[..])
        .map_err(db_err)?;
    store.wrote();
    store.db.flush().map_err(db_err)?;
    if sealed > 0 {
        tracing::warn!(
            cases = sealed,
            "sealed the content of cases stored by an older version; its plaintext stays \
             in sled's older log segments until sled reuses them (docs/DEPLOYMENT.md)"
        );
    }
    Ok(())
}

/// Reduces the tombstones an older version wrote (which kept the erased case's district,
/// assignee, sensitivity and routing history) to [`DocRecord::into_tombstone`], once.
pub(super) fn tombstones_forward(store: &SledStorage) -> Result<(), StoreError> {
    if store.tree.get(TOMBSTONES_META).map_err(db_err)?.is_some() {
        return Ok(());
    }
    let mut guard = store.lock_writes()?;
    let mut set = WriteSet::default();
    for kv in store.tree.scan_prefix(b"d/") {
        let (k, v) = kv.map_err(db_err)?;
        let rec: DocRecord = dec(&v)?;
        if rec.erased {
            let tomb = rec.clone().into_tombstone();
            if tomb != rec {
                set.insert(k.to_vec(), enc(&tomb)?);
            }
        }
    }
    let reduced = set.ops.len();
    set.insert(TOMBSTONES_META.to_vec(), &b"v1"[..]);
    store.apply(&mut guard, &set)?;
    store.db.flush().map_err(db_err)?;
    if reduced > 0 {
        tracing::info!(
            tombstones = reduced,
            "reduced tombstones written by an older version"
        );
    }
    Ok(())
}
