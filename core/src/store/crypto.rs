//! Encryption at rest: XChaCha20-Poly1305 under the app's 32-byte key.
//!
//! A stored value is `nonce (24 random bytes) || ciphertext || tag (16 bytes)`, with
//! the record's key as associated data, so a value moved under another key (another
//! case, another kind of record) fails to open instead of being read as that record.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use super::StoreError;

/// Length of the random nonce at the start of every stored value.
pub const NONCE_LEN: usize = 24;
/// Length of the authentication tag at the end of every stored value.
pub const TAG_LEN: usize = 16;

/// Seals and opens stored values (also the server's sealing of case content at rest,
/// `casesync-server`'s `store::seal`).
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer for `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Encrypts `plain` for storage under `record_key`.
    pub fn seal(&self, record_key: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: record_key,
        };
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| StoreError::Backend("could not encrypt a record".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a value stored under `record_key`; `None` when it is too short, was
    /// sealed under another key or record, or was altered.
    pub fn open(&self, record_key: &[u8], stored: &[u8]) -> Option<Vec<u8>> {
        if stored.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, ct) = stored.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ct,
            aad: record_key,
        };
        self.cipher.decrypt(XNonce::from_slice(nonce), payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_layout_is_nonce_ciphertext_tag() {
        let s = Sealer::new(&[7; 32]);
        let v = s.seal(b"s/case-1", b"hello").expect("seal");
        assert_eq!(v.len(), NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(s.open(b"s/case-1", &v).as_deref(), Some(&b"hello"[..]));
        let again = s.seal(b"s/case-1", b"hello").expect("seal");
        assert_ne!(v[..NONCE_LEN], again[..NONCE_LEN], "fresh nonce per write");
    }

    #[test]
    fn wrong_record_key_wrong_cipher_key_or_tampering_fail() {
        let s = Sealer::new(&[7; 32]);
        let v = s.seal(b"s/case-1", b"hello").expect("seal");
        assert!(s.open(b"s/case-2", &v).is_none());
        assert!(Sealer::new(&[8; 32]).open(b"s/case-1", &v).is_none());
        let mut bad = v.clone();
        bad[NONCE_LEN] ^= 1;
        assert!(s.open(b"s/case-1", &bad).is_none());
        assert!(s.open(b"s/case-1", &v[..10]).is_none());
        assert!(s.open(b"s/case-1", &[]).is_none());
    }
}
