//! Diagnostics: what is wrong with a manifest, where, for which address, and
//! how to fix it, rendered rustc/ruff style.
//!
//! A [`Diagnostic`] carries an optional [`Span`] (file, byte range, line and
//! column), so it prints `file:line:col` even without the sources
//! ([`fmt::Display`]); [`Diagnostics::render`] adds the source snippet with a
//! caret when it is handed the sources. The engine builds span-less
//! diagnostics for plan-time problems with [`Diagnostic::error`] and attaches
//! the block's span through [`crate::manifest::Manifest::span_of`].

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use super::Source;

/// A place in a manifest file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub path: PathBuf,
    /// Byte offsets into the file's text.
    pub start: usize,
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column of `start`, in characters.
    pub col: usize,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary place shown with a diagnostic ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where; `None` for problems that have no place in a file.
    pub span: Option<Span>,
    /// Text written under the caret.
    pub label: Option<String>,
    /// The address (or `variables.x`, `local.x`, `output.x`) concerned.
    pub address: Option<String>,
    /// How to fix it.
    pub hints: Vec<String>,
    /// Other places that belong to the story.
    pub related: Vec<Label>,
}

impl Diagnostic {
    /// An error without a place; add one with [`Diagnostic::with_span`].
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span: None,
            label: None,
            address: None,
            hints: Vec::new(),
            related: Vec::new(),
        }
    }

    /// A warning without a place.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Name the address concerned (`role.x`, `output.y`).
    #[must_use]
    pub fn with_address(mut self, address: impl fmt::Display) -> Self {
        self.address = Some(address.to_string());
        self
    }

    /// Add a hint; several hints print in order.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Set the place.
    #[must_use]
    pub fn with_span(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Set the place when there is one.
    #[must_use]
    pub fn with_span_opt(mut self, span: Option<Span>) -> Self {
        if span.is_some() {
            self.span = span;
        }
        self
    }

    /// Text under the caret.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Add a secondary place.
    #[must_use]
    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// True for errors (not warnings).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn render_into(&self, out: &mut String, sources: &[Source], color: bool) {
        let paint = Paint { on: color };
        let (sev_style, caret_char) = match self.severity {
            Severity::Error => (RED, '^'),
            Severity::Warning => (YELLOW, '^'),
        };
        let _ = writeln!(
            out,
            "{}{}",
            paint.wrap(sev_style, &format!("{}:", self.severity.as_str())),
            paint.wrap(BOLD, &format!(" {}", self.message))
        );
        let mut places: Vec<(&Span, Option<&str>, bool)> = Vec::new();
        if let Some(span) = &self.span {
            places.push((span, self.label.as_deref(), true));
        }
        for r in &self.related {
            places.push((&r.span, Some(r.message.as_str()), false));
        }
        let width = places
            .iter()
            .map(|(s, _, _)| digits(s.line))
            .max()
            .unwrap_or(1);
        let pad = " ".repeat(width);
        for (i, (span, label, primary)) in places.iter().enumerate() {
            let arrow = if i == 0 { "-->" } else { ":::" };
            let _ = writeln!(out, "{pad}{} {span}", paint.wrap(BLUE, arrow));
            let text = sources
                .iter()
                .find(|s| same_path(&s.path, &span.path))
                .map(|s| s.text.as_str());
            let Some(line_text) = text.and_then(|t| line_of(t, span.start)) else {
                continue;
            };
            let shown = line_text.replace('\t', " ");
            let line_chars = shown.chars().count();
            let start_col = span.col.saturating_sub(1).min(line_chars);
            let span_chars = text
                .and_then(|t| t.get(span.start..span.end.max(span.start)))
                .map(|s| s.lines().next().unwrap_or("").chars().count())
                .unwrap_or(1);
            let n = span_chars.min(line_chars.saturating_sub(start_col)).max(1);
            let mark: String =
                std::iter::repeat_n(if *primary { caret_char } else { '-' }, n).collect();
            let mark_style = if *primary { sev_style } else { BLUE };
            let _ = writeln!(out, "{pad} {}", paint.wrap(BLUE, "|"));
            let _ = writeln!(
                out,
                "{} {} {}",
                paint.wrap(BLUE, &format!("{:>width$}", span.line)),
                paint.wrap(BLUE, "|"),
                shown.trim_end()
            );
            let label = label.map(|l| format!(" {l}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{pad} {} {}{}",
                paint.wrap(BLUE, "|"),
                " ".repeat(start_col),
                paint.wrap(mark_style, &format!("{mark}{label}"))
            );
        }
        if !places.is_empty() && (self.address.is_some() || !self.hints.is_empty()) {
            let _ = writeln!(out, "{pad} {}", paint.wrap(BLUE, "|"));
        }
        if let Some(address) = &self.address {
            let _ = writeln!(out, "{pad} {} address: {address}", paint.wrap(BLUE, "="));
        }
        for hint in &self.hints {
            let _ = writeln!(
                out,
                "{pad} {} {} {hint}",
                paint.wrap(BLUE, "="),
                paint.wrap(CYAN, "hint:")
            );
        }
    }
}

impl fmt::Display for Diagnostic {
    /// Plain text without snippets: `error: ...`, ` --> file:line:col`,
    /// `= address: ...`, `= hint: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.render_into(&mut out, &[], false);
        f.write_str(out.trim_end())
    }
}

impl std::error::Error for Diagnostic {}

/// Every problem found, in the order found (errors first when rendered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No problems.
    pub fn new() -> Self {
        Diagnostics::default()
    }

    /// Add one.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Add all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when at least one problem is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// The problems.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// The problems, owned.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Sort by file, line and column (span-less ones last), keeping the
    /// relative order of equal places.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                d.span
                    .as_ref()
                    .map(|s| (0, s.path.clone(), s.start))
                    .unwrap_or((1, PathBuf::new(), 0))
            };
            key(a).cmp(&key(b))
        });
    }

    /// rustc-style text with source snippets; `color` adds ANSI colors.
    pub fn render(&self, sources: &[Source], color: bool) -> String {
        let mut out = String::new();
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            d.render_into(&mut out, sources, color);
        }
        let errors = self.items.iter().filter(|d| d.is_error()).count();
        if errors > 0 {
            out.push('\n');
            let summary = if errors == 1 {
                "error: found 1 error".to_owned()
            } else {
                format!("error: found {errors} errors")
            };
            let paint = Paint { on: color };
            let _ = writeln!(out, "{}", paint.wrap(RED, &summary));
        }
        out
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics { items: vec![d] }
    }
}

impl From<Vec<Diagnostic>> for Diagnostics {
    fn from(items: Vec<Diagnostic>) -> Self {
        Diagnostics { items }
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<T: IntoIterator<Item = Diagnostic>>(iter: T) -> Self {
        Diagnostics {
            items: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b
}

/// The line of `text` that contains byte `offset`.
fn line_of(text: &str, offset: usize) -> Option<&str> {
    if offset > text.len() {
        return None;
    }
    let start = text[..floor_char(text, offset)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    Some(text[start..end].trim_end_matches('\r'))
}

fn floor_char(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Line starts of one file, to turn byte offsets into line:col.
#[derive(Clone, Debug)]
pub(crate) struct FileInfo {
    pub path: PathBuf,
    pub text: String,
    /// Computed on the first span: most manifests never need one.
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl FileInfo {
    pub fn new(path: PathBuf, text: String) -> Self {
        let line_starts = std::sync::OnceLock::new();
        FileInfo {
            path,
            text,
            line_starts,
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut v = vec![0];
            v.extend(
                self.text
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            v
        })
    }

    pub fn span(&self, start: usize, end: usize) -> Span {
        let start = floor_char(&self.text, start);
        let end = floor_char(&self.text, end.max(start));
        let line_idx = self
            .line_starts()
            .partition_point(|&s| s <= start)
            .saturating_sub(1);
        let line_start = self.line_starts().get(line_idx).copied().unwrap_or(0);
        let col = self.text[line_start..start].chars().count() + 1;
        Span {
            path: self.path.clone(),
            start,
            end,
            line: line_idx + 1,
            col,
        }
    }
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const BLUE: &str = "\x1b[1;34m";
const CYAN: &str = "\x1b[1;36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, style: &str, text: &str) -> String {
        if self.on {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_lines_and_characters() {
        let f = FileInfo::new("a.toml".into(), "ab\nçd = 1\n".into());
        let s = f.span(6, 7);
        assert_eq!((s.line, s.col), (2, 3));
        assert_eq!(f.span(0, 1).to_string(), "a.toml:1:1");
    }

    #[test]
    fn display_without_sources_names_the_place() {
        let f = FileInfo::new("m.toml".into(), "[role.x]\nnmae = 1\n".into());
        let d = Diagnostic::error("unknown key `nmae`")
            .with_span(f.span(9, 13))
            .with_address("role.x")
            .with_hint("did you mean `name`?");
        assert_eq!(
            d.to_string(),
            "error: unknown key `nmae`\n --> m.toml:2:1\n  |\n  = address: role.x\n  = hint: did you mean `name`?"
        );
    }
}
