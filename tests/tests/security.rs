//! Security against the real server binary (DESIGN §5): scope, restricted fields, actors,
//! tokens, revocation, sensitive cases, admins, brute force. Every refusal is checked for
//! its status or push refusal code, and for leaving what the server serves unchanged.

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

#[tokio::test]
async fn other_districts_are_neither_read_nor_written() {
    let w = World::start();
    let chw_a = w.device("chw-a", "phone-a").await;
    let coord_a = w.device("coord-a", "laptop-a").await;
    let coord_b = w.device("coord-b", "laptop-b").await;
    let chw_b = w.device("chw-b", "phone-b").await;
    let ids = ["case-a1", "case-k1"];
    let before = w
        .shared(
            &chw_a,
            &coord_a,
            new_case("case-a1", DHAKA, "chw-a", "রহিমা খাতুন", false),
            &ids,
        )
        .await;
    assert_eq!(before.pulled.len(), 1);

    for d in [&coord_b, &chw_b] {
        let pulled = pull_all(&w.http, &w.url(), &d.token, &d.device_id)
            .await
            .expect("pull");
        assert!(pulled.is_empty(), "{} pulls nothing of dhaka", d.user);
        assert_eq!(
            w.get(&d.token, "/v1/cases/case-a1").await,
            code(404, "not_found")
        );
        // An edit of a leaked copy.
        let c = ctx(&d.user, d.role);
        let edit = changes_by(doc_of(&coord_a, "case-a1"), actor(d), |doc| {
            doc.add_visit(&c, &visit("ঘরে কেউ ছিল না")).map(|_| ())
        })
        .expect("edit");
        refused_with(
            &w.push(d, "case-a1", edit).await,
            "case-a1",
            RefusalCode::OutOfScope,
        );
        // Replaying the case's own changes is no way in either.
        let known = all_changes(&mut doc_of(&coord_a, "case-a1"));
        refused_with(
            &w.push(d, "case-a1", known).await,
            "case-a1",
            RefusalCode::OutOfScope,
        );
    }
    // coord-b moves the case into their own district and reassigns it.
    let c = ctx("coord-b", Role::Coordinator);
    let grab = changes_by(doc_of(&coord_a, "case-a1"), actor(&coord_b), |doc| {
        doc.move_district(&c, KHULNA)?;
        doc.reassign(&c, "chw-b")
    })
    .expect("edit");
    refused_with(
        &w.push(&coord_b, "case-a1", grab).await,
        "case-a1",
        RefusalCode::OutOfScope,
    );
    // Creating cases in the other district.
    w.cannot_create(
        &coord_b,
        new_case("case-k1", DHAKA, "chw-a", "زهرا احمدی", false),
    )
    .await;
    assert_eq!(
        w.post_json(
            &coord_b.token,
            "/v1/cases/case-a1/erase",
            serde_json::json!({})
        )
        .await,
        code(403, "forbidden")
    );
    assert_eq!(
        w.served(&coord_a, &ids).await,
        before,
        "nothing stored changed"
    );
}

#[tokio::test]
async fn a_chw_cannot_change_restricted_fields() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let before = w
        .shared(
            &chw,
            &coord,
            new_case("case-r", DHAKA, "chw-a", "สมชาย จันทร์เพ็ญ", false),
            &["case-r"],
        )
        .await;
    let c = ctx("chw-a", Role::Chw);
    type Tamper = Box<dyn FnOnce(&mut CaseDoc) -> Result<(), CaseError>>;
    use RefusalCode::{Invalid, RestrictedField};
    let tampers: Vec<(&str, RefusalCode, Tamper)> = vec![
        (
            "assigned_to",
            RestrictedField,
            Box::new(|d| put(d, "assigned_to", "chw-a2".into())),
        ),
        (
            "district",
            RestrictedField,
            Box::new(|d| put(d, "district", KHULNA.into())),
        ),
        (
            "sensitive",
            RestrictedField,
            Box::new(|d| put(d, "sensitive", true.into())),
        ),
        (
            // Without a district it is no longer a case at all.
            "district deleted",
            Invalid,
            Box::new(|d| {
                d.automerge().delete(automerge::ROOT, "district")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "a legit visit, then a reassignment in the same push",
            RestrictedField,
            Box::new(move |d| {
                d.add_visit(&c, &visit("Bà Nguyễn Thị Hoa khỏe"))?;
                put(d, "assigned_to", "chw-a2".into())
            }),
        ),
    ];
    for (what, want, f) in tampers {
        let changes = changes_by(doc_of(&chw, "case-r"), actor(&chw), f).expect("edit");
        let resp = w.push(&chw, "case-r", changes).await;
        assert!(resp.acked.is_empty(), "{what}");
        assert_eq!(
            resp.refused.first().map(|r| r.code),
            Some(want),
            "{what}: {:?}",
            resp.refused
        );
        assert_eq!(
            w.served(&coord, &["case-r"]).await,
            before,
            "{what}: nothing stored"
        );
    }
    // The typed API refuses it on the phone already.
    let mut doc = doc_of(&chw, "case-r");
    assert!(doc.reassign(&ctx("chw-a", Role::Chw), "chw-a2").is_err());
    // A coordinator may.
    coord
        .edit("case-r", 5_000, |d, c| d.reassign(c, "chw-a2"))
        .expect("reassign");
    let (p, _) = coord.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}

fn put(d: &mut CaseDoc, key: &str, v: automerge::ScalarValue) -> Result<(), CaseError> {
    d.automerge().put(automerge::ROOT, key, v)?;
    d.automerge().commit();
    Ok(())
}

#[tokio::test]
async fn changes_signed_by_another_device_are_refused() {
    let w = World::start();
    let phone1 = w.device("chw-a", "phone-a1").await;
    let phone2 = w.device("chw-a", "phone-a2").await;
    let coord = w.device("coord-a", "laptop-a").await;
    phone1
        .create(
            &new_case("case-f", DHAKA, "chw-a", "Trần Văn Nam", false),
            1_000,
        )
        .expect("create");
    phone1.sync().await.expect("sync");
    phone2.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    let before = w.served(&coord, &["case-f"]).await;
    let c = ctx("chw-a", Role::Chw);
    // Same user, other phone's actor.
    let other_phone = changes_by(doc_of(&phone1, "case-f"), actor(&phone2), |d| {
        d.add_visit(&c, &visit("ok")).map(|_| ())
    })
    .expect("edit");
    refused_with(
        &w.push(&phone1, "case-f", other_phone).await,
        "case-f",
        RefusalCode::ForeignActor,
    );
    // A coordinator forging the CHW's actor.
    let cc = ctx("coord-a", Role::Coordinator);
    let forged = changes_by(doc_of(&coord, "case-f"), actor(&phone1), |d| {
        d.add_visit(&cc, &visit("forged")).map(|_| ())
    })
    .expect("edit");
    refused_with(
        &w.push(&coord, "case-f", forged).await,
        "case-f",
        RefusalCode::ForeignActor,
    );
    // An actor id that is not 16 bytes at all.
    let odd = changes_by(
        doc_of(&phone1, "case-f"),
        automerge::ActorId::from(&b"phone-a1"[..]),
        |d| d.add_visit(&c, &visit("odd")).map(|_| ()),
    )
    .expect("edit");
    refused_with(
        &w.push(&phone1, "case-f", odd).await,
        "case-f",
        RefusalCode::ForeignActor,
    );
    assert_eq!(w.served(&coord, &["case-f"]).await, before);
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn claims(sub: &str, dev: &str, role: &str, exp: u64) -> Claims {
    Claims {
        sub: sub.into(),
        dev: dev.into(),
        role: role.into(),
        exp,
        iat: now_s() - 10,
    }
}

#[tokio::test]
async fn forged_and_expired_tokens_get_401() {
    let mut w = World::start();
    let secret = w.while_stopped(|data| jwt_secret(data).expect("secret"));
    let real = JwtKeys::new(&secret);
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let _chw_b = w.device("chw-b", "phone-b").await;
    chw.create(
        &new_case("case-t", DHAKA, "chw-a", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    let before = w.served(&coord, &["case-t"]).await;

    let sign = |k: &JwtKeys, c: &Claims| k.sign(c).expect("sign");
    let valid = |role: &str| claims("chw-a", "phone-a", role, now_s() + 600);
    let parts: Vec<String> = chw.token.split('.').map(str::to_owned).collect();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).expect("json"));
    let payload = |role: &str| b64(serde_json::to_value(valid(role)).expect("json"));
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &valid("chw"),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .expect("hs512");
    let forged: Vec<(&str, String)> = vec![
        ("expired an hour ago", sign(&real, &claims("chw-a", "phone-a", "chw", now_s() - 3600))),
        ("expired a minute ago", sign(&real, &claims("chw-a", "phone-a", "chw", now_s() - 60))),
        (
            "payload swapped to coordinator, signature kept",
            format!("{}.{}.{}", parts[0], payload("coordinator"), parts[2]),
        ),
        (
            "alg none",
            format!("{}.{}.", b64(serde_json::json!({"alg": "none", "typ": "JWT"})), payload("chw")),
        ),
        (
            "alg none with the old signature",
            format!(
                "{}.{}.{}",
                b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
                parts[1],
                parts[2]
            ),
        ),
        ("signed with another secret", sign(&JwtKeys::new(b"not the server's secret, 32 bytes"), &valid("chw"))),
        ("HS512 with the real secret", hs512),
        ("real secret, role escalated to coordinator", sign(&real, &valid("coordinator"))),
        ("real secret, role escalated to admin", sign(&real, &valid("admin"))),
        ("real secret, another user's device", sign(&real, &claims("chw-a", "phone-b", "chw", now_s() + 600))),
        ("real secret, unknown user", sign(&real, &claims("ghost", "phone-a", "chw", now_s() + 600))),
        ("real secret, unknown device", sign(&real, &claims("chw-a", "phone-zz", "chw", now_s() + 600))),
        (
            "real secret, no exp",
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &serde_json::json!({"sub": "chw-a", "dev": "phone-a", "role": "chw", "iat": now_s()}),
                &jsonwebtoken::EncodingKey::from_secret(&secret),
            )
            .expect("sign"),
        ),
        ("truncated", chw.token[..chw.token.len() - 5].to_owned()),
    ];
    let body = visit_push(&chw, "case-t", "forged");
    for (what, token) in &forged {
        let (status, resp) = post_sync(&w.http, &w.url(), token, body.clone())
            .await
            .expect("sync");
        let got = serde_json::from_slice::<serde_json::Value>(&resp)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned));
        assert_eq!(
            (status, got.as_deref()),
            (401, Some("invalid_token")),
            "sync, {what}"
        );
        assert_eq!(
            w.get(token, "/v1/cases/case-t").await,
            code(401, "invalid_token"),
            "GET, {what}"
        );
        assert_eq!(
            w.post_json(token, "/v1/cases/case-t/erase", serde_json::json!({}))
                .await,
            code(401, "invalid_token"),
            "erase, {what}"
        );
    }
    // The genuine token still works, and nothing changed.
    assert_eq!(w.get(&chw.token, "/v1/cases/case-t").await.0, 200);
    assert_eq!(w.served(&coord, &["case-t"]).await, before);
}

#[tokio::test]
async fn a_revoked_device_is_wiped_and_locked_out() {
    let mut w = World::start();
    // Log in once so the device exists, then revoke it with the CLI (server stopped).
    let first = login(
        &w.http,
        &w.url(),
        "chw-a",
        &w.spec("chw-a").password,
        "phone-lost",
    )
    .await
    .expect("login");
    let store =
        casesync_core::store::DeviceStore::open(&w.dir.path().join("phone-lost"), &test_key())
            .expect("store");
    let coord = w.device("coord-a", "laptop-a").await;
    let c = ctx("chw-a", Role::Chw);
    let mut doc = CaseDoc::create(
        &c,
        store.actor("phone-lost").expect("actor"),
        &new_case("case-l", DHAKA, "chw-a", "Lê Thị Mai", false),
    )
    .expect("create");
    store.save_local(&mut doc).expect("save");
    sync_store(
        &w.http,
        &w.url(),
        &first.access_token,
        &store,
        "phone-lost",
        0,
    )
    .await
    .expect("sync");
    coord.sync().await.expect("sync");
    let out = w.while_stopped(|data| {
        std::process::Command::new(server_bin().expect("bin"))
            .args(["device", "revoke", "phone-lost", "--data"])
            .arg(data)
            .output()
            .expect("cli")
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = w.url();
    let coord_token = login(
        &w.http,
        &url,
        "coord-a",
        &w.spec("coord-a").password,
        "laptop-a",
    )
    .await
    .expect("login")
    .access_token;
    let before = api_dump(&w.http, &url, &coord_token, "laptop-a", &["case-l"])
        .await
        .expect("dump");

    // A thief's unsent edit is not stored; the phone is told to wipe.
    let mut doc = store.load_case("case-l").expect("case");
    doc.set_actor(store.actor("phone-lost").expect("actor"));
    doc.add_visit(&c, &visit("stolen phone edit"))
        .expect("visit");
    store.save_local(&mut doc).expect("save");
    let (progress, step) = sync_store(&w.http, &url, &first.access_token, &store, "phone-lost", 0)
        .await
        .expect("sync");
    assert_eq!(step, Step::Wiped);
    assert_eq!(
        progress.wiped,
        Some(casesync_core::store::WipeReport {
            unsent_cases: 1,
            unsent_changes: 1
        }),
        "the wipe says what unsent work it destroyed"
    );
    assert!(
        store.case_ids().expect("ids").is_empty(),
        "local data wiped"
    );
    assert_eq!(
        w.get(&first.access_token, "/v1/cases/case-l").await,
        code(401, "device_revoked")
    );
    let relogin = w
        .http
        .post(format!("{url}/v1/auth/login"))
        .json(&serde_json::json!({"username": "chw-a", "password": w.spec("chw-a").password, "device_id": "phone-lost"}))
        .send()
        .await
        .expect("login");
    assert_eq!(status_code(relogin).await, code(401, "device_revoked"));
    let refresh = w
        .http
        .post(format!("{url}/v1/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": first.refresh_token, "device_id": "phone-lost"}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(status_code(refresh).await, code(401, "device_revoked"));
    let after = api_dump(&w.http, &url, &coord_token, "laptop-a", &["case-l"])
        .await
        .expect("dump");
    assert_eq!(after, before, "the revoked device's push stored nothing");
}

/// Issue #13 item 4: a refresh retried after its answer was lost gets the same successor;
/// a spent token presented after its successor was used revokes the token family and
/// asks for the password, but the device is not revoked: nothing is wiped, and after a
/// password login its unsent work arrives.
#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_family_not_the_device() {
    let w = World::start();
    let mut phone = w.device("chw-a", "phone-a").await;
    let refresh = |tok: String| {
        let http = w.http.clone();
        let url = w.url();
        async move {
            let r = http
                .post(format!("{url}/v1/auth/refresh"))
                .json(&serde_json::json!({"refresh_token": tok, "device_id": "phone-a"}))
                .send()
                .await
                .expect("refresh");
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.expect("json");
            (status, v)
        }
    };
    let token = |v: &serde_json::Value| v["refresh_token"].as_str().expect("token").to_owned();
    let (s, rotated) = refresh(phone.refresh_token.clone()).await;
    assert_eq!(s, 200);
    let r2 = token(&rotated);
    // The answer was lost: the retry with the spent token gets the same successor.
    let (s, again) = refresh(phone.refresh_token.clone()).await;
    assert_eq!((s, token(&again)), (200, r2.clone()), "idempotent retry");
    let (s, third) = refresh(r2).await;
    assert_eq!(s, 200);
    let r3 = token(&third);
    // Its successor was used: presenting the first token now is reuse.
    let (s, v) = refresh(phone.refresh_token.clone()).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("refresh_reused")));
    let (s, v) = refresh(r3).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (401, Some("refresh_reused")),
        "the whole family is dead: sign in with the password"
    );
    // The phone was not revoked: its offline work stays and goes out after a login.
    let c = ctx("chw-a", Role::Chw);
    phone
        .create(
            &new_case("case-r", DHAKA, "chw-a", "Rahima", false),
            c.now_ms,
        )
        .expect("offline case");
    phone
        .edit("case-r", c.now_ms, |d, c| {
            d.add_visit(c, &visit("visit kept")).map(|_| ())
        })
        .expect("offline visit");
    let again = login(
        &w.http,
        &w.url(),
        "chw-a",
        &w.spec("chw-a").password,
        "phone-a",
    )
    .await
    .expect("a password login works: the device is not revoked");
    phone.token = again.access_token;
    let (progress, step) = phone.sync().await.expect("sync");
    assert_eq!(step, Step::Done, "not wiped");
    assert_eq!(progress.docs_pushed, 1);
    assert!(phone.store.outbox().expect("outbox").is_empty());
    let coord = w.device("coord-a", "laptop-a").await;
    coord.sync().await.expect("coordinator sync");
    let case = coord.case("case-r").expect("the case arrived");
    assert_eq!(
        case.visits
            .values()
            .map(|v| v.notes.as_str())
            .collect::<Vec<_>>(),
        ["visit kept"]
    );
}

#[tokio::test]
async fn sensitive_cases_reach_only_the_assignee_and_granted_coordinators() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let other_chw = w.device("chw-a2", "phone-a2").await;
    let granted = w.device("coord-a", "laptop-a").await;
    let plain = w.device("coord-plain", "laptop-plain").await;
    chw.create(
        &new_case("case-s", DHAKA, "chw-a", "زهرا احمدی", true),
        1_000,
    )
    .expect("create");
    chw.create(
        &new_case("case-n", DHAKA, "chw-a", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    for d in [&other_chw, &granted, &plain] {
        d.sync().await.expect("sync");
    }
    let ids = |d: &Device| d.store.case_ids().expect("ids");
    assert_eq!(ids(&chw), ["case-n", "case-s"]);
    assert_eq!(ids(&granted), ["case-n", "case-s"]);
    assert_eq!(
        ids(&plain),
        ["case-n"],
        "no sensitive case without the grant"
    );
    assert!(ids(&other_chw).is_empty(), "another CHW sees neither");
    assert_eq!(w.get(&chw.token, "/v1/cases/case-s").await.0, 200);
    assert_eq!(w.get(&granted.token, "/v1/cases/case-s").await.0, 200);
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-s").await,
        code(404, "not_found")
    );
    assert_eq!(
        w.get(&other_chw.token, "/v1/cases/case-s").await,
        code(404, "not_found")
    );
    let before = w.served(&granted, &["case-s", "case-n"]).await;

    // The ungranted coordinator can not edit a sensitive case.
    let pc = ctx("coord-plain", Role::Coordinator);
    let edit = changes_by(doc_of(&granted, "case-s"), actor(&plain), |d| {
        d.add_visit(&pc, &visit("leaked copy")).map(|_| ())
    })
    .expect("edit");
    refused_with(
        &w.push(&plain, "case-s", edit).await,
        "case-s",
        RefusalCode::OutOfScope,
    );
    // Nor can another CHW, even with a leaked copy.
    let oc = ctx("chw-a2", Role::Chw);
    let edit = changes_by(doc_of(&granted, "case-s"), actor(&other_chw), |d| {
        d.add_visit(&oc, &visit("leaked copy")).map(|_| ())
    })
    .expect("edit");
    refused_with(
        &w.push(&other_chw, "case-s", edit).await,
        "case-s",
        RefusalCode::OutOfScope,
    );
    assert_eq!(w.served(&granted, &["case-s", "case-n"]).await, before);

    // The ungranted coordinator may register a sensitive case in their district (a
    // registration is never stranded on the phone): the server takes it, and it leaves
    // their laptop like a case made sensitive, for the assigned worker.
    plain
        .create(
            &new_case("case-s2", DHAKA, "chw-a", "Lê Thị Mai", true),
            2_000,
        )
        .expect("create");
    let (p, _) = plain.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    assert_eq!((p.docs_pushed, p.docs_removed), (1, 1));
    assert_eq!(ids(&plain), ["case-n"]);
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-s2").await,
        code(404, "not_found")
    );
    chw.sync().await.expect("sync");
    assert_eq!(ids(&chw), ["case-n", "case-s", "case-s2"]);
    let body = serde_json::to_value(new_case("case-s3", DHAKA, "chw-a", "Lê Thị Mai", true))
        .expect("json");
    assert_eq!(w.post_json(&plain.token, "/v1/cases", body).await.0, 201);
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-s3").await,
        code(404, "not_found")
    );
    // Out of the district, still refused.
    let body = serde_json::to_value(new_case("case-s4", "Rangpur", "chw-a", "Lê Thị Mai", true))
        .expect("json");
    assert_eq!(
        w.post_json(&plain.token, "/v1/cases", body).await,
        code(403, "forbidden")
    );

    // A case made sensitive leaves the ungranted coordinator's laptop.
    granted
        .edit("case-n", 5_000, |d, c| d.set_sensitive(c, true))
        .expect("sensitive");
    granted.sync().await.expect("sync");
    let (p, _) = plain.sync().await.expect("sync");
    assert_eq!(p.docs_removed, 1);
    assert!(ids(&plain).is_empty());
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-n").await,
        code(404, "not_found")
    );
    chw.sync().await.expect("sync");
    assert_eq!(
        ids(&chw),
        ["case-n", "case-s", "case-s2", "case-s3"],
        "the assignee keeps them all"
    );
}

#[tokio::test]
async fn admins_see_and_write_no_case_content() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let admin = w.device("admin", "admin-laptop").await;
    let before = w
        .shared(
            &chw,
            &coord,
            new_case("case-x", DHAKA, "chw-a", "Phạm Văn Đồng", false),
            &["case-x"],
        )
        .await;
    let (p, _) = admin.sync().await.expect("sync");
    assert_eq!(p.docs_received, 0);
    assert!(admin.store.case_ids().expect("ids").is_empty());
    assert_eq!(
        w.get(&admin.token, "/v1/cases/case-x").await,
        code(403, "forbidden")
    );
    assert_eq!(
        w.post_json(
            &admin.token,
            "/v1/cases/case-x/erase",
            serde_json::json!({})
        )
        .await,
        code(403, "forbidden")
    );
    let body = serde_json::to_value(new_case("case-y", DHAKA, "chw-a", "x", false)).expect("json");
    assert_eq!(
        w.post_json(&admin.token, "/v1/cases", body).await,
        code(403, "forbidden")
    );
    assert_eq!(
        w.post_json(&admin.token, "/v1/cases/import", serde_json::json!([]))
            .await,
        code(403, "forbidden")
    );
    let ac = ctx("admin", Role::Admin);
    let edit = changes_by(doc_of(&coord, "case-x"), actor(&admin), |d| {
        d.add_visit(&ac, &visit("admin")).map(|_| ())
    });
    // The typed API already refuses an admin edit; push a raw one.
    let raw = match edit {
        Ok(c) => c,
        Err(_) => changes_by(doc_of(&coord, "case-x"), actor(&admin), |d| {
            put(d, "village", "x".into())
        })
        .expect("raw edit"),
    };
    refused_with(
        &w.push(&admin, "case-x", raw).await,
        "case-x",
        RefusalCode::OutOfScope,
    );
    assert_eq!(w.served(&coord, &["case-x"]).await, before);
}

/// One login over HTTP from this test's address (127.0.0.1), optionally through a proxy
/// that names the client in `X-Forwarded-For`: status, code and `Retry-After`.
async fn try_login(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> ((u16, Option<String>), Option<u64>) {
    let mut rb = http.post(format!("{url}/v1/auth/login")).json(
        &serde_json::json!({"username": user, "password": password, "device_id": "attacker"}),
    );
    if let Some(f) = forwarded_for {
        rb = rb.header("x-forwarded-for", f);
    }
    let r = rb.send().await.expect("login");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (status_code(r).await, retry)
}

/// Short login delays, so that the tests of throttling do not take minutes (the delays
/// themselves are checked by the unit tests of `auth::rate_limit`).
const SHORT_DELAYS: (&str, &str) = ("CASESYNC_LOGIN_MAX_DELAY_MS", "200");

/// Guessing one account's password from one address is refused after 5 failures — for
/// that account from that address only, even with the right password. Spread over many
/// accounts (from one shared address: a proxy, carrier NAT) it refuses no other account.
#[tokio::test]
async fn brute_force_login_is_throttled_per_account_and_address_and_stores_nothing() {
    let mut w = World::start_with_env(&[SHORT_DELAYS]);
    let before = w.while_stopped(|data| sled_dump(data).expect("dump"));
    let url = w.url();
    let http = w.http.clone();
    for i in 0..5 {
        assert_eq!(
            try_login(&http, &url, "chw-a", &format!("guess-{i}"), None)
                .await
                .0,
            code(401, "bad_credentials")
        );
    }
    let right = w.spec("chw-a").password;
    let (answer, retry) = try_login(&http, &url, "chw-a", &right, None).await;
    assert_eq!(
        answer,
        code(429, "rate_limited"),
        "this address is refused this account even with the right password"
    );
    assert!(
        retry.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After within the pair window: {retry:?}"
    );
    assert_eq!(
        try_login(&http, &url, "CHW-A", &right, None).await.0,
        code(429, "rate_limited"),
        "case does not reset the count"
    );
    // Spread over usernames: 40 failures from one address. Each account is refused only
    // after its own 5 failures from here.
    let spread = [
        "chw-b",
        "coord-b",
        "chw-a2",
        "nobody",
        "admin",
        "coord-plain",
    ];
    for i in 0..40 {
        let user = spread[i % spread.len()];
        let r = try_login(&http, &url, user, &format!("guess-{i}"), None)
            .await
            .0;
        let want = if i / spread.len() >= 5 {
            code(429, "rate_limited")
        } else {
            code(401, "bad_credentials")
        };
        assert_eq!(r, want, "attempt {i} on {user}");
    }
    let after = w.while_stopped(|data| sled_dump(data).expect("dump"));
    assert!(
        dump_diff(&before, &after, |_, _| false).is_empty(),
        "failed logins store nothing"
    );
    // 45 failures from this address: its other users still log in (slowed, not refused).
    let coord = w.spec("coord-a").password;
    assert_eq!(
        try_login(&w.http, &w.url(), "coord-a", &coord, None)
            .await
            .0
             .0,
        200,
        "an account this address did not guess is never refused"
    );
}

/// The failure of issue #13: forty failed logins with junk usernames from one address
/// made the coordinator's correct password answer 429 from that address, in the
/// dashboard too; and the junk usernames were kept whole as limiter keys.
#[tokio::test]
async fn junk_logins_never_lock_out_the_right_password_nor_hold_memory() {
    let w = World::start_with_env(&[SHORT_DELAYS]);
    let url = w.url();
    let mut failures = Vec::new();
    // Usernames of 4 MiB each: nothing of them is kept after the request.
    let rss = || -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", w.server.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let rss_before = rss();
    for i in 0..40u8 {
        let huge = String::from_utf8(vec![b'a' + i % 26; 4 << 20]).expect("ascii");
        let r = try_login(&w.http, &url, &huge, "guess", None).await.0;
        if r != code(401, "bad_credentials") {
            failures.push(format!("username of 4 MiB: {r:?}"));
        }
    }
    if let (Some(a), Some(b)) = (rss_before, rss()) {
        let grown_mib = b.saturating_sub(a) / 1024;
        println!("server RSS {a} KiB -> {b} KiB after 40 usernames of 4 MiB");
        // Buffers freed but kept by the allocator for reuse: a few requests' worth.
        if grown_mib >= 96 {
            failures.push(format!(
                "160 MiB of junk usernames kept: RSS +{grown_mib} MiB"
            ));
        }
    }
    for i in 0..40 {
        let junk = format!("junk user {i} {}", "x".repeat(i * 10));
        let r = try_login(&w.http, &url, &junk, "guess", None).await.0;
        if r != code(401, "bad_credentials") {
            failures.push(format!("junk login {i}: {r:?}"));
        }
    }
    let coord = w.spec("coord-a").password;
    let r = try_login(&w.http, &url, "coord-a", &coord, None).await.0;
    if r.0 != 200 {
        failures.push(format!(
            "the right password from the flooded address: {r:?}"
        ));
    }
    // The dashboard's sign-in from the same address.
    let page = w
        .http
        .get(format!("{url}/login"))
        .send()
        .await
        .expect("login page");
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("casesync_login="))
        .and_then(|c| c.split(';').next())
        .expect("login cookie")
        .to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = no_redirects
        .post(format!("{url}/login"))
        .header("cookie", format!("casesync_login={cookie}"))
        .form(&[
            ("username", "coord-a"),
            ("password", coord.as_str()),
            ("csrf", cookie.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    if signed.status().as_u16() != 303 {
        failures.push(format!("dashboard sign-in: {}", signed.status()));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `X-Forwarded-For` names the client only when the connection comes from a configured
/// trusted proxy (`--trusted-proxy`), and then only the address that proxy appended:
/// two clients behind the proxy are throttled separately, and a client cannot pick its
/// own address by sending the header itself.
#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let right = user("chw-a", Role::Chw, DHAKA, false).password;
    // Not trusted: the header is ignored, every request is 127.0.0.1's.
    let w = World::start_with_env(&[SHORT_DELAYS]);
    for i in 0..5 {
        let r = try_login(
            &w.http,
            &w.url(),
            "chw-a",
            &format!("g{i}"),
            Some("203.0.113.1"),
        )
        .await;
        assert_eq!(r.0, code(401, "bad_credentials"));
    }
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("198.51.100.2"))
            .await
            .0,
        code(429, "rate_limited"),
        "a forwarded address from an untrusted peer is not believed"
    );
    drop(w);

    let w = World::start_with_env(&[SHORT_DELAYS, ("CASESYNC_TRUSTED_PROXIES", "127.0.0.1")]);
    for i in 0..5 {
        let r = try_login(
            &w.http,
            &w.url(),
            "chw-a",
            &format!("g{i}"),
            Some("203.0.113.1"),
        )
        .await;
        assert_eq!(r.0, code(401, "bad_credentials"));
    }
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("203.0.113.1"))
            .await
            .0,
        code(429, "rate_limited"),
        "the guessing client is refused"
    );
    assert_eq!(
        try_login(
            &w.http,
            &w.url(),
            "chw-a",
            &right,
            Some("198.51.100.2, 203.0.113.1")
        )
        .await
        .0,
        code(429, "rate_limited"),
        "what the client wrote left of the proxy's entry is not believed"
    );
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("198.51.100.2"))
            .await
            .0
             .0,
        200,
        "another client behind the same proxy logs in"
    );
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("203.0.113.1"))
            .await
            .0,
        code(429, "rate_limited"),
        "the guessing client stays refused for its window"
    );
}

/// Two `Authorization` headers are refused whatever they hold: a server that took the
/// first (or the last) would let a CHW's request carry a coordinator's token past a
/// proxy that checked the other one.
#[tokio::test]
async fn two_authorization_headers_never_pick_a_caller() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let before = w
        .shared(
            &chw,
            &coord,
            new_case("case-2h", DHAKA, "chw-a", "زهرا احمدی", false),
            &["case-2h", "case-new"],
        )
        .await;
    let new = serde_json::to_value(new_case("case-new", DHAKA, "chw-a", "Lê Văn Tám", false))
        .expect("json");
    let sync_body = visit_push(&chw, "case-2h", "two headers");
    let url = w.url();
    for (first, second) in [
        (&chw.token, &coord.token),
        (&coord.token, &chw.token),
        (&chw.token, &chw.token),
    ] {
        let two = |rb: reqwest::RequestBuilder| {
            rb.bearer_auth(first)
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {second}"))
        };
        let requests = [
            two(w.http.get(format!("{url}/v1/cases/case-2h"))),
            two(w.http.post(format!("{url}/v1/cases/case-2h/erase"))),
            two(w.http.post(format!("{url}/v1/cases")).json(&new)),
            two(w.http.post(format!("{url}/v1/sync")))
                .header("content-type", casesync_core::protocol::CONTENT_TYPE)
                .body(sync_body.clone()),
        ];
        for rb in requests {
            let resp = rb.send().await.expect("send");
            let what = resp.url().path().to_owned();
            assert_eq!(
                status_code(resp).await,
                code(401, "ambiguous_credentials"),
                "{what}"
            );
        }
    }
    assert_eq!(w.served(&coord, &["case-2h", "case-new"]).await, before);
    // One header still works.
    assert_eq!(w.get(&coord.token, "/v1/cases/case-2h").await.0, 200);
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

/// Issue #13: disabling a user wipes their phones at their next contact, whichever it
/// is: a sync with a still-valid access token (the wipe answer of a revoked device), a
/// token refresh or an API call (`device_revoked`, the code the app wipes on).
#[tokio::test]
async fn a_disabled_users_phones_are_wiped_at_their_next_contact() {
    let mut w = World::start();
    let phone = w.device("chw-a2", "phone-a2").await;
    let spare = w.device("chw-a2", "phone-a2-spare").await;
    let coord = w.device("coord-a", "laptop-a").await;
    phone
        .create(
            &new_case("case-x", DHAKA, "chw-a2", "Trần Văn Minh", false),
            1_000,
        )
        .expect("create");
    phone.sync().await.expect("sync");
    spare.sync().await.expect("sync");
    assert_eq!(spare.store.case_ids().expect("ids"), ["case-x"]);
    w.while_stopped(|data| cli(data, &["user", "disable", "chw-a2"]));

    let (_, step) = phone.sync_via(&w.url()).await.expect("sync");
    assert_eq!(step, Step::Wiped);
    assert!(phone.store.case_ids().expect("ids").is_empty());
    let refresh = w
        .http
        .post(format!("{}/v1/auth/refresh", w.url()))
        .json(&serde_json::json!({"refresh_token": spare.refresh_token, "device_id": spare.device_id}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(status_code(refresh).await, code(401, "device_revoked"));
    assert_eq!(
        w.get(&spare.token, "/v1/cases/case-x").await,
        code(401, "device_revoked")
    );
    let relogin = login(
        &w.http,
        &w.url(),
        "chw-a2",
        &w.spec("chw-a2").password,
        "phone-a2-new",
    )
    .await;
    assert!(relogin.is_err(), "a disabled user cannot log in");
    // What the server acknowledged stays.
    coord.sync_via(&w.url()).await.expect("sync");
    assert!(coord.case("case-x").is_ok());
}

/// Issue #13: a coordinator who loses sensitive access, then the district, has those
/// cases removed from the laptop at the next sync, after the edits it made offline
/// before are acknowledged.
#[tokio::test]
async fn a_coordinator_who_loses_sensitive_access_then_the_district_loses_those_cases() {
    let mut w = World::start();
    let chw = w.device("chw-b", "phone-b").await;
    let coord = w.device("coord-b", "laptop-b").await;
    chw.create(
        &new_case("case-k1", KHULNA, "chw-b", "Somchai Wongsa", false),
        1_000,
    )
    .expect("create");
    chw.create(
        &new_case("case-k2", KHULNA, "chw-b", "مریم احمدی", true),
        1_000,
    )
    .expect("create");
    chw.sync_via(&w.url()).await.expect("sync");
    coord.sync_via(&w.url()).await.expect("sync");
    assert_eq!(coord.store.case_ids().expect("ids"), ["case-k1", "case-k2"]);
    coord
        .edit("case-k2", 2_000, |d, c| {
            d.add_visit(c, &visit("made before the change"))
        })
        .expect("offline edit");

    w.while_stopped(|data| cli(data, &["user", "set-sensitive", "coord-b", "false"]));
    let (progress, step) = coord.sync_via(&w.url()).await.expect("sync");
    assert_eq!(step, Step::Done);
    assert!(progress.refused.is_empty(), "{:?}", progress.refused);
    assert_eq!(coord.store.case_ids().expect("ids"), ["case-k1"]);
    assert!(coord.store.outbox().expect("outbox").is_empty());
    chw.sync_via(&w.url()).await.expect("sync");
    assert_eq!(
        chw.case("case-k2").expect("case").visits.len(),
        1,
        "the edit is kept"
    );
    assert_eq!(
        w.get(&coord.token, "/v1/cases/case-k2").await,
        code(404, "not_found")
    );

    w.while_stopped(|data| {
        cli(
            data,
            &["user", "set-districts", "coord-b", "--district", DHAKA],
        )
    });
    let (_, step) = coord.sync_via(&w.url()).await.expect("sync");
    assert_eq!(step, Step::Done);
    assert!(coord.store.case_ids().expect("ids").is_empty());
    assert_eq!(
        w.get(&coord.token, "/v1/cases/case-k1").await,
        code(404, "not_found")
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

/// Issue #14: a coordinator without sensitive access kept a copy of a case from
/// before it was made sensitive, flips `sensitive` true then false on it (its
/// operation counter beats the granted coordinator's put), and pushes. On main this was
/// accepted and the next pull served the visit written after the case became sensitive.
#[tokio::test]
async fn a_coordinator_without_sensitive_access_cannot_unmark_a_sensitive_case() {
    let mut w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let granted = w.device("coord-a", "laptop-a").await;
    let plain = w.device("coord-plain", "laptop-plain").await;
    chw.create(
        &new_case("case-u", DHAKA, "chw-a", "زهرا احمدی", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    granted.sync().await.expect("sync");
    plain.sync().await.expect("sync");
    granted
        .edit("case-u", 2_000, |d, c| d.set_sensitive(c, true))
        .expect("sensitive");
    granted.sync().await.expect("sync");
    chw.sync().await.expect("sync");
    chw.edit("case-u", 3_000, |d, c| {
        d.add_visit(c, &visit("Chị Lê Thị Mai kể về bạo lực gia đình"))
            .map(|_| ())
    })
    .expect("visit");
    let (p, _) = chw.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);

    // From the old copy (the laptop did not sync since).
    let pc = ctx("coord-plain", Role::Coordinator);
    let flip = changes_by(doc_of(&plain, "case-u"), actor(&plain), |d| {
        d.set_sensitive(&pc, true)?;
        d.set_sensitive(&pc, false)
    })
    .expect("edit");
    let pc = ctx("coord-plain", Role::Coordinator);
    let unmark = changes_by(doc_of(&plain, "case-u"), actor(&plain), |d| {
        d.add_visit(&pc, &visit("ঘরে কেউ ছিল না"))?;
        d.set_sensitive(&pc, true)?;
        d.set_sensitive(&pc, false)
    })
    .expect("edit");
    let before = stored(&mut w);
    for (what, changes) in [
        ("true then false", flip),
        ("a visit, then true then false", unmark),
    ] {
        let resp = w.push(&plain, "case-u", changes).await;
        assert!(resp.acked.is_empty(), "{what}: {:?}", resp.acked);
        assert_eq!(
            resp.refused.iter().map(|r| r.code).collect::<Vec<_>>(),
            [RefusalCode::RestrictedField],
            "{what}: {:?}",
            resp.refused
        );
        assert!(
            resp.docs.iter().all(|d| d.doc_id != "case-u"),
            "{what}: nothing of the case served"
        );
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused un-marking");
    let pulled = pull_all(&w.http, &w.url(), &plain.token, &plain.device_id)
        .await
        .expect("pull");
    assert!(!pulled.contains_key("case-u"), "the case stays hidden");
    assert_eq!(
        w.get(&plain.token, "/v1/cases/case-u").await,
        code(404, "not_found")
    );

    // Marking a case sensitive protects it: every coordinator of the district may.
    chw.create(
        &new_case("case-u2", DHAKA, "chw-a", "Nguyễn Văn An", false),
        4_000,
    )
    .expect("create");
    chw.sync_via(&w.url()).await.expect("sync");
    let pc = ctx("coord-plain", Role::Coordinator);
    let mut pulled = pull_all(&w.http, &w.url(), &plain.token, &plain.device_id)
        .await
        .expect("pull");
    let copy = pulled.remove("case-u2").expect("case-u2 pulled");
    let mark = changes_by(copy, actor(&plain), |d| d.set_sensitive(&pc, true)).expect("edit");
    let resp = w.push(&plain, "case-u2", mark).await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    // The granted coordinator may un-mark it.
    granted.sync_via(&w.url()).await.expect("sync");
    granted
        .edit("case-u", 5_000, |d, c| d.set_sensitive(c, false))
        .expect("unmark");
    let (p, _) = granted.sync_via(&w.url()).await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}

/// Issue #14: a coordinator moves a case only between districts they hold both of, and
/// assigns it only to an enabled health worker of its district (the rule the dashboard
/// applies too: `scope::can_assign`). On main the sync path took any of these.
#[tokio::test]
async fn a_coordinator_moves_and_assigns_cases_only_within_their_districts() {
    let mut w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let plain = w.device("coord-plain", "laptop-plain").await;
    let two = w.device("coord-two", "laptop-two").await;
    w.shared(
        &chw,
        &plain,
        new_case("case-m", DHAKA, "chw-a", "ফাতেমা বেগম", false),
        &["case-m"],
    )
    .await;
    two.sync().await.expect("sync");
    type Tamper = Box<dyn FnOnce(&mut CaseDoc, &EditCtx) -> Result<(), CaseError>>;
    let tampers: Vec<(&str, &Device, Tamper)> = vec![
        (
            "moved to a district the pusher does not hold",
            &plain,
            Box::new(|d, c| {
                d.move_district(c, KHULNA)?;
                d.reassign(c, "chw-b")
            }),
        ),
        (
            "moved out and back in one push",
            &plain,
            Box::new(|d, c| {
                d.move_district(c, KHULNA)?;
                d.move_district(c, DHAKA)
            }),
        ),
        (
            "assigned to a worker of another district",
            &plain,
            Box::new(|d, c| d.reassign(c, "chw-b")),
        ),
        (
            "assigned to a coordinator",
            &plain,
            Box::new(|d, c| d.reassign(c, "coord-a")),
        ),
        (
            "assigned to nobody known",
            &plain,
            Box::new(|d, c| d.reassign(c, "শফিকুল")),
        ),
        (
            "assigned to nobody, then back",
            &plain,
            Box::new(|d, c| {
                d.reassign(c, "ghost")?;
                d.reassign(c, "chw-a")
            }),
        ),
        (
            "moved to a district whose workers do not include the assignee",
            &two,
            Box::new(|d, c| d.move_district(c, KHULNA)),
        ),
    ];
    let before = stored(&mut w);
    for (what, d, f) in tampers {
        let c = ctx(&d.user, d.role);
        let changes =
            changes_by(doc_of(&plain, "case-m"), actor(d), |doc| f(doc, &c)).expect("edit");
        let resp = w.push(d, "case-m", changes).await;
        assert!(resp.acked.is_empty(), "{what}: {:?}", resp.acked);
        assert_eq!(
            resp.refused.iter().map(|r| r.code).collect::<Vec<_>>(),
            [RefusalCode::RestrictedField],
            "{what}: {:?}",
            resp.refused
        );
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused moves and assignments");

    // A coordinator of both districts moves it and hands it to a worker there.
    let c = ctx("coord-two", Role::Coordinator);
    let ok = changes_by(doc_of(&plain, "case-m"), actor(&two), |d| {
        d.move_district(&c, KHULNA)?;
        d.reassign(&c, "chw-b")
    })
    .expect("edit");
    let resp = w.push(&two, "case-m", ok).await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    assert_eq!(resp.acked.len(), 1);
}

/// Issue #14: device ids are chosen by the app, and the server signs its own edits as
/// `server:<user>` (dashboard, import) and `web:<hex>` (dashboard sessions): a phone
/// logging in as `server:coord-a` would sign like coord-a's dashboard edits.
#[tokio::test]
async fn reserved_device_ids_are_refused_at_login() {
    let mut w = World::start();
    let before = stored(&mut w);
    let spec = w.spec("coord-a");
    for id in [
        "server:coord-a",
        "web:00ff",
        "admin:coord-a",
        "Server:coord-a",
    ] {
        let r = w
            .http
            .post(format!("{}/v1/auth/login", w.url()))
            .json(&serde_json::json!({
                "username": spec.username, "password": spec.password, "device_id": id
            }))
            .send()
            .await
            .expect("login");
        assert_eq!(status_code(r).await, code(400, "bad_request"), "{id}");
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused logins");
    // An ordinary device id still works.
    w.device("coord-a", "laptop-সমন্বয়").await;
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

/// Issue #14: a change's message names a user and a time, both written by the device.
/// The server records who pushed each change (authenticated user and device) and when
/// it received it; the history shows that beside the claim. On main the history had
/// only the claim (and no `GET /v1/cases/{id}/history`).
#[tokio::test]
async fn the_history_shows_who_pushed_each_change_beside_what_it_claims() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    w.shared(
        &chw,
        &coord,
        new_case("case-t", DHAKA, "chw-a", "สมศรี ใจดี", false),
        &["case-t"],
    )
    .await;
    // chw-a's phone writes a visit whose message names coord-a, dated 1970.
    let forged = EditCtx {
        user_id: "coord-a".into(),
        role: Role::Coordinator,
        now_ms: 0,
    };
    let changes = changes_by(doc_of(&chw, "case-t"), actor(&chw), |d| {
        d.add_visit(&forged, &visit("Khám tại nhà, bà Hoa khỏe"))
            .map(|_| ())
    })
    .expect("edit");
    let t0 = now_ms();
    let resp = w.push(&chw, "case-t", changes).await;
    let t1 = now_ms();
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    let r = w
        .http
        .get(format!("{}/v1/cases/case-t/history", w.url()))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("history");
    assert_eq!(r.status().as_u16(), 200);
    let history: Vec<serde_json::Value> = r.json().await.expect("json");
    let visit = history
        .iter()
        .find(|h| h["user"] == "coord-a")
        .expect("the forged change");
    assert_eq!(visit["time_ms"], 0, "the claim is kept, as a claim");
    assert_eq!(visit["server"]["user_id"], "chw-a");
    assert_eq!(visit["server"]["device_id"], "phone-a");
    let received = visit["server"]["received_ms"].as_i64().expect("received");
    assert!((t0..=t1).contains(&received), "{t0} <= {received} <= {t1}");
    // The registration came through sync too.
    assert!(history
        .iter()
        .all(|h| h["server"]["user_id"] == "chw-a" && h["server"]["device_id"] == "phone-a"));
    // Out of scope: 404 as for the case itself.
    let other = w.device("coord-b", "laptop-b").await;
    assert_eq!(
        w.get(&other.token, "/v1/cases/case-t/history").await,
        code(404, "not_found")
    );
}

/// Walks `id` (on `chw`'s phone) through intake, consent, assessment and a goal to
/// planning, with one visit.
fn walk_to_planning(chw: &Device, id: &str) {
    chw.edit(id, 2_000, |d, c| {
        d.record_intake(
            c,
            &IntakeInput {
                date: date("2025-01-05"),
                source: IntakeSource::SelfReferral,
                referred_by: None,
                presenting_problem: "ไข้สูง สามวัน".into(),
            },
        )?;
        d.record_consent(c, true, date("2025-01-05"), "সব তথ্য")?;
        d.advance(c, Stage::Assessment)?;
        d.update_assessment(
            c,
            &AssessmentUpdate {
                date: Some(date("2025-01-12")),
                ..Default::default()
            },
        )?;
        d.advance(c, Stage::Planning)?;
        d.add_goal(
            c,
            &GoalInput {
                text: "واکسن کودک".into(),
                priority: 1,
                method: None,
                target_date: None,
                evaluate_by: None,
            },
        )?;
        d.add_visit(c, &visit("Bé đã khỏe hơn")).map(|_| ())
    })
    .expect("walk to planning");
}

/// The object at `path` from the root of `d` (map keys).
fn obj_at(d: &mut CaseDoc, path: &[&str]) -> automerge::ObjId {
    use automerge::ReadDoc;
    let mut o = automerge::ROOT;
    for k in path {
        o = d.automerge().get(&o, *k).expect("get").expect("present").1;
    }
    o
}

/// Issue #14: with hand-made changes a CHW could close or reopen a case without the
/// stage rules, review activity after closure (a coordinator's act), delete visits or
/// rewrite who registered the case: the rules lived only in the app. The server now runs
/// the same rules (`casesync_core::case::rules`) on every push. On main each of these
/// pushes was accepted (seen failing: every `refused_with` below).
#[tokio::test]
async fn a_chw_cannot_break_the_lifecycle_with_hand_made_changes() {
    let mut w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    chw.create(
        &new_case("case-l", DHAKA, "chw-a", "ফাতেমা বেগম", false),
        1_000,
    )
    .expect("create");
    walk_to_planning(&chw, "case-l");
    let (p, _) = chw.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    let visit_id = chw
        .case("case-l")
        .expect("case")
        .visits
        .keys()
        .next()
        .cloned()
        .expect("visit");
    let goal_id = chw
        .case("case-l")
        .expect("case")
        .plan
        .goals
        .keys()
        .next()
        .cloned()
        .expect("goal");
    let c = ctx("chw-a", Role::Chw);
    type Tamper = Box<dyn FnOnce(&mut CaseDoc) -> Result<(), CaseError>>;
    use RefusalCode::{Invalid, RestrictedField};
    let v1 = visit_id.clone();
    let v2 = visit_id.clone();
    let v3 = visit_id.clone();
    let g = goal_id.clone();
    let tampers: Vec<(&str, RefusalCode, Tamper)> = vec![
        (
            "a visit deleted",
            Invalid,
            Box::new(move |d| {
                let visits = obj_at(d, &["visits"]);
                d.automerge().delete(&visits, v1.as_str())?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "a legit visit, then a visit deleted in the same push",
            Invalid,
            Box::new(move |d| {
                d.add_visit(&c, &visit("Chị Lan khỏe"))?;
                let visits = obj_at(d, &["visits"]);
                d.automerge().delete(&visits, v2.as_str())?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "a visit emptied of its date (no longer listed)",
            Invalid,
            Box::new(move |d| {
                let m = obj_at(d, &["visits", v3.as_str()]);
                d.automerge().delete(&m, "date")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "created_by rewritten",
            Invalid,
            Box::new(|d| put(d, "created_by", "coord-a".into())),
        ),
        (
            "created_at rewritten",
            Invalid,
            Box::new(|d| put(d, "created_at", 5_i64.into())),
        ),
        (
            "closed with no closure record",
            Invalid,
            Box::new(|d| put(d, "stage", "closed".into())),
        ),
        (
            "closed as moved without the client's agreement (a coordinator's act)",
            RestrictedField,
            Box::new(|d| {
                let cl = obj_at(d, &["closure"]);
                let am = d.automerge();
                am.put(&cl, "date", "2025-03-01")?;
                am.put(&cl, "reason", "moved")?;
                am.put(&cl, "client_agreed", false)?;
                am.put(automerge::ROOT, "stage", "closed")?;
                am.commit();
                Ok(())
            }),
        ),
        (
            "moved back to intake (a coordinator's act)",
            RestrictedField,
            Box::new(|d| put(d, "stage", "intake".into())),
        ),
        (
            "advanced past planning with its only goal dropped",
            Invalid,
            Box::new(move |d| {
                let m = obj_at(d, &["plan", "goals", g.as_str()]);
                d.automerge().put(&m, "status", "dropped")?;
                d.automerge()
                    .put(automerge::ROOT, "stage", "implementation")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
    ];
    let before = stored(&mut w);
    for (what, want, f) in tampers {
        // A fresh actor of the phone for each: on a server that stored one, the next
        // still applies (and is judged on its own).
        let changes =
            changes_by(doc_of(&chw, "case-l"), device_actor(&chw.device_id), f).expect(what);
        refused_with(&w.push(&chw, "case-l", changes).await, "case-l", want);
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused lifecycle tampering");

    // The coordinator closes the case without the client's agreement; the phone, not
    // synced since, records a visit: activity after closure, flagged for review.
    coord.sync_via(&w.url()).await.expect("sync");
    coord
        .edit("case-l", 3_000, |d, c| {
            d.close(
                c,
                &ClosureInput {
                    date: date("2025-03-01"),
                    reason: ClosureReason::Moved,
                    client_agreed: false,
                    summary: "পরিবার ঢাকায় চলে গেছে".into(),
                },
            )
        })
        .expect("close");
    let (p, _) = coord.sync_via(&w.url()).await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    chw.edit("case-l", 4_000, |d, c| {
        d.add_visit(c, &visit("ครอบครัวย้ายไปแล้ว")).map(|_| ())
    })
    .expect("late visit");
    let (p, _) = chw.sync_via(&w.url()).await.expect("sync");
    assert!(
        p.refused.is_empty(),
        "honest late work is accepted: {:?}",
        p.refused
    );
    let case = chw.case("case-l").expect("case");
    assert_eq!(case.stage, Stage::Closed);
    assert!(case.activity_after_closure);

    let ids: Vec<String> = case
        .visits
        .keys()
        .chain(case.plan.goals.keys())
        .cloned()
        .collect();
    let tampers: Vec<(&str, RefusalCode, Tamper)> = vec![
        (
            "activity after closure marked reviewed (a coordinator's act)",
            RestrictedField,
            Box::new(move |d| {
                let k = obj_at(d, &["closure", "known"]);
                for id in &ids {
                    d.automerge().put(&k, id.as_str(), true)?;
                }
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "reopened (a coordinator's act)",
            RestrictedField,
            Box::new(|d| put(d, "stage", "monitoring".into())),
        ),
    ];
    let before = stored(&mut w);
    for (what, want, f) in tampers {
        // A fresh actor of the phone for each: on a server that stored one, the next
        // still applies (and is judged on its own).
        let changes =
            changes_by(doc_of(&chw, "case-l"), device_actor(&chw.device_id), f).expect(what);
        refused_with(&w.push(&chw, "case-l", changes).await, "case-l", want);
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused coordinator acts");
    // The coordinator may do both.
    coord.sync_via(&w.url()).await.expect("sync");
    coord
        .edit("case-l", 5_000, |d, c| {
            d.acknowledge_activity_after_closure(c)?;
            d.reopen(c)
        })
        .expect("review and reopen");
    let (p, _) = coord.sync_via(&w.url()).await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}

/// Issue #14 item 2: a case is registered online only with an assignee `can_assign`
/// accepts (a health worker of its district), through `POST /v1/cases` and
/// `POST /v1/cases/import` alike; on main only later reassignments were checked, so a
/// coordinator could register a case for a worker of another district (who then read
/// it) or for another coordinator. (A registration pushed from an offline phone is not
/// judged on its assignee: docs/DESIGN.md §5.4.)
#[tokio::test]
async fn a_case_is_registered_only_for_a_health_worker_of_its_district() {
    let mut w = World::start();
    let coord = w.device("coord-a", "laptop-a").await;
    let before = stored(&mut w);
    for (i, assignee) in ["chw-b", "coord-plain", "nobody"].into_iter().enumerate() {
        let id = format!("case-n{i}");
        let new = new_case(&id, DHAKA, assignee, "Trần Thị Bích", false);
        let c = ctx("coord-a", Role::Coordinator);
        let mut doc = CaseDoc::create(&c, actor(&coord), &new).expect("create");
        let body = serde_json::to_value(&new).expect("json");
        assert_eq!(
            w.post_json(&coord.token, "/v1/cases", body).await,
            code(403, "forbidden"),
            "{assignee}"
        );
        let case = doc.read().expect("read");
        let body = serde_json::json!([case]);
        assert_eq!(
            w.post_json(&coord.token, "/v1/cases/import", body).await,
            code(403, "forbidden"),
            "{assignee}"
        );
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused registrations");
    // A worker of the district.
    let new = new_case("case-ok", DHAKA, "chw-a", "Trần Thị Bích", false);
    let body = serde_json::to_value(&new).expect("json");
    assert_eq!(w.post_json(&coord.token, "/v1/cases", body).await.0, 201);
}

/// Issue #14 item 3: write scope through a routing a case once had ends. The previous
/// assignee's phone still delivers the visit it recorded offline before the
/// reassignment (in the sync that tells it to remove the case) and, within the grace
/// window, a push repeated after that; once the window after the removal was served is
/// over, a kept copy writes nothing. On main the old assignee could push to the case
/// forever.
#[tokio::test]
async fn a_previous_assignee_writes_only_until_the_window_after_the_removal_ends() {
    let w = World::start_with_env(&[("CASESYNC_REMOVED_WRITE_GRACE_SECS", "2")]);
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    chw.create(
        &new_case("case-w", DHAKA, "chw-a", "Phạm Thị Thu", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    // Recorded offline, before the phone hears of the reassignment.
    chw.edit("case-w", 2_000, |d, c| {
        d.add_visit(c, &visit("সে ভালো আছে")).map(|_| ())
    })
    .expect("offline visit");
    let kept = doc_of(&chw, "case-w");
    coord
        .edit("case-w", 3_000, |d, c| d.reassign(c, "chw-a2"))
        .expect("reassign");
    coord.sync().await.expect("sync");
    let (p, _) = chw.sync().await.expect("sync");
    assert!(
        p.refused.is_empty(),
        "the offline visit arrives: {:?}",
        p.refused
    );
    assert!(
        chw.store.load_case("case-w").is_err(),
        "the phone removed the case"
    );
    let c = ctx("chw-a", Role::Chw);
    let mut copy = kept;
    copy.set_actor(actor(&chw));
    let mut late = |notes: &str| {
        let heads = copy.heads();
        copy.add_visit(&c, &visit(notes)).expect("edit");
        copy.changes_since(&heads)
            .iter()
            .map(|ch| ch.raw_bytes().to_vec())
            .collect::<Vec<_>>()
    };
    // Within the window (a push repeated after a lost answer, say).
    let first = late("ยังอยู่ในช่วงผ่อนผัน");
    let second = late("پس از پایان مهلت");
    let resp = w.push(&chw, "case-w", first).await;
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    // (What the coordinator is served: a restart to read the raw store would lose the
    // test's short window setting.)
    let before = w.served(&coord, &["case-w"]).await;
    refused_with(
        &w.push(&chw, "case-w", second).await,
        "case-w",
        RefusalCode::OutOfScope,
    );
    assert_eq!(
        w.served(&coord, &["case-w"]).await,
        before,
        "a write after the window stores nothing"
    );
    // The new assignee writes as ever.
    let new = w.device("chw-a2", "phone-a2").await;
    new.sync().await.expect("sync");
    new.edit("case-w", 4_000, |d, c| {
        d.add_visit(c, &visit("Tôi đã đến thăm")).map(|_| ())
    })
    .expect("visit");
    let (p, _) = new.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}
