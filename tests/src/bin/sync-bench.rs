//! Sync benchmark on the benchmark caseload: initial sync of N documents to a fresh
//! device, 5 documents changed on each side, nothing changed.
//!
//! The caseload is `--caseload DIR`, else the recorded one (`$CASESYNC_BENCH_DIR`, else
//! `shared/bench` beside the repository) when it is there, else the seeded generator
//! (`--generated` forces it, `--seed N`); the output says which one was measured.
//!
//! ```text
//! cargo run --profile production -p casesync-tests --bin sync-bench -- --docs 10000 [--json]
//!     [--caseload DIR | --generated [--seed 1]]
//! cargo run --profile production -p casesync-tests --bin sync-bench -- --docs 1000 \
//!     --server http://127.0.0.1:8080 --user coord --password ... --district demo-district
//! ```
//!
//! Bytes are the request and response bodies as sent on the wire (the protocol
//! compresses them itself; HTTP headers are not counted). Round trips are `POST
//! /v1/sync` calls. Figures are medians over `--runs` runs where a scenario can be
//! repeated (initial: a fresh device each run; nothing-changed: repeated syncs).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use casesync_core::case::Role;
use casesync_tests::caseload::{apply_edit, to_case, CaseloadArgs, CaseloadSource, Edit};
use casesync_tests::harness::{http_client, login, Device, ServerProc, UserSpec};
use clap::Parser;

/// Cases per import request (keeps each request well under the server's body limit).
const IMPORT_BATCH: usize = 500;

#[derive(Parser, Debug)]
#[command(about = "casesync sync benchmark on the benchmark caseload")]
struct Args {
    /// Number of documents (the first N cases of the caseload).
    #[arg(long, default_value_t = 10_000)]
    docs: usize,
    /// Run against an already running server instead of starting one.
    #[arg(long)]
    server: Option<String>,
    /// Coordinator to create documents as (with --server).
    #[arg(long, default_value = "bench-coord")]
    user: String,
    /// Their password (with --server).
    #[arg(long, default_value = "pw-bench-coord-secret")]
    password: String,
    /// District to create the documents in (one of the coordinator's).
    #[arg(long, default_value = "bench")]
    district: String,
    /// Repetitions of the repeatable scenarios (medians are printed).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// One JSON object per scenario instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    caseload: CaseloadArgs,
}

#[derive(Debug, Clone, Copy, Default)]
struct Figure {
    round_trips: u64,
    bytes_up: u64,
    bytes_down: u64,
    wall_ms: f64,
}

fn median(mut v: Vec<Figure>) -> Figure {
    v.sort_by(|a, b| a.wall_ms.total_cmp(&b.wall_ms));
    let mid = v.len() / 2;
    let mut out = v[mid];
    let mut rt: Vec<u64> = v.iter().map(|f| f.round_trips).collect();
    let mut up: Vec<u64> = v.iter().map(|f| f.bytes_up).collect();
    let mut down: Vec<u64> = v.iter().map(|f| f.bytes_down).collect();
    rt.sort_unstable();
    up.sort_unstable();
    down.sort_unstable();
    out.round_trips = rt[mid];
    out.bytes_up = up[mid];
    out.bytes_down = down[mid];
    out
}

async fn timed_sync(device: &Device) -> Result<Figure> {
    let start = Instant::now();
    let (p, _) = device.sync().await?;
    Ok(Figure {
        round_trips: u64::from(p.pages),
        bytes_up: p.bytes_up,
        bytes_down: p.bytes_down,
        wall_ms: start.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Maps an edit onto the first `n` cases (edits name cases up to ~8,000).
fn remap(edit: &Edit, n: usize) -> Edit {
    let mut e = edit.clone();
    if e.index >= n {
        e.index %= n;
        e.case_id = format!("case-{:06}", e.index + 1);
    }
    e
}

async fn import(
    source: &CaseloadSource,
    url: &str,
    token: &str,
    district: &str,
    n: usize,
) -> Result<()> {
    let http = http_client();
    let cases: Vec<_> = source
        .load(n)?
        .iter()
        .map(|b| to_case(b, district))
        .collect();
    for chunk in cases.chunks(IMPORT_BATCH) {
        let resp = http
            .post(format!("{url}/v1/cases/import"))
            .bearer_auth(token)
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
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (source, why) = CaseloadSource::from_env_or_args(&args.caseload)?;
    let caseload = source.describe_why(why.as_deref());
    eprintln!("caseload: {caseload}");
    let dir = tempfile::tempdir()?;
    let mut spec = UserSpec::new(&args.user, Role::Coordinator, &args.district);
    spec.password = args.password.clone();
    spec.sensitive_access = true;
    let (_server, url) = match &args.server {
        Some(url) => (None, url.trim_end_matches('/').to_owned()),
        None => {
            let s = ServerProc::start(&dir.path().join("server"), std::slice::from_ref(&spec))?;
            let url = s.url.clone();
            (Some(s), url)
        }
    };
    let n = args.docs.max(1);
    let stamp = std::process::id();
    let importer = login(
        &http_client(),
        &url,
        &spec.username,
        &spec.password,
        &format!("bench-import-{stamp}"),
    )
    .await?;
    import(&source, &url, &importer.access_token, &args.district, n)
        .await
        .context("creating documents")?;

    // initial: a fresh device pulls everything.
    let mut initial = Vec::new();
    let mut device = None;
    for r in 0..args.runs.max(1) {
        let d = Device::login(&url, dir.path(), &spec, &format!("bench-dev-{stamp}-{r}")).await?;
        initial.push(timed_sync(&d).await?);
        let have = d.store.case_ids()?.len();
        if have < n {
            bail!("initial sync delivered {have} of {n} documents");
        }
        device = Some(d);
    }
    let device = device.context("no device")?;

    // changed: 5 edits offline on the device, 5 other cases changed on the server.
    let edits = source.edits()?;
    let other = Device::login(&url, dir.path(), &spec, &format!("bench-other-{stamp}")).await?;
    other.sync().await?;
    for (i, e) in edits.b2.iter().enumerate() {
        let e = remap(e, n);
        other.edit(&e.case_id, 1_800_000_000_000 + i as i64, |doc, ctx| {
            apply_edit(doc, ctx, &e).map_err(|err| casesync_core::case::CaseError::Invalid {
                field: "bench edit",
                reason: err.to_string(),
            })
        })?;
    }
    other.sync().await?;
    for (i, e) in edits.b.iter().enumerate() {
        let e = remap(e, n);
        device.edit(&e.case_id, 1_800_000_100_000 + i as i64, |doc, ctx| {
            apply_edit(doc, ctx, &e).map_err(|err| casesync_core::case::CaseError::Invalid {
                field: "bench edit",
                reason: err.to_string(),
            })
        })?;
    }
    let changed = timed_sync(&device).await?;

    // nothing changed.
    let mut nothing = Vec::new();
    for _ in 0..args.runs.max(1) * 3 {
        nothing.push(timed_sync(&device).await?);
    }

    let rows = [
        ("initial", median(initial)),
        ("changed", changed),
        ("nothing-changed", median(nothing)),
    ];
    if args.json {
        for (name, f) in rows {
            println!(
                "{}",
                serde_json::json!({"scenario": name, "docs": n, "caseload": caseload, "round_trips": f.round_trips, "bytes_up": f.bytes_up, "bytes_down": f.bytes_down, "wall_ms": (f.wall_ms * 10.0).round() / 10.0})
            );
        }
    } else {
        println!(
            "sync-bench: {n} docs of the {caseload}, server {url}, medians of {} runs",
            args.runs.max(1)
        );
        println!(
            "{:<16} {:>7} {:>11} {:>11} {:>12} {:>10}",
            "scenario", "docs", "round trips", "bytes up", "bytes down", "wall ms"
        );
        for (name, f) in rows {
            println!(
                "{:<16} {:>7} {:>11} {:>11} {:>12} {:>10.1}",
                name, n, f.round_trips, f.bytes_up, f.bytes_down, f.wall_ms
            );
        }
    }
    Ok(())
}
