//! The `gcsim` binary: `gcsim serve [flags]`.
//!
//! Prints `gcsim listening on http://127.0.0.1:PORT` then
//! `gcsim admin client_id=... client_secret=...` on stdout (flushed after
//! each line) and serves until killed.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "gcsim",
    version,
    about = "A simulator of the Genesys Cloud Platform API slice gcrecon uses"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulated API on 127.0.0.1.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TCP port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// TOML file that seeds the org (see docs/simulator.md).
    #[arg(long)]
    fixture: Option<PathBuf>,
    /// Latency added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Random extra latency, 0..=N milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Requests per minute per access token (0 = unlimited).
    #[arg(long, default_value_t = 300)]
    rate_limit: u64,
    /// Fraction of requests that fail with 502/503/504 or a dropped connection.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Fraction of requests that are applied, then lose their answer
    /// (alternately a dropped connection and a 504), as an ambiguous failure
    /// of the real service does.
    #[arg(long, default_value_t = 0.0)]
    lost_response_rate: f64,
    /// Seed of fault injection, lost responses and jitter (deterministic for a sequential client).
    #[arg(long)]
    seed: Option<u64>,
    /// New objects are missing from list endpoints for this long.
    #[arg(long, default_value_t = 0)]
    eventual_ms: u64,
    /// Grants reach already-issued tokens after this long.
    #[arg(long, default_value_t = 0)]
    grant_delay_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Command::Serve(args) = cli.command;
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!("--fault-rate must be between 0 and 1");
    }
    if !(0.0..=1.0).contains(&args.lost_response_rate) {
        anyhow::bail!("--lost-response-rate must be between 0 and 1");
    }
    let fixture = match &args.fixture {
        Some(p) => Some(gcsim::Fixture::load(p)?),
        None => None,
    };
    let config = gcsim::Config {
        fixture,
        settings: gcsim::Settings {
            fault_rate: args.fault_rate,
            lost_response_rate: args.lost_response_rate,
            rate_limit: args.rate_limit,
            latency_ms: args.latency_ms,
            jitter_ms: args.jitter_ms,
            eventual_ms: args.eventual_ms,
            grant_delay_ms: args.grant_delay_ms,
        },
        seed: args.seed,
    };
    let app = gcsim::build(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
        let port = listener.local_addr()?.port();
        let mut out = std::io::stdout().lock();
        writeln!(out, "gcsim listening on http://127.0.0.1:{port}")?;
        out.flush()?;
        writeln!(
            out,
            "gcsim admin client_id={} client_secret={}",
            app.admin.client_id, app.admin.client_secret
        )?;
        out.flush()?;
        drop(out);
        gcsim::serve(listener, app).await?;
        Ok(())
    })
}
