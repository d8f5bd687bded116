//! Whole-manifest checks that need every file: references (variables,
//! locals, resources, data sources, attributes, instance keys, `each`),
//! `depends_on` targets, secrets leaking into outputs, data sources that
//! would depend on resources, dependency cycles (printed in full), the read
//! order of data sources, and the offline block graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::{Address, Target};
use crate::graph::{find_cycle, EdgeReason, NodeKind, ResourceGraph};
use crate::kind::{DataKind, Kind};
use crate::schema;
use crate::suggest;

use super::diagnostic::Diagnostic;
use super::expr::{Expr, ExprKind};
use super::model::{Block, Dep, Manifest};
use super::syntax::{Node, NodeKind as SyntaxKind, Sp};

/// A node of the static dependency graph: a block or a local.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum GNode {
    Block(Address),
    Local(String),
}

impl std::fmt::Display for GNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GNode::Block(a) => write!(f, "{a}"),
            GNode::Local(n) => write!(f, "local.{n}"),
        }
    }
}

/// Where `each` may be used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EachScope {
    Allowed,
    NoForEach,
    InForEach,
    Local,
    Output,
}

struct Where<'a> {
    owner: &'a str,
    each: EachScope,
}

/// What an expression refers to.
#[derive(Default)]
struct Collected {
    sites: Vec<(GNode, Sp)>,
    /// The first reference to a secret or sensitive variable, and what it is.
    sensitive: Option<(Sp, String)>,
}

/// The attributes a reference may read from a managed kind.
pub(crate) fn resource_attributes(kind: Kind) -> Vec<&'static str> {
    schema::resource_keys(kind)
        .iter()
        .map(|k| k.name)
        .filter(|n| *n != "*")
        .chain(schema::resource_computed_attributes(kind).iter().copied())
        .collect()
}

pub(crate) fn check(m: &mut Manifest, diags: &mut Vec<Diagnostic>) {
    let c = Checker {
        m,
        diags: Vec::new(),
    };
    let (local_refs, block_refs, output_refs, diags_out) = c.run();
    diags.extend(diags_out);

    // The static graph of blocks and locals, with the place of each edge.
    let mut edges: BTreeMap<GNode, Vec<(GNode, Sp)>> = BTreeMap::new();
    for (name, col) in &local_refs {
        edges.insert(GNode::Local(name.clone()), col.sites.clone());
    }
    for (addr, sites) in &block_refs {
        edges.insert(
            GNode::Block(addr.clone()),
            sites.iter().map(|(n, sp, _, _)| (n.clone(), *sp)).collect(),
        );
    }
    let cyclic = report_cycles(m, &edges, diags);

    // Flatten locals: every block a local reaches.
    let mut memo: BTreeMap<String, BTreeSet<Address>> = BTreeMap::new();
    let mut sens_memo: BTreeMap<String, Option<String>> = BTreeMap::new();
    for name in m.locals.keys() {
        local_blocks(name, &local_refs, &mut memo, &mut BTreeSet::new());
        local_sensitive(name, &local_refs, &mut sens_memo, &mut BTreeSet::new());
    }

    // Block deps, flattened.
    for (addr, sites) in block_refs {
        let mut deps: Vec<Dep> = Vec::new();
        for (node, sp, attr, reason) in sites {
            match node {
                GNode::Block(target) => deps.push(Dep {
                    target,
                    sp,
                    attr,
                    reason,
                }),
                GNode::Local(name) => {
                    for target in memo.get(&name).into_iter().flatten() {
                        deps.push(Dep {
                            target: target.clone(),
                            sp,
                            attr: attr.clone(),
                            reason,
                        });
                    }
                }
            }
        }
        if addr.is_data() {
            let mut reported = BTreeSet::new();
            for dep in &deps {
                if !dep.target.is_data() && reported.insert(dep.target.clone()) {
                    let d = m
                        .files
                        .error(dep.sp, format!("data source `{addr}` depends on the managed resource `{}`", dep.target))
                        .with_label("a data source cannot use a resource")
                        .with_address(&addr)
                        .with_hint("data sources are read at plan time, before anything is created; look the object up by name, or use a variable or literal");
                    diags.push(d);
                }
            }
        }
        if let Some(block) = m.blocks.get_mut(&addr) {
            block.deps = deps;
        }
    }

    // Secrets must not leak into outputs that are not sensitive.
    for (name, col) in output_refs {
        let Some(decl) = m.outputs.get(&name) else {
            continue;
        };
        if decl.sensitive {
            continue;
        }
        let direct = col.sensitive.clone();
        let via_local = col.sites.iter().find_map(|(n, sp)| match n {
            GNode::Local(l) => sens_memo
                .get(l)
                .cloned()
                .flatten()
                .map(|what| (*sp, format!("{what} (through `local.{l}`)"))),
            GNode::Block(_) => None,
        });
        if let Some((sp, what)) = direct.or(via_local) {
            let d = m
                .files
                .error(sp, format!("output `{name}` reveals {what} but is not marked sensitive"))
                .with_label("sensitive value")
                .with_address(format!("output.{name}"))
                .with_hint(format!("add `sensitive = true` to [output.{name}]; `gcrecon output` then prints it only with --show-sensitive"));
            diags.push(d);
        }
    }

    if !cyclic {
        m.data_order = data_order(m);
    }
}

fn local_blocks(
    name: &str,
    refs: &BTreeMap<String, Collected>,
    memo: &mut BTreeMap<String, BTreeSet<Address>>,
    visiting: &mut BTreeSet<String>,
) -> BTreeSet<Address> {
    if let Some(v) = memo.get(name) {
        return v.clone();
    }
    if !visiting.insert(name.to_owned()) {
        return BTreeSet::new();
    }
    let mut out = BTreeSet::new();
    if let Some(col) = refs.get(name) {
        for (n, _) in &col.sites {
            match n {
                GNode::Block(a) => {
                    out.insert(a.clone());
                }
                GNode::Local(l) => out.extend(local_blocks(l, refs, memo, visiting)),
            }
        }
    }
    visiting.remove(name);
    memo.insert(name.to_owned(), out.clone());
    out
}

fn local_sensitive(
    name: &str,
    refs: &BTreeMap<String, Collected>,
    memo: &mut BTreeMap<String, Option<String>>,
    visiting: &mut BTreeSet<String>,
) -> Option<String> {
    if let Some(v) = memo.get(name) {
        return v.clone();
    }
    if !visiting.insert(name.to_owned()) {
        return None;
    }
    let mut out = None;
    if let Some(col) = refs.get(name) {
        out = col.sensitive.as_ref().map(|(_, w)| w.clone());
        if out.is_none() {
            for (n, _) in &col.sites {
                if let GNode::Local(l) = n {
                    if let Some(w) = local_sensitive(l, refs, memo, visiting) {
                        out = Some(w);
                        break;
                    }
                }
            }
        }
    }
    visiting.remove(name);
    memo.insert(name.to_owned(), out.clone());
    out
}

/// Report every cycle of the static graph. True when there was one.
fn report_cycles(
    m: &Manifest,
    edges: &BTreeMap<GNode, Vec<(GNode, Sp)>>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let mut g: petgraph::Graph<GNode, ()> = petgraph::Graph::new();
    let mut idx: BTreeMap<GNode, petgraph::graph::NodeIndex> = BTreeMap::new();
    for (from, tos) in edges {
        let a = *idx
            .entry(from.clone())
            .or_insert_with(|| g.add_node(from.clone()));
        for (to, _) in tos {
            let b = *idx
                .entry(to.clone())
                .or_insert_with(|| g.add_node(to.clone()));
            g.update_edge(a, b, ());
        }
    }
    let mut any = false;
    let mut sccs = petgraph::algo::tarjan_scc(&g);
    sccs.sort_by_key(|scc| scc.iter().map(|i| g[*i].clone()).min());
    for scc in sccs {
        let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        any = true;
        let members: BTreeSet<GNode> = scc.iter().map(|i| g[*i].clone()).collect();
        // Start where the reader meets the cycle first: the earliest definition.
        let place = |n: &GNode| match n {
            GNode::Block(a) => m.blocks.get(a).map(|b| b.sp),
            GNode::Local(l) => m.locals.get(l).map(|d| d.sp),
        };
        let Some(start) = members
            .iter()
            .min_by_key(|n| (place(n).map(|sp| (sp.file, sp.start)), (*n).clone()))
            .cloned()
        else {
            continue;
        };
        let names: Vec<&GNode> = members.iter().collect();
        let pos = |n: &GNode| names.iter().position(|x| *x == n).unwrap_or(0);
        let path_idx = find_cycle(pos(&start), &(0..names.len()).collect(), |i| {
            let mut v: Vec<usize> = edges
                .get(names[i])
                .map(|tos| {
                    tos.iter()
                        .filter(|(t, _)| members.contains(t))
                        .map(|(t, _)| pos(t))
                        .collect()
                })
                .unwrap_or_default();
            v.sort_unstable();
            v.dedup();
            v
        });
        let path: Vec<&GNode> = path_idx.iter().map(|i| names[*i]).collect();
        let shown: Vec<String> = path.iter().map(|n| n.to_string()).collect();
        let site = |a: &GNode, b: &GNode| -> Option<Sp> {
            edges
                .get(a)
                .and_then(|tos| tos.iter().find(|(t, _)| t == b).map(|(_, sp)| *sp))
        };
        let mut d = Diagnostic::error(format!("dependency cycle: {}", shown.join(" -> ")))
            .with_address(path[0].to_string())
            .with_hint("break the cycle: remove one of these references or `depends_on` entries");
        for (i, w) in path.windows(2).enumerate() {
            let Some(sp) = site(w[0], w[1]) else { continue };
            let Some(span) = m.files.span(sp) else {
                continue;
            };
            let text = format!("{} refers to {} here", w[0], w[1]);
            if i == 0 {
                d = d.with_span(span).with_label(text);
            } else {
                d = d.with_related(span, text);
            }
        }
        diags.push(d);
    }
    any
}

/// Data blocks in dependency order (Kahn, ties by address).
fn data_order(m: &Manifest) -> Vec<Address> {
    let data: Vec<&Block> = m.blocks.values().filter(|b| b.is_data()).collect();
    let mut indeg: BTreeMap<&Address, usize> = BTreeMap::new();
    let mut succ: BTreeMap<&Address, BTreeSet<&Address>> = BTreeMap::new();
    for b in &data {
        indeg.entry(&b.address).or_insert(0);
        let preds: BTreeSet<&Address> = b
            .deps
            .iter()
            .filter(|d| {
                m.blocks.get(&d.target).is_some_and(Block::is_data) && d.target != b.address
            })
            .map(|d| &d.target)
            .collect();
        *indeg.entry(&b.address).or_insert(0) = preds.len();
        for p in preds {
            succ.entry(p).or_default().insert(&b.address);
        }
    }
    let mut ready: BTreeSet<&Address> = indeg
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(a, _)| *a)
        .collect();
    let mut out = Vec::new();
    while let Some(a) = ready.pop_first() {
        out.push(a.clone());
        for s in succ.get(a).into_iter().flatten() {
            if let Some(d) = indeg.get_mut(s) {
                *d -= 1;
                if *d == 0 {
                    ready.insert(s);
                }
            }
        }
    }
    out
}

type BlockSites = Vec<(GNode, Sp, Option<String>, EdgeReason)>;

struct Checker<'m> {
    m: &'m Manifest,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    #[allow(clippy::type_complexity)]
    fn run(
        mut self,
    ) -> (
        BTreeMap<String, Collected>,
        BTreeMap<Address, BlockSites>,
        BTreeMap<String, Collected>,
        Vec<Diagnostic>,
    ) {
        let m = self.m;
        let mut locals = BTreeMap::new();
        for (name, decl) in &m.locals {
            let owner = format!("local.{name}");
            let mut col = Collected::default();
            self.node(
                &decl.value,
                &Where {
                    owner: &owner,
                    each: EachScope::Local,
                },
                &mut col,
            );
            locals.insert(name.clone(), col);
        }
        let mut blocks = BTreeMap::new();
        for (addr, block) in &m.blocks {
            let owner = addr.to_string();
            let mut sites: BlockSites = Vec::new();
            let scope = if block.for_each.is_some() {
                EachScope::Allowed
            } else {
                EachScope::NoForEach
            };
            for attr in &block.attrs {
                let mut col = Collected::default();
                self.node(
                    &attr.value,
                    &Where {
                        owner: &owner,
                        each: scope,
                    },
                    &mut col,
                );
                sites.extend(
                    col.sites
                        .into_iter()
                        .map(|(n, sp)| (n, sp, Some(attr.key.clone()), EdgeReason::Reference)),
                );
            }
            if let Some(fe) = &block.for_each {
                let mut col = Collected::default();
                self.node(
                    fe,
                    &Where {
                        owner: &owner,
                        each: EachScope::InForEach,
                    },
                    &mut col,
                );
                sites.extend(
                    col.sites
                        .into_iter()
                        .map(|(n, sp)| (n, sp, None, EdgeReason::Reference)),
                );
            }
            if let Some(when) = &block.when {
                let mut col = Collected::default();
                self.node(
                    when,
                    &Where {
                        owner: &owner,
                        each: scope,
                    },
                    &mut col,
                );
                sites.extend(
                    col.sites
                        .into_iter()
                        .map(|(n, sp)| (n, sp, None, EdgeReason::Reference)),
                );
            }
            for (target, sp) in &block.depends_on {
                if self.check_depends_on(block, target, *sp) {
                    sites.push((
                        GNode::Block(target.block()),
                        *sp,
                        None,
                        EdgeReason::DependsOn,
                    ));
                }
            }
            blocks.insert(addr.clone(), sites);
        }
        let mut outputs = BTreeMap::new();
        for (name, decl) in &m.outputs {
            let owner = format!("output.{name}");
            let mut col = Collected::default();
            let w = Where {
                owner: &owner,
                each: EachScope::Output,
            };
            if let Some(v) = &decl.value {
                self.node(v, &w, &mut col);
            }
            if let Some(when) = &decl.when {
                self.node(when, &w, &mut Collected::default());
            }
            outputs.insert(name.clone(), col);
        }
        (locals, blocks, outputs, self.diags)
    }

    fn check_depends_on(&mut self, block: &Block, target: &Address, sp: Sp) -> bool {
        let owner = block.address.to_string();
        if let Target::Data(k) = target.target {
            if k.is_implicit() {
                return true;
            }
        }
        let Some(t) = self.m.blocks.get(&target.block()) else {
            let all: Vec<String> = self.m.blocks.keys().map(ToString::to_string).collect();
            let wanted = target.block().to_string();
            let mut d = self
                .m
                .files
                .error(
                    sp,
                    format!("`depends_on` names `{target}`, which is not defined"),
                )
                .with_label("no such block")
                .with_address(&owner);
            d = match suggest::closest(&wanted, all.iter().map(String::as_str)) {
                Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                None => d.with_hint(format!(
                    "define `[{wanted}]`, or remove it from `depends_on`"
                )),
            };
            self.diags.push(d);
            return false;
        };
        if target.key.is_some() && t.for_each.is_none() {
            let d = self
                .m
                .files
                .error(
                    sp,
                    format!(
                        "`{}` has no `for_each`, so it has no instance keys",
                        target.block()
                    ),
                )
                .with_address(&owner)
                .with_hint(format!("write `\"{}\"`", target.block()));
            self.diags.push(d);
            return false;
        }
        if target.block() == block.address {
            let d = self
                .m
                .files
                .error(sp, format!("`{owner}` depends on itself"))
                .with_address(&owner)
                .with_hint("remove it from `depends_on`");
            self.diags.push(d);
            return false;
        }
        true
    }

    fn node(&mut self, node: &Node, w: &Where<'_>, out: &mut Collected) {
        match &node.kind {
            SyntaxKind::Str(t) => {
                for e in t.exprs() {
                    self.expr(e, node.sp.file, w, out);
                }
            }
            SyntaxKind::List(items) => {
                for i in items {
                    self.node(i, w, out);
                }
            }
            SyntaxKind::Table(t) => {
                for e in &t.entries {
                    self.node(&e.value, w, out);
                }
            }
            _ => {}
        }
    }

    fn err(
        &self,
        file: u32,
        pos: &std::ops::Range<usize>,
        message: impl Into<String>,
        owner: &str,
    ) -> Diagnostic {
        self.m
            .files
            .error(Sp::new(file, pos.clone()), message)
            .with_address(owner)
    }

    fn expr(&mut self, e: &Expr, file: u32, w: &Where<'_>, out: &mut Collected) {
        let m = self.m;
        match &e.kind {
            ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::Var(name) => match m.variables.get(name) {
                Some(decl) => {
                    if decl.sensitive && out.sensitive.is_none() {
                        out.sensitive = Some((
                            Sp::new(file, e.pos.clone()),
                            format!("the sensitive variable `var.{name}`"),
                        ));
                    }
                }
                None => {
                    let mut d = self
                        .err(
                            file,
                            &e.pos,
                            format!("unknown variable `var.{name}`"),
                            w.owner,
                        )
                        .with_label("not declared");
                    d = match suggest::closest(name, m.variables.keys().map(String::as_str)) {
                        Some(c) => d.with_hint(format!("did you mean `var.{c}`?")),
                        None => d.with_hint(format!(
                            "declare it:\n\n      [variables.{name}]\n      type = \"string\""
                        )),
                    };
                    self.diags.push(d);
                }
            },
            ExprKind::Local(name) => {
                if m.locals.contains_key(name) {
                    out.sites
                        .push((GNode::Local(name.clone()), Sp::new(file, e.pos.clone())));
                } else {
                    let mut d = self
                        .err(
                            file,
                            &e.pos,
                            format!("unknown local `local.{name}`"),
                            w.owner,
                        )
                        .with_label("not defined in [locals]");
                    d = match suggest::closest(name, m.locals.keys().map(String::as_str)) {
                        Some(c) => d.with_hint(format!("did you mean `local.{c}`?")),
                        None => d.with_hint(format!("define it in [locals]: `{name} = ...`")),
                    };
                    self.diags.push(d);
                }
            }
            ExprKind::EachKey | ExprKind::EachValue => {
                let which = if matches!(e.kind, ExprKind::EachKey) {
                    "each.key"
                } else {
                    "each.value"
                };
                let (msg, hint) = match w.each {
                    EachScope::Allowed => return,
                    EachScope::NoForEach => (
                        format!("`{which}` is used in `{}`, which has no `for_each`", w.owner),
                        format!("add `for_each = [...]` to `{}`, or use a plain value", w.owner),
                    ),
                    EachScope::InForEach => (
                        format!("`for_each` of `{}` cannot use `{which}`", w.owner),
                        "`each` is defined by `for_each`; build the collection from variables, locals or data sources".to_owned(),
                    ),
                    EachScope::Local => (
                        format!("`{which}` cannot be used in a local (`{}`)", w.owner),
                        "locals are shared by every instance; use `each` in the block that has `for_each`".to_owned(),
                    ),
                    EachScope::Output => (
                        format!("`{which}` cannot be used in an output (`{}`)", w.owner),
                        "reference one instance, e.g. `${role.x[\"KEY\"].id}`".to_owned(),
                    ),
                };
                let d = self
                    .err(file, &e.pos, msg, w.owner)
                    .with_label("`each` outside for_each")
                    .with_hint(hint);
                self.diags.push(d);
            }
            ExprKind::Resource {
                kind,
                name,
                key,
                attr,
                attr_pos,
            } => {
                let addr = Address::resource(*kind, name.clone());
                if let Some(k) = key {
                    self.expr(k, file, w, out);
                }
                if !self.check_block_ref(&addr, key.as_deref(), e, file, w) {
                    return;
                }
                if *kind != Kind::IdentityProvider {
                    let attrs = resource_attributes(*kind);
                    if !attrs.contains(&attr.as_str()) {
                        self.unknown_attr(&addr, attr, &attrs, file, attr_pos, w);
                        return;
                    }
                }
                if schema::sensitive_attributes(*kind).contains(&attr.as_str())
                    && out.sensitive.is_none()
                {
                    out.sensitive = Some((
                        Sp::new(file, e.pos.clone()),
                        format!("the secret `{addr}.{attr}`"),
                    ));
                }
                out.sites
                    .push((GNode::Block(addr), Sp::new(file, e.pos.clone())));
            }
            ExprKind::Data {
                kind,
                name,
                key,
                attr,
                attr_pos,
            } => {
                let addr = Address::data(*kind, name.clone());
                if let Some(k) = key {
                    self.expr(k, file, w, out);
                }
                if !kind.is_implicit() && !self.check_block_ref(&addr, key.as_deref(), e, file, w) {
                    return;
                }
                let (_, attrs) = schema::data_keys(*kind);
                if !attrs.contains(&attr.as_str()) {
                    self.unknown_attr(&addr, attr, attrs, file, attr_pos, w);
                    return;
                }
                out.sites
                    .push((GNode::Block(addr), Sp::new(file, e.pos.clone())));
            }
            ExprKind::Index(a, b) => {
                self.expr(a, file, w, out);
                self.expr(b, file, w, out);
            }
            ExprKind::Field(a, _) => self.expr(a, file, w, out),
        }
    }

    fn unknown_attr(
        &mut self,
        addr: &Address,
        attr: &str,
        attrs: &[&str],
        file: u32,
        pos: &std::ops::Range<usize>,
        w: &Where<'_>,
    ) {
        let what = match addr.target {
            Target::Resource(k) => k.to_string(),
            Target::Data(k) => format!("data.{k}"),
        };
        let mut d = self
            .err(
                file,
                pos,
                format!("`{addr}` has no attribute `{attr}`"),
                w.owner,
            )
            .with_label(format!("not an attribute of {what}"));
        if let Some(c) = suggest::closest(attr, attrs.iter().copied()) {
            d = d.with_hint(format!("did you mean `{c}`?"));
        }
        d = d.with_hint(format!("attributes of {what}: {}", attrs.join(", ")));
        self.diags.push(d);
    }

    /// The block exists and the instance key matches its `for_each`.
    fn check_block_ref(
        &mut self,
        addr: &Address,
        key: Option<&Expr>,
        e: &Expr,
        file: u32,
        w: &Where<'_>,
    ) -> bool {
        let m = self.m;
        let Some(block) = m.blocks.get(addr) else {
            let what = if addr.is_data() {
                "data source"
            } else {
                "resource"
            };
            let all: Vec<String> = m.blocks.keys().map(ToString::to_string).collect();
            let wanted = addr.to_string();
            let mut d = self
                .err(file, &e.pos, format!("unknown {what} `{wanted}`"), w.owner)
                .with_label("no such block");
            d = match suggest::closest(&wanted, all.iter().map(String::as_str)) {
                Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                None => {
                    let table = if let Target::Data(DataKind::Org | DataKind::Caller) = addr.target
                    {
                        String::new()
                    } else {
                        format!("define `[{wanted}]`")
                    };
                    d.with_hint(if table.is_empty() {
                        "check the name".to_owned()
                    } else {
                        table
                    })
                }
            };
            self.diags.push(d);
            return false;
        };
        match (key, &block.for_each) {
            (None, Some(_)) => {
                let attr = match &e.kind {
                    ExprKind::Resource { attr, .. } | ExprKind::Data { attr, .. } => attr.as_str(),
                    _ => "id",
                };
                let d = self
                    .err(file, &e.pos, format!("`{addr}` has `for_each`; a reference must name one instance"), w.owner)
                    .with_label("instance key missing")
                    .with_hint(format!("write `{addr}[\"KEY\"].{attr}`, or `{addr}[each.value].{attr}` in a block with the same `for_each`"));
                self.diags.push(d);
                false
            }
            (Some(_), None) => {
                let d = self
                    .err(
                        file,
                        &e.pos,
                        format!("`{addr}` has no `for_each`, so it has no instance keys"),
                        w.owner,
                    )
                    .with_label("unexpected instance key")
                    .with_hint(format!("drop the `[...]`: `{addr}.ATTRIBUTE`"));
                self.diags.push(d);
                false
            }
            (Some(k), Some(fe)) => {
                let (ExprKind::Str(key), Some(keys)) = (&k.kind, literal_keys(fe)) else {
                    return true;
                };
                if keys.iter().any(|x| x == key) {
                    return true;
                }
                let mut d = self
                    .err(
                        file,
                        &k.pos,
                        format!("`{addr}` has no instance \"{key}\""),
                        w.owner,
                    )
                    .with_label("not a key of its for_each");
                d = match suggest::closest(key, keys.iter().map(String::as_str)) {
                    Some(c) => d.with_hint(format!("did you mean \"{c}\"?")),
                    None => d.with_hint(format!("its keys are: {}", keys.join(", "))),
                };
                self.diags.push(d);
                false
            }
            (None, None) => true,
        }
    }
}

/// The instance keys of a literal `for_each`, when it is one.
fn literal_keys(node: &Node) -> Option<Vec<String>> {
    match &node.kind {
        SyntaxKind::List(items) => items.iter().map(Node::literal_str).collect(),
        SyntaxKind::Table(t) => Some(t.entries.iter().map(|e| e.key.clone()).collect()),
        _ => None,
    }
}

impl Manifest {
    /// The block-level graph, built offline for `validate` and `graph`:
    /// one node per block (a `for_each` block stands for all its instances
    /// and prints as `role.x[*]`), data sources, and the caller-grant nodes
    /// of roles referenced from `oauth_client.roles`.
    pub fn block_graph(&self) -> ResourceGraph {
        let mut g = ResourceGraph::new();
        for (addr, block) in &self.blocks {
            if block.for_each.is_some() {
                g.mark_expanded(addr.clone());
            }
            let me = NodeKind::of(addr.clone());
            g.add_node(me.clone());
            for dep in &block.deps {
                if dep.target == *addr {
                    continue;
                }
                g.add_edge(NodeKind::of(dep.target.clone()), me.clone(), dep.reason);
                let is_role = matches!(
                    dep.target.target,
                    Target::Resource(Kind::Role) | Target::Data(DataKind::Role)
                );
                if addr.kind() == Some(Kind::OauthClient)
                    && dep.attr.as_deref() == Some("roles")
                    && is_role
                {
                    let grant = NodeKind::CallerGrant {
                        role: dep.target.clone(),
                    };
                    g.add_edge(
                        NodeKind::of(dep.target.clone()),
                        grant.clone(),
                        EdgeReason::CallerGrant,
                    );
                    g.add_edge(grant, me.clone(), EdgeReason::CallerGrant);
                }
            }
        }
        g
    }
}
