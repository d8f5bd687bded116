//! The policies' verdict on a plan in each output format: lines after the
//! human plan, a table at the top of the Markdown comment (the JSON
//! `policy` section is added by [`super::json_with_policy`]).

use crate::policy::{PolicyReport, Violation};

use super::markdown::MARKDOWN_LIMIT;

/// The most bytes the Markdown policy table takes; the plan gets the rest.
const TABLE_LIMIT: usize = 16_000;

/// `Policy checks (N files in DIR): 1 denied, 2 warnings.`
pub fn policy_summary_line(report: &PolicyReport) -> String {
    let files = report.files.len();
    format!(
        "Policy checks ({files} file{} in {}): {} denied, {} warning{}.",
        if files == 1 { "" } else { "s" },
        report.dir,
        report.deny.len(),
        report.warn.len(),
        if report.warn.len() == 1 { "" } else { "s" },
    )
}

/// The verdict for the terminal, printed after the plan.
pub fn policy_human(report: &PolicyReport) -> String {
    let mut text = format!("\n{}\n", policy_summary_line(report));
    for (word, list) in [("deny", &report.deny), ("warn", &report.warn)] {
        for v in list {
            text.push_str(&format!("  {word}: {} ({})\n", v.message, v.rule));
        }
    }
    text
}

/// The Markdown comment: the policy table first, then the plan's own
/// comment (`plan_markdown`), whose `<details>` are dropped from the end
/// when both together would exceed [`MARKDOWN_LIMIT`].
pub fn policy_markdown(report: &PolicyReport, plan_markdown: &str) -> String {
    let mut head = format!("**{}**\n\n", policy_summary_line(report));
    if !report.deny.is_empty() || !report.warn.is_empty() {
        head.push_str("| result | rule | message |\n|---|---|---|\n");
        let rows: Vec<String> = report
            .deny
            .iter()
            .map(|v| row("⛔ deny", v))
            .chain(report.warn.iter().map(|v| row("⚠️ warn", v)))
            .collect();
        let total = rows.len();
        for (i, row) in rows.iter().enumerate() {
            if head.len() + row.len() > TABLE_LIMIT {
                head.push_str(&format!(
                    "\n_{} more policy message(s) omitted to fit; `gcrecon plan --format json` lists them all._\n",
                    total - i
                ));
                break;
            }
            head.push_str(row);
        }
        head.push('\n');
    }
    if head.len() + plan_markdown.len() <= MARKDOWN_LIMIT {
        return head + plan_markdown;
    }
    const CUT: &str = "\n_Details cut to fit the policy results; `gcrecon plan` shows them all._\n";
    let room = MARKDOWN_LIMIT.saturating_sub(head.len() + CUT.len());
    let mut end = plan_markdown
        .match_indices("<details>")
        .map(|(i, _)| i)
        .take_while(|i| *i <= room)
        .last()
        .unwrap_or(0);
    if end == 0 {
        end = room;
        while !plan_markdown.is_char_boundary(end) {
            end -= 1;
        }
    }
    head + &plan_markdown[..end] + CUT
}

fn row(result: &str, v: &Violation) -> String {
    let message = v.message.replace('|', "\\|").replace('\n', " ");
    format!("| {result} | `{}` | {message} |\n", v.rule)
}
