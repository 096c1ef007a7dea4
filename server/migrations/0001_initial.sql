-- casesync server schema, version 1. Applied by the server at start (see
-- server/src/store/postgres/migrate.rs), inside one transaction, and recorded in
-- schema_migrations. Never edit an applied migration: add the next numbered file.
--
-- Ids and scope keys use the "C" collation so that they sort and compare by bytes,
-- exactly as the sync engine (Rust string order) pages through them.

-- Small named values (the JWT secret, ...).
CREATE TABLE meta (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- User accounts; `record` is the server's UserRecord as JSON.
CREATE TABLE users (
    user_id text COLLATE "C" PRIMARY KEY,
    record  jsonb NOT NULL
);

-- Devices bound to users; `record` is the server's DeviceRecord as JSON.
CREATE TABLE devices (
    device_id text COLLATE "C" PRIMARY KEY,
    user_id   text COLLATE "C" NOT NULL,
    record    jsonb NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);

-- Last sync of each device, kept apart from the device record so that it never races
-- with a refresh-token rotation.
CREATE TABLE device_sync (
    device_id    text COLLATE "C" PRIMARY KEY,
    last_sync_ms bigint NOT NULL
);

-- The change log's sequence counter: exactly one row. Every transaction that appends to
-- the log increments it with UPDATE ... RETURNING and so holds its row lock until it
-- commits: sequence numbers are handed out, and become visible, in commit order. Read
-- committed, `seq` is a number below which every log entry is already visible.
CREATE TABLE log_counter (
    id  smallint PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL CHECK (seq >= 0)
);
INSERT INTO log_counter (id, seq) VALUES (1, 0);

-- One row per case: routing, routing history, listing summary, sizes.
CREATE TABLE docs (
    doc_id         text COLLATE "C" PRIMARY KEY,
    district       text COLLATE "C" NOT NULL,
    assigned_to    text COLLATE "C" NOT NULL,
    sensitive      boolean NOT NULL,
    erased         boolean NOT NULL DEFAULT false,
    -- sequence number at which the case became visible
    created_seq    bigint NOT NULL DEFAULT 0,
    -- highest sequence number that touched the case (changes, routing, erasure)
    head_seq       bigint NOT NULL DEFAULT 0,
    -- [[seq, {district, assigned_to, sensitive}], ...] ascending: "from seq on"
    history        jsonb NOT NULL DEFAULT '[]',
    -- CaseSummary as JSON; NULL once erased
    summary        jsonb,
    tail_changes   integer NOT NULL DEFAULT 0,
    tail_bytes     bigint NOT NULL DEFAULT 0,
    snapshot_bytes bigint NOT NULL DEFAULT 0
);
CREATE INDEX docs_to_compact ON docs (tail_changes) WHERE NOT erased;

-- Compacted content: Automerge save() covering every change up to upto_seq.
CREATE TABLE snapshots (
    doc_id   text COLLATE "C" PRIMARY KEY REFERENCES docs (doc_id),
    upto_seq bigint NOT NULL,
    bytes    bytea NOT NULL
);

-- Every accepted Automerge change, by case and sequence number. A change is stored once
-- per case (replays are acknowledged and ignored).
CREATE TABLE changes (
    doc_id text COLLATE "C" NOT NULL REFERENCES docs (doc_id),
    seq    bigint NOT NULL,
    hash   bytea NOT NULL CHECK (length(hash) = 32),
    bytes  bytea NOT NULL,
    PRIMARY KEY (doc_id, seq),
    UNIQUE (doc_id, hash)
);

-- The change log, partitioned by scope key ('d:<district>', 'u:<user>'); a pull reads
-- only the keys of the device's scope. kind: 0 change (hash set), 1 routing, 2 erased.
CREATE TABLE log (
    scope  text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    doc_id text COLLATE "C" NOT NULL,
    kind   smallint NOT NULL CHECK (kind IN (0, 1, 2)),
    hash   bytea CHECK ((kind = 0) = (hash IS NOT NULL)),
    PRIMARY KEY (scope, seq)
);

-- The cases currently visible through each scope key (for a fresh device's snapshots).
CREATE TABLE doc_index (
    scope  text COLLATE "C" NOT NULL,
    doc_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (scope, doc_id)
);
