//! Shared helpers: a blocking API client that checks every answer against
//! the contract (no nulls, known fields, enums) and every error against the
//! Genesys error shape.

use gcsim::contract::{self, Mode};
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};
use test_support::Sim;

/// One answer: status, correlation id and JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub correlation: String,
    pub retry_after: Option<String>,
}

impl Resp {
    /// Asserts a status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status, body: {}",
            self.body
        );
        self.body
    }
}

/// A client of the simulated API with one bearer token.
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: Client,
}

pub fn http() -> Client {
    Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

impl Api {
    /// A client logged in as the sim's admin OAuth client.
    pub fn admin(sim: &Sim) -> Api {
        Api {
            base: sim.url().to_string(),
            token: sim.admin_token(),
            http: http(),
        }
    }

    /// A client with a given token.
    pub fn with_token(sim: &Sim, token: &str) -> Api {
        Api {
            base: sim.url().to_string(),
            token: token.to_string(),
            http: http(),
        }
    }

    #[track_caller]
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            // The SDKs send a JSON content type even on GETs.
            .header("Content-Type", "application/json");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let resp = req.send().expect("request failed");
        let status = resp.status().as_u16();
        let correlation = resp
            .headers()
            .get("inin-correlation-id")
            .map(|h| h.to_str().unwrap().to_string())
            .expect("every answer carries inin-correlation-id");
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|h| h.to_str().unwrap().to_string());
        let text = resp.text().unwrap();
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON answer {e}: {text}"))
        };
        check_answer(method, path, status, &body, &correlation);
        Resp {
            status,
            body,
            correlation,
            retry_after,
        }
    }

    #[track_caller]
    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None)
    }
    #[track_caller]
    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body))
    }
    #[track_caller]
    pub fn put(&self, path: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(body))
    }
    #[track_caller]
    pub fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body))
    }
    #[track_caller]
    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None)
    }
}

/// Checks an answer: errors have the Genesys shape with `contextId` = the
/// correlation id; successes match the contract's response model.
#[track_caller]
pub fn check_answer(method: &str, path: &str, status: u16, body: &Value, correlation: &str) {
    if status >= 400 {
        check_error(body, status, correlation);
        return;
    }
    let bare = path.split('?').next().unwrap();
    let Some(op) = contract::match_operation(method, bare) else {
        return;
    };
    let Some(model) = &op.response else { return };
    if body.is_null() {
        return;
    }
    if model == "object" {
        assert!(
            body.is_object(),
            "{method} {path}: expected an object, got {body}"
        );
        return;
    }
    if model == "list[str]" {
        assert!(
            body.is_array(),
            "{method} {path}: expected a list, got {body}"
        );
        return;
    }
    if let Err(e) = contract::validate(model, body, Mode::Response) {
        panic!("{method} {path}: answer does not match {model}: {e}\n{body}");
    }
}

#[track_caller]
pub fn check_error(body: &Value, status: u16, correlation: &str) {
    for key in [
        "message",
        "code",
        "status",
        "messageParams",
        "contextId",
        "details",
        "errors",
    ] {
        assert!(body.get(key).is_some(), "error body lacks {key}: {body}");
    }
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["contextId"], correlation, "{body}");
}

/// Id of the home division.
pub fn home(api: &Api) -> String {
    api.get("/api/v2/authorization/divisions/home").expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Id of a role by name.
pub fn role_id(api: &Api, name: &str) -> String {
    let v = api
        .get(&format!("/api/v2/authorization/roles?name={name}"))
        .expect(200);
    v["entities"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no role {name}: {v}"))
        .to_string()
}

/// Creates a role with permissions and answers its id.
pub fn create_role(api: &Api, name: &str, perms: &[&str]) -> String {
    api.post(
        "/api/v2/authorization/roles",
        json!({"name": name, "permissionPolicies": policies(perms)}),
    )
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `permissionPolicies` for `domain:entity:action` strings: one policy per
/// domain and entity, its actions merged.
pub fn policies(perms: &[&str]) -> Vec<Value> {
    let mut by: std::collections::BTreeMap<(String, String), Vec<String>> = Default::default();
    for p in perms {
        let mut parts = p.splitn(3, ':');
        let (d, e, a) = (
            parts.next().unwrap_or("*"),
            parts.next().unwrap_or("*"),
            parts.next().unwrap_or("*"),
        );
        by.entry((d.into(), e.into())).or_default().push(a.into());
    }
    by.into_iter()
        .map(|((d, e), a)| json!({"domain": d, "entityName": e, "actionSet": a}))
        .collect()
}

/// The `domain:entity:action` strings of a role's `permissionPolicies`, sorted.
pub fn policy_strings(role: &Value) -> Vec<String> {
    let mut out: Vec<String> = role["permissionPolicies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            let (d, e) = (
                p["domain"].as_str().unwrap_or_default().to_string(),
                p["entityName"].as_str().unwrap_or_default().to_string(),
            );
            p["actionSet"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .map(move |a| format!("{d}:{e}:{a}"))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

/// Creates a client-credentials client holding roles in divisions; answers
/// (id, secret).
pub fn create_client(api: &Api, name: &str, roles: &[(&str, &str)]) -> (String, String) {
    let rds: Vec<Value> = roles
        .iter()
        .map(|(r, d)| json!({"roleId": r, "divisionId": d}))
        .collect();
    let v = api
        .post(
            "/api/v2/oauth/clients",
            json!({"name": name, "authorizedGrantType": "CLIENT-CREDENTIALS", "roleDivisions": rds}),
        )
        .expect(200);
    (
        v["id"].as_str().unwrap().to_string(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

/// Grants the admin client a role in a division (bulkadd on itself).
pub fn grant_self(api: &Api, sim: &Sim, role: &str, division: &str) {
    api.post(
        &format!(
            "/api/v2/authorization/subjects/{}/bulkadd?subjectType=PC_OAUTH_CLIENT",
            sim.admin_client_id()
        ),
        json!({"grants": [{"roleId": role, "divisionId": division}]}),
    )
    .expect(204);
}
