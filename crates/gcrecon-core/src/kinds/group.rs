//! `group`: a directory group, its settings, members and owners.

use super::{ExportSpec, KindSpec, Permissions};
use crate::kind::Kind;
use crate::schema::{
    key,
    DiffKind::{ForcesReplacement, Plain, Set},
    KeyDefault, KeySpec,
    KeyType::{Bool, Enum, String, StringList},
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("name", String, true, Plain, "The group's name."),
    key!("description", String, false, Plain, "Free text."),
    key!("type", Enum(&["official"]), false, ForcesReplacement, "Group type; only `official` can be created, and an update cannot change it. Default `official`.", default = KeyDefault::Str("official")),
    key!("visibility", Enum(&["public", "members"]), false, Plain, "Who can see the group. Default `public`.", default = KeyDefault::Str("public")),
    key!("rules_visible", Bool, false, Plain, "Whether the group's rules are visible. Default `true`.", default = KeyDefault::Bool(true)),
    key!("roles_enabled", Bool, false, Plain, "Whether roles can be granted to the group; left to the organization when omitted."),
    key!("members", StringList, false, Set, "User ids; when present, the complete membership."),
    key!("owners", StringList, false, Set, "User ids of the owners; when present, the complete set."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::Group,
    doc: "A group.",
    keys: KEYS,
    name_key: Some("name"),
    label_key: "name",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["directory:group:add"]],
        update: &[&["directory:group:edit"]],
        delete: &[&["directory:group:delete"]],
    },
    references: &[],
    user_keys: &["members", "owners"],
    export: ExportSpec {
        by_default: true,
        refused: None,
        // Raw user ids: humans keep managing them.
        left_out: &["members", "owners"],
        data_source: None,
    },
};
