//! [`PgStorage`]: the [`Storage`] trait on PostgreSQL, for deployments that run several
//! stateless server instances on one database (see `docs/DEPLOYMENT.md`).
//!
//! Tables (`server/migrations/`): `meta`, `users`, `devices`, `device_sync`, `docs` (one
//! row per case: routing, history, sealed summary, sizes), `snapshots`, `changes`,
//! `change_audit` (who pushed each change, by hash), `log` (by scope key and sequence
//! number), `doc_index` (cases per scope key) and `log_counter`; the data keys in
//! `casesync_keys.case_keys` (`keys.rs`: change bytes, snapshots and summaries are sealed
//! under them, see [`crate::store::seal`]).
//!
//! # No cursor ever skips a change
//!
//! A device's cursor is a sequence number `s`: it has everything `<= s` of its scope.
//! A pull reads `head = last_seq()` and then the log entries in `(s, head]`, and the
//! next cursor is `head`. That is only sound if, once `head` can be read, no entry
//! `<= head` can still appear. With one process, sled and the in-process writer lock
//! give that. With several instances the database must: every transaction that appends
//! to the log takes its numbers with
//!
//! ```sql
//! UPDATE log_counter SET seq = seq + n WHERE id = 1 RETURNING seq
//! ```
//!
//! on the single counter row, as late as possible in the transaction. The row lock it
//! takes is held until that transaction commits (or aborts, rolling the counter back),
//! so a second committer — on any instance — waits at the same statement and gets the
//! numbers after the first one's, only once the first one is committed. Numbers are
//! therefore handed out in commit order, without gaps, and the committed value of the
//! counter (read committed) is a watermark: every entry at or below it is visible, in
//! the same atomic commit that made the counter visible. `last_seq()` reads that row,
//! so the log scan that follows can never miss an entry below `head` that commits later.
//! The cost is that log-appending commits are serialized (including their WAL flush);
//! the row is locked only for the few inserts that follow the increment.
//!
//! # Concurrent pushes to one case from several instances
//!
//! The sync engine validates a push against the stored case and then commits it with
//! the routing and summary it computed. Another instance may commit changes to the same
//! case in between, and the first routing would then overwrite the second (say, a
//! reassignment). So [`Storage::commit`] locks the case's row (`SELECT ... FOR UPDATE`,
//! always before the counter: one lock order, no deadlock), drops changes already stored
//! (a retry through another instance), and if the case moved on since this thread read
//! it with [`Storage::doc`] (its `head_seq` differs), recomputes routing and summary
//! from the stored case plus the new changes inside the transaction. Erasure and
//! compaction lock the same row, so a push never resurrects an erased case.

mod admin;
mod commit;
mod keys;
pub mod migrate;
mod pool;

use std::cell::RefCell;
use std::str::FromStr;

use postgres::Row;
use serde::{de::DeserializeOwned, Serialize};

pub use admin::{create_database, drop_database, with_database};

use self::keys::Keys;
use self::pool::{pg_err, Conn, Db, Pool};
use super::seal::{MasterKey, Place};
use super::{
    ChangeAudit, CommitOutcome, Compacted, DeviceRecord, DocCommit, DocRecord, Dump, Hash,
    LogEntry, LogKind, Routing, ScopeKey, Storage, StoreError, StoredChange, UserRecord,
};

/// Meta key of the JWT secret (as in `crate::auth`): created once, at the first start,
/// inside the database, so that instances starting together agree on it.
const JWT_SECRET_KEY: &str = "jwt_secret";

/// Log kinds as stored in `log.kind`.
const KIND_CHANGE: i16 = 0;
const KIND_ROUTING: i16 = 1;
const KIND_ERASED: i16 = 2;

thread_local! {
    /// The last case this thread read with `doc()`: id and `head_seq` (`None`: absent).
    /// `commit()` compares it with the locked row to tell whether the caller's routing
    /// and summary are current (see the module docs).
    static LAST_READ: RefCell<Option<(String, Option<i64>)>> = const { RefCell::new(None) };
}

/// The PostgreSQL-backed [`Storage`].
#[derive(Debug)]
pub struct PgStorage {
    pool: Pool,
    keys: Keys,
}

pub(crate) fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Db(format!("sequence number {v} out of range")))
}

pub(crate) fn u64_of(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative number {v}")))
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(v).map_err(corrupt)
}

fn from_json<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(v).map_err(corrupt)
}

/// Columns of `docs` that [`doc_of_row`] reads, in order (with the case's wrapped key).
pub(crate) const DOC_COLUMNS: &str = "doc_id, district, assigned_to, sensitive, erased, \
     created_seq, history, summary, tail_changes, tail_bytes, snapshot_bytes, head_seq, \
     summary_sealed, \
     (SELECT k.wrapped FROM casesync_keys.case_keys k WHERE k.doc_id = docs.doc_id)";

/// A `docs` row (selected with [`DOC_COLUMNS`]) as a [`DocRecord`] (its summary
/// opened), and its `head_seq`.
pub(crate) fn doc_of_row(r: &Row, keys: &Keys) -> Result<(DocRecord, i64), StoreError> {
    let history: serde_json::Value = r.try_get(6).map_err(corrupt)?;
    let doc_id: String = r.try_get(0).map_err(corrupt)?;
    let erased: bool = r.try_get(4).map_err(corrupt)?;
    let summary = if erased {
        None
    } else {
        let plain: Option<serde_json::Value> = r.try_get(7).map_err(corrupt)?;
        let sealed: Option<Vec<u8>> = r.try_get(12).map_err(corrupt)?;
        let wrapped: Option<Vec<u8>> = r.try_get(13).map_err(corrupt)?;
        keys.summary(&doc_id, sealed.as_deref(), wrapped.as_deref(), plain)?
    };
    let tail_changes: i32 = r.try_get(8).map_err(corrupt)?;
    let rec = DocRecord {
        doc_id,
        routing: Routing {
            district: r.try_get(1).map_err(corrupt)?,
            assigned_to: r.try_get(2).map_err(corrupt)?,
            sensitive: r.try_get(3).map_err(corrupt)?,
        },
        erased,
        created_seq: u64_of(r.try_get(5).map_err(corrupt)?)?,
        history: from_json(history)?,
        summary,
        tail_changes: u32::try_from(tail_changes).map_err(corrupt)?,
        tail_bytes: u64_of(r.try_get(9).map_err(corrupt)?)?,
        snapshot_bytes: u64_of(r.try_get(10).map_err(corrupt)?)?,
    };
    Ok((rec, r.try_get(11).map_err(corrupt)?))
}

/// A case's loadable bytes (snapshot, then the changes after it, opened under its data
/// key), read in one statement so that it is one consistent snapshot of the database.
/// `None`: unknown or erased.
pub(crate) fn doc_bytes_with(
    c: &mut impl Db,
    keys: &Keys,
    doc_id: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = c
        .query_opt(
            "SELECT d.erased, s.upto_seq, s.bytes,
                    ARRAY(SELECT c.seq FROM changes c
                          WHERE c.doc_id = d.doc_id AND c.seq > COALESCE(s.upto_seq, 0)
                          ORDER BY c.seq),
                    ARRAY(SELECT c.bytes FROM changes c
                          WHERE c.doc_id = d.doc_id AND c.seq > COALESCE(s.upto_seq, 0)
                          ORDER BY c.seq),
                    (SELECT k.wrapped FROM casesync_keys.case_keys k WHERE k.doc_id = d.doc_id)
             FROM docs d LEFT JOIN snapshots s ON s.doc_id = d.doc_id
             WHERE d.doc_id = $1",
            &[&doc_id],
        )
        .map_err(pg_err)?;
    let Some(row) = row else { return Ok(None) };
    if row.try_get::<_, bool>(0).map_err(corrupt)? {
        return Ok(None);
    }
    let wrapped: Option<Vec<u8>> = row.try_get(5).map_err(corrupt)?;
    let ck = keys
        .unwrapped(doc_id, wrapped.as_deref())?
        .ok_or_else(|| StoreError::Key(format!("case {doc_id} has no data key")))?;
    let mut out = match row.try_get::<_, Option<Vec<u8>>>(2).map_err(corrupt)? {
        Some(snap) => {
            let upto: i64 = row.try_get(1).map_err(corrupt)?;
            ck.open(doc_id, Place::Snapshot(u64_of(upto)?), &snap)?
        }
        None => Vec::new(),
    };
    let seqs: Vec<i64> = row.try_get(3).map_err(corrupt)?;
    let bytes: Vec<Vec<u8>> = row.try_get(4).map_err(corrupt)?;
    for (seq, ch) in seqs.into_iter().zip(bytes) {
        out.extend_from_slice(&ck.open(doc_id, Place::Change(u64_of(seq)?), &ch)?);
    }
    Ok(Some(out))
}

impl PgStorage {
    /// Connects to the database at `url` (`postgres://user:pass@host:port/db` or the
    /// key=value form) with `pool_size` connections, applies the missing migrations and
    /// creates the token secret if there is none yet. Case content is sealed under data
    /// keys wrapped by `master`, which must be the key the database was first opened
    /// with ([`MasterKey::verify`]); content an older version stored in plaintext is
    /// sealed now.
    pub fn connect(url: &str, pool_size: usize, master: MasterKey) -> Result<Self, StoreError> {
        let config = postgres::Config::from_str(url)
            .map_err(|e| StoreError::Db(format!("bad database URL: {e}")))?;
        let pool = Pool::new(config, pool_size)?;
        let applied = pool.run(|c| migrate::migrate(c.client()))?;
        if !applied.is_empty() {
            tracing::info!(versions = ?applied, "database migrations applied");
        }
        pool.run(|c| {
            let mut secret = vec![0u8; 64];
            rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut secret);
            c.exec(
                "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&JWT_SECRET_KEY, &secret],
            )
            .map_err(pg_err)?;
            Ok(())
        })?;
        let keys = Keys::new(master);
        let k = keys.clone();
        pool.run(move |c| keys::check_and_seal_forward(c, &k))?;
        Ok(PgStorage { pool, keys })
    }

    fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        self.pool.run(f)
    }
}

impl Storage for PgStorage {
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.run(move |c| {
            c.query_opt("SELECT value FROM meta WHERE name = $1", &[&key])
                .map_err(pg_err)?
                .map(|r| r.try_get(0).map_err(corrupt))
                .transpose()
        })
    }

    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_vec());
        self.run(move |c| {
            c.exec(
                "INSERT INTO meta (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                &[&key, &value],
            )
            .map_err(pg_err)?;
            Ok(())
        })
    }

    fn user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        let id = user_id.to_owned();
        self.run(move |c| {
            c.query_opt("SELECT record FROM users WHERE user_id = $1", &[&id])
                .map_err(pg_err)?
                .map(|r| from_json(r.try_get(0).map_err(corrupt)?))
                .transpose()
        })
    }

    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let (id, rec) = (user.user_id.clone(), to_json(user)?);
        self.run(move |c| {
            c.exec(
                "INSERT INTO users (user_id, record) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO UPDATE SET record = EXCLUDED.record",
                &[&id, &rec],
            )
            .map_err(pg_err)?;
            Ok(())
        })
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.run(|c| {
            c.rows("SELECT record FROM users ORDER BY user_id", &[])
                .map_err(pg_err)?
                .iter()
                .map(|r| from_json(r.try_get(0).map_err(corrupt)?))
                .collect()
        })
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let id = device_id.to_owned();
        self.run(move |c| {
            let Some(r) = c
                .query_opt(
                    "SELECT v.record, t.last_sync_ms FROM devices v
                     LEFT JOIN device_sync t ON t.device_id = v.device_id
                     WHERE v.device_id = $1",
                    &[&id],
                )
                .map_err(pg_err)?
            else {
                return Ok(None);
            };
            let mut d: DeviceRecord = from_json(r.try_get(0).map_err(corrupt)?)?;
            d.last_sync_ms = r.try_get(1).map_err(corrupt)?;
            Ok(Some(d))
        })
    }

    fn put_device(&self, device: &DeviceRecord) -> Result<(), StoreError> {
        let (id, user, rec) = (
            device.device_id.clone(),
            device.user_id.clone(),
            to_json(device)?,
        );
        self.run(move |c| {
            c.exec(
                "INSERT INTO devices (device_id, user_id, record) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id)
                 DO UPDATE SET user_id = EXCLUDED.user_id, record = EXCLUDED.record",
                &[&id, &user, &rec],
            )
            .map_err(pg_err)?;
            Ok(())
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.run(|c| {
            c.rows(
                "SELECT v.record, t.last_sync_ms FROM devices v
                 LEFT JOIN device_sync t ON t.device_id = v.device_id
                 ORDER BY v.device_id",
                &[],
            )
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                let mut d: DeviceRecord = from_json(r.try_get(0).map_err(corrupt)?)?;
                d.last_sync_ms = r.try_get(1).map_err(corrupt)?;
                Ok(d)
            })
            .collect()
        })
    }

    fn set_last_sync(&self, device_id: &str, ms: i64) -> Result<(), StoreError> {
        let id = device_id.to_owned();
        self.run(move |c| {
            c.exec(
                "INSERT INTO device_sync (device_id, last_sync_ms) VALUES ($1, $2)
                 ON CONFLICT (device_id) DO UPDATE SET last_sync_ms = EXCLUDED.last_sync_ms",
                &[&id, &ms],
            )
            .map_err(pg_err)?;
            Ok(())
        })
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        // Read committed: the counter's committed value is the watermark (module docs).
        self.run(|c| {
            let r = c
                .query_one("SELECT seq FROM log_counter WHERE id = 1", &[])
                .map_err(pg_err)?;
            u64_of(r.try_get(0).map_err(corrupt)?)
        })
    }

    fn doc(&self, doc_id: &str) -> Result<Option<DocRecord>, StoreError> {
        let (id, keys) = (doc_id.to_owned(), self.keys.clone());
        let found = self.run(move |c| {
            c.query_opt(
                &format!("SELECT {DOC_COLUMNS} FROM docs WHERE doc_id = $1"),
                &[&id],
            )
            .map_err(pg_err)?
            .map(|r| doc_of_row(&r, &keys))
            .transpose()
        })?;
        let head = found.as_ref().map(|(_, h)| *h);
        LAST_READ.with(|l| *l.borrow_mut() = Some((doc_id.to_owned(), head)));
        Ok(found.map(|(rec, _)| rec))
    }

    fn doc_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (id, keys) = (doc_id.to_owned(), self.keys.clone());
        self.run(move |c| doc_bytes_with(c, &keys, &id))
    }

    fn commit(&self, commit: DocCommit) -> Result<CommitOutcome, StoreError> {
        let seen = LAST_READ.with(|l| {
            l.borrow()
                .as_ref()
                .filter(|(id, _)| *id == commit.doc_id)
                .map(|(_, head)| *head)
        });
        let keys = self.keys.clone();
        self.run(move |c| commit::commit(c, &keys, &commit, seen))
    }

    fn compact(
        &self,
        doc_id: &str,
        saved: Vec<u8>,
        upto_seq: u64,
    ) -> Result<Compacted, StoreError> {
        let (id, keys) = (doc_id.to_owned(), self.keys.clone());
        self.run(move |c| commit::compact(c, &keys, &id, &saved, upto_seq))
    }

    fn erase(&self, doc_id: &str) -> Result<Option<u64>, StoreError> {
        let (id, keys) = (doc_id.to_owned(), self.keys.clone());
        self.run(move |c| commit::erase(c, &keys, &id))
    }

    fn audit(&self, doc_id: &str) -> Result<Vec<(Hash, ChangeAudit)>, StoreError> {
        let id = doc_id.to_owned();
        self.run(move |c| {
            c.rows(
                "SELECT hash, user_id, device_id, received_ms FROM change_audit
                 WHERE doc_id = $1 ORDER BY hash",
                &[&id],
            )
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                let hash: Vec<u8> = r.try_get(0).map_err(corrupt)?;
                Ok((
                    hash.try_into().map_err(|_| corrupt("audit hash length"))?,
                    ChangeAudit {
                        user_id: r.try_get(1).map_err(corrupt)?,
                        device_id: r.try_get(2).map_err(corrupt)?,
                        received_ms: r.try_get(3).map_err(corrupt)?,
                    },
                ))
            })
            .collect()
        })
    }

    fn change_at(&self, doc_id: &str, seq: u64) -> Result<Option<StoredChange>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let (id, keys) = (doc_id.to_owned(), self.keys.clone());
        self.run(move |c| {
            let Some(r) = c
                .query_opt(
                    "SELECT c.hash, c.bytes,
                         (SELECT k.wrapped FROM casesync_keys.case_keys k WHERE k.doc_id = $1)
                     FROM changes c WHERE c.doc_id = $1 AND c.seq = $2",
                    &[&id, &seq],
                )
                .map_err(pg_err)?
            else {
                return Ok(None);
            };
            let hash: Vec<u8> = r.try_get(0).map_err(corrupt)?;
            let sealed: Vec<u8> = r.try_get(1).map_err(corrupt)?;
            let wrapped: Option<Vec<u8>> = r.try_get(2).map_err(corrupt)?;
            // No key: erased meanwhile.
            let Some(ck) = keys.unwrapped(&id, wrapped.as_deref())? else {
                return Ok(None);
            };
            Ok(Some(StoredChange {
                hash: hash.try_into().map_err(|_| corrupt("change hash length"))?,
                bytes: ck.open(&id, Place::Change(u64_of(seq)?), &sealed)?,
            }))
        })
    }

    fn log(&self, key: &ScopeKey, after: u64, upto: u64) -> Result<Vec<LogEntry>, StoreError> {
        if upto <= after {
            return Ok(Vec::new());
        }
        // Numbers past i64::MAX are never assigned: clamp the range to what can exist.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let (scope, upto) = (key.encode(), i64::try_from(upto).unwrap_or(i64::MAX));
        self.run(move |c| {
            c.rows(
                "SELECT seq, doc_id, kind, hash FROM log
                 WHERE scope = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                &[&scope, &after, &upto],
            )
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                let kind: i16 = r.try_get(2).map_err(corrupt)?;
                let hash: Option<Vec<u8>> = r.try_get(3).map_err(corrupt)?;
                let kind = match (kind, hash) {
                    (KIND_CHANGE, Some(h)) => {
                        LogKind::Change(h.try_into().map_err(|_| corrupt("log hash length"))?)
                    }
                    (KIND_ROUTING, _) => LogKind::Routing,
                    (KIND_ERASED, _) => LogKind::Erased,
                    (k, _) => return Err(corrupt(format!("log kind {k}"))),
                };
                Ok(LogEntry {
                    seq: u64_of(r.try_get(0).map_err(corrupt)?)?,
                    doc_id: r.try_get(1).map_err(corrupt)?,
                    kind,
                })
            })
            .collect()
        })
    }

    fn doc_ids(
        &self,
        key: &ScopeKey,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let (scope, after) = (key.encode(), after.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            c.rows(
                "SELECT doc_id FROM doc_index WHERE scope = $1 AND doc_id > $2
                 ORDER BY doc_id LIMIT $3",
                &[&scope, &after, &limit],
            )
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0).map_err(corrupt))
            .collect()
        })
    }

    fn docs_to_compact(&self, min_changes: u32) -> Result<Vec<String>, StoreError> {
        let min = i32::try_from(min_changes).unwrap_or(i32::MAX);
        self.run(move |c| {
            c.rows(
                "SELECT doc_id FROM docs WHERE NOT erased AND tail_changes >= $1
                 ORDER BY doc_id",
                &[&min],
            )
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0).map_err(corrupt))
            .collect()
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every write is its own committed transaction, and commits are synchronous
        // (the pool forces `synchronous_commit` on): already durable.
        Ok(())
    }

    fn dump(&self) -> Result<Dump, StoreError> {
        self.run(|c| {
            let mut out = Vec::new();
            for (table, key) in [
                ("meta", "name"),
                ("users", "user_id"),
                ("devices", "device_id"),
                ("device_sync", "device_id"),
                ("log_counter", "id::text"),
                ("docs", "doc_id"),
                ("snapshots", "doc_id"),
                ("changes", "doc_id || '/' || lpad(seq::text, 20, '0')"),
                ("change_audit", "doc_id || '/' || encode(hash, 'hex')"),
                ("log", "scope || '/' || lpad(seq::text, 20, '0')"),
                ("doc_index", "scope || '/' || doc_id"),
                ("casesync_keys.case_keys", "doc_id"),
            ] {
                let q = format!("SELECT {key}, row_to_json(t)::text FROM {table} t");
                for r in c.rows(&q, &[]).map_err(pg_err)? {
                    let k: String = r.try_get(0).map_err(corrupt)?;
                    let v: String = r.try_get(1).map_err(corrupt)?;
                    out.push((format!("{table}/{k}").into_bytes(), v.into_bytes()));
                }
            }
            out.sort();
            Ok(out)
        })
    }
}
