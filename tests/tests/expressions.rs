//! End-to-end tests of the expression language and rule-based users: the
//! real `gcrecon` binary against a real `gcsim`, outcomes checked in
//! `/_sim/dump`. A manifest with for-expressions, a splat, functions, a
//! conditional, outputs with `for_each`, group members and owners by email,
//! and `data.users` by role and by queue; then misuse, refused at plan time
//! with its place, the address and a hint, and nothing changed.

use std::process::{Command, Stdio};

use serde_json::Value;
use test_support::Sim;

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

[[users]]
email = "alex@acme.example"
name = "Alex Agent"
division = "Home"
roles = ["employee"]

[[users]]
email = "sue@acme.example"
name = "Sue Supervisor"
division = "Home"
roles = ["employee", "supervisor"]

[[queues]]
name = "Support"
members = ["alex@acme.example"]

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "expr"

[variables.directory]
type = "bool"
default = false

[locals]
teams = { ops = "Operators", dev = "Developers" }

[data.users.supervisors]
role = "supervisor"

[data.users.support_agents]
queue = "Support"

[role.reader]
name = "Reader"
permissions = '${concat(["routing:queue:view"], var.directory ? ["directory:user:view"] : [])}'

[group.team]
for_each = "${local.teams}"
name = "${upper(each.key)} ${each.value}"
type = "official"
visibility = "public"
members = ["Alex@Acme.example"]
owners = "${data.users.supervisors.emails}"

[role_grant.agents]
role = "${role.reader.id}"
subjects = "${data.users.support_agents.ids}"

[output.team_ids]
value = "${ {for k, g in group.team : k => g.id} }"

[output.team_name]
for_each = "${local.teams}"
value = "${lower(group.team[each.key].name)}"

[output.names]
value = "${join(\", \", group.team[*].name)}"
"#;

struct Setup {
    sim: Sim,
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Setup {
    fn new() -> Setup {
        let s = Setup {
            sim: Sim::builder().fixture_toml(FIXTURE).start(),
            dir: test_support::temp_dir(),
        };
        s.write(MANIFEST);
        s
    }

    fn write(&self, text: &str) {
        std::fs::write(self.dir.path().join("gcrecon.toml"), text).unwrap();
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.path().join("gcrecon.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "the manifest has no `{from}`");
        self.write(&text.replacen(from, to, 1));
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(test_support::bin_path("gcrecon"))
            .current_dir(self.dir.path())
            .args(args)
            .arg("--no-color")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GENESYSCLOUD_API_REGION", self.sim.url())
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client")
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret")
            .stdin(Stdio::null())
            .output()
            .expect("cannot run gcrecon");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn expect(&self, args: &[&str], code: i32) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code,
            code,
            "`gcrecon {}` exited {}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            r.code,
            r.stdout,
            r.stderr
        );
        r
    }
}

fn find<'a>(dump: &'a Value, list: &str, name: &str) -> &'a Value {
    dump[list]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {list} named {name}"))
}

fn user_id(dump: &Value, email: &str) -> String {
    dump["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["email"] == email)
        .and_then(|u| u["id"].as_str())
        .unwrap_or_else(|| panic!("no user {email}"))
        .to_owned()
}

fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

#[test]
fn expressions_emails_and_rule_based_users_reach_the_org() {
    let s = Setup::new();
    s.expect(&["validate"], 0);
    s.expect(&["apply", "--auto-approve"], 0);
    let org = s.sim.dump();
    let (alex, sue) = (
        user_id(&org, "alex@acme.example"),
        user_id(&org, "sue@acme.example"),
    );

    // Groups from a map for_each, named by functions; members by email
    // (any case), owners by the emails of the supervisor role's holders.
    for name in ["OPS Operators", "DEV Developers"] {
        let g = find(&org, "groups", name);
        assert_eq!(
            strings(&g["memberIds"]),
            std::slice::from_ref(&alex),
            "{name}"
        );
        assert_eq!(
            strings(&g["ownerIds"]),
            std::slice::from_ref(&sue),
            "{name}"
        );
    }
    // A conditional inside concat: the optional permission is off.
    let reader = find(&org, "roles", "Reader");
    assert_eq!(
        strings(&reader["grantedPermissions"]),
        ["routing:queue:view"]
    );
    // data.users by queue: the Support queue's agent holds the grant.
    let reader_id = reader["id"].as_str().unwrap().to_owned();
    let holders: Vec<String> = org["grants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["roleId"] == reader_id.as_str())
        .filter_map(|g| g["subjectId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(holders, std::slice::from_ref(&alex));

    // Outputs: a map by for-expression, one output per key, a splat.
    let out = s.expect(&["output", "--json"], 0);
    let outputs: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        outputs["team_ids"]["value"]["ops"],
        find(&org, "groups", "OPS Operators")["id"]
    );
    assert_eq!(
        outputs["team_ids"]["value"]["dev"],
        find(&org, "groups", "DEV Developers")["id"]
    );
    assert_eq!(outputs["team_name[\"ops\"]"]["value"], "ops operators");
    assert_eq!(outputs["team_name[\"dev\"]"]["value"], "dev developers");
    assert_eq!(outputs["names"]["value"], "DEV Developers, OPS Operators");

    let one = s.expect(&["output", "team_name[\"ops\"]"], 0);
    assert_eq!(one.stdout.trim(), "ops operators");
    let all = s.expect(&["output", "team_name"], 1);
    assert!(
        all.stderr
            .contains("`team_name` has `for_each`; name one instance"),
        "{}",
        all.stderr
    );

    // Emails resolved to ids compare equal to the org: nothing to do.
    s.expect(&["plan", "--detailed-exitcode"], 0);

    // The conditional switched on: the role is updated in place.
    s.expect(&["apply", "--auto-approve", "--var", "directory=true"], 0);
    let org = s.sim.dump();
    let reader = find(&org, "roles", "Reader");
    assert_eq!(reader["id"], reader_id.as_str());
    assert_eq!(
        strings(&reader["grantedPermissions"]),
        ["directory:user:view", "routing:queue:view"]
    );

    // Sue joins the queue behind gcrecon's back: the next apply grants her.
    s.sim.mutate(serde_json::json!({
        "kind": "queue", "name": "Support", "add_members": ["sue@acme.example"]
    }));
    s.expect(&["apply", "--auto-approve", "--var", "directory=true"], 0);
    let org = s.sim.dump();
    let mut holders: Vec<String> = org["grants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["roleId"] == reader_id.as_str())
        .filter_map(|g| g["subjectId"].as_str().map(str::to_owned))
        .collect();
    holders.sort();
    let mut want = vec![alex, sue];
    want.sort();
    assert_eq!(holders, want);
}

#[test]
fn misuse_is_refused_at_plan_time_with_its_place_and_nothing_changes() {
    let s = Setup::new();
    s.expect(&["apply", "--auto-approve"], 0);
    let before = s.sim.dump();

    // An email no user has.
    s.edit(
        "members = [\"Alex@Acme.example\"]",
        "members = [\"Alex@Acme.example\", \"nobody@acme.example\"]",
    );
    let r = s.expect(&["apply", "--auto-approve"], 1);
    for want in [
        "no user has the email \"nobody@acme.example\"",
        "gcrecon.toml:28:11",
        "group.team[\"dev\"]",
        "hint: check the spelling",
    ] {
        assert!(r.stderr.contains(want), "{want}\n{}", r.stderr);
    }
    s.edit(", \"nobody@acme.example\"", "");

    // A function given the wrong type.
    s.edit(
        "concat([\"routing:queue:view\"],",
        "concat(\"routing:queue:view\",",
    );
    let r = s.expect(&["plan"], 1);
    for want in [
        "argument 1 of `concat` must be a list, found string",
        "gcrecon.toml:21:",
        "role.reader",
        "hint: call it as concat(list, list, ...)",
    ] {
        assert!(r.stderr.contains(want), "{want}\n{}", r.stderr);
    }
    s.edit(
        "concat(\"routing:queue:view\",",
        "concat([\"routing:queue:view\"],",
    );

    // An unknown function: found offline.
    s.edit("${upper(each.key)}", "${uper(each.key)}");
    let r = s.expect(&["validate"], 1);
    assert!(
        r.stderr.contains("unknown function `uper`") && r.stderr.contains("did you mean `upper`?"),
        "{}",
        r.stderr
    );

    // Nothing reached the org.
    let after = s.sim.dump();
    for list in ["groups", "roles", "grants"] {
        assert_eq!(before[list], after[list], "{list} changed");
    }
}
