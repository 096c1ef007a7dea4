//! casesync server library: storage, the sync engine, auth and the HTTP API.
//! See `server/README.md` for the HTTP contract.

pub mod config;
pub mod store;
pub mod sync;
