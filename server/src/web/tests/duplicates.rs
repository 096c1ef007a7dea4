//! Possible duplicate clients (issue #15 §1): a case a phone registers is checked
//! against its district and lands in the coordinator's review queue; "same person" and
//! "different people" are ordinary case changes (timeline, next sync of the phone);
//! only the district's coordinators decide; a bad form writes nothing.

use automerge::transaction::Transactable;
use casesync_core::case::{
    Case, ClientUpdate, ClosureReason, GoalInput, ReferralInput, ReferralService, VisitInput,
    VisitKind, DISTINCT_PREFIX,
};
use casesync_core::dedup::{compare, Person, MATCH_THRESHOLD};
use casesync_core::protocol::{DocBody, DocPush, RefusalCode, SyncRequest, PROTOCOL_VERSION};
use chrono::NaiveDate;

use super::*;

const PHONE: &str = "phone-chw1";

/// A health worker's phone: its replicas and its cursor.
struct Phone {
    user: &'static str,
    device: String,
    docs: std::collections::BTreeMap<String, CaseDoc>,
    cursor: Vec<u8>,
}

impl Phone {
    fn new(user: &'static str) -> Self {
        Phone {
            user,
            device: format!("phone-{user}"),
            docs: Default::default(),
            cursor: Vec::new(),
        }
    }

    /// One sync: pushes `push` (the changes of the named replicas since `since`), then
    /// pulls every page. Returns the refusals of the push.
    async fn sync(
        &mut self,
        st: &AppState,
        push: Vec<DocPush>,
    ) -> Vec<casesync_core::protocol::Refusal> {
        let user = st.store.user(self.user).expect("read").expect("user");
        let mut push = Some(push);
        let mut refused = Vec::new();
        loop {
            let req = SyncRequest {
                version: PROTOCOL_VERSION,
                device_id: self.device.clone(),
                cursor: self.cursor.clone(),
                push: push.take().unwrap_or_default(),
                max_page_bytes: 0,
            };
            let (engine, user, device) = (st.engine.clone(), user.clone(), self.device.clone());
            // The engine blocks (its writer lock): off the test's runtime thread.
            let (r, _) = tokio::task::spawn_blocking(move || engine.sync(&user, &device, &req))
                .await
                .expect("task")
                .expect("sync");
            refused.extend(r.refused);
            for u in r.docs {
                match u.body {
                    DocBody::Snapshot { doc, .. } => {
                        let mut d = CaseDoc::load(&doc).expect("snapshot");
                        d.set_actor(device_actor(&self.device));
                        self.docs.insert(u.doc_id, d);
                    }
                    DocBody::Changes(cs) => {
                        let cs = cs
                            .into_iter()
                            .map(|b| automerge::Change::from_bytes(b).expect("change"))
                            .collect();
                        self.docs
                            .get_mut(&u.doc_id)
                            .expect("known doc")
                            .apply_changes(cs)
                            .expect("apply");
                    }
                }
            }
            self.cursor = r.cursor;
            if !r.more {
                return refused;
            }
        }
    }

    fn read(&mut self, id: &str) -> Case {
        self.docs
            .get_mut(id)
            .expect("replica")
            .read()
            .expect("read")
    }
}

fn ctx_chw() -> EditCtx {
    EditCtx::new("chw1", Role::Chw, crate::now_ms())
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn demo_case(st: &AppState, id: &str) -> Case {
    all_cases(st)
        .into_iter()
        .find(|c| c.id == id)
        .expect("demo case")
}

/// Registers on the phone, offline, a second case of `like`'s client under `name` (the
/// same village, sex, age and household), with an open goal, a referral and a visit;
/// then syncs. Returns the phone.
async fn register_again(d: &Demo, id: &str, like: &Case, name: &str) -> Phone {
    let mut phone = Phone::new("chw1");
    phone.sync(&d.st, vec![]).await;
    let c = ctx_chw();
    let mut doc = CaseDoc::create(
        &c,
        device_actor(PHONE),
        &NewCase {
            id: id.into(),
            district: DEMO_DISTRICT.into(),
            village: like.village.clone(),
            assigned_to: "chw1".into(),
            sensitive: false,
            client_name: name.into(),
        },
    )
    .expect("create");
    doc.update_client(
        &c,
        &ClientUpdate {
            sex: like.client.sex,
            age_estimate: like.client.age_estimate,
            ..ClientUpdate::default()
        },
    )
    .expect("client");
    for m in like.client.household.values() {
        doc.add_household_member(&c, &m.name, &m.relation)
            .expect("member");
    }
    doc.add_goal(
        &c,
        &GoalInput {
            text: "Đăng ký khám thai tại trạm y tế".into(),
            priority: 1,
            method: None,
            target_date: None,
            evaluate_by: Some(date("2027-01-15")),
        },
    )
    .expect("goal");
    doc.add_referral(
        &c,
        &ReferralInput {
            service: ReferralService::Health,
            agency: "ব্র্যাক স্বাস্থ্য কেন্দ্র".into(),
            date: date("2026-11-20"),
            follow_up_date: None,
            agency_id: None,
            reason: None,
            share_sensitive: false,
        },
    )
    .expect("referral");
    doc.add_visit(
        &c,
        &VisitInput {
            date: date("2026-11-21"),
            kind: VisitKind::Home,
            notes: "ลูกค้าได้รับเอกสารครบแล้ว".into(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        },
    )
    .expect("visit");
    let changes = doc
        .changes_since(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    phone.docs.insert(id.into(), doc);
    let refused = phone
        .sync(
            &d.st,
            vec![DocPush {
                doc_id: id.into(),
                changes,
            }],
        )
        .await;
    assert!(refused.is_empty(), "{refused:?}");
    phone
}

/// What is stored of cases: the log's last sequence number and every case's bytes
/// ("nothing stored changed" is "this is equal"; sessions, which sign-ins write, aside).
fn cases_stored(st: &AppState) -> (u64, Vec<Option<Vec<u8>>>) {
    let ids = st
        .store
        .doc_ids(&ScopeKey::District(DEMO_DISTRICT.into()), "", 10_000)
        .expect("ids");
    (
        st.store.last_seq().expect("seq"),
        ids.iter()
            .map(|id| st.store.doc_bytes(id).expect("bytes"))
            .collect(),
    )
}

/// Whether the review page lists the pair (either order).
fn listed(review: &str, a: &str, b: &str) -> bool {
    review.contains(&format!(r#"data-newer="{a}" data-older="{b}""#))
        || review.contains(&format!(r#"data-newer="{b}" data-older="{a}""#))
}

async fn review(d: &Demo, jar: &str) -> String {
    let r = send(&d.app, get("/dashboard/review", jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

/// Demo case 47: one of the ten زهرا حسینی (not sensitive, of chw3).
const ZAHRA: &str = "demo-0047";
/// Demo case 10: สมชาย ใจดี (of chw2).
const SOMCHAI: &str = "demo-0010";
/// Demo case 15: Nguyễn Thị Lan (of chw1).
const LAN: &str = "demo-0015";

#[tokio::test]
async fn same_person_closes_the_newer_case_into_the_older_and_the_phone_follows() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let older = demo_case(&d.st, ZAHRA);
    assert_eq!(older.client.name, "زهرا حسینی");
    assert!(!listed(&review(&d, &jar).await, "dup-zahra", ZAHRA));
    // The same woman registered again on chw1's phone, her name typed with Arabic
    // letters (ي for ی) and a tatweel.
    let mut phone = register_again(&d, "dup-zahra", &older, "زهـرا حسيني").await;
    let page = review(&d, &jar).await;
    assert!(listed(&page, "dup-zahra", ZAHRA), "not in the review queue");
    assert!(
        page.contains(r#"data-newer="dup-zahra""#),
        "the new case is the newer"
    );
    assert!(page.contains("same name") && page.contains("same village"));

    let csrf = csrf_of(&page);
    let r = send(
        &d.app,
        post(
            "/dashboard/duplicates/same",
            &jar,
            &[("csrf", &csrf), ("keep", ZAHRA), ("close", "dup-zahra")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/dashboard/cases/{ZAHRA}"));
    let closed = demo_case(&d.st, "dup-zahra");
    assert_eq!(closed.stage, Stage::Closed);
    let closure = closed.closure.as_ref().expect("closure");
    assert_eq!(closure.reason, ClosureReason::Duplicate);
    assert_eq!(closure.duplicate_of.as_deref(), Some(ZAHRA));
    assert_eq!(
        demo_case(&d.st, ZAHRA).stage,
        older.stage,
        "the survivor stays"
    );
    // The pair left the queue.
    assert!(!listed(&review(&d, &jar).await, "dup-zahra", ZAHRA));

    // The surviving case shows the duplicate's open goal, referral and visit.
    let r = send(&d.app, get(&format!("/dashboard/cases/{ZAHRA}"), &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    let merged = &r.body[r.body.find(r#"id="merged""#).expect("merged list")..];
    assert!(merged.contains(r#"data-case="dup-zahra""#));
    for text in [
        "Đăng ký khám thai tại trạm y tế",
        "ব্র্যাক স্বাস্থ্য কেন্দ্র",
        "ลูกค้าได้รับเอกสารครบแล้ว",
    ] {
        assert!(merged.contains(text), "{text} missing");
    }
    // The duplicate links to it, and its timeline names the coordinator's closure.
    let r = send(&d.app, get("/dashboard/cases/dup-zahra", &jar)).await;
    assert!(r.body.contains(&format!(
        r#"id="duplicate-of">Closed as a duplicate of <a href="/dashboard/cases/{ZAHRA}""#
    )));
    assert!(r.body.contains(
        r#"<b>coord</b></bdi> <span class="summary">closed the case: Duplicate of another case"#
    ));

    // The phone gets the closure at its next sync.
    assert_eq!(phone.read("dup-zahra").stage, Stage::Intake);
    assert!(phone.sync(&d.st, vec![]).await.is_empty());
    let on_phone = phone.read("dup-zahra");
    assert_eq!(on_phone.stage, Stage::Closed);
    assert_eq!(
        on_phone.closure.and_then(|c| c.duplicate_of).as_deref(),
        Some(ZAHRA)
    );

    // The decision again (a second tab): refused, nothing stored changes.
    let dump = cases_stored(&d.st);
    for (keep, close) in [(ZAHRA, "dup-zahra"), ("dup-zahra", ZAHRA)] {
        let r = send(
            &d.app,
            post(
                "/dashboard/duplicates/same",
                &jar,
                &[("csrf", &csrf), ("keep", keep), ("close", close)],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    }
    assert!(cases_stored(&d.st) == dump, "a refusal wrote");
}

#[tokio::test]
async fn different_people_are_never_flagged_again() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let older = demo_case(&d.st, SOMCHAI);
    assert_eq!(older.client.name, "สมชาย ใจดี");
    let mut phone2 = Phone::new("chw2");
    assert!(phone2.sync(&d.st, vec![]).await.is_empty());
    assert!(phone2.read(SOMCHAI).distinct_from.is_empty());
    let mut phone = register_again(&d, "other-somchai", &older, "สมชาย  ใจดี").await;
    let page = review(&d, &jar).await;
    assert!(listed(&page, "other-somchai", SOMCHAI));
    let csrf = csrf_of(&page);
    let r = send(
        &d.app,
        post(
            "/dashboard/duplicates/distinct",
            &jar,
            &[("csrf", &csrf), ("a", "other-somchai"), ("b", SOMCHAI)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/dashboard/review");
    assert!(!listed(&review(&d, &jar).await, "other-somchai", SOMCHAI));
    // Recorded in both cases (each phone learns it), in the timeline.
    assert_eq!(demo_case(&d.st, "other-somchai").distinct_from, [SOMCHAI]);
    assert_eq!(demo_case(&d.st, SOMCHAI).distinct_from, ["other-somchai"]);
    let r = send(&d.app, get("/dashboard/cases/other-somchai", &jar)).await;
    assert!(r.body.contains(
        r#"<b>coord</b></bdi> <span class="summary">recorded as a different person than another case"#
    ));
    assert!(r.body.contains("Client: Decided a different person"));
    assert!(!r.body.contains(&format!("{DISTINCT_PREFIX}{SOMCHAI}")));

    // A further edit of the client on the phone: the case is checked again, still a
    // likely match by its score, and still not flagged.
    assert!(phone.sync(&d.st, vec![]).await.is_empty());
    assert_eq!(phone.read("other-somchai").distinct_from, [SOMCHAI]);
    assert!(
        !phone.docs.contains_key(SOMCHAI),
        "chw2's case on chw1's phone"
    );
    // chw2's phone, which holds the other case, converges too, and never gets chw1's.
    assert!(phone2.sync(&d.st, vec![]).await.is_empty());
    assert_eq!(phone2.read(SOMCHAI).distinct_from, ["other-somchai"]);
    assert!(!phone2.docs.contains_key("other-somchai"));
    let doc = phone.docs.get_mut("other-somchai").expect("replica");
    let heads = doc.heads();
    doc.update_client(
        &ctx_chw(),
        &ClientUpdate {
            phone: Some("০১৭১১-২৩৪৫৬৭".into()),
            ..ClientUpdate::default()
        },
    )
    .expect("edit");
    let changes = doc
        .changes_since(&heads)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let refused = phone
        .sync(
            &d.st,
            vec![DocPush {
                doc_id: "other-somchai".into(),
                changes,
            }],
        )
        .await;
    assert!(refused.is_empty(), "{refused:?}");
    let edited = demo_case(&d.st, "other-somchai");
    assert_eq!(edited.client.phone.as_deref(), Some("০১৭১১-২৩৪৫৬৭"));
    let s = compare(&Person::from_case(&edited), &Person::from_case(&older));
    assert!(
        s.score >= MATCH_THRESHOLD,
        "the pair would be flagged: {s:?}"
    );
    assert!(!listed(&review(&d, &jar).await, "other-somchai", SOMCHAI));

    // Deciding again is refused and writes nothing.
    let dump = cases_stored(&d.st);
    let r = send(
        &d.app,
        post(
            "/dashboard/duplicates/distinct",
            &jar,
            &[("csrf", &csrf), ("a", SOMCHAI), ("b", "other-somchai")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(cases_stored(&d.st) == dump, "a refusal wrote");
}

#[tokio::test]
async fn only_the_districts_coordinators_decide_and_bad_forms_write_nothing() {
    let d = demo_app().await;
    let older = demo_case(&d.st, LAN);
    assert_eq!(older.client.name, "Nguyễn Thị Lan");
    register_again(&d, "lan-again", &older, "NGUYEN THI LAN").await;
    let coord = sign_in(&d.app, "coord").await;
    let page = review(&d, &coord).await;
    assert!(listed(&page, "lan-again", LAN));
    let dump = cases_stored(&d.st);
    let same = |keep: &'static str, close: &'static str| vec![("keep", keep), ("close", close)];
    let distinct = |a: &'static str, b: &'static str| vec![("a", a), ("b", b)];

    // A health worker, an admin, another district's coordinator.
    for (user, status) in [
        ("chw1", StatusCode::FORBIDDEN),
        ("admin", StatusCode::FORBIDDEN),
        // Out of scope reads as unknown, as on every case form (existence not told).
        ("coord2", StatusCode::NOT_FOUND),
    ] {
        let jar = sign_in(&d.app, user).await;
        let home = send(&d.app, get("/", &jar)).await;
        let home = if home.status == StatusCode::SEE_OTHER {
            send(&d.app, get(home.location(), &jar)).await
        } else {
            home
        };
        let csrf = csrf_of(&home.body);
        assert!(!csrf.is_empty(), "{user}: no form token");
        for (path, mut fields) in [
            ("/dashboard/duplicates/same", same(LAN, "lan-again")),
            ("/dashboard/duplicates/distinct", distinct(LAN, "lan-again")),
        ] {
            fields.push(("csrf", &csrf));
            let r = send(&d.app, post(path, &jar, &fields)).await;
            assert_eq!(r.status, status, "{user} {path}");
        }
    }
    let chw = sign_in(&d.app, "chw1").await;
    assert_eq!(
        send(&d.app, get("/dashboard/review", &chw)).await.status,
        StatusCode::FORBIDDEN
    );

    // The coordinator's bad forms.
    let csrf = csrf_of(&page);
    /// (form, fields, status, what the page says).
    type BadForm<'a> = (&'a str, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: [BadForm<'_>; 7] = [
        (
            "same",
            same(LAN, "lan-again"),
            StatusCode::FORBIDDEN,
            "did not come from this site",
        ),
        (
            "same",
            same("no-such-case", "lan-again"),
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            "same",
            same(LAN, LAN),
            StatusCode::BAD_REQUEST,
            "two different cases",
        ),
        (
            "distinct",
            distinct("lan-again", "lan-again"),
            StatusCode::BAD_REQUEST,
            "two different cases",
        ),
        ("same", same(LAN, "not an id!"), StatusCode::BAD_REQUEST, ""),
        ("distinct", distinct(LAN, ""), StatusCode::BAD_REQUEST, ""),
        // Two cases the matcher did not pair.
        (
            "same",
            same(LAN, SOMCHAI),
            StatusCode::CONFLICT,
            "not an open possible duplicate",
        ),
    ];
    for (i, (what, mut fields, status, says)) in cases.into_iter().enumerate() {
        if i > 0 {
            fields.push(("csrf", &csrf));
        }
        let r = send(
            &d.app,
            post(&format!("/dashboard/duplicates/{what}"), &coord, &fields),
        )
        .await;
        assert_eq!(r.status, status, "form {i}: {}", r.body);
        assert!(r.body.contains(says), "form {i}: {}", r.body);
    }
    let r = send(
        &d.app,
        post(
            "/dashboard/duplicates/same",
            &coord,
            &[
                ("csrf", &csrf),
                ("keep", LAN),
                ("close", "lan-again"),
                ("summary", &"x".repeat(2_001)),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(cases_stored(&d.st) == dump, "a refused form wrote");
    // And the pair still waits for a decision.
    assert!(listed(&review(&d, &coord).await, "lan-again", LAN));
}

#[tokio::test]
async fn a_worker_cannot_push_the_coordinators_decisions() {
    let d = demo_app().await;
    let older = demo_case(&d.st, LAN);
    let mut phone = register_again(&d, "lan-again", &older, "Nguyễn Thị Lan").await;
    let dump = cases_stored(&d.st);
    // A hand-made change marking the pair as different people.
    let doc = phone.docs.get_mut("lan-again").expect("replica");
    let mut marked = doc.clone();
    let heads = marked.heads();
    let am = marked.automerge();
    let (_, client) = automerge::ReadDoc::get(am, automerge::ROOT, "client")
        .expect("get")
        .expect("client map");
    am.put(&client, format!("{DISTINCT_PREFIX}{LAN}"), true)
        .expect("put");
    am.commit();
    let sneaky: Vec<Vec<u8>> = marked
        .changes_since(&heads)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let refused = phone
        .sync(
            &d.st,
            vec![DocPush {
                doc_id: "lan-again".into(),
                changes: sneaky,
            }],
        )
        .await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].code, RefusalCode::RestrictedField);
    // A hand-made duplicate closure (the API refuses it to a worker).
    let mut closing = phone.docs.get("lan-again").expect("replica").clone();
    let heads = closing.heads();
    let am = closing.automerge();
    let (_, closure) = automerge::ReadDoc::get(am, automerge::ROOT, "closure")
        .expect("get")
        .expect("closure map");
    am.put(&closure, "date", "2026-12-01").expect("put");
    am.put(&closure, "reason", "duplicate").expect("put");
    am.put(&closure, "client_agreed", false).expect("put");
    am.put(&closure, "duplicate_of", LAN).expect("put");
    am.put(automerge::ROOT, "stage", "closed").expect("put");
    am.commit();
    let sneaky: Vec<Vec<u8>> = closing
        .changes_since(&heads)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let refused = phone
        .sync(
            &d.st,
            vec![DocPush {
                doc_id: "lan-again".into(),
                changes: sneaky,
            }],
        )
        .await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(cases_stored(&d.st) == dump, "a refused push wrote");
}
