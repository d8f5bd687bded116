//! End-to-end tests of the `gcrecon` binary against a real `gcsim` process:
//! each test runs the commands a user or CI pipeline would and checks the
//! organization afterwards in `/_sim/dump`, not only exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use test_support::Sim;

const FIXTURE: &str = r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[divisions]]
name = "Sales"

[[users]]
email = "admin@acme.example"
name = "Ada Admin"
division = "Home"
roles = ["admin"]

[[users]]
email = "agent@acme.example"
name = "Alex Agent"
division = "Home"
roles = ["employee"]

[[roles]]
name = "Granter"
permissions = [
  "authorization:role:view", "authorization:role:add", "authorization:role:edit", "authorization:role:delete",
  "authorization:grant:view", "authorization:grant:add", "authorization:grant:delete",
  "authorization:division:view", "directory:user:view",
  "oauth:client:view", "oauth:client:add", "oauth:client:edit", "oauth:client:delete",
]

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]

[[oauth_clients]]
name = "granter"
client_id = "granter-client"
client_secret = "granter-secret"
roles = ["Granter"]
"#;

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "acme"

[data.user.agent]
email = "agent@acme.example"

[division.support]
name = "Support"
description = "first line"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view", "directory:user:view"]

[group.ops]
name = "Ops"
description = "operators"

[role_grant.reader_agents]
role = "${role.reader.id}"
subjects = ["${data.user.agent.id}"]

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]

[output.api_client_id]
value = "${oauth_client.api.client_id}"

[output.api_secret]
value = "${oauth_client.api.secret}"
sensitive = true
"#;

/// How a run logs in.
#[derive(Clone)]
enum Caller {
    Client(&'static str, &'static str),
    Token(String),
}

const CI: Caller = Caller::Client("ci-client", "ci-secret");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(out: &Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A gcsim and a working directory holding the manifest.
struct Setup {
    sim: Sim,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let sim = Sim::builder().fixture_toml(FIXTURE).start();
        let dir = test_support::temp_dir();
        let s = Setup { sim, dir };
        s.write_manifest(MANIFEST);
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write_manifest(&self, text: &str) {
        std::fs::write(self.path("gcrecon.toml"), text).unwrap();
    }

    fn edit_manifest(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path("gcrecon.toml")).unwrap();
        assert!(text.contains(from), "the manifest has no `{from}`");
        self.write_manifest(&text.replacen(from, to, 1));
    }

    fn command(&self, caller: &Caller, args: &[&str]) -> Command {
        let mut cmd = Command::new(test_support::bin_path("gcrecon"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GENESYSCLOUD_API_REGION", self.sim.url())
            .stdin(Stdio::null());
        match caller {
            Caller::Client(id, secret) => {
                cmd.env("GENESYSCLOUD_OAUTHCLIENT_ID", id)
                    .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", secret);
            }
            Caller::Token(t) => {
                cmd.env("GENESYSCLOUD_ACCESS_TOKEN", t);
            }
        }
        cmd
    }

    fn run_as(&self, caller: &Caller, args: &[&str]) -> Run {
        Run::from(
            &self
                .command(caller, args)
                .output()
                .expect("cannot run gcrecon"),
        )
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_as(&CI, args)
    }

    fn state_text(&self) -> String {
        std::fs::read_to_string(self.path("state/acme.gcstate.json")).unwrap_or_default()
    }

    fn state(&self) -> Value {
        serde_json::from_str(&self.state_text()).unwrap()
    }

    /// The state, or `null` before the first write.
    fn state_or_null(&self) -> Value {
        serde_json::from_str(&self.state_text()).unwrap_or(Value::Null)
    }
}

fn named<'a>(dump: &'a Value, list: &str, name: &str) -> Vec<&'a Value> {
    dump[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in the dump"))
        .iter()
        .filter(|o| o["name"] == name)
        .collect()
}

fn one<'a>(dump: &'a Value, list: &str, name: &str) -> &'a Value {
    let found = named(dump, list, name);
    assert_eq!(found.len(), 1, "{list} named {name}: {found:?}");
    found[0]
}

/// Grants of `role_id` held by `subject`.
fn grants_of(dump: &Value, subject: &str, role_id: &str) -> Vec<Value> {
    dump["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["subjectId"] == subject && g["roleId"] == role_id)
        .cloned()
        .collect()
}

fn user_id(dump: &Value, email: &str) -> String {
    dump["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn plan_json(s: &Setup) -> Value {
    let run = s.run(&["plan", "--format", "json"]).expect(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn changes(plan: &Value) -> Vec<(String, Value)> {
    plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["actions"] != json!(["no-op"]))
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_owned(),
                c["change"]["actions"].clone(),
            )
        })
        .collect()
}

#[test]
fn create_replan_update_delete() {
    let s = Setup::new();
    s.run(&["validate"]).expect(0);
    s.run(&["plan", "--detailed-exitcode"]).expect(2);
    let plan = plan_json(&s);
    assert_eq!(plan["format_version"], "2", "{plan:#}");
    assert_eq!(changes(&plan).len(), 5, "{plan:#}");

    let applied = s.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        applied
            .stdout
            .contains("Apply complete! Resources: 5 added"),
        "{}",
        applied.stdout
    );
    let dump = s.sim.dump();
    let role = one(&dump, "roles", "Queue Reader");
    let role_id = role["id"].as_str().unwrap();
    let mut perms: Vec<&str> = role["grantedPermissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    perms.sort_unstable();
    assert_eq!(perms, ["directory:user:view", "routing:queue:view"]);
    let client = one(&dump, "oauth_clients", "Acme API");
    assert_eq!(
        client["roleDivisions"],
        json!([{"roleId": role_id, "divisionId": "*"}])
    );
    one(&dump, "divisions", "Support");
    assert_eq!(one(&dump, "groups", "Ops")["description"], "operators");
    let agent = user_id(&dump, "agent@acme.example");
    assert_eq!(
        grants_of(&dump, &agent, role_id).len(),
        1,
        "the role_grant gave the agent the role"
    );
    assert!(
        grants_of(&dump, "ci-client", role_id).is_empty(),
        "the caller's temporary grant is gone"
    );
    let state = s.state();
    assert!(state["pending"].as_array().is_none_or(Vec::is_empty));
    assert!(state["caller_grants"].as_array().is_none_or(Vec::is_empty));

    // Nothing to do the second time.
    s.run(&["plan", "--detailed-exitcode"]).expect(0);

    // One key changes: only that object is updated.
    s.edit_manifest("description = \"operators\"", "description = \"on call\"");
    let plan = plan_json(&s);
    assert_eq!(
        changes(&plan),
        [("group.ops".to_owned(), json!(["update"]))]
    );
    let version_before = one(&s.sim.dump(), "roles", "Queue Reader")["version"].clone();
    s.run(&["apply", "--auto-approve"]).expect(0);
    let dump = s.sim.dump();
    assert_eq!(one(&dump, "groups", "Ops")["description"], "on call");
    assert_eq!(
        one(&dump, "roles", "Queue Reader")["version"],
        version_before,
        "the role was not touched"
    );
    s.run(&["plan", "--detailed-exitcode"]).expect(0);

    // A block leaves the manifest: its object is deleted.
    s.edit_manifest(
        "[group.ops]\nname = \"Ops\"\ndescription = \"on call\"\n",
        "",
    );
    assert_eq!(
        changes(&plan_json(&s)),
        [("group.ops".to_owned(), json!(["delete"]))]
    );
    s.run(&["apply", "--auto-approve"]).expect(0);
    assert!(named(&s.sim.dump(), "groups", "Ops").is_empty());
    s.run(&["plan", "--detailed-exitcode"]).expect(0);

    // destroy removes everything in reverse order, the client before its role.
    s.run(&["destroy", "--auto-approve"]).expect(0);
    let dump = s.sim.dump();
    assert!(named(&dump, "roles", "Queue Reader").is_empty());
    assert!(named(&dump, "oauth_clients", "Acme API").is_empty());
    assert!(named(&dump, "divisions", "Support").is_empty());
    assert_eq!(s.state()["resources"], json!([]));
}

#[test]
fn a_saved_plan_is_refused_after_a_concurrent_change() {
    let s = Setup::new();
    s.run(&["apply", "--auto-approve"]).expect(0);
    s.edit_manifest(
        "description = \"first line\"",
        "description = \"second line\"",
    );
    s.run(&["plan", "--out", "plan.json"]).expect(0);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["saved"]["version"], 2);
    assert!(saved["state_lineage"].is_string());

    // Someone edits the division behind gcrecon's back.
    s.sim.mutate(
        json!({"kind": "division", "name": "Support", "set": {"description": "edited by hand"}}),
    );
    let refused = s.run(&["apply", "plan.json"]).expect(1);
    assert!(
        refused.stderr.contains("stale") && refused.stderr.contains("division.support"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("gcrecon plan --out"),
        "says to plan again: {}",
        refused.stderr
    );
    assert_eq!(
        one(&s.sim.dump(), "divisions", "Support")["description"],
        "edited by hand",
        "nothing applied"
    );

    // A fresh plan applies; a plan made before another apply is refused.
    s.run(&["plan", "--out", "plan.json"]).expect(0);
    s.run(&["plan", "--out", "old.json"]).expect(0);
    s.run(&["apply", "plan.json"]).expect(0);
    assert_eq!(
        one(&s.sim.dump(), "divisions", "Support")["description"],
        "second line"
    );
    let refused = s.run(&["apply", "old.json"]).expect(1);
    assert!(refused.stderr.contains("serial"), "{}", refused.stderr);
    // The manifest changed since the plan: refused before any network call.
    s.run(&["plan", "--out", "plan.json"]).expect(0);
    s.edit_manifest(
        "description = \"second line\"",
        "description = \"third line\"",
    );
    let refused = s.run(&["apply", "plan.json"]).expect(1);
    assert!(
        refused.stderr.contains("manifest changed"),
        "{}",
        refused.stderr
    );
}

const GRANT_ONLY: &str = r#"
[gcrecon]
version = 1
name = "acme"

[role.reporting]
name = "Reporting NAME"
permissions = ["analytics:conversationDetail:view"]

[oauth_client.reports]
name = "Reports NAME"
grant_type = "client_credentials"
roles = [{ role = "${role.reporting.id}", divisions = ["*"] }]
"#;

#[test]
fn the_caller_is_granted_roles_it_must_give_for_user_and_client_callers() {
    let s = Setup::new();
    let admin_token = s.sim.user_token("admin@acme.example");
    let callers = [
        (
            "user",
            Caller::Token(admin_token),
            user_id(&s.sim.dump(), "admin@acme.example"),
        ),
        (
            "granter",
            Caller::Client("granter-client", "granter-secret"),
            "granter-client".to_owned(),
        ),
    ];
    for (label, caller, caller_id) in callers {
        s.write_manifest(&GRANT_ONLY.replace("NAME", label));
        let workspace = ["--workspace", label];
        let plan = s
            .run_as(&caller, &[&["plan"][..], &workspace].concat())
            .expect(0);
        assert!(
            plan.stdout.contains("caller grant"),
            "the plan shows the grant: {}",
            plan.stdout
        );
        s.run_as(
            &caller,
            &[&["apply", "--auto-approve"][..], &workspace].concat(),
        )
        .expect(0);
        let dump = s.sim.dump();
        let role_id = one(&dump, "roles", &format!("Reporting {label}"))["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let client = one(&dump, "oauth_clients", &format!("Reports {label}"));
        assert_eq!(
            client["roleDivisions"],
            json!([{"roleId": role_id, "divisionId": "*"}]),
            "{label}"
        );
        assert!(
            grants_of(&dump, &caller_id, &role_id).is_empty(),
            "{label}: the temporary grant was removed"
        );
        s.run_as(
            &caller,
            &[&["plan", "--detailed-exitcode"][..], &workspace].concat(),
        )
        .expect(0);
        // Deleting the client needs the role again (it is set inactive first).
        s.run_as(
            &caller,
            &[&["destroy", "--auto-approve"][..], &workspace].concat(),
        )
        .expect(0);
        let dump = s.sim.dump();
        assert!(named(&dump, "oauth_clients", &format!("Reports {label}")).is_empty());
        assert!(named(&dump, "roles", &format!("Reporting {label}")).is_empty());
    }
    assert!(
        s.path("state/acme.user.gcstate.json").exists(),
        "workspaces have their own state"
    );

    // grant_to_caller = "never" makes the plan fail, saying so.
    s.write_manifest(&GRANT_ONLY.replace("NAME", "never").replace(
        "permissions = [\"analytics:conversationDetail:view\"]",
        "permissions = [\"analytics:conversationDetail:view\"]\ngrant_to_caller = \"never\"",
    ));
    let refused = s.run(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains("grant_to_caller = \"never\""),
        "{}",
        refused.stderr
    );
}

/// Every file under `dir`, as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((
                path.clone(),
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    out
}

#[test]
fn secrets_appear_only_in_the_secrets_file() {
    let s = Setup::new();
    let mut runs = vec![
        s.run(&["plan", "--out", "first.json"]).expect(0),
        s.run(&["apply", "--auto-approve", "-vv"]).expect(0),
    ];
    let secrets_path = s.path("state/acme.secrets.json");
    let secrets: Value =
        serde_json::from_str(&std::fs::read_to_string(&secrets_path).unwrap()).unwrap();
    let secret = secrets["oauth_client.api"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_id = secrets["oauth_client.api"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.len() >= 16);
    assert_eq!(
        one(&s.sim.dump(), "oauth_clients", "Acme API")["id"],
        client_id.as_str()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secrets_path)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(
        runs[1].stdout.contains("state/acme.secrets.json"),
        "apply says where: {}",
        runs[1].stdout
    );
    runs.push(
        s.run(&["plan", "--out", "second.json", "--format", "json"])
            .expect(0),
    );
    runs.push(s.run(&["plan", "--format", "markdown"]).expect(0));
    runs.push(s.run(&["output"]).expect(0));
    runs.push(s.run(&["output", "--json"]).expect(0));
    runs.push(s.run(&["state", "show", "oauth_client.api"]).expect(0));
    for run in &runs {
        assert!(
            !run.stdout.contains(&secret) && !run.stderr.contains(&secret),
            "a secret leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    for (path, text) in files_under(s.dir.path()) {
        if path != secrets_path {
            assert!(
                !text.contains(&secret),
                "the secret is in {}",
                path.display()
            );
        }
    }
    // Only on request, from the secrets file.
    let shown = s
        .run(&["output", "api_secret", "--show-sensitive"])
        .expect(0);
    assert_eq!(shown.stdout.trim(), secret);
    assert!(s
        .run(&["output", "api_secret"])
        .expect(1)
        .stderr
        .contains("sensitive"));

    // rotate: a new secret, in the file only.
    let rotated = s.run(&["rotate", "oauth_client.api"]).expect(0);
    let secrets: Value =
        serde_json::from_str(&std::fs::read_to_string(&secrets_path).unwrap()).unwrap();
    let new_secret = secrets["oauth_client.api"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_secret, secret);
    assert!(!rotated.stdout.contains(&new_secret) && !rotated.stderr.contains(&new_secret));
    assert!(!s.state_text().contains(&new_secret));
    s.sim.login(&client_id, &new_secret);
}

#[test]
fn a_locked_state_exits_3_until_unlocked() {
    let s = Setup::new();
    s.run(&["apply", "--auto-approve"]).expect(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "localhost".to_owned(), |h| h.trim().to_owned());
    // Held by this test process: alive, so never broken automatically.
    let lock = json!({"id": "lock-123", "who": "someone@elsewhere", "pid": std::process::id(), "host": host,
                      "operation": "apply", "created": "2026-01-01T00:00:00Z"});
    std::fs::write(s.path("state/acme.gcstate.json.lock"), lock.to_string()).unwrap();
    for args in [
        &["plan"][..],
        &["apply", "--auto-approve"],
        &["destroy", "--auto-approve"],
        &["state", "rm", "group.ops"],
        &["import", "group.ops", "x"],
    ] {
        let run = s.run(args).expect(3);
        assert!(
            run.stderr.contains("lock-123") && run.stderr.contains("someone@elsewhere"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("gcrecon force-unlock lock-123"),
            "{}",
            run.stderr
        );
    }
    s.run(&["force-unlock", "wrong-id"]).expect(1);
    s.run(&["force-unlock", "lock-123"]).expect(0);
    s.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(
        !s.path("state/acme.gcstate.json.lock").exists(),
        "plan releases its lock"
    );

    // A holder that died on this host is broken with a warning.
    let dead = json!({"id": "dead", "who": "x@y", "pid": 4_194_305, "host": host, "operation": "apply", "created": "2026-01-01T00:00:00Z"});
    std::fs::write(s.path("state/acme.gcstate.json.lock"), dead.to_string()).unwrap();
    let run = s.run(&["plan"]).expect(0);
    assert!(run.stderr.contains("stale lock"), "{}", run.stderr);
}

#[test]
fn an_interrupted_create_is_adopted_and_kill_9_loses_nothing() {
    let s = Setup::new();
    // A create whose answer was lost: the state says it was in flight, and
    // the object exists.
    s.run(&["apply", "--auto-approve", "--target", "division.support"])
        .expect(0);
    let mut state = s.state();
    state["pending"] = json!([{"address": "role.reader", "kind": "role", "operation": "create",
                               "name": "Queue Reader", "started": "2026-01-01T00:00:00Z"}]);
    std::fs::write(
        s.path("state/acme.gcstate.json"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
    s.sim.mutate(json!({"kind": "role", "create": {"name": "Queue Reader", "permissions": ["routing:queue:view"]}}));
    let plan = s.run(&["plan"]).expect(0);
    assert!(plan.stdout.contains("interrupted apply"), "{}", plan.stdout);
    s.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        named(&s.sim.dump(), "roles", "Queue Reader").len(),
        1,
        "adopted, not duplicated"
    );
    s.run(&["plan", "--detailed-exitcode"]).expect(0);

    // kill -9 in the middle of an apply, then apply again.
    let groups: String = (0..8)
        .map(|i| format!("\n[group.g{i}]\nname = \"Group {i}\"\n"))
        .collect();
    s.write_manifest(&format!("{MANIFEST}{groups}"));
    s.sim.faults(json!({"latency_ms": 150}));
    let serial_before = s.state()["serial"].as_u64().unwrap();
    let mut child = s
        .command(&CI, &["apply", "--auto-approve", "--parallelism", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while s.state_or_null()["serial"].as_u64().unwrap_or(0) < serial_before + 3
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    s.sim.faults(json!({"latency_ms": 0}));
    let again = s.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        again.stderr.contains("stale lock"),
        "the dead run's lock is broken: {}",
        again.stderr
    );
    let dump = s.sim.dump();
    for i in 0..8 {
        assert_eq!(
            named(&dump, "groups", &format!("Group {i}")).len(),
            1,
            "Group {i}"
        );
    }
    s.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn plan_time_errors_name_the_fix() {
    let s = Setup::new();
    // An unmanaged object with the same name: the exact import command.
    let created = s
        .sim
        .mutate(json!({"kind": "group", "create": {"name": "Ops"}}));
    let id = created["results"][0]["id"].as_str().unwrap().to_owned();
    let refused = s.run(&["plan"]).expect(1);
    assert!(
        refused
            .stderr
            .contains(&format!("gcrecon import group.ops {id}")),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("gcrecon.toml:"),
        "file:line:col: {}",
        refused.stderr
    );
    s.run(&["import", "group.ops", &id]).expect(0);
    s.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(named(&s.sim.dump(), "groups", "Ops").len(), 1);

    // Unknown permission: the closest names.
    s.edit_manifest("\"routing:queue:view\"", "\"routing:queue:veiw\"");
    let refused = s.run(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains("routing:queue:veiw")
            && refused.stderr.contains("routing:queue:view"),
        "{}",
        refused.stderr
    );
    s.edit_manifest("\"routing:queue:veiw\"", "\"routing:queue:view\"");

    // A data source that finds nothing.
    s.edit_manifest("agent@acme.example", "nobody@acme.example");
    let refused = s.run(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains("data.user.agent")
            && refused.stderr.contains("nobody@acme.example"),
        "{}",
        refused.stderr
    );
    s.edit_manifest("nobody@acme.example", "agent@acme.example");

    // No terminal and no --auto-approve: refused, nothing done.
    s.edit_manifest("description = \"operators\"", "description = \"changed\"");
    let refused = s.run(&["apply"]).expect(1);
    assert!(
        refused.stderr.contains("--auto-approve"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        one(&s.sim.dump(), "groups", "Ops")["description"],
        "operators"
    );

    // A state that is not one is refused and left as it is.
    std::fs::write(
        s.path("state/acme.gcstate.json"),
        "{\"format_version\": 1, \"lineage\": ",
    )
    .unwrap();
    let refused = s.run(&["plan"]).expect(1);
    assert!(
        refused.stderr.contains("acme.gcstate.json"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(s.path("state/acme.gcstate.json")).unwrap(),
        "{\"format_version\": 1, \"lineage\": "
    );
}

/// Replace every UUID and every long hex version with a placeholder.
fn redact_ids(text: &str) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let is_hex = |c: char| c.is_ascii_hexdigit();
    while i < bytes.len() {
        let take = |n: usize| {
            bytes
                .get(i..i + n)
                .is_some_and(|s| s.iter().all(|c| is_hex(*c)))
        };
        let uuid = take(8)
            && bytes.get(i + 8) == Some(&'-')
            && bytes
                .get(i + 9..i + 13)
                .is_some_and(|s| s.iter().all(|c| is_hex(*c)))
            && bytes.get(i + 13) == Some(&'-')
            && bytes
                .get(i + 14..i + 18)
                .is_some_and(|s| s.iter().all(|c| is_hex(*c)))
            && bytes.get(i + 18) == Some(&'-')
            && bytes
                .get(i + 19..i + 23)
                .is_some_and(|s| s.iter().all(|c| is_hex(*c)))
            && bytes.get(i + 23) == Some(&'-')
            && bytes
                .get(i + 24..i + 36)
                .is_some_and(|s| s.iter().all(|c| is_hex(*c)));
        let boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if boundary && uuid {
            out.push_str("[id]");
            i += 36;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn plan_renderings_snapshot() {
    let s = Setup::new();
    let human = s.run(&["plan", "--no-color"]).expect(0);
    insta::assert_snapshot!("first_plan_human", redact_ids(&human.stdout));
    let markdown = s.run(&["plan", "--format", "markdown"]).expect(0);
    assert!(markdown.stdout.len() <= 65_000);
    insta::assert_snapshot!("first_plan_markdown", redact_ids(&markdown.stdout));
    s.run(&["apply", "--auto-approve"]).expect(0);
    s.edit_manifest("description = \"operators\"", "description = \"on call\"");
    s.edit_manifest(
        "[oauth_client.api]\nname = \"Acme API\"\ngrant_type = \"client_credentials\"",
        "[oauth_client.api]\nname = \"Acme API\"\ngrant_type = \"code\"",
    );
    let human = s.run(&["plan", "--no-color"]).expect(0);
    insta::assert_snapshot!("update_and_replace_human", redact_ids(&human.stdout));
    let markdown = s.run(&["plan", "--format", "markdown"]).expect(0);
    insta::assert_snapshot!("update_and_replace_markdown", redact_ids(&markdown.stdout));
}

#[test]
fn ctrl_c_stops_cleanly_and_releases_the_lock() {
    let s = Setup::new();
    let groups: String = (0..10)
        .map(|i| format!("\n[group.g{i}]\nname = \"Group {i}\"\n"))
        .collect();
    s.write_manifest(&format!("{MANIFEST}{groups}"));
    s.sim.faults(json!({"latency_ms": 200}));
    let child = s
        .command(&CI, &["apply", "--auto-approve", "--parallelism", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while s.state_or_null()["resources"]
        .as_array()
        .map_or(0, Vec::len)
        < 2
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = Run::from(&child.wait_with_output().unwrap()).expect(1);
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    assert!(
        out.stdout.contains("not started (interrupted)"),
        "{}",
        out.stdout
    );
    assert!(
        !s.path("state/acme.gcstate.json.lock").exists(),
        "the lock is released"
    );
    let recorded = s.state()["resources"].as_array().unwrap().len();
    assert!((2..15).contains(&recorded), "{recorded} recorded");
    s.sim.faults(json!({"latency_ms": 0}));
    s.run(&["apply", "--auto-approve"]).expect(0);
    let dump = s.sim.dump();
    for i in 0..10 {
        assert_eq!(
            named(&dump, "groups", &format!("Group {i}")).len(),
            1,
            "Group {i}"
        );
    }
    s.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn unknown_backends_are_refused_without_echoing_the_url() {
    // postgres:// is covered by tests/tests/postgres.rs.
    let s = Setup::new();
    let refused = s
        .run(&["plan", "--backend", "s3://user:hunter2@bucket/gcrecon"])
        .expect(1);
    assert!(
        refused
            .stderr
            .contains("`s3` state backend is not available"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("hunter2"),
        "the URL's password is not echoed"
    );
    s.run(&["plan", "--backend", "local"]).expect(0);
}
