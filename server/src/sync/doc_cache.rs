//! Documents kept loaded between pushes ([`DocCache`]).

use std::collections::HashMap;

use casesync_core::case::CaseDoc;

use crate::store::DocRecord;

/// Most documents kept loaded between pushes (the bytes are bounded by the
/// `doc_cache_bytes` setting).
pub const DOC_CACHE_ENTRIES: usize = 1024;

/// Documents kept loaded between pushes, so a push to a case does not load (and check)
/// the whole stored document again: about half a push's work.
///
/// An entry is used only while the stored record is exactly the one it was cached with.
/// Every commit of changes moves the record on (change count and bytes since the
/// snapshot, summary with its latest change time), so a document changed by anything
/// else — a push in another server instance on the same database, an erasure — is
/// reloaded; compaction changes the record but not the content (a needless reload).
/// Pushes take the document out, apply their changes to it without the writer lock, and
/// put it back under the lock once committed (see [`SyncEngine::handle`](crate::sync::SyncEngine::handle));
/// a push that stores nothing puts back a document it did not change.
///
/// Bounded by [`DOC_CACHE_ENTRIES`] and by a budget of saved bytes (each entry weighs its
/// record's [`DocRecord::estimated_bytes`]).
pub struct DocCache {
    docs: HashMap<String, (DocRecord, CaseDoc)>,
    /// Saved bytes of the entries.
    bytes: u64,
    /// Most saved bytes.
    max_bytes: u64,
}

impl Default for DocCache {
    fn default() -> Self {
        DocCache::new(crate::config::DEFAULT_DOC_CACHE_BYTES)
    }
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocCache")
            .field("entries", &self.docs.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl DocCache {
    /// An empty cache of at most `max_bytes` saved bytes.
    pub fn new(max_bytes: u64) -> Self {
        DocCache {
            docs: HashMap::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Takes the entry of `id` out if it is as of `rec` (a stale entry is dropped).
    /// A push applies its changes to the document it took and puts it back once
    /// committed; meanwhile another push of the same case loads it from the store (a
    /// copy of the document for every push cost more than that rare load).
    pub(super) fn take(&mut self, id: &str, rec: &DocRecord) -> Option<CaseDoc> {
        let (cached, doc) = self.docs.remove(id)?;
        self.bytes = self.bytes.saturating_sub(cached.estimated_bytes());
        (&cached == rec).then_some(doc)
    }

    /// Drops the entry of `id`, whatever its record.
    pub(super) fn remove(&mut self, id: &str) {
        if let Some((old, _)) = self.docs.remove(id) {
            self.bytes = self.bytes.saturating_sub(old.estimated_bytes());
        }
    }

    pub(super) fn put(&mut self, id: &str, rec: DocRecord, doc: CaseDoc) {
        if let Some((old, _)) = self.docs.remove(id) {
            self.bytes = self.bytes.saturating_sub(old.estimated_bytes());
        }
        let weight = rec.estimated_bytes();
        if weight > self.max_bytes {
            return;
        }
        while !self.docs.is_empty()
            && (self.docs.len() >= DOC_CACHE_ENTRIES || self.bytes + weight > self.max_bytes)
        {
            // Any entry: the cache only has to stay bounded, the hot set refills it.
            let Some(k) = self.docs.keys().next().cloned() else {
                break;
            };
            if let Some((old, _)) = self.docs.remove(&k) {
                self.bytes = self.bytes.saturating_sub(old.estimated_bytes());
            }
        }
        self.bytes += weight;
        self.docs.insert(id.to_owned(), (rec, doc));
    }
}
