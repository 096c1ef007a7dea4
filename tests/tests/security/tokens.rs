//! Tokens, revocation, disabled users and reserved device ids.

use super::*;

fn claims(sub: &str, dev: &str, role: &str, exp: u64) -> Claims {
    Claims {
        sub: sub.into(),
        dev: dev.into(),
        role: role.into(),
        exp,
        iat: now_s() - 10,
    }
}

#[tokio::test]
async fn forged_and_expired_tokens_get_401() {
    let mut w = World::start();
    let secret = w.while_stopped(|data| jwt_secret(data).expect("secret"));
    let real = JwtKeys::new(&secret);
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let _chw_b = w.device("chw-b", "phone-b").await;
    chw.create(
        &new_case("case-t", DHAKA, "chw-a", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create");
    chw.sync().await.expect("sync");
    let before = w.served(&coord, &["case-t"]).await;

    let sign = |k: &JwtKeys, c: &Claims| k.sign(c).expect("sign");
    let valid = |role: &str| claims("chw-a", "phone-a", role, now_s() + 600);
    let parts: Vec<String> = chw.token.split('.').map(str::to_owned).collect();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).expect("json"));
    let payload = |role: &str| b64(serde_json::to_value(valid(role)).expect("json"));
    // Signed by hand (the server's jsonwebtoken provider signs HS256 only).
    let hand_signed = |alg: &str, claims: serde_json::Value| {
        use hmac::{Hmac, Mac};
        let message = format!(
            "{}.{}",
            b64(serde_json::json!({"alg": alg, "typ": "JWT"})),
            b64(claims)
        );
        let sig = match alg {
            "HS512" => {
                let mut m = <Hmac<sha2::Sha512>>::new_from_slice(&secret).expect("key");
                m.update(message.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = <Hmac<sha2::Sha256>>::new_from_slice(&secret).expect("key");
                m.update(message.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
        };
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let hs512 = hand_signed("HS512", serde_json::to_value(valid("chw")).expect("json"));
    let forged: Vec<(&str, String)> = vec![
        (
            "expired an hour ago",
            sign(&real, &claims("chw-a", "phone-a", "chw", now_s() - 3600)),
        ),
        (
            "expired a minute ago",
            sign(&real, &claims("chw-a", "phone-a", "chw", now_s() - 60)),
        ),
        (
            "payload swapped to coordinator, signature kept",
            format!("{}.{}.{}", parts[0], payload("coordinator"), parts[2]),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
                payload("chw")
            ),
        ),
        (
            "alg none with the old signature",
            format!(
                "{}.{}.{}",
                b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
                parts[1],
                parts[2]
            ),
        ),
        (
            "signed with another secret",
            sign(
                &JwtKeys::new(b"not the server's secret, 32 bytes"),
                &valid("chw"),
            ),
        ),
        ("HS512 with the real secret", hs512),
        (
            "real secret, role escalated to coordinator",
            sign(&real, &valid("coordinator")),
        ),
        (
            "real secret, role escalated to admin",
            sign(&real, &valid("admin")),
        ),
        (
            "real secret, another user's device",
            sign(&real, &claims("chw-a", "phone-b", "chw", now_s() + 600)),
        ),
        (
            "real secret, unknown user",
            sign(&real, &claims("ghost", "phone-a", "chw", now_s() + 600)),
        ),
        (
            "real secret, unknown device",
            sign(&real, &claims("chw-a", "phone-zz", "chw", now_s() + 600)),
        ),
        (
            "real secret, no exp",
            hand_signed(
                "HS256",
                serde_json::json!({"sub": "chw-a", "dev": "phone-a", "role": "chw", "iat": now_s()}),
            ),
        ),
        ("truncated", chw.token[..chw.token.len() - 5].to_owned()),
    ];
    let body = visit_push(&chw, "case-t", "forged");
    for (what, token) in &forged {
        let (status, resp) = post_sync(&w.http, &w.url(), token, body.clone())
            .await
            .expect("sync");
        let got = serde_json::from_slice::<serde_json::Value>(&resp)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned));
        assert_eq!(
            (status, got.as_deref()),
            (401, Some("invalid_token")),
            "sync, {what}"
        );
        assert_eq!(
            w.get(token, "/v1/cases/case-t").await,
            code(401, "invalid_token"),
            "GET, {what}"
        );
        assert_eq!(
            w.post_json(token, "/v1/cases/case-t/erase", serde_json::json!({}))
                .await,
            code(401, "invalid_token"),
            "erase, {what}"
        );
    }
    // The genuine token still works, and nothing changed.
    assert_eq!(w.get(&chw.token, "/v1/cases/case-t").await.0, 200);
    assert_eq!(w.served(&coord, &["case-t"]).await, before);
}

#[tokio::test]
async fn a_revoked_device_is_wiped_and_locked_out() {
    let mut w = World::start();
    // Log in once so the device exists, then revoke it with the CLI (server stopped).
    let first = login(
        &w.http,
        &w.url(),
        "chw-a",
        &w.spec("chw-a").password,
        "phone-lost",
    )
    .await
    .expect("login");
    let store =
        casesync_core::store::DeviceStore::open(&w.dir.path().join("phone-lost"), &test_key())
            .expect("store");
    let coord = w.device("coord-a", "laptop-a").await;
    let c = ctx("chw-a", Role::Chw);
    let mut doc = CaseDoc::create(
        &c,
        store.actor("phone-lost").expect("actor"),
        &new_case("case-l", DHAKA, "chw-a", "Lê Thị Mai", false),
    )
    .expect("create");
    store.save_local(&mut doc).expect("save");
    sync_store(
        &w.http,
        &w.url(),
        &first.access_token,
        &store,
        "phone-lost",
        0,
    )
    .await
    .expect("sync");
    coord.sync().await.expect("sync");
    let out = w.while_stopped(|data| {
        std::process::Command::new(server_bin().expect("bin"))
            .args(["device", "revoke", "phone-lost", "--data"])
            .arg(data)
            .output()
            .expect("cli")
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = w.url();
    let coord_token = login(
        &w.http,
        &url,
        "coord-a",
        &w.spec("coord-a").password,
        "laptop-a",
    )
    .await
    .expect("login")
    .access_token;
    let before = api_dump(&w.http, &url, &coord_token, "laptop-a", &["case-l"])
        .await
        .expect("dump");

    // A thief's unsent edit is not stored; the phone is told to wipe.
    let mut doc = store.load_case("case-l").expect("case");
    doc.set_actor(store.actor("phone-lost").expect("actor"));
    doc.add_visit(&c, &visit("stolen phone edit"))
        .expect("visit");
    store.save_local(&mut doc).expect("save");
    let (progress, step) = sync_store(&w.http, &url, &first.access_token, &store, "phone-lost", 0)
        .await
        .expect("sync");
    assert_eq!(step, Step::Wiped);
    assert_eq!(
        progress.wiped,
        Some(casesync_core::store::WipeReport {
            unsent_cases: 1,
            unsent_changes: 1
        }),
        "the wipe says what unsent work it destroyed"
    );
    assert!(
        store.case_ids().expect("ids").is_empty(),
        "local data wiped"
    );
    assert_eq!(
        w.get(&first.access_token, "/v1/cases/case-l").await,
        code(401, "device_revoked")
    );
    let relogin = w
        .http
        .post(format!("{url}/v1/auth/login"))
        .json(&serde_json::json!({"username": "chw-a", "password": w.spec("chw-a").password, "device_id": "phone-lost"}))
        .send()
        .await
        .expect("login");
    assert_eq!(status_code(relogin).await, code(401, "device_revoked"));
    let refresh = w
        .http
        .post(format!("{url}/v1/auth/refresh"))
        .json(&serde_json::json!({"refresh_token": first.refresh_token, "device_id": "phone-lost"}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(status_code(refresh).await, code(401, "device_revoked"));
    let after = api_dump(&w.http, &url, &coord_token, "laptop-a", &["case-l"])
        .await
        .expect("dump");
    assert_eq!(after, before, "the revoked device's push stored nothing");
}

/// Issue #13 item 4: a refresh retried after its answer was lost gets the same successor;
/// a spent token presented after its successor was used revokes the token family and
/// asks for the password, but the device is not revoked: nothing is wiped, and after a
/// password login its unsent work arrives.
#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_family_not_the_device() {
    let w = World::start();
    let mut phone = w.device("chw-a", "phone-a").await;
    let refresh = |tok: String| {
        let http = w.http.clone();
        let url = w.url();
        async move {
            let r = http
                .post(format!("{url}/v1/auth/refresh"))
                .json(&serde_json::json!({"refresh_token": tok, "device_id": "phone-a"}))
                .send()
                .await
                .expect("refresh");
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.expect("json");
            (status, v)
        }
    };
    let token = |v: &serde_json::Value| v["refresh_token"].as_str().expect("token").to_owned();
    let (s, rotated) = refresh(phone.refresh_token.clone()).await;
    assert_eq!(s, 200);
    let r2 = token(&rotated);
    // The answer was lost: the retry with the spent token gets the same successor.
    let (s, again) = refresh(phone.refresh_token.clone()).await;
    assert_eq!((s, token(&again)), (200, r2.clone()), "idempotent retry");
    let (s, third) = refresh(r2).await;
    assert_eq!(s, 200);
    let r3 = token(&third);
    // Its successor was used: presenting the first token now is reuse.
    let (s, v) = refresh(phone.refresh_token.clone()).await;
    assert_eq!((s, v["code"].as_str()), (401, Some("refresh_reused")));
    let (s, v) = refresh(r3).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (401, Some("refresh_reused")),
        "the whole family is dead: sign in with the password"
    );
    // The phone was not revoked: its offline work stays and goes out after a login.
    let c = ctx("chw-a", Role::Chw);
    phone
        .create(
            &new_case("case-r", DHAKA, "chw-a", "Rahima", false),
            c.now_ms,
        )
        .expect("offline case");
    phone
        .edit("case-r", c.now_ms, |d, c| {
            d.add_visit(c, &visit("visit kept")).map(|_| ())
        })
        .expect("offline visit");
    let again = login(
        &w.http,
        &w.url(),
        "chw-a",
        &w.spec("chw-a").password,
        "phone-a",
    )
    .await
    .expect("a password login works: the device is not revoked");
    phone.token = again.access_token;
    let (progress, step) = phone.sync().await.expect("sync");
    assert_eq!(step, Step::Done, "not wiped");
    assert_eq!(progress.docs_pushed, 1);
    assert!(phone.store.outbox().expect("outbox").is_empty());
    let coord = w.device("coord-a", "laptop-a").await;
    coord.sync().await.expect("coordinator sync");
    let case = coord.case("case-r").expect("the case arrived");
    assert_eq!(
        case.visits
            .values()
            .map(|v| v.notes.as_str())
            .collect::<Vec<_>>(),
        ["visit kept"]
    );
}

/// Issue #13: disabling a user wipes their phones at their next contact, whichever it
/// is: a sync with a still-valid access token (the wipe answer of a revoked device), a
/// token refresh or an API call (`device_revoked`, the code the app wipes on).
#[tokio::test]
async fn a_disabled_users_phones_are_wiped_at_their_next_contact() {
    let mut w = World::start();
    let phone = w.device("chw-a2", "phone-a2").await;
    let spare = w.device("chw-a2", "phone-a2-spare").await;
    let coord = w.device("coord-a", "laptop-a").await;
    phone
        .create(
            &new_case("case-x", DHAKA, "chw-a2", "Trần Văn Minh", false),
            1_000,
        )
        .expect("create");
    phone.sync().await.expect("sync");
    spare.sync().await.expect("sync");
    assert_eq!(spare.store.case_ids().expect("ids"), ["case-x"]);
    w.while_stopped(|data| cli(data, &["user", "disable", "chw-a2"]));

    let (_, step) = phone.sync_via(&w.url()).await.expect("sync");
    assert_eq!(step, Step::Wiped);
    assert!(phone.store.case_ids().expect("ids").is_empty());
    let refresh = w
        .http
        .post(format!("{}/v1/auth/refresh", w.url()))
        .json(&serde_json::json!({"refresh_token": spare.refresh_token, "device_id": spare.device_id}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(status_code(refresh).await, code(401, "device_revoked"));
    assert_eq!(
        w.get(&spare.token, "/v1/cases/case-x").await,
        code(401, "device_revoked")
    );
    let relogin = login(
        &w.http,
        &w.url(),
        "chw-a2",
        &w.spec("chw-a2").password,
        "phone-a2-new",
    )
    .await;
    assert!(relogin.is_err(), "a disabled user cannot log in");
    // What the server acknowledged stays.
    coord.sync_via(&w.url()).await.expect("sync");
    assert!(coord.case("case-x").is_ok());
}

/// Issue #14: device ids are chosen by the app, and the server signs its own edits as
/// `server:<user>` (dashboard, import) and `web:<hex>` (dashboard sessions): a phone
/// logging in as `server:coord-a` would sign like coord-a's dashboard edits.
#[tokio::test]
async fn reserved_device_ids_are_refused_at_login() {
    let mut w = World::start();
    let before = stored(&mut w);
    let spec = w.spec("coord-a");
    for id in [
        "server:coord-a",
        "web:00ff",
        "admin:coord-a",
        "Server:coord-a",
    ] {
        let r = w
            .http
            .post(format!("{}/v1/auth/login", w.url()))
            .json(&serde_json::json!({
                "username": spec.username, "password": spec.password, "device_id": id
            }))
            .send()
            .await
            .expect("login");
        assert_eq!(status_code(r).await, code(400, "bad_request"), "{id}");
    }
    let after = stored(&mut w);
    unchanged(&before, &after, "refused logins");
    // An ordinary device id still works.
    w.device("coord-a", "laptop-সমন্বয়").await;
}
