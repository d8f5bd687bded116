//! The functions and operators of the expression language, over [`Value`]s,
//! with Terraform's meaning.
//!
//! Each takes evaluated arguments and returns a value or a [`FuncError`]
//! that names the argument at fault; the evaluator turns it into a
//! diagnostic at that argument's place. Unknown values ("known after
//! apply") flow through: a result that depends on an unknown part is
//! [`Value::Unknown`]. `try` is not here: it needs its arguments
//! unevaluated.

use std::collections::BTreeMap;

use crate::value::Value;
use crate::vecmap::VecMap;

use super::expr::{BinaryOp, Func, UnaryOp};

/// What went wrong in a call, and which argument (0-based) it was about.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FuncError {
    pub arg: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl FuncError {
    fn at(arg: usize, message: impl Into<String>) -> Self {
        FuncError {
            arg: Some(arg),
            message: message.into(),
            hint: None,
        }
    }

    fn whole(message: impl Into<String>) -> Self {
        FuncError {
            arg: None,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

type R = Result<Value, FuncError>;

fn expect_list(f: Func, i: usize, v: &Value) -> Result<&[Value], FuncError> {
    v.as_list().ok_or_else(|| {
        FuncError::at(
            i,
            format!(
                "argument {} of `{}` must be a list, found {}",
                i + 1,
                f.name(),
                v.type_name()
            ),
        )
        .hint(format!("call it as {}", f.signature()))
    })
}

fn expect_map(f: Func, i: usize, v: &Value) -> Result<&VecMap<String, Value>, FuncError> {
    v.as_map().ok_or_else(|| {
        FuncError::at(
            i,
            format!(
                "argument {} of `{}` must be a map, found {}",
                i + 1,
                f.name(),
                v.type_name()
            ),
        )
        .hint(format!("call it as {}", f.signature()))
    })
}

/// A string, or a number or bool converted to one as Terraform does.
pub(crate) fn to_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn expect_text(f: Func, i: usize, v: &Value) -> Result<String, FuncError> {
    to_text(v).ok_or_else(|| {
        FuncError::at(
            i,
            format!(
                "argument {} of `{}` must be a string, found {}",
                i + 1,
                f.name(),
                v.type_name()
            ),
        )
        .hint(format!("call it as {}", f.signature()))
    })
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Integral and exact in an i64: keep it an integer.
        #[allow(clippy::cast_possible_truncation)]
        return Value::Number((n as i64).into());
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Call a function (any but `try`) on evaluated arguments.
pub(crate) fn call(f: Func, args: &[Value]) -> R {
    // A function of an unknown argument is unknown, except `coalesce`,
    // whose earlier known arguments may decide.
    if f != Func::Coalesce && args.iter().any(|a| matches!(a, Value::Unknown)) {
        return Ok(Value::Unknown);
    }
    match f {
        Func::Concat | Func::Flatten | Func::Distinct | Func::Contains | Func::Element => {
            lists(f, args)
        }
        Func::Merge | Func::Length | Func::Keys | Func::Values | Func::Lookup => maps(f, args),
        Func::Join
        | Func::Split
        | Func::Format
        | Func::Lower
        | Func::Upper
        | Func::Trimspace
        | Func::Replace => strings(f, args),
        Func::Coalesce | Func::Toset | Func::Tolist | Func::Tomap | Func::Try => {
            conversions(f, args)
        }
    }
}

/// The functions of lists: `concat`, `flatten`, `distinct`, `contains`,
/// `element`.
fn lists(f: Func, args: &[Value]) -> R {
    match f {
        Func::Concat => {
            let mut out = Vec::new();
            for (i, a) in args.iter().enumerate() {
                out.extend_from_slice(expect_list(f, i, a)?);
            }
            Ok(Value::List(out))
        }
        Func::Flatten => {
            fn flat(items: &[Value], out: &mut Vec<Value>) -> bool {
                for i in items {
                    match i {
                        Value::List(inner) => {
                            if !flat(inner, out) {
                                return false;
                            }
                        }
                        Value::Unknown => return false,
                        other => out.push(other.clone()),
                    }
                }
                true
            }
            let mut out = Vec::new();
            if !flat(expect_list(f, 0, &args[0])?, &mut out) {
                return Ok(Value::Unknown);
            }
            Ok(Value::List(out))
        }
        Func::Distinct => {
            let items = expect_list(f, 0, &args[0])?;
            if items.iter().any(|i| !i.is_known()) {
                return Ok(Value::Unknown);
            }
            let mut out: Vec<Value> = Vec::new();
            for i in items {
                if !out.contains(i) {
                    out.push(i.clone());
                }
            }
            Ok(Value::List(out))
        }
        Func::Contains => {
            let items = expect_list(f, 0, &args[0])?;
            if !args[1].is_known() {
                return Ok(Value::Unknown);
            }
            if items.contains(&args[1]) {
                return Ok(Value::Bool(true));
            }
            if items.iter().any(|i| !i.is_known()) {
                return Ok(Value::Unknown);
            }
            Ok(Value::Bool(false))
        }
        Func::Element => {
            let items = expect_list(f, 0, &args[0])?;
            let idx = match &args[1] {
                Value::Number(n) => n.as_i64().ok_or_else(|| {
                    FuncError::at(
                        1,
                        format!("the index of `element` must be a whole number, found {n}"),
                    )
                })?,
                other => {
                    return Err(FuncError::at(
                        1,
                        format!(
                            "the index of `element` must be a number, found {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            if items.is_empty() {
                return Err(FuncError::at(0, "`element` cannot use an empty list").hint(
                    "check the list's length first: length(list) > 0 ? element(list, i) : ...",
                ));
            }
            if idx < 0 {
                return Err(FuncError::at(
                    1,
                    "the index of `element` must not be negative",
                ));
            }
            let i = usize::try_from(idx).unwrap_or(usize::MAX) % items.len();
            Ok(items[i].clone())
        }
        _ => unreachable!("`{}` is not one of the lists", f.name()),
    }
}

/// The functions of maps, and `length` (of a list, map or string).
fn maps(f: Func, args: &[Value]) -> R {
    match f {
        Func::Merge => {
            let mut out = BTreeMap::new();
            for (i, a) in args.iter().enumerate() {
                if matches!(a, Value::Null) {
                    continue;
                }
                for (k, v) in expect_map(f, i, a)? {
                    out.insert(k.clone(), v.clone());
                }
            }
            Ok(Value::Map(out.into()))
        }
        Func::Length => match &args[0] {
            Value::List(l) => Ok(Value::from(l.len() as i64)),
            Value::Map(m) => Ok(Value::from(m.len() as i64)),
            Value::String(s) => Ok(Value::from(characters(s) as i64)),
            other => Err(FuncError::at(
                0,
                format!(
                    "`length` takes a list, map or string, found {}",
                    other.type_name()
                ),
            )
            .hint("call it as length(list | map | string)")),
        },
        Func::Keys => Ok(Value::strings(expect_map(f, 0, &args[0])?.keys().cloned())),
        Func::Values => Ok(Value::List(
            expect_map(f, 0, &args[0])?.values().cloned().collect(),
        )),
        Func::Lookup => {
            let m = expect_map(f, 0, &args[0])?;
            let k = expect_text(f, 1, &args[1])?;
            match (m.get(&k), args.get(2)) {
                (Some(v), _) => Ok(v.clone()),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(FuncError::at(
                    1,
                    format!("`lookup` found no key \"{k}\" and was given no default"),
                )
                .hint("give a default as the third argument: lookup(map, key, default)")),
            }
        }
        _ => unreachable!("`{}` is not one of the maps", f.name()),
    }
}

/// The functions of strings.
fn strings(f: Func, args: &[Value]) -> R {
    match f {
        Func::Join => {
            let sep = expect_text(f, 0, &args[0])?;
            let mut parts = Vec::new();
            for (i, a) in args.iter().enumerate().skip(1) {
                for item in expect_list(f, i, a)? {
                    match item {
                        Value::Unknown => return Ok(Value::Unknown),
                        v => parts.push(to_text(v).ok_or_else(|| {
                            FuncError::at(
                                i,
                                format!(
                                    "`join` takes a list of strings, but it holds a {}",
                                    v.type_name()
                                ),
                            )
                        })?),
                    }
                }
            }
            Ok(Value::String(parts.join(&sep)))
        }
        Func::Split => {
            let sep = expect_text(f, 0, &args[0])?;
            let s = expect_text(f, 1, &args[1])?;
            if sep.is_empty() {
                return Ok(Value::strings(s.chars().map(String::from)));
            }
            Ok(Value::strings(s.split(sep.as_str())))
        }
        Func::Format => format(args),
        Func::Lower => Ok(Value::String(expect_text(f, 0, &args[0])?.to_lowercase())),
        Func::Upper => Ok(Value::String(expect_text(f, 0, &args[0])?.to_uppercase())),
        Func::Trimspace => Ok(Value::String(
            expect_text(f, 0, &args[0])?.trim().to_owned(),
        )),
        Func::Replace => {
            let s = expect_text(f, 0, &args[0])?;
            let from = expect_text(f, 1, &args[1])?;
            let to = expect_text(f, 2, &args[2])?;
            if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
                return Err(FuncError::at(
                    1,
                    "`replace` with a regular expression (`/.../`) is not supported",
                )
                .hint("replace a plain substring, or several with nested replace(...) calls"));
            }
            if from.is_empty() {
                return Err(FuncError::at(
                    1,
                    "`replace` cannot replace an empty substring",
                ));
            }
            Ok(Value::String(s.replace(&from, &to)))
        }
        _ => unreachable!("`{}` is not one of the strings", f.name()),
    }
}

/// `coalesce` and the type conversions.
fn conversions(f: Func, args: &[Value]) -> R {
    match f {
        Func::Coalesce => {
            for a in args {
                match a {
                    Value::Unknown => return Ok(Value::Unknown),
                    Value::Null => {}
                    Value::String(s) if s.is_empty() => {}
                    v => return Ok(v.clone()),
                }
            }
            Err(FuncError::whole(
                "`coalesce` found no argument that is neither null nor an empty string",
            )
            .hint("add a final fallback value"))
        }
        Func::Toset => {
            let items = expect_list(f, 0, &args[0])?;
            if items.iter().any(|i| !i.is_known()) {
                return Ok(Value::Unknown);
            }
            to_set(items).map_err(|m| FuncError::at(0, m))
        }
        Func::Tolist => match &args[0] {
            Value::List(_) => Ok(args[0].clone()),
            other => Err(FuncError::at(
                0,
                format!("`tolist` takes a list or set, found {}", other.type_name()),
            )),
        },
        Func::Tomap => match &args[0] {
            Value::Map(_) => Ok(args[0].clone()),
            other => Err(FuncError::at(
                0,
                format!("`tomap` takes a map or object, found {}", other.type_name()),
            )),
        },
        Func::Try => Err(FuncError::whole("`try` is evaluated by the evaluator")),
        _ => unreachable!("`{}` is not one of the conversions", f.name()),
    }
}

/// The characters of a string as Terraform counts them (grapheme clusters),
/// for the common cases: a combining mark, a variation selector or a
/// zero-width-joined character belongs to the character before it.
fn characters(s: &str) -> usize {
    let mut n = 0;
    let mut joined = false;
    for c in s.chars() {
        let extends = matches!(c, '\u{300}'..='\u{36f}' | '\u{fe00}'..='\u{fe0f}' | '\u{1f3fb}'..='\u{1f3ff}' | '\u{200d}');
        if !extends && !joined {
            n += 1;
        }
        joined = c == '\u{200d}';
    }
    n
}

/// Terraform's sets of primitives: one type, no duplicates, in order
/// (strings lexically, numbers by value, `false` before `true`).
fn to_set(items: &[Value]) -> Result<Value, String> {
    let all_numbers = items.iter().all(|i| matches!(i, Value::Number(_)));
    let all_bools = items.iter().all(|i| matches!(i, Value::Bool(_)));
    if all_numbers && !items.is_empty() {
        let mut ns: Vec<(f64, Value)> = items
            .iter()
            .map(|i| (i.as_f64().unwrap_or(0.0), i.clone()))
            .collect();
        ns.sort_by(|a, b| a.0.total_cmp(&b.0));
        ns.dedup_by(|a, b| a.0 == b.0);
        return Ok(Value::List(ns.into_iter().map(|(_, v)| v).collect()));
    }
    if all_bools && !items.is_empty() {
        let mut bs: Vec<bool> = items.iter().filter_map(Value::as_bool).collect();
        bs.sort_unstable();
        bs.dedup();
        return Ok(Value::List(bs.into_iter().map(Value::Bool).collect()));
    }
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        match to_text(i) {
            Some(s) => out.push(s),
            None => {
                return Err(format!(
                    "`toset` takes a list of strings, numbers or bools, but it holds a {}",
                    i.type_name()
                ))
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(Value::strings(out))
}

/// `format(spec, values...)`: the verbs `%s`, `%d`, `%f` (with an optional
/// precision, `%.2f`), `%t`, `%v`, `%q` and `%%`.
fn format(args: &[Value]) -> R {
    let f = Func::Format;
    let spec = expect_text(f, 0, &args[0])?;
    let mut out = String::new();
    let mut next = 1;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            precision = digits.parse::<usize>().ok();
        }
        let Some(verb) = chars.next() else {
            return Err(FuncError::at(0, "the format ends with a lone `%`")
                .hint("write `%%` for a percent sign"));
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = args.get(next) else {
            return Err(FuncError::at(
                0,
                format!(
                    "the format has more verbs than the {} value(s) given",
                    args.len() - 1
                ),
            ));
        };
        let i = next;
        next += 1;
        let bad = |what: &str| {
            FuncError::at(
                i,
                format!(
                    "`%{verb}` needs {what}, but argument {} is a {}",
                    i + 1,
                    v.type_name()
                ),
            )
        };
        match verb {
            's' => out.push_str(&to_text(v).ok_or_else(|| bad("a string"))?),
            'd' => match v {
                Value::Number(n) if n.as_i64().is_some() => out.push_str(&n.to_string()),
                Value::String(s) if s.parse::<i64>().is_ok() => out.push_str(s),
                _ => return Err(bad("a whole number")),
            },
            'f' => {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.parse::<f64>().ok(),
                    _ => None,
                }
                .ok_or_else(|| bad("a number"))?;
                out.push_str(&format!("{n:.*}", precision.unwrap_or(6)));
            }
            't' => out.push_str(&v.as_bool().ok_or_else(|| bad("a bool"))?.to_string()),
            'v' => match to_text(v) {
                Some(s) => out.push_str(&s),
                None => out.push_str(&v.to_json().map(|j| j.to_string()).unwrap_or_default()),
            },
            'q' => out.push_str(
                &serde_json::Value::String(to_text(v).ok_or_else(|| bad("a string"))?).to_string(),
            ),
            other => {
                return Err(FuncError::at(0, format!("`%{other}` is not a format verb"))
                    .hint("use %s, %d, %f, %.Nf, %t, %v, %q or %%"))
            }
        }
    }
    if next < args.len() {
        return Err(FuncError::at(
            next,
            format!(
                "`format` was given {} value(s) but its format uses {}",
                args.len() - 1,
                next - 1
            ),
        ));
    }
    Ok(Value::String(out))
}

/// `!x`, `-x`.
pub(crate) fn unary(op: UnaryOp, v: &Value) -> Result<Value, String> {
    match (op, v) {
        (_, Value::Unknown) => Ok(Value::Unknown),
        (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnaryOp::Neg, Value::Number(n)) => Ok(match n.as_i64().and_then(i64::checked_neg) {
            Some(i) => Value::from(i),
            None => number(-n.as_f64().unwrap_or(0.0)),
        }),
        (UnaryOp::Not, other) => Err(format!("`!` needs a bool, found {}", other.type_name())),
        (UnaryOp::Neg, other) => Err(format!("`-` needs a number, found {}", other.type_name())),
    }
}

/// `a OP b` (both sides evaluated; `&&` and `||` decide on one known side).
pub(crate) fn binary(op: BinaryOp, a: &Value, b: &Value) -> Result<Value, String> {
    let sym = op.symbol();
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let decide = op == BinaryOp::Or;
            for side in [a, b] {
                match side {
                    Value::Bool(x) if *x == decide => return Ok(Value::Bool(decide)),
                    Value::Bool(_) | Value::Unknown => {}
                    other => {
                        return Err(format!("`{sym}` needs bools, found {}", other.type_name()))
                    }
                }
            }
            if matches!(a, Value::Unknown) || matches!(b, Value::Unknown) {
                return Ok(Value::Unknown);
            }
            Ok(Value::Bool(!decide))
        }
        BinaryOp::Eq | BinaryOp::Ne => {
            if !a.is_known() || !b.is_known() {
                return Ok(Value::Unknown);
            }
            let eq = equal(a, b);
            Ok(Value::Bool(if op == BinaryOp::Eq { eq } else { !eq }))
        }
        _ => {
            if matches!(a, Value::Unknown) || matches!(b, Value::Unknown) {
                return Ok(Value::Unknown);
            }
            let (Some(x), Some(y)) = (a.as_number(), b.as_number()) else {
                let bad = if a.as_number().is_none() { a } else { b };
                return Err(format!("`{sym}` needs numbers, found {}", bad.type_name()));
            };
            arithmetic(op, x, y)
        }
    }
}

/// Terraform compares numbers by value (`1 == 1.0`) and other values
/// structurally; values of different types are never equal.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && equal(va, vb))
        }
        _ => a == b,
    }
}

fn arithmetic(
    op: BinaryOp,
    x: &serde_json::Number,
    y: &serde_json::Number,
) -> Result<Value, String> {
    let ints = x.as_i64().zip(y.as_i64());
    let (fx, fy) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
    Ok(match op {
        BinaryOp::Add => match ints.and_then(|(a, b)| a.checked_add(b)) {
            Some(i) => Value::from(i),
            None => number(fx + fy),
        },
        BinaryOp::Sub => match ints.and_then(|(a, b)| a.checked_sub(b)) {
            Some(i) => Value::from(i),
            None => number(fx - fy),
        },
        BinaryOp::Mul => match ints.and_then(|(a, b)| a.checked_mul(b)) {
            Some(i) => Value::from(i),
            None => number(fx * fy),
        },
        BinaryOp::Div => {
            if fy == 0.0 {
                return Err("division by zero".to_owned());
            }
            number(fx / fy)
        }
        BinaryOp::Rem => {
            if fy == 0.0 {
                return Err("`%` by zero".to_owned());
            }
            match ints {
                Some((a, b)) => Value::from(a.wrapping_rem(b)),
                None => number(fx % fy),
            }
        }
        BinaryOp::Lt => Value::Bool(fx < fy),
        BinaryOp::Le => Value::Bool(fx <= fy),
        BinaryOp::Gt => Value::Bool(fx > fy),
        BinaryOp::Ge => Value::Bool(fx >= fy),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Eq | BinaryOp::Ne => Value::Null,
    })
}

/// The common type of two known branch values, for `c ? a : b`: `null`
/// and unknown fit anything; otherwise both must be of one type.
pub(crate) fn same_type(a: &Value, b: &Value) -> bool {
    matches!(a, Value::Null | Value::Unknown)
        || matches!(b, Value::Null | Value::Unknown)
        || std::mem::discriminant(a) == std::mem::discriminant(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn unknown_flows_through_functions_and_operators() {
        assert_eq!(call(Func::Upper, &[Value::Unknown]), Ok(Value::Unknown));
        assert_eq!(
            call(Func::Length, &[Value::List(vec![Value::Unknown, s("a")])]),
            Ok(Value::from(2))
        );
        assert_eq!(
            call(Func::Join, &[s(","), Value::List(vec![Value::Unknown])]),
            Ok(Value::Unknown)
        );
        assert_eq!(
            call(Func::Coalesce, &[s(""), Value::Unknown, s("x")]),
            Ok(Value::Unknown)
        );
        assert_eq!(call(Func::Coalesce, &[s("a"), Value::Unknown]), Ok(s("a")));
        assert_eq!(
            binary(BinaryOp::And, &Value::Bool(false), &Value::Unknown),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            binary(BinaryOp::Or, &Value::Unknown, &Value::Bool(false)),
            Ok(Value::Unknown)
        );
        assert_eq!(
            binary(BinaryOp::Add, &Value::Unknown, &Value::from(1)),
            Ok(Value::Unknown)
        );
    }

    #[test]
    fn misuse_names_the_argument() {
        let e = call(Func::Concat, &[Value::List(vec![]), s("x")]).unwrap_err();
        assert_eq!(e.arg, Some(1));
        assert!(e.message.contains("must be a list, found string"), "{e:?}");
        let e = call(Func::Lookup, &[Value::Map(Default::default()), s("k")]).unwrap_err();
        assert_eq!(e.arg, Some(1));
        let e = call(Func::Format, &[s("%s %s"), s("a")]).unwrap_err();
        assert!(e.message.contains("more verbs"), "{e:?}");
        assert!(binary(BinaryOp::Add, &s("a"), &Value::from(1)).is_err());
        assert!(binary(BinaryOp::Div, &Value::from(1), &Value::from(0)).is_err());
    }
}
