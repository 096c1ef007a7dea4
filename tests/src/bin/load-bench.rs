//! Load benchmark: many simulated devices syncing with one server at once.
//!
//! ```text
//! cargo run --profile production -p casesync-tests --bin load-bench -- --devices 200 --seconds 60 [--json]
//! cargo run --profile production -p casesync-tests --bin load-bench -- --devices 50 --seconds 10 \
//!     --server http://127.0.0.1:8080 --user chw1 --password demo-chw1-pass \
//!     --user coord --password demo-coord-pass
//! ```
//!
//! Without `--server` the harness starts the real server binary on loopback with a
//! temporary sled directory, creates `--chws` health workers and `--coordinators`
//! coordinators (one district each; the workers spread over the districts), and imports
//! `--cases-per-chw` cases of the benchmark caseload for every worker (`--caseload DIR`,
//! else the recorded one when it is there, else the seeded generator: see
//! `casesync_tests::caseload`; the output says which). Every device logs
//! in with its own device id (one in 20 is a coordinator's, the others are workers'),
//! keeps an in-memory store, and does its initial sync (not measured; at most
//! [`SETUP_PARALLELISM`] at once, like phones arriving over a morning rather than all in
//! the same second). Then four phases of `--seconds` each:
//!
//! * `no-op` (closed loop): syncs with nothing changed anywhere, every device syncing
//!   back to back;
//! * `changes` (closed loop): each device edits `--edits` of its cases locally, then
//!   syncs (pushes its changes and pulls the others'), back to back;
//! * `no-op` at `--rate-noop` and `changes` at `--rate-changes` (open loop): the same
//!   syncs, each device on a fixed schedule so that all devices together offer that many
//!   syncs per second.
//!
//! How to read the figures: in a closed loop the throughput is the server's saturation
//! throughput, and latency is only the queueing at that throughput (Little's law: 200
//! devices at 1,000 syncs/s wait 200 ms on average, however fast each sync is). The
//! latency targets are read from the open-loop phases, where latency is measured from
//! each sync's scheduled time, so a server that falls behind the offered rate shows it
//! in the percentiles (and in a throughput below the offered rate). The defaults of
//! `--rate-noop` and `--rate-changes` are the targets of issue #5 (1,000 no-op syncs/s,
//! 300 syncs/s with changes); `--rate-noop 0` / `--rate-changes 0` skip that phase.
//!
//! A sync is one complete session (every round trip until up to date); the local edits
//! are not timed. The initial sync runs the full device (core `SyncSession` over
//! `DeviceStore::in_memory`). The measured syncs run, by default, a wire-level device
//! that keeps its cursor and its editable cases loaded: an edit is one Automerge change,
//! a sync is encode, post, decode, and pulled documents are decoded and dropped. The
//! server does all its work either way; the device side stays light enough that the
//! bench, sharing the machine, measures the server. `--full-devices` runs the full
//! device for the measured syncs too (edits saved, pulled documents applied: on a small
//! machine the bench itself is then the bottleneck). Traffic goes only to loopback: a `--server` elsewhere is refused.
//! Server peak RSS is `VmHWM` of the server process (`--server-pid` for an existing
//! server).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casesync_core::case::{CaseDoc, EditCtx, ExtraValue, Role};
use casesync_core::protocol::{
    decode_response, encode_request, DocPush, LoginRequest, SyncRequest, TokenResponse,
    CONTENT_TYPE, PROTOCOL_VERSION,
};
use casesync_core::store::DeviceStore;
use casesync_core::sync::{Step, SyncSession, DEFAULT_PAGE_BYTES};
use casesync_tests::caseload::{to_case, CaseloadArgs, CaseloadSource};
use casesync_tests::harness::{login, test_key, ServerProc, UserSpec};
use clap::Parser;
use tokio::sync::Semaphore;

/// Cases per import request (well under the server's body limit).
const IMPORT_BATCH: usize = 500;
/// Logins in flight at once (each costs the server an Argon2 hash).
const LOGIN_PARALLELISM: usize = 8;
/// Longest one sync session may take before it counts as an error.
const SYNC_TIMEOUT: Duration = Duration::from_secs(20);
/// Most round trips one sync session may take.
const MAX_ROUND_TRIPS: u32 = 1_000;
/// Longest the initial syncs may take altogether.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Initial syncs in flight at once (each pulls the device's whole caseload).
const SETUP_PARALLELISM: usize = 16;
/// Attempts at each device's initial sync (setup, not measured).
const SETUP_ATTEMPTS: u32 = 3;
/// Default offered no-op syncs per second of the open-loop phase (the issue's target).
const TARGET_NOOP_RATE: f64 = 1_000.0;
/// Default offered syncs with changes per second of the open-loop phase (the target).
const TARGET_CHANGES_RATE: f64 = 300.0;
/// Pause after a failed sync, so a failing server is not hammered in a tight loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// Every n-th device belongs to a coordinator (when there are coordinators).
const COORDINATOR_EVERY: usize = 20;

#[derive(Parser, Debug)]
#[command(about = "casesync load benchmark: many devices syncing at once")]
struct Args {
    /// Simulated devices.
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// Duration of each phase, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Health workers to create (own server only).
    #[arg(long, default_value_t = 40)]
    chws: usize,
    /// Coordinators to create, one district each (own server only).
    #[arg(long, default_value_t = 2)]
    coordinators: usize,
    /// Cases assigned to each health worker (own server only).
    #[arg(long, default_value_t = 20)]
    cases_per_chw: usize,
    /// Documents each device edits before each sync of the `changes` phase.
    #[arg(long, default_value_t = 5)]
    edits: usize,
    /// Offered no-op syncs per second over all devices in the open-loop no-op phase
    /// (0: no such phase).
    #[arg(long, default_value_t = TARGET_NOOP_RATE)]
    rate_noop: f64,
    /// Offered syncs with changes per second over all devices in the open-loop changes
    /// phase (0: no such phase).
    #[arg(long, default_value_t = TARGET_CHANGES_RATE)]
    rate_changes: f64,
    /// Measured syncs run the full device (core `SyncSession` over the in-memory store:
    /// edits saved, pulled documents applied) instead of the wire-level device.
    #[arg(long)]
    full_devices: bool,
    /// Existing server (loopback only) instead of starting one.
    #[arg(long)]
    server: Option<String>,
    /// Users to log the devices in as (with --server; repeat, paired with --password).
    #[arg(long)]
    user: Vec<String>,
    /// Their passwords, in the same order.
    #[arg(long)]
    password: Vec<String>,
    /// Process id of the existing server, for its peak RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// One JSON object per phase instead of a table.
    #[arg(long)]
    json: bool,
    /// Also print, per phase, the syncs and p99 of every `--timeline` seconds (by
    /// when each sync began), to see a stall or a backlog (0: no timeline).
    #[arg(long, default_value_t = 0)]
    timeline: u64,
    #[command(flatten)]
    caseload: CaseloadArgs,
}

/// One account the devices log in as.
#[derive(Debug, Clone)]
struct Account {
    username: String,
    password: String,
    role: Role,
}

/// One simulated device.
struct LoadDevice {
    device_id: String,
    user: String,
    role: Role,
    token: String,
    store: DeviceStore,
    /// Cases it edits in the `changes` phase (in its scope, open).
    editable: Vec<String>,
    /// Wire-level state (see [`sync_wire`]).
    wire: Mutex<WireState>,
}

/// A wire-level device: its cursor and its editable cases kept loaded, so an edit is
/// one Automerge change and a sync is encode, post, decode. Pulled documents are
/// decoded and dropped (the server does all its work for them; the device does not).
#[derive(Default)]
struct WireState {
    cursor: Vec<u8>,
    docs: HashMap<String, CaseDoc>,
    /// Changes made since the last acknowledged push, per case.
    unsent: HashMap<String, Vec<Vec<u8>>>,
}

/// What one device measured in a phase.
#[derive(Debug, Default)]
struct Tally {
    /// The device is a coordinator's (its pulls cover a whole district).
    coordinator: bool,
    latencies_us: Vec<u64>,
    /// When each measured sync began (scheduled), from the phase start, in µs.
    began_us: Vec<u64>,
    round_trips: u64,
    errors: u64,
    first_error: Option<String>,
}

/// The figures of one phase.
#[derive(Debug)]
struct PhaseReport {
    /// The phase and its loop: `no-op`, `changes` (closed loop), `no-op @1000/s` (open).
    phase: String,
    devices: usize,
    seconds: f64,
    syncs: u64,
    round_trips: u64,
    throughput: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
    server_peak_rss_kib: Option<u64>,
    /// Server CPU time (user + system) spent during the phase per sync, in ms: unlike
    /// throughput, it does not depend on what else the machine runs.
    server_cpu_ms_per_sync: Option<f64>,
    /// Syncs, p50 and p99 (ms) of coordinators' devices and of workers' devices.
    by_role: [(&'static str, u64, f64, f64); 2],
    /// Per `--timeline` seconds: first second, syncs begun, their p99 (ms).
    timeline: Vec<(u64, u64, f64)>,
}

/// Syncs and p99 per `step` seconds of `(began µs, latency µs)` (nothing if `step` is 0).
fn timeline_of(timed: &[(u64, u64)], step: u64) -> Vec<(u64, u64, f64)> {
    if step == 0 {
        return Vec::new();
    }
    let mut buckets: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    for &(began, latency) in timed {
        buckets
            .entry(began / 1_000_000 / step * step)
            .or_default()
            .push(latency);
    }
    buckets
        .into_iter()
        .map(|(at, mut v)| {
            v.sort_unstable();
            (at, v.len() as u64, percentile(&v, 99.0))
        })
        .collect()
}

/// Refuses any server that is not on this machine.
fn check_loopback(url: &str) -> Result<String> {
    let url = url.trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .context("--server must be an http:// URL")?;
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        bail!("load-bench only talks to a server on loopback, not {host}");
    }
    Ok(url.to_owned())
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system) a process has used, in ms (`/proc/<pid>/stat`, whose
/// times are in USER_HZ = 100 ticks per second on Linux).
fn cpu_ms(pid: u32) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 1000.0 / USER_HZ)
}

/// The users of a server this bench starts: coordinators first, then workers.
fn own_users(args: &Args) -> Vec<UserSpec> {
    let districts = args.coordinators.max(1);
    let mut users = Vec::new();
    for c in 0..args.coordinators {
        let mut u = UserSpec::new(
            &format!("load-coord-{c:02}"),
            Role::Coordinator,
            &format!("load-d{c:02}"),
        );
        u.sensitive_access = true;
        users.push(u);
    }
    for w in 0..args.chws.max(1) {
        users.push(UserSpec::new(
            &format!("load-chw-{w:03}"),
            Role::Chw,
            &format!("load-d{:02}", w % districts),
        ));
    }
    users
}

/// Imports `per_chw` caseload cases for every worker, through their district's coordinator.
async fn import_cases(
    source: &CaseloadSource,
    http: &reqwest::Client,
    url: &str,
    users: &[UserSpec],
    per_chw: usize,
) -> Result<usize> {
    let chws: Vec<&UserSpec> = users.iter().filter(|u| u.role == Role::Chw).collect();
    let records = source.load(chws.len() * per_chw)?;
    let mut total = 0;
    for coord in users.iter().filter(|u| u.role == Role::Coordinator) {
        let district = &coord.districts[0];
        let mut cases = Vec::new();
        for (i, chw) in chws.iter().enumerate() {
            if &chw.districts[0] != district {
                continue;
            }
            for b in records.iter().skip(i * per_chw).take(per_chw) {
                let mut case = to_case(b, district);
                case.assigned_to = chw.username.clone();
                cases.push(case);
            }
        }
        let l = login(
            http,
            url,
            &coord.username,
            &coord.password,
            &format!("load-import-{}", coord.username),
        )
        .await?;
        for chunk in cases.chunks(IMPORT_BATCH) {
            let resp = http
                .post(format!("{url}/v1/cases/import"))
                .bearer_auth(&l.access_token)
                .json(&chunk)
                .send()
                .await?;
            if !resp.status().is_success() {
                bail!(
                    "import failed: {} {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                );
            }
        }
        total += cases.len();
    }
    Ok(total)
}

/// The account of device `i`: one in [`COORDINATOR_EVERY`] is a coordinator's.
fn account_for(i: usize, accounts: &[Account]) -> &Account {
    let coords: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.role == Role::Coordinator)
        .collect();
    let chws: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.role != Role::Coordinator)
        .collect();
    if chws.is_empty() || (!coords.is_empty() && i % COORDINATOR_EVERY == COORDINATOR_EVERY - 1) {
        coords[(i / COORDINATOR_EVERY) % coords.len()]
    } else {
        chws[i % chws.len()]
    }
}

/// Logs one device in; the answer says the user's role.
async fn login_with_role(
    http: &reqwest::Client,
    url: &str,
    acc: &Account,
    device_id: &str,
) -> Result<TokenResponse> {
    let resp = http
        .post(format!("{url}/v1/auth/login"))
        .json(&LoginRequest {
            username: acc.username.clone(),
            password: acc.password.clone(),
            device_id: device_id.to_owned(),
        })
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "login of {device_id} as {} failed: {} {}",
            acc.username,
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(resp.json().await?)
}

/// Logs every device in (bounded parallelism).
async fn login_devices(
    http: &reqwest::Client,
    url: &str,
    accounts: &[Account],
    n: usize,
) -> Result<Vec<LoadDevice>> {
    let stamp = std::process::id();
    let gate = Arc::new(Semaphore::new(LOGIN_PARALLELISM));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let acc = account_for(i, accounts).clone();
        let (http, url, gate) = (http.clone(), url.to_owned(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let device_id = format!("load-{stamp}-{i:04}");
            let l = login_with_role(&http, &url, &acc, &device_id).await?;
            let role = l.role;
            Ok::<_, anyhow::Error>(LoadDevice {
                device_id,
                user: acc.username,
                role,
                token: l.access_token,
                store: DeviceStore::in_memory(&test_key()),
                editable: Vec::new(),
                wire: Mutex::default(),
            })
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

/// One complete sync session (until up to date); returns its round trips.
async fn sync_once(http: &reqwest::Client, url: &str, d: &LoadDevice) -> Result<u32> {
    let mut session = SyncSession::new(&d.store, &d.device_id, DEFAULT_PAGE_BYTES)?;
    let endpoint = format!("{url}/v1/sync");
    for trip in 1..=MAX_ROUND_TRIPS {
        let body = session.next_request()?;
        let resp = http
            .post(&endpoint)
            .bearer_auth(&d.token)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("sync: {status} {}", String::from_utf8_lossy(&bytes));
        }
        match session.handle_response(&bytes)? {
            Step::Continue => continue,
            Step::Done => {
                if let Some(r) = session.progress().refused.first() {
                    bail!("push refused: {} {:?} {}", r.doc_id, r.code, r.message);
                }
                return Ok(trip);
            }
            Step::Wiped => bail!("device told to wipe"),
        }
    }
    bail!("sync did not finish in {MAX_ROUND_TRIPS} round trips")
}

/// One complete wire-level sync: pushes the unsent changes, pulls until up to date.
async fn sync_wire(http: &reqwest::Client, url: &str, d: &LoadDevice) -> Result<u32> {
    let endpoint = format!("{url}/v1/sync");
    let (mut cursor, mut push) = {
        let w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
        let push: Vec<DocPush> = w
            .unsent
            .iter()
            .map(|(id, changes)| DocPush {
                doc_id: id.clone(),
                changes: changes.clone(),
            })
            .collect();
        (w.cursor.clone(), push)
    };
    let pushed = push.len();
    for trip in 1..=MAX_ROUND_TRIPS {
        let body = encode_request(&SyncRequest {
            version: PROTOCOL_VERSION,
            device_id: d.device_id.clone(),
            cursor: cursor.clone(),
            push: std::mem::take(&mut push),
            max_page_bytes: DEFAULT_PAGE_BYTES,
        });
        let resp = http
            .post(&endpoint)
            .bearer_auth(&d.token)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("sync: {status} {}", String::from_utf8_lossy(&bytes));
        }
        let r = decode_response(&bytes)?;
        if let Some(x) = r.refused.first() {
            bail!("push refused: {} {:?} {}", x.doc_id, x.code, x.message);
        }
        if trip == 1 && r.acked.len() != pushed {
            bail!(
                "{} of {pushed} pushed documents acknowledged",
                r.acked.len()
            );
        }
        if r.wipe {
            bail!("device told to wipe");
        }
        cursor = r.cursor;
        if trip == 1 {
            let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
            w.unsent.clear();
        }
        if !r.more {
            let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
            w.cursor = cursor;
            return Ok(trip);
        }
    }
    bail!("sync did not finish in {MAX_ROUND_TRIPS} round trips")
}

/// Wire-level edits: `n` of the device's loaded cases, one assessment field each.
fn edit_wire(d: &LoadDevice, round: u64, n: usize) -> Result<()> {
    if d.editable.is_empty() {
        return Ok(());
    }
    let ctx = EditCtx {
        user_id: d.user.clone(),
        role: d.role,
        now_ms: 1_800_000_000_000 + i64::try_from(round).unwrap_or(0),
    };
    let value = ExtraValue::Int(i64::try_from(round).unwrap_or(0));
    let start = usize::try_from(round).unwrap_or(0).wrapping_mul(n);
    let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
    let WireState { docs, unsent, .. } = &mut *w;
    for k in 0..n.min(d.editable.len()) {
        let id = &d.editable[(start + k) % d.editable.len()];
        let doc = docs.get_mut(id).context("editable case not loaded")?;
        let before = doc.heads();
        doc.set_extra(&ctx, "load_round", &value)?;
        let entry = unsent.entry(id.clone()).or_default();
        entry.extend(
            doc.changes_since(&before)
                .into_iter()
                .map(|c| c.raw_bytes().to_vec()),
        );
    }
    Ok(())
}

/// Moves a device that did its initial sync with a session onto the wire-level state.
fn start_wire(d: &LoadDevice) -> Result<()> {
    let actor = d.store.actor(&d.device_id)?;
    let mut w = d.wire.lock().unwrap_or_else(PoisonError::into_inner);
    w.cursor = d.store.cursor()?;
    for id in &d.editable {
        let mut doc = d.store.load_case(id)?;
        doc.set_actor(actor.clone());
        w.docs.insert(id.clone(), doc);
    }
    Ok(())
}

/// Edits `n` of the device's cases locally (one assessment field each).
fn edit_cases(d: &LoadDevice, round: u64, n: usize) -> Result<()> {
    if d.editable.is_empty() {
        return Ok(());
    }
    let ctx = EditCtx {
        user_id: d.user.clone(),
        role: d.role,
        now_ms: 1_800_000_000_000 + i64::try_from(round).unwrap_or(0),
    };
    let actor = d.store.actor(&d.device_id)?;
    let start = usize::try_from(round).unwrap_or(0).wrapping_mul(n);
    for k in 0..n.min(d.editable.len()) {
        let id = &d.editable[(start + k) % d.editable.len()];
        let mut doc = d.store.load_case(id)?;
        doc.set_actor(actor.clone());
        let value = ExtraValue::Int(i64::try_from(round).unwrap_or(0));
        doc.set_extra(&ctx, "load_round", &value)?;
        d.store.save_local(&mut doc)?;
    }
    Ok(())
}

/// The cases a device can edit: in its store, open, and (for a worker) assigned to it.
fn editable_cases(d: &LoadDevice) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let ctx = EditCtx {
        user_id: d.user.clone(),
        role: d.role,
        now_ms: 1_800_000_000_000,
    };
    for id in d.store.case_ids()? {
        let mut doc = d.store.load_case(&id)?;
        let case = doc.read()?;
        let mine = d.role == Role::Coordinator || case.assigned_to == d.user;
        // Probe an edit on a copy: closed cases and the like refuse it.
        let probe = doc.set_extra(&ctx, "load_probe", &ExtraValue::Bool(true));
        if mine && probe.is_ok() {
            out.push(id);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NoOp,
    Changes,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::NoOp => "no-op",
            Phase::Changes => "changes",
        }
    }
}

/// What every device of a phase shares.
#[derive(Clone)]
struct PhasePlan {
    http: reqwest::Client,
    url: String,
    phase: Phase,
    edits: usize,
    /// Full devices (session and store) rather than wire-level ones.
    full: bool,
    /// Open loop: time between one device's syncs.
    interval: Option<Duration>,
    end: Instant,
    /// Edit rounds so far (each round writes a new value).
    rounds: Arc<AtomicU64>,
}

/// Runs one device through a phase until `plan.end`; `offset` shifts its schedule.
async fn run_device(plan: PhasePlan, d: Arc<LoadDevice>, offset: Duration) -> Tally {
    let PhasePlan {
        http,
        url,
        phase,
        edits,
        full,
        interval,
        end,
        rounds,
    } = plan;
    let mut t = Tally {
        coordinator: d.role == Role::Coordinator,
        ..Tally::default()
    };
    let start = Instant::now();
    let mut k: u32 = 0;
    loop {
        let scheduled = match interval {
            Some(iv) => {
                let at = start + offset + iv * k;
                k = k.saturating_add(1);
                if at >= end {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        if Instant::now() >= end {
            break;
        }
        if phase == Phase::Changes {
            let round = rounds.fetch_add(1, Ordering::Relaxed);
            let edited = if full {
                edit_cases(&d, round, edits)
            } else {
                edit_wire(&d, round, edits)
            };
            if let Err(e) = edited {
                t.errors += 1;
                t.first_error.get_or_insert_with(|| format!("edit: {e:#}"));
                tokio::time::sleep(ERROR_BACKOFF).await;
                continue;
            }
        }
        // Open loop: latency counts from the scheduled time (queueing included).
        let began = if interval.is_some() {
            scheduled
        } else {
            Instant::now()
        };
        let synced = if full {
            tokio::time::timeout(SYNC_TIMEOUT, sync_once(&http, &url, &d)).await
        } else {
            tokio::time::timeout(SYNC_TIMEOUT, sync_wire(&http, &url, &d)).await
        };
        match synced {
            Ok(Ok(trips)) => {
                t.latencies_us
                    .push(u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX));
                t.began_us.push(
                    u64::try_from(began.saturating_duration_since(start).as_micros())
                        .unwrap_or(u64::MAX),
                );
                t.round_trips += u64::from(trips);
            }
            Ok(Err(e)) => {
                t.errors += 1;
                t.first_error.get_or_insert_with(|| format!("{e:#}"));
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
            Err(_) => {
                t.errors += 1;
                t.first_error
                    .get_or_insert_with(|| format!("sync took over {SYNC_TIMEOUT:?}"));
            }
        }
    }
    t
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// Runs every device through `phase` for `seconds`.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    http: &reqwest::Client,
    url: &str,
    devices: &[Arc<LoadDevice>],
    phase: Phase,
    seconds: u64,
    edits: usize,
    rate: f64,
    full: bool,
    server_pid: Option<u32>,
    timeline: u64,
) -> Result<PhaseReport> {
    let n = devices.len();
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(n as f64 / rate));
    let begin = Instant::now();
    let cpu_before = server_pid.and_then(cpu_ms);
    let end = begin + Duration::from_secs(seconds);
    let plan = PhasePlan {
        http: http.clone(),
        url: url.to_owned(),
        phase,
        edits,
        full,
        interval,
        end,
        rounds: Arc::new(AtomicU64::new(0)),
    };
    let mut tasks = Vec::with_capacity(n);
    for (i, d) in devices.iter().enumerate() {
        // Spread the scheduled starts evenly over one interval.
        let offset = interval.map_or(Duration::ZERO, |iv| iv.mul_f64(i as f64 / n as f64));
        tasks.push(tokio::spawn(run_device(plan.clone(), d.clone(), offset)));
    }
    let mut all = Vec::new();
    let mut timed: Vec<(u64, u64)> = Vec::new();
    let (mut coord, mut workers) = (Vec::new(), Vec::new());
    let (mut trips, mut errors) = (0, 0);
    let mut first_error = None;
    for t in tasks {
        let t = t.await?;
        if t.coordinator {
            coord.extend_from_slice(&t.latencies_us);
        } else {
            workers.extend_from_slice(&t.latencies_us);
        }
        timed.extend(
            t.began_us
                .iter()
                .copied()
                .zip(t.latencies_us.iter().copied()),
        );
        all.extend(t.latencies_us);
        trips += t.round_trips;
        errors += t.errors;
        first_error = first_error.or(t.first_error);
    }
    let elapsed = begin.elapsed().as_secs_f64();
    let cpu = cpu_before
        .zip(server_pid.and_then(cpu_ms))
        .map(|(a, b)| (b - a) / all.len().max(1) as f64);
    if let Some(e) = first_error {
        eprintln!("{} (rate {rate}): first error: {e}", phase.name());
    }
    all.sort_unstable();
    coord.sort_unstable();
    workers.sort_unstable();
    let role = |name: &'static str, v: &[u64]| {
        (
            name,
            v.len() as u64,
            percentile(v, 50.0),
            percentile(v, 99.0),
        )
    };
    let label = if rate > 0.0 {
        format!("{} @{rate}/s", phase.name())
    } else {
        phase.name().to_owned()
    };
    Ok(PhaseReport {
        phase: label,
        devices: n,
        seconds: elapsed,
        syncs: all.len() as u64,
        round_trips: trips,
        throughput: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 50.0),
        p95_ms: percentile(&all, 95.0),
        p99_ms: percentile(&all, 99.0),
        max_ms: all.last().map_or(0.0, |&v| v as f64 / 1000.0),
        errors,
        server_peak_rss_kib: server_pid.and_then(peak_rss_kib),
        server_cpu_ms_per_sync: cpu,
        by_role: [role("coordinators", &coord), role("workers", &workers)],
        timeline: timeline_of(&timed, timeline),
    })
}

fn print_report(reports: &[PhaseReport], json: bool, caseload: &str) {
    if json {
        for r in reports {
            println!(
                "{}",
                serde_json::json!({
                    "phase": r.phase,
                    "caseload": caseload,
                    "devices": r.devices,
                    "seconds": (r.seconds * 10.0).round() / 10.0,
                    "syncs": r.syncs,
                    "round_trips": r.round_trips,
                    "syncs_per_sec": (r.throughput * 10.0).round() / 10.0,
                    "p50_ms": r.p50_ms,
                    "p95_ms": r.p95_ms,
                    "p99_ms": r.p99_ms,
                    "max_ms": r.max_ms,
                    "errors": r.errors,
                    "server_peak_rss_kib": r.server_peak_rss_kib,
                    "server_cpu_ms_per_sync": r.server_cpu_ms_per_sync,
                    "by_role": r.by_role.iter().map(|(name, n, p50, p99)| serde_json::json!({
                        "role": name, "syncs": n, "p50_ms": p50, "p99_ms": p99,
                    })).collect::<Vec<_>>(),
                })
            );
        }
        return;
    }
    println!("load-bench on the {caseload}");
    println!(
        "{:<16} {:>7} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7} {:>14} {:>12}",
        "phase",
        "devices",
        "syncs",
        "round trips",
        "syncs/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "server peak RSS",
        "CPU ms/sync"
    );
    for r in reports {
        let rss = r.server_peak_rss_kib.map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        );
        let cpu = r
            .server_cpu_ms_per_sync
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
        println!(
            "{:<16} {:>7} {:>8} {:>11} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>14} {:>12}",
            r.phase,
            r.devices,
            r.syncs,
            r.round_trips,
            r.throughput,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.errors,
            rss,
            cpu
        );
    }
    for r in reports {
        let roles: Vec<String> = r
            .by_role
            .iter()
            .filter(|(_, n, _, _)| *n > 0)
            .map(|(name, n, p50, p99)| format!("{name} {n} syncs p50 {p50:.2} p99 {p99:.2} ms"))
            .collect();
        println!("{}: {}", r.phase, roles.join(", "));
    }
    for r in reports.iter().filter(|r| !r.timeline.is_empty()) {
        let cells: Vec<String> = r
            .timeline
            .iter()
            .map(|(at, n, p99)| format!("{at}s: {n} p99 {p99:.0}"))
            .collect();
        println!(
            "{} timeline (syncs begun, p99 ms): {}",
            r.phase,
            cells.join(" | ")
        );
    }
    for r in reports {
        println!("{}: errors: {}", r.phase, r.errors);
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?;
    let (server, url, accounts, caseload) = match &args.server {
        Some(u) => {
            let url = check_loopback(u)?;
            if args.user.is_empty() || args.user.len() != args.password.len() {
                bail!("--server needs --user and --password pairs");
            }
            let accounts = args
                .user
                .iter()
                .zip(&args.password)
                .map(|(u, p)| Account {
                    username: u.clone(),
                    password: p.clone(),
                    // Devices go round robin over the given users; each device's real
                    // role comes from its login answer.
                    role: Role::Chw,
                })
                .collect::<Vec<_>>();
            (None, url, accounts, "server's own cases".to_owned())
        }
        None => {
            let (source, why) = CaseloadSource::from_env_or_args(&args.caseload)?;
            let caseload = source.describe_why(why.as_deref());
            eprintln!("load-bench: caseload: {caseload}");
            let users = own_users(&args);
            let s = ServerProc::start(&dir.path().join("server"), &users)?;
            let url = s.url.clone();
            let n = import_cases(&source, &http, &url, &users, args.cases_per_chw.max(1))
                .await
                .context("importing cases")?;
            eprintln!("load-bench: server {url}, {} users, {n} cases", users.len());
            let accounts = users
                .iter()
                .map(|u| Account {
                    username: u.username.clone(),
                    password: u.password.clone(),
                    role: u.role,
                })
                .collect();
            (Some(s), url, accounts, caseload)
        }
    };
    let server_pid = args.server_pid.or(server.as_ref().and_then(|s| s.pid()));
    let n = args.devices.max(1);

    // Log in and sync every device once (not measured).
    let setup = Instant::now();
    let mut devices = login_devices(&http, &url, &accounts, n).await?;
    let mut tasks = Vec::with_capacity(n);
    let gate = Arc::new(Semaphore::new(SETUP_PARALLELISM));
    for d in devices.drain(..) {
        let (http, url, gate) = (http.clone(), url.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            // Not measured, so a lost answer (e.g. a pooled connection the server closed
            // as it was reused, on a loaded machine) is retried: a sync is idempotent.
            let mut attempt = 1;
            loop {
                let r = tokio::time::timeout(SETUP_TIMEOUT, sync_once(&http, &url, &d)).await;
                match r {
                    Ok(Ok(_)) => break,
                    Ok(Err(e)) if attempt < SETUP_ATTEMPTS => {
                        eprintln!(
                            "load-bench: initial sync of {} failed ({e:#}); retrying",
                            d.device_id
                        );
                        attempt += 1;
                    }
                    Ok(Err(e)) => return Err(e.context(format!("initial sync of {}", d.device_id))),
                    Err(_) => bail!("initial sync of {} timed out", d.device_id),
                }
            }
            let mut d = d;
            d.editable = editable_cases(&d)?;
            start_wire(&d)?;
            Ok(d)
        }));
    }
    for t in tasks {
        devices.push(t.await??);
    }
    let with_cases = devices.iter().filter(|d| !d.editable.is_empty()).count();
    eprintln!(
        "load-bench: {n} devices logged in and synced in {:.1} s ({with_cases} with cases to \
         edit); server peak RSS so far {}",
        setup.elapsed().as_secs_f64(),
        server_pid.and_then(peak_rss_kib).map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0)
        )
    );
    let devices: Vec<Arc<LoadDevice>> = devices.into_iter().map(Arc::new).collect();

    let mut reports = Vec::new();
    // Closed loop first (saturation), then open loop at the offered rates (latency).
    let open_loop = [
        (Phase::NoOp, args.rate_noop),
        (Phase::Changes, args.rate_changes),
    ]
    .into_iter()
    .filter(|(_, rate)| *rate > 0.0);
    for (phase, rate) in [(Phase::NoOp, 0.0), (Phase::Changes, 0.0)]
        .into_iter()
        .chain(open_loop)
    {
        let r = run_phase(
            &http,
            &url,
            &devices,
            phase,
            args.seconds.max(1),
            args.edits,
            rate,
            args.full_devices,
            server_pid,
            args.timeline,
        )
        .await?;
        reports.push(r);
    }
    print_report(&reports, args.json, &caseload);
    drop(server);
    Ok(())
}
