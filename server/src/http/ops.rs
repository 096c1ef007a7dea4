//! Health, metrics and request accounting.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// `GET /healthz`: `200 ok`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let day_ago = crate::now_ms() - 24 * 3600 * 1000;
    if let Ok(devices) = st.store.devices() {
        let active = devices
            .iter()
            .filter(|d| !d.revoked && d.last_sync_ms.is_some_and(|t| t >= day_ago))
            .count();
        metrics::gauge!("casesync_active_devices").set(active as f64);
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
