//! Bulk import: a whole [`Case`] from another system written as one change.
//!
//! Programmes that adopt casesync migrate their existing records. Building those cases
//! through the typed API would cost one change per edit (and fresh random ids);
//! [`CaseDoc::import`] writes the whole case in a single Automerge change, keeps the ids
//! of goals, visits, referrals and household members as given, and uses exactly the
//! document layout of [`CaseDoc::create`] and the edit methods, so an imported case is
//! indistinguishable from a typed one to every reader, merge and sync.
//!
//! Validation is the typed API's: the same size limits, required fields and role rules,
//! the closure rules (agreement, coordinators only without it) and the evaluation rules.
//! The stage prerequisites of [`CaseDoc::advance`] (consent before assessment, ...) are
//! *not* enforced: migrated records come from systems with other rules, and their stage
//! is taken as recorded.

use automerge::{transaction::Transactable, ActorId, AutoCommit, ObjId, ObjType, ROOT};

use super::doc::{
    check_opt, check_required, check_text, date_str, message, put_opt_date, put_opt_str, put_text,
    validate_case_id, CaseDoc, EditCtx,
};
use super::error::CaseError;
use super::ids::IdSource;
use super::input::{MAX_ENTRIES, MAX_LONG_TEXT, MAX_SHORT_TEXT};
use super::model::*;
use super::schema::{self, SCHEMA_VERSION};
use crate::protocol::MAX_OPS_PER_DOC;

/// Longest language tag, as in [`CaseDoc::update_client`].
const MAX_LANGUAGE: usize = 35;
/// Longest programme-defined field name, as in [`CaseDoc::set_extra`].
const MAX_EXTRA_KEY: usize = 64;

impl CaseDoc {
    /// Creates a case document holding all of `case`, written as one change by `actor`
    /// at `ctx.now_ms` (which becomes the case's `updated_at`).
    ///
    /// `created_at` and `created_by` are kept when given (the original record's
    /// creation), else taken from `ctx`. A closed case records all its visits, goals and
    /// referrals as known at closure unless `activity_after_closure` is set, in which
    /// case all of them are flagged for review. A CHW may import only cases assigned to
    /// themselves; admins import none.
    pub fn import(ctx: &EditCtx, actor: ActorId, case: &Case) -> Result<CaseDoc, CaseError> {
        validate(ctx, case)?;
        // Every text is an operation per character: a case of a thousand visits with
        // ten-thousand-character notes would be ten million operations. Counted on the
        // input, before any of it is written.
        if estimated_ops(case) > MAX_OPS_PER_DOC {
            return Err(CaseError::OverLimit {
                what: "operations in one document",
                limit: MAX_OPS_PER_DOC,
            });
        }
        let mut doc = AutoCommit::new().with_actor(actor);
        write(&mut doc, ctx, case)?;
        doc.commit_with(message(ctx, "case imported"));
        Ok(CaseDoc {
            doc,
            ids: IdSource::os(),
        })
    }
}

/// An upper bound of the operations importing `case` writes: a character of text, a
/// scalar and a container are one operation each (as [`write`] writes them).
pub(crate) fn estimated_ops(case: &Case) -> u64 {
    fn walk(v: &serde_json::Value) -> u64 {
        use serde_json::Value as J;
        match v {
            J::String(s) => s.chars().count() as u64 + 1,
            J::Array(a) => 1 + a.iter().map(walk).sum::<u64>(),
            J::Object(o) => 1 + o.values().map(|v| 1 + walk(v)).sum::<u64>(),
            _ => 1,
        }
    }
    serde_json::to_value(case).map_or(u64::MAX, |v| walk(&v))
}

fn validate(ctx: &EditCtx, case: &Case) -> Result<(), CaseError> {
    match ctx.role {
        Role::Admin | Role::Agency => {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "create cases",
            })
        }
        Role::Chw if case.assigned_to != ctx.user_id => {
            return Err(CaseError::Forbidden {
                role: ctx.role,
                action: "create a case assigned to someone else",
            })
        }
        _ => {}
    }
    if u64::from(case.schema) > SCHEMA_VERSION {
        return Err(CaseError::UnsupportedSchema {
            found: u64::from(case.schema),
            supported: SCHEMA_VERSION,
        });
    }
    validate_case_id(&case.id)?;
    check_count("distinct_from", case.distinct_from.len())?;
    for other in &case.distinct_from {
        validate_case_id(other)?;
        if other == &case.id {
            return Err(CaseError::Invalid {
                field: "distinct_from",
                reason: "a case is not another person than itself".into(),
            });
        }
    }
    if !case.distinct_from.is_empty() && ctx.role != Role::Coordinator {
        return Err(CaseError::Forbidden {
            role: ctx.role,
            action: "decide that two cases are different people",
        });
    }
    check_text("created_by", &case.created_by, MAX_SHORT_TEXT)?;
    check_required("district", &case.district, MAX_SHORT_TEXT)?;
    check_text("village", &case.village, MAX_SHORT_TEXT)?;
    check_required("assigned_to", &case.assigned_to, MAX_SHORT_TEXT)?;
    validate_client(&case.client)?;
    if let Some(i) = &case.intake {
        validate_intake(i)?;
    }
    if let Some(a) = &case.assessment {
        validate_assessment(a)?;
    }
    validate_plan(&case.plan)?;
    validate_referrals(case)?;
    validate_visits(case)?;
    validate_closure(ctx, case)
}

/// Ids of goals, visits, referrals and household members: 1..=64 of `[A-Za-z0-9_-]`.
fn check_entry_id(field: &'static str, key: &str, id: &str) -> Result<(), CaseError> {
    if validate_case_id(id).is_err() {
        return Err(CaseError::Invalid {
            field,
            reason: "ids are 1 to 64 letters, digits, '-' or '_'".into(),
        });
    }
    if key != id {
        return Err(CaseError::Invalid {
            field,
            reason: format!("entry keyed {key:?} has id {id:?}"),
        });
    }
    Ok(())
}

fn check_count(field: &'static str, n: usize) -> Result<(), CaseError> {
    if n > MAX_ENTRIES {
        return Err(CaseError::TooLarge {
            field,
            limit: MAX_ENTRIES,
        });
    }
    Ok(())
}

fn validate_client(c: &Client) -> Result<(), CaseError> {
    check_required("client name", &c.name, MAX_SHORT_TEXT)?;
    check_opt("phone", &c.phone, MAX_SHORT_TEXT)?;
    check_opt("language", &c.language, MAX_LANGUAGE)?;
    if c.age_estimate.is_some_and(|a| a > 130) {
        return Err(CaseError::Invalid {
            field: "age_estimate",
            reason: "over 130".into(),
        });
    }
    check_count("household", c.household.len())?;
    for (id, m) in &c.household {
        check_entry_id("household member id", id, id)?;
        check_required("household member name", &m.name, MAX_SHORT_TEXT)?;
        check_text("relation", &m.relation, MAX_SHORT_TEXT)?;
    }
    Ok(())
}

fn validate_intake(i: &Intake) -> Result<(), CaseError> {
    check_opt("referred_by", &i.referred_by, MAX_SHORT_TEXT)?;
    check_text("presenting_problem", &i.presenting_problem, MAX_LONG_TEXT)?;
    if i.source == IntakeSource::AgencyReferral
        && i.referred_by.as_deref().unwrap_or("").trim().is_empty()
    {
        return Err(CaseError::Invalid {
            field: "referred_by",
            reason: "an agency referral names the referring agency".into(),
        });
    }
    if let Some(c) = &i.consent {
        check_required("consent scope", &c.scope, MAX_SHORT_TEXT)?;
        check_text("consent recorded_by", &c.recorded_by, MAX_SHORT_TEXT)?;
    }
    Ok(())
}

fn assessment_texts(a: &Assessment) -> [(&'static str, &Option<String>); 10] {
    [
        ("physical_health", &a.physical_health),
        ("mental_health", &a.mental_health),
        ("social", &a.social),
        ("behavioural", &a.behavioural),
        ("family", &a.family),
        ("housing", &a.housing),
        ("income", &a.income),
        ("education", &a.education),
        ("problem_origin", &a.problem_origin),
        ("causes", &a.causes),
    ]
}

fn validate_assessment(a: &Assessment) -> Result<(), CaseError> {
    for (k, v) in assessment_texts(a) {
        check_opt(k, v, MAX_LONG_TEXT)?;
    }
    check_text("strengths", &a.strengths, MAX_LONG_TEXT)?;
    check_count("extra", a.extra.len())?;
    for (key, value) in &a.extra {
        check_required("extra field name", key, MAX_EXTRA_KEY)?;
        match value {
            ExtraValue::Text(t) => check_text("extra field value", t, MAX_LONG_TEXT)?,
            ExtraValue::Float(f) if !f.is_finite() => {
                return Err(CaseError::Invalid {
                    field: "extra field value",
                    reason: "not a finite number".into(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

fn validate_plan(p: &Plan) -> Result<(), CaseError> {
    check_count("goals", p.goals.len())?;
    for (key, g) in &p.goals {
        check_entry_id("goal id", key, &g.id)?;
        check_required("goal", &g.text, MAX_LONG_TEXT)?;
        check_opt("method", &g.method, MAX_LONG_TEXT)?;
        if g.priority == 0 {
            return Err(CaseError::Invalid {
                field: "priority",
                reason: "1 is the highest".into(),
            });
        }
    }
    Ok(())
}

fn validate_referrals(case: &Case) -> Result<(), CaseError> {
    check_count("referrals", case.referrals.len())?;
    for (key, r) in &case.referrals {
        check_entry_id("referral id", key, &r.id)?;
        check_required("agency", &r.agency, MAX_SHORT_TEXT)?;
        check_opt("outcome", &r.outcome, MAX_LONG_TEXT)?;
        check_opt("referral reason", &r.reason, MAX_LONG_TEXT)?;
        // A registered agency's referral and its answers are made through casesync (the
        // consent rule, the answer bound to the agency's user), never brought in whole.
        if r.agency_id.is_some()
            || r.answered_by.is_some()
            || r.accepted_on.is_some()
            || r.completed_on.is_some()
            || r.declined_on.is_some()
            || r.decline_reason.is_some()
        {
            return Err(CaseError::Invalid {
                field: "referral",
                reason: "a referral to a registered agency is made in casesync, not imported"
                    .into(),
            });
        }
    }
    Ok(())
}

fn validate_visits(case: &Case) -> Result<(), CaseError> {
    check_count("visits", case.visits.len())?;
    for (key, v) in &case.visits {
        check_entry_id("visit id", key, &v.id)?;
        check_text("visit by", &v.by, MAX_SHORT_TEXT)?;
        check_text("notes", &v.notes, MAX_LONG_TEXT)?;
        check_opt("progress", &v.progress, MAX_LONG_TEXT)?;
        check_opt("obstacles", &v.obstacles, MAX_LONG_TEXT)?;
        check_opt("actions", &v.actions, MAX_LONG_TEXT)?;
    }
    Ok(())
}

fn validate_closure(ctx: &EditCtx, case: &Case) -> Result<(), CaseError> {
    let closed = case.stage == Stage::Closed;
    let bad = |field, reason: &str| {
        Err(CaseError::Invalid {
            field,
            reason: reason.to_owned(),
        })
    };
    match (&case.closure, closed) {
        (None, true) => return bad("closure", "a closed case needs its closure record"),
        (Some(_), false) => return bad("closure", "only a closed case has a closure record"),
        _ => {}
    }
    if let Some(c) = &case.closure {
        check_text("closure summary", &c.summary, MAX_LONG_TEXT)?;
        let agreement_possible = !matches!(
            c.reason,
            ClosureReason::Deceased
                | ClosureReason::Moved
                | ClosureReason::LostToFollowUp
                | ClosureReason::Duplicate
        );
        if agreement_possible && !c.client_agreed {
            return bad("closure", "closure needs the client's agreement");
        }
        match (&c.duplicate_of, c.reason == ClosureReason::Duplicate) {
            (None, true) => return bad("closure", "a duplicate names the surviving case"),
            (Some(_), false) => return bad("closure", "only a duplicate names a surviving case"),
            (Some(of), true) => {
                validate_case_id(of)?;
                if ctx.role != Role::Coordinator {
                    return bad("closure", "only a coordinator closes a case as a duplicate");
                }
            }
            (None, false) => {}
        }
        if !c.client_agreed && ctx.role != Role::Coordinator {
            return bad(
                "closure",
                "without the client's agreement only a coordinator may close",
            );
        }
    }
    if let Some(e) = &case.evaluation {
        if !closed {
            return bad("evaluation", "evaluation follows closure");
        }
        if !(1..=5).contains(&e.satisfaction) {
            return Err(CaseError::Invalid {
                field: "satisfaction",
                reason: "1 to 5".into(),
            });
        }
        let goals = case.plan.goals.len();
        if e.goals_achieved as usize > goals {
            return Err(CaseError::Invalid {
                field: "goals_achieved",
                reason: format!("the plan has {goals} goals"),
            });
        }
    }
    Ok(())
}

/// A map the schema creates (present after [`schema::ensure_structure`]).
fn map_at(doc: &AutoCommit, parent: &ObjId, key: &'static str) -> Result<ObjId, CaseError> {
    use automerge::ReadDoc;
    match doc.get(parent, key)? {
        Some((automerge::Value::Object(_), id)) => Ok(id),
        _ => Err(CaseError::Malformed(key.to_owned())),
    }
}

fn write(doc: &mut AutoCommit, ctx: &EditCtx, case: &Case) -> Result<(), CaseError> {
    let created_at = if case.created_at > 0 {
        case.created_at
    } else {
        ctx.now_ms
    };
    let created_by = if case.created_by.trim().is_empty() {
        ctx.user_id.as_str()
    } else {
        case.created_by.as_str()
    };
    doc.put(ROOT, "schema", SCHEMA_VERSION as i64)?;
    doc.put(ROOT, "id", case.id.as_str())?;
    doc.put(ROOT, "created_at", created_at)?;
    doc.put(ROOT, "created_by", created_by)?;
    doc.put(ROOT, "district", case.district.as_str())?;
    doc.put(ROOT, "village", case.village.as_str())?;
    doc.put(ROOT, "assigned_to", case.assigned_to.as_str())?;
    doc.put(ROOT, "sensitive", case.sensitive)?;
    doc.put(ROOT, "stage", case.stage.as_str())?;
    schema::ensure_structure(doc)?;
    write_client(doc, &case.client)?;
    if let Some(i) = &case.intake {
        write_intake(doc, i)?;
    }
    if let Some(a) = &case.assessment {
        write_assessment(doc, a)?;
    }
    write_plan(doc, &case.plan)?;
    write_referrals(doc, case)?;
    write_visits(doc, case)?;
    let client = map_at(doc, &ROOT, "client")?;
    for other in &case.distinct_from {
        doc.put(&client, format!("{}{other}", schema::DISTINCT_PREFIX), true)?;
    }
    write_closure(doc, case)
}

fn write_client(doc: &mut AutoCommit, c: &Client) -> Result<(), CaseError> {
    let o = map_at(doc, &ROOT, "client")?;
    put_text(doc, &o, "name", &c.name)?;
    if let Some(s) = c.sex {
        doc.put(&o, "sex", s.as_str())?;
    }
    put_opt_date(doc, &o, "birth_date", c.birth_date)?;
    if let Some(a) = c.age_estimate {
        doc.put(&o, "age_estimate", i64::from(a))?;
    }
    put_opt_str(doc, &o, "phone", &c.phone)?;
    put_opt_str(doc, &o, "language", &c.language)?;
    let h = map_at(doc, &o, "household")?;
    for (id, m) in &c.household {
        let e = doc.put_object(&h, id.as_str(), ObjType::Map)?;
        doc.put(&e, "name", m.name.as_str())?;
        doc.put(&e, "relation", m.relation.as_str())?;
    }
    Ok(())
}

fn write_intake(doc: &mut AutoCommit, i: &Intake) -> Result<(), CaseError> {
    let o = map_at(doc, &ROOT, "intake")?;
    doc.put(&o, "date", date_str(i.date))?;
    doc.put(&o, "source", i.source.as_str())?;
    put_opt_str(doc, &o, "referred_by", &i.referred_by)?;
    put_text(doc, &o, "presenting_problem", &i.presenting_problem)?;
    if let Some(c) = &i.consent {
        let m = doc.put_object(&o, "consent", ObjType::Map)?;
        doc.put(&m, "given", c.given)?;
        doc.put(&m, "date", date_str(c.date))?;
        doc.put(&m, "scope", c.scope.as_str())?;
        doc.put(&m, "recorded_by", c.recorded_by.as_str())?;
    }
    Ok(())
}

fn write_assessment(doc: &mut AutoCommit, a: &Assessment) -> Result<(), CaseError> {
    let o = map_at(doc, &ROOT, "assessment")?;
    put_opt_date(doc, &o, "date", a.date)?;
    for (k, v) in assessment_texts(a) {
        put_opt_str(doc, &o, k, v)?;
    }
    if let Some(r) = a.safety_risk {
        doc.put(&o, "safety_risk", r.as_str())?;
    }
    put_text(doc, &o, "strengths", &a.strengths)?;
    let x = map_at(doc, &o, "extra")?;
    for (key, value) in &a.extra {
        match value {
            ExtraValue::Bool(b) => doc.put(&x, key.as_str(), *b)?,
            ExtraValue::Int(i) => doc.put(&x, key.as_str(), *i)?,
            ExtraValue::Float(f) => doc.put(&x, key.as_str(), *f)?,
            ExtraValue::Text(t) => doc.put(&x, key.as_str(), t.as_str())?,
        }
    }
    Ok(())
}

fn write_plan(doc: &mut AutoCommit, p: &Plan) -> Result<(), CaseError> {
    let o = map_at(doc, &ROOT, "plan")?;
    put_opt_date(doc, &o, "review_date", p.review_date)?;
    let goals = map_at(doc, &o, "goals")?;
    for g in p.goals.values() {
        let m = doc.put_object(&goals, g.id.as_str(), ObjType::Map)?;
        put_text(doc, &m, "text", &g.text)?;
        doc.put(&m, "priority", i64::from(g.priority))?;
        put_opt_str(doc, &m, "method", &g.method)?;
        put_opt_date(doc, &m, "target_date", g.target_date)?;
        put_opt_date(doc, &m, "evaluate_by", g.evaluate_by)?;
        doc.put(&m, "status", g.status.as_str())?;
    }
    Ok(())
}

fn write_referrals(doc: &mut AutoCommit, case: &Case) -> Result<(), CaseError> {
    let o = map_at(doc, &ROOT, "referrals")?;
    for r in case.referrals.values() {
        let m = doc.put_object(&o, r.id.as_str(), ObjType::Map)?;
        doc.put(&m, "service", r.service.as_str())?;
        doc.put(&m, "agency", r.agency.as_str())?;
        doc.put(&m, "date", date_str(r.date))?;
        doc.put(&m, "status", r.status.as_str())?;
        put_opt_str(doc, &m, "outcome", &r.outcome)?;
        put_opt_date(doc, &m, "follow_up_date", r.follow_up_date)?;
        put_opt_str(doc, &m, "reason", &r.reason)?;
        put_opt_str(doc, &m, "made_by", &r.made_by)?;
    }
    Ok(())
}

fn write_visits(doc: &mut AutoCommit, case: &Case) -> Result<(), CaseError> {
    let o = map_at(doc, &ROOT, "visits")?;
    for v in case.visits.values() {
        let m = doc.put_object(&o, v.id.as_str(), ObjType::Map)?;
        doc.put(&m, "date", date_str(v.date))?;
        doc.put(&m, "by", v.by.as_str())?;
        doc.put(&m, "kind", v.kind.as_str())?;
        put_text(doc, &m, "notes", &v.notes)?;
        put_opt_str(doc, &m, "progress", &v.progress)?;
        put_opt_str(doc, &m, "obstacles", &v.obstacles)?;
        put_opt_str(doc, &m, "actions", &v.actions)?;
        put_opt_date(doc, &m, "next_visit_date", v.next_visit_date)?;
    }
    Ok(())
}

fn write_closure(doc: &mut AutoCommit, case: &Case) -> Result<(), CaseError> {
    if let Some(c) = &case.closure {
        let o = map_at(doc, &ROOT, "closure")?;
        doc.put(&o, "date", date_str(c.date))?;
        doc.put(&o, "reason", c.reason.as_str())?;
        doc.put(&o, "client_agreed", c.client_agreed)?;
        put_text(doc, &o, "summary", &c.summary)?;
        if let Some(of) = &c.duplicate_of {
            doc.put(&o, "duplicate_of", of.as_str())?;
        }
        let known = doc.put_object(&o, "known", ObjType::Map)?;
        if !case.activity_after_closure {
            let ids = case
                .visits
                .keys()
                .chain(case.plan.goals.keys())
                .chain(case.referrals.keys());
            for id in ids {
                doc.put(&known, id.as_str(), true)?;
            }
        }
    }
    if let Some(e) = &case.evaluation {
        let o = map_at(doc, &ROOT, "evaluation")?;
        doc.put(&o, "goals_achieved", i64::from(e.goals_achieved))?;
        doc.put(&o, "satisfaction", i64::from(e.satisfaction))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
