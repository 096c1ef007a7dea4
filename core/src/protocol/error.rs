//! [`ProtocolError`]: why bytes could not be decoded into a sync message.

/// Why an encoded sync message was rejected. Messages never quote message content, so
/// they are safe to log and to return to the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The bytes do not start with the casesync magic (`CS`).
    #[error("not a casesync sync message (bad magic bytes)")]
    BadMagic,
    /// The message was written by a protocol version this build does not speak.
    #[error("unsupported protocol version {found} (this build speaks version {supported})")]
    UnsupportedVersion {
        /// Version in the message.
        found: u16,
        /// Version this build speaks.
        supported: u16,
    },
    /// The body uses a compression this build does not know.
    #[error("unsupported compression id {found}")]
    UnsupportedCompression {
        /// Compression id in the header.
        found: u8,
    },
    /// A size or count limit was exceeded.
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit (bytes or elements).
        limit: usize,
    },
    /// The bytes are not a well-formed message (truncated, corrupt, trailing bytes).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message is well formed but breaks a rule (bad id, duplicate document, ...).
    #[error("invalid message: {0}")]
    Invalid(String),
}
