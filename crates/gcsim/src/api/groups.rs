//! `/api/v2/groups`: groups, their members (versioned, at most 50 per
//! change) and group search.

use super::{accepted, duplicate_name, no_content, ok, required_str, Call, Reply};
use crate::api::users::render_user;
use crate::error::{ApiError, ApiResult};
use crate::model::{Group, Org};
use crate::params::{page_of, MAX_GROUP_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::wire::{iso, new_id, str_list};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::time::SystemTime;

/// Most members one request may add or remove.
pub const MAX_MEMBERS_PER_REQUEST: usize = 50;

/// Group fields a client may set (besides `name`, `ownerIds`, `version`).
const WRITABLE: &[&str] = &[
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
];

/// Wire shape of a group (`Group`).
pub fn render_group(org: &Org, g: &Group) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("name".into(), json!(g.name));
    for k in WRITABLE {
        if let Some(v) = g.doc.get(*k) {
            m.insert((*k).into(), v.clone());
        }
    }
    m.entry("state").or_insert(json!("active"));
    m.insert("dateModified".into(), json!(iso(g.date_modified)));
    m.insert("memberCount".into(), json!(g.members.len()));
    m.insert("version".into(), json!(g.version));
    if !g.owner_ids.is_empty() {
        let owners: Vec<Value> = g
            .owner_ids
            .iter()
            .map(|id| super::user_ref(org, id))
            .collect();
        m.insert("owners".into(), Value::Array(owners));
    }
    m.insert("selfUri".into(), json!(format!("/api/v2/groups/{}", g.id)));
    Value::Object(m)
}

fn group_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a Group> {
    org.groups
        .get(id)
        .ok_or_else(|| ApiError::not_found("Group", id))
}

fn owner_ids(org: &Org, body: &Value) -> ApiResult<Option<Vec<String>>> {
    let Some(ids) = str_list(body, "ownerIds") else {
        return Ok(None);
    };
    for id in &ids {
        if !org.users.contains(id) {
            return Err(ApiError::invalid(
                "ownerIds",
                format!("Owner is not a user: {id}"),
            ));
        }
    }
    Ok(Some(ids))
}

/// `GET /api/v2/groups` (page size up to 500).
pub fn list(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let ids = call.query.list("id");
    let desc = call
        .query
        .get("sortOrder")
        .is_some_and(|s| s.eq_ignore_ascii_case("desc"));
    // Groups deleted moments ago still show, `state: "deleted"`.
    let mut items: Vec<Value> = org
        .groups
        .iter()
        .filter(|g| call.listed(g.visible_at))
        .filter(|g| ids.is_empty() || ids.contains(&g.id))
        .map(|g| render_group(org, g))
        .chain(
            org.tombstones_of("group", call.now)
                .filter(|t| ids.is_empty() || ids.contains(&t.id))
                .map(|t| t.view.clone()),
        )
        .collect();
    if desc {
        items.reverse();
    }
    ok(page_of(
        &call.path,
        &call.query,
        MAX_GROUP_PAGE_SIZE,
        items,
        |v| v,
    )?)
}

/// `POST /api/v2/groups`: `name`, `type` and `visibility` are required.
pub fn create(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:group:add"])?;
    let body = call.require_body(&["GroupCreate"])?;
    let name = required_str(body, "name")?.to_string();
    required_str(body, "type")?;
    required_str(body, "visibility")?;
    if org.groups.by_name(&name).next().is_some() {
        return Err(duplicate_name("group", &name));
    }
    let owners = owner_ids(org, body)?.unwrap_or_default();
    let mut doc = Map::new();
    // The real service drops `description` on create: only a PUT sets it.
    for k in WRITABLE.iter().filter(|k| **k != "description") {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            doc.insert((*k).into(), v.clone());
        }
    }
    let g = Group {
        id: new_id(),
        name,
        doc,
        owner_ids: owners,
        members: BTreeSet::new(),
        version: 1,
        date_modified: SystemTime::now(),
        visible_at: call.visible_at(),
    };
    let v = render_group(org, &g);
    org.groups.insert(g);
    ok(v)
}

/// `GET /api/v2/groups/{groupId}`.
pub fn get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    if let Some(t) = org.tombstone_of("group", call.param("groupId"), call.now) {
        return ok(t.view.clone());
    }
    let g = group_or_404(org, call.param("groupId"))?;
    ok(render_group(org, g))
}

/// `PUT /api/v2/groups/{groupId}`: needs the current `version`; fields left
/// out keep their value.
pub fn update(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:group:edit"])?;
    let id = call.param("groupId").to_string();
    let current = group_or_404(org, &id)?.version;
    let body = call.require_body(&["GroupUpdate", "Group", "GroupCreate"])?;
    let version = body
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::invalid("version", "The field \"version\" is required"))?;
    if version != current {
        return Err(ApiError::stale_directory_version(version, current));
    }
    let name = required_str(body, "name")?.to_string();
    if org.groups.by_name(&name).any(|g| g.id != id) {
        return Err(duplicate_name("group", &name));
    }
    let owners = owner_ids(org, body)?;
    org.groups.update(&id, |g| {
        g.name = name;
        for k in WRITABLE {
            match body.get(*k) {
                Some(Value::Null) | None => {}
                Some(v) => {
                    g.doc.insert((*k).into(), v.clone());
                }
            }
        }
        if let Some(o) = owners {
            g.owner_ids = o;
        }
        g.version += 1;
        g.date_modified = SystemTime::now();
    });
    let g = group_or_404(org, &id)?;
    ok(render_group(org, g))
}

/// `DELETE /api/v2/groups/{groupId}`.
pub fn delete(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:group:delete"])?;
    let id = call.param("groupId").to_string();
    let view = render_group(org, group_or_404(org, &id)?);
    org.tombstone("group", &id, view, call.visible_at());
    org.groups.remove(&id);
    org.drop_subject(&id);
    no_content()
}

/// `GET /api/v2/groups/{groupId}/members`.
pub fn members(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let g = group_or_404(org, call.param("groupId"))?;
    let mut users: Vec<_> = g
        .members
        .iter()
        .filter_map(|id| org.users.get(id))
        .collect();
    users.sort_by_key(|a| a.name.to_lowercase());
    let org_ref: &Org = org;
    ok(page_of(
        &call.path,
        &call.query,
        MAX_GROUP_PAGE_SIZE,
        users,
        |u| render_user(org_ref, u, &[]),
    )?)
}

/// `POST /api/v2/groups/{groupId}/members` `{memberIds, version}`.
pub fn add_members(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:group:edit"])?;
    let id = call.param("groupId").to_string();
    let current = group_or_404(org, &id)?.version;
    let body = call.require_body(&["GroupMembersUpdate"])?;
    let ids = str_list(body, "memberIds").unwrap_or_default();
    if ids.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::invalid(
            "memberIds",
            format!(
                "A maximum of {MAX_MEMBERS_PER_REQUEST} members are allowed per request, got {}",
                ids.len()
            ),
        ));
    }
    let version = body
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::invalid("version", "The field \"version\" is required"))?;
    if version != current {
        return Err(ApiError::stale_directory_version(version, current));
    }
    for m in &ids {
        if !org.users.contains(m) {
            return Err(ApiError::invalid(
                "memberIds",
                format!("Member is not a user: {m}"),
            ));
        }
    }
    org.groups.update(&id, |g| {
        g.members.extend(ids);
        g.version += 1;
        g.date_modified = SystemTime::now();
    });
    accepted()
}

/// `DELETE /api/v2/groups/{groupId}/members?ids=a,b`.
pub fn remove_members(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["directory:group:edit"])?;
    let id = call.param("groupId").to_string();
    group_or_404(org, &id)?;
    let ids = call.query.list("ids");
    if ids.is_empty() {
        return Err(ApiError::invalid(
            "ids",
            "The query parameter \"ids\" is required",
        ));
    }
    if ids.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::invalid(
            "ids",
            format!(
                "A maximum of {MAX_MEMBERS_PER_REQUEST} members may be removed per request, got {}",
                ids.len()
            ),
        ));
    }
    org.groups.update(&id, |g| {
        for m in &ids {
            g.members.remove(m);
        }
        g.version += 1;
        g.date_modified = SystemTime::now();
    });
    accepted()
}

/// Evaluates search criteria (`GroupSearchCriteria`/`UserSearchCriteria`)
/// against an object through a field lookup.
pub fn matches_criteria(criteria: &[Value], field: &dyn Fn(&str) -> Vec<String>) -> bool {
    let mut result: Option<bool> = None;
    for c in criteria {
        let op = c.get("operator").and_then(Value::as_str).unwrap_or("AND");
        let hit = criterion_hits(c, field);
        result = Some(match (result, op) {
            (None, "NOT") => !hit,
            (None, _) => hit,
            (Some(r), "OR") => r || hit,
            (Some(r), "NOT") => r && !hit,
            (Some(r), _) => r && hit,
        });
    }
    result.unwrap_or(true)
}

fn criterion_hits(c: &Value, field: &dyn Fn(&str) -> Vec<String>) -> bool {
    if let Some(group) = c.get("group").and_then(Value::as_array) {
        return matches_criteria(group, field);
    }
    let ty = c.get("type").and_then(Value::as_str).unwrap_or("EXACT");
    if ty == "MATCH_ALL" {
        return true;
    }
    let fields = str_list(c, "fields").unwrap_or_else(|| vec!["name".into()]);
    let mut values = str_list(c, "values").unwrap_or_default();
    if let Some(v) = c.get("value").and_then(Value::as_str) {
        values.push(v.to_string());
    }
    let values: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
    fields.iter().any(|f| {
        let have = field(f);
        if ty == "REQUIRED_FIELDS" {
            return !have.is_empty();
        }
        have.iter().any(|h| {
            let h = h.to_lowercase();
            values.iter().any(|v| match ty {
                "STARTS_WITH" => h.starts_with(v.as_str()),
                "CONTAINS" | "QUERY_STRING" => h.contains(v.as_str()),
                "TERM" | "TERMS" => h.split_whitespace().any(|w| w == v) || h == *v,
                _ => h == *v,
            })
        })
    })
}

/// Runs a search request over items and answers the search response shape
/// (`results`, `total`, `pageCount`, `pageSize`, `pageNumber`, and q64
/// `currentPage`/`nextPage`/`previousPage`).
pub fn search_response<T>(
    request: &Value,
    types: &str,
    items: Vec<T>,
    field: impl Fn(&T, &str) -> Vec<String>,
    render: impl Fn(&T) -> Value,
) -> ApiResult<Value> {
    let size = request
        .get("pageSize")
        .and_then(Value::as_i64)
        .unwrap_or(25);
    let number = request
        .get("pageNumber")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if size < 1 || size as usize > MAX_PAGE_SIZE {
        return Err(ApiError::invalid(
            "pageSize",
            format!("Invalid pageSize {size}: the page size must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    if number < 1 {
        return Err(ApiError::invalid("pageNumber", "Page numbers start at 1"));
    }
    let criteria: Vec<Value> = request
        .get("query")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut hits: Vec<T> = items
        .into_iter()
        .filter(|t| matches_criteria(&criteria, &|f| field(t, f)))
        .collect();
    if request
        .get("sortOrder")
        .and_then(Value::as_str)
        .is_some_and(|s| s == "DESC")
    {
        hits.reverse();
    }
    let (size, number) = (size as usize, number as usize);
    let total = hits.len();
    let page_count = total.div_ceil(size);
    let results: Vec<Value> = hits
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .map(render)
        .collect();
    let q64 = |n: usize| {
        let mut r = request.clone();
        r["pageNumber"] = json!(n);
        r["pageSize"] = json!(size);
        base64::engine::general_purpose::STANDARD.encode(r.to_string())
    };
    let mut m = Map::new();
    m.insert("total".into(), json!(total));
    m.insert("pageCount".into(), json!(page_count));
    m.insert("pageSize".into(), json!(size));
    m.insert("pageNumber".into(), json!(number));
    if number > 1 {
        m.insert("previousPage".into(), json!(q64(number - 1)));
    }
    m.insert("currentPage".into(), json!(q64(number)));
    if number < page_count {
        m.insert("nextPage".into(), json!(q64(number + 1)));
    }
    m.insert("types".into(), json!([types]));
    m.insert("results".into(), Value::Array(results));
    Ok(Value::Object(m))
}

/// Decodes a `q64` query parameter into a search request.
pub fn decode_q64(call: &Call) -> ApiResult<Value> {
    let q = call
        .query
        .get("q64")
        .ok_or_else(|| ApiError::invalid("q64", "The query parameter \"q64\" is required"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(q.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(q.trim()))
        .map_err(|_| ApiError::invalid("q64", "q64 is not valid base64"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::invalid("q64", "q64 is not a search request"))
}

fn group_field(g: &Group, f: &str) -> Vec<String> {
    match f {
        "name" => vec![g.name.clone()],
        "id" => vec![g.id.clone()],
        _ => g
            .doc
            .get(f)
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_else(|| {
                if f == "state" {
                    vec!["active".into()]
                } else {
                    vec![]
                }
            }),
    }
}

fn search(org: &Org, call: &Call, request: &Value) -> ApiResult<Reply> {
    let items: Vec<&Group> = org
        .groups
        .iter()
        .filter(|g| call.listed(g.visible_at))
        .collect();
    ok(search_response(
        request,
        "groups",
        items,
        |g, f| group_field(g, f),
        |g| render_group(org, g),
    )?)
}

/// `POST /api/v2/groups/search`.
pub fn search_post(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let body = call.require_body(&["GroupSearchRequest"])?;
    search(org, call, body)
}

/// `GET /api/v2/groups/search?q64=`.
pub fn search_get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let request = decode_q64(call)?;
    search(org, call, &request)
}
