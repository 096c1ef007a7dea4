//! Time limits on every request body: [`body_timeouts`] wraps each request's body so
//! that it fails when no bytes arrive for `inactivity_timeout` (a slow upload that keeps
//! sending lives on) or when reading it takes longer than `body_timeout` in total, and
//! answers such a request 408 `request_timeout` (JSON, `Connection: close`) whatever the
//! route made of the failed read (a JSON or form rejection, the dashboard's page).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::AppState;
use crate::error::AppError;

/// The error a body read gets when the client stopped sending or took too long.
#[derive(Debug, thiserror::Error)]
#[error("request body timed out")]
pub struct BodyTimeout;

/// Whether `e` (or what caused it) is a [`BodyTimeout`].
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTimeout>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// A body that fails with [`BodyTimeout`] after `idle` without a frame or at `deadline`.
struct TimeoutBody {
    inner: Body,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
    done: bool,
}

impl http_body::Body for TimeoutBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = Instant::now() + this.idle;
                this.idle_timer.as_mut().reset(next);
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        let late = this.deadline.as_mut().poll(cx).is_ready();
        if late || this.idle_timer.as_mut().poll(cx).is_ready() {
            this.done = true;
            this.timed_out.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware over every route: the request's body gets the inactivity timeout and the
/// total `body_timeout` (both counted from when the request head was read); a request
/// whose body timed out is answered 408 `request_timeout`.
pub async fn body_timeouts(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let idle = st.settings.inactivity_timeout;
    let now = Instant::now();
    let timed_out = Arc::new(AtomicBool::new(false));
    let flag = timed_out.clone();
    let req = req.map(move |inner| {
        Body::new(TimeoutBody {
            inner,
            idle,
            idle_timer: Box::pin(tokio::time::sleep_until(now + idle)),
            deadline: Box::pin(tokio::time::sleep_until(now + st.settings.body_timeout)),
            timed_out: flag,
            done: false,
        })
    });
    let resp = next.run(req).await;
    if timed_out.load(Ordering::Acquire) {
        tracing::debug!("request body timed out");
        return AppError::Timeout.into_response();
    }
    resp
}
