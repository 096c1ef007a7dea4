#![doc = include_str!("../README.md")]

pub mod case;
pub mod protocol;
pub mod report;
pub mod store;
pub mod sync;
