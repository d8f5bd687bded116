//! The views of a drift report (`gcrecon drift`): human, markdown and JSON.
//!
//! Every finding says who should win: for a changed object, re-run
//! `gcrecon apply` to restore the manifest's value, or copy the live value
//! into the manifest; for a missing one, apply creates it again or the block
//! goes; an unmanaged one can be imported or exported. Values read
//! `expected -> actual` (what gcrecon last applied, then what the
//! organization holds). Keys the kind's spec marks sensitive read `(sensitive)`.
//!
//! Under each finding, its audit entries (newest first): when, the action,
//! who (`user NAME (id)` or `OAuth client NAME (id)`, `, gcrecon` for the
//! client gcrecon runs as), and per property `old -> new`, or for lists the
//! items added (`+`) and removed (`-`). A report whose caller may not read
//! the audit log says so once (`note:`).

use gcrecon_core::drift::{
    AuditChange, AuditEntry, DriftReport, DriftedObject, KeyChange, DRIFT_FORMAT_VERSION,
};
use serde_json::{json, Value as Json};

use super::human::push_line;
use super::json::{document, value};
use super::lines::{self, semantics, How, Line, Sign};
use super::markdown::{cell, code, details_block, escape_html, Detail, Sections, MARKDOWN_LIMIT};

/// Who wins, for an object changed outside gcrecon.
const CHANGED_HINT: &str =
    "re-run `gcrecon apply` to restore the manifest's value, or copy the live value into the manifest.";

/// Who wins, for an object gone from the organization.
const MISSING_HINT: &str = "`gcrecon apply` creates it again; if it was deleted on purpose, remove its block from the manifest and run `gcrecon state rm ADDRESS`.";

/// What to do with objects nobody manages.
const UNMANAGED_HINT: &str = "`gcrecon import KIND.NAME ID` takes an object under management; `gcrecon export` writes manifest blocks for them.";

/// `Drift: 1 changed, 0 missing, 2 unmanaged.`, or `No drift. ...` when
/// nothing was found.
pub fn drift_summary_line(report: &DriftReport) -> String {
    if report.has_findings() {
        report.summary().to_string()
    } else {
        "No drift. The organization matches the state and the manifest.".to_owned()
    }
}

/// The report as a terminal shows it, ending in the summary line.
pub fn drift_human(report: &DriftReport, color: bool) -> String {
    let mut out = String::new();
    let drifted = sorted_drifted(report);
    if !drifted.is_empty() {
        out.push_str("Objects changed outside gcrecon (expected -> actual):\n\n");
        for object in drifted {
            for line in drifted_lines(object, true) {
                push_line(&mut out, &line, color);
            }
            push_audit(&mut out, &object.audit, "  ");
            out.push_str(&format!("  hint: {CHANGED_HINT}\n\n"));
        }
    }

    let mut missing: Vec<_> = report.missing.iter().collect();
    missing.sort_by(|a, b| a.address.cmp(&b.address));
    if !missing.is_empty() {
        out.push_str("Objects in the state but gone from the organization:\n\n");
        for object in &missing {
            let line = Line::heading(format!(
                "# {} (id {}) no longer exists",
                object.address,
                lines::one_line(object.id.as_str())
            ));
            push_line(&mut out, &line, color);
            push_audit(&mut out, &object.audit, "    ");
        }
        out.push_str(&format!("  hint: {MISSING_HINT}\n\n"));
    }

    let mut unmanaged: Vec<_> = report.unmanaged.iter().collect();
    unmanaged.sort_by(|a, b| (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id)));
    if !unmanaged.is_empty() {
        out.push_str("Objects gcrecon does not manage:\n\n");
        for object in &unmanaged {
            let text = format!(
                "{} {} (id {})",
                object.kind,
                lines::quote(&object.name),
                lines::one_line(object.id.as_str())
            );
            out.push_str(&format!("  ? {text}\n"));
            push_audit(&mut out, &object.audit, "    ");
        }
        out.push_str(&format!("  hint: {UNMANAGED_HINT}\n\n"));
    }

    if !report.coverage.is_empty() {
        out.push_str("Coverage (objects gcrecon manages, of all in the organization):\n");
        let mut coverage = report.coverage.clone();
        coverage.sort_by_key(|c| c.kind);
        let width = coverage
            .iter()
            .map(|c| c.kind.as_str().len())
            .max()
            .unwrap_or(0);
        for c in &coverage {
            let kind = c.kind.as_str();
            let counts = format!("{} of {}", c.managed, c.total);
            out.push_str(&format!(
                "  {kind:<width$}  {counts:<12} {}\n",
                percent(c.managed, c.total)
            ));
        }
        out.push('\n');
    }

    if let Some(note) = &report.audit_note {
        out.push_str(&format!("note: {note}\n\n"));
    }
    let summary = drift_summary_line(report);
    if color {
        out.push_str(&format!("\x1b[1m{summary}\x1b[0m\n"));
    } else {
        out.push_str(&summary);
        out.push('\n');
    }
    out
}

/// The report as a pull-request comment or step summary, at most
/// [`MARKDOWN_LIMIT`] bytes.
pub fn drift_markdown(report: &DriftReport) -> String {
    let head = format!("{}\n\n", drift_summary_line(report));
    let drifted = sorted_drifted(report);
    let mut rows = Vec::new();
    for object in &drifted {
        let mut keys: Vec<&str> = object.changes.iter().map(|c| c.key.as_str()).collect();
        keys.sort_unstable();
        let keys: Vec<String> = keys.into_iter().map(code).collect();
        rows.push(format!(
            "| changed | {} | {} | {} |\n",
            cell(&code(&object.address.to_string())),
            cell(&code(object.id.as_str())),
            cell(&keys.join(", "))
        ));
    }
    let mut missing: Vec<_> = report.missing.iter().collect();
    missing.sort_by(|a, b| a.address.cmp(&b.address));
    for object in &missing {
        rows.push(format!(
            "| missing | {} | {} | — |\n",
            cell(&code(&object.address.to_string())),
            cell(&code(object.id.as_str()))
        ));
    }
    let mut unmanaged: Vec<_> = report.unmanaged.iter().collect();
    unmanaged.sort_by(|a, b| (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id)));
    for object in &unmanaged {
        rows.push(format!(
            "| unmanaged | {} {} | {} | — |\n",
            object.kind,
            cell(&code(&object.name)),
            cell(&code(object.id.as_str()))
        ));
    }

    let mut middle = String::new();
    let hints: Vec<(&str, &str, bool)> = vec![
        ("changed", CHANGED_HINT, !drifted.is_empty()),
        ("missing", MISSING_HINT, !missing.is_empty()),
        ("unmanaged", UNMANAGED_HINT, !unmanaged.is_empty()),
    ];
    for (finding, hint, shown) in hints {
        if shown {
            middle.push_str(&format!("- **{finding}**: {}\n", capitalized(hint)));
        }
    }
    if !middle.is_empty() {
        middle.push('\n');
    }
    if let Some(note) = &report.audit_note {
        middle.push_str(&format!("> **Note:** {}\n\n", escape_md(note)));
    }
    if !report.coverage.is_empty() {
        let mut coverage = report.coverage.clone();
        coverage.sort_by_key(|c| c.kind);
        middle.push_str("| kind | managed | total | coverage |\n|---|---:|---:|---:|\n");
        for c in &coverage {
            middle.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.kind,
                c.managed,
                c.total,
                percent(c.managed, c.total)
            ));
        }
        middle.push('\n');
    }

    let mut details: Vec<Detail> = drifted
        .iter()
        .map(|object| Detail {
            text: details_block(
                &format!("{} — changed outside gcrecon", object.address),
                &drifted_lines(object, false),
                &format!("To resolve: {CHANGED_HINT}"),
            ),
            resource: true,
        })
        .collect();
    // Attribution last: the first details to go when the report is too long.
    let attributed = drifted
        .iter()
        .map(|o| (o.address.to_string(), o.audit.as_slice()))
        .chain(
            missing
                .iter()
                .map(|o| (o.address.to_string(), o.audit.as_slice())),
        )
        .chain(
            unmanaged
                .iter()
                .map(|o| (format!("{} {}", o.kind, o.name), o.audit.as_slice())),
        )
        .filter(|(_, audit)| !audit.is_empty());
    for (object, audit) in attributed {
        let mut text = format!(
            "<details><summary>Who changed {} (audit log, newest first)</summary>\n\n",
            escape_html(&lines::one_line(&object))
        );
        for entry in audit {
            text.push_str(&format!("- {}\n", escape_md(&entry_line(entry))));
            for line in change_lines(entry) {
                text.push_str(&format!("  - {}\n", code(&line)));
            }
        }
        text.push_str("\n</details>\n\n");
        details.push(Detail {
            text,
            resource: true,
        });
    }

    Sections {
        head,
        warnings: Vec::new(),
        table_head: "| finding | object | id | keys |\n|---|---|---|---|\n".to_owned(),
        rows,
        middle,
        details,
        command: "gcrecon drift",
        whole: "report",
        noun: "object",
    }
    .fit(MARKDOWN_LIMIT)
}

/// The report as one JSON document: `format_version`, `has_drift`,
/// `summary`, `drifted` (each change with `expected`, `actual` and
/// `sensitive`), `missing`, `unmanaged`, `coverage`, and the plan document's
/// `resource_changes` and `output_changes`, empty, so plan consumers read it
/// too.
pub fn drift_json(report: &DriftReport) -> String {
    let summary = report.summary();
    let drifted: Vec<Json> = report
        .drifted
        .iter()
        .map(|object| {
            let changes: Vec<Json> = object
                .changes
                .iter()
                .map(|c| key_change(object, c))
                .collect();
            json!({
                "address": object.address.to_string(),
                "kind": object.kind.as_str(),
                "id": object.id,
                "changes": changes,
                "audit": object.audit,
            })
        })
        .collect();
    let doc = json!({
        "format_version": DRIFT_FORMAT_VERSION.to_string(),
        "has_drift": report.has_drift(),
        "summary": {
            "drifted": summary.drifted,
            "missing": summary.missing,
            "unmanaged": summary.unmanaged,
        },
        "drifted": drifted,
        "missing": report.missing,
        "unmanaged": report.unmanaged,
        "coverage": report.coverage,
        "audit_note": report.audit_note,
        "resource_changes": [],
        "output_changes": {},
    });
    document(&doc)
}

fn key_change(object: &DriftedObject, change: &KeyChange) -> Json {
    let sensitive = is_sensitive(object, &change.key);
    let shown = |v| if sensitive { Json::Null } else { value(v) };
    json!({
        "key": change.key,
        "expected": shown(&change.expected),
        "actual": shown(&change.actual),
        "sensitive": sensitive,
    })
}

fn is_sensitive(object: &DriftedObject, key: &str) -> bool {
    object.kind.spec().sensitive.contains(&key)
}

fn sorted_drifted(report: &DriftReport) -> Vec<&DriftedObject> {
    let mut drifted: Vec<&DriftedObject> = report.drifted.iter().collect();
    drifted.sort_by(|a, b| a.address.cmp(&b.address));
    drifted
}

/// `  # role.x (id ...) has changed outside gcrecon`, then the block with
/// one `~ key = expected -> actual` per change.
fn drifted_lines(object: &DriftedObject, with_heading: bool) -> Vec<Line> {
    let mut out = Vec::new();
    if with_heading {
        out.push(Line::heading(format!(
            "# {} (id {}) has changed outside gcrecon",
            object.address,
            lines::one_line(object.id.as_str())
        )));
    }
    out.push(Line::at(0, Sign::Change, format!("{} {{", object.address)));
    let mut changes: Vec<&KeyChange> = object.changes.iter().collect();
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    let width = changes
        .iter()
        .map(|c| c.key.chars().count())
        .max()
        .unwrap_or(0);
    for change in changes {
        let how = How {
            diff: semantics(object.kind, &change.key),
            sensitive: is_sensitive(object, &change.key),
            changed: true,
        };
        let mut attr = lines::attr_lines(
            &change.key,
            Some(&change.expected),
            Some(&change.actual),
            how,
            1,
            width,
            "",
        );
        if how.sensitive && attr.first().is_some_and(|l| l.sign == Sign::None) {
            // Equal placeholders still drifted: the live secret differs.
            attr[0].sign = Sign::Change;
        }
        out.extend(attr);
    }
    out.push(Line::at(0, Sign::None, "}"));
    out
}

/// `2026-01-02T03:04:05.000Z Update by user Ada (id)`.
fn entry_line(entry: &AuditEntry) -> String {
    lines::one_line(&format!("{} {} by {}", entry.at, entry.action, entry.actor))
}

/// `name: "a" -> "b"`, or for lists `permissions: + x, - y`.
fn change_line(change: &AuditChange) -> String {
    let quoted = |v: &[String]| match v {
        [] => "(none)".to_owned(),
        [one] => lines::quote(one),
        many => format!(
            "[{}]",
            many.iter()
                .map(|s| lines::quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if change.old.len() > 1 || change.new.len() > 1 {
        let added: Vec<String> = change
            .new
            .iter()
            .filter(|v| !change.old.contains(v))
            .map(|v| format!("+ {}", lines::quote(v)))
            .collect();
        let removed: Vec<String> = change
            .old
            .iter()
            .filter(|v| !change.new.contains(v))
            .map(|v| format!("- {}", lines::quote(v)))
            .collect();
        let both: Vec<String> = added.into_iter().chain(removed).collect();
        if !both.is_empty() {
            return lines::one_line(&format!("{}: {}", change.property, both.join(", ")));
        }
    }
    lines::one_line(&format!(
        "{}: {} -> {}",
        change.property,
        quoted(&change.old),
        quoted(&change.new)
    ))
}

/// Property lines shown per audit entry; `--format json` has them all.
const PROPERTIES_SHOWN: usize = 5;

/// The property lines of an entry, at most [`PROPERTIES_SHOWN`], then how
/// many more there are.
fn change_lines(entry: &AuditEntry) -> Vec<String> {
    let mut lines: Vec<String> = entry
        .changes
        .iter()
        .take(PROPERTIES_SHOWN)
        .map(change_line)
        .collect();
    let more = entry.changes.len().saturating_sub(PROPERTIES_SHOWN);
    if more > 0 {
        lines.push(format!(
            "(and {more} more propert{}; --format json lists them)",
            if more == 1 { "y" } else { "ies" }
        ));
    }
    lines
}

/// The audit entries of a finding, one line each and one per property.
fn push_audit(out: &mut String, audit: &[AuditEntry], indent: &str) {
    for entry in audit {
        out.push_str(&format!("{indent}audit: {}\n", entry_line(entry)));
        for line in change_lines(entry) {
            out.push_str(&format!("{indent}       {line}\n"));
        }
    }
}

/// Text safe in a markdown paragraph.
fn escape_md(text: &str) -> String {
    escape_html(text)
        .replace('|', "\\|")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('`', "\\`")
}

/// `30%`, or `—` for a kind with no objects.
fn percent(managed: usize, total: usize) -> String {
    (managed * 100 + total / 2)
        .checked_div(total)
        .map_or_else(|| "—".to_owned(), |p| format!("{p}%"))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}
