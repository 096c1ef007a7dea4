//! The writing transactions: commit, erase, compact. Each locks the case's `docs` row
//! first and, if it appends to the log, the `log_counter` row last (see the module docs
//! of [`super`] for why that gives cursors that never skip a change).

use std::collections::HashSet;

use super::pool::{Conn, Db, Tx};
use casesync_core::case::{CaseDoc, CaseSummary};

use super::keys::Keys;
use super::pool::pg_err;
use super::{
    corrupt, doc_bytes_with, doc_of_row, i64_of, u64_of, DOC_COLUMNS, KIND_CHANGE, KIND_ERASED,
    KIND_ROUTING,
};
use crate::store::plan::{plan_commit, seqs_needed};
use crate::store::seal::{Place, SEAL_OVERHEAD};
use crate::store::{
    CommitOutcome, Compacted, DocCommit, DocRecord, LogKind, Routing, ScopeKey, StoreError,
};

/// Attempts of a transaction that failed on a serialization failure or a deadlock.
const ATTEMPTS: usize = 3;

/// A failure inside a transaction: from the database (maybe worth a retry) or not.
enum TxError {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for TxError {
    fn from(e: postgres::Error) -> Self {
        TxError::Pg(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|s| {
        *s == SqlState::T_R_SERIALIZATION_FAILURE || *s == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// Runs `f` in a transaction, retrying it if the database asks for it (serialization
/// failure, deadlock: neither is expected with one lock order, but both are cheap to
/// survive).
fn in_tx<T>(
    c: &mut Conn,
    mut f: impl FnMut(&mut Tx<'_>) -> Result<T, TxError>,
) -> Result<T, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = match c.transaction() {
            Ok(mut tx) => match f(&mut tx) {
                Ok(out) => tx.commit().map(|()| out).map_err(TxError::Pg),
                Err(e) => Err(e), // dropping `tx` rolls back
            },
            Err(e) => Err(TxError::Pg(e)),
        };
        match r {
            Ok(v) => return Ok(v),
            Err(TxError::Pg(e)) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::debug!(attempt, "transaction retried");
            }
            Err(TxError::Pg(e)) => return Err(pg_err(e)),
            Err(TxError::Store(e)) => return Err(e),
        }
    }
}

/// Takes `n` sequence numbers: the counter's row lock is held until commit, so numbers
/// are handed out in commit order (module docs). Returns the last one.
fn take_seqs(tx: &mut Tx<'_>, n: usize) -> Result<i64, postgres::Error> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    tx.query_one(
        "UPDATE log_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq",
        &[&n],
    )?
    .try_get(0)
}

/// Locks a case's row; `None` if there is none.
fn lock_doc(
    tx: &mut Tx<'_>,
    keys: &Keys,
    doc_id: &str,
) -> Result<Option<(DocRecord, i64)>, TxError> {
    let row = tx.query_opt(
        &format!("SELECT {DOC_COLUMNS} FROM docs WHERE doc_id = $1 FOR UPDATE OF docs"),
        &[&doc_id],
    )?;
    Ok(row.map(|r| doc_of_row(&r, keys)).transpose()?)
}

/// Routing and summary of the stored case with `fresh` applied, computed in the
/// transaction (the row is locked); `None` if that does not give a readable case.
fn merged_view(
    tx: &mut Tx<'_>,
    keys: &Keys,
    doc_id: &str,
    fresh: &[&crate::store::StoredChange],
) -> Result<Option<(Routing, CaseSummary)>, StoreError> {
    let Some(bytes) = doc_bytes_with(tx, keys, doc_id)? else {
        return Ok(None);
    };
    let Ok(mut doc) = CaseDoc::load(&bytes) else {
        return Ok(None);
    };
    let changes: Result<Vec<_>, _> = fresh
        .iter()
        .map(|c| casesync_core::case::decode_change(c.bytes.clone()))
        .collect();
    let Ok(changes) = changes else {
        return Ok(None);
    };
    if doc.automerge().apply_changes(changes).is_err() {
        return Ok(None);
    }
    let Ok(case) = doc.read() else {
        return Ok(None);
    };
    Ok(Some((
        Routing {
            district: case.district.clone(),
            assigned_to: case.assigned_to.clone(),
            sensitive: case.sensitive,
        },
        case.summary(),
    )))
}

/// Log rows to insert: scope, seq, kind, hash.
#[derive(Default)]
struct LogRows {
    scope: Vec<String>,
    seq: Vec<i64>,
    kind: Vec<i16>,
    hash: Vec<Option<Vec<u8>>>,
}

impl LogRows {
    fn push(&mut self, key: &ScopeKey, seq: i64, kind: LogKind) {
        let (kind, hash) = match kind {
            LogKind::Change(h) => (KIND_CHANGE, Some(h.to_vec())),
            LogKind::Routing => (KIND_ROUTING, None),
            LogKind::Erased => (KIND_ERASED, None),
        };
        self.scope.push(key.encode());
        self.seq.push(seq);
        self.kind.push(kind);
        self.hash.push(hash);
    }

    fn insert(&self, tx: &mut Tx<'_>, doc_id: &str) -> Result<(), postgres::Error> {
        if self.seq.is_empty() {
            return Ok(());
        }
        tx.exec(
            "INSERT INTO log (scope, seq, doc_id, kind, hash)
             SELECT s, q, $1, k, h FROM UNNEST($2::text[], $3::bigint[], $4::int2[], $5::bytea[])
                 AS t(s, q, k, h)",
            &[&doc_id, &self.scope, &self.seq, &self.kind, &self.hash],
        )?;
        Ok(())
    }
}

/// [`crate::store::Storage::commit`]. `seen`: the case's `head_seq` when this caller
/// read it (`Some(None)`: it did not exist), `None` if the caller did not read it.
pub(super) fn commit(
    c: &mut Conn,
    keys: &Keys,
    commit: &DocCommit,
    seen: Option<Option<i64>>,
) -> Result<CommitOutcome, StoreError> {
    in_tx(c, |tx| commit_tx(tx, keys, commit, seen))
}

fn commit_tx(
    tx: &mut Tx<'_>,
    keys: &Keys,
    commit: &DocCommit,
    seen: Option<Option<i64>>,
) -> Result<CommitOutcome, TxError> {
    let id = commit.doc_id.as_str();
    // A new case gets its row now (a concurrent creator waits here, then finds it).
    let created = tx
        .query_opt(
            "INSERT INTO docs (doc_id, district, assigned_to, sensitive) VALUES ($1, $2, $3, $4)
             ON CONFLICT (doc_id) DO NOTHING RETURNING doc_id",
            &[
                &id,
                &commit.routing.district,
                &commit.routing.assigned_to,
                &commit.routing.sensitive,
            ],
        )?
        .is_some();
    let (mut rec, head) = lock_doc(tx, keys, id)?
        .ok_or_else(|| StoreError::NotFound(format!("case row {id} vanished")))?;
    if rec.erased {
        // Erased while this push was being checked: store nothing of it.
        let last: i64 = tx
            .query_one("SELECT seq FROM log_counter WHERE id = 1", &[])
            .and_then(|r| r.try_get(0))?;
        return Ok(CommitOutcome {
            last_seq: u64_of(last)?,
            routing_changed: false,
            record: None,
        });
    }
    let prev = (!created).then(|| rec.routing.clone());
    let ck = keys.get_or_create(tx, id)?;
    // Changes already stored (a retry that went through another instance) are skipped.
    let hashes: Vec<Vec<u8>> = commit.changes.iter().map(|c| c.hash.to_vec()).collect();
    let known: HashSet<Vec<u8>> = tx
        .rows(
            "SELECT hash FROM changes WHERE doc_id = $1 AND hash = ANY($2)",
            &[&id, &hashes],
        )?
        .iter()
        .map(|r| r.try_get(0).map_err(corrupt))
        .collect::<Result<_, _>>()?;
    let mut once = HashSet::new();
    let fresh: Vec<_> = commit
        .changes
        .iter()
        .filter(|c| !known.contains(c.hash.as_slice()) && once.insert(c.hash))
        .collect();
    // Did the case move on since the caller read it (another instance committed)?
    let stale = match seen {
        Some(Some(h)) => created || h != head,
        Some(None) => !created,
        None => false,
    };
    let (routing, summary) = if stale {
        match merged_view(tx, keys, id, &fresh)? {
            Some(v) => v,
            None if fresh.is_empty() => (rec.routing.clone(), commit.summary.clone()),
            None => {
                tracing::warn!(doc = id, "case changed concurrently and does not load");
                (commit.routing.clone(), commit.summary.clone())
            }
        }
    } else {
        (commit.routing.clone(), commit.summary.clone())
    };
    if stale {
        tracing::debug!(
            doc = id,
            "concurrent commit: routing and summary recomputed"
        );
    }
    let routing_changed = prev.as_ref() != Some(&routing);
    let n = seqs_needed(prev.as_ref(), &routing, fresh.len());
    let mut last = i64_of(rec.history.last().map_or(0, |(s, _)| *s))?.max(head);
    if n > 0 {
        // From here until COMMIT the counter row is locked: keep it short.
        let end = take_seqs(tx, n)?;
        let after = u64_of(end - i64::try_from(n).map_err(corrupt)?)?;
        let plan = plan_commit(rec, prev.as_ref(), &routing, &fresh, after);
        let (mut c_seq, mut c_hash, mut c_bytes) = (Vec::new(), Vec::new(), Vec::new());
        for (seq, ch) in &plan.changes {
            c_seq.push(i64_of(*seq)?);
            c_hash.push(ch.hash.to_vec());
            c_bytes.push(ck.seal(id, Place::Change(*seq), &ch.bytes)?);
        }
        if !c_seq.is_empty() {
            tx.exec(
                "INSERT INTO changes (doc_id, seq, hash, bytes)
                 SELECT $1, q, h, b FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[])
                     AS t(q, h, b)",
                &[&id, &c_seq, &c_hash, &c_bytes],
            )?;
            if let Some(a) = &commit.audit {
                tx.exec(
                    "INSERT INTO change_audit (doc_id, hash, user_id, device_id, received_ms)
                     SELECT $1, h, $3, $4, $5 FROM UNNEST($2::bytea[]) AS t(h)
                     ON CONFLICT DO NOTHING",
                    &[&id, &c_hash, &a.user_id, &a.device_id, &a.received_ms],
                )?;
            }
        }
        if !plan.index_remove.is_empty() {
            let old: Vec<String> = plan.index_remove.iter().map(ScopeKey::encode).collect();
            tx.exec(
                "DELETE FROM doc_index WHERE doc_id = $1 AND scope = ANY($2)",
                &[&id, &old],
            )?;
        }
        if !plan.index_add.is_empty() {
            let new: Vec<String> = plan.index_add.iter().map(ScopeKey::encode).collect();
            tx.exec(
                "INSERT INTO doc_index (scope, doc_id) SELECT s, $1 FROM UNNEST($2::text[]) s
                 ON CONFLICT DO NOTHING",
                &[&id, &new],
            )?;
        }
        let mut log = LogRows::default();
        for (k, seq, kind) in &plan.log {
            log.push(k, i64_of(*seq)?, *kind);
        }
        log.insert(tx, id)?;
        rec = plan.record;
        last = end;
    }
    let history = serde_json::to_value(&rec.history).map_err(corrupt)?;
    let summary_sealed = Keys::seal_summary(&ck, id, &summary)?;
    let tail_changes = i32::try_from(rec.tail_changes).unwrap_or(i32::MAX);
    tx.exec(
        "UPDATE docs SET district = $2, assigned_to = $3, sensitive = $4, created_seq = $5,
             head_seq = GREATEST(head_seq, $6), history = $7, summary = NULL,
             summary_sealed = $8,
             tail_changes = $9, tail_bytes = $10
         WHERE doc_id = $1",
        &[
            &id,
            &routing.district,
            &routing.assigned_to,
            &routing.sensitive,
            &i64_of(rec.created_seq)?,
            &last,
            &history,
            &summary_sealed,
            &tail_changes,
            &i64_of(rec.tail_bytes)?,
        ],
    )?;
    rec.routing = routing;
    rec.summary = Some(summary);
    Ok(CommitOutcome {
        last_seq: u64_of(last)?,
        routing_changed,
        // Merged with another instance's changes (or the caller's view is unknown): the
        // caller's copy may lack some.
        record: (seen.is_some() && !stale).then_some(rec),
    })
}

/// [`crate::store::Storage::erase`].
pub(super) fn erase(c: &mut Conn, keys: &Keys, doc_id: &str) -> Result<Option<u64>, StoreError> {
    in_tx(c, |tx| erase_tx(tx, keys, doc_id))
}

fn erase_tx(tx: &mut Tx<'_>, keys: &Keys, id: &str) -> Result<Option<u64>, TxError> {
    let Some((rec, _)) = lock_doc(tx, keys, id)? else {
        return Ok(None);
    };
    if rec.erased {
        return Ok(None);
    }
    tx.exec("DELETE FROM snapshots WHERE doc_id = $1", &[&id])?;
    tx.exec("DELETE FROM changes WHERE doc_id = $1", &[&id])?;
    tx.exec("DELETE FROM change_audit WHERE doc_id = $1", &[&id])?;
    // Crypto-shredding: without its key, every older copy of the content is unreadable.
    keys.delete(tx, id)?;
    let keys: Vec<String> = rec
        .routing
        .scope_keys()
        .iter()
        .map(ScopeKey::encode)
        .collect();
    tx.exec(
        "DELETE FROM doc_index WHERE doc_id = $1 AND scope = ANY($2)",
        &[&id, &keys],
    )?;
    let seq = take_seqs(tx, 1)?;
    let mut log = LogRows::default();
    for k in rec.routing.scope_keys() {
        log.push(&k, seq, LogKind::Erased);
    }
    log.insert(tx, id)?;
    let tomb = rec.into_tombstone();
    let history = serde_json::to_value(&tomb.history).map_err(corrupt)?;
    tx.exec(
        "UPDATE docs SET erased = true, summary = NULL, summary_sealed = NULL,
             district = $3, assigned_to = $4, sensitive = $5, history = $6,
             tail_changes = 0, tail_bytes = 0,
             snapshot_bytes = 0, head_seq = $2
         WHERE doc_id = $1",
        &[
            &id,
            &seq,
            &tomb.routing.district,
            &tomb.routing.assigned_to,
            &tomb.routing.sensitive,
            &history,
        ],
    )?;
    Ok(Some(u64_of(seq)?))
}

/// [`crate::store::Storage::compact`]: keeps the newest snapshot if another instance
/// already compacted further, and recounts the tail from the stored changes.
pub(super) fn compact(
    c: &mut Conn,
    keys: &Keys,
    doc_id: &str,
    saved: &[u8],
    upto_seq: u64,
) -> Result<Compacted, StoreError> {
    let upto = i64_of(upto_seq)?;
    let len = i64::try_from(saved.len()).map_err(corrupt)?;
    let overhead = i32::try_from(SEAL_OVERHEAD).map_err(corrupt)?;
    in_tx(c, |tx| {
        let Some((before, _)) = lock_doc(tx, keys, doc_id)? else {
            return Ok(Compacted::default());
        };
        let current: Option<i64> = tx
            .query_opt(
                "SELECT upto_seq FROM snapshots WHERE doc_id = $1",
                &[&doc_id],
            )?
            .map(|r| r.try_get(0))
            .transpose()?;
        if before.erased || current.is_some_and(|s| s >= upto) {
            return Ok(Compacted {
                before: Some(before),
                after: None,
            });
        }
        let sealed = keys
            .live(tx, doc_id)?
            .seal(doc_id, Place::Snapshot(upto_seq), saved)?;
        tx.exec(
            "INSERT INTO snapshots (doc_id, upto_seq, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (doc_id) DO UPDATE SET upto_seq = EXCLUDED.upto_seq,
                 bytes = EXCLUDED.bytes",
            &[&doc_id, &upto, &sealed],
        )?;
        // Tail bytes count plaintext, as a commit does.
        let row = tx.query_one(
            "UPDATE docs SET snapshot_bytes = $3,
                 tail_changes = (SELECT count(*) FROM changes WHERE doc_id = $1 AND seq > $2),
                 tail_bytes = (SELECT COALESCE(sum(GREATEST(length(bytes) - $4, 0)), 0)
                               FROM changes WHERE doc_id = $1 AND seq > $2)
             WHERE doc_id = $1
             RETURNING tail_changes, tail_bytes",
            &[&doc_id, &upto, &len, &overhead],
        )?;
        let tail_changes: i32 = row.try_get(0)?;
        let tail_bytes: i64 = row.try_get(1)?;
        let mut after = before.clone();
        after.tail_changes = u32::try_from(tail_changes).map_err(corrupt)?;
        after.tail_bytes = u64_of(tail_bytes)?;
        after.snapshot_bytes = saved.len() as u64;
        Ok(Compacted {
            before: Some(before),
            after: Some(after),
        })
    })
}
