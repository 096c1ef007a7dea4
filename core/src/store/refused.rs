//! Refused pushes: cases whose unsent edits the server refused, parked instead of being
//! resent at every sync.
//!
//! A refusal (any reason but `Erased`, which removes the case) stores a record under
//! `x/<case id>`: the reason and the highest sequence number of this device's changes
//! that were refused. The case keeps its outbox mark and its document keeps the edits
//! (the worker still sees what they recorded; nothing disappears silently). Sync does
//! not send it again until something changes:
//! - a new local edit (this device's changes go past the refused sequence number);
//! - the server sends the case (it changed there, or a scope change brought it back);
//! - the app retries it ([`DeviceStore::retry_refused`]);
//!
//! or the app discards the refused edits ([`DeviceStore::discard_refused`]): the
//! document is rebuilt without this device's unacknowledged changes (the server's
//! version), or removed if the server never had the case.
//!
//! Stores written before this have no `x/` records: nothing is parked, and the first
//! refusal parks as above.

use serde::{Deserialize, Serialize};

use crate::case::CaseDoc;
use crate::protocol::{RefusalCode, MAX_REFUSAL_MESSAGE_BYTES};

use super::batch::{ACTOR, REFUSED};
use super::{corrupt, DeviceStore, StoreBatch, StoreError};

/// The stored record of a refused push (JSON, sealed like every value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RefusedRecord {
    /// Why the server refused.
    pub code: RefusalCode,
    /// The server's message (no personal data).
    pub message: String,
    /// Highest sequence number of this device's changes the refused push carried.
    pub seq: u64,
}

impl RefusedRecord {
    pub(crate) fn new(code: RefusalCode, message: &str, seq: u64) -> Self {
        // Decoded responses are already within the limit; an in-process caller is cut at
        // a character boundary.
        let mut end = message.len().min(MAX_REFUSAL_MESSAGE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        RefusedRecord {
            code,
            message: message[..end].to_owned(),
            seq,
        }
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// A case whose unsent edits the server refused, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RefusedCase {
    /// The case.
    pub case_id: String,
    /// Why the server refused.
    pub code: RefusalCode,
    /// The server's message (no personal data).
    pub message: String,
    /// This device's changes to the case the server has not accepted (what a discard
    /// drops).
    pub unsent_changes: i64,
}

/// What [`DeviceStore::discard_refused`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Discarded {
    /// This device's changes dropped.
    pub changes: i64,
    /// Whether the case itself was removed (the server never had it).
    pub case_removed: bool,
}

impl DeviceStore {
    /// The parked refusal of case `id`, if any.
    pub(crate) fn refused_record(&self, id: &str) -> Result<Option<RefusedRecord>, StoreError> {
        match self.read_case_record(REFUSED, id)? {
            None => Ok(None),
            Some(p) => serde_json::from_slice(&p)
                .map(Some)
                .map_err(|_| corrupt(id)),
        }
    }

    /// Every case whose unsent edits the server refused, in id order, with the reason.
    pub fn refused(&self) -> Result<Vec<RefusedCase>, StoreError> {
        let actor = match self.read(ACTOR)? {
            Some(Ok(bytes)) => Some(automerge::ActorId::from(bytes.as_slice())),
            _ => None,
        };
        let ids = self.refused_ids()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(r) = self.refused_record(&id)? else {
                continue;
            };
            let unsent_changes = match &actor {
                Some(a) => {
                    let mut doc = self.load_case(&id)?;
                    doc.own_changes_after(a, self.acked_seq(&id)?).0.len() as i64
                }
                None => 0,
            };
            out.push(RefusedCase {
                case_id: id,
                code: r.code,
                message: r.message,
                unsent_changes,
            });
        }
        Ok(out)
    }

    /// Sends case `id`'s refused edits again at the next sync (after the app fixed what
    /// the refusal named, e.g. the worker's district). Returns whether it was refused.
    pub fn retry_refused(&self, id: &str) -> Result<bool, StoreError> {
        let _cases = self.lock_cases();
        if self.refused_record(id)?.is_none() {
            return Ok(false);
        }
        let mut batch = StoreBatch::new();
        batch.clear_refused(id);
        self.apply(batch)?;
        Ok(true)
    }

    /// Drops case `id`'s refused edits: the document goes back to what the server
    /// accepted (every change but this device's unacknowledged ones), or the case is
    /// removed when the server never accepted any of it. Refused with `NotFound` when the
    /// case has no parked refusal (nothing unsent is ever dropped without one).
    pub fn discard_refused(&self, id: &str) -> Result<Discarded, StoreError> {
        let _cases = self.lock_cases();
        if self.refused_record(id)?.is_none() {
            return Err(StoreError::NotFound(id.to_owned()));
        }
        let actor = match self.read(ACTOR)? {
            Some(Ok(bytes)) => automerge::ActorId::from(bytes.as_slice()),
            _ => return Err(StoreError::CorruptMeta("actor id")),
        };
        let acked = self.acked_seq(id)?;
        let mut doc = self.load_case(id)?;
        let all = doc.changes_since(&[]);
        let total = all.len();
        let kept: Vec<automerge::Change> = all
            .into_iter()
            .filter(|c| !(c.actor_id() == &actor && c.seq() > acked))
            .collect();
        let changes = (total - kept.len()) as i64;
        let mut batch = StoreBatch::new();
        let deferred = self.deferred_removals()?.iter().any(|d| d == id);
        let case_removed = kept.is_empty() || deferred;
        if case_removed {
            batch.remove_case(id);
        } else {
            let mut rebuilt = CaseDoc::from_changes(kept).map_err(|_| corrupt(id))?;
            let summary = rebuilt.summary().map_err(|_| corrupt(id))?;
            batch
                .put_case(id, rebuilt.save(), &summary)
                .clear_outbox(id)
                .clear_refused(id);
        }
        self.apply(batch)?;
        Ok(Discarded {
            changes,
            case_removed,
        })
    }
}

/// The stored bytes of a refusal record (before sealing), for the format test.
#[cfg(test)]
pub(crate) fn refused_record_for_test(code: RefusalCode, message: &str, seq: u64) -> Vec<u8> {
    RefusedRecord::new(code, message, seq)
        .encode()
        .unwrap_or_default()
}
