//! Server settings: every limit and timeout is named here, with its default.

use std::net::IpAddr;
use std::time::Duration;

/// Default largest request body, in bytes (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Default most changes accepted in one sync request.
pub const DEFAULT_MAX_CHANGES_PER_REQUEST: usize = 10_000;
/// Default largest saved document, in bytes (1 MiB).
pub const DEFAULT_MAX_DOC_BYTES: usize = 1024 * 1024;
/// Default largest response page, in bytes (256 KiB); a device may ask for less.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 256 * 1024;
/// Default access token lifetime (15 minutes).
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Default refresh token lifetime (30 days).
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default write window after a removal (7 days): how long a device that was served
/// the removal of a case (reassigned away, moved, made sensitive, out of a narrowed
/// scope) may still push to it the edits recorded before it learnt of it (issue #14,
/// docs/DESIGN.md §5.3).
pub const DEFAULT_REMOVED_WRITE_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Default refresh grace window (2 minutes): a refresh token presented again this soon
/// after it was rotated (its answer was lost on the link) gets the same successor back
/// instead of counting as reuse.
pub const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(120);
/// Default inactivity timeout: the longest wait for the next bytes of a request.
pub const DEFAULT_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default total time allowed for one request body, however steadily it arrives (15
/// minutes: 8 MiB at 10 KB/s, a slow 2G upload of the largest body).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Default most connections served at once; further ones wait in the listen backlog
/// until one ends (accepting pauses).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default failed logins per account within [`DEFAULT_LOGIN_WINDOW`] (from any client)
/// before every further attempt on it is delayed (never refused).
pub const DEFAULT_LOGIN_FAILURES_PER_USER: u32 = 5;
/// Default failed logins per client address within [`DEFAULT_LOGIN_WINDOW`] (any
/// usernames, junk included) before every further attempt from it is delayed (never
/// refused: behind carrier NAT or an untrusted proxy, many users share one address).
pub const DEFAULT_LOGIN_FAILURES_PER_IP: u32 = 30;
/// Default window of the per-account and per-client login failure counters (15 minutes).
pub const DEFAULT_LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Default failed logins of one account from one client address within
/// [`DEFAULT_LOGIN_PAIR_WINDOW`] after which that pair (only) is refused 429 until its
/// window ends.
pub const DEFAULT_LOGIN_FAILURES_PER_PAIR: u32 = 5;
/// Default window of the per-(account, client) login failure counter (1 minute).
pub const DEFAULT_LOGIN_PAIR_WINDOW: Duration = Duration::from_secs(60);
/// Default longest delay put before checking a password of a throttled account or client.
pub const DEFAULT_LOGIN_MAX_DELAY: Duration = Duration::from_secs(2);
/// Default header a trusted proxy names the client in (`X-Forwarded-For` syntax: a comma
/// separated list of addresses, each proxy appending the one it was connected from).
pub const DEFAULT_CLIENT_IP_HEADER: &str = "x-forwarded-for";
/// Default number of changes since the last snapshot that triggers compaction.
pub const DEFAULT_COMPACT_AFTER_CHANGES: u32 = 64;
/// Default interval of the background compaction pass.
pub const DEFAULT_COMPACT_INTERVAL: Duration = Duration::from_secs(60);
/// The background compactor rests this many times as long as each document took: a
/// pass over every busy case of a district (seconds of CPU) then takes at most a
/// quarter of one core, instead of a whole core of two while syncs queue behind it.
pub const COMPACT_REST_FACTOR: u32 = 3;
/// Sync requests worked on at once per core, by default (validating, applying,
/// building pages); the others wait their turn without a thread. Two per core keep
/// every core busy while one waits for the disk or the writer lock; more only add lock
/// hand-offs and thread switches (load-bench on 2 cores, syncs with changes: 385/s and
/// p99 45 ms at 300/s offered with 4 at once, 309/s and p99 354 ms with 16).
pub const SYNCS_PER_CORE: usize = 2;

/// Default most sync requests worked on at once: [`SYNCS_PER_CORE`] per core.
pub fn default_max_concurrent_syncs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from) * SYNCS_PER_CORE
}
/// Default page cache of the sled store (64 MiB; sled's own default is 1 GiB). The cases
/// a server syncs all day are the open caseload, a few KiB each, and the documents being
/// pushed to are kept loaded anyway (`doc_cache_bytes`).
pub const DEFAULT_SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// Default budget of the documents kept loaded between pushes, in saved bytes (32 MiB;
/// loaded, a document takes a few times its saved size).
pub const DEFAULT_DOC_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Which calendar the dashboard shows dates in (a deployment setting): the language's
/// own calendar (Solar Hijri for Farsi, Buddhist for Thai) and/or Gregorian. Languages
/// whose calendar is Gregorian show Gregorian in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CalendarMode {
    /// Gregorian only.
    Gregorian,
    /// The language's calendar instead of Gregorian.
    Local,
    /// The language's calendar, Gregorian beside it in parentheses (the default).
    #[default]
    Both,
}

impl std::str::FromStr for CalendarMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "gregorian" => Ok(CalendarMode::Gregorian),
            "local" => Ok(CalendarMode::Local),
            "both" => Ok(CalendarMode::Both),
            other => Err(format!(
                "unknown calendar mode {other:?} (gregorian, local or both)"
            )),
        }
    }
}

/// How the dashboard shows times and dates (stored values are UTC and ISO regardless).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Display {
    /// The deployment's time zone (IANA name, e.g. `Asia/Dhaka`); times are shown in it
    /// and "today" (overdue, this month) is its day.
    pub time_zone: chrono_tz::Tz,
    /// Calendar(s) of shown dates.
    pub calendar: CalendarMode,
}

impl Default for Display {
    fn default() -> Self {
        Display {
            time_zone: chrono_tz::UTC,
            calendar: CalendarMode::default(),
        }
    }
}

impl Display {
    /// Parses an IANA time zone name (`Asia/Tehran`); a clear error otherwise.
    pub fn parse_zone(name: &str) -> Result<chrono_tz::Tz, String> {
        name.trim()
            .parse::<chrono_tz::Tz>()
            .map_err(|_| format!("unknown time zone {name:?} (an IANA name such as Asia/Dhaka)"))
    }
}

/// All server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Largest request body, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Most changes in one sync request (over: the documents beyond are refused `TooLarge`).
    pub max_changes_per_request: usize,
    /// Largest saved document, in bytes (over: push refused `TooLarge`).
    pub max_doc_bytes: usize,
    /// Largest response page, in bytes (the device may ask for less).
    pub max_page_bytes: usize,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_ttl: Duration,
    /// How long after a rotation the rotated token still returns the same successor (a
    /// retry after a lost answer); later, presenting it revokes the token family.
    pub refresh_grace: Duration,
    /// Longest wait for the next bytes of a request (headers or body; also how long an
    /// idle connection is kept between requests): not a total duration.
    pub inactivity_timeout: Duration,
    /// Longest total time for reading one request body (then 408 `request_timeout`).
    pub body_timeout: Duration,
    /// Most connections served at once (accepting pauses while all are in use).
    pub max_connections: usize,
    /// Failed logins per account per `login_window` before its attempts are delayed.
    pub login_failures_per_user: u32,
    /// Failed logins per client address per `login_window` before its attempts are
    /// delayed.
    pub login_failures_per_ip: u32,
    /// Window of the per-account and per-client login failure counters.
    pub login_window: Duration,
    /// Failed logins of one account from one client per `login_pair_window`, then that
    /// pair is refused (429 `rate_limited`) until the window ends.
    pub login_failures_per_pair: u32,
    /// Window of the per-(account, client) failure counter.
    pub login_pair_window: Duration,
    /// Longest delay before a throttled login attempt is checked.
    pub login_max_delay: Duration,
    /// Proxies whose client-address header is believed (empty: none; the TCP peer is
    /// the client).
    pub trusted_proxies: Vec<IpNet>,
    /// The header a trusted proxy names the client in (`X-Forwarded-For` syntax).
    pub client_ip_header: axum::http::HeaderName,
    /// Changes since a document's snapshot that make the compactor re-save it.
    pub compact_after_changes: u32,
    /// Interval of the background compaction pass.
    pub compact_interval: Duration,
    /// Documents kept loaded between pushes: most saved bytes (see `DocCache`).
    pub doc_cache_bytes: u64,
    /// Most sync requests worked on at once (the others wait).
    pub max_concurrent_syncs: usize,
    /// How the dashboard shows times and dates.
    pub display: Display,
    /// How long a device that was served the removal of a case may still push to it
    /// through a routing or scope it no longer has (see
    /// [`DEFAULT_REMOVED_WRITE_GRACE`]).
    pub removed_write_grace: Duration,
    /// At SIGTERM/SIGINT, how long in-flight requests may take to finish before the
    /// server exits anyway ([`DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Duration,
    /// Bearer token `/metrics` requires on the main listener (`None`: `/metrics` is not
    /// served there; see `--metrics-listen` for a private address without a token).
    pub metrics_token: Option<String>,
}

/// Default of [`Settings::shutdown_grace`]: longer than a sync of a full page over a slow
/// link takes on the server, shorter than systemd's default stop timeout (90 s).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_changes_per_request: DEFAULT_MAX_CHANGES_PER_REQUEST,
            max_doc_bytes: DEFAULT_MAX_DOC_BYTES,
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            refresh_grace: DEFAULT_REFRESH_GRACE,
            inactivity_timeout: DEFAULT_INACTIVITY_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            login_failures_per_user: DEFAULT_LOGIN_FAILURES_PER_USER,
            login_failures_per_ip: DEFAULT_LOGIN_FAILURES_PER_IP,
            login_window: DEFAULT_LOGIN_WINDOW,
            login_failures_per_pair: DEFAULT_LOGIN_FAILURES_PER_PAIR,
            login_pair_window: DEFAULT_LOGIN_PAIR_WINDOW,
            login_max_delay: DEFAULT_LOGIN_MAX_DELAY,
            trusted_proxies: Vec::new(),
            client_ip_header: axum::http::HeaderName::from_static(DEFAULT_CLIENT_IP_HEADER),
            compact_after_changes: DEFAULT_COMPACT_AFTER_CHANGES,
            compact_interval: DEFAULT_COMPACT_INTERVAL,
            doc_cache_bytes: DEFAULT_DOC_CACHE_BYTES,
            max_concurrent_syncs: default_max_concurrent_syncs(),
            display: Display::default(),
            removed_write_grace: DEFAULT_REMOVED_WRITE_GRACE,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            metrics_token: None,
        }
    }
}

/// An IP address or a network in CIDR notation (`10.0.0.0/8`, `fd00::/8`; a bare address
/// is a network of one), as the trusted proxies are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_match(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(u128::from(net), u128::from(ip), self.prefix)
            }
            _ => false,
        }
    }

    /// Whether `ip` is in any of `nets`.
    pub fn any_contains(nets: &[IpNet], ip: IpAddr) -> bool {
        nets.iter().any(|n| n.contains(ip))
    }

    /// Parses a comma-separated list (`127.0.0.1, 10.0.0.0/8`); empty items are skipped.
    pub fn parse_list(s: &str) -> Result<Vec<IpNet>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::parse)
            .collect()
    }
}

fn prefix_match(a: u128, b: u128, prefix: u8) -> bool {
    let mask = match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    };
    a & mask == b & mask
}

impl std::str::FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("not an IP address or CIDR network: {s:?}");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Default number of PostgreSQL connections (threads) per instance.
pub const DEFAULT_DATABASE_POOL: usize = 8;

/// Where the server keeps its data, chosen by the database URL setting
/// (`--database-url` / `CASESYNC_DATABASE_URL`): a `postgres://` or `postgresql://` URL
/// selects PostgreSQL (any number of instances on one database); none selects the
/// embedded sled store in the data directory (one instance).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded sled store.
    Sled {
        /// Its directory.
        dir: std::path::PathBuf,
        /// Its page cache, in bytes (`--sled-cache-bytes`).
        cache_bytes: u64,
    },
    /// PostgreSQL.
    Postgres {
        /// Connection URL (may carry a password: never logged, see [`Self::describe`]).
        url: String,
        /// Connections (threads) of this instance.
        pool_size: usize,
        /// The data directory: where the master key file is by default
        /// ([`MasterKey::resolve`](crate::store::MasterKey::resolve)).
        data: std::path::PathBuf,
    },
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreLocation {
    /// The store for these settings; an empty URL counts as none. Any other URL scheme
    /// is refused rather than silently falling back to sled. `pool_size` applies to
    /// PostgreSQL, `sled_cache_bytes` to sled.
    pub fn choose(
        data: &std::path::Path,
        database_url: Option<&str>,
        pool_size: usize,
        sled_cache_bytes: u64,
    ) -> Result<Self, String> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(StoreLocation::Sled {
                dir: data.to_path_buf(),
                cache_bytes: sled_cache_bytes,
            }),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(StoreLocation::Postgres {
                    url: u.to_owned(),
                    pool_size: pool_size.max(1),
                    data: data.to_path_buf(),
                })
            }
            Some(_) => Err("the database URL must start with postgres:// or postgresql://".into()),
        }
    }

    /// Opens the store (PostgreSQL: connects and applies migrations).
    pub fn open(
        &self,
    ) -> Result<std::sync::Arc<dyn crate::store::Storage>, crate::store::StoreError> {
        match self {
            StoreLocation::Sled { dir, cache_bytes } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| crate::store::StoreError::Db(e.to_string()))?;
                Ok(std::sync::Arc::new(crate::store::SledStorage::open_with(
                    dir,
                    *cache_bytes,
                )?))
            }
            #[cfg(feature = "postgres")]
            StoreLocation::Postgres {
                url,
                pool_size,
                data,
            } => Ok(std::sync::Arc::new(crate::store::PgStorage::connect(
                url,
                *pool_size,
                crate::store::MasterKey::resolve(data)?,
            )?)),
            #[cfg(not(feature = "postgres"))]
            StoreLocation::Postgres { .. } => Err(crate::store::StoreError::Db(
                "this casesync-server was built without the PostgreSQL store \
                 (--no-default-features): build it with the default features"
                    .into(),
            )),
        }
    }

    /// A description for logs and errors, without credentials.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sled { dir, .. } => format!("sled store at {}", dir.display()),
            StoreLocation::Postgres { url, .. } => {
                let shown = match url.split_once("://") {
                    Some((scheme, rest)) => {
                        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                        format!("{scheme}://{host}")
                    }
                    None => "postgres".into(),
                };
                format!("PostgreSQL at {shown}")
            }
        }
    }
}

#[cfg(test)]
mod ip_net_tests {
    use super::IpNet;

    #[test]
    fn networks_contain_their_addresses() {
        let nets = IpNet::parse_list("127.0.0.1, 10.0.0.0/8,fd00::/8").expect("parse");
        let has = |s: &str| IpNet::any_contains(&nets, s.parse().expect("ip"));
        assert!(has("127.0.0.1") && has("10.200.3.4") && has("fd12::1"));
        assert!(has("::ffff:127.0.0.1"), "IPv4-mapped counts as IPv4");
        assert!(!has("127.0.0.2") && !has("11.0.0.1") && !has("fe80::1"));
        assert!("0.0.0.0/0"
            .parse::<IpNet>()
            .expect("any")
            .contains("1.2.3.4".parse().expect("ip")));
        for bad in ["10.0.0.0/33", "x", "10.0.0.1/", "::/129"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod store_location_tests {
    use super::StoreLocation;
    use std::path::Path;

    #[test]
    fn the_database_url_chooses_the_store() {
        let d = Path::new("/tmp/x");
        let sled = StoreLocation::Sled {
            dir: d.into(),
            cache_bytes: 7,
        };
        assert_eq!(StoreLocation::choose(d, None, 4, 7), Ok(sled.clone()));
        assert_eq!(StoreLocation::choose(d, Some(""), 4, 7), Ok(sled));
        let pg = StoreLocation::choose(d, Some("postgres://u:secret@db:5432/cs"), 4, 7);
        assert!(matches!(
            pg,
            Ok(StoreLocation::Postgres { pool_size: 4, .. })
        ));
        let shown = pg.map(|p| p.describe()).unwrap_or_default();
        assert_eq!(shown, "PostgreSQL at postgres://db:5432/cs");
        assert!(StoreLocation::choose(d, Some("mysql://db"), 4, 7).is_err());
    }
}
