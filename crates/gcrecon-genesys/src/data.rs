//! Data sources (`data.KIND.NAME`) and the permission catalog: read-only
//! look-ups at plan time. Each returns every match with the attributes of
//! `gcrecon_core::schema::data_keys`; the engine reports none or several.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gcrecon_core::provider::{CallerKind, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::DataKind;
use serde_json::{json, Value as Json};

use crate::http::{is_not_found, Request};
use crate::kinds::ListEndpoint;
use crate::listing::{find_by_name, search_groups_by_name};
use crate::wire::{id_of, str_field, AttrReader};
use crate::{caller, group, org, Ctx};

type Row = Attrs;

/// Listings that data sources read again and again within one run, read
/// once: every division (each `data.division.X`, `data.divisions.X` and
/// `data.users.X` by division name needs it) and every user (each
/// `data.users.X` by division filters the same listing). A manifest with a
/// `for_each` over divisions otherwise pays one listing per instance.
/// Division changes made by gcrecon itself clear the division listing.
///
/// Queues are looked up by name (`data.queue.X`, `data.users.X` by queue)
/// from one page of the queue listing when that page is the whole listing:
/// a `for_each` over a few queues then costs one call, not one per queue.
/// An organization with more queues than one page holds is asked by name,
/// per lookup, as before.
#[derive(Default)]
pub struct DataCache {
    divisions: Option<Arc<Vec<Json>>>,
    users: Option<Arc<Vec<Json>>>,
    /// `None`: not read yet; `Some(None)`: more queues than one page.
    queues: Option<Option<Arc<Vec<Json>>>>,
}

impl DataCache {
    /// Drop the division listing (gcrecon created, changed or deleted one).
    pub fn forget_divisions(&mut self) {
        self.divisions = None;
    }
}

/// True when `page` is the whole listing.
fn is_whole_listing(page: &crate::http::Page) -> bool {
    match page.page_count {
        Some(count) => count <= 1,
        None => !page.has_next,
    }
}

/// The home division as the division listing flags it (`homeDivision`),
/// when the data sources have read the whole listing; `None` otherwise.
pub(crate) async fn home_division_listed(ctx: &Ctx) -> Option<Json> {
    let cache = ctx.data_cache.lock().await;
    cache
        .divisions
        .as_ref()?
        .iter()
        .find(|d| d.get("homeDivision").and_then(Json::as_bool) == Some(true))
        .cloned()
}

/// The queues named `name` (exactly): from the cached single-page listing,
/// else asked by name.
async fn queues_named(ctx: &Ctx, name: &str) -> Result<Vec<Json>, ProviderError> {
    let named = |all: &[Json]| -> Vec<Json> {
        all.iter()
            .filter(|e| str_field(e, "name") == Some(name))
            .cloned()
            .collect()
    };
    {
        let mut cache = ctx.data_cache.lock().await;
        let listed = match &cache.queues {
            Some(listed) => listed.clone(),
            None => {
                let first = ctx.api.first_page(Request::get(QUEUES), QUEUE_PAGE).await?;
                let listed = is_whole_listing(&first).then(|| Arc::new(first.entities));
                cache.queues = Some(listed.clone());
                listed
            }
        };
        if let Some(all) = listed {
            return Ok(named(&all));
        }
    }
    let queues = ctx
        .api
        .list_all(Request::get(QUEUES).query("name", name), QUEUE_PAGE)
        .await?;
    Ok(named(&queues))
}

const QUEUES: &str = "/api/v2/routing/queues";
const QUEUE_PAGE: u32 = 100;

/// Every division, listed once per run.
async fn all_divisions(ctx: &Ctx) -> Result<Arc<Vec<Json>>, ProviderError> {
    let mut cache = ctx.data_cache.lock().await;
    if let Some(all) = &cache.divisions {
        return Ok(Arc::clone(all));
    }
    let spec = &crate::division::SPEC;
    let all = Arc::new(
        ctx.api
            .list_all(Request::get(spec.list), spec.page_size)
            .await?,
    );
    cache.divisions = Some(Arc::clone(&all));
    Ok(all)
}

/// Every user, listed once per run.
async fn all_users(ctx: &Ctx) -> Result<Arc<Vec<Json>>, ProviderError> {
    let mut cache = ctx.data_cache.lock().await;
    if let Some(all) = &cache.users {
        return Ok(Arc::clone(all));
    }
    let all = Arc::new(
        ctx.api
            .list_all(Request::get("/api/v2/users"), crate::USER_PAGE)
            .await?,
    );
    cache.users = Some(Arc::clone(&all));
    Ok(all)
}

/// Divisions named exactly `name`, from the run's division listing.
async fn divisions_named(ctx: &Ctx, name: &str) -> Result<Vec<Json>, ProviderError> {
    Ok(all_divisions(ctx)
        .await?
        .iter()
        .filter(|d| str_field(d, "name") == Some(name))
        .cloned()
        .collect())
}

fn row(pairs: &[(&str, Value)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn id_name(e: &Json, what: &str) -> Result<Row, ProviderError> {
    Ok(row(&[
        ("id", Value::from(id_of(e, what)?)),
        (
            "name",
            Value::from(str_field(e, "name").unwrap_or_default()),
        ),
    ]))
}

/// Look up a data source: every match, as rows of its attributes.
pub async fn data(ctx: &Ctx, kind: DataKind, query: &Attrs) -> Result<Vec<Row>, ProviderError> {
    let q = AttrReader::for_data(kind, query);
    match kind {
        DataKind::Org => org_row(ctx).await,
        DataKind::Caller => caller_row(ctx).await,
        DataKind::Division => division(ctx, &q).await,
        DataKind::Divisions => divisions(ctx, &q).await,
        DataKind::User => user(ctx, &q).await,
        DataKind::Users => users(ctx, &q).await,
        DataKind::Queue => queue(ctx, &q).await,
        DataKind::Role => {
            let name = q.required_string("name")?;
            find_by_name(&ctx.api, &crate::role::SPEC, &name)
                .await?
                .iter()
                .map(|e| id_name(e, "role"))
                .collect()
        }
        DataKind::IntegrationType => integration_type(ctx, &q).await,
    }
}

/// `data.org`: the organization behind the connection.
async fn org_row(ctx: &Ctx) -> Result<Vec<Row>, ProviderError> {
    let o = org::org(ctx).await?;
    Ok(vec![row(&[
        ("id", Value::from(o.id)),
        ("name", Value::from(o.name)),
        ("short_name", Value::from(o.short_name)),
        ("region", Value::from(o.region)),
        ("domain", Value::from(o.domain)),
        ("api_url", Value::from(o.api_url)),
        ("login_url", Value::from(o.login_url)),
    ])])
}

/// `data.caller`: the user or client behind the token.
async fn caller_row(ctx: &Ctx) -> Result<Vec<Row>, ProviderError> {
    let who = caller::identity(ctx).await?;
    let kind = match who.kind {
        CallerKind::User => "user",
        CallerKind::Client => "client",
    };
    Ok(vec![row(&[
        ("kind", Value::from(kind)),
        ("id", Value::from(who.id.as_str())),
        ("name", Value::from(who.name)),
    ])])
}

/// `data.division`: by `name`, or the home division.
async fn division(ctx: &Ctx, q: &AttrReader<'_>) -> Result<Vec<Row>, ProviderError> {
    if q.bool("home")? == Some(true) {
        let home = org::home_division_entry(ctx).await?;
        return Ok(vec![id_name(home, "division")?]);
    }
    let name = q.string("name")?.ok_or_else(|| {
        ProviderError::Invalid("data.division needs `name` or `home = true`".into())
    })?;
    divisions_named(ctx, &name)
        .await?
        .iter()
        .map(|e| id_name(e, "division"))
        .collect()
}

/// `data.divisions`: every division, or those of `names` in their order.
async fn divisions(ctx: &Ctx, q: &AttrReader<'_>) -> Result<Vec<Row>, ProviderError> {
    let all = all_divisions(ctx).await?;
    let mut found: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            Ok((
                str_field(e, "name").unwrap_or_default().to_owned(),
                id_of(e, "division")?,
            ))
        })
        .collect::<Result<_, ProviderError>>()?;
    if let Some(names) = q.strings("names")? {
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !found.iter().any(|(f, _)| f == *n))
            .collect();
        if !missing.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "data.divisions: no division named {}",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // In the order the manifest names them.
        found = names
            .iter()
            .filter_map(|n| found.iter().find(|(f, _)| f == n).cloned())
            .collect();
    } else {
        found.sort();
    }
    Ok(vec![row(&[
        (
            "ids",
            Value::strings(found.iter().map(|(_, id)| id.clone())),
        ),
        (
            "names",
            Value::strings(found.iter().map(|(n, _)| n.clone())),
        ),
    ])])
}

/// `data.user`: by `email`.
async fn user(ctx: &Ctx, q: &AttrReader<'_>) -> Result<Vec<Row>, ProviderError> {
    let email = q.required_string("email")?;
    let users = users_by_email(ctx, &email).await?;
    users
        .iter()
        .map(|u| {
            Ok(row(&[
                ("id", Value::from(id_of(u, "user")?)),
                (
                    "name",
                    Value::from(str_field(u, "name").unwrap_or_default()),
                ),
                (
                    "email",
                    Value::from(str_field(u, "email").unwrap_or_default()),
                ),
            ]))
        })
        .collect()
}

/// `data.users`: the users every given filter (`division`, `group`,
/// `role`, `queue`) matches, with their emails.
async fn users(ctx: &Ctx, q: &AttrReader<'_>) -> Result<Vec<Row>, ProviderError> {
    let division = q.string("division")?;
    let group_name = q.string("group")?;
    let role = q.string("role")?;
    let queue = q.string("queue")?;
    if division.is_none() && group_name.is_none() && role.is_none() && queue.is_none() {
        return Err(ProviderError::Invalid(
            "data.users needs one or more of `division`, `group`, `role` and `queue`".into(),
        ));
    }
    // Each filter narrows the set (AND); a filter naming nothing matches
    // nothing, which the engine reports.
    let mut ids: Option<BTreeSet<String>> = None;
    let mut narrow = |set: Option<BTreeSet<String>>| -> bool {
        let Some(set) = set else {
            return false;
        };
        ids = Some(match ids.take() {
            Some(previous) => previous.intersection(&set).cloned().collect(),
            None => set,
        });
        true
    };
    if let Some(name) = division {
        if !narrow(users_in_division(ctx, &name).await?) {
            return Ok(Vec::new());
        }
    }
    if let Some(name) = group_name {
        if !narrow(users_in_group(ctx, &name).await?) {
            return Ok(Vec::new());
        }
    }
    if let Some(role) = role {
        if !narrow(users_with_role(ctx, &role).await?) {
            return Ok(Vec::new());
        }
    }
    if let Some(queue) = queue {
        if !narrow(users_in_queue(ctx, &queue).await?) {
            return Ok(Vec::new());
        }
    }
    users_row(ctx, ids.unwrap_or_default()).await
}

/// The ids of the users of the division named `name`; `None` when there
/// is no such division.
async fn users_in_division(
    ctx: &Ctx,
    name: &str,
) -> Result<Option<BTreeSet<String>>, ProviderError> {
    let divisions = divisions_named(ctx, name).await?;
    let Some(division) = divisions.first() else {
        return Ok(None);
    };
    let division_id = id_of(division, "division")?;
    let users = all_users(ctx).await?;
    Ok(Some(
        users
            .iter()
            .filter(|u| {
                u.get("division").and_then(|d| str_field(d, "id")) == Some(division_id.as_str())
            })
            .filter_map(|u| str_field(u, "id").map(str::to_owned))
            .collect(),
    ))
}

/// The member ids of the group named `name`; `None` when there is no such
/// group.
async fn users_in_group(ctx: &Ctx, name: &str) -> Result<Option<BTreeSet<String>>, ProviderError> {
    let groups: Vec<Json> = search_groups_by_name(&ctx.api, name)
        .await?
        .into_iter()
        .filter(|g| str_field(g, "name") == Some(name))
        .collect();
    let Some(g) = groups.first() else {
        return Ok(None);
    };
    Ok(Some(
        group::read_members(ctx, &id_of(g, "group")?)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// The ids of the users holding `role` (a name or an id); `None` when
/// there is no such role.
async fn users_with_role(ctx: &Ctx, role: &str) -> Result<Option<BTreeSet<String>>, ProviderError> {
    let Some(role_id) = role_id(ctx, role).await? else {
        return Ok(None);
    };
    listed_ids(
        ctx,
        Request::get("/api/v2/authorization/roles/{roleId}/users").param("roleId", &role_id),
    )
    .await
    .map(Some)
}

/// The ids of every entity of a listing (users holding a role, a queue's
/// members: each entity's `id` is the user's).
async fn listed_ids(ctx: &Ctx, listing: Request) -> Result<BTreeSet<String>, ProviderError> {
    Ok(ctx
        .api
        .list_all(listing, 100)
        .await?
        .iter()
        .filter_map(|e| str_field(e, "id").map(str::to_owned))
        .collect())
}

/// The ids of the agents of `queue` (a name or an id); `None` when there
/// is no such queue.
async fn users_in_queue(ctx: &Ctx, queue: &str) -> Result<Option<BTreeSet<String>>, ProviderError> {
    let Some(queue_id) = queue_id(ctx, queue).await? else {
        return Ok(None);
    };
    listed_ids(
        ctx,
        Request::get("/api/v2/routing/queues/{queueId}/members").param("queueId", &queue_id),
    )
    .await
    .map(Some)
}

/// The `data.users` row of `ids`: `emails[i]` is the email of `ids[i]`.
async fn users_row(ctx: &Ctx, ids: BTreeSet<String>) -> Result<Vec<Row>, ProviderError> {
    let users = all_users(ctx).await?;
    let email_of: BTreeMap<&str, &str> = users
        .iter()
        .filter_map(|u| Some((str_field(u, "id")?, str_field(u, "email")?)))
        .collect();
    let emails: Vec<String> = ids
        .iter()
        .map(|id| {
            email_of
                .get(id.as_str())
                .copied()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    Ok(vec![row(&[
        ("ids", Value::strings(ids)),
        ("emails", Value::strings(emails)),
    ])])
}

/// `data.queue`: by `name`, with its division.
async fn queue(ctx: &Ctx, q: &AttrReader<'_>) -> Result<Vec<Row>, ProviderError> {
    let name = q.required_string("name")?;
    queues_named(ctx, &name)
        .await?
        .iter()
        .map(|e| {
            let mut r = id_name(e, "queue")?;
            let division = e
                .get("division")
                .and_then(|d| str_field(d, "id"))
                .unwrap_or_default();
            r.insert("division_id".into(), Value::from(division));
            Ok(r)
        })
        .collect()
}

/// `data.integration_type`: by `id` or `name`.
async fn integration_type(ctx: &Ctx, q: &AttrReader<'_>) -> Result<Vec<Row>, ProviderError> {
    if let Some(id) = q.string("id")? {
        let found = ctx
            .api
            .send_opt(Request::get("/api/v2/integrations/types/{typeId}").param("typeId", &id))
            .await?;
        return found
            .iter()
            .map(|e| id_name(e, "integration type"))
            .collect();
    }
    let name = q.string("name")?.ok_or_else(|| {
        ProviderError::Invalid("data.integration_type needs `name` or `id`".into())
    })?;
    let types = ctx
        .api
        .list_all(Request::get("/api/v2/integrations/types"), 100)
        .await?;
    types
        .iter()
        .filter(|e| str_field(e, "name") == Some(name.as_str()))
        .map(|e| id_name(e, "integration type"))
        .collect()
}

/// True for a Genesys object id (a UUID), as opposed to a name.
fn looks_like_id(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// The id of the role named (or with the id) `role`; `None` when none.
async fn role_id(ctx: &Ctx, role: &str) -> Result<Option<String>, ProviderError> {
    if looks_like_id(role) {
        let found = ctx
            .api
            .send_opt(Request::get("/api/v2/authorization/roles/{roleId}").param("roleId", role))
            .await?;
        if let Some(r) = found {
            return Ok(Some(id_of(&r, "role")?));
        }
    }
    let roles = find_by_name(&ctx.api, &crate::role::SPEC, role).await?;
    roles.first().map(|r| id_of(r, "role")).transpose()
}

/// The id of the queue named (or with the id) `queue`; `None` when none.
async fn queue_id(ctx: &Ctx, queue: &str) -> Result<Option<String>, ProviderError> {
    if looks_like_id(queue) {
        let found = ctx
            .api
            .send_opt(Request::get("/api/v2/routing/queues/{queueId}").param("queueId", queue))
            .await?;
        if let Some(q) = found {
            return Ok(Some(id_of(&q, "queue")?));
        }
    }
    queues_named(ctx, queue)
        .await?
        .first()
        .map(|q| id_of(q, "queue"))
        .transpose()
}

/// Users with this email: `POST /api/v2/users/search`, or the user listing
/// where search is not served.
async fn users_by_email(ctx: &Ctx, email: &str) -> Result<Vec<Json>, ProviderError> {
    let body = json!({
        "pageSize": 25,
        "pageNumber": 1,
        "query": [{"type": "EXACT", "fields": ["email"], "value": email}],
    });
    let matches = |u: &Json| str_field(u, "email").is_some_and(|e| e.eq_ignore_ascii_case(email));
    match ctx
        .api
        // A search is a read: idempotent although a POST.
        .send(
            Request::post("/api/v2/users/search")
                .idempotent()
                .json(body),
        )
        .await
    {
        Ok(answer) => Ok(answer
            .get("results")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter(|u| matches(u))
            .cloned()
            .collect()),
        Err(e) if is_not_found(&e) => {
            let users = ctx
                .api
                .list_all(Request::get("/api/v2/users"), crate::USER_PAGE)
                .await?;
            Ok(users.into_iter().filter(|u| matches(u)).collect())
        }
        Err(e) => Err(e),
    }
}

/// The permission catalog's largest page.
const CATALOG_PAGE: u32 = 100;

/// The permission catalog's listing.
pub const PERMISSION_CATALOG: ListEndpoint = ListEndpoint {
    kind: "permission",
    path: "/api/v2/authorization/permissions",
    page_size: Some(CATALOG_PAGE),
};

/// Every permission of the catalog, `domain:entity:action`.
pub async fn permission_catalog(ctx: &Ctx) -> Result<BTreeSet<String>, ProviderError> {
    let entities = ctx
        .api
        .list_all(Request::get(PERMISSION_CATALOG.path), CATALOG_PAGE)
        .await?;
    Ok(catalog_of(&entities))
}

/// Permissions of `DomainPermissionCollection`s.
pub fn catalog_of(entities: &[Json]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for collection in entities {
        let domain = str_field(collection, "domain").or_else(|| str_field(collection, "id"));
        for (entity, perms) in collection
            .get("permissionMap")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            for p in perms.as_array().into_iter().flatten() {
                let d = str_field(p, "domain").or(domain);
                let e = str_field(p, "entityType").unwrap_or(entity);
                if let (Some(d), Some(a)) = (d, str_field(p, "action")) {
                    out.insert(format!("{d}:{e}:{a}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_flattens_permission_maps() {
        let entities = vec![json!({
            "id": "routing", "domain": "routing",
            "permissionMap": {"queue": [{"domain": "routing", "entityType": "queue", "action": "view"}, {"action": "edit"}]},
        })];
        assert_eq!(
            catalog_of(&entities),
            BTreeSet::from([
                "routing:queue:edit".to_owned(),
                "routing:queue:view".to_owned()
            ])
        );
    }
}
