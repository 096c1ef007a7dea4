//! The administrator's acts on users and devices, one function per act, shared by the
//! admin JSON API (`http/admin_routes.rs`, on a running server), the CLI on the store
//! (`casesync-server user|device ...` without `--server`) and the dashboard. Each act
//! checks all of its input before it writes anything, so a refused request changes
//! nothing stored; each can be repeated (a 2G retry) with the same outcome.
//!
//! The caller serializes the acts with logins and token rotations: on a running server
//! the API and the dashboard run each through [`run`] (under
//! [`crate::auth::Auth::records_lock`]); the CLI on the store holds the store itself
//! (sled's file lock).

pub mod import;

#[cfg(test)]
mod tests;

use casesync_core::case::Role;
use serde::{Deserialize, Serialize};

use crate::auth::{self, check_districts, check_password, hash_password, valid_username};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{DeviceRecord, Storage, UserRecord};

/// Most districts of one user.
pub const MAX_DISTRICTS_PER_USER: usize = 64;
/// Largest body of an admin API request other than an import, bytes.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

/// Runs an act on a running server (the admin API's and the dashboard's way): on a
/// blocking thread (acts hash passwords), holding the auth records lock
/// ([`crate::auth::Auth::records_lock`]) so no login or token rotation interleaves.
pub async fn run<T: Send + 'static>(
    st: &AppState,
    act: impl FnOnce(&dyn Storage) -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let guard = st.auth.records_lock().lock_owned().await;
    let store = st.store.clone();
    tokio::task::spawn_blocking(move || {
        let _g = guard;
        act(store.as_ref())
    })
    .await?
}

/// A user as the admin API shows it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// Login name (also the user id).
    pub user_id: String,
    /// Role.
    pub role: Role,
    /// Districts.
    pub districts: Vec<String>,
    /// Coordinators: may see sensitive cases of their districts.
    pub sensitive_access: bool,
    /// No logins; their devices were revoked.
    pub disabled: bool,
    /// A temporary password is set: the user must change it before logging in.
    pub must_change_password: bool,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: i64,
    /// The user's own time zone for the dashboard; `None`: the deployment's.
    pub time_zone: Option<String>,
    /// Agency staff: their agency's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            user_id: u.user_id.clone(),
            role: u.role,
            districts: u.districts.clone(),
            sensitive_access: u.sensitive_access,
            disabled: u.disabled,
            must_change_password: u.must_change_password,
            created_ms: u.created_ms,
            time_zone: u.time_zone.clone(),
            agency: u.agency.clone(),
        }
    }
}

/// A device as the admin API shows it (no token hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    /// Device id.
    pub device_id: String,
    /// The user it is bound to.
    pub user_id: String,
    /// Revoked: told to wipe at its next contact.
    pub revoked: bool,
    /// First login, ms since the Unix epoch.
    pub created_ms: i64,
    /// Last sync, ms since the Unix epoch.
    pub last_sync_ms: Option<i64>,
}

impl From<&DeviceRecord> for DeviceView {
    fn from(d: &DeviceRecord) -> Self {
        DeviceView {
            device_id: d.device_id.clone(),
            user_id: d.user_id.clone(),
            revoked: d.revoked,
            created_ms: d.created_ms,
            last_sync_ms: d.last_sync_ms,
        }
    }
}

/// A user to create (`POST /v1/admin/users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name: 1 to 64 of `A-Z a-z 0-9 _ . -`.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Districts (at least one for a CHW or a coordinator).
    #[serde(default)]
    pub districts: Vec<String>,
    /// Coordinators: may see sensitive cases.
    #[serde(default)]
    pub sensitive_access: bool,
    /// The first password (the password rules apply).
    pub password: String,
    /// The user's own time zone for the dashboard (an IANA name such as `Asia/Tehran`);
    /// absent: the deployment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Role agency (and only it): the registered agency (its id) whose staff the user
    /// is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
}

/// What creating a user did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// The user as stored.
    pub user: UserView,
    /// False: the same user with the same password existed already (a repeated request);
    /// nothing was written.
    pub created: bool,
}

/// Changes to a user (`POST /v1/admin/users/{id}`): absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEdit {
    /// New districts (the cases of a district taken away leave their devices at the
    /// next sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub districts: Option<Vec<String>>,
    /// New sensitive access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive_access: Option<bool>,
    /// `true`: disable (no more logins; every device of theirs is revoked and wipes at
    /// its next contact). `false`: enable again (their devices stay revoked: each signs
    /// in afresh after an un-revoke).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// The user's own time zone for the dashboard (an IANA name); an empty string goes
    /// back to the deployment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A temporary password (`POST /v1/admin/users/{id}/password`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The temporary password the administrator gives the user (the password rules
    /// apply); the user must change it at the next login.
    pub temporary_password: String,
}

/// A district list as stored: every entry valid, at most [`MAX_DISTRICTS_PER_USER`],
/// duplicates dropped (first kept), at least one unless `role` is admin.
pub fn checked_districts(role: Role, districts: &[String]) -> Result<Vec<String>, AppError> {
    if districts.len() > MAX_DISTRICTS_PER_USER {
        return Err(AppError::BadRequest(format!(
            "districts: at most {MAX_DISTRICTS_PER_USER}"
        )));
    }
    check_districts(districts)?;
    if !matches!(role, Role::Admin | Role::Agency) && districts.is_empty() {
        return Err(AppError::BadRequest(format!(
            "a {role} needs at least one district"
        )));
    }
    if role == Role::Agency && !districts.is_empty() {
        return Err(AppError::BadRequest(
            "agency staff work by agency (the agency's districts), not by district".into(),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(districts.len());
    for d in districts {
        if !out.contains(d) {
            out.push(d.clone());
        }
    }
    Ok(out)
}

/// A user's time zone as stored: `None` for an empty name (the deployment's zone), the
/// zone's canonical IANA name otherwise; an unknown name is refused (400).
pub fn checked_time_zone(name: &str) -> Result<Option<String>, AppError> {
    if name.trim().is_empty() {
        return Ok(None);
    }
    crate::config::Display::parse_zone(name)
        .map(|tz| Some(tz.name().to_owned()))
        .map_err(|e| AppError::BadRequest(format!("time_zone: {e}")))
}

/// Checks a new user's fields (no store access): the username, the district list
/// ([`checked_districts`]) and the password rules. The user as it would be stored
/// (districts deduplicated).
pub fn check_new_user(new: &NewUser) -> Result<NewUser, AppError> {
    if !valid_username(&new.username) {
        return Err(AppError::BadRequest(
            "username: 1 to 64 of A-Z a-z 0-9 _ . -".into(),
        ));
    }
    let districts = checked_districts(new.role, &new.districts)?;
    match (new.role, &new.agency) {
        (Role::Agency, None) => {
            return Err(AppError::BadRequest(
                "agency staff need their agency (its id in the directory)".into(),
            ))
        }
        (Role::Agency, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(AppError::BadRequest(
                "only agency staff belong to an agency".into(),
            ))
        }
    }
    check_password(&new.password)?;
    let time_zone = match &new.time_zone {
        Some(z) => checked_time_zone(z)?,
        None => None,
    };
    Ok(NewUser {
        districts,
        time_zone,
        ..new.clone()
    })
}

/// Every user, by id.
pub fn list_users(store: &dyn Storage) -> Result<Vec<UserView>, AppError> {
    Ok(store.users()?.iter().map(UserView::from).collect())
}

/// Creates a user. The same request again (same role, districts, sensitive access and
/// password) finds the user and answers `created: false`, setting the time zone asked
/// for if a first attempt stopped before it; any other user of that name is a conflict
/// (409).
pub fn create_user(store: &dyn Storage, new: &NewUser) -> Result<Created, AppError> {
    let new = check_new_user(new)?;
    if let Some(a) = &new.agency {
        if crate::agencies::get(store, a)?.is_none() {
            return Err(AppError::BadRequest(format!(
                "agency {a} is not in the directory"
            )));
        }
    }
    if let Some(mut u) = store.user(&new.username)? {
        let same = u.role == new.role
            && (u.agency == new.agency || u.agency.is_none())
            && u.districts == new.districts
            && u.sensitive_access == new.sensitive_access
            && auth::verify_password(&new.password, &u.password_hash);
        if !same {
            return Err(AppError::Conflict(format!("user {} exists", new.username)));
        }
        if (new.time_zone.is_some() && u.time_zone != new.time_zone) || u.agency != new.agency {
            // What a first attempt that stopped after creating the user left unset.
            if new.time_zone.is_some() {
                u.time_zone.clone_from(&new.time_zone);
            }
            u.agency.clone_from(&new.agency);
            store.put_user(&u)?;
            store.flush()?;
        }
        return Ok(Created {
            user: UserView::from(&u),
            created: false,
        });
    }
    let mut user = auth::create_user(
        store,
        &new.username,
        new.role,
        &new.districts,
        new.sensitive_access,
        &new.password,
    )?;
    if new.time_zone.is_some() || new.agency.is_some() {
        user.time_zone.clone_from(&new.time_zone);
        user.agency.clone_from(&new.agency);
        store.put_user(&user)?;
        store.flush()?;
    }
    tracing::info!(user = %user.user_id, role = %user.role, "user created by an administrator");
    Ok(Created {
        user: UserView::from(&user),
        created: true,
    })
}

/// Edits a user (see [`UserEdit`]); `by` is the administrator acting, who may not
/// disable themselves (`None`: the CLI on the store). Every field is checked before
/// anything is written; a field equal to what is stored writes nothing.
pub fn edit_user(
    store: &dyn Storage,
    username: &str,
    edit: &UserEdit,
    by: Option<&str>,
) -> Result<UserView, AppError> {
    let user = store.user(username)?.ok_or(AppError::NotFound)?;
    let districts = match &edit.districts {
        Some(d) => checked_districts(user.role, d)?,
        None => user.districts.clone(),
    };
    let sensitive = edit.sensitive_access.unwrap_or(user.sensitive_access);
    let zone = match &edit.time_zone {
        Some(z) => checked_time_zone(z)?,
        None => user.time_zone.clone(),
    };
    if edit.disabled == Some(true) && by == Some(user.user_id.as_str()) {
        return Err(AppError::Forbidden(
            "an administrator cannot disable their own account",
        ));
    }
    let mut user = user;
    if districts != user.districts || sensitive != user.sensitive_access {
        user = auth::set_scope(store, username, &districts, sensitive)?;
        tracing::info!(user = %user.user_id, "scope changed by an administrator");
    }
    match edit.disabled {
        Some(true) if !user.disabled => {
            user = auth::disable_user(store, username)?;
            tracing::info!(user = %user.user_id, "user disabled by an administrator");
        }
        Some(false) if user.disabled => {
            user.disabled = false;
            store.put_user(&user)?;
            store.flush()?;
            tracing::info!(user = %user.user_id, "user enabled by an administrator");
        }
        _ => {}
    }
    if zone != user.time_zone {
        user.time_zone = zone;
        store.put_user(&user)?;
        store.flush()?;
        tracing::info!(user = %user.user_id, "time zone set by an administrator");
    }
    Ok(UserView::from(&user))
}

/// Sets a temporary password: the old one stops working at once; login and refresh
/// answer `password_change_required` until the user changes it
/// (`POST /v1/auth/password`). Repeating it sets the same temporary password again.
pub fn reset_password(
    store: &dyn Storage,
    username: &str,
    temporary: &str,
) -> Result<UserView, AppError> {
    check_password(temporary)?;
    let mut user = store.user(username)?.ok_or(AppError::NotFound)?;
    user.password_hash = hash_password(temporary).map_err(AppError::Internal)?;
    user.must_change_password = true;
    store.put_user(&user)?;
    store.flush()?;
    tracing::info!(user = %user.user_id, "password reset by an administrator");
    Ok(UserView::from(&user))
}

/// A district as the administrator sees it. Districts are not records of their own: a
/// district exists while a user, an agency or a case names it (its code is the routing
/// key of every case in it, so it is never renamed in place). Managing a district is
/// changing who works in it ([`edit_user`]'s districts) and which agencies serve it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictView {
    /// The district's code.
    pub district: String,
    /// Enabled coordinators, by id.
    pub coordinators: Vec<String>,
    /// Enabled health workers, by id.
    pub chws: Vec<String>,
    /// Disabled users naming it, by id.
    pub disabled_users: Vec<String>,
    /// Agencies of the directory serving it (disabled ones too), by id.
    pub agencies: Vec<String>,
}

/// Every district named by a user or an agency, by code; no case is read (an
/// administrator sees no case content).
pub fn list_districts(store: &dyn Storage) -> Result<Vec<DistrictView>, AppError> {
    use std::collections::BTreeMap;
    let mut out: BTreeMap<String, DistrictView> = BTreeMap::new();
    for u in store.users()? {
        for d in &u.districts {
            let v = district_entry(&mut out, d);
            let list = match (u.disabled, u.role) {
                (true, _) => &mut v.disabled_users,
                (false, Role::Coordinator) => &mut v.coordinators,
                (false, Role::Chw) => &mut v.chws,
                (false, _) => continue,
            };
            list.push(u.user_id.clone());
        }
    }
    for a in crate::agencies::list(store)? {
        for d in &a.districts {
            district_entry(&mut out, d).agencies.push(a.id.clone());
        }
    }
    let mut out: Vec<DistrictView> = out.into_values().collect();
    for v in &mut out {
        for l in [
            &mut v.coordinators,
            &mut v.chws,
            &mut v.disabled_users,
            &mut v.agencies,
        ] {
            l.sort();
            l.dedup();
        }
    }
    Ok(out)
}

fn district_entry<'a>(
    out: &'a mut std::collections::BTreeMap<String, DistrictView>,
    d: &str,
) -> &'a mut DistrictView {
    out.entry(d.to_owned()).or_insert_with(|| DistrictView {
        district: d.to_owned(),
        ..DistrictView::default()
    })
}

/// Every device, by id.
pub fn list_devices(store: &dyn Storage) -> Result<Vec<DeviceView>, AppError> {
    Ok(store.devices()?.iter().map(DeviceView::from).collect())
}

/// Revokes a device (lost phone): no more tokens; it is told to wipe at its next
/// contact. Revoking a revoked device again changes nothing. Unknown: 404.
pub fn revoke_device(store: &dyn Storage, device_id: &str) -> Result<DeviceView, AppError> {
    let d = store.device(device_id)?.ok_or(AppError::NotFound)?;
    if !d.revoked {
        auth::revoke_device(store, device_id)?;
        tracing::info!(device = %device_id, "device revoked by an administrator");
    }
    let d = store.device(device_id)?.ok_or(AppError::NotFound)?;
    Ok(DeviceView::from(&d))
}

/// Un-revokes a device (the phone was found): its user may sign in on it again with
/// their password (its refresh tokens stay void; a phone that already wiped starts
/// afresh). Refused (409) while its user is disabled. Un-revoking a device that is not
/// revoked changes nothing. Unknown: 404.
pub fn unrevoke_device(store: &dyn Storage, device_id: &str) -> Result<DeviceView, AppError> {
    let mut d = store.device(device_id)?.ok_or(AppError::NotFound)?;
    if d.revoked {
        let owner = store.user(&d.user_id)?;
        if owner.is_none_or(|u| u.disabled) {
            return Err(AppError::Conflict(format!(
                "the user of device {device_id} is disabled: enable them first"
            )));
        }
        d.revoked = false;
        d.refresh_hash = None;
        d.rotated_hash = None;
        store.put_device(&d)?;
        store.flush()?;
        tracing::info!(device = %device_id, "device un-revoked by an administrator");
    }
    Ok(DeviceView::from(&d))
}
