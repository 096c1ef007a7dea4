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
//!    members, tokens written into notes), even across reassignment and scope shrinks
//!    (an edit made before the user lost the district or sensitive access is
//!    acknowledged before the case leaves the phone), unless the case was erased or the
//!    device was revoked or its user disabled (such a phone's unsent edits are lost by
//!    design; what the server acknowledged from it is covered by 2), or its worker
//!    discarded it: in the quiet phase the honest app discards edits the server refused
//!    for a permission the user no longer holds (`RestrictedField`, `OutOfScope`: a
//!    coordinator un-marked a case sensitive offline, then lost sensitive access), which
//!    nothing else can resolve; what the server never accepted is then dropped by the
//!    worker's choice (DESIGN §4.3);
//! 4. no device ever holds a case its user could never read under any scope they had
//!    (checked after every response), so the CHW of the other district sees nothing of
//!    this one;
//! 5. no device is wiped unless the administrator revoked it or disabled its user: a
//!    refresh whose answer was lost, retried at once, gets the same successor; retried
//!    after the grace window it asks for a password login, and the phone keeps every
//!    unsent edit (then 3 covers them);
//! 6. no response, honest or hostile, carries a case outside its user's read scope at the
//!    time of the pull (checked in `SimServer::serve`, after every response);
//! 7. every rule a case's state shows holds on the server's copy (`sim/hostile.rs`), and
//!    every hostile push is refused, leaving the server's record as it was.
//!
//! Scope changes (issue #13) are part of the schedule: the coordinator loses one of its
//! districts or its sensitive access, gets them back, or a CHW is disabled (their
//! phones are then wiped at their next contact). Invariant 1 holds for the scope in
//! force after the last change: a disabled user's phones hold nothing.
//!
//! Hostile actors (issue #14, `hostile`): a coordinator without sensitive access pushing
//! old copies (un-marking sensitive, moving the district), a worker's modified app
//! breaking the stage rules, the other district's worker writing into the team's case;
//! every such push must be refused and leave the server's record as it was. Every
//! response, honest or hostile, is checked at once against the user's read scope at the
//! time of the pull (6.), and once quiet every rule a case's state shows holds on the
//! server's copy of every case (7.). Requests go through `SyncEngine::handle`, the door
//! the HTTP route runs.
//!
//! One concern per file: `schedule` (the random steps and the scripted actions),
//! `exchange` (requests and responses over the [`Net`]), `quiet` (the healing phase),
//! `invariants` (the checks), `report` ([`Failure`], [`Stats`]), `device` (phones),
//! `server` (the server side), `ledger` (what devices recorded), `ops` (case edits),
//! `tokens` (refresh rotation with lost answers, sign-in after a revoked family),
//! `hostile` (the hostile actors and the server-side rule check).

mod device;
mod exchange;
mod hostile;
mod invariants;
mod ledger;
mod net;
mod ops;
mod quiet;
mod report;
mod schedule;
mod server;
mod tokens;

use std::collections::BTreeSet;

use casesync_core::case::Role;
use casesync_server::config::Settings;
use casesync_server::store::UserRecord;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use device::{Phones, SimDevice, Status, MAX_PHONES};
pub use hostile::MALLORY;
pub use ledger::{Item, Ledger};
pub use net::{Net, Packet, Payload};
pub use ops::{EditKind, PHRASES};
pub use report::{Failure, Stats};
pub use server::SimServer;

/// District of the simulated team.
pub const DISTRICT: &str = "Kurigram";
/// District of the CHW who must never see the team's cases.
pub const OTHER_DISTRICT: &str = "Gaibandha";
/// The one CHW of [`OTHER_DISTRICT`].
pub const OUTSIDER: &str = "outsider";
/// Lines of trace printed with a failure.
pub const TRACE_TAIL: usize = 30;
/// Most rounds of "every device syncs" before the network must be quiet.
pub const MAX_QUIET_ROUNDS: usize = 12;
/// Most round trips of one device's sync in the quiet phase.
pub const MAX_TRIPS: usize = 500;
/// Most revocations in one run (each uses a spare phone).
pub const MAX_REVOCATIONS: usize = 2;
/// Most users disabled in one run.
pub const MAX_DISABLED: usize = 1;
/// A step changes a user's scope with probability one in this.
pub const SCOPE_CHANGE_ONE_IN: u32 = 40;
/// Simulated time per step.
const STEP_MS: i64 = 7 * 60 * 1000;
/// Simulated start: 2024-01-01.
const START_MS: i64 = 1_704_067_200_000;

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
    /// Every earlier scope of a user (records as they were before each change).
    past_users: Vec<UserRecord>,
    /// The coordinator's record at the start (what "restore" gives back).
    coord_at_start: UserRecord,
    /// Largest page devices ask for (sessions opened from now on).
    pub page_bytes: u32,
    /// Device slots that were ever revoked.
    revoked: BTreeSet<usize>,
    /// Device slots of disabled users.
    disabled: BTreeSet<usize>,
}

impl<'a> Sim<'a> {
    /// A world for `seed`: a server, a coordinator and 2–4 CHWs in [`DISTRICT`], and a
    /// CHW in [`OTHER_DISTRICT`], each with one phone from `phones`. Half the seeds give
    /// the coordinator [`OTHER_DISTRICT`] too (so it can lose one).
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
        let coordinator_both = rng.gen_bool(0.5);
        let coord = server.add_user("coord", Role::Coordinator, DISTRICT, coordinator_sensitive)?;
        let coord = if coordinator_both {
            server.set_scope(
                "coord",
                &[DISTRICT.to_owned(), OTHER_DISTRICT.to_owned()],
                coordinator_sensitive,
            )?
        } else {
            coord
        };
        let mut users = vec![coord.clone()];
        let mut chws = Vec::new();
        for i in 1..=n_chw {
            let id = format!("chw{i}");
            users.push(server.add_user(&id, Role::Chw, DISTRICT, false)?);
            chws.push(id);
        }
        users.push(server.add_user(OUTSIDER, Role::Chw, OTHER_DISTRICT, false)?);
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
            past_users: Vec::new(),
            coord_at_start: coord,
            page_bytes,
            revoked: BTreeSet::new(),
            disabled: BTreeSet::new(),
        };
        let names: Vec<String> = sim.users.iter().map(|u| u.user_id.clone()).collect();
        for u in names {
            sim.add_device(&u)?;
        }
        sim.note(format!(
            "setup: {n_chw} CHWs, coordinator sensitive access {coordinator_sensitive}, \
             coordinator of both districts {coordinator_both}, \
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
        let tokens = self
            .server
            .login(user_id, &id)
            .map_err(|x| format!("login of {user_id} on {id}: {x}"))?;
        self.devices.push(SimDevice::new(
            &id,
            user_id,
            role,
            store,
            tokens.refresh_token,
        ));
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
