//! Inputs of the case editing API: what a screen submits. `None` means "leave as is".

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{
    ClosureReason, GoalStatus, IntakeSource, ReferralService, ReferralStatus, SafetyRisk, Sex,
    VisitKind,
};

/// Longest short field (names, phone, agency...), in characters.
pub const MAX_SHORT_TEXT: usize = 200;
/// Longest long text (notes, problem, summary...), in characters.
pub const MAX_LONG_TEXT: usize = 10_000;
/// Most entries in one collection of a case (visits, goals, referrals, household, extra).
pub const MAX_ENTRIES: usize = 1_000;

/// Data of a new case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NewCase {
    /// Case id (1..=64 of `[A-Za-z0-9_-]`).
    pub id: String,
    /// District.
    pub district: String,
    /// Village.
    pub village: String,
    /// Assigned worker (user id).
    pub assigned_to: String,
    /// Sensitive case.
    pub sensitive: bool,
    /// Client's name.
    pub client_name: String,
}

/// Client fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientUpdate {
    /// Name.
    pub name: Option<String>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Date of birth.
    pub birth_date: Option<NaiveDate>,
    /// Estimated age.
    pub age_estimate: Option<u32>,
    /// Phone.
    pub phone: Option<String>,
    /// Language tag.
    pub language: Option<String>,
}

/// Intake data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeInput {
    /// Date of intake.
    pub date: NaiveDate,
    /// Source.
    pub source: IntakeSource,
    /// Referring agency or person.
    pub referred_by: Option<String>,
    /// Presenting problem.
    pub presenting_problem: String,
}

/// Assessment fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentUpdate {
    /// Date of assessment.
    pub date: Option<NaiveDate>,
    /// Physical health.
    pub physical_health: Option<String>,
    /// Mental health.
    pub mental_health: Option<String>,
    /// Social situation.
    pub social: Option<String>,
    /// Behavioural situation.
    pub behavioural: Option<String>,
    /// Family relationships.
    pub family: Option<String>,
    /// Housing.
    pub housing: Option<String>,
    /// Income.
    pub income: Option<String>,
    /// Education.
    pub education: Option<String>,
    /// Safety risk.
    pub safety_risk: Option<SafetyRisk>,
    /// Strengths (replaces the text; merged by character with concurrent edits).
    pub strengths: Option<String>,
    /// Origin of the problem.
    pub problem_origin: Option<String>,
    /// Scope and causes.
    pub causes: Option<String>,
}

/// A new goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalInput {
    /// What the client wants to achieve.
    pub text: String,
    /// Priority (1 = highest).
    pub priority: u32,
    /// Method.
    pub method: Option<String>,
    /// Target date.
    pub target_date: Option<NaiveDate>,
    /// Evaluation date.
    pub evaluate_by: Option<NaiveDate>,
}

/// Goal fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalUpdate {
    /// Text.
    pub text: Option<String>,
    /// Priority.
    pub priority: Option<u32>,
    /// Method.
    pub method: Option<String>,
    /// Target date.
    pub target_date: Option<NaiveDate>,
    /// Evaluation date.
    pub evaluate_by: Option<NaiveDate>,
    /// Status.
    pub status: Option<GoalStatus>,
}

/// A new referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralInput {
    /// Service.
    pub service: ReferralService,
    /// Agency.
    pub agency: String,
    /// Date made.
    pub date: NaiveDate,
    /// Follow-up date.
    pub follow_up_date: Option<NaiveDate>,
    /// A registered agency (its id in the server's directory; `agency` then holds its
    /// name as the worker saw it). Needs the client's consent to share, recorded at
    /// intake.
    pub agency_id: Option<String>,
    /// Why the client is referred (shared with a registered agency).
    pub reason: Option<String>,
    /// The client's explicit consent, on this referral, to share a confidential case
    /// with the agency: without it a sensitive case is not referred to a registered
    /// agency.
    pub share_sensitive: bool,
}

/// A registered agency's answer to a referral addressed to it (recorded by the server
/// for the agency's user, [`CaseDoc::answer_referral`](super::CaseDoc::answer_referral)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReferralAnswer {
    /// The agency takes the client on.
    Accept {
        /// When.
        date: NaiveDate,
    },
    /// The agency does not (final).
    Decline {
        /// When.
        date: NaiveDate,
        /// Why (shown to the referring worker).
        reason: String,
    },
    /// The service was delivered (final; after acceptance).
    Complete {
        /// When.
        date: NaiveDate,
        /// What came of it.
        outcome: String,
    },
}

impl ReferralAnswer {
    /// The status the answer gives the referral.
    pub fn status(&self) -> ReferralStatus {
        match self {
            ReferralAnswer::Accept { .. } => ReferralStatus::Accepted,
            ReferralAnswer::Decline { .. } => ReferralStatus::Declined,
            ReferralAnswer::Complete { .. } => ReferralStatus::Completed,
        }
    }
}

/// Referral fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralUpdate {
    /// Status.
    pub status: Option<ReferralStatus>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Follow-up date.
    pub follow_up_date: Option<NaiveDate>,
}

/// A new visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitInput {
    /// Date.
    pub date: NaiveDate,
    /// Kind.
    pub kind: VisitKind,
    /// Notes.
    pub notes: String,
    /// Progress.
    pub progress: Option<String>,
    /// Obstacles.
    pub obstacles: Option<String>,
    /// Actions.
    pub actions: Option<String>,
    /// Next visit.
    pub next_visit_date: Option<NaiveDate>,
}

/// Visit fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitUpdate {
    /// Notes (replaces the text; merged by character with concurrent edits).
    pub notes: Option<String>,
    /// Progress.
    pub progress: Option<String>,
    /// Obstacles.
    pub obstacles: Option<String>,
    /// Actions.
    pub actions: Option<String>,
    /// Next visit.
    pub next_visit_date: Option<NaiveDate>,
}

/// Closure data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosureInput {
    /// Date.
    pub date: NaiveDate,
    /// Reason.
    pub reason: ClosureReason,
    /// Client agreed.
    pub client_agreed: bool,
    /// Summary.
    pub summary: String,
}
