//! Health, metrics and request accounting.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::AppError;

/// `GET /healthz`: `200 ok` while the process serves HTTP (liveness: restart it if not).
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: `200 ready` when the store answers a read (readiness: send it
/// traffic), else 503 `unavailable`, the store's error logged (never sent).
pub async fn readyz(State(st): State<AppState>) -> Result<&'static str, AppError> {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.last_seq()).await {
        Ok(Ok(_)) => Ok("ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the store does not answer");
            Err(AppError::Unavailable("the store does not answer"))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the check failed");
            Err(AppError::Unavailable("the readiness check failed"))
        }
    }
}

/// `GET /metrics` on the main listener: needs `Authorization: Bearer <metrics token>`
/// (`--metrics-token`); without a configured token it is not served there (404).
pub async fn metrics_with_token(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, AppError> {
    let Some(want) = st.settings.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    let given = super::extract::bearer_token(&headers)?;
    if !crate::auth::same_secret(given, want.trim()) {
        return Err(AppError::InvalidToken);
    }
    Ok(metrics(State(st)).await)
}

/// `GET /metrics`: Prometheus text (the private `--metrics-listen` address serves it
/// as is; the main listener through [`metrics_with_token`]).
pub async fn metrics(State(st): State<AppState>) -> Response {
    let day_ago = crate::now_ms() - 24 * 3600 * 1000;
    if let Ok(devices) = st.store.devices() {
        let active = devices
            .iter()
            .filter(|d| !d.revoked && d.last_sync_ms.is_some_and(|t| t >= day_ago))
            .count();
        metrics::gauge!("casesync_active_devices").set(active as f64);
    }
    for (op, label) in crate::store::seal::clock::OPS {
        let (ns, n) = crate::store::seal::clock::total(op);
        metrics::gauge!("casesync_sealing_seconds_total", "op" => label).set(ns as f64 / 1e9);
        metrics::gauge!("casesync_sealing_ops_total", "op" => label).set(n as f64);
    }
    let body = st.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// Counts requests by route and status, and times them.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("casesync_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("casesync_http_request_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
