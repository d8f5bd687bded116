//! Rendering of plans and drift reports: pure functions from the core models
//! to text, one per output format.
//!
//! - [`human`]: the Terraform-like terminal view (`gcrecon plan`).
//! - [`markdown`]: a pull-request comment, also fit for `$GITHUB_STEP_SUMMARY`,
//!   never longer than [`MARKDOWN_LIMIT`] characters.
//! - [`json`], [`write_json`]: the machine-readable document of
//!   `--format json`, in Terraform's plan JSON shape.
//! - [`policy_human`], [`policy_markdown`], [`policy_summary_line`]: the
//!   verdict of `--policy` beside the plan.
//! - [`summary_line`]: `Plan: 3 to add, 1 to change, 0 to destroy.`
//! - [`drift_human`], [`drift_markdown`], [`drift_json`], [`drift_summary_line`]:
//!   the same for `gcrecon drift`.
//!
//! Nothing here prints, reads a file or looks at the terminal: the caller
//! decides about colors and where the text goes. Every renderer masks
//! sensitive values (the plan's `sensitive_keys` and sensitive per-key
//! results, and the attributes the kind's spec marks sensitive), so a secret that
//! reached a plan by mistake still never reaches the screen, a PR comment or
//! a JSON document.
//!
//! No renderer compares values: which keys changed, their values before and
//! after and whether they force a replacement come from the plan's per-key
//! results ([`gcrecon_core::plan::KeyChange`], computed once by
//! [`gcrecon_core::diff`]).
//!
//! The human and markdown views share one line model ([`lines`]): a resource
//! becomes signed, indented lines once, then each view lays them out (colors
//! for the terminal, signs moved to the first column for a ```` ```diff ````
//! block).

mod drift;
mod human;
mod json;
mod lines;
mod markdown;
mod policy;

#[cfg(test)]
mod tests;

use gcrecon_core::plan::Plan;

pub use drift::{drift_human, drift_json, drift_markdown, drift_summary_line};
pub use human::human;
pub use json::{json, write_json, write_json_value};
pub use markdown::{markdown, MARKDOWN_LIMIT};
pub use policy::{policy_human, policy_markdown, policy_summary_line};

/// The line that ends every plan view: `Plan: 3 to add, 1 to change, 0 to
/// destroy.`, or `No changes. The organization matches the manifest.` when
/// applying would change nothing.
pub fn summary_line(plan: &Plan) -> String {
    if plan.has_changes() {
        plan.summary().to_string()
    } else {
        NO_CHANGES.to_owned()
    }
}

/// The summary line of a plan without changes.
const NO_CHANGES: &str = "No changes. The organization matches the manifest.";
