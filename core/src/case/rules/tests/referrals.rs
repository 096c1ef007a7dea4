//! Referrals to registered agencies (issue #15): consent to share, the agency's answer
//! as the agency's alone, one step at a time, and nothing else changed by its staff.

use super::*;
use crate::case::{CaseError, ReferralAnswer, ReferralInput, ReferralUpdate};

fn agency() -> EditCtx {
    EditCtx::new("agency-nari", Role::Agency, 1_700_000_200_000)
}

fn to_agency(share_sensitive: bool) -> ReferralInput {
    ReferralInput {
        service: ReferralService::Legal,
        agency: "নারী আইন সহায়তা".into(),
        date: d("2025-02-02"),
        follow_up_date: Some(d("2025-02-16")),
        agency_id: Some("nari-legal".into()),
        reason: Some("পারিবারিক সহিংসতা — আইনি পরামর্শ".into()),
        share_sensitive,
    }
}

fn referred() -> (CaseDoc, String) {
    let mut doc = planning();
    let id = doc
        .add_referral(&chw(), &to_agency(false))
        .expect("referral");
    (doc, id)
}

#[test]
fn a_registered_agency_is_referred_to_only_with_consent_to_share() {
    let mut doc = new_case();
    let heads = doc.heads();
    let err = doc
        .add_referral(&chw(), &to_agency(false))
        .expect_err("refused");
    assert!(matches!(err, CaseError::ReferralNeedsConsent), "{err:?}");
    assert_eq!(doc.heads(), heads, "nothing written");
    // Refused consent is no consent.
    doc.record_consent(&chw(), false, d("2025-01-05"), "none")
        .expect("refusal recorded");
    let err = doc
        .add_referral(&chw(), &to_agency(false))
        .expect_err("refused");
    assert!(matches!(err, CaseError::ReferralNeedsConsent), "{err:?}");
    // A free-text agency outside the system needs none (as before).
    let mut free = to_agency(false);
    free.agency_id = None;
    doc.add_referral(&chw(), &free).expect("free-text referral");
    // A hand-made push that skips the check is refused by the rules.
    let mut fresh = new_case();
    let r = judge(&mut fresh, Role::Chw, |d| {
        raw(d, |am| {
            let refs = am.get(ROOT, "referrals").expect("g").expect("refs").1;
            let m = am
                .put_object(&refs, "r-forged", automerge::ObjType::Map)
                .expect("p");
            am.put(&m, "service", "legal").expect("p");
            am.put(&m, "agency", "x").expect("p");
            am.put(&m, "date", "2025-02-02").expect("p");
            am.put(&m, "agency_id", "nari-legal").expect("p");
        })
    });
    assert_eq!(r.expect_err("refused").kind, RuleKind::Lifecycle);
}

#[test]
fn a_confidential_case_needs_consent_on_the_referral_itself() {
    let mut doc = planning();
    doc.set_sensitive(&coord(), true).expect("sensitive");
    let heads = doc.heads();
    let err = doc
        .add_referral(&chw(), &to_agency(false))
        .expect_err("refused");
    assert!(
        matches!(err, CaseError::ReferralNeedsSensitiveConsent),
        "{err:?}"
    );
    assert_eq!(doc.heads(), heads);
    let id = doc
        .add_referral(&chw(), &to_agency(true))
        .expect("with consent");
    let r = &doc.read().expect("read").referrals[&id];
    assert!(r.share_sensitive);
    assert_eq!(r.agency_id.as_deref(), Some("nari-legal"));
}

#[test]
fn only_the_agency_answers_and_one_step_at_a_time() {
    let (mut doc, id) = referred();
    // The worker cannot mark it accepted through the API...
    let err = doc
        .update_referral(
            &chw(),
            &id,
            &ReferralUpdate {
                status: Some(ReferralStatus::Accepted),
                ..ReferralUpdate::default()
            },
        )
        .expect_err("refused");
    assert!(matches!(err, CaseError::Forbidden { .. }), "{err:?}");
    // ...nor by a hand-made change, nor can a coordinator.
    for by in [Role::Chw, Role::Coordinator] {
        let rid = id.clone();
        let r = judge(&mut doc.clone(), by, |d| {
            raw(d, |am| {
                let refs = am.get(ROOT, "referrals").expect("g").expect("refs").1;
                let m = am.get(&refs, rid.as_str()).expect("g").expect("m").1;
                am.put(&m, "status", "accepted").expect("p");
            })
        });
        assert_eq!(r.expect_err("refused").kind, RuleKind::Role, "{by:?}");
    }
    // Her follow-up date and notes of the outcome stay hers.
    let rid = id.clone();
    judge(&mut doc, Role::Chw, |x| {
        x.update_referral(
            &chw(),
            &rid,
            &ReferralUpdate {
                follow_up_date: Some(d("2025-03-01")),
                ..ReferralUpdate::default()
            },
        )
        .expect("follow-up");
    })
    .expect("a worker's follow-up date");
    // The agency: complete before accepting is refused by the API and by the rules.
    let done = ReferralAnswer::Complete {
        date: d("2025-02-20"),
        outcome: "Tư vấn pháp lý đã xong".into(),
    };
    assert!(doc.clone().answer_referral(&agency(), &id, &done).is_err());
    let rid = id.clone();
    let r = judge(&mut doc.clone(), Role::Agency, |d| {
        raw(d, |am| {
            let refs = am.get(ROOT, "referrals").expect("g").expect("refs").1;
            let m = am.get(&refs, rid.as_str()).expect("g").expect("m").1;
            am.put(&m, "status", "completed").expect("p");
        })
    });
    assert_eq!(r.expect_err("refused").kind, RuleKind::Lifecycle);
    // Accept, then complete: each passes the rules as the agency's.
    let rid = id.clone();
    judge(&mut doc, Role::Agency, |x| {
        x.answer_referral(
            &agency(),
            &rid,
            &ReferralAnswer::Accept {
                date: d("2025-02-05"),
            },
        )
        .expect("accept");
    })
    .expect("accepted");
    let rid = id.clone();
    judge(&mut doc, Role::Agency, |d| {
        d.answer_referral(&agency(), &rid, &done).expect("complete");
    })
    .expect("completed");
    let r = &doc.read().expect("read").referrals[&id];
    assert_eq!(r.status, ReferralStatus::Completed);
    assert_eq!(r.answered_by.as_deref(), Some("agency-nari"));
    assert_eq!(r.accepted_on, Some(d("2025-02-05")));
    assert_eq!(r.completed_on, Some(d("2025-02-20")));
    assert_eq!(r.outcome.as_deref(), Some("Tư vấn pháp lý đã xong"));
    // Final: no decline after completion.
    let err = doc
        .answer_referral(
            &agency(),
            &id,
            &ReferralAnswer::Decline {
                date: d("2025-02-21"),
                reason: "ไม่มีที่ว่าง".into(),
            },
        )
        .expect_err("refused");
    assert!(matches!(err, CaseError::Invalid { .. }), "{err:?}");
}

#[test]
fn agency_staff_change_nothing_but_their_answer() {
    let (mut doc, id) = referred();
    // Not the case's content through the API.
    let err = doc
        .add_visit(
            &agency(),
            &VisitInput {
                date: d("2025-02-03"),
                kind: VisitKind::Home,
                notes: "x".into(),
                progress: None,
                obstacles: None,
                actions: None,
                next_visit_date: None,
            },
        )
        .expect_err("refused");
    assert!(matches!(err, CaseError::Forbidden { .. }), "{err:?}");
    // Not by hand: a stage, another referral (free text), a new referral.
    let free = {
        let mut r = to_agency(false);
        r.agency_id = None;
        doc.add_referral(&chw(), &r).expect("free")
    };
    type Edit = Box<dyn FnOnce(&mut CaseDoc)>;
    let cases: Vec<Edit> = vec![
        Box::new(|d: &mut CaseDoc| raw(d, |am| am.put(ROOT, "stage", "closed").expect("p"))),
        Box::new(move |d: &mut CaseDoc| {
            raw(d, |am| {
                let refs = am.get(ROOT, "referrals").expect("g").expect("refs").1;
                let m = am.get(&refs, free.as_str()).expect("g").expect("m").1;
                am.put(&m, "status", "accepted").expect("p");
            })
        }),
        Box::new(|d: &mut CaseDoc| {
            d.add_referral(&chw(), &to_agency(false)).expect("new");
        }),
    ];
    for edit in cases {
        let r = judge(&mut doc.clone(), Role::Agency, edit);
        assert_eq!(r.expect_err("refused").kind, RuleKind::Role);
    }
    // The address is set once, whoever writes it.
    let rid = id.clone();
    let r = judge(&mut doc, Role::Chw, |d| {
        raw(d, |am| {
            let refs = am.get(ROOT, "referrals").expect("g").expect("refs").1;
            let m = am.get(&refs, rid.as_str()).expect("g").expect("m").1;
            am.put(&m, "agency_id", "another-agency").expect("p");
        })
    });
    assert_eq!(r.expect_err("refused").kind, RuleKind::Lifecycle);
}
