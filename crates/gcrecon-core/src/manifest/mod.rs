//! The manifest: parsing the TOML files, validating them offline, and
//! evaluating them into desired resource instances.
//!
//! [`load`] turns file contents into a validated [`Manifest`] or reports
//! every problem at once as [`Diagnostics`]. The engine then resolves
//! variables ([`Manifest::resolve_variables`]), reads the data sources in
//! [`Manifest::data_blocks_in_order`] (asking [`Manifest::data_queries`] what
//! to look up), and evaluates the desired state ([`Manifest::desired`]) with
//! an [`EvalContext`]. Values that exist only after apply (a new role's id)
//! evaluate to [`Value::Unknown`]; the engine re-evaluates an instance with
//! [`Manifest::eval_instance`] once they are known. See `docs/manifest.md`
//! for the language.

mod check;
mod diagnostic;
mod eval;
mod expr;
mod fast_toml;
mod funcs;
mod json_schema;
mod model;
mod syntax;
pub mod synthetic;
mod variables;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::address::Address;
use crate::kind::{DataKind, Kind};
use crate::value::{Attrs, Value};

pub use check::ResourceFree;
pub use diagnostic::{Diagnostic, Diagnostics, Label, Severity, Span};
pub use eval::EvalCache;
pub use json_schema::manifest_json_schema;
pub use model::Manifest;
pub use variables::{VarType, VariableDecl, Variables};

/// One manifest file's contents, as read by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// A source from a path and its text.
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }
}

/// Parse and validate a manifest offline (syntax, kinds, keys, types,
/// references, cycles). Every problem of every file is reported at once.
///
/// The files of a directory are merged; pass them in a stable order (sorted
/// by path) so that diagnostics are stable.
pub fn load(sources: &[Source]) -> Result<Manifest, Diagnostics> {
    model::build(sources)
}

/// What evaluation reads from outside the manifest.
pub struct EvalContext<'a> {
    pub variables: &'a Variables,
    /// Resolved data source instances, including `data.org` and `data.caller`
    /// (`Address::data(DataKind::Org, "")`); instances of a `for_each` data
    /// block carry their key.
    pub data: &'a BTreeMap<Address, Attrs>,
    /// The known value of an attribute of a resource instance (address with
    /// key, attribute name); `None` means known only after apply.
    pub resources: &'a dyn Fn(&Address, &str) -> Option<Value>,
    /// User ids by lower-case email, for group `members` and `owners` given
    /// by email ([`Manifest::group_member_emails`] says which to look up).
    pub emails: &'a BTreeMap<String, String>,
    /// What evaluations in this context may keep for the next
    /// ([`EvalContext::with_cache`]).
    pub cache: Option<&'a EvalCache>,
}

static NO_EMAILS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> EvalContext<'a> {
    /// A context.
    pub fn new(
        variables: &'a Variables,
        data: &'a BTreeMap<Address, Attrs>,
        resources: &'a dyn Fn(&Address, &str) -> Option<Value>,
    ) -> Self {
        EvalContext {
            variables,
            data,
            resources,
            emails: &NO_EMAILS,
            cache: None,
        }
    }

    /// This context keeping, in `cache`, what one evaluation
    /// ([`Manifest::desired`], [`Manifest::eval_instance`]) evaluates that
    /// the next can reuse. Every
    /// context given the same cache must have the same variables, data
    /// sources and emails; the resources' values may differ.
    pub fn with_cache(mut self, cache: &'a EvalCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// This context with the user ids of the emails group members name.
    pub fn with_emails(mut self, emails: &'a BTreeMap<String, String>) -> Self {
        self.emails = emails;
        self
    }
}

/// Resources know nothing yet: every computed attribute is unknown.
pub fn nothing_known(_: &Address, _: &str) -> Option<Value> {
    None
}

/// One lookup the engine must make for a data source instance.
#[derive(Clone, Debug, PartialEq)]
pub struct DataQuery {
    /// The instance address (with key under `for_each`).
    pub address: Address,
    pub kind: DataKind,
    /// The data block's keys, evaluated.
    pub query: Attrs,
}

/// The desired state: every resource instance, and how they depend on each other.
#[derive(Clone, Debug)]
pub struct Desired {
    pub instances: Vec<DesiredInstance>,
    pub graph: crate::graph::ResourceGraph,
}

impl Desired {
    /// The instance at `address`.
    pub fn get(&self, address: &Address) -> Option<&DesiredInstance> {
        self.instances.iter().find(|i| &i.address == address)
    }
}

/// One resource instance as the manifest wants it.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredInstance {
    pub address: Address,
    pub kind: Kind,
    /// Manifest keys (not meta keys) to evaluated values; may contain
    /// [`Value::Unknown`].
    pub attrs: Attrs,
    /// Resource instances this one references or names in `depends_on`.
    pub depends_on: Vec<Address>,
    pub prevent_destroy: bool,
    pub adopt: bool,
    pub ignore_changes: Vec<String>,
    /// Keys whose value derives from a secret or a sensitive variable.
    pub sensitive_keys: Vec<String>,
    /// Keys whose value reads a data source, so it is computed again at
    /// every plan (`subjects = "${data.users.agents.ids}"`).
    pub data_keys: Vec<String>,
}

/// An evaluated `[output.NAME]`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputValue {
    pub name: String,
    pub value: Value,
    pub sensitive: bool,
    pub description: Option<String>,
}
