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
//!
//! [`Walk`] is the one topological walk in gcrecon: a ready set the caller
//! takes nodes from and reports each node's outcome to
//! ([`Walk::complete`]). A failed node marks everything that waits on it,
//! directly or not, skipped; independent branches go on. It runs dependencies
//! first ([`Walk::new`]) or dependents first ([`Walk::reverse`]), and it is
//! pure: the engine's apply walk drives it with bounded parallelism, and
//! [`ResourceGraph::apply_order`] is a walk in which every node succeeds. An
//! apply graph also holds [`NodeKind::Destroy`] nodes: deleting an object
//! the manifest no longer has (or the old half of a replacement), after
//! whatever depended on it in the state is deleted.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::{self, Write as _};

use petgraph::algo::{has_path_connecting, tarjan_scc};
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{EdgeRef, IntoEdgeReferences, NodeIndexable};
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
    /// Deleting the object recorded at this address (apply graphs only):
    /// an object the manifest no longer has, or the old object of a
    /// replacement.
    Destroy(Address),
}

impl NodeKind {
    /// The address of the resource, data source, or granted role.
    pub fn address(&self) -> &Address {
        match self {
            NodeKind::Resource(a) | NodeKind::Data(a) | NodeKind::Destroy(a) => a,
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
            NodeKind::Resource(_) | NodeKind::CallerGrant { .. } | NodeKind::Destroy(_) => 1,
        }
    }
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeKind::Resource(a) | NodeKind::Data(a) => write!(f, "{a}"),
            NodeKind::CallerGrant { role } => write!(f, "caller_grant({role})"),
            NodeKind::Destroy(a) => write!(f, "destroy({a})"),
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
    /// A replacement (apply graphs only): the old object is deleted before
    /// the new one is created.
    Replace,
}

impl EdgeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeReason::Reference => "reference",
            EdgeReason::DependsOn => "depends_on",
            EdgeReason::CallerGrant => "caller grant",
            EdgeReason::Replace => "replace",
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
            EdgeReason::Replace => "replaces it: the old object goes first",
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

    /// An empty graph with room for `nodes` nodes: a graph of many
    /// instances is built without growing its node list and index again
    /// and again.
    pub fn with_capacity(nodes: usize) -> Self {
        let mut index = FxHashMap::default();
        index.reserve(nodes);
        ResourceGraph {
            graph: StableDiGraph::with_capacity(nodes, 0),
            index,
            ..ResourceGraph::default()
        }
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

    /// Everything `node` depends on, directly or not, sorted.
    pub fn ancestors(&self, node: &NodeKind) -> Vec<NodeKind> {
        let Some(&start) = self.index.get(node) else {
            return Vec::new();
        };
        let mut seen: FxHashSet<NodeIndex> = FxHashSet::default();
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            for p in self.graph.neighbors_directed(i, Direction::Incoming) {
                if p != start && seen.insert(p) {
                    stack.push(p);
                }
            }
        }
        let mut v: Vec<NodeKind> = seen.into_iter().map(|i| self.graph[i].clone()).collect();
        v.sort();
        v
    }

    /// True when `dependent` depends on `dependency`, directly or not.
    pub fn depends_on(&self, dependent: &NodeKind, dependency: &NodeKind) -> bool {
        match (self.index.get(dependency), self.index.get(dependent)) {
            (Some(&a), Some(&b)) if a != b => has_path_connecting(&self.graph, a, b, None),
            _ => false,
        }
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

    /// Every node, dependencies first: a [`Walk`] in which every node
    /// succeeds. Nodes on a cycle (which a validated manifest never has)
    /// come last, in address order.
    pub fn apply_order(&self) -> Vec<NodeKind> {
        self.apply_order_nodes().into_iter().cloned().collect()
    }

    /// [`Self::apply_order`], borrowed from the graph: no copy of each node.
    pub fn apply_order_nodes(&self) -> Vec<&NodeKind> {
        let mut walk = Walk::new(self);
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some(i) = walk.next_ready_index() {
            walk.complete_index(i, true);
            order.push(&self.graph[i]);
        }
        order.extend(walk.unreached_indices().into_iter().map(|i| &self.graph[i]));
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
            NodeKind::Destroy(a) => format!("destroy({})", star(a)),
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
                NodeKind::Destroy(_) => "shape = box, style = dotted",
            };
            let _ = writeln!(out, "  {} [{shape}];", dot_quote(&self.label(&node)));
        }
        for (a, b, reason) in self.edges() {
            let style = match reason {
                EdgeReason::Reference => "",
                EdgeReason::DependsOn => ", style = dashed",
                EdgeReason::CallerGrant => ", style = bold",
                EdgeReason::Replace => ", style = dotted",
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

/// How a node of a [`Walk`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalkOutcome {
    /// Completed successfully.
    Done,
    /// Completed with a failure.
    Failed,
    /// Never run: `because` failed, and this node waits on it (directly or
    /// through other nodes).
    Skipped { because: NodeKind },
}

/// A walk over a [`ResourceGraph`] in dependency order (Terraform's walker
/// without the threads): the caller takes ready nodes with
/// [`Walk::next_ready`], runs as many at once as it likes, and reports each
/// one with [`Walk::complete`]. A node becomes ready when everything it
/// waits on is done; when a node fails, everything waiting on it is skipped,
/// and the nodes that do not wait on it go on.
///
/// Forward ([`Walk::new`]) a node waits on its dependencies: the apply
/// order. Reverse ([`Walk::reverse`]) it waits on its dependents: the
/// destroy order. Among ready nodes, data sources come first, then the
/// rest by address, so a walk taken one node at a time is deterministic.
#[derive(Debug)]
pub struct Walk<'g> {
    graph: &'g ResourceGraph,
    reverse: bool,
    /// Per node index: how many edges into what it waits on lead from
    /// unfinished nodes (several edges between two nodes count each).
    waiting: Vec<usize>,
    /// Per node index: `None` until it finished, was skipped or is running.
    state: Vec<Option<NodeState>>,
    /// Per node index: its place in the order ready nodes are taken in
    /// (data sources first, then by node), computed once.
    place: Vec<u32>,
    /// Ready nodes, the first place on top.
    ready: BinaryHeap<Reverse<(u32, NodeIndex)>>,
    running: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum NodeState {
    Running,
    Finished(WalkOutcome),
}

impl<'g> Walk<'g> {
    /// Dependencies first.
    pub fn new(graph: &'g ResourceGraph) -> Self {
        Walk::start(graph, false)
    }

    /// Dependents first: every node waits on what depends on it.
    pub fn reverse(graph: &'g ResourceGraph) -> Self {
        Walk::start(graph, true)
    }

    fn start(graph: &'g ResourceGraph, reverse: bool) -> Self {
        let bound = graph.graph.node_bound();
        // Sorted once, borrowing the nodes; nodes are mostly added in
        // address order, which the stable sort finds as runs.
        let mut by_place: Vec<NodeIndex> = graph.graph.node_indices().collect();
        by_place.sort_by(|a, b| {
            let (a, b) = (&graph.graph[*a], &graph.graph[*b]);
            (a.rank(), a).cmp(&(b.rank(), b))
        });
        let mut place = vec![0u32; bound];
        for (p, i) in by_place.iter().enumerate() {
            place[i.index()] = u32::try_from(p).unwrap_or(u32::MAX);
        }
        let mut walk = Walk {
            graph,
            reverse,
            waiting: vec![0; bound],
            state: vec![None; bound],
            place,
            ready: BinaryHeap::new(),
            running: 0,
        };
        // Heapified once: most nodes of a plan wait on nothing.
        let mut ready = Vec::new();
        for i in graph.graph.node_indices() {
            let n = graph.graph.edges_directed(i, walk.before()).count();
            walk.waiting[i.index()] = n;
            if n == 0 {
                ready.push(Reverse(walk.key(i)));
            }
        }
        walk.ready = BinaryHeap::from(ready);
        walk
    }

    /// The direction of the edges into what a node waits on.
    fn before(&self) -> Direction {
        if self.reverse {
            Direction::Outgoing
        } else {
            Direction::Incoming
        }
    }

    fn key(&self, i: NodeIndex) -> (u32, NodeIndex) {
        (self.place[i.index()], i)
    }

    /// Take the first ready node; it counts as running until
    /// [`Walk::complete`] reports it.
    pub fn next_ready(&mut self) -> Option<NodeKind> {
        self.next_ready_index().map(|i| self.graph.graph[i].clone())
    }

    fn next_ready_index(&mut self) -> Option<NodeIndex> {
        let Reverse((_, i)) = self.ready.pop()?;
        self.state[i.index()] = Some(NodeState::Running);
        self.running += 1;
        Some(i)
    }

    /// True when a node is ready to be taken.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// How many nodes were taken and not yet completed.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Report a running node's outcome. On success, the nodes waiting only
    /// on finished nodes become ready; on failure, every node waiting on
    /// this one, directly or not, is skipped: those are returned, sorted. A
    /// node that is not running is ignored.
    pub fn complete(&mut self, node: &NodeKind, ok: bool) -> Vec<NodeKind> {
        match self.graph.index.get(node) {
            Some(&i) => self.complete_index(i, ok),
            None => Vec::new(),
        }
    }

    fn complete_index(&mut self, i: NodeIndex, ok: bool) -> Vec<NodeKind> {
        if self.state[i.index()] != Some(NodeState::Running) {
            return Vec::new();
        }
        self.running -= 1;
        let after = self.before().opposite();
        if ok {
            self.state[i.index()] = Some(NodeState::Finished(WalkOutcome::Done));
            for s in self.graph.graph.neighbors_directed(i, after) {
                let n = &mut self.waiting[s.index()];
                if *n == 0 {
                    continue;
                }
                *n -= 1;
                if *n == 0 && self.state[s.index()].is_none() {
                    self.ready.push(Reverse(self.key(s)));
                }
            }
            return Vec::new();
        }
        self.state[i.index()] = Some(NodeState::Finished(WalkOutcome::Failed));
        let mut skipped = Vec::new();
        let mut stack: Vec<NodeIndex> = self.graph.graph.neighbors_directed(i, after).collect();
        while let Some(s) = stack.pop() {
            if self.state[s.index()].is_some() {
                continue;
            }
            // Behind the failed node, it still waits on it: never ready,
            // so never in the heap.
            debug_assert!(self.waiting[s.index()] > 0);
            self.state[s.index()] = Some(NodeState::Finished(WalkOutcome::Skipped {
                because: self.graph.graph[i].clone(),
            }));
            skipped.push(self.graph.graph[s].clone());
            stack.extend(self.graph.graph.neighbors_directed(s, after));
        }
        skipped.sort();
        skipped
    }

    /// How `node` ended, once it has.
    pub fn outcome(&self, node: &NodeKind) -> Option<&WalkOutcome> {
        match self.state[self.graph.index.get(node)?.index()].as_ref()? {
            NodeState::Finished(outcome) => Some(outcome),
            NodeState::Running => None,
        }
    }

    /// True when nothing is running and nothing is ready: every node
    /// finished, or waits on a cycle.
    pub fn is_finished(&self) -> bool {
        self.running == 0 && self.ready.is_empty()
    }

    /// The nodes that have not run and are not running, sorted: after a
    /// finished walk, those on (or behind) a dependency cycle; after a walk
    /// stopped early, also those it never reached.
    pub fn unreached(&self) -> Vec<NodeKind> {
        self.unreached_indices()
            .into_iter()
            .map(|i| self.graph.graph[i].clone())
            .collect()
    }

    /// [`Self::unreached`], as node indices (in node order).
    fn unreached_indices(&self) -> Vec<NodeIndex> {
        let mut v: Vec<NodeIndex> = self
            .graph
            .graph
            .node_indices()
            .filter(|i| self.state[i.index()].is_none())
            .collect();
        v.sort_by(|a, b| self.graph.graph[*a].cmp(&self.graph.graph[*b]));
        v
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

    /// `a -> b -> c`, `a -> d`, and `e` alone.
    fn branches() -> (ResourceGraph, [NodeKind; 5]) {
        let n = [
            r(Kind::Division, "a"),
            r(Kind::Role, "b"),
            r(Kind::OauthClient, "c"),
            r(Kind::Group, "d"),
            r(Kind::Integration, "e"),
        ];
        let mut g = ResourceGraph::new();
        g.add_edge(n[0].clone(), n[1].clone(), EdgeReason::Reference);
        g.add_edge(n[1].clone(), n[2].clone(), EdgeReason::Reference);
        g.add_edge(n[1].clone(), n[2].clone(), EdgeReason::DependsOn);
        g.add_edge(n[0].clone(), n[3].clone(), EdgeReason::Reference);
        g.add_node(n[4].clone());
        (g, n)
    }

    #[test]
    fn a_walk_offers_every_node_whose_dependencies_are_done_at_once() {
        let (g, [a, b, c, d, e]) = branches();
        let mut w = Walk::new(&g);
        assert_eq!(w.next_ready(), Some(a.clone()));
        assert_eq!(w.next_ready(), Some(e.clone()));
        assert_eq!(w.next_ready(), None, "b and d wait for a");
        assert_eq!(w.running(), 2);
        assert!(w.complete(&a, true).is_empty());
        let mut ready = vec![w.next_ready().unwrap(), w.next_ready().unwrap()];
        ready.sort();
        let mut expected = vec![b.clone(), d.clone()];
        expected.sort();
        assert_eq!(ready, expected);
        w.complete(&b, true);
        assert_eq!(
            w.next_ready(),
            Some(c.clone()),
            "two edges b -> c count once"
        );
        for n in [&c, &d, &e] {
            w.complete(n, true);
        }
        assert!(w.is_finished());
        assert!(w.unreached().is_empty());
        assert_eq!(w.outcome(&c), Some(&WalkOutcome::Done));
    }

    #[test]
    fn a_failed_node_skips_its_dependents_and_independent_branches_finish() {
        let (g, [a, b, c, d, e]) = branches();
        let mut w = Walk::new(&g);
        w.next_ready();
        w.next_ready();
        w.complete(&a, true);
        let first = w.next_ready().unwrap();
        let second = w.next_ready().unwrap();
        assert_eq!(w.complete(&b, false), vec![c.clone()]);
        assert_eq!(
            w.outcome(&c),
            Some(&WalkOutcome::Skipped { because: b.clone() })
        );
        assert_eq!(w.next_ready(), None, "c is skipped, never offered");
        // d, running beside b, and e, which waits on nothing, still finish.
        let other = if first == b { second } else { first };
        assert_eq!(other, d);
        w.complete(&d, true);
        w.complete(&e, true);
        assert!(w.is_finished());
        assert_eq!(w.outcome(&b), Some(&WalkOutcome::Failed));
        assert_eq!(w.outcome(&d), Some(&WalkOutcome::Done));
        assert_eq!(w.outcome(&e), Some(&WalkOutcome::Done));
        assert!(w.unreached().is_empty());
        // A skipped node's own dependents are skipped, for the same cause.
        let mut w = Walk::new(&g);
        w.next_ready();
        let mut behind = vec![b.clone(), c, d];
        behind.sort();
        assert_eq!(w.complete(&a, false), behind);
        assert_eq!(w.next_ready(), Some(e));
        assert_eq!(w.outcome(&b), Some(&WalkOutcome::Skipped { because: a }));
    }

    #[test]
    fn a_reverse_walk_runs_dependents_first() {
        let (g, [a, b, c, d, e]) = branches();
        let mut w = Walk::reverse(&g);
        let mut order = Vec::new();
        while let Some(n) = w.next_ready() {
            w.complete(&n, true);
            order.push(n);
        }
        let pos = |n: &NodeKind| order.iter().position(|x| x == n).unwrap();
        assert_eq!(order.len(), 5);
        assert!(pos(&c) < pos(&b) && pos(&b) < pos(&a) && pos(&d) < pos(&a));
        assert!(w.is_finished() && w.unreached().is_empty());
        // Reversed, a failure skips what the failed node depends on.
        let mut w = Walk::reverse(&g);
        let mut taken = Vec::new();
        while let Some(n) = w.next_ready() {
            taken.push(n);
        }
        assert!(taken.contains(&c) && taken.contains(&d) && taken.contains(&e));
        let mut behind = vec![a.clone(), b];
        behind.sort();
        assert_eq!(w.complete(&c, false), behind);
        assert_eq!(w.outcome(&a), Some(&WalkOutcome::Skipped { because: c }));
    }

    #[test]
    fn nodes_on_a_cycle_are_never_ready() {
        let mut g = ResourceGraph::new();
        let (a, b, c) = (
            r(Kind::Role, "a"),
            r(Kind::Group, "b"),
            r(Kind::Division, "c"),
        );
        g.add_edge(a.clone(), b.clone(), EdgeReason::Reference);
        g.add_edge(b.clone(), a.clone(), EdgeReason::Reference);
        g.add_node(c.clone());
        let mut w = Walk::new(&g);
        assert_eq!(w.next_ready(), Some(c.clone()));
        w.complete(&c, true);
        assert!(w.is_finished());
        let mut cycle = vec![a, b];
        cycle.sort();
        assert_eq!(w.unreached(), cycle);
    }

    #[test]
    fn ancestors_and_paths_follow_edges_transitively() {
        let (g, [a, b, c, d, e]) = branches();
        assert_eq!(g.ancestors(&c), vec![a.clone(), b.clone()]);
        assert!(g.ancestors(&e).is_empty());
        assert!(g.depends_on(&c, &a));
        assert!(!g.depends_on(&a, &c));
        assert!(!g.depends_on(&d, &b));
        assert!(!g.depends_on(&a, &a));
    }
}
