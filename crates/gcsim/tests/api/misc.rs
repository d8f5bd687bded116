//! Queues, users and identity providers.

use crate::common::Api;
use serde_json::json;
use test_support::Sim;

#[test]
fn queues_crud() {
    let sim = Sim::builder()
        .fixture_toml(
            "[[divisions]]\nname = \"Bots\"\n[[queues]]\nname = \"Support\"\ndivision = \"Bots\"\n",
        )
        .start();
    let api = Api::admin(&sim);
    let listed = api.get("/api/v2/routing/queues?name=support").expect(200);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["entities"][0]["division"]["name"], "Bots");
    let q = api
        .post(
            "/api/v2/routing/queues",
            json!({"name": "Cognigy HQ Queue", "description": "d",
                   "acwSettings": {"wrapupPrompt": "MANDATORY"}, "skillEvaluationMethod": "BEST"}),
        )
        .expect(200);
    let id = q["id"].as_str().unwrap();
    assert_eq!(q["division"]["name"], "Home");
    assert_eq!(q["acwSettings"]["wrapupPrompt"], "MANDATORY");
    api.post(
        "/api/v2/routing/queues",
        json!({"name": "x", "skillEvaluationMethod": "best"}),
    )
    .expect(400);
    let mut upd = api.get(&format!("/api/v2/routing/queues/{id}")).expect(200);
    upd["description"] = json!("new");
    let after = api
        .put(&format!("/api/v2/routing/queues/{id}"), upd)
        .expect(200);
    assert_eq!(after["description"], "new");
    let bots = listed["entities"][0]["division"]["id"].as_str().unwrap();
    let in_div = api
        .get(&format!("/api/v2/routing/queues?divisionId={bots}"))
        .expect(200);
    assert_eq!(in_div["total"], 1);
    api.delete(&format!("/api/v2/routing/queues/{id}"))
        .expect(204);
}

#[test]
fn users_crud_and_search() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let u = api
        .post(
            "/api/v2/users",
            json!({"name": "Agent A", "email": "a@x.example"}),
        )
        .expect(200);
    let id = u["id"].as_str().unwrap();
    assert_eq!(u["version"], 1);
    assert_eq!(u["state"], "active");
    api.post(
        "/api/v2/users",
        json!({"name": "Dup", "email": "A@x.example"}),
    )
    .expect(409);
    api.patch(
        &format!("/api/v2/users/{id}"),
        json!({"title": "t", "version": 5}),
    )
    .expect(400);
    let p = api
        .patch(
            &format!("/api/v2/users/{id}"),
            json!({"title": "t", "version": 1}),
        )
        .expect(200);
    assert_eq!(p["title"], "t");
    assert_eq!(p["version"], 2);
    let found = api
        .post(
            "/api/v2/users/search",
            json!({"query": [{"type": "EXACT", "fields": ["email"], "value": "a@x.example"}]}),
        )
        .expect(200);
    assert_eq!(found["total"], 1);
    assert_eq!(found["results"][0]["id"], id);
    let listed = api.get(&format!("/api/v2/users?id={id}")).expect(200);
    assert_eq!(listed["total"], 1);
    api.delete(&format!("/api/v2/users/{id}")).expect(200);
    api.get(&format!("/api/v2/users/{id}")).expect(404);
}

#[test]
fn pureengage_identity_provider() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    api.get("/api/v2/identityproviders/pureengage").expect(404);
    let body = json!({
        "name": "PureEngage", "autoProvisionUsers": true,
        "certificate": "-----BEGIN CERTIFICATE----- ...== -----END CERTIFICATE-----",
        "issuerURI": "http://www.genesys.com/pureengage",
        "ssoTargetURI": "http://example.com/target", "disabled": false
    });
    let put = api
        .put("/api/v2/identityproviders/pureengage", body)
        .expect(200);
    assert_eq!(put["name"], "PureEngage");
    let got = api.get("/api/v2/identityproviders/pureengage").expect(200);
    assert_eq!(got["autoProvisionUsers"], true);
    assert_eq!(got["issuerURI"], "http://www.genesys.com/pureengage");
    let all = api.get("/api/v2/identityproviders").expect(200);
    assert_eq!(all["total"], 1);
    assert_eq!(
        sim.dump()["identity_providers"]["pureengage"]["issuerURI"],
        "http://www.genesys.com/pureengage"
    );
    api.put(
        "/api/v2/identityproviders/pureengage",
        json!({"autoProvision": true}),
    )
    .expect(400);
    api.delete("/api/v2/identityproviders/pureengage")
        .expect(200);
    api.get("/api/v2/identityproviders/pureengage").expect(404);
    api.put(
        "/api/v2/identityproviders/okta",
        json!({"name": "Okta", "issuerURI": "x"}),
    )
    .expect(200);
}

#[test]
fn organization_put_is_versioned() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let org = api.get("/api/v2/organizations/me").expect(200);
    let mut body = org;
    body["defaultLanguage"] = json!("de");
    api.put("/api/v2/organizations/me", body.clone())
        .expect(200);
    api.put("/api/v2/organizations/me", body).expect(409);
}
