//! A saved document rewritten with its columns inflated, for a page compressed whole.
//!
//! `save()` deflates every column over 256 bytes, one column of one case at a time:
//! the keys, the texts and the actor indexes of a case are compressed without seeing
//! the next case, which holds nearly the same. A pull page is one zstd frame over all
//! its cases (see `protocol::codec`), and zstd does far better on the plain columns of
//! many cases than deflate on each column. [`inflate_document`] turns a stored
//! (deflated) document into the form `save_nocompress()` writes, without loading it
//! into Automerge: the chunk framing is walked with the bounded reader of
//! [`super`], each deflated column is inflated through a reader capped at
//! [`MAX_INFLATED_DOC_BYTES`], and the chunk checksum is computed again.
//!
//! [`MAX_INFLATED_DOC_BYTES`]: crate::protocol::MAX_INFLATED_DOC_BYTES

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::{
    actors, chunk, column_data, column_meta, corrupt, hashes, inflate_column, CaseError, Column,
    Reader, CHUNK_DOCUMENT, DEFLATE_BIT, MAGIC,
};
use crate::protocol::MAX_INFLATED_DOC_BYTES;

/// `bytes` (a saved document) with every deflated column of its document chunks
/// inflated; other chunks, and documents without deflated columns, are copied as they
/// are. The result loads to the same document (same heads, same content). Refused
/// with [`CaseError::Corrupt`] when the framing is broken, and with
/// [`CaseError::OverLimit`] past [`MAX_INFLATED_DOC_BYTES`] of inflated columns.
///
/// [`MAX_INFLATED_DOC_BYTES`]: crate::protocol::MAX_INFLATED_DOC_BYTES
pub fn inflate_document(bytes: &[u8]) -> Result<Vec<u8>, CaseError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(3));
    let mut budget = MAX_INFLATED_DOC_BYTES;
    while !r.is_empty() {
        let start = r.pos;
        let (kind, data) = chunk(&mut r)?;
        match kind {
            CHUNK_DOCUMENT => match inflate_chunk(data, &mut budget)? {
                Some(data) => write_chunk(&mut out, kind, &data),
                None => out.extend_from_slice(&bytes[start..r.pos]),
            },
            _ => out.extend_from_slice(&bytes[start..r.pos]),
        }
    }
    if out.is_empty() {
        return Err(corrupt("empty document"));
    }
    Ok(out)
}

/// The data of a document chunk with its columns inflated; `None` if none is deflated.
fn inflate_chunk(data: &[u8], budget: &mut u64) -> Result<Option<Vec<u8>>, CaseError> {
    let mut d = Reader::new(data);
    actors(&mut d)?;
    hashes(&mut d)?; // heads
    let prefix = &data[..d.pos];
    let change_meta = column_meta(&mut d)?;
    let ops_meta = column_meta(&mut d)?;
    let change_cols = column_data(&mut d, &change_meta)?;
    let ops_cols = column_data(&mut d, &ops_meta)?;
    let rest = &data[d.pos..]; // the heads' indices
    if !change_cols.iter().chain(&ops_cols).any(Column::deflated) {
        return Ok(None);
    }
    let change_cols = inflate_columns(&change_cols, budget)?;
    let ops_cols = inflate_columns(&ops_cols, budget)?;
    let body: usize = change_cols.iter().chain(&ops_cols).map(|c| c.1.len()).sum();
    let mut out = Vec::with_capacity(prefix.len() + body + rest.len() + 64);
    out.extend_from_slice(prefix);
    for set in [&change_cols, &ops_cols] {
        write_uleb(&mut out, set.len() as u64);
        for (spec, col) in set.iter() {
            write_uleb(&mut out, u64::from(*spec));
            write_uleb(&mut out, col.len() as u64);
        }
    }
    for (_, col) in change_cols.iter().chain(&ops_cols) {
        out.extend_from_slice(col);
    }
    out.extend_from_slice(rest);
    Ok(Some(out))
}

/// A column's specification and its plain bytes.
type PlainColumn<'a> = (u32, Cow<'a, [u8]>);

/// Each column's specification without the deflate bit, and its plain bytes.
fn inflate_columns<'a>(
    columns: &[Column<'a>],
    budget: &mut u64,
) -> Result<Vec<PlainColumn<'a>>, CaseError> {
    columns
        .iter()
        .map(|c| {
            if !c.deflated() {
                return Ok((c.spec, Cow::Borrowed(c.data)));
            }
            let out = inflate_column(c.data, budget)?;
            Ok((c.spec & !DEFLATE_BIT, Cow::Owned(out)))
        })
        .collect()
}

/// Writes a chunk: magic, checksum (the first 4 bytes of the SHA-256 of the type, the
/// LEB128 length and the data, as Automerge computes it), type, length, data.
fn write_chunk(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    let mut header = vec![kind];
    write_uleb(&mut header, data.len() as u64);
    let mut hasher = Sha256::new();
    hasher.update(&header);
    hasher.update(data);
    let hash = hasher.finalize();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
}

fn write_uleb(out: &mut Vec<u8>, mut v: u64) {
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

#[cfg(test)]
mod tests {
    use automerge::{transaction::Transactable, AutoCommit, ObjType, ROOT};

    use super::*;
    use crate::case::scan_document;

    /// A document with long texts in three scripts (deflated columns) from two actors.
    fn doc() -> AutoCommit {
        let mut doc = AutoCommit::new();
        let note = "রোগী ভালো আছেন, পরের সপ্তাহে আবার দেখা হবে। ".repeat(20);
        let t = doc.put_object(ROOT, "note", ObjType::Text).expect("test");
        doc.splice_text(&t, 0, 0, &note).expect("test");
        doc.put(ROOT, "name", "مریم احمدی").expect("test");
        doc.commit();
        let mut other = doc.fork();
        other.put(ROOT, "village", "บ้านหนองบัว").expect("test");
        other
            .splice_text(&t, 5, 0, "Nguyễn Thị Lan ")
            .expect("test");
        other.commit();
        doc.merge(&mut other).expect("test");
        doc
    }

    #[test]
    fn inflated_is_what_save_nocompress_writes_and_loads_the_same() {
        let mut doc = doc();
        let saved = doc.save();
        let plain = doc.save_nocompress();
        assert!(
            plain.len() > saved.len(),
            "the document has deflated columns"
        );
        let inflated = inflate_document(&saved).expect("test");
        assert_eq!(inflated, plain);
        let mut back = AutoCommit::load(&inflated).expect("test");
        assert_eq!(back.get_heads(), doc.get_heads());
        assert_eq!(back.save(), saved);
        assert_eq!(
            scan_document(&inflated).expect("test"),
            scan_document(&saved).expect("test")
        );
    }

    #[test]
    fn a_plain_document_is_copied() {
        let plain = doc().save_nocompress();
        assert_eq!(inflate_document(&plain).expect("test"), plain);
    }

    #[test]
    fn broken_framing_is_refused_without_panic() {
        let saved = doc().save();
        for cut in [0, 3, 9, 20, saved.len() / 2, saved.len() - 1] {
            assert!(
                matches!(inflate_document(&saved[..cut]), Err(CaseError::Corrupt(_))),
                "cut at {cut}"
            );
        }
        let mut garbled = saved.clone();
        let last = garbled.len() - 3;
        garbled[last / 2..last].iter_mut().for_each(|b| *b = 0xff);
        assert!(inflate_document(&garbled).is_err());
    }

    #[test]
    fn a_deflate_bomb_column_is_refused() {
        // One column declared deflated that inflates past the cap.
        use std::io::Write;
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1024 * 1024];
        for _ in 0..(MAX_INFLATED_DOC_BYTES / zeros.len() as u64 + 1) {
            z.write_all(&zeros).expect("test");
        }
        let bomb = z.finish().expect("test");
        let mut data = Vec::new();
        write_uleb(&mut data, 0); // actors
        write_uleb(&mut data, 0); // heads
        write_uleb(&mut data, 1); // change columns
        write_uleb(&mut data, u64::from(DEFLATE_BIT | 1));
        write_uleb(&mut data, bomb.len() as u64);
        write_uleb(&mut data, 0); // op columns
        data.extend_from_slice(&bomb);
        let mut bytes = Vec::new();
        write_chunk(&mut bytes, CHUNK_DOCUMENT, &data);
        assert!(matches!(
            inflate_document(&bytes),
            Err(CaseError::OverLimit { .. })
        ));
    }
}
