//! The admin page's forms: each act through the same function as the admin API, only
//! for an administrator, only with the session's CSRF token; a refusal changes nothing.

use super::*;

async fn admin_page(d: &Demo, jar: &str) -> (String, String) {
    let page = send(&d.app, get("/dashboard/admin", jar)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (csrf_of(&page.body), page.body)
}

#[tokio::test]
async fn an_administrator_revokes_resets_and_adds_through_the_forms() {
    let d = demo_app().await;
    d.st.auth
        .login("chw1", "demo-chw1-pass", "phone-chw1", "127.0.0.1")
        .await
        .expect("phone login");
    let jar = sign_in(&d.app, "admin").await;
    let (csrf, body) = admin_page(&d, &jar).await;
    assert!(
        body.contains("/dashboard/admin/devices/phone-chw1/revoke"),
        "a revoke form"
    );

    let revoked = |d: &Demo| {
        d.st.store
            .device("phone-chw1")
            .expect("read")
            .expect("device")
            .revoked
    };
    let before = d.st.store.dump().expect("dump");
    for bad in ["", "not-the-token"] {
        let r = send(
            &d.app,
            post(
                "/dashboard/admin/devices/phone-chw1/revoke",
                &jar,
                &[("csrf", bad)],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(d.st.store.dump().expect("dump"), before, "nothing changed");
    let r = send(
        &d.app,
        post(
            "/dashboard/admin/devices/phone-chw1/revoke",
            &jar,
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/dashboard/admin");
    assert!(revoked(&d));
    let (_, body) = admin_page(&d, &jar).await;
    assert!(body.contains("/dashboard/admin/devices/phone-chw1/unrevoke"));
    let r = send(
        &d.app,
        post(
            "/dashboard/admin/devices/phone-chw1/unrevoke",
            &jar,
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!revoked(&d));

    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users/chw1/password",
            &jar,
            &[("csrf", &csrf), ("temporary_password", "tạm-thời-2026")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let chw1 = d.st.store.user("chw1").expect("read").expect("user");
    assert!(chw1.must_change_password);
    let refused =
        d.st.auth
            .login("chw1", "tạm-thời-2026", "phone-chw1", "127.0.0.1")
            .await;
    assert!(matches!(
        refused,
        Err(crate::error::AppError::PasswordChangeRequired)
    ));

    let before = d.st.store.dump().expect("dump");
    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users",
            &jar,
            &[
                ("csrf", &csrf),
                ("username", "somchai"),
                ("role", "chw"),
                ("districts", ""),
                ("password", "รหัสผ่าน-ยาว"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a CHW needs a district");
    assert_eq!(d.st.store.dump().expect("dump"), before, "nothing stored");
    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users",
            &jar,
            &[
                ("csrf", &csrf),
                ("username", "somchai"),
                ("role", "chw"),
                ("districts", "เชียงใหม่, ลำพูน"),
                ("password", "รหัสผ่าน-ยาว"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let somchai = d.st.store.user("somchai").expect("read").expect("stored");
    assert_eq!(somchai.districts, vec!["เชียงใหม่", "ลำพูน"]);

    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users/admin/disable",
            &jar,
            &[("csrf", &csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "not one's own account");
    assert!(
        !d.st
            .store
            .user("admin")
            .expect("read")
            .expect("user")
            .disabled
    );
}

#[tokio::test]
async fn a_coordinator_cannot_use_the_admin_forms() {
    let d = demo_app().await;
    let jar = sign_in(&d.app, "coord").await;
    let csrf = csrf_of(&send(&d.app, get("/dashboard", &jar)).await.body);
    let before = d.st.store.dump().expect("dump");
    for (uri, pairs) in [
        (
            "/dashboard/admin/users/chw1/disable",
            vec![("csrf", csrf.as_str())],
        ),
        (
            "/dashboard/admin/users/chw1/password",
            vec![
                ("csrf", csrf.as_str()),
                ("temporary_password", "taken-over-1"),
            ],
        ),
        (
            "/dashboard/admin/users",
            vec![
                ("csrf", csrf.as_str()),
                ("username", "intruder"),
                ("role", "admin"),
                ("password", "long-enough-1"),
            ],
        ),
    ] {
        let r = send(&d.app, post(uri, &jar, &pairs)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(d.st.store.dump().expect("dump"), before, "nothing changed");
}

#[tokio::test]
async fn a_users_own_time_zone_is_set_by_an_administrator_and_shown_on_their_pages() {
    let d = demo_app().await;
    let admin = sign_in(&d.app, "admin").await;
    let (csrf, _) = admin_page(&d, &admin).await;
    let zone_of = |d: &Demo| {
        d.st.store
            .user("coord")
            .expect("read")
            .expect("user")
            .time_zone
    };
    let overview = |jar: String| {
        let app = d.app.clone();
        async move {
            let page = send(&app, get("/dashboard", &jar)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            page.body
        }
    };

    let before = d.st.store.dump().expect("dump");
    for bad in ["Mars/Olympus", "آسیا/تهران", "Asia/Tehran\u{0}"] {
        let r = send(
            &d.app,
            post(
                "/dashboard/admin/users/coord/time-zone",
                &admin,
                &[("csrf", &csrf), ("time_zone", bad)],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.body);
    }
    assert_eq!(d.st.store.dump().expect("dump"), before, "nothing changed");

    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users/coord/time-zone",
            &admin,
            &[("csrf", &csrf), ("time_zone", " Asia/Tehran ")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(zone_of(&d).as_deref(), Some("Asia/Tehran"));
    let (_, page) = admin_page(&d, &admin).await;
    assert!(
        page.contains("value=\"Asia/Tehran\""),
        "the admin page shows it"
    );

    let coord = sign_in(&d.app, "coord").await;
    let other = sign_in(&d.app, "coordns").await;
    assert!(overview(coord.clone()).await.contains("Asia/Tehran"));
    let theirs = overview(other.clone()).await;
    assert!(
        theirs.contains("UTC") && !theirs.contains("Asia/Tehran"),
        "another coordinator keeps the deployment's zone"
    );

    // The same form again is a no-op; an empty zone goes back to the deployment's.
    let before = d.st.store.dump().expect("dump");
    let again = [("csrf", csrf.as_str()), ("time_zone", "Asia/Tehran")];
    let r = send(
        &d.app,
        post("/dashboard/admin/users/coord/time-zone", &admin, &again),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        d.st.store.dump().expect("dump"),
        before,
        "a repeat writes nothing"
    );
    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users/coord/time-zone",
            &admin,
            &[("csrf", &csrf), ("time_zone", "")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(zone_of(&d), None);
    assert!(!overview(coord).await.contains("Asia/Tehran"));

    // Only an administrator sets it.
    let csrf_other = csrf_of(&send(&d.app, get("/dashboard", &other)).await.body);
    let before = d.st.store.dump().expect("dump");
    let r = send(
        &d.app,
        post(
            "/dashboard/admin/users/coordns/time-zone",
            &other,
            &[("csrf", &csrf_other), ("time_zone", "Asia/Dhaka")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(d.st.store.dump().expect("dump"), before, "nothing changed");
}
