//! The pull cursor: opaque to the device, postcard-encoded here.

use serde::{Deserialize, Serialize};

/// Where a device's pull stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Position {
    /// Fresh device: snapshots of every document in scope, by id, as of `start_seq`.
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
}

impl Position {
    /// The log position a device holding this cursor has its cases as of.
    pub fn since(&self) -> u64 {
        match self {
            Position::Initial { start_seq, .. } => *start_seq,
            Position::Log { seq } => *seq,
            Position::Shrink { since, .. } => *since,
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
    }
}
