//! [`CaseStore`]: one device's encrypted case store, the case editing API and the login
//! state. Every method delegates to `casesync-core`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use casesync_core::case::{
    self as core, Case, CaseDoc, Conflict, EditCtx, Evaluation, ExtraValue, HistoryEntry, NewCase,
    Stage,
};
use casesync_core::messages::Code;
use casesync_core::report::{self, FollowUp};
use casesync_core::store::{DeviceStore, Discarded, Listing, RefusedCase, WipeReport};

use chrono::NaiveDate;

use crate::error::CasesyncError;
use crate::inputs::*;
use crate::observe::{ChangeOrigin, Listeners};
use crate::session::{self, Session, TransportConfig};
use crate::transport::TransportError;

/// Locks `m`, carrying on after a panic elsewhere (the data it guards stays valid:
/// every store write is one atomic batch).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Now, ms since the Unix epoch (the core has no clock: the FFI supplies it).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The case store of this device: cases encrypted at rest under the app's key, the
/// editing API of the case-management process, login and sync.
///
/// Thread-safe: every store write (a local edit, a sync page being applied, a wipe) is
/// serialised, so a page never interleaves with an edit of the same case. Call it from
/// a background thread (or use the `suspend` wrappers): calls touch the disk and
/// `login`/`refresh`/`sync` the network.
#[derive(uniffi::Object)]
pub struct CaseStore {
    pub(crate) store: DeviceStore,
    pub(crate) device_id: String,
    pub(crate) session: Mutex<Option<Session>>,
    pub(crate) transport: Mutex<TransportConfig>,
    /// Held while a sync runs (one at a time).
    pub(crate) syncing: Mutex<()>,
    /// What the last wipe of this store (since it was opened) destroyed unsent.
    pub(crate) last_wipe: Mutex<Option<WipeReport>>,
    /// The cases prepared for duplicate matching (`dedup.rs`).
    pub(crate) dedup: Mutex<crate::dedup::DedupCache>,
    /// Told after every saved change (`observe.rs`).
    pub(crate) listeners: Arc<Listeners>,
}

impl std::fmt::Debug for CaseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseStore")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl CaseStore {
    /// Who is editing now, from the session.
    fn ctx(&self) -> Result<EditCtx, CasesyncError> {
        let s = self.current_session()?;
        Ok(EditCtx::new(s.user_id, s.role, now_ms()))
    }

    pub(crate) fn current_session(&self) -> Result<Session, CasesyncError> {
        lock(&self.session)
            .clone()
            .ok_or_else(CasesyncError::not_logged_in)
    }

    pub(crate) fn transport_settings(&self) -> TransportConfig {
        lock(&self.transport).clone()
    }

    /// Loads a case, signs with this device's actor, runs `f`, saves: all under the
    /// store's case lock ([`DeviceStore::edit`]); then tells the listeners.
    fn edit<R>(
        &self,
        case_id: &str,
        f: impl FnOnce(&mut CaseDoc, &EditCtx) -> Result<R, core::CaseError>,
    ) -> Result<R, CasesyncError> {
        let ctx = self.ctx()?;
        let r = self.store.edit(case_id, &self.device_id, &ctx, f)?;
        lock(&self.dedup).forget(case_id);
        self.listeners.edited(case_id);
        Ok(r)
    }

    /// Turns a failed server exchange into the app's error. When the server says this
    /// device is revoked (an administrator's revoke: lost or stolen phone), the local
    /// data is erased first (DESIGN §5: a lost phone is told at its next contact to
    /// wipe), and the error says how much unsent work that destroyed. A reused refresh
    /// token is not a revocation: it asks for the password and erases nothing.
    pub(crate) fn server_error(&self, e: TransportError) -> CasesyncError {
        let e = CasesyncError::from(e);
        if matches!(e, CasesyncError::DeviceRevoked { .. }) {
            return match self.erase_revoked() {
                Ok(report) => revoked(report),
                Err(wipe) => wipe,
            };
        }
        e
    }

    /// Erases the store and forgets the session (a revoked device); returns what was
    /// destroyed unsent (also kept for `last_wipe`).
    pub(crate) fn erase_revoked(&self) -> Result<WipeReport, CasesyncError> {
        *lock(&self.session) = None;
        let report = self.store.wipe()?;
        self.wiped(report);
        Ok(report)
    }

    /// Records a wipe for `last_wipe` and tells the listeners. (Called without the
    /// store lock.)
    pub(crate) fn wiped(&self, report: WipeReport) {
        *lock(&self.last_wipe) = Some(report);
        self.listeners
            .notify(ChangeOrigin::Wipe, Vec::new(), Vec::new());
    }

    /// Refreshes the session's tokens and keeps the new ones. A dropped link is retried
    /// with the SAME refresh token (the server answers a retry within its grace window
    /// with the same successor), with the sync backoff, up to `max_retries` times;
    /// `cancel` stops the waits.
    pub(crate) fn refresh_session(
        &self,
        cancel: Option<&crate::sync::SyncHandle>,
    ) -> Result<Session, CasesyncError> {
        let old = self.current_session()?;
        let cfg = self.transport_settings();
        let http = cfg.http()?;
        let mut attempt = 0u32;
        let new = loop {
            match session::refresh(&http, &old, &self.device_id, now_ms()) {
                Ok(new) => break new,
                Err(e) if e.is_retryable() && attempt < cfg.max_retries => {
                    attempt += 1;
                    let pause = cfg.policy().backoff(attempt, &mut rand::thread_rng());
                    match cancel {
                        Some(h) => crate::sync::wait(pause, h)?,
                        None => std::thread::sleep(pause),
                    }
                }
                Err(e) => return Err(self.server_error(e)),
            }
        };
        *lock(&self.session) = Some(new.clone());
        Ok(new)
    }
}

/// The error of a revoked device whose wipe destroyed `report`.
pub(crate) fn revoked(report: WipeReport) -> CasesyncError {
    CasesyncError::device_revoked(report.unsent_cases, report.unsent_changes)
}

#[uniffi::export]
impl CaseStore {
    /// Opens (or creates) the store in directory `path` with the app's 32-byte `key`
    /// (from the Android Keystore), for this installation's `device_id`. A wrong key is
    /// `WrongKey` and changes nothing on disk.
    #[uniffi::constructor]
    pub fn open(path: String, key: Vec<u8>, device_id: String) -> Result<Arc<Self>, CasesyncError> {
        let key: [u8; 32] = key.as_slice().try_into().map_err(|_| {
            CasesyncError::invalid(Code::InputBadKey, vec![], "The store key must be 32 bytes.")
        })?;
        if device_id.trim().is_empty() {
            return Err(CasesyncError::invalid(
                Code::InputEmptyDeviceId,
                vec![],
                "The device id is empty.",
            ));
        }
        let store = DeviceStore::open(Path::new(&path), &key)?;
        Ok(Arc::new(CaseStore {
            store,
            device_id,
            session: Mutex::new(None),
            transport: Mutex::new(TransportConfig::default()),
            syncing: Mutex::new(()),
            last_wipe: Mutex::new(None),
            dedup: Mutex::default(),
            listeners: Arc::default(),
        }))
    }

    /// This installation's device id.
    pub fn device_id(&self) -> String {
        self.device_id.clone()
    }

    // ---------------------------------------------------------------- session

    /// Logs in (`POST /v1/auth/login`) and keeps the session. `Unauthorized` for a
    /// wrong password, `RateLimited` after too many attempts, `Network` offline.
    pub fn login(
        &self,
        server_url: String,
        username: String,
        password: String,
    ) -> Result<Session, CasesyncError> {
        let http = self.transport_settings().http()?;
        let s = session::login(
            &http,
            &server_url,
            &username,
            &password,
            &self.device_id,
            now_ms(),
        )
        .map_err(|e| self.server_error(e))?;
        *lock(&self.session) = Some(s.clone());
        Ok(s)
    }

    /// Exchanges the refresh token for new tokens (`POST /v1/auth/refresh`); `sync`
    /// does this by itself when the access token expired. A dropped link is retried
    /// (with the same token: the server answers it with the same new tokens).
    /// `Unauthorized` when the refresh token was spent long ago (sign in again with the
    /// password; nothing on the phone is lost). `DeviceRevoked` (after erasing local
    /// data, with the count of unsent changes destroyed) when an administrator revoked
    /// this device.
    pub fn refresh(&self) -> Result<Session, CasesyncError> {
        self.refresh_session(None)
    }

    /// What the last wipe of this store destroyed that the server never received
    /// (`None` if it was not wiped since it was opened): after `DeviceRevoked`, tell
    /// the worker how much unsent work was lost.
    pub fn last_wipe(&self) -> Option<WipeReport> {
        *lock(&self.last_wipe)
    }

    /// The current session, if logged in (persist it to survive a restart).
    pub fn session(&self) -> Option<Session> {
        lock(&self.session).clone()
    }

    /// Restores a session the app persisted (no network needed: edits work offline).
    pub fn restore_session(&self, session: Session) {
        *lock(&self.session) = Some(session);
    }

    /// Forgets the session. Case data and unsent edits stay in the store.
    pub fn logout(&self) {
        *lock(&self.session) = None;
    }

    /// The transport settings in use.
    pub fn transport_config(&self) -> TransportConfig {
        self.transport_settings()
    }

    /// Changes the transport settings (time-outs, retries, page size, `http://` opt-in,
    /// extra CAs). `Insecure` (`network.tls_setup`, settings unchanged) when an extra
    /// CA certificate is not readable PEM.
    pub fn set_transport_config(&self, config: TransportConfig) -> Result<(), CasesyncError> {
        crate::tls::parse_extra_cas(&config.extra_ca_certificates_pem)
            .map_err(|e| CasesyncError::tls_setup(e.0))?;
        *lock(&self.transport) = config;
        Ok(())
    }

    // ---------------------------------------------------------------- reading

    /// Lists cases matching `filter`, by next due date, then name.
    pub fn list_cases(&self, filter: SummaryFilter) -> Result<Listing, CasesyncError> {
        Ok(self.store.list_summaries(&filter.into())?)
    }

    /// The whole case.
    pub fn get_case(&self, case_id: String) -> Result<Case, CasesyncError> {
        Ok(self.store.load_case(&case_id)?.read()?)
    }

    /// The case as it stood at `time_ms` (ms since the Unix epoch).
    pub fn case_at(&self, case_id: String, time_ms: i64) -> Result<Case, CasesyncError> {
        Ok(self.store.load_case(&case_id)?.at(time_ms)?)
    }

    /// Fields of the case written concurrently on different phones, each value with who
    /// wrote it and when.
    pub fn conflicts(&self, case_id: String) -> Result<Vec<Conflict>, CasesyncError> {
        let mut doc = self.store.load_case(&case_id)?;
        Ok(doc.conflicts())
    }

    /// The case's audit trail: who changed what, when, in causal order.
    pub fn history(&self, case_id: String) -> Result<Vec<HistoryEntry>, CasesyncError> {
        let mut doc = self.store.load_case(&case_id)?;
        Ok(doc.history())
    }

    /// The follow-ups of `worker`'s open cases due on or before `on` + `horizon_days`
    /// (`on` is usually today), overdue first.
    pub fn due_follow_ups(
        &self,
        worker: String,
        on: NaiveDate,
        horizon_days: u32,
    ) -> Result<Vec<FollowUp>, CasesyncError> {
        Ok(report::due_on_device(
            &self.store,
            &worker,
            on,
            horizon_days,
        )?)
    }

    /// Ids of cases with edits not yet acknowledged by the server.
    pub fn unsent_cases(&self) -> Result<Vec<String>, CasesyncError> {
        Ok(self.store.outbox()?)
    }

    /// Cases whose unsent edits the server refused, with the reason. Sync does not send
    /// them again until the case is edited again, the server sends it, or `retryRefused`;
    /// the phone keeps showing the edits meanwhile (`discardRefused` drops them).
    pub fn refused_changes(&self) -> Result<Vec<RefusedCase>, CasesyncError> {
        Ok(self.store.refused()?)
    }

    /// Sends case `case_id`'s refused edits again at the next sync (e.g. after a
    /// coordinator fixed the worker's district). Returns whether the case was refused.
    pub fn retry_refused(&self, case_id: String) -> Result<bool, CasesyncError> {
        Ok(self.store.retry_refused(&case_id)?)
    }

    /// Drops case `case_id`'s refused edits: the case returns to what the server
    /// accepted, or is removed from the phone if the server never accepted it. Only a
    /// refused case (`NotFound` otherwise): unsent work is never dropped unasked.
    pub fn discard_refused(&self, case_id: String) -> Result<Discarded, CasesyncError> {
        let done = self.store.discard_refused(&case_id)?;
        lock(&self.dedup).forget(&case_id);
        if done.case_removed {
            self.listeners
                .notify(ChangeOrigin::Edit, Vec::new(), vec![case_id]);
        } else {
            self.listeners.edited(&case_id);
        }
        Ok(done)
    }

    /// Erases every case and unsent edit on this phone (the store stays open); returns
    /// how much unsent work that destroyed (check `unsent_cases` first to warn).
    pub fn erase_local_data(&self) -> Result<WipeReport, CasesyncError> {
        let report = self.store.wipe()?;
        self.wiped(report);
        Ok(report)
    }

    // ---------------------------------------------------------------- editing

    /// Registers a new case (intake stage), signed by the logged-in user.
    pub fn create_case(&self, new_case: NewCase) -> Result<Case, CasesyncError> {
        let ctx = self.ctx()?;
        let case = self.store.create_case(&self.device_id, &ctx, &new_case)?;
        lock(&self.dedup).forget(&new_case.id);
        self.listeners.edited(&new_case.id);
        Ok(case)
    }

    /// Changes client fields (`null` fields are left as they are).
    pub fn update_client(
        &self,
        case_id: String,
        update: ClientUpdate,
    ) -> Result<(), CasesyncError> {
        let u = update.into();
        self.edit(&case_id, |d, c| d.update_client(c, &u))
    }

    /// Adds a household member; returns their id.
    pub fn add_household_member(
        &self,
        case_id: String,
        name: String,
        relation: String,
    ) -> Result<String, CasesyncError> {
        self.edit(&case_id, |d, c| d.add_household_member(c, &name, &relation))
    }

    /// Removes a household member.
    pub fn remove_household_member(
        &self,
        case_id: String,
        member_id: String,
    ) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.remove_household_member(c, &member_id))
    }

    /// Records the intake.
    pub fn record_intake(&self, case_id: String, intake: IntakeInput) -> Result<(), CasesyncError> {
        let i = intake.into();
        self.edit(&case_id, |d, c| d.record_intake(c, &i))
    }

    /// Records the client's consent (given or refused) on `date` and what
    /// it covers.
    pub fn record_consent(
        &self,
        case_id: String,
        given: bool,
        date: NaiveDate,
        scope: String,
    ) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.record_consent(c, given, date, &scope))
    }

    /// Changes assessment fields.
    pub fn update_assessment(
        &self,
        case_id: String,
        update: AssessmentUpdate,
    ) -> Result<(), CasesyncError> {
        let u = update.into();
        self.edit(&case_id, |d, c| d.update_assessment(c, &u))
    }

    /// Sets a programme-defined assessment field.
    pub fn set_extra_field(
        &self,
        case_id: String,
        key: String,
        value: ExtraValue,
    ) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.set_extra(c, &key, &value))
    }

    /// Adds a service-plan goal; returns its id.
    pub fn add_goal(&self, case_id: String, goal: GoalInput) -> Result<String, CasesyncError> {
        let g = goal.into();
        self.edit(&case_id, |d, c| d.add_goal(c, &g))
    }

    /// Changes a goal.
    pub fn update_goal(
        &self,
        case_id: String,
        goal_id: String,
        update: GoalUpdate,
    ) -> Result<(), CasesyncError> {
        let u = update.into();
        self.edit(&case_id, |d, c| d.update_goal(c, &goal_id, &u))
    }

    /// Sets the plan's review date.
    pub fn set_review_date(&self, case_id: String, date: NaiveDate) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.set_review_date(c, date))
    }

    /// Makes a referral; returns its id.
    pub fn add_referral(
        &self,
        case_id: String,
        referral: ReferralInput,
    ) -> Result<String, CasesyncError> {
        let r = referral.into();
        self.edit(&case_id, |d, c| d.add_referral(c, &r))
    }

    /// Changes a referral's status, outcome or follow-up date.
    pub fn update_referral(
        &self,
        case_id: String,
        referral_id: String,
        update: ReferralUpdate,
    ) -> Result<(), CasesyncError> {
        let u = update.into();
        self.edit(&case_id, |d, c| d.update_referral(c, &referral_id, &u))
    }

    /// Records a visit; returns its id.
    pub fn add_visit(&self, case_id: String, visit: VisitInput) -> Result<String, CasesyncError> {
        let v = visit.into();
        self.edit(&case_id, |d, c| d.add_visit(c, &v))
    }

    /// Changes a visit (notes merge by character with concurrent edits).
    pub fn update_visit(
        &self,
        case_id: String,
        visit_id: String,
        update: VisitUpdate,
    ) -> Result<(), CasesyncError> {
        let u = update.into();
        self.edit(&case_id, |d, c| d.update_visit(c, &visit_id, &u))
    }

    /// Moves the case to another open stage (forward by the process rules; back for
    /// coordinators). Closing is `close_case`.
    pub fn advance_stage(&self, case_id: String, to: Stage) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.advance(c, to))
    }

    /// Closes the case with a reason (and normally the client's agreement).
    pub fn close_case(&self, case_id: String, closure: ClosureInput) -> Result<(), CasesyncError> {
        let o = closure.into();
        self.edit(&case_id, |d, c| d.close(c, &o))
    }

    /// Reopens a closed case (coordinators); it returns to monitoring.
    pub fn reopen_case(&self, case_id: String) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.reopen(c))
    }

    /// Marks activity recorded after closure as reviewed (coordinators).
    pub fn acknowledge_activity_after_closure(&self, case_id: String) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.acknowledge_activity_after_closure(c))
    }

    /// Records the evaluation of a closed case.
    pub fn evaluate(&self, case_id: String, evaluation: Evaluation) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.evaluate(c, &evaluation))
    }

    /// Reassigns the case to another worker (coordinators).
    pub fn reassign(&self, case_id: String, to_user: String) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.reassign(c, &to_user))
    }

    /// Marks the case sensitive or not (coordinators).
    pub fn set_sensitive(&self, case_id: String, sensitive: bool) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.set_sensitive(c, sensitive))
    }

    /// Moves the case to another district (coordinators).
    pub fn move_district(&self, case_id: String, district: String) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.move_district(c, &district))
    }

    /// Changes the village.
    pub fn set_village(&self, case_id: String, village: String) -> Result<(), CasesyncError> {
        self.edit(&case_id, |d, c| d.set_village(c, &village))
    }

    /// Resolves the conflict at `path` by choosing one of its values (`value_json` as
    /// listed by `conflicts`); every phone converges on it at its next sync.
    pub fn resolve_conflict(
        &self,
        case_id: String,
        path: String,
        value_json: String,
    ) -> Result<(), CasesyncError> {
        let chosen: serde_json::Value = serde_json::from_str(&value_json).map_err(|_| {
            CasesyncError::invalid(
                Code::InputNotJson,
                vec![("field", "value".into())],
                format!("not a JSON value: {value_json}"),
            )
        })?;
        self.edit(&case_id, |d, c| d.resolve(c, &path, &chosen))
    }
}
