//! Sync over HTTP: the core's one sync loop (`casesync_core::sync::driver::run`: retries
//! with jittered back-off, lost answers resent with a smaller page, a token refreshed once,
//! cancellation between pages and during waits) over this phone's transport (`Phone`:
//! `POST {server}/v1/sync`, the session's token, a cancel seen between two reads of an
//! answer still arriving) and the app's side (`Screen`: the
//! `SyncHandle`'s cancel, progress to the `SyncObserver`, page changes to the listeners).
//! When the server revoked the device, the core erased the store; this reports it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use casesync_core::protocol::Refusal;
use casesync_core::sync::driver::{self, Control, Failure, RunError, Transport};
use casesync_core::sync::{Step, SyncSession};

use crate::error::CasesyncError;
use crate::observe::ChangeOrigin;
use crate::session::{self, Session};
use crate::store::{lock, now_ms, revoked, CaseStore};
use crate::transport::{Http, TransportError};

/// Refresh the access token when it expires within this margin.
const EXPIRY_MARGIN_MS: i64 = 30_000;

/// Cancels a running sync from another thread (`cancel()`); the sync stops before its
/// next page with `Cancelled`, keeping every page already saved.
#[derive(Debug, Default, uniffi::Object)]
pub struct SyncHandle {
    cancelled: AtomicBool,
}

#[uniffi::export]
impl SyncHandle {
    /// A new handle, not cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(SyncHandle::default())
    }

    /// Asks the sync to stop (checked between pages).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Receives sync progress (called on the syncing thread after each page).
#[uniffi::export(callback_interface)]
pub trait SyncObserver: Send + Sync {
    /// A page was saved.
    fn on_progress(&self, progress: SyncProgress);
}

/// How far a sync got (for a progress bar).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// Response pages saved.
    pub pages: i32,
    /// Cases received (changes or whole cases).
    pub docs_received: i64,
    /// Cases whose edits the server acknowledged.
    pub docs_pushed: i64,
    /// Cases removed from this phone (reassigned away, erased).
    pub docs_removed: i64,
    /// Bytes sent.
    pub bytes_up: i64,
    /// Bytes received.
    pub bytes_down: i64,
    /// The server's estimate of cases still to come.
    pub remaining_estimate: i64,
    /// Round trips retried after the link dropped.
    pub retries: i32,
}

/// The outcome of a finished sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Final progress figures.
    pub progress: SyncProgress,
    /// Cases the sync received and saved (new or changed, still on the phone), sorted.
    pub changed: Vec<String>,
    /// Cases the sync removed from the phone (reassigned away, erased), sorted.
    pub removed: Vec<String>,
    /// Cases whose edits the server refused, with reasons (nothing else was lost).
    pub refused: Vec<Refusal>,
}

fn progress(s: &casesync_core::sync::SyncProgress, retries: u32) -> SyncProgress {
    // Counts as Kotlin Int/Long: every one fits (saturating, never wrapping, if not).
    let long = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    SyncProgress {
        pages: int(s.pages),
        docs_received: long(s.docs_received),
        docs_pushed: long(s.docs_pushed),
        docs_removed: long(s.docs_removed),
        bytes_up: long(s.bytes_up),
        bytes_down: long(s.bytes_down),
        remaining_estimate: long(s.remaining_estimate),
        retries: int(retries),
    }
}

/// Sleeps `d`, waking early (with `Cancelled`) when the handle is cancelled.
pub(crate) fn wait(d: Duration, handle: &SyncHandle) -> Result<(), CasesyncError> {
    let end = Instant::now() + d;
    loop {
        if handle.is_cancelled() {
            return Err(CasesyncError::cancelled());
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

#[uniffi::export]
impl CaseStore {
    /// Syncs with the server: sends this phone's edits and receives everything new in
    /// the user's scope, page by page, reporting progress to `observer`. Blocking: call
    /// it from a background thread (Kotlin: the `syncSuspend` extension). One sync runs
    /// at a time. Errors: `Network` (after the retries), `Unauthorized` (log in again;
    /// edits stay on the phone), `DeviceRevoked` (an administrator revoked the phone:
    /// local data erased, unsent changes counted, see `last_wipe`), `Cancelled`, `Busy`
    /// (another sync is running), `Insecure` (`http://` without the opt-in, an
    /// untrusted certificate).
    pub fn sync(
        &self,
        handle: Arc<SyncHandle>,
        observer: Box<dyn SyncObserver>,
    ) -> Result<SyncReport, CasesyncError> {
        let _running = self.syncing.try_lock().map_err(|_| {
            tracing::info!(target: "casesync::sync", "a sync is already running");
            CasesyncError::busy()
        })?;
        let started = Instant::now();
        let result = self.sync_pages(&handle, observer.as_ref());
        let secs = format!("{:.2}", started.elapsed().as_secs_f64());
        match &result {
            Ok(r) => tracing::info!(
                target: "casesync::sync",
                pages = r.progress.pages,
                received = r.progress.docs_received,
                pushed = r.progress.docs_pushed,
                removed = r.progress.docs_removed,
                refused = r.refused.len(),
                bytes_up = r.progress.bytes_up,
                bytes_down = r.progress.bytes_down,
                retries = r.progress.retries,
                secs = secs.as_str(),
                "sync finished"
            ),
            Err(e) => tracing::warn!(
                target: "casesync::sync",
                code = e.code(),
                secs = secs.as_str(),
                "sync failed"
            ),
        }
        result
    }
}

impl CaseStore {
    /// Runs the core's sync loop ([`driver::run`]) over this phone's HTTP transport (the
    /// caller holds `syncing`), then turns its outcome into the app's.
    fn sync_pages(
        &self,
        handle: &SyncHandle,
        observer: &dyn SyncObserver,
    ) -> Result<SyncReport, CasesyncError> {
        let cfg = self.transport_settings();
        let session = self.current_session()?;
        let mut transport = Phone {
            store: self,
            http: cfg.http()?,
            url: session::url(&session.server_url, "v1/sync"),
            session,
            handle,
        };
        let mut control = Screen {
            store: self,
            handle,
            observer,
        };
        let mut sync = SyncSession::new(&self.store, &self.device_id, cfg.page_bytes)?;
        let finished = match driver::run(&mut sync, &mut transport, &cfg.policy(), &mut control) {
            Ok(f) => f,
            Err(RunError::Cancelled) => return Err(CasesyncError::cancelled()),
            Err(RunError::Sync(e)) => return Err(e.into()),
            Err(RunError::Transport(RoundTripError::Refresh(e))) => return Err(e),
            Err(RunError::Transport(RoundTripError::Http(e))) => return Err(self.server_error(e)),
        };
        let p = sync.progress();
        if finished.step == Step::Wiped {
            tracing::warn!(
                target: "casesync::sync",
                "the server revoked this device: local data erased"
            );
            *lock(&self.session) = None;
            let report = p.wiped.unwrap_or_default();
            self.wiped(report);
            return Err(revoked(report));
        }
        Ok(SyncReport {
            progress: progress(p, finished.retries),
            changed: p.changed_ids.iter().cloned().collect(),
            removed: p.removed_ids.iter().cloned().collect(),
            refused: p.refused.clone(),
        })
    }
}

/// Why a round trip failed: the HTTP exchange, or the token refresh before it.
enum RoundTripError {
    Http(TransportError),
    Refresh(CasesyncError),
}

/// The phone's side of the core's loop: `POST /v1/sync` with the session's token.
struct Phone<'a> {
    store: &'a CaseStore,
    http: Http,
    url: String,
    session: Session,
    handle: &'a SyncHandle,
}

impl Transport for Phone<'_> {
    type Error = RoundTripError;

    fn post(&mut self, request: &[u8]) -> Result<Vec<u8>, RoundTripError> {
        let handle = self.handle;
        self.http
            .post_sync(
                &self.url,
                self.session.access_token.expose(),
                request,
                &|| handle.is_cancelled(),
            )
            .map_err(RoundTripError::Http)
    }

    fn failure(&self, e: &RoundTripError) -> Failure {
        match e {
            RoundTripError::Http(e) if e.is_expired_token() => Failure::TokenExpired,
            RoundTripError::Http(e) if e.is_lost_answer() => Failure::Lost,
            RoundTripError::Http(e) if e.is_retryable() => Failure::Unavailable,
            _ => Failure::Final,
        }
    }

    fn token_expiring(&self) -> bool {
        self.session.access_expires_at_ms <= now_ms() + EXPIRY_MARGIN_MS
    }

    fn refresh(&mut self) -> Result<(), RoundTripError> {
        tracing::debug!(target: "casesync::sync", "access token expiring or expired: refresh");
        self.session = self
            .store
            .refresh_session(Some(self.handle))
            .map_err(RoundTripError::Refresh)?;
        Ok(())
    }
}

/// The app's side: the handle's cancel, progress to the observer, changes to listeners.
struct Screen<'a> {
    store: &'a CaseStore,
    handle: &'a SyncHandle,
    observer: &'a dyn SyncObserver,
}

impl Control for Screen<'_> {
    fn cancelled(&self) -> bool {
        self.handle.is_cancelled()
    }

    fn wait(&mut self, d: Duration) -> bool {
        wait(d, self.handle).is_ok()
    }

    fn page_saved(&mut self, session: &SyncSession<'_>, retries: u32) {
        let page = session.last_page().clone();
        tracing::debug!(
            target: "casesync::sync",
            changed = page.changed.len(),
            removed = page.removed.len(),
            "page saved"
        );
        self.store
            .listeners
            .notify(ChangeOrigin::Sync, page.changed, page.removed);
        self.observer
            .on_progress(progress(session.progress(), retries));
    }

    fn retrying(&mut self, attempt: u32, wait: Duration) {
        tracing::warn!(
            target: "casesync::sync",
            attempt,
            wait_ms = wait.as_millis() as u64,
            "round trip failed: retrying"
        );
    }
}
