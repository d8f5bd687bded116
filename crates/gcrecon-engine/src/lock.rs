//! The state lock: `<state>.lock`, a small JSON file created exclusively
//! (`O_CREAT|O_EXCL`), so two runs on one state never interleave.
//!
//! The lock is released when its [`StateLock`] guard drops, on every exit
//! path that unwinds (errors, Ctrl-C handled by the CLI). A lock whose
//! holder is provably gone (same host, no process with that pid) is broken
//! automatically; the caller is told so it can warn. Anything else is
//! reported with the holder's details, and `gcrecon force-unlock ID` removes it.
//!
//! For a state in PostgreSQL (a [`crate::pg`] address) the lock is a row of
//! `gcrecon_locks` instead, taken by an insert and removed by a delete of
//! the row with our id; the same rules apply.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::pg::PgTarget;

/// What a lock file holds.
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
    Held { path: PathBuf, info: LockInfo },
    #[error("the lock file {path} exists but cannot be read: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("cannot {action} the lock file {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state is not locked (no {path})")]
    NotLocked { path: PathBuf },
    #[error("the lock has id {}, not {given}", found.id)]
    IdMismatch { given: String, found: LockInfo },
    /// The PostgreSQL backend failed (the message names the database, password hidden).
    #[error("cannot {action} the lock of {path}: {detail}")]
    Backend {
        action: &'static str,
        path: PathBuf,
        detail: String,
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
            LockError::Unreadable { path, .. } => Some(format!(
                "if no other gcrecon is running, delete {}",
                path.display()
            )),
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

/// A held lock; removed on drop.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    /// Set for a state in PostgreSQL; `path` is then its address.
    pg: Option<PgTarget>,
    info: LockInfo,
    released: bool,
}

/// The PostgreSQL target of `state_path`, if it is a PostgreSQL address.
fn pg_target(state_path: &Path) -> Result<Option<PgTarget>, LockError> {
    crate::pg::target(state_path)
        .transpose()
        .map_err(|detail| LockError::Backend {
            action: "find",
            path: state_path.to_owned(),
            detail,
        })
}

fn new_info(operation: &str) -> LockInfo {
    LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        who: format!("{}@{}", user_name(), host_name()),
        pid: std::process::id(),
        host: host_name(),
        operation: operation.to_owned(),
        created: now_rfc3339(),
    }
}

/// The result of taking a lock.
#[derive(Debug)]
pub struct Acquired {
    pub lock: StateLock,
    /// A stale lock that was broken to take this one (its holder had died).
    pub broke_stale: Option<LockInfo>,
}

impl StateLock {
    /// Take the lock of `state_path` for `operation`.
    pub fn acquire(state_path: &Path, operation: &str) -> Result<Acquired, LockError> {
        if let Some(target) = pg_target(state_path)? {
            return acquire_pg(state_path, target, operation);
        }
        let path = lock_path(state_path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| LockError::Io {
                action: "create the directory of",
                path: path.clone(),
                source,
            })?;
        }
        let info = new_info(operation);
        let mut broke_stale = None;
        // Two attempts: the second after breaking a stale lock.
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let text = serde_json::to_string_pretty(&info).unwrap_or_default();
                    let written = file
                        .write_all(text.as_bytes())
                        .and_then(|()| file.sync_all());
                    if let Err(source) = written {
                        let _ = fs::remove_file(&path);
                        return Err(LockError::Io {
                            action: "write",
                            path,
                            source,
                        });
                    }
                    return Ok(Acquired {
                        lock: StateLock {
                            path,
                            pg: None,
                            info,
                            released: false,
                        },
                        broke_stale,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = read_lock(&path)?;
                    if broke_stale.is_none() && holder_is_gone(&holder) {
                        remove_if_id(&path, &holder.id)?;
                        broke_stale = Some(holder);
                        continue;
                    }
                    return Err(LockError::Held { path, info: holder });
                }
                Err(source) => {
                    return Err(LockError::Io {
                        action: "create",
                        path,
                        source,
                    })
                }
            }
        }
        let holder = read_lock(&path)?;
        Err(LockError::Held { path, info: holder })
    }

    /// The lock's details.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Remove the lock now (also done on drop).
    pub fn release(mut self) -> Result<(), LockError> {
        self.released = true;
        self.remove()
    }

    fn remove(&self) -> Result<(), LockError> {
        match &self.pg {
            Some(target) => {
                // A lock row left behind blocks every runner, and one on
                // another host needs `force-unlock`: when the database is
                // unreachable (restarting, a dropped connection), try again
                // for a few seconds before giving up.
                let mut wait = std::time::Duration::from_millis(100);
                loop {
                    match pg_unlock(&self.path, target, &self.info.id) {
                        Ok(_) => return Ok(()),
                        Err(e) if wait > std::time::Duration::from_secs(2) => return Err(e),
                        Err(_) => {
                            std::thread::sleep(wait);
                            wait *= 2;
                        }
                    }
                }
            }
            None => remove_if_id(&self.path, &self.info.id),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.remove();
        }
    }
}

/// Take the lock row of a PostgreSQL state (insert; a second attempt after
/// breaking a stale one).
fn acquire_pg(state_path: &Path, target: PgTarget, operation: &str) -> Result<Acquired, LockError> {
    let info = new_info(operation);
    let text = serde_json::to_string(&info).unwrap_or_default();
    let mut broke_stale = None;
    for _ in 0..2 {
        let taken = target
            .try_lock(text.clone())
            .map_err(|detail| LockError::Backend {
                action: "take",
                path: state_path.to_owned(),
                detail,
            })?;
        if taken {
            return Ok(Acquired {
                lock: StateLock {
                    path: state_path.to_owned(),
                    pg: Some(target),
                    info,
                    released: false,
                },
                broke_stale,
            });
        }
        // Held; it may have been released since the insert.
        let Some(holder) = pg_holder(state_path, &target)? else {
            continue;
        };
        if broke_stale.is_none() && holder_is_gone(&holder) {
            pg_unlock(state_path, &target, &holder.id)?;
            broke_stale = Some(holder);
            continue;
        }
        return Err(LockError::Held {
            path: state_path.to_owned(),
            info: holder,
        });
    }
    match pg_holder(state_path, &target)? {
        Some(info) => Err(LockError::Held {
            path: state_path.to_owned(),
            info,
        }),
        None => Err(LockError::Backend {
            action: "take",
            path: state_path.to_owned(),
            detail: "the lock changed hands while taking it; try again".into(),
        }),
    }
}

/// The lock row of a PostgreSQL state, if any.
fn pg_holder(state_path: &Path, target: &PgTarget) -> Result<Option<LockInfo>, LockError> {
    let text = target.read_lock().map_err(|detail| LockError::Backend {
        action: "read",
        path: state_path.to_owned(),
        detail,
    })?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| LockError::Unreadable {
            path: state_path.to_owned(),
            detail: e.to_string(),
        })
    })
    .transpose()
}

/// Delete the lock row of a PostgreSQL state if its id is `id`.
fn pg_unlock(state_path: &Path, target: &PgTarget, id: &str) -> Result<bool, LockError> {
    target
        .unlock_if_id(id)
        .map_err(|detail| LockError::Backend {
            action: "remove",
            path: state_path.to_owned(),
            detail,
        })
}

/// Remove the lock of `state_path` if its id is `id`; returns what it held.
pub fn force_unlock(state_path: &Path, id: &str) -> Result<LockInfo, LockError> {
    if let Some(target) = pg_target(state_path)? {
        let Some(holder) = pg_holder(state_path, &target)? else {
            return Err(LockError::NotLocked {
                path: state_path.to_owned(),
            });
        };
        if holder.id != id {
            return Err(LockError::IdMismatch {
                given: id.to_owned(),
                found: holder,
            });
        }
        pg_unlock(state_path, &target, id)?;
        return Ok(holder);
    }
    let path = lock_path(state_path);
    if !path.exists() {
        return Err(LockError::NotLocked { path });
    }
    let holder = read_lock(&path)?;
    if holder.id != id {
        return Err(LockError::IdMismatch {
            given: id.to_owned(),
            found: holder,
        });
    }
    remove_if_id(&path, id)?;
    Ok(holder)
}

/// The current holder of the lock of `state_path`, if locked.
pub fn current_holder(state_path: &Path) -> Result<Option<LockInfo>, LockError> {
    if let Some(target) = pg_target(state_path)? {
        return pg_holder(state_path, &target);
    }
    let path = lock_path(state_path);
    if path.exists() {
        read_lock(&path).map(Some)
    } else {
        Ok(None)
    }
}

fn read_lock(path: &Path) -> Result<LockInfo, LockError> {
    // A lock file is created empty and then written: a reader may see it in
    // between, so an unparsable lock is read again a few times first.
    let mut attempt = 0;
    loop {
        let text = fs::read_to_string(path).map_err(|source| LockError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        match serde_json::from_str(&text) {
            Ok(info) => return Ok(info),
            Err(_) if attempt < 5 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => {
                return Err(LockError::Unreadable {
                    path: path.to_owned(),
                    detail: e.to_string(),
                })
            }
        }
    }
}

fn remove_if_id(path: &Path, id: &str) -> Result<(), LockError> {
    match read_lock(path) {
        Ok(holder) if holder.id == id => fs::remove_file(path).or_else(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(LockError::Io {
                    action: "remove",
                    path: path.to_owned(),
                    source,
                })
            }
        }),
        Ok(_) => Ok(()),
        Err(LockError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// True when the holder ran on this host and its process no longer exists.
/// Without `/proc` (not Linux) nothing is provably gone.
fn holder_is_gone(holder: &LockInfo) -> bool {
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

fn user_name() -> String {
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

    #[test]
    fn a_second_lock_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/x.gcstate.json");
        let first = StateLock::acquire(&state, "apply").unwrap();
        assert!(first.broke_stale.is_none());
        let err = StateLock::acquire(&state, "plan").unwrap_err();
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
        StateLock::acquire(&state, "plan")
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
        let stale = LockInfo {
            id: "old".into(),
            who: "x@y".into(),
            // pid_max is at most 2^22 on Linux: this pid cannot exist.
            pid: 4_194_305,
            host: host_name(),
            operation: "apply".into(),
            created: now_rfc3339(),
        };
        fs::write(lock_path(&state), serde_json::to_string(&stale).unwrap()).unwrap();
        let acquired = StateLock::acquire(&state, "plan").unwrap();
        assert_eq!(acquired.broke_stale.unwrap().id, "old");
    }

    #[test]
    fn a_live_or_foreign_holder_is_not_broken() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.gcstate.json");
        let other_host = LockInfo {
            id: "theirs".into(),
            who: "x@elsewhere".into(),
            pid: 4_194_305,
            host: "elsewhere.example".into(),
            operation: "apply".into(),
            created: now_rfc3339(),
        };
        fs::write(
            lock_path(&state),
            serde_json::to_string(&other_host).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            StateLock::acquire(&state, "plan"),
            Err(LockError::Held { .. })
        ));
        assert!(matches!(
            force_unlock(&state, "wrong"),
            Err(LockError::IdMismatch { .. })
        ));
        assert_eq!(force_unlock(&state, "theirs").unwrap().who, "x@elsewhere");
        assert!(matches!(
            force_unlock(&state, "theirs"),
            Err(LockError::NotLocked { .. })
        ));
    }

    #[test]
    fn an_unreadable_lock_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.gcstate.json");
        fs::write(lock_path(&state), "{not json").unwrap();
        let err = StateLock::acquire(&state, "plan").unwrap_err();
        assert!(matches!(err, LockError::Unreadable { .. }), "{err:?}");
    }
}
