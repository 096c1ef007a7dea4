//! The case document: one Automerge document per case, with a typed API over it.
//!
//! [`CaseDoc`] is the only way the rest of casesync reads or writes a case. Every
//! mutation checks its input and the lifecycle rules first and returns a typed
//! [`CaseError`] without touching the document when they fail; on success it commits one
//! Automerge change carrying the caller's timestamp and a readable message, which is what
//! [`history`](CaseDoc::history) shows.

mod actor;
mod change;
mod conflicts;
mod doc;
mod error;
mod history;
mod ids;
mod import;
mod input;
pub mod model;
mod read;
pub mod rules;
mod scan;
mod schema;

pub use actor::{actor_belongs_to, device_actor, ACTOR_LEN, DEVICE_PREFIX_LEN};
pub use change::{apply_untrusted, decode_change, decode_change_counted};
pub use conflicts::{Conflict, ConflictValue};
pub use doc::{new_entry_id, split_message, validate_case_id, CaseDoc, EditCtx, RESTRICTED_FIELDS};
pub use error::CaseError;
pub use history::HistoryEntry;
pub use ids::IdSource;
pub use input::*;
pub use model::*;
pub use scan::{inflate_document, scan_change, scan_document, Counts};
pub use schema::{is_root_key, DISTINCT_PREFIX, SCHEMA_VERSION};
