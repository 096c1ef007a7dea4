//! Shared helpers for casesync cross-crate tests.
