//! Queue members: the fixture's `members`, the members endpoints (paging,
//! add and remove, join, limits) and `/_sim/mutate` on queue membership.

use crate::common::Api;
use serde_json::json;
use test_support::Sim;

const FIXTURE: &str = r#"
[[users]]
email = "ann@acme.example"
name = "Ann Agent"
division = "Home"

[[users]]
email = "bob@acme.example"
name = "Bob Agent"
division = "Home"

[[users]]
email = "sue@acme.example"
name = "Sue Supervisor"
division = "Home"

[[queues]]
name = "Support"
members = ["ann@acme.example", "bob@acme.example"]
"#;

fn queue_id(api: &Api, name: &str) -> String {
    let v = api
        .get(&format!("/api/v2/routing/queues?name={name}"))
        .expect(200);
    v["entities"][0]["id"].as_str().unwrap().to_string()
}

fn member_names(api: &Api, path: &str) -> Vec<String> {
    let v = api.get(path).expect(200);
    v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fixture_members_endpoints_and_mutate() {
    let sim = Sim::builder().fixture_toml(FIXTURE).start();
    let api = Api::admin(&sim);
    let q = queue_id(&api, "Support");
    let path = format!("/api/v2/routing/queues/{q}/members");
    let mut names = member_names(&api, &path);
    names.sort();
    assert_eq!(names, ["Ann Agent", "Bob Agent"]);
    let v = api.get(&path).expect(200);
    let ann = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Ann Agent")
        .unwrap();
    assert_eq!(ann["memberBy"], "user");
    assert_eq!(ann["user"]["email"], "ann@acme.example");
    assert_eq!(ann["id"], ann["user"]["id"]);
    assert!(member_names(&api, &format!("{path}?memberBy=group")).is_empty());
    assert_eq!(
        member_names(&api, &format!("{path}?name=bob")),
        ["Bob Agent"]
    );
    let paged = api.get(&format!("{path}?pageSize=1")).expect(200);
    assert_eq!(paged["entities"].as_array().unwrap().len(), 1);
    assert!(paged["nextUri"].is_string());

    // Add Sue, remove Bob (POST, POST ?delete=true).
    let users = api.get("/api/v2/users?pageSize=100").expect(200);
    let id_of = |email: &str| {
        users["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (sue, bob) = (id_of("sue@acme.example"), id_of("bob@acme.example"));
    api.post(&path, json!([{ "id": sue }])).expect(204);
    api.post(&format!("{path}?delete=true"), json!([{ "id": bob }]))
        .expect(204);
    let mut names = member_names(&api, &path);
    names.sort();
    assert_eq!(names, ["Ann Agent", "Sue Supervisor"]);

    // Join Sue; filter by joined.
    let patched = api
        .patch(&path, json!([{ "id": sue, "joined": true }]))
        .expect(200);
    assert_eq!(patched["entities"][0]["joined"], true);
    let mut joined = member_names(&api, &format!("{path}?joined=true"));
    joined.sort();
    assert_eq!(joined, ["Ann Agent", "Sue Supervisor"]);
    assert!(member_names(&api, &format!("{path}?joined=false")).is_empty());
    // A non-member in a PATCH is disregarded, as by the real service.
    let ignored = api
        .patch(&path, json!([{ "id": bob, "joined": true }]))
        .expect(200);
    assert_eq!(ignored["entities"].as_array().map(Vec::len), Some(0));

    // Limits and unknown users.
    let many: Vec<_> = (0..101).map(|_| json!({ "id": sue })).collect();
    api.post(&path, json!(many)).expect(400);
    api.post(&path, json!([{ "id": "no-such-user" }]))
        .expect(400);
    api.get("/api/v2/routing/queues/nope/members").expect(404);

    // Behind gcrecon's back: /_sim/mutate by email.
    sim.mutate(json!({"kind": "queue", "name": "Support", "add_members": ["bob@acme.example"], "remove_members": ["ann@acme.example"]}));
    let mut names = member_names(&api, &path);
    names.sort();
    assert_eq!(names, ["Bob Agent", "Sue Supervisor"]);
    let q = api.get(&format!("/api/v2/routing/queues/{q}")).expect(200);
    assert_eq!(q["memberCount"], 2);
    assert_eq!(q["joinedMemberCount"], 1);
}
