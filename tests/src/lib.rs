//! Shared helpers for casesync cross-crate tests and benchmarks.

pub mod caseload;
pub mod drive;
pub mod dump;
pub mod fixtures;
pub mod harness;
pub mod hostile;
pub mod link;
pub mod page_study;
pub mod scenario;
pub mod sim;
