//! The `gcsim` binary.
fn main() {}
