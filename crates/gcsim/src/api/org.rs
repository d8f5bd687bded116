//! `/api/v2/organizations/me` and `/api/v2/tokens/me`.

use super::{no_content, ok, Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::model::{Org, Subject};
use crate::wire::{iso, str_field};
use axum::http::StatusCode;
use serde_json::{json, Map, Value};
use std::time::{Duration, SystemTime};

/// Organization fields a client may change.
const WRITABLE: &[&str] = &[
    "defaultLanguage",
    "defaultCountryCode",
    "domain",
    "supportURI",
    "voicemailEnabled",
    "defaultSiteId",
];

/// Wire shape of the org (`Organization`).
pub fn render_org(org: &Org) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(org.info.id));
    m.insert("name".into(), json!(org.info.name));
    m.insert("defaultLanguage".into(), json!("en"));
    m.insert("defaultCountryCode".into(), json!("US"));
    m.insert("thirdPartyOrgName".into(), json!(org.info.short_name));
    m.insert("domain".into(), json!(org.info.short_name));
    m.insert("voicemailEnabled".into(), json!(true));
    for (k, v) in &org.info.doc {
        m.insert(k.clone(), v.clone());
    }
    m.insert("version".into(), json!(org.info.version));
    m.insert("state".into(), json!("active"));
    m.insert("productPlatform".into(), json!("GenesysCloud"));
    m.insert("features".into(), json!({"purecloud": true}));
    m.insert(
        "selfUri".into(),
        json!(format!("/api/v2/organizations/{}", org.info.id)),
    );
    Value::Object(m)
}

/// `GET /api/v2/organizations/me`: any authenticated caller.
pub fn get_org(org: &mut Org, _call: &Call) -> ApiResult<Reply> {
    ok(render_org(org))
}

/// `PUT /api/v2/organizations/me`: needs the current `version`; the short
/// name cannot change.
pub fn put_org(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(
        org,
        &["directory:organization:admin", "admin:organization:edit"],
    )?;
    let body = call.require_body(&["Organization"])?;
    let version = body
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::invalid("version", "The field \"version\" is required"))?;
    if version != org.info.version {
        return Err(ApiError::stale_version());
    }
    if let Some(s) = str_field(body, "thirdPartyOrgName") {
        if s != org.info.short_name {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad.request",
                "The organization short name (thirdPartyOrgName) cannot be changed",
            ));
        }
    }
    if let Some(n) = str_field(body, "name").filter(|s| !s.trim().is_empty()) {
        org.info.name = n.to_string();
    }
    for k in WRITABLE {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            org.info.doc.insert((*k).into(), v.clone());
        }
    }
    org.info.version += 1;
    ok(render_org(org))
}

/// `TokenInfo` of the calling token.
pub fn token_info(org: &Org, call: &Call) -> Value {
    let token = org.tokens.get(&call.caller.token);
    let named = json!({"id": org.info.id, "name": org.info.name});
    let client = match &call.caller.subject {
        Subject::Client(id) => org.clients.get(id).map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "dateCreated": iso(c.date_created),
                "dateModified": iso(c.date_modified),
                "authorizedGrantType": c.doc.get("authorizedGrantType").cloned().unwrap_or(json!("CLIENT-CREDENTIALS")),
                "state": c.state(),
                "organization": named,
            })
        }),
        Subject::User(_) => Some(json!({
            "id": org.browser_client_id,
            "name": "Genesys Cloud (browser login)",
            "authorizedGrantType": "TOKEN",
            "state": "active",
            "organization": named,
        })),
    };
    let idles = token.map(|t| {
        let left = t.expires_at.saturating_duration_since(call.now);
        iso(SystemTime::now() + Duration::from_secs(left.as_secs()))
    });
    json!({
        "organization": named,
        "homeOrganization": named,
        "authorizedScope": [],
        "OAuthClient": client,
        "dateTokenIdles": idles,
    })
}

/// `GET /api/v2/tokens/me`.
pub fn token_me(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    ok(token_info(org, call))
}

/// `HEAD /api/v2/tokens/me`.
pub fn head_token_me(_org: &mut Org, _call: &Call) -> ApiResult<Reply> {
    Ok(Reply::Empty(StatusCode::OK))
}

/// `DELETE /api/v2/tokens/me`: revokes the calling token.
pub fn delete_token_me(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    org.tokens.remove(&call.caller.token);
    no_content()
}
