//! Stable codes of the messages the core (and the FFI above it) raises to an app, and
//! their parameters: what a phone formats in the worker's language from its catalogues
//! (`mobile-bindings/kotlin/src/main/resources/casesync/messages/<lang>.ftl`), while the
//! English `Display` of each error stays for logs.
//!
//! A code is dotted (`case.closed`); its catalogue message id is the same with `-` for
//! `.` (`case-closed`), because Fluent ids have no dots. Parameters are named, their
//! values plain strings: numbers in Latin digits, stages and roles by their stable names
//! (`intake`, `chw`) that the catalogues label (`stage-intake`, `role-chw`).

use crate::case::CaseError;
use crate::store::StoreError;
use crate::sync::SyncError;

macro_rules! codes {
    ($($(#[$m:meta])* $variant:ident = $text:literal [$($p:literal),*],)+) => {
        /// Every message code an app can receive. Adding one means adding its message
        /// to the five phone catalogues (a test fails otherwise).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$m])* $variant,)+
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)+];

            /// The stable dotted name (`case.closed`).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text,)+ }
            }

            /// The names of the parameters its message may use.
            pub fn param_names(self) -> &'static [&'static str] {
                match self { $(Code::$variant => &[$($p),*],)+ }
            }
        }
    };
}

codes! {
    /// A case document is not valid Automerge.
    CaseCorrupt = "case.corrupt" [],
    /// Over a decoding limit: `what`, `limit`.
    CaseOverLimit = "case.over_limit" ["what", "limit"],
    /// A required field of a case document is missing: `field`.
    CaseMalformed = "case.malformed" ["field"],
    /// A newer app wrote the case: `found`, `supported`.
    CaseUnsupportedSchema = "case.unsupported_schema" ["found", "supported"],
    /// A value is not acceptable: `field`, `reason` (English).
    CaseInvalid = "case.invalid" ["field", "reason"],
    /// A text or list is over its limit: `field`, `limit`.
    CaseTooLarge = "case.too_large" ["field", "limit"],
    /// A goal, visit, referral or member does not exist: `kind`, `id`.
    CaseNotFound = "case.not_found" ["kind", "id"],
    /// The role may not do this: `role`, `action` (English).
    CaseForbidden = "case.forbidden" ["role", "action"],
    /// The lifecycle refuses this stage change: `from`, `to` (stages), `reason` (English).
    CaseStageNotAllowed = "case.stage_not_allowed" ["from", "to", "reason"],
    /// The case is closed.
    CaseClosed = "case.closed" [],
    /// A referral to a registered agency without the client's consent to share.
    CaseReferralNeedsConsent = "case.referral_needs_consent" [],
    /// A confidential case referred to a registered agency without consent on the referral.
    CaseReferralNeedsSensitiveConsent = "case.referral_needs_sensitive_consent" [],
    /// No conflict to resolve there with that value: `path`.
    CaseNoConflict = "case.no_conflict" ["path"],
    /// A document operation failed.
    CaseOperationFailed = "case.operation_failed" [],
    /// The key does not open the phone's store.
    StoreWrongKey = "store.wrong_key" [],
    /// One case's stored record is unreadable: `case_id`.
    StoreCorrupt = "store.corrupt" ["case_id"],
    /// A store-wide record is unreadable: `record`.
    StoreCorruptMeta = "store.corrupt_meta" ["record"],
    /// The case is not on the phone: `case_id`.
    StoreCaseNotFound = "store.case_not_found" ["case_id"],
    /// The phone's storage failed.
    StoreFailure = "store.failure" [],
    /// The server's answer could not be read.
    SyncBadResponse = "sync.bad_response" [],
    /// The server sent a case this phone cannot use: `case_id`.
    SyncBadDocument = "sync.bad_document" ["case_id"],
    /// A sync step out of order (a bug).
    SyncOutOfOrder = "sync.out_of_order" [],
    /// The server kept saying "more".
    SyncTooManyRoundTrips = "sync.too_many_round_trips" [],
    /// A sync is already running on this phone.
    SyncAlreadyRunning = "sync.already_running" [],
    /// The sync was cancelled (what was received is saved).
    SyncCancelled = "sync.cancelled" [],
    /// Wrong username or password.
    AuthWrongPassword = "auth.wrong_password" [],
    /// The refresh token was spent long ago: sign in again with the password.
    AuthSignInAgain = "auth.sign_in_again" [],
    /// The session expired: log in again.
    AuthSessionExpired = "auth.session_expired" [],
    /// No session on this phone yet.
    AuthNotLoggedIn = "auth.not_logged_in" [],
    /// Too many attempts.
    AuthRateLimited = "auth.rate_limited" [],
    /// The phone was revoked and wiped: `unsent_cases`, `unsent_changes`.
    AuthDeviceRevoked = "auth.device_revoked" ["unsent_cases", "unsent_changes"],
    /// An administrator reset this user's password: change it before signing in.
    AuthPasswordChangeRequired = "auth.password_change_required" [],
    /// A new password breaks the rules: `min_chars`.
    AuthPasswordRules = "auth.password_rules" ["min_chars"],
    /// The server refused the request for this user: `detail` (English, from the server).
    ServerForbidden = "server.forbidden" ["detail"],
    /// The server does not know what was asked for: `detail` (English, from the server).
    ServerNotFound = "server.not_found" ["detail"],
    /// The server could not complete the request: `status`, `code`.
    ServerRefused = "server.refused" ["status", "code"],
    /// The server answered something this app cannot use.
    ServerBadAnswer = "server.bad_answer" [],
    /// No connection to the server: `detail` (English, for logs).
    NetworkUnreachable = "network.unreachable" ["detail"],
    /// A plain `http://` server without the app's development opt-in (nothing was sent).
    NetworkInsecureHttp = "network.insecure_http" [],
    /// The server's certificate is not trusted by this phone: `detail` (English, for logs).
    NetworkUntrustedCertificate = "network.untrusted_certificate" ["detail"],
    /// The phone's TLS settings could not be used (a bad extra CA): `detail` (English).
    NetworkTlsSetup = "network.tls_setup" ["detail"],
    /// The store key is not 32 bytes.
    InputBadKey = "input.bad_key" [],
    /// The device id is empty.
    InputEmptyDeviceId = "input.empty_device_id" [],
    /// A value is not JSON: `field`.
    InputNotJson = "input.not_json" ["field"],
    /// A date is not `YYYY-MM-DD`: `field`, `value`.
    InputBadDate = "input.bad_date" ["field", "value"],
}

impl Code {
    /// The id of this code's message in a Fluent catalogue (`case-closed`).
    pub fn message_id(self) -> String {
        self.as_str().replace('.', "-")
    }
}

/// Parameters whose values are stable names the catalogues label, and the prefix of
/// their labels: `from = "intake"` is shown as the catalogue's `stage-intake`.
pub const LABELLED_PARAMS: &[(&str, &str)] =
    &[("from", "stage"), ("to", "stage"), ("role", "role")];

/// Named parameters of a message, in a fixed order.
pub type Params = Vec<(&'static str, String)>;

/// An error that an app formats from its code and parameters.
pub trait Coded {
    /// The stable code.
    fn code(&self) -> Code;
    /// The named parameters of its message.
    fn params(&self) -> Params;
}

impl Coded for CaseError {
    fn code(&self) -> Code {
        match self {
            CaseError::Corrupt(_) => Code::CaseCorrupt,
            CaseError::OverLimit { .. } => Code::CaseOverLimit,
            CaseError::Malformed(_) => Code::CaseMalformed,
            CaseError::UnsupportedSchema { .. } => Code::CaseUnsupportedSchema,
            CaseError::Invalid { .. } => Code::CaseInvalid,
            CaseError::TooLarge { .. } => Code::CaseTooLarge,
            CaseError::NotFound { .. } => Code::CaseNotFound,
            CaseError::Forbidden { .. } => Code::CaseForbidden,
            CaseError::BadTransition { .. } => Code::CaseStageNotAllowed,
            CaseError::Closed => Code::CaseClosed,
            CaseError::ReferralNeedsConsent => Code::CaseReferralNeedsConsent,
            CaseError::ReferralNeedsSensitiveConsent => Code::CaseReferralNeedsSensitiveConsent,
            CaseError::NoConflict(_) => Code::CaseNoConflict,
            CaseError::Automerge(_) => Code::CaseOperationFailed,
        }
    }

    fn params(&self) -> Params {
        match self {
            CaseError::OverLimit { what, limit } => {
                vec![("what", (*what).into()), ("limit", limit.to_string())]
            }
            CaseError::Malformed(field) => vec![("field", field.clone())],
            CaseError::UnsupportedSchema { found, supported } => vec![
                ("found", found.to_string()),
                ("supported", supported.to_string()),
            ],
            CaseError::Invalid { field, reason } => {
                vec![("field", (*field).into()), ("reason", reason.clone())]
            }
            CaseError::TooLarge { field, limit } => {
                vec![("field", (*field).into()), ("limit", limit.to_string())]
            }
            CaseError::NotFound { kind, id } => {
                vec![("kind", (*kind).into()), ("id", id.clone())]
            }
            CaseError::Forbidden { role, action } => {
                vec![("role", role.as_str().into()), ("action", (*action).into())]
            }
            CaseError::BadTransition { from, to, reason } => vec![
                ("from", from.as_str().into()),
                ("to", to.as_str().into()),
                ("reason", (*reason).into()),
            ],
            CaseError::NoConflict(path) => vec![("path", path.clone())],
            CaseError::Corrupt(_)
            | CaseError::Closed
            | CaseError::ReferralNeedsConsent
            | CaseError::ReferralNeedsSensitiveConsent
            | CaseError::Automerge(_) => vec![],
        }
    }
}

impl Coded for StoreError {
    fn code(&self) -> Code {
        match self {
            StoreError::WrongKey => Code::StoreWrongKey,
            StoreError::Corrupt { .. } => Code::StoreCorrupt,
            StoreError::CorruptMeta(_) => Code::StoreCorruptMeta,
            StoreError::NotFound(_) => Code::StoreCaseNotFound,
            StoreError::Case(c) => c.code(),
            StoreError::Backend(_) => Code::StoreFailure,
        }
    }

    fn params(&self) -> Params {
        match self {
            StoreError::Corrupt { case_id } | StoreError::NotFound(case_id) => {
                vec![("case_id", case_id.clone())]
            }
            StoreError::CorruptMeta(record) => vec![("record", (*record).into())],
            StoreError::Case(c) => c.params(),
            StoreError::WrongKey | StoreError::Backend(_) => vec![],
        }
    }
}

impl Coded for SyncError {
    fn code(&self) -> Code {
        match self {
            SyncError::Store(s) => s.code(),
            SyncError::Protocol(_) => Code::SyncBadResponse,
            SyncError::BadDocument { .. } => Code::SyncBadDocument,
            SyncError::OutOfOrder(_) => Code::SyncOutOfOrder,
            SyncError::TooManyRoundTrips => Code::SyncTooManyRoundTrips,
        }
    }

    fn params(&self) -> Params {
        match self {
            SyncError::Store(s) => s.params(),
            SyncError::BadDocument { doc_id, .. } => vec![("case_id", doc_id.clone())],
            SyncError::Protocol(_) | SyncError::OutOfOrder(_) | SyncError::TooManyRoundTrips => {
                vec![]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Role, Stage};

    #[test]
    fn codes_are_unique_dotted_and_map_to_fluent_ids() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.split('.').count() == 2
                    && s.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch == '.'),
                "{s}"
            );
            assert!(!c.message_id().contains('.'));
        }
        assert_eq!(Code::CaseClosed.message_id(), "case-closed");
    }

    #[test]
    fn core_errors_carry_their_code_and_parameters() {
        let e = StoreError::Case(CaseError::BadTransition {
            from: Stage::Intake,
            to: Stage::Planning,
            reason: "consent first",
        });
        assert_eq!(e.code(), Code::CaseStageNotAllowed);
        assert_eq!(
            e.params(),
            vec![
                ("from", "intake".to_string()),
                ("to", "planning".to_string()),
                ("reason", "consent first".to_string())
            ]
        );
        let e = CaseError::Forbidden {
            role: Role::Chw,
            action: "resolve conflicts",
        };
        assert_eq!(e.code().as_str(), "case.forbidden");
        assert_eq!(e.params()[0], ("role", "chw".to_string()));
        let samples: Vec<Box<dyn Coded>> = vec![
            Box::new(CaseError::Corrupt("x".into())),
            Box::new(CaseError::OverLimit {
                what: "operations",
                limit: 9,
            }),
            Box::new(CaseError::Malformed("stage".into())),
            Box::new(CaseError::UnsupportedSchema {
                found: 9,
                supported: 1,
            }),
            Box::new(CaseError::Invalid {
                field: "age",
                reason: "over 130".into(),
            }),
            Box::new(CaseError::TooLarge {
                field: "notes",
                limit: 9,
            }),
            Box::new(CaseError::NotFound {
                kind: "goal",
                id: "g".into(),
            }),
            Box::new(CaseError::Closed),
            Box::new(CaseError::NoConflict("client.name".into())),
            Box::new(StoreError::WrongKey),
            Box::new(StoreError::Corrupt {
                case_id: "c".into(),
            }),
            Box::new(StoreError::CorruptMeta("cursor")),
            Box::new(StoreError::NotFound("c".into())),
            Box::new(StoreError::Backend("disk".into())),
            Box::new(SyncError::OutOfOrder("x")),
            Box::new(SyncError::TooManyRoundTrips),
            Box::new(SyncError::BadDocument {
                doc_id: "c".into(),
                source: Box::new(CaseError::Closed),
            }),
        ];
        for s in samples {
            for (name, _) in s.params() {
                assert!(
                    s.code().param_names().contains(&name),
                    "{:?} {name}",
                    s.code()
                );
            }
        }
        let e = SyncError::Store(StoreError::WrongKey);
        assert_eq!(e.code(), Code::StoreWrongKey);
        assert!(e.params().is_empty());
    }
}
