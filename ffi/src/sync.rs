//! Sync over HTTP, driven by the core's sans-IO [`SyncSession`]: request bytes out,
//! response bytes in, one page committed at a time.
//!
//! The loop: `next_request` → `POST {server}/v1/sync` → `handle_response`, until the
//! core says `Done` (or `Wiped`: the server revoked this device and the core erased the
//! store). A dropped link abandons the request and retries it with exponential backoff,
//! a bounded number of times; the retry resumes from the last committed page. An
//! expired access token is refreshed once and the round trip repeated. Cancellation is
//! checked between pages and during backoff; every committed page stays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use casesync_core::protocol::Refusal;
use casesync_core::sync::{Step, SyncSession};

use crate::error::CasesyncError;
use crate::observe::ChangeOrigin;
use crate::session;
use crate::store::{lock, now_ms, revoked, CaseStore};

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
    pub pages: u32,
    /// Cases received (changes or whole cases).
    pub docs_received: u64,
    /// Cases whose edits the server acknowledged.
    pub docs_pushed: u64,
    /// Cases removed from this phone (reassigned away, erased).
    pub docs_removed: u64,
    /// Bytes sent.
    pub bytes_up: u64,
    /// Bytes received.
    pub bytes_down: u64,
    /// The server's estimate of cases still to come.
    pub remaining_estimate: u64,
    /// Round trips retried after the link dropped.
    pub retries: u32,
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
    SyncProgress {
        pages: s.pages,
        docs_received: s.docs_received,
        docs_pushed: s.docs_pushed,
        docs_removed: s.docs_removed,
        bytes_up: s.bytes_up,
        bytes_down: s.bytes_down,
        remaining_estimate: s.remaining_estimate,
        retries,
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
    /// The sync loop of [`CaseStore::sync`] (the caller holds `syncing`).
    fn sync_pages(
        &self,
        handle: &SyncHandle,
        observer: &dyn SyncObserver,
    ) -> Result<SyncReport, CasesyncError> {
        let cfg = self.transport_settings();
        let http = cfg.http()?;
        let mut session = self.current_session()?;
        let url = session::url(&session.server_url, "v1/sync");
        let mut sync = SyncSession::new(&self.store, &self.device_id, cfg.page_bytes)?;
        let mut retries = 0u32;
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            if handle.is_cancelled() {
                return Err(CasesyncError::cancelled());
            }
            if !refreshed && session.access_expires_at_ms <= now_ms() + EXPIRY_MARGIN_MS {
                tracing::debug!(target: "casesync::sync", "access token expiring: refresh");
                session = self.refresh_session(Some(handle))?;
                refreshed = true;
            }
            let request = sync.next_request()?;
            match http.post_sync(&url, session.access_token.expose(), &request) {
                Ok(bytes) => {
                    let step = sync.handle_response(&bytes)?;
                    attempt = 0;
                    refreshed = false;
                    if step != Step::Wiped {
                        let page = sync.last_page().clone();
                        tracing::debug!(
                            target: "casesync::sync",
                            changed = page.changed.len(),
                            removed = page.removed.len(),
                            bytes = bytes.len(),
                            "page saved"
                        );
                        self.listeners
                            .notify(ChangeOrigin::Sync, page.changed, page.removed);
                    }
                    observer.on_progress(progress(sync.progress(), retries));
                    match step {
                        Step::Continue => {}
                        Step::Done => {
                            let p = sync.progress();
                            return Ok(SyncReport {
                                progress: progress(p, retries),
                                changed: p.changed_ids.iter().cloned().collect(),
                                removed: p.removed_ids.iter().cloned().collect(),
                                refused: p.refused.clone(),
                            });
                        }
                        Step::Wiped => {
                            tracing::warn!(
                                target: "casesync::sync",
                                "the server revoked this device: local data erased"
                            );
                            *lock(&self.session) = None;
                            let report = sync.progress().wiped.unwrap_or_default();
                            self.wiped(report);
                            return Err(revoked(report));
                        }
                    }
                }
                Err(e) => {
                    if e.is_lost_answer() {
                        sync.abandon_request();
                    } else {
                        sync.forget_request();
                    }
                    if e.is_expired_token() && !refreshed {
                        tracing::debug!(target: "casesync::sync", "access token expired: refresh");
                        session = self.refresh_session(Some(handle))?;
                        refreshed = true;
                    } else if e.is_retryable() && attempt < cfg.max_retries {
                        attempt += 1;
                        retries += 1;
                        let backoff = cfg.backoff(attempt);
                        tracing::warn!(
                            target: "casesync::sync",
                            attempt,
                            backoff_ms = backoff.as_millis() as u64,
                            "round trip failed: retrying"
                        );
                        wait(backoff, handle)?;
                    } else {
                        return Err(self.server_error(e));
                    }
                }
            }
        }
    }
}
