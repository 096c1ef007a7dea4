//! Records the app submits with dates in them: what a screen sends to an editing call.
//! In the `...Update` records, `null` means "leave as is" (every such field defaults to
//! `null` in Kotlin).
//!
//! **Why these are not the core's input types** (every other record and enum the app
//! sees is derived on the core's own type, behind casesync-core's `uniffi` feature):
//! their dates are `"YYYY-MM-DD"` strings that this crate parses *inside the call*
//! (`convert.rs`), so a malformed date is a `CasesyncError::Invalid` naming the field
//! ("visit date: ... is not a date"). Derived on the core's types, the date would be
//! lifted by uniffi before the call, and a failed lift reaches Kotlin as an
//! `InternalException`, not as the `CasesyncException` the app catches. Their other
//! fields mirror `casesync_core::case::input` (and `store::SummaryFilter`); the core
//! checks every value.

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
    /// Date of birth (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub birth_date: Option<String>,
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
    /// Date of intake (`YYYY-MM-DD`).
    pub date: String,
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
    /// Date of assessment (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub date: Option<String>,
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
    /// Target date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub target_date: Option<String>,
    /// Evaluation date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub evaluate_by: Option<String>,
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
    /// Target date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub target_date: Option<String>,
    /// Evaluation date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub evaluate_by: Option<String>,
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
    /// Date made (`YYYY-MM-DD`).
    pub date: String,
    /// Follow-up date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub follow_up_date: Option<String>,
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
    /// Follow-up date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub follow_up_date: Option<String>,
}

/// A new visit.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VisitInput {
    /// Date (`YYYY-MM-DD`).
    pub date: String,
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
    /// Next visit (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub next_visit_date: Option<String>,
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
    /// Next visit (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub next_visit_date: Option<String>,
}

/// Closing a case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClosureInput {
    /// Date (`YYYY-MM-DD`).
    pub date: String,
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
    /// Only cases with a follow-up due on or before this date (`YYYY-MM-DD`).
    #[uniffi(default = None)]
    pub due_on_or_before: Option<String>,
    /// Only cases whose client name contains this text, ignoring case.
    #[uniffi(default = None)]
    pub text: Option<String>,
}
