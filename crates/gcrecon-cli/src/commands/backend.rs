//! Commands on the state backend itself: `state history`, `workspace list`
//! and `state migrate --to postgres://...`.

use std::sync::Arc;

use anyhow::Result;
use gcrecon_engine::backend::{
    self, workspace_name, BackendChoice, BackendError, LocalBackend, PostgresBackend, StateBackend,
};
use gcrecon_engine::lock::StateLock;
use gcrecon_engine::{EngineError, StatePaths};

use crate::commands::Ctx;
use crate::failure::{Exit, Hinted};
use crate::project::backend_only;

/// `gcrecon state history`.
pub fn state_history(ctx: &Ctx) -> Result<Exit> {
    let backend = backend_only(&ctx.global)?;
    let entries = backend.history().map_err(EngineError::from)?;
    if entries.is_empty() {
        return Err(Hinted::new(
            format!("no state at {}", backend.address()),
            "nothing has been applied with this manifest and workspace yet",
        ));
    }
    let rows: Vec<[String; 4]> = entries
        .iter()
        .map(|e| {
            [
                e.serial.to_string(),
                e.written_at.clone(),
                e.who.clone().unwrap_or_else(|| "-".into()),
                e.command.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(ctx, ["SERIAL", "WRITTEN", "WHO", "COMMAND"], &rows);
    Ok(Exit::Success)
}

/// `gcrecon workspace list`.
pub fn workspace_list(ctx: &Ctx) -> Result<Exit> {
    let backend = backend_only(&ctx.global)?;
    let current = workspace_name(&ctx.global.workspace);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut listed_current = false;
    for w in backend.workspaces().map_err(EngineError::from)? {
        let mark = if w.name == current {
            listed_current = true;
            "*"
        } else {
            ""
        };
        rows.push([
            mark.to_owned(),
            w.name,
            w.serial.to_string(),
            w.written_at.unwrap_or_else(|| "-".into()),
        ]);
    }
    if !listed_current {
        rows.push([
            "*".into(),
            current.to_owned(),
            "-".into(),
            "(nothing applied yet)".into(),
        ]);
    }
    print_table(ctx, ["", "WORKSPACE", "SERIAL", "WRITTEN"], &rows);
    Ok(Exit::Success)
}

/// Print `rows` under `header`, columns padded to their widest cell.
fn print_table<const N: usize>(ctx: &Ctx, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    ctx.printer.line(&line(header.to_vec()));
    for row in rows {
        ctx.printer
            .line(&line(row.iter().map(String::as_str).collect()));
    }
}

/// `gcrecon state migrate --to postgres://...`.
pub fn state_migrate(ctx: &Ctx, to: &str) -> Result<Exit> {
    let Ok(BackendChoice::Postgres(url)) = BackendChoice::parse(Some(to)) else {
        return Err(Hinted::new(
            format!(
                "`--to {}` is not a PostgreSQL URL",
                to.split("://").next().unwrap_or("")
            ),
            "pass `--to postgres://USER:PASSWORD@HOST:PORT/DATABASE`",
        ));
    };
    if !matches!(
        BackendChoice::parse(ctx.global.backend.as_deref()),
        Ok(BackendChoice::Local)
    ) {
        return Err(Hinted::new(
            "`state migrate` copies local state files, but --backend / GCRECON_BACKEND names another backend",
            "unset --backend / GCRECON_BACKEND for the migration; use the postgres:// URL with --to",
        ));
    }
    let project = ctx.project()?;
    // With --state, that one file is the workspace named by --workspace;
    // else every workspace file of the manifest beside it.
    let sources: Vec<(String, Arc<dyn StateBackend>)> = if ctx.global.state.is_some() {
        vec![(
            workspace_name(&ctx.global.workspace).to_owned(),
            Arc::clone(&project.backend),
        )]
    } else {
        project
            .backend
            .workspaces()
            .map_err(EngineError::from)?
            .into_iter()
            .map(|w| {
                let path = StatePaths::for_manifest(&project.base, &project.name, &w.name).state;
                let local: Arc<dyn StateBackend> =
                    Arc::new(LocalBackend::for_manifest(&path, &project.name));
                (w.name, local)
            })
            .collect()
    };
    if sources.is_empty() {
        return Err(Hinted::new(
            format!(
                "there is no local state of `{}` to migrate (looked for {})",
                project.name,
                project.backend.address()
            ),
            "run it where the state files are (beside the manifest, in state/), or name one with --state PATH and --workspace NAME",
        ));
    }
    for (workspace, source) in sources {
        let target: Arc<dyn StateBackend> = Arc::new(
            PostgresBackend::connect(&url, &project.name, &workspace).map_err(EngineError::from)?,
        );
        let _source_lock = ctx.lock(&source, "state migrate")?;
        let _target_lock = StateLock::acquire(&target, "state migrate")
            .map_err(EngineError::from)?
            .lock;
        let Some(state) = source.load().map_err(EngineError::from)? else {
            continue;
        };
        match target.load().map_err(EngineError::from)? {
            Some(there) if there.serial == state.serial && there.lineage == state.lineage => {
                ctx.printer.line(&format!(
                    "Workspace {workspace}: serial {} is already in {}; nothing to do.",
                    state.serial,
                    target.address()
                ));
                continue;
            }
            Some(there) if there.serial >= state.serial => {
                return Err(EngineError::from(BackendError::Newer {
                    from: source.address().to_owned(),
                    to: target.address().to_owned(),
                    existing: there.serial,
                    incoming: state.serial,
                })
                .into());
            }
            _ => {}
        }
        target.save(&state).map_err(EngineError::from)?;
        ctx.printer.line(&format!(
            "Workspace {workspace}: copied serial {} from {} to {}.",
            state.serial,
            source.address(),
            target.address()
        ));
    }
    ctx.printer.note(&format!(
        "The local state files are left in place. From now on pass `--backend {}` (or set GCRECON_BACKEND).",
        backend::redact(&url)
    ));
    Ok(Exit::Success)
}
