//! In-process HTTP tests: auth, tokens, the sync endpoint's contract, cases.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use casesync_core::case::{device_actor, CaseDoc, EditCtx, NewCase, Role};
use casesync_core::protocol::{
    decode_response, encode_request, DocPush, SyncRequest, SyncResponse, CONTENT_TYPE,
    PROTOCOL_VERSION,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::auth::{create_user, Claims, TokenResponse};
use crate::config::Settings;
use crate::store::SledStorage;

const PW: &str = "correct horse battery";

async fn app() -> (Router, AppState) {
    let store = Arc::new(SledStorage::temporary().expect("store"));
    let settings = Settings {
        login_failures_per_pair: 3,
        max_body_bytes: 64 * 1024,
        ..Settings::default()
    };
    let st = AppState::new(store.clone(), settings).expect("state");
    let d = vec!["ঢাকা".to_string()];
    create_user(store.as_ref(), "chw1", Role::Chw, &d, false, PW).expect("user");
    create_user(store.as_ref(), "chw2", Role::Chw, &d, false, PW).expect("user");
    create_user(store.as_ref(), "coord", Role::Coordinator, &d, true, PW).expect("user");
    create_user(store.as_ref(), "admin", Role::Admin, &[], false, PW).expect("user");
    (router(st.clone()), st)
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, body)
}

fn json_req(uri: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut b = Request::post(uri).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).expect("request")
}

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn login(app: &Router, user: &str, device: &str) -> TokenResponse {
    let (s, b) = call(
        app,
        json_req(
            "/v1/auth/login",
            None,
            &json!({"username": user, "password": PW, "device_id": device}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    serde_json::from_slice(&b).expect("tokens")
}

/// A sync request of the current version from `device`.
fn sync_request(device: &str, cursor: &[u8], push: Vec<DocPush>) -> SyncRequest {
    SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: device.into(),
        cursor: cursor.to_vec(),
        push,
        max_page_bytes: 0,
    }
}

/// A GET of `uri` with these `Authorization` headers (none, one or several).
fn get_req(uri: &str, auth: &[&str]) -> Request<Body> {
    let mut b = Request::get(uri);
    for a in auth {
        b = b.header("authorization", *a);
    }
    b.body(Body::empty()).expect("request")
}

fn sync_req(token: &str, body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/sync")
        .header("content-type", CONTENT_TYPE)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .expect("request")
}

async fn sync(
    app: &Router,
    token: &str,
    device: &str,
    cursor: &[u8],
    push: Vec<DocPush>,
) -> SyncResponse {
    let req = sync_request(device, cursor, push);
    let (s, b) = call(app, sync_req(token, encode_request(&req))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    decode_response(&b).expect("response")
}

#[tokio::test]
async fn login_failures_and_rate_limit() {
    let (app, _) = app().await;
    let t = login(&app, "chw1", "phone-1").await;
    assert_eq!(t.role, Role::Chw);
    assert_eq!(t.expires_in, 900);
    let bad = |user: &str| json!({"username": user, "password": "nope", "device_id": "phone-1"});
    let (s, b) = call(&app, json_req("/v1/auth/login", None, &bad("chw1"))).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );
    let (s, b) = call(&app, json_req("/v1/auth/login", None, &bad("nobody"))).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "bad_credentials")
    );
    for _ in 0..2 {
        call(&app, json_req("/v1/auth/login", None, &bad("chw1"))).await;
    }
    let (s, b) = call(&app, json_req("/v1/auth/login", None, &bad("chw1"))).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // Even the right password waits out the window.
    let ok = json!({"username": "chw1", "password": PW, "device_id": "phone-1"});
    assert_eq!(
        call(&app, json_req("/v1/auth/login", None, &ok)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A device registered to another user.
    let (s, b) = call(
        &app,
        json_req(
            "/v1/auth/login",
            None,
            &json!({"username": "chw2", "password": PW, "device_id": "phone-1"}),
        ),
    )
    .await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::FORBIDDEN, "device_taken")
    );
    let (s, b) = call(
        &app,
        json_req("/v1/auth/login", None, &json!({"username": "chw2"})),
    )
    .await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (app, _) = app().await;
    let t1 = login(&app, "chw1", "phone-1").await;
    let refresh = |tok: &str| {
        json_req(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": tok, "device_id": "phone-1"}),
        )
    };
    let (s, b) = call(&app, refresh(&t1.refresh_token)).await;
    assert_eq!(s, StatusCode::OK);
    let t2: TokenResponse = serde_json::from_slice(&b).expect("tokens");
    assert_ne!(t2.refresh_token, t1.refresh_token);
    let (s, b) = call(&app, refresh("not-a-token")).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    // The old token again at once (the answer was lost): the same successor.
    let (s, b) = call(&app, refresh(&t1.refresh_token)).await;
    assert_eq!(s, StatusCode::OK);
    let again: TokenResponse = serde_json::from_slice(&b).expect("tokens");
    assert_eq!(again.refresh_token, t2.refresh_token);
    let (s, b) = call(&app, refresh(&t2.refresh_token)).await;
    assert_eq!(s, StatusCode::OK);
    let t3: TokenResponse = serde_json::from_slice(&b).expect("tokens");
    // The old token once its successor was used: reuse; the token family is revoked.
    let (s, b) = call(&app, refresh(&t1.refresh_token)).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "refresh_reused")
    );
    let (s, b) = call(&app, refresh(&t3.refresh_token)).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "refresh_reused")
    );
    // The device is not revoked: after a password login it syncs, nothing to wipe.
    let t4 = login(&app, "chw1", "phone-1").await;
    let r = sync(&app, &t4.access_token, "phone-1", &[], vec![]).await;
    assert!(!r.wipe);
}

#[tokio::test]
async fn forged_and_expired_tokens_are_refused() {
    let (app, st) = app().await;
    let t = login(&app, "chw1", "phone-1").await;
    let parts: Vec<&str> = t.access_token.split('.').collect();
    let now = (crate::now_ms() / 1000) as u64;
    let claims = |exp| Claims {
        sub: "coord".into(),
        dev: "phone-1".into(),
        role: "coordinator".into(),
        exp,
        iat: now,
    };
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now + 600)).expect("json"));
    let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let expired = st
        .auth
        .keys()
        .sign(&Claims {
            sub: "chw1".into(),
            role: "chw".into(),
            ..claims(now - 600)
        })
        .expect("sign");
    for token in [
        format!("{}.{}.{}", parts[0], forged, parts[2]),
        format!("{none}.{}.", parts[1]),
        expired,
        "garbage".into(),
    ] {
        let (s, b) = call(&app, sync_req(&token, vec![])).await;
        assert_eq!(
            (s, code(&b).as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_token")
        );
    }
    let r = Request::post("/v1/sync")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&app, r).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sync_endpoint_contract() {
    let (app, _) = app().await;
    let t = login(&app, "chw1", "phone-1").await;
    let ok = sync_request("phone-1", &[], vec![]);
    let wrong_type = Request::post("/v1/sync")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", t.access_token))
        .body(Body::from(encode_request(&ok)))
        .expect("request");
    let (s, b) = call(&app, wrong_type).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let (s, b) = call(
        &app,
        sync_req(&t.access_token, b"CS\x01\x00garbage".to_vec()),
    )
    .await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::BAD_REQUEST, "bad_message")
    );
    let mut future = encode_request(&ok);
    future[2] = 99;
    let (s, b) = call(&app, sync_req(&t.access_token, future)).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::BAD_REQUEST, "unsupported_version")
    );
    let (s, b) = call(&app, sync_req(&t.access_token, vec![0; 100 * 1024])).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let other = SyncRequest {
        device_id: "phone-2".into(),
        ..ok.clone()
    };
    let (s, b) = call(&app, sync_req(&t.access_token, encode_request(&other))).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::FORBIDDEN, "device_mismatch")
    );
    let bad_cursor = SyncRequest {
        cursor: vec![0xff; 4],
        ..ok.clone()
    };
    let (s, b) = call(&app, sync_req(&t.access_token, encode_request(&bad_cursor))).await;
    assert_eq!(
        (s, code(&b).as_str()),
        (StatusCode::BAD_REQUEST, "bad_cursor")
    );
    let (s, _) = call(&app, get_req("/healthz", &[])).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn cases_flow_between_phone_and_coordinator() {
    let (app, _) = app().await;
    let chw = login(&app, "chw1", "phone-1").await;
    let coord = login(&app, "coord", "laptop-1").await;
    let admin = login(&app, "admin", "admin-pc").await;

    // A CHW registers a case offline and pushes it.
    let ctx = EditCtx::new("chw1", Role::Chw, crate::now_ms());
    let new = NewCase {
        id: "case-1".into(),
        district: "ঢাকা".into(),
        village: "মিরপুর".into(),
        assigned_to: "chw1".into(),
        sensitive: false,
        client_name: "আয়েশা সিদ্দিকা".into(),
    };
    let mut doc = CaseDoc::create(&ctx, device_actor("phone-1"), &new).expect("create");
    let changes = doc
        .changes_since(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    let r = sync(
        &app,
        &chw.access_token,
        "phone-1",
        &[],
        vec![DocPush {
            doc_id: "case-1".into(),
            changes,
        }],
    )
    .await;
    assert_eq!(r.acked.len(), 1);
    let cursor = r.cursor;

    // The coordinator reads it as JSON; the admin may not.
    let get = |tok: &str| {
        Request::get("/v1/cases/case-1")
            .header("authorization", format!("Bearer {tok}"))
            .body(Body::empty())
            .expect("r")
    };
    let (s, b) = call(&app, get(&coord.access_token)).await;
    assert_eq!(s, StatusCode::OK);
    let case: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(case["client"]["name"], "আয়েশা সিদ্দিকা");
    assert_eq!(
        call(&app, get(&admin.access_token)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = call(
        &app,
        get(&login(&app, "chw2", "phone-2").await.access_token),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The coordinator creates a case for chw1 through the API; chw1 pulls it.
    let body = json!({"id": "case-2", "district": "ঢাকা", "village": "", "assigned_to": "chw1",
                      "sensitive": false, "client_name": "Nguyễn Thị Mai"});
    let (s, b) = call(
        &app,
        json_req("/v1/cases", Some(&coord.access_token), &body),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let (s, b) = call(
        &app,
        json_req("/v1/cases", Some(&coord.access_token), &body),
    )
    .await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::CONFLICT, "conflict"));
    let r = sync(&app, &chw.access_token, "phone-1", &cursor, vec![]).await;
    assert_eq!(r.docs.len(), 1);
    assert_eq!(r.docs[0].doc_id, "case-2");
    let cursor = r.cursor;

    // Erasure: the coordinator erases case-1; the phone drops it.
    let erase = |tok: &str| json_req("/v1/cases/case-1/erase", Some(tok), &json!({}));
    assert_eq!(
        call(&app, erase(&chw.access_token)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, erase(&coord.access_token)).await.0,
        StatusCode::OK
    );
    let r = sync(&app, &chw.access_token, "phone-1", &cursor, vec![]).await;
    assert_eq!(r.removed, vec!["case-1".to_string()]);
    assert_eq!(
        call(&app, get(&coord.access_token)).await.0,
        StatusCode::NOT_FOUND
    );

    // Admins get nothing from sync.
    let r = sync(&app, &admin.access_token, "admin-pc", &[], vec![]).await;
    assert!(r.docs.is_empty());
}

mod contract;
mod net;
