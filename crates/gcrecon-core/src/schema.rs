//! The keys of every resource and data source kind: their types, whether they
//! are required, how they diff, and which attributes can be referenced.
//!
//! One table serves the validator (unknown key, missing key, wrong type), the
//! JSON Schema generator, the diff (set semantics, replacement) and the
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

/// The keys of a managed kind.
pub fn resource_keys(kind: Kind) -> &'static [KeySpec] {
    use DiffKind::{ForcesReplacement, Meta, Plain, Set, Subset};
    use KeyType::{Any, Bool, Enum, Integer, Map, RoleDivisionList, String, StringList};
    match kind {
        Kind::Division => &[
            key!("name", String, true, Plain, "The division's name."),
            key!("description", String, false, Plain, "Free text."),
        ],
        Kind::Role => &[
            key!("name", String, true, Plain, "The role's name."),
            key!("permissions", StringList, true, Set, "API permission strings `domain:entity:action`; `*` allowed for entity and action."),
            key!("description", String, false, Plain, "Free text."),
            key!("grant_to_caller", Enum(&["auto", "keep", "never"]), false, Meta, "Grant the role to the caller before an OAuth client needs it: `auto` (default, removed afterwards), `keep` or `never`."),
        ],
        Kind::Group => &[
            key!("name", String, true, Plain, "The group's name."),
            key!("description", String, false, Plain, "Free text."),
            key!("type", Enum(&["official"]), false, ForcesReplacement, "Group type; only `official` can be created, and an update cannot change it. Default `official`.", default = KeyDefault::Str("official")),
            key!("visibility", Enum(&["public", "members"]), false, Plain, "Who can see the group. Default `public`.", default = KeyDefault::Str("public")),
            key!("rules_visible", Bool, false, Plain, "Whether the group's rules are visible. Default `true`.", default = KeyDefault::Bool(true)),
            key!("roles_enabled", Bool, false, Plain, "Whether roles can be granted to the group; left to the organization when omitted."),
            key!("members", StringList, false, Set, "User ids; when present, the complete membership."),
            key!("owners", StringList, false, Set, "User ids of the owners; when present, the complete set."),
        ],
        Kind::RoleGrant => &[
            key!("role", String, true, ForcesReplacement, "The role's id, usually `${role.x.id}` or `${data.role.x.id}`."),
            key!("subjects", StringList, true, Set, "User or group ids, or one reference to a list of ids."),
            key!("divisions", StringList, false, Set, "Division ids; default the home division; `*` means all divisions."),
        ],
        Kind::OauthClient => &[
            key!("name", String, true, Plain, "The client's name."),
            key!("grant_type", Enum(GRANT_TYPES), true, ForcesReplacement, "OAuth grant type; changing it replaces the client."),
            key!("description", String, false, Plain, "Free text."),
            key!("roles", RoleDivisionList, false, Set, "`{ role = \"${role.x.id}\", divisions = [\"*\"] }` tables; required for client_credentials."),
            key!("redirect_uris", StringList, false, Set, "Allowed callback URIs."),
            key!("scopes", StringList, false, Set, "OAuth scopes."),
            key!("token_ttl_seconds", Integer, false, Plain, "Access token lifetime, 300 to 172800 seconds. Default 86400 (24 hours).", default = KeyDefault::Int(86_400)),
            key!("state", Enum(&["active", "inactive"]), false, Plain, "`active` (default) or `inactive`.", default = KeyDefault::Str("active")),
        ],
        Kind::Integration => &[
            key!("type", String, false, ForcesReplacement, "Integration type id (`embedded-client-app`); required unless `type_name` is given."),
            key!("type_name", String, false, ForcesReplacement, "Integration type display name, looked up at plan time."),
            key!("name", String, true, Plain, "The integration's name."),
            key!("enabled", Bool, false, Plain, "Intended state ENABLED (default true) or DISABLED.", default = KeyDefault::Bool(true)),
            key!("notes", String, false, Plain, "Free text."),
            key!("config", Map, false, Subset, "Configuration properties by wire name."),
            key!("advanced", Map, false, Subset, "Advanced configuration."),
            key!("credentials", Map, false, Subset, "Credential references by name."),
        ],
        Kind::IdentityProvider => &[
            key!("provider", Enum(&["pureengage"]), true, ForcesReplacement, "Which identity provider (`pureengage`)."),
            key!("*", Any, false, Subset, "Any other key is one of the provider's own fields (wire names, e.g. `issuerURI`)."),
        ],
    }
}

/// Give every defaulted key of `kind` that `attrs` lacks its default, so
/// that an omitted key is created, compared and repaired at its default.
pub fn fill_defaults(kind: Kind, attrs: &mut Attrs) {
    for spec in resource_keys(kind) {
        if let Some(default) = spec.default {
            attrs
                .entry(spec.name.to_owned())
                .or_insert_with(|| default.value());
        }
    }
}

/// Attributes of a managed kind that references may read, beyond its keys.
pub fn resource_computed_attributes(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::OauthClient => &["id", "client_id", "secret"],
        _ => &["id"],
    }
}

/// Attributes that hold secrets; anything derived from them is sensitive.
pub fn sensitive_attributes(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::OauthClient => &["secret"],
        _ => &[],
    }
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
