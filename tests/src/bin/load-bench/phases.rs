//! One phase: every device syncing until its end, closed or open loop.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    NoOp,
    Changes,
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::NoOp => "no-op",
            Phase::Changes => "changes",
        }
    }
}

/// What every device of a phase shares.
#[derive(Clone)]
pub(crate) struct PhasePlan {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) phase: Phase,
    pub(crate) edits: usize,
    /// Full devices (session and store) rather than wire-level ones.
    pub(crate) full: bool,
    /// Open loop: time between one device's syncs.
    pub(crate) interval: Option<Duration>,
    pub(crate) end: Instant,
    /// Edit rounds so far (each round writes a new value).
    pub(crate) rounds: Arc<AtomicU64>,
}

/// Runs one device through a phase until `plan.end`; `offset` shifts its schedule.
pub(crate) async fn run_device(plan: PhasePlan, d: Arc<LoadDevice>, offset: Duration) -> Tally {
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

/// Runs every device through `phase` for `seconds`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_phase(
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
    metrics_token: Option<&str>,
) -> Result<PhaseReport> {
    let n = devices.len();
    let interval = (rate > 0.0).then(|| Duration::from_secs_f64(n as f64 / rate));
    let begin = Instant::now();
    let sealing_before = match metrics_token {
        Some(t) => sealing_seconds(http, url, t).await,
        None => None,
    };
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
    let sealing_after = match metrics_token {
        Some(t) => sealing_seconds(http, url, t).await,
        None => None,
    };
    let sealing = sealing_before
        .zip(sealing_after)
        .map(|(a, b)| (b - a) * 1e6 / all.len().max(1) as f64);
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
        sealing_us_per_sync: sealing,
        by_role: [role("coordinators", &coord), role("workers", &workers)],
        timeline: timeline_of(&timed, timeline),
    })
}
