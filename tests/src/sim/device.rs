//! A simulated phone: its encrypted in-memory store, the user logged in on it, and the
//! sync session it may have open (with at most one request in flight, like HTTP).

use casesync_core::case::{EditCtx, IdSource, Role};
use casesync_core::store::DeviceStore;
use casesync_core::sync::SyncSession;

use crate::harness::test_key;

/// Most phones one run can use (devices at the start plus replacements after revocations).
pub const MAX_PHONES: usize = 10;

/// The phones of one run, made before the simulation so sync sessions can borrow their
/// stores for the whole run.
pub struct Phones {
    stores: Vec<DeviceStore>,
}

impl Phones {
    /// [`MAX_PHONES`] empty in-memory stores, with ids from the OS (as on a phone).
    pub fn new() -> Self {
        Self::with_ids(IdSource::os())
    }

    /// [`MAX_PHONES`] empty in-memory stores sharing one id generator seeded with
    /// `seed`: actor ids and entry ids are the same on every run of a seed, so a failing
    /// seed replays exactly.
    pub fn seeded(seed: u64) -> Self {
        Self::with_ids(IdSource::seeded(seed))
    }

    fn with_ids(ids: IdSource) -> Self {
        Phones {
            stores: (0..MAX_PHONES)
                .map(|_| DeviceStore::in_memory(&test_key()).with_id_source(ids.clone()))
                .collect(),
        }
    }

    /// The `i`-th store.
    pub fn get(&self, i: usize) -> Option<&DeviceStore> {
        self.stores.get(i)
    }
}

impl Default for Phones {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// In use.
    Active,
    /// Revoked by the admin (lost phone); wiped at its next contact.
    Revoked,
    /// Wiped after revocation; no longer used.
    Wiped,
}

/// One simulated phone.
pub struct SimDevice<'a> {
    /// Device id.
    pub id: String,
    /// User logged in on it.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// Its store.
    pub store: &'a DeviceStore,
    /// The open sync session, if any.
    pub session: Option<SyncSession<'a>>,
    /// Number of the request it waits a response for.
    pub waiting: Option<u64>,
    /// Status.
    pub status: Status,
    /// The refresh token it holds (the last one whose answer reached it).
    pub refresh_token: String,
    /// The successor carried by a refresh answer that was lost on the way (the phone
    /// never saw it; the simulation keeps it to check that a retry gets the same one).
    pub lost_successor: Option<String>,
    /// Its token family was revoked (a spent token presented outside the grace
    /// window): it keeps its data and edits offline, but syncs only after a password
    /// login.
    pub signed_out: bool,
}

impl<'a> SimDevice<'a> {
    /// A fresh device for `user`, logged in with `refresh_token`.
    pub fn new(
        id: &str,
        user: &str,
        role: Role,
        store: &'a DeviceStore,
        refresh_token: String,
    ) -> Self {
        SimDevice {
            id: id.to_owned(),
            user: user.to_owned(),
            role,
            store,
            session: None,
            waiting: None,
            status: Status::Active,
            refresh_token,
            lost_successor: None,
            signed_out: false,
        }
    }

    /// An edit context at `now_ms`.
    pub fn ctx(&self, now_ms: i64) -> EditCtx {
        EditCtx::new(self.user.clone(), self.role, now_ms)
    }
}
