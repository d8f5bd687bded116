//! End-to-end tests of gcrecon: the real `gcrecon` binary against a real
//! `gcsim` process, with outcomes checked in the simulator's `/_sim/dump`.
//! The tests live in `tests/tests/*.rs`; this library is empty on purpose.
