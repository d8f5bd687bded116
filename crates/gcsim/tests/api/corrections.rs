//! The corrections to the first reading of the API ("Corrections" in
//! docs/simulator.md): one test per point, each against the real binary.

use crate::common::{create_client, create_role, grant_self, home, policy_strings, Api};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::Sim;

/// A client-credentials client holding `role` in the home division, logged in.
fn client_with(sim: &Sim, api: &Api, name: &str, role: &str) -> Api {
    let h = home(api);
    grant_self(api, sim, role, &h);
    let admin = Api::admin(sim);
    let (id, secret) = create_client(&admin, name, &[(role, &h)]);
    Api::with_token(sim, &sim.login(&id, &secret))
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// Correction 1: Domain permissions grant through `permissionPolicies` only; a domain
/// string in `permissions` is stored, read back, and grants nothing; general
/// permissions are kept as sent.
#[test]
fn policies_grant_and_domain_strings_in_permissions_do_not() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let with_policy = create_role(&api, "Queue reader", &["routing:queue:view"]);
    let reader = client_with(&sim, &api, "reader", &with_policy);
    reader.get("/api/v2/routing/queues").expect(200);
    let me = reader.get("/api/v2/authorization/subjects/me").expect(200);
    assert_eq!(
        me["grants"][0]["role"]["policies"],
        json!([{"domain": "routing", "entityName": "queue", "actions": ["view"]}])
    );

    let strings = api
        .post(
            "/api/v2/authorization/roles",
            json!({"name": "Strings only", "permissions": ["routing:queue:view", "group_creation"]}),
        )
        .expect(200);
    assert_eq!(
        strings["permissions"],
        json!(["group_creation", "routing:queue:view"])
    );
    assert_eq!(strings["permissionPolicies"], json!([]));
    let holder = client_with(&sim, &api, "strings", &id(&strings));
    let r = holder.get("/api/v2/routing/queues");
    assert_eq!(
        r.status, 403,
        "a domain string in `permissions` grants nothing"
    );
    let me = holder.get("/api/v2/authorization/subjects/me").expect(200);
    assert_eq!(me["grants"][0]["role"]["policies"], json!([]));
    let dump = sim.dump();
    let role = dump["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Strings only")
        .unwrap();
    assert_eq!(role["grantedPermissions"], json!([]));
}

/// Correction 1: Policy fields the service does not evaluate (conditions, named
/// resources) are stored and returned as sent.
#[test]
fn policy_conditions_round_trip() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let condition =
        json!({"operands": [{"type": "SCALAR", "value": "x"}], "variableName": "queue.id"});
    let r = api
        .post(
            "/api/v2/authorization/roles",
            json!({"name": "Conditional", "permissionPolicies": [{
                "domain": "routing", "entityName": "queue", "actionSet": ["view"],
                "allowConditions": true, "resourceConditionNode": condition
            }]}),
        )
        .expect(200);
    let got = api
        .get(&format!("/api/v2/authorization/roles/{}", id(&r)))
        .expect(200);
    assert_eq!(got["permissionPolicies"][0]["allowConditions"], true);
    assert_eq!(
        got["permissionPolicies"][0]["resourceConditionNode"],
        condition
    );
}

/// Correction 2: A policy naming a permission the org does not have is accepted and
/// grants nothing.
#[test]
fn unknown_permissions_are_stored_and_grant_nothing() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let role = create_role(
        &api,
        "eMite_Home",
        &["integration:emiteApps:view", "routing:queue:view"],
    );
    let got = api
        .get(&format!("/api/v2/authorization/roles/{role}"))
        .expect(200);
    assert_eq!(
        policy_strings(&got),
        ["integration:emiteApps:view", "routing:queue:view"]
    );
    let holder = client_with(&sim, &api, "emite", &role);
    let me = holder.get("/api/v2/authorization/subjects/me").expect(200);
    assert_eq!(
        me["grants"][0]["role"]["policies"],
        json!([{"domain": "routing", "entityName": "queue", "actions": ["view"]}]),
        "the unknown permission is not among what the role grants"
    );
    let dump = sim.dump();
    let r = dump["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == role.as_str())
        .unwrap();
    assert_eq!(r["grantedPermissions"], json!(["routing:queue:view"]));
}

/// Correction 3: `POST /groups` drops `description`; a PUT with the version sets it.
/// Correction 4: A stale group version is a 400 naming the version mismatch.
#[test]
fn group_create_drops_description_and_stale_version_is_400() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let g = api
        .post(
            "/api/v2/groups",
            json!({"name": "G", "description": "wanted", "type": "official", "visibility": "public"}),
        )
        .expect(200);
    assert!(g.get("description").is_none());
    let gid = id(&g);
    let got = api.get(&format!("/api/v2/groups/{gid}")).expect(200);
    assert!(got.get("description").is_none());
    let put = api
        .put(
            &format!("/api/v2/groups/{gid}"),
            json!({"name": "G", "description": "wanted", "version": 1}),
        )
        .expect(200);
    assert_eq!(put["description"], "wanted");
    let stale = api.put(
        &format!("/api/v2/groups/{gid}"),
        json!({"name": "G", "description": "again", "version": 1}),
    );
    assert_eq!(stale.status, 400);
    assert!(stale.body["message"]
        .as_str()
        .unwrap()
        .contains("does not match the current version"));
}

/// Correction 5: While the authorization service lags behind a new role or division,
/// grants naming it answer 404; afterwards they succeed. `bulkremove`
/// naming a deleted role is a 400; removing one grant that is gone is a 404.
#[test]
fn authorization_lag_and_grant_removal() {
    let sim = Sim::builder().eventual_ms(1500).start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = create_role(&api, "Fresh", &["routing:queue:view"]);
    let me = sim.admin_client_id().to_string();
    let add = |role: &str, division: &str| {
        api.post(
            &format!("/api/v2/authorization/subjects/{me}/bulkadd?subjectType=PC_OAUTH_CLIENT"),
            json!({"grants": [{"roleId": role, "divisionId": division}]}),
        )
    };
    let r = add(&role, &h);
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.body["code"], "not.found");
    // Readable by id at once.
    api.get(&format!("/api/v2/authorization/roles/{role}"))
        .expect(200);
    let started = Instant::now();
    loop {
        if add(&role, &h).status == 204 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() >= Duration::from_millis(800));
    // A division created now lags in the same way.
    let division = id(&api
        .post(
            "/api/v2/authorization/divisions",
            json!({"name": "Fresh division"}),
        )
        .expect(200));
    assert_eq!(add(&role, &division).status, 404);
    // The role was granted in the home division.
    let dump = sim.dump();
    assert!(dump["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["subjectId"] == me.as_str() && g["roleId"] == role.as_str()));

    // Removal: bulkremove naming a role that no longer exists is refused.
    let other = create_role(&api, "Doomed", &["routing:queue:view"]);
    api.delete(&format!("/api/v2/authorization/roles/{other}"))
        .expect(204);
    let r = api.post(
        &format!("/api/v2/authorization/subjects/{me}/bulkremove"),
        json!({"grants": [{"roleId": role, "divisionId": h}, {"roleId": other, "divisionId": h}]}),
    );
    assert_eq!(r.status, 400);
    // One at a time works; once gone it is a 404.
    let one = format!("/api/v2/authorization/subjects/{me}/divisions/{h}/roles/{role}");
    api.delete(&one).expect(204);
    api.delete(&one).expect(404);
}

/// Correction 6: A deleted group or client reads back `state: "deleted"` for a while
/// and may still be listed; a division whose objects are draining refuses
/// its own delete until they are gone.
#[test]
fn deletes_drain() {
    let sim = Sim::builder().eventual_ms(1200).start();
    let api = Api::admin(&sim);
    let division = id(&api
        .post(
            "/api/v2/authorization/divisions",
            json!({"name": "Drained"}),
        )
        .expect(200));
    let role = create_role(&api, "Drain role", &["routing:queue:view"]);
    std::thread::sleep(Duration::from_millis(1300));
    grant_self(&api, &sim, &role, &division);
    let admin = Api::admin(&sim);
    let (client, _secret) = create_client(&admin, "drained", &[(&role, &division)]);
    let g = id(&admin
        .post(
            "/api/v2/groups",
            json!({"name": "Gone soon", "type": "official", "visibility": "public"}),
        )
        .expect(200));
    admin
        .put(
            &format!("/api/v2/oauth/clients/{client}"),
            json!({"name": "drained", "authorizedGrantType": "CLIENT-CREDENTIALS", "state": "inactive",
                   "roleDivisions": [{"roleId": role, "divisionId": division}]}),
        )
        .expect(200);
    admin
        .delete(&format!("/api/v2/oauth/clients/{client}"))
        .expect(204);
    admin.delete(&format!("/api/v2/groups/{g}")).expect(204);
    let c = admin
        .get(&format!("/api/v2/oauth/clients/{client}"))
        .expect(200);
    assert_eq!(c["state"], "deleted");
    let gr = admin.get(&format!("/api/v2/groups/{g}")).expect(200);
    assert_eq!(gr["state"], "deleted");
    let listed = admin.get("/api/v2/groups?pageSize=100").expect(200);
    assert!(listed["entities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == g.as_str() && x["state"] == "deleted"));
    admin
        .delete(&format!(
            "/api/v2/authorization/subjects/{}/divisions/{division}/roles/{role}",
            sim.admin_client_id()
        ))
        .expect(204);
    let refused = admin.delete(&format!("/api/v2/authorization/divisions/{division}"));
    assert_eq!(refused.status, 400, "{}", refused.body);
    std::thread::sleep(Duration::from_millis(1300));
    admin
        .get(&format!("/api/v2/oauth/clients/{client}"))
        .expect(404);
    admin.get(&format!("/api/v2/groups/{g}")).expect(404);
    admin
        .delete(&format!("/api/v2/authorization/divisions/{division}"))
        .expect(204);
}

/// Correction 7: `embedded-client-app`: `permissions` and `sandbox` are comma-separated
/// strings, `groups` a list of ids; a disabled integration's config saves
/// with `properties: {}`.
#[test]
fn client_app_config_shapes() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let i = api
        .post(
            "/api/v2/integrations",
            json!({"integrationType": {"id": "embedded-client-app"}}),
        )
        .expect(200);
    let iid = id(&i);
    let url = format!("/api/v2/integrations/{iid}/config/current");
    api.put(&url, json!({"name": "App", "version": 1, "properties": {}}))
        .expect(200);
    api.put(
        &url,
        json!({"name": "App", "version": 2, "properties": {
            "url": "https://example.com", "displayType": "standalone",
            "permissions": "camera,microphone", "sandbox": "allow-scripts,allow-forms",
            "groups": ["g1", "g2"]
        }}),
    )
    .expect(200);
    let r = api.put(
        &url,
        json!({"name": "App", "version": 3, "properties": {"permissions": ["camera"]}}),
    );
    assert_eq!(r.status, 400, "a list is not the comma-separated string");
}

/// Correction 8: Users page 500 at a time.
#[test]
fn users_page_up_to_500() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let page = api.get("/api/v2/users?pageSize=500").expect(200);
    assert_eq!(page["pageSize"], 500);
    api.get("/api/v2/users?pageSize=501").expect(400);
    api.get("/api/v2/authorization/roles?pageSize=101")
        .expect(400);
}
