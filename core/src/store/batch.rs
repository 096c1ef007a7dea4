//! Record keys, and [`StoreBatch`]: the writes of one sync page, applied atomically.

use crate::case::{validate_case_id, CaseError, CaseSummary};

use super::backend::BatchOp;
use super::crypto::Sealer;
use super::StoreError;

/// Key prefix of case documents.
pub(crate) const DOC: &[u8] = b"d/";
/// Key prefix of the server heads older versions stored per case (no longer written;
/// removing a case still deletes its record).
pub(crate) const LEGACY_HEADS: &[u8] = b"h/";
/// Prefix of the highest own-change sequence number the server acknowledged, per case.
pub(crate) const ACKED: &[u8] = b"a/";
/// Key prefix of outbox marks (cases with unsent local changes).
pub(crate) const OUTBOX: &[u8] = b"o/";
/// Key prefix of removals held back until the case's unsent changes are acknowledged.
pub(crate) const REMOVAL: &[u8] = b"r/";
/// Key prefix of parked refusals (see `refused.rs`).
pub(crate) const REFUSED: &[u8] = b"x/";
/// Key of the key-check record.
pub(crate) const KEY_CHECK: &[u8] = b"m/keycheck";
/// Key of the sync cursor.
pub(crate) const CURSOR: &[u8] = b"m/cursor";
/// Key of this store's Automerge actor id.
pub(crate) const ACTOR: &[u8] = b"m/actor";
/// The directory of registered agencies last fetched (JSON `[Agency]`).
pub(crate) const AGENCIES: &[u8] = b"m/agencies";

/// The key of case `id`'s record of kind `prefix`.
pub(crate) fn key(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id.as_bytes());
    k
}

/// The case id in a key of kind `prefix`, if it is one.
pub(crate) fn id_of(prefix: &[u8], key: &[u8]) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    String::from_utf8(rest.to_vec()).ok()
}

/// A sealed batch: backend ops for every record but the summary index, and the index
/// edits in order (`None` removes the case's summary).
pub(crate) struct Sealed {
    /// Writes of documents, acknowledged sequence numbers, outbox marks, deferred
    /// removals, parked refusals and the cursor.
    pub(crate) ops: Vec<BatchOp>,
    /// Summary index edits, applied to the buckets at write time.
    pub(crate) index: Vec<(String, Option<CaseSummary>)>,
}

#[derive(Debug, Clone)]
enum Op {
    PutCase(String, Vec<u8>, CaseSummary),
    RemoveCase(String),
    SetAcked(String, u64),
    ClearOutbox(String),
    MarkOutbox(String),
    DeferRemoval(String),
    CancelRemoval(String),
    SetCursor(Vec<u8>),
    SetRefused(String, super::refused::RefusedRecord),
    ClearRefused(String),
}

/// Writes to apply together with [`DeviceStore::apply`](super::DeviceStore::apply):
/// either all of them reach the disk or none does. Later ops on the same record win.
///
/// ```
/// # use casesync_core::store::StoreBatch;
/// let mut batch = StoreBatch::new();
/// batch.set_acked_seq("case-1", 3).clear_outbox("case-1").set_cursor(vec![9]);
/// assert!(!batch.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StoreBatch {
    ops: Vec<Op>,
}

impl StoreBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the batch holds no writes.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Stores case `id`'s document (as `CaseDoc::save` makes it) and its listing summary.
    /// `summary.id` must be `id`.
    pub fn put_case(&mut self, id: &str, doc_bytes: Vec<u8>, summary: &CaseSummary) -> &mut Self {
        self.ops
            .push(Op::PutCase(id.to_owned(), doc_bytes, summary.clone()));
        self
    }

    /// Removes case `id` entirely: document, summary, acknowledged sequence number,
    /// outbox mark and deferred removal.
    pub fn remove_case(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::RemoveCase(id.to_owned()));
        self
    }

    /// Records that the server acknowledged this device's changes to case `id` up to
    /// sequence number `seq` (what sync pushes next starts after it).
    pub fn set_acked_seq(&mut self, id: &str, seq: u64) -> &mut Self {
        self.ops.push(Op::SetAcked(id.to_owned(), seq));
        self
    }

    /// Marks case `id` as having no unsent local changes.
    pub fn clear_outbox(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::ClearOutbox(id.to_owned()));
        self
    }

    /// Marks case `id` as having unsent local changes.
    pub fn mark_outbox(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::MarkOutbox(id.to_owned()));
        self
    }

    /// Records that case `id` left this device's scope while it had unsent changes: it
    /// is to be removed once they are acknowledged, in this sync session or a later one.
    pub fn defer_removal(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::DeferRemoval(id.to_owned()));
        self
    }

    /// Forgets a deferred removal of case `id` (it came back into scope).
    pub fn cancel_removal(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::CancelRemoval(id.to_owned()));
        self
    }

    /// Parks case `id`: the server refused its push of this device's changes up to
    /// sequence number `seq`; sync does not resend them until something changes (see
    /// `store/refused.rs`).
    pub fn set_refused(
        &mut self,
        id: &str,
        code: crate::protocol::RefusalCode,
        message: &str,
        seq: u64,
    ) -> &mut Self {
        self.ops.push(Op::SetRefused(
            id.to_owned(),
            super::refused::RefusedRecord::new(code, message, seq),
        ));
        self
    }

    /// Forgets case `id`'s parked refusal: its unsent changes go up at the next sync.
    pub fn clear_refused(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::ClearRefused(id.to_owned()));
        self
    }

    /// Sets the sync cursor (opaque bytes from the server).
    pub fn set_cursor(&mut self, cursor: Vec<u8>) -> &mut Self {
        self.ops.push(Op::SetCursor(cursor));
        self
    }

    /// Checks every id and encrypts every value but the index (see [`Sealed`]).
    pub(crate) fn seal(self, sealer: &Sealer) -> Result<Sealed, StoreError> {
        let put = |k: Vec<u8>, plain: &[u8]| -> Result<BatchOp, StoreError> {
            let v = sealer.seal(&k, plain)?;
            Ok(BatchOp::Put(k, v))
        };
        let mut out = Vec::with_capacity(self.ops.len());
        let mut index = Vec::new();
        for op in self.ops {
            match op {
                Op::PutCase(id, doc, summary) => {
                    validate_case_id(&id)?;
                    if summary.id != id {
                        return Err(StoreError::Case(CaseError::Invalid {
                            field: "summary id",
                            reason: "does not match the case id".into(),
                        }));
                    }
                    out.push(put(key(DOC, &id), &doc)?);
                    index.push((id, Some(summary)));
                }
                Op::RemoveCase(id) => {
                    validate_case_id(&id)?;
                    for prefix in [DOC, LEGACY_HEADS, ACKED, OUTBOX, REMOVAL, REFUSED] {
                        out.push(BatchOp::Delete(key(prefix, &id)));
                    }
                    index.push((id, None));
                }
                Op::SetAcked(id, seq) => {
                    validate_case_id(&id)?;
                    out.push(put(key(ACKED, &id), &seq.to_le_bytes())?);
                }
                Op::ClearOutbox(id) => {
                    validate_case_id(&id)?;
                    out.push(BatchOp::Delete(key(OUTBOX, &id)));
                }
                Op::MarkOutbox(id) => {
                    validate_case_id(&id)?;
                    out.push(put(key(OUTBOX, &id), &[])?);
                }
                Op::DeferRemoval(id) => {
                    validate_case_id(&id)?;
                    out.push(put(key(REMOVAL, &id), &[])?);
                }
                Op::CancelRemoval(id) => {
                    validate_case_id(&id)?;
                    out.push(BatchOp::Delete(key(REMOVAL, &id)));
                }
                Op::SetCursor(c) => out.push(put(CURSOR.to_vec(), &c)?),
                Op::SetRefused(id, r) => {
                    validate_case_id(&id)?;
                    out.push(put(key(REFUSED, &id), &r.encode()?)?);
                }
                Op::ClearRefused(id) => {
                    validate_case_id(&id)?;
                    out.push(BatchOp::Delete(key(REFUSED, &id)));
                }
            }
        }
        Ok(Sealed { ops: out, index })
    }
}
