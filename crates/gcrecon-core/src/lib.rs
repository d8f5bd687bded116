//! gcrecon-core: the pure heart of gcrecon.
//!
//! Everything here is deterministic logic over values: the manifest model and
//! its parser, references and their evaluation, the resource graph, the diff,
//! the plan model, the state format and the [`provider::Provider`] trait that
//! the engine drives. This crate performs no I/O (callers hand it file
//! contents), spawns no tasks and depends on no async runtime or network
//! crate; `cargo tree -p gcrecon-core` proves it.

pub mod address;
#[cfg(feature = "count-comparisons")]
pub mod comparisons;
pub mod diff;
pub mod drift;
pub mod fxhash;
pub mod graph;
pub mod kind;
pub mod kinds;
pub mod manifest;
pub mod permission;
pub mod plan;
pub mod plan_json;
pub mod provider;
pub mod schema;
pub mod secret;
pub mod state;
pub mod suggest;
pub mod value;
pub mod vecmap;

pub use address::{Address, InstanceKey};
pub use kind::{DataKind, Kind};
pub use secret::Secret;
pub use value::Value;
