//! The commands: each takes the parsed arguments and a [`Ctx`], does its
//! work through the engine and prints through the [`Printer`], and returns
//! the exit code.

mod backend;
mod docs;
pub mod drift;
pub mod export;
pub mod fleet;
mod inspect;
mod offline;
mod policy;
mod reconcile;
pub mod secrets;
mod single;

use std::sync::Arc;

use anyhow::Result;
use gcrecon_core::Address;
use gcrecon_engine::lock::StateLock;
use gcrecon_engine::{EngineError, StateBackend};

use crate::args::{Command, Global, PolicyCommand, SecretsCommand, StateCommand, WorkspaceCommand};
use crate::failure::{Exit, Hinted};
use crate::printer::Printer;
use crate::progress::Progress;
use crate::project::{EarlyLogin, Project};
use crate::signals::Interrupts;

/// What every command gets.
pub struct Ctx {
    pub global: Global,
    pub printer: Printer,
    pub interrupts: Interrupts,
}

impl Ctx {
    /// The progress observer for the engine.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::new(Progress {
            printer: self.printer.clone(),
        })
    }

    /// Begin logging in while the command reads its manifest.
    pub fn start_login(&self) -> EarlyLogin {
        EarlyLogin::start(&self.global, &self.printer)
    }

    /// Load the manifest named by `-m`.
    pub fn project(&self) -> Result<Project> {
        Project::load(&self.global, self.printer.color_err)
    }

    /// Take the state lock for `operation`, warning when a stale one was broken.
    pub fn lock(&self, backend: &Arc<dyn StateBackend>, operation: &str) -> Result<StateLock> {
        let acquired = StateLock::acquire(backend, operation).map_err(EngineError::from)?;
        if let Some(stale) = &acquired.broke_stale {
            self.printer.warn(&format!(
                "removed a stale lock ({stale}): its process is no longer running on this host"
            ));
        }
        self.interrupts
            .holding(Arc::clone(backend), acquired.lock.info().id.clone());
        Ok(acquired.lock)
    }
}

/// An engine error as a CLI error: manifest problems rendered with their sources.
pub fn engine_error(project: &Project, e: EngineError) -> anyhow::Error {
    match e {
        EngineError::Manifest(d) => project.diagnosed(&d),
        other => anyhow::Error::new(other),
    }
}

/// Parse an address given on the command line.
pub fn parse_address(text: &str) -> Result<Address> {
    text.parse::<Address>().map_err(|e| {
        Hinted::new(
            e.to_string(),
            "an address is KIND.NAME, e.g. role.adapter or role.per_division[\"Home\"]",
        )
    })
}

/// Run a command.
pub async fn run(command: Command, ctx: &Ctx) -> Result<Exit> {
    match command {
        Command::Validate => offline::validate(ctx),
        Command::Graph(args) => offline::graph(ctx, &args),
        Command::Plan(args) => reconcile::plan(ctx, &args).await,
        Command::Apply(args) => reconcile::apply(ctx, &args).await,
        Command::Destroy(args) => reconcile::destroy(ctx, &args).await,
        Command::Drift(args) => drift::drift(ctx, &args).await,
        Command::Import(args) => single::import(ctx, &args).await,
        Command::Export(args) => export::export(ctx, &args).await,
        Command::Rotate(args) => single::rotate(ctx, &args).await,
        Command::Output(args) => inspect::output(ctx, &args),
        Command::State(StateCommand::List) => inspect::state_list(ctx),
        Command::State(StateCommand::Show { address }) => inspect::state_show(ctx, &address),
        Command::State(StateCommand::Rm { address }) => single::state_rm(ctx, &address),
        Command::State(StateCommand::History) => backend::state_history(ctx),
        Command::State(StateCommand::Migrate { to }) => backend::state_migrate(ctx, &to),
        Command::Workspace(WorkspaceCommand::List) => backend::workspace_list(ctx),
        Command::ForceUnlock(args) => inspect::force_unlock(ctx, &args.lock_id),
        Command::Secrets(SecretsCommand::Show(args)) => secrets::show(ctx, &args),
        Command::Completions(args) => docs::completions(ctx, args.shell),
        Command::Man(args) => docs::man(ctx, &args.out),
        Command::Fleet(command) => fleet::fleet(ctx, &command).await,
        Command::Policy(PolicyCommand::Test(args)) => policy::test(ctx, &args),
    }
}
