-- casesync server schema, version 3: case content sealed at rest (crypto-shredding,
-- server/src/store/seal.rs). Change bytes, snapshots and summaries are sealed under a
-- per-case data key; the data keys, wrapped under the server's master key, live in
-- their own schema so that a data backup can leave them out and be kept long
-- (`pg_dump --exclude-schema=casesync_keys`), while key backups are kept apart and short
-- (docs/DEPLOYMENT.md). Erasing a case deletes its key row: every copy of its content
-- (dead tuples, WAL, data backups) is then unreadable. Existing plaintext rows are
-- sealed by the server when it starts (store/postgres/keys.rs), not here.
CREATE SCHEMA casesync_keys;
CREATE TABLE casesync_keys.case_keys (
    doc_id  text COLLATE "C" PRIMARY KEY,
    wrapped bytea NOT NULL
);
-- The listing summary, sealed (`summary` jsonb is no longer written; NULL once sealed).
ALTER TABLE docs ADD COLUMN summary_sealed bytea;
