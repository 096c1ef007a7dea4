//! Login state and transport settings, and the two auth calls
//! (`POST /v1/auth/login`, `POST /v1/auth/refresh`).

use std::fmt;
use std::time::Duration;

use casesync_core::sync::driver::Policy;

use casesync_core::case::Role;
use casesync_core::protocol::{LoginRequest, RefreshRequest, TokenResponse};

use crate::transport::{Http, TransportError};

/// A bearer credential (an access or a refresh token). Its `Debug` (Rust) and
/// `toString()` (Kotlin: `org.casesync.SecretToken`, aliased `Token`) print `Token(redacted)`, so logging a
/// [`Session`] or a crash report holding one never carries a credential; the text is
/// read on purpose (`expose()` in Rust, `.value` in Kotlin).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token's text.
    pub fn new(text: impl Into<String>) -> Self {
        Token(text.into())
    }

    /// The token's text (for the `Authorization` header or the refresh body only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

uniffi::custom_type!(
    /// A bearer credential; Kotlin's `org.casesync.SecretToken`, whose `toString()` hides it.
    Token, String, {
    lower: |t| t.0,
    try_lift: |s| Ok(Token(s)),
});

/// A logged-in user on this device. The app keeps it (e.g. in encrypted preferences)
/// and hands it back with `CaseStore.restoreSession` after a restart, so a worker can
/// keep editing offline for days; edits are signed with its user id and role.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Session {
    /// Base URL of the server, e.g. `https://cases.example.org`.
    pub server_url: String,
    /// User id.
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Short-lived access token (JWT).
    pub access_token: Token,
    /// Single-use refresh token (rotated at every refresh).
    pub refresh_token: Token,
    /// When the access token expires, ms since the Unix epoch (this phone's clock).
    pub access_expires_at_ms: i64,
}

/// How the device talks to the server. The defaults suit 2G: generous inactivity
/// time-outs and no limit on how long a page may take while data keeps arriving.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TransportConfig {
    /// Give up connecting after this long.
    #[uniffi(default = 30000)]
    pub connect_timeout_ms: u64,
    /// Give up when no byte moved for this long (per read or write, not per request).
    #[uniffi(default = 60000)]
    pub idle_timeout_ms: u64,
    /// Retries of one sync round trip after the link dropped (then `Network`).
    #[uniffi(default = 5)]
    pub max_retries: u32,
    /// The first retry waits between half of this and all of it (jitter); the cap doubles
    /// with each retry in a row.
    #[uniffi(default = 1000)]
    pub backoff_initial_ms: u64,
    /// Longest wait between retries.
    #[uniffi(default = 30000)]
    pub backoff_max_ms: u64,
    /// Largest response page to ask for, in bytes.
    #[uniffi(default = 262144)]
    pub page_bytes: u32,
    /// Send to plain `http://` servers (development and loopback tests only). Off:
    /// an `http://` URL is refused with `network.insecure_http` before any byte is sent.
    #[uniffi(default = false)]
    pub allow_insecure_http: bool,
    /// A programme's private CA certificates (PEM), trusted besides the phone's own
    /// trust store (at most 16, each at most 64 KiB). Not on Android, whose platform
    /// verifier takes no extra roots (`network.tls_setup` at login or sync): there,
    /// install the CA on the phone (device management, or Settings > Security).
    #[uniffi(default = [])]
    pub extra_ca_certificates_pem: Vec<String>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout_ms: 30_000,
            idle_timeout_ms: 60_000,
            max_retries: 5,
            backoff_initial_ms: 1_000,
            backoff_max_ms: 30_000,
            page_bytes: casesync_core::sync::DEFAULT_PAGE_BYTES,
            allow_insecure_http: false,
            extra_ca_certificates_pem: Vec::new(),
        }
    }
}

impl TransportConfig {
    /// The HTTP client for these settings (the OS trust store is read afresh, so a CA
    /// installed since the last sync applies).
    pub(crate) fn http(&self) -> Result<Http, TransportError> {
        let tls = crate::tls::client_config(&self.extra_ca_certificates_pem)
            .map_err(|e| TransportError::TlsSetup(e.0))?;
        Ok(Http::new(
            Duration::from_millis(self.connect_timeout_ms),
            Duration::from_millis(self.idle_timeout_ms),
            tls,
            self.allow_insecure_http,
        ))
    }

    /// The retry rules of the core's sync loop (and of a refresh whose answer is lost).
    pub(crate) fn policy(&self) -> Policy {
        Policy {
            max_retries: self.max_retries,
            backoff_initial: Duration::from_millis(self.backoff_initial_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
        }
    }
}

fn session(server_url: &str, t: TokenResponse, now_ms: i64) -> Session {
    Session {
        server_url: server_url.to_owned(),
        user_id: t.user_id,
        role: t.role,
        access_token: Token(t.access_token),
        refresh_token: Token(t.refresh_token),
        access_expires_at_ms: now_ms.saturating_add((t.expires_in as i64).saturating_mul(1000)),
    }
}

/// `{server_url}/{path}` without a doubled slash.
pub(crate) fn url(server_url: &str, path: &str) -> String {
    format!("{}/{}", server_url.trim_end_matches('/'), path)
}

/// `POST /v1/auth/login`.
pub(crate) fn login(
    http: &Http,
    server_url: &str,
    username: &str,
    password: &str,
    device_id: &str,
    now_ms: i64,
) -> Result<Session, TransportError> {
    let body = LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
        device_id: device_id.to_owned(),
    };
    let t: TokenResponse = http.post_json(&url(server_url, "v1/auth/login"), &body)?;
    Ok(session(server_url, t, now_ms))
}

/// `POST /v1/auth/refresh` (the old refresh token is spent).
pub(crate) fn refresh(
    http: &Http,
    old: &Session,
    device_id: &str,
    now_ms: i64,
) -> Result<Session, TransportError> {
    let body = RefreshRequest {
        refresh_token: old.refresh_token.expose().to_owned(),
        device_id: device_id.to_owned(),
    };
    let t: TokenResponse = http.post_json(&url(&old.server_url, "v1/auth/refresh"), &body)?;
    Ok(session(&old.server_url, t, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = TransportConfig::default().policy();
        assert_eq!(c.backoff_cap(1), Duration::from_secs(1));
        assert_eq!(c.backoff_cap(3), Duration::from_secs(4));
        assert_eq!(c.backoff_cap(40), Duration::from_secs(30));
        assert_eq!(url("http://h:1/", "v1/sync"), "http://h:1/v1/sync");
    }

    /// A session written to a log (`{:?}`) must not carry its tokens (it did before the
    /// tokens were `Token`s: the derived `Debug` printed them).
    #[test]
    fn debug_output_hides_the_tokens() {
        let s = session(
            "https://cases.example.org",
            TokenResponse {
                access_token: "eyJhbGciOi.access-secret".into(),
                refresh_token: "refresh-secret-4f2a".into(),
                expires_in: 900,
                user_id: "chw1".into(),
                role: Role::Chw,
            },
            0,
        );
        let printed = format!("{s:?}");
        assert!(!printed.contains("access-secret"), "{printed}");
        assert!(!printed.contains("refresh-secret"), "{printed}");
        assert!(printed.contains("chw1"), "{printed}");
        assert_eq!(s.access_token.expose(), "eyJhbGciOi.access-secret");
    }
}
