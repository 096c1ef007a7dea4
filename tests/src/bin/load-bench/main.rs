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

//!
//! By concern: `accounts.rs` (users, the caseload import, logins), `device.rs` (a
//! simulated device and its full sync), `wire.rs` (the wire-level device), `phases.rs`
//! (running a phase), `stats.rs` (figures and the report). Here: the command line, the
//! limits, and the run.
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

mod accounts;
mod device;
mod phases;
mod stats;
mod wire;

use accounts::*;
use device::*;
use phases::*;
use stats::*;
use wire::*;

/// Cases per import request (well under the server's body limit).
pub(crate) const IMPORT_BATCH: usize = 500;
/// Logins in flight at once (each costs the server an Argon2 hash).
pub(crate) const LOGIN_PARALLELISM: usize = 8;
/// Longest one sync session may take before it counts as an error.
pub(crate) const SYNC_TIMEOUT: Duration = Duration::from_secs(20);
/// Most round trips one sync session may take.
pub(crate) const MAX_ROUND_TRIPS: u32 = 1_000;
/// Longest the initial syncs may take altogether.
pub(crate) const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Initial syncs in flight at once (each pulls the device's whole caseload).
pub(crate) const SETUP_PARALLELISM: usize = 16;
/// Attempts at each device's initial sync (setup, not measured).
pub(crate) const SETUP_ATTEMPTS: u32 = 3;
/// Default offered no-op syncs per second of the open-loop phase (the issue's target).
pub(crate) const TARGET_NOOP_RATE: f64 = 1_000.0;
/// Default offered syncs with changes per second of the open-loop phase (the target).
pub(crate) const TARGET_CHANGES_RATE: f64 = 300.0;
/// Pause after a failed sync, so a failing server is not hammered in a tight loop.
pub(crate) const ERROR_BACKOFF: Duration = Duration::from_millis(50);
/// The `/metrics` token of the server the bench starts (read for the sealing column).
const METRICS_TOKEN: &str = "load-bench-metrics";
/// Every n-th device belongs to a coordinator (when there are coordinators).
pub(crate) const COORDINATOR_EVERY: usize = 20;

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
            let s = ServerProc::start_with_env(
                &dir.path().join("server"),
                &users,
                &[("CASESYNC_METRICS_TOKEN", METRICS_TOKEN)],
            )?;
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
            server.as_ref().map(|_| METRICS_TOKEN),
        )
        .await?;
        reports.push(r);
    }
    print_report(&reports, args.json, &caseload);
    drop(server);
    Ok(())
}
