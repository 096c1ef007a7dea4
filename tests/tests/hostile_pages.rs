//! Hostile pull pages: a decompression bomb in the page's zstd frame, and a snapshot
//! whose deflated column inflates past the limit. Both are refused with a clear error,
//! the device store unchanged, without allocating what they claim.

use casesync_core::case::{inflate_document, CaseError, CaseSummary, Stage};
use casesync_core::protocol::{
    decode_response, encode_response, DocBody, DocUpdate, ProtocolError, SyncResponse,
    COMPRESSION_ZSTD, MAGIC, MAX_DECODED_BYTES, MAX_INFLATED_DOC_BYTES, PROTOCOL_VERSION,
};
use casesync_core::store::DeviceStore;
use casesync_core::sync::{SyncError, SyncSession};
use casesync_tests::harness::test_key;
use sha2::{Digest, Sha256};

fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// An Automerge document chunk with one deflated change column that inflates to more
/// than [`MAX_INFLATED_DOC_BYTES`] of zeros (about 17 KB on the wire).
fn deflate_bomb_document() -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..=(MAX_INFLATED_DOC_BYTES >> 20) {
        z.write_all(&zeros).expect("deflate");
    }
    let bomb = z.finish().expect("deflate");
    let mut data = Vec::new();
    uleb(&mut data, 0); // actors
    uleb(&mut data, 0); // heads
    uleb(&mut data, 1); // one change column...
    uleb(&mut data, 0b1000 | 1); // ...deflated
    uleb(&mut data, bomb.len() as u64);
    uleb(&mut data, 0); // no op columns
    data.extend_from_slice(&bomb);
    let mut header = vec![0u8]; // document chunk
    uleb(&mut header, data.len() as u64);
    let hash = Sha256::new()
        .chain_update(&header)
        .chain_update(&data)
        .finalize();
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    out
}

fn page(docs: Vec<DocUpdate>) -> SyncResponse {
    SyncResponse {
        version: PROTOCOL_VERSION,
        cursor: vec![7; 8],
        docs,
        removed: vec![],
        acked: vec![],
        refused: vec![],
        more: false,
        remaining_estimate: 0,
        wipe: false,
    }
}

#[test]
fn a_page_that_decompresses_past_the_limit_is_refused() {
    // 17 MiB of zeros is a few hundred bytes of zstd.
    let body = vec![0u8; MAX_DECODED_BYTES + (1 << 20)];
    let z = zstd::bulk::compress(&body, 19).expect("zstd");
    assert!(z.len() < 4096, "the bomb is small on the wire: {}", z.len());
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[PROTOCOL_VERSION as u8, COMPRESSION_ZSTD]);
    bytes.extend_from_slice(&z);
    assert!(matches!(
        decode_response(&bytes),
        Err(ProtocolError::TooLarge {
            what: "decoded message",
            ..
        })
    ));
}

#[test]
fn a_snapshot_with_a_deflate_bomb_column_changes_nothing_on_the_device() {
    let doc = deflate_bomb_document();
    assert!(matches!(
        inflate_document(&doc),
        Err(CaseError::OverLimit { .. })
    ));
    let summary = CaseSummary {
        id: "case-1".into(),
        name: "রহিমা বেগম".into(),
        stage: Stage::Monitoring,
        assigned_to: "chw-1".into(),
        district: "سیستان".into(),
        village: "บ้านหนองบัว".into(),
        sensitive: false,
        next_due: None,
        updated_at: 0,
    };
    let bytes = encode_response(&page(vec![DocUpdate {
        doc_id: "case-1".into(),
        body: DocBody::Snapshot { doc, summary },
    }]));
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DeviceStore::open(&dir.path().join("phone"), &test_key()).expect("store");
    let mut session = SyncSession::new(&store, "phone-1", 256 * 1024).expect("session");
    session.next_request().expect("request");
    let err = session.handle_response(&bytes).expect_err("refused");
    assert!(
        matches!(&err, SyncError::BadDocument { doc_id, .. } if doc_id == "case-1"),
        "{err}"
    );
    assert!(store.case_ids().expect("ids").is_empty());
    assert!(store.cursor().expect("cursor").is_empty());
}
