//! Snapshots of the auth messages and the error codes: a change here is a change of the
//! HTTP API every phone in the field speaks.

use super::*;

#[test]
fn the_error_codes_are_pinned() {
    let wire: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        wire.join(" "),
        "bad_credentials user_disabled device_revoked device_taken refresh_reused \
         refresh_expired unauthorized ambiguous_credentials invalid_token rate_limited \
         forbidden device_mismatch not_found method_not_allowed conflict bad_message \
         unsupported_version bad_cursor bad_request invalid_case unsupported_media_type \
         payload_too_large request_timeout internal unavailable refused \
         password_change_required"
    );
    for c in ErrorCode::ALL {
        let json = serde_json::to_string(c).expect("json");
        assert_eq!(json, format!("\"{}\"", c.as_str()));
        assert_eq!(serde_json::from_str::<ErrorCode>(&json).expect("back"), *c);
        assert_eq!(ErrorCode::parse(c.as_str()), *c);
    }
    // A code from a newer server is read, not refused.
    let body: ErrorBody =
        serde_json::from_str(r#"{"code":"quota_exceeded","message":"Đã vượt hạn mức"}"#)
            .expect("body");
    assert_eq!(body.code, ErrorCode::Unknown);
    assert_eq!(ErrorCode::parse("quota_exceeded"), ErrorCode::Unknown);
}

#[test]
fn the_auth_messages_are_pinned() {
    let login = LoginRequest {
        username: "amina".into(),
        password: "পাসওয়ার্ড-২০২৪".into(),
        device_id: "device-1".into(),
    };
    assert_eq!(
        serde_json::to_string(&login).expect("json"),
        r#"{"username":"amina","password":"পাসওয়ার্ড-২০২৪","device_id":"device-1"}"#
    );
    let refresh = RefreshRequest {
        refresh_token: "r1".into(),
        device_id: "device-1".into(),
    };
    assert_eq!(
        serde_json::to_string(&refresh).expect("json"),
        r#"{"refresh_token":"r1","device_id":"device-1"}"#
    );
    let change = PasswordChangeRequest {
        username: "somchai".into(),
        old_password: "ชั่วคราว-123".into(),
        new_password: "mật-khẩu-mới".into(),
    };
    assert_eq!(
        serde_json::to_string(&change).expect("json"),
        r#"{"username":"somchai","old_password":"ชั่วคราว-123","new_password":"mật-khẩu-mới"}"#
    );
    let tokens = TokenResponse {
        access_token: "a".into(),
        refresh_token: "r2".into(),
        expires_in: 900,
        user_id: "amina".into(),
        role: Role::Coordinator,
    };
    let json = serde_json::to_string(&tokens).expect("json");
    assert_eq!(
        json,
        r#"{"access_token":"a","refresh_token":"r2","expires_in":900,"user_id":"amina","role":"coordinator"}"#
    );
    assert_eq!(
        serde_json::from_str::<TokenResponse>(&json).expect("back"),
        tokens
    );
    let err = ErrorBody {
        code: ErrorCode::RateLimited,
        message: "خیلی زیاد".into(),
    };
    assert_eq!(
        serde_json::to_string(&err).expect("json"),
        r#"{"code":"rate_limited","message":"خیلی زیاد"}"#
    );
}

/// Credentials never show in `{:?}` (a request or response logged by mistake).
#[test]
fn debug_output_hides_credentials() {
    let login = LoginRequest {
        username: "amina".into(),
        password: "পাসওয়ার্ড-২০২৪".into(),
        device_id: "device-1".into(),
    };
    let refresh = RefreshRequest {
        refresh_token: "refresh-secret".into(),
        device_id: "device-1".into(),
    };
    let change = PasswordChangeRequest {
        username: "somchai".into(),
        old_password: "ชั่วคราว-123".into(),
        new_password: "mật-khẩu-mới".into(),
    };
    let tokens = TokenResponse {
        access_token: "access-secret".into(),
        refresh_token: "refresh-secret".into(),
        expires_in: 900,
        user_id: "amina".into(),
        role: Role::Coordinator,
    };
    let printed = format!("{login:?} {refresh:?} {change:?} {tokens:?}");
    for secret in [
        "পাসওয়ার্ড",
        "refresh-secret",
        "ชั่วคราว",
        "mật-khẩu",
        "access-secret",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("amina") && printed.contains("device-1"));
}
