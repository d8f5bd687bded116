//! `oauth_client`: an OAuth client, its grant type and roles. Its secret is
//! computed (known after apply) and sensitive.

use super::{ExportSpec, KindSpec, Permissions, Reference};
use crate::kind::Kind;
use crate::schema::{
    key,
    DiffKind::{ForcesReplacement, Plain, Set},
    KeyDefault, KeySpec,
    KeyType::{Enum, Integer, RoleDivisionList, String, StringList},
    GRANT_TYPES,
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("name", String, true, Plain, "The client's name."),
    key!("grant_type", Enum(GRANT_TYPES), true, ForcesReplacement, "OAuth grant type; changing it replaces the client."),
    key!("description", String, false, Plain, "Free text."),
    key!("roles", RoleDivisionList, false, Set, "`{ role = \"${role.x.id}\", divisions = [\"*\"] }` tables; required for client_credentials."),
    key!("redirect_uris", StringList, false, Set, "Allowed callback URIs."),
    key!("scopes", StringList, false, Set, "OAuth scopes."),
    key!("token_ttl_seconds", Integer, false, Plain, "Access token lifetime, 300 to 172800 seconds. Default 86400 (24 hours).", default = KeyDefault::Int(86_400)),
    key!("state", Enum(&["active", "inactive"]), false, Plain, "`active` (default) or `inactive`.", default = KeyDefault::Str("active")),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::OauthClient,
    doc: "An OAuth client.",
    keys: KEYS,
    name_key: Some("name"),
    label_key: "name",
    computed: &["id", "client_id", "secret"],
    sensitive: &["secret"],
    permissions: Permissions {
        create: &[&["oauth:client:add"]],
        update: &[&["oauth:client:edit"]],
        // A client is set inactive (an edit) before it can be deleted.
        delete: &[&["oauth:client:edit"], &["oauth:client:delete"]],
    },
    references: &[
        Reference {
            key: "roles",
            kind: Kind::Role,
        },
        Reference {
            key: "roles",
            kind: Kind::Division,
        },
    ],
    user_keys: &[],
    export: ExportSpec {
        by_default: true,
        refused: None,
        left_out: &[],
        data_source: None,
    },
};
