//! The admin JSON API under `/v1/admin/`, for a user of role admin (anyone else: 403
//! `forbidden`), and `POST /v1/auth/password`. Every act is a function of
//! [`crate::admin`], run on a blocking thread under the auth records lock (no login or
//! rotation interleaves); every body is read up to its own bound
//! ([`MAX_ADMIN_BODY_BYTES`], [`MAX_IMPORT_BYTES`] for an import) before it is parsed.
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /v1/admin/users` | | `[UserView]` |
//! | `POST /v1/admin/users` | `NewUser` | `Created` (201, or 200 when it existed the same) |
//! | `POST /v1/admin/import/users?dry_run=true` | CSV (`text/csv`) | `ImportReport` |
//! | `POST /v1/admin/users/{id}` | `UserEdit` | `UserView` |
//! | `POST /v1/admin/users/{id}/password` | `PasswordReset` | `UserView` |
//! | `GET /v1/admin/devices` | | `[DeviceView]` |
//! | `POST /v1/admin/devices/{id}/revoke` | | `DeviceView` |
//! | `POST /v1/admin/devices/{id}/unrevoke` | | `DeviceView` |
//! | `GET /v1/admin/districts` | | `[DistrictView]` |

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use casesync_core::case::Role;
use casesync_core::protocol::PasswordChangeRequest;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{read_body, AuthUser, PathParam};
use super::AppState;
use crate::admin::import::{self, ImportReport, MAX_IMPORT_BYTES};
use crate::admin::{
    self, Created, DeviceView, DistrictView, NewUser, PasswordReset, UserEdit, UserView,
    MAX_ADMIN_BODY_BYTES,
};
use crate::auth::Authenticated;
use crate::client_ip::ClientIp;
use crate::error::AppError;

/// The caller may administer: an active device of a user of role admin.
pub(super) fn admin_only(who: &Authenticated) -> Result<(), AppError> {
    if who.revoked {
        return Err(AppError::DeviceRevoked);
    }
    if who.user.role != Role::Admin {
        return Err(AppError::Forbidden("administrators only"));
    }
    Ok(())
}

/// The body, at most `max` bytes, of content type `ctype`.
async fn bounded_body(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
    ctype: &'static str,
    max: usize,
) -> Result<Vec<u8>, AppError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if given.split(';').next().map(str::trim) != Some(ctype) {
        return Err(AppError::UnsupportedMediaType(ctype));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(AppError::PayloadTooLarge(max));
    }
    read_body(body, max, st.settings.inactivity_timeout).await
}

/// A JSON body of at most [`MAX_ADMIN_BODY_BYTES`].
pub(super) async fn json_body<T: DeserializeOwned>(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, AppError> {
    let bytes = bounded_body(st, headers, body, "application/json", MAX_ADMIN_BODY_BYTES).await?;
    serde_json::from_slice(&bytes).map_err(|e| AppError::BadRequest(format!("body: {e}")))
}

/// `GET /v1/admin/users`.
pub async fn list_users(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<Vec<UserView>>, AppError> {
    admin_only(&who)?;
    admin::run(&st, admin::list_users).await.map(Json)
}

/// `POST /v1/admin/users`.
pub async fn create_user(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Created>), AppError> {
    admin_only(&who)?;
    let new: NewUser = json_body(&st, &headers, body).await?;
    let created = admin::run(&st, move |s| admin::create_user(s, &new)).await?;
    let status = if created.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(created)))
}

/// Query of an import.
#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    /// Check only; store nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /v1/admin/import/users[?dry_run=true]` with a CSV body (`text/csv`).
pub async fn import_users(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportReport>, AppError> {
    admin_only(&who)?;
    let bytes = bounded_body(&st, &headers, body, "text/csv", MAX_IMPORT_BYTES).await?;
    admin::run(&st, move |s| import::import_users(s, &bytes, q.dry_run))
        .await
        .map(Json)
}

/// `POST /v1/admin/users/{id}`.
pub async fn edit_user(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UserView>, AppError> {
    admin_only(&who)?;
    let edit: UserEdit = json_body(&st, &headers, body).await?;
    let by = who.user.user_id.clone();
    admin::run(&st, move |s| admin::edit_user(s, &id, &edit, Some(&by)))
        .await
        .map(Json)
}

/// `POST /v1/admin/users/{id}/password`.
pub async fn reset_password(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UserView>, AppError> {
    admin_only(&who)?;
    let reset: PasswordReset = json_body(&st, &headers, body).await?;
    admin::run(&st, move |s| {
        admin::reset_password(s, &id, &reset.temporary_password)
    })
    .await
    .map(Json)
}

/// `GET /v1/admin/devices`.
pub async fn list_devices(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<Vec<DeviceView>>, AppError> {
    admin_only(&who)?;
    admin::run(&st, admin::list_devices).await.map(Json)
}

/// `GET /v1/admin/districts`: every district a user or an agency names, with its staff
/// and agencies (`admin::list_districts`).
pub async fn list_districts(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<Vec<DistrictView>>, AppError> {
    admin_only(&who)?;
    admin::run(&st, admin::list_districts).await.map(Json)
}

/// `POST /v1/admin/devices/{id}/revoke`.
pub async fn revoke_device(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeviceView>, AppError> {
    admin_only(&who)?;
    admin::run(&st, move |s| admin::revoke_device(s, &id))
        .await
        .map(Json)
}

/// `POST /v1/admin/devices/{id}/unrevoke`.
pub async fn unrevoke_device(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeviceView>, AppError> {
    admin_only(&who)?;
    admin::run(&st, move |s| admin::unrevoke_device(s, &id))
        .await
        .map(Json)
}

/// `POST /v1/auth/password` ([`PasswordChangeRequest`]): a user changes their own
/// password, throttled like a login; no token needed (after a reset the user has none).
pub async fn change_password(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, AppError> {
    let b: PasswordChangeRequest = json_body(&st, &headers, body).await?;
    st.auth
        .change_password(&b.username, &b.old_password, &b.new_password, &ip)
        .await?;
    Ok(Json(json!({ "changed": true })))
}
