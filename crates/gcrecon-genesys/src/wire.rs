//! Small helpers shared by the kind modules: reading fields of wire JSON
//! without panicking, reading manifest attributes with type errors that
//! name the key, and the attribute fingerprint used as a version.

use std::collections::BTreeSet;

use gcrecon_core::provider::{GenesysId, ProviderError};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::{DataKind, Kind};
use serde::Deserialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// An answer that does not have the contract's shape.
pub fn malformed(what: &str) -> ProviderError {
    ProviderError::Transport(format!("unexpected answer from Genesys Cloud: {what}"))
}

/// A string field of a wire object.
pub fn str_field<'a>(json: &'a Json, key: &str) -> Option<&'a str> {
    json.get(key).and_then(Json::as_str)
}

/// The `id` of a wire object; an object without one is malformed.
pub fn id_of(json: &Json, what: &str) -> Result<String, ProviderError> {
    str_field(json, "id")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| malformed(&format!("{what} without an `id`")))
}

/// A list of strings from a wire field (absent → empty).
pub fn strings_field(json: &Json, key: &str) -> Vec<String> {
    json.get(key)
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A sorted, deduplicated list value.
pub fn string_set(items: impl IntoIterator<Item = String>) -> Value {
    Value::strings(items.into_iter().collect::<BTreeSet<_>>())
}

/// A fingerprint of attributes, for kinds without a server-side `version`.
pub fn fingerprint(attrs: &Attrs) -> String {
    /// Feeds what is written straight to the hash.
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hashing = Hashing(Sha256::new());
    // Serializing attributes to memory cannot fail.
    let _ = serde_json::to_writer(&mut hashing, attrs);
    let digest = hashing.0.finalize();
    let mut out = String::with_capacity(24);
    for b in &digest[..12] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Reads manifest attributes of one kind, with errors naming the key.
pub struct AttrReader<'a> {
    /// `role`, or `data.user`: how messages name the block.
    label: String,
    pub attrs: &'a Attrs,
}

impl<'a> AttrReader<'a> {
    pub fn new(kind: Kind, attrs: &'a Attrs) -> Self {
        AttrReader {
            label: kind.as_str().to_owned(),
            attrs,
        }
    }

    /// A reader for a data source's query.
    pub fn for_data(kind: DataKind, attrs: &'a Attrs) -> Self {
        AttrReader {
            label: format!("data.{kind}"),
            attrs,
        }
    }

    fn known(&self, key: &str) -> Result<Option<&'a Value>, ProviderError> {
        match self.attrs.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) if !v.is_known() => Err(ProviderError::Invalid(format!(
                "{} `{key}` is not known yet (known only after apply)",
                self.label
            ))),
            Some(v) => Ok(Some(v)),
        }
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> ProviderError {
        ProviderError::Invalid(format!(
            "{} `{key}` must be {expected}, not a {}",
            self.label,
            got.type_name()
        ))
    }

    /// True when the key is present (and not null).
    pub fn has(&self, key: &str) -> bool {
        !matches!(self.attrs.get(key), None | Some(Value::Null))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, ProviderError> {
        match self.known(key)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    pub fn required_string(&self, key: &str) -> Result<String, ProviderError> {
        self.string(key)?
            .ok_or_else(|| ProviderError::Invalid(format!("{} needs `{key}`", self.label)))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ProviderError> {
        match self.known(key)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    pub fn integer(&self, key: &str) -> Result<Option<i64>, ProviderError> {
        match self.known(key)? {
            None => Ok(None),
            Some(v @ Value::Number(_)) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "an integer", v)),
            Some(other) => Err(self.wrong(key, "an integer", other)),
        }
    }

    /// A list of strings (a single string counts as a list of one).
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ProviderError> {
        match self.known(key)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::List(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(key, "a list of strings", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.wrong(key, "a list of strings", other)),
        }
    }

    /// A table, as a JSON object.
    pub fn map(&self, key: &str) -> Result<Option<serde_json::Map<String, Json>>, ProviderError> {
        match self.known(key)? {
            None => Ok(None),
            Some(v @ Value::Map(_)) => match v.to_json() {
                Some(Json::Object(map)) => Ok(Some(map)),
                _ => Err(self.wrong(key, "a table", v)),
            },
            Some(other) => Err(self.wrong(key, "a table", other)),
        }
    }

    /// Any value, as JSON.
    pub fn json(&self, key: &str) -> Result<Option<Json>, ProviderError> {
        Ok(self.known(key)?.and_then(Value::to_json))
    }
}

/// True for an object the service shows as deleted (`state: "deleted"`):
/// it is gone, whatever else the answer says.
pub fn is_deleted(wire: &Json) -> bool {
    is_deleted_state(str_field(wire, "state"))
}

/// True for the `state` of an object the service shows as deleted.
pub fn is_deleted_state(state: Option<&str>) -> bool {
    state == Some("deleted")
}

/// A kind's typed view of a wire object, read from its JSON; `what` names
/// the kind in the error.
pub fn typed<'a, W: Deserialize<'a>>(json: &'a Json, what: &str) -> Result<W, ProviderError> {
    W::deserialize(json).map_err(|e| malformed(&format!("{what}: {e}")))
}

/// The start of a live object read from a typed wire object: its id (an
/// object without one is malformed), its name, and its first attributes,
/// `name` and `description` when it has one.
pub fn live_head(
    what: &str,
    id: Option<&str>,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<(GenesysId, String, Attrs), ProviderError> {
    let id = id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| malformed(&format!("{what} without an `id`")))?;
    let name = name.unwrap_or_default().to_owned();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), Value::from(name.clone()));
    if let Some(d) = description {
        attrs.insert("description".into(), Value::from(d));
    }
    Ok((GenesysId::from(id), name, attrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_types_and_unknowns() {
        let mut attrs = Attrs::new();
        attrs.insert("name".into(), Value::from("x"));
        attrs.insert("n".into(), Value::from(5));
        attrs.insert("later".into(), Value::Unknown);
        attrs.insert("one".into(), Value::from("a"));
        let r = AttrReader::new(Kind::Role, &attrs);
        assert_eq!(r.required_string("name").unwrap(), "x");
        assert_eq!(r.integer("n").unwrap(), Some(5));
        assert!(r
            .string("n")
            .unwrap_err()
            .to_string()
            .contains("`n` must be a string"));
        assert!(r
            .string("later")
            .unwrap_err()
            .to_string()
            .contains("known only after apply"));
        assert_eq!(r.strings("one").unwrap(), Some(vec!["a".to_owned()]));
        assert!(r.required_string("missing").is_err());
    }

    #[test]
    fn fingerprints_follow_content() {
        let mut a = Attrs::new();
        a.insert("name".into(), Value::from("x"));
        let f1 = fingerprint(&a);
        a.insert("name".into(), Value::from("y"));
        assert_ne!(f1, fingerprint(&a));
        assert_eq!(f1.len(), 24);
        // The first 12 bytes of the SHA-256 of the attributes' JSON, in hex:
        // versions recorded in state by earlier releases stay comparable.
        let text = serde_json::to_string(&a).unwrap();
        let expected: String = Sha256::digest(text.as_bytes())
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(fingerprint(&a), expected);
    }
}
