//! `gcrecon export`: write a manifest (and the state beside it, so that the
//! first plan is empty) for the objects already in an organization. See
//! docs/drift.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use gcrecon_core::Kind;
use gcrecon_engine::backend::LocalBackend;
use gcrecon_engine::export::{default_kinds, export as export_org, ExportOptions};
use gcrecon_engine::store::write_atomic;
use gcrecon_engine::{EngineError, StateBackend, StatePaths, StateStore};

use crate::commands::Ctx;
use crate::failure::{Exit, Hinted};
use crate::project::{check_backend, connect};

/// `gcrecon export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only these kinds, comma-separated (default: division, role, group,
    /// oauth_client, integration, identity_provider).
    ///
    /// Objects of other kinds that exported ones refer to (an OAuth client's
    /// roles and divisions) become data sources.
    #[arg(long, value_delimiter = ',', value_name = "KIND,...")]
    pub kinds: Vec<String>,

    /// The manifest file to write (default: the `-m` path, `gcrecon.toml`).
    ///
    /// The state goes to `state/<name>.gcstate.json` beside it (or
    /// `--state`), where `<name>` is the file's stem. `-` prints the
    /// manifest to stdout and writes no state.
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Overwrite an existing manifest and state.
    #[arg(long)]
    pub force: bool,
}

fn parse_kinds(given: &[String]) -> Result<Vec<Kind>> {
    if given.is_empty() {
        return Ok(default_kinds());
    }
    let mut kinds = BTreeSet::new();
    for text in given.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
        let kind = text.parse::<Kind>().map_err(|_| {
            let names = Kind::ALL.map(Kind::as_str);
            let hint = gcrecon_core::suggest::closest(text, names).map_or_else(
                || format!("the kinds are {}", names.join(", ")),
                |k| format!("did you mean `{k}`?"),
            );
            Hinted::new(format!("`{text}` is not a kind gcrecon manages"), hint)
        })?;
        kinds.insert(kind);
    }
    Ok(kinds.into_iter().collect())
}

/// The manifest name for an output file: its stem, when fit for a file
/// name, else a slug of it.
fn manifest_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fit = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if fit {
        stem
    } else {
        gcrecon_engine::export::slug(&stem, "gcrecon")
    }
}

fn refuse_overwrite(what: &str, path: &Path) -> anyhow::Error {
    Hinted::new(
        format!("{what} {} already exists", path.display()),
        "pass `-o PATH` to write elsewhere, or `--force` to overwrite it",
    )
}

/// `gcrecon export`.
pub async fn export(ctx: &Ctx, args: &ExportArgs) -> Result<Exit> {
    check_backend(ctx.global.backend.as_deref())?;
    let kinds = parse_kinds(&args.kinds)?;
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    let mut out = args
        .out
        .clone()
        .unwrap_or_else(|| ctx.global.manifest.clone());
    if out.is_dir() {
        out = out.join("gcrecon.toml");
    }
    let name = if to_stdout {
        "gcrecon".to_owned()
    } else {
        manifest_name(&out)
    };
    let base = out.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut paths = StatePaths::for_manifest(&base, &name, &ctx.global.workspace);
    if let Some(state) = &ctx.global.state {
        paths.state.clone_from(state);
    }
    if !to_stdout && !args.force {
        if out.exists() {
            return Err(refuse_overwrite("the manifest", &out));
        }
        if paths.state.exists() {
            return Err(refuse_overwrite("the state", &paths.state));
        }
    }

    let provider = connect(&ctx.global, &ctx.printer).await?;
    let progress = ctx.progress();
    let options = ExportOptions {
        kinds,
        name: name.clone(),
    };
    let running = export_org(&provider, &options, progress.as_ref());
    let exported = tokio::select! {
        exported = running => exported?,
        () = ctx.interrupts.cancel.cancelled() => return Err(EngineError::Interrupted.into()),
    };
    for warning in &exported.warnings {
        ctx.printer.warn(warning);
    }
    let summary = exported
        .counts
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = if summary.is_empty() {
        "no objects".to_owned()
    } else {
        summary
    };

    if to_stdout {
        ctx.printer.out(&exported.manifest);
        ctx.printer.note(&format!(
            "Exported {summary} and {}. No state was written: to manage these objects, export to a file (-o PATH) or import them.",
            data_sources(exported.data_sources)
        ));
        return Ok(Exit::Success);
    }

    let backend: Arc<dyn StateBackend> = Arc::new(LocalBackend::new(&paths.state));
    let _lock = ctx.lock(&backend, "export")?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    write_atomic(&out, exported.manifest.as_bytes(), None)
        .with_context(|| format!("cannot write the manifest to {}", out.display()))?;
    // An unusable state file is replaced only with --force (checked above).
    if args.force && StateStore::load(backend.clone(), &name).is_err() {
        std::fs::remove_file(&paths.state)
            .with_context(|| format!("cannot remove {}", paths.state.display()))?;
    }
    let mut store = StateStore::load(backend, &name)?;
    let state = exported.state.clone();
    store.write(move |s| *s = state)?;
    ctx.printer.line(&format!(
        "Exported {summary} and {} to {}; the state is {}.\nRun `gcrecon plan -m {}` to check: it should show no changes.",
        data_sources(exported.data_sources),
        out.display(),
        paths.state.display(),
        out.display()
    ));
    Ok(Exit::Success)
}

fn data_sources(n: usize) -> String {
    if n == 1 {
        "1 data source".to_owned()
    } else {
        format!("{n} data sources")
    }
}
