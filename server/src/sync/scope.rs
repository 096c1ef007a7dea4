//! Who may read and write which case (DESIGN §5), and the scopes a user had before
//! (issue #13: a scope shrink lists what left it as removed, and edits made under the old
//! scope are still accepted).

use std::hash::Hasher;

use casesync_core::case::Role;
use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher13;

use crate::store::{DocRecord, Routing, ScopeKey, Storage, StoreError, UserRecord};

/// Meta key prefix of a user's earlier scopes (`past_scopes:<user id>`).
const PAST_SCOPES_KEY: &str = "past_scopes:";

/// What decides which cases a user reads, as it was before an administrator changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastScope {
    /// Role then.
    pub role: Role,
    /// Districts then.
    pub districts: Vec<String>,
    /// Sensitive access then.
    pub sensitive_access: bool,
    /// When it was last replaced, ms since the Unix epoch.
    pub until_ms: i64,
}

impl PastScope {
    /// The scope `user` has now, replaced at `until_ms`.
    pub fn of(user: &UserRecord, until_ms: i64) -> Self {
        let mut districts = user.districts.clone();
        districts.sort();
        districts.dedup();
        PastScope {
            role: user.role,
            districts,
            sensitive_access: user.sensitive_access,
            until_ms,
        }
    }

    /// Whether `other` is the same scope (whenever it ended).
    fn same_scope(&self, other: &PastScope) -> bool {
        (self.role, &self.districts, self.sensitive_access)
            == (other.role, &other.districts, other.sensitive_access)
    }

    /// `user`'s record with this scope instead of the current one.
    pub fn applied_to(&self, user: &UserRecord) -> UserRecord {
        UserRecord {
            role: self.role,
            districts: self.districts.clone(),
            sensitive_access: self.sensitive_access,
            ..user.clone()
        }
    }
}

/// Every earlier scope of `user_id`, oldest first (none if the scope never changed).
pub fn past_scopes(store: &dyn Storage, user_id: &str) -> Result<Vec<PastScope>, StoreError> {
    match store.meta(&format!("{PAST_SCOPES_KEY}{user_id}"))? {
        None => Ok(Vec::new()),
        Some(bytes) => postcard::from_bytes(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("past scopes of a user: {e}"))),
    }
}

/// Remembers `user`'s current scope among its earlier ones, as replaced at `now_ms`,
/// before it is changed (kept once: a scope given back and taken again is stored once,
/// with the latest time). Not flushed.
pub fn remember_scope(
    store: &dyn Storage,
    user: &UserRecord,
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut past = past_scopes(store, &user.user_id)?;
    let now = PastScope::of(user, now_ms);
    past.retain(|p| !p.same_scope(&now));
    past.push(now);
    let bytes = postcard::to_allocvec(&past).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.set_meta(&format!("{PAST_SCOPES_KEY}{}", user.user_id), &bytes)
}

/// Whether `user` may push to an existing document under one of their earlier scopes
/// (see [`can_write`]): a coordinator who lost a district or sensitive access still
/// delivers the edits made offline before, as a previous assignee does.
pub fn could_write_earlier(user: &UserRecord, past: &[PastScope], rec: &DocRecord) -> bool {
    past.iter().any(|p| can_write(&p.applied_to(user), rec))
}

/// Whether `user` may read a case with this routing: a CHW the cases assigned to them
/// in one of their districts (sensitive ones included), a coordinator every case of
/// their districts (sensitive ones only with sensitive access), an admin none.
///
/// A CHW's district counts: a case registered by push may name any assignee (a
/// coordinator registers offline without the district's worker list, and refusing it
/// would lose the registration, docs/DESIGN.md §5.4), and naming a worker of another
/// district must not hand them the case. It stays with the district's coordinators,
/// who reassign it.
pub fn can_read(user: &UserRecord, r: &Routing) -> bool {
    match user.role {
        Role::Admin | Role::Agency => false,
        Role::Chw => r.assigned_to == user.user_id && user.districts.contains(&r.district),
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
        Role::Admin | Role::Agency => false,
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
        Role::Admin | Role::Agency => false,
        Role::Chw => in_district && r.assigned_to == user.user_id,
        Role::Coordinator => in_district,
    }
}

/// The log partitions a user's pulls scan.
pub fn scope_keys(user: &UserRecord) -> Vec<ScopeKey> {
    match user.role {
        Role::Admin | Role::Agency => Vec::new(),
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
/// scope is not resumed (the device starts over with snapshots, after a removal phase).
///
/// The value is stored in every device's cursor, so it must not change between builds:
/// SipHash-1-3 with zero keys (`siphasher`, a specified algorithm, not
/// `std::hash::DefaultHasher`, whose output Rust may change in any release) over an
/// explicit byte stream. The stream is the one `std`'s `Hash` impls fed
/// `DefaultHasher::new()` for `(user_id, role, sorted deduplicated districts,
/// sensitive_access)` on a 64-bit server, so the values cursors already carry stay valid:
/// each string is its UTF-8 bytes then `0xff`, the district count 8 little-endian bytes,
/// the flag one byte. `tests::scope_version_is_pinned` pins the values.
pub fn scope_version(user: &UserRecord) -> u64 {
    let mut ds: Vec<&str> = user.districts.iter().map(String::as_str).collect();
    ds.sort_unstable();
    ds.dedup();
    let mut h = SipHasher13::new_with_keys(0, 0);
    fn write_str(h: &mut SipHasher13, s: &str) {
        h.write(s.as_bytes());
        h.write(&[0xff]);
    }
    write_str(&mut h, &user.user_id);
    write_str(&mut h, user.role.as_str());
    h.write(&(ds.len() as u64).to_le_bytes());
    for d in ds {
        write_str(&mut h, d);
    }
    h.write(&[u8::from(user.sensitive_access)]);
    h.finish()
}

/// Whether `assignee` (the user record `assigned_to` names, `None`: no such user) may be
/// given a case of `district`: a health worker (CHW) of that district. The one rule for
/// assigning a case, on the dashboard and through sync alike.
///
/// A disabled worker still qualifies: a coordinator offline may assign a case to a
/// worker who is disabled meanwhile, and refusing that push would refuse every other
/// edit it carries (the visits recorded with it) for good. A disabled user reads
/// nothing, so the assignment gives no access; the dashboard shows the case under them.
pub fn can_assign(assignee: Option<&UserRecord>, district: &str) -> bool {
    assignee.is_some_and(|u| u.role == Role::Chw && u.districts.iter().any(|d| d == district))
}

/// Whether `user` may register a case with routing `r` on the online routes
/// (`POST /v1/cases`, `POST /v1/cases/import`; a push that registers a case offline is
/// judged by [`can_create`] alone, docs/DESIGN.md §5.4): [`can_create`] (their district; a CHW's own case), and an assignee
/// [`can_assign`] accepts for its district (the rule of every later reassignment, so a
/// case cannot be registered into a routing no one could give it afterwards). `user_of`
/// looks up a user record.
pub fn may_register<E>(
    user: &UserRecord,
    r: &Routing,
    user_of: impl Fn(&str) -> Result<Option<UserRecord>, E>,
) -> Result<Result<(), RoutingRefusal>, E> {
    if !can_create(user, r) {
        return Ok(Err(
            "a new case is registered only in your districts (a worker: assigned to themselves)",
        ));
    }
    Ok(
        if can_assign(user_of(&r.assigned_to)?.as_ref(), &r.district) {
            Ok(())
        } else {
            Err("a case is assigned only to a health worker of its district")
        },
    )
}

/// One operation of a push on a restricted root field (`district`, `assigned_to`,
/// `sensitive`), as [`may_change_routing`] judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingOp {
    /// A string put on `district`.
    District(String),
    /// A string put on `assigned_to`.
    Assignee(String),
    /// A boolean put on `sensitive`.
    Sensitive(bool),
    /// Any other operation on or under a restricted field (a delete, an object, a
    /// counter, a value of another type, an operation inside an object under one).
    Other,
}

/// Why [`may_change_routing`] refused.
pub type RoutingRefusal = &'static str;

/// Whether `user` may push operations `ops` on the restricted fields of a case whose
/// routing was `old` and is `new` once they are applied. `user_of` looks up a user
/// record (for [`can_assign`]).
///
/// Judged by operation and by value, so that an operation whose effect is undone in
/// the same push (`sensitive` put true then false, whose operation counter beats a
/// concurrent put) is refused as well:
///
/// * a CHW or an admin: no operation on a restricted field, no change of routing;
/// * a coordinator: every `district` put names a district they hold, and a changed
///   district leaves one they hold; every `assigned_to` put names, and a changed
///   routing ends with, an assignee [`can_assign`] accepts for the new district; a put
///   of `sensitive = false`, or a sensitive case made ordinary, needs sensitive access
///   (marking a case sensitive protects it: any coordinator of the district may); any
///   other operation on those fields is refused.
pub fn may_change_routing<E>(
    user: &UserRecord,
    old: &Routing,
    new: &Routing,
    ops: &[RoutingOp],
    user_of: impl Fn(&str) -> Result<Option<UserRecord>, E>,
) -> Result<Result<(), RoutingRefusal>, E> {
    if user.role != Role::Coordinator {
        return Ok(if ops.is_empty() && old == new {
            Ok(())
        } else {
            Err("only a coordinator changes district, assignment or sensitivity")
        });
    }
    let holds = |d: &str| user.districts.iter().any(|x| x == d);
    for op in ops {
        match op {
            RoutingOp::District(d) if !holds(d) => {
                return Ok(Err("a case moves only into a district you hold"))
            }
            RoutingOp::Assignee(a) if !can_assign(user_of(a)?.as_ref(), &new.district) => {
                return Ok(Err(
                    "a case is assigned only to an enabled health worker of its district",
                ))
            }
            RoutingOp::Sensitive(false) if !user.sensitive_access => {
                return Ok(Err("un-marking a sensitive case needs sensitive access"))
            }
            RoutingOp::Other => {
                return Ok(Err(
                    "district, assignment and sensitivity take only a plain value",
                ))
            }
            _ => {}
        }
    }
    if old.district != new.district && !(holds(&old.district) && holds(&new.district)) {
        return Ok(Err("a case moves only between districts you hold"));
    }
    if old.sensitive && !new.sensitive && !user.sensitive_access {
        return Ok(Err("un-marking a sensitive case needs sensitive access"));
    }
    if (old.assigned_to != new.assigned_to || old.district != new.district)
        && !can_assign(user_of(&new.assigned_to)?.as_ref(), &new.district)
    {
        return Ok(Err(
            "a case is assigned only to an enabled health worker of its district",
        ));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, role: Role, districts: &[&str], sensitive: bool) -> UserRecord {
        UserRecord {
            user_id: id.into(),
            role,
            districts: districts.iter().map(|d| (*d).to_owned()).collect(),
            sensitive_access: sensitive,
            password_hash: String::new(),
            disabled: false,
            created_ms: 0,
            must_change_password: false,
            time_zone: None,
            agency: None,
        }
    }

    /// Values computed by the `DefaultHasher` implementation this replaced (Rust 1.95,
    /// x86-64): a change here sends every device through a removal phase and a full
    /// download, so it must never change.
    #[test]
    fn scope_version_is_pinned() {
        let cases = [
            (
                rec(
                    "coord-1",
                    Role::Coordinator,
                    &["sylhet", "দিনাজপুর", "sylhet", "barisal"],
                    true,
                ),
                0xad58_cb01_2854_9837_u64,
            ),
            (
                rec("chw-7", Role::Chw, &["sylhet"], false),
                0xbeeb_348f_8a55_4289,
            ),
            (rec("admin", Role::Admin, &[], false), 0x5092_7f31_46a1_03b7),
        ];
        for (user, pinned) in cases {
            assert_eq!(scope_version(&user), pinned, "{}", user.user_id);
        }
    }

    #[test]
    fn scope_version_ignores_district_order_and_repeats() {
        let a = rec("c", Role::Coordinator, &["b", "a", "b"], false);
        let b = rec("c", Role::Coordinator, &["a", "b"], false);
        assert_eq!(scope_version(&a), scope_version(&b));
        let c = rec("c", Role::Coordinator, &["a", "b"], true);
        assert_ne!(scope_version(&b), scope_version(&c));
        // Strings are delimited: moving a character across a boundary changes the value.
        let d = rec("c", Role::Coordinator, &["ab"], false);
        assert_ne!(scope_version(&b), scope_version(&d));
    }
}
