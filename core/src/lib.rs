#![doc = include_str!("../README.md")]

pub mod case;
pub mod dedup;
pub mod messages;
pub mod protocol;
pub mod report;
pub mod store;
pub mod sync;
#[cfg(feature = "uniffi")]
mod uniffi_types;

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
