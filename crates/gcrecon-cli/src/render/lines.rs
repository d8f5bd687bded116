//! The line model shared by the human and markdown views: a resource change,
//! an output change or a drifted object becomes a list of signed, indented
//! [`Line`]s once; [`super::human`] paints them for a terminal and
//! [`super::markdown`] moves the signs to the first column of a ```` ```diff ````
//! block.
//!
//! Layout (Terraform's): a block opens at depth 0 with its sign two columns
//! in (`  + role.adapter {`), attributes sit at depth 1, list items and map
//! entries at depth 2. Updates show only the keys the plan's per-key
//! results name, plus `name` and `id` for context; set-like lists show
//! added and removed items; maps show changed entries; long or multi-line
//! strings get a line diff. Which keys changed is never decided here.

use std::collections::BTreeSet;
use std::ops::Range;

use gcrecon_core::plan::{
    Action, CallerGrantAction, CallerGrantChange, OutputChange, ResourceChange,
    SENSITIVE_PLACEHOLDER,
};
use gcrecon_core::schema::DiffKind;
use gcrecon_core::value::Attrs;
use gcrecon_core::{Kind, Value};
use similar::{Algorithm, ChangeTag, TextDiff};

/// Strings longer than this (in characters) are diffed line by line instead
/// of printed as `"old" -> "new"`.
pub(crate) const LONG_STRING: usize = 60;

/// Above this many bytes, a string diff skips the word-level emphasis (which
/// only colors show) to stay fast.
const INLINE_EMPHASIS_MAX: usize = 10_000;

/// Unchanged lines shown around each change in a string diff.
const CONTEXT_LINES: usize = 3;

/// The mark in front of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Sign {
    None,
    Add,
    Change,
    Remove,
    Replace,
}

impl Sign {
    /// The symbol as Terraform prints it.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Sign::None => "",
            Sign::Add => "+",
            Sign::Change => "~",
            Sign::Remove => "-",
            Sign::Replace => "-/+",
        }
    }

    /// The legend entry for a resource-level sign.
    pub(crate) fn legend(self) -> &'static str {
        match self {
            Sign::None => "",
            Sign::Add => "create",
            Sign::Change => "update in-place",
            Sign::Remove => "destroy",
            Sign::Replace => "replace (destroy, then create)",
        }
    }
}

/// One line of a rendered change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    /// The column the text starts at; the sign ends one space before it.
    pub col: usize,
    pub sign: Sign,
    pub text: String,
    /// Byte ranges of `text` to emphasize (the changed words of a string
    /// diff); only colors show them.
    pub emphasis: Vec<Range<usize>>,
    /// A `# address will be ...` heading (bold in colors).
    pub heading: bool,
}

impl Line {
    /// A line at `depth` (0: the block itself, 1: its attributes, ...).
    pub(crate) fn at(depth: usize, sign: Sign, text: impl Into<String>) -> Line {
        Line {
            col: 4 + 4 * depth,
            sign,
            text: text.into(),
            emphasis: Vec::new(),
            heading: false,
        }
    }

    /// A heading comment two columns in (`  # role.adapter will be created`).
    pub(crate) fn heading(text: impl Into<String>) -> Line {
        Line {
            col: 2,
            heading: true,
            ..Line::at(0, Sign::None, text)
        }
    }

    /// A plain comment two columns in (`  # adopted ...`).
    pub(crate) fn comment(text: impl Into<String>) -> Line {
        Line {
            col: 2,
            ..Line::at(0, Sign::None, text)
        }
    }
}

/// How a resource change is described: its sign, the heading phrase and the
/// one-word action for tables.
pub(crate) fn describe(actions: &[Action]) -> Option<(Sign, &'static str, &'static str)> {
    let has = |a: Action| actions.contains(&a);
    if has(Action::Delete) && has(Action::Create) {
        Some((Sign::Replace, "must be replaced", "replace"))
    } else if has(Action::Create) {
        Some((Sign::Add, "will be created", "create"))
    } else if has(Action::Delete) {
        Some((Sign::Remove, "will be destroyed", "delete"))
    } else if has(Action::Update) {
        Some((Sign::Change, "will be updated in-place", "update"))
    } else {
        // `[no-op]` and `[read]`: nothing happens to the organization.
        None
    }
}

/// How one key is shown: its diff semantics (a set lists the items added
/// and removed, a subset map leaves out entries only the organization
/// has) and whether its values may be shown.
#[derive(Clone, Copy, Debug)]
pub(crate) struct How {
    pub diff: DiffKind,
    pub sensitive: bool,
    /// The plan (or drift report) says the key changed: a sensitive key is
    /// marked changed even though both its values read `(sensitive)`.
    pub changed: bool,
}

/// The diff semantics of `key` for `kind` as its spec gives them (`Plain`
/// for a key the spec does not know), to choose how a change is drawn.
pub(crate) fn semantics(kind: Kind, key: &str) -> DiffKind {
    kind.spec().key(key).map_or(DiffKind::Plain, |k| k.diff)
}

/// The keys of `rc` whose values must never be shown: those the plan marks
/// and those the kind's spec knows hold secrets.
pub(crate) fn sensitive_keys(rc: &ResourceChange) -> BTreeSet<String> {
    rc.sensitive_keys
        .iter()
        .cloned()
        .chain(rc.kind.spec().sensitive.iter().map(|k| (*k).to_owned()))
        .chain(
            rc.keys
                .iter()
                .filter(|k| k.sensitive)
                .map(|k| k.key.clone()),
        )
        .collect()
}

/// A value, or `None` when absent or null (the two read the same).
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !matches!(v, Value::Null))
}

/// The keys an update or replacement changes, as the plan's per-key
/// results name them.
pub(crate) fn changed_keys(rc: &ResourceChange) -> BTreeSet<String> {
    rc.keys.iter().map(|k| k.key.clone()).collect()
}

/// `before` and `after` as shown: the Genesys id joins the attributes as
/// `id` (the old id before, known after apply for a new object), so a
/// replacement reads `~ id = "..." -> (known after apply)`.
fn shown_attrs(rc: &ResourceChange) -> (Attrs, Attrs) {
    let mut before = rc.before.clone().unwrap_or_default();
    let mut after = rc.after.clone().unwrap_or_default();
    let id = rc.id.as_ref().map(|id| Value::string(id.as_str()));
    if let Some(id) = &id {
        if rc.before.is_some() {
            before.get_or_insert_with("id".to_owned(), || id.clone());
        }
    }
    if rc.after.is_some() {
        let creates = rc.actions.contains(&Action::Create);
        match (&id, creates) {
            (_, true) => {
                after.get_or_insert_with("id".to_owned(), || Value::Unknown);
            }
            (Some(id), false) => {
                after.get_or_insert_with("id".to_owned(), || id.clone());
            }
            (None, false) => {}
        }
    }
    (before, after)
}

/// The lines of one resource change: optionally the heading, the note, then
/// the block. Empty for `[no-op]` and `[read]`.
pub(crate) fn resource_lines(rc: &ResourceChange, with_heading: bool) -> Vec<Line> {
    let Some((sign, phrase, _)) = describe(&rc.actions) else {
        return Vec::new();
    };
    let sensitive = sensitive_keys(rc);
    let (before, after) = shown_attrs(rc);
    let how = |key: &str| How {
        diff: semantics(rc.kind, key),
        sensitive: sensitive.contains(key),
        changed: rc.key(key).is_some(),
    };

    let mut out = Vec::new();
    if with_heading {
        out.push(Line::heading(format!("# {} {phrase}", rc.address)));
    }
    if let Some(note) = &rc.note {
        out.push(Line::comment(format!("# ({})", one_line(note))));
    }
    out.push(Line::at(0, sign, format!("{} {{", rc.address)));

    let all_keys: BTreeSet<&String> = before
        .iter()
        .chain(&after)
        .filter(|(_, v)| !matches!(v, Value::Null))
        .map(|(k, _)| k)
        .collect();
    let shown: Vec<&String> = match sign {
        Sign::Add => after.keys().collect(),
        Sign::Remove => before.keys().collect(),
        _ => {
            let changed = changed_keys(rc);
            all_keys
                .iter()
                .copied()
                .filter(|k| changed.contains(*k) || k.as_str() == "name" || k.as_str() == "id")
                .collect()
        }
    };
    let shown: Vec<&String> = shown
        .into_iter()
        .filter(|k| present(before.get(*k)).is_some() || present(after.get(*k)).is_some())
        .collect();
    let width = shown.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    for key in &shown {
        // A changed key is printed from the plan's per-key result; the
        // others (`name` and `id` for context) from before and after.
        let change = rc.key(key);
        let suffix = if change.is_some_and(|c| c.forces_replacement) {
            " # forces replacement"
        } else {
            ""
        };
        let b = match (sign, change) {
            (Sign::Add, _) => None,
            (_, Some(c)) => c.before.as_ref(),
            (_, None) => before.get(*key),
        };
        let a = match (sign, change) {
            (Sign::Remove, _) => None,
            (_, Some(c)) => c.after.as_ref(),
            (_, None) => after.get(*key),
        };
        out.extend(attr_lines(key, b, a, how(key), 1, width, suffix));
    }
    let hidden = all_keys.len().saturating_sub(shown.len());
    if hidden > 0 && matches!(sign, Sign::Change | Sign::Replace) {
        out.push(Line::at(1, Sign::None, hidden_comment(hidden, "attribute")));
    }
    out.push(Line::at(0, Sign::None, "}"));
    out
}

/// `# (3 unchanged attributes hidden)`.
pub(crate) fn hidden_comment(n: usize, what: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("# ({n} unchanged {what}{s} hidden)")
}

/// The lines of one key: `~ key = before -> after` and its multi-line forms.
/// `width` pads the key so that the `=` of a block line up; `suffix` ends the
/// first line (`# forces replacement`).
pub(crate) fn attr_lines(
    key: &str,
    before: Option<&Value>,
    after: Option<&Value>,
    how: How,
    depth: usize,
    width: usize,
    suffix: &str,
) -> Vec<Line> {
    let label = format!("{key:<width$} = ");
    let (b, a) = (present(before), present(after));
    if how.sensitive {
        let sign = match (b, a) {
            (None, None) => return Vec::new(),
            (None, Some(_)) => Sign::Add,
            (Some(_), None) => Sign::Remove,
            (Some(b), Some(a)) if b == a && !how.changed => Sign::None,
            (Some(_), Some(_)) => Sign::Change,
        };
        return vec![Line::at(
            depth,
            sign,
            format!("{label}{SENSITIVE_PLACEHOLDER}{suffix}"),
        )];
    }
    match (b, a) {
        (None, None) => Vec::new(),
        (Some(b), Some(a)) if b == a => {
            vec![Line::at(
                depth,
                Sign::None,
                format!("{label}{}{suffix}", inline(a)),
            )]
        }
        (None, Some(a)) => value_lines(&label, a, Sign::Add, depth, suffix, ""),
        (Some(b), None) => value_lines(&label, b, Sign::Remove, depth, suffix, " -> null"),
        (Some(Value::List(b)), Some(Value::List(a))) => {
            list_diff_lines(&label, b, a, how.diff == DiffKind::Set, depth, suffix)
        }
        (Some(Value::Map(b)), Some(Value::Map(a))) => {
            map_diff_lines(&label, b, a, how.diff == DiffKind::Subset, depth, suffix)
        }
        (Some(Value::String(b)), Some(Value::String(a))) if is_long(b) || is_long(a) => {
            text_diff_lines(&label, b, a, depth, suffix)
        }
        (Some(b), Some(a)) => vec![Line::at(
            depth,
            Sign::Change,
            format!("{label}{} -> {}{suffix}", inline(b), inline(a)),
        )],
    }
}

/// True for strings shown as a line diff.
fn is_long(s: &str) -> bool {
    s.contains('\n') || s.chars().count() > LONG_STRING
}

/// A whole value added or removed, lists and maps one item per line,
/// multi-line strings as a heredoc. `tail` ends the value (` -> null`).
fn value_lines(
    label: &str,
    v: &Value,
    sign: Sign,
    depth: usize,
    suffix: &str,
    tail: &str,
) -> Vec<Line> {
    let mut out = Vec::new();
    match v {
        Value::List(items) if !items.is_empty() => {
            out.push(Line::at(depth, sign, format!("{label}[{suffix}")));
            for item in items {
                out.push(Line::at(depth + 1, sign, format!("{},", inline(item))));
            }
            out.push(Line::at(depth, Sign::None, format!("]{tail}")));
        }
        Value::Map(map) if !map.is_empty() => {
            out.push(Line::at(depth, sign, format!("{label}{{{suffix}")));
            let width = map
                .keys()
                .map(|k| map_key(k).chars().count())
                .max()
                .unwrap_or(0);
            for (k, v) in map {
                let k = map_key(k);
                out.push(Line::at(
                    depth + 1,
                    sign,
                    format!("{k:<width$} = {}", inline(v)),
                ));
            }
            out.push(Line::at(depth, Sign::None, format!("}}{tail}")));
        }
        Value::String(s) if s.contains('\n') => {
            out.push(Line::at(depth, sign, format!("{label}<<-EOT{suffix}")));
            for line in s.lines() {
                out.push(Line::at(depth + 1, sign, escape_controls(line)));
            }
            out.push(Line::at(depth, Sign::None, format!("EOT{tail}")));
        }
        v => out.push(Line::at(
            depth,
            sign,
            format!("{label}{}{tail}{suffix}", inline(v)),
        )),
    }
    out
}

/// A list that changed: sets show the items added and removed (sorted, the
/// unchanged ones counted), other lists an ordered diff.
fn list_diff_lines(
    label: &str,
    before: &[Value],
    after: &[Value],
    set: bool,
    depth: usize,
    suffix: &str,
) -> Vec<Line> {
    let b: Vec<String> = before.iter().map(inline).collect();
    let a: Vec<String> = after.iter().map(inline).collect();
    let mut out = vec![Line::at(depth, Sign::Change, format!("{label}[{suffix}"))];
    if set {
        let bs: BTreeSet<&String> = b.iter().collect();
        let as_: BTreeSet<&String> = a.iter().collect();
        let mut changed: Vec<(&String, Sign)> = bs
            .difference(&as_)
            .map(|s| (*s, Sign::Remove))
            .chain(as_.difference(&bs).map(|s| (*s, Sign::Add)))
            .collect();
        changed.sort();
        for (item, sign) in changed {
            out.push(Line::at(depth + 1, sign, format!("{item},")));
        }
        let unchanged = bs.intersection(&as_).count();
        if unchanged > 0 {
            out.push(Line::at(
                depth + 1,
                Sign::None,
                hidden_comment(unchanged, "element"),
            ));
        }
    } else {
        for op in similar::capture_diff_slices(Algorithm::Myers, &b, &a) {
            for change in op.iter_changes(&b, &a) {
                let sign = match change.tag() {
                    ChangeTag::Equal => Sign::None,
                    ChangeTag::Delete => Sign::Remove,
                    ChangeTag::Insert => Sign::Add,
                };
                out.push(Line::at(depth + 1, sign, format!("{},", change.value())));
            }
        }
    }
    out.push(Line::at(depth, Sign::None, "]"));
    out
}

/// A map that changed: the entries added, removed and changed. With subset
/// semantics, entries only the live side has are not gcrecon's business and
/// are left out.
fn map_diff_lines(
    label: &str,
    before: &gcrecon_core::vecmap::VecMap<String, Value>,
    after: &gcrecon_core::vecmap::VecMap<String, Value>,
    subset: bool,
    depth: usize,
    suffix: &str,
) -> Vec<Line> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut entries = Vec::new();
    let mut unchanged = 0;
    for k in keys {
        let (b, a) = (present(before.get(k)), present(after.get(k)));
        let entry = match (b, a) {
            (None, None) => continue,
            (Some(_), None) if subset => continue,
            (Some(b), Some(a)) if b == a => {
                unchanged += 1;
                continue;
            }
            (Some(b), None) => (Sign::Remove, map_key(k), format!("{} -> null", inline(b))),
            (None, Some(a)) => (Sign::Add, map_key(k), inline(a)),
            (Some(b), Some(a)) => (
                Sign::Change,
                map_key(k),
                format!("{} -> {}", inline(b), inline(a)),
            ),
        };
        entries.push(entry);
    }
    let width = entries
        .iter()
        .map(|(_, k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = vec![Line::at(depth, Sign::Change, format!("{label}{{{suffix}"))];
    for (sign, k, text) in entries {
        out.push(Line::at(depth + 1, sign, format!("{k:<width$} = {text}")));
    }
    if unchanged > 0 {
        out.push(Line::at(
            depth + 1,
            Sign::None,
            hidden_comment(unchanged, "key"),
        ));
    }
    out.push(Line::at(depth, Sign::None, "}"));
    out
}

/// A long or multi-line string that changed: a line diff with a few lines of
/// context, as a heredoc.
fn text_diff_lines(
    label: &str,
    before: &str,
    after: &str,
    depth: usize,
    suffix: &str,
) -> Vec<Line> {
    let diff = TextDiff::from_lines(before, after);
    let emphasis = before.len() + after.len() <= INLINE_EMPHASIS_MAX;
    let old_len = diff.old_slices().len();
    let mut out = vec![Line::at(
        depth,
        Sign::Change,
        format!("{label}<<-EOT{suffix}"),
    )];
    let mut shown_to = 0;
    for group in diff.grouped_ops(CONTEXT_LINES) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let start = first.old_range().start;
        if start > shown_to {
            out.push(Line::at(
                depth + 1,
                Sign::None,
                hidden_comment(start - shown_to, "line"),
            ));
        }
        for op in &group {
            if emphasis {
                for change in diff.iter_inline_changes_deadline(op, None) {
                    let segments = change
                        .iter_strings_lossy()
                        .map(|(e, s)| (e, s.into_owned()));
                    out.push(text_line(
                        depth + 1,
                        tag_sign(change.tag()),
                        segments.collect(),
                    ));
                }
            } else {
                for change in diff.iter_changes(op) {
                    let segments = vec![(false, change.value().to_owned())];
                    out.push(text_line(depth + 1, tag_sign(change.tag()), segments));
                }
            }
        }
        shown_to = last.old_range().end;
    }
    if old_len > shown_to {
        out.push(Line::at(
            depth + 1,
            Sign::None,
            hidden_comment(old_len - shown_to, "line"),
        ));
    }
    out.push(Line::at(depth, Sign::None, "EOT"));
    out
}

fn tag_sign(tag: ChangeTag) -> Sign {
    match tag {
        ChangeTag::Equal => Sign::None,
        ChangeTag::Delete => Sign::Remove,
        ChangeTag::Insert => Sign::Add,
    }
}

/// One line of a string diff from its (emphasized, text) segments: the line
/// break dropped, control characters escaped, emphasis kept as byte ranges.
fn text_line(depth: usize, sign: Sign, mut segments: Vec<(bool, String)>) -> Line {
    // Drop the trailing line break (`\n` or `\r\n`), wherever the segments split it.
    for end in ['\n', '\r'] {
        while let Some((_, last)) = segments.last_mut() {
            if last.is_empty() {
                segments.pop();
                continue;
            }
            if last.ends_with(end) {
                last.pop();
            }
            break;
        }
    }
    let mut line = Line::at(depth, sign, String::new());
    for (emphasized, text) in segments {
        let start = line.text.len();
        line.text.push_str(&escape_controls(&text));
        if emphasized && line.text.len() > start {
            line.emphasis.push(start..line.text.len());
        }
    }
    line
}

/// A value on one line: strings quoted (control characters escaped), lists
/// `[a, b]`, maps `{ k = v }`, unknown values `(known after apply)`.
pub(crate) fn inline(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) if map.is_empty() => "{}".to_owned(),
        Value::Map(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", map_key(k), inline(v)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

/// A string in double quotes, JSON-escaped, with every control character
/// escaped too (so no value can move the cursor or color a terminal).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text with control characters (tabs excepted) escaped as `\u001b`.
pub(crate) fn escape_controls(s: &str) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                format!("\\u{:04x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Free text (notes, warnings) on one line, control characters escaped.
pub(crate) fn one_line(s: &str) -> String {
    escape_controls(
        &s.split(['\n', '\r'])
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// A map key: bare when it is a plain word, else quoted.
fn map_key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_owned()
    } else {
        quote(k)
    }
}

/// The line of a caller grant:
/// `+ caller grant: role "eMite Adapter" in division(s) * (temporary, removed after apply) — needed by oauth_client.apidata`.
pub(crate) fn caller_grant_line(grant: &CallerGrantChange) -> Line {
    let sign = match grant.action {
        CallerGrantAction::Grant => Sign::Add,
        CallerGrantAction::Revoke => Sign::Remove,
    };
    Line::at(
        0,
        sign,
        caller_grant_text(grant, &quote(&grant.role_name), &|d| d.to_owned()),
    )
}

/// The text of a caller grant, with the role name and ids already formatted
/// (quoted for a terminal, code spans for markdown).
pub(crate) fn caller_grant_text(
    grant: &CallerGrantChange,
    role: &str,
    fmt: &dyn Fn(&str) -> String,
) -> String {
    let divisions = if grant.divisions.is_empty() {
        "(none)".to_owned()
    } else {
        grant
            .divisions
            .iter()
            .map(|d| fmt(d))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("caller grant: role {role} in division(s) {divisions}");
    text.push_str(match grant.action {
        CallerGrantAction::Grant if grant.temporary => " (temporary, removed after apply)",
        CallerGrantAction::Grant => " (kept after apply)",
        CallerGrantAction::Revoke => " (revoked)",
    });
    if !grant.needed_by.is_empty() {
        let by: Vec<String> = grant
            .needed_by
            .iter()
            .map(|a| fmt(&a.to_string()))
            .collect();
        text.push_str(" — needed by ");
        text.push_str(&by.join(", "));
    }
    text
}

/// The lines of the output changes (no-ops left out), `=` aligned.
pub(crate) fn output_lines(outputs: &[OutputChange]) -> Vec<Line> {
    let mut changed: Vec<&OutputChange> = outputs
        .iter()
        .filter(|o| {
            !o.actions
                .iter()
                .all(|a| matches!(a, Action::NoOp | Action::Read))
        })
        .collect();
    changed.sort_by(|a, b| a.name.cmp(&b.name));
    let width = changed
        .iter()
        .map(|o| o.name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for o in changed {
        let sign = match describe(&o.actions) {
            Some((sign, _, _)) => sign,
            None => Sign::Change,
        };
        let label = format!("{:<width$} = ", o.name);
        if o.sensitive {
            out.push(Line::at(0, sign, format!("{label}{SENSITIVE_PLACEHOLDER}")));
            continue;
        }
        let after = match sign {
            Sign::Remove => None,
            // An output without a value yet is known after apply.
            _ => Some(o.after.clone().unwrap_or(Value::Unknown)),
        };
        let before = if sign == Sign::Add {
            None
        } else {
            o.before.as_ref()
        };
        let how = How {
            diff: DiffKind::Plain,
            sensitive: false,
            changed: false,
        };
        let lines = attr_lines(&o.name, before, after.as_ref(), how, 0, width, "");
        if lines.is_empty() {
            out.push(Line::at(0, sign, format!("{label}null")));
        }
        out.extend(lines);
    }
    out
}
