//! Access tokens: HS256 JWTs with the user, device and role.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
        // HS512 with the same secret.
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims(now() + 60),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("sign");
        assert!(k.verify(&hs512).is_none());
        assert!(k.verify("garbage").is_none());
    }
}
