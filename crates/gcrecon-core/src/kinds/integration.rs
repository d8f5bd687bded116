//! `integration`: an integration instance, its type and configuration.

use super::{ExportSpec, KindSpec, Permissions};
use crate::kind::Kind;
use crate::schema::{
    key,
    DiffKind::{ForcesReplacement, Plain, Subset},
    KeyDefault, KeySpec,
    KeyType::{Bool, Map, String},
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("type", String, false, ForcesReplacement, "Integration type id (`embedded-client-app`); required unless `type_name` is given."),
    key!("type_name", String, false, ForcesReplacement, "Integration type display name, looked up at plan time."),
    key!("name", String, true, Plain, "The integration's name."),
    key!("enabled", Bool, false, Plain, "Intended state ENABLED (default true) or DISABLED.", default = KeyDefault::Bool(true)),
    key!("notes", String, false, Plain, "Free text."),
    key!("config", Map, false, Subset, "Configuration properties by wire name."),
    key!("advanced", Map, false, Subset, "Advanced configuration."),
    key!("credentials", Map, false, Subset, "Credential references by name."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::Integration,
    doc: "An integration instance.",
    keys: KEYS,
    name_key: Some("name"),
    label_key: "name",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["integrations:integration:add"]],
        update: &[&["integrations:integration:edit"]],
        delete: &[&["integrations:integration:delete"]],
    },
    references: &[],
    user_keys: &[],
    export: ExportSpec {
        by_default: true,
        refused: None,
        // Credentials are references humans set up; `type` is exported instead of `type_name`.
        left_out: &["credentials", "type_name"],
        data_source: None,
    },
};
