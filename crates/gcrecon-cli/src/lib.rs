//! Library part of the gcrecon CLI: rendering.
pub mod render;
