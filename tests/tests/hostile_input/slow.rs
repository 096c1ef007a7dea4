//! Slow and idle clients.

use super::*;

/// The slow-client tests' settings: 1 s without a byte, 3 s per body in total.
const SLOW_ENV: [(&str, &str); 2] = [
    ("CASESYNC_INACTIVITY_TIMEOUT_SECS", "1"),
    ("CASESYNC_BODY_TIMEOUT_SECS", "3"),
];

/// What a slow client saw: the status and error code of the answer (if any), and when
/// the server closed the connection (if it did within the wait).
#[derive(Debug, Clone, Default)]
struct Seen {
    status: Option<u16>,
    code: Option<String>,
    closed_after: Option<std::time::Duration>,
}

/// Connects to `addr`, writes `head`, then each of `pieces` after waiting `every`
/// (then nothing more, the connection held open), and reads until the server closes
/// the connection or `within` has passed.
async fn slow_client(
    addr: String,
    head: Vec<u8>,
    pieces: Vec<Vec<u8>>,
    every: std::time::Duration,
    within: std::time::Duration,
) -> Seen {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = std::time::Instant::now();
    let Ok(stream) = tokio::net::TcpStream::connect(&addr).await else {
        return Seen::default();
    };
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(&head).await.is_err() {
            return;
        }
        for p in pieces {
            tokio::time::sleep(every).await;
            if wr.write_all(&p).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut seen = Seen::default();
    let read = async {
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    seen.closed_after = tokio::time::timeout(within, read).await.ok();
    writer.abort();
    let text = String::from_utf8_lossy(&buf).into_owned();
    seen.status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok());
    seen.code = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
    seen
}

fn post_head(addr: &str, path: &str, headers: &[(&str, &str)], length: usize) -> Vec<u8> {
    let mut h = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(h, "{k}: {v}\r\n");
    }
    let _ = write!(h, "content-length: {length}\r\n\r\n");
    h.into_bytes()
}

/// Issue #13, failure 5: only headers and `/v1/sync` bodies had an inactivity timeout;
/// a login, refresh, import or dashboard body that stops half-way held its connection
/// and task forever. Every body now gets 408 `request_timeout` once no byte came for the
/// inactivity timeout, and a body that keeps trickling in is cut at the total body
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_and_trickling_bodies_time_out_on_every_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let server = ServerProc::start_with_env(&data, &users(), &SLOW_ENV).expect("server");
    let http = http_client();
    let coord = login(
        &http,
        &server.url,
        "coord",
        &spec("coord").password,
        "laptop",
    )
    .await
    .expect("login");
    let addr = addr_of(&server.url).to_owned();
    let bearer = format!("Bearer {}", coord.access_token);
    let json = ("content-type", "application/json");
    let auth = ("authorization", bearer.as_str());
    let routes: Vec<(&str, Vec<u8>)> = vec![
        ("login", post_head(&addr, "/v1/auth/login", &[json], 1000)),
        (
            "refresh",
            post_head(&addr, "/v1/auth/refresh", &[json], 1000),
        ),
        (
            "import",
            post_head(&addr, "/v1/cases/import", &[json, auth], 1000),
        ),
        ("create", post_head(&addr, "/v1/cases", &[json, auth], 1000)),
        (
            "dashboard login",
            post_head(
                &addr,
                "/login",
                &[("content-type", "application/x-www-form-urlencoded")],
                1000,
            ),
        ),
        (
            "sync",
            post_head(
                &addr,
                "/v1/sync",
                &[("content-type", CONTENT_TYPE), auth],
                1000,
            ),
        ),
    ];
    let wait = std::time::Duration::from_secs(8);
    let mut tasks = Vec::new();
    for (name, head) in &routes {
        // Ten bytes, then nothing.
        tasks.push((
            format!("{name}: stalled"),
            tokio::spawn(slow_client(
                addr.clone(),
                head.clone(),
                vec![b"{\"username".to_vec()],
                std::time::Duration::from_millis(10),
                wait,
            )),
        ));
        // A byte every 300 ms: never idle, but over the 3 s a body may take.
        tasks.push((
            format!("{name}: trickling"),
            tokio::spawn(slow_client(
                addr.clone(),
                head.clone(),
                vec![b"x".to_vec(); 900],
                std::time::Duration::from_millis(300),
                wait,
            )),
        ));
    }
    let mut failures = String::new();
    for (name, t) in tasks {
        let seen = t.await.expect("client");
        let late = if name.ends_with("stalled") { 4.0 } else { 6.0 };
        let ok = seen.status == Some(408)
            && seen.code.as_deref() == Some("request_timeout")
            && seen
                .closed_after
                .is_some_and(|d| d.as_secs_f64() > 0.9 && d.as_secs_f64() < late);
        if !ok {
            let _ = writeln!(failures, "{name}: {seen:?}");
        }
    }
    let health = http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    assert!(failures.is_empty(), "not timed out:\n{failures}");
}

/// A slow-loris crowd on loopback — idle connections, headers sent a byte at a time,
/// bodies sent a byte at a time — does not stop the server: health checks and a real
/// login are answered promptly throughout, and every slow connection is closed by the
/// server within its time-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_crowd_does_not_stop_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let server = ServerProc::start_with_env(&data, &users(), &SLOW_ENV).expect("server");
    let addr = addr_of(&server.url).to_owned();
    let every = std::time::Duration::from_millis(200);
    let wait = std::time::Duration::from_secs(10);
    let mut crowd = Vec::new();
    for i in 0..120 {
        let (kind, head, pieces) = match i % 3 {
            0 => ("idle", Vec::new(), Vec::new()),
            1 => (
                "header",
                b"POST /v1/auth/login HTTP/1.1\r\nx-slow: ".to_vec(),
                vec![b"a".to_vec(); 200],
            ),
            _ => (
                "body",
                post_head(
                    &addr,
                    "/v1/auth/login",
                    &[("content-type", "application/json")],
                    100_000,
                ),
                vec![b" ".to_vec(); 200],
            ),
        };
        crowd.push((
            kind,
            tokio::spawn(slow_client(addr.clone(), head, pieces, every, wait)),
        ));
    }
    // Meanwhile, other clients.
    let http = http_client();
    let mut worst_health = std::time::Duration::ZERO;
    let mut worst_login = std::time::Duration::ZERO;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while std::time::Instant::now() < until {
        let t = std::time::Instant::now();
        let h = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            http.get(format!("{}/healthz", server.url)).send(),
        )
        .await;
        assert!(
            h.is_ok_and(|r| r.is_ok_and(|r| r.status().is_success())),
            "healthz answered"
        );
        worst_health = worst_health.max(t.elapsed());
        let t = std::time::Instant::now();
        let l = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            login(
                &http,
                &server.url,
                "chw-a",
                &spec("chw-a").password,
                "phone-a",
            ),
        )
        .await;
        assert!(l.is_ok_and(|r| r.is_ok()), "login answered");
        worst_login = worst_login.max(t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!("beside 120 slow clients: healthz at worst {worst_health:?}, login {worst_login:?}");
    assert!(worst_health < std::time::Duration::from_secs(1));
    assert!(worst_login < std::time::Duration::from_secs(3));
    let mut failures = String::new();
    for (kind, t) in crowd {
        let seen = t.await.expect("client");
        // Idle and header: the 1 s header timeout; body: 1 s of headers, then 3 s.
        let limit = if kind == "body" { 5.5 } else { 2.5 };
        if !seen.closed_after.is_some_and(|d| d.as_secs_f64() < limit) {
            let _ = writeln!(failures, "{kind}: {seen:?}");
        }
    }
    assert!(
        failures.is_empty(),
        "slow connections left open:\n{failures}"
    );
}

/// At most `--max-connections` connections are served at once: past it the server
/// stops accepting (connections wait in the listen backlog) until one ends, here when
/// the idle connections holding every slot time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let env = [
        ("CASESYNC_INACTIVITY_TIMEOUT_SECS", "2"),
        ("CASESYNC_MAX_CONNECTIONS", "8"),
    ];
    let server = ServerProc::start_with_env(&data, &users(), &env).expect("server");
    let addr = addr_of(&server.url).to_owned();
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let head = format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let seen = slow_client(
        addr.clone(),
        head.into_bytes(),
        Vec::new(),
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(8),
    )
    .await;
    let took = seen.closed_after.map(|d| d.as_secs_f64());
    assert_eq!(seen.status, Some(200), "{seen:?}");
    assert!(
        took.is_some_and(|t| t > 1.0 && t < 5.0),
        "answered once an idle connection timed out, not before: {took:?}"
    );
    drop(idle);
}
