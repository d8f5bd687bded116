//! Divisions, permissions, roles, grants and subjects.

use crate::common::{create_role, home, policy_strings, role_id, Api};
use serde_json::json;
use test_support::Sim;

#[test]
fn divisions_crud() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let h = api.get("/api/v2/authorization/divisions/home").expect(200);
    assert_eq!(h["name"], "Home");
    assert_eq!(h["homeDivision"], true);
    let d = api
        .post(
            "/api/v2/authorization/divisions",
            json!({"name": "Sales", "description": "s"}),
        )
        .expect(200);
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["homeDivision"], false);
    api.post("/api/v2/authorization/divisions", json!({"name": "sales"}))
        .expect(400);
    let got = api
        .get(&format!(
            "/api/v2/authorization/divisions/{id}?objectCount=true"
        ))
        .expect(200);
    assert_eq!(got["name"], "Sales");
    assert!(got["objectCounts"].is_object());
    let listed = api
        .get("/api/v2/authorization/divisions?name=sal")
        .expect(200);
    assert_eq!(listed["total"], 1);
    let by_id = api
        .get(&format!(
            "/api/v2/authorization/divisions?id={id}&id={}",
            h["id"].as_str().unwrap()
        ))
        .expect(200);
    assert_eq!(by_id["total"], 2);
    let upd = api
        .put(
            &format!("/api/v2/authorization/divisions/{id}"),
            json!({"name": "Sales EU"}),
        )
        .expect(200);
    assert_eq!(upd["name"], "Sales EU");
    api.delete(&format!(
        "/api/v2/authorization/divisions/{}",
        h["id"].as_str().unwrap()
    ))
    .expect(400);
    api.delete(&format!("/api/v2/authorization/divisions/{id}"))
        .expect(204);
    api.get(&format!("/api/v2/authorization/divisions/{id}"))
        .expect(404);
}

#[test]
fn permission_catalog_pages_and_holds_the_seed_permissions() {
    let sim = Sim::builder()
        .fixture_toml("[catalog]\nextra_permissions = [\"integration:emiteApps:view\"]\n")
        .start();
    let api = Api::admin(&sim);
    let first = api.get("/api/v2/authorization/permissions").expect(200);
    assert_eq!(first["pageSize"], 25);
    assert!(first["pageCount"].as_u64().unwrap() >= 2);
    let mut all = std::collections::BTreeSet::new();
    let mut page = 1;
    loop {
        let v = api
            .get(&format!(
                "/api/v2/authorization/permissions?pageSize=100&pageNumber={page}"
            ))
            .expect(200);
        for coll in v["entities"].as_array().unwrap() {
            for (entity, perms) in coll["permissionMap"].as_object().unwrap() {
                for p in perms.as_array().unwrap() {
                    all.insert(format!(
                        "{}:{entity}:{}",
                        p["domain"].as_str().unwrap(),
                        p["action"].as_str().unwrap()
                    ));
                }
            }
        }
        if v.get("nextUri").is_none() {
            break;
        }
        page += 1;
    }
    assert!(all.len() > 400, "{}", all.len());
    for p in [
        "integration:emiteApps:view",
        "analytics:conversationDetail:view",
        "wfm:managementUnit:edit",
        "routing:queue:view",
        "routing:queue:readonly",
        "integration:presence:view",
        "integration:unifiedCommunications:view",
        "directory:group:view",
    ] {
        assert!(all.contains(p), "{p}");
    }
    let q = api
        .get("/api/v2/authorization/permissions?queryType=domain&query=routing")
        .expect(200);
    assert_eq!(q["total"], 1);
}

#[test]
fn roles_crud_and_filters() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let employee = api
        .get("/api/v2/authorization/roles?defaultRoleId=employee")
        .expect(200);
    assert_eq!(employee["total"], 1);
    assert_eq!(employee["entities"][0]["defaultRoleId"], "employee");
    assert_eq!(employee["entities"][0]["default"], true);
    let id = create_role(
        &api,
        "Query Queue Status",
        &["routing:queue:view", "routing:queue:readonly"],
    );
    let got = api
        .get(&format!("/api/v2/authorization/roles/{id}"))
        .expect(200);
    assert_eq!(
        policy_strings(&got),
        ["routing:queue:readonly", "routing:queue:view"]
    );
    assert!(got["permissions"].as_array().unwrap().is_empty());
    assert_eq!(got["permissionPolicies"][0]["domain"], "routing");
    assert_eq!(got["userCount"], 0);
    assert!(
        got.get("defaultRoleId").is_none(),
        "unset fields are omitted"
    );
    let by_name = api
        .get("/api/v2/authorization/roles?name=query%20queue%20status")
        .expect(200);
    assert_eq!(by_name["total"], 1);
    let admin = role_id(&api, "admin");
    let by_ids = api
        .get(&format!("/api/v2/authorization/roles?id={id}%2C{admin}"))
        .expect(200);
    assert_eq!(by_ids["total"], 2);
    api.post(
        "/api/v2/authorization/roles",
        json!({"name": "Query queue status"}),
    )
    .expect(400);
    let upd = api
        .put(
            &format!("/api/v2/authorization/roles/{id}"),
            json!({"name": "QQS", "description": "d", "permissionPolicies": [
                {"domain": "routing", "entityName": "queue", "actionSet": ["view", "join"]}
            ]}),
        )
        .expect(200);
    assert_eq!(
        policy_strings(&upd),
        ["routing:queue:join", "routing:queue:view"]
    );
    // A GET-modify-PUT round trip of the read model is accepted.
    let mut round = upd;
    round["description"] = json!("round trip");
    api.put(&format!("/api/v2/authorization/roles/{id}"), round)
        .expect(200);
    let patched = api
        .patch(
            &format!("/api/v2/authorization/roles/{id}"),
            json!({"roleNeedsUpdate": true}),
        )
        .expect(200);
    assert_eq!(patched["roleNeedsUpdate"], true);
    api.delete(&format!("/api/v2/authorization/roles/{admin}"))
        .expect(400);
    api.delete(&format!("/api/v2/authorization/roles/{id}"))
        .expect(204);
    api.get(&format!("/api/v2/authorization/roles/{id}"))
        .expect(404);
}

#[test]
fn wildcard_policies_are_accepted() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let id = create_role(
        &api,
        "8x8 presence",
        &["integration:presence:*", "presence:*:*"],
    );
    let got = api
        .get(&format!("/api/v2/authorization/roles/{id}"))
        .expect(200);
    assert_eq!(
        policy_strings(&got),
        ["integration:presence:*", "presence:*:*"]
    );
}

#[test]
fn grants_bulk_and_single() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = create_role(&api, "R", &["routing:queue:view"]);
    let user = api.get("/api/v2/users").expect(200)["entities"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = api
        .post(
            "/api/v2/groups",
            json!({"name": "G", "type": "official", "visibility": "public"}),
        )
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // bulk grant by role
    api.post(
        &format!("/api/v2/authorization/roles/{role}?subjectType=PC_GROUP"),
        json!({"subjectIds": [group], "divisionIds": [h]}),
    )
    .expect(204);
    // wrong subject type is refused
    api.post(
        &format!("/api/v2/authorization/subjects/{group}/bulkadd?subjectType=PC_USER"),
        json!({"grants": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(400);
    api.post(
        &format!(
            "/api/v2/authorization/subjects/{user}/divisions/*/roles/{role}?subjectType=PC_USER"
        ),
        json!(null),
    )
    .expect(204);
    let subject = api
        .get(&format!("/api/v2/authorization/subjects/{user}"))
        .expect(200);
    assert!(subject["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["role"]["id"] == role.as_str() && g["division"]["id"] == "*"));
    let sg = api
        .get(&format!("/api/v2/authorization/roles/{role}/subjectgrants"))
        .expect(200);
    assert_eq!(sg["total"], 2);
    let users = api
        .get(&format!("/api/v2/authorization/roles/{role}/users"))
        .expect(200);
    assert_eq!(users["total"], 1);
    api.delete(&format!(
        "/api/v2/authorization/subjects/{user}/divisions/*/roles/{role}"
    ))
    .expect(204);
    api.post(
        &format!("/api/v2/authorization/subjects/{group}/bulkremove"),
        json!({"grants": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(204);
    let sg = api
        .get(&format!("/api/v2/authorization/roles/{role}/subjectgrants"))
        .expect(200);
    assert_eq!(sg["total"], 0);
    // bulkreplace
    let emp = role_id(&api, "employee");
    api.post(
        &format!("/api/v2/authorization/subjects/{user}/bulkreplace?subjectType=PC_USER"),
        json!({"grants": [{"roleId": emp, "divisionId": h}]}),
    )
    .expect(204);
    let subject = api
        .get(&format!("/api/v2/authorization/subjects/{user}"))
        .expect(200);
    assert_eq!(subject["grants"].as_array().unwrap().len(), 1);
}

#[test]
fn role_users_and_user_roles() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let role = create_role(&api, "R", &["routing:queue:view"]);
    let user = api.get("/api/v2/users").expect(200)["entities"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let added = api
        .put(
            &format!("/api/v2/authorization/roles/{role}/users/add"),
            json!([user]),
        )
        .expect(200);
    assert_eq!(added, json!([user]));
    let ur = api.get(&format!("/api/v2/users/{user}/roles")).expect(200);
    assert!(ur["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == role.as_str()));
    assert!(ur["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "routing:queue:view"));
    api.put(
        &format!("/api/v2/authorization/roles/{role}/users/remove"),
        json!([user]),
    )
    .expect(200);
    let admin = role_id(&api, "admin");
    let set = api
        .put(&format!("/api/v2/users/{user}/roles"), json!([admin, role]))
        .expect(200);
    assert_eq!(set["roles"].as_array().unwrap().len(), 2);
    let with_auth = api
        .get(&format!("/api/v2/users/{user}?expand=authorization"))
        .expect(200);
    assert_eq!(
        with_auth["authorization"]["roles"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn subjects_me_reports_group_roles_for_users() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = create_role(&api, "Via group", &["routing:queue:view"]);
    let g = api
        .post(
            "/api/v2/groups",
            json!({"name": "G", "type": "official", "visibility": "public", "rolesEnabled": true}),
        )
        .expect(200);
    let gid = g["id"].as_str().unwrap();
    sim.mutate(json!({"kind": "group", "id": gid, "add_members": ["admin@gcsim.example"]}));
    api.post(
        &format!("/api/v2/authorization/subjects/{gid}/bulkadd?subjectType=PC_GROUP"),
        json!({"grants": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(204);
    let user = Api::with_token(&sim, &sim.user_token("admin@gcsim.example"));
    let me = user.get("/api/v2/authorization/subjects/me").expect(200);
    assert!(me["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["role"]["id"] == role.as_str()));
}
