-- casesync server schema, version 2: the server-bound audit of every stored change.
-- Who pushed a change (the authenticated user and device) and when the server received
-- it, as opposed to the user and time the change's message claims (written by the
-- device). One row per change, written in the same transaction as the change; changes
-- stored before this migration have none. Erasing a case deletes its rows.
CREATE TABLE change_audit (
    doc_id      text COLLATE "C" NOT NULL REFERENCES docs (doc_id),
    hash        bytea NOT NULL CHECK (length(hash) = 32),
    user_id     text COLLATE "C" NOT NULL,
    device_id   text COLLATE "C" NOT NULL,
    received_ms bigint NOT NULL,
    PRIMARY KEY (doc_id, hash)
);
