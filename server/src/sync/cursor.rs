//! The pull cursor: opaque to the device, postcard-encoded here.

use serde::{Deserialize, Serialize};

/// Where a device's pull stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// A cursor of the id-ordered initial phase servers wrote before
    /// [`Position::Ordered`]: resumed as an ordered initial phase from its start, as of
    /// the same `start_seq` (snapshots the device already holds are merged again,
    /// harmlessly).
    Initial {
        /// Log position the snapshots cover; the log phase resumes from it.
        start_seq: u64,
        /// Last document id sent.
        after_doc: String,
    },
    /// Following the log after `seq`.
    Log {
        /// Last sequence number fully delivered.
        seq: u64,
    },
    /// The user's scope changed (the cursor's `scope` is already the new one): listing
    /// as removed, by id after `after_doc`, every case the device may hold from its old
    /// scope that the new one does not cover; then snapshots as in [`Position::Initial`]
    /// from `start_seq`.
    Shrink {
        /// Scope fingerprint the device's cases were served under (`None`: unknown, e.g.
        /// the scope changed again during this phase; every scope the user had counts).
        old_scope: Option<u64>,
        /// Log position the device held its cases as of: cases that moved out of the old
        /// scope's log partitions after it are candidates too.
        since: u64,
        /// Log position the snapshots that follow will cover.
        start_seq: u64,
        /// Last document id examined.
        after_doc: String,
    },
    /// Fresh device (or the end of a scope change): snapshots of every document in scope
    /// at `start_seq` and now, the worker's nearest follow-ups first
    /// ([`InitialKey`]); then the log from `start_seq`.
    Ordered {
        /// Log position the snapshots cover; the log phase resumes from it.
        start_seq: u64,
        /// Order key of the last document sent (`None`: none yet).
        after: Option<InitialKey>,
    },
}

/// A document's place in the ordered initial phase: by tier, then (first tier) by the
/// date of its next follow-up, then by id. See `pull/initial.rs` for why a document
/// changed since the phase began has its own, last tier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InitialKey {
    /// 0: open with a follow-up date, 1: other open cases, 2: closed, 3: changed since
    /// the phase began.
    pub tier: u8,
    /// First tier: the next follow-up's day (days from the common era); 0 otherwise.
    pub due: i32,
    /// Case id.
    pub doc_id: String,
}

impl Position {
    /// The log position a device holding this cursor has its cases as of.
    pub fn since(&self) -> u64 {
        match self {
            Position::Initial { start_seq, .. } => *start_seq,
            Position::Log { seq } => *seq,
            Position::Shrink { since, .. } => *since,
            Position::Ordered { start_seq, .. } => *start_seq,
        }
    }
}

/// The cursor the device sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Scope fingerprint of the user when the cursor was made.
    pub scope: u64,
    /// Position.
    pub position: Position,
}

/// The cursor could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("cursor is not one this server made")]
pub struct BadCursor;

impl Cursor {
    /// Encodes the cursor.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Decodes a cursor (`None` for the empty cursor of a fresh device).
    pub fn decode(bytes: &[u8]) -> Result<Option<Cursor>, BadCursor> {
        if bytes.is_empty() {
            return Ok(None);
        }
        postcard::from_bytes(bytes).map(Some).map_err(|_| BadCursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_pins_its_bytes() {
        let c = Cursor {
            scope: 7,
            position: Position::Log { seq: 300 },
        };
        let b = c.encode();
        assert_eq!(b, vec![7, 1, 0xac, 0x02]);
        assert_eq!(Cursor::decode(&b).ok().flatten(), Some(c));
        assert!(Cursor::decode(&[]).ok().flatten().is_none());
        assert!(Cursor::decode(&[0xff, 0xff, 0xff]).is_err());
        // A variant added after the others: the earlier ones keep their bytes.
        let s = Cursor {
            scope: 7,
            position: Position::Shrink {
                old_scope: Some(5),
                since: 300,
                start_seq: 301,
                after_doc: "c".into(),
            },
        };
        assert_eq!(
            s.encode(),
            vec![7, 2, 1, 5, 0xac, 0x02, 0xad, 0x02, 1, b'c']
        );
        assert_eq!(Cursor::decode(&s.encode()).ok().flatten(), Some(s));
        let o = Cursor {
            scope: 7,
            position: Position::Ordered {
                start_seq: 300,
                after: Some(InitialKey {
                    tier: 0,
                    due: 739_000,
                    doc_id: "c".into(),
                }),
            },
        };
        assert_eq!(
            o.encode(),
            vec![7, 3, 0xac, 0x02, 1, 0, 0xf0, 0x9a, 0x5a, 1, b'c']
        );
        assert_eq!(Cursor::decode(&o.encode()).ok().flatten(), Some(o));
    }
}
