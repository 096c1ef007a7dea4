//! The server in the simulation: the real sync engine over a throw-away sled store,
//! with the checks the HTTP layer makes before it calls the engine (device known, not
//! revoked, user not disabled), the real authentication service for logins and
//! refresh-token rotation, and a record of every acknowledgement it sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, SaltString};
use casesync_core::case::{CaseDoc, Role};
use casesync_core::protocol::{decode_request, DocBody, SyncResponse};
use casesync_server::auth::{Auth, Authenticated, TokenResponse};
use casesync_server::config::Settings;
use casesync_server::error::AppError;
use casesync_server::store::{DocRecord, Routing, SledStorage, Storage, UserRecord};
use casesync_server::sync::scope::can_read;
use casesync_server::sync::SyncEngine;

/// Every simulated user's password.
pub const SIM_PASSWORD: &str = "sim-password-1";

/// A change hash as the protocol carries it.
pub type Hash = [u8; 32];

/// The in-process server.
pub struct SimServer {
    engine: SyncEngine,
    store: Arc<dyn Storage>,
    auth: Auth,
    /// Runs the authentication service's async calls to completion.
    rt: tokio::runtime::Runtime,
    /// [`SIM_PASSWORD`] hashed with the cheapest argon2 parameters (the real ones would
    /// dominate the run time).
    password_hash: String,
    /// Every change hash the server acknowledged, per case (whether or not the
    /// response reached the device).
    pub acked: BTreeMap<String, BTreeSet<Hash>>,
    /// Cases erased so far.
    pub erased: BTreeSet<String>,
    /// The routing history each erased case had (its tombstone keeps none): what the
    /// checks judge a device's copy by until the removal reaches it.
    erased_history: BTreeMap<String, Vec<(u64, Routing)>>,
}

/// What one request did on the server.
pub struct Served {
    /// The encoded response.
    pub bytes: Vec<u8>,
    /// The decoded response (for the trace and the quiet check).
    pub response: SyncResponse,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl SimServer {
    /// A server with an empty temporary store and the given settings.
    pub fn new(settings: Settings) -> Result<Self, String> {
        let store: Arc<dyn Storage> = Arc::new(SledStorage::temporary().map_err(err)?);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(err)?;
        let params = argon2::Params::new(8, 1, 1, None).map_err(err)?;
        let cheap =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"casesync-sim-salt").map_err(err)?;
        let password_hash = cheap
            .hash_password(SIM_PASSWORD.as_bytes(), &salt)
            .map_err(err)?
            .to_string();
        Ok(SimServer {
            auth: Auth::new(store.clone(), settings.clone()).map_err(err)?,
            engine: SyncEngine::new(store.clone(), settings),
            store,
            rt,
            password_hash,
            acked: BTreeMap::new(),
            erased: BTreeSet::new(),
            erased_history: BTreeMap::new(),
        })
    }

    /// The storage.
    pub fn store(&self) -> &dyn Storage {
        self.store.as_ref()
    }

    /// Adds a user directly to the store, with [`SIM_PASSWORD`] (cheaply hashed).
    pub fn add_user(
        &self,
        user_id: &str,
        role: Role,
        district: &str,
        sensitive_access: bool,
    ) -> Result<UserRecord, String> {
        let user = UserRecord {
            user_id: user_id.to_owned(),
            role,
            districts: vec![district.to_owned()],
            sensitive_access,
            password_hash: self.password_hash.clone(),
            disabled: false,
            created_ms: 0,
            must_change_password: false,
            time_zone: None,
            agency: None,
        };
        self.store.put_user(&user).map_err(err)?;
        Ok(user)
    }

    /// Logs `user_id` in on `device_id` with the password (a first login registers the
    /// device); returns the tokens.
    pub fn login(&self, user_id: &str, device_id: &str) -> Result<TokenResponse, AppError> {
        self.rt
            .block_on(self.auth.login(user_id, SIM_PASSWORD, device_id, "sim"))
    }

    /// `POST /v1/auth/refresh` with `token` for `device_id` at simulated time `now_ms`.
    pub fn refresh(
        &self,
        token: &str,
        device_id: &str,
        now_ms: i64,
    ) -> Result<TokenResponse, AppError> {
        self.rt
            .block_on(self.auth.refresh_at(token, device_id, now_ms))
    }

    /// Sets a user's districts and sensitive access, as the administrator does
    /// (`casesync-server user set-districts` / `set-sensitive`). Returns the new record.
    pub fn set_scope(
        &self,
        user_id: &str,
        districts: &[String],
        sensitive_access: bool,
    ) -> Result<UserRecord, String> {
        casesync_server::auth::set_scope(self.store.as_ref(), user_id, districts, sensitive_access)
            .map_err(err)
    }

    /// Disables a user, as the administrator does (`casesync-server user disable`: their
    /// devices are revoked). Returns the new record.
    pub fn disable_user(&self, user_id: &str) -> Result<UserRecord, String> {
        casesync_server::auth::disable_user(self.store.as_ref(), user_id).map_err(err)
    }

    /// Revokes a device (the admin's "lost phone").
    pub fn revoke(&self, device_id: &str) -> Result<bool, String> {
        casesync_server::auth::revoke_device(self.store.as_ref(), device_id).map_err(err)
    }

    /// Erases a case (consent withdrawn), as `POST /v1/cases/{id}/erase` does.
    pub fn erase(&mut self, doc_id: &str) -> Result<bool, String> {
        let history = self.store.doc(doc_id).map_err(err)?.map(|r| r.history);
        let seq = self.store.erase(doc_id).map_err(err)?;
        self.store.flush().map_err(err)?;
        if seq.is_some() {
            self.erased.insert(doc_id.to_owned());
            self.erased_history
                .insert(doc_id.to_owned(), history.unwrap_or_default());
        }
        Ok(seq.is_some())
    }

    /// The routing history of case `id`: the stored record's, or for an erased case the
    /// one it had when it was erased.
    pub fn routing_history<'r>(&'r self, rec: &'r DocRecord) -> &'r [(u64, Routing)] {
        match self.erased_history.get(&rec.doc_id) {
            Some(h) if rec.erased => h,
            _ => &rec.history,
        }
    }

    /// Compacts documents with at least `min_changes` changes since their snapshot.
    pub fn compact(&self, min_changes: u32) -> Result<usize, String> {
        self.engine.compact(min_changes).map_err(err)
    }

    /// A case's metadata.
    pub fn doc(&self, doc_id: &str) -> Result<Option<DocRecord>, String> {
        self.store.doc(doc_id).map_err(err)
    }

    /// A case's content (`None` if unknown or erased).
    pub fn case(&self, doc_id: &str) -> Result<Option<CaseDoc>, String> {
        match self.store.doc_bytes(doc_id).map_err(err)? {
            None => Ok(None),
            Some(bytes) => CaseDoc::load(&bytes)
                .map(Some)
                .map_err(|e| format!("server copy of {doc_id} does not load: {e}")),
        }
    }

    /// One `POST /v1/sync`: what the HTTP route does around the engine.
    pub fn serve(&mut self, request: &[u8]) -> Result<Served, String> {
        let req = decode_request(request).map_err(|e| format!("bad request: {e}"))?;
        let device = self
            .store
            .device(&req.device_id)
            .map_err(err)?
            .ok_or_else(|| format!("unknown device {}", req.device_id))?;
        let user = self
            .store
            .user(&device.user_id)
            .map_err(err)?
            .ok_or_else(|| format!("unknown user {}", device.user_id))?;
        // As `Auth::authenticate`: a disabled user's device counts as revoked. Then the
        // request goes through the one door the HTTP route runs.
        let who = Authenticated {
            revoked: device.revoked || user.disabled,
            user,
            device_id: req.device_id.clone(),
        };
        let handled = self
            .engine
            .handle(&who, request)
            .map_err(|e| format!("sync engine failed: {e}"))?;
        let response = handled.response;
        // Invariant 6: nothing of a case outside the user's read scope at the time of
        // the pull (in process, nothing runs between the page and this check).
        for d in &response.docs {
            let rec = self.store.doc(&d.doc_id).map_err(err)?;
            if !rec.is_some_and(|r| !r.erased && can_read(&who.user, &r.routing)) {
                return Err(format!(
                    "LEAK AT PULL: {} ({}) received {}, outside their read scope now",
                    req.device_id, who.user.user_id, d.doc_id
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for d in &response.docs {
            if !seen.insert(d.doc_id.as_str()) {
                let kinds: Vec<&str> = response
                    .docs
                    .iter()
                    .filter(|x| x.doc_id == d.doc_id)
                    .map(|x| match x.body {
                        DocBody::Snapshot { .. } => "snapshot",
                        DocBody::Changes(_) => "changes",
                    })
                    .collect();
                return Err(format!(
                    "SERVER BUG: the page for {} (cursor {} bytes) lists {} twice ({})",
                    req.device_id,
                    req.cursor.len(),
                    d.doc_id,
                    kinds.join(" + ")
                ));
            }
        }
        for ack in &response.acked {
            self.acked
                .entry(ack.doc_id.clone())
                .or_default()
                .extend(ack.hashes.iter().copied());
        }
        Ok(Served {
            bytes: handled.wire,
            response,
        })
    }
}
