//! End-to-end tests of changed keys: the plan's diff is handed to the
//! provider, which sends only the requests the changed keys need. Each test
//! applies a manifest, changes one key in it, applies again, and checks the
//! organization (`/_sim/dump`) and the requests the second apply made
//! (`/_sim/stats`): a group whose members alone changed is not `PUT`, an
//! integration whose `enabled` alone changed keeps its configuration
//! version, and a change of the group's own fields leaves its members alone.

use serde_json::{json, Value};
use test_support::Workdir;

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
email = "agent@acme.example"
name = "Alex Agent"
division = "Home"
roles = ["employee"]

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

/// The manifest with the group's members, its description and the
/// integration's `enabled` given.
fn manifest(members: &str, description: &str, enabled: bool) -> String {
    format!(
        r#"
[gcrecon]
version = 1
name = "acme"

[data.user.admin]
email = "admin@acme.example"

[data.user.agent]
email = "agent@acme.example"

[group.ops]
name = "Ops"
description = "{description}"
members = [{members}]

[integration.app]
type = "embedded-client-app"
name = "Acme App"
enabled = {enabled}
config = {{ url = "https://app.acme.example/" }}
"#
    )
}

/// Calls of `route` since the last reset.
fn calls(w: &Workdir, route: &str) -> u64 {
    w.sim.stats()["by_route"][route].as_u64().unwrap_or(0)
}

/// The object of `collection` named `name` in `/_sim/dump`.
fn dumped(w: &Workdir, collection: &str, name: &str) -> Value {
    let dump = w.sim.dump();
    let found: Vec<&Value> = dump[collection]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{collection} named {name}: {found:?}");
    found[0].clone()
}

/// The id of the fixture user with `email`.
fn user_id(w: &Workdir, email: &str) -> String {
    let dump = w.sim.dump();
    dump["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .and_then(|u| u["id"].as_str())
        .unwrap_or_else(|| panic!("no user {email}"))
        .to_owned()
}

/// Apply `manifest` (after a plan that shows exactly `address` changing
/// `key`), then check that a plan is clean; stats are reset before the
/// apply.
fn apply_change(w: &Workdir, manifest: &str, address: &str, key: &str) {
    w.write("gcrecon.toml", manifest);
    let plan = w
        .run(&["plan", "--format", "json", "--detailed-exitcode"])
        .expect(2)
        .json();
    let changes: Vec<&Value> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["change"]["actions"] != json!(["no-op"]) && c["change"]["actions"] != json!(["read"])
        })
        .collect();
    assert_eq!(changes.len(), 1, "one change expected: {plan:#}");
    assert_eq!(changes[0]["address"], address, "{plan:#}");
    assert_eq!(changes[0]["changed_keys"], json!([key]), "{plan:#}");
    w.sim.reset_stats();
    w.run(&["apply", "--auto-approve"]).expect(0);
}

fn applied() -> Workdir {
    let w = Workdir::new(
        FIXTURE,
        &manifest("\"${data.user.admin.id}\"", "operators", true),
    );
    w.run(&["apply", "--auto-approve"]).expect(0);
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
    w
}

#[test]
fn only_members_changed_adds_members_without_a_group_put() {
    let w = applied();
    let before = dumped(&w, "groups", "Ops");
    apply_change(
        &w,
        &manifest(
            "\"${data.user.admin.id}\", \"${data.user.agent.id}\"",
            "operators",
            true,
        ),
        "group.ops",
        "members",
    );
    let after = dumped(&w, "groups", "Ops");
    let mut want = vec![
        user_id(&w, "admin@acme.example"),
        user_id(&w, "agent@acme.example"),
    ];
    want.sort();
    let mut got: Vec<String> = after["memberIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    assert_eq!(got, want, "{after:#}");
    assert_eq!(after["description"], before["description"]);
    assert_eq!(
        calls(&w, "PUT /api/v2/groups/{groupId}"),
        0,
        "members alone changed: the group itself is not PUT"
    );
    assert_eq!(calls(&w, "POST /api/v2/groups/{groupId}/members"), 1);
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn only_group_fields_changed_leaves_members_alone() {
    let w = applied();
    apply_change(
        &w,
        &manifest("\"${data.user.admin.id}\"", "on call", true),
        "group.ops",
        "description",
    );
    let after = dumped(&w, "groups", "Ops");
    assert_eq!(after["description"], "on call", "{after:#}");
    assert_eq!(
        after["memberIds"],
        json!([user_id(&w, "admin@acme.example")]),
        "{after:#}"
    );
    assert_eq!(calls(&w, "PUT /api/v2/groups/{groupId}"), 1);
    assert_eq!(calls(&w, "POST /api/v2/groups/{groupId}/members"), 0);
    assert_eq!(calls(&w, "DELETE /api/v2/groups/{groupId}/members"), 0);
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
}

#[test]
fn only_enabled_changed_patches_without_writing_the_configuration() {
    let w = applied();
    let before = dumped(&w, "integrations", "Acme App");
    assert_eq!(before["intendedState"], "ENABLED", "{before:#}");
    apply_change(
        &w,
        &manifest("\"${data.user.admin.id}\"", "operators", false),
        "integration.app",
        "enabled",
    );
    let after = dumped(&w, "integrations", "Acme App");
    assert_eq!(after["intendedState"], "DISABLED", "{after:#}");
    assert_eq!(
        after["config"]["version"], before["config"]["version"],
        "the configuration was not written again: {after:#}"
    );
    assert_eq!(
        after["config"]["properties"]["url"],
        "https://app.acme.example/"
    );
    assert_eq!(
        calls(
            &w,
            "PUT /api/v2/integrations/{integrationId}/config/current"
        ),
        0
    );
    assert_eq!(calls(&w, "PATCH /api/v2/integrations/{integrationId}"), 1);
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
}
