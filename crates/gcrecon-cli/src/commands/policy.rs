//! `gcrecon policy test DIR`, and the policy step of `plan` and `apply`
//! (`--policy DIR`): load the policies before connecting, evaluate them on
//! the plan JSON, print the verdict with the plan, refuse on a `deny`.

use std::path::Path;

use anyhow::Result;
use gcrecon_cli::policy::{PolicyError, PolicyReport, PolicySet, TestResult};

use crate::args::PolicyTestArgs;
use crate::commands::Ctx;
use crate::failure::{Exit, Hinted};

/// A policy error as a CLI error with its hint.
pub fn policy_error(e: &PolicyError) -> anyhow::Error {
    Hinted::new(e.to_string(), e.hint())
}

/// Load the policies of `--policy DIR`, when given.
pub fn load(dir: Option<&Path>) -> Result<Option<PolicySet>> {
    dir.map(PolicySet::load)
        .transpose()
        .map_err(|e| policy_error(&e))
}

/// Evaluate the policies on a plan document, when there are any.
pub fn evaluate(
    policies: Option<&PolicySet>,
    doc: &serde_json::Value,
) -> Result<Option<PolicyReport>> {
    policies
        .map(|p| p.evaluate(doc))
        .transpose()
        .map_err(|e| policy_error(&e))
}

/// The error that ends a command whose plan a `deny` rule rejected.
pub fn denied(report: &PolicyReport, what: &str) -> anyhow::Error {
    let n = report.deny.len();
    Hinted::new(
        format!(
            "the plan violates {n} policy rule{} of {}: {what}",
            if n == 1 { "" } else { "s" },
            report.dir
        ),
        "change the manifest so that the plan passes the policies (the `deny` messages above say what they stop), or change the policies in review",
    )
}

/// `gcrecon policy test DIR`.
pub fn test(ctx: &Ctx, args: &PolicyTestArgs) -> Result<Exit> {
    let policies = PolicySet::load(&args.dir).map_err(|e| policy_error(&e))?;
    let outcomes = policies.run_tests();
    let p = &ctx.printer;
    let (mut passed, mut failed, mut errors) = (0, 0, 0);
    for o in &outcomes {
        match &o.result {
            TestResult::Pass => {
                passed += 1;
                p.line(&format!("PASS {} ({})", o.rule, o.location));
            }
            TestResult::Fail => {
                failed += 1;
                p.line(&format!("FAIL {} ({})", o.rule, o.location));
            }
            TestResult::Error(message) => {
                errors += 1;
                p.line(&format!("ERROR {} ({}): {message}", o.rule, o.location));
            }
        }
    }
    p.line(&format!(
        "{passed} passed, {failed} failed, {errors} errors in {} test rules of {}.",
        outcomes.len(),
        args.dir.display()
    ));
    if outcomes.is_empty() {
        return Err(Hinted::new(
            format!("no test_* rule in the policies of {}", args.dir.display()),
            "write tests as rules named test_... beside the policies, e.g. in roles_test.rego",
        ));
    }
    if failed + errors > 0 {
        return Err(Hinted::new(
            format!(
                "{} of {} policy tests did not pass",
                failed + errors,
                outcomes.len()
            ),
            "fix the policy or the test named FAIL or ERROR above",
        ));
    }
    Ok(Exit::Success)
}
