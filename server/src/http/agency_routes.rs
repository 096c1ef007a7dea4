//! Registered agencies over JSON (issue #15): the directory a phone refers from, the
//! referrals an agency's staff receive and their answers, and the admin's directory
//! edits. Every body is bounded ([`crate::admin::MAX_ADMIN_BODY_BYTES`]) before it is
//! parsed; what an agency's user may see or answer is decided by `crate::agencies`.
//!
//! | route | who | body | answer |
//! |---|---|---|---|
//! | `GET /v1/agencies` | anyone signed in | | `AgencyDirectory` (the agencies the user may refer to) |
//! | `GET /v1/agency/referrals` | agency staff | | `[SharedReferral]` |
//! | `POST /v1/agency/referrals/{case}/{referral}` | agency staff | `ReferralAnswer` | `SharedReferral` |
//! | `GET /v1/admin/agencies` | admin | | `[Agency]` |
//! | `POST /v1/admin/agencies` | admin | `Agency` | `PutAgency` (201 when new) |

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use casesync_core::case::{ReferralAnswer, Role};
use casesync_core::protocol::{Agency, AgencyDirectory, SharedReferral};

use super::admin_routes::{admin_only, json_body};
use super::extract::{AuthUser, PathParam};
use super::AppState;
use crate::agencies::{self, PutAgency};
use crate::auth::Authenticated;
use crate::error::AppError;

fn active(who: &Authenticated) -> Result<(), AppError> {
    if who.revoked {
        return Err(AppError::DeviceRevoked);
    }
    Ok(())
}

fn agency_staff(who: &Authenticated) -> Result<(), AppError> {
    active(who)?;
    if who.user.role != Role::Agency {
        return Err(AppError::Forbidden("agency staff only"));
    }
    Ok(())
}

/// `GET /v1/agencies`.
pub async fn directory(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<AgencyDirectory>, AppError> {
    active(&who)?;
    let store = st.store.clone();
    let agencies =
        tokio::task::spawn_blocking(move || agencies::directory_for(store.as_ref(), &who.user))
            .await??;
    Ok(Json(AgencyDirectory { agencies }))
}

/// `GET /v1/agency/referrals`.
pub async fn referrals(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<Vec<SharedReferral>>, AppError> {
    agency_staff(&who)?;
    agencies::referrals_async(&st, &who.user).await.map(Json)
}

/// `POST /v1/agency/referrals/{case}/{referral}`.
pub async fn answer(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    PathParam((case_id, referral_id)): PathParam<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SharedReferral>, AppError> {
    agency_staff(&who)?;
    let a: ReferralAnswer = json_body(&st, &headers, body).await?;
    agencies::answer_async(&st, &who.user, &case_id, &referral_id, a)
        .await
        .map(Json)
}

/// `GET /v1/admin/agencies`.
pub async fn list(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
) -> Result<Json<Vec<Agency>>, AppError> {
    admin_only(&who)?;
    crate::admin::run(&st, |s| Ok(agencies::list(s)?))
        .await
        .map(Json)
}

/// `POST /v1/admin/agencies`.
pub async fn put(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PutAgency>), AppError> {
    admin_only(&who)?;
    let a: Agency = json_body(&st, &headers, body).await?;
    let put = crate::admin::run(&st, move |s| agencies::put_agency(s, &a)).await?;
    let status = if put.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(put)))
}
