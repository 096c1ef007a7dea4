//! Issue #13 item 4: a refresh whose answer is lost on the link must not cost the phone
//! its unsent work. A real phone (the FFI `CaseStore` with its HTTP transport, a sled
//! store in a temp dir) talks to the real server through a loopback proxy that lets the
//! server answer `POST /v1/auth/refresh` and then drops that answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use casesync_core::case::{NewCase, Role, VisitKind};
use casesync_ffi::{
    CaseStore, CasesyncError, Session, SyncHandle, SyncObserver, SyncProgress, SyncReport,
    TransportConfig, VisitInput,
};
use casesync_tests::harness::{ServerProc, UserSpec};

const DISTRICT: &str = "Kurigram";

/// One HTTP/1.1 message (request or response) as raw bytes: head and a
/// `Content-Length` body. `None` when the peer closed first.
fn read_message(r: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut head = String::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
        assert!(
            !lower.starts_with("transfer-encoding:"),
            "the proxy only forwards Content-Length bodies"
        );
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// A loopback proxy in front of the server that drops the answers of the first
/// `drop_refreshes` refresh requests (after the server handled them).
struct Proxy {
    url: String,
    /// Refresh answers still to drop.
    drop_refreshes: Arc<AtomicUsize>,
    /// Request lines seen ("POST /v1/auth/refresh").
    seen: Arc<Mutex<Vec<String>>>,
    /// The bodies of the answers dropped.
    dropped: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Proxy {
    fn start(upstream: &str, drop_refreshes: usize) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let proxy = Proxy {
            url,
            drop_refreshes: Arc::new(AtomicUsize::new(drop_refreshes)),
            seen: Arc::default(),
            dropped: Arc::default(),
        };
        let (left, seen, dropped) = (
            proxy.drop_refreshes.clone(),
            proxy.seen.clone(),
            proxy.dropped.clone(),
        );
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let (upstream, left, seen, dropped) = (
                    upstream.clone(),
                    left.clone(),
                    seen.clone(),
                    dropped.clone(),
                );
                thread::spawn(move || forward(client, &upstream, &left, &seen, &dropped));
            }
        });
        proxy
    }

    fn refreshes(&self) -> usize {
        self.seen
            .lock()
            .expect("log")
            .iter()
            .filter(|l| l.as_str() == "POST /v1/auth/refresh")
            .count()
    }
}

/// Forwards the requests of one client connection, each over its own upstream
/// connection.
fn forward(
    client: TcpStream,
    upstream: &str,
    left: &AtomicUsize,
    seen: &Mutex<Vec<String>>,
    dropped: &Mutex<Vec<Vec<u8>>>,
) {
    let Ok(mut out) = client.try_clone() else {
        return;
    };
    let mut from_client = BufReader::new(client);
    while let Some((head, body)) = read_message(&mut from_client) {
        let line: String = head
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        seen.lock().expect("log").push(line.clone());
        let Ok(mut up) = TcpStream::connect(upstream) else {
            return;
        };
        if up.write_all(head.as_bytes()).is_err() || up.write_all(&body).is_err() {
            return;
        }
        let Some((rhead, rbody)) = read_message(&mut BufReader::new(up)) else {
            return;
        };
        let drop_it = line == "POST /v1/auth/refresh"
            && left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if drop_it {
            // The server rotated the token; the phone never hears of it.
            dropped.lock().expect("log").push(rbody);
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
        if out.write_all(rhead.as_bytes()).is_err() || out.write_all(&rbody).is_err() {
            return;
        }
    }
}

fn users() -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, DISTRICT);
    coord.sensitive_access = true;
    vec![UserSpec::new("chw-a", Role::Chw, DISTRICT), coord]
}

fn phone(dir: &std::path::Path, device_id: &str) -> Arc<CaseStore> {
    let s = CaseStore::open(
        dir.join(device_id).to_string_lossy().into_owned(),
        vec![9; 32],
        device_id.into(),
    )
    .expect("open store");
    s.set_transport_config(TransportConfig {
        connect_timeout_ms: 5_000,
        idle_timeout_ms: 10_000,
        max_retries: 3,
        backoff_initial_ms: 20,
        backoff_max_ms: 50,
        // The loopback server and proxy speak plain http://.
        allow_insecure_http: true,
        ..TransportConfig::default()
    })
    .expect("transport settings");
    s
}

struct Quiet;

impl SyncObserver for Quiet {
    fn on_progress(&self, _progress: SyncProgress) {}
}

fn sync(s: &CaseStore) -> Result<SyncReport, CasesyncError> {
    s.sync(SyncHandle::new(), Box::new(Quiet))
}

fn visit(notes: &str) -> VisitInput {
    VisitInput {
        date: "2025-02-01".parse().expect("date"),
        kind: VisitKind::Home,
        notes: notes.into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: None,
    }
}

/// The case with one unsent visit, made offline on `s`.
fn offline_visit(s: &CaseStore, case_id: &str, notes: &str) -> String {
    s.create_case(NewCase {
        id: case_id.into(),
        district: DISTRICT.into(),
        village: "Char Kukri".into(),
        assigned_to: "chw-a".into(),
        sensitive: false,
        client_name: "Rahima Begum".into(),
    })
    .expect("create offline");
    s.add_visit(case_id.into(), visit(notes))
        .expect("visit offline")
}

/// What the coordinator's laptop sees of `case_id`'s visits after syncing.
fn visits_on_server(url: &str, dir: &std::path::Path, case_id: &str) -> Vec<String> {
    let laptop = phone(dir, "coord-laptop");
    laptop
        .login(url.into(), "coord".into(), "pw-coord-secret".into())
        .expect("coordinator login");
    sync(&laptop).expect("coordinator sync");
    laptop
        .get_case(case_id.into())
        .expect("the case reached the server")
        .visits
        .values()
        .map(|v| v.notes.clone())
        .collect()
}

fn expired(s: Session) -> Session {
    Session {
        access_expires_at_ms: 0,
        ..s
    }
}

#[test]
fn a_lost_refresh_answer_is_retried_with_the_same_token_and_nothing_is_wiped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProc::start(&dir.path().join("server"), &users()).expect("server");
    let proxy = Proxy::start(&server.url, 1);
    let p = phone(dir.path(), "phone-a");
    let session = p
        .login(proxy.url.clone(), "chw-a".into(), "pw-chw-a-secret".into())
        .expect("login");
    let visit_id = offline_visit(&p, "case-1", "home visit, 2G only");
    // The access token is due: the app refreshes, and the answer is lost on the link.
    p.restore_session(expired(session.clone()));
    let refreshed = p.refresh();
    let synced = sync(&p);

    assert!(
        refreshed.is_ok(),
        "the refresh is retried with the same token and succeeds: {refreshed:?}"
    );
    assert!(synced.is_ok(), "sync after the lost answer: {synced:?}");
    assert!(proxy.refreshes() >= 2, "the refresh was sent again");
    let dropped: serde_json::Value =
        serde_json::from_slice(&proxy.dropped.lock().expect("log")[0]).expect("dropped json");
    let now = p.session().expect("still logged in");
    assert_eq!(
        Some(now.refresh_token.expose()),
        dropped["refresh_token"].as_str(),
        "the retry got the successor the lost answer carried (idempotent)"
    );
    assert_ne!(now.refresh_token, session.refresh_token);
    assert!(p.unsent_cases().expect("outbox").is_empty(), "all sent");
    assert_eq!(
        p.get_case("case-1".into()).expect("not wiped").visits.len(),
        1
    );
    assert!(p.last_wipe().is_none(), "nothing was wiped");
    assert_eq!(
        visits_on_server(&server.url, dir.path(), "case-1"),
        vec!["home visit, 2G only".to_string()],
        "the unsent visit {visit_id} arrived"
    );
    // The phone keeps working: a later refresh rotates normally.
    p.restore_session(expired(now.clone()));
    sync(&p).expect("later sync");
    assert_ne!(
        p.session().expect("session").refresh_token,
        now.refresh_token
    );
}

#[test]
fn a_spent_token_after_the_grace_window_asks_for_the_password_and_keeps_the_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServerProc::start_with_args(
        &dir.path().join("server"),
        &users(),
        &["--refresh-grace-secs", "1"],
    )
    .expect("server");
    // Every answer the phone's refresh and its retries get is lost.
    let proxy = Proxy::start(&server.url, 4);
    let p = phone(dir.path(), "phone-b");
    let session = p
        .login(proxy.url.clone(), "chw-a".into(), "pw-chw-a-secret".into())
        .expect("login");
    offline_visit(&p, "case-2", "visit kept through a sign-in");
    p.restore_session(expired(session));
    assert!(
        matches!(p.refresh(), Err(CasesyncError::Network { .. })),
        "no answer ever arrived"
    );
    assert_eq!(proxy.refreshes(), 4, "1 try + 3 retries");
    // Much later (outside the grace window) the phone tries again with the same token.
    thread::sleep(Duration::from_millis(1_500));
    let e = sync(&p).expect_err("the spent token is refused");
    assert!(
        matches!(e, CasesyncError::Unauthorized { .. }),
        "sign in again, not a wipe: {e:?}"
    );
    assert_eq!(
        p.unsent_cases().expect("outbox"),
        vec!["case-2".to_string()],
        "the unsent work is still on the phone"
    );
    assert!(p.last_wipe().is_none());
    // The worker signs in with the password; the unsent visit goes out.
    p.login(proxy.url.clone(), "chw-a".into(), "pw-chw-a-secret".into())
        .expect("password login after the family was revoked");
    sync(&p).expect("sync after signing in");
    assert!(p.unsent_cases().expect("outbox").is_empty());
    assert_eq!(
        visits_on_server(&server.url, dir.path(), "case-2"),
        vec!["visit kept through a sign-in".to_string()]
    );
}
