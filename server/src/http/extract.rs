//! Extractors: the authenticated principal, JSON bodies and path parameters whose
//! rejections are [`AppError`]s, and a body read that fails on inactivity rather than
//! total duration. The client's address is [`crate::client_ip`] (the dashboard reads it
//! too).

use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::Json;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::auth::Authenticated;
use crate::error::AppError;

/// The caller, from `Authorization: Bearer <access token>`. A request with more than one
/// `Authorization` header is refused (`AmbiguousCredentials`), whatever they hold: taking
/// the first (or the last) would let a proxy and the server disagree about who called.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Authenticated);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = bearer_token(&parts.headers)?;
        state.auth.authenticate(token).map(AuthUser)
    }
}

/// The token of the request's one `Authorization: Bearer <token>` header (trimmed):
/// `Unauthorized` without one, `AmbiguousCredentials` with more than one `Authorization`
/// header, whatever they hold (taking the first, or the last, would let a proxy and the
/// server disagree about who called).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, AppError> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let first = all.next().ok_or(AppError::Unauthorized)?;
    if all.next().is_some() {
        return Err(AppError::AmbiguousCredentials);
    }
    let value = first.to_str().map_err(|_| AppError::Unauthorized)?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or(AppError::Unauthorized)
}

/// A JSON body whose rejections are [`AppError`]s.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(AppError::UnsupportedMediaType("application/json"))
            }
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::PayloadTooLarge(state.settings.max_body_bytes))
            }
            Err(e) => Err(AppError::BadRequest(e.body_text())),
        }
    }
}

/// A path parameter whose rejections are [`AppError`]s: a segment whose percent-decoded
/// bytes are not UTF-8 (`%FF`) is 400 `bad_request`.
#[derive(Debug, Clone)]
pub struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| PathParam(v))
            .map_err(|e| AppError::BadRequest(e.body_text()))
    }
}

/// Reads a whole body of at most `max` bytes, failing if no bytes arrive for `idle`
/// (a slow 2G upload that keeps sending is never cut off).
pub async fn read_body(body: Body, max: usize, idle: Duration) -> Result<Vec<u8>, AppError> {
    let mut body = body;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(AppError::Timeout),
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) if super::limits::is_body_timeout(&e) => {
                return Err(AppError::Timeout)
            }
            Ok(Some(Err(e))) => {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                return Err(if too_large {
                    AppError::PayloadTooLarge(max)
                } else {
                    AppError::BadRequest("request body could not be read".into())
                });
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() + data.len() > max {
                        return Err(AppError::PayloadTooLarge(max));
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}
