//! Versioned schema migrations: the SQL files of `server/migrations/`, compiled in,
//! applied at start in one transaction and recorded in `schema_migrations`.
//!
//! Several instances may start at once: the transaction first takes a transaction-level
//! advisory lock, so exactly one of them applies what is missing and the others then
//! find it applied. A migration already applied must not change (its SHA-256 is
//! recorded and checked); a database whose schema is newer than this binary is refused.

use postgres::Client;
use sha2::{Digest, Sha256};

use super::pool::pg_err;
use crate::store::StoreError;

/// One migration: version, name, SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version (the file's number); applied in ascending order.
    pub version: i32,
    /// Short name (the rest of the file name).
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration this binary knows, ascending.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "change_audit",
        sql: include_str!("../../../migrations/0002_change_audit.sql"),
    },
    Migration {
        version: 3,
        name: "sealed_content",
        sql: include_str!("../../../migrations/0003_sealed_content.sql"),
    },
    Migration {
        version: 4,
        name: "tombstones",
        sql: include_str!("../../../migrations/0004_tombstones.sql"),
    },
];

/// Advisory lock key of the migration transaction ("casesync" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6361_7365_7379_6e63;

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Applies the missing migrations; returns the versions applied now.
pub fn migrate(client: &mut Client) -> Result<Vec<i32>, StoreError> {
    let mut tx = client.transaction().map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             checksum   text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .map_err(pg_err)?;
    let applied: Vec<(i32, String)> = tx
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .map_err(pg_err)?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, postgres::Error>>()
        .map_err(pg_err)?;
    let newest_known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some((v, _)) = applied.iter().find(|(v, _)| *v > newest_known) {
        return Err(StoreError::Db(format!(
            "the database schema (version {v}) is newer than this server knows \
             ({newest_known}): upgrade the server"
        )));
    }
    let mut done = Vec::new();
    for m in MIGRATIONS {
        let sum = checksum(m.sql);
        match applied.iter().find(|(v, _)| *v == m.version) {
            Some((_, s)) if *s == sum => continue,
            Some(_) => {
                return Err(StoreError::Db(format!(
                    "migration {} ({}) was changed after it was applied",
                    m.version, m.name
                )))
            }
            None => {}
        }
        tx.batch_execute(m.sql).map_err(|e| {
            let e = pg_err(e);
            StoreError::Db(format!("migration {} ({}): {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &sum],
        )
        .map_err(pg_err)?;
        done.push(m.version);
    }
    tx.commit().map_err(pg_err)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_files_match() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "versions ascend");
            last = m.version;
            assert!(!m.sql.trim().is_empty());
        }
        assert_eq!(MIGRATIONS[0].version, 1);
        assert!(MIGRATIONS[0].sql.contains("CREATE TABLE log_counter"));
    }
}
