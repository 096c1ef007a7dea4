//! The caseload maps into casesync cases, imports, and takes the edits: on the generated
//! caseload always, and on the recorded one when it is reachable (otherwise those tests
//! say on stderr that they skipped; `CASESYNC_REQUIRE_RECORDED=1` makes them fail
//! instead, for the CI step that runs them on the recorded files).

use std::io::Write;

use casesync_core::case::{
    device_actor, CaseDoc, EditCtx, ExtraValue, GoalStatus, Role, SafetyRisk, Stage,
};

use super::*;

mod generator;

const NOW: i64 = 1_736_000_000_000;
/// Set to `1`: a recorded-caseload test fails when the recorded caseload is not there.
const REQUIRE_RECORDED_ENV: &str = "CASESYNC_REQUIRE_RECORDED";

fn coordinator() -> EditCtx {
    EditCtx::new("importer", Role::Coordinator, NOW)
}

fn generated() -> CaseloadSource {
    CaseloadSource::Generated { seed: DEFAULT_SEED }
}

/// The recorded caseload, or `None` after saying on stderr (past the test harness's
/// capture, so the skip shows in every run) that `test` skipped.
fn recorded_or_skip(test: &str) -> Option<CaseloadSource> {
    match CaseloadSource::recorded() {
        Ok(source) => Some(source),
        Err(why) => {
            assert!(
                std::env::var(REQUIRE_RECORDED_ENV).as_deref() != Ok("1"),
                "{test}: {REQUIRE_RECORDED_ENV}=1 but {why}"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no recorded caseload ({why}); the generated one was tested"
            );
            None
        }
    }
}

/// Imports the first 100 cases of `source`, checks each reads back as mapped, and
/// returns them.
fn import_checks(source: &CaseloadSource) -> Vec<BenchCase> {
    let bench = source.load(100).expect("caseload");
    assert_eq!(bench.len(), 100);
    let mut sizes = Vec::new();
    for b in &bench {
        let case = to_case(b, "district-1");
        let mut doc = CaseDoc::import(&coordinator(), device_actor("importer"), &case)
            .unwrap_or_else(|e| panic!("{}: {e}", b.case_id));
        let read = doc.read().expect("read");
        assert_eq!(
            read,
            Case {
                updated_at: NOW,
                ..case
            }
        );
        assert_eq!(read.id, b.case_id);
        assert_eq!(read.assigned_to, b.chw_id);
        assert_eq!(read.stage, Stage::Monitoring);
        assert_eq!(read.client.name, b.client.name);
        assert_eq!(read.client.age_estimate, b.client.age);
        assert_eq!(read.client.phone, b.client.phone);
        assert_eq!(read.village, b.client.village);
        assert!(read.client.language.is_some(), "{}: language", b.case_id);
        let extra = read.assessment.as_ref().map_or(0, |a| a.extra.len());
        let non_null = b.assessment.values().filter(|v| !v.is_null()).count();
        assert_eq!(extra, non_null, "{}: every non-null field kept", b.case_id);
        assert_eq!(read.plan.goals.len(), b.plan.goals.len());
        assert_eq!(read.visits.len(), b.visits.len());
        sizes.push(doc.save().len());
    }
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    println!(
        "{}: saved size of an imported bench case: median {median} B (min {}, max {})",
        source.describe(),
        sizes[0],
        sizes[sizes.len() - 1]
    );
    assert!(median > 500 && median < 4_000, "median {median} B");
    bench
}

#[test]
fn imported_generated_caseload_keeps_the_records() {
    let bench = import_checks(&generated());
    let languages: std::collections::BTreeSet<_> = bench
        .iter()
        .filter_map(|b| to_case(b, "d").client.language)
        .collect();
    assert_eq!(
        languages.into_iter().collect::<Vec<_>>(),
        ["bn", "fa", "th", "vi"]
    );
}

#[test]
fn imported_recorded_caseload_keeps_the_records() {
    let Some(source) = recorded_or_skip("imported_recorded_caseload_keeps_the_records") else {
        return;
    };
    let bench = import_checks(&source);

    // Record 1, field by field.
    let first = to_case(&bench[0], "district-1");
    assert_eq!(first.id, "case-000001");
    assert_eq!(first.client.name, "สมชาย จันทร์เพ็ญ");
    assert_eq!(first.client.age_estimate, Some(54));
    assert_eq!(first.client.phone.as_deref(), Some("+66895593489"));
    assert_eq!(first.client.language.as_deref(), Some("th"));
    assert_eq!(first.village, "บ้านโคกสูง");
    assert_eq!(first.assigned_to, "chw-011");
    let intake = first.intake.as_ref().expect("intake");
    assert_eq!(
        intake.date,
        NaiveDate::from_ymd_opt(2024, 3, 19).expect("date")
    );
    let a = first.assessment.as_ref().expect("assessment");
    assert_eq!(a.safety_risk, Some(SafetyRisk::Medium));
    assert_eq!(a.extra.get("muac_mm"), Some(&ExtraValue::Int(275)));
    assert_eq!(a.extra.get("weight_kg"), Some(&ExtraValue::Float(60.2)));
    assert_eq!(a.extra.get("pregnant"), Some(&ExtraValue::Bool(false)));
    assert_eq!(
        a.extra.get("gestational_age_weeks"),
        None,
        "null is left out"
    );
    assert_eq!(a.extra.len(), 14);
    let statuses: Vec<_> = first
        .plan
        .goals
        .values()
        .map(|g| (g.id.as_str(), g.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("g1", GoalStatus::Achieved),
            ("g2", GoalStatus::Active),
            ("g3", GoalStatus::Active)
        ]
    );
    assert_eq!(first.plan.goals["g1"].text, "เด็กได้รับวัคซีนครบ");
    let v5 = &first.visits["v5"];
    assert_eq!(
        (v5.by.as_str(), v5.notes.as_str()),
        ("chw-011", "ไม่มีไข้ รับประทานอาหารได้ปกติ")
    );
}

#[test]
fn generated_edits_apply_through_the_typed_api() {
    edit_checks(&generated());
}

#[test]
fn recorded_edits_apply_through_the_typed_api() {
    if let Some(source) = recorded_or_skip("recorded_edits_apply_through_the_typed_api") {
        edit_checks(&source);
    }
}

fn edit_checks(source: &CaseloadSource) {
    let edits = source.edits().expect("edits");
    assert_eq!((edits.b.len(), edits.b2.len()), (5, 5));
    let last = edits
        .b
        .iter()
        .chain(&edits.b2)
        .map(|e| e.index)
        .max()
        .expect("edits");
    let bench = source.load(last + 1).expect("caseload");
    let worker = EditCtx::new("chw-099", Role::Chw, NOW + 1);
    for edit in edits.b.iter().chain(&edits.b2) {
        let b = &bench[edit.index];
        assert_eq!(b.case_id, edit.case_id);
        let case = to_case(b, "district-1");
        let mut doc =
            CaseDoc::import(&coordinator(), device_actor("server"), &case).expect("import");
        doc.set_actor(device_actor("phone"));
        apply_edit(&mut doc, &worker, edit).unwrap_or_else(|e| panic!("{}: {e:#}", edit.case_id));
        let read = doc.read().expect("read");
        assert_eq!(read.visits.len(), case.visits.len() + 1);
        assert!(read
            .visits
            .values()
            .any(|v| v.notes == edit.visit.note && v.by == "chw-099"));
        match edit
            .path
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["assessment", key] => {
                let extra = &read.assessment.as_ref().expect("assessment").extra;
                assert_eq!(extra.get(*key), extra_value(&edit.value).as_ref());
                if *key == "risk_level" {
                    let risk = read.assessment.as_ref().and_then(|a| a.safety_risk);
                    assert_eq!(risk.map(|r| r.as_str()), edit.value.as_str());
                }
            }
            ["client", "phone"] => assert_eq!(read.client.phone.as_deref(), edit.value.as_str()),
            other => panic!("unexpected edit path {other:?}"),
        }
    }
}

#[test]
fn unknown_edit_paths_are_refused_without_panicking() {
    let source = generated();
    let bench = source.load(1).expect("caseload");
    let case = to_case(&bench[0], "d");
    let mut doc = CaseDoc::import(&coordinator(), device_actor("s"), &case).expect("import");
    let mut edit = source.edits().expect("edits").b[0].clone();
    edit.path = vec!["plan".into(), "goals".into()];
    assert!(apply_edit(&mut doc, &coordinator(), &edit).is_err());
    edit.path = vec!["assessment".into(), "muac_mm".into()];
    edit.value = serde_json::Value::Null;
    assert!(apply_edit(&mut doc, &coordinator(), &edit).is_err());
    edit.path = vec!["assessment".into(), "risk_level".into()];
    edit.value = serde_json::json!("extreme");
    assert!(apply_edit(&mut doc, &coordinator(), &edit).is_err());
}
