//! The client's address (login throttling in `http/` and the dashboard's sign-in in
//! `web/` both read it): the TCP peer's, or a trusted proxy's forwarded address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{request::Parts, HeaderMap, HeaderName};

use crate::config::IpNet;
use crate::state::AppState;

/// The client's address: the TCP peer's, or, when the peer is one of the
/// `trusted_proxies`, the one the proxy names in `client_ip_header` (see
/// [`client_address`]); `unknown` when the server was not given the peer (in-process
/// tests).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp("unknown".to_owned()));
        };
        let ip = client_address(
            peer.0.ip(),
            &parts.headers,
            &st.settings.trusted_proxies,
            &st.settings.client_ip_header,
        );
        Ok(ClientIp(ip.to_string()))
    }
}

/// The client of a request from `peer`. Only when `peer` is in `trusted` are the
/// addresses in the `header` lines (`X-Forwarded-For` syntax, every line, in order)
/// read, from the right: each proxy appends the address it was connected from, so the
/// right-most address that is not a trusted proxy is the client; what is left of it was
/// written by the client and is never believed. An entry that is not an address ends
/// the walk (the last trusted hop is taken). `IP:port` and `[IPv6]:port` are read too.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: &HeaderName,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !IpNet::any_contains(trusted, client) {
        return client;
    }
    let lines: Vec<&[u8]> = headers
        .get_all(header)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    for hop in lines.iter().rev().flat_map(|l| l.rsplit(|b| *b == b',')) {
        let Some(ip) = std::str::from_utf8(hop).ok().and_then(parse_hop) else {
            break;
        };
        client = ip;
        if !IpNet::any_contains(trusted, ip) {
            break;
        }
    }
    client
}

fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            s.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse().ok())
        })
        .map(|ip: IpAddr| ip.to_canonical())
}

#[cfg(test)]
mod client_address_tests {
    use super::*;

    fn at(peer: &str, xff: &[&str], trusted: &str) -> String {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().expect("value"));
        }
        let trusted = IpNet::parse_list(trusted).expect("list");
        let name = HeaderName::from_static("x-forwarded-for");
        client_address(peer.parse().expect("peer"), &h, &trusted, &name).to_string()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        assert_eq!(at("127.0.0.1", &["203.0.113.9"], ""), "127.0.0.1");
        assert_eq!(at("10.0.0.5", &["203.0.113.9"], "127.0.0.1"), "10.0.0.5");
        assert_eq!(
            at("127.0.0.1", &["203.0.113.9"], "127.0.0.1"),
            "203.0.113.9"
        );
        // What the client wrote itself (left of the proxy's entry) is not believed.
        assert_eq!(
            at("127.0.0.1", &["198.51.100.1, 203.0.113.9"], "127.0.0.1"),
            "203.0.113.9"
        );
        // A chain of trusted proxies; several header lines; ports; IPv6.
        assert_eq!(
            at(
                "127.0.0.1",
                &["198.51.100.1", "203.0.113.9, 10.1.2.3"],
                "127.0.0.1, 10.0.0.0/8"
            ),
            "203.0.113.9"
        );
        assert_eq!(
            at("127.0.0.1", &["203.0.113.9:5555"], "127.0.0.1"),
            "203.0.113.9"
        );
        assert_eq!(at("::1", &["[2001:db8::7]:80"], "::1"), "2001:db8::7");
        assert_eq!(
            at("::ffff:127.0.0.1", &["2001:db8::7"], "127.0.0.1"),
            "2001:db8::7"
        );
        // Garbage ends the walk at the last trusted hop; no header: the proxy itself.
        assert_eq!(
            at("127.0.0.1", &["203.0.113.9, junk"], "127.0.0.1"),
            "127.0.0.1"
        );
        assert_eq!(at("127.0.0.1", &[], "127.0.0.1"), "127.0.0.1");
    }
}
