//! End-to-end tests of the PostgreSQL state backend beyond storing states:
//! `state migrate`, `state history` and `workspace list`; TLS (sslmode and
//! sslrootcert against a server with a self-signed certificate); and the
//! session-level advisory lock that frees the lock of a holder killed on
//! any machine. The real `gcrecon` against a real `gcsim` and a real
//! PostgreSQL server.
//!
//! One more test drives the backend as a library: the encrypted secrets kept
//! beside a workspace's state, one row per client (`store_secret` /
//! `load_secrets`).
//!
//! They are `#[ignore]`d: `.ci/run` starts a throwaway server (with TLS
//! and a role that may only connect over TLS) and runs them with
//! `--ignored`, setting `GCRECON_TEST_POSTGRES_URL`, and for the TLS test
//! `GCRECON_TEST_POSTGRES_TLS_URL` (host `localhost`, the certificate's
//! name) and `GCRECON_TEST_POSTGRES_CA` (the certificate's PEM file).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::{Run, Sim, Workdir};

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

fn env_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!("set {name} to run the PostgreSQL backend tests (.ci/run starts a throwaway server and sets it)"),
    }
}

/// A manifest named uniquely (the database may be shared), with
/// `groups` groups besides one division.
fn manifest(tag: &str, groups: usize) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("pgb-{tag}-{}-{nanos}", std::process::id());
    let mut text = format!(
        "[gcrecon]\nversion = 1\nname = \"{name}\"\n\n[division.support]\nname = \"Support {tag}\"\ndescription = \"first line\"\n"
    );
    for i in 0..groups {
        text.push_str(&format!(
            "\n[group.g{i}]\nname = \"Group {i} {tag}\"\ndescription = \"group {i}\"\n"
        ));
    }
    (name, text)
}

fn db(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("cannot connect to the test database")
}

/// `(serial, who, command)` of every row of `key`, in order.
fn rows(url: &str, key: &str) -> Vec<(i64, Option<String>, Option<String>)> {
    db(url)
        .query(
            "SELECT serial, who, command FROM gcrecon_states WHERE workspace = $1 ORDER BY serial",
            &[&key],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn latest(url: &str, key: &str) -> Value {
    let text: String = db(url)
        .query_one(
            "SELECT state::text FROM gcrecon_states WHERE workspace = $1 ORDER BY serial DESC LIMIT 1",
            &[&key],
        )
        .unwrap()
        .get(0);
    serde_json::from_str(&text).unwrap()
}

fn lock_row(url: &str, key: &str) -> Option<Value> {
    db(url)
        .query_opt(
            "SELECT info::text FROM gcrecon_locks WHERE workspace = $1",
            &[&key],
        )
        .unwrap()
        .map(|r| serde_json::from_str(&r.get::<_, String>(0)).unwrap())
}

fn local_state(w: &Workdir, file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(w.path(&format!("state/{file}"))).unwrap())
        .unwrap()
}

/// The ids of the objects of `kind` in the org named `name`.
fn ids_named(sim: &Sim, kind: &str, name: &str) -> Vec<String> {
    sim.dump()[kind]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["name"] == name && o["state"] != "deleted")
        .filter_map(|o| o["id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
#[ignore = "needs PostgreSQL: run by .ci/run"]
fn local_states_migrate_into_postgres_with_their_history_and_workspaces() {
    let url = env_var("GCRECON_TEST_POSTGRES_URL");
    let (name, text) = manifest("migrate", 1);
    let w = Workdir::new(FIXTURE, &text);
    let pg = [("GCRECON_BACKEND", url.as_str())];

    // Two local workspaces: default, and b for a second organization.
    let other = Sim::builder().fixture_toml(FIXTURE).start();
    w.run(&["apply", "--auto-approve"]).expect(0);
    w.run_env(
        &["apply", "--auto-approve", "--workspace", "b"],
        &[("GENESYSCLOUD_API_REGION", other.url())],
    )
    .expect(0);
    let listed = w.run(&["workspace", "list"]).expect(0);
    assert!(
        listed
            .stdout
            .lines()
            .any(|l| l.starts_with('*') && l.contains("default")),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.lines().any(|l| l.contains(" b ")),
        "{}",
        listed.stdout
    );
    let history = w.run(&["state", "history"]).expect(0);
    assert!(history.stdout.starts_with("SERIAL"), "{}", history.stdout);

    let default_serial = local_state(&w, &format!("{name}.gcstate.json"))["serial"].clone();
    let b_serial = local_state(&w, &format!("{name}.b.gcstate.json"))["serial"].clone();
    let migrated = w.run(&["state", "migrate", "--to", &url]).expect(0);
    assert!(
        migrated.stdout.contains("Workspace default: copied")
            && migrated.stdout.contains("Workspace b: copied"),
        "{}",
        migrated.stdout
    );
    let password = url
        .split_once("://")
        .and_then(|(_, r)| r.split_once('@'))
        .and_then(|(ui, _)| ui.split_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_default();
    assert!(
        password.len() < 4
            || !format!("{}{}", migrated.stdout, migrated.stderr).contains(&password),
        "the password was printed"
    );
    let key = format!("{name}/default");
    let copied = rows(&url, &key);
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert_eq!(Value::from(copied[0].0), default_serial);
    assert_eq!(copied[0].2.as_deref(), Some("state migrate"));
    assert_eq!(
        latest(&url, &key)["lineage"],
        local_state(&w, &format!("{name}.gcstate.json"))["lineage"]
    );
    assert_eq!(
        Value::from(
            latest(&url, &format!("{name}/b"))["serial"]
                .as_i64()
                .unwrap()
        ),
        b_serial
    );

    // The migrated state is the org's: the plan through PostgreSQL is
    // clean, and the division exists once.
    w.run_env(&["plan", "--detailed-exitcode"], &pg).expect(0);
    assert_eq!(ids_named(&w.sim, "divisions", "Support migrate").len(), 1);

    // Both workspaces are listed from the database.
    let listed = w
        .run_env(&["workspace", "list", "--workspace", "b"], &pg)
        .expect(0);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with('*') && l.contains(" b ")),
        "{}",
        listed.stdout
    );
    assert!(
        lines.iter().any(|l| l.contains("default")),
        "{}",
        listed.stdout
    );

    // Running it again is a no-op.
    let again = w.run(&["state", "migrate", "--to", &url]).expect(0);
    assert!(again.stdout.contains("already in"), "{}", again.stdout);
    assert_eq!(rows(&url, &key).len(), 1);

    // A change applied through PostgreSQL: one more serial, with who and
    // the command; the database is now ahead of the local file.
    std::fs::write(
        w.path("gcrecon.toml"),
        text.replace("first line", "second line"),
    )
    .unwrap();
    w.run_env(&["apply", "--auto-approve"], &pg).expect(0);
    let after = rows(&url, &key);
    assert!(after.len() >= 2, "{after:?}");
    let last = after.last().unwrap();
    assert_eq!(last.2.as_deref(), Some("apply"));
    assert!(
        last.1.as_deref().is_some_and(|who| who.contains('@')),
        "{last:?}"
    );
    let division = &w.sim.dump()["divisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Support migrate")
        .unwrap()
        .clone();
    assert_eq!(division["description"], "second line");
    let history = w.run_env(&["state", "history"], &pg).expect(0);
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert_eq!(lines.len(), after.len() + 1, "{}", history.stdout);
    assert!(lines[1].contains("state migrate"), "{}", history.stdout);
    assert!(
        lines.last().unwrap().contains("apply"),
        "{}",
        history.stdout
    );

    // Migrating the older local file over the newer database state is refused.
    let refused = w.run(&["state", "migrate", "--to", &url]).expect(1);
    assert!(refused.stderr.contains("not older"), "{}", refused.stderr);
    assert_eq!(rows(&url, &key), after, "nothing was written");
    assert!(
        lock_row(&url, &key).is_none(),
        "the refused migration released its lock"
    );

    // A lock row that is not a lock's JSON counts as locked (exit 3), is
    // never overwritten, and the hint says how to remove it.
    db(&url)
        .execute(
            "INSERT INTO gcrecon_locks (workspace, info) VALUES ($1, '{\"not\": \"a lock\"}')",
            &[&key],
        )
        .unwrap();
    let run = w.run_env(&["plan"], &pg).expect(3);
    assert!(
        run.stderr.contains("cannot be read")
            && run.stderr.contains(&format!(
                "DELETE FROM gcrecon_locks WHERE workspace = '{key}'"
            )),
        "{}",
        run.stderr
    );
    assert_eq!(lock_row(&url, &key).unwrap()["not"], "a lock");
}

#[test]
#[ignore = "needs PostgreSQL: run by .ci/run"]
fn tls_sslmode_and_sslrootcert_are_honoured() {
    let url = env_var("GCRECON_TEST_POSTGRES_TLS_URL");
    let ca = env_var("GCRECON_TEST_POSTGRES_CA");
    let (name, text) = manifest("tls", 1);
    let w = Workdir::new(FIXTURE, &text);
    let with = |query: &str| format!("{url}?{query}");

    // The role may only connect over TLS: verify-full with the server's
    // certificate as the root works, end to end.
    let verified = with(&format!("sslmode=verify-full&sslrootcert={ca}"));
    w.run_env(
        &["apply", "--auto-approve"],
        &[("GCRECON_BACKEND", &verified)],
    )
    .expect(0);
    w.run_env(
        &["plan", "--detailed-exitcode"],
        &[("GCRECON_BACKEND", &verified)],
    )
    .expect(0);
    assert_eq!(ids_named(&w.sim, "divisions", "Support tls").len(), 1);
    let plain = env_var("GCRECON_TEST_POSTGRES_URL");
    let state = latest(&plain, &format!("{name}/default"));
    assert!(
        state["resources"].as_array().is_some_and(|r| r.len() == 2),
        "{state}"
    );

    // require encrypts without checking the certificate.
    w.run_env(
        &["plan", "--detailed-exitcode"],
        &[("GCRECON_BACKEND", &with("sslmode=require"))],
    )
    .expect(0);

    // disable: the server refuses the role without TLS.
    let run: Run = w
        .run_env(&["plan"], &[("GCRECON_BACKEND", &with("sslmode=disable"))])
        .expect(1);
    assert!(run.stderr.contains("PostgreSQL"), "{}", run.stderr);

    // verify-full against the system roots: a self-signed certificate is
    // not trusted.
    let run = w
        .run_env(
            &["plan"],
            &[("GCRECON_BACKEND", &with("sslmode=verify-full"))],
        )
        .expect(1);
    assert!(
        run.stderr.to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );

    // verify-full checks the host name (the certificate names localhost);
    // verify-ca checks only the chain.
    let by_ip = url.replace("@localhost:", "@127.0.0.1:");
    assert_ne!(
        by_ip, url,
        "GCRECON_TEST_POSTGRES_TLS_URL must use host localhost"
    );
    let run = w
        .run_env(
            &["plan"],
            &[(
                "GCRECON_BACKEND",
                &format!("{by_ip}?sslmode=verify-full&sslrootcert={ca}"),
            )],
        )
        .expect(1);
    assert!(
        run.stderr.to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );
    w.run_env(
        &["plan", "--detailed-exitcode"],
        &[(
            "GCRECON_BACKEND",
            &format!("{by_ip}?sslmode=verify-ca&sslrootcert={ca}"),
        )],
    )
    .expect(0);

    // A bad sslmode or a missing root file is a usage error naming it.
    let run = w
        .run_env(&["plan"], &[("GCRECON_BACKEND", &with("sslmode=verify"))])
        .expect(1);
    assert!(run.stderr.contains("sslmode=verify"), "{}", run.stderr);
    let run = w
        .run_env(
            &["plan"],
            &[(
                "GCRECON_BACKEND",
                &with("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
            )],
        )
        .expect(1);
    assert!(run.stderr.contains("/nonexistent/ca.pem"), "{}", run.stderr);
    assert!(!run.stderr.contains("gcrecon-tls-pw"), "{}", run.stderr);
}

/// `gcrecon apply --auto-approve` started in the background.
fn spawn_apply(w: &Workdir, backend: &str) -> Child {
    Command::new(test_support::bin_path("gcrecon"))
        .current_dir(w.dir.path())
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GENESYSCLOUD_API_REGION", w.sim.url())
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client")
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret")
        .env("GCRECON_BACKEND", backend)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run gcrecon")
}

#[test]
#[ignore = "needs PostgreSQL: run by .ci/run"]
fn a_holder_killed_mid_apply_frees_the_lock_with_its_session() {
    let url = env_var("GCRECON_TEST_POSTGRES_URL");
    let (name, text) = manifest("kill", 8);
    let sim = Sim::builder().fixture_toml(FIXTURE).latency_ms(500).start();
    let w = Workdir {
        sim,
        dir: test_support::temp_dir(),
    };
    w.write("gcrecon.toml", &text);
    let key = format!("{name}/default");
    let pg = [("GCRECON_BACKEND", url.as_str())];

    let mut holder = spawn_apply(&w, &url);
    // Wait until it holds the lock and has recorded at least one object.
    let deadline = Instant::now() + Duration::from_secs(240);
    let lock = loop {
        let recorded = db(&url)
            .query_opt(
                "SELECT jsonb_array_length(state->'resources') FROM gcrecon_states \
                 WHERE workspace = $1 ORDER BY serial DESC LIMIT 1",
                &[&key],
            )
            .unwrap()
            .map_or(0, |r| r.get::<_, i32>(0));
        if let Some(lock) = lock_row(&url, &key).filter(|_| recorded >= 1) {
            break lock;
        }
        assert!(
            holder.try_wait().unwrap().is_none(),
            "the apply ended before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the apply recorded nothing in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Make the holder look like a runner on another machine: its pid says
    // nothing here, only its database session does.
    assert!(
        lock["session"].is_i64(),
        "the lock row records its session: {lock}"
    );
    db(&url)
        .execute(
            "UPDATE gcrecon_locks SET info = jsonb_set(jsonb_set(info, '{host}', '\"runner-7.elsewhere\"'), '{who}', '\"ci@runner-7.elsewhere\"') WHERE workspace = $1",
            &[&key],
        )
        .unwrap();
    // While it lives, another run is refused (exit 3) naming it.
    let blocked = w.run_env(&["plan"], &pg).expect(3);
    assert!(
        blocked.stderr.contains("ci@runner-7.elsewhere"),
        "{}",
        blocked.stderr
    );

    holder.kill().expect("cannot kill the apply"); // SIGKILL
    holder.wait().unwrap();
    assert!(holder.try_wait().unwrap().is_some());
    let before = latest(&url, &key);
    assert!(
        lock_row(&url, &key).is_some(),
        "the killed apply left its row"
    );

    // The next run proceeds without force-unlock: the row's session is
    // gone, so is its advisory lock.
    let again = w.run_env(&["apply", "--auto-approve"], &pg).expect(0);
    let id = lock["id"].as_str().unwrap();
    assert!(
        again.stderr.contains("stale lock") && again.stderr.contains(id),
        "{}",
        again.stderr
    );
    assert!(lock_row(&url, &key).is_none());

    // The state is intact: what the killed run recorded is still there
    // with the same ids, every object exists once, and the plan is clean.
    let after = latest(&url, &key);
    for r in before["resources"].as_array().unwrap() {
        assert!(
            after["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["address"] == r["address"] && a["id"] == r["id"]),
            "{} was recorded, then lost",
            r["address"]
        );
    }
    assert_eq!(ids_named(&w.sim, "divisions", "Support kill").len(), 1);
    for i in 0..8 {
        let ids = ids_named(&w.sim, "groups", &format!("Group {i} kill"));
        assert_eq!(ids.len(), 1, "group {i}: {ids:?}");
        assert!(after["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == ids[0].as_str()));
    }
    w.run_env(&["plan", "--detailed-exitcode"], &pg).expect(0);
}

#[test]
#[ignore = "needs PostgreSQL: run by .ci/run"]
fn secrets_are_kept_beside_the_state_per_workspace_and_never_in_it() {
    use gcrecon_engine::backend::{LocalBackend, PostgresBackend};
    use gcrecon_engine::StateBackend;

    let url = env_var("GCRECON_TEST_POSTGRES_URL");
    let (name, _) = manifest("secrets", 0);
    let a = PostgresBackend::connect(&url, &name, "a").unwrap();
    let b = PostgresBackend::connect(&url, &name, "b").unwrap();
    assert!(a.keeps_secrets());
    assert_eq!(a.load_secrets().unwrap(), vec![]);
    a.store_secret("oauth_client.x", "id-1", "sealed-document-1")
        .unwrap();
    a.store_secret("oauth_client.x", "id-2", "sealed-document-2")
        .unwrap();
    a.store_secret("oauth_client.y", "id-3", "sealed-document-3")
        .unwrap();
    let kept = a.load_secrets().unwrap();
    assert_eq!(
        kept.iter()
            .map(|s| (s.address.as_str(), s.client_id.as_str(), s.armored.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("oauth_client.x", "id-2", "sealed-document-2"),
            ("oauth_client.y", "id-3", "sealed-document-3"),
        ],
        "one row per client, replaced when its secret is delivered again"
    );
    assert_eq!(b.load_secrets().unwrap(), vec![], "workspaces are separate");
    let in_states: i64 = db(&url)
        .query_one(
            "SELECT count(*) FROM gcrecon_states WHERE state::text LIKE '%sealed-document%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_states, 0);

    // The local backend keeps none: the secrets file is the caller's.
    let dir = test_support::temp_dir();
    let local = LocalBackend::new(&dir.path().join("s.gcstate.json"));
    assert!(!local.keeps_secrets());
    assert!(local.store_secret("oauth_client.x", "id", "x").is_err());
    assert_eq!(local.load_secrets().unwrap(), vec![]);
}
