//! casesync exported to Kotlin (and Swift) through uniffi.
//!
//! Thin wrappers over `casesync-core`: every function calls the core with `?`. The only
//! code of its own is the device's HTTP transport (`transport`), which drives the core's
//! sans-IO sync session.
//!
//! - [`CaseStore`]: one device's encrypted store, the case editing API, login and sync.
//! - The records and enums the app reads (`Case`, `CaseSummary`, `Stage`, ...) are the
//!   core's own types, derived behind casesync-core's `uniffi` feature (Kotlin package
//!   `org.casesync.core`; `core/src/uniffi_types.rs` holds the few custom types).
//!   **Dates are `java.time.LocalDate`** in Kotlin (`chrono::NaiveDate` here, crossing
//!   as `"YYYY-MM-DD"` text). Times are milliseconds since the Unix epoch (`i64`).
//! - The input records with dates (`inputs`) are this crate's (with Kotlin defaults),
//!   moved into the core's in `convert`.
//! - `possible_duplicates` / `possible_duplicates_of_case` (`dedup.rs`): likely duplicate
//!   clients among the cases on the phone, offline (`casesync_core::dedup`).
//! - `change_password` (`account.rs`): a new password after an administrator's reset.
//! - `observe` (`observe.rs`): a [`ChangeListener`] hears the ids of the cases each edit,
//!   sync page, removal or wipe changed, once saved (Kotlin: `AsyncCaseStore.changes()`,
//!   a `Flow`).
//! - `set_log_sink` (`logs.rs`): the FFI's `tracing` events (counts and codes, no
//!   personal data) to the app's [`LogSink`] (Logcat).
//! - [`CasesyncError`]: the one flat error, converted from the core's errors in
//!   `error.rs`; every variant's message can be shown to a health worker.

uniffi::setup_scaffolding!();

// Dates in this crate's records and calls: the core's custom type (`java.time.LocalDate`).
use chrono::NaiveDate;
uniffi::use_remote_type!(casesync_core::NaiveDate);

mod account;
mod agencies;
#[cfg(target_os = "android")]
mod android;
mod convert;
mod dedup;
mod error;
mod inputs;
mod logs;
mod observe;
mod session;
mod store;
mod sync;
mod tls;
mod transport;

pub use dedup::{HouseholdMemberInput, PossibleDuplicate, RegistrationQuery};
pub use error::{CasesyncError, ErrorDetail};
pub use inputs::*;
pub use logs::{set_log_sink, LogLevel, LogSink};
pub use observe::{CaseChanges, ChangeListener, ChangeOrigin, Subscription};
pub use session::{Session, Token, TransportConfig};
pub use store::CaseStore;
pub use sync::{SyncHandle, SyncObserver, SyncProgress, SyncReport};
