//! The seed guides' recurring trap, by hand: create a role, fail to put it
//! on an OAuth client (the caller does not hold it), grant it to the caller
//! with bulkadd, then succeed — as a client-credentials caller (its own
//! client id as the subject) and as a user (token from /_sim/token).

use crate::common::{home, Api};
use serde_json::json;
use test_support::Sim;

fn client_body(role: &str, division: &str) -> serde_json::Value {
    json!({
        "name": "Nectar DXP API Access",
        "description": "This allows for OAuth authenticated access to conversation and agent details for Nectar DXP.",
        "authorizedGrantType": "CLIENT-CREDENTIALS",
        "roleDivisions": [{"roleId": role, "divisionId": division}]
    })
}

fn make_role(api: &Api) -> String {
    api.post(
        "/api/v2/authorization/roles",
        json!({
            "name": "Nectar DXP - ReadOnly",
            "description": "Grants read-only access to APIs used for pulling agent conversation details into Nectar DXP.",
            "permissions": ["analytics:conversationDetail:view", "directory:group:view", "directory:user:view"]
        }),
    )
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn as_a_client_credentials_caller() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = make_role(&api);
    let refused = api.post("/api/v2/oauth/clients", client_body(&role, &h));
    assert_eq!(refused.status, 400);
    // the caller grants the role to itself: its own client id, PC_OAUTH_CLIENT
    let me = api.get("/api/v2/tokens/me").expect(200);
    let my_id = me["OAuthClient"]["id"].as_str().unwrap();
    api.post(
        &format!("/api/v2/authorization/subjects/{my_id}/bulkadd?subjectType=PC_OAUTH_CLIENT"),
        json!({"grants": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(204);
    let subj = api.get("/api/v2/authorization/subjects/me").expect(200);
    assert!(subj["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["role"]["id"] == role.as_str()));
    let created = api
        .post("/api/v2/oauth/clients", client_body(&role, &h))
        .expect(200);
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["secret"].as_str().unwrap(),
    );
    // the new client can log in and do exactly what the role allows
    let nectar = Api::with_token(&sim, &sim.login(id, secret));
    nectar.get("/api/v2/groups").expect(200);
    nectar.get("/api/v2/users").expect(200);
    nectar.get("/api/v2/routing/queues").expect(403);
    // the admin client's own subject shows both grants
    let subject = api
        .get(&format!(
            "/api/v2/authorization/subjects/{}",
            sim.admin_client_id()
        ))
        .expect(200);
    assert_eq!(subject["grants"].as_array().unwrap().len(), 2);
}

#[test]
fn as_a_user() {
    let sim = Sim::start();
    let user = Api::with_token(&sim, &sim.user_token("admin@gcsim.example"));
    let h = home(&user);
    let role = make_role(&user);
    user.post("/api/v2/oauth/clients", client_body(&role, &h))
        .expect(400);
    let me = user.get("/api/v2/users/me").expect(200);
    let uid = me["id"].as_str().unwrap();
    user.post(
        &format!("/api/v2/authorization/subjects/{uid}/bulkadd?subjectType=PC_USER"),
        json!({"grants": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(204);
    let created = user
        .post("/api/v2/oauth/clients", client_body(&role, &h))
        .expect(200);
    assert_eq!(created["roleDivisions"][0]["roleId"], role.as_str());
    assert_eq!(created["createdBy"]["id"], uid);
}
