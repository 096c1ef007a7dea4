//! Account records: users (create, disable, scope changes, the password and district
//! rules every path shares) and device revocation, on the store. The admin acts
//! (`crate::admin`), the CLI on the store and the sync tests call these.

use casesync_core::case::Role;

use super::{hash_password, valid_username};
use crate::error::AppError;
use crate::now_ms;
use crate::store::{Storage, UserRecord};

/// Revokes a device in `store`; false if unknown.
pub fn revoke_device(store: &dyn Storage, device_id: &str) -> Result<bool, AppError> {
    let Some(mut d) = store.device(device_id)? else {
        return Ok(false);
    };
    d.revoked = true;
    d.refresh_hash = None;
    d.rotated_hash = None;
    store.put_device(&d)?;
    store.flush()?;
    Ok(true)
}

pub use casesync_core::protocol::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

/// The password rules (`casesync_core::protocol::password_acceptable`, which the phone
/// checks too): [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_BYTES`], no control characters.
pub fn check_password(password: &str) -> Result<(), AppError> {
    if !casesync_core::protocol::password_acceptable(password) {
        return Err(AppError::BadRequest(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters, at most {MAX_PASSWORD_BYTES} bytes, no control characters"
        )));
    }
    Ok(())
}

/// Checks a district list's entries (1 to 200 characters, no control characters).
pub fn check_districts(districts: &[String]) -> Result<(), AppError> {
    if districts
        .iter()
        .any(|d| d.trim().is_empty() || d.chars().any(char::is_control) || d.len() > 200)
    {
        return Err(AppError::BadRequest(
            "district: 1 to 200 characters, no control characters".into(),
        ));
    }
    Ok(())
}

/// Changes a user's districts and sensitive access (issue #13). The scope they had is
/// remembered first (`sync::scope::remember_scope`): at their devices' next sync, the
/// cases it covered and the new one does not are listed as removed, and the edits the
/// devices made to them before are still accepted.
pub fn set_scope(
    store: &dyn Storage,
    username: &str,
    districts: &[String],
    sensitive_access: bool,
) -> Result<UserRecord, AppError> {
    check_districts(districts)?;
    let mut user = store.user(username)?.ok_or(AppError::NotFound)?;
    if !matches!(user.role, Role::Admin | Role::Agency) && districts.is_empty() {
        return Err(AppError::BadRequest(format!(
            "a {} needs at least one district",
            user.role
        )));
    }
    crate::sync::scope::remember_scope(store, &user, now_ms())?;
    user.districts = districts.to_vec();
    user.sensitive_access = sensitive_access;
    store.put_user(&user)?;
    store.flush()?;
    Ok(user)
}

/// Disables a user: no more logins, and every device of theirs is revoked, so each is
/// told to wipe at its next contact (sync: `wipe`; refresh and the API:
/// `device_revoked`). Their unsent edits are not accepted, as on a revoked device.
pub fn disable_user(store: &dyn Storage, username: &str) -> Result<UserRecord, AppError> {
    let mut user = store.user(username)?.ok_or(AppError::NotFound)?;
    user.disabled = true;
    store.put_user(&user)?;
    for mut d in store.devices()? {
        if d.user_id == user.user_id && !d.revoked {
            d.revoked = true;
            d.refresh_hash = None;
            store.put_device(&d)?;
        }
    }
    store.flush()?;
    Ok(user)
}

/// Creates a user (the user id is the login name).
pub fn create_user(
    store: &dyn Storage,
    username: &str,
    role: Role,
    districts: &[String],
    sensitive_access: bool,
    password: &str,
) -> Result<UserRecord, AppError> {
    if !valid_username(username) {
        return Err(AppError::BadRequest(
            "username: 1 to 64 of A-Z a-z 0-9 _ . -".into(),
        ));
    }
    check_password(password)?;
    check_districts(districts)?;
    if store.user(username)?.is_some() {
        return Err(AppError::Conflict(format!("user {username} exists")));
    }
    let user = UserRecord {
        user_id: username.to_owned(),
        role,
        districts: districts.to_vec(),
        sensitive_access,
        password_hash: hash_password(password).map_err(AppError::Internal)?,
        disabled: false,
        created_ms: now_ms(),
        must_change_password: false,
        time_zone: None,
        agency: None,
    };
    store.put_user(&user)?;
    store.flush()?;
    Ok(user)
}
