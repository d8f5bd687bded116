//! Drift: how the organization differs from what gcrecon manages
//! (`gcrecon drift`), as a [`DriftReport`].
//!
//! One refresh, list-based like a plan's:
//!
//! - every object of each *managed kind* — the kinds the manifest or the
//!   state has at least one object of — is listed in full
//!   ([`ListScope::All`]), a handful of paged calls per kind whatever the
//!   size of the organization; `role_grant` is the exception: a whole-org
//!   listing would cost a call per role, and a role's grants to people are
//!   not "objects", so only the role grants of the state are read;
//! - a managed object the listing lacks is read by id before it is called
//!   missing (a lagging search index never makes it "gone"), and so is one
//!   whose listing lacks a key gcrecon manages (group `members` and
//!   integration `config` are not part of the list endpoints).
//!
//! Then three findings:
//!
//! - **changed**: the live object against what gcrecon last applied (the
//!   state's `applied`; the manifest's values for an object imported but
//!   never applied), key by key, under the diff's semantics
//!   ([`gcrecon_core::diff`]): sets unordered, keys the manifest does not
//!   set and that have no default never compared (a defaulted key the
//!   manifest omits is expected at its default), `ignore_changes` honoured, and
//!   only the keys the current manifest still sets. Comparing with the
//!   last apply, not the manifest, keeps edits not yet applied out of the
//!   report: those are what `gcrecon plan` is for. A key whose value the
//!   manifest computes from data sources (role grant `subjects` from
//!   `data.users`) is compared with its value computed now, so a user who
//!   newly matches the rule and lacks the grant is reported.
//! - **missing**: in the state, gone from the organization.
//! - **unmanaged**: listed objects of the managed kinds that no state entry
//!   claims, built-in objects excluded, minus those the ignore file
//!   ([`crate::ignore`]) silences; with coverage per kind.
//!
//! Then **attribution** (unless [`DriftInput::audit`] is off): the latest
//! audit-log entries about every finding's object
//! ([`Provider::audit_log`], batched per audit service, never a request
//! per object), at most [`AUDIT_ENTRIES_PER_OBJECT`] each; entries by the
//! OAuth client gcrecon runs as are marked as gcrecon's. A caller without
//! [`AUDIT_PERMISSION`] still gets the whole report, with one note
//! ([`DriftReport::audit_note`]) saying what attribution needs.
//!
//! Drift never writes the state, takes no lock and changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gcrecon_core::diff::{self, comparable_before, key_spec, without_meta, DiffInput};
use gcrecon_core::drift::{
    ActorKind, Coverage, DriftReport, DriftedObject, KeyChange, MissingObject, UnmanagedObject,
};
use gcrecon_core::manifest::{DesiredInstance, EvalContext, Manifest, Variables};
use gcrecon_core::provider::{
    Caller, CallerKind, GenesysId, ListScope, Listing, LiveObject, Provider, ProviderError,
};
use gcrecon_core::schema::DiffKind;
use gcrecon_core::state::{ResourceState, State};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::{Address, Kind};

use crate::error::EngineError;
use crate::events::{Event, Observer};
use crate::ignore::IgnoreRules;
use crate::planner::state_value;
use crate::refresh::{check_org, read_context_but_home, read_home};

/// What drift compares against.
#[derive(Clone, Copy)]
pub struct DriftInput<'a> {
    pub manifest: &'a Manifest,
    pub variables: &'a Variables,
    /// Unmanaged objects to leave out of the report.
    pub ignore: &'a IgnoreRules,
    /// Attribute findings from the audit log (`--no-audit` turns it off).
    pub audit: bool,
}

/// The permission that reading the audit log needs.
pub const AUDIT_PERMISSION: &str = "audits:audit:view";

/// Audit entries kept per finding, newest first.
pub const AUDIT_ENTRIES_PER_OBJECT: usize = 3;

/// The note of a report whose caller may not read the audit log.
pub fn audit_permission_note() -> String {
    format!("attribution (who changed what, from the audit log) needs the {AUDIT_PERMISSION} permission; the caller lacks it")
}

/// Whether a permission (with `*` wildcards per segment) covers `wanted`.
fn permission_covers(held: &str, wanted: &str) -> bool {
    let (h, w): (Vec<&str>, Vec<&str>) = (held.split(':').collect(), wanted.split(':').collect());
    h.len() == w.len() && h.iter().zip(&w).all(|(a, b)| *a == "*" || a == b)
}

/// Whether an audited property may hold a secret: its values never reach
/// the report.
fn looks_sensitive(property: &str) -> bool {
    let p = property.to_ascii_lowercase();
    ["secret", "password", "token", "credential", "privatekey"]
        .iter()
        .any(|w| p.contains(w))
}

/// Fills the `audit` list of every finding (see the module documentation).
async fn attribute<P: Provider + 'static>(
    provider: &Arc<P>,
    caller: &Caller,
    report: &mut DriftReport,
) -> Result<(), EngineError> {
    if !caller
        .permissions
        .iter()
        .any(|p| permission_covers(p, AUDIT_PERMISSION))
    {
        report.audit_note = Some(audit_permission_note());
        return Ok(());
    }
    let targets: Vec<(Kind, GenesysId)> = report
        .drifted
        .iter()
        .map(|d| (d.kind, d.id.clone()))
        .chain(report.missing.iter().map(|m| (m.kind, m.id.clone())))
        .chain(report.unmanaged.iter().map(|u| (u.kind, u.id.clone())))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let mut log = match provider.audit_log(&targets, AUDIT_ENTRIES_PER_OBJECT).await {
        Ok(log) => log,
        Err(ProviderError::Forbidden { .. }) => {
            report.audit_note = Some(audit_permission_note());
            return Ok(());
        }
        Err(e) => {
            return Err(EngineError::provider(
                "cannot read the audit log (use --no-audit to skip attribution)",
                e,
            ))
        }
    };
    for entry in log.values_mut().flatten() {
        for change in &mut entry.changes {
            if looks_sensitive(&change.property) {
                for v in change.old.iter_mut().chain(change.new.iter_mut()) {
                    *v = "(sensitive)".to_owned();
                }
            }
        }
        entry.actor.gcrecon = caller.kind == CallerKind::Client
            && entry.actor.kind == ActorKind::Client
            && entry.actor.id == caller.id.as_str();
    }
    let mut take = |kind: Kind, id: &GenesysId| log.remove(&(kind, id.clone())).unwrap_or_default();
    for d in &mut report.drifted {
        d.audit = take(d.kind, &d.id);
    }
    for m in &mut report.missing {
        m.audit = take(m.kind, &m.id);
    }
    for u in &mut report.unmanaged {
        u.audit = take(u.kind, &u.id);
    }
    Ok(())
}

/// An unmanaged object the ignore file silenced, and the rule that did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    pub object: UnmanagedObject,
    pub rule: String,
}

/// Everything `gcrecon drift` found.
#[derive(Clone, Debug, Default)]
pub struct DriftOutcome {
    pub report: DriftReport,
    /// Unmanaged objects left out of the report by the ignore file.
    pub ignored: Vec<Ignored>,
    /// Things the reader should know (incomplete listings, pending changes).
    pub warnings: Vec<String>,
    /// API calls made, by `METHOD /path/{template}`.
    pub api_calls: BTreeMap<String, u64>,
}

impl DriftOutcome {
    /// True when `gcrecon drift` exits 2: a managed object changed or is
    /// missing, or an unmanaged object is not silenced by the ignore file.
    pub fn has_findings(&self) -> bool {
        self.report.has_findings()
    }
}

/// The kinds listed in full: those the manifest or the state has objects
/// of, except `role_grant`.
pub fn managed_kinds(
    state: &State,
    desired: &BTreeMap<Address, DesiredInstance>,
) -> BTreeSet<Kind> {
    state
        .resources
        .iter()
        .map(|r| r.kind)
        .chain(desired.values().map(|i| i.kind))
        .filter(|k| *k != Kind::RoleGrant)
        .collect()
}

/// What gcrecon expects of one managed object: the attributes last applied
/// (or the manifest's, for an object never applied), restricted to the keys
/// the manifest still sets, without gcrecon's own settings, sensitive
/// values or values not known yet.
pub fn expected_attrs(record: &ResourceState, instance: Option<&DesiredInstance>) -> Attrs {
    let mut base = match instance {
        _ if !record.applied.is_empty() => record.applied.clone(),
        Some(i) => i.attrs.clone(),
        None => Attrs::new(),
    };
    // A key left at its default is expected at its default, also when the
    // last apply recorded it without one.
    gcrecon_core::schema::fill_defaults(record.kind, &mut base);
    // A value the manifest computes from data sources is expected as it is
    // computed now: a user who newly matches `data.users` and lacks the
    // grant (or no longer matches and still holds it) is drift.
    if let Some(i) = instance {
        for key in &i.data_keys {
            if let Some(v) = i.attrs.get(key).filter(|v| v.is_known()) {
                base.insert(key.clone(), v.clone());
            }
        }
    }
    let sensitive: BTreeSet<&str> = record
        .sensitive_keys
        .iter()
        .chain(instance.map(|i| &i.sensitive_keys).into_iter().flatten())
        .map(String::as_str)
        .collect();
    without_meta(record.kind, &base)
        .into_iter()
        .filter(|(k, v)| {
            v.is_known()
                && !sensitive.contains(k.as_str())
                && instance.is_none_or(|i| i.attrs.contains_key(k))
        })
        .collect()
}

/// The keys of `expected` that `live` lacks: the listing did not carry them
/// (group members, integration config), or they are really gone; a read by
/// id tells which.
fn lacks_keys(record: &ResourceState, expected: &Attrs, live: &LiveObject) -> bool {
    if record.kind == Kind::RoleGrant {
        return false;
    }
    expected.keys().any(|k| !live.attrs.contains_key(k))
}

/// The live value shown for a changed key: in the manifest's vocabulary,
/// and for maps compared as subsets only the entries gcrecon sets.
fn actual_value(kind: Kind, key: &str, expected: Option<&Value>, comparable: &Attrs) -> Value {
    let live = comparable.get(key).cloned().unwrap_or_default();
    let subset = key_spec(kind, key).is_some_and(|s| s.diff == DiffKind::Subset);
    match (subset, expected, &live) {
        (true, Some(Value::Map(want)), Value::Map(have)) => Value::Map(
            have.iter()
                .filter(|(k, _)| want.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => live,
    }
}

/// The changed keys of one managed object, sorted by key.
pub fn compare(
    record: &ResourceState,
    instance: Option<&DesiredInstance>,
    live: &LiveObject,
    home_division_id: &str,
) -> Vec<KeyChange> {
    let expected = expected_attrs(record, instance);
    if expected.is_empty() {
        return Vec::new();
    }
    let ignore: &[String] = instance.map_or(&[], |i| &i.ignore_changes);
    let applied = (!record.applied.is_empty()).then_some(&record.applied);
    let d = diff::diff(&DiffInput {
        kind: record.kind,
        desired: &expected,
        live: &live.attrs,
        applied: applied.or(Some(&expected)),
        ignore_changes: ignore,
        home_division_id: Some(home_division_id),
    });
    let comparable = comparable_before(
        record.kind,
        &live.attrs,
        Some(&expected),
        applied,
        Some(home_division_id),
    );
    let mut changes: Vec<KeyChange> = d
        .changed_keys
        .iter()
        .map(|key| {
            let want = expected.get(key).cloned().unwrap_or_else(|| {
                // A role grant without `divisions` is granted in the home division.
                if record.kind == Kind::RoleGrant && key == "divisions" {
                    Value::strings([home_division_id])
                } else {
                    Value::Null
                }
            });
            KeyChange {
                key: key.clone(),
                actual: actual_value(record.kind, key, Some(&want), &comparable),
                expected: want,
            }
        })
        .collect();
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    changes
}

/// Live objects for drift: full listings of `kinds`, the state's role
/// grants by id, and each state entry matched (read by id when the listing
/// lacks it or lacks a key in `expected`).
async fn read_live<P: Provider + 'static>(
    provider: &Arc<P>,
    state: &State,
    kinds: &BTreeSet<Kind>,
    expected: &BTreeMap<Address, Attrs>,
    observer: &dyn Observer,
) -> Result<
    (
        BTreeMap<Kind, Listing>,
        BTreeMap<Address, Option<LiveObject>>,
    ),
    EngineError,
> {
    let grant_ids: Vec<GenesysId> = state
        .resources
        .iter()
        .filter(|r| r.kind == Kind::RoleGrant)
        .map(|r| r.id.clone())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    let mut wanted: Vec<(Kind, Option<Vec<GenesysId>>)> =
        kinds.iter().map(|k| (*k, None)).collect();
    if !grant_ids.is_empty() {
        wanted.push((Kind::RoleGrant, Some(grant_ids)));
    }
    for (kind, ids) in wanted {
        observer.event(&Event::Listing { kind });
        let provider = Arc::clone(provider);
        tasks.spawn(async move {
            let listing = match &ids {
                None => provider.list(kind, ListScope::All).await,
                Some(ids) => {
                    provider
                        .list(kind, ListScope::Only { ids, names: &[] })
                        .await
                }
            };
            (kind, listing)
        });
    }
    let mut listings = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (kind, listing) = joined.map_err(|e| EngineError::Usage {
            message: format!("a refresh task failed: {e}"),
            hint: None,
        })?;
        let listing = listing
            .map_err(|e| EngineError::provider(format!("cannot list the {kind} objects"), e))?;
        listings.insert(kind, listing);
    }

    // Listed objects by (listing kind, id), the first of each: one lookup
    // per state entry instead of a scan of the listing.
    let mut listed_by_id: HashMap<(Kind, &GenesysId), &LiveObject> = HashMap::new();
    for (kind, listing) in &listings {
        for o in &listing.objects {
            listed_by_id.entry((*kind, &o.id)).or_insert(o);
        }
    }
    let mut managed = BTreeMap::new();
    let mut reads = tokio::task::JoinSet::new();
    for r in &state.resources {
        let listed = listed_by_id.get(&(r.kind, &r.id)).copied();
        let complete = listed.is_some_and(|o| {
            expected
                .get(&r.address)
                .is_none_or(|e| !lacks_keys(r, e, o))
        });
        if complete {
            managed.insert(r.address.clone(), listed.cloned());
            continue;
        }
        let provider = Arc::clone(provider);
        let (address, kind, id) = (r.address.clone(), r.kind, r.id.clone());
        reads.spawn(async move {
            let read = provider.read(kind, &id).await;
            (address, id, read)
        });
    }
    while let Some(joined) = reads.join_next().await {
        let (address, id, read) = joined.map_err(|e| EngineError::Usage {
            message: format!("a refresh task failed: {e}"),
            hint: None,
        })?;
        let live =
            read.map_err(|e| EngineError::provider(format!("cannot read {address} ({id})"), e))?;
        managed.insert(address, live);
    }
    Ok((listings, managed))
}

/// The rule named for the caller's own OAuth client in [`DriftOutcome::ignored`].
pub const CALLER_RULE: &str = "(the OAuth client gcrecon runs as)";

/// True when `object` is the OAuth client behind the current credentials.
fn is_the_caller(caller: &Caller, object: &LiveObject) -> bool {
    caller.kind == CallerKind::Client && object.kind == Kind::OauthClient && object.id == caller.id
}

/// Refresh and compare: the drift report of the organization against the
/// state and the manifest. Reads only.
pub async fn drift<P: Provider + 'static>(
    provider: &Arc<P>,
    input: DriftInput<'_>,
    state: &State,
    observer: &dyn Observer,
) -> Result<DriftOutcome, EngineError> {
    let mut context = read_context_but_home(
        provider.as_ref(),
        Some(input.manifest),
        input.variables,
        observer,
    )
    .await?;
    check_org(state, &context.org, None)?;
    let desired: BTreeMap<Address, DesiredInstance> = {
        let from_state = |a: &Address, attr: &str| state_value(state, a, attr);
        let ctx = EvalContext::new(input.variables, &context.data, &from_state)
            .with_emails(&context.emails);
        input
            .manifest
            .desired(&ctx)
            .map_err(EngineError::Manifest)?
            .instances
            .into_iter()
            .map(|i| (i.address.clone(), i))
            .collect()
    };
    let expected: BTreeMap<Address, Attrs> = state
        .resources
        .iter()
        .map(|r| {
            (
                r.address.clone(),
                expected_attrs(r, desired.get(&r.address)),
            )
        })
        .collect();
    let kinds = managed_kinds(state, &desired);
    let (live, home) = tokio::join!(
        read_live(provider, state, &kinds, &expected, observer),
        read_home(provider.as_ref())
    );
    let (listings, managed) = live?;
    context.home = home?;

    let mut report = DriftReport::default();
    compare_managed(
        state,
        &desired,
        &managed,
        context.home_division(),
        &mut report,
    );
    let (mut ignored, mut warnings) = find_unmanaged(
        &input,
        &context.caller,
        state,
        &kinds,
        &listings,
        &managed,
        &mut report,
    );
    warnings.extend(manifest_warnings(state, &desired));

    report.drifted.sort_by(|a, b| a.address.cmp(&b.address));
    report.missing.sort_by(|a, b| a.address.cmp(&b.address));
    report
        .unmanaged
        .sort_by(|a, b| (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id)));
    ignored.sort_by(|a, b| {
        (a.object.kind, &a.object.name, &a.object.id).cmp(&(
            b.object.kind,
            &b.object.name,
            &b.object.id,
        ))
    });
    if input.audit {
        attribute(provider, &context.caller, &mut report).await?;
    }
    Ok(DriftOutcome {
        report,
        ignored,
        warnings,
        api_calls: provider.call_counts(),
    })
}

/// Each object the state records, as read now: gone, or changed since
/// gcrecon applied it.
fn compare_managed(
    state: &State,
    desired: &BTreeMap<Address, DesiredInstance>,
    managed: &BTreeMap<Address, Option<LiveObject>>,
    home: &str,
    report: &mut DriftReport,
) {
    for record in &state.resources {
        match managed.get(&record.address).and_then(Option::as_ref) {
            None => report.missing.push(MissingObject {
                address: record.address.clone(),
                kind: record.kind,
                id: record.id.clone(),
                audit: Vec::new(),
            }),
            Some(live) => {
                let changes = compare(record, desired.get(&record.address), live, home);
                if !changes.is_empty() {
                    report.drifted.push(DriftedObject {
                        address: record.address.clone(),
                        kind: record.kind,
                        id: record.id.clone(),
                        changes,
                        audit: Vec::new(),
                    });
                }
            }
        }
    }
}

/// The objects of the managed kinds the state does not record (unmanaged,
/// or ignored and why), and each kind's coverage. Returns the ignored
/// objects and the warnings about listings the caller cannot see whole.
fn find_unmanaged(
    input: &DriftInput<'_>,
    caller: &Caller,
    state: &State,
    kinds: &BTreeSet<Kind>,
    listings: &BTreeMap<Kind, Listing>,
    managed: &BTreeMap<Address, Option<LiveObject>>,
    report: &mut DriftReport,
) -> (Vec<Ignored>, Vec<String>) {
    let mut warnings = Vec::new();
    let claimed: BTreeSet<(Kind, &GenesysId)> =
        state.resources.iter().map(|r| (r.kind, &r.id)).collect();
    let mut ignored = Vec::new();
    for kind in kinds {
        let Some(listing) = listings.get(kind) else {
            continue;
        };
        let mut all: BTreeSet<&GenesysId> = BTreeSet::new();
        for object in listing.objects.iter().filter(|o| !o.builtin) {
            all.insert(&object.id);
            if claimed.contains(&(object.kind, &object.id)) {
                continue;
            }
            let unmanaged = UnmanagedObject {
                kind: object.kind,
                id: object.id.clone(),
                name: object.name.clone(),
                audit: Vec::new(),
            };
            // The OAuth client gcrecon runs as is the tool's own identity, not
            // something the manifest forgot: never report it as drift.
            if is_the_caller(caller, object) {
                ignored.push(Ignored {
                    object: unmanaged,
                    rule: CALLER_RULE.to_owned(),
                });
                continue;
            }
            match input
                .ignore
                .ignoring_rule(object.kind, &object.name, &object.id)
            {
                Some(rule) => ignored.push(Ignored {
                    object: unmanaged,
                    rule: rule.to_owned(),
                }),
                None => report.unmanaged.push(unmanaged),
            }
        }
        let live_managed: Vec<&LiveObject> = state
            .resources
            .iter()
            .filter(|r| r.kind == *kind)
            .filter_map(|r| managed.get(&r.address).and_then(Option::as_ref))
            .collect();
        all.extend(live_managed.iter().map(|o| &o.id));
        report.coverage.push(Coverage {
            kind: *kind,
            managed: live_managed.len(),
            total: all.len(),
        });
        if !listing.complete {
            warnings.push(format!(
                "the caller cannot see every {kind} (division-scoped objects are listed with its visibility); unmanaged objects and coverage count only those it can see"
            ));
        }
    }

    (ignored, warnings)
}

/// What drift cannot see: manifest resources not applied yet, state
/// entries the next apply deletes, operations an interrupted apply left.
fn manifest_warnings(state: &State, desired: &BTreeMap<Address, DesiredInstance>) -> Vec<String> {
    let mut warnings = Vec::new();
    let not_applied: Vec<String> = desired
        .keys()
        .filter(|a| state.resource(a).is_none())
        .map(ToString::to_string)
        .collect();
    if !not_applied.is_empty() {
        warnings.push(format!(
            "{} not applied yet ({}); drift compares only what the state records — `gcrecon plan` shows what apply would do",
            plural(not_applied.len(), "manifest resource is", "manifest resources are"),
            abbreviated(&not_applied)
        ));
    }
    let leaving: Vec<String> = state
        .resources
        .iter()
        .filter(|r| !desired.contains_key(&r.address))
        .map(|r| r.address.to_string())
        .collect();
    if !leaving.is_empty() {
        warnings.push(format!(
            "{} in the state but no longer in the manifest ({}); the next apply deletes {}",
            plural(leaving.len(), "resource is", "resources are"),
            abbreviated(&leaving),
            if leaving.len() == 1 { "it" } else { "them" }
        ));
    }
    if !state.pending.is_empty() {
        warnings.push(format!(
            "the state records {} that an interrupted apply did not confirm; run `gcrecon plan` to settle {}",
            plural(state.pending.len(), "operation", "operations"),
            if state.pending.len() == 1 { "it" } else { "them" }
        ));
    }

    warnings
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The first few items, then `and N more`.
fn abbreviated(items: &[String]) -> String {
    const SHOWN: usize = 5;
    if items.len() <= SHOWN {
        items.join(", ")
    } else {
        format!(
            "{}, and {} more",
            items[..SHOWN].join(", "),
            items.len() - SHOWN
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use gcrecon_core::manifest::{load, Source};
    use gcrecon_core::provider::CallerKind;

    use crate::apply::{apply, ApplyInput, ApplyOptions};
    use crate::events::{Cancel, Silent};
    use crate::fake::{FakeProvider, HOME};
    use crate::planner::{plan, PlanInput, PlanOptions};
    use crate::secrets::SecretsFile;
    use crate::store::StateStore;

    const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "t"

[division.sales]
name = "Sales"

[role.reader]
name = "Reader"
permissions = ["routing:queue:view", "analytics:conversationDetail:view"]

[role.presence]
name = "Presence"
description = "presence sync"
permissions = ["integration:presence:view"]
ignore_changes = ["description"]

[group.ops]
name = "Ops"
description = "operators"

[data.user.ada]
email = "ada@example.com"

[role_grant.readers]
role = "${role.reader.id}"
subjects = ["${data.user.ada.id}"]
"#;

    struct World {
        provider: Arc<FakeProvider>,
        manifest: Manifest,
        variables: Variables,
        _dir: tempfile::TempDir,
        state_path: std::path::PathBuf,
    }

    impl World {
        async fn applied(text: &str) -> World {
            let dir = tempfile::tempdir().unwrap();
            let sources = [Source::new("gcrecon.toml", text)];
            let manifest =
                load(&sources).unwrap_or_else(|d| panic!("{}", d.render(&sources, false)));
            let variables = manifest
                .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
                .unwrap();
            let w = World {
                provider: Arc::new(FakeProvider::new(CallerKind::User)),
                manifest,
                variables,
                state_path: dir.path().join("state/t.gcstate.json"),
                _dir: dir,
            };
            let input = PlanInput {
                manifest: &w.manifest,
                variables: &w.variables,
                name: "t",
                manifest_sha256: "",
            };
            let store = StateStore::open(&w.state_path, "t").unwrap();
            let planned = plan(
                &w.provider,
                input,
                store.state(),
                false,
                PlanOptions::default(),
                &Silent,
            )
            .await
            .unwrap_or_else(|e| match e {
                EngineError::Manifest(d) => panic!("{}", d.render(&w.manifest.sources(), false)),
                e => panic!("{e}"),
            });
            let (report, _) = apply(
                Arc::clone(&w.provider),
                ApplyInput {
                    manifest: &w.manifest,
                    variables: &w.variables,
                    name: "t",
                    manifest_sha256: "",
                },
                store,
                planned,
                ApplyOptions {
                    parallelism: 4,
                    secrets: SecretsFile::new(w.state_path.with_extension("secrets")),
                    cancel: Cancel::new(),
                },
                Arc::new(Silent),
            )
            .await
            .unwrap();
            assert!(report.succeeded(), "{report:#?}");
            w
        }

        fn state(&self) -> State {
            StateStore::open(&self.state_path, "t")
                .unwrap()
                .state()
                .clone()
        }

        fn id(&self, address: &str) -> String {
            self.state()
                .resource(&address.parse().unwrap())
                .unwrap()
                .id
                .to_string()
        }

        async fn drift_with(&self, ignore: &IgnoreRules) -> DriftOutcome {
            drift(
                &self.provider,
                DriftInput {
                    manifest: &self.manifest,
                    variables: &self.variables,
                    ignore,
                    audit: true,
                },
                &self.state(),
                &Silent,
            )
            .await
            .unwrap()
        }

        async fn drift(&self) -> DriftOutcome {
            self.drift_with(&IgnoreRules::default()).await
        }
    }

    fn keys(report: &DriftReport) -> Vec<(String, Vec<String>)> {
        report
            .drifted
            .iter()
            .map(|d| {
                (
                    d.address.to_string(),
                    d.changes.iter().map(|c| c.key.clone()).collect(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn a_converged_org_has_no_drift() {
        let w = World::applied(MANIFEST).await;
        let out = w.drift().await;
        assert!(!out.has_findings(), "{:#?}", out.report);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let coverage: Vec<(Kind, usize, usize)> = out
            .report
            .coverage
            .iter()
            .map(|c| (c.kind, c.managed, c.total))
            .collect();
        assert_eq!(
            coverage,
            [
                (Kind::Division, 1, 1),
                (Kind::Role, 2, 2),
                (Kind::Group, 1, 1)
            ],
            "built-in objects (home division, admin role) are left out"
        );
    }

    fn entry(action: &str, kind: ActorKind, id: &str) -> gcrecon_core::drift::AuditEntry {
        gcrecon_core::drift::AuditEntry {
            at: "2026-01-02T03:04:05.000Z".into(),
            action: action.into(),
            actor: gcrecon_core::drift::AuditActor {
                kind,
                id: id.into(),
                name: Some(id.to_uppercase()),
                gcrecon: false,
            },
            service: "S".into(),
            changes: vec![],
        }
    }

    #[tokio::test]
    async fn findings_carry_their_audit_entries_and_gcrecon_s_own_are_marked() {
        let w = World::applied(MANIFEST).await;
        let reader = w.id("role.reader");
        w.provider.mutate(Kind::Role, &reader, |o| {
            o.attrs.insert("name".into(), Value::from("Reader (old)"));
        });
        w.provider.with(|o| {
            let c = o.caller.as_mut().unwrap();
            c.kind = CallerKind::Client;
            c.id = GenesysId::from("client-ci");
            o.audit.insert(
                (Kind::Role, GenesysId::from(reader.as_str())),
                vec![
                    entry("Update", ActorKind::User, "user-1"),
                    entry("Create", ActorKind::Client, "client-ci"),
                ],
            );
        });
        let out = w.drift().await;
        let d = &out.report.drifted[0];
        assert_eq!(d.audit.len(), 2);
        assert_eq!(d.audit[0].actor.id, "user-1");
        assert!(!d.audit[0].actor.gcrecon);
        assert!(d.audit[1].actor.gcrecon, "{:?}", d.audit[1]);
        assert_eq!(out.report.audit_note, None);
        assert_eq!(out.api_calls["POST /api/v2/audits/query/realtime"], 1);

        // Without the permission: the same drift, one note, no query.
        w.provider.with(|o| {
            o.calls.clear();
            o.caller.as_mut().unwrap().permissions =
                BTreeSet::from(["directory:user:view".to_owned()]);
        });
        let out = w.drift().await;
        assert_eq!(out.report.drifted.len(), 1);
        assert!(out.report.drifted[0].audit.is_empty());
        assert_eq!(
            out.report.audit_note.as_deref(),
            Some(audit_permission_note().as_str())
        );
        assert!(!out
            .api_calls
            .contains_key("POST /api/v2/audits/query/realtime"));
        assert!(permission_covers("audits:*:view", AUDIT_PERMISSION));
        assert!(!permission_covers("audits:audit", AUDIT_PERMISSION));
    }

    #[tokio::test]
    async fn out_of_band_changes_are_reported_key_by_key() {
        let w = World::applied(MANIFEST).await;
        let reader = w.id("role.reader");
        w.provider.mutate(Kind::Role, &reader, |o| {
            o.attrs.insert("name".into(), Value::from("Reader (old)"));
            o.attrs.insert(
                "permissions".into(),
                Value::strings(["analytics:conversationDetail:view"]),
            );
        });
        // Reordered permissions and a new server-side key are not drift;
        // an ignored key is not either.
        let presence = w.id("role.presence");
        w.provider.mutate(Kind::Role, &presence, |o| {
            o.attrs
                .insert("description".into(), Value::from("edited by hand"));
        });
        // `visibility` is not in the manifest but has a default (`public`):
        // a change is drift. `roles_enabled` has none: it is not.
        let ops = w.id("group.ops");
        w.provider.mutate(Kind::Group, &ops, |o| {
            o.attrs.insert("visibility".into(), Value::from("members"));
            o.attrs.insert("roles_enabled".into(), Value::Bool(false));
            o.attrs
                .insert("description".into(), Value::from("ops team"));
        });
        let sales = w.id("division.sales");
        w.provider.with(|o| {
            o.objects
                .remove(&(Kind::Division, GenesysId::from(sales.as_str())));
        });
        let out = w.drift().await;
        assert_eq!(
            keys(&out.report),
            [
                (
                    "role.reader".to_owned(),
                    vec!["name".to_owned(), "permissions".to_owned()]
                ),
                (
                    "group.ops".to_owned(),
                    vec!["description".to_owned(), "visibility".to_owned()]
                ),
            ],
            "in address order (kinds as plans list them), keys sorted"
        );
        let reader_changes = &out.report.drifted[0].changes;
        assert_eq!(reader_changes[0].expected, Value::from("Reader"));
        assert_eq!(reader_changes[0].actual, Value::from("Reader (old)"));
        assert_eq!(
            reader_changes[1].actual,
            Value::strings(["analytics:conversationDetail:view"])
        );
        let missing: Vec<String> = out
            .report
            .missing
            .iter()
            .map(|m| format!("{} {}", m.address, m.id))
            .collect();
        assert_eq!(missing, [format!("division.sales {sales}")]);
        assert!(out.has_findings());
        assert!(out.report.has_drift());
    }

    #[tokio::test]
    async fn a_defaulted_key_is_drift_also_for_a_state_applied_without_it() {
        let w = World::applied(MANIFEST).await;
        // A state written before defaults were managed: `applied` lacks the
        // group's `visibility`.
        let text = std::fs::read_to_string(&w.state_path).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        for r in doc["resources"].as_array_mut().unwrap() {
            if r["address"] == "group.ops" {
                let applied = r["applied"].as_object_mut().unwrap();
                assert!(applied.remove("visibility").is_some(), "{applied:?}");
            }
        }
        std::fs::write(&w.state_path, doc.to_string()).unwrap();
        let ops = w.id("group.ops");
        w.provider.mutate(Kind::Group, &ops, |o| {
            o.attrs.insert("visibility".into(), Value::from("members"));
        });
        let out = w.drift().await;
        assert_eq!(
            keys(&out.report),
            [("group.ops".to_owned(), vec!["visibility".to_owned()])]
        );
        let change = &out.report.drifted[0].changes[0];
        assert_eq!(change.expected, Value::from("public"));
        assert_eq!(change.actual, Value::from("members"));
    }

    #[tokio::test]
    async fn a_role_grant_taken_away_by_hand_is_drift() {
        let w = World::applied(MANIFEST).await;
        let reader = w.id("role.reader");
        w.provider.mutate(Kind::RoleGrant, &reader, |o| {
            o.attrs.insert("grants".into(), Value::List(Vec::new()));
        });
        let out = w.drift().await;
        // Nothing of the grant is left: neither its subjects nor its division.
        assert_eq!(
            keys(&out.report),
            [(
                "role_grant.readers".to_owned(),
                vec!["divisions".to_owned(), "subjects".to_owned()]
            )]
        );
        let changes = &out.report.drifted[0].changes;
        assert_eq!(changes[0].expected, Value::strings([HOME]));
        assert_eq!(changes[1].expected, Value::strings(["user-1"]));
        assert_eq!(changes[1].actual, Value::strings(Vec::<String>::new()));
        // Someone else's grant of the same role is not the manifest's business.
        w.provider.mutate(Kind::RoleGrant, &reader, |o| {
            let grant = |s: &str| {
                Value::Map(
                    [
                        ("subject".to_owned(), Value::from(s)),
                        ("division".to_owned(), Value::from(HOME)),
                    ]
                    .into(),
                )
            };
            o.attrs.insert(
                "grants".into(),
                Value::List(vec![grant("user-1"), grant("someone-else")]),
            );
        });
        assert!(!w.drift().await.has_findings());
    }

    #[tokio::test]
    async fn unmanaged_objects_are_reported_unless_ignored() {
        let w = World::applied(MANIFEST).await;
        w.provider.with(|o| {
            for (kind, id, name) in [
                (Kind::Role, "r-legacy", "Legacy"),
                (Kind::Role, "r-legacy2", "Legacy Reports"),
                (Kind::Group, "g-hand", "Hand made"),
                (Kind::OauthClient, "c-other", "Not a managed kind"),
            ] {
                o.objects.insert(
                    (kind, GenesysId::from(id)),
                    LiveObject {
                        kind,
                        id: GenesysId::from(id),
                        name: name.into(),
                        attrs: Attrs::from([("name".to_owned(), Value::from(name))]),
                        version: "1".into(),
                        builtin: false,
                    },
                );
            }
        });
        let out = w.drift().await;
        let unmanaged: Vec<(Kind, &str)> = out
            .report
            .unmanaged
            .iter()
            .map(|u| (u.kind, u.name.as_str()))
            .collect();
        assert_eq!(
            unmanaged,
            [
                (Kind::Role, "Legacy"),
                (Kind::Role, "Legacy Reports"),
                (Kind::Group, "Hand made")
            ],
            "oauth_client is not a kind this manifest manages"
        );
        assert!(out.has_findings());
        assert!(!out.report.has_drift());
        let role = out
            .report
            .coverage
            .iter()
            .find(|c| c.kind == Kind::Role)
            .unwrap();
        assert_eq!((role.managed, role.total), (2, 4));

        let ignore = IgnoreRules::parse(
            "role.Legacy*\ngroup.*\n",
            std::path::Path::new(".gcreconignore"),
        )
        .unwrap();
        let out = w.drift_with(&ignore).await;
        assert!(!out.has_findings(), "{:#?}", out.report);
        let ignored: Vec<(&str, &str)> = out
            .ignored
            .iter()
            .map(|i| (i.object.name.as_str(), i.rule.as_str()))
            .collect();
        assert_eq!(
            ignored,
            [
                ("Legacy", "role.Legacy*"),
                ("Legacy Reports", "role.Legacy*"),
                ("Hand made", "group.*")
            ]
        );
        let role = out
            .report
            .coverage
            .iter()
            .find(|c| c.kind == Kind::Role)
            .unwrap();
        assert_eq!(
            (role.managed, role.total),
            (2, 4),
            "ignored objects still exist"
        );
    }

    #[tokio::test]
    async fn drift_lists_whole_kinds_and_never_writes() {
        let w = World::applied(MANIFEST).await;
        let before = std::fs::read_to_string(&w.state_path).unwrap();
        w.provider.with(|o| o.calls.clear());
        let out = w.drift().await;
        assert!(!out.has_findings());
        let calls = w.provider.call_counts();
        assert_eq!(calls.get("GET list division"), Some(&1));
        assert_eq!(calls.get("GET list role"), Some(&1));
        assert_eq!(calls.get("GET list group"), Some(&1));
        assert_eq!(calls.get("GET list role_grant"), Some(&1));
        assert!(
            !calls.keys().any(|k| k.starts_with("GET ")
                && !k.contains("list")
                && !k.contains("data")
                && !k.contains("/api/v2")),
            "no by-id reads when everything is listed: {calls:?}"
        );
        assert!(!calls
            .keys()
            .any(|k| k.starts_with("POST") || k.starts_with("PUT") || k.starts_with("DELETE")));
        assert_eq!(std::fs::read_to_string(&w.state_path).unwrap(), before);
    }

    #[tokio::test]
    async fn pending_manifest_edits_are_not_drift() {
        let w = World::applied(MANIFEST).await;
        let edited = MANIFEST
            .replace("description = \"operators\"", "description = \"on call\"")
            .replace(
                "[division.sales]\nname = \"Sales\"\n",
                "[division.sales]\nname = \"Sales\"\n\n[division.emea]\nname = \"EMEA\"\n",
            );
        let sources = [Source::new("gcrecon.toml", edited.as_str())];
        let manifest = load(&sources).unwrap();
        let w = World { manifest, ..w };
        let out = w.drift().await;
        assert!(!out.report.has_drift(), "{:#?}", out.report);
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(
            out.warnings[0].contains("division.emea"),
            "{:?}",
            out.warnings
        );
    }

    #[tokio::test]
    async fn an_imported_object_is_compared_with_the_manifest() {
        let w = World::applied(MANIFEST).await;
        let mut state = w.state();
        let record = state.resource_mut(&"group.ops".parse().unwrap()).unwrap();
        record.applied = Attrs::new();
        let ops = record.id.to_string();
        w.provider.mutate(Kind::Group, &ops, |o| {
            o.attrs
                .insert("description".into(), Value::from("ops team"));
        });
        let out = drift(
            &w.provider,
            DriftInput {
                manifest: &w.manifest,
                variables: &w.variables,
                ignore: &IgnoreRules::default(),
                audit: true,
            },
            &state,
            &Silent,
        )
        .await
        .unwrap();
        assert_eq!(
            keys(&out.report),
            [("group.ops".to_owned(), vec!["description".to_owned()])]
        );
        assert_eq!(
            out.report.drifted[0].changes[0].expected,
            Value::from("operators")
        );
    }
}
