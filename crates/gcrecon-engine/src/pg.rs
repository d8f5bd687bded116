//! The `postgres://` state backend: every state (one row per serial, keyed
//! by workspace) and every lock live in PostgreSQL, so many CI runners and
//! many organizations share one store safely.
//!
//! Schema (created if missing, under an advisory lock so concurrent first
//! runs do not race):
//!
//! - `gcrecon_states(workspace, serial, lineage, state jsonb, written_at)`,
//!   primary key `(workspace, serial)`: each write inserts the next serial,
//!   so the history stays; reading takes the highest serial. The insert is
//!   the compare-and-swap: a duplicate key means another writer got there
//!   first, and the write is refused ("the state changed underneath").
//! - `gcrecon_locks(workspace primary key, info jsonb)`: taking the lock is
//!   an insert, releasing it a delete of the row with our lock id.
//! - `gcrecon_secrets(workspace, address, client_id, armored, written_at)`,
//!   primary key `(workspace, address)`: OAuth client secrets encrypted to
//!   age recipients (`--secrets-recipient`), one row per client, replaced
//!   on rotation. Only ASCII-armored age ciphertext is ever stored here;
//!   [`crate::secrets`] refuses to store a clear secret in a database.
//!
//! The rest of the engine and the CLI name a state by a path. A PostgreSQL
//! state is named by an *address* that looks like one:
//! `postgres://user:***@host/db#<key>` ([`register`] makes it). The
//! password never appears in it: the real URL stays in a process-wide
//! registry keyed by the redacted one, so every message that shows the
//! address shows `***`.
//!
//! Threading: [`crate::StateStore::write`] is synchronous and is called on
//! tokio runtime threads (inside `apply`), also from current-thread runtimes
//! in tests. The blocking `postgres::Client` starts a runtime of its own and
//! panics on a runtime thread, and `block_in_place` panics on a
//! current-thread runtime. So each database URL gets one dedicated OS
//! thread that owns the client (no runtime context there) and runs jobs
//! sent over a channel; callers block on the reply, as they would on the
//! local backend's fsync. No TLS: connections use `NoTls` (loopback or a
//! trusted network only, for now).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};

/// The schemes of a PostgreSQL backend URL.
const SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

/// True when `backend` (a `--backend` value) names PostgreSQL.
pub fn is_postgres_url(backend: &str) -> bool {
    SCHEMES.iter().any(|s| backend.starts_with(s))
}

/// `url` with any password replaced by `***`: the one in the user info
/// (`user:secret@host`) and a `password=` query parameter.
pub fn redact(url: &str) -> String {
    let Some(scheme) = SCHEMES.iter().find(|s| url.starts_with(*s)) else {
        return url.to_owned();
    };
    let rest = &url[scheme.len()..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (user_info, host) = authority.split_at(at);
            match user_info.split_once(':') {
                Some((user, _)) => format!("{user}:***{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

/// Make `url` usable for this process and return the address of the state
/// `key` in it (what the engine takes as a state path). The URL is checked
/// but not connected to; errors never show the password.
pub fn register(url: &str, key: &str) -> Result<PathBuf, String> {
    let redacted = redact(url);
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e| format!("{redacted} is not a usable PostgreSQL URL: {e}"))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(15));
    }
    let mut registry = registry().lock().unwrap_or_else(|p| p.into_inner());
    registry
        .entry(redacted.clone())
        .or_insert_with(|| Arc::new(Database::new(config, redacted.clone())));
    Ok(PathBuf::from(format!("{redacted}#{key}")))
}

/// A state in a PostgreSQL store: the database and the row key.
#[derive(Clone)]
pub struct PgTarget {
    db: Arc<Database>,
    /// The `workspace` column.
    pub key: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgTarget({}#{})", self.db.redacted, self.key)
    }
}

/// The PostgreSQL state an address names, if it names one. An address of
/// a database not [`register`]ed in this process is registered as it is
/// (it holds no password, so connecting may then fail, with a clear error).
pub fn target(path: &Path) -> Option<Result<PgTarget, String>> {
    let text = path.to_str()?;
    if !is_postgres_url(text) {
        return None;
    }
    let Some((url, key)) = text.split_once('#') else {
        return Some(Err(format!(
            "{} names no workspace (expected `URL#name/workspace`)",
            redact(text)
        )));
    };
    let known = registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(url)
        .cloned();
    let db = match known {
        Some(db) => db,
        None => {
            if let Err(e) = register(url, key) {
                return Some(Err(e));
            }
            registry()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&redact(url))
                .cloned()?
        }
    };
    Some(Ok(PgTarget {
        db,
        key: key.to_owned(),
    }))
}

/// Why inserting a state row failed.
#[derive(Debug)]
pub enum InsertError {
    /// The serial exists already: another writer wrote first.
    Conflict,
    Other(String),
}

impl PgTarget {
    /// The redacted address, for messages.
    pub fn address(&self) -> String {
        format!("{}#{}", self.db.redacted, self.key)
    }

    /// The JSON text of the highest serial, if there is one.
    pub fn read_latest(&self) -> Result<Option<String>, String> {
        let key = self.key.clone();
        self.db.run(move |c| {
            let row = c.query_opt(
                "SELECT state::text FROM gcrecon_states WHERE workspace = $1 ORDER BY serial DESC LIMIT 1",
                &[&key],
            )?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })
    }

    /// Insert serial `serial` (compare-and-swap: fails with
    /// [`InsertError::Conflict`] when it exists).
    pub fn insert(&self, serial: u64, lineage: &str, json: String) -> Result<(), InsertError> {
        let key = self.key.clone();
        let lineage = lineage.to_owned();
        let serial = i64::try_from(serial).map_err(|e| InsertError::Other(e.to_string()))?;
        let outcome = self.db.run(move |c| {
            match c.execute(
                "INSERT INTO gcrecon_states (workspace, serial, lineage, state, written_at) \
                 VALUES ($1, $2, $3, $4::text::jsonb, now())",
                &[&key, &serial, &lineage, &json],
            ) {
                Ok(_) => Ok(Ok(())),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Err(())),
                Err(e) => Err(e),
            }
        });
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(())) => Err(InsertError::Conflict),
            Err(e) => Err(InsertError::Other(e)),
        }
    }

    /// Insert the lock row; false when a lock is held already.
    pub fn try_lock(&self, info_json: String) -> Result<bool, String> {
        let key = self.key.clone();
        self.db.run(move |c| {
            let n = c.execute(
                "INSERT INTO gcrecon_locks (workspace, info) VALUES ($1, $2::text::jsonb) \
                 ON CONFLICT (workspace) DO NOTHING",
                &[&key, &info_json],
            )?;
            Ok(n == 1)
        })
    }

    /// The lock row's JSON text, if locked.
    pub fn read_lock(&self) -> Result<Option<String>, String> {
        let key = self.key.clone();
        self.db.run(move |c| {
            let row = c.query_opt(
                "SELECT info::text FROM gcrecon_locks WHERE workspace = $1",
                &[&key],
            )?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })
    }

    /// Store (or replace) the encrypted secret of the client at `address`.
    /// `armored` must be age ciphertext: the caller encrypts.
    pub fn upsert_secret(
        &self,
        address: &str,
        client_id: &str,
        armored: &str,
    ) -> Result<(), String> {
        let key = self.key.clone();
        let (address, client_id, armored) =
            (address.to_owned(), client_id.to_owned(), armored.to_owned());
        self.db.run(move |c| {
            c.execute(
                "INSERT INTO gcrecon_secrets (workspace, address, client_id, armored, written_at) \
                 VALUES ($1, $2, $3, $4, now()) \
                 ON CONFLICT (workspace, address) DO UPDATE \
                 SET client_id = EXCLUDED.client_id, armored = EXCLUDED.armored, written_at = now()",
                &[&key, &address, &client_id, &armored],
            )?;
            Ok(())
        })
    }

    /// Every stored secret of this workspace: (address, client id, armored).
    pub fn read_secrets(&self) -> Result<Vec<(String, String, String)>, String> {
        let key = self.key.clone();
        self.db.run(move |c| {
            let rows = c.query(
                "SELECT address, client_id, armored FROM gcrecon_secrets WHERE workspace = $1 ORDER BY address",
                &[&key],
            )?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })
    }

    /// Delete the lock row if its id is `id`; true when one was deleted.
    pub fn unlock_if_id(&self, id: &str) -> Result<bool, String> {
        let key = self.key.clone();
        let id = id.to_owned();
        self.db.run(move |c| {
            let n = c.execute(
                "DELETE FROM gcrecon_locks WHERE workspace = $1 AND info->>'id' = $2",
                &[&key, &id],
            )?;
            Ok(n > 0)
        })
    }
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Database>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Database>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// One database: its worker thread, started on first use.
struct Database {
    redacted: String,
    config: postgres::Config,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

/// The worker thread's connection, opened (and the schema created) on
/// first use, and again after it broke.
struct Connection {
    config: postgres::Config,
    client: Option<Client>,
}

const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7314420001);
CREATE TABLE IF NOT EXISTS gcrecon_states (
    workspace text NOT NULL,
    serial bigint NOT NULL,
    lineage text NOT NULL,
    state jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, serial)
);
CREATE TABLE IF NOT EXISTS gcrecon_locks (
    workspace text PRIMARY KEY,
    info jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS gcrecon_secrets (
    workspace text NOT NULL,
    address text NOT NULL,
    client_id text NOT NULL,
    armored text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace, address)
);
";

impl Connection {
    fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let mut client = self.config.connect(NoTls)?;
            let mut tx = client.transaction()?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }
}

impl Database {
    fn new(config: postgres::Config, redacted: String) -> Self {
        Database {
            redacted,
            config,
            jobs: Mutex::new(None),
        }
    }

    fn sender(&self) -> Result<mpsc::Sender<Job>, String> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = jobs.as_ref() {
            return Ok(tx.clone());
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let mut conn = Connection {
            config: self.config.clone(),
            client: None,
        };
        std::thread::Builder::new()
            .name("gcrecon-postgres".into())
            .spawn(move || {
                for job in rx {
                    job(&mut conn);
                }
            })
            .map_err(|e| format!("cannot start the PostgreSQL thread: {e}"))?;
        *jobs = Some(tx.clone());
        Ok(tx)
    }

    /// Run `f` on the worker's connection and wait for its result. Errors
    /// name the database by its redacted URL.
    fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, String> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn: &mut Connection| {
            let result = conn.client().and_then(f);
            if result.is_err() {
                // Reconnect next time rather than reuse a connection in an
                // unknown state (e.g. an aborted transaction).
                if conn.client.as_ref().is_some_and(Client::is_closed) {
                    conn.client = None;
                }
            }
            let _ = reply_tx.send(result);
        });
        let broken = || {
            format!(
                "PostgreSQL at {}: the connection thread stopped",
                self.redacted
            )
        };
        self.sender()?.send(job).map_err(|_| broken())?;
        match reply_rx.recv() {
            Ok(result) => result.map_err(|e| describe(&self.redacted, &e)),
            Err(_) => Err(broken()),
        }
    }
}

/// A PostgreSQL error with its cause, naming the database by `redacted`.
fn describe(redacted: &str, e: &postgres::Error) -> String {
    let mut text = format!("PostgreSQL at {redacted}: {e}");
    if let Some(db) = e.as_db_error() {
        if !text.contains(db.message()) {
            text.push_str(&format!(": {}", db.message()));
        }
    } else if let Some(source) = std::error::Error::source(e) {
        let source = source.to_string();
        if !text.contains(&source) {
            text.push_str(&format!(": {source}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:s3cret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact("postgresql://u:p@ss@h/db?sslmode=disable&password=x"),
            "postgresql://u:***@h/db?sslmode=disable&password=***"
        );
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn addresses_carry_the_redacted_url_and_the_key() {
        let path = register("postgres://u:s3cret@127.0.0.1:1/db", "m/prod").unwrap();
        assert_eq!(path, Path::new("postgres://u:***@127.0.0.1:1/db#m/prod"));
        let t = target(&path).unwrap().unwrap();
        assert_eq!(t.key, "m/prod");
        assert_eq!(t.address(), "postgres://u:***@127.0.0.1:1/db#m/prod");
        assert!(target(Path::new("state/x.gcstate.json")).is_none());
        let err = register("postgres://u:s3cret@h:notaport/db", "k").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
