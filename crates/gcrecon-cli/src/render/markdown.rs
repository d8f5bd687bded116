//! The markdown view of a plan: a pull-request comment that also suits
//! `$GITHUB_STEP_SUMMARY`.
//!
//! Layout: the summary line, the warnings a reviewer must read first
//! (deletions, replacements, permissions taken away from roles, grants to the
//! caller, the plan's own warnings), a table of the changed addresses, then
//! one collapsible `<details>` per resource with a ```` ```diff ```` block.
//! The text never exceeds [`MARKDOWN_LIMIT`]: details are dropped from the
//! end first, then table rows, then warnings, and a note says what was cut.
//! Sensitive values read `(sensitive)` as everywhere else.

use std::collections::BTreeSet;

use gcrecon_core::plan::{CallerGrantAction, Plan, ResourceChange};
use gcrecon_core::Value;

use super::lines::{self, Line, Sign};
use super::summary_line;

/// The most characters a markdown rendering holds (GitHub refuses comments
/// over 65,536). Measured in bytes, so also a bound on characters.
pub const MARKDOWN_LIMIT: usize = 65_000;

/// The plan as a pull-request comment, at most [`MARKDOWN_LIMIT`] bytes.
pub fn markdown(plan: &Plan) -> String {
    let mut changes: Vec<&ResourceChange> = plan
        .resource_changes
        .iter()
        .filter(|rc| lines::describe(&rc.actions).is_some())
        .collect();
    changes.sort_by(|a, b| a.address.cmp(&b.address));

    let mut head = format!("{}\n\n", summary_line(plan));
    let mut context = format!("manifest {}", code(&plan.manifest_name));
    if !plan.manifest_sha256.is_empty() {
        let short: String = plan.manifest_sha256.chars().take(12).collect();
        context.push_str(&format!(" · sha256 {}", code(&short)));
    }
    match &plan.state_lineage {
        Some(_) => context.push_str(&format!(" · state serial {}", plan.state_serial)),
        None => context.push_str(" · no state yet"),
    }
    head.push_str(&format!("<sub>{context}</sub>\n\n"));

    let rows: Vec<String> = changes.iter().map(|rc| table_row(rc)).collect();
    let mut details: Vec<Detail> = changes
        .iter()
        .map(|rc| Detail {
            text: details_block(
                &format!("{} — {}", rc.address, action_word(rc)),
                &lines::resource_lines(rc, false),
                "",
            ),
            resource: true,
        })
        .collect();
    let outputs = lines::output_lines(&plan.output_changes);
    if !outputs.is_empty() {
        details.push(Detail {
            text: details_block(
                &format!("Changes to outputs ({})", outputs_count(plan)),
                &outputs,
                "",
            ),
            resource: false,
        });
    }

    Sections {
        head,
        warnings: plan_warnings(plan, &changes),
        table_head: "| action | address | changed keys |\n|---|---|---|\n".to_owned(),
        rows,
        middle: String::new(),
        details,
        command: "gcrecon plan",
        whole: "plan",
        noun: "resource",
    }
    .fit(MARKDOWN_LIMIT)
}

fn outputs_count(plan: &Plan) -> usize {
    plan.output_changes
        .iter()
        .filter(|o| lines::describe(&o.actions).is_some())
        .count()
}

fn action_word(rc: &ResourceChange) -> &'static str {
    lines::describe(&rc.actions).map_or("no-op", |(_, _, word)| word)
}

/// `| update | `role.x` | `description`, `permissions` |`.
fn table_row(rc: &ResourceChange) -> String {
    let keys = match lines::describe(&rc.actions) {
        Some((Sign::Change | Sign::Replace, _, _)) => {
            let keys: Vec<String> = lines::changed_keys(rc)
                .into_iter()
                .filter(|k| k != "id")
                .map(|k| {
                    let forces = rc.key(&k).is_some_and(|c| c.forces_replacement);
                    let k = code(&k);
                    if forces {
                        format!("{k} (forces replacement)")
                    } else {
                        k
                    }
                })
                .collect();
            if keys.is_empty() {
                "—".to_owned()
            } else {
                keys.join(", ")
            }
        }
        _ => "—".to_owned(),
    };
    format!(
        "| {} | {} | {} |\n",
        action_word(rc),
        cell(&code(&rc.address.to_string())),
        cell(&keys)
    )
}

/// What a reviewer must read first.
fn plan_warnings(plan: &Plan, changes: &[&ResourceChange]) -> Vec<String> {
    let mut items = Vec::new();
    for rc in changes {
        let address = code(&rc.address.to_string());
        match lines::describe(&rc.actions) {
            Some((Sign::Remove, _, _)) => {
                let id = rc
                    .id
                    .as_ref()
                    .map(|id| format!(" (id {})", code(id.as_str())))
                    .unwrap_or_default();
                items.push(format!("**Destroys** {address}{id}"));
            }
            Some((Sign::Replace, _, _)) => {
                let because: Vec<String> = rc
                    .keys
                    .iter()
                    .filter(|k| k.forces_replacement)
                    .map(|k| code(&k.key))
                    .collect();
                let why = if because.is_empty() {
                    String::new()
                } else {
                    format!(": {} forces replacement", because.join(", "))
                };
                items.push(format!(
                    "**Replaces** {address}{why} (deleted, then created again with a new id)"
                ));
            }
            _ => {}
        }
    }
    for rc in changes {
        let removed = permissions_taken_away(rc);
        if !removed.is_empty() {
            let list: Vec<String> = removed.iter().map(|p| code(p)).collect();
            items.push(format!(
                "**Takes permissions away** from {}: {}",
                code(&rc.address.to_string()),
                list.join(", ")
            ));
        }
    }
    for grant in &plan.caller_grants {
        let verb = match grant.action {
            CallerGrantAction::Grant => "**Grants the caller**",
            CallerGrantAction::Revoke => "**Revokes from the caller**",
        };
        let text = lines::caller_grant_text(grant, &code(&grant.role_name), &|d| code(d));
        let text = text.strip_prefix("caller grant: ").unwrap_or(&text);
        items.push(format!("{verb} {text}"));
    }
    for warning in &plan.warnings {
        items.push(escape_text(warning));
    }
    items
}

/// Permissions in `before` but not in `after` of a role that stays (an
/// update or a replacement; a deletion is reported as such).
fn permissions_taken_away(rc: &ResourceChange) -> Vec<String> {
    if !matches!(
        lines::describe(&rc.actions),
        Some((Sign::Change | Sign::Replace, _, _))
    ) {
        return Vec::new();
    }
    let strings = |attrs: Option<&gcrecon_core::value::Attrs>| -> Option<BTreeSet<String>> {
        let list = attrs?.get("permissions")?.as_list()?;
        Some(
            list.iter()
                .map(|v| v.as_str().map_or_else(|| lines::inline(v), str::to_owned))
                .collect(),
        )
    };
    match (strings(rc.before.as_ref()), strings(rc.after.as_ref())) {
        (Some(before), Some(after))
            if rc
                .after
                .as_ref()
                .and_then(|a| a.get("permissions"))
                .is_some_and(Value::is_known) =>
        {
            before.difference(&after).cloned().collect()
        }
        _ => Vec::new(),
    }
}

/// A droppable block of the rendering.
pub(crate) struct Detail {
    pub text: String,
    /// True for one object's details, false for the outputs block.
    pub resource: bool,
}

/// The parts of a markdown rendering, in order, and what may be cut.
pub(crate) struct Sections {
    /// Summary and context; never cut.
    pub head: String,
    /// Items of the warning list (markdown, one line each).
    pub warnings: Vec<String>,
    /// Table header and separator (omitted with no rows).
    pub table_head: String,
    pub rows: Vec<String>,
    /// Between table and details; never cut.
    pub middle: String,
    pub details: Vec<Detail>,
    /// The command that prints everything (`gcrecon plan`).
    pub command: &'static str,
    /// What the command prints (`plan`, `report`).
    pub whole: &'static str,
    /// What a details block is about (`resource`, `object`).
    pub noun: &'static str,
}

impl Sections {
    /// The rendering with at most `limit` bytes: whole when it fits, else
    /// with details, then table rows, then warnings dropped from the end and
    /// a note saying what was cut.
    pub(crate) fn fit(self, limit: usize) -> String {
        let sizes = Sizes::of(&self);
        let (w, r, d) = (self.warnings.len(), self.rows.len(), self.details.len());
        if sizes.len(w, r, d, None) <= limit {
            return self.assemble(w, r, d, None);
        }
        let mut keep = (w, r, d);
        loop {
            let note = self.note(&sizes, keep);
            let len = sizes.len(keep.0, keep.1, keep.2, Some(&note));
            if len <= limit {
                let text = self.assemble(keep.0, keep.1, keep.2, Some(&note));
                debug_assert_eq!(text.len(), len, "Sizes::len disagrees with assemble");
                return text;
            }
            keep = match keep {
                (w, r, d) if d > 0 => (w, r, d - 1),
                (w, r, 0) if r > 0 => (w, r - 1, 0),
                (w, 0, 0) if w > 0 => (w - 1, 0, 0),
                _ => {
                    let text = self.assemble(0, 0, 0, Some(&note));
                    return truncate(&text, limit);
                }
            };
        }
    }

    fn assemble(&self, w: usize, r: usize, d: usize, note: Option<&str>) -> String {
        let mut out = self.head.clone();
        if w > 0 {
            out.push_str(WARNING_HEAD);
            for item in &self.warnings[..w] {
                out.push_str(&format!("> - {item}\n"));
            }
            out.push('\n');
        }
        if r > 0 {
            out.push_str(&self.table_head);
            for row in &self.rows[..r] {
                out.push_str(row);
            }
            out.push('\n');
        }
        out.push_str(&self.middle);
        for detail in &self.details[..d] {
            out.push_str(&detail.text);
        }
        if let Some(note) = note {
            out.push_str(note);
            out.push('\n');
        }
        out
    }

    /// `_Details of 120 resources omitted to fit the 65,000-character limit; run `gcrecon plan` locally for the full plan._`
    fn note(&self, sizes: &Sizes, (w, r, d): (usize, usize, usize)) -> String {
        let dropped = self.details.len() - d;
        let resources = sizes.resources[self.details.len()] - sizes.resources[d];
        let others = dropped - resources;
        let mut cut = Vec::new();
        if resources > 0 {
            let all = if d == 0 && resources > 1 { "all " } else { "" };
            let s = if resources == 1 { "" } else { "s" };
            let mut what = format!("details of {all}{resources} {}{s}", self.noun);
            if others > 0 {
                what.push_str(" and of the output changes");
            }
            cut.push(what);
        } else if others > 0 {
            cut.push("details of the output changes".to_owned());
        }
        if r < self.rows.len() {
            cut.push(format!(
                "{} of {} table rows",
                self.rows.len() - r,
                self.rows.len()
            ));
        }
        if w < self.warnings.len() {
            cut.push(format!(
                "{} of {} warnings",
                self.warnings.len() - w,
                self.warnings.len()
            ));
        }
        let mut what = match cut.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        if let Some(first) = what.get(..1) {
            what = first.to_uppercase() + &what[1..];
        }
        format!(
            "_{what} omitted to fit the 65,000-character limit; run `{}` locally for the full {}._",
            self.command, self.whole
        )
    }
}

const WARNING_HEAD: &str = "> [!WARNING]\n";

/// Byte sizes of the parts of [`Sections`], as prefix sums, so that trying
/// each cut costs O(1) even for plans of many thousand resources.
struct Sizes {
    fixed: usize,
    table_head: usize,
    /// `warnings[i]`: bytes of the first `i` warning items.
    warnings: Vec<usize>,
    rows: Vec<usize>,
    details: Vec<usize>,
    /// `resources[i]`: how many of the first `i` details are about one object.
    resources: Vec<usize>,
}

impl Sizes {
    fn of(sections: &Sections) -> Sizes {
        fn prefix(sizes: impl Iterator<Item = usize>) -> Vec<usize> {
            std::iter::once(0)
                .chain(sizes.scan(0, |sum, n| {
                    *sum += n;
                    Some(*sum)
                }))
                .collect()
        }
        Sizes {
            fixed: sections.head.len() + sections.middle.len(),
            table_head: sections.table_head.len(),
            // `> - ITEM\n`
            warnings: prefix(sections.warnings.iter().map(|i| i.len() + 5)),
            rows: prefix(sections.rows.iter().map(String::len)),
            details: prefix(sections.details.iter().map(|x| x.text.len())),
            resources: prefix(sections.details.iter().map(|x| usize::from(x.resource))),
        }
    }

    /// The length of [`Sections::assemble`] with the same arguments.
    fn len(&self, w: usize, r: usize, d: usize, note: Option<&str>) -> usize {
        let warnings = if w == 0 {
            0
        } else {
            WARNING_HEAD.len() + self.warnings[w] + 1
        };
        let table = if r == 0 {
            0
        } else {
            self.table_head + self.rows[r] + 1
        };
        self.fixed + warnings + table + self.details[d] + note.map_or(0, |n| n.len() + 1)
    }
}

/// The first `limit` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, limit: usize) -> String {
    let mut end = limit.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// `<details><summary>TITLE</summary>` with a diff block of `lines` and
/// an optional paragraph after it.
pub(crate) fn details_block(title: &str, lines: &[Line], after: &str) -> String {
    let body: Vec<String> = lines.iter().map(diff_line).collect();
    let body = body.join("\n");
    let fence = fence_for(&body);
    let mut out = format!(
        "<details><summary>{}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n",
        escape_html(title)
    );
    if !after.is_empty() {
        out.push_str(after);
        out.push_str("\n\n");
    }
    out.push_str("</details>\n\n");
    out
}

/// A line of a ```` ```diff ```` block: the sign moved to the first column
/// so GitHub colors it (`~` becomes `!`, which GitHub highlights too).
pub(crate) fn diff_line(line: &Line) -> String {
    let symbol = match line.sign {
        Sign::Change => "!",
        sign => sign.symbol(),
    };
    let pad = line
        .col
        .saturating_sub(symbol.len())
        .max(usize::from(!symbol.is_empty()));
    format!("{symbol}{}{}", " ".repeat(pad), line.text)
}

/// A code fence longer than any run of backticks inside `body`.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// An inline code span that holds `text` whatever it contains.
pub(crate) fn code(text: &str) -> String {
    let text = lines::one_line(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let ticks = "`".repeat(longest + 1);
    if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        format!("{ticks} {text} {ticks}")
    } else {
        format!("{ticks}{text}{ticks}")
    }
}

/// A table cell: pipes escaped (GitHub needs it inside code spans too).
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// `&`, `<` and `>` as entities (enough for HTML text, not attributes).
pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Free text on one line, HTML neutralized (backticks kept: plan warnings
/// use them for code).
pub(crate) fn escape_text(text: &str) -> String {
    escape_html(&lines::one_line(text))
}
