//! The plan model: what an apply would do, per address, and how the plan is
//! serialized (`gcrecon plan --format json`, saved plan files).
//!
//! The engine builds a [`Plan`]; the CLI renders it (human, markdown, JSON).
//! A plan never holds a secret: sensitive attribute values are replaced by
//! [`SENSITIVE_PLACEHOLDER`] before they get here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::kind::Kind;
use crate::provider::GenesysId;
use crate::value::{Attrs, Value};

/// The JSON format version of plans (`format_version`).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What a sensitive value renders as.
pub const SENSITIVE_PLACEHOLDER: &str = "(sensitive)";

/// One action of a resource change. A replacement is `[Delete, Create]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Delete,
    NoOp,
    Read,
}

/// The planned change of one resource instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub kind: Kind,
    /// The block name (`adapter` in `role.adapter`).
    pub name: crate::address::Name,
    /// `[create]`, `[update]`, `[delete]`, `[delete, create]`, `[no-op]`.
    pub actions: Vec<Action>,
    /// Attributes as they are now (live, in manifest vocabulary); `None` for a create.
    pub before: Option<Attrs>,
    /// Attributes after apply; `None` for a delete. Unknown values serialize as `null`
    /// and are flagged in `after_unknown`. A no-op holds neither side when
    /// they are alike (the plan JSON rebuilds them).
    pub after: Option<Attrs>,
    /// The Genesys id, when the object exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<GenesysId>,
    /// Keys whose change is the reason for an update (sorted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_keys: Vec<String>,
    /// Keys that force the replacement, for `[delete, create]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_because: Vec<String>,
    /// Keys whose values are sensitive (rendered as `(sensitive)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_keys: Vec<String>,
    /// The diff's per-key results for an update or a replacement, sorted by
    /// key: computed once by [`crate::diff::key_changes`], printed by the
    /// renderers as they are. Empty for creates, deletes and no-ops (and in
    /// plans saved before the field existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyChange>,
    /// The live version seen by the refresh, checked again by `apply PLANFILE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<String>,
    /// Why an existing object is in the plan at all (adopted, missing live, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One key of a [`ResourceChange`] that the diff found changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    /// The value now, as the plan's `before` holds it (`None`: not set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after apply, as the plan's `after` holds it (`None`: not
    /// set; [`Value::Unknown`]: known after apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The values are sensitive: `before` and `after` hold
    /// [`SENSITIVE_PLACEHOLDER`], never the secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// Changing the key replaces the object (`[delete, create]`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forces_replacement: bool,
}

impl ResourceChange {
    /// The per-key result of `key`, when the diff found it changed.
    pub fn key(&self, key: &str) -> Option<&KeyChange> {
        self.keys.iter().find(|k| k.key == key)
    }

    /// True for `[delete, create]`.
    pub fn is_replace(&self) -> bool {
        self.actions == [Action::Delete, Action::Create]
    }

    /// True unless the change is a no-op or a read.
    pub fn is_change(&self) -> bool {
        !matches!(self.actions.as_slice(), [Action::NoOp] | [Action::Read])
    }

    /// Keys of `after` known only after apply, as the JSON `after_unknown` map.
    pub fn after_unknown(&self) -> BTreeMap<String, bool> {
        unknown_keys(self.after.as_ref())
            .map(|k| (k.clone(), true))
            .collect()
    }
}

/// The keys of `attrs` whose values are known only after apply.
pub fn unknown_keys(attrs: Option<&Attrs>) -> impl Iterator<Item = &String> + Clone {
    attrs
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_known())
        .map(|(k, _)| k)
}

/// Granting a role to the caller (or removing that grant), shown on its own
/// line so reviewers see that gcrecon changes the caller's own rights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerGrantChange {
    /// The role's address (`role.adapter` or `data.role.x`).
    pub role: Address,
    /// The role's display name.
    pub role_name: String,
    /// The division ids (or `*`) granted.
    pub divisions: Vec<String>,
    /// Grant before the clients need it, or revoke afterwards.
    pub action: CallerGrantAction,
    /// True when the grant is removed again at the end of the apply (`grant_to_caller = "auto"`).
    pub temporary: bool,
    /// The OAuth clients that need the caller to hold the role.
    pub needed_by: Vec<Address>,
}

/// The direction of a [`CallerGrantChange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerGrantAction {
    Grant,
    Revoke,
}

/// The planned change of one output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub actions: Vec<Action>,
    pub before: Option<Value>,
    /// `None` when sensitive; unknown values are known after apply.
    pub after: Option<Value>,
    pub sensitive: bool,
}

/// A whole plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// The manifest's `[gcrecon] name`.
    pub manifest_name: String,
    /// sha256 of the manifest sources the plan was made from.
    pub manifest_sha256: String,
    /// The state the plan was made against (absent for a first plan).
    pub state_lineage: Option<String>,
    pub state_serial: u64,
    pub resource_changes: Vec<ResourceChange>,
    #[serde(default)]
    pub caller_grants: Vec<CallerGrantChange>,
    #[serde(default)]
    pub output_changes: Vec<OutputChange>,
    /// Things a reviewer must read first (visibility, demotions, ...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// API calls the refresh made, by path template.
    #[serde(default)]
    pub api_calls: BTreeMap<String, u64>,
}

/// Counts for the summary line `Plan: 3 to add, 1 to change, 0 to destroy.`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    /// Counts of creates, updates and deletes (a replacement counts as one
    /// add and one destroy, as in Terraform).
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for rc in &self.resource_changes {
            for action in &rc.actions {
                match action {
                    Action::Create => s.add += 1,
                    Action::Update => s.change += 1,
                    Action::Delete => s.destroy += 1,
                    Action::NoOp | Action::Read => {}
                }
            }
        }
        s
    }

    /// True when applying would change anything (resources, caller grants or outputs).
    pub fn has_changes(&self) -> bool {
        self.resource_changes.iter().any(ResourceChange::is_change)
            || !self.caller_grants.is_empty()
            || self
                .output_changes
                .iter()
                .any(|o| !matches!(o.actions.as_slice(), [Action::NoOp]))
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Plan: {} to add, {} to change, {} to destroy.",
            self.add, self.change, self.destroy
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(actions: Vec<Action>) -> ResourceChange {
        ResourceChange {
            address: Address::resource(Kind::Role, "r"),
            kind: Kind::Role,
            name: "r".into(),
            actions,
            before: None,
            after: Some(Attrs::from([("id".to_owned(), Value::Unknown)])),
            id: None,
            changed_keys: vec![],
            replace_because: vec![],
            sensitive_keys: vec![],
            keys: vec![],
            live_version: None,
            note: None,
        }
    }

    #[test]
    fn summary_counts_replacements_twice() {
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            manifest_name: "m".into(),
            manifest_sha256: String::new(),
            state_lineage: None,
            state_serial: 0,
            resource_changes: vec![
                change(vec![Action::Create]),
                change(vec![Action::Delete, Action::Create]),
                change(vec![Action::NoOp]),
            ],
            caller_grants: vec![],
            output_changes: vec![],
            warnings: vec![],
            api_calls: BTreeMap::new(),
        };
        assert_eq!(
            plan.summary().to_string(),
            "Plan: 2 to add, 0 to change, 1 to destroy."
        );
        assert!(plan.has_changes());
        assert_eq!(
            plan.resource_changes[0].after_unknown().get("id"),
            Some(&true)
        );
    }
}
