//! Wire-format building blocks for hand-made bodies.

use super::*;

pub(crate) fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

pub(crate) fn pstr(s: &str) -> Vec<u8> {
    let mut out = varint(s.len() as u64);
    out.extend_from_slice(s.as_bytes());
    out
}

/// Header for an uncompressed body of the current version.
pub(crate) fn plain(body: &[u8]) -> Vec<u8> {
    let mut out = b"CS".to_vec();
    out.extend_from_slice(&[PROTOCOL_VERSION as u8, 0]);
    out.extend_from_slice(body);
    out
}

/// A request encoded without compression, whatever its content.
pub(crate) fn plain_req(req: &SyncRequest) -> Vec<u8> {
    plain(&postcard::to_allocvec(req).expect("postcard"))
}

/// Rewrites an Automerge chunk's checksum (bytes 4..8: the first 4 bytes of the SHA-256
/// of everything after them) to match its content.
pub(crate) fn fix_checksum(chunk: &mut [u8]) {
    use sha2::Digest;
    let sum = sha2::Sha256::digest(&chunk[8..]);
    chunk[4..8].copy_from_slice(&sum[..4]);
}

pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
