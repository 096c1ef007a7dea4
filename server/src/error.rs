//! [`AppError`]: the one mapping from failures to HTTP responses. Every refusal is a 4xx
//! with a JSON body `{"code": "...", "message": "..."}`; details of internal failures are
//! logged (ids and counts only), never returned. What axum itself answers (unknown
//! route, wrong method, extractor rejections, a panic) is turned into an `AppError` too:
//! see `http/contract.rs`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casesync_core::protocol::{ErrorBody, ErrorCode, ProtocolError};

use crate::store::StoreError;

/// Every way an HTTP request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Wrong username or password (401 `bad_credentials`).
    #[error("wrong username or password")]
    BadCredentials,
    /// The account is disabled (403 `user_disabled`).
    #[error("this account is disabled")]
    UserDisabled,
    /// The device was revoked (401 `device_revoked`).
    #[error("this device was revoked")]
    DeviceRevoked,
    /// The device id is bound to another user (403 `device_taken`).
    #[error("this device is registered to another user")]
    DeviceTaken,
    /// A refresh token of this device was presented again after it was rotated (outside
    /// the grace window, or after its successor was used): the token family is revoked
    /// and a password login is required (401 `refresh_reused`). The device is not
    /// revoked and keeps its data.
    #[error("refresh token already used; sign in again with your password")]
    RefreshReused,
    /// The password is a temporary one an administrator set: the user must change it
    /// (`POST /v1/auth/password`) before logging in or refreshing (403
    /// `password_change_required`).
    #[error("this password was reset by an administrator; change it before signing in")]
    PasswordChangeRequired,
    /// The refresh token expired (401 `refresh_expired`).
    #[error("refresh token expired; log in again")]
    RefreshExpired,
    /// No bearer token (401 `unauthorized`).
    #[error("missing bearer token")]
    Unauthorized,
    /// More than one `Authorization` header: which one is meant is not guessed
    /// (401 `ambiguous_credentials`).
    #[error("more than one Authorization header")]
    AmbiguousCredentials,
    /// The token is invalid, tampered with or expired (401 `invalid_token`).
    #[error("invalid or expired token")]
    InvalidToken,
    /// Too many failed logins of this account from this address (429 `rate_limited`,
    /// with `Retry-After`).
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until this account may be tried again from this address.
        retry_after_secs: u64,
    },
    /// The role or scope does not allow this (403 `forbidden`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// The device in the request is not the token's (403 `device_mismatch`).
    #[error("the request's device is not the token's device")]
    DeviceMismatch,
    /// Unknown resource (404 `not_found`).
    #[error("not found")]
    NotFound,
    /// The route exists, the method does not (405 `method_not_allowed`; axum adds
    /// `Allow`).
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// Already exists (409 `conflict`).
    #[error("{0}")]
    Conflict(String),
    /// The sync message could not be decoded (400 `bad_message`).
    #[error("bad sync message: {0}")]
    BadMessage(String),
    /// The sync message's protocol version is not spoken here (400 `unsupported_version`).
    #[error("{0}")]
    UnsupportedVersion(String),
    /// The cursor was not made by this server (400 `bad_cursor`).
    #[error("the cursor is not valid; sync from an empty cursor")]
    BadCursor,
    /// Malformed JSON or parameters (400 `bad_request`).
    #[error("{0}")]
    BadRequest(String),
    /// A case failed validation (400 `invalid_case`).
    #[error("{0}")]
    InvalidCase(String),
    /// Wrong content type (415 `unsupported_media_type`).
    #[error("expected content type {0}")]
    UnsupportedMediaType(&'static str),
    /// The body is over the limit (413 `payload_too_large`).
    #[error("request body over {0} bytes")]
    PayloadTooLarge(usize),
    /// The client stopped sending (408 `request_timeout`).
    #[error("no data received for too long")]
    Timeout,
    /// A server failure (500 `internal`); details are logged.
    #[error("internal error")]
    Internal(String),
    /// Not ready to serve: the store does not answer (503 `unavailable`); details are
    /// logged.
    #[error("not ready: {0}")]
    Unavailable(&'static str),
    /// Any other refusal status the framework produced, kept as it is (code `refused`
    /// for a 4xx, `internal` for a 5xx); see [`AppError::for_status`].
    #[error("{}", .0.canonical_reason().unwrap_or("refused"))]
    Status(StatusCode),
}

impl AppError {
    /// HTTP status and machine-readable code.
    pub fn status_and_code(&self) -> (StatusCode, ErrorCode) {
        use AppError::*;
        use ErrorCode as C;
        match self {
            BadCredentials => (StatusCode::UNAUTHORIZED, C::BadCredentials),
            UserDisabled => (StatusCode::FORBIDDEN, C::UserDisabled),
            DeviceRevoked => (StatusCode::UNAUTHORIZED, C::DeviceRevoked),
            DeviceTaken => (StatusCode::FORBIDDEN, C::DeviceTaken),
            RefreshReused => (StatusCode::UNAUTHORIZED, C::RefreshReused),
            RefreshExpired => (StatusCode::UNAUTHORIZED, C::RefreshExpired),
            PasswordChangeRequired => (StatusCode::FORBIDDEN, C::PasswordChangeRequired),
            Unauthorized => (StatusCode::UNAUTHORIZED, C::Unauthorized),
            AmbiguousCredentials => (StatusCode::UNAUTHORIZED, C::AmbiguousCredentials),
            InvalidToken => (StatusCode::UNAUTHORIZED, C::InvalidToken),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, C::RateLimited),
            Forbidden(_) => (StatusCode::FORBIDDEN, C::Forbidden),
            DeviceMismatch => (StatusCode::FORBIDDEN, C::DeviceMismatch),
            NotFound => (StatusCode::NOT_FOUND, C::NotFound),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, C::MethodNotAllowed),
            Conflict(_) => (StatusCode::CONFLICT, C::Conflict),
            BadMessage(_) => (StatusCode::BAD_REQUEST, C::BadMessage),
            UnsupportedVersion(_) => (StatusCode::BAD_REQUEST, C::UnsupportedVersion),
            BadCursor => (StatusCode::BAD_REQUEST, C::BadCursor),
            BadRequest(_) => (StatusCode::BAD_REQUEST, C::BadRequest),
            InvalidCase(_) => (StatusCode::BAD_REQUEST, C::InvalidCase),
            UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, C::UnsupportedMediaType)
            }
            PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, C::PayloadTooLarge),
            Timeout => (StatusCode::REQUEST_TIMEOUT, C::RequestTimeout),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, C::Internal),
            Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, C::Unavailable),
            Status(s) if s.is_server_error() => (*s, C::Internal),
            Status(s) => (*s, C::Refused),
        }
    }

    /// The refusal for an error `status` that the framework answered without our body
    /// (`max_body_bytes` names the limit of a 413).
    pub fn for_status(status: StatusCode, max_body_bytes: usize) -> AppError {
        match status {
            StatusCode::BAD_REQUEST => AppError::BadRequest("bad request".into()),
            StatusCode::UNAUTHORIZED => AppError::Unauthorized,
            StatusCode::NOT_FOUND => AppError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => AppError::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(max_body_bytes),
            other => AppError::Status(other),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let code_str = code.as_str();
        match &self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            _ if status.is_server_error() => {
                tracing::error!(code = code_str, %status, "server error")
            }
            _ => tracing::debug!(code = code_str, "request refused"),
        }
        metrics::counter!("casesync_http_refusals_total", "code" => code_str).increment(1);
        let mut resp = (
            status,
            Json(ErrorBody {
                code,
                message: self.to_string(),
            }),
        )
            .into_response();
        match &self {
            AppError::RateLimited { retry_after_secs } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            // The rest of a timed-out body is never read: the connection cannot be reused.
            AppError::Timeout => {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<ProtocolError> for AppError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::UnsupportedVersion { .. } => AppError::UnsupportedVersion(e.to_string()),
            other => AppError::BadMessage(other.to_string()),
        }
    }
}

impl From<crate::sync::SyncError> for AppError {
    fn from(e: crate::sync::SyncError) -> Self {
        match e {
            crate::sync::SyncError::Store(s) => s.into(),
            crate::sync::SyncError::BadCursor(_) => AppError::BadCursor,
            crate::sync::SyncError::BadMessage(p) => p.into(),
            crate::sync::SyncError::DeviceMismatch => AppError::DeviceMismatch,
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("worker task failed: {e}"))
    }
}

/// Whether a response already carries a body of ours: the JSON of an [`AppError`], or
/// a dashboard page (the dashboard renders its own refusals as HTML, see `web.rs`).
pub(crate) fn has_our_body(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"))
}
