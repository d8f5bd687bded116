//! Comparisons of [`crate::Address`] and [`crate::provider::GenesysId`]
//! values made on this thread (feature `count-comparisons`, for tests).
//!
//! The engine's complexity test plans N and 10 N instances and checks that
//! the comparisons grow about linearly: a scan of the state or of a listing
//! per instance makes them grow a hundredfold. Counting, unlike timing, is
//! exact and does not depend on the machine's load.

use std::cell::Cell;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// Comparisons made on this thread so far.
pub fn count() -> u64 {
    COUNT.with(Cell::get)
}

/// Start counting again from zero on this thread.
pub fn reset() {
    COUNT.with(|c| c.set(0));
}

pub(crate) fn tick() {
    COUNT.with(|c| c.set(c.get() + 1));
}
