//! The typed manifest model and its construction from the syntax tree:
//! header, variables, locals, outputs, resource and data blocks, each key
//! checked against [`crate::schema`] (unknown keys, missing keys, types,
//! enum values, permission syntax, kind-specific rules), and the merge of
//! several files with duplicates reported at both places.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::address::{is_valid_name, Address, Target};
use crate::fxhash::FxHashMap;
use crate::graph::EdgeReason;
use crate::kind::{DataKind, Kind};
use crate::schema::{self, KeySpec, KeyType, META_KEYS};
use crate::suggest;
use crate::value::Value;

use super::diagnostic::{Diagnostic, Diagnostics, FileInfo, Span};
use super::syntax::{parse_file, Entry, Files, Node, NodeKind, Sp, Table};
use super::variables::{VarType, VariableDecl};
use super::Source;

/// Meta keys a data source accepts.
pub(crate) const DATA_META_KEYS: &[&str] = &["for_each", "when"];

/// A validated manifest. Built by [`super::load`].
#[derive(Clone, Debug)]
pub struct Manifest {
    pub(crate) name: Option<String>,
    pub(crate) files: Files,
    pub(crate) variables: BTreeMap<String, VariableDecl>,
    pub(crate) locals: BTreeMap<String, LocalDecl>,
    pub(crate) outputs: BTreeMap<String, OutputDecl>,
    /// Resource and data blocks by block address (no key).
    pub(crate) blocks: BTreeMap<Address, Box<Block>>,
    /// Data blocks, dependencies first.
    pub(crate) data_order: Vec<Address>,
}

/// One `[KIND.NAME]` or `[data.KIND.NAME]` block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub address: Address,
    /// The table header (`[role.adapter]`), or the key of an inline block.
    pub sp: Sp,
    /// Non-meta keys in file order.
    pub attrs: Vec<Attr>,
    /// Boxed: most blocks have neither, and a block is kept per resource.
    pub for_each: Option<Box<Node>>,
    pub when: Option<Box<Node>>,
    pub depends_on: Vec<(Address, Sp)>,
    pub prevent_destroy: bool,
    pub adopt: bool,
    pub ignore_changes: Vec<String>,
    /// Key spans of the meta keys present.
    pub meta_sps: Vec<(&'static str, Sp)>,
    /// Blocks this one depends on (references through locals flattened,
    /// and `depends_on`), filled by the checker.
    pub deps: Vec<Dep>,
}

/// A key of a block: the parsed table's entry itself, so a block keeps
/// its table's entries (and their buffer) rather than copying them.
pub(crate) type Attr = Entry;

/// What a block-level dependency points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DepTarget {
    /// The block at this position in address order.
    Block(u32),
    /// `data.org` or `data.caller`.
    Implicit(DataKind),
}

/// A block-level dependency.
#[derive(Clone, Debug)]
pub(crate) struct Dep {
    pub target: DepTarget,
    pub sp: Sp,
    /// The index of the key (in `attrs`) whose value makes the reference
    /// (`None` for `depends_on`, `for_each` and `when`).
    pub attr: Option<u32>,
    pub reason: EdgeReason,
}

impl Block {
    pub fn attr(&self, key: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.key == key)
    }

    pub fn is_data(&self) -> bool {
        self.address.is_data()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LocalDecl {
    pub sp: Sp,
    pub value: Node,
}

#[derive(Clone, Debug)]
pub(crate) struct OutputDecl {
    pub sp: Sp,
    pub value: Option<Node>,
    pub sensitive: bool,
    pub description: Option<String>,
    pub when: Option<Node>,
    /// One output per element, named `NAME["KEY"]`; `each` is available.
    pub for_each: Option<Node>,
}

impl Manifest {
    /// `[gcrecon] name`, if given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The declared variables, by name.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &VariableDecl)> {
        self.variables.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Names of the outputs, sorted.
    pub fn output_names(&self) -> impl Iterator<Item = &str> {
        self.outputs.keys().map(String::as_str)
    }

    /// Block addresses of the resources (no keys), sorted.
    pub fn resource_blocks(&self) -> impl Iterator<Item = &Address> {
        self.blocks.keys().filter(|a| !a.is_data())
    }

    /// Whether the block at `address` (key ignored) has `for_each`.
    pub fn has_for_each(&self, address: &Address) -> bool {
        self.blocks
            .get(&address.block())
            .is_some_and(|b| b.for_each.is_some())
    }

    /// Whether `address` names a block of this manifest (key ignored);
    /// implicit data sources count.
    pub fn contains(&self, address: &Address) -> bool {
        match address.target {
            Target::Data(k) if k.is_implicit() => true,
            _ => self.blocks.contains_key(&address.block()),
        }
    }

    /// Data source block addresses (no keys), dependencies first. The
    /// implicit `data.org` and `data.caller` are not listed: read them first.
    pub fn data_blocks_in_order(&self) -> Vec<Address> {
        self.data_order.clone()
    }

    /// Where a block (`key = None`) or one of its keys is written, for
    /// plan-time errors. The instance key of `address` is ignored; a key the
    /// block does not have gives the block's place.
    pub fn span_of(&self, address: &Address, key: Option<&str>) -> Option<Span> {
        let block = self.blocks.get(&address.block())?;
        let sp = key
            .and_then(|k| {
                block.attr(k).map(|a| a.key_sp).or_else(|| {
                    block
                        .meta_sps
                        .iter()
                        .find(|(m, _)| *m == k)
                        .map(|(_, sp)| *sp)
                })
            })
            .unwrap_or(block.sp);
        self.files.span(sp)
    }

    /// Where a value is written: the value of `key` in the block (the key
    /// itself when the value has no place), or the block.
    pub fn value_span_of(&self, address: &Address, key: &str) -> Option<Span> {
        let block = self.blocks.get(&address.block())?;
        let sp = block.attr(key).map_or(block.sp, |a| a.value.sp);
        self.files.span(sp)
    }

    /// Where `[output.NAME]` is written.
    pub fn span_of_output(&self, name: &str) -> Option<Span> {
        self.outputs.get(name).and_then(|o| self.files.span(o.sp))
    }

    /// Where `local.NAME` is defined.
    pub fn span_of_local(&self, name: &str) -> Option<Span> {
        self.locals.get(name).and_then(|l| self.files.span(l.sp))
    }

    /// Where `[variables.NAME]` is declared.
    pub fn span_of_variable(&self, name: &str) -> Option<Span> {
        self.variables.get(name).and_then(|v| self.files.span(v.sp))
    }

    /// An error placed at a block or one of its keys, naming the address:
    /// the engine's way to report plan-time problems at `file:line:col`.
    pub fn error_at(
        &self,
        address: &Address,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::error(message)
            .with_span_opt(self.span_of(address, key))
            .with_address(address)
    }

    /// The sources this manifest was read from, for
    /// [`Diagnostics::render`].
    pub fn sources(&self) -> Vec<Source> {
        self.files
            .files
            .iter()
            .map(|f| Source::new(f.path.clone(), f.text.clone()))
            .collect()
    }
}

/// Parse, build and check a manifest.
pub(crate) fn build(sources: &[Source]) -> Result<Manifest, Diagnostics> {
    let files = Files {
        files: sources
            .iter()
            .map(|s| FileInfo::new(s.path.clone(), s.text.clone()))
            .collect(),
    };
    let mut b = Builder {
        files: &files,
        diags: Vec::new(),
        header: None,
        version_ok: false,
        name: None,
        variables: BTreeMap::new(),
        locals: BTreeMap::new(),
        outputs: BTreeMap::new(),
        blocks: FxHashMap::default(),
        seen: HashMap::new(),
        syntax_failed: false,
    };
    for (i, _) in sources.iter().enumerate() {
        let file = u32::try_from(i).unwrap_or(u32::MAX);
        let mut syntax = Vec::new();
        match parse_file(&files, file, &mut syntax) {
            Some(root) => {
                b.root(root);
                // Errors inside strings belong to the block written above them.
                for mut d in syntax {
                    if d.address.is_none() {
                        d.address = d
                            .span
                            .as_ref()
                            .and_then(|span| b.owner_at(file, span.start));
                    }
                    b.diags.push(d);
                }
            }
            None => {
                b.syntax_failed = true;
                b.diags.extend(syntax);
            }
        }
    }
    if b.header.is_none() && !b.syntax_failed {
        let d = if sources.is_empty() {
            Diagnostic::error("no manifest files were given")
                .with_hint("pass a `gcrecon.toml` or a directory of `*.toml` files")
        } else {
            files
                .error(Sp::new(0, 0..0), "the manifest has no `[gcrecon]` header")
                .with_hint("start the manifest with:\n\n      [gcrecon]\n      version = 1")
        };
        b.diags.push(d);
    }
    let syntax_failed = b.syntax_failed;
    let Builder {
        diags,
        name,
        variables,
        locals,
        outputs,
        blocks,
        ..
    } = b;
    let mut manifest = Manifest {
        name,
        files,
        variables,
        locals,
        outputs,
        blocks: blocks.into_iter().collect(),
        data_order: Vec::new(),
    };
    let mut diags = diags;
    // With a file unreadable the picture is incomplete: references into it
    // would only add noise, so whole-manifest checks wait for a clean parse.
    if !syntax_failed {
        super::check::check(&mut manifest, &mut diags);
    }
    if diags.iter().any(Diagnostic::is_error) {
        let mut d = Diagnostics::from(diags);
        d.sort();
        return Err(d);
    }
    Ok(manifest)
}

struct Builder<'a> {
    files: &'a Files,
    diags: Vec<Diagnostic>,
    header: Option<Sp>,
    version_ok: bool,
    name: Option<String>,
    variables: BTreeMap<String, VariableDecl>,
    locals: BTreeMap<String, LocalDecl>,
    outputs: BTreeMap<String, OutputDecl>,
    /// Blocks by address; sorted into the manifest's map at the end.
    blocks: FxHashMap<Address, Box<Block>>,
    /// Everything named so far (`role.x`, `local.y`, ...) and where.
    seen: HashMap<String, Sp>,
    syntax_failed: bool,
}

const TOP_LEVEL: &[&str] = &["gcrecon", "variables", "locals", "output", "data"];

impl Builder<'_> {
    fn err(&self, sp: Sp, message: impl Into<String>) -> Diagnostic {
        self.files.error(sp, message)
    }

    /// The name claimed last before `offset` in `file` (the block, local,
    /// variable or output whose text contains it).
    fn owner_at(&self, file: u32, offset: usize) -> Option<String> {
        let named = self.seen.iter().map(|(name, sp)| (name.clone(), *sp));
        let blocks = self.blocks.values().map(|b| (b.address.to_string(), b.sp));
        named
            .chain(blocks)
            .filter(|(_, sp)| sp.file == file && (sp.start as usize) <= offset)
            .max_by_key(|(_, sp)| sp.start)
            .map(|(name, _)| name)
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Record a name; report a duplicate at both places. True when new.
    fn claim(&mut self, what: &str, sp: Sp) -> bool {
        if let Some(first) = self.seen.get(what).copied() {
            self.duplicate(what, sp, first);
            false
        } else {
            self.seen.insert(what.to_owned(), sp);
            true
        }
    }

    /// A block address: new, or reported as defined twice.
    fn claim_block(&mut self, address: &Address, sp: Sp) -> bool {
        match self.blocks.get(address).map(|b| b.sp) {
            Some(first) => {
                self.duplicate(&address.to_string(), sp, first);
                false
            }
            None => true,
        }
    }

    fn duplicate(&mut self, what: &str, sp: Sp, first: Sp) {
        let mut d = self
            .err(sp, format!("`{what}` is defined twice"))
            .with_label("defined again here")
            .with_address(what)
            .with_hint("rename or remove one of them: each address may be defined only once across all manifest files");
        if let Some(s) = self.files.span(first) {
            d = d.with_related(s, "first defined here");
        }
        self.push(d);
    }

    fn root(&mut self, root: Table) {
        for mut entry in root.entries {
            let key = std::mem::take(&mut entry.key);
            match key.as_str() {
                "gcrecon" => self.header(&entry),
                "variables" => self.each_named(entry, "variables", |b, n, e| b.variable(n, &e)),
                "locals" => self.locals(entry),
                "output" => self.each_named(entry, "output", Self::output),
                "data" => self.data(entry),
                other => match other.parse::<Kind>() {
                    Ok(kind) => self
                        .each_named(entry, kind.as_str(), |b, name, e| b.resource(kind, name, e)),
                    Err(_) => {
                        let candidates: Vec<&str> = TOP_LEVEL
                            .iter()
                            .copied()
                            .chain(Kind::ALL.iter().map(|k| k.as_str()))
                            .collect();
                        let hint = match suggest::closest(other, candidates.iter().copied()) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None => format!(
                                "the kinds are {}; other tables are [gcrecon], [variables.NAME], [locals], [output.NAME] and [data.KIND.NAME]",
                                Kind::ALL.map(|k| k.as_str()).join(", ")
                            ),
                        };
                        let d = self
                            .err(entry.key_sp, format!("unknown kind `{other}`"))
                            .with_label("not a resource kind")
                            .with_hint(hint);
                        self.push(d);
                    }
                },
            }
        }
    }

    /// `[KIND.NAME]` tables under a top-level key.
    fn each_named(
        &mut self,
        entry: Entry,
        prefix: &str,
        mut f: impl FnMut(&mut Self, &str, Entry),
    ) {
        let NodeKind::Table(table) = entry.value.kind else {
            let d = self
                .err(
                    entry.value.sp,
                    format!(
                        "`{prefix}` must be a table of named blocks, found {}",
                        entry.value.type_name()
                    ),
                )
                .with_hint(format!("write `[{prefix}.NAME]` tables"));
            self.push(d);
            return;
        };
        for mut e in table.entries {
            if !is_valid_name(&e.key) {
                let d = self
                    .err(e.key_sp, format!("`{}` is not a valid name", e.key))
                    .with_label("names match [a-z][a-z0-9_]*")
                    .with_address(format!("{prefix}.{}", e.key))
                    .with_hint(format!(
                        "use a lowercase name such as `{}`",
                        fix_name(&e.key)
                    ));
                self.push(d);
                continue;
            }
            if e.value.as_table().is_none() {
                let d = self
                    .err(
                        e.value.sp,
                        format!(
                            "`{prefix}.{}` must be a table, found {}",
                            e.key,
                            e.value.type_name()
                        ),
                    )
                    .with_address(format!("{prefix}.{}", e.key))
                    .with_hint(format!("write it as a `[{prefix}.{}]` table", e.key));
                self.push(d);
                continue;
            }
            let name = std::mem::take(&mut e.key);
            f(self, &name, e);
        }
    }

    fn header(&mut self, entry: &Entry) {
        if !self.claim("gcrecon", entry.value.sp) {
            return;
        }
        self.header = Some(entry.value.sp);
        let Some(table) = entry.value.as_table() else {
            let d = self
                .err(entry.value.sp, "`gcrecon` must be a table")
                .with_hint("write:\n\n      [gcrecon]\n      version = 1");
            self.push(d);
            return;
        };
        for e in &table.entries {
            match e.key.as_str() {
                "version" => match &e.value.kind {
                    NodeKind::Number(n) if n.as_i64() == Some(1) => self.version_ok = true,
                    NodeKind::Number(n) => {
                        let d = self
                            .err(e.value.sp, format!("unsupported manifest version {n}"))
                            .with_label("this gcrecon reads version 1")
                            .with_address("gcrecon")
                            .with_hint("write `version = 1`, or use the gcrecon release that reads this version");
                        self.push(d);
                    }
                    _ => {
                        let d = self
                            .err(
                                e.value.sp,
                                format!(
                                    "`version` must be an integer, found {}",
                                    e.value.type_name()
                                ),
                            )
                            .with_address("gcrecon")
                            .with_hint("write `version = 1`");
                        self.push(d);
                    }
                },
                "name" => {
                    match e.value.literal_str() {
                        Some(n)
                            if !n.is_empty()
                                && !n.contains(['/', '\\'])
                                && n != "."
                                && n != ".." =>
                        {
                            self.name = Some(n);
                        }
                        _ => {
                            let d = self
                            .err(e.value.sp, "`name` must be a plain string usable in a file name")
                            .with_address("gcrecon")
                            .with_hint("for example `name = \"emite\"`; it names the default state file");
                            self.push(d);
                        }
                    }
                }
                other => {
                    let d = self
                        .unknown_key(e, other, ["version", "name"].into_iter(), "[gcrecon]")
                        .with_address("gcrecon");
                    self.push(d);
                }
            }
        }
        if !table.entries.iter().any(|e| e.key == "version") {
            let d = self
                .err(entry.value.sp, "missing `version` in [gcrecon]")
                .with_address("gcrecon")
                .with_hint("add `version = 1`");
            self.push(d);
        }
    }

    fn unknown_key<'k>(
        &self,
        e: &Entry,
        key: &str,
        candidates: impl Iterator<Item = &'k str> + Clone,
        owner: &str,
    ) -> Diagnostic {
        let mut d = self
            .err(e.key_sp, format!("unknown key `{key}` in {owner}"))
            .with_label("unknown key");
        d = match suggest::closest(key, candidates.clone()) {
            Some(c) => d.with_hint(format!("did you mean `{c}`?")),
            None => d.with_hint(format!(
                "valid keys: {}",
                candidates.collect::<Vec<_>>().join(", ")
            )),
        };
        d
    }

    fn variable(&mut self, name: &str, entry: &Entry) {
        let what = format!("var.{name}");
        if !self.claim(&what, entry.key_sp) {
            return;
        }
        let Some(table) = entry.value.as_table() else {
            return;
        };
        let mut decl = VariableDecl {
            ty: VarType::String,
            description: None,
            default: None,
            sensitive: false,
            sp: entry.key_sp,
        };
        let mut default_node = None;
        for e in &table.entries {
            match e.key.as_str() {
                "type" => match e.value.literal_str() {
                    Some(t) => match VarType::ALL.into_iter().find(|v| v.as_str() == t) {
                        Some(ty) => decl.ty = ty,
                        None => {
                            let names = VarType::ALL.map(VarType::as_str);
                            let d = self
                                .bad_enum(&e.value, &t, "type", &names)
                                .with_address(&what);
                            self.push(d);
                        }
                    },
                    None => {
                        let d = self
                            .wrong_type(&e.value, "`type`", "a string")
                            .with_address(&what);
                        self.push(d);
                    }
                },
                "description" => match e.value.literal_str() {
                    Some(s) => decl.description = Some(s),
                    None => {
                        let d = self
                            .wrong_type(&e.value, "`description`", "a plain string")
                            .with_address(&what)
                            .with_hint("write `description = \"...\"` without references");
                        self.push(d);
                    }
                },
                "sensitive" => {
                    if let Some(b) = self.literal_bool(&e.value, "sensitive", &what) {
                        decl.sensitive = b;
                    }
                }
                "default" => default_node = Some(&e.value),
                other => {
                    let d = self
                        .unknown_key(
                            e,
                            other,
                            ["type", "description", "default", "sensitive"].into_iter(),
                            &format!("variable `{name}`"),
                        )
                        .with_address(&what);
                    self.push(d);
                }
            }
        }
        if let Some(node) = default_node {
            let mut refs = false;
            node.exprs(&mut |_| refs = true);
            if refs {
                let d = self
                    .err(node.sp, "a variable's default cannot contain references")
                    .with_address(&what)
                    .with_hint(
                        "use a local for computed values, or write `$${` for a literal `${`",
                    );
                self.push(d);
            } else {
                let value = literal_value(node);
                if decl.ty.accepts(&value) {
                    decl.default = Some(value);
                } else {
                    let d = self
                        .err(
                            node.sp,
                            format!(
                                "the default of `{what}` is a {}, but the variable's type is {}",
                                node.type_name(),
                                decl.ty
                            ),
                        )
                        .with_address(&what)
                        .with_hint(format!("give a {} default, or change `type`", decl.ty));
                    self.push(d);
                }
            }
        }
        self.variables.insert(name.to_owned(), decl);
    }

    fn literal_bool(&mut self, node: &Node, key: &str, what: &dyn fmt::Display) -> Option<bool> {
        match &node.kind {
            NodeKind::Bool(b) => Some(*b),
            _ => {
                let hint = match node.literal_str().as_deref() {
                    Some(b @ ("true" | "false")) => format!("remove the quotes: `{key} = {b}`"),
                    _ => format!("write `{key} = true` or `{key} = false`"),
                };
                let d = self
                    .wrong_type(node, &format!("`{key}`"), "a bool (true or false)")
                    .with_address(what)
                    .with_hint(hint);
                self.push(d);
                None
            }
        }
    }

    fn locals(&mut self, entry: Entry) {
        let NodeKind::Table(table) = entry.value.kind else {
            let d = self
                .err(
                    entry.value.sp,
                    format!(
                        "`locals` must be a table, found {}",
                        entry.value.type_name()
                    ),
                )
                .with_hint("write a `[locals]` table of NAME = VALUE");
            self.push(d);
            return;
        };
        for e in table.entries {
            let what = format!("local.{}", e.key);
            if !is_valid_name(&e.key) {
                let d = self
                    .err(e.key_sp, format!("`{}` is not a valid name", e.key))
                    .with_label("names match [a-z][a-z0-9_]*")
                    .with_address(&what)
                    .with_hint(format!(
                        "use a lowercase name such as `{}`",
                        fix_name(&e.key)
                    ));
                self.push(d);
                continue;
            }
            if !self.claim(&what, e.key_sp) {
                continue;
            }
            self.locals.insert(
                e.key,
                LocalDecl {
                    sp: e.key_sp,
                    value: e.value,
                },
            );
        }
    }

    fn output(&mut self, name: &str, entry: Entry) {
        let what = format!("output.{name}");
        if !self.claim(&what, entry.value.sp) {
            return;
        }
        let sp = entry.value.sp;
        let NodeKind::Table(table) = entry.value.kind else {
            return;
        };
        let mut decl = OutputDecl {
            sp,
            value: None,
            sensitive: false,
            description: None,
            when: None,
            for_each: None,
        };
        for mut e in table.entries {
            let key = std::mem::take(&mut e.key);
            match key.as_str() {
                "value" => decl.value = Some(e.value),
                "sensitive" => {
                    decl.sensitive = self
                        .literal_bool(&e.value, "sensitive", &what)
                        .unwrap_or(false);
                }
                "description" => match e.value.literal_str() {
                    Some(s) => decl.description = Some(s),
                    None => {
                        let d = self
                            .wrong_type(&e.value, "`description`", "a plain string")
                            .with_address(&what)
                            .with_hint("write `description = \"...\"` without references");
                        self.push(d);
                    }
                },
                "when" => {
                    self.check_when(&e.value, &what);
                    decl.when = Some(e.value);
                }
                "for_each" => {
                    self.check_for_each(&e.value, &what);
                    decl.for_each = Some(e.value);
                }
                other => {
                    let d = self
                        .unknown_key(
                            &e,
                            other,
                            ["value", "sensitive", "description", "when", "for_each"].into_iter(),
                            &format!("output `{name}`"),
                        )
                        .with_address(&what);
                    self.push(d);
                }
            }
        }
        if decl.value.is_none() {
            let d = self
                .err(sp, format!("output `{name}` has no `value`"))
                .with_address(&what)
                .with_hint("add `value = \"${...}\"`");
            self.push(d);
        }
        self.outputs.insert(name.to_owned(), decl);
    }

    fn data(&mut self, entry: Entry) {
        let NodeKind::Table(table) = entry.value.kind else {
            let d = self
                .err(entry.value.sp, "`data` must hold `[data.KIND.NAME]` tables")
                .with_hint("for example `[data.division.home]`");
            self.push(d);
            return;
        };
        for e in table.entries {
            match e.key.parse::<DataKind>() {
                Ok(kind) if kind.is_implicit() => {
                    let d = self
                        .err(
                            e.key_sp,
                            format!("`data.{kind}` is built in and takes no table"),
                        )
                        .with_address(format!("data.{kind}"))
                        .with_hint(format!(
                            "remove the table; reference it directly, e.g. `${{data.{kind}.id}}`"
                        ));
                    self.push(d);
                }
                Ok(kind) => {
                    let prefix = format!("data.{kind}");
                    self.each_named(e, &prefix, |b, name, e| b.data_block(kind, name, e));
                }
                Err(_) => {
                    let names: Vec<&str> = DataKind::ALL.iter().map(|k| k.as_str()).collect();
                    let hint = match suggest::closest(&e.key, names.iter().copied()) {
                        Some(c) => format!("did you mean `data.{c}`?"),
                        None => format!("data source kinds: {}", names.join(", ")),
                    };
                    let d = self
                        .err(
                            e.key_sp,
                            format!("unknown data source kind `data.{}`", e.key),
                        )
                        .with_label("not a data source kind")
                        .with_hint(hint);
                    self.push(d);
                }
            }
        }
    }

    fn new_block(address: Address, sp: Sp) -> Block {
        Block {
            address,
            sp,
            attrs: Vec::new(),
            for_each: None,
            when: None,
            depends_on: Vec::new(),
            prevent_destroy: false,
            adopt: false,
            ignore_changes: Vec::new(),
            meta_sps: Vec::new(),
            deps: Vec::new(),
        }
    }

    fn resource(&mut self, kind: Kind, name: &str, entry: Entry) {
        let address = Address::resource(kind, name);
        let what = address.clone();
        if !self.claim_block(&address, entry.value.sp) {
            return;
        }
        let sp = entry.value.sp;
        let NodeKind::Table(table) = entry.value.kind else {
            return;
        };
        let mut block = Self::new_block(address, sp);
        let keys = kind.spec().keys;
        let open = kind.spec().is_open();
        // Every entry not a meta key is an attribute (or an error). Kept in
        // the table's own buffer: collecting a vector's entries filtered
        // into a vector of the same type reuses its allocation.
        let attrs = table.entries.into_iter().filter_map(|e| {
            if let Some(meta) = META_KEYS.iter().find(|m| **m == e.key) {
                self.meta(&mut block, meta, e, &what);
                return None;
            }
            match keys.iter().find(|k| k.name == e.key) {
                Some(spec) => self.check_type(spec, &e.value, &what),
                None if open => {}
                None => {
                    let candidates = keys
                        .iter()
                        .map(|k| k.name)
                        .filter(|n| *n != "*")
                        .chain(META_KEYS.iter().copied());
                    let d = self
                        .unknown_key(&e, &e.key, candidates, &format!("a {kind}"))
                        .with_address(&what);
                    self.push(d);
                    return None;
                }
            }
            Some(e)
        });
        block.attrs = attrs.collect();
        self.required(&block, keys, &what);
        self.kind_rules(kind, &block, &what);
        self.blocks.insert(block.address.clone(), Box::new(block));
    }

    fn data_block(&mut self, kind: DataKind, name: &str, entry: Entry) {
        let address = Address::data(kind, name);
        let what = address.clone();
        if !self.claim_block(&address, entry.value.sp) {
            return;
        }
        let sp = entry.value.sp;
        let NodeKind::Table(table) = entry.value.kind else {
            return;
        };
        let mut block = Self::new_block(address, sp);
        let (keys, _) = schema::data_keys(kind);
        for e in table.entries {
            if let Some(meta) = DATA_META_KEYS.iter().find(|m| **m == e.key) {
                self.meta(&mut block, meta, e, &what);
                continue;
            }
            if META_KEYS.contains(&e.key.as_str()) {
                let d = self
                    .err(e.key_sp, format!("`{}` is not allowed on a data source", e.key))
                    .with_address(&what)
                    .with_hint("data sources accept `for_each` and `when`; they are read at plan time and never changed");
                self.push(d);
                continue;
            }
            match keys.iter().find(|k| k.name == e.key) {
                Some(spec) => self.check_type(spec, &e.value, &what),
                None => {
                    let candidates = keys
                        .iter()
                        .map(|k| k.name)
                        .chain(DATA_META_KEYS.iter().copied());
                    let d = self
                        .unknown_key(&e, &e.key, candidates, &format!("data.{kind}"))
                        .with_address(&what);
                    self.push(d);
                    continue;
                }
            }
            block.attrs.push(Attr {
                key: e.key,
                key_sp: e.key_sp,
                value: e.value,
            });
        }
        self.required(&block, keys, &what);
        let one_of = |names: &[&str]| names.iter().any(|n| block.attr(n).is_some());
        let need: Option<(&[&str], &str)> = match kind {
            DataKind::Division => Some((&["name", "home"], "`name = \"...\"` or `home = true`")),
            DataKind::Users => Some((
                &["division", "group", "role", "queue"],
                "one or more of `division`, `group`, `role` and `queue` (combined with AND)",
            )),
            DataKind::IntegrationType => {
                Some((&["name", "id"], "`name = \"...\"` or `id = \"...\"`"))
            }
            _ => None,
        };
        if let Some((names, example)) = need {
            if !one_of(names) {
                let d = self
                    .err(block.sp, format!("`{what}` does not say what to look up"))
                    .with_address(&what)
                    .with_hint(format!("add {example}"));
                self.push(d);
            }
        }
        if kind == DataKind::Division
            && block.attr("name").is_some()
            && block.attr("home").is_some()
        {
            let d = self
                .err(block.sp, format!("`{what}` gives both `name` and `home`"))
                .with_address(&what)
                .with_hint("look a division up by `name`, or the home division with `home = true`, not both");
            self.push(d);
        }
        self.blocks.insert(block.address.clone(), Box::new(block));
    }

    fn required(&mut self, block: &Block, keys: &[KeySpec], what: &dyn fmt::Display) {
        for spec in keys.iter().filter(|k| k.required) {
            if block.attr(spec.name).is_none() {
                let d = self
                    .err(
                        block.sp,
                        format!("missing required key `{}` in `{what}`", spec.name),
                    )
                    .with_label(format!("`{}` is required", spec.name))
                    .with_address(what)
                    .with_hint(format!(
                        "add `{} = {}` ({})",
                        spec.name,
                        example(spec.ty),
                        spec.doc.trim_end_matches('.')
                    ));
                self.push(d);
            }
        }
    }

    fn kind_rules(&mut self, kind: Kind, block: &Block, what: &dyn fmt::Display) {
        match kind {
            Kind::OauthClient => {
                let grant = block.attr("grant_type").and_then(|a| a.value.literal_str());
                if grant.as_deref() == Some("client_credentials") && block.attr("roles").is_none() {
                    let d = self
                        .err(
                            block.sp,
                            format!("client-credentials client `{what}` has no `roles`"),
                        )
                        .with_label("a client_credentials client acts only through its roles")
                        .with_address(what)
                        .with_hint(
                            "add `roles = [{ role = \"${role.NAME.id}\", divisions = [\"*\"] }]`",
                        );
                    self.push(d);
                }
            }
            Kind::Integration => {
                let has_type = block.attr("type").is_some();
                let has_name = block.attr("type_name").is_some();
                if !has_type && !has_name {
                    let d = self
                        .err(block.sp, format!("integration `{what}` has no `type`"))
                        .with_address(what)
                        .with_hint("add `type = \"embedded-client-app\"` (a type id), or `type_name = \"...\"` (its display name)");
                    self.push(d);
                } else if has_type && has_name {
                    let sp = block.attr("type_name").map_or(block.sp, |a| a.key_sp);
                    let d = self
                        .err(
                            sp,
                            format!("integration `{what}` gives both `type` and `type_name`"),
                        )
                        .with_address(what)
                        .with_hint(
                            "keep one: `type` (the type id) or `type_name` (its display name)",
                        );
                    self.push(d);
                }
            }
            Kind::Role => {
                if let Some(NodeKind::List(items)) =
                    block.attr("permissions").map(|a| &a.value.kind)
                {
                    for item in items {
                        let Some(p) = item.literal_ref() else {
                            continue;
                        };
                        if let Err(e) = crate::permission::check_syntax(p) {
                            let mut d = self.err(item.sp, e.message.clone()).with_address(what);
                            d = match e.suggestion {
                                Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                                None => d.with_hint("write API permission names such as `analytics:conversationDetail:view`; `*` is allowed for entity and action"),
                            };
                            self.push(d);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn check_ignore_changes(&mut self, kind: Kind, node: &Node, what: &dyn fmt::Display) {
        let keys = kind.spec().keys;
        let open = kind.spec().is_open();
        if let NodeKind::List(items) = &node.kind {
            for item in items {
                let Some(k) = item.literal_str() else {
                    continue;
                };
                if !open && !keys.iter().any(|s| s.name == k) {
                    let candidates = keys.iter().map(|s| s.name);
                    let mut d = self
                        .err(
                            item.sp,
                            format!("`ignore_changes` names `{k}`, which is not a key of {kind}"),
                        )
                        .with_address(what);
                    d = match suggest::closest(&k, candidates.clone()) {
                        Some(c) => d.with_hint(format!("did you mean `{c}`?")),
                        None => d.with_hint(format!(
                            "keys of {kind}: {}",
                            candidates.collect::<Vec<_>>().join(", ")
                        )),
                    };
                    self.push(d);
                }
            }
        }
    }

    fn meta(&mut self, block: &mut Block, key: &'static str, e: Entry, what: &dyn fmt::Display) {
        block.meta_sps.push((key, e.key_sp));
        let node = &e.value;
        match key {
            "for_each" => {
                self.check_for_each(node, what);
                block.for_each = Some(Box::new(e.value));
            }
            "when" => {
                self.check_when(node, what);
                block.when = Some(Box::new(e.value));
            }
            "depends_on" => {
                let NodeKind::List(items) = &node.kind else {
                    let d = self
                        .wrong_type(node, "`depends_on`", "a list of addresses")
                        .with_address(what)
                        .with_hint("write `depends_on = [\"role.adapter\"]`");
                    self.push(d);
                    return;
                };
                for item in items {
                    let text = match &item.kind {
                        NodeKind::Str(t) => match (t.literal(), t.whole_expr()) {
                            (Some(s), _) => Some(s),
                            (None, Some(_)) => {
                                let raw = self
                                    .files
                                    .text(item.sp.file)
                                    .get(item.sp.start as usize..item.sp.end as usize)
                                    .unwrap_or("");
                                let inner = raw.trim_matches(['"', '\'']).trim();
                                inner
                                    .strip_prefix("${")
                                    .and_then(|s| s.strip_suffix('}'))
                                    .map(|s| s.trim().to_owned())
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    match text.as_deref().map(str::parse::<Address>) {
                        Some(Ok(a)) => block.depends_on.push((a, item.sp)),
                        Some(Err(err)) => {
                            let d = self
                                .err(item.sp, err.to_string())
                                .with_address(what)
                                .with_hint("`depends_on` lists addresses such as \"role.adapter\" or \"role.per_division[\\\"Home\\\"]\"");
                            self.push(d);
                        }
                        None => {
                            let d = self
                                .err(
                                    item.sp,
                                    format!(
                                        "`depends_on` entries are address strings, found {}",
                                        item.type_name()
                                    ),
                                )
                                .with_address(what)
                                .with_hint("write `depends_on = [\"role.adapter\"]`");
                            self.push(d);
                        }
                    }
                }
            }
            "prevent_destroy" => {
                block.prevent_destroy = self
                    .literal_bool(node, "prevent_destroy", what)
                    .unwrap_or(false);
            }
            "adopt" => block.adopt = self.literal_bool(node, "adopt", what).unwrap_or(false),
            "ignore_changes" => match &node.kind {
                NodeKind::List(items) => {
                    if let Some(kind) = block.address.kind() {
                        self.check_ignore_changes(kind, node, what);
                    }
                    for item in items {
                        match item.literal_str() {
                            Some(s) => block.ignore_changes.push(s),
                            None => {
                                let d = self
                                    .wrong_type(item, "an `ignore_changes` entry", "a key name")
                                    .with_address(what)
                                    .with_hint("write `ignore_changes = [\"members\"]`");
                                self.push(d);
                            }
                        }
                    }
                }
                _ => {
                    let d = self
                        .wrong_type(node, "`ignore_changes`", "a list of key names")
                        .with_address(what)
                        .with_hint("write `ignore_changes = [\"members\"]`");
                    self.push(d);
                }
            },
            _ => {}
        }
    }

    fn check_for_each(&mut self, node: &Node, what: &dyn fmt::Display) {
        if node.whole_expr().is_some() || matches!(node.kind, NodeKind::Invalid) {
            return;
        }
        match &node.kind {
            NodeKind::List(items) => {
                let mut seen: HashMap<String, Sp> = HashMap::new();
                for item in items {
                    match &item.kind {
                        NodeKind::Str(t) => {
                            if let Some(s) = t.literal() {
                                if let Some(first) = seen.insert(s.clone(), item.sp) {
                                    let mut d = self
                                        .err(item.sp, format!("`for_each` lists \"{s}\" twice"))
                                        .with_address(what)
                                        .with_hint("each instance key must be unique; remove the duplicate");
                                    if let Some(f) = self.files.span(first) {
                                        d = d.with_related(f, "first listed here");
                                    }
                                    self.push(d);
                                }
                            }
                        }
                        _ => {
                            let d = self
                                .wrong_type(item, "a `for_each` list entry", "a string")
                                .with_address(what)
                                .with_hint(
                                    "instance keys are strings: `for_each = [\"a\", \"b\"]`",
                                );
                            self.push(d);
                        }
                    }
                }
            }
            NodeKind::Table(_) => {}
            _ => {
                let d = self
                    .err(node.sp, format!("`for_each` takes a list of strings or a map, found {}", node.type_name()))
                    .with_address(what)
                    .with_hint("write `for_each = [\"a\", \"b\"]`, `for_each = { a = \"...\" }`, or a single reference `for_each = \"${data.divisions.all.names}\"`");
                self.push(d);
            }
        }
    }

    fn check_when(&mut self, node: &Node, what: &dyn fmt::Display) {
        if node.whole_expr().is_some() || matches!(node.kind, NodeKind::Bool(_) | NodeKind::Invalid)
        {
            return;
        }
        let mut d = self
            .err(
                node.sp,
                format!("`when` takes a bool, found {}", node.type_name()),
            )
            .with_address(what);
        d = match node.literal_str().as_deref() {
            Some("true" | "false") => d.with_hint("remove the quotes: `when = true`"),
            _ => d.with_hint("write `when = true`/`false`, or a single reference to a bool: `when = \"${var.enable_wfm}\"`"),
        };
        self.push(d);
    }

    fn wrong_type(&self, node: &Node, what: &str, expected: &str) -> Diagnostic {
        self.err(
            node.sp,
            format!("{what} must be {expected}, found {}", node.type_name()),
        )
        .with_label(format!("expected {expected}"))
    }

    fn bad_enum(&self, node: &Node, value: &str, key: &str, allowed: &[&str]) -> Diagnostic {
        let mut d = self
            .err(node.sp, format!("`{value}` is not a valid `{key}`"))
            .with_label(format!("expected one of: {}", allowed.join(", ")));
        if let Some(c) = suggest::closest(value, allowed.iter().copied()) {
            d = d.with_hint(format!("did you mean `{c}`?"));
        } else {
            d = d.with_hint(format!("`{key}` is one of: {}", allowed.join(", ")));
        }
        d
    }

    /// Static type check of a key's value; whole-string references are
    /// checked when evaluated.
    fn check_type(&mut self, spec: &KeySpec, node: &Node, what: &dyn fmt::Display) {
        if node.whole_expr().is_some() || matches!(node.kind, NodeKind::Invalid) {
            return;
        }
        let key = || format!("`{}`", spec.name);
        let d = match spec.ty {
            KeyType::String => match &node.kind {
                NodeKind::Str(_) => None,
                NodeKind::Number(_) | NodeKind::Bool(_) => {
                    Some(self.wrong_type(node, &key(), "a string").with_hint(format!(
                        "quote it: `{} = \"{}\"`",
                        spec.name,
                        node_text(node)
                    )))
                }
                _ => Some(self.wrong_type(node, &key(), "a string")),
            },
            KeyType::Bool => match &node.kind {
                NodeKind::Bool(_) => None,
                NodeKind::Str(_)
                    if matches!(node.literal_str().as_deref(), Some("true" | "false")) =>
                {
                    Some(self.wrong_type(node, &key(), "a bool").with_hint(format!(
                        "remove the quotes: `{} = {}`",
                        spec.name,
                        node.literal_str().unwrap_or_default()
                    )))
                }
                _ => Some(self.wrong_type(node, &key(), "a bool (true or false)")),
            },
            KeyType::Integer => match &node.kind {
                NodeKind::Number(n) if n.is_i64() || n.is_u64() => None,
                NodeKind::Str(_)
                    if node.literal_str().is_some_and(|s| s.parse::<i64>().is_ok()) =>
                {
                    Some(
                        self.wrong_type(node, &key(), "an integer")
                            .with_hint(format!(
                                "remove the quotes: `{} = {}`",
                                spec.name,
                                node.literal_str().unwrap_or_default()
                            )),
                    )
                }
                _ => Some(self.wrong_type(node, &key(), "an integer")),
            },
            KeyType::StringList => match &node.kind {
                NodeKind::List(items) => {
                    for item in items {
                        if !matches!(item.kind, NodeKind::Str(_) | NodeKind::Invalid) {
                            let d = self
                                .wrong_type(item, &format!("an entry of {}", key()), "a string")
                                .with_address(what)
                                .with_hint(format!("quote it: \"{}\"", node_text(item)));
                            self.push(d);
                        }
                    }
                    None
                }
                NodeKind::Str(_) => Some(
                    self.wrong_type(node, &key(), "a list of strings")
                        .with_hint(format!(
                            "write a list: `{} = [\"{}\"]`, or a single reference to a list",
                            spec.name,
                            node_text(node)
                        )),
                ),
                _ => Some(self.wrong_type(node, &key(), "a list of strings")),
            },
            KeyType::Enum(allowed) => match &node.kind {
                NodeKind::Str(t) => match t.literal() {
                    Some(v) if !allowed.contains(&v.as_str()) => {
                        Some(self.bad_enum(node, &v, spec.name, allowed))
                    }
                    _ => None,
                },
                _ => Some(self.wrong_type(node, &key(), "a string").with_hint(format!(
                    "`{}` is one of: {}",
                    spec.name,
                    allowed.join(", ")
                ))),
            },
            KeyType::RoleDivisionList => match &node.kind {
                NodeKind::List(items) => {
                    for item in items {
                        self.check_role_entry(item, what);
                    }
                    None
                }
                _ => Some(self.wrong_type(node, &key(), "a list of tables").with_hint(
                    "write `roles = [{ role = \"${role.NAME.id}\", divisions = [\"*\"] }]`",
                )),
            },
            KeyType::Map => match &node.kind {
                NodeKind::Table(_) => None,
                _ => Some(self.wrong_type(node, &key(), "a table").with_hint(format!(
                    "write `{} = {{ key = \"value\" }}` or a `[...{}]` sub-table",
                    spec.name, spec.name
                ))),
            },
            KeyType::Any => None,
        };
        if let Some(mut d) = d {
            if d.hints.is_empty() {
                d = d.with_hint(format!("write `{} = {}`", spec.name, example(spec.ty)));
            }
            self.push(d.with_address(what));
        }
    }

    fn check_role_entry(&mut self, item: &Node, what: &dyn fmt::Display) {
        if item.whole_expr().is_some() || matches!(item.kind, NodeKind::Invalid) {
            return;
        }
        let Some(t) = item.as_table() else {
            let d = self
                .wrong_type(item, "a `roles` entry", "a table")
                .with_address(what)
                .with_hint("write `{ role = \"${role.NAME.id}\", divisions = [\"*\"] }`");
            self.push(d);
            return;
        };
        for e in &t.entries {
            match e.key.as_str() {
                "role" => {
                    if !matches!(e.value.kind, NodeKind::Str(_) | NodeKind::Invalid) {
                        let d = self
                            .wrong_type(&e.value, "`role`", "a role id string")
                            .with_address(what)
                            .with_hint("write `role = \"${role.NAME.id}\"`");
                        self.push(d);
                    }
                }
                "divisions" => {
                    let spec = KeySpec {
                        name: "divisions",
                        ty: KeyType::StringList,
                        required: false,
                        diff: schema::DiffKind::Set,
                        doc: "",
                        default: None,
                    };
                    self.check_type(&spec, &e.value, what);
                }
                other => {
                    let d = self
                        .unknown_key(
                            e,
                            other,
                            ["role", "divisions"].into_iter(),
                            "a `roles` entry",
                        )
                        .with_address(what);
                    self.push(d);
                }
            }
        }
        if t.get("role").is_none() {
            let d = self
                .err(item.sp, "a `roles` entry has no `role`")
                .with_address(what)
                .with_hint("write `{ role = \"${role.NAME.id}\", divisions = [\"*\"] }`");
            self.push(d);
        }
    }
}

/// A suggestion for an invalid name: lowercase, `_` for anything else.
fn fix_name(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let out = out.trim_matches('_').to_owned();
    match out.chars().next() {
        Some(c) if c.is_ascii_lowercase() => out,
        Some(_) => format!("x_{out}"),
        None => "name".to_owned(),
    }
}

fn example(ty: KeyType) -> &'static str {
    match ty {
        KeyType::String | KeyType::Enum(_) | KeyType::Any => "\"...\"",
        KeyType::Bool => "true",
        KeyType::Integer => "0",
        KeyType::StringList => "[\"...\"]",
        KeyType::RoleDivisionList => "[{ role = \"${role.NAME.id}\" }]",
        KeyType::Map => "{ ... }",
    }
}

fn node_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Number(n) => n.to_string(),
        NodeKind::Str(t) => t.literal().unwrap_or_else(|| "...".to_owned()),
        NodeKind::Datetime(d) => d.clone(),
        _ => "...".to_owned(),
    }
}

/// The value of a node without references.
pub(crate) fn literal_value(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Number(n) => Value::Number(n.clone()),
        NodeKind::Datetime(d) => Value::String(d.clone()),
        NodeKind::Str(t) => Value::String(t.literal().unwrap_or_default()),
        NodeKind::List(items) => Value::List(items.iter().map(literal_value).collect()),
        NodeKind::Table(t) => Value::Map(
            t.entries
                .iter()
                .map(|e| (e.key.clone(), literal_value(&e.value)))
                .collect(),
        ),
        NodeKind::Invalid => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fixed_into_valid_ones() {
        assert_eq!(fix_name("Adapter"), "adapter");
        assert_eq!(fix_name("emiteSSO"), "emite_sso");
        assert_eq!(fix_name("my-client"), "my_client");
        assert_eq!(fix_name("9lives"), "x_9lives");
        assert!(is_valid_name(&fix_name("Über Client")));
    }
}
