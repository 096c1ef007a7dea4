//! The case document's typed API: the whole process, its rules, conflicts, history.

use casesync_core::case::*;
use chrono::NaiveDate;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn chw(now_ms: i64) -> EditCtx {
    EditCtx::new("chw-rahima", Role::Chw, now_ms)
}

fn coordinator(now_ms: i64) -> EditCtx {
    EditCtx::new("coord-zahra", Role::Coordinator, now_ms)
}

fn new_case(name: &str) -> CaseDoc {
    CaseDoc::create(
        &chw(1_000),
        device_actor("phone-a"),
        &NewCase {
            id: "case-001".into(),
            district: "sylhet".into(),
            village: "বালাগঞ্জ".into(),
            assigned_to: "chw-rahima".into(),
            sensitive: false,
            client_name: name.into(),
        },
    )
    .expect("create")
}

fn walk_to_monitoring(doc: &mut CaseDoc) -> String {
    let c = chw(2_000);
    doc.record_intake(
        &c,
        &IntakeInput {
            date: d("2025-01-05"),
            source: IntakeSource::AgencyReferral,
            referred_by: Some("BRAC".into()),
            presenting_problem: "شوهرش او را کتک می‌زند".into(),
        },
    )
    .expect("intake");
    doc.record_consent(
        &c,
        true,
        d("2025-01-05"),
        "data sharing with referral agencies",
    )
    .expect("consent");
    doc.advance(&c, Stage::Assessment).expect("to assessment");
    doc.update_assessment(
        &c,
        &AssessmentUpdate {
            date: Some(d("2025-01-12")),
            physical_health: Some("ความดันสูง".into()),
            safety_risk: Some(SafetyRisk::High),
            strengths: Some("Chị gái hỗ trợ rất nhiều".into()),
            ..Default::default()
        },
    )
    .expect("assessment");
    doc.set_extra(&c, "muac_mm", &ExtraValue::Int(231))
        .expect("extra");
    doc.advance(&c, Stage::Planning).expect("to planning");
    let goal = doc
        .add_goal(
            &c,
            &GoalInput {
                text: "নিরাপদ আশ্রয়".into(),
                priority: 1,
                method: Some("safety plan".into()),
                target_date: Some(d("2025-03-01")),
                evaluate_by: Some(d("2025-02-15")),
            },
        )
        .expect("goal");
    doc.advance(&c, Stage::Implementation)
        .expect("to implementation");
    doc.add_referral(
        &c,
        &ReferralInput {
            service: ReferralService::Legal,
            agency: "Legal Aid Sylhet".into(),
            date: d("2025-01-20"),
            follow_up_date: Some(d("2025-02-01")),
            agency_id: None,
            reason: None,
            share_sensitive: false,
        },
    )
    .expect("referral");
    doc.advance(&c, Stage::Monitoring).expect("to monitoring");
    goal
}

#[test]
fn whole_lifecycle_in_four_scripts() {
    let mut doc = new_case("রহিমা খাতুন");
    let goal = walk_to_monitoring(&mut doc);
    let c = chw(3_000);
    let visit = doc
        .add_visit(
            &c,
            &VisitInput {
                date: d("2025-02-02"),
                kind: VisitKind::Home,
                notes: "ไม่มีไข้ รับประทานอาหารได้ปกติ".into(),
                progress: Some("Tiến triển tốt".into()),
                obstacles: None,
                actions: Some("follow up".into()),
                next_visit_date: Some(d("2025-02-16")),
            },
        )
        .expect("visit");
    doc.update_goal(
        &c,
        &goal,
        &GoalUpdate {
            status: Some(GoalStatus::Achieved),
            ..Default::default()
        },
    )
    .expect("goal achieved");
    let refused_heads = doc.heads();
    let err = doc
        .close(
            &c,
            &ClosureInput {
                date: d("2025-03-01"),
                reason: ClosureReason::GoalsAchieved,
                client_agreed: false,
                summary: String::new(),
            },
        )
        .expect_err("closure without agreement");
    assert!(matches!(err, CaseError::BadTransition { .. }), "{err}");
    assert_eq!(
        doc.heads(),
        refused_heads,
        "refused closure changes nothing"
    );
    doc.close(
        &c,
        &ClosureInput {
            date: d("2025-03-01"),
            reason: ClosureReason::GoalsAchieved,
            client_agreed: true,
            summary: "লক্ষ্য অর্জিত".into(),
        },
    )
    .expect("close");
    doc.evaluate(
        &c,
        &Evaluation {
            goals_achieved: 1,
            satisfaction: 5,
        },
    )
    .expect("evaluate");
    assert!(
        matches!(doc.reopen(&c), Err(CaseError::Forbidden { .. })),
        "only a coordinator reopens"
    );

    let case = doc.read().expect("read");
    assert_eq!(case.client.name, "রহিমা খাতুন");
    assert_eq!(case.stage, Stage::Closed);
    assert_eq!(
        case.intake.as_ref().map(|i| i.presenting_problem.as_str()),
        Some("شوهرش او را کتک می‌زند")
    );
    assert_eq!(
        case.assessment.as_ref().and_then(|a| a.safety_risk),
        Some(SafetyRisk::High)
    );
    assert_eq!(
        case.assessment.as_ref().map(|a| a.extra["muac_mm"].clone()),
        Some(ExtraValue::Int(231))
    );
    assert_eq!(
        case.visits[&visit].progress.as_deref(),
        Some("Tiến triển tốt")
    );
    assert_eq!(case.plan.goals[&goal].status, GoalStatus::Achieved);
    assert_eq!(
        case.evaluation,
        Some(Evaluation {
            goals_achieved: 1,
            satisfaction: 5
        })
    );
    assert!(!case.activity_after_closure);
    assert!(
        case.follow_up_dates().is_empty(),
        "closed cases have nothing due"
    );

    doc.reopen(&coordinator(4_000))
        .expect("coordinator reopens");
    assert_eq!(doc.read().expect("read").stage, Stage::Monitoring);
}

#[test]
fn stage_rules_are_enforced() {
    let mut doc = new_case("زهرا احمدی");
    let c = chw(2_000);
    assert!(
        matches!(
            doc.advance(&c, Stage::Assessment),
            Err(CaseError::BadTransition { .. })
        ),
        "consent first"
    );
    assert!(matches!(
        doc.advance(&c, Stage::Closed),
        Err(CaseError::BadTransition { .. })
    ));
    walk_to_monitoring(&mut doc);
    assert!(
        matches!(
            doc.advance(&c, Stage::Planning),
            Err(CaseError::BadTransition { .. })
        ),
        "chw cannot go back"
    );
    doc.advance(&coordinator(5_000), Stage::Planning)
        .expect("coordinator can");
    assert!(matches!(
        doc.reassign(&c, "chw-other"),
        Err(CaseError::Forbidden { .. })
    ));
    assert!(matches!(
        doc.set_sensitive(&c, true),
        Err(CaseError::Forbidden { .. })
    ));
    let admin = EditCtx::new("admin", Role::Admin, 6_000);
    assert!(matches!(
        doc.add_household_member(&admin, "x", "y"),
        Err(CaseError::Forbidden { .. })
    ));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut doc = new_case("Nguyễn Thị Hoa");
    let c = chw(2_000);
    let before = doc.heads();
    assert!(matches!(
        doc.add_household_member(&c, "  ", "x"),
        Err(CaseError::Invalid { .. })
    ));
    assert!(matches!(
        doc.update_client(
            &c,
            &ClientUpdate {
                phone: Some("x".repeat(MAX_SHORT_TEXT + 1)),
                ..Default::default()
            }
        ),
        Err(CaseError::TooLarge { .. })
    ));
    assert!(matches!(
        doc.update_client(
            &c,
            &ClientUpdate {
                name: Some("a\u{0}b".into()),
                ..Default::default()
            }
        ),
        Err(CaseError::Invalid { .. })
    ));
    assert!(matches!(
        doc.update_visit(&c, "nope", &VisitUpdate::default()),
        Err(CaseError::NotFound { .. })
    ));
    assert!(matches!(
        doc.set_extra(&c, "w", &ExtraValue::Float(f64::NAN)),
        Err(CaseError::Invalid { .. })
    ));
    assert!(matches!(
        doc.add_goal(
            &c,
            &GoalInput {
                text: "g".into(),
                priority: 0,
                method: None,
                target_date: None,
                evaluate_by: None
            }
        ),
        Err(CaseError::Invalid { .. })
    ));
    assert_eq!(doc.heads(), before);
    assert!(matches!(
        CaseDoc::load(b"not automerge"),
        Err(CaseError::Corrupt(_))
    ));
    assert!(matches!(
        CaseDoc::create(
            &c,
            device_actor("p"),
            &NewCase {
                id: "../etc".into(),
                district: "d".into(),
                village: String::new(),
                assigned_to: "chw-rahima".into(),
                sensitive: false,
                client_name: "x".into()
            }
        ),
        Err(CaseError::Invalid { field: "id", .. })
    ));
    assert!(matches!(
        CaseDoc::create(
            &c,
            device_actor("p"),
            &NewCase {
                id: "c2".into(),
                district: "d".into(),
                village: String::new(),
                assigned_to: "someone-else".into(),
                sensitive: false,
                client_name: "x".into()
            }
        ),
        Err(CaseError::Forbidden { .. })
    ));
}

#[test]
fn concurrent_scalar_edits_are_listed_and_resolved() {
    let mut a = new_case("สมชาย จันทร์เพ็ญ");
    walk_to_monitoring(&mut a);
    let mut b = CaseDoc::load(&a.save()).expect("load");
    b.set_actor(device_actor("phone-b"));
    a.update_assessment(
        &chw(10_000),
        &AssessmentUpdate {
            safety_risk: Some(SafetyRisk::Low),
            ..Default::default()
        },
    )
    .expect("a");
    b.update_assessment(
        &coordinator(11_000),
        &AssessmentUpdate {
            safety_risk: Some(SafetyRisk::Medium),
            ..Default::default()
        },
    )
    .expect("b");
    a.merge(&mut b).expect("merge");
    b.merge(&mut a).expect("merge");
    assert_eq!(
        a.read().expect("a"),
        b.read().expect("b"),
        "one deterministic winner"
    );
    let conflicts = a.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].path, "assessment.safety_risk");
    let mut users: Vec<_> = conflicts[0]
        .values
        .iter()
        .map(|v| {
            (
                v.user.as_str(),
                v.value.as_str().unwrap_or_default(),
                v.time_ms,
            )
        })
        .collect();
    users.sort();
    assert_eq!(
        users,
        vec![
            ("chw-rahima", "low", 10_000),
            ("coord-zahra", "medium", 11_000)
        ]
    );
    assert!(
        matches!(
            a.resolve(
                &chw(12_000),
                "assessment.safety_risk",
                &serde_json::json!("high")
            ),
            Err(CaseError::NoConflict(_))
        ),
        "must pick a listed value"
    );
    a.resolve(
        &chw(12_000),
        "assessment.safety_risk",
        &serde_json::json!("low"),
    )
    .expect("resolve");
    assert!(a.conflicts().is_empty());
    b.merge(&mut a).expect("merge");
    assert!(
        b.conflicts().is_empty(),
        "the resolution supersedes both values everywhere"
    );
    assert_eq!(
        b.read().expect("b").assessment.and_then(|x| x.safety_risk),
        Some(SafetyRisk::Low)
    );
}

#[test]
fn concurrent_note_edits_merge_by_character() {
    let mut a = new_case("রহিমা খাতুন");
    walk_to_monitoring(&mut a);
    let v = a
        .add_visit(
            &chw(3_000),
            &VisitInput {
                date: d("2025-02-02"),
                kind: VisitKind::Home,
                notes: "মা ও শিশু সুস্থ".into(),
                progress: None,
                obstacles: None,
                actions: None,
                next_visit_date: None,
            },
        )
        .expect("visit");
    let mut b = CaseDoc::load(&a.save()).expect("load");
    b.set_actor(device_actor("phone-b"));
    a.update_visit(
        &chw(4_000),
        &v,
        &VisitUpdate {
            notes: Some("আজ: মা ও শিশু সুস্থ".into()),
            ..Default::default()
        },
    )
    .expect("a");
    b.update_visit(
        &coordinator(4_100),
        &v,
        &VisitUpdate {
            notes: Some("মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে".into()),
            ..Default::default()
        },
    )
    .expect("b");
    a.merge(&mut b).expect("merge");
    assert_eq!(
        a.read().expect("a").visits[&v].notes,
        "আজ: মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে"
    );
}

#[test]
fn visit_added_offline_while_closed_is_flagged() {
    let mut a = new_case("زهرا احمدی");
    walk_to_monitoring(&mut a);
    let mut phone = CaseDoc::load(&a.save()).expect("load");
    phone.set_actor(device_actor("phone-b"));
    a.close(
        &coordinator(5_000),
        &ClosureInput {
            date: d("2025-03-01"),
            reason: ClosureReason::Moved,
            client_agreed: false,
            summary: "نقل مکان".into(),
        },
    )
    .expect("close");
    phone
        .add_visit(
            &chw(5_100),
            &VisitInput {
                date: d("2025-03-02"),
                kind: VisitKind::Phone,
                notes: "تماس تلفنی".into(),
                progress: None,
                obstacles: None,
                actions: None,
                next_visit_date: None,
            },
        )
        .expect("offline visit");
    a.merge(&mut phone).expect("merge");
    let case = a.read().expect("read");
    assert_eq!(case.stage, Stage::Closed);
    assert_eq!(case.visits.len(), 1, "the visit is kept");
    assert!(case.activity_after_closure, "and flagged for review");
    assert!(matches!(
        a.add_visit(
            &chw(6_000),
            &VisitInput {
                date: d("2025-03-03"),
                kind: VisitKind::Home,
                notes: String::new(),
                progress: None,
                obstacles: None,
                actions: None,
                next_visit_date: None
            }
        ),
        Err(CaseError::Closed)
    ));
    a.acknowledge_activity_after_closure(&coordinator(7_000))
        .expect("reviewed");
    assert!(!a.read().expect("read").activity_after_closure);
}

#[test]
fn history_says_who_changed_what_and_when() {
    let mut doc = new_case("Nguyễn Thị Hoa");
    doc.update_client(
        &chw(2_000),
        &ClientUpdate {
            phone: Some("+84901234567".into()),
            ..Default::default()
        },
    )
    .expect("phone");
    doc.reassign(&coordinator(3_000), "chw-binh")
        .expect("reassign");
    let history = doc.history();
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].summary, "case created");
    assert_eq!(
        (history[1].user.as_str(), history[1].time_ms),
        ("chw-rahima", 2_000)
    );
    assert_eq!(history[1].fields, vec!["client.phone".to_string()]);
    assert_eq!(history[2].user, "coord-zahra");
    assert_eq!(history[2].fields, vec!["assigned_to".to_string()]);
    let then = doc.at(2_500).expect("at");
    assert_eq!(then.assigned_to, "chw-rahima");
    assert_eq!(then.client.phone.as_deref(), Some("+84901234567"));
    assert_eq!(doc.at(1_000).expect("at").client.phone, None);
    assert!(doc.at(10).is_err(), "before the case existed");
}

#[test]
fn newer_schema_is_refused() {
    use automerge::transaction::Transactable;
    let mut doc = new_case("x");
    doc.automerge()
        .put(automerge::ROOT, "schema", (SCHEMA_VERSION + 1) as i64)
        .expect("put");
    doc.automerge().commit();
    let bytes = doc.save();
    assert!(matches!(
        CaseDoc::load(&bytes),
        Err(CaseError::UnsupportedSchema { .. })
    ));
}
