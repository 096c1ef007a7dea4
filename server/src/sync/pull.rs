//! Building one pull page: snapshots for a fresh device (`initial`), then the log of its
//! scope.

mod initial;

use std::collections::{HashMap, HashSet};

use casesync_core::case::{inflate_document, CaseSummary};
use casesync_core::protocol::{DocBody, DocUpdate};
use casesync_core::protocol::{MAX_CHANGES_PER_DOC, MAX_DECODED_BYTES, MAX_DOCS_PER_MESSAGE};

use super::cursor::{Cursor, Position};
use super::scope::{can_read, scope_keys, scope_version};
use super::{Echo, SyncEngine};
use crate::store::{LogEntry, LogKind, StoreError, UserRecord};
use initial::Initial;

/// One page of a pull.
#[derive(Debug, Default)]
pub struct Page {
    /// Documents that changed or entered the scope.
    pub docs: Vec<DocUpdate>,
    /// Documents that left the scope.
    pub removed: Vec<String>,
    /// Cursor after this page.
    pub cursor: Vec<u8>,
    /// More pages follow.
    pub more: bool,
    /// Estimated documents still to come.
    pub remaining_estimate: u64,
}

/// Most documents (updated or removed) in one page, under the protocol's limit.
const MAX_PAGE_ENTRIES: usize = MAX_DOCS_PER_MESSAGE / 2;
/// Most items (snapshots, changes, removals) in one page, so no document's change list
/// can reach the protocol's per-document limit.
const MAX_PAGE_ITEMS: usize = MAX_CHANGES_PER_DOC / 2;

/// Fixed overhead counted per document entry of a page, in bytes.
pub(super) const ENTRY_OVERHEAD: usize = 16;
/// Most bytes of (inflated) snapshots in one page: half the protocol's decoded limit,
/// so a page stays decodable whatever page budget the server is configured with.
const MAX_PAGE_SNAPSHOT_BYTES: usize = MAX_DECODED_BYTES / 2;

/// A snapshot as the page sends it: the stored document with its columns inflated
/// (protocol 2), so the page's one zstd frame compresses all its cases together. A
/// stored document that cannot be rewritten is sent as stored (it is still a valid
/// document; the device checks it either way).
fn snapshot(stored: Vec<u8>) -> Vec<u8> {
    match inflate_document(&stored) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::warn!(error = %e, "a stored document could not be inflated: sent as stored");
            stored
        }
    }
}

fn summary_cost(s: &CaseSummary) -> usize {
    s.id.len() + s.name.len() + s.assigned_to.len() + s.district.len() + s.village.len() + 32
}

/// What a page decided for a document met in the log.
enum Decision {
    /// Send its changes (index into the page's docs).
    Changes(usize),
    /// Already decided (snapshot sent, removed, or not visible).
    Done,
}

pub(super) struct Builder {
    pub(super) page: Page,
    pub(super) bytes: usize,
    max: usize,
    /// Snapshots, changes and removals in the page so far.
    items: usize,
    /// Bytes of snapshots in the page so far, as sent (inflated).
    snapshot_bytes: usize,
}

impl Builder {
    /// The page, with the cursor to continue from `position` under `scope` and `more`
    /// saying whether the device should sync again at once.
    fn finish(mut self, scope: u64, position: Position, more: bool) -> Page {
        self.page.more = more;
        self.page.cursor = Cursor { scope, position }.encode();
        self.page
    }

    /// Whether `cost` more bytes fit (the first item always fits, so pages progress),
    /// within the protocol's count limits.
    pub(super) fn fits(&mut self, cost: usize) -> bool {
        self.fits_snapshot(cost, 0)
    }

    /// [`fits`](Self::fits) for an item that adds `snapshot` bytes of snapshot, within
    /// [`MAX_PAGE_SNAPSHOT_BYTES`].
    fn fits_snapshot(&mut self, cost: usize, snapshot: usize) -> bool {
        if self.items > 0 && self.snapshot_bytes + snapshot > MAX_PAGE_SNAPSHOT_BYTES {
            return false;
        }
        let entries = self.page.docs.len() + self.page.removed.len();
        let ok = self.items == 0
            || (self.bytes + cost <= self.max
                && entries < MAX_PAGE_ENTRIES
                && self.items < MAX_PAGE_ITEMS);
        if ok {
            self.items += 1;
            self.snapshot_bytes += snapshot;
        }
        ok
    }
}

impl SyncEngine {
    /// One page of everything in `user`'s scope since `cursor`, at most about `max_bytes`
    /// (the first entry is always included). What the device just pushed (`echo`) is
    /// not sent back.
    pub fn pull(
        &self,
        user: &UserRecord,
        cursor: Option<Cursor>,
        max_bytes: usize,
        echo: &Echo,
    ) -> Result<Page, StoreError> {
        let head = self.store.last_seq()?;
        self.store.flush()?;
        self.pull_upto(user, cursor, max_bytes, echo, head)
    }

    /// [`pull`](Self::pull) of the log up to `head`, a sequence number read before the
    /// store was last flushed (every entry up to it is committed and durable).
    pub(crate) fn pull_upto(
        &self,
        user: &UserRecord,
        cursor: Option<Cursor>,
        max_bytes: usize,
        echo: &Echo,
        head: u64,
    ) -> Result<Page, StoreError> {
        let scope = scope_version(user);
        let position = match cursor {
            Some(c) if c.scope == scope => c.position,
            // Made under another scope: what the old scope gave the device and the new
            // one does not cover is listed as removed first, then snapshots follow.
            Some(c) => Position::Shrink {
                old_scope: match c.position {
                    Position::Shrink { .. } => None,
                    _ => Some(c.scope),
                },
                since: c.position.since(),
                start_seq: head,
                after_doc: String::new(),
            },
            None => Position::Ordered {
                start_seq: head,
                after: None,
            },
        };
        let mut b = Builder {
            page: Page::default(),
            bytes: 0,
            max: max_bytes.max(1),
            items: 0,
            snapshot_bytes: 0,
        };
        self.pushed_out_of_scope(user, echo, &mut b)?;
        let position = match position {
            Position::Shrink {
                old_scope,
                since,
                start_seq,
                after_doc,
            } => match self.shrink(user, old_scope, since, head, &after_doc, &mut b)? {
                Some(after_doc) => {
                    let next = Position::Shrink {
                        old_scope,
                        since,
                        start_seq,
                        after_doc,
                    };
                    return Ok(b.finish(scope, next, true));
                }
                None => Position::Ordered {
                    start_seq,
                    after: None,
                },
            },
            // An id-ordered initial phase of an older server starts again, ordered.
            Position::Initial { start_seq, .. } => Position::Ordered {
                start_seq,
                after: None,
            },
            other => other,
        };
        let position = match position {
            Position::Ordered { start_seq, after } => {
                match self.initial(user, start_seq, head, after.as_ref(), echo, &mut b)? {
                    Initial::Resume(after) => {
                        let next = Position::Ordered { start_seq, after };
                        return Ok(b.finish(scope, next, true));
                    }
                    Initial::Done => start_seq,
                }
            }
            Position::Log { seq } => seq,
            // Turned into `Ordered` above.
            Position::Shrink { start_seq, .. } | Position::Initial { start_seq, .. } => start_seq,
        };
        let seq = self.log_phase(user, position, head, echo, &mut b)?;
        let more = b.page.more;
        Ok(b.finish(scope, Position::Log { seq }, more))
    }

    /// Lists as removed every document the device pushed in this request (so it holds
    /// it) that its user can no longer read, or that was erased, whatever the cursor.
    /// Without this, a device whose cursor does not reach back to the document's change
    /// of routing would keep it: a first sync whose response was lost (the next request
    /// gets an initial page, which names no removals), or a document whose routing
    /// changed before the cursor while the device still held unsent edits. Counted
    /// outside the page's byte budget (an id each, at most [`MAX_PAGE_ENTRIES`]: with
    /// the log phase's own at most as many, the list stays under the protocol's limit).
    fn pushed_out_of_scope(
        &self,
        user: &UserRecord,
        echo: &Echo,
        b: &mut Builder,
    ) -> Result<(), StoreError> {
        let mut ids: Vec<&String> = echo.pushed.iter().collect();
        ids.sort();
        for id in ids {
            if b.page.removed.len() >= MAX_PAGE_ENTRIES {
                break;
            }
            let Some(rec) = self.store.doc(id)? else {
                continue;
            };
            if rec.erased || !can_read(user, &rec.routing) {
                b.page.removed.push(id.clone());
            }
        }
        Ok(())
    }

    /// Log entries of the scope after `after`, as changes, snapshots or removals.
    /// Returns the sequence number the page covers.
    fn log_phase(
        &self,
        user: &UserRecord,
        after: u64,
        head: u64,
        echo: &Echo,
        b: &mut Builder,
    ) -> Result<u64, StoreError> {
        let mut entries: Vec<LogEntry> = Vec::new();
        for key in scope_keys(user) {
            entries.extend(self.store.log(&key, after, head)?);
        }
        entries.sort_by_key(|e| e.seq);
        entries.dedup_by_key(|e| e.seq);
        // Documents whose every change in range is the device's own just-pushed one.
        let mut foreign: HashSet<&str> = HashSet::new();
        for e in &entries {
            if let LogKind::Change(h) = &e.kind {
                if !echo.hashes.contains(h) {
                    foreign.insert(e.doc_id.as_str());
                }
            }
        }
        // A document already in this page (a snapshot from the initial phase, taken now)
        // holds every change of the log range: it is not listed a second time.
        // Nor is one already listed as removed.
        let mut decided: HashMap<String, Decision> = b
            .page
            .docs
            .iter()
            .map(|d| &d.doc_id)
            .chain(&b.page.removed)
            .map(|id| (id.clone(), Decision::Done))
            .collect();
        let mut covered = after;
        for (i, e) in entries.iter().enumerate() {
            if !decided.contains_key(&e.doc_id) {
                let Some(rec) = self.store.doc(&e.doc_id)? else {
                    covered = e.seq;
                    continue;
                };
                let then = rec.routing_at(after).is_some_and(|r| can_read(user, r));
                let now = !rec.erased && can_read(user, &rec.routing);
                // Visible at some point after the cursor (e.g. created by this device in a
                // request whose page was full, then erased or reassigned away): the
                // device may hold it, so it is listed as removed (harmless if it doesn't).
                let seen_since = rec
                    .history
                    .iter()
                    .any(|(s, r)| *s > after && can_read(user, r));
                let own_new = rec.created_seq > after && !foreign.contains(e.doc_id.as_str());
                let decision = match (then, now) {
                    (true, true) => {
                        if b.page.docs.len() + b.page.removed.len() >= MAX_PAGE_ENTRIES {
                            return Ok(self.stop(b, &entries[i..], covered));
                        }
                        b.page.docs.push(DocUpdate {
                            doc_id: e.doc_id.clone(),
                            body: DocBody::Changes(Vec::new()),
                        });
                        b.bytes += e.doc_id.len() + ENTRY_OVERHEAD;
                        Decision::Changes(b.page.docs.len() - 1)
                    }
                    (false, true) if !own_new => {
                        let (Some(summary), Some(doc)) =
                            (rec.summary.clone(), self.store.doc_bytes(&e.doc_id)?)
                        else {
                            covered = e.seq;
                            continue;
                        };
                        let cost = doc.len() + summary_cost(&summary) + ENTRY_OVERHEAD;
                        let doc = snapshot(doc);
                        if !b.fits_snapshot(cost, doc.len()) {
                            return Ok(self.stop(b, &entries[i..], covered));
                        }
                        b.bytes += cost;
                        b.page.docs.push(DocUpdate {
                            doc_id: e.doc_id.clone(),
                            body: DocBody::Snapshot { doc, summary },
                        });
                        Decision::Done
                    }
                    // An erased case keeps no routing (`DocRecord::into_tombstone`): its
                    // entry under one of this device's scope keys is what says the device
                    // may hold it. Listing it to one that never did is harmless.
                    (true, false) | (false, false) if then || seen_since || rec.erased => {
                        if !b.fits(0) {
                            return Ok(self.stop(b, &entries[i..], covered));
                        }
                        b.bytes += e.doc_id.len() + ENTRY_OVERHEAD;
                        b.page.removed.push(e.doc_id.clone());
                        Decision::Done
                    }
                    _ => Decision::Done,
                };
                decided.insert(e.doc_id.clone(), decision);
            }
            if let (Some(Decision::Changes(idx)), LogKind::Change(h)) =
                (decided.get(&e.doc_id), &e.kind)
            {
                if !echo.hashes.contains(h) {
                    if let Some(ch) = self.store.change_at(&e.doc_id, e.seq)? {
                        let cost = ch.bytes.len() + 4;
                        if !b.fits(cost) {
                            return Ok(self.stop(b, &entries[i..], covered));
                        }
                        b.bytes += cost;
                        if let Some(DocUpdate {
                            body: DocBody::Changes(cs),
                            ..
                        }) = b.page.docs.get_mut(*idx)
                        {
                            cs.push(ch.bytes);
                        }
                    }
                }
            }
            covered = e.seq;
        }
        finish(b);
        Ok(head.max(covered))
    }

    /// Ends a full page before `rest`.
    fn stop(&self, b: &mut Builder, rest: &[LogEntry], covered: u64) -> u64 {
        b.page.more = true;
        let docs: HashSet<&str> = rest.iter().map(|e| e.doc_id.as_str()).collect();
        b.page.remaining_estimate = docs.len() as u64;
        finish(b);
        covered
    }
}

/// Drops change lists that ended up empty (every change was the device's own).
fn finish(b: &mut Builder) {
    b.page
        .docs
        .retain(|d| !matches!(&d.body, DocBody::Changes(cs) if cs.is_empty()));
}
