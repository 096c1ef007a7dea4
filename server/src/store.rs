//! Server storage: the [`Storage`] trait and its records. [`SledStorage`] is the embedded
//! default; [`PgStorage`] (PostgreSQL) implements the same trait for several instances
//! on one database.
//!
//! Every accepted change gets a global, monotonically increasing sequence number in the
//! same transaction that stores it, and a log entry under each *scope key* the document
//! is visible through (its district and its assignee), so a pull scans only the keys of
//! the device's scope and no cursor can skip a change.

mod plan;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod seal;
mod sled_store;

#[cfg(feature = "postgres")]
pub use postgres::PgStorage;
pub use seal::MasterKey;
pub use sled_store::export::{
    prepare_empty_dir, read_manifest, restore as restore_sled, BackupInfo, RestoreMark,
    RESTORE_SEQ_GAP,
};
pub use sled_store::SledStorage;

use casesync_core::case::{CaseSummary, Role};
use serde::{Deserialize, Serialize};

/// A change hash (32 bytes).
pub type Hash = [u8; 32];

/// Storage failures (I/O, corrupt records). Never caused by client input alone.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed.
    #[error("database: {0}")]
    Db(String),
    /// A stored record could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A record that must exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// The master key or a case's data key is missing, malformed or wrong (see
    /// [`seal`]).
    #[error("key: {0}")]
    Key(String),
}

/// Every stored key and value, in key order.
pub type Dump = Vec<(Vec<u8>, Vec<u8>)>;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// User id (also the login name; the value of `assigned_to` in cases).
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Districts the user works in.
    pub districts: Vec<String>,
    /// Coordinators only: may see sensitive cases of their districts.
    pub sensitive_access: bool,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Disabled users cannot log in or refresh.
    pub disabled: bool,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: i64,
    /// An administrator set a temporary password (`admin::reset_password`): login and
    /// refresh answer `password_change_required` until the user changes it through
    /// `POST /v1/auth/password`.
    #[serde(default)]
    pub must_change_password: bool,
    /// The user's own time zone (an IANA name, checked when set) for the dashboard's
    /// times and "today"; `None`: the deployment's (`--time-zone`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Role agency only: the registered agency whose staff the user is (its id in the
    /// directory, `crate::agencies`).
    #[serde(default)]
    pub agency: Option<String>,
}

/// [`UserRecord`] as stored before agency staff (no `agency`); see [`UserRecordV1`] for
/// why the layouts are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRecordV3 {
    pub(crate) user_id: String,
    pub(crate) role: Role,
    pub(crate) districts: Vec<String>,
    pub(crate) sensitive_access: bool,
    pub(crate) password_hash: String,
    pub(crate) disabled: bool,
    pub(crate) created_ms: i64,
    pub(crate) must_change_password: bool,
    pub(crate) time_zone: Option<String>,
}

impl From<UserRecordV3> for UserRecord {
    fn from(u: UserRecordV3) -> Self {
        UserRecord {
            user_id: u.user_id,
            role: u.role,
            districts: u.districts,
            sensitive_access: u.sensitive_access,
            password_hash: u.password_hash,
            disabled: u.disabled,
            created_ms: u.created_ms,
            must_change_password: u.must_change_password,
            time_zone: u.time_zone,
            agency: None,
        }
    }
}

/// [`UserRecord`] as stored before per-user time zones (no `time_zone`); see
/// [`UserRecordV1`] for why the layouts are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRecordV2 {
    pub(crate) user_id: String,
    pub(crate) role: Role,
    pub(crate) districts: Vec<String>,
    pub(crate) sensitive_access: bool,
    pub(crate) password_hash: String,
    pub(crate) disabled: bool,
    pub(crate) created_ms: i64,
    pub(crate) must_change_password: bool,
}

impl From<UserRecordV2> for UserRecord {
    /// Through [`UserRecordV3`].
    fn from(u: UserRecordV2) -> Self {
        UserRecordV3 {
            user_id: u.user_id,
            role: u.role,
            districts: u.districts,
            sensitive_access: u.sensitive_access,
            password_hash: u.password_hash,
            disabled: u.disabled,
            created_ms: u.created_ms,
            must_change_password: u.must_change_password,
            time_zone: None,
        }
        .into()
    }
}

/// [`UserRecord`] as stored before password resets (no `must_change_password`): the
/// sled store's records are positional (postcard), so a record written by that version
/// is read through this layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRecordV1 {
    pub(crate) user_id: String,
    pub(crate) role: Role,
    pub(crate) districts: Vec<String>,
    pub(crate) sensitive_access: bool,
    pub(crate) password_hash: String,
    pub(crate) disabled: bool,
    pub(crate) created_ms: i64,
}

impl From<UserRecordV1> for UserRecord {
    /// Through [`UserRecordV2`]: each older layout adds only its missing field.
    fn from(u: UserRecordV1) -> Self {
        UserRecordV2 {
            user_id: u.user_id,
            role: u.role,
            districts: u.districts,
            sensitive_access: u.sensitive_access,
            password_hash: u.password_hash,
            disabled: u.disabled,
            created_ms: u.created_ms,
            must_change_password: false,
        }
        .into()
    }
}

/// A device bound to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device id (chosen by the app).
    pub device_id: String,
    /// The user it is bound to (at first login).
    pub user_id: String,
    /// Revoked (lost phone): told to wipe at next sync; no more tokens.
    pub revoked: bool,
    /// SHA-256 of the current refresh token.
    pub refresh_hash: Option<Hash>,
    /// Expiry of the current refresh token, ms since the Unix epoch.
    pub refresh_expires_ms: i64,
    /// Refresh token family (a new one at each login).
    pub refresh_family: String,
    /// Hashes of refresh tokens of this family already rotated (reuse detection).
    pub used_refresh: Vec<Hash>,
    /// First login, ms since the Unix epoch.
    pub created_ms: i64,
    /// Last sync, ms since the Unix epoch.
    pub last_sync_ms: Option<i64>,
    /// SHA-256 of the refresh token rotated last (the current token's predecessor).
    /// Presented again within the refresh grace window (its answer was lost), it gets
    /// the current token back instead of counting as reuse.
    #[serde(default)]
    pub rotated_hash: Option<Hash>,
    /// When that rotation happened, ms since the Unix epoch.
    #[serde(default)]
    pub rotated_ms: i64,
    /// When the token family was revoked for reuse, ms since the Unix epoch (0: never):
    /// access tokens issued before that second are refused; a password login starts a
    /// new family. Unlike `revoked`, the device keeps its data.
    #[serde(default)]
    pub family_revoked_ms: i64,
}

/// [`DeviceRecord`] as stored before refresh grace (no rotation or family-revocation
/// fields): the sled store's records are positional (postcard), so a record written by
/// that version is read through this layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceRecordV1 {
    device_id: String,
    user_id: String,
    revoked: bool,
    refresh_hash: Option<Hash>,
    refresh_expires_ms: i64,
    refresh_family: String,
    used_refresh: Vec<Hash>,
    created_ms: i64,
    last_sync_ms: Option<i64>,
}

impl From<DeviceRecordV1> for DeviceRecord {
    fn from(d: DeviceRecordV1) -> Self {
        DeviceRecord {
            device_id: d.device_id,
            user_id: d.user_id,
            revoked: d.revoked,
            refresh_hash: d.refresh_hash,
            refresh_expires_ms: d.refresh_expires_ms,
            refresh_family: d.refresh_family,
            used_refresh: d.used_refresh,
            created_ms: d.created_ms,
            last_sync_ms: d.last_sync_ms,
            rotated_hash: None,
            rotated_ms: 0,
            family_revoked_ms: 0,
        }
    }
}

/// The access-relevant fields of a case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Routing {
    /// District.
    pub district: String,
    /// Assigned worker (user id).
    pub assigned_to: String,
    /// Sensitive case.
    pub sensitive: bool,
}

impl Routing {
    /// No routing: no district, no assignee, not sensitive (an erased case's tombstone).
    pub fn none() -> Routing {
        Routing {
            district: String::new(),
            assigned_to: String::new(),
            sensitive: false,
        }
    }

    /// The scope keys this routing is indexed under.
    pub fn scope_keys(&self) -> [ScopeKey; 2] {
        [
            ScopeKey::District(self.district.clone()),
            ScopeKey::User(self.assigned_to.clone()),
        ]
    }
}

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogKind {
    /// A change (its hash) was stored.
    Change(Hash),
    /// The routing (district, assignee, sensitivity) changed, or the document was created.
    Routing,
    /// The document was erased.
    Erased,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Global sequence number.
    pub seq: u64,
    /// Case id.
    pub doc_id: String,
    /// What happened.
    pub kind: LogKind,
}

/// A key the log and the document index are partitioned by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKey {
    /// Every case of a district.
    District(String),
    /// Every case assigned to a user.
    User(String),
}

impl ScopeKey {
    /// The key's text form (`d:<district>` or `u:<user>`).
    pub fn encode(&self) -> String {
        match self {
            ScopeKey::District(d) => format!("d:{d}"),
            ScopeKey::User(u) => format!("u:{u}"),
        }
    }
}

/// A stored document's metadata (no content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRecord {
    /// Case id.
    pub doc_id: String,
    /// Current routing.
    pub routing: Routing,
    /// Routing over time: `(seq, routing)` means "from `seq` on" (ascending).
    pub history: Vec<(u64, Routing)>,
    /// Erased (consent withdrawn): only this tombstone remains.
    pub erased: bool,
    /// Sequence number at which the document became visible.
    pub created_seq: u64,
    /// Listing summary (none once erased).
    pub summary: Option<CaseSummary>,
    /// Changes stored since the snapshot.
    pub tail_changes: u32,
    /// Bytes of those changes.
    pub tail_bytes: u64,
    /// Size of the snapshot.
    pub snapshot_bytes: u64,
}

impl DocRecord {
    /// The routing in force after `seq`: `None` if the document did not exist yet.
    pub fn routing_at(&self, seq: u64) -> Option<&Routing> {
        self.history
            .iter()
            .rev()
            .find(|(s, _)| *s <= seq)
            .map(|(_, r)| r)
    }

    /// What an erasure keeps of the record (issue #14): the id, that it was erased, and
    /// when it appeared — what the protocol needs to refuse the case's edits and to tell
    /// devices to remove it. No routing (district, assignee, sensitivity) and no routing
    /// history: a device learns of the erasure from the `Erased` log entry under its own
    /// scope keys (or from pushing the case), whatever the case's routing was, so the
    /// tombstone need not say who held it. One definition for both stores.
    pub fn into_tombstone(self) -> DocRecord {
        DocRecord {
            doc_id: self.doc_id,
            routing: Routing::none(),
            history: Vec::new(),
            erased: true,
            created_seq: self.created_seq,
            summary: None,
            tail_changes: 0,
            tail_bytes: 0,
            snapshot_bytes: 0,
        }
    }

    /// Estimated saved size (snapshot plus changes since).
    pub fn estimated_bytes(&self) -> u64 {
        self.snapshot_bytes + self.tail_bytes
    }
}

/// A stored change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredChange {
    /// Its hash.
    pub hash: Hash,
    /// Raw Automerge change bytes.
    pub bytes: Vec<u8>,
}

/// Who stored a change, as the server authenticated it — unlike the user and time a
/// change's message claims, which the device wrote. Kept per change, by hash, written
/// in the same commit as the change; changes stored before audits were recorded have
/// none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeAudit {
    /// The authenticated user who pushed (or, on the dashboard, made) the change.
    pub user_id: String,
    /// The authenticated device it came from (`server:<user>` for dashboard edits and
    /// imports).
    pub device_id: String,
    /// When the server received it, ms since the Unix epoch (the server's clock).
    pub received_ms: i64,
}

/// New changes of one document to store atomically, with the resulting routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocCommit {
    /// Case id.
    pub doc_id: String,
    /// Routing after these changes.
    pub routing: Routing,
    /// Summary after these changes.
    pub summary: CaseSummary,
    /// The new changes (already known ones filtered out), in causal order.
    pub changes: Vec<StoredChange>,
    /// Who stored them: recorded for each of `changes` (`None`: nothing recorded).
    pub audit: Option<ChangeAudit>,
}

/// What a commit assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Highest sequence number assigned.
    pub last_seq: u64,
    /// The routing changed (or the document was created).
    pub routing_changed: bool,
    /// The document's record after the commit, if the stored content is exactly what the
    /// caller's view plus these changes make (`None` if another writer's changes were
    /// merged in, or the document was erased meanwhile): a caller keeping the document
    /// loaded may keep it as of this record (see `DocCache`), and need not read it again.
    pub record: Option<DocRecord>,
}

/// What a compaction found and left: the document's record as found (under the
/// store's lock) and as written (`None`: nothing written, e.g. erased, or a newer
/// snapshot kept). Compaction changes no content, so a copy of the document loaded as
/// of `before` is the content as of `after` too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compacted {
    /// The record before (`None`: unknown document).
    pub before: Option<DocRecord>,
    /// The record after.
    pub after: Option<DocRecord>,
}

/// The server's storage.
pub trait Storage: Send + Sync + 'static {
    /// A meta value.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets a meta value.
    fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// A user.
    fn user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Stores a user.
    fn put_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// All users, by id.
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// A device.
    fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError>;
    /// Stores a device.
    fn put_device(&self, device: &DeviceRecord) -> Result<(), StoreError>;
    /// All devices, by id.
    fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError>;
    /// Records a device's last sync time (kept apart from the device record, so it never
    /// races with token rotation).
    fn set_last_sync(&self, device_id: &str, ms: i64) -> Result<(), StoreError>;

    /// The highest sequence number assigned so far (0: none).
    fn last_seq(&self) -> Result<u64, StoreError>;
    /// A document's metadata.
    fn doc(&self, doc_id: &str) -> Result<Option<DocRecord>, StoreError>;
    /// A document's content as loadable bytes: its snapshot followed by the raw
    /// changes stored since (Automerge loads the concatenation). `None` if unknown or erased.
    fn doc_bytes(&self, doc_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores new changes of a document, assigning sequence numbers and log entries in
    /// one transaction (creating the document if it is new).
    fn commit(&self, commit: DocCommit) -> Result<CommitOutcome, StoreError>;
    /// [`commit`](Self::commit) of several documents, in order (a document may come more
    /// than once); the outcomes in the same order. sled writes them as one batch (one
    /// sequence-number write, one apply); the default commits them one by one.
    fn commit_all(&self, commits: Vec<DocCommit>) -> Result<Vec<CommitOutcome>, StoreError> {
        commits.into_iter().map(|c| self.commit(c)).collect()
    }
    /// Replaces a document's snapshot by `saved` (which includes every change up to
    /// `upto_seq`, maybe some later ones too) and recounts the tail of changes after it.
    /// Keeps a newer snapshot; safe beside concurrent commits (needs no writer lock).
    fn compact(&self, doc_id: &str, saved: Vec<u8>, upto_seq: u64)
        -> Result<Compacted, StoreError>;
    /// Erases a document's content, keeping a tombstone and logging the erasure.
    /// Returns the erasure's sequence number (`None`: unknown or already erased).
    fn erase(&self, doc_id: &str) -> Result<Option<u64>, StoreError>;
    /// The audit records of a document's stored changes ([`ChangeAudit`], by change
    /// hash, ascending). Changes stored without one are missing; none once erased.
    fn audit(&self, doc_id: &str) -> Result<Vec<(Hash, ChangeAudit)>, StoreError>;
    /// A change stored at `seq` for `doc_id` (`None` if erased).
    fn change_at(&self, doc_id: &str, seq: u64) -> Result<Option<StoredChange>, StoreError>;
    /// Log entries of a scope key with `after < seq <= upto`, ascending.
    fn log(&self, key: &ScopeKey, after: u64, upto: u64) -> Result<Vec<LogEntry>, StoreError>;
    /// Ids of the documents currently indexed under a scope key with id `> after`,
    /// ascending, at most `limit`.
    fn doc_ids(&self, key: &ScopeKey, after: &str, limit: usize)
        -> Result<Vec<String>, StoreError>;
    /// Documents whose tail of changes since the snapshot is at least `min_changes`.
    fn docs_to_compact(&self, min_changes: u32) -> Result<Vec<String>, StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Writes a consistent copy of the store into directory `to` (new or empty): a state
    /// the store was in between two commits. sled only: PostgreSQL is backed up with
    /// `pg_dump` (docs/DEPLOYMENT.md), and this refuses.
    fn backup(&self, to: &std::path::Path) -> Result<BackupInfo, StoreError> {
        let _ = to;
        Err(StoreError::Db(
            "this store has no built-in backup: back PostgreSQL up with pg_dump \
             (docs/DEPLOYMENT.md)"
                .into(),
        ))
    }
    /// Every stored key and value (for tests and diagnostics).
    fn dump(&self) -> Result<Dump, StoreError>;
}
