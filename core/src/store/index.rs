//! The summary index: case summaries packed into [`BUCKETS`] encrypted records.
//!
//! A case's bucket is fixed by a hash of its id. Listing reads and decrypts at most
//! [`BUCKETS`] values instead of one per case: with one record per summary, listing
//! 10,000 cases cost ~100 ms on a fresh sled open (10,000 tree lookups and 10,000
//! decryptions), with buckets it costs a few milliseconds. A write rewrites only the
//! buckets of the cases it touches (about 1/64 of the index each).
//!
//! Summaries are derived data: a bucket that fails to decrypt or parse is rebuilt from
//! the documents of its cases, so a damaged bucket costs time, not data.

use sha2::{Digest, Sha256};

use crate::case::CaseSummary;

use super::StoreError;

/// Key prefix of index buckets.
pub(crate) const INDEX: &[u8] = b"i/";
/// Number of buckets.
pub(crate) const BUCKETS: usize = 64;

/// The bucket of case `id`.
pub(crate) fn bucket_of(id: &str) -> usize {
    usize::from(Sha256::digest(id.as_bytes())[0]) % BUCKETS
}

/// The key of bucket `b`.
pub(crate) fn bucket_key(b: usize) -> Vec<u8> {
    format!("i/{b:02x}").into_bytes()
}

/// The bucket number in an index key, if it is one.
pub(crate) fn bucket_of_key(key: &[u8]) -> Option<usize> {
    let hex = std::str::from_utf8(key.strip_prefix(INDEX)?).ok()?;
    let b = usize::from_str_radix(hex, 16).ok()?;
    (hex.len() == 2 && b < BUCKETS).then_some(b)
}

/// Encodes a bucket (summaries sorted by id).
pub(crate) fn encode(bucket: &[CaseSummary]) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(bucket)
        .map_err(|e| StoreError::Backend(format!("encoding the summary index: {e}")))
}

/// Decodes bucket `b`; `None` unless it parses, is sorted by id without duplicates and
/// holds only cases of bucket `b`.
pub(crate) fn decode(b: usize, plain: &[u8]) -> Option<Vec<CaseSummary>> {
    let v: Vec<CaseSummary> = postcard::from_bytes(plain).ok()?;
    let sorted = v.windows(2).all(|w| w[0].id < w[1].id);
    (sorted && v.iter().all(|s| bucket_of(&s.id) == b)).then_some(v)
}

/// Inserts or replaces the summary of `s.id`.
pub(crate) fn upsert(bucket: &mut Vec<CaseSummary>, s: CaseSummary) {
    match bucket.binary_search_by(|x| x.id.as_str().cmp(&s.id)) {
        Ok(i) => bucket[i] = s,
        Err(i) => bucket.insert(i, s),
    }
}

/// Removes the summary of `id`, if present.
pub(crate) fn remove(bucket: &mut Vec<CaseSummary>, id: &str) {
    if let Ok(i) = bucket.binary_search_by(|x| x.id.as_str().cmp(id)) {
        bucket.remove(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_keys_round_trip() {
        for b in 0..BUCKETS {
            assert_eq!(bucket_of_key(&bucket_key(b)), Some(b));
        }
        assert_eq!(bucket_of_key(b"i/ff"), None);
        assert_eq!(bucket_of_key(b"i/1"), None);
        assert_eq!(bucket_of_key(b"d/01"), None);
        // Pinned: the bucket of an id is part of the stored format.
        assert_eq!(bucket_of("case-1"), bucket_of("case-1"));
        assert_eq!(bucket_key(bucket_of("c1")), b"i/10");
    }
}
