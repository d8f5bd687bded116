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

use std::borrow::Cow;
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
    /// `after`.
    pub no_op_detail: Option<&'a NoOpDetail<'a>>,
}

/// See [`PlanContext::no_op_detail`].
///
/// Called with a no-op change and a function to hand its sides to; it does
/// not call that function for a change whose sides it does not know. (The
/// sides are handed over rather than returned so that they may borrow from
/// the plan without tying the document's lifetime to theirs.)
pub type NoOpDetail<'a> = dyn Fn(&ResourceChange, &mut dyn FnMut(&NoOpSides<'_>)) + 'a;

/// The `before` and `after` of a no-op, rebuilt for the document: alike but
/// for what the diff does not count (the order of a set, say). Borrowed
/// where a side is an object the plan holds as it is.
#[derive(Clone, Debug, PartialEq)]
pub struct NoOpSides<'a> {
    pub before: Cow<'a, Attrs>,
    pub after: Cow<'a, Attrs>,
}

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
            seq.serialize_element(&ResourceChangeJson {
                rc,
                no_op_detail: self.no_op_detail,
            })?;
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
struct Flags<I>(I);

impl<'a, I: Iterator<Item = &'a String> + Clone> Serialize for Flags<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for key in self.0.clone() {
            map.serialize_entry(key, &true)?;
        }
        map.end()
    }
}

/// One side's attributes, sensitive values as `null`; `null` for a side
/// that does not exist.
struct Masked<'a> {
    attrs: Option<&'a Attrs>,
    sensitive: &'a BTreeSet<String>,
}

impl Serialize for Masked<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(attrs) = self.attrs else {
            return serializer.serialize_unit();
        };
        let mut map = serializer.serialize_map(Some(attrs.len()))?;
        for (k, v) in attrs {
            if self.sensitive.contains(k) {
                map.serialize_entry(k, &())?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// As Terraform: `false` for a side that does not exist, else the sensitive
/// keys of that side (those the plan marks even when absent).
struct SensitiveOf<'a> {
    attrs: Option<&'a Attrs>,
    sensitive: &'a BTreeSet<String>,
    marked: &'a [String],
}

impl Serialize for SensitiveOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(attrs) = self.attrs else {
            return serializer.serialize_bool(false);
        };
        let marked = self.marked;
        Flags(
            self.sensitive
                .iter()
                .filter(move |k| attrs.contains_key(*k) || marked.contains(k)),
        )
        .serialize(serializer)
    }
}

/// `replace_paths`: `[["key"], ...]`.
struct ReplacePaths<'a>(&'a [String]);

impl Serialize for ReplacePaths<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for key in self.0 {
            seq.serialize_element(&[key])?;
        }
        seq.end()
    }
}

/// One entry of `resource_changes`, written straight from the plan: no
/// JSON tree is built for it.
struct ResourceChangeJson<'a> {
    rc: &'a ResourceChange,
    no_op_detail: Option<&'a NoOpDetail<'a>>,
}

/// The `change` of a resource change.
struct Change<'a> {
    rc: &'a ResourceChange,
    before: Option<&'a Attrs>,
    after: Option<&'a Attrs>,
    sensitive: &'a BTreeSet<String>,
}

impl Serialize for Change<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Change {
            rc,
            before,
            after,
            sensitive,
        } = *self;
        let masked = |attrs| Masked { attrs, sensitive };
        let sensitive_of = |attrs| SensitiveOf {
            attrs,
            sensitive,
            marked: &rc.sensitive_keys,
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("actions", &rc.actions)?;
        map.serialize_entry("before", &masked(before))?;
        map.serialize_entry("after", &masked(after))?;
        map.serialize_entry("after_unknown", &Flags(unknown_keys(after)))?;
        map.serialize_entry("before_sensitive", &sensitive_of(before))?;
        map.serialize_entry("after_sensitive", &sensitive_of(after))?;
        if !rc.replace_because.is_empty() {
            map.serialize_entry("replace_paths", &ReplacePaths(&rc.replace_because))?;
        }
        map.end()
    }
}

impl Serialize for ResourceChangeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rc = self.rc;
        let sensitive = sensitive_keys(rc);
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("address", &rc.address.to_string())?;
        map.serialize_entry(
            "mode",
            if rc.address.is_data() {
                "data"
            } else {
                "managed"
            },
        )?;
        map.serialize_entry("type", rc.kind.as_str())?;
        map.serialize_entry("name", &rc.name)?;
        if let Some(key) = &rc.address.key {
            map.serialize_entry("index", key)?;
        }
        let mut change = None;
        if let (None, None, Some(detail)) = (&rc.before, &rc.after, self.no_op_detail) {
            if rc.actions == [Action::NoOp] {
                detail(rc, &mut |sides| {
                    change = Some(map.serialize_entry(
                        "change",
                        &Change {
                            rc,
                            before: Some(&sides.before),
                            after: Some(&sides.after),
                            sensitive: &sensitive,
                        },
                    ));
                });
            }
        }
        match change {
            Some(written) => written?,
            None => map.serialize_entry(
                "change",
                &Change {
                    rc,
                    before: rc.before.as_ref(),
                    after: rc.after.as_ref(),
                    sensitive: &sensitive,
                },
            )?,
        }
        if rc.is_replace() {
            map.serialize_entry("action_reason", "replace_because_cannot_update")?;
        }
        if let Some(id) = &rc.id {
            map.serialize_entry("id", id)?;
        }
        if !rc.changed_keys.is_empty() {
            map.serialize_entry("changed_keys", &rc.changed_keys)?;
        }
        if !rc.keys.is_empty() {
            map.serialize_entry("keys", &KeyChanges(&rc.keys))?;
        }
        if let Some(version) = &rc.live_version {
            map.serialize_entry("live_version", version)?;
        }
        if let Some(note) = &rc.note {
            map.serialize_entry("note", note)?;
        }
        map.end()
    }
}

/// The diff's per-key results (gcrecon's own field): each changed key with
/// its value before and after; a sensitive key carries no values.
struct KeyChanges<'a>(&'a [KeyChange]);

impl Serialize for KeyChanges<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for k in self.0 {
            seq.serialize_element(&KeyChangeJson(k))?;
        }
        seq.end()
    }
}

struct KeyChangeJson<'a>(&'a KeyChange);

impl Serialize for KeyChangeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let k = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("key", &k.key)?;
        if k.sensitive {
            map.serialize_entry("sensitive", &true)?;
        } else {
            if let Some(before) = &k.before {
                map.serialize_entry("before", before)?;
            }
            if let Some(after) = &k.after {
                map.serialize_entry("after", after)?;
            }
        }
        if k.forces_replacement {
            map.serialize_entry("forces_replacement", &true)?;
        }
        map.end()
    }
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
    fn every_field_of_a_resource_change_in_order() {
        let before = Attrs::from([
            ("name".to_owned(), Value::from("API")),
            ("secret".to_owned(), Value::from("hunter2")),
        ]);
        let after = Attrs::from([
            ("name".to_owned(), Value::from("API v2")),
            ("id".to_owned(), Value::Unknown),
            (
                "roles".to_owned(),
                Value::List(vec![Value::from("r"), Value::Unknown]),
            ),
        ]);
        let mut update = client(vec![Action::Update], Some(before), Some(after));
        update.replace_because = vec![];
        update.sensitive_keys = vec!["token".into()];
        update.note = Some("adopted".into());
        update.keys = vec![
            KeyChange {
                key: "name".into(),
                before: Some(Value::from("API")),
                after: Some(Value::from("API v2")),
                sensitive: false,
                forces_replacement: false,
            },
            KeyChange {
                key: "secret".into(),
                before: Some(Value::from("(sensitive)")),
                after: None,
                sensitive: true,
                forces_replacement: true,
            },
        ];
        let mut kept = client(vec![Action::NoOp], None, None);
        kept.address = Address::resource(Kind::OauthClient, "kept");
        kept.changed_keys = vec![];
        kept.replace_because = vec![];
        let detail = |rc: &ResourceChange, with: &mut dyn FnMut(&NoOpSides<'_>)| {
            if rc.name == "api" {
                with(&NoOpSides {
                    before: Cow::Owned(Attrs::from([
                        ("name".to_owned(), Value::from("kept")),
                        ("description".to_owned(), Value::from("d")),
                    ])),
                    after: Cow::Owned(Attrs::from([("name".to_owned(), Value::from("kept"))])),
                });
            }
        };
        let context = PlanContext {
            no_op_detail: Some(&detail),
            ..PlanContext::default()
        };
        let text =
            serde_json::to_string(&Document::new(&plan(vec![update, kept]), context)).unwrap();
        let start = text.find("\"resource_changes\":").unwrap();
        let end = text.find(",\"output_changes\"").unwrap();
        assert_eq!(
            &text[start..end],
            concat!(
                r#""resource_changes":[{"address":"oauth_client.api[\"EU\"]","mode":"managed","#,
                r#""type":"oauth_client","name":"api","index":"EU","change":{"actions":["update"],"#,
                r#""before":{"name":"API","secret":null},"#,
                r#""after":{"id":null,"name":"API v2","roles":["r",null]},"#,
                r#""after_unknown":{"id":true,"roles":true},"#,
                r#""before_sensitive":{"secret":true,"token":true},"#,
                r#""after_sensitive":{"token":true}},"id":"c-1","changed_keys":["grant_type"],"#,
                r#""keys":[{"key":"name","before":"API","after":"API v2"},"#,
                r#"{"key":"secret","sensitive":true,"forces_replacement":true}],"#,
                r#""live_version":"3","note":"adopted"},"#,
                r#"{"address":"oauth_client.kept","mode":"managed","type":"oauth_client","#,
                r#""name":"api","change":{"actions":["no-op"],"#,
                r#""before":{"description":"d","name":"kept"},"#,
                r#""after":{"name":"kept"},"after_unknown":{},"before_sensitive":{},"#,
                r#""after_sensitive":{}},"id":"c-1","live_version":"3"}]"#,
            )
        );
        assert!(!text.contains("hunter2"));
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
