//! The JSON API beside the sync wire: the auth messages (`POST /v1/auth/login`,
//! `POST /v1/auth/refresh`) and the error contract every refusal of the HTTP API speaks
//! (`{"code": "...", "message": "..."}`, `code` one of [`ErrorCode`]). Server, phone and
//! tests share these types; `auth/tests.rs` pins their JSON.

use serde::{Deserialize, Serialize};

use crate::case::Role;

/// How a credential shows in `{:?}` (so a logged request or response never holds one).
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &REDACTED)
            .field("device_id", &self.device_id)
            .finish()
    }
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("refresh_token", &REDACTED)
            .field("device_id", &self.device_id)
            .finish()
    }
}

impl std::fmt::Debug for PasswordChangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChangeRequest")
            .field("username", &self.username)
            .field("old_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &REDACTED)
            .field("refresh_token", &REDACTED)
            .field("expires_in", &self.expires_in)
            .field("user_id", &self.user_id)
            .field("role", &self.role)
            .finish()
    }
}

/// Body of `POST /v1/auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The app's device id (bound to the user at first login).
    pub device_id: String,
}

/// Body of `POST /v1/auth/refresh`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The current refresh token (spent by this call).
    pub refresh_token: String,
    /// The device it was issued to.
    pub device_id: String,
}

/// Body of `POST /v1/auth/password`: a user changes their own password (after an
/// administrator's reset, the only way back to a login).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChangeRequest {
    /// Login name.
    pub username: String,
    /// The current (maybe temporary) password.
    pub old_password: String,
    /// The new password (the same rules as any password: at least 8 characters, not
    /// the old one).
    pub new_password: String,
}

/// Fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most bytes of a password (argon2 takes any length; a bound keeps a request's cost
/// bounded).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// The password rules, the server's and the phone's: [`MIN_PASSWORD_CHARS`] to
/// [`MAX_PASSWORD_BYTES`], no control characters.
pub fn password_acceptable(password: &str) -> bool {
    password.chars().count() >= MIN_PASSWORD_CHARS
        && password.len() <= MAX_PASSWORD_BYTES
        && !password.chars().any(char::is_control)
}

/// What login and refresh return.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Access token (JWT) for `Authorization: Bearer`.
    pub access_token: String,
    /// Refresh token (single use).
    pub refresh_token: String,
    /// Access token lifetime, seconds.
    pub expires_in: u64,
    /// User id.
    pub user_id: String,
    /// Role.
    pub role: Role,
}

/// The body of every refusal of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable reason (no personal data).
    pub message: String,
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal,)*) => {
        /// The `code` of an HTTP API refusal. Wire API: a code is never renamed; a client
        /// reads a code it does not know as [`ErrorCode::Unknown`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$doc])* #[serde(rename = $wire)] $variant,)*
            /// A code this build does not know (from a newer server). Never sent.
            #[serde(other, rename = "unknown")]
            Unknown,
        }

        impl ErrorCode {
            /// Every code a server sends, in declaration order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)*
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// The code of a wire string ([`ErrorCode::Unknown`] if it is none).
            pub fn parse(s: &str) -> ErrorCode {
                match s {
                    $($wire => ErrorCode::$variant,)*
                    _ => ErrorCode::Unknown,
                }
            }
        }
    };
}

error_codes! {
    /// Wrong username or password (401).
    BadCredentials = "bad_credentials",
    /// The account is disabled (403).
    UserDisabled = "user_disabled",
    /// The device was revoked: wipe (401).
    DeviceRevoked = "device_revoked",
    /// The device id is bound to another user (403).
    DeviceTaken = "device_taken",
    /// A rotated refresh token presented again: sign in with the password (401).
    RefreshReused = "refresh_reused",
    /// The refresh token expired (401).
    RefreshExpired = "refresh_expired",
    /// No bearer token (401).
    Unauthorized = "unauthorized",
    /// More than one `Authorization` header (401).
    AmbiguousCredentials = "ambiguous_credentials",
    /// The token is invalid, tampered with or expired (401).
    InvalidToken = "invalid_token",
    /// Too many failed logins (429, with `Retry-After`).
    RateLimited = "rate_limited",
    /// The role or scope does not allow this (403).
    Forbidden = "forbidden",
    /// The request's device is not the token's (403).
    DeviceMismatch = "device_mismatch",
    /// Unknown resource or route (404).
    NotFound = "not_found",
    /// The route exists, the method does not (405).
    MethodNotAllowed = "method_not_allowed",
    /// Already exists (409).
    Conflict = "conflict",
    /// The sync message could not be decoded (400).
    BadMessage = "bad_message",
    /// The sync message's protocol version is not spoken (400).
    UnsupportedVersion = "unsupported_version",
    /// The cursor was not made by this server (400).
    BadCursor = "bad_cursor",
    /// Malformed JSON or parameters (400).
    BadRequest = "bad_request",
    /// A case failed validation (400).
    InvalidCase = "invalid_case",
    /// Wrong content type (415).
    UnsupportedMediaType = "unsupported_media_type",
    /// The body is over the limit (413).
    PayloadTooLarge = "payload_too_large",
    /// The client stopped sending (408).
    RequestTimeout = "request_timeout",
    /// A server failure (5xx).
    Internal = "internal",
    /// The server is up but cannot serve yet or any more: its store does not answer,
    /// or it is shutting down (503, `/readyz`).
    Unavailable = "unavailable",
    /// Any other 4xx the framework produced.
    Refused = "refused",
    /// The password is a temporary one an administrator set: change it
    /// (`POST /v1/auth/password`) before logging in (403).
    PasswordChangeRequired = "password_change_required",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
