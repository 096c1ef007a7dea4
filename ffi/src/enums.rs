//! The core's enums mirrored for uniffi (same variants; converted both ways).

use casesync_core::case as core;
use casesync_core::protocol as wire;

/// Defines a uniffi enum with the same variants as a core enum, and `From` both ways.
macro_rules! mirror_enum {
    ($core:path => $(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                use $core as C;
                match v { $(C::$variant => $name::$variant),+ }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                use $core as C;
                match v { $($name::$variant => C::$variant),+ }
            }
        }
    };
}

mirror_enum!(core::Stage =>
    /// Where a case is in the case-management process.
    Stage {
        /// Registered, consent being recorded.
        Intake,
        /// Needs and strengths being assessed.
        Assessment,
        /// Service plan being written.
        Planning,
        /// Referrals and services under way.
        Implementation,
        /// Follow-up visits, reviewing progress.
        Monitoring,
        /// Closed (reason recorded).
        Closed,
    }
);

mirror_enum!(core::Role =>
    /// What a user may do.
    Role {
        /// Community health worker: own assigned cases.
        Chw,
        /// District coordinator: whole district; reassigns, closes, resolves conflicts.
        Coordinator,
        /// Programme admin: users and devices, no case content.
        Admin,
    }
);

mirror_enum!(core::IntakeSource =>
    /// How the case came in.
    IntakeSource {
        /// Referred by another agency (name it in `referred_by`).
        AgencyReferral,
        /// The client asked.
        SelfReferral,
        /// The family asked.
        Family,
        /// Found in a field survey.
        FieldSurvey,
    }
);

mirror_enum!(core::Sex =>
    /// Client's sex as recorded.
    Sex {
        /// Female.
        Female,
        /// Male.
        Male,
        /// Other.
        Other,
        /// Not recorded / not disclosed.
        Unknown,
    }
);

mirror_enum!(core::SafetyRisk =>
    /// Safety risk found at assessment.
    SafetyRisk {
        /// Low.
        Low,
        /// Medium.
        Medium,
        /// High: needs a safety plan.
        High,
    }
);

mirror_enum!(core::GoalStatus =>
    /// State of a service-plan goal.
    GoalStatus {
        /// Being worked on.
        Active,
        /// Reached.
        Achieved,
        /// Abandoned.
        Dropped,
    }
);

mirror_enum!(core::ReferralService =>
    /// Kind of service a referral links to.
    ReferralService {
        /// Health facility.
        Health,
        /// Psychosocial support.
        Psychosocial,
        /// Legal aid.
        Legal,
        /// Housing / shelter.
        Housing,
        /// Education.
        Education,
        /// Livelihood / income.
        Livelihood,
        /// Anything else.
        Other,
    }
);

mirror_enum!(core::ReferralStatus =>
    /// Where a referral stands.
    ReferralStatus {
        /// Made, not yet answered.
        Made,
        /// Accepted by the receiving agency.
        Accepted,
        /// Service delivered.
        Completed,
        /// Declined (by agency or client).
        Declined,
    }
);

mirror_enum!(core::VisitKind =>
    /// How a visit took place.
    VisitKind {
        /// At the client's home.
        Home,
        /// By phone.
        Phone,
        /// At a facility.
        Facility,
    }
);

mirror_enum!(core::ClosureReason =>
    /// Why a case was closed.
    ClosureReason {
        /// Plan goals reached.
        GoalsAchieved,
        /// Handed to another agency.
        Transferred,
        /// Client moved away (a coordinator may close without the client's agreement).
        Moved,
        /// Client died (a coordinator may close without the client's agreement).
        Deceased,
        /// Client withdrew.
        Withdrew,
        /// Could not be reached (a coordinator may close without the client's agreement).
        LostToFollowUp,
    }
);

mirror_enum!(core::FollowUpKind =>
    /// What a follow-up is for.
    FollowUpKind {
        /// A planned visit.
        Visit,
        /// A goal's evaluation date.
        GoalEvaluation,
        /// A referral to follow up.
        ReferralFollowUp,
        /// The plan's review date.
        PlanReview,
    }
);

mirror_enum!(wire::RefusalCode =>
    /// Why the server refused a case's pushed changes (nothing of them was stored).
    RefusalCode {
        /// The case is not in the user's write scope.
        OutOfScope,
        /// A change is signed by another device.
        ForeignActor,
        /// A change touches a field the user's role may not change.
        RestrictedField,
        /// A change or the case would exceed a size limit.
        TooLarge,
        /// A change is not valid.
        Invalid,
        /// A change depends on changes the server does not have.
        MissingDependencies,
        /// The case was erased (consent withdrawn): it is removed from this phone.
        Erased,
    }
);
