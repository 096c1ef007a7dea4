//! Records the app submits with dates in them: what a screen sends to an editing call.
//! In the `...Update` records, `null` means "leave as is" (every such field defaults to
//! `null` in Kotlin).
//!
//! Their dates are `NaiveDate`s, `java.time.LocalDate` in Kotlin (the core's custom
//! type), so a malformed date cannot be passed at all. They mirror
//! `casesync_core::case::input` (and `store::SummaryFilter`) with Kotlin defaults
//! (`#[uniffi(default)]`); `convert.rs` moves them into the core's types, which check
//! every value.

use chrono::NaiveDate;

use casesync_core::case::{
    ClosureReason, GoalStatus, IntakeSource, ReferralService, ReferralStatus, SafetyRisk, Sex,
    Stage, VisitKind,
};

/// Client fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ClientUpdate {
    /// Name.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// Sex.
    #[uniffi(default = None)]
    pub sex: Option<Sex>,
    /// Date of birth .
    #[uniffi(default = None)]
    pub birth_date: Option<NaiveDate>,
    /// Estimated age in years.
    #[uniffi(default = None)]
    pub age_estimate: Option<u32>,
    /// Phone.
    #[uniffi(default = None)]
    pub phone: Option<String>,
    /// Language tag (e.g. "bn").
    #[uniffi(default = None)]
    pub language: Option<String>,
}

/// Intake data.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IntakeInput {
    /// Date of intake .
    pub date: NaiveDate,
    /// How the case came in.
    pub source: IntakeSource,
    /// Referring agency or person (required for an agency referral).
    #[uniffi(default = None)]
    pub referred_by: Option<String>,
    /// Presenting problem.
    pub presenting_problem: String,
}

/// Assessment fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct AssessmentUpdate {
    /// Date of assessment .
    #[uniffi(default = None)]
    pub date: Option<NaiveDate>,
    /// Physical health.
    #[uniffi(default = None)]
    pub physical_health: Option<String>,
    /// Mental health.
    #[uniffi(default = None)]
    pub mental_health: Option<String>,
    /// Social situation.
    #[uniffi(default = None)]
    pub social: Option<String>,
    /// Behavioural situation.
    #[uniffi(default = None)]
    pub behavioural: Option<String>,
    /// Family relationships.
    #[uniffi(default = None)]
    pub family: Option<String>,
    /// Housing.
    #[uniffi(default = None)]
    pub housing: Option<String>,
    /// Income.
    #[uniffi(default = None)]
    pub income: Option<String>,
    /// Education.
    #[uniffi(default = None)]
    pub education: Option<String>,
    /// Safety risk.
    #[uniffi(default = None)]
    pub safety_risk: Option<SafetyRisk>,
    /// Strengths (replaces the text; merged by character with concurrent edits).
    #[uniffi(default = None)]
    pub strengths: Option<String>,
    /// Origin of the problem.
    #[uniffi(default = None)]
    pub problem_origin: Option<String>,
    /// Scope and causes.
    #[uniffi(default = None)]
    pub causes: Option<String>,
}

/// A new service-plan goal.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GoalInput {
    /// What the client wants to achieve.
    pub text: String,
    /// Priority (1 = highest).
    pub priority: u32,
    /// Method.
    #[uniffi(default = None)]
    pub method: Option<String>,
    /// Target date .
    #[uniffi(default = None)]
    pub target_date: Option<NaiveDate>,
    /// Evaluation date .
    #[uniffi(default = None)]
    pub evaluate_by: Option<NaiveDate>,
}

/// Goal fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct GoalUpdate {
    /// Text.
    #[uniffi(default = None)]
    pub text: Option<String>,
    /// Priority.
    #[uniffi(default = None)]
    pub priority: Option<u32>,
    /// Method.
    #[uniffi(default = None)]
    pub method: Option<String>,
    /// Target date .
    #[uniffi(default = None)]
    pub target_date: Option<NaiveDate>,
    /// Evaluation date .
    #[uniffi(default = None)]
    pub evaluate_by: Option<NaiveDate>,
    /// Status (achieved, dropped...).
    #[uniffi(default = None)]
    pub status: Option<GoalStatus>,
}

/// A new referral.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferralInput {
    /// Kind of service.
    pub service: ReferralService,
    /// Receiving agency.
    pub agency: String,
    /// Date made .
    pub date: NaiveDate,
    /// Follow-up date .
    #[uniffi(default = None)]
    pub follow_up_date: Option<NaiveDate>,
    /// A registered agency of the directory (`CaseStore::agencies`): its id. Needs the
    /// client's consent to share, given at intake (else `Forbidden` with code
    /// `case.referral_needs_consent`).
    #[uniffi(default = None)]
    pub agency_id: Option<String>,
    /// Why the client is referred (shared with a registered agency).
    #[uniffi(default = None)]
    pub reason: Option<String>,
    /// The client's explicit consent, on this referral, to share a confidential case
    /// with the agency (without it: `Forbidden`, `case.referral_needs_sensitive_consent`).
    #[uniffi(default = false)]
    pub share_sensitive: bool,
}

/// Referral fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ReferralUpdate {
    /// Status.
    #[uniffi(default = None)]
    pub status: Option<ReferralStatus>,
    /// Outcome.
    #[uniffi(default = None)]
    pub outcome: Option<String>,
    /// Follow-up date .
    #[uniffi(default = None)]
    pub follow_up_date: Option<NaiveDate>,
}

/// A new visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitInput {
    /// Date .
    pub date: NaiveDate,
    /// How it took place.
    pub kind: VisitKind,
    /// Notes.
    pub notes: String,
    /// Progress.
    #[uniffi(default = None)]
    pub progress: Option<String>,
    /// Obstacles.
    #[uniffi(default = None)]
    pub obstacles: Option<String>,
    /// Actions.
    #[uniffi(default = None)]
    pub actions: Option<String>,
    /// Next visit .
    #[uniffi(default = None)]
    pub next_visit_date: Option<NaiveDate>,
}

/// Visit fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct VisitUpdate {
    /// Notes (replaces the text; merged by character with concurrent edits).
    #[uniffi(default = None)]
    pub notes: Option<String>,
    /// Progress.
    #[uniffi(default = None)]
    pub progress: Option<String>,
    /// Obstacles.
    #[uniffi(default = None)]
    pub obstacles: Option<String>,
    /// Actions.
    #[uniffi(default = None)]
    pub actions: Option<String>,
    /// Next visit .
    #[uniffi(default = None)]
    pub next_visit_date: Option<NaiveDate>,
}

/// Closing a case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClosureInput {
    /// Date .
    pub date: NaiveDate,
    /// Why.
    pub reason: ClosureReason,
    /// The client agreed (required unless the reason makes it impossible).
    pub client_agreed: bool,
    /// Summary.
    pub summary: String,
}

/// Which cases to list; every field set must match (`null` = any).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SummaryFilter {
    /// Only cases in this stage.
    #[uniffi(default = None)]
    pub stage: Option<Stage>,
    /// Only cases in this village (exact match).
    #[uniffi(default = None)]
    pub village: Option<String>,
    /// Only cases assigned to this user id.
    #[uniffi(default = None)]
    pub assigned_to: Option<String>,
    /// Only cases with a follow-up due on or before this date .
    #[uniffi(default = None)]
    pub due_on_or_before: Option<NaiveDate>,
    /// Only cases whose client name contains this text, ignoring case.
    #[uniffi(default = None)]
    pub text: Option<String>,
}
