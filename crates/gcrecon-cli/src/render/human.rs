//! The human view of a plan: Terraform's layout, for a terminal.
//!
//! Order: plan warnings, the legend of the signs in use, one block per
//! changed resource (sorted by address), the caller's own role grants, the
//! output changes, and the summary line last. ANSI colors only when asked.

use std::collections::BTreeSet;

use gcrecon_core::plan::{Plan, ResourceChange};

use super::lines::{self, Line, Sign};
use super::summary_line;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const UNDERLINE: &str = "\x1b[4m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";

/// The plan as a terminal shows it, ending in the summary line and a newline.
/// With `color`, signs are green (`+`), yellow (`~`) and red (`-`), headings
/// bold; without, the text holds no escape sequence at all.
pub fn human(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    warnings(&mut out, &plan.warnings, color);

    let mut changes: Vec<&ResourceChange> = plan.resource_changes.iter().collect();
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    let changed: Vec<&ResourceChange> = changes
        .iter()
        .copied()
        .filter(|rc| lines::describe(&rc.actions).is_some() || rc.note.is_some())
        .collect();

    let signs: BTreeSet<Sign> = changed
        .iter()
        .filter_map(|rc| lines::describe(&rc.actions).map(|(sign, _, _)| sign))
        .collect();
    if !signs.is_empty() {
        out.push_str("Resource actions are indicated with the following symbols:\n");
        for sign in &signs {
            push_line(&mut out, &Line::at(0, *sign, sign.legend()), color);
        }
        out.push_str("\ngcrecon will perform the following actions:\n\n");
    }
    for rc in &changed {
        let block = lines::resource_lines(rc, true);
        if block.is_empty() {
            // A no-op or read with a note: say why it is in the plan at all.
            if let Some(note) = &rc.note {
                let line = Line::heading(format!("# {}: {}", rc.address, lines::one_line(note)));
                push_line(&mut out, &line, color);
                out.push('\n');
            }
            continue;
        }
        for line in &block {
            push_line(&mut out, line, color);
        }
        out.push('\n');
    }

    if !plan.caller_grants.is_empty() {
        out.push_str("Changes to the caller's own roles:\n");
        for grant in &plan.caller_grants {
            push_line(&mut out, &lines::caller_grant_line(grant), color);
        }
        out.push('\n');
    }

    let outputs = lines::output_lines(&plan.output_changes);
    if !outputs.is_empty() {
        out.push_str("Changes to Outputs:\n");
        for line in &outputs {
            push_line(&mut out, line, color);
        }
        out.push('\n');
    }

    let summary = summary_line(plan);
    if color {
        out.push_str(&format!("{BOLD}{summary}{RESET}\n"));
    } else {
        out.push_str(&summary);
        out.push('\n');
    }
    out
}

/// `Warning: ...` lines, continuation lines indented, then a blank line.
pub(crate) fn warnings(out: &mut String, warnings: &[String], color: bool) {
    for warning in warnings {
        let label = if color {
            format!("{BOLD}{YELLOW}Warning:{RESET}")
        } else {
            "Warning:".to_owned()
        };
        let mut text_lines = warning.lines();
        let first = text_lines.next().unwrap_or_default();
        out.push_str(&format!("{label} {}\n", lines::escape_controls(first)));
        for line in text_lines {
            out.push_str(&format!("  {}\n", lines::escape_controls(line)));
        }
        out.push('\n');
    }
}

/// One line: the sign right-aligned before the text column, painted.
pub(crate) fn push_line(out: &mut String, line: &Line, color: bool) {
    let symbol = line.sign.symbol();
    if symbol.is_empty() {
        out.push_str(&" ".repeat(line.col));
    } else {
        out.push_str(&" ".repeat(line.col.saturating_sub(symbol.len() + 1)));
        out.push_str(&paint_sign(symbol, color));
        out.push(' ');
    }
    if !color {
        out.push_str(&line.text);
    } else if line.heading {
        out.push_str(&format!("{BOLD}{}{RESET}", line.text));
    } else {
        let mut at = 0;
        for range in &line.emphasis {
            let (Some(before), Some(emphasized)) =
                (line.text.get(at..range.start), line.text.get(range.clone()))
            else {
                continue;
            };
            out.push_str(before);
            out.push_str(&format!("{UNDERLINE}{emphasized}{RESET}"));
            at = range.end;
        }
        out.push_str(line.text.get(at..).unwrap_or_default());
    }
    out.push('\n');
}

/// A sign in its color: `+` green, `~` yellow, `-` red.
fn paint_sign(symbol: &str, color: bool) -> String {
    if !color {
        return symbol.to_owned();
    }
    symbol
        .chars()
        .map(|c| match c {
            '+' => format!("{GREEN}+{RESET}"),
            '~' => format!("{YELLOW}~{RESET}"),
            '-' => format!("{RED}-{RESET}"),
            c => c.to_string(),
        })
        .collect()
}
