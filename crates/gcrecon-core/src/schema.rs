//! The keys of every resource and data source kind: their types, whether they
//! are required, how they diff, and which attributes can be referenced.
//!
//! The keys of a managed kind live in its entry in [`crate::kinds`]; this
//! module defines what a key is and keeps the data sources' keys. One table
//! serves the validator (unknown key, missing key, wrong type), the JSON
//! Schema generator, the diff (set semantics, replacement) and the
//! reference checker (which attributes exist).

use crate::kind::{DataKind, Kind};
use crate::value::{Attrs, Value};

/// The type a key accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    String,
    Bool,
    Integer,
    /// A list of strings.
    StringList,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// `oauth_client.roles`: a list of `{ role = "...", divisions = [...] }`.
    RoleDivisionList,
    /// A table of free-form values (integration `config`, `advanced`, `credentials`).
    Map,
    /// Anything (identity provider fields).
    Any,
}

/// How a key is compared between desired and live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// Compared as a whole value.
    Plain,
    /// Compared as a set: order and duplicates never cause a diff.
    Set,
    /// A change forces delete + create.
    ForcesReplacement,
    /// Only the keys present in the manifest are compared (server defaults ignored).
    Subset,
    /// Not sent to Genesys Cloud; gcrecon's own setting.
    Meta,
}

/// The value a key stands for when the manifest leaves it out.
///
/// A key with a default is managed even when omitted: the diff compares the
/// live value with the default, so a change behind gcrecon's back shows in
/// `plan` and `drift` and `apply` puts the default back. A key without one
/// is not compared when omitted (free text, collections humans manage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDefault {
    Bool(bool),
    Str(&'static str),
    Int(i64),
}

impl KeyDefault {
    /// The default as a manifest value.
    pub fn value(self) -> Value {
        match self {
            KeyDefault::Bool(b) => Value::Bool(b),
            KeyDefault::Str(s) => Value::from(s),
            KeyDefault::Int(i) => Value::from(i),
        }
    }
}

/// One key of a resource or data source kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub name: &'static str,
    pub ty: KeyType,
    pub required: bool,
    pub diff: DiffKind,
    pub doc: &'static str,
    /// What an omitted key means; `None`: an omitted key is not managed.
    pub default: Option<KeyDefault>,
}

macro_rules! key {
    ($name:expr, $ty:expr, $required:expr, $diff:expr, $doc:expr) => {
        key!($name, $ty, $required, $diff, $doc, None)
    };
    ($name:expr, $ty:expr, $required:expr, $diff:expr, $doc:expr, default = $default:expr) => {
        key!($name, $ty, $required, $diff, $doc, Some($default))
    };
    ($name:expr, $ty:expr, $required:expr, $diff:expr, $doc:expr, $default:expr) => {
        KeySpec {
            name: $name,
            ty: $ty,
            required: $required,
            diff: $diff,
            doc: $doc,
            default: $default,
        }
    };
}
pub(crate) use key;

/// Keys every resource accepts regardless of kind (meta-arguments).
pub const META_KEYS: &[&str] = &[
    "for_each",
    "when",
    "depends_on",
    "prevent_destroy",
    "adopt",
    "ignore_changes",
];

/// `oauth_client.grant_type` values.
pub const GRANT_TYPES: &[&str] = &[
    "client_credentials",
    "code",
    "implicit",
    "saml2_bearer",
    "password",
];

/// The keys of a managed kind (its [`crate::kinds::KindSpec::keys`]).
pub fn resource_keys(kind: Kind) -> &'static [KeySpec] {
    kind.spec().keys
}

/// Give every defaulted key of `kind` that `attrs` lacks its default, so
/// that an omitted key is created, compared and repaired at its default.
pub fn fill_defaults(kind: Kind, attrs: &mut Attrs) {
    for spec in resource_keys(kind) {
        if let Some(default) = spec.default {
            attrs.get_or_insert_with(spec.name.to_owned(), || default.value());
        }
    }
}

/// Attributes of a managed kind that references may read, beyond its keys.
pub fn resource_computed_attributes(kind: Kind) -> &'static [&'static str] {
    kind.spec().computed
}

/// Attributes that hold secrets; anything derived from them is sensitive.
pub fn sensitive_attributes(kind: Kind) -> &'static [&'static str] {
    kind.spec().sensitive
}

/// The query keys of a data source kind (all optional unless listed in
/// the kind's doc) and the attributes it yields.
pub fn data_keys(kind: DataKind) -> (&'static [KeySpec], &'static [&'static str]) {
    use DiffKind::Plain;
    use KeyType::{Bool, String, StringList};
    match kind {
        DataKind::Org => (
            &[],
            &[
                "id",
                "name",
                "short_name",
                "region",
                "domain",
                "api_url",
                "login_url",
            ],
        ),
        DataKind::Caller => (&[], &["kind", "id", "name"]),
        DataKind::Division => (
            &[
                key!("name", String, false, Plain, "The division's name."),
                key!("home", Bool, false, Plain, "`true` for the home division."),
            ],
            &["id", "name"],
        ),
        DataKind::Divisions => (
            &[key!(
                "names",
                StringList,
                false,
                Plain,
                "Only these divisions; all when absent."
            )],
            &["ids", "names"],
        ),
        DataKind::User => (
            &[key!("email", String, true, Plain, "The user's email.")],
            &["id", "name", "email"],
        ),
        DataKind::Users => (
            &[
                key!(
                    "division",
                    String,
                    false,
                    Plain,
                    "Users of the division with this name."
                ),
                key!(
                    "group",
                    String,
                    false,
                    Plain,
                    "Members of the group with this name."
                ),
                key!(
                    "role",
                    String,
                    false,
                    Plain,
                    "Users holding the role with this name or id."
                ),
                key!(
                    "queue",
                    String,
                    false,
                    Plain,
                    "Members (agents) of the queue with this name or id."
                ),
            ],
            &["ids", "emails"],
        ),
        DataKind::Queue => (
            &[key!("name", String, true, Plain, "The queue's name.")],
            &["id", "name", "division_id"],
        ),
        DataKind::Role => (
            &[key!("name", String, true, Plain, "The role's name.")],
            &["id", "name"],
        ),
        DataKind::IntegrationType => (
            &[
                key!("name", String, false, Plain, "The type's display name."),
                key!("id", String, false, Plain, "The type's id."),
            ],
            &["id", "name"],
        ),
    }
}
