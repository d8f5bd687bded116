//! `identity_provider`: an org-wide SSO provider. The kind is open: keys
//! other than `provider` are the provider's own wire fields.

use super::{ExportSpec, KindSpec, Permissions};
use crate::kind::Kind;
use crate::schema::{
    key,
    DiffKind::{ForcesReplacement, Subset},
    KeySpec,
    KeyType::{Any, Enum},
};

// One key a line, as a table.
#[rustfmt::skip]
const KEYS: &[KeySpec] = &[
    key!("provider", Enum(&["pureengage"]), true, ForcesReplacement, "Which identity provider (`pureengage`)."),
    key!("*", Any, false, Subset, "Any other key is one of the provider's own fields (wire names, e.g. `issuerURI`)."),
];

pub(super) const SPEC: KindSpec = KindSpec {
    kind: Kind::IdentityProvider,
    doc: "An org-wide SSO/identity provider; keys other than `provider` are the provider's own fields.",
    keys: KEYS,
    name_key: Some("provider"),
    label_key: "provider",
    computed: &["id"],
    sensitive: &[],
    permissions: Permissions {
        create: &[&["sso:provider:add", "sso:provider:edit"]],
        update: &[&["sso:provider:add", "sso:provider:edit"]],
        delete: &[&["sso:provider:delete"]],
    },
    references: &[],
    user_keys: &[],
    export: ExportSpec {
        by_default: true,
        refused: None,
        left_out: &[],
        data_source: None,
    },
};
