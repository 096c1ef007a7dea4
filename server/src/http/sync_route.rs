//! `POST /v1/sync`: one round trip of the sync protocol.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use casesync_core::protocol::{decode_request, encode_response, SyncResponse, CONTENT_TYPE};

use super::extract::{read_body, AuthUser};
use super::AppState;
use crate::error::AppError;
use crate::sync::{Cursor, Pushed, SyncError};

fn encoded(resp: &SyncResponse) -> Response {
    let bytes = encode_response(resp);
    metrics::counter!("casesync_sync_bytes_out_total").increment(bytes.len() as u64);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], bytes).into_response()
}

/// `POST /v1/sync`.
pub async fn sync(
    State(st): State<AppState>,
    AuthUser(who): AuthUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let start = Instant::now();
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ctype.split(';').next().map(str::trim) != Some(CONTENT_TYPE) {
        return Err(AppError::UnsupportedMediaType(CONTENT_TYPE));
    }
    if who.revoked {
        tracing::info!(device = %who.device_id, "revoked device told to wipe");
        return Ok(encoded(&SyncResponse::wipe()));
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
    let req = decode_request(&bytes)?;
    if req.device_id != who.device_id {
        return Err(AppError::DeviceMismatch);
    }
    let cursor = Cursor::decode(&req.cursor).map_err(SyncError::from)?;
    // Only the commits of the pushes hold the writer lock (so sequence numbers are
    // committed in order); validating and applying the pushes, the flush and the pull
    // run outside it, see `SyncEngine::push_all_locking` and `SyncEngine::respond`. The
    // lock is taken on the blocking thread that does the work: handing a held lock from
    // an async task over to a blocking thread kept it idle for a thread wake-up per push.
    let writer = (!req.push.is_empty()).then(|| st.writer.clone());
    let engine = st.engine.clone();
    let user = who.user.clone();
    let device = who.device_id.clone();
    let waited = Instant::now();
    let turn = st.engine.sync_turn().await;
    metrics::histogram!("casesync_sync_phase_seconds", "phase" => "turn_wait")
        .record(waited.elapsed().as_secs_f64());
    let handed = Instant::now();
    let (resp, stats, wire) = tokio::task::spawn_blocking(move || {
        metrics::histogram!("casesync_sync_phase_seconds", "phase" => "thread_wait")
            .record(handed.elapsed().as_secs_f64());
        let _turn = turn;
        let pushed = match writer {
            Some(w) => engine.push_all_locking(&user, &device, &req, &w)?,
            None => Pushed::default(),
        };
        let out = engine.respond(&user, &req, cursor, pushed)?;
        engine.note_sync(&device, crate::now_ms())?;
        Ok::<_, AppError>(out)
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
