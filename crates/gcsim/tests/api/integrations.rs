//! Integration types, instances, config and credentials.

use crate::common::Api;
use serde_json::{json, Value};
use test_support::Sim;

fn create(api: &Api, ty: &str, name: &str) -> Value {
    api.post(
        "/api/v2/integrations",
        json!({"name": name, "integrationType": {"id": ty}}),
    )
    .expect(200)
}

#[test]
fn types_include_the_seed_systems() {
    let sim = Sim::builder()
        .fixture_toml("[[integration_types]]\nid = \"acme-presence\"\nname = \"Acme Presence\"\nproperties = [\"apiKey\", \"region\"]\n")
        .start();
    let api = Api::admin(&sim);
    let types = api
        .get("/api/v2/integrations/types?pageSize=100")
        .expect(200);
    let ids: Vec<&str> = types["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for want in [
        "embedded-client-app",
        "amazon-eventbridge-source",
        "purecloud-data-actions",
        "eight-by-eight",
        "acme-presence",
    ] {
        assert!(ids.contains(&want), "{want} in {ids:?}");
    }
    let schema = api
        .get("/api/v2/integrations/types/amazon-eventbridge-source/configschemas/properties")
        .expect(200);
    assert_eq!(
        schema["required"],
        json!(["awsAccountId", "awsAccountRegion", "eventSourceSuffix"])
    );
    assert!(schema["properties"]["eventFilter"].is_object());
    let app = api
        .get("/api/v2/integrations/types/embedded-client-app")
        .expect(200);
    assert_eq!(app["name"], "Client Application");
    api.get("/api/v2/integrations/types/nope").expect(404);
}

#[test]
fn lifecycle_state_and_versioned_config() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let i = create(&api, "embedded-client-app", "eMite");
    let id = i["id"].as_str().unwrap().to_string();
    assert_eq!(i["intendedState"], "DISABLED");
    assert_eq!(i["reportedState"]["code"], "INACTIVE");
    let cfg = api
        .get(&format!("/api/v2/integrations/{id}/config/current"))
        .expect(200);
    assert_eq!(cfg["version"], 1);
    let body = json!({
        "name": "eMite", "version": 1, "notes": "",
        "properties": {
            "url": "https://au-cloud.emite.com/emite/acme/Auth/OAuthPureCloud?org=acme",
            "displayType": "standalone",
            "sandbox": "allow-scripts,allow-same-origin,allow-forms,allow-modals,allow-popups,allow-downloads",
            "featureCategory": "",
            "groups": ["g1"]
        },
        "advanced": {}, "credentials": {}
    });
    let put = api
        .put(
            &format!("/api/v2/integrations/{id}/config/current"),
            body.clone(),
        )
        .expect(200);
    assert_eq!(put["version"], 2);
    assert_eq!(put["properties"]["displayType"], "standalone");
    let stale = api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        body.clone(),
    );
    assert_eq!(stale.status, 409);
    let mut unknown = body.clone();
    unknown["version"] = json!(2);
    unknown["properties"]["colour"] = json!("red");
    let r = api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        unknown,
    );
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("colour"));
    // Required properties are not enforced on save.
    let mut missing = body.clone();
    missing["version"] = json!(2);
    missing["properties"].as_object_mut().unwrap().remove("url");
    api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        missing,
    )
    .expect(200);
    let mut bad_enum = body;
    bad_enum["version"] = json!(3);
    bad_enum["properties"]["displayType"] = json!("Standalone");
    api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        bad_enum,
    )
    .expect(400);
    let en = api
        .patch(
            &format!("/api/v2/integrations/{id}"),
            json!({"intendedState": "ENABLED"}),
        )
        .expect(200);
    assert_eq!(en["intendedState"], "ENABLED");
    assert_eq!(en["reportedState"]["code"], "ACTIVE");
    api.patch(
        &format!("/api/v2/integrations/{id}"),
        json!({"intendedState": "enabled"}),
    )
    .expect(400);
    let listed = api
        .get("/api/v2/integrations?expand=config.current&integrationType=embedded-client-app")
        .expect(200);
    assert_eq!(listed["total"], 1);
    assert_eq!(
        listed["entities"][0]["config"]["current"]["properties"]["displayType"],
        "standalone"
    );
    let deleted = api
        .delete(&format!("/api/v2/integrations/{id}"))
        .expect(200);
    assert_eq!(deleted["id"], id.as_str());
    api.get(&format!("/api/v2/integrations/{id}")).expect(404);
}

#[test]
fn eventbridge_config_like_nectar() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let i = create(&api, "amazon-eventbridge-source", "Nectar DXP EventBridge");
    let id = i["id"].as_str().unwrap();
    api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        json!({"name": "Nectar DXP EventBridge", "version": 1, "properties": {
            "awsAccountId": "123456789012", "awsAccountRegion": "us-east-1",
            "eventSourceSuffix": "Genesys-NectarDXP",
            "eventFilter": ["v2.users.{id}.tokens", "v2.operations.events.{id}", "v2.detail.events.conversation.{id}.customer.end"]
        }}),
    )
    .expect(200);
    api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        json!({"version": 2, "properties": {"awsAccount": "1"}}),
    )
    .expect(400);
}

#[test]
fn notes_are_one_field_of_integration_and_config() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let i = api
        .post(
            "/api/v2/integrations",
            json!({"name": "n", "notes": "from create", "integrationType": {"id": "eight-by-eight"}}),
        )
        .expect(200);
    let id = i["id"].as_str().unwrap();
    assert_eq!(i["notes"], "from create");
    let cfg = api
        .get(&format!("/api/v2/integrations/{id}/config/current"))
        .expect(200);
    assert_eq!(cfg["notes"], "from create");
    api.put(
        &format!("/api/v2/integrations/{id}/config/current"),
        json!({"name": "n", "version": 1, "notes": "from config", "properties": {}}),
    )
    .expect(200);
    assert_eq!(
        api.get(&format!("/api/v2/integrations/{id}")).expect(200)["notes"],
        "from config"
    );
}

#[test]
fn eight_by_eight_installs_once() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    create(&api, "eight-by-eight", "8x8");
    api.post(
        "/api/v2/integrations",
        json!({"integrationType": {"id": "eight-by-eight"}}),
    )
    .expect(400);
    api.post(
        "/api/v2/integrations",
        json!({"integrationType": {"id": "nope"}}),
    )
    .expect(400);
    // name defaults to the type's name
    let d = api
        .post(
            "/api/v2/integrations",
            json!({"integrationType": {"id": "purecloud-data-actions"}}),
        )
        .expect(200);
    assert_eq!(d["name"], "Genesys Cloud Data Actions");
}

#[test]
fn credentials_crud_redacts_fields() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let c = api
        .post(
            "/api/v2/integrations/credentials",
            json!({"name": "creds", "type": {"name": "basicAuth"}, "credentialFields": {"userName": "u", "password": "hunter2"}}),
        )
        .expect(200);
    let id = c["id"].as_str().unwrap();
    let got = api
        .get(&format!("/api/v2/integrations/credentials/{id}"))
        .expect(200);
    assert!(got.get("credentialFields").is_none());
    assert!(!sim.dump().to_string().contains("hunter2"));
    let list = api.get("/api/v2/integrations/credentials").expect(200);
    assert_eq!(list["total"], 1);
    api.put(
        &format!("/api/v2/integrations/credentials/{id}"),
        json!({"name": "creds2", "type": {"name": "basicAuth"}, "credentialFields": {"userName": "u", "password": "p"}}),
    )
    .expect(200);
    api.delete(&format!("/api/v2/integrations/credentials/{id}"))
        .expect(204);
}
