//! Round trips, pinned bytes and the compression study.

use chrono::NaiveDate;

use super::*;
use crate::case::{CaseSummary, Stage};

pub(super) fn summary(id: &str, name: &str, village: &str) -> CaseSummary {
    CaseSummary {
        id: id.into(),
        name: name.into(),
        stage: Stage::Monitoring,
        assigned_to: "chw-7".into(),
        district: "জামালপুর".into(),
        village: village.into(),
        sensitive: true,
        next_due: NaiveDate::from_ymd_opt(2025, 3, 14),
        updated_at: 1_741_000_000_000,
    }
}

pub(super) fn change(seed: u8) -> Vec<u8> {
    (0..40)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i))
        .collect()
}

pub(super) fn request() -> SyncRequest {
    SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: "phone-3f9a".into(),
        cursor: vec![0, 0, 0, 0, 0, 0, 1, 44],
        push: vec![
            DocPush {
                doc_id: "case-1".into(),
                changes: vec![change(1), change(2)],
            },
            DocPush {
                doc_id: "case_2".into(),
                changes: vec![change(3)],
            },
        ],
        max_page_bytes: 256 * 1024,
    }
}

pub(super) fn response() -> SyncResponse {
    SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![9; 12],
        docs: vec![
            DocUpdate {
                doc_id: "bn-1".into(),
                body: DocBody::Snapshot {
                    doc: change(4),
                    summary: summary("bn-1", "রহিমা বেগম", "চরপাড়া"),
                },
            },
            DocUpdate {
                doc_id: "fa-1".into(),
                body: DocBody::Snapshot {
                    doc: change(5),
                    summary: summary("fa-1", "زهرا محمدی", "ده‌نو"),
                },
            },
            DocUpdate {
                doc_id: "th-1".into(),
                body: DocBody::Snapshot {
                    doc: change(6),
                    summary: summary("th-1", "สมศรี ใจดี", "บ้านหนองบัว"),
                },
            },
            DocUpdate {
                doc_id: "vi-1".into(),
                body: DocBody::Snapshot {
                    doc: change(7),
                    summary: summary("vi-1", "Nguyễn Thị Hương", "Xã Đông Hưng"),
                },
            },
            DocUpdate {
                doc_id: "case-1".into(),
                body: DocBody::Changes(vec![change(8), change(9)]),
            },
        ],
        removed: vec!["gone-1".into()],
        acked: vec![PushAck {
            doc_id: "case-1".into(),
            hashes: vec![[7; 32], [8; 32]],
        }],
        refused: vec![Refusal {
            doc_id: "case_2".into(),
            code: RefusalCode::RestrictedField,
            message: "a CHW may not change the district".into(),
        }],
        more: true,
        remaining_estimate: 42,
        wipe: false,
    }
}

#[test]
fn requests_round_trip() {
    let req = request();
    assert_eq!(decode_request(&encode_request(&req)), Ok(req));
    let empty = SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: "d".into(),
        cursor: vec![],
        push: vec![],
        max_page_bytes: 0,
    };
    assert_eq!(decode_request(&encode_request(&empty)), Ok(empty));
}

#[test]
fn responses_round_trip_with_multilingual_summaries() {
    let resp = response();
    let bytes = encode_response(&resp);
    assert_eq!(bytes[3], COMPRESSION_ZSTD, "repetitive content compresses");
    assert_eq!(decode_response(&bytes), Ok(resp));
    let every_code = SyncResponse {
        refused: [
            RefusalCode::OutOfScope,
            RefusalCode::ForeignActor,
            RefusalCode::RestrictedField,
            RefusalCode::TooLarge,
            RefusalCode::Invalid,
            RefusalCode::MissingDependencies,
            RefusalCode::Erased,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, code)| Refusal {
            doc_id: format!("c{i}"),
            code,
            message: String::new(),
        })
        .collect(),
        wipe: true,
        ..response()
    };
    assert_eq!(
        decode_response(&encode_response(&every_code)),
        Ok(every_code)
    );
}

#[test]
fn real_automerge_documents_round_trip() {
    let (mut docs, changes) = study::case_docs(3);
    let resp = study::snapshot_page(&mut docs);
    assert_eq!(decode_response(&encode_response(&resp)), Ok(resp));
    assert!(
        changes.iter().all(|c| c.len() >= MIN_CHANGE_BYTES),
        "real changes pass the minimum"
    );
    let req = SyncRequest {
        push: vec![DocPush {
            doc_id: "case-0".into(),
            changes,
        }],
        ..request()
    };
    assert_eq!(decode_request(&encode_request(&req)), Ok(req));
}

#[test]
fn encoded_len_hint_bounds_the_encoding() {
    let req = request();
    assert!(encode_request(&req).len() <= encoded_len_hint(&req));
    let resp = response();
    assert!(encode_response(&resp).len() <= encoded_len_hint(&resp));
}

/// Pins the wire format: a change here is a protocol change (bump [`PROTOCOL_VERSION`]
/// or prove old peers still decode it).
#[test]
fn snapshot_of_encoded_bytes() {
    let req = SyncRequest {
        version: PROTOCOL_VERSION,
        device_id: "ph-1".into(),
        cursor: vec![1, 2],
        push: vec![DocPush {
            doc_id: "c-1".into(),
            changes: vec![(0..10).collect()],
        }],
        max_page_bytes: 300,
    };
    let bytes = encode_request(&req);
    assert_eq!(
        hex::encode(&bytes),
        "43530100010470682d310201020103632d31010a00010203040506070809ac02"
    );
    assert_eq!(decode_request(&bytes), Ok(req));

    let resp = SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![3],
        docs: vec![DocUpdate {
            doc_id: "c-1".into(),
            body: DocBody::Snapshot {
                doc: (10..20).collect(),
                summary: CaseSummary {
                    next_due: NaiveDate::from_ymd_opt(2025, 1, 2),
                    ..summary("c-1", "রহিমা", "x")
                },
            },
        }],
        removed: vec!["c-2".into()],
        acked: vec![PushAck {
            doc_id: "c-1".into(),
            hashes: vec![[0xab; 32]],
        }],
        refused: vec![Refusal {
            doc_id: "c-3".into(),
            code: RefusalCode::Erased,
            message: "erased".into(),
        }],
        more: false,
        remaining_estimate: 300,
        wipe: false,
    };
    // The body is pinned uncompressed: zstd's exact output may change with its version.
    let body = postcard::to_allocvec(&resp).expect("serialize");
    assert_eq!(hex::encode(&body), "0101030103632d31010a0a0b0c0d0e0f1011121303632d310fe0a6b0e0a6b9e0a6bfe0a6aee0a6be04056368772d3718e0a69ce0a6bee0a6aee0a6bee0a6b2e0a6aae0a781e0a6b0017801010a323032352d30312d30328088febaab650103632d320103632d3101abababababababababababababababababababababababababababababababab0103632d33060665726173656400ac0200");
    let bytes = encode_response(&resp);
    assert_eq!(bytes[..HEADER_LEN], [b'C', b'S', 1, COMPRESSION_ZSTD]);
    assert_eq!(
        zstd::bulk::decompress(&bytes[HEADER_LEN..], 1024).expect("zstd"),
        body
    );
    assert_eq!(decode_response(&bytes), Ok(resp));

    // The compressed form is deterministic for one zstd version and level: this flags
    // a zstd upgrade or a level change (old messages still decode either way).
    let bytes = encode_response(&response());
    assert_eq!(
        hex::encode(sha2_256(&bytes)),
        "d73c6757c96ef5b1eaadf437a8836ee2f9fdd3abb4734fcf0e4de4fc43a9dbaa"
    );
}

fn sha2_256(b: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(b).into()
}

mod hostile;
mod study;
