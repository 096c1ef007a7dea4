//! Validating and storing one document's pushed changes (DESIGN §5).

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;

use automerge::{legacy, AutoCommit, Change};
use casesync_core::case::{actor_belongs_to, validate_case_id, CaseDoc, Role, RESTRICTED_FIELDS};
use casesync_core::protocol::{DocPush, PushAck, Refusal, RefusalCode};

use super::scope::{can_create, can_write, can_write_registered, may_be_registered_by};
use super::SyncEngine;
use crate::store::{DocCommit, DocRecord, Hash, Routing, StoreError, StoredChange, UserRecord};

/// The outcome of one document's push.
#[derive(Debug)]
pub enum PushOutcome {
    /// Stored (or already known): acknowledge these hashes; `created`: the push
    /// created the document.
    Accepted {
        /// The acknowledgement.
        ack: PushAck,
        /// This push created the document.
        created: bool,
    },
    /// Refused: nothing of it was stored.
    Refused(Refusal),
}

fn refuse(doc_id: &str, code: RefusalCode, message: impl Into<String>) -> PushOutcome {
    PushOutcome::Refused(Refusal {
        doc_id: doc_id.to_owned(),
        code,
        message: message.into(),
    })
}

/// Whether a change has an operation on a restricted root key.
fn touches_restricted(change: &Change) -> bool {
    change.decode().operations.iter().any(|op| {
        op.obj == legacy::ObjectId::Root
            && matches!(&op.key, legacy::Key::Map(k) if RESTRICTED_FIELDS.contains(&k.as_str()))
    })
}

/// Whether applying changes moved `before` to `after` through a restricted root key
/// (a patch on the root map).
fn diff_touches_restricted(doc: &mut AutoCommit, before: &[automerge::ChangeHash]) -> bool {
    let after = doc.get_heads();
    doc.diff(before, &after).iter().any(|p| {
        p.path.is_empty()
            && match &p.action {
                automerge::PatchAction::PutMap { key, .. }
                | automerge::PatchAction::DeleteMap { key } => {
                    RESTRICTED_FIELDS.contains(&key.as_str())
                }
                _ => false,
            }
    })
}

impl SyncEngine {
    /// Validates and stores one document's push. The caller holds the writer lock.
    /// `budget` is the number of changes this request may still push.
    pub(crate) fn push_doc(
        &self,
        user: &UserRecord,
        device_id: &str,
        push: &DocPush,
        budget: &mut usize,
    ) -> Result<PushOutcome, StoreError> {
        let id = push.doc_id.as_str();
        if validate_case_id(id).is_err() {
            return Ok(refuse(id, RefusalCode::Invalid, "malformed case id"));
        }
        if push.changes.len() > *budget {
            *budget = 0;
            return Ok(refuse(
                id,
                RefusalCode::TooLarge,
                "too many changes in one request",
            ));
        }
        *budget -= push.changes.len();
        if user.role == Role::Admin {
            return Ok(refuse(
                id,
                RefusalCode::OutOfScope,
                "admins do not edit case content",
            ));
        }
        let mut changes = Vec::with_capacity(push.changes.len());
        for bytes in &push.changes {
            if bytes.len() > self.settings.max_doc_bytes {
                return Ok(refuse(
                    id,
                    RefusalCode::TooLarge,
                    "change larger than a document may be",
                ));
            }
            let Ok(change) = casesync_core::case::decode_change(bytes.clone()) else {
                return Ok(refuse(
                    id,
                    RefusalCode::Invalid,
                    "not a valid Automerge change",
                ));
            };
            changes.push(change);
        }
        let all_hashes: Vec<Hash> = changes.iter().map(|c| c.hash().0).collect();
        let rec = self.store.doc(id)?;
        let mut doc = match &rec {
            Some(r) if r.erased => {
                return Ok(refuse(id, RefusalCode::Erased, "the case was erased"))
            }
            Some(r) if !can_write(user, r) && !may_be_registered_by(user, r) => {
                return Ok(refuse(
                    id,
                    RefusalCode::OutOfScope,
                    "case not in your scope",
                ))
            }
            Some(r) => {
                let mut doc = match self.cached_doc(id, r) {
                    Some(doc) => doc,
                    None => {
                        let bytes = self.store.doc_bytes(id)?.unwrap_or_default();
                        CaseDoc::load(&bytes)
                            .map_err(|e| StoreError::Corrupt(format!("stored case {id}: {e}")))?
                    }
                };
                if !can_write(user, r) {
                    let created_by = doc.read().map(|c| c.created_by).unwrap_or_default();
                    if !can_write_registered(user, r, &created_by) {
                        self.cache_doc(id, r.clone(), doc);
                        return Ok(refuse(
                            id,
                            RefusalCode::OutOfScope,
                            "case not in your scope",
                        ));
                    }
                }
                doc
            }
            None => match new_doc(&changes) {
                Ok(d) => d,
                Err(code) => return Ok(refuse(id, code, "not a valid new case")),
            },
        };
        // Only changes the server does not have yet are checked and stored.
        let mut seen = HashSet::new();
        let fresh: Vec<Change> = changes
            .into_iter()
            .filter(|c| {
                seen.insert(c.hash())
                    && (rec.is_none() || doc.automerge().get_change_by_hash(&c.hash()).is_none())
            })
            .collect();
        // Changes the server already has may come from anyone (a device re-sending what
        // it received); new ones must be this device's own.
        if fresh
            .iter()
            .any(|c| !actor_belongs_to(c.actor_id(), device_id))
        {
            return Ok(refuse(
                id,
                RefusalCode::ForeignActor,
                "change signed by another device's actor",
            ));
        }
        let ack = PushOutcome::Accepted {
            ack: PushAck {
                doc_id: id.to_owned(),
                hashes: all_hashes,
            },
            created: rec.is_none(),
        };
        if fresh.is_empty() {
            if let Some(r) = rec {
                self.cache_doc(id, r, doc);
                return Ok(ack);
            }
        }
        let am = doc.automerge();
        let before = am.get_heads();
        if rec.is_some() && casesync_core::case::apply_untrusted(am, fresh.clone()).is_err() {
            return Ok(refuse(
                id,
                RefusalCode::Invalid,
                "changes could not be applied",
            ));
        }
        if !am.get_missing_deps(&[]).is_empty() {
            return Ok(refuse(
                id,
                RefusalCode::MissingDependencies,
                "changes depend on changes the server lacks",
            ));
        }
        let restricted =
            fresh.iter().any(touches_restricted) || diff_touches_restricted(am, &before);
        let Ok(case) = doc.read() else {
            return Ok(refuse(
                id,
                RefusalCode::Invalid,
                "the result is not a valid case",
            ));
        };
        if case.id != id {
            return Ok(refuse(
                id,
                RefusalCode::Invalid,
                "case id does not match the document",
            ));
        }
        let routing = Routing {
            district: case.district.clone(),
            assigned_to: case.assigned_to.clone(),
            sensitive: case.sensitive,
        };
        if rec.is_none() {
            if !can_create(user, &routing) {
                return Ok(refuse(
                    id,
                    RefusalCode::OutOfScope,
                    "new case outside your district or assignment",
                ));
            }
        } else if restricted && user.role != Role::Coordinator {
            return Ok(refuse(
                id,
                RefusalCode::RestrictedField,
                "only a coordinator changes district, assignment or sensitivity",
            ));
        }
        let new_bytes: u64 = fresh.iter().map(|c| c.raw_bytes().len() as u64).sum();
        let estimate = rec.as_ref().map_or(0, |r| r.estimated_bytes()) + new_bytes;
        if estimate > self.settings.max_doc_bytes as u64
            && doc.save().len() > self.settings.max_doc_bytes
        {
            return Ok(refuse(
                id,
                RefusalCode::TooLarge,
                "the case would exceed the document size limit",
            ));
        }
        let stored = fresh
            .iter()
            .map(|c| StoredChange {
                hash: c.hash().0,
                bytes: c.raw_bytes().to_vec(),
            })
            .collect();
        let outcome = self.store.commit(DocCommit {
            doc_id: id.to_owned(),
            routing,
            summary: case.summary(),
            changes: stored,
        })?;
        tracing::debug!(
            doc = id,
            changes = fresh.len(),
            seq = outcome.last_seq,
            routing_changed = outcome.routing_changed,
            "push stored"
        );
        if let Some(r) = self.store.doc(id)? {
            self.cache_doc(id, r, doc);
        }
        Ok(ack)
    }

    /// The loaded document `id` if the cache has it as of record `rec`. Taken out of
    /// the cache: a push that is refused after applying its changes drops it.
    fn cached_doc(&self, id: &str, rec: &DocRecord) -> Option<CaseDoc> {
        let mut cache = self
            .doc_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.take(id, rec)
    }

    /// Keeps the loaded document `id`, whose stored record is now `rec`.
    fn cache_doc(&self, id: &str, rec: DocRecord, doc: CaseDoc) {
        let mut cache = self
            .doc_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache.put(id, rec, doc);
    }
}

/// Most documents kept loaded between pushes.
pub const DOC_CACHE_ENTRIES: usize = 1024;

/// Documents kept loaded between pushes, so a push to a case does not load (and check)
/// the whole stored document again: about half a push's work.
///
/// An entry is used only while the stored record is exactly the one it was cached with.
/// Every commit of changes moves the record on (change count and bytes since the
/// snapshot, summary with its latest change time), so a document changed by anything
/// else — a push in another server instance on the same database, an erasure — is
/// reloaded; compaction changes the record but not the content (a needless reload).
/// Pushes run under the writer lock, so two never work on one entry at once.
#[derive(Default)]
pub struct DocCache {
    docs: HashMap<String, (DocRecord, CaseDoc)>,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocCache")
            .field("entries", &self.docs.len())
            .finish()
    }
}

impl DocCache {
    fn take(&mut self, id: &str, rec: &DocRecord) -> Option<CaseDoc> {
        let (cached, doc) = self.docs.remove(id)?;
        (cached == *rec).then_some(doc)
    }

    fn put(&mut self, id: &str, rec: DocRecord, doc: CaseDoc) {
        if self.docs.len() >= DOC_CACHE_ENTRIES && !self.docs.contains_key(id) {
            // Any entry: the cache only has to stay bounded, the hot set refills it.
            if let Some(k) = self.docs.keys().next().cloned() {
                self.docs.remove(&k);
            }
        }
        self.docs.insert(id.to_owned(), (rec, doc));
    }
}

/// A new document built from its first changes.
fn new_doc(changes: &[Change]) -> Result<CaseDoc, RefusalCode> {
    let mut am = AutoCommit::new();
    casesync_core::case::apply_untrusted(&mut am, changes.to_vec())
        .map_err(|_| RefusalCode::Invalid)?;
    if !am.get_missing_deps(&[]).is_empty() {
        return Err(RefusalCode::MissingDependencies);
    }
    CaseDoc::load(&am.save()).map_err(|_| RefusalCode::Invalid)
}
