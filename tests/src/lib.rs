//! Shared helpers for casesync cross-crate tests and benchmarks.

pub mod caseload;
pub mod dump;
pub mod fixtures;
pub mod harness;
pub mod hostile;
pub mod scenario;
pub mod sim;
