//! The JSON view of a plan (`gcrecon plan --format json`): one document in
//! Terraform's shape, built by [`gcrecon_core::plan_json`] (the same
//! document a saved plan file holds and policies read as `input`), with the
//! policies' verdict as a `policy` section when `--policy` was given.
//!
//! Values known only after apply are `null` and flagged in `after_unknown`;
//! sensitive values are `null` and flagged in `before_sensitive` /
//! `after_sensitive`: no secret appears. docs/plan-json.md describes every
//! field.

use std::io::Write;

use gcrecon_core::plan::Plan;
use gcrecon_core::plan_json::{self, PlanContext};
use serde_json::Value as Json;

use crate::policy::PolicyReport;

pub(crate) use gcrecon_core::plan_json::value;

/// The plan as one pretty-printed JSON document, ending in a newline.
pub fn json(plan: &Plan) -> String {
    document(&plan_json::document(plan, PlanContext::default()))
}

/// A plan document with the policy report as its `policy` section,
/// pretty-printed to `out` as it is built, and a newline.
pub fn write_json(
    doc: plan_json::Document<'_>,
    policy: Option<&PolicyReport>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let policy = policy.map(PolicyReport::to_json);
    let doc = match &policy {
        Some(section) => doc.with_section("policy", section),
        None => doc,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// Pretty JSON and a newline.
pub(crate) fn document(doc: &Json) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}
