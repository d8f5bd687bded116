//! Export: a manifest, and a state to go with it, for the objects already in
//! an organization (`gcrecon export`).
//!
//! - One full listing per kind exported (plus roles and divisions when
//!   OAuth clients refer to them); nothing is written to the organization.
//! - Stable names: an object's address name is derived from its display
//!   name (`"eMite Adapter"` → `emite_adapter`: lower case, common accents
//!   folded, every other run of characters an underscore, a leading digit
//!   prefixed with the kind); names that collide get `_2`, `_3`, ... in the
//!   order of (display name, id), after every name that needs no suffix is
//!   taken, so the same organization always exports the same names.
//! - References instead of ids: an OAuth client's roles read
//!   `${role.x.id}`, their divisions `${division.x.id}`. Built-in objects
//!   and objects of kinds not exported become data sources:
//!   `data.role.admin` (by name), `data.division.home` (`home = true`),
//!   `data.division.x` (by name).
//! - Collections gcrecon cannot express without raw user ids are left out,
//!   so humans keep managing them: group `members` and `owners`,
//!   `role_grant` (grants to people) and integration `credentials`. Keys the
//!   organization leaves empty are left out too (gcrecon then does not
//!   manage them), except the `roles` of a client-credentials client, which
//!   a manifest must state.
//! - No secrets: OAuth client secrets are never readable, and identity
//!   provider fields whose name says secret, password, private key or token
//!   are left out with a warning.
//! - The OAuth client gcrecon runs as gets `prevent_destroy = true`.
//!
//! The state records every exported object as applied with exactly the
//! exported values, so the first `gcrecon plan` of the manifest is empty.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gcrecon_core::address::Target;
use gcrecon_core::provider::{CallerKind, GenesysId, ListScope, LiveObject, Org, Provider};
use gcrecon_core::schema::{resource_keys, DiffKind};
use gcrecon_core::state::{read_differing, ResourceState, State};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::vecmap::VecMap;
use gcrecon_core::{Address, DataKind, Kind};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table};

use crate::error::EngineError;
use crate::events::{Event, Observer};

/// The kinds `gcrecon export` writes when `--kinds` is not given: those
/// whose spec says so, in plan order.
pub fn default_kinds() -> Vec<Kind> {
    Kind::ALL
        .into_iter()
        .filter(|k| k.spec().export.by_default)
        .collect()
}

/// What to export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The kinds to write; `role_grant` is refused with a warning.
    pub kinds: Vec<Kind>,
    /// The manifest's `[gcrecon] name` (also its state file's name).
    pub name: String,
}

/// A written export.
#[derive(Clone, Debug)]
pub struct Exported {
    /// The manifest text (TOML).
    pub manifest: String,
    /// The state that makes the first plan empty (a new lineage, serial 0;
    /// the caller writes it through a [`crate::store::StateStore`]).
    pub state: State,
    /// Objects written per kind.
    pub counts: BTreeMap<Kind, usize>,
    /// Data source blocks written.
    pub data_sources: usize,
    pub warnings: Vec<String>,
    /// API calls made, by `METHOD /path/{template}`.
    pub api_calls: BTreeMap<String, u64>,
}

/// Keys never exported (see the module doc; the kind's export hints).
fn left_out(kind: Kind, key: &str) -> bool {
    kind.spec().export.left_out.contains(&key)
}

/// The keys of `kind` an export writes: the schema's, but those [`left_out`].
fn exported_keys(kind: Kind) -> BTreeSet<String> {
    resource_keys(kind)
        .iter()
        .map(|k| k.name)
        .filter(|k| !left_out(kind, k))
        .map(str::to_owned)
        .collect()
}

/// Identity provider fields that may hold a secret.
fn secret_looking(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "privatekey", "private_key", "token"]
        .iter()
        .any(|s| k.contains(s))
}

/// `"eMite Adapter"` → `emite_adapter`; `prefix` stands before a leading
/// digit (or alone, for a name with no letters or digits).
pub fn slug(display: &str, prefix: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in display.chars().flat_map(char::to_lowercase) {
        let folded = fold(c);
        if folded.is_empty() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push('_');
        }
        gap = false;
        out.push_str(folded);
    }
    if out.is_empty() {
        prefix.to_owned()
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{prefix}_{out}")
    } else {
        out
    }
}

/// A lower-case character as ASCII letters or digits (accents folded), or
/// nothing for a separator.
fn fold(c: char) -> &'static str {
    const PLAIN: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    if c.is_ascii_alphanumeric() {
        let i = PLAIN.find(c).unwrap_or(0);
        return &PLAIN[i..=i];
    }
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
        'ç' | 'č' | 'ć' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' | 'ń' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'š' | 'ś' => "s",
        'ž' | 'ź' | 'ż' => "z",
        'ł' => "l",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        _ => "",
    }
}

/// Unique names for `(display name, id)` pairs of one namespace: the slug
/// where it is unique, else `slug_2`, `slug_3`, ... in (display name, id)
/// order, never taking a name another object gets unsuffixed.
pub fn unique_names<'a>(
    objects: impl IntoIterator<Item = (&'a str, &'a GenesysId)>,
    prefix: &str,
) -> BTreeMap<GenesysId, String> {
    let mut groups: BTreeMap<String, Vec<(&str, &GenesysId)>> = BTreeMap::new();
    for (name, id) in objects {
        groups
            .entry(slug(name, prefix))
            .or_default()
            .push((name, id));
    }
    let mut taken: BTreeSet<String> = groups.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (base, mut members) in groups {
        members.sort();
        let mut n = 1;
        for (i, (_, id)) in members.into_iter().enumerate() {
            let name = if i == 0 {
                base.clone()
            } else {
                loop {
                    n += 1;
                    let candidate = format!("{base}_{n}");
                    if taken.insert(candidate.clone()) {
                        break candidate;
                    }
                }
            };
            out.insert(id.clone(), name);
        }
    }
    out
}

/// A manifest string for text read from the organization: `${` written
/// as `$${`, so it is never taken for a reference.
fn literal(text: &str) -> Value {
    Value::from(text.replace("${", "$${"))
}

/// A value read from the organization, every string made literal.
fn literal_value(v: &Value) -> Value {
    match v {
        Value::String(s) => literal(s),
        Value::List(items) => Value::List(items.iter().map(literal_value).collect()),
        Value::Map(m) => Value::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), literal_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// A data source the export needs.
#[derive(Clone, Debug)]
struct DataBlock {
    address: Address,
    /// The query keys.
    query: Attrs,
    /// What the lookup gives (`id`, `name`).
    value: Attrs,
}

/// Turns ids into references.
struct Refs<'a> {
    home: &'a GenesysId,
    /// Exported objects: (kind, id) → address.
    exported: BTreeMap<(Kind, GenesysId), Address>,
    /// Listed objects by (kind, id), for names of data sources.
    listed: BTreeMap<(Kind, GenesysId), &'a LiveObject>,
    /// Data sources by address.
    data: BTreeMap<Address, DataBlock>,
    /// Names of data sources per kind, by id.
    data_names: BTreeMap<DataKind, BTreeMap<GenesysId, String>>,
    warnings: Vec<String>,
}

impl Refs<'_> {
    /// A reference to the object `id` of `kind` (a role or a division), its
    /// address when it is a resource, and the id itself; the id as is when
    /// the object is unknown.
    fn to(&mut self, kind: Kind, id: &str, user: &Address) -> (Value, Option<Address>) {
        let gid = GenesysId::from(id);
        if let Some(address) = self.exported.get(&(kind, gid.clone())) {
            return (
                Value::from(format!("${{{address}.id}}")),
                Some(address.clone()),
            );
        }
        let Some(data_kind) = kind.spec().export.data_source else {
            return (Value::from(id), None);
        };
        let home = kind == Kind::Division && gid == *self.home;
        let Some(object) = self.listed.get(&(kind, gid.clone())) else {
            if !home {
                self.warnings.push(format!(
                    "{user} refers to {kind} {id}, which the caller cannot see; the manifest keeps the raw id"
                ));
                return (Value::from(id), None);
            }
            return (self.data_ref(data_kind, &gid, "home", "Home", true), None);
        };
        let name = if home {
            "home".to_owned()
        } else {
            self.data_names
                .get(&data_kind)
                .and_then(|n| n.get(&gid))
                .cloned()
                .unwrap_or_else(|| slug(&object.name, data_kind.as_str()))
        };
        let display = object.name.clone();
        (self.data_ref(data_kind, &gid, &name, &display, home), None)
    }

    fn data_ref(
        &mut self,
        kind: DataKind,
        id: &GenesysId,
        name: &str,
        display: &str,
        home: bool,
    ) -> Value {
        let address = Address::data(kind, name);
        self.data
            .entry(address.clone())
            .or_insert_with(|| DataBlock {
                address: address.clone(),
                query: if home {
                    Attrs::from([("home".to_owned(), Value::Bool(true))])
                } else {
                    Attrs::from([("name".to_owned(), literal(display))])
                },
                value: Attrs::from([
                    ("id".to_owned(), Value::from(id.as_str())),
                    ("name".to_owned(), Value::from(display)),
                ]),
            });
        Value::from(format!("${{{address}.id}}"))
    }
}

/// One object to write.
struct Entry {
    address: Address,
    object: LiveObject,
    /// Manifest values (references as `${...}` text, strings made literal).
    manifest: Vec<(String, Value)>,
    /// The same values with ids resolved: the state's `applied`.
    applied: Attrs,
    dependencies: BTreeSet<Address>,
    prevent_destroy: bool,
    comment: String,
}

/// The `roles` of an OAuth client: references in the manifest, ids in the
/// state; an entry granted only in the home division leaves `divisions` out.
fn client_roles(
    refs: &mut Refs<'_>,
    address: &Address,
    live: &Value,
) -> (Value, Value, BTreeSet<Address>) {
    let home = refs.home.as_str().to_owned();
    let mut manifest = Vec::new();
    let mut applied = Vec::new();
    let mut deps = BTreeSet::new();
    for entry in live.as_list().unwrap_or_default() {
        let Some(m) = entry.as_map() else { continue };
        let Some(role) = m.get("role").and_then(Value::as_str) else {
            continue;
        };
        let divisions: Vec<String> = m
            .get("divisions")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.as_str().map(str::to_owned))
            .collect();
        let (role_ref, role_dep) = refs.to(Kind::Role, role, address);
        deps.extend(role_dep);
        let mut me = VecMap::from([("role".to_owned(), role_ref)]);
        let mut ap = VecMap::from([("role".to_owned(), Value::from(role))]);
        if !(divisions.is_empty() || divisions == [home.as_str()]) {
            let mut refs_list = Vec::new();
            for d in &divisions {
                if d == "*" {
                    refs_list.push(Value::from("*"));
                } else {
                    let (r, dep) = refs.to(Kind::Division, d, address);
                    deps.extend(dep);
                    refs_list.push(r);
                }
            }
            refs_list.sort_by_key(ToString::to_string);
            me.insert("divisions".into(), Value::List(refs_list));
            ap.insert("divisions".into(), Value::strings(divisions));
        }
        manifest.push(Value::Map(me));
        applied.push(Value::Map(ap));
    }
    (Value::List(manifest), Value::List(applied), deps)
}

/// The kinds whose ids key `key` of `kind` holds (its spec's references).
fn referenced_kinds(kind: Kind, key: &str) -> Vec<Kind> {
    kind.spec()
        .references
        .iter()
        .filter(|r| r.key == key)
        .map(|r| r.kind)
        .collect()
}

/// An id, or a list of ids, of `target` objects as references, with the
/// addresses they depend on; `None` for any other value.
fn id_references(
    refs: &mut Refs<'_>,
    address: &Address,
    target: Kind,
    value: &Value,
) -> Option<(Value, BTreeSet<Address>)> {
    let mut deps = BTreeSet::new();
    let mut one = |id: &str| {
        let (r, dep) = refs.to(target, id, address);
        deps.extend(dep);
        r
    };
    let manifest = match value {
        Value::String(id) => one(id),
        Value::List(items) => {
            let ids: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let mut list: Vec<Value> = ids?.into_iter().map(&mut one).collect();
            list.sort_by_key(ToString::to_string);
            Value::List(list)
        }
        _ => return None,
    };
    Some((manifest, deps))
}

fn entry(
    refs: &mut Refs<'_>,
    address: Address,
    object: &LiveObject,
    caller_client: Option<&GenesysId>,
    warnings: &mut Vec<String>,
) -> Entry {
    let kind = object.kind;
    let mut manifest = Vec::new();
    let mut applied = Attrs::new();
    let mut dependencies = BTreeSet::new();
    let mut keys: Vec<String> = resource_keys(kind)
        .iter()
        .filter(|k| k.name != "*" && k.diff != DiffKind::Meta)
        .map(|k| k.name.to_owned())
        .collect();
    // An open kind's other keys are whatever the object has.
    if kind.spec().is_open() {
        keys.extend(
            object
                .attrs
                .keys()
                .filter(|k| !kind.spec().keys.iter().any(|s| s.name == k.as_str()))
                .cloned(),
        );
    }
    for key in keys {
        if left_out(kind, &key) {
            continue;
        }
        if kind.spec().is_open() && secret_looking(&key) {
            if object.attrs.contains_key(&key) {
                warnings.push(format!("{address}: `{key}` may hold a secret and is not exported; add it by hand (from a variable marked sensitive)"));
            }
            continue;
        }
        let Some(value) = object.attrs.get(&key) else {
            continue;
        };
        let client_credentials =
            object.attrs.get("grant_type").and_then(Value::as_str) == Some("client_credentials");
        if kind == Kind::OauthClient && key == "roles" {
            if is_empty(value) && !client_credentials {
                continue;
            }
            let (m, a, deps) = client_roles(refs, &address, value);
            manifest.push((key.clone(), m));
            applied.insert(key, a);
            dependencies.extend(deps);
            continue;
        }
        if is_empty(value) {
            continue;
        }
        // A key the spec says refers to one other kind: references (or data
        // sources) instead of raw ids, whatever the kind.
        if let [target] = referenced_kinds(kind, &key)[..] {
            if let Some((m, deps)) = id_references(refs, &address, target, value) {
                manifest.push((key.clone(), m));
                applied.insert(key, value.clone());
                dependencies.extend(deps);
                continue;
            }
        }
        let set = resource_keys(kind)
            .iter()
            .any(|k| k.name == key && k.diff == DiffKind::Set);
        let value = match value {
            // Without the null entries a TOML table cannot hold.
            Value::Map(m) => Value::Map(
                m.iter()
                    .filter(|(_, v)| !matches!(v, Value::Null))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            // Sets in a stable order.
            Value::List(items) if set => {
                let mut items = items.clone();
                items.sort_by_key(ToString::to_string);
                items.dedup();
                Value::List(items)
            }
            other => other.clone(),
        };
        manifest.push((key.clone(), literal_value(&value)));
        applied.insert(key, value);
    }
    let prevent_destroy = kind == Kind::OauthClient && caller_client == Some(&object.id);
    let mut comment = format!(
        "{} `{}`, id {}",
        kind,
        object.name.replace('\n', " "),
        object.id
    );
    if prevent_destroy {
        comment.push_str("\n# the OAuth client this export ran as: protected from deletion");
    }
    Entry {
        address,
        object: object.clone(),
        manifest,
        applied,
        dependencies,
        prevent_destroy,
        comment,
    }
}

/// A TOML value for a manifest value (`None` for null).
fn toml_value(v: &Value) -> Option<toml_edit::Value> {
    Some(match v {
        Value::Null | Value::Unknown => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::List(items) => {
            let mut array: Array = items.iter().filter_map(toml_value).collect();
            let long = array.len() > 1
                && (items.iter().any(|i| matches!(i, Value::Map(_)))
                    || items.iter().map(|i| i.to_string().len() + 2).sum::<usize>() > 60);
            if long {
                for item in array.iter_mut() {
                    item.decor_mut().set_prefix("\n  ");
                }
                array.set_trailing("\n");
                array.set_trailing_comma(true);
            }
            toml_edit::Value::Array(array)
        }
        Value::Map(m) => {
            let mut table = InlineTable::new();
            // `{ role = ..., divisions = [...] }` reads best role first.
            let first = m.get_key_value("role");
            for (k, v) in first
                .into_iter()
                .chain(m.iter().filter(|(k, _)| *k != "role"))
            {
                if let Some(v) = toml_value(v) {
                    table.insert(k, v);
                }
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

/// The table of a block at `path` (`["role", "x"]`), parents implicit.
fn block<'d>(doc: &'d mut DocumentMut, path: &[&str]) -> &'d mut Table {
    let mut table = doc.as_table_mut();
    for (i, part) in path.iter().enumerate() {
        let item = table.entry(part).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(i + 1 < path.len());
            Item::Table(t)
        });
        table = item
            .as_table_mut()
            .unwrap_or_else(|| unreachable!("export writes only tables at block paths"));
    }
    table
}

fn render(org: &Org, name: &str, data: &[DataBlock], entries: &[Entry]) -> String {
    let mut doc = DocumentMut::new();
    let header = block(&mut doc, &["gcrecon"]);
    header.decor_mut().set_prefix(format!(
        "# Exported by `gcrecon export` from the Genesys Cloud organization `{}` ({}).\n# The state file beside it records these objects, so a first `gcrecon plan` shows no changes.\n# Not exported: group members and owners, role grants, integration credentials, secrets.\n",
        org.name.replace('\n', " "),
        org.id
    ));
    header.insert("version", toml_edit::value(1));
    header.insert("name", toml_edit::value(name));
    for d in data {
        let Target::Data(kind) = d.address.target else {
            continue;
        };
        let table = block(&mut doc, &["data", kind.as_str(), &d.address.name]);
        table.decor_mut().set_prefix("\n");
        for (k, v) in &d.query {
            if let Some(v) = toml_value(v) {
                table.insert(k, Item::Value(v));
            }
        }
    }
    for e in entries {
        let Some(kind) = e.address.kind() else {
            continue;
        };
        let table = block(&mut doc, &[kind.as_str(), &e.address.name]);
        table.decor_mut().set_prefix(format!("\n# {}\n", e.comment));
        for (k, v) in &e.manifest {
            if let Some(v) = toml_value(v) {
                table.insert(k, Item::Value(v));
            }
        }
        if e.prevent_destroy {
            table.insert("prevent_destroy", toml_edit::value(true));
        }
    }
    doc.to_string()
}

/// Read the organization and write the manifest and state for `options.kinds`.
pub async fn export<P: Provider + 'static>(
    provider: &Arc<P>,
    options: &ExportOptions,
    observer: &dyn Observer,
) -> Result<Exported, EngineError> {
    let (org, caller, home) = tokio::join!(
        provider.org(),
        provider.caller(),
        crate::refresh::read_home(provider.as_ref())
    );
    let org = org.map_err(|e| EngineError::provider("cannot read the organization", e))?;
    let caller = caller.map_err(|e| EngineError::provider("cannot read the caller", e))?;
    let mut warnings = Vec::new();
    let mut kinds: BTreeSet<Kind> = options.kinds.iter().copied().collect();
    for kind in Kind::ALL {
        if let Some(why) = kind.spec().export.refused {
            if kinds.remove(&kind) {
                warnings.push(why.to_owned());
            }
        }
    }
    // The kinds the exported ones refer to are listed too, to write
    // references (or data sources) instead of raw ids.
    let mut listed_kinds = kinds.clone();
    for kind in &kinds {
        listed_kinds.extend(kind.spec().references.iter().map(|r| r.kind));
    }
    // The provider reads per-object keys (a call per object) only when an
    // export writes them.
    for kind in &listed_kinds {
        provider.manage_keys(*kind, &exported_keys(*kind));
    }
    let listings = list_all(provider, listed_kinds, &kinds, observer, &mut warnings).await?;

    // Names: per kind for resources, per data kind for data sources.
    let (exported, mut chosen) = resource_names(&kinds, &listings);
    let home = home?;
    let data_names = data_source_names(&listings, &exported, &home);
    let listed = listings
        .values()
        .flat_map(|l| &l.objects)
        .map(|o| ((o.kind, o.id.clone()), o))
        .collect();
    let mut refs = Refs {
        home: &home,
        exported,
        listed,
        data: BTreeMap::new(),
        data_names,
        warnings: Vec::new(),
    };
    let caller_client = (caller.kind == CallerKind::Client).then_some(&caller.id);
    chosen.sort_by(|a, b| a.0.cmp(&b.0));
    let entries: Vec<Entry> = chosen
        .into_iter()
        .map(|(address, object)| entry(&mut refs, address, object, caller_client, &mut warnings))
        .collect();
    warnings.append(&mut refs.warnings);
    let data: Vec<DataBlock> = refs.data.into_values().collect();

    let manifest = render(&org, &options.name, &data, &entries);
    let (state, counts) = exported_state(&org, &options.name, &data, &entries);
    Ok(Exported {
        manifest,
        state,
        counts,
        data_sources: data.len(),
        warnings,
        api_calls: provider.call_counts(),
    })
}

/// One full listing per kind in `listed_kinds`, read concurrently; a
/// warning for each exported kind (in `kinds`) the caller cannot see all of.
async fn list_all<P: Provider + 'static>(
    provider: &Arc<P>,
    listed_kinds: BTreeSet<Kind>,
    kinds: &BTreeSet<Kind>,
    observer: &dyn Observer,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<Kind, gcrecon_core::provider::Listing>, EngineError> {
    let mut tasks = tokio::task::JoinSet::new();
    for kind in listed_kinds {
        observer.event(&Event::Listing { kind });
        let provider = Arc::clone(provider);
        tasks.spawn(async move { (kind, provider.list(kind, ListScope::All).await) });
    }
    let mut listings = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (kind, listing) = joined.map_err(|e| EngineError::Usage {
            message: format!("an export task failed: {e}"),
            hint: None,
        })?;
        let listing = listing
            .map_err(|e| EngineError::provider(format!("cannot list the {kind} objects"), e))?;
        if !listing.complete && kinds.contains(&kind) {
            warnings.push(format!(
                "the caller cannot see every {kind}; only those it can see are exported"
            ));
        }
        listings.insert(kind, listing);
    }
    Ok(listings)
}

/// The address of every exported (non built-in) object, by (kind, id), and
/// the objects with their addresses.
#[allow(clippy::type_complexity)]
fn resource_names<'a>(
    kinds: &BTreeSet<Kind>,
    listings: &'a BTreeMap<Kind, gcrecon_core::provider::Listing>,
) -> (
    BTreeMap<(Kind, GenesysId), Address>,
    Vec<(Address, &'a LiveObject)>,
) {
    let mut exported = BTreeMap::new();
    let mut chosen: Vec<(Address, &LiveObject)> = Vec::new();
    for kind in kinds {
        let objects: Vec<&LiveObject> = listings
            .get(kind)
            .map(|l| l.objects.iter().filter(|o| !o.builtin).collect())
            .unwrap_or_default();
        let names = unique_names(
            objects.iter().map(|o| (o.name.as_str(), &o.id)),
            kind.as_str(),
        );
        for o in objects {
            let address = Address::resource(
                *kind,
                names
                    .get(&o.id)
                    .cloned()
                    .unwrap_or_else(|| kind.as_str().to_owned()),
            );
            exported.insert((*kind, o.id.clone()), address.clone());
            chosen.push((address, o));
        }
    }
    (exported, chosen)
}

/// Names of data sources per data kind, by id, for the listed objects not
/// exported (except the home division, which is `data.division.home`).
fn data_source_names(
    listings: &BTreeMap<Kind, gcrecon_core::provider::Listing>,
    exported: &BTreeMap<(Kind, GenesysId), Address>,
    home: &GenesysId,
) -> BTreeMap<DataKind, BTreeMap<GenesysId, String>> {
    let mut data_names = BTreeMap::new();
    for (kind, data_kind) in Kind::ALL
        .into_iter()
        .filter_map(|k| Some((k, k.spec().export.data_source?)))
    {
        let candidates: Vec<&LiveObject> = listings
            .get(&kind)
            .map(|l| {
                l.objects
                    .iter()
                    .filter(|o| !exported.contains_key(&(kind, o.id.clone())))
                    .filter(|o| !(kind == Kind::Division && o.id == *home))
                    .collect()
            })
            .unwrap_or_default();
        let mut names = unique_names(
            candidates.iter().map(|o| (o.name.as_str(), &o.id)),
            data_kind.as_str(),
        );
        // `home` is the home division's data source name.
        if kind == Kind::Division {
            for n in names.values_mut() {
                if n == "home" {
                    n.push_str("_division");
                }
            }
        }
        data_names.insert(data_kind, names);
    }
    data_names
}

/// The state of an export (every object applied with exactly the exported
/// values) and the objects written per kind.
fn exported_state(
    org: &Org,
    name: &str,
    data: &[DataBlock],
    entries: &[Entry],
) -> (State, BTreeMap<Kind, usize>) {
    let mut state = State::new(uuid::Uuid::new_v4().to_string(), name.to_owned());
    state.org_id = Some(org.id.clone());
    state.data = data
        .iter()
        .map(|d| (d.address.clone(), d.value.clone()))
        .collect();
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for e in entries {
        *counts.entry(e.object.kind).or_default() += 1;
        state.upsert_resource(ResourceState {
            address: e.address.clone(),
            kind: e.object.kind,
            id: e.object.id.clone(),
            name: e.object.name.clone(),
            applied: e.applied.clone(),
            read: read_differing(&e.applied, e.object.attrs.clone()),
            version: e.object.version.clone(),
            dependencies: e.dependencies.iter().cloned().collect(),
            prevent_destroy: e.prevent_destroy,
            sensitive_keys: Vec::new(),
        });
    }
    (state, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    use gcrecon_core::manifest::{load, Source};

    use crate::events::Silent;
    use crate::fake::{FakeProvider, HOME};
    use crate::planner::{plan, PlanInput, PlanOptions};

    #[test]
    fn the_provider_is_told_the_keys_an_export_writes() {
        let group = exported_keys(Kind::Group);
        assert!(group.contains("name") && group.contains("visibility"));
        assert!(
            !group.contains("members") && !group.contains("owners"),
            "members cost a call per group and are not exported: {group:?}"
        );
        let integration = exported_keys(Kind::Integration);
        assert!(integration.contains("config") && integration.contains("advanced"));
        assert!(!integration.contains("credentials") && !integration.contains("type_name"));
    }

    #[test]
    fn names_come_from_display_names() {
        assert_eq!(slug("eMite Adapter", "role"), "emite_adapter");
        assert_eq!(slug("  PureEngage -- SSO!  ", "role"), "pureengage_sso");
        assert_eq!(slug("Équipe Ventes", "group"), "equipe_ventes");
        assert_eq!(slug("2FA readers", "role"), "role_2fa_readers");
        assert_eq!(slug("★★", "group"), "group");
        assert_eq!(slug("Straße", "division"), "strasse");
    }

    #[test]
    fn colliding_names_are_numbered_deterministically() {
        let ids: Vec<GenesysId> = ["c", "a", "b", "d"].map(GenesysId::from).into();
        let objects = [
            ("eMite Adapter", &ids[0]),
            ("emite adapter", &ids[1]),
            ("eMite Adapter", &ids[2]),
            ("emite_adapter_2", &ids[3]),
        ];
        let names = unique_names(objects, "role");
        // `emite_adapter_2` is someone's own name: the numbering skips it.
        assert_eq!(names[&ids[3]], "emite_adapter_2");
        assert_eq!(names[&ids[2]], "emite_adapter");
        assert_eq!(names[&ids[0]], "emite_adapter_3");
        assert_eq!(names[&ids[1]], "emite_adapter_4");
        let reversed = unique_names(objects.into_iter().rev(), "role");
        assert_eq!(reversed, names, "independent of listing order");
    }

    #[allow(clippy::needless_pass_by_value)] // callers pass `json!(...)` directly
    fn object(kind: Kind, id: &str, attrs: serde_json::Value) -> LiveObject {
        let Value::Map(attrs) = Value::from_json(&attrs) else {
            panic!("attrs must be a map")
        };
        LiveObject {
            kind,
            id: GenesysId::from(id),
            name: attrs
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_owned(),
            attrs,
            version: "1".into(),
            builtin: false,
        }
    }

    fn populated() -> Arc<FakeProvider> {
        let provider = Arc::new(FakeProvider::default());
        provider.with(|o| {
            for x in [
                object(Kind::Division, "div-sales", serde_json::json!({"name": "Sales", "description": "the ${team} division"})),
                object(Kind::Role, "r1", serde_json::json!({"name": "eMite Adapter", "permissions": ["routing:queue:view", "analytics:conversationDetail:view"]})),
                object(Kind::Role, "r2", serde_json::json!({"name": "emite adapter", "permissions": ["routing:queue:view"], "description": ""})),
                object(Kind::Group, "g1", serde_json::json!({"name": "Ops", "description": "operators", "type": "official", "visibility": "public", "rules_visible": true, "owners": ["user-1"], "members": ["user-1"]})),
                object(Kind::OauthClient, "c1", serde_json::json!({
                    "name": "eMite client", "grant_type": "client_credentials", "state": "active", "token_ttl_seconds": 86400,
                    "roles": [
                        {"role": "role-admin", "divisions": [HOME]},
                        {"role": "r1", "divisions": ["*"]},
                        {"role": "r2", "divisions": ["div-sales", HOME]}
                    ],
                    "redirect_uris": [], "scopes": []})),
                object(Kind::OauthClient, "c2", serde_json::json!({"name": "Bare", "grant_type": "client_credentials", "state": "inactive", "token_ttl_seconds": 600, "roles": []})),
                object(Kind::Integration, "i1", serde_json::json!({"name": "Wallboard", "type": "embedded-client-app", "enabled": true, "config": {"url": "https://x.example/${path}", "sandbox": "allow-scripts", "unset": null}})),
            ] {
                o.objects.insert((x.kind, x.id.clone()), x);
            }
        });
        provider
    }

    async fn exported(provider: &Arc<FakeProvider>, kinds: &[Kind]) -> Exported {
        export(
            provider,
            &ExportOptions {
                kinds: kinds.to_vec(),
                name: "acme".into(),
            },
            &Silent,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_manifest_uses_references_and_data_sources() {
        let provider = populated();
        let out = exported(&provider, &default_kinds()).await;
        let m = &out.manifest;
        assert!(m.starts_with("# Exported by `gcrecon export`"), "{m}");
        for expected in [
            "[gcrecon]\nversion = 1\nname = \"acme\"\n",
            "[data.division.home]\nhome = true\n",
            "[data.role.admin]\nname = \"admin\"\n",
            "[role.emite_adapter]\n",
            "[role.emite_adapter_2]\n",
            "{ role = \"${data.role.admin.id}\" }",
            "{ role = \"${role.emite_adapter.id}\", divisions = [\"*\"] }",
            "{ role = \"${role.emite_adapter_2.id}\", divisions = [\"${data.division.home.id}\", \"${division.sales.id}\"] }",
            "permissions = [\"analytics:conversationDetail:view\", \"routing:queue:view\"]",
            "description = \"the $${team} division\"",
            "url = \"https://x.example/$${path}\"",
            "[oauth_client.bare]\nname = \"Bare\"\ngrant_type = \"client_credentials\"\nroles = []\n",
        ] {
            assert!(m.contains(expected), "missing {expected:?} in\n{m}");
        }
        for absent in [
            "members =",
            "owners =",
            "user-1",
            "redirect_uris",
            "unset",
            "r1\"",
            "description = \"\"",
        ] {
            assert!(!m.contains(absent), "{absent:?} in\n{m}");
        }
        assert_eq!(out.counts[&Kind::Role], 2);
        assert_eq!(out.data_sources, 2);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let client = out
            .state
            .resource(&"oauth_client.emite_client".parse().unwrap())
            .unwrap();
        let deps: Vec<String> = client
            .dependencies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            deps,
            [
                "division.sales",
                "role.emite_adapter",
                "role.emite_adapter_2"
            ]
        );
        // Same organization, same text.
        assert_eq!(
            exported(&provider, &default_kinds()).await.manifest,
            out.manifest
        );
    }

    async fn assert_round_trip(provider: &Arc<FakeProvider>, out: &Exported) {
        let sources = [Source::new("acme.toml", out.manifest.as_str())];
        let manifest = load(&sources)
            .unwrap_or_else(|d| panic!("{}\n{}", d.render(&sources, false), out.manifest));
        let variables = manifest
            .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
            .unwrap();
        let planned = plan(
            provider,
            PlanInput {
                manifest: &manifest,
                variables: &variables,
                name: "acme",
                manifest_sha256: "",
            },
            &out.state,
            true,
            PlanOptions::default(),
            &Silent,
        )
        .await
        .unwrap_or_else(|e| match e {
            EngineError::Manifest(d) => panic!("{}", d.render(&sources, false)),
            e => panic!("{e}"),
        });
        let changes: Vec<_> = planned
            .plan
            .resource_changes
            .iter()
            .filter(|c| c.is_change())
            .map(|c| (c.address.to_string(), c.changed_keys.clone()))
            .collect();
        assert!(!planned.has_changes(), "{changes:?}\n{}", out.manifest);
    }

    #[tokio::test]
    async fn an_export_plans_empty() {
        let provider = populated();
        let out = exported(&provider, &default_kinds()).await;
        assert_round_trip(&provider, &out).await;
    }

    #[tokio::test]
    async fn kinds_left_out_become_data_sources() {
        let provider = populated();
        let out = exported(&provider, &[Kind::OauthClient, Kind::RoleGrant]).await;
        let m = &out.manifest;
        assert!(
            m.contains("[data.role.emite_adapter]\nname = \"eMite Adapter\"\n"),
            "{m}"
        );
        assert!(
            m.contains("[data.role.emite_adapter_2]\nname = \"emite adapter\"\n"),
            "{m}"
        );
        assert!(
            m.contains("[data.division.sales]\nname = \"Sales\"\n"),
            "{m}"
        );
        assert!(!m.contains("[role."), "{m}");
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.warnings[0].contains("role_grant"));
        assert_round_trip(&provider, &out).await;
    }
}
