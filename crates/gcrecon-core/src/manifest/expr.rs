//! Templates and expressions: the `${...}` parts of manifest strings.
//!
//! A string is a [`Template`]: literal text and `${EXPR}` parts; `$${` is a
//! literal `${`. Inside `${ }` the language is Terraform's, for a subset:
//! references (`role.x.id`, `role.x["Home"].id`, `data.org.short_name`,
//! `var.x`, `local.x`, `each.key`, `each.value`, a whole block `role.x`),
//! literals (numbers, strings, `true`, `false`, `null`, `[a, b]`,
//! `{ k = v }`), `.field` and `[index]` accesses, the splat `x[*].attr`,
//! operators, the conditional `c ? a : b`, for-expressions and function
//! calls ([`Func`]). Positions are byte offsets into the string's decoded
//! content; the syntax layer maps them to file offsets.

use std::ops::Range;

use crate::address::{Name, Target};
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

/// An expression with its position in the string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Range<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    Null,
    Str(String),
    Number(serde_json::Number),
    Bool(bool),
    Var(String),
    Local(String),
    EachKey,
    EachValue,
    /// A variable of an enclosing for-expression.
    Ident(String),
    /// The element inside a splat (`x[*].a`: the `.a` applies to it).
    SplatItem,
    /// `KIND.NAME[KEY].ATTR`.
    Resource {
        kind: Kind,
        name: Name,
        key: Option<Box<Expr>>,
        attr: String,
        attr_pos: Range<usize>,
    },
    /// `data.KIND.NAME[KEY].ATTR`, or `data.org.ATTR` (empty name).
    Data {
        kind: DataKind,
        name: Name,
        key: Option<Box<Expr>>,
        attr: String,
        attr_pos: Range<usize>,
    },
    /// A block without an attribute: `role.x` (an object, or for a
    /// `for_each` block the map of its instances), `role.x["k"]`,
    /// `data.users.x`, `data.org`.
    Block {
        target: Target,
        name: Name,
        key: Option<Box<Expr>>,
    },
    Index(Box<Expr>, Box<Expr>),
    Field(Box<Expr>, String),
    /// `BASE[*]` and the accessors after it, applied to every element
    /// (`each` is built on [`ExprKind::SplatItem`]).
    Splat {
        base: Box<Expr>,
        each: Box<Expr>,
    },
    List(Vec<Expr>),
    /// `{ k = v, ... }`: keys are expressions (a bare name is a string).
    Object(Vec<(Expr, Expr)>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `cond ? a : b`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Call {
        func: Func,
        args: Vec<Expr>,
    },
    For(Box<ForExpr>),
}

/// `[for K, V in COLL : VALUE if COND]` or `{for K, V in COLL : KEY => VALUE if COND}`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ForExpr {
    pub key_var: Option<String>,
    pub value_var: String,
    pub collection: Expr,
    /// The key expression of a `{for ...}`; `None` for a `[for ...]`.
    pub key: Option<Expr>,
    pub value: Expr,
    pub cond: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }

    /// Binding strength: higher binds tighter (Terraform's order).
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::Ne => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 6,
        }
    }
}

/// The functions of the language, with Terraform's names and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Concat,
    Merge,
    Flatten,
    Distinct,
    Contains,
    Length,
    Keys,
    Values,
    Lookup,
    Element,
    Join,
    Split,
    Format,
    Lower,
    Upper,
    Replace,
    Trimspace,
    Coalesce,
    Toset,
    Tolist,
    Tomap,
    Try,
}

/// Name, function, fewest and most arguments (`None`: any number), signature.
pub(crate) const FUNCS: &[(&str, Func, usize, Option<usize>, &str)] = &[
    ("concat", Func::Concat, 0, None, "concat(list, list, ...)"),
    ("merge", Func::Merge, 0, None, "merge(map, map, ...)"),
    ("flatten", Func::Flatten, 1, Some(1), "flatten(list)"),
    ("distinct", Func::Distinct, 1, Some(1), "distinct(list)"),
    (
        "contains",
        Func::Contains,
        2,
        Some(2),
        "contains(list, value)",
    ),
    (
        "length",
        Func::Length,
        1,
        Some(1),
        "length(list | map | string)",
    ),
    ("keys", Func::Keys, 1, Some(1), "keys(map)"),
    ("values", Func::Values, 1, Some(1), "values(map)"),
    (
        "lookup",
        Func::Lookup,
        2,
        Some(3),
        "lookup(map, key, default)",
    ),
    ("element", Func::Element, 2, Some(2), "element(list, index)"),
    ("join", Func::Join, 2, None, "join(separator, list, ...)"),
    ("split", Func::Split, 2, Some(2), "split(separator, string)"),
    ("format", Func::Format, 1, None, "format(spec, values...)"),
    ("lower", Func::Lower, 1, Some(1), "lower(string)"),
    ("upper", Func::Upper, 1, Some(1), "upper(string)"),
    (
        "replace",
        Func::Replace,
        3,
        Some(3),
        "replace(string, substring, replacement)",
    ),
    (
        "trimspace",
        Func::Trimspace,
        1,
        Some(1),
        "trimspace(string)",
    ),
    (
        "coalesce",
        Func::Coalesce,
        1,
        None,
        "coalesce(value, value, ...)",
    ),
    ("toset", Func::Toset, 1, Some(1), "toset(list)"),
    ("tolist", Func::Tolist, 1, Some(1), "tolist(list)"),
    ("tomap", Func::Tomap, 1, Some(1), "tomap(map)"),
    ("try", Func::Try, 1, None, "try(expression, fallback, ...)"),
];

impl Func {
    pub fn name(self) -> &'static str {
        FUNCS.iter().find(|f| f.1 == self).map_or("?", |f| f.0)
    }

    pub fn signature(self) -> &'static str {
        FUNCS.iter().find(|f| f.1 == self).map_or("?", |f| f.4)
    }
}

impl Expr {
    /// Every direct sub-expression.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Null
            | ExprKind::Str(_)
            | ExprKind::Number(_)
            | ExprKind::Bool(_)
            | ExprKind::Var(_)
            | ExprKind::Local(_)
            | ExprKind::EachKey
            | ExprKind::EachValue
            | ExprKind::Ident(_)
            | ExprKind::SplatItem => Vec::new(),
            ExprKind::Resource { key, .. }
            | ExprKind::Data { key, .. }
            | ExprKind::Block { key, .. } => key.iter().map(|k| &**k).collect(),
            ExprKind::Index(a, b) => vec![a, b],
            ExprKind::Field(a, _) | ExprKind::Unary(_, a) => vec![a],
            ExprKind::Splat { base, each } => vec![base, each],
            ExprKind::List(items) | ExprKind::Call { args: items, .. } => items.iter().collect(),
            ExprKind::Object(entries) => entries.iter().flat_map(|(k, v)| [k, v]).collect(),
            ExprKind::Binary(_, a, b) => vec![a, b],
            ExprKind::Cond(c, a, b) => vec![c, a, b],
            ExprKind::For(f) => {
                let mut v = vec![&f.collection];
                v.extend(f.key.iter());
                v.push(&f.value);
                v.extend(f.cond.iter());
                v
            }
        }
    }

    /// Apply `f` to every position in this expression.
    pub fn map_positions(&mut self, f: &dyn Fn(&Range<usize>) -> Range<usize>) {
        self.pos = f(&self.pos);
        match &mut self.kind {
            ExprKind::Null
            | ExprKind::Str(_)
            | ExprKind::Number(_)
            | ExprKind::Bool(_)
            | ExprKind::Var(_)
            | ExprKind::Local(_)
            | ExprKind::EachKey
            | ExprKind::EachValue
            | ExprKind::Ident(_)
            | ExprKind::SplatItem => {}
            ExprKind::Resource { key, attr_pos, .. } | ExprKind::Data { key, attr_pos, .. } => {
                *attr_pos = f(attr_pos);
                if let Some(k) = key {
                    k.map_positions(f);
                }
            }
            ExprKind::Block { key, .. } => {
                if let Some(k) = key {
                    k.map_positions(f);
                }
            }
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                a.map_positions(f);
                b.map_positions(f);
            }
            ExprKind::Splat { base, each } => {
                base.map_positions(f);
                each.map_positions(f);
            }
            ExprKind::Field(a, _) | ExprKind::Unary(_, a) => a.map_positions(f),
            ExprKind::List(items) | ExprKind::Call { args: items, .. } => {
                for i in items {
                    i.map_positions(f);
                }
            }
            ExprKind::Object(entries) => {
                for (k, v) in entries {
                    k.map_positions(f);
                    v.map_positions(f);
                }
            }
            ExprKind::Cond(c, a, b) => {
                c.map_positions(f);
                a.map_positions(f);
                b.map_positions(f);
            }
            ExprKind::For(fe) => {
                fe.collection.map_positions(f);
                if let Some(k) = &mut fe.key {
                    k.map_positions(f);
                }
                fe.value.map_positions(f);
                if let Some(c) = &mut fe.cond {
                    c.map_positions(f);
                }
            }
        }
    }
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
/// skipping string literals and nested `{ }` inside.
fn find_close(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = from;
    let mut in_str = false;
    let mut depth = 0usize;
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
                b'{' => depth += 1,
                b'}' if depth == 0 => return Some(i),
                b'}' => depth -= 1,
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
        bound: Vec::new(),
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
            format!("unexpected `{}` in expression", &s[p.pos..end]),
            p.pos..end,
        )
        .hint("a reference is ADDRESS.ATTRIBUTE, optionally followed by `[index]` or `.field`; operators, `? :`, `for` and function calls combine them"));
    }
    Ok(e)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    end: usize,
    /// Nesting of sub-expressions, bounded so that no input can exhaust the stack.
    depth: u32,
    /// The variables of the enclosing for-expressions.
    bound: Vec<String>,
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

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        let i = self.pos + ahead;
        if i < self.end {
            self.s.as_bytes().get(i).copied()
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

    /// The keyword `word` (not followed by a name character), consumed.
    fn eat_word(&mut self, word: &str) -> bool {
        let rest = &self.s[self.pos..self.end];
        if rest.starts_with(word)
            && !rest[word.len()..]
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += word.len();
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

    fn here(&self) -> Range<usize> {
        self.pos..(self.pos + 1).min(self.end).max(self.pos)
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), SyntaxError> {
        self.skip_ws();
        if self.eat(b) {
            Ok(())
        } else {
            let found = self.s[self.pos..self.end].chars().next();
            Err(SyntaxError::new(
                match found {
                    Some(c) => format!("expected {what}, found `{c}`"),
                    None => format!("expected {what}, found the end of the expression"),
                },
                self.here(),
            ))
        }
    }

    fn expect_dot_ident(
        &mut self,
        what: &str,
        after: &dyn Fn() -> String,
    ) -> Result<(&'a str, Range<usize>), SyntaxError> {
        if !self.eat(b'.') {
            return Err(SyntaxError::new(
                format!("expected `.{what}` after `{}`", after()),
                self.here(),
            ));
        }
        self.ident().ok_or_else(|| {
            SyntaxError::new(
                format!("expected {what} after `{}.`", after()),
                self.pos..self.pos,
            )
        })
    }

    fn nest(&mut self) -> Result<(), SyntaxError> {
        if self.depth >= MAX_NESTING {
            return Err(
                SyntaxError::new("the expression nests too deeply", self.here())
                    .hint("split it into locals"),
            );
        }
        self.depth += 1;
        Ok(())
    }

    /// A whole expression: a conditional or anything tighter.
    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.nest()?;
        let r = self.conditional();
        self.depth -= 1;
        r
    }

    fn conditional(&mut self) -> Result<Expr, SyntaxError> {
        let cond = self.binary(0)?;
        self.skip_ws();
        if !self.eat(b'?') {
            return Ok(cond);
        }
        let yes = self.expr()?;
        self.expect(b':', "`:` of the conditional `cond ? a : b`")?;
        let no = self.expr()?;
        let pos = cond.pos.start..no.pos.end;
        Ok(Expr {
            kind: ExprKind::Cond(Box::new(cond), Box::new(yes), Box::new(no)),
            pos,
        })
    }

    fn binary_op(&mut self) -> Option<(BinaryOp, usize)> {
        self.skip_ws();
        let (op, len) = match (self.peek()?, self.peek_at(1)) {
            (b'|', Some(b'|')) => (BinaryOp::Or, 2),
            (b'&', Some(b'&')) => (BinaryOp::And, 2),
            (b'=', Some(b'=')) => (BinaryOp::Eq, 2),
            (b'!', Some(b'=')) => (BinaryOp::Ne, 2),
            (b'<', Some(b'=')) => (BinaryOp::Le, 2),
            (b'>', Some(b'=')) => (BinaryOp::Ge, 2),
            (b'<', _) => (BinaryOp::Lt, 1),
            (b'>', _) => (BinaryOp::Gt, 1),
            (b'+', _) => (BinaryOp::Add, 1),
            (b'-', _) => (BinaryOp::Sub, 1),
            (b'*', _) => (BinaryOp::Mul, 1),
            (b'/', _) => (BinaryOp::Div, 1),
            (b'%', _) => (BinaryOp::Rem, 1),
            _ => return None,
        };
        Some((op, len))
    }

    /// Precedence climbing over the binary operators.
    fn binary(&mut self, min: u8) -> Result<Expr, SyntaxError> {
        let mut lhs = self.unary()?;
        while let Some((op, len)) = self.binary_op() {
            if op.precedence() <= min {
                break;
            }
            self.pos += len;
            self.nest()?;
            let rhs = self.binary(op.precedence());
            self.depth -= 1;
            let rhs = rhs?;
            let pos = lhs.pos.start..rhs.pos.end;
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                pos,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        let start = self.pos;
        let op = match self.peek() {
            Some(b'!') => UnaryOp::Not,
            Some(b'-') => UnaryOp::Neg,
            _ => return self.postfix(),
        };
        self.pos += 1;
        self.nest()?;
        let inner = self.unary();
        self.depth -= 1;
        let inner = inner?;
        let pos = start..inner.pos.end;
        // A negative number literal stays a literal.
        if let (UnaryOp::Neg, ExprKind::Number(n)) = (op, &inner.kind) {
            let neg = if let Some(i) = n.as_i64() {
                i.checked_neg().map(serde_json::Number::from)
            } else {
                n.as_f64().and_then(|f| serde_json::Number::from_f64(-f))
            };
            if let Some(n) = neg {
                return Ok(Expr {
                    kind: ExprKind::Number(n),
                    pos,
                });
            }
        }
        Ok(Expr {
            kind: ExprKind::Unary(op, Box::new(inner)),
            pos,
        })
    }

    /// A primary expression and its `.field`, `[index]` and `[*]` accessors.
    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.primary()?;
        loop {
            let start = e.pos.start;
            if self.peek() == Some(b'.') && self.peek_at(1) != Some(b'.') {
                self.pos += 1;
                let (name, _) = self.ident().ok_or_else(|| {
                    SyntaxError::new("expected a field name after `.`", self.pos..self.pos)
                })?;
                e = Expr {
                    kind: ExprKind::Field(Box::new(e), name.to_owned()),
                    pos: start..self.pos,
                };
            } else if self.peek() == Some(b'[') {
                if self.at_splat() {
                    return self.splat(e);
                }
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

    /// At `[*]` (spaces allowed inside).
    fn at_splat(&self) -> bool {
        let rest = &self.s.as_bytes()[self.pos..self.end];
        let mut it = rest
            .iter()
            .skip(1)
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        it.next() == Some(&b'*') && it.next() == Some(&b']')
    }

    /// `[*]` after `base`, then the accessors that apply to each element.
    fn splat(&mut self, base: Expr) -> Result<Expr, SyntaxError> {
        let splat_pos = self.pos;
        let close = self.s[self.pos..self.end]
            .find(']')
            .map_or(self.end, |i| self.pos + i + 1);
        self.pos = close;
        let mut each = Expr {
            kind: ExprKind::SplatItem,
            pos: splat_pos..close,
        };
        loop {
            let start = each.pos.start;
            if self.peek() == Some(b'.') {
                self.pos += 1;
                let (name, _) = self.ident().ok_or_else(|| {
                    SyntaxError::new("expected a field name after `.`", self.pos..self.pos)
                })?;
                each = Expr {
                    kind: ExprKind::Field(Box::new(each), name.to_owned()),
                    pos: start..self.pos,
                };
            } else if self.peek() == Some(b'[') && !self.at_splat() {
                let idx = self.index()?;
                each = Expr {
                    kind: ExprKind::Index(Box::new(each), Box::new(idx)),
                    pos: start..self.pos,
                };
            } else {
                break;
            }
        }
        let pos = base.pos.start..self.pos;
        Ok(Expr {
            kind: ExprKind::Splat {
                base: Box::new(base),
                each: Box::new(each),
            },
            pos,
        })
    }

    fn index(&mut self) -> Result<Expr, SyntaxError> {
        let open = self.pos;
        self.nest()?;
        self.eat(b'[');
        let idx = self.expr();
        self.depth -= 1;
        let idx = idx?;
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
            Some(b'0'..=b'9') => return self.number(),
            Some(b'(') => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect(b')', "`)`")?;
                return Ok(Expr {
                    kind: inner.kind,
                    pos: start..self.pos,
                });
            }
            Some(b'[') => return self.list_or_for(),
            Some(b'{') => return self.object_or_for(),
            _ => {}
        }
        let Some((root, root_pos)) = self.ident() else {
            let shown: String = self.s[self.pos..self.end].chars().take(1).collect();
            return Err(if shown.is_empty() {
                SyntaxError::new("the expression ends too early", self.pos..self.pos)
                    .hint("complete the expression, e.g. `${role.x.id}`")
            } else {
                SyntaxError::new(
                    format!("unexpected `{shown}` in expression"),
                    self.pos..(self.pos + shown.len()).max(self.pos),
                )
                .hint("a reference is ADDRESS.ATTRIBUTE, e.g. `${role.x.id}` or `${var.name}`")
            });
        };
        if self.bound.iter().any(|b| b == root) {
            return Ok(Expr {
                kind: ExprKind::Ident(root.to_owned()),
                pos: root_pos,
            });
        }
        if self.peek() == Some(b'(') {
            return self.call(root, root_pos);
        }
        let kind = match root {
            "true" => ExprKind::Bool(true),
            "false" => ExprKind::Bool(false),
            "null" => ExprKind::Null,
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
                    if self.peek() != Some(b'.') {
                        ExprKind::Block {
                            target: Target::Data(kind),
                            name: Name::default(),
                            key: None,
                        }
                    } else {
                        let (attr, attr_pos) =
                            self.expect_dot_ident("an attribute", &|| format!("data.{kind}"))?;
                        ExprKind::Data {
                            kind,
                            name: Name::default(),
                            key: None,
                            attr: attr.to_owned(),
                            attr_pos,
                        }
                    }
                } else {
                    let (name, _) = self.expect_dot_ident("a name", &|| format!("data.{kind}"))?;
                    let key = self.opt_key()?;
                    if self.peek() != Some(b'.') {
                        ExprKind::Block {
                            target: Target::Data(kind),
                            name: name.into(),
                            key,
                        }
                    } else {
                        let (attr, attr_pos) = self
                            .expect_dot_ident("an attribute", &|| format!("data.{kind}.{name}"))?;
                        ExprKind::Data {
                            kind,
                            name: name.into(),
                            key,
                            attr: attr.to_owned(),
                            attr_pos,
                        }
                    }
                }
            }
            other => match other.parse::<Kind>() {
                Ok(kind) => {
                    let (name, _) = self.expect_dot_ident("a name", &|| other.to_owned())?;
                    let key = self.opt_key()?;
                    if self.peek() != Some(b'.') {
                        ExprKind::Block {
                            target: Target::Resource(kind),
                            name: name.into(),
                            key,
                        }
                    } else {
                        let (attr, attr_pos) =
                            self.expect_dot_ident("an attribute", &|| format!("{other}.{name}"))?;
                        ExprKind::Resource {
                            kind,
                            name: name.into(),
                            key,
                            attr: attr.to_owned(),
                            attr_pos,
                        }
                    }
                }
                Err(_) => {
                    let mut e = SyntaxError::new(format!("unknown reference `{other}`"), root_pos);
                    let mut names: Vec<&str> = ROOTS.to_vec();
                    names.extend(self.bound.iter().map(String::as_str));
                    e.hint = Some(match crate::suggest::closest(other, names.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => "a reference starts with var., local., each., data. or a kind (role., oauth_client., ...); a function call is NAME(...)".to_owned(),
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

    /// `[` and `]` of an instance key right after a block name, but not `[*]`.
    fn opt_key(&mut self) -> Result<Option<Box<Expr>>, SyntaxError> {
        if self.peek() == Some(b'[') && !self.at_splat() {
            Ok(Some(Box::new(self.index()?)))
        } else {
            Ok(None)
        }
    }

    fn call(&mut self, name: &str, name_pos: Range<usize>) -> Result<Expr, SyntaxError> {
        let Some(&(_, func, min, max, sig)) = FUNCS.iter().find(|f| f.0 == name) else {
            let mut e = SyntaxError::new(format!("unknown function `{name}`"), name_pos);
            let names = FUNCS.iter().map(|f| f.0);
            e.hint = Some(match crate::suggest::closest(name, names) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!(
                    "the functions are: {}",
                    FUNCS.iter().map(|f| f.0).collect::<Vec<_>>().join(" ")
                ),
            });
            return Err(e);
        };
        self.pos += 1;
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                break;
            }
            args.push(self.expr()?);
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.expect(b')', "`,` or `)` in the arguments")?;
            break;
        }
        let pos = name_pos.start..self.pos;
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let wanted = match max {
                Some(m) if m == min => format!("{min}"),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            return Err(SyntaxError::new(
                format!(
                    "`{name}` takes {wanted} argument{}, given {}",
                    if wanted == "1" { "" } else { "s" },
                    args.len()
                ),
                pos,
            )
            .hint(format!("call it as {sig}")));
        }
        Ok(Expr {
            kind: ExprKind::Call { func, args },
            pos,
        })
    }

    /// `[a, b]` or `[for ... : ...]`.
    fn list_or_for(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.eat_word("for") {
            return self.for_rest(start, false);
        }
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b']') {
                break;
            }
            items.push(self.expr()?);
            self.skip_ws();
            if self.eat(b',') {
                continue;
            }
            self.expect(b']', "`,` or `]` in the list")?;
            break;
        }
        Ok(Expr {
            kind: ExprKind::List(items),
            pos: start..self.pos,
        })
    }

    /// `{ k = v, ... }` or `{for ... : K => V}`.
    fn object_or_for(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        self.skip_ws();
        if self.eat_word("for") {
            return self.for_rest(start, true);
        }
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b'}') {
                break;
            }
            let key = self.object_key()?;
            self.skip_ws();
            if !(self.eat(b'=') || self.eat(b':')) {
                return Err(SyntaxError::new(
                    "expected `=` after the key in the object",
                    self.here(),
                )
                .hint("write `{ key = value, ... }`"));
            }
            let value = self.expr()?;
            entries.push((key, value));
            let before = self.pos;
            self.skip_ws();
            let newline = self.s[before..self.pos].contains('\n');
            if self.eat(b',') || (newline && self.peek() != Some(b'}')) {
                continue;
            }
            self.expect(b'}', "`,` or `}` in the object")?;
            break;
        }
        Ok(Expr {
            kind: ExprKind::Object(entries),
            pos: start..self.pos,
        })
    }

    /// A bare name is the string it spells; anything else is an expression.
    fn object_key(&mut self) -> Result<Expr, SyntaxError> {
        let save = self.pos;
        if let Some((name, pos)) = self.ident() {
            self.skip_ws();
            if matches!(self.peek(), Some(b'=' | b':')) && self.peek_at(1) != Some(b'=') {
                return Ok(Expr {
                    kind: ExprKind::Str(name.to_owned()),
                    pos,
                });
            }
            self.pos = save;
        }
        self.binary(0)
    }

    /// After `[for` or `{for`: `K, V in COLL : ...`.
    fn for_rest(&mut self, start: usize, object: bool) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        let first = self.ident().ok_or_else(|| {
            SyntaxError::new("expected a variable name after `for`", self.here())
                .hint("write `[for x in LIST : x]`")
        })?;
        self.skip_ws();
        let (key_var, value_var) = if self.eat(b',') {
            self.skip_ws();
            let second = self.ident().ok_or_else(|| {
                SyntaxError::new("expected a second variable name after `,`", self.here())
                    .hint("write `[for k, v in MAP : v]`")
            })?;
            (Some(first.0.to_owned()), second.0.to_owned())
        } else {
            (None, first.0.to_owned())
        };
        self.skip_ws();
        if !self.eat_word("in") {
            return Err(
                SyntaxError::new("expected `in` in the for-expression", self.here())
                    .hint("write `[for x in LIST : x]`"),
            );
        }
        let collection = self.expr()?;
        self.expect(b':', "`:` after the collection of the for-expression")?;
        let bound_before = self.bound.len();
        self.bound.extend(key_var.iter().cloned());
        self.bound.push(value_var.clone());
        let r = self.for_body(start, object, key_var, value_var, collection);
        self.bound.truncate(bound_before);
        r
    }

    fn for_body(
        &mut self,
        start: usize,
        object: bool,
        key_var: Option<String>,
        value_var: String,
        collection: Expr,
    ) -> Result<Expr, SyntaxError> {
        let (key, value) = if object {
            let k = self.binary(0)?;
            self.skip_ws();
            if !(self.eat(b'=') && self.eat(b'>')) {
                return Err(SyntaxError::new(
                    "expected `=>` between the key and the value",
                    self.here(),
                )
                .hint("write `{for k, v in MAP : k => v}`"));
            }
            (Some(k), self.expr()?)
        } else {
            (None, self.expr()?)
        };
        self.skip_ws();
        let cond = if self.eat_word("if") {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect(
            if object { b'}' } else { b']' },
            if object {
                "`}` closing the for-expression"
            } else {
                "`]` closing the for-expression"
            },
        )?;
        Ok(Expr {
            kind: ExprKind::For(Box::new(ForExpr {
                key_var,
                value_var,
                collection,
                key,
                value,
                cond,
            })),
            pos: start..self.pos,
        })
    }

    fn string(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(SyntaxError::new(
                    "unterminated string in expression",
                    start..self.end,
                ));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'$' if self.peek_at(1) == Some(b'{') => {
                    return Err(SyntaxError::new(
                        "a string inside `${ }` cannot hold another `${`",
                        self.pos..self.pos + 2,
                    )
                    .hint("build the text with format(\"%s-%s\", a, b) or join(\"\", [...])"));
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
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.peek() == Some(b'.') && matches!(self.peek_at(1), Some(b'0'..=b'9')) {
            self.pos += 1;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
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
        assert!(matches!(
            one("${role.x}").kind,
            ExprKind::Block { target: Target::Resource(Kind::Role), ref name, key: None } if name == "x"
        ));
        let t = parse_template("https://${local.a}-x/${data.org.short_name}?o=1").unwrap();
        assert_eq!(t.parts.len(), 5);
    }

    #[test]
    fn operators_bind_as_in_terraform() {
        // 1 + 2 * 3 == 7 && !false || x  =>  ((1 + (2*3)) == 7 && !false) || x
        match one("${1 + 2 * 3 == 7 && !false || var.x}").kind {
            ExprKind::Binary(BinaryOp::Or, l, _) => match l.kind {
                ExprKind::Binary(BinaryOp::And, l, r) => {
                    assert!(matches!(r.kind, ExprKind::Unary(UnaryOp::Not, _)));
                    match l.kind {
                        ExprKind::Binary(BinaryOp::Eq, l, _) => match l.kind {
                            ExprKind::Binary(BinaryOp::Add, _, r) => {
                                assert!(matches!(r.kind, ExprKind::Binary(BinaryOp::Mul, ..)));
                            }
                            other => panic!("{other:?}"),
                        },
                        other => panic!("{other:?}"),
                    }
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        // Subtraction is left-associative.
        match one("${10 - 4 - 3}").kind {
            ExprKind::Binary(BinaryOp::Sub, l, _) => {
                assert!(matches!(l.kind, ExprKind::Binary(BinaryOp::Sub, ..)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(one("${-3}").kind, ExprKind::Number(ref n) if n.as_i64() == Some(-3)));
        assert!(matches!(
            one("${var.a ? [1] : []}").kind,
            ExprKind::Cond(..)
        ));
    }

    #[test]
    fn for_splat_objects_and_calls_parse() {
        match one("${ {for k, c in oauth_client.service : k => c.id} }").kind {
            ExprKind::For(f) => {
                assert_eq!(f.key_var.as_deref(), Some("k"));
                assert_eq!(f.value_var, "c");
                assert!(f.key.is_some());
                assert!(
                    matches!(f.value.kind, ExprKind::Field(ref b, _) if matches!(b.kind, ExprKind::Ident(ref n) if n == "c"))
                );
            }
            other => panic!("{other:?}"),
        }
        match one("${[for x in var.l : upper(x) if x != \"\"]}").kind {
            ExprKind::For(f) => {
                assert!(f.key.is_none() && f.cond.is_some());
                assert!(matches!(
                    f.value.kind,
                    ExprKind::Call {
                        func: Func::Upper,
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
        match one("${role.division[*].id}").kind {
            ExprKind::Splat { base, each } => {
                assert!(matches!(base.kind, ExprKind::Block { .. }));
                assert!(
                    matches!(each.kind, ExprKind::Field(ref i, ref f) if f == "id" && matches!(i.kind, ExprKind::SplatItem))
                );
            }
            other => panic!("{other:?}"),
        }
        match one("${ { a = 1, \"b\" = [true, null], (var.k) = 2 } }").kind {
            ExprKind::Object(entries) => {
                assert_eq!(entries.len(), 3);
                assert!(matches!(entries[0].0.kind, ExprKind::Str(ref s) if s == "a"));
                assert!(matches!(entries[2].0.kind, ExprKind::Var(_)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            one("${concat(local.a, var.full ? local.b : [])}").kind,
            ExprKind::Call { func: Func::Concat, ref args } if args.len() == 2
        ));
    }

    #[test]
    fn bad_expressions_fail_with_positions() {
        for bad in [
            "${",
            "${}",
            "${rol.x.id}",
            "${each.item}",
            "${data.divison.x.id}",
            "${var}",
            "${var.x y}",
            "${lenght(var.x)}",
            "${length(var.x, var.y)}",
            "${[for x in var.l x]}",
            "${[for x var.l : x]}",
            "${ {for k, v in var.m : k v} }",
            "${var.a ? 1}",
            "${1 +}",
            "${(1}",
            "${[1, 2}",
            "${x}",
            "${\"a${b}\"}",
            "${ { a 1 } }",
        ] {
            let e = parse_template(bad).unwrap_err();
            assert!(e.pos.end <= bad.len() + 1, "{bad}: {e:?}");
        }
        let e = parse_template("${lenght(var.x)}").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `length`?"));
        let e = parse_template("${length(var.x, var.y)}").unwrap_err();
        assert!(e.message.contains("takes 1 argument, given 2"), "{e:?}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("${{{}1{}}}", "(".repeat(200), ")".repeat(200));
        assert!(parse_template(&deep).is_err());
        let deep = format!("${{{}1}}", "-".repeat(200));
        assert!(parse_template(&deep).is_err());
        let deep = format!("${{{}}}", "[".repeat(200));
        assert!(parse_template(&deep).is_err());
    }
}
