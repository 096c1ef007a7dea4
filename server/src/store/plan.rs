//! The planning of a commit, shared by both stores: which sequence number each new
//! change gets, the log entries under each scope key, the index moves of a routing
//! change and the document record after. sled turns the plan into a write set
//! (`sled_store/write_set.rs`), PostgreSQL into the statements of one transaction
//! (`postgres/commit.rs`); both seal each change under the number the plan gives it.

use super::{DocRecord, LogKind, Routing, ScopeKey, StoredChange};

/// What one document's commit writes.
#[derive(Debug)]
pub(crate) struct CommitPlan<'a> {
    /// Each new change with its sequence number, ascending.
    pub changes: Vec<(u64, &'a StoredChange)>,
    /// Log entries: scope key, sequence number, what.
    pub log: Vec<(ScopeKey, u64, LogKind)>,
    /// Index entries to remove (the previous routing's keys), before `index_add`.
    pub index_remove: Vec<ScopeKey>,
    /// Index entries to add (after the removals: a key both old and new stays).
    pub index_add: Vec<ScopeKey>,
    /// The record after the commit (summary not set: the caller sets it).
    pub record: DocRecord,
    /// The routing changed (or the document was created).
    pub routing_changed: bool,
    /// The last sequence number used (`after` if none).
    pub last_seq: u64,
}

/// Sequence numbers a commit of `fresh` changes takes when its routing goes from
/// `prev` (`None`: a new document) to `routing`. (PostgreSQL reserves them up front.)
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn seqs_needed(prev: Option<&Routing>, routing: &Routing, fresh: usize) -> usize {
    fresh + usize::from(prev != Some(routing))
}

/// The plan of storing `fresh` (new, in causal order) on document `rec` (as stored
/// before; a new one for a new document) whose routing goes from `prev` to `routing`,
/// numbering after `after`.
pub(crate) fn plan_commit<'a>(
    mut rec: DocRecord,
    prev: Option<&Routing>,
    routing: &Routing,
    fresh: &[&'a StoredChange],
    after: u64,
) -> CommitPlan<'a> {
    let mut seq = after;
    let keys = routing.scope_keys();
    let mut changes = Vec::with_capacity(fresh.len());
    let mut log = Vec::new();
    for c in fresh {
        seq += 1;
        changes.push((seq, *c));
        for k in &keys {
            log.push((k.clone(), seq, LogKind::Change(c.hash)));
        }
        rec.tail_changes = rec.tail_changes.saturating_add(1);
        rec.tail_bytes += c.bytes.len() as u64;
    }
    let routing_changed = prev != Some(routing);
    let (mut index_remove, mut index_add) = (Vec::new(), Vec::new());
    if routing_changed {
        seq += 1;
        let mut all_keys: Vec<ScopeKey> = keys.to_vec();
        match prev {
            Some(p) => {
                index_remove = p.scope_keys().to_vec();
                all_keys.extend(p.scope_keys());
            }
            None => rec.created_seq = seq,
        }
        all_keys.sort();
        all_keys.dedup();
        for k in all_keys {
            log.push((k, seq, LogKind::Routing));
        }
        index_add = keys.to_vec();
        rec.history.push((seq, routing.clone()));
        rec.routing = routing.clone();
    }
    CommitPlan {
        changes,
        log,
        index_remove,
        index_add,
        record: rec,
        routing_changed,
        last_seq: seq,
    }
}

/// A new document's record before its first commit.
pub(crate) fn new_record(doc_id: &str, routing: &Routing) -> DocRecord {
    DocRecord {
        doc_id: doc_id.to_owned(),
        routing: routing.clone(),
        history: Vec::new(),
        erased: false,
        created_seq: 0,
        summary: None,
        tail_changes: 0,
        tail_bytes: 0,
        snapshot_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(d: &str, u: &str) -> Routing {
        Routing {
            district: d.into(),
            assigned_to: u.into(),
            sensitive: false,
        }
    }

    #[test]
    fn a_new_document_then_a_move_is_numbered_logged_and_indexed() {
        let r1 = routing("sylhet", "chw1");
        let ch = StoredChange {
            hash: [1; 32],
            bytes: vec![0; 10],
        };
        let p = plan_commit(new_record("c", &r1), None, &r1, &[&ch], 4);
        assert_eq!(seqs_needed(None, &r1, 1), 2);
        assert_eq!(p.changes.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [5]);
        assert_eq!(
            (p.last_seq, p.routing_changed, p.record.created_seq),
            (6, true, 6)
        );
        assert_eq!(
            p.log.len(),
            4,
            "a change and a routing entry under both keys"
        );
        assert!(p.index_remove.is_empty());
        assert_eq!(p.index_add, r1.scope_keys().to_vec());
        assert_eq!((p.record.tail_changes, p.record.tail_bytes), (1, 10));
        let r2 = routing("sylhet", "chw2");
        let q = plan_commit(p.record.clone(), Some(&r1), &r2, &[], 6);
        assert_eq!(seqs_needed(Some(&r1), &r2, 0), 1);
        assert_eq!(q.last_seq, 7);
        // Old and new keys hear of the move; the district key once.
        assert_eq!(q.log.len(), 3);
        assert_eq!(q.index_remove, r1.scope_keys().to_vec());
        assert_eq!(q.record.history.len(), 2);
        let same = plan_commit(q.record.clone(), Some(&r2), &r2, &[], 7);
        assert!(!same.routing_changed && same.log.is_empty() && same.last_seq == 7);
    }
}
