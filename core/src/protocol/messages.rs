//! The sync message types. Field names are wire API: change them only with a
//! [`PROTOCOL_VERSION`] bump. The `serde` attributes enforce the limits while decoding
//! (see `bounded.rs`) and do not change the postcard wire form.

use serde::{Deserialize, Serialize};

use super::bounded;
use crate::case::CaseSummary;

/// Wire protocol version. Bumped on any incompatible change of these types; it is also
/// the version byte of the encoded header, so it must fit in a `u8`.
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
    #[serde(
        serialize_with = "bounded::ser_bytes",
        deserialize_with = "bounded::cursor"
    )]
    pub cursor: Vec<u8>,
    /// New local changes, per document.
    #[serde(deserialize_with = "bounded::push")]
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
    #[serde(
        serialize_with = "bounded::ser_changes",
        deserialize_with = "bounded::changes"
    )]
    pub changes: Vec<Vec<u8>>,
}

/// The server's answer: one page of the device's scope since its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Protocol version of the server.
    pub version: u16,
    /// Cursor to send next time (after this page is committed).
    #[serde(
        serialize_with = "bounded::ser_bytes",
        deserialize_with = "bounded::cursor"
    )]
    pub cursor: Vec<u8>,
    /// Documents that changed or entered the scope.
    #[serde(deserialize_with = "bounded::docs")]
    pub docs: Vec<DocUpdate>,
    /// Documents that left the scope (reassigned away, erased): drop them once their
    /// unsent edits are acknowledged.
    #[serde(deserialize_with = "bounded::removed")]
    pub removed: Vec<String>,
    /// Pushes accepted and durably stored.
    #[serde(deserialize_with = "bounded::acked")]
    pub acked: Vec<PushAck>,
    /// Pushes refused, with reasons; nothing of a refused document's push was stored.
    #[serde(deserialize_with = "bounded::refused")]
    pub refused: Vec<Refusal>,
    /// More pages follow: sync again with the new cursor.
    pub more: bool,
    /// Estimated documents still to come after this page (for progress).
    pub remaining_estimate: u64,
    /// The device was revoked: wipe local data.
    pub wipe: bool,
}

impl SyncResponse {
    /// The whole answer to a revoked device: wipe local data (nothing else).
    pub fn wipe() -> Self {
        SyncResponse {
            version: super::PROTOCOL_VERSION,
            cursor: Vec::new(),
            docs: Vec::new(),
            removed: Vec::new(),
            acked: Vec::new(),
            refused: Vec::new(),
            more: false,
            remaining_estimate: 0,
            wipe: true,
        }
    }
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
    Changes(
        #[serde(
            serialize_with = "bounded::ser_changes",
            deserialize_with = "bounded::changes"
        )]
        Vec<Vec<u8>>,
    ),
    /// A compacted document (`save()`), with its summary so the device can index it
    /// without loading it.
    Snapshot {
        /// The saved document.
        #[serde(
            serialize_with = "bounded::ser_bytes",
            deserialize_with = "bounded::doc"
        )]
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
    #[serde(deserialize_with = "bounded::hashes")]
    pub hashes: Vec<Hash>,
}

/// Why a document's push was refused (nothing of it was stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
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
    /// The case was erased (consent withdrawn): the device removes it.
    Erased,
}

/// A refused document push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Refusal {
    /// Case id (`caseId` in Kotlin).
    #[cfg_attr(feature = "uniffi", uniffi(name = "case_id"))]
    pub doc_id: String,
    /// Machine-readable reason.
    pub code: RefusalCode,
    /// Human-readable reason (no personal data).
    pub message: String,
}
