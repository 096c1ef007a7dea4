//! In-process tests of the dashboard over the demo district: a harness (a demo server
//! in-process, sign-in through the login form, page scraping helpers), then
//! [`access`] (sign-in, sessions, CSRF, each role's scope) and [`pages`] (the numbers on
//! the charts, actions that become ordinary case changes, search, CSV, languages, sizes).

mod access;
mod admin_forms;
mod agency;
mod duplicates;
mod pages;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use casesync_core::case::{device_actor, CaseDoc, EditCtx, NewCase, Role, Stage};
use casesync_core::report::district_indicators;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::data::percent;
use crate::auth::create_user;
use crate::config::Settings;
use crate::demo::{self, DEMO_DISTRICT};
use crate::http::router;
use crate::state::AppState;
use crate::store::{ScopeKey, SledStorage};

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Resp {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().iter().find_map(|c| {
            c.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request")
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn post(uri: &str, cookie: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(pairs)))
        .expect("request")
}

/// The first hidden `csrf` value of a page.
fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    html.find(marker)
        .map(|i| &html[i + marker.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

struct Demo {
    app: Router,
    st: AppState,
}

async fn demo_app() -> Demo {
    let store = Arc::new(SledStorage::temporary().expect("store"));
    let settings = Settings {
        login_failures_per_pair: 3,
        ..Settings::default()
    };
    let st = AppState::new(store.clone(), settings).expect("state");
    demo::seed(&st.engine).expect("seed").expect("seeded");
    let other = vec!["elsewhere".to_string()];
    let d = vec![DEMO_DISTRICT.to_string()];
    create_user(
        store.as_ref(),
        "coord2",
        Role::Coordinator,
        &other,
        true,
        "demo-coord2-pass",
    )
    .expect("user");
    create_user(
        store.as_ref(),
        "coordns",
        Role::Coordinator,
        &d,
        false,
        "demo-coordns-pass",
    )
    .expect("user");
    Demo {
        app: router(st.clone()),
        st,
    }
}

/// Signs in through the login form; returns the session cookie header value.
async fn sign_in(app: &Router, user: &str) -> String {
    let page = send(app, get("/login", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page
        .cookie(super::session::LOGIN_COOKIE)
        .expect("login cookie");
    let csrf = csrf_of(&page.body);
    assert_eq!(token, csrf);
    let pw = format!("demo-{user}-pass");
    let r = send(
        app,
        post(
            "/login",
            &format!("{}={token}", super::session::LOGIN_COOKIE),
            &[("username", user), ("password", &pw), ("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("casesync_session="))
        .expect("session cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"));
    let session = r.cookie(super::session::SESSION_COOKIE).expect("session");
    format!("{}={session}", super::session::SESSION_COOKIE)
}

/// Every `data-value` of the bars of one chart, by `data-key` (and series).
fn chart_values(html: &str, chart: &str) -> Vec<(String, u32)> {
    let start = html
        .find(&format!(r#"data-chart="{chart}""#))
        .expect("chart");
    let svg = &html[start
        ..html[start..]
            .find("</svg>")
            .map_or(html.len(), |e| start + e)];
    svg.split(r#"<g class="bar""#)
        .skip(1)
        .filter_map(|g| {
            let attr = |name: &str| {
                let m = format!(r#"{name}=""#);
                g.find(&m)
                    .map(|i| &g[i + m.len()..])
                    .and_then(|r| r.split('"').next())
                    .map(str::to_owned)
            };
            let key = match attr("data-series") {
                Some(s) => format!("{s}:{}", attr("data-key")?),
                None => attr("data-key")?,
            };
            Some((key, attr("data-value")?.parse().ok()?))
        })
        .collect()
}

fn all_cases(st: &AppState) -> Vec<casesync_core::case::Case> {
    let ids = st
        .store
        .doc_ids(&ScopeKey::District(DEMO_DISTRICT.into()), "", 10_000)
        .expect("ids");
    ids.iter()
        .map(|id| {
            let bytes = st.store.doc_bytes(id).expect("bytes").expect("doc");
            CaseDoc::load(&bytes).expect("load").read().expect("read")
        })
        .collect()
}

/// An erased case leaves the dashboard's read model with the erasure (the content must
/// not stay in memory once its key is destroyed), not at the model's next refresh.
#[tokio::test]
async fn an_erased_case_leaves_the_read_model_at_once() {
    let d = demo_app().await;
    let web = Arc::new(super::Web::default());
    super::drop_erased_with_the_engine(&d.st, &web);
    let coord = d.st.store.user("coord").expect("read").expect("coord");
    let (st, w) = (d.st.clone(), web.clone());
    let id = tokio::task::spawn_blocking(move || {
        let cases = w.cache.cases_for(&st.engine, &coord).expect("cases");
        let id = cases.first().expect("a case").case.id.clone();
        assert!(w.cache.holds(&id));
        // What the erase route does.
        st.store.erase(&id).expect("erase");
        st.engine.forget_doc(&id);
        id
    })
    .await
    .expect("task");
    assert!(
        !web.cache.holds(&id),
        "the read model still holds the erased case"
    );
}
