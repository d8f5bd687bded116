//! `/api/v2/routing/queues`: routing queues and their members (the
//! queue's agents: users added by id; membership through groups is not
//! modelled, so `memberBy=group` lists nobody).

use super::users::render_user;
use super::{division_ref, duplicate_name, no_content, ok, required_str, Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::model::{Org, Queue};
use crate::params::{page_of, MAX_PAGE_SIZE};
use crate::wire::{iso, new_id, str_field};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Fields the server owns; ignored in requests.
const READ_ONLY: &[&str] = &[
    "id",
    "name",
    "division",
    "dateCreated",
    "dateModified",
    "modifiedBy",
    "createdBy",
    "memberCount",
    "userMemberCount",
    "joinedMemberCount",
    "selfUri",
    "sourceQueueId",
];

/// Wire shape of a queue (`Queue`).
pub fn render_queue(org: &Org, q: &Queue) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(q.id));
    m.insert("name".into(), json!(q.name));
    m.insert("division".into(), division_ref(org, &q.division_id));
    for (k, v) in &q.doc {
        m.insert(k.clone(), v.clone());
    }
    m.insert("dateCreated".into(), json!(iso(q.date_created)));
    m.insert("dateModified".into(), json!(iso(q.date_modified)));
    if let Some(by) = &q.created_by {
        m.insert("createdBy".into(), json!(by));
    }
    if let Some(by) = &q.modified_by {
        m.insert("modifiedBy".into(), json!(by));
    }
    m.insert("memberCount".into(), json!(q.members.len()));
    m.insert("userMemberCount".into(), json!(q.members.len()));
    m.insert(
        "joinedMemberCount".into(),
        json!(q.members.values().filter(|j| **j).count()),
    );
    m.entry("acwSettings")
        .or_insert(json!({"wrapupPrompt": "OPTIONAL"}));
    m.entry("skillEvaluationMethod").or_insert(json!("ALL"));
    m.entry("scoringMethod")
        .or_insert(json!("TimestampAndPriority"));
    m.insert(
        "selfUri".into(),
        json!(format!("/api/v2/routing/queues/{}", q.id)),
    );
    Value::Object(m)
}

fn queue_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a Queue> {
    org.queues
        .get(id)
        .ok_or_else(|| ApiError::not_found("Queue", id))
}

fn name_matches(pattern: &str, name: &str) -> bool {
    let p = pattern.to_lowercase();
    let n = name.to_lowercase();
    match (p.strip_prefix('*'), p.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => n.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => n.ends_with(rest),
        (None, Some(rest)) => n.starts_with(rest),
        (None, None) => n == p,
    }
}

/// `GET /api/v2/routing/queues`: `name` matches exactly (ignoring case) or
/// with `*` wildcards at either end.
pub fn list(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queue:view"])?;
    let ids = call.query.list("id");
    let divisions = call.query.list("divisionId");
    let name = call.query.get("name");
    let desc = call
        .query
        .get("sortOrder")
        .is_some_and(|s| s.eq_ignore_ascii_case("desc"));
    let mut items: Vec<&Queue> = org
        .queues
        .iter()
        .filter(|q| call.listed(q.visible_at))
        .filter(|q| ids.is_empty() || ids.contains(&q.id))
        .filter(|q| divisions.is_empty() || divisions.contains(&q.division_id))
        .filter(|q| name.is_none_or(|n| name_matches(n, &q.name)))
        .collect();
    if desc {
        items.reverse();
    }
    let org_ref: &Org = org;
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        |q| render_queue(org_ref, q),
    )?)
}

fn parts(org: &Org, body: &Value) -> ApiResult<(String, Option<String>, Map<String, Value>)> {
    let name = required_str(body, "name")?.to_string();
    let division = match body.get("division").and_then(|d| str_field(d, "id")) {
        Some(d) if org.divisions.contains(d) => Some(d.to_string()),
        Some(d) => {
            return Err(ApiError::invalid(
                "division",
                format!("Division not found: {d}"),
            ));
        }
        None => None,
    };
    let mut doc = Map::new();
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            if !READ_ONLY.contains(&k.as_str()) && !v.is_null() {
                doc.insert(k.clone(), v.clone());
            }
        }
    }
    Ok((name, division, doc))
}

/// `POST /api/v2/routing/queues`.
pub fn create(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queue:add"])?;
    let body = call.require_body(&["CreateQueueRequest"])?;
    let (name, division, doc) = parts(org, body)?;
    if org.queues.by_name(&name).next().is_some() {
        return Err(duplicate_name("queue", &name));
    }
    let t = SystemTime::now();
    let q = Queue {
        id: new_id(),
        name,
        division_id: division.unwrap_or_else(|| org.home_division_id.clone()),
        doc,
        members: BTreeMap::new(),
        date_created: t,
        date_modified: t,
        created_by: Some(call.caller.subject.id().to_string()),
        modified_by: Some(call.caller.subject.id().to_string()),
        visible_at: call.visible_at(),
    };
    let v = render_queue(org, &q);
    org.queues.insert(q);
    ok(v)
}

/// `GET /api/v2/routing/queues/{queueId}`.
pub fn get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queue:view"])?;
    let q = queue_or_404(org, call.param("queueId"))?;
    ok(render_queue(org, q))
}

/// `PUT /api/v2/routing/queues/{queueId}`: replaces the queue.
pub fn update(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queue:edit"])?;
    let id = call.param("queueId").to_string();
    queue_or_404(org, &id)?;
    let body = call.require_body(&["QueueRequest", "Queue"])?;
    let (name, division, doc) = parts(org, body)?;
    if org.queues.by_name(&name).any(|q| q.id != id) {
        return Err(duplicate_name("queue", &name));
    }
    let modifier = call.caller.subject.id().to_string();
    org.queues.update(&id, |q| {
        q.name = name;
        if let Some(d) = division {
            q.division_id = d;
        }
        q.doc = doc;
        q.date_modified = SystemTime::now();
        q.modified_by = Some(modifier);
    });
    let q = queue_or_404(org, &id)?;
    ok(render_queue(org, q))
}

/// `DELETE /api/v2/routing/queues/{queueId}`.
pub fn delete(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queue:delete"])?;
    let id = call.param("queueId").to_string();
    queue_or_404(org, &id)?;
    org.queues.remove(&id);
    no_content()
}

/// Most members one POST or PATCH may change.
const MAX_MEMBERS_PER_REQUEST: usize = 100;

/// Wire shape of a queue member (`QueueMember`).
fn render_member(org: &Org, queue_id: &str, user_id: &str, joined: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(user_id));
    if let Some(u) = org.users.get(user_id) {
        m.insert("name".into(), json!(u.name));
        m.insert("user".into(), render_user(org, u, &[]));
    }
    m.insert("ringNumber".into(), json!(1));
    m.insert("joined".into(), json!(joined));
    m.insert("memberBy".into(), json!("user"));
    m.insert(
        "selfUri".into(),
        json!(format!(
            "/api/v2/routing/queues/{queue_id}/members/{user_id}"
        )),
    );
    Value::Object(m)
}

/// Add (not joined) or remove members; unknown ids are ignored here
/// (callers check them).
pub fn change_members(org: &mut Org, queue_id: &str, users: Vec<String>, add: bool) {
    org.queues.update(queue_id, |q| {
        for u in users {
            if add {
                q.members.entry(u).or_insert(false);
            } else {
                q.members.remove(&u);
            }
        }
        q.date_modified = SystemTime::now();
    });
}

/// `GET /api/v2/routing/queues/{queueId}/members`: pages the members,
/// filtered by `memberBy` (`user`, or `group`: none), `joined` and `name`
/// (part of the user's name, ignoring case).
pub fn members(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queue:view"])?;
    let id = call.param("queueId").to_string();
    let q = queue_or_404(org, &id)?;
    let by_group = call
        .query
        .get("memberBy")
        .is_some_and(|b| b.eq_ignore_ascii_case("group"));
    let joined = match call.query.get("joined") {
        None => None,
        Some(j) => Some(j.parse::<bool>().map_err(|_| {
            ApiError::invalid("joined", format!("joined must be true or false, not {j}"))
        })?),
    };
    let name = call.query.get("name").map(str::to_lowercase);
    let mut items: Vec<(&String, bool)> = q
        .members
        .iter()
        .filter(|_| !by_group)
        .filter(|(_, j)| joined.is_none_or(|want| **j == want))
        .filter(|(u, _)| {
            name.as_deref().is_none_or(|n| {
                org.users
                    .get(u)
                    .is_some_and(|u| u.name.to_lowercase().contains(n))
            })
        })
        .map(|(u, j)| (u, *j))
        .collect();
    if call
        .query
        .get("sortOrder")
        .is_some_and(|s| s.eq_ignore_ascii_case("desc"))
    {
        items.reverse();
    }
    let listing = page_of(&call.path, &call.query, MAX_PAGE_SIZE, items, |(u, j)| {
        render_member(org, &id, u, j)
    })?;
    // QueueMemberEntityListing has no counts.
    let mut out = Map::new();
    for k in [
        "entities",
        "pageSize",
        "pageNumber",
        "firstUri",
        "selfUri",
        "nextUri",
        "previousUri",
    ] {
        if let Some(v) = listing.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    ok(Value::Object(out))
}

/// The user ids of a members body (a list of `{id}`), at most 100, each a
/// user of the org.
fn member_ids(org: &Org, call: &Call, model: &str) -> ApiResult<Vec<(String, Value)>> {
    let body = call.body.as_ref().ok_or_else(|| {
        ApiError::bad_request(format!("A request body (list[{model}]) is required"))
    })?;
    let items = body.as_array().ok_or_else(|| {
        ApiError::bad_request(format!("The request body must be a list of {model}"))
    })?;
    if items.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "At most {MAX_MEMBERS_PER_REQUEST} members may be changed in one request, not {}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        crate::contract::validate_any(&[model], item, crate::contract::Mode::Request)
            .map_err(ApiError::bad_request)?;
        let uid = str_field(item, "id")
            .ok_or_else(|| ApiError::invalid("id", "Each member needs an id"))?;
        if !org.users.contains(uid) {
            return Err(ApiError::invalid("id", format!("User not found: {uid}")));
        }
        out.push((uid.to_string(), item.clone()));
    }
    Ok(out)
}

/// `POST /api/v2/routing/queues/{queueId}/members`: adds the users, or
/// removes them with `?delete=true`.
pub fn add_members(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queueMember:manage"])?;
    let id = call.param("queueId").to_string();
    queue_or_404(org, &id)?;
    let delete = call
        .query
        .get("delete")
        .is_some_and(|d| d.eq_ignore_ascii_case("true"));
    let users = member_ids(org, call, "WritableEntity")?
        .into_iter()
        .map(|(u, _)| u)
        .collect();
    change_members(org, &id, users, !delete);
    no_content()
}

/// `PATCH /api/v2/routing/queues/{queueId}/members`: joins or unjoins
/// members (`joined` of each entry); entries for users who are not members
/// are disregarded, as the real service does. Answers the changed members.
pub fn patch_members(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["routing:queueMember:manage"])?;
    let id = call.param("queueId").to_string();
    let q = queue_or_404(org, &id)?;
    let entries = member_ids(org, call, "QueueMember")?;
    let changes: Vec<(String, Option<bool>)> = entries
        .into_iter()
        .filter(|(u, _)| q.members.contains_key(u))
        .map(|(u, e)| (u, e.get("joined").and_then(Value::as_bool)))
        .collect();
    org.queues.update(&id, |q| {
        for (u, joined) in &changes {
            if let (Some(j), Some(slot)) = (joined, q.members.get_mut(u)) {
                *slot = *j;
            }
        }
        q.date_modified = SystemTime::now();
    });
    let q = queue_or_404(org, &id)?;
    let entities: Vec<Value> = changes
        .iter()
        .map(|(u, _)| render_member(org, &id, u, q.members.get(u).copied().unwrap_or(false)))
        .collect();
    ok(json!({"entities": entities, "pageSize": entities.len(), "pageNumber": 1}))
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn queue_name_filter() {
        assert!(name_matches("Support", "support"));
        assert!(name_matches("Sup*", "Support"));
        assert!(name_matches("*port", "Support"));
        assert!(name_matches("*ppo*", "Support"));
        assert!(!name_matches("Sup", "Support"));
    }
}
