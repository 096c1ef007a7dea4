//! `POST /v1/auth/login` and `POST /v1/auth/refresh`.

use axum::extract::State;
use axum::Json;
use casesync_core::protocol::{LoginRequest, RefreshRequest};

use super::extract::JsonBody;
use super::AppState;
use crate::auth::{self, TokenResponse};
use crate::client_ip::ClientIp;
use crate::error::AppError;

/// Login body (the shared [`LoginRequest`]).
pub type LoginBody = LoginRequest;

/// Refresh body (the shared [`RefreshRequest`]).
pub type RefreshBody = RefreshRequest;

/// `POST /v1/auth/login`. A device id with a reserved prefix
/// ([`auth::RESERVED_DEVICE_PREFIXES`]) is refused (400) before anything else: the
/// server's own actors use them.
pub async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(b): JsonBody<LoginBody>,
) -> Result<Json<TokenResponse>, AppError> {
    if auth::reserved_device_id(&b.device_id) {
        return Err(AppError::BadRequest(
            "device_id: the prefixes server:, web:, admin: and system: are reserved".into(),
        ));
    }
    st.auth
        .login(&b.username, &b.password, &b.device_id, &ip)
        .await
        .map(Json)
}

/// `POST /v1/auth/refresh`.
pub async fn refresh(
    State(st): State<AppState>,
    JsonBody(b): JsonBody<RefreshBody>,
) -> Result<Json<TokenResponse>, AppError> {
    st.auth
        .refresh(&b.refresh_token, &b.device_id)
        .await
        .map(Json)
}
