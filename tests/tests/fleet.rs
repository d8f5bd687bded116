//! End-to-end tests of `gcrecon fleet plan|drift -f FLEET.toml`: the real
//! binary against several gcsim organizations at once, each logged in
//! with its own OAuth client (named by `client_id_env`/`client_secret_env`),
//! each with its own state (`state/<manifest>.<workspace>.gcstate.json`)
//! and variables. Checked: the summary's rows (org, counts, error), the
//! exit codes (0 all clean, 2 changes or drift, 1 a workspace failed while
//! the others still finish), that `fleet plan` changes nothing in any
//! organization (`/_sim/dump`) or state, and the fleet file's own errors.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use test_support::{bin_path, temp_dir, Run, Sim};

/// An organization whose OAuth client `<short>-client` / `<short>-secret`
/// may do everything.
fn fixture(name: &str, short: &str) -> String {
    format!(
        r#"
[org]
name = "{name}"
short_name = "{short}"
region = "ap-southeast-2"

[[users]]
email = "admin@{short}.example"
name = "Ada Admin"
division = "Home"
roles = ["admin"]

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "{short}-client"
client_secret = "{short}-secret"
roles = ["admin"]
"#
    )
}

/// One manifest for every organization; `team` differs per workspace.
const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "ops"

[variables.team]
description = "The team the reader role is for"

[role.reader]
name = "${var.team} Reader"
permissions = ["routing:queue:view"]

[group.ops]
name = "Ops"
"#;

/// The organizations of a test and the directory gcrecon runs in.
struct Fleet {
    dir: tempfile::TempDir,
    sims: Vec<(&'static str, Sim)>,
}

impl Fleet {
    /// One gcsim per `(workspace, org name)`.
    fn new(orgs: &[(&'static str, &str)]) -> Fleet {
        let sims = orgs
            .iter()
            .map(|(ws, name)| {
                let sim = Sim::builder().fixture_toml(&fixture(name, ws)).start();
                (*ws, sim)
            })
            .collect();
        let f = Fleet {
            dir: temp_dir(),
            sims,
        };
        f.write("gcrecon.toml", MANIFEST);
        f
    }

    fn sim(&self, ws: &str) -> &Sim {
        &self.sims.iter().find(|(w, _)| *w == ws).unwrap().1
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.dir.path().join(rel), text).unwrap();
    }

    /// A fleet file with a workspace per name, credentials in `<WS>_ID` and
    /// `<WS>_SECRET`, and `team` = the name in capitals.
    fn fleet_file(&self, rel: &str, workspaces: &[&str]) {
        let mut text = String::from("manifest = \"gcrecon.toml\"\n");
        for ws in workspaces {
            let up = ws.to_uppercase();
            text.push_str(&format!(
                "\n[workspace.{ws}]\napi_url = \"{}\"\nclient_id_env = \"{up}_ID\"\nclient_secret_env = \"{up}_SECRET\"\nvars = {{ team = \"{up}\" }}\n",
                self.sim(ws).url()
            ));
        }
        self.write(rel, &text);
    }

    /// The credential variables of every organization (`gamma`'s secret
    /// wrong when `bad` names it).
    fn env(&self, bad: Option<&str>) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (ws, _) in &self.sims {
            let up = ws.to_uppercase();
            env.push((format!("{up}_ID"), format!("{ws}-client")));
            let secret = if bad == Some(*ws) {
                "not-the-secret".to_owned()
            } else {
                format!("{ws}-secret")
            };
            env.push((format!("{up}_SECRET"), secret));
        }
        env
    }

    /// `gcrecon ARGS` in the directory with only `env` (and `PATH`).
    fn run(&self, args: &[&str], env: &[(String, String)]) -> Run {
        let out = Command::new(bin_path("gcrecon"))
            .current_dir(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("cannot run gcrecon");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `gcrecon apply` of workspace `ws`, as a single-organization run.
    fn apply(&self, ws: &str) {
        let sim = self.sim(ws);
        let env = vec![
            ("GENESYSCLOUD_API_REGION".to_owned(), sim.url().to_owned()),
            (
                "GENESYSCLOUD_OAUTHCLIENT_ID".to_owned(),
                format!("{ws}-client"),
            ),
            (
                "GENESYSCLOUD_OAUTHCLIENT_SECRET".to_owned(),
                format!("{ws}-secret"),
            ),
        ];
        let team = format!("team={}", ws.to_uppercase());
        self.run(
            &["apply", "--auto-approve", "--workspace", ws, "--var", &team],
            &env,
        )
        .expect(0);
    }

    fn state(&self, ws: &str) -> Value {
        let path = self.dir.path().join(format!("state/ops.{ws}.gcstate.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

/// The row of workspace `ws` in a JSON summary.
fn row<'a>(summary: &'a Value, ws: &str) -> &'a Value {
    summary["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["workspace"] == ws)
        .unwrap_or_else(|| panic!("no row for {ws}: {summary:#}"))
}

fn role_names(sim: &Sim) -> Vec<String> {
    sim.dump()["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn fleet_drift_reports_every_org_and_one_failure_does_not_stop_the_others() {
    let f = Fleet::new(&[
        ("alpha", "Alpha Org"),
        ("beta", "Beta Org"),
        ("gamma", "Gamma Org"),
    ]);
    for ws in ["alpha", "beta", "gamma"] {
        f.apply(ws);
    }
    // Each workspace got its own variables and its own state.
    assert!(role_names(f.sim("alpha")).contains(&"ALPHA Reader".to_owned()));
    assert!(role_names(f.sim("beta")).contains(&"BETA Reader".to_owned()));
    assert_eq!(f.state("alpha")["resources"].as_array().unwrap().len(), 2);

    // Behind gcrecon's back: beta's role renamed, an unmanaged group added.
    f.sim("beta")
        .mutate(json!({"kind": "role", "name": "BETA Reader", "set": {"name": "Renamed"}}));
    f.sim("beta").mutate(json!({"kind": "group", "create": {"name": "Stray", "type": "official", "visibility": "public"}}));

    f.fleet_file("fleet.toml", &["alpha", "beta", "gamma"]);
    let run = f
        .run(
            &["fleet", "drift", "-f", "fleet.toml", "--format", "json"],
            &f.env(Some("gamma")),
        )
        .expect(1);
    let summary = run.json();
    assert_eq!(summary["command"], "drift");
    assert_eq!(
        summary["summary"],
        json!({"workspaces": 3, "clean": 1, "with_changes": 1, "failed": 1}),
        "{summary:#}"
    );
    let alpha = row(&summary, "alpha");
    assert_eq!(alpha["status"], "clean");
    assert_eq!(alpha["org"]["name"], "Alpha Org");
    assert_eq!(
        alpha["drift"],
        json!({"drifted": 0, "missing": 0, "unmanaged": 0})
    );
    assert!(alpha["api_calls"].as_u64().unwrap() > 0);
    assert!(
        alpha["state"]
            .as_str()
            .unwrap()
            .ends_with("state/ops.alpha.gcstate.json"),
        "{alpha:#}"
    );
    let beta = row(&summary, "beta");
    assert_eq!(beta["status"], "drift");
    assert_eq!(beta["org"]["name"], "Beta Org");
    assert_eq!(
        beta["drift"],
        json!({"drifted": 1, "missing": 0, "unmanaged": 1})
    );
    let gamma = row(&summary, "gamma");
    assert_eq!(gamma["status"], "failed");
    assert_eq!(gamma["org"], Value::Null);
    let message = format!("{} {}", gamma["error"]["message"], gamma["error"]["causes"]);
    assert!(
        message.contains(&format!(
            "cannot connect to Genesys Cloud ({})",
            f.sim("gamma").url()
        )),
        "{message}"
    );
    assert!(gamma["error"]["hint"].is_string(), "{gamma:#}");
    assert!(
        run.stderr.contains("workspace `gamma` failed"),
        "{}",
        run.stderr
    );
    // The wrong secret never shows, nor any right one.
    for secret in ["not-the-secret", "alpha-secret", "beta-secret"] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }

    // Without the failing workspace: drift exits 2; the human table.
    f.fleet_file("two.toml", &["alpha", "beta"]);
    let run = f
        .run(
            &["fleet", "drift", "-f", "two.toml", "--parallelism", "1"],
            &f.env(None),
        )
        .expect(2);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("WORKSPACE  ORG"), "{}", run.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["beta", "Beta", "Org", "drift", "1", "0", "1"]),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Fleet drift: 2 workspaces, 1 clean, 1 with drift, 0 failed."),
        "{}",
        run.stdout
    );

    // Only clean organizations: 0. gamma's right secret now logs in.
    f.fleet_file("clean.toml", &["alpha", "gamma"]);
    let run = f
        .run(
            &["fleet", "drift", "-f", "clean.toml", "--format", "json"],
            &f.env(None),
        )
        .expect(0);
    assert_eq!(row(&run.json(), "gamma")["org"]["name"], "Gamma Org");
}

#[test]
fn fleet_plan_counts_changes_and_changes_nothing() {
    let f = Fleet::new(&[
        ("alpha", "Alpha Org"),
        ("beta", "Beta Org"),
        ("delta", "Delta Org"),
        ("gamma", "Gamma Org"),
    ]);
    f.apply("alpha");
    f.apply("beta");
    f.sim("beta")
        .mutate(json!({"kind": "role", "name": "BETA Reader", "set": {"name": "Renamed"}}));
    // delta has never been applied: its plan creates everything.
    f.fleet_file("fleet.toml", &["alpha", "beta", "delta", "gamma"]);
    let before: Vec<Value> = f.sims.iter().map(|(_, s)| s.dump()).collect();
    let serials = (
        f.state("alpha")["serial"].clone(),
        f.state("beta")["serial"].clone(),
    );

    let run = f
        .run(
            &[
                "fleet",
                "plan",
                "-f",
                "fleet.toml",
                "--format",
                "json",
                "--parallelism",
                "2",
            ],
            &f.env(Some("gamma")),
        )
        .expect(1);
    let summary = run.json();
    assert_eq!(summary["parallelism"], 2);
    assert_eq!(
        row(&summary, "alpha")["changes"],
        json!({"add": 0, "change": 0, "destroy": 0, "any": false})
    );
    assert_eq!(row(&summary, "alpha")["status"], "clean");
    assert_eq!(
        row(&summary, "beta")["changes"],
        json!({"add": 0, "change": 1, "destroy": 0, "any": true})
    );
    assert_eq!(
        row(&summary, "delta")["changes"],
        json!({"add": 2, "change": 0, "destroy": 0, "any": true})
    );
    assert_eq!(row(&summary, "delta")["org"]["name"], "Delta Org");
    assert_eq!(row(&summary, "gamma")["status"], "failed");

    // A plan changes no organization, and writes no state nor lock.
    let after: Vec<Value> = f.sims.iter().map(|(_, s)| s.dump()).collect();
    for ((ws, _), (b, a)) in f.sims.iter().zip(before.iter().zip(&after)) {
        assert_eq!(b, a, "{ws}: the organization changed");
    }
    assert_eq!(
        (
            f.state("alpha")["serial"].clone(),
            f.state("beta")["serial"].clone()
        ),
        serials
    );
    assert!(!f.dir.path().join("state/ops.delta.gcstate.json").exists());
    let locks: Vec<_> = std::fs::read_dir(f.dir.path().join("state"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(locks.is_empty(), "locks left behind: {locks:?}");

    // All reachable: 2 (changes), as a pull-request comment.
    f.fleet_file("ok.toml", &["alpha", "beta", "delta"]);
    let run = f
        .run(
            &["fleet", "plan", "-f", "ok.toml", "--format", "markdown"],
            &f.env(None),
        )
        .expect(2);
    assert!(
        run.stdout.starts_with("### gcrecon fleet plan"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("| `delta` | Delta Org | changes | 2 | 0 | 0 |  |"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("**Fleet plan: 3 workspaces, 1 clean, 2 with changes, 0 failed.**"),
        "{}",
        run.stdout
    );
    // Only alpha: 0.
    f.fleet_file("alpha.toml", &["alpha"]);
    f.run(&["fleet", "plan", "-f", "alpha.toml"], &f.env(None))
        .expect(0);
}

#[test]
fn a_missing_credential_variable_fails_only_its_workspace() {
    let f = Fleet::new(&[("alpha", "Alpha Org"), ("beta", "Beta Org")]);
    f.apply("alpha");
    f.fleet_file("fleet.toml", &["alpha", "beta"]);
    let env: Vec<(String, String)> = f
        .env(None)
        .into_iter()
        .filter(|(k, _)| k != "BETA_SECRET")
        .collect();
    let run = f
        .run(
            &["fleet", "drift", "-f", "fleet.toml", "--format", "json"],
            &env,
        )
        .expect(1);
    let summary = run.json();
    assert_eq!(row(&summary, "alpha")["status"], "clean");
    let beta = &row(&summary, "beta")["error"];
    assert_eq!(
        beta["message"],
        "workspace `beta`: the environment variable BETA_SECRET is not set (client_secret_env at fleet.toml:12:21)",
        "{beta:#}"
    );
    assert!(beta["hint"]
        .as_str()
        .unwrap()
        .contains("export BETA_SECRET"));
    // beta's organization was never called.
    assert_eq!(f.sim("beta").stats()["total"], 0);
}

#[test]
fn fleet_file_errors_stop_before_any_organization_is_called() {
    let f = Fleet::new(&[("alpha", "Alpha Org")]);
    let url = f.sim("alpha").url().to_owned();
    f.write(
        "fleet.toml",
        &format!("manifest = \"gcrecon.toml\"\n\n[workspace.alpha]\napi_url = \"{url}\"\nclient_secret = \"alpha-secret\"\n"),
    );
    let run = f
        .run(&["fleet", "plan", "-f", "fleet.toml"], &f.env(None))
        .expect(1);
    assert!(
        run.stderr
            .contains("fleet.toml:5:1: invalid fleet file: unknown field `client_secret`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(!run.stderr.contains("alpha-secret"), "{}", run.stderr);
    // A manifest that does not load is said once, before any login.
    f.write(
        "fleet.toml",
        &format!("manifest = \"missing.toml\"\n\n[workspace.alpha]\napi_url = \"{url}\"\n"),
    );
    let run = f
        .run(&["fleet", "drift", "-f", "fleet.toml"], &f.env(None))
        .expect(1);
    assert!(
        run.stderr.contains("no manifest at missing.toml"),
        "{}",
        run.stderr
    );
    // --state cannot serve many workspaces.
    let run = f
        .run(
            &["fleet", "drift", "-f", "fleet.toml", "--state", "x.json"],
            &f.env(None),
        )
        .expect(1);
    assert!(run.stderr.contains("--state"), "{}", run.stderr);
    assert_eq!(f.sim("alpha").stats()["total"], 0);
    assert!(!Path::new(&f.dir.path().join("state")).exists());
}
