//! End-to-end tests of the secrets handoff: an apply with age recipients
//! (`--secrets-recipient`, `GCRECON_SECRETS_RECIPIENTS`) leaves no client
//! secret in clear anywhere under the working directory or in the output;
//! `gcrecon secrets show --identity FILE` decrypts it and the secret logs
//! in to gcsim (`POST /oauth/token`); rotation goes through encryption
//! too; bad recipients, a missing or a wrong identity are clear errors.
//! Without recipients, today's clear 0600 file stays.

use std::path::Path;

use age::secrecy::ExposeSecret;
use serde_json::Value;
use test_support::{Run, Workdir};

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
name = "acme"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view"]

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]
"#;

/// An age key pair: the identity file's path (outside the work dir) and the
/// public key.
struct KeyPair {
    _dir: tempfile::TempDir,
    identity_file: std::path::PathBuf,
    public: String,
}

fn key_pair() -> KeyPair {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let dir = test_support::temp_dir();
    let identity_file = dir.path().join("key.txt");
    std::fs::write(
        &identity_file,
        format!(
            "# public key: {public}\n{}\n",
            identity.to_string().expose_secret()
        ),
    )
    .unwrap();
    KeyPair {
        _dir: dir,
        identity_file,
        public,
    }
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                seen += 1;
                let bytes = std::fs::read(&p).unwrap();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(p.display().to_string());
                }
            }
        }
    }
    assert!(
        seen >= 3,
        "expected the manifest, state and secrets files, saw {seen}"
    );
    found
}

/// `gcrecon secrets show oauth_client.api --identity FILE`: (client id, secret).
fn reveal(w: &Workdir, identity: &Path) -> (String, String) {
    let shown = w
        .run(&[
            "secrets",
            "show",
            "oauth_client.api",
            "--identity",
            identity.to_str().unwrap(),
        ])
        .expect(0)
        .json();
    (
        shown["client_id"].as_str().unwrap().to_owned(),
        shown["client_secret"].as_str().unwrap().to_owned(),
    )
}

fn assert_not_in_output(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "the secret appeared in the output:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

/// The client's id as gcsim has it.
fn live_client_id(w: &Workdir) -> String {
    let dump = w.sim.dump();
    let client = dump["oauth_clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Acme API")
        .unwrap_or_else(|| panic!("no client `Acme API` in {dump}"));
    client["id"].as_str().unwrap().to_owned()
}

/// True when gcsim accepts the client credentials.
fn logs_in(w: &Workdir, id: &str, secret: &str) -> bool {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/oauth/token", w.sim.url()))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    resp.status().is_success()
}

#[test]
fn an_encrypted_apply_stores_no_plaintext_and_the_decrypted_secret_logs_in() {
    let w = Workdir::new(FIXTURE, MANIFEST);
    let (ci, laptop) = (key_pair(), key_pair());
    // Two recipients, comma-separated in the environment.
    let both = format!("{},{}", ci.public, laptop.public);
    let applied = w
        .run_env(
            &["apply", "--auto-approve"],
            &[("GCRECON_SECRETS_RECIPIENTS", &both)],
        )
        .expect(0);
    assert!(
        applied.stdout.contains("encrypted to the age recipients"),
        "{}",
        applied.stdout
    );

    let (client_id, secret) = reveal(&w, &ci.identity_file);
    assert_eq!(client_id, live_client_id(&w));
    assert_eq!(reveal(&w, &laptop.identity_file).1, secret);
    assert!(secret.len() >= 16, "{secret}");
    assert_not_in_output(&applied, &secret);
    assert_eq!(
        files_containing(w.dir.path(), &secret),
        Vec::<String>::new(),
        "the secret is stored in clear"
    );
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("state/acme.secrets.json")).unwrap())
            .unwrap();
    assert_eq!(stored["oauth_client.api"]["client_id"], client_id.as_str());
    assert!(stored["oauth_client.api"]["client_secret_age"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    // The decrypted secret is the real one: gcsim accepts it.
    assert!(logs_in(&w, &client_id, &secret));
    w.sim.login(&client_id, &secret);

    // All secrets at once, as JSON keyed by address.
    let all = w
        .run_env(
            &["secrets", "show"],
            &[(
                "GCRECON_SECRETS_IDENTITY",
                ci.identity_file.to_str().unwrap(),
            )],
        )
        .expect(0)
        .json();
    assert_eq!(all["oauth_client.api"]["client_secret"], secret.as_str());

    // Rotation goes through encryption too (the flag, this time).
    let rotated = w
        .run(&[
            "rotate",
            "oauth_client.api",
            "--secrets-recipient",
            &ci.public,
        ])
        .expect(0);
    let (_, new_secret) = reveal(&w, &ci.identity_file);
    assert_ne!(new_secret, secret);
    assert_not_in_output(&rotated, &new_secret);
    assert_eq!(
        files_containing(w.dir.path(), &new_secret),
        Vec::<String>::new()
    );
    assert!(logs_in(&w, &client_id, &new_secret));
    assert!(
        !logs_in(&w, &client_id, &secret),
        "the old secret still works"
    );
    // Only `ci` was given this time: the laptop key no longer opens it.
    let wrong = w
        .run(&[
            "secrets",
            "show",
            "--identity",
            laptop.identity_file.to_str().unwrap(),
        ])
        .expect(1);
    assert!(
        wrong
            .stderr
            .contains("cannot decrypt the secret of oauth_client.api")
            && wrong.stderr.contains("encrypted to other recipients"),
        "{}",
        wrong.stderr
    );

    // A rotation without recipients would put a clear secret beside the
    // encrypted ones: refused before the secret is regenerated.
    let refused = w.run(&["rotate", "oauth_client.api"]).expect(1);
    assert!(
        refused.stderr.contains("no recipient was given") && refused.stderr.contains("hint:"),
        "{}",
        refused.stderr
    );
    assert!(
        logs_in(&w, &client_id, &new_secret),
        "the refused rotation changed the secret"
    );
}

#[test]
fn missing_or_bad_keys_are_clear_errors() {
    let w = Workdir::new(FIXTURE, MANIFEST);
    let bad = w
        .run(&[
            "apply",
            "--auto-approve",
            "--secrets-recipient",
            "age1notakey",
        ])
        .expect(1);
    assert!(
        bad.stderr
            .contains("secrets recipient #1: `age1notakey` is not an age public key")
            && bad.stderr.contains("hint:"),
        "{}",
        bad.stderr
    );
    // Refused before anything was created.
    assert!(w.sim.dump()["oauth_clients"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "Acme API"));
    // A secret key given as a recipient is refused without being repeated.
    let identity = age::x25519::Identity::generate();
    let secret_key = identity.to_string().expose_secret().to_owned();
    let leaked = w
        .run_env(
            &["apply", "--auto-approve"],
            &[("GCRECON_SECRETS_RECIPIENTS", &secret_key)],
        )
        .expect(1);
    assert!(
        leaked.stderr.contains("age identity (a secret key)"),
        "{}",
        leaked.stderr
    );
    assert!(!leaked.stderr.contains(&secret_key) && !leaked.stdout.contains(&secret_key));

    let key = key_pair();
    w.run(&[
        "apply",
        "--auto-approve",
        "--secrets-recipient",
        &key.public,
    ])
    .expect(0);
    let missing = w.run(&["secrets", "show"]).expect(1);
    assert!(
        missing
            .stderr
            .contains("is encrypted, and no age identity was given")
            && missing.stderr.contains("--identity FILE"),
        "{}",
        missing.stderr
    );
    w.write("not-a-key.txt", "# a comment\nhello\n");
    let garbage = w
        .run(&["secrets", "show", "--identity", "not-a-key.txt"])
        .expect(1);
    assert!(
        garbage
            .stderr
            .contains("not-a-key.txt:2:1: not an age identity"),
        "{}",
        garbage.stderr
    );
    let absent = w
        .run(&["secrets", "show", "--identity", "nowhere.txt"])
        .expect(1);
    assert!(
        absent
            .stderr
            .contains("cannot read the age identity file nowhere.txt"),
        "{}",
        absent.stderr
    );
}

#[test]
fn without_recipients_the_clear_file_stays_and_secrets_show_prints_it() {
    let w = Workdir::new(FIXTURE, MANIFEST);
    w.run(&["apply", "--auto-approve"]).expect(0);
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("state/acme.secrets.json")).unwrap())
            .unwrap();
    let secret = stored["oauth_client.api"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = live_client_id(&w);
    let shown = w
        .run(&["secrets", "show", "oauth_client.api"])
        .expect(0)
        .json();
    assert_eq!(shown["client_id"], id.as_str());
    assert_eq!(shown["client_secret"], secret.as_str());
    assert!(logs_in(&w, &id, &secret));
    let unknown = w.run(&["secrets", "show", "oauth_client.nope"]).expect(1);
    assert!(
        unknown
            .stderr
            .contains("holds no secret for oauth_client.nope"),
        "{}",
        unknown.stderr
    );
}
