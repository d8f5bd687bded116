//! gcrecon-engine: the reconciler.
//!
//! Generic over any [`gcrecon_core::provider::Provider`], it refreshes the
//! organization ([`refresh`]), plans ([`planner::plan`]), carries a plan out
//! over the dependency graph with bounded parallelism ([`apply::apply`]),
//! and keeps the state: atomic writes after every API change
//! ([`store::StateStore`]) through a [`backend::StateBackend`] (a local file
//! or PostgreSQL), the lock ([`lock::StateLock`]), the secrets file
//! ([`secrets::SecretsFile`]) and saved plans ([`saved::SavedPlan`]). It
//! never prints: progress goes to an [`events::Observer`], results come
//! back as values.
//!
//! The usual sequence, as the CLI runs it:
//!
//! 1. take the lock, open the state;
//! 2. [`planner::plan`] (refresh included) gives a [`planner::Planned`];
//! 3. [`apply::apply`] walks it and returns an [`apply::ApplyReport`].

// Errors are cold and carry what the user needs to read (the provider's
// error with its correlation id, the lock holder): their size is not worth
// boxing.
#![allow(clippy::result_large_err)]

#[cfg(feature = "jemalloc")]
mod allocator;
pub mod apply;
pub mod backend;
pub mod caller_grant;
#[cfg(test)]
mod complexity;
pub mod drift;
pub mod error;
pub mod events;
pub mod export;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod ignore;
pub mod lock;
pub mod ops;
pub mod planner;
pub mod refresh;
pub mod saved;
pub mod secrets;
pub mod store;

pub use apply::{apply, ApplyInput, ApplyOptions, ApplyReport, Outcome, Status};
pub use backend::{BackendChoice, BackendError, StateBackend};
pub use error::EngineError;
pub use events::{Cancel, Event, Observer, Silent};
pub use planner::{plan, PlanInput, PlanOptions, Planned};
pub use refresh::{read_context, read_objects, refresh, Context, LiveIndex, Refreshed};
pub use saved::{inputs_sha256, manifest_sha256, plan_document, with_plan_document, SavedPlan};
pub use secrets::{parse_recipients, read_identities, Delivered, SecretsFile};
pub use store::{StatePaths, StateStore, DEFAULT_WORKSPACE};

#[cfg(test)]
mod testkit;
