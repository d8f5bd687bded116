//! Where OAuth client secrets are delivered: the one place a secret is ever
//! stored.
//!
//! Without recipients it is the local secrets file (`--secrets-out`): a
//! JSON object by address,
//! `{ "oauth_client.sso": { "client_id": ..., "client_secret": ... } }`,
//! merged with what the file already holds, written atomically with mode
//! 0600. A file that is not such an object is an error and is not replaced.
//!
//! With age recipients (`--secrets-recipient`), each secret is encrypted on
//! its own before it is stored, as ASCII-armored age ciphertext:
//! `{ "oauth_client.sso": { "client_id": ..., "client_secret_age": "-----BEGIN AGE ENCRYPTED FILE-----..." } }`.
//! One ciphertext per secret (not one for the whole file) lets an apply on
//! a CI runner, which holds only the public keys, add or replace one
//! client's secret without decrypting the others. The client id stays
//! readable: it is an object id, not a secret, and it tells a re-run which
//! client a stored secret belongs to. Storing with recipients also
//! encrypts any clear entry the file still holds, so nothing is left in
//! clear; storing without recipients into a file that holds encrypted
//! secrets is refused (it would mix clear and encrypted secrets).
//!
//! The store may also be a state backend that keeps secrets
//! ([`StateBackend::keeps_secrets`], PostgreSQL): then the secrets go to the
//! table `gcrecon_secrets` beside the workspace's state, and only encrypted
//! secrets are accepted there.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use age::x25519;
use gcrecon_core::{Address, Secret};
use serde::{Deserialize, Serialize};

use crate::backend::StateBackend;
use crate::error::EngineError;
use crate::store::write_atomic;

/// One client's credentials as stored: the secret in clear, or encrypted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum Entry {
    Encrypted {
        client_id: String,
        client_secret_age: String,
    },
    Clear {
        client_id: String,
        client_secret: String,
    },
}

impl Entry {
    fn client_id(&self) -> &str {
        match self {
            Entry::Encrypted { client_id, .. } | Entry::Clear { client_id, .. } => client_id,
        }
    }
}

/// A delivered secret, decrypted (see [`SecretsFile::reveal`]).
#[derive(Clone, Debug)]
pub struct Delivered {
    pub client_id: String,
    pub secret: Secret,
    /// True when it was stored encrypted.
    pub was_encrypted: bool,
}

/// Where secrets are delivered: a local file, or a PostgreSQL table.
#[derive(Clone, Debug)]
pub struct SecretsFile {
    /// The file; for a backend, its address (for messages).
    path: PathBuf,
    /// The backend that keeps the secrets instead of a file.
    database: Option<Arc<dyn StateBackend>>,
    recipients: Arc<Vec<x25519::Recipient>>,
}

const RECIPIENT_HINT: &str = "pass age public keys (`age1...`, the `# public key:` line `age-keygen` prints) with --secrets-recipient or GCRECON_SECRETS_RECIPIENTS (comma-separated)";

/// Parse age recipients (`age1...` public keys). Empty strings are skipped.
/// A string that is not a public key is refused, and an age *identity*
/// (a secret key) given by mistake is never repeated in the message.
pub fn parse_recipients(texts: &[String]) -> Result<Vec<x25519::Recipient>, EngineError> {
    let mut recipients = Vec::new();
    for (n, text) in texts.iter().map(|t| t.trim()).enumerate() {
        if text.is_empty() {
            continue;
        }
        let refuse = |why: String| EngineError::Usage {
            message: format!("secrets recipient #{}: {why}", n + 1),
            hint: Some(RECIPIENT_HINT.into()),
        };
        if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
            return Err(refuse(
                "this is an age identity (a secret key), not a recipient; keep it out of the command line and CI variables, and pass its public key instead".into(),
            ));
        }
        let shown: String = text.chars().take(80).collect();
        let recipient = x25519::Recipient::from_str(text)
            .map_err(|e| refuse(format!("`{shown}` is not an age public key: {e}")))?;
        if !recipients.contains(&recipient) {
            recipients.push(recipient);
        }
    }
    Ok(recipients)
}

/// Read age identities (`AGE-SECRET-KEY-1...` lines; blank lines and `#`
/// comments skipped, as `age-keygen` writes them) from `path`. A line that
/// is not an identity is reported by file:line, without its text.
pub fn read_identities(path: &Path) -> Result<Vec<x25519::Identity>, EngineError> {
    let text = fs::read_to_string(path)
        .map_err(|e| EngineError::io("cannot read the age identity file", path, e))?;
    let mut identities = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = x25519::Identity::from_str(line).map_err(|_| EngineError::Usage {
            message: format!(
                "{}:{}:1: not an age identity (expected a line `AGE-SECRET-KEY-1...`)",
                path.display(),
                n + 1
            ),
            hint: Some(
                "pass the file `age-keygen -o FILE` wrote (with --identity FILE or GCRECON_SECRETS_IDENTITY)"
                    .into(),
            ),
        })?;
        identities.push(identity);
    }
    if identities.is_empty() {
        return Err(EngineError::Usage {
            message: format!("{} holds no age identity", path.display()),
            hint: Some("pass the file `age-keygen -o FILE` wrote".into()),
        });
    }
    Ok(identities)
}

/// Encrypt `plaintext` to every recipient, ASCII-armored.
fn encrypt(recipients: &[x25519::Recipient], plaintext: &str) -> Result<String, EngineError> {
    let failed = |e: String| EngineError::Usage {
        message: format!("cannot encrypt a secret to the age recipients: {e}"),
        hint: Some(RECIPIENT_HINT.into()),
    };
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| failed(e.to_string()))?;
    let mut out = Vec::new();
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| failed(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armored)
        .map_err(|e| failed(e.to_string()))?;
    writer
        .write_all(plaintext.as_bytes())
        .map_err(|e| failed(e.to_string()))?;
    writer
        .finish()
        .and_then(age::armor::ArmoredWriter::finish)
        .map_err(|e| failed(e.to_string()))?;
    String::from_utf8(out).map_err(|e| failed(e.to_string()))
}

/// Decrypt the armored secret of `address` with `identities`.
fn decrypt(
    address: &str,
    armored: &str,
    identities: &[x25519::Identity],
    from: &str,
) -> Result<Secret, EngineError> {
    let failed = |why: String, hint: &str| EngineError::Usage {
        message: format!("cannot decrypt the secret of {address} in {from}: {why}"),
        hint: Some(hint.to_owned()),
    };
    let damaged = "the stored ciphertext is damaged: run `gcrecon rotate ADDR` for a new secret";
    let decryptor =
        age::Decryptor::new_buffered(age::armor::ArmoredReader::new(armored.as_bytes()))
            .map_err(|e| failed(e.to_string(), damaged))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => failed(
                "it was encrypted to other recipients than the given identities".into(),
                "pass the identity whose public key was given to --secrets-recipient when the secret was stored",
            ),
            other => failed(other.to_string(), damaged),
        })?;
    let mut plaintext = String::new();
    reader
        .read_to_string(&mut plaintext)
        .map_err(|e| failed(e.to_string(), damaged))?;
    Ok(Secret::new(plaintext))
}

impl SecretsFile {
    /// Secrets in clear, in the local file at `path` (today's default).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SecretsFile {
            path: path.into(),
            database: None,
            recipients: Arc::new(Vec::new()),
        }
    }

    /// Secrets encrypted to `recipients` (none: in clear, as [`Self::new`]),
    /// in the local file at `path`.
    pub fn with_recipients(path: impl Into<PathBuf>, recipients: Vec<x25519::Recipient>) -> Self {
        SecretsFile {
            path: path.into(),
            database: None,
            recipients: Arc::new(recipients),
        }
    }

    /// Secrets encrypted to `recipients`, kept by `backend` beside the
    /// workspace's state (it must [`StateBackend::keeps_secrets`]). Storing
    /// without recipients is refused.
    pub fn in_backend(backend: Arc<dyn StateBackend>, recipients: Vec<x25519::Recipient>) -> Self {
        SecretsFile {
            path: PathBuf::from(backend.address()),
            database: Some(backend),
            recipients: Arc::new(recipients),
        }
    }

    /// The file's path (for a backend, the state's address).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when secrets are encrypted before they are stored.
    pub fn encrypts(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// Where the secrets go, for messages: the file, or the table and the
    /// database (password redacted).
    pub fn describe(&self) -> String {
        match &self.database {
            Some(b) => format!("the table gcrecon_secrets of {}", b.address()),
            None => self.path.display().to_string(),
        }
    }

    fn db_error(&self, e: &crate::backend::BackendError) -> EngineError {
        let detail = std::error::Error::source(e)
            .map(|s| format!("{e}: {s}"))
            .unwrap_or_else(|| e.to_string());
        EngineError::Usage {
            message: format!("cannot use the secrets store: {detail}"),
            hint: Some("check that the PostgreSQL server is reachable and the user may create and write the table gcrecon_secrets".into()),
        }
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
        if let Some(backend) = &self.database {
            if !self.encrypts() {
                return Err(self.clear_into_database());
            }
            let armored = encrypt(&self.recipients, secret.expose())?;
            return backend
                .store_secret(&address.to_string(), client_id, &armored)
                .map_err(|e| self.db_error(&e));
        }
        let mut all = self.read_all()?;
        let entry = if self.encrypts() {
            // Leave nothing in clear: entries stored before recipients were
            // given are encrypted now too.
            for entry in all.values_mut() {
                if let Entry::Clear {
                    client_id,
                    client_secret,
                } = entry
                {
                    *entry = Entry::Encrypted {
                        client_id: client_id.clone(),
                        client_secret_age: encrypt(&self.recipients, client_secret)?,
                    };
                }
            }
            Entry::Encrypted {
                client_id: client_id.to_owned(),
                client_secret_age: encrypt(&self.recipients, secret.expose())?,
            }
        } else {
            Entry::Clear {
                client_id: client_id.to_owned(),
                client_secret: secret.expose().to_owned(),
            }
        };
        all.insert(address.to_string(), entry);
        let text = serde_json::to_string_pretty(&all).unwrap_or_default() + "\n";
        write_atomic(&self.path, text.as_bytes(), Some(0o600))
            .map_err(|e| EngineError::io("cannot write the secrets file", &self.path, e))
    }

    fn clear_into_database(&self) -> EngineError {
        EngineError::Usage {
            message: format!(
                "refusing to store a client secret in clear in {}",
                self.describe()
            ),
            hint: Some(format!(
                "a shared database never holds a secret in clear: {RECIPIENT_HINT}, or write the secret to a local file with --secrets-out PATH"
            )),
        }
    }

    /// Fails unless the store is missing, empty or usable: checked before
    /// any API change, so a damaged file stops a run before a secret is
    /// issued that could not be written down.
    pub fn check(&self) -> Result<(), EngineError> {
        self.read_all().map(|_| ())
    }

    /// Fails unless [`Self::store`] could store a new secret: beyond
    /// [`Self::check`], a database needs recipients, and a file that holds
    /// encrypted secrets takes no clear one. Checked before any API change
    /// of a run that may deliver a secret.
    pub fn check_can_store(&self) -> Result<(), EngineError> {
        if self.database.is_some() && !self.encrypts() {
            return Err(self.clear_into_database());
        }
        let all = self.read_all()?;
        if !self.encrypts() {
            if let Some((address, _)) = all
                .iter()
                .find(|(_, e)| matches!(e, Entry::Encrypted { .. }))
            {
                return Err(EngineError::Usage {
                    message: format!(
                        "{} holds secrets encrypted to age recipients (e.g. {address}), but no recipient was given; a new secret would be stored in clear beside them",
                        self.describe()
                    ),
                    hint: Some(RECIPIENT_HINT.into()),
                });
            }
        }
        Ok(())
    }

    /// True when no secret is stored.
    pub fn is_empty(&self) -> Result<bool, EngineError> {
        self.read_all().map(|all| all.is_empty())
    }

    /// The client id stored for `address`, if any (readable without an identity).
    pub fn client_id(&self, address: &Address) -> Result<Option<String>, EngineError> {
        Ok(self
            .read_all()?
            .get(&address.to_string())
            .map(|e| e.client_id().to_owned()))
    }

    /// The secret stored in clear for `address`, if any (an encrypted one
    /// needs [`Self::reveal`] and an identity).
    pub fn secret(&self, address: &Address) -> Result<Option<Secret>, EngineError> {
        Ok(match self.read_all()?.get(&address.to_string()) {
            Some(Entry::Clear { client_secret, .. }) => Some(Secret::new(client_secret.clone())),
            _ => None,
        })
    }

    /// Every stored secret (or only that of `only`), decrypted with
    /// `identities` where it is encrypted. An encrypted secret and no
    /// identity, or identities that do not fit, are errors saying so.
    pub fn reveal(
        &self,
        only: Option<&Address>,
        identities: &[x25519::Identity],
    ) -> Result<BTreeMap<String, Delivered>, EngineError> {
        let all = self.read_all()?;
        let from = self.describe();
        let mut out = BTreeMap::new();
        for (address, entry) in all {
            if only.is_some_and(|a| a.to_string() != address) {
                continue;
            }
            let delivered = match entry {
                Entry::Clear {
                    client_id,
                    client_secret,
                } => Delivered {
                    client_id,
                    secret: Secret::new(client_secret),
                    was_encrypted: false,
                },
                Entry::Encrypted {
                    client_id,
                    client_secret_age,
                } => {
                    if identities.is_empty() {
                        return Err(EngineError::Usage {
                            message: format!(
                                "the secret of {address} in {from} is encrypted, and no age identity was given"
                            ),
                            hint: Some("pass the identity file with --identity FILE or GCRECON_SECRETS_IDENTITY".into()),
                        });
                    }
                    Delivered {
                        client_id,
                        secret: decrypt(&address, &client_secret_age, identities, &from)?,
                        was_encrypted: true,
                    }
                }
            };
            out.insert(address, delivered);
        }
        if let Some(a) = only {
            if out.is_empty() {
                return Err(EngineError::Usage {
                    message: format!("{from} holds no secret for {a}"),
                    hint: Some(format!(
                        "`gcrecon secrets show` lists the stored ones; `gcrecon rotate {a}` delivers a new secret"
                    )),
                });
            }
        }
        Ok(out)
    }

    fn read_all(&self) -> Result<BTreeMap<String, Entry>, EngineError> {
        if let Some(backend) = &self.database {
            let rows = backend.load_secrets().map_err(|e| self.db_error(&e))?;
            return Ok(rows
                .into_iter()
                .map(|row| {
                    (
                        row.address,
                        Entry::Encrypted {
                            client_id: row.client_id,
                            client_secret_age: row.armored,
                        },
                    )
                })
                .collect());
        }
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
                all.into_iter()
                    .map(|(address, v)| match serde_json::from_value::<Entry>(v) {
                        Ok(entry) => Ok((address, entry)),
                        Err(_) => Err(refuse(format!(
                            "the entry `{address}` is not {{\"client_id\": \"...\", \"client_secret\": \"...\"}} (or `client_secret_age` for an encrypted secret)"
                        ))),
                    })
                    .collect()
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

    fn key_pair() -> (x25519::Identity, x25519::Recipient) {
        let identity = x25519::Identity::generate();
        let recipient = identity.to_public();
        (identity, recipient)
    }

    #[test]
    fn with_recipients_nothing_is_stored_in_clear() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/x.secrets.json");
        let a: Address = "oauth_client.a".parse().unwrap();
        let b: Address = "oauth_client.b".parse().unwrap();
        // A clear entry from before recipients were given...
        SecretsFile::new(&path)
            .store(&a, "id-a", &Secret::new("clear-secret-a"))
            .unwrap();
        let (id1, r1) = key_pair();
        let (id2, r2) = key_pair();
        let file = SecretsFile::with_recipients(&path, vec![r1, r2]);
        file.check_can_store().unwrap();
        file.store(&b, "id-b", &Secret::new("new-secret-b"))
            .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        // ...is encrypted by the next store with recipients.
        assert!(!text.contains("clear-secret-a"), "{text}");
        assert!(!text.contains("new-secret-b"), "{text}");
        assert!(text.contains("BEGIN AGE ENCRYPTED FILE"), "{text}");
        assert_eq!(file.client_id(&b).unwrap().as_deref(), Some("id-b"));
        assert!(file.secret(&b).unwrap().is_none());
        // Either recipient's identity decrypts.
        for identity in [id1, id2] {
            let all = file.reveal(None, std::slice::from_ref(&identity)).unwrap();
            assert_eq!(all["oauth_client.a"].secret.expose(), "clear-secret-a");
            assert_eq!(all["oauth_client.b"].secret.expose(), "new-secret-b");
            assert!(all["oauth_client.b"].was_encrypted);
        }
        let only = file.reveal(Some(&b), &[key_pair().0]);
        let err = only.unwrap_err().to_string();
        assert!(
            err.contains("oauth_client.b") && err.contains("other recipients"),
            "{err}"
        );
        let err = file.reveal(None, &[]).unwrap_err().to_string();
        assert!(err.contains("no age identity was given"), "{err}");
        // Without recipients now, a clear secret would sit beside them: refused.
        let clear = SecretsFile::new(&path);
        clear.check().unwrap();
        let err = clear.check_can_store().unwrap_err().to_string();
        assert!(err.contains("no recipient was given"), "{err}");
    }

    #[test]
    fn recipients_and_identities_are_checked() {
        let (identity, recipient) = key_pair();
        let parsed = parse_recipients(&[format!(" {recipient} "), String::new()]).unwrap();
        assert_eq!(parsed, vec![recipient.clone()]);
        let err = parse_recipients(&["age1nope".into()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("`age1nope` is not an age public key"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("--secrets-recipient"));
        use age::secrecy::ExposeSecret;
        let secret_key = identity.to_string().expose_secret().to_owned();
        let err = parse_recipients(std::slice::from_ref(&secret_key))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("age identity") && !err.contains(&secret_key),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.txt");
        fs::write(
            &path,
            format!("# created: now\n# public key: {recipient}\n{secret_key}\n"),
        )
        .unwrap();
        assert_eq!(read_identities(&path).map(|i| i.len()).ok(), Some(1));
        fs::write(&path, "# comment\nnot-a-key\n").unwrap();
        let err = read_identities(&path).err().unwrap().to_string();
        assert!(
            err.ends_with(
                "key.txt:2:1: not an age identity (expected a line `AGE-SECRET-KEY-1...`)"
            ),
            "{err}"
        );
        let err = read_identities(&dir.path().join("missing"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cannot read the age identity file"), "{err}");
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
