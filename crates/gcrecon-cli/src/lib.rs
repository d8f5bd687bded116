//! Library part of the gcrecon CLI: rendering, and the policy checks on plans.
pub mod policy;
pub mod render;
