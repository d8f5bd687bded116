//! End-to-end test of the one diff: `gcrecon plan --out FILE` saves the
//! diff's per-key results (each changed key's value before and after), the
//! human plan prints exactly those keys, and applying the saved plan makes
//! gcsim (`/_sim/dump`) hold the new values, after which a plan is empty.

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

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "acme"

[division.events]
name = "Events"
description = "before"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view"]

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]

[integration.app]
type = "embedded-client-app"
name = "Acme App"

[integration.app.config]
url = "https://old.acme.example/app"
displayType = "standalone"
"#;

/// The second manifest: a plain key, a set key, a subset map entry and a
/// defaulted key change; nothing else does.
fn changed() -> String {
    MANIFEST
        .replace("description = \"before\"", "description = \"after\"")
        .replace(
            "permissions = [\"routing:queue:view\"]",
            "permissions = [\"routing:queue:view\", \"analytics:conversationDetail:view\"]",
        )
        .replace(
            "https://old.acme.example/app",
            "https://new.acme.example/app",
        )
        .replace(
            "grant_type = \"client_credentials\"",
            "grant_type = \"client_credentials\"\nstate = \"inactive\"",
        )
}

fn named<'a>(dump: &'a Value, collection: &str, name: &str) -> &'a Value {
    dump[collection]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {collection} named {name} in {dump:#}"))
}

#[test]
fn a_saved_plan_carries_the_per_key_results_and_applies_them() {
    let w = Workdir::new(FIXTURE, MANIFEST);
    w.run(&["apply", "--auto-approve"]).expect(0);
    w.write("gcrecon.toml", &changed());

    let human = w.run(&["plan", "--out", "plan.json"]).expect(0);
    let out = &human.stdout;
    assert!(
        out.contains("~ description = \"before\" -> \"after\""),
        "{out}"
    );
    assert!(
        out.contains("+ \"analytics:conversationDetail:view\","),
        "{out}"
    );
    assert!(
        out.contains(
            "~ url = \"https://old.acme.example/app\" -> \"https://new.acme.example/app\""
        ),
        "{out}"
    );
    assert!(
        out.contains("~ state = \"active\" -> \"inactive\""),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 4 to change, 0 to destroy."),
        "{out}"
    );
    // Unchanged keys are not drawn as changes.
    assert!(!out.contains("~ grant_type"), "{out}");
    assert!(!out.contains("~ displayType"), "{out}");

    let text = std::fs::read_to_string(w.path("plan.json")).unwrap();
    assert!(!text.contains("ci-secret"), "the plan file holds no secret");
    let saved: Value = serde_json::from_str(&text).unwrap();
    let keys = |address: &str| -> Value {
        saved["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no {address} in {saved:#}"))["keys"]
            .clone()
    };
    assert_eq!(
        keys("division.events"),
        json!([{ "key": "description", "before": "before", "after": "after" }])
    );
    assert_eq!(keys("oauth_client.api")[0]["key"], "state");
    assert_eq!(keys("oauth_client.api").as_array().unwrap().len(), 1);
    assert_eq!(keys("role.reader")[0]["key"], "permissions");
    assert_eq!(keys("integration.app")[0]["key"], "config");
    assert_eq!(
        keys("integration.app")[0]["after"]["url"],
        "https://new.acme.example/app"
    );

    w.run(&["apply", "plan.json"]).expect(0);
    let dump = w.sim.dump();
    assert_eq!(named(&dump, "divisions", "Events")["description"], "after");
    let role = named(&dump, "roles", "Queue Reader");
    let policies = role["permissionPolicies"].to_string();
    assert!(policies.contains("conversationDetail"), "{role:#}");
    assert_eq!(
        named(&dump, "oauth_clients", "Acme API")["state"],
        "inactive"
    );
    assert_eq!(
        named(&dump, "integrations", "Acme App")["config"]["properties"]["url"],
        "https://new.acme.example/app"
    );
    w.run(&["plan", "--detailed-exitcode"]).expect(0);
}
