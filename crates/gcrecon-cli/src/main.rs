//! The `gcrecon` binary.
fn main() {}
