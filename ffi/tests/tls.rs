//! The phone's network rules against a loopback TLS server whose certificate comes
//! from a private CA made here (rcgen): refused by default (the CA is in no trust
//! store), accepted once the CA is in the transport configuration, still refused when
//! the CA's leaf names another server; plain `http://` refused without the development
//! opt-in before a byte is sent; a bad CA refused at configuration time, settings
//! unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use casesync_ffi::{CaseStore, CasesyncError, TransportConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const TOKENS: &str =
    r#"{"access_token":"a2","refresh_token":"r2","expires_in":900,"user_id":"u1","role":"chw"}"#;

/// A private CA (PEM) and a server configuration with a leaf for 127.0.0.1 it signed.
fn private_ca() -> (String, Arc<rustls::ServerConfig>) {
    private_ca_for(&["127.0.0.1", "localhost"])
}

/// A private CA (PEM) and a server configuration with a leaf for `names` it signed.
fn private_ca_for(names: &[&str]) -> (String, Arc<rustls::ServerConfig>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "casesync test programme CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("ca key")).expect("ca");

    let leaf_key = KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .expect("server config");
    (ca.pem(), Arc::new(config))
}

/// An HTTPS server on 127.0.0.1 answering every login with tokens; counts the
/// requests it read in full (a refused handshake reads none).
struct Server {
    url: String,
    answered: Arc<AtomicUsize>,
}

fn serve(config: Arc<rustls::ServerConfig>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            if read_request(&mut tls).is_none() {
                continue; // the client refused the certificate
            }
            count.fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                TOKENS.len()
            );
            let _ = tls.write_all(head.as_bytes());
            let _ = tls.write_all(TOKENS.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    Server { url, answered }
}

/// Reads one request (head and body); `None` if the connection failed first.
fn read_request(stream: &mut impl Read) -> Option<()> {
    let mut r = BufReader::new(stream);
    let mut len = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" && !first {
            break;
        }
        first = false;
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()
}

fn store() -> (tempfile::TempDir, Arc<CaseStore>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = CaseStore::open(
        dir.path().to_string_lossy().into_owned(),
        vec![7; 32],
        "phone-1".into(),
    )
    .expect("open");
    (dir, s)
}

fn quick() -> TransportConfig {
    TransportConfig {
        connect_timeout_ms: 5_000,
        idle_timeout_ms: 5_000,
        ..TransportConfig::default()
    }
}

fn login(s: &CaseStore, url: &str) -> Result<casesync_ffi::Session, CasesyncError> {
    s.login(url.to_owned(), "user".into(), "pw".into())
}

#[test]
fn a_private_ca_is_refused_by_default_and_trusted_once_configured() {
    let (ca_pem, config) = private_ca();
    let server = serve(config);
    let (_dir, s) = store();
    s.set_transport_config(quick()).expect("settings");

    let e = login(&s, &server.url).expect_err("unknown issuer refused");
    assert!(matches!(e, CasesyncError::Insecure { .. }), "{e:?}");
    assert_eq!(e.code(), "network.untrusted_certificate", "{e}");
    assert!(s.session().is_none());
    assert_eq!(server.answered.load(Ordering::SeqCst), 0);

    s.set_transport_config(TransportConfig {
        extra_ca_certificates_pem: vec![ca_pem],
        ..quick()
    })
    .expect("settings with the programme's CA");
    let session = login(&s, &server.url).expect("trusted through the configured CA");
    assert_eq!(session.user_id, "u1");
    assert_eq!(server.answered.load(Ordering::SeqCst), 1);
}

#[test]
fn a_leaf_for_another_name_is_refused_even_with_its_ca() {
    // The CA is trusted, but its leaf names another server than the one dialled.
    let (ca_pem, config) = private_ca_for(&["cases.example.org"]);
    let server = serve(config);
    let (_dir, s) = store();
    s.set_transport_config(TransportConfig {
        extra_ca_certificates_pem: vec![ca_pem],
        ..quick()
    })
    .expect("settings");
    let e = login(&s, &server.url).expect_err("a certificate for another name refused");
    assert!(matches!(e, CasesyncError::Insecure { .. }), "{e:?}");
    assert_eq!(e.code(), "network.untrusted_certificate", "{e}");
    assert!(s.session().is_none());
    assert_eq!(server.answered.load(Ordering::SeqCst), 0);
}

#[test]
fn plain_http_is_refused_before_a_byte_is_sent_unless_opted_in() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (_dir, s) = store();
    s.set_transport_config(quick()).expect("settings");

    for u in [
        url.clone(),
        url.to_uppercase().replace("HTTP://", "HtTp://"),
    ] {
        let e = login(&s, &u).expect_err("http refused");
        assert!(matches!(e, CasesyncError::Insecure { .. }), "{e:?}");
        assert_eq!(e.code(), "network.insecure_http");
    }
    assert!(listener.accept().is_err(), "no connection was made");

    // Opted in (development), the same URL is used: the loopback answer arrives.
    let server = thread::spawn(move || {
        listener.set_nonblocking(false).expect("blocking");
        let (mut tcp, _) = listener.accept().expect("accept");
        read_request(&mut tcp).expect("request");
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            TOKENS.len()
        );
        tcp.write_all(head.as_bytes()).expect("write");
        tcp.write_all(TOKENS.as_bytes()).expect("write");
    });
    s.set_transport_config(TransportConfig {
        allow_insecure_http: true,
        ..quick()
    })
    .expect("settings");
    login(&s, &url).expect("opted-in http login");
    server.join().expect("server");
}

#[test]
fn an_unreadable_ca_is_refused_and_changes_nothing() {
    let (_dir, s) = store();
    let before = s.transport_config();
    let e = s
        .set_transport_config(TransportConfig {
            extra_ca_certificates_pem: vec!["-----BEGIN CERTIFICATE-----\n!!\n".into()],
            allow_insecure_http: true,
            ..quick()
        })
        .expect_err("bad PEM refused");
    assert_eq!(e.code(), "network.tls_setup", "{e}");
    assert_eq!(s.transport_config(), before);
}
