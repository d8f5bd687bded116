//! `/api/v2/authorization/...` and `/api/v2/users/{subjectId}/roles`:
//! divisions, the permission catalog, roles, grants and subjects.

use super::{division_ref, duplicate_name, no_content, ok, required_str, Call, Reply};
use crate::auth::EffectiveGrant;
use crate::catalog::{action_label, permission_is_known};
use crate::error::{ApiError, ApiResult};
use crate::model::{sorted, Division, Org, Policy, Role, SubjectType};
use crate::params::{page_of, MAX_PAGE_SIZE};
use crate::wire::{iso, new_id, str_field, str_list};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

// ---------------------------------------------------------------- divisions

/// Wire shape of a division (`AuthzDivision`).
pub fn render_division(org: &Org, d: &Division, object_count: bool) -> Value {
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "homeDivision": d.home,
        "selfUri": format!("/api/v2/authorization/divisions/{}", d.id),
    });
    if object_count {
        let queues = org.queues.iter().filter(|q| q.division_id == d.id).count();
        let users = org.users.iter().filter(|u| u.division_id == d.id).count();
        v["objectCounts"] = json!({"queue": queues, "user": users});
    }
    v
}

fn division_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a Division> {
    org.divisions
        .get(id)
        .ok_or_else(|| ApiError::not_found("Division", id))
}

/// `GET /api/v2/authorization/divisions`.
pub fn list_divisions(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let ids = call.query.list("id");
    let name = call.query.get("name").map(str::to_lowercase);
    let counts = call.query.bool("objectCount")?.unwrap_or(false);
    let items: Vec<&Division> = org
        .divisions
        .iter()
        .filter(|d| call.listed(d.visible_at))
        .filter(|d| ids.is_empty() || ids.contains(&d.id))
        .filter(|d| {
            name.as_ref()
                .is_none_or(|n| d.name.to_lowercase().contains(n.as_str()))
        })
        .collect();
    let org_ref: &Org = org;
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        |d| render_division(org_ref, d, counts),
    )?)
}

/// `POST /api/v2/authorization/divisions`.
pub fn create_division(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:division:add"])?;
    let body = call.require_body(&["AuthzDivision"])?;
    let name = required_str(body, "name")?.to_string();
    if org.divisions.by_name(&name).next().is_some() {
        return Err(duplicate_name("division", &name));
    }
    let d = Division {
        id: new_id(),
        name,
        description: str_field(body, "description").map(str::to_string),
        home: false,
        visible_at: call.visible_at(),
    };
    let v = render_division(org, &d, false);
    org.divisions.insert(d);
    ok(v)
}

/// `GET /api/v2/authorization/divisions/home`.
pub fn home_division(org: &mut Org, _call: &Call) -> ApiResult<Reply> {
    let d = division_or_404(org, &org.home_division_id)?;
    ok(render_division(org, d, false))
}

/// `GET /api/v2/authorization/divisions/{divisionId}`.
pub fn get_division(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let d = division_or_404(org, call.param("divisionId"))?;
    let counts = call.query.bool("objectCount")?.unwrap_or(false);
    ok(render_division(org, d, counts))
}

/// `PUT /api/v2/authorization/divisions/{divisionId}`.
pub fn update_division(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:division:edit"])?;
    let id = call.param("divisionId").to_string();
    division_or_404(org, &id)?;
    let body = call.require_body(&["AuthzDivision"])?;
    let name = required_str(body, "name")?.to_string();
    if org.divisions.by_name(&name).any(|d| d.id != id) {
        return Err(duplicate_name("division", &name));
    }
    let description = str_field(body, "description").map(str::to_string);
    org.divisions.update(&id, |d| {
        d.name = name;
        d.description = description;
    });
    let d = division_or_404(org, &id)?;
    ok(render_division(org, d, false))
}

/// `DELETE /api/v2/authorization/divisions/{divisionId}`.
pub fn delete_division(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:division:delete"])?;
    let id = call.param("divisionId").to_string();
    let d = division_or_404(org, &id)?;
    if d.home {
        return Err(ApiError::bad_request("The home division cannot be deleted"));
    }
    if org.division_draining(&id, call.now) {
        return Err(ApiError::bad_request(format!(
            "Division \"{}\" still holds objects that are being deleted; try again shortly",
            d.name
        )));
    }
    let force = call.query.bool("force")?.unwrap_or(false);
    let used = org.queues.iter().any(|q| q.division_id == id)
        || org.users.iter().any(|u| u.division_id == id);
    if used && !force {
        return Err(ApiError::bad_request(format!(
            "Division \"{}\" still contains objects; move them out first or pass force=true",
            d.name
        )));
    }
    let home = org.home_division_id.clone();
    let queue_ids: Vec<String> = org
        .queues
        .iter()
        .filter(|q| q.division_id == id)
        .map(|q| q.id.clone())
        .collect();
    for q in queue_ids {
        org.queues.update(&q, |q| q.division_id = home.clone());
    }
    let user_ids: Vec<String> = org
        .users
        .iter()
        .filter(|u| u.division_id == id)
        .map(|u| u.id.clone())
        .collect();
    for u in user_ids {
        org.users.update(&u, |u| u.division_id = home.clone());
    }
    org.divisions.remove(&id);
    org.drop_division_grants(&id);
    no_content()
}

// -------------------------------------------------------------- permissions

/// `GET /api/v2/authorization/permissions`: one `DomainPermissionCollection`
/// per domain, paged over domains.
pub fn list_permissions(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let query_type = call.query.get("queryType").unwrap_or("domain").to_string();
    let query = call.query.get("query").map(str::to_lowercase);
    let mut domains: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for p in &org.permissions {
        let mut parts = p.splitn(3, ':');
        let (Some(d), Some(e), Some(a)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if let Some(q) = &query {
            let hay = match query_type.as_str() {
                "domain" => d.to_lowercase(),
                "domainEntity" | "entity" => format!("{d}:{e}").to_lowercase(),
                _ => p.to_lowercase(),
            };
            if !hay.contains(q.as_str()) {
                continue;
            }
        }
        domains
            .entry(d.to_string())
            .or_default()
            .entry(e.to_string())
            .or_default()
            .push(a.to_string());
    }
    let items: Vec<(String, BTreeMap<String, Vec<String>>)> = domains.into_iter().collect();
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        |(domain, entities)| {
            let mut map = Map::new();
            for (entity, actions) in entities {
                let perms: Vec<Value> = actions
                .iter()
                .map(|a| {
                    json!({
                        "domain": domain,
                        "entityType": entity,
                        "action": a,
                        "label": action_label(a),
                        "allowsConditions": false,
                        "divisionAware": matches!(domain.as_str(), "routing" | "directory" | "architect" | "outbound" | "integrations"),
                    })
                })
                .collect();
                map.insert(entity, Value::Array(perms));
            }
            json!({
                "id": domain,
                "name": domain,
                "domain": domain,
                "permissionMap": map,
                "selfUri": format!("/api/v2/authorization/permissions/{domain}"),
            })
        },
    )?)
}

// -------------------------------------------------------------------- roles

/// Wire shape of a policy (`DomainPermissionPolicy`).
pub fn render_policy(p: &Policy) -> Value {
    let mut m = p.extra.clone();
    m.insert("domain".into(), json!(p.domain));
    m.insert("entityName".into(), json!(p.entity_name));
    m.insert("actionSet".into(), json!(p.action_set));
    Value::Object(m)
}

/// Wire shape of a role (`DomainOrganizationRole`).
pub fn render_role(r: &Role, user_count: Option<usize>) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "defaultRoleId": r.default_role_id,
        "permissions": r.permissions,
        "permissionPolicies": r.policies.iter().map(render_policy).collect::<Vec<_>>(),
        "userCount": user_count,
        "roleNeedsUpdate": r.role_needs_update,
        "default": r.default_role_id.is_some(),
        "base": false,
        "selfUri": format!("/api/v2/authorization/roles/{}", r.id),
    })
}

fn role_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a Role> {
    org.roles
        .get(id)
        .ok_or_else(|| ApiError::not_found("Role", id))
}

fn user_counts(org: &Org) -> HashMap<&str, usize> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for sg in org.grants.values() {
        if sg.subject_type != SubjectType::User {
            continue;
        }
        let mut seen: Vec<&str> = sg.grants.iter().map(|g| g.role_id.as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        for r in seen {
            *counts.entry(r).or_default() += 1;
        }
    }
    counts
}

/// The general permissions and the policies of a role body. Neither is
/// checked against the catalog: the real role API stores permissions the
/// org does not have, and they grant nothing.
pub fn policies_of_body(body: &Value) -> ApiResult<(Vec<String>, Vec<Policy>)> {
    let general = sorted(str_list(body, "permissions").unwrap_or_default());
    let mut policies = Vec::new();
    for p in body
        .get("permissionPolicies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let domain = str_field(p, "domain").ok_or_else(|| {
            ApiError::invalid(
                "permissionPolicies",
                "Every permission policy needs a domain",
            )
        })?;
        let entity_name = str_field(p, "entityName").ok_or_else(|| {
            ApiError::invalid(
                "permissionPolicies",
                "Every permission policy needs an entityName",
            )
        })?;
        let action_set = sorted(str_list(p, "actionSet").unwrap_or_default());
        if action_set.is_empty() {
            return Err(ApiError::invalid(
                "permissionPolicies",
                format!("The permission policy {domain}:{entity_name} needs an actionSet"),
            ));
        }
        let mut extra = p.as_object().cloned().unwrap_or_default();
        for k in ["domain", "entityName", "actionSet", "id", "selfUri"] {
            extra.remove(k);
        }
        extra.retain(|_, v| !v.is_null());
        policies.push(Policy {
            domain: domain.to_string(),
            entity_name: entity_name.to_string(),
            action_set,
            extra,
        });
    }
    Ok((general, policies))
}

/// `GET /api/v2/authorization/roles`.
pub fn list_roles(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:view"])?;
    let ids = call.query.list("id");
    let defaults = call.query.list("defaultRoleId");
    let perms = call.query.list("permission");
    let name = call.query.get("name");
    let with_count = call.query.bool("userCount")?.unwrap_or(true);
    let source: Box<dyn Iterator<Item = &Role>> = match name {
        Some(n) => Box::new(org.roles.by_name(n)),
        None => Box::new(org.roles.iter()),
    };
    let items: Vec<&Role> = source
        .filter(|r| call.listed(r.visible_at))
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .filter(|r| {
            defaults.is_empty()
                || r.default_role_id
                    .as_ref()
                    .is_some_and(|d| defaults.contains(d))
        })
        .filter(|r| perms.is_empty() || r.policy_strings().iter().any(|p| perms.contains(p)))
        .collect();
    let counts = if with_count {
        Some(user_counts(org))
    } else {
        None
    };
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        |r| {
            let n = counts
                .as_ref()
                .map(|c| c.get(r.id.as_str()).copied().unwrap_or(0));
            render_role(r, n)
        },
    )?)
}

/// `POST /api/v2/authorization/roles`.
pub fn create_role(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:add"])?;
    let body = call.require_body(&["DomainOrganizationRoleCreate"])?;
    let name = required_str(body, "name")?.to_string();
    if org.roles.by_name(&name).next().is_some() {
        return Err(duplicate_name("role", &name));
    }
    let (permissions, policies) = policies_of_body(body)?;
    let role = Role {
        id: new_id(),
        name,
        description: str_field(body, "description").map(str::to_string),
        default_role_id: None,
        permissions,
        policies,
        role_needs_update: false,
        visible_at: call.visible_at(),
    };
    let v = render_role(&role, Some(0));
    org.roles.insert(role);
    ok(v)
}

/// `GET /api/v2/authorization/roles/{roleId}`.
pub fn get_role(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:view"])?;
    let r = role_or_404(org, call.param("roleId"))?;
    let n = user_counts(org).get(r.id.as_str()).copied().unwrap_or(0);
    ok(render_role(r, Some(n)))
}

/// `PUT /api/v2/authorization/roles/{roleId}`: replaces name, description
/// and permissions.
pub fn update_role(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:edit"])?;
    let id = call.param("roleId").to_string();
    role_or_404(org, &id)?;
    let body = call.require_body(&["DomainOrganizationRoleUpdate", "DomainOrganizationRole"])?;
    let name = required_str(body, "name")?.to_string();
    if org.roles.by_name(&name).any(|r| r.id != id) {
        return Err(duplicate_name("role", &name));
    }
    let (permissions, policies) = policies_of_body(body)?;
    let description = str_field(body, "description").map(str::to_string);
    org.roles.update(&id, |r| {
        r.name = name;
        r.description = description;
        r.permissions = permissions;
        r.policies = policies;
    });
    let r = role_or_404(org, &id)?;
    let n = user_counts(org).get(r.id.as_str()).copied().unwrap_or(0);
    ok(render_role(r, Some(n)))
}

/// `PATCH /api/v2/authorization/roles/{roleId}`: the `roleNeedsUpdate` flag.
pub fn patch_role(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:edit"])?;
    let id = call.param("roleId").to_string();
    role_or_404(org, &id)?;
    let body = call.require_body(&["DomainOrganizationRole"])?;
    if let Some(flag) = body.get("roleNeedsUpdate").and_then(Value::as_bool) {
        org.roles.update(&id, |r| r.role_needs_update = flag);
    }
    let r = role_or_404(org, &id)?;
    let n = user_counts(org).get(r.id.as_str()).copied().unwrap_or(0);
    ok(render_role(r, Some(n)))
}

/// `DELETE /api/v2/authorization/roles/{roleId}`.
pub fn delete_role(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:delete"])?;
    let id = call.param("roleId").to_string();
    let r = role_or_404(org, &id)?;
    if r.default_role_id.is_some() {
        return Err(ApiError::bad_request(format!(
            "The default role \"{}\" cannot be deleted",
            r.name
        )));
    }
    org.roles.remove(&id);
    org.drop_role_grants(&id);
    no_content()
}

fn check_division(org: &Org, id: &str) -> ApiResult<()> {
    if id == "*" || org.divisions.contains(id) {
        Ok(())
    } else {
        Err(
            ApiError::invalid("divisionId", format!("Division not found: {id}"))
                .param("divisionId", id),
        )
    }
}

fn check_role(org: &Org, id: &str) -> ApiResult<()> {
    if org.roles.contains(id) {
        Ok(())
    } else {
        Err(ApiError::invalid("roleId", format!("Role not found: {id}")).param("roleId", id))
    }
}

fn subject_type_param(call: &Call) -> ApiResult<SubjectType> {
    let raw = call.query.get("subjectType").unwrap_or("PC_USER");
    SubjectType::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            "subjectType",
            format!("subjectType must be PC_USER, PC_GROUP or PC_OAUTH_CLIENT, got \"{raw}\""),
        )
    })
}

fn check_subject(org: &Org, id: &str, ty: SubjectType) -> ApiResult<()> {
    match org.subject_type_of(id) {
        Some(t) if t == ty => Ok(()),
        Some(t) => Err(ApiError::invalid(
            "subjectType",
            format!(
                "Subject {id} is a {}, not a {}; pass subjectType={}",
                t.wire(),
                ty.wire(),
                t.wire()
            ),
        )),
        None => Err(ApiError::not_found("Subject", id)),
    }
}

/// `POST /api/v2/authorization/roles/{roleId}?subjectType=`: grants the role
/// to every subject in every division of a `SubjectDivisions` body.
pub fn bulk_grant_role(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:add"])?;
    let role_id = call.param("roleId").to_string();
    role_or_404(org, &role_id)?;
    let ty = subject_type_param(call)?;
    let body = call.require_body(&["SubjectDivisions"])?;
    let subjects = str_list(body, "subjectIds").unwrap_or_default();
    let divisions = str_list(body, "divisionIds").unwrap_or_default();
    for s in &subjects {
        check_subject(org, s, ty)?;
    }
    for d in &divisions {
        check_division(org, d)?;
        check_authz_known(org, call, &role_id, d)?;
    }
    for s in &subjects {
        for d in &divisions {
            org.add_grant(s, ty, &role_id, d, call.now);
        }
    }
    no_content()
}

/// `GET /api/v2/authorization/roles/{roleId}/subjectgrants`.
pub fn role_subject_grants(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:role:view"])?;
    let role_id = call.param("roleId").to_string();
    role_or_404(org, &role_id)?;
    let mut items: Vec<(String, SubjectType, Vec<String>)> = org
        .grants
        .iter()
        .filter_map(|(sid, sg)| {
            let divs: Vec<String> = sg
                .grants
                .iter()
                .filter(|g| g.role_id == role_id)
                .map(|g| g.division_id.clone())
                .collect();
            (!divs.is_empty()).then(|| (sid.clone(), sg.subject_type, divs))
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let org_ref: &Org = org;
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        |(sid, ty, divs)| {
            json!({
                "id": sid,
                "name": org_ref.subject_name(&sid),
                "divisions": divs.iter().map(|d| division_ref(org_ref, d)).collect::<Vec<_>>(),
                "type": ty.wire(),
                "selfUri": format!("/api/v2/authorization/subjects/{sid}"),
            })
        },
    )?)
}

/// `GET /api/v2/authorization/roles/{roleId}/users`.
pub fn role_users(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let role_id = call.param("roleId").to_string();
    role_or_404(org, &role_id)?;
    let mut ids: Vec<String> = org
        .grants
        .iter()
        .filter(|(_, sg)| {
            sg.subject_type == SubjectType::User && sg.grants.iter().any(|g| g.role_id == role_id)
        })
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    let listing = page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        ids,
        |id| json!({"id": id, "selfUri": format!("/api/v2/users/{id}")}),
    )?;
    // UserReferenceEntityListing carries only entities and counts.
    let mut out = Map::new();
    for k in ["entities", "pageSize", "pageNumber", "total", "pageCount"] {
        if let Some(v) = listing.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    ok(Value::Object(out))
}

/// `PUT /api/v2/authorization/roles/{roleId}/users/add`: grants the role to
/// users in the home division.
pub fn role_users_add(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:add"])?;
    let role_id = call.param("roleId").to_string();
    role_or_404(org, &role_id)?;
    let ids = call.body_strings()?;
    for id in &ids {
        check_subject(org, id, SubjectType::User)?;
    }
    let home = org.home_division_id.clone();
    for id in &ids {
        org.add_grant(id, SubjectType::User, &role_id, &home, call.now);
    }
    ok(json!(ids))
}

/// `PUT /api/v2/authorization/roles/{roleId}/users/remove`.
pub fn role_users_remove(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:delete"])?;
    let role_id = call.param("roleId").to_string();
    role_or_404(org, &role_id)?;
    let ids = call.body_strings()?;
    for id in &ids {
        let divs: Vec<String> = org
            .grants_of(id)
            .iter()
            .filter(|g| g.role_id == role_id)
            .map(|g| g.division_id.clone())
            .collect();
        for d in divs {
            org.remove_grant(id, &role_id, &d);
        }
    }
    ok(json!(ids))
}

// ----------------------------------------------------------------- subjects

fn render_grant(org: &Org, subject_id: &str, g: &EffectiveGrant) -> Value {
    let role = org.roles.get(&g.role_id);
    let division = match org.divisions.get(&g.division_id) {
        Some(d) => render_division(org, d, false),
        None => division_ref(org, &g.division_id),
    };
    json!({
        "subjectId": subject_id,
        "division": division,
        "role": {
            "id": g.role_id,
            "name": role.map(|r| r.name.clone()),
            "description": role.and_then(|r| r.description.clone()),
            "default": role.map(|r| r.default_role_id.is_some()),
            "policies": role.map(|r| granted_policies(org, r)),
            "selfUri": format!("/api/v2/authorization/roles/{}", g.role_id),
        },
        "grantMadeAt": iso(g.made_at),
    })
}

/// `AuthzGrantPolicy` entries of a role: the actions it grants per domain
/// and entity (policy entries the catalog does not know are left out).
fn granted_policies(org: &Org, r: &Role) -> Vec<Value> {
    r.policies
        .iter()
        .filter_map(|p| {
            let actions: Vec<&String> = p
                .action_set
                .iter()
                .filter(|a| {
                    permission_is_known(
                        &org.permissions,
                        &format!("{}:{}:{a}", p.domain, p.entity_name),
                    )
                })
                .collect();
            (!actions.is_empty()).then(
                || json!({"domain": p.domain, "entityName": p.entity_name, "actions": actions}),
            )
        })
        .collect()
}

fn render_subject(org: &Org, id: &str, grants: &[EffectiveGrant]) -> Value {
    json!({
        "id": id,
        "name": org.subject_name(id),
        "grants": grants.iter().map(|g| render_grant(org, id, g)).collect::<Vec<_>>(),
        "version": 1,
        "selfUri": format!("/api/v2/authorization/subjects/{id}"),
    })
}

fn stored_grants(org: &Org, id: &str) -> Vec<EffectiveGrant> {
    org.grants_of(id)
        .iter()
        .map(|g| EffectiveGrant {
            role_id: g.role_id.clone(),
            division_id: g.division_id.clone(),
            made_at: g.made_at,
            via_group: None,
        })
        .collect()
}

/// `GET /api/v2/authorization/subjects/me`: the grants the CURRENT token
/// effectively holds (after the grant delay), for users and clients.
pub fn subject_me(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let mut grants = org.effective_grants(&call.caller, call.now, call.grant_delay());
    if !call.query.bool("includeDuplicates")?.unwrap_or(false) {
        let mut seen = std::collections::HashSet::new();
        grants.retain(|g| seen.insert((g.role_id.clone(), g.division_id.clone())));
    }
    ok(render_subject(org, call.caller.subject.id(), &grants))
}

/// `GET /api/v2/authorization/subjects/{subjectId}`.
pub fn get_subject(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let id = call.param("subjectId").to_string();
    if id != call.caller.subject.id() {
        call.require(org, &["authorization:grant:view"])?;
    }
    if org.subject_type_of(&id).is_none() {
        return Err(ApiError::not_found("Subject", &id));
    }
    let grants = stored_grants(org, &id);
    ok(render_subject(org, &id, &grants))
}

/// What a grant request is for: adding checks that the authorization
/// service already knows each role and division, removing that each still
/// exists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GrantOp {
    Add,
    Remove,
}

/// 404 for a role or division the authorization service does not know yet:
/// for `--eventual-ms` after it was created it is readable by id, but grants
/// naming it are refused (the Terraform provider retries these).
fn check_authz_known(org: &Org, call: &Call, role: &str, division: &str) -> ApiResult<()> {
    let role_seen = org
        .roles
        .get(role)
        .is_some_and(|r| call.listed(r.visible_at));
    if !role_seen {
        return Err(ApiError::not_found("Role", role));
    }
    if division != "*"
        && !org
            .divisions
            .get(division)
            .is_some_and(|d| call.listed(d.visible_at))
    {
        return Err(ApiError::not_found("Division", division));
    }
    Ok(())
}

fn grant_pairs(org: &Org, call: &Call, op: GrantOp) -> ApiResult<Vec<(String, String)>> {
    let body = call.require_body(&["RoleDivisionGrants"])?;
    let mut out = Vec::new();
    for g in body
        .get("grants")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let role = str_field(g, "roleId")
            .ok_or_else(|| ApiError::invalid("roleId", "Every grant needs a roleId"))?;
        let division = str_field(g, "divisionId")
            .ok_or_else(|| ApiError::invalid("divisionId", "Every grant needs a divisionId"))?;
        match op {
            GrantOp::Add => check_authz_known(org, call, role, division)?,
            GrantOp::Remove => {
                check_role(org, role)?;
                check_division(org, division)?;
            }
        }
        out.push((role.to_string(), division.to_string()));
    }
    Ok(out)
}

/// `POST /api/v2/authorization/subjects/{subjectId}/bulkadd?subjectType=`.
pub fn subject_bulk_add(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:add"])?;
    let id = call.param("subjectId").to_string();
    let ty = subject_type_param(call)?;
    check_subject(org, &id, ty)?;
    let pairs = grant_pairs(org, call, GrantOp::Add)?;
    for (r, d) in pairs {
        org.add_grant(&id, ty, &r, &d, call.now);
    }
    no_content()
}

/// `POST /api/v2/authorization/subjects/{subjectId}/bulkremove`: 400 when
/// any role or division it names no longer exists.
pub fn subject_bulk_remove(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:delete"])?;
    let id = call.param("subjectId").to_string();
    if org.subject_type_of(&id).is_none() {
        return Err(ApiError::not_found("Subject", &id));
    }
    let pairs = grant_pairs(org, call, GrantOp::Remove)?;
    for (r, d) in pairs {
        org.remove_grant(&id, &r, &d);
    }
    no_content()
}

/// `POST /api/v2/authorization/subjects/{subjectId}/bulkreplace?subjectType=`.
pub fn subject_bulk_replace(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:add"])?;
    call.require(org, &["authorization:grant:delete"])?;
    let id = call.param("subjectId").to_string();
    let ty = subject_type_param(call)?;
    check_subject(org, &id, ty)?;
    let pairs = grant_pairs(org, call, GrantOp::Add)?;
    let existing: Vec<(String, String)> = org
        .grants_of(&id)
        .iter()
        .map(|g| (g.role_id.clone(), g.division_id.clone()))
        .collect();
    for (r, d) in &existing {
        if !pairs.contains(&(r.clone(), d.clone())) {
            org.remove_grant(&id, r, d);
        }
    }
    for (r, d) in pairs {
        org.add_grant(&id, ty, &r, &d, call.now);
    }
    no_content()
}

/// `POST /api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}`.
pub fn subject_grant_one(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:add"])?;
    let id = call.param("subjectId").to_string();
    let ty = subject_type_param(call)?;
    check_subject(org, &id, ty)?;
    let role = call.param("roleId").to_string();
    let division = call.param("divisionId").to_string();
    check_authz_known(org, call, &role, &division)?;
    org.add_grant(&id, ty, &role, &division, call.now);
    no_content()
}

/// `DELETE /api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}`.
pub fn subject_revoke_one(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:delete"])?;
    let id = call.param("subjectId").to_string();
    let role = call.param("roleId").to_string();
    let division = call.param("divisionId").to_string();
    if !org.remove_grant(&id, &role, &division) {
        return Err(ApiError::not_found(
            "Grant",
            &format!("{id}/{division}/{role}"),
        ));
    }
    no_content()
}

// --------------------------------------------------------------- user roles

/// `UserAuthorization` of a user's own grants.
pub fn user_authorization(org: &Org, user_id: &str) -> Value {
    let mut role_ids: Vec<&str> = org
        .grants_of(user_id)
        .iter()
        .map(|g| g.role_id.as_str())
        .collect();
    role_ids.sort_unstable();
    role_ids.dedup();
    let roles: Vec<&Role> = role_ids.iter().filter_map(|r| org.roles.get(r)).collect();
    let perms: Vec<String> = sorted(
        roles
            .iter()
            .flat_map(|r| org.granted_permissions(r))
            .collect(),
    );
    let policies: Vec<Value> = crate::model::policies_from_strings(&perms)
        .iter()
        .map(render_policy)
        .collect();
    json!({
        "roles": roles.iter().map(|r| json!({"id": r.id, "name": r.name})).collect::<Vec<_>>(),
        "permissions": perms,
        "permissionPolicies": policies,
    })
}

/// `GET /api/v2/users/{subjectId}/roles`.
pub fn user_roles(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    let id = call.param("subjectId").to_string();
    if id != call.caller.subject.id() {
        call.require(org, &["authorization:grant:view"])?;
    }
    if !org.users.contains(&id) {
        return Err(ApiError::not_found("User", &id));
    }
    ok(user_authorization(org, &id))
}

/// `PUT /api/v2/users/{subjectId}/roles`: the user's roles become exactly
/// the listed ones (new ones granted in the home division).
pub fn set_user_roles(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["authorization:grant:add"])?;
    let id = call.param("subjectId").to_string();
    if !org.users.contains(&id) {
        return Err(ApiError::not_found("User", &id));
    }
    let wanted = call.body_strings()?;
    for r in &wanted {
        check_role(org, r)?;
    }
    let existing: Vec<(String, String)> = org
        .grants_of(&id)
        .iter()
        .map(|g| (g.role_id.clone(), g.division_id.clone()))
        .collect();
    for (r, d) in &existing {
        if !wanted.contains(r) {
            org.remove_grant(&id, r, d);
        }
    }
    let home = org.home_division_id.clone();
    for r in &wanted {
        if !existing.iter().any(|(er, _)| er == r) {
            org.add_grant(&id, SubjectType::User, r, &home, call.now);
        }
    }
    ok(user_authorization(org, &id))
}
