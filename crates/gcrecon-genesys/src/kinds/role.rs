//! `role`: authorization roles.
//!
//! | manifest | wire (`DomainOrganizationRole`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//! | `permissions` | `permissionPolicies`: `domain:entityName:action` per action |
//!
//! A role's domain permissions live in `permissionPolicies`
//! (`{domain, entityName, actionSet}`); the wire `permissions` field holds
//! only general permissions such as `group_creation`, and a domain string
//! put there grants nothing. So the manifest's `domain:entity:action`
//! strings travel as policies, one per domain and entity with its actions
//! merged (`*` kept as is), and are read back from the policies only.
//!
//! An update reads the role first and keeps what the manifest does not
//! manage: its general `permissions`, and the conditions, named resources
//! and names of every policy whose domain and entity stay. Roles with a
//! `defaultRoleId` (`admin`, `employee`, ...) are built in. Roles carry no
//! `version`; the fingerprint of the attributes stands in.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use gcrecon_core::provider::{LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::http::{BodyError, Page, Request, WireEntity};
use crate::kinds::{OpFuture, RestKind, RestOps, Update};
use crate::listing::{ListSpec, NameLookup};
use crate::wire::{
    fingerprint, is_deleted_state, live_head, str_field, strings_field, typed, AttrReader,
};
use crate::Ctx;

pub const SPEC: ListSpec = ListSpec {
    what: "role",
    list: "/api/v2/authorization/roles",
    page_size: 100,
    id_filter: Some(("id", 100)),
    by_id: Some((ONE, "roleId")),
    extra_query: &[],
    names: NameLookup::Query("name"),
};

const ONE: &str = "/api/v2/authorization/roles/{roleId}";

static REST: RestKind = RestKind {
    kind: Kind::Role,
    audit_entity: Some("Role"),
    listing: SPEC,
    to_live,
    page: Some(page),
    to_wire: to_create,
};

/// Roles: the REST defaults, but an update reads the role first.
pub struct Role;

impl RestOps for Role {
    fn rest(&self) -> &'static RestKind {
        &REST
    }

    fn update<'a>(&'a self, ctx: &'a Ctx, update: Update<'a>) -> OpFuture<'a, LiveObject> {
        Box::pin(read_and_put(ctx, update))
    }
}

/// What the mapping reads of a `DomainOrganizationRole`; a listing's
/// pages are read straight into it, other fields skipped unparsed.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "permissionPolicies")]
    policies: Option<Vec<PolicyWire<'a>>>,
    #[serde(borrow, rename = "defaultRoleId")]
    default_role_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
}

/// What the mapping reads of a `DomainPermissionPolicy`.
#[derive(Deserialize)]
struct PolicyWire<'a> {
    #[serde(borrow)]
    domain: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "entityName")]
    entity: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "actionSet")]
    actions: Option<Vec<Cow<'a, str>>>,
}

impl WireEntity for Wire<'_> {
    fn is_deleted(&self) -> bool {
        is_deleted_state(self.state.as_deref())
    }
}

impl Wire<'_> {
    /// The permission strings: every action of `permissionPolicies`.
    fn permissions(&self) -> BTreeSet<String> {
        let mut perms = BTreeSet::new();
        for policy in self.policies.iter().flatten() {
            let (Some(domain), Some(entity)) = (&policy.domain, &policy.entity) else {
                continue;
            };
            for action in policy.actions.iter().flatten() {
                let mut p = String::with_capacity(domain.len() + entity.len() + action.len() + 2);
                for part in [domain, ":", entity, ":", action] {
                    p.push_str(part);
                }
                perms.insert(p);
            }
        }
        perms
    }

    fn live(self) -> Result<LiveObject, ProviderError> {
        let (id, name, mut attrs) = live_head(
            "role",
            self.id.as_deref(),
            self.name.as_deref(),
            self.description.as_deref(),
        )?;
        attrs.insert("permissions".into(), Value::strings(self.permissions()));
        Ok(LiveObject {
            kind: Kind::Role,
            id,
            name,
            version: fingerprint(&attrs),
            attrs,
            builtin: self.default_role_id.is_some_and(|d| !d.is_empty()),
        })
    }
}

/// A role as read from its JSON.
fn wire(json: &Json) -> Result<Wire<'_>, ProviderError> {
    typed(json, "role")
}

/// A page of the role listing, straight from its body.
fn page(bytes: &[u8], page_size: u32) -> Result<Page<LiveObject>, BodyError> {
    Page::from_slice(bytes, page_size, Wire::live)
}

/// The permission strings of a role: every action of its
/// `permissionPolicies`. The general `permissions` are not among them.
pub fn permissions_of(json: &Json) -> Result<BTreeSet<String>, ProviderError> {
    Ok(wire(json)?.permissions())
}

/// `permissionPolicies` for `domain:entity:action` strings: one policy per
/// domain and entity, its actions merged and sorted. Fields of `current`'s
/// policy for the same domain and entity that gcrecon does not manage
/// (conditions, named resources, its name) are carried over.
pub fn policies_for(
    permissions: &BTreeSet<String>,
    current: Option<&Json>,
) -> Result<Vec<Json>, ProviderError> {
    let mut by: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for p in permissions {
        let mut parts = p.splitn(3, ':');
        let (Some(domain), Some(entity), Some(action)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ProviderError::Invalid(format!(
                "role permission `{p}` is not `domain:entity:action`"
            )));
        };
        by.entry((domain, entity)).or_default().insert(action);
    }
    let existing = |domain: &str, entity: &str| -> Option<Map<String, Json>> {
        current?
            .get("permissionPolicies")?
            .as_array()?
            .iter()
            .find(|p| {
                str_field(p, "domain") == Some(domain) && str_field(p, "entityName") == Some(entity)
            })?
            .as_object()
            .cloned()
    };
    Ok(by
        .into_iter()
        .map(|((domain, entity), actions)| {
            let mut policy = existing(domain, entity).unwrap_or_default();
            for k in ["id", "selfUri"] {
                policy.remove(k);
            }
            policy.insert("domain".into(), json!(domain));
            policy.insert("entityName".into(), json!(entity));
            policy.insert("actionSet".into(), json!(actions));
            Json::Object(policy)
        })
        .collect())
}

/// Wire → live object.
pub fn to_live(json: &Json) -> Result<LiveObject, ProviderError> {
    wire(json)?.live()
}

/// Manifest attributes → role body. `current` is the role as read just
/// before an update: its general `permissions` and its policies' unmanaged
/// fields are kept; a create sends no general permissions.
pub fn to_wire(desired: &Attrs, current: Option<&Json>) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::Role, desired);
    let mut body = Map::new();
    body.insert("name".into(), json!(r.required_string("name")?));
    if let Some(d) = r.string("description")? {
        body.insert("description".into(), json!(d));
    }
    let perms: BTreeSet<String> = r
        .strings("permissions")?
        .unwrap_or_default()
        .into_iter()
        .collect();
    let general = current
        .map(|c| strings_field(c, "permissions"))
        .unwrap_or_default();
    body.insert("permissions".into(), json!(general));
    body.insert(
        "permissionPolicies".into(),
        Json::Array(policies_for(&perms, current)?),
    );
    Ok(Json::Object(body))
}

/// Manifest attributes → the body of a create (no general permissions).
fn to_create(desired: &Attrs) -> Result<Json, ProviderError> {
    to_wire(desired, None)
}

/// A PUT replaces the role: read it first so what the manifest does not
/// manage (general permissions, policy conditions) is sent back as found.
async fn read_and_put(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let id = &update.live.id;
    let current = ctx
        .api
        .send(Request::get(ONE).param("roleId", id.as_str()))
        .await
        .map_err(|e| ctx.gone(e, Kind::Role, id))?;
    REST.put(ctx, id, to_wire(update.desired, Some(&current))?)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_typed_as_their_json_reads() {
        crate::kinds::assert_page_reads_as_json(
            &REST,
            &[
                json!({"id": "r1", "name": "Ad\"apt\u{e9}r", "description": null,
                "permissions": ["group_creation"], "userCount": 3, "selfUri": "/r1",
                "permissionPolicies": [
                    {"domain": "routing", "entityName": "queue", "actionSet": ["view", "join"],
                     "allowConditions": true, "resourceConditionNode": {"variableName": "q"}},
                    {"domain": "integration", "actionSet": ["*"]},
                ]}),
                json!({"id": "r2", "name": "gone", "state": "deleted"}),
                json!({"id": "e", "name": "employee", "defaultRoleId": "employee",
                       "description": "built in", "permissionPolicies": null}),
            ],
        );
    }

    #[test]
    fn permissions_come_from_policies_only() {
        let wire = json!({
            "id": "r1", "name": "Adapter",
            "permissions": ["group_creation", "analytics:conversationDetail:view"],
            "permissionPolicies": [
                {"domain": "integration", "entityName": "presence", "actionSet": ["*"]},
                {"domain": "routing", "entityName": "queue", "actionSet": ["view", "join"]},
            ],
        });
        let live = to_live(&wire).unwrap();
        assert_eq!(
            live.attrs["permissions"],
            Value::strings([
                "integration:presence:*",
                "routing:queue:join",
                "routing:queue:view"
            ]),
            "a domain string in `permissions` grants nothing and is not read as one"
        );
        assert!(!live.builtin);
        assert!(
            to_live(&json!({"id": "e", "name": "employee", "defaultRoleId": "employee"}))
                .unwrap()
                .builtin
        );
    }

    #[test]
    fn create_sends_one_policy_per_domain_and_entity() {
        let mut attrs = Attrs::new();
        attrs.insert("name".into(), Value::from("R"));
        attrs.insert(
            "permissions".into(),
            Value::strings([
                "routing:queue:view",
                "routing:queue:join",
                "integration:presence:*",
                "analytics:*:*",
            ]),
        );
        let body = to_wire(&attrs, None).unwrap();
        assert_eq!(body["permissions"], json!([]));
        assert_eq!(
            body["permissionPolicies"],
            json!([
                {"domain": "analytics", "entityName": "*", "actionSet": ["*"]},
                {"domain": "integration", "entityName": "presence", "actionSet": ["*"]},
                {"domain": "routing", "entityName": "queue", "actionSet": ["join", "view"]},
            ])
        );
        assert!(body.get("description").is_none());
        let back = to_live(&json!({"id": "r", "name": "R",
            "permissionPolicies": body["permissionPolicies"].clone()}))
        .unwrap();
        assert_eq!(
            back.attrs["permissions"],
            Value::strings([
                "analytics:*:*",
                "integration:presence:*",
                "routing:queue:join",
                "routing:queue:view"
            ])
        );
    }

    #[test]
    fn update_keeps_general_permissions_and_policy_conditions() {
        let current = json!({
            "id": "r1", "name": "R", "permissions": ["group_creation"],
            "permissionPolicies": [
                {"id": "p1", "domain": "routing", "entityName": "queue", "actionSet": ["view"],
                 "allowConditions": true, "resourceConditionNode": {"variableName": "queue.id"},
                 "policyName": "routing:queue"},
                {"domain": "directory", "entityName": "user", "actionSet": ["view"]},
            ],
        });
        let mut attrs = Attrs::new();
        attrs.insert("name".into(), Value::from("R"));
        attrs.insert(
            "permissions".into(),
            Value::strings(["routing:queue:view", "routing:queue:join"]),
        );
        let body = to_wire(&attrs, Some(&current)).unwrap();
        assert_eq!(body["permissions"], json!(["group_creation"]));
        assert_eq!(
            body["permissionPolicies"],
            json!([{"domain": "routing", "entityName": "queue", "actionSet": ["join", "view"],
                    "allowConditions": true, "resourceConditionNode": {"variableName": "queue.id"},
                    "policyName": "routing:queue"}])
        );
    }
}
