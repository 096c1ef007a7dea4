//! The error contract at the framework's edges: unknown routes, wrong methods, extractor
//! rejections, ambiguous credentials, panics; every one a JSON `{code, message}`.

use axum::http::{header, HeaderMap};
use axum::routing::get;

use super::*;

/// Status, headers and body of one request.
async fn call_full(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.expect("response");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status, parts.headers, body)
}

/// Asserts the answer is `status` with a JSON body of exactly `code` and a message.
fn assert_contract(got: &(StatusCode, HeaderMap, Vec<u8>), status: StatusCode, code: &str) {
    let (s, h, b) = got;
    let text = String::from_utf8_lossy(b);
    assert_eq!(*s, status, "{text}");
    assert_eq!(
        h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{text}"
    );
    let v: Value = serde_json::from_slice(b).expect("JSON body");
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 2, "only code and message: {text}");
    assert_eq!(obj["code"], code, "{text}");
    assert!(
        obj["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{text}"
    );
}

#[tokio::test]
async fn framework_refusals_speak_json() {
    let (app, _) = app().await;
    let coord = login(&app, "coord", "laptop-1").await;
    let bearer = format!("Bearer {}", coord.access_token);

    let r = call_full(&app, get_req("/v1/sync", &[&bearer])).await;
    assert_contract(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(r.1.get(header::ALLOW).expect("Allow"), "POST");
    let del = Request::delete("/v1/cases/case-1")
        .body(Body::empty())
        .expect("request");
    assert_contract(
        &call_full(&app, del).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert_contract(
        &call_full(&app, get_req("/v1/nowhere", &[])).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Percent-encoded bytes that are not UTF-8: the path extractor's rejection.
    for bad in ["/v1/cases/%FF", "/v1/cases/%ED%A0%80"] {
        assert_contract(
            &call_full(&app, get_req(bad, &[&bearer])).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    // A JSON body over the limit names the limit.
    let big = json!({"username": "coord", "password": "p".repeat(100 * 1024), "device_id": "x"});
    let r = call_full(&app, json_req("/v1/auth/login", None, &big)).await;
    assert_contract(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(String::from_utf8_lossy(&r.2).contains(&(64 * 1024).to_string()));
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let (app, _) = app().await;
    let coord = login(&app, "coord", "laptop-1").await;
    let chw = login(&app, "chw1", "phone-1").await;
    let coord_b = format!("Bearer {}", coord.access_token);
    let chw_b = format!("Bearer {}", chw.access_token);
    // Whatever the two hold — the same token, two users' tokens, one garbage — and in
    // either order.
    for pair in [
        [&coord_b, &coord_b],
        [&coord_b, &chw_b],
        [&chw_b, &coord_b],
        [&coord_b, &"Bearer garbage".to_owned()],
        [&"Basic Y29vcmQ6eA==".to_owned(), &coord_b],
    ] {
        let r = call_full(&app, get_req("/v1/cases/case-1", &[pair[0], pair[1]])).await;
        assert_contract(&r, StatusCode::UNAUTHORIZED, "ambiguous_credentials");
    }
    let ok = sync_request("phone-1", &[], vec![]);
    let mut req = sync_req(&chw.access_token, encode_request(&ok));
    req.headers_mut()
        .append(header::AUTHORIZATION, chw_b.parse().expect("header value"));
    assert_contract(
        &call_full(&app, req).await,
        StatusCode::UNAUTHORIZED,
        "ambiguous_credentials",
    );
    // One header still works.
    let (s, _) = call(&app, sync_req(&chw.access_token, encode_request(&ok))).await;
    assert_eq!(s, StatusCode::OK);
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

#[tokio::test]
async fn panics_and_plain_rejections_get_the_json_body() {
    let (_, st) = app().await;
    let routes = Router::new()
        .route("/panic", get(boom))
        .route(
            "/plain",
            get(|| async { (StatusCode::UNPROCESSABLE_ENTITY, "plain text") }),
        )
        .route("/empty", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    let app = crate::http::contract::speak_json(routes, &st).with_state(st);
    assert_contract(
        &call_full(&app, get_req("/panic", &[])).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    );
    assert_contract(
        &call_full(&app, get_req("/plain", &[])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "refused",
    );
    assert_contract(
        &call_full(&app, get_req("/empty", &[])).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "internal",
    );
}

#[tokio::test]
async fn dashboard_rejections_are_pages() {
    let (app, _) = app().await;
    // A login form without its fields: axum's form rejection, rendered as a page.
    let req = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("a=b"))
        .expect("request");
    let (s, h, b) = call_full(&app, req).await;
    assert!(s.is_client_error(), "{s}");
    assert!(h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html")));
    assert!(String::from_utf8_lossy(&b).contains("<html"));
}
