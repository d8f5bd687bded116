//! `integration`: integration instances and their configuration.
//!
//! | manifest | wire |
//! |---|---|
//! | `type` | `Integration.integrationType.id` (create only) |
//! | `name` | `Integration.name`; `IntegrationConfiguration.name` |
//! | `enabled` | `Integration.intendedState` `ENABLED` / `DISABLED` (`PATCH`) |
//! | `notes` | `Integration.notes` (`PATCH`) and `IntegrationConfiguration.notes` |
//! | `config` | `config/current` `properties` |
//! | `advanced` | `config/current` `advanced` |
//! | `credentials` (`{name = credentialId}`) | `config/current` `credentials` (`{name: {id}}`) |
//!
//! Create is `POST /integrations {name, integrationType}` (the instance
//! starts `DISABLED`), then `PUT config/current` with the current `version`
//! and the name, then `PATCH {intendedState: ENABLED}` when enabled.
//!
//! A plain listing does not carry the configuration (`config.current` is
//! only a reference), so the listing and by-id reads ask for
//! `expand=config.current`; an answer that still lacks it costs a
//! `GET config/current` for that integration. The configuration is skipped
//! only when the engine says the manifest manages none of `config`,
//! `advanced`, `credentials` (`Provider::manage_keys`);
//! a live object without `config` then means "not read".

use std::collections::BTreeMap;

use gcrecon_core::provider::{Created, GenesysId, ListScope, Listing, LiveObject, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;
use serde_json::{json, Map, Value as Json};

use crate::http::Request;
use crate::kinds::{kind_ops_from_functions, RestKind, Update};
use crate::listing::{ListSpec, NameLookup};
use crate::wire::{fingerprint, id_of, malformed, str_field, AttrReader};
use crate::Ctx;
use crate::{recover, retry};

pub const SPEC: ListSpec = ListSpec {
    what: "integration",
    list: "/api/v2/integrations",
    page_size: 100,
    id_filter: Some(("ids", 100)),
    by_id: Some((ONE, "integrationId")),
    names: NameLookup::None,
    // The listing embeds each configuration with this, saving a call per
    // integration.
    extra_query: &[("expand", "config.current")],
};

const ONE: &str = "/api/v2/integrations/{integrationId}";
const CONFIG: &str = "/api/v2/integrations/{integrationId}/config/current";
/// Keys that live in `config/current`.
const CONFIG_KEYS: [&str; 3] = ["config", "advanced", "credentials"];

static REST: RestKind = RestKind {
    kind: Kind::Integration,
    audit_entity: Some("Integration"),
    listing: SPEC,
    to_live: |wire| to_live(wire, None),
    page: None,
    to_wire: to_create,
};

/// Integrations: the configuration is a second object and the intended
/// state a `PATCH`; only delete is the REST default.
pub struct Integration;

kind_ops_from_functions!(
    Integration,
    Kind::Integration,
    REST.endpoint(),
    REST.audit_entity
);

/// `credentials` on the wire (`{name: {id, ...}}`) → `{name = id}`.
pub fn credentials_from_wire(wire: &Json) -> Value {
    let mut out = BTreeMap::new();
    for (name, info) in wire.as_object().into_iter().flatten() {
        let value = match info {
            Json::String(id) => Value::from(id.as_str()),
            other => str_field(other, "id").map_or_else(|| Value::from_json(other), Value::from),
        };
        out.insert(name.clone(), value);
    }
    Value::Map(out.into())
}

/// `{name = id}` (or `{name = {id = ...}}`) → wire `credentials`.
pub fn credentials_to_wire(map: &Map<String, Json>) -> Json {
    Json::Object(
        map.iter()
            .map(|(name, v)| {
                let info = match v {
                    Json::String(id) => json!({"id": id}),
                    other => other.clone(),
                };
                (name.clone(), info)
            })
            .collect(),
    )
}

/// Wire integration (and its `config/current`, when read) → live object.
pub fn to_live(wire: &Json, config: Option<&Json>) -> Result<LiveObject, ProviderError> {
    let id = id_of(wire, "integration")?;
    let name = str_field(wire, "name").unwrap_or_default().to_owned();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::from(name.clone()));
    if let Some(t) = wire.get("integrationType").and_then(|t| str_field(t, "id")) {
        attrs.insert("type".into(), Value::from(t));
    }
    let state = str_field(wire, "intendedState").unwrap_or("DISABLED");
    attrs.insert("enabled".into(), Value::Bool(state == "ENABLED"));
    let notes = str_field(wire, "notes").or_else(|| config.and_then(|c| str_field(c, "notes")));
    if let Some(n) = notes {
        attrs.insert("notes".into(), Value::from(n));
    }
    if let Some(config) = config {
        let object = |key: &str| {
            config
                .get(key)
                .filter(|v| v.is_object())
                .map_or_else(|| Value::Map(Default::default()), Value::from_json)
        };
        attrs.insert("config".into(), object("properties"));
        attrs.insert("advanced".into(), object("advanced"));
        attrs.insert(
            "credentials".into(),
            config
                .get("credentials")
                .map_or_else(|| Value::Map(Default::default()), credentials_from_wire),
        );
    }
    Ok(LiveObject {
        kind: Kind::Integration,
        id: GenesysId::from(id),
        name,
        version: fingerprint(&attrs),
        attrs,
        builtin: false,
    })
}

/// The `config/current` body: the current configuration overlaid with the
/// desired keys (`config`, `advanced` and `credentials` compare as subsets,
/// so properties the manifest leaves out keep their values).
pub fn config_body(current: &Json, desired: &Attrs, version: i64) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::Integration, desired);
    let mut body = Map::new();
    let name = match r.string("name")? {
        Some(n) => n,
        None => str_field(current, "name").unwrap_or_default().to_owned(),
    };
    body.insert("name".into(), json!(name));
    body.insert("version".into(), json!(version));
    let overlay = |wire_key: &str, desired: Option<Map<String, Json>>| -> Option<Json> {
        let mut merged = current.get(wire_key).and_then(Json::as_object).cloned();
        if let Some(d) = desired {
            merged.get_or_insert_with(Map::new).extend(d);
        }
        merged.map(Json::Object)
    };
    if let Some(p) = overlay("properties", r.map("config")?) {
        body.insert("properties".into(), p);
    }
    if let Some(a) = overlay("advanced", r.map("advanced")?) {
        body.insert("advanced".into(), a);
    }
    let desired_credentials = r
        .map("credentials")?
        .map(|m| match credentials_to_wire(&m) {
            Json::Object(o) => o,
            _ => Map::new(),
        });
    if let Some(c) = overlay("credentials", desired_credentials) {
        body.insert("credentials".into(), c);
    }
    match r.string("notes")? {
        Some(n) => {
            body.insert("notes".into(), json!(n));
        }
        None => {
            if let Some(n) = str_field(current, "notes") {
                body.insert("notes".into(), json!(n));
            }
        }
    }
    Ok(Json::Object(body))
}

/// Manifest attributes → `POST /integrations` (`{name, integrationType}`).
fn to_create(desired: &Attrs) -> Result<Json, ProviderError> {
    let r = AttrReader::new(Kind::Integration, desired);
    let name = r.required_string("name")?;
    let type_id = r.string("type")?.ok_or_else(|| {
        ProviderError::Invalid("integration needs `type` (an integration type id)".into())
    })?;
    Ok(json!({"name": name, "integrationType": {"id": type_id}}))
}

/// True when the plan changed a key that lives in `config/current`.
fn config_changed(update: &Update<'_>) -> bool {
    ["name", "notes"]
        .into_iter()
        .chain(CONFIG_KEYS)
        .any(|k| update.changed(k))
}

/// Whether the configuration is read: unless the manifest manages none of it.
fn config_wanted(ctx: &Ctx) -> bool {
    !CONFIG_KEYS
        .iter()
        .all(|k| ctx.managed_key(Kind::Integration, k) == Some(false))
}

/// The configuration embedded by `expand=config.current`, if the answer
/// carries it (without expansion it is only `{id, name, version, selfUri}`).
fn embedded_config(wire: &Json) -> Option<&Json> {
    wire.get("config")
        .and_then(|c| c.get("current"))
        .filter(|c| {
            ["properties", "advanced", "credentials", "notes"]
                .iter()
                .any(|k| c.get(*k).is_some())
        })
}

async fn read_config(ctx: &Ctx, id: &str) -> Result<Json, ProviderError> {
    ctx.api
        .send(Request::get(CONFIG).param("integrationId", id))
        .await
        .map_err(|e| ctx.gone(e, Kind::Integration, &GenesysId::from(id)))
}

async fn with_config(ctx: &Ctx, wire: &Json) -> Result<LiveObject, ProviderError> {
    match embedded_config(wire) {
        Some(config) => to_live(wire, Some(config)),
        None => {
            let config = read_config(ctx, &id_of(wire, "integration")?).await?;
            to_live(wire, Some(&config))
        }
    }
}

async fn list(ctx: &Ctx, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
    REST.list_detailed(ctx, scope, config_wanted(ctx), |w| async move {
        with_config(ctx, &w).await
    })
    .await
}

async fn read(ctx: &Ctx, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
    let Some(request) = SPEC.read_request(id.as_str()) else {
        return Ok(None);
    };
    let Some(wire) = ctx.api.send_opt(request).await? else {
        return Ok(None);
    };
    if config_wanted(ctx) {
        with_config(ctx, &wire).await.map(Some)
    } else {
        to_live(&wire, None).map(Some)
    }
}

/// Write `config/current` from the desired attributes, re-reading the
/// version once after a 409.
async fn write_config(ctx: &Ctx, id: &str, desired: &Attrs) -> Result<Json, ProviderError> {
    retry::on_conflict(|| async {
        let current = read_config(ctx, id).await?;
        let version = current
            .get("version")
            .and_then(Json::as_i64)
            .ok_or_else(|| malformed("an integration configuration without `version`"))?;
        let body = config_body(&current, desired, version)?;
        ctx.api
            .send(Request::put(CONFIG).param("integrationId", id).json(body))
            .await
    })
    .await
}

/// `PATCH` the intended state and/or the notes; `None` when there is nothing to change.
async fn patch(
    ctx: &Ctx,
    id: &str,
    enabled: Option<bool>,
    notes: Option<&str>,
) -> Result<Option<Json>, ProviderError> {
    let mut body = Map::new();
    if let Some(enabled) = enabled {
        body.insert(
            "intendedState".into(),
            json!(if enabled { "ENABLED" } else { "DISABLED" }),
        );
    }
    if let Some(notes) = notes {
        body.insert("notes".into(), json!(notes));
    }
    if body.is_empty() {
        return Ok(None);
    }
    let request = SPEC.extra_query.iter().fold(
        Request::patch(ONE).param("integrationId", id),
        |r, (k, v)| r.query(k, v),
    );
    ctx.api
        .send(request.json(Json::Object(body)))
        .await
        .map(Some)
}

/// The integrations named exactly `name` of type `type_id`.
async fn find_by_name(ctx: &Ctx, name: &str, type_id: &str) -> Result<Vec<Json>, ProviderError> {
    Ok(ctx
        .api
        .list_all(Request::get(SPEC.list), SPEC.page_size)
        .await?
        .into_iter()
        .filter(|i| {
            str_field(i, "name") == Some(name)
                && i.get("integrationType").and_then(|t| str_field(t, "id")) == Some(type_id)
        })
        .collect())
}

async fn create(ctx: &Ctx, desired: &Attrs) -> Result<Created, ProviderError> {
    let r = AttrReader::new(Kind::Integration, desired);
    let body = to_create(desired)?;
    let name = str_field(&body, "name").unwrap_or_default().to_owned();
    let type_id = body["integrationType"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let enabled = r.bool("enabled")?.unwrap_or(true);
    // A POST; after a lost answer the integration is looked up by name and
    // type before it is sent again. Integrations have no name filter, so
    // that is the plain listing (no `expand`), a call per 100 instances.
    let request = Request::post(SPEC.list).json(body);
    let mut wire = recover::create(&ctx.api, &request, "integration", &name, || {
        find_by_name(ctx, &name, &type_id)
    })
    .await?
    .into_wire();
    let id = id_of(&wire, "integration")?;
    let notes = r.string("notes")?;
    let configured = CONFIG_KEYS.iter().any(|k| r.has(k)) || notes.is_some();
    let config = if configured {
        Some(write_config(ctx, &id, desired).await?)
    } else {
        None
    };
    if let Some(patched) = patch(ctx, &id, enabled.then_some(true), notes.as_deref()).await? {
        wire = patched;
    }
    // Without a written configuration the new one is empty: no need to read it.
    let empty = json!({"properties": {}, "advanced": {}, "credentials": {}});
    Ok(Created {
        object: to_live(&wire, Some(config.as_ref().unwrap_or(&empty)))?,
        secret: None,
    })
}

/// Write `config/current` when a key of it changed, and `PATCH` the
/// intended state or the notes when they changed; nothing else is sent.
async fn update(ctx: &Ctx, update: Update<'_>) -> Result<LiveObject, ProviderError> {
    let (live, desired) = (update.live, update.desired);
    let id = live.id.as_str();
    let r = AttrReader::new(Kind::Integration, desired);
    let written = if config_changed(&update) {
        Some(
            write_config(ctx, id, desired)
                .await
                .map_err(|e| ctx.gone(e, Kind::Integration, &live.id))?,
        )
    } else {
        None
    };
    let enabled = r.bool("enabled")?.filter(|_| update.changed("enabled"));
    let notes = r.string("notes")?.filter(|_| update.changed("notes"));
    let patched = patch(ctx, id, enabled, notes.as_deref())
        .await
        .map_err(|e| ctx.gone(e, Kind::Integration, &live.id))?;
    let wire = match patched {
        Some(w) => w,
        None => {
            let request = SPEC
                .read_request(id)
                .ok_or_else(|| malformed("no by-id read for integrations"))?;
            ctx.api
                .send(request)
                .await
                .map_err(|e| ctx.gone(e, Kind::Integration, &live.id))?
        }
    };
    let config = written.or_else(|| embedded_config(&wire).cloned());
    to_live(&wire, config.as_ref())
}

/// A `DELETE` by id, as for every REST kind.
async fn delete(ctx: &Ctx, id: &GenesysId, _previous: Option<&Attrs>) -> Result<(), ProviderError> {
    REST.delete(ctx, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_with_and_without_config() {
        let wire = json!({
            "id": "i1", "name": "Emite", "integrationType": {"id": "embedded-client-app"},
            "intendedState": "ENABLED", "notes": "n",
        });
        let config = json!({
            "name": "Emite", "version": 4, "properties": {"url": "https://x", "sandbox": "allow-scripts"},
            "advanced": {}, "credentials": {"basicAuth": {"id": "cred-1", "name": "c"}},
        });
        let live = to_live(&wire, Some(&config)).unwrap();
        assert_eq!(live.attrs["type"], Value::from("embedded-client-app"));
        assert_eq!(live.attrs["enabled"], Value::Bool(true));
        assert_eq!(
            live.attrs["config"].to_json().unwrap(),
            json!({"url": "https://x", "sandbox": "allow-scripts"})
        );
        assert_eq!(
            live.attrs["credentials"].to_json().unwrap(),
            json!({"basicAuth": "cred-1"})
        );
        let bare = to_live(&json!({"id": "i2", "name": "x"}), None).unwrap();
        assert_eq!(bare.attrs["enabled"], Value::Bool(false));
        assert!(!bare.attrs.contains_key("config"));
    }

    #[test]
    fn only_configuration_keys_write_the_configuration() {
        let live = to_live(&json!({"id": "i1", "name": "x"}), None).unwrap();
        let desired = Attrs::new();
        let writes = |changed: &[&str]| -> bool {
            let changed: Vec<String> = changed.iter().map(|k| (*k).to_owned()).collect();
            config_changed(&Update {
                live: &live,
                previous: None,
                desired: &desired,
                changed: &changed,
            })
        };
        assert!(!writes(&["enabled"]));
        assert!(!writes(&[]));
        for key in ["name", "notes", "config", "advanced", "credentials"] {
            assert!(writes(&["enabled", key]), "{key} lives in config/current");
        }
    }

    #[test]
    fn config_body_overlays_desired_on_current() {
        let current = json!({"name": "Emite", "version": 4, "properties": {"url": "https://old", "keep": 1}, "notes": "n"});
        let mut desired = Attrs::new();
        desired.insert("name".into(), Value::from("Emite 2"));
        desired.insert(
            "config".into(),
            Value::from_json(&json!({"url": "https://new"})),
        );
        desired.insert(
            "credentials".into(),
            Value::from_json(&json!({"basicAuth": "cred-2"})),
        );
        let body = config_body(&current, &desired, 4).unwrap();
        assert_eq!(
            body,
            json!({"name": "Emite 2", "version": 4, "properties": {"url": "https://new", "keep": 1},
                   "credentials": {"basicAuth": {"id": "cred-2"}}, "notes": "n"})
        );
    }
}
