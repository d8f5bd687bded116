//! The local backend: the state is a JSON file (`state/<name>.gcstate.json`
//! beside the manifest by default), written atomically (a temp file in the
//! same directory, fsync, rename, then fsync of the directory) and keeping
//! the previous serial as `<state>.backup`; the lock is `<state>.lock`, a
//! small JSON file created exclusively (`O_CREAT|O_EXCL`).
//!
//! A `kill -9` at any instant leaves either the old or the new file in
//! place, never a torn one. A file that is not a usable state is refused
//! and never overwritten.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gcrecon_core::state::State;

use super::{BackendError, HistoryEntry, LockAttempt, StateBackend, WorkspaceEntry};
use crate::lock::{holder_is_gone, lock_path, LockError, LockInfo};
use crate::store::{backup_path, remove_dead_pid_files, write_atomic, DEFAULT_WORKSPACE};

/// A state file and its lock file.
#[derive(Debug)]
pub struct LocalBackend {
    path: PathBuf,
    address: String,
    /// The manifest's name, to find its other workspaces beside the file.
    manifest_name: Option<String>,
    /// The serial last loaded or saved by this process: the next save must
    /// follow it.
    serial: Mutex<Option<u64>>,
}

impl LocalBackend {
    /// The state file at `path`.
    pub fn new(path: &Path) -> LocalBackend {
        LocalBackend {
            path: path.to_owned(),
            address: path.display().to_string(),
            manifest_name: None,
            serial: Mutex::new(None),
        }
    }

    /// The state file at `path` of the manifest `manifest_name`, whose other
    /// workspaces' files (`<name>.<workspace>.gcstate.json`) sit beside it.
    pub fn for_manifest(path: &Path, manifest_name: &str) -> LocalBackend {
        LocalBackend {
            manifest_name: Some(manifest_name.to_owned()),
            ..LocalBackend::new(path)
        }
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn remember(&self, serial: u64) {
        *self.serial.lock().unwrap_or_else(|p| p.into_inner()) = Some(serial);
    }
}

/// The serial and modification time of the state file at `path`, if it is one.
fn file_entry(path: &Path) -> Option<(u64, Option<String>)> {
    let text = fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let serial = value.get("serial")?.as_u64()?;
    let written = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| {
            time::OffsetDateTime::from(t)
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    Some((serial, written))
}

impl StateBackend for LocalBackend {
    fn address(&self) -> &str {
        &self.address
    }

    fn load(&self) -> Result<Option<State>, BackendError> {
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                let state = State::from_json(&text).map_err(|source| BackendError::Format {
                    address: self.address.clone(),
                    source,
                })?;
                self.remember(state.serial);
                Ok(Some(state))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.remember(0);
                Ok(None)
            }
            Err(source) => Err(BackendError::Io {
                action: "cannot read",
                address: self.address.clone(),
                source,
            }),
        }
    }

    fn save(&self, state: &State) -> Result<(), BackendError> {
        let known = *self.serial.lock().unwrap_or_else(|p| p.into_inner());
        let stored = match known {
            Some(serial) => serial,
            None => file_entry(&self.path).map_or(0, |(serial, _)| serial),
        };
        if state.serial != stored + 1 {
            return Err(BackendError::Conflict {
                address: self.address.clone(),
                serial: state.serial,
            });
        }
        if self.path.exists() {
            keep_backup(&self.path)?;
        }
        write_atomic(&self.path, state.to_json().as_bytes(), None).map_err(|source| {
            BackendError::Io {
                action: "cannot write the state to",
                address: self.address.clone(),
                source,
            }
        })?;
        self.remember(state.serial);
        Ok(())
    }

    fn try_lock(&self, info: &LockInfo) -> Result<LockAttempt, LockError> {
        let path = lock_path(&self.path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| LockError::Io {
                action: "create the directory of",
                path: path.clone(),
                source,
            })?;
        }
        let mut broke_stale = None;
        // Two attempts: the second after breaking a stale lock.
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let text = serde_json::to_string_pretty(info).unwrap_or_default();
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
                    return Ok(LockAttempt::Taken { broke_stale });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = read_lock(&path)?;
                    if broke_stale.is_none() && holder_is_gone(&holder) {
                        remove_if_id(&path, &holder.id)?;
                        broke_stale = Some(holder);
                        continue;
                    }
                    return Ok(LockAttempt::Held(holder));
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
        Ok(LockAttempt::Held(read_lock(&path)?))
    }

    fn unlock(&self, id: &str) -> Result<(), LockError> {
        remove_if_id(&lock_path(&self.path), id)
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, LockError> {
        let path = lock_path(&self.path);
        if path.exists() {
            read_lock(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        let path = lock_path(&self.path);
        if !path.exists() {
            return Err(LockError::NotLocked {
                address: path.display().to_string(),
            });
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

    /// The local backend keeps the current state and its backup: at most
    /// two serials, without who wrote them.
    fn history(&self) -> Result<Vec<HistoryEntry>, BackendError> {
        let mut entries: Vec<HistoryEntry> = [backup_path(&self.path), self.path.clone()]
            .iter()
            .filter_map(|p| file_entry(p))
            .map(|(serial, written_at)| HistoryEntry {
                serial,
                written_at: written_at.unwrap_or_default(),
                who: None,
                command: None,
            })
            .collect();
        entries.sort_by_key(|e| e.serial);
        entries.dedup_by_key(|e| e.serial);
        Ok(entries)
    }

    fn workspaces(&self) -> Result<Vec<WorkspaceEntry>, BackendError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let Some(name) = &self.manifest_name else {
            return Ok(file_entry(&self.path)
                .map(|(serial, written_at)| WorkspaceEntry {
                    name: DEFAULT_WORKSPACE.to_owned(),
                    serial,
                    written_at,
                })
                .into_iter()
                .collect());
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(BackendError::Io {
                    action: "cannot list the workspaces in",
                    address: dir.display().to_string(),
                    source,
                })
            }
        };
        let mut found = Vec::new();
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some(middle) = file
                .strip_prefix(name.as_str())
                .and_then(|rest| rest.strip_suffix(".gcstate.json"))
            else {
                continue;
            };
            let workspace = match middle {
                "" => DEFAULT_WORKSPACE,
                m => match m.strip_prefix('.') {
                    Some(w) if !w.is_empty() => w,
                    _ => continue,
                },
            };
            if let Some((serial, written_at)) = file_entry(&e.path()) {
                found.push(WorkspaceEntry {
                    name: workspace.to_owned(),
                    serial,
                    written_at,
                });
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }
}

/// Point `<state>.backup` at the current state file (a hard link, renamed
/// into place, so the backup is replaced atomically too; a copy where links
/// are not supported).
fn keep_backup(state_path: &Path) -> Result<(), BackendError> {
    let backup = backup_path(state_path);
    let mut staging = backup.as_os_str().to_owned();
    staging.push(format!(".{}", std::process::id()));
    let staging = PathBuf::from(staging);
    let _ = fs::remove_file(&staging);
    // A staging link left by a process killed before its rename.
    if let (Some(dir), Some(name)) = (backup.parent(), backup.file_name()) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        remove_dead_pid_files(dir, &format!("{}.", name.to_string_lossy()), "");
    }
    let linked =
        fs::hard_link(state_path, &staging).or_else(|_| fs::copy(state_path, &staging).map(|_| ()));
    linked
        .and_then(|()| fs::rename(&staging, &backup))
        .map_err(|source| BackendError::Io {
            action: "cannot keep the backup",
            address: backup.display().to_string(),
            source,
        })
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
