//! `division`: an authorization division.

use super::{ExportSpec, KindSpec, Permissions};
use crate::kind::{DataKind, Kind};
use crate::schema::{key, DiffKind::Plain, KeySpec, KeyType::String};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("name", String, true, Plain, "The division's name."),
    key!("description", String, false, Plain, "Free text."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::Division,
    doc: "An authorization division.",
    keys: KEYS,
    name_key: Some("name"),
    label_key: "name",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["authorization:division:add"]],
        update: &[&["authorization:division:edit"]],
        delete: &[&["authorization:division:delete"]],
    },
    references: &[],
    user_keys: &[],
    export: ExportSpec {
        by_default: true,
        refused: None,
        left_out: &[],
        data_source: Some(DataKind::Division),
    },
};
