//! Password hashing with argon2 (PHC strings).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// Hashes a password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Threads that verify passwords for logins. Each argon2 check takes 19 MiB of memory
/// (the default parameters); on a few dedicated threads the memory is reused from one
/// check to the next, where checks spread over the runtime's blocking threads left that
/// much behind in the allocator of every thread that ever ran one (1.5 GB after 200
/// logins), and a burst of logins cannot take every core from syncing devices.
pub const PASSWORD_THREADS: usize = 2;

type VerifyJob = (String, String, tokio::sync::oneshot::Sender<bool>);

/// The queue of the password threads (started at first use).
fn password_queue() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<VerifyJob>> {
    static QUEUE: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<VerifyJob>>> =
        std::sync::OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<VerifyJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..PASSWORD_THREADS {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || loop {
                    let job = {
                        let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        rx.recv()
                    };
                    let Ok((password, hash, reply)) = job else {
                        return;
                    };
                    let _ = reply.send(verify_password(&password, &hash));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password thread");
            }
        }
        std::sync::Mutex::new(tx)
    })
}

/// [`verify_password`] on the password threads ([`PASSWORD_THREADS`]). False if they
/// are gone (cannot happen while the process runs).
pub async fn verify_password_queued(password: String, hash: String) -> bool {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let sent = password_queue()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send((password, hash, reply));
    sent.is_ok() && answer.await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("পাসওয়ার্ড-১২৩").expect("hash");
        let b = hash_password("পাসওয়ার্ড-১২৩").expect("hash");
        assert_ne!(a, b, "salted");
        assert!(verify_password("পাসওয়ার্ড-১২৩", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[tokio::test]
    async fn the_password_threads_verify() {
        let a = hash_password("pw").expect("hash");
        assert!(verify_password_queued("pw".into(), a.clone()).await);
        assert!(!verify_password_queued("nope".into(), a).await);
    }
}
