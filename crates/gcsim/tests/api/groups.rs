//! Groups, members, versions and search.

use crate::common::Api;
use base64::Engine;
use serde_json::json;
use test_support::Sim;

fn users(sim: &Sim, n: usize) -> Vec<String> {
    sim.populate(json!({"users": n}));
    let api = Api::admin(sim);
    let mut ids = Vec::new();
    let mut page = 1;
    loop {
        let v = api
            .get(&format!("/api/v2/users?pageSize=100&pageNumber={page}"))
            .expect(200);
        for u in v["entities"].as_array().unwrap() {
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        if v.get("nextUri").is_none() {
            break;
        }
        page += 1;
    }
    ids
}

#[test]
fn groups_crud_with_versions() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    api.post("/api/v2/groups", json!({"name": "No type"}))
        .expect(400);
    api.post(
        "/api/v2/groups",
        json!({"name": "Bad", "type": "Official", "visibility": "public"}),
    )
    .expect(400);
    let owner = users(&sim, 1)[0].clone();
    let g = api
        .post(
            "/api/v2/groups",
            json!({"name": "emite_Access", "description": "d", "type": "official",
                   "visibility": "public", "rulesVisible": true, "ownerIds": [owner]}),
        )
        .expect(200);
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["version"], 1);
    assert_eq!(g["memberCount"], 0);
    assert_eq!(g["state"], "active");
    assert_eq!(g["owners"][0]["id"], owner.as_str());
    let stale = api.put(
        &format!("/api/v2/groups/{id}"),
        json!({"name": "emite_Access", "version": 7}),
    );
    // Directory objects answer a stale version with 400, not 409.
    assert_eq!(stale.status, 400);
    assert!(stale.body["message"]
        .as_str()
        .unwrap()
        .contains("does not match the current version"));
    let upd = api
        .put(
            &format!("/api/v2/groups/{id}"),
            json!({"name": "emite_Access2", "description": "new", "version": 1}),
        )
        .expect(200);
    assert_eq!(upd["version"], 2);
    assert_eq!(upd["type"], "official");
    api.delete(&format!("/api/v2/groups/{id}")).expect(204);
    api.get(&format!("/api/v2/groups/{id}")).expect(404);
    // Create drops the description: only the PUT above set it.
    assert_eq!(g.get("description"), None);
    assert_eq!(upd["description"], "new");
}

#[test]
fn members_add_remove_and_limits() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let ids = users(&sim, 60);
    let g = api
        .post(
            "/api/v2/groups",
            json!({"name": "G", "type": "official", "visibility": "public"}),
        )
        .expect(200);
    let gid = g["id"].as_str().unwrap().to_string();
    let too_many: Vec<&String> = ids.iter().take(51).collect();
    api.post(
        &format!("/api/v2/groups/{gid}/members"),
        json!({"memberIds": too_many, "version": 1}),
    )
    .expect(400);
    api.post(
        &format!("/api/v2/groups/{gid}/members"),
        json!({"memberIds": [ids[0]], "version": 9}),
    )
    .expect(400);
    let fifty: Vec<&String> = ids.iter().take(50).collect();
    api.post(
        &format!("/api/v2/groups/{gid}/members"),
        json!({"memberIds": fifty, "version": 1}),
    )
    .expect(202);
    let got = api.get(&format!("/api/v2/groups/{gid}")).expect(200);
    assert_eq!(got["memberCount"], 50);
    assert_eq!(got["version"], 2);
    let members = api
        .get(&format!(
            "/api/v2/groups/{gid}/members?pageSize=20&pageNumber=3"
        ))
        .expect(200);
    assert_eq!(members["entities"].as_array().unwrap().len(), 10);
    api.delete(&format!(
        "/api/v2/groups/{gid}/members?ids={},{}",
        ids[0], ids[1]
    ))
    .expect(202);
    let got = api.get(&format!("/api/v2/groups/{gid}")).expect(200);
    assert_eq!(got["memberCount"], 48);
    assert_eq!(got["version"], 3);
    let dump = sim.dump();
    let dg = dump["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == gid.as_str())
        .unwrap()
        .clone();
    assert_eq!(dg["memberIds"].as_array().unwrap().len(), 48);
}

#[test]
fn group_search_post_and_q64() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    for n in ["eMite_Dashboards", "eMite_DashboardCreator", "Other"] {
        api.post(
            "/api/v2/groups",
            json!({"name": n, "type": "official", "visibility": "public"}),
        )
        .expect(200);
    }
    let req = json!({"pageSize": 1, "query": [{"type": "STARTS_WITH", "fields": ["name"], "value": "emite_"}]});
    let v = api.post("/api/v2/groups/search", req.clone()).expect(200);
    assert_eq!(v["total"], 2);
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    let next = v["nextPage"].as_str().unwrap();
    let v2 = api
        .get(&format!("/api/v2/groups/search?q64={}", urlenc(next)))
        .expect(200);
    assert_eq!(v2["pageNumber"], 2);
    let exact = api
        .post(
            "/api/v2/groups/search",
            json!({"query": [{"type": "EXACT", "fields": ["name"], "values": ["Other"]}]}),
        )
        .expect(200);
    assert_eq!(exact["total"], 1);
    let q = base64::engine::general_purpose::STANDARD.encode(req.to_string());
    api.get(&format!("/api/v2/groups/search?q64={}", urlenc(&q)))
        .expect(200);
}

fn urlenc(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}
