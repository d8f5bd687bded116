//! `role`: an authorization role, a set of permissions.

use super::{ExportSpec, KindSpec, Permissions};
use crate::kind::{DataKind, Kind};
use crate::schema::{
    key,
    DiffKind::{Meta, Plain, Set},
    KeySpec,
    KeyType::{Enum, String, StringList},
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("name", String, true, Plain, "The role's name."),
    key!("permissions", StringList, true, Set, "API permission strings `domain:entity:action`; `*` allowed for entity and action."),
    key!("description", String, false, Plain, "Free text."),
    key!("grant_to_caller", Enum(&["auto", "keep", "never"]), false, Meta, "Grant the role to the caller before an OAuth client needs it: `auto` (default, removed afterwards), `keep` or `never`."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::Role,
    doc: "An authorization role.",
    keys: KEYS,
    name_key: Some("name"),
    label_key: "name",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["authorization:role:add"]],
        update: &[&["authorization:role:edit"]],
        delete: &[&["authorization:role:delete"]],
    },
    references: &[],
    user_keys: &[],
    export: ExportSpec {
        by_default: true,
        refused: None,
        left_out: &[],
        data_source: Some(DataKind::Role),
    },
};
