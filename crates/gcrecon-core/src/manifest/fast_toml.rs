//! A fast TOML reader for the shape manifests have, straight into [`Node`]s.
//!
//! `toml_edit` keeps every byte of formatting (decor, raw reprs) so that
//! documents can be edited; reading a large manifest that way costs more
//! than everything else `gcrecon validate` does. This reader handles the
//! common subset — `[a.b.c]` headers, `key = value` with bare, quoted and
//! dotted keys, basic and literal strings, decimal integers and simple
//! floats, booleans, arrays, inline tables, comments — and declines
//! (`None`) anything else: multi-line strings, dates, special numbers,
//! arrays of tables, table re-openings, and every syntax error. The caller
//! then parses with `toml_edit`, so results and messages are always those of
//! `toml_edit`; a test checks that both produce the same tree wherever this
//! reader accepts.

use crate::fxhash::FxHashMap;

use super::diagnostic::Diagnostic;
use super::syntax::{string_node, Entry, Files, Node, NodeKind, Sp, Table};

/// Parse `file`, or `None` to fall back to `toml_edit`.
pub(crate) fn parse(files: &Files, file: u32) -> Option<(Table, Vec<Diagnostic>)> {
    let text = files.text(file);
    let mut p = Reader {
        files,
        file,
        text,
        b: text.as_bytes(),
        pos: 0,
        depth: 0,
        arena: vec![TableBuild::new(TableKind::Header)],
        diags: Vec::new(),
    };
    p.document()?;
    let diags = std::mem::take(&mut p.diags);
    let table = p.finish(0);
    Some((table, diags))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TableKind {
    /// Defined by a `[header]`.
    Header,
    /// Created as a parent of a header (`role` in `[role.x]`).
    Implicit,
    /// Created by a dotted key (`a` in `a.b = 1`).
    Dotted,
}

/// A table being read. Sub-tables are entries holding an empty table
/// placeholder; `children` says which arena table fills each.
struct TableBuild {
    kind: TableKind,
    entries: Vec<Entry>,
    /// (entry position, arena index) of sub-tables.
    children: Vec<(usize, usize)>,
    index: Option<FxHashMap<String, usize>>,
}

impl TableBuild {
    fn new(kind: TableKind) -> Self {
        TableBuild {
            kind,
            entries: Vec::with_capacity(4),
            children: Vec::new(),
            index: None,
        }
    }

    fn find(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(key).copied(),
            None => self.entries.iter().position(|e| e.key == key),
        }
    }

    /// The arena index of the sub-table at entry `i`.
    fn child(&self, i: usize) -> Option<usize> {
        self.children.iter().find(|(e, _)| *e == i).map(|(_, c)| *c)
    }

    fn push(&mut self, e: Entry) -> usize {
        let i = self.entries.len();
        if let Some(ix) = &mut self.index {
            ix.insert(e.key.clone(), i);
        } else if i >= 8 {
            let mut ix: FxHashMap<String, usize> = self
                .entries
                .iter()
                .enumerate()
                .map(|(j, e)| (e.key.clone(), j))
                .collect();
            ix.insert(e.key.clone(), i);
            self.index = Some(ix);
        }
        self.entries.push(e);
        i
    }
}

/// Bytes that end the plain run of a basic string: the closing quote, an
/// escape, and the control characters TOML forbids there (tab is allowed).
const ENDS_PLAIN_STRING: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b != 0x09;
        b += 1;
    }
    t[0x7f] = true;
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Bytes of a bare key: `A-Za-z0-9_-`.
const BARE_KEY: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    t
};

struct Reader<'a> {
    files: &'a Files,
    file: u32,
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    arena: Vec<TableBuild>,
    diags: Vec<Diagnostic>,
    /// Nesting of arrays and inline tables; deep input goes to `toml_edit`,
    /// which limits it.
    depth: u32,
}

type Key = (String, Sp);

impl<'a> Reader<'a> {
    fn sp(&self, start: usize, end: usize) -> Sp {
        Sp::new(self.file, start..end)
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A comment up to (not including) the line end.
    fn comment(&mut self) -> Option<()> {
        if self.peek() == Some(b'#') {
            while let Some(c) = self.peek() {
                match c {
                    b'\n' | b'\r' => break,
                    b'\t' => {}
                    0x00..=0x1f | 0x7f => return None,
                    _ => {}
                }
                self.pos += 1;
            }
        }
        Some(())
    }

    /// The end of a line: optional spaces and comment, then a newline or the end.
    fn line_end(&mut self) -> Option<()> {
        self.skip_ws();
        self.comment()?;
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.pos += 1;
                Some(())
            }
            Some(b'\r') if self.b.get(self.pos + 1) == Some(&b'\n') => {
                self.pos += 2;
                Some(())
            }
            _ => None,
        }
    }

    /// Spaces, comments and newlines (inside arrays).
    fn skip_ws_lines(&mut self) -> Option<()> {
        loop {
            self.skip_ws();
            self.comment()?;
            match self.peek() {
                Some(b'\n') => self.pos += 1,
                Some(b'\r') if self.b.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                _ => return Some(()),
            }
        }
    }

    fn document(&mut self) -> Option<()> {
        if self.text.starts_with('\u{feff}') {
            return None;
        }
        let mut current = 0usize;
        loop {
            self.skip_ws_lines()?;
            match self.peek() {
                None => return Some(()),
                Some(b'[') => {
                    if self.b.get(self.pos + 1) == Some(&b'[') {
                        return None;
                    }
                    current = self.header()?;
                }
                Some(_) => {
                    self.key_value(current)?;
                    self.line_end()?;
                }
            }
        }
    }

    fn header(&mut self) -> Option<usize> {
        let start = self.pos;
        self.pos += 1;
        self.skip_ws();
        let (parents, last) = self.dotted_key()?;
        self.skip_ws();
        if self.peek() != Some(b']') {
            return None;
        }
        self.pos += 1;
        let header_sp = self.sp(start, self.pos);
        self.line_end()?;
        let mut t = 0usize;
        for (k, ksp) in parents {
            t = match self.arena[t].find(&k) {
                None => self.new_table(t, k, ksp, TableKind::Implicit, ksp),
                Some(i) => match self.arena[t].child(i) {
                    Some(c)
                        if matches!(
                            self.arena[c].kind,
                            TableKind::Implicit | TableKind::Header
                        ) =>
                    {
                        c
                    }
                    _ => return None,
                },
            };
        }
        if self.arena[t].find(&last.0).is_some() {
            return None;
        }
        Some(self.new_table(t, last.0, last.1, TableKind::Header, header_sp))
    }

    fn new_table(
        &mut self,
        parent: usize,
        key: String,
        key_sp: Sp,
        kind: TableKind,
        sp: Sp,
    ) -> usize {
        let idx = self.arena.len();
        self.arena.push(TableBuild::new(kind));
        let pos = self.arena[parent].push(Entry {
            key,
            key_sp,
            value: Node {
                sp,
                kind: NodeKind::Table(Table::default()),
            },
        });
        self.arena[parent].children.push((pos, idx));
        idx
    }

    fn key_value(&mut self, table: usize) -> Option<()> {
        let (parents, last) = self.dotted_key()?;
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return None;
        }
        self.pos += 1;
        self.skip_ws();
        let value = self.value()?;
        let mut t = table;
        for (k, ksp) in parents {
            t = match self.arena[t].find(&k) {
                None => self.new_table(t, k, ksp, TableKind::Dotted, ksp),
                Some(i) => match self.arena[t].child(i) {
                    Some(c) if self.arena[c].kind == TableKind::Dotted => c,
                    _ => return None,
                },
            };
        }
        if self.arena[t].find(&last.0).is_some() {
            return None;
        }
        let (key, key_sp) = last;
        self.arena[t].push(Entry { key, key_sp, value });
        Some(())
    }

    /// A possibly dotted key: the parent parts and the last part.
    fn dotted_key(&mut self) -> Option<(Vec<Key>, Key)> {
        let mut parents = Vec::new();
        let mut last = self.simple_key()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.peek() != Some(b'.') {
                self.pos = save;
                return Some((parents, last));
            }
            self.pos += 1;
            self.skip_ws();
            let next = self.simple_key()?;
            parents.push(std::mem::replace(&mut last, next));
        }
    }

    fn simple_key(&mut self) -> Option<Key> {
        let start = self.pos;
        match self.peek()? {
            b'"' => {
                let s = self.basic_string()?;
                (!s.is_empty()).then(|| (s, self.sp(start, self.pos)))
            }
            b'\'' => {
                let s = self.literal_string()?;
                (!s.is_empty()).then(|| (s.to_owned(), self.sp(start, self.pos)))
            }
            _ => {
                let rest = &self.b[start..];
                self.pos += rest
                    .iter()
                    .position(|&c| !BARE_KEY[usize::from(c)])
                    .unwrap_or(rest.len());
                (self.pos > start).then(|| {
                    (
                        self.text[start..self.pos].to_owned(),
                        self.sp(start, self.pos),
                    )
                })
            }
        }
    }

    /// A `"..."` string (the opening quote at `pos`), decoded.
    fn basic_string(&mut self) -> Option<String> {
        if self.b.get(self.pos..self.pos + 3) == Some(b"\"\"\"") {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        // Fast scan: no escapes.
        let rest = &self.b[start..];
        let plain = rest
            .iter()
            .position(|&c| ENDS_PLAIN_STRING[usize::from(c)])
            .unwrap_or(rest.len());
        self.pos = start + plain;
        match rest.get(plain) {
            Some(b'"') => {
                let s = self.text[start..self.pos].to_owned();
                self.pos += 1;
                return Some(s);
            }
            Some(b'\\') => {}
            // A control character, or the end of the input.
            _ => return None,
        }
        let mut out = self.text[start..self.pos].to_owned();
        loop {
            let c = self.peek()?;
            match c {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    let e = *self.b.get(self.pos + 1)?;
                    self.pos += 2;
                    let ch = match e {
                        b'b' => '\u{8}',
                        b't' => '\t',
                        b'n' => '\n',
                        b'f' => '\u{c}',
                        b'r' => '\r',
                        b'"' => '"',
                        b'\\' => '\\',
                        b'u' | b'U' => {
                            let n = if e == b'u' { 4 } else { 8 };
                            let hex = self.text.get(self.pos..self.pos + n)?;
                            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                                return None;
                            }
                            self.pos += n;
                            char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                        }
                        _ => return None,
                    };
                    out.push(ch);
                }
                b'\t' => {
                    out.push('\t');
                    self.pos += 1;
                }
                0x00..=0x1f | 0x7f => return None,
                _ => {
                    let ch = self.text[self.pos..].chars().next()?;
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    /// A `'...'` string (the opening quote at `pos`).
    fn literal_string(&mut self) -> Option<&'a str> {
        let text: &'a str = self.text;
        if self.b.get(self.pos..self.pos + 3) == Some(b"'''") {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'\'' => {
                    let s = &text[start..self.pos];
                    self.pos += 1;
                    return Some(s);
                }
                b'\t' => self.pos += 1,
                0x00..=0x1f | 0x7f => return None,
                _ => self.pos += 1,
            }
        }
        None
    }

    fn value(&mut self) -> Option<Node> {
        if self.depth >= 32 {
            return None;
        }
        self.depth += 1;
        let v = self.value_inner();
        self.depth -= 1;
        v
    }

    fn value_inner(&mut self) -> Option<Node> {
        let start = self.pos;
        let kind = match self.peek()? {
            b'"' => {
                let s = self.basic_string()?;
                return Some(self.string(s, start));
            }
            b'\'' => {
                let s = self.literal_string()?.to_owned();
                return Some(self.string(s, start));
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws_lines()?;
                    if self.peek()? == b']' {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.skip_ws_lines()?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                NodeKind::List(items)
            }
            b'{' => {
                self.pos += 1;
                let mut entries: Vec<Entry> = Vec::new();
                self.skip_ws();
                if self.peek()? == b'}' {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_ws();
                        let (parents, (key, key_sp)) = self.dotted_key()?;
                        if !parents.is_empty() {
                            return None;
                        }
                        self.skip_ws();
                        if self.peek()? != b'=' {
                            return None;
                        }
                        self.pos += 1;
                        self.skip_ws();
                        let value = self.value()?;
                        if entries.iter().any(|e| e.key == key) {
                            return None;
                        }
                        entries.push(Entry { key, key_sp, value });
                        self.skip_ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                NodeKind::Table(Table { entries })
            }
            b't' if self.text[self.pos..].starts_with("true") => {
                self.pos += 4;
                NodeKind::Bool(true)
            }
            b'f' if self.text[self.pos..].starts_with("false") => {
                self.pos += 5;
                NodeKind::Bool(false)
            }
            b'+' | b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        // A value ends at a delimiter.
        if !matches!(
            self.peek(),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}' | b'#')
        ) {
            return None;
        }
        Some(Node {
            sp: self.sp(start, self.pos),
            kind,
        })
    }

    fn string(&mut self, content: String, start: usize) -> Node {
        let sp = self.sp(start, self.pos);
        Node {
            sp,
            kind: string_node(self.files, self.text, content, sp, &mut self.diags),
        }
    }

    /// Decimal integers without `_` and leading zeros, and floats `1.5`.
    fn number(&mut self) -> Option<NodeKind> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        let int_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let int = &self.text[int_start..self.pos];
        if int.is_empty() || (int.len() > 1 && int.starts_with('0')) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let frac_start = self.pos;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == frac_start || matches!(self.peek(), Some(b'e' | b'E' | b'_')) {
                return None;
            }
            let f: f64 = self.text[start..self.pos].parse().ok()?;
            return serde_json::Number::from_f64(f).map(NodeKind::Number);
        }
        if matches!(
            self.peek(),
            Some(b'e' | b'E' | b'_' | b'x' | b'o' | b'b' | b':' | b'-')
        ) {
            return None;
        }
        let i: i64 = self.text[start..self.pos].parse().ok()?;
        Some(NodeKind::Number(i.into()))
    }

    /// Move the arena into nested tables.
    fn finish(&mut self, idx: usize) -> Table {
        let mut entries = std::mem::take(&mut self.arena[idx].entries);
        let children = std::mem::take(&mut self.arena[idx].children);
        for (pos, child) in children {
            let table = self.finish(child);
            if let Some(NodeKind::Table(t)) = entries.get_mut(pos).map(|e| &mut e.value.kind) {
                *t = table;
            }
        }
        Table { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::diagnostic::FileInfo;
    use crate::manifest::syntax::parse_file_with_toml_edit;
    use proptest::prelude::*;

    fn files(text: &str) -> Files {
        Files {
            files: vec![FileInfo::new("t.toml".into(), text.to_owned())],
        }
    }

    fn sorted(mut d: Vec<Diagnostic>) -> Vec<String> {
        d.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        d.iter().map(ToString::to_string).collect()
    }

    /// Wherever the fast reader accepts, `toml_edit` gives the same tree
    /// and the same diagnostics.
    fn agrees(text: &str) -> bool {
        let f = files(text);
        let Some((fast, fast_diags)) = parse(&f, 0) else {
            return false;
        };
        let mut slow_diags = Vec::new();
        let slow = parse_file_with_toml_edit(&f, 0, &mut slow_diags);
        assert_eq!(slow.as_ref(), Some(&fast), "trees differ for:\n{text}");
        assert_eq!(
            sorted(slow_diags),
            sorted(fast_diags),
            "diagnostics differ for:\n{text}"
        );
        true
    }

    #[test]
    fn manifests_take_the_fast_path_and_agree() {
        assert!(agrees(include_str!("../../tests/fixtures/emite.toml")));
        assert!(agrees(&super::super::synthetic::generate(200)));
        assert!(agrees("a = \"tab\there\"\nb = \"\"\nc = \"x\\\\y\\tz\"\n"));
        assert!(agrees(
            "# c\n[gcrecon] # c\nversion = 1\n\n[role.\"a b\"]\nname = 'x\\y'\nq = \"é\\u00e9\\t\\\"${var.x}\\\"\"\nn = -12\nf = 1.5\nl = [\n  1, # c\n  \"a\",\n]\nt = { a = 1, b = { c = [true, false] } }\nx.y.z = 1\nx.y.w = 2\n\r\n[a.b]\n[a.c]\n"
        ));
    }

    #[test]
    fn unusual_toml_falls_back() {
        for text in [
            "a = \"\"\"x\"\"\"\n",
            "a = '''x'''\n",
            "a = 1979-05-27\n",
            "a = 0x10\n",
            "a = 1_000\n",
            "a = 1e3\n",
            "a = inf\n",
            "[[a]]\nb = 1\n",
            "[a.b]\n[a]\n",
            "a = 1\na = 2\n",
            "a = \"x\ny\"\n",
            "a = 1 b = 2\n",
            "a = { b = 1,\n c = 2 }\n",
            "a = 01\n",
            "[a]\nb.c = 1\n[a.b]\n",
            "\u{feff}a = 1\n",
            "a = \"x\u{1}y\"\n",
            "a = \"x\u{7f}\"\n",
            "a = \"x\\q\"\n",
            "a = \"unterminated",
            "a = \"x\\",
        ] {
            assert!(parse(&files(text), 0).is_none(), "{text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn fast_reader_never_disagrees_with_toml_edit(
            lines in proptest::collection::vec(
                prop_oneof![
                    "\\[[a-z\"' .]{1,8}\\]",
                    "[a-z\"'. -]{1,8} ?= ?(\"[a-z${}.\\\\\"u0-9 ]{0,10}\"|'[a-z$ ]{0,6}'|-?[0-9]{1,3}(\\.[0-9])?|true|false|\\[[0-9, \"a\\]\\[]{0,8}\\]|\\{[a-z0-9=, \"{}]{0,12}\\})",
                    "#[ -~]{0,10}",
                    "[ \t]{0,2}",
                    "\\PC{0,6}",
                ],
                0..10,
            )
        ) {
            let text = lines.join("\n");
            check_agreement(&text)?;
        }

        #[test]
        fn structured_documents_agree(
            sections in proptest::collection::vec(
                (
                    "(\\[(role|group|data|a)(\\.(x|y|\"q r\"|'z'|data)){0,2}\\] ?(# c)?)?",
                    proptest::collection::vec(
                        (
                            "(name|a|b|\"k\"|'l'|a\\.b|a \\. c)",
                            prop_oneof![
                                "\"([a-zé ]|\\\\[nt\"\\\\]|\\$\\{(var|role\\.x|each)\\.[a-z]{1,3}\\}|\\$\\$\\{)*\"",
                                "'[a-z${} ]{0,5}'",
                                "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,3})?",
                                "(true|false)",
                                "\\[ ?(\"a\"|1|true|\\[\\])?(, ?\"b\")*,? ?\\]",
                                "\\{ ?(k = 1(, ?m = \"x\")?)? ?\\}",
                            ],
                        ),
                        0..4,
                    ),
                ),
                0..6,
            )
        ) {
            let mut text = String::new();
            for (header, kvs) in sections {
                text.push_str(&header);
                text.push('\n');
                for (k, v) in kvs {
                    text.push_str(&format!("{k} = {v}\n"));
                }
            }
            check_agreement(&text)?;
        }
    }

    fn check_agreement(text: &str) -> Result<(), TestCaseError> {
        {
            let f = files(text);
            if let Some((fast, fast_diags)) = parse(&f, 0) {
                let mut slow_diags = Vec::new();
                let slow = parse_file_with_toml_edit(&f, 0, &mut slow_diags);
                prop_assert_eq!(slow.as_ref(), Some(&fast), "trees differ for {:?}", text);
                prop_assert_eq!(sorted(slow_diags), sorted(fast_diags));
            }
        }
        Ok(())
    }
}
