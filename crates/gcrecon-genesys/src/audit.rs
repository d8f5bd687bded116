//! The audit log: who changed an object, when, and how, for drift
//! attribution ([`gcrecon_core::provider::Provider::audit_log`]).
//!
//! - `GET /api/v2/audits/query/servicemapping` names the services and the
//!   entity types each records. Service names are taken from it, never
//!   assumed; only the entity type of each kind is Genesys vocabulary,
//!   given by the kind's entry in [`crate::kinds`] ([`entity_type`]).
//! - `POST /api/v2/audits/query/realtime` then runs once per service and
//!   batch of [`IDS_PER_QUERY`] object ids: `EntityType` filters (OR) for
//!   the service's types gcrecon asks about, AND `EntityId` filters (OR) for
//!   the batch, newest first, [`PAGE_SIZE`] a page; pages are read only
//!   until every object of the batch has its `per_object` entries. The
//!   interval is the last 14 days, the longest the realtime query allows.
//! - A change by an OAuth client names only the client's id; one
//!   `GET /api/v2/oauth/clients` (every client in one answer) names them.
//!
//! So attribution costs 1 + (services × batches × pages) + at most 1
//! requests, whatever the number of objects in a batch.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use gcrecon_core::drift::{ActorKind, AuditActor, AuditChange, AuditEntry};
use gcrecon_core::provider::{AuditLog, GenesysId, ProviderError};
use gcrecon_core::Kind;
use serde_json::{json, Value as Json};

use crate::http::Request;
use crate::wire::{malformed, str_field};
use crate::Ctx;

const MAPPING: &str = "/api/v2/audits/query/servicemapping";
const REALTIME: &str = "/api/v2/audits/query/realtime";
const CLIENTS: &str = "/api/v2/oauth/clients";

/// Object ids per realtime query (as `EntityId` filters).
pub const IDS_PER_QUERY: usize = 100;
/// Page size of the realtime query (its maximum).
pub const PAGE_SIZE: usize = 500;
/// How far back the realtime query may look.
const WINDOW: Duration = Duration::from_secs(14 * 86_400);
/// Kept off both ends of the window, for clock skew with the service.
const MARGIN: Duration = Duration::from_secs(120);

/// The audit log's entity type of a kind; `None` for kinds it does not
/// record (identity providers).
pub fn entity_type(kind: Kind) -> Option<&'static str> {
    crate::kinds::ops(kind).audit_entity()
}

fn iso(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The service of each entity type, from the service mapping.
async fn services(ctx: &Ctx) -> Result<BTreeMap<String, String>, ProviderError> {
    let body = ctx.api.send(Request::get(MAPPING)).await?;
    let services = body
        .get("services")
        .and_then(Json::as_array)
        .ok_or_else(|| malformed("a service mapping without services"))?;
    let mut by_type = BTreeMap::new();
    for s in services {
        let Some(name) = str_field(s, "name") else {
            continue;
        };
        for e in s
            .get("entities")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(t) = str_field(e, "name") {
                by_type
                    .entry(t.to_owned())
                    .or_insert_with(|| name.to_owned());
            }
        }
    }
    Ok(by_type)
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(str::to_owned)
        .collect()
}

/// One `AuditLogMessage` as an entry, with the entity type and id it is
/// about; `None` for a message without an entity or an author.
fn entry_of(m: &Json) -> Option<(String, String, AuditEntry)> {
    let entity_type = str_field(m, "entityType")?.to_owned();
    let entity_id = m.get("entity").and_then(|e| str_field(e, "id"))?.to_owned();
    let user = m.get("user").filter(|u| str_field(u, "id").is_some());
    let actor = match (user, m.get("client").and_then(|c| str_field(c, "id"))) {
        (Some(u), _) => AuditActor {
            kind: ActorKind::User,
            id: str_field(u, "id")?.to_owned(),
            name: str_field(u, "name").map(str::to_owned),
            gcrecon: false,
        },
        (None, Some(client)) => AuditActor {
            kind: ActorKind::Client,
            id: client.to_owned(),
            name: None,
            gcrecon: false,
        },
        (None, None) => return None,
    };
    let changes = m
        .get("propertyChanges")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(AuditChange {
                property: str_field(c, "property")?.to_owned(),
                old: strings(c.get("oldValues")),
                new: strings(c.get("newValues")),
            })
        })
        .collect();
    Some((
        entity_type,
        entity_id,
        AuditEntry {
            at: str_field(m, "eventDate").unwrap_or_default().to_owned(),
            action: str_field(m, "action").unwrap_or_default().to_owned(),
            actor,
            service: str_field(m, "serviceName").unwrap_or_default().to_owned(),
            changes,
        },
    ))
}

/// One service's share of a query: the entity types asked about, and each
/// object with its kind and entity type.
type ServiceTargets<'a> = (BTreeSet<&'a str>, Vec<(Kind, &'a str, &'a GenesysId)>);

/// Entries about `targets` (see the module documentation).
pub async fn audit_log(
    ctx: &Ctx,
    targets: &[(Kind, GenesysId)],
    per_object: usize,
) -> Result<AuditLog, ProviderError> {
    let mut log = AuditLog::new();
    let wanted: Vec<(Kind, &'static str, &GenesysId)> = targets
        .iter()
        .filter_map(|(k, id)| Some((*k, entity_type(*k)?, id)))
        .collect();
    if wanted.is_empty() || per_object == 0 {
        return Ok(log);
    }
    let service_of = services(ctx).await?;
    // Per service: the entity types asked about and the objects.
    let mut per_service: BTreeMap<&str, ServiceTargets<'_>> = BTreeMap::new();
    for (kind, ty, id) in &wanted {
        let Some(service) = service_of.get(*ty) else {
            continue;
        };
        let slot = per_service.entry(service.as_str()).or_default();
        slot.0.insert(ty);
        slot.1.push((*kind, ty, id));
    }
    let now = SystemTime::now();
    let interval = format!("{}/{}", iso(now - WINDOW + MARGIN), iso(now + MARGIN));
    for (service, (types, objects)) in per_service {
        let kind_of: BTreeMap<(&str, &str), Kind> = objects
            .iter()
            .map(|(k, ty, id)| ((*ty, id.as_str()), *k))
            .collect();
        let ids: Vec<&str> = objects
            .iter()
            .map(|(_, _, id)| id.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for batch in ids.chunks(IDS_PER_QUERY) {
            let mut filters: Vec<Json> = types
                .iter()
                .map(|t| json!({"property": "EntityType", "value": t}))
                .collect();
            filters.extend(
                batch
                    .iter()
                    .map(|id| json!({"property": "EntityId", "value": id})),
            );
            let in_batch = kind_of
                .keys()
                .filter(|(_, id)| batch.binary_search(id).is_ok())
                .count();
            let mut page = 1u64;
            loop {
                // A query changes nothing: safe to retry.
                let request = Request::post(REALTIME).idempotent().json(json!({
                    "interval": interval,
                    "serviceName": service,
                    "filters": filters,
                    "sort": [{"name": "Timestamp", "sortOrder": "descending"}],
                    "pageNumber": page,
                    "pageSize": PAGE_SIZE,
                }));
                let body = ctx.api.send(request).await?;
                let messages = body
                    .get("entities")
                    .and_then(Json::as_array)
                    .ok_or_else(|| malformed("an audit query answer without entities"))?;
                for m in messages {
                    let Some((ty, id, entry)) = entry_of(m) else {
                        continue;
                    };
                    let Some(kind) = kind_of.get(&(ty.as_str(), id.as_str())) else {
                        continue;
                    };
                    let list = log.entry((*kind, GenesysId::from(id))).or_default();
                    if list.len() < per_object {
                        list.push(entry);
                    }
                }
                let page_count = body.get("pageCount").and_then(Json::as_u64).unwrap_or(1);
                let saturated = log
                    .iter()
                    .filter(|((_, id), l)| {
                        batch.binary_search(&id.as_str()).is_ok() && l.len() >= per_object
                    })
                    .count()
                    >= in_batch;
                if page >= page_count || messages.is_empty() || saturated {
                    break;
                }
                page += 1;
            }
        }
    }
    name_clients(ctx, &mut log).await;
    Ok(log)
}

/// Names the OAuth clients that made changes, from one listing; a caller
/// that may not list clients keeps their ids only.
async fn name_clients(ctx: &Ctx, log: &mut AuditLog) {
    let unnamed = log
        .values()
        .flatten()
        .any(|e| e.actor.kind == ActorKind::Client && e.actor.name.is_none());
    if !unnamed {
        return;
    }
    let Ok(body) = ctx.api.send(Request::get(CLIENTS)).await else {
        return;
    };
    let names: BTreeMap<&str, &str> = body
        .get("entities")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((str_field(c, "id")?, str_field(c, "name")?)))
        .collect();
    for e in log.values_mut().flatten() {
        if e.actor.kind == ActorKind::Client && e.actor.name.is_none() {
            e.actor.name = names.get(e.actor.id.as_str()).map(|n| (*n).to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_becomes_an_entry_about_its_entity() {
        let m = json!({
            "id": "a1", "serviceName": "S", "eventDate": "2026-01-02T03:04:05.000Z",
            "action": "Update", "entityType": "Role",
            "entity": {"id": "r1", "name": "adapter"},
            "client": {"id": "c1"},
            "propertyChanges": [{"property": "permissions", "oldValues": ["a"], "newValues": ["a", "b"]}]
        });
        let (ty, id, e) = entry_of(&m).unwrap();
        assert_eq!((ty.as_str(), id.as_str()), ("Role", "r1"));
        assert_eq!(e.actor.kind, ActorKind::Client);
        assert_eq!(e.changes[0].new, vec!["a", "b"]);
        assert!(entry_of(&json!({"entityType": "Role", "entity": {"id": "r"}})).is_none());
        assert_eq!(iso(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
