//! A case's history with the server-bound audit beside what the devices claimed.
//!
//! A change's message carries a user id and a time, both written by the device that
//! made it ([`HistoryEntry::user`], [`HistoryEntry::time_ms`]): a claim. The server
//! records for each change it stores who pushed it — the authenticated user and device
//! — and when it received it ([`ChangeAudit`], see [`Storage::audit`]). The timeline,
//! `GET /v1/cases/{id}/history` and the history CSV show both.

use std::collections::HashMap;

use casesync_core::case::{CaseDoc, HistoryEntry};
use serde::Serialize;

use crate::store::{ChangeAudit, Storage, StoreError};

/// One change of a case: the device's claim and the server's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedEntry {
    /// What the change says of itself (user and time as the device wrote them).
    #[serde(flatten)]
    pub claimed: HistoryEntry,
    /// Who pushed it and when the server received it; `None`: not recorded (stored
    /// before the server recorded audits).
    pub server: Option<ChangeAudit>,
}

/// The history of `doc` (case `doc_id`), in causal order, each change with its audit
/// record from `store`.
pub fn audited_history(
    store: &dyn Storage,
    doc_id: &str,
    doc: &mut CaseDoc,
) -> Result<Vec<AuditedEntry>, StoreError> {
    let mut audits: HashMap<String, ChangeAudit> = store
        .audit(doc_id)?
        .into_iter()
        .map(|(h, a)| (hex::encode(h), a))
        .collect();
    Ok(doc
        .history()
        .into_iter()
        .map(|claimed| AuditedEntry {
            server: audits.remove(&claimed.hash),
            claimed,
        })
        .collect())
}
