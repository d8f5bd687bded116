//! `gcrecon drift`: compare the live organization with the state and the
//! manifest, print the report, exit 0 (nothing found), 2 (drift found) or 1
//! (error). See docs/drift.md.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use gcrecon_cli::render;
use gcrecon_engine::drift::{drift as drift_report, DriftInput};
use gcrecon_engine::ignore::{IgnoreError, IgnoreRules};
use gcrecon_engine::EngineError;

use crate::args::Format;
use crate::commands::{engine_error, Ctx};
use crate::failure::{Exit, Hinted};
use crate::project::connect_loading_state;

/// `gcrecon drift` flags.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// How to print the report.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,

    /// The ignore file: globs over `KIND.NAME` of unmanaged objects to leave
    /// out of the report.
    ///
    /// Default: `.gcreconignore` beside the manifest (a missing file
    /// ignores nothing).
    #[arg(long, value_name = "PATH")]
    pub ignore_file: Option<PathBuf>,

    /// Do not attribute findings from the organization's audit log.
    ///
    /// By default every changed, missing and unmanaged object is shown with
    /// the latest audit-log entries about it (who, when, what), which needs
    /// the `audits:audit:view` permission.
    #[arg(long)]
    pub no_audit: bool,
}

fn ignore_error(e: IgnoreError) -> anyhow::Error {
    match e.hint() {
        Some(hint) => Hinted::new(e.to_string(), hint),
        None => anyhow::Error::new(e),
    }
}

/// `gcrecon drift`.
pub async fn drift(ctx: &Ctx, args: &DriftArgs) -> Result<Exit> {
    let login = ctx.start_login();
    let project = ctx.project()?;
    let variables = project.variables(&ctx.global)?;
    let ignore_path = args
        .ignore_file
        .clone()
        .unwrap_or_else(|| IgnoreRules::path_for_manifest(&ctx.global.manifest));
    if args.ignore_file.is_some() && !ignore_path.exists() {
        return Err(Hinted::new(
            format!("no ignore file at {}", ignore_path.display()),
            "check the path given to --ignore-file",
        ));
    }
    let ignore = IgnoreRules::load(&ignore_path).map_err(ignore_error)?;
    // Drift only reads: it takes no lock, but says when a run that writes
    // holds one, since the report may then show its changes half-done.
    if let Ok(Some(holder)) = project.backend.lock_holder() {
        ctx.printer.warn(&format!(
            "the state is locked ({holder}); objects that run is changing may show as drift"
        ));
    }
    let (provider, store) = connect_loading_state(login, &project).await?;
    if !store.is_on_disk() {
        ctx.printer.warn(&format!(
            "no state at {}: nothing has been applied with this manifest and workspace, so every object is unmanaged",
            project.backend.address()
        ));
    }
    let progress = ctx.progress();
    let running = drift_report(
        &provider,
        DriftInput {
            manifest: &project.manifest,
            variables: &variables,
            ignore: &ignore,
            audit: !args.no_audit,
        },
        store.state(),
        progress.as_ref(),
    );
    let outcome = tokio::select! {
        outcome = running => outcome.map_err(|e| engine_error(&project, e))?,
        () = ctx.interrupts.cancel.cancelled() => return Err(EngineError::Interrupted.into()),
    };
    for warning in &outcome.warnings {
        ctx.printer.warn(warning);
    }
    let (caller, by_file): (Vec<_>, Vec<_>) = outcome
        .ignored
        .iter()
        .partition(|i| i.rule == gcrecon_engine::drift::CALLER_RULE);
    for ignored in &caller {
        ctx.printer.note(&format!(
            "{} \"{}\" is the OAuth client gcrecon runs as; it is not reported as unmanaged",
            ignored.object.kind, ignored.object.name
        ));
    }
    if !by_file.is_empty() {
        let path = ignore.path().unwrap_or(&ignore_path);
        ctx.printer.note(&format!(
            "{} unmanaged object{} left out by {}",
            by_file.len(),
            if by_file.len() == 1 { "" } else { "s" },
            path.display()
        ));
    }
    let calls: u64 = outcome.api_calls.values().sum();
    tracing::info!(calls, "drift: API calls made");
    let text = match args.format {
        Format::Human => render::drift_human(&outcome.report, ctx.printer.color),
        Format::Markdown => render::drift_markdown(&outcome.report),
        Format::Json => render::drift_json(&outcome.report),
    };
    ctx.printer.out(&text);
    if !text.ends_with('\n') {
        ctx.printer.out("\n");
    }
    Ok(if outcome.has_findings() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
