//! Reports over cases built end to end through the typed case API.

use chrono::NaiveDate;

use super::*;
use crate::case::*;

const DISTRICT: &str = "north";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn ctx(user: &str, role: Role, on: &str) -> EditCtx {
    let now_ms = d(on)
        .and_hms_opt(9, 0, 0)
        .expect("time")
        .and_utc()
        .timestamp_millis();
    EditCtx::new(user, role, now_ms)
}

fn chw(user: &str, on: &str) -> EditCtx {
    ctx(user, Role::Chw, on)
}

fn coordinator(on: &str) -> EditCtx {
    ctx("coord", Role::Coordinator, on)
}

fn create(id: &str, district: &str, worker: &str, name: &str, on: &str) -> CaseDoc {
    let new = NewCase {
        id: id.into(),
        district: district.into(),
        village: format!("village-{id}"),
        assigned_to: worker.into(),
        sensitive: false,
        client_name: name.into(),
    };
    CaseDoc::create(&chw(worker, on), device_actor("d"), &new).expect("create")
}

fn intake(doc: &mut CaseDoc, c: &EditCtx, date: &str) {
    let i = IntakeInput {
        date: d(date),
        source: IntakeSource::Family,
        referred_by: None,
        presenting_problem: "needs support".into(),
    };
    doc.record_intake(c, &i).expect("intake");
    doc.record_consent(c, true, d(date), "case management")
        .expect("consent");
}

fn assess(doc: &mut CaseDoc, c: &EditCtx, date: &str) {
    let u = AssessmentUpdate {
        date: Some(d(date)),
        safety_risk: Some(SafetyRisk::Low),
        ..Default::default()
    };
    doc.update_assessment(c, &u).expect("assessment");
}

fn goal(doc: &mut CaseDoc, c: &EditCtx, evaluate_by: Option<&str>) -> String {
    let g = GoalInput {
        text: "goal".into(),
        priority: 1,
        method: None,
        target_date: None,
        evaluate_by: evaluate_by.map(d),
    };
    doc.add_goal(c, &g).expect("goal")
}

fn visit(doc: &mut CaseDoc, c: &EditCtx, date: &str, next: Option<&str>) -> String {
    let v = VisitInput {
        date: d(date),
        kind: VisitKind::Home,
        notes: "visited".into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: next.map(d),
    };
    doc.add_visit(c, &v).expect("visit")
}

fn referral(doc: &mut CaseDoc, c: &EditCtx, follow_up: &str, status: ReferralStatus) -> String {
    let r = ReferralInput {
        service: ReferralService::Health,
        agency: "district hospital".into(),
        date: d("2025-01-01"),
        follow_up_date: Some(d(follow_up)),
        agency_id: None,
        reason: None,
        share_sensitive: false,
    };
    let id = doc.add_referral(c, &r).expect("referral");
    if status != ReferralStatus::Made {
        let u = ReferralUpdate {
            status: Some(status),
            ..Default::default()
        };
        doc.update_referral(c, &id, &u).expect("referral update");
    }
    id
}

fn advance_to(doc: &mut CaseDoc, c: &EditCtx, to: Stage) {
    let from = doc.read().expect("read").stage;
    for s in Stage::ALL.iter().filter(|s| **s > from && **s <= to) {
        doc.advance(c, *s).expect("advance");
    }
}

fn close(doc: &mut CaseDoc, c: &EditCtx, reason: ClosureReason, on: &str) {
    let input = ClosureInput {
        date: d(on),
        reason,
        client_agreed: true,
        summary: "closed".into(),
    };
    doc.close(c, &input).expect("close");
}

/// The ids of the items of the fixture that tests look for.
struct Fixture {
    cases: Vec<Case>,
    rahima_visit: String,
    rahima_referral: String,
    rahima_goal: String,
    maryam_visit: String,
    maryam_referral: String,
    karim_visit: String,
    karim_referral: String,
}

/// Seven cases, today 2025-03-15:
/// - c1 রহিমা খাতুন (chw-a): intake 03-02, assessed 03-06 (4 days); next visit 03-10,
///   referral (made) follow-up 03-12, goal evaluation 03-20. Stage assessment.
/// - c2 مریم احمدی (chw-a): intake 02-10, assessed 02-20 (10 days); next visit 03-15,
///   referral (accepted) follow-up 03-01, referral (completed) follow-up 03-02, plan
///   review 04-30. Stage monitoring.
/// - c3 สมศรี ใจดี (chw-a): intake 01-05, assessed 01-07 (2 days); closed (goals
///   achieved) with a next visit 03-01 still stored, and a visit recorded offline on
///   another device while it was being closed (activity after closure).
/// - c4 Nguyễn Thị Hoa (chw-b): intake 03-10, assessment dated 03-08 (before intake:
///   ignored); next visit 03-14. Stage intake.
/// - c5 করিম উদ্দিন (chw-a): district "south"; intake 01-20, assessed 03-01 (40 days);
///   next visit 03-01, referral (made) follow-up 02-01.
/// - c6 Trần Văn Nam (chw-b): created 03-03, no intake; closed (withdrew), not evaluated.
/// - c7 علی رضایی (chw-b): intake 2024-12-01, assessed 12-08 (7 days); referral declined;
///   closed (transferred), evaluated with 1 goal achieved.
fn fixture() -> Fixture {
    let mut cases = Vec::new();

    let a = chw("chw-a", "2025-03-02");
    let mut c1 = create("c1", DISTRICT, "chw-a", "রহিমা খাতুন", "2025-03-02");
    intake(&mut c1, &a, "2025-03-02");
    assess(&mut c1, &a, "2025-03-06");
    advance_to(&mut c1, &a, Stage::Assessment);
    let rahima_visit = visit(&mut c1, &a, "2025-03-05", Some("2025-03-10"));
    let rahima_referral = referral(&mut c1, &a, "2025-03-12", ReferralStatus::Made);
    let rahima_goal = goal(&mut c1, &a, Some("2025-03-20"));
    cases.push(c1.read().expect("read"));

    let a = chw("chw-a", "2025-02-10");
    let mut c2 = create("c2", DISTRICT, "chw-a", "مریم احمدی", "2025-02-10");
    intake(&mut c2, &a, "2025-02-10");
    assess(&mut c2, &a, "2025-02-20");
    goal(&mut c2, &a, None);
    advance_to(&mut c2, &a, Stage::Monitoring);
    visit(&mut c2, &a, "2025-02-25", Some("2025-03-03"));
    let maryam_visit = visit(&mut c2, &a, "2025-03-03", Some("2025-03-15"));
    let maryam_referral = referral(&mut c2, &a, "2025-03-01", ReferralStatus::Accepted);
    referral(&mut c2, &a, "2025-03-02", ReferralStatus::Completed);
    c2.set_review_date(&a, d("2025-04-30"))
        .expect("review date");
    cases.push(c2.read().expect("read"));

    let a = chw("chw-a", "2025-01-05");
    let mut c3 = create("c3", DISTRICT, "chw-a", "สมศรี ใจดี", "2025-01-05");
    intake(&mut c3, &a, "2025-01-05");
    assess(&mut c3, &a, "2025-01-07");
    goal(&mut c3, &a, Some("2025-02-01"));
    advance_to(&mut c3, &a, Stage::Monitoring);
    visit(&mut c3, &a, "2025-02-01", Some("2025-03-01"));
    let mut offline = c3.clone();
    offline.set_actor(device_actor("d2"));
    visit(&mut offline, &a, "2025-02-20", None);
    close(&mut c3, &a, ClosureReason::GoalsAchieved, "2025-02-15");
    c3.merge(&mut offline).expect("merge");
    cases.push(c3.read().expect("read"));

    let b = chw("chw-b", "2025-03-10");
    let mut c4 = create("c4", DISTRICT, "chw-b", "Nguyễn Thị Hoa", "2025-03-10");
    intake(&mut c4, &b, "2025-03-10");
    assess(&mut c4, &b, "2025-03-08");
    visit(&mut c4, &b, "2025-03-10", Some("2025-03-14"));
    cases.push(c4.read().expect("read"));

    let a = chw("chw-a", "2025-01-20");
    let mut c5 = create("c5", "south", "chw-a", "করিম উদ্দিন", "2025-01-20");
    intake(&mut c5, &a, "2025-01-20");
    assess(&mut c5, &a, "2025-03-01");
    let karim_visit = visit(&mut c5, &a, "2025-02-01", Some("2025-03-01"));
    let karim_referral = referral(&mut c5, &a, "2025-02-01", ReferralStatus::Made);
    cases.push(c5.read().expect("read"));

    let b = chw("chw-b", "2025-03-03");
    let mut c6 = create("c6", DISTRICT, "chw-b", "Trần Văn Nam", "2025-03-03");
    close(&mut c6, &b, ClosureReason::Withdrew, "2025-03-04");
    cases.push(c6.read().expect("read"));

    let b = chw("chw-b", "2024-12-01");
    let mut c7 = create("c7", DISTRICT, "chw-b", "علی رضایی", "2024-12-01");
    intake(&mut c7, &b, "2024-12-01");
    assess(&mut c7, &b, "2024-12-08");
    goal(&mut c7, &b, Some("2025-01-01"));
    referral(&mut c7, &b, "2025-01-10", ReferralStatus::Declined);
    close(&mut c7, &b, ClosureReason::Transferred, "2025-01-15");
    let e = Evaluation {
        goals_achieved: 1,
        satisfaction: 4,
    };
    c7.evaluate(&coordinator("2025-01-16"), &e)
        .expect("evaluate");
    cases.push(c7.read().expect("read"));

    Fixture {
        cases,
        rahima_visit,
        rahima_referral,
        rahima_goal,
        maryam_visit,
        maryam_referral,
        karim_visit,
        karim_referral,
    }
}

fn row(f: &FollowUp) -> (&str, FollowUpKind, &str, NaiveDate, i64) {
    (
        f.case_id.as_str(),
        f.kind,
        f.item_id.as_str(),
        f.due,
        f.days_overdue,
    )
}

#[test]
fn due_follow_ups_are_ordered_most_overdue_first() {
    let fx = fixture();
    let due = due_follow_ups(&fx.cases, "chw-a", d("2025-03-15"), 7);
    let got: Vec<_> = due.iter().map(row).collect();
    use FollowUpKind::*;
    assert_eq!(
        got,
        vec![
            (
                "c5",
                ReferralFollowUp,
                fx.karim_referral.as_str(),
                d("2025-02-01"),
                42
            ),
            // Same due date: ordered by name (Arabic script sorts before Bengali).
            (
                "c2",
                ReferralFollowUp,
                fx.maryam_referral.as_str(),
                d("2025-03-01"),
                14
            ),
            ("c5", Visit, fx.karim_visit.as_str(), d("2025-03-01"), 14),
            ("c1", Visit, fx.rahima_visit.as_str(), d("2025-03-10"), 5),
            (
                "c1",
                ReferralFollowUp,
                fx.rahima_referral.as_str(),
                d("2025-03-12"),
                3
            ),
            ("c2", Visit, fx.maryam_visit.as_str(), d("2025-03-15"), 0),
            (
                "c1",
                GoalEvaluation,
                fx.rahima_goal.as_str(),
                d("2025-03-20"),
                -5
            ),
        ]
    );
    assert_eq!(due[1].client_name, "مریم احمدی");
    assert_eq!(due[2].client_name, "করিম উদ্দিন");
    assert_eq!(due[3].village, "village-c1");
    // The closed case (c3, next visit 03-01 still stored) and the completed referral of
    // c2 are never due.
    assert!(due.iter().all(|f| f.case_id != "c3"));
    assert!(due.iter().all(|f| f.due != d("2025-03-02")));
}

#[test]
fn horizon_bounds_future_follow_ups_only() {
    let fx = fixture();
    let today = due_follow_ups(&fx.cases, "chw-a", d("2025-03-15"), 0);
    assert_eq!(
        today.len(),
        6,
        "goal evaluation 03-20 is beyond the horizon"
    );
    assert!(today.iter().all(|f| f.days_overdue >= 0));

    let later = due_follow_ups(&fx.cases, "chw-a", d("2025-03-15"), 60);
    let last = later.last().expect("plan review");
    assert_eq!(later.len(), 8);
    assert_eq!(
        (last.kind, last.due, last.days_overdue),
        (FollowUpKind::PlanReview, d("2025-04-30"), -46)
    );
    assert_eq!(last.item_id, "");

    let b = due_follow_ups(&fx.cases, "chw-b", d("2025-03-15"), 7);
    assert_eq!(b.len(), 1);
    assert_eq!(
        (
            b[0].case_id.as_str(),
            b[0].client_name.as_str(),
            b[0].days_overdue
        ),
        ("c4", "Nguyễn Thị Hoa", 1)
    );
    assert!(due_follow_ups(&fx.cases, "nobody", d("2025-03-15"), 7).is_empty());
    // A horizon past the end of the calendar does not overflow.
    assert_eq!(
        due_follow_ups(&fx.cases, "chw-a", d("2025-03-15"), u32::MAX).len(),
        8
    );
}

#[test]
fn district_indicators_count_exactly() {
    let fx = fixture();
    assert!(
        fx.cases[2].activity_after_closure,
        "fixture: c3 had a visit after closure"
    );
    let ind = district_indicators(&fx.cases, Some(DISTRICT), d("2025-03-15"));
    assert_eq!(ind.total_cases, 6, "c5 is in another district");
    let stages: Vec<(Stage, u32)> = ind.cases_by_stage.iter().map(|(s, n)| (*s, *n)).collect();
    assert_eq!(
        stages,
        vec![
            (Stage::Intake, 1),
            (Stage::Assessment, 1),
            (Stage::Planning, 0),
            (Stage::Implementation, 0),
            (Stage::Monitoring, 1),
            (Stage::Closed, 3),
        ]
    );
    assert_eq!(ind.active_cases, 3);
    // c1 (intake 03-02), c4 (intake 03-10), c6 (no intake, created 03-03).
    assert_eq!(ind.new_this_month, 3);
    assert_eq!(ind.closed_total, 3);
    // c3 (reason goals_achieved) and c7 (transferred, evaluated 1 goal); not c6.
    assert_eq!(ind.closed_with_goals_achieved, 2);
    // c1: visit 03-10 + referral 03-12; c2: referral 03-01 (visit due today is not
    // overdue, completed referral not open); c4: visit 03-14; closed c3: none.
    assert_eq!(ind.overdue_follow_ups, 4);
    let by_worker: Vec<(&str, u32)> = ind
        .overdue_by_worker
        .iter()
        .map(|(w, n)| (w.as_str(), *n))
        .collect();
    assert_eq!(by_worker, vec![("chw-a", 3), ("chw-b", 1)]);
    let refs: Vec<(ReferralStatus, u32)> = ind
        .referrals_by_status
        .iter()
        .map(|(s, n)| (*s, *n))
        .collect();
    assert_eq!(
        refs,
        vec![
            (ReferralStatus::Made, 1),
            (ReferralStatus::Accepted, 1),
            (ReferralStatus::Completed, 1),
            (ReferralStatus::Declined, 1),
        ]
    );
    // 2, 4, 7, 10 days (c4's assessment before intake is ignored; c5 is elsewhere).
    assert_eq!(ind.median_days_intake_to_assessment, Some(5.5));
    assert_eq!(ind.activity_after_closure, 1);
}

#[test]
fn indicators_over_every_district_and_empty_input() {
    let fx = fixture();
    let all = district_indicators(&fx.cases, None, d("2025-03-15"));
    assert_eq!(all.total_cases, 7);
    assert_eq!(all.overdue_follow_ups, 6);
    assert_eq!(all.overdue_by_worker.get("chw-a"), Some(&5));
    assert_eq!(all.referrals_by_status.get(&ReferralStatus::Made), Some(&2));
    // 2, 4, 7, 10, 40: odd count.
    assert_eq!(all.median_days_intake_to_assessment, Some(7.0));

    let none = district_indicators(&fx.cases, Some("nowhere"), d("2025-03-15"));
    assert_eq!(none.total_cases, 0);
    assert_eq!(none.cases_by_stage.len(), Stage::ALL.len());
    assert!(none.cases_by_stage.values().all(|n| *n == 0));
    assert_eq!(none.referrals_by_status.len(), ReferralStatus::ALL.len());
    assert_eq!(none.median_days_intake_to_assessment, None);
    assert!(none.overdue_by_worker.is_empty());
}

#[test]
fn new_this_month_uses_the_calendar_month() {
    let fx = fixture();
    // In April nothing of the fixture is new; on 2025-02-28, c2 (intake 02-10) is.
    assert_eq!(
        district_indicators(&fx.cases, Some(DISTRICT), d("2025-04-01")).new_this_month,
        0
    );
    assert_eq!(
        district_indicators(&fx.cases, Some(DISTRICT), d("2025-02-28")).new_this_month,
        1
    );
    // Same month, another year: not new.
    assert_eq!(
        district_indicators(&fx.cases, Some(DISTRICT), d("2024-03-15")).new_this_month,
        0
    );
}

#[test]
fn outputs_serialize_for_the_dashboard() {
    let fx = fixture();
    let ind = district_indicators(&fx.cases, Some(DISTRICT), d("2025-03-15"));
    let json = serde_json::to_value(&ind).expect("serialize");
    assert_eq!(json["cases_by_stage"]["closed"], 3);
    assert_eq!(json["referrals_by_status"]["declined"], 1);
    assert_eq!(json["median_days_intake_to_assessment"], 5.5);
    let back: Indicators = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, ind);

    let due = due_follow_ups(&fx.cases, "chw-a", d("2025-03-15"), 7);
    let json = serde_json::to_string(&due).expect("serialize");
    assert!(json.contains("\"kind\":\"referral_follow_up\""));
    let back: Vec<FollowUp> = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, due);
}

/// Referrals to registered agencies: by agency and status, days to acceptance and
/// completion (medians), the declined share, and a service referred twice.
#[test]
fn referral_indicators_by_agency_with_answer_times() {
    let c = chw("rahima", "2025-01-01");
    let agency = ctx("legal1", Role::Agency, "2025-01-10");
    let to_agency = |service| ReferralInput {
        service,
        agency: "নারী আইন সহায়তা".into(),
        date: d("2025-01-01"),
        follow_up_date: None,
        agency_id: Some("nari-legal".into()),
        reason: Some("সুরক্ষা আদেশ".into()),
        share_sensitive: false,
    };
    let mut cases = Vec::new();
    // Accepted after 2, 4 and 9 days; two of them completed after 10 and 20; one declined.
    for (i, (accepted, completed)) in [
        ("2025-01-03", Some("2025-01-11")),
        ("2025-01-05", Some("2025-01-21")),
        ("2025-01-10", None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut doc = create(
            &format!("case-a{i}"),
            DISTRICT,
            "rahima",
            "Nguyễn Thị Lan",
            "2025-01-01",
        );
        intake(&mut doc, &c, "2025-01-01");
        let id = doc
            .add_referral(&c, &to_agency(ReferralService::Legal))
            .expect("referral");
        doc.answer_referral(&agency, &id, &ReferralAnswer::Accept { date: d(accepted) })
            .expect("accept");
        if let Some(done) = completed {
            doc.answer_referral(
                &agency,
                &id,
                &ReferralAnswer::Complete {
                    date: d(done),
                    outcome: "xong".into(),
                },
            )
            .expect("complete");
        }
        cases.push(doc.read().expect("read"));
    }
    let mut doc = create("case-b", DISTRICT, "rahima", "زهرا حسینی", "2025-01-01");
    intake(&mut doc, &c, "2025-01-01");
    let id = doc
        .add_referral(&c, &to_agency(ReferralService::Legal))
        .expect("referral");
    doc.answer_referral(
        &agency,
        &id,
        &ReferralAnswer::Decline {
            date: d("2025-01-02"),
            reason: "ظرفیت نداریم".into(),
        },
    )
    .expect("decline");
    // The same client referred twice for health care, once outside the system.
    referral(&mut doc, &c, "2025-02-01", ReferralStatus::Made);
    referral(&mut doc, &c, "2025-02-01", ReferralStatus::Accepted);
    cases.push(doc.read().expect("read"));
    let ind = district_indicators(&cases, Some(DISTRICT), d("2025-03-01"));
    let legal = &ind.referrals_by_agency["nari-legal"];
    assert_eq!(legal[&ReferralStatus::Completed], 2);
    assert_eq!(legal[&ReferralStatus::Accepted], 1);
    assert_eq!(legal[&ReferralStatus::Declined], 1);
    assert_eq!(legal[&ReferralStatus::Made], 0);
    let outside = &ind.referrals_by_agency[OUTSIDE_AGENCY];
    assert_eq!(
        (
            outside[&ReferralStatus::Made],
            outside[&ReferralStatus::Accepted]
        ),
        (1, 1)
    );
    assert_eq!(ind.median_days_referral_to_accepted, Some(4.0));
    assert_eq!(ind.median_days_referral_to_completed, Some(15.0));
    // Answered: 3 legal accepted/completed, 1 declined, 1 outside accepted.
    assert_eq!(ind.referrals_declined_share, Some(0.2));
    assert_eq!(ind.duplicate_service_cases, 1);
    assert!(duplicate_service(&cases[3]));
    assert!(!duplicate_service(&cases[0]));
}
