//! The random schedule (edits, syncs, deliveries, partitions, losses, erasures,
//! revocations, compactions, scope changes, refreshes whose answer is lost), and the
//! scripted actions tests call directly.

use casesync_core::case::{CaseDoc, NewCase, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    e, ops, EditKind, Failure, Item, Sim, Status, MAX_DISABLED, MAX_REVOCATIONS, R,
    SCOPE_CHANGE_ONE_IN,
};
use casesync_server::sync::scope::can_read;

impl<'a> Sim<'a> {
    /// Runs `steps` random steps.
    pub fn run(&mut self, steps: usize) -> Result<(), Failure> {
        for _ in 0..steps {
            self.step += 1;
            self.random_step().map_err(|m| self.fail(m))?;
        }
        Ok(())
    }

    fn random_step(&mut self) -> R<()> {
        let r = self.rng.gen_range(0..104);
        let n = self.devices.len();
        let d = self.rng.gen_range(0..n);
        let a: usize = self.rng.gen();
        let param: u64 = self.rng.gen();
        if self.rng.gen_ratio(1, SCOPE_CHANGE_ONE_IN) {
            return self.change_scope(param);
        }
        match r {
            0..=33 => self.random_edit(d, a, param),
            34..=55 => self.sync(d),
            56..=79 => self.deliver(a),
            80..=83 => {
                self.net.partition(d);
                self.note(format!("partition {}", self.name(d)));
                Ok(())
            }
            84..=87 => {
                self.net.heal(d);
                self.note(format!("heal {}", self.name(d)));
                Ok(())
            }
            88..=89 => self.drop_message(a),
            90..=91 => self.duplicate(a),
            92..=93 => self.timeout(d, param.is_multiple_of(2)),
            94..=95 => self.erase(a),
            96 => self.revoke(d),
            97 => {
                let n = self.server.compact(param as u32 % 4 + 1)?;
                self.note(format!("server compacts {n} cases"));
                Ok(())
            }
            // A refresh whose answer is lost; half the time the phone retries at once
            // (within the grace window), else at a later step (outside it).
            100 | 101 => {
                self.refresh(d, true)?;
                if param.is_multiple_of(2) {
                    self.refresh(d, false)?;
                }
                Ok(())
            }
            98 | 99 => self.hostile(a, param),
            102 => self.refresh(d, false),
            103 => self.sign_in(d),
            _ => {
                self.net.heal_all();
                self.note("heal all".to_owned());
                Ok(())
            }
        }
    }

    /// A random edit on device `d`: a new case, or an edit of one of its cases.
    fn random_edit(&mut self, d: usize, a: usize, param: u64) -> R<()> {
        if self.dev(d)?.status == Status::Wiped {
            return Ok(());
        }
        let ids = self.dev(d)?.store.case_ids().map_err(e)?;
        if ids.is_empty() || param.is_multiple_of(9) {
            return self.create_case(d, param);
        }
        let case = ids[a % ids.len()].clone();
        let mut rng = StdRng::seed_from_u64(param);
        let mut kind = ops::pick_kind(&mut rng);
        let dev = self.dev(d)?;
        if dev.role != Role::Coordinator && ops::coordinator_only(kind) {
            kind = EditKind::UpdateVisit;
        }
        self.edit(d, &case, kind, &mut rng)
    }

    /// Device `d` registers a new case (a CHW for themselves, the coordinator for a CHW).
    pub fn create_case(&mut self, d: usize, param: u64) -> R<()> {
        self.create(d, param, true)
    }

    /// Like [`create_case`](Self::create_case), never sensitive (for scripted tests).
    pub fn create_open_case(&mut self, d: usize, param: u64) -> R<()> {
        self.create(d, param, false)
    }

    fn create(&mut self, d: usize, param: u64, may_be_sensitive: bool) -> R<()> {
        let mut rng = StdRng::seed_from_u64(param);
        let dev = self.dev(d)?;
        let (store, dev_id, ctx) = (dev.store, dev.id.clone(), dev.ctx(self.now_ms()));
        let district = self
            .user(&dev.user)?
            .districts
            .first()
            .cloned()
            .unwrap_or_default();
        let assigned_to = match dev.role {
            Role::Coordinator => self.chws[rng.gen_range(0..self.chws.len())].clone(),
            _ => dev.user.clone(),
        };
        // A coordinator without sensitive access may register a sensitive case too: it
        // then leaves their scope (see `can_create`).
        let sensitive = rng.gen_bool(0.15) && may_be_sensitive;
        self.next_case += 1;
        let id = format!("case-{}", self.next_case);
        let new = NewCase {
            id: id.clone(),
            district,
            village: "Char Kukri".into(),
            assigned_to: assigned_to.clone(),
            sensitive,
            client_name: ops::phrase(&mut rng),
        };
        let actor = store.actor(&dev_id).map_err(e)?;
        let mut doc = CaseDoc::create(&ctx, actor.clone(), &new).map_err(e)?;
        store.save_local(&mut doc).map_err(e)?;
        let seq = doc.own_changes_after(&actor, 0).1;
        self.stats.edits += 1;
        let line = format!(
            "{} creates {id} for {assigned_to}{}",
            self.name(d),
            if new.sensitive { " (sensitive)" } else { "" }
        );
        self.ledger.record(d, &id, Item::Case, self.step, seq);
        self.note(line);
        Ok(())
    }

    /// Device `d` makes one edit of `kind` to `case` (parameters from `rng`).
    pub fn edit(&mut self, d: usize, case: &str, kind: EditKind, rng: &mut StdRng) -> R<()> {
        let dev = self.dev(d)?;
        let mut doc = dev.store.load_case(case).map_err(e)?;
        let actor = dev.store.actor(&dev.id).map_err(e)?;
        doc.set_actor(actor.clone());
        let ctx = dev.ctx(self.now_ms());
        let env = ops::EditEnv {
            ctx: &ctx,
            ledger: &self.ledger,
            chws: &self.chws,
            token: format!("[t{}]", self.step),
            day: self.step as i64 / 100,
        };
        match ops::apply(&mut doc, case, kind, rng, &env) {
            Ok((what, items)) => {
                dev.store.save_local(&mut doc).map_err(e)?;
                let seq = doc.own_changes_after(&actor, 0).1;
                self.stats.edits += 1;
                if kind == EditKind::RemoveHousehold {
                    if let Some(id) = what.split(' ').nth(1) {
                        self.ledger.removed_household.insert(id.to_owned());
                    }
                }
                for item in items {
                    self.ledger.record(d, case, item, self.step, seq);
                }
                self.note(format!("{} edits {case}: {what}", self.name(d)));
            }
            Err(err) => {
                self.stats.refused_edits += 1;
                self.note(format!(
                    "{} edits {case}: {kind:?} refused locally ({err})",
                    self.name(d)
                ));
            }
        }
        Ok(())
    }

    /// The coordinator erases the `a`-th case of the run (consent withdrawn), if it is
    /// on the server and in their scope.
    pub fn erase(&mut self, a: usize) -> R<()> {
        if self.ledger.cases.is_empty() {
            return Ok(());
        }
        let id = self.ledger.cases[a % self.ledger.cases.len()].clone();
        let Some(rec) = self.server.doc(&id)? else {
            return Ok(());
        };
        let coord = self.user("coord")?;
        if rec.erased || !can_read(coord, &rec.routing) {
            return Ok(());
        }
        if self.server.erase(&id)? {
            self.stats.erased += 1;
            self.note(format!("coordinator erases {id} (consent withdrawn)"));
        }
        Ok(())
    }

    /// An administrator changes a scope: the coordinator loses a district or its
    /// sensitive access, gets its first scope back, or a CHW is disabled.
    pub fn change_scope(&mut self, param: u64) -> R<()> {
        match param % 10 {
            0..=2 => self.remove_district(param / 10),
            3..=4 => self.remove_sensitive_access(),
            5..=6 => self.restore_coordinator_scope(),
            _ => self.disable_chw(param / 10),
        }
    }

    /// The coordinator loses its `pick`-th district (if it has two).
    pub fn remove_district(&mut self, pick: u64) -> R<()> {
        let u = self.user("coord")?.clone();
        if u.districts.len() < 2 {
            return Ok(());
        }
        let mut districts = u.districts.clone();
        let gone = districts.remove((pick % districts.len() as u64) as usize);
        self.set_scope("coord", districts, u.sensitive_access)?;
        self.stats.scope_shrinks += 1;
        self.note(format!("admin removes district {gone} from coord"));
        Ok(())
    }

    /// The coordinator loses sensitive access (if it has it).
    pub fn remove_sensitive_access(&mut self) -> R<()> {
        let u = self.user("coord")?.clone();
        if !u.sensitive_access {
            return Ok(());
        }
        self.set_scope("coord", u.districts, false)?;
        self.stats.scope_shrinks += 1;
        self.note("admin removes coord's sensitive access".to_owned());
        Ok(())
    }

    /// The coordinator gets its scope of the start back (districts, sensitive access).
    pub fn restore_coordinator_scope(&mut self) -> R<()> {
        let (u, first) = (self.user("coord")?.clone(), self.coord_at_start.clone());
        if u.districts == first.districts && u.sensitive_access == first.sensitive_access {
            return Ok(());
        }
        self.set_scope("coord", first.districts.clone(), first.sensitive_access)?;
        self.note(format!(
            "admin restores coord's scope: {:?}, sensitive access {}",
            first.districts, first.sensitive_access
        ));
        Ok(())
    }

    fn set_scope(&mut self, user_id: &str, districts: Vec<String>, sensitive: bool) -> R<()> {
        let now = self.server.set_scope(user_id, &districts, sensitive)?;
        if let Some(u) = self.users.iter_mut().find(|u| u.user_id == user_id) {
            self.past_users.push(std::mem::replace(u, now));
        }
        Ok(())
    }

    /// The admin disables the `pick`-th CHW of the team: their phones are wiped at their
    /// next contact (unsent edits on them are lost, as on a revoked phone).
    pub fn disable_chw(&mut self, pick: u64) -> R<()> {
        if self.stats.disabled >= MAX_DISABLED || self.chws.is_empty() {
            return Ok(());
        }
        let chw = self.chws[(pick % self.chws.len() as u64) as usize].clone();
        let now = self.server.disable_user(&chw)?;
        if let Some(u) = self.users.iter_mut().find(|u| u.user_id == chw) {
            *u = now;
        }
        self.stats.disabled += 1;
        for (d, dev) in self.devices.iter_mut().enumerate() {
            if dev.user == chw {
                self.disabled.insert(d);
                if dev.status == Status::Active {
                    dev.status = Status::Revoked;
                }
            }
        }
        self.note(format!("admin disables {chw}"));
        Ok(())
    }

    /// The admin revokes device `d` (lost phone); its user logs in on a new phone.
    /// The lost phone may still edit offline; it is wiped at its next contact.
    pub fn revoke(&mut self, d: usize) -> R<()> {
        if self.revoked.len() >= MAX_REVOCATIONS || self.dev(d)?.status != Status::Active {
            return Ok(());
        }
        let id = self.dev(d)?.id.clone();
        let user = self.dev(d)?.user.clone();
        self.server.revoke(&id)?;
        self.revoked.insert(d);
        self.stats.revoked += 1;
        if let Some(dev) = self.devices.get_mut(d) {
            dev.status = Status::Revoked;
        }
        let new = self.add_device(&user)?;
        self.note(format!(
            "admin revokes {}; {user} logs in on {}",
            self.name(d),
            self.name(new)
        ));
        Ok(())
    }
}
