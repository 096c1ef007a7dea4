//! The input records of `inputs.rs` → the core's input types (`From`: every field moved
//! as it is). No rules live here: the core checks every value.

use casesync_core::case as core;
use casesync_core::store;

use crate::inputs::*;

impl From<ClientUpdate> for core::ClientUpdate {
    fn from(u: ClientUpdate) -> Self {
        core::ClientUpdate {
            birth_date: u.birth_date,
            name: u.name,
            sex: u.sex,
            age_estimate: u.age_estimate,
            phone: u.phone,
            language: u.language,
        }
    }
}

impl From<IntakeInput> for core::IntakeInput {
    fn from(i: IntakeInput) -> Self {
        core::IntakeInput {
            date: i.date,
            source: i.source,
            referred_by: i.referred_by,
            presenting_problem: i.presenting_problem,
        }
    }
}

impl From<AssessmentUpdate> for core::AssessmentUpdate {
    fn from(u: AssessmentUpdate) -> Self {
        core::AssessmentUpdate {
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
        }
    }
}

impl From<GoalInput> for core::GoalInput {
    fn from(g: GoalInput) -> Self {
        core::GoalInput {
            target_date: g.target_date,
            evaluate_by: g.evaluate_by,
            text: g.text,
            priority: g.priority,
            method: g.method,
        }
    }
}

impl From<GoalUpdate> for core::GoalUpdate {
    fn from(g: GoalUpdate) -> Self {
        core::GoalUpdate {
            target_date: g.target_date,
            evaluate_by: g.evaluate_by,
            text: g.text,
            priority: g.priority,
            method: g.method,
            status: g.status,
        }
    }
}

impl From<ReferralInput> for core::ReferralInput {
    fn from(r: ReferralInput) -> Self {
        core::ReferralInput {
            date: r.date,
            follow_up_date: r.follow_up_date,
            service: r.service,
            agency: r.agency,
            agency_id: r.agency_id,
            reason: r.reason,
            share_sensitive: r.share_sensitive,
        }
    }
}

impl From<ReferralUpdate> for core::ReferralUpdate {
    fn from(r: ReferralUpdate) -> Self {
        core::ReferralUpdate {
            follow_up_date: r.follow_up_date,
            status: r.status,
            outcome: r.outcome,
        }
    }
}

impl From<VisitInput> for core::VisitInput {
    fn from(v: VisitInput) -> Self {
        core::VisitInput {
            date: v.date,
            next_visit_date: v.next_visit_date,
            kind: v.kind,
            notes: v.notes,
            progress: v.progress,
            obstacles: v.obstacles,
            actions: v.actions,
        }
    }
}

impl From<VisitUpdate> for core::VisitUpdate {
    fn from(v: VisitUpdate) -> Self {
        core::VisitUpdate {
            next_visit_date: v.next_visit_date,
            notes: v.notes,
            progress: v.progress,
            obstacles: v.obstacles,
            actions: v.actions,
        }
    }
}

impl From<ClosureInput> for core::ClosureInput {
    fn from(c: ClosureInput) -> Self {
        core::ClosureInput {
            date: c.date,
            reason: c.reason,
            client_agreed: c.client_agreed,
            summary: c.summary,
        }
    }
}

impl From<SummaryFilter> for store::SummaryFilter {
    fn from(f: SummaryFilter) -> Self {
        store::SummaryFilter {
            due_on_or_before: f.due_on_or_before,
            stage: f.stage,
            village: f.village,
            assigned_to: f.assigned_to,
            text: f.text,
        }
    }
}
