//! The plan JSON document, in Terraform's shape (`terraform show -json`):
//! what `gcrecon plan --format json` prints, what a saved plan file holds
//! and what policies (`gcrecon plan --policy DIR`) read as `input`.
//!
//! ```text
//! { "format_version": "2", "gcrecon_version",
//!   "resource_changes": [ { "address", "mode", "type", "name", "index",
//!       "change": { "actions", "before", "after", "after_unknown",
//!                   "before_sensitive", "after_sensitive", "replace_paths" },
//!       "action_reason", "id", "changed_keys", "live_version", "note" } ],
//!   "output_changes": { NAME: { "actions", "before", "after", "after_unknown",
//!                               "before_sensitive", "after_sensitive" } },
//!   gcrecon's own sections: "manifest_name", "manifest_sha256", "state_lineage",
//!   "state_serial", "has_changes", "summary", "org", "caller", "data_sources", "caller_grants",
//!   "warnings", "api_calls" }
//! ```
//!
//! `type` is the gcrecon kind (`role`, `oauth_client`, ...) and `index` the
//! `for_each` key (absent without one), so habits and tools written for
//! Terraform's plan JSON carry over. Values known only after apply are
//! `null` and flagged in `after_unknown`; sensitive values are `null` and
//! flagged in `before_sensitive` / `after_sensitive`: no secret appears.
//! `docs/plan-json.schema.json` is the JSON Schema of this document.

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{json, Map, Value as Json};

use crate::address::Address;
use crate::plan::{unknown_keys, Action, KeyChange, OutputChange, Plan, ResourceChange};
use crate::provider::{Caller, CallerKind, Org};
use crate::schema;
use crate::value::{Attrs, Value};

/// The `format_version` of the plan JSON. Version 1 was gcrecon's earlier,
/// flat shape (`kind` and `actions` on each resource change).
pub const FORMAT_VERSION: &str = "2";

/// Who made the plan, against which organization: the document's `org`
/// and `caller` sections, so that a policy can tell the caller's own OAuth
/// client from the others.
#[derive(Clone, Copy, Default)]
pub struct PlanContext<'a> {
    pub org: Option<&'a Org>,
    pub caller: Option<&'a Caller>,
    /// The data sources as read (`data.role.admin` = its attributes), so
    /// that a policy can name the ids a plan refers to.
    pub data: Option<&'a BTreeMap<Address, Attrs>>,
    /// The attributes of a no-op the plan holds without them (the planner
    /// keeps no copy of an object that stays as it is): its `before` and
    /// `after`, alike.
    pub no_op_detail: Option<&'a NoOpDetail<'a>>,
}

/// See [`PlanContext::no_op_detail`].
pub type NoOpDetail<'a> = dyn Fn(&ResourceChange) -> Option<Attrs> + 'a;

/// The plan as the JSON document described in the module doc, whole in
/// memory: what policies read and a saved plan file holds. To print a plan,
/// serialize a [`Document`] instead.
pub fn document(plan: &Plan, context: PlanContext<'_>) -> Json {
    serde_json::to_value(Document::new(plan, context)).unwrap_or(Json::Null)
}

/// The plan JSON document as something to serialize, section by section:
/// each resource change is built as it is written and dropped after, so a
/// plan of many thousand resources is never held as one JSON tree (nor as
/// one string). [`document`] is the same document as a value.
pub struct Document<'a> {
    plan: &'a Plan,
    context: PlanContext<'a>,
    /// Sections after gcrecon's own (`policy`), in order.
    extra: Vec<(&'a str, &'a Json)>,
}

impl<'a> Document<'a> {
    pub fn new(plan: &'a Plan, context: PlanContext<'a>) -> Self {
        Document {
            plan,
            context,
            extra: Vec::new(),
        }
    }

    /// The document with one more top-level section, written last.
    #[must_use]
    pub fn with_section(mut self, name: &'a str, value: &'a Json) -> Self {
        self.extra.push((name, value));
        self
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (plan, context) = (self.plan, self.context);
        let summary = plan.summary();
        let outputs: Map<String, Json> = plan
            .output_changes
            .iter()
            .map(|o| (o.name.clone(), output_change(o)))
            .collect();
        let org = context
            .org
            .map_or(Json::Null, |o| json!({"id": o.id, "name": o.name}));
        let caller = context.caller.map_or(Json::Null, |c| {
            json!({
                "kind": match c.kind {
                    CallerKind::User => "user",
                    CallerKind::Client => "client",
                },
                "id": c.id,
                "name": c.name,
            })
        });
        let data: Map<String, Json> = context
            .data
            .into_iter()
            .flatten()
            .map(|(address, attrs)| {
                let attrs = attrs.iter().map(|(k, v)| (k.clone(), value(v))).collect();
                (address.to_string(), Json::Object(attrs))
            })
            .collect();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("format_version", FORMAT_VERSION)?;
        map.serialize_entry("gcrecon_version", env!("CARGO_PKG_VERSION"))?;
        map.serialize_entry(
            "resource_changes",
            &ResourceChanges {
                changes: &plan.resource_changes,
                no_op_detail: context.no_op_detail,
            },
        )?;
        map.serialize_entry("output_changes", &outputs)?;
        map.serialize_entry("manifest_name", &plan.manifest_name)?;
        map.serialize_entry("manifest_sha256", &plan.manifest_sha256)?;
        map.serialize_entry("state_lineage", &plan.state_lineage)?;
        map.serialize_entry("state_serial", &plan.state_serial)?;
        map.serialize_entry("has_changes", &plan.has_changes())?;
        map.serialize_entry(
            "summary",
            &json!({
                "add": summary.add,
                "change": summary.change,
                "destroy": summary.destroy,
            }),
        )?;
        map.serialize_entry("org", &org)?;
        map.serialize_entry("caller", &caller)?;
        map.serialize_entry("data_sources", &data)?;
        map.serialize_entry("caller_grants", &plan.caller_grants)?;
        map.serialize_entry("warnings", &plan.warnings)?;
        map.serialize_entry("api_calls", &plan.api_calls)?;
        for (name, section) in &self.extra {
            map.serialize_entry(name, section)?;
        }
        map.end()
    }
}

/// `resource_changes`, each built only while it is written.
struct ResourceChanges<'a> {
    changes: &'a [ResourceChange],
    no_op_detail: Option<&'a NoOpDetail<'a>>,
}

impl Serialize for ResourceChanges<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.changes.len()))?;
        for rc in self.changes {
            seq.serialize_element(&resource_change(rc, self.no_op_detail))?;
        }
        seq.end()
    }
}

/// `["create"]`, `["delete", "create"]`, ...
pub fn actions(actions: &[Action]) -> Json {
    Json::Array(
        actions
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or(Json::Null))
            .collect(),
    )
}

/// A value as JSON: unknown parts become `null`.
pub fn value(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// Keys of a resource change whose values are secret: those the plan marks
/// and those the kind's schema knows as sensitive.
pub fn sensitive_keys(rc: &ResourceChange) -> BTreeSet<String> {
    rc.sensitive_keys
        .iter()
        .cloned()
        .chain(
            schema::sensitive_attributes(rc.kind)
                .iter()
                .map(|k| (*k).to_owned()),
        )
        .collect()
}

/// `{ "key": true, ... }`.
fn flags<'a>(keys: impl IntoIterator<Item = &'a String>) -> Json {
    Json::Object(
        keys.into_iter()
            .map(|k| (k.clone(), Json::Bool(true)))
            .collect(),
    )
}

fn resource_change(rc: &ResourceChange, no_op_detail: Option<&NoOpDetail<'_>>) -> Json {
    let sensitive = sensitive_keys(rc);
    let detail = match (&rc.before, &rc.after, no_op_detail) {
        (None, None, Some(detail)) if rc.actions == [Action::NoOp] => detail(rc),
        _ => None,
    };
    let before = rc.before.as_ref().or(detail.as_ref());
    let after = rc.after.as_ref().or(detail.as_ref());
    let after_unknown = unknown_keys(after);
    let masked = |attrs: Option<&Attrs>| match attrs {
        None => Json::Null,
        Some(attrs) => Json::Object(
            attrs
                .iter()
                .map(|(k, v)| {
                    let v = if sensitive.contains(k) {
                        Json::Null
                    } else {
                        value(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
    };
    // As Terraform: `false` for a side that does not exist, else the
    // sensitive keys of that side (those the plan marks even when absent).
    let sensitive_of = |attrs: Option<&Attrs>| match attrs {
        None => Json::Bool(false),
        Some(attrs) => flags(
            sensitive
                .iter()
                .filter(|k| attrs.contains_key(*k) || rc.sensitive_keys.contains(k)),
        ),
    };
    let mut change = json!({
        "actions": actions(&rc.actions),
        "before": masked(before),
        "after": masked(after),
        "after_unknown": flags(after_unknown),
        "before_sensitive": sensitive_of(before),
        "after_sensitive": sensitive_of(after),
    });
    if !rc.replace_because.is_empty() {
        change["replace_paths"] = Json::Array(
            rc.replace_because
                .iter()
                .map(|k| Json::Array(vec![Json::String(k.clone())]))
                .collect(),
        );
    }
    let mut doc = json!({
        "address": rc.address.to_string(),
        "mode": if rc.address.is_data() { "data" } else { "managed" },
        "type": rc.kind.as_str(),
        "name": rc.name,
    });
    let fields = doc.as_object_mut().expect("a JSON object literal");
    if let Some(key) = &rc.address.key {
        fields.insert("index".into(), Json::String(key.clone()));
    }
    fields.insert("change".into(), change);
    if rc.is_replace() {
        fields.insert(
            "action_reason".into(),
            Json::String("replace_because_cannot_update".into()),
        );
    }
    if let Some(id) = &rc.id {
        fields.insert("id".into(), json!(id));
    }
    if !rc.changed_keys.is_empty() {
        fields.insert("changed_keys".into(), json!(rc.changed_keys));
    }
    if !rc.keys.is_empty() {
        fields.insert("keys".into(), key_changes(&rc.keys));
    }
    if let Some(version) = &rc.live_version {
        fields.insert("live_version".into(), Json::String(version.clone()));
    }
    if let Some(note) = &rc.note {
        fields.insert("note".into(), Json::String(note.clone()));
    }
    doc
}

/// The diff's per-key results (gcrecon's own field): each changed key with
/// its value before and after; a sensitive key carries no values.
fn key_changes(keys: &[KeyChange]) -> Json {
    Json::Array(
        keys.iter()
            .map(|k| {
                let mut entry = serde_json::Map::new();
                entry.insert("key".into(), Json::String(k.key.clone()));
                if k.sensitive {
                    entry.insert("sensitive".into(), Json::Bool(true));
                } else {
                    if let Some(before) = &k.before {
                        entry.insert("before".into(), value(before));
                    }
                    if let Some(after) = &k.after {
                        entry.insert("after".into(), value(after));
                    }
                }
                if k.forces_replacement {
                    entry.insert("forces_replacement".into(), Json::Bool(true));
                }
                Json::Object(entry)
            })
            .collect(),
    )
}

fn output_change(o: &OutputChange) -> Json {
    let shown = |v: &Option<Value>| match v {
        Some(v) if !o.sensitive => value(v),
        _ => Json::Null,
    };
    json!({
        "actions": actions(&o.actions),
        "before": shown(&o.before),
        "after": shown(&o.after),
        "after_unknown": matches!(&o.after, Some(v) if !v.is_known()),
        "before_sensitive": o.sensitive,
        "after_sensitive": o.sensitive,
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::kind::Kind;
    use crate::plan::PLAN_FORMAT_VERSION;

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            manifest_name: "m".into(),
            manifest_sha256: "abc".into(),
            state_lineage: None,
            state_serial: 0,
            resource_changes: changes,
            caller_grants: vec![],
            output_changes: vec![],
            warnings: vec![],
            api_calls: BTreeMap::new(),
        }
    }

    fn client(actions: Vec<Action>, before: Option<Attrs>, after: Option<Attrs>) -> ResourceChange {
        ResourceChange {
            address: Address::resource(Kind::OauthClient, "api").with_key("EU"),
            kind: Kind::OauthClient,
            name: "api".into(),
            actions,
            before,
            after,
            id: Some("c-1".into()),
            changed_keys: vec!["grant_type".into()],
            replace_because: vec!["grant_type".into()],
            sensitive_keys: vec![],
            keys: vec![],
            live_version: Some("3".into()),
            note: None,
        }
    }

    #[test]
    fn a_replacement_in_terraform_shape() {
        let before = Attrs::from([
            ("name".to_owned(), Value::from("API")),
            ("secret".to_owned(), Value::from("hunter2")),
        ]);
        let after = Attrs::from([
            ("name".to_owned(), Value::from("API")),
            ("id".to_owned(), Value::Unknown),
        ]);
        let doc = document(
            &plan(vec![client(
                vec![Action::Delete, Action::Create],
                Some(before),
                Some(after),
            )]),
            PlanContext::default(),
        );
        let rc = &doc["resource_changes"][0];
        assert_eq!(rc["address"], "oauth_client.api[\"EU\"]");
        assert_eq!(rc["mode"], "managed");
        assert_eq!(rc["type"], "oauth_client");
        assert_eq!(rc["index"], "EU");
        assert_eq!(rc["action_reason"], "replace_because_cannot_update");
        assert_eq!(rc["change"]["actions"], json!(["delete", "create"]));
        assert_eq!(rc["change"]["before"]["secret"], Json::Null);
        assert_eq!(rc["change"]["before_sensitive"], json!({"secret": true}));
        assert_eq!(rc["change"]["after_sensitive"], json!({}));
        assert_eq!(rc["change"]["after_unknown"], json!({"id": true}));
        assert_eq!(rc["change"]["replace_paths"], json!([["grant_type"]]));
        assert_eq!(rc["live_version"], "3");
        assert!(!doc.to_string().contains("hunter2"));
        assert_eq!(doc["caller"], Json::Null);
    }

    #[test]
    fn the_streamed_document_prints_as_the_document_does() {
        let before = Attrs::from([("name".to_owned(), Value::from("API"))]);
        for changes in [
            vec![],
            vec![
                client(vec![Action::Update], Some(before.clone()), Some(before)),
                client(vec![Action::Create], None, Some(Attrs::new())),
            ],
        ] {
            let plan = plan(changes);
            let policy = json!({"passed": true, "rules": []});
            let streamed = serde_json::to_string_pretty(
                &Document::new(&plan, PlanContext::default()).with_section("policy", &policy),
            )
            .unwrap();
            let mut whole = document(&plan, PlanContext::default());
            whole
                .as_object_mut()
                .unwrap()
                .insert("policy".into(), policy.clone());
            assert_eq!(streamed, serde_json::to_string_pretty(&whole).unwrap());
            assert!(streamed.contains("\"resource_changes\": ["));
        }
    }

    #[test]
    fn a_create_has_no_before_and_no_index_without_for_each() {
        let mut rc = client(vec![Action::Create], None, Some(Attrs::new()));
        rc.address = Address::resource(Kind::OauthClient, "api");
        let doc = document(&plan(vec![rc]), PlanContext::default());
        let rc = &doc["resource_changes"][0];
        assert!(rc.get("index").is_none());
        assert_eq!(rc["change"]["before"], Json::Null);
        assert_eq!(rc["change"]["before_sensitive"], false);
        assert_eq!(doc["format_version"], FORMAT_VERSION);
    }
}
