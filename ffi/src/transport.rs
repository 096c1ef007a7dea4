//! The device's HTTP transport (ureq 2 over rustls/ring; blocking, called from a
//! background thread). Certificates are checked by the platform verifier and plain
//! `http://` is refused before any byte is sent unless the app opted in (`tls.rs`).
//!
//! Time-outs are inactivity time-outs only: connecting, and each read or write on the
//! socket. There is deliberately no total-duration time-out, so a 256 KB page arriving
//! at 2G speed for a minute is never aborted while bytes keep coming.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use casesync_core::protocol::{ErrorCode, CONTENT_TYPE, MAX_ENCODED_BYTES};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Largest JSON answer accepted (auth responses are a few hundred bytes).
const MAX_JSON_BYTES: u64 = 64 * 1024;

/// Why an HTTP exchange failed (converted to `CasesyncError` in `error.rs`).
#[derive(Debug)]
pub(crate) enum TransportError {
    /// No answer: DNS, connect, time-out, reset, dropped mid-body. Worth retrying.
    Link(String),
    /// The server answered with an error status and (usually) a JSON `{code, message}`.
    Status {
        /// HTTP status.
        status: u16,
        /// Machine-readable code (`Unknown` when the body had none or one this build
        /// does not know).
        code: ErrorCode,
        /// Human-readable message.
        message: String,
    },
    /// A success status with a body this app cannot read.
    BadBody(String),
    /// A plain `http://` URL without the development opt-in: nothing was sent.
    InsecureHttp,
    /// The server's certificate was refused (unknown issuer, expired, wrong name).
    Untrusted(String),
    /// The TLS configuration could not be built (a bad extra CA, no trust store).
    TlsSetup(String),
    /// The caller cancelled while the answer was arriving (nothing of it applied).
    Cancelled,
}

impl TransportError {
    /// Whether the same request may succeed if sent again (link dropped, server busy).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            TransportError::Link(_) => true,
            TransportError::Status { status, .. } => matches!(status, 408 | 502 | 503 | 504),
            TransportError::BadBody(_)
            | TransportError::InsecureHttp
            | TransportError::Untrusted(_)
            | TransportError::TlsSetup(_)
            | TransportError::Cancelled => false,
        }
    }

    /// Whether the answer was lost on the way (no answer, or a proxy's time-out): the
    /// next request asks for a smaller page.
    pub(crate) fn is_lost_answer(&self) -> bool {
        match self {
            TransportError::Link(_) => true,
            TransportError::Status { status, .. } => matches!(status, 408 | 504),
            TransportError::BadBody(_)
            | TransportError::InsecureHttp
            | TransportError::Untrusted(_)
            | TransportError::TlsSetup(_)
            | TransportError::Cancelled => false,
        }
    }

    /// Whether the access token was refused (expired or invalid): refresh, then retry.
    pub(crate) fn is_expired_token(&self) -> bool {
        matches!(
            self,
            TransportError::Status {
                status: 401,
                code: ErrorCode::InvalidToken | ErrorCode::Unauthorized,
                ..
            }
        )
    }
}

/// The error body, leniently: a missing field is empty, not an unreadable answer.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default = "unknown")]
    code: ErrorCode,
    #[serde(default)]
    message: String,
}

fn unknown() -> ErrorCode {
    ErrorCode::Unknown
}

/// A blocking HTTP client with inactivity time-outs.
pub(crate) struct Http {
    agent: ureq::Agent,
    allow_http: bool,
}

impl Http {
    /// A client that gives up connecting after `connect` and waits at most `idle`
    /// for each read or write, checks certificates with `tls`, and sends to plain
    /// `http://` URLs only if `allow_http`.
    pub(crate) fn new(
        connect: Duration,
        idle: Duration,
        tls: Arc<rustls::ClientConfig>,
        allow_http: bool,
    ) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(connect)
            .timeout_read(idle)
            .timeout_write(idle)
            .tls_config(tls)
            .user_agent(concat!("casesync-ffi/", env!("CARGO_PKG_VERSION")))
            .build();
        Http { agent, allow_http }
    }

    /// Refuses a plain `http://` URL unless the app opted in (nothing is sent).
    fn check_scheme(&self, url: &str) -> Result<(), TransportError> {
        if !self.allow_http && crate::tls::is_plain_http(url) {
            return Err(TransportError::InsecureHttp);
        }
        Ok(())
    }

    /// POSTs a JSON body and reads a JSON answer.
    pub(crate) fn post_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl Serialize,
    ) -> Result<T, TransportError> {
        self.check_scheme(url)?;
        let body = serde_json::to_string(body)
            .map_err(|e| TransportError::BadBody(format!("request not encodable: {e}")))?;
        let resp = self
            .agent
            .post(url)
            .set("content-type", "application/json")
            .send_string(&body)
            .map_err(failure)?;
        let bytes = read_body(resp, MAX_JSON_BYTES)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| TransportError::BadBody(format!("unexpected answer from {url}: {e}")))
    }

    /// GETs a JSON answer of at most `limit` bytes with the bearer token.
    pub(crate) fn get_json_auth<T: DeserializeOwned>(
        &self,
        url: &str,
        access_token: &str,
        limit: u64,
    ) -> Result<T, TransportError> {
        self.check_scheme(url)?;
        let resp = self
            .agent
            .get(url)
            .set("accept", "application/json")
            .set("authorization", &format!("Bearer {access_token}"))
            .call()
            .map_err(failure)?;
        let bytes = read_body(resp, limit)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| TransportError::BadBody(format!("unexpected answer from {url}: {e}")))
    }

    /// POSTs an encoded sync request with the bearer token; returns the encoded response.
    /// `cancelled` is asked between two reads of the answer (at most [`READ_CHUNK`]
    /// bytes): a page arriving over 2G is given up within a second or so of a cancel.
    pub(crate) fn post_sync(
        &self,
        url: &str,
        access_token: &str,
        body: &[u8],
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<u8>, TransportError> {
        self.check_scheme(url)?;
        let resp = self
            .agent
            .post(url)
            .set("content-type", CONTENT_TYPE)
            .set("accept", CONTENT_TYPE)
            .set("authorization", &format!("Bearer {access_token}"))
            .send_bytes(body)
            .map_err(failure)?;
        let mut reader = resp.into_reader().take(MAX_ENCODED_BYTES as u64 + 1);
        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; READ_CHUNK];
        loop {
            if cancelled() {
                return Err(TransportError::Cancelled);
            }
            match reader.read(&mut chunk) {
                Ok(0) => return Ok(bytes),
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TransportError::Link(format!("the answer was cut off: {e}"))),
            }
        }
    }
}

/// Most bytes of a sync answer read at once (a cancel is seen between two reads).
const READ_CHUNK: usize = 16 * 1024;

fn read_body(resp: ureq::Response, limit: u64) -> Result<Vec<u8>, TransportError> {
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| TransportError::Link(format!("the answer was cut off: {e}")))?;
    Ok(bytes)
}

fn failure(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Status(status, resp) => {
            let mut raw = Vec::new();
            let _ = resp
                .into_reader()
                .take(MAX_JSON_BYTES)
                .read_to_end(&mut raw);
            let body: Option<ErrorBody> = serde_json::from_slice(&raw).ok();
            let (code, message) = body
                .map(|b| (b.code, b.message))
                .unwrap_or_else(|| (ErrorCode::Unknown, format!("HTTP {status}")));
            TransportError::Status {
                status,
                code,
                message,
            }
        }
        ureq::Error::Transport(t) => match crate::tls::certificate_problem(&t) {
            Some(problem) => TransportError::Untrusted(problem),
            None => TransportError::Link(t.to_string()),
        },
    }
}
