//! Rows for `/v1/auth`.

use super::*;

fn login_body(user: &str, password: &str, device: &str) -> Vec<u8> {
    serde_json::to_vec(
        &serde_json::json!({"username": user, "password": password, "device_id": device}),
    )
    .expect("json")
}

pub(super) fn auth_rows() -> Vec<Row> {
    let l = |name: &str| Row::new(name, "POST", "/v1/auth/login");
    let pw_a = spec("chw-a").password;
    let pw_b = spec("chw-b").password;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    vec![
        l("login: missing password")
            .json(r#"{"username":"chw-a","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: username is a number")
            .json(r#"{"username":42,"password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: password is null")
            .json(r#"{"username":"chw-a","password":null,"device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: username is an array")
            .json(r#"{"username":["chw-a"],"password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: not JSON").json("garbage{").expect(400, "bad_request"),
        l("login: empty body").json("").expect(400, "bad_request"),
        l("login: duplicate keys")
            .json(r#"{"username":"chw-b","username":"chw-a","password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: 5000-deep nesting")
            .json(deep)
            .expect(400, "bad_request"),
        l("login: lone surrogate in username")
            .json(r#"{"username":"\ud800","password":"x","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: lone surrogate in password")
            .json(r#"{"username":"chw-a","password":"\udfff","device_id":"p"}"#)
            .expect(400, "bad_request"),
        l("login: no content type")
            .header("x-none", "1")
            .expect(415, "unsupported_media_type"),
        {
            let mut r = l("login: text/plain").header("content-type", "text/plain");
            r.body = login_body("chw-a", &pw_a, "p");
            r.expect(415, "unsupported_media_type")
        },
        l("login: 10 MB password")
            .json(login_body("chw-a", &"p".repeat(10_000_000), "phone-x"))
            .expect(413, "payload_too_large"),
        l("login: 1 MB wrong password")
            .json(login_body("coord", &"p".repeat(1_000_000), "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: NUL in username")
            .json(login_body("chw-a\0", &pw_a, "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: RTL override username")
            .json(login_body("\u{202e}a-whc", &pw_a, "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: emoji username")
            .json(login_body("👩\u{200d}⚕\u{fe0f}", "x", "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: fullwidth look-alike username")
            .json(login_body("ｃｈｗ-ａ", &pw_a, "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: 100 KB username")
            .json(login_body(&"u".repeat(100_000), "x", "phone-x"))
            .expect(401, "bad_credentials"),
        l("login: empty device id")
            .json(login_body("chw-a", &pw_a, ""))
            .expect(400, "bad_request"),
        l("login: device id of 129 bytes")
            .json(login_body("chw-a", &pw_a, &"d".repeat(129)))
            .expect(400, "bad_request"),
        l("login: device id of 33 emoji (132 bytes)")
            .json(login_body("chw-a", &pw_a, &"😀".repeat(33)))
            .expect(400, "bad_request"),
        l("login: NUL device id")
            .json(login_body("chw-a", &pw_a, "\0"))
            .expect(400, "bad_request"),
        l("login: BEL in device id")
            .json(login_body("chw-a", &pw_a, "phone\u{7}"))
            .expect(400, "bad_request"),
        l("login: C1 control (NEL) in device id")
            .json(login_body("chw-a", &pw_a, "phone\u{85}"))
            .expect(400, "bad_request"),
        l("login: another user's device")
            .json(login_body("chw-b", &pw_b, "phone-a"))
            .expect(403, "device_taken"),
        Row::new("refresh: garbage token", "POST", "/v1/auth/refresh")
            .json(r#"{"refresh_token":"garbage","device_id":"phone-a"}"#)
            .expect(401, "invalid_token"),
        Row::new("refresh: unknown device", "POST", "/v1/auth/refresh")
            .json(r#"{"refresh_token":"garbage","device_id":"no-such-phone"}"#)
            .expect(401, "invalid_token"),
        Row::new("refresh: missing device id", "POST", "/v1/auth/refresh")
            .json(r#"{"refresh_token":"garbage"}"#)
            .expect(400, "bad_request"),
        Row::new("refresh: 1 MB token", "POST", "/v1/auth/refresh")
            .json(
                serde_json::to_vec(&serde_json::json!({"refresh_token": "r".repeat(1_000_000), "device_id": "phone-a"}))
                    .expect("json"),
            )
            .expect(401, "invalid_token"),
    ]
}
