//! The sync wire format: the one place where sync messages, their version and their
//! encoding live. Server and device share these types. Beside it, [`auth`]: the JSON
//! auth messages and the [`ErrorCode`]s of the HTTP API's error contract.
//!
//! One `POST /v1/sync` carries a [`SyncRequest`] (the device's new changes and its pull
//! cursor) and returns a [`SyncResponse`] (one page of what is new in the device's scope).
//!
//! # Encoding
//!
//! ```text
//! "CS" | version: u8 (= PROTOCOL_VERSION) | compression: u8 | body
//! ```
//!
//! The body is the [postcard](https://docs.rs/postcard) serialization of the message,
//! compressed as one zstd frame at [`ZSTD_LEVEL`] ([`COMPRESSION_ZSTD`]), or left plain
//! ([`COMPRESSION_NONE`]) when compression would not make it smaller (tiny messages).
//! [`encode_request`] / [`encode_response`] write it; [`decode_request`] /
//! [`decode_response`] read untrusted bytes: they never panic, stop at the limits below
//! before allocating past them, and [validate](SyncRequest::validate) what they decoded.
//!
//! # Limits
//!
//! [`MAX_ENCODED_BYTES`], [`MAX_DECODED_BYTES`], [`MAX_DOCS_PER_MESSAGE`],
//! [`MAX_CHANGES_PER_DOC`], [`MIN_CHANGE_BYTES`], [`MAX_CHANGE_BYTES`],
//! [`MAX_DOC_BYTES`], [`MAX_ID_LEN`], [`MAX_DEVICE_ID_LEN`], [`MAX_CURSOR_BYTES`],
//! [`MAX_REFUSAL_MESSAGE_BYTES`]. Senders keep within them (split pushes over several
//! round trips, never page a document larger than [`MAX_DOC_BYTES`]); a message over a
//! limit is refused whole.

pub mod agency;
pub mod auth;
mod bounded;
mod codec;
mod error;
mod limits;
mod messages;

pub use agency::{Agency, AgencyDirectory, SharedReferral, MAX_AGENCIES};
pub use auth::{
    password_acceptable, ErrorBody, ErrorCode, LoginRequest, PasswordChangeRequest, RefreshRequest,
    TokenResponse, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS,
};
pub use codec::{
    decode_request, decode_response, encode_request, encode_response, encoded_len_hint,
    COMPRESSION_NONE, COMPRESSION_ZSTD, HEADER_LEN, MAGIC, ZSTD_LEVEL, ZSTD_WINDOW_LOG_MAX,
};
pub use error::ProtocolError;
pub use limits::*;
pub use messages::*;

#[cfg(test)]
mod tests;
