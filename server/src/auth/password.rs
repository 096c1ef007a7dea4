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
}
