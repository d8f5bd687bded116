//! End-to-end tests of gcsim over HTTP: the real `gcsim` binary started by
//! test-support, one module per API area. Every answer is checked against
//! the contract (see `common`).

mod audits;
mod auth;
mod authorization;
mod common;
mod corrections;
mod errors;
mod groups;
mod integrations;
mod misc;
mod oauth;
mod paging;
mod queues;
mod seed_flow;
mod sim_hooks;
