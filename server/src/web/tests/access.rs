//! Sign-in, sessions, CSRF and what each role may see and do.

use super::*;

#[tokio::test]
async fn signed_out_visitors_land_on_the_login_page() {
    let d = demo_app().await;
    for path in [
        "/",
        "/dashboard",
        "/dashboard/cases/demo-0001",
        "/dashboard/admin",
    ] {
        let r = send(&d.app, get(path, "")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), "/login", "{path}");
    }
    let r = send(&d.app, get("/dashboard", "casesync_session=forged")).await;
    assert_eq!(r.location(), "/login");
    let r = send(&d.app, get("/login", "")).await;
    assert!(r.body.contains(r#"<form method="post" action="/login""#));
    assert!(r.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("csp")
        .contains("default-src 'none'"));
    // A POST is refused the same way.
    let r = send(
        &d.app,
        post("/dashboard/cases/demo-0001/reassign", "", &[("to", "chw1")]),
    )
    .await;
    assert_eq!(r.location(), "/login");
}

#[tokio::test]
async fn login_checks_password_rate_limit_and_its_own_csrf() {
    let d = demo_app().await;
    let page = send(&d.app, get("/login", "")).await;
    let token = page
        .cookie(crate::web::session::LOGIN_COOKIE)
        .expect("cookie");
    let jar = format!("{}={token}", crate::web::session::LOGIN_COOKIE);
    // No double-submit cookie: refused before the password is checked.
    let r = send(
        &d.app,
        post(
            "/login",
            "",
            &[
                ("username", "coord"),
                ("password", "demo-coord-pass"),
                ("csrf", &token),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.cookie(crate::web::session::SESSION_COOKIE).is_none());
    for _ in 0..3 {
        let r = send(
            &d.app,
            post(
                "/login",
                &jar,
                &[
                    ("username", "coord"),
                    ("password", "wrong"),
                    ("csrf", &token),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("Wrong username or password"));
        assert!(r.cookie(crate::web::session::SESSION_COOKIE).is_none());
    }
    // The API's limiter (3 per account and address in these settings) now refuses even
    // the right one from this address.
    let r = send(
        &d.app,
        post(
            "/login",
            &jar,
            &[
                ("username", "coord"),
                ("password", "demo-coord-pass"),
                ("csrf", &token),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another user is not affected.
    sign_in(&d.app, "chw1").await;
}

#[tokio::test]
async fn sessions_end_at_logout_and_when_the_user_is_disabled() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let page = send(&d.app, get("/dashboard", &jar)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.body);
    // Logout needs the CSRF token too.
    let r = send(&d.app, post("/logout", &jar, &[("csrf", "nope")])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(&d.app, post("/logout", &jar, &[("csrf", &csrf)])).await;
    assert_eq!(r.location(), "/login");
    assert_eq!(
        send(&d.app, get("/dashboard", &jar)).await.location(),
        "/login"
    );
    // The sign-in's device record is revoked.
    let web: Vec<_> =
        d.st.store
            .devices()
            .expect("devices")
            .into_iter()
            .filter(|x| x.device_id.starts_with("web:"))
            .collect();
    assert_eq!(web.len(), 1);
    assert!(web[0].revoked);

    let jar = sign_in(&d.app, "coord").await;
    let mut u = d.st.store.user("coord").expect("u").expect("coord");
    u.disabled = true;
    d.st.store.put_user(&u).expect("put");
    assert_eq!(
        send(&d.app, get("/dashboard", &jar)).await.location(),
        "/login"
    );
}

#[tokio::test]
async fn each_role_sees_only_its_scope() {
    let d = demo_app().await;
    let cases = all_cases(&d.st);
    let sensitive = cases.iter().find(|c| c.sensitive).expect("sensitive case");
    let of_chw2 = cases
        .iter()
        .find(|c| c.assigned_to == "chw2")
        .expect("chw2 case");

    // CHW: own cases only, read-only, no coordinator pages.
    let jar = sign_in(&d.app, "chw1").await;
    let mut page = 1;
    let mut seen = 0;
    loop {
        let r = send(&d.app, get(&format!("/dashboard/cases?page={page}"), &jar)).await;
        assert_eq!(r.status, StatusCode::OK);
        for row in r.body.split(r#"<td data-col="chw">"#).skip(1) {
            assert!(row.starts_with("<bdi>chw1<"), "{}", &row[..20]);
            seen += 1;
        }
        if !r.body.contains(r#"rel="next""#) {
            break;
        }
        page += 1;
    }
    assert_eq!(
        seen,
        cases.iter().filter(|c| c.assigned_to == "chw1").count()
    );
    let r = send(
        &d.app,
        get(&format!("/dashboard/cases/{}", of_chw2.id), &jar),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains(&of_chw2.client.name));
    let own = cases.iter().find(|c| c.assigned_to == "chw1").expect("own");
    let r = send(&d.app, get(&format!("/dashboard/cases/{}", own.id), &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains(r#"id="reassign""#));
    for path in [
        "/dashboard/chws",
        "/dashboard/review",
        "/dashboard/export/cases.csv",
        "/dashboard/admin",
    ] {
        assert_eq!(
            send(&d.app, get(path, &jar)).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let csrf = csrf_of(&send(&d.app, get("/dashboard", &jar)).await.body);
    let r = send(
        &d.app,
        post(
            &format!("/dashboard/cases/{}/reassign", own.id),
            &jar,
            &[("csrf", &csrf), ("to", "chw2")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Admin: users and devices, no case content.
    let jar = sign_in(&d.app, "admin").await;
    assert_eq!(
        send(&d.app, get("/", &jar)).await.location(),
        "/dashboard/admin"
    );
    let r = send(&d.app, get("/dashboard/admin", &jar)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("chw1") && r.body.contains("web:"));
    // Every district a user names, with its staff (the demo's one district).
    assert!(r.body.contains(r#"<table id="districts">"#));
    assert!(r.body.contains(&format!(
        r#"data-district="{}""#,
        crate::demo::DEMO_DISTRICT
    )));
    assert!(cases.iter().all(|c| !r.body.contains(&c.client.name)));
    for path in [
        "/dashboard",
        "/dashboard/cases",
        "/dashboard/cases/demo-0001",
        "/dashboard/indicators.json",
    ] {
        assert_eq!(
            send(&d.app, get(path, &jar)).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    // Coordinator without sensitive access: sensitive cases are not there.
    let jar = sign_in(&d.app, "coordns").await;
    let r = send(
        &d.app,
        get(&format!("/dashboard/cases/{}", sensitive.id), &jar),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&d.app, get("/dashboard/export/cases.csv", &jar)).await;
    assert!(!r.body.contains(&format!("{},", sensitive.id)));
    assert_eq!(
        r.body.lines().count() - 1,
        cases.iter().filter(|c| !c.sensitive).count()
    );
    // With access: there.
    let jar = sign_in(&d.app, "coord").await;
    let r = send(
        &d.app,
        get(&format!("/dashboard/cases/{}", sensitive.id), &jar),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Coordinator of another district: nothing, and no writes.
    let jar = sign_in(&d.app, "coord2").await;
    let r = send(&d.app, get("/dashboard/cases/demo-0001", &jar)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let csrf = csrf_of(&send(&d.app, get("/dashboard", &jar)).await.body);
    let r = send(
        &d.app,
        post(
            "/dashboard/cases/demo-0001/reassign",
            &jar,
            &[("csrf", &csrf), ("to", "chw2")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn posts_without_the_sessions_csrf_token_change_nothing() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let other = sign_in(&d.app, "coord").await;
    let other_csrf = csrf_of(&send(&d.app, get("/dashboard", &other)).await.body);
    let csrf = csrf_of(&send(&d.app, get("/dashboard", &jar)).await.body);
    assert_ne!(csrf, other_csrf, "one token per session");
    let before = d.st.store.last_seq().expect("seq");
    let target = "/dashboard/cases/demo-0001/reassign";
    for bad in [
        vec![("to", "chw1")],
        vec![("csrf", ""), ("to", "chw1")],
        vec![("csrf", other_csrf.as_str()), ("to", "chw1")],
    ] {
        let r = send(&d.app, post(target, &jar, &bad)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.body.contains("did not come from this site"));
    }
    for (path, fields) in [
        (
            "/dashboard/cases/demo-0005/acknowledge",
            vec![("csrf", "x")],
        ),
        (
            "/dashboard/cases/demo-0003/close",
            vec![("csrf", "x"), ("reason", "withdrew"), ("agreed", "on")],
        ),
        (
            "/dashboard/cases/demo-0007/resolve",
            vec![
                ("csrf", "x"),
                ("path", "assessment.safety_risk"),
                ("value", "\"high\""),
            ],
        ),
    ] {
        assert_eq!(
            send(&d.app, post(path, &jar, &fields)).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // The right token from another origin is refused too.
    let mut req = post(target, &jar, &[("csrf", &csrf), ("to", "chw1")]);
    req.headers_mut().insert(
        header::ORIGIN,
        "http://evil.example".parse().expect("origin"),
    );
    req.headers_mut()
        .insert(header::HOST, "127.0.0.1:8080".parse().expect("host"));
    assert_eq!(send(&d.app, req).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        d.st.store.last_seq().expect("seq"),
        before,
        "nothing stored"
    );
}

/// axum's own rejections on dashboard routes (a query or form that does not
/// deserialize, e.g. a repeated field) are the dashboard's error page, with its headers, not plain text.
#[tokio::test]
async fn malformed_queries_and_forms_get_the_error_page() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    for uri in [
        "/dashboard/cases?q=a&q=b",
        "/dashboard/export/cases.csv?stage=intake&stage=closed",
    ] {
        let r = send(&d.app, get(uri, &jar)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
        assert!(
            r.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/html")),
            "{uri}"
        );
        assert!(r.body.contains("<html"), "{uri}");
        assert_eq!(
            r.headers.get(header::CACHE_CONTROL).expect("cc"),
            "no-store"
        );
    }
    let r = send(&d.app, post("/login", "", &[("a", "b")])).await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert!(r.body.contains("<html"), "{}", r.body);
}
