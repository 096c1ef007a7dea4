//! Hostile actors (issue #14): hand-made pushes through the same door as every phone's
//! request (`SimServer::serve` → `SyncEngine::handle`), each of which breaks a rule the
//! server must enforce, so each must be refused and leave the server's copy as it was:
//!
//! * [`MALLORY`], a coordinator of the team's district without sensitive access, pushes
//!   from an old copy of a case: `sensitive` put true then false (the operation counter
//!   beats a concurrent mark), or the case moved to a district she does not hold;
//! * a CHW's second, modified app ("<chw>-forge") pushes hand-made changes that break the
//!   stage rules on a case assigned to them: a closed case reopened by a worker, or a
//!   case closed without a closure record;
//! * the worker of the other district ([`OUTSIDER`](super::OUTSIDER)), never assigned
//!   the team's cases, writes a visit note into one (out of scope, like a previous
//!   assignee whose window ended);
//! * a previous assignee of a reassigned case, from a second app ("<chw>-forge", a
//!   device never told to remove it, so inside the write window that keeps offline
//!   edits), assigns the case back to themselves: a restricted field, refused whatever
//!   the window.
//!
//! Each attacker's request also pulls (from an empty cursor): what it receives is
//! checked against its read scope at the time of the pull in `SimServer::serve`.
//! [`Sim::check_server_rules`] checks, once quiet, that every rule holds on the
//! server's copy of every case.

use automerge::transaction::Transactable;
use automerge::{ReadDoc, ROOT};
use casesync_core::case::{device_actor, Role, Stage};
use casesync_core::protocol::{encode_request, DocPush, SyncRequest, PROTOCOL_VERSION};

use super::{e, Sim, DISTRICT, OUTSIDER, R};

/// The hostile coordinator (no sensitive access).
pub const MALLORY: &str = "mallory";
/// Her device.
const MALLORY_DEVICE: &str = "mallory-laptop";
/// A district no simulated user holds.
const ELSEWHERE: &str = "Rangpur";

/// What a hostile actor tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// Mallory: `sensitive` true then false.
    Unmark,
    /// Mallory: `district` to [`ELSEWHERE`].
    Move,
    /// The assignee's forged app: a stage move the rules refuse.
    Stage,
    /// The other district's worker: a note written into a case of the team.
    Outsider,
    /// A previous assignee: the case assigned back to themselves.
    Former,
}

impl Sim<'_> {
    /// One hostile push on case number `a` (of those the server acknowledged), the
    /// attack chosen by `param`.
    pub(super) fn hostile(&mut self, a: usize, param: u64) -> R<()> {
        let attack = match param % 5 {
            0 => Attack::Unmark,
            1 => Attack::Move,
            2 => Attack::Stage,
            3 => Attack::Outsider,
            _ => Attack::Former,
        };
        let ids: Vec<String> = self
            .server
            .acked
            .keys()
            .filter(|id| !self.server.erased.contains(*id))
            .cloned()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let id = ids[a % ids.len()].clone();
        let Some(rec) = self.server.doc(&id)? else {
            return Ok(());
        };
        if rec.erased {
            return Ok(());
        }
        let (user_id, device) = match attack {
            Attack::Unmark | Attack::Move => {
                if self.server.store().user(MALLORY).map_err(e)?.is_none() {
                    self.server
                        .add_user(MALLORY, Role::Coordinator, DISTRICT, false)?;
                }
                (MALLORY.to_owned(), MALLORY_DEVICE.to_owned())
            }
            Attack::Stage => {
                let who = rec.routing.assigned_to.clone();
                let user = self.server.store().user(&who).map_err(e)?;
                if !user.is_some_and(|u| u.role == Role::Chw && !u.disabled) {
                    return Ok(());
                }
                let device = format!("{who}-forge");
                (who, device)
            }
            // Only a case the outsider was never assigned.
            Attack::Outsider if rec.history.iter().any(|(_, r)| r.assigned_to == OUTSIDER) => {
                return Ok(())
            }
            Attack::Outsider => (OUTSIDER.to_owned(), format!("{OUTSIDER}-forge")),
            Attack::Former => {
                let mut former = None;
                for (_, r) in &rec.history {
                    if r.assigned_to == rec.routing.assigned_to || r.assigned_to == OUTSIDER {
                        continue;
                    }
                    let user = self.server.store().user(&r.assigned_to).map_err(e)?;
                    if user.is_some_and(|u| u.role == Role::Chw && !u.disabled) {
                        former = Some(r.assigned_to.clone());
                        break;
                    }
                }
                let Some(who) = former else {
                    return Ok(());
                };
                let device = format!("{who}-forge");
                (who, device)
            }
        };
        if self.server.store().device(&device).map_err(e)?.is_none() {
            if let Err(x) = self.server.login(&user_id, &device) {
                self.note(format!("hostile {user_id} cannot log in on {device}: {x}"));
                return Ok(());
            }
        }
        let Some(mut doc) = self.server.case(&id)? else {
            return Ok(());
        };
        let heads = doc.heads();
        doc.set_actor(device_actor(&device));
        let stage = doc.read().map_err(e)?.stage;
        let am = doc.automerge();
        let what = match attack {
            Attack::Unmark => {
                am.put(ROOT, "sensitive", true).map_err(e)?;
                am.put(ROOT, "sensitive", false).map_err(e)?;
                "un-marks sensitive from an old copy of"
            }
            Attack::Move => {
                am.put(ROOT, "district", ELSEWHERE).map_err(e)?;
                "moves to a district she does not hold"
            }
            Attack::Stage if stage == Stage::Closed => {
                am.put(ROOT, "stage", Stage::Monitoring.as_str())
                    .map_err(e)?;
                "reopens (a worker) by hand"
            }
            Attack::Stage => {
                if am.get(ROOT, "closure").map_err(e)?.is_some() {
                    am.delete(ROOT, "closure").map_err(e)?;
                }
                am.put(ROOT, "stage", Stage::Closed.as_str()).map_err(e)?;
                "closes without a closure record"
            }
            Attack::Outsider => {
                am.put(ROOT, "stage", Stage::Intake.as_str()).map_err(e)?;
                "writes into"
            }
            Attack::Former => {
                am.put(ROOT, "assigned_to", user_id.as_str()).map_err(e)?;
                "(a previous assignee) assigns back to themselves"
            }
        };
        am.commit();
        let changes: Vec<Vec<u8>> = doc
            .changes_since(&heads)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let req = SyncRequest {
            version: PROTOCOL_VERSION,
            device_id: device.clone(),
            cursor: Vec::new(),
            push: vec![DocPush {
                doc_id: id.clone(),
                changes,
            }],
            max_page_bytes: 0,
        };
        let served = self.server.serve(&encode_request(&req))?;
        self.stats.hostile += 1;
        let refused = served
            .response
            .refused
            .iter()
            .find(|r| r.doc_id == id)
            .map(|r| format!("{:?}", r.code));
        self.note(format!(
            "HOSTILE {user_id} on {device} {what} {id}: {}",
            refused.as_deref().unwrap_or(if served.response.wipe {
                "wiped"
            } else {
                "NOT REFUSED"
            })
        ));
        if served.response.acked.iter().any(|x| x.doc_id == id) {
            return Err(format!(
                "HOSTILE PUSH ACCEPTED: {user_id} on {device} {what} {id}"
            ));
        }
        if self.server.doc(&id)? != Some(rec) {
            return Err(format!(
                "HOSTILE PUSH CHANGED THE SERVER'S RECORD: {user_id} {what} {id}"
            ));
        }
        Ok(())
    }

    /// Every rule a case's state can show holds on the server's copy of every live case:
    /// it reads as a case with its own id, it has a stage, and a closed case has its
    /// closure record. (The rules on changes — who may move a stage, what is never
    /// deleted — are judged on each push; [`hostile`](Self::hostile) checks that the
    /// pushes breaking them are refused.)
    pub(super) fn check_server_rules(&self) -> R<()> {
        for id in self.server.acked.keys() {
            if self.server.erased.contains(id) {
                continue;
            }
            let Some(mut doc) = self.server.case(id)? else {
                continue;
            };
            let facts = doc.facts();
            let case = doc
                .read()
                .map_err(|x| format!("RULE: the server's copy of {id} does not read: {x}"))?;
            if case.id != *id || facts.id.as_deref() != Some(id.as_str()) {
                return Err(format!("RULE: the server's copy of {id} names another id"));
            }
            if facts.stage.is_none() {
                return Err(format!("RULE: the server's copy of {id} has no stage"));
            }
            if facts.stage == Some(Stage::Closed) && facts.closure.is_none() {
                return Err(format!(
                    "RULE: the server's copy of {id} is closed without a closure record"
                ));
            }
        }
        Ok(())
    }
}
