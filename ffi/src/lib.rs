//! casesync exported to Kotlin (and Swift) through uniffi.
//!
//! Thin wrappers over `casesync-core`: every function converts its arguments, calls the
//! core with `?` and converts the result back. The only code of its own is the device's
//! HTTP transport (`transport`), which drives the core's sans-IO sync session.
//!
//! - [`CaseStore`]: one device's encrypted store, the case editing API, login and sync.
//! - Records and enums (`records`, `inputs`, `enums`) mirror the core's types.
//!   **Dates are `"YYYY-MM-DD"` strings** (ISO 8601 calendar dates, e.g. `"2025-03-14"`;
//!   Kotlin reads them with `java.time.LocalDate.parse`); a malformed date is
//!   [`CasesyncError::Invalid`]. Times are milliseconds since the Unix epoch (`i64`).
//! - [`CasesyncError`]: the one flat error, converted from the core's errors in
//!   `error.rs`; every variant's message can be shown to a health worker.

uniffi::setup_scaffolding!();

mod convert;
mod dates;
mod enums;
mod error;
mod inputs;
mod records;
mod session;
mod store;
mod sync;
mod transport;

pub use enums::*;
pub use error::CasesyncError;
pub use inputs::*;
pub use records::*;
pub use session::{Session, TransportConfig};
pub use store::CaseStore;
pub use sync::{SyncHandle, SyncObserver, SyncProgress, SyncReport};
