//! The lifecycle rules against hand-made changes.

use super::*;

/// Walks `id` (on `chw`'s phone) through intake, consent, assessment and a goal to
/// planning, with one visit.
fn walk_to_planning(chw: &Device, id: &str) {
    chw.edit(id, 2_000, |d, c| {
        d.record_intake(
            c,
            &IntakeInput {
                date: date("2025-01-05"),
                source: IntakeSource::SelfReferral,
                referred_by: None,
                presenting_problem: "ไข้สูง สามวัน".into(),
            },
        )?;
        d.record_consent(c, true, date("2025-01-05"), "সব তথ্য")?;
        d.advance(c, Stage::Assessment)?;
        d.update_assessment(
            c,
            &AssessmentUpdate {
                date: Some(date("2025-01-12")),
                ..Default::default()
            },
        )?;
        d.advance(c, Stage::Planning)?;
        d.add_goal(
            c,
            &GoalInput {
                text: "واکسن کودک".into(),
                priority: 1,
                method: None,
                target_date: None,
                evaluate_by: None,
            },
        )?;
        d.add_visit(c, &visit("Bé đã khỏe hơn")).map(|_| ())
    })
    .expect("walk to planning");
}

/// The object at `path` from the root of `d` (map keys).
fn obj_at(d: &mut CaseDoc, path: &[&str]) -> automerge::ObjId {
    use automerge::ReadDoc;
    let mut o = automerge::ROOT;
    for k in path {
        o = d.automerge().get(&o, *k).expect("get").expect("present").1;
    }
    o
}

/// Issue #14: with hand-made changes a CHW could close or reopen a case without the
/// stage rules, review activity after closure (a coordinator's act), delete visits or
/// rewrite who registered the case: the rules lived only in the app. The server now runs
/// the same rules (`casesync_core::case::rules`) on every push. On main each of these
/// pushes was accepted (seen failing: every `refused_with` below).
#[tokio::test]
async fn a_chw_cannot_break_the_lifecycle_with_hand_made_changes() {
    let mut w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    chw.create(
        &new_case("case-l", DHAKA, "chw-a", "ফাতেমা বেগম", false),
        1_000,
    )
    .expect("create");
    walk_to_planning(&chw, "case-l");
    let (p, _) = chw.sync().await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    let visit_id = chw
        .case("case-l")
        .expect("case")
        .visits
        .keys()
        .next()
        .cloned()
        .expect("visit");
    let goal_id = chw
        .case("case-l")
        .expect("case")
        .plan
        .goals
        .keys()
        .next()
        .cloned()
        .expect("goal");
    let c = ctx("chw-a", Role::Chw);
    use RefusalCode::{Invalid, RestrictedField};
    let v1 = visit_id.clone();
    let v2 = visit_id.clone();
    let v3 = visit_id.clone();
    let g = goal_id.clone();
    let tampers: Vec<(&str, RefusalCode, Tamper)> = vec![
        (
            "a visit deleted",
            Invalid,
            Box::new(move |d| {
                let visits = obj_at(d, &["visits"]);
                d.automerge().delete(&visits, v1.as_str())?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "a legit visit, then a visit deleted in the same push",
            Invalid,
            Box::new(move |d| {
                d.add_visit(&c, &visit("Chị Lan khỏe"))?;
                let visits = obj_at(d, &["visits"]);
                d.automerge().delete(&visits, v2.as_str())?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "a visit emptied of its date (no longer listed)",
            Invalid,
            Box::new(move |d| {
                let m = obj_at(d, &["visits", v3.as_str()]);
                d.automerge().delete(&m, "date")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "created_by rewritten",
            Invalid,
            Box::new(|d| put(d, "created_by", "coord-a".into())),
        ),
        (
            "created_at rewritten",
            Invalid,
            Box::new(|d| put(d, "created_at", 5_i64.into())),
        ),
        (
            "closed with no closure record",
            Invalid,
            Box::new(|d| put(d, "stage", "closed".into())),
        ),
        (
            "closed as moved without the client's agreement (a coordinator's act)",
            RestrictedField,
            Box::new(|d| {
                let cl = obj_at(d, &["closure"]);
                let am = d.automerge();
                am.put(&cl, "date", "2025-03-01")?;
                am.put(&cl, "reason", "moved")?;
                am.put(&cl, "client_agreed", false)?;
                am.put(automerge::ROOT, "stage", "closed")?;
                am.commit();
                Ok(())
            }),
        ),
        (
            "moved back to intake (a coordinator's act)",
            RestrictedField,
            Box::new(|d| put(d, "stage", "intake".into())),
        ),
        (
            "advanced past planning with its only goal dropped",
            Invalid,
            Box::new(move |d| {
                let m = obj_at(d, &["plan", "goals", g.as_str()]);
                d.automerge().put(&m, "status", "dropped")?;
                d.automerge()
                    .put(automerge::ROOT, "stage", "implementation")?;
                d.automerge().commit();
                Ok(())
            }),
        ),
    ];
    w.refuses_all(&chw, "case-l", tampers, "refused lifecycle tampering")
        .await;

    // The coordinator closes the case without the client's agreement; the phone, not
    // synced since, records a visit: activity after closure, flagged for review.
    coord.sync_via(&w.url()).await.expect("sync");
    coord
        .edit("case-l", 3_000, |d, c| {
            d.close(
                c,
                &ClosureInput {
                    date: date("2025-03-01"),
                    reason: ClosureReason::Moved,
                    client_agreed: false,
                    summary: "পরিবার ঢাকায় চলে গেছে".into(),
                },
            )
        })
        .expect("close");
    let (p, _) = coord.sync_via(&w.url()).await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    chw.edit("case-l", 4_000, |d, c| {
        d.add_visit(c, &visit("ครอบครัวย้ายไปแล้ว")).map(|_| ())
    })
    .expect("late visit");
    let (p, _) = chw.sync_via(&w.url()).await.expect("sync");
    assert!(
        p.refused.is_empty(),
        "honest late work is accepted: {:?}",
        p.refused
    );
    let case = chw.case("case-l").expect("case");
    assert_eq!(case.stage, Stage::Closed);
    assert!(case.activity_after_closure);

    let ids: Vec<String> = case
        .visits
        .keys()
        .chain(case.plan.goals.keys())
        .cloned()
        .collect();
    let tampers: Vec<(&str, RefusalCode, Tamper)> = vec![
        (
            "activity after closure marked reviewed (a coordinator's act)",
            RestrictedField,
            Box::new(move |d| {
                let k = obj_at(d, &["closure", "known"]);
                for id in &ids {
                    d.automerge().put(&k, id.as_str(), true)?;
                }
                d.automerge().commit();
                Ok(())
            }),
        ),
        (
            "reopened (a coordinator's act)",
            RestrictedField,
            Box::new(|d| put(d, "stage", "monitoring".into())),
        ),
    ];
    w.refuses_all(&chw, "case-l", tampers, "refused coordinator acts")
        .await;
    // The coordinator may do both.
    coord.sync_via(&w.url()).await.expect("sync");
    coord
        .edit("case-l", 5_000, |d, c| {
            d.acknowledge_activity_after_closure(c)?;
            d.reopen(c)
        })
        .expect("review and reopen");
    let (p, _) = coord.sync_via(&w.url()).await.expect("sync");
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}
