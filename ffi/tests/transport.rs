//! The device transport against a scripted fake server on loopback: a dropped link is
//! retried (resuming from the last committed page), retries are bounded, an expired
//! access token is refreshed once, a refresh whose answer is lost is retried with the
//! same token, a reused refresh token asks for the password without wiping, a revoked
//! device is wiped (and told what unsent work that destroyed), cancellation is honoured,
//! a second sync while one runs is `Busy`.
//! (`tests/tests/lost_refresh.rs` drives the same transport against the real server.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use casesync_core::case::{NewCase, Role};
use casesync_core::protocol::{encode_response, SyncResponse, CONTENT_TYPE, PROTOCOL_VERSION};
use casesync_ffi::{
    CaseStore, CasesyncError, Session, SummaryFilter, SyncHandle, SyncObserver, SyncProgress,
    Token, TransportConfig,
};

/// What the fake server does with one connection.
enum Reply {
    /// Reads the request, then closes without answering (a dropped 2G link).
    Drop,
    /// Answers with a status and a JSON body.
    Json(u16, &'static str),
    /// Answers 200 with an encoded sync response.
    Sync(Vec<u8>),
    /// Reads the request, waits for the test's go-ahead, then gives the inner reply.
    Hold(mpsc::Receiver<()>, Box<Reply>),
}

const TOKENS: &str =
    r#"{"access_token":"a2","refresh_token":"r2","expires_in":900,"user_id":"u1","role":"chw"}"#;

struct Fake {
    url: String,
    /// Request lines seen ("POST /v1/sync"), in order.
    seen: Arc<Mutex<Vec<String>>>,
}

fn read_request(stream: &mut TcpStream) -> String {
    let mut r = BufReader::new(stream);
    let mut first = String::new();
    let _ = r.read_line(&mut first);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    let _ = r.read_exact(&mut body);
    first
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn fake(replies: Vec<Reply>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    thread::spawn(move || {
        for mut reply in replies {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            log.lock().expect("log").push(read_request(&mut s));
            if let Reply::Hold(go, inner) = reply {
                let _ = go.recv();
                reply = *inner;
            }
            let (status, ctype, body) = match reply {
                Reply::Drop | Reply::Hold(..) => continue,
                Reply::Json(st, b) => (st, "application/json", b.as_bytes().to_vec()),
                Reply::Sync(b) => (200, CONTENT_TYPE, b),
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    Fake { url, seen }
}

fn page(cursor: u8, more: bool, wipe: bool) -> Reply {
    Reply::Sync(encode_response(&SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![cursor],
        docs: vec![],
        removed: vec![],
        acked: vec![],
        refused: vec![],
        more,
        remaining_estimate: 0,
        wipe,
    }))
}

fn store(url: &str, expires_at_ms: i64) -> (tempfile::TempDir, Arc<CaseStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = CaseStore::open(
        dir.path().to_string_lossy().into_owned(),
        vec![7; 32],
        "phone-1".into(),
    )
    .expect("open");
    s.set_transport_config(TransportConfig {
        max_retries: 2,
        backoff_initial_ms: 10,
        backoff_max_ms: 20,
        // The scripted server speaks plain http:// on loopback.
        allow_insecure_http: true,
        ..TransportConfig::default()
    })
    .expect("transport settings");
    s.restore_session(Session {
        server_url: url.to_owned(),
        user_id: "u1".into(),
        role: Role::Chw,
        access_token: Token::new("a1"),
        refresh_token: Token::new("r1"),
        access_expires_at_ms: expires_at_ms,
    });
    (dir, s)
}

#[derive(Default)]
struct Count(Arc<AtomicUsize>);

impl SyncObserver for Count {
    fn on_progress(&self, _progress: SyncProgress) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn sync(s: &CaseStore) -> Result<casesync_ffi::SyncReport, CasesyncError> {
    s.sync(SyncHandle::new(), Box::new(Count::default()))
}

#[test]
fn a_dropped_link_is_retried_and_sync_resumes() {
    let f = fake(vec![
        page(1, true, false),
        Reply::Drop,
        page(2, false, false),
    ]);
    let (_d, s) = store(&f.url, i64::MAX);
    let pages = Arc::new(AtomicUsize::new(0));
    let report = s
        .sync(SyncHandle::new(), Box::new(Count(pages.clone())))
        .expect("sync succeeds after one retry");
    assert_eq!(report.progress.pages, 2);
    assert_eq!(report.progress.retries, 1);
    assert_eq!(pages.load(Ordering::SeqCst), 2, "progress after each page");
    assert_eq!(f.seen.lock().expect("log").len(), 3);
}

#[test]
fn retries_are_bounded_then_network_error_and_edits_stay() {
    let f = fake(vec![Reply::Drop, Reply::Drop, Reply::Drop, Reply::Drop]);
    let (_d, s) = store(&f.url, i64::MAX);
    s.create_case(NewCase {
        id: "c-1".into(),
        district: "d".into(),
        village: "v".into(),
        assigned_to: "u1".into(),
        sensitive: false,
        client_name: "Mai".into(),
    })
    .expect("create offline");
    assert!(matches!(sync(&s), Err(CasesyncError::Network { .. })));
    assert_eq!(f.seen.lock().expect("log").len(), 3, "1 try + 2 retries");
    assert_eq!(s.unsent_cases().expect("outbox"), vec!["c-1".to_string()]);
}

#[test]
fn an_expired_token_is_refreshed_once() {
    let f = fake(vec![
        Reply::Json(401, r#"{"code":"invalid_token","message":"expired"}"#),
        Reply::Json(200, TOKENS),
        page(1, false, false),
    ]);
    let (_d, s) = store(&f.url, i64::MAX);
    sync(&s).expect("sync after refresh");
    assert_eq!(
        *f.seen.lock().expect("log"),
        vec!["POST /v1/sync", "POST /v1/auth/refresh", "POST /v1/sync"]
    );
    let session = s.session().expect("session kept");
    assert_eq!(
        (
            session.access_token.expose(),
            session.refresh_token.expose()
        ),
        ("a2", "r2")
    );
}

#[test]
fn a_token_about_to_expire_is_refreshed_before_syncing() {
    let f = fake(vec![Reply::Json(200, TOKENS), page(1, false, false)]);
    let (_d, s) = store(&f.url, 0);
    sync(&s).expect("sync");
    assert_eq!(f.seen.lock().expect("log")[0], "POST /v1/auth/refresh");
}

#[test]
fn a_revoked_device_is_wiped_by_sync_and_by_refresh() {
    let f = fake(vec![page(0, false, true)]);
    let (_d, s) = store(&f.url, i64::MAX);
    s.create_case(NewCase {
        id: "c-1".into(),
        district: "d".into(),
        village: "v".into(),
        assigned_to: "u1".into(),
        sensitive: false,
        client_name: "Mai".into(),
    })
    .expect("create");
    match sync(&s) {
        Err(
            e @ CasesyncError::DeviceRevoked {
                unsent_cases: 1,
                unsent_changes,
                ..
            },
        ) => {
            assert!(unsent_changes >= 1, "the creation was never sent");
            assert!(e
                .to_string()
                .contains(&format!("{unsent_changes} unsent change")));
            assert_eq!(
                s.last_wipe().map(|w| (w.unsent_cases, w.unsent_changes)),
                Some((1, unsent_changes)),
                "the app is told what the wipe destroyed"
            );
        }
        other => panic!("expected DeviceRevoked with the unsent counts, got {other:?}"),
    }
    assert!(s.unsent_cases().expect("outbox").is_empty());
    assert!(s.session().is_none());

    let f = fake(vec![Reply::Json(
        401,
        r#"{"code":"device_revoked","message":"revoked"}"#,
    )]);
    let (_d, s) = store(&f.url, i64::MAX);
    s.create_case(NewCase {
        id: "c-2".into(),
        district: "d".into(),
        village: "v".into(),
        assigned_to: "u1".into(),
        sensitive: false,
        client_name: "An".into(),
    })
    .expect("create");
    assert!(matches!(
        s.refresh(),
        Err(CasesyncError::DeviceRevoked {
            unsent_cases: 1,
            ..
        })
    ));
    assert!(s
        .list_cases(SummaryFilter::default())
        .expect("list")
        .summaries
        .is_empty());
}

#[test]
fn a_cancelled_sync_sends_nothing() {
    let f = fake(vec![page(1, false, false)]);
    let (_d, s) = store(&f.url, i64::MAX);
    let h = SyncHandle::new();
    h.cancel();
    assert!(matches!(
        s.sync(h, Box::new(Count::default())),
        Err(CasesyncError::Cancelled { .. })
    ));
    assert!(f.seen.lock().expect("log").is_empty());
}

#[test]
fn a_second_sync_while_one_runs_is_busy_and_changes_nothing() {
    let (go, wait) = mpsc::channel();
    let f = fake(vec![
        Reply::Hold(wait, Box::new(page(1, false, false))),
        page(2, false, false),
    ]);
    let (_d, s) = store(&f.url, i64::MAX);
    let first = {
        let s = s.clone();
        thread::spawn(move || sync(&s))
    };
    // The first sync's request has reached the server, which holds its answer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.seen.lock().expect("log").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the first sync never reached the server"
        );
        thread::sleep(Duration::from_millis(5));
    }
    let e = sync(&s).expect_err("a second sync at once is refused");
    assert!(matches!(e, CasesyncError::Busy { .. }), "{e:?}");
    assert_eq!(e.code(), "sync.already_running");
    assert_eq!(
        f.seen.lock().expect("log").len(),
        1,
        "the refused sync sent nothing"
    );
    go.send(()).expect("release the first answer");
    let report = first
        .join()
        .expect("first sync thread")
        .expect("first sync");
    assert_eq!(report.progress.pages, 1);
    // Once the first is done, the next sync runs.
    sync(&s).expect("the next sync runs");
    assert_eq!(f.seen.lock().expect("log").len(), 2);
}

#[test]
fn server_refusals_map_to_clear_errors() {
    let f = fake(vec![
        Reply::Json(401, r#"{"code":"bad_credentials","message":"wrong"}"#),
        Reply::Json(429, r#"{"code":"rate_limited","message":"later"}"#),
    ]);
    let (_d, s) = store(&f.url, i64::MAX);
    s.logout();
    let login = || s.login(f.url.clone(), "u".into(), "p".into());
    assert!(matches!(login(), Err(CasesyncError::Unauthorized { .. })));
    assert!(matches!(login(), Err(CasesyncError::RateLimited { .. })));
    assert!(s.session().is_none());
}

#[test]
fn a_refresh_whose_answer_is_lost_is_retried_with_the_same_token() {
    let f = fake(vec![Reply::Drop, Reply::Json(200, TOKENS)]);
    let (_d, s) = store(&f.url, 0);
    let session = s.refresh().expect("the retry gets the answer");
    assert_eq!(session.refresh_token.expose(), "r2");
    assert_eq!(
        *f.seen.lock().expect("log"),
        vec!["POST /v1/auth/refresh", "POST /v1/auth/refresh"]
    );
}

#[test]
fn a_reused_refresh_token_asks_for_the_password_and_keeps_the_data() {
    let f = fake(vec![Reply::Json(
        401,
        r#"{"code":"refresh_reused","message":"sign in again"}"#,
    )]);
    let (_d, s) = store(&f.url, 0);
    s.create_case(NewCase {
        id: "c-3".into(),
        district: "d".into(),
        village: "v".into(),
        assigned_to: "u1".into(),
        sensitive: false,
        client_name: "Hoa".into(),
    })
    .expect("create");
    assert!(matches!(sync(&s), Err(CasesyncError::Unauthorized { .. })));
    assert_eq!(s.unsent_cases().expect("outbox"), vec!["c-3".to_string()]);
    assert!(s.last_wipe().is_none(), "nothing wiped");
    assert!(s.session().is_some(), "offline edits keep working");
    s.add_visit(
        "c-3".into(),
        casesync_ffi::VisitInput {
            date: "2025-02-01".parse().expect("date"),
            kind: casesync_core::case::VisitKind::Home,
            notes: "n".into(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        },
    )
    .expect("edit while signed out");
}
