//! The JSON view of a plan (`gcrecon plan --format json`): one document, in
//! the shape docs/cli.md promises, close to Terraform's `show -json`.
//!
//! ```text
//! { "format_version": "1", "manifest_name", "manifest_sha256", "state_lineage", "state_serial",
//!   "has_changes", "summary": { "add", "change", "destroy" }, "warnings": [...],
//!   "resource_changes": [ { "address", "kind", "name", "id", "actions", "before", "after",
//!                           "after_unknown", "sensitive", "changed_keys", "replace_because", "note" } ],
//!   "output_changes": { NAME: { "actions", "before", "after", "after_unknown", "sensitive" } },
//!   "caller_grants": [...], "api_calls": { PATH: COUNT } }
//! ```
//!
//! Values known only after apply are `null` and flagged in `after_unknown`;
//! sensitive values are `null` and flagged in `sensitive`: no secret appears.

use std::collections::BTreeSet;

use gcrecon_core::plan::{Action, OutputChange, Plan, ResourceChange};
use gcrecon_core::value::Attrs;
use gcrecon_core::Value;
use serde_json::{json, Map, Value as Json};

use super::lines;

/// The plan as one pretty-printed JSON document, ending in a newline.
pub fn json(plan: &Plan) -> String {
    let summary = plan.summary();
    let outputs: Map<String, Json> = plan
        .output_changes
        .iter()
        .map(|o| (o.name.clone(), output_change(o)))
        .collect();
    let doc = json!({
        "format_version": plan.format_version.to_string(),
        "manifest_name": plan.manifest_name,
        "manifest_sha256": plan.manifest_sha256,
        "state_lineage": plan.state_lineage,
        "state_serial": plan.state_serial,
        "has_changes": plan.has_changes(),
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
        },
        "warnings": plan.warnings,
        "resource_changes": plan.resource_changes.iter().map(resource_change).collect::<Vec<_>>(),
        "output_changes": outputs,
        "caller_grants": plan.caller_grants,
        "api_calls": plan.api_calls,
    });
    document(&doc)
}

/// Pretty JSON and a newline.
pub(crate) fn document(doc: &Json) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

/// `["create"]`, `["delete", "create"]`, ...
pub(crate) fn actions(actions: &[Action]) -> Json {
    Json::Array(
        actions
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or(Json::Null))
            .collect(),
    )
}

/// A value as JSON: unknown parts become `null`.
pub(crate) fn value(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// `{ "key": true, ... }`.
fn flags<'a>(keys: impl IntoIterator<Item = &'a String>) -> Json {
    Json::Object(
        keys.into_iter()
            .map(|k| (k.clone(), Json::Bool(true)))
            .collect(),
    )
}

fn resource_change(rc: &ResourceChange) -> Json {
    let present: BTreeSet<&String> = rc
        .before
        .iter()
        .chain(&rc.after)
        .flat_map(|a| a.keys())
        .collect();
    let sensitive: BTreeSet<String> = lines::sensitive_keys(rc)
        .into_iter()
        .filter(|k| rc.sensitive_keys.contains(k) || present.contains(k))
        .collect();
    let masked = |attrs: &Option<Attrs>| match attrs {
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
    json!({
        "address": rc.address.to_string(),
        "kind": rc.kind.as_str(),
        "name": rc.name,
        "id": rc.id,
        "actions": actions(&rc.actions),
        "before": masked(&rc.before),
        "after": masked(&rc.after),
        "after_unknown": flags(rc.after_unknown().keys()),
        "sensitive": flags(&sensitive),
        "changed_keys": rc.changed_keys,
        "replace_because": rc.replace_because,
        "note": rc.note,
    })
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
        "sensitive": o.sensitive,
    })
}
