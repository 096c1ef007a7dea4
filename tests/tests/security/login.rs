//! Logins: brute force, client addresses, credentials.

use super::*;

/// One login over HTTP from this test's address (127.0.0.1), optionally through a proxy
/// that names the client in `X-Forwarded-For`: status, code and `Retry-After`.
async fn try_login(
    http: &reqwest::Client,
    url: &str,
    user: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> ((u16, Option<String>), Option<u64>) {
    let mut rb = http.post(format!("{url}/v1/auth/login")).json(
        &serde_json::json!({"username": user, "password": password, "device_id": "attacker"}),
    );
    if let Some(f) = forwarded_for {
        rb = rb.header("x-forwarded-for", f);
    }
    let r = rb.send().await.expect("login");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (status_code(r).await, retry)
}

/// Short login delays, so that the tests of throttling do not take minutes (the delays
/// themselves are checked by the unit tests of `auth::rate_limit`).
const SHORT_DELAYS: (&str, &str) = ("CASESYNC_LOGIN_MAX_DELAY_MS", "200");

/// Guessing one account's password from one address is refused after 5 failures — for
/// that account from that address only, even with the right password. Spread over many
/// accounts (from one shared address: a proxy, carrier NAT) it refuses no other account.
#[tokio::test]
async fn brute_force_login_is_throttled_per_account_and_address_and_stores_nothing() {
    let mut w = World::start_with_env(&[SHORT_DELAYS]);
    let before = w.while_stopped(|data| sled_dump(data).expect("dump"));
    let url = w.url();
    let http = w.http.clone();
    for i in 0..5 {
        assert_eq!(
            try_login(&http, &url, "chw-a", &format!("guess-{i}"), None)
                .await
                .0,
            code(401, "bad_credentials")
        );
    }
    let right = w.spec("chw-a").password;
    let (answer, retry) = try_login(&http, &url, "chw-a", &right, None).await;
    assert_eq!(
        answer,
        code(429, "rate_limited"),
        "this address is refused this account even with the right password"
    );
    assert!(
        retry.is_some_and(|s| (1..=60).contains(&s)),
        "Retry-After within the pair window: {retry:?}"
    );
    assert_eq!(
        try_login(&http, &url, "CHW-A", &right, None).await.0,
        code(429, "rate_limited"),
        "case does not reset the count"
    );
    // Spread over usernames: 40 failures from one address. Each account is refused only
    // after its own 5 failures from here.
    let spread = [
        "chw-b",
        "coord-b",
        "chw-a2",
        "nobody",
        "admin",
        "coord-plain",
    ];
    for i in 0..40 {
        let user = spread[i % spread.len()];
        let r = try_login(&http, &url, user, &format!("guess-{i}"), None)
            .await
            .0;
        let want = if i / spread.len() >= 5 {
            code(429, "rate_limited")
        } else {
            code(401, "bad_credentials")
        };
        assert_eq!(r, want, "attempt {i} on {user}");
    }
    let after = w.while_stopped(|data| sled_dump(data).expect("dump"));
    assert!(
        dump_diff(&before, &after, |_, _| false).is_empty(),
        "failed logins store nothing"
    );
    // 45 failures from this address: its other users still log in (slowed, not refused).
    let coord = w.spec("coord-a").password;
    assert_eq!(
        try_login(&w.http, &w.url(), "coord-a", &coord, None)
            .await
            .0
             .0,
        200,
        "an account this address did not guess is never refused"
    );
}

/// The failure of issue #13: forty failed logins with junk usernames from one address
/// made the coordinator's correct password answer 429 from that address, in the
/// dashboard too; and the junk usernames were kept whole as limiter keys.
#[tokio::test]
async fn junk_logins_never_lock_out_the_right_password_nor_hold_memory() {
    let w = World::start_with_env(&[SHORT_DELAYS]);
    let url = w.url();
    let mut failures = Vec::new();
    // Usernames of 4 MiB each: nothing of them is kept after the request.
    let rss = || -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", w.server.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let rss_before = rss();
    for i in 0..40u8 {
        let huge = String::from_utf8(vec![b'a' + i % 26; 4 << 20]).expect("ascii");
        let r = try_login(&w.http, &url, &huge, "guess", None).await.0;
        if r != code(401, "bad_credentials") {
            failures.push(format!("username of 4 MiB: {r:?}"));
        }
    }
    if let (Some(a), Some(b)) = (rss_before, rss()) {
        let grown_mib = b.saturating_sub(a) / 1024;
        println!("server RSS {a} KiB -> {b} KiB after 40 usernames of 4 MiB");
        // Buffers freed but kept by the allocator for reuse: a few requests' worth.
        if grown_mib >= 96 {
            failures.push(format!(
                "160 MiB of junk usernames kept: RSS +{grown_mib} MiB"
            ));
        }
    }
    for i in 0..40 {
        let junk = format!("junk user {i} {}", "x".repeat(i * 10));
        let r = try_login(&w.http, &url, &junk, "guess", None).await.0;
        if r != code(401, "bad_credentials") {
            failures.push(format!("junk login {i}: {r:?}"));
        }
    }
    let coord = w.spec("coord-a").password;
    let r = try_login(&w.http, &url, "coord-a", &coord, None).await.0;
    if r.0 != 200 {
        failures.push(format!(
            "the right password from the flooded address: {r:?}"
        ));
    }
    // The dashboard's sign-in from the same address.
    let page = w
        .http
        .get(format!("{url}/login"))
        .send()
        .await
        .expect("login page");
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("casesync_login="))
        .and_then(|c| c.split(';').next())
        .expect("login cookie")
        .to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed = no_redirects
        .post(format!("{url}/login"))
        .header("cookie", format!("casesync_login={cookie}"))
        .form(&[
            ("username", "coord-a"),
            ("password", coord.as_str()),
            ("csrf", cookie.as_str()),
        ])
        .send()
        .await
        .expect("sign in");
    if signed.status().as_u16() != 303 {
        failures.push(format!("dashboard sign-in: {}", signed.status()));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// `X-Forwarded-For` names the client only when the connection comes from a configured
/// trusted proxy (`--trusted-proxy`), and then only the address that proxy appended:
/// two clients behind the proxy are throttled separately, and a client cannot pick its
/// own address by sending the header itself.
#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    let right = user("chw-a", Role::Chw, DHAKA, false).password;
    // Not trusted: the header is ignored, every request is 127.0.0.1's.
    let w = World::start_with_env(&[SHORT_DELAYS]);
    for i in 0..5 {
        let r = try_login(
            &w.http,
            &w.url(),
            "chw-a",
            &format!("g{i}"),
            Some("203.0.113.1"),
        )
        .await;
        assert_eq!(r.0, code(401, "bad_credentials"));
    }
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("198.51.100.2"))
            .await
            .0,
        code(429, "rate_limited"),
        "a forwarded address from an untrusted peer is not believed"
    );
    drop(w);

    let w = World::start_with_env(&[SHORT_DELAYS, ("CASESYNC_TRUSTED_PROXIES", "127.0.0.1")]);
    for i in 0..5 {
        let r = try_login(
            &w.http,
            &w.url(),
            "chw-a",
            &format!("g{i}"),
            Some("203.0.113.1"),
        )
        .await;
        assert_eq!(r.0, code(401, "bad_credentials"));
    }
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("203.0.113.1"))
            .await
            .0,
        code(429, "rate_limited"),
        "the guessing client is refused"
    );
    assert_eq!(
        try_login(
            &w.http,
            &w.url(),
            "chw-a",
            &right,
            Some("198.51.100.2, 203.0.113.1")
        )
        .await
        .0,
        code(429, "rate_limited"),
        "what the client wrote left of the proxy's entry is not believed"
    );
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("198.51.100.2"))
            .await
            .0
             .0,
        200,
        "another client behind the same proxy logs in"
    );
    assert_eq!(
        try_login(&w.http, &w.url(), "chw-a", &right, Some("203.0.113.1"))
            .await
            .0,
        code(429, "rate_limited"),
        "the guessing client stays refused for its window"
    );
}

/// Two `Authorization` headers are refused whatever they hold: a server that took the
/// first (or the last) would let a CHW's request carry a coordinator's token past a
/// proxy that checked the other one.
#[tokio::test]
async fn two_authorization_headers_never_pick_a_caller() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    let before = w
        .shared(
            &chw,
            &coord,
            new_case("case-2h", DHAKA, "chw-a", "زهرا احمدی", false),
            &["case-2h", "case-new"],
        )
        .await;
    let new = serde_json::to_value(new_case("case-new", DHAKA, "chw-a", "Lê Văn Tám", false))
        .expect("json");
    let sync_body = visit_push(&chw, "case-2h", "two headers");
    let url = w.url();
    for (first, second) in [
        (&chw.token, &coord.token),
        (&coord.token, &chw.token),
        (&chw.token, &chw.token),
    ] {
        let two = |rb: reqwest::RequestBuilder| {
            rb.bearer_auth(first)
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {second}"))
        };
        let requests = [
            two(w.http.get(format!("{url}/v1/cases/case-2h"))),
            two(w.http.post(format!("{url}/v1/cases/case-2h/erase"))),
            two(w.http.post(format!("{url}/v1/cases")).json(&new)),
            two(w.http.post(format!("{url}/v1/sync")))
                .header("content-type", casesync_core::protocol::CONTENT_TYPE)
                .body(sync_body.clone()),
        ];
        for rb in requests {
            let resp = rb.send().await.expect("send");
            let what = resp.url().path().to_owned();
            assert_eq!(
                status_code(resp).await,
                code(401, "ambiguous_credentials"),
                "{what}"
            );
        }
    }
    assert_eq!(w.served(&coord, &["case-2h", "case-new"]).await, before);
    // One header still works.
    assert_eq!(w.get(&coord.token, "/v1/cases/case-2h").await.0, 200);
}
