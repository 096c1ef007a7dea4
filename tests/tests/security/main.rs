//! Security against the real server binary (DESIGN §5): scope, restricted fields, actors,
//! tokens, revocation, sensitive cases, admins, brute force. Every refusal is checked for
//! its status or push refusal code, and for leaving what the server serves unchanged.
//!
//! By concern: `scope.rs` (who reads and writes which case: districts, restricted
//! fields, sensitive cases, admins, moves and assignments), `actors.rs` (who signed a
//! change), `tokens.rs` (tokens, revocation, disabled users, device ids), `login.rs`
//! (brute force, addresses, credentials), `lifecycle.rs` (the lifecycle rules against
//! hand-made changes). The world (a server, its users, devices) and the checks they share
//! are here.

use std::path::PathBuf;

use automerge::transaction::Transactable;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use casesync_core::case::*;
use casesync_core::protocol::{RefusalCode, SyncResponse};
use casesync_core::sync::Step;
use casesync_server::auth::{Claims, JwtKeys};
use casesync_tests::dump::*;
use casesync_tests::fixtures::*;
use casesync_tests::harness::*;

mod actors;
mod lifecycle;
mod login;
mod scope;
mod tokens;

const DHAKA: &str = "dhaka";
const KHULNA: &str = "khulna";

fn user(name: &str, role: Role, district: &str, sensitive: bool) -> UserSpec {
    let mut u = UserSpec::new(name, role, district);
    u.sensitive_access = sensitive;
    u
}

fn users() -> Vec<UserSpec> {
    vec![
        user("coord-a", Role::Coordinator, DHAKA, true),
        user("coord-plain", Role::Coordinator, DHAKA, false),
        user("coord-b", Role::Coordinator, KHULNA, true),
        UserSpec {
            districts: vec![DHAKA.into(), KHULNA.into()],
            ..user("coord-two", Role::Coordinator, DHAKA, false)
        },
        user("chw-a", Role::Chw, DHAKA, false),
        user("chw-a2", Role::Chw, DHAKA, false),
        user("chw-b", Role::Chw, KHULNA, false),
        user("admin", Role::Admin, DHAKA, false),
    ]
}

struct World {
    dir: tempfile::TempDir,
    data: PathBuf,
    server: ServerProc,
    users: Vec<UserSpec>,
    http: reqwest::Client,
}

impl World {
    fn start() -> World {
        Self::start_with_env(&[])
    }

    /// [`World::start`] with settings as `CASESYNC_*` environment variables.
    fn start_with_env(env: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("server");
        let users = users();
        let server = ServerProc::start_with_env(&data, &users, env).expect("server");
        World {
            dir,
            data,
            server,
            users,
            http: http_client(),
        }
    }

    fn url(&self) -> String {
        self.server.url.clone()
    }

    fn spec(&self, name: &str) -> UserSpec {
        self.users
            .iter()
            .find(|u| u.username == name)
            .cloned()
            .expect("user")
    }

    async fn device(&self, name: &str, device_id: &str) -> Device {
        Device::login(
            &self.server.url,
            self.dir.path(),
            &self.spec(name),
            device_id,
        )
        .await
        .expect("login")
    }

    /// kill -9, run `f` on the stopped store's directory, start again.
    fn while_stopped<R>(&mut self, f: impl FnOnce(&std::path::Path) -> R) -> R {
        self.server.kill();
        let r = f(&self.data);
        self.server = ServerProc::serve(&self.data).expect("restart");
        r
    }

    async fn get(&self, token: &str, path: &str) -> (u16, Option<String>) {
        let resp = self
            .http
            .get(format!("{}{path}", self.server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        status_code(resp).await
    }

    async fn post_json(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, Option<String>) {
        let resp = self
            .http
            .post(format!("{}{path}", self.server.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("post");
        status_code(resp).await
    }

    async fn push(&self, d: &Device, doc_id: &str, changes: Vec<Vec<u8>>) -> SyncResponse {
        push(
            &self.http,
            &self.server.url,
            &d.token,
            &d.device_id,
            doc_id,
            changes,
        )
        .await
        .expect("push")
    }

    /// `case` created on `chw`'s phone, synced to the server and to coordinator `coord`;
    /// what `coord` is then served of `ids` (the baseline of a test).
    async fn shared(&self, chw: &Device, coord: &Device, case: NewCase, ids: &[&str]) -> ApiDump {
        chw.create(&case, 1_000).expect("create");
        chw.sync().await.expect("sync");
        coord.sync().await.expect("sync");
        self.served(coord, ids).await
    }

    /// `d` can create `case` neither by pushing it (refused `OutOfScope`) nor through
    /// `POST /v1/cases` (403).
    async fn cannot_create(&self, d: &Device, case: NewCase) {
        let mut doc = CaseDoc::create(&ctx(&d.user, d.role), actor(d), &case).expect("create");
        refused_with(
            &self.push(d, &case.id, all_changes(&mut doc)).await,
            &case.id,
            RefusalCode::OutOfScope,
        );
        let body = serde_json::to_value(&case).expect("json");
        assert_eq!(
            self.post_json(&d.token, "/v1/cases", body).await,
            code(403, "forbidden")
        );
    }

    /// What coordinator `observer` is served: each of `ids` and a full pull.
    async fn served(&self, observer: &Device, ids: &[&str]) -> ApiDump {
        api_dump(
            &self.http,
            &self.server.url,
            &observer.token,
            &observer.device_id,
            ids,
        )
        .await
        .expect("api dump")
    }
}

async fn status_code(resp: reqwest::Response) -> (u16, Option<String>) {
    let status = resp.status().as_u16();
    let code = resp
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
    (status, code)
}

fn refused_with(resp: &SyncResponse, doc_id: &str, code: RefusalCode) {
    assert!(
        resp.acked.is_empty(),
        "nothing acknowledged: {:?}",
        resp.acked
    );
    assert_eq!(resp.refused.len(), 1, "{:?}", resp.refused);
    assert_eq!(resp.refused[0].doc_id, doc_id);
    assert_eq!(resp.refused[0].code, code, "{}", resp.refused[0].message);
}

fn code(s: u16, c: &str) -> (u16, Option<String>) {
    (s, Some(c.to_owned()))
}

fn doc_of(d: &Device, id: &str) -> CaseDoc {
    d.store.load_case(id).expect("case in store")
}

fn actor(d: &Device) -> automerge::ActorId {
    d.store.actor(&d.device_id).expect("actor")
}

/// An encoded sync request of `d`'s device pushing a visit on `case_id` (not saved on
/// the device).
fn visit_push(d: &Device, case_id: &str, notes: &str) -> Vec<u8> {
    let c = ctx(&d.user, d.role);
    let edit = changes_by(doc_of(d, case_id), actor(d), |doc| {
        doc.add_visit(&c, &visit(notes)).map(|_| ())
    })
    .expect("edit");
    casesync_core::protocol::encode_request(&sync_request(
        &d.device_id,
        vec![],
        vec![casesync_core::protocol::DocPush {
            doc_id: case_id.into(),
            changes: edit,
        }],
    ))
}

fn put(d: &mut CaseDoc, key: &str, v: automerge::ScalarValue) -> Result<(), CaseError> {
    d.automerge().put(automerge::ROOT, key, v)?;
    d.automerge().commit();
    Ok(())
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

/// Runs the server's CLI on a stopped store.
fn cli(data: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new(server_bin().expect("bin"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Keys a sync writes whatever it pushes: the device's last sync time (`t/`).
fn last_sync_time(tree: &[u8], key: &[u8]) -> bool {
    tree == b"casesync" && key.starts_with(b"t/")
}

/// The store of a stopped server, byte for byte.
fn stored(w: &mut World) -> SledDump {
    w.while_stopped(|data| sled_dump(data).expect("dump"))
}

fn unchanged(before: &SledDump, after: &SledDump, what: &str) {
    let diff = dump_diff(before, after, last_sync_time);
    assert!(diff.is_empty(), "{what}: stored data changed: {diff:#?}");
}

/// A hand-made edit of a case document, as a tamper table's row holds it.
type Tamper = Box<dyn FnOnce(&mut CaseDoc) -> Result<(), CaseError>>;

impl World {
    /// `f` made on `base`'s copy of `case_id` as changes of `actor`, pushed by `pusher`:
    /// refused with `code`, nothing acknowledged.
    async fn refuses_edit(
        &self,
        pusher: &Device,
        base: &Device,
        case_id: &str,
        actor: automerge::ActorId,
        code: RefusalCode,
        f: impl FnOnce(&mut CaseDoc) -> Result<(), CaseError>,
    ) {
        let changes = changes_by(doc_of(base, case_id), actor, f).expect("edit");
        refused_with(&self.push(pusher, case_id, changes).await, case_id, code);
    }

    /// Each of `tampers` made on `d`'s copy of `case_id` by a fresh actor of its phone
    /// (on a server that stored one, the next still applies and is judged on its own)
    /// and pushed: refused with its code; the store is unchanged byte for byte (`what`
    /// names the table in a failure).
    async fn refuses_all(
        &mut self,
        d: &Device,
        case_id: &str,
        tampers: Vec<(&str, RefusalCode, Tamper)>,
        what: &str,
    ) {
        let before = stored(self);
        for (row, code, f) in tampers {
            let changes = changes_by(doc_of(d, case_id), device_actor(&d.device_id), f).expect(row);
            refused_with(&self.push(d, case_id, changes).await, case_id, code);
        }
        let after = stored(self);
        unchanged(&before, &after, what);
    }
}
