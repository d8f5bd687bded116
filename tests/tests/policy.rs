//! End-to-end tests of policy checks (`--policy DIR`, `GCRECON_POLICY`,
//! `gcrecon policy test`) and of the plan JSON they read: the real
//! `gcrecon` against gcsim, outcomes checked in `/_sim/dump`.
//!
//! - a plan that violates the starter policies (`examples/policies`) is
//!   printed, then fails (exit 1) in every format, saves no plan file and
//!   changes nothing; `apply` refuses it the same way;
//! - a clean plan passes and applies; `warn` messages are printed and do
//!   not block;
//! - `gcrecon policy test` runs the starter set's own tests;
//! - a Rego syntax error, or a `deny` that is not a set of messages, is an
//!   error naming file and line, never a pass;
//! - `--format json` and a saved plan validate against
//!   `docs/plan-json.schema.json` and have the same shape;
//! - every example manifest passes the starter set.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use test_support::{bin_path, temp_dir, Sim, Workdir};

const FIXTURE: &str = r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[users]]
email = "admin@acme.example"
name = "Ada Admin"
division = "Home"
roles = ["admin"]

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

/// Passes the starter set: a named permission, a client-credentials client.
const CLEAN: &str = r#"
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

/// Violates the starter set twice: every right of the authorization domain
/// (which grants any role), and the admin role on a client.
const VIOLATING: &str = r#"
[gcrecon]
version = 1
name = "acme"

[role.everything]
name = "Everything"
permissions = ["authorization:*:*"]

[data.role.admin]
name = "admin"

[oauth_client.vendor]
name = "Vendor"
grant_type = "client_credentials"
roles = [{ role = "${data.role.admin.id}", divisions = ["*"] }]
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}

fn starter() -> String {
    repo_root()
        .join("examples")
        .join("policies")
        .display()
        .to_string()
}

/// The org as gcsim holds it, without its counters and clocks.
fn org(w: &Workdir) -> Value {
    let mut dump = w.sim.dump();
    if let Some(fields) = dump.as_object_mut() {
        for volatile in ["stats", "audit", "now", "tokens"] {
            fields.remove(volatile);
        }
    }
    dump
}

fn names(dump: &Value, kind: &str) -> Vec<String> {
    dump[kind]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_violating_plan_is_blocked_in_every_format_and_changes_nothing() {
    let w = Workdir::new(FIXTURE, VIOLATING);
    let policy = starter();
    let before = org(&w);

    let human = w
        .run(&["plan", "--no-color", "--policy", &policy])
        .expect(1);
    assert!(
        human
            .stdout
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "the plan is printed before the verdict:\n{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("2 denied")
            && human
                .stdout
                .contains("role.everything: the permission authorization:*:*")
            && human
                .stdout
                .contains("oauth_client.vendor: an OAuth client must not hold the admin role"),
        "{}",
        human.stdout
    );
    assert!(
        human.stderr.contains("the plan violates 2 policy rules"),
        "{}",
        human.stderr
    );

    let doc = w
        .run(&["plan", "--format", "json", "--policy", &policy])
        .expect(1)
        .json();
    assert_eq!(doc["policy"]["passed"], false, "{doc:#}");
    assert_eq!(
        doc["policy"]["deny"].as_array().unwrap().len(),
        2,
        "{doc:#}"
    );
    assert_eq!(doc["policy"]["deny"][0]["rule"], "data.main.deny");

    let md = w
        .run(&["plan", "--format", "markdown", "--policy", &policy])
        .expect(1);
    assert!(
        md.stdout.starts_with("**Policy checks (")
            && md.stdout.contains("| ⛔ deny | `data.main.deny` |"),
        "the table comes first:\n{}",
        md.stdout
    );
    let table = md.stdout.find("| ⛔ deny").unwrap();
    let summary = md.stdout.find("Plan: 2 to add").unwrap();
    assert!(table < summary, "{}", md.stdout);

    // The policy comes from the environment too, and no plan file is saved.
    let saved = w.run_env(
        &["plan", "--out", "blocked.plan"],
        &[("GCRECON_POLICY", policy.as_str())],
    );
    let saved = saved.expect(1);
    assert!(
        saved.stderr.contains("the plan was not saved"),
        "{}",
        saved.stderr
    );
    assert!(!w.path("blocked.plan").exists());
    assert_eq!(org(&w), before, "a blocked plan changed the organization");
}

#[test]
fn apply_refuses_a_violating_plan_and_changes_nothing() {
    let w = Workdir::new(FIXTURE, VIOLATING);
    let before = org(&w);
    let run = w
        .run(&[
            "apply",
            "--auto-approve",
            "--no-color",
            "--policy",
            &starter(),
        ])
        .expect(1);
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert!(run.stdout.contains("2 denied"), "{}", run.stdout);
    let after = org(&w);
    assert_eq!(after, before, "a refused apply changed the organization");
    assert!(!names(&after, "roles").contains(&"Everything".to_owned()));
    assert!(!w.path("state/acme.gcstate.json").exists());

    // The same through GCRECON_POLICY.
    w.run_env(
        &["apply", "--auto-approve"],
        &[("GCRECON_POLICY", starter().as_str())],
    )
    .expect(1);
    assert_eq!(org(&w), before);

    // A plan saved without policies is refused when applied with them.
    w.run(&["plan", "--out", "unchecked.plan"]).expect(0);
    let run = w
        .run(&["apply", "unchecked.plan", "--policy", &starter()])
        .expect(1);
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert_eq!(org(&w), before);
}

#[test]
fn a_clean_plan_passes_and_applies_and_warnings_do_not_block() {
    let w = Workdir::new(FIXTURE, CLEAN);
    // A warn-only policy beside the starter set's deny rules, in package gcrecon.
    let dir = temp_dir();
    for entry in std::fs::read_dir(starter()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.path().join("review.rego"),
        r#"package gcrecon

warn contains msg if {
	some rc in input.resource_changes
	rc.type == "oauth_client"
	"create" in rc.change.actions
	msg := sprintf("%s is a new OAuth client: send its id to the vendor", [rc.address])
}
"#,
    )
    .unwrap();
    let policy = dir.path().display().to_string();

    let plan = w
        .run(&[
            "plan",
            "--no-color",
            "--policy",
            &policy,
            "--out",
            "clean.plan",
        ])
        .expect(0);
    assert!(plan.stdout.contains("0 denied"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("warn: oauth_client.api is a new OAuth client: send its id to the vendor (data.gcrecon.warn)"),
        "{}",
        plan.stdout
    );
    let doc = w
        .run(&["plan", "--format", "json", "--policy", &policy])
        .expect(0)
        .json();
    assert_eq!(doc["policy"]["passed"], true);
    assert!(!doc["policy"]["warn"].as_array().unwrap().is_empty());

    w.run(&["apply", "clean.plan", "--policy", &policy])
        .expect(0);
    let dump = w.sim.dump();
    assert!(names(&dump, "roles").contains(&"Queue Reader".to_owned()));
    let client = dump["oauth_clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Acme API")
        .expect("the client was created");
    assert_eq!(client["authorizedGrantType"], "CLIENT-CREDENTIALS");

    // Apply without a saved plan checks too, and passes a no-op.
    w.run(&["apply", "--auto-approve", "--policy", &policy])
        .expect(0);
}

#[test]
fn policy_test_runs_the_starter_set() {
    let dir = repo_root().join("examples").join("policies");
    let rules = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .flat_map(|text| {
            text.lines()
                .filter(|l| l.starts_with("test_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .count();
    assert!(rules >= 8, "the starter set has {rules} tests");
    let out = Command::new(bin_path("gcrecon"))
        .args(["policy", "test"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.matches("PASS data.main.test_").count(),
        rules,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{rules} passed, 0 failed, 0 errors")),
        "{stdout}"
    );

    // A failing test fails the command.
    let broken = temp_dir();
    std::fs::write(
        broken.path().join("p.rego"),
        "package main\n\ndeny contains \"always\" if { true }\n\ntest_nothing_denied if {\n\tcount(deny) == 0\n}\n",
    )
    .unwrap();
    let out = Command::new(bin_path("gcrecon"))
        .args(["policy", "test"])
        .arg(broken.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL data.main.test_nothing_denied"),
        "{stdout}"
    );
}

#[test]
fn policy_errors_name_file_and_line_and_never_pass() {
    let w = Workdir::new(FIXTURE, CLEAN);
    let before = org(&w);
    w.write(
        "bad/roles.rego",
        "package main\n\ndeny contains msg if {\n\tmsg := \n}\n",
    );
    for args in [
        vec!["plan", "--policy", "bad"],
        vec!["apply", "--auto-approve", "--policy", "bad"],
        vec!["policy", "test", "bad"],
    ] {
        let run = w.run(&args).expect(1);
        assert!(
            run.stderr.contains("the policy bad/roles.rego:") && run.stderr.contains("hint:"),
            "{args:?}: {}",
            run.stderr
        );
        let location = run.stderr.split("bad/roles.rego:").nth(1).unwrap();
        let line: u32 = location
            .split(':')
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("no line number: {}", run.stderr));
        assert!((3..=5).contains(&line), "{}", run.stderr);
    }
    w.write("odd/odd.rego", "package gcrecon\n\ndeny := 3\n");
    let run = w.run(&["plan", "--policy", "odd"]).expect(1);
    assert!(
        run.stderr.contains("data.gcrecon.deny (odd/odd.rego:3)")
            && run.stderr.contains("not a set of message strings"),
        "{}",
        run.stderr
    );
    w.write("empty/README.md", "nothing here");
    let run = w.run(&["plan", "--policy", "empty"]).expect(1);
    assert!(
        run.stderr.contains("holds no *.rego file"),
        "{}",
        run.stderr
    );
    assert_eq!(org(&w), before);
}

#[test]
fn plan_json_and_saved_plans_validate_against_the_schema_and_share_a_shape() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("docs").join("plan-json.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let check = |what: &str, doc: &Value| {
        let errors: Vec<String> = validator
            .iter_errors(doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{doc:#}");
    };
    let w = Workdir::new(FIXTURE, CLEAN);
    let printed = w
        .run(&["plan", "--format", "json", "--policy", &starter()])
        .expect(0)
        .json();
    check("plan --format json --policy", &printed);
    w.run(&["plan", "--out", "first.plan"]).expect(0);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(w.path("first.plan")).unwrap()).unwrap();
    check("saved plan", &saved);

    // The same document: the saved plan adds `saved`, the printed one `policy`.
    let keys = |doc: &Value, extra: &str| -> Vec<String> {
        doc.as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != extra)
            .cloned()
            .collect()
    };
    assert_eq!(keys(&printed, "policy"), keys(&saved, "saved"));
    assert_eq!(printed["resource_changes"], saved["resource_changes"]);
    assert_eq!(printed["output_changes"], saved["output_changes"]);
    assert_eq!(saved["format_version"], "2");
    let api = printed["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rc| rc["address"] == "oauth_client.api")
        .unwrap();
    assert_eq!(api["type"], "oauth_client");
    assert_eq!(api["mode"], "managed");
    assert_eq!(api["change"]["actions"], json!(["create"]));
    assert_eq!(printed["caller"]["id"], "ci-client");

    // Apply the saved plan, then a replan validates too (updates, ids, versions).
    w.run(&["apply", "first.plan"]).expect(0);
    let replan = w.run(&["plan", "--format", "json"]).expect(0).json();
    check("plan after apply", &replan);
}

const VENDORS: [&str; 5] = ["emite", "pureengage", "nectar", "eightbyeight", "cognigy"];

/// `GCRECON_VAR_*` lines of an example's `gcsim/vars.env`.
fn test_vars(dir: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join("gcsim").join("vars.env")) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn every_example_manifest_passes_the_starter_policies() {
    for vendor in VENDORS {
        let dir = repo_root().join("examples").join(vendor);
        let fixture = std::fs::read_to_string(dir.join("gcsim").join("fixture.toml")).unwrap();
        let region = fixture
            .lines()
            .find_map(|l| {
                let v = l
                    .trim()
                    .strip_prefix("region")?
                    .trim_start()
                    .strip_prefix('=')?;
                Some(v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("examples/{vendor}: no region in the fixture"));
        let sim = Sim::builder().fixture_toml(&fixture).start();
        let work = temp_dir();
        let out = Command::new(bin_path("gcrecon"))
            .args(["plan", "--no-color", "--policy", &starter(), "-m"])
            .arg(&dir)
            .arg("--state")
            .arg(work.path().join("state.json"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GENESYSCLOUD_API_REGION", sim.url())
            .env("GENESYSCLOUD_REGION", &region)
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", sim.admin_client_id())
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", sim.admin_client_secret())
            .envs(test_vars(&dir))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "examples/{vendor} trips the starter policies:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains(": 0 denied,"), "{vendor}: {stdout}");
    }
}
