//! Shared helpers for casesync cross-crate tests and benchmarks.

pub mod caseload;
pub mod dump;
pub mod harness;
pub mod sim;
