//! One place per kind: the [`KindOps`] every kind implements, the
//! declarative [`RestKind`] that gives most kinds their CRUD for free, and
//! the registry ([`ops`]) that [`crate::GenesysProvider`] dispatches
//! through.
//!
//! A kind whose objects live at a REST collection (`GET`/`POST` on the
//! listing path, `GET`/`PUT`/`DELETE` on the by-id path) is a [`RestKind`]:
//! its listing spec and its mapping between manifest keys and wire fields.
//! Implementing [`RestOps`] for it gives the five operations:
//!
//! | operation | default request |
//! |---|---|
//! | list | [`listing::fetch`] (every page, or only the managed objects) |
//! | read | `GET` by id; a 404 is "gone" |
//! | create | `POST` on the listing; after a lost answer, look up by name first ([`recover`]) |
//! | update | `PUT` by id with the whole body |
//! | delete | `DELETE` by id; a 404 is "already gone" |
//!
//! A kind whose listing is large (`role`, `group`, `division`) also gives
//! [`RestKind::page`]: its pages are read from their bodies straight into
//! a struct of the fields its mapping uses, and its `to_live` reads JSON
//! through the same struct.
//!
//! A kind overrides only what the service makes different (a role reads
//! itself before its `PUT`, a division forgets the data sources' cache). A
//! kind that differs in most operations (`group`, `integration`) or is no
//! REST collection (`role_grant`, `identity_provider`, `oauth_client`)
//! writes them as functions of its module and implements [`KindOps`] with
//! [`kind_ops_from_functions`], still using the [`RestKind`] pieces that
//! fit (`post`, `list_detailed`, `delete`).
//!
//! Adding a kind: a module in `kinds/` with its mapping and an impl, its
//! `mod` line and one entry in [`KINDS`], both here. A test checks that
//! every [`Kind`] has exactly one entry.

use std::future::Future;

use futures_util::future::BoxFuture;
use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::Attrs;
use gcrecon_core::Kind;
use serde_json::Value as Json;

use crate::http::{for_each_bounded, BodyError, Page, Request};
use crate::listing::{self, Decode, Found, ListSpec};
use crate::wire::str_field;
use crate::{recover, Ctx};

pub(crate) mod division;
pub(crate) mod group;
pub(crate) mod identity_provider;
pub(crate) mod integration;
pub(crate) mod oauth_client;
pub(crate) mod queue;
pub(crate) mod role;
pub(crate) mod role_grant;

/// What every operation of a kind answers.
pub(crate) type OpFuture<'a, T> = BoxFuture<'a, Result<T, ProviderError>>;

/// What an update is given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Update<'a> {
    /// The object as the refresh saw it.
    pub live: &'a LiveObject,
    /// The attributes gcrecon last applied, if it did.
    pub previous: Option<&'a Attrs>,
    /// The manifest's attributes.
    pub desired: &'a Attrs,
    /// The keys of `desired` the plan found different from `live`.
    pub changed: &'a [String],
}

impl Update<'_> {
    /// Whether the plan found `key` changed.
    pub fn changed(&self, key: &str) -> bool {
        self.changed.iter().any(|k| k == key)
    }
}

/// A list endpoint a refresh may page through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListEndpoint {
    /// The manifest kind it lists (`role`), or `permission` for the
    /// permission catalog.
    pub kind: &'static str,
    /// The path (`/api/v2/authorization/roles`).
    pub path: &'static str,
    /// The largest `pageSize` it accepts; `None` when one call answers
    /// every object (`GET /api/v2/oauth/clients`).
    pub page_size: Option<u32>,
}

/// The operations of one kind.
pub(crate) trait KindOps: Sync {
    /// The kind.
    fn kind(&self) -> Kind;

    /// The list endpoint a whole-org refresh of the kind pages through, if
    /// it has one of its own.
    fn endpoint(&self) -> Option<ListEndpoint>;

    /// The audit log's entity type of the kind (drift attribution);
    /// `None` when the audit log does not record it.
    fn audit_entity(&self) -> Option<&'static str>;

    fn list<'a>(&'a self, ctx: &'a Ctx, scope: ListScope<'a>) -> OpFuture<'a, Listing>;

    fn read<'a>(&'a self, ctx: &'a Ctx, id: &'a GenesysId) -> OpFuture<'a, Option<LiveObject>>;

    fn create<'a>(&'a self, ctx: &'a Ctx, desired: &'a Attrs) -> OpFuture<'a, Created>;

    fn update<'a>(&'a self, ctx: &'a Ctx, update: Update<'a>) -> OpFuture<'a, LiveObject>;

    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        id: &'a GenesysId,
        previous: Option<&'a Attrs>,
    ) -> OpFuture<'a, ()>;
}

/// Reads a listing's page body straight into live objects.
pub(crate) type TypedPage = fn(&[u8], u32) -> Result<Page<LiveObject>, BodyError>;

/// A kind whose objects are a REST collection: how it is listed and how
/// its manifest keys map to wire fields.
#[derive(Debug)]
pub(crate) struct RestKind {
    pub kind: Kind,
    /// The audit log's entity type (`Division`); `None`: not recorded.
    pub audit_entity: Option<&'static str>,
    /// The listing, the by-id path and the name lookup. The by-id path is
    /// required: read, update and delete use it.
    pub listing: ListSpec,
    /// Wire object → live object.
    pub to_live: fn(&Json) -> Result<LiveObject, ProviderError>,
    /// A page of the listing → live objects, read straight from its body
    /// into the kind's typed view of the wire object; `None`: each entity
    /// is read as JSON and mapped by `to_live`.
    pub page: Option<TypedPage>,
    /// Manifest attributes → the body of a create or update.
    pub to_wire: fn(&Attrs) -> Result<Json, ProviderError>,
}

impl RestKind {
    /// The by-id request `method(template)` for `id`, without the
    /// listing's extra query.
    fn one(&self, method: fn(&'static str) -> Request, id: &str) -> Result<Request, ProviderError> {
        let (template, param) = self
            .listing
            .by_id
            .ok_or_else(|| no_by_id(self.listing.what))?;
        Ok(method(template).param(param, id))
    }

    /// Its listing as a [`ListEndpoint`].
    pub fn endpoint(&self) -> Option<ListEndpoint> {
        Some(ListEndpoint {
            kind: self.kind.as_str(),
            path: self.listing.list,
            page_size: Some(self.listing.page_size),
        })
    }

    /// Every object, or only those of `scope`.
    pub async fn list(&self, ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
        let to_live = self.to_live;
        let one = |w: Json| to_live(&w);
        let json_page = |bytes: &[u8], page_size: u32| {
            Page::from_slice(bytes, page_size, |w: Json| to_live(&w))
        };
        let decode = Decode {
            one: &one,
            page: match &self.page {
                Some(typed) => typed,
                None => &json_page,
            },
        };
        Ok(listing::fetch(&ctx.api, &self.listing, scope, decode)
            .await?
            .into_listing())
    }

    /// Like [`RestKind::list`], but when `detailed` each wire object is
    /// mapped by `detail`, which may read what the listing does not carry
    /// (a call per object, `concurrency` at a time).
    pub async fn list_detailed<F, Fut>(
        &self,
        ctx: &Ctx,
        scope: ListScope<'_>,
        detailed: bool,
        detail: F,
    ) -> Result<Listing, ProviderError>
    where
        F: FnMut(Json) -> Fut,
        Fut: Future<Output = Result<LiveObject, ProviderError>>,
    {
        if !detailed {
            return self.list(ctx, scope).await;
        }
        let found: Found = listing::fetch(&ctx.api, &self.listing, scope, Decode::wire()).await?;
        Ok(Listing {
            objects: for_each_bounded(found.entities, ctx.api.concurrency(), detail).await?,
            complete: found.complete,
        })
    }

    /// One object by id; `None` on a 404.
    pub async fn read(
        &self,
        ctx: &Ctx,
        id: &GenesysId,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(request) = self.listing.read_request(id.as_str()) else {
            return Err(no_by_id(self.listing.what));
        };
        ctx.api
            .send_opt(request)
            .await?
            .as_ref()
            .map(self.to_live)
            .transpose()
    }

    /// `POST` `body` on the listing path and answer the created wire
    /// object; after a lost answer the object is looked up by name before
    /// the body is sent again.
    pub async fn post(&self, ctx: &Ctx, body: Json) -> Result<Json, ProviderError> {
        let name = str_field(&body, "name").unwrap_or_default().to_owned();
        let request = Request::post(self.listing.list).json(body);
        Ok(
            recover::create(&ctx.api, &request, self.listing.what, &name, || {
                listing::find_by_name(&ctx.api, &self.listing, &name)
            })
            .await?
            .into_wire(),
        )
    }

    /// Create from the desired attributes.
    pub async fn create(&self, ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
        let wire = self.post(ctx, (self.to_wire)(desired)?).await?;
        Ok(Created {
            object: (self.to_live)(&wire)?,
            secret: None,
        })
    }

    /// `PUT` `body` by id and answer the object as the service returns it.
    pub async fn put(
        &self,
        ctx: &Ctx,
        id: &GenesysId,
        body: Json,
    ) -> Result<LiveObject, ProviderError> {
        let wire = ctx
            .api
            .send(self.one(Request::put, id.as_str())?.json(body))
            .await
            .map_err(|e| ctx.gone(e, self.kind, id))?;
        (self.to_live)(&wire)
    }

    /// Update with the whole desired body.
    pub async fn update(&self, ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
        self.put(ctx, &update.live.id, (self.to_wire)(update.desired)?)
            .await
    }

    /// Delete by id; already gone is done.
    pub async fn delete(&self, ctx: &Ctx, id: &GenesysId) -> Result<(), ProviderError> {
        ctx.api
            .delete_if_present(self.one(Request::delete, id.as_str())?)
            .await
    }
}

/// [`KindOps`] for a kind whose module does the work in async functions
/// `list(ctx, scope)`, `read(ctx, id)`, `create(ctx, desired)`,
/// `update(ctx, update)` and `delete(ctx, id, previous)`: the impl only
/// boxes their futures. Given the type, the kind, its list endpoint and
/// its audit entity type.
macro_rules! kind_ops_from_functions {
    ($ty:ident, $kind:expr, $endpoint:expr, $audit:expr) => {
        impl $crate::kinds::KindOps for $ty {
            fn kind(&self) -> gcrecon_core::Kind {
                $kind
            }

            fn endpoint(&self) -> Option<$crate::kinds::ListEndpoint> {
                $endpoint
            }

            fn audit_entity(&self) -> Option<&'static str> {
                $audit
            }

            fn list<'a>(
                &'a self,
                ctx: &'a $crate::Ctx,
                scope: gcrecon_core::provider::ListScope<'a>,
            ) -> $crate::kinds::OpFuture<'a, gcrecon_core::provider::Listing> {
                Box::pin(list(ctx, scope))
            }

            fn read<'a>(
                &'a self,
                ctx: &'a $crate::Ctx,
                id: &'a gcrecon_core::provider::GenesysId,
            ) -> $crate::kinds::OpFuture<'a, Option<gcrecon_core::provider::LiveObject>> {
                Box::pin(read(ctx, id))
            }

            fn create<'a>(
                &'a self,
                ctx: &'a $crate::Ctx,
                desired: &'a gcrecon_core::value::Attrs,
            ) -> $crate::kinds::OpFuture<'a, gcrecon_core::provider::Created> {
                Box::pin(create(ctx, desired))
            }

            fn update<'a>(
                &'a self,
                ctx: &'a $crate::Ctx,
                change: $crate::kinds::Update<'a>,
            ) -> $crate::kinds::OpFuture<'a, gcrecon_core::provider::LiveObject> {
                Box::pin(update(ctx, change))
            }

            fn delete<'a>(
                &'a self,
                ctx: &'a $crate::Ctx,
                id: &'a gcrecon_core::provider::GenesysId,
                previous: Option<&'a gcrecon_core::value::Attrs>,
            ) -> $crate::kinds::OpFuture<'a, ()> {
                Box::pin(delete(ctx, id, previous))
            }
        }
    };
}
pub(crate) use kind_ops_from_functions;

/// A [`RestKind`] without the by-id path it needs.
fn no_by_id(what: &str) -> ProviderError {
    ProviderError::Invalid(format!(
        "{what} has no by-id path in its listing spec (gcrecon-genesys kinds.rs)"
    ))
}

/// A kind described by a [`RestKind`]: every operation has a default over
/// it; override only what the service makes different.
pub(crate) trait RestOps: Sync {
    fn rest(&self) -> &'static RestKind;

    fn list<'a>(&'a self, ctx: &'a Ctx, scope: ListScope<'a>) -> OpFuture<'a, Listing> {
        Box::pin(self.rest().list(ctx, scope))
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, id: &'a GenesysId) -> OpFuture<'a, Option<LiveObject>> {
        Box::pin(self.rest().read(ctx, id))
    }

    fn create<'a>(&'a self, ctx: &'a Ctx, desired: &'a Attrs) -> OpFuture<'a, Created> {
        Box::pin(self.rest().create(ctx, desired))
    }

    fn update<'a>(&'a self, ctx: &'a Ctx, update: Update<'a>) -> OpFuture<'a, LiveObject> {
        Box::pin(self.rest().update(ctx, update))
    }

    fn delete<'a>(&'a self, ctx: &'a Ctx, id: &'a GenesysId) -> OpFuture<'a, ()> {
        Box::pin(self.rest().delete(ctx, id))
    }
}

impl<T: RestOps> KindOps for T {
    fn kind(&self) -> Kind {
        self.rest().kind
    }

    fn endpoint(&self) -> Option<ListEndpoint> {
        self.rest().endpoint()
    }

    fn audit_entity(&self) -> Option<&'static str> {
        self.rest().audit_entity
    }

    fn list<'a>(&'a self, ctx: &'a Ctx, scope: ListScope<'a>) -> OpFuture<'a, Listing> {
        RestOps::list(self, ctx, scope)
    }

    fn read<'a>(&'a self, ctx: &'a Ctx, id: &'a GenesysId) -> OpFuture<'a, Option<LiveObject>> {
        RestOps::read(self, ctx, id)
    }

    fn create<'a>(&'a self, ctx: &'a Ctx, desired: &'a Attrs) -> OpFuture<'a, Created> {
        RestOps::create(self, ctx, desired)
    }

    fn update<'a>(&'a self, ctx: &'a Ctx, update: Update<'a>) -> OpFuture<'a, LiveObject> {
        RestOps::update(self, ctx, update)
    }

    fn delete<'a>(
        &'a self,
        ctx: &'a Ctx,
        id: &'a GenesysId,
        _previous: Option<&'a Attrs>,
    ) -> OpFuture<'a, ()> {
        RestOps::delete(self, ctx, id)
    }
}

/// Every kind, once.
static KINDS: [&dyn KindOps; Kind::ALL.len()] = [
    &division::Division,
    &role::Role,
    &group::Group,
    &role_grant::RoleGrant,
    &oauth_client::OauthClient,
    &integration::Integration,
    &identity_provider::IdentityProvider,
    &queue::Queue,
];

/// The operations of `kind`.
pub(crate) fn ops(kind: Kind) -> &'static dyn KindOps {
    KINDS
        .iter()
        .copied()
        .find(|k| k.kind() == kind)
        .unwrap_or_else(|| unreachable!("every kind is in KINDS (checked by a test): {kind}"))
}

/// The list endpoints a whole-org refresh pages through: one per kind
/// that has its own, then the permission catalog (read when roles are
/// managed).
pub fn list_endpoints() -> Vec<ListEndpoint> {
    KINDS
        .iter()
        .filter_map(|k| k.endpoint())
        .chain([crate::data::PERMISSION_CATALOG])
        .collect()
}

/// Checks that `rest`'s typed page reader reads a listing page of
/// `entities` as `to_live` reads each entity's JSON, deleted ones dropped.
#[cfg(test)]
pub(crate) fn assert_page_reads_as_json(rest: &RestKind, entities: &[Json]) {
    let page = rest.page.expect("the kind reads pages typed");
    let body = serde_json::json!({
        "entities": entities,
        "pageSize": 100, "pageNumber": 1, "total": 250,
        "selfUri": "/x?pageNumber=1", "nextUri": "/x?pageNumber=2",
    })
    .to_string();
    let typed = page(body.as_bytes(), 100).unwrap_or_else(|e| panic!("{:?}", e));
    let expected: Vec<LiveObject> = entities
        .iter()
        .filter(|e| !crate::wire::is_deleted(e))
        .map(|e| (rest.to_live)(e).unwrap())
        .collect();
    assert!(
        expected.len() < entities.len(),
        "the sample holds a deleted entity"
    );
    assert_eq!(typed.entities, expected);
    assert_eq!(
        (typed.total, typed.page_count, typed.has_next),
        (Some(250), Some(3), true)
    );
    let without_id = serde_json::json!({"entities": [{"name": "x"}]}).to_string();
    assert!(matches!(
        page(without_id.as_bytes(), 100),
        Err(BodyError::Provider(ProviderError::Transport(m))) if m.contains("without an `id`")
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_exactly_one_entry() {
        for kind in Kind::ALL {
            let n = KINDS.iter().filter(|k| k.kind() == kind).count();
            assert_eq!(n, 1, "{kind} has {n} entries in KINDS");
            assert_eq!(ops(kind).kind(), kind);
        }
        assert_eq!(KINDS.len(), Kind::ALL.len());
    }

    #[test]
    fn list_endpoints_name_each_listing_once() {
        let endpoints = list_endpoints();
        let role = endpoints.iter().find(|e| e.kind == "role").unwrap();
        assert_eq!(role.path, "/api/v2/authorization/roles");
        assert_eq!(role.page_size, Some(100));
        let clients = endpoints.iter().find(|e| e.kind == "oauth_client").unwrap();
        assert_eq!(clients.page_size, None, "one call lists every client");
        assert_eq!(
            endpoints
                .iter()
                .find(|e| e.kind == "group")
                .unwrap()
                .page_size,
            Some(500)
        );
        assert!(endpoints.iter().any(|e| e.kind == "permission"));
        assert!(!endpoints.iter().any(|e| e.kind == "role_grant"));
        let mut kinds: Vec<_> = endpoints.iter().map(|e| e.kind).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), endpoints.len());
    }

    #[test]
    fn update_knows_its_changed_keys() {
        let live = LiveObject {
            kind: Kind::Group,
            id: GenesysId::from("g"),
            name: "g".into(),
            version: "1".into(),
            attrs: Attrs::new(),
            builtin: false,
        };
        let desired = Attrs::new();
        let changed = ["members".to_owned()];
        let u = Update {
            live: &live,
            previous: None,
            desired: &desired,
            changed: &changed,
        };
        assert!(u.changed("members"));
        assert!(!u.changed("name"));
    }
}
