//! Hostile input: every way bytes can be wrong must give an error, quickly, in bounded
//! memory, and never a panic.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn frame(compression: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![b'C', b'S', PROTOCOL_VERSION as u8, compression];
    out.extend_from_slice(body);
    out
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// A request body up to (not including) its `push` list: version 1, device "d", no cursor.
fn request_prefix() -> Vec<u8> {
    vec![1, 1, b'd', 0]
}

fn too_large(what: &'static str, limit: usize) -> ProtocolError {
    ProtocolError::TooLarge { what, limit }
}

fn is_malformed<T: std::fmt::Debug>(r: Result<T, ProtocolError>) -> bool {
    matches!(r, Err(ProtocolError::Malformed(_)))
}

#[test]
fn headers_are_checked() {
    assert_eq!(decode_request(b""), Err(ProtocolError::BadMagic));
    assert_eq!(decode_request(b"C"), Err(ProtocolError::BadMagic));
    assert_eq!(
        decode_request(b"{\"version\":1}"),
        Err(ProtocolError::BadMagic)
    );
    assert!(is_malformed(decode_request(b"CS")));
    assert!(is_malformed(decode_request(b"CS\x01")));
    let mut future = encode_request(&request());
    future[2] = 2;
    assert_eq!(
        decode_request(&future),
        Err(ProtocolError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    let mut unknown = encode_response(&response());
    unknown[3] = 7;
    assert_eq!(
        decode_response(&unknown),
        Err(ProtocolError::UnsupportedCompression { found: 7 })
    );
    // A body that claims another version than its header.
    let mut body = postcard::to_allocvec(&request()).expect("serialize");
    body[0] = 2;
    assert_eq!(
        decode_request(&frame(0, &body)),
        Err(ProtocolError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
}

#[test]
fn every_truncation_is_an_error() {
    let plain_req = frame(
        COMPRESSION_NONE,
        &postcard::to_allocvec(&request()).expect("serialize"),
    );
    let plain_resp = frame(
        COMPRESSION_NONE,
        &postcard::to_allocvec(&response()).expect("serialize"),
    );
    let zstd_resp = encode_response(&response());
    for full in [&plain_req, &encode_request(&request())] {
        assert!(decode_request(full).is_ok());
        for n in 0..full.len() {
            assert!(decode_request(&full[..n]).is_err(), "prefix of {n} bytes");
        }
    }
    for full in [&plain_resp, &zstd_resp] {
        assert!(decode_response(full).is_ok());
        for n in 0..full.len() {
            assert!(decode_response(&full[..n]).is_err(), "prefix of {n} bytes");
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut body = postcard::to_allocvec(&request()).expect("serialize");
    body.push(0);
    assert!(is_malformed(decode_request(&frame(
        COMPRESSION_NONE,
        &body
    ))));
    let z = zstd::bulk::compress(&body, 3).expect("compress");
    assert!(is_malformed(decode_request(&frame(COMPRESSION_ZSTD, &z))));
    let mut two_frames = encode_request(&request());
    two_frames.extend_from_slice(&zstd::bulk::compress(&[0], 3).expect("compress"));
    assert!(is_malformed(decode_request(&two_frames)));
}

#[test]
fn zip_bomb_stops_at_the_decoded_limit() {
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 1).expect("encoder");
    let mut zeros = std::io::repeat(0).take(MAX_DECODED_BYTES as u64 + 1);
    std::io::copy(&mut zeros, &mut enc).expect("compress");
    let bomb = frame(COMPRESSION_ZSTD, &enc.finish().expect("finish"));
    assert!(
        bomb.len() < 64 * 1024,
        "a small input: {} bytes",
        bomb.len()
    );
    assert_eq!(
        decode_request(&bomb),
        Err(too_large("decoded message", MAX_DECODED_BYTES))
    );
    assert_eq!(
        decode_response(&bomb),
        Err(too_large("decoded message", MAX_DECODED_BYTES))
    );
}

#[test]
fn oversized_encodings_are_refused_unread() {
    let huge = frame(COMPRESSION_NONE, &vec![0; MAX_ENCODED_BYTES]);
    assert_eq!(
        decode_request(&huge),
        Err(too_large("encoded message", MAX_ENCODED_BYTES))
    );
}

#[test]
fn a_frame_needing_a_huge_window_is_refused() {
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).expect("encoder");
    enc.window_log(27).expect("window");
    enc.include_contentsize(false).expect("no size");
    enc.write_all(&postcard::to_allocvec(&request()).expect("serialize"))
        .expect("write");
    let bytes = frame(COMPRESSION_ZSTD, &enc.finish().expect("finish"));
    assert!(is_malformed(decode_request(&bytes)));
}

#[test]
fn huge_length_prefixes_fail_fast() {
    let start = Instant::now();
    let claim = varint(1 << 60);
    // device id claiming 2^60 bytes
    let mut body = vec![1];
    body.extend_from_slice(&claim);
    assert!(is_malformed(decode_request(&frame(0, &body))));
    // cursor claiming 2^60 bytes (postcard checks byte strings against the input left)
    let mut body = vec![1, 1, b'd'];
    body.extend_from_slice(&claim);
    assert!(is_malformed(decode_request(&frame(0, &body))));
    // push claiming 2^60 documents, then 2^60 changes (postcard hides a claim longer
    // than the input from the size hint, so nothing is reserved for it)
    let mut body = request_prefix();
    body.extend_from_slice(&claim);
    assert!(is_malformed(decode_request(&frame(0, &body))));
    let mut body = request_prefix();
    body.extend_from_slice(&[1, 1, b'c']);
    body.extend_from_slice(&claim);
    assert!(is_malformed(decode_request(&frame(0, &body))));
    // a claim just over the limit, with input enough to back it: refused up front
    let mut body = request_prefix();
    body.extend_from_slice(&varint(MAX_DOCS_PER_MESSAGE as u64 + 1));
    body.resize(body.len() + 2 * MAX_DOCS_PER_MESSAGE + 8, 0);
    let docs_limit = too_large("pushed documents", MAX_DOCS_PER_MESSAGE);
    assert_eq!(decode_request(&frame(0, &body)), Err(docs_limit.clone()));
    // the same inside a compressed body
    let z = zstd::bulk::compress(&body, 3).expect("compress");
    assert_eq!(
        decode_request(&frame(COMPRESSION_ZSTD, &z)),
        Err(docs_limit)
    );
    // one change claiming 2^60 bytes
    let mut body = request_prefix();
    body.extend_from_slice(&[1, 1, b'c', 1]);
    body.extend_from_slice(&claim);
    assert!(is_malformed(decode_request(&frame(0, &body))));
    // a varint longer than any u64
    let mut body = request_prefix();
    body.extend_from_slice(&[0xff; 11]);
    assert!(is_malformed(decode_request(&frame(0, &body))));
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn counts_and_sizes_over_the_limits_are_refused() {
    let docs_limit = too_large("pushed documents", MAX_DOCS_PER_MESSAGE);
    let push = |changes: Vec<Vec<u8>>| SyncRequest {
        push: vec![DocPush {
            doc_id: "c".into(),
            changes,
        }],
        ..request()
    };
    let many_docs = SyncRequest {
        push: (0..=MAX_DOCS_PER_MESSAGE)
            .map(|i| DocPush {
                doc_id: format!("c{i}"),
                changes: vec![],
            })
            .collect(),
        ..request()
    };
    assert_eq!(many_docs.validate(), Err(docs_limit.clone()));
    assert_eq!(
        decode_request(&encode_request(&many_docs)),
        Err(docs_limit.clone())
    );
    let many_changes = push(vec![change(0); MAX_CHANGES_PER_DOC + 1]);
    let changes_limit = too_large("changes of one document", MAX_CHANGES_PER_DOC);
    assert_eq!(
        decode_request(&encode_request(&many_changes)),
        Err(changes_limit)
    );
    let big_change = push(vec![vec![1; MAX_CHANGE_BYTES + 1]]);
    assert_eq!(
        decode_request(&encode_request(&big_change)),
        Err(too_large("change", MAX_CHANGE_BYTES))
    );
    assert!(matches!(
        decode_request(&encode_request(&push(vec![vec![1; 9]]))),
        Err(ProtocolError::Invalid(_))
    ));
    let long_cursor = SyncRequest {
        cursor: vec![0; MAX_CURSOR_BYTES + 1],
        ..request()
    };
    assert_eq!(
        decode_request(&encode_request(&long_cursor)),
        Err(too_large("cursor", MAX_CURSOR_BYTES))
    );

    let big_doc = SyncResponse {
        docs: vec![DocUpdate {
            doc_id: "a".into(),
            body: DocBody::Snapshot {
                doc: vec![0; MAX_DOC_BYTES + 1],
                summary: summary("a", "n", "v"),
            },
        }],
        ..response()
    };
    assert_eq!(
        decode_response(&encode_response(&big_doc)),
        Err(too_large("snapshot", MAX_DOC_BYTES))
    );
    let many_removed = SyncResponse {
        removed: (0..=MAX_DOCS_PER_MESSAGE)
            .map(|i| format!("r{i}"))
            .collect(),
        ..response()
    };
    assert_eq!(
        decode_response(&encode_response(&many_removed)),
        Err(too_large("removed documents", MAX_DOCS_PER_MESSAGE))
    );
    let many_hashes = SyncResponse {
        acked: vec![PushAck {
            doc_id: "a".into(),
            hashes: vec![[1; 32]; MAX_CHANGES_PER_DOC + 1],
        }],
        ..response()
    };
    let hashes_limit = too_large("acknowledged hashes of one document", MAX_CHANGES_PER_DOC);
    assert_eq!(
        decode_response(&encode_response(&many_hashes)),
        Err(hashes_limit)
    );
}

#[test]
fn bad_ids_and_rules_are_refused_without_echoing_content() {
    let invalid =
        |r: Result<SyncRequest, ProtocolError>| matches!(r, Err(ProtocolError::Invalid(_)));
    for bad in [
        "",
        "a b",
        "../etc",
        "é",
        "x\u{0}",
        &"a".repeat(MAX_ID_LEN + 1),
    ] {
        let req = SyncRequest {
            push: vec![DocPush {
                doc_id: bad.into(),
                changes: vec![],
            }],
            ..request()
        };
        assert!(invalid(decode_request(&encode_request(&req))), "{bad:?}");
        let resp = SyncResponse {
            removed: vec![bad.into()],
            ..response()
        };
        assert!(matches!(
            decode_response(&encode_response(&resp)),
            Err(ProtocolError::Invalid(_))
        ));
    }
    assert!(decode_request(&encode_request(&SyncRequest {
        push: vec![DocPush {
            doc_id: "a".repeat(MAX_ID_LEN),
            changes: vec![]
        }],
        ..request()
    }))
    .is_ok());
    let secret = "রহিমা-secret";
    for device_id in [
        String::new(),
        format!("{secret}\u{7}"),
        "d".repeat(MAX_DEVICE_ID_LEN + 1),
    ] {
        let err = decode_request(&encode_request(&SyncRequest {
            device_id,
            ..request()
        }))
        .expect_err("bad device id");
        assert!(!err.to_string().contains(secret), "{err}");
    }
    let mut twice = request();
    twice.push.push(twice.push[0].clone());
    assert!(invalid(decode_request(&encode_request(&twice))));

    let resp_invalid = |r: SyncResponse| {
        matches!(
            decode_response(&encode_response(&r)),
            Err(ProtocolError::Invalid(_))
        )
    };
    let snapshot = |doc: Vec<u8>, id: &str| SyncResponse {
        docs: vec![DocUpdate {
            doc_id: "a".into(),
            body: DocBody::Snapshot {
                doc,
                summary: summary(id, secret, "v"),
            },
        }],
        ..response()
    };
    assert!(
        resp_invalid(snapshot(vec![1; 20], "b")),
        "summary of another document"
    );
    assert!(resp_invalid(snapshot(vec![], "a")), "empty snapshot");
    assert!(decode_response(&encode_response(&snapshot(vec![1; 20], "a"))).is_ok());
    let long_message = SyncResponse {
        refused: vec![Refusal {
            doc_id: "a".into(),
            code: RefusalCode::Invalid,
            message: "x".repeat(2000),
        }],
        ..response()
    };
    assert_eq!(
        decode_response(&encode_response(&long_message)),
        Err(too_large("refusal message", MAX_REFUSAL_MESSAGE_BYTES))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
        for compression in [COMPRESSION_NONE, COMPRESSION_ZSTD] {
            let framed = frame(compression, &bytes);
            let _ = decode_request(&framed);
            let _ = decode_response(&framed);
        }
    }

    #[test]
    fn corrupted_messages_never_panic(at in any::<prop::sample::Index>(), xor in 1u8.., zstd in any::<bool>()) {
        let resp = response();
        let mut bytes = if zstd {
            encode_response(&resp)
        } else {
            frame(COMPRESSION_NONE, &postcard::to_allocvec(&resp).expect("serialize"))
        };
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        let _ = decode_response(&bytes);
        let _ = decode_request(&bytes);
    }
}
