//! Authentication: passwords (argon2), access tokens (HS256 JWT), rotating refresh
//! tokens bound to a device, login rate limiting, and user management.

mod accounts;
mod jwt;
mod password;
mod rate_limit;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use accounts::{
    check_districts, check_password, create_user, disable_user, revoke_device, set_scope,
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS,
};
pub use jwt::{Claims, JwtKeys};
pub use password::{hash_password, verify_password};
pub use rate_limit::{Attempt, LoginThrottle, ThrottlePolicy};

use crate::config::Settings;
use crate::error::AppError;
use crate::now_ms;
use crate::store::{DeviceRecord, Hash, Storage, StoreError, UserRecord};

/// Meta key of the JWT secret.
const SECRET_KEY: &str = "jwt_secret";
/// Rotated refresh hashes remembered per device for reuse detection.
const USED_REFRESH_KEPT: usize = 64;
/// Context of the key that derives refresh successors from the server secret.
const SUCCESSOR_KEY_CONTEXT: &[u8] = b"casesync refresh successor v1";

type HmacSha256 = Hmac<Sha256>;

/// What login and refresh return (JSON): the type the phone and the tests read.
pub use casesync_core::protocol::TokenResponse;

/// An authenticated request's principal.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user (current record).
    pub user: UserRecord,
    /// The token's device.
    pub device_id: String,
    /// The device was revoked (sync answers `wipe`; everything else refuses).
    pub revoked: bool,
}

/// Checks a user id / login name: 1..=64 of `[A-Za-z0-9_.-]`.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Checks a device id: 1..=128 bytes, no control characters.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && !id.chars().any(char::is_control)
}

/// Device id prefixes the server keeps for its own actors (`server:<user>`: dashboard
/// edits and imports; `web:<hex>`: dashboard sessions) and future ones. A phone logging
/// in as `server:coord` would sign its changes like coord's dashboard edits.
pub const RESERVED_DEVICE_PREFIXES: &[&str] = &["server:", "web:", "admin:", "system:"];

/// Whether an app may not choose `id` (it starts with one of
/// [`RESERVED_DEVICE_PREFIXES`], in any letter case). Checked at `POST /v1/auth/login`;
/// devices already registered keep refreshing and syncing.
pub fn reserved_device_id(id: &str) -> bool {
    RESERVED_DEVICE_PREFIXES.iter().any(|p| {
        id.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    })
}

fn refresh_hash(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

/// HMAC-SHA256 of `parts` (each length-prefixed, so no two lists collide) under `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], String> {
    // HMAC takes keys of any length; the error exists only for other MACs.
    let mut mac = HmacSha256::new_from_slice(key).map_err(|e| e.to_string())?;
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    Ok(mac.finalize().into_bytes().into())
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The authentication service.
#[derive(Debug)]
pub struct Auth {
    store: Arc<dyn Storage>,
    keys: JwtKeys,
    settings: Settings,
    throttle: LoginThrottle,
    /// Serializes device record updates (login, refresh, revocation) and the
    /// administrator's acts on users and devices (`crate::admin`).
    devices: Arc<tokio::sync::Mutex<()>>,
    dummy_hash: String,
    /// Derives a refresh token's successor (see [`Auth::successor`]); from the secret.
    successor_key: [u8; 32],
}

impl std::fmt::Debug for dyn Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Storage")
    }
}

impl Auth {
    /// The service over `store`; creates the JWT secret at first start.
    pub fn new(store: Arc<dyn Storage>, settings: Settings) -> Result<Self, StoreError> {
        let secret = match store.meta(SECRET_KEY)? {
            Some(s) if s.len() >= 32 => s,
            _ => {
                let mut s = vec![0u8; 64];
                rand::thread_rng().fill_bytes(&mut s);
                store.set_meta(SECRET_KEY, &s)?;
                store.flush()?;
                s
            }
        };
        Ok(Auth {
            successor_key: hmac(&secret, &[SUCCESSOR_KEY_CONTEXT]).map_err(StoreError::Corrupt)?,
            keys: JwtKeys::new(&secret),
            throttle: LoginThrottle::new(ThrottlePolicy {
                per_account: settings.login_failures_per_user,
                per_client: settings.login_failures_per_ip,
                window: settings.login_window,
                per_pair: settings.login_failures_per_pair,
                pair_window: settings.login_pair_window,
                max_delay: settings.login_max_delay,
            }),
            devices: Arc::new(tokio::sync::Mutex::new(())),
            dummy_hash: hash_password("not a real password").unwrap_or_default(),
            store,
            settings,
        })
    }

    /// The token keys.
    pub fn keys(&self) -> &JwtKeys {
        &self.keys
    }

    /// The lock that serializes device record updates: an administrator's act on users
    /// and devices holds it (owned, so it can be held on a blocking thread), so it never
    /// interleaves with a login or a rotation of the same records.
    pub fn records_lock(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.devices.clone()
    }

    /// Logs `username` in on `device_id` (binding the device at first login), from the
    /// client address `ip`. Throttled (see [`LoginThrottle`]): only the pair of this
    /// account and this address is ever refused (`RateLimited`), after
    /// `login_failures_per_pair` failures; past `login_failures_per_user` failures of the
    /// account, or `login_failures_per_ip` of the address, the attempt is delayed before
    /// the password is checked. A username that is not a valid one is never a key.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        device_id: &str,
        ip: &str,
    ) -> Result<TokenResponse, AppError> {
        if !valid_device_id(device_id) {
            return Err(AppError::BadRequest(
                "device_id: 1 to 128 characters, no control characters".into(),
            ));
        }
        let account = valid_username(username).then(|| username.to_ascii_lowercase());
        let attempt = match self.throttle.begin(account.as_deref(), ip) {
            Ok(a) => a,
            Err(wait) => {
                metrics::counter!("casesync_logins_total", "result" => "rate_limited").increment(1);
                return Err(AppError::RateLimited {
                    retry_after_secs: wait.as_secs_f64().ceil() as u64,
                });
            }
        };
        if !attempt.delay.is_zero() {
            metrics::counter!("casesync_logins_total", "result" => "delayed").increment(1);
            tokio::time::sleep(attempt.delay).await;
        }
        let user = match &account {
            Some(_) => self.store.user(username)?,
            None => None,
        };
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |u| u.password_hash.clone());
        let pw = password.to_owned();
        let ok = password::verify_password_queued(pw, hash).await;
        let user = match user {
            Some(u) if ok => u,
            _ => {
                metrics::counter!("casesync_logins_total", "result" => "bad_credentials")
                    .increment(1);
                return Err(AppError::BadCredentials);
            }
        };
        if user.disabled {
            // Disabling a user revokes their devices: a phone of theirs signing in again
            // (its token family was revoked) is told to wipe, like at any other contact.
            let revoked_here = self
                .store
                .device(device_id)?
                .is_some_and(|d| d.user_id == user.user_id && d.revoked);
            return Err(if revoked_here {
                AppError::DeviceRevoked
            } else {
                AppError::UserDisabled
            });
        }
        self.throttle.succeeded(&attempt);
        if user.must_change_password {
            metrics::counter!("casesync_logins_total", "result" => "password_change_required")
                .increment(1);
            return Err(AppError::PasswordChangeRequired);
        }
        let _g = self.devices.lock().await;
        let now = now_ms();
        let mut device = match self.store.device(device_id)? {
            Some(d) if d.user_id != user.user_id => return Err(AppError::DeviceTaken),
            Some(d) if d.revoked => return Err(AppError::DeviceRevoked),
            Some(d) => d,
            None => DeviceRecord {
                device_id: device_id.to_owned(),
                user_id: user.user_id.clone(),
                revoked: false,
                refresh_hash: None,
                refresh_expires_ms: 0,
                refresh_family: String::new(),
                used_refresh: Vec::new(),
                created_ms: now,
                last_sync_ms: None,
                rotated_hash: None,
                rotated_ms: 0,
                family_revoked_ms: 0,
            },
        };
        device.refresh_family = random_token();
        device.used_refresh.clear();
        device.rotated_hash = None;
        let out = self.issue(&user, &mut device)?;
        self.store.put_device(&device)?;
        self.store.flush()?;
        metrics::counter!("casesync_logins_total", "result" => "ok").increment(1);
        tracing::info!(user = %user.user_id, device = %device_id, "login");
        Ok(out)
    }

    /// A user changes their own password (`POST /v1/auth/password`): `old` must be the
    /// current one (a temporary one after an administrator's reset), checked through
    /// the login throttle like a login from `ip`; `new` follows the password rules
    /// ([`check_password`]) and differs from `old`. Clears `must_change_password`.
    /// Repeating the call after it succeeded (its answer was lost) with the same
    /// passwords succeeds again: `new` is then the current password.
    pub async fn change_password(
        &self,
        username: &str,
        old: &str,
        new: &str,
        ip: &str,
    ) -> Result<(), AppError> {
        check_password(new)?;
        let account = valid_username(username).then(|| username.to_ascii_lowercase());
        let attempt = match self.throttle.begin(account.as_deref(), ip) {
            Ok(a) => a,
            Err(wait) => {
                return Err(AppError::RateLimited {
                    retry_after_secs: wait.as_secs_f64().ceil() as u64,
                })
            }
        };
        if !attempt.delay.is_zero() {
            tokio::time::sleep(attempt.delay).await;
        }
        let user = match &account {
            Some(_) => self.store.user(username)?,
            None => None,
        };
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |u| u.password_hash.clone());
        let old_ok = password::verify_password_queued(old.to_owned(), hash.clone()).await;
        let user = match user {
            Some(u) if old_ok => u,
            Some(u) if !u.must_change_password => {
                // A retry of a change already made: the new password is current.
                if password::verify_password_queued(new.to_owned(), hash).await {
                    self.throttle.succeeded(&attempt);
                    return Ok(());
                }
                return Err(AppError::BadCredentials);
            }
            _ => return Err(AppError::BadCredentials),
        };
        if user.disabled {
            return Err(AppError::UserDisabled);
        }
        self.throttle.succeeded(&attempt);
        if old == new {
            return Err(AppError::BadRequest(
                "new_password: must differ from the old one".into(),
            ));
        }
        let new_hash = hash_password(new).map_err(AppError::Internal)?;
        let _g = self.devices.lock().await;
        // Read again under the lock: an administrator may have acted meanwhile.
        let mut current = self
            .store
            .user(&user.user_id)?
            .ok_or(AppError::BadCredentials)?;
        if current.password_hash != user.password_hash {
            return Err(AppError::Conflict(
                "the password was changed meanwhile; sign in again".into(),
            ));
        }
        current.password_hash = new_hash;
        current.must_change_password = false;
        self.store.put_user(&current)?;
        self.store.flush()?;
        tracing::info!(user = %current.user_id, "password changed");
        Ok(())
    }

    /// Rotates a refresh token: see [`Auth::refresh_at`] (now).
    pub async fn refresh(&self, token: &str, device_id: &str) -> Result<TokenResponse, AppError> {
        self.refresh_at(token, device_id, now_ms()).await
    }

    /// Rotates a refresh token at time `now` (ms since the Unix epoch).
    ///
    /// * The current token: a new access token and the successor refresh token; the
    ///   presented token is remembered as just rotated, with the time.
    /// * The token just rotated, again within `refresh_grace` of its rotation and while
    ///   its successor is still unused (the answer was lost on the link): the SAME
    ///   successor again (it is re-derived, see [`Auth::successor`]) and a fresh access
    ///   token; nothing rotates.
    /// * Any other token of the family already rotated (or the just-rotated one later):
    ///   reuse. The family is revoked (no refresh token of it works any more, access
    ///   tokens issued before now are refused) and [`AppError::RefreshReused`] asks for a
    ///   password login. The device is NOT revoked: it keeps its data and its unsent
    ///   work, which it sends after the login. Only an administrator's revocation wipes.
    pub async fn refresh_at(
        &self,
        token: &str,
        device_id: &str,
        now: i64,
    ) -> Result<TokenResponse, AppError> {
        let _g = self.devices.lock().await;
        let Some(mut device) = self.store.device(device_id)? else {
            return Err(AppError::InvalidToken);
        };
        if device.revoked {
            return Err(AppError::DeviceRevoked);
        }
        let h = refresh_hash(token);
        if device.refresh_hash == Some(h) {
            if device.refresh_expires_ms < now {
                return Err(AppError::RefreshExpired);
            }
            let user = self.refresh_user(&device)?;
            let successor = self.successor(&device.refresh_family, token)?;
            device.used_refresh.push(h);
            if device.used_refresh.len() > USED_REFRESH_KEPT {
                device.used_refresh.remove(0);
            }
            device.rotated_hash = Some(h);
            device.rotated_ms = now;
            device.refresh_hash = Some(refresh_hash(&successor));
            device.refresh_expires_ms = now + self.settings.refresh_ttl.as_millis() as i64;
            let out = self.tokens(&user, &device, successor, now)?;
            self.store.put_device(&device)?;
            self.store.flush()?;
            return Ok(out);
        }
        if device.rotated_hash == Some(h) && device.refresh_hash.is_some() {
            let age = now.saturating_sub(device.rotated_ms);
            let successor = self.successor(&device.refresh_family, token)?;
            if (0..=self.settings.refresh_grace.as_millis() as i64).contains(&age)
                && device.refresh_hash == Some(refresh_hash(&successor))
            {
                if device.refresh_expires_ms < now {
                    return Err(AppError::RefreshExpired);
                }
                let user = self.refresh_user(&device)?;
                metrics::counter!("casesync_refresh_total", "result" => "grace_retry").increment(1);
                tracing::info!(device = %device_id, age_ms = age, "refresh retried within the grace window: same successor");
                return self.tokens(&user, &device, successor, now);
            }
        }
        if device.used_refresh.contains(&h) {
            // The first reuse revokes the family; later ones find it revoked already.
            if let Some(current) = device.refresh_hash.take() {
                device.used_refresh.push(current);
                if device.used_refresh.len() > USED_REFRESH_KEPT {
                    device.used_refresh.remove(0);
                }
                device.rotated_hash = None;
                device.family_revoked_ms = now;
                self.store.put_device(&device)?;
                self.store.flush()?;
                tracing::warn!(device = %device_id, "refresh token reused: token family revoked, password login required (device kept)");
            }
            metrics::counter!("casesync_refresh_total", "result" => "reused").increment(1);
            return Err(AppError::RefreshReused);
        }
        Err(AppError::InvalidToken)
    }

    /// The user a refresh is for: refused when disabled or gone.
    fn refresh_user(&self, device: &DeviceRecord) -> Result<UserRecord, AppError> {
        match self.store.user(&device.user_id)? {
            Some(u) if u.disabled => Err(AppError::UserDisabled),
            Some(u) if u.must_change_password => Err(AppError::PasswordChangeRequired),
            Some(u) => Ok(u),
            None => Err(AppError::InvalidToken),
        }
    }

    /// The refresh token that follows `token` in `family`: HMAC-SHA256 under a key
    /// derived from the server secret, so a retry of a rotation whose answer was lost
    /// gets the same successor back while only hashes of tokens are stored. Unguessable
    /// without the secret, like the random first token of a family.
    fn successor(&self, family: &str, token: &str) -> Result<String, AppError> {
        hmac(&self.successor_key, &[family.as_bytes(), token.as_bytes()])
            .map(|m| URL_SAFE_NO_PAD.encode(m))
            .map_err(AppError::Internal)
    }

    /// New access and refresh tokens for `user` on `device` (the caller stores `device`).
    fn issue(
        &self,
        user: &UserRecord,
        device: &mut DeviceRecord,
    ) -> Result<TokenResponse, AppError> {
        let now = now_ms();
        let refresh = random_token();
        device.refresh_hash = Some(refresh_hash(&refresh));
        device.refresh_expires_ms = now + self.settings.refresh_ttl.as_millis() as i64;
        self.tokens(user, device, refresh, now)
    }

    /// The answer carrying `refresh` and a new access token issued at `now`.
    fn tokens(
        &self,
        user: &UserRecord,
        device: &DeviceRecord,
        refresh: String,
        now: i64,
    ) -> Result<TokenResponse, AppError> {
        let iat = (now / 1000).max(0) as u64;
        let claims = Claims {
            sub: user.user_id.clone(),
            dev: device.device_id.clone(),
            role: user.role.as_str().to_owned(),
            iat,
            exp: iat + self.settings.access_ttl.as_secs(),
        };
        Ok(TokenResponse {
            access_token: self.keys.sign(&claims).map_err(AppError::Internal)?,
            refresh_token: refresh,
            expires_in: self.settings.access_ttl.as_secs(),
            user_id: user.user_id.clone(),
            role: user.role,
        })
    }

    /// Checks a bearer token and loads its user and device. A disabled user's device
    /// counts as revoked (its devices are revoked when the user is disabled, see
    /// [`disable_user`]): sync answers `wipe`, everything else `device_revoked`, so the
    /// phone wipes at its next contact whichever request it is.
    pub fn authenticate(&self, token: &str) -> Result<Authenticated, AppError> {
        let claims = self.keys.verify(token).ok_or(AppError::InvalidToken)?;
        let user = self
            .store
            .user(&claims.sub)?
            .ok_or(AppError::InvalidToken)?;
        let device = self
            .store
            .device(&claims.dev)?
            .ok_or(AppError::InvalidToken)?;
        if device.user_id != user.user_id || claims.role != user.role.as_str() {
            return Err(AppError::InvalidToken);
        }
        // Issued before its token family was revoked for reuse (whole seconds: `iat`).
        if (claims.iat as i64) < device.family_revoked_ms / 1000 {
            return Err(AppError::InvalidToken);
        }
        Ok(Authenticated {
            revoked: device.revoked || user.disabled,
            user,
            device_id: claims.dev,
        })
    }

    /// Revokes a device (lost phone): no more tokens; told to wipe at next sync.
    pub async fn revoke_device(&self, device_id: &str) -> Result<bool, AppError> {
        let _g = self.devices.lock().await;
        revoke_device(self.store.as_ref(), device_id)
    }
}

/// Whether two secrets are equal (and not empty), in time independent of where they
/// differ and of their lengths: their SHA-256 digests are compared in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    !a.is_empty() && bool::from(Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())))
}
