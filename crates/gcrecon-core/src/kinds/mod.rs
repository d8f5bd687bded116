//! One entry per managed kind: everything gcrecon knows about a kind that
//! is not code talking to Genesys Cloud, in one [`KindSpec`].
//!
//! The validator, the JSON Schema, the diff, the reference checker, the
//! planner's permission check, export and the test provider all read a
//! kind's spec through [`crate::Kind::spec`] instead of matching on the kind
//! themselves. Adding a kind means: a file here with its `SPEC`, and one
//! line in the `kinds!` list below, which declares the module, the
//! [`Kind`] variant, its manifest spelling, its place in [`Kind::ALL`] and
//! its arm in [`spec`] (see `docs/architecture.md`, "How to add a kind").

use serde::{Deserialize, Serialize};

use crate::kind::DataKind;
use crate::schema::KeySpec;

/// The list of managed kinds, one `Variant => module` line each, in the
/// order plans list them. The module (a file in this directory holding the
/// kind's `SPEC`) is named as the manifest spells the kind, and so is the
/// variant in serde's `snake_case`.
macro_rules! kinds {
    ($($variant:ident => $module:ident),+ $(,)?) => {
        $(mod $module;)+

        /// A managed resource kind: gcrecon creates, updates and deletes these.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $($variant,)+
        }

        impl Kind {
            /// Every managed kind, in the order plans list them.
            pub const ALL: [Kind; 0 $(+ { let _ = Kind::$variant; 1 })+] = [$(Kind::$variant,)+];

            /// The manifest spelling (`oauth_client`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => stringify!($module),)+
                }
            }
        }

        /// The spec of `kind`.
        pub fn spec(kind: Kind) -> &'static KindSpec {
            match kind {
                $(Kind::$variant => &$module::SPEC,)+
            }
        }
    };
}

kinds! {
    Division => division,
    Role => role,
    Group => group,
    RoleGrant => role_grant,
    OauthClient => oauth_client,
    Integration => integration,
    IdentityProvider => identity_provider,
    Queue => queue,
}

/// Everything core knows about one managed kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindSpec {
    pub kind: Kind,
    /// One sentence for the JSON Schema and the docs.
    pub doc: &'static str,
    /// The manifest keys: type, required, default, diff semantics, doc. A
    /// key named `*` stands for any other key (the kind is open).
    pub keys: &'static [KeySpec],
    /// The key holding the display name an existing object is found (and
    /// adopted) by; `None` when objects of the kind have no name of their
    /// own (a `role_grant` is matched by id only).
    pub name_key: Option<&'static str>,
    /// The key that labels an object in listings and messages (the name
    /// key, or what stands in for it).
    pub label_key: &'static str,
    /// Attributes references may read beyond the keys (known after apply
    /// for a new object): `id`, and for an OAuth client its `client_id`
    /// and `secret`.
    pub computed: &'static [&'static str],
    /// Attributes that hold secrets; anything derived from them is sensitive.
    pub sensitive: &'static [&'static str],
    /// The permissions the Platform API asks the caller for.
    pub permissions: Permissions,
    /// Keys whose values are ids of objects of another managed kind.
    pub references: &'static [Reference],
    /// Keys listing users by id or by the email of an existing user (an
    /// email is looked up at plan time).
    pub user_keys: &'static [&'static str],
    /// How `gcrecon export` treats the kind.
    pub export: ExportSpec,
}

/// One permission requirement, met by holding any of its alternatives.
pub type AnyOf = &'static [&'static str];

/// The permissions each operation needs; every entry must be met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permissions {
    pub create: &'static [AnyOf],
    pub update: &'static [AnyOf],
    pub delete: &'static [AnyOf],
}

/// A key that refers to objects of another kind by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The key (for `oauth_client.roles`, the list of role tables).
    pub key: &'static str,
    pub kind: Kind,
}

/// Export hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportSpec {
    /// Written when `gcrecon export` is given no `--kinds`.
    pub by_default: bool,
    /// Why export refuses the kind (printed as a warning); `None`: exportable.
    pub refused: Option<&'static str>,
    /// Keys never exported: collections humans keep managing.
    pub left_out: &'static [&'static str],
    /// The data source an exported reference to an object of this kind
    /// becomes when the object itself is not exported (built-in, or its
    /// kind not asked for); `None`: the raw id stays.
    pub data_source: Option<DataKind>,
}

impl KindSpec {
    /// The spec of key `key`; for an open kind, the `*` entry stands for
    /// any key it does not name.
    pub fn key(&self, key: &str) -> Option<&'static KeySpec> {
        self.keys
            .iter()
            .find(|k| k.name == key)
            .or_else(|| self.keys.iter().find(|k| k.name == "*"))
    }

    /// True when any key is accepted (`*`).
    pub fn is_open(&self) -> bool {
        self.keys.iter().any(|k| k.name == "*")
    }

    /// True for a key or computed attribute references may read.
    pub fn has_attribute(&self, attr: &str) -> bool {
        self.keys.iter().any(|k| k.name == attr) || self.computed.contains(&attr)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::schema::{DiffKind, KeyType};

    #[test]
    fn every_kind_has_its_own_spec() {
        for kind in Kind::ALL {
            assert_eq!(
                kind.spec().kind,
                kind,
                "the spec of {kind} names another kind"
            );
            assert!(!kind.spec().doc.is_empty(), "{kind} has no doc");
        }
    }

    #[test]
    fn spec_keys_are_consistent() {
        for kind in Kind::ALL {
            let spec = kind.spec();
            let mut seen = BTreeSet::new();
            for key in spec.keys {
                assert!(seen.insert(key.name), "{kind}.{} is listed twice", key.name);
                assert!(!key.doc.is_empty(), "{kind}.{} has no doc", key.name);
                if key.default.is_some() {
                    assert!(
                        !key.required,
                        "{kind}.{} is required and has a default",
                        key.name
                    );
                }
                if let (Some(d), KeyType::Enum(values)) = (key.default, key.ty) {
                    let d = d.value();
                    assert!(
                        values.iter().any(|v| d.as_str() == Some(*v)),
                        "{kind}.{}'s default is not one of its values",
                        key.name
                    );
                }
                assert!(
                    key.diff != DiffKind::Set
                        || matches!(key.ty, KeyType::StringList | KeyType::RoleDivisionList),
                    "{kind}.{} compares as a set but is not a list",
                    key.name
                );
            }
            if let Some(name) = spec.name_key {
                let key = spec
                    .key(name)
                    .unwrap_or_else(|| panic!("{kind}: no name key `{name}`"));
                assert!(key.required, "{kind}: its name key `{name}` is optional");
            }
            assert!(spec.key(spec.label_key).is_some(), "{kind}: no label key");
            for attr in spec.sensitive {
                assert!(
                    spec.computed.contains(attr),
                    "{kind}: sensitive `{attr}` is not computed"
                );
            }
            assert!(spec.computed.contains(&"id"), "{kind}: no `id` attribute");
            for attr in spec.computed {
                assert!(
                    !spec.keys.iter().any(|k| k.name == *attr),
                    "{kind}: `{attr}` is both a key and computed"
                );
            }
            for key in spec.user_keys {
                let ty = spec.key(key).map(|k| k.ty);
                assert_eq!(ty, Some(KeyType::StringList), "{kind}: user key `{key}`");
            }
            for r in spec.references {
                assert!(
                    spec.key(r.key).is_some(),
                    "{kind}: reference through unknown key `{}`",
                    r.key
                );
            }
            for key in spec.export.left_out {
                assert!(
                    spec.keys.iter().any(|k| k.name == *key),
                    "{kind}: export leaves out unknown key `{key}`"
                );
            }
            assert!(
                !(spec.export.by_default && spec.export.refused.is_some()),
                "{kind}: refused by export yet exported by default"
            );
            for ops in [
                spec.permissions.create,
                spec.permissions.update,
                spec.permissions.delete,
            ] {
                assert!(!ops.is_empty(), "{kind}: an operation needs no permission");
                for any in ops {
                    for p in *any {
                        assert!(
                            crate::permission::check_syntax(p).is_ok(),
                            "{kind}: bad permission `{p}`"
                        );
                    }
                }
            }
        }
    }

    /// The committed JSON Schema (`docs/manifest.schema.json`) and the
    /// manifest validator agree with every kind's spec: the same keys, the
    /// same required keys and defaults.
    #[test]
    fn specs_agree_with_the_manifest_schema() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/manifest.schema.json");
        let text = std::fs::read_to_string(&path).expect("docs/manifest.schema.json is readable");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
        for kind in Kind::ALL {
            let spec = kind.spec();
            let def = &schema["$defs"][kind.as_str()];
            assert_eq!(def["description"], spec.doc, "{kind}: description");
            let props: BTreeSet<&str> = def["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{kind}: no properties in the schema"))
                .keys()
                .map(String::as_str)
                .filter(|k| !crate::schema::META_KEYS.contains(k))
                .collect();
            let keys: BTreeSet<&str> = spec
                .keys
                .iter()
                .map(|k| k.name)
                .filter(|n| *n != "*")
                .collect();
            assert_eq!(
                props, keys,
                "{kind}: schema properties and spec keys differ"
            );
            assert_eq!(
                def["additionalProperties"],
                spec.is_open(),
                "{kind}: openness"
            );
            let required: BTreeSet<&str> = def["required"]
                .as_array()
                .map(|r| r.iter().filter_map(serde_json::Value::as_str).collect())
                .unwrap_or_default();
            let spec_required: BTreeSet<&str> = spec
                .keys
                .iter()
                .filter(|k| k.required)
                .map(|k| k.name)
                .collect();
            assert_eq!(required, spec_required, "{kind}: required keys differ");
            for key in spec.keys.iter().filter(|k| k.name != "*") {
                let want = key
                    .default
                    .map(|d| d.value().to_json().expect("a default is JSON"));
                let have = def["properties"][key.name].get("default").cloned();
                assert_eq!(have, want, "{kind}.{}: default", key.name);
            }
        }
    }

    /// The validator rejects a key the spec does not list (for a closed
    /// kind) and asks for every required key.
    #[test]
    fn the_validator_follows_the_spec() {
        for kind in Kind::ALL {
            let text = format!("[gcrecon]\nversion = 1\n\n[{kind}.x]\nnot_a_key = \"v\"\n");
            let sources = [crate::manifest::Source::new("gcrecon.toml", text)];
            let rendered = match crate::manifest::load(&sources) {
                Ok(_) => String::new(),
                Err(d) => d.render(&sources, false),
            };
            let spec = kind.spec();
            assert_eq!(
                rendered.contains("not_a_key"),
                !spec.is_open(),
                "{kind}: an unknown key\n{rendered}"
            );
            for key in spec.keys.iter().filter(|k| k.required) {
                assert!(
                    rendered.contains(&format!("`{}`", key.name)),
                    "{kind}: the missing required key `{}` is not reported\n{rendered}",
                    key.name
                );
            }
        }
    }
}
