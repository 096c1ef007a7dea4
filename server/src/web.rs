//! The coordinator dashboard: server-rendered HTML pages (askama templates in
//! `server/templates/`, Fluent messages in `server/locales/`), no JavaScript.
//!
//! | path | who | what |
//! |---|---|---|
//! | `GET /` | anyone | redirects to the login page, the overview, or (admins) the users page |
//! | `GET/POST /login`, `POST /logout` | anyone | cookie session (see [`session`]) |
//! | `GET /dashboard` | coordinator, CHW | indicators as inline SVG charts |
//! | `GET /dashboard/indicators.json` | coordinator, CHW | the same numbers as JSON |
//! | `GET /dashboard/chws` | coordinator | health workers: last sync, cases, due and overdue |
//! | `GET /dashboard/review` | coordinator | conflicting edits, activity after closure, possible duplicate clients |
//! | `GET /dashboard/cases` | coordinator, CHW | search and filters, 50 per page |
//! | `GET /dashboard/cases/{id}` | coordinator, CHW | the case and its timeline |
//! | `POST /dashboard/cases/{id}/{reassign,close,resolve,acknowledge}` | coordinator | case changes |
//! | `POST /dashboard/duplicates/{same,distinct}` | coordinator | decide a possible duplicate pair ([`duplicates`]) |
//! | `GET /dashboard/export/{cases,indicators}.csv` | coordinator | CSV exports |
//! | `GET /dashboard/admin` | admin | users and devices, no case content |
//! | `POST /dashboard/admin/users[/{id}/{scope,disable,enable,password}]` | admin | add and edit users ([`crate::admin`]) |
//! | `POST /dashboard/admin/devices/{id}/{revoke,unrevoke}` | admin | revoke, un-revoke a device |
//!
//! Access follows the API's read scope ([`crate::sync::scope::can_read`]): a coordinator
//! sees the cases of their districts (sensitive ones only with sensitive access), a CHW
//! only the cases assigned to them, read-only; an admin no case content at all.
//! Changes made here are ordinary Automerge changes signed by the actor
//! `device_actor("server:<user_id>")` and stored through the sync engine's push path, so
//! they are validated like a device's push, get log sequence numbers and reach every
//! device at its next sync.

pub(crate) mod actions;
mod admin_actions;
mod agency;
mod case_list;
mod case_page;
mod charts;
pub mod data;
mod duplicates;
mod error;
mod export;
mod fmt;
mod i18n;
mod pages;
pub mod session;
mod stats;
mod view;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

pub use error::WebError;
pub use i18n::{Lang, Tr};

use crate::state::AppState;

/// The dashboard's own state, shared by its handlers (an extension of the routes).
#[derive(Debug, Default)]
pub struct Web {
    /// Signed-in sessions.
    pub sessions: session::Sessions,
    /// Cases read from the store, kept current through the change log (the state's
    /// [`AppState::cases`]).
    pub cache: Arc<data::CaseCache>,
}

/// An erased case leaves `web`'s read model when the engine forgets it (the erase route
/// calls [`crate::sync::SyncEngine::forget_doc`]), not at the model's next refresh.
fn drop_erased_with_the_engine(state: &AppState, web: &Arc<Web>) {
    let read_model = web.clone();
    state
        .engine
        .on_forget(Arc::new(move |id: &str| read_model.cache.forget(id)));
}

/// The dashboard's routes, to merge into the application's router.
pub fn router(state: &AppState) -> Router<AppState> {
    let web = Arc::new(Web {
        sessions: session::Sessions::default(),
        cache: state.cases.clone(),
    });
    drop_erased_with_the_engine(state, &web);
    Router::new()
        .route("/", get(pages::root))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/dashboard", get(pages::overview))
        .route("/dashboard/indicators.json", get(pages::indicators_json))
        .route("/dashboard/chws", get(pages::chws))
        .route("/dashboard/review", get(case_list::review))
        .route("/dashboard/cases", get(case_list::cases))
        .route("/dashboard/cases/{id}", get(case_page::case_page))
        .route(
            "/dashboard/cases/{id}/history.csv",
            get(export::history_csv),
        )
        .route("/dashboard/duplicates/same", post(duplicates::same_person))
        .route(
            "/dashboard/duplicates/distinct",
            post(duplicates::different_people),
        )
        .route("/dashboard/cases/{id}/reassign", post(actions::reassign))
        .route("/dashboard/cases/{id}/close", post(actions::close))
        .route("/dashboard/cases/{id}/resolve", post(actions::resolve))
        .route(
            "/dashboard/cases/{id}/acknowledge",
            post(actions::acknowledge),
        )
        .route("/dashboard/export/cases.csv", get(export::cases_csv))
        .route(
            "/dashboard/export/indicators.csv",
            get(export::indicators_csv),
        )
        .route("/dashboard/agency", get(agency::page))
        .route(
            "/dashboard/agency/referrals/{case}/{referral}",
            post(agency::answer),
        )
        .route("/dashboard/admin", get(pages::admin))
        .merge(admin_forms())
        .layer(middleware::from_fn(decorate))
        .layer(Extension(web))
}

/// The admin page's forms, each body at most [`crate::admin::MAX_ADMIN_BODY_BYTES`].
fn admin_forms() -> Router<AppState> {
    Router::new()
        .route("/dashboard/admin/users", post(admin_actions::create_user))
        .route(
            "/dashboard/admin/users/{id}/scope",
            post(admin_actions::set_scope),
        )
        .route(
            "/dashboard/admin/users/{id}/disable",
            post(admin_actions::disable_user),
        )
        .route(
            "/dashboard/admin/users/{id}/enable",
            post(admin_actions::enable_user),
        )
        .route(
            "/dashboard/admin/users/{id}/password",
            post(admin_actions::reset_password),
        )
        .route(
            "/dashboard/admin/users/{id}/time-zone",
            post(admin_actions::set_time_zone),
        )
        .route("/dashboard/admin/agencies", post(admin_actions::put_agency))
        .route(
            "/dashboard/admin/devices/{id}/revoke",
            post(admin_actions::revoke_device),
        )
        .route(
            "/dashboard/admin/devices/{id}/unrevoke",
            post(admin_actions::unrevoke_device),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::admin::MAX_ADMIN_BODY_BYTES,
        ))
}

/// The language cookie's name.
const LANG_COOKIE: &str = "lang";

/// The language of a request: `?lang=`, the `lang` cookie, `Accept-Language`, English.
fn request_lang(req: &Request) -> (Lang, bool) {
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::parse(v))
    });
    if let Some(l) = from_query {
        return (l, true);
    }
    let from_cookie = session::cookie(req.headers(), LANG_COOKIE).and_then(|v| Lang::parse(&v));
    let from_header = || {
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language)
    };
    (from_cookie.or_else(from_header).unwrap_or_default(), false)
}

/// Whether a POST comes from a page of this site: an `Origin` header, when the browser
/// sends one, must name the host the request was sent to (defence in depth; the CSRF
/// token is the check).
fn same_origin(req: &Request) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, h)| h.to_owned()));
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(&o))
}

/// Middleware of every dashboard route: picks the language, refuses cross-origin POSTs,
/// renders error pages in the request's language (also for axum's own refusals, e.g. a
/// malformed query or form), and sets the security headers.
async fn decorate(mut req: Request, next: Next) -> Response {
    let (lang, chosen) = request_lang(&req);
    req.extensions_mut().insert(lang);
    let mut resp = if req.method() == Method::POST && !same_origin(&req) {
        WebError::Csrf.into_response()
    } else {
        next.run(req).await
    };
    let page = resp
        .extensions_mut()
        .remove::<error::ErrorPage>()
        .or_else(|| error::ErrorPage::for_bare(&resp));
    if let Some(page) = page {
        let status = resp.status();
        let mut rendered = error::render(&page, lang).into_response();
        *rendered.status_mut() = status;
        for (k, v) in resp.headers() {
            if k == header::LOCATION || k == header::SET_COOKIE {
                rendered.headers_mut().append(k.clone(), v.clone());
            }
        }
        resp = rendered;
    }
    let h = resp.headers_mut();
    if chosen {
        let c = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    // Pages carry personal data: never kept by shared caches or the back-forward cache.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    resp
}
