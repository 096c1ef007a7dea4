//! Storing validated pushes under the writer lock, and the loaded-document cache they
//! go back to.

use std::sync::PoisonError;

use casesync_core::case::CaseDoc;

use super::{Prepared, PushOutcome};
use crate::store::{DocRecord, StoreError};
use crate::sync::SyncEngine;

impl SyncEngine {
    /// Stores a prepared push. The caller holds the writer lock. Returns `None`, storing
    /// nothing, if the stored record is no longer the one the push was validated
    /// against (another push, an erasure or a compaction came first): prepare it again.
    #[cfg(test)]
    pub(crate) fn commit_if_current(&self, p: Prepared) -> Result<Option<PushOutcome>, StoreError> {
        if !self.is_current(&p)? {
            return Ok(None);
        }
        self.commit_prepared(p).map(Some)
    }

    /// Whether the stored record of a prepared push is still the one it was validated
    /// against. The caller holds the writer lock.
    pub(crate) fn is_current(&self, p: &Prepared) -> Result<bool, StoreError> {
        Ok(self.store.doc(&p.commit.doc_id)? == p.rec)
    }

    /// Stores a push prepared under the writer lock (still held).
    pub(crate) fn commit_prepared(&self, p: Prepared) -> Result<PushOutcome, StoreError> {
        self.commit_prepared_all(vec![p])?
            .pop()
            .ok_or_else(|| StoreError::Db("commit produced no outcome".into()))
    }

    /// Stores prepared pushes of different cases in one store commit
    /// ([`Storage::commit_all`](crate::store::Storage::commit_all)); the caller holds the
    /// writer lock and has checked that each is current. Outcomes in the same order.
    pub(crate) fn commit_prepared_all(
        &self,
        ps: Vec<Prepared>,
    ) -> Result<Vec<PushOutcome>, StoreError> {
        let mut kept = Vec::with_capacity(ps.len());
        let mut commits = Vec::with_capacity(ps.len());
        for p in ps {
            kept.push((p.doc, p.outcome));
            commits.push(p.commit);
        }
        let stored = self.store.commit_all(commits)?;
        let mut out = Vec::with_capacity(kept.len());
        for ((doc, outcome), s) in kept.into_iter().zip(stored) {
            if let Some(r) = s.record {
                tracing::debug!(
                    doc = %r.doc_id,
                    seq = s.last_seq,
                    routing_changed = s.routing_changed,
                    "push stored"
                );
                self.cache_doc(&r.doc_id.clone(), r, doc);
            }
            out.push(outcome);
        }
        Ok(out)
    }

    /// The loaded document `id`, taken out of the cache, if the cache has it as of
    /// record `rec`.
    pub(crate) fn cached_doc(&self, id: &str, rec: &DocRecord) -> Option<CaseDoc> {
        let mut cache = self
            .doc_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.take(id, rec)
    }

    /// Case `id` as of record `rec`: the cache's loaded copy, taken out, else loaded from
    /// the store (`None` if the store holds no document for it).
    pub(crate) fn take_or_load(
        &self,
        id: &str,
        rec: &DocRecord,
    ) -> Result<Option<CaseDoc>, StoreError> {
        if let Some(doc) = self.cached_doc(id, rec) {
            return Ok(Some(doc));
        }
        let Some(bytes) = self.store.doc_bytes(id)? else {
            return Ok(None);
        };
        CaseDoc::load(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("stored case {id}: {e}")))
    }

    /// Keeps the loaded document `id`, whose stored record is now `rec`.
    pub(crate) fn cache_doc(&self, id: &str, rec: DocRecord, doc: CaseDoc) {
        let mut cache = self
            .doc_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.put(id, rec, doc);
    }

    /// Drops the loaded document `id` (erased: its content leaves memory now, not when
    /// evicted).
    pub fn forget_doc(&self, id: &str) {
        self.doc_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        let listeners = self
            .forget_listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for f in listeners {
            f(id);
        }
    }
}
