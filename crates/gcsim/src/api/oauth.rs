//! `/api/v2/oauth/clients`: OAuth clients, with the role-grant rule.
//!
//! THE ROLE-GRANT RULE: creating or updating a client whose `roleDivisions`
//! (or deprecated `roleIds`, meaning the home division) name a role the
//! caller does not itself hold in that division, or in all divisions (`*`),
//! is refused with 400. The client's roles are the grants of its subject
//! (its id, which is its client id).

use super::{no_content, ok, required_str, Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::model::{OAuthClient, Org, SubjectType};
use crate::params::single_page;
use crate::wire::{iso, new_id, random_token, str_field, str_list};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use std::time::{Duration, SystemTime};

/// Client fields a client may set (besides name and roles).
const WRITABLE: &[&str] = &[
    "description",
    "accessTokenValiditySeconds",
    "registeredRedirectUri",
    "authorizedGrantType",
    "scope",
    "state",
];

/// Wire shape of a client (`OAuthClient`); the secret only when asked.
pub fn render_client(org: &Org, c: &OAuthClient, with_secret: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("name".into(), json!(c.name));
    for k in WRITABLE {
        if let Some(v) = c.doc.get(*k) {
            m.insert((*k).into(), v.clone());
        }
    }
    m.entry("registeredRedirectUri").or_insert(json!([]));
    m.entry("scope").or_insert(json!([]));
    m.entry("state").or_insert(json!("active"));
    // "If this field is omitted, a default of 24 hours will be applied."
    m.entry("accessTokenValiditySeconds")
        .or_insert(json!(crate::auth::DEFAULT_TOKEN_SECONDS));
    if with_secret {
        m.insert("secret".into(), json!(c.secret));
    }
    m.insert("dateCreated".into(), json!(iso(c.date_created)));
    m.insert("dateModified".into(), json!(iso(c.date_modified)));
    if let Some(by) = &c.created_by {
        m.insert(
            "createdBy".into(),
            json!({"id": by, "selfUri": format!("/api/v2/users/{by}")}),
        );
    }
    if let Some(by) = &c.modified_by {
        m.insert(
            "modifiedBy".into(),
            json!({"id": by, "selfUri": format!("/api/v2/users/{by}")}),
        );
    }
    let roles: Vec<Value> = org
        .grants_of(&c.id)
        .iter()
        .map(|g| json!({"roleId": g.role_id, "divisionId": g.division_id}))
        .collect();
    m.insert("roleDivisions".into(), Value::Array(roles));
    if let Some(d) = c.doc.get("dateToDelete") {
        m.insert("dateToDelete".into(), d.clone());
    }
    m.insert(
        "selfUri".into(),
        json!(format!("/api/v2/oauth/clients/{}", c.id)),
    );
    Value::Object(m)
}

fn client_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a OAuthClient> {
    org.clients
        .get(id)
        .ok_or_else(|| ApiError::not_found("OAuth client", id))
}

/// The (role, division) pairs a client body asks for, checked against the
/// role-grant rule.
fn requested_roles(org: &Org, call: &Call, body: &Value) -> ApiResult<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    if let Some(rds) = body.get("roleDivisions").and_then(Value::as_array) {
        for rd in rds {
            let role = str_field(rd, "roleId").ok_or_else(|| {
                ApiError::invalid("roleDivisions", "Every roleDivisions entry needs a roleId")
            })?;
            let division = str_field(rd, "divisionId").unwrap_or(&org.home_division_id);
            pairs.push((role.to_string(), division.to_string()));
        }
    }
    for role in str_list(body, "roleIds").unwrap_or_default() {
        let home = org.home_division_id.clone();
        if !pairs.iter().any(|(r, _)| *r == role) {
            pairs.push((role, home));
        }
    }
    pairs.sort();
    pairs.dedup();
    for (role, division) in &pairs {
        let Some(r) = org.roles.get(role) else {
            return Err(
                ApiError::invalid("roleDivisions", format!("Role not found: {role}"))
                    .param("roleId", role.as_str()),
            );
        };
        if division != "*" && !org.divisions.contains(division) {
            return Err(ApiError::invalid(
                "roleDivisions",
                format!("Division not found: {division}"),
            )
            .param("divisionId", division.as_str()));
        }
        if !org.caller_holds_role(&call.caller, role, division, call.now, call.grant_delay()) {
            let dname = if division == "*" {
                "all divisions".to_string()
            } else {
                org.divisions
                    .get(division)
                    .map(|d| format!("division \"{}\"", d.name))
                    .unwrap_or_default()
            };
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad.request",
                format!(
                    "Unable to grant role \"{}\" in {dname} to an OAuth client: the caller ({}) does not hold that role in that division or in all divisions. \
                     A caller can only give an OAuth client roles it holds itself; grant the role to the caller first \
                     (POST /api/v2/authorization/subjects/{}/bulkadd).",
                    r.name,
                    call.caller.subject.id(),
                    call.caller.subject.id()
                ),
            )
            .param("roleId", role.as_str())
            .param("divisionId", division.as_str()));
        }
    }
    Ok(pairs)
}

fn check_fields(body: &Value) -> ApiResult<()> {
    required_str(body, "authorizedGrantType")?;
    if let Some(v) = body
        .get("accessTokenValiditySeconds")
        .and_then(Value::as_i64)
    {
        if !(300..=172_800).contains(&v) {
            return Err(ApiError::invalid(
                "accessTokenValiditySeconds",
                format!("accessTokenValiditySeconds must be between 300 and 172800, got {v}"),
            ));
        }
    }
    Ok(())
}

fn doc_of(body: &Value) -> Map<String, Value> {
    let mut doc = Map::new();
    for k in WRITABLE {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            doc.insert((*k).into(), v.clone());
        }
    }
    if doc.get("state").and_then(Value::as_str) == Some("inactive") {
        doc.insert(
            "dateToDelete".into(),
            json!(iso(SystemTime::now() + Duration::from_secs(48 * 3600))),
        );
    }
    doc
}

/// `GET /api/v2/oauth/clients`: every client, one listing, no parameters.
pub fn list(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["oauth:client:view"])?;
    // Clients deleted moments ago still show, `state: "deleted"`.
    let entities: Vec<Value> = org
        .clients
        .iter()
        .filter(|c| call.listed(c.visible_at))
        .map(|c| render_client(org, c, false))
        .chain(
            org.tombstones_of("client", call.now)
                .map(|t| t.view.clone()),
        )
        .collect();
    ok(single_page(&call.path, entities))
}

/// `POST /api/v2/oauth/clients`: answers the secret, once.
pub fn create(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["oauth:client:add"])?;
    let body = call.require_body(&["OAuthClientRequest"])?;
    let name = required_str(body, "name")?.to_string();
    check_fields(body)?;
    let roles = requested_roles(org, call, body)?;
    let t = SystemTime::now();
    let c = OAuthClient {
        id: new_id(),
        name,
        secret: random_token(43),
        doc: doc_of(body),
        date_created: t,
        date_modified: t,
        created_by: Some(call.caller.subject.id().to_string()),
        modified_by: Some(call.caller.subject.id().to_string()),
        visible_at: call.visible_at(),
    };
    let id = c.id.clone();
    org.clients.insert(c);
    for (r, d) in roles {
        org.add_grant(&id, SubjectType::Client, &r, &d, call.now);
    }
    let c = client_or_404(org, &id)?;
    ok(render_client(org, c, true))
}

/// `GET /api/v2/oauth/clients/{clientId}`.
pub fn get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["oauth:client:view"])?;
    if let Some(t) = org.tombstone_of("client", call.param("clientId"), call.now) {
        return ok(t.view.clone());
    }
    let c = client_or_404(org, call.param("clientId"))?;
    ok(render_client(org, c, false))
}

/// `PUT /api/v2/oauth/clients/{clientId}`: replaces the client, roles
/// included (checked against the role-grant rule).
pub fn update(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["oauth:client:edit"])?;
    let id = call.param("clientId").to_string();
    client_or_404(org, &id)?;
    let body = call.require_body(&["OAuthClientRequest", "OAuthClient"])?;
    let name = required_str(body, "name")?.to_string();
    check_fields(body)?;
    let roles = requested_roles(org, call, body)?;
    let doc = doc_of(body);
    let modifier = call.caller.subject.id().to_string();
    org.clients.update(&id, |c| {
        c.name = name;
        c.doc = doc;
        c.date_modified = SystemTime::now();
        c.modified_by = Some(modifier);
    });
    let existing: Vec<(String, String)> = org
        .grants_of(&id)
        .iter()
        .map(|g| (g.role_id.clone(), g.division_id.clone()))
        .collect();
    for (r, d) in &existing {
        if !roles.contains(&(r.clone(), d.clone())) {
            org.remove_grant(&id, r, d);
        }
    }
    for (r, d) in roles {
        org.add_grant(&id, SubjectType::Client, &r, &d, call.now);
    }
    let c = client_or_404(org, &id)?;
    ok(render_client(org, c, false))
}

/// `DELETE /api/v2/oauth/clients/{clientId}`: only once `state: inactive`.
pub fn delete(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["oauth:client:delete"])?;
    let id = call.param("clientId").to_string();
    let c = client_or_404(org, &id)?;
    if c.state() != "inactive" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad.request",
            format!(
                "OAuth client \"{}\" is {}: set its state to inactive (PUT with \"state\": \"inactive\") before deleting it",
                c.name,
                c.state()
            ),
        )
        .param("state", c.state()));
    }
    let view = render_client(org, c, false);
    org.tombstone("client", &id, view, call.visible_at());
    org.clients.remove(&id);
    org.drop_subject(&id);
    org.tokens
        .retain(|_, t| t.client_id.as_deref() != Some(id.as_str()));
    no_content()
}

/// `POST /api/v2/oauth/clients/{clientId}/secret`: a new secret, answered once.
pub fn regenerate_secret(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["oauth:client:edit"])?;
    let id = call.param("clientId").to_string();
    client_or_404(org, &id)?;
    org.clients.update(&id, |c| {
        c.secret = random_token(43);
        c.date_modified = SystemTime::now();
    });
    let c = client_or_404(org, &id)?;
    ok(render_client(org, c, true))
}
