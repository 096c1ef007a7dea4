//! casesync-server binary.
fn main() {}
