//! Sync benchmark on the benchmark caseload: initial sync of N documents to a fresh
//! device, 5 documents changed on each side, nothing changed.
//!
//! The caseload is `--caseload DIR`, else the recorded one (`$CASESYNC_BENCH_DIR`, else
//! `shared/bench` beside the repository) when it is there, else the seeded generator
//! (`--generated` forces it, `--seed N`); the output says which one was measured.
//!
//! ```text
//! cargo run --profile production -p casesync-tests --bin sync-bench -- --docs 10000 [--json]
//!     [--caseload DIR | --generated [--seed 1]] [--link edge|3g] [--breakdown]
//! cargo run --profile production -p casesync-tests --bin sync-bench -- --docs 1000 \
//!     --server http://127.0.0.1:8080 --user coord --password ... --district demo-district
//! ```
//!
//! Bytes are the request and response bodies as sent (the protocol compresses them
//! itself); with `--link` the bytes that crossed the emulated link (HTTP headers
//! included) are printed beside them. Round trips are `POST /v1/sync` calls. "apply ms"
//! is the device's own work (encoding requests, decoding and applying pages to its
//! store: `SyncSession` calls), the phone CPU of a sync. The initial sync's bytes are
//! also given as a ratio to the content floor: `zstd -19` of the same cases as JSON.
//! Figures are medians over `--runs` runs where a scenario can be repeated (initial: a
//! fresh device each run; nothing-changed: repeated syncs).
//!
//! `--link edge|3g` (or `--delay-ms`, `--down-kbit`, `--up-kbit`) runs every sync
//! through a shaping proxy (`casesync_tests::link`): EDGE is 300 ms each way, 150 kbit/s
//! down, 60 up. `--breakdown` prints where the initial sync's bytes go, in-process.
//!
//! "usable ms" (initial sync): when the device first held every case with a follow-up
//! due within [`USABLE_DAYS`] of the caseload's last visit (overdue ones included) — the
//! cases a worker needs today. The check after each page is not counted in the times.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casesync_core::case::{Case, Closure, ClosureReason, Role, Stage};
use casesync_core::store::SummaryFilter;
use casesync_core::sync::driver::{Driver, Failure, Next, Policy};
use casesync_core::sync::{SyncSession, DEFAULT_PAGE_BYTES};
use casesync_tests::caseload::{apply_edit, to_case, CaseloadArgs, CaseloadSource, Edit};
use casesync_tests::dump::{addr_of, post_sync};
use casesync_tests::harness::{
    http_client, import_cases, login, Device, ServerProc, UserSpec, IMPORT_BATCH,
};
use casesync_tests::link::{Link, LinkSpec};
use casesync_tests::page_study;
use chrono::NaiveDate;
use clap::Parser;

/// Lost answers a sync sends its request again after, before the bench gives up.
const MAX_LOST_ANSWERS: u32 = 5;
/// "Usable": the device holds every open case due within this many days.
const USABLE_DAYS: i64 = 7;

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
    /// Run the syncs through an emulated link: `edge` (300 ms each way, 150/60 kbit/s)
    /// or `3g` (100 ms, 750/250).
    #[arg(long)]
    link: Option<String>,
    /// One-way delay of the emulated link, ms (overrides the named link's).
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Downstream rate of the emulated link, kbit/s.
    #[arg(long)]
    down_kbit: Option<u32>,
    /// Upstream rate of the emulated link, kbit/s.
    #[arg(long)]
    up_kbit: Option<u32>,
    /// Print where the initial sync's bytes go (in-process, no server) and exit.
    #[arg(long)]
    breakdown: bool,
    /// Give the caseload the shape of a field caseload, which the recorded one lacks (it
    /// has no follow-up dates and no closed cases): every 10th case a next visit due
    /// between 7 days before and 6 days after the last recorded visit, 4 in 10 closed
    /// (none the edit scenarios touch). Changes the bytes: compare runs alike.
    #[arg(long)]
    field_mix: bool,
    #[command(flatten)]
    caseload: CaseloadArgs,
}

#[derive(Debug, Clone, Copy, Default)]
struct Figure {
    round_trips: u64,
    bytes_up: u64,
    bytes_down: u64,
    /// Bytes that crossed the emulated link, both ways (0 without `--link`).
    wire: u64,
    /// TCP connections opened through the emulated link.
    connections: u64,
    wall_ms: f64,
    apply_ms: f64,
    /// Initial sync: when every case due soon was held (`None`: not measured).
    usable_ms: Option<f64>,
    /// How many cases "due soon" is.
    due_soon: usize,
}

fn median(v: Vec<Figure>) -> Figure {
    fn mid<T: Copy>(mut xs: Vec<T>, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> T {
        xs.sort_by(cmp);
        xs[xs.len() / 2]
    }
    let u = |f: fn(&Figure) -> u64| mid(v.iter().map(f).collect(), u64::cmp);
    let ms = |f: fn(&Figure) -> f64| mid(v.iter().map(f).collect(), f64::total_cmp);
    Figure {
        round_trips: u(|f| f.round_trips),
        bytes_up: u(|f| f.bytes_up),
        bytes_down: u(|f| f.bytes_down),
        wire: u(|f| f.wire),
        connections: u(|f| f.connections),
        wall_ms: ms(|f| f.wall_ms),
        apply_ms: ms(|f| f.apply_ms),
        usable_ms: v
            .iter()
            .all(|f| f.usable_ms.is_some())
            .then(|| ms(|f| f.usable_ms.unwrap_or_default())),
        due_soon: u(|f| f.due_soon as u64) as usize,
    }
}

/// Where a device's syncs go: the server, or the emulated link in front of it.
struct Route {
    url: String,
    link: Option<Link>,
}

/// Syncs `device` until up to date over `http` (a new client: new connections). With
/// `due_by`, also when the device first held every case due by that day ("usable").
async fn timed_sync(
    device: &Device,
    http: &reqwest::Client,
    route: &Route,
    due_by: Option<NaiveDate>,
) -> Result<Figure> {
    let before = route.link.as_ref().map(Link::traffic).unwrap_or_default();
    let start = Instant::now();
    let mut apply = Duration::ZERO;
    // After each page: its end (checks excluded) and the cases held then.
    let mut held: Vec<(Duration, HashSet<String>)> = Vec::new();
    let mut checking = Duration::ZERO;
    let mut session = SyncSession::new(&device.store, &device.device_id, DEFAULT_PAGE_BYTES)?;
    // The core's loop, stepped here so that its work on the device is timed: a lost answer
    // (on an emulated link, a kept-alive connection the server had closed meanwhile) is
    // sent again at once, as the app does.
    let mut driver = Driver::new(Policy {
        max_retries: MAX_LOST_ANSWERS,
        backoff_initial: Duration::ZERO,
        backoff_max: Duration::ZERO,
    });
    loop {
        let t = Instant::now();
        let req = match driver.next(&mut session, false)? {
            Next::Send(req) => req,
            Next::Refresh => bail!("the bench's tokens do not expire"),
        };
        apply += t.elapsed();
        let body = match post_sync(http, &route.url, &device.token, req).await {
            Ok((200, body)) => body,
            Ok((status, body)) => {
                bail!("sync refused: {status} {}", String::from_utf8_lossy(&body))
            }
            Err(e) => {
                let again = driver.failed(&mut session, Failure::Lost, &mut rand::thread_rng());
                if again.is_err() {
                    return Err(e);
                }
                eprintln!("sync-bench: a lost answer, sent again ({e})");
                continue;
            }
        };
        let t = Instant::now();
        let (_, finished) = driver.answered(&mut session, &body)?;
        apply += t.elapsed();
        if due_by.is_some() {
            let t = Instant::now();
            let at = start.elapsed() - checking;
            held.push((at, device.store.case_ids()?.into_iter().collect()));
            checking += t.elapsed();
        }
        if finished.is_some() {
            break;
        }
    }
    let wall_ms = (start.elapsed() - checking).as_secs_f64() * 1000.0;
    let (usable_ms, due_soon) = match due_by {
        Some(day) => {
            let filter = SummaryFilter {
                due_on_or_before: Some(day),
                ..SummaryFilter::default()
            };
            let soon: Vec<String> = device
                .store
                .list_summaries(&filter)?
                .summaries
                .into_iter()
                .map(|s| s.id)
                .collect();
            let at = held
                .iter()
                .find(|(_, ids)| soon.iter().all(|id| ids.contains(id)))
                .map(|(at, _)| at.as_secs_f64() * 1000.0);
            (at, soon.len())
        }
        None => (None, 0),
    };
    let p = session.progress();
    let t = route.link.as_ref().map(Link::traffic).unwrap_or_default() - before;
    Ok(Figure {
        round_trips: u64::from(p.pages),
        bytes_up: p.bytes_up,
        bytes_down: p.bytes_down,
        wire: t.up + t.down,
        connections: t.connections,
        wall_ms,
        apply_ms: apply.as_secs_f64() * 1000.0,
        usable_ms,
        due_soon,
    })
}

fn link_spec(args: &Args) -> Result<Option<LinkSpec>> {
    let custom = args.delay_ms.is_some() || args.down_kbit.is_some() || args.up_kbit.is_some();
    let mut spec = match (&args.link, custom) {
        (Some(name), _) => LinkSpec::named(name)?,
        (None, true) => LinkSpec::EDGE,
        (None, false) => return Ok(None),
    };
    if let Some(ms) = args.delay_ms {
        spec.delay = Duration::from_millis(ms);
    }
    spec.down_kbit = args.down_kbit.unwrap_or(spec.down_kbit);
    spec.up_kbit = args.up_kbit.unwrap_or(spec.up_kbit);
    Ok(Some(spec))
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

/// The `--field-mix` shape of case `i` (see [`Args::field_mix`]).
fn field_mix(case: &mut Case, i: usize, last_visit: NaiveDate, edited: &HashSet<String>) {
    match i % 10 {
        0 => {
            let offset = (i / 10 % 14) as i64 - 7;
            let due = last_visit + chrono::TimeDelta::days(offset);
            if let Some(v) = case.visits.values_mut().max_by(|a, b| a.date.cmp(&b.date)) {
                v.next_visit_date = Some(due.max(v.date));
            }
        }
        1..=4 if !edited.contains(&case.id) => {
            let closed_on = case
                .visits
                .values()
                .map(|v| v.date)
                .max()
                .unwrap_or(last_visit);
            case.stage = Stage::Closed;
            case.closure = Some(Closure {
                date: closed_on,
                reason: ClosureReason::GoalsAchieved,
                client_agreed: true,
                summary: "লক্ষ্য পূরণ হয়েছে; পরিবার সম্মত।".into(),
                duplicate_of: None,
            });
        }
        _ => {}
    }
}

async fn import(
    source: &CaseloadSource,
    url: &str,
    token: &str,
    district: &str,
    n: usize,
    mix: Option<(NaiveDate, &HashSet<String>)>,
) -> Result<()> {
    let http = http_client();
    let cases: Vec<_> = source
        .load(n)?
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut c = to_case(b, district);
            if let Some((last_visit, edited)) = mix {
                field_mix(&mut c, i, last_visit, edited);
            }
            c
        })
        .collect();
    import_cases(&http, url, token, &cases, IMPORT_BATCH).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (source, why) = CaseloadSource::from_env_or_args(&args.caseload)?;
    let caseload = source.describe_why(why.as_deref());
    eprintln!("caseload: {caseload}");
    if args.breakdown {
        let cases = source.load(args.docs.max(1))?;
        println!(
            "sync-bench --breakdown: initial sync of {} cases of the {caseload}",
            cases.len()
        );
        println!("{:<58} {:>12} {:>10}", "what", "bytes", "ms");
        for r in page_study::breakdown(&cases, &[3, 9, 15, 19])? {
            println!("{:<58} {:>12} {:>10.1}", r.what, r.bytes, r.ms);
        }
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut spec = UserSpec::new(&args.user, Role::Coordinator, &args.district);
    spec.password = args.password.clone();
    spec.sensitive_access = true;
    let (_server, url) = match &args.server {
        Some(url) => (None, url.trim_end_matches('/').to_owned()),
        None => {
            // Cases are assigned only to health workers of their district: the caseload's
            // workers are created beside the coordinator.
            let mut users = vec![spec.clone()];
            let chws: std::collections::BTreeSet<String> = source
                .load(args.docs.max(1))?
                .into_iter()
                .map(|b| b.chw_id)
                .collect();
            users.extend(
                chws.iter()
                    .map(|c| UserSpec::new(c, Role::Chw, &args.district)),
            );
            let s = ServerProc::start(&dir.path().join("server"), &users)?;
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
    let loaded = source.load(n)?;
    let (_, floor) = page_study::content_floor(&loaded)?;
    // "Today" of the recorded caseload: its last visit.
    let last_visit = loaded
        .iter()
        .flat_map(|c| c.visits.iter())
        .filter_map(|v| NaiveDate::parse_from_str(&v.date, "%Y-%m-%d").ok())
        .max()
        .context("the caseload has no visit dates")?;
    let due_by = last_visit + chrono::Days::new(USABLE_DAYS as u64);
    drop(loaded);
    let edits = source.edits()?;
    let edited: HashSet<String> = edits
        .b
        .iter()
        .chain(&edits.b2)
        .map(|e| remap(e, n).case_id)
        .collect();
    let mix = args.field_mix.then_some((last_visit, &edited));
    import(
        &source,
        &url,
        &importer.access_token,
        &args.district,
        n,
        mix,
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating documents: {e:?}"))?;
    let route = match link_spec(&args)? {
        Some(spec) => {
            let link = Link::start(addr_of(&url), spec).await?;
            Route {
                url: link.url.clone(),
                link: Some(link),
            }
        }
        None => Route {
            url: url.clone(),
            link: None,
        },
    };
    let http = http_client();

    // initial: a fresh device pulls everything.
    let mut initial = Vec::new();
    let mut device = None;
    for r in 0..args.runs.max(1) {
        let d = Device::login(&url, dir.path(), &spec, &format!("bench-dev-{stamp}-{r}")).await?;
        initial.push(timed_sync(&d, &http_client(), &route, Some(due_by)).await?);
        let have = d.store.case_ids()?.len();
        if have < n {
            bail!("initial sync delivered {have} of {n} documents");
        }
        device = Some(d);
    }
    let device = device.context("no device")?;

    // The device's connection is opened (a sync with nothing new): the changed and
    // nothing-changed scenarios are the steady state of an app in use.
    timed_sync(&device, &http, &route, None).await?;

    // changed: 5 edits offline on the device, 5 other cases changed on the server.
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
    let changed = timed_sync(&device, &http, &route, None).await?;

    // nothing changed, on the open connection and on a new one (the phone woke up).
    let mut nothing = Vec::new();
    let mut woke = Vec::new();
    for _ in 0..args.runs.max(1) * 3 {
        nothing.push(timed_sync(&device, &http, &route, None).await?);
        woke.push(timed_sync(&device, &http_client(), &route, None).await?);
    }

    let rows = [
        ("initial", median(initial)),
        ("changed", changed),
        ("nothing-changed", median(nothing)),
        ("nothing-new-conn", median(woke)),
    ];
    let link = route.link.as_ref().map_or("loopback".to_owned(), |l| {
        format!("emulated link: {}", l.spec.describe())
    });
    let ratio = |name: &str, f: &Figure| {
        (name == "initial").then(|| (f.bytes_up + f.bytes_down) as f64 / floor as f64)
    };
    if args.json {
        for (name, f) in rows {
            println!(
                "{}",
                serde_json::json!({"scenario": name, "docs": n, "caseload": caseload, "link": link,
                    "round_trips": f.round_trips, "bytes_up": f.bytes_up, "bytes_down": f.bytes_down,
                    "wire_bytes": f.wire, "connections": f.connections,
                    "wall_ms": (f.wall_ms * 10.0).round() / 10.0,
                    "apply_ms": (f.apply_ms * 10.0).round() / 10.0,
                    "usable_ms": f.usable_ms.map(|u| (u * 10.0).round() / 10.0),
                    "due_soon": f.usable_ms.map(|_| f.due_soon),
                    "content_floor_bytes": floor,
                    "ratio_to_floor": ratio(name, &f).map(|r| (r * 100.0).round() / 100.0)})
            );
        }
    } else {
        println!(
            "sync-bench: {n} docs of the {caseload}{}, {link}, medians of {} runs",
            if args.field_mix { " (--field-mix)" } else { "" },
            args.runs.max(1)
        );
        println!("content floor (zstd -19 of the cases as JSON): {floor} bytes");
        println!(
            "usable: every open case due by {due_by} held ({USABLE_DAYS} days after the last visit, {last_visit})"
        );
        println!(
            "{:<17} {:>6} {:>6} {:>10} {:>11} {:>11} {:>5} {:>10} {:>9} {:>7} {:>16}",
            "scenario",
            "docs",
            "trips",
            "bytes up",
            "bytes down",
            "wire bytes",
            "conns",
            "wall ms",
            "apply ms",
            "/floor",
            "usable ms (due)"
        );
        for (name, f) in rows {
            let r = ratio(name, &f).map_or("-".to_owned(), |r| format!("{r:.2}"));
            let usable = f
                .usable_ms
                .map_or("-".to_owned(), |u| format!("{u:.1} ({})", f.due_soon));
            println!(
                "{:<17} {:>6} {:>6} {:>10} {:>11} {:>11} {:>5} {:>10.1} {:>9.1} {:>7} {:>16}",
                name,
                n,
                f.round_trips,
                f.bytes_up,
                f.bytes_down,
                f.wire,
                f.connections,
                f.wall_ms,
                f.apply_ms,
                r,
                usable
            );
        }
    }
    Ok(())
}
