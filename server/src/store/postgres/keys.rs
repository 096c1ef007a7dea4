//! PostgreSQL's data keys (`casesync_keys.case_keys`, wrapped under the master key; see
//! [`crate::store::seal`]), the master-key check, and sealing forward the plaintext a
//! database written before migration 3 holds.

use std::sync::Arc;

use super::pool::{pg_err, Conn, Db};
use super::{corrupt, from_json, u64_of};
use crate::store::seal::{is_sealed, random_key, CaseKey, KeyCache, MasterKey, Place};
use crate::store::{CaseSummary, StoreError};

/// Meta name of the master key's check value.
const MASTER_CHECK: &str = "master_check";
/// Meta name set once every case's content is sealed.
const SEALED_META: &str = "at_rest";

/// The master key and the data keys unwrapped so far (shared by the pool's threads).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    master: MasterKey,
    cache: Arc<KeyCache>,
}

impl Keys {
    pub(crate) fn new(master: MasterKey) -> Self {
        Keys {
            master,
            cache: Arc::default(),
        }
    }

    /// The key of `doc_id` from its wrapped form (`None`: no key row).
    pub(crate) fn unwrapped(
        &self,
        doc_id: &str,
        wrapped: Option<&[u8]>,
    ) -> Result<Option<CaseKey>, StoreError> {
        if let Some(k) = self.cache.get(doc_id) {
            return Ok(Some(k));
        }
        let Some(w) = wrapped else { return Ok(None) };
        let k = CaseKey::from_bytes(&self.master.unwrap(doc_id, w)?);
        self.cache.put(doc_id, k.clone());
        Ok(Some(k))
    }

    /// The key of `doc_id` (`None`: there is none, e.g. erased).
    pub(crate) fn get(&self, c: &mut impl Db, doc_id: &str) -> Result<Option<CaseKey>, StoreError> {
        if let Some(k) = self.cache.get(doc_id) {
            return Ok(Some(k));
        }
        let row = c
            .query_opt(
                "SELECT wrapped FROM casesync_keys.case_keys WHERE doc_id = $1",
                &[&doc_id],
            )
            .map_err(pg_err)?;
        let wrapped: Option<Vec<u8>> = row.map(|r| r.try_get(0)).transpose().map_err(corrupt)?;
        self.unwrapped(doc_id, wrapped.as_deref())
    }

    /// The key of a live case: its absence is an error (e.g. a data backup restored
    /// with the key table as of after the case's erasure).
    pub(crate) fn live(&self, c: &mut impl Db, doc_id: &str) -> Result<CaseKey, StoreError> {
        self.get(c, doc_id)?
            .ok_or_else(|| StoreError::Key(format!("case {doc_id} has no data key")))
    }

    /// The key of `doc_id`, created in the caller's transaction if it has none (the
    /// caller holds the case's row lock).
    pub(crate) fn get_or_create(
        &self,
        c: &mut impl Db,
        doc_id: &str,
    ) -> Result<CaseKey, StoreError> {
        if let Some(k) = self.get(c, doc_id)? {
            return Ok(k);
        }
        let raw = random_key();
        let wrapped = self.master.wrap(doc_id, &raw)?;
        c.exec(
            "INSERT INTO casesync_keys.case_keys (doc_id, wrapped) VALUES ($1, $2)
             ON CONFLICT (doc_id) DO NOTHING",
            &[&doc_id, &wrapped],
        )
        .map_err(pg_err)?;
        // Not cached before commit: a rolled-back transaction would leave a key that
        // no row holds (harmless, but then re-read from the table).
        self.live(c, doc_id)
    }

    /// Deletes the key of `doc_id` in the caller's transaction.
    pub(crate) fn delete(&self, c: &mut impl Db, doc_id: &str) -> Result<(), StoreError> {
        c.exec(
            "DELETE FROM casesync_keys.case_keys WHERE doc_id = $1",
            &[&doc_id],
        )
        .map_err(pg_err)?;
        self.cache.forget(doc_id);
        Ok(())
    }

    /// The summary of a `docs` row: sealed (`summary_sealed`) or, on a row not yet
    /// sealed forward, plaintext JSON.
    pub(crate) fn summary(
        &self,
        doc_id: &str,
        sealed: Option<&[u8]>,
        wrapped: Option<&[u8]>,
        plain: Option<serde_json::Value>,
    ) -> Result<Option<CaseSummary>, StoreError> {
        match sealed {
            Some(s) => {
                // No key (a data backup restored with a newer key table, after the
                // case's erasure): the record without its summary, so it can be erased
                // again; its content answers an error.
                let Some(ck) = self.unwrapped(doc_id, wrapped)? else {
                    tracing::warn!(doc = doc_id, "a live case has no data key");
                    return Ok(None);
                };
                let plain = ck.open(doc_id, Place::Summary, s)?;
                serde_json::from_slice(&plain).map(Some).map_err(corrupt)
            }
            None => plain.map(from_json).transpose(),
        }
    }

    /// `summary` sealed for the `summary_sealed` column.
    pub(crate) fn seal_summary(
        ck: &CaseKey,
        doc_id: &str,
        summary: &CaseSummary,
    ) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(summary).map_err(corrupt)?;
        ck.seal(doc_id, Place::Summary, &json)
    }
}

/// At connect: checks the master key against the database's (storing it the first
/// time), then seals what a version before sealing stored in plaintext. Several
/// instances starting at once are fine: each case is sealed under its row lock, and
/// sealed values are told apart by their marker.
pub(crate) fn check_and_seal_forward(c: &mut Conn, keys: &Keys) -> Result<(), StoreError> {
    let check = keys.master.check_value()?;
    c.exec(
        "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&MASTER_CHECK, &check],
    )
    .map_err(pg_err)?;
    let stored: Vec<u8> = c
        .query_one("SELECT value FROM meta WHERE name = $1", &[&MASTER_CHECK])
        .and_then(|r| r.try_get(0))
        .map_err(pg_err)?;
    keys.master.verify(&stored)?;
    let done = c
        .query_opt("SELECT 1 FROM meta WHERE name = $1", &[&SEALED_META])
        .map_err(pg_err)?;
    if done.is_some() {
        return Ok(());
    }
    let ids: Vec<String> = c
        .rows(
            "SELECT doc_id FROM docs WHERE NOT erased ORDER BY doc_id",
            &[],
        )
        .map_err(pg_err)?
        .iter()
        .map(|r| r.try_get(0).map_err(corrupt))
        .collect::<Result<_, _>>()?;
    let mut sealed = 0usize;
    for id in ids {
        let mut tx = c.transaction().map_err(pg_err)?;
        if seal_case(&mut tx, keys, &id)? {
            sealed += 1;
        }
        tx.commit().map_err(pg_err)?;
    }
    c.exec(
        "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&SEALED_META, &b"sealed-v1".to_vec()],
    )
    .map_err(pg_err)?;
    if sealed > 0 {
        tracing::warn!(
            cases = sealed,
            "sealed the content of cases stored by an older version; its plaintext stays in \
             dead tuples until VACUUM, in WAL and in older backups (docs/DEPLOYMENT.md)"
        );
    }
    Ok(())
}

/// Seals one case's plaintext rows; whether anything was sealed.
fn seal_case(tx: &mut impl Db, keys: &Keys, id: &str) -> Result<bool, StoreError> {
    let row = tx
        .query_opt(
            "SELECT erased, summary, summary_sealed FROM docs WHERE doc_id = $1 FOR UPDATE",
            &[&id],
        )
        .map_err(pg_err)?;
    let Some(row) = row else { return Ok(false) };
    if row.try_get::<_, bool>(0).map_err(corrupt)? {
        return Ok(false);
    }
    let ck = keys.get_or_create(tx, id)?;
    let mut any = false;
    let changes = tx
        .rows("SELECT seq, bytes FROM changes WHERE doc_id = $1", &[&id])
        .map_err(pg_err)?;
    for r in changes {
        let seq: i64 = r.try_get(0).map_err(corrupt)?;
        let bytes: Vec<u8> = r.try_get(1).map_err(corrupt)?;
        if !is_sealed(&bytes) {
            let sealed = ck.seal(id, Place::Change(u64_of(seq)?), &bytes)?;
            tx.exec(
                "UPDATE changes SET bytes = $3 WHERE doc_id = $1 AND seq = $2",
                &[&id, &seq, &sealed],
            )
            .map_err(pg_err)?;
            any = true;
        }
    }
    let snap = tx
        .query_opt(
            "SELECT upto_seq, bytes FROM snapshots WHERE doc_id = $1",
            &[&id],
        )
        .map_err(pg_err)?;
    if let Some(r) = snap {
        let upto: i64 = r.try_get(0).map_err(corrupt)?;
        let bytes: Vec<u8> = r.try_get(1).map_err(corrupt)?;
        if !is_sealed(&bytes) {
            let sealed = ck.seal(id, Place::Snapshot(u64_of(upto)?), &bytes)?;
            tx.exec(
                "UPDATE snapshots SET bytes = $2 WHERE doc_id = $1",
                &[&id, &sealed],
            )
            .map_err(pg_err)?;
            any = true;
        }
    }
    let plain: Option<serde_json::Value> = row.try_get(1).map_err(corrupt)?;
    if let Some(p) = plain {
        let summary: CaseSummary = from_json(p)?;
        let sealed = Keys::seal_summary(&ck, id, &summary)?;
        tx.exec(
            "UPDATE docs SET summary = NULL, summary_sealed = $2 WHERE doc_id = $1",
            &[&id, &sealed],
        )
        .map_err(pg_err)?;
        any = true;
    }
    Ok(any)
}
