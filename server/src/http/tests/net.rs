//! Tests over a real socket: inactivity timeouts, not total-duration ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use casesync_core::case::Role;
use casesync_core::protocol::{encode_request, SyncRequest, CONTENT_TYPE, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::auth::create_user;
use crate::store::SledStorage;

async fn start() -> (SocketAddr, AppState) {
    start_with(Settings {
        inactivity_timeout: Duration::from_millis(800),
        ..Settings::default()
    })
    .await
}

async fn start_with(settings: Settings) -> (SocketAddr, AppState) {
    let store = Arc::new(SledStorage::temporary().expect("store"));
    let st = AppState::new(store.clone(), settings).expect("state");
    create_user(
        store.as_ref(),
        "chw1",
        Role::Chw,
        &["Hà Giang".into()],
        false,
        "mật-khẩu-dài",
    )
    .expect("user");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, st.clone()));
    (addr, st)
}

async fn read_all(s: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn slow_uploads_live_and_stalled_ones_time_out() {
    let (addr, st) = start().await;
    let tokens = st
        .auth
        .login("chw1", "mật-khẩu-dài", "phone-1", "test")
        .await
        .expect("login");
    let body = encode_request(&SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: "phone-1".into(),
        cursor: vec![],
        push: vec![],
        max_page_bytes: 0,
    });
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {CONTENT_TYPE}\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        tokens.access_token,
        body.len()
    );

    // A body that keeps arriving, a piece every 300 ms (longer in total than the timeout).
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    for piece in body.chunks(body.len().div_ceil(5)) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(piece).await.expect("write");
    }
    let resp = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(start.elapsed() > Duration::from_millis(800));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    // A body that stops.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(&body[..2]).await.expect("write");
    let resp = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(resp.contains("request_timeout"), "{resp}");

    // Headers that stop: the connection is closed.
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let resp = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "closed after the header timeout"
    );
    assert!(!resp.contains("200"), "{resp}");
}

#[tokio::test]
async fn login_bodies_that_stall_or_trickle_time_out() {
    let (addr, _) = start_with(Settings {
        inactivity_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(1500),
        ..Settings::default()
    })
    .await;
    let head = "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 500\r\n\r\n{\"username";
    // Stops after ten bytes.
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let resp = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    assert!(resp.contains("request_timeout"), "{resp}");
    assert!(start.elapsed() < Duration::from_secs(2));
    // A byte every 200 ms: never idle, cut at the total body timeout.
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let (mut rd, mut wr) = s.into_split();
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if wr.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut out)).await;
    drip.abort();
    let resp = String::from_utf8_lossy(&out);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    let took = start.elapsed();
    assert!(
        took > Duration::from_millis(1400) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let (addr, _) = start().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Kept alive, then nothing more is sent: closed after the inactivity timeout (800 ms).
    let start = Instant::now();
    let rest = read_all(&mut s, Duration::from_secs(5)).await;
    let took = start.elapsed();
    assert!(rest.is_empty(), "{rest}");
    assert!(
        took > Duration::from_millis(600) && took < Duration::from_secs(3),
        "{took:?}"
    );
}
