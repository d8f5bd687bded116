//! The kinds of objects a manifest can name: managed resource kinds and
//! read-only data source kinds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use crate::kinds::Kind;

impl Kind {
    /// Everything core knows about the kind: keys, name key, computed and
    /// sensitive attributes, permissions, references, export hints.
    pub fn spec(self) -> &'static crate::kinds::KindSpec {
        crate::kinds::spec(self)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a kind name that gcrecon does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A data source kind: looked up at plan time, never changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// `data.org`, implicit.
    Org,
    /// `data.caller`, implicit.
    Caller,
    Division,
    Divisions,
    User,
    Users,
    Queue,
    Role,
    IntegrationType,
}

impl DataKind {
    /// Every data source kind.
    pub const ALL: [DataKind; 9] = [
        DataKind::Org,
        DataKind::Caller,
        DataKind::Division,
        DataKind::Divisions,
        DataKind::User,
        DataKind::Users,
        DataKind::Queue,
        DataKind::Role,
        DataKind::IntegrationType,
    ];

    /// The manifest spelling after `data.` (`integration_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::Org => "org",
            DataKind::Caller => "caller",
            DataKind::Division => "division",
            DataKind::Divisions => "divisions",
            DataKind::User => "user",
            DataKind::Users => "users",
            DataKind::Queue => "queue",
            DataKind::Role => "role",
            DataKind::IntegrationType => "integration_type",
        }
    }

    /// `data.org` and `data.caller` exist without a table in the manifest
    /// and have no instance name: they are addressed `data.org.ATTR`.
    pub fn is_implicit(self) -> bool {
        matches!(self, DataKind::Org | DataKind::Caller)
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        for k in DataKind::ALL {
            assert_eq!(k.as_str().parse::<DataKind>().unwrap(), k);
        }
        assert!("roles".parse::<Kind>().is_err());
    }
}
