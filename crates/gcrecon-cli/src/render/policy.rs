//! The policies' verdict on a plan in each output format: lines after the
//! human plan, a table at the top of the Markdown comment (the JSON
//! `policy` section is added by [`super::write_json`]).

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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(deny: usize, warn: usize) -> PolicyReport {
        let v = |rule: &str, i: usize| Violation {
            rule: rule.to_owned(),
            message: format!("message {i} | with a pipe"),
        };
        PolicyReport {
            dir: "policies".into(),
            files: vec!["roles.rego".into()],
            deny: (0..deny).map(|i| v("data.main.deny", i)).collect(),
            warn: (0..warn).map(|i| v("data.main.warn", i)).collect(),
        }
    }

    #[test]
    fn the_table_comes_first_and_escapes_pipes() {
        let text = policy_markdown(
            &report(1, 1),
            "Plan: 1 to add, 0 to change, 0 to destroy.\n",
        );
        assert!(text.starts_with("**Policy checks (1 file in policies): 1 denied, 1 warning.**"));
        assert!(text.contains("| ⛔ deny | `data.main.deny` | message 0 \\| with a pipe |"));
        assert!(text.find("⚠️ warn").unwrap() < text.find("Plan: 1 to add").unwrap());
    }

    #[test]
    fn table_and_plan_stay_within_the_limit() {
        let details =
            "<details><summary>x</summary>\n\n".to_owned() + &"y".repeat(1000) + "\n</details>\n";
        let plan = "Plan: 1 to add.\n\n".to_owned() + &details.repeat(60);
        assert!(plan.len() <= MARKDOWN_LIMIT);
        let text = policy_markdown(&report(2_000, 10), &plan);
        assert!(text.len() <= MARKDOWN_LIMIT, "{}", text.len());
        assert!(text.contains("more policy message(s) omitted"));
        assert!(text.contains("Details cut to fit the policy results"));
        assert!(text.contains("Plan: 1 to add."));
        // Cut between details blocks, never inside one.
        assert_eq!(
            text.matches("<details>").count(),
            text.matches("</details>").count()
        );
    }

    #[test]
    fn human_lines_name_the_rule() {
        let text = policy_human(&report(1, 0));
        assert!(text.contains("Policy checks (1 file in policies): 1 denied, 0 warnings."));
        assert!(text.contains("  deny: message 0 | with a pipe (data.main.deny)"));
    }
}
