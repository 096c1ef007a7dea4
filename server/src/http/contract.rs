//! The error contract where axum or a panic would answer without it: unknown routes,
//! a method the route does not have, a handler that panicked, and a last net that gives
//! any other error response without a body of ours the JSON body of
//! [`AppError::for_status`]. What hyper refuses before any service runs (a request head
//! it cannot parse or that is over its limits) never reaches this: see `server/README.md`.

use std::any::Any;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use super::AppState;
use crate::error::{has_our_body, AppError};

/// `routes` (all of them: call it after the last `route` and `merge`) with the contract:
/// the 404 and 405 fallbacks, panics caught, and [`json_errors`] over everything.
pub fn speak_json(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            json_errors,
        ))
}

/// Unknown routes: 404 `not_found`.
pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// A known route with another method: 405 `method_not_allowed` (axum adds `Allow`).
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

/// A handler panicked: 500 `internal`. The panic's message is not logged (it may quote
/// case content); the panic itself is already printed by the panic hook.
pub fn panicked(_: Box<dyn Any + Send + 'static>) -> Response {
    AppError::Internal("a request handler panicked".into()).into_response()
}

/// Middleware over every route: an error status (4xx, 5xx) whose body is not ours
/// (axum's plain-text rejections, an empty body) gets the JSON body of
/// [`AppError::for_status`], same status; `Allow` is kept.
pub async fn json_errors(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || has_our_body(&resp) {
        return resp;
    }
    let allow: Option<HeaderValue> = resp.headers().get(header::ALLOW).cloned();
    let mut out = AppError::for_status(status, st.settings.max_body_bytes).into_response();
    *out.status_mut() = status;
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}
