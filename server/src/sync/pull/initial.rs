//! The initial phase of a pull, ordered so that a health worker can work after the first
//! page (issue #17): the open cases with the nearest follow-ups first (overdue ones
//! before those due soon), then the other open cases, closed cases last.
//!
//! The phase spans many requests with a stateless cursor (the last [`InitialKey`] sent),
//! so a document's key must not move behind the cursor before it is sent, or it would
//! be skipped — and the log phase that follows sends only changes for documents visible
//! at `start_seq`, which a device without the document cannot apply. A document's key
//! is computed from its stored summary, which changes only with a change logged after
//! `start_seq`. So a document with such a change (under the device's scope keys) is
//! put in a last tier of its own, by id, from then on: a document unchanged until the
//! cursor passes its key keeps that key and is sent when the cursor passes it; one
//! changed before that is sent in the last tier, which the cursor reaches only after
//! every other tier. A document sent before it changed may be sent again there: a
//! snapshot the device holds is merged, harmlessly.

use std::collections::{BTreeSet, HashSet};

use casesync_core::case::{CaseSummary, Stage};
use casesync_core::protocol::{DocBody, DocUpdate};
use chrono::Datelike;

use super::{snapshot, summary_cost, Builder, ENTRY_OVERHEAD};
use crate::store::{StoreError, UserRecord};
use crate::sync::cursor::InitialKey;
use crate::sync::scope::{can_read, scope_keys};
use crate::sync::{Echo, SyncEngine};

/// Open cases with a follow-up date, by that date.
pub const TIER_DUE: u8 = 0;
/// Open cases without a follow-up date.
pub const TIER_OPEN: u8 = 1;
/// Closed cases.
pub const TIER_CLOSED: u8 = 2;
/// Cases changed since the phase began (see the module docs).
pub const TIER_CHANGED: u8 = 3;

/// Where a document goes in the initial phase.
pub fn initial_key(summary: &CaseSummary, changed: bool, doc_id: &str) -> InitialKey {
    let (tier, due) = match (changed, summary.stage, summary.next_due) {
        (true, _, _) => (TIER_CHANGED, 0),
        (false, Stage::Closed, _) => (TIER_CLOSED, 0),
        (false, _, Some(d)) => (TIER_DUE, d.num_days_from_ce()),
        (false, _, None) => (TIER_OPEN, 0),
    };
    InitialKey {
        tier,
        due,
        doc_id: doc_id.to_owned(),
    }
}

/// How a page of the initial phase ended.
pub(in crate::sync) enum Initial {
    /// Every document was sent: the log phase follows.
    Done,
    /// The page filled up: the next one resumes after this key (`None`: from the start,
    /// nothing having been sent yet).
    Resume(Option<InitialKey>),
}

impl SyncEngine {
    /// Snapshots of the documents in scope at `start_seq` and now, in [`InitialKey`]
    /// order after `after`.
    pub(in crate::sync) fn initial(
        &self,
        user: &UserRecord,
        start_seq: u64,
        head: u64,
        after: Option<&InitialKey>,
        echo: &Echo,
        b: &mut Builder,
    ) -> Result<Initial, StoreError> {
        let mut changed: HashSet<String> = HashSet::new();
        let mut ids = BTreeSet::new();
        for key in scope_keys(user) {
            changed.extend(
                self.store
                    .log(&key, start_seq, head)?
                    .into_iter()
                    .map(|e| e.doc_id),
            );
            ids.extend(self.store.doc_ids(&key, "", usize::MAX)?);
        }
        let mut queue: Vec<(InitialKey, CaseSummary)> = Vec::new();
        for id in ids {
            if echo.created.contains(&id) {
                continue;
            }
            let Some(rec) = self.store.doc(&id)? else {
                continue;
            };
            // Documents that entered the scope after `start_seq` come through the log.
            let visible_then = rec.routing_at(start_seq).is_some_and(|r| can_read(user, r));
            if rec.erased || !can_read(user, &rec.routing) || !visible_then {
                continue;
            }
            let Some(summary) = rec.summary else {
                continue;
            };
            let key = initial_key(&summary, changed.contains(&id), &id);
            if after.is_some_and(|a| &key <= a) {
                continue;
            }
            queue.push((key, summary));
        }
        queue.sort_by(|a, b| a.0.cmp(&b.0));
        let total = queue.len() as u64;
        let mut last: Option<InitialKey> = None;
        for (i, (key, summary)) in queue.into_iter().enumerate() {
            let Some(doc) = self.store.doc_bytes(&key.doc_id)? else {
                continue;
            };
            let cost = doc.len() + summary_cost(&summary) + ENTRY_OVERHEAD;
            let doc = snapshot(doc);
            if !b.fits_snapshot(cost, doc.len()) {
                b.page.remaining_estimate = total - i as u64;
                // Nothing sent yet (the page is full of removals): resume where this page
                // began, never report the phase as done.
                return Ok(Initial::Resume(last.or_else(|| after.cloned())));
            }
            b.bytes += cost;
            b.page.docs.push(DocUpdate {
                doc_id: key.doc_id.clone(),
                body: DocBody::Snapshot { doc, summary },
            });
            last = Some(key);
        }
        Ok(Initial::Done)
    }
}
