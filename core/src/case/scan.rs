//! A bounded look at untrusted Automerge bytes before Automerge decodes them.
//!
//! Automerge decodes what it is given without bounds: a compressed change chunk (chunk
//! type 2) or a deflated document column is inflated whole (one 1 MB push became 2 GB),
//! and its run-length-encoded columns turn a few bytes into millions of operations (a
//! 100-byte change inserting two million list elements). So every Automerge input that
//! comes from outside the process — a pushed change, a page's changes or snapshot, a
//! stored record read back, an imported document — is first walked here: the chunk
//! framing, every length checked against the bytes that are really there, every column
//! counted run by run without allocating per item, deflated columns inflated through a
//! capped reader. Only then is it handed to Automerge.
//!
//! What is refused:
//! - chunk types the protocol never sends: compressed change chunks (the protocol moves
//!   raw changes; a saved document never contains them) and bundles (experimental);
//! - compressed columns in a change (Automerge refuses them as well);
//! - more than [`MAX_OPS_PER_CHANGE`] operations in a change, more than
//!   [`MAX_OPS_PER_DOC`] in a document, more than [`MAX_DOC_CHANGES`] changes in a
//!   document, more than [`MAX_INFLATED_DOC_BYTES`] once a document's columns are inflated;
//! - any length or count that points past the end of the input.
//!
//! An operation is counted as the largest item count of any of the chunk's operation
//! columns (object, key, id, insert, action, value, predecessors...): Automerge reads an
//! operation per row, so no column may hold more rows than the limit.
//!
//! [`MAX_OPS_PER_CHANGE`]: crate::protocol::MAX_OPS_PER_CHANGE
//! [`MAX_OPS_PER_DOC`]: crate::protocol::MAX_OPS_PER_DOC
//! [`MAX_DOC_CHANGES`]: crate::protocol::MAX_DOC_CHANGES
//! [`MAX_INFLATED_DOC_BYTES`]: crate::protocol::MAX_INFLATED_DOC_BYTES

use std::io::Read;

use super::error::CaseError;
use crate::protocol::{
    MAX_DOC_CHANGES, MAX_INFLATED_DOC_BYTES, MAX_OPS_PER_CHANGE, MAX_OPS_PER_DOC,
};

/// The first four bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Most columns in one column set (Automerge defines fewer than 20).
const MAX_COLUMNS: u64 = 64;
/// Most chunks in one saved document (a document chunk, or a document chunk followed by
/// change chunks; casesync itself always writes one).
const MAX_CHUNKS: usize = 1 + crate::protocol::MAX_CHANGES_PER_DOC;

const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const CHUNK_BUNDLE: u8 = 3;

const DEFLATE_BIT: u32 = 0b1000;

/// What a scan counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Operations.
    pub ops: u64,
    /// Changes (a change chunk is one; a document chunk holds many).
    pub changes: u64,
}

fn corrupt(what: &str) -> CaseError {
    CaseError::Corrupt(format!("automerge bytes: {what}"))
}

fn over(what: &'static str, limit: u64) -> CaseError {
    CaseError::OverLimit { what, limit }
}

/// A cursor over untrusted bytes; every read is checked against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn left(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], CaseError> {
        let n = usize::try_from(n).map_err(|_| corrupt("length past the end"))?;
        if n > self.left() {
            return Err(corrupt("length past the end"));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CaseError> {
        Ok(self.take(1)?[0])
    }

    fn uleb(&mut self) -> Result<u64, CaseError> {
        let mut out: u64 = 0;
        for i in 0..10 {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if i == 9 && part > 1 {
                return Err(corrupt("LEB128 overflow"));
            }
            out |= part << (7 * i);
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(corrupt("LEB128 overflow"))
    }

    fn sleb(&mut self) -> Result<i64, CaseError> {
        let mut out: i64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            if shift >= 64 {
                return Err(corrupt("LEB128 overflow"));
            }
            out |= i64::from(b & 0x7f).wrapping_shl(shift);
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    out |= -1i64 << shift;
                }
                return Ok(out);
            }
        }
    }

    /// A count of elements that each take at least `min_bytes`: refused when the bytes
    /// left cannot hold them, so no caller ever loops (or allocates) beyond the input.
    fn count(&mut self, min_bytes: u64) -> Result<u64, CaseError> {
        let n = self.uleb()?;
        if n.saturating_mul(min_bytes.max(1)) > self.left() as u64 {
            return Err(corrupt("count past the end"));
        }
        Ok(n)
    }

    /// A length-prefixed byte string.
    fn prefixed(&mut self) -> Result<&'a [u8], CaseError> {
        let n = self.uleb()?;
        self.take(n)
    }
}

/// One column of a column set: its specification and its bytes.
struct Column<'a> {
    spec: u32,
    data: &'a [u8],
}

impl Column<'_> {
    fn deflated(&self) -> bool {
        self.spec & DEFLATE_BIT != 0
    }

    fn col_type(&self) -> u32 {
        self.spec & 0b111
    }
}

/// Reads a column set's metadata (count, then specification and length of each).
fn column_meta(r: &mut Reader<'_>) -> Result<Vec<(u32, u64)>, CaseError> {
    let n = r.count(2)?;
    if n > MAX_COLUMNS {
        return Err(corrupt("too many columns"));
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let spec = u32::try_from(r.uleb()?).map_err(|_| corrupt("column specification"))?;
        let len = r.uleb()?;
        out.push((spec, len));
    }
    Ok(out)
}

/// Splits the column data that follows a column set's metadata.
fn column_data<'a>(r: &mut Reader<'a>, meta: &[(u32, u64)]) -> Result<Vec<Column<'a>>, CaseError> {
    meta.iter()
        .map(|&(spec, len)| {
            Ok(Column {
                spec,
                data: r.take(len)?,
            })
        })
        .collect()
}

/// Adds `n` to a running item count, refusing past `limit`.
fn add(total: &mut u64, n: u64, what: &'static str, limit: u64) -> Result<(), CaseError> {
    *total = total.saturating_add(n);
    if *total > limit {
        Err(over(what, limit))
    } else {
        Ok(())
    }
}

/// Skips one value of a run-length-encoded column of type `col_type`.
fn skip_value(r: &mut Reader<'_>, col_type: u32) -> Result<(), CaseError> {
    match col_type {
        // String: length-prefixed UTF-8.
        5 => r.prefixed().map(|_| ()),
        // Delta: signed.
        3 => r.sleb().map(|_| ()),
        // Group, actor, integer, value metadata: unsigned.
        _ => r.uleb().map(|_| ()),
    }
}

/// The number of items a column holds, refusing more than `limit`. Work is linear in
/// the column's bytes: a repeated run is counted, not expanded.
fn items(data: &[u8], col_type: u32, what: &'static str, limit: u64) -> Result<u64, CaseError> {
    let mut r = Reader::new(data);
    let mut total = 0u64;
    match col_type {
        // Raw values: their count is given by the value metadata column.
        7 => {}
        // Boolean: alternating run lengths.
        4 => {
            while !r.is_empty() {
                let n = r.uleb()?;
                add(&mut total, n, what, limit)?;
            }
        }
        _ => {
            while !r.is_empty() {
                let run = r.sleb()?;
                match run {
                    0 => {
                        let nulls = r.uleb()?;
                        add(&mut total, nulls, what, limit)?;
                    }
                    n if n > 0 => {
                        skip_value(&mut r, col_type)?;
                        add(&mut total, n.unsigned_abs(), what, limit)?;
                    }
                    n => {
                        let literals = n.unsigned_abs();
                        if literals > r.left() as u64 {
                            return Err(corrupt("run past the end"));
                        }
                        for _ in 0..literals {
                            skip_value(&mut r, col_type)?;
                        }
                        add(&mut total, literals, what, limit)?;
                    }
                }
            }
        }
    }
    Ok(total)
}

/// The largest item count of any column of a set (deflated columns inflated through a
/// reader capped at what is left of `inflate_budget`).
fn rows(
    columns: &[Column<'_>],
    what: &'static str,
    limit: u64,
    inflate_budget: &mut u64,
) -> Result<u64, CaseError> {
    let mut most = 0u64;
    for c in columns {
        let n = if c.deflated() {
            let out = inflate_column(c.data, inflate_budget)?;
            items(&out, c.col_type(), what, limit)?
        } else {
            items(c.data, c.col_type(), what, limit)?
        };
        most = most.max(n);
    }
    Ok(most)
}

/// Inflates one deflated column, at most `budget` bytes (what is left of the document's
/// [`MAX_INFLATED_DOC_BYTES`]), which it lowers by what came out: a deflate bomb stops at
/// the budget, before it allocates more.
fn inflate_column(data: &[u8], budget: &mut u64) -> Result<Vec<u8>, CaseError> {
    let mut out = Vec::new();
    let cap = *budget;
    flate2::read::DeflateDecoder::new(data)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| corrupt("deflated column"))?;
    if out.len() as u64 > cap {
        return Err(over("inflated document bytes", MAX_INFLATED_DOC_BYTES));
    }
    *budget -= out.len() as u64;
    Ok(out)
}

/// A chunk's header: its type and its data.
fn chunk<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), CaseError> {
    if r.take(4)? != MAGIC {
        return Err(corrupt("not an Automerge chunk"));
    }
    r.take(4)?; // checksum: verified by the caller or by Automerge
    let kind = r.byte()?;
    let len = r.uleb()?;
    Ok((kind, r.take(len)?))
}

/// Skips `n` actor ids.
fn actors(r: &mut Reader<'_>) -> Result<(), CaseError> {
    let n = r.count(1)?;
    for _ in 0..n {
        r.prefixed()?;
    }
    Ok(())
}

/// Skips `n` change hashes.
fn hashes(r: &mut Reader<'_>) -> Result<(), CaseError> {
    let n = r.count(32)?;
    r.take(n * 32).map(|_| ())
}

/// The operations of a change chunk's data.
fn change_ops(data: &[u8]) -> Result<u64, CaseError> {
    let mut r = Reader::new(data);
    hashes(&mut r)?; // dependencies
    r.prefixed()?; // actor
    r.uleb()?; // seq
    r.uleb()?; // start op
    r.sleb()?; // time
    r.prefixed()?; // message
    actors(&mut r)?; // other actors
    let meta = column_meta(&mut r)?;
    let columns = column_data(&mut r, &meta)?;
    if columns.iter().any(Column::deflated) {
        return Err(corrupt("compressed columns in a change"));
    }
    let mut no_inflating = 0;
    rows(
        &columns,
        "operations in one change",
        MAX_OPS_PER_CHANGE,
        &mut no_inflating,
    )
}

/// Counts one raw change (a single uncompressed change chunk, as the protocol sends
/// them), refusing it when it is over [`MAX_OPS_PER_CHANGE`].
///
/// [`MAX_OPS_PER_CHANGE`]: crate::protocol::MAX_OPS_PER_CHANGE
pub fn scan_change(bytes: &[u8]) -> Result<Counts, CaseError> {
    let mut r = Reader::new(bytes);
    let (kind, data) = chunk(&mut r)?;
    if !r.is_empty() {
        return Err(corrupt("bytes after the change"));
    }
    match kind {
        CHUNK_CHANGE => Ok(Counts {
            ops: change_ops(data)?,
            changes: 1,
        }),
        CHUNK_COMPRESSED => Err(corrupt(
            "compressed change chunks are refused: the protocol sends raw changes",
        )),
        _ => Err(corrupt("not a change chunk")),
    }
}

/// Counts a saved document (a document chunk, possibly followed by change chunks),
/// refusing it when it is over any limit of this module.
pub fn scan_document(bytes: &[u8]) -> Result<Counts, CaseError> {
    let mut r = Reader::new(bytes);
    let mut total = Counts::default();
    let mut inflate_budget = MAX_INFLATED_DOC_BYTES;
    let mut chunks = 0usize;
    while !r.is_empty() {
        chunks += 1;
        if chunks > MAX_CHUNKS {
            return Err(over("chunks in one document", MAX_CHUNKS as u64));
        }
        let (kind, data) = chunk(&mut r)?;
        let counts = match kind {
            CHUNK_DOCUMENT => {
                let mut d = Reader::new(data);
                actors(&mut d)?;
                hashes(&mut d)?; // heads
                let change_meta = column_meta(&mut d)?;
                let ops_meta = column_meta(&mut d)?;
                let change_cols = column_data(&mut d, &change_meta)?;
                let ops_cols = column_data(&mut d, &ops_meta)?;
                // The rest is the heads' indices (one per head): bounded by the chunk.
                Counts {
                    changes: rows(
                        &change_cols,
                        "changes in one document",
                        MAX_DOC_CHANGES,
                        &mut inflate_budget,
                    )?,
                    ops: rows(
                        &ops_cols,
                        "operations in one document",
                        MAX_OPS_PER_DOC,
                        &mut inflate_budget,
                    )?,
                }
            }
            CHUNK_CHANGE => Counts {
                ops: change_ops(data)?,
                changes: 1,
            },
            CHUNK_COMPRESSED => {
                return Err(corrupt(
                    "compressed change chunks are refused in a saved document",
                ))
            }
            CHUNK_BUNDLE => return Err(corrupt("bundles are refused")),
            _ => return Err(corrupt("unknown chunk type")),
        };
        add(
            &mut total.ops,
            counts.ops,
            "operations in one document",
            MAX_OPS_PER_DOC,
        )?;
        add(
            &mut total.changes,
            counts.changes,
            "changes in one document",
            MAX_DOC_CHANGES,
        )?;
    }
    if chunks == 0 {
        return Err(corrupt("empty document"));
    }
    Ok(total)
}

mod inflate;
pub use inflate::inflate_document;

#[cfg(test)]
mod tests;
