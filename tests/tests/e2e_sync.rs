//! End to end: the real server binary on a loopback port with real sled in temp dirs,
//! and devices (core store + sync session + HTTP) creating, editing offline, syncing.

use casesync_core::case::*;
use casesync_tests::harness::*;
use chrono::NaiveDate;

const D1: &str = "sylhet";

fn users() -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, D1);
    coord.sensitive_access = true;
    vec![
        coord,
        UserSpec::new("chw1", Role::Chw, D1),
        UserSpec::new("chw2", Role::Chw, D1),
        UserSpec::new("chw9", Role::Chw, "khulna"),
    ]
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn new_case(id: &str, assigned: &str, name: &str) -> NewCase {
    NewCase {
        id: id.into(),
        district: D1.into(),
        village: "বালাগঞ্জ".into(),
        assigned_to: assigned.into(),
        sensitive: false,
        client_name: name.into(),
    }
}

fn visit(notes: &str, day: &str) -> VisitInput {
    VisitInput {
        date: date(day),
        kind: VisitKind::Home,
        notes: notes.into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: Some(date("2025-03-01")),
    }
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

    chw1.create(&new_case("case-a", "chw1", "রহিমা খাতুন"), 1_000)
        .expect("create a");
    chw1.edit("case-a", 2_000, |d, c| {
        d.add_visit(c, &visit("মা ও শিশু সুস্থ", "2025-02-01"))
    })
    .expect("visit");
    chw2.create(&new_case("case-b", "chw2", "زهرا احمدی"), 1_500)
        .expect("create b");
    chw1.sync().await.expect("sync chw1");
    chw2.sync().await.expect("sync chw2");
    coord.sync().await.expect("sync coord");

    assert_eq!(
        coord.store.case_ids().expect("ids").len(),
        2,
        "the coordinator sees the district"
    );
    assert_eq!(
        chw1.store.case_ids().expect("ids"),
        vec!["case-a".to_string()],
        "a CHW sees only their own cases"
    );

    // Concurrent offline edits of the same case by the CHW and the coordinator.
    let v = chw1
        .store
        .load_case("case-a")
        .expect("a")
        .read()
        .expect("read")
        .visits
        .keys()
        .next()
        .cloned()
        .expect("visit id");
    chw1.edit("case-a", 3_000, |d, c| {
        d.update_visit(
            c,
            &v,
            &VisitUpdate {
                notes: Some("আজ: মা ও শিশু সুস্থ".into()),
                ..Default::default()
            },
        )
    })
    .expect("edit");
    chw1.edit("case-a", 3_100, |d, c| {
        d.update_client(
            c,
            &ClientUpdate {
                phone: Some("+8801711000000".into()),
                ..Default::default()
            },
        )
    })
    .expect("phone");
    coord
        .edit("case-a", 3_200, |d, c| {
            d.update_visit(
                c,
                &v,
                &VisitUpdate {
                    notes: Some("মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে".into()),
                    ..Default::default()
                },
            )
        })
        .expect("coord edit");
    coord
        .edit("case-a", 3_300, |d, c| {
            d.update_assessment(
                c,
                &AssessmentUpdate {
                    safety_risk: Some(SafetyRisk::Medium),
                    ..Default::default()
                },
            )
        })
        .expect("risk");

    for _ in 0..2 {
        chw1.sync().await.expect("sync");
        coord.sync().await.expect("sync");
    }
    let a1 = chw1
        .store
        .load_case("case-a")
        .expect("a")
        .read()
        .expect("read");
    let a2 = coord
        .store
        .load_case("case-a")
        .expect("a")
        .read()
        .expect("read");
    assert_eq!(a1, a2, "both copies converge");
    assert_eq!(
        a1.visits[&v].notes, "আজ: মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে",
        "both note edits kept"
    );
    assert_eq!(a1.client.phone.as_deref(), Some("+8801711000000"));
    assert_eq!(
        a1.assessment.and_then(|a| a.safety_risk),
        Some(SafetyRisk::Medium)
    );
    assert!(
        chw1.store.outbox().expect("outbox").is_empty(),
        "everything acknowledged"
    );

    // Up to date: one round trip, nothing moves.
    let (p, _) = chw1.sync().await.expect("sync");
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
        d.add_visit(c, &visit("ไม่มีไข้ รับประทานอาหารได้ปกติ", "2025-02-03"))
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
    let r = chw2
        .store
        .load_case("case-r")
        .expect("r")
        .read()
        .expect("read");
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
    let w = World::start();
    let chw1 = w.device("chw1", "phone-chw1").await;
    chw1.create(&new_case("case-w", "chw1", "রহিমা খাতুন"), 1_000)
        .expect("create");
    chw1.sync().await.expect("sync");
    // A stolen refresh token used twice revokes the device.
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
    assert_eq!(refresh(chw1.refresh_token.clone()).await, 200);
    assert_eq!(
        refresh(chw1.refresh_token.clone()).await,
        401,
        "reuse is refused and revokes the device"
    );
    let (_, step) = chw1.sync().await.expect("sync");
    assert_eq!(step, casesync_core::sync::Step::Wiped);
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
    let before = coord
        .store
        .load_case("case-x")
        .expect("x")
        .read()
        .expect("read");

    // A CHW's app tampers with a restricted field, bypassing the typed API.
    chw1.edit("case-x", 2_000, |d, _| {
        d.automerge()
            .put(automerge::ROOT, "assigned_to", "chw9")
            .map_err(CaseError::from)?;
        d.automerge().commit();
        Ok(())
    })
    .expect("tamper");
    chw1.edit("case-y", 2_000, |d, c| {
        d.add_visit(c, &visit("ok", "2025-02-01"))
    })
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
        coord
            .store
            .load_case("case-x")
            .expect("x")
            .read()
            .expect("read"),
        before,
        "nothing of the refused push stored"
    );
    assert_eq!(
        coord
            .store
            .load_case("case-y")
            .expect("y")
            .read()
            .expect("read")
            .visits
            .len(),
        1,
        "the other document still syncs"
    );
}
