//! `POST /v1/sync`: one round trip of the sync protocol.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use casesync_core::case::Role;
use casesync_core::protocol::CONTENT_TYPE;

use super::extract::{read_body, AuthUser};
use super::AppState;
use crate::error::AppError;
use crate::sync::Handled;

/// `POST /v1/sync`.
pub async fn sync(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let start = Instant::now();
    if who.user.role == Role::Agency && !who.revoked {
        // An agency's staff hold no cases (they answer referrals through
        // `/v1/agency/referrals`): nothing to pull, nothing they may push.
        return Err(AppError::Forbidden("agency staff do not sync cases"));
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.split(';').next().map(str::trim) != Some(CONTENT_TYPE) {
        return Err(AppError::UnsupportedMediaType(CONTENT_TYPE));
    }
    let max = st.settings.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(AppError::PayloadTooLarge(max));
    }
    let bytes = read_body(body, max, st.settings.inactivity_timeout).await?;
    metrics::counter!("casesync_sync_bytes_in_total").increment(bytes.len() as u64);
    // One door: `SyncEngine::handle` decodes, pushes (validation outside the writer
    // lock, commits under it, which it takes on the blocking thread that does the work:
    // handing a held lock from an async task over to a blocking thread kept it idle for
    // a thread wake-up per push), flushes and pulls.
    let engine = st.engine.clone();
    let waited = Instant::now();
    let turn = st.engine.sync_turn().await;
    metrics::histogram!("casesync_sync_phase_seconds", "phase" => "turn_wait")
        .record(waited.elapsed().as_secs_f64());
    let handed = Instant::now();
    let auth = who.clone();
    let Handled {
        wire,
        response: resp,
        stats,
    } = tokio::task::spawn_blocking(move || {
        metrics::histogram!("casesync_sync_phase_seconds", "phase" => "thread_wait")
            .record(handed.elapsed().as_secs_f64());
        let _turn = turn;
        engine.handle(&auth, &bytes)
    })
    .await??;
    metrics::counter!("casesync_pushes_accepted_total").increment(stats.accepted as u64);
    metrics::counter!("casesync_pushes_refused_total").increment(stats.refused as u64);
    metrics::histogram!("casesync_sync_seconds").record(start.elapsed().as_secs_f64());
    tracing::info!(
        user = %who.user.user_id,
        device = %who.device_id,
        accepted = stats.accepted,
        refused = stats.refused,
        docs = stats.docs,
        removed = stats.removed,
        more = resp.more,
        "sync"
    );
    metrics::counter!("casesync_sync_bytes_out_total").increment(wire.len() as u64);
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], wire).into_response())
}
