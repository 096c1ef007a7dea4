//! `core-bench`: storage and listing figures of the casesync core on the benchmark
//! caseload, printed as a table or, with `--json`, one JSON object per figure:
//! `{"figure": .., "value": .., "unit": .., "target": .., "caseload": ..}` (targets are
//! upper bounds; `null` when the figure has none; `caseload` says which one was
//! measured).
//!
//! ```text
//! cargo run --profile production -p casesync-tests --bin core-bench [-- --json] [--cases 10000]
//!     [--caseload DIR | --generated [--seed 1]]
//! ```
//!
//! The caseload is `--caseload DIR`, else the recorded one (`$CASESYNC_BENCH_DIR`, else
//! `shared/bench` beside the repository) when it is there, else the seeded generator
//! (see `casesync_tests::caseload`).
//!
//! Figures:
//! - saved size of a typical case (5 visits): median over the imported bench cases
//!   (one change each, [`CaseDoc::import`]), and for the same content built with the
//!   typed API one edit at a time (and a variant without the 14 programme-defined
//!   assessment fields, about 12 changes);
//! - time to open one case from the encrypted device store: median over random opens;
//! - time to list every case summary (median of runs) and the peak memory of listing.
//!
//! Peak memory is the growth of the resident set (`VmHWM` after `/proc/self/clear_refs`
//! reset it to `VmRSS`) while a *fresh* process opens the store and lists, so memory
//! freed by earlier phases cannot hide it. (A counting global allocator would need
//! `unsafe impl GlobalAlloc`, and the workspace forbids `unsafe_code`, which no
//! in-file `allow` can relax.) Linux only; elsewhere the figure is `null`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use casesync_core::case::{
    device_actor, AssessmentUpdate, Case, CaseDoc, ClientUpdate, EditCtx, GoalInput, GoalStatus,
    GoalUpdate, IntakeInput, NewCase, Role, VisitInput,
};
use casesync_core::store::{DeviceStore, StoreBatch, SummaryFilter};
use casesync_tests::caseload::{to_case, CaseloadArgs, CaseloadSource};
use clap::Parser;
use serde::{Deserialize, Serialize};

/// Store key used by the benchmark (any 32 bytes).
const KEY: [u8; 32] = [7; 32];
/// Time the benchmark pretends it is (the core has no clock).
const NOW_MS: i64 = 1_736_000_000_000;
/// Cases written to the store per batch (one atomic, flushed write each).
const STORE_BATCH: usize = 500;

#[derive(Debug, Parser)]
#[command(about = "Storage and listing figures of the casesync core on the bench caseload")]
struct Args {
    /// One JSON object per figure instead of a table.
    #[arg(long)]
    json: bool,
    /// How many bench cases to use (the first N of the caseload).
    #[arg(long, default_value_t = 10_000)]
    cases: usize,
    #[command(flatten)]
    caseload: CaseloadArgs,
    /// How many random case opens to time.
    #[arg(long, default_value_t = 1_000)]
    opens: usize,
    /// How many listing runs to time.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// How many cases to rebuild with the typed API, one edit at a time.
    #[arg(long, default_value_t = 200)]
    typed: usize,
    /// Internal: list the store at this path in this (fresh) process and print the
    /// measurements as JSON.
    #[arg(long, hide = true)]
    list_child: Option<PathBuf>,
}

/// One printed figure.
#[derive(Debug, Serialize)]
struct Figure {
    figure: String,
    value: Option<f64>,
    unit: &'static str,
    target: Option<f64>,
    /// The caseload measured.
    caseload: String,
}

fn fig(figure: &str, value: Option<f64>, unit: &'static str, target: Option<f64>) -> Figure {
    Figure {
        figure: figure.to_owned(),
        value,
        unit,
        target,
        caseload: String::new(),
    }
}

/// What the listing child process measured.
#[derive(Debug, Serialize, Deserialize)]
struct ListReport {
    listed: usize,
    run_ms: Vec<f64>,
    peak_rss_growth_bytes: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.list_child {
        let report = list_in_this_process(path, args.runs)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let (source, why) = CaseloadSource::from_env_or_args(&args.caseload)?;
    let caseload = source.describe_why(why.as_deref());
    eprintln!("caseload: {caseload}");
    let mut figures = run(&args, &source)?;
    for f in &mut figures {
        f.caseload.clone_from(&caseload);
    }
    if args.json {
        for f in &figures {
            println!("{}", serde_json::to_string(f)?);
        }
    } else {
        println!("core-bench on the {caseload}, first {} cases", args.cases);
        print_table(&figures);
    }
    Ok(())
}

fn run(args: &Args, source: &CaseloadSource) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let t = Instant::now();
    let bench = source.load(args.cases)?;
    if bench.is_empty() {
        bail!("the caseload is empty");
    }
    eprintln!("loaded {} bench cases in {:.1} s", bench.len(), secs(t));
    let cases: Vec<Case> = bench.iter().map(|b| to_case(b, "district-1")).collect();
    drop(bench);

    // Import every case, store it, and keep its saved size.
    let dir = tempfile::tempdir()?;
    let store_path = dir.path().join("store");
    let store = DeviceStore::open(&store_path, &KEY)?;
    let importer = EditCtx::new("importer", Role::Coordinator, NOW_MS);
    let actor = device_actor("bench-server");
    let mut sizes = Vec::with_capacity(cases.len());
    let mut batch = StoreBatch::new();
    let mut in_batch = 0;
    let t = Instant::now();
    for case in &cases {
        let mut doc = CaseDoc::import(&importer, actor.clone(), case)
            .with_context(|| format!("importing {}", case.id))?;
        let bytes = doc.save();
        sizes.push(bytes.len() as f64);
        batch.put_case(&case.id, bytes, &doc.summary()?);
        in_batch += 1;
        if in_batch == STORE_BATCH {
            store.apply(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    store.apply(batch)?;
    let write_s = secs(t);
    eprintln!(
        "imported and stored {} cases in {write_s:.1} s",
        cases.len()
    );
    let total: f64 = sizes.iter().sum();
    figures.push(fig(
        "saved size of a case with 5 visits, imported (1 change), median",
        median(&mut sizes),
        "bytes",
        Some(2048.0),
    ));
    figures.push(fig(
        "saved size of a case with 5 visits, imported (1 change), p95",
        percentile(&mut sizes, 0.95),
        "bytes",
        None,
    ));
    figures.push(fig(
        "saved size of all cases (sum)",
        Some(total),
        "bytes",
        None,
    ));

    // The same content built with the typed API, one edit at a time.
    let sample = &cases[..args.typed.min(cases.len())];
    let (mut full, mut full_changes) = (Vec::new(), Vec::new());
    let (mut core, mut core_changes) = (Vec::new(), Vec::new());
    for case in sample {
        let (size, changes) = typed_build(case, true)?;
        full.push(size as f64);
        full_changes.push(changes as f64);
        let (size, changes) = typed_build(case, false)?;
        core.push(size as f64);
        core_changes.push(changes as f64);
    }
    figures.push(fig(
        "saved size, same case built with the typed API, median",
        median(&mut full),
        "bytes",
        Some(2048.0),
    ));
    figures.push(fig(
        "changes in the typed-built case, median",
        median(&mut full_changes),
        "changes",
        None,
    ));
    figures.push(fig(
        "saved size, typed API without the 14 extra fields, median",
        median(&mut core),
        "bytes",
        Some(2048.0),
    ));
    figures.push(fig(
        "changes in the typed-built case without extras, median",
        median(&mut core_changes),
        "changes",
        None,
    ));

    // Random opens.
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut open_ms = Vec::with_capacity(args.opens);
    for _ in 0..args.opens {
        let case = &cases[rng.below(cases.len())];
        let t = Instant::now();
        let doc = store.load_case(&case.id)?;
        open_ms.push(ms(t));
        std::hint::black_box(doc);
    }
    figures.push(fig(
        &format!(
            "open one case from the store, median of {} random",
            args.opens
        ),
        median(&mut open_ms),
        "ms",
        Some(5.0),
    ));
    figures.push(fig(
        "open one case from the store, p95",
        percentile(&mut open_ms, 0.95),
        "ms",
        None,
    ));
    figures.push(fig(
        "write the imported cases to the store",
        Some(write_s),
        "s",
        None,
    ));

    // Listing, in a fresh process (sled locks its directory: close it here first).
    drop(store);
    let report = list_in_child(&store_path, args.runs)?;
    if report.listed != cases.len() {
        bail!("listed {} summaries, stored {}", report.listed, cases.len());
    }
    let mut run_ms = report.run_ms;
    figures.push(fig(
        &format!(
            "list {} case summaries, median of {} runs",
            report.listed,
            run_ms.len()
        ),
        median(&mut run_ms),
        "ms",
        Some(100.0),
    ));
    figures.push(fig(
        "peak memory while listing (resident set growth)",
        report.peak_rss_growth_bytes.map(|b| b as f64),
        "bytes",
        None,
    ));
    Ok(figures)
}

/// Builds `case` with the typed API, one call per edit, as a worker would; returns the
/// saved size and the number of changes. `extras`: also set every programme-defined
/// assessment field (one change each).
fn typed_build(case: &Case, extras: bool) -> anyhow::Result<(usize, usize)> {
    let ctx = EditCtx::new(case.assigned_to.clone(), Role::Chw, NOW_MS);
    let new = NewCase {
        id: case.id.clone(),
        district: case.district.clone(),
        village: case.village.clone(),
        assigned_to: case.assigned_to.clone(),
        sensitive: case.sensitive,
        client_name: case.client.name.clone(),
    };
    let mut doc = CaseDoc::create(&ctx, device_actor("bench-phone"), &new)?;
    let c = &case.client;
    let client = ClientUpdate {
        sex: c.sex,
        age_estimate: c.age_estimate,
        phone: c.phone.clone(),
        language: c.language.clone(),
        ..Default::default()
    };
    doc.update_client(&ctx, &client)?;
    if let Some(i) = &case.intake {
        let input = IntakeInput {
            date: i.date,
            source: i.source,
            referred_by: i.referred_by.clone(),
            presenting_problem: i.presenting_problem.clone(),
        };
        doc.record_intake(&ctx, &input)?;
    }
    if let Some(a) = &case.assessment {
        let u = AssessmentUpdate {
            date: a.date,
            safety_risk: a.safety_risk,
            ..Default::default()
        };
        doc.update_assessment(&ctx, &u)?;
        if extras {
            for (k, v) in &a.extra {
                doc.set_extra(&ctx, k, v)?;
            }
        }
    }
    for g in case.plan.goals.values() {
        let input = GoalInput {
            text: g.text.clone(),
            priority: g.priority,
            method: g.method.clone(),
            target_date: g.target_date,
            evaluate_by: g.evaluate_by,
        };
        let id = doc.add_goal(&ctx, &input)?;
        if g.status != GoalStatus::Active {
            let u = GoalUpdate {
                status: Some(g.status),
                ..Default::default()
            };
            doc.update_goal(&ctx, &id, &u)?;
        }
    }
    for v in case.visits.values() {
        let input = VisitInput {
            date: v.date,
            kind: v.kind,
            notes: v.notes.clone(),
            progress: v.progress.clone(),
            obstacles: v.obstacles.clone(),
            actions: v.actions.clone(),
            next_visit_date: v.next_visit_date,
        };
        doc.add_visit(&ctx, &input)?;
    }
    let changes = doc.automerge().get_changes(&[]).len();
    Ok((doc.save().len(), changes))
}

/// Runs this binary again with `--list-child` and reads its report.
fn list_in_child(path: &Path, runs: usize) -> anyhow::Result<ListReport> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .arg("--list-child")
        .arg(path)
        .arg("--runs")
        .arg(runs.to_string())
        .output()
        .context("running the listing child process")?;
    if !out.status.success() {
        bail!(
            "listing child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("reading the listing child's report")
}

/// Opens the store, measures the first listing's peak resident-set growth, then times
/// `runs` listings.
fn list_in_this_process(path: &Path, runs: usize) -> anyhow::Result<ListReport> {
    let store = DeviceStore::open(path, &KEY)?;
    let filter = SummaryFilter::default();
    let before = rss_bytes();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let first = store.list_summaries(&filter)?;
    let peak = if reset { hwm_bytes() } else { None };
    let listed = first.summaries.len();
    drop(first);
    let peak_rss_growth_bytes = peak.zip(before).map(|(p, b)| p.saturating_sub(b));
    let mut run_ms = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let listing = store.list_summaries(&filter)?;
        run_ms.push(ms(t));
        std::hint::black_box(listing);
    }
    Ok(ListReport {
        listed,
        run_ms,
        peak_rss_growth_bytes,
    })
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rest = status.lines().find_map(|l| l.strip_prefix(field))?;
    rest.trim().trim_end_matches("kB").trim().parse().ok()
}

fn rss_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

fn hwm_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

fn percentile(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v.get(i).copied()
}

/// A small deterministic generator (xorshift64*): the same cases are opened every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r % n.max(1) as u64) as usize
    }
}

fn fmt_value(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if unit == "ms" => format!("{v:.3}"),
        Some(v) if unit == "s" => format!("{v:.2}"),
        Some(v) => format!("{v:.0}"),
    }
}

fn print_table(figures: &[Figure]) {
    let width = figures
        .iter()
        .map(|f| f.figure.chars().count())
        .max()
        .unwrap_or(0);
    println!(
        "{:width$}  {:>12}  {:<7}  {:>8}  ok",
        "figure", "value", "unit", "target"
    );
    println!("{}", "-".repeat(width + 41));
    for f in figures {
        let target = f.target.map_or(String::new(), |t| format!("<= {t}"));
        let ok = match (f.value, f.target) {
            (Some(v), Some(t)) if v <= t => "yes",
            (Some(_), Some(_)) => "NO",
            _ => "",
        };
        println!(
            "{:width$}  {:>12}  {:<7}  {:>8}  {ok}",
            f.figure,
            fmt_value(f.value, f.unit),
            f.unit,
            target
        );
    }
}
