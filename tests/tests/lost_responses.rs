//! End-to-end: `gcrecon apply` against a gcsim that applies requests and
//! then loses their answers (`--lost-response-rate`, a dropped connection or
//! a 504), as the real service sometimes does. One apply must converge
//! without creating anything twice, the client secret it delivers must work,
//! and the next plan must be empty.

use std::process::{Command, Output, Stdio};

use serde_json::Value;
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
name = "acme"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view", "directory:user:view"]

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]

[group.ops]
name = "Ops"
description = "operators"

[output.api_client_id]
value = "${oauth_client.api.client_id}"

[output.api_secret]
value = "${oauth_client.api.secret}"
sensitive = true
"#;

fn gcrecon(sim: &Sim, dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(test_support::bin_path("gcrecon"))
        .current_dir(dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GENESYSCLOUD_API_REGION", sim.url())
        .env("GENESYSCLOUD_REGION", "ap-southeast-2")
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client")
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run gcrecon")
}

#[track_caller]
fn expect(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// How many objects of a dump section carry each name.
fn counts(dump: &Value, section: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for o in dump[section].as_array().unwrap() {
        let name = o["name"].as_str().unwrap_or_default().to_owned();
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => out.push((name, 1)),
        }
    }
    out
}

#[test]
fn apply_converges_once_without_duplicates_when_answers_are_lost() {
    let sim = Sim::builder()
        .fixture_toml(FIXTURE)
        .lost_response_rate(0.3)
        .seed(7)
        .start();
    let dir = test_support::temp_dir();
    std::fs::write(dir.path().join("gcrecon.toml"), MANIFEST).unwrap();

    expect(&gcrecon(&sim, dir.path(), &["apply", "--auto-approve"]), 0);
    let stats = sim.stats();
    let lost = stats["lost_responses"].as_u64().unwrap();
    let posts: Vec<String> = stats["by_route"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.starts_with("POST /api"))
        .map(|(route, n)| format!("{route}: {n}"))
        .collect();
    eprintln!("lost responses during apply: {lost}; {posts:?}");
    assert!(lost > 0, "the apply met no lost answer: {stats}");

    let dump = sim.dump();
    let mut duplicates = Vec::new();
    for (section, name) in [
        ("roles", "Queue Reader"),
        ("oauth_clients", "Acme API"),
        ("groups", "Ops"),
    ] {
        let all = counts(&dump, section);
        let n = all.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c);
        assert!(n >= 1, "no {section} named {name}: {all:?}");
        duplicates.extend(all.into_iter().filter(|(_, c)| *c > 1));
    }
    eprintln!("duplicates: {}", duplicates.len());
    assert!(duplicates.is_empty(), "duplicates: {duplicates:?}");

    // Nothing left to do, even with answers still being lost.
    expect(
        &gcrecon(&sim, dir.path(), &["plan", "--detailed-exitcode"]),
        0,
    );

    // The delivered secret is the client's current one.
    sim.faults(serde_json::json!({"lost_response_rate": 0.0}));
    let client_id = expect(&gcrecon(&sim, dir.path(), &["output", "api_client_id"]), 0);
    let secret = expect(
        &gcrecon(
            &sim,
            dir.path(),
            &["output", "api_secret", "--show-sensitive"],
        ),
        0,
    );
    assert!(!sim.login(client_id.trim(), secret.trim()).is_empty());
}
