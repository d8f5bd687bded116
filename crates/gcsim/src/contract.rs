//! The API contract: model field names, types and enums, and the operations.
//!
//! `contract/contract.json` is the API slice gcsim models, compacted from
//! the full contract document by `contract/extract.py`. gcsim validates
//! request bodies against it (unknown field, wrong type or value outside an
//! enum → 400, like the real service's
//! JSON binding) and its own tests validate every answer against it (no
//! `null`, no field the model does not have, enums exactly as listed).

use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

const CONTRACT_JSON: &str = include_str!("../contract/contract.json");

/// One field of a model: its type expression and, for enums, the values.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Vec<Value>")]
pub struct Field {
    /// Type expression as in the contract: `str`, `int`, `list[Role]`, `dict(str, int)`...
    pub ty: String,
    /// Allowed values when the field is an enum.
    pub allowed: Option<Vec<String>>,
}

impl From<Vec<Value>> for Field {
    fn from(v: Vec<Value>) -> Self {
        let ty = v
            .first()
            .and_then(Value::as_str)
            .unwrap_or("object")
            .to_string();
        let allowed = v.get(1).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
        Field { ty, allowed }
    }
}

/// One operation of the contract.
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// HTTP method.
    pub method: String,
    /// Path template with `{param}` names.
    pub path: String,
    /// SDK operation name.
    pub operation: String,
    /// Body model, if any.
    pub body: Option<String>,
    /// Response model, if any.
    pub response: Option<String>,
    /// Query parameter names.
    pub query: Vec<String>,
}

/// The whole contract.
#[derive(Debug, Deserialize)]
pub struct Contract {
    /// Where it was extracted from.
    pub source: String,
    /// Models by name: field name → field.
    pub models: HashMap<String, HashMap<String, Field>>,
    /// Every operation.
    pub operations: Vec<Operation>,
}

/// The embedded contract.
pub fn contract() -> &'static Contract {
    static C: OnceLock<Contract> = OnceLock::new();
    C.get_or_init(|| {
        serde_json::from_str(CONTRACT_JSON).unwrap_or_else(|e| {
            // The file is embedded at build time; a parse failure is a build defect.
            panic!("embedded contract.json is invalid: {e}")
        })
    })
}

/// How strictly to check a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A request body: `null` means "not set" and is accepted.
    Request,
    /// An answer: `null` is never allowed.
    Response,
}

/// Checks `value` against the model `model`. Returns a message naming the
/// first offending field path.
pub fn validate(model: &str, value: &Value, mode: Mode) -> Result<(), String> {
    validate_any(&[model], value, mode)
}

/// Like [`validate`], but a top-level field is accepted if any of `models`
/// has it (an update body may carry the read model's fields back).
pub fn validate_any(models: &[&str], value: &Value, mode: Mode) -> Result<(), String> {
    let c = contract();
    let Some(obj) = value.as_object() else {
        return Err(format!("expected a JSON object ({})", models.join("/")));
    };
    for (key, v) in obj {
        let field = models
            .iter()
            .filter_map(|m| c.models.get(*m))
            .find_map(|m| m.get(key));
        let Some(field) = field else {
            return Err(format!(
                "Unrecognized field \"{key}\" (class {}), not marked as ignorable",
                models.first().copied().unwrap_or("object")
            ));
        };
        check_field(key, field, v, mode)?;
    }
    Ok(())
}

fn check_field(path: &str, field: &Field, v: &Value, mode: Mode) -> Result<(), String> {
    if v.is_null() {
        return match mode {
            Mode::Request => Ok(()),
            Mode::Response => Err(format!("{path}: null in an answer")),
        };
    }
    check_type(path, &field.ty, v, mode)?;
    if let Some(allowed) = &field.allowed {
        let s = v.as_str().unwrap_or_default();
        if !allowed.iter().any(|a| a == s) {
            return Err(format!(
                "{path}: value \"{s}\" is not one of [{}]",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn check_type(path: &str, ty: &str, v: &Value, mode: Mode) -> Result<(), String> {
    if v.is_null() {
        return match mode {
            Mode::Request => Ok(()),
            Mode::Response => Err(format!("{path}: null in an answer")),
        };
    }
    let bad = |what: &str| Err(format!("{path}: expected {what}, got {v}"));
    if let Some(inner) = ty.strip_prefix("list[").and_then(|s| s.strip_suffix(']')) {
        let Some(items) = v.as_array() else {
            return bad("a list");
        };
        for (i, item) in items.iter().enumerate() {
            check_type(&format!("{path}[{i}]"), inner, item, mode)?;
        }
        return Ok(());
    }
    if let Some(rest) = ty.strip_prefix("dict(").and_then(|s| s.strip_suffix(')')) {
        let inner = rest.split_once(", ").map_or("object", |(_, t)| t);
        let Some(map) = v.as_object() else {
            return bad("an object");
        };
        for (k, item) in map {
            check_type(&format!("{path}.{k}"), inner, item, mode)?;
        }
        return Ok(());
    }
    match ty {
        "str" | "datetime" | "date" | "LocalDateTime" => {
            if v.is_string() {
                Ok(())
            } else {
                bad("a string")
            }
        }
        "int" => {
            if v.is_i64() || v.is_u64() {
                Ok(())
            } else {
                bad("an integer")
            }
        }
        "float" => {
            if v.is_number() {
                Ok(())
            } else {
                bad("a number")
            }
        }
        "bool" => {
            if v.is_boolean() {
                Ok(())
            } else {
                bad("a boolean")
            }
        }
        "object" => {
            if mode == Mode::Response {
                no_nulls(path, v)
            } else {
                Ok(())
            }
        }
        model => {
            let Some(fields) = contract().models.get(model) else {
                return Ok(());
            };
            let Some(obj) = v.as_object() else {
                return bad(&format!("an object ({model})"));
            };
            for (key, item) in obj {
                let Some(field) = fields.get(key) else {
                    return Err(format!(
                        "{path}.{key}: Unrecognized field \"{key}\" (class {model}), not marked as ignorable"
                    ));
                };
                check_field(&format!("{path}.{key}"), field, item, mode)?;
            }
            Ok(())
        }
    }
}

fn no_nulls(path: &str, v: &Value) -> Result<(), String> {
    match v {
        Value::Null => Err(format!("{path}: null in an answer")),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| no_nulls(&format!("{path}[{i}]"), x)),
        Value::Object(m) => m
            .iter()
            .try_for_each(|(k, x)| no_nulls(&format!("{path}.{k}"), x)),
        _ => Ok(()),
    }
}

/// The operation whose method and path template match a concrete request path,
/// preferring literal segments over `{param}` ones (`/divisions/home` over
/// `/divisions/{divisionId}`).
pub fn match_operation(method: &str, path: &str) -> Option<&'static Operation> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&Operation, usize)> = None;
    for op in &contract().operations {
        if op.method != method {
            continue;
        }
        let tsegs: Vec<&str> = op.path.split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut literal = 0;
        let ok = tsegs.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                true
            } else if t == s {
                literal += 1;
                true
            } else {
                false
            }
        });
        if ok && best.is_none_or(|(_, l)| literal > l) {
            best = Some((op, literal));
        }
    }
    best.map(|(op, _)| op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contract_loads() {
        let c = contract();
        assert!(c.models.contains_key("OAuthClient"));
        assert!(c.operations.len() > 80);
    }

    #[test]
    fn validates_enums_and_unknown_fields() {
        let ok = json!({"name": "g", "type": "official", "visibility": "public"});
        assert!(validate("GroupCreate", &ok, Mode::Request).is_ok());
        let bad_enum = json!({"name": "g", "type": "Official"});
        assert!(validate("GroupCreate", &bad_enum, Mode::Request).is_err());
        let unknown = json!({"nmae": "g"});
        let err = validate("GroupCreate", &unknown, Mode::Request).unwrap_err();
        assert!(err.contains("nmae"), "{err}");
        let null = json!({"name": null});
        assert!(validate("GroupCreate", &null, Mode::Request).is_ok());
        assert!(validate("Group", &null, Mode::Response).is_err());
    }

    #[test]
    fn nested_models_are_checked() {
        let body = json!({"name": "c", "authorizedGrantType": "CLIENT-CREDENTIALS",
            "roleDivisions": [{"roleId": "r", "divisionId": "d", "extra": 1}]});
        let err = validate("OAuthClientRequest", &body, Mode::Request).unwrap_err();
        assert!(err.contains("roleDivisions[0].extra"), "{err}");
    }

    #[test]
    fn matches_literal_over_param() {
        let op = match_operation("GET", "/api/v2/authorization/divisions/home").unwrap();
        assert_eq!(op.path, "/api/v2/authorization/divisions/home");
        let op = match_operation("GET", "/api/v2/authorization/divisions/abc").unwrap();
        assert_eq!(op.path, "/api/v2/authorization/divisions/{divisionId}");
        let op = match_operation("PUT", "/api/v2/users/u1/roles").unwrap();
        assert_eq!(op.path, "/api/v2/users/{subjectId}/roles");
    }
}
