//! Registered agencies (issue #15): an agency's user sees exactly what each referral
//! addressed to their agency shares, and answers it; every other read or write is
//! refused with nothing stored changed. On the demo district, whose legal and
//! psychosocial referrals go to two registered agencies (`demo::DEMO_AGENCIES`).

use super::*;
use casesync_core::case::{Case, ReferralStatus};
use casesync_core::protocol::SharedReferral;
use serde_json::{json, Value};

const LEGAL: &str = "nari-legal";

fn json_req(method: &str, uri: &str, token: Option<&str>, body: Option<&Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    }
    .expect("request")
}

async fn token(app: &Router, user: &str) -> String {
    let pw = format!("demo-{user}-pass");
    let r = send(
        app,
        json_req(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"username": user, "password": pw, "device_id": format!("dev-{user}")})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).expect("json");
    v["access_token"].as_str().expect("token").to_owned()
}

/// The referrals of the demo addressed to `agency`, with their case, as stored.
fn addressed_to(st: &AppState, agency: &str) -> Vec<(Case, String)> {
    all_cases(st)
        .into_iter()
        .flat_map(|c| {
            c.referrals
                .values()
                .filter(|r| r.agency_id.as_deref() == Some(agency))
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
                .into_iter()
                .map(move |id| (c.clone(), id))
        })
        .collect()
}

/// What the store holds, to compare before and after a refused request.
fn stored(st: &AppState) -> (u64, Vec<Case>) {
    (st.store.last_seq().expect("seq"), all_cases(st))
}

#[tokio::test]
async fn agency_staff_see_exactly_what_each_referral_shares() {
    let d = demo_app().await;
    let mine = addressed_to(&d.st, LEGAL);
    let visible: Vec<&(Case, String)> = mine
        .iter()
        .filter(|(c, id)| !c.sensitive || c.referrals[id].share_sensitive)
        .collect();
    assert!(
        visible.len() >= 5,
        "the demo refers to the legal aid centre"
    );
    assert!(
        mine.iter()
            .any(|(c, id)| c.sensitive && c.referrals[id].share_sensitive),
        "the demo has a confidential case shared with consent"
    );
    let t = token(&d.app, "legal1").await;
    let r = send(
        &d.app,
        json_req("GET", "/v1/agency/referrals", Some(&t), None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list: Vec<SharedReferral> = serde_json::from_str(&r.body).expect("list");
    let mut got: Vec<(String, String)> = list
        .iter()
        .map(|s| (s.case_id.clone(), s.referral_id.clone()))
        .collect();
    let mut want: Vec<(String, String)> = visible
        .iter()
        .map(|(c, id)| (c.id.to_string(), id.clone()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(
        got, want,
        "exactly the referrals addressed to the agency it may see"
    );
    // Only the shared fields: the JSON of one entry has no other key.
    let raw: Vec<Value> = serde_json::from_str(&r.body).expect("json");
    let keys: Vec<&str> = raw[0]
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accepted_on",
            "case_id",
            "client_name",
            "client_phone",
            "completed_on",
            "date",
            "decline_reason",
            "declined_on",
            "outcome",
            "reason",
            "referral_id",
            "referred_by",
            "service",
            "status"
        ]
    );
    // The dashboard page lists the same, in Bengali, and none of the cases' own content.
    let cookie = sign_in(&d.app, "legal1").await;
    let page = send(&d.app, get("/dashboard/agency?lang=bn", &cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body.matches("data-referral=").count(), visible.len());
    assert!(
        page.body.contains("নারী আইন সহায়তা কেন্দ্র"),
        "the agency's Bengali name"
    );
    for (c, _) in &visible {
        assert!(page.body.contains(&c.client.name));
        let intake = c.intake.as_ref().expect("intake");
        assert!(
            !page.body.contains(&intake.presenting_problem),
            "the presenting problem is not shared"
        );
        for v in c.visits.values().filter(|v| !v.notes.is_empty()) {
            assert!(!page.body.contains(&v.notes), "visit notes are not shared");
        }
    }
}

#[tokio::test]
async fn an_agency_answers_through_the_dashboard_and_the_api_as_itself() {
    let d = demo_app().await;
    let made = addressed_to(&d.st, LEGAL)
        .into_iter()
        .filter(|(c, id)| !c.sensitive && c.referrals[id].status == ReferralStatus::Made)
        .collect::<Vec<_>>();
    assert!(made.len() >= 2, "the demo leaves some referrals unanswered");
    // Dashboard: accept.
    let cookie = sign_in(&d.app, "legal1").await;
    let page = send(&d.app, get("/dashboard/agency", &cookie)).await;
    let csrf = csrf_of(&page.body);
    let (case, rid) = &made[0];
    let path = format!("/dashboard/agency/referrals/{}/{rid}", case.id);
    // Without the CSRF token nothing happens.
    let before = stored(&d.st);
    let r = send(&d.app, post(&path, &cookie, &[("action", "accept")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&d.st), before);
    let r = send(
        &d.app,
        post(&path, &cookie, &[("csrf", &csrf), ("action", "accept")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let now = all_cases(&d.st)
        .into_iter()
        .find(|c| c.id == case.id)
        .expect("case");
    let ref_now = &now.referrals[rid];
    assert_eq!(ref_now.status, ReferralStatus::Accepted);
    assert_eq!(ref_now.answered_by.as_deref(), Some("legal1"));
    assert!(ref_now.accepted_on.is_some());
    // Bound to the agency's user by the server: the change's audit names them.
    let audit = d.st.store.audit(case.id.as_ref()).expect("audit");
    assert!(audit
        .iter()
        .any(|(_, a)| a.user_id == "legal1" && a.device_id == "server:legal1"));
    // The coordinator's timeline says so.
    let coord = sign_in(&d.app, "coord").await;
    let cp = send(
        &d.app,
        get(&format!("/dashboard/cases/{}", case.id), &coord),
    )
    .await;
    assert!(
        cp.body.contains("answered a referral: Accepted"),
        "timeline"
    );
    // API: complete with the outcome, in Vietnamese; a repeat stores nothing.
    let t = token(&d.app, "legal1").await;
    let uri = format!("/v1/agency/referrals/{}/{rid}", case.id);
    let body =
        json!({"action": "complete", "date": "2026-01-20", "outcome": "Đã được tư vấn pháp lý"});
    let r = send(&d.app, json_req("POST", &uri, Some(&t), Some(&body))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let s: SharedReferral = serde_json::from_str(&r.body).expect("shared");
    assert_eq!(s.status, ReferralStatus::Completed);
    assert_eq!(s.outcome.as_deref(), Some("Đã được tư vấn pháp lý"));
    let before = stored(&d.st);
    let r = send(&d.app, json_req("POST", &uri, Some(&t), Some(&body))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a repeated answer (lost reply) is fine"
    );
    assert_eq!(stored(&d.st), before, "and stores nothing");
    // A step out of order is a conflict, nothing stored.
    let (other, orid) = &made[1];
    let uri = format!("/v1/agency/referrals/{}/{orid}", other.id);
    let r = send(&d.app, json_req("POST", &uri, Some(&t), Some(&body))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // A decline needs its reason.
    let r = send(
        &d.app,
        json_req(
            "POST",
            &uri,
            Some(&t),
            Some(&json!({"action": "decline", "date": "2026-01-20", "reason": " "})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(stored(&d.st), before);
}

#[tokio::test]
async fn agency_staff_cannot_reach_anything_else() {
    let d = demo_app().await;
    let t = token(&d.app, "legal1").await;
    let all = addressed_to(&d.st, LEGAL);
    let (case, _) = &all[0];
    let before = stored(&d.st);
    // Not the case, its history, or a sync.
    for uri in [
        format!("/v1/cases/{}", case.id),
        format!("/v1/cases/{}/history", case.id),
    ] {
        let r = send(&d.app, json_req("GET", &uri, Some(&t), None)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.body);
    }
    let r = send(
        &d.app,
        Request::post("/v1/sync")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, casesync_core::protocol::CONTENT_TYPE)
            .body(Body::from(vec![0u8; 16]))
            .expect("req"),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let cookie = sign_in(&d.app, "legal1").await;
    for uri in [
        format!("/dashboard/cases/{}", case.id),
        "/dashboard".to_owned(),
        "/dashboard/cases".to_owned(),
        "/dashboard/review".to_owned(),
        "/dashboard/admin".to_owned(),
        "/dashboard/export/cases.csv".to_owned(),
    ] {
        let r = send(&d.app, get(&uri, &cookie)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    // Not a referral of a confidential case without consent, of another agency, or
    // outside the system: each is 404 as an unknown one, nothing stored.
    let cases = all_cases(&d.st);
    let hidden_sensitive = all
        .iter()
        .find(|(c, id)| c.sensitive && !c.referrals[id].share_sensitive);
    let other_agency = cases.iter().find_map(|c| {
        c.referrals
            .values()
            .find(|r| r.agency_id.as_deref() == Some("mana-psych"))
            .map(|r| (c.clone(), r.id.clone()))
    });
    let free_text = cases.iter().find_map(|c| {
        c.referrals
            .values()
            .find(|r| r.agency_id.is_none())
            .map(|r| (c.clone(), r.id.clone()))
    });
    let accept = json!({"action": "accept", "date": "2026-01-20"});
    let mut tried = 0;
    for (c, rid) in [other_agency, free_text].into_iter().flatten() {
        let uri = format!("/v1/agency/referrals/{}/{rid}", c.id);
        let r = send(&d.app, json_req("POST", &uri, Some(&t), Some(&accept))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}: {}", r.body);
        tried += 1;
    }
    assert_eq!(tried, 2);
    // A confidential case shared without consent: made here (the demo's are all
    // shared), by its coordinator marking a shared case's sibling sensitive.
    if let Some((c, rid)) = hidden_sensitive {
        let uri = format!("/v1/agency/referrals/{}/{rid}", c.id);
        let r = send(&d.app, json_req("POST", &uri, Some(&t), Some(&accept))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(stored(&d.st), before, "nothing stored changed");
    // Other roles do not use the agency API.
    for user in ["chw1", "coord", "admin"] {
        let t = token(&d.app, user).await;
        let r = send(
            &d.app,
            json_req("GET", "/v1/agency/referrals", Some(&t), None),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
        let (c, rid) = &all[0];
        let uri = format!("/v1/agency/referrals/{}/{rid}", c.id);
        let r = send(&d.app, json_req("POST", &uri, Some(&t), Some(&accept))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
    }
    // No token: 401.
    let r = send(&d.app, json_req("GET", "/v1/agency/referrals", None, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&d.st), before, "nothing stored changed");
}

#[tokio::test]
async fn a_case_made_confidential_later_is_hidden_from_the_agency() {
    let d = demo_app().await;
    let (case, rid) = addressed_to(&d.st, LEGAL)
        .into_iter()
        .find(|(c, _)| !c.sensitive)
        .expect("an open case");
    let coord = d.st.store.user("coord").expect("u").expect("coord");
    let (st, id) = (d.st.clone(), case.id.to_string());
    tokio::task::spawn_blocking(move || {
        st.engine
            .edit_case(&coord, "server:coord", &id, |doc, ctx| {
                doc.set_sensitive(ctx, true)
            })
            .expect("made sensitive");
    })
    .await
    .expect("join");
    let t = token(&d.app, "legal1").await;
    let r = send(
        &d.app,
        json_req("GET", "/v1/agency/referrals", Some(&t), None),
    )
    .await;
    let list: Vec<SharedReferral> = serde_json::from_str(&r.body).expect("list");
    assert!(
        !list
            .iter()
            .any(|s| s.case_id == case.id.as_ref() as &str && s.referral_id == rid),
        "a confidential case's referral without consent on it is not shared"
    );
    let before = stored(&d.st);
    let uri = format!("/v1/agency/referrals/{}/{rid}", case.id);
    let r = send(
        &d.app,
        json_req(
            "POST",
            &uri,
            Some(&t),
            Some(&json!({"action": "accept", "date": "2026-01-20"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(stored(&d.st), before);
}

#[tokio::test]
async fn the_directory_is_the_admins_and_each_user_sees_their_part() {
    let d = demo_app().await;
    let admin = token(&d.app, "admin").await;
    let coord = token(&d.app, "coord").await;
    let new = json!({"id": "shelter-1", "names": {"bn": "নিরাপদ আশ্রয়", "fa": "خانهٔ امن"},
        "services": ["housing"], "districts": [DEMO_DISTRICT]});
    let before = stored(&d.st);
    let r = send(
        &d.app,
        json_req("POST", "/v1/admin/agencies", Some(&coord), Some(&new)),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for bad in [
        json!({"id": "x y", "names": {"en": "X"}}),
        json!({"id": "x", "names": {}}),
        json!({"id": "x", "names": {"en": "X"}, "services": ["cooking"]}),
        json!({"id": "x", "names": {"en": "X"}, "secret": 1}),
    ] {
        let r = send(
            &d.app,
            json_req("POST", "/v1/admin/agencies", Some(&admin), Some(&bad)),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
    }
    assert_eq!(stored(&d.st), before);
    assert_eq!(
        crate::agencies::list(d.st.store.as_ref()).expect("l").len(),
        2
    );
    let r = send(
        &d.app,
        json_req("POST", "/v1/admin/agencies", Some(&admin), Some(&new)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = send(
        &d.app,
        json_req("POST", "/v1/admin/agencies", Some(&admin), Some(&new)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "the same again");
    // A worker of the district sees the three; another district's coordinator none.
    let chw = token(&d.app, "chw1").await;
    let r = send(&d.app, json_req("GET", "/v1/agencies", Some(&chw), None)).await;
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v["agencies"].as_array().expect("list").len(), 3);
    let far = token(&d.app, "coord2").await;
    let r = send(&d.app, json_req("GET", "/v1/agencies", Some(&far), None)).await;
    let v: Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v["agencies"].as_array().expect("list").len(), 0);
    // Agency staff are created with an agency of the directory, and no district.
    for (bad, why) in [
        (
            json!({"username": "x1", "role": "agency", "password": "long-enough-1"}),
            "no agency",
        ),
        (
            json!({"username": "x2", "role": "agency", "agency": "nope", "password": "long-enough-1"}),
            "unknown agency",
        ),
        (
            json!({"username": "x3", "role": "chw", "districts": [DEMO_DISTRICT], "agency": "shelter-1", "password": "long-enough-1"}),
            "a worker with an agency",
        ),
        (
            json!({"username": "x4", "role": "agency", "agency": "shelter-1", "districts": [DEMO_DISTRICT], "password": "long-enough-1"}),
            "districts",
        ),
    ] {
        let r = send(
            &d.app,
            json_req("POST", "/v1/admin/users", Some(&admin), Some(&bad)),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.body);
    }
    let ok = json!({"username": "shelter-staff", "role": "agency", "agency": "shelter-1", "password": "long-enough-1"});
    let r = send(
        &d.app,
        json_req("POST", "/v1/admin/users", Some(&admin), Some(&ok)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let u = d.st.store.user("shelter-staff").expect("u").expect("user");
    assert_eq!(
        (u.role, u.agency.as_deref()),
        (Role::Agency, Some("shelter-1"))
    );
}

#[tokio::test]
async fn coordinators_see_referrals_by_agency_and_a_service_referred_twice() {
    let d = demo_app().await;
    let coord = sign_in(&d.app, "coord").await;
    let j = send(&d.app, get("/dashboard/indicators.json", &coord)).await;
    assert_eq!(j.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&j.body).expect("json");
    let by = &v["indicators"]["referrals_by_agency"]["nari-legal"];
    let mine = addressed_to(&d.st, LEGAL);
    for status in ["made", "accepted", "completed", "declined"] {
        let want = mine
            .iter()
            .filter(|(c, id)| c.referrals[id].status.as_str() == status)
            .count() as u64;
        assert_eq!(by[status].as_u64(), Some(want), "{status}");
    }
    assert!(v["indicators"]["median_days_referral_to_accepted"].as_f64() == Some(2.0));
    let page = send(&d.app, get("/dashboard?lang=fa", &coord)).await;
    assert!(page.body.contains(r#"data-agency="nari-legal""#));
    assert!(
        page.body.contains("مرکز کمک حقوقی زنان"),
        "the agency's Persian name"
    );
    // A second legal referral under way for a client already referred: flagged.
    let review = send(&d.app, get("/dashboard/review", &coord)).await;
    let (case, _) = mine
        .iter()
        .find(|(c, id)| c.referrals[id].is_active() && !c.sensitive && c.stage != Stage::Closed)
        .expect("an active referral");
    assert!(!review
        .body
        .contains(&format!(r#"<li data-case="{}">"#, case.id)));
    let user = d.st.store.user("coord").expect("u").expect("coord");
    let (st, id) = (d.st.clone(), case.id.to_string());
    tokio::task::spawn_blocking(move || {
        st.engine
            .edit_case(&user, "server:coord", &id, |doc, ctx| {
                doc.add_referral(
                    ctx,
                    &casesync_core::case::ReferralInput {
                        service: casesync_core::case::ReferralService::Legal,
                        agency: "Bar association".into(),
                        date: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("d"),
                        follow_up_date: None,
                        agency_id: None,
                        reason: None,
                        share_sensitive: false,
                    },
                )
                .map(|_| ())
            })
            .expect("second referral");
    })
    .await
    .expect("join");
    let review = send(&d.app, get("/dashboard/review", &coord)).await;
    assert!(
        review
            .body
            .contains(&format!(r#"<li data-case="{}">"#, case.id)),
        "the review lists the case"
    );
    let j = send(&d.app, get("/dashboard/indicators.json", &coord)).await;
    let v: Value = serde_json::from_str(&j.body).expect("json");
    assert!(v["indicators"]["duplicate_service_cases"].as_u64() >= Some(1));
}
