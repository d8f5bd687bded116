//! Templates and reference expressions: the `${...}` parts of manifest strings.
//!
//! A string is a [`Template`]: literal text and `${EXPR}` parts; `$${` is a
//! literal `${`. An expression is a reference (`role.x.id`,
//! `role.x["Home"].id`, `data.org.short_name`, `var.x`, `local.x`,
//! `each.key`, `each.value`) or a literal, followed by any number of
//! `.field` and `[index]` accesses (`local.region_codes[data.org.region]`).
//! Positions are byte offsets into the string's decoded content; the syntax
//! layer maps them to file offsets.

use std::ops::Range;

use crate::kind::{DataKind, Kind};

/// A parsed manifest string: plain text (`parts` empty, text in `lit`) or
/// literal and `${...}` parts (at least one expression).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Template {
    pub lit: String,
    pub parts: Vec<Part>,
}

/// One part of a [`Template`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Part {
    Lit(String),
    Expr(Expr),
}

impl Template {
    /// The expression when the whole string is exactly one `${...}`.
    pub fn whole_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// The text when the string has no `${...}`.
    pub fn literal(&self) -> Option<String> {
        self.literal_ref().map(str::to_owned)
    }

    /// The text when the string has no `${...}`, borrowed.
    pub fn literal_ref(&self) -> Option<&str> {
        self.parts.is_empty().then_some(self.lit.as_str())
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Lit(_) => None,
        })
    }
}

/// A reference expression with its position in the string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    Str(String),
    Number(serde_json::Number),
    Bool(bool),
    Var(String),
    Local(String),
    EachKey,
    EachValue,
    /// `KIND.NAME[KEY].ATTR`.
    Resource {
        kind: Kind,
        name: String,
        key: Option<Box<Expr>>,
        attr: String,
        attr_pos: Range<usize>,
    },
    /// `data.KIND.NAME[KEY].ATTR`, or `data.org.ATTR` (empty name).
    Data {
        kind: DataKind,
        name: String,
        key: Option<Box<Expr>>,
        attr: String,
        attr_pos: Range<usize>,
    },
    Index(Box<Expr>, Box<Expr>),
    Field(Box<Expr>, String),
}

/// A template or expression syntax error, at a position in the string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub pos: Range<usize>,
    pub hint: Option<String>,
}

impl SyntaxError {
    fn new(message: impl Into<String>, pos: Range<usize>) -> Self {
        SyntaxError {
            message: message.into(),
            pos,
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Parse a manifest string into a template.
#[cfg(test)]
pub(crate) fn parse_template(s: &str) -> Result<Template, SyntaxError> {
    if s.contains('$') {
        parse_template_ref(s)
    } else {
        Ok(Template {
            lit: s.to_owned(),
            parts: Vec::new(),
        })
    }
}

/// Parse a manifest string that contains `$` into a template.
pub(crate) fn parse_template_ref(s: &str) -> Result<Template, SyntaxError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with("$${") {
            lit.push_str("${");
            i += 3;
        } else if s[i..].starts_with("${") {
            let open = i;
            let body_start = i + 2;
            let close = find_close(s, body_start).ok_or_else(|| {
                SyntaxError::new("`${` is never closed", open..s.len())
                    .hint("close the reference with `}`, or write `$${` for a literal `${`")
            })?;
            let expr = parse_expr(s, body_start, close)?;
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(Part::Expr(expr));
            i = close + 1;
        } else {
            // Copy up to the next `$` in one go.
            let step = utf8_len(bytes[i]);
            let next = s[i + step..].find('$').map_or(s.len(), |j| i + step + j);
            lit.push_str(&s[i..next]);
            i = next;
        }
    }
    if parts.is_empty() {
        return Ok(Template { lit, parts });
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(Template {
        lit: String::new(),
        parts,
    })
}

fn utf8_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// The index of the `}` that closes a `${` whose body starts at `from`,
/// skipping string literals inside.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = from;
    let mut in_str = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            match b {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'}' => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parse one expression from `s[start..end]`, as a whole.
fn parse_expr(s: &str, start: usize, end: usize) -> Result<Expr, SyntaxError> {
    let mut p = Parser {
        s,
        pos: start,
        end,
        depth: 0,
    };
    p.skip_ws();
    if p.pos >= end {
        return Err(
            SyntaxError::new("empty reference `${}`", start.saturating_sub(2)..end + 1)
                .hint("write a reference such as `${role.x.id}`, or `$${` for a literal `${`"),
        );
    }
    let e = p.expr()?;
    p.skip_ws();
    if p.pos < end {
        return Err(SyntaxError::new(
            format!("unexpected `{}` in reference", &s[p.pos..end]),
            p.pos..end,
        )
        .hint("a reference is ADDRESS.ATTRIBUTE, optionally followed by `[index]` or `.field`"));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    end: usize,
    /// Nesting of `[...]`, bounded so that no input can exhaust the stack.
    depth: u32,
}

const MAX_NESTING: u32 = 32;

const ROOTS: &[&str] = &[
    "var",
    "local",
    "each",
    "data",
    "division",
    "role",
    "group",
    "role_grant",
    "oauth_client",
    "integration",
    "identity_provider",
];

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            self.s.as_bytes().get(self.pos).copied()
        } else {
            None
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<(&'a str, Range<usize>)> {
        let s: &'a str = self.s;
        let start = self.pos;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_alphanumeric() || b == b'_';
            if !ok {
                break;
            }
            if self.pos == start && b.is_ascii_digit() {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| (&s[start..self.pos], start..self.pos))
    }

    fn expect_dot_ident(
        &mut self,
        what: &str,
        after: &dyn Fn() -> String,
    ) -> Result<(&'a str, Range<usize>), SyntaxError> {
        if !self.eat(b'.') {
            return Err(SyntaxError::new(
                format!("expected `.{what}` after `{}`", after()),
                self.pos..(self.pos + 1).min(self.end).max(self.pos),
            ));
        }
        self.ident().ok_or_else(|| {
            SyntaxError::new(
                format!("expected {what} after `{}.`", after()),
                self.pos..self.pos,
            )
        })
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.primary()?;
        loop {
            self.skip_ws();
            let start = e.pos.start;
            if self.eat(b'.') {
                let (name, _) = self.ident().ok_or_else(|| {
                    SyntaxError::new("expected a field name after `.`", self.pos..self.pos)
                })?;
                e = Expr {
                    kind: ExprKind::Field(Box::new(e), name.to_owned()),
                    pos: start..self.pos,
                };
            } else if self.peek() == Some(b'[') {
                let idx = self.index()?;
                e = Expr {
                    kind: ExprKind::Index(Box::new(e), Box::new(idx)),
                    pos: start..self.pos,
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn index(&mut self) -> Result<Expr, SyntaxError> {
        let open = self.pos;
        if self.depth >= MAX_NESTING {
            return Err(SyntaxError::new(
                "the reference nests `[...]` too deeply",
                open..open + 1,
            ));
        }
        self.depth += 1;
        let r = self.index_inner(open);
        self.depth -= 1;
        r
    }

    fn index_inner(&mut self, open: usize) -> Result<Expr, SyntaxError> {
        self.eat(b'[');
        self.skip_ws();
        if self.peek() == Some(b'*') {
            return Err(SyntaxError::new("`[*]` (all instances) is not supported in references", open..self.pos + 2)
                .hint("reference one instance, e.g. `role.x[each.value].id` inside a block with the same for_each"));
        }
        let idx = self.expr()?;
        self.skip_ws();
        if !self.eat(b']') {
            return Err(SyntaxError::new("expected `]`", open..self.pos));
        }
        Ok(idx)
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => return self.string(),
            Some(b'0'..=b'9' | b'-') => return self.number(),
            _ => {}
        }
        let Some((root, root_pos)) = self.ident() else {
            let shown: String = self.s[self.pos..self.end].chars().take(1).collect();
            return Err(SyntaxError::new(
                format!("unexpected `{shown}` in reference"),
                self.pos..(self.pos + shown.len()).max(self.pos),
            )
            .hint("a reference is ADDRESS.ATTRIBUTE, e.g. `${role.x.id}` or `${var.name}`"));
        };
        let kind = match root {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            "var" => ExprKind::Var(
                self.expect_dot_ident("a variable name", &|| "var".into())?
                    .0
                    .to_owned(),
            ),
            "local" => ExprKind::Local(
                self.expect_dot_ident("a local name", &|| "local".into())?
                    .0
                    .to_owned(),
            ),
            "each" => {
                let (field, pos) = self.expect_dot_ident("`key` or `value`", &|| "each".into())?;
                match field {
                    "key" => ExprKind::EachKey,
                    "value" => ExprKind::EachValue,
                    _ => {
                        return Err(
                            SyntaxError::new(format!("`each` has no field `{field}`"), pos)
                                .hint("use `each.key` or `each.value`"),
                        )
                    }
                }
            }
            "data" => {
                let (kind_name, kind_pos) =
                    self.expect_dot_ident("a data source kind", &|| "data".into())?;
                let kind: DataKind = kind_name.parse().map_err(|_| {
                    let names: Vec<&str> = DataKind::ALL.iter().map(|k| k.as_str()).collect();
                    let mut e = SyntaxError::new(
                        format!("unknown data source kind `data.{kind_name}`"),
                        kind_pos,
                    );
                    e.hint = Some(
                        match crate::suggest::closest(kind_name, names.iter().copied()) {
                            Some(c) => format!("did you mean `data.{c}`?"),
                            None => format!("data source kinds: {}", names.join(", ")),
                        },
                    );
                    e
                })?;
                if kind.is_implicit() {
                    let (attr, attr_pos) =
                        self.expect_dot_ident("an attribute", &|| format!("data.{kind}"))?;
                    ExprKind::Data {
                        kind,
                        name: String::new(),
                        key: None,
                        attr: attr.to_owned(),
                        attr_pos,
                    }
                } else {
                    let (name, _) = self.expect_dot_ident("a name", &|| format!("data.{kind}"))?;
                    let key = self.opt_key()?;
                    let (attr, attr_pos) =
                        self.expect_dot_ident("an attribute", &|| format!("data.{kind}.{name}"))?;
                    ExprKind::Data {
                        kind,
                        name: name.to_owned(),
                        key,
                        attr: attr.to_owned(),
                        attr_pos,
                    }
                }
            }
            other => match other.parse::<Kind>() {
                Ok(kind) => {
                    let (name, _) = self.expect_dot_ident("a name", &|| other.to_owned())?;
                    let key = self.opt_key()?;
                    if self.peek() != Some(b'.') {
                        return Err(SyntaxError::new(
                            format!("a reference to `{other}.{name}` must name an attribute"),
                            start..self.pos,
                        )
                        .hint(format!("for example `${{{other}.{name}.id}}`")));
                    }
                    let (attr, attr_pos) =
                        self.expect_dot_ident("an attribute", &|| format!("{other}.{name}"))?;
                    ExprKind::Resource {
                        kind,
                        name: name.to_owned(),
                        key,
                        attr: attr.to_owned(),
                        attr_pos,
                    }
                }
                Err(_) => {
                    let mut e = SyntaxError::new(format!("unknown reference `{other}`"), root_pos);
                    e.hint = Some(match crate::suggest::closest(other, ROOTS.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => "a reference starts with var., local., each., data. or a kind (role., oauth_client., ...)".to_owned(),
                    });
                    return Err(e);
                }
            },
        };
        Ok(Expr {
            kind,
            pos: start..self.pos,
        })
    }

    fn opt_key(&mut self) -> Result<Option<Box<Expr>>, SyntaxError> {
        if self.peek() == Some(b'[') {
            Ok(Some(Box::new(self.index()?)))
        } else {
            Ok(None)
        }
    }

    fn string(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(SyntaxError::new(
                    "unterminated string in reference",
                    start..self.end,
                ));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'n') => out.push('\n'),
                        Some(b't') => out.push('\t'),
                        _ => {
                            return Err(SyntaxError::new(
                                "unknown escape in string",
                                self.pos.saturating_sub(1)..self.pos + 1,
                            )
                            .hint("use \\\" or \\\\"))
                        }
                    }
                    self.pos += 1;
                }
                _ => {
                    let len = utf8_len(b);
                    out.push_str(&self.s[self.pos..self.pos + len]);
                    self.pos += len;
                }
            }
        }
        Ok(Expr {
            kind: ExprKind::Str(out),
            pos: start..self.pos,
        })
    }

    fn number(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        self.eat(b'-');
        while matches!(self.peek(), Some(b'0'..=b'9' | b'.')) {
            self.pos += 1;
        }
        let text = &self.s[start..self.pos];
        let number = if let Ok(i) = text.parse::<i64>() {
            serde_json::Number::from(i)
        } else {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .ok_or_else(|| {
                    SyntaxError::new(format!("`{text}` is not a number"), start..self.pos)
                })?
        };
        Ok(Expr {
            kind: ExprKind::Number(number),
            pos: start..self.pos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Expr {
        parse_template(s).unwrap().whole_expr().cloned().unwrap()
    }

    #[test]
    fn literal_strings_and_escapes() {
        assert_eq!(
            parse_template("plain").unwrap().literal().as_deref(),
            Some("plain")
        );
        assert_eq!(
            parse_template("a $${x} b").unwrap().literal().as_deref(),
            Some("a ${x} b")
        );
        assert_eq!(
            parse_template("cost $5").unwrap().literal().as_deref(),
            Some("cost $5")
        );
        assert_eq!(parse_template("").unwrap().literal().as_deref(), Some(""));
    }

    #[test]
    fn references_parse() {
        assert!(matches!(one("${var.x}").kind, ExprKind::Var(ref n) if n == "x"));
        assert!(matches!(one("${each.value}").kind, ExprKind::EachValue));
        match one("${role.x[\"Home\"].id}").kind {
            ExprKind::Resource {
                kind,
                name,
                key,
                attr,
                ..
            } => {
                assert_eq!(
                    (kind, name.as_str(), attr.as_str()),
                    (Kind::Role, "x", "id")
                );
                assert!(matches!(key.unwrap().kind, ExprKind::Str(ref s) if s == "Home"));
            }
            other => panic!("{other:?}"),
        }
        match one("${data.org.short_name}").kind {
            ExprKind::Data {
                kind, name, attr, ..
            } => {
                assert_eq!(
                    (kind, name.as_str(), attr.as_str()),
                    (DataKind::Org, "", "short_name")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            one("${local.codes[data.org.region]}").kind,
            ExprKind::Index(..)
        ));
        assert!(matches!(
            one("${ each.value.name }").kind,
            ExprKind::Field(..)
        ));
        let t = parse_template("https://${local.a}-x/${data.org.short_name}?o=1").unwrap();
        assert_eq!(t.parts.len(), 5);
    }

    #[test]
    fn bad_references_fail_with_positions() {
        for bad in [
            "${",
            "${}",
            "${role.x}",
            "${rol.x.id}",
            "${each.item}",
            "${data.divison.x.id}",
            "${var}",
            "${role.x[*].id}",
            "${var.x y}",
        ] {
            let e = parse_template(bad).unwrap_err();
            assert!(e.pos.end <= bad.len() + 1, "{bad}: {e:?}");
        }
    }
}
