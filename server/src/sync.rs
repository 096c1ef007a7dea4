//! The sync engine: validates pushes and builds pull pages (DESIGN §4, §5).
//!
//! [`SyncEngine::handle`] (`sync/door.rs`) is the one door: the HTTP route and the
//! simulation both run a `POST /v1/sync` round trip through it, from request bytes to
//! response bytes. Every pushed document is validated and stored (or refused with
//! nothing stored), the store is flushed, then one page of what is new in the device's
//! scope is built. The engine is synchronous and owns the writer lock
//! ([`SyncEngine::writer`]): pushes are validated and applied without it and take it
//! only to commit, so sequence numbers are committed in order; [`SyncEngine::respond`]
//! (flush and pull) runs without it. The dashboard edits a case through
//! [`SyncEngine::edit_case`] (`sync/edit.rs`), under the same lock and checks.

mod cursor;
mod doc_cache;
mod door;
mod edit;
mod pull;
mod push;
pub mod scope;
mod shrink;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use casesync_core::case::CaseDoc;
use casesync_core::protocol::{
    encode_response, PushAck, Refusal, SyncRequest, SyncResponse, PROTOCOL_VERSION,
};

pub use cursor::{BadCursor, Cursor, InitialKey, Position};
pub use doc_cache::{DocCache, DOC_CACHE_ENTRIES};
pub use door::Handled;
pub use edit::EditRefused;
pub use pull::Page;
pub use push::{PushBudget, PushOutcome};

use crate::config::Settings;
use crate::store::{
    ChangeAudit, DocCommit, Hash, Routing, Storage, StoreError, StoredChange, UserRecord,
};

/// Why a sync request failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cursor was not made by this server.
    #[error(transparent)]
    BadCursor(#[from] BadCursor),
    /// The request does not decode (or is of another protocol version).
    #[error(transparent)]
    BadMessage(#[from] casesync_core::protocol::ProtocolError),
    /// The request names another device than the token's.
    #[error("the request names another device than the token")]
    DeviceMismatch,
}

/// What the device just pushed, so it is not sent back to it.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    /// Hashes of the changes it pushed in this request.
    pub hashes: HashSet<Hash>,
    /// Documents it created in this request.
    pub created: HashSet<String>,
    /// Documents whose push in this request was accepted (the device holds them).
    pub pushed: HashSet<String>,
}

/// What a request's pushes did, input of
/// [`SyncEngine::respond`].
#[derive(Debug, Clone, Default)]
pub struct Pushed {
    /// Documents accepted (stored or already known).
    pub acked: Vec<PushAck>,
    /// Documents refused.
    pub refused: Vec<Refusal>,
    /// Documents the pushes created.
    pub created: HashSet<String>,
}

impl Pushed {
    /// Adds one document's outcome.
    fn record(&mut self, outcome: PushOutcome) {
        match outcome {
            PushOutcome::Accepted { ack, created } => {
                if created {
                    self.created.insert(ack.doc_id.clone());
                }
                self.acked.push(ack)
            }
            PushOutcome::Refused(r) => {
                tracing::info!(doc = %r.doc_id, code = ?r.code, "push refused");
                self.refused.push(r)
            }
        }
    }
}

/// Counts of one sync round trip (for metrics and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Documents whose push was accepted.
    pub accepted: usize,
    /// Documents whose push was refused.
    pub refused: usize,
    /// Documents in the page.
    pub docs: usize,
    /// Documents removed in the page.
    pub removed: usize,
}

/// Raw-to-wire ratio a page is first built for: the recorded caseload compresses about
/// 9:1 in 1–2 MB pages (postcard + zstd); a page that compresses worse is rebuilt smaller.
pub const ASSUMED_COMPRESSION: usize = 8;
/// How far over its wire budget a page may come out before it is rebuilt smaller.
pub const WIRE_SLACK_PERCENT: usize = 125;
/// Most times a page is rebuilt to fit its wire budget.
const FIT_ATTEMPTS: usize = 3;

/// How often at most a device's last sync time is written to the store.
pub const LAST_SYNC_WRITE_EVERY_MS: i64 = 30_000;

/// The sync engine over a store.
#[derive(Clone)]
pub struct SyncEngine {
    store: Arc<dyn Storage>,
    settings: Settings,
    /// A sequence number read before a completed flush: every log entry up to it is
    /// durable, so a pull up to it needs no flush.
    durable_seq: Arc<AtomicU64>,
    /// Last sync time written to the store, per device.
    last_sync_written: Arc<Mutex<HashMap<String, i64>>>,
    /// Documents kept loaded between pushes.
    doc_cache: Arc<Mutex<DocCache>>,
    /// Turns to work on a sync request (`max_concurrent_syncs`).
    turns: Arc<tokio::sync::Semaphore>,
    /// The writer lock: every store write of case data (commits of pushes and of
    /// dashboard edits, cases created by the API) holds it, so sequence numbers are
    /// committed in order.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Called with a case id when the engine forgets an erased case
    /// ([`SyncEngine::forget_doc`]), so other in-memory copies (the dashboard's read model)
    /// drop it at once too.
    forget_listeners: Arc<Mutex<Vec<ForgetListener>>>,
}

/// See [`SyncEngine::on_forget`].
pub type ForgetListener = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine").finish_non_exhaustive()
    }
}

impl SyncEngine {
    /// An engine over `store` with `settings`.
    pub fn new(store: Arc<dyn Storage>, settings: Settings) -> Self {
        SyncEngine {
            store,
            durable_seq: Arc::default(),
            last_sync_written: Arc::default(),
            doc_cache: Arc::new(Mutex::new(DocCache::new(settings.doc_cache_bytes))),
            turns: Arc::new(tokio::sync::Semaphore::new(
                settings.max_concurrent_syncs.max(1),
            )),
            writer: Arc::default(),
            forget_listeners: Arc::default(),
            settings,
        }
    }

    /// Registers `f`, called with the id of every case the engine forgets because it was
    /// erased: a cache of case content outside the engine registers here so the content
    /// leaves memory with the erasure, not at its next refresh.
    pub fn on_forget(&self, f: ForgetListener) {
        self.forget_listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(f);
    }

    /// Waits for a turn to work on a sync request (at most `max_concurrent_syncs` at
    /// once); the turn ends when the returned permit is dropped. (`None` only if the
    /// turns were closed, which nothing does.)
    pub async fn sync_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.turns.clone().acquire_owned().await.ok()
    }

    /// Records that `device_id` synced at `now_ms`. Written to the store at most every
    /// [`LAST_SYNC_WRITE_EVERY_MS`] per device (the dashboard and `device list` show
    /// it to the minute; a write per sync would cost more than a no-op sync).
    pub fn note_sync(&self, device_id: &str, now_ms: i64) -> Result<(), StoreError> {
        {
            let mut written = self
                .last_sync_written
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match written.get_mut(device_id) {
                Some(t) if now_ms.saturating_sub(*t) < LAST_SYNC_WRITE_EVERY_MS => return Ok(()),
                Some(t) => *t = now_ms,
                None => {
                    written.insert(device_id.to_owned(), now_ms);
                }
            }
        }
        self.store.set_last_sync(device_id, now_ms)
    }

    /// The rest of a round trip after its pushes: makes the pushes
    /// durable, then builds one pull page. Needs no writer lock: the page covers the log
    /// up to a head read after this request's own commits, and every entry up to that
    /// head is committed (sled and PostgreSQL make a commit's log entries and its
    /// sequence number visible at once, and writers commit in sequence order under the
    /// writer lock or the counter row lock) and, after the flush, durable. So no cursor
    /// this page hands out can skip an entry, even if the server crashes right after.
    /// (Document records and contents read for the page may be newer than the head;
    /// whatever is newer comes again in a later page, which a device applies harmlessly.)
    pub fn respond(
        &self,
        user: &UserRecord,
        req: &SyncRequest,
        cursor: Option<Cursor>,
        pushed: Pushed,
    ) -> Result<(SyncResponse, SyncStats, Vec<u8>), SyncError> {
        let Pushed {
            acked,
            refused,
            created,
        } = pushed;
        // One flush covers this request's pushes and everything up to `head`; with many
        // requests at once, one flush covers them all (group commit in the store).
        let mut clock = std::time::Instant::now();
        let head = self.store.last_seq()?;
        if !acked.is_empty() || head > self.durable_seq.load(Ordering::SeqCst) {
            self.store.flush()?;
            self.durable_seq.fetch_max(head, Ordering::SeqCst);
        }
        phase("flush", &mut clock);
        let mut stats = SyncStats::default();
        let echo = Echo {
            hashes: acked
                .iter()
                .flat_map(|a| a.hashes.iter().copied())
                .collect(),
            created,
            pushed: acked.iter().map(|a| a.doc_id.clone()).collect(),
        };
        let max_page = match req.max_page_bytes as usize {
            0 => self.settings.max_page_bytes,
            n => n.min(self.settings.max_page_bytes),
        };
        // Page budgets are WIRE bytes (round trips cost more than anything on 2G): the
        // page is built for `max_page * ASSUMED_COMPRESSION` raw bytes, encoded, and
        // rebuilt smaller in proportion if it came out over budget.
        let mut raw_budget = max_page.saturating_mul(ASSUMED_COMPRESSION);
        let limit = max_page.saturating_mul(WIRE_SLACK_PERCENT) / 100;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let page = self.pull_upto(user, cursor.clone(), raw_budget, &echo, head)?;
            stats.accepted = acked.len();
            stats.refused = refused.len();
            stats.docs = page.docs.len();
            stats.removed = page.removed.len();
            let resp = SyncResponse {
                version: PROTOCOL_VERSION,
                cursor: page.cursor,
                docs: page.docs,
                removed: page.removed,
                acked: acked.clone(),
                refused: refused.clone(),
                more: page.more,
                remaining_estimate: page.remaining_estimate,
                wipe: false,
            };
            let wire = encode_response(&resp);
            phase("pull", &mut clock);
            let shrinkable = resp.docs.len() > 1 && raw_budget > max_page;
            if wire.len() <= limit || !shrinkable || attempt >= FIT_ATTEMPTS {
                // Starts the device's write window on each case it is told to remove
                // (`note_removals_served`, docs/DESIGN.md §5.3).
                self.note_removals_served(&req.device_id, &resp.removed, crate::now_ms())?;
                return Ok((resp, stats, wire));
            }
            let scaled = raw_budget as u128 * max_page as u128 / wire.len().max(1) as u128;
            raw_budget = usize::try_from(scaled).unwrap_or(max_page).max(max_page);
        }
    }

    /// Re-saves every document with at least `min_changes` changes since its snapshot.
    /// Needs no writer lock: the snapshot is read after the sequence number it is stored
    /// as covering, so it holds every change up to it (and maybe later ones, which
    /// loading skips as already known), and the store keeps a newer snapshot and
    /// recounts the tail after it. Returns how many were compacted.
    pub fn compact(&self, min_changes: u32) -> Result<usize, StoreError> {
        self.compact_paced(min_changes, 0)
    }

    /// [`compact`](Self::compact) that rests `rest_factor` times as long as each
    /// document took before the next one, so a pass over many documents leaves most of
    /// a small server's CPU to syncs (the background compactor; see
    /// [`COMPACT_REST_FACTOR`](crate::config::COMPACT_REST_FACTOR)).
    pub fn compact_paced(&self, min_changes: u32, rest_factor: u32) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in self.store.docs_to_compact(min_changes)? {
            let began = std::time::Instant::now();
            // In this order: every change up to `upto` is in the record read after it,
            // and so in a cached copy of the document as of that record.
            let upto = self.store.last_seq()?;
            let Some(rec) = self.store.doc(&id)? else {
                continue;
            };
            // A cached copy is saved as it is; otherwise the stored bytes are loaded.
            let mut cached = self.cached_doc(&id, &rec);
            let saved = match &mut cached {
                Some(doc) => doc.automerge().save(),
                None => {
                    let Some(bytes) = self.store.doc_bytes(&id)? else {
                        continue;
                    };
                    // Counted first (bounded), then loaded without reading the case:
                    // compaction re-saves what is stored, it does not check it again.
                    let loaded = casesync_core::case::scan_document(&bytes)
                        .map_err(|e| e.to_string())
                        .and_then(|_| {
                            automerge::AutoCommit::load(&bytes).map_err(|e| e.to_string())
                        });
                    match loaded {
                        Ok(mut doc) => doc.save(),
                        Err(e) => {
                            tracing::warn!(doc = %id, error = %e, "stored case does not load; not compacted");
                            continue;
                        }
                    }
                }
            };
            let done = self.store.compact(&id, saved, upto)?;
            if done.after.is_some() {
                n += 1;
            }
            // The copy goes back to the cache as of the compacted record if no commit
            // came between (compaction changes no content): pushes keep finding it.
            if let (Some(doc), Some(before)) = (cached, done.before) {
                if before == rec {
                    self.cache_doc(&id, done.after.unwrap_or(before), doc);
                }
            }
            if rest_factor > 0 {
                std::thread::sleep(began.elapsed() * rest_factor);
            }
        }
        if n > 0 {
            self.store.flush()?;
        }
        Ok(n)
    }

    /// Stores a document created on the server (by the API, an import or the demo).
    /// Returns false, storing nothing, if the id exists. The caller holds the writer lock.
    /// `audit`: who stored it (recorded for each of its changes).
    pub fn store_new(
        &self,
        doc: &mut CaseDoc,
        audit: Option<ChangeAudit>,
    ) -> Result<bool, StoreError> {
        let case = doc.read().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if self.store.doc(&case.id)?.is_some() {
            return Ok(false);
        }
        let changes = doc
            .changes_since(&[])
            .iter()
            .map(|c| StoredChange {
                hash: c.hash().0,
                bytes: c.raw_bytes().to_vec(),
            })
            .collect();
        self.store.commit(DocCommit {
            doc_id: case.id.clone(),
            routing: Routing {
                district: case.district.clone(),
                assigned_to: case.assigned_to.clone(),
                sensitive: case.sensitive,
            },
            summary: case.summary(),
            changes,
            audit,
        })?;
        Ok(true)
    }

    /// The writer lock (see the field): taken by [`handle`](Self::handle) and
    /// [`edit_case`](Self::edit_case) themselves; other writers of case data (the API's
    /// create, import and erase) take it around their writes.
    pub fn writer(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.writer.clone()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

#[cfg(test)]
mod tests;

/// Records the time since `clock` as sync phase `name` and restarts the clock.
fn phase(name: &'static str, clock: &mut std::time::Instant) {
    let now = std::time::Instant::now();
    metrics::histogram!("casesync_sync_phase_seconds", "phase" => name)
        .record(now.duration_since(*clock).as_secs_f64());
    *clock = now;
}
