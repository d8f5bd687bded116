//! Paging edge cases of listings.

use crate::common::Api;
use serde_json::json;
use test_support::Sim;

#[test]
fn paging_edges() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    // empty listing
    let empty = api.get("/api/v2/integrations").expect(200);
    assert_eq!(empty["total"], 0);
    assert_eq!(empty["entities"], json!([]));
    assert!(empty.get("nextUri").is_none());
    assert_eq!(empty["pageSize"], 25);
    assert_eq!(empty["pageNumber"], 1);
    sim.populate(json!({"queues": 30}));
    // exactly one page
    let one = api.get("/api/v2/routing/queues?pageSize=30").expect(200);
    assert_eq!(one["pageCount"], 1);
    assert_eq!(one["entities"].as_array().unwrap().len(), 30);
    assert!(one.get("nextUri").is_none());
    assert!(one.get("previousUri").is_none());
    // default page size, then the last partial page
    let first = api.get("/api/v2/routing/queues").expect(200);
    assert_eq!(first["entities"].as_array().unwrap().len(), 25);
    assert_eq!(first["pageCount"], 2);
    assert_eq!(
        first["nextUri"],
        "/api/v2/routing/queues?pageSize=25&pageNumber=2"
    );
    assert_eq!(
        first["lastUri"],
        "/api/v2/routing/queues?pageSize=25&pageNumber=2"
    );
    assert_eq!(
        first["firstUri"],
        "/api/v2/routing/queues?pageSize=25&pageNumber=1"
    );
    assert_eq!(
        first["selfUri"],
        "/api/v2/routing/queues?pageSize=25&pageNumber=1"
    );
    let next = api.get(first["nextUri"].as_str().unwrap()).expect(200);
    assert_eq!(next["entities"].as_array().unwrap().len(), 5);
    assert!(next.get("nextUri").is_none());
    assert_eq!(
        next["previousUri"],
        "/api/v2/routing/queues?pageSize=25&pageNumber=1"
    );
    // beyond the last page
    let beyond = api.get("/api/v2/routing/queues?pageNumber=9").expect(200);
    assert_eq!(beyond["entities"], json!([]));
    assert_eq!(beyond["total"], 30);
    // sizes
    api.get("/api/v2/routing/queues?pageSize=100").expect(200);
    let big = api.get("/api/v2/routing/queues?pageSize=101");
    assert_eq!(big.status, 400);
    api.get("/api/v2/authorization/roles?pageSize=101")
        .expect(400);
    api.get("/api/v2/groups?pageSize=500").expect(200);
    api.get("/api/v2/groups?pageSize=501").expect(400);
    api.get("/api/v2/routing/queues?pageSize=0").expect(400);
    api.get("/api/v2/routing/queues?pageNumber=0").expect(400);
    api.get("/api/v2/routing/queues?pageSize=ten").expect(400);
    // filters are kept in the links
    let f = api
        .get("/api/v2/routing/queues?name=sim*&pageSize=10")
        .expect(200);
    assert_eq!(f["total"], 30);
    assert_eq!(
        f["nextUri"],
        "/api/v2/routing/queues?pageSize=10&pageNumber=2&name=sim*"
    );
}

#[test]
fn listings_are_sorted_by_name_and_stable() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    for n in ["b", "A", "c"] {
        api.post("/api/v2/routing/queues", json!({"name": n}))
            .expect(200);
    }
    let v = api.get("/api/v2/routing/queues").expect(200);
    let names: Vec<&str> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "b", "c"]);
}
