//! OAuth clients: secrets, state, deletion and the role-grant rule.

use crate::common::{create_client, create_role, home, role_id, Api};
use serde_json::json;
use test_support::Sim;

#[test]
fn secret_only_on_create_and_regenerate() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let admin = role_id(&api, "admin");
    let h = home(&api);
    let (id, secret) = create_client(&api, "emite_APIdata", &[(&admin, &h)]);
    assert!(secret.len() >= 32);
    let got = api.get(&format!("/api/v2/oauth/clients/{id}")).expect(200);
    assert!(got.get("secret").is_none());
    assert_eq!(got["authorizedGrantType"], "CLIENT-CREDENTIALS");
    assert_eq!(got["state"], "active");
    assert_eq!(
        got["roleDivisions"],
        json!([{"roleId": admin, "divisionId": h}])
    );
    let list = api.get("/api/v2/oauth/clients").expect(200);
    assert!(list["entities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c.get("secret").is_none()));
    assert_eq!(
        list["total"].as_u64().unwrap() as usize,
        list["entities"].as_array().unwrap().len()
    );
    let token = sim.login(&id, &secret);
    let regen = api
        .post(&format!("/api/v2/oauth/clients/{id}/secret"), json!(null))
        .expect(200);
    let new_secret = regen["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    sim.login(&id, new_secret);
    // the client's own token lists what it holds
    let me = Api::with_token(&sim, &token)
        .get("/api/v2/authorization/subjects/me")
        .expect(200);
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["grants"][0]["role"]["id"], admin.as_str());
}

#[test]
fn delete_needs_inactive_state() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let (id, _) = create_client(&api, "gone", &[]);
    let r = api.delete(&format!("/api/v2/oauth/clients/{id}"));
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("inactive"));
    let upd = api
        .put(
            &format!("/api/v2/oauth/clients/{id}"),
            json!({"name": "gone", "authorizedGrantType": "CLIENT-CREDENTIALS", "state": "inactive"}),
        )
        .expect(200);
    assert_eq!(upd["state"], "inactive");
    assert!(upd["dateToDelete"].is_string());
    api.delete(&format!("/api/v2/oauth/clients/{id}"))
        .expect(204);
    api.get(&format!("/api/v2/oauth/clients/{id}")).expect(404);
}

#[test]
fn validation_of_client_bodies() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    api.post("/api/v2/oauth/clients", json!({"name": "x"}))
        .expect(400);
    api.post(
        "/api/v2/oauth/clients",
        json!({"name": "x", "authorizedGrantType": "client_credentials"}),
    )
    .expect(400);
    api.post(
        "/api/v2/oauth/clients",
        json!({"name": "x", "authorizedGrantType": "CLIENT-CREDENTIALS", "accessTokenValiditySeconds": 10}),
    )
    .expect(400);
    api.post(
        "/api/v2/oauth/clients",
        json!({"name": "x", "authorizedGrantType": "CLIENT-CREDENTIALS", "roleDivision": []}),
    )
    .expect(400);
}

#[test]
fn role_grant_rule_on_create_and_update() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = create_role(
        &api,
        "Nectar DXP - ReadOnly",
        &[
            "analytics:conversationDetail:view",
            "directory:group:view",
            "directory:user:view",
        ],
    );
    let r = api.post(
        "/api/v2/oauth/clients",
        json!({"name": "Nectar DXP API Access", "authorizedGrantType": "CLIENT-CREDENTIALS",
               "roleDivisions": [{"roleId": role, "divisionId": h}]}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Nectar DXP - ReadOnly"),
        "{}",
        r.body
    );
    assert_eq!(r.body["messageParams"]["roleId"], role.as_str());
    // deprecated roleIds follow the same rule
    api.post(
        "/api/v2/oauth/clients",
        json!({"name": "n", "authorizedGrantType": "CLIENT-CREDENTIALS", "roleIds": [role]}),
    )
    .expect(400);
    let (id, _) = create_client(&api, "later", &[]);
    api.put(
        &format!("/api/v2/oauth/clients/{id}"),
        json!({"name": "later", "authorizedGrantType": "CLIENT-CREDENTIALS",
               "roleDivisions": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(400);
    // holding the role in another division is not enough
    let sales = api
        .post("/api/v2/authorization/divisions", json!({"name": "Sales"}))
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    crate::common::grant_self(&api, &sim, &role, &sales);
    let fresh = Api::admin(&sim);
    fresh
        .put(
            &format!("/api/v2/oauth/clients/{id}"),
            json!({"name": "later", "authorizedGrantType": "CLIENT-CREDENTIALS",
                   "roleDivisions": [{"roleId": role, "divisionId": h}]}),
        )
        .expect(400);
    fresh
        .put(
            &format!("/api/v2/oauth/clients/{id}"),
            json!({"name": "later", "authorizedGrantType": "CLIENT-CREDENTIALS",
                   "roleDivisions": [{"roleId": role, "divisionId": sales}]}),
        )
        .expect(200);
    // holding it in all divisions covers every division
    crate::common::grant_self(&api, &sim, &role, "*");
    let fresh = Api::admin(&sim);
    fresh
        .put(
            &format!("/api/v2/oauth/clients/{id}"),
            json!({"name": "later", "authorizedGrantType": "CLIENT-CREDENTIALS",
                   "roleDivisions": [{"roleId": role, "divisionId": h}]}),
        )
        .expect(200);
}
