//! End to end: the real server binary on a loopback port with real sled in temp dirs,
//! and devices (core store + sync session + HTTP) creating, editing offline, syncing.

use casesync_core::case::*;
use casesync_tests::fixtures::{visit, visit_on};
use casesync_tests::harness::*;
use casesync_tests::scenario::{self, DISTRICT as D1};

fn users() -> Vec<UserSpec> {
    let mut users = scenario::users(2);
    users.push(UserSpec::new("chw9", Role::Chw, "khulna"));
    users
}

fn new_case(id: &str, assigned: &str, name: &str) -> NewCase {
    casesync_tests::fixtures::new_case(id, D1, assigned, name, false)
}

struct World {
    _dir: tempfile::TempDir,
    server: ServerProc,
    users: Vec<UserSpec>,
}

impl World {
    fn start() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let users = users();
        let server = ServerProc::start(&dir.path().join("server"), &users).expect("server");
        World {
            _dir: dir,
            server,
            users,
        }
    }

    async fn device(&self, user: &str, device_id: &str) -> Device {
        let spec = self
            .users
            .iter()
            .find(|u| u.username == user)
            .expect("user");
        Device::login(&self.server.url, self._dir.path(), spec, device_id)
            .await
            .expect("login")
    }
}

#[tokio::test]
async fn three_devices_create_edit_offline_sync_and_converge() {
    let w = World::start();
    let chw1 = w.device("chw1", "phone-chw1").await;
    let chw2 = w.device("chw2", "phone-chw2").await;
    let coord = w.device("coord", "laptop-coord").await;
    scenario::create_edit_offline_and_converge(&chw1, &chw2, &coord, async |d, _| {
        d.sync().await.map(|_| ())
    })
    .await;

    // Up to date: one round trip, nothing moves.
    let (p, _) = chw2.sync().await.expect("sync");
    assert_eq!((p.pages, p.docs_received, p.docs_pushed), (1, 0, 0));
}

#[tokio::test]
async fn reassignment_while_the_old_worker_is_offline_loses_nothing() {
    let w = World::start();
    let chw1 = w.device("chw1", "phone-chw1").await;
    let chw2 = w.device("chw2", "phone-chw2").await;
    let coord = w.device("coord", "laptop-coord").await;
    chw1.create(&new_case("case-r", "chw1", "สมชาย จันทร์เพ็ญ"), 1_000)
        .expect("create");
    chw1.sync().await.expect("sync");
    coord.sync().await.expect("sync");

    coord
        .edit("case-r", 2_000, |d, c| d.reassign(c, "chw2"))
        .expect("reassign");
    coord.sync().await.expect("sync");
    // chw1, still offline, records a visit on the case it no longer holds.
    chw1.edit("case-r", 2_500, |d, c| {
        d.add_visit(c, &visit_on("ไม่มีไข้ รับประทานอาหารได้ปกติ", "2025-02-03"))
    })
    .expect("offline visit");

    chw2.sync().await.expect("sync");
    assert!(
        chw2.store
            .case_ids()
            .expect("ids")
            .contains(&"case-r".to_string()),
        "the new worker gets the case"
    );
    let (p, _) = chw1.sync().await.expect("sync");
    assert!(
        p.refused.is_empty(),
        "the old worker's push is accepted: {:?}",
        p.refused
    );
    assert!(
        chw1.store.case_ids().expect("ids").is_empty(),
        "and the case leaves the old worker's phone once acknowledged"
    );
    chw2.sync().await.expect("sync");
    let r = chw2.case("case-r").expect("case");
    assert_eq!(
        r.visits.len(),
        1,
        "the old worker's visit reaches the new worker"
    );
    assert_eq!(r.assigned_to, "chw2");
}

#[tokio::test]
async fn erasure_removes_the_case_everywhere() {
    let w = World::start();
    let chw1 = w.device("chw1", "phone-chw1").await;
    let coord = w.device("coord", "laptop-coord").await;
    chw1.create(&new_case("case-e", "chw1", "Nguyễn Thị Hoa"), 1_000)
        .expect("create");
    chw1.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    let http = http_client();
    let resp = http
        .post(format!("{}/v1/cases/case-e/erase", w.server.url))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("erase");
    assert!(resp.status().is_success(), "erase: {}", resp.status());
    chw1.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    assert!(chw1.store.case_ids().expect("ids").is_empty());
    assert!(coord.store.case_ids().expect("ids").is_empty());
    let got = http
        .get(format!("{}/v1/cases/case-e", w.server.url))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("get");
    assert_eq!(got.status().as_u16(), 404);
}

#[tokio::test]
async fn a_revoked_device_is_wiped() {
    let mut w = World::start();
    let mut chw1 = w.device("chw1", "phone-chw1").await;
    chw1.create(&new_case("case-w", "chw1", "রহিমা খাতুন"), 1_000)
        .expect("create");
    chw1.sync().await.expect("sync");
    // A spent refresh token used again (its successor already used) revokes the token
    // family, not the device: nothing is wiped.
    let http = http_client();
    let refresh = |tok: String| {
        let http = http.clone();
        let url = w.server.url.clone();
        async move {
            http.post(format!("{url}/v1/auth/refresh"))
                .json(&serde_json::json!({"refresh_token": tok, "device_id": "phone-chw1"}))
                .send()
                .await
                .expect("refresh")
                .status()
                .as_u16()
        }
    };
    let first = chw1.refresh_token.clone();
    let rotated: serde_json::Value = http
        .post(format!("{}/v1/auth/refresh", w.server.url))
        .json(&serde_json::json!({"refresh_token": first, "device_id": "phone-chw1"}))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let second = rotated["refresh_token"].as_str().expect("token").to_owned();
    assert_eq!(refresh(second).await, 200);
    assert_eq!(refresh(first).await, 401, "reuse is refused");
    // Its access tokens issued in an earlier second are refused too (sign in again);
    // either way the store stays as it is.
    let _ = chw1.sync().await;
    assert_eq!(chw1.store.case_ids().expect("ids"), ["case-w"]);
    let spec = w.users.iter().find(|u| u.username == "chw1").expect("user");
    chw1.token = login(&http, &w.server.url, "chw1", &spec.password, "phone-chw1")
        .await
        .expect("a password login: the device is not revoked")
        .access_token;
    let (_, step) = chw1.sync().await.expect("sync");
    assert_eq!(step, casesync_core::sync::Step::Done, "not wiped");
    assert_eq!(chw1.store.case_ids().expect("ids"), ["case-w"]);
    // Only the administrator's revoke (lost phone) wipes it.
    let data = w.server.data.clone();
    w.server.kill();
    let out = std::process::Command::new(server_bin().expect("bin"))
        .args(["device", "revoke", "phone-chw1", "--data"])
        .arg(&data)
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.server = ServerProc::serve(&data).expect("restart");
    let (progress, step) = chw1.sync_via(&w.server.url).await.expect("sync");
    assert_eq!(step, casesync_core::sync::Step::Wiped);
    assert_eq!(progress.wiped.map(|r| r.unsent_cases), Some(0));
    assert!(
        chw1.store.case_ids().expect("ids").is_empty(),
        "local data wiped"
    );
}

#[tokio::test]
async fn refused_pushes_leave_the_server_untouched() {
    use automerge::transaction::Transactable;
    let w = World::start();
    let chw1 = w.device("chw1", "phone-chw1").await;
    let coord = w.device("coord", "laptop-coord").await;
    chw1.create(&new_case("case-x", "chw1", "زهرا احمدی"), 1_000)
        .expect("create");
    chw1.create(&new_case("case-y", "chw1", "สมชาย"), 1_000)
        .expect("create");
    chw1.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    let before = coord.case("case-x").expect("case");

    // A CHW's app tampers with a restricted field, bypassing the typed API.
    chw1.edit("case-x", 2_000, |d, _| {
        d.automerge()
            .put(automerge::ROOT, "assigned_to", "chw9")
            .map_err(CaseError::from)?;
        d.automerge().commit();
        Ok(())
    })
    .expect("tamper");
    chw1.edit("case-y", 2_000, |d, c| d.add_visit(c, &visit("ok")))
        .expect("legit");
    let (p, _) = chw1.sync().await.expect("sync");
    assert_eq!(p.refused.len(), 1, "{:?}", p.refused);
    assert_eq!(p.refused[0].doc_id, "case-x");
    assert_eq!(
        p.refused[0].code,
        casesync_core::protocol::RefusalCode::RestrictedField
    );
    coord.sync().await.expect("sync");
    assert_eq!(
        coord.case("case-x").expect("case"),
        before,
        "nothing of the refused push stored"
    );
    assert_eq!(
        coord.case("case-y").expect("case").visits.len(),
        1,
        "the other document still syncs"
    );

    // The refused push is parked: listed with its reason, not sent again, and the phone
    // still shows what it holds until the app discards it.
    let refused = chw1.store.refused().expect("refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].case_id, "case-x");
    assert_eq!(
        refused[0].code,
        casesync_core::protocol::RefusalCode::RestrictedField
    );
    let (p, _) = chw1.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "resent: {:?}", p.refused);
    assert_eq!(p.docs_pushed, 0, "a parked push is not uploaded");
    assert_eq!(chw1.case("case-x").expect("case").assigned_to, "chw9");
    let d = chw1.store.discard_refused("case-x").expect("discard");
    assert_eq!((d.changes, d.case_removed), (1, false));
    assert_eq!(
        chw1.case("case-x").expect("case"),
        before,
        "back to the server's copy"
    );
    assert!(chw1.store.outbox().expect("outbox").is_empty());
    let (p, _) = chw1.sync().await.expect("sync");
    assert!(p.refused.is_empty());
}
