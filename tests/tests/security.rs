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
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("server");
        let users = users();
        let server = ServerProc::start(&data, &users).expect("server");
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

#[tokio::test]
async fn brute_force_login_is_rate_limited_and_stores_nothing() {
    let mut w = World::start();
    let before = w.while_stopped(|data| sled_dump(data).expect("dump"));
    let url = w.url();
    let attempt = |user: &'static str, password: String| {
        let http = w.http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(format!("{url}/v1/auth/login"))
                .json(&serde_json::json!({"username": user, "password": password, "device_id": "attacker"}))
                .send()
                .await
                .expect("login");
            status_code(r).await
        }
    };
    for i in 0..5 {
        assert_eq!(
            attempt("chw-a", format!("guess-{i}")).await,
            code(401, "bad_credentials")
        );
    }
    let right = w.spec("chw-a").password;
    assert_eq!(
        attempt("chw-a", right.clone()).await,
        code(429, "rate_limited"),
        "locked even with the right password"
    );
    assert_eq!(
        attempt("CHW-A", right).await,
        code(429, "rate_limited"),
        "case does not reset the count"
    );
    // Spread over usernames, the address limit (30) stops it.
    let mut limited = false;
    for i in 0..40 {
        let user: &'static str = [
            "chw-b",
            "coord-a",
            "coord-b",
            "chw-a2",
            "nobody",
            "admin",
            "coord-plain",
        ][i % 7];
        let r = attempt(user, format!("guess-{i}")).await;
        if r == code(429, "rate_limited") {
            limited = true;
            assert!(i >= 24, "limited after {i}: only 30 failures per address");
            break;
        }
        assert_eq!(r, code(401, "bad_credentials"));
    }
    assert!(limited, "the per-address limit applies");
    let after = w.while_stopped(|data| sled_dump(data).expect("dump"));
    assert!(
        dump_diff(&before, &after, |_, _| false).is_empty(),
        "failed logins store nothing"
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
