//! casesync server library.
