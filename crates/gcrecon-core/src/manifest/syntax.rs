//! The spanned syntax tree: TOML parsed with `toml_edit` (which keeps byte
//! positions) and turned into [`Node`]s whose strings are already parsed
//! into [`Template`]s, with every position mapped back to the file.

use toml_edit::{ImDocument, Item};

use super::diagnostic::{Diagnostic, FileInfo, Span};
use super::expr::{parse_template_ref, Expr, Part, Template};

/// A compact place: file index and byte range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Sp {
    pub file: u32,
    pub start: u32,
    pub end: u32,
}

impl Sp {
    pub fn new(file: u32, range: std::ops::Range<usize>) -> Self {
        Sp {
            file,
            start: u32::try_from(range.start).unwrap_or(u32::MAX),
            end: u32::try_from(range.end).unwrap_or(u32::MAX),
        }
    }

    pub fn at(self, range: &std::ops::Range<usize>) -> Sp {
        Sp::new(self.file, range.clone())
    }
}

/// The files of a manifest, to turn [`Sp`]s into [`Span`]s.
#[derive(Clone, Debug, Default)]
pub(crate) struct Files {
    pub files: Vec<FileInfo>,
}

impl Files {
    pub fn span(&self, sp: Sp) -> Option<Span> {
        self.files
            .get(sp.file as usize)
            .map(|f| f.span(sp.start as usize, sp.end as usize))
    }

    pub fn text(&self, file: u32) -> &str {
        self.files
            .get(file as usize)
            .map_or("", |f| f.text.as_str())
    }

    /// An error at `sp`.
    pub fn error(&self, sp: Sp, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message).with_span_opt(self.span(sp))
    }
}

/// A value of the manifest with its place.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub sp: Sp,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeKind {
    Bool(bool),
    Number(serde_json::Number),
    Datetime(String),
    Str(Template),
    List(Vec<Node>),
    Table(Table),
    /// A string whose `${...}` did not parse (already reported).
    Invalid,
}

/// A TOML table (header table, dotted-key table or inline table).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Table {
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_sp: Sp,
    pub value: Node,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Bool(_) => "bool",
            NodeKind::Number(n) if n.is_f64() => "float",
            NodeKind::Number(_) => "integer",
            NodeKind::Datetime(_) => "date-time",
            NodeKind::Str(_) => "string",
            NodeKind::List(_) => "list",
            NodeKind::Table(_) => "table",
            NodeKind::Invalid => "invalid string",
        }
    }

    /// The expression when this is a string that is exactly one `${...}`.
    pub fn whole_expr(&self) -> Option<&Expr> {
        match &self.kind {
            NodeKind::Str(t) => t.whole_expr(),
            _ => None,
        }
    }

    /// The text of a string without references.
    pub fn literal_str(&self) -> Option<String> {
        self.literal_ref().map(str::to_owned)
    }

    /// The text of a string without references, borrowed.
    pub fn literal_ref(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(t) => t.literal_ref(),
            _ => None,
        }
    }

    pub fn as_table(&self) -> Option<&Table> {
        match &self.kind {
            NodeKind::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Visit every expression inside this value.
    pub fn exprs<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        match &self.kind {
            NodeKind::Str(t) => {
                for e in t.exprs() {
                    f(e);
                }
            }
            NodeKind::List(items) => {
                for i in items {
                    i.exprs(f);
                }
            }
            NodeKind::Table(t) => {
                for e in &t.entries {
                    e.value.exprs(f);
                }
            }
            _ => {}
        }
    }
}

/// Parse one file; `None` after a TOML syntax error (reported in `diags`).
///
/// The common shape of manifests goes through [`super::fast_toml`]; anything
/// it does not handle (and every syntax error, for the canonical message)
/// goes through `toml_edit`.
pub(crate) fn parse_file(files: &Files, file: u32, diags: &mut Vec<Diagnostic>) -> Option<Table> {
    if let Some((table, found)) = super::fast_toml::parse(files, file) {
        diags.extend(found);
        return Some(table);
    }
    parse_file_with_toml_edit(files, file, diags)
}

/// Parse one file with `toml_edit`.
pub(crate) fn parse_file_with_toml_edit(
    files: &Files,
    file: u32,
    diags: &mut Vec<Diagnostic>,
) -> Option<Table> {
    let text = files.text(file);
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let range = e.span().unwrap_or(0..0);
            let mut lines = e.message().lines().map(str::trim).filter(|l| !l.is_empty());
            let title = lines.next().unwrap_or("invalid TOML").to_owned();
            let rest: Vec<&str> = lines.collect();
            let mut d = files
                .error(Sp::new(file, range), format!("TOML syntax error: {title}"))
                .with_label(title);
            if !rest.is_empty() {
                d = d.with_label(rest.join("; "));
            }
            d = d.with_hint("fix the TOML syntax; see https://toml.io for the format");
            diags.push(d);
            return None;
        }
    };
    let mut conv = Converter {
        files,
        file,
        text,
        diags,
    };
    Some(conv.table(doc.as_table()))
}

struct Converter<'a> {
    files: &'a Files,
    file: u32,
    text: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Converter<'_> {
    fn sp(&self, range: Option<std::ops::Range<usize>>, fallback: Sp) -> Sp {
        range.map_or(fallback, |r| Sp::new(self.file, r))
    }

    fn table(&mut self, t: &toml_edit::Table) -> Table {
        let mut entries = Vec::with_capacity(t.len());
        for (k, item) in t.iter() {
            let key_sp = match t.get_key_value(k) {
                Some((key, _)) => self.sp(key.span(), Sp::new(self.file, 0..0)),
                None => Sp::new(self.file, 0..0),
            };
            let value = self.item(item, key_sp);
            entries.push(Entry {
                key: k.to_owned(),
                key_sp,
                value,
            });
        }
        Table { entries }
    }

    fn item(&mut self, item: &Item, key_sp: Sp) -> Node {
        match item {
            Item::Table(t) => {
                let sp = match t.span() {
                    Some(r) if !t.is_implicit() && !t.is_dotted() => {
                        self.header_span(r.start, key_sp)
                    }
                    _ => key_sp,
                };
                Node {
                    sp,
                    kind: NodeKind::Table(self.table(t)),
                }
            }
            Item::ArrayOfTables(a) => {
                let items = a
                    .iter()
                    .map(|t| {
                        let sp = t
                            .span()
                            .map_or(key_sp, |r| self.header_span(r.start, key_sp));
                        Node {
                            sp,
                            kind: NodeKind::Table(self.table(t)),
                        }
                    })
                    .collect();
                Node {
                    sp: key_sp,
                    kind: NodeKind::List(items),
                }
            }
            Item::Value(v) => self.value(v, key_sp),
            Item::None => Node {
                sp: key_sp,
                kind: NodeKind::Invalid,
            },
        }
    }

    /// `[role.adapter]`: from the table's start to the `]` after its key.
    fn header_span(&self, start: usize, key_sp: Sp) -> Sp {
        let from = (key_sp.end as usize).max(start);
        let end = self
            .text
            .get(from..)
            .and_then(|rest| rest.find(']'))
            .map_or(from, |i| from + i + 1);
        let end = if self.text.get(end..end + 1) == Some("]") {
            end + 1
        } else {
            end
        };
        Sp::new(self.file, start..end)
    }

    fn value(&mut self, v: &toml_edit::Value, fallback: Sp) -> Node {
        use toml_edit::Value as V;
        let sp = self.sp(v.span(), fallback);
        let kind = match v {
            V::String(s) => self.string(s.value(), sp),
            V::Integer(i) => NodeKind::Number(serde_json::Number::from(*i.value())),
            V::Float(f) => match serde_json::Number::from_f64(*f.value()) {
                Some(n) => NodeKind::Number(n),
                None => {
                    self.diags.push(
                        self.files
                            .error(sp, "a number must be finite")
                            .with_hint("nan and inf are not valid values here"),
                    );
                    NodeKind::Invalid
                }
            },
            V::Boolean(b) => NodeKind::Bool(*b.value()),
            V::Datetime(d) => NodeKind::Datetime(d.value().to_string()),
            V::Array(a) => NodeKind::List(a.iter().map(|i| self.value(i, sp)).collect()),
            V::InlineTable(t) => {
                let mut entries = Vec::with_capacity(t.len());
                for (k, item) in t.iter() {
                    let key_sp = t
                        .get_key_value(k)
                        .and_then(|(key, _)| key.span())
                        .map_or(sp, |r| Sp::new(self.file, r));
                    let value = self.value(item, key_sp);
                    entries.push(Entry {
                        key: k.to_owned(),
                        key_sp,
                        value,
                    });
                }
                NodeKind::Table(Table { entries })
            }
        };
        Node { sp, kind }
    }

    /// Parse `${...}` in a string; map positions back to the file.
    fn string(&mut self, content: &str, sp: Sp) -> NodeKind {
        string_node(self.files, self.text, content.to_owned(), sp, self.diags)
    }
}

/// A string value: its template parsed, positions mapped back to the file
/// (to the whole literal when they cannot be mapped).
pub(crate) fn string_node(
    files: &Files,
    text: &str,
    content: String,
    sp: Sp,
    diags: &mut Vec<Diagnostic>,
) -> NodeKind {
    if !content.contains('$') {
        return NodeKind::Str(Template {
            lit: content,
            parts: Vec::new(),
        });
    }
    let parsed = parse_template_ref(&content);
    if matches!(&parsed, Ok(t) if t.parts.is_empty()) {
        return parsed.map_or(NodeKind::Invalid, NodeKind::Str);
    }
    let raw = text.get(sp.start as usize..sp.end as usize).unwrap_or("");
    // Without escapes, content offsets are file offsets shifted by the quote.
    let plain = ["\"", "'"].iter().find_map(|q| {
        let inner = raw.strip_prefix(q)?.strip_suffix(q)?;
        (inner == content && !raw.starts_with("\"\"\"") && !raw.starts_with("'''"))
            .then_some(q.len())
    });
    let offsets = if plain.is_none() {
        content_offsets(raw, &content)
    } else {
        None
    };
    let whole = sp.start as usize..sp.end as usize;
    let map = |pos: &std::ops::Range<usize>| -> std::ops::Range<usize> {
        let base = sp.start as usize;
        match (plain, &offsets) {
            (Some(q), _) => base + q + pos.start..base + q + pos.end,
            (None, Some(o)) => {
                let at = |i: usize| o.get(i).map_or(sp.end as usize, |r| base + r);
                at(pos.start)..at(pos.end)
            }
            (None, None) => whole.clone(),
        }
    };
    match parsed {
        Ok(mut t) => {
            for part in &mut t.parts {
                if let Part::Expr(e) = part {
                    remap(e, &map);
                }
            }
            NodeKind::Str(t)
        }
        Err(e) => {
            let mut d = files.error(sp.at(&map(&e.pos)), e.message);
            if let Some(h) = e.hint {
                d = d.with_hint(h);
            }
            diags.push(d);
            NodeKind::Invalid
        }
    }
}

/// For each byte offset of a string's decoded `content` (and its end), the
/// byte offset in its `raw` TOML literal; `None` when they cannot be matched
/// (multi-line basic strings with line-ending backslashes).
fn content_offsets(raw: &str, content: &str) -> Option<Vec<usize>> {
    let (quote, basic) = if raw.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if raw.starts_with("'''") {
        ("'''", false)
    } else if raw.starts_with('"') {
        ("\"", true)
    } else {
        ("'", false)
    };
    let mut inner = raw.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut base = quote.len();
    if quote.len() == 3 {
        for nl in ["\r\n", "\n"] {
            if let Some(rest) = inner.strip_prefix(nl) {
                inner = rest;
                base += nl.len();
                break;
            }
        }
    }
    let mut decoded = String::with_capacity(inner.len());
    let mut map = Vec::with_capacity(inner.len() + 1);
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let before = decoded.len();
        if basic && c == '\\' {
            let (_, e) = chars.next()?;
            let ch = match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'e' => '\u{1b}',
                '"' => '"',
                '\\' => '\\',
                'u' | 'U' => {
                    let n = if e == 'u' { 4 } else { 8 };
                    let mut hex = String::new();
                    for _ in 0..n {
                        hex.push(chars.next()?.1);
                    }
                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                }
                _ => return None,
            };
            decoded.push(ch);
        } else {
            decoded.push(c);
        }
        map.extend(std::iter::repeat_n(base + i, decoded.len() - before));
    }
    map.push(base + inner.len());
    (decoded == content).then_some(map)
}

fn remap(e: &mut Expr, map: &dyn Fn(&std::ops::Range<usize>) -> std::ops::Range<usize>) {
    e.map_positions(map);
}
