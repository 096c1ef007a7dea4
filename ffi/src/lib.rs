//! casesync FFI.
