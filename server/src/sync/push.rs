//! Validating and storing one document's pushed changes (DESIGN §5).

use std::collections::HashSet;

use automerge::{AutoCommit, Change};
use casesync_core::case::rules::{self, RuleKind};
use casesync_core::case::CaseError;
use casesync_core::case::CaseSummary;
use casesync_core::case::{actor_belongs_to, validate_case_id, CaseDoc, Role};
use casesync_core::protocol::{
    DocPush, PushAck, Refusal, RefusalCode, MAX_OPS_PER_DOC, MAX_OPS_PER_REQUEST,
};

mod commit;
mod inspect;

use self::inspect::{may_change_facts, routing_ops, touches};
use super::scope::{can_create, can_read, may_change_routing, RoutingOp};
use super::SyncEngine;
use crate::store::{
    ChangeAudit, DocCommit, DocRecord, Hash, Routing, StoreError, StoredChange, UserRecord,
};

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

/// What one request may still push: changes, and Automerge operations (counted before
/// anything is decoded, see `casesync_core::case::scan_change`).
#[derive(Debug, Clone, Copy)]
pub struct PushBudget {
    /// Changes left.
    pub changes: usize,
    /// Operations left.
    pub ops: u64,
}

impl PushBudget {
    /// The budget of one sync request.
    pub fn for_request(max_changes: usize) -> Self {
        PushBudget {
            changes: max_changes,
            ops: MAX_OPS_PER_REQUEST,
        }
    }
}

/// A document's push checked without the writer lock (stateless checks and decoding).
pub(crate) struct Checked<'a> {
    id: &'a str,
    changes: Vec<Change>,
    hashes: Vec<Hash>,
    /// Operations of each change, in order.
    ops: Vec<u64>,
}

/// A document's push validated against the stored record `rec`, ready to commit.
pub(crate) struct Prepared {
    /// The record it was validated against (`None`: the push creates the document).
    rec: Option<DocRecord>,
    /// The document with the push applied.
    doc: CaseDoc,
    /// What to store.
    commit: DocCommit,
    /// The answer once stored.
    outcome: PushOutcome,
}

impl Prepared {
    /// The case it pushes to.
    pub(crate) fn doc_id(&self) -> &str {
        &self.commit.doc_id
    }
}

/// A push (or a dashboard edit) applied to the loaded document, to be judged.
pub(crate) struct Applied<'a> {
    /// The case.
    pub(crate) id: &'a str,
    /// Its stored record (`None`: the push creates it).
    pub(crate) rec: Option<DocRecord>,
    /// The document with `fresh` applied.
    pub(crate) doc: CaseDoc,
    /// The changes the server did not have.
    pub(crate) fresh: Vec<Change>,
    /// The same, decoded.
    pub(crate) decoded: Vec<automerge::ExpandedChange>,
    /// The rules' facts and the heads of the case before `fresh` (unread when not
    /// `judged`).
    pub(crate) before: (rules::Facts, Vec<automerge::ChangeHash>),
    /// Whether the lifecycle rules are judged (some operation may change their facts).
    pub(crate) judged: bool,
    /// The answer once stored.
    pub(crate) outcome: PushOutcome,
}

/// What validating a push against the stored document decided.
pub(crate) enum Decision {
    /// Nothing to store: refused, or every change already known.
    Done(PushOutcome),
    /// Store this.
    Commit(Box<Prepared>),
}

impl SyncEngine {
    /// Validates and stores one document's push, for tests that hold no writer lock
    /// and run nothing at once ([`SyncEngine::handle`] is the door).
    /// `budget` is the number of changes this request may still push.
    #[cfg(test)]
    pub(crate) fn push_doc(
        &self,
        user: &UserRecord,
        device_id: &str,
        push: &DocPush,
        budget: &mut PushBudget,
    ) -> Result<PushOutcome, StoreError> {
        let checked = match self.check_push(user, push, budget) {
            Ok(c) => c,
            Err(refused) => return Ok(refused),
        };
        match self.prepare_push(user, device_id, &checked)? {
            Decision::Done(outcome) => Ok(outcome),
            Decision::Commit(p) => self.commit_prepared(*p),
        }
    }

    /// The checks of a push that need no stored state: id, change and operation budget
    /// (`budget` is what this request may still push), role, sizes, and decoding every
    /// change (counted first: nothing over a limit is decoded).
    pub(crate) fn check_push<'a>(
        &self,
        user: &UserRecord,
        push: &'a DocPush,
        budget: &mut PushBudget,
    ) -> Result<Checked<'a>, PushOutcome> {
        let id = push.doc_id.as_str();
        if validate_case_id(id).is_err() {
            return Err(refuse(id, RefusalCode::Invalid, "malformed case id"));
        }
        if push.changes.len() > budget.changes {
            budget.changes = 0;
            return Err(refuse(
                id,
                RefusalCode::TooLarge,
                "too many changes in one request",
            ));
        }
        budget.changes -= push.changes.len();
        if matches!(user.role, Role::Admin | Role::Agency) {
            return Err(refuse(
                id,
                RefusalCode::OutOfScope,
                "admins and agency staff do not edit case content",
            ));
        }
        let mut changes = Vec::with_capacity(push.changes.len());
        let mut ops = Vec::with_capacity(push.changes.len());
        for bytes in &push.changes {
            if bytes.len() > self.settings.max_doc_bytes {
                return Err(refuse(
                    id,
                    RefusalCode::TooLarge,
                    "change larger than a document may be",
                ));
            }
            let (change, n) = match casesync_core::case::decode_change_counted(bytes.clone()) {
                Ok(c) => c,
                Err(CaseError::OverLimit { what, limit }) => {
                    return Err(refuse(
                        id,
                        RefusalCode::TooLarge,
                        format!("too many {what} (limit {limit})"),
                    ))
                }
                Err(_) => {
                    return Err(refuse(
                        id,
                        RefusalCode::Invalid,
                        "not a valid Automerge change",
                    ))
                }
            };
            if n > budget.ops {
                budget.ops = 0;
                return Err(refuse(
                    id,
                    RefusalCode::TooLarge,
                    format!("too many operations in one request (limit {MAX_OPS_PER_REQUEST})"),
                ));
            }
            budget.ops -= n;
            changes.push(change);
            ops.push(n);
        }
        let hashes = changes.iter().map(|c| c.hash().0).collect();
        Ok(Checked {
            id,
            changes,
            hashes,
            ops,
        })
    }

    /// Validates a checked push against the document as stored now (scope, actors,
    /// dependencies, restricted fields, the result reads as a case, size) and applies it
    /// to a copy of the loaded document. Needs no writer lock: nothing is stored, and
    /// [`commit_prepared`](Self::commit_prepared) stores the result only if the record is
    /// still the one validated against.
    pub(crate) fn prepare_push(
        &self,
        user: &UserRecord,
        device_id: &str,
        checked: &Checked<'_>,
    ) -> Result<Decision, StoreError> {
        let id = checked.id;
        let rec = self.store.doc(id)?;
        let mut doc = match &rec {
            Some(r) if r.erased => {
                return Ok(Decision::Done(refuse(
                    id,
                    RefusalCode::Erased,
                    "the case was erased",
                )))
            }
            Some(r) if !self.may_write(user, r)? && !self.may_have_registered(user, r)? => {
                return Ok(Decision::Done(refuse(
                    id,
                    RefusalCode::OutOfScope,
                    "case not in your scope",
                )))
            }
            Some(r) => {
                let doc = self
                    .take_or_load(id, r)?
                    .ok_or_else(|| StoreError::Corrupt(format!("stored case {id}: no document")))?;
                // Write scope through a routing or scope the user no longer has ends
                // once this device was told to remove the case, after a grace window
                // for the edits it recorded before (docs/DESIGN.md §5.3).
                if !can_read(user, &r.routing)
                    && self.removal_window_over(device_id, r, crate::now_ms())?
                {
                    self.cache_doc(id, r.clone(), doc);
                    return Ok(Decision::Done(refuse(
                        id,
                        RefusalCode::OutOfScope,
                        "the case left your scope and this device was told to remove it",
                    )));
                }
                if !self.may_write(user, r)? {
                    let created_by = doc.created_by().unwrap_or_default();
                    if created_by != user.user_id || !self.may_have_registered(user, r)? {
                        self.cache_doc(id, r.clone(), doc);
                        return Ok(Decision::Done(refuse(
                            id,
                            RefusalCode::OutOfScope,
                            "case not in your scope",
                        )));
                    }
                }
                doc
            }
            None => match new_doc(&checked.changes) {
                Ok(d) => d,
                Err(code) => return Ok(Decision::Done(refuse(id, code, "not a valid new case"))),
            },
        };
        // Only changes the server does not have yet are checked and stored.
        let mut seen = HashSet::new();
        let fresh: Vec<Change> = checked
            .changes
            .iter()
            .filter(|c| {
                seen.insert(c.hash())
                    && (rec.is_none() || doc.automerge().get_change_by_hash(&c.hash()).is_none())
            })
            .cloned()
            .collect();
        // Changes the server already has may come from anyone (a device re-sending what
        // it received); new ones must be this device's own.
        if fresh
            .iter()
            .any(|c| !actor_belongs_to(c.actor_id(), device_id))
        {
            if let Some(r) = rec {
                self.cache_doc(id, r, doc);
            }
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::ForeignActor,
                "change signed by another device's actor",
            )));
        }
        let outcome = PushOutcome::Accepted {
            ack: PushAck {
                doc_id: id.to_owned(),
                hashes: checked.hashes.clone(),
            },
            created: rec.is_none(),
        };
        if fresh.is_empty() {
            if let Some(r) = rec {
                self.cache_doc(id, r, doc);
                return Ok(Decision::Done(outcome));
            }
        }
        // Operations of the document once the fresh changes are in, counted before they
        // are applied (a new case's document already holds them).
        let mut uncounted: HashSet<_> = fresh.iter().map(Change::hash).collect();
        let fresh_ops: u64 = checked
            .changes
            .iter()
            .zip(&checked.ops)
            .filter(|(c, _)| uncounted.remove(&c.hash()))
            .map(|(_, n)| n)
            .sum();
        let held = if rec.is_some() { doc.op_count() } else { 0 };
        if held.saturating_add(fresh_ops) > MAX_OPS_PER_DOC {
            if let Some(r) = rec {
                self.cache_doc(id, r, doc);
            }
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::TooLarge,
                format!("the case would exceed {MAX_OPS_PER_DOC} operations"),
            )));
        }
        let decoded: Vec<automerge::ExpandedChange> = fresh.iter().map(Change::decode).collect();
        // What the lifecycle rules read of the case as stored, before the push lands;
        // not read at all when no operation of the push may change it (the rules then
        // cannot be broken: `rules::may_change_facts`).
        let judged = rec.is_none() || may_change_facts(doc.automerge(), &decoded);
        let before = match &rec {
            Some(_) if judged => (doc.facts(), doc.heads()),
            _ => (rules::Facts::default(), Vec::new()),
        };
        let am = doc.automerge();
        if rec.is_some() && casesync_core::case::apply_untrusted(am, fresh.clone()).is_err() {
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::Invalid,
                "changes could not be applied",
            )));
        }
        if !am.get_missing_deps(&[]).is_empty() {
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::MissingDependencies,
                "changes depend on changes the server lacks",
            )));
        }
        self.judge_applied(
            user,
            device_id,
            Applied {
                id,
                rec,
                doc,
                fresh,
                decoded,
                before,
                judged,
                outcome,
            },
        )
    }

    /// The checks of a push once its fresh changes are applied to `a.doc`: keys, the
    /// result reads as a case of this id, a new case's scope and registrar, restricted
    /// fields, the lifecycle rules, size. Shared by pushes and the dashboard's edits
    /// ([`SyncEngine::edit_case`]).
    pub(crate) fn judge_applied(
        &self,
        user: &UserRecord,
        device_id: &str,
        a: Applied<'_>,
    ) -> Result<Decision, StoreError> {
        let Applied {
            id,
            rec,
            mut doc,
            fresh,
            decoded,
            before,
            judged,
            outcome,
        } = a;
        let touched = touches(doc.automerge(), &decoded);
        if touched.unknown_key {
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::Invalid,
                "an operation on a key the case schema does not define",
            )));
        }
        // The summary read checks the document as the whole-case read would (a document
        // that does not read as a case is refused) but reads only routing and listing
        // fields: most of a push's work was reading every note of the case. Changes only
        // inside sections the summary does not read keep the stored summary (and the
        // checks it passed), with the new change time.
        let kept = match rec.as_ref().and_then(|r| r.summary.as_ref()) {
            Some(prev) if !touched.summary => Some(CaseSummary {
                updated_at: doc.updated_at(),
                ..prev.clone()
            }),
            _ => None,
        };
        debug_assert!(
            kept.is_none() || kept.as_ref() == doc.summary().ok().as_ref(),
            "a kept summary differs from the summary read"
        );
        let Some(summary) = kept.or_else(|| doc.summary().ok()) else {
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::Invalid,
                "the result is not a valid case",
            )));
        };
        if summary.id != id {
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::Invalid,
                "case id does not match the document",
            )));
        }
        let routing = Routing {
            district: summary.district.clone(),
            assigned_to: summary.assigned_to.clone(),
            sensitive: summary.sensitive,
        };
        if rec.is_none() {
            // In scope now, or under an earlier scope in force when the device logged in (a
            // case registered offline before the user lost the district).
            if !can_create(user, &routing)
                && !self
                    .creation_scopes(user, device_id)?
                    .iter()
                    .any(|u| can_create(u, &routing))
            {
                return Ok(Decision::Done(refuse(
                    id,
                    RefusalCode::OutOfScope,
                    "new case outside your district or assignment",
                )));
            }
            // The assignee is not judged here (`scope::may_register` is, on the online
            // routes): a coordinator registers offline without the district's worker
            // list, and a refusal would lose the registration and every visit pushed with
            // it (docs/DESIGN.md §5.4).
            // A case registered through sync names its pusher as registrar: a forged
            // `created_by` would hand another coordinator write access to it
            // (`can_write_registered`).
            if doc.created_by().as_deref() != Some(user.user_id.as_str()) {
                return Ok(Decision::Done(refuse(
                    id,
                    RefusalCode::Invalid,
                    "a new case must be registered by the user who pushes it",
                )));
            }
        } else if let Some(r) = rec.as_ref() {
            // By operation, and by value: the routing read after applying (restricted
            // operations are refused even when they put the same value back), for
            // coordinators too (`may_change_routing`).
            let mut ops = Vec::new();
            if touched.restricted {
                ops = routing_ops(doc.automerge(), &decoded);
                if ops.is_empty() {
                    ops.push(RoutingOp::Other);
                }
            }
            if let Err(why) =
                may_change_routing(user, &r.routing, &routing, &ops, |u| self.store.user(u))?
            {
                return Ok(Decision::Done(refuse(
                    id,
                    RefusalCode::RestrictedField,
                    why,
                )));
            }
        }
        // The lifecycle rules, shared with the app (`casesync_core::case::rules`): what
        // the push did to the case as stored, for every role.
        let verdict = match judged {
            true => rules::check_changes(&before.0, &before.1, &doc, &fresh, user.role),
            false => Ok(()),
        };
        if let Err(broken) = verdict {
            let code = match broken.kind {
                RuleKind::Role => RefusalCode::RestrictedField,
                RuleKind::Lifecycle => RefusalCode::Invalid,
            };
            return Ok(Decision::Done(refuse(id, code, broken.reason)));
        }
        let new_bytes: u64 = fresh.iter().map(|c| c.raw_bytes().len() as u64).sum();
        let estimate = rec.as_ref().map_or(0, |r| r.estimated_bytes()) + new_bytes;
        if estimate > self.settings.max_doc_bytes as u64
            && doc.save().len() > self.settings.max_doc_bytes
        {
            return Ok(Decision::Done(refuse(
                id,
                RefusalCode::TooLarge,
                "the case would exceed the document size limit",
            )));
        }
        let changes = fresh
            .iter()
            .map(|c| StoredChange {
                hash: c.hash().0,
                bytes: c.raw_bytes().to_vec(),
            })
            .collect();
        Ok(Decision::Commit(Box::new(Prepared {
            rec,
            doc,
            commit: DocCommit {
                doc_id: id.to_owned(),
                routing,
                summary,
                changes,
                audit: Some(ChangeAudit {
                    user_id: user.user_id.clone(),
                    device_id: device_id.to_owned(),
                    received_ms: crate::now_ms(),
                }),
            },
            outcome,
        })))
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
