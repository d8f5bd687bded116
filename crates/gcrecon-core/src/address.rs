//! Addresses: the names by which plans, state, errors and CLI flags refer to
//! objects (`role.adapter`, `role.emite_division["Home"]`, `data.division.home`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kind::{DataKind, Kind};

/// Whether an address names a managed resource or a data source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Resource(Kind),
    Data(DataKind),
}

/// The key of one `for_each` instance: a list element or a map key.
pub type InstanceKey = Name;

/// A block name (`adapter` in `role.adapter`) or instance key, shared by
/// every copy of an address: a plan copies each resource's address into
/// the graph, the evaluated instance, the refresh index and the change
/// record, and a shared name makes each copy a reference count instead of
/// an allocation. Object ids ([`crate::provider::GenesysId`]) hold one for
/// the same reason. Compares, orders and hashes as the string it holds.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::from(s))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(Arc::from(s.as_str()))
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0.as_ref().to_owned()
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Builds the shared text straight from the borrowed or
        /// transient string: one allocation, not a `String` and a copy.
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name::from(v))
            }
        }
        d.deserialize_str(Text)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == &*other.0
    }
}

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
    pub name: Name,
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
    pub fn resource(kind: Kind, name: impl Into<Name>) -> Self {
        Address {
            target: Target::Resource(kind),
            name: name.into(),
            key: None,
        }
    }

    /// A data source address without instance key (`data.division.home`).
    pub fn data(kind: DataKind, name: impl Into<Name>) -> Self {
        Address {
            target: Target::Data(kind),
            name: name.into(),
            key: None,
        }
    }

    /// The same address with an instance key (`role.x["Home"]`).
    #[must_use]
    pub fn with_key(mut self, key: impl Into<InstanceKey>) -> Self {
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
            write!(f, "[{}]", serde_json::Value::String(key.to_string()))?;
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
        Ok(Address {
            key: key.map(InstanceKey::from),
            ..address
        })
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
    #[test]
    fn a_name_compares_orders_and_hashes_as_its_string() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |h: &dyn Fn(&mut DefaultHasher)| {
            let mut s = DefaultHasher::new();
            h(&mut s);
            s.finish()
        };
        let words = ["", "a", "adapter", "adapter_2", "b", "home"];
        for x in words {
            let n = Name::from(x);
            assert_eq!(n, x);
            assert_eq!(n.as_str(), x);
            assert_eq!(n.to_string(), x);
            assert_eq!(format!("{n:?}"), format!("{x:?}"));
            assert_eq!(hash(&|s| n.hash(s)), hash(&|s| x.hash(s)));
            assert_eq!(
                serde_json::to_string(&n).unwrap(),
                serde_json::to_string(x).unwrap()
            );
            let back: Name = serde_json::from_str(&serde_json::to_string(x).unwrap()).unwrap();
            assert_eq!(back, n);
            for y in words {
                let m = Name::from(y);
                assert_eq!(n.cmp(&m), x.cmp(y), "{x:?} against {y:?}");
                assert_eq!(n == m, x == y);
            }
        }
        // A copy shares the text rather than allocating it again.
        let n = Name::from("adapter");
        assert!(std::ptr::eq(n.as_str(), n.clone().as_str()));
    }

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
