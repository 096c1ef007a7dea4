//! [`CasesyncError`]: the one error the app sees, and the ONE place where the core's
//! errors and the transport's failures are turned into it.
//!
//! One flat enum: the variant says what the app must do (log in again, show the case as
//! closed...), and every variant carries an [`ErrorDetail`]: a stable `code`
//! (`"case.closed"`, `"auth.wrong_password"`, the list is
//! `casesync_core::messages::Code`), its named `params`, and the English sentence for
//! logs. The app formats code + params in the worker's language from the catalogues
//! mobile-bindings ships (`CasesyncMessages.format(error, locale)` in Kotlin). The
//! English text never contains case content, only ids, field names and counts.

use std::collections::HashMap;

use casesync_core::case::CaseError;
use casesync_core::messages::{Code, Coded, Params};
use casesync_core::protocol::ErrorCode;
use casesync_core::store::StoreError;
use casesync_core::sync::SyncError;

use crate::transport::TransportError;

/// What an error says, for the app to format and for logs.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ErrorDetail {
    /// Stable code (`"case.closed"`); its catalogue message is `case-closed`.
    pub code: String,
    /// Named parameters of the message (numbers in Latin digits, stages and roles by
    /// their stable names).
    pub params: HashMap<String, String>,
    /// The English sentence, for logs (not for the worker: format `code` instead).
    pub english: String,
}

impl ErrorDetail {
    fn new(code: Code, params: Params, english: impl Into<String>) -> Self {
        ErrorDetail {
            code: code.as_str().into(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            english: english.into(),
        }
    }

    fn of(e: &impl Coded, english: String) -> Self {
        Self::new(e.code(), e.params(), english)
    }
}

/// Why a casesync call failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CasesyncError {
    /// The key does not open this store (nothing was changed).
    #[error("{}", detail.english)]
    WrongKey {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The case (or the goal, visit, referral, household member) does not exist.
    #[error("{}", detail.english)]
    NotFound {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// A value is missing or not acceptable, or the case is not at a stage where this
    /// step is allowed.
    #[error("{}", detail.english)]
    Invalid {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The user's role may not do this.
    #[error("{}", detail.english)]
    Forbidden {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The case is closed; a coordinator reopens it first.
    #[error("{}", detail.english)]
    Closed {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// A conflict to resolve does not exist, or the chosen value is not one of its values.
    #[error("{}", detail.english)]
    Conflict {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The server could not be reached or the link dropped (edits stay on the phone).
    #[error("{}", detail.english)]
    Network {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// Not logged in, the password is wrong, or the session expired: log in again.
    #[error("{}", detail.english)]
    Unauthorized {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// Too many failed login attempts.
    #[error("{}", detail.english)]
    RateLimited {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// This device was revoked by an administrator (lost or replaced): its local data has
    /// been erased, including the edits the server never received (counted here and in
    /// `CaseStore.last_wipe`).
    #[error("{}", detail.english)]
    DeviceRevoked {
        /// Cases that had unsent edits.
        unsent_cases: i64,
        /// Unsent changes destroyed.
        unsent_changes: i64,
        /// Code, parameters (the two counts), English text.
        detail: ErrorDetail,
    },
    /// The connection was refused as unsafe before anything was exchanged: a plain
    /// `http://` server without the development opt-in, a server certificate this
    /// phone does not trust, or unusable TLS settings. Retrying will not help: the
    /// server address or the phone's trust settings must change.
    #[error("{}", detail.english)]
    Insecure {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// A sync is already running on this phone (wait for it, or cancel it).
    #[error("{}", detail.english)]
    Busy {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The server refused the request or answered something this app cannot use.
    #[error("{}", detail.english)]
    Server {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The phone's storage failed or a stored record is damaged.
    #[error("{}", detail.english)]
    Storage {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
    /// The operation was cancelled (sync keeps every page it had already saved).
    #[error("{}", detail.english)]
    Cancelled {
        /// Code, parameters, English text.
        detail: ErrorDetail,
    },
}

impl CasesyncError {
    /// Code, parameters and English text of any variant.
    pub fn detail(&self) -> &ErrorDetail {
        match self {
            CasesyncError::WrongKey { detail }
            | CasesyncError::NotFound { detail }
            | CasesyncError::Invalid { detail }
            | CasesyncError::Forbidden { detail }
            | CasesyncError::Closed { detail }
            | CasesyncError::Conflict { detail }
            | CasesyncError::Network { detail }
            | CasesyncError::Unauthorized { detail }
            | CasesyncError::RateLimited { detail }
            | CasesyncError::DeviceRevoked { detail, .. }
            | CasesyncError::Insecure { detail }
            | CasesyncError::Busy { detail }
            | CasesyncError::Server { detail }
            | CasesyncError::Storage { detail }
            | CasesyncError::Cancelled { detail } => detail,
        }
    }

    /// The stable code (`"case.closed"`).
    pub fn code(&self) -> &str {
        &self.detail().code
    }

    /// A value refused before the core saw it (`input.*` codes).
    pub(crate) fn invalid(code: Code, params: Params, english: impl Into<String>) -> Self {
        CasesyncError::Invalid {
            detail: ErrorDetail::new(code, params, english),
        }
    }

    /// A sync is already running.
    pub(crate) fn busy() -> Self {
        CasesyncError::Busy {
            detail: ErrorDetail::new(
                Code::SyncAlreadyRunning,
                vec![],
                "A sync is already running.",
            ),
        }
    }

    /// Bad TLS settings (a bad extra CA certificate).
    pub(crate) fn tls_setup(detail: String) -> Self {
        CasesyncError::Insecure {
            detail: ErrorDetail::new(
                Code::NetworkTlsSetup,
                vec![("detail", detail.clone())],
                format!("The secure connection settings of this app are not usable: {detail}"),
            ),
        }
    }

    /// The operation was cancelled.
    pub(crate) fn cancelled() -> Self {
        CasesyncError::Cancelled {
            detail: ErrorDetail::new(
                Code::SyncCancelled,
                vec![],
                "Cancelled. Everything received so far is saved.",
            ),
        }
    }

    /// No session on this phone yet.
    pub(crate) fn not_logged_in() -> Self {
        CasesyncError::Unauthorized {
            detail: ErrorDetail::new(Code::AuthNotLoggedIn, vec![], "Please log in first."),
        }
    }

    /// A revoked device whose wipe destroyed these counts.
    pub(crate) fn device_revoked(unsent_cases: i64, unsent_changes: i64) -> Self {
        CasesyncError::DeviceRevoked {
            unsent_cases,
            unsent_changes,
            detail: ErrorDetail::new(
                Code::AuthDeviceRevoked,
                vec![
                    ("unsent_cases", unsent_cases.to_string()),
                    ("unsent_changes", unsent_changes.to_string()),
                ],
                format!("This phone was removed from the programme; its case data was erased, including {unsent_changes} unsent change(s) in {unsent_cases} case(s). Contact your coordinator."),
            ),
        }
    }
}

impl From<CaseError> for CasesyncError {
    fn from(e: CaseError) -> Self {
        let english = match &e {
            CaseError::NotFound { .. } => format!("Not found: {e}"),
            CaseError::Forbidden { .. } => format!("Not allowed: {e}"),
            CaseError::Closed => "This case is closed. A coordinator can reopen it.".into(),
            CaseError::Corrupt(_)
            | CaseError::Malformed(_)
            | CaseError::UnsupportedSchema { .. }
            | CaseError::Automerge(_) => {
                format!("The data on this phone could not be read or written: {e}")
            }
            _ => e.to_string(),
        };
        let detail = ErrorDetail::of(&e, english);
        match e {
            CaseError::Invalid { .. }
            | CaseError::TooLarge { .. }
            | CaseError::OverLimit { .. }
            | CaseError::BadTransition { .. } => CasesyncError::Invalid { detail },
            CaseError::NotFound { .. } => CasesyncError::NotFound { detail },
            // The code (`case.referral_needs_consent`, `…_sensitive_consent`) tells the app
            // which consent to ask the client for.
            CaseError::Forbidden { .. }
            | CaseError::ReferralNeedsConsent
            | CaseError::ReferralNeedsSensitiveConsent => CasesyncError::Forbidden { detail },
            CaseError::Closed => CasesyncError::Closed { detail },
            CaseError::NoConflict(_) => CasesyncError::Conflict { detail },
            CaseError::Corrupt(_)
            | CaseError::Malformed(_)
            | CaseError::UnsupportedSchema { .. }
            | CaseError::Automerge(_) => CasesyncError::Storage { detail },
        }
    }
}

impl From<StoreError> for CasesyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Case(c) => c.into(),
            StoreError::WrongKey => CasesyncError::WrongKey {
                detail: ErrorDetail::of(
                    &e,
                    "This phone's data could not be opened: the key is wrong.".into(),
                ),
            },
            StoreError::NotFound(ref id) => CasesyncError::NotFound {
                detail: ErrorDetail::of(&e, format!("Not found: case {id}")),
            },
            StoreError::Corrupt { .. } | StoreError::CorruptMeta(_) | StoreError::Backend(_) => {
                CasesyncError::Storage {
                    detail: ErrorDetail::of(
                        &e,
                        format!("The data on this phone could not be read or written: {e}"),
                    ),
                }
            }
        }
    }
}

impl From<SyncError> for CasesyncError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::Protocol(_)
            | SyncError::BadDocument { .. }
            | SyncError::TooManyRoundTrips => CasesyncError::Server {
                detail: ErrorDetail::of(
                    &e,
                    format!("The server could not complete the request: {e}"),
                ),
            },
            SyncError::OutOfOrder(_) => CasesyncError::Storage {
                detail: ErrorDetail::of(
                    &e,
                    format!("The data on this phone could not be read or written: {e}"),
                ),
            },
        }
    }
}

impl From<TransportError> for CasesyncError {
    fn from(e: TransportError) -> Self {
        fn d(code: Code, params: Params, english: impl Into<String>) -> ErrorDetail {
            ErrorDetail::new(code, params, english)
        }
        match e {
            TransportError::Link(m) => CasesyncError::Network {
                detail: d(
                    Code::NetworkUnreachable,
                    vec![("detail", m.clone())],
                    format!("No connection to the server ({m}). Your work is saved on this phone and will be sent at the next sync."),
                ),
            },
            TransportError::Status {
                status,
                code,
                message,
            } => match (status, code) {
                // The counts are filled in by the wipe (`CaseStore::server_error`).
                (401, ErrorCode::DeviceRevoked) => CasesyncError::device_revoked(0, 0),
                // A spent refresh token after the grace window: the token family is
                // revoked, not the device. Sign in again; nothing on the phone is lost.
                (401, ErrorCode::RefreshReused) => CasesyncError::Unauthorized {
                    detail: d(
                        Code::AuthSignInAgain,
                        vec![],
                        "Please sign in again with your password. Your work is saved on this phone and will be sent after you sign in.",
                    ),
                },
                (401, ErrorCode::BadCredentials) => CasesyncError::Unauthorized {
                    detail: d(Code::AuthWrongPassword, vec![], "Wrong username or password."),
                },
                // After an administrator's reset: `CaseStore::change_password`, then in.
                (403, ErrorCode::PasswordChangeRequired) => CasesyncError::Unauthorized {
                    detail: d(
                        Code::AuthPasswordChangeRequired,
                        vec![],
                        "Your password was reset. Choose a new password to sign in.",
                    ),
                },
                (401, _) => CasesyncError::Unauthorized {
                    detail: d(
                        Code::AuthSessionExpired,
                        vec![],
                        "Your session has expired. Please log in again.",
                    ),
                },
                (429, _) => CasesyncError::RateLimited {
                    detail: d(
                        Code::AuthRateLimited,
                        vec![],
                        "Too many attempts. Wait a few minutes and try again.",
                    ),
                },
                (403, _) => CasesyncError::Forbidden {
                    detail: d(
                        Code::ServerForbidden,
                        vec![("detail", message.clone())],
                        format!("Not allowed: {message}"),
                    ),
                },
                (404, _) => CasesyncError::NotFound {
                    detail: d(
                        Code::ServerNotFound,
                        vec![("detail", message.clone())],
                        format!("Not found: {message}"),
                    ),
                },
                _ => CasesyncError::Server {
                    detail: d(
                        Code::ServerRefused,
                        vec![("status", status.to_string()), ("code", code.to_string())],
                        format!("The server could not complete the request: {message} ({status} {code})"),
                    ),
                },
            },
            TransportError::InsecureHttp => CasesyncError::Insecure {
                detail: d(
                    Code::NetworkInsecureHttp,
                    vec![],
                    "The server address starts with http://, which is not secure; nothing was sent. Use the https:// address.",
                ),
            },
            TransportError::Untrusted(m) => CasesyncError::Insecure {
                detail: d(
                    Code::NetworkUntrustedCertificate,
                    vec![("detail", m.clone())],
                    format!("The server's certificate is not trusted by this phone ({m}); nothing was sent. Contact your coordinator."),
                ),
            },
            TransportError::TlsSetup(m) => CasesyncError::tls_setup(m),
            TransportError::Cancelled => CasesyncError::cancelled(),
            TransportError::BadBody(m) => CasesyncError::Server {
                detail: d(
                    Code::ServerBadAnswer,
                    vec![],
                    format!("The server could not complete the request: {m}"),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests;
