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
    // The serializer writes a few bytes at a time: into a buffer of a
    // concrete type, not through `dyn Write` call by call.
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
    serde_json::to_writer_pretty(&mut buffered, &doc)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// [`write_json`] of a document already built whole (policies read it):
/// the same text.
pub fn write_json_value(
    mut doc: Json,
    policy: Option<&PolicyReport>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    if let (Some(report), Json::Object(sections)) = (policy, &mut doc) {
        sections.insert("policy".to_owned(), report.to_json());
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// Pretty JSON and a newline.
pub(crate) fn document(doc: &Json) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gcrecon_core::plan::PLAN_FORMAT_VERSION;

    use super::*;
    use crate::policy::Violation;

    #[test]
    fn a_document_built_whole_prints_as_the_streamed_one() {
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            manifest_name: "m".into(),
            manifest_sha256: "abc".into(),
            state_lineage: None,
            state_serial: 3,
            resource_changes: vec![],
            caller_grants: vec![],
            output_changes: vec![],
            warnings: vec!["a warning".into()],
            api_calls: BTreeMap::new(),
        };
        let report = PolicyReport {
            dir: "policy".into(),
            files: vec!["main.rego".into()],
            deny: vec![Violation {
                rule: "data.main.deny".into(),
                message: "no".into(),
            }],
            warn: vec![],
        };
        for policy in [None, Some(&report)] {
            let mut streamed = Vec::new();
            write_json(
                plan_json::Document::new(&plan, PlanContext::default()),
                policy,
                &mut streamed,
            )
            .unwrap();
            let mut whole = Vec::new();
            write_json_value(
                plan_json::document(&plan, PlanContext::default()),
                policy,
                &mut whole,
            )
            .unwrap();
            assert_eq!(
                String::from_utf8(whole),
                String::from_utf8(streamed.clone())
            );
            assert_eq!(
                policy.is_some(),
                String::from_utf8_lossy(&streamed).contains("\"data.main.deny\"")
            );
        }
    }
}
