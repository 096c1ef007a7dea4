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
    let ctx = EditCtx {
        user_id: "chw-1".into(),
        role: Role::Chw,
        now_ms: 1_700_000_000_000,
    };
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
            let ctx = EditCtx { user_id: format!("user-{r}"), role: if r == 0 { Role::Coordinator } else { Role::Chw }, now_ms: 1_700_000_000_000 + r as i64 };
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
        if closers == 1 && unseen_by_closers == 0 {
            prop_assert!(!first.activity_after_closure, "flagged with no concurrent work");
        }
        if closers == 0 {
            prop_assert!(!first.activity_after_closure, "flagged on an open case");
        }
    }
}
