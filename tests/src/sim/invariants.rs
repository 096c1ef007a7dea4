//! The invariants of the simulation (see the module documentation of `sim`), checked
//! after every response (no leak) and once the network is quiet (everything else).

use std::collections::BTreeSet;

use casesync_core::case::Role;
use casesync_server::sync::scope::can_read;

use super::{e, ledger, Failure, Item, Sim, Status, DISTRICT, OTHER_DISTRICT, R};

impl<'a> Sim<'a> {
    /// Invariant 4, after every response: device `d` holds no case its user could
    /// never read (by the server's routing history, under any scope the user had: a
    /// case of a district the user lost stays until it is listed as removed), except
    /// cases it created itself
    /// (a coordinator without sensitive access may register a sensitive case, which
    /// stays on the phone until the server has acknowledged it).
    pub(super) fn check_no_leak(&self, d: usize) -> R<()> {
        let dev = self.dev(d)?;
        let user = self.user(&dev.user)?;
        let scopes: Vec<_> = std::iter::once(user)
            .chain(self.past_users.iter().filter(|u| u.user_id == dev.user))
            .collect();
        for id in dev.store.case_ids().map_err(e)? {
            let own = self
                .ledger
                .entries
                .iter()
                .any(|x| x.case == id && x.item == Item::Case && x.device == d);
            match self.server.doc(&id)? {
                Some(rec) => {
                    let readable = |r| scopes.iter().any(|u| can_read(u, r));
                    let history = self.server.routing_history(&rec);
                    if !own && !history.iter().any(|(_, r)| readable(r)) {
                        return Err(format!(
                            "LEAK: {} ({}) holds {id}, which {} could never read (routing now {:?})",
                            self.name(d),
                            dev.user,
                            dev.user,
                            rec.routing
                        ));
                    }
                }
                None => {
                    if !own {
                        return Err(format!(
                            "LEAK: {} holds {id}, unknown to the server and not its own",
                            self.name(d)
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks invariants 1–4 (call after [`run_until_quiet`](Self::run_until_quiet)).
    pub fn check(&mut self) -> Result<(), Failure> {
        self.check_all().map_err(|m| self.fail(m))
    }

    fn check_all(&mut self) -> R<()> {
        // The server's view of every case of the run.
        let mut live = Vec::new();
        for id in &self.ledger.cases {
            let Some(rec) = self.server.doc(id)? else {
                continue;
            };
            if rec.erased {
                if self.server.case(id)?.is_some() {
                    return Err(format!("erased case {id} still has content on the server"));
                }
                continue;
            }
            let mut doc = self
                .server
                .case(id)?
                .ok_or_else(|| format!("server has a record of {id} but no content"))?;
            let case = doc
                .read()
                .map_err(|x| format!("server copy of {id}: {x}"))?;
            let mut heads: Vec<_> = doc.heads();
            heads.sort();
            live.push((id.clone(), rec, doc, case, heads));
        }
        // 2. Every acknowledged change is in the server's copy.
        for (id, hashes) in &self.server.acked {
            if self.server.erased.contains(id) {
                continue;
            }
            let Some((_, _, doc, _, _)) = live.iter_mut().find(|(c, ..)| c == id) else {
                return Err(format!(
                    "server acknowledged changes to {id}, which it no longer has"
                ));
            };
            for h in hashes {
                if doc
                    .automerge()
                    .get_change_by_hash(&automerge::ChangeHash(*h))
                    .is_none()
                {
                    return Err(format!(
                        "LOST ACK: the server acknowledged change {} of {id} but does not have it",
                        hex(h)
                    ));
                }
            }
        }
        // 1. Every device holds exactly its scope, each copy equal to the server's.
        for d in 0..self.devices.len() {
            let dev = self.dev(d)?;
            let held: BTreeSet<String> = dev.store.case_ids().map_err(e)?.into_iter().collect();
            match dev.status {
                Status::Revoked => {
                    return Err(format!(
                        "{} was revoked (or its user disabled) but never wiped",
                        self.name(d)
                    ))
                }
                Status::Wiped => {
                    if !held.is_empty() {
                        return Err(format!("{} was wiped but holds {held:?}", self.name(d)));
                    }
                    continue;
                }
                Status::Active => {}
            }
            let user = self.user(&dev.user)?;
            let scope: BTreeSet<String> = live
                .iter()
                .filter(|(_, rec, ..)| can_read(user, &rec.routing))
                .map(|(id, ..)| id.clone())
                .collect();
            if let Some(extra) = held.difference(&scope).next() {
                let why = match self.server.doc(extra)? {
                    None => "unknown to the server".to_owned(),
                    Some(r) if r.erased => "erased".to_owned(),
                    Some(r) => format!("out of scope, routing {:?}", r.routing),
                };
                let outbox = dev.store.outbox().map_err(e)?.contains(extra);
                return Err(format!(
                    "{} ({}) still holds {extra} after quiet: {why}{}",
                    self.name(d),
                    dev.user,
                    if outbox {
                        " (with unsent edits in its outbox)"
                    } else {
                        ""
                    }
                ));
            }
            if let Some(missing) = scope.difference(&held).next() {
                return Err(format!(
                    "{} ({}) lacks {missing}, which is in its scope",
                    self.name(d),
                    dev.user
                ));
            }
            for (id, _, _, case, heads) in &live {
                if !scope.contains(id) {
                    continue;
                }
                let mut mine = dev.store.load_case(id).map_err(e)?;
                let mut my_heads = mine.heads();
                my_heads.sort();
                let my_case = mine.read().map_err(e)?;
                if &my_heads != heads {
                    return Err(format!(
                        "DIVERGED: {}'s copy of {id} has other heads than the server's",
                        self.name(d)
                    ));
                }
                if &my_case != case {
                    return Err(format!(
                        "DIVERGED: {}'s copy of {id} reads differently from the server's",
                        self.name(d)
                    ));
                }
                if let Some(hashes) = self.server.acked.get(id) {
                    for h in hashes {
                        if mine
                            .automerge()
                            .get_change_by_hash(&automerge::ChangeHash(*h))
                            .is_none()
                        {
                            return Err(format!(
                                "{} lacks acknowledged change {} of {id}",
                                self.name(d),
                                hex(h)
                            ));
                        }
                    }
                }
            }
        }
        // 3. Nothing recorded on a device is lost (but on a revoked one, or one of a
        // disabled user, or what its worker discarded after a refusal).
        for (i, entry) in self.ledger.entries.iter().enumerate() {
            if self.revoked.contains(&entry.device)
                || self.disabled.contains(&entry.device)
                || self.server.erased.contains(&entry.case)
                || self.ledger.discarded(i)
            {
                continue;
            }
            if let Item::Household(id) = &entry.item {
                if self.ledger.removed_household.contains(id) {
                    continue;
                }
            }
            let Some((_, _, _, case, _)) = live.iter().find(|(c, ..)| *c == entry.case) else {
                return Err(format!(
                    "LOST: {} created {} at step {}, but the server never got it",
                    self.name(entry.device),
                    entry.case,
                    entry.step
                ));
            };
            if !ledger::present(case, &entry.item) {
                return Err(format!(
                    "LOST: {:?} recorded by {} on {} at step {} is not on the server (assigned to {})",
                    entry.item,
                    self.name(entry.device),
                    entry.case,
                    entry.step,
                    case.assigned_to
                ));
            }
        }
        // 4. The other district's CHW holds none of this district's cases.
        for (d, dev) in self.devices.iter().enumerate() {
            let u = self.user(&dev.user)?;
            if u.role == Role::Chw && u.districts.iter().any(|x| x == OTHER_DISTRICT) {
                for id in dev.store.case_ids().map_err(e)? {
                    if let Some(rec) = self.server.doc(&id)? {
                        if rec.routing.district != OTHER_DISTRICT {
                            return Err(format!("LEAK: {} holds {id} of {DISTRICT}", self.name(d)));
                        }
                    }
                }
            }
        }
        // 7. Every rule a case's state shows holds on the server's copy.
        self.check_server_rules()
    }
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
