//! Evidence that stored data did not change: deterministic dumps of a server's sled
//! directory (taken while the server is stopped) and of what its API serves (taken while
//! it runs), raw HTTP for requests a normal client refuses to send, and raw sync round
//! trips that keep the decoded responses.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use casesync_core::case::CaseDoc;
use casesync_core::protocol::{
    decode_response, encode_request, DocBody, SyncRequest, SyncResponse, CONTENT_TYPE,
    PROTOCOL_VERSION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every key and value of every tree of a sled directory: `(tree name, key) -> value`.
pub type SledDump = BTreeMap<(Vec<u8>, Vec<u8>), Vec<u8>>;

/// Dumps every tree of the sled database in `path`. The server must be stopped (sled
/// locks the directory and caches writes).
pub fn sled_dump(path: &Path) -> Result<SledDump> {
    let db = casesync_core::store::open_sled(&sled::Config::new().path(path))
        .with_context(|| format!("open sled {}", path.display()))?;
    let mut out = SledDump::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name)?;
        for kv in tree.iter() {
            let (k, v) = kv?;
            out.insert((name.to_vec(), k.to_vec()), v.to_vec());
        }
    }
    Ok(out)
}

/// A printable key: UTF-8 where it is, hex bytes elsewhere.
pub fn show_key(k: &[u8]) -> String {
    k.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

/// The differences between two dumps, ignoring keys for which `ignore(tree, key)` holds.
pub fn dump_diff(a: &SledDump, b: &SledDump, ignore: impl Fn(&[u8], &[u8]) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for ((t, k), v) in a {
        if ignore(t, k) {
            continue;
        }
        match b.get(&(t.clone(), k.clone())) {
            None => out.push(format!("removed {}:{}", show_key(t), show_key(k))),
            Some(w) if w != v => out.push(format!("changed {}:{}", show_key(t), show_key(k))),
            Some(_) => {}
        }
    }
    for (t, k) in b.keys() {
        if !ignore(t, k) && !a.contains_key(&(t.clone(), k.clone())) {
            out.push(format!("added {}:{}", show_key(t), show_key(k)));
        }
    }
    out
}

/// The JWT secret of a stopped server's store (to forge tokens in security tests).
pub fn jwt_secret(data: &Path) -> Result<Vec<u8>> {
    use casesync_server::store::{SledStorage, Storage};
    let store = SledStorage::open(data)?;
    let secret = store.meta("jwt_secret")?.context("no jwt secret stored")?;
    store.flush()?;
    Ok(secret)
}

/// `host:port` of a base URL like `http://127.0.0.1:4000`.
pub fn addr_of(url: &str) -> &str {
    url.trim_start_matches("http://").trim_end_matches('/')
}

/// A response read off the socket.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of header `name` (lower case), the first if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `code` of a body that keeps the server's error contract: `Content-Type:
    /// application/json` and a JSON object of exactly a string `code` and a non-empty
    /// string `message`. `None` for any other body.
    pub fn code(&self) -> Option<String> {
        if self.header("content-type") != Some("application/json") {
            return None;
        }
        let v = serde_json::from_slice::<serde_json::Value>(&self.body).ok()?;
        let obj = v.as_object().filter(|o| o.len() == 2)?;
        obj.get("message")?.as_str().filter(|m| !m.is_empty())?;
        obj.get("code")?.as_str().map(str::to_owned)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = find(b, b"\r\n") {
        let size = std::str::from_utf8(&b[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(n) = size else { break };
        b = &b[eol + 2..];
        if n == 0 || b.len() < n {
            break;
        }
        out.extend_from_slice(&b[..n]);
        b = b.get(n + 2..).unwrap_or_default();
    }
    out
}

/// Sends `head` (request line and headers, ending in a blank line) and then `body` on a
/// new connection, half-closes it when `close_after` holds, and reads one response
/// (until the server closes, or its declared length has arrived). The body is written
/// while the response is read, so a server that answers early (413) is still heard.
pub async fn raw_http(
    addr: &str,
    head: Vec<u8>,
    body: Vec<u8>,
    close_after: bool,
) -> Result<RawResponse> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&head).await;
        for chunk in body.chunks(64 * 1024) {
            if wr.write_all(chunk).await.is_err() {
                return;
            }
        }
        if close_after {
            let _ = wr.shutdown().await;
        } else {
            // Keep the write half open until the reader is done.
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let read = async {
        loop {
            let n = match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if len.is_some_and(|n| buf.len() >= end + 4 + n) {
                    break;
                }
                if head.contains("transfer-encoding: chunked") && buf.ends_with(b"0\r\n\r\n") {
                    break;
                }
            }
        }
    };
    let timed_out = tokio::time::timeout(Duration::from_secs(40), read)
        .await
        .is_err();
    writer.abort();
    if timed_out {
        bail!("no complete response within 40 s");
    }
    let end = find(&buf, b"\r\n\r\n").context("no response head")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    let raw = &buf[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(raw) } else { raw.to_vec() };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

/// Posts a sync body with a bearer token; returns status and body.
pub async fn post_sync(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>)> {
    let resp = http
        .post(format!("{url}/v1/sync"))
        .bearer_auth(token)
        .header("content-type", CONTENT_TYPE)
        .body(body)
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.bytes().await?.to_vec()))
}

/// A request for `device_id` with this cursor and push.
pub fn sync_request(
    device_id: &str,
    cursor: Vec<u8>,
    push: Vec<casesync_core::protocol::DocPush>,
) -> SyncRequest {
    SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: device_id.into(),
        cursor,
        push,
        max_page_bytes: 0,
    }
}

/// One sync round trip with a hand-made request; a non-200 answer is an error.
pub async fn sync_once(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    req: &SyncRequest,
) -> Result<SyncResponse> {
    let (status, body) = post_sync(http, url, token, encode_request(req)).await?;
    if status != 200 {
        bail!("sync: {status} {}", String::from_utf8_lossy(&body));
    }
    Ok(decode_response(&body)?)
}

/// Everything a device of this token's user receives when it syncs from zero (pushing
/// nothing): each case's saved document, by id.
pub async fn pull_all(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    device_id: &str,
) -> Result<BTreeMap<String, CaseDoc>> {
    let mut docs: BTreeMap<String, CaseDoc> = BTreeMap::new();
    let mut cursor = Vec::new();
    for _ in 0..10_000 {
        let resp = sync_once(http, url, token, &sync_request(device_id, cursor, vec![])).await?;
        for d in resp.docs {
            match d.body {
                DocBody::Snapshot { doc, .. } => {
                    let mut theirs = CaseDoc::load(&doc)?;
                    match docs.get_mut(&d.doc_id) {
                        Some(mine) => mine.merge(&mut theirs)?,
                        None => {
                            docs.insert(d.doc_id, theirs);
                        }
                    }
                }
                DocBody::Changes(raw) => {
                    let changes = raw
                        .into_iter()
                        .map(automerge::Change::from_bytes)
                        .collect::<Result<Vec<_>, _>>()?;
                    match docs.get_mut(&d.doc_id) {
                        Some(mine) => mine.apply_changes(changes)?,
                        None => {
                            docs.insert(d.doc_id, CaseDoc::from_changes(changes)?);
                        }
                    }
                }
            }
        }
        for id in resp.removed {
            docs.remove(&id);
        }
        cursor = resp.cursor;
        if !resp.more {
            return Ok(docs);
        }
    }
    bail!("the server kept saying `more`")
}

/// What the API serves, for before/after comparisons: `GET /v1/cases/{id}` (status and
/// body) for each id asked about, and the heads of every case a full pull yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDump {
    /// `GET /v1/cases/{id}` → (status, body).
    pub cases: BTreeMap<String, (u16, String)>,
    /// Case id → sorted heads (hex) from a full pull.
    pub pulled: BTreeMap<String, Vec<String>>,
}

/// Takes an [`ApiDump`] as the user of `token` on `device_id` (which must be that
/// token's device): reads each of `ids` and pulls everything.
pub async fn api_dump(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    device_id: &str,
    ids: &[&str],
) -> Result<ApiDump> {
    let mut cases = BTreeMap::new();
    for id in ids {
        let resp = http
            .get(format!("{url}/v1/cases/{id}"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = resp.status().as_u16();
        cases.insert((*id).to_owned(), (status, resp.text().await?));
    }
    let mut pulled = BTreeMap::new();
    for (id, mut doc) in pull_all(http, url, token, device_id).await? {
        let mut heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
        heads.sort();
        pulled.insert(id, heads);
    }
    Ok(ApiDump { cases, pulled })
}

/// The raw bytes of the changes `f` makes to `doc` signed by `actor`; the document is
/// not saved anywhere (for hand-made, usually hostile, pushes).
pub fn changes_by(
    mut doc: CaseDoc,
    actor: automerge::ActorId,
    f: impl FnOnce(&mut CaseDoc) -> Result<(), casesync_core::case::CaseError>,
) -> Result<Vec<Vec<u8>>> {
    doc.set_actor(actor);
    let before = doc.heads();
    f(&mut doc)?;
    Ok(doc
        .changes_since(&before)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect())
}

/// Every change of a document, as raw bytes.
pub fn all_changes(doc: &mut CaseDoc) -> Vec<Vec<u8>> {
    doc.changes_since(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// Pushes `changes` to `doc_id` from `device_id` (pulling from an empty cursor).
pub async fn push(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    device_id: &str,
    doc_id: &str,
    changes: Vec<Vec<u8>>,
) -> Result<SyncResponse> {
    let req = sync_request(
        device_id,
        vec![],
        vec![casesync_core::protocol::DocPush {
            doc_id: doc_id.into(),
            changes,
        }],
    );
    sync_once(http, url, token, &req).await
}

/// Syncs a device store until up to date over `url` (any server address, unlike
/// [`crate::harness::Device::sync`]).
pub async fn sync_store(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    store: &casesync_core::store::DeviceStore,
    device_id: &str,
    page_bytes: u32,
) -> Result<(casesync_core::sync::SyncProgress, casesync_core::sync::Step)> {
    use casesync_core::sync::SyncSession;
    let mut session = SyncSession::new(store, device_id, page_bytes)?;
    let mut http = crate::drive::Http { http, url, token };
    let finished = crate::drive::run(&mut session, &mut http, crate::drive::NO_RETRIES).await?;
    Ok((session.progress().clone(), finished.step))
}
