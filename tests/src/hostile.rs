//! Hostile Automerge bytes for the hostile-input suite and `hostile-bench`: what a
//! modified app (or a compromised server, toward the phones) could send that Automerge
//! would decode without bound — compressed chunks that inflate a thousandfold, deflated
//! document columns, and run-length-encoded changes of millions of operations.

use std::io::Write as _;

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue};
use casesync_core::case::CaseDoc;
use sha2::Digest;

/// The first four bytes of every Automerge chunk.
pub const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk type of a document.
pub const CHUNK_DOCUMENT: u8 = 0;
/// Chunk type of a compressed change.
pub const CHUNK_COMPRESSED: u8 = 2;
/// Chunk type of a bundle.
pub const CHUNK_BUNDLE: u8 = 3;

/// Appends `n` as unsigned LEB128.
pub fn uleb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// An Automerge chunk of `kind` around `data`, with a correct checksum (the first four
/// bytes of the SHA-256 of the type, the length and the data).
pub fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut body = vec![kind];
    uleb(data.len() as u64, &mut body);
    body.extend_from_slice(data);
    let sum = sha2::Sha256::digest(&body);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&sum[..4]);
    out.extend_from_slice(&body);
    out
}

/// Raw deflate of `n` zero bytes (about a thousandth of `n`).
pub fn deflated_zeros(n: usize) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        e.write_all(&block[..k]).expect("deflate to memory");
        left -= k;
    }
    e.finish().expect("deflate to memory")
}

/// A compressed change chunk (type 2) whose data inflates to `inflated` bytes.
pub fn compressed_change_bomb(inflated: usize) -> Vec<u8> {
    chunk(CHUNK_COMPRESSED, &deflated_zeros(inflated))
}

/// [`compressed_change_bomb`] of 1 GiB (about 1 MB: it fits one change), made once per
/// process (deflating a gigabyte takes seconds in a debug build).
pub fn gib_change_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| compressed_change_bomb(1 << 30))
}

/// A document chunk whose one operation column (actions) is `inflated` deflated zeros.
pub fn deflated_document_bomb(inflated: usize) -> Vec<u8> {
    let col = deflated_zeros(inflated);
    let mut data = vec![0, 0, 0, 1]; // no actors, no heads, no change columns; one ops column
    uleb((4 << 4) | 2 | 0b1000, &mut data); // action column, integers, deflated
    uleb(col.len() as u64, &mut data);
    data.extend_from_slice(&col);
    chunk(CHUNK_DOCUMENT, &data)
}

/// A bundle chunk (experimental in Automerge; the protocol never sends one).
pub fn bundle_chunk() -> Vec<u8> {
    chunk(CHUNK_BUNDLE, &[0, 0, 0, 0])
}

/// The raw bytes of one genuine change made on `doc` (with its own actor): a list of `n`
/// nulls put at `assessment.extra.<key>`. Run-length encoding makes it about 100 bytes
/// whatever `n` is.
pub fn run_length_change(doc: &mut CaseDoc, key: &str, n: usize) -> Vec<u8> {
    let am = doc.automerge();
    let (_, assessment) = automerge::ReadDoc::get(am, automerge::ROOT, "assessment")
        .expect("read")
        .expect("assessment");
    let (_, extra) = automerge::ReadDoc::get(am, &assessment, "extra")
        .expect("read")
        .expect("extra");
    let list = am.put_object(&extra, key, ObjType::List).expect("list");
    am.splice(&list, 0, 0, std::iter::repeat_n(ScalarValue::Null, n))
        .expect("splice");
    am.commit();
    am.get_last_local_change()
        .expect("the change just made")
        .raw_bytes()
        .to_vec()
}
