//! The audit log: messages for changes through the API and through
//! `/_sim/mutate` (with actors), the realtime query (interval, service,
//! filters, sort, paging, permission) and the service mapping.

use crate::common::{create_client, create_role, home, http, role_id, Api};
use gcsim::wire::iso;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};
use test_support::Sim;

const FIXTURE: &str = r#"
[[users]]
email = "alice@acme.example"
name = "Alice Admin"
roles = ["admin"]

[[users]]
email = "bob@acme.example"
name = "Bob Builder"
roles = ["employee"]

[[oauth_clients]]
name = "ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]

[[oauth_clients]]
name = "vendor-sync"
client_id = "vendor-client"
client_secret = "vendor-secret"
roles = ["admin"]
"#;

fn last_days(days: u64) -> String {
    let now = SystemTime::now();
    format!(
        "{}/{}",
        iso(now - Duration::from_secs(days * 86_400)),
        iso(now + Duration::from_secs(60))
    )
}

#[allow(clippy::needless_pass_by_value)] // callers pass `json!(...)` directly
fn query(api: &Api, service: &str, filters: Value, extra: Value) -> Value {
    let mut body = json!({"interval": last_days(1), "serviceName": service, "filters": filters});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    api.post("/api/v2/audits/query/realtime", body).expect(200)
}

#[test]
fn api_changes_are_audited_with_the_acting_client_and_property_changes() {
    let sim = Sim::builder().fixture_toml(FIXTURE).start();
    let api = Api::admin(&sim);
    let role = create_role(&api, "adapter", &["routing:queue:view"]);
    api.put(
        &format!("/api/v2/authorization/roles/{role}"),
        json!({"name": "adapter", "permissionPolicies": [
            {"domain": "routing", "entityName": "queue", "actionSet": ["view", "edit"]}
        ]}),
    )
    .expect(200);
    // A request that changes nothing records nothing.
    api.get(&format!("/api/v2/authorization/roles/{role}"))
        .expect(200);
    let v = query(
        &api,
        "PeoplePermissions",
        json!([{"property": "EntityId", "value": role}]),
        json!({"sort": [{"name": "Timestamp", "sortOrder": "ascending"}]}),
    );
    assert_eq!(v["total"], 2, "{v}");
    let create = &v["entities"][0];
    assert_eq!(create["action"], "Create");
    assert_eq!(create["entityType"], "Role");
    assert_eq!(create["entity"]["name"], "adapter");
    assert_eq!(create["client"]["id"], "ci-client");
    assert!(create.get("user").is_none(), "{create}");
    assert_eq!(create["level"], "USER");
    assert_eq!(create["status"], "SUCCESS");
    let update = &v["entities"][1];
    assert_eq!(update["action"], "Update");
    assert_eq!(
        update["propertyChanges"],
        json!([{"property": "permissionPolicies",
                "oldValues": ["routing:queue:view"],
                "newValues": ["routing:queue:edit", "routing:queue:view"]}])
    );
    // Default order is newest first.
    let v = query(
        &api,
        "PeoplePermissions",
        json!([{"property": "EntityId", "value": role}]),
        json!({}),
    );
    assert_eq!(v["entities"][0]["action"], "Update");

    // A user token: the message names the user.
    let alice = Api::with_token(&sim, &sim.user_token("alice@acme.example"));
    let group = alice
        .post(
            "/api/v2/groups",
            json!({"name": "Sales", "type": "official", "visibility": "public"}),
        )
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = query(
        &api,
        "Directory",
        json!([{"property": "EntityId", "value": group}]),
        json!({}),
    );
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["entities"][0]["user"]["name"], "Alice Admin");
    assert_eq!(v["entities"][0]["entityType"], "Group");

    // Grants: Add with the subject, on the role.
    let admin_role = role_id(&api, "admin");
    let (client, _) = create_client(&api, "bot", &[(&admin_role, &home(&api))]);
    let v = query(
        &api,
        "PeoplePermissions",
        json!([{"property": "EntityType", "value": "RoleGrant"}]),
        json!({}),
    );
    let add = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"]["id"] == admin_role.as_str())
        .unwrap_or_else(|| panic!("no grant message: {v}"));
    assert_eq!(add["action"], "Add");
    assert!(add["propertyChanges"]
        .as_array()
        .unwrap()
        .contains(&json!({"property": "subjectId", "oldValues": [], "newValues": [client]})));
    // Secrets never appear.
    let secret = api
        .post(&format!("/api/v2/oauth/clients/{client}/secret"), json!({}))
        .expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let all = query(&api, "OAuth", json!([]), json!({"pageSize": 500}));
    assert!(!all.to_string().contains(&secret));
    assert!(!all.to_string().contains("ci-secret"));
}

#[test]
fn mutate_records_its_actor_or_the_first_fixture_user() {
    let sim = Sim::builder().fixture_toml(FIXTURE).start();
    let api = Api::admin(&sim);
    create_role(&api, "ops", &["routing:queue:view"]);
    sim.mutate(json!([
        {"kind": "role", "name": "ops", "add_permissions": ["routing:queue:edit"], "actor": "bob@acme.example"},
        {"kind": "role", "name": "ops", "set": {"description": "changed"}, "actor": "client:vendor-client"},
        {"kind": "group", "create": {"name": "Shadow"}},
    ]));
    let v = query(
        &api,
        "PeoplePermissions",
        json!([{"property": "Action", "value": "Update"}]),
        json!({"sort": [{"name": "Timestamp", "sortOrder": "ascending"}]}),
    );
    assert_eq!(v["total"], 2, "{v}");
    assert_eq!(v["entities"][0]["user"]["name"], "Bob Builder");
    assert_eq!(
        v["entities"][0]["propertyChanges"][0]["property"],
        "permissionPolicies"
    );
    assert_eq!(v["entities"][1]["client"]["id"], "vendor-client");
    assert!(v["entities"][1].get("user").is_none());
    let v = query(&api, "Directory", json!([]), json!({}));
    assert_eq!(v["entities"][0]["entity"]["name"], "Shadow");
    assert_eq!(v["entities"][0]["user"]["name"], "Alice Admin");

    // Filters: OR within a property, AND across.
    let by_bob_or_vendor = query(
        &api,
        "PeoplePermissions",
        json!([{"property": "UserId", "value": "nobody"},
               {"property": "ClientId", "value": "vendor-client"}]),
        json!({}),
    );
    assert_eq!(by_bob_or_vendor["total"], 0, "UserId AND ClientId");
    let either_action = query(
        &api,
        "PeoplePermissions",
        json!([{"property": "Action", "value": "Update"},
               {"property": "Action", "value": "Create"},
               {"property": "EntityType", "value": "Role"}]),
        json!({}),
    );
    assert_eq!(either_action["total"], 3);

    let bad_actor = http()
        .post(format!("{}/_sim/mutate", sim.url()))
        .json(&json!({"kind": "role", "name": "ops", "delete": true, "actor": "mallory@x"}))
        .send()
        .unwrap();
    assert_eq!(bad_actor.status(), 400);
    assert!(
        sim.dump().to_string().contains("\"ops\""),
        "refused op changed nothing"
    );
}

#[test]
fn realtime_query_checks_interval_service_paging_and_permission() {
    let sim = Sim::builder().fixture_toml(FIXTURE).start();
    let api = Api::admin(&sim);
    let ops: Vec<Value> = (0..12)
        .map(|i| json!({"kind": "group", "create": {"name": format!("g{i:02}")}}))
        .collect();
    sim.mutate(Value::Array(ops));
    let p1 = query(&api, "Directory", json!([]), json!({"pageSize": 5}));
    assert_eq!(
        (p1["total"].as_u64(), p1["pageCount"].as_u64()),
        (Some(12), Some(3))
    );
    let p3 = query(
        &api,
        "Directory",
        json!([]),
        json!({"pageSize": 5, "pageNumber": 3}),
    );
    assert_eq!(p3["entities"].as_array().unwrap().len(), 2);
    assert_eq!(p3["entities"][1]["entity"]["name"], "g00");

    let post = |body: Value| api.post("/api/v2/audits/query/realtime", body);
    post(json!({"interval": last_days(15), "serviceName": "Directory"})).expect(400);
    post(json!({"interval": last_days(1)})).expect(400);
    post(json!({"interval": last_days(1), "serviceName": "Nope"})).expect(400);
    post(json!({"interval": "yesterday", "serviceName": "Directory"})).expect(400);
    post(json!({"interval": last_days(1), "serviceName": "Directory", "pageSize": 501}))
        .expect(400);
    post(json!({"interval": last_days(14), "serviceName": "Directory", "pageSize": 500}))
        .expect(200);

    let mapping = api.get("/api/v2/audits/query/servicemapping").expect(200);
    let names: Vec<&str> = mapping["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"PeoplePermissions") && names.contains(&"OAuth"));

    // Bob holds `employee`, without audits:audit:view.
    let bob = Api::with_token(&sim, &sim.user_token("bob@acme.example"));
    let denied = bob.post(
        "/api/v2/audits/query/realtime",
        json!({"interval": last_days(1), "serviceName": "Directory"}),
    );
    assert_eq!(denied.status, 403);
    assert!(denied.body.to_string().contains("audits:audit:view"));
    bob.get("/api/v2/audits/query/servicemapping").expect(403);
}

#[test]
fn the_async_query_is_checked_and_queued() {
    let sim = Sim::builder().fixture_toml(FIXTURE).start();
    let api = Api::admin(&sim);
    let interval = "2026-01-01T00:00:00Z/2026-02-01T00:00:00Z";
    let queued = api
        .post(
            "/api/v2/audits/query",
            json!({"interval": interval, "serviceName": "Directory",
                   "filters": [{"property": "EntityType", "value": "Group"}]}),
        )
        .expect(200);
    assert_eq!(queued["state"], "Queued");
    assert_eq!(queued["serviceName"], "Directory");
    assert_eq!(queued["interval"], interval);
    assert!(queued["id"].as_str().is_some_and(|i| !i.is_empty()));
    api.post(
        "/api/v2/audits/query",
        json!({"interval": interval, "serviceName": "NoSuchService"}),
    )
    .expect(400);
    api.post("/api/v2/audits/query", json!({"serviceName": "Directory"}))
        .expect(400);
}
