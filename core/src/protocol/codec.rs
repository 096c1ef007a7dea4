//! Encoding: `b"CS"`, a version byte, a compression byte, then the postcard body,
//! zstd-compressed unless that would not make it smaller.
//!
//! Decoding never trusts a declared size: the encoded length is checked first, the
//! decompressor is a stream capped at [`MAX_DECODED_BYTES`] with a bounded window, list
//! lengths are capped while decoding, and the result is [validated](SyncRequest::validate).

use std::borrow::Cow;
use std::io::{ErrorKind, Read};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::limits::{MAX_DECODED_BYTES, MAX_ENCODED_BYTES};
use super::{bounded, ProtocolError, SyncRequest, SyncResponse, PROTOCOL_VERSION};

/// First two bytes of every encoded message.
pub const MAGIC: [u8; 2] = *b"CS";
/// Header length: magic, version, compression id.
pub const HEADER_LEN: usize = 4;
/// Compression id: the body is plain postcard (used when compression does not help).
pub const COMPRESSION_NONE: u8 = 0;
/// Compression id: the body is one zstd frame of postcard.
pub const COMPRESSION_ZSTD: u8 = 1;
/// zstd level used to encode. See the `compression_study` test for the measurements
/// behind the choice.
pub const ZSTD_LEVEL: i32 = 9;
/// Largest zstd window the decoder accepts: 2^23 = 8 MiB, enough for every standard
/// level (1..=19) and a hard bound on the decoder's memory.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;

const VERSION_BYTE: u8 = {
    assert!(
        PROTOCOL_VERSION <= u8::MAX as u16,
        "the version must fit the header byte"
    );
    PROTOCOL_VERSION as u8
};

/// Encodes a request. Limits are not checked here: run [`SyncRequest::validate`] first
/// when the content is not known to be within them, or the peer will refuse it.
pub fn encode_request(req: &SyncRequest) -> Vec<u8> {
    encode(req)
}

/// Encodes a response. Limits are not checked here: run [`SyncResponse::validate`]
/// first when the content is not known to be within them, or the peer will refuse it.
pub fn encode_response(resp: &SyncResponse) -> Vec<u8> {
    encode(resp)
}

/// Decodes and validates a request from untrusted bytes.
pub fn decode_request(bytes: &[u8]) -> Result<SyncRequest, ProtocolError> {
    let req: SyncRequest = decode(bytes)?;
    req.validate()?;
    Ok(req)
}

/// Decodes and validates a response from untrusted bytes.
pub fn decode_response(bytes: &[u8]) -> Result<SyncResponse, ProtocolError> {
    let resp: SyncResponse = decode(bytes)?;
    resp.validate()?;
    Ok(resp)
}

/// Size of the uncompressed encoding (header + postcard body): an upper bound of what
/// [`encode_request`] or [`encode_response`] produce, cheap to compute (nothing is
/// allocated), e.g. for filling a page up to a byte budget.
pub fn encoded_len_hint<T: Serialize>(msg: &T) -> usize {
    HEADER_LEN + postcard::experimental::serialized_size(msg).unwrap_or(0)
}

fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // postcard fails only for types with unknown sequence lengths or custom errors;
    // the message types have neither.
    #[allow(clippy::expect_used)]
    let body = postcard::to_allocvec(msg).expect("sync messages always serialize");
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&MAGIC);
    out.push(VERSION_BYTE);
    match zstd::bulk::compress(&body, ZSTD_LEVEL) {
        Ok(z) if z.len() < body.len() => {
            out.push(COMPRESSION_ZSTD);
            out.extend_from_slice(&z);
        }
        _ => {
            out.push(COMPRESSION_NONE);
            out.extend_from_slice(&body);
        }
    }
    out
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtocolError> {
    if bytes.len() > MAX_ENCODED_BYTES {
        return Err(ProtocolError::TooLarge {
            what: "encoded message",
            limit: MAX_ENCODED_BYTES,
        });
    }
    if bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
        return Err(ProtocolError::BadMagic);
    }
    let (header, rest) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or_else(|| ProtocolError::Malformed("truncated header".into()))?;
    if header[2] != VERSION_BYTE {
        return Err(ProtocolError::UnsupportedVersion {
            found: header[2].into(),
            supported: PROTOCOL_VERSION,
        });
    }
    let body = match header[3] {
        COMPRESSION_NONE => Cow::Borrowed(rest),
        COMPRESSION_ZSTD => Cow::Owned(decompress(rest)?),
        found => return Err(ProtocolError::UnsupportedCompression { found }),
    };
    if body.len() > MAX_DECODED_BYTES {
        return Err(ProtocolError::TooLarge {
            what: "decoded message",
            limit: MAX_DECODED_BYTES,
        });
    }
    bounded::take_error();
    let (msg, trailing) = postcard::take_from_bytes::<T>(&body).map_err(|e| {
        bounded::take_error().unwrap_or_else(|| ProtocolError::Malformed(format!("body: {e}")))
    })?;
    if !trailing.is_empty() {
        return Err(ProtocolError::Malformed(
            "trailing bytes after the body".into(),
        ));
    }
    Ok(msg)
}

/// Decompresses one zstd stream, stopping with `TooLarge` as soon as the output would
/// pass [`MAX_DECODED_BYTES`]; the declared content size is never trusted.
fn decompress(src: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let corrupt = |e: std::io::Error| ProtocolError::Malformed(format!("compressed body: {e}"));
    let mut dec = zstd::stream::read::Decoder::with_buffer(src).map_err(corrupt)?;
    dec.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(corrupt)?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match dec.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        if out.len() + n > MAX_DECODED_BYTES {
            return Err(ProtocolError::TooLarge {
                what: "decoded message",
                limit: MAX_DECODED_BYTES,
            });
        }
        out.extend_from_slice(&chunk[..n]);
    }
}
