//! `group`: groups, their owners and (when managed) their members.
//!
//! | manifest | wire (`Group` / `GroupCreate` / `GroupUpdate`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//! | `type` | `type` (create only; `GroupUpdate` has no `type`) |
//! | `visibility` | `visibility` |
//! | `rules_visible` | `rulesVisible` |
//! | `roles_enabled` | `rolesEnabled` |
//! | `owners` | `owners[].id` ⇄ `ownerIds` |
//! | `members` | `GET /groups/{id}/members` ⇄ `POST .../members {memberIds, version}` (≤ 50 per call), `DELETE .../members?ids=` |
//!
//! Members are not part of the group object: they cost one paged call per
//! group. They are read only for groups that have members (`memberCount`,
//! so the many empty groups of an org cost nothing), and not at all when the
//! engine says the manifest does not manage `members`
//! (`Provider::manage_keys`): a refresh must not pay a
//! call per group for a collection nobody manages. A live object without a
//! `members` key means "not read", never "no members".

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::http::{BodyError, Page, Request, WireEntity};
use crate::kinds::{kind_ops_from_functions, RestKind, Update};
use crate::listing::{ListSpec, NameLookup};
use crate::retry;
use crate::wire::{
    fingerprint, id_of, is_deleted_state, live_head, malformed, str_field, string_set, typed,
    AttrReader,
};
use crate::Ctx;

pub const SPEC: ListSpec = ListSpec {
    what: "group",
    list: "/api/v2/groups",
    page_size: 500,
    id_filter: Some(("id", 100)),
    by_id: Some((ONE, "groupId")),
    extra_query: &[],
    names: NameLookup::GroupSearch,
};

const ONE: &str = "/api/v2/groups/{groupId}";
const MEMBERS: &str = "/api/v2/groups/{groupId}/members";
/// `GroupMembersUpdate` takes at most 50 ids.
pub const MEMBER_BATCH: usize = 50;
const MEMBER_PAGE: u32 = 100;

static REST: RestKind = RestKind {
    kind: Kind::Group,
    audit_entity: Some("Group"),
    listing: SPEC,
    to_live: |wire| to_live(wire, None),
    page: Some(page),
    to_wire: to_create,
};

/// Groups: members cost calls of their own, and `POST /groups` drops the
/// description; only delete is the REST default.
pub struct Group;

kind_ops_from_functions!(Group, Kind::Group, REST.endpoint(), REST.audit_entity);

/// What the mapping reads of a `Group`; a listing's pages are read
/// straight into it, other fields skipped unparsed.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    visibility: Option<Cow<'a, str>>,
    #[serde(rename = "rulesVisible")]
    rules_visible: Option<bool>,
    #[serde(rename = "rolesEnabled")]
    roles_enabled: Option<bool>,
    #[serde(borrow)]
    owners: Option<Vec<IdWire<'a>>>,
    version: Option<i64>,
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
}

/// An entity reference (`owners[]`): only its `id` is read.
#[derive(Deserialize)]
struct IdWire<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

impl WireEntity for Wire<'_> {
    fn is_deleted(&self) -> bool {
        is_deleted_state(self.state.as_deref())
    }
}

impl Wire<'_> {
    fn live(self, members: Option<Vec<String>>) -> Result<LiveObject, ProviderError> {
        let (id, name, mut attrs) = live_head(
            "group",
            self.id.as_deref(),
            self.name.as_deref(),
            self.description.as_deref(),
        )?;
        for (key, value) in [("type", &self.kind), ("visibility", &self.visibility)] {
            if let Some(v) = value {
                attrs.insert(key.into(), Value::from(&**v));
            }
        }
        for (key, value) in [
            ("rules_visible", self.rules_visible),
            ("roles_enabled", self.roles_enabled),
        ] {
            if let Some(v) = value {
                attrs.insert(key.into(), Value::Bool(v));
            }
        }
        let owners = self.owners.iter().flatten().filter_map(|o| o.id.as_deref());
        attrs.insert("owners".into(), string_set(owners.map(str::to_owned)));
        if let Some(members) = members {
            attrs.insert("members".into(), string_set(members));
        }
        let version = match self.version {
            Some(v) => format!("{v}-{}", fingerprint(&attrs)),
            None => fingerprint(&attrs),
        };
        Ok(LiveObject {
            kind: Kind::Group,
            id,
            name,
            version,
            attrs,
            builtin: false,
        })
    }
}

/// A page of the group listing, straight from its body (members not read).
fn page(bytes: &[u8], page_size: u32) -> Result<Page<LiveObject>, BodyError> {
    Page::from_slice(bytes, page_size, |w: Wire<'_>| w.live(None))
}

/// Wire → live object; `members` when they were read.
pub fn to_live(json: &Json, members: Option<Vec<String>>) -> Result<LiveObject, ProviderError> {
    typed::<Wire<'_>>(json, "group")?.live(members)
}

/// Manifest attributes → `GroupCreate`.
pub fn to_create(desired: &Attrs) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::Group, desired);
    let mut body = Map::new();
    body.insert("name".into(), json!(r.required_string("name")?));
    if let Some(d) = r.string("description")? {
        body.insert("description".into(), json!(d));
    }
    // The service requires type, visibility and rulesVisible on create.
    body.insert(
        "type".into(),
        json!(r.string("type")?.unwrap_or_else(|| "official".into())),
    );
    body.insert(
        "visibility".into(),
        json!(r.string("visibility")?.unwrap_or_else(|| "public".into())),
    );
    body.insert(
        "rulesVisible".into(),
        json!(r.bool("rules_visible")?.unwrap_or(true)),
    );
    if let Some(v) = r.bool("roles_enabled")? {
        body.insert("rolesEnabled".into(), json!(v));
    }
    if let Some(owners) = r.strings("owners")? {
        body.insert("ownerIds".into(), json!(owners));
    }
    Ok(Json::Object(body))
}

/// Live attributes overlaid with the desired ones → `GroupUpdate` (a PUT
/// replaces the group, so unmanaged fields keep their live values).
pub fn to_update(live: &Attrs, desired: &Attrs, version: i64) -> Result<Json, ProviderError> {
    let mut merged = live.clone();
    merged.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
    let r = AttrReader::new(Kind::Group, &merged);
    let mut body = Map::new();
    body.insert("name".into(), json!(r.required_string("name")?));
    body.insert("version".into(), json!(version));
    if let Some(d) = r.string("description")? {
        body.insert("description".into(), json!(d));
    }
    // `GroupUpdate.visibility` has no `owners`: a live `owners` is left out
    // unless the manifest sets one.
    if let Some(v) = r
        .string("visibility")?
        .filter(|v| desired.contains_key("visibility") || v != "owners")
    {
        body.insert("visibility".into(), json!(v));
    }
    if let Some(v) = r.bool("rules_visible")? {
        body.insert("rulesVisible".into(), json!(v));
    }
    if let Some(v) = r.bool("roles_enabled")? {
        body.insert("rolesEnabled".into(), json!(v));
    }
    // Owners only when managed: a listing may not show every owner, and
    // sending a stale list would replace them.
    if let Some(owners) = AttrReader::new(Kind::Group, desired).strings("owners")? {
        body.insert("ownerIds".into(), json!(owners));
    }
    Ok(Json::Object(body))
}

/// Keys of the group object itself (not its members): a change to one
/// of them is a `PUT` of the group.
const GROUP_FIELDS: [&str; 6] = [
    "name",
    "description",
    "visibility",
    "rules_visible",
    "roles_enabled",
    "owners",
];

/// True when the plan changed the group object itself.
fn group_fields_changed(update: &Update<'_>) -> bool {
    GROUP_FIELDS.iter().any(|k| update.changed(k))
}

/// The member ids of a group.
pub async fn read_members(ctx: &Ctx, id: &str) -> Result<Vec<String>, ProviderError> {
    let entities = ctx
        .api
        .list_all(Request::get(MEMBERS).param("groupId", id), MEMBER_PAGE)
        .await?;
    entities.iter().map(|m| id_of(m, "group member")).collect()
}

/// Whether members are read: unless the manifest does not manage them.
fn members_wanted(ctx: &Ctx) -> bool {
    ctx.managed_key(Kind::Group, "members") != Some(false)
}

async fn with_members(ctx: &Ctx, wire: &Json) -> Result<LiveObject, ProviderError> {
    // An empty group needs no members call.
    let members = if wire.get("memberCount").and_then(Json::as_u64) == Some(0) {
        Vec::new()
    } else {
        read_members(ctx, &id_of(wire, "group")?).await?
    };
    to_live(wire, Some(members))
}

async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    REST.list_detailed(ctx, scope, members_wanted(ctx), |w| async move {
        with_members(ctx, &w).await
    })
    .await
}

async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    let Some(wire) = ctx
        .api
        .send_opt(Request::get(ONE).param("groupId", id.as_str()))
        .await?
    else {
        return Ok(None);
    };
    if !members_wanted(ctx) {
        return to_live(&wire, None).map(Some);
    }
    with_members(ctx, &wire).await.map(Some)
}

async fn read_version(ctx: &Ctx, id: &str) -> Result<i64, ProviderError> {
    let wire = ctx
        .api
        .send(Request::get(ONE).param("groupId", id))
        .await
        .map_err(|e| ctx.gone(e, Kind::Group, &GenesysId::from(id)))?;
    wire.get("version")
        .and_then(Json::as_i64)
        .ok_or_else(|| malformed("a group without `version`"))
}

/// Add members in batches of 50, each with the group's current version.
/// Each change moves the version by one, so the next batch expects the
/// version after this one; a 409 (someone else changed the group) reads it
/// again and retries once.
async fn add_members(
    ctx: &Ctx,
    id: &str,
    add: &[String],
    mut version: Option<i64>,
) -> Result<(), ProviderError> {
    for chunk in add.chunks(MEMBER_BATCH) {
        let first = AtomicBool::new(true);
        let used = AtomicI64::new(0);
        let (first, used, known) = (&first, &used, version);
        retry::on_conflict(move || async move {
            let v = match (first.swap(false, Ordering::SeqCst), known) {
                (true, Some(v)) => v,
                _ => read_version(ctx, id).await?,
            };
            used.store(v, Ordering::SeqCst);
            let body = json!({"memberIds": chunk, "version": v});
            // Idempotent in effect: members are a set, and a resend after a
            // lost answer carries a stale version, so it is refused with a
            // 409 and `on_conflict` re-reads the version and adds again.
            ctx.api
                .send(
                    Request::post(MEMBERS)
                        .param("groupId", id)
                        .idempotent()
                        .json(body),
                )
                .await
        })
        .await?;
        version = Some(used.load(Ordering::SeqCst) + 1);
    }
    Ok(())
}

async fn remove_members(ctx: &Ctx, id: &str, remove: &[String]) -> Result<(), ProviderError> {
    for chunk in remove.chunks(MEMBER_BATCH) {
        ctx.api
            .send(
                Request::delete(MEMBERS)
                    .param("groupId", id)
                    .query_list("ids", chunk),
            )
            .await?;
    }
    Ok(())
}

async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let r = AttrReader::new(Kind::Group, desired);
    let members = r.strings("members")?;
    // A POST; after a lost answer the group is looked up by name (one
    // `POST /groups/search`) before it is sent again. A found group carries
    // its current `version`, which the member adds below start from.
    let wire = REST.post(ctx, to_create(desired)?).await?;
    let id = id_of(&wire, "group")?;
    let wire = set_description(ctx, &id, wire, desired).await?;
    let Some(members) = members else {
        return Ok(Created {
            object: to_live(&wire, None)?,
            secret: None,
        });
    };
    let members: Vec<String> = members
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !members.is_empty() {
        add_members(
            ctx,
            &id,
            &members,
            wire.get("version").and_then(Json::as_i64),
        )
        .await?;
    }
    let wire = if members.is_empty() {
        wire
    } else {
        ctx.api
            .send(Request::get(ONE).param("groupId", &id))
            .await?
    };
    Ok(Created {
        object: to_live(&wire, Some(members))?,
        secret: None,
    })
}

/// `POST /groups` drops `description`: a group just created (or found by
/// name after a lost answer) whose description differs from the manifest's
/// gets it with a `PUT` at the version it has. Answers the group as it is
/// after that.
///
/// A version conflict reads the group again: when the description is there
/// already (a resent PUT whose first answer was lost had applied it), that
/// is the answer; otherwise the PUT is sent at the version read, up to
/// [`DESCRIPTION_ATTEMPTS`] times.
async fn set_description(
    ctx: &Ctx,
    id: &str,
    created: Json,
    desired: &Attrs,
) -> Result<Json, ProviderError> {
    let Some(wanted) = AttrReader::new(Kind::Group, desired).string("description")? else {
        return Ok(created);
    };
    let mut current = created;
    let mut attempt = 0;
    loop {
        if str_field(&current, "description") == Some(wanted.as_str()) {
            return Ok(current);
        }
        attempt += 1;
        let version = current
            .get("version")
            .and_then(Json::as_i64)
            .ok_or_else(|| malformed("a group without `version`"))?;
        let attrs = to_live(&current, None)?.attrs;
        let put = Request::put(ONE)
            .param("groupId", id)
            .json(to_update(&attrs, desired, version)?);
        match ctx.api.send(put).await {
            Err(e) if retry::is_conflict(&e) && attempt < DESCRIPTION_ATTEMPTS => {
                current = ctx
                    .api
                    .send(Request::get(ONE).param("groupId", id))
                    .await
                    .map_err(|e| ctx.gone(e, Kind::Group, &GenesysId::from(id)))?;
            }
            other => return other,
        }
    }
}

/// PUTs [`set_description`] sends at most.
const DESCRIPTION_ATTEMPTS: u32 = 4;

/// The version number of a live group (`3` of `3-<fingerprint>`).
fn live_version(live: &LiveObject) -> Option<i64> {
    live.version.split('-').next().and_then(|v| v.parse().ok())
}

/// `PUT` the group at its known version; a 409 reads the version again.
async fn put_group(ctx: &Ctx, update: Update<'_>) -> Result<Json, ProviderError> {
    let (live, desired) = (update.live, update.desired);
    let id = live.id.as_str();
    let first = AtomicBool::new(true);
    let known = live_version(live);
    let first = &first;
    retry::on_conflict(move || async move {
        let v = match (first.swap(false, Ordering::SeqCst), known) {
            (true, Some(v)) => v,
            _ => read_version(ctx, id).await?,
        };
        ctx.api
            .send(
                Request::put(ONE)
                    .param("groupId", id)
                    .json(to_update(&live.attrs, desired, v)?),
            )
            .await
    })
    .await
    .map_err(|e| ctx.gone(e, Kind::Group, &live.id))
}

/// Make the members `wanted`: remove the extra ones, then add the missing
/// ones, starting from `version` (a removal batch moves it by one).
/// Answers whether any call was made.
async fn change_members(
    ctx: &Ctx,
    live: &LiveObject,
    wanted: &BTreeSet<String>,
    mut version: Option<i64>,
) -> Result<bool, ProviderError> {
    let id = live.id.as_str();
    let current: BTreeSet<String> = match live.attrs.get("members").and_then(Value::as_list) {
        Some(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => read_members(ctx, id).await?.into_iter().collect(),
    };
    let add: Vec<String> = wanted.difference(&current).cloned().collect();
    let remove: Vec<String> = current.difference(wanted).cloned().collect();
    if !remove.is_empty() {
        remove_members(ctx, id, &remove).await?;
        version = version.map(|v| v + remove.len().div_ceil(MEMBER_BATCH) as i64);
    }
    if !add.is_empty() {
        add_members(ctx, id, &add, version).await?;
    }
    Ok(!add.is_empty() || !remove.is_empty())
}

/// `PUT` the group when one of its own fields changed, and add or remove
/// members when `members` changed; nothing else is sent.
async fn update(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let live = update.live;
    let mut latest: Option<Json> = None;
    if group_fields_changed(&update) {
        latest = Some(put_group(ctx, update).await?);
    }
    let wanted = AttrReader::new(Kind::Group, update.desired).strings("members")?;
    let members_now: Option<Vec<String>> = match wanted {
        Some(wanted) => {
            let wanted: BTreeSet<String> = wanted.into_iter().collect();
            if update.changed("members") {
                let version = latest
                    .as_ref()
                    .and_then(|w| w.get("version"))
                    .and_then(Json::as_i64)
                    .or_else(|| live_version(live));
                if change_members(ctx, live, &wanted, version).await? {
                    latest = None;
                }
            }
            Some(wanted.into_iter().collect())
        }
        None => live.attrs.get("members").and_then(Value::as_list).map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        }),
    };
    let wire = match latest {
        Some(w) => w,
        None => ctx
            .api
            .send(Request::get(ONE).param("groupId", live.id.as_str()))
            .await
            .map_err(|e| ctx.gone(e, Kind::Group, &live.id))?,
    };
    to_live(&wire, members_now)
}

/// A `DELETE` by id, as for every REST kind.
async fn delete(ctx: &Ctx, id: &GenesysId, _previous: Option<&Attrs>) -> Result<(), ProviderError> {
    REST.delete(ctx, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_typed_as_their_json_reads() {
        crate::kinds::assert_page_reads_as_json(
            &REST,
            &[
                json!({"id": "g1", "name": "Ops \"A\"", "description": "x", "type": "official",
                       "visibility": "members", "rulesVisible": false, "rolesEnabled": true,
                       "owners": [{"id": "u2", "selfUri": "/u2"}, {"id": "u1"}, {"name": "no id"}],
                       "version": 4, "memberCount": 2, "state": "active",
                       "dateModified": "2026-01-01T00:00:00Z", "selfUri": "/g1"}),
                json!({"id": "g2", "name": "gone", "state": "deleted"}),
                json!({"id": "g3", "name": "bare", "owners": null}),
            ],
        );
    }

    fn wire() -> Json {
        json!({
            "id": "g1", "name": "Supervisors", "description": "d", "type": "official",
            "visibility": "public", "rulesVisible": true, "rolesEnabled": false, "version": 3,
            "memberCount": 2, "owners": [{"id": "u2"}, {"id": "u1"}],
        })
    }

    #[test]
    fn mapping_round_trip() {
        let live = to_live(&wire(), Some(vec!["u9".into(), "u3".into()])).unwrap();
        assert_eq!(live.attrs["owners"], Value::strings(["u1", "u2"]));
        assert_eq!(live.attrs["members"], Value::strings(["u3", "u9"]));
        assert_eq!(live.attrs["rules_visible"], Value::Bool(true));
        assert!(live.version.starts_with("3-"));
        let create = to_create(&live.attrs).unwrap();
        assert_eq!(
            create,
            json!({"name": "Supervisors", "description": "d", "type": "official", "visibility": "public",
                   "rulesVisible": true, "rolesEnabled": false, "ownerIds": ["u1", "u2"]})
        );
        let mut desired = Attrs::new();
        desired.insert("name".into(), Value::from("Leads"));
        let update = to_update(&live.attrs, &desired, 3).unwrap();
        assert_eq!(update["name"], json!("Leads"));
        assert_eq!(update["version"], json!(3));
        assert_eq!(update["visibility"], json!("public"));
        assert!(update.get("type").is_none() && update.get("members").is_none());
        // Members are not read: the key is absent.
        assert!(!to_live(&wire(), None)
            .unwrap()
            .attrs
            .contains_key("members"));
    }

    #[test]
    fn only_group_fields_trigger_a_put() {
        let live = to_live(&wire(), Some(vec![])).unwrap();
        let desired = Attrs::new();
        let update = |changed: &[String]| -> bool {
            group_fields_changed(&Update {
                live: &live,
                previous: None,
                desired: &desired,
                changed,
            })
        };
        assert!(!update(&["members".to_owned()]));
        assert!(!update(&[]));
        assert!(update(&["members".to_owned(), "owners".to_owned()]));
        assert!(update(&["rules_visible".to_owned()]));
    }
}
