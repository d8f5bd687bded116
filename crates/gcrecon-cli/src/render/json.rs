//! The JSON view of a plan (`gcrecon plan --format json`): one document in
//! Terraform's shape, built by [`gcrecon_core::plan_json`] (the same
//! document a saved plan file holds and policies read as `input`), with the
//! policies' verdict as a `policy` section when `--policy` was given.
//!
//! Values known only after apply are `null` and flagged in `after_unknown`;
//! sensitive values are `null` and flagged in `before_sensitive` /
//! `after_sensitive`: no secret appears. docs/plan-json.md describes every
//! field.

use gcrecon_core::plan::Plan;
use gcrecon_core::plan_json::{self, PlanContext};
use serde_json::Value as Json;

use crate::policy::PolicyReport;

pub(crate) use gcrecon_core::plan_json::value;

/// The plan as one pretty-printed JSON document, ending in a newline.
pub fn json(plan: &Plan) -> String {
    document(&plan_json::document(plan, PlanContext::default()))
}

/// A plan document (from [`plan_json::document`]) with the policy report
/// added as its `policy` section, pretty-printed.
pub fn json_with_policy(mut doc: Json, policy: Option<&PolicyReport>) -> String {
    if let (Some(report), Some(fields)) = (policy, doc.as_object_mut()) {
        fields.insert("policy".into(), report.to_json());
    }
    document(&doc)
}

/// Pretty JSON and a newline.
pub(crate) fn document(doc: &Json) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}
