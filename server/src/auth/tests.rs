//! Refresh rotation: a retry after a lost answer, reuse after the grace window, and the
//! administrator's revocation.

use std::sync::Arc;
use std::time::Duration;

use casesync_core::case::Role;

use super::*;
use crate::store::SledStorage;

const PASSWORD: &str = "pw-chw-a-secret";

async fn world(grace: Duration) -> (Arc<dyn Storage>, Auth, TokenResponse) {
    let store: Arc<dyn Storage> = Arc::new(SledStorage::temporary().expect("store"));
    create_user(
        store.as_ref(),
        "chw-a",
        Role::Chw,
        &["d1".to_owned()],
        false,
        PASSWORD,
    )
    .expect("user");
    let settings = Settings {
        refresh_grace: grace,
        ..Settings::default()
    };
    let auth = Auth::new(store.clone(), settings).expect("auth");
    let first = auth
        .login("chw-a", PASSWORD, "phone-a", "127.0.0.1")
        .await
        .expect("login");
    (store, auth, first)
}

fn device(store: &Arc<dyn Storage>) -> DeviceRecord {
    store.device("phone-a").expect("read").expect("device")
}

#[tokio::test]
async fn a_retry_with_the_token_just_rotated_gets_the_same_successor() {
    let (store, auth, first) = world(Duration::from_secs(120)).await;
    let second = auth
        .refresh(&first.refresh_token, "phone-a")
        .await
        .expect("rotate");
    assert_ne!(second.refresh_token, first.refresh_token);
    // The answer was lost: the phone sends the spent token again.
    let again = auth
        .refresh(&first.refresh_token, "phone-a")
        .await
        .expect("a retry within the grace window is answered");
    assert_eq!(
        again.refresh_token, second.refresh_token,
        "the same successor"
    );
    assert!(auth.authenticate(&again.access_token).is_ok());
    let d = device(&store);
    assert!(!d.revoked);
    assert_eq!(d.refresh_hash, Some(refresh_hash(&second.refresh_token)));
    // The successor rotates as usual; the spent token is now plain reuse.
    let third = auth
        .refresh(&second.refresh_token, "phone-a")
        .await
        .expect("rotate the successor");
    assert_ne!(third.refresh_token, second.refresh_token);
    assert!(matches!(
        auth.refresh(&first.refresh_token, "phone-a").await,
        Err(AppError::RefreshReused)
    ));
    assert!(!device(&store).revoked, "reuse does not revoke the device");
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_family_not_the_device() {
    let grace = Duration::from_secs(120);
    let (store, auth, first) = world(grace).await;
    // Rotated longer ago than the grace window; presented again now.
    let t0 = now_ms() - grace.as_millis() as i64 - 1_000;
    let second = auth
        .refresh_at(&first.refresh_token, "phone-a", t0)
        .await
        .expect("rotate");
    let before = now_ms();
    assert!(matches!(
        auth.refresh(&first.refresh_token, "phone-a").await,
        Err(AppError::RefreshReused)
    ));
    let d = device(&store);
    assert!(!d.revoked, "the phone keeps its data: not revoked");
    assert_eq!(d.refresh_hash, None);
    assert!(d.family_revoked_ms >= before);
    // The whole family is dead, the successor too: sign in again.
    assert!(matches!(
        auth.refresh(&second.refresh_token, "phone-a").await,
        Err(AppError::RefreshReused)
    ));
    let after = auth
        .login("chw-a", PASSWORD, "phone-a", "127.0.0.1")
        .await
        .expect("a password login starts a new family");
    let who = auth.authenticate(&after.access_token).expect("new access");
    assert!(!who.revoked);
    assert!(auth.refresh(&after.refresh_token, "phone-a").await.is_ok());
    // An old token of the revoked family stays refused after the new login.
    assert!(auth.refresh(&first.refresh_token, "phone-a").await.is_err());
}

#[tokio::test]
async fn access_tokens_issued_before_a_family_revocation_are_refused() {
    let (store, auth, first) = world(Duration::from_secs(120)).await;
    let mut d = device(&store);
    d.family_revoked_ms = now_ms() + 2_000;
    store.put_device(&d).expect("put");
    assert!(matches!(
        auth.authenticate(&first.access_token),
        Err(AppError::InvalidToken)
    ));
}

#[tokio::test]
async fn the_grace_window_is_a_setting() {
    let (_store, auth, first) = world(Duration::ZERO).await;
    let t0 = now_ms();
    auth.refresh_at(&first.refresh_token, "phone-a", t0)
        .await
        .expect("rotate");
    assert!(matches!(
        auth.refresh_at(&first.refresh_token, "phone-a", t0 + 1)
            .await,
        Err(AppError::RefreshReused)
    ));
}

#[tokio::test]
async fn only_the_administrator_revokes_the_device() {
    let (store, auth, first) = world(Duration::from_secs(120)).await;
    assert!(auth.revoke_device("phone-a").await.expect("revoke"));
    assert!(device(&store).revoked);
    assert!(matches!(
        auth.refresh(&first.refresh_token, "phone-a").await,
        Err(AppError::DeviceRevoked)
    ));
    let who = auth.authenticate(&first.access_token).expect("token");
    assert!(who.revoked, "sync answers wipe");
}
