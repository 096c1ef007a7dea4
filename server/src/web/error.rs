//! [`WebError`]: how a dashboard request fails. Handlers return it; the dashboard's
//! middleware renders the page in the request's language (see `decorate` in `web.rs`).

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::i18n::{Lang, Tr};
use crate::error::AppError;
use crate::store::StoreError;

/// Every way a dashboard request fails.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in (or the session ended): 303 to the login page.
    #[error("sign in first")]
    Login,
    /// The role or scope does not allow this (403).
    #[error("forbidden")]
    Forbidden,
    /// Unknown, erased or out of scope (404).
    #[error("not found")]
    NotFound,
    /// A POST without this session's CSRF token, or from another origin (403).
    #[error("CSRF check failed")]
    Csrf,
    /// Malformed parameters (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A case change was refused by the case rules or the sync engine (409); the reason
    /// is shown.
    #[error("refused: {0}")]
    Refused(String),
    /// A server failure (500); the detail is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

/// What the middleware renders as the body of an error response.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    /// Message key.
    pub key: &'static str,
    /// Detail shown under the message (already safe to show: no personal data).
    pub detail: Option<String>,
}

impl ErrorPage {
    /// The page for an error response without a body of ours (axum's plain-text
    /// rejections: a malformed query or form, a body over the limit).
    pub(crate) fn for_bare(resp: &Response) -> Option<ErrorPage> {
        let status = resp.status();
        if !(status.is_client_error() || status.is_server_error())
            || crate::error::has_our_body(resp)
        {
            return None;
        }
        let key = match status {
            StatusCode::NOT_FOUND => "error-not-found",
            StatusCode::FORBIDDEN => "error-forbidden",
            s if s.is_server_error() => "error-internal",
            _ => "error-bad-request",
        };
        Some(ErrorPage { key, detail: None })
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, key, detail) = match self {
            WebError::Login => {
                return (
                    StatusCode::SEE_OTHER,
                    [
                        (header::LOCATION, "/login"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                )
                    .into_response()
            }
            WebError::Forbidden => (StatusCode::FORBIDDEN, "error-forbidden", None),
            WebError::NotFound => (StatusCode::NOT_FOUND, "error-not-found", None),
            WebError::Csrf => (StatusCode::FORBIDDEN, "error-csrf", None),
            WebError::BadRequest(d) => (StatusCode::BAD_REQUEST, "error-bad-request", Some(d)),
            WebError::Refused(d) => (StatusCode::CONFLICT, "error-refused", Some(d)),
            WebError::Internal(d) => {
                tracing::error!(error = %d, "dashboard request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "error-internal", None)
            }
        };
        let mut resp = status.into_response();
        resp.extensions_mut().insert(ErrorPage { key, detail });
        resp
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<tokio::task::JoinError> for WebError {
    fn from(e: tokio::task::JoinError) -> Self {
        WebError::Internal(format!("worker task failed: {e}"))
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::Internal(format!("template: {e}"))
    }
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => WebError::NotFound,
            AppError::Forbidden(_) => WebError::Forbidden,
            AppError::Internal(d) => WebError::Internal(d),
            other => WebError::BadRequest(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView<'a> {
    t: Tr,
    message: String,
    detail: Option<&'a str>,
}

/// The error page for `page` in `lang`.
pub(crate) fn render(page: &ErrorPage, lang: Lang) -> Response {
    let t = Tr::new(lang);
    let view = ErrorView {
        t,
        message: t.get(page.key),
        detail: page.detail.as_deref(),
    };
    match view.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            "error".into_response()
        }
    }
}
