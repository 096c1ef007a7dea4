//! Serde helpers that enforce the limits *while* decoding.
//!
//! Without them a tiny hostile body could claim a huge element count, or pack millions of
//! empty elements each costing 24 bytes of heap per input byte. With them every list is
//! capped at its limit before anything is allocated, and every byte string is checked
//! before it is copied, so decoding takes at most a few times [`MAX_DECODED_BYTES`] of
//! memory.
//!
//! Byte strings are written with `serialize_bytes`; in postcard that is the same wire
//! form as a `Vec<u8>` sequence (a varint length, then the bytes), only faster.
//!
//! postcard drops the text of custom serde errors, so a limit hit is also recorded in a
//! thread-local slot that the decoder reads back to report a precise [`ProtocolError`].
//!
//! [`MAX_DECODED_BYTES`]: super::MAX_DECODED_BYTES

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use super::limits::{
    MAX_CHANGES_PER_DOC, MAX_CHANGE_BYTES, MAX_CURSOR_BYTES, MAX_DOCS_PER_MESSAGE, MAX_DOC_BYTES,
    MIN_CHANGE_BYTES,
};
use super::{Hash, ProtocolError};

thread_local! {
    static LAST_ERROR: RefCell<Option<ProtocolError>> = const { RefCell::new(None) };
}

/// Takes the error recorded by the last failed limit check on this thread, if any.
pub(super) fn take_error() -> Option<ProtocolError> {
    LAST_ERROR.with(|e| e.borrow_mut().take())
}

fn fail<E: de::Error>(err: ProtocolError) -> E {
    let e = E::custom(&err);
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(err));
    e
}

fn check_len<E: de::Error>(what: &'static str, min: usize, max: usize, n: usize) -> Result<(), E> {
    if n > max {
        Err(fail(ProtocolError::TooLarge { what, limit: max }))
    } else if n < min {
        Err(fail(ProtocolError::Invalid(format!(
            "{what} is shorter than {min} bytes"
        ))))
    } else {
        Ok(())
    }
}

/// A byte string whose length must lie in `min..=max`.
struct BytesVisitor {
    what: &'static str,
    min: usize,
    max: usize,
}

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of at most {} bytes", self.what, self.max)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        check_len(self.what, self.min, self.max, v.len())?;
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        check_len(self.what, self.min, self.max, v.len())?;
        Ok(v)
    }

    // Self-describing formats (JSON) write bytes as a list of numbers.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let hint = seq.size_hint().unwrap_or(0);
        check_len(self.what, 0, self.max, hint)?;
        let mut out = Vec::with_capacity(hint);
        while let Some(b) = seq.next_element::<u8>()? {
            check_len(self.what, 0, self.max, out.len() + 1)?;
            out.push(b);
        }
        check_len(self.what, self.min, self.max, out.len())?;
        Ok(out)
    }
}

fn bytes<'de, D: Deserializer<'de>>(
    d: D,
    what: &'static str,
    min: usize,
    max: usize,
) -> Result<Vec<u8>, D::Error> {
    d.deserialize_byte_buf(BytesVisitor { what, min, max })
}

/// A list of at most `max` elements.
struct SeqVisitor<T> {
    what: &'static str,
    max: usize,
    elem: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {} {}", self.max, self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let hint = seq.size_hint().unwrap_or(0);
        if hint > self.max {
            return Err(fail(ProtocolError::TooLarge {
                what: self.what,
                limit: self.max,
            }));
        }
        let mut out = Vec::with_capacity(hint);
        while let Some(x) = seq.next_element()? {
            if out.len() == self.max {
                return Err(fail(ProtocolError::TooLarge {
                    what: self.what,
                    limit: self.max,
                }));
            }
            out.push(x);
        }
        Ok(out)
    }
}

fn seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    what: &'static str,
    max: usize,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(SeqVisitor {
        what,
        max,
        elem: PhantomData,
    })
}

/// Writes a byte string (for `serialize_with`).
pub(super) fn ser_bytes<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

/// A pull cursor: at most [`MAX_CURSOR_BYTES`].
pub(super) fn cursor<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    bytes(d, "cursor", 0, MAX_CURSOR_BYTES)
}

/// A saved document: at most [`MAX_DOC_BYTES`].
pub(super) fn doc<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    bytes(d, "snapshot", 0, MAX_DOC_BYTES)
}

/// Per-document lists, each at most [`MAX_DOCS_PER_MESSAGE`] long.
macro_rules! doc_lists {
    ($($name:ident: $what:literal),+ $(,)?) => {$(
        #[doc = concat!("The ", $what, " of a message.")]
        pub(super) fn $name<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
            d: D,
        ) -> Result<Vec<T>, D::Error> {
            seq(d, $what, MAX_DOCS_PER_MESSAGE)
        }
    )+};
}

doc_lists!(
    push: "pushed documents",
    docs: "documents",
    removed: "removed documents",
    acked: "acknowledged pushes",
    refused: "refused pushes",
);

/// The hashes of one [`super::PushAck`].
pub(super) fn hashes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
    seq(
        d,
        "acknowledged hashes of one document",
        MAX_CHANGES_PER_DOC,
    )
}

/// One raw change, [`MIN_CHANGE_BYTES`]`..=`[`MAX_CHANGE_BYTES`].
struct Change(Vec<u8>);

impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bytes(d, "change", MIN_CHANGE_BYTES, MAX_CHANGE_BYTES).map(Change)
    }
}

struct ChangeRef<'a>(&'a [u8]);

impl Serialize for ChangeRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Writes a list of raw changes (for `serialize_with`).
pub(super) fn ser_changes<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|c| ChangeRef(c)))
}

/// The raw changes of one document: at most [`MAX_CHANGES_PER_DOC`], each checked.
pub(super) fn changes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    let v: Vec<Change> = seq(d, "changes of one document", MAX_CHANGES_PER_DOC)?;
    Ok(v.into_iter().map(|c| c.0).collect())
}
