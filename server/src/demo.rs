//! The demo district: users and 200 realistic cases, seeded into an empty store.

use casesync_core::case::{
    device_actor, AssessmentUpdate, CaseDoc, CaseError, ClientUpdate, ClosureInput, ClosureReason,
    EditCtx, GoalInput, IntakeInput, IntakeSource, NewCase, ReferralAnswer, ReferralInput,
    ReferralService, Role, SafetyRisk, Sex, Stage, VisitInput, VisitKind,
};
use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::create_user;
use crate::error::AppError;
use crate::sync::SyncEngine;

/// The demo district's name.
pub const DEMO_DISTRICT: &str = "demo-district";
/// Demo accounts: (username, role, password). The passwords are fixed and printed.
pub const DEMO_USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "demo-admin-pass"),
    ("coord", Role::Coordinator, "demo-coord-pass"),
    ("chw1", Role::Chw, "demo-chw1-pass"),
    ("chw2", Role::Chw, "demo-chw2-pass"),
    ("chw3", Role::Chw, "demo-chw3-pass"),
    ("legal1", Role::Agency, "demo-legal1-pass"),
];
/// A demo agency: (id, its staff user, service, names by language).
pub type DemoAgency = (
    &'static str,
    Option<&'static str>,
    ReferralService,
    &'static [(&'static str, &'static str)],
);

/// The demo's registered agencies.
pub const DEMO_AGENCIES: &[DemoAgency] = &[
    (
        "nari-legal",
        Some("legal1"),
        ReferralService::Legal,
        &[
            ("en", "Women's Legal Aid"),
            ("bn", "নারী আইন সহায়তা কেন্দ্র"),
            ("fa", "مرکز کمک حقوقی زنان"),
        ],
    ),
    (
        "mana-psych",
        None,
        ReferralService::Psychosocial,
        &[
            ("en", "Mana Counselling"),
            ("th", "ศูนย์ให้คำปรึกษามานา"),
            ("vi", "Trung tâm tư vấn Mana"),
        ],
    ),
];
/// Number of demo cases.
pub const DEMO_CASES: usize = 200;
/// The demo case whose safety risk was set differently on two devices (a conflict to
/// review on the dashboard).
pub const CONFLICT_CASE: usize = 7;
/// The demo case that got a visit after it was closed (activity after closure).
pub const AFTER_CLOSURE_CASE: usize = 5;

const NAMES: &[(&str, &str, Sex)] = &[
    ("bn", "নাসরিন আক্তার", Sex::Female),
    ("bn", "মোহাম্মদ রফিকুল ইসলাম", Sex::Male),
    ("bn", "ফাতেমা বেগম", Sex::Female),
    ("bn", "আব্দুল করিম", Sex::Male),
    ("bn", "শাহানা পারভীন", Sex::Female),
    ("fa", "مریم احمدی", Sex::Female),
    ("fa", "علی رضایی", Sex::Male),
    ("fa", "زهرا حسینی", Sex::Female),
    ("fa", "محمد کریمی", Sex::Male),
    ("fa", "فاطمه موسوی", Sex::Female),
    ("th", "สมชาย ใจดี", Sex::Male),
    ("th", "สมหญิง รักไทย", Sex::Female),
    ("th", "บุญมี ศรีสุข", Sex::Male),
    ("th", "มาลี วงศ์ไทย", Sex::Female),
    ("th", "ประยุทธ แก้วมณี", Sex::Male),
    ("vi", "Nguyễn Thị Lan", Sex::Female),
    ("vi", "Trần Văn Nam", Sex::Male),
    ("vi", "Lê Thị Hoa", Sex::Female),
    ("vi", "Phạm Minh Tuấn", Sex::Male),
    ("vi", "Võ Thị Thu", Sex::Female),
];
const VILLAGES: &[&str] = &["গোয়াইনঘাট", "ده‌نو", "บ้านหนองบัว", "Xã Tân Phú", "Char Kukri"];
const PROBLEMS: &[&str] = &[
    "Không có giấy tờ tùy thân, không tiếp cận được trạm y tế",
    "বাড়িতে সহিংসতা, নিরাপদ আশ্রয় প্রয়োজন",
    "مشکل در ثبت‌نام فرزندان در مدرسه",
    "ขาดรายได้หลังจากสามีเสียชีวิต",
    "Chronic cough for three months, no clinic visit yet",
];
const NOTES: &[&str] = &[
    "ক্লায়েন্টের সাথে বাড়িতে দেখা হয়েছে; ওষুধ নিয়মিত খাচ্ছেন।",
    "مراجعه به درمانگاه انجام شد؛ نوبت بعدی دو هفته دیگر.",
    "ลูกค้าได้รับเอกสารครบแล้ว กำลังรอการอนุมัติ",
    "Đã gặp gia đình, cần hỗ trợ thêm về dinh dưỡng.",
];

/// Credentials and numbers of a seeded demo.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    /// (username, role, password).
    pub users: Vec<(String, Role, String)>,
    /// Cases created.
    pub cases: usize,
}

/// The reason text of a demo referral to a registered agency.
fn pick_reason(i: usize) -> &'static str {
    const REASONS: &[&str] = &[
        "পারিবারিক সহিংসতা — আইনি পরামর্শ ও সুরক্ষা আদেশ",
        "نیاز به مشاوره پس از خشونت خانگی",
        "ต้องการคำปรึกษาเรื่องสิทธิในที่ดิน",
        "Cần hỗ trợ tâm lý sau khi mất việc",
    ];
    REASONS[i % REASONS.len()]
}

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len())]
}

fn demo_case(
    rng: &mut StdRng,
    i: usize,
    today: NaiveDate,
    now_ms: i64,
) -> Result<CaseDoc, CaseError> {
    let worker = format!("chw{}", i % 3 + 1);
    let (lang, name, sex) = NAMES[i % NAMES.len()];
    let sensitive = matches!(i % 9, 0);
    let coord = EditCtx::new("coord", Role::Coordinator, now_ms);
    let chw = EditCtx::new(worker.clone(), Role::Chw, now_ms);
    let mut doc = CaseDoc::create(
        &coord,
        device_actor("server:demo"),
        &NewCase {
            id: format!("demo-{i:04}"),
            district: DEMO_DISTRICT.into(),
            village: pick(rng, VILLAGES).to_string(),
            assigned_to: worker,
            sensitive,
            client_name: name.into(),
        },
    )?;
    doc.update_client(
        &chw,
        &ClientUpdate {
            sex: Some(sex),
            age_estimate: Some(rng.gen_range(16..80)),
            language: Some(lang.into()),
            ..ClientUpdate::default()
        },
    )?;
    doc.add_household_member(
        &chw,
        pick(rng, NAMES).1,
        if matches!(i % 2, 0) {
            "spouse"
        } else {
            "child"
        },
    )?;
    let start = today - Duration::days(rng.gen_range(20..200));
    let source = *pick(
        rng,
        &[
            IntakeSource::SelfReferral,
            IntakeSource::Family,
            IntakeSource::FieldSurvey,
        ],
    );
    doc.record_intake(
        &chw,
        &IntakeInput {
            date: start,
            source,
            referred_by: None,
            presenting_problem: pick(rng, PROBLEMS).to_string(),
        },
    )?;
    // How far along the process this case is.
    let depth = i % 6;
    if depth == 0 {
        return Ok(doc);
    }
    doc.record_consent(&chw, true, start, "data sharing with referral agencies")?;
    doc.advance(&chw, Stage::Assessment)?;
    doc.update_assessment(
        &chw,
        &AssessmentUpdate {
            date: Some(start + Duration::days(3)),
            physical_health: Some("stable".into()),
            safety_risk: Some(if sensitive {
                SafetyRisk::High
            } else {
                SafetyRisk::Low
            }),
            strengths: Some("Supportive neighbours; keen to work".into()),
            ..AssessmentUpdate::default()
        },
    )?;
    if depth == 1 {
        if i == CONFLICT_CASE {
            // The worker's phone (offline) and the coordinator's laptop rate the safety
            // risk differently; merging keeps both values for review.
            let mut phone = doc.clone();
            phone.set_actor(device_actor(&format!("demo-phone-{}", chw.user_id)));
            phone.update_assessment(
                &chw,
                &AssessmentUpdate {
                    safety_risk: Some(SafetyRisk::Medium),
                    ..AssessmentUpdate::default()
                },
            )?;
            doc.update_assessment(
                &coord,
                &AssessmentUpdate {
                    safety_risk: Some(SafetyRisk::High),
                    ..AssessmentUpdate::default()
                },
            )?;
            doc.merge(&mut phone)?;
        }
        return Ok(doc);
    }
    doc.advance(&chw, Stage::Planning)?;
    doc.add_goal(
        &chw,
        &GoalInput {
            text: "Regular clinic follow-up".into(),
            priority: 1,
            method: Some("Accompany to the health post".into()),
            target_date: Some(start + Duration::days(90)),
            evaluate_by: Some(start + Duration::days(60)),
        },
    )?;
    doc.advance(&chw, Stage::Implementation)?;
    let service = *pick(
        rng,
        &[
            ReferralService::Health,
            ReferralService::Psychosocial,
            ReferralService::Legal,
        ],
    );
    // Legal and psychosocial referrals go to the demo's registered agencies (a
    // confidential case's only with the client's consent on it, every other one); the
    // health office is outside the system.
    let registered = DEMO_AGENCIES
        .iter()
        .find(|(_, _, s, _)| *s == service)
        .filter(|_| !sensitive || i % 4 == 1);
    let referral = doc.add_referral(
        &chw,
        &ReferralInput {
            service,
            agency: registered
                .map_or("District health office", |(_, _, _, names)| names[0].1)
                .into(),
            date: start + Duration::days(7),
            follow_up_date: Some(start + Duration::days(21)),
            agency_id: registered.map(|(id, ..)| (*id).to_owned()),
            reason: registered.map(|_| pick_reason(i).to_owned()),
            share_sensitive: sensitive && registered.is_some(),
        },
    )?;
    // The legal aid centre's staff answered some of theirs: accepted, some completed.
    if let Some((_, Some(staff), ..)) = registered {
        if !i.is_multiple_of(3) {
            let agency = EditCtx::new(*staff, Role::Agency, now_ms);
            doc.set_actor(device_actor(&format!("server:{staff}")));
            doc.answer_referral(
                &agency,
                &referral,
                &ReferralAnswer::Accept {
                    date: start + Duration::days(9),
                },
            )?;
            if i % 3 == 1 && depth > 2 {
                doc.answer_referral(
                    &agency,
                    &referral,
                    &ReferralAnswer::Complete {
                        date: start + Duration::days(30),
                        outcome: "Legal advice given; protection order filed".into(),
                    },
                )?;
            }
            doc.set_actor(device_actor("server:demo"));
        }
    }
    if depth == 2 {
        return Ok(doc);
    }
    doc.advance(&chw, Stage::Monitoring)?;
    // Some visits are overdue: their next visit date is in the past.
    let overdue = matches!(i % 4, 0);
    for v in 0..rng.gen_range(1..4) {
        let date = start + Duration::days(10 + 7 * v);
        let next = if overdue {
            today - Duration::days(rng.gen_range(1..20))
        } else {
            today + Duration::days(rng.gen_range(1..30))
        };
        doc.add_visit(
            &chw,
            &VisitInput {
                date: date.min(today),
                kind: *pick(
                    rng,
                    &[VisitKind::Home, VisitKind::Phone, VisitKind::Facility],
                ),
                notes: pick(rng, NOTES).to_string(),
                progress: Some("some progress".into()),
                obstacles: None,
                actions: Some("follow up at the clinic".into()),
                next_visit_date: Some(next),
            },
        )?;
    }
    if depth == 5 {
        // A phone that has not heard of the closure yet records one more visit.
        let mut phone = (i == AFTER_CLOSURE_CASE).then(|| doc.clone());
        doc.close(
            &chw,
            &ClosureInput {
                date: today - Duration::days(2),
                reason: ClosureReason::GoalsAchieved,
                client_agreed: true,
                summary: "Goals reached; client referred for ongoing care.".into(),
            },
        )?;
        if let Some(phone) = phone.as_mut() {
            phone.set_actor(device_actor(&format!("demo-phone-{}", chw.user_id)));
            phone.add_visit(
                &chw,
                &VisitInput {
                    date: today - Duration::days(1),
                    kind: VisitKind::Home,
                    notes: NOTES[1].to_string(),
                    progress: None,
                    obstacles: None,
                    actions: None,
                    next_visit_date: None,
                },
            )?;
            doc.merge(phone)?;
        }
    }
    Ok(doc)
}

/// Seeds the demo district if the store has no users yet. Returns `None` if it had some.
/// The caller holds the writer lock.
pub fn seed(engine: &SyncEngine) -> Result<Option<DemoInfo>, AppError> {
    let store = engine.store();
    if !store.users()?.is_empty() {
        return Ok(None);
    }
    let districts = vec![DEMO_DISTRICT.to_string()];
    for (id, _, service, names) in DEMO_AGENCIES {
        crate::agencies::put_agency(
            store.as_ref(),
            &casesync_core::protocol::Agency {
                id: (*id).into(),
                names: names
                    .iter()
                    .map(|(l, n)| ((*l).to_owned(), (*n).to_owned()))
                    .collect(),
                services: vec![*service],
                districts: districts.clone(),
                disabled: false,
            },
        )?;
    }
    for (name, role, pw) in DEMO_USERS {
        let ds = if matches!(role, Role::Admin | Role::Agency) {
            Vec::new()
        } else {
            districts.clone()
        };
        let mut user = create_user(
            store.as_ref(),
            name,
            *role,
            &ds,
            *role == Role::Coordinator,
            pw,
        )?;
        if *role == Role::Agency {
            user.agency = DEMO_AGENCIES
                .iter()
                .find(|(_, staff, ..)| *staff == Some(*name))
                .map(|(id, ..)| (*id).to_owned());
            store.put_user(&user)?;
        }
    }
    let mut rng = StdRng::seed_from_u64(7);
    let now_ms = crate::now_ms();
    let today =
        chrono::DateTime::from_timestamp_millis(now_ms).map_or(NaiveDate::MIN, |d| d.date_naive());
    for i in 0..DEMO_CASES {
        let mut doc = demo_case(&mut rng, i, today, now_ms)
            .map_err(|e| AppError::Internal(format!("demo case {i}: {e}")))?;
        let audit = crate::store::ChangeAudit {
            user_id: "demo".into(),
            device_id: "server:demo".into(),
            received_ms: now_ms,
        };
        engine.store_new(&mut doc, Some(audit))?;
    }
    store.flush()?;
    Ok(Some(DemoInfo {
        users: DEMO_USERS
            .iter()
            .map(|(n, r, p)| (n.to_string(), *r, p.to_string()))
            .collect(),
        cases: DEMO_CASES,
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Settings;
    use crate::store::{SledStorage, Storage};

    #[test]
    fn demo_seeds_once_with_valid_cases() {
        let store = Arc::new(SledStorage::temporary().expect("store"));
        let engine = SyncEngine::new(store.clone(), Settings::default());
        let info = seed(&engine).expect("seed").expect("seeded");
        assert_eq!(info.cases, 200);
        assert!(
            seed(&engine).expect("seed").is_none(),
            "seeds only an empty store"
        );
        let coord = store.user("coord").expect("u").expect("coord");
        let page = engine
            .pull(&coord, None, usize::MAX, &crate::sync::Echo::default())
            .expect("pull");
        assert_eq!(page.docs.len(), 200);
        let chw1 = store.user("chw1").expect("u").expect("chw1");
        let page = engine
            .pull(&chw1, None, usize::MAX, &crate::sync::Echo::default())
            .expect("pull");
        assert!(page.docs.len() > 50 && page.docs.len() < 80);
    }
}
