//! The scan counts what Automerge would decode, and refuses what it must not decode.

use std::io::Write as _;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ScalarValue, ROOT};

use super::*;
use crate::case::{device_actor, CaseDoc, EditCtx, NewCase, Role, VisitInput, VisitKind};

fn ctx() -> EditCtx {
    EditCtx::new("chw-1", Role::Chw, 1_736_000_000_000)
}

/// A case with text in the four scripts of the field, and a long note, so that its
/// saved columns are deflated.
fn case() -> CaseDoc {
    let mut doc = CaseDoc::create(
        &ctx(),
        device_actor("phone-1"),
        &NewCase {
            id: "case-1".into(),
            district: "dhaka".into(),
            village: "বাড়ি".into(),
            assigned_to: "chw-1".into(),
            sensitive: false,
            client_name: "زهرا حسینی".into(),
        },
    )
    .expect("create");
    for (i, note) in [
        "মা ও শিশু সুস্থ",
        "ไม่มีไข้ รับประทานอาหารได้ปกติ",
        "Nguyễn Thị Hoa: đã tiêm phòng đầy đủ",
        &"زهرا احمدی ".repeat(200),
    ]
    .iter()
    .enumerate()
    {
        let input = VisitInput {
            date: chrono::NaiveDate::from_ymd_opt(2025, 1, 1 + i as u32).expect("date"),
            kind: VisitKind::Home,
            notes: (*note).to_owned(),
            progress: None,
            obstacles: None,
            actions: None,
            next_visit_date: None,
        };
        doc.add_visit(&ctx(), &input).expect("visit");
    }
    doc
}

/// A change of `n` operations: a list of `n - 1` nulls under `key`.
fn list_change(doc: &mut AutoCommit, key: &str, n: usize) -> Vec<u8> {
    let list = doc.put_object(ROOT, key, ObjType::List).expect("list");
    doc.splice(&list, 0, 0, std::iter::repeat_n(ScalarValue::Null, n - 1))
        .expect("splice");
    doc.commit();
    doc.get_last_local_change()
        .expect("change")
        .raw_bytes()
        .to_vec()
}

#[test]
fn genuine_changes_and_documents_are_counted_exactly() {
    let mut doc = case();
    let mut total = 0;
    for c in doc.changes_since(&[]) {
        let counts = scan_change(c.raw_bytes()).expect("genuine change");
        assert_eq!(counts.ops, c.len() as u64, "ops of one change");
        total += counts.ops;
    }
    let saved = doc.save();
    let stats = doc.automerge().stats();
    let counts = scan_document(&saved).expect("genuine document");
    assert_eq!(counts.ops, stats.num_ops);
    assert_eq!(counts.changes, stats.num_changes);
    assert_eq!(counts.ops, total);
    // Uncompressed columns count the same.
    let plain = doc.automerge().save_nocompress();
    assert_eq!(scan_document(&plain).expect("uncompressed"), counts);
    assert!(
        plain.len() > saved.len(),
        "the saved document has deflated columns"
    );
    // A document followed by a change chunk (what `save_incremental` appends).
    let mut more = saved.clone();
    let mut doc2 = CaseDoc::load(&saved).expect("load");
    let last = list_change(doc2.automerge(), "x", 3);
    more.extend_from_slice(&last);
    let c = scan_document(&more).expect("document and change");
    assert_eq!(c.ops, counts.ops + 3);
    assert_eq!(c.changes, counts.changes + 1);
}

#[test]
fn operations_over_the_limit_are_refused_before_decoding() {
    let mut doc = AutoCommit::new();
    let limit = MAX_OPS_PER_CHANGE as usize;
    let small = list_change(&mut doc, "a", 1_000);
    assert_eq!(scan_change(&small).expect("1,000 ops").ops, 1_000);
    let big = list_change(&mut doc, "b", limit + 1);
    // Run-length encoding: the whole change is a few dozen bytes.
    assert!(big.len() < 200, "{} bytes", big.len());
    assert!(matches!(
        scan_change(&big),
        Err(CaseError::OverLimit { limit: l, .. }) if l == MAX_OPS_PER_CHANGE
    ));
    assert!(crate::case::decode_change(big).is_err());
    // At exactly the limit it passes.
    let mut doc = AutoCommit::new();
    let edge = list_change(&mut doc, "c", limit);
    assert_eq!(
        scan_change(&edge).expect("at the limit").ops,
        MAX_OPS_PER_CHANGE
    );
}

#[test]
fn a_document_over_the_operation_limit_is_refused() {
    let mut doc = AutoCommit::new();
    let per = MAX_OPS_PER_CHANGE as usize;
    let changes = (MAX_OPS_PER_DOC as usize).div_ceil(per) + 1;
    for i in 0..changes {
        list_change(&mut doc, &format!("k{i}"), per);
    }
    let saved = doc.save();
    assert!(matches!(
        scan_document(&saved),
        Err(CaseError::OverLimit { limit, .. }) if limit == MAX_OPS_PER_DOC
    ));
    assert!(matches!(
        CaseDoc::load(&saved),
        Err(CaseError::OverLimit { .. })
    ));
}

/// An Automerge chunk of `kind` around `data`, with a correct checksum.
fn chunk_of(kind: u8, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut body = vec![kind];
    let mut n = data.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            body.push(b);
            break;
        }
        body.push(b | 0x80);
    }
    body.extend_from_slice(data);
    let sum = sha2::Sha256::digest(&body);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&sum[..4]);
    out.extend_from_slice(&body);
    out
}

/// Raw deflate of `n` zero bytes: about a thousandth of `n`.
fn deflate_bomb(n: usize) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..n >> 20 {
        e.write_all(&zeros).expect("deflate");
    }
    e.finish().expect("deflate")
}

#[test]
fn compressed_change_chunks_and_bundles_are_refused_without_inflating() {
    // 1 GiB of zeros in about a megabyte: refused by its type, never inflated.
    let bomb = chunk_of(CHUNK_COMPRESSED, &deflate_bomb(1 << 30));
    assert!(bomb.len() < 1_100_000, "{}", bomb.len());
    let start = std::time::Instant::now();
    assert!(matches!(scan_change(&bomb), Err(CaseError::Corrupt(_))));
    assert!(matches!(scan_document(&bomb), Err(CaseError::Corrupt(_))));
    assert!(crate::case::decode_change(bomb.clone()).is_err());
    assert!(CaseDoc::load(&bomb).is_err());
    // Linear in the input at worst: well under what inflating a gigabyte takes.
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // A genuine compressed change (Automerge writes one for changes over 256 bytes).
    let mut doc = case();
    let mut genuine = doc.automerge().get_last_local_change().expect("change");
    let compressed = genuine.bytes().to_vec();
    assert_eq!(compressed[8], CHUNK_COMPRESSED);
    assert!(scan_change(&compressed).is_err());
    let bundle = chunk_of(CHUNK_BUNDLE, &[0, 0, 0, 0]);
    assert!(scan_document(&bundle).is_err());
}

/// A document chunk whose single ops column is deflated `inflated` zero bytes.
fn doc_with_deflated_column(inflated: usize) -> Vec<u8> {
    let col = deflate_bomb(inflated);
    let mut data = vec![0, 0, 0]; // no actors, no heads, no change columns
    data.push(1); // one ops column
    let spec: u32 = (4 << 4) | 2 | DEFLATE_BIT; // action, integer, deflated
    let push_uleb = |mut n: u64, out: &mut Vec<u8>| loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    };
    push_uleb(u64::from(spec), &mut data);
    push_uleb(col.len() as u64, &mut data);
    data.extend_from_slice(&col);
    chunk_of(CHUNK_DOCUMENT, &data)
}

#[test]
fn deflated_document_columns_are_inflated_only_up_to_the_cap() {
    // 64 MiB of zeros inflate past the cap: refused after at most the cap.
    let bomb = doc_with_deflated_column(64 << 20);
    assert!(matches!(
        scan_document(&bomb),
        Err(CaseError::OverLimit { limit, .. }) if limit == MAX_INFLATED_DOC_BYTES
    ));
    assert!(CaseDoc::load(&bomb).is_err());
    // Under the cap the column is read: zero bytes are null runs of length zero.
    let small = doc_with_deflated_column(1 << 20);
    assert_eq!(scan_document(&small).expect("under the cap").ops, 0);
    assert!(CaseDoc::load(&small).is_err(), "not a case");
}

#[test]
fn lengths_past_the_end_are_refused() {
    let mut doc = case();
    let raw = doc.changes_since(&[])[0].raw_bytes().to_vec();
    for cut in [1, 9, 12, raw.len() / 2, raw.len() - 1] {
        assert!(scan_change(&raw[..cut]).is_err(), "cut at {cut}");
    }
    // A huge column count, a huge actor count, a huge literal run.
    let evil = [
        chunk_of(
            CHUNK_CHANGE,
            &[0, 1, 1, 1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ),
        chunk_of(CHUNK_CHANGE, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        chunk_of(
            CHUNK_DOCUMENT,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
        // A literal run of a million values in four bytes.
        chunk_of(
            CHUNK_DOCUMENT,
            &[0, 0, 0, 1, 0x42, 4, 0xc0, 0xfb, 0x42, 0x01],
        ),
    ];
    for (i, e) in evil.iter().enumerate() {
        assert!(scan_document(e).is_err(), "row {i}");
    }
    // A repeated run of two million values in five bytes: counted, and over the limit.
    let run = chunk_of(
        CHUNK_DOCUMENT,
        &[0, 0, 0, 1, 0x42, 5, 0x80, 0x89, 0xfa, 0x00, 0x01],
    );
    assert!(matches!(
        scan_document(&run),
        Err(CaseError::OverLimit { limit, .. }) if limit == MAX_OPS_PER_DOC
    ));
    assert!(scan_document(&[]).is_err());
    assert!(scan_change(&[0x85, 0x6f, 0x4a, 0x83]).is_err());
}
