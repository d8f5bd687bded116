//! The README's commands, run exactly as written: every `gcrecon ...` line
//! of its `sh` blocks goes to `bash -c` unchanged, in a copy of the
//! repository's `examples/` (as on a fresh clone), with the real `gcrecon`
//! first on `PATH` and the environment the README tells the user to set
//! pointing at a gcsim started with the example's fixture. The outcome is
//! checked in `/_sim/dump`. Lines of other kinds are accounted for: the
//! `export` lines are that environment, and the `cargo` lines are run by
//! `.ci/run` (the test suite itself and the demo); any other line fails the
//! test, so a command added to the README is run here or explained.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use test_support::Sim;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives one level below the repository root")
        .to_path_buf()
}

/// The lines of the README's ```sh blocks, comments and blank lines left out.
fn sh_lines(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in readme.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            inside = !inside && trimmed == "```sh";
            continue;
        }
        if inside && !trimmed.is_empty() && !trimmed.starts_with('#') {
            out.push(trimmed.to_owned());
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "state") {
            continue;
        }
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The `[org] region` of a fixture.
fn fixture_region(fixture: &str) -> String {
    fixture
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "region").then(|| v.trim().trim_matches('"').to_owned())
        })
        .expect("the fixture names its region")
}

#[test]
fn the_readme_commands_work_as_written() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let lines = sh_lines(&readme);
    let gcrecon_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with("gcrecon ")).collect();
    assert!(
        gcrecon_lines.len() >= 4,
        "the README shows how to run gcrecon: {lines:#?}"
    );
    for line in &lines {
        let accounted = line.starts_with("gcrecon ")
            || line.starts_with("export GENESYSCLOUD_")
            || line.starts_with("cargo xtask demo")
            || line.starts_with("cargo test --workspace");
        assert!(accounted, "README line not run by any test: {line}");
    }
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    for cargo in ["cargo xtask demo", "cargo test --workspace"] {
        assert!(
            ci.lines().any(|l| l.trim() == cargo),
            ".ci/run runs `{cargo}` as the README writes it"
        );
    }

    // Every example the commands name, with its fixture.
    let examples: Vec<String> = gcrecon_lines
        .iter()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "-m").nth(1))
        .map(str::to_owned)
        .collect();
    let example = examples.first().expect("the commands name an example");
    assert!(
        examples.iter().all(|e| e == example),
        "one example: {examples:?}"
    );
    let fixture = std::fs::read_to_string(root.join(example).join("gcsim/fixture.toml"))
        .expect("the example has a gcsim fixture");
    let sim = Sim::builder().fixture_toml(&fixture).start();

    let clone = test_support::temp_dir();
    copy_dir(&root.join("examples"), &clone.path().join("examples"));
    let bin_dir = test_support::bin_path("gcrecon")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();

    for line in &gcrecon_lines {
        let out = Command::new("bash")
            .arg("-c")
            .arg(line.as_str())
            .current_dir(clone.path())
            .env_clear()
            .env("PATH", &path)
            .env("GENESYSCLOUD_REGION", fixture_region(&fixture))
            .env("GENESYSCLOUD_API_REGION", sim.url())
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", sim.admin_client_id())
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", sim.admin_client_secret())
            .output()
            .expect("cannot run bash");
        assert!(
            out.status.success(),
            "`{line}` failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // What the commands did: a plan for the pull request, the saved plan
    // applied, and the org holds the example's objects.
    let plan_md = std::fs::read_to_string(clone.path().join("plan.md")).expect("plan.md");
    assert!(plan_md.contains("to add"), "{plan_md}");
    let dump = sim.dump();
    let names = |collection: &str| -> Vec<String> {
        dump[collection]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["name"].as_str().map(str::to_owned))
            .collect()
    };
    let manifest =
        std::fs::read_to_string(root.join(example).join("gcrecon.toml")).expect("the manifest");
    let state_dir = clone.path().join(example).join("state");
    let state_file = std::fs::read_dir(&state_dir)
        .expect("apply wrote the state beside the manifest")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".gcstate.json"))
        .expect("a state file");
    let state: Value = serde_json::from_str(&std::fs::read_to_string(state_file).unwrap()).unwrap();
    let resources = state["resources"].as_array().unwrap();
    assert!(!resources.is_empty());
    for r in resources {
        let collection = match r["kind"].as_str().unwrap() {
            "role" => "roles",
            "oauth_client" => "oauth_clients",
            "integration" => "integrations",
            "group" => "groups",
            "division" => "divisions",
            _ => continue,
        };
        let id = r["id"].as_str().unwrap();
        assert!(
            dump[collection]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["id"] == id),
            "{} ({id}) is in gcsim: {:?}",
            r["address"],
            names(collection)
        );
    }
    assert!(
        manifest.contains("[oauth_client."),
        "the example makes a client"
    );
    assert_eq!(
        resources
            .iter()
            .filter(|r| r["kind"] == "oauth_client")
            .count(),
        manifest.matches("[oauth_client.").count()
    );
}
