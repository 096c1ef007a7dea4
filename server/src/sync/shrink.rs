//! Scope shrinks (issue #13): when an administrator takes a district or sensitive
//! access away from a user, the user's devices get the cases now outside their scope
//! listed as removed, and the edits they made to them before are still accepted.
//!
//! The cursor carries the fingerprint of the scope it was made under
//! ([`scope_version`]); the store keeps every scope a user had ([`past_scopes`],
//! written by `auth::set_scope` before it changes one). On a cursor of another scope,
//! the old scope is the past scope with the cursor's fingerprint (every past scope if
//! none has it: a second change while the first one's removals were still being listed,
//! or a fingerprint from a build that computed it differently). A scope changed by
//! writing the user record directly, not through `set_scope`, leaves no past scope: the
//! device then only starts over with snapshots, as before issue #13.
//!
//! The candidates are the documents indexed now under the old scope's log partitions,
//! and those logged there after the cursor's position (they may have moved away since);
//! one is listed as removed if the old scope could read it at or after that position and
//! the current scope cannot read it now (or it was erased). Listing a case the device
//! does not hold is harmless. Removals come by id, in pages bounded like any other; then
//! the device gets snapshots of its new scope as a fresh device would. Each page scans
//! the old partitions' index after the last id and their log since the cursor's
//! position again (a rare event; not indexed further).

use std::collections::{BTreeSet, HashSet};

use super::pull::{Builder, ENTRY_OVERHEAD};
use super::scope::{
    can_read, can_write, could_write_earlier, may_be_registered_by, past_scopes, scope_keys,
    scope_version,
};
use super::SyncEngine;
use crate::store::{DocRecord, StoreError, UserRecord};

/// Meta key prefix of a served removal (`removal:<length of the device id>:<device id><case id>`).
const REMOVAL_KEY: &str = "removal:";

fn removal_key(device_id: &str, doc_id: &str) -> String {
    // Length-prefixed, not NUL-separated: PostgreSQL's text keys cannot hold a NUL byte
    // (the meta write failed there with a 500 on the first removal served).
    format!("{REMOVAL_KEY}{}:{device_id}{doc_id}", device_id.len())
}

/// When a device was first served the removal of a case, under which routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct RemovalServed {
    /// Sequence number of the case's routing then (the last entry of its history).
    routing_seq: u64,
    /// Server time it was served, ms since the Unix epoch.
    served_ms: i64,
}

impl SyncEngine {
    /// Whether `user` may push to the existing document `rec`: [`can_write`], or the
    /// same under one of the user's earlier scopes.
    pub(crate) fn may_write(&self, user: &UserRecord, rec: &DocRecord) -> Result<bool, StoreError> {
        if can_write(user, rec) {
            return Ok(true);
        }
        let past = past_scopes(self.store.as_ref(), &user.user_id)?;
        Ok(could_write_earlier(user, &past, rec))
    }

    /// Records that `device_id` was served the removal of each of `removed` (the first
    /// time, per routing of the case: a case that comes back and leaves again through
    /// another reassignment starts a new window). One store read and at most one meta
    /// write per removal; removals are rare. Flushed when it wrote one, so the window a
    /// device was given survives a crash.
    pub(crate) fn note_removals_served(
        &self,
        device_id: &str,
        removed: &[String],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut wrote = false;
        for id in removed {
            let Some(rec) = self.store.doc(id)? else {
                continue;
            };
            if rec.erased {
                continue;
            }
            let routing_seq = rec.history.last().map_or(0, |(s, _)| *s);
            let key = removal_key(device_id, id);
            if let Some(served) = self.removal_served(&key)? {
                if served.routing_seq == routing_seq {
                    continue;
                }
            }
            let v = RemovalServed {
                routing_seq,
                served_ms: now_ms,
            };
            let bytes =
                postcard::to_allocvec(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            self.store.set_meta(&key, &bytes)?;
            wrote = true;
        }
        if wrote {
            self.store.flush()?;
        }
        Ok(())
    }

    fn removal_served(&self, key: &str) -> Result<Option<RemovalServed>, StoreError> {
        self.store
            .meta(key)?
            .map(|b| {
                postcard::from_bytes(&b)
                    .map_err(|e| StoreError::Corrupt(format!("served removal: {e}")))
            })
            .transpose()
    }

    /// Whether the write window of `device_id` on `rec` is over: the device was served
    /// the removal of the case under its current routing more than
    /// `removed_write_grace` before `now_ms` (docs/DESIGN.md §5.3). Only asked of a
    /// push that `user` may make through a routing or scope they no longer have.
    pub(crate) fn removal_window_over(
        &self,
        device_id: &str,
        rec: &DocRecord,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let Some(served) = self.removal_served(&removal_key(device_id, &rec.doc_id))? else {
            return Ok(false);
        };
        let routing_seq = rec.history.last().map_or(0, |(s, _)| *s);
        let grace =
            i64::try_from(self.settings.removed_write_grace.as_millis()).unwrap_or(i64::MAX);
        Ok(served.routing_seq == routing_seq && now_ms.saturating_sub(served.served_ms) > grace)
    }

    /// Whether `user` may have registered `rec` ([`may_be_registered_by`]) under the
    /// current scope or an earlier one: a coordinator without sensitive access who
    /// registered a sensitive case keeps delivering their offline edits to it after
    /// losing its district, as they would before.
    pub(crate) fn may_have_registered(
        &self,
        user: &UserRecord,
        rec: &DocRecord,
    ) -> Result<bool, StoreError> {
        if may_be_registered_by(user, rec) {
            return Ok(true);
        }
        let past = past_scopes(self.store.as_ref(), &user.user_id)?;
        Ok(past
            .iter()
            .any(|p| may_be_registered_by(&p.applied_to(user), rec)))
    }

    /// The user's earlier scopes `device_id` may still create cases under: those that
    /// were still in force when the device first logged in. A case registered offline
    /// before the user lost the district reaches the server whenever the device pushes
    /// it (the removal of what left the scope may have come first); a device logged in
    /// after the change creates only under the current scope.
    pub(crate) fn creation_scopes(
        &self,
        user: &UserRecord,
        device_id: &str,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let past = past_scopes(self.store.as_ref(), &user.user_id)?;
        if past.is_empty() {
            return Ok(Vec::new());
        }
        let Some(device) = self.store.device(device_id)? else {
            return Ok(Vec::new());
        };
        Ok(past
            .iter()
            .filter(|p| p.until_ms >= device.created_ms)
            .map(|p| p.applied_to(user))
            .collect())
    }

    /// Lists as removed, by id after `after_doc`, what the device may hold from its old
    /// scope (`old_scope`, as of log position `since`) that `user` cannot read now.
    /// Returns the last id examined if the page filled up, `None` when done.
    pub(super) fn shrink(
        &self,
        user: &UserRecord,
        old_scope: Option<u64>,
        since: u64,
        head: u64,
        after_doc: &str,
        b: &mut Builder,
    ) -> Result<Option<String>, StoreError> {
        let past: Vec<UserRecord> = past_scopes(self.store.as_ref(), &user.user_id)?
            .iter()
            .map(|p| p.applied_to(user))
            .collect();
        let matching: Vec<&UserRecord> = past
            .iter()
            .filter(|u| Some(scope_version(u)) == old_scope)
            .collect();
        let old: Vec<&UserRecord> = if matching.is_empty() {
            past.iter().collect()
        } else {
            matching
        };
        let mut keys = BTreeSet::new();
        for u in &old {
            keys.extend(scope_keys(u));
        }
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for key in &keys {
            ids.extend(self.store.doc_ids(key, after_doc, usize::MAX)?);
            ids.extend(
                self.store
                    .log(key, since, head)?
                    .into_iter()
                    .map(|e| e.doc_id)
                    .filter(|id| id.as_str() > after_doc),
            );
        }
        let mut listed: HashSet<String> = b.page.removed.iter().cloned().collect();
        let mut last: Option<String> = None;
        let total = ids.len() as u64;
        for (i, id) in ids.into_iter().enumerate() {
            let Some(rec) = self.store.doc(&id)? else {
                last = Some(id);
                continue;
            };
            let readable_now = !rec.erased && can_read(user, &rec.routing);
            // Routings in force at `since` and after: what the device may have been given.
            // An erased case keeps no routing; that the old scope listed it is enough.
            let held_maybe = rec.erased
                || rec
                    .routing_at(since)
                    .into_iter()
                    .chain(
                        rec.history
                            .iter()
                            .filter(|(s, _)| *s > since)
                            .map(|(_, r)| r),
                    )
                    .any(|r| old.iter().any(|u| can_read(u, r)));
            if !readable_now && held_maybe && !listed.contains(&id) {
                if !b.fits(id.len() + ENTRY_OVERHEAD) {
                    b.page.remaining_estimate = total - i as u64;
                    // Nothing passed yet: resume where this page began (`None` would
                    // end the phase with these removals unsent).
                    return Ok(Some(last.unwrap_or_else(|| after_doc.to_owned())));
                }
                b.bytes += id.len() + ENTRY_OVERHEAD;
                b.page.removed.push(id.clone());
                listed.insert(id.clone());
            }
            last = Some(id);
        }
        Ok(None)
    }
}
