//! Refresh: read what the organization holds now.
//!
//! [`read_context`] reads the organization, the caller and the manifest's
//! data sources (in dependency order; none or several matches is a plan
//! error naming the address and the query). [`read_objects`] lists the live
//! objects of every kind involved, in parallel, and matches them to the
//! state by Genesys id; an object the state records but the listing lacks is
//! read by id before it is called missing, so a lagging search index never
//! makes a managed object "gone". [`refresh`] does both, for drift and export.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gcrecon_core::fxhash::FxHashMap;
use gcrecon_core::manifest::{
    nothing_known, Diagnostic, Diagnostics, EvalContext, Manifest, Variables,
};
use gcrecon_core::provider::{
    Caller, CallerKind, GenesysId, ListScope, Listing, LiveObject, Org, Provider,
};
use gcrecon_core::state::{PendingKind, State};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::vecmap::VecMap;
use gcrecon_core::{Address, DataKind, Kind};

use crate::error::EngineError;
use crate::events::{Event, Observer};

/// The organization, the caller and the data source values.
#[derive(Clone, Debug)]
pub struct Context {
    pub org: Org,
    /// The organization's home division.
    pub home: GenesysId,
    pub caller: Caller,
    /// Every data source instance, including `data.org` and `data.caller`.
    pub data: BTreeMap<Address, Attrs>,
    /// User ids by lower-case email, for the emails group members and
    /// owners name (an email no user has is absent; evaluation reports it).
    pub emails: BTreeMap<String, String>,
}

impl Context {
    /// The home division id.
    pub fn home_division(&self) -> &str {
        self.home.as_str()
    }
}

/// Live objects, matched to the state.
#[derive(Clone, Debug, Default)]
pub struct LiveIndex {
    /// What each kind's listing returned; for a plan (not `all`), less the
    /// objects matched to the state, which are in `managed`.
    pub listings: BTreeMap<Kind, Listing>,
    /// Per address in the state: the live object, or `None` when the
    /// organization says it is gone. In the state's order, entry for
    /// entry, so a record's position finds its object (`get_near`).
    pub managed: VecMap<Address, Option<LiveObject>>,
}

impl LiveIndex {
    /// Listed objects that no state entry claims (built-in objects excluded).
    pub fn unmanaged(&self) -> Vec<&LiveObject> {
        let claimed: BTreeSet<(Kind, &GenesysId)> = self
            .managed
            .values()
            .flatten()
            .map(|o| (o.kind, &o.id))
            .collect();
        self.listings
            .values()
            .flat_map(|l| &l.objects)
            .filter(|o| !o.builtin && !claimed.contains(&(o.kind, &o.id)))
            .collect()
    }

    /// Unclaimed listed objects of `kind` named `name`.
    pub fn unclaimed_named<'a>(
        &'a self,
        kind: Kind,
        name: &str,
        claimed: &BTreeSet<(Kind, GenesysId)>,
    ) -> Vec<&'a LiveObject> {
        self.listings
            .get(&kind)
            .map(|l| {
                l.objects
                    .iter()
                    .filter(|o| o.name == name && !claimed.contains(&(o.kind, o.id.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Everything a refresh found (for drift and export).
#[derive(Clone, Debug)]
pub struct Refreshed {
    pub context: Context,
    pub live: LiveIndex,
}

/// The attributes of `data.org`.
pub fn org_attrs(org: &Org) -> Attrs {
    [
        ("id", &org.id),
        ("name", &org.name),
        ("short_name", &org.short_name),
        ("region", &org.region),
        ("domain", &org.domain),
        ("api_url", &org.api_url),
        ("login_url", &org.login_url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::from(v.as_str())))
    .collect()
}

/// The attributes of `data.caller`.
pub fn caller_attrs(caller: &Caller) -> Attrs {
    let kind = match caller.kind {
        CallerKind::User => "user",
        CallerKind::Client => "client",
    };
    Attrs::from([
        ("kind".to_owned(), Value::from(kind)),
        ("id".to_owned(), Value::from(caller.id.as_str())),
        ("name".to_owned(), Value::from(caller.name.as_str())),
    ])
}

/// Read the org, the caller, (with a manifest) every data source, and
/// then the home division.
pub async fn read_context<P: Provider>(
    provider: &P,
    manifest: Option<&Manifest>,
    variables: &Variables,
    observer: &dyn Observer,
) -> Result<Context, EngineError> {
    let mut context = read_context_but_home(provider, manifest, variables, observer).await?;
    context.home = read_home(provider).await?;
    Ok(context)
}

/// The organization's home division. Read after the data sources: one
/// that lists the divisions (which flags the home one) saves the call.
pub(crate) async fn read_home<P: Provider>(provider: &P) -> Result<GenesysId, EngineError> {
    provider
        .home_division()
        .await
        .map_err(|e| EngineError::provider("cannot read the home division", e))
}

/// [`read_context`] with the home division left empty, for a caller that
/// reads it ([`read_home`]) alongside the live objects.
pub(crate) async fn read_context_but_home<P: Provider>(
    provider: &P,
    manifest: Option<&Manifest>,
    variables: &Variables,
    observer: &dyn Observer,
) -> Result<Context, EngineError> {
    let (org, caller) = tokio::join!(provider.org(), provider.caller());
    let org = org.map_err(|e| EngineError::provider("cannot read the organization", e))?;
    let caller = caller.map_err(|e| EngineError::provider("cannot read the caller", e))?;
    let mut data = BTreeMap::new();
    data.insert(Address::data(DataKind::Org, ""), org_attrs(&org));
    data.insert(Address::data(DataKind::Caller, ""), caller_attrs(&caller));
    let mut emails = BTreeMap::new();
    if let Some(manifest) = manifest {
        read_data_sources(provider, manifest, variables, &mut data, observer).await?;
        let wanted = {
            let ctx = EvalContext::new(variables, &data, &nothing_known);
            manifest.group_member_emails(&ctx)
        };
        for email in wanted {
            let query = Attrs::from([("email".to_owned(), Value::from(email.as_str()))]);
            let found = provider.data(DataKind::User, &query).await.map_err(|e| {
                EngineError::provider(format!("cannot look up the user {email}"), e)
            })?;
            if let [one] = found.as_slice() {
                if let Some(id) = one.get("id").and_then(Value::as_str) {
                    emails.insert(email, id.to_owned());
                }
            }
        }
    }
    Ok(Context {
        org,
        home: GenesysId::from(String::new()),
        caller,
        data,
        emails,
    })
}

async fn read_data_sources<P: Provider>(
    provider: &P,
    manifest: &Manifest,
    variables: &Variables,
    data: &mut BTreeMap<Address, Attrs>,
    observer: &dyn Observer,
) -> Result<(), EngineError> {
    let mut problems = Diagnostics::new();
    for block in manifest.data_blocks_in_order() {
        let queries = {
            let ctx = EvalContext::new(variables, data, &nothing_known);
            manifest.data_queries(&block, &ctx)
        };
        let queries = match queries {
            Ok(q) => q,
            Err(d) => {
                // A block that reads a failed one fails too; report only the first cause.
                if !problems.has_errors() {
                    problems.extend(d);
                }
                continue;
            }
        };
        for q in queries {
            let found = provider
                .data(q.kind, &q.query)
                .await
                .map_err(|e| EngineError::provider(format!("cannot look up {}", q.address), e))?;
            observer.event(&Event::DataRead {
                address: q.address.clone(),
            });
            match found.len() {
                1 => {
                    data.insert(q.address, found.into_iter().next().unwrap_or_default());
                }
                n => problems.push(data_source_problem(
                    manifest, &q.address, q.kind, &q.query, n,
                )),
            }
        }
    }
    if problems.has_errors() {
        Err(EngineError::Manifest(problems))
    } else {
        Ok(())
    }
}

fn data_source_problem(
    manifest: &Manifest,
    address: &Address,
    kind: DataKind,
    query: &Attrs,
    found: usize,
) -> Diagnostic {
    let searched = query
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (message, hint) = if found == 0 {
        (
            format!("{address} found no {kind} where {searched}"),
            "check the spelling, and that the caller may see the object (division-scoped objects are listed with the caller's visibility)",
        )
    } else {
        (
            format!("{address} found {found} objects of kind {kind} where {searched}; it must find exactly one"),
            "narrow the query so that exactly one object matches",
        )
    };
    let key = query.keys().next().map(String::as_str);
    manifest.error_at(address, key, message).with_hint(hint)
}

/// List the live objects of `kinds` (those of the state, those named in
/// `names`) and match them to the state. `all` lists every object of each
/// kind (drift, export).
pub async fn read_objects<P: Provider + 'static>(
    provider: &Arc<P>,
    state: &State,
    names: &BTreeMap<Kind, BTreeSet<String>>,
    all: bool,
    observer: &dyn Observer,
) -> Result<LiveIndex, EngineError> {
    let mut ids: BTreeMap<Kind, Vec<GenesysId>> = BTreeMap::new();
    for r in &state.resources {
        ids.entry(r.kind).or_default().push(r.id.clone());
    }
    let mut wanted_names: BTreeMap<Kind, Vec<String>> = names
        .iter()
        .map(|(k, n)| (*k, n.iter().cloned().collect()))
        .collect();
    for p in state
        .pending
        .iter()
        .filter(|p| p.operation == PendingKind::Create)
    {
        wanted_names.entry(p.kind).or_default().push(p.name.clone());
    }
    let kinds: BTreeSet<Kind> = if all {
        Kind::ALL.into_iter().collect()
    } else {
        ids.keys().chain(wanted_names.keys()).copied().collect()
    };
    let mut tasks = tokio::task::JoinSet::new();
    for kind in kinds {
        observer.event(&Event::Listing { kind });
        let provider = Arc::clone(provider);
        // Each kind's lists move into its task: no copy of every id.
        let kind_ids = ids.remove(&kind).unwrap_or_default();
        let kind_names = wanted_names.remove(&kind).unwrap_or_default();
        tasks.spawn(async move {
            let scope = if all {
                ListScope::All
            } else {
                ListScope::Only {
                    ids: &kind_ids,
                    names: &kind_names,
                }
            };
            (kind, provider.list(kind, scope).await)
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
    // Where each state entry's object is in its kind's listing (the first
    // with its id): one hash lookup per entry instead of a scan.
    let positions: Vec<Option<usize>> = {
        let listed = listings.values().map(|l| l.objects.len()).sum();
        let mut by_id: FxHashMap<(Kind, &GenesysId), usize> =
            FxHashMap::with_capacity_and_hasher(listed, Default::default());
        for (kind, listing) in &listings {
            for (i, o) in listing.objects.iter().enumerate() {
                by_id.entry((*kind, &o.id)).or_insert(i);
            }
        }
        state
            .resources
            .iter()
            .map(|r| by_id.get(&(r.kind, &r.id)).copied())
            .collect()
    };
    // A plan's listings serve only to find unmanaged objects by name, so
    // the matched objects move out of them rather than being copied (a
    // full listing, for drift and export, keeps everything).
    let mut taken: BTreeMap<Kind, Vec<Option<LiveObject>>> = BTreeMap::new();
    if !all {
        for (kind, listing) in &mut listings {
            let objects = std::mem::take(&mut listing.objects);
            taken.insert(*kind, objects.into_iter().map(Some).collect());
        }
    }
    // Where the object listed at (kind, position) went: an index into `read`.
    let mut first_taker: FxHashMap<(Kind, usize), usize> =
        FxHashMap::with_capacity_and_hasher(state.resources.len(), Default::default());
    // In the state's order, which is address order: the map is built from it
    // in one pass at the end, with no search per entry.
    let mut read: Vec<(Address, Option<LiveObject>)> = Vec::with_capacity(state.resources.len());
    for (r, position) in state.resources.iter().zip(positions) {
        let listed = position.and_then(|i| match taken.get_mut(&r.kind) {
            Some(objects) => match objects.get_mut(i).and_then(Option::take) {
                Some(o) => {
                    first_taker.insert((r.kind, i), read.len());
                    Some(o)
                }
                // Two state entries with one id: the second gets a copy.
                None => first_taker
                    .get(&(r.kind, i))
                    .and_then(|&at| read[at].1.clone()),
            },
            None => listings
                .get(&r.kind)
                .and_then(|l| l.objects.get(i))
                .cloned(),
        });
        let live = match listed {
            Some(o) => Some(o),
            // Not in the listing: ask by id before calling it gone.
            None => provider.read(r.kind, &r.id).await.map_err(|e| {
                EngineError::provider(format!("cannot read {} ({})", r.address, r.id), e)
            })?,
        };
        read.push((r.address.clone(), live));
    }
    // In the state's order, entry for entry: a record's live object is
    // found by its position in the state. Sorted input is only checked.
    let managed: VecMap<Address, Option<LiveObject>> = read.into_iter().collect();
    for (kind, objects) in taken {
        if let Some(listing) = listings.get_mut(&kind) {
            listing.objects = objects.into_iter().flatten().collect();
        }
    }
    Ok(LiveIndex { listings, managed })
}

/// Read everything: context, data sources and every live object of every
/// managed kind. For drift and export.
pub async fn refresh<P: Provider + 'static>(
    provider: &Arc<P>,
    manifest: Option<&Manifest>,
    variables: &Variables,
    state: &State,
    observer: &dyn Observer,
) -> Result<Refreshed, EngineError> {
    let mut context =
        read_context_but_home(provider.as_ref(), manifest, variables, observer).await?;
    check_org(state, &context.org, None)?;
    let no_names = BTreeMap::new();
    let (live, home) = tokio::join!(
        read_objects(provider, state, &no_names, true, observer),
        read_home(provider.as_ref())
    );
    let live = live?;
    context.home = home?;
    Ok(Refreshed { context, live })
}

/// Refuse a state that belongs to another organization.
pub fn check_org(state: &State, org: &Org, address: Option<&str>) -> Result<(), EngineError> {
    match &state.org_id {
        Some(id) if id != &org.id => Err(EngineError::OtherOrg {
            path: address.map(std::path::PathBuf::from).unwrap_or_default(),
            state_org: id.clone(),
            live_org: org.id.clone(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {

    use crate::error::EngineError;

    use crate::planner::PlanOptions;

    use crate::testkit::*;

    use super::read_objects;
    use crate::events::Silent;
    use gcrecon_core::address::Address;
    use gcrecon_core::kind::Kind;
    use gcrecon_core::provider::{CallerKind, Provider};
    use std::collections::BTreeMap;

    /// Two state entries recording one id (a hand-edited state, or an
    /// import of an id already managed) both see the object; the listing's
    /// copy goes to the first and a clone to the second.
    #[tokio::test]
    async fn state_entries_sharing_an_id_both_see_the_object() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let mut state = h.state();
        let role = state
            .resources
            .iter()
            .find(|r| r.kind == Kind::Role)
            .unwrap()
            .clone();
        // Before and after the original in address order.
        for name in ["aaa_copy", "zzz_copy"] {
            let mut copy = role.clone();
            copy.address = Address::resource(Kind::Role, name);
            state.upsert_resource(copy);
        }
        let names = BTreeMap::new();
        let reads_before = h.provider.call_counts().get("GET role").copied();
        let live = read_objects(&h.provider, &state, &names, false, &Silent)
            .await
            .unwrap();
        // All three from the listing: none is read again by id.
        assert_eq!(
            h.provider.call_counts().get("GET role").copied(),
            reads_before
        );
        assert_eq!(live.managed.len(), state.resources.len());
        for r in &state.resources {
            let object = live.managed[&r.address].as_ref();
            assert_eq!(object.map(|o| &o.id), Some(&r.id), "{}", r.address);
        }
        assert!(live.managed.keys().is_sorted());
    }

    #[tokio::test]
    async fn data_sources_must_find_exactly_one_object() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(&format!(
            "{BASIC}\n[data.user.ada]\nemail = \"nobody@example.com\"\n"
        ));
        let err = h.plan_with(&m, PlanOptions::default()).await.unwrap_err();
        let EngineError::Manifest(d) = err else {
            panic!("{err}")
        };
        let text = d.render(&m.manifest.sources(), false);
        assert!(
            text.contains("data.user.ada") && text.contains("nobody@example.com"),
            "{text}"
        );
    }
}
