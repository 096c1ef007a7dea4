//! Running the server as a service (issue #18): a graceful stop at SIGTERM that finishes
//! the sync in flight and loses nothing acknowledged, readiness that follows the store,
//! metrics that are not served to the world, and a demo that stays on loopback. Every
//! test drives the real server binary on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use casesync_core::case::Role;
use casesync_core::protocol::CONTENT_TYPE;
use casesync_core::sync::{Step, SyncSession, DEFAULT_PAGE_BYTES};
use casesync_tests::fixtures::new_case;
use casesync_tests::harness::*;

const D: &str = "sylhet";
const NAME: &str = "নাসরিন আক্তার";
/// The village the phone moves the case to while the server is stopping.
const VILLAGE: &str = "শ্রীমঙ্গল";

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as i64)
}

/// `host:port` of a server's URL.
fn addr(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Reads one HTTP/1.1 response with a `content-length` body from `tcp`.
fn read_response(tcp: &mut TcpStream) -> Result<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = tcp.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed before a response");
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .context("status line")?
        .parse()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .context("content-length")?;
    while buf.len() < head_end + len {
        let n = tcp.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed inside the body");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, buf[head_end..head_end + len].to_vec()))
}

/// A sync whose body is half sent when the server is told to stop: the server stops
/// accepting, waits for the rest, answers it, and exits 0. What it acknowledged is there
/// after a restart, and the phone finishes its sync against the restarted server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_sync_in_flight_and_loses_nothing_acknowledged() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let chw = UserSpec::new("chw1", Role::Chw, D);
    let mut server = ServerProc::start(&data, std::slice::from_ref(&chw))?;
    let phone = Device::login(&server.url, &dir.path().join("phone"), &chw, "phone-1").await?;
    phone.create(&new_case("c-1", D, "chw1", NAME, false), now_ms())?;
    phone.sync().await?;
    phone.edit("c-1", now_ms(), |doc, ctx| doc.set_village(ctx, VILLAGE))?;

    let mut session = SyncSession::new(&phone.store, "phone-1", DEFAULT_PAGE_BYTES)?;
    let body = session.next_request()?;
    let half = body.len() / 2;
    let mut tcp = TcpStream::connect(addr(&server.url))?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        tcp,
        "POST /v1/sync HTTP/1.1\r\nhost: casesync\r\nauthorization: Bearer {}\r\n\
         content-type: {CONTENT_TYPE}\r\ncontent-length: {}\r\n\r\n",
        phone.token,
        body.len()
    )?;
    tcp.write_all(&body[..half])?;
    tcp.flush()?;
    std::thread::sleep(Duration::from_millis(300));

    let pid = server.pid().context("pid")?;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        TcpStream::connect(addr(&server.url)).is_err(),
        "after SIGTERM the server must not accept a new connection"
    );

    tcp.write_all(&body[half..])?;
    tcp.flush()?;
    let (status, answer) = read_response(&mut tcp)?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    session.handle_response(&answer)?;
    assert_eq!(
        session.progress().docs_pushed,
        1,
        "the edit in flight is acknowledged"
    );
    let exit = server.terminate(Duration::from_secs(20))?;
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");

    // What was acknowledged is there after the restart; the phone finishes its sync there.
    let server = ServerProc::serve(&data)?;
    let (_, step) = phone.sync_via(&server.url).await?;
    assert_eq!(step, Step::Done);
    assert!(phone.store.outbox()?.is_empty(), "nothing left to send");
    let other = Device::login(&server.url, &dir.path().join("phone-2"), &chw, "phone-2").await?;
    other.sync().await?;
    let case = other.case("c-1")?;
    assert_eq!(case.client.name, NAME);
    assert_eq!(
        case.village, VILLAGE,
        "the edit acknowledged during the stop reached the restarted server"
    );
    Ok(())
}

/// An idle server stops at SIGTERM at once (its keep-alive connections are closed, not
/// waited for), with exit status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_an_idle_server_exits_0_without_waiting_for_idle_connections() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let chw = UserSpec::new("chw1", Role::Chw, D);
    let mut server = ServerProc::start(&dir.path().join("server"), &[chw])?;
    // An idle keep-alive connection that has served one request.
    let mut idle = TcpStream::connect(addr(&server.url))?;
    idle.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(idle, "GET /healthz HTTP/1.1\r\nhost: casesync\r\n\r\n")?;
    let (status, body) = read_response(&mut idle)?;
    assert_eq!((status, body.as_slice()), (200, &b"ok"[..]));
    let started = std::time::Instant::now();
    let exit = server.terminate(Duration::from_secs(10))?;
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "an idle keep-alive connection held the stop for {:?}",
        started.elapsed()
    );
    Ok(())
}

/// `/readyz` follows the store: ready on a live database, 503 `unavailable` once the
/// database is gone (while `/healthz`, liveness, still answers). PostgreSQL only: a sled
/// store inside the process cannot go away under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_when_the_database_is_gone() -> Result<()> {
    let Some(db) = TestDatabase::from_env()? else {
        eprintln!("skipped: {TEST_DATABASE_ENV} is not set");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let chw = UserSpec::new("chw1", Role::Chw, D);
    let server = ServerProc::start_with_database(&db.url, dir.path(), &[chw])?;
    let http = http_client();
    let ready = http.get(format!("{}/readyz", server.url)).send().await?;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await?, "ready");

    db.drop_now()?;
    let gone = http.get(format!("{}/readyz", server.url)).send().await?;
    assert_eq!(gone.status(), 503);
    let body: serde_json::Value = gone.json().await?;
    assert_eq!(body["code"], "unavailable", "{body}");
    let live = http.get(format!("{}/healthz", server.url)).send().await?;
    assert_eq!(live.status(), 200);
    Ok(())
}

/// `/metrics` is not open to anyone who can reach the sync address: 404 without a
/// configured token, 401 without or with a wrong token, served with the right one; and
/// served without a token on the private `--metrics-listen` address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_a_token_or_a_private_address() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let http = http_client();
    let chw = UserSpec::new("chw1", Role::Chw, D);

    let open = ServerProc::start(&dir.path().join("a"), std::slice::from_ref(&chw))?;
    let r = http.get(format!("{}/metrics", open.url)).send().await?;
    assert_eq!(r.status(), 404, "no token configured: not served");
    let r = http.get(format!("{}/readyz", open.url)).send().await?;
    assert_eq!(r.status(), 200, "sled: ready");
    drop(open);

    let token = "m-7f3a9c2e-metrics";
    let guarded = ServerProc::start_with_args(
        &dir.path().join("b"),
        std::slice::from_ref(&chw),
        &["--metrics-token", token, "--metrics-listen", "127.0.0.1:0"],
    )?;
    let url = format!("{}/metrics", guarded.url);
    let r = http.get(&url).send().await?;
    assert_eq!(r.status(), 401);
    let r = http
        .get(&url)
        .bearer_auth("m-7f3a9c2e-metricz")
        .send()
        .await?;
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["code"], "invalid_token");
    let r = http.get(&url).bearer_auth(token).send().await?;
    assert_eq!(r.status(), 200);
    let text = r.text().await?;
    assert!(text.contains("casesync_"), "{text}");

    let private = guarded
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("metrics on "))
        .context("the server prints its metrics address")?;
    let r = http.get(private.trim()).send().await?;
    assert_eq!(r.status(), 200, "the private address needs no token");
    assert!(r.text().await?.contains("casesync_"));
    let r = http
        .get(private.trim().replace("/metrics", "/v1/auth/login"))
        .send()
        .await?;
    assert_eq!(r.status(), 404, "the private address serves nothing else");
    Ok(())
}

/// `serve --demo` on an address other than loopback is refused (the demo passwords are
/// public) unless `--demo-public` says it is meant.
#[test]
fn the_demo_refuses_a_public_address() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = std::process::Command::new(server_bin()?)
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path().join("demo"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the demo kept serving on 0.0.0.0");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .context("stderr")?
        .read_to_string(&mut err)?;
    assert!(!status.success());
    assert!(err.contains("--demo-public"), "{err}");
    Ok(())
}

/// Signs in to the dashboard at `url` (login page cookie, then the form); the session
/// cookie's value.
async fn dashboard_sign_in(url: &str, user: &UserSpec) -> Result<String> {
    let http = no_redirects();
    let page = http.get(format!("{url}/login")).send().await?;
    let login = set_cookie(&page, "casesync_login").context("login cookie")?;
    let signed = http
        .post(format!("{url}/login"))
        .header("cookie", format!("casesync_login={login}"))
        .form(&[
            ("username", user.username.as_str()),
            ("password", user.password.as_str()),
            ("csrf", login.as_str()),
        ])
        .send()
        .await?;
    assert_eq!(signed.status(), 303, "dashboard sign-in");
    set_cookie(&signed, "casesync_session").context("session cookie")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
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

/// The status of the dashboard's overview with `session` (200: signed in; 303 to the
/// login page: not).
async fn overview(url: &str, session: &str) -> Result<u16> {
    let r = no_redirects()
        .get(format!("{url}/dashboard"))
        .header("cookie", format!("casesync_session={session}"))
        .send()
        .await?;
    Ok(r.status().as_u16())
}

fn coordinator() -> UserSpec {
    let mut c = UserSpec::new("coord", Role::Coordinator, D);
    c.sensitive_access = true;
    c
}

/// A coordinator stays signed in across a restart of the server (sled), and signing out
/// ends the session for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_session_survives_a_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let coord = coordinator();
    let mut server = ServerProc::start(&data, std::slice::from_ref(&coord))?;
    let session = dashboard_sign_in(&server.url, &coord).await?;
    assert_eq!(overview(&server.url, &session).await?, 200);
    assert_eq!(overview(&server.url, "not-a-session").await?, 303);
    assert!(server.terminate(Duration::from_secs(20))?.success());

    let server = ServerProc::serve(&data)?;
    assert_eq!(
        overview(&server.url, &session).await?,
        200,
        "the session survives the restart"
    );
    Ok(())
}

/// On PostgreSQL, a session made by one instance works on another (no sticky sessions),
/// and signing out on one ends it on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_session_works_on_every_instance() -> Result<()> {
    let Some(db) = TestDatabase::from_env()? else {
        eprintln!("skipped: {TEST_DATABASE_ENV} is not set");
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let coord = coordinator();
    let a = ServerProc::start_with_database(&db.url, dir.path(), std::slice::from_ref(&coord))?;
    let b = ServerProc::serve_with_database(&db.url, dir.path())?;
    let session = dashboard_sign_in(&a.url, &coord).await?;
    assert_eq!(
        overview(&b.url, &session).await?,
        200,
        "instance b knows it"
    );
    assert_eq!(overview(&a.url, &session).await?, 200);

    // Sign out on b (the form's CSRF token is on every signed-in page).
    let page = no_redirects()
        .get(format!("{}/dashboard", b.url))
        .header("cookie", format!("casesync_session={session}"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("csrf field on the page")?
        .to_owned();
    let out = no_redirects()
        .post(format!("{}/logout", b.url))
        .header("cookie", format!("casesync_session={session}"))
        .header("origin", &b.url)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(out.status(), 303, "sign-out");
    assert_eq!(
        overview(&a.url, &session).await?,
        303,
        "signed out on a too"
    );
    assert_eq!(overview(&b.url, &session).await?, 303);
    Ok(())
}
