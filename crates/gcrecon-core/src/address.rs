//! Addresses: the names by which plans, state, errors and CLI flags refer to
//! objects (`role.adapter`, `role.emite_division["Home"]`, `data.division.home`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kind::{DataKind, Kind};

/// Whether an address names a managed resource or a data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Resource(Kind),
    Data(DataKind),
}

/// The key of one `for_each` instance: a list element or a map key.
pub type InstanceKey = String;

/// The address of a resource or data source instance.
///
/// Implicit data sources (`data.org`, `data.caller`) have an empty `name`.
#[derive(Clone, Debug, Hash)]
#[cfg_attr(
    not(feature = "count-comparisons"),
    derive(PartialEq, Eq, PartialOrd, Ord)
)]
#[cfg_attr(
    feature = "count-comparisons",
    allow(clippy::derived_hash_with_manual_eq)
)]
pub struct Address {
    pub target: Target,
    pub name: String,
    pub key: Option<InstanceKey>,
}

/// The derived comparisons, each counted (see [`crate::comparisons`]).
#[cfg(feature = "count-comparisons")]
mod counted {
    use super::Address;
    use std::cmp::Ordering;

    impl PartialEq for Address {
        fn eq(&self, other: &Self) -> bool {
            crate::comparisons::tick();
            (self.target, &self.name, &self.key) == (other.target, &other.name, &other.key)
        }
    }

    impl Eq for Address {}

    impl PartialOrd for Address {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Address {
        fn cmp(&self, other: &Self) -> Ordering {
            crate::comparisons::tick();
            (self.target, &self.name, &self.key).cmp(&(other.target, &other.name, &other.key))
        }
    }
}

impl Address {
    /// A resource address without instance key (`role.adapter`).
    pub fn resource(kind: Kind, name: impl Into<String>) -> Self {
        Address {
            target: Target::Resource(kind),
            name: name.into(),
            key: None,
        }
    }

    /// A data source address without instance key (`data.division.home`).
    pub fn data(kind: DataKind, name: impl Into<String>) -> Self {
        Address {
            target: Target::Data(kind),
            name: name.into(),
            key: None,
        }
    }

    /// The same address with an instance key (`role.x["Home"]`).
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The address of the block this instance belongs to (key removed).
    #[must_use]
    pub fn block(&self) -> Address {
        Address {
            key: None,
            ..self.clone()
        }
    }

    /// The managed kind, when this is a resource address.
    pub fn kind(&self) -> Option<Kind> {
        match self.target {
            Target::Resource(k) => Some(k),
            Target::Data(_) => None,
        }
    }

    /// True for `data.*` addresses.
    pub fn is_data(&self) -> bool {
        matches!(self.target, Target::Data(_))
    }
}

/// Whether `name` is a valid address name: `[a-z][a-z0-9_]*`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target {
            Target::Resource(k) => write!(f, "{k}.{}", self.name)?,
            Target::Data(k) if self.name.is_empty() => write!(f, "data.{k}")?,
            Target::Data(k) => write!(f, "data.{k}.{}", self.name)?,
        }
        if let Some(key) = &self.key {
            write!(f, "[{}]", serde_json::Value::String(key.clone()))?;
        }
        Ok(())
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an address: {reason}")]
pub struct AddressParseError {
    pub input: String,
    pub reason: String,
}

impl FromStr for Address {
    type Err = AddressParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| AddressParseError {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (head, key) = match s.find('[') {
            Some(open) => {
                let rest = &s[open..];
                if !rest.ends_with(']') {
                    return Err(err("an instance key must end with `]`"));
                }
                let inner = &rest[1..rest.len() - 1];
                let key: String = serde_json::from_str(inner)
                    .map_err(|_| err("an instance key is a quoted string, e.g. [\"Home\"]"))?;
                (&s[..open], Some(key))
            }
            None => (s, None),
        };
        let parts: Vec<&str> = head.split('.').collect();
        let address = match parts.as_slice() {
            ["data", kind] => {
                let kind: DataKind = kind.parse().map_err(|_| err("unknown data source kind"))?;
                if !kind.is_implicit() {
                    return Err(err("a data source address is data.KIND.NAME"));
                }
                Address::data(kind, "")
            }
            ["data", kind, name] => {
                let kind: DataKind = kind.parse().map_err(|_| err("unknown data source kind"))?;
                Address::data(kind, *name)
            }
            [kind, name] => {
                let kind: Kind = kind.parse().map_err(|_| {
                    err("unknown kind (expected division, role, group, role_grant, oauth_client, integration or identity_provider)")
                })?;
                Address::resource(kind, *name)
            }
            _ => return Err(err("expected KIND.NAME or data.KIND.NAME")),
        };
        if !address.name.is_empty() && !is_valid_name(&address.name) {
            return Err(err("a name matches [a-z][a-z0-9_]*"));
        }
        Ok(Address { key, ..address })
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for s in [
            "role.adapter",
            "oauth_client.sso",
            "data.division.home",
            "data.org",
            "role.emite_division[\"Home\"]",
            "role.x[\"with \\\"quote\\\"\"]",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn bad_addresses_are_rejected() {
        for s in [
            "role",
            "rolez.x",
            "role.X",
            "data.division",
            "role.x[Home]",
            "a.b.c",
        ] {
            assert!(s.parse::<Address>().is_err(), "{s}");
        }
    }
}
