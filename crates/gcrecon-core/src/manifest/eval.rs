//! Evaluation: turning blocks into values with an [`EvalContext`] —
//! variables, data source results and what is known about resources.
//!
//! `for_each` is expanded, `when` applied, references resolved (a string
//! that is exactly one reference keeps the referenced type), and what is
//! known only after apply becomes [`Value::Unknown`]. Every evaluation also
//! records which instances it referenced, to build the instance graph, and
//! whether it touched a secret.

// Evaluation errors are the rare path and are collected, not propagated far;
// a boxed diagnostic would only add noise.
#![allow(clippy::result_large_err)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use crate::address::{Address, Target};
use crate::graph::{EdgeReason, NodeKind, ResourceGraph};
use crate::kind::{DataKind, Kind};
use crate::schema::{self, KeyType};
use crate::suggest;
use crate::value::{Attrs, Value};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::expr::{Expr, ExprKind, ForExpr, Func, Part, Template};
use super::funcs;
use super::model::{Attr, Block, Manifest};
use super::syntax::{Node, NodeKind as SyntaxKind, Sp};
use super::variables::Variables;
use super::{DataQuery, Desired, DesiredInstance, EvalContext, OutputValue};

/// What one evaluation touched.
#[derive(Clone, Debug, Default)]
struct Acc {
    sensitive: bool,
    refs: BTreeSet<Address>,
    data_refs: BTreeSet<Address>,
}

impl Acc {
    fn merge(&mut self, other: &Acc) {
        self.sensitive |= other.sensitive;
        self.refs.extend(other.refs.iter().cloned());
        self.data_refs.extend(other.data_refs.iter().cloned());
    }
}

/// The instances of a block: `None` key for a block without `for_each`.
type Instances = Vec<(Option<String>, Value)>;

/// What an index or field of an unknown value reads.
static UNKNOWN: Value = Value::Unknown;

/// A value read where it is kept (a local's cached value, a variable), or
/// computed. Indexing one and reading a field of one clone only the part
/// read: `local.teams[each.key]` in a `for_each` of N instances would
/// otherwise copy all N teams once per instance.
enum Held<'c> {
    Local(Arc<(Value, Acc)>),
    Var(&'c Value),
    Owned(Value),
}

impl std::ops::Deref for Held<'_> {
    type Target = Value;

    fn deref(&self) -> &Value {
        match self {
            Held::Local(l) => &l.0,
            Held::Var(v) => v,
            Held::Owned(v) => v,
        }
    }
}

impl Held<'_> {
    fn into_value(self) -> Value {
        match self {
            Held::Local(l) => l.0.clone(),
            Held::Var(v) => v.clone(),
            Held::Owned(v) => v,
        }
    }
}

/// What [`Manifest::desired`] and [`Manifest::eval_instance`] keep from one
/// call to the next (see [`EvalContext::with_cache`]): the locals and
/// `for_each` expansions that reference no resource, which come out the
/// same whatever ids the resources have, and where each instance key is.
/// Without it, evaluating each of a `for_each` block's N instances
/// evaluates its `for_each` (and the locals it reads) again: N² for the
/// block. A plan fills one in its first evaluation and reads it in the
/// walk, so such a `for_each` is evaluated once per plan.
///
/// One cache serves calls with the same variables, data sources and
/// emails; a context with others needs a cache of its own. It can be sent
/// to another thread (a plan holds it across the refresh).
#[derive(Default)]
pub struct EvalCache {
    locals: Mutex<HashMap<String, Arc<(Value, Acc)>>>,
    instances: Mutex<HashMap<Address, Arc<KeyedInstances>>>,
}

impl std::fmt::Debug for EvalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalCache")
            .field("locals", &lock(&self.locals).len())
            .field("blocks", &lock(&self.instances).len())
            .finish()
    }
}

/// A block's instances: from an [`EvalCache`], with each key's position,
/// or as evaluated by this evaluator alone.
enum Expansion {
    Kept(Arc<KeyedInstances>),
    Here(Arc<Instances>),
}

impl Expansion {
    fn list(&self) -> &Arc<Instances> {
        match self {
            Expansion::Kept(keyed) => &keyed.list,
            Expansion::Here(list) => list,
        }
    }

    /// The instance of `key`.
    fn get(&self, key: Option<&str>) -> Option<&(Option<String>, Value)> {
        match self {
            Expansion::Kept(keyed) => keyed.get(key),
            Expansion::Here(list) => list.iter().find(|(k, _)| k.as_deref() == key),
        }
    }
}

/// The instances of a block without `for_each`: one, keyed `None`.
fn single_instance() -> Arc<Instances> {
    static SINGLE: LazyLock<Arc<Instances>> = LazyLock::new(|| Arc::new(vec![(None, Value::Null)]));
    Arc::clone(&SINGLE)
}

/// A map of an [`EvalCache`], locked. Nothing panics while holding one,
/// and what it holds is only ever added to whole, so a poisoned lock's
/// map is still sound.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A block's instances and the position of each key among them.
struct KeyedInstances {
    list: Arc<Instances>,
    /// Positions of the `for_each` keys (a block without one has a single
    /// instance, keyed `None`, at 0).
    by_key: HashMap<String, usize>,
}

impl KeyedInstances {
    fn new(list: Arc<Instances>) -> Self {
        let by_key = list
            .iter()
            .enumerate()
            .filter_map(|(i, (k, _))| Some((k.clone()?, i)))
            .collect();
        KeyedInstances { list, by_key }
    }

    fn get(&self, key: Option<&str>) -> Option<&(Option<String>, Value)> {
        let i = match key {
            Some(k) => *self.by_key.get(k)?,
            None => 0,
        };
        self.list.get(i).filter(|(k, _)| k.as_deref() == key)
    }
}

/// What a diagnostic names as its address: formatted only when one is made.
type Owner<'s> = &'s dyn std::fmt::Display;

struct Scope<'s> {
    owner: Owner<'s>,
    each: Option<(&'s str, &'s Value)>,
    /// Variables of the enclosing for-expressions and splats, innermost first.
    bound: Option<&'s Bound<'s>>,
}

/// One variable bound by a for-expression (`*` for a splat's element).
struct Bound<'s> {
    name: &'s str,
    value: Value,
    parent: Option<&'s Bound<'s>>,
}

impl<'s> Scope<'s> {
    fn new(owner: Owner<'s>, each: Option<(&'s str, &'s Value)>) -> Self {
        Scope {
            owner,
            each,
            bound: None,
        }
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        let mut b = self.bound;
        while let Some(x) = b {
            if x.name == name {
                return Some(&x.value);
            }
            b = x.parent;
        }
        None
    }

    /// This scope with one more variable.
    fn with<'t>(&'t self, b: &'t Bound<'t>) -> Scope<'t> {
        Scope {
            owner: self.owner,
            each: self.each,
            bound: Some(b),
        }
    }
}

type Cached<T> = Result<Arc<T>, Diagnostic>;

const MAX_DEPTH: u32 = 64;

struct Evaluator<'m, 'c> {
    m: &'m Manifest,
    ctx: &'c EvalContext<'c>,
    locals: RefCell<HashMap<String, Cached<(Value, Acc)>>>,
    instances: RefCell<HashMap<Address, Cached<Instances>>>,
    enabled: RefCell<HashMap<Address, Result<bool, Diagnostic>>>,
    depth: Cell<u32>,
}

/// A desired instance and what the graph needs to know about it.
struct Evaluated {
    instance: DesiredInstance,
    refs: BTreeSet<Address>,
    data_refs: BTreeSet<Address>,
    depends_on_data: BTreeSet<Address>,
    explicit: BTreeSet<Address>,
    grant_roles: BTreeSet<Address>,
}

impl<'m, 'c> Evaluator<'m, 'c> {
    fn new(m: &'m Manifest, ctx: &'c EvalContext<'c>) -> Self {
        Evaluator {
            m,
            ctx,
            locals: RefCell::default(),
            instances: RefCell::default(),
            enabled: RefCell::default(),
            depth: Cell::new(0),
        }
    }

    fn err(
        &self,
        file: u32,
        pos: &std::ops::Range<usize>,
        owner: Owner<'_>,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.m
            .files
            .error(Sp::new(file, pos.clone()), message)
            .with_address(owner)
    }

    fn enter(&self, sp: Sp, owner: Owner<'_>) -> Result<(), Diagnostic> {
        let d = self.depth.get() + 1;
        if d > MAX_DEPTH {
            return Err(self
                .m
                .files
                .error(sp, "references nest too deeply")
                .with_address(owner)
                .with_hint("simplify the chain of references between blocks and locals"));
        }
        self.depth.set(d);
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    fn node(&self, node: &Node, scope: &Scope<'_>, acc: &mut Acc) -> Result<Value, Diagnostic> {
        Ok(match &node.kind {
            SyntaxKind::Bool(b) => Value::Bool(*b),
            SyntaxKind::Number(n) => Value::Number(n.clone()),
            SyntaxKind::Datetime(d) => Value::String(d.clone()),
            SyntaxKind::Str(t) => self.template(t, node.sp, scope, acc)?,
            SyntaxKind::List(items) => Value::List(
                items
                    .iter()
                    .map(|i| self.node(i, scope, acc))
                    .collect::<Result<_, _>>()?,
            ),
            SyntaxKind::Table(t) => Value::Map(
                t.entries
                    .iter()
                    .map(|e| Ok((e.key.clone(), self.node(&e.value, scope, acc)?)))
                    .collect::<Result<_, Diagnostic>>()?,
            ),
            SyntaxKind::Invalid => {
                return Err(self
                    .m
                    .files
                    .error(node.sp, "invalid value")
                    .with_address(scope.owner));
            }
        })
    }

    fn template(
        &self,
        t: &Template,
        sp: Sp,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        if let Some(e) = t.whole_expr() {
            return self.expr(e, sp.file, scope, acc);
        }
        if t.parts.is_empty() {
            return Ok(Value::String(t.lit.clone()));
        }
        let mut out = String::new();
        let mut unknown = false;
        for part in &t.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(e) => match self.expr(e, sp.file, scope, acc)? {
                    Value::String(s) => out.push_str(&s),
                    Value::Number(n) => out.push_str(&n.to_string()),
                    Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    Value::Unknown => unknown = true,
                    other => {
                        return Err(self
                            .err(sp.file, &e.pos, scope.owner, format!("a {} cannot be put into a string", other.type_name()))
                            .with_label(format!("this is a {}", other.type_name()))
                            .with_hint("to keep a list or map, make the reference the whole string: \"${...}\""));
                    }
                },
            }
        }
        Ok(if unknown {
            Value::Unknown
        } else {
            Value::String(out)
        })
    }

    fn expr(
        &self,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        match &e.kind {
            ExprKind::Str(s) => Ok(Value::String(s.clone())),
            ExprKind::Number(n) => Ok(Value::Number(n.clone())),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Var(_) | ExprKind::Local(_) => {
                self.held(e, file, scope, acc).map(Held::into_value)
            }
            ExprKind::EachKey | ExprKind::EachValue => self.each(e, file, scope),
            ExprKind::Resource {
                kind,
                name,
                key,
                attr,
                ..
            } => self.resource_ref(
                &Address::resource(*kind, name.clone()),
                key.as_deref(),
                attr,
                e,
                file,
                scope,
                acc,
            ),
            ExprKind::Data {
                kind,
                name,
                key,
                attr,
                ..
            } => self.data_ref(
                &Address::data(*kind, name.clone()),
                key.as_deref(),
                attr,
                e,
                file,
                scope,
                acc,
            ),
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Ident(name) => scope.lookup(name).cloned().ok_or_else(|| {
                self.err(
                    file,
                    &e.pos,
                    scope.owner,
                    format!("`{name}` is not defined here"),
                )
            }),
            ExprKind::SplatItem => scope
                .lookup("*")
                .cloned()
                .ok_or_else(|| self.err(file, &e.pos, scope.owner, "`[*]` outside a splat")),
            ExprKind::Block { target, name, key } => {
                let addr = Address {
                    target: *target,
                    name: name.clone(),
                    key: None,
                };
                self.block_value(&addr, key.as_deref(), e, file, scope, acc)
            }
            ExprKind::Splat { base, each } => self.splat(base, each, file, scope, acc),
            ExprKind::List(items) => Ok(Value::List(
                items
                    .iter()
                    .map(|i| self.expr(i, file, scope, acc))
                    .collect::<Result<_, _>>()?,
            )),
            ExprKind::Object(entries) => self.object(entries, file, scope, acc),
            ExprKind::Unary(op, inner) => {
                let v = self.expr(inner, file, scope, acc)?;
                funcs::unary(*op, &v).map_err(|m| {
                    self.err(file, &e.pos, scope.owner, m)
                        .with_label(format!("this is a {}", v.type_name()))
                })
            }
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e, file, scope, acc),
            ExprKind::Cond(c, a, b) => self.conditional(c, a, b, file, scope, acc),
            ExprKind::Call {
                func: Func::Try,
                args,
            } => self.try_call(args, e, file, scope, acc),
            ExprKind::Call { func, args } => self.call(*func, args, e, file, scope, acc),
            ExprKind::For(f) => self.for_expr(f, e, file, scope, acc),
            ExprKind::Index(..) | ExprKind::Field(..) => {
                let mut hold = None;
                self.place(e, file, scope, acc, &mut hold).cloned()
            }
        }
    }

    /// The value an index or field path reads, borrowed from where its root
    /// is kept (a local, a variable, `each.value`, a for-expression's
    /// variable) or from `hold` when the root is computed. Only the value at
    /// the end of the path is cloned, by the caller: `local.roles[each.key].name`
    /// copies one name, not the whole role, once per instance.
    fn place<'p>(
        &self,
        e: &Expr,
        file: u32,
        scope: &'p Scope<'p>,
        acc: &mut Acc,
        hold: &'p mut Option<Held<'c>>,
    ) -> Result<&'p Value, Diagnostic> {
        match &e.kind {
            ExprKind::Index(base, idx) => {
                let b = self.place(base, file, scope, acc, hold)?;
                let i = self.expr(idx, file, scope, acc)?;
                self.index_ref(b, &i, e, idx, file, scope)
            }
            ExprKind::Field(base, field) => {
                let b = self.place(base, file, scope, acc, hold)?;
                self.field_ref(b, field, e, file, scope)
            }
            _ => match Self::in_scope(e, scope) {
                Some(v) => Ok(v),
                None => {
                    let held = self.held(e, file, scope, acc)?;
                    Ok(&**hold.insert(held))
                }
            },
        }
    }

    /// `each.value` or a for-expression's variable, where the scope keeps it.
    /// `None` for anything else, and for one the scope does not have (whose
    /// evaluation reports it).
    fn in_scope<'p>(e: &Expr, scope: &'p Scope<'p>) -> Option<&'p Value> {
        match &e.kind {
            ExprKind::EachValue => scope.each.map(|(_, v)| v),
            ExprKind::Ident(name) => scope.lookup(name),
            _ => None,
        }
    }

    /// `e`, read where it is kept when it is a local or a variable.
    fn held(
        &self,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Held<'c>, Diagnostic> {
        match &e.kind {
            ExprKind::Var(name) => self.variable(name, e, file, scope, acc).map(Held::Var),
            ExprKind::Local(name) => {
                let local = self.local(name, Sp::new(file, e.pos.clone()), scope.owner)?;
                acc.merge(&local.1);
                Ok(Held::Local(local))
            }
            _ => self.expr(e, file, scope, acc).map(Held::Owned),
        }
    }

    /// `var.NAME`: a resolved variable (its sensitivity joins `acc`).
    fn variable(
        &self,
        name: &str,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<&'c Value, Diagnostic> {
        let vars: &'c Variables = self.ctx.variables;
        match vars.get(name) {
            Some(v) => {
                acc.sensitive |= vars.is_sensitive(name);
                Ok(v)
            }
            None => Err(self
                .err(
                    file,
                    &e.pos,
                    scope.owner,
                    format!("variable `var.{name}` has no value"),
                )
                .with_hint("resolve variables with Manifest::resolve_variables before evaluating")),
        }
    }

    /// `each.key` or `each.value` of the instance being evaluated.
    fn each(&self, e: &Expr, file: u32, scope: &Scope<'_>) -> Result<Value, Diagnostic> {
        match scope.each {
            Some((k, v)) => Ok(if matches!(e.kind, ExprKind::EachKey) {
                Value::String(k.to_owned())
            } else {
                v.clone()
            }),
            None => Err(self.err(
                file,
                &e.pos,
                scope.owner,
                "`each` is only available in a block with `for_each`",
            )),
        }
    }

    /// `{ k = v, ... }`: unknown when a key is.
    fn object(
        &self,
        entries: &[(Expr, Expr)],
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let mut out = BTreeMap::new();
        let mut unknown = false;
        for (k, v) in entries {
            let key = self.expr(k, file, scope, acc)?;
            let value = self.expr(v, file, scope, acc)?;
            match self.object_key(key, k, file, scope)? {
                Some(key) => {
                    if out.insert(key.clone(), value).is_some() {
                        return Err(self
                            .err(
                                file,
                                &k.pos,
                                scope.owner,
                                format!("the object has the key \"{key}\" twice"),
                            )
                            .with_hint("give every key once"));
                    }
                }
                None => unknown = true,
            }
        }
        Ok(if unknown {
            Value::Unknown
        } else {
            Value::Map(out.into())
        })
    }

    /// `a OP b`, with a hint for the common type mistakes.
    #[allow(clippy::too_many_arguments)]
    fn binary(
        &self,
        op: super::expr::BinaryOp,
        a: &Expr,
        b: &Expr,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let x = self.expr(a, file, scope, acc)?;
        let y = self.expr(b, file, scope, acc)?;
        funcs::binary(op, &x, &y).map_err(|m| {
            let hint = match op {
                super::expr::BinaryOp::Add => "`+` adds numbers; to join text use format(\"%s%s\", a, b) or join(\"\", [a, b])",
                super::expr::BinaryOp::And | super::expr::BinaryOp::Or => "compare to get a bool, e.g. `var.x == \"yes\"`",
                _ => "convert the operands, or compare values of one type",
            };
            self.err(file, &e.pos, scope.owner, format!("{m} (left: {}, right: {})", x.type_name(), y.type_name()))
                .with_hint(hint)
        })
    }

    /// `try(a, ...)`: the first argument that evaluates without an error.
    fn try_call(
        &self,
        args: &[Expr],
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let mut last = None;
        for a in args {
            match self.expr(a, file, scope, acc) {
                Ok(v) if v.is_known() => return Ok(v),
                Ok(_) => return Ok(Value::Unknown),
                Err(d) => last = Some(d),
            }
        }
        let mut d = self
            .err(
                file,
                &e.pos,
                scope.owner,
                "`try`: no argument evaluated without an error",
            )
            .with_hint("add a last argument that cannot fail, e.g. a literal fallback");
        if let Some(last) = last {
            d = d.with_hint(format!("the last argument failed with: {}", last.message));
        }
        Err(d)
    }

    /// A function call (any but `try`), an error placed at the argument at fault.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        func: Func,
        args: &[Expr],
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let vals = args
            .iter()
            .map(|a| self.expr(a, file, scope, acc))
            .collect::<Result<Vec<_>, _>>()?;
        funcs::call(func, &vals).map_err(|fe| {
            let pos = fe.arg.and_then(|i| args.get(i)).map_or(&e.pos, |a| &a.pos);
            let mut d = self.err(file, pos, scope.owner, fe.message);
            if let Some(v) = fe.arg.and_then(|i| vals.get(i)) {
                d = d.with_label(format!("this is a {}", v.type_name()));
            }
            d.with_hint(
                fe.hint
                    .unwrap_or_else(|| format!("call it as {}", func.signature())),
            )
        })
    }

    /// `base.field` of a map, borrowed from `base`.
    fn field_ref<'v>(
        &self,
        base: &'v Value,
        field: &str,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
    ) -> Result<&'v Value, Diagnostic> {
        match base {
            Value::Unknown => Ok(&UNKNOWN),
            Value::Map(m) => m.get(field).ok_or_else(|| {
                let mut d = self.err(
                    file,
                    &e.pos,
                    scope.owner,
                    format!("the map has no key `{field}`"),
                );
                if let Some(c) = suggest::closest(field, m.keys().map(String::as_str)) {
                    d = d.with_hint(format!("did you mean `{c}`?"));
                }
                d
            }),
            other => Err(self.err(
                file,
                &e.pos,
                scope.owner,
                format!("cannot read `.{field}` of a {}", other.type_name()),
            )),
        }
    }

    /// An object key: a string (numbers and bools converted); `None` when unknown.
    fn object_key(
        &self,
        key: Value,
        k: &Expr,
        file: u32,
        scope: &Scope<'_>,
    ) -> Result<Option<String>, Diagnostic> {
        match key {
            Value::Unknown => Ok(None),
            v => funcs::to_text(&v).map(Some).ok_or_else(|| {
                self.err(
                    file,
                    &k.pos,
                    scope.owner,
                    format!("a map key must be a string, found {}", v.type_name()),
                )
                .with_hint("build the key as a string, e.g. with format(\"%s\", x)")
            }),
        }
    }

    /// `c ? a : b`: both branches are evaluated (both are dependencies), the
    /// error of the branch not taken is dropped, and known branches must be
    /// of one type; an unknown condition gives an unknown value.
    fn conditional(
        &self,
        c: &Expr,
        a: &Expr,
        b: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let cond = self.expr(c, file, scope, acc)?;
        let yes = self.expr(a, file, scope, acc);
        let no = self.expr(b, file, scope, acc);
        let pick = match cond {
            Value::Bool(x) => x,
            Value::Unknown => {
                yes?;
                no?;
                return Ok(Value::Unknown);
            }
            other => {
                return Err(self
                    .err(
                        file,
                        &c.pos,
                        scope.owner,
                        format!(
                            "the condition of `? :` must be a bool, found {}",
                            other.type_name()
                        ),
                    )
                    .with_label(format!("this is a {}", other.type_name()))
                    .with_hint("compare to get a bool, e.g. `var.mode == \"full\" ? a : b`"));
            }
        };
        let (taken, other, other_expr) = if pick { (yes, no, b) } else { (no, yes, a) };
        let taken = taken?;
        if let Ok(o) = &other {
            if !funcs::same_type(&taken, o) {
                let (t, f) = if pick { (&taken, o) } else { (o, &taken) };
                return Err(self
                    .err(
                        file,
                        &other_expr.pos,
                        scope.owner,
                        format!(
                            "the branches of `? :` differ in type: {} and {}",
                            t.type_name(),
                            f.type_name()
                        ),
                    )
                    .with_label(format!("this is a {}", o.type_name()))
                    .with_hint("make both branches the same type, e.g. `cond ? [\"a\"] : []`"));
            }
        }
        Ok(taken)
    }

    /// `BASE[*]EACH`: `EACH` for every element of a list (a `for_each`
    /// block's instances in key order, `null` as none, any other value as
    /// a list of one).
    fn splat(
        &self,
        base: &Expr,
        each: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let v = self.expr(base, file, scope, acc)?;
        let whole_block = matches!(&base.kind, ExprKind::Block { target, name, key: None }
            if self.m.blocks.get(&Address { target: *target, name: name.clone(), key: None }).is_some_and(|b| b.for_each.is_some()));
        let items = match v {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Map(m) if whole_block => m.into_values().collect(),
            Value::List(l) => l,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let b = Bound {
                name: "*",
                value: item,
                parent: scope.bound,
            };
            out.push(self.expr(each, file, &scope.with(&b), acc)?);
        }
        Ok(Value::List(out))
    }

    /// `[for ...]` and `{for ...}`.
    fn for_expr(
        &self,
        f: &ForExpr,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let pairs: Vec<(Value, Value)> = match self.expr(&f.collection, file, scope, acc)? {
            Value::Unknown => return Ok(Value::Unknown),
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            other => {
                return Err(self
                    .err(
                        file,
                        &f.collection.pos,
                        scope.owner,
                        format!(
                            "a for-expression needs a list or a map, found {}",
                            other.type_name()
                        ),
                    )
                    .with_label(format!("this is a {}", other.type_name()))
                    .with_hint(
                        "iterate over a list (`for x in LIST`) or a map (`for k, v in MAP`)",
                    ));
            }
        };
        let mut list = Vec::new();
        let mut map = BTreeMap::new();
        let mut unknown = false;
        for (k, v) in pairs {
            let vb = Bound {
                name: &f.value_var,
                value: v,
                parent: scope.bound,
            };
            let kb;
            let inner = match &f.key_var {
                Some(name) => {
                    kb = Bound {
                        name,
                        value: k,
                        parent: Some(&vb),
                    };
                    scope.with(&kb)
                }
                None => scope.with(&vb),
            };
            if let Some(c) = &f.cond {
                match self.expr(c, file, &inner, acc)? {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    Value::Unknown => {
                        unknown = true;
                        continue;
                    }
                    other => {
                        return Err(self
                            .err(
                                file,
                                &c.pos,
                                scope.owner,
                                format!(
                                    "the `if` of a for-expression must be a bool, found {}",
                                    other.type_name()
                                ),
                            )
                            .with_hint("compare to get a bool, e.g. `if x != \"\"`"));
                    }
                }
            }
            let value = self.expr(&f.value, file, &inner, acc)?;
            match &f.key {
                None => list.push(value),
                Some(ke) => {
                    let key = self.expr(ke, file, &inner, acc)?;
                    match self.object_key(key, ke, file, scope)? {
                        Some(key) => {
                            if map.insert(key.clone(), value).is_some() {
                                return Err(self
                                    .err(file, &ke.pos, scope.owner, format!("the for-expression gives the key \"{key}\" twice"))
                                    .with_label("duplicate key")
                                    .with_hint("make the keys distinct, e.g. by adding the other variable to them; grouping with `...` is not supported"));
                            }
                        }
                        None => unknown = true,
                    }
                }
            }
        }
        let _ = e;
        Ok(if unknown {
            Value::Unknown
        } else if f.key.is_some() {
            Value::Map(map.into())
        } else {
            Value::List(list)
        })
    }

    /// `base[idx]`, borrowed from `base`.
    fn index_ref<'v>(
        &self,
        base: &'v Value,
        idx: &Value,
        e: &Expr,
        idx_expr: &Expr,
        file: u32,
        scope: &Scope<'_>,
    ) -> Result<&'v Value, Diagnostic> {
        match (base, idx) {
            (Value::Unknown, _) | (_, Value::Unknown) => Ok(&UNKNOWN),
            (Value::Map(m), i @ (Value::String(_) | Value::Number(_))) => {
                let k: std::borrow::Cow<'_, str> = match i {
                    Value::String(s) => s.as_str().into(),
                    other => other.to_string().into(),
                };
                m.get(&*k).ok_or_else(|| {
                    let mut d = self
                        .err(
                            file,
                            &idx_expr.pos,
                            scope.owner,
                            format!("the map has no key \"{k}\""),
                        )
                        .with_label("not found");
                    d = match suggest::closest(&k, m.keys().map(String::as_str)) {
                        Some(c) => d.with_hint(format!("did you mean \"{c}\"?")),
                        None => d.with_hint(format!(
                            "its keys are: {}",
                            m.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                        )),
                    };
                    d
                })
            }
            (Value::List(l), Value::Number(n)) => {
                let i = n.as_u64().and_then(|i| usize::try_from(i).ok());
                i.and_then(|i| l.get(i)).ok_or_else(|| {
                    self.err(
                        file,
                        &idx_expr.pos,
                        scope.owner,
                        format!("index {n} is out of range for a list of {}", l.len()),
                    )
                })
            }
            (b, i) => Err(self.err(
                file,
                &e.pos,
                scope.owner,
                format!("cannot index a {} with a {}", b.type_name(), i.type_name()),
            )),
        }
    }

    fn key_of(
        &self,
        key: Option<&Expr>,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Option<Option<String>>, Diagnostic> {
        let Some(k) = key else { return Ok(Some(None)) };
        match self.expr(k, file, scope, acc)? {
            Value::String(s) => Ok(Some(Some(s))),
            Value::Number(n) => Ok(Some(Some(n.to_string()))),
            Value::Unknown => Ok(None),
            other => Err(self
                .err(
                    file,
                    &k.pos,
                    scope.owner,
                    format!(
                        "an instance key must be a string, found {}",
                        other.type_name()
                    ),
                )
                .with_hint("when `for_each` is a map, use `each.key` to pick the instance")),
        }
    }

    /// The instance of a resource block a reference names: its key and
    /// `each.value`, checked to exist and to be enabled; `None` when the
    /// key is known only after apply (then every instance is a dependency).
    fn resource_instance(
        &self,
        block: &'m Block,
        key: Option<&Expr>,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Option<(Option<String>, Value)>, Diagnostic> {
        let block_addr = &block.address;
        let Some(key) = self.key_of(key, file, scope, acc)? else {
            // Which instance is unknown: depend on all of them.
            if let Ok(insts) = self.instances(block) {
                for (k, v) in insts.iter() {
                    let a = inst_addr(block_addr, k.as_deref());
                    if self.is_enabled(block, &a, k.as_deref(), v).unwrap_or(false) {
                        acc.refs.insert(a);
                    }
                }
            }
            return Ok(None);
        };
        let addr = inst_addr(block_addr, key.as_deref());
        let insts = self.instances(block)?;
        let Some((_, each_value)) = insts.iter().find(|(k, _)| *k == key) else {
            let keys: Vec<&str> = insts.iter().filter_map(|(k, _)| k.as_deref()).collect();
            let mut d = self
                .err(
                    file,
                    &e.pos,
                    scope.owner,
                    format!(
                        "`{addr}` does not exist: `{block_addr}` has no instance with that key"
                    ),
                )
                .with_label("no such instance");
            let wanted = key.unwrap_or_default();
            d = match suggest::closest(&wanted, keys.iter().copied()) {
                Some(c) => d.with_hint(format!("did you mean \"{c}\"?")),
                None => d.with_hint(format!(
                    "its keys are: {}",
                    if keys.is_empty() {
                        "(none)".to_owned()
                    } else {
                        keys.join(", ")
                    }
                )),
            };
            return Err(d);
        };
        if !self.is_enabled(block, &addr, key.as_deref(), each_value)? {
            return Err(self
                .err(
                    file,
                    &e.pos,
                    scope.owner,
                    format!("`{addr}` is switched off by its `when`"),
                )
                .with_label("not part of the desired state")
                .with_hint(format!(
                    "give `{}` the same `when`, or stop referencing `{addr}`",
                    scope.owner
                )));
        }
        acc.refs.insert(addr);
        Ok(Some((key, each_value.clone())))
    }

    fn block_of(
        &self,
        block_addr: &Address,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
    ) -> Result<&'m Block, Diagnostic> {
        self.m.blocks.get(block_addr).map(|b| &**b).ok_or_else(|| {
            self.err(
                file,
                &e.pos,
                scope.owner,
                format!("unknown resource `{block_addr}`"),
            )
        })
    }

    /// One attribute of a resource instance: its manifest value, or what
    /// the context knows (unknown until apply).
    fn instance_attr(
        &self,
        block: &Block,
        key: Option<&str>,
        each_value: &Value,
        attr: &str,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let addr = inst_addr(&block.address, key);
        let kind = block.address.kind().unwrap_or(Kind::Role);
        acc.sensitive |= schema::sensitive_attributes(kind).contains(&attr);
        if let Some(a) = block.attr(attr) {
            self.enter(a.value.sp, scope.owner)?;
            let inner = Scope::new(&addr, key.map(|k| (k, each_value)));
            let mut sub = Acc::default();
            let v = self.node(&a.value, &inner, &mut sub);
            self.leave();
            acc.sensitive |= sub.sensitive;
            return v;
        }
        Ok((self.ctx.resources)(&addr, attr).unwrap_or(Value::Unknown))
    }

    /// A resource instance as an object: every attribute it has in the
    /// manifest and every computed one, secrets left out (a secret is read
    /// only by its own reference, `oauth_client.x.secret`).
    fn instance_object(
        &self,
        block: &Block,
        key: Option<&str>,
        each_value: &Value,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let kind = block.address.kind().unwrap_or(Kind::Role);
        let secret = schema::sensitive_attributes(kind);
        let mut out = BTreeMap::new();
        let names = block
            .attrs
            .iter()
            .map(|a| a.key.as_str())
            .chain(schema::resource_computed_attributes(kind).iter().copied());
        for name in names {
            if secret.contains(&name) || out.contains_key(name) {
                continue;
            }
            let v = self.instance_attr(block, key, each_value, name, scope, acc)?;
            out.insert(name.to_owned(), v);
        }
        Ok(Value::Map(out.into()))
    }

    #[allow(clippy::too_many_arguments)]
    fn resource_ref(
        &self,
        block_addr: &Address,
        key: Option<&Expr>,
        attr: &str,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        let block = self.block_of(block_addr, e, file, scope)?;
        let Some((key, each_value)) = self.resource_instance(block, key, e, file, scope, acc)?
        else {
            return Ok(Value::Unknown);
        };
        self.instance_attr(block, key.as_deref(), &each_value, attr, scope, acc)
    }

    /// `role.x` (an object; for a `for_each` block, the map of its enabled
    /// instances), `role.x["k"]`, `data.users.x`, `data.org`.
    fn block_value(
        &self,
        block_addr: &Address,
        key: Option<&Expr>,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        if block_addr.is_data() {
            let with_for_each = self
                .m
                .blocks
                .get(block_addr)
                .is_some_and(|b| b.for_each.is_some());
            if with_for_each && key.is_none() {
                let mut out = BTreeMap::new();
                for (a, attrs) in self.ctx.data.range(block_addr.clone()..) {
                    if a.block() != *block_addr {
                        break;
                    }
                    if let Some(k) = &a.key {
                        acc.data_refs.insert(a.clone());
                        out.insert(k.to_string(), Value::Map(attrs.clone()));
                    }
                }
                return Ok(Value::Map(out.into()));
            }
            return Ok(
                match self.data_instance(block_addr, key, e, file, scope, acc)? {
                    Some(attrs) => Value::Map(attrs.clone()),
                    None => Value::Unknown,
                },
            );
        }
        let block = self.block_of(block_addr, e, file, scope)?;
        if block.for_each.is_some() && key.is_none() {
            let mut out = BTreeMap::new();
            for (k, v) in self.instances(block)?.iter() {
                let a = inst_addr(block_addr, k.as_deref());
                if !self.is_enabled(block, &a, k.as_deref(), v)? {
                    continue;
                }
                acc.refs.insert(a);
                let obj = self.instance_object(block, k.as_deref(), v, scope, acc)?;
                out.insert(k.clone().unwrap_or_default(), obj);
            }
            return Ok(Value::Map(out.into()));
        }
        match self.resource_instance(block, key, e, file, scope, acc)? {
            Some((k, v)) => self.instance_object(block, k.as_deref(), &v, scope, acc),
            None => Ok(Value::Unknown),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data_ref(
        &self,
        block_addr: &Address,
        key: Option<&Expr>,
        attr: &str,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Value, Diagnostic> {
        Ok(
            match self.data_instance(block_addr, key, e, file, scope, acc)? {
                Some(attrs) => attrs.get(attr).cloned().unwrap_or(Value::Null),
                None => Value::Unknown,
            },
        )
    }

    /// The attributes read for one data source instance; `None` when the
    /// key is known only after apply.
    fn data_instance(
        &self,
        block_addr: &Address,
        key: Option<&Expr>,
        e: &Expr,
        file: u32,
        scope: &Scope<'_>,
        acc: &mut Acc,
    ) -> Result<Option<&'c Attrs>, Diagnostic> {
        let Some(key) = self.key_of(key, file, scope, acc)? else {
            return Ok(None);
        };
        let addr = inst_addr(block_addr, key.as_deref());
        if let Some(attrs) = self.ctx.data.get(&addr) {
            acc.data_refs.insert(addr);
            return Ok(Some(attrs));
        }
        let mut d = self
            .err(file, &e.pos, scope.owner, format!("`{addr}` has no value"))
            .with_label("not read");
        let block = self.m.blocks.get(block_addr);
        if key.is_some() {
            let keys: Vec<String> = self
                .ctx
                .data
                .keys()
                .filter(|a| a.block() == *block_addr)
                .filter_map(|a| a.key.as_ref().map(|k| k.to_string()))
                .collect();
            d.message = format!(
                "`{block_addr}` has no instance \"{}\"",
                key.clone().unwrap_or_default()
            );
            d = match suggest::closest(
                key.as_deref().unwrap_or_default(),
                keys.iter().map(String::as_str),
            ) {
                Some(c) => d.with_hint(format!("did you mean \"{c}\"?")),
                None => d.with_hint(format!(
                    "its keys are: {}",
                    if keys.is_empty() {
                        "(none)".to_owned()
                    } else {
                        keys.join(", ")
                    }
                )),
            };
        } else if block.is_some_and(|b| b.when.is_some()) {
            d = d.with_hint(format!(
                "`{block_addr}` is switched off by its `when`; give `{}` the same `when`",
                scope.owner
            ));
        } else if matches!(
            block_addr.target,
            Target::Data(DataKind::Org | DataKind::Caller)
        ) {
            d = d.with_hint(format!("the engine provides `{block_addr}` from the connection; offline it is not available"));
        } else {
            d = d.with_hint(
                "data sources are read in `data_blocks_in_order()` before they are used",
            );
        }
        Err(d)
    }

    fn local(&self, name: &str, sp: Sp, owner: Owner<'_>) -> Result<Arc<(Value, Acc)>, Diagnostic> {
        if let Some(c) = self.locals.borrow().get(name) {
            return c.clone();
        }
        let shared = self.ctx.cache;
        if let Some(kept) = shared.and_then(|c| lock(&c.locals).get(name).cloned()) {
            self.locals
                .borrow_mut()
                .insert(name.to_owned(), Ok(kept.clone()));
            return Ok(kept);
        }
        let Some(decl) = self.m.locals.get(name) else {
            return Err(self
                .m
                .files
                .error(sp, format!("unknown local `local.{name}`"))
                .with_address(owner));
        };
        self.enter(sp, owner)?;
        let local_owner = format!("local.{name}");
        let mut acc = Acc::default();
        let r = self
            .node(&decl.value, &Scope::new(&local_owner, None), &mut acc)
            .map(|v| Arc::new((v, acc)));
        self.leave();
        if let (Some(cache), Ok(local)) = (shared, &r) {
            if local.1.refs.is_empty() {
                lock(&cache.locals).insert(name.to_owned(), local.clone());
            }
        }
        self.locals.borrow_mut().insert(name.to_owned(), r.clone());
        r
    }

    /// Evaluate one output (or one instance of an output with `for_each`).
    fn output(
        &self,
        name: &str,
        decl: &super::model::OutputDecl,
        each: Option<(&str, &Value)>,
        out: &mut Vec<OutputValue>,
        errors: &mut Vec<Diagnostic>,
    ) {
        let owner = format!("output.{name}");
        let scope = Scope::new(&owner, each);
        if let Some(when) = &decl.when {
            match self.node(when, &scope, &mut Acc::default()) {
                Ok(Value::Bool(false)) => return,
                Ok(Value::Bool(true)) => {}
                Ok(other) => {
                    errors.push(
                        self.m
                            .files
                            .error(
                                when.sp,
                                format!(
                                    "`when` of `{owner}` must be a known bool, found {}",
                                    other.type_name()
                                ),
                            )
                            .with_address(&owner),
                    );
                    return;
                }
                Err(d) => {
                    errors.push(d);
                    return;
                }
            }
        }
        let Some(node) = &decl.value else { return };
        let mut acc = Acc::default();
        match self.node(node, &scope, &mut acc) {
            Ok(value) => out.push(OutputValue {
                name: name.to_owned(),
                value,
                sensitive: decl.sensitive || acc.sensitive,
                description: decl.description.clone(),
            }),
            Err(d) => errors.push(d),
        }
    }

    /// The instances of a block, `for_each` evaluated.
    fn instances(&self, block: &Block) -> Result<Arc<Instances>, Diagnostic> {
        self.expansion(block).map(|e| e.list().clone())
    }

    /// The instances of a block, from the [`EvalCache`] when it keeps them;
    /// a `for_each` that references no resource is kept there.
    fn expansion(&self, block: &Block) -> Result<Expansion, Diagnostic> {
        if block.for_each.is_none() {
            return Ok(Expansion::Here(single_instance()));
        }
        let shared = self.ctx.cache;
        if let Some(kept) = shared.and_then(|c| lock(&c.instances).get(&block.address).cloned()) {
            return Ok(Expansion::Kept(kept));
        }
        if let Some(c) = self.instances.borrow().get(&block.address) {
            return c.clone().map(Expansion::Here);
        }
        let mut acc = Acc::default();
        let r = self.compute_instances(block, &mut acc).map(Arc::new);
        if let (Some(cache), Ok(list), true) = (shared, &r, acc.refs.is_empty()) {
            let keyed = Arc::new(KeyedInstances::new(list.clone()));
            lock(&cache.instances).insert(block.address.clone(), keyed.clone());
            return Ok(Expansion::Kept(keyed));
        }
        self.instances
            .borrow_mut()
            .insert(block.address.clone(), r.clone());
        r.map(Expansion::Here)
    }

    fn compute_instances(&self, block: &Block, acc: &mut Acc) -> Result<Instances, Diagnostic> {
        let Some(fe) = &block.for_each else {
            return Ok(vec![(None, Value::Null)]);
        };
        self.for_each(fe, &block.address, acc)
    }

    /// The keys and `each.value`s a `for_each` gives; what it references
    /// joins `acc`.
    fn for_each(
        &self,
        fe: &Node,
        owner: Owner<'_>,
        acc: &mut Acc,
    ) -> Result<Instances, Diagnostic> {
        self.enter(fe.sp, owner)?;
        let v = self.node(fe, &Scope::new(owner, None), acc);
        self.leave();
        let v = v?;
        let unknown = || {
            self.m
                .files
                .error(fe.sp, format!("`for_each` of `{owner}` depends on values known only after apply"))
                .with_address(owner)
                .with_hint("`for_each` must be known at plan time: build it from variables, locals, literals or data sources")
        };
        match v {
            Value::List(items) => {
                let mut out: Instances = Vec::with_capacity(items.len());
                let mut seen = BTreeSet::new();
                for item in items {
                    match item {
                        Value::String(s) => {
                            if seen.insert(s.clone()) {
                                out.push((Some(s.clone()), Value::String(s)));
                            }
                        }
                        Value::Unknown => return Err(unknown()),
                        other => {
                            return Err(self
                                .m
                                .files
                                .error(fe.sp, format!("`for_each` of `{owner}` lists a {}; instance keys are strings", other.type_name()))
                                .with_address(owner)
                                .with_hint("use a list of strings, or a map whose keys name the instances"));
                        }
                    }
                }
                Ok(out)
            }
            Value::Map(m) => Ok(m.into_iter().map(|(k, v)| (Some(k), v)).collect()),
            Value::Unknown => Err(unknown()),
            other => Err(self
                .m
                .files
                .error(
                    fe.sp,
                    format!(
                        "`for_each` of `{owner}` takes a list of strings or a map, found {}",
                        other.type_name()
                    ),
                )
                .with_address(owner)
                .with_hint("for example `for_each = \"${data.divisions.all.names}\"`")),
        }
    }

    fn is_enabled(
        &self,
        block: &Block,
        addr: &Address,
        key: Option<&str>,
        each_value: &Value,
    ) -> Result<bool, Diagnostic> {
        let Some(when) = &block.when else {
            return Ok(true);
        };
        if let Some(c) = self.enabled.borrow().get(addr) {
            return c.clone();
        }
        let owner: Owner<'_> = &addr;
        let r = (|| {
            self.enter(when.sp, owner)?;
            let mut acc = Acc::default();
            let v = self.node(
                when,
                &Scope::new(owner, key.map(|k| (k, each_value))),
                &mut acc,
            );
            self.leave();
            match v? {
                Value::Bool(b) => Ok(b),
                Value::Unknown => Err(self
                    .m
                    .files
                    .error(
                        when.sp,
                        format!("`when` of `{owner}` depends on values known only after apply"),
                    )
                    .with_address(owner)
                    .with_hint("`when` must be known at plan time")),
                other => Err(self
                    .m
                    .files
                    .error(
                        when.sp,
                        format!(
                            "`when` of `{owner}` must be a bool, found {}",
                            other.type_name()
                        ),
                    )
                    .with_address(owner)
                    .with_hint("declare the variable with `type = \"bool\"`")),
            }
        })();
        self.enabled.borrow_mut().insert(addr.clone(), r.clone());
        r
    }

    /// Group `members` or `owners` with every email replaced by its user's
    /// id; an email that matches no user is an error naming it.
    fn users_by_email(
        &self,
        v: Value,
        key: &str,
        owner: Owner<'_>,
        sp: Sp,
    ) -> Result<Value, Vec<Diagnostic>> {
        let Value::List(items) = v else { return Ok(v) };
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Value::String(s) if s.contains('@') => {
                    match self.ctx.emails.get(&s.to_lowercase()) {
                        Some(id) => out.push(Value::String(id.clone())),
                        None => errors.push(
                            self.m
                                .files
                                .error(sp, format!("`{key}` of `{owner}`: no user has the email \"{s}\""))
                                .with_label("no such user")
                                .with_address(owner)
                                .with_hint("check the spelling; `members` and `owners` take user ids or the emails of existing users"),
                        ),
                    }
                }
                other => out.push(other),
            }
        }
        if errors.is_empty() {
            Ok(Value::List(out))
        } else {
            Err(errors)
        }
    }

    /// Evaluate one resource instance.
    fn instance(
        &self,
        block: &Block,
        key: Option<&str>,
        each_value: &Value,
    ) -> Result<Evaluated, Vec<Diagnostic>> {
        let kind = block.address.kind().unwrap_or(Kind::Role);
        let address = inst_addr(&block.address, key);
        let owner: Owner<'_> = &address;
        let scope = Scope::new(owner, key.map(|k| (k, each_value)));
        let mut errors = Vec::new();
        let mut attrs = Attrs::new();
        let mut sensitive_keys = Vec::new();
        let mut data_keys = Vec::new();
        let mut all = Acc::default();
        let mut grant_roles = BTreeSet::new();
        let specs = schema::resource_keys(kind);
        for attr in &block.attrs {
            let mut acc = Acc::default();
            match self.node(&attr.value, &scope, &mut acc) {
                Ok(v) => {
                    let spec = specs.iter().find(|s| s.name == attr.key);
                    self.check_attr(kind, spec, attr, &v, owner, &mut errors);
                    let v = if kind.spec().user_keys.contains(&attr.key.as_str()) {
                        match self.users_by_email(v, &attr.key, owner, attr.value.sp) {
                            Ok(v) => v,
                            Err(ds) => {
                                errors.extend(ds);
                                continue;
                            }
                        }
                    } else {
                        v
                    };
                    attrs.insert(attr.key.clone(), v);
                }
                Err(d) => errors.push(d),
            }
            if acc.sensitive {
                sensitive_keys.push(attr.key.clone());
            }
            if !acc.data_refs.is_empty() {
                data_keys.push(attr.key.clone());
            }
            if kind == Kind::OauthClient && attr.key == "roles" {
                grant_roles.extend(
                    acc.refs
                        .iter()
                        .chain(acc.data_refs.iter())
                        .filter(|a| {
                            matches!(
                                a.target,
                                Target::Resource(Kind::Role) | Target::Data(DataKind::Role)
                            )
                        })
                        .cloned(),
                );
            }
            all.merge(&acc);
        }
        schema::fill_defaults(kind, &mut attrs);
        if kind == Kind::OauthClient
            && attrs.get("grant_type").and_then(Value::as_str) == Some("client_credentials")
            && !attrs.contains_key("roles")
        {
            errors.push(
                self.m
                    .files
                    .error(
                        block.sp,
                        format!("client-credentials client `{owner}` has no `roles`"),
                    )
                    .with_address(owner)
                    .with_hint(
                        "add `roles = [{ role = \"${role.NAME.id}\", divisions = [\"*\"] }]`",
                    ),
            );
        }
        let (explicit, depends_on_data) = self.explicit_depends_on(block);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut depends_on: BTreeSet<Address> = all.refs.clone();
        depends_on.extend(explicit.iter().cloned());
        depends_on.remove(&address);
        Ok(Evaluated {
            instance: DesiredInstance {
                address,
                kind,
                attrs,
                depends_on: depends_on.into_iter().collect(),
                prevent_destroy: block.prevent_destroy,
                adopt: block.adopt,
                ignore_changes: block.ignore_changes.clone(),
                sensitive_keys,
                data_keys,
            },
            refs: all.refs,
            data_refs: all.data_refs,
            depends_on_data,
            explicit,
            grant_roles,
        })
    }

    /// Check one evaluated key of an instance: its type against the kind's
    /// spec, and a role's permission strings' syntax.
    fn check_attr(
        &self,
        kind: Kind,
        spec: Option<&schema::KeySpec>,
        attr: &Attr,
        v: &Value,
        owner: Owner<'_>,
        errors: &mut Vec<Diagnostic>,
    ) {
        if let Some(spec) = spec {
            if let Err(msg) = check_value(spec.ty, v) {
                errors.push(
                    self.m
                        .files
                        .error(attr.value.sp, format!("`{}` of `{owner}` {msg}", attr.key))
                        .with_address(owner)
                        .with_hint(format!("`{}`: {}", attr.key, spec.doc)),
                );
            }
        }
        // A list written out in the manifest had its strings checked when
        // it loaded (`Builder::kind_rules`); only computed ones are left.
        let checked_at_load = || {
            matches!(&attr.value.kind, SyntaxKind::List(items)
                if items.iter().all(|i| i.literal_ref().is_some()))
        };
        if kind == Kind::Role && attr.key == "permissions" && !checked_at_load() {
            for p in v
                .as_list()
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
            {
                if let Err(e) = crate::permission::check_syntax(p) {
                    let mut d = self
                        .m
                        .files
                        .error(attr.value.sp, e.message.clone())
                        .with_address(owner);
                    if let Some(s) = e.suggestion {
                        d = d.with_hint(format!("did you mean `{s}`?"));
                    }
                    errors.push(d);
                }
            }
        }
    }

    /// The instances a block's `depends_on` names (each enabled instance of
    /// a named block, or the one named), and the data sources it names.
    fn explicit_depends_on(&self, block: &Block) -> (BTreeSet<Address>, BTreeSet<Address>) {
        let mut explicit = BTreeSet::new();
        let mut depends_on_data = BTreeSet::new();
        for (target, _) in &block.depends_on {
            if target.is_data() {
                depends_on_data.insert(target.clone());
                continue;
            }
            let Some(tb) = self.m.blocks.get(&target.block()) else {
                continue;
            };
            let Ok(insts) = self.instances(tb) else {
                continue;
            };
            for (k, v) in insts.iter() {
                let a = inst_addr(&tb.address, k.as_deref());
                if target.key.is_some() && a != *target {
                    continue;
                }
                if self.is_enabled(tb, &a, k.as_deref(), v).unwrap_or(false) {
                    explicit.insert(a);
                }
            }
        }
        (explicit, depends_on_data)
    }
}

fn inst_addr(block: &Address, key: Option<&str>) -> Address {
    match key {
        Some(k) => block.clone().with_key(k),
        None => block.clone(),
    }
}

/// Check an evaluated value against a key's type; unknown parts pass.
fn check_value(ty: KeyType, v: &Value) -> Result<(), String> {
    if matches!(v, Value::Unknown) {
        return Ok(());
    }
    let found = || format!("found {}", v.type_name());
    let string_list = |v: &Value| -> Result<(), String> {
        match v {
            Value::List(items) => match items
                .iter()
                .find(|i| !matches!(i, Value::String(_) | Value::Unknown))
            {
                Some(bad) => Err(format!(
                    "must be a list of strings, but it holds a {}",
                    bad.type_name()
                )),
                None => Ok(()),
            },
            Value::Unknown => Ok(()),
            other => Err(format!(
                "must be a list of strings, found {}",
                other.type_name()
            )),
        }
    };
    match ty {
        KeyType::String => match v {
            Value::String(_) => Ok(()),
            _ => Err(format!("must be a string, {}", found())),
        },
        KeyType::Bool => match v {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("must be a bool, {}", found())),
        },
        KeyType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            _ => Err(format!("must be an integer, {}", found())),
        },
        KeyType::StringList => string_list(v),
        KeyType::Enum(allowed) => match v {
            Value::String(s) if allowed.contains(&s.as_str()) => Ok(()),
            Value::String(s) => Err(format!(
                "is \"{s}\", which is not one of: {}",
                allowed.join(", ")
            )),
            _ => Err(format!(
                "must be one of {}, {}",
                allowed.join(", "),
                found()
            )),
        },
        KeyType::RoleDivisionList => match v {
            Value::List(items) => {
                for item in items {
                    match item {
                        Value::Unknown => {}
                        Value::Map(m) => {
                            match m.get("role") {
                                Some(Value::String(_) | Value::Unknown) => {}
                                Some(other) => {
                                    return Err(format!(
                                        "has a `roles` entry whose `role` is a {}",
                                        other.type_name()
                                    ))
                                }
                                None => return Err("has a `roles` entry without `role`".to_owned()),
                            }
                            if let Some(d) = m.get("divisions") {
                                string_list(d).map_err(|e| format!("has `divisions` that {e}"))?;
                            }
                            if let Some(k) = m.keys().find(|k| *k != "role" && *k != "divisions") {
                                return Err(format!(
                                    "has a `roles` entry with the unknown key `{k}`"
                                ));
                            }
                        }
                        other => {
                            return Err(format!(
                                "must be a list of tables, but it holds a {}",
                                other.type_name()
                            ))
                        }
                    }
                }
                Ok(())
            }
            _ => Err(format!(
                "must be a list of {{ role, divisions }} tables, {}",
                found()
            )),
        },
        KeyType::Map => match v {
            Value::Map(_) => Ok(()),
            _ => Err(format!("must be a table, {}", found())),
        },
        KeyType::Any => Ok(()),
    }
}

fn finish<T>(value: T, errors: Vec<Diagnostic>) -> Result<T, Diagnostics> {
    if errors.is_empty() {
        return Ok(value);
    }
    let mut unique: Vec<Diagnostic> = Vec::new();
    for d in errors {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    let mut d = Diagnostics::from(unique);
    d.sort();
    Err(d)
}

impl Manifest {
    /// Every resource instance of the desired state: `for_each` expanded,
    /// instances with `when = false` dropped, keys evaluated, and the
    /// instance graph with reference, `depends_on` and caller-grant edges.
    pub fn desired(&self, ctx: &EvalContext<'_>) -> Result<Desired, Diagnostics> {
        let ev = Evaluator::new(self, ctx);
        let mut errors = Vec::new();
        // One instance per block unless `for_each` makes more.
        let mut evaluated = Vec::with_capacity(self.blocks.len());
        for block in self.blocks.values().filter(|b| !b.is_data()) {
            let insts = match ev.instances(block) {
                Ok(i) => i,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            for (k, v) in insts.iter() {
                let addr = inst_addr(&block.address, k.as_deref());
                match ev.is_enabled(block, &addr, k.as_deref(), v) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(d) => {
                        errors.push(d);
                        continue;
                    }
                }
                match ev.instance(block, k.as_deref(), v) {
                    Ok(e) => evaluated.push(e),
                    Err(ds) => errors.extend(ds),
                }
            }
        }
        let mut graph = ResourceGraph::with_capacity(evaluated.len());
        for e in &evaluated {
            graph.add_node(NodeKind::Resource(e.instance.address.clone()));
        }
        for e in &evaluated {
            let me = NodeKind::Resource(e.instance.address.clone());
            for dep in &e.instance.depends_on {
                let reason = if e.refs.contains(dep) || !e.explicit.contains(dep) {
                    EdgeReason::Reference
                } else {
                    EdgeReason::DependsOn
                };
                graph.add_edge(NodeKind::Resource(dep.clone()), me.clone(), reason);
            }
            for d in &e.data_refs {
                graph.add_edge(NodeKind::Data(d.clone()), me.clone(), EdgeReason::Reference);
            }
            for d in &e.depends_on_data {
                graph.add_edge(NodeKind::Data(d.clone()), me.clone(), EdgeReason::DependsOn);
            }
            for role in &e.grant_roles {
                let grant = NodeKind::CallerGrant { role: role.clone() };
                graph.add_edge(
                    NodeKind::of(role.clone()),
                    grant.clone(),
                    EdgeReason::CallerGrant,
                );
                graph.add_edge(grant, me.clone(), EdgeReason::CallerGrant);
            }
        }
        let instances = evaluated.into_iter().map(|e| e.instance).collect();
        finish(Desired { instances, graph }, errors)
    }

    /// Evaluate one resource instance again (during apply, once the ids it
    /// references are known). An address of an instance that is not part of
    /// the desired state is an error.
    pub fn eval_instance(
        &self,
        address: &Address,
        ctx: &EvalContext<'_>,
    ) -> Result<DesiredInstance, Diagnostics> {
        let Some(block) = self.blocks.get(&address.block()).filter(|b| !b.is_data()) else {
            return Err(Diagnostic::error(format!(
                "`{address}` is not a resource of the manifest"
            ))
            .with_address(address)
            .into());
        };
        let ev = Evaluator::new(self, ctx);
        let insts = ev.expansion(block).map_err(Diagnostics::from)?;
        let Some((k, v)) = insts.get(address.key.as_deref()) else {
            let msg = if address.key.is_some() && block.for_each.is_none() {
                format!(
                    "`{}` has no `for_each`, so `{address}` does not exist",
                    block.address
                )
            } else if address.key.is_none() {
                format!("`{address}` has `for_each`; name one instance")
            } else {
                format!(
                    "`{address}` is not one of the instances of `{}`",
                    block.address
                )
            };
            return Err(self.error_at(address, None, msg).into());
        };
        if !ev
            .is_enabled(block, address, k.as_deref(), v)
            .map_err(Diagnostics::from)?
        {
            return Err(self
                .error_at(
                    address,
                    Some("when"),
                    format!("`{address}` is switched off by its `when`"),
                )
                .into());
        }
        match ev.instance(block, k.as_deref(), v) {
            Ok(e) => Ok(e.instance),
            Err(ds) => finish(DesiredInstance::placeholder(address), ds),
        }
    }

    /// The lookups for one data block (`for_each` expanded, `when` applied).
    /// Every query value must be known; the data blocks it references must
    /// already be in `ctx.data`.
    pub fn data_queries(
        &self,
        block: &Address,
        ctx: &EvalContext<'_>,
    ) -> Result<Vec<DataQuery>, Diagnostics> {
        let Some(b) = self.blocks.get(&block.block()).filter(|b| b.is_data()) else {
            return Err(Diagnostic::error(format!(
                "`{block}` is not a data source of the manifest"
            ))
            .with_address(block)
            .into());
        };
        let Target::Data(kind) = b.address.target else {
            return Ok(Vec::new());
        };
        let ev = Evaluator::new(self, ctx);
        let insts = ev.instances(b).map_err(Diagnostics::from)?;
        let (specs, _) = schema::data_keys(kind);
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (k, v) in insts.iter() {
            let address = inst_addr(&b.address, k.as_deref());
            match ev.is_enabled(b, &address, k.as_deref(), v) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            }
            let owner = address.to_string();
            let scope = Scope::new(&owner, k.as_deref().map(|k| (k, v)));
            let mut query = Attrs::new();
            for attr in &b.attrs {
                let mut acc = Acc::default();
                match ev.node(&attr.value, &scope, &mut acc) {
                    Ok(val) if !val.is_known() => errors.push(
                        self.files
                            .error(
                                attr.value.sp,
                                format!("`{}` of `{owner}` is known only after apply", attr.key),
                            )
                            .with_address(&owner)
                            .with_hint(
                                "a data source is read at plan time; its query must be known then",
                            ),
                    ),
                    Ok(val) => {
                        if let Some(spec) = specs.iter().find(|s| s.name == attr.key) {
                            if let Err(msg) = check_value(spec.ty, &val) {
                                errors.push(
                                    self.files
                                        .error(
                                            attr.value.sp,
                                            format!("`{}` of `{owner}` {msg}", attr.key),
                                        )
                                        .with_address(&owner),
                                );
                            }
                        }
                        query.insert(attr.key.clone(), val);
                    }
                    Err(d) => errors.push(d),
                }
            }
            out.push(DataQuery {
                address,
                kind,
                query,
            });
        }
        finish(out, errors)
    }

    /// The emails that user keys (group `members` and `owners`: the kinds'
    /// `user_keys`) name (lower-case), for the engine to look up before
    /// [`Manifest::desired`]. Values that do not evaluate yet are skipped;
    /// `desired` reports them.
    pub fn group_member_emails(&self, ctx: &EvalContext<'_>) -> BTreeSet<String> {
        let ev = Evaluator::new(self, ctx);
        let mut out = BTreeSet::new();
        let with_users = self.blocks.values().filter(|b| {
            b.address
                .kind()
                .is_some_and(|k| !k.spec().user_keys.is_empty())
        });
        for block in with_users {
            let user_keys = block.address.kind().map_or(&[][..], |k| k.spec().user_keys);
            let Ok(insts) = ev.instances(block) else {
                continue;
            };
            for (k, v) in insts.iter() {
                let addr = inst_addr(&block.address, k.as_deref());
                if !ev
                    .is_enabled(block, &addr, k.as_deref(), v)
                    .unwrap_or(false)
                {
                    continue;
                }
                let owner = addr.to_string();
                let scope = Scope::new(&owner, k.as_deref().map(|k| (k, v)));
                for key in user_keys {
                    let Some(a) = block.attr(key) else { continue };
                    if let Ok(Value::List(items)) = ev.node(&a.value, &scope, &mut Acc::default()) {
                        out.extend(
                            items
                                .iter()
                                .filter_map(Value::as_str)
                                .filter(|s| s.contains('@'))
                                .map(str::to_lowercase),
                        );
                    }
                }
            }
        }
        out
    }

    /// Every output (those with `when = false` left out), evaluated; values
    /// known only after apply are [`Value::Unknown`].
    pub fn outputs(&self, ctx: &EvalContext<'_>) -> Result<Vec<OutputValue>, Diagnostics> {
        let ev = Evaluator::new(self, ctx);
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (name, decl) in &self.outputs {
            let insts = match &decl.for_each {
                Some(fe) => match ev.for_each(fe, &format!("output.{name}"), &mut Acc::default()) {
                    Ok(i) => i,
                    Err(d) => {
                        errors.push(d);
                        continue;
                    }
                },
                None => vec![(None, Value::Null)],
            };
            for (key, each_value) in &insts {
                let name = match key {
                    Some(k) => format!("{name}[{}]", serde_json::Value::String(k.clone())),
                    None => name.clone(),
                };
                ev.output(
                    &name,
                    decl,
                    key.as_deref().map(|k| (k, each_value)),
                    &mut out,
                    &mut errors,
                );
            }
        }
        finish(out, errors)
    }

    /// The value of every declared variable: `--var` (`cli`) first, then the
    /// environment (`env`, names with `GCRECON_VAR_` already stripped; the
    /// exact name or its upper-case form), then `default`. Values are
    /// converted to the declared type. A `--var` for an undeclared variable,
    /// a value that does not convert, and a variable without any value are
    /// errors, all reported together.
    pub fn resolve_variables(
        &self,
        cli: &BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
    ) -> Result<Variables, Diagnostics> {
        let mut errors = Vec::new();
        for name in cli.keys() {
            if !self.variables.contains_key(name) {
                let mut d = Diagnostic::error(format!(
                    "`--var {name}=...` sets a variable that is not declared"
                ))
                .with_address(format!("var.{name}"));
                d = match suggest::closest(name, self.variables.keys().map(String::as_str)) {
                    Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                    None => d.with_hint(format!(
                        "declare it with a `[variables.{name}]` table, or drop the flag"
                    )),
                };
                errors.push(d);
            }
        }
        let mut vars = Variables::new();
        for (name, decl) in &self.variables {
            let upper = name.to_uppercase();
            let given = cli
                .get(name)
                .map(|v| (v, format!("--var {name}")))
                .or_else(|| env.get(name).map(|v| (v, format!("GCRECON_VAR_{name}"))))
                .or_else(|| env.get(&upper).map(|v| (v, format!("GCRECON_VAR_{upper}"))));
            let value = match given {
                Some((raw, from)) => match decl.ty.convert(raw) {
                    Ok(v) => v,
                    Err(msg) => {
                        errors.push(
                            self.files
                                .error(decl.sp, format!("variable `var.{name}` ({from}): {msg}"))
                                .with_address(format!("var.{name}"))
                                .with_hint(format!(
                                    "`var.{name}` is declared `type = \"{}\"`",
                                    decl.ty
                                )),
                        );
                        continue;
                    }
                },
                None => match &decl.default {
                    Some(v) => v.clone(),
                    None => {
                        errors.push(
                            self.files
                                .error(decl.sp, format!("variable `var.{name}` has no value"))
                                .with_label("no default")
                                .with_address(format!("var.{name}"))
                                .with_hint(format!("pass `--var {name}=VALUE`, set `GCRECON_VAR_{name}`, or give it a `default`")),
                        );
                        continue;
                    }
                },
            };
            vars.insert(name.clone(), value, decl.sensitive);
        }
        finish(vars, errors)
    }
}

impl DesiredInstance {
    /// An instance of `address` with no attributes and no meta-arguments
    /// (the kind from the address), standing for one that failed to
    /// evaluate.
    pub fn placeholder(address: &Address) -> Self {
        DesiredInstance {
            address: address.clone(),
            kind: address.kind().unwrap_or(Kind::Role),
            attrs: Attrs::new(),
            depends_on: Vec::new(),
            prevent_destroy: false,
            adopt: false,
            ignore_changes: Vec::new(),
            sensitive_keys: Vec::new(),
            data_keys: Vec::new(),
        }
    }
}
