//! Test harness: the real `casesync-server` binary on an ephemeral loopback port with a
//! real sled store in a temp dir, and devices (core store + sync session + HTTP).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use casesync_core::case::{Case, CaseDoc, EditCtx, Role};
use casesync_core::protocol::LoginRequest;
use casesync_core::store::DeviceStore;
use casesync_core::sync::{Step, SyncProgress, DEFAULT_PAGE_BYTES};

/// A user to create before the server starts.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// Login name (also the user id).
    pub username: String,
    /// Password.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Districts.
    pub districts: Vec<String>,
    /// Granted access to sensitive cases.
    pub sensitive_access: bool,
}

impl UserSpec {
    /// A user with one district.
    pub fn new(username: &str, role: Role, district: &str) -> Self {
        UserSpec {
            username: username.into(),
            password: format!("pw-{username}-secret"),
            role,
            districts: vec![district.into()],
            sensitive_access: false,
        }
    }
}

/// Path of the server binary: `CASESYNC_SERVER_BIN`, or next to this test's target dir.
/// Benchmarks (an optimised profile: `production`, `release`) always build it first in
/// their own profile (a no-op when it is current), so they never measure a stale server; tests (debug) build it only when
/// missing (`scripts/test` builds it before the suite: a build from inside `cargo test`
/// would wait on cargo's lock).
pub fn server_bin() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CASESYNC_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("exe dir")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("casesync-server");
    let profile = dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("debug")
        .to_owned();
    let optimised = profile != "debug";
    if !bin.exists() || optimised {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "-p", "casesync-server", "--bin", "casesync-server"]);
        if optimised {
            // The bench's own profile (`release`, `production`, or one of the caller's).
            cmd.args(["--profile", &profile]);
        }
        let status = cmd.status()?;
        if !status.success() {
            bail!("building casesync-server failed");
        }
    }
    Ok(bin)
}

/// A running server process; killed on drop.
pub struct ServerProc {
    child: Option<Child>,
    /// Base URL, e.g. `http://127.0.0.1:43121`.
    pub url: String,
    /// Its data directory.
    pub data: PathBuf,
    /// What it printed before its `listening on` line (demo accounts, the metrics
    /// address).
    pub banner: Vec<String>,
}

impl ServerProc {
    /// Creates `users` in `data` with the CLI, then starts `serve` on 127.0.0.1:0.
    pub fn start(data: &Path, users: &[UserSpec]) -> Result<Self> {
        add_users(users, |cmd| {
            cmd.arg("--data").arg(data);
        })?;
        Self::serve(data)
    }

    /// Starts `serve` on an existing data dir.
    pub fn serve(data: &Path) -> Result<Self> {
        Self::spawn_serve(data, |_| {})
    }

    /// [`ServerProc::start`] with these settings given as environment variables
    /// (`CASESYNC_*`; a server that lacks a setting ignores its variable, so a test of a
    /// new setting still starts, and fails on what it checks, against an older server).
    pub fn start_with_env(data: &Path, users: &[UserSpec], env: &[(&str, &str)]) -> Result<Self> {
        add_users(users, |cmd| {
            cmd.arg("--data").arg(data);
        })?;
        Self::spawn_serve(data, |cmd| {
            cmd.envs(env.iter().copied());
        })
    }

    /// [`ServerProc::start`] with extra `serve` arguments (settings such as
    /// `--refresh-grace-secs 1`).
    pub fn start_with_args(data: &Path, users: &[UserSpec], args: &[&str]) -> Result<Self> {
        add_users(users, |cmd| {
            cmd.arg("--data").arg(data);
        })?;
        Self::spawn_serve(data, |cmd| {
            cmd.args(args);
        })
    }

    /// Starts `serve` on 127.0.0.1:0 with the data dir `data` and whatever `configure`
    /// adds, and waits for its `listening on` line.
    fn spawn_serve(data: &Path, configure: impl FnOnce(&mut Command)) -> Result<Self> {
        let mut cmd = Command::new(server_bin()?);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        configure(&mut cmd);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let url = loop {
            let line = lines
                .next()
                .ok_or_else(|| anyhow!("server exited before listening"))??;
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
            banner.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(ServerProc {
            child: Some(child),
            url,
            data: data.to_path_buf(),
            banner,
        })
    }

    /// The server's process id (`None` once killed).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -TERM`, then waits up to `wait` for the process to exit; its exit status
    /// (an error if it did not exit in time: it is then killed).
    pub fn terminate(&mut self, wait: std::time::Duration) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Some(exit) = child.try_wait()? {
                return Ok(exit);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not exit within {wait:?} of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// `kill -9` (no clean shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A phone: its encrypted store, its identity, and an HTTP client.
pub struct Device {
    /// Device id.
    pub device_id: String,
    /// The local store.
    pub store: DeviceStore,
    /// Logged-in user.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Access token.
    pub token: String,
    /// Refresh token.
    pub refresh_token: String,
    http: reqwest::Client,
    url: String,
}

/// Result of logging in (the shared type the server answers with).
pub use casesync_core::protocol::TokenResponse;

/// A fresh random 32-byte store key.
pub fn test_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    k
}

/// An HTTP client with inactivity (not total) time-outs.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Logs in over HTTP.
pub async fn login(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
    device_id: &str,
) -> Result<TokenResponse> {
    let resp = http
        .post(format!("{url}/v1/auth/login"))
        .json(&LoginRequest {
            username: user.into(),
            password: password.into(),
            device_id: device_id.into(),
        })
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "login failed: {} {}",
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(resp.json().await?)
}

/// Cases per import request (keeps each request well under the server's body limit, and
/// under the client's 30 s read time-out on a debug build).
pub const IMPORT_BATCH: usize = 100;

/// Imports `cases` as the user of `token` (`POST /v1/cases/import`, `batch` a request;
/// [`IMPORT_BATCH`] suits a debug build).
pub async fn import_cases(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    cases: &[Case],
    batch: usize,
) -> Result<()> {
    for chunk in cases.chunks(batch.max(1)) {
        let resp = http
            .post(format!("{url}/v1/cases/import"))
            .bearer_auth(token)
            .json(&chunk)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("import request: {e:?}"))?;
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

impl Device {
    /// Logs `user` in from a new device whose store lives in `dir`.
    pub async fn login(url: &str, dir: &Path, user: &UserSpec, device_id: &str) -> Result<Self> {
        let http = http_client();
        let l = login(&http, url, &user.username, &user.password, device_id).await?;
        let store = DeviceStore::open(&dir.join(device_id), &test_key())?;
        Ok(Device {
            device_id: device_id.into(),
            store,
            user: user.username.clone(),
            role: user.role,
            token: l.access_token,
            refresh_token: l.refresh_token,
            http,
            url: url.into(),
        })
    }

    /// An edit context for this device's user at `now_ms`.
    pub fn ctx(&self, now_ms: i64) -> EditCtx {
        EditCtx::new(self.user.clone(), self.role, now_ms)
    }

    /// The case `id` as this device has it now.
    pub fn case(&self, id: &str) -> Result<Case> {
        Ok(self.store.load_case(id)?.read()?)
    }

    /// Edits a case locally (offline) and saves it with its outbox entry.
    pub fn edit<R>(
        &self,
        case_id: &str,
        now_ms: i64,
        f: impl FnOnce(&mut CaseDoc, &EditCtx) -> Result<R, casesync_core::case::CaseError>,
    ) -> Result<R> {
        let mut doc = self.store.load_case(case_id)?;
        doc.set_actor(self.store.actor(&self.device_id)?);
        let r = f(&mut doc, &self.ctx(now_ms))?;
        self.store.save_local(&mut doc)?;
        Ok(r)
    }

    /// Creates a case locally.
    pub fn create(&self, new: &casesync_core::case::NewCase, now_ms: i64) -> Result<()> {
        let mut doc = CaseDoc::create(&self.ctx(now_ms), self.store.actor(&self.device_id)?, new)?;
        self.store.save_local(&mut doc)?;
        Ok(())
    }

    /// Posts raw bytes to /v1/sync; returns status and body.
    pub async fn post_sync(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>)> {
        crate::dump::post_sync(&self.http, &self.url, &self.token, body).await
    }

    /// Syncs until up to date; returns the progress and how it ended.
    pub async fn sync(&self) -> Result<(SyncProgress, Step)> {
        self.sync_via(&self.url).await
    }

    /// [`Device::sync`] through the server (instance) at `url`.
    pub async fn sync_via(&self, url: &str) -> Result<(SyncProgress, Step)> {
        crate::dump::sync_store(
            &self.http,
            url,
            &self.token,
            &self.store,
            &self.device_id,
            DEFAULT_PAGE_BYTES,
        )
        .await
    }
}

/// The environment variable naming a PostgreSQL database the tests may use to create
/// their own (e.g. `postgres://postgres@127.0.0.1:55432/casesync`; `scripts/pg start`
/// prints it). Unset: the PostgreSQL tests are skipped.
pub const TEST_DATABASE_ENV: &str = "CASESYNC_TEST_DATABASE_URL";

/// A fresh, empty PostgreSQL database for one test, dropped when this is dropped.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

impl TestDatabase {
    /// A new database on the server of [`TEST_DATABASE_ENV`]; `None` if it is unset.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(admin_url) = std::env::var(TEST_DATABASE_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        let name = format!("cs_t_{}", uuid::Uuid::new_v4().simple());
        let url = casesync_server::store::postgres::create_database(&admin_url, &name)
            .map_err(|e| anyhow!("cannot create test database: {e}"))?;
        Ok(Some(TestDatabase {
            admin_url,
            name,
            url,
        }))
    }
}

impl TestDatabase {
    /// Drops the database now, ending the sessions of any server on it (a test of what a
    /// server does when its database goes away).
    pub fn drop_now(&self) -> Result<()> {
        casesync_server::store::postgres::drop_database(&self.admin_url, &self.name)
            .map_err(|e| anyhow!("cannot drop test database: {e}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = casesync_server::store::postgres::drop_database(&self.admin_url, &self.name);
    }
}

/// Connections each PostgreSQL-backed test server opens (several run at once).
const TEST_DATABASE_POOL: &str = "4";

/// The master key of PostgreSQL-backed test servers: instances on one database must
/// share theirs (a sled server creates its own in its data directory).
pub const TEST_MASTER_KEY: &str =
    "0707070707070707070707070707070707070707070707070707070707070707";

impl ServerProc {
    /// Creates `users` with the CLI in the PostgreSQL database at `database_url`, then
    /// starts `serve` on it on 127.0.0.1:0 (`data` is only its nominal data dir).
    pub fn start_with_database(
        database_url: &str,
        data: &Path,
        users: &[UserSpec],
    ) -> Result<Self> {
        add_users(users, |cmd| {
            cmd.env("CASESYNC_DATABASE_URL", database_url)
                .env("CASESYNC_DATABASE_POOL", "1")
                .env("CASESYNC_MASTER_KEY", TEST_MASTER_KEY);
        })?;
        Self::serve_with_database(database_url, data)
    }

    /// Starts one more `serve` instance on the PostgreSQL database at `database_url`
    /// (the URL goes through the environment, never the command line).
    pub fn serve_with_database(database_url: &str, data: &Path) -> Result<Self> {
        Self::spawn_serve(data, |cmd| {
            cmd.env("CASESYNC_DATABASE_URL", database_url)
                .env("CASESYNC_DATABASE_POOL", TEST_DATABASE_POOL)
                .env("CASESYNC_MASTER_KEY", TEST_MASTER_KEY);
        })
    }
}

/// Creates `users` with `casesync-server user add` (password on stdin), each command
/// pointed at its store by `store`.
fn add_users(users: &[UserSpec], store: impl Fn(&mut Command)) -> Result<()> {
    let bin = server_bin()?;
    for u in users {
        let mut cmd = Command::new(&bin);
        cmd.args(["user", "add", &u.username, "--role", u.role.as_str()])
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for d in &u.districts {
            cmd.args(["--district", d]);
        }
        if u.sensitive_access {
            cmd.arg("--sensitive-access");
        }
        store(&mut cmd);
        let mut child = cmd.spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            writeln!(stdin, "{}", u.password)?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("user add failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    Ok(())
}
