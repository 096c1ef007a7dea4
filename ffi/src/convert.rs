//! Conversions between the FFI records and the core's types (field by field; dates
//! formatted and parsed in `dates`). No rules live here: the core checks every value.

use casesync_core::case as core;
use casesync_core::report;
use casesync_core::store;

use crate::dates::{fmt, fmt_opt, parse, parse_opt};
use crate::error::CasesyncError;
use crate::inputs::*;
use crate::records::*;

impl From<core::ExtraValue> for ExtraValue {
    fn from(v: core::ExtraValue) -> Self {
        match v {
            core::ExtraValue::Bool(value) => ExtraValue::BoolValue { value },
            core::ExtraValue::Int(value) => ExtraValue::IntValue { value },
            core::ExtraValue::Float(value) => ExtraValue::FloatValue { value },
            core::ExtraValue::Text(value) => ExtraValue::TextValue { value },
        }
    }
}

impl From<ExtraValue> for core::ExtraValue {
    fn from(v: ExtraValue) -> Self {
        match v {
            ExtraValue::BoolValue { value } => core::ExtraValue::Bool(value),
            ExtraValue::IntValue { value } => core::ExtraValue::Int(value),
            ExtraValue::FloatValue { value } => core::ExtraValue::Float(value),
            ExtraValue::TextValue { value } => core::ExtraValue::Text(value),
        }
    }
}

impl From<core::Client> for Client {
    fn from(c: core::Client) -> Self {
        Client {
            name: c.name,
            sex: c.sex.map(Into::into),
            birth_date: fmt_opt(c.birth_date),
            age_estimate: c.age_estimate,
            phone: c.phone,
            language: c.language,
            household: c
                .household
                .into_iter()
                .map(|(id, m)| HouseholdMember {
                    id,
                    name: m.name,
                    relation: m.relation,
                })
                .collect(),
        }
    }
}

impl From<core::Intake> for Intake {
    fn from(i: core::Intake) -> Self {
        Intake {
            date: fmt(i.date),
            source: i.source.into(),
            referred_by: i.referred_by,
            presenting_problem: i.presenting_problem,
            consent: i.consent.map(|c| Consent {
                given: c.given,
                date: fmt(c.date),
                scope: c.scope,
                recorded_by: c.recorded_by,
            }),
        }
    }
}

impl From<core::Assessment> for Assessment {
    fn from(a: core::Assessment) -> Self {
        Assessment {
            date: fmt_opt(a.date),
            physical_health: a.physical_health,
            mental_health: a.mental_health,
            social: a.social,
            behavioural: a.behavioural,
            family: a.family,
            housing: a.housing,
            income: a.income,
            education: a.education,
            safety_risk: a.safety_risk.map(Into::into),
            strengths: a.strengths,
            problem_origin: a.problem_origin,
            causes: a.causes,
            extra: a
                .extra
                .into_iter()
                .map(|(key, v)| ExtraField {
                    key,
                    value: v.into(),
                })
                .collect(),
        }
    }
}

impl From<core::Goal> for Goal {
    fn from(g: core::Goal) -> Self {
        Goal {
            id: g.id,
            text: g.text,
            priority: g.priority,
            method: g.method,
            target_date: fmt_opt(g.target_date),
            evaluate_by: fmt_opt(g.evaluate_by),
            status: g.status.into(),
        }
    }
}

impl From<core::Referral> for Referral {
    fn from(r: core::Referral) -> Self {
        Referral {
            id: r.id,
            service: r.service.into(),
            agency: r.agency,
            date: fmt(r.date),
            status: r.status.into(),
            outcome: r.outcome,
            follow_up_date: fmt_opt(r.follow_up_date),
        }
    }
}

impl From<core::Visit> for Visit {
    fn from(v: core::Visit) -> Self {
        Visit {
            id: v.id,
            date: fmt(v.date),
            by: v.by,
            kind: v.kind.into(),
            notes: v.notes,
            progress: v.progress,
            obstacles: v.obstacles,
            actions: v.actions,
            next_visit_date: fmt_opt(v.next_visit_date),
        }
    }
}

impl From<core::Evaluation> for Evaluation {
    fn from(e: core::Evaluation) -> Self {
        Evaluation {
            goals_achieved: e.goals_achieved,
            satisfaction: e.satisfaction,
        }
    }
}

impl From<Evaluation> for core::Evaluation {
    fn from(e: Evaluation) -> Self {
        core::Evaluation {
            goals_achieved: e.goals_achieved,
            satisfaction: e.satisfaction,
        }
    }
}

impl From<core::Case> for Case {
    fn from(c: core::Case) -> Self {
        Case {
            schema: c.schema,
            id: c.id,
            created_at: c.created_at,
            created_by: c.created_by,
            district: c.district,
            village: c.village,
            assigned_to: c.assigned_to,
            sensitive: c.sensitive,
            stage: c.stage.into(),
            client: c.client.into(),
            intake: c.intake.map(Into::into),
            assessment: c.assessment.map(Into::into),
            plan: Plan {
                goals: c.plan.goals.into_values().map(Into::into).collect(),
                review_date: fmt_opt(c.plan.review_date),
            },
            referrals: c.referrals.into_values().map(Into::into).collect(),
            visits: c.visits.into_values().map(Into::into).collect(),
            closure: c.closure.map(|o| Closure {
                date: fmt(o.date),
                reason: o.reason.into(),
                client_agreed: o.client_agreed,
                summary: o.summary,
            }),
            evaluation: c.evaluation.map(Into::into),
            activity_after_closure: c.activity_after_closure,
            updated_at: c.updated_at,
        }
    }
}

impl From<core::CaseSummary> for CaseSummary {
    fn from(s: core::CaseSummary) -> Self {
        CaseSummary {
            id: s.id,
            name: s.name,
            stage: s.stage.into(),
            assigned_to: s.assigned_to,
            district: s.district,
            village: s.village,
            sensitive: s.sensitive,
            next_due: fmt_opt(s.next_due),
            updated_at: s.updated_at,
        }
    }
}

impl From<store::Listing> for Listing {
    fn from(l: store::Listing) -> Self {
        Listing {
            summaries: l.summaries.into_iter().map(Into::into).collect(),
            corrupt: l.corrupt,
        }
    }
}

impl From<core::Conflict> for Conflict {
    fn from(c: core::Conflict) -> Self {
        Conflict {
            path: c.path,
            values: c
                .values
                .into_iter()
                .map(|v| ConflictValue {
                    value_json: v.value.to_string(),
                    user: v.user,
                    actor: v.actor,
                    time_ms: v.time_ms,
                })
                .collect(),
        }
    }
}

impl From<core::HistoryEntry> for HistoryEntry {
    fn from(h: core::HistoryEntry) -> Self {
        HistoryEntry {
            hash: h.hash,
            actor: h.actor,
            user: h.user,
            time_ms: h.time_ms,
            summary: h.summary,
            fields: h.fields,
        }
    }
}

impl From<report::FollowUp> for FollowUp {
    fn from(f: report::FollowUp) -> Self {
        FollowUp {
            case_id: f.case_id,
            client_name: f.client_name,
            kind: f.kind.into(),
            item_id: f.item_id,
            due: fmt(f.due),
            days_overdue: f.days_overdue,
            village: f.village,
        }
    }
}

impl From<casesync_core::protocol::Refusal> for Refusal {
    fn from(r: casesync_core::protocol::Refusal) -> Self {
        Refusal {
            case_id: r.doc_id,
            code: r.code.into(),
            message: r.message,
        }
    }
}

// ---- inputs: record -> core (dates parsed; the core validates everything else)

impl From<NewCase> for core::NewCase {
    fn from(n: NewCase) -> Self {
        core::NewCase {
            id: n.id,
            district: n.district,
            village: n.village,
            assigned_to: n.assigned_to,
            sensitive: n.sensitive,
            client_name: n.client_name,
        }
    }
}

impl TryFrom<ClientUpdate> for core::ClientUpdate {
    type Error = CasesyncError;
    fn try_from(u: ClientUpdate) -> Result<Self, CasesyncError> {
        Ok(core::ClientUpdate {
            birth_date: parse_opt("birth date", &u.birth_date)?,
            name: u.name,
            sex: u.sex.map(Into::into),
            age_estimate: u.age_estimate,
            phone: u.phone,
            language: u.language,
        })
    }
}

impl TryFrom<IntakeInput> for core::IntakeInput {
    type Error = CasesyncError;
    fn try_from(i: IntakeInput) -> Result<Self, CasesyncError> {
        Ok(core::IntakeInput {
            date: parse("intake date", &i.date)?,
            source: i.source.into(),
            referred_by: i.referred_by,
            presenting_problem: i.presenting_problem,
        })
    }
}

impl TryFrom<AssessmentUpdate> for core::AssessmentUpdate {
    type Error = CasesyncError;
    fn try_from(u: AssessmentUpdate) -> Result<Self, CasesyncError> {
        Ok(core::AssessmentUpdate {
            date: parse_opt("assessment date", &u.date)?,
            physical_health: u.physical_health,
            mental_health: u.mental_health,
            social: u.social,
            behavioural: u.behavioural,
            family: u.family,
            housing: u.housing,
            income: u.income,
            education: u.education,
            safety_risk: u.safety_risk.map(Into::into),
            strengths: u.strengths,
            problem_origin: u.problem_origin,
            causes: u.causes,
        })
    }
}

impl TryFrom<GoalInput> for core::GoalInput {
    type Error = CasesyncError;
    fn try_from(g: GoalInput) -> Result<Self, CasesyncError> {
        Ok(core::GoalInput {
            target_date: parse_opt("target date", &g.target_date)?,
            evaluate_by: parse_opt("evaluation date", &g.evaluate_by)?,
            text: g.text,
            priority: g.priority,
            method: g.method,
        })
    }
}

impl TryFrom<GoalUpdate> for core::GoalUpdate {
    type Error = CasesyncError;
    fn try_from(g: GoalUpdate) -> Result<Self, CasesyncError> {
        Ok(core::GoalUpdate {
            target_date: parse_opt("target date", &g.target_date)?,
            evaluate_by: parse_opt("evaluation date", &g.evaluate_by)?,
            text: g.text,
            priority: g.priority,
            method: g.method,
            status: g.status.map(Into::into),
        })
    }
}

impl TryFrom<ReferralInput> for core::ReferralInput {
    type Error = CasesyncError;
    fn try_from(r: ReferralInput) -> Result<Self, CasesyncError> {
        Ok(core::ReferralInput {
            date: parse("referral date", &r.date)?,
            follow_up_date: parse_opt("follow-up date", &r.follow_up_date)?,
            service: r.service.into(),
            agency: r.agency,
        })
    }
}

impl TryFrom<ReferralUpdate> for core::ReferralUpdate {
    type Error = CasesyncError;
    fn try_from(r: ReferralUpdate) -> Result<Self, CasesyncError> {
        Ok(core::ReferralUpdate {
            follow_up_date: parse_opt("follow-up date", &r.follow_up_date)?,
            status: r.status.map(Into::into),
            outcome: r.outcome,
        })
    }
}

impl TryFrom<VisitInput> for core::VisitInput {
    type Error = CasesyncError;
    fn try_from(v: VisitInput) -> Result<Self, CasesyncError> {
        Ok(core::VisitInput {
            date: parse("visit date", &v.date)?,
            next_visit_date: parse_opt("next visit date", &v.next_visit_date)?,
            kind: v.kind.into(),
            notes: v.notes,
            progress: v.progress,
            obstacles: v.obstacles,
            actions: v.actions,
        })
    }
}

impl TryFrom<VisitUpdate> for core::VisitUpdate {
    type Error = CasesyncError;
    fn try_from(v: VisitUpdate) -> Result<Self, CasesyncError> {
        Ok(core::VisitUpdate {
            next_visit_date: parse_opt("next visit date", &v.next_visit_date)?,
            notes: v.notes,
            progress: v.progress,
            obstacles: v.obstacles,
            actions: v.actions,
        })
    }
}

impl TryFrom<ClosureInput> for core::ClosureInput {
    type Error = CasesyncError;
    fn try_from(c: ClosureInput) -> Result<Self, CasesyncError> {
        Ok(core::ClosureInput {
            date: parse("closure date", &c.date)?,
            reason: c.reason.into(),
            client_agreed: c.client_agreed,
            summary: c.summary,
        })
    }
}

impl TryFrom<SummaryFilter> for store::SummaryFilter {
    type Error = CasesyncError;
    fn try_from(f: SummaryFilter) -> Result<Self, CasesyncError> {
        Ok(store::SummaryFilter {
            due_on_or_before: parse_opt("due date", &f.due_on_or_before)?,
            stage: f.stage.map(Into::into),
            village: f.village,
            assigned_to: f.assigned_to,
            text: f.text,
        })
    }
}
