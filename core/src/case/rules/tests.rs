use super::*;
use crate::case::{
    device_actor, AssessmentUpdate, ClosureInput, EditCtx, GoalInput, IntakeInput, IntakeSource,
    NewCase, VisitInput, VisitKind,
};
use automerge::transaction::Transactable;
use chrono::NaiveDate;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn chw() -> EditCtx {
    EditCtx::new("chw-rahima", Role::Chw, 1_700_000_000_000)
}

fn coord() -> EditCtx {
    EditCtx::new("coord-zahra", Role::Coordinator, 1_700_000_100_000)
}

fn new_case() -> CaseDoc {
    CaseDoc::create(
        &chw(),
        device_actor("phone-a"),
        &NewCase {
            id: "case-r1".into(),
            district: "sylhet".into(),
            village: "বালাগঞ্জ".into(),
            assigned_to: "chw-rahima".into(),
            sensitive: false,
            client_name: "ফাতেমা".into(),
        },
    )
    .expect("create")
}

fn visit(doc: &mut CaseDoc) -> String {
    doc.add_visit(
        &chw(),
        &VisitInput {
            date: d("2025-02-01"),
            kind: VisitKind::Home,
            notes: "Chị ấy ổn — ความดันปกติ — حالش خوب است".into(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        },
    )
    .expect("visit")
}

/// A visit recorded on a copy of `doc` made before `closed` was closed: activity after
/// closure, as an offline worker produces it (the API refuses a visit on a closed case).
fn late_visit(before_closure: &CaseDoc, closed: &mut CaseDoc) {
    let mut offline = before_closure.clone();
    offline.set_actor(device_actor("phone-late"));
    let heads = offline.heads();
    visit(&mut offline);
    closed
        .apply_changes(offline.changes_since(&heads))
        .expect("merge the late visit");
}

/// A case walked to planning with a goal and a visit.
fn planning() -> CaseDoc {
    let mut doc = new_case();
    let c = chw();
    doc.record_intake(
        &c,
        &IntakeInput {
            date: d("2025-01-05"),
            source: IntakeSource::SelfReferral,
            referred_by: None,
            presenting_problem: "শিশুর জ্বর".into(),
        },
    )
    .expect("intake");
    doc.record_consent(&c, true, d("2025-01-05"), "all")
        .expect("consent");
    doc.advance(&c, Stage::Assessment).expect("assessment");
    doc.update_assessment(
        &c,
        &AssessmentUpdate {
            date: Some(d("2025-01-12")),
            ..Default::default()
        },
    )
    .expect("assessed");
    doc.advance(&c, Stage::Planning).expect("planning");
    doc.add_goal(
        &c,
        &GoalInput {
            text: "টিকা".into(),
            priority: 1,
            method: None,
            target_date: None,
            evaluate_by: None,
        },
    )
    .expect("goal");
    visit(&mut doc);
    doc
}

/// Runs the rules on `edit` applied to a copy of `doc` by a user of role `by`: the
/// changes `edit` adds are what a push would carry.
fn judge(doc: &mut CaseDoc, by: Role, edit: impl FnOnce(&mut CaseDoc)) -> Result<(), RuleBroken> {
    let heads = doc.heads();
    let mut device = doc.clone();
    edit(&mut device);
    let changes = device.changes_since(&heads);
    assert!(!changes.is_empty(), "the edit made no change");
    let before = doc.facts();
    doc.apply_changes(changes.clone()).expect("apply");
    check_changes(&before, &heads, doc, &changes, by)
}

fn raw(doc: &mut CaseDoc, f: impl FnOnce(&mut automerge::AutoCommit)) {
    let am = doc.automerge();
    f(am);
    am.commit();
}

#[test]
fn every_honest_edit_passes() {
    let mut doc = new_case();
    let c = chw();
    judge(&mut doc, Role::Chw, |d| {
        d.record_intake(
            &c,
            &IntakeInput {
                date: NaiveDate::from_ymd_opt(2025, 1, 5).expect("date"),
                source: IntakeSource::SelfReferral,
                referred_by: None,
                presenting_problem: "ไข้".into(),
            },
        )
        .expect("intake");
        d.record_consent(
            &c,
            true,
            NaiveDate::from_ymd_opt(2025, 1, 5).expect("d"),
            "all",
        )
        .expect("consent");
        d.advance(&c, Stage::Assessment).expect("advance");
    })
    .expect("intake and advance");
    let mut doc = planning();
    judge(&mut doc, Role::Chw, |d| {
        d.advance(&chw(), Stage::Implementation).expect("advance")
    })
    .expect("to implementation");
    let open = doc.clone();
    judge(&mut doc, Role::Chw, |d| {
        d.close(
            &chw(),
            &ClosureInput {
                date: NaiveDate::from_ymd_opt(2025, 3, 1).expect("d"),
                reason: ClosureReason::GoalsAchieved,
                client_agreed: true,
                summary: "همه اهداف انجام شد".into(),
            },
        )
        .expect("close")
    })
    .expect("close with agreement");
    // A visit recorded after closure is flagged, not refused.
    judge(&mut doc, Role::Chw, |d| late_visit(&open, d)).expect("activity after closure");
    judge(&mut doc, Role::Coordinator, |d| {
        d.acknowledge_activity_after_closure(&coord()).expect("ack")
    })
    .expect("coordinator reviews");
    judge(&mut doc, Role::Coordinator, |d| {
        d.reopen(&coord()).expect("reopen")
    })
    .expect("coordinator reopens");
}

#[test]
fn hand_made_changes_that_break_a_rule_are_named() {
    let doc = planning();
    let visit_id = doc.facts().visits.keys().next().cloned().expect("visit");
    type Edit<'a> = Box<dyn Fn(&mut CaseDoc) + 'a>;
    let cases: Vec<(&str, Role, RuleKind, Edit<'_>)> = vec![
        (
            "delete a visit",
            Role::Chw,
            RuleKind::Lifecycle,
            Box::new(|d: &mut CaseDoc| {
                let v = visit_id.clone();
                raw(d, |am| {
                    let visits = am.get(ROOT, "visits").expect("g").expect("v").1;
                    am.delete(&visits, v.as_str()).expect("delete");
                })
            }),
        ),
        (
            "a coordinator deletes a visit",
            Role::Coordinator,
            RuleKind::Lifecycle,
            Box::new(|d: &mut CaseDoc| {
                let v = visit_id.clone();
                raw(d, |am| {
                    let visits = am.get(ROOT, "visits").expect("g").expect("v").1;
                    am.delete(&visits, v.as_str()).expect("delete");
                })
            }),
        ),
        (
            "rewrite created_by",
            Role::Chw,
            RuleKind::Lifecycle,
            Box::new(|d: &mut CaseDoc| {
                raw(d, |am| am.put(ROOT, "created_by", "coord-x").expect("p"))
            }),
        ),
        (
            "rewrite a visit's author",
            Role::Chw,
            RuleKind::Lifecycle,
            Box::new(|d: &mut CaseDoc| {
                let v = visit_id.clone();
                raw(d, |am| {
                    let visits = am.get(ROOT, "visits").expect("g").expect("v").1;
                    let m = am.get(&visits, v.as_str()).expect("g").expect("m").1;
                    am.put(&m, "by", "someone-else").expect("p");
                })
            }),
        ),
        (
            "close without a closure record",
            Role::Chw,
            RuleKind::Lifecycle,
            Box::new(|d: &mut CaseDoc| raw(d, |am| am.put(ROOT, "stage", "closed").expect("p"))),
        ),
        (
            "a worker moves the case back",
            Role::Chw,
            RuleKind::Role,
            Box::new(|d: &mut CaseDoc| raw(d, |am| am.put(ROOT, "stage", "intake").expect("p"))),
        ),
    ];
    for (what, by, kind, edit) in cases {
        let mut copy = doc.clone();
        let got = judge(&mut copy, by, |d| edit(d));
        assert_eq!(got.map_err(|e| e.kind), Err(kind), "{what}");
    }
    // Closed without the client's agreement by a worker; reopened by a worker;
    // activity after closure reviewed by a worker.
    let mut closed = doc.clone();
    closed
        .close(
            &coord(),
            &ClosureInput {
                date: d("2025-03-01"),
                reason: ClosureReason::Moved,
                client_agreed: false,
                summary: String::new(),
            },
        )
        .expect("coordinator closes");
    let got = judge(&mut doc.clone(), Role::Chw, |d| {
        let heads = d.heads();
        let mut c2 = closed.clone();
        d.apply_changes(c2.changes_since(&heads)).expect("apply");
    });
    assert_eq!(
        got.map_err(|e| e.kind),
        Err(RuleKind::Role),
        "close without agreement"
    );
    late_visit(&doc, &mut closed);
    assert!(closed.facts().activity_after_closure());
    let got = judge(&mut closed.clone(), Role::Chw, |d| {
        raw(d, |am| am.put(ROOT, "stage", "monitoring").expect("p"))
    });
    assert_eq!(
        got.map_err(|e| e.kind),
        Err(RuleKind::Role),
        "worker reopens"
    );
    let got = judge(&mut closed.clone(), Role::Chw, |d| {
        let mut c = d.clone();
        c.acknowledge_activity_after_closure(&coord()).expect("ack");
        let heads = d.heads();
        d.apply_changes(c.changes_since(&heads)).expect("apply");
    });
    assert_eq!(
        got.map_err(|e| e.kind),
        Err(RuleKind::Role),
        "worker reviews"
    );
}

/// A worker's offline advance, concurrent with a coordinator's closure that reached the
/// server first, is accepted: each change is a legal move on the state its author saw.
#[test]
fn honest_concurrent_stage_moves_are_accepted() {
    let mut server = planning();
    let mut phone = server.clone();
    phone.set_actor(device_actor("phone-a"));
    // The worker does more offline (so its operation counter is higher) and advances.
    for _ in 0..3 {
        visit(&mut phone);
    }
    phone
        .advance(&chw(), Stage::Implementation)
        .expect("advance");
    let mut dash = server.clone();
    dash.set_actor(device_actor("web:coord"));
    let heads = server.heads();
    dash.close(
        &coord(),
        &ClosureInput {
            date: d("2025-03-01"),
            reason: ClosureReason::LostToFollowUp,
            client_agreed: false,
            summary: String::new(),
        },
    )
    .expect("close");
    let before = server.facts();
    let closing = dash.changes_since(&heads);
    server.apply_changes(closing.clone()).expect("apply");
    check_changes(&before, &heads, &server, &closing, Role::Coordinator).expect("closure");
    let before = server.facts();
    let stored = server.heads();
    let pushed = phone.changes_since(&heads);
    server.apply_changes(pushed.clone()).expect("apply");
    assert!(server.facts().stage_contested);
    check_changes(&before, &stored, &server, &pushed, Role::Chw).expect("concurrent advance");
}

/// A coordinator who reopens a case and moves it on in one push makes two legal moves
/// (judged one by one on the state each lands on), not one jump from closed.
#[test]
fn a_push_of_several_moves_is_judged_move_by_move() {
    let mut doc = planning();
    doc.close(
        &coord(),
        &ClosureInput {
            date: d("2025-03-01"),
            reason: ClosureReason::Transferred,
            client_agreed: true,
            summary: String::new(),
        },
    )
    .expect("close");
    judge(&mut doc.clone(), Role::Coordinator, |d| {
        d.reopen(&coord()).expect("reopen");
        d.advance(&coord(), Stage::Implementation)
            .expect("back to implementation");
    })
    .expect("reopen, then move back");
    // The same steps by a worker: the reopen is refused.
    let got = judge(&mut doc, Role::Chw, |d| {
        d.reopen(&coord()).expect("reopen");
        d.advance(&coord(), Stage::Implementation).expect("move");
    });
    assert_eq!(got.map_err(|e| e.kind), Err(RuleKind::Role));
}

/// A case that reaches the server with its first changes is judged change by change
/// from its creation: a worker's closure without the client's agreement is refused
/// although there was no stored state before.
#[test]
fn a_new_case_is_judged_from_its_creation() {
    let mut doc = planning();
    let all = doc.changes_since(&[]);
    let mut empty = CaseDoc::from_changes(all.clone()).expect("rebuild");
    check_changes(&Facts::default(), &[], &empty, &all, Role::Chw).expect("honest history");
    let heads = empty.heads();
    raw(&mut empty, |am| {
        let cl = am.get(ROOT, "closure").expect("g").expect("closure").1;
        am.put(&cl, "date", "2025-03-01").expect("p");
        am.put(&cl, "reason", "deceased").expect("p");
        am.put(&cl, "client_agreed", false).expect("p");
        am.put(ROOT, "stage", "closed").expect("p");
    });
    let mut with_closure = all;
    with_closure.extend(empty.changes_since(&heads));
    let got = check_changes(&Facts::default(), &[], &empty, &with_closure, Role::Chw);
    assert_eq!(got.map_err(|e| e.kind), Err(RuleKind::Role));
    check_changes(
        &Facts::default(),
        &[],
        &empty,
        &with_closure,
        Role::Coordinator,
    )
    .expect("a coordinator may");
}

#[test]
fn only_operations_the_facts_cannot_see_skip_the_rules() {
    use super::may_change_facts;
    let p = |keys: &[&'static str]| keys.iter().map(|k| Some(*k)).collect::<Vec<_>>();
    // Read by the facts, or a section holding what they read: judged.
    for (path, key) in [
        (p(&[]), Some("stage")),
        (p(&[]), Some("created_by")),
        (p(&[]), Some("visits")),
        (p(&[]), Some("assessment")),
        (p(&[]), None),
        (p(&["visits"]), Some("v1")),
        (p(&["visits", "v1"]), Some("notes")),
        (p(&["referrals", "r1"]), Some("status")),
        (p(&["plan"]), Some("goals")),
        (p(&["plan", "goals", "g1"]), Some("status")),
        (p(&["intake"]), Some("consent")),
        (p(&["intake", "consent"]), Some("given")),
        (p(&["assessment"]), Some("date")),
        (p(&["assessment"]), None),
        (p(&["closure", "known"]), Some("v1")),
        (p(&["evaluation"]), Some("satisfaction")),
        (vec![None], Some("x")),
        (vec![Some("visits"), None], None),
    ] {
        assert!(may_change_facts(&path, key), "{path:?} {key:?}");
    }
    // Nothing the facts read: the rules cannot be broken, the server skips them.
    for (path, key) in [
        (p(&[]), Some("village")),
        (p(&[]), Some("client")),
        (p(&["client"]), Some("name")),
        (p(&["client", "household"]), None),
        (p(&["assessment"]), Some("load_round")),
        (p(&["assessment", "needs"]), None),
        (p(&["intake"]), Some("source")),
        (p(&["plan"]), Some("summary")),
    ] {
        assert!(!may_change_facts(&path, key), "{path:?} {key:?}");
    }
}

mod referrals;
