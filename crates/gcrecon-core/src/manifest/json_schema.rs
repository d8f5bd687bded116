//! The JSON Schema of the manifest (`docs/manifest.schema.json`), built from
//! the kinds' specs in [`crate::kinds`] (and the data sources' keys in
//! [`crate::schema`]) so that the validator, the schema and
//! the docs cannot disagree. Editors with TOML schema support (Taplo, Even
//! Better TOML) use it for completion and checks; a test keeps the file up
//! to date (`UPDATE_SCHEMA=1 cargo test -p gcrecon-core` rewrites it).

use serde_json::{json, Map, Value};

use crate::kind::{DataKind, Kind};
use crate::schema::{self, KeySpec, KeyType, META_KEYS};

use super::model::DATA_META_KEYS;

const REF: &str = "#/$defs/reference";

fn or_reference(schema: Value) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "anyOf".to_owned(),
        Value::Array(vec![schema, json!({ "$ref": REF })]),
    );
    Value::Object(obj)
}

fn with_doc(mut schema: Value, doc: &str) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("description".to_owned(), Value::String(doc.to_owned()));
    }
    schema
}

fn string_list() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

fn key_type(ty: KeyType) -> Value {
    match ty {
        KeyType::String => json!({ "type": "string" }),
        KeyType::Bool => or_reference(json!({ "type": "boolean" })),
        KeyType::Integer => or_reference(json!({ "type": "integer" })),
        KeyType::StringList => or_reference(string_list()),
        KeyType::Enum(values) => {
            json!({ "anyOf": [{ "enum": values }, { "$ref": "#/$defs/template" }] })
        }
        KeyType::RoleDivisionList => or_reference(json!({
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "role": { "type": "string", "description": "The role's id, e.g. `${role.adapter.id}` or `${data.role.admin.id}`." },
                    "divisions": with_doc(or_reference(string_list()), "Division ids; `*` means all divisions. Default: the home division.")
                },
                "required": ["role"],
                "additionalProperties": false
            }
        })),
        KeyType::Map => or_reference(json!({ "type": "object" })),
        KeyType::Any => json!({}),
    }
}

fn meta_key(name: &str, keys: &[KeySpec]) -> Value {
    match name {
        "for_each" => json!({
            "description": "Make one instance per list element or map key; `${each.key}` and `${each.value}` are available inside.",
            "anyOf": [string_list(), { "type": "object" }, { "$ref": REF }]
        }),
        "when" => with_doc(
            or_reference(json!({ "type": "boolean" })),
            "When false, the resource is not part of the desired state (and is deleted if it exists in the state).",
        ),
        "depends_on" => json!({
            "description": "Addresses this resource must wait for, beyond its references.",
            "type": "array",
            "items": { "type": "string" }
        }),
        "prevent_destroy" => json!({
            "description": "Fail any plan that would delete or replace this resource.",
            "type": "boolean"
        }),
        "adopt" => json!({
            "description": "Take over an existing object of the same kind and name instead of creating a duplicate.",
            "type": "boolean"
        }),
        "ignore_changes" => {
            let names: Vec<&str> = keys.iter().map(|k| k.name).filter(|n| *n != "*").collect();
            let items = if keys.iter().any(|k| k.name == "*") {
                json!({ "type": "string" })
            } else {
                json!({ "enum": names })
            };
            json!({
                "description": "Keys left to humans: never updated by gcrecon.",
                "type": "array",
                "items": items
            })
        }
        _ => json!({}),
    }
}

fn block_schema(keys: &[KeySpec], meta: &[&str], doc: &str) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut open = false;
    for k in keys {
        if k.name == "*" {
            open = true;
            continue;
        }
        let mut prop = with_doc(key_type(k.ty), k.doc);
        if let (Some(default), Some(obj)) = (k.default, prop.as_object_mut()) {
            let value = match default {
                schema::KeyDefault::Bool(b) => Value::Bool(b),
                schema::KeyDefault::Str(s) => Value::String(s.to_owned()),
                schema::KeyDefault::Int(i) => Value::from(i),
            };
            obj.insert("default".to_owned(), value);
        }
        props.insert(k.name.to_owned(), prop);
        if k.required {
            required.push(k.name);
        }
    }
    for m in meta {
        props.insert((*m).to_owned(), meta_key(m, keys));
    }
    let mut obj = Map::new();
    obj.insert("description".to_owned(), Value::String(doc.to_owned()));
    obj.insert("type".to_owned(), json!("object"));
    obj.insert("properties".to_owned(), Value::Object(props));
    if !required.is_empty() {
        obj.insert("required".to_owned(), json!(required));
    }
    obj.insert("additionalProperties".to_owned(), json!(open));
    Value::Object(obj)
}

fn named(def: &str) -> Value {
    json!({
        "type": "object",
        "propertyNames": { "$ref": "#/$defs/name" },
        "additionalProperties": { "$ref": format!("#/$defs/{def}") }
    })
}

fn data_doc(kind: DataKind) -> String {
    let (_, attrs) = schema::data_keys(kind);
    format!(
        "Data source `data.{kind}`: read at plan time. Attributes: {}.",
        attrs.join(", ")
    )
}

/// The JSON Schema (draft 2020-12) of a manifest file.
pub fn manifest_json_schema() -> Value {
    let mut props = Map::new();
    props.insert(
        "gcrecon".to_owned(),
        json!({
            "description": "The manifest header; required in one file of the manifest.",
            "type": "object",
            "properties": {
                "version": { "description": "The manifest format; only 1 exists.", "const": 1 },
                "name": { "description": "Shown in plans; names the default state file.", "type": "string", "pattern": "^[^/\\\\]+$" }
            },
            "required": ["version"],
            "additionalProperties": false
        }),
    );
    props.insert("variables".to_owned(), named("variable"));
    props.insert(
        "locals".to_owned(),
        json!({
            "description": "Named values that may reference anything else: `${local.NAME}`.",
            "type": "object",
            "propertyNames": { "$ref": "#/$defs/name" }
        }),
    );
    props.insert("output".to_owned(), named("output"));
    let mut data_props = Map::new();
    for kind in DataKind::ALL.into_iter().filter(|k| !k.is_implicit()) {
        data_props.insert(kind.as_str().to_owned(), named(&format!("data_{kind}")));
    }
    props.insert(
        "data".to_owned(),
        json!({
            "description": "Data sources: `[data.KIND.NAME]`. `data.org` and `data.caller` are built in and take no table.",
            "type": "object",
            "properties": Value::Object(data_props),
            "additionalProperties": false
        }),
    );
    for kind in Kind::ALL {
        props.insert(kind.as_str().to_owned(), named(kind.as_str()));
    }

    let mut defs = Map::new();
    defs.insert(
        "name".to_owned(),
        json!({ "description": "A block name.", "type": "string", "pattern": "^[a-z][a-z0-9_]*$" }),
    );
    defs.insert(
        "reference".to_owned(),
        json!({
            "description": "A string that is exactly one expression, `${...}`; it takes the expression's type. Inside `${ }`: references (`role.x.id`, `var.x`, `local.x`, `data.users.x.ids`, a whole block `oauth_client.service`), literals (`1`, `\"s\"`, `true`, `null`, `[a, b]`, `{ k = v }`), operators (`== != < <= > >= && || ! + - * / %`), `cond ? a : b`, `[for x in LIST : EXPR if COND]`, `{for k, v in MAP : KEY => VALUE}`, splats (`role.x[*].id`) and the functions concat merge flatten distinct contains length keys values lookup element join split format lower upper replace trimspace coalesce toset tolist tomap try.",
            "type": "string",
            "pattern": "^\\$\\{.*\\}$"
        }),
    );
    defs.insert(
        "template".to_owned(),
        json!({
            "description": "A string containing expressions, `${...}`; each part is put into the text (strings, numbers and bools only).",
            "type": "string",
            "pattern": "\\$\\{"
        }),
    );
    defs.insert(
        "variable".to_owned(),
        json!({
            "description": "An input variable: `--var NAME=VALUE`, `GCRECON_VAR_NAME`, or `default`.",
            "type": "object",
            "properties": {
                "type": { "enum": ["string", "bool", "number", "list", "map"], "default": "string" },
                "description": { "type": "string" },
                "default": {},
                "sensitive": { "type": "boolean", "default": false }
            },
            "additionalProperties": false
        }),
    );
    defs.insert(
        "output".to_owned(),
        json!({
            "description": "A value printed by `gcrecon output`.",
            "type": "object",
            "properties": {
                "value": {},
                "sensitive": { "type": "boolean", "default": false, "description": "Required for anything derived from a secret." },
                "description": { "type": "string" },
                "when": with_doc(or_reference(json!({ "type": "boolean" })), "When false, the output is left out."),
                "for_each": with_doc(or_reference(json!({ "type": ["array", "object"] })), "One output per list element or map key, named `NAME[\"KEY\"]`; `${each.key}` and `${each.value}` are available in `value` and `when`.")
            },
            "required": ["value"],
            "additionalProperties": false
        }),
    );
    for kind in Kind::ALL {
        defs.insert(
            kind.as_str().to_owned(),
            block_schema(kind.spec().keys, META_KEYS, kind.spec().doc),
        );
    }
    for kind in DataKind::ALL.into_iter().filter(|k| !k.is_implicit()) {
        let (keys, _) = schema::data_keys(kind);
        defs.insert(
            format!("data_{kind}"),
            block_schema(keys, DATA_META_KEYS, &data_doc(kind)),
        );
    }

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gcrecon manifest, format 1",
        "description": "A gcrecon manifest (TOML). Generated from gcrecon-core's key table; do not edit by hand.",
        "type": "object",
        "properties": Value::Object(props),
        "additionalProperties": false,
        "$defs": Value::Object(defs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/manifest.schema.json` is generated; `UPDATE_SCHEMA=1` rewrites it.
    #[test]
    fn schema_file_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/manifest.schema.json");
        let mut want = serde_json::to_string_pretty(&manifest_json_schema()).unwrap_or_default();
        want.push('\n');
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/manifest.schema.json is out of date; run `cargo xtask codegen`"
        );
    }

    #[test]
    fn schema_lists_every_kind_and_required_key() {
        let s = manifest_json_schema();
        for kind in Kind::ALL {
            assert!(s["properties"][kind.as_str()].is_object(), "{kind}");
        }
        assert_eq!(
            s["$defs"]["role"]["required"],
            json!(["name", "permissions"])
        );
        assert_eq!(
            s["$defs"]["identity_provider"]["additionalProperties"],
            json!(true)
        );
        assert!(s["properties"]["data"]["properties"]["org"].is_null());
    }
}
