//! The state lock: taken by every command that may write the state, so two
//! runs on one workspace never interleave. Where the lock lives is the
//! backend's business ([`crate::backend::StateBackend::try_lock`]): a
//! `<state>.lock` file created exclusively for the local backend, a row of
//! `gcrecon_locks` beside a session-level advisory lock for PostgreSQL.
//!
//! The lock is released when its [`StateLock`] guard drops, on every exit
//! path that unwinds (errors, Ctrl-C handled by the CLI). A lock whose
//! holder is provably gone (same host, no process with that pid; for
//! PostgreSQL also: its database session ended) is broken automatically;
//! the caller is told so it can warn. Anything else is reported with the
//! holder's details, and `gcrecon force-unlock ID` removes it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::backend::{DatabaseError, LockAttempt, StateBackend};

/// What a lock holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A uuid; `force-unlock` needs it.
    pub id: String,
    /// `user@host`.
    pub who: String,
    pub pid: u32,
    pub host: String,
    /// The command that took it (`apply`, `plan`, ...).
    pub operation: String,
    /// When it was taken (RFC 3339, UTC).
    pub created: String,
    /// For a PostgreSQL lock: the holder's database session (backend pid),
    /// which holds an advisory lock as long as it lives. A lock row with a
    /// session whose advisory lock is free belongs to a dead holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<i32>,
}

impl LockInfo {
    /// A new lock for `operation` by this process.
    pub fn new(operation: &str) -> LockInfo {
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            who: format!("{}@{}", user_name(), host_name()),
            pid: std::process::id(),
            host: host_name(),
            operation: operation.to_owned(),
            created: now_rfc3339(),
            session: None,
        }
    }
}

impl std::fmt::Display for LockInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "id {}, held by {} (pid {}) for `{}` since {}",
            self.id, self.who, self.pid, self.operation, self.created
        )
    }
}

/// Why a lock could not be taken or removed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the state is locked: {info}")]
    Held { address: String, info: LockInfo },
    /// The advisory lock of a PostgreSQL workspace is held by a live
    /// session that has not (or no longer) written its lock row.
    #[error(
        "the state at {address} is locked by a live database session that wrote no lock details"
    )]
    SessionHeld { address: String },
    #[error("the lock file {path} exists but cannot be read: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("cannot {action} the lock file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state is not locked (no {address})")]
    NotLocked { address: String },
    #[error("the lock has id {}, not {given}", found.id)]
    IdMismatch { given: String, found: LockInfo },
    /// The PostgreSQL backend failed (the message names the database, password hidden).
    #[error("cannot {action} the lock of {address}: {detail}")]
    Backend {
        action: &'static str,
        address: String,
        detail: DatabaseError,
    },
}

impl LockError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { info, .. } => Some(format!(
                "wait for the other run to finish; if it is gone, run `gcrecon force-unlock {}`",
                info.id
            )),
            LockError::SessionHeld { .. } => Some(
                "wait for the other run to finish: its lock goes with its database connection"
                    .into(),
            ),
            LockError::Unreadable { path, .. } => Some(
                match path
                    .to_str()
                    .and_then(|p| p.split_once('#'))
                    .filter(|(url, _)| crate::backend::is_postgres_url(url))
                {
                    Some((_, key)) => format!(
                        "if no other gcrecon is running, delete its row: DELETE FROM gcrecon_locks WHERE workspace = '{key}'"
                    ),
                    None => format!("if no other gcrecon is running, delete {}", path.display()),
                },
            ),
            LockError::IdMismatch { found, .. } => Some(format!("the lock is {found}")),
            _ => None,
        }
    }
}

/// The lock file path of a state file: `<state>.lock`.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct StateLock {
    backend: Arc<dyn StateBackend>,
    info: LockInfo,
    released: bool,
}

/// The result of taking a lock.
#[derive(Debug)]
pub struct Acquired {
    pub lock: StateLock,
    /// A stale lock that was broken to take this one (its holder had died).
    pub broke_stale: Option<LockInfo>,
}

impl StateLock {
    /// Take the lock of `backend`'s state for `operation`.
    pub fn acquire(
        backend: &Arc<dyn StateBackend>,
        operation: &str,
    ) -> Result<Acquired, LockError> {
        let info = LockInfo::new(operation);
        match backend.try_lock(&info)? {
            LockAttempt::Taken { broke_stale } => Ok(Acquired {
                lock: StateLock {
                    backend: Arc::clone(backend),
                    info,
                    released: false,
                },
                broke_stale,
            }),
            LockAttempt::Held(holder) => Err(LockError::Held {
                address: backend.address().to_owned(),
                info: holder,
            }),
        }
    }

    /// The lock's details.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Remove the lock now (also done on drop).
    pub fn release(mut self) -> Result<(), LockError> {
        self.released = true;
        self.backend.unlock(&self.info.id)
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.backend.unlock(&self.info.id);
        }
    }
}

/// True when the holder ran on this host and its process no longer exists.
/// Without `/proc` (not Linux) nothing is provably gone.
pub(crate) fn holder_is_gone(holder: &LockInfo) -> bool {
    if holder.host != host_name() || !Path::new("/proc/self").exists() {
        return false;
    }
    !Path::new(&format!("/proc/{}", holder.pid)).exists()
}

/// This machine's name.
pub fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The user running gcrecon.
pub fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Now, as RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LocalBackend;

    fn local(state: &Path) -> Arc<dyn StateBackend> {
        Arc::new(LocalBackend::new(state))
    }

    #[test]
    fn a_second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/x.gcstate.json");
        let backend = local(&state);
        let first = StateLock::acquire(&backend, "apply").unwrap();
        assert!(first.broke_stale.is_none());
        let err = StateLock::acquire(&backend, "plan").unwrap_err();
        match &err {
            LockError::Held { info, .. } => {
                assert_eq!(info.operation, "apply");
                assert_eq!(info.pid, std::process::id());
                assert!(info.who.contains('@'));
            }
            other => panic!("{other:?}"),
        }
        assert!(err.hint().unwrap().contains("force-unlock"));
        drop(first);
        assert!(!lock_path(&state).exists());
        StateLock::acquire(&backend, "plan")
            .unwrap()
            .lock
            .release()
            .unwrap();
        assert!(!lock_path(&state).exists());
    }

    #[test]
    fn a_dead_holder_on_this_host_is_broken() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.gcstate.json");
        let backend = local(&state);
        let stale = LockInfo {
            id: "old".into(),
            who: "x@y".into(),
            // pid_max is at most 2^22 on Linux: this pid cannot exist.
            pid: 4_194_305,
            host: host_name(),
            operation: "apply".into(),
            created: now_rfc3339(),
            session: None,
        };
        fs::write(lock_path(&state), serde_json::to_string(&stale).unwrap()).unwrap();
        let acquired = StateLock::acquire(&backend, "plan").unwrap();
        assert_eq!(acquired.broke_stale.unwrap().id, "old");
    }

    #[test]
    fn a_live_or_foreign_holder_is_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.gcstate.json");
        let backend = local(&state);
        let other_host = LockInfo {
            id: "theirs".into(),
            who: "x@elsewhere".into(),
            pid: 4_194_305,
            host: "elsewhere.example".into(),
            operation: "apply".into(),
            created: now_rfc3339(),
            session: None,
        };
        fs::write(
            lock_path(&state),
            serde_json::to_string(&other_host).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            StateLock::acquire(&backend, "plan"),
            Err(LockError::Held { .. })
        ));
        assert!(matches!(
            backend.force_unlock("wrong"),
            Err(LockError::IdMismatch { .. })
        ));
        assert_eq!(backend.force_unlock("theirs").unwrap().who, "x@elsewhere");
        assert!(matches!(
            backend.force_unlock("theirs"),
            Err(LockError::NotLocked { .. })
        ));
    }

    #[test]
    fn an_unreadable_lock_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.gcstate.json");
        let backend = local(&state);
        fs::write(lock_path(&state), "{not json").unwrap();
        let err = StateLock::acquire(&backend, "plan").unwrap_err();
        assert!(matches!(err, LockError::Unreadable { .. }), "{err:?}");
    }
}
