//! The client side of sync as a sans-IO state machine over the device store.
//!
//! A [`SyncSession`] builds request bytes ([`next_request`](SyncSession::next_request))
//! and applies response bytes ([`handle_response`](SyncSession::handle_response)); the
//! caller moves the bytes (HTTP on the phone, an in-process call in the simulation).
//! Each response page is applied in ONE atomic store batch — documents, acknowledged
//! outbox entries and the new cursor together — so a dropped link resumes from the last
//! committed page and nothing is applied twice or lost.
//!
//! What to push: the server is the hub, so the only changes a device has that the
//! server lacks are its own. Per case the store keeps the highest sequence number of
//! this device's changes the server acknowledged; a push is every own change above it.
//!
//! Refusals: a push refused for any reason but `Erased` is parked
//! (`StoreBatch::set_refused`, see `store/refused.rs`): the edits stay in the document and
//! the outbox, listed by `DeviceStore::refused`, and are not sent again until a new local
//! edit, the server sending the case again, or the app's retry; the app may discard them.
//! An `Erased` refusal removes the case.
//!
//! Removals: a case that left the device's scope while it has unsent changes is kept
//! until they are acknowledged, then dropped. The deferral is stored with the page that
//! announced it (`StoreBatch::defer_removal`), so it outlives the session: the removal
//! happens once the changes are acknowledged, in whatever later session that is.

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::ActorId;

use crate::case::{CaseDoc, CaseError};
use crate::protocol::{
    self, DocBody, DocPush, ProtocolError, Refusal, RefusalCode, SyncRequest, SyncResponse,
    PROTOCOL_VERSION,
};
use crate::store::{DeviceStore, StoreBatch, StoreError, WipeReport};

/// Page size a device asks for by default: a 256 KB page takes ~14 s at 150 kbit/s.
pub const DEFAULT_PAGE_BYTES: u32 = 256 * 1024;
/// Smallest page a session asks for after lost answers ([`SyncSession::abandon_request`]
/// halves the page each time, down to this): on a link that drops every few seconds a
/// page this size still arrives whole.
pub const MIN_PAGE_BYTES: u32 = 16 * 1024;
/// Most change bytes pushed in one request; the rest goes in the next round trip.
pub const MAX_PUSH_BYTES: usize = 512 * 1024;
/// Most round trips in one session (a guard against a server that always says `more`).
pub const MAX_ROUND_TRIPS: u32 = 10_000;

/// Why a sync step failed. The store is unchanged by a failed step.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The device store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server's response could not be decoded.
    #[error("bad response from server: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server sent a document this device cannot use.
    #[error("bad document {doc_id} from server: {source}")]
    BadDocument {
        /// Case id.
        doc_id: String,
        /// What was wrong.
        source: Box<CaseError>,
    },
    /// `handle_response` without a request in flight, or `next_request` with one.
    #[error("sync step out of order: {0}")]
    OutOfOrder(&'static str),
    /// The server kept saying `more` past [`MAX_ROUND_TRIPS`].
    #[error("too many round trips")]
    TooManyRoundTrips,
}

/// What a session has done so far (for a progress bar).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncProgress {
    /// Response pages applied.
    pub pages: u32,
    /// Documents received (changes or snapshots).
    pub docs_received: u64,
    /// Documents whose push the server acknowledged.
    pub docs_pushed: u64,
    /// Documents removed from this device.
    pub docs_removed: u64,
    /// Request bytes sent.
    pub bytes_up: u64,
    /// Response bytes received.
    pub bytes_down: u64,
    /// Server's estimate of documents still to come.
    pub remaining_estimate: u64,
    /// Pushes the server refused, with reasons.
    pub refused: Vec<Refusal>,
    /// Set when the server revoked the device and the store was wiped: what was
    /// destroyed unsent.
    pub wiped: Option<WipeReport>,
    /// Cases received and saved by the session's pages (and still on the device), sorted.
    pub changed_ids: BTreeSet<String>,
    /// Cases the session's pages removed from the device, sorted.
    pub removed_ids: BTreeSet<String>,
}

/// What the last applied page changed on the device (for listeners: a list on screen
/// redraws these rows only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageChanges {
    /// Cases received and saved, sorted.
    pub changed: Vec<String>,
    /// Cases removed from the device, sorted.
    pub removed: Vec<String>,
}

/// What to do after a response was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send [`SyncSession::next_request`] again.
    Continue,
    /// Up to date.
    Done,
    /// The device was revoked; its local data has been wiped (what was unsent:
    /// [`SyncProgress::wiped`]).
    Wiped,
}

/// One sync session: request, response, request... until [`Step::Done`].
pub struct SyncSession<'s> {
    store: &'s DeviceStore,
    device_id: String,
    actor: ActorId,
    max_page_bytes: u32,
    /// The page asked for now: `max_page_bytes`, halved after each lost answer, doubled
    /// back after each page that arrives.
    page_bytes: u32,
    in_flight: Option<HashMap<String, u64>>,
    refused: HashSet<String>,
    progress: SyncProgress,
    last_page: PageChanges,
}

impl<'s> SyncSession<'s> {
    /// Starts a session for `device_id` over `store`.
    pub fn new(
        store: &'s DeviceStore,
        device_id: &str,
        max_page_bytes: u32,
    ) -> Result<Self, SyncError> {
        Ok(SyncSession {
            store,
            device_id: device_id.to_owned(),
            actor: store.actor(device_id)?,
            max_page_bytes,
            page_bytes: max_page_bytes,
            in_flight: None,
            refused: HashSet::new(),
            progress: SyncProgress::default(),
            last_page: PageChanges::default(),
        })
    }

    /// Progress so far.
    pub fn progress(&self) -> &SyncProgress {
        &self.progress
    }

    /// What the last page [`handle_response`](Self::handle_response) applied changed
    /// (empty before the first and after a wipe).
    pub fn last_page(&self) -> &PageChanges {
        &self.last_page
    }

    /// The link dropped before a response arrived: forget the request. Nothing was
    /// applied, so the next request resends the same pushes from the same cursor
    /// (the server ignores changes it already has), asking for a page half the size
    /// (not under [`MIN_PAGE_BYTES`]): a page cut off by a link that drops before a
    /// whole page can cross is not asked for whole again and again (issue #17).
    pub fn abandon_request(&mut self) {
        self.in_flight = None;
        // 0 asks for the server's own size, at most the protocol's default.
        let now = match self.page_bytes {
            0 => DEFAULT_PAGE_BYTES,
            n => n,
        };
        self.page_bytes = (now / 2).max(MIN_PAGE_BYTES.min(now));
    }

    /// The server answered the request with an error (a refused token, a busy
    /// server): forget it as [`SyncSession::abandon_request`] does, but keep the page
    /// size, since the answer did arrive.
    pub fn forget_request(&mut self) {
        self.in_flight = None;
    }

    /// The page size the next request asks for (see [`SyncSession::abandon_request`]).
    pub fn page_bytes(&self) -> u32 {
        self.page_bytes
    }

    /// Encodes the next request: the device's unsent changes (up to [`MAX_PUSH_BYTES`])
    /// and its cursor.
    pub fn next_request(&mut self) -> Result<Vec<u8>, SyncError> {
        if self.in_flight.is_some() {
            return Err(SyncError::OutOfOrder("a request is already in flight"));
        }
        if self.progress.pages >= MAX_ROUND_TRIPS {
            return Err(SyncError::TooManyRoundTrips);
        }
        // No edit interleaves between reading the outbox and marking what was sent.
        let store = self.store;
        let _cases = store.lock_cases();
        let mut push = Vec::new();
        let mut sent = HashMap::new();
        let mut budget = MAX_PUSH_BYTES;
        let mut nothing = StoreBatch::default();
        let outbox = self.store.outbox()?;
        let deferred: HashSet<String> = self.store.deferred_removals()?.into_iter().collect();
        // A deferred removal whose case has no outbox mark left has nothing to wait for.
        for id in deferred.iter().filter(|id| !outbox.contains(*id)) {
            nothing.remove_case(id);
            self.progress.docs_removed += 1;
        }
        for id in outbox {
            if self.refused.contains(&id) {
                continue;
            }
            let parked = self.store.refused_record(&id)?;
            let mut doc = self.store.load_case(&id)?;
            let acked = self.store.acked_seq(&id)?;
            let (changes, max_seq) = doc.own_changes_after(&self.actor, acked);
            if parked.is_some_and(|p| max_seq <= p.seq) && !changes.is_empty() {
                // Refused, and nothing new since: not resent (and not waited for).
                self.refused.insert(id);
                continue;
            }
            if changes.is_empty() {
                // Marked but nothing to send (a save that changed nothing). A removal held
                // back for its unsent edits can now happen.
                if deferred.contains(&id) {
                    nothing.remove_case(&id);
                    self.progress.docs_removed += 1;
                } else {
                    nothing.clear_outbox(&id).clear_refused(&id);
                }
                continue;
            }
            let bytes: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
            let size: usize = bytes.iter().map(Vec::len).sum();
            if size > budget && !push.is_empty() {
                break;
            }
            budget = budget.saturating_sub(size);
            sent.insert(id.clone(), max_seq);
            push.push(DocPush {
                doc_id: id,
                changes: bytes,
            });
        }
        if !nothing.is_empty() {
            self.store.apply(nothing)?;
        }
        let request = SyncRequest {
            version: PROTOCOL_VERSION,
            device_id: self.device_id.clone(),
            cursor: self.store.cursor()?,
            push,
            max_page_bytes: self.page_bytes,
        };
        let encoded = protocol::encode_request(&request);
        self.progress.bytes_up += encoded.len() as u64;
        self.in_flight = Some(sent);
        Ok(encoded)
    }

    /// Applies one response page atomically and says what to do next.
    pub fn handle_response(&mut self, bytes: &[u8]) -> Result<Step, SyncError> {
        let sent = self
            .in_flight
            .take()
            .ok_or(SyncError::OutOfOrder("no request in flight"))?;
        self.progress.bytes_down += bytes.len() as u64;
        let response = protocol::decode_response(bytes)?;
        if response.wipe {
            self.progress.wiped = Some(self.store.wipe()?);
            self.last_page = PageChanges::default();
            return Ok(Step::Wiped);
        }
        let more = response.more;
        {
            let store = self.store;
            let _cases = store.lock_cases();
            self.apply_page(response, &sent)?;
        }
        self.progress.pages += 1;
        if self.page_bytes != self.max_page_bytes {
            self.page_bytes = match self.max_page_bytes {
                0 => self.page_bytes.saturating_mul(2).min(DEFAULT_PAGE_BYTES),
                max => self.page_bytes.saturating_mul(2).min(max),
            };
            if self.max_page_bytes == 0 && self.page_bytes == DEFAULT_PAGE_BYTES {
                self.page_bytes = 0;
            }
        }
        let unsent = self
            .store
            .outbox()?
            .into_iter()
            .any(|id| !self.refused.contains(&id) && !sent.contains_key(&id));
        Ok(if more || unsent {
            Step::Continue
        } else {
            Step::Done
        })
    }

    fn apply_page(
        &mut self,
        response: SyncResponse,
        sent: &HashMap<String, u64>,
    ) -> Result<(), SyncError> {
        let mut batch = StoreBatch::default();
        // Documents touched by this page, loaded once and written once.
        let mut touched: HashMap<String, CaseDoc> = HashMap::new();
        let mut clean: HashSet<String> = HashSet::new();
        let deferred: HashSet<String> = self.store.deferred_removals()?.into_iter().collect();
        let received: HashSet<String> = response.docs.iter().map(|d| d.doc_id.clone()).collect();

        // A case the server sends again changed there (or came back into scope): its
        // parked refusal is retried. (Set again below if this page refuses it anew.)
        let parked: HashSet<String> = self.store.refused_ids()?.into_iter().collect();
        for id in received.intersection(&parked) {
            batch.clear_refused(id);
        }
        for ack in &response.acked {
            if let Some(seq) = sent.get(&ack.doc_id) {
                batch
                    .set_acked_seq(&ack.doc_id, *seq)
                    .clear_refused(&ack.doc_id);
                self.progress.docs_pushed += 1;
                let mut doc = self.store.load_case(&ack.doc_id)?;
                let (rest, _) = doc.own_changes_after(&self.actor, *seq);
                if rest.is_empty() {
                    batch.clear_outbox(&ack.doc_id);
                    clean.insert(ack.doc_id.clone());
                }
            }
        }
        let mut dropped: HashSet<String> = HashSet::new();
        for refusal in &response.refused {
            self.refused.insert(refusal.doc_id.clone());
            if refusal.code == RefusalCode::Erased {
                dropped.insert(refusal.doc_id.clone());
            } else if let Some(seq) = sent.get(&refusal.doc_id) {
                batch.set_refused(&refusal.doc_id, refusal.code, &refusal.message, *seq);
            }
            self.progress.refused.push(refusal.clone());
        }

        for update in response.docs {
            self.progress.docs_received += 1;
            let id = update.doc_id;
            let bad = |source| SyncError::BadDocument {
                doc_id: id.clone(),
                source: Box::new(source),
            };
            let existing = match touched.remove(&id) {
                Some(doc) => Some(doc),
                None => match self.store.load_case(&id) {
                    Ok(doc) => Some(doc),
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                },
            };
            let doc = match (update.body, existing) {
                (DocBody::Snapshot { doc, summary }, None) => {
                    // Fast path for a fresh device: store as received, indexed by the
                    // summary the server sent; no need to load it. It is counted (not
                    // decoded) so that nothing over a decoding limit is kept.
                    crate::case::scan_document(&doc).map_err(bad)?;
                    batch.put_case(&id, doc, &summary);
                    continue;
                }
                (DocBody::Snapshot { doc, .. }, Some(mut local)) => {
                    let mut theirs = CaseDoc::load(&doc).map_err(bad)?;
                    local.merge(&mut theirs).map_err(bad)?;
                    local
                }
                (DocBody::Changes(raw), existing) => {
                    let changes = raw
                        .into_iter()
                        .map(crate::case::decode_change)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(bad)?;
                    match existing {
                        Some(mut local) => {
                            local.apply_changes(changes).map_err(bad)?;
                            local
                        }
                        None => CaseDoc::from_changes(changes).map_err(bad)?,
                    }
                }
            };
            touched.insert(id, doc);
        }
        for (id, mut doc) in touched {
            let summary = doc.summary().map_err(|source| SyncError::BadDocument {
                doc_id: id.clone(),
                source: Box::new(source),
            })?;
            batch.put_case(&id, doc.save(), &summary);
        }

        let outbox: HashSet<String> = self.store.outbox()?.into_iter().collect();
        // A case sent again is back in scope: its deferred removal no longer holds.
        for id in deferred.intersection(&received) {
            batch.cancel_removal(id);
        }
        let mut removed_now: Vec<String> = Vec::new();
        let mut removals: Vec<String> = response.removed;
        removals.extend(
            deferred
                .iter()
                .filter(|id| clean.contains(*id) && !received.contains(*id))
                .cloned(),
        );
        removals.sort();
        removals.dedup();
        removals.retain(|id| !dropped.contains(id));
        for id in removals {
            // Unsent edits are kept until acknowledged; then the case is dropped.
            if outbox.contains(&id) && !clean.contains(&id) {
                batch.defer_removal(&id);
                continue;
            }
            batch.remove_case(&id);
            self.progress.docs_removed += 1;
            removed_now.push(id);
        }
        for id in dropped {
            batch.remove_case(&id);
            self.progress.docs_removed += 1;
            removed_now.push(id);
        }
        self.progress.remaining_estimate = response.remaining_estimate;
        batch.set_cursor(response.cursor);
        self.store.apply(batch)?;
        // Saved: now the page's changes count.
        removed_now.sort();
        removed_now.dedup();
        let mut changed: Vec<String> = received
            .into_iter()
            .filter(|id| removed_now.binary_search(id).is_err())
            .collect();
        changed.sort();
        for id in &removed_now {
            self.progress.changed_ids.remove(id);
            self.progress.removed_ids.insert(id.clone());
        }
        for id in &changed {
            self.progress.removed_ids.remove(id);
            self.progress.changed_ids.insert(id.clone());
        }
        self.last_page = PageChanges {
            changed,
            removed: removed_now,
        };
        Ok(())
    }
}

pub mod driver;

#[cfg(test)]
mod tests;
