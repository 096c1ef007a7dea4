//! Deterministic multi-device simulation (issue #5): the server's sync engine and
//! several phones in one process, over a network that partitions, delays, drops,
//! duplicates and reorders messages, all driven by one seed.
//!
//! ```no_run
//! use casesync_tests::sim::{Phones, Sim};
//! let phones = Phones::new();
//! let mut sim = Sim::new(7, &phones).expect("setup");
//! sim.run(100).expect("random steps");
//! sim.run_until_quiet().expect("quiet");
//! sim.check().expect("invariants");
//! ```
//!
//! The seed fixes the schedule (which device does what, which message is delivered,
//! dropped or duplicated) and every input. With [`Phones::seeded`] (as [`run_seed`]
//! uses) the actor ids and entry ids the core draws come from the same seed too, so a
//! run replays exactly, down to which of two concurrent scalar writes wins.
//!
//! Invariants, checked once the network has healed and every device has synced until
//! nothing moves (see [`Sim::check`]):
//! 1. every copy of every case a device's user may read is on that device and equal to
//!    the server's (same `Case` value, same heads); devices hold nothing else (no case
//!    out of scope, no erased case);
//! 2. every change the server acknowledged is in the server's copy and in every copy;
//! 3. nothing a device recorded is lost (cases, visits, goals, referrals, household
//!    members, tokens written into notes), even across reassignment, unless the case was
//!    erased or the device was revoked (a revoked phone's unsent edits are lost by design;
//!    what the server acknowledged from it is covered by 2);
//! 4. no device ever holds a case its user could never read (checked after every
//!    response), so the CHW of the other district sees nothing of this one.

mod device;
mod ledger;
mod net;
mod ops;
mod server;

use std::collections::BTreeSet;

use casesync_core::case::{CaseDoc, NewCase, Role};
use casesync_core::sync::{Step, SyncSession};
use casesync_server::config::Settings;
use casesync_server::store::UserRecord;
use casesync_server::sync::scope::can_read;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use device::{Phones, SimDevice, Status, MAX_PHONES};
pub use ledger::{Item, Ledger};
pub use net::{Net, Packet, Payload};
pub use ops::{EditKind, PHRASES};
pub use server::SimServer;

/// District of the simulated team.
pub const DISTRICT: &str = "Kurigram";
/// District of the CHW who must never see the team's cases.
pub const OTHER_DISTRICT: &str = "Gaibandha";
/// Lines of trace printed with a failure.
pub const TRACE_TAIL: usize = 30;
/// Most rounds of "every device syncs" before the network must be quiet.
pub const MAX_QUIET_ROUNDS: usize = 12;
/// Most round trips of one device's sync in the quiet phase.
pub const MAX_TRIPS: usize = 500;
/// Most revocations in one run (each uses a spare phone).
pub const MAX_REVOCATIONS: usize = 2;
/// Simulated time per step.
const STEP_MS: i64 = 7 * 60 * 1000;
/// Simulated start: 2024-01-01.
const START_MS: i64 = 1_704_067_200_000;

/// A failed run: the seed, where it failed, why, and the last steps. Its `Debug` is its
/// `Display`, so `expect` in a test prints it readably.
#[derive(Clone)]
pub struct Failure {
    /// Seed of the run.
    pub seed: u64,
    /// Step at which it failed (steps of the random phase, then the quiet phase).
    pub step: usize,
    /// What went wrong.
    pub message: String,
    /// The last [`TRACE_TAIL`] lines of the trace.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} failed at step {}: {}",
            self.seed, self.step, self.message
        )?;
        writeln!(f, "  last steps:")?;
        for line in &self.trace {
            writeln!(f, "    {line}")?;
        }
        write!(
            f,
            "  reproduce: cargo run -p casesync-tests --bin sim -- --start {} --seeds 1 --verbose",
            self.seed
        )
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::error::Error for Failure {}

/// Counts of a run (for the summary line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Edits applied on devices.
    pub edits: usize,
    /// Edits the case rules refused locally.
    pub refused_edits: usize,
    /// Requests the server answered.
    pub served: usize,
    /// Messages lost (dropped, or sent into a cut link).
    pub lost: usize,
    /// Requests delivered twice.
    pub duplicated: usize,
    /// Cases erased.
    pub erased: usize,
    /// Devices revoked.
    pub revoked: usize,
}

type R<T> = Result<T, String>;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// One simulated world.
pub struct Sim<'a> {
    /// The seed.
    pub seed: u64,
    rng: StdRng,
    /// The server.
    pub server: SimServer,
    /// Every device slot (revoked and wiped ones stay, as retired slots).
    pub devices: Vec<SimDevice<'a>>,
    phones: &'a Phones,
    next_phone: usize,
    /// The network.
    pub net: Net,
    /// What devices recorded.
    pub ledger: Ledger,
    /// Counts.
    pub stats: Stats,
    trace: Vec<String>,
    verbose: bool,
    step: usize,
    next_request: u64,
    next_case: u32,
    chws: Vec<String>,
    users: Vec<UserRecord>,
    /// Largest page devices ask for (sessions opened from now on).
    pub page_bytes: u32,
    /// Device slots that were ever revoked.
    revoked: BTreeSet<usize>,
}

impl<'a> Sim<'a> {
    /// A world for `seed`: a server, a coordinator and 2–4 CHWs in [`DISTRICT`], and a
    /// CHW in [`OTHER_DISTRICT`], each with one phone from `phones`.
    pub fn new(seed: u64, phones: &'a Phones) -> Result<Self, Failure> {
        Self::build(seed, phones).map_err(|message| Failure {
            seed,
            step: 0,
            message,
            trace: Vec::new(),
        })
    }

    fn build(seed: u64, phones: &'a Phones) -> R<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        // Small pages so paging, resumption and `more` are exercised.
        let server_page = [2 * 1024, 8 * 1024, 64 * 1024][rng.gen_range(0..3)];
        let settings = Settings {
            max_page_bytes: server_page,
            ..Settings::default()
        };
        let page_bytes = [1024, 16 * 1024, 256 * 1024][rng.gen_range(0..3)];
        let server = SimServer::new(settings)?;
        let n_chw = rng.gen_range(2..=4);
        let coordinator_sensitive = rng.gen_bool(0.75);
        let mut users =
            vec![server.add_user("coord", Role::Coordinator, DISTRICT, coordinator_sensitive)?];
        let mut chws = Vec::new();
        for i in 1..=n_chw {
            let id = format!("chw{i}");
            users.push(server.add_user(&id, Role::Chw, DISTRICT, false)?);
            chws.push(id);
        }
        users.push(server.add_user("outsider", Role::Chw, OTHER_DISTRICT, false)?);
        let mut sim = Sim {
            seed,
            rng,
            server,
            devices: Vec::new(),
            phones,
            next_phone: 0,
            net: Net::default(),
            ledger: Ledger::default(),
            stats: Stats::default(),
            trace: Vec::new(),
            verbose: false,
            step: 0,
            next_request: 0,
            next_case: 0,
            chws,
            users,
            page_bytes,
            revoked: BTreeSet::new(),
        };
        let names: Vec<String> = sim.users.iter().map(|u| u.user_id.clone()).collect();
        for u in names {
            sim.add_device(&u)?;
        }
        sim.note(format!(
            "setup: {n_chw} CHWs, coordinator sensitive access {coordinator_sensitive}, \
             server page {server_page} B, device page {page_bytes} B"
        ));
        Ok(sim)
    }

    /// Prints every trace line as it happens.
    pub fn set_verbose(&mut self, on: bool) {
        self.verbose = on;
    }

    /// The whole trace so far.
    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    fn note(&mut self, line: String) {
        let line = format!("{:>4} {line}", self.step);
        if self.verbose {
            println!("{line}");
        }
        self.trace.push(line);
    }

    fn fail(&self, message: String) -> Failure {
        let from = self.trace.len().saturating_sub(TRACE_TAIL);
        Failure {
            seed: self.seed,
            step: self.step,
            message,
            trace: self.trace[from..].to_vec(),
        }
    }

    fn user(&self, user_id: &str) -> R<&UserRecord> {
        self.users
            .iter()
            .find(|u| u.user_id == user_id)
            .ok_or_else(|| format!("no user {user_id}"))
    }

    fn now_ms(&self) -> i64 {
        START_MS + self.step as i64 * STEP_MS
    }

    /// Logs `user` in on a new phone; returns its slot.
    pub fn add_device(&mut self, user_id: &str) -> R<usize> {
        let store = self
            .phones
            .get(self.next_phone)
            .ok_or("out of phones (raise MAX_PHONES)")?;
        self.next_phone += 1;
        let role = self.user(user_id)?.role;
        let n = self.devices.iter().filter(|d| d.user == user_id).count();
        let id = format!("{user_id}-phone{}", n + 1);
        self.server.add_device(&id, user_id)?;
        self.devices.push(SimDevice::new(&id, user_id, role, store));
        self.net.add_link();
        Ok(self.devices.len() - 1)
    }

    fn dev(&self, d: usize) -> R<&SimDevice<'a>> {
        self.devices.get(d).ok_or_else(|| format!("no device {d}"))
    }

    fn name(&self, d: usize) -> String {
        self.devices
            .get(d)
            .map_or_else(|| format!("d{d}"), |x| format!("d{d}:{}", x.id))
    }

    // ----- the random schedule -----

    /// Runs `steps` random steps.
    pub fn run(&mut self, steps: usize) -> Result<(), Failure> {
        for _ in 0..steps {
            self.step += 1;
            self.random_step().map_err(|m| self.fail(m))?;
        }
        Ok(())
    }

    fn random_step(&mut self) -> R<()> {
        let r = self.rng.gen_range(0..100);
        let n = self.devices.len();
        let d = self.rng.gen_range(0..n);
        let a: usize = self.rng.gen();
        let param: u64 = self.rng.gen();
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
        let mut doc = CaseDoc::create(&ctx, actor, &new).map_err(e)?;
        store.save_local(&mut doc).map_err(e)?;
        self.stats.edits += 1;
        let line = format!(
            "{} creates {id} for {assigned_to}{}",
            self.name(d),
            if new.sensitive { " (sensitive)" } else { "" }
        );
        self.ledger.record(d, &id, Item::Case, self.step);
        self.note(line);
        Ok(())
    }

    /// Device `d` makes one edit of `kind` to `case` (parameters from `rng`).
    pub fn edit(&mut self, d: usize, case: &str, kind: EditKind, rng: &mut StdRng) -> R<()> {
        let dev = self.dev(d)?;
        let mut doc = dev.store.load_case(case).map_err(e)?;
        doc.set_actor(dev.store.actor(&dev.id).map_err(e)?);
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
                self.stats.edits += 1;
                if kind == EditKind::RemoveHousehold {
                    if let Some(id) = what.split(' ').nth(1) {
                        self.ledger.removed_household.insert(id.to_owned());
                    }
                }
                for item in items {
                    self.ledger.record(d, case, item, self.step);
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

    // ----- sync over the network -----

    /// Device `d` sends its next sync request (opening a session if none is open).
    /// Nothing happens if it already waits for a response; with its link cut, the
    /// request fails at once.
    pub fn sync(&mut self, d: usize) -> R<()> {
        let up = self.net.is_up(d);
        let id = self.next_request + 1;
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        if dev.status == Status::Wiped || dev.waiting.is_some() {
            return Ok(());
        }
        if dev.session.is_none() {
            dev.session = Some(SyncSession::new(dev.store, &dev.id, self.page_bytes).map_err(e)?);
        }
        let Some(session) = dev.session.as_mut() else {
            return Ok(());
        };
        let bytes = session
            .next_request()
            .map_err(|x| format!("next_request: {x}"))?;
        if !up {
            session.abandon_request();
            dev.session = None;
            self.stats.lost += 1;
            self.note(format!("{} cannot connect (link down)", self.name(d)));
            return Ok(());
        }
        self.next_request = id;
        dev.waiting = Some(id);
        self.net.send(Packet {
            device: d,
            payload: Payload::Request {
                id,
                bytes,
                orphan: false,
            },
        });
        self.note(format!("{} sends req#{id}", self.name(d)));
        Ok(())
    }

    /// Delivers the `i`-th message in flight (any device's: reordering), or loses it
    /// if its device's link is cut.
    pub fn deliver(&mut self, i: usize) -> R<()> {
        let Some(p) = self.net.take(i) else {
            return Ok(());
        };
        if !self.net.is_up(p.device) {
            self.stats.lost += 1;
            self.note(format!("{} lost (link down)", p.describe()));
            return Ok(());
        }
        match p.payload {
            Payload::Request { id, bytes, orphan } => {
                let served = self.server.serve(&bytes)?;
                self.stats.served += 1;
                let r = &served.response;
                self.note(format!(
                    "server answers req#{id}{} of {}: {} acked, {} refused{}, {} docs, {} removed{}{}",
                    if orphan { " (dup)" } else { "" },
                    self.name(p.device),
                    r.acked.len(),
                    r.refused.len(),
                    refusals(r),
                    r.docs.len(),
                    r.removed.len(),
                    if r.more { ", more" } else { "" },
                    if r.wipe { ", WIPE" } else { "" },
                ));
                if !orphan {
                    self.net.send(Packet {
                        device: p.device,
                        payload: Payload::Response {
                            id,
                            bytes: served.bytes,
                        },
                    });
                }
                Ok(())
            }
            Payload::Response { id, bytes } => self.receive(p.device, id, &bytes),
        }
    }

    /// Device `d` applies the response to request `id` (ignored if it gave up on it).
    fn receive(&mut self, d: usize, id: u64, bytes: &[u8]) -> R<()> {
        let name = self.name(d);
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        if dev.waiting != Some(id) {
            self.note(format!("{name} ignores resp#{id} (gave up on it)"));
            return Ok(());
        }
        dev.waiting = None;
        let Some(session) = dev.session.as_mut() else {
            return Err(format!("{name} waits without a session"));
        };
        let step = session
            .handle_response(bytes)
            .map_err(|x| format!("{name} failed to apply resp#{id}: {x}"))?;
        match step {
            Step::Continue => {}
            Step::Done => dev.session = None,
            Step::Wiped => {
                dev.session = None;
                dev.status = Status::Wiped;
            }
        }
        self.note(format!("{name} applies resp#{id}: {step:?}"));
        self.check_no_leak(d)?;
        if step == Step::Continue {
            self.sync(d)?;
        }
        Ok(())
    }

    /// Device `d` stops waiting for its response (time-out): the request may still
    /// reach the server, whose answer is then lost. `end`: it also closes the session.
    pub fn timeout(&mut self, d: usize, end: bool) -> R<()> {
        let name = self.name(d);
        let dev = self.devices.get_mut(d).ok_or("no device")?;
        let Some(id) = dev.waiting.take() else {
            return Ok(());
        };
        if let Some(s) = dev.session.as_mut() {
            s.abandon_request();
        }
        if end {
            dev.session = None;
        }
        self.note(format!(
            "{name} times out on req#{id}{}",
            if end { " and ends its session" } else { "" }
        ));
        Ok(())
    }

    /// Loses the `i`-th message in flight.
    pub fn drop_message(&mut self, i: usize) -> R<()> {
        if let Some(p) = self.net.take(i) {
            self.stats.lost += 1;
            self.note(format!("{} dropped", p.describe()));
        }
        Ok(())
    }

    /// Duplicates the `i`-th message in flight if it is a request: the copy reaches the
    /// server later and its answer is thrown away.
    pub fn duplicate(&mut self, i: usize) -> R<()> {
        if self.net.in_flight.is_empty() {
            return Ok(());
        }
        let i = i % self.net.in_flight.len();
        let p = self.net.in_flight[i].clone();
        if let Payload::Request { id, bytes, .. } = p.payload {
            self.stats.duplicated += 1;
            self.net.send(Packet {
                device: p.device,
                payload: Payload::Request {
                    id,
                    bytes,
                    orphan: true,
                },
            });
            self.note(format!("req#{id} of {} duplicated", self.name(p.device)));
        }
        Ok(())
    }

    // ----- coordinator and admin actions on the server -----

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

    // ----- healing -----

    /// Heals every link, delivers everything in flight, times out whatever was lost,
    /// then lets every device sync until a whole round moves nothing.
    pub fn run_until_quiet(&mut self) -> Result<(), Failure> {
        self.quiet().map_err(|m| self.fail(m))
    }

    fn quiet(&mut self) -> R<()> {
        self.step += 1;
        self.net.heal_all();
        self.note("quiet phase: heal all, deliver everything in flight".to_owned());
        let mut guard = 0;
        while !self.net.in_flight.is_empty() {
            let i = self.rng.gen();
            self.deliver(i)?;
            guard += 1;
            if guard > 100_000 {
                return Err("the network never drained".into());
            }
        }
        for d in 0..self.devices.len() {
            self.timeout(d, false)?;
        }
        for round in 1..=MAX_QUIET_ROUNDS {
            self.step += 1;
            let mut moved = false;
            for d in 0..self.devices.len() {
                moved |= self.sync_direct(d)?;
            }
            self.note(format!("quiet round {round}: moved {moved}"));
            if !moved {
                return Ok(());
            }
        }
        Err(format!(
            "still moving after {MAX_QUIET_ROUNDS} rounds of sync"
        ))
    }

    /// Device `d` syncs to the end over a perfect link. Returns whether anything moved.
    fn sync_direct(&mut self, d: usize) -> R<bool> {
        let mut moved = false;
        for _ in 0..MAX_TRIPS {
            if self.dev(d)?.status == Status::Wiped {
                return Ok(moved);
            }
            self.sync(d)?;
            let Some(id) = self.dev(d)?.waiting else {
                return Ok(moved);
            };
            let Some(i) = self.net.in_flight.iter().position(|p| p.device == d) else {
                return Err(format!("{} waits for nothing", self.name(d)));
            };
            let p = self.net.in_flight.remove(i);
            let Payload::Request { bytes, .. } = p.payload else {
                return Err("expected a request".into());
            };
            let served = self.server.serve(&bytes)?;
            self.stats.served += 1;
            let r = &served.response;
            moved |= !r.docs.is_empty() || !r.removed.is_empty() || !r.acked.is_empty() || r.wipe;
            self.note(format!(
                "{} quiet sync req#{id}: {} acked, {} refused{}, {} docs, {} removed{}",
                self.name(d),
                r.acked.len(),
                r.refused.len(),
                refusals(r),
                r.docs.len(),
                r.removed.len(),
                if r.wipe { ", WIPE" } else { "" },
            ));
            // `receive` sends the next request itself on `Continue`: take it back out.
            self.receive(d, id, &served.bytes)?;
            if self.dev(d)?.waiting.is_none() {
                return Ok(moved);
            }
            if let Some(dev) = self.devices.get_mut(d) {
                if let Some(s) = dev.session.as_mut() {
                    s.abandon_request();
                }
                dev.waiting = None;
            }
            self.net.in_flight.retain(|p| p.device != d);
        }
        Err(format!(
            "{} did not finish syncing in {MAX_TRIPS} round trips",
            self.name(d)
        ))
    }

    // ----- invariants -----

    /// Invariant 4, after every response: device `d` holds no case its user could
    /// never read (by the server's routing history), except cases it created itself
    /// (a coordinator without sensitive access may register a sensitive case, which
    /// stays on the phone until the server has acknowledged it).
    fn check_no_leak(&self, d: usize) -> R<()> {
        let dev = self.dev(d)?;
        let user = self.user(&dev.user)?;
        for id in dev.store.case_ids().map_err(e)? {
            let own = self
                .ledger
                .entries
                .iter()
                .any(|x| x.case == id && x.item == Item::Case && x.device == d);
            match self.server.doc(&id)? {
                Some(rec) => {
                    if !own && !rec.history.iter().any(|(_, r)| can_read(user, r)) {
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
                    return Err(format!("{} was revoked but never wiped", self.name(d)))
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
        // 3. Nothing recorded on a (never revoked) device is lost.
        for entry in &self.ledger.entries {
            if self.revoked.contains(&entry.device) || self.server.erased.contains(&entry.case) {
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
            if self
                .user(&dev.user)?
                .districts
                .iter()
                .any(|x| x == OTHER_DISTRICT)
            {
                for id in dev.store.case_ids().map_err(e)? {
                    if let Some(rec) = self.server.doc(&id)? {
                        if rec.routing.district != OTHER_DISTRICT {
                            return Err(format!("LEAK: {} holds {id} of {DISTRICT}", self.name(d)));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn refusals(r: &casesync_core::protocol::SyncResponse) -> String {
    if r.refused.is_empty() {
        return String::new();
    }
    let list: Vec<String> = r
        .refused
        .iter()
        .map(|x| format!("{}:{:?}", x.doc_id, x.code))
        .collect();
    format!(" [{}]", list.join(", "))
}

fn hex(h: &[u8; 32]) -> String {
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Runs one seed: `steps` random steps, quiet, check. Returns the run's counts.
pub fn run_seed(seed: u64, steps: usize, verbose: bool) -> Result<Stats, Failure> {
    let phones = Phones::seeded(seed);
    let mut sim = Sim::new(seed, &phones)?;
    sim.set_verbose(verbose);
    let result = sim
        .run(steps)
        .and_then(|()| sim.run_until_quiet())
        .and_then(|()| sim.check())
        .map(|()| sim.stats);
    // Closing a sled database waits for its flusher thread (up to its flush interval):
    // let that happen off the critical path.
    let Sim { server, .. } = sim;
    std::thread::spawn(move || drop(server));
    result
}

/// Seeds to run from the environment variable `var` (default `default`).
pub fn seeds_from_env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
