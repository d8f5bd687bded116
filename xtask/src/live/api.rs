//! The live check's own view of the organization: plain Platform API reads,
//! independent of gcrecon's provider, so a bug there cannot hide itself.
//!
//! Tokens and client secrets are held in [`Secret`]s and never reach an
//! error message; a failed request is described by its method, path, status
//! and the Genesys error's `code` and `message` only (a client's read-back
//! may carry its secret, so bodies are never echoed).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gcrecon_core::Secret;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::StatusCode;
use serde_json::Value;

/// Attempts of one request when the service answers 429 or 5xx.
const ATTEMPTS: u32 = 6;

/// A logged-in session against one organization.
pub struct Api {
    http: Client,
    api_url: String,
    token: Secret,
}

/// What a read by id found.
pub enum Found {
    Object(Value),
    /// 404, or an object that reads back with `state: "deleted"`.
    Gone,
}

impl Api {
    /// Logs in with client credentials at `{login_url}/oauth/token`.
    pub fn login(
        api_url: &str,
        login_url: &str,
        client_id: &str,
        client_secret: &Secret,
    ) -> Result<Api> {
        let http = client()?;
        let token = token(&http, login_url, client_id, client_secret)?;
        Ok(Api {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// Uses an existing access token.
    pub fn with_token(api_url: &str, token: Secret) -> Result<Api> {
        Ok(Api {
            http: client()?,
            api_url: api_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The Platform API base URL.
    pub fn base_url(&self) -> &str {
        &self.api_url
    }

    /// `GET path`, answering the status and the JSON body of a 2xx or a
    /// 404/403/401 (anything else is an error).
    pub fn get_status(&self, path: &str) -> Result<(StatusCode, Value)> {
        let url = format!("{}{path}", self.api_url);
        send(
            || {
                self.http
                    .get(&url)
                    .bearer_auth(self.token.expose())
                    .header("Accept", "application/json")
            },
            "GET",
            path,
            &[
                StatusCode::NOT_FOUND,
                StatusCode::FORBIDDEN,
                StatusCode::UNAUTHORIZED,
            ],
        )
    }

    /// `GET path`, which must answer 2xx.
    pub fn get(&self, path: &str) -> Result<Value> {
        match self.get_status(path)? {
            (s, v) if s.is_success() => Ok(v),
            (s, v) => bail!("GET {path} answered {s}{}", error_summary(&v)),
        }
    }

    /// Reads an object by id; 404 and `state: "deleted"` are [`Found::Gone`].
    pub fn read(&self, path: &str) -> Result<Found> {
        match self.get_status(path)? {
            (StatusCode::NOT_FOUND, _) => Ok(Found::Gone),
            (s, v) if s.is_success() => {
                if v.get("state").and_then(Value::as_str) == Some("deleted") {
                    Ok(Found::Gone)
                } else {
                    Ok(Found::Object(v))
                }
            }
            (s, v) => bail!("GET {path} answered {s}{}", error_summary(&v)),
        }
    }

    /// Reads an object that should exist, waiting up to `within` for a
    /// service that answers 404 for a moment after a create.
    pub fn read_existing(&self, path: &str, within: Duration) -> Result<Value> {
        let deadline = Instant::now() + within;
        loop {
            match self.read(path)? {
                Found::Object(v) => return Ok(v),
                Found::Gone if Instant::now() >= deadline => {
                    bail!("GET {path}: not found (waited {}s)", within.as_secs())
                }
                Found::Gone => std::thread::sleep(Duration::from_secs(1)),
            }
        }
    }

    /// Every entity of a listing: `entities` of each page up to `pageCount`
    /// (a listing without `pageCount` is one page), without those that read
    /// `state: "deleted"`.
    pub fn list_all(&self, path: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        // `GET /api/v2/oauth/clients` has no paging parameters: one page.
        let paged = !path.starts_with("/api/v2/oauth/clients");
        let mut page = 1u64;
        loop {
            let url = if paged {
                let sep = if path.contains('?') { '&' } else { '?' };
                format!("{path}{sep}pageSize=100&pageNumber={page}")
            } else {
                path.to_owned()
            };
            let body = self.get(&url)?;
            let entities = body
                .get("entities")
                .and_then(Value::as_array)
                .with_context(|| format!("GET {url}: no `entities` list"))?;
            out.extend(
                entities
                    .iter()
                    .filter(|e| e.get("state").and_then(Value::as_str) != Some("deleted"))
                    .cloned(),
            );
            let page_count = body.get("pageCount").and_then(Value::as_u64).unwrap_or(1);
            if !paged || page >= page_count || entities.is_empty() {
                return Ok(out);
            }
            page += 1;
        }
    }
}

fn client() -> Result<Client> {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot build an HTTP client")
}

/// A client-credentials login; the answer's `access_token`.
pub fn token(
    http: &Client,
    login_url: &str,
    client_id: &str,
    client_secret: &Secret,
) -> Result<Secret> {
    let url = format!("{}/oauth/token", login_url.trim_end_matches('/'));
    let (status, body) = send(
        || {
            http.post(&url)
                .basic_auth(client_id, Some(client_secret.expose()))
                .form(&[("grant_type", "client_credentials")])
        },
        "POST",
        "/oauth/token",
        &[StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED],
    )?;
    if !status.is_success() {
        bail!(
            "the login of client {client_id} was refused: {status}{}",
            error_summary(&body)
        );
    }
    body.get("access_token")
        .and_then(Value::as_str)
        .map(Secret::new)
        .context("POST /oauth/token answered no access_token")
}

/// A fresh client for one login check.
pub fn login_client() -> Result<Client> {
    client()
}

/// Sends a request, again after a 429 (its `Retry-After`) or a 502/503/504
/// or a connection error, up to [`ATTEMPTS`] times. A status other than 2xx
/// and `accepted` is an error.
fn send(
    request: impl Fn() -> RequestBuilder,
    method: &str,
    path: &str,
    accepted: &[StatusCode],
) -> Result<(StatusCode, Value)> {
    let mut attempt = 1;
    loop {
        let wait = match request().send() {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let text = resp.text().unwrap_or_default();
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let transient =
                    status == StatusCode::TOO_MANY_REQUESTS || matches!(status.as_u16(), 502..=504);
                if status.is_success() || accepted.contains(&status) {
                    return Ok((status, body));
                }
                if !transient || attempt >= ATTEMPTS {
                    bail!("{method} {path} answered {status}{}", error_summary(&body));
                }
                Duration::from_secs(retry_after.unwrap_or(2).clamp(1, 60))
            }
            Err(e) if attempt < ATTEMPTS && (e.is_connect() || e.is_timeout()) => {
                Duration::from_secs(2)
            }
            // The error names the URL, never a header or a form field.
            Err(e) => bail!("{method} {path} failed: {}", e.without_url()),
        };
        std::thread::sleep(wait);
        attempt += 1;
    }
}

/// `: code: message (correlation id)` of a Genesys error body, if it has them.
fn error_summary(body: &Value) -> String {
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let (code, message) = (field("code"), field("message"));
    let mut s = String::new();
    if !code.is_empty() || !message.is_empty() {
        s = format!(": {code}: {message}");
    }
    if !field("contextId").is_empty() {
        s.push_str(&format!(" (correlation id {})", field("contextId")));
    }
    s
}

/// A string field of a JSON object (`""` when absent).
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The permissions a role's `permissionPolicies` grant, as
/// `domain:entity:action` strings, one per action of each policy.
pub fn policy_permissions(role: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in role
        .get("permissionPolicies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let (domain, entity) = (str_of(policy, "domain"), str_of(policy, "entityName"));
        for action in policy
            .get("actionSet")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_str)
        {
            out.insert(format!("{domain}:{entity}:{action}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permissions_come_from_the_policies_only() {
        let role = json!({
            "permissions": ["routing:queue:view", "group_creation"],
            "permissionPolicies": [
                {"domain": "analytics", "entityName": "conversationDetail", "actionSet": ["view"]},
                {"domain": "directory", "entityName": "group", "actionSet": ["view", "edit"]},
                {"domain": "routing", "entityName": "queue", "actionSet": ["*"]},
            ],
        });
        let got: Vec<String> = policy_permissions(&role).into_iter().collect();
        assert_eq!(
            got,
            [
                "analytics:conversationDetail:view",
                "directory:group:edit",
                "directory:group:view",
                "routing:queue:*",
            ]
        );
        assert!(policy_permissions(&json!({"permissions": ["routing:queue:view"]})).is_empty());
    }

    #[test]
    fn error_summaries_carry_code_message_and_correlation_id_only() {
        let body =
            json!({"code": "bad.request", "message": "no", "contextId": "c-1", "secret": "s3cr3t"});
        let s = error_summary(&body);
        assert_eq!(s, ": bad.request: no (correlation id c-1)");
        assert_eq!(error_summary(&Value::Null), "");
    }
}
