//! `role_grant`: a role granted to users and groups in divisions. The
//! object id is the role id.
//!
//! Live attributes: `{role, grants = [{subject, division}]}` from
//! `GET /authorization/roles/{roleId}/subjectgrants` (paged). Desired
//! attributes: `{role, subjects, divisions}` (divisions default to the home
//! division; `*` is all divisions, passed as is).
//!
//! A role grant owns only the (subject, division) pairs it lists: create and
//! update add the missing pairs (`POST /authorization/roles/{roleId}?subjectType=`
//! with `SubjectDivisions`, one call per subject type and division set;
//! retried while the authorization service answers 404 for a role or
//! division created moments ago) and remove only pairs of `previous` that
//! are no longer desired, one grant at a time
//! (`DELETE /authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}`,
//! 404 = already gone); delete removes the pairs of `previous` only. Other grants of the role are never touched.
//! Whether a subject is a user or a group is asked of `GET /groups?id=`.

use std::collections::{BTreeMap, BTreeSet};

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::vecmap::VecMap;
use gcrecon_core::Kind;
use serde_json::{json, Value as Json};

use crate::http::{for_each_bounded, Request};
use crate::kinds::{kind_ops_from_functions, Update};
use crate::wire::{fingerprint, id_of, str_field, AttrReader};
use crate::Ctx;

const GRANTS: &str = "/api/v2/authorization/roles/{roleId}/subjectgrants";

/// Role grants: pairs of a role, owned one by one; no REST collection.
pub struct RoleGrant;

// A whole-org listing pages through the roles, then each role's grants.
kind_ops_from_functions!(RoleGrant, Kind::RoleGrant, None, Some("RoleGrant"));
const GRANT_TO_SUBJECTS: &str = "/api/v2/authorization/roles/{roleId}";
const PAGE: u32 = 100;
/// Subjects per `SubjectDivisions` request.
const SUBJECT_BATCH: usize = 100;

/// One grant of the role: (subject id, division id).
pub type Pair = (String, String);

/// The grants of a `subjectgrants` listing.
pub fn pairs_from_wire(entities: &[Json]) -> Result<BTreeSet<Pair>, ProviderError> {
    let mut pairs = BTreeSet::new();
    for e in entities {
        let subject = id_of(e, "subject grant")?;
        for d in e
            .get("divisions")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(division) = str_field(d, "id") {
                pairs.insert((subject.clone(), division.to_owned()));
            }
        }
    }
    Ok(pairs)
}

/// The live object for a role's grants.
pub fn to_live(role_id: &str, pairs: &BTreeSet<Pair>) -> LiveObject {
    let grants = pairs
        .iter()
        .map(|(subject, division)| {
            Value::Map(VecMap::from([
                ("subject".to_owned(), Value::from(subject.as_str())),
                ("division".to_owned(), Value::from(division.as_str())),
            ]))
        })
        .collect();
    let mut attrs = Attrs::new();
    attrs.insert("role".into(), Value::from(role_id));
    attrs.insert("grants".into(), Value::List(grants));
    LiveObject {
        kind: Kind::RoleGrant,
        id: GenesysId::from(role_id),
        name: role_id.to_owned(),
        version: fingerprint(&attrs),
        attrs,
        builtin: false,
    }
}

/// The pairs of attributes in either shape: live (`grants`) or desired
/// (`subjects` × `divisions`, divisions defaulting to `home`).
pub fn pairs_of(attrs: &Attrs, home: Option<&str>) -> Result<BTreeSet<Pair>, ProviderError> {
    if let Some(grants) = attrs.get("grants").and_then(Value::as_list) {
        return Ok(grants
            .iter()
            .filter_map(Value::as_map)
            .filter_map(|m| {
                Some((
                    m.get("subject")?.as_str()?.to_owned(),
                    m.get("division")?.as_str()?.to_owned(),
                ))
            })
            .collect());
    }
    let r = AttrReader::new(Kind::RoleGrant, attrs);
    let subjects = r.strings("subjects")?.unwrap_or_default();
    let divisions = match r.strings("divisions")? {
        Some(d) if !d.is_empty() => d,
        _ => vec![home
            .ok_or_else(|| {
                ProviderError::Invalid(
                    "role_grant `divisions` is empty and the home division is unknown".into(),
                )
            })?
            .to_owned()],
    };
    Ok(subjects
        .iter()
        .flat_map(|s| divisions.iter().map(move |d| (s.clone(), d.clone())))
        .collect())
}

/// Missing pairs grouped into `SubjectDivisions` requests: subjects that
/// miss the same divisions go together.
pub fn group_by_divisions(pairs: &BTreeSet<Pair>) -> Vec<(Vec<String>, Vec<String>)> {
    let mut per_subject: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (s, d) in pairs {
        per_subject.entry(s).or_default().insert(d);
    }
    let mut per_set: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (s, ds) in per_subject {
        per_set
            .entry(ds.into_iter().map(str::to_owned).collect())
            .or_default()
            .push(s.to_owned());
    }
    per_set
        .into_iter()
        .map(|(divisions, subjects)| (subjects, divisions))
        .collect()
}

/// The current grants of a role; `None` when the role is gone.
pub async fn read_pairs(ctx: &Ctx, role_id: &str) -> Result<Option<BTreeSet<Pair>>, ProviderError> {
    match ctx
        .api
        .list_all(Request::get(GRANTS).param("roleId", role_id), PAGE)
        .await
    {
        Ok(entities) => pairs_from_wire(&entities).map(Some),
        Err(e) if crate::http::is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    Ok(read_pairs(ctx, id.as_str())
        .await?
        .map(|p| to_live(id.as_str(), &p)))
}

async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    let (role_ids, complete): (Vec<String>, bool) = match scope {
        ListScope::Only { ids, .. } => (
            ids.iter()
                .map(|i| i.0.to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            false,
        ),
        ListScope::All => {
            // Every role's grants: one listing call per role.
            let roles = ctx
                .api
                .list_all(
                    Request::get(crate::role::SPEC.list),
                    crate::role::SPEC.page_size,
                )
                .await?;
            (
                roles
                    .iter()
                    .map(|r| id_of(r, "role"))
                    .collect::<Result<_, _>>()?,
                true,
            )
        }
    };
    let found = for_each_bounded(role_ids, ctx.api.concurrency(), |id| async move {
        Ok(read_pairs(ctx, &id).await?.map(|p| to_live(&id, &p)))
    })
    .await?;
    let objects = found
        .into_iter()
        .flatten()
        // A whole-org listing shows only roles granted to someone.
        .filter(|o| {
            !complete
                || o.attrs
                    .get("grants")
                    .and_then(Value::as_list)
                    .is_some_and(|g| !g.is_empty())
        })
        .collect();
    Ok(Listing { objects, complete })
}

/// The ids among `subjects` that are groups.
///
/// The group listing (`GET /api/v2/groups?id=`) lags behind creates, so a
/// group made moments ago by the same apply may be missing from it. Ids it
/// does not show are looked up in the user listing (`GET /api/v2/users?id=`;
/// gcrecon never creates users, so that listing does not lag for them), and
/// only an id found in neither is read by id as a group
/// (`GET /api/v2/groups/{groupId}`, readable at once).
async fn groups_among(
    ctx: &Ctx,
    subjects: &BTreeSet<&str>,
) -> Result<BTreeSet<String>, ProviderError> {
    let ids: Vec<String> = subjects.iter().map(|s| (*s).to_owned()).collect();
    let groups = ids_listed(
        ctx,
        crate::group::SPEC.list,
        crate::group::SPEC.page_size,
        &ids,
    )
    .await?;
    let rest: Vec<String> = ids
        .iter()
        .filter(|i| !groups.contains(*i))
        .cloned()
        .collect();
    if rest.is_empty() {
        return Ok(groups);
    }
    let users = ids_listed(ctx, "/api/v2/users", crate::USER_PAGE, &rest).await?;
    let mut groups = groups;
    for id in rest.iter().filter(|i| !users.contains(*i)) {
        let found = ctx
            .api
            .send_opt(Request::get("/api/v2/groups/{groupId}").param("groupId", id))
            .await?;
        if found.is_some() {
            groups.insert(id.clone());
        }
    }
    Ok(groups)
}

/// The ids among `ids` that an id-filtered listing shows.
async fn ids_listed(
    ctx: &Ctx,
    list: &'static str,
    page_size: u32,
    ids: &[String],
) -> Result<BTreeSet<String>, ProviderError> {
    let mut listed = BTreeSet::new();
    for chunk in ids.chunks(100) {
        let found = ctx
            .api
            .list_all(Request::get(list).query_list("id", chunk), page_size)
            .await?;
        listed.extend(
            found
                .iter()
                .filter_map(|g| str_field(g, "id"))
                .map(str::to_owned),
        );
    }
    Ok(listed)
}

/// Grant the pairs: one `SubjectDivisions` request per subject type and
/// division set.
async fn add_pairs(ctx: &Ctx, role_id: &str, pairs: &BTreeSet<Pair>) -> Result<(), ProviderError> {
    if pairs.is_empty() {
        return Ok(());
    }
    let subjects: BTreeSet<&str> = pairs.iter().map(|(s, _)| s.as_str()).collect();
    let groups = groups_among(ctx, &subjects).await?;
    let (group_pairs, user_pairs): (BTreeSet<Pair>, BTreeSet<Pair>) =
        pairs.iter().cloned().partition(|(s, _)| groups.contains(s));
    for (subject_type, pairs) in [("PC_USER", user_pairs), ("PC_GROUP", group_pairs)] {
        for (subjects, divisions) in group_by_divisions(&pairs) {
            for chunk in subjects.chunks(SUBJECT_BATCH) {
                // Idempotent in effect: grants are a set; granting a pair
                // held already is a no-op.
                let request = Request::post(GRANT_TO_SUBJECTS)
                    .idempotent()
                    .param("roleId", role_id)
                    .query("subjectType", subject_type)
                    .json(json!({"subjectIds": chunk, "divisionIds": divisions}));
                // 404 while the authorization service does not know a role
                // or division created moments ago.
                crate::retry::while_authz_lags(|| ctx.api.send(request.clone())).await?;
            }
        }
    }
    Ok(())
}

/// Remove the pairs, one grant at a time
/// (`DELETE .../subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}`;
/// a 404 means already gone). `bulkremove` is not used: it fails whole when
/// any role or division it names no longer exists.
async fn remove_pairs(
    ctx: &Ctx,
    role_id: &str,
    pairs: &BTreeSet<Pair>,
) -> Result<(), ProviderError> {
    for_each_bounded(
        pairs.iter().cloned().collect::<Vec<Pair>>(),
        ctx.api.concurrency(),
        |(subject, division)| async move {
            let grant = gcrecon_core::provider::RoleDivision {
                role_id: GenesysId::from(role_id),
                division_id: GenesysId::from(division),
            };
            crate::caller::revoke_one(ctx, &subject, &grant).await
        },
    )
    .await?;
    Ok(())
}

async fn home_for(ctx: &Ctx, attrs: &Attrs) -> Result<Option<String>, ProviderError> {
    let needs_home = !attrs.contains_key("grants")
        && AttrReader::new(Kind::RoleGrant, attrs)
            .strings("divisions")?
            .is_none_or(|d| d.is_empty());
    if needs_home {
        Ok(Some(ctx.home_division().await?.0.to_string()))
    } else {
        Ok(None)
    }
}

fn role_of(attrs: &Attrs) -> Result<String, ProviderError> {
    AttrReader::new(Kind::RoleGrant, attrs).required_string("role")
}

async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let role_id = role_of(desired)?;
    let wanted = pairs_of(desired, home_for(ctx, desired).await?.as_deref())?;
    let current = read_pairs(ctx, &role_id)
        .await?
        .ok_or_else(|| ProviderError::NotFound {
            kind: Kind::Role,
            id: GenesysId::from(role_id.as_str()),
        })?;
    let missing: BTreeSet<Pair> = wanted.difference(&current).cloned().collect();
    add_pairs(ctx, &role_id, &missing).await?;
    let now: BTreeSet<Pair> = current.union(&missing).cloned().collect();
    Ok(Created {
        object: to_live(&role_id, &now),
        secret: None,
    })
}

async fn update(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let (live, previous, desired) = (update.live, update.previous, update.desired);
    let role_id = role_of(desired)?;
    if role_id != live.id.as_str() {
        return Err(ProviderError::Invalid(format!(
            "role_grant cannot move from role {} to {role_id}; it must be replaced",
            live.id
        )));
    }
    let wanted = pairs_of(desired, home_for(ctx, desired).await?.as_deref())?;
    let current = pairs_of(&live.attrs, None)?;
    let previous = match previous {
        Some(p) => pairs_of(p, home_for(ctx, p).await?.as_deref())?,
        None => BTreeSet::new(),
    };
    let missing: BTreeSet<Pair> = wanted.difference(&current).cloned().collect();
    let stale: BTreeSet<Pair> = previous
        .difference(&wanted)
        .filter(|p| current.contains(*p))
        .cloned()
        .collect();
    add_pairs(ctx, &role_id, &missing).await?;
    remove_pairs(ctx, &role_id, &stale).await?;
    let now: BTreeSet<Pair> = current
        .union(&missing)
        .filter(|p| !stale.contains(*p))
        .cloned()
        .collect();
    Ok(to_live(&role_id, &now))
}

async fn delete(ctx: &Ctx, id: &GenesysId, previous: Option<&Attrs>) -> Result<(), ProviderError> {
    let Some(previous) = previous else {
        tracing::warn!(role = %id, "role_grant deleted without a record of what it granted; no grant removed");
        return Ok(());
    };
    let owned = pairs_of(previous, home_for(ctx, previous).await?.as_deref())?;
    let Some(current) = read_pairs(ctx, id.as_str()).await? else {
        return Ok(()); // The role is gone, and its grants with it.
    };
    let remove: BTreeSet<Pair> = owned.intersection(&current).cloned().collect();
    remove_pairs(ctx, id.as_str(), &remove).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(s: &str, d: &str) -> Pair {
        (s.to_owned(), d.to_owned())
    }

    #[test]
    fn wire_grants_to_pairs_and_live() {
        let entities = vec![
            json!({"id": "u1", "type": "PC_USER", "divisions": [{"id": "d1"}, {"id": "*"}]}),
            json!({"id": "g1", "type": "PC_GROUP", "divisions": [{"id": "d1"}]}),
        ];
        let pairs = pairs_from_wire(&entities).unwrap();
        assert_eq!(
            pairs,
            BTreeSet::from([pair("g1", "d1"), pair("u1", "*"), pair("u1", "d1")])
        );
        let live = to_live("r1", &pairs);
        assert_eq!(pairs_of(&live.attrs, None).unwrap(), pairs);
    }

    #[test]
    fn desired_pairs_are_the_product_with_home_by_default() {
        let mut attrs = Attrs::new();
        attrs.insert("role".into(), Value::from("r1"));
        attrs.insert("subjects".into(), Value::strings(["u1", "u2"]));
        assert_eq!(
            pairs_of(&attrs, Some("home")).unwrap(),
            BTreeSet::from([pair("u1", "home"), pair("u2", "home")])
        );
        assert!(pairs_of(&attrs, None).is_err());
        attrs.insert("divisions".into(), Value::strings(["*", "d2"]));
        assert_eq!(pairs_of(&attrs, None).unwrap().len(), 4);
    }

    #[test]
    fn requests_group_subjects_missing_the_same_divisions() {
        let missing = BTreeSet::from([
            pair("u1", "d1"),
            pair("u2", "d1"),
            pair("u3", "d1"),
            pair("u3", "d2"),
        ]);
        assert_eq!(
            group_by_divisions(&missing),
            vec![
                (
                    vec!["u1".to_owned(), "u2".to_owned()],
                    vec!["d1".to_owned()]
                ),
                (
                    vec!["u3".to_owned()],
                    vec!["d1".to_owned(), "d2".to_owned()]
                ),
            ]
        );
    }
}
