//! [`CasesyncError`]: the one error the app sees, and the ONE place where the core's
//! errors and the transport's failures are turned into it.
//!
//! It is a flat error: in Kotlin each variant is a subclass of `CasesyncException` whose
//! `message` is the text below, written so an app can show it to a health worker (it
//! never contains case content, only ids and field names).

use casesync_core::case::CaseError;
use casesync_core::protocol::ErrorCode;
use casesync_core::store::StoreError;
use casesync_core::sync::SyncError;

use crate::transport::TransportError;

/// Why a casesync call failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum CasesyncError {
    /// The key does not open this store (nothing was changed).
    #[error("This phone's data could not be opened: the key is wrong.")]
    WrongKey,
    /// The case (or the goal, visit, referral, household member) does not exist.
    #[error("Not found: {0}")]
    NotFound(String),
    /// A value is missing or not acceptable, or the case is not at a stage where this
    /// step is allowed.
    #[error("{0}")]
    Invalid(String),
    /// The user's role may not do this.
    #[error("Not allowed: {0}")]
    Forbidden(String),
    /// The case is closed; a coordinator reopens it first.
    #[error("This case is closed. A coordinator can reopen it.")]
    Closed,
    /// A conflict to resolve does not exist, or the chosen value is not one of its values.
    #[error("{0}")]
    Conflict(String),
    /// The server could not be reached or the link dropped (edits stay on the phone).
    #[error("No connection to the server ({0}). Your work is saved on this phone and will be sent at the next sync.")]
    Network(String),
    /// Not logged in, the password is wrong, or the session expired: log in again.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many failed login attempts.
    #[error("Too many attempts. Wait a few minutes and try again.")]
    RateLimited,
    /// This device was revoked by an administrator (lost or replaced): its local data has
    /// been erased, including the edits the server never received (counted here and in
    /// `CaseStore.last_wipe`).
    #[error("This phone was removed from the programme; its case data was erased, including {unsent_changes} unsent change(s) in {unsent_cases} case(s). Contact your coordinator.")]
    DeviceRevoked {
        /// Cases that had unsent edits.
        unsent_cases: u64,
        /// Unsent changes destroyed.
        unsent_changes: u64,
    },
    /// The server refused the request or answered something this app cannot use.
    #[error("The server could not complete the request: {0}")]
    Server(String),
    /// The phone's storage failed or a stored record is damaged.
    #[error("The data on this phone could not be read or written: {0}")]
    Storage(String),
    /// The operation was cancelled (sync keeps every page it had already saved).
    #[error("Cancelled. Everything received so far is saved.")]
    Cancelled,
}

impl From<CaseError> for CasesyncError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::Invalid { .. }
            | CaseError::TooLarge { .. }
            | CaseError::OverLimit { .. }
            | CaseError::BadTransition { .. } => CasesyncError::Invalid(e.to_string()),
            CaseError::NotFound { .. } => CasesyncError::NotFound(e.to_string()),
            CaseError::Forbidden { .. } => CasesyncError::Forbidden(e.to_string()),
            CaseError::Closed => CasesyncError::Closed,
            CaseError::NoConflict(_) => CasesyncError::Conflict(e.to_string()),
            CaseError::Corrupt(_)
            | CaseError::Malformed(_)
            | CaseError::UnsupportedSchema { .. }
            | CaseError::Automerge(_) => CasesyncError::Storage(e.to_string()),
        }
    }
}

impl From<StoreError> for CasesyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::WrongKey => CasesyncError::WrongKey,
            StoreError::NotFound(id) => CasesyncError::NotFound(format!("case {id}")),
            StoreError::Case(c) => c.into(),
            StoreError::Corrupt { .. } | StoreError::CorruptMeta(_) | StoreError::Backend(_) => {
                CasesyncError::Storage(e.to_string())
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
            | SyncError::TooManyRoundTrips => CasesyncError::Server(e.to_string()),
            SyncError::OutOfOrder(_) => CasesyncError::Storage(e.to_string()),
        }
    }
}

impl From<TransportError> for CasesyncError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Link(m) => CasesyncError::Network(m),
            TransportError::Status {
                status,
                code,
                message,
            } => match (status, code) {
                // The counts are filled in by the wipe (`CaseStore::server_error`).
                (401, ErrorCode::DeviceRevoked) => CasesyncError::DeviceRevoked {
                    unsent_cases: 0,
                    unsent_changes: 0,
                },
                // A spent refresh token after the grace window: the token family is
                // revoked, not the device. Sign in again; nothing on the phone is lost.
                (401, ErrorCode::RefreshReused) => CasesyncError::Unauthorized(
                    "Please sign in again with your password. Your work is saved on this phone and will be sent after you sign in.".into(),
                ),
                (401, ErrorCode::BadCredentials) => {
                    CasesyncError::Unauthorized("Wrong username or password.".into())
                }
                (401, _) => CasesyncError::Unauthorized(
                    "Your session has expired. Please log in again.".into(),
                ),
                (429, _) => CasesyncError::RateLimited,
                (403, _) => CasesyncError::Forbidden(message),
                (404, _) => CasesyncError::NotFound(message),
                _ => CasesyncError::Server(format!("{message} ({status} {code})")),
            },
            TransportError::BadBody(m) => CasesyncError::Server(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, code: &str) -> CasesyncError {
        TransportError::Status {
            status,
            code: ErrorCode::parse(code),
            message: "m".into(),
        }
        .into()
    }

    #[test]
    fn http_failures_map_to_what_the_app_must_do() {
        assert!(
            matches!(status(401, "refresh_reused"), CasesyncError::Unauthorized(ref m) if m.contains("sign in again")),
            "a reused refresh token asks for the password, it does not wipe"
        );
        assert!(matches!(
            status(401, "device_revoked"),
            CasesyncError::DeviceRevoked { .. }
        ));
        assert!(matches!(
            status(401, "bad_credentials"),
            CasesyncError::Unauthorized(_)
        ));
        assert!(matches!(
            status(401, "invalid_token"),
            CasesyncError::Unauthorized(_)
        ));
        assert!(matches!(
            status(429, "rate_limited"),
            CasesyncError::RateLimited
        ));
        assert!(matches!(status(500, "internal"), CasesyncError::Server(_)));
    }

    #[test]
    fn core_errors_keep_their_meaning() {
        assert!(matches!(
            CasesyncError::from(StoreError::WrongKey),
            CasesyncError::WrongKey
        ));
        assert!(matches!(
            CasesyncError::from(StoreError::Case(CaseError::Closed)),
            CasesyncError::Closed
        ));
        let e = CasesyncError::from(StoreError::NotFound("c-1".into()));
        assert_eq!(e.to_string(), "Not found: case c-1");
    }
}
