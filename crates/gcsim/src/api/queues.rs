//! `/api/v2/routing/queues`: routing queues.

use super::{division_ref, duplicate_name, no_content, ok, required_str, Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::model::{Org, Queue};
use crate::params::{page_of, MAX_PAGE_SIZE};
use crate::wire::{iso, new_id, str_field};
use serde_json::{json, Map, Value};
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
    m.insert("memberCount".into(), json!(0));
    m.insert("userMemberCount".into(), json!(0));
    m.insert("joinedMemberCount".into(), json!(0));
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
