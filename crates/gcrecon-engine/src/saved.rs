//! Saved plans (`gcrecon plan --out FILE`, `gcrecon apply FILE`).
//!
//! A saved plan is the plan JSON ([`gcrecon_core::plan_json`]: the same
//! document, in Terraform's shape, as `--format json` gives, no secrets)
//! plus a `saved` section with what applying it depends on: the variable
//! values the plan was made with (a sensitive one only as a salted
//! fingerprint), the plan options and the organization. The manifest's
//! sha256, the state's lineage and serial, and per object to update or
//! delete the live version the refresh saw (`live_version`) are fields of
//! the plan JSON itself.
//!
//! `gcrecon apply FILE` takes the saved values, so it needs no `--var`; a
//! sensitive variable must be given again and match its fingerprint, and a
//! value given that differs from the saved one is refused. Applying
//! refreshes again and refuses, saying to plan again, when anything else
//! changed or the fresh plan's actions differ from the saved ones.

use std::collections::BTreeMap;
use std::path::Path;

use gcrecon_core::manifest::{Source, Variables};
use gcrecon_core::plan::{Action, Plan, ResourceChange};
use gcrecon_core::plan_json::{self, PlanContext};
use gcrecon_core::state::State;
use gcrecon_core::value::Value;
use gcrecon_core::Address;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::EngineError;
use crate::planner::{PlanOptions, Planned};
use crate::store::write_atomic;

/// The version of the `saved` section. Version 1 files held gcrecon's
/// earlier, flat plan JSON.
pub const SAVED_PLAN_VERSION: u32 = 2;

/// What a saved plan adds to the plan JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMeta {
    pub version: u32,
    /// sha256 over the variables' names and values.
    pub inputs_sha256: String,
    #[serde(default)]
    pub refresh_only: bool,
    #[serde(default)]
    pub destroy: bool,
    #[serde(default)]
    pub targets: Vec<Address>,
    #[serde(default)]
    pub allow_caller_demotion: bool,
    /// The organization the plan was made against.
    pub org_id: String,
    /// The variable values the plan was made with, by name.
    #[serde(default)]
    pub variables: BTreeMap<String, SavedVariable>,
}

/// One variable of a saved plan: its value, or for a sensitive variable a
/// salted sha256 of it (the value itself is never written).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedVariable {
    Value(serde_json::Value),
    Sensitive { salt: String, sha256: String },
}

impl SavedVariable {
    fn of(name: &str, value: &Value, sensitive: bool) -> Self {
        if sensitive {
            let salt = uuid::Uuid::new_v4().simple().to_string();
            let sha256 = fingerprint(&salt, name, value);
            SavedVariable::Sensitive { salt, sha256 }
        } else {
            SavedVariable::Value(value.to_json().unwrap_or(serde_json::Value::Null))
        }
    }

    /// Whether `value` is the value this entry was saved from.
    fn matches(&self, name: &str, value: &Value) -> bool {
        match self {
            SavedVariable::Value(v) => Value::from_json(v) == *value,
            SavedVariable::Sensitive { salt, sha256 } => fingerprint(salt, name, value) == *sha256,
        }
    }
}

fn fingerprint(salt: &str, name: &str, value: &Value) -> String {
    let mut h = Sha256::new();
    for part in [salt, name, &value.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

/// A value as the text `--var NAME=TEXT` gives for it: strings as they
/// are, lists and maps as JSON (what the variable types convert back).
fn as_var_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A plan file: the plan JSON and the `saved` section.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedPlan {
    /// The plan JSON document, as written (without `saved`).
    pub document: serde_json::Value,
    /// What applying checks, as read from `document`.
    pub plan: SavedPlanFacts,
    pub saved: SavedMeta,
}

/// The parts of the plan JSON that `apply FILE` checks.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SavedPlanFacts {
    pub format_version: String,
    pub manifest_sha256: String,
    pub state_lineage: Option<String>,
    pub state_serial: u64,
    pub resource_changes: Vec<SavedChange>,
}

/// One resource change of a saved plan, as far as `apply FILE` checks it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SavedChange {
    pub address: Address,
    pub change: SavedActions,
    #[serde(default)]
    pub live_version: Option<String>,
}

/// `change.actions` of a resource change.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SavedActions {
    pub actions: Vec<Action>,
}

/// sha256 of manifest sources: each file's name and text, in order.
pub fn manifest_sha256(sources: &[Source]) -> String {
    let mut h = Sha256::new();
    for s in sources {
        let name = s
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        h.update(name.as_bytes());
        h.update([0]);
        h.update(s.text.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

/// sha256 of the variables' names and values.
pub fn inputs_sha256(variables: &Variables) -> String {
    let mut h = Sha256::new();
    let mut all: Vec<(&str, String)> = variables.iter().map(|(n, v)| (n, v.to_string())).collect();
    all.sort();
    for (n, v) in all {
        h.update(n.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SavedPlan {
    /// The saved form of a plan.
    pub fn new(planned: &Planned, variables: &Variables) -> Self {
        let document = plan_document(planned);
        let plan = SavedPlanFacts::of(&planned.plan);
        SavedPlan {
            document,
            plan,
            saved: SavedMeta {
                version: SAVED_PLAN_VERSION,
                inputs_sha256: inputs_sha256(variables),
                refresh_only: planned.options.refresh_only,
                destroy: planned.options.destroy,
                targets: planned.options.targets.clone(),
                allow_caller_demotion: planned.options.allow_caller_demotion,
                org_id: planned.context.org.id.clone(),
                variables: variables
                    .iter()
                    .map(|(name, value)| {
                        let saved = SavedVariable::of(name, value, variables.is_sensitive(name));
                        (name.to_owned(), saved)
                    })
                    .collect(),
            },
        }
    }

    /// The saved values of the variables `given` lacks, as `--var` text, for
    /// resolving the variables again. Sensitive variables are not among
    /// them: they must be given again.
    pub fn saved_var_texts(&self, given: &dyn Fn(&str) -> bool) -> BTreeMap<String, String> {
        self.saved
            .variables
            .iter()
            .filter(|(name, _)| !given(name))
            .filter_map(|(name, saved)| match saved {
                SavedVariable::Value(v) => Some((name.clone(), as_var_text(v))),
                SavedVariable::Sensitive { .. } => None,
            })
            .collect()
    }

    /// Refuse variable values that differ from those the plan was made
    /// with, naming the variable (never a sensitive value).
    pub fn check_variables(&self, path: &Path, variables: &Variables) -> Result<(), EngineError> {
        let refuse = |message: String, hint: String| EngineError::Usage {
            message: format!("cannot apply the saved plan {}: {message}", path.display()),
            hint: Some(hint),
        };
        for (name, saved) in &self.saved.variables {
            let Some(value) = variables.get(name) else {
                continue;
            };
            if saved.matches(name, value) {
                continue;
            }
            return Err(match saved {
                SavedVariable::Value(v) => refuse(
                    format!(
                        "`var.{name}` is {value} here, but the plan was made with {}",
                        Value::from_json(v)
                    ),
                    format!("drop `--var {name}=...` (and GCRECON_VAR_{name}): the plan file carries the value; or make a new plan with the new value"),
                ),
                SavedVariable::Sensitive { .. } => refuse(
                    format!("the sensitive `var.{name}` does not match the value the plan was made with"),
                    format!("give the same value again (`--var {name}=...` or GCRECON_VAR_{name}): a plan file keeps only a fingerprint of a sensitive variable"),
                ),
            });
        }
        Ok(())
    }

    /// The options to plan again with.
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            targets: self.saved.targets.clone(),
            refresh_only: self.saved.refresh_only,
            destroy: self.saved.destroy,
            allow_caller_demotion: self.saved.allow_caller_demotion,
        }
    }

    /// The file's JSON: the plan document with the `saved` section added.
    pub fn to_json(&self) -> serde_json::Value {
        let mut doc = self.document.clone();
        if let Some(fields) = doc.as_object_mut() {
            fields.insert(
                "saved".into(),
                serde_json::to_value(&self.saved).unwrap_or_default(),
            );
        }
        doc
    }

    /// Write the plan file.
    pub fn write(&self, path: &Path) -> Result<(), EngineError> {
        let text = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default() + "\n";
        write_atomic(path, text.as_bytes(), None)
            .map_err(|e| EngineError::io("cannot write the plan to", path, e))
    }

    /// Read a plan file.
    pub fn read(path: &Path) -> Result<Self, EngineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::io("cannot read the plan", path, e))?;
        let bad = |reason: String| EngineError::BadPlanFile {
            path: path.to_owned(),
            reason,
        };
        let mut document: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a gcrecon plan file: {e}")))?;
        let saved = document
            .as_object_mut()
            .and_then(|fields| fields.remove("saved"))
            .ok_or_else(|| bad("not a gcrecon plan file: it has no `saved` section".into()))?;
        let version = saved.get("version").and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(SAVED_PLAN_VERSION)) {
            return Err(bad(format!(
                "saved-plan version {} is not {SAVED_PLAN_VERSION} (a plan file is for the gcrecon that made it: plan again)",
                version.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            )));
        }
        let saved: SavedMeta = serde_json::from_value(saved)
            .map_err(|e| bad(format!("not a gcrecon plan file: `saved`: {e}")))?;
        let plan: SavedPlanFacts = serde_json::from_value(document.clone())
            .map_err(|e| bad(format!("not a gcrecon plan file: {e}")))?;
        if plan.format_version != plan_json::FORMAT_VERSION {
            return Err(bad(format!(
                "plan JSON format_version {} is not {}",
                plan.format_version,
                plan_json::FORMAT_VERSION
            )));
        }
        Ok(SavedPlan {
            document,
            plan,
            saved,
        })
    }

    /// Checks that need no network: the manifest, the variables and the state.
    pub fn check_inputs(
        &self,
        path: &Path,
        manifest_sha256: &str,
        variables: &Variables,
        state: &State,
        state_on_disk: bool,
    ) -> Result<(), EngineError> {
        let stale = |reason: String| EngineError::StalePlan {
            path: path.to_owned(),
            reason,
        };
        if self.plan.manifest_sha256 != manifest_sha256 {
            return Err(stale("the manifest changed since the plan was made".into()));
        }
        if self.saved.inputs_sha256 != inputs_sha256(variables) {
            return Err(stale(
                "the variables (--var, GCRECON_VAR_*) differ from those the plan was made with"
                    .into(),
            ));
        }
        let lineage = state_on_disk.then(|| state.lineage.clone());
        if self.plan.state_lineage != lineage {
            return Err(stale(match (&self.plan.state_lineage, lineage) {
                (None, Some(_)) => "a state was created since the plan was made".into(),
                (Some(_), None) => "the state the plan was made against is gone".into(),
                _ => "the state has another lineage (a different state file)".into(),
            }));
        }
        if self.plan.state_serial != state.serial {
            return Err(stale(format!(
                "the state changed since the plan was made (serial {} then, {} now)",
                self.plan.state_serial, state.serial
            )));
        }
        Ok(())
    }

    /// Compare with a fresh plan: same actions per address, and the same live
    /// version of every object the plan updates or deletes.
    pub fn check_fresh(&self, path: &Path, fresh: &Planned) -> Result<(), EngineError> {
        let stale = |reason: String| EngineError::StalePlan {
            path: path.to_owned(),
            reason,
        };
        if self.saved.org_id != fresh.context.org.id {
            return Err(stale(format!(
                "it was made for organization {}, the credentials are for {}",
                self.saved.org_id, fresh.context.org.id
            )));
        }
        let counted =
            |actions: &[Action]| !matches!(actions, [Action::NoOp]) && !actions.is_empty();
        let then: BTreeMap<Address, Vec<Action>> = self
            .plan
            .resource_changes
            .iter()
            .filter(|c| counted(&c.change.actions))
            .map(|c| (c.address.clone(), c.change.actions.clone()))
            .collect();
        let now: BTreeMap<Address, Vec<Action>> = fresh
            .plan
            .resource_changes
            .iter()
            .filter(|c| counted(&c.actions))
            .map(|c| (c.address.clone(), c.actions.clone()))
            .collect();
        let fresh_changes: BTreeMap<&Address, &gcrecon_core::plan::ResourceChange> = fresh
            .plan
            .resource_changes
            .iter()
            .map(|c| (&c.address, c))
            .collect();
        for saved in &self.plan.resource_changes {
            let touches = saved
                .change
                .actions
                .iter()
                .any(|a| matches!(a, Action::Update | Action::Delete));
            if !touches {
                continue;
            }
            let now = fresh_changes
                .get(&saved.address)
                .and_then(|c| c.live_version.clone());
            if saved.live_version.is_some() && now != saved.live_version {
                return Err(stale(format!(
                    "{} changed in the organization since the plan was made (version {} then, {} now)",
                    saved.address,
                    saved.live_version.as_deref().unwrap_or("?"),
                    now.as_deref().unwrap_or("gone")
                )));
            }
        }
        if then != now {
            let differing: Vec<String> = then
                .keys()
                .chain(now.keys())
                .filter(|a| then.get(*a) != now.get(*a))
                .map(ToString::to_string)
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            return Err(stale(format!(
                "planning again gives different changes for {}",
                differing.join(", ")
            )));
        }
        Ok(())
    }
}

impl SavedPlanFacts {
    fn of(plan: &Plan) -> Self {
        SavedPlanFacts {
            format_version: plan_json::FORMAT_VERSION.to_owned(),
            manifest_sha256: plan.manifest_sha256.clone(),
            state_lineage: plan.state_lineage.clone(),
            state_serial: plan.state_serial,
            resource_changes: plan
                .resource_changes
                .iter()
                .map(|c| SavedChange {
                    address: c.address.clone(),
                    change: SavedActions {
                        actions: c.actions.clone(),
                    },
                    live_version: c.live_version.clone(),
                })
                .collect(),
        }
    }
}

/// The plan JSON of a plan, with the organization and the caller it was
/// made with: what `--format json` prints and policies read.
pub fn plan_document(planned: &Planned) -> serde_json::Value {
    with_plan_document(planned, |doc| {
        serde_json::to_value(doc).unwrap_or(serde_json::Value::Null)
    })
}

/// [`plan_document`] as a [`plan_json::Document`] handed to `f`, to be
/// written as it is built.
pub fn with_plan_document<R>(planned: &Planned, f: impl FnOnce(plan_json::Document<'_>) -> R) -> R {
    let no_op_detail = |rc: &ResourceChange, with: &mut dyn FnMut(&plan_json::NoOpSides<'_>)| {
        if let Some(sides) = crate::planner::no_op_detail(planned, rc) {
            with(&sides);
        }
    };
    f(plan_json::Document::new(
        &planned.plan,
        PlanContext {
            org: Some(&planned.context.org),
            caller: Some(&planned.context.caller),
            data: Some(&planned.context.data),
            no_op_detail: Some(&no_op_detail),
        },
    ))
}

#[cfg(test)]
mod tests {

    use crate::saved::{plan_document, SavedPlan};
    use gcrecon_core::plan::Action;

    use crate::testkit::*;

    use gcrecon_core::provider::CallerKind;

    use gcrecon_core::plan::ResourceChange;
    use gcrecon_core::value::Value;
    use gcrecon_core::Kind;

    use crate::planner::Planned;

    /// The change of `address` in the plan.
    fn change_of<'a>(planned: &'a Planned, address: &str) -> &'a ResourceChange {
        planned
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == address)
            .unwrap_or_else(|| panic!("no change of {address}"))
    }

    /// The change of `address` in the plan's JSON document.
    fn json_change_of<'a>(doc: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
        doc["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no change of {address} in {doc}"))
    }

    #[tokio::test]
    async fn a_no_op_keeps_no_attributes_and_the_plan_json_rebuilds_them() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let planned = h.plan(&m).await;
        for address in ["role.reader", "group.ops", "division.sales"] {
            let rc = change_of(&planned, address);
            assert_eq!(rc.actions, [Action::NoOp]);
            assert!(rc.before.is_none() && rc.after.is_none(), "{rc:?}");
        }
        let doc = plan_document(&planned);
        let role = json_change_of(&doc, "role.reader");
        let change = &role["change"];
        assert_eq!(change["before"], change["after"]);
        assert_eq!(change["after"]["name"], "Reader");
        assert_eq!(
            change["after"]["permissions"],
            serde_json::json!(["routing:queue:view", "analytics:conversationDetail:view"])
        );
        assert_eq!(change["before_sensitive"], change["after_sensitive"]);
        // An update keeps both sides.
        let m2 =
            load_manifest(&BASIC.replace("description = \"operators\"", "description = \"x\""));
        let planned = h.plan(&m2).await;
        let group = change_of(&planned, "group.ops");
        assert_eq!(group.actions, [Action::Update]);
        assert!(group.before.is_some() && group.after.is_some());
    }

    #[tokio::test]
    async fn a_no_op_whose_sides_differ_in_order_keeps_both_in_the_plan_json() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let reader = h
            .provider
            .objects_of(Kind::Role)
            .into_iter()
            .find(|o| o.name == "Reader")
            .unwrap();
        // The organization lists the permissions sorted, the manifest does
        // not: a set, so no change.
        let sorted = Value::strings(["analytics:conversationDetail:view", "routing:queue:view"]);
        h.provider.mutate(Kind::Role, reader.id.as_str(), |o| {
            o.attrs.insert("permissions".into(), sorted.clone());
        });
        let planned = h.plan(&m).await;
        let rc = change_of(&planned, "role.reader");
        assert_eq!(rc.actions, [Action::NoOp]);
        assert!(rc.before.is_none() && rc.after.is_none(), "{rc:?}");
        let doc = plan_document(&planned);
        let role = json_change_of(&doc, "role.reader");
        assert_eq!(
            role["change"]["before"]["permissions"],
            serde_json::json!(["analytics:conversationDetail:view", "routing:queue:view"])
        );
        assert_eq!(
            role["change"]["after"]["permissions"],
            serde_json::json!(["routing:queue:view", "analytics:conversationDetail:view"])
        );
        assert_eq!(role["change"]["before"]["name"], "Reader");
        assert_eq!(role["change"]["after"]["name"], "Reader");
    }

    #[tokio::test]
    async fn a_saved_plan_is_refused_after_a_change() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let m2 =
            load_manifest(&BASIC.replace("description = \"operators\"", "description = \"x\""));
        let planned = h.plan(&m2).await;
        let saved = SavedPlan::new(&planned, &m2.variables);
        let path = h.state_path.with_file_name("plan.json");
        saved.write(&path).unwrap();
        let back = SavedPlan::read(&path).unwrap();
        assert_eq!(back, saved);
        let store = h.store();
        back.check_inputs(&path, &m2.sha, &m2.variables, store.state(), true)
            .unwrap();
        assert!(back
            .check_inputs(&path, &m.sha, &m2.variables, store.state(), true)
            .is_err());
        // Someone edits the group behind our back.
        let group = h.provider.objects_of(Kind::Group).remove(0);
        h.provider.mutate(Kind::Group, group.id.as_str(), |o| {
            o.attrs.insert("name".into(), Value::from("Ops"));
        });
        let fresh = h.plan(&m2).await;
        let err = back.check_fresh(&path, &fresh).unwrap_err();
        assert!(err.to_string().contains("group.ops changed"), "{err}");
        assert!(err.hint().unwrap().contains("plan"));
    }

    #[tokio::test]
    async fn the_plan_carries_per_key_results_and_a_saved_plan_round_trips() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let m2 = load_manifest(
            &BASIC
                .replace("description = \"operators\"", "description = \"x\"")
                .replace("\"routing:queue:view\", ", ""),
        );
        let planned = h.plan(&m2).await;
        let keys = |c: &ResourceChange| -> Vec<(String, Option<Value>, Option<Value>)> {
            c.keys
                .iter()
                .map(|k| (k.key.clone(), k.before.clone(), k.after.clone()))
                .collect()
        };
        let change = |address: &str| change_of(&planned, address).clone();
        let group = change("group.ops");
        assert_eq!(
            keys(&group),
            [(
                "description".to_owned(),
                Some(Value::from("operators")),
                Some(Value::from("x"))
            )]
        );
        assert_eq!(group.changed_keys, ["description"]);
        let role = change("role.reader");
        assert_eq!(role.keys.len(), 1);
        assert_eq!(role.keys[0].key, "permissions");
        assert!(!role.keys[0].forces_replacement && !role.keys[0].sensitive);
        assert!(change("division.sales").keys.is_empty());

        let saved = SavedPlan::new(&planned, &m2.variables);
        let path = h.state_path.with_file_name("plan.json");
        saved.write(&path).unwrap();
        let back = SavedPlan::read(&path).unwrap();
        assert_eq!(back, saved);
    }
}
