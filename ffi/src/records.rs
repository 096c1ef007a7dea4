//! Records the app reads: a case and its parts, listings, conflicts, history,
//! follow-ups. Mirrors of the core's types; dates are `"YYYY-MM-DD"` strings, times are
//! ms since the Unix epoch. Collections keyed by id in the document are lists here, in
//! id order, each entry carrying its `id`.

use crate::enums::*;

/// A programme-defined assessment value.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ExtraValue {
    /// Yes / no.
    BoolValue {
        /// The value.
        value: bool,
    },
    /// Whole number.
    IntValue {
        /// The value.
        value: i64,
    },
    /// Decimal number (finite).
    FloatValue {
        /// The value.
        value: f64,
    },
    /// Text.
    TextValue {
        /// The value.
        value: String,
    },
}

/// A programme-defined assessment field.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExtraField {
    /// Field name.
    pub key: String,
    /// Its value.
    pub value: ExtraValue,
}

/// A member of the client's household.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HouseholdMember {
    /// Member id (unique within the case).
    pub id: String,
    /// Name (any script).
    pub name: String,
    /// Relation to the client (e.g. "mother").
    pub relation: String,
}

/// The person the case is about.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Client {
    /// Name.
    pub name: String,
    /// Sex.
    pub sex: Option<Sex>,
    /// Date of birth when known (`YYYY-MM-DD`).
    pub birth_date: Option<String>,
    /// Estimated age in years when the birth date is unknown.
    pub age_estimate: Option<u32>,
    /// Phone number.
    pub phone: Option<String>,
    /// Preferred language (BCP 47 tag, e.g. "bn", "fa", "th", "vi").
    pub language: Option<String>,
    /// Household members, by id.
    pub household: Vec<HouseholdMember>,
}

/// Consent recorded at intake.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Consent {
    /// Whether consent was given.
    pub given: bool,
    /// When (`YYYY-MM-DD`).
    pub date: String,
    /// What it covers.
    pub scope: String,
    /// User id of the worker who recorded it.
    pub recorded_by: String,
}

/// Intake record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Intake {
    /// Date of intake (`YYYY-MM-DD`).
    pub date: String,
    /// How the case came in.
    pub source: IntakeSource,
    /// Referring agency or person.
    pub referred_by: Option<String>,
    /// The presenting problem.
    pub presenting_problem: String,
    /// Consent, once recorded.
    pub consent: Option<Consent>,
}

/// Assessment.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Assessment {
    /// Date of assessment (`YYYY-MM-DD`).
    pub date: Option<String>,
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
    /// Strengths.
    pub strengths: String,
    /// Origin of the problem.
    pub problem_origin: Option<String>,
    /// Scope and causes of the problem.
    pub causes: Option<String>,
    /// Programme-defined fields, by key.
    pub extra: Vec<ExtraField>,
}

/// A service-plan goal.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Goal {
    /// Goal id.
    pub id: String,
    /// What the client wants to achieve.
    pub text: String,
    /// Priority: 1 is highest.
    pub priority: u32,
    /// How it will be worked on.
    pub method: Option<String>,
    /// When it should be reached (`YYYY-MM-DD`).
    pub target_date: Option<String>,
    /// When progress is evaluated (`YYYY-MM-DD`).
    pub evaluate_by: Option<String>,
    /// State.
    pub status: GoalStatus,
}

/// The service plan.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Plan {
    /// Goals, by id.
    pub goals: Vec<Goal>,
    /// When the whole plan is next reviewed (`YYYY-MM-DD`).
    pub review_date: Option<String>,
}

/// A referral to another service or agency.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Referral {
    /// Referral id.
    pub id: String,
    /// Kind of service.
    pub service: ReferralService,
    /// Receiving agency.
    pub agency: String,
    /// Date made (`YYYY-MM-DD`).
    pub date: String,
    /// Where it stands.
    pub status: ReferralStatus,
    /// Outcome, once known.
    pub outcome: Option<String>,
    /// When to follow it up (`YYYY-MM-DD`).
    pub follow_up_date: Option<String>,
}

/// A visit (monitoring and review).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Visit {
    /// Visit id.
    pub id: String,
    /// Date of the visit (`YYYY-MM-DD`).
    pub date: String,
    /// User id of the worker.
    pub by: String,
    /// How it took place.
    pub kind: VisitKind,
    /// Notes (concurrent edits merge by character).
    pub notes: String,
    /// Progress seen.
    pub progress: Option<String>,
    /// Obstacles met.
    pub obstacles: Option<String>,
    /// Actions agreed.
    pub actions: Option<String>,
    /// Next visit, when planned (`YYYY-MM-DD`).
    pub next_visit_date: Option<String>,
}

/// Closure record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Closure {
    /// Date closed (`YYYY-MM-DD`).
    pub date: String,
    /// Why.
    pub reason: ClosureReason,
    /// The client agreed to the closure.
    pub client_agreed: bool,
    /// Summary.
    pub summary: String,
}

/// Evaluation of a closed case (read and written).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Evaluation {
    /// Number of goals achieved.
    pub goals_achieved: u32,
    /// Client satisfaction, 1 to 5.
    pub satisfaction: u8,
}

/// A whole case.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Case {
    /// Document schema number.
    pub schema: u32,
    /// Case id.
    pub id: String,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// User id of the creator.
    pub created_by: String,
    /// District.
    pub district: String,
    /// Village.
    pub village: String,
    /// User id of the assigned worker.
    pub assigned_to: String,
    /// Sensitive case (e.g. violence survivor): restricted visibility.
    pub sensitive: bool,
    /// Current stage.
    pub stage: Stage,
    /// The client.
    pub client: Client,
    /// Intake, once recorded.
    pub intake: Option<Intake>,
    /// Assessment, once started.
    pub assessment: Option<Assessment>,
    /// Service plan.
    pub plan: Plan,
    /// Referrals, by id.
    pub referrals: Vec<Referral>,
    /// Visits, by id.
    pub visits: Vec<Visit>,
    /// Closure, when closed.
    pub closure: Option<Closure>,
    /// Evaluation, when evaluated.
    pub evaluation: Option<Evaluation>,
    /// A visit, goal or referral was recorded while the case was closed: needs review.
    pub activity_after_closure: bool,
    /// Time of the latest change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What a case list shows (read from the store's index, without opening documents).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseSummary {
    /// Case id.
    pub id: String,
    /// Client name.
    pub name: String,
    /// Stage.
    pub stage: Stage,
    /// Assigned worker.
    pub assigned_to: String,
    /// District.
    pub district: String,
    /// Village.
    pub village: String,
    /// Sensitive.
    pub sensitive: bool,
    /// Earliest open follow-up date (`YYYY-MM-DD`).
    pub next_due: Option<String>,
    /// Time of the latest change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// The result of listing cases.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Listing {
    /// Matching cases, by next due date (none last), then name, then id.
    pub summaries: Vec<CaseSummary>,
    /// Ids of cases whose stored record is damaged (the others are still listed).
    pub corrupt: Vec<String>,
}

/// One of the concurrent values of a field.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConflictValue {
    /// The value as JSON (e.g. `"high"`, `3`, `true`; `null` for a note written twice,
    /// which is merged and cannot be chosen). Pass it back to `resolve_conflict`.
    pub value_json: String,
    /// User who wrote it.
    pub user: String,
    /// Device replica (actor) that wrote it, hex.
    pub actor: String,
    /// When it was written, ms since the Unix epoch.
    pub time_ms: i64,
}

/// A field with concurrent values, written on different phones while offline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Conflict {
    /// Dotted path, e.g. `assessment.safety_risk`.
    pub path: String,
    /// The values; the first one is what everybody currently sees.
    pub values: Vec<ConflictValue>,
}

/// One change in a case's history (the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    /// Change hash, hex.
    pub hash: String,
    /// Device replica (actor), hex.
    pub actor: String,
    /// User who made it.
    pub user: String,
    /// When, ms since the Unix epoch (the editing phone's clock).
    pub time_ms: i64,
    /// What was done (e.g. "visit recorded").
    pub summary: String,
    /// Fields the change touched, as dotted paths.
    pub fields: Vec<String>,
}

/// A follow-up a worker has to do.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FollowUp {
    /// The case.
    pub case_id: String,
    /// The client's name.
    pub client_name: String,
    /// What is due.
    pub kind: FollowUpKind,
    /// The visit, goal or referral the date belongs to (empty for the plan review).
    pub item_id: String,
    /// When it is (or was) due (`YYYY-MM-DD`).
    pub due: String,
    /// Days overdue: positive when overdue, 0 today, negative in the future.
    pub days_overdue: i64,
    /// The case's village.
    pub village: String,
}

/// A case's pushed changes the server refused.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Refusal {
    /// The case.
    pub case_id: String,
    /// Why.
    pub code: RefusalCode,
    /// The server's explanation.
    pub message: String,
}
