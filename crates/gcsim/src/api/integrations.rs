//! `/api/v2/integrations`: integration types, instances (new ones start
//! `DISABLED`), their versioned `config/current` (validated against the
//! type's properties) and credentials.

use super::{no_content, ok, required_str, Call, Reply};
use crate::catalog::IntegrationTypeSpec;
use crate::error::{ApiError, ApiResult};
use crate::model::{Credential, Integration, IntegrationConfig, Org};
use crate::params::{page_of, MAX_PAGE_SIZE};
use crate::wire::{iso, new_id, str_field};
use serde_json::{json, Map, Value};
use std::time::SystemTime;

/// Wire shape of an integration type (`IntegrationType`).
pub fn render_type(t: &IntegrationTypeSpec) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "provider": t.provider,
        "category": t.category,
        "images": [],
        "configPropertiesSchemaUri": format!("/api/v2/integrations/types/{}/configschemas/properties", t.id),
        "configAdvancedSchemaUri": format!("/api/v2/integrations/types/{}/configschemas/advanced", t.id),
        "helpUri": "https://help.mypurecloud.com/",
        "vendorName": "Genesys",
        "credentials": t.credentials,
        "nonInstallable": false,
        "maxInstances": t.max_instances,
        "userPermissions": t.user_permissions,
        "vendorOAuthClientIds": [],
        "selfUri": format!("/api/v2/integrations/types/{}", t.id),
    })
}

fn type_summary(org: &Org, type_id: &str) -> Value {
    match org.integration_type(type_id) {
        Some(t) => json!({
            "id": t.id,
            "name": t.name,
            "description": t.description,
            "provider": t.provider,
            "category": t.category,
            "selfUri": format!("/api/v2/integrations/types/{}", t.id),
        }),
        None => json!({"id": type_id, "selfUri": format!("/api/v2/integrations/types/{type_id}")}),
    }
}

/// Wire shape of an integration's current config (`IntegrationConfiguration`).
pub fn render_config(i: &Integration) -> Value {
    json!({
        "id": i.id,
        "name": i.name,
        "version": i.config.version,
        "properties": i.config.properties,
        "advanced": i.config.advanced,
        "notes": i.config.notes,
        "credentials": i.config.credentials,
        "selfUri": format!("/api/v2/integrations/{}/config/current", i.id),
    })
}

/// Wire shape of an integration (`Integration`); the full current config
/// with `expand=config.current`.
pub fn render_integration(org: &Org, i: &Integration, expand_config: bool) -> Value {
    let (code, effective) = match i.intended_state.as_str() {
        "ENABLED" => ("ACTIVE", "Active"),
        _ => ("INACTIVE", "Inactive"),
    };
    let current = if expand_config {
        render_config(i)
    } else {
        json!({
            "id": i.id,
            "name": i.name,
            "version": i.config.version,
            "selfUri": format!("/api/v2/integrations/{}/config/current", i.id),
        })
    };
    json!({
        "id": i.id,
        "name": i.name,
        "integrationType": type_summary(org, &i.type_id),
        "notes": i.config.notes,
        "intendedState": i.intended_state,
        "config": {"current": current},
        "reportedState": {
            "code": code,
            "effective": effective,
            "lastUpdated": iso(i.state_changed),
        },
        "selfUri": format!("/api/v2/integrations/{}", i.id),
    })
}

fn integration_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a Integration> {
    org.integrations
        .get(id)
        .ok_or_else(|| ApiError::not_found("Integration", id))
}

/// `GET /api/v2/integrations/types`.
pub fn list_types(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:view"])?;
    let mut types: Vec<&IntegrationTypeSpec> = org.integration_types.iter().collect();
    types.sort_by(|a, b| a.id.cmp(&b.id));
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        types,
        render_type,
    )?)
}

/// `GET /api/v2/integrations/types/{typeId}`.
pub fn get_type(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:view"])?;
    let id = call.param("typeId");
    let t = org
        .integration_type(id)
        .ok_or_else(|| ApiError::not_found("Integration type", id))?;
    ok(render_type(t))
}

/// `GET /api/v2/integrations/types/{typeId}/configschemas/{configType}`.
pub fn type_schema(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:view"])?;
    let id = call.param("typeId");
    let t = org
        .integration_type(id)
        .ok_or_else(|| ApiError::not_found("Integration type", id))?;
    match call.param("configType") {
        "properties" => ok(t.properties_schema()),
        "advanced" => ok(json!({
            "id": format!("/api/v2/integrations/types/{id}/configschemas/advanced"),
            "$schema": "http://json-schema.org/draft-04/schema#",
            "title": format!("{} advanced", t.name),
            "type": "object",
            "required": [],
            "properties": {},
        })),
        other => Err(ApiError::not_found("Config schema", other)),
    }
}

/// `GET /api/v2/integrations`.
pub fn list(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:view"])?;
    let ids = call.query.list("ids");
    let ty = call.query.get("integrationType");
    let reported = call.query.get("reportedState");
    let expand = call.query.expands("config.current");
    let items: Vec<&Integration> = org
        .integrations
        .iter()
        .filter(|i| call.listed(i.visible_at))
        .filter(|i| ids.is_empty() || ids.contains(&i.id))
        .filter(|i| ty.is_none_or(|t| i.type_id == t))
        .filter(|i| {
            reported.is_none_or(|r| {
                let code = if i.intended_state == "ENABLED" {
                    "ACTIVE"
                } else {
                    "INACTIVE"
                };
                code.eq_ignore_ascii_case(r)
            })
        })
        .collect();
    let org_ref: &Org = org;
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        |i| render_integration(org_ref, i, expand),
    )?)
}

/// `POST /api/v2/integrations` `{integrationType: {id}, name?}`.
pub fn create(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:add"])?;
    let body = call.require_body(&["CreateIntegrationRequest", "Integration"])?;
    let type_id = body
        .get("integrationType")
        .and_then(|t| str_field(t, "id"))
        .ok_or_else(|| ApiError::invalid("integrationType", "integrationType.id is required"))?;
    let t = org.integration_type(type_id).ok_or_else(|| {
        ApiError::invalid(
            "integrationType",
            format!("Unknown integration type \"{type_id}\" (see GET /api/v2/integrations/types)"),
        )
    })?;
    if let Some(max) = t.max_instances {
        let n = org
            .integrations
            .iter()
            .filter(|i| i.type_id == t.id)
            .count();
        if n >= max as usize {
            return Err(ApiError::bad_request(format!(
                "Integration type \"{}\" allows at most {max} instance(s)",
                t.id
            )));
        }
    }
    let name = str_field(body, "name")
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| t.name.clone());
    let i = Integration {
        id: new_id(),
        name,
        type_id: t.id.clone(),
        intended_state: "DISABLED".into(),
        config: IntegrationConfig {
            version: 1,
            properties: Map::new(),
            advanced: json!({}),
            notes: str_field(body, "notes").map(str::to_string),
            credentials: Map::new(),
        },
        state_changed: SystemTime::now(),
        visible_at: call.visible_at(),
    };
    let v = render_integration(org, &i, false);
    org.integrations.insert(i);
    ok(v)
}

/// `GET /api/v2/integrations/{integrationId}`.
pub fn get(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:view"])?;
    let i = integration_or_404(org, call.param("integrationId"))?;
    ok(render_integration(
        org,
        i,
        call.query.expands("config.current"),
    ))
}

/// `PATCH /api/v2/integrations/{integrationId}`: sets `intendedState`.
pub fn patch(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:edit"])?;
    let id = call.param("integrationId").to_string();
    integration_or_404(org, &id)?;
    let body = call.require_body(&["Integration"])?;
    let state = str_field(body, "intendedState").map(str::to_string);
    let notes = str_field(body, "notes").map(str::to_string);
    org.integrations.update(&id, |i| {
        if let Some(s) = state {
            if i.intended_state != s {
                i.intended_state = s;
                i.state_changed = SystemTime::now();
            }
        }
        if notes.is_some() {
            i.config.notes = notes;
        }
    });
    let i = integration_or_404(org, &id)?;
    ok(render_integration(
        org,
        i,
        call.query.expands("config.current"),
    ))
}

/// `DELETE /api/v2/integrations/{integrationId}`: answers the deleted integration.
pub fn delete(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:delete"])?;
    let id = call.param("integrationId").to_string();
    let v = render_integration(org, integration_or_404(org, &id)?, false);
    org.integrations.remove(&id);
    ok(v)
}

/// `GET /api/v2/integrations/{integrationId}/config/current`.
pub fn get_config(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:view"])?;
    let i = integration_or_404(org, call.param("integrationId"))?;
    ok(render_config(i))
}

/// Validates a config body's properties and credentials for an integration.
pub fn check_config(org: &Org, i: &Integration, body: &Value) -> ApiResult<()> {
    let t = org
        .integration_type(&i.type_id)
        .ok_or_else(|| ApiError::bad_request(format!("Unknown integration type {}", i.type_id)))?;
    let empty = Map::new();
    let props = match body.get("properties") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::invalid(
                "properties",
                "properties must be a JSON object",
            ))
        }
    };
    t.check_properties(props)
        .map_err(|m| ApiError::invalid("properties", m))?;
    if let Some(creds) = body.get("credentials").and_then(Value::as_object) {
        for (k, v) in creds {
            let cid = str_field(v, "id").unwrap_or_default();
            if !org.credentials.contains(cid) {
                return Err(ApiError::invalid(
                    "credentials",
                    format!("Credential \"{k}\" refers to an unknown credential id \"{cid}\""),
                ));
            }
        }
    }
    Ok(())
}

/// `PUT /api/v2/integrations/{integrationId}/config/current`: needs the
/// current `version`; the properties must fit the type.
pub fn put_config(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["integrations:integration:edit"])?;
    let id = call.param("integrationId").to_string();
    let i = integration_or_404(org, &id)?;
    let body = call.require_body(&["IntegrationConfiguration"])?;
    let version = body
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::invalid("version", "The field \"version\" is required"))?;
    if version != i.config.version {
        return Err(ApiError::stale_version());
    }
    check_config(org, i, body)?;
    let name = str_field(body, "name")
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string);
    org.integrations
        .update(&id, |i| apply_config(i, body, name));
    let i = integration_or_404(org, &id)?;
    ok(render_config(i))
}

/// Applies a (validated) config body to an integration and bumps its version.
pub fn apply_config(i: &mut Integration, body: &Value, name: Option<String>) {
    if let Some(n) = name {
        i.name = n;
    }
    i.config.properties = body
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    i.config.advanced = body
        .get("advanced")
        .filter(|v| !v.is_null())
        .cloned()
        .unwrap_or_else(|| json!({}));
    i.config.notes = str_field(body, "notes").map(str::to_string);
    i.config.credentials = body
        .get("credentials")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    i.config.version += 1;
}

// -------------------------------------------------------------- credentials

fn render_credential_info(c: &Credential) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "createdDate": iso(c.created),
        "modifiedDate": iso(c.modified),
        "type": {"name": c.type_name},
        "selfUri": format!("/api/v2/integrations/credentials/{}", c.id),
    })
}

fn credential_or_404<'a>(org: &'a Org, id: &str) -> ApiResult<&'a Credential> {
    org.credentials
        .get(id)
        .ok_or_else(|| ApiError::not_found("Credential", id))
}

fn credential_parts(body: &Value) -> ApiResult<(String, String, Map<String, Value>)> {
    let name = required_str(body, "name")?.to_string();
    let ty = body
        .get("type")
        .and_then(|t| str_field(t, "name"))
        .ok_or_else(|| ApiError::invalid("type", "type.name is required"))?
        .to_string();
    let fields = body
        .get("credentialFields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    Ok((name, ty, fields))
}

/// `GET /api/v2/integrations/credentials`.
pub fn list_credentials(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(
        org,
        &[
            "integrations:credential:view",
            "integrations:integration:view",
        ],
    )?;
    let items: Vec<&Credential> = org
        .credentials
        .iter()
        .filter(|c| call.listed(c.visible_at))
        .collect();
    ok(page_of(
        &call.path,
        &call.query,
        MAX_PAGE_SIZE,
        items,
        render_credential_info,
    )?)
}

/// `POST /api/v2/integrations/credentials`.
pub fn create_credential(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(
        org,
        &[
            "integrations:credential:add",
            "integrations:integration:add",
        ],
    )?;
    let body = call.require_body(&["Credential"])?;
    let (name, type_name, fields) = credential_parts(body)?;
    let t = SystemTime::now();
    let c = Credential {
        id: new_id(),
        name,
        type_name,
        fields,
        created: t,
        modified: t,
        visible_at: call.visible_at(),
    };
    let v = render_credential_info(&c);
    org.credentials.insert(c);
    ok(v)
}

/// `GET /api/v2/integrations/credentials/{credentialId}`: fields redacted.
pub fn get_credential(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(
        org,
        &[
            "integrations:credential:view",
            "integrations:integration:view",
        ],
    )?;
    let c = credential_or_404(org, call.param("credentialId"))?;
    ok(json!({
        "id": c.id,
        "name": c.name,
        "type": {"name": c.type_name},
        "selfUri": format!("/api/v2/integrations/credentials/{}", c.id),
    }))
}

/// `PUT /api/v2/integrations/credentials/{credentialId}`.
pub fn update_credential(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(
        org,
        &[
            "integrations:credential:edit",
            "integrations:integration:edit",
        ],
    )?;
    let id = call.param("credentialId").to_string();
    credential_or_404(org, &id)?;
    let body = call.require_body(&["Credential"])?;
    let (name, type_name, fields) = credential_parts(body)?;
    org.credentials.update(&id, |c| {
        c.name = name;
        c.type_name = type_name;
        c.fields = fields;
        c.modified = SystemTime::now();
    });
    ok(render_credential_info(credential_or_404(org, &id)?))
}

/// `DELETE /api/v2/integrations/credentials/{credentialId}`.
pub fn delete_credential(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(
        org,
        &[
            "integrations:credential:delete",
            "integrations:integration:delete",
        ],
    )?;
    let id = call.param("credentialId").to_string();
    credential_or_404(org, &id)?;
    org.credentials.remove(&id);
    no_content()
}
