//! `role`: authorization roles.
//!
//! | manifest | wire (`DomainOrganizationRole`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//! | `permissions` | `permissions` ∪ (`permissionPolicies`: `domain:entityName:action` per action) |
//!
//! Create and update send the `permissions` list (`DomainOrganizationRoleCreate`
//! / `DomainOrganizationRoleUpdate`). Roles with a `defaultRoleId` (`admin`,
//! `employee`, ...) are built in. Roles carry no `version`; the fingerprint
//! of the attributes stands in.

use std::collections::BTreeSet;

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde_json::{json, Map, Value as Json};

use crate::http::Request;
use crate::listing::{self, ListSpec, NameLookup};
use crate::recover;
use crate::wire::{fingerprint, id_of, str_field, string_set, strings_field, AttrReader};
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

/// The permission strings of a role: its `permissions` list and every
/// action of its `permissionPolicies`.
pub fn permissions_of(wire: &Json) -> BTreeSet<String> {
    let mut perms: BTreeSet<String> = strings_field(wire, "permissions").into_iter().collect();
    if let Some(policies) = wire.get("permissionPolicies").and_then(Json::as_array) {
        for policy in policies {
            let (Some(domain), Some(entity)) =
                (str_field(policy, "domain"), str_field(policy, "entityName"))
            else {
                continue;
            };
            for action in strings_field(policy, "actionSet") {
                perms.insert(format!("{domain}:{entity}:{action}"));
            }
        }
    }
    perms
}

/// True for a built-in role.
pub fn is_builtin(wire: &Json) -> bool {
    str_field(wire, "defaultRoleId").is_some_and(|d| !d.is_empty())
}

/// Wire → live object.
pub fn to_live(wire: &Json) -> Result<LiveObject, ProviderError> {
    let id = id_of(wire, "role")?;
    let name = str_field(wire, "name").unwrap_or_default().to_owned();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::from(name.clone()));
    if let Some(d) = str_field(wire, "description") {
        attrs.insert("description".into(), Value::from(d));
    }
    attrs.insert("permissions".into(), string_set(permissions_of(wire)));
    Ok(LiveObject {
        kind: Kind::Role,
        id: GenesysId(id),
        name,
        version: fingerprint(&attrs),
        attrs,
        builtin: is_builtin(wire),
    })
}

/// Manifest attributes → role body (create and update take the same fields).
pub fn to_wire(desired: &Attrs) -> Result<Json, ProviderError> {
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
    body.insert("permissions".into(), json!(perms));
    Ok(Json::Object(body))
}

pub async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    listing::fetch(&ctx.api, &SPEC, scope)
        .await?
        .into_listing(to_live)
}

pub async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    ctx.api
        .send_opt(Request::get(ONE).param("roleId", id.as_str()))
        .await?
        .as_ref()
        .map(to_live)
        .transpose()
}

/// A POST; after a lost answer the role is looked up by name
/// (`GET ...roles?name=`, one call) before it is sent again.
pub async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let body = to_wire(desired)?;
    let name = str_field(&body, "name").unwrap_or_default().to_owned();
    let request = Request::post(SPEC.list).json(body);
    let wire = recover::create(&ctx.api, &request, "role", &name, || {
        listing::find_by_name(&ctx.api, &SPEC, &name)
    })
    .await?
    .into_wire();
    Ok(Created {
        object: to_live(&wire)?,
        secret: None,
    })
}

pub async fn update(
    ctx: &Ctx,
    live: &LiveObject,
    desired: &Attrs,
) -> Result<LiveObject, ProviderError> {
    let wire = ctx
        .api
        .send(
            Request::put(ONE)
                .param("roleId", live.id.as_str())
                .json(to_wire(desired)?),
        )
        .await
        .map_err(|e| ctx.gone(e, Kind::Role, &live.id))?;
    to_live(&wire)
}

pub async fn delete(ctx: &Ctx, id: &GenesysId) -> Result<(), ProviderError> {
    ctx.api
        .delete_if_present(Request::delete(ONE).param("roleId", id.as_str()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_come_from_both_fields() {
        let wire = json!({
            "id": "r1", "name": "Adapter",
            "permissions": ["analytics:conversationDetail:view"],
            "permissionPolicies": [
                {"domain": "integration", "entityName": "presence", "actionSet": ["*"]},
                {"domain": "analytics", "entityName": "conversationDetail", "actionSet": ["view"]},
            ],
        });
        let live = to_live(&wire).unwrap();
        assert_eq!(
            live.attrs["permissions"],
            Value::strings([
                "analytics:conversationDetail:view",
                "integration:presence:*"
            ])
        );
        assert!(!live.builtin);
        let body = to_wire(&live.attrs).unwrap();
        assert_eq!(
            body["permissions"],
            json!([
                "analytics:conversationDetail:view",
                "integration:presence:*"
            ])
        );
        assert!(body.get("description").is_none());
        assert!(
            to_live(&json!({"id": "e", "name": "employee", "defaultRoleId": "employee"}))
                .unwrap()
                .builtin
        );
    }
}
