//! The limits every decoded message obeys, and `validate()` which checks them.
//!
//! Counts and byte lengths of repeated elements are also enforced *while* decoding (see
//! `bounded.rs`), so hostile input cannot make the decoder allocate more than a small
//! multiple of [`MAX_DECODED_BYTES`]; `validate()` repeats those checks (for senders,
//! and for any other serde format) and adds the rules on ids and text.

use std::collections::HashSet;

use super::{DocBody, ProtocolError, SyncRequest, SyncResponse, PROTOCOL_VERSION};
use crate::case::validate_case_id;

/// Largest encoded message accepted (header + compressed body).
pub const MAX_ENCODED_BYTES: usize = 16 * 1024 * 1024;
/// Largest decompressed body accepted. The decompressor stops one byte past it.
///
/// Decoding holds the decompressed body and the decoded message at once, so this bounds
/// what one request costs the server in memory to about twice it (hostile-input suite:
/// the worst request that fits, peak growth under 64 MiB). Devices push at most
/// `sync::MAX_PUSH_BYTES` (512 KiB) a request and pages are a few MiB at most; it stays
/// twice [`MAX_DOC_BYTES`] so any single document fits.
pub const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;
/// Most documents in one message's `push`, `docs`, `removed`, `acked` or `refused`.
pub const MAX_DOCS_PER_MESSAGE: usize = 10_000;
/// Most changes for one document in one message (and hashes in one [`super::PushAck`]).
/// Senders with more split them over several round trips.
pub const MAX_CHANGES_PER_DOC: usize = 10_000;
/// Smallest raw Automerge change accepted: its chunk header alone (magic, checksum, type,
/// length) takes 10 bytes. Rejecting smaller ones while decoding also bounds how much
/// memory a flood of tiny elements can take.
pub const MIN_CHANGE_BYTES: usize = 10;
/// Largest raw Automerge change.
pub const MAX_CHANGE_BYTES: usize = 1024 * 1024;
/// Largest saved document in a [`DocBody::Snapshot`].
pub const MAX_DOC_BYTES: usize = 8 * 1024 * 1024;
/// Most operations in one change. A change is one edit: the largest a person makes is
/// an imported case or a long note (a Text is an operation per character; a note is at
/// most 10,000 characters). The recorded caseload's imported cases are ~1,000 operations.
pub const MAX_OPS_PER_CHANGE: u64 = 50_000;
/// Most operations in one document (its whole history: Automerge keeps superseded
/// values). Opening a document costs about 4.5 µs per operation on the development
/// machine, so this bounds a hostile case to about a second there; real cases are tens of
/// thousands of operations at most.
pub const MAX_OPS_PER_DOC: u64 = 200_000;
/// Most operations pushed in one sync request, over all its documents.
pub const MAX_OPS_PER_REQUEST: u64 = 200_000;
/// Most changes in one document's history.
pub const MAX_DOC_CHANGES: u64 = 100_000;
/// Most bytes a saved document's deflated columns may inflate to, all columns together.
pub const MAX_INFLATED_DOC_BYTES: u64 = 16 * 1024 * 1024;
/// Longest document id (ids are 1..=64 of `[A-Za-z0-9_-]`).
pub const MAX_ID_LEN: usize = 64;
/// Longest device id, in bytes.
pub const MAX_DEVICE_ID_LEN: usize = 128;
/// Longest pull cursor, in bytes.
pub const MAX_CURSOR_BYTES: usize = 1024;
/// Longest refusal message, in bytes.
pub const MAX_REFUSAL_MESSAGE_BYTES: usize = 1024;

fn too_large(what: &'static str, limit: usize, n: usize) -> Result<(), ProtocolError> {
    if n > limit {
        Err(ProtocolError::TooLarge { what, limit })
    } else {
        Ok(())
    }
}

fn check_version(version: u16) -> Result<(), ProtocolError> {
    if version == PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(ProtocolError::UnsupportedVersion {
            found: version,
            supported: PROTOCOL_VERSION,
        })
    }
}

fn check_doc_id(what: &str, id: &str) -> Result<(), ProtocolError> {
    validate_case_id(id).map_err(|_| {
        ProtocolError::Invalid(format!(
            "{what}: a document id must be 1 to {MAX_ID_LEN} letters, digits, '-' or '_'"
        ))
    })
}

fn check_text(what: &'static str, limit: usize, s: &str) -> Result<(), ProtocolError> {
    too_large(what, limit, s.len())?;
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ProtocolError::Invalid(format!(
            "{what} contains control characters"
        )));
    }
    Ok(())
}

fn check_changes(changes: &[Vec<u8>]) -> Result<(), ProtocolError> {
    too_large(
        "changes of one document",
        MAX_CHANGES_PER_DOC,
        changes.len(),
    )?;
    for c in changes {
        too_large("change", MAX_CHANGE_BYTES, c.len())?;
        if c.len() < MIN_CHANGE_BYTES {
            return Err(ProtocolError::Invalid(format!(
                "a change is shorter than {MIN_CHANGE_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

/// Checks each id is valid and appears once.
fn check_unique_ids<'a>(
    what: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), ProtocolError> {
    let mut seen = HashSet::new();
    for id in ids {
        check_doc_id(what, id)?;
        if !seen.insert(id) {
            return Err(ProtocolError::Invalid(format!(
                "{what}: a document is listed twice"
            )));
        }
    }
    Ok(())
}

impl SyncRequest {
    /// Checks the request against the protocol's limits and rules. [`super::decode_request`]
    /// runs it; senders may run it before encoding.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        check_version(self.version)?;
        if self.device_id.is_empty() {
            return Err(ProtocolError::Invalid("device id is empty".into()));
        }
        check_text("device id", MAX_DEVICE_ID_LEN, &self.device_id)?;
        too_large("cursor", MAX_CURSOR_BYTES, self.cursor.len())?;
        too_large("pushed documents", MAX_DOCS_PER_MESSAGE, self.push.len())?;
        check_unique_ids("push", self.push.iter().map(|p| p.doc_id.as_str()))?;
        self.push.iter().try_for_each(|p| check_changes(&p.changes))
    }
}

impl SyncResponse {
    /// Checks the response against the protocol's limits and rules.
    /// [`super::decode_response`] runs it; senders may run it before encoding.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        check_version(self.version)?;
        too_large("cursor", MAX_CURSOR_BYTES, self.cursor.len())?;
        too_large("documents", MAX_DOCS_PER_MESSAGE, self.docs.len())?;
        too_large(
            "removed documents",
            MAX_DOCS_PER_MESSAGE,
            self.removed.len(),
        )?;
        too_large(
            "acknowledged pushes",
            MAX_DOCS_PER_MESSAGE,
            self.acked.len(),
        )?;
        too_large("refused pushes", MAX_DOCS_PER_MESSAGE, self.refused.len())?;
        check_unique_ids("docs", self.docs.iter().map(|d| d.doc_id.as_str()))?;
        check_unique_ids("removed", self.removed.iter().map(String::as_str))?;
        check_unique_ids("acked", self.acked.iter().map(|a| a.doc_id.as_str()))?;
        check_unique_ids("refused", self.refused.iter().map(|r| r.doc_id.as_str()))?;
        for d in &self.docs {
            match &d.body {
                DocBody::Changes(changes) => check_changes(changes)?,
                DocBody::Snapshot { doc, summary } => {
                    too_large("snapshot", MAX_DOC_BYTES, doc.len())?;
                    if doc.is_empty() {
                        return Err(ProtocolError::Invalid("a snapshot is empty".into()));
                    }
                    if summary.id != d.doc_id {
                        return Err(ProtocolError::Invalid(
                            "a snapshot's summary is for another document".into(),
                        ));
                    }
                    // Summary text is not checked beyond the message's size limit: merged
                    // edits may exceed the editing limits, and a page must never become
                    // undecodable because of what a case says.
                }
            }
        }
        for a in &self.acked {
            too_large(
                "acknowledged hashes of one document",
                MAX_CHANGES_PER_DOC,
                a.hashes.len(),
            )?;
        }
        for r in &self.refused {
            check_text("refusal message", MAX_REFUSAL_MESSAGE_BYTES, &r.message)?;
        }
        Ok(())
    }
}
