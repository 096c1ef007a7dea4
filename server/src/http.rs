//! The HTTP API (see `server/README.md` for the contract): routes and the server loop
//! with inactivity timeouts. The state the handlers share is [`crate::state`].

mod admin_routes;
mod agency_routes;
mod auth_routes;
mod cases;
pub(crate) mod contract;
pub mod extract;
pub mod limits;
mod ops;
mod sync_route;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::state::AppState;

/// The application's routes. Every error answer is an [`crate::error::AppError`] (JSON
/// `{code, message}`), including axum's own (unknown route, wrong method, rejections) and
/// a panicking handler's; the dashboard renders its refusals as HTML pages.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let routes = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics_with_token))
        .route("/v1/auth/login", post(auth_routes::login))
        .route("/v1/auth/refresh", post(auth_routes::refresh))
        .route("/v1/auth/password", post(admin_routes::change_password))
        .route(
            "/v1/admin/users",
            get(admin_routes::list_users).post(admin_routes::create_user),
        )
        .route("/v1/admin/import/users", post(admin_routes::import_users))
        .route("/v1/admin/users/{id}", post(admin_routes::edit_user))
        .route(
            "/v1/admin/users/{id}/password",
            post(admin_routes::reset_password),
        )
        .route("/v1/admin/devices", get(admin_routes::list_devices))
        .route("/v1/admin/districts", get(admin_routes::list_districts))
        .route(
            "/v1/admin/devices/{id}/revoke",
            post(admin_routes::revoke_device),
        )
        .route(
            "/v1/admin/devices/{id}/unrevoke",
            post(admin_routes::unrevoke_device),
        )
        .route("/v1/agencies", get(agency_routes::directory))
        .route("/v1/agency/referrals", get(agency_routes::referrals))
        .route(
            "/v1/agency/referrals/{case}/{referral}",
            post(agency_routes::answer),
        )
        .route(
            "/v1/admin/agencies",
            get(agency_routes::list).post(agency_routes::put),
        )
        .route("/v1/sync", post(sync_route::sync))
        .route("/v1/cases", post(cases::create))
        .route("/v1/cases/import", post(cases::import))
        .route("/v1/cases/import/csv", post(cases::import_csv))
        .route("/v1/cases/{id}", get(cases::get_case))
        .route("/v1/cases/{id}/history", get(cases::history))
        .route("/v1/cases/{id}/erase", post(cases::erase))
        .merge(crate::web::router(&state));
    contract::speak_json(routes, &state)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::body_timeouts,
        ))
        .layer(axum::middleware::from_fn(ops::track))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves `router` on `listener` until the process ends (see [`serve_until`]).
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, std::future::pending())
        .await
        .map(|_| ())
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting,
/// lets every open connection finish the request it is in (idle keep-alive connections
/// are closed) for at most `settings.shutdown_grace`, and returns whether all finished in
/// time. At most `settings.max_connections` connections are served at once: while all
/// are in use no further connection is accepted (they wait in the listen backlog). Each
/// connection has a header read timeout of `settings.inactivity_timeout`, which also
/// closes a connection idle that long between requests; every body is read with the same
/// inactivity timeout and the total `settings.body_timeout` ([`limits`]). Also runs
/// background compaction.
pub async fn serve_until(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<bool> {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;
    use tower::Service;

    spawn_compactor(state.clone());
    let idle = state.settings.inactivity_timeout;
    let grace = state.settings.shutdown_grace;
    let slots = Arc::new(tokio::sync::Semaphore::new(
        state.settings.max_connections.max(1),
    ));
    let graceful = GracefulShutdown::new();
    let mut make = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            s = slots.clone().acquire_owned() => s,
        };
        let Ok(slot) = slot else {
            // Never closed; were it, serving would be over.
            break;
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(svc) = make.call(peer).await;
        metrics::gauge!("casesync_open_connections").increment(1.0);
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(idle)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            metrics::gauge!("casesync_open_connections").decrement(1.0);
        });
    }
    drop(listener);
    let open = graceful.count();
    tracing::info!(connections = open, "stopped accepting");
    Ok(tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_ok())
}

/// Serves only `GET /metrics`, without a token, on a private listener
/// (`--metrics-listen`), until `stop` turns true.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(ops::metrics))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}

/// Re-saves documents with long change tails in the background.
fn spawn_compactor(state: AppState) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(state.settings.compact_interval).await;
            // No writer lock: syncs go on while documents are re-saved (see
            // `SyncEngine::compact`).
            let engine = state.engine.clone();
            let min = state.settings.compact_after_changes;
            let r = tokio::task::spawn_blocking(move || {
                engine.compact_paced(min, crate::config::COMPACT_REST_FACTOR)
            })
            .await;
            match r {
                Ok(Ok(n)) if n > 0 => tracing::info!(docs = n, "compacted"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "compaction failed"),
                Err(e) => tracing::warn!(error = %e, "compaction task failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests;
