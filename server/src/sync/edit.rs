//! Edits of a stored case made on the server (the coordinator's dashboard), through the
//! engine: the edit runs on the loaded document and the changes it makes are judged by
//! the same checks as a pushed change (`push::judge_applied`: restricted fields, the
//! lifecycle rules, size) and committed under the writer lock, with no round trip
//! through bytes.

use automerge::Change;
use casesync_core::case::{device_actor, CaseDoc, CaseError, EditCtx};
use casesync_core::protocol::{PushAck, Refusal, RefusalCode, MAX_OPS_PER_DOC};

use super::push::{Applied, Decision, PushOutcome};
use super::scope::can_read;
use super::SyncEngine;
use crate::store::{DocRecord, StoreError, UserRecord};

/// Why an edit made on the server was not stored (nothing was).
#[derive(Debug, thiserror::Error)]
pub enum EditRefused {
    /// No such case, erased, or not one the user may read.
    #[error("no such case")]
    NotFound,
    /// The core refused the edit (its own rules, before anything is checked here).
    #[error(transparent)]
    Edit(CaseError),
    /// The engine's checks refused the changes, as they would refuse them pushed.
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn refusal(id: &str, code: RefusalCode, message: &str) -> EditRefused {
    EditRefused::Refused(Refusal {
        doc_id: id.to_owned(),
        code,
        message: message.to_owned(),
    })
}

impl SyncEngine {
    /// Applies `edit` to the stored case `id` as `user`, signing as the device
    /// `device_id` (the dashboard's `server:<user>`), judges the changes it made as a
    /// push of them would be judged, and stores them (flushed) under the writer lock.
    /// An edit that changes nothing stores nothing. Blocking: call it from a blocking
    /// thread, not holding the writer lock.
    pub fn edit_case<F>(
        &self,
        user: &UserRecord,
        device_id: &str,
        id: &str,
        edit: F,
    ) -> Result<(), EditRefused>
    where
        F: FnOnce(&mut CaseDoc, &EditCtx) -> Result<(), CaseError>,
    {
        self.edit_with(
            user,
            device_id,
            id,
            |engine, rec, _| {
                if !can_read(user, &rec.routing) {
                    return Err(EditRefused::NotFound);
                }
                if !engine.may_write(user, rec)? {
                    return Err(refusal(
                        id,
                        RefusalCode::OutOfScope,
                        "case not in your scope",
                    ));
                }
                Ok(())
            },
            edit,
        )
    }

    /// [`edit_case`](Self::edit_case) with the caller's own access check in place of
    /// the scope's: `allow` sees the stored record and the loaded document (not to be
    /// changed) before `edit` runs, under the writer lock; an agency's answer to a
    /// referral is allowed by the referral, not by a scope (`crate::agencies`). The
    /// changes are judged as any push of them would be, for `user`'s role.
    pub fn edit_with<A, F>(
        &self,
        user: &UserRecord,
        device_id: &str,
        id: &str,
        allow: A,
        edit: F,
    ) -> Result<(), EditRefused>
    where
        A: FnOnce(&Self, &DocRecord, &mut CaseDoc) -> Result<(), EditRefused>,
        F: FnOnce(&mut CaseDoc, &EditCtx) -> Result<(), CaseError>,
    {
        let _writer = self.writer.blocking_lock();
        let rec = self
            .store
            .doc(id)?
            .filter(|r| !r.erased)
            .ok_or(EditRefused::NotFound)?;
        let refused = |code, message: &str| refusal(id, code, message);
        // The loaded copy the pushes keep, if it is current; it goes back to the cache
        // only once the edit is committed (a refused edit leaves it changed: dropped).
        let mut doc = self.take_or_load(id, &rec)?.ok_or(EditRefused::NotFound)?;
        if let Err(e) = allow(self, &rec, &mut doc) {
            self.cache_doc(id, rec, doc);
            return Err(e);
        }
        let heads = doc.heads();
        let facts = doc.facts();
        doc.set_actor(device_actor(device_id));
        let ctx = EditCtx::new(user.user_id.clone(), user.role, crate::now_ms());
        edit(&mut doc, &ctx).map_err(EditRefused::Edit)?;
        let fresh = doc.changes_since(&heads);
        if fresh.is_empty() {
            self.cache_doc(id, rec, doc);
            return Ok(());
        }
        if doc.op_count() > MAX_OPS_PER_DOC {
            return Err(refused(
                RefusalCode::TooLarge,
                "the case would exceed its operation limit",
            ));
        }
        let decoded = fresh.iter().map(Change::decode).collect();
        let outcome = PushOutcome::Accepted {
            ack: PushAck {
                doc_id: id.to_owned(),
                hashes: fresh.iter().map(|c| c.hash().0).collect(),
            },
            created: false,
        };
        let applied = Applied {
            id,
            rec: Some(rec),
            doc,
            fresh,
            decoded,
            before: (facts, heads),
            judged: true,
            outcome,
        };
        match self.judge_applied(user, device_id, applied)? {
            Decision::Done(PushOutcome::Refused(r)) => Err(EditRefused::Refused(r)),
            Decision::Done(PushOutcome::Accepted { .. }) => Ok(()),
            Decision::Commit(p) => {
                self.commit_prepared(*p)?;
                self.store.flush()?;
                Ok(())
            }
        }
    }

    /// Runs `read` on the stored case `id` (`None`: unknown, erased, or it does not
    /// load, logged by id): on the engine's loaded copy when it holds one as of the
    /// current record (put back after), else on a copy loaded from the store and not
    /// kept (a reader does not push out the cases pushes keep loaded). `read` must not
    /// change the document.
    pub fn with_case<T>(
        &self,
        id: &str,
        read: impl FnOnce(&mut CaseDoc) -> T,
    ) -> Result<Option<T>, StoreError> {
        let Some(rec) = self.store.doc(id)?.filter(|r| !r.erased) else {
            return Ok(None);
        };
        if let Some(mut doc) = self.cached_doc(id, &rec) {
            let out = read(&mut doc);
            self.cache_doc(id, rec, doc);
            return Ok(Some(out));
        }
        let Some(bytes) = self.store.doc_bytes(id)? else {
            return Ok(None);
        };
        match CaseDoc::load(&bytes) {
            Ok(mut doc) => Ok(Some(read(&mut doc))),
            Err(e) => {
                tracing::warn!(doc = %id, error = %e, "stored case does not load");
                Ok(None)
            }
        }
    }
}
