//! Shared helpers for casesync cross-crate tests.

pub mod caseload;
