//! The PostgreSQL backend: every state (one row per serial, keyed by
//! `<manifest name>/<workspace>`) and every lock live in one database, so
//! many CI runners and many organizations share one store safely.
//!
//! Schema (created if missing, under an advisory lock so concurrent first
//! runs do not race):
//!
//! - `gcrecon_states(workspace, serial, lineage, state jsonb, written_at,
//!   who, command)`, primary key `(workspace, serial)`: each write inserts
//!   the next serial, so the history stays; reading takes the highest
//!   serial. The insert is the compare-and-swap: a duplicate key (or a
//!   higher serial stored) means another writer got there first, and the
//!   write is refused ("the state changed underneath").
//! - `gcrecon_locks(workspace primary key, info jsonb)`: taking the lock is
//!   an insert, releasing it a delete of the row with our lock id.
//! - `gcrecon_secrets(workspace, address, client_id, armored, written_at)`,
//!   primary key `(workspace, address)`: OAuth client secrets encrypted to
//!   age recipients (`--secrets-recipient`), one row per client, replaced
//!   when the client's secret is delivered again; never part of the state
//!   rows. [`crate::SecretsFile`] refuses to store a clear secret here.
//!
//! Beside the lock row the holder takes a session-level advisory lock
//! (`pg_try_advisory_lock`, keyed by a hash of the workspace key) on its
//! connection and records its session in the row. PostgreSQL releases an
//! advisory lock when its session ends, so a holder killed on any machine
//! frees it with its connection: the next run finds a row whose session's
//! advisory lock is free, breaks it, and says so. A row without a session
//! (written by hand, or by an older gcrecon) is broken only when its
//! holder is provably gone (same host, process not alive).
//!
//! Threading: [`crate::StateStore::write`] is synchronous and is called on
//! tokio runtime threads (inside `apply`), also from current-thread runtimes
//! in tests. The blocking `postgres::Client` starts a runtime of its own and
//! panics on a runtime thread, and `block_in_place` panics on a
//! current-thread runtime. So each backend has one dedicated OS thread that
//! owns the connection (no runtime context there) and runs jobs sent over a
//! channel; callers block on the reply, as they would on the local
//! backend's fsync. The advisory lock lives on that connection; when the
//! connection breaks and is opened again, the advisory locks this process
//! held are taken again on the new one.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use gcrecon_core::state::State;
use postgres::error::SqlState;
use postgres::Client;
use sha2::Digest;

use super::tls::TlsSettings;
use super::{
    BackendError, DatabaseError, HistoryEntry, LockAttempt, StateBackend, StoredSecret,
    WorkspaceEntry,
};
use crate::lock::{holder_is_gone, LockError, LockInfo};

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

/// One workspace of one manifest in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresBackend {
    db: Database,
    /// The redacted URL and `#<key>`.
    address: String,
    /// The row key: `<manifest name>/<workspace>`.
    key: String,
    /// `<manifest name>/`: the keys of the manifest's workspaces.
    prefix: String,
    /// The lock this process holds, to record who wrote each serial.
    holding: Mutex<Option<LockInfo>>,
}

impl PostgresBackend {
    /// The backend of `workspace` of `manifest_name` in the database at
    /// `url`. The URL is checked (TLS settings included) but not connected
    /// to; errors never show the password.
    pub fn connect(
        url: &str,
        manifest_name: &str,
        workspace: &str,
    ) -> Result<PostgresBackend, BackendError> {
        let redacted = redact(url);
        let bad = |detail: String| BackendError::BadUrl {
            address: redacted.clone(),
            detail,
        };
        let (plain, tls) = super::tls::split_url(url).map_err(bad)?;
        let mut config: postgres::Config = plain.parse().map_err(|e| bad(format!("{e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(15));
        }
        config.ssl_mode(tls.postgres_mode());
        // Build the connector now: a missing sslrootcert is a usage error,
        // not a connection failure on first use.
        tls.connector().map_err(bad)?;
        let key = format!("{manifest_name}/{}", super::workspace_name(workspace));
        Ok(PostgresBackend {
            address: format!("{redacted}#{key}"),
            db: Database::new(config, tls, redacted),
            prefix: format!("{manifest_name}/"),
            key,
            holding: Mutex::new(None),
        })
    }

    /// The row key, `<manifest name>/<workspace>`.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn lock_error(&self, action: &'static str, detail: String) -> LockError {
        LockError::Backend {
            action,
            address: self.address.clone(),
            detail: DatabaseError(detail),
        }
    }

    fn database_error(&self, action: &'static str, detail: String) -> BackendError {
        BackendError::Database {
            action,
            address: self.address.clone(),
            source: DatabaseError(detail),
        }
    }

    /// One attempt at the lock, on the worker's connection.
    fn lock_once(&self, info: &LockInfo) -> Result<Attempt, LockError> {
        let key = self.key.clone();
        let advisory = advisory_key(&self.key);
        let mut mine = info.clone();
        self.db
            .run(move |conn| {
                // This process holds it already (the advisory lock is
                // re-entrant within a session): a second lock is refused,
                // as another process's would be.
                let ours = conn.advisory.contains(&advisory);
                let client = conn.client()?;
                let got: bool = !ours
                    && client
                        .query_one("SELECT pg_try_advisory_lock($1)", &[&advisory])?
                        .get(0);
                let row = match read_lock_row(client, &key)? {
                    Some(Ok(holder)) => Some(holder),
                    Some(Err(detail)) => {
                        if got {
                            client.query_one("SELECT pg_advisory_unlock($1)", &[&advisory])?;
                        }
                        return Ok(Attempt::Unreadable(detail));
                    }
                    None => None,
                };
                if !got {
                    return Ok(match row {
                        Some(holder) => Attempt::Held(holder),
                        None => Attempt::SessionBusy,
                    });
                }
                let session: i32 = client.query_one("SELECT pg_backend_pid()", &[])?.get(0);
                mine.session = Some(session);
                let broke = match row {
                    // Its session's advisory lock was free: the holder died.
                    Some(holder) if holder.session.is_some() => {
                        client.execute(
                            "DELETE FROM gcrecon_locks WHERE workspace = $1 AND info->>'id' = $2",
                            &[&key, &holder.id],
                        )?;
                        Some(holder)
                    }
                    Some(holder) => {
                        client.query_one("SELECT pg_advisory_unlock($1)", &[&advisory])?;
                        return Ok(Attempt::Held(holder));
                    }
                    None => None,
                };
                let text = serde_json::to_string(&mine).unwrap_or_default();
                let inserted = client.execute(
                    "INSERT INTO gcrecon_locks (workspace, info) VALUES ($1, $2::text::jsonb) \
                     ON CONFLICT (workspace) DO NOTHING",
                    &[&key, &text],
                )?;
                if inserted == 0 {
                    client.query_one("SELECT pg_advisory_unlock($1)", &[&advisory])?;
                    return Ok(Attempt::SessionBusy);
                }
                conn.advisory.insert(advisory);
                Ok(Attempt::Taken(Box::new(mine), broke))
            })
            .map_err(|e| self.lock_error("take", e))
    }

    fn delete_lock(&self, id: &str) -> Result<bool, LockError> {
        let key = self.key.clone();
        let id = id.to_owned();
        self.db
            .run(move |conn| {
                let n = conn.client()?.execute(
                    "DELETE FROM gcrecon_locks WHERE workspace = $1 AND info->>'id' = $2",
                    &[&key, &id],
                )?;
                Ok(n > 0)
            })
            .map_err(|e| self.lock_error("remove", e))
    }
}

/// What one attempt at the lock found.
enum Attempt {
    Taken(Box<LockInfo>, Option<LockInfo>),
    Held(LockInfo),
    /// The advisory lock is held but no row is there (yet).
    SessionBusy,
    /// The lock row is not a lock's JSON.
    Unreadable(String),
}

/// The advisory lock key of a workspace key: the first 8 bytes of its SHA-256.
fn advisory_key(key: &str) -> i64 {
    let digest = sha2::Sha256::digest(format!("gcrecon-lock:{key}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The lock row of `key`: its holder, or why its JSON is not a lock's.
fn read_lock_row(
    client: &mut Client,
    key: &str,
) -> Result<Option<Result<LockInfo, String>>, postgres::Error> {
    let row = client.query_opt(
        "SELECT info::text FROM gcrecon_locks WHERE workspace = $1",
        &[&key],
    )?;
    Ok(row.map(|r| serde_json::from_str(&r.get::<_, String>(0)).map_err(|e| e.to_string())))
}

const TIME_TEXT: &str = "to_char(written_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

impl StateBackend for PostgresBackend {
    fn address(&self) -> &str {
        &self.address
    }

    fn load(&self) -> Result<Option<State>, BackendError> {
        let key = self.key.clone();
        let text = self
            .db
            .run(move |conn| {
                let row = conn.client()?.query_opt(
                    "SELECT state::text FROM gcrecon_states WHERE workspace = $1 ORDER BY serial DESC LIMIT 1",
                    &[&key],
                )?;
                Ok(row.map(|r| r.get::<_, String>(0)))
            })
            .map_err(|e| self.database_error("cannot read the state at", e))?;
        text.map(|t| {
            State::from_json(&t).map_err(|source| BackendError::Format {
                address: self.address.clone(),
                source,
            })
        })
        .transpose()
    }

    fn save(&self, state: &State) -> Result<(), BackendError> {
        let conflict = || BackendError::Conflict {
            address: self.address.clone(),
            serial: state.serial,
        };
        let serial = i64::try_from(state.serial).map_err(|_| conflict())?;
        let (who, command) = match &*self.holding.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(info) => (info.who.clone(), info.operation.clone()),
            None => (
                format!("{}@{}", crate::lock::user_name(), crate::lock::host_name()),
                String::new(),
            ),
        };
        let key = self.key.clone();
        let lineage = state.lineage.clone();
        let json = state.to_json();
        let inserted = self
            .db
            .run(move |conn| {
                let outcome = conn.client()?.execute(
                    "INSERT INTO gcrecon_states (workspace, serial, lineage, state, written_at, who, command) \
                     SELECT $1, $2, $3, $4::text::jsonb, now(), $5, NULLIF($6, '') \
                     WHERE NOT EXISTS (SELECT 1 FROM gcrecon_states WHERE workspace = $1 AND serial >= $2)",
                    &[&key, &serial, &lineage, &json, &who, &command],
                );
                match outcome {
                    Ok(n) => Ok(n == 1),
                    Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            })
            .map_err(|e| self.database_error("cannot write the state to", e))?;
        if inserted {
            Ok(())
        } else {
            Err(conflict())
        }
    }

    fn try_lock(&self, info: &LockInfo) -> Result<LockAttempt, LockError> {
        let mut broke_stale = None;
        let mut wait = Duration::from_millis(50);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match self.lock_once(info)? {
                Attempt::Taken(mine, broke) => {
                    *self.holding.lock().unwrap_or_else(|p| p.into_inner()) = Some(*mine);
                    return Ok(LockAttempt::Taken {
                        broke_stale: broke.or(broke_stale),
                    });
                }
                Attempt::Held(holder) => {
                    if broke_stale.is_none() && holder.session.is_none() && holder_is_gone(&holder)
                    {
                        // A row without a session whose process is gone.
                        self.delete_lock(&holder.id)?;
                        broke_stale = Some(holder);
                        continue;
                    }
                    // A holder that died on this host may still have a
                    // session until the server notices the dropped
                    // connection: give it a few seconds.
                    if holder.session.is_some()
                        && holder_is_gone(&holder)
                        && std::time::Instant::now() < deadline
                    {
                        std::thread::sleep(wait);
                        wait = (wait * 2).min(Duration::from_millis(500));
                        continue;
                    }
                    return Ok(LockAttempt::Held(holder));
                }
                Attempt::Unreadable(detail) => {
                    return Err(LockError::Unreadable {
                        path: self.address.clone().into(),
                        detail,
                    })
                }
                Attempt::SessionBusy => {
                    // Between another run's advisory lock and its row.
                    if std::time::Instant::now() >= deadline {
                        return Err(LockError::SessionHeld {
                            address: self.address.clone(),
                        });
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    fn unlock(&self, id: &str) -> Result<(), LockError> {
        // A lock row left behind blocks every runner, and one on another
        // host needs `force-unlock`: when the database is unreachable
        // (restarting, a dropped connection), try again for a few seconds
        // before giving up.
        let advisory = advisory_key(&self.key);
        let key = self.key.clone();
        let id_owned = id.to_owned();
        let mut wait = Duration::from_millis(100);
        loop {
            let (key, id) = (key.clone(), id_owned.clone());
            let outcome = self.db.run(move |conn| {
                let client = conn.client()?;
                let n = client.execute(
                    "DELETE FROM gcrecon_locks WHERE workspace = $1 AND info->>'id' = $2",
                    &[&key, &id],
                )?;
                if conn.advisory.remove(&advisory) {
                    // Ours on this connection (after a reconnection it may
                    // not be: then there is nothing to release).
                    conn.client()?
                        .query_one("SELECT pg_advisory_unlock($1)", &[&advisory])?;
                }
                Ok(n)
            });
            match outcome {
                Ok(_) => {
                    let mut holding = self.holding.lock().unwrap_or_else(|p| p.into_inner());
                    if holding.as_ref().is_some_and(|h| h.id == id_owned) {
                        *holding = None;
                    }
                    return Ok(());
                }
                Err(e) if wait > Duration::from_secs(2) => return Err(self.lock_error("remove", e)),
                Err(_) => {
                    std::thread::sleep(wait);
                    wait *= 2;
                }
            }
        }
    }

    fn lock_holder(&self) -> Result<Option<LockInfo>, LockError> {
        let key = self.key.clone();
        let text = self
            .db
            .run(move |conn| {
                let row = conn.client()?.query_opt(
                    "SELECT info::text FROM gcrecon_locks WHERE workspace = $1",
                    &[&key],
                )?;
                Ok(row.map(|r| r.get::<_, String>(0)))
            })
            .map_err(|e| self.lock_error("read", e))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| LockError::Unreadable {
                path: self.address.clone().into(),
                detail: e.to_string(),
            })
        })
        .transpose()
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, LockError> {
        let Some(holder) = self.lock_holder()? else {
            return Err(LockError::NotLocked {
                address: self.address.clone(),
            });
        };
        if holder.id != id {
            return Err(LockError::IdMismatch {
                given: id.to_owned(),
                found: holder,
            });
        }
        self.delete_lock(id)?;
        Ok(holder)
    }

    fn history(&self) -> Result<Vec<HistoryEntry>, BackendError> {
        let key = self.key.clone();
        self.db
            .run(move |conn| {
                let rows = conn.client()?.query(
                    &format!(
                        "SELECT serial, {TIME_TEXT}, who, command FROM gcrecon_states \
                         WHERE workspace = $1 ORDER BY serial"
                    ),
                    &[&key],
                )?;
                Ok(rows
                    .iter()
                    .map(|r| HistoryEntry {
                        serial: u64::try_from(r.get::<_, i64>(0)).unwrap_or_default(),
                        written_at: r.get(1),
                        who: r.get(2),
                        command: r.get(3),
                    })
                    .collect())
            })
            .map_err(|e| self.database_error("cannot read the history of", e))
    }

    fn keeps_secrets(&self) -> bool {
        true
    }

    fn store_secret(
        &self,
        address: &str,
        client_id: &str,
        armored: &str,
    ) -> Result<(), BackendError> {
        let key = self.key.clone();
        let (address, client_id, armored) =
            (address.to_owned(), client_id.to_owned(), armored.to_owned());
        self.db
            .run(move |conn| {
                conn.client()?.execute(
                    "INSERT INTO gcrecon_secrets (workspace, address, client_id, armored, written_at) \
                     VALUES ($1, $2, $3, $4, now()) \
                     ON CONFLICT (workspace, address) DO UPDATE \
                     SET client_id = EXCLUDED.client_id, armored = EXCLUDED.armored, written_at = now()",
                    &[&key, &address, &client_id, &armored],
                )?;
                Ok(())
            })
            .map_err(|e| self.database_error("cannot write the secrets of", e))
    }

    fn load_secrets(&self) -> Result<Vec<StoredSecret>, BackendError> {
        let key = self.key.clone();
        self.db
            .run(move |conn| {
                let rows = conn.client()?.query(
                    "SELECT address, client_id, armored FROM gcrecon_secrets WHERE workspace = $1 ORDER BY address",
                    &[&key],
                )?;
                Ok(rows
                    .iter()
                    .map(|r| StoredSecret {
                        address: r.get(0),
                        client_id: r.get(1),
                        armored: r.get(2),
                    })
                    .collect())
            })
            .map_err(|e| self.database_error("cannot read the secrets of", e))
    }

    fn workspaces(&self) -> Result<Vec<WorkspaceEntry>, BackendError> {
        let prefix = self.prefix.clone();
        self.db
            .run(move |conn| {
                let rows = conn.client()?.query(
                    &format!(
                        "SELECT DISTINCT ON (workspace) workspace, serial, {TIME_TEXT} \
                         FROM gcrecon_states WHERE left(workspace, length($1)) = $1 \
                         ORDER BY workspace, serial DESC"
                    ),
                    &[&prefix],
                )?;
                Ok(rows
                    .iter()
                    .map(|r| WorkspaceEntry {
                        name: r.get::<_, String>(0)[prefix.len()..].to_owned(),
                        serial: u64::try_from(r.get::<_, i64>(1)).unwrap_or_default(),
                        written_at: r.get(2),
                    })
                    .collect())
            })
            .map_err(|e| self.database_error("cannot list the workspaces in", e))
    }
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The database: its worker thread, started on first use.
struct Database {
    redacted: String,
    config: postgres::Config,
    tls: TlsSettings,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({})", self.redacted)
    }
}

/// The worker thread's connection, opened (and the schema created) on
/// first use, and again after it broke.
struct Connection {
    config: postgres::Config,
    tls: TlsSettings,
    client: Option<Client>,
    /// The advisory locks this process holds (taken again on a new connection).
    advisory: BTreeSet<i64>,
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
ALTER TABLE gcrecon_states ADD COLUMN IF NOT EXISTS who text;
ALTER TABLE gcrecon_states ADD COLUMN IF NOT EXISTS command text;
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

/// Why the worker could not do a job.
enum JobError {
    Postgres(postgres::Error),
    Tls(String),
}

impl From<postgres::Error> for JobError {
    fn from(e: postgres::Error) -> Self {
        JobError::Postgres(e)
    }
}

impl Connection {
    fn client(&mut self) -> Result<&mut Client, JobError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let mut client = match self.tls.postgres_mode() {
                postgres::config::SslMode::Disable => self.config.connect(postgres::NoTls)?,
                _ => {
                    let connector = self.tls.connector().map_err(JobError::Tls)?;
                    self.config.connect(connector)?
                }
            };
            let mut tx = client.transaction()?;
            tx.batch_execute(SCHEMA)?;
            tx.commit()?;
            // The advisory locks of the broken connection went with it.
            for key in &self.advisory {
                client.query_one("SELECT pg_try_advisory_lock($1)", &[key])?;
            }
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }
}

impl Database {
    fn new(config: postgres::Config, tls: TlsSettings, redacted: String) -> Self {
        Database {
            redacted,
            config,
            tls,
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
            tls: self.tls.clone(),
            client: None,
            advisory: BTreeSet::new(),
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
        f: impl FnOnce(&mut Connection) -> Result<R, JobError> + Send + 'static,
    ) -> Result<R, String> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn: &mut Connection| {
            let result = f(conn);
            if result.is_err() && conn.client.as_ref().is_some_and(Client::is_closed) {
                // Reconnect next time rather than reuse a broken connection.
                conn.client = None;
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
            Ok(result) => result.map_err(|e| match e {
                JobError::Postgres(e) => describe(&self.redacted, &e),
                JobError::Tls(detail) => format!("PostgreSQL at {}: {detail}", self.redacted),
            }),
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
        let b =
            PostgresBackend::connect("postgres://u:s3cret@127.0.0.1:1/db", "m", "prod").unwrap();
        assert_eq!(b.key(), "m/prod");
        assert_eq!(b.address(), "postgres://u:***@127.0.0.1:1/db#m/prod");
        let b = PostgresBackend::connect("postgres://u:s3cret@127.0.0.1:1/db", "m", " ").unwrap();
        assert_eq!(b.key(), "m/default");
        let err =
            PostgresBackend::connect("postgres://u:s3cret@h:notaport/db", "m", "k").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let err = PostgresBackend::connect(
            "postgres://u:s3cret@h/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
            "m",
            "k",
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent.pem"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn advisory_keys_differ_per_workspace_and_are_stable() {
        assert_eq!(advisory_key("m/a"), advisory_key("m/a"));
        assert_ne!(advisory_key("m/a"), advisory_key("m/b"));
    }
}
