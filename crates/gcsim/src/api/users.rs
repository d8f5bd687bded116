//! `/api/v2/users`: users, `users/me` and user search.

use super::{division_ref, ok, required_str, Call, Reply};
use crate::api::authorization::{render_policy, user_authorization};
use crate::api::groups::{decode_q64, search_response};
use crate::api::org::{render_org, token_info};
use crate::error::{ApiError, ApiResult};
use crate::model::{Org, Subject, User};
use crate::params::{page_of, MAX_USER_PAGE_SIZE};
use crate::wire::{new_id, str_field};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// User fields a client may set through `PATCH` (besides name/state/version).
const WRITABLE: &[&str] = &[
    "department",
    "title",
    "preferredName",
    "addresses",
    "images",
    "certifications",
    "biography",
    "employerInfo",
    "acdAutoAnswer",
    "profileSkills",
    "chat",
];

/// Wire shape of a user (`User`); `expand` may name `authorization`, `groups`.
pub fn render_user(org: &Org, u: &User, expand: &[String]) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(u.id));
    m.insert("name".into(), json!(u.name));
    m.insert("division".into(), division_ref(org, &u.division_id));
    m.insert("email".into(), json!(u.email));
    m.insert(
        "primaryContactInfo".into(),
        json!([{"address": u.email, "mediaType": "EMAIL", "type": "PRIMARY"}]),
    );
    m.insert("addresses".into(), json!([]));
    for k in WRITABLE {
        if let Some(v) = u.doc.get(*k) {
            m.insert((*k).into(), v.clone());
        }
    }
    m.insert("state".into(), json!(u.state));
    m.insert("username".into(), json!(u.email));
    m.insert("version".into(), json!(u.version));
    m.entry("acdAutoAnswer").or_insert(json!(false));
    if expand.iter().any(|e| e == "authorization") {
        m.insert("authorization".into(), user_authorization(org, &u.id));
    }
    if expand.iter().any(|e| e == "groups") {
        let groups: Vec<Value> = org
            .groups
            .iter()
            .filter(|g| g.members.contains(&u.id))
            .map(|g| json!({"id": g.id, "name": g.name, "selfUri": format!("/api/v2/groups/{}", g.id)}))
            .collect();
        m.insert("groups".into(), Value::Array(groups));
    }
    m.insert("selfUri".into(), json!(format!("/api/v2/users/{}", u.id)));
    Value::Object(m)
}

fn user_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a User> {
    org.users
        .get(id)
        .ok_or_else(|| ApiError::not_found("User", id))
}

/// `GET /api/v2/users`.
pub fn list(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let ids = call.query.list("id");
    let state = call.query.get("state").unwrap_or("active").to_string();
    let expand = call.query.list("expand");
    let desc = call
        .query
        .get("sortOrder")
        .is_some_and(|s| s.eq_ignore_ascii_case("desc"));
    let mut items: Vec<&User> = org
        .users
        .iter()
        .filter(|u| call.listed(u.visible_at))
        .filter(|u| ids.is_empty() || ids.contains(&u.id))
        .filter(|u| state == "any" || u.state == state)
        .collect();
    if desc {
        items.reverse();
    }
    let org_ref: &Org = org;
    ok(page_of(
        &call.path,
        &call.query,
        MAX_USER_PAGE_SIZE,
        items,
        |u| render_user(org_ref, u, &expand),
    )?)
}

/// `POST /api/v2/users`.
pub fn create(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:user:add"])?;
    let body = call.require_body(&["CreateUser"])?;
    let email = required_str(body, "email")?.to_string();
    let name = required_str(body, "name")?.to_string();
    if org.users_by_email.contains_key(&email.to_lowercase()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "general.conflict",
            format!("A user with the email \"{email}\" already exists"),
        ));
    }
    let division_id = match str_field(body, "divisionId") {
        Some(d) if org.divisions.contains(d) => d.to_string(),
        Some(d) => {
            return Err(ApiError::invalid(
                "divisionId",
                format!("Division not found: {d}"),
            ))
        }
        None => org.home_division_id.clone(),
    };
    let mut doc = Map::new();
    for k in ["department", "title", "addresses"] {
        if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
            doc.insert(k.into(), v.clone());
        }
    }
    let u = User {
        id: new_id(),
        name,
        email: email.clone(),
        division_id,
        state: str_field(body, "state").unwrap_or("active").to_string(),
        version: 1,
        doc,
        visible_at: call.visible_at(),
    };
    let v = render_user(org, &u, &[]);
    org.users_by_email
        .insert(email.to_lowercase(), u.id.clone());
    org.users.insert(u);
    ok(v)
}

/// `GET /api/v2/users/{userId}`.
pub fn get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let id = call.param("userId").to_string();
    let u = user_or_404(org, &id)?;
    ok(render_user(org, u, &call.query.list("expand")))
}

/// `PATCH /api/v2/users/{userId}`: needs the current `version`.
pub fn patch(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:user:edit"])?;
    let id = call.param("userId").to_string();
    let current = user_or_404(org, &id)?.version;
    let body = call.require_body(&["UpdateUser", "User"])?;
    let version = body
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::invalid("version", "The field \"version\" is required"))?;
    if version != current {
        return Err(ApiError::stale_directory_version(version, current));
    }
    org.users.update(&id, |u| {
        if let Some(n) = str_field(body, "name") {
            u.name = n.to_string();
        }
        if let Some(s) = str_field(body, "state") {
            u.state = s.to_string();
        }
        for k in WRITABLE {
            if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
                u.doc.insert((*k).into(), v.clone());
            }
        }
        u.version += 1;
    });
    let u = user_or_404(org, &id)?;
    ok(render_user(org, u, &[]))
}

/// `DELETE /api/v2/users/{userId}`.
pub fn delete(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:user:delete"])?;
    let id = call.param("userId").to_string();
    let u = user_or_404(org, &id)?;
    let email = u.email.to_lowercase();
    org.users.remove(&id);
    org.users_by_email.remove(&email);
    org.drop_subject(&id);
    let group_ids: Vec<String> = org
        .groups
        .iter()
        .filter(|g| g.members.contains(&id) || g.owner_ids.contains(&id))
        .map(|g| g.id.clone())
        .collect();
    for g in group_ids {
        org.groups.update(&g, |g| {
            g.members.remove(&id);
            g.owner_ids.retain(|o| o != &id);
        });
    }
    ok(json!({}))
}

/// `GET /api/v2/users/me`: user tokens only; `expand=authorization` gives
/// what the current token effectively holds.
pub fn me(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let Subject::User(id) = &call.caller.subject else {
        return Err(ApiError::bad_request(
            "This request requires a user context. Client credentials cannot be used for requests to this resource.",
        ));
    };
    let u = user_or_404(org, id)?;
    let expand = call.query.list("expand");
    let mut v = render_user(org, u, &[]);
    if expand.iter().any(|e| e == "authorization") {
        let grants = org.effective_grants(&call.caller, call.now, call.grant_delay());
        let mut role_ids: Vec<&str> = grants.iter().map(|g| g.role_id.as_str()).collect();
        role_ids.sort_unstable();
        role_ids.dedup();
        let perms = org.effective_permissions(&call.caller, call.now, call.grant_delay());
        let roles: Vec<Value> = role_ids
            .iter()
            .filter_map(|r| org.roles.get(r))
            .map(|r| json!({"id": r.id, "name": r.name}))
            .collect();
        v["authorization"] = json!({
            "roles": roles,
            "permissions": perms,
            "permissionPolicies": crate::model::policies_from_strings(&perms)
                .iter()
                .map(render_policy)
                .collect::<Vec<_>>(),
        });
    }
    if expand.iter().any(|e| e == "organization") {
        v["organization"] = render_org(org);
    }
    if expand.iter().any(|e| e == "token") {
        v["token"] = token_info(org, call);
    }
    if expand.iter().any(|e| e == "groups") {
        let groups: Vec<Value> = org
            .groups
            .iter()
            .filter(|g| g.members.contains(id))
            .map(|g| json!({"id": g.id, "name": g.name, "selfUri": format!("/api/v2/groups/{}", g.id)}))
            .collect();
        v["groups"] = Value::Array(groups);
    }
    ok(v)
}

fn user_field(u: &User, f: &str) -> Vec<String> {
    match f {
        "name" => vec![u.name.clone()],
        "id" => vec![u.id.clone()],
        "email" | "username" => vec![u.email.clone()],
        "state" => vec![u.state.clone()],
        "division.id" | "divisionId" => vec![u.division_id.clone()],
        _ => u
            .doc
            .get(f)
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
    }
}

fn search(org: &Org, call: &Call, request: &Value) -> ApiResult<Reply> {
    let items: Vec<&User> = org
        .users
        .iter()
        .filter(|u| call.listed(u.visible_at))
        .collect();
    let expand: Vec<String> = request
        .get("expand")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ok(search_response(
        request,
        "users",
        items,
        |u, f| user_field(u, f),
        |u| render_user(org, u, &expand),
    )?)
}

/// `POST /api/v2/users/search`.
pub fn search_post(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:user:view"])?;
    let body = call.require_body(&["UserSearchRequest"])?;
    search(org, call, body)
}

/// `GET /api/v2/users/search?q64=`.
pub fn search_get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:user:view"])?;
    let request = decode_q64(call)?;
    search(org, call, &request)
}
