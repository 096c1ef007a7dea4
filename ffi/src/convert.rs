//! The input records of `inputs.rs` → the core's input types, every field moved as it
//! is. No rules live here: the core checks every value.

use casesync_core::case as core;
use casesync_core::store;

use crate::error::CasesyncError;
use crate::inputs::*;

impl TryFrom<ClientUpdate> for core::ClientUpdate {
    type Error = CasesyncError;
    fn try_from(u: ClientUpdate) -> Result<Self, CasesyncError> {
        Ok(core::ClientUpdate {
            birth_date: u.birth_date,
            name: u.name,
            sex: u.sex,
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
            date: i.date,
            source: i.source,
            referred_by: i.referred_by,
            presenting_problem: i.presenting_problem,
        })
    }
}

impl TryFrom<AssessmentUpdate> for core::AssessmentUpdate {
    type Error = CasesyncError;
    fn try_from(u: AssessmentUpdate) -> Result<Self, CasesyncError> {
        Ok(core::AssessmentUpdate {
            date: u.date,
            physical_health: u.physical_health,
            mental_health: u.mental_health,
            social: u.social,
            behavioural: u.behavioural,
            family: u.family,
            housing: u.housing,
            income: u.income,
            education: u.education,
            safety_risk: u.safety_risk,
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
            target_date: g.target_date,
            evaluate_by: g.evaluate_by,
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
            target_date: g.target_date,
            evaluate_by: g.evaluate_by,
            text: g.text,
            priority: g.priority,
            method: g.method,
            status: g.status,
        })
    }
}

impl TryFrom<ReferralInput> for core::ReferralInput {
    type Error = CasesyncError;
    fn try_from(r: ReferralInput) -> Result<Self, CasesyncError> {
        Ok(core::ReferralInput {
            date: r.date,
            follow_up_date: r.follow_up_date,
            service: r.service,
            agency: r.agency,
            agency_id: r.agency_id,
            reason: r.reason,
            share_sensitive: r.share_sensitive,
        })
    }
}

impl TryFrom<ReferralUpdate> for core::ReferralUpdate {
    type Error = CasesyncError;
    fn try_from(r: ReferralUpdate) -> Result<Self, CasesyncError> {
        Ok(core::ReferralUpdate {
            follow_up_date: r.follow_up_date,
            status: r.status,
            outcome: r.outcome,
        })
    }
}

impl TryFrom<VisitInput> for core::VisitInput {
    type Error = CasesyncError;
    fn try_from(v: VisitInput) -> Result<Self, CasesyncError> {
        Ok(core::VisitInput {
            date: v.date,
            next_visit_date: v.next_visit_date,
            kind: v.kind,
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
            next_visit_date: v.next_visit_date,
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
            date: c.date,
            reason: c.reason,
            client_agreed: c.client_agreed,
            summary: c.summary,
        })
    }
}

impl TryFrom<SummaryFilter> for store::SummaryFilter {
    type Error = CasesyncError;
    fn try_from(f: SummaryFilter) -> Result<Self, CasesyncError> {
        Ok(store::SummaryFilter {
            due_on_or_before: f.due_on_or_before,
            stage: f.stage,
            village: f.village,
            assigned_to: f.assigned_to,
            text: f.text,
        })
    }
}
