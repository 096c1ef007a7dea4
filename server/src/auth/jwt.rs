//! Access tokens: HS256 JWTs with the user, device and role.
//!
//! jsonwebtoken signs through a process-wide `CryptoProvider`. The server installs one that
//! knows HS256 only, built on RustCrypto's `hmac` and `sha2` (what jsonwebtoken's own
//! `rust_crypto` provider uses for HMAC), instead of enabling that feature: it would
//! compile RSA, P-256, P-384 and Ed25519 as well (~40 s of a fresh build) for tokens the
//! server never accepts.

use std::sync::Once;

use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::signature::{Signer, Verifier};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 under one key: signs and verifies (constant-time comparison by `hmac`).
struct Hs256(HmacSha256);

impl Hs256 {
    fn new(key: &[u8]) -> jsonwebtoken::errors::Result<Self> {
        HmacSha256::new_from_slice(key)
            .map(Hs256)
            .map_err(|_| ErrorKind::InvalidKeyFormat.into())
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(msg);
        mac.verify_slice(sig)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn hs256_signer(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(Hs256::new(key.as_bytes())?))
}

fn hs256_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *alg != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Ok(Box::new(Hs256::new(key.try_get_as_bytes()?)?))
}

/// The server's provider: HS256, nothing else (no JWKs).
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: hs256_signer,
    verifier_factory: hs256_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs [`HS256_ONLY`] once per process, before the first token is signed or read.
/// When a program embedding the server installed a provider of its own first, that one
/// stays: `Validation` admits HS256 only whichever provider runs.
fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = HS256_ONLY.install_default();
    });
}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Device id.
    pub dev: String,
    /// Role (`chw`, `coordinator`, `admin`).
    pub role: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
}

/// Signs and checks access tokens with one secret.
#[derive(Clone)]
pub struct JwtKeys {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    /// Keys from a secret.
    pub fn new(secret: &[u8]) -> Self {
        install_provider();
        // HS256 only: tokens with `alg: none` or any other algorithm are refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtKeys {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs claims.
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        encode(&Header::new(Algorithm::HS256), claims, &self.enc).map_err(|e| e.to_string())
    }

    /// Checks a token's signature, algorithm and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.dec, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "chw1".into(),
            dev: "phone".into(),
            role: "chw".into(),
            exp,
            iat: 0,
        }
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    #[test]
    fn tokens_verify_only_when_genuine() {
        let k = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let t = k.sign(&claims(now() + 60)).expect("sign");
        assert_eq!(k.verify(&t).map(|c| c.sub), Some("chw1".into()));
        // Expired.
        assert!(k
            .verify(&k.sign(&claims(now() - 120)).expect("sign"))
            .is_none());
        // Another secret.
        assert!(JwtKeys::new(b"another secret").verify(&t).is_none());
        // Tampered payload.
        let parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                role: "coordinator".into(),
                ..claims(now() + 60)
            })
            .expect("json"),
        );
        assert!(k
            .verify(&format!("{}.{}.{}", parts[0], forged, parts[2]))
            .is_none());
        // alg: none.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{none}.{}.", parts[1])).is_none());
        // HS512 with the same secret (signed by hand: the provider signs HS256 only).
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        let message = format!("{header}.{}", parts[1]);
        let mut mac =
            <Hmac<sha2::Sha512>>::new_from_slice(b"0123456789abcdef0123456789abcdef").expect("key");
        mac.update(message.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert!(k.verify(&format!("{message}.{sig}")).is_none());
        // The same, signed with HS256 but labelled HS512: still refused.
        assert!(k
            .verify(&format!("{header}.{}.{}", parts[1], parts[2]))
            .is_none());
        // The provider itself refuses to sign anything but HS256.
        assert!(encode(
            &Header::new(Algorithm::HS512),
            &claims(now() + 60),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .is_err());
        assert!(k.verify("garbage").is_none());
    }
}
