//! Login, tokens, 401s, `tokens/me`, `organizations/me`, `users/me`.

use crate::common::{http, Api};
use serde_json::json;
use test_support::Sim;

#[test]
fn login_answers_a_bearer_token() {
    let sim = Sim::start();
    let resp = http()
        .post(format!("{}/oauth/token", sim.url()))
        .basic_auth(sim.admin_client_id(), Some(sim.admin_client_secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("inin-correlation-id"));
    let v: serde_json::Value = resp.json().unwrap();
    assert_eq!(v["token_type"], "bearer");
    assert!(v["expires_in"].as_u64().unwrap() > 0);
    assert!(v["access_token"].as_str().unwrap().len() > 20);
}

#[test]
fn bad_logins_are_refused() {
    let sim = Sim::start();
    let bad_secret = http()
        .post(format!("{}/oauth/token", sim.url()))
        .basic_auth(sim.admin_client_id(), Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .unwrap();
    assert_eq!(bad_secret.status(), 401);
    let v: serde_json::Value = bad_secret.json().unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert_eq!(v["status"], 401);
    let bad_grant = http()
        .post(format!("{}/oauth/token", sim.url()))
        .basic_auth(sim.admin_client_id(), Some(sim.admin_client_secret()))
        .form(&[("grant_type", "password")])
        .send()
        .unwrap();
    assert_eq!(bad_grant.status(), 400);
}

#[test]
fn missing_bad_and_expired_tokens_get_401() {
    let sim = Sim::start();
    let resp = http()
        .get(format!("{}/api/v2/organizations/me", sim.url()))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let cid = resp.headers()["inin-correlation-id"]
        .to_str()
        .unwrap()
        .to_string();
    let v: serde_json::Value = resp.json().unwrap();
    crate::common::check_error(&v, 401, &cid);

    let bogus = Api::with_token(&sim, "not-a-token");
    bogus.get("/api/v2/organizations/me").expect(401);

    let v = reqwest::blocking::Client::new()
        .post(format!("{}/_sim/token", sim.url()))
        .json(&json!({"user": "admin@gcsim.example", "expires_in": 1}))
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    let short = Api::with_token(&sim, v["access_token"].as_str().unwrap());
    short.get("/api/v2/organizations/me").expect(200);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    short.get("/api/v2/organizations/me").expect(401);
}

#[test]
fn delete_tokens_me_revokes_the_token() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    api.call("HEAD", "/api/v2/tokens/me", None);
    api.delete("/api/v2/tokens/me").expect(204);
    api.get("/api/v2/tokens/me").expect(401);
}

#[test]
fn tokens_me_and_organizations_me_describe_the_caller() {
    let sim = Sim::builder()
        .fixture_toml(
            r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"
[[oauth_clients]]
name = "ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#,
        )
        .start();
    assert_eq!(sim.admin_client_id(), "ci-client");
    assert_eq!(sim.admin_client_secret(), "ci-secret");
    let api = Api::admin(&sim);
    let org = api.get("/api/v2/organizations/me").expect(200);
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["thirdPartyOrgName"], "acme");
    let tok = api.get("/api/v2/tokens/me").expect(200);
    assert_eq!(tok["OAuthClient"]["id"], "ci-client");
    assert_eq!(tok["organization"]["id"], org["id"]);
    assert_eq!(sim.dump()["org"]["region"], "ap-southeast-2");
}

#[test]
fn users_me_needs_a_user_token() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    api.get("/api/v2/users/me").expect(400);
    let user = Api::with_token(&sim, &sim.user_token("admin@gcsim.example"));
    let me = user
        .get("/api/v2/users/me?expand=authorization")
        .expect(200);
    assert_eq!(me["email"], "admin@gcsim.example");
    let roles = me["authorization"]["roles"].as_array().unwrap();
    assert!(roles.iter().any(|r| r["name"] == "admin"), "{me}");
    assert!(me["authorization"]["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "authorization:role:add"));
    let tok = user.get("/api/v2/tokens/me").expect(200);
    assert!(tok["OAuthClient"].is_object());
}

#[test]
fn disabled_client_tokens_stop_working() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let admin_role = crate::common::role_id(&api, "admin");
    let home = crate::common::home(&api);
    let (id, secret) = crate::common::create_client(&api, "temp", &[(&admin_role, &home)]);
    let other = Api::with_token(&sim, &sim.login(&id, &secret));
    other.get("/api/v2/organizations/me").expect(200);
    sim.mutate(json!({"kind": "oauth_client", "id": id, "set": {"state": "disabled"}}));
    other.get("/api/v2/organizations/me").expect(401);
}
