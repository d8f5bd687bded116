//! The `/_sim/` test and measurement hooks (no auth, loopback only):
//! stats, fault settings, the org dump, live mutations behind the client's
//! back, user tokens and bulk population. Shapes are documented in
//! `docs/simulator.md`.

use crate::api::authorization::{render_division, render_role};
use crate::api::groups::render_group;
use crate::api::integrations::{render_config, render_integration};
use crate::api::oauth::render_client;
use crate::api::org::render_org;
use crate::api::queues::render_queue;
use crate::api::users::render_user;
use crate::auth::DEFAULT_TOKEN_SECONDS;
use crate::model::{
    policies_from_strings, sorted, Division, Group, Integration, IntegrationConfig, Org, Policy,
    Queue, Role, Subject, SubjectType, User,
};
use crate::server::{lock, App, Settings, Stats};
use crate::wire::{deep_merge, new_id, random_token, str_field, str_list};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

type SimResult = Result<Json<Value>, SimError>;

/// An error of a `/_sim` hook: status and message.
pub struct SimError(StatusCode, String);

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": self.1, "status": self.0.as_u16()})),
        )
            .into_response()
    }
}

fn bad(msg: impl Into<String>) -> SimError {
    SimError(StatusCode::BAD_REQUEST, msg.into())
}

fn parse_body(body: &[u8]) -> Result<Value, SimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| bad(format!("invalid JSON body: {e}")))
}

/// `GET /_sim/stats`.
pub async fn stats(State(app): State<Arc<App>>) -> Json<Stats> {
    Json(lock(&app.stats).clone())
}

/// `POST /_sim/reset-stats`.
pub async fn reset_stats(State(app): State<Arc<App>>) -> Json<Stats> {
    let mut s = lock(&app.stats);
    *s = Stats::default();
    Json(s.clone())
}

/// `GET /_sim/faults`: the settings in force.
pub async fn get_faults(State(app): State<Arc<App>>) -> Json<Settings> {
    Json(app.settings())
}

/// `POST /_sim/faults`: partial update of the injection settings; answers
/// the settings now in force.
pub async fn faults(
    State(app): State<Arc<App>>,
    body: axum::body::Bytes,
) -> Result<Json<Settings>, SimError> {
    let patch = parse_body(&body)?;
    let obj = patch
        .as_object()
        .ok_or_else(|| bad("expected a JSON object"))?;
    let mut s = lock(&app.settings);
    let mut next = *s;
    for (k, v) in obj {
        let as_u64 = || {
            v.as_u64()
                .ok_or_else(|| bad(format!("{k} must be a non-negative integer")))
        };
        match k.as_str() {
            "fault_rate" => {
                let r = v
                    .as_f64()
                    .ok_or_else(|| bad("fault_rate must be a number"))?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(bad("fault_rate must be between 0 and 1"));
                }
                next.fault_rate = r;
            }
            "lost_response_rate" => {
                let r = v
                    .as_f64()
                    .ok_or_else(|| bad("lost_response_rate must be a number"))?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(bad("lost_response_rate must be between 0 and 1"));
                }
                next.lost_response_rate = r;
            }
            "rate_limit" => next.rate_limit = as_u64()?,
            "latency_ms" => next.latency_ms = as_u64()?,
            "jitter_ms" => next.jitter_ms = as_u64()?,
            "eventual_ms" => next.eventual_ms = as_u64()?,
            "grant_delay_ms" => next.grant_delay_ms = as_u64()?,
            other => return Err(bad(format!("unknown setting \"{other}\""))),
        }
    }
    *s = next;
    Ok(Json(next))
}

/// The dump entry of an integration: its wire shape with `config` = the
/// current config object.
fn dump_integration(org: &Org, i: &Integration) -> Value {
    let mut v = render_integration(org, i, false);
    v["config"] = render_config(i);
    v
}

fn dump_group(org: &Org, g: &Group) -> Value {
    let mut v = render_group(org, g);
    v["memberIds"] = json!(g.members.iter().collect::<Vec<_>>());
    v["ownerIds"] = json!(g.owner_ids);
    v
}

/// The dump entry of a role: its wire shape plus `grantedPermissions`, the
/// domain permissions its policies grant (as `domain:entity:action`).
fn dump_role(org: &Org, r: &Role, user_count: Option<usize>) -> Value {
    let mut v = render_role(r, user_count);
    v["grantedPermissions"] = json!(sorted(org.granted_permissions(r).collect()));
    v
}

/// `/_sim/mutate` role permissions: `domain:entity:action` strings become
/// policies, other strings (such as `group_creation`) general permissions.
fn split_role_permissions(perms: Vec<String>) -> (Vec<String>, Vec<Policy>) {
    let (domain, general): (Vec<String>, Vec<String>) =
        perms.into_iter().partition(|p| p.contains(':'));
    (sorted(general), policies_from_strings(&domain))
}

fn dump_org(org: &Org) -> Value {
    let mut v = render_org(org);
    v["region"] = json!(org.info.region);
    v
}

fn role_user_counts(org: &Org) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for sg in org.grants.values() {
        if sg.subject_type != SubjectType::User {
            continue;
        }
        let roles: BTreeSet<&str> = sg.grants.iter().map(|g| g.role_id.as_str()).collect();
        for r in roles {
            *counts.entry(r.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// The whole org as JSON (no secrets, no tokens).
pub fn dump_value(org: &Org) -> Value {
    let counts = role_user_counts(org);
    let mut grants: Vec<Value> = Vec::new();
    let mut subjects: Vec<&String> = org.grants.keys().collect();
    subjects.sort();
    for s in subjects {
        let sg = &org.grants[s];
        for g in &sg.grants {
            grants.push(json!({
                "subjectId": s,
                "subjectType": sg.subject_type.wire(),
                "roleId": g.role_id,
                "divisionId": g.division_id,
            }));
        }
    }
    let idps: Map<String, Value> = org
        .identity_providers
        .iter()
        .map(|(k, v)| {
            let mut d = v.clone();
            d.insert(
                "selfUri".into(),
                json!(format!("/api/v2/identityproviders/{k}")),
            );
            (k.clone(), Value::Object(d))
        })
        .collect();
    json!({
        "org": dump_org(org),
        "divisions": org.divisions.iter().map(|d| render_division(org, d, false)).collect::<Vec<_>>(),
        "roles": org.roles.iter().map(|r| dump_role(org, r, Some(counts.get(&r.id).copied().unwrap_or(0)))).collect::<Vec<_>>(),
        "grants": grants,
        "users": org.users.iter().map(|u| render_user(org, u, &[])).collect::<Vec<_>>(),
        "groups": org.groups.iter().map(|g| dump_group(org, g)).collect::<Vec<_>>(),
        "oauth_clients": org.clients.iter().map(|c| render_client(org, c, false)).collect::<Vec<_>>(),
        "integrations": org.integrations.iter().map(|i| dump_integration(org, i)).collect::<Vec<_>>(),
        "credentials": org.credentials.iter().map(|c| json!({"id": c.id, "name": c.name, "type": {"name": c.type_name}})).collect::<Vec<_>>(),
        "identity_providers": idps,
        "queues": org.queues.iter().map(|q| render_queue(org, q)).collect::<Vec<_>>(),
    })
}

/// `GET /_sim/dump`.
pub async fn dump(State(app): State<Arc<App>>) -> Json<Value> {
    let org = lock(&app.org);
    Json(dump_value(&org))
}

/// `POST /_sim/token` `{"user": "email or id", "expires_in"?: secs}` or
/// `{"client": "client id"}`: a token as a browser login would give.
pub async fn token(State(app): State<Arc<App>>, body: axum::body::Bytes) -> SimResult {
    let req = parse_body(&body)?;
    let seconds = req
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TOKEN_SECONDS);
    let mut org = lock(&app.org);
    let subject = if let Some(u) = str_field(&req, "user") {
        let id = org
            .user_id_by_ref(u)
            .ok_or_else(|| SimError(StatusCode::NOT_FOUND, format!("no user \"{u}\"")))?;
        Subject::User(id)
    } else if let Some(c) = str_field(&req, "client") {
        if !org.clients.contains(c) {
            return Err(SimError(
                StatusCode::NOT_FOUND,
                format!("no OAuth client \"{c}\""),
            ));
        }
        Subject::Client(c.to_string())
    } else {
        return Err(bad(
            "expected {\"user\": \"email\"} or {\"client\": \"client id\"}",
        ));
    };
    let client = match &subject {
        Subject::Client(c) => Some(c.clone()),
        Subject::User(_) => Some(org.browser_client_id.clone()),
    };
    let (token, expires_in) = org.issue_token(subject, client, seconds, Instant::now());
    Ok(Json(
        json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}),
    ))
}

/// `POST /_sim/mutate`: one op or a list of ops, each recorded in the audit
/// log as made by its `"actor"` (a user email or id, or `client:<client id>`;
/// default: the first fixture user); answers
/// `{"results": [...]}`, one entry per op (the object after the change, or
/// `{"deleted": id}`).
pub async fn mutate(State(app): State<Arc<App>>, body: axum::body::Bytes) -> SimResult {
    let req = parse_body(&body)?;
    let ops: Vec<Value> = match req {
        Value::Array(a) => a,
        v @ Value::Object(_) => vec![v],
        _ => return Err(bad("expected an op object or a list of ops")),
    };
    let mut org = lock(&app.org);
    let mut results = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let actor = org
            .actor_by_ref(str_field(op, "actor"))
            .map_err(|e| bad(format!("op {i}: {e}")))?;
        let r = apply_op(&mut org, op);
        org.record_changes(&actor);
        results.push(r.map_err(|e| SimError(e.0, format!("op {i}: {}", e.1)))?);
    }
    Ok(Json(json!({"results": results})))
}

const KINDS: &[&str] = &[
    "role",
    "division",
    "group",
    "oauth_client",
    "integration",
    "queue",
    "user",
];

fn find_id(org: &Org, kind: &str, op: &Value) -> Result<String, SimError> {
    if let Some(id) = str_field(op, "id") {
        let exists = match kind {
            "role" => org.roles.contains(id),
            "division" => org.divisions.contains(id),
            "group" => org.groups.contains(id),
            "oauth_client" => org.clients.contains(id),
            "integration" => org.integrations.contains(id),
            "queue" => org.queues.contains(id),
            _ => org.users.contains(id),
        };
        return if exists {
            Ok(id.to_string())
        } else {
            Err(SimError(
                StatusCode::NOT_FOUND,
                format!("no {kind} with id {id}"),
            ))
        };
    }
    let name = str_field(op, "name").ok_or_else(|| bad("op needs \"name\" or \"id\""))?;
    let ids: Vec<String> = match kind {
        "role" => org.roles.by_name(name).map(|x| x.id.clone()).collect(),
        "division" => org.divisions.by_name(name).map(|x| x.id.clone()).collect(),
        "group" => org.groups.by_name(name).map(|x| x.id.clone()).collect(),
        "oauth_client" => org.clients.by_name(name).map(|x| x.id.clone()).collect(),
        "integration" => org
            .integrations
            .by_name(name)
            .map(|x| x.id.clone())
            .collect(),
        "queue" => org.queues.by_name(name).map(|x| x.id.clone()).collect(),
        _ => org
            .user_id_by_ref(name)
            .into_iter()
            .chain(org.users.by_name(name).map(|x| x.id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(SimError(
            StatusCode::NOT_FOUND,
            format!("no {kind} named \"{name}\""),
        )),
        _ => Err(bad(format!(
            "{} {kind}s are named \"{name}\"; use \"id\"",
            ids.len()
        ))),
    }
}

/// The mutable view of an object (the dump entry).
fn view(org: &Org, kind: &str, id: &str) -> Value {
    match kind {
        "role" => org
            .roles
            .get(id)
            .map(|r| dump_role(org, r, None))
            .unwrap_or_default(),
        "division" => org
            .divisions
            .get(id)
            .map(|d| render_division(org, d, false))
            .unwrap_or_default(),
        "group" => org
            .groups
            .get(id)
            .map(|g| dump_group(org, g))
            .unwrap_or_default(),
        "oauth_client" => org
            .clients
            .get(id)
            .map(|c| render_client(org, c, false))
            .unwrap_or_default(),
        "integration" => org
            .integrations
            .get(id)
            .map(|i| dump_integration(org, i))
            .unwrap_or_default(),
        "queue" => org
            .queues
            .get(id)
            .map(|q| render_queue(org, q))
            .unwrap_or_default(),
        _ => org
            .users
            .get(id)
            .map(|u| render_user(org, u, &[]))
            .unwrap_or_default(),
    }
}

fn apply_op(org: &mut Org, op: &Value) -> Result<Value, SimError> {
    let kind = str_field(op, "kind").ok_or_else(|| bad("op needs \"kind\""))?;
    if !KINDS.contains(&kind) {
        return Err(bad(format!(
            "unknown kind \"{kind}\" (one of {})",
            KINDS.join(", ")
        )));
    }
    let now = Instant::now();
    if let Some(fields) = op.get("create") {
        let id = create(org, kind, fields, now)?;
        return Ok(view(org, kind, &id));
    }
    let id = find_id(org, kind, op)?;
    if op.get("delete").and_then(Value::as_bool) == Some(true) {
        delete(org, kind, &id);
        return Ok(json!({"deleted": id}));
    }
    let mut touched = false;
    if let Some(perms) = str_list(op, "remove_permissions") {
        if kind != "role" {
            return Err(bad("remove_permissions is for roles"));
        }
        org.roles.update(&id, |r| {
            let kept: Vec<String> = r
                .policy_strings()
                .into_iter()
                .filter(|p| !perms.contains(p))
                .collect();
            r.policies = policies_from_strings(&kept);
            r.permissions.retain(|p| !perms.contains(p));
        });
        touched = true;
    }
    if let Some(perms) = str_list(op, "add_permissions") {
        if kind != "role" {
            return Err(bad("add_permissions is for roles"));
        }
        org.roles.update(&id, |r| {
            let (general, _) = split_role_permissions(perms.clone());
            let mut all = r.policy_strings();
            all.extend(perms.into_iter().filter(|p| p.contains(':')));
            r.policies = policies_from_strings(&all);
            r.permissions.extend(general);
            r.permissions = sorted(std::mem::take(&mut r.permissions));
        });
        touched = true;
    }
    for (key, add) in [("add_members", true), ("remove_members", false)] {
        let Some(refs) = str_list(op, key) else {
            continue;
        };
        if kind != "group" && kind != "queue" {
            return Err(bad(format!("{key} is for groups and queues")));
        }
        let mut ids = Vec::new();
        for r in &refs {
            ids.push(
                org.user_id_by_ref(r)
                    .ok_or_else(|| SimError(StatusCode::NOT_FOUND, format!("no user \"{r}\"")))?,
            );
        }
        if kind == "queue" {
            crate::api::queues::change_members(org, &id, ids, add);
            touched = true;
            continue;
        }
        org.groups.update(&id, |g| {
            for u in ids {
                if add {
                    g.members.insert(u);
                } else {
                    g.members.remove(&u);
                }
            }
            g.version += 1;
            g.date_modified = SystemTime::now();
        });
        touched = true;
    }
    if let Some(set) = op.get("set") {
        if !set.is_object() {
            return Err(bad("\"set\" must be an object of wire fields"));
        }
        let mut merged = view(org, kind, &id);
        deep_merge(&mut merged, set);
        apply_set(org, kind, &id, &merged, set, now)?;
        touched = true;
    }
    if !touched {
        return Err(bad(
            "op needs one of \"set\", \"delete\", \"create\", \"remove_permissions\", \"add_permissions\", \"add_members\", \"remove_members\"",
        ));
    }
    Ok(view(org, kind, &id))
}

fn delete(org: &mut Org, kind: &str, id: &str) {
    match kind {
        "role" => {
            org.roles.remove(id);
            org.drop_role_grants(id);
        }
        "division" => {
            org.divisions.remove(id);
            org.drop_division_grants(id);
        }
        "group" => {
            org.groups.remove(id);
            org.drop_subject(id);
        }
        "oauth_client" => {
            org.clients.remove(id);
            org.drop_subject(id);
            org.tokens.retain(|_, t| t.client_id.as_deref() != Some(id));
        }
        "integration" => {
            org.integrations.remove(id);
        }
        "queue" => {
            org.queues.remove(id);
        }
        _ => {
            if let Some(u) = org.users.remove(id) {
                org.users_by_email.remove(&u.email.to_lowercase());
            }
            org.drop_subject(id);
        }
    }
}

fn obj_fields(v: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| {
            v.get(*k)
                .filter(|x| !x.is_null())
                .map(|x| ((*k).to_string(), x.clone()))
        })
        .collect()
}

fn apply_set(
    org: &mut Org,
    kind: &str,
    id: &str,
    merged: &Value,
    set: &Value,
    now: Instant,
) -> Result<(), SimError> {
    let name = str_field(merged, "name").unwrap_or_default().to_string();
    match kind {
        "role" => {
            let description = str_field(merged, "description").map(str::to_string);
            let perms = str_list(set, "permissions");
            let policies = set.get("permissionPolicies").cloned();
            org.roles.update(id, |r| {
                r.name = name;
                r.description = description;
                if let Some(perms) = perms {
                    (r.permissions, r.policies) = split_role_permissions(perms);
                }
            });
            if let Some(policies) = policies {
                let body = json!({ "permissionPolicies": policies });
                let (_, policies) = crate::api::authorization::policies_of_body(&body)
                    .map_err(|e| bad(e.inner().message.clone()))?;
                org.roles.update(id, |r| r.policies = policies);
            }
        }
        "division" => {
            let description = str_field(merged, "description").map(str::to_string);
            org.divisions.update(id, |d| {
                d.name = name;
                d.description = description;
            });
        }
        "group" => {
            let doc = obj_fields(
                merged,
                &[
                    "description",
                    "state",
                    "type",
                    "images",
                    "addresses",
                    "rulesVisible",
                    "visibility",
                    "rolesEnabled",
                    "includeOwners",
                    "callsEnabled",
                    "email",
                ],
            );
            let members = str_list(merged, "memberIds");
            let owners = str_list(merged, "ownerIds");
            org.groups.update(id, |g| {
                g.name = name;
                g.doc = doc;
                if let Some(m) = members {
                    g.members = m.into_iter().collect();
                }
                if let Some(o) = owners {
                    g.owner_ids = o;
                }
                g.version += 1;
                g.date_modified = SystemTime::now();
            });
        }
        "oauth_client" => {
            let doc = obj_fields(
                merged,
                &[
                    "description",
                    "accessTokenValiditySeconds",
                    "registeredRedirectUri",
                    "authorizedGrantType",
                    "scope",
                    "state",
                    "dateToDelete",
                ],
            );
            org.clients.update(id, |c| {
                c.name = name;
                c.doc = doc;
                c.date_modified = SystemTime::now();
            });
            if set.get("roleDivisions").is_some() {
                org.drop_subject(id);
                for rd in merged
                    .get("roleDivisions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    let (Some(r), Some(d)) =
                        (str_field(&rd, "roleId"), str_field(&rd, "divisionId"))
                    else {
                        return Err(bad("roleDivisions entries need roleId and divisionId"));
                    };
                    org.add_grant(id, SubjectType::Client, r, d, now);
                }
            }
        }
        "integration" => {
            let state = str_field(merged, "intendedState").map(str::to_string);
            let notes = set
                .get("notes")
                .map(|_| str_field(merged, "notes").map(str::to_string));
            let config = set
                .get("config")
                .and_then(|_| merged.get("config"))
                .cloned();
            org.integrations.update(id, |i| {
                i.name = name;
                if let Some(n) = notes {
                    i.config.notes = n;
                }
                if let Some(s) = state {
                    if s != i.intended_state {
                        i.intended_state = s;
                        i.state_changed = SystemTime::now();
                    }
                }
                if let Some(c) = config {
                    if let Some(n) = str_field(&c, "name") {
                        i.name = n.to_string();
                    }
                    i.config.properties = c
                        .get("properties")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    i.config.advanced = c.get("advanced").cloned().unwrap_or_else(|| json!({}));
                    i.config.notes = str_field(&c, "notes").map(str::to_string);
                    i.config.credentials = c
                        .get("credentials")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    i.config.version += 1;
                }
            });
        }
        "queue" => {
            let division = merged
                .get("division")
                .and_then(|d| str_field(d, "id"))
                .map(str::to_string);
            let mut doc = merged.as_object().cloned().unwrap_or_default();
            for k in [
                "id",
                "name",
                "division",
                "dateCreated",
                "dateModified",
                "createdBy",
                "modifiedBy",
                "memberCount",
                "userMemberCount",
                "joinedMemberCount",
                "selfUri",
            ] {
                doc.remove(k);
            }
            org.queues.update(id, |q| {
                q.name = name;
                if let Some(d) = division {
                    q.division_id = d;
                }
                q.doc = doc;
                q.date_modified = SystemTime::now();
            });
        }
        _ => {
            let email = str_field(merged, "email").map(str::to_string);
            let state = str_field(merged, "state").map(str::to_string);
            let division = merged
                .get("division")
                .and_then(|d| str_field(d, "id"))
                .map(str::to_string);
            let doc = obj_fields(
                merged,
                &[
                    "department",
                    "title",
                    "preferredName",
                    "addresses",
                    "images",
                    "acdAutoAnswer",
                ],
            );
            let old_email = org.users.get(id).map(|u| u.email.to_lowercase());
            org.users.update(id, |u| {
                u.name = name;
                if let Some(e) = &email {
                    u.email = e.clone();
                }
                if let Some(s) = state {
                    u.state = s;
                }
                if let Some(d) = division {
                    u.division_id = d;
                }
                u.doc = doc;
                u.version += 1;
            });
            if let (Some(old), Some(new)) = (old_email, email) {
                org.users_by_email.remove(&old);
                org.users_by_email
                    .insert(new.to_lowercase(), id.to_string());
            }
        }
    }
    Ok(())
}

fn create(org: &mut Org, kind: &str, f: &Value, now: Instant) -> Result<String, SimError> {
    let name = str_field(f, "name")
        .ok_or_else(|| bad("create needs a \"name\""))?
        .to_string();
    let id = str_field(f, "id")
        .map(str::to_string)
        .unwrap_or_else(new_id);
    let t = SystemTime::now();
    match kind {
        "group" => {
            let mut doc = obj_fields(
                f,
                &[
                    "description",
                    "state",
                    "type",
                    "images",
                    "addresses",
                    "rulesVisible",
                    "visibility",
                    "rolesEnabled",
                    "includeOwners",
                    "callsEnabled",
                    "email",
                ],
            );
            doc.entry("type").or_insert(json!("official"));
            doc.entry("visibility").or_insert(json!("public"));
            doc.entry("rulesVisible").or_insert(json!(true));
            let mut members = BTreeSet::new();
            for r in str_list(f, "memberIds")
                .into_iter()
                .flatten()
                .chain(str_list(f, "members").into_iter().flatten())
            {
                members.insert(
                    org.user_id_by_ref(&r).ok_or_else(|| {
                        SimError(StatusCode::NOT_FOUND, format!("no user \"{r}\""))
                    })?,
                );
            }
            org.groups.insert(Group {
                id: id.clone(),
                name,
                doc,
                owner_ids: str_list(f, "ownerIds").unwrap_or_default(),
                members,
                version: 1,
                date_modified: t,
                visible_at: now,
            });
        }
        "role" => {
            let (general, policies) =
                split_role_permissions(str_list(f, "permissions").unwrap_or_default());
            org.roles.insert(Role {
                id: id.clone(),
                name,
                description: str_field(f, "description").map(str::to_string),
                default_role_id: None,
                permissions: general,
                policies,
                role_needs_update: false,
                visible_at: now,
            });
        }
        "division" => {
            org.divisions.insert(Division {
                id: id.clone(),
                name,
                description: str_field(f, "description").map(str::to_string),
                home: false,
                visible_at: now,
            });
        }
        "queue" => {
            let division = f
                .get("division")
                .and_then(|d| str_field(d, "id"))
                .map(str::to_string)
                .unwrap_or_else(|| org.home_division_id.clone());
            org.queues.insert(Queue {
                id: id.clone(),
                name,
                division_id: division,
                members: Default::default(),
                doc: obj_fields(f, &["description"]),
                date_created: t,
                date_modified: t,
                created_by: None,
                modified_by: None,
                visible_at: now,
            });
        }
        "oauth_client" => {
            let secret = random_token(43);
            org.insert_client(&id, &name, &secret, now);
            let extra = obj_fields(
                f,
                &[
                    "description",
                    "state",
                    "authorizedGrantType",
                    "accessTokenValiditySeconds",
                ],
            );
            org.clients.update(&id, |c| c.doc.extend(extra));
            for rd in f
                .get("roleDivisions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                if let (Some(r), Some(d)) = (str_field(&rd, "roleId"), str_field(&rd, "divisionId"))
                {
                    org.add_grant(&id, SubjectType::Client, r, d, now);
                }
            }
        }
        "integration" => {
            let ty = f
                .get("integrationType")
                .and_then(|t| str_field(t, "id"))
                .unwrap_or("embedded-client-app")
                .to_string();
            if org.integration_type(&ty).is_none() {
                return Err(bad(format!("unknown integration type \"{ty}\"")));
            }
            org.integrations.insert(Integration {
                id: id.clone(),
                name,
                type_id: ty,
                intended_state: str_field(f, "intendedState")
                    .unwrap_or("DISABLED")
                    .to_string(),
                config: IntegrationConfig {
                    version: 1,
                    properties: f
                        .get("config")
                        .and_then(|c| c.get("properties"))
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                    advanced: json!({}),
                    notes: None,
                    credentials: Map::new(),
                },
                state_changed: t,
                visible_at: now,
            });
        }
        _ => {
            let email = str_field(f, "email")
                .ok_or_else(|| bad("a user needs an \"email\""))?
                .to_string();
            if org.users_by_email.contains_key(&email.to_lowercase()) {
                return Err(bad(format!("user {email} exists")));
            }
            org.users_by_email.insert(email.to_lowercase(), id.clone());
            org.users.insert(User {
                id: id.clone(),
                name,
                email,
                division_id: org.home_division_id.clone(),
                state: "active".into(),
                version: 1,
                doc: Map::new(),
                visible_at: now,
            });
        }
    }
    Ok(id)
}

/// `POST /_sim/populate` `{"roles": N, "groups": N, "oauth_clients": N,
/// "integrations": N, "divisions": N, "users": N, "queues": N}`: bulk-creates
/// unmanaged objects named `sim-<kind>-<n>`, visible at once; answers the
/// counts created and the time taken.
pub async fn populate(State(app): State<Arc<App>>, body: axum::body::Bytes) -> SimResult {
    let req = parse_body(&body)?;
    let obj = req
        .as_object()
        .ok_or_else(|| bad("expected a JSON object"))?;
    let started = Instant::now();
    let mut org = lock(&app.org);
    let now = Instant::now();
    let t = SystemTime::now();
    let mut created = Map::new();
    for (k, v) in obj {
        let n = v
            .as_u64()
            .ok_or_else(|| bad(format!("{k} must be a count")))? as usize;
        let base = match k.as_str() {
            "roles" => org.roles.len(),
            "groups" => org.groups.len(),
            "oauth_clients" => org.clients.len(),
            "integrations" => org.integrations.len(),
            "divisions" => org.divisions.len(),
            "users" => org.users.len(),
            "queues" => org.queues.len(),
            other => return Err(bad(format!("cannot populate \"{other}\""))),
        };
        for i in 0..n {
            let name = format!("sim-{}-{:06}", k.trim_end_matches('s'), base + i + 1);
            let id = new_id();
            match k.as_str() {
                "roles" => org.roles.insert(Role {
                    id,
                    name,
                    description: Some("populated".into()),
                    default_role_id: None,
                    permissions: vec![],
                    policies: policies_from_strings(&["directory:user:view"]),
                    role_needs_update: false,
                    visible_at: now,
                }),
                "groups" => {
                    let mut doc = Map::new();
                    doc.insert("type".into(), json!("official"));
                    doc.insert("visibility".into(), json!("public"));
                    doc.insert("rulesVisible".into(), json!(true));
                    org.groups.insert(Group {
                        id,
                        name,
                        doc,
                        owner_ids: vec![],
                        members: BTreeSet::new(),
                        version: 1,
                        date_modified: t,
                        visible_at: now,
                    });
                }
                "oauth_clients" => {
                    let secret = random_token(43);
                    org.insert_client(&id, &name, &secret, now);
                }
                "integrations" => {
                    let mut props = Map::new();
                    props.insert(
                        "url".into(),
                        json!(format!("https://apps.example.com/{name}")),
                    );
                    props.insert("displayType".into(), json!("standalone"));
                    org.integrations.insert(Integration {
                        id,
                        name,
                        type_id: "embedded-client-app".into(),
                        intended_state: "DISABLED".into(),
                        config: IntegrationConfig {
                            version: 1,
                            properties: props,
                            advanced: json!({}),
                            notes: None,
                            credentials: Map::new(),
                        },
                        state_changed: t,
                        visible_at: now,
                    });
                }
                "divisions" => org.divisions.insert(Division {
                    id,
                    name,
                    description: None,
                    home: false,
                    visible_at: now,
                }),
                "users" => {
                    let email = format!("{name}@populated.example");
                    org.users_by_email.insert(email.clone(), id.clone());
                    let home = org.home_division_id.clone();
                    org.users.insert(User {
                        id,
                        name,
                        email,
                        division_id: home,
                        state: "active".into(),
                        version: 1,
                        doc: Map::new(),
                        visible_at: now,
                    });
                }
                _ => {
                    let home = org.home_division_id.clone();
                    org.queues.insert(Queue {
                        id,
                        name,
                        division_id: home,
                        members: Default::default(),
                        doc: Map::new(),
                        date_created: t,
                        date_modified: t,
                        created_by: None,
                        modified_by: None,
                        visible_at: now,
                    });
                }
            }
        }
        created.insert(k.clone(), json!(n));
    }
    org.discard_changes();
    Ok(Json(json!({
        "created": created,
        "elapsed_ms": started.elapsed().as_millis() as u64,
    })))
}
