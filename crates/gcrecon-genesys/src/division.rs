//! `division`: authorization divisions.
//!
//! | manifest | wire (`AuthzDivision`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//!
//! The home division (`homeDivision: true`) is built in. Divisions carry no
//! `version`; the fingerprint of the attributes stands in.

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde_json::{json, Map, Value as Json};

use crate::http::Request;
use crate::listing::{self, ListSpec, NameLookup};
use crate::recover;
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

const ONE: &str = "/api/v2/authorization/divisions/{divisionId}";

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

pub async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    listing::fetch(&ctx.api, &SPEC, scope)
        .await?
        .into_listing(to_live)
}

pub async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    ctx.api
        .send_opt(Request::get(ONE).param("divisionId", id.as_str()))
        .await?
        .as_ref()
        .map(to_live)
        .transpose()
}

/// A POST; after a lost answer the division is looked up by name
/// (`GET ...divisions?name=`, one call) before it is sent again.
pub async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let body = to_wire(desired)?;
    let name = str_field(&body, "name").unwrap_or_default().to_owned();
    let request = Request::post(SPEC.list).json(body);
    let wire = recover::create(&ctx.api, &request, "division", &name, || {
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
                .param("divisionId", live.id.as_str())
                .json(to_wire(desired)?),
        )
        .await
        .map_err(|e| ctx.gone(e, Kind::Division, &live.id))?;
    to_live(&wire)
}

/// A division whose objects were deleted moments ago (clients, grants)
/// refuses its own delete with 400 until they are gone: retried for at most
/// [`crate::retry::DRAIN_WAIT`].
pub async fn delete(ctx: &Ctx, id: &GenesysId) -> Result<(), ProviderError> {
    crate::retry::while_draining(|| {
        ctx.api
            .delete_if_present(Request::delete(ONE).param("divisionId", id.as_str()))
    })
    .await
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
