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

/// Whether `user` may push changes to an existing document: what they may read, and for a
/// CHW also a case assigned to them earlier (edits made offline before a reassignment
/// still reach the new worker).
pub fn can_write(user: &UserRecord, rec: &DocRecord) -> bool {
    match user.role {
        Role::Admin => false,
        Role::Chw => {
            can_read(user, &rec.routing)
                || rec
                    .history
                    .iter()
                    .any(|(_, r)| r.assigned_to == user.user_id)
        }
        Role::Coordinator => can_read(user, &rec.routing),
    }
}

/// Whether `user` may create a case with this routing: a CHW in one of their districts,
/// assigned to themselves; a coordinator in one of their districts (sensitive only with
/// sensitive access).
pub fn can_create(user: &UserRecord, r: &Routing) -> bool {
    let in_district = user.districts.contains(&r.district);
    match user.role {
        Role::Admin => false,
        Role::Chw => in_district && r.assigned_to == user.user_id,
        Role::Coordinator => in_district && (!r.sensitive || user.sensitive_access),
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
