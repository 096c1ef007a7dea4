//! `casesync-server`: serve the sync API, manage users and devices.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use casesync_server::config::{Settings, StoreLocation};
use casesync_server::store::Storage;
use casesync_server::{demo, serve_metrics, serve_until, AppState};
use clap::{Args, Parser, Subcommand, ValueEnum};

mod cli;

/// mimalloc instead of the system allocator: a push allocates much (Automerge, sled,
/// postcard, zstd) and glibc's malloc and free were ~15 % of the server's CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// casesync sync server.
#[derive(Debug, Parser)]
#[command(name = "casesync-server", version)]
struct Cli {
    /// Data directory (the sled store).
    #[arg(
        long,
        global = true,
        env = "CASESYNC_DATA",
        default_value = "./casesync-data"
    )]
    data: PathBuf,
    /// PostgreSQL URL (`postgres://user:password@host:port/db`): the store of every
    /// instance sharing it. Absent: the sled store in `--data` (one instance).
    #[arg(
        long,
        global = true,
        env = "CASESYNC_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// PostgreSQL connections of this process.
    #[arg(long, global = true, env = "CASESYNC_DATABASE_POOL", default_value_t = casesync_server::config::DEFAULT_DATABASE_POOL)]
    database_pool: usize,
    /// Page cache of the sled store, bytes (sled only).
    #[arg(long, global = true, env = "CASESYNC_SLED_CACHE_BYTES", default_value_t = casesync_server::config::DEFAULT_SLED_CACHE_BYTES)]
    sled_cache_bytes: u64,
    /// Log lines as `text` (colour only on a terminal) or `json` (one object per line,
    /// for a log collector). Either way logs go to standard error and hold no personal data.
    #[arg(long, global = true, env = "CASESYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// `RUST_LOG` (`info`, `casesync_server=debug,tower_http=warn`: a default level and
/// per-target levels) when set and well formed, else `info`.
fn log_filter() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::Targets;
    let info = || Targets::new().with_default(tracing::Level::INFO);
    match std::env::var("RUST_LOG") {
        Err(_) => info(),
        Ok(v) => v.parse::<Targets>().unwrap_or_else(|e| {
            eprintln!("RUST_LOG={v:?} is not understood ({e}); logging at info");
            info()
        }),
    }
}

fn init_logs(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(log_filter());
    match format {
        LogFormat::Json => registry.with(logs.json().with_ansi(false)).init(),
        LogFormat::Text => registry
            .with(logs.with_ansi(std::io::stderr().is_terminal()))
            .init(),
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the HTTP API.
    Serve(Box<ServeArgs>),
    /// Manage users (on a running server with --server, else on the store).
    User(cli::UserArgs),
    /// Manage devices (on a running server with --server, else on the store).
    Device(cli::DeviceArgs),
    /// Manage the directory of registered agencies (on a running server with --server,
    /// else on the store).
    Agency(cli::AgencyArgs),
    /// List the districts users and agencies name, with their staff (on a running server
    /// with --server, else on the store).
    District(cli::DistrictArgs),
    /// Write a consistent copy of the sled store (through the running server if one
    /// runs); never the master key (see `--keys-to`).
    Backup(casesync_server::backup::BackupArgs),
    /// Restore a backup into the `--data` directory (new or empty).
    Restore(casesync_server::backup::RestoreArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port; the chosen one is printed).
    #[arg(long, env = "CASESYNC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Seed a demo district if the store is empty.
    #[arg(long)]
    demo: bool,
    /// Largest request body, bytes.
    #[arg(long, env = "CASESYNC_MAX_BODY_BYTES", default_value_t = casesync_server::config::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Most changes in one sync request.
    #[arg(long, env = "CASESYNC_MAX_CHANGES_PER_REQUEST", default_value_t = casesync_server::config::DEFAULT_MAX_CHANGES_PER_REQUEST)]
    max_changes_per_request: usize,
    /// Largest saved document, bytes.
    #[arg(long, env = "CASESYNC_MAX_DOC_BYTES", default_value_t = casesync_server::config::DEFAULT_MAX_DOC_BYTES)]
    max_doc_bytes: usize,
    /// Largest response page, bytes (devices may ask for less).
    #[arg(long, env = "CASESYNC_MAX_PAGE_BYTES", default_value_t = casesync_server::config::DEFAULT_MAX_PAGE_BYTES)]
    max_page_bytes: usize,
    /// Access token lifetime, seconds.
    #[arg(long, env = "CASESYNC_ACCESS_TTL_SECS", default_value_t = 15 * 60)]
    access_ttl_secs: u64,
    /// Refresh token lifetime, seconds.
    #[arg(long, env = "CASESYNC_REFRESH_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    refresh_ttl_secs: u64,
    /// Seconds after a rotation during which the rotated refresh token, presented again
    /// (its answer was lost), returns the same successor instead of counting as reuse.
    #[arg(long, env = "CASESYNC_REFRESH_GRACE_SECS", default_value_t = casesync_server::config::DEFAULT_REFRESH_GRACE.as_secs())]
    refresh_grace_secs: u64,
    /// Longest wait for the next bytes of a request, seconds (not a total duration).
    #[arg(long, env = "CASESYNC_INACTIVITY_TIMEOUT_SECS", default_value_t = 30)]
    inactivity_timeout_secs: u64,
    /// Longest total time for reading one request body, seconds (then 408).
    #[arg(long, env = "CASESYNC_BODY_TIMEOUT_SECS", default_value_t = casesync_server::config::DEFAULT_BODY_TIMEOUT.as_secs())]
    body_timeout_secs: u64,
    /// Most connections served at once (further ones wait until one ends).
    #[arg(long, env = "CASESYNC_MAX_CONNECTIONS", default_value_t = casesync_server::config::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Failed logins per account per window before its attempts are delayed.
    #[arg(long, env = "CASESYNC_LOGIN_FAILURES_PER_USER", default_value_t = casesync_server::config::DEFAULT_LOGIN_FAILURES_PER_USER)]
    login_failures_per_user: u32,
    /// Failed logins per client address per window before its attempts are delayed.
    #[arg(long, env = "CASESYNC_LOGIN_FAILURES_PER_IP", default_value_t = casesync_server::config::DEFAULT_LOGIN_FAILURES_PER_IP)]
    login_failures_per_ip: u32,
    /// Window of the per-account and per-address login failure counters, seconds.
    #[arg(long, env = "CASESYNC_LOGIN_WINDOW_SECS", default_value_t = casesync_server::config::DEFAULT_LOGIN_WINDOW.as_secs())]
    login_window_secs: u64,
    /// Failed logins of one account from one address per pair window, then that pair
    /// is refused (429) until the window ends.
    #[arg(long, env = "CASESYNC_LOGIN_FAILURES_PER_PAIR", default_value_t = casesync_server::config::DEFAULT_LOGIN_FAILURES_PER_PAIR)]
    login_failures_per_pair: u32,
    /// Window of the per-(account, address) login failure counter, seconds.
    #[arg(long, env = "CASESYNC_LOGIN_PAIR_WINDOW_SECS", default_value_t = casesync_server::config::DEFAULT_LOGIN_PAIR_WINDOW.as_secs())]
    login_pair_window_secs: u64,
    /// Longest delay before a throttled login attempt is checked, milliseconds.
    #[arg(long, env = "CASESYNC_LOGIN_MAX_DELAY_MS", default_value_t = casesync_server::config::DEFAULT_LOGIN_MAX_DELAY.as_millis() as u64)]
    login_max_delay_ms: u64,
    /// Reverse proxies whose client-address header is believed: IP addresses or CIDR
    /// networks, comma separated (e.g. `127.0.0.1,10.0.0.0/8`). Empty: none.
    #[arg(
        long = "trusted-proxy",
        env = "CASESYNC_TRUSTED_PROXIES",
        default_value = ""
    )]
    trusted_proxies: String,
    /// The deployment's time zone for the dashboard (IANA name, e.g. Asia/Dhaka):
    /// times are shown in it; stored times stay UTC.
    #[arg(long, env = "CASESYNC_TIME_ZONE", default_value = "UTC")]
    time_zone: String,
    /// Calendar of the dashboard's dates: `local` (Solar Hijri for Farsi, Buddhist for
    /// Thai), `gregorian`, or `both` (local with Gregorian beside it).
    #[arg(long, env = "CASESYNC_CALENDAR", default_value = "both")]
    calendar: casesync_server::config::CalendarMode,
    /// The header a trusted proxy names the client in (X-Forwarded-For syntax).
    #[arg(long, env = "CASESYNC_CLIENT_IP_HEADER", default_value = casesync_server::config::DEFAULT_CLIENT_IP_HEADER, value_parser = parse_header_name)]
    client_ip_header: axum::http::HeaderName,
    /// Seconds a device that was served the removal of a case may still push to it
    /// the edits it recorded before.
    #[arg(long, env = "CASESYNC_REMOVED_WRITE_GRACE_SECS", default_value_t = casesync_server::config::DEFAULT_REMOVED_WRITE_GRACE.as_secs())]
    removed_write_grace_secs: u64,
    /// At SIGTERM or SIGINT: seconds in-flight requests may take to finish (no new
    /// connection is accepted meanwhile), then the store is flushed and the server exits.
    #[arg(long, env = "CASESYNC_SHUTDOWN_GRACE_SECS", default_value_t = casesync_server::config::DEFAULT_SHUTDOWN_GRACE.as_secs())]
    shutdown_grace_secs: u64,
    /// Bearer token `GET /metrics` requires on the main listener. Without it (and
    /// without `--metrics-listen`) the metrics are not served.
    #[arg(long, env = "CASESYNC_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// A second, private listen address serving only `/metrics`, without a token (e.g.
    /// `127.0.0.1:9090` for a Prometheus on the same machine).
    #[arg(long, env = "CASESYNC_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Allow `--demo` on an address other than loopback (the demo's passwords are
    /// printed in the README: never on a reachable address by accident).
    #[arg(long)]
    demo_public: bool,
    /// Documents kept loaded between pushes: most saved bytes.
    #[arg(long, env = "CASESYNC_DOC_CACHE_BYTES", default_value_t = casesync_server::config::DEFAULT_DOC_CACHE_BYTES)]
    doc_cache_bytes: u64,
    /// Changes since a case's snapshot that make the background compactor re-save it.
    #[arg(long, env = "CASESYNC_COMPACT_AFTER_CHANGES", default_value_t = casesync_server::config::DEFAULT_COMPACT_AFTER_CHANGES)]
    compact_after_changes: u32,
    /// Seconds between the background compactor's passes.
    #[arg(long, env = "CASESYNC_COMPACT_INTERVAL_SECS", default_value_t = casesync_server::config::DEFAULT_COMPACT_INTERVAL.as_secs())]
    compact_interval_secs: u64,
    /// Most sync requests worked on at once (the others wait their turn).
    /// Default: two per core.
    #[arg(long, env = "CASESYNC_MAX_CONCURRENT_SYNCS")]
    max_concurrent_syncs: Option<usize>,
}

fn open(at: &StoreLocation) -> anyhow::Result<Arc<dyn Storage>> {
    at.open().map_err(|e| match at {
        StoreLocation::Sled { .. } => anyhow::anyhow!(
            "cannot open the {} (is a server running on it? then give --server URL --admin NAME): {e}",
            at.describe()
        ),
        StoreLocation::Postgres { .. } => {
            anyhow::anyhow!("cannot open the {}: {e}", at.describe())
        }
    })
}

fn settings(a: &ServeArgs) -> anyhow::Result<Settings> {
    let trusted_proxies = casesync_server::config::IpNet::parse_list(&a.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("--trusted-proxy: {e}"))?;
    Ok(Settings {
        max_body_bytes: a.max_body_bytes,
        max_changes_per_request: a.max_changes_per_request,
        max_doc_bytes: a.max_doc_bytes,
        max_page_bytes: a.max_page_bytes,
        access_ttl: Duration::from_secs(a.access_ttl_secs),
        refresh_ttl: Duration::from_secs(a.refresh_ttl_secs),
        refresh_grace: Duration::from_secs(a.refresh_grace_secs),
        inactivity_timeout: Duration::from_secs(a.inactivity_timeout_secs.max(1)),
        body_timeout: Duration::from_secs(a.body_timeout_secs.max(1)),
        max_connections: a.max_connections.max(1),
        login_failures_per_user: a.login_failures_per_user,
        login_failures_per_ip: a.login_failures_per_ip,
        login_window: Duration::from_secs(a.login_window_secs),
        login_failures_per_pair: a.login_failures_per_pair.max(1),
        login_pair_window: Duration::from_secs(a.login_pair_window_secs),
        login_max_delay: Duration::from_millis(a.login_max_delay_ms),
        trusted_proxies,
        client_ip_header: a.client_ip_header.clone(),
        doc_cache_bytes: a.doc_cache_bytes,
        compact_after_changes: a.compact_after_changes.max(1),
        compact_interval: Duration::from_secs(a.compact_interval_secs.max(1)),
        max_concurrent_syncs: a
            .max_concurrent_syncs
            .unwrap_or_else(casesync_server::config::default_max_concurrent_syncs)
            .max(1),
        display: casesync_server::config::Display {
            time_zone: casesync_server::config::Display::parse_zone(&a.time_zone)
                .map_err(|e| anyhow::anyhow!("--time-zone: {e}"))?,
            calendar: a.calendar,
        },
        removed_write_grace: Duration::from_secs(a.removed_write_grace_secs),
        shutdown_grace: Duration::from_secs(a.shutdown_grace_secs),
        metrics_token: a.metrics_token.clone().filter(|t| !t.is_empty()),
    })
}

fn parse_header_name(s: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::from_bytes(s.trim().as_bytes()).map_err(|e| e.to_string())
}

async fn run_serve(at: &StoreLocation, a: &ServeArgs) -> anyhow::Result<()> {
    // Opening PostgreSQL blocks (connect, migrate): keep it off the async workers.
    let at2 = at.clone();
    let store = tokio::task::spawn_blocking(move || open(&at2)).await??;
    tracing::info!(store = %at.describe(), "store opened");
    let state = AppState::new(store, settings(a)?)?;
    // sled: `backup` asks through this socket (removed when it drops, at shutdown).
    // Without it (e.g. a data path too long for a socket) the server still serves.
    let _control = match at {
        StoreLocation::Sled { dir, .. } => casesync_server::backup::ControlSocket::start(
            dir,
            state.store.clone(),
        )
        .map_err(
            |e| tracing::warn!(error = %e, "no control socket: `backup` needs the server stopped"),
        )
        .ok(),
        StoreLocation::Postgres { .. } => None,
    };
    let listener = tokio::net::TcpListener::bind(&a.listen).await?;
    let addr = listener.local_addr()?;
    if a.demo && !addr.ip().is_loopback() && !a.demo_public {
        anyhow::bail!(
            "--demo on {addr}, which is not a loopback address: the demo accounts' passwords \
             are public. Listen on 127.0.0.1, or add --demo-public if this is really meant"
        );
    }
    let url = format!("http://{addr}");
    let metrics_listener = match &a.metrics_listen {
        Some(at) => Some(tokio::net::TcpListener::bind(at).await?),
        None => None,
    };
    if a.demo {
        let guard = state.writer.clone().lock_owned().await;
        let engine = state.engine.clone();
        let seeded = tokio::task::spawn_blocking(move || {
            let _g = guard;
            demo::seed(&engine)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        match seeded {
            Some(info) => {
                println!(
                    "demo district `{}` seeded with {} cases; accounts:",
                    demo::DEMO_DISTRICT,
                    info.cases
                );
                for (u, r, p) in &info.users {
                    println!("  {u:<8} {:<12} password: {p}", r.as_str());
                }
            }
            None => println!("demo: the store already has users; not seeded"),
        }
        println!("  login:  POST {url}/v1/auth/login");
        println!("  sync:   POST {url}/v1/sync");
        println!("  health: GET  {url}/healthz   ready: GET {url}/readyz");
    }
    if let Some(m) = &metrics_listener {
        let maddr = m.local_addr()?;
        println!("metrics on http://{maddr}/metrics");
        tracing::info!(addr = %maddr, "metrics listening");
    }
    println!("listening on {url}");
    std::io::stdout().flush()?;
    tracing::info!(%addr, "listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(m) = metrics_listener {
        tokio::spawn(serve_metrics(m, state.clone(), stop_rx.clone()));
    }
    let mut stop = stop_rx.clone();
    let server = tokio::spawn(serve_until(listener, state.clone(), async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let signal = shutdown_signal().await?;
    tracing::info!(
        signal,
        grace_secs = state.settings.shutdown_grace.as_secs(),
        "shutting down: no new connections, finishing in-flight requests"
    );
    let _ = stop_tx.send(true);
    let finished = server.await??;
    // Every acknowledged sync was flushed before its answer; this flush covers the rest
    // (last-sync times, sessions' metadata).
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.flush()).await??;
    if finished {
        tracing::info!("stopped: every in-flight request finished, store flushed");
    } else {
        tracing::warn!("stopped: the grace period ended with requests still in flight");
    }
    Ok(())
}

/// Waits for SIGTERM (systemd, docker, kubernetes) or SIGINT (Ctrl-C); names the one.
async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        })
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("ctrl-c")
    }
}

fn run_backup(at: &StoreLocation, a: &casesync_server::backup::BackupArgs) -> anyhow::Result<()> {
    let (info, route) = casesync_server::backup::run_backup(at, a)?;
    let by = match route {
        casesync_server::backup::BackupRoute::Server => "by the running server",
        casesync_server::backup::BackupRoute::Direct => "from the stopped store",
    };
    println!(
        "backup written to {} {by}: sequence number {}, {} entries, {} bytes, {} case keys",
        a.to.display(),
        info.last_seq,
        info.entries,
        info.bytes,
        info.key_files
    );
    if let Some(k) = &a.keys_to {
        println!(
            "master key copied to {} (keep it apart from the backup)",
            k.display()
        );
    }
    Ok(())
}

fn run_restore(at: &StoreLocation, a: &casesync_server::backup::RestoreArgs) -> anyhow::Result<()> {
    let mark = casesync_server::backup::run_restore(at, a)?;
    println!(
        "restored into {}: the backup's sequence number {}, continuing after {}",
        at.describe(),
        mark.backup_seq,
        mark.restored_seq
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let at = match StoreLocation::choose(
        &cli.data,
        cli.database_url.as_deref(),
        cli.database_pool,
        cli.sled_cache_bytes,
    ) {
        Ok(at) => at,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.cmd {
        Cmd::Serve(a) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(run_serve(&at, &a))),
        Cmd::User(c) => cli::run_user(&at, c),
        Cmd::Device(c) => cli::run_device(&at, c),
        Cmd::Agency(c) => cli::run_agency(&at, c),
        Cmd::District(c) => cli::run_district(&at, c),
        Cmd::Backup(a) => run_backup(&at, &a),
        Cmd::Restore(a) => run_restore(&at, &a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
