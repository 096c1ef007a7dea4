//! Errors of the case document API.

use super::model::{Role, Stage};

/// Why a case operation was refused. The document is unchanged whenever one is returned.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// The bytes are not a valid Automerge document or change.
    #[error("not a valid case document: {0}")]
    Corrupt(String),
    /// Automerge bytes from outside are over a decoding limit (operations, changes,
    /// inflated bytes): refused before Automerge decodes them.
    #[error("too many {what} (limit {limit})")]
    OverLimit {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The document is not a casesync case (missing or malformed required field).
    #[error("not a case document: field `{0}` is missing or malformed")]
    Malformed(String),
    /// A newer app wrote this document.
    #[error("case schema {found} is newer than this app understands ({supported})")]
    UnsupportedSchema {
        /// Schema number in the document.
        found: u64,
        /// Newest schema this build reads.
        supported: u64,
    },
    /// A field value is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A text or list is over its limit.
    #[error("{field} is too long or has too many entries (limit {limit})")]
    TooLarge {
        /// Field name.
        field: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The referenced goal, referral, visit or household member does not exist.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// The role may not do this.
    #[error("a {role} may not {action}")]
    Forbidden {
        /// Role of the caller.
        role: Role,
        /// What was attempted.
        action: &'static str,
    },
    /// The lifecycle forbids this stage change.
    #[error("cannot move a case from {from} to {to}: {reason}")]
    BadTransition {
        /// Current stage.
        from: Stage,
        /// Requested stage.
        to: Stage,
        /// Which rule failed.
        reason: &'static str,
    },
    /// A referral to a registered agency needs the client's consent to share, recorded
    /// (given) at intake.
    #[error(
        "referring to a registered agency needs the client's consent to share, recorded at intake"
    )]
    ReferralNeedsConsent,
    /// A confidential (sensitive) case is referred to a registered agency only with the
    /// client's explicit consent on that referral.
    #[error("a confidential case is referred to a registered agency only with the client's explicit consent on that referral")]
    ReferralNeedsSensitiveConsent,
    /// The case is closed; reopen it first.
    #[error("the case is closed")]
    Closed,
    /// The named field holds no concurrent values (nothing to resolve), or the chosen
    /// value is not one of them.
    #[error("no conflict to resolve at {0} with that value")]
    NoConflict(String),
    /// Automerge refused an operation (should not happen for valid input).
    #[error("document operation failed: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}
