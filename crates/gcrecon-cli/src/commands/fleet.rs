//! `gcrecon fleet plan|drift -f FLEET.toml`: the plan or drift of every
//! workspace of a fleet file, `--parallelism` at a time, each workspace
//! with its own login (and so its own token and rate budget), its own
//! state (the workspace's name under `--backend`) and its own variables.
//! A workspace that fails is reported in its row; the others finish. One
//! summary; exit 1 if any workspace failed, else 2 if any has changes or
//! drift, else 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use gcrecon_core::provider::Provider;
use gcrecon_engine::drift::{drift as drift_report, DriftInput};
use gcrecon_engine::ignore::IgnoreRules;
use gcrecon_engine::lock::StateLock;
use gcrecon_engine::{EngineError, Event, Observer, PlanInput, PlanOptions, StateStore};
use gcrecon_genesys::{Connection, GenesysProvider, ProviderOptions};
use tokio::sync::Semaphore;

use crate::args::{Format, Global};
use crate::commands::{engine_error, Ctx};
use crate::failure::{explain, Exit, Hinted};
use crate::fleet::{error_text, Fleet, Found, Mode, OrgCell, Row, Summary, Workspace};
use crate::printer::Printer;
use crate::project::{retry_reporter, Project};

/// `gcrecon fleet` subcommands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Plan every workspace of the fleet file (reads only; takes each
    /// workspace's state lock while it plans).
    ///
    /// Exit codes: 0 no workspace has changes, 2 some have, 1 a workspace failed.
    Plan(FleetArgs),
    /// Drift of every workspace of the fleet file (reads only, no lock).
    ///
    /// Exit codes: 0 no drift anywhere, 2 drift found, 1 a workspace failed.
    Drift(FleetArgs),
}

/// Flags of `gcrecon fleet plan|drift`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    /// The fleet file: `manifest = "..."` and one `[workspace.NAME]` table
    /// per organization (see docs/cli.md, "Fleets").
    #[arg(short = 'f', long = "file", value_name = "FLEET.toml")]
    pub file: PathBuf,

    /// How to print the summary.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,

    /// Workspaces run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub parallelism: u16,

    /// `fleet drift`: do not attribute findings from the audit log (fewer
    /// API calls; see `gcrecon drift --no-audit`).
    #[arg(long)]
    pub no_audit: bool,
}

/// What every workspace's run shares.
struct Shared {
    mode: Mode,
    global: Global,
    printer: Printer,
    ignore: IgnoreRules,
    audit: bool,
    cancel: gcrecon_engine::Cancel,
}

/// `gcrecon fleet plan|drift`.
pub async fn fleet(ctx: &Ctx, command: &FleetCommand) -> Result<Exit> {
    let (mode, args) = match command {
        FleetCommand::Plan(a) => (Mode::Plan, a),
        FleetCommand::Drift(a) => (Mode::Drift, a),
    };
    if ctx.global.state.is_some() {
        return Err(Hinted::new(
            "`--state` names one state file, and a fleet has one state per workspace",
            "drop --state: each workspace's state is state/<manifest name>.<workspace>.gcstate.json beside the manifest, or its row in the --backend database",
        ));
    }
    let fleet = Fleet::load(&args.file)?;
    if ctx.global.manifest != std::path::Path::new(crate::fleet::DEFAULT_MANIFEST) {
        ctx.printer.warn(&format!(
            "-m {} is not used: the fleet file names the manifest ({})",
            ctx.global.manifest.display(),
            fleet.manifest.display()
        ));
    }
    // A manifest that does not load fails every workspace alike: say it once.
    let global = Global {
        manifest: fleet.manifest.clone(),
        ..ctx.global.clone()
    };
    Project::load(&global, ctx.printer.color_err)?;
    let ignore = match mode {
        Mode::Drift => IgnoreRules::load(&IgnoreRules::path_for_manifest(&fleet.manifest))
            .map_err(|e| match e.hint() {
                Some(hint) => Hinted::new(e.to_string(), hint),
                None => anyhow::Error::new(e),
            })?,
        Mode::Plan => IgnoreRules::default(),
    };
    let started = Instant::now();
    let parallelism = usize::from(args.parallelism);
    let shared = Arc::new(Shared {
        mode,
        global,
        printer: ctx.printer.clone(),
        ignore,
        audit: !args.no_audit,
        cancel: ctx.interrupts.cancel.clone(),
    });
    let permits = Arc::new(Semaphore::new(parallelism));
    let mut running = tokio::task::JoinSet::new();
    for ws in fleet.workspaces.iter().cloned() {
        let (shared, permits) = (Arc::clone(&shared), Arc::clone(&permits));
        running.spawn(async move {
            let name = ws.name.clone();
            let Ok(_permit) = permits.acquire_owned().await else {
                return failed_row(&name, &anyhow::anyhow!("the fleet run was stopped"));
            };
            run_workspace(&shared, &ws).await
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = running.join_next().await {
        rows.push(done.context("a workspace's run panicked")?);
    }
    rows.sort_by(|a, b| a.workspace.cmp(&b.workspace));
    let summary = Summary {
        mode,
        fleet: fleet.path.clone(),
        manifest: fleet.manifest.clone(),
        parallelism,
        rows,
        elapsed_ms: millis(started),
    };
    for row in &summary.rows {
        if let Err(e) = &row.outcome {
            let text = error_text(e);
            ctx.printer.raw_err(&format!(
                "workspace `{}` failed:\n{}",
                row.workspace,
                indent(&text)
            ));
        }
    }
    let text = match args.format {
        Format::Human => summary.human(),
        Format::Markdown => summary.markdown(),
        Format::Json => summary.json(),
    };
    ctx.printer.out(&text);
    tracing::info!(
        workspaces = summary.rows.len(),
        elapsed_ms = summary.elapsed_ms,
        "fleet: done"
    );
    Ok(if summary.failed() > 0 {
        Exit::Error
    } else if summary.with_changes() > 0 {
        Exit::Changes
    } else {
        Exit::Success
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}\n"))
        .collect::<Vec<_>>()
        .concat()
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn failed_row(name: &str, err: &anyhow::Error) -> Row {
    Row {
        workspace: name.to_owned(),
        org: None,
        outcome: Err(explain(err)),
        state: String::new(),
        api_calls: 0,
        elapsed_ms: 0,
    }
}

/// One workspace, start to end; every failure ends up in its row.
async fn run_workspace(shared: &Shared, ws: &Workspace) -> Row {
    let started = Instant::now();
    let mut row = Row {
        workspace: ws.name.clone(),
        org: None,
        outcome: Ok(Found::Drift {
            drifted: 0,
            missing: 0,
            unmanaged: 0,
        }),
        state: String::new(),
        api_calls: 0,
        elapsed_ms: 0,
    };
    let outcome = tokio::select! {
        found = workspace(shared, ws, &mut row) => found,
        () = shared.cancel.cancelled() => Err(EngineError::Interrupted.into()),
    };
    row.outcome = outcome.map_err(|e| explain(&e));
    row.elapsed_ms = millis(started);
    row
}

/// The workspace's own view of the global flags: its name, its variables
/// (the file's, then `--var`, which wins), its region or API URL.
fn workspace_global(global: &Global, ws: &Workspace) -> Global {
    let (region, api_url) = if ws.region.is_some() || ws.api_url.is_some() {
        (ws.region.clone(), ws.api_url.clone())
    } else {
        (global.region.clone(), global.api_url.clone())
    };
    Global {
        workspace: ws.name.clone(),
        vars: ws.vars.iter().chain(&global.vars).cloned().collect(),
        state: None,
        region,
        api_url,
        ..global.clone()
    }
}

async fn workspace(shared: &Shared, ws: &Workspace, row: &mut Row) -> Result<Found> {
    let global = workspace_global(&shared.global, ws);
    let project = Project::load(&global, false)?;
    row.state = project.backend.address().to_owned();
    let variables = project.variables(&global)?;
    let env = |name: &str| std::env::var(name).ok();
    let lookup = ws.credential_lookup(&env)?;
    let conn = Connection::from_lookup(global.region.clone(), global.api_url.clone(), |n| {
        lookup.get(n).cloned()
    })
    .map_err(|e| {
        Hinted::new(
            format!("workspace `{}` ({}): {e}", ws.name, ws.at),
            "give the workspace `region` or `api_url` and its `client_id_env` / `client_secret_env` in the fleet file",
        )
    })?;
    let target = if conn.region.is_empty() {
        conn.api_url.clone()
    } else {
        format!("{}, region {}", conn.api_url, conn.region)
    };
    let options = ProviderOptions {
        on_retry: Some({
            let printer = shared.printer.clone();
            retry_reporter(move |text: &str| printer.note(text))
        }),
        ..ProviderOptions::default()
    };
    let provider =
        GenesysProvider::connect(conn, options)
            .await
            .map_err(|e| EngineError::Provider {
                context: format!("cannot connect to Genesys Cloud ({target})"),
                source: e,
            })?;
    let provider = Arc::new(provider);
    let observer = Warnings {
        workspace: ws.name.clone(),
        printer: shared.printer.clone(),
    };
    let found = match shared.mode {
        Mode::Plan => {
            let acquired =
                StateLock::acquire(&project.backend, "plan").map_err(EngineError::from)?;
            if let Some(stale) = &acquired.broke_stale {
                observer.warn(&format!(
                    "removed a stale lock ({stale}): its process is no longer running on this host"
                ));
            }
            let store = StateStore::load(project.backend.clone(), &project.name)?;
            let input = PlanInput {
                manifest: &project.manifest,
                variables: &variables,
                name: &project.name,
                manifest_sha256: &project.sha256,
            };
            let planned = gcrecon_engine::plan(
                &provider,
                input,
                store.state(),
                store.is_on_disk(),
                PlanOptions::default(),
                &observer,
            )
            .await
            .map_err(|e| engine_error(&project, e))?;
            acquired.lock.release()?;
            let org = &planned.context.org;
            row.org = Some(OrgCell {
                id: org.id.clone(),
                name: org.name.clone(),
            });
            let s = planned.plan.summary();
            Found::Plan {
                add: s.add,
                change: s.change,
                destroy: s.destroy,
                changes: planned.has_changes(),
            }
        }
        Mode::Drift => {
            let store = StateStore::load(project.backend.clone(), &project.name)?;
            if !store.is_on_disk() {
                observer.warn(&format!(
                    "no state at {}: nothing has been applied to this workspace, so every object is unmanaged",
                    project.backend.address()
                ));
            }
            let outcome = drift_report(
                &provider,
                DriftInput {
                    manifest: &project.manifest,
                    variables: &variables,
                    ignore: &shared.ignore,
                    audit: shared.audit,
                },
                store.state(),
                &observer,
            )
            .await
            .map_err(|e| engine_error(&project, e))?;
            for w in &outcome.warnings {
                observer.warn(w);
            }
            if let Ok(org) = provider.org().await {
                row.org = Some(OrgCell {
                    id: org.id,
                    name: org.name,
                });
            }
            Found::Drift {
                drifted: outcome.report.drifted.len(),
                missing: outcome.report.missing.len(),
                unmanaged: outcome.report.unmanaged.len(),
            }
        }
    };
    row.api_calls = provider.call_counts().values().sum();
    Ok(found)
}

/// The engine's warnings of one workspace, on stderr with its name; the
/// per-object progress of a single run would be noise for a fleet.
struct Warnings {
    workspace: String,
    printer: Printer,
}

impl Warnings {
    fn warn(&self, text: &str) {
        self.printer
            .warn(&format!("workspace `{}`: {text}", self.workspace));
    }
}

impl Observer for Warnings {
    fn event(&self, event: &Event) {
        if let Event::Warning(w) = event {
            self.warn(w);
        }
    }
}
