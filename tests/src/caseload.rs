//! The benchmark caseload: community-health-worker cases and two sets of offline edits,
//! mapped into casesync cases so sync and storage figures compare with other engines on
//! the same work.
//!
//! Two sources, one shape ([`CaseloadSource`]): the recorded caseload (10,000 cases,
//! `shared/bench` beside the repository where this project is developed, or
//! `$CASESYNC_BENCH_DIR`; see its README) and a seeded generator in this crate
//! ([`generate`]), so no test needs a file from outside the repository.
//!
//! Imported with [`CaseDoc::import`], the first 100 records save to a median of about
//! 1.6 KB each, recorded (1,644 B) or generated with seed 1 (1,651 B) (printed by the
//! `imported_*_caseload_keeps_the_records` tests; `core-bench` reports it over the whole
//! caseload).

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use casesync_core::case::{
    Assessment, Case, CaseDoc, Client, ClientUpdate, EditCtx, ExtraValue, Goal, GoalStatus, Intake,
    IntakeSource, Plan, SafetyRisk, Sex, Stage, Visit, VisitInput, VisitKind, SCHEMA_VERSION,
};
use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};

pub mod generate;
mod source;

pub use source::{
    CaseloadArgs, CaseloadSource, BENCH_DIR_ENV, CASELOAD_FILE, DEFAULT_SEED, EDITS_FILE,
};

/// One recorded case, as in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchCase {
    /// Case id (`case-000001`).
    pub case_id: String,
    /// Region code (`bd`, `th`; the generator also `ir`, `vn`).
    #[serde(default)]
    pub region: String,
    /// The worker the case belongs to.
    pub chw_id: String,
    /// The client.
    pub client: BenchClient,
    /// Assessment fields (programme-defined; values are JSON scalars or null).
    #[serde(default)]
    pub assessment: BTreeMap<String, serde_json::Value>,
    /// The service plan.
    #[serde(default)]
    pub plan: BenchPlan,
    /// Visits, oldest first.
    #[serde(default)]
    pub visits: Vec<BenchVisit>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Time of the latest change (RFC 3339).
    #[serde(default)]
    pub updated_at: String,
}

/// The client of a recorded case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchClient {
    /// Name in the local script (Bengali, Thai; the generator also Farsi, Vietnamese).
    pub name: String,
    /// Latin transliteration of the name.
    #[serde(default)]
    pub name_latin: String,
    /// Age in years.
    pub age: Option<u32>,
    /// `female` / `male`.
    pub sex: Option<String>,
    /// Village (local script).
    #[serde(default)]
    pub village: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Household id.
    pub household_id: Option<String>,
}

/// The plan of a recorded case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BenchPlan {
    /// Goals, in order.
    #[serde(default)]
    pub goals: Vec<BenchGoal>,
}

/// A goal of a recorded case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchGoal {
    /// The goal (local script).
    pub goal: String,
    /// Target date (`YYYY-MM-DD`).
    pub target_date: Option<String>,
    /// `open`, `in_progress` or `done`.
    pub status: String,
}

/// A visit of a recorded case (also the visit an edit adds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchVisit {
    /// Date (`YYYY-MM-DD`).
    pub date: String,
    /// The worker who visited.
    pub chw_id: String,
    /// Purpose (`follow_up`, `anc`, `pnc`, ...).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The note (local script or English).
    #[serde(default)]
    pub note: String,
}

/// One offline edit of `edits.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    /// `B` or `B2`.
    pub set: String,
    /// Line of the edited case in the caseload (0-based).
    pub index: usize,
    /// The edited case.
    pub case_id: String,
    /// Path of the changed field in the record (`["assessment", "muac_mm"]`).
    pub path: Vec<String>,
    /// Its new value.
    pub value: serde_json::Value,
    /// A visit recorded with the edit.
    pub visit: BenchVisit,
}

/// The two sets of offline edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edits {
    /// Set `B`: made on the device while offline.
    #[serde(rename = "B")]
    pub b: Vec<Edit>,
    /// Set `B2`: the second round.
    #[serde(rename = "B2")]
    pub b2: Vec<Edit>,
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

fn millis(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A JSON scalar as a programme-defined assessment value (`None` for null; arrays and
/// objects are kept as their JSON text).
pub fn extra_value(v: &serde_json::Value) -> Option<ExtraValue> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => ExtraValue::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => ExtraValue::Int(i),
            None => ExtraValue::Float(n.as_f64()?),
        },
        J::String(s) => ExtraValue::Text(s.clone()),
        other => ExtraValue::Text(other.to_string()),
    })
}

fn safety_risk(v: &serde_json::Value) -> Option<SafetyRisk> {
    v.as_str().and_then(SafetyRisk::parse)
}

fn language(region: &str) -> Option<String> {
    match region {
        "th" => Some("th".into()),
        "bd" => Some("bn".into()),
        "ir" => Some("fa".into()),
        "vn" => Some("vi".into()),
        _ => None,
    }
}

/// Maps a recorded case into a casesync case in `district`, per the bench README:
///
/// - `case_id` → id; `chw_id` → assigned worker and creator; stage monitoring;
/// - `client` → client (name, `age` → age estimate, sex, phone; region → language
///   `th` / `bn` / `fa` / `vi`); `client.village` → the case's village;
/// - `created_at` → creation time and the intake date (source: field survey, no
///   consent recorded: the records carry none);
/// - every non-null assessment field → `assessment.extra` under its own name, and
///   `risk_level` also → `safety_risk`;
/// - goals → plan goals `g1`..`g3` (priority = position, `done` → achieved,
///   `in_progress` and `open` → active);
/// - visits → visits `v1`.. (kind home, `note` → notes, `chw_id` → by).
///
/// Not kept (no field of the case model holds them): `name_latin`, `household_id`,
/// the visit's purpose (`type`), `region` beyond the language. Dates that do not parse
/// are left out (a visit without a date is dropped).
pub fn to_case(b: &BenchCase, district: &str) -> Case {
    let created_at = millis(&b.created_at).unwrap_or_default();
    let extra: BTreeMap<String, ExtraValue> = b
        .assessment
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), extra_value(v)?)))
        .collect();
    let assessment = Assessment {
        safety_risk: b.assessment.get("risk_level").and_then(safety_risk),
        extra,
        ..Default::default()
    };
    let goals = b
        .plan
        .goals
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let id = format!("g{}", i + 1);
            let status = match g.status.as_str() {
                "done" => GoalStatus::Achieved,
                "dropped" => GoalStatus::Dropped,
                _ => GoalStatus::Active,
            };
            let goal = Goal {
                id: id.clone(),
                text: g.goal.clone(),
                priority: u32::try_from(i + 1).unwrap_or(u32::MAX),
                method: None,
                target_date: g.target_date.as_deref().and_then(date),
                evaluate_by: None,
                status,
            };
            (id, goal)
        })
        .collect();
    let visits = b
        .visits
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let id = format!("v{}", i + 1);
            let visit = Visit {
                id: id.clone(),
                date: date(&v.date)?,
                by: v.chw_id.clone(),
                kind: VisitKind::Home,
                notes: v.note.clone(),
                progress: None,
                obstacles: None,
                actions: None,
                next_visit_date: None,
            };
            Some((id, visit))
        })
        .collect();
    Case {
        schema: SCHEMA_VERSION as u32,
        id: b.case_id.clone(),
        created_at,
        created_by: b.chw_id.clone(),
        district: district.to_owned(),
        village: b.client.village.clone(),
        assigned_to: b.chw_id.clone(),
        sensitive: false,
        stage: Stage::Monitoring,
        client: Client {
            name: b.client.name.clone(),
            sex: b.client.sex.as_deref().and_then(Sex::parse),
            birth_date: None,
            age_estimate: b.client.age,
            phone: b.client.phone.clone(),
            language: language(&b.region),
            household: BTreeMap::new(),
        },
        intake: date(&b.created_at).map(|d| Intake {
            date: d,
            source: IntakeSource::FieldSurvey,
            referred_by: None,
            presenting_problem: String::new(),
            consent: None,
        }),
        assessment: (assessment != Assessment::default()).then_some(assessment),
        plan: Plan {
            goals,
            review_date: None,
        },
        referrals: BTreeMap::new(),
        visits,
        closure: None,
        evaluation: None,
        activity_after_closure: false,
        distinct_from: Vec::new(),
        updated_at: millis(&b.updated_at).unwrap_or(created_at),
    }
}

/// Applies an offline edit through the typed API: `assessment.<field>` → `set_extra`
/// (and `risk_level` also → the safety risk), `client.phone` / `client.age` /
/// `client.sex` / `client.name` → `update_client`, `client.village` → `set_village`;
/// then records the edit's visit (kind home, its note) with `add_visit`.
pub fn apply_edit(doc: &mut CaseDoc, ctx: &EditCtx, edit: &Edit) -> anyhow::Result<()> {
    let path: Vec<&str> = edit.path.iter().map(String::as_str).collect();
    let text = || {
        edit.value
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{}: expected text", edit.path.join(".")))
    };
    match path.as_slice() {
        ["assessment", key] => {
            let value = extra_value(&edit.value)
                .with_context(|| format!("assessment.{key}: null is not a value"))?;
            doc.set_extra(ctx, key, &value)?;
            if *key == "risk_level" {
                let risk = safety_risk(&edit.value)
                    .with_context(|| format!("risk_level {}: not low/medium/high", edit.value))?;
                let u = casesync_core::case::AssessmentUpdate {
                    safety_risk: Some(risk),
                    ..Default::default()
                };
                doc.update_assessment(ctx, &u)?;
            }
        }
        ["client", "village"] => doc.set_village(ctx, &text()?)?,
        ["client", field] => {
            let mut u = ClientUpdate::default();
            match *field {
                "phone" => u.phone = Some(text()?),
                "name" => u.name = Some(text()?),
                "sex" => u.sex = Some(Sex::parse(&text()?).context("client.sex: unknown value")?),
                "age" => {
                    let age = edit.value.as_u64().and_then(|a| u32::try_from(a).ok());
                    u.age_estimate = Some(age.context("client.age: not an age")?);
                }
                other => bail!("client.{other}: no casesync field for it"),
            }
            doc.update_client(ctx, &u)?;
        }
        _ => bail!("{}: no casesync field for it", edit.path.join(".")),
    }
    let visit = VisitInput {
        date: date(&edit.visit.date).with_context(|| format!("visit date {}", edit.visit.date))?,
        kind: VisitKind::Home,
        notes: edit.visit.note.clone(),
        progress: None,
        obstacles: None,
        actions: None,
        next_visit_date: None,
    };
    doc.add_visit(ctx, &visit)?;
    Ok(())
}

#[cfg(test)]
mod tests;
