//! The audit trail: who changed what, when — read from the document's own changes.

use std::collections::HashSet;

use automerge::{ChangeHash, Prop};
use serde::{Deserialize, Serialize};

use super::doc::{split_message, CaseDoc};
use super::error::CaseError;
use super::model::Case;
use super::read::Reader;

/// One change in a case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HistoryEntry {
    /// Change hash, hex.
    pub hash: String,
    /// Actor (device replica), hex.
    pub actor: String,
    /// User who made it.
    pub user: String,
    /// When, ms since the Unix epoch (the device's clock).
    pub time_ms: i64,
    /// What the editor said it did (e.g. "visit recorded").
    pub summary: String,
    /// Fields the change actually touched, as dotted paths (computed, not claimed).
    pub fields: Vec<String>,
}

fn prop_str(p: &Prop) -> String {
    match p {
        Prop::Map(k) => k.clone(),
        Prop::Seq(i) => i.to_string(),
    }
}

impl CaseDoc {
    /// Every change, in causal order (a change after every change it depends on).
    pub fn history(&mut self) -> Vec<HistoryEntry> {
        let metas: Vec<_> = self
            .doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| m.into_owned())
            .collect();
        metas
            .into_iter()
            .map(|m| {
                let (user, summary) = split_message(m.message.as_deref());
                let patches = self.doc.diff(&m.deps, &[m.hash]);
                let mut fields: Vec<String> = patches
                    .iter()
                    .map(|p| {
                        let mut path: Vec<String> =
                            p.path.iter().map(|(_, prop)| prop_str(prop)).collect();
                        if let automerge::PatchAction::PutMap { key, .. } = &p.action {
                            path.push(key.clone());
                        }
                        path.join(".")
                    })
                    .filter(|f| !f.is_empty())
                    .collect();
                fields.sort();
                fields.dedup();
                HistoryEntry {
                    hash: m.hash.to_string(),
                    actor: m.actor.to_hex_string(),
                    user,
                    time_ms: m.timestamp,
                    summary,
                    fields,
                }
            })
            .collect()
    }

    /// The case as it stood at `time_ms`: every change stamped at or before that time
    /// (with everything it depends on) applied, nothing later.
    pub fn at(&mut self, time_ms: i64) -> Result<Case, CaseError> {
        let metas: Vec<_> = self
            .doc
            .get_changes_meta(&[])
            .into_iter()
            .map(|m| m.into_owned())
            .collect();
        let mut included: HashSet<ChangeHash> = HashSet::new();
        let mut depended: HashSet<ChangeHash> = HashSet::new();
        for m in &metas {
            if m.timestamp <= time_ms && m.deps.iter().all(|d| included.contains(d)) {
                included.insert(m.hash);
                depended.extend(m.deps.iter().copied());
            }
        }
        let heads: Vec<ChangeHash> = metas
            .iter()
            .map(|m| m.hash)
            .filter(|h| included.contains(h) && !depended.contains(h))
            .collect();
        if heads.is_empty() {
            return Err(CaseError::NotFound {
                kind: "version at",
                id: time_ms.to_string(),
            });
        }
        let mut case = Reader {
            doc: &self.doc,
            heads: Some(&heads),
        }
        .case()?;
        case.updated_at = heads
            .iter()
            .filter_map(|h| metas.iter().find(|m| m.hash == *h).map(|m| m.timestamp))
            .max()
            .unwrap_or_default();
        Ok(case)
    }
}
