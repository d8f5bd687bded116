//! Input variables: their declarations (`[variables.NAME]`) and the values
//! resolved from `--var`, `GCRECON_VAR_NAME` and defaults.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::value::Value;

use super::syntax::Sp;

/// The declared type of a variable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VarType {
    #[default]
    String,
    Bool,
    Number,
    List,
    Map,
}

impl VarType {
    pub const ALL: [VarType; 5] = [
        VarType::String,
        VarType::Bool,
        VarType::Number,
        VarType::List,
        VarType::Map,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Bool => "bool",
            VarType::Number => "number",
            VarType::List => "list",
            VarType::Map => "map",
        }
    }

    /// Whether a value has this type (unknown values pass).
    pub fn accepts(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (_, Value::Unknown)
                | (VarType::String, Value::String(_))
                | (VarType::Bool, Value::Bool(_))
                | (VarType::Number, Value::Number(_))
                | (VarType::List, Value::List(_))
                | (VarType::Map, Value::Map(_))
        )
    }

    /// Convert a command-line or environment string to this type.
    ///
    /// `bool`: `true`/`false` (any case), `1`/`0`, `yes`/`no`. `number`: an
    /// integer or decimal. `list`: a JSON array, or comma-separated strings.
    /// `map`: a JSON object.
    pub fn convert(self, raw: &str) -> Result<Value, String> {
        let t = raw.trim();
        match self {
            VarType::String => Ok(Value::String(raw.to_owned())),
            VarType::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "no" => Ok(Value::Bool(false)),
                _ => Err(format!("`{raw}` is not a bool (use true or false)")),
            },
            VarType::Number => {
                if let Ok(i) = t.parse::<i64>() {
                    return Ok(Value::Number(i.into()));
                }
                t.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("`{raw}` is not a number"))
            }
            VarType::List => {
                if t.starts_with('[') {
                    match serde_json::from_str::<serde_json::Value>(t) {
                        Ok(json @ serde_json::Value::Array(_)) => Ok(Value::from_json(&json)),
                        _ => Err(format!("`{raw}` is not a JSON list (e.g. [\"a\", \"b\"])")),
                    }
                } else if t.is_empty() {
                    Ok(Value::List(Vec::new()))
                } else {
                    Ok(Value::strings(t.split(',').map(str::trim)))
                }
            }
            VarType::Map => match serde_json::from_str::<serde_json::Value>(t) {
                Ok(json @ serde_json::Value::Object(_)) => Ok(Value::from_json(&json)),
                _ => Err(format!(
                    "`{raw}` is not a JSON object (e.g. {{\"key\": \"value\"}})"
                )),
            },
        }
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `[variables.NAME]` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct VariableDecl {
    pub ty: VarType,
    pub description: Option<String>,
    pub default: Option<Value>,
    pub sensitive: bool,
    pub(crate) sp: Sp,
}

/// Resolved variable values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Variables {
    values: BTreeMap<String, Value>,
    sensitive: BTreeSet<String>,
}

impl Variables {
    /// No variables.
    pub fn new() -> Self {
        Variables::default()
    }

    /// Set a value.
    pub fn insert(&mut self, name: impl Into<String>, value: Value, sensitive: bool) {
        let name = name.into();
        if sensitive {
            self.sensitive.insert(name.clone());
        } else {
            self.sensitive.remove(&name);
        }
        self.values.insert(name, value);
    }

    /// Builder form of [`Variables::insert`] for a non-sensitive value.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name, value.into(), false);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    pub fn is_sensitive(&self, name: &str) -> bool {
        self.sensitive.contains(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(VarType::Bool.convert("TRUE").unwrap(), Value::Bool(true));
        assert_eq!(VarType::Bool.convert("0").unwrap(), Value::Bool(false));
        assert!(VarType::Bool.convert("maybe").is_err());
        assert_eq!(VarType::Number.convert("42").unwrap(), Value::from(42));
        assert_eq!(VarType::Number.convert("1.5").unwrap().to_string(), "1.5");
        assert!(VarType::Number.convert("x").is_err());
        assert_eq!(
            VarType::List.convert("a, b").unwrap(),
            Value::strings(["a", "b"])
        );
        assert_eq!(
            VarType::List.convert("[\"a\",1]").unwrap().to_string(),
            "[\"a\", 1]"
        );
        assert!(VarType::List.convert("[oops").is_err());
        assert_eq!(
            VarType::Map.convert("{\"au\":\"x\"}").unwrap().to_string(),
            "{au = \"x\"}"
        );
        assert!(VarType::Map.convert("a=b").is_err());
        assert_eq!(
            VarType::String.convert(" keep ").unwrap(),
            Value::from(" keep ")
        );
    }
}
