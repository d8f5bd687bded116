//! `role_grant`: a role granted to users or groups in divisions. It owns
//! only the (subject, division) pairs it lists; [`crate::diff`] compares
//! those pairs rather than the keys one by one.

use super::{ExportSpec, KindSpec, Permissions, Reference};
use crate::kind::Kind;
use crate::schema::{
    key,
    DiffKind::{ForcesReplacement, Set},
    KeySpec,
    KeyType::{String, StringList},
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("role", String, true, ForcesReplacement, "The role's id, usually `${role.x.id}` or `${data.role.x.id}`."),
    key!("subjects", StringList, true, Set, "User or group ids, or one reference to a list of ids."),
    key!("divisions", StringList, false, Set, "Division ids; default the home division; `*` means all divisions."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::RoleGrant,
    doc: "A role granted to users or groups in divisions.",
    keys: KEYS,
    // A grant has no name of its own: it is never adopted by name.
    name_key: None,
    label_key: "role",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["authorization:grant:add"]],
        update: &[&["authorization:grant:add"]],
        delete: &[&["authorization:grant:delete"]],
    },
    references: &[
        Reference { key: "role", kind: Kind::Role },
        Reference { key: "subjects", kind: Kind::Group },
        Reference { key: "divisions", kind: Kind::Division },
    ],
    user_keys: &[],
    export: ExportSpec {
        by_default: false,
        refused: Some("role_grant is not exported: grants name users by id; write role_grant blocks by hand with data.user / data.users references"),
        left_out: &[],
        data_source: None,
    },
};
