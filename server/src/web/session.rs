//! Dashboard sign-in: cookie sessions and CSRF tokens.
//!
//! * **Login** goes through [`crate::auth::Auth::login`], the API's own path: argon2,
//!   the login throttling (only an account guessed from this address is refused, with
//!   `Retry-After`; otherwise slowed), disabled accounts. Each sign-in is
//!   bound to a fresh device record `web:<random>` of the user, so the admin sees it and
//!   can revoke it like a phone (`casesync-server device revoke web:...`), and signing
//!   out revokes it.
//! * **Session**: 32 random bytes (base64url) in the cookie `casesync_session`
//!   (`HttpOnly; SameSite=Strict; Path=/`, plus `Secure` behind HTTPS). The server keeps
//!   only its SHA-256, with the user, the device, a per-session CSRF token, an idle
//!   timeout (2 h) and an absolute lifetime (12 h), in the store (meta key
//!   `web_session:<hex of the SHA-256>`) and in memory in front of it: a session survives
//!   a restart and works on every instance sharing a PostgreSQL store. The last-seen time
//!   is written back at most every [`SEEN_WRITE_MS`]. Every request reloads the user and
//!   the device: a disabled user or a revoked device is signed out at once, on every
//!   instance (signing out revokes the device).
//! * **CSRF**: every POST form carries the session's random token in a hidden `csrf`
//!   field, compared in constant time; the login form carries a token that must equal a
//!   short-lived `casesync_login` cookie (double submit). `SameSite=Strict` and an
//!   `Origin` check are a second and third line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use casesync_core::case::Role;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::WebError;
use super::i18n::{Lang, Tr};
use super::Web;
use crate::auth::same_secret;
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::now_ms;
use crate::state::AppState;
use crate::store::{Hash, Storage, StoreError, UserRecord};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "casesync_session";
/// The login form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "casesync_login";
/// A session ends after this long without a request.
pub const IDLE_MS: i64 = 2 * 3600 * 1000;
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE_MS: i64 = 12 * 3600 * 1000;
/// Sessions kept in memory before expired ones are swept from it.
const SWEEP_AT: usize = 1_000;
/// A session's last-seen time is written to the store at most this often (so a
/// dashboard page costs no store write; the idle timeout is this much less exact).
pub const SEEN_WRITE_MS: i64 = 60 * 1000;
/// Prefix of the meta keys of sessions.
const META_PREFIX: &str = "web_session:";

/// One signed-in session.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// The user.
    pub user_id: String,
    /// The `web:` device record this sign-in is bound to.
    pub device_id: String,
    /// The CSRF token every POST form of this session carries.
    pub csrf: String,
    /// Absolute end, ms since the Unix epoch.
    pub expires_ms: i64,
    /// Last request, ms since the Unix epoch.
    pub seen_ms: i64,
}

impl Session {
    fn live(&self, now: i64) -> bool {
        now < self.expires_ms && now < self.seen_ms + IDLE_MS
    }
}

/// The signed-in sessions, by SHA-256 of their cookie value.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<Hash, Session>>,
}

fn key(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

fn meta_key(k: &Hash) -> String {
    format!("{META_PREFIX}{}", hex::encode(k))
}

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

impl Sessions {
    /// Starts a session and stores it; returns the cookie value.
    pub fn create(
        &self,
        store: &dyn Storage,
        user_id: &str,
        device_id: &str,
    ) -> Result<(String, Session), StoreError> {
        let token = random_token();
        let now = now_ms();
        let s = Session {
            user_id: user_id.to_owned(),
            device_id: device_id.to_owned(),
            csrf: random_token(),
            expires_ms: now + ABSOLUTE_MS,
            seen_ms: now,
        };
        let k = key(&token);
        write(store, &k, Some(&s))?;
        if let Ok(mut m) = self.map.lock() {
            if m.len() >= SWEEP_AT {
                m.retain(|_, s| s.live(now));
            }
            m.insert(k, s.clone());
        }
        Ok((token, s))
    }

    /// The live session of a cookie value (from memory, else from the store: made by
    /// another instance or before a restart), marked used.
    pub fn get(&self, store: &dyn Storage, token: &str) -> Result<Option<Session>, StoreError> {
        let now = now_ms();
        let k = key(token);
        let known = self.map.lock().ok().and_then(|m| m.get(&k).cloned());
        let (mut s, stored_seen) = match known {
            Some(s) => (s, None),
            None => match store.meta(&meta_key(&k))? {
                Some(v) if !v.is_empty() => match serde_json::from_slice::<Session>(&v) {
                    Ok(s) => {
                        let seen = s.seen_ms;
                        (s, Some(seen))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable stored dashboard session");
                        return Ok(None);
                    }
                },
                _ => return Ok(None),
            },
        };
        if !s.live(now) {
            self.remove(store, token)?;
            return Ok(None);
        }
        let last_written = stored_seen.unwrap_or(s.seen_ms);
        s.seen_ms = now;
        if stored_seen.is_some() || now - last_written >= SEEN_WRITE_MS {
            // Written when it comes from the store (so it is cached from now on) or when
            // the stored last-seen time is getting old.
            write(store, &k, Some(&s))?;
        }
        if let Ok(mut m) = self.map.lock() {
            m.insert(k, s.clone());
        }
        Ok(Some(s))
    }

    /// Ends a session (in memory and in the store).
    pub fn remove(&self, store: &dyn Storage, token: &str) -> Result<(), StoreError> {
        let k = key(token);
        if let Ok(mut m) = self.map.lock() {
            m.remove(&k);
        }
        write(store, &k, None)
    }
}

/// Stores `s` under its key, or marks it ended (`None`: an empty value, which the
/// store's meta table has no delete for).
fn write(store: &dyn Storage, k: &Hash, s: Option<&Session>) -> Result<(), StoreError> {
    let v = match s {
        Some(s) => serde_json::to_vec(s).map_err(|e| StoreError::Db(e.to_string()))?,
        None => Vec::new(),
    };
    store.set_meta(&meta_key(k), &v)
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether cookies get `Secure`: behind an HTTPS proxy (`X-Forwarded-Proto: https`) or
/// when `CASESYNC_WEB_SECURE_COOKIES=1`.
fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
        || std::env::var("CASESYNC_WEB_SECURE_COOKIES").is_ok_and(|v| v == "1")
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let s = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("x=; Max-Age=0"))
}

/// The signed-in user of a dashboard request (else the request is sent to the login
/// page), with the session and the request's language.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The user, as stored now.
    pub user: UserRecord,
    /// The session.
    pub session: Session,
    /// The interface language.
    pub lang: Lang,
    /// How this user's pages show times: the deployment's calendar, and the user's own
    /// time zone where one is set, else the deployment's.
    pub display: crate::config::Display,
    /// The dashboard's state.
    pub web: Arc<Web>,
}

impl Signed {
    /// Checks a posted CSRF token against the session's.
    pub fn check_csrf(&self, posted: &str) -> Result<(), WebError> {
        if same_secret(posted, &self.session.csrf) {
            Ok(())
        } else {
            tracing::info!(user = %self.user.user_id, "dashboard POST with a bad CSRF token");
            Err(WebError::Csrf)
        }
    }

    /// The translator.
    pub fn tr(&self) -> Tr {
        Tr::new(self.lang)
    }

    /// Dates, times and numbers in the request's language and the user's zone.
    pub fn fmt(&self) -> super::fmt::Fmt {
        super::fmt::Fmt::new(self.lang, &self.display)
    }

    /// Refuses admins and agency staff (who see no case content).
    pub fn case_reader(&self) -> Result<(), WebError> {
        match self.user.role {
            Role::Admin | Role::Agency => Err(WebError::Forbidden),
            _ => Ok(()),
        }
    }

    /// Refuses everyone but coordinators.
    pub fn coordinator(&self) -> Result<(), WebError> {
        match self.user.role {
            Role::Coordinator => Ok(()),
            _ => Err(WebError::Forbidden),
        }
    }
}

/// The deployment's display settings with `user`'s own time zone where one is set (a
/// stored name no longer known to the time zone database falls back to the
/// deployment's).
pub fn user_display(
    deployment: crate::config::Display,
    user: &UserRecord,
) -> crate::config::Display {
    let zone = user
        .time_zone
        .as_deref()
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok());
    crate::config::Display {
        time_zone: zone.unwrap_or(deployment.time_zone),
        ..deployment
    }
}

/// The dashboard state of a request (set by the router's extension layer).
pub fn web_of(parts: &Parts) -> Result<Arc<Web>, WebError> {
    parts
        .extensions
        .get::<Arc<Web>>()
        .cloned()
        .ok_or_else(|| WebError::Internal("dashboard state missing".into()))
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, WebError> {
        let web = web_of(parts)?;
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(WebError::Login)?;
        let store = st.store.as_ref();
        let session = web.sessions.get(store, &token)?.ok_or(WebError::Login)?;
        let user = match st.store.user(&session.user_id)? {
            Some(u) if !u.disabled => u,
            _ => {
                web.sessions.remove(store, &token)?;
                return Err(WebError::Login);
            }
        };
        match st.store.device(&session.device_id)? {
            Some(d) if !d.revoked && d.user_id == user.user_id => {}
            _ => {
                web.sessions.remove(store, &token)?;
                return Err(WebError::Login);
            }
        }
        let display = user_display(st.settings.display, &user);
        Ok(Signed {
            user,
            session,
            lang,
            display,
            web,
        })
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginView {
    t: Tr,
    csrf: String,
    username: String,
    message: Option<String>,
}

/// The login form, with a fresh double-submit token.
fn login_form(
    lang: Lang,
    headers: &HeaderMap,
    status: StatusCode,
    username: &str,
    message: Option<&str>,
) -> Response {
    let t = Tr::new(lang);
    let token = random_token();
    let view = LoginView {
        t,
        csrf: token.clone(),
        username: username.to_owned(),
        message: message.map(|k| t.get(k)),
    };
    match view.render() {
        Ok(html) => {
            let mut resp = (status, Html(html)).into_response();
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, &token, "/login", 3600, secure(headers)),
            );
            resp
        }
        Err(e) => WebError::from(e).into_response(),
    }
}

/// Where a user lands after signing in.
pub(crate) fn home_of(role: Role) -> &'static str {
    match role {
        Role::Admin => "/dashboard/admin",
        Role::Agency => "/dashboard/agency",
        _ => "/dashboard",
    }
}

/// `GET /login`.
pub async fn login_page(
    signed: Result<Signed, WebError>,
    lang: Option<axum::Extension<Lang>>,
    headers: HeaderMap,
) -> Response {
    if let Ok(s) = signed {
        return Redirect::to(home_of(s.user.role)).into_response();
    }
    let lang = lang.map(|l| l.0).unwrap_or_default();
    login_form(lang, &headers, StatusCode::OK, "", None)
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`.
pub async fn login(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    lang: Option<axum::Extension<Lang>>,
    parts: WebParts,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = lang.map(|l| l.0).unwrap_or_default();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same_secret(&f.csrf, &expected) {
        return login_form(
            lang,
            &headers,
            StatusCode::FORBIDDEN,
            &f.username,
            Some("login-expired"),
        );
    }
    let mut id = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut id);
    let device = format!("web:{}", hex::encode(id));
    match st
        .auth
        .login(f.username.trim(), &f.password, &device, &ip)
        .await
    {
        Ok(tokens) => {
            let created = parts
                .0
                .sessions
                .create(st.store.as_ref(), &tokens.user_id, &device);
            let token = match created {
                Ok((token, _)) => token,
                Err(e) => return WebError::from(e).into_response(),
            };
            tracing::info!(user = %tokens.user_id, device = %device, "dashboard sign-in");
            let sec = secure(&headers);
            let mut resp = Redirect::to(home_of(tokens.role)).into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &token, "/", ABSOLUTE_MS / 1000, sec),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", "/login", 0, sec),
            );
            resp
        }
        Err(e) => {
            let retry_after = match &e {
                AppError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
                _ => None,
            };
            let (status, key) = match e {
                AppError::BadCredentials => (StatusCode::UNAUTHORIZED, "login-failed"),
                AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "login-limited"),
                AppError::UserDisabled => (StatusCode::FORBIDDEN, "login-disabled"),
                AppError::PasswordChangeRequired => {
                    (StatusCode::FORBIDDEN, "login-password-change")
                }
                AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "login-failed"),
                other => return WebError::from(other).into_response(),
            };
            let mut resp = login_form(lang, &headers, status, &f.username, Some(key));
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
    }
}

/// The dashboard state, as an extractor.
#[derive(Debug, Clone)]
pub struct WebParts(pub Arc<Web>);

impl<S: Send + Sync> FromRequestParts<S> for WebParts {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        web_of(parts).map(WebParts)
    }
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session and revokes its `web:` device record.
pub async fn logout(
    State(st): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    signed.check_csrf(&f.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        signed.web.sessions.remove(st.store.as_ref(), &token)?;
    }
    st.auth.revoke_device(&signed.session.device_id).await?;
    tracing::info!(user = %signed.user.user_id, "dashboard sign-out");
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/", 0, secure(&headers)),
    );
    Ok(resp)
}
