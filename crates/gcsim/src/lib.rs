//! gcsim: an in-memory model of the Genesys Cloud Platform API v2 slice that
//! gcrecon uses, faithful enough that the official SDKs work against it
//! unchanged.
//!
//! The `gcsim` binary (`gcsim serve ...`) wraps this library; tests may also
//! run it in-process with [`build`] and [`serve`]. gcsim depends on none of
//! gcrecon's crates: it is an independent model of the service.
//!
//! Modules: [`contract`] (the API's models and operations), [`model`] (the
//! org), [`auth`] (tokens, grants, permissions), [`api`] (the operations),
//! [`server`] (HTTP pipeline: latency, faults, rate limits, stats), [`sim`]
//! (the `/_sim` hooks), [`audit`] (the audit log), [`fixture`] (seeding TOML), [`catalog`] (built-in
//! permissions, roles and integration types).

pub mod api;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod contract;
pub mod error;
pub mod fixture;
pub mod model;
pub mod params;
pub mod server;
pub mod sim;
pub mod wire;

pub use fixture::{Fixture, FixtureError};
pub use model::AdminCredentials;
pub use server::{serve, App, Settings, Stats};

use std::sync::Arc;

/// Everything needed to build a simulator.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Seed org; `None` gives the default org.
    pub fixture: Option<Fixture>,
    /// Initial injection settings.
    pub settings: Settings,
    /// Seed of the fault (and jitter) random generators; random if `None`.
    pub seed: Option<u64>,
}

/// Builds the simulator state (org, settings, counters).
pub fn build(config: &Config) -> Result<Arc<App>, FixtureError> {
    let (org, admin) = model::Org::build(config.fixture.as_ref())?;
    let seed = config.seed.unwrap_or_else(rand::random);
    Ok(Arc::new(App::new(org, admin, config.settings, seed)))
}
