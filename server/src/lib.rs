#![doc = include_str!("../README.md")]

pub mod admin;
pub mod agencies;
pub mod auth;
pub mod backup;
pub mod case_import;
pub mod client_ip;
pub mod config;
pub mod demo;
pub mod error;
pub mod history;
pub mod http;
pub mod state;
pub mod store;
pub mod sync;
pub mod web;

/// Now, ms since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub use http::{router, serve, serve_metrics, serve_until};
pub use state::AppState;

/// The process-wide Prometheus recorder, installed at first call (`None` if another
/// recorder was installed first).
pub fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .ok()
        })
        .clone()
}
