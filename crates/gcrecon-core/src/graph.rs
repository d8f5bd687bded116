//! The resource graph: which resource and data source instances depend on
//! which, in what order to apply and destroy them, and the synthetic
//! caller-grant nodes the platform demands.
//!
//! An edge runs from a dependency to its dependent (`role.adapter ->
//! oauth_client.apidata`): [`ResourceGraph::apply_order`] is a topological
//! order, dependencies first; [`ResourceGraph::destroy_order`] is its reverse.
//! Genesys Cloud lets a caller give an OAuth client only roles the caller
//! itself holds, so every role referenced from an `oauth_client.roles` entry
//! gets a [`NodeKind::CallerGrant`] node between the role and the clients
//! (`role -> caller grant -> client`); the engine decides at plan time whether
//! the grant is needed, already held, or refused (`grant_to_caller = "never"`).
//!
//! Orders are deterministic: among nodes that are ready at the same time,
//! data sources come first, then everything else by address.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};

use petgraph::algo::tarjan_scc;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use petgraph::Direction;

use crate::address::Address;
use crate::fxhash::{FxHashMap, FxHashSet};

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// A managed resource instance (or block, in the block graph).
    Resource(Address),
    /// A data source instance (or block).
    Data(Address),
    /// Granting `role` (a `role.x` or `data.role.x` address) to the caller,
    /// so that the caller may then give it to OAuth clients.
    CallerGrant { role: Address },
}

impl NodeKind {
    /// The address of the resource, data source, or granted role.
    pub fn address(&self) -> &Address {
        match self {
            NodeKind::Resource(a) | NodeKind::Data(a) => a,
            NodeKind::CallerGrant { role } => role,
        }
    }

    /// The node for an address: `Data` for `data.*`, else `Resource`.
    pub fn of(address: Address) -> NodeKind {
        if address.is_data() {
            NodeKind::Data(address)
        } else {
            NodeKind::Resource(address)
        }
    }

    fn rank(&self) -> u8 {
        match self {
            NodeKind::Data(_) => 0,
            NodeKind::Resource(_) | NodeKind::CallerGrant { .. } => 1,
        }
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeKind::Resource(a) | NodeKind::Data(a) => write!(f, "{a}"),
            NodeKind::CallerGrant { role } => write!(f, "caller_grant({role})"),
        }
    }
}

/// Why an edge exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EdgeReason {
    /// The dependent references the dependency (`${role.x.id}`).
    Reference,
    /// `depends_on` names the dependency.
    DependsOn,
    /// Role → caller grant → OAuth client: Genesys Cloud lets a caller give
    /// an OAuth client only roles it holds.
    CallerGrant,
}

impl EdgeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeReason::Reference => "reference",
            EdgeReason::DependsOn => "depends_on",
            EdgeReason::CallerGrant => "caller grant",
        }
    }

    /// A sentence for humans.
    pub fn explain(self) -> &'static str {
        match self {
            EdgeReason::Reference => "references it",
            EdgeReason::DependsOn => "names it in depends_on",
            EdgeReason::CallerGrant => {
                "Genesys Cloud lets a caller give an OAuth client only roles it holds"
            }
        }
    }
}

/// An edge, from dependency to dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub reason: EdgeReason,
}

/// The dependency graph of resource and data source instances.
#[derive(Clone, Debug, Default)]
pub struct ResourceGraph {
    graph: StableDiGraph<NodeKind, Edge>,
    index: FxHashMap<NodeKind, NodeIndex>,
    /// Edges present, to add each (dependency, dependent, reason) once.
    edge_set: FxHashSet<(NodeIndex, NodeIndex, EdgeReason)>,
    /// Blocks with `for_each` in a block graph: rendered `role.x[*]`.
    expanded: BTreeSet<Address>,
}

impl ResourceGraph {
    /// An empty graph.
    pub fn new() -> Self {
        ResourceGraph::default()
    }

    /// Add a node (no-op when present).
    pub fn add_node(&mut self, node: NodeKind) {
        self.insert(node);
    }

    /// Add a node (when absent) and return its index.
    pub(crate) fn insert(&mut self, node: NodeKind) -> NodeIndex {
        if let Some(i) = self.index.get(&node) {
            return *i;
        }
        let i = self.graph.add_node(node.clone());
        self.index.insert(node, i);
        i
    }

    /// Add an edge between nodes already present (once per reason).
    pub(crate) fn link(&mut self, a: NodeIndex, b: NodeIndex, reason: EdgeReason) {
        if self.edge_set.insert((a, b, reason)) {
            self.graph.add_edge(a, b, Edge { reason });
        }
    }

    /// Add an edge `dependency -> dependent` (nodes are added as needed; an
    /// edge already present with the same reason is not added twice).
    pub fn add_edge(&mut self, dependency: NodeKind, dependent: NodeKind, reason: EdgeReason) {
        let a = self.insert(dependency);
        let b = self.insert(dependent);
        if !self.edge_set.insert((a, b, reason)) {
            return;
        }
        self.graph.add_edge(a, b, Edge { reason });
    }

    /// Mark a block-graph node as standing for all instances of a
    /// `for_each` block (`role.x[*]`).
    pub fn mark_expanded(&mut self, block: Address) {
        self.expanded.insert(block);
    }

    /// Whether the node stands for all instances of a `for_each` block.
    pub fn is_expanded(&self, address: &Address) -> bool {
        self.expanded.contains(address)
    }

    pub fn contains(&self, node: &NodeKind) -> bool {
        self.index.contains_key(node)
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Every node, sorted.
    pub fn nodes(&self) -> Vec<NodeKind> {
        let mut v: Vec<NodeKind> = self.index.keys().cloned().collect();
        v.sort();
        v
    }

    /// Every edge `(dependency, dependent, reason)`, sorted.
    pub fn edges(&self) -> Vec<(NodeKind, NodeKind, EdgeReason)> {
        let mut v: Vec<_> = self
            .graph
            .edge_references()
            .map(|e| {
                (
                    self.graph[e.source()].clone(),
                    self.graph[e.target()].clone(),
                    e.weight().reason,
                )
            })
            .collect();
        v.sort();
        v
    }

    /// What `node` depends on, sorted.
    pub fn dependencies(&self, node: &NodeKind) -> Vec<NodeKind> {
        self.neighbors(node, Direction::Incoming)
    }

    /// What depends on `node`, sorted.
    pub fn dependents(&self, node: &NodeKind) -> Vec<NodeKind> {
        self.neighbors(node, Direction::Outgoing)
    }

    /// The edges into `node`: `(dependency, reason)`, sorted.
    pub fn dependency_edges(&self, node: &NodeKind) -> Vec<(NodeKind, EdgeReason)> {
        let Some(&i) = self.index.get(node) else {
            return Vec::new();
        };
        let mut v: Vec<_> = self
            .graph
            .edges_directed(i, Direction::Incoming)
            .map(|e| (self.graph[e.source()].clone(), e.weight().reason))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn neighbors(&self, node: &NodeKind, dir: Direction) -> Vec<NodeKind> {
        let Some(&i) = self.index.get(node) else {
            return Vec::new();
        };
        let mut v: Vec<NodeKind> = self
            .graph
            .neighbors_directed(i, dir)
            .map(|n| self.graph[n].clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every node, dependencies first. Nodes on a cycle (which a validated
    /// manifest never has) come last, in address order.
    pub fn apply_order(&self) -> Vec<NodeKind> {
        let mut indegree: HashMap<NodeIndex, usize> =
            HashMap::with_capacity(self.graph.node_count());
        for i in self.graph.node_indices() {
            let mut preds: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(i, Direction::Incoming)
                .collect();
            preds.sort();
            preds.dedup();
            indegree.insert(i, preds.len());
        }
        let key = |i: NodeIndex| (self.graph[i].rank(), self.graph[i].clone());
        let mut ready: BTreeMap<(u8, NodeKind), NodeIndex> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(i, _)| (key(*i), *i))
            .collect();
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some((_, i)) = ready.pop_first() {
            order.push(self.graph[i].clone());
            let mut succ: Vec<NodeIndex> = self
                .graph
                .neighbors_directed(i, Direction::Outgoing)
                .collect();
            succ.sort();
            succ.dedup();
            for s in succ {
                if let Some(d) = indegree.get_mut(&s) {
                    *d -= 1;
                    if *d == 0 {
                        ready.insert(key(s), s);
                    }
                }
            }
        }
        if order.len() < self.graph.node_count() {
            let done: BTreeSet<&NodeKind> = order.iter().collect();
            let mut rest: Vec<NodeKind> = self
                .graph
                .node_indices()
                .map(|i| self.graph[i].clone())
                .filter(|n| !done.contains(n))
                .collect();
            rest.sort();
            order.extend(rest);
        }
        order
    }

    /// Every node, dependents first: the reverse of [`Self::apply_order`].
    pub fn destroy_order(&self) -> Vec<NodeKind> {
        let mut v = self.apply_order();
        v.reverse();
        v
    }

    /// Every cycle (strongly connected component with more than one node,
    /// or a node depending on itself), each as a closed path
    /// `[a, b, a]`.
    pub fn cycles(&self) -> Vec<Vec<NodeKind>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let Some(&start) = scc.iter().min_by_key(|i| self.graph[**i].clone()) else {
                continue;
            };
            let path = find_cycle(start, &members, |i| {
                let mut v: Vec<NodeIndex> = self
                    .graph
                    .neighbors_directed(i, Direction::Outgoing)
                    .collect();
                v.sort_by_key(|n| self.graph[*n].clone());
                v
            });
            out.push(path.into_iter().map(|i| self.graph[i].clone()).collect());
        }
        out.sort();
        out
    }

    fn label(&self, node: &NodeKind) -> String {
        let star = |a: &Address| {
            if a.key.is_none() && self.expanded.contains(a) {
                format!("{a}[*]")
            } else {
                a.to_string()
            }
        };
        match node {
            NodeKind::Resource(a) | NodeKind::Data(a) => star(a),
            NodeKind::CallerGrant { role } => format!("caller_grant({})", star(role)),
        }
    }

    /// Graphviz DOT: edges from dependency to dependent, labelled with the
    /// reason.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph gcrecon {\n  rankdir = \"LR\";\n  node [fontname = \"Helvetica\"];\n",
        );
        for node in self.apply_order() {
            let shape = match node {
                NodeKind::Resource(_) => "shape = box",
                NodeKind::Data(_) => "shape = ellipse, style = dashed",
                NodeKind::CallerGrant { .. } => "shape = diamond",
            };
            let _ = writeln!(out, "  {} [{shape}];", dot_quote(&self.label(&node)));
        }
        for (a, b, reason) in self.edges() {
            let style = match reason {
                EdgeReason::Reference => "",
                EdgeReason::DependsOn => ", style = dashed",
                EdgeReason::CallerGrant => ", style = bold",
            };
            let _ = writeln!(
                out,
                "  {} -> {} [label = {}{style}];",
                dot_quote(&self.label(&a)),
                dot_quote(&self.label(&b)),
                dot_quote(reason.as_str())
            );
        }
        out.push_str("}\n");
        out
    }

    /// Plain text: every node in apply order, each followed by what it waits
    /// for and why.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for node in self.apply_order() {
            let _ = writeln!(out, "{}", self.label(&node));
            for (dep, reason) in self.dependency_edges(&node) {
                let why = match reason {
                    EdgeReason::CallerGrant => format!("caller grant: {}", reason.explain()),
                    other => other.as_str().to_owned(),
                };
                let _ = writeln!(out, "  after {} ({why})", self.label(&dep));
            }
        }
        out
    }
}

/// A closed path `[start, .., start]` inside `members`, following `succ`.
pub(crate) fn find_cycle<N: Copy + Ord>(
    start: N,
    members: &BTreeSet<N>,
    succ: impl Fn(N) -> Vec<N>,
) -> Vec<N> {
    // Iterative DFS with parent links; the first edge back to `start` closes the cycle.
    let mut parent: BTreeMap<N, N> = BTreeMap::new();
    let mut stack = vec![start];
    let mut visited: BTreeSet<N> = BTreeSet::new();
    while let Some(n) = stack.pop() {
        if !visited.insert(n) {
            continue;
        }
        let mut next = succ(n);
        next.reverse();
        for s in next {
            if s == start {
                let mut chain = Vec::new();
                let mut cur = n;
                while cur != start {
                    chain.push(cur);
                    match parent.get(&cur) {
                        Some(p) => cur = *p,
                        None => break,
                    }
                }
                chain.reverse();
                let mut path = vec![start];
                path.extend(chain);
                path.push(start);
                return path;
            }
            if members.contains(&s) && !visited.contains(&s) {
                parent.entry(s).or_insert(n);
                stack.push(s);
            }
        }
    }
    vec![start, start]
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{DataKind, Kind};

    fn r(kind: Kind, name: &str) -> NodeKind {
        NodeKind::Resource(Address::resource(kind, name))
    }

    #[test]
    fn orders_follow_edges_and_are_deterministic() {
        let mut g = ResourceGraph::new();
        let role = Address::resource(Kind::Role, "adapter");
        let client = r(Kind::OauthClient, "api");
        let grant = NodeKind::CallerGrant { role: role.clone() };
        let div = NodeKind::Data(Address::data(DataKind::Division, "home"));
        g.add_edge(
            NodeKind::Resource(role.clone()),
            grant.clone(),
            EdgeReason::CallerGrant,
        );
        g.add_edge(grant.clone(), client.clone(), EdgeReason::CallerGrant);
        g.add_edge(
            NodeKind::Resource(role.clone()),
            client.clone(),
            EdgeReason::Reference,
        );
        g.add_edge(div.clone(), r(Kind::Group, "g"), EdgeReason::Reference);
        g.add_node(r(Kind::Division, "a"));
        let order = g.apply_order();
        assert_eq!(
            order,
            vec![
                div,
                r(Kind::Division, "a"),
                NodeKind::Resource(role.clone()),
                r(Kind::Group, "g"),
                grant.clone(),
                client.clone()
            ]
        );
        let mut rev = order;
        rev.reverse();
        assert_eq!(g.destroy_order(), rev);
        assert_eq!(
            g.dependencies(&client),
            vec![NodeKind::Resource(role.clone()), grant.clone()]
        );
        assert_eq!(g.dependents(&NodeKind::Resource(role)), vec![client, grant]);
        assert!(g.cycles().is_empty());
        assert!(g.to_text().contains("after caller_grant(role.adapter) (caller grant: Genesys Cloud lets a caller give an OAuth client only roles it holds)"));
        assert!(g.to_dot().contains("\"role.adapter\" -> \"caller_grant(role.adapter)\" [label = \"caller grant\", style = bold];"));
    }

    #[test]
    fn cycles_are_found_as_closed_paths() {
        let mut g = ResourceGraph::new();
        let (a, b, c) = (
            r(Kind::Role, "a"),
            r(Kind::Group, "b"),
            r(Kind::Division, "c"),
        );
        g.add_edge(a.clone(), b.clone(), EdgeReason::Reference);
        g.add_edge(b.clone(), c.clone(), EdgeReason::Reference);
        g.add_edge(c.clone(), a.clone(), EdgeReason::Reference);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        let cyc = &cycles[0];
        assert_eq!(cyc.first(), cyc.last());
        assert_eq!(cyc, &vec![c.clone(), a, b, c]);
        assert_eq!(g.apply_order().len(), 3);
    }
}
