//! What a phase measured: tallies, percentiles, the timeline, the server's memory and
//! CPU, and the printed report.

/// What one device measured in a phase.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// The device is a coordinator's (its pulls cover a whole district).
    pub(crate) coordinator: bool,
    pub(crate) latencies_us: Vec<u64>,
    /// When each measured sync began (scheduled), from the phase start, in µs.
    pub(crate) began_us: Vec<u64>,
    pub(crate) round_trips: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

/// The figures of one phase.
#[derive(Debug)]
pub(crate) struct PhaseReport {
    /// The phase and its loop: `no-op`, `changes` (closed loop), `no-op @1000/s` (open).
    pub(crate) phase: String,
    pub(crate) devices: usize,
    pub(crate) seconds: f64,
    pub(crate) syncs: u64,
    pub(crate) round_trips: u64,
    pub(crate) throughput: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    pub(crate) errors: u64,
    pub(crate) server_peak_rss_kib: Option<u64>,
    /// Server CPU time (user + system) spent during the phase per sync, in ms: unlike
    /// throughput, it does not depend on what else the machine runs.
    pub(crate) server_cpu_ms_per_sync: Option<f64>,
    /// Server time spent sealing and opening case content and writing case keys during
    /// the phase, per sync, in µs (the server's `casesync_sealing_seconds_total`): the
    /// share of the CPU column that sealing at rest costs (#14).
    pub(crate) sealing_us_per_sync: Option<f64>,
    /// Syncs, p50 and p99 (ms) of coordinators' devices and of workers' devices.
    pub(crate) by_role: [(&'static str, u64, f64, f64); 2],
    /// Per `--timeline` seconds: first second, syncs begun, their p99 (ms).
    pub(crate) timeline: Vec<(u64, u64, f64)>,
}

/// Syncs and p99 per `step` seconds of `(began µs, latency µs)` (nothing if `step` is 0).
pub(crate) fn timeline_of(timed: &[(u64, u64)], step: u64) -> Vec<(u64, u64, f64)> {
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

pub(crate) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// `VmHWM` (peak resident set) of a process, in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system) a process has used, in ms (`/proc/<pid>/stat`, whose
/// times are in USER_HZ = 100 ticks per second on Linux).
pub(crate) fn cpu_ms(pid: u32) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 1000.0 / USER_HZ)
}

pub(crate) fn print_report(reports: &[PhaseReport], json: bool, caseload: &str) {
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
                    "sealing_us_per_sync": r.sealing_us_per_sync,
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
        "{:<16} {:>7} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7} {:>14} {:>12} {:>14}",
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
        "CPU ms/sync",
        "sealing µs/sync"
    );
    for r in reports {
        let rss = r.server_peak_rss_kib.map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MiB", k as f64 / 1024.0),
        );
        let cpu = r
            .server_cpu_ms_per_sync
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2}"));
        let sealing = r
            .sealing_us_per_sync
            .map_or_else(|| "n/a".to_owned(), |c| format!("{c:.1}"));
        println!(
            "{:<16} {:>7} {:>8} {:>11} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>14} {:>12} {:>14}",
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
            cpu,
            sealing
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

/// The server's total sealing time in seconds (`casesync_sealing_seconds_total`, every
/// op), read from `/metrics` with its bearer token; `None` if it cannot be read.
pub(crate) async fn sealing_seconds(http: &reqwest::Client, url: &str, token: &str) -> Option<f64> {
    let body = http
        .get(format!("{url}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .text()
        .await
        .ok()?;
    let mut total = None;
    for line in body.lines() {
        if line.starts_with("casesync_sealing_seconds_total") {
            let v: f64 = line.rsplit(' ').next()?.parse().ok()?;
            *total.get_or_insert(0.0) += v;
        }
    }
    total
}
