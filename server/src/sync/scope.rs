//! Who may read and write which case (DESIGN §5).

use std::hash::{DefaultHasher, Hash, Hasher};

use casesync_core::case::Role;

use crate::store::{DocRecord, Routing, ScopeKey, UserRecord};

/// Whether `user` may read a case with this routing: a CHW their assigned cases
/// (sensitive ones included), a coordinator every case of their districts (sensitive
/// ones only with sensitive access), an admin none.
pub fn can_read(user: &UserRecord, r: &Routing) -> bool {
    match user.role {
        Role::Admin => false,
        Role::Chw => r.assigned_to == user.user_id,
        Role::Coordinator => {
            user.districts.contains(&r.district) && (!r.sensitive || user.sensitive_access)
        }
    }
}

/// Whether `user` may push changes to an existing document: what they may read, and
/// also a case they could read earlier (a CHW: assigned to them earlier; a coordinator:
/// before it left their districts or was made sensitive), so that edits made offline
/// before a case left their scope still reach the server and its new readers.
pub fn can_write(user: &UserRecord, rec: &DocRecord) -> bool {
    match user.role {
        Role::Admin => false,
        Role::Chw | Role::Coordinator => {
            can_read(user, &rec.routing) || rec.history.iter().any(|(_, r)| can_read(user, r))
        }
    }
}

/// Whether a coordinator who registered a case (`created_by`, read from the stored
/// document) may push to it although they could never read it: a sensitive case
/// registered without sensitive access (see [`can_create`]). Their later offline
/// edits, and a push repeated after a lost response, still reach the server.
pub fn can_write_registered(user: &UserRecord, rec: &DocRecord, created_by: &str) -> bool {
    created_by == user.user_id && may_be_registered_by(user, rec)
}

/// Whether [`can_write_registered`] could hold, before the document is loaded to read
/// who registered it (a coordinator, a case first routed where they may create one).
pub fn may_be_registered_by(user: &UserRecord, rec: &DocRecord) -> bool {
    user.role == Role::Coordinator
        && rec
            .history
            .first()
            .is_some_and(|(_, r)| can_create(user, r))
}

/// Whether `user` may create a case with this routing: a CHW in one of their districts,
/// assigned to themselves; a coordinator in one of their districts, sensitive or not.
///
/// A coordinator without sensitive access may register a sensitive case (as they may
/// mark one of their cases sensitive): the registration must reach the assigned worker,
/// never be stranded on the coordinator's phone. The case then leaves the coordinator's
/// scope like any case made sensitive: listed as removed once the push is acknowledged,
/// and unreadable to them from then on.
pub fn can_create(user: &UserRecord, r: &Routing) -> bool {
    let in_district = user.districts.contains(&r.district);
    match user.role {
        Role::Admin => false,
        Role::Chw => in_district && r.assigned_to == user.user_id,
        Role::Coordinator => in_district,
    }
}

/// The log partitions a user's pulls scan.
pub fn scope_keys(user: &UserRecord) -> Vec<ScopeKey> {
    match user.role {
        Role::Admin => Vec::new(),
        Role::Chw => vec![ScopeKey::User(user.user_id.clone())],
        Role::Coordinator => {
            let mut ds = user.districts.clone();
            ds.sort();
            ds.dedup();
            ds.into_iter().map(ScopeKey::District).collect()
        }
    }
}

/// A fingerprint of everything that decides a user's scope; a cursor made under another
/// scope is not resumed (the device starts over with snapshots).
pub fn scope_version(user: &UserRecord) -> u64 {
    let mut ds = user.districts.clone();
    ds.sort();
    ds.dedup();
    let mut h = DefaultHasher::new();
    (
        user.user_id.as_str(),
        user.role.as_str(),
        ds,
        user.sensitive_access,
    )
        .hash(&mut h);
    h.finish()
}
