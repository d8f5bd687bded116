//! The secrets file (`--secrets-out`): the one place an OAuth client secret
//! is ever written. A JSON object by address,
//! `{ "oauth_client.sso": { "client_id": ..., "client_secret": ... } }`,
//! merged with what the file already holds, written atomically with mode
//! 0600. A file that is not such an object is an error and is not replaced.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use gcrecon_core::{Address, Secret};
use serde::{Deserialize, Serialize};

use crate::error::EngineError;
use crate::store::write_atomic;

/// One client's credentials as stored in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    client_id: String,
    client_secret: String,
}

/// The secrets file at a path.
#[derive(Clone, Debug)]
pub struct SecretsFile {
    path: PathBuf,
}

impl SecretsFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SecretsFile { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Store (or replace) the credentials of `address`.
    pub fn store(
        &self,
        address: &Address,
        client_id: &str,
        secret: &Secret,
    ) -> Result<(), EngineError> {
        // Read, merge and write under one lock: the clients of one apply are
        // created in parallel, and two unserialized merges lose a secret.
        static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _serial = WRITING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all = self.read_all()?;
        all.insert(
            address.to_string(),
            serde_json::json!({ "client_id": client_id, "client_secret": secret.expose() }),
        );
        let text = serde_json::to_string_pretty(&all).unwrap_or_default() + "\n";
        write_atomic(&self.path, text.as_bytes(), Some(0o600))
            .map_err(|e| EngineError::io("cannot write the secrets file", &self.path, e))
    }

    /// Fails unless the file is missing, empty or a usable JSON object:
    /// checked before any API change, so a damaged file stops a run before
    /// a secret is issued that could not be written down.
    pub fn check(&self) -> Result<(), EngineError> {
        self.read_all().map(|_| ())
    }

    /// The client id stored for `address`, if any.
    pub fn client_id(&self, address: &Address) -> Result<Option<String>, EngineError> {
        Ok(self
            .read_all()?
            .get(&address.to_string())
            .and_then(|e| serde_json::from_value::<Entry>(e.clone()).ok())
            .map(|e| e.client_id))
    }

    /// The secret stored for `address`, if any.
    pub fn secret(&self, address: &Address) -> Result<Option<Secret>, EngineError> {
        let all = self.read_all()?;
        Ok(all
            .get(&address.to_string())
            .and_then(|e| serde_json::from_value::<Entry>(e.clone()).ok())
            .map(|e| Secret::new(e.client_secret)))
    }

    fn read_all(&self) -> Result<BTreeMap<String, serde_json::Value>, EngineError> {
        match fs::read_to_string(&self.path) {
            Ok(text) if text.trim().is_empty() => Ok(BTreeMap::new()),
            Ok(text) => {
                let refuse = |why: String| EngineError::Usage {
                    message: format!(
                        "the secrets file {} is not a JSON object of client credentials: {why}",
                        self.path.display()
                    ),
                    hint: Some("fix or move the file; gcrecon does not overwrite it".into()),
                };
                let all: BTreeMap<String, serde_json::Value> =
                    serde_json::from_str(&text).map_err(|e| refuse(e.to_string()))?;
                // Every entry must be credentials: one that is not would be
                // replaced by the next store, losing whatever it held.
                if let Some((address, _)) = all
                    .iter()
                    .find(|(_, v)| serde_json::from_value::<Entry>((*v).clone()).is_err())
                {
                    return Err(refuse(format!(
                        "the entry `{address}` is not {{\"client_id\": \"...\", \"client_secret\": \"...\"}}"
                    )));
                }
                Ok(all)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(EngineError::io(
                "cannot read the secrets file",
                &self.path,
                e,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_merge_and_stay_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = SecretsFile::new(dir.path().join("state/x.secrets.json"));
        let a: Address = "oauth_client.a".parse().unwrap();
        let b: Address = "oauth_client.b".parse().unwrap();
        file.store(&a, "id-a", &Secret::new("sa")).unwrap();
        file.store(&b, "id-b", &Secret::new("sb")).unwrap();
        file.store(&a, "id-a", &Secret::new("sa2")).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(file.path()).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "oauth_client.a": {"client_id": "id-a", "client_secret": "sa2"},
                "oauth_client.b": {"client_id": "id-b", "client_secret": "sb"},
            })
        );
        assert_eq!(file.secret(&b).unwrap().unwrap().expose(), "sb");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(file.path()).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn parallel_stores_lose_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = SecretsFile::new(dir.path().join("state/x.secrets.json"));
        std::thread::scope(|s| {
            for i in 0..16 {
                let file = &file;
                s.spawn(move || {
                    let a: Address = format!("oauth_client.c{i}").parse().unwrap();
                    file.store(&a, &format!("id-{i}"), &Secret::new(format!("s{i}")))
                        .unwrap();
                });
            }
        });
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(file.path()).unwrap()).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 16, "{json}");
    }

    #[test]
    fn a_foreign_file_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        fs::write(&path, "[1, 2]").unwrap();
        let file = SecretsFile::new(&path);
        assert!(file
            .store(&"oauth_client.a".parse().unwrap(), "i", &Secret::new("s"))
            .is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "[1, 2]");
    }
}
