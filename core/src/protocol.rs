//! The sync wire format: the one place where sync messages, their version and their
//! encoding live. Server and device share these types.
//!
//! One `POST /v1/sync` carries a [`SyncRequest`] (the device's new changes and its pull
//! cursor) and returns a [`SyncResponse`] (one page of what is new in the device's scope).

use serde::{Deserialize, Serialize};

use crate::case::CaseSummary;

/// Wire protocol version. Bumped on any incompatible change of these types.
pub const PROTOCOL_VERSION: u16 = 1;

/// Media type of encoded sync messages.
pub const CONTENT_TYPE: &str = "application/x-casesync";

/// A change hash (32 bytes, as Automerge computes it).
pub type Hash = [u8; 32];

/// The device's side of one sync round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Protocol version the device speaks.
    pub version: u16,
    /// Device id (bound to the access token; the server checks they agree).
    pub device_id: String,
    /// Opaque pull cursor from the last committed page; empty to start from zero.
    pub cursor: Vec<u8>,
    /// New local changes, per document.
    pub push: Vec<DocPush>,
    /// Largest response page the device wants, in encoded bytes (the server caps it).
    pub max_page_bytes: u32,
}

/// A device's new changes to one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPush {
    /// Case id.
    pub doc_id: String,
    /// Raw Automerge changes (`Change::raw_bytes`), in causal order.
    pub changes: Vec<Vec<u8>>,
}

/// The server's answer: one page of the device's scope since its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Protocol version of the server.
    pub version: u16,
    /// Cursor to send next time (after this page is committed).
    pub cursor: Vec<u8>,
    /// Documents that changed or entered the scope.
    pub docs: Vec<DocUpdate>,
    /// Documents that left the scope (reassigned away, erased): drop them once their
    /// unsent edits are acknowledged.
    pub removed: Vec<String>,
    /// Pushes accepted and durably stored.
    pub acked: Vec<PushAck>,
    /// Pushes refused, with reasons; nothing of a refused document's push was stored.
    pub refused: Vec<Refusal>,
    /// More pages follow: sync again with the new cursor.
    pub more: bool,
    /// Estimated documents still to come after this page (for progress).
    pub remaining_estimate: u64,
    /// The device was revoked: wipe local data.
    pub wipe: bool,
}

/// What changed in one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocUpdate {
    /// Case id.
    pub doc_id: String,
    /// The content.
    pub body: DocBody,
}

/// Changes, or the whole document when the device cannot have any of it yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocBody {
    /// Raw Automerge changes the device is missing.
    Changes(Vec<Vec<u8>>),
    /// A compacted document (`save()`), with its summary so the device can index it
    /// without loading it.
    Snapshot {
        /// The saved document.
        doc: Vec<u8>,
        /// Its listing summary.
        summary: CaseSummary,
    },
}

/// A push the server stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAck {
    /// Case id.
    pub doc_id: String,
    /// Hashes of the acknowledged changes.
    pub hashes: Vec<Hash>,
}

/// Why a document's push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalCode {
    /// The document is not in the user's write scope.
    OutOfScope,
    /// A change is signed by an actor that is not this device's.
    ForeignActor,
    /// A change touches a field the user's role may not change.
    RestrictedField,
    /// A change or the document would exceed a size limit.
    TooLarge,
    /// A change is not valid Automerge, or is not a valid case.
    Invalid,
    /// A change depends on changes the server does not have.
    MissingDependencies,
    /// The case was erased.
    Erased,
}

/// A refused document push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Case id.
    pub doc_id: String,
    /// Machine-readable reason.
    pub code: RefusalCode,
    /// Human-readable reason (no personal data).
    pub message: String,
}
