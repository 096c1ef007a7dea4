//! Plain Rust values read out of (and written into) a case document.
//!
//! These types are the vocabulary shared by the whole core: the store indexes
//! [`CaseSummary`], reports compute from [`Case`], the server validates with
//! [`Role`]. Field names match the document keys (DESIGN.md §3) and are stable API.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Identifier of a case (stable across devices): 1..=64 of `[A-Za-z0-9_-]`.
pub type CaseId = String;

/// Macro that defines a string-backed enum with stable wire names.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name stored in documents and sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stable name; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Where a case is in the case-management process.
    Stage {
        /// Registered, consent being recorded.
        Intake = "intake",
        /// Needs and strengths being assessed.
        Assessment = "assessment",
        /// Service plan being written.
        Planning = "planning",
        /// Referrals and services under way.
        Implementation = "implementation",
        /// Follow-up visits, reviewing progress.
        Monitoring = "monitoring",
        /// Closed by agreement (reason recorded).
        Closed = "closed",
    }
);

string_enum!(
    /// What a user may do.
    Role {
        /// Community health worker: own assigned cases.
        Chw = "chw",
        /// District coordinator: whole district(s); reassigns, closes, resolves conflicts.
        Coordinator = "coordinator",
        /// Programme admin: users and devices, no case content.
        Admin = "admin",
        /// Staff of a registered agency: the referrals addressed to their agency (what
        /// each shares), never a case; answers them through the server only.
        Agency = "agency",
    }
);

string_enum!(
    /// How the case came in.
    IntakeSource {
        /// Referred by another agency (name it in `referred_by`).
        AgencyReferral = "agency_referral",
        /// The client asked.
        SelfReferral = "self",
        /// The family asked.
        Family = "family",
        /// Found in a field survey.
        FieldSurvey = "field_survey",
    }
);

string_enum!(
    /// Client's sex as recorded.
    Sex {
        /// Female.
        Female = "female",
        /// Male.
        Male = "male",
        /// Other.
        Other = "other",
        /// Not recorded / not disclosed.
        Unknown = "unknown",
    }
);

string_enum!(
    /// Safety risk found at assessment.
    SafetyRisk {
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High: needs a safety plan.
        High = "high",
    }
);

string_enum!(
    /// State of a service-plan goal.
    GoalStatus {
        /// Being worked on.
        Active = "active",
        /// Reached.
        Achieved = "achieved",
        /// Abandoned.
        Dropped = "dropped",
    }
);

string_enum!(
    /// Kind of service a referral links to.
    ReferralService {
        /// Health facility.
        Health = "health",
        /// Psychosocial support.
        Psychosocial = "psychosocial",
        /// Legal aid.
        Legal = "legal",
        /// Housing / shelter.
        Housing = "housing",
        /// Education.
        Education = "education",
        /// Livelihood / income.
        Livelihood = "livelihood",
        /// Anything else.
        Other = "other",
    }
);

string_enum!(
    /// Where a referral stands.
    ReferralStatus {
        /// Made, not yet answered.
        Made = "made",
        /// Accepted by the receiving agency.
        Accepted = "accepted",
        /// Service delivered.
        Completed = "completed",
        /// Declined (by agency or client).
        Declined = "declined",
    }
);

string_enum!(
    /// How a visit took place.
    VisitKind {
        /// At the client's home.
        Home = "home",
        /// By phone.
        Phone = "phone",
        /// At a facility.
        Facility = "facility",
    }
);

string_enum!(
    /// Why a case was closed.
    ClosureReason {
        /// Plan goals reached.
        GoalsAchieved = "goals_achieved",
        /// Handed to another agency.
        Transferred = "transferred",
        /// Client moved away (a coordinator may close without the client's agreement).
        Moved = "moved",
        /// Client died (a coordinator may close without the client's agreement).
        Deceased = "deceased",
        /// Client withdrew.
        Withdrew = "withdrew",
        /// Could not be reached (a coordinator may close without the client's agreement).
        LostToFollowUp = "lost_to_follow_up",
        /// The same client as another case (`Closure::duplicate_of`): a coordinator's
        /// act, through [`CaseDoc::close_as_duplicate`](super::CaseDoc::close_as_duplicate).
        Duplicate = "duplicate",
    }
);

/// A programme-defined assessment value (scalar).
///
/// In Kotlin the variants are `BoolValue`, `IntValue`, `FloatValue` and `TextValue`, each
/// with one field `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(untagged)]
pub enum ExtraValue {
    /// Yes / no.
    #[cfg_attr(feature = "uniffi", uniffi(name = "BoolValue"))]
    Bool(#[cfg_attr(feature = "uniffi", uniffi(name = "value"))] bool),
    /// Whole number.
    #[cfg_attr(feature = "uniffi", uniffi(name = "IntValue"))]
    Int(#[cfg_attr(feature = "uniffi", uniffi(name = "value"))] i64),
    /// Decimal number (finite).
    #[cfg_attr(feature = "uniffi", uniffi(name = "FloatValue"))]
    Float(#[cfg_attr(feature = "uniffi", uniffi(name = "value"))] f64),
    /// Text.
    #[cfg_attr(feature = "uniffi", uniffi(name = "TextValue"))]
    Text(#[cfg_attr(feature = "uniffi", uniffi(name = "value"))] String),
}

/// A member of the client's household.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HouseholdMember {
    /// Name (any script).
    pub name: String,
    /// Relation to the client (e.g. "mother").
    pub relation: String,
}

/// The person the case is about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Client {
    /// Name (Automerge Text in the document).
    pub name: String,
    /// Sex.
    pub sex: Option<Sex>,
    /// Date of birth when known.
    pub birth_date: Option<NaiveDate>,
    /// Estimated age in years when the birth date is unknown.
    pub age_estimate: Option<u32>,
    /// Phone number.
    pub phone: Option<String>,
    /// Preferred language (BCP 47 tag, e.g. "bn", "fa", "th", "vi").
    pub language: Option<String>,
    /// Household members by id.
    pub household: BTreeMap<String, HouseholdMember>,
}

/// Consent given at intake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Consent {
    /// Whether consent was given.
    pub given: bool,
    /// When.
    pub date: NaiveDate,
    /// What it covers (e.g. "data sharing with referral agencies").
    pub scope: String,
    /// User id of the worker who recorded it.
    pub recorded_by: String,
}

/// Intake record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Intake {
    /// Date of intake.
    pub date: NaiveDate,
    /// How the case came in.
    pub source: IntakeSource,
    /// Referring agency or person, if any.
    pub referred_by: Option<String>,
    /// The presenting problem (Automerge Text).
    pub presenting_problem: String,
    /// Consent, once recorded.
    pub consent: Option<Consent>,
}

/// Assessment domains (DESIGN.md §1). Free-text domains are plain strings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Assessment {
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
    /// Strengths (Automerge Text).
    pub strengths: String,
    /// Origin of the problem.
    pub problem_origin: Option<String>,
    /// Scope and causes of the problem.
    pub causes: Option<String>,
    /// Programme-defined extra fields.
    pub extra: BTreeMap<String, ExtraValue>,
}

/// A service-plan goal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Goal {
    /// Goal id (unique within the case).
    pub id: String,
    /// What the client wants to achieve (Automerge Text).
    pub text: String,
    /// Priority: 1 is highest.
    pub priority: u32,
    /// How it will be worked on.
    pub method: Option<String>,
    /// When it should be reached.
    pub target_date: Option<NaiveDate>,
    /// When progress is evaluated.
    pub evaluate_by: Option<NaiveDate>,
    /// State.
    pub status: GoalStatus,
}

/// The service plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Plan {
    /// Goals by id.
    pub goals: BTreeMap<String, Goal>,
    /// When the whole plan is next reviewed.
    pub review_date: Option<NaiveDate>,
}

/// A referral to another service or agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Referral {
    /// Referral id (unique within the case).
    pub id: String,
    /// Kind of service.
    pub service: ReferralService,
    /// Receiving agency.
    pub agency: String,
    /// Date made.
    pub date: NaiveDate,
    /// Where it stands.
    pub status: ReferralStatus,
    /// Outcome, once known.
    pub outcome: Option<String>,
    /// When to follow it up.
    pub follow_up_date: Option<NaiveDate>,
    /// The registered agency it is addressed to (its id in the server's directory,
    /// issue #15); `None`: an agency outside the system, named in `agency` only. Set
    /// when the referral is made, never changed.
    pub agency_id: Option<String>,
    /// Why the client is referred: the referral's own text, shared with a registered
    /// agency.
    pub reason: Option<String>,
    /// The client's explicit consent, on this referral, to share a confidential
    /// (sensitive) case with the agency.
    pub share_sensitive: bool,
    /// The agency user who answered a registered agency's referral (bound by the server).
    pub answered_by: Option<String>,
    /// When the agency accepted.
    pub accepted_on: Option<NaiveDate>,
    /// When the service was completed.
    pub completed_on: Option<NaiveDate>,
    /// When it was declined.
    pub declined_on: Option<NaiveDate>,
    /// Why it was declined.
    pub decline_reason: Option<String>,
    /// The user id of the worker who made it (referrals made before it was recorded:
    /// `None`).
    pub made_by: Option<String>,
}

impl Referral {
    /// Still under way: made and not answered, or accepted and not completed.
    pub fn is_active(&self) -> bool {
        matches!(self.status, ReferralStatus::Made | ReferralStatus::Accepted)
    }
}

/// A visit (monitoring and review).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Visit {
    /// Visit id (unique within the case).
    pub id: String,
    /// Date of the visit.
    pub date: NaiveDate,
    /// User id of the worker.
    pub by: String,
    /// How it took place.
    pub kind: VisitKind,
    /// Notes (Automerge Text: concurrent edits merge by character).
    pub notes: String,
    /// Progress seen.
    pub progress: Option<String>,
    /// Obstacles met.
    pub obstacles: Option<String>,
    /// Actions agreed.
    pub actions: Option<String>,
    /// Next visit, when planned.
    pub next_visit_date: Option<NaiveDate>,
}

/// Closure record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Closure {
    /// Date closed.
    pub date: NaiveDate,
    /// Why.
    pub reason: ClosureReason,
    /// The client agreed to the closure.
    pub client_agreed: bool,
    /// Summary (Automerge Text).
    pub summary: String,
    /// The surviving case, when closed as [`ClosureReason::Duplicate`].
    #[cfg_attr(feature = "uniffi", uniffi(default = None))]
    #[serde(default)]
    pub duplicate_of: Option<CaseId>,
}

/// Evaluation after closure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Evaluation {
    /// Number of goals achieved.
    pub goals_achieved: u32,
    /// Client satisfaction 1..=5.
    pub satisfaction: u8,
}

/// A whole case as plain values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Case {
    /// Document schema number.
    pub schema: u32,
    /// Case id.
    pub id: CaseId,
    /// Creation time, ms since the Unix epoch.
    pub created_at: i64,
    /// User id of the creator.
    pub created_by: String,
    /// District (routing / access field).
    pub district: String,
    /// Village.
    pub village: String,
    /// User id of the assigned worker (routing / access field).
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
    /// Referrals by id.
    pub referrals: BTreeMap<String, Referral>,
    /// Visits by id.
    pub visits: BTreeMap<String, Visit>,
    /// Closure, when closed.
    pub closure: Option<Closure>,
    /// Evaluation, when evaluated.
    pub evaluation: Option<Evaluation>,
    /// A visit, goal or referral was recorded while the case was closed: needs review.
    pub activity_after_closure: bool,
    /// Cases a coordinator decided are other people (never flagged as duplicates of
    /// this one again), sorted.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    #[serde(default)]
    pub distinct_from: Vec<CaseId>,
    /// Time of the latest change, ms since the Unix epoch.
    pub updated_at: i64,
}

/// What listing screens show: kept in the store's index so listing never loads documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CaseSummary {
    /// Case id.
    pub id: CaseId,
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
    /// Earliest open follow-up date (visit, goal evaluation, referral follow-up).
    pub next_due: Option<NaiveDate>,
    /// Time of the latest change, ms since the Unix epoch.
    pub updated_at: i64,
}

impl Case {
    /// Every open follow-up date of this case, unsorted: the next visit after the latest
    /// visit, evaluation dates of active goals, follow-ups of referrals still open, the
    /// plan review. Closed cases have none.
    pub fn follow_up_dates(&self) -> Vec<(FollowUpKind, String, NaiveDate)> {
        let mut out = Vec::new();
        if self.stage == Stage::Closed {
            return out;
        }
        if let Some(v) = self
            .visits
            .values()
            .max_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)))
        {
            if let Some(d) = v.next_visit_date {
                out.push((FollowUpKind::Visit, v.id.clone(), d));
            }
        }
        for g in self.plan.goals.values() {
            if let (GoalStatus::Active, Some(d)) = (g.status, g.evaluate_by) {
                out.push((FollowUpKind::GoalEvaluation, g.id.clone(), d));
            }
        }
        for r in self.referrals.values() {
            if matches!(r.status, ReferralStatus::Made | ReferralStatus::Accepted) {
                if let Some(d) = r.follow_up_date {
                    out.push((FollowUpKind::ReferralFollowUp, r.id.clone(), d));
                }
            }
        }
        if let Some(d) = self.plan.review_date {
            out.push((FollowUpKind::PlanReview, String::new(), d));
        }
        out
    }

    /// The listing summary of this case.
    pub fn summary(&self) -> CaseSummary {
        CaseSummary {
            id: self.id.clone(),
            name: self.client.name.clone(),
            stage: self.stage,
            assigned_to: self.assigned_to.clone(),
            district: self.district.clone(),
            village: self.village.clone(),
            sensitive: self.sensitive,
            next_due: self.follow_up_dates().into_iter().map(|(_, _, d)| d).min(),
            updated_at: self.updated_at,
        }
    }
}

string_enum!(
    /// What a follow-up is for.
    FollowUpKind {
        /// A planned visit.
        Visit = "visit",
        /// A goal's evaluation date.
        GoalEvaluation = "goal_evaluation",
        /// A referral to follow up.
        ReferralFollowUp = "referral_follow_up",
        /// The plan's review date.
        PlanReview = "plan_review",
    }
);
