//! Whole-manifest checks that need every file: references (variables,
//! locals, resources, data sources, attributes, instance keys, `each`),
//! `depends_on` targets, secrets leaking into outputs, data sources that
//! would depend on resources, dependency cycles (printed in full), the read
//! order of data sources, and the offline block graph.
//!
//! Blocks and locals are numbered densely (blocks in address order, then
//! locals, then the implicit `data.org` and `data.caller`), so that the
//! graph work runs over integers: this is the hot path of `validate` on
//! large manifests.

use std::collections::{BTreeMap, BTreeSet};

use crate::address::{Address, Target};
use crate::fxhash::{FxHashMap, FxHashSet};
use crate::graph::{find_cycle, EdgeReason, NodeKind, ResourceGraph};
use crate::kind::{DataKind, Kind};
use crate::schema;
use crate::suggest;

use super::diagnostic::Diagnostic;
use super::expr::{Expr, ExprKind};
use super::model::{Block, Dep, DepTarget, Manifest};
use super::syntax::{Node, NodeKind as SyntaxKind, Sp};

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
    owner: &'a dyn std::fmt::Display,
    each: EachScope,
}

/// What an expression refers to: node ids and the place of each reference.
#[derive(Default)]
struct Collected {
    sites: Vec<(u32, Sp)>,
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

/// Dense numbering of the static graph's nodes.
struct Ids<'m> {
    blocks: Vec<&'m Block>,
    locals: Vec<&'m str>,
    block_id: FxHashMap<(Target, &'m str), u32>,
    local_id: FxHashMap<&'m str, u32>,
}

impl<'m> Ids<'m> {
    fn new(m: &'m Manifest) -> Self {
        let blocks: Vec<&Block> = m.blocks.values().map(|b| &**b).collect();
        let locals: Vec<&str> = m.locals.keys().map(String::as_str).collect();
        let mut block_id = FxHashMap::default();
        block_id.reserve(blocks.len());
        for (i, b) in blocks.iter().enumerate() {
            block_id.insert((b.address.target, b.address.name.as_str()), i as u32);
        }
        let nb = blocks.len();
        let local_id = locals
            .iter()
            .enumerate()
            .map(|(i, l)| (*l, (nb + i) as u32))
            .collect();
        Ids {
            blocks,
            locals,
            block_id,
            local_id,
        }
    }

    fn nb(&self) -> usize {
        self.blocks.len()
    }

    fn total(&self) -> usize {
        self.blocks.len() + self.locals.len() + 2
    }

    fn implicit(&self, kind: DataKind) -> u32 {
        let base = self.blocks.len() + self.locals.len();
        (base + usize::from(kind == DataKind::Caller)) as u32
    }

    fn block(&self, target: Target, name: &str) -> Option<u32> {
        if let Target::Data(k) = target {
            if k.is_implicit() {
                return Some(self.implicit(k));
            }
        }
        self.block_id.get(&(target, name)).copied()
    }

    fn is_local(&self, id: u32) -> Option<usize> {
        let i = id as usize;
        (i >= self.nb() && i < self.nb() + self.locals.len()).then(|| i - self.nb())
    }

    fn name(&self, id: u32) -> String {
        let i = id as usize;
        if let Some(b) = self.blocks.get(i) {
            b.address.to_string()
        } else if let Some(l) = self.is_local(id) {
            format!("local.{}", self.locals[l])
        } else if id == self.implicit(DataKind::Org) {
            "data.org".to_owned()
        } else {
            "data.caller".to_owned()
        }
    }

    fn target(&self, id: u32) -> Option<DepTarget> {
        let i = id as usize;
        if i < self.nb() {
            Some(DepTarget::Block(id))
        } else if id == self.implicit(DataKind::Org) {
            Some(DepTarget::Implicit(DataKind::Org))
        } else if id == self.implicit(DataKind::Caller) {
            Some(DepTarget::Implicit(DataKind::Caller))
        } else {
            None
        }
    }
}

/// One reference of a block: target id, place, key index, reason.
struct Site {
    target: u32,
    sp: Sp,
    attr: Option<u32>,
    reason: EdgeReason,
}

pub(crate) fn check(m: &mut Manifest, diags: &mut Vec<Diagnostic>) {
    let (deps, order) = {
        let ids = Ids::new(m);
        let c = Checker {
            m,
            ids: &ids,
            diags: Vec::new(),
        };
        let (local_refs, block_refs, output_refs, diags_out) = c.run();
        diags.extend(diags_out);
        analyse(m, &ids, &local_refs, &block_refs, &output_refs, diags)
    };
    for (block, deps) in m.blocks.values_mut().zip(deps) {
        block.deps = deps;
    }
    m.data_order = order;
}

/// Cycles, flattening through locals, data-source rules, secret leaks and
/// the data read order.
fn analyse(
    m: &Manifest,
    ids: &Ids<'_>,
    local_refs: &[Collected],
    block_refs: &[Vec<Site>],
    output_refs: &BTreeMap<String, Collected>,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Vec<Dep>>, Vec<Address>) {
    let nb = ids.nb();
    let total = ids.total();
    let mut adj: Vec<Vec<(u32, Sp)>> = vec![Vec::new(); total];
    for (i, sites) in block_refs.iter().enumerate() {
        adj[i] = sites.iter().map(|s| (s.target, s.sp)).collect();
    }
    for (i, col) in local_refs.iter().enumerate() {
        adj[nb + i].clone_from(&col.sites);
    }
    let cyclic = !acyclic(&adj) && report_cycles(m, ids, &adj, diags);

    // Every block a local reaches, through other locals.
    let mut memo: Vec<Option<Vec<u32>>> = vec![None; ids.locals.len()];
    let mut sens: Vec<Option<Option<String>>> = vec![None; ids.locals.len()];
    for i in 0..ids.locals.len() {
        local_blocks(
            i,
            ids,
            local_refs,
            &mut memo,
            &mut vec![false; ids.locals.len()],
        );
        local_sensitive(
            i,
            ids,
            local_refs,
            &mut sens,
            &mut vec![false; ids.locals.len()],
        );
    }

    let mut all_deps = Vec::with_capacity(nb);
    for (bi, sites) in block_refs.iter().enumerate() {
        let block = ids.blocks[bi];
        let mut deps: Vec<Dep> = Vec::with_capacity(sites.len());
        for site in sites {
            let targets: &[u32] = match ids.is_local(site.target) {
                Some(l) => memo[l].as_deref().unwrap_or_default(),
                None => std::slice::from_ref(&site.target),
            };
            for t in targets {
                if let Some(target) = ids.target(*t) {
                    deps.push(Dep {
                        target,
                        sp: site.sp,
                        attr: site.attr,
                        reason: site.reason,
                    });
                }
            }
        }
        if block.is_data() {
            let mut reported = BTreeSet::new();
            for dep in &deps {
                let DepTarget::Block(t) = dep.target else {
                    continue;
                };
                let target = &ids.blocks[t as usize].address;
                if !target.is_data() && reported.insert(t) {
                    let d = m
                        .files
                        .error(
                            dep.sp,
                            format!("data source `{}` depends on the managed resource `{target}`", block.address),
                        )
                        .with_label("a data source cannot use a resource")
                        .with_address(&block.address)
                        .with_hint("data sources are read at plan time, before anything is created; look the object up by name, or use a variable or literal");
                    diags.push(d);
                }
            }
        }
        all_deps.push(deps);
    }

    // Secrets must not leak into outputs that are not sensitive.
    for (name, col) in output_refs {
        let Some(decl) = m.outputs.get(name) else {
            continue;
        };
        if decl.sensitive {
            continue;
        }
        let via_local = col.sites.iter().find_map(|(n, sp)| {
            let l = ids.is_local(*n)?;
            let what = sens[l].clone().flatten()?;
            Some((*sp, format!("{what} (through `local.{}`)", ids.locals[l])))
        });
        if let Some((sp, what)) = col.sensitive.clone().or(via_local) {
            let d = m
                .files
                .error(sp, format!("output `{name}` reveals {what} but is not marked sensitive"))
                .with_label("sensitive value")
                .with_address(format!("output.{name}"))
                .with_hint(format!("add `sensitive = true` to [output.{name}]; `gcrecon output` then prints it only with --show-sensitive"));
            diags.push(d);
        }
    }

    let order = if cyclic {
        Vec::new()
    } else {
        data_order(ids, &all_deps)
    };
    (all_deps, order)
}

/// Kahn's algorithm: true when the graph has no cycle.
fn acyclic(adj: &[Vec<(u32, Sp)>]) -> bool {
    let mut indeg = vec![0u32; adj.len()];
    for edges in adj {
        for (t, _) in edges {
            indeg[*t as usize] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..adj.len()).filter(|i| indeg[*i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for (t, _) in &adj[i] {
            let d = &mut indeg[*t as usize];
            *d -= 1;
            if *d == 0 {
                ready.push(*t as usize);
            }
        }
    }
    seen == adj.len()
}

fn local_blocks(
    i: usize,
    ids: &Ids<'_>,
    refs: &[Collected],
    memo: &mut Vec<Option<Vec<u32>>>,
    visiting: &mut Vec<bool>,
) -> Vec<u32> {
    if let Some(v) = &memo[i] {
        return v.clone();
    }
    if visiting[i] {
        return Vec::new();
    }
    visiting[i] = true;
    let mut out = BTreeSet::new();
    for (n, _) in &refs[i].sites {
        match ids.is_local(*n) {
            Some(l) => out.extend(local_blocks(l, ids, refs, memo, visiting)),
            None => {
                out.insert(*n);
            }
        }
    }
    visiting[i] = false;
    let out: Vec<u32> = out.into_iter().collect();
    memo[i] = Some(out.clone());
    out
}

fn local_sensitive(
    i: usize,
    ids: &Ids<'_>,
    refs: &[Collected],
    memo: &mut Vec<Option<Option<String>>>,
    visiting: &mut Vec<bool>,
) -> Option<String> {
    if let Some(v) = &memo[i] {
        return v.clone();
    }
    if visiting[i] {
        return None;
    }
    visiting[i] = true;
    let mut out = refs[i].sensitive.as_ref().map(|(_, w)| w.clone());
    if out.is_none() {
        for (n, _) in &refs[i].sites {
            if let Some(l) = ids.is_local(*n) {
                if let Some(w) = local_sensitive(l, ids, refs, memo, visiting) {
                    out = Some(w);
                    break;
                }
            }
        }
    }
    visiting[i] = false;
    memo[i] = Some(out.clone());
    out
}

/// Report every cycle of the static graph. True when there was one.
fn report_cycles(
    m: &Manifest,
    ids: &Ids<'_>,
    adj: &[Vec<(u32, Sp)>],
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let mut g: petgraph::Graph<u32, ()> = petgraph::Graph::with_capacity(adj.len(), 0);
    let nodes: Vec<petgraph::graph::NodeIndex> =
        (0..adj.len()).map(|i| g.add_node(i as u32)).collect();
    for (i, edges) in adj.iter().enumerate() {
        for (t, _) in edges {
            g.update_edge(nodes[i], nodes[*t as usize], ());
        }
    }
    let place = |id: u32| -> (Option<(u32, u32)>, String) {
        let sp = match ids.is_local(id) {
            Some(l) => m.locals.get(ids.locals[l]).map(|d| d.sp),
            None => ids.blocks.get(id as usize).map(|b| b.sp),
        };
        (sp.map(|sp| (sp.file, sp.start)), ids.name(id))
    };
    let mut any = false;
    let mut sccs = petgraph::algo::tarjan_scc(&g);
    sccs.sort_by_key(|scc| scc.iter().map(|i| place(g[*i])).min());
    for scc in sccs {
        let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        any = true;
        let members: BTreeSet<u32> = scc.iter().map(|i| g[*i]).collect();
        // Start where the reader meets the cycle first: the earliest definition.
        let Some(start) = members.iter().copied().min_by_key(|id| place(*id)) else {
            continue;
        };
        let path = find_cycle(start, &members, |i| {
            let mut v: Vec<u32> = adj[i as usize]
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| members.contains(t))
                .collect();
            v.sort_by_key(|t| ids.name(*t));
            v.dedup();
            v
        });
        let shown: Vec<String> = path.iter().map(|n| ids.name(*n)).collect();
        let site = |a: u32, b: u32| -> Option<Sp> {
            adj[a as usize]
                .iter()
                .find(|(t, _)| *t == b)
                .map(|(_, sp)| *sp)
        };
        let mut d = Diagnostic::error(format!("dependency cycle: {}", shown.join(" -> ")))
            .with_address(&shown[0])
            .with_hint("break the cycle: remove one of these references or `depends_on` entries");
        for (i, w) in path.windows(2).enumerate() {
            let Some(sp) = site(w[0], w[1]) else { continue };
            let Some(span) = m.files.span(sp) else {
                continue;
            };
            let text = format!("{} refers to {} here", ids.name(w[0]), ids.name(w[1]));
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

/// Data blocks in dependency order: the apply order of their graph
/// (ties by address).
fn data_order(ids: &Ids<'_>, deps: &[Vec<Dep>]) -> Vec<Address> {
    let mut graph = ResourceGraph::new();
    for b in (0..ids.nb()).filter(|i| ids.blocks[*i].is_data()) {
        let me = NodeKind::Data(ids.blocks[b].address.clone());
        graph.add_node(me.clone());
        for d in &deps[b] {
            if let DepTarget::Block(t) = d.target {
                let t = t as usize;
                if t != b && ids.blocks[t].is_data() {
                    graph.add_edge(
                        NodeKind::Data(ids.blocks[t].address.clone()),
                        me.clone(),
                        EdgeReason::Reference,
                    );
                }
            }
        }
    }
    graph
        .apply_order()
        .into_iter()
        .map(|n| n.address().clone())
        .collect()
}

struct Checker<'m, 'i> {
    m: &'m Manifest,
    ids: &'i Ids<'m>,
    diags: Vec<Diagnostic>,
}

impl Checker<'_, '_> {
    #[allow(clippy::type_complexity)]
    fn run(
        mut self,
    ) -> (
        Vec<Collected>,
        Vec<Vec<Site>>,
        BTreeMap<String, Collected>,
        Vec<Diagnostic>,
    ) {
        let m = self.m;
        let mut locals = Vec::with_capacity(m.locals.len());
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
            locals.push(col);
        }
        let mut blocks = Vec::with_capacity(m.blocks.len());
        for (addr, block) in &m.blocks {
            let owner: &Address = addr;
            let mut sites: Vec<Site> = Vec::new();
            let scope = if block.for_each.is_some() {
                EachScope::Allowed
            } else {
                EachScope::NoForEach
            };
            for (ai, attr) in block.attrs.iter().enumerate() {
                let mut col = Collected::default();
                self.node(&attr.value, &Where { owner, each: scope }, &mut col);
                sites.extend(col.sites.into_iter().map(|(target, sp)| Site {
                    target,
                    sp,
                    attr: Some(ai as u32),
                    reason: EdgeReason::Reference,
                }));
            }
            if let Some(fe) = &block.for_each {
                let mut col = Collected::default();
                self.node(
                    fe,
                    &Where {
                        owner,
                        each: EachScope::InForEach,
                    },
                    &mut col,
                );
                sites.extend(col.sites.into_iter().map(|(target, sp)| Site {
                    target,
                    sp,
                    attr: None,
                    reason: EdgeReason::Reference,
                }));
            }
            if let Some(when) = &block.when {
                let mut col = Collected::default();
                self.node(when, &Where { owner, each: scope }, &mut col);
                sites.extend(col.sites.into_iter().map(|(target, sp)| Site {
                    target,
                    sp,
                    attr: None,
                    reason: EdgeReason::Reference,
                }));
            }
            for (target, sp) in &block.depends_on {
                if self.check_depends_on(block, target, *sp) {
                    if let Some(id) = self.ids.block(target.target, &target.name) {
                        sites.push(Site {
                            target: id,
                            sp: *sp,
                            attr: None,
                            reason: EdgeReason::DependsOn,
                        });
                    }
                }
            }
            blocks.push(sites);
        }
        let mut outputs = BTreeMap::new();
        for (name, decl) in &m.outputs {
            let owner = format!("output.{name}");
            let mut col = Collected::default();
            let w = Where {
                owner: &owner,
                each: if decl.for_each.is_some() {
                    EachScope::Allowed
                } else {
                    EachScope::Output
                },
            };
            if let Some(v) = &decl.value {
                self.node(v, &w, &mut col);
            }
            if let Some(when) = &decl.when {
                self.node(when, &w, &mut Collected::default());
            }
            if let Some(fe) = &decl.for_each {
                let w = Where {
                    owner: &owner,
                    each: EachScope::InForEach,
                };
                self.node(fe, &w, &mut col);
            }
            outputs.insert(name.clone(), col);
        }
        (locals, blocks, outputs, self.diags)
    }

    fn check_depends_on(&mut self, block: &Block, target: &Address, sp: Sp) -> bool {
        let owner = &block.address;
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
                .with_address(owner);
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
                .with_address(owner)
                .with_hint(format!("write `\"{}\"`", target.block()));
            self.diags.push(d);
            return false;
        }
        if target.block() == block.address {
            let d = self
                .m
                .files
                .error(sp, format!("`{owner}` depends on itself"))
                .with_address(owner)
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
        owner: &dyn std::fmt::Display,
    ) -> Diagnostic {
        self.m
            .files
            .error(Sp::new(file, pos.clone()), message)
            .with_address(owner)
    }

    fn expr(&mut self, e: &Expr, file: u32, w: &Where<'_>, out: &mut Collected) {
        match &e.kind {
            ExprKind::Str(_) | ExprKind::Number(_) | ExprKind::Bool(_) => {}
            ExprKind::Var(name) => self.variable(name, e, file, w, out),
            ExprKind::Local(name) => self.local(name, e, file, w, out),
            ExprKind::EachKey | ExprKind::EachValue => self.each(e, file, w),
            ExprKind::Resource {
                kind,
                name,
                key,
                attr,
                attr_pos,
            } => self.resource_attr(*kind, name, key.as_deref(), attr, attr_pos, e, file, w, out),
            ExprKind::Data {
                kind,
                name,
                key,
                attr,
                attr_pos,
            } => self.data_attr(*kind, name, key.as_deref(), attr, attr_pos, e, file, w, out),
            ExprKind::Block { target, name, key } => {
                if let Some(k) = key {
                    self.expr(k, file, w, out);
                }
                let id = match target {
                    Target::Data(kind) if kind.is_implicit() => self.ids.implicit(*kind),
                    _ => {
                        match self.check_block_ref(*target, name, key.as_deref(), e, file, w, true)
                        {
                            Some(id) => id,
                            None => return,
                        }
                    }
                };
                out.sites.push((id, Sp::new(file, e.pos.clone())));
            }
            ExprKind::Null
            | ExprKind::Ident(_)
            | ExprKind::SplatItem
            | ExprKind::Index(..)
            | ExprKind::Field(..)
            | ExprKind::Splat { .. }
            | ExprKind::List(_)
            | ExprKind::Object(_)
            | ExprKind::Unary(..)
            | ExprKind::Binary(..)
            | ExprKind::Cond(..)
            | ExprKind::Call { .. }
            | ExprKind::For(_) => {
                for c in e.children() {
                    self.expr(c, file, w, out);
                }
            }
        }
    }

    /// `var.NAME`: declared; a sensitive one marks what is collected.
    fn variable(&mut self, name: &str, e: &Expr, file: u32, w: &Where<'_>, out: &mut Collected) {
        let m = self.m;
        match m.variables.get(name) {
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
        }
    }

    /// `local.NAME`: defined in `[locals]`.
    fn local(&mut self, name: &str, e: &Expr, file: u32, w: &Where<'_>, out: &mut Collected) {
        let m = self.m;
        if let Some(id) = self.ids.local_id.get(name) {
            out.sites.push((*id, Sp::new(file, e.pos.clone())));
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

    /// `each.key` or `each.value`: only where `for_each` defines them.
    fn each(&mut self, e: &Expr, file: u32, w: &Where<'_>) {
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
                format!("`{which}` is used in `{}`, which has no `for_each`", w.owner),
                format!("add `for_each = ...` to `{}` (one output per element), reference one instance (`${{role.x[\"KEY\"].id}}`), or build a map: `${{ {{for k, r in role.x : k => r.id}} }}`", w.owner),
            ),
        };
        let d = self
            .err(file, &e.pos, msg, w.owner)
            .with_label("`each` outside for_each")
            .with_hint(hint);
        self.diags.push(d);
    }

    /// `KIND.NAME[KEY].ATTR`: the block exists and has the attribute.
    #[allow(clippy::too_many_arguments)]
    fn resource_attr(
        &mut self,
        kind: Kind,
        name: &str,
        key: Option<&Expr>,
        attr: &str,
        attr_pos: &std::ops::Range<usize>,
        e: &Expr,
        file: u32,
        w: &Where<'_>,
        out: &mut Collected,
    ) {
        if let Some(k) = key {
            self.expr(k, file, w, out);
        }
        let target = Target::Resource(kind);
        let Some(id) = self.check_block_ref(target, name, key, e, file, w, false) else {
            return;
        };
        let spec = kind.spec();
        if !spec.is_open() && !spec.has_attribute(attr) {
            let addr = Address::resource(kind, name.to_owned());
            self.unknown_attr(&addr, attr, &resource_attributes(kind), file, attr_pos, w);
            return;
        }
        if spec.sensitive.contains(&attr) && out.sensitive.is_none() {
            out.sensitive = Some((
                Sp::new(file, e.pos.clone()),
                format!("the secret `{kind}.{name}.{attr}`"),
            ));
        }
        out.sites.push((id, Sp::new(file, e.pos.clone())));
    }

    /// `data.KIND.NAME[KEY].ATTR`: the data source exists and has the attribute.
    #[allow(clippy::too_many_arguments)]
    fn data_attr(
        &mut self,
        kind: DataKind,
        name: &str,
        key: Option<&Expr>,
        attr: &str,
        attr_pos: &std::ops::Range<usize>,
        e: &Expr,
        file: u32,
        w: &Where<'_>,
        out: &mut Collected,
    ) {
        if let Some(k) = key {
            self.expr(k, file, w, out);
        }
        let target = Target::Data(kind);
        let id = if kind.is_implicit() {
            self.ids.implicit(kind)
        } else {
            match self.check_block_ref(target, name, key, e, file, w, false) {
                Some(id) => id,
                None => return,
            }
        };
        let (_, attrs) = schema::data_keys(kind);
        if !attrs.contains(&attr) {
            let addr = Address::data(kind, name.to_owned());
            self.unknown_attr(&addr, attr, attrs, file, attr_pos, w);
            return;
        }
        out.sites.push((id, Sp::new(file, e.pos.clone())));
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

    /// The block exists and the instance key matches its `for_each`
    /// (`whole`: a reference to the block itself, which may omit the key).
    #[allow(clippy::too_many_arguments)]
    fn check_block_ref(
        &mut self,
        target: Target,
        name: &str,
        key: Option<&Expr>,
        e: &Expr,
        file: u32,
        w: &Where<'_>,
        whole: bool,
    ) -> Option<u32> {
        let m = self.m;
        let found = self.ids.block(target, name);
        let Some(block) = found.and_then(|id| self.ids.blocks.get(id as usize)) else {
            let addr = &Address {
                target,
                name: name.into(),
                key: None,
            };
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
            return None;
        };
        let addr = &block.address;
        let ok = match (key, &block.for_each) {
            (None, Some(_)) if whole => true,
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
                    return found;
                };
                if keys.iter().any(|x| x == key) {
                    return found;
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
        };
        if ok {
            found
        } else {
            None
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

/// The resource blocks that reference no managed resource
/// ([`Manifest::resource_free_blocks`]).
#[derive(Debug)]
pub struct ResourceFree<'m>(FxHashSet<(Target, &'m str)>);

impl ResourceFree<'_> {
    /// Whether the block of `address` (its key ignored) is one of them.
    pub fn contains(&self, address: &Address) -> bool {
        self.0.contains(&(address.target, address.name.as_str()))
    }
}

impl Manifest {
    /// The resource blocks none of whose instances references a managed
    /// resource, in a key, `for_each`, `when`, a local it reads or
    /// `depends_on` (a block that references its own instances is not one).
    /// Data sources and `data.org`/`data.caller` do not count: their values
    /// are read once, before any resource is evaluated. An instance of such
    /// a block evaluates the same whatever ids the resources have, so it
    /// need not be evaluated again once they are known.
    pub fn resource_free_blocks(&self) -> ResourceFree<'_> {
        let is_data: Vec<bool> = self.blocks.values().map(|b| b.is_data()).collect();
        let free = self
            .blocks
            .values()
            .filter(|b| !b.is_data())
            .filter(|b| {
                b.deps.iter().all(|d| match d.target {
                    DepTarget::Block(t) => is_data[t as usize],
                    DepTarget::Implicit(_) => true,
                })
            })
            .map(|b| (b.address.target, b.address.name.as_str()))
            .collect();
        ResourceFree(free)
    }

    /// The block-level graph, built offline for `validate` and `graph`:
    /// one node per block (a `for_each` block stands for all its instances
    /// and prints as `role.x[*]`), data sources, and the caller-grant nodes
    /// of roles referenced from `oauth_client.roles`.
    pub fn block_graph(&self) -> ResourceGraph {
        let mut g = ResourceGraph::new();
        let blocks: Vec<&Block> = self.blocks.values().map(|b| &**b).collect();
        let nodes: Vec<_> = blocks
            .iter()
            .map(|b| {
                if b.for_each.is_some() {
                    g.mark_expanded(b.address.clone());
                }
                g.insert(NodeKind::of(b.address.clone()))
            })
            .collect();
        let implicit =
            |g: &mut ResourceGraph, k: DataKind| g.insert(NodeKind::Data(Address::data(k, "")));
        for (bi, block) in blocks.iter().enumerate() {
            let me = nodes[bi];
            let client = block.address.kind() == Some(Kind::OauthClient);
            for dep in &block.deps {
                let (from, target) = match dep.target {
                    DepTarget::Block(t) if t as usize == bi => continue,
                    DepTarget::Block(t) => (nodes[t as usize], &blocks[t as usize].address),
                    DepTarget::Implicit(k) => {
                        let n = implicit(&mut g, k);
                        g.link(n, me, dep.reason);
                        continue;
                    }
                };
                g.link(from, me, dep.reason);
                let is_role = matches!(
                    target.target,
                    Target::Resource(Kind::Role) | Target::Data(DataKind::Role)
                );
                let in_roles = dep
                    .attr
                    .and_then(|a| block.attrs.get(a as usize))
                    .is_some_and(|a| a.key == "roles");
                if client && in_roles && is_role {
                    let grant = g.insert(NodeKind::CallerGrant {
                        role: target.clone(),
                    });
                    g.link(from, grant, EdgeReason::CallerGrant);
                    g.link(grant, me, EdgeReason::CallerGrant);
                }
            }
        }
        g
    }
}
