//! End-to-end tests of defaulted keys: a key with a default in its kind's
//! spec (`core::kinds`) that the manifest leaves out is managed at its
//! default.
//! Each test applies a manifest that omits the key, changes the key behind
//! gcrecon's back through `/_sim/mutate`, and checks that `gcrecon plan`
//! shows the change, `gcrecon drift` reports it (exit 2), `gcrecon apply`
//! puts the default back in the organization (`/_sim/dump`), and both are
//! clean afterwards. One more test interrupts an apply after a create and
//! checks that the adopted object is brought to its defaults.

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

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

/// Every defaulted key is left out.
const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "acme"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view"]

[group.ops]
name = "Ops"

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]

[integration.app]
type = "embedded-client-app"
name = "Acme App"

[data.user.admin]
email = "admin@acme.example"

[role_grant.readers]
role = "${role.reader.id}"
subjects = ["${data.user.admin.id}"]
"#;

/// The org and the directory of one test.
struct Setup(Workdir);

impl std::ops::Deref for Setup {
    type Target = Workdir;
    fn deref(&self) -> &Workdir {
        &self.0
    }
}

impl Setup {
    fn new() -> Setup {
        Setup(Workdir::new(FIXTURE, MANIFEST))
    }

    fn applied() -> Setup {
        let s = Setup::new();
        s.run(&["apply", "--auto-approve"]).expect(0);
        s.run(&["plan", "--detailed-exitcode"]).expect(0);
        s.run(&["drift"]).expect(0);
        s
    }

    /// The object of `collection` named `name` in `/_sim/dump`.
    fn dumped(&self, collection: &str, name: &str) -> Value {
        let dump = self.sim.dump();
        let found: Vec<&Value> = dump[collection]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["name"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{collection} named {name}: {found:?}");
        found[0].clone()
    }

    /// Change `key` behind gcrecon's back; check plan, drift, apply and
    /// the organization afterwards.
    fn check_restored(&self, t: &Case) {
        self.sim
            .mutate(json!({"kind": t.sim_kind, "name": t.name, "set": {t.wire_key: t.changed}}));
        assert_eq!(
            self.dumped(t.collection, t.name)[t.wire_key],
            t.changed,
            "the mutation took"
        );

        let plan = self
            .run(&["plan", "--format", "json", "--detailed-exitcode"])
            .expect(2)
            .json();
        let change = plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == t.address)
            .unwrap_or_else(|| panic!("{} is not in the plan: {plan:#}", t.address))
            .clone();
        assert_eq!(change["change"]["actions"], json!(t.actions), "{change:#}");
        assert!(
            change["changed_keys"]
                .as_array()
                .unwrap()
                .contains(&json!(t.key)),
            "{change:#}"
        );
        assert_eq!(change["change"]["after"][t.key], t.default, "{change:#}");
        let human = self.run(&["plan"]).expect(0);
        assert!(human.stdout.contains(t.key), "{}", human.stdout);

        let drift = self.run(&["drift", "--format", "json"]).expect(2).json();
        let drifted = drift["drifted"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["address"] == t.address)
            .unwrap_or_else(|| panic!("{} is not drifted: {drift:#}", t.address))
            .clone();
        let key_change = drifted["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == t.key)
            .unwrap_or_else(|| panic!("{} not reported: {drifted:#}", t.key))
            .clone();
        assert_eq!(key_change["expected"], t.default, "{key_change:#}");
        assert_eq!(key_change["actual"], t.changed_manifest, "{key_change:#}");

        self.run(&["apply", "--auto-approve"]).expect(0);
        assert_eq!(
            self.dumped(t.collection, t.name)[t.wire_key],
            t.restored,
            "{} is back at its default",
            t.address
        );
        self.run(&["plan", "--detailed-exitcode"]).expect(0);
        self.run(&["drift"]).expect(0);
    }
}

/// One defaulted key and how it looks on the wire.
struct Case {
    address: &'static str,
    key: &'static str,
    default: Value,
    sim_kind: &'static str,
    collection: &'static str,
    name: &'static str,
    wire_key: &'static str,
    /// The wire value set behind gcrecon's back.
    changed: Value,
    /// The same value in the manifest's vocabulary.
    changed_manifest: Value,
    /// The wire value after apply.
    restored: Value,
    actions: &'static [&'static str],
}

#[test]
fn integration_enabled_defaults_to_true() {
    Setup::applied().check_restored(&Case {
        address: "integration.app",
        key: "enabled",
        default: json!(true),
        sim_kind: "integration",
        collection: "integrations",
        name: "Acme App",
        wire_key: "intendedState",
        changed: json!("DISABLED"),
        changed_manifest: json!(false),
        restored: json!("ENABLED"),
        actions: &["update"],
    });
}

#[test]
fn group_visibility_defaults_to_public() {
    Setup::applied().check_restored(&Case {
        address: "group.ops",
        key: "visibility",
        default: json!("public"),
        sim_kind: "group",
        collection: "groups",
        name: "Ops",
        wire_key: "visibility",
        changed: json!("members"),
        changed_manifest: json!("members"),
        restored: json!("public"),
        actions: &["update"],
    });
}

#[test]
fn group_rules_visible_defaults_to_true() {
    Setup::applied().check_restored(&Case {
        address: "group.ops",
        key: "rules_visible",
        default: json!(true),
        sim_kind: "group",
        collection: "groups",
        name: "Ops",
        wire_key: "rulesVisible",
        changed: json!(false),
        changed_manifest: json!(false),
        restored: json!(true),
        actions: &["update"],
    });
}

#[test]
fn group_type_defaults_to_official_and_is_restored_by_replacement() {
    let s = Setup::applied();
    let before = s.dumped("groups", "Ops")["id"].clone();
    s.check_restored(&Case {
        address: "group.ops",
        key: "type",
        default: json!("official"),
        sim_kind: "group",
        collection: "groups",
        name: "Ops",
        wire_key: "type",
        changed: json!("social"),
        changed_manifest: json!("social"),
        restored: json!("official"),
        actions: &["delete", "create"],
    });
    assert_ne!(
        s.dumped("groups", "Ops")["id"],
        before,
        "an update cannot change a group's type: the group was replaced"
    );
}

#[test]
fn oauth_client_state_defaults_to_active() {
    Setup::applied().check_restored(&Case {
        address: "oauth_client.api",
        key: "state",
        default: json!("active"),
        sim_kind: "oauth_client",
        collection: "oauth_clients",
        name: "Acme API",
        wire_key: "state",
        changed: json!("inactive"),
        changed_manifest: json!("inactive"),
        restored: json!("active"),
        actions: &["update"],
    });
}

#[test]
fn oauth_client_token_ttl_defaults_to_24_hours() {
    let s = Setup::applied();
    assert_eq!(
        s.dumped("oauth_clients", "Acme API")["accessTokenValiditySeconds"],
        json!(86_400),
        "created with the default"
    );
    s.check_restored(&Case {
        address: "oauth_client.api",
        key: "token_ttl_seconds",
        default: json!(86_400),
        sim_kind: "oauth_client",
        collection: "oauth_clients",
        name: "Acme API",
        wire_key: "accessTokenValiditySeconds",
        changed: json!(600),
        changed_manifest: json!(600),
        restored: json!(86_400),
        actions: &["update"],
    });
}

#[test]
fn an_explicit_value_wins_over_the_default() {
    let s = Setup::new();
    std::fs::write(
        s.path("gcrecon.toml"),
        MANIFEST.replace(
            "name = \"Acme App\"\n",
            "name = \"Acme App\"\nenabled = false\n",
        ),
    )
    .unwrap();
    s.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        s.dumped("integrations", "Acme App")["intendedState"],
        "DISABLED"
    );
    s.run(&["plan", "--detailed-exitcode"]).expect(0);
    s.run(&["drift"]).expect(0);
}

#[test]
fn an_object_adopted_after_an_interrupted_apply_gets_its_defaults() {
    let s = Setup::new();
    // The dead run recorded the create as in flight, and the object it made
    // is still DISABLED (integrations are created disabled, then enabled).
    s.run(&["apply", "--auto-approve", "--target", "role.reader"])
        .expect(0);
    let state_path = s.path("state/acme.gcstate.json");
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["pending"] = json!([{"address": "integration.app", "kind": "integration",
                               "operation": "create", "name": "Acme App",
                               "started": "2026-01-01T00:00:00Z"}]);
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    s.sim.mutate(json!({"kind": "integration", "create": {
        "name": "Acme App", "integrationType": {"id": "embedded-client-app"},
        "intendedState": "DISABLED"}}));

    let plan = s.run(&["plan", "--format", "json"]).expect(0).json();
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "integration.app")
        .unwrap()
        .clone();
    assert_eq!(change["change"]["actions"], json!(["update"]), "{change:#}");
    assert_eq!(change["changed_keys"], json!(["enabled"]), "{change:#}");

    s.run(&["apply", "--auto-approve"]).expect(0);
    let dump = s.sim.dump();
    let apps: Vec<&Value> = dump["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] == "Acme App")
        .collect();
    assert_eq!(apps.len(), 1, "adopted, not duplicated");
    assert_eq!(apps[0]["intendedState"], "ENABLED");
    s.run(&["plan", "--detailed-exitcode"]).expect(0);
    s.run(&["drift"]).expect(0);
}

#[test]
fn role_grant_divisions_default_to_the_home_division() {
    let s = Setup::applied();
    let dump = s.sim.dump();
    let home = dump["divisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["homeDivision"] == true)
        .unwrap()["id"]
        .clone();
    let role = s.dumped("roles", "Queue Reader")["id"].clone();
    let admin = dump["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "admin@acme.example")
        .unwrap()["id"]
        .clone();
    let granted = |dump: &Value| {
        dump["grants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["subjectId"] == admin && g["roleId"] == role && g["divisionId"] == home)
    };
    assert!(granted(&dump), "granted in the home division");

    // Someone takes the role away from the user.
    s.sim.api_as_admin(
        "PUT",
        &format!(
            "/api/v2/authorization/roles/{}/users/remove",
            role.as_str().unwrap()
        ),
        Some(&json!([admin])),
    );
    assert!(!granted(&s.sim.dump()));

    let plan = s
        .run(&["plan", "--format", "json", "--detailed-exitcode"])
        .expect(2)
        .json();
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "role_grant.readers")
        .unwrap_or_else(|| panic!("{plan:#}"))
        .clone();
    assert_eq!(change["change"]["actions"], json!(["update"]), "{change:#}");
    let drift = s.run(&["drift", "--format", "json"]).expect(2).json();
    assert!(
        drift["drifted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["address"] == "role_grant.readers"),
        "{drift:#}"
    );
    s.run(&["apply", "--auto-approve"]).expect(0);
    assert!(granted(&s.sim.dump()), "granted again in the home division");
    s.run(&["plan", "--detailed-exitcode"]).expect(0);
    s.run(&["drift"]).expect(0);
}
