//! The sled store's data keys: found, created and deleted (see the module docs of
//! `sled_store`, "Content at rest").

use super::write_set::key;
use super::{db_err, SledStorage, ERASING};
use crate::store::seal::{random_key, CaseKey};
use crate::store::StoreError;

impl SledStorage {
    /// The data key of `doc_id` (`None`: there is none, e.g. erased).
    pub(super) fn case_key(&self, doc_id: &str) -> Result<Option<CaseKey>, StoreError> {
        if let Some(k) = self.key_cache.get(doc_id) {
            return Ok(Some(k));
        }
        let Some(wrapped) = self.keys.get(doc_id)? else {
            return Ok(None);
        };
        let k = CaseKey::from_bytes(&self.master.unwrap(doc_id, &wrapped)?);
        self.key_cache.put(doc_id, k.clone());
        Ok(Some(k))
    }

    /// The data key of `doc_id`, created (and stored durably) if it has none.
    pub(super) fn case_key_or_new(&self, doc_id: &str) -> Result<CaseKey, StoreError> {
        if let Some(k) = self.case_key(doc_id)? {
            return Ok(k);
        }
        let raw = random_key();
        self.keys.put(doc_id, &self.master.wrap(doc_id, &raw)?)?;
        let k = CaseKey::from_bytes(&raw);
        self.key_cache.put(doc_id, k.clone());
        Ok(k)
    }

    /// The data key of a live case: its absence is an error.
    pub(super) fn live_key(&self, doc_id: &str) -> Result<CaseKey, StoreError> {
        self.case_key(doc_id)?
            .ok_or_else(|| StoreError::Key(format!("case {doc_id} has no data key")))
    }

    /// Deletes the keys of erasures whose write set was made (`e/<doc>`), then the marks.
    pub(super) fn finish_erasures(&self) -> Result<(), StoreError> {
        let prefix = key(ERASING, "");
        for kv in self.tree.scan_prefix(&prefix) {
            let (k, _) = kv.map_err(db_err)?;
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            self.keys.delete(&id)?;
            self.key_cache.forget(&id);
            self.tree.remove(&k).map_err(db_err)?;
            self.wrote();
        }
        Ok(())
    }
}
