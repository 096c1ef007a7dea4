use super::*;
use casesync_core::case::{Role, Stage};

fn status(status: u16, code: &str) -> CasesyncError {
    TransportError::Status {
        status,
        code: ErrorCode::parse(code),
        message: "m".into(),
    }
    .into()
}

#[test]
fn http_failures_map_to_what_the_app_must_do() {
    let e = status(401, "refresh_reused");
    assert!(
        matches!(e, CasesyncError::Unauthorized { .. }) && e.to_string().contains("sign in again"),
        "a reused refresh token asks for the password, it does not wipe"
    );
    assert_eq!(e.code(), "auth.sign_in_again");
    assert!(matches!(
        status(401, "device_revoked"),
        CasesyncError::DeviceRevoked { .. }
    ));
    let e = status(401, "bad_credentials");
    assert!(matches!(e, CasesyncError::Unauthorized { .. }));
    assert_eq!(e.code(), "auth.wrong_password");
    assert_eq!(e.to_string(), "Wrong username or password.");
    assert_eq!(status(401, "invalid_token").code(), "auth.session_expired");
    let e = status(403, "password_change_required");
    assert!(matches!(e, CasesyncError::Unauthorized { .. }));
    assert_eq!(e.code(), "auth.password_change_required");
    assert_eq!(status(403, "forbidden").code(), "server.forbidden");
    assert!(matches!(
        status(429, "rate_limited"),
        CasesyncError::RateLimited { .. }
    ));
    let e = status(500, "internal");
    assert!(matches!(e, CasesyncError::Server { .. }));
    assert_eq!(e.code(), "server.refused");
    assert_eq!(e.detail().params["status"], "500");
    assert_eq!(e.detail().params["code"], "internal");
}

#[test]
fn core_errors_keep_their_meaning_code_and_parameters() {
    let e = CasesyncError::from(StoreError::WrongKey);
    assert!(matches!(e, CasesyncError::WrongKey { .. }));
    assert_eq!(e.code(), "store.wrong_key");
    let e = CasesyncError::from(StoreError::Case(CaseError::Closed));
    assert!(matches!(e, CasesyncError::Closed { .. }));
    assert_eq!(e.code(), "case.closed");
    assert_eq!(
        e.to_string(),
        "This case is closed. A coordinator can reopen it."
    );
    let e = CasesyncError::from(StoreError::NotFound("c-1".into()));
    assert_eq!(e.to_string(), "Not found: case c-1");
    assert_eq!(e.detail().params["case_id"], "c-1");

    let e = CasesyncError::from(CaseError::BadTransition {
        from: Stage::Intake,
        to: Stage::Assessment,
        reason: "consent is recorded first",
    });
    assert!(matches!(e, CasesyncError::Invalid { .. }));
    assert_eq!(e.code(), "case.stage_not_allowed");
    assert_eq!(e.detail().params["from"], "intake");
    assert_eq!(e.detail().params["to"], "assessment");
    let e = CasesyncError::from(CaseError::Forbidden {
        role: Role::Chw,
        action: "resolve conflicts",
    });
    assert!(matches!(e, CasesyncError::Forbidden { .. }));
    assert_eq!(e.detail().params["role"], "chw");
    assert_eq!(
        e.to_string(),
        "Not allowed: a chw may not resolve conflicts"
    );
}

#[test]
fn a_revoked_device_counts_what_was_erased() {
    let e = CasesyncError::device_revoked(2, 5);
    assert_eq!(e.code(), "auth.device_revoked");
    assert_eq!(e.detail().params["unsent_cases"], "2");
    assert_eq!(e.detail().params["unsent_changes"], "5");
    assert!(e.to_string().contains("5 unsent change(s) in 2 case(s)"));
}
