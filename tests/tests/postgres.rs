//! End-to-end tests of the `postgres://` state backend: the real `gcrecon`
//! against a real `gcsim` and a real PostgreSQL server.
//!
//! They are `#[ignore]`d, so `cargo test` lists them as ignored rather than
//! passing them in no time. `GCRECON_TEST_POSTGRES_URL` names a database the
//! tests may create tables in; `.ci/run` starts a throwaway server, sets it
//! and runs them with `cargo test -p gcrecon-e2e --test postgres --
//! --ignored`. Run that way without the variable, they fail.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use test_support::Sim;

const FIXTURE: &str = r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "NAME"

[division.support]
name = "Support"
description = "first line"

[group.ops]
name = "Ops"
description = "operators"
"#;

/// The database URL; a test that runs without one fails.
fn database_url() -> String {
    match std::env::var("GCRECON_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "set GCRECON_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/DB to run the postgres backend tests (.ci/run starts a throwaway server and sets it)"
        ),
    }
}

struct Setup {
    sim: Sim,
    /// A second organization, for workspace `b`.
    other: Sim,
    dir: tempfile::TempDir,
    url: String,
    /// The manifest's name, unique per run: the database may be shared.
    name: String,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Setup {
    fn new(url: String) -> Setup {
        let sim = Sim::builder().fixture_toml(FIXTURE).start();
        let other = Sim::builder().fixture_toml(FIXTURE).start();
        let dir = test_support::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("pgtest-{}-{nanos}", std::process::id());
        std::fs::write(
            dir.path().join("gcrecon.toml"),
            MANIFEST.replace("NAME", &name),
        )
        .unwrap();
        Setup {
            sim,
            other,
            dir,
            url,
            name,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Run gcrecon against `sim` with `GCRECON_BACKEND` = `backend`.
    fn run_on(&self, sim: &Sim, backend: &str, args: &[&str]) -> Run {
        let out = Command::new(test_support::bin_path("gcrecon"))
            .current_dir(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GENESYSCLOUD_API_REGION", sim.url())
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client")
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret")
            .env("GCRECON_BACKEND", backend)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run gcrecon");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run_with(&self, backend: &str, args: &[&str]) -> Run {
        self.run_on(&self.sim, backend, args)
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(&self.url, args)
    }

    fn db(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("cannot connect")
    }

    fn key(&self, workspace: &str) -> String {
        format!("{}/{workspace}", self.name)
    }

    /// The serials stored for `workspace`, in order.
    fn serials(&self, workspace: &str) -> Vec<i64> {
        self.db()
            .query(
                "SELECT serial FROM gcrecon_states WHERE workspace = $1 ORDER BY serial",
                &[&self.key(workspace)],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    fn latest_state(&self, workspace: &str) -> Value {
        let text: String = self
            .db()
            .query_one(
                "SELECT state::text FROM gcrecon_states WHERE workspace = $1 ORDER BY serial DESC LIMIT 1",
                &[&self.key(workspace)],
            )
            .unwrap()
            .get(0);
        serde_json::from_str(&text).unwrap()
    }

    fn put_lock(&self, workspace: &str, info: &Value) {
        self.db()
            .execute(
                "INSERT INTO gcrecon_locks (workspace, info) VALUES ($1, $2::text::jsonb)",
                &[&self.key(workspace), &info.to_string()],
            )
            .unwrap();
    }

    fn lock_rows(&self, workspace: &str) -> i64 {
        self.db()
            .query_one(
                "SELECT count(*) FROM gcrecon_locks WHERE workspace = $1",
                &[&self.key(workspace)],
            )
            .unwrap()
            .get(0)
    }

    /// Local state files anywhere under the working directory.
    fn local_states(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.path("state")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".gcstate.json"))
            .collect()
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "localhost".to_owned(), |h| h.trim().to_owned())
}

#[test]
#[ignore = "needs GCRECON_TEST_POSTGRES_URL"]
fn state_history_and_locks_live_in_postgres_per_workspace() {
    let url = database_url();
    let s = Setup::new(url);

    let applied = s
        .run(&["apply", "--auto-approve", "--workspace", "a"])
        .expect(0);
    s.run(&["plan", "--detailed-exitcode", "--workspace", "a"])
        .expect(0);
    assert!(s.local_states().is_empty(), "{:?}", s.local_states());

    // One row per write, serials 1..=n, the last one holding the resources.
    let serials = s.serials("a");
    assert!(serials.len() >= 2, "{serials:?}");
    assert_eq!(serials, (1..=serials.len() as i64).collect::<Vec<_>>());
    let state = s.latest_state("a");
    assert_eq!(state["serial"], json!(serials.len()));
    let addresses: Vec<&str> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["address"].as_str())
        .collect();
    assert!(
        addresses.contains(&"division.support") && addresses.contains(&"group.ops"),
        "{addresses:?}"
    );
    let listed = s.run(&["state", "list", "--workspace", "a"]).expect(0);
    assert!(listed.stdout.contains("group.ops"), "{}", listed.stdout);
    assert_eq!(s.lock_rows("a"), 0, "every command released its lock");

    // Another run holds workspace a: exit 3 naming the holder, until unlocked.
    let held = json!({"id": "pg-lock-1", "who": "runner@elsewhere", "pid": std::process::id(),
                      "host": host_name(), "operation": "apply", "created": "2026-01-01T00:00:00Z"});
    s.put_lock("a", &held);
    for args in [
        &["plan", "--workspace", "a"][..],
        &["apply", "--auto-approve", "--workspace", "a"],
        &["state", "rm", "group.ops", "--workspace", "a"],
    ] {
        let run = s.run(args).expect(3);
        assert!(
            run.stderr.contains("pg-lock-1") && run.stderr.contains("runner@elsewhere"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("gcrecon force-unlock pg-lock-1"),
            "{}",
            run.stderr
        );
    }

    // Workspace b (another organization) is independent: not locked, its
    // own state and history.
    let before = s.serials("a");
    s.run(&["state", "list", "--workspace", "b"]).expect(1);
    s.run_on(
        &s.other,
        &s.url,
        &["apply", "--auto-approve", "--workspace", "b"],
    )
    .expect(0);
    s.run_on(
        &s.other,
        &s.url,
        &["plan", "--detailed-exitcode", "--workspace", "b"],
    )
    .expect(0);
    assert!(!s.serials("b").is_empty());
    assert_eq!(s.lock_rows("b"), 0);
    assert_eq!(s.serials("a"), before, "b never touches a's rows");
    assert_ne!(
        s.latest_state("b")["lineage"],
        s.latest_state("a")["lineage"]
    );

    s.run(&["force-unlock", "wrong-id", "--workspace", "a"])
        .expect(1);
    s.run(&["force-unlock", "pg-lock-1", "--workspace", "a"])
        .expect(0);
    assert_eq!(s.lock_rows("a"), 0);
    s.run(&["plan", "--detailed-exitcode", "--workspace", "a"])
        .expect(0);

    // A holder that died on this host is broken with a warning.
    let dead = json!({"id": "pg-dead", "who": "x@y", "pid": 4_194_305, "host": host_name(),
                      "operation": "apply", "created": "2026-01-01T00:00:00Z"});
    s.put_lock("a", &dead);
    let run = s.run(&["plan", "--workspace", "a"]).expect(0);
    assert!(run.stderr.contains("stale lock"), "{}", run.stderr);
    assert_eq!(s.lock_rows("a"), 0);

    // A change is one more serial; nothing is ever written locally.
    let text = std::fs::read_to_string(s.path("gcrecon.toml")).unwrap();
    std::fs::write(
        s.path("gcrecon.toml"),
        text.replace("first line", "second line"),
    )
    .unwrap();
    let n = s.serials("a").len();
    s.run(&["apply", "--auto-approve", "--workspace", "a"])
        .expect(0);
    assert!(s.serials("a").len() > n);
    assert!(s.local_states().is_empty(), "{:?}", s.local_states());

    // The password never shows.
    let password = password_of(&s.url);
    if let Some(password) = password.filter(|p| p.len() >= 4) {
        for run in [&applied, &listed] {
            assert!(!run.stdout.contains(&password) && !run.stderr.contains(&password));
        }
    }
}

#[test]
#[ignore = "needs GCRECON_TEST_POSTGRES_URL"]
fn a_bad_url_or_password_is_reported_without_the_password() {
    let url = database_url();
    let s = Setup::new(url.clone());
    let secret = "not-the-Passw0rd";
    // The same server and user with a wrong password.
    let wrong = match url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
    {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap();
            format!("postgres://{user}:{secret}@{host}")
        }
        None => format!("postgres://gcrecon:{secret}@127.0.0.1:1/gcrecon"),
    };
    let run = s.run_with(&wrong, &["plan", "--workspace", "a"]).expect(1);
    assert!(
        !run.stderr.contains(secret) && !run.stdout.contains(secret),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(":***@"), "{}", run.stderr);

    let run = s
        .run_with(
            &format!("postgres://u:{secret}@127.0.0.1:notaport/db"),
            &["plan"],
        )
        .expect(1);
    assert!(!run.stderr.contains(secret), "{}", run.stderr);

    // `--state` is a local file: it does not combine with PostgreSQL.
    let run = s.run(&["plan", "--state", "x.json"]).expect(1);
    assert!(run.stderr.contains("--state"), "{}", run.stderr);
    assert!(s.local_states().is_empty());
}

/// The password of a `postgres://user:password@host/...` URL.
/// With a postgres:// backend and an age recipient, the secret is stored
/// encrypted in `gcrecon_secrets` beside the workspace's state, and appears
/// in clear in no file and no row; without a recipient it stays in the
/// local 0600 file, never in the shared database.
#[test]
#[ignore = "needs GCRECON_TEST_POSTGRES_URL"]
fn encrypted_secrets_live_beside_the_state_and_never_in_clear() {
    use age::secrecy::ExposeSecret;
    let url = database_url();
    let s = Setup::new(url);
    std::fs::write(
        s.path("gcrecon.toml"),
        format!(
            "{}\n[role.reader]\nname = \"Queue Reader\"\npermissions = [\"routing:queue:view\"]\n\n[oauth_client.api]\nname = \"Acme API\"\ngrant_type = \"client_credentials\"\nroles = [{{ role = \"${{role.reader.id}}\", divisions = [\"*\"] }}]\n",
            MANIFEST.replace("NAME", &s.name)
        ),
    )
    .unwrap();
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let keys = test_support::temp_dir();
    let identity_file = keys.path().join("key.txt");
    std::fs::write(
        &identity_file,
        format!("{}\n", identity.to_string().expose_secret()),
    )
    .unwrap();

    let applied = s
        .run(&["apply", "--auto-approve", "--secrets-recipient", &public])
        .expect(0);
    assert!(
        applied
            .stdout
            .contains("the table gcrecon_secrets of postgres://"),
        "{}",
        applied.stdout
    );
    assert!(!applied
        .stdout
        .contains(&password_of(&s.url).unwrap_or_else(|| "\u{0}".into())));
    let rows = s
        .db()
        .query(
            "SELECT address, client_id, armored FROM gcrecon_secrets WHERE workspace = $1",
            &[&s.key("default")],
        )
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (address, client_id, armored): (String, String, String) =
        (rows[0].get(0), rows[0].get(1), rows[0].get(2));
    assert_eq!(address, "oauth_client.api");
    assert!(
        armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{armored}"
    );
    assert!(!s.path(&format!("state/{}.secrets.json", s.name)).exists());

    let shown = s
        .run(&[
            "secrets",
            "show",
            "oauth_client.api",
            "--identity",
            identity_file.to_str().unwrap(),
        ])
        .expect(0);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["client_id"], client_id.as_str());
    let secret = shown["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 16, "{secret}");
    let dump = s.sim.dump();
    assert!(dump["oauth_clients"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == client_id.as_str() && c["name"] == "Acme API"));
    // The decrypted secret is the real one.
    s.sim.login(&client_id, &secret);

    // Nowhere in clear: no file, no row of any gcrecon table.
    let mut todo = vec![s.dir.path().to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                assert!(!text.contains(&secret), "{} holds the secret", p.display());
            }
        }
    }
    for table in ["gcrecon_states", "gcrecon_locks", "gcrecon_secrets"] {
        let hits: i64 = s
            .db()
            .query_one(
                &format!("SELECT count(*) FROM {table} t WHERE strpos(t::text, $1) > 0"),
                &[&secret],
            )
            .unwrap()
            .get(0);
        assert_eq!(hits, 0, "{table} holds the secret in clear");
    }

    // Without a recipient the secret stays in the local file (mode 0600),
    // and the database gets no clear row.
    s.run_on(
        &s.other,
        &s.url,
        &["apply", "--auto-approve", "--workspace", "b"],
    )
    .expect(0);
    let local: Value = serde_json::from_str(
        &std::fs::read_to_string(s.path(&format!("state/{}.b.secrets.json", s.name))).unwrap(),
    )
    .unwrap();
    assert!(
        local["oauth_client.api"]["client_secret"].is_string(),
        "{local}"
    );
    let b_rows: i64 = s
        .db()
        .query_one(
            "SELECT count(*) FROM gcrecon_secrets WHERE workspace = $1",
            &[&s.key("b")],
        )
        .unwrap()
        .get(0);
    assert_eq!(b_rows, 0);
}

fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let user_info = rest.split('/').next()?.rsplit_once('@')?.0;
    Some(user_info.split_once(':')?.1.to_owned())
}
