//! Validating and storing one document's pushed changes (DESIGN §5).

use std::collections::HashSet;

use automerge::{legacy, AutoCommit, Change};
use casesync_core::case::{actor_belongs_to, validate_case_id, CaseDoc, Role, RESTRICTED_FIELDS};
use casesync_core::protocol::{DocPush, PushAck, Refusal, RefusalCode};

use super::scope::{can_create, can_write};
use super::SyncEngine;
use crate::store::{DocCommit, Hash, Routing, StoreError, StoredChange, UserRecord};

thread_local! { static TLOG: std::cell::RefCell<Vec<(&'static str, u128, usize)>> = const { std::cell::RefCell::new(Vec::new()) }; }
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
                return Ok(refuse(id, RefusalCode::Invalid, "not a valid Automerge change"));
            };
            changes.push(change);
        }
        let all_hashes: Vec<Hash> = changes.iter().map(|c| c.hash().0).collect();
        let tt = std::time::Instant::now();
        let rec = self.store.doc(id)?;
        let mut doc = match &rec {
            Some(r) if r.erased => {
                return Ok(refuse(id, RefusalCode::Erased, "the case was erased"))
            }
            Some(r) if !can_write(user, r) => {
                return Ok(refuse(
                    id,
                    RefusalCode::OutOfScope,
                    "case not in your scope",
                ))
            }
            Some(_) => {
                let bytes = self.store.doc_bytes(id)?.unwrap_or_default();
                TLOG.with(|t| t.borrow_mut().push(("read", tt.elapsed().as_micros(), bytes.len())));
                CaseDoc::load(&bytes)
                    .map_err(|e| StoreError::Corrupt(format!("stored case {id}: {e}")))?
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
        TLOG.with(|t| t.borrow_mut().push(("loaded", tt.elapsed().as_micros(), fresh.len())));
        let ack = PushOutcome::Accepted {
            ack: PushAck {
                doc_id: id.to_owned(),
                hashes: all_hashes,
            },
            created: rec.is_none(),
        };
        if fresh.is_empty() && rec.is_some() {
            return Ok(ack);
        }
        let am = doc.automerge();
        let before = am.get_heads();
        if rec.is_some() && am.apply_changes(fresh.clone()).is_err() {
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
        TLOG.with(|t| t.borrow_mut().push(("checked", tt.elapsed().as_micros(), 0)));
        let outcome = self.store.commit(DocCommit {
            doc_id: id.to_owned(),
            routing,
            summary: case.summary(),
            changes: stored,
        })?;
        TLOG.with(|t| t.borrow_mut().push(("committed", tt.elapsed().as_micros(), 0)));
        TLOG.with(|t| {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open("/tmp/lb/push.log") {
                let v = std::mem::take(&mut *t.borrow_mut());
                let line = format!("{} {} {:?}\n", id, rec.is_some(), v);
                let _ = f.write_all(line.as_bytes());
            }
        });
        tracing::debug!(
            doc = id,
            changes = fresh.len(),
            seq = outcome.last_seq,
            routing_changed = outcome.routing_changed,
            "push stored"
        );
        Ok(ack)
    }
}

/// A new document built from its first changes.
fn new_doc(changes: &[Change]) -> Result<CaseDoc, RefusalCode> {
    let mut am = AutoCommit::new();
    am.apply_changes(changes.iter().cloned())
        .map_err(|_| RefusalCode::Invalid)?;
    if !am.get_missing_deps(&[]).is_empty() {
        return Err(RefusalCode::MissingDependencies);
    }
    CaseDoc::load(&am.save()).map_err(|_| RefusalCode::Invalid)
}
