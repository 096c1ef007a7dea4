//! Server settings: every limit and timeout is named here, with its default.

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
/// Default refresh grace window (2 minutes): a refresh token presented again this soon
/// after it was rotated (its answer was lost on the link) gets the same successor back
/// instead of counting as reuse.
pub const DEFAULT_REFRESH_GRACE: Duration = Duration::from_secs(120);
/// Default inactivity timeout: the longest wait for the next bytes of a request.
pub const DEFAULT_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default failed logins allowed per username within [`DEFAULT_LOGIN_WINDOW`].
pub const DEFAULT_LOGIN_FAILURES_PER_USER: u32 = 5;
/// Default failed logins allowed per client address within [`DEFAULT_LOGIN_WINDOW`].
pub const DEFAULT_LOGIN_FAILURES_PER_IP: u32 = 30;
/// Default window of the login failure counters (15 minutes).
pub const DEFAULT_LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
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
    /// Longest wait for the next bytes of a request (headers or body): not a total duration.
    pub inactivity_timeout: Duration,
    /// Failed logins allowed per username per window (then 429).
    pub login_failures_per_user: u32,
    /// Failed logins allowed per client address per window (then 429).
    pub login_failures_per_ip: u32,
    /// Window of the login failure counters.
    pub login_window: Duration,
    /// Changes since a document's snapshot that make the compactor re-save it.
    pub compact_after_changes: u32,
    /// Interval of the background compaction pass.
    pub compact_interval: Duration,
    /// Documents kept loaded between pushes: most saved bytes (see `DocCache`).
    pub doc_cache_bytes: u64,
    /// Most sync requests worked on at once (the others wait).
    pub max_concurrent_syncs: usize,
}

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
            login_failures_per_user: DEFAULT_LOGIN_FAILURES_PER_USER,
            login_failures_per_ip: DEFAULT_LOGIN_FAILURES_PER_IP,
            login_window: DEFAULT_LOGIN_WINDOW,
            compact_after_changes: DEFAULT_COMPACT_AFTER_CHANGES,
            compact_interval: DEFAULT_COMPACT_INTERVAL,
            doc_cache_bytes: DEFAULT_DOC_CACHE_BYTES,
            max_concurrent_syncs: default_max_concurrent_syncs(),
        }
    }
}

/// Default number of PostgreSQL connections per instance.
pub const DEFAULT_DATABASE_POOL: usize = crate::store::postgres::DEFAULT_POOL_SIZE;

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
            StoreLocation::Postgres { url, pool_size } => Ok(std::sync::Arc::new(
                crate::store::PgStorage::connect(url, *pool_size)?,
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
