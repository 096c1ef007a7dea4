//! The table of hostile requests (its rows by route in `table/`) and its run.

use super::*;

mod auth_rows;
mod case_rows;
mod sync_rows;

use auth_rows::auth_rows;
use case_rows::case_rows;
use sync_rows::sync_rows;

#[derive(Debug, Clone)]
enum Expect {
    /// This status with the contract's JSON body of this `code`.
    Code(u16, &'static str),
    /// This status and no body at all: hyper refused the request head before any
    /// service ran, and it writes a status line only.
    Bare(u16),
    /// This status as a dashboard page (HTML).
    Page(u16),
    /// 200 sync answer refusing exactly these pushes (and acknowledging none).
    Refused(Vec<(&'static str, RefusalCode)>),
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    method: &'static str,
    /// The request target, raw bytes (may be what no client would send).
    path: Vec<u8>,
    version: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// Send `Content-Length: <body length>` (off: the headers say how the body is framed).
    auto_length: bool,
    /// Half-close the connection after the body.
    close_after: bool,
    expect: Expect,
}

impl Row {
    fn new(name: impl Into<String>, method: &'static str, path: impl Into<Vec<u8>>) -> Row {
        Row {
            name: name.into(),
            method,
            path: path.into(),
            version: "HTTP/1.1",
            headers: Vec::new(),
            body: Vec::new(),
            auto_length: true,
            close_after: false,
            expect: Expect::Bare(0),
        }
    }
    fn header(mut self, k: &str, v: impl Into<Vec<u8>>) -> Row {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn bearer(self, token: &str) -> Row {
        self.header("authorization", format!("Bearer {token}"))
    }
    fn json(self, body: impl Into<Vec<u8>>) -> Row {
        self.body("application/json", body)
    }
    fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Row {
        let mut r = self.header("content-type", content_type);
        r.body = body.into();
        r
    }
    fn version(mut self, v: &'static str) -> Row {
        self.version = v;
        self
    }
    fn sync_body(self, body: Vec<u8>) -> Row {
        let mut r = self.header("content-type", CONTENT_TYPE);
        r.body = body;
        r
    }
    fn raw_framing(mut self) -> Row {
        self.auto_length = false;
        self
    }
    fn half_close(mut self) -> Row {
        self.close_after = true;
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Row {
        self.expect = Expect::Code(status, code);
        self
    }
    fn bare(mut self, status: u16) -> Row {
        self.expect = Expect::Bare(status);
        self
    }
    fn page(mut self, status: u16) -> Row {
        self.expect = Expect::Page(status);
        self
    }
    fn refused(mut self, r: Vec<(&'static str, RefusalCode)>) -> Row {
        self.expect = Expect::Refused(r);
        self
    }

    fn head(&self, addr: &str) -> Vec<u8> {
        let mut h = format!("{} ", self.method).into_bytes();
        h.extend_from_slice(&self.path);
        h.extend_from_slice(
            format!(" {}\r\nhost: {addr}\r\nconnection: close\r\n", self.version).as_bytes(),
        );
        for (k, v) in &self.headers {
            h.extend_from_slice(k.as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(v);
            h.extend_from_slice(b"\r\n");
        }
        if self.auto_length {
            h.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        h
    }
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(256 * 1024) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// What the hostile requests need: tokens and case material prepared before the baseline.
struct Material {
    chw_a: String,
    coord: String,
    admin: String,
    /// chw-a's store actor on `phone-a`.
    actor_a: ActorId,
    /// chw-a's copy of case-a1.
    a1: Vec<u8>,
    /// The coordinator's copy of case-b1 (chw-a never had it).
    b1: Vec<u8>,
    /// A `Case` JSON of case-a1 as the API serves it.
    a1_json: serde_json::Value,
}

fn flip_last(token: &str) -> String {
    let mut b = token.as_bytes().to_vec();
    if let Some(last) = b.last_mut() {
        *last = if *last == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(b).expect("ascii")
}

/// Keys any request may legitimately write, excluded from the sled comparison:
/// `t/<device>` in tree `casesync` is the device's last-sync time, written by every
/// `POST /v1/sync` answered 200 — which includes the refused pushes above (a refusal is
/// part of a successful round trip) and the baseline reads (a full pull per row).
fn legitimately_written(tree: &[u8], key: &[u8]) -> bool {
    tree == b"casesync" && key.starts_with(b"t/")
}

const IDS: &[&str] = &[
    "case-a1",
    "case-a2",
    "case-s",
    "case-b1",
    "case-e",
    "case-z",
    "case-new1",
    "case-new2",
    "case-dup",
    "nope",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let mut server = ServerProc::start(&data, &users()).expect("server");
    let url = server.url.clone();
    let http = http_client();

    // Setup: cases in two districts, a sensitive one, an erased one.
    let chw_a = Device::login(&url, dir.path(), &spec("chw-a"), "phone-a")
        .await
        .expect("login");
    let chw_b = Device::login(&url, dir.path(), &spec("chw-b"), "phone-b")
        .await
        .expect("login");
    let coord = Device::login(&url, dir.path(), &spec("coord"), "laptop-coord")
        .await
        .expect("login");
    let admin = login(
        &http,
        &url,
        "admin",
        &spec("admin").password,
        "admin-laptop",
    )
    .await
    .expect("admin login");
    chw_a
        .create(
            &new_case("case-a1", DHAKA, "chw-a", "রহিমা খাতুন", false),
            1_000,
        )
        .expect("create");
    chw_a
        .edit("case-a1", 2_000, |d, c| {
            d.add_visit(c, &visit("মা ও শিশু সুস্থ"))
        })
        .expect("visit");
    chw_a
        .create(
            &new_case("case-a2", DHAKA, "chw-a", "زهرا احمدی", false),
            1_000,
        )
        .expect("create");
    chw_a
        .create(
            &new_case("case-s", DHAKA, "chw-a", "Nguyễn Thị Hoa", true),
            1_000,
        )
        .expect("create");
    chw_a
        .create(
            &new_case("case-e", DHAKA, "chw-a", "Lê Văn Tám", false),
            1_000,
        )
        .expect("create");
    chw_b
        .create(
            &new_case("case-b1", KHULNA, "chw-b", "สมชาย จันทร์เพ็ญ", false),
            1_000,
        )
        .expect("create");
    chw_a.sync().await.expect("sync");
    chw_b.sync().await.expect("sync");
    let erase = http
        .post(format!("{url}/v1/cases/case-e/erase"))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("erase");
    assert_eq!(erase.status().as_u16(), 200);
    coord.sync().await.expect("sync");
    chw_a.sync().await.expect("sync");

    let a1_json: serde_json::Value = http
        .get(format!("{url}/v1/cases/case-a1"))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let m = Material {
        chw_a: chw_a.token.clone(),
        coord: coord.token.clone(),
        admin: admin.access_token.clone(),
        actor_a: chw_a.store.actor("phone-a").expect("actor"),
        a1: chw_a.store.load_case("case-a1").expect("a1").save(),
        b1: coord.store.load_case("case-b1").expect("b1").save(),
        a1_json,
    };
    let mut rows = sync_rows(&m);
    rows.extend(auth_rows());
    rows.extend(case_rows(&m));

    // Baseline: the store as set up, then what the API serves.
    server.kill();
    let before = sled_dump(&data).expect("dump");
    let server = ServerProc::serve(&data).expect("restart");
    let url = server.url.clone();
    let addr = addr_of(&url).to_owned();
    let baseline = api_dump(&http, &url, &coord.token, "laptop-coord", IDS)
        .await
        .expect("baseline");
    assert_eq!(
        baseline.pulled.len(),
        4,
        "a1, a2, s, b1: {:?}",
        baseline.pulled.keys()
    );

    let mut failures = String::new();
    let mut report = String::new();
    for row in &rows {
        let resp = match raw_http(&addr, row.head(&addr), row.body.clone(), row.close_after).await {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(failures, "{}: no response: {e:#}", row.name);
                continue;
            }
        };
        let code = resp.code();
        let _ = writeln!(
            report,
            "{:>3} {:<24} {}",
            resp.status,
            code.as_deref().unwrap_or("-"),
            row.name
        );
        let ok = match &row.expect {
            Expect::Code(s, c) => resp.status == *s && code.as_deref() == Some(*c),
            Expect::Bare(s) => resp.status == *s && resp.body.is_empty(),
            Expect::Page(s) => {
                resp.status == *s
                    && resp
                        .header("content-type")
                        .is_some_and(|t| t.starts_with("text/html"))
            }
            Expect::Refused(want) => {
                resp.status == 200
                    && casesync_core::protocol::decode_response(&resp.body).is_ok_and(|r| {
                        let got: Vec<_> = r
                            .refused
                            .iter()
                            .map(|x| (x.doc_id.as_str(), x.code))
                            .collect();
                        r.acked.is_empty() && got == *want
                    })
            }
        };
        if !ok {
            let detail = match casesync_core::protocol::decode_response(&resp.body) {
                Ok(r) => format!("acked {:?} refused {:?}", r.acked, r.refused),
                Err(_) => {
                    String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)]).into_owned()
                }
            };
            let _ = writeln!(
                failures,
                "{}: expected {:?}, got {} {}",
                row.name, row.expect, resp.status, detail
            );
        }
        let health = http.get(format!("{url}/healthz")).send().await;
        if !health.is_ok_and(|h| h.status().is_success()) {
            let _ = writeln!(failures, "{}: the server stopped answering", row.name);
            break;
        }
        match api_dump(&http, &url, &coord.token, "laptop-coord", IDS).await {
            Ok(after) if after == baseline => {}
            Ok(_) => {
                let _ = writeln!(failures, "{}: served data changed", row.name);
            }
            Err(e) => {
                let _ = writeln!(failures, "{}: reading back failed: {e:#}", row.name);
            }
        }
    }
    println!("{} hostile requests:\n{report}", rows.len());
    assert!(rows.len() >= 50);

    // The store itself, byte for byte.
    let mut server = server;
    server.kill();
    let after = sled_dump(&data).expect("dump");
    for d in dump_diff(&before, &after, legitimately_written) {
        let _ = writeln!(failures, "stored data: {d}");
    }
    assert!(failures.is_empty(), "{failures}");
}
