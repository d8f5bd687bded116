//! What a command works on: the manifest (read from a file or a directory),
//! its variables (`--var`, `GCRECON_VAR_*`), the state and secrets paths
//! (workspace-aware), the state backend chosen by `--backend` /
//! `GCRECON_BACKEND` and `--workspace`, and the connection to Genesys Cloud.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result};
use gcrecon_core::manifest::{load, Diagnostics, Manifest, Source, Variables};
use gcrecon_engine::backend::{self, BackendChoice, StateBackend};
use gcrecon_engine::{manifest_sha256, SavedPlan, SecretsFile, StatePaths, StateStore};
use gcrecon_genesys::{Connection, GenesysProvider, ProviderOptions, RetryNotice, RetryReporter};

use crate::args::Global;
use crate::failure::{Diagnosed, Hinted};
use crate::printer::Printer;

/// A loaded manifest and where its state lives.
pub struct Project {
    pub manifest: Manifest,
    pub sources: Vec<Source>,
    /// `[gcrecon] name`, or the manifest file's stem (the directory's name).
    pub name: String,
    pub sha256: String,
    /// State and default secrets paths, `--state` applied.
    pub paths: StatePaths,
    /// Where the state and its lock live.
    pub backend: Arc<dyn StateBackend>,
    /// The manifest's directory (the default local states are in its `state/`).
    pub base: PathBuf,
    pub color: bool,
}

/// Read the manifest sources at `path`: one file, or every `*.toml` of a
/// directory sorted by name.
fn read_sources(path: &Path) -> Result<Vec<Source>> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read the manifest directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Hinted::new(
                format!("the directory {} holds no *.toml manifest", path.display()),
                "pass the manifest file with -m PATH",
            ));
        }
        files
    } else if path.exists() {
        vec![path.to_owned()]
    } else {
        return Err(Hinted::new(
            format!("no manifest at {}", path.display()),
            "pass the manifest with -m PATH (a file, or a directory of *.toml files)",
        ));
    };
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            Ok(Source::new(f, text))
        })
        .collect()
}

impl Project {
    /// Load and validate the manifest named by `-m`.
    pub fn load(global: &Global, color: bool) -> Result<Project> {
        let choice = backend_choice(global.backend.as_deref(), global.state.as_deref())?;
        let path = &global.manifest;
        let sources = read_sources(path)?;
        let manifest = load(&sources).map_err(|d| diagnosed(&d, &sources, color))?;
        let default_name = if path.is_dir() {
            path.canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        } else {
            path.file_stem().map(|n| n.to_string_lossy().into_owned())
        };
        let name = manifest
            .name()
            .map(str::to_owned)
            .or(default_name)
            .unwrap_or_else(|| "gcrecon".to_owned());
        let base = if path.is_dir() {
            path.clone()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut paths = StatePaths::for_manifest(&base, &name, &global.workspace);
        if let Some(state) = &global.state {
            paths.state.clone_from(state);
        }
        // A PostgreSQL row key holds the manifest's name, so manifests
        // sharing one database (and the workspace `default`) never collide.
        let backend = backend::open(&choice, &paths.state, &name, &global.workspace)
            .map_err(gcrecon_engine::EngineError::from)?;
        let sha256 = manifest_sha256(&sources);
        Ok(Project {
            manifest,
            sources,
            name,
            sha256,
            paths,
            backend,
            base,
            color,
        })
    }

    /// The manifest's variables: `--var`, then `GCRECON_VAR_*`, then defaults.
    pub fn variables(&self, global: &Global) -> Result<Variables> {
        self.variables_with(global, None)
    }

    /// The variables to apply a saved plan with: `--var` and
    /// `GCRECON_VAR_*` as usual, else the values the plan was made with;
    /// values that differ from the plan's are refused.
    pub fn variables_for(
        &self,
        global: &Global,
        saved: &SavedPlan,
        path: &Path,
    ) -> Result<Variables> {
        let variables = self.variables_with(global, Some(saved))?;
        // With another manifest the plan is stale anyway; that is said later.
        if saved.plan.manifest_sha256 == self.sha256 {
            saved.check_variables(path, &variables)?;
        }
        Ok(variables)
    }

    fn variables_with(&self, global: &Global, saved: Option<&SavedPlan>) -> Result<Variables> {
        let mut cli = BTreeMap::new();
        for v in &global.vars {
            let Some((name, value)) = v.split_once('=') else {
                return Err(Hinted::new(
                    format!("`--var {v}` is not NAME=VALUE"),
                    "write it as --var name=value",
                ));
            };
            cli.insert(name.trim().to_owned(), value.to_owned());
        }
        let env: BTreeMap<String, String> = std::env::vars()
            .filter_map(|(k, v)| Some((k.strip_prefix("GCRECON_VAR_")?.to_owned(), v)))
            .collect();
        if let Some(saved) = saved {
            let given = |name: &str| {
                cli.contains_key(name)
                    || env.contains_key(name)
                    || env.contains_key(&name.to_uppercase())
            };
            let from_plan = saved.saved_var_texts(&given);
            cli.extend(from_plan);
        }
        self.manifest
            .resolve_variables(&cli, &env)
            .map_err(|d| self.diagnosed(&d))
    }

    /// Render diagnostics of this manifest into an error.
    pub fn diagnosed(&self, d: &Diagnostics) -> anyhow::Error {
        diagnosed(d, &self.sources, self.color)
    }

    /// The secrets file: `--secrets-out`, or the default beside the state.
    pub fn secrets_path(&self, given: Option<&Path>) -> PathBuf {
        given.map_or_else(|| self.paths.secrets.clone(), Path::to_path_buf)
    }

    /// Where secrets are stored: `--secrets-out`; else, with recipients
    /// and a backend that keeps secrets (PostgreSQL), the table beside the
    /// workspace's state; else the local secrets file. Encrypted to
    /// `recipients` when there are any.
    pub fn secrets_store(
        &self,
        given: Option<&Path>,
        recipients: &[String],
    ) -> Result<SecretsFile> {
        let recipients = gcrecon_engine::parse_recipients(recipients)?;
        Ok(match given {
            Some(p) => SecretsFile::with_recipients(p, recipients),
            None if self.backend.keeps_secrets() && !recipients.is_empty() => {
                SecretsFile::in_backend(self.backend.clone(), recipients)
            }
            None => SecretsFile::with_recipients(self.paths.secrets.clone(), recipients),
        })
    }
}

fn diagnosed(d: &Diagnostics, sources: &[Source], color: bool) -> anyhow::Error {
    anyhow::Error::new(Diagnosed {
        rendered: d.render(sources, color),
    })
}

/// The backend of `--backend`. `--state` (a local file) does not combine
/// with PostgreSQL.
pub fn backend_choice(backend: Option<&str>, state: Option<&Path>) -> Result<BackendChoice> {
    let choice =
        BackendChoice::parse(backend).map_err(|e| Hinted::new(e, backend::BACKEND_HINT))?;
    if let (BackendChoice::Postgres(url), Some(_)) = (&choice, state) {
        return Err(Hinted::new(
            format!(
                "`--state` names a local state file, but the backend is {}",
                backend::redact(url)
            ),
            "drop --state: with a postgres:// backend the state is chosen by the manifest's name and --workspace",
        ));
    }
    Ok(choice)
}

/// For commands that write a local state of their own (`export`): only the
/// local backend.
pub fn check_backend(backend: Option<&str>) -> Result<()> {
    if let BackendChoice::Postgres(_) = backend_choice(backend, None)? {
        return Err(Hinted::new(
            "`gcrecon export` writes its state beside the manifest it writes; it does not use a postgres:// backend yet",
            "unset --backend / GCRECON_BACKEND for export",
        ));
    }
    Ok(())
}

/// The backend for commands that need no manifest beyond its name
/// (`state`, `force-unlock`, `workspace list`): the local file `--state`,
/// else the manifest's (loaded for its name).
pub fn backend_only(global: &Global) -> Result<Arc<dyn StateBackend>> {
    let choice = backend_choice(global.backend.as_deref(), global.state.as_deref())?;
    if let (BackendChoice::Local, Some(state)) = (&choice, &global.state) {
        return Ok(Arc::new(backend::LocalBackend::new(state)));
    }
    Ok(Project::load(global, false)?.backend)
}

/// Connect to Genesys Cloud (log in, for client credentials). Each retry
/// of a request that got no answer or a 502/503/504 is said on stderr
/// (host, attempt n of N) as it happens.
pub async fn connect(global: &Global, printer: &Printer) -> Result<Arc<GenesysProvider>> {
    let printer = printer.clone();
    connect_saying(global, move |text: &str| printer.note(text)).await
}

/// [`connect`], saying each retry through `say`.
async fn connect_saying(
    global: &Global,
    say: impl Fn(&str) + Send + Sync + 'static,
) -> Result<Arc<GenesysProvider>> {
    let conn = Connection::from_env_and_flags(global.region.clone(), global.api_url.clone())
        .context("cannot connect to Genesys Cloud")?;
    let target = if conn.region.is_empty() {
        conn.api_url.clone()
    } else {
        format!("{}, region {}", conn.api_url, conn.region)
    };
    let options = ProviderOptions {
        on_retry: Some(retry_reporter(say)),
        ..ProviderOptions::default()
    };
    let provider = GenesysProvider::connect(conn, options).await.map_err(|e| {
        gcrecon_engine::EngineError::Provider {
            context: format!("cannot connect to Genesys Cloud ({target})"),
            source: e,
        }
    })?;
    Ok(Arc::new(provider))
}

/// A login begun before the manifest is read: the login is a round trip
/// (and building the HTTP client some CPU), reading and checking a large
/// manifest tens of milliseconds, and neither needs the other. Nothing of
/// the login is said until [`EarlyLogin::finish`]: a manifest, variable
/// or lock error still comes first and alone, and its retry notes are
/// printed then, in order. Dropped unfinished (a command that fails
/// before it needs the connection), the login stops where it is.
pub struct EarlyLogin {
    task: tokio::task::JoinHandle<Result<Arc<GenesysProvider>>>,
    notes: Arc<HeldNotes>,
}

/// Retry notes held back until the command is ready to say them.
struct HeldNotes {
    printer: Printer,
    /// `Some` while notes are held.
    held: Mutex<Option<Vec<String>>>,
}

impl HeldNotes {
    fn say(&self, text: &str) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_mut() {
            Some(notes) => notes.push(text.to_owned()),
            None => self.printer.note(text),
        }
    }

    /// Say what was held, and from now on say each note as it comes.
    fn release(&self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for text in held.take().unwrap_or_default() {
            self.printer.note(&text);
        }
    }
}

impl EarlyLogin {
    /// Start logging in; needs a running multi-threaded runtime.
    pub fn start(global: &Global, printer: &Printer) -> EarlyLogin {
        let notes = Arc::new(HeldNotes {
            printer: printer.clone(),
            held: Mutex::new(Some(Vec::new())),
        });
        let global = global.clone();
        let say = Arc::clone(&notes);
        let task =
            tokio::spawn(
                async move { connect_saying(&global, move |text: &str| say.say(text)).await },
            );
        EarlyLogin { task, notes }
    }

    /// Wait for the login, saying its retries.
    pub async fn finish(mut self) -> Result<Arc<GenesysProvider>> {
        self.notes.release();
        (&mut self.task)
            .await
            .context("logging in to Genesys Cloud stopped")?
    }
}

impl Drop for EarlyLogin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The login of `login`, with the project's state loaded on a blocking
/// thread meanwhile: the login is a round trip, and the state of a large
/// organization tens of milliseconds of decoding. Once logged in, the
/// organization and the caller, which every command that calls this reads
/// first, are read while the state still loads
/// ([`GenesysProvider::read_ahead`]). Take the lock before this when there
/// is one. A failed login is reported before a state that does not load,
/// as when the two ran one after the other.
pub async fn connect_loading_state(
    login: EarlyLogin,
    project: &Project,
) -> Result<(Arc<GenesysProvider>, StateStore)> {
    let backend = project.backend.clone();
    let name = project.name.clone();
    let loading = tokio::task::spawn_blocking(move || {
        StateStore::load(backend, &name).map_err(anyhow::Error::from)
    });
    let provider = login.finish().await;
    let store = match &provider {
        Ok(provider) => tokio::join!(loading, provider.read_ahead()).0,
        Err(_) => loading.await,
    };
    let store = store.context("loading the state stopped")?;
    Ok((provider?, store?))
}

/// Say each retry once per host and attempt number: concurrent requests
/// failing together give one line per attempt, not one per request.
pub(crate) fn retry_reporter(say: impl Fn(&str) + Send + Sync + 'static) -> RetryReporter {
    let said: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());
    RetryReporter(Arc::new(move |n: &RetryNotice| {
        let mut said = said.lock().unwrap_or_else(PoisonError::into_inner);
        let last = said.entry(n.host.clone()).or_default();
        if n.next_attempt <= *last {
            return;
        }
        *last = n.next_attempt;
        say(&format!(
            "retrying: {} to {} {}; attempt {} of {} in {:.1} s",
            n.request,
            n.host,
            n.reason,
            n.next_attempt,
            n.max_attempts,
            n.wait.as_secs_f64()
        ));
    }))
}
