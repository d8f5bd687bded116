//! `division`: authorization divisions.
//!
//! | manifest | wire (`AuthzDivision`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//!
//! The home division (`homeDivision: true`) is built in. Divisions carry no
//! `version`; the fingerprint of the attributes stands in.

use gcrecon_core::provider::{Created, GenesysId, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde_json::{json, Map, Value as Json};

use crate::kinds::{OpFuture, RestKind, RestOps, Update};
use crate::listing::{ListSpec, NameLookup};
use crate::wire::{fingerprint, id_of, str_field, AttrReader};
use crate::Ctx;

pub const SPEC: ListSpec = ListSpec {
    what: "division",
    list: "/api/v2/authorization/divisions",
    page_size: 100,
    id_filter: Some(("id", 100)),
    by_id: Some(("/api/v2/authorization/divisions/{divisionId}", "divisionId")),
    extra_query: &[],
    names: NameLookup::Query("name"),
};

static REST: RestKind = RestKind {
    kind: Kind::Division,
    audit_entity: Some("Division"),
    listing: SPEC,
    to_live,
    to_wire,
};

/// Divisions: the REST defaults; every change also forgets the divisions
/// the data sources cached.
pub struct Division;

impl RestOps for Division {
    fn rest(&self) -> &'static RestKind {
        &REST
    }

    fn create<'a>(&'a self, ctx: &'a Ctx, desired: &'a Attrs) -> OpFuture<'a, Created> {
        Box::pin(async move {
            ctx.data_cache.lock().await.forget_divisions();
            REST.create(ctx, desired).await
        })
    }

    fn update<'a>(&'a self, ctx: &'a Ctx, update: Update<'a>) -> OpFuture<'a, LiveObject> {
        Box::pin(async move {
            ctx.data_cache.lock().await.forget_divisions();
            REST.update(ctx, update).await
        })
    }

    /// A division whose objects were deleted moments ago (clients, grants)
    /// refuses its own delete with 400 until they are gone: retried for at
    /// most [`crate::retry::DRAIN_WAIT`].
    fn delete<'a>(&'a self, ctx: &'a Ctx, id: &'a GenesysId) -> OpFuture<'a, ()> {
        Box::pin(async move {
            ctx.data_cache.lock().await.forget_divisions();
            crate::retry::while_draining(|| REST.delete(ctx, id)).await
        })
    }
}

/// Wire → live object.
pub fn to_live(wire: &Json) -> Result<LiveObject, ProviderError> {
    let id = id_of(wire, "division")?;
    let name = str_field(wire, "name").unwrap_or_default().to_owned();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::from(name.clone()));
    if let Some(d) = str_field(wire, "description") {
        attrs.insert("description".into(), Value::from(d));
    }
    Ok(LiveObject {
        kind: Kind::Division,
        id: GenesysId(id),
        name,
        version: fingerprint(&attrs),
        attrs,
        builtin: wire
            .get("homeDivision")
            .and_then(Json::as_bool)
            .unwrap_or(false),
    })
}

/// Manifest attributes → `AuthzDivision` body.
pub fn to_wire(desired: &Attrs) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::Division, desired);
    let mut body = Map::new();
    body.insert("name".into(), json!(r.required_string("name")?));
    if let Some(d) = r.string("description")? {
        body.insert("description".into(), json!(d));
    }
    Ok(Json::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_round_trip() {
        let wire = json!({"id": "d1", "name": "Sales", "description": "EMEA", "homeDivision": false, "selfUri": "/x"});
        let live = to_live(&wire).unwrap();
        assert_eq!(live.name, "Sales");
        assert!(!live.builtin);
        assert_eq!(
            to_wire(&live.attrs).unwrap(),
            json!({"name": "Sales", "description": "EMEA"})
        );
        let home = to_live(&json!({"id": "h", "name": "Home", "homeDivision": true})).unwrap();
        assert!(home.builtin);
        assert!(to_live(&json!({"name": "no id"})).is_err());
    }
}
