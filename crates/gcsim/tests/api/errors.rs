//! Error paths: 403, 429, 404, 405, bad bodies, wire conventions.

use crate::common::{create_client, create_role, home, Api};
use serde_json::json;
use test_support::Sim;

#[test]
fn forbidden_names_the_permission() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = create_role(&api, "Query Queue Status", &["routing:queue:view"]);
    crate::common::grant_self(&api, &sim, &role, &h);
    let api = Api::admin(&sim);
    let (id, secret) = create_client(&api, "cognigy", &[(&role, &h)]);
    let bot = Api::with_token(&sim, &sim.login(&id, &secret));
    bot.get("/api/v2/routing/queues").expect(200);
    let r = bot.get("/api/v2/authorization/roles");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["message"],
        "Unable to perform the requested action. You must have at least one of the following permissions assigned: [authorization:role:view]"
    );
    assert!(r.body["messageParams"]
        .to_string()
        .contains("authorization:role:view"));
    bot.post(
        "/api/v2/groups",
        json!({"name": "x", "type": "official", "visibility": "public"}),
    )
    .expect(403);
    bot.get("/api/v2/oauth/clients").expect(403);
    bot.get("/api/v2/integrations").expect(403);
    bot.get("/api/v2/identityproviders/pureengage").expect(403);
    // any caller may read itself
    bot.get("/api/v2/authorization/subjects/me").expect(200);
    bot.get("/api/v2/organizations/me").expect(200);
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let sim = Sim::builder().rate_limit(5).start();
    let api = Api::admin(&sim);
    for _ in 0..5 {
        api.get("/api/v2/organizations/me").expect(200);
    }
    let r = api.get("/api/v2/organizations/me");
    assert_eq!(r.status, 429);
    let secs: u64 = r
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs));
    assert_eq!(
        r.body["message"],
        format!("Rate limit exceeded the maximum. Retry the request in [{secs}] seconds")
    );
    assert_eq!(r.body["code"], "too.many.requests.retry.after");
    assert_eq!(r.body["status"], 429);
    assert_eq!(r.body["contextId"], r.correlation.as_str());
    assert_eq!(r.body["details"], json!([]));
    assert_eq!(r.body["errors"], json!([]));
    // per token: a fresh token is not limited
    Api::admin(&sim).get("/api/v2/organizations/me").expect(200);
    assert_eq!(sim.stats()["rate_limited"], 1);
    // raising the limit at run time lifts it
    sim.faults(json!({"rate_limit": 0}));
    api.get("/api/v2/organizations/me").expect(200);
}

#[test]
fn unknown_routes_methods_and_bad_bodies() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    api.get("/api/v2/nothing/here").expect(404);
    api.call("PATCH", "/api/v2/groups", Some(json!({})))
        .expect(405);
    let r = api.call("POST", "/api/v2/authorization/roles", None);
    assert_eq!(r.status, 400);
    let raw = api
        .http
        .post(format!("{}/api/v2/authorization/roles", api.base))
        .header("Authorization", format!("Bearer {}", api.token))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(raw.status(), 400);
    let r = api.post(
        "/api/v2/authorization/roles",
        json!({"name": "x", "permisions": []}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("permisions"));
    api.post("/api/v2/authorization/roles", json!({"name": 5}))
        .expect(400);
    api.get("/api/v2/routing/queues/doesnotexist").expect(404);
}

#[test]
fn wire_conventions() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    // literal null body on a POST without a body
    let (id, _) = create_client(&api, "c", &[]);
    api.call(
        "POST",
        &format!("/api/v2/oauth/clients/{id}/secret"),
        Some(json!(null)),
    )
    .expect(200);
    // null members in a request mean "not set"
    api.post(
        "/api/v2/authorization/roles",
        json!({"name": "n", "description": null, "permissions": null}),
    )
    .expect(200);
    // comma-joined and repeated list params
    let r1 = api
        .get("/api/v2/authorization/roles?defaultRoleId=admin%2Cemployee")
        .expect(200);
    let r2 = api
        .get("/api/v2/authorization/roles?defaultRoleId=admin&defaultRoleId=employee")
        .expect(200);
    assert_eq!(r1["total"], 2);
    assert_eq!(r2["total"], 2);
}

#[test]
fn documented_no_permission_reads() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let (id, secret) = create_client(&api, "no roles", &[]);
    let bare = Api::with_token(&sim, &sim.login(&id, &secret));
    // The SDK docs list these as requiring no permission.
    for path in [
        "/api/v2/groups",
        "/api/v2/users",
        "/api/v2/authorization/divisions",
        "/api/v2/authorization/divisions/home",
        "/api/v2/authorization/permissions",
        "/api/v2/organizations/me",
        "/api/v2/tokens/me",
        "/api/v2/authorization/subjects/me",
    ] {
        bare.get(path).expect(200);
    }
    for path in [
        "/api/v2/authorization/roles",
        "/api/v2/oauth/clients",
        "/api/v2/integrations",
        "/api/v2/integrations/types",
        "/api/v2/routing/queues",
        "/api/v2/identityproviders",
    ] {
        bare.get(path).expect(403);
    }
    let r = bare.post("/api/v2/users/search", json!({"query": []}));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["messageParams"]["permissions"],
        "[directory:user:view]"
    );
}
