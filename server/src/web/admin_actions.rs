//! The admin page's forms (POST handlers): add a user, change a user's districts and
//! sensitive access and time zone, disable or enable them, set a temporary password, revoke or
//! un-revoke a device. Each checks the role and the session's CSRF token, then calls the
//! act of [`crate::admin`] (the same function the admin API and the CLI call) through
//! [`admin::run`], and returns to the admin page.

use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::Form;
use casesync_core::case::Role;
use serde::Deserialize;

use super::error::WebError;
use super::session::Signed;
use crate::admin::{self, NewUser, UserEdit};
use crate::state::AppState;

const ADMIN_PAGE: &str = "/dashboard/admin";

fn admin_only(s: &Signed, csrf: &str) -> Result<(), WebError> {
    if s.user.role != Role::Admin {
        return Err(WebError::Forbidden);
    }
    s.check_csrf(csrf)
}

/// Districts typed in one field, separated by commas or semicolons (Arabic-script
/// commas too).
fn districts(field: &str) -> Vec<String> {
    field
        .split([',', ';', '،', '؛'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The add-user form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    districts: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    sensitive: Option<String>,
    #[serde(default)]
    password: String,
    /// Empty: the deployment's.
    #[serde(default)]
    time_zone: String,
    /// Agency staff: their agency's id.
    #[serde(default)]
    agency: String,
}

/// `POST /dashboard/admin/users`: adds a user.
pub async fn create_user(
    State(st): State<AppState>,
    s: Signed,
    Form(f): Form<NewUserForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    let role = Role::parse(f.role.trim())
        .ok_or_else(|| WebError::BadRequest("role: chw, coordinator, admin or agency".into()))?;
    let new = NewUser {
        username: f.username.trim().to_owned(),
        role,
        districts: districts(&f.districts),
        sensitive_access: f.sensitive.is_some(),
        password: f.password,
        time_zone: Some(f.time_zone),
        agency: Some(f.agency.trim().to_owned()).filter(|a| !a.is_empty()),
    };
    admin::run(&st, move |store| admin::create_user(store, &new)).await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

/// The add-or-replace agency form.
#[derive(Debug, Deserialize)]
pub struct AgencyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    /// One name per line: `bn = নারী আইন সহায়তা`.
    #[serde(default)]
    names: String,
    /// Comma-separated service names (`legal, psychosocial`); empty: any.
    #[serde(default)]
    services: String,
    /// Comma-separated districts.
    #[serde(default)]
    districts: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    disabled: Option<String>,
}

/// `POST /dashboard/admin/agencies`: adds an agency to the directory, or replaces the
/// one of that id.
pub async fn put_agency(
    State(st): State<AppState>,
    s: Signed,
    Form(f): Form<AgencyForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    let mut names = std::collections::BTreeMap::new();
    for line in f.names.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (lang, name) = line
            .split_once('=')
            .ok_or_else(|| WebError::BadRequest("names: one `lang = name` per line".into()))?;
        names.insert(lang.trim().to_owned(), name.trim().to_owned());
    }
    let mut services = Vec::new();
    for s in f
        .services
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        services.push(
            casesync_core::case::ReferralService::parse(s)
                .ok_or_else(|| WebError::BadRequest(format!("services: unknown service {s}")))?,
        );
    }
    let agency = casesync_core::protocol::Agency {
        id: f.id.trim().to_owned(),
        names,
        services,
        districts: districts(&f.districts),
        disabled: f.disabled.is_some(),
    };
    admin::run(&st, move |store| {
        crate::agencies::put_agency(store, &agency)
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

/// The scope form of a user row.
#[derive(Debug, Deserialize)]
pub struct ScopeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    districts: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    sensitive: Option<String>,
}

/// `POST /dashboard/admin/users/{id}/scope`: replaces districts and sensitive access.
pub async fn set_scope(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<ScopeForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    let edit = UserEdit {
        districts: Some(districts(&f.districts)),
        sensitive_access: Some(f.sensitive.is_some()),
        ..UserEdit::default()
    };
    let by = s.user.user_id.clone();
    admin::run(&st, move |store| {
        admin::edit_user(store, &id, &edit, Some(&by))
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

async fn set_disabled(
    st: &AppState,
    s: &Signed,
    id: String,
    disabled: bool,
) -> Result<Redirect, WebError> {
    let edit = UserEdit {
        disabled: Some(disabled),
        ..UserEdit::default()
    };
    let by = s.user.user_id.clone();
    admin::run(st, move |store| {
        admin::edit_user(store, &id, &edit, Some(&by))
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

/// `POST /dashboard/admin/users/{id}/disable`.
pub async fn disable_user(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    set_disabled(&st, &s, id, true).await
}

/// `POST /dashboard/admin/users/{id}/enable`.
pub async fn enable_user(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    set_disabled(&st, &s, id, false).await
}

/// The time zone form of a user row.
#[derive(Debug, Deserialize)]
pub struct TimeZoneForm {
    #[serde(default)]
    csrf: String,
    /// An IANA name; empty: the deployment's.
    #[serde(default)]
    time_zone: String,
}

/// `POST /dashboard/admin/users/{id}/time-zone`: sets the zone the user's dashboard
/// shows times in.
pub async fn set_time_zone(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<TimeZoneForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    let edit = UserEdit {
        time_zone: Some(f.time_zone),
        ..UserEdit::default()
    };
    let by = s.user.user_id.clone();
    admin::run(&st, move |store| {
        admin::edit_user(store, &id, &edit, Some(&by))
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

/// The password reset form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    temporary_password: String,
}

/// `POST /dashboard/admin/users/{id}/password`: sets a temporary password.
pub async fn reset_password(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<ResetForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    let temporary = f.temporary_password;
    admin::run(&st, move |store| {
        admin::reset_password(store, &id, &temporary)
    })
    .await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

/// `POST /dashboard/admin/devices/{id}/revoke`.
pub async fn revoke_device(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    admin::run(&st, move |store| admin::revoke_device(store, &id)).await?;
    Ok(Redirect::to(ADMIN_PAGE))
}

/// `POST /dashboard/admin/devices/{id}/unrevoke`.
pub async fn unrevoke_device(
    State(st): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Redirect, WebError> {
    admin_only(&s, &f.csrf)?;
    admin::run(&st, move |store| admin::unrevoke_device(store, &id)).await?;
    Ok(Redirect::to(ADMIN_PAGE))
}
