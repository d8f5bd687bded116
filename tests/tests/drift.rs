//! End-to-end tests of `gcrecon drift` and `gcrecon export`: the real
//! binary against a real `gcsim`, with out-of-band changes made through
//! `/_sim/mutate`, the JSON report checked item by item, exit codes as in
//! docs/drift.md, and API call counts from `/_sim/stats`.

use std::time::Instant;

use serde_json::{json, Value};
use test_support::{Sim, Workdir};

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
name = "Legacy"
permissions = ["routing:queue:view"]

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

[data.user.admin]
email = "admin@acme.example"

[division.support]
name = "Support"
description = "first line"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view", "directory:user:view"]

[group.ops]
name = "Ops"
description = "operators"
members = ["${data.user.admin.id}"]

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]

[integration.app]
type = "embedded-client-app"
name = "Acme App"
enabled = true

[integration.app.config]
url = "https://apps.acme.example/"
displayType = "standalone"
"#;

/// Unmanaged objects of the fixture, by the ignore file's patterns.
const FIXTURE_IGNORE: &str = "# from the gcsim fixture\ndivision.Sales\nrole.Legacy*\n";

/// The org and the directory of one test.
struct Setup(Workdir);

impl std::ops::Deref for Setup {
    type Target = Workdir;
    fn deref(&self) -> &Workdir {
        &self.0
    }
}

impl Setup {
    /// A gcsim with the fixture and the manifest applied.
    fn applied() -> Setup {
        let s = Setup(Workdir::new(FIXTURE, MANIFEST));
        s.run(&["apply", "--auto-approve"]).expect(0);
        s
    }

    fn drift_json(&self, code: i32) -> Value {
        self.run(&["drift", "--format", "json"]).expect(code).json()
    }

    fn state_id(&self, address: &str) -> String {
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(self.path("state/acme.gcstate.json")).unwrap(),
        )
        .unwrap();
        state["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == address)
            .unwrap_or_else(|| panic!("{address} is not in the state"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
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

/// The report's changed keys: address → key → (expected, actual).
fn drifted(report: &Value) -> Vec<(String, String, Value, Value)> {
    let mut out = Vec::new();
    for object in report["drifted"].as_array().unwrap() {
        for c in object["changes"].as_array().unwrap() {
            out.push((
                object["address"].as_str().unwrap().to_owned(),
                c["key"].as_str().unwrap().to_owned(),
                c["expected"].clone(),
                c["actual"].clone(),
            ));
        }
    }
    out
}

fn unmanaged(report: &Value) -> Vec<String> {
    report["unmanaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{}.{}",
                u["kind"].as_str().unwrap(),
                u["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn coverage(report: &Value, kind: &str) -> (u64, u64) {
    let c = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no coverage of {kind}: {report}"));
    (c["managed"].as_u64().unwrap(), c["total"].as_u64().unwrap())
}

#[test]
fn a_clean_org_exits_0_once_known_objects_are_ignored() {
    let s = Setup::applied();
    let state_before = std::fs::read_to_string(s.path("state/acme.gcstate.json")).unwrap();

    // Unmanaged objects of the managed kinds are findings: exit 2.
    let report = s.drift_json(2);
    assert!(drifted(&report).is_empty(), "{report:#}");
    assert_eq!(report["missing"], json!([]));
    assert_eq!(
        unmanaged(&report),
        ["division.Sales", "role.Legacy"],
        "built-in roles, the home division and the OAuth client gcrecon runs as are never listed"
    );
    assert_eq!(report["has_drift"], json!(false));
    assert_eq!(coverage(&report, "role"), (1, 2));
    assert_eq!(coverage(&report, "division"), (1, 2));
    assert_eq!(coverage(&report, "oauth_client"), (1, 2));
    assert_eq!(coverage(&report, "integration"), (1, 1));

    // The ignore file silences them: a clean org exits 0.
    s.write(".gcreconignore", FIXTURE_IGNORE);
    let report = s.drift_json(0);
    assert_eq!(report["unmanaged"], json!([]), "{report:#}");
    assert_eq!(
        coverage(&report, "role"),
        (1, 2),
        "ignored objects still count"
    );
    let human = s.run(&["drift"]).expect(0);
    assert!(
        human.stdout.contains("No drift."),
        "{}\n{}",
        human.stdout,
        human.stderr
    );
    assert!(
        human.stderr.contains("2 unmanaged objects left out by"),
        "{}",
        human.stderr
    );
    assert!(
        human
            .stderr
            .contains("oauth_client \"gcrecon-ci\" is the OAuth client gcrecon runs as"),
        "{}",
        human.stderr
    );
    s.run(&["drift", "--format", "markdown"]).expect(0);

    // Drift only reads: the state is untouched, no lock is left behind.
    assert_eq!(
        std::fs::read_to_string(s.path("state/acme.gcstate.json")).unwrap(),
        state_before
    );
    assert!(!s.path("state/acme.gcstate.json.lock").exists());

    // A mistake in the ignore file is an error (1), with a hint.
    s.write(".gcreconignore", "roles.Legacy\n");
    let bad = s.run(&["drift"]).expect(1);
    assert!(
        bad.stderr.contains(".gcreconignore:1")
            && bad.stderr.contains("did you mean `role.Legacy`?"),
        "{}",
        bad.stderr
    );
}

#[test]
fn every_kind_of_out_of_band_change_is_reported() {
    let s = Setup::applied();
    s.write(".gcreconignore", FIXTURE_IGNORE);
    s.drift_json(0);
    let dump = s.sim.dump();
    let agent = user_id(&dump, "agent@acme.example");
    let admin = user_id(&dump, "admin@acme.example");
    let client_id = s.state_id("oauth_client.api");
    s.sim.mutate(json!([
        {"kind": "role", "name": "Queue Reader", "set": {"name": "Queue Reader (old)"}},
        {"kind": "role", "name": "Queue Reader (old)", "remove_permissions": ["directory:user:view"]},
        {"kind": "oauth_client", "name": "Acme API", "delete": true},
        {"kind": "group", "name": "Ops", "add_members": ["agent@acme.example"]},
        {"kind": "integration", "name": "Acme App", "set": {"intendedState": "DISABLED"}},
        {"kind": "integration", "name": "Acme App", "set": {"config": {"properties": {"url": "https://evil.example/"}}}},
        {"kind": "division", "name": "Support", "set": {"description": "second line"}},
        {"kind": "group", "create": {"name": "Hand made"}},
    ]));

    let report = s.drift_json(2);
    assert_eq!(report["has_drift"], json!(true));
    let mut members = vec![admin.clone(), agent];
    members.sort();
    assert_eq!(
        drifted(&report),
        [
            (
                "division.support".into(),
                "description".into(),
                json!("first line"),
                json!("second line")
            ),
            (
                "role.reader".into(),
                "name".into(),
                json!("Queue Reader"),
                json!("Queue Reader (old)")
            ),
            (
                "role.reader".into(),
                "permissions".into(),
                json!(["routing:queue:view", "directory:user:view"]),
                json!(["routing:queue:view"])
            ),
            (
                "group.ops".into(),
                "members".into(),
                json!([admin]),
                json!(members)
            ),
            (
                "integration.app".into(),
                "config".into(),
                json!({"displayType": "standalone", "url": "https://apps.acme.example/"}),
                json!({"displayType": "standalone", "url": "https://evil.example/"})
            ),
            (
                "integration.app".into(),
                "enabled".into(),
                json!(true),
                json!(false)
            ),
        ],
        "{report:#}"
    );
    let missing = &report["missing"][0];
    assert_eq!(
        (&missing["address"], &missing["kind"], &missing["id"]),
        (
            &json!("oauth_client.api"),
            &json!("oauth_client"),
            &json!(client_id)
        ),
        "{report:#}"
    );
    assert_eq!(report["missing"].as_array().unwrap().len(), 1);
    // Without an actor, /_sim/mutate acts as the first fixture user.
    assert_eq!(missing["audit"][0]["action"], "Delete");
    assert_eq!(missing["audit"][0]["actor"]["name"], "Ada Admin");
    assert_eq!(unmanaged(&report), ["group.Hand made"]);
    assert_eq!(
        report["summary"],
        json!({"drifted": 4, "missing": 1, "unmanaged": 1})
    );

    // The other formats say the same and exit the same.
    let human = s.run(&["drift", "--no-color"]).expect(2);
    for expected in [
        "role.reader (id",
        "Queue Reader (old)",
        "oauth_client.api (id",
        "Hand made",
        "gcrecon apply",
        "Drift: 4 changed, 1 missing, 1 unmanaged.",
    ] {
        assert!(
            human.stdout.contains(expected),
            "no {expected:?} in\n{}",
            human.stdout
        );
    }
    let markdown = s.run(&["drift", "--format", "markdown"]).expect(2);
    assert!(markdown
        .stdout
        .starts_with("Drift: 4 changed, 1 missing, 1 unmanaged."));

    // Who wins: apply restores the manifest, and drift is clean again
    // (the hand-made group stays someone else's: ignore it).
    s.run(&["apply", "--auto-approve"]).expect(0);
    s.write(
        ".gcreconignore",
        &format!("{FIXTURE_IGNORE}group.Hand made\n"),
    );
    s.drift_json(0);
}

#[test]
fn drift_over_a_large_org_lists_whole_kinds() {
    let s = Setup::applied();
    s.write(".gcreconignore", &format!("{FIXTURE_IGNORE}*.sim-*\n"));
    let populated = s.sim.populate(json!({
        "roles": 5000, "groups": 3000, "oauth_clients": 1000, "integrations": 1000
    }));
    assert_eq!(populated["created"]["roles"], 5000);
    s.sim.reset_stats();
    let started = Instant::now();
    let report = s.drift_json(0);
    let elapsed = started.elapsed();
    assert_eq!(coverage(&report, "role"), (1, 5002));
    assert_eq!(coverage(&report, "group"), (1, 3001));
    assert_eq!(coverage(&report, "oauth_client"), (1, 1002));
    assert_eq!(coverage(&report, "integration"), (1, 1001));

    let stats = s.sim.stats();
    let by_route = stats["by_route"].as_object().unwrap();
    let calls = |route: &str| by_route.get(route).and_then(Value::as_u64).unwrap_or(0);
    let total = stats["total"].as_u64().unwrap();
    eprintln!(
        "drift over 10,000 objects: {total} API calls in {:.1}s: {by_route:?}",
        elapsed.as_secs_f64()
    );
    // Paged listings at the maximum page size: 100 roles, 500 groups, 100
    // integrations per page, every client in one answer.
    assert!(
        calls("GET /api/v2/authorization/roles") <= 52,
        "{by_route:?}"
    );
    assert!(calls("GET /api/v2/groups") <= 8, "{by_route:?}");
    assert!(calls("GET /api/v2/integrations") <= 12, "{by_route:?}");
    assert_eq!(calls("GET /api/v2/oauth/clients"), 1, "{by_route:?}");
    // Per-object reads only for the few managed objects that need them
    // (a group's members, an integration's config), never per listed object.
    for route in [
        "GET /api/v2/groups/{groupId}/members",
        "GET /api/v2/integrations/{integrationId}/config/current",
        "GET /api/v2/integrations/{integrationId}",
        "GET /api/v2/groups/{groupId}",
    ] {
        assert!(calls(route) <= 1, "{route}: {by_route:?}");
    }
    assert_eq!(
        calls("GET /api/v2/authorization/roles/{roleId}/subjectgrants"),
        0
    );
    assert_eq!(calls("GET /api/v2/authorization/roles/{roleId}"), 0);
    assert_eq!(calls("GET /api/v2/oauth/clients/{clientId}"), 0);
    assert!(total <= 90, "{total} calls: {by_route:?}");
    let writes: Vec<&String> = by_route
        .keys()
        .filter(|r| !r.starts_with("GET ") && *r != "POST /oauth/token" && !r.ends_with("/search"))
        .collect();
    assert!(writes.is_empty(), "drift must not write: {writes:?}");
}

#[test]
fn an_exported_org_plans_empty() {
    let s = Setup::applied();
    s.sim
        .populate(json!({"roles": 30, "groups": 10, "oauth_clients": 5, "integrations": 5}));
    s.sim.mutate(json!([
        {"kind": "role", "create": {"name": "eMite Adapter", "permissions": ["routing:queue:view"]}},
        {"kind": "role", "create": {"name": "emite adapter", "permissions": ["directory:user:view"], "description": "costs ${x}"}},
    ]));
    let run = s.run(&["export", "-o", "exported/acme.toml"]).expect(0);
    assert!(run.stdout.contains("exported/acme.toml"), "{}", run.stdout);
    let manifest = std::fs::read_to_string(s.path("exported/acme.toml")).unwrap();
    for expected in [
        "[role.queue_reader]",
        "[role.emite_adapter]",
        "[role.emite_adapter_2]",
        "description = \"costs $${x}\"",
        "[data.role.admin]\nname = \"admin\"",
        "roles = [{ role = \"${role.queue_reader.id}\", divisions = [\"*\"] }]",
        "roles = [{ role = \"${data.role.admin.id}\" }]",
        "prevent_destroy = true",
        "[integration.acme_app]",
        "[division.sales]",
        "[oauth_client.sim_oauth_client_0000",
    ] {
        assert!(
            manifest.contains(expected),
            "no {expected:?} in\n{manifest}"
        );
    }
    assert!(!manifest.contains("ci-secret"), "no secrets");
    let state = std::fs::read_to_string(s.path("exported/state/acme.gcstate.json")).unwrap();
    assert!(!state.contains("ci-secret"), "no secrets");

    // The round trip: plan the export, no changes.
    s.run(&["plan", "-m", "exported/acme.toml", "--detailed-exitcode"])
        .expect(0);
    s.run(&["validate", "-m", "exported/acme.toml"]).expect(0);
    // Everything is managed now: nothing unmanaged, nothing drifted.
    let report = s
        .run(&["drift", "-m", "exported/acme.toml", "--format", "json"])
        .expect(0)
        .json();
    assert_eq!(coverage(&report, "role"), (34, 34));
    assert_eq!(coverage(&report, "group"), (11, 11));

    // Only some kinds: the others become data sources, and still plan empty.
    s.run(&["export", "--kinds", "oauth_client", "-o", "clients.toml"])
        .expect(0);
    let clients = std::fs::read_to_string(s.path("clients.toml")).unwrap();
    assert!(
        clients.contains("[data.role.queue_reader]\nname = \"Queue Reader\""),
        "{clients}"
    );
    assert!(!clients.contains("[role."), "{clients}");
    s.run(&["plan", "-m", "clients.toml", "--detailed-exitcode"])
        .expect(0);

    // An existing manifest is never overwritten by accident.
    let again = s.run(&["export", "-o", "clients.toml"]).expect(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let bad = s.run(&["export", "--kinds", "roles"]).expect(1);
    assert!(
        bad.stderr.contains("did you mean `role`?"),
        "{}",
        bad.stderr
    );
}

/// A request to the simulated API with a bearer token; answers the JSON body.
fn api(sim: &Sim, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", sim.url()),
        )
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().unwrap();
    let status = resp.status();
    let text = resp.text().unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// `(action, actor kind, actor name, gcrecon)` of a finding's audit entries.
fn audit_of(finding: &Value) -> Vec<(String, String, String, bool)> {
    finding["audit"]
        .as_array()
        .unwrap_or_else(|| panic!("no audit list: {finding}"))
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"]["kind"].as_str().unwrap().to_owned(),
                e["actor"]["name"].as_str().unwrap_or("").to_owned(),
                e["actor"]["gcrecon"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn finding<'a>(report: &'a Value, list: &str, field: &str, value: &str) -> &'a Value {
    report[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[field] == value)
        .unwrap_or_else(|| panic!("no {list} finding with {field} {value}: {report:#}"))
}

#[test]
fn findings_are_attributed_to_named_users_and_clients_in_every_format() {
    let s = Setup::applied();
    s.write(".gcreconignore", FIXTURE_IGNORE);
    // Another pipeline: an OAuth client of its own, made through /_sim/mutate.
    let dump = s.sim.dump();
    let id_named = |list: &str, name: &str| {
        dump[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap()["id"]
            .clone()
    };
    let vendor = s.sim.mutate(json!({
        "kind": "oauth_client",
        "create": {"name": "vendor-sync", "roleDivisions": [
            {"roleId": id_named("roles", "admin"), "divisionId": id_named("divisions", "Home")}
        ]},
        "actor": "agent@acme.example"
    }));
    let vendor_id = vendor["results"][0]["id"].as_str().unwrap().to_owned();
    s.write(
        ".gcreconignore",
        &format!("{FIXTURE_IGNORE}oauth_client.vendor-sync\n"),
    );
    let reader = s.state_id("role.reader");
    let ops = s.state_id("group.ops");

    // Through the API: Ada (a user token) edits the role; the vendor's
    // client deletes the group.
    let ada = s.sim.user_token("admin@acme.example");
    api(
        &s.sim,
        &ada,
        "PUT",
        &format!("/api/v2/authorization/roles/{reader}"),
        Some(json!({"name": "Queue Reader", "permissionPolicies": [
            {"domain": "routing", "entityName": "queue", "actionSet": ["edit", "view"]},
            {"domain": "directory", "entityName": "user", "actionSet": ["view"]},
        ]})),
    );
    let vendor_token = s.sim.client_token(&vendor_id);
    api(
        &s.sim,
        &vendor_token,
        "DELETE",
        &format!("/api/v2/groups/{ops}"),
        None,
    );
    // Through /_sim/mutate with actors: Alex edits the division, the
    // vendor's client adds a group nobody manages.
    s.sim.mutate(json!([
        {"kind": "division", "name": "Support", "set": {"description": "second line"}, "actor": "agent@acme.example"},
        {"kind": "group", "create": {"name": "Shadow"}, "actor": format!("client:{vendor_id}")},
    ]));

    s.sim.reset_stats();
    let report = s.drift_json(2);
    assert_eq!(report.get("audit_note"), Some(&Value::Null), "{report:#}");
    // Findings in two audit services (roles and divisions; groups): one
    // query each, whatever the number of findings.
    let stats = s.sim.stats();
    assert_eq!(
        stats["by_route"]["POST /api/v2/audits/query/realtime"], 2,
        "{stats}"
    );
    assert_eq!(
        stats["by_route"]["GET /api/v2/audits/query/servicemapping"], 1,
        "{stats}"
    );
    let role = finding(&report, "drifted", "address", "role.reader");
    assert_eq!(
        audit_of(role),
        [
            ("Update".into(), "user".into(), "Ada Admin".into(), false),
            ("Create".into(), "client".into(), "gcrecon-ci".into(), true),
        ],
        "{role:#}"
    );
    let update = &role["audit"][0];
    assert_eq!(update["service"], "PeoplePermissions");
    let perms = update["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["property"] == "permissionPolicies")
        .unwrap();
    assert!(perms["new"]
        .as_array()
        .unwrap()
        .contains(&json!("routing:queue:edit")));
    assert!(!perms["old"]
        .as_array()
        .unwrap()
        .contains(&json!("routing:queue:edit")));

    let division = finding(&report, "drifted", "address", "division.support");
    assert_eq!(
        audit_of(division)[0],
        ("Update".into(), "user".into(), "Alex Agent".into(), false)
    );
    assert_eq!(
        division["audit"][0]["changes"],
        json!([{"property": "description", "old": ["first line"], "new": ["second line"]}])
    );
    let group = finding(&report, "missing", "address", "group.ops");
    assert_eq!(
        audit_of(group)[0],
        (
            "Delete".into(),
            "client".into(),
            "vendor-sync".into(),
            false
        )
    );
    assert_eq!(group["audit"][0]["actor"]["id"], vendor_id.as_str());
    let shadow = finding(&report, "unmanaged", "name", "Shadow");
    assert_eq!(
        audit_of(shadow),
        [(
            "Create".into(),
            "client".into(),
            "vendor-sync".into(),
            false
        )]
    );
    assert!(!report.to_string().contains("ci-secret"));

    let human = s.run(&["drift", "--no-color"]).expect(2);
    let markdown = s.run(&["drift", "--format", "markdown"]).expect(2);
    for text in [&human.stdout, &markdown.stdout] {
        for expected in [
            "Update by user Ada Admin (",
            "Create by OAuth client gcrecon-ci (ci-client) [gcrecon's own client]",
            "Delete by OAuth client vendor-sync (",
            "Update by user Alex Agent (",
            "description: \"first line\" -> \"second line\"",
            "permissionPolicies: + \"routing:queue:edit\"",
        ] {
            assert!(text.contains(expected), "no {expected:?} in\n{text}");
        }
        assert!(!text.contains("audits:audit:view"), "{text}");
    }

    // --no-audit: the same findings, no audit query.
    s.sim.reset_stats();
    let plain = s
        .run(&["drift", "--format", "json", "--no-audit"])
        .expect(2)
        .json();
    assert_eq!(plain["summary"], report["summary"]);
    assert_eq!(
        finding(&plain, "drifted", "address", "role.reader")["audit"],
        json!([])
    );
    let stats = s.sim.stats();
    assert!(
        !stats["by_route"].to_string().contains("/api/v2/audits"),
        "{stats}"
    );
}

#[test]
fn a_caller_without_audit_permission_gets_the_drift_and_one_note() {
    let s = Setup::applied();
    s.write(".gcreconignore", FIXTURE_IGNORE);
    s.sim.mutate(json!([
        {"kind": "division", "name": "Support", "set": {"description": "second line"}, "actor": "agent@acme.example"},
        // gcrecon's client holds `admin`: take the audit permission out of it.
        {"kind": "role", "name": "admin", "remove_permissions": ["audits:audit:view"]},
    ]));
    s.sim.reset_stats();
    let report = s.drift_json(2);
    assert_eq!(
        drifted(&report),
        [(
            "division.support".into(),
            "description".into(),
            json!("first line"),
            json!("second line")
        )]
    );
    assert_eq!(
        finding(&report, "drifted", "address", "division.support")["audit"],
        json!([])
    );
    let note = report["audit_note"].as_str().unwrap();
    assert!(note.contains("audits:audit:view"), "{note}");
    let stats = s.sim.stats();
    assert!(
        !stats["by_route"].to_string().contains("/api/v2/audits"),
        "{stats}"
    );

    for args in [
        &["drift", "--no-color"][..],
        &["drift", "--format", "markdown"][..],
    ] {
        let out = s.run(args).expect(2);
        assert_eq!(
            out.stdout.matches("audits:audit:view").count(),
            1,
            "the note once:\n{}",
            out.stdout
        );
        assert!(out.stdout.contains("division.support"), "{}", out.stdout);
    }
}

#[test]
fn attribution_costs_a_bounded_number_of_calls() {
    let s = Setup::applied();
    s.write(".gcreconignore", FIXTURE_IGNORE);
    let mut made = 0usize;
    for n in [1usize, 100, 1000] {
        // Unmanaged groups, each made by a named user through /_sim/mutate.
        let ops: Vec<Value> = (made..n)
            .map(|i| json!({"kind": "group", "create": {"name": format!("hand-{i:04}")}, "actor": "agent@acme.example"}))
            .collect();
        s.sim.mutate(Value::Array(ops));
        made = n;
        s.sim.reset_stats();
        let report = s.drift_json(2);
        let unmanaged = report["unmanaged"].as_array().unwrap();
        assert_eq!(unmanaged.len(), n);
        assert!(
            unmanaged
                .iter()
                .all(|u| u["audit"][0]["actor"]["name"] == "Alex Agent"),
            "every finding attributed"
        );
        let stats = s.sim.stats();
        let by_route = stats["by_route"].as_object().unwrap();
        let calls = |route: &str| by_route.get(route).and_then(Value::as_u64).unwrap_or(0);
        let realtime = calls("POST /api/v2/audits/query/realtime");
        let mapping = calls("GET /api/v2/audits/query/servicemapping");
        eprintln!(
            "attribution of {n} findings: {realtime} realtime queries, {mapping} service mapping, {} calls in all",
            stats["total"]
        );
        assert_eq!(mapping, 1);
        // One query per 100 objects of a service, one page each.
        assert_eq!(realtime, n.div_ceil(100) as u64, "{by_route:?}");
        assert_eq!(
            calls("GET /api/v2/groups/{groupId}"),
            0,
            "no read per object"
        );
    }
}
