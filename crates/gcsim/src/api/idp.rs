//! `/api/v2/identityproviders`: the singleton SAML providers
//! (`pureengage`, `adfs`, `generic`, `okta`) and custom providers.

use super::{ok, Call, Reply};
use crate::contract::contract;
use crate::error::{ApiError, ApiResult};
use crate::model::Org;
use crate::params::single_page;
use crate::wire::new_id;
use serde_json::{json, Map, Value};

/// (path segment, contract model, default name) of the singleton providers.
const KINDS: &[(&str, &str, &str)] = &[
    ("pureengage", "PureEngage", "PureEngage"),
    ("adfs", "ADFS", "ADFS"),
    ("generic", "GenericSAML", "Generic SAML"),
    ("okta", "Okta", "Okta"),
];

fn kind_of(call: &Call) -> ApiResult<(&'static str, &'static str, &'static str)> {
    let seg = call.op.path.rsplit('/').next().unwrap_or_default();
    KINDS
        .iter()
        .find(|(k, _, _)| *k == seg)
        .copied()
        .ok_or_else(|| ApiError::not_found("Identity provider", seg))
}

fn self_uri(kind: &str) -> String {
    format!("/api/v2/identityproviders/{kind}")
}

/// A stored provider in its model's wire shape.
fn render(kind: &str, doc: &Map<String, Value>) -> Value {
    let mut m = doc.clone();
    m.insert("selfUri".into(), json!(self_uri(kind)));
    Value::Object(m)
}

/// A stored provider cut to a model's fields (e.g. `SAMLProvider`).
fn cut(model: &str, v: &Value) -> Value {
    let fields = contract().models.get(model);
    let mut out = Map::new();
    if let (Some(fields), Some(obj)) = (fields, v.as_object()) {
        for (k, x) in obj {
            if fields.contains_key(k) {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    Value::Object(out)
}

/// `GET /api/v2/identityproviders`.
pub fn list(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["sso:provider:view"])?;
    let entities: Vec<Value> = org
        .identity_providers
        .iter()
        .map(|(k, doc)| cut("SAMLProvider", &render(k, doc)))
        .collect();
    ok(single_page(&call.path, entities))
}

/// `POST /api/v2/identityproviders`: a custom provider.
pub fn create_custom(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["sso:provider:add"])?;
    let body = call.require_body(&["CustomProvider"])?;
    let mut doc = body.as_object().cloned().unwrap_or_default();
    doc.retain(|_, v| !v.is_null());
    let id = new_id();
    doc.insert("id".into(), json!(id));
    doc.remove("selfUri");
    let key = format!("custom/{id}");
    let v = render(&key, &doc);
    org.identity_providers.insert(key, doc);
    ok(v)
}

/// `GET /api/v2/identityproviders/{kind}`: 404 until configured.
pub fn get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["sso:provider:view"])?;
    let (kind, _, _) = kind_of(call)?;
    let doc = org
        .identity_providers
        .get(kind)
        .ok_or_else(|| ApiError::not_found("Identity provider", kind))?;
    ok(render(kind, doc))
}

/// `PUT /api/v2/identityproviders/{kind}`: creates or replaces it; answers
/// an `IdentityProvider`.
pub fn put(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["sso:provider:add", "sso:provider:edit"])?;
    let (kind, model, default_name) = kind_of(call)?;
    let body = call.require_body(&[model])?;
    let mut doc = body.as_object().cloned().unwrap_or_default();
    doc.retain(|_, v| !v.is_null());
    doc.remove("selfUri");
    let id = org
        .identity_providers
        .get(kind)
        .and_then(|d| d.get("id").cloned())
        .unwrap_or_else(|| json!(new_id()));
    doc.insert("id".into(), id);
    doc.entry("name").or_insert(json!(default_name));
    doc.entry("disabled").or_insert(json!(false));
    let v = cut("IdentityProvider", &render(kind, &doc));
    org.identity_providers.insert(kind.to_string(), doc);
    ok(v)
}

/// `DELETE /api/v2/identityproviders/{kind}`.
pub fn delete(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["sso:provider:delete"])?;
    let (kind, _, _) = kind_of(call)?;
    if org.identity_providers.remove(kind).is_none() {
        return Err(ApiError::not_found("Identity provider", kind));
    }
    ok(json!({}))
}
