//! `division`: authorization divisions.
//!
//! | manifest | wire (`AuthzDivision`) |
//! |---|---|
//! | `name` | `name` |
//! | `description` | `description` |
//!
//! The home division (`homeDivision: true`) is built in. Divisions carry no
//! `version`; the fingerprint of the attributes stands in.

use std::borrow::Cow;

use gcrecon_core::provider::{Created, GenesysId, LiveObject, ProviderError};
use gcrecon_core::value::Attrs;
use gcrecon_core::Kind;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::http::{BodyError, Page, WireEntity};
use crate::kinds::{OpFuture, RestKind, RestOps, Update};
use crate::listing::{ListSpec, NameLookup};
use crate::wire::{fingerprint, is_deleted_state, live_head, typed, AttrReader};
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
    page: Some(page),
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

/// What the mapping reads of an `AuthzDivision`; a listing's pages are
/// read straight into it, other fields skipped unparsed.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
    #[serde(rename = "homeDivision")]
    home: Option<bool>,
    #[serde(borrow)]
    state: Option<Cow<'a, str>>,
}

impl WireEntity for Wire<'_> {
    fn is_deleted(&self) -> bool {
        is_deleted_state(self.state.as_deref())
    }
}

impl Wire<'_> {
    fn live(self) -> Result<LiveObject, ProviderError> {
        let (id, name, attrs) = live_head(
            "division",
            self.id.as_deref(),
            self.name.as_deref(),
            self.description.as_deref(),
        )?;
        Ok(LiveObject {
            kind: Kind::Division,
            id,
            name,
            version: fingerprint(&attrs),
            attrs,
            builtin: self.home.unwrap_or(false),
        })
    }
}

/// A page of the division listing, straight from its body.
fn page(bytes: &[u8], page_size: u32) -> Result<Page<LiveObject>, BodyError> {
    Page::from_slice(bytes, page_size, Wire::live)
}

/// Wire → live object.
pub fn to_live(json: &Json) -> Result<LiveObject, ProviderError> {
    typed::<Wire<'_>>(json, "division")?.live()
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
    fn pages_read_typed_as_their_json_reads() {
        crate::kinds::assert_page_reads_as_json(
            &REST,
            &[
                json!({"id": "h", "name": "Home", "homeDivision": true, "objectCounts": {"queue": 3}}),
                json!({"id": "d2", "name": "Old", "state": "deleted"}),
                json!({"id": "d1", "name": "S\u{e4}les \"EMEA\"", "description": "line\nbreak",
                       "homeDivision": false, "selfUri": "/d1"}),
            ],
        );
    }

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
