//! The `/_sim` hooks and the injected behaviours: stats, faults, latency,
//! eventual consistency, grant delay, dump, mutate, populate, fixtures.

use crate::common::{create_client, create_role, home, http, role_id, Api};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::Sim;

#[test]
fn stats_count_by_contract_template() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let r = create_role(&api, "R", &[]);
    api.get(&format!("/api/v2/authorization/roles/{r}"))
        .expect(200);
    api.put(
        &format!("/api/v2/authorization/roles/{r}"),
        json!({"name": "R2"}),
    )
    .expect(200);
    api.get("/api/v2/authorization/roles").expect(200);
    api.get("/api/v2/authorization/divisions/home").expect(200);
    let s = sim.stats();
    assert_eq!(s["by_route"]["POST /oauth/token"], 1);
    assert_eq!(s["by_route"]["GET /api/v2/authorization/roles/{roleId}"], 1);
    assert_eq!(s["by_route"]["PUT /api/v2/authorization/roles/{roleId}"], 1);
    assert_eq!(s["by_route"]["GET /api/v2/authorization/roles"], 1);
    assert_eq!(s["by_route"]["GET /api/v2/authorization/divisions/home"], 1);
    assert_eq!(s["total"], 6);
    sim.reset_stats();
    let s = sim.stats();
    assert_eq!(s["total"], 0);
    assert_eq!(s["by_route"], json!({}));
}

#[test]
fn faults_settings_partial_update() {
    let sim = Sim::builder().latency_ms(5).start();
    let s = sim.faults(json!({"rate_limit": 60}));
    assert_eq!(s["rate_limit"], 60);
    assert_eq!(s["latency_ms"], 5);
    assert_eq!(s["fault_rate"], 0.0);
    let s = sim.faults(
        json!({"fault_rate": 0.5, "eventual_ms": 10, "grant_delay_ms": 20, "jitter_ms": 1}),
    );
    assert_eq!(s["rate_limit"], 60);
    assert_eq!(s["fault_rate"], 0.5);
    assert_eq!(s["grant_delay_ms"], 20);
    let bad = http()
        .post(format!("{}/_sim/faults", sim.url()))
        .json(&json!({"nope": 1}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[test]
fn latency_is_added() {
    let sim = Sim::builder().latency_ms(150).start();
    let api = Api::admin(&sim);
    let t = Instant::now();
    api.get("/api/v2/organizations/me").expect(200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert!(sim.stats()["latency_ms_total"].as_u64().unwrap() >= 300);
}

fn outcomes(sim: &Sim, token: &str, n: usize) -> Vec<String> {
    let client = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (0..n)
        .map(|_| {
            match client
                .get(format!("{}/api/v2/organizations/me", sim.url()))
                .bearer_auth(token)
                .send()
            {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if status != 200 {
                        let cid = r.headers()["inin-correlation-id"]
                            .to_str()
                            .unwrap()
                            .to_string();
                        let body: Value = r.json().unwrap();
                        crate::common::check_error(&body, status, &cid);
                    }
                    status.to_string()
                }
                Err(_) => "dropped".to_string(),
            }
        })
        .collect()
}

fn client_token(sim: &Sim) -> String {
    sim.client_token(sim.admin_client_id())
}

#[test]
fn fault_injection_is_deterministic_under_a_seed() {
    let a = Sim::builder()
        .fault_rate(0.5)
        .seed(42)
        .rate_limit(0)
        .start();
    let b = Sim::builder()
        .fault_rate(0.5)
        .seed(42)
        .rate_limit(0)
        .start();
    let ra = outcomes(&a, &client_token(&a), 40);
    let rb = outcomes(&b, &client_token(&b), 40);
    assert_eq!(ra, rb);
    for kind in ["200", "502", "503", "504", "dropped"] {
        assert!(
            ra.iter().any(|o| o == kind),
            "{kind} never happened: {ra:?}"
        );
    }
    let faults = a.stats()["faults"].as_u64().unwrap();
    assert_eq!(faults as usize, ra.iter().filter(|o| *o != "200").count());
    let c = Sim::builder().fault_rate(0.5).seed(7).rate_limit(0).start();
    assert_ne!(outcomes(&c, &client_token(&c), 40), ra);
}

/// Creates `n` roles named `{prefix}{i}` with raw POSTs (no retry, a fresh
/// connection each) and answers each outcome: the status, or `dropped`.
fn create_outcomes(sim: &Sim, token: &str, prefix: &str, n: usize) -> Vec<String> {
    let client = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (0..n)
        .map(|i| {
            match client
                .post(format!("{}/api/v2/authorization/roles", sim.url()))
                .bearer_auth(token)
                .json(&json!({"name": format!("{prefix}{i}"), "permissions": []}))
                .send()
            {
                Ok(r) => {
                    let status = r.status().as_u16();
                    if status != 200 {
                        let cid = r.headers()["inin-correlation-id"]
                            .to_str()
                            .unwrap()
                            .to_string();
                        let body: Value = r.json().unwrap();
                        crate::common::check_error(&body, status, &cid);
                    }
                    status.to_string()
                }
                Err(_) => "dropped".to_string(),
            }
        })
        .collect()
}

#[test]
fn lost_responses_apply_the_request_then_lose_the_answer() {
    let start = || {
        Sim::builder()
            .lost_response_rate(0.5)
            .seed(11)
            .rate_limit(0)
            .start()
    };
    let a = start();
    assert_eq!(a.faults(json!({}))["lost_response_rate"], 0.5);
    let ra = create_outcomes(&a, &client_token(&a), "Lost ", 30);
    // Both kinds of loss happen, and nothing else fails.
    for kind in ["200", "504", "dropped"] {
        assert!(
            ra.iter().any(|o| o == kind),
            "{kind} never happened: {ra:?}"
        );
    }
    assert!(ra
        .iter()
        .all(|o| ["200", "504", "dropped"].contains(&o.as_str())));
    let stats = a.stats();
    assert_eq!(
        stats["lost_responses"].as_u64().unwrap() as usize,
        ra.iter().filter(|o| *o != "200").count()
    );
    assert_eq!(stats["faults"], 0);
    // Every request was applied, answered or not: all 30 roles exist, once.
    let dump = a.dump();
    let names: Vec<&str> = dump["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .filter(|n| n.starts_with("Lost "))
        .collect();
    assert_eq!(names.len(), 30, "{names:?}");
    // Deterministic under the seed.
    let b = start();
    assert_eq!(create_outcomes(&b, &client_token(&b), "Lost ", 30), ra);
    // Settable at run time; 0 turns it off.
    let s = a.faults(json!({"lost_response_rate": 0.0}));
    assert_eq!(s["lost_response_rate"], 0.0);
    assert!(create_outcomes(&a, &client_token(&a), "After ", 5)
        .iter()
        .all(|o| o == "200"));
    let bad = http()
        .post(format!("{}/_sim/faults", a.url()))
        .json(&json!({"lost_response_rate": 2}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[test]
fn eventual_consistency_hides_new_objects_from_lists_only() {
    let sim = Sim::builder().eventual_ms(1500).start();
    let api = Api::admin(&sim);
    let r = create_role(&api, "Late", &[]);
    api.get(&format!("/api/v2/authorization/roles/{r}"))
        .expect(200);
    let listed = api.get("/api/v2/authorization/roles?name=Late").expect(200);
    assert_eq!(listed["total"], 0);
    let g = api
        .post(
            "/api/v2/groups",
            json!({"name": "LateG", "type": "official", "visibility": "public"}),
        )
        .expect(200);
    api.get(&format!("/api/v2/groups/{}", g["id"].as_str().unwrap()))
        .expect(200);
    let (cid, _) = create_client(&api, "late-client", &[]);
    let clients = api.get("/api/v2/oauth/clients").expect(200);
    assert!(!clients.to_string().contains(&cid));
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(
        api.get("/api/v2/authorization/roles?name=Late").expect(200)["total"],
        1
    );
    assert!(api
        .get("/api/v2/groups")
        .expect(200)
        .to_string()
        .contains("LateG"));
    assert!(api
        .get("/api/v2/oauth/clients")
        .expect(200)
        .to_string()
        .contains(&cid));
}

#[test]
fn grant_delay_applies_to_existing_tokens_only() {
    let sim = Sim::builder().grant_delay_ms(1500).start();
    let api = Api::admin(&sim);
    let h = home(&api);
    let role = create_role(&api, "Delayed", &["routing:queue:view"]);
    crate::common::grant_self(&api, &sim, &role, &h);
    let held = |v: &Value| {
        v["grants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["role"]["id"] == role.as_str())
    };
    // the existing token does not see it yet; the stored grant exists
    let me = api.get("/api/v2/authorization/subjects/me").expect(200);
    assert!(!held(&me));
    let stored = api
        .get(&format!(
            "/api/v2/authorization/subjects/{}",
            sim.admin_client_id()
        ))
        .expect(200);
    assert!(held(&stored));
    api.post(
        "/api/v2/oauth/clients",
        json!({"name": "too early", "authorizedGrantType": "CLIENT-CREDENTIALS",
               "roleDivisions": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(400);
    // a token issued after the grant sees it at once
    let fresh = Api::admin(&sim);
    assert!(held(
        &fresh.get("/api/v2/authorization/subjects/me").expect(200)
    ));
    // the old token sees it after the delay
    std::thread::sleep(Duration::from_millis(1600));
    assert!(held(
        &api.get("/api/v2/authorization/subjects/me").expect(200)
    ));
    create_client(&api, "in time", &[(&role, &h)]);
    // user tokens too
    let user = Api::with_token(&sim, &sim.user_token("admin@gcsim.example"));
    let uid = user.get("/api/v2/users/me").expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.post(
        &format!("/api/v2/authorization/subjects/{uid}/bulkadd?subjectType=PC_USER"),
        json!({"grants": [{"roleId": role, "divisionId": h}]}),
    )
    .expect(204);
    assert!(!held(
        &user.get("/api/v2/authorization/subjects/me").expect(200)
    ));
    std::thread::sleep(Duration::from_millis(1600));
    assert!(held(
        &user.get("/api/v2/authorization/subjects/me").expect(200)
    ));
}

#[test]
fn dump_has_everything_but_secrets() {
    let sim = Sim::builder()
        .fixture_toml(
            r#"
[[users]]
email = "ada@acme.example"
roles = ["admin"]
[[oauth_clients]]
name = "ci"
client_secret = "fixture-secret-value"
roles = ["admin"]
[[groups]]
name = "Supervisors"
members = ["ada@acme.example"]
"#,
        )
        .start();
    let api = Api::admin(&sim);
    let admin = role_id(&api, "admin");
    let h = home(&api);
    let (_, secret) = create_client(&api, "new", &[(&admin, &h)]);
    let token = sim.login(sim.admin_client_id(), sim.admin_client_secret());
    let i = api
        .post(
            "/api/v2/integrations",
            json!({"name": "app", "integrationType": {"id": "embedded-client-app"}}),
        )
        .expect(200);
    let dump = sim.dump();
    let text = dump.to_string();
    for s in [
        secret.as_str(),
        "fixture-secret-value",
        token.as_str(),
        api.token.as_str(),
    ] {
        assert!(!text.contains(s), "dump leaks a secret or token");
    }
    for key in [
        "org",
        "divisions",
        "roles",
        "grants",
        "users",
        "groups",
        "oauth_clients",
        "integrations",
        "identity_providers",
        "queues",
    ] {
        assert!(dump.get(key).is_some(), "dump lacks {key}");
    }
    assert_eq!(dump["groups"][0]["name"], "Supervisors");
    assert_eq!(dump["groups"][0]["memberIds"].as_array().unwrap().len(), 1);
    assert!(dump["grants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["subjectType"] == "PC_OAUTH_CLIENT"
            && g["roleId"] == admin.as_str()
            && g["divisionId"] == h.as_str()));
    let di = dump["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == i["id"])
        .unwrap();
    assert_eq!(di["config"]["version"], 1);
    let names: Vec<&str> = dump["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
}

#[test]
fn mutate_changes_objects_behind_the_clients_back() {
    let sim = Sim::start();
    let api = Api::admin(&sim);
    let r = create_role(&api, "Drift", &["routing:queue:view", "routing:queue:join"]);
    let g = api
        .post(
            "/api/v2/groups",
            json!({"name": "DriftG", "type": "official", "visibility": "public"}),
        )
        .expect(200);
    let i = api
        .post(
            "/api/v2/integrations",
            json!({"name": "DriftI", "integrationType": {"id": "embedded-client-app"}}),
        )
        .expect(200);
    let out = sim.mutate(json!([
        {"kind": "role", "name": "Drift", "set": {"name": "Drifted"}},
        {"kind": "role", "id": r, "remove_permissions": ["routing:queue:join"]},
        {"kind": "group", "name": "DriftG", "add_members": ["admin@gcsim.example"]},
        {"kind": "group", "create": {"name": "Unmanaged", "type": "official", "visibility": "public"}},
        {"kind": "integration", "name": "DriftI", "set": {"intendedState": "ENABLED", "config": {"properties": {"url": "https://evil.example"}}}},
    ]));
    assert_eq!(out["results"].as_array().unwrap().len(), 5);
    let role = api
        .get(&format!("/api/v2/authorization/roles/{r}"))
        .expect(200);
    assert_eq!(role["name"], "Drifted");
    assert_eq!(crate::common::policy_strings(&role), ["routing:queue:view"]);
    let group = api
        .get(&format!("/api/v2/groups/{}", g["id"].as_str().unwrap()))
        .expect(200);
    assert_eq!(group["memberCount"], 1);
    assert_eq!(group["version"], 2);
    let id = i["id"].as_str().unwrap();
    let cfg = api
        .get(&format!("/api/v2/integrations/{id}/config/current"))
        .expect(200);
    assert_eq!(cfg["properties"]["url"], "https://evil.example");
    assert_eq!(cfg["version"], 2);
    assert_eq!(
        api.get(&format!("/api/v2/integrations/{id}")).expect(200)["intendedState"],
        "ENABLED"
    );
    assert_eq!(api.get("/api/v2/groups").expect(200)["total"], 2);
    // delete bypasses the inactive rule
    let (cid, _) = create_client(&api, "victim", &[]);
    sim.mutate(json!({"kind": "oauth_client", "id": cid, "delete": true}));
    api.get(&format!("/api/v2/oauth/clients/{cid}")).expect(404);
    // bad ops are refused
    let bad = http()
        .post(format!("{}/_sim/mutate", sim.url()))
        .json(&json!({"kind": "role", "name": "nope", "delete": true}))
        .send()
        .unwrap();
    assert_eq!(bad.status(), 404);
}

#[test]
fn populate_twenty_thousand_objects_quickly() {
    let sim = Sim::start();
    let t = Instant::now();
    let v = sim.populate(json!({"roles": 5000, "groups": 5000, "oauth_clients": 4000, "integrations": 4000, "divisions": 2000}));
    let took = t.elapsed();
    assert_eq!(v["created"]["roles"], 5000);
    assert!(took < Duration::from_secs(5), "populate took {took:?}");
    let api = Api::admin(&sim);
    let t = Instant::now();
    let mut n = 0;
    for page in 1..=20 {
        let roles = api
            .get(&format!(
                "/api/v2/authorization/roles?pageSize=100&pageNumber={page}"
            ))
            .expect(200);
        assert_eq!(roles["total"], 5008);
        n += 1;
    }
    let per = t.elapsed() / n;
    assert!(
        per < Duration::from_millis(250),
        "a page of roles took {per:?}"
    );
    assert_eq!(
        api.get("/api/v2/groups?pageSize=500").expect(200)["total"],
        5000
    );
    let clients = api.get("/api/v2/oauth/clients").expect(200);
    assert_eq!(clients["total"], 4001);
    let found = api
        .get("/api/v2/authorization/roles?name=sim-role-004321")
        .expect(200);
    assert_eq!(found["total"], 1);
}

#[test]
fn fixture_errors_name_the_key() {
    let err = Sim::builder()
        .fixture_toml("[org]\nname = \"x\"\nshortname = \"y\"\n")
        .try_start()
        .unwrap_err();
    assert!(err.contains("shortname"), "{err}");
    let err = Sim::builder()
        .fixture_toml("[[roles]]\nname = \"x\"\npermissions = [\"integration:emiteApps:view\"]\n")
        .try_start()
        .unwrap_err();
    assert!(err.contains("integration:emiteApps:view"), "{err}");
    let err = Sim::builder()
        .fixture_toml("[org]\nregion = \"mars-1\"\n")
        .try_start()
        .unwrap_err();
    assert!(err.contains("mars-1"), "{err}");
}

#[test]
fn startup_lines_and_speed() {
    let bin = test_support::bin_path("gcsim");
    let t = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let took = t.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("gcsim listening on http://127.0.0.1:"),
        "{first}"
    );
    let port: u16 = first.rsplit(':').next().unwrap().parse().unwrap();
    assert!(port > 0);
    assert!(second.starts_with("gcsim admin client_id="), "{second}");
    assert!(second.contains(" client_secret="), "{second}");
    assert!(took < Duration::from_secs(1), "startup took {took:?}");
}
