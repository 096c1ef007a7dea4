//! The phone's network rules: TLS through the platform verifier, and `http://` refused
//! unless the app opted in for development.
//!
//! Certificates are checked by `rustls-platform-verifier`: the operating system's trust
//! store (on Android, Android's own trust manager over `AndroidCAStore`: the system CAs
//! and the CAs installed by the user or by device management, not the app's Network
//! Security Config; on Linux /etc/ssl/certs), so a programme's private CA installed by
//! its device management applies, and no root list ships inside the app. Off Android a
//! programme may also name its private CA in the transport configuration
//! (`extra_ca_certificates_pem`); on Android that is refused with `network.tls_setup`
//! because the platform verifier there takes no extra roots: install the CA on the phones
//! instead. On Android the verifier needs the JVM first (`android.rs`): until
//! `CasesyncAndroid.init(context)` ran, `network.tls_setup` too, nothing sent.

use std::error::Error as StdError;
use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Most extra CA certificates a configuration may name (a programme has one or two).
pub(crate) const MAX_EXTRA_CAS: usize = 16;

/// Largest PEM text accepted for one extra CA certificate.
pub(crate) const MAX_CA_PEM_BYTES: usize = 64 * 1024;

/// Why the TLS configuration could not be built (bad extra CA, OS trust store failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TlsSetupError(pub(crate) String);

/// The extra CA certificates of a configuration, parsed (each PEM text must hold at
/// least one `CERTIFICATE` block and nothing unreadable).
pub(crate) fn parse_extra_cas(
    pems: &[String],
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    if pems.len() > MAX_EXTRA_CAS {
        return Err(TlsSetupError(format!(
            "{} extra CA certificates given; at most {MAX_EXTRA_CAS} are accepted",
            pems.len()
        )));
    }
    let mut out = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        if pem.len() > MAX_CA_PEM_BYTES {
            return Err(TlsSetupError(format!(
                "extra CA certificate {} is over {MAX_CA_PEM_BYTES} bytes",
                i + 1
            )));
        }
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                TlsSetupError(format!(
                    "extra CA certificate {} is not readable PEM: {e}",
                    i + 1
                ))
            })?;
        if certs.is_empty() {
            return Err(TlsSetupError(format!(
                "extra CA certificate {} holds no CERTIFICATE block",
                i + 1
            )));
        }
        out.extend(certs);
    }
    Ok(out)
}

/// The rustls client configuration: the platform verifier (plus the extra CAs where
/// the platform allows them), ring as the crypto provider (as ureq's own).
pub(crate) fn client_config(extra_pems: &[String]) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let extra = parse_extra_cas(extra_pems)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = verifier(extra, provider.clone())?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(not(target_os = "android"))]
fn verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsSetupError> {
    let v = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
        .map_err(|e| TlsSetupError(format!("the trust store could not be loaded: {e}")))?;
    Ok(Arc::new(v))
}

#[cfg(target_os = "android")]
fn verifier(
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsSetupError> {
    if !crate::android::verifier_connected() {
        return Err(TlsSetupError(
            "Android's certificate verifier is not connected: call CasesyncAndroid.init(context) once before the first login or sync".into(),
        ));
    }
    if !extra.is_empty() {
        return Err(TlsSetupError(
            "extra CA certificates are not supported on Android: install the CA on the phone (device management or Settings > Security)".into(),
        ));
    }
    let v = rustls_platform_verifier::Verifier::new(provider)
        .map_err(|e| TlsSetupError(format!("the trust store could not be loaded: {e}")))?;
    Ok(Arc::new(v))
}

/// Whether `url` is plain `http://` (any case).
pub(crate) fn is_plain_http(url: &str) -> bool {
    url.get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
}

/// The certificate problem inside a failed exchange, if the failure was the server's
/// certificate being refused (unknown issuer, expired, wrong name...).
pub(crate) fn certificate_problem(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut next: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(found) = as_certificate_error(err) {
            return Some(found);
        }
        // `io::Error::source` skips the error it wraps: look inside explicitly.
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|inner| as_certificate_error(inner)) {
                return Some(found);
            }
        }
        next = err.source();
    }
    None
}

fn as_certificate_error(err: &(dyn StdError + 'static)) -> Option<String> {
    match err.downcast_ref::<rustls::Error>()? {
        e @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
            Some(e.to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_apart_in_any_case() {
        assert!(is_plain_http("http://127.0.0.1:8080"));
        assert!(is_plain_http("HTTP://example.org"));
        assert!(!is_plain_http("https://example.org"));
        assert!(!is_plain_http("http"));
    }

    #[test]
    fn extra_cas_must_be_certificates() {
        assert!(parse_extra_cas(&[]).expect("none").is_empty());
        let e = parse_extra_cas(&["not a certificate".into()]).expect_err("refused");
        assert!(e.0.contains("no CERTIFICATE"), "{e}");
        let broken = "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n";
        assert!(parse_extra_cas(&[broken.into()]).is_err());
        let many = vec![String::new(); MAX_EXTRA_CAS + 1];
        assert!(parse_extra_cas(&many).is_err());
    }
}
