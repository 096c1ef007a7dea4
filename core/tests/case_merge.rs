//! Merge semantics (DESIGN.md §3), proven with proptest: random concurrent operation
//! sequences on 2–5 replicas, merged in random orders, converge to identical documents
//! and lose no visit, goal, referral or note edit.

use std::collections::BTreeSet;

use casesync_core::case::*;
use chrono::NaiveDate;
use proptest::prelude::*;

const NAMES: &[&str] = &["রহিমা খাতুন", "زهرا احمدی", "สมชาย จันทร์เพ็ญ", "Nguyễn Thị Hoa"];
const NOTES: &[&str] = &[
    "মা ও শিশু সুস্থ আছে",
    "پیگیری تلفنی انجام شد",
    "ไม่มีไข้ รับประทานอาหารได้ปกติ",
    "Đã tư vấn dinh dưỡng cho mẹ",
];

#[derive(Debug, Clone)]
enum Op {
    AddVisit(usize),
    AppendNote(usize),
    AddGoal(usize),
    SetGoalStatus(usize, usize),
    AddReferral(usize),
    UpdateReferral(usize, usize),
    SetRisk(usize),
    SetPhone(usize),
    SetExtra(usize, i64),
    AddHousehold(usize),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize).prop_map(Op::AddVisit),
        4 => (0..8usize).prop_map(Op::AppendNote),
        2 => (0..4usize).prop_map(Op::AddGoal),
        2 => (0..8usize, 0..3usize).prop_map(|(g, s)| Op::SetGoalStatus(g, s)),
        2 => (0..4usize).prop_map(Op::AddReferral),
        2 => (0..8usize, 0..4usize).prop_map(|(r, s)| Op::UpdateReferral(r, s)),
        2 => (0..3usize).prop_map(Op::SetRisk),
        2 => (0..4usize).prop_map(Op::SetPhone),
        2 => (0..4usize, -50..50i64).prop_map(|(k, v)| Op::SetExtra(k, v)),
        1 => (0..4usize).prop_map(Op::AddHousehold),
        1 => Just(Op::Close),
    ]
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1 + d % 28).expect("valid date")
}

/// What a replica recorded that must survive every merge.
#[derive(Default)]
struct Expect {
    visits: BTreeSet<String>,
    goals: BTreeSet<String>,
    referrals: BTreeSet<String>,
    household: BTreeSet<String>,
    note_tokens: Vec<(String, String)>,
}

fn apply(doc: &mut CaseDoc, ctx: &EditCtx, op: &Op, replica: usize, step: usize, exp: &mut Expect) {
    let before = doc.heads();
    let case = doc.read().expect("readable");
    let nth = |ids: Vec<&String>, i: usize| ids.get(i % ids.len().max(1)).map(|s| s.to_string());
    let result: Result<(), CaseError> = match op {
        Op::AddVisit(i) => doc
            .add_visit(
                ctx,
                &VisitInput {
                    date: date(step as u32),
                    kind: VisitKind::Home,
                    notes: NOTES[*i].to_owned(),
                    progress: None,
                    obstacles: None,
                    actions: Some("follow up".into()),
                    next_visit_date: Some(date(step as u32 + 7)),
                },
            )
            .map(|id| {
                exp.visits.insert(id);
            }),
        Op::AppendNote(i) => match nth(case.visits.keys().collect(), *i) {
            Some(id) => {
                let token = format!("[r{replica}s{step}]");
                let notes = format!("{} {token}", case.visits[&id].notes);
                doc.update_visit(
                    ctx,
                    &id,
                    &VisitUpdate {
                        notes: Some(notes),
                        ..Default::default()
                    },
                )
                .map(|()| exp.note_tokens.push((id, token)))
            }
            None => Ok(()),
        },
        Op::AddGoal(i) => doc
            .add_goal(
                ctx,
                &GoalInput {
                    text: NOTES[*i].to_owned(),
                    priority: 1 + *i as u32,
                    method: None,
                    target_date: Some(date(20)),
                    evaluate_by: Some(date(10)),
                },
            )
            .map(|id| {
                exp.goals.insert(id);
            }),
        Op::SetGoalStatus(g, s) => match nth(case.plan.goals.keys().collect(), *g) {
            Some(id) => doc.update_goal(
                ctx,
                &id,
                &GoalUpdate {
                    status: Some(GoalStatus::ALL[*s]),
                    ..Default::default()
                },
            ),
            None => Ok(()),
        },
        Op::AddReferral(i) => doc
            .add_referral(
                ctx,
                &ReferralInput {
                    service: ReferralService::ALL[*i],
                    agency: "উপজেলা স্বাস্থ্য কমপ্লেক্স".into(),
                    date: date(3),
                    follow_up_date: Some(date(9)),
                    agency_id: None,
                    reason: None,
                    share_sensitive: false,
                },
            )
            .map(|id| {
                exp.referrals.insert(id);
            }),
        Op::UpdateReferral(r, s) => match nth(case.referrals.keys().collect(), *r) {
            Some(id) => doc.update_referral(
                ctx,
                &id,
                &ReferralUpdate {
                    status: Some(ReferralStatus::ALL[*s]),
                    ..Default::default()
                },
            ),
            None => Ok(()),
        },
        Op::SetRisk(i) => doc.update_assessment(
            ctx,
            &AssessmentUpdate {
                safety_risk: Some(SafetyRisk::ALL[*i]),
                ..Default::default()
            },
        ),
        Op::SetPhone(i) => doc.update_client(
            ctx,
            &ClientUpdate {
                phone: Some(format!("+88017000000{i}")),
                ..Default::default()
            },
        ),
        Op::SetExtra(k, v) => doc.set_extra(ctx, &format!("muac_{k}"), &ExtraValue::Int(*v)),
        Op::AddHousehold(i) => doc
            .add_household_member(ctx, NAMES[*i], "sibling")
            .map(|id| {
                exp.household.insert(id);
            }),
        Op::Close => doc.close(
            ctx,
            &ClosureInput {
                date: date(27),
                reason: ClosureReason::GoalsAchieved,
                client_agreed: true,
                summary: "ปิดเคส".into(),
            },
        ),
    };
    if result.is_err() {
        assert_eq!(
            doc.heads(),
            before,
            "a refused operation must not change the document"
        );
    }
}

fn base() -> CaseDoc {
    let ctx = EditCtx::new("chw-1", Role::Chw, 1_700_000_000_000);
    let mut doc = CaseDoc::create(
        &ctx,
        device_actor("origin"),
        &NewCase {
            id: "case-prop".into(),
            district: "d1".into(),
            village: "গ্রাম".into(),
            assigned_to: "chw-1".into(),
            sensitive: false,
            client_name: NAMES[0].into(),
        },
    )
    .expect("create");
    doc.add_visit(
        &ctx,
        &VisitInput {
            date: date(1),
            kind: VisitKind::Home,
            notes: "শুরু".into(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        },
    )
    .expect("visit");
    doc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
    ))]

    #[test]
    fn concurrent_edits_converge_without_loss(
        ops in prop::collection::vec(prop::collection::vec(op(), 0..8), 2..=5),
        orders in prop::collection::vec(any::<prop::sample::Index>(), 25),
    ) {
        let mut origin = base();
        let saved = origin.save();
        let mut expect = Expect::default();
        let mut replicas: Vec<CaseDoc> = Vec::new();
        // Replicas that closed the case, and visits, goals and referrals recorded by
        // replicas that did not (none of which a closing replica saw).
        let mut closers = 0usize;
        let mut unseen_by_closers = 0usize;
        for (r, seq) in ops.iter().enumerate() {
            let ctx = EditCtx::new(format!("user-{r}"), if r == 0 { Role::Coordinator } else { Role::Chw }, 1_700_000_000_000 + r as i64);
            let mut doc = CaseDoc::load(&saved).expect("load");
            doc.set_actor(device_actor(&format!("device-{r}")));
            let entries = |e: &Expect| e.visits.len() + e.goals.len() + e.referrals.len();
            let before = entries(&expect);
            for (s, o) in seq.iter().enumerate() {
                apply(&mut doc, &ctx, o, r, s, &mut expect);
            }
            if doc.read().expect("read").stage == Stage::Closed {
                closers += 1;
            } else {
                unseen_by_closers += entries(&expect) - before;
            }
            replicas.push(doc);
        }
        // Every replica merges all the others, each in its own random order.
        let n = replicas.len();
        let snapshot: Vec<CaseDoc> = replicas.clone();
        for (i, target) in replicas.iter_mut().enumerate() {
            let mut order: Vec<usize> = (0..n).filter(|j| *j != i).collect();
            for k in (1..order.len()).rev() {
                let j = orders[(i * 5 + k) % orders.len()].index(k + 1);
                order.swap(k, j);
            }
            for j in order {
                let mut other = snapshot[j].clone();
                target.merge(&mut other).expect("merge");
            }
        }
        let first = replicas[0].read().expect("read");
        let first_conflicts = replicas[0].conflicts();
        let first_heads = { let mut h = replicas[0].heads(); h.sort(); h };
        for r in replicas.iter_mut().skip(1) {
            let mut h = r.heads();
            h.sort();
            prop_assert_eq!(&h, &first_heads);
            prop_assert_eq!(&r.read().expect("read"), &first);
            prop_assert_eq!(&r.conflicts(), &first_conflicts);
        }
        for v in &expect.visits { prop_assert!(first.visits.contains_key(v), "visit {} lost", v); }
        for g in &expect.goals { prop_assert!(first.plan.goals.contains_key(g), "goal {} lost", g); }
        for r in &expect.referrals { prop_assert!(first.referrals.contains_key(r), "referral {} lost", r); }
        for h in &expect.household { prop_assert!(first.client.household.contains_key(h), "member {} lost", h); }
        for (visit, token) in &expect.note_tokens {
            prop_assert!(first.visits[visit].notes.contains(token.as_str()), "note edit {} lost", token);
        }
        // Work recorded concurrently with a closure is flagged for review, and a closure
        // nobody worked concurrently with is not. (A closing replica records nothing
        // after closing: a closed case refuses new entries.)
        prop_assert_eq!(first.stage == Stage::Closed, closers > 0);
        if closers > 0 && unseen_by_closers > 0 {
            prop_assert!(
                first.activity_after_closure,
                "{} entries recorded concurrently with the closure, not flagged",
                unseen_by_closers
            );
        }
        // Concurrent closures each write the set of entries they saw; an entry any of
        // them saw is known (the union), so only the others' entries raise the flag.
        prop_assert_eq!(
            first.activity_after_closure,
            closers > 0 && unseen_by_closers > 0,
            "flag with {} closers and {} entries they did not see",
            closers,
            unseen_by_closers
        );
        prop_assert!(
            !first_conflicts.iter().any(|c| c.values.iter().any(|v| v.value.is_null())),
            "a conflict nobody can choose: {:?}",
            first_conflicts
        );
    }
}

fn intake_ctx(user: &str, role: Role) -> EditCtx {
    EditCtx::new(user, role, 1_700_000_000_000)
}

fn with_intake() -> CaseDoc {
    let mut doc = base();
    doc.record_intake(
        &intake_ctx("chw-1", Role::Chw),
        &IntakeInput {
            date: date(0),
            source: IntakeSource::SelfReferral,
            referred_by: None,
            presenting_problem: "জ্বর".into(),
        },
    )
    .expect("intake");
    doc
}

/// What one replica records concurrently with the other: consent (maybe over one it
/// recorded before the fork), some visits, maybe a closure.
#[derive(Debug, Clone)]
struct Side {
    given: bool,
    day: u32,
    scope: usize,
    visits: usize,
    close: Option<(usize, u32)>,
}

fn side() -> impl Strategy<Value = Side> {
    (
        any::<bool>(),
        0..28u32,
        0..SCOPES.len(),
        0..3usize,
        prop::option::of((0..3usize, 0..28u32)),
    )
        .prop_map(|(given, day, scope, visits, close)| Side {
            given,
            day,
            scope,
            visits,
            close,
        })
}

const SCOPES: &[&str] = &[
    "services",
    "সেবা ও তথ্য বিনিময়",
    "خدمات و اشتراک اطلاعات",
    "บริการ",
    "dịch vụ và chia sẻ dữ liệu",
];
const REASONS: &[ClosureReason] = &[
    ClosureReason::GoalsAchieved,
    ClosureReason::Transferred,
    ClosureReason::Withdrew,
];

fn consent_json(s: &Side, user: &str) -> serde_json::Value {
    serde_json::json!({
        "given": s.given,
        "date": date(s.day).format("%Y-%m-%d").to_string(),
        "scope": SCOPES[s.scope],
        "recorded_by": user,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
    ))]

    /// Two replicas record consent (and close) concurrently: each consent is listed
    /// whole as a value of one conflict, either can be chosen, nothing is hidden, no
    /// visit is lost and the activity-after-closure flag is exact.
    #[test]
    fn concurrent_consent_and_closure_hide_nothing(
        a in side(),
        b in side(),
        earlier in any::<bool>(),
    ) {
        let mut start = with_intake();
        if earlier {
            // A consent recorded before the replicas parted: both then write over it.
            start
                .record_consent(&intake_ctx("chw-1", Role::Chw), false, date(0), "services")
                .expect("consent");
        }
        let saved = start.save();
        let mut docs = Vec::new();
        let mut visits = Vec::new();
        for (r, s) in [&a, &b].into_iter().enumerate() {
            let user = format!("chw-{r}");
            let ctx = intake_ctx(&user, Role::Chw);
            let mut doc = CaseDoc::load(&saved).expect("load");
            doc.set_actor(device_actor(&format!("device-{r}")));
            doc.record_consent(&ctx, s.given, date(s.day), SCOPES[s.scope]).expect("consent");
            let mut mine = Vec::new();
            for v in 0..s.visits {
                let input = VisitInput {
                    date: date(v as u32),
                    kind: VisitKind::Phone,
                    notes: NOTES[r].into(),
                    progress: None,
                    obstacles: None,
                    actions: None,
                    next_visit_date: None,
                };
                mine.push(doc.add_visit(&ctx, &input).expect("visit"));
            }
            if let Some((reason, day)) = s.close {
                let input = ClosureInput {
                    date: date(day),
                    reason: REASONS[reason],
                    client_agreed: true,
                    summary: String::new(),
                };
                doc.close(&ctx, &input).expect("close");
            }
            visits.push(mine);
            docs.push(doc);
        }
        let mut b_doc = docs.pop().expect("b");
        let mut a_doc = docs.pop().expect("a");
        a_doc.merge(&mut b_doc.clone()).expect("merge");
        b_doc.merge(&mut a_doc.clone()).expect("merge");
        let case = a_doc.read().expect("read");
        prop_assert_eq!(&case, &b_doc.read().expect("read"));
        let conflicts = a_doc.conflicts();
        prop_assert_eq!(&conflicts, &b_doc.conflicts());
        prop_assert!(
            !conflicts.iter().any(|c| c.values.iter().any(|v| v.value.is_null())),
            "a conflict nobody can choose: {:?}",
            conflicts
        );
        let values = |path: &str| -> Vec<serde_json::Value> {
            let mut v: Vec<serde_json::Value> = conflicts
                .iter()
                .find(|c| c.path == path)
                .map(|c| c.values.iter().map(|x| x.value.clone()).collect())
                .unwrap_or_default();
            v.sort_by_key(|x| x.to_string());
            v
        };
        let both = |x: serde_json::Value, y: serde_json::Value| {
            let mut v = vec![x, y];
            v.sort_by_key(|x| x.to_string());
            v
        };
        // Both consents, whole; the one shown is the first listed.
        let (ca, cb) = (consent_json(&a, "chw-0"), consent_json(&b, "chw-1"));
        prop_assert_eq!(values("intake.consent"), both(ca.clone(), cb.clone()));
        let shown = case.intake.as_ref().and_then(|i| i.consent.clone()).expect("consent");
        let listed = conflicts.iter().find(|c| c.path == "intake.consent").expect("listed");
        prop_assert_eq!(&listed.values[0].value, &serde_json::to_value(&shown).expect("json"));
        prop_assert!(
            !conflicts.iter().any(|c| c.path.starts_with("intake.consent.")),
            "consent fields mixed: {:?}",
            conflicts
        );
        // Nothing lost: every visit is there; the flag is raised exactly when one side
        // closed without seeing the other's visits.
        for id in visits.iter().flatten() {
            prop_assert!(case.visits.contains_key(id), "visit {} lost", id);
        }
        let closed = [a.close.is_some(), b.close.is_some()];
        prop_assert_eq!(case.stage == Stage::Closed, closed[0] || closed[1]);
        let unseen = (!closed[0] && !visits[0].is_empty()) || (!closed[1] && !visits[1].is_empty());
        prop_assert_eq!(case.activity_after_closure, (closed[0] || closed[1]) && unseen);
        if let (Some((ra, da)), Some((rb, db))) = (a.close, b.close) {
            let day = |d: u32| serde_json::Value::from(date(d).format("%Y-%m-%d").to_string());
            if ra != rb {
                prop_assert_eq!(
                    values("closure.reason"),
                    both(REASONS[ra].as_str().into(), REASONS[rb].as_str().into())
                );
            }
            if da != db {
                prop_assert_eq!(values("closure.date"), both(day(da), day(db)));
            }
        }
        // Every conflict resolves to the value that was not shown, on either replica.
        let coord = intake_ctx("coord", Role::Coordinator);
        for c in &conflicts {
            let chosen = c.values[1].value.clone();
            a_doc.resolve(&coord, &c.path, &chosen).expect("resolvable");
        }
        prop_assert!(a_doc.conflicts().is_empty(), "left: {:?}", a_doc.conflicts());
        let after = a_doc.read().expect("read");
        let consent = after.intake.and_then(|i| i.consent).expect("consent");
        prop_assert_eq!(
            serde_json::to_value(&consent).expect("json"),
            listed.values[1].value.clone()
        );
        b_doc.merge(&mut a_doc.clone()).expect("merge");
        prop_assert!(b_doc.conflicts().is_empty());
        prop_assert_eq!(b_doc.read().expect("read"), a_doc.read().expect("read"));
    }
}
