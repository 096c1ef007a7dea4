//! Behind a real nginx (issue #18): the real server on loopback, `/usr/sbin/nginx`
//! started as this user with a configuration in a temp dir that includes the shipped
//! `docs/deploy/casesync-proxy.conf` unchanged, listening on a loopback port of its own.
//! Through it: a device's sync, a body above nginx's default limit, a dashboard sign-in,
//! and login throttling, which must see each client's own address (nginx passes it in
//! `X-Forwarded-For`; the server trusts 127.0.0.1) — clients bind 127.0.0.2 and 127.0.0.3
//! so that they differ from nginx's 127.0.0.1.
//!
//! Without nginx the tests print a skip note and pass, unless `CASESYNC_REQUIRE_NGINX=1`
//! (set by `scripts/test`, which installs nginx when it is missing).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use casesync_core::case::Role;
use casesync_core::sync::Step;
use casesync_tests::fixtures::{new_case, visit};
use casesync_tests::harness::*;

const D: &str = "sylhet";
/// Where Debian's nginx is, unless `CASESYNC_NGINX` names another.
const NGINX: &str = "/usr/sbin/nginx";
/// Longest wait for nginx to answer after its start.
const NGINX_START: Duration = Duration::from_secs(10);

fn nginx_bin() -> Result<Option<PathBuf>> {
    let bin = std::env::var_os("CASESYNC_NGINX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(NGINX));
    if bin.is_file() {
        return Ok(Some(bin));
    }
    if std::env::var("CASESYNC_REQUIRE_NGINX").is_ok_and(|v| v == "1") {
        bail!(
            "CASESYNC_REQUIRE_NGINX=1 but there is no nginx at {} (apt-get install nginx-light)",
            bin.display()
        );
    }
    eprintln!(
        "SKIPPED: no nginx at {} (apt-get install nginx-light, or set CASESYNC_NGINX)",
        bin.display()
    );
    Ok(None)
}

/// A running nginx in front of `upstream`; stopped on drop.
struct Nginx {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Nginx {
    fn start(bin: &Path, dir: &Path, upstream: &str) -> Result<Nginx> {
        let snippet = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/deploy/casesync-proxy.conf")
            .canonicalize()
            .context("docs/deploy/casesync-proxy.conf")?;
        let upstream = upstream.trim_start_matches("http://");
        // As root, nginx's workers would switch to `nobody`, who cannot use the temp dir.
        let user = if is_root() { "user root root;" } else { "" };
        for attempt in 0..3 {
            // A free port now (nginx does not report a port 0 it was given).
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let d = dir.display();
            let conf = format!(
                "{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream casesync_upstream {{
        server {upstream};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        include {snippet};
    }}
}}
",
                snippet = snippet.display()
            );
            let path = dir.join("nginx.conf");
            std::fs::write(&path, conf)?;
            let mut child = Command::new(bin)
                .arg("-p")
                .arg(dir)
                .arg("-c")
                .arg(&path)
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?;
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + NGINX_START;
            loop {
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    if attempt < 2 && err.contains("Address already in use") {
                        break;
                    }
                    bail!("nginx exited ({status}): {err}");
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Nginx {
                        child,
                        url,
                        dir: dir.to_path_buf(),
                    });
                }
                if Instant::now() > deadline {
                    // Stopped as on drop (its workers with it).
                    drop(Nginx {
                        child,
                        url,
                        dir: dir.to_path_buf(),
                    });
                    bail!("nginx did not listen within {NGINX_START:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        bail!("no free port for nginx")
    }

    /// The addresses nginx's access log saw requests from.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// SIGTERM to the master, which stops its workers (SIGKILL would leave them running,
    /// orphaned, on the port); SIGKILL only if it has not exited in time.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + NGINX_START;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// An HTTP client whose connections come from `local` (a loopback address of its own).
fn client_from(local: Ipv4Addr, redirects: bool) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30));
    if !redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    Ok(b.build()?)
}

fn users() -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, D);
    coord.sensitive_access = true;
    vec![coord, UserSpec::new("chw1", Role::Chw, D)]
}

struct World {
    _dir: tempfile::TempDir,
    _server: ServerProc,
    nginx: Nginx,
    users: Vec<UserSpec>,
}

fn world() -> Result<Option<World>> {
    let Some(bin) = nginx_bin()? else {
        return Ok(None);
    };
    let dir = tempfile::tempdir()?;
    let users = users();
    let server = ServerProc::start_with_env(
        &dir.path().join("server"),
        &users,
        &[
            ("CASESYNC_TRUSTED_PROXIES", "127.0.0.1"),
            ("CASESYNC_LOGIN_MAX_DELAY_MS", "200"),
        ],
    )?;
    let ng = dir.path().join("nginx");
    std::fs::create_dir_all(&ng)?;
    let nginx = Nginx::start(&bin, &ng, &server.url)?;
    Ok(Some(World {
        _dir: dir,
        _server: server,
        nginx,
        users,
    }))
}

#[tokio::test]
async fn a_device_syncs_through_nginx_and_bodies_up_to_the_servers_limit_pass() -> Result<()> {
    let Some(w) = world()? else { return Ok(()) };
    let url = w.nginx.url.clone();
    let dir = tempfile::tempdir()?;
    let chw = Device::login(&url, dir.path(), &w.users[1], "phone-1").await?;
    let tablet = Device::login(&url, dir.path(), &w.users[0], "tablet-1").await?;
    let names = ["রহিমা খাতুন", "زهرا احمدی", "สมชาย จันทร์เพ็ญ", "Nguyễn Thị Hoa"];
    for (i, n) in names.iter().enumerate() {
        chw.create(&new_case(&format!("p{i}"), D, "chw1", n, false), 1_000)?;
    }
    for i in 0..names.len() {
        chw.edit(&format!("p{i}"), 2_000, |d, c| {
            d.add_visit(c, &visit("ভালো আছে, জ্বর নেই"))
        })?;
    }
    let (p, step) = chw.sync().await?;
    assert_eq!(step, Step::Done);
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    assert_eq!(p.docs_pushed, names.len() as u64);
    let (p, step) = tablet.sync().await?;
    assert_eq!(step, Step::Done);
    assert_eq!(p.docs_received, names.len() as u64);
    assert_eq!(tablet.case("p2")?.client.name, names[2]);

    // A body above nginx's default limit (1 MiB) reaches the server, which judges it
    // (not a sync request: 400 with the JSON error body, not nginx's 413 page).
    let http = http_client();
    let r = http
        .post(format!("{url}/v1/sync"))
        .bearer_auth(&chw.token)
        .header("content-type", casesync_core::protocol::CONTENT_TYPE)
        .body(vec![7u8; 2 * 1024 * 1024])
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.text().await?;
    assert_ne!(status, 413, "{body}");
    assert!(
        body.contains("\"code\""),
        "the server's answer: {status} {body}"
    );
    // A body over the server's limit is answered by the server (JSON), not nginx.
    let http = http_client();
    let r = http
        .post(format!("{url}/v1/sync"))
        .bearer_auth(&chw.token)
        .header("content-type", casesync_core::protocol::CONTENT_TYPE)
        .body(vec![0u8; 8 * 1024 * 1024 + 1])
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 413);
    let body = r.text().await?;
    assert!(body.contains("payload_too_large"), "{body}");
    Ok(())
}

/// One API login from `http`: the status and error code.
async fn api_login(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    pw: &str,
    xff: Option<&str>,
) -> Result<(u16, String)> {
    let mut rb = http
        .post(format!("{url}/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": pw, "device_id": "proxy-test"}));
    if let Some(f) = xff {
        rb = rb.header("x-forwarded-for", f);
    }
    let r = rb.send().await?;
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    Ok((status, body["code"].as_str().unwrap_or_default().to_owned()))
}

#[tokio::test]
async fn throttling_through_nginx_sees_each_clients_own_address() -> Result<()> {
    let Some(w) = world()? else { return Ok(()) };
    let url = w.nginx.url.clone();
    let guesser = client_from(Ipv4Addr::new(127, 0, 0, 2), true)?;
    let other = client_from(Ipv4Addr::new(127, 0, 0, 3), true)?;
    let right = w.users[1].password.clone();
    for i in 0..5 {
        let r = api_login(&guesser, &url, "chw1", &format!("guess-{i}"), None).await?;
        assert_eq!(r, (401, "bad_credentials".into()));
    }
    assert_eq!(
        api_login(&guesser, &url, "chw1", &right, None).await?,
        (429, "rate_limited".into()),
        "the guessing client is refused this account"
    );
    assert_eq!(
        api_login(&guesser, &url, "chw1", &right, Some("198.51.100.7")).await?,
        (429, "rate_limited".into()),
        "an X-Forwarded-For of the client's own does not get it out"
    );
    assert_eq!(
        api_login(&other, &url, "chw1", &right, None).await?.0,
        200,
        "another client behind the same nginx logs in: the server told them apart"
    );
    // nginx logs a request after answering it: wait for the line.
    let deadline = Instant::now() + NGINX_START;
    let mut log = w.nginx.access_log();
    while !(log.contains("127.0.0.2") && log.contains("127.0.0.3")) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        log = w.nginx.access_log();
    }
    assert!(
        log.contains("127.0.0.2") && log.contains("127.0.0.3"),
        "nginx saw both clients: {log}"
    );
    Ok(())
}

#[tokio::test]
async fn a_dashboard_sign_in_through_nginx() -> Result<()> {
    let Some(w) = world()? else { return Ok(()) };
    let url = w.nginx.url.clone();
    let http = client_from(Ipv4Addr::new(127, 0, 0, 4), false)?;
    let page = http.get(format!("{url}/login")).send().await?;
    assert_eq!(page.status().as_u16(), 200);
    let login = set_cookie(&page, "casesync_login").context("login cookie")?;
    let coord = &w.users[0];
    let signed = http
        .post(format!("{url}/login"))
        .header("cookie", format!("casesync_login={login}"))
        .form(&[
            ("username", coord.username.as_str()),
            ("password", coord.password.as_str()),
            ("csrf", login.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(signed.status().as_u16(), 303, "signed in");
    let session = set_cookie(&signed, "casesync_session").context("session cookie")?;
    let overview = http
        .get(format!("{url}/dashboard"))
        .header("cookie", format!("casesync_session={session}"))
        .send()
        .await?;
    assert_eq!(overview.status().as_u16(), 200);
    let html = overview.text().await?;
    assert!(
        html.contains(D),
        "the overview of the coordinator's district"
    );
    Ok(())
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}
