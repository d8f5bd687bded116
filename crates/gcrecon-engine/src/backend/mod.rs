//! Where a workspace's state and its lock live: the [`StateBackend`] trait
//! and its two implementations, [`LocalBackend`] (a JSON file beside the
//! manifest, `<state>.lock` beside it) and [`PostgresBackend`] (rows of a
//! PostgreSQL database shared by many runners).
//!
//! The CLI chooses one from `--backend` / `GCRECON_BACKEND` and
//! `--workspace` ([`open`]); the rest of the engine sees only the trait:
//! [`crate::StateStore`] loads and saves through it, [`crate::lock::StateLock`]
//! takes and releases its lock. Every backend keeps the same rules:
//!
//! - `save` is a compare-and-swap on the serial: a state is written only
//!   as the successor of the one stored ([`BackendError::Conflict`]
//!   otherwise), so two runs never overwrite each other's work;
//! - the lock holds a [`LockInfo`] (id, who, pid, host, operation, time);
//!   a lock whose holder is provably gone is broken, with the broken
//!   holder reported so the caller can warn;
//! - messages name the state by [`StateBackend::address`], which never
//!   shows a password.

mod local;
mod postgres;
pub mod tls;

use std::path::Path;
use std::sync::Arc;

use gcrecon_core::state::{State, StateFormatError};

use crate::lock::{LockError, LockInfo};

pub use local::LocalBackend;
pub use postgres::{is_postgres_url, redact, PostgresBackend};

/// One write of a state, as `gcrecon state history` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    pub serial: u64,
    /// When it was written (RFC 3339, UTC).
    pub written_at: String,
    /// `user@host` of the run that wrote it, when known.
    pub who: Option<String>,
    /// The command that wrote it (`apply`, `import`, `state rm`, ...), when known.
    pub command: Option<String>,
}

/// One workspace of a manifest, as `gcrecon workspace list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WorkspaceEntry {
    pub name: String,
    /// The serial of its latest state.
    pub serial: u64,
    /// When that state was written (RFC 3339, UTC), when known.
    pub written_at: Option<String>,
}

/// What taking a lock found.
#[derive(Debug)]
pub enum LockAttempt {
    /// The lock is ours; `broke_stale` is the dead holder it replaced.
    Taken { broke_stale: Option<LockInfo> },
    /// Someone else holds it.
    Held(LockInfo),
}

/// A failure of a state backend. Every message names the state by its
/// address (a PostgreSQL URL without its password).
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The stored state is not a usable state; it is left untouched.
    #[error("cannot use the state file {address}")]
    Format {
        address: String,
        #[source]
        source: StateFormatError,
    },
    /// A file could not be read or written.
    #[error("{action} {address}")]
    Io {
        action: &'static str,
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The database failed or could not be reached.
    #[error("{action} {address}")]
    Database {
        action: &'static str,
        address: String,
        #[source]
        source: DatabaseError,
    },
    /// The `--backend` value cannot be used.
    #[error("{address} is not a usable PostgreSQL URL: {detail}")]
    BadUrl { address: String, detail: String },
    /// Another run wrote this serial first.
    #[error(
        "the state at {address} changed underneath: serial {serial} was written by another run"
    )]
    Conflict { address: String, serial: u64 },
    /// A state cannot be copied over a newer one (`state migrate`).
    #[error("{to} already holds serial {existing}, not older than serial {incoming} of {from}")]
    Newer {
        from: String,
        to: String,
        existing: u64,
        incoming: u64,
    },
}

/// A PostgreSQL error as text: the database (password hidden) and what it said.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DatabaseError(pub String);

impl BackendError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            BackendError::Format { .. } => Some(
                "the file was not changed; restore it from `<state>.backup` or version control, or upgrade gcrecon if it was written by a newer version".into(),
            ),
            BackendError::Conflict { .. } => Some(
                "another gcrecon run wrote this workspace's state; run `gcrecon plan` again to see where things stand".into(),
            ),
            BackendError::BadUrl { .. } => Some(BACKEND_HINT.into()),
            BackendError::Database { .. } => Some(
                "check that the database is reachable, the user and password, and the TLS settings (sslmode, sslrootcert; see docs/state.md)".into(),
            ),
            BackendError::Newer { .. } => Some(
                "the target is ahead: migrate only into an empty workspace or one older than the source, or pick another --workspace".into(),
            ),
            BackendError::Io { .. } => None,
        }
    }
}

/// How to choose a backend.
pub const BACKEND_HINT: &str = "pass `--backend postgres://USER:PASSWORD@HOST:PORT/DATABASE`, or unset --backend / GCRECON_BACKEND to keep state in state/<name>.gcstate.json beside the manifest (see docs/cli.md)";

/// A store of states and their locks: one workspace of one manifest.
pub trait StateBackend: Send + Sync + std::fmt::Debug {
    /// The state's address for messages: a path, or a PostgreSQL URL
    /// (password replaced by `***`) with `#<manifest>/<workspace>`.
    fn address(&self) -> &str;

    /// The latest state, or `None` when nothing was written yet.
    fn load(&self) -> Result<Option<State>, BackendError>;

    /// Write `state` as the successor of the stored one: its serial must be
    /// the stored serial plus one (1 when nothing is stored), else
    /// [`BackendError::Conflict`].
    fn save(&self, state: &State) -> Result<(), BackendError>;

    /// Take the lock for `info` (its id, who, operation), or say who holds it.
    fn try_lock(&self, info: &LockInfo) -> Result<LockAttempt, LockError>;

    /// Release the lock if its id is `id` (a lock taken over by someone
    /// else is left alone).
    fn unlock(&self, id: &str) -> Result<(), LockError>;

    /// The current holder of the lock, if locked.
    fn lock_holder(&self) -> Result<Option<LockInfo>, LockError>;

    /// Remove the lock whose id is `id`, whoever holds it; returns what it held.
    fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        let Some(holder) = self.lock_holder()? else {
            return Err(LockError::NotLocked {
                address: self.address().to_owned(),
            });
        };
        if holder.id != id {
            return Err(LockError::IdMismatch {
                given: id.to_owned(),
                found: holder,
            });
        }
        self.unlock(id)?;
        Ok(holder)
    }

    /// Every write kept, oldest first.
    fn history(&self) -> Result<Vec<HistoryEntry>, BackendError>;

    /// The workspaces of this manifest in this store, by name.
    fn workspaces(&self) -> Result<Vec<WorkspaceEntry>, BackendError>;

    /// True when this backend keeps OAuth client secrets beside the state
    /// (always encrypted: [`crate::SecretsFile`] refuses to store a clear
    /// secret there). The default keeps none: secrets go to the local
    /// secrets file beside the manifest.
    fn keeps_secrets(&self) -> bool {
        false
    }

    /// Store (or replace) the encrypted secret of the client at `address`;
    /// `armored` is age ciphertext, encrypted by the caller. Only called
    /// when [`Self::keeps_secrets`].
    fn store_secret(
        &self,
        address: &str,
        _client_id: &str,
        _armored: &str,
    ) -> Result<(), BackendError> {
        Err(BackendError::Database {
            action: "cannot store a secret in",
            address: self.address().to_owned(),
            source: DatabaseError(format!(
                "this backend keeps no secrets (the secret of {address} belongs in the secrets file)"
            )),
        })
    }

    /// Every secret kept beside this workspace's state, by address.
    fn load_secrets(&self) -> Result<Vec<StoredSecret>, BackendError> {
        Ok(Vec::new())
    }
}

/// An encrypted OAuth client secret kept by a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSecret {
    /// The resource address, e.g. `oauth_client.sso`.
    pub address: String,
    /// The client's id (an object id, not a secret).
    pub client_id: String,
    /// The secret as ASCII-armored age ciphertext.
    pub armored: String,
}

/// Which backend a command uses: `--backend` / `GCRECON_BACKEND`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// The local state file.
    Local,
    /// A PostgreSQL database (the URL as given, password included).
    Postgres(String),
}

impl BackendChoice {
    /// Parse a `--backend` value: unset, empty, `local` or `file:` for the
    /// local file, `postgres://` or `postgresql://` for PostgreSQL. Any other
    /// scheme is refused naming only the scheme (a URL may hold a password).
    pub fn parse(backend: Option<&str>) -> Result<BackendChoice, String> {
        match backend.map(str::trim) {
            None | Some("" | "local") => Ok(BackendChoice::Local),
            Some(b) if b.starts_with("file:") => Ok(BackendChoice::Local),
            Some(b) if is_postgres_url(b) => Ok(BackendChoice::Postgres(b.to_owned())),
            Some(b) => Err(format!(
                "the `{}` state backend is not available in this build of gcrecon; only the local state file and postgres:// are",
                b.split("://").next().unwrap_or("unknown")
            )),
        }
    }
}

/// Open the backend of one workspace: the local file `state_path` (whose
/// directory holds the manifest's other workspaces), or the rows keyed
/// `<manifest_name>/<workspace>` of a PostgreSQL database.
pub fn open(
    choice: &BackendChoice,
    state_path: &Path,
    manifest_name: &str,
    workspace: &str,
) -> Result<Arc<dyn StateBackend>, BackendError> {
    Ok(match choice {
        BackendChoice::Local => Arc::new(LocalBackend::for_manifest(state_path, manifest_name)),
        BackendChoice::Postgres(url) => {
            Arc::new(PostgresBackend::connect(url, manifest_name, workspace)?)
        }
    })
}

/// A workspace name as stored: `default` when empty.
pub fn workspace_name(workspace: &str) -> &str {
    let w = workspace.trim();
    if w.is_empty() {
        crate::store::DEFAULT_WORKSPACE
    } else {
        w
    }
}
