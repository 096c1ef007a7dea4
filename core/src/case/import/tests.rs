//! Import round trips and refusals.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::case::*;

const NOW: i64 = 1_740_000_000_000;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn ctx(user: &str, role: Role) -> EditCtx {
    EditCtx::new(user, role, NOW)
}

fn coordinator() -> EditCtx {
    ctx("coord-1", Role::Coordinator)
}

fn goal(id: &str, text: &str, status: GoalStatus) -> (String, Goal) {
    let g = Goal {
        id: id.into(),
        text: text.into(),
        priority: 2,
        method: Some("পরামর্শ / مشاوره".into()),
        target_date: Some(d("2024-09-30")),
        evaluate_by: Some(d("2024-08-31")),
        status,
    };
    (id.into(), g)
}

fn visit(id: &str, date: &str, notes: &str) -> (String, Visit) {
    let v = Visit {
        id: id.into(),
        date: d(date),
        by: "chw-7".into(),
        kind: VisitKind::Phone,
        notes: notes.into(),
        progress: Some("tiến triển tốt".into()),
        obstacles: Some("ไม่มีรถ".into()),
        actions: Some("ارجاع به درمانگاه".into()),
        next_visit_date: Some(d("2024-07-01")),
    };
    (id.into(), v)
}

fn referral(id: &str, status: ReferralStatus) -> (String, Referral) {
    let r = Referral {
        id: id.into(),
        service: ReferralService::Legal,
        agency: "মহিলা আইনজীবী সমিতি".into(),
        date: d("2024-05-02"),
        status,
        outcome: Some("Đã nhận hỗ trợ pháp lý".into()),
        follow_up_date: Some(d("2024-06-02")),
        agency_id: None,
        reason: Some("পারিবারিক সহিংসতা — আইনি সহায়তা".into()),
        share_sensitive: false,
        answered_by: None,
        accepted_on: None,
        completed_on: None,
        declined_on: None,
        decline_reason: None,
        made_by: Some("chw-7".into()),
    };
    (id.into(), r)
}

/// Every field of the model set, with Bengali, Farsi (right to left), Thai and
/// Vietnamese text, closed and evaluated.
fn full_case() -> Case {
    let household = BTreeMap::from([
        (
            "hh-1".to_string(),
            HouseholdMember {
                name: "করিম মিয়া".into(),
                relation: "স্বামী".into(),
            },
        ),
        (
            "hh-2".to_string(),
            HouseholdMember {
                name: "زهرا".into(),
                relation: "دختر".into(),
            },
        ),
    ]);
    let extra = BTreeMap::from([
        ("bednet_use".to_string(), ExtraValue::Bool(true)),
        ("muac_mm".to_string(), ExtraValue::Int(231)),
        ("weight_kg".to_string(), ExtraValue::Float(52.5)),
        (
            "water_source".to_string(),
            ExtraValue::Text("บ่อน้ำตื้น".into()),
        ),
    ]);
    Case {
        schema: 1,
        id: "imp-001".into(),
        created_at: 1_714_000_000_000,
        created_by: "legacy-system".into(),
        district: "কুড়িগ্রাম".into(),
        village: "Làng Hòa Bình".into(),
        assigned_to: "chw-7".into(),
        sensitive: true,
        stage: Stage::Closed,
        client: Client {
            name: "ফাতেমা বেগম".into(),
            sex: Some(Sex::Female),
            birth_date: Some(d("1990-02-14")),
            age_estimate: Some(34),
            phone: Some("+8801700000001".into()),
            language: Some("bn".into()),
            household,
        },
        intake: Some(Intake {
            date: d("2024-04-25"),
            source: IntakeSource::AgencyReferral,
            referred_by: Some("سازمان حمایت از زنان".into()),
            presenting_problem: "পারিবারিক সহিংসতা\nخشونت خانگی — ความรุนแรงในครอบครัว".into(),
            consent: Some(Consent {
                given: true,
                date: d("2024-04-25"),
                scope: "chia sẻ dữ liệu với cơ quan chuyển tuyến".into(),
                recorded_by: "chw-7".into(),
            }),
        }),
        assessment: Some(Assessment {
            date: Some(d("2024-04-30")),
            physical_health: Some("ভালো".into()),
            mental_health: Some("اضطراب".into()),
            social: Some("โดดเดี่ยว".into()),
            behavioural: Some("bình thường".into()),
            family: Some("tense".into()),
            housing: Some("rented room".into()),
            income: Some("none".into()),
            education: Some("primary".into()),
            safety_risk: Some(SafetyRisk::High),
            strengths: "সাহসী, مادر دلسوز, ขยัน, kiên nhẫn".into(),
            problem_origin: Some("marriage".into()),
            causes: Some("debt\tand alcohol".into()),
            extra,
        }),
        plan: Plan {
            goals: BTreeMap::from([
                goal("g1", "নিরাপদ আশ্রয় খুঁজে পাওয়া", GoalStatus::Achieved),
                goal("g2", "یافتن کار", GoalStatus::Dropped),
                goal("g3", "ลูกได้ไปโรงเรียน", GoalStatus::Achieved),
            ]),
            review_date: Some(d("2024-08-01")),
        },
        referrals: BTreeMap::from([
            referral("r1", ReferralStatus::Completed),
            referral("r2", ReferralStatus::Declined),
        ]),
        visits: BTreeMap::from([
            visit("v1", "2024-05-10", "দেখা করলাম। ভালো আছেন।"),
            visit(
                "v2",
                "2024-06-10",
                "Chị ấy đã chuyển đến nhà an toàn. حالش بهتر است.",
            ),
        ]),
        closure: Some(Closure {
            date: d("2024-09-01"),
            reason: ClosureReason::GoalsAchieved,
            client_agreed: true,
            summary: "ปิดเคส: บรรลุเป้าหมาย / পরিকল্পনা সম্পন্ন".into(),
            duplicate_of: None,
        }),
        evaluation: Some(Evaluation {
            goals_achieved: 2,
            satisfaction: 5,
        }),
        activity_after_closure: false,
        distinct_from: Vec::new(),
        updated_at: NOW,
    }
}

fn open_case() -> Case {
    let mut c = full_case();
    c.id = "imp-002".into();
    c.stage = Stage::Monitoring;
    c.closure = None;
    c.evaluation = None;
    c
}

#[test]
fn import_round_trips_a_fully_populated_case_in_one_change() {
    for case in [full_case(), open_case()] {
        let mut doc = CaseDoc::import(&coordinator(), device_actor("d"), &case).expect("import");
        assert_eq!(doc.read().expect("read"), case);
        assert_eq!(doc.automerge().get_changes(&[]).len(), 1);
        let history = doc.history();
        assert_eq!(history.len(), 1);
        assert_eq!(
            (history[0].user.as_str(), history[0].summary.as_str()),
            ("coord-1", "case imported")
        );
        // The saved form reads back the same.
        let bytes = doc.save();
        let mut loaded = CaseDoc::load(&bytes).expect("load");
        assert_eq!(loaded.read().expect("read"), case);
    }
}

#[test]
fn texts_are_automerge_text_and_merge_by_character() {
    let case = open_case();
    let mut a = CaseDoc::import(&coordinator(), device_actor("a"), &case).expect("import");
    let mut b = a.clone();
    b.set_actor(device_actor("b"));
    let chw = ctx("chw-7", Role::Chw);
    let notes_a = format!("{} (a)", case.visits["v1"].notes);
    let notes_b = format!("[b] {}", case.visits["v1"].notes);
    let up = |n: &str| VisitUpdate {
        notes: Some(n.into()),
        ..Default::default()
    };
    a.update_visit(&chw, "v1", &up(&notes_a)).expect("edit a");
    b.update_visit(&chw, "v1", &up(&notes_b)).expect("edit b");
    a.merge(&mut b).expect("merge");
    let merged = a.read().expect("read").visits["v1"].notes.clone();
    assert_eq!(merged, format!("[b] {} (a)", case.visits["v1"].notes));
}

#[test]
fn creation_fields_default_to_the_importer() {
    let mut case = open_case();
    case.created_at = 0;
    case.created_by = String::new();
    let mut doc = CaseDoc::import(&coordinator(), device_actor("d"), &case).expect("import");
    let read = doc.read().expect("read");
    assert_eq!(
        (read.created_at, read.created_by.as_str()),
        (NOW, "coord-1")
    );
}

#[test]
fn activity_after_closure_is_kept_for_review() {
    let mut case = full_case();
    case.activity_after_closure = true;
    let mut doc = CaseDoc::import(&coordinator(), device_actor("d"), &case).expect("import");
    assert_eq!(doc.read().expect("read"), case);
    doc.acknowledge_activity_after_closure(&coordinator())
        .expect("review");
    assert!(!doc.read().expect("read").activity_after_closure);
}

#[test]
fn imported_cases_take_typed_edits() {
    let case = open_case();
    let chw = ctx("chw-7", Role::Chw);
    let mut doc = CaseDoc::import(&chw, device_actor("d"), &case).expect("chw imports own case");
    let v = VisitInput {
        date: d("2024-07-01"),
        kind: VisitKind::Home,
        notes: "ติดตาม".into(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: None,
    };
    let id = doc.add_visit(&chw, &v).expect("visit");
    doc.update_goal(
        &chw,
        "g1",
        &GoalUpdate {
            priority: Some(1),
            ..Default::default()
        },
    )
    .expect("goal keeps its imported id");
    let read = doc.read().expect("read");
    assert_eq!(read.visits.len(), 3);
    assert_eq!(read.visits[&id].notes, "ติดตาม");
    assert_eq!(read.plan.goals["g1"].priority, 1);
}

fn refused(case: &Case, c: &EditCtx) -> CaseError {
    match CaseDoc::import(c, device_actor("d"), case) {
        Ok(_) => panic!("import of {} should be refused", case.id),
        Err(e) => e,
    }
}

#[test]
fn import_refuses_what_the_typed_api_refuses() {
    let case = open_case();
    assert!(matches!(
        refused(&case, &ctx("admin", Role::Admin)),
        CaseError::Forbidden { .. }
    ));
    assert!(matches!(
        refused(&case, &ctx("chw-8", Role::Chw)),
        CaseError::Forbidden { .. }
    ));

    let co = coordinator();
    let bad = |f: &dyn Fn(&mut Case)| {
        let mut c = open_case();
        f(&mut c);
        refused(&c, &co)
    };
    assert!(matches!(
        bad(&|c| c.id = "a/b".into()),
        CaseError::Invalid { field: "id", .. }
    ));
    assert!(matches!(
        bad(&|c| c.district = " ".into()),
        CaseError::Invalid {
            field: "district",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.client.name = "ব".repeat(MAX_SHORT_TEXT + 1)),
        CaseError::TooLarge {
            field: "client name",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.client.name = "a\u{0}b".into()),
        CaseError::Invalid {
            field: "client name",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.client.age_estimate = Some(131)),
        CaseError::Invalid { .. }
    ));
    assert!(matches!(
        bad(&|c| {
            let g = c.plan.goals.remove("g1").expect("g1");
            c.plan.goals.insert("other".into(), g);
        }),
        CaseError::Invalid {
            field: "goal id",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.plan.goals.get_mut("g2").expect("g2").priority = 0),
        CaseError::Invalid {
            field: "priority",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| {
            c.assessment
                .as_mut()
                .expect("a")
                .extra
                .insert("x".into(), ExtraValue::Float(f64::NAN));
        }),
        CaseError::Invalid {
            field: "extra field value",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.intake.as_mut().expect("i").referred_by = None),
        CaseError::Invalid {
            field: "referred_by",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| {
            for i in 0..=MAX_ENTRIES {
                let (k, v) = visit(&format!("x{i}"), "2024-05-01", "");
                c.visits.insert(k, v);
            }
        }),
        CaseError::TooLarge {
            field: "visits",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.stage = Stage::Closed),
        CaseError::Invalid {
            field: "closure",
            ..
        }
    ));
    assert!(matches!(
        bad(&|c| c.schema = 99),
        CaseError::UnsupportedSchema { found: 99, .. }
    ));
    assert!(matches!(
        bad(&|c| c.evaluation = Some(Evaluation {
            goals_achieved: 1,
            satisfaction: 3
        })),
        CaseError::Invalid {
            field: "evaluation",
            ..
        }
    ));

    let closed = |f: &dyn Fn(&mut Case)| {
        let mut c = full_case();
        f(&mut c);
        refused(&c, &co)
    };
    assert!(matches!(
        closed(&|c| c.evaluation = Some(Evaluation {
            goals_achieved: 4,
            satisfaction: 3
        })),
        CaseError::Invalid {
            field: "goals_achieved",
            ..
        }
    ));
    assert!(matches!(
        closed(&|c| c.evaluation = Some(Evaluation {
            goals_achieved: 1,
            satisfaction: 0
        })),
        CaseError::Invalid {
            field: "satisfaction",
            ..
        }
    ));
    assert!(matches!(
        closed(&|c| c.closure.as_mut().expect("closure").client_agreed = false),
        CaseError::Invalid {
            field: "closure",
            ..
        }
    ));
    // Without the client's agreement (client moved), only a coordinator closes.
    let mut moved = full_case();
    let closure = moved.closure.as_mut().expect("closure");
    closure.reason = ClosureReason::Moved;
    closure.client_agreed = false;
    CaseDoc::import(&co, device_actor("d"), &moved).expect("coordinator");
    assert!(matches!(
        refused(&moved, &ctx("chw-7", Role::Chw)),
        CaseError::Invalid {
            field: "closure",
            ..
        }
    ));
}
