//! `identity_provider`: org-wide SSO providers. The object id is the
//! provider name (`pureengage`), which is also the path
//! (`/api/v2/identityproviders/pureengage`).
//!
//! Attributes are `provider` plus the provider's own wire fields by their
//! wire names (`issuerURI`, `ssoTargetURI`, `certificate`, `disabled`, ...),
//! compared as a subset. `PUT` creates and updates; `DELETE` deletes; a 404
//! on `GET` means there is none.

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde_json::{Map, Value as Json};

use crate::http::Request;
use crate::kinds::{kind_ops_from_functions, Update};
use crate::wire::{fingerprint, str_field, AttrReader};
use crate::Ctx;

/// Providers gcrecon manages, with their path templates.
const PROVIDERS: &[(&str, &str)] = &[("pureengage", "/api/v2/identityproviders/pureengage")];

/// Identity providers: one fixed path per provider, `PUT` to create.
pub struct IdentityProvider;

// Each provider is read at its own path; there is no listing.
// The audit log does not record identity providers.
kind_ops_from_functions!(IdentityProvider, Kind::IdentityProvider, None, None);

/// Wire fields that are not settings.
const READ_ONLY: &[&str] = &["id", "selfUri"];

fn path_of(provider: &str) -> Result<&'static str, ProviderError> {
    PROVIDERS
        .iter()
        .find(|(name, _)| *name == provider)
        .map(|(_, path)| *path)
        .ok_or_else(|| {
            ProviderError::Invalid(format!(
                "identity_provider `provider` `{provider}` is not supported (supported: {})",
                PROVIDERS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Wire → live object.
pub fn to_live(provider: &str, wire: &Json) -> LiveObject {
    let mut attrs = Attrs::new();
    for (k, v) in wire.as_object().into_iter().flatten() {
        if !READ_ONLY.contains(&k.as_str()) && !v.is_null() {
            attrs.insert(k.clone(), Value::from_json(v));
        }
    }
    attrs.insert("provider".into(), Value::from(provider));
    LiveObject {
        kind: Kind::IdentityProvider,
        id: GenesysId::from(provider),
        name: str_field(wire, "name").unwrap_or(provider).to_owned(),
        version: fingerprint(&attrs),
        attrs,
        builtin: false,
    }
}

/// Attributes → the provider's body (every key but `provider`).
pub fn to_wire(attrs: &Attrs) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::IdentityProvider, attrs);
    let mut body = Map::new();
    for key in attrs.keys().filter(|k| k.as_str() != "provider") {
        if let Some(v) = r.json(key)? {
            body.insert(key.clone(), v);
        }
    }
    Ok(Json::Object(body))
}

async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    let path = path_of(id.as_str())?;
    Ok(ctx
        .api
        .send_opt(Request::get(path))
        .await?
        .map(|w| to_live(id.as_str(), &w)))
}

async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    let wanted: Vec<&str> = match scope {
        ListScope::All => PROVIDERS.iter().map(|(n, _)| *n).collect(),
        ListScope::Only { ids, names } => PROVIDERS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| ids.iter().any(|i| i.as_str() == *n) || names.iter().any(|m| m == n))
            .collect(),
    };
    let mut objects = Vec::new();
    for provider in wanted {
        if let Some(o) = read(ctx, &GenesysId::from(provider)).await? {
            objects.push(o);
        }
    }
    Ok(Listing {
        objects,
        complete: matches!(scope, ListScope::All),
    })
}

async fn put(ctx: &Ctx, provider: &str, attrs: &Attrs) -> Result<LiveObject, ProviderError> {
    let path = path_of(provider)?;
    let answer = ctx
        .api
        .send(Request::put(path).json(to_wire(attrs)?))
        .await?;
    // The PUT answers an `IdentityProvider` summary; read the provider back
    // when it does not carry the settings.
    match read(ctx, &GenesysId::from(provider)).await? {
        Some(live) => Ok(live),
        None => Ok(to_live(provider, &answer)),
    }
}

async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let provider = AttrReader::new(Kind::IdentityProvider, desired).required_string("provider")?;
    Ok(Created {
        object: put(ctx, &provider, desired).await?,
        secret: None,
    })
}

async fn update(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let (live, desired) = (update.live, update.desired);
    // A PUT replaces the provider: keep the live fields the manifest leaves out.
    let mut merged = live.attrs.clone();
    merged.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
    put(ctx, live.id.as_str(), &merged).await
}

async fn delete(ctx: &Ctx, id: &GenesysId, _previous: Option<&Attrs>) -> Result<(), ProviderError> {
    ctx.api
        .delete_if_present(Request::delete(path_of(id.as_str())?))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_pass_through_by_wire_name() {
        let wire = json!({"id": "x", "name": "PureEngage", "issuerURI": "https://idp", "disabled": false, "selfUri": "/s"});
        let live = to_live("pureengage", &wire);
        assert_eq!(live.id.as_str(), "pureengage");
        assert_eq!(live.attrs["provider"], Value::from("pureengage"));
        assert!(!live.attrs.contains_key("selfUri") && !live.attrs.contains_key("id"));
        let body = to_wire(&live.attrs).unwrap();
        assert_eq!(
            body,
            json!({"name": "PureEngage", "issuerURI": "https://idp", "disabled": false})
        );
        assert!(path_of("okta").is_err());
    }
}
