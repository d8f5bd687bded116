//! The state a command works on ([`StateStore`]: loaded from a
//! [`StateBackend`], written through it after every API change, each write
//! the next serial), the default local paths ([`StatePaths`]), and atomic
//! file writes (a temp file in the same directory, fsync, rename, then
//! fsync of the directory), used for the local state and the secrets file.
//!
//! A `kill -9` at any instant leaves either the old or the new file in
//! place, never a torn one; every API change is followed by one such write.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gcrecon_core::state::State;

use crate::backend::{LocalBackend, StateBackend};
use crate::error::EngineError;

/// Where the files of one state live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatePaths {
    pub state: PathBuf,
    /// The default `--secrets-out` file.
    pub secrets: PathBuf,
}

/// The workspace every state has unless `--workspace` says otherwise.
pub const DEFAULT_WORKSPACE: &str = "default";

impl StatePaths {
    /// The default paths for a manifest: `state/<name>.gcstate.json` and
    /// `state/<name>.secrets.json` in `base_dir` (the manifest's directory),
    /// with `.<workspace>` before the extension for a non-default workspace.
    pub fn for_manifest(base_dir: &Path, manifest_name: &str, workspace: &str) -> Self {
        let stem = if workspace == DEFAULT_WORKSPACE || workspace.is_empty() {
            manifest_name.to_owned()
        } else {
            format!("{manifest_name}.{workspace}")
        };
        let dir = base_dir.join("state");
        StatePaths {
            state: dir.join(format!("{stem}.gcstate.json")),
            secrets: dir.join(format!("{stem}.secrets.json")),
        }
    }
}

/// The backup of a state file: `<state>.backup`.
pub fn backup_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".backup");
    PathBuf::from(name)
}

/// A state loaded from (or to be created in) a backend.
#[derive(Debug)]
pub struct StateStore {
    backend: Arc<dyn StateBackend>,
    state: State,
    on_disk: bool,
    /// Changes made in memory by [`StateStore::stage`] and not yet written.
    staged: bool,
}

impl StateStore {
    /// Read the local state file at `path`, or start a new one (nothing is
    /// written until the first change). A file that is not a usable state
    /// is an error and is never overwritten.
    pub fn open(path: &Path, manifest_name: &str) -> Result<Self, EngineError> {
        Self::load(Arc::new(LocalBackend::new(path)), manifest_name)
    }

    /// Read the existing local state file at `path`; a missing file is an error.
    pub fn open_existing(path: &Path) -> Result<Self, EngineError> {
        Self::load_existing(Arc::new(LocalBackend::new(path)))
    }

    /// Read the latest state of `backend`, or start a new one (nothing is
    /// written until the first change).
    pub fn load(backend: Arc<dyn StateBackend>, manifest_name: &str) -> Result<Self, EngineError> {
        let (state, on_disk) = match backend.load()? {
            Some(state) => (state, true),
            None => (
                State::new(uuid::Uuid::new_v4().to_string(), manifest_name),
                false,
            ),
        };
        Ok(StateStore {
            backend,
            state,
            on_disk,
            staged: false,
        })
    }

    /// Read an existing state; none is an error.
    pub fn load_existing(backend: Arc<dyn StateBackend>) -> Result<Self, EngineError> {
        let store = Self::load(backend, "")?;
        if !store.on_disk {
            return Err(EngineError::Usage {
                message: format!("no state at {}", store.address()),
                hint: Some("nothing has been applied with this manifest and workspace yet, or pass `--state PATH`".into()),
            });
        }
        Ok(store)
    }

    /// Where the state lives, for messages (a PostgreSQL URL without its password).
    pub fn address(&self) -> &str {
        self.backend.address()
    }

    /// The backend the state is kept in.
    pub fn backend(&self) -> &Arc<dyn StateBackend> {
        &self.backend
    }

    /// The state as last written (or new).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// True when the state exists in its backend (a file, a row).
    pub fn is_on_disk(&self) -> bool {
        self.on_disk
    }

    /// The state, the store given up. Nothing staged and not written is
    /// written.
    pub fn into_state(self) -> State {
        self.state
    }

    /// Apply `change`, increment the serial and write the state atomically.
    /// On failure the in-memory state stays as it was on disk.
    pub fn write(&mut self, change: impl FnOnce(&mut State)) -> Result<u64, EngineError> {
        let mut next = self.state.clone();
        change(&mut next);
        next.serial = self.state.serial + 1;
        self.backend.save(&next)?;
        self.state = next;
        self.on_disk = true;
        self.staged = false;
        Ok(self.state.serial)
    }

    /// Apply `change` in memory only; the next [`StateStore::write`] saves
    /// it with its own change. For records no API call stands behind (an
    /// object adopted as it is), which a run that stops before the next
    /// write finds again by name: saving the whole state for each of them
    /// would make adopting N objects cost N writes of a growing file.
    pub fn stage(&mut self, change: impl FnOnce(&mut State)) {
        change(&mut self.state);
        self.staged = true;
    }

    /// True when staged changes wait for a write.
    pub fn has_staged(&self) -> bool {
        self.staged
    }
}

/// Remove `.<target>.<pid>.*.tmp` files in `dir` whose pid is not a
/// running process (Linux `/proc`; elsewhere nothing is removed).
fn remove_dead_writers_temps(dir: &Path, target: &str) {
    remove_dead_pid_files(dir, &format!(".{target}."), ".tmp");
}

/// Remove the files `<prefix><pid><anything><suffix>` in `dir` whose pid
/// is not a running process (Linux `/proc`; elsewhere nothing is removed).
pub(crate) fn remove_dead_pid_files(dir: &Path, prefix: &str, suffix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if name.ends_with(suffix) && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Write `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, optional permissions, rename over `path`, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    // The temp file is named after its target and the writing process, and
    // one left by a process killed between write and rename is removed:
    // it may hold client secrets that belong only in the secrets file.
    // Temp files of live processes (this one's parallel writers included)
    // are left alone; without `/proc` nothing is provably dead.
    let target = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_dead_writers_temps(&dir, &target);
    let prefix = format!(".{target}.{}.", std::process::id());
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(&dir) {
        // Make the rename itself durable; not every platform can fsync a directory.
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_file_left_by_a_dead_writer_is_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.secrets.json");
        // A pid above the kernel's limit (2^22) is never a live process.
        let stale = dir.path().join(".s.secrets.json.4999999.AbC123.tmp");
        let live = dir
            .path()
            .join(format!(".s.secrets.json.{}.XyZ789.tmp", std::process::id()));
        let other = dir.path().join(".t.secrets.json.4999999.AbC123.tmp");
        for f in [&stale, &live, &other] {
            fs::write(f, "{\"oauth_client.x\": {\"client_secret\": \"s3cret\"}}").unwrap();
        }
        write_atomic(&path, b"{}", Some(0o600)).unwrap();
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists(), "a dead writer's temp file is gone");
        }
        assert!(live.exists(), "a live writer's temp file is left alone");
        assert!(other.exists(), "another target's temp file is left alone");
        assert_eq!(fs::read(&path).unwrap(), b"{}");
    }

    #[test]
    fn default_paths_follow_the_workspace() {
        let p = StatePaths::for_manifest(Path::new("/m"), "emite", "default");
        assert_eq!(p.state, Path::new("/m/state/emite.gcstate.json"));
        assert_eq!(p.secrets, Path::new("/m/state/emite.secrets.json"));
        let p = StatePaths::for_manifest(Path::new("/m"), "emite", "prod");
        assert_eq!(p.state, Path::new("/m/state/emite.prod.gcstate.json"));
    }

    #[test]
    fn writes_increment_the_serial_and_keep_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/s.gcstate.json");
        let mut store = StateStore::open(&path, "s").unwrap();
        assert!(!store.is_on_disk());
        assert!(!path.exists(), "opening writes nothing");
        let lineage = store.state().lineage.clone();
        assert_eq!(store.write(|s| s.org_id = Some("o".into())).unwrap(), 1);
        assert!(!backup_path(&path).exists());
        assert_eq!(
            store.write(|s| s.manifest_sha256 = "abc".into()).unwrap(),
            2
        );
        let backup = State::from_json(&fs::read_to_string(backup_path(&path)).unwrap()).unwrap();
        assert_eq!(backup.serial, 1);
        let again = StateStore::open(&path, "s").unwrap();
        assert_eq!(again.state().serial, 2);
        assert_eq!(again.state().lineage, lineage);
        assert_eq!(again.state().manifest_sha256, "abc");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn unusable_state_files_are_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.gcstate.json");
        let mut good = StateStore::open(&path, "s").unwrap();
        good.write(|_| {}).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        for bad in [
            text[..text.len() / 3].to_owned(),
            "not json".to_owned(),
            text.replacen("\"format_version\": 1", "\"format_version\": 2", 1),
            String::new(),
        ] {
            fs::write(&path, &bad).unwrap();
            let err = StateStore::open(&path, "s").unwrap_err();
            assert!(
                matches!(
                    err,
                    EngineError::Backend(crate::backend::BackendError::Format { .. })
                ),
                "{err}"
            );
            assert!(err.hint().is_some());
            assert_eq!(
                fs::read_to_string(&path).unwrap(),
                bad,
                "the file is never rewritten"
            );
        }
    }

    #[test]
    fn atomic_writes_can_set_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/secrets.json");
        write_atomic(&path, b"{}", Some(0o600)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
