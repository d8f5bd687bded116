//! Refresh with the fewest calls: every page of a listing, or only the
//! managed objects (id-filtered batches or by-id reads, plus name lookups),
//! whichever costs fewer requests.
//!
//! For `ListScope::Only` the first page is fetched at the largest page size
//! only when the targeted way would take more than [`PROBE_ABOVE`] calls:
//! its `total` says what the full listing costs, and a small org is then
//! done in that one call. (Below that, probing could save at most one call
//! and would cost one more in a large org.) A 10-object manifest in an org of 10,000 objects refreshes with
//! one id-filtered call per kind (plus one per name looked up); 10,000
//! managed objects take one call per page of 100.
//!
//! "Gone" is decided only by the service: an id missing from a listing is
//! read by id to confirm (a listing may lag behind a create), and only a 404
//! there makes it gone.

use std::collections::BTreeSet;

use gcrecon_core::provider::{ListScope, Listing, LiveObject, ProviderError};
use serde_json::{json, Value as Json};

use crate::http::{for_each_bounded, json_page, Api, PageReader, Request};
use crate::wire::str_field;

/// Targeted reads of at most this many calls are made without first
/// reading a page to learn the listing's size.
pub const PROBE_ABOVE: u64 = 2;

/// How a kind finds objects by name.
#[derive(Clone, Copy, Debug)]
pub enum NameLookup {
    /// A query parameter of the listing filters by name (exact match is
    /// checked on our side, as some filters match substrings).
    Query(&'static str),
    /// `POST /api/v2/groups/search` with an exact name criterion.
    GroupSearch,
    /// No way but the full listing.
    None,
}

/// How a kind is listed.
#[derive(Clone, Copy, Debug)]
pub struct ListSpec {
    /// For messages (`role`).
    pub what: &'static str,
    /// The listing's path template.
    pub list: &'static str,
    /// The largest page size the listing accepts.
    pub page_size: u32,
    /// The listing's id filter parameter and how many ids one call may carry.
    pub id_filter: Option<(&'static str, usize)>,
    /// The by-id read: path template and its parameter name.
    pub by_id: Option<(&'static str, &'static str)>,
    pub names: NameLookup,
    /// Query parameters of every listing and by-id read (`expand`).
    pub extra_query: &'static [(&'static str, &'static str)],
}

impl ListSpec {
    /// The listing request.
    pub fn list_request(&self) -> Request {
        self.extra_query
            .iter()
            .fold(Request::get(self.list), |r, (k, v)| r.query(k, v))
    }

    /// The by-id request for `id`, if the kind has one.
    pub fn read_request(&self, id: &str) -> Option<Request> {
        let (template, param) = self.by_id?;
        Some(
            self.extra_query
                .iter()
                .fold(Request::get(template).param(param, id), |r, (k, v)| {
                    r.query(k, v)
                }),
        )
    }
}

/// The objects a listing found: wire JSON, or decoded as each page came.
#[derive(Debug)]
pub struct Found<T = Json> {
    pub entities: Vec<T>,
    /// Every object of the kind (the full listing was read and returned).
    pub complete: bool,
}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Found {
            entities: Vec::new(),
            complete: false,
        }
    }
}

impl Found<LiveObject> {
    /// The [`Listing`] of these objects.
    pub fn into_listing(self) -> Listing {
        Listing {
            objects: self.entities,
            complete: self.complete,
        }
    }
}

/// What the filter of a listing reads of an object, wire JSON or decoded.
pub trait Listed {
    fn listed_id(&self) -> Option<&str>;
    fn listed_name(&self) -> Option<&str>;
}

impl Listed for Json {
    fn listed_id(&self) -> Option<&str> {
        str_field(self, "id")
    }
    fn listed_name(&self) -> Option<&str> {
        str_field(self, "name")
    }
}

impl Listed for LiveObject {
    fn listed_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
    fn listed_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// How a listing's objects are decoded: pages straight from their bodies,
/// and the objects read one at a time (by id, by name) from their JSON.
#[derive(Clone, Copy)]
pub struct Decode<'a, T> {
    /// A wire object read on its own.
    pub one: &'a (dyn Fn(Json) -> Result<T, ProviderError> + Sync),
    /// A page of the listing, from its body.
    pub page: &'a PageReader<'a, T>,
}

impl Decode<'static, Json> {
    /// Keep the wire JSON.
    pub fn wire() -> Self {
        Decode {
            one: &Ok,
            page: &json_page,
        }
    }
}

/// The number of calls the targeted way takes, if there is one.
pub fn targeted_cost(spec: &ListSpec, ids: usize, names: usize) -> Option<u64> {
    let id_cost = match (spec.id_filter, spec.by_id) {
        _ if ids == 0 => 0,
        (Some((_, batch)), _) => ids.div_ceil(batch.max(1)) as u64,
        (None, Some(_)) => ids as u64,
        (None, None) => return None,
    };
    let name_cost = match spec.names {
        _ if names == 0 => 0,
        NameLookup::Query(_) | NameLookup::GroupSearch => names as u64,
        NameLookup::None => return None,
    };
    Some(id_cost + name_cost)
}

/// Fetch the objects a scope asks for, each decoded by `decode` as its
/// page arrives ([`Decode::wire`] keeps the wire JSON).
pub async fn fetch<T>(
    api: &Api,
    spec: &ListSpec,
    scope: ListScope<'_>,
    decode: Decode<'_, T>,
) -> Result<Found<T>, ProviderError>
where
    T: Listed + Send,
{
    let (ids, names) = match scope {
        ListScope::All => {
            let entities = api
                .list_all_as(spec.list_request(), spec.page_size, decode.page)
                .await?;
            return Ok(Found {
                entities,
                complete: true,
            });
        }
        ListScope::Only { ids, names } => (ids, names),
    };
    let ids: Vec<String> = ids
        .iter()
        .map(|i| i.0.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names: Vec<String> = names
        .iter()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() && names.is_empty() {
        return Ok(Found::default());
    }
    let targeted = targeted_cost(spec, ids.len(), names.len());
    let mut entities = match targeted {
        Some(cost) if cost <= PROBE_ABOVE => {
            decode_all(fetch_targeted(api, spec, &ids, &names).await?, decode.one)?
        }
        _ => {
            let first = api
                .first_page_as(spec.list_request(), spec.page_size, decode.page)
                .await?;
            let remaining = first.page_count.unwrap_or(u64::MAX).saturating_sub(1);
            tracing::debug!(kind = spec.what, total = first.total, "first page read");
            match targeted {
                Some(cost) if cost < remaining => {
                    tracing::debug!(
                        kind = spec.what,
                        cost,
                        remaining,
                        "reading managed objects only"
                    );
                    let mut found =
                        decode_all(fetch_targeted(api, spec, &ids, &names).await?, decode.one)?;
                    found.extend(first.entities);
                    found
                }
                _ => {
                    tracing::debug!(kind = spec.what, remaining, "reading every page");
                    api.rest_pages(spec.list_request(), spec.page_size, first, decode.page)
                        .await?
                }
            }
        }
    };
    // Keep what was asked for, once each.
    let wanted_ids: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let wanted_names: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut seen = BTreeSet::new();
    entities.retain(|e| {
        let Some(id) = e.listed_id() else {
            return false;
        };
        let wanted =
            wanted_ids.contains(id) || e.listed_name().is_some_and(|n| wanted_names.contains(n));
        wanted && seen.insert(id.to_owned())
    });
    // Ids the listing did not show: read each by id; only a 404 is "gone".
    let missing: Vec<String> = ids
        .iter()
        .filter(|i| !seen.contains(i.as_str()))
        .cloned()
        .collect();
    if spec.by_id.is_some() {
        let confirmed = for_each_bounded(missing, api.concurrency(), |id| async move {
            match spec.read_request(&id) {
                Some(request) => api.send_opt(request).await,
                None => Ok(None),
            }
        })
        .await?;
        entities.extend(decode_all(confirmed.into_iter().flatten(), decode.one)?);
    }
    Ok(Found {
        entities,
        complete: false,
    })
}

fn decode_all<T>(
    wire: impl IntoIterator<Item = Json>,
    decode: impl Fn(Json) -> Result<T, ProviderError>,
) -> Result<Vec<T>, ProviderError> {
    wire.into_iter().map(decode).collect()
}

/// The managed objects by id batches (or by-id reads) and name lookups.
async fn fetch_targeted(
    api: &Api,
    spec: &ListSpec,
    ids: &[String],
    names: &[String],
) -> Result<Vec<Json>, ProviderError> {
    let mut out = Vec::new();
    if !ids.is_empty() {
        match (spec.id_filter, spec.by_id) {
            (Some((param, batch)), _) => {
                let chunks: Vec<Vec<String>> =
                    ids.chunks(batch.max(1)).map(<[String]>::to_vec).collect();
                let pages = for_each_bounded(chunks, api.concurrency(), |chunk| async move {
                    api.list_all(
                        spec.list_request().query_list(param, &chunk),
                        spec.page_size,
                    )
                    .await
                })
                .await?;
                out.extend(pages.into_iter().flatten());
            }
            (None, Some(_)) => {
                let found = for_each_bounded(ids.to_vec(), api.concurrency(), |id| async move {
                    match spec.read_request(&id) {
                        Some(request) => api.send_opt(request).await,
                        None => Ok(None),
                    }
                })
                .await?;
                out.extend(found.into_iter().flatten());
            }
            (None, None) => {
                return Err(ProviderError::Invalid(format!(
                    "{} cannot be read by id",
                    spec.what
                )))
            }
        }
    }
    if !names.is_empty() {
        let found = for_each_bounded(names.to_vec(), api.concurrency(), |name| async move {
            find_by_name(api, spec, &name).await
        })
        .await?;
        out.extend(found.into_iter().flatten());
    }
    Ok(out)
}

/// Objects with exactly this name.
pub async fn find_by_name(
    api: &Api,
    spec: &ListSpec,
    name: &str,
) -> Result<Vec<Json>, ProviderError> {
    let candidates = match spec.names {
        NameLookup::Query(param) => {
            api.list_all(spec.list_request().query(param, name), spec.page_size)
                .await?
        }
        NameLookup::GroupSearch => search_groups_by_name(api, name).await?,
        NameLookup::None => api.list_all(spec.list_request(), spec.page_size).await?,
    };
    Ok(candidates
        .into_iter()
        .filter(|e| str_field(e, "name") == Some(name))
        .collect())
}

/// Groups named exactly `name`, by `POST /api/v2/groups/search`.
pub async fn search_groups_by_name(api: &Api, name: &str) -> Result<Vec<Json>, ProviderError> {
    let mut out = Vec::new();
    let mut page = 1u64;
    loop {
        let body = json!({
            "pageSize": 100,
            "pageNumber": page,
            "query": [{"type": "EXACT", "fields": ["name"], "value": name}],
        });
        // A search is a read: idempotent although a POST.
        let answer = api
            .send(
                Request::post("/api/v2/groups/search")
                    .idempotent()
                    .json(body),
            )
            .await?;
        let results = answer
            .get("results")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let count = results.len();
        out.extend(results);
        let page_count = answer.get("pageCount").and_then(Json::as_u64).unwrap_or(1);
        if count == 0 || page >= page_count {
            break;
        }
        page += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: ListSpec = ListSpec {
        what: "role",
        list: "/api/v2/authorization/roles",
        page_size: 100,
        id_filter: Some(("id", 100)),
        by_id: Some(("/api/v2/authorization/roles/{roleId}", "roleId")),
        names: NameLookup::Query("name"),
        extra_query: &[],
    };

    #[test]
    fn targeted_cost_counts_batches_and_names() {
        assert_eq!(targeted_cost(&ROLES, 10, 0), Some(1));
        assert_eq!(targeted_cost(&ROLES, 250, 2), Some(5));
        let clients = ListSpec {
            id_filter: None,
            by_id: None,
            names: NameLookup::None,
            ..ROLES
        };
        assert_eq!(targeted_cost(&clients, 1, 0), None);
        assert_eq!(targeted_cost(&clients, 0, 0), Some(0));
        let by_id = ListSpec {
            id_filter: None,
            ..ROLES
        };
        assert_eq!(targeted_cost(&by_id, 7, 1), Some(8));
    }
}
