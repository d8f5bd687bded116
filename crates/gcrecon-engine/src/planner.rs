//! Planning: from the manifest, the state and a refresh to a [`Plan`] and
//! the steps the apply walk will take.
//!
//! Instances are planned dependencies first, each evaluated with what is
//! known by then: the id of an object that stays is known, the id of one
//! that will be created or replaced is `(known after apply)`. Each instance
//! is matched to its state entry (by address, then the live object by id);
//! an instance without one is matched by name to an unmanaged object, which
//! is adopted (`adopt = true`, or a create that an interrupted apply made
//! but did not record) or reported with the `gcrecon import` command that
//! takes it over. State entries the manifest no longer has are deleted.
//! Every plan-time problem tied to a block is collected and reported at once.

use gcrecon_core::fxhash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gcrecon_core::diff::{
    self, comparable_before, lays_over_unchanged, plain_equal, planned_after, without_meta,
    AttrDiff, DiffInput,
};
use gcrecon_core::graph::{NodeKind, ResourceGraph};
use gcrecon_core::manifest::{
    DesiredInstance, Diagnostic, Diagnostics, EvalCache, EvalContext, Manifest, Variables,
};
use gcrecon_core::plan::{
    Action, CallerGrantAction, CallerGrantChange, OutputChange, Plan, ResourceChange,
    PLAN_FORMAT_VERSION, SENSITIVE_PLACEHOLDER,
};
use gcrecon_core::plan_json::NoOpSides;
use gcrecon_core::provider::{GenesysId, LiveObject, Provider};
use gcrecon_core::schema::sensitive_attributes;
use gcrecon_core::state::{redact, PendingKind, State};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::vecmap::{search_near, VecMap};
use gcrecon_core::{Address, DataKind, Kind};

use crate::caller_grant::{missing_grants, refusal, roles_given, GrantMode};
use crate::error::EngineError;
use crate::events::Observer;
use crate::refresh::{
    check_org, read_context_but_home, read_home, read_objects, Context, LiveIndex,
};

/// How a plan is made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Only these addresses (a block address matches all its instances) and
    /// what they depend on.
    pub targets: Vec<Address>,
    /// Only bring the state up to date with the organization.
    pub refresh_only: bool,
    /// Delete everything in the state.
    pub destroy: bool,
    /// Allow a `role_grant` change that takes a role away from the caller.
    pub allow_caller_demotion: bool,
}

/// The manifest side of a plan.
#[derive(Clone, Copy)]
pub struct PlanInput<'a> {
    pub manifest: &'a Manifest,
    pub variables: &'a Variables,
    /// The manifest's name (its `[gcrecon] name`, or the default).
    pub name: &'a str,
    /// sha256 of the manifest sources ([`crate::manifest_sha256`]).
    pub manifest_sha256: &'a str,
}

/// What the apply walk does for one address.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum StepOp {
    Create,
    /// Update in place (also: adopt an unmanaged object and change it).
    Update,
    /// Delete, then create.
    Replace,
    /// Record an adopted object that needs no change.
    Record,
    Delete,
    /// Already gone: only remove the state entry.
    Forget,
    /// `--refresh-only`: record what was read.
    Refresh,
}

/// One step of the apply walk.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub address: Address,
    pub kind: Kind,
    pub op: StepOp,
    /// The live object the plan saw (for updates, deletes, adoptions).
    pub live: Option<LiveObject>,
    /// An OAuth client an interrupted apply created: its secret was never
    /// delivered, so adopting it generates a new one (unless the secrets
    /// file already holds one for this client).
    pub recover_secret: bool,
}

/// A plan and everything the apply walk needs to carry it out.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub context: Context,
    pub live: LiveIndex,
    pub options: PlanOptions,
    pub(crate) steps: Vec<Step>,
    /// The desired instances (as planned), by address.
    pub(crate) desired: VecMap<Address, Box<DesiredInstance>>,
    /// How the desired instances, data sources and caller grants depend on
    /// each other ([`Manifest::desired`]): the plan and the apply walk it.
    pub(crate) graph: ResourceGraph,
    /// `grant_to_caller` per role address.
    pub(crate) grant_modes: BTreeMap<Address, GrantMode>,
    /// The state should be written even without API changes: what it
    /// records about the manifest (prevent_destroy, dependencies, the
    /// manifest's sha256, the organization) is out of date.
    pub(crate) state_stale: bool,
}

impl Planned {
    /// True when applying would change anything, `--refresh-only`
    /// corrections of the state included.
    pub fn has_changes(&self) -> bool {
        self.plan.has_changes() || self.steps.iter().any(|s| s.op == StepOp::Refresh)
    }

    /// True when an apply has anything to do: changes, or only recording
    /// in the state what the manifest now says (`prevent_destroy`,
    /// dependencies, its sha256). Such an apply makes no API call, and
    /// `plan --detailed-exitcode` does not count it as a change.
    pub fn needs_apply(&self) -> bool {
        self.has_changes() || self.state_stale
    }
}

/// The manifest's display name of an object, used to find it by name
/// (the kind's name key; `None` for kinds without one).
pub fn desired_name(kind: Kind, attrs: &Attrs) -> Option<String> {
    let key = kind.spec().name_key?;
    attrs.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A resource attribute as the state knows it (ids, names, applied keys).
pub fn state_value(state: &State, address: &Address, attr: &str) -> Option<Value> {
    let r = state.resource(address)?;
    match attr {
        "id" | "client_id" => Some(Value::from(r.id.as_str())),
        "secret" => None,
        key => r.applied.get(key).filter(|v| v.is_known()).cloned(),
    }
}

/// The desired instances, sorted by address: each as first evaluated
/// (with the ids the state knows) until the walk plans it, then as
/// planned, with its id when it stays the same object (`None`: created or
/// replaced, known after apply). What the walk has planned is what later
/// instances resolve their references from and what the plan hands on.
///
/// One sorted vector, changed in place: the refresh reads the first
/// evaluations in order; the walk, whose order for independent instances
/// is address order too, finds each instance next to the one before it
/// and leaves its planned evaluation where the first one was; the plan's
/// desired instances are the same vector at the end, with no copy, hash
/// index or sort of its own. Boxed: a slot stays small to search.
#[derive(Default)]
struct Known {
    slots: Vec<Slot>,
    /// Where the slot after the last one the walk reached is: the walk
    /// usually asks for that one next, found with one comparison instead
    /// of a search.
    next: usize,
}

struct Slot {
    address: Address,
    inst: Box<DesiredInstance>,
    /// Set once the walk planned the instance: its id, when it stays the
    /// same object.
    planned: Option<Option<GenesysId>>,
}

impl Known {
    /// The first evaluation of every desired instance.
    fn new(instances: Vec<DesiredInstance>) -> Self {
        // Not `collect`: that would reuse the instances' buffer, sized for
        // whole instances, to hold these slots for the rest of the plan.
        let mut slots = Vec::with_capacity(instances.len());
        slots.extend(instances.into_iter().map(|i| Slot {
            address: i.address.clone(),
            inst: Box::new(i),
            planned: None,
        }));
        if !slots.is_sorted_by(|a, b| a.address <= b.address) {
            slots.sort_unstable_by(|a, b| a.address.cmp(&b.address));
        }
        Known { slots, next: 0 }
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn position(&self, address: &Address) -> Result<usize, usize> {
        self.slots.binary_search_by(|s| s.address.cmp(address))
    }

    /// Every address, planned or not, in order.
    fn addresses(&self) -> impl Iterator<Item = &Address> {
        self.slots.iter().map(|s| &s.address)
    }

    /// Every instance as first evaluated (before the walk), in address order.
    fn first_evaluations(&self) -> impl Iterator<Item = &DesiredInstance> {
        self.slots.iter().map(|s| &*s.inst)
    }

    /// The walk reached `address`: its slot, and whether that holds a first
    /// evaluation (false for a slot made for an instance the first
    /// evaluation did not have).
    fn reach(&mut self, address: &Address) -> (usize, bool) {
        let (i, first_evaluated) =
            match search_near(&self.slots, self.next, address, |s| &s.address) {
                Ok(i) => (i, true),
                Err(i) => {
                    let inst = Box::new(DesiredInstance::placeholder(address));
                    self.slots.insert(
                        i,
                        Slot {
                            address: address.clone(),
                            inst,
                            planned: None,
                        },
                    );
                    (i, false)
                }
            };
        self.next = i + 1;
        (i, first_evaluated)
    }

    /// The walk planned the instance of slot `i`, as `inst` when it was
    /// evaluated again (else as first evaluated).
    fn plan(&mut self, i: usize, inst: Option<DesiredInstance>, id: Option<GenesysId>) {
        let slot = &mut self.slots[i];
        if let Some(inst) = inst {
            *slot.inst = inst;
        }
        slot.planned = Some(id);
    }

    /// The slot of a planned instance.
    fn planned_slot(&self, address: &Address) -> Option<&Slot> {
        let i = self.position(address).ok()?;
        Some(&self.slots[i]).filter(|s| s.planned.is_some())
    }

    /// A planned instance.
    fn get(&self, address: &Address) -> Option<&DesiredInstance> {
        self.planned_slot(address).map(|s| &*s.inst)
    }

    /// The planned instances, in address order.
    fn planned(&self) -> impl Iterator<Item = &DesiredInstance> {
        self.planned_ids().map(|(inst, _)| inst)
    }

    /// The planned instances with their ids, in address order.
    fn planned_ids(&self) -> impl Iterator<Item = (&DesiredInstance, Option<&GenesysId>)> {
        self.slots
            .iter()
            .filter_map(|s| Some((&*s.inst, s.planned.as_ref()?.as_ref())))
    }

    /// The planned instances, by address: what the plan hands on.
    fn into_desired(self) -> VecMap<Address, Box<DesiredInstance>> {
        self.slots
            .into_iter()
            .filter(|s| s.planned.is_some())
            .map(|s| (s.address, s.inst))
            .collect()
    }

    fn value(&self, address: &Address, attr: &str, secret_placeholder: bool) -> Option<Value> {
        let slot = self.planned_slot(address)?;
        let id = slot.planned.as_ref()?;
        match attr {
            "id" | "client_id" => id.as_ref().map(|id| Value::from(id.as_str())),
            // The secret of a client that stays is unchanged; its value is never at hand here.
            "secret" => {
                (secret_placeholder && id.is_some()).then(|| Value::from(SENSITIVE_PLACEHOLDER))
            }
            key => slot.inst.attrs.get(key).filter(|v| v.is_known()).cloned(),
        }
    }

    /// True for an instance this plan creates or replaces.
    fn is_new(&self, address: &Address) -> bool {
        self.planned_slot(address)
            .is_some_and(|s| matches!(s.planned, Some(None)))
    }

    /// The `name` the manifest gives an instance.
    fn name(&self, address: &Address) -> Option<&str> {
        self.get(address)?.attrs.get("name").and_then(Value::as_str)
    }
}

fn matches_target(address: &Address, target: &Address) -> bool {
    address == target || (target.key.is_none() && address.block() == *target)
}

struct Builder<'a> {
    manifest: &'a Manifest,
    state: &'a State,
    context: &'a Context,
    live: &'a LiveIndex,
    /// What adoption looks up, built when the first instance the state does
    /// not know needs it: a plan whose instances are all in the state (a
    /// no-op plan, most updates) never indexes the listed objects.
    adoption: Option<Adoption<'a>>,
    problems: Diagnostics,
    changes: Vec<ResourceChange>,
    steps: Vec<Step>,
    /// The position in the state after the record the last instance
    /// found: the walk goes mostly in address order, as the state does.
    state_next: usize,
}

/// Listed objects by kind and name, and the objects already taken (the
/// state's, and those adopted so far), so that an instance the state does
/// not know is matched without a scan.
struct Adoption<'a> {
    by_name: FxHashMap<(Kind, &'a str), Vec<&'a LiveObject>>,
    claimed: FxHashSet<(Kind, &'a str)>,
}

impl<'a> Adoption<'a> {
    fn new(state: &'a State, live: &'a LiveIndex) -> Self {
        Adoption {
            by_name: names_index(live),
            claimed: state
                .resources
                .iter()
                .map(|r| (r.kind, r.id.as_str()))
                .collect(),
        }
    }

    /// Unclaimed listed objects of `kind` named `name`, in listing order.
    fn candidates(&self, kind: Kind, name: &str) -> Vec<&'a LiveObject> {
        self.by_name
            .get(&(kind, name))
            .map(|named| {
                named
                    .iter()
                    .filter(|o| !self.claimed.contains(&(o.kind, o.id.as_str())))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl<'a> Builder<'a> {
    fn adoption(&mut self) -> &mut Adoption<'a> {
        let (state, live) = (self.state, self.live);
        self.adoption
            .get_or_insert_with(|| Adoption::new(state, live))
    }

    fn problem(
        &mut self,
        address: &Address,
        key: Option<&str>,
        message: String,
        hint: Option<String>,
    ) {
        let mut d: Diagnostic = self.manifest.error_at(address, key, message);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.problems.push(d);
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        address: &Address,
        kind: Kind,
        actions: Vec<Action>,
        before: Option<Attrs>,
        after: Option<Attrs>,
        id: Option<GenesysId>,
        diff: &AttrDiff,
        sensitive: &[String],
        live: Option<&LiveObject>,
        note: Option<String>,
        op: Option<StepOp>,
    ) {
        let mut sensitive_keys: Vec<String> = sensitive.to_vec();
        sensitive_keys.extend(sensitive_attributes(kind).iter().map(|s| (*s).to_owned()));
        sensitive_keys.sort();
        sensitive_keys.dedup();
        let before = before.map(|b| redacted(b, &sensitive_keys));
        let after = after.map(|a| redacted(a, &sensitive_keys));
        // Per-key results for what exists before and after: updates and replacements.
        let keys = match (&before, &after) {
            (Some(b), Some(a)) => diff::key_changes(kind, diff, Some(b), Some(a), &sensitive_keys),
            _ => Vec::new(),
        };
        // A no-op whose before and after are alike keeps neither: the plan
        // JSON rebuilds them from the instance and the live object
        // ([`no_op_detail`]), and no other view shows a no-op's attributes.
        let (before, after) = match (before, after) {
            (Some(b), Some(a)) if actions == [Action::NoOp] && b == a => (None, None),
            sides => sides,
        };
        self.changes.push(ResourceChange {
            address: address.clone(),
            kind,
            name: address.name.clone(),
            actions,
            before,
            after,
            id,
            changed_keys: diff.changed_keys.clone(),
            replace_because: diff.replace_because.clone(),
            sensitive_keys,
            keys,
            live_version: live.map(|l| l.version.clone()),
            note,
        });
        if let Some(op) = op {
            self.steps.push(Step {
                address: address.clone(),
                kind,
                op,
                live: live.cloned(),
                recover_secret: false,
            });
        }
    }

    /// Plan one desired instance; returns its id when it stays the same object.
    fn plan_instance(&mut self, inst: &DesiredInstance) -> Option<GenesysId> {
        let address = &inst.address;
        let kind = inst.kind;
        // The record and its live object: found by position, as the live
        // index is in the state's order.
        let position = self.state.position_near(address, self.state_next);
        if let Some(i) = position {
            self.state_next = i + 1;
        }
        let record = position.map(|i| &self.state.resources[i]);
        let live = position
            .and_then(|i| self.live.managed.get_near(i, address))
            .and_then(Option::as_ref);
        let create_after = || {
            let mut a = without_meta(kind, &inst.attrs);
            a.insert("id".into(), Value::Unknown);
            a
        };
        if let Some(record) = record {
            let Some(live) = live else {
                self.record(
                    address,
                    kind,
                    vec![Action::Create],
                    None,
                    Some(create_after()),
                    None,
                    &AttrDiff::default(),
                    &inst.sensitive_keys,
                    None,
                    Some(format!(
                        "{} ({}) was deleted outside gcrecon; it will be created again",
                        address, record.id
                    )),
                    Some(StepOp::Create),
                );
                return None;
            };
            return self.plan_existing(inst, live, Some(&record.applied), None);
        }
        // Not in the state: find an object of the same name to adopt.
        let name = desired_name(kind, &inst.attrs);
        let candidates: Vec<&LiveObject> = match name.as_deref() {
            Some(n) => self.adoption().candidates(kind, n),
            None => Vec::new(),
        };
        let interrupted = self.state.pending.iter().any(|p| {
            p.operation == PendingKind::Create
                && &p.address == address
                && Some(&p.name) == name.as_ref()
        });
        match candidates.as_slice() {
            [] => {
                self.record(
                    address,
                    kind,
                    vec![Action::Create],
                    None,
                    Some(create_after()),
                    None,
                    &AttrDiff::default(),
                    &inst.sensitive_keys,
                    None,
                    None,
                    Some(StepOp::Create),
                );
                None
            }
            [existing] => {
                let name = name.unwrap_or_default();
                if existing.builtin {
                    self.problem(
                        address,
                        Some("name"),
                        format!("{address}: `{name}` is a built-in {kind} ({}); gcrecon does not manage built-in objects", existing.id),
                        Some(format!("refer to it with a data source instead, e.g. `[data.{kind}.x] name = \"{name}\"`")),
                    );
                    return None;
                }
                let note = if interrupted {
                    let secret = if kind == Kind::OauthClient {
                        "; a new secret is generated for it, since the interrupted apply may not have delivered one"
                    } else {
                        ""
                    };
                    format!(
                        "adopting {} ({}): an interrupted apply created it but did not record it{secret}",
                        existing.name, existing.id
                    )
                } else if inst.adopt {
                    format!(
                        "adopting the existing {kind} `{}` ({}) because adopt = true",
                        existing.name, existing.id
                    )
                } else {
                    self.problem(
                        address,
                        Some("name"),
                        format!(
                            "{address}: a {kind} named `{name}` already exists ({}) and gcrecon does not manage it",
                            existing.id
                        ),
                        Some(format!(
                            "take it over with `gcrecon import {address} {}`, or set `adopt = true` on the block",
                            existing.id
                        )),
                    );
                    return None;
                };
                self.adoption().claimed.insert((kind, existing.id.as_str()));
                let id = self.plan_existing(inst, existing, None, Some(note));
                if interrupted && kind == Kind::OauthClient {
                    if let Some(step) = self.steps.iter_mut().rev().find(|s| &s.address == address)
                    {
                        step.recover_secret = matches!(step.op, StepOp::Record | StepOp::Update);
                    }
                }
                id
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|o| o.id.as_str()).collect();
                self.problem(
                    address,
                    Some("name"),
                    format!(
                        "{address}: {} objects of kind {kind} are named `{}` ({}); gcrecon cannot tell which one to manage",
                        several.len(),
                        name.unwrap_or_default(),
                        ids.join(", ")
                    ),
                    Some(format!("rename or delete the extra ones, or import one: `gcrecon import {address} {}`", ids[0])),
                );
                None
            }
        }
    }

    fn plan_existing(
        &mut self,
        inst: &DesiredInstance,
        live: &LiveObject,
        applied: Option<&Attrs>,
        adopt_note: Option<String>,
    ) -> Option<GenesysId> {
        let home = Some(self.context.home_division());
        let kind = inst.kind;
        let address = &inst.address;
        let d = diff::diff(&DiffInput {
            kind,
            desired: &inst.attrs,
            live: &live.attrs,
            applied,
            ignore_changes: &inst.ignore_changes,
            home_division_id: home,
        });
        // A no-op keeps neither side: its `before` is the live object and
        // its `after` is rebuilt from the instance and the live object
        // ([`no_op_detail`]) by the plan JSON, the one view that shows them.
        // A `role_grant`'s `before` is not the live object, and an unknown
        // value in `after` is one of the per-key results: those take the
        // general way below.
        if d.is_no_op()
            && adopt_note.is_none()
            && kind != Kind::RoleGrant
            && inst.attrs.values().all(Value::is_known)
        {
            self.record(
                address,
                kind,
                vec![Action::NoOp],
                None,
                None,
                Some(live.id.clone()),
                &d,
                &inst.sensitive_keys,
                Some(live),
                None,
                None,
            );
            return Some(live.id.clone());
        }
        let before = comparable_before(kind, &live.attrs, Some(&inst.attrs), applied, home);
        let mut actions = d.actions();
        let replace = !d.replace_because.is_empty();
        if replace && inst.prevent_destroy {
            self.problem(
                address,
                d.replace_because.first().map(String::as_str),
                format!(
                    "{address} has prevent_destroy = true, but changing {} replaces it (delete, then create)",
                    d.replace_because.join(", ")
                ),
                Some("set prevent_destroy = false to allow the replacement, or keep the old value".into()),
            );
        }
        let (after, op, id) = if replace {
            let mut a = without_meta(kind, &inst.attrs);
            a.insert("id".into(), Value::Unknown);
            (a, StepOp::Replace, None)
        } else {
            let a = kept_after(inst, live);
            let op = match (d.is_empty(), adopt_note.is_some()) {
                (true, true) => {
                    actions = vec![Action::Update];
                    StepOp::Record
                }
                (true, false) => StepOp::Record,
                (false, _) => StepOp::Update,
            };
            (a, op, Some(live.id.clone()))
        };
        let is_noop = actions == [Action::NoOp];
        self.record(
            address,
            kind,
            actions,
            Some(before),
            Some(after),
            Some(live.id.clone()),
            &d,
            &inst.sensitive_keys,
            Some(live),
            adopt_note,
            (!is_noop).then_some(op),
        );
        id
    }

    fn plan_delete(&mut self, address: &Address, prevent_destroy_in_manifest: bool) {
        let Some(record) = self.state.resource(address) else {
            return;
        };
        let live = self.live.managed.get(address).cloned().flatten();
        if live.is_some() && (record.prevent_destroy || prevent_destroy_in_manifest) {
            self.problem(
                address,
                None,
                format!("{address} has prevent_destroy = true, but this plan would delete it"),
                Some(
                    "set prevent_destroy = false and apply that first, then remove the object"
                        .into(),
                ),
            );
        }
        let note = live.is_none().then(|| {
            format!(
                "{} ({}) is already gone from the organization; apply only removes it from the state",
                address, record.id
            )
        });
        let before = live.as_ref().map(|l| {
            comparable_before(
                record.kind,
                &l.attrs,
                None,
                Some(&record.applied),
                Some(self.context.home_division()),
            )
        });
        let op = if live.is_some() {
            StepOp::Delete
        } else {
            StepOp::Forget
        };
        let sensitive = record.sensitive_keys.clone();
        self.record(
            address,
            record.kind,
            vec![Action::Delete],
            before,
            None,
            Some(record.id.clone()),
            &AttrDiff::default(),
            &sensitive,
            live.as_ref(),
            note,
            Some(op),
        );
    }
}

/// Refresh and plan.
pub async fn plan<P: Provider + 'static>(
    provider: &Arc<P>,
    input: PlanInput<'_>,
    state: &State,
    state_on_disk: bool,
    options: PlanOptions,
    observer: &dyn Observer,
) -> Result<Planned, EngineError> {
    let manifest = input.manifest;
    let mut context = read_context_but_home(
        provider.as_ref(),
        (!options.destroy).then_some(manifest),
        input.variables,
        observer,
    )
    .await?;
    check_org(state, &context.org, None)?;
    // The locals and `for_each` expansions that reference no resource,
    // evaluated once for the first evaluation and kept for the walk.
    let cache = EvalCache::default();
    let (mut known, graph) = desired_state(input, state, &context, &cache, options.destroy)?;
    // Evaluation does not need the home division; planning does.
    let (live, home) = tokio::join!(
        refresh(provider, state, &known, observer),
        read_home(provider.as_ref())
    );
    let live = live?;
    context.home = home?;

    let mut b = Builder {
        manifest,
        state,
        context: &context,
        live: &live,
        adoption: None,
        problems: Diagnostics::new(),
        // One change per instance and per state entry left: at most this many.
        changes: Vec::with_capacity(known.len() + state.resources.len() / 8),
        steps: Vec::new(),
        state_next: 0,
    };
    if options.refresh_only {
        plan_refresh_only(&mut b);
    } else {
        plan_instances(&mut b, input, &graph, &cache, &mut known);
        // The state's records no instance claims. Both are in address
        // order: one pass over the two, not a search per record.
        let mut instances = known.addresses().peekable();
        for record in &state.resources {
            while instances.next_if(|a| **a < record.address).is_some() {}
            if instances.peek() != Some(&&record.address) {
                b.plan_delete(&record.address, false);
            }
        }
    }

    let mut changes = std::mem::take(&mut b.changes);
    let mut steps = std::mem::take(&mut b.steps);
    let warnings = limit_to_targets(&mut b, &options, &graph, &mut changes, &mut steps);
    let grant_modes: BTreeMap<Address, GrantMode> = known
        .planned()
        .filter(|i| i.kind == Kind::Role)
        .map(|i| (i.address.clone(), GrantMode::of(Some(&i.attrs))))
        .collect();
    let caller_grants = if options.refresh_only {
        Vec::new()
    } else {
        plan_caller_grants(&mut b, &graph, &changes, &grant_modes, &known, state)
    };
    if !options.refresh_only && !options.allow_caller_demotion {
        check_caller_demotion(&mut b, &changes, &known, state);
    }
    if !options.refresh_only && !options.destroy {
        check_permissions(provider.as_ref(), &mut b, &changes, &known).await?;
    }
    if !options.refresh_only {
        check_caller_permissions(&mut b, &changes, &caller_grants, state);
    }
    let output_changes = plan_output_changes(&mut b, input, &options, &known);

    if b.problems.has_errors() {
        return Err(EngineError::Manifest(b.problems));
    }
    // Addresses are unique: an unstable sort needs no buffer.
    changes.sort_unstable_by(|x, y| x.address.cmp(&y.address));
    let plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        manifest_name: input.name.to_owned(),
        manifest_sha256: input.manifest_sha256.to_owned(),
        state_lineage: state_on_disk.then(|| state.lineage.clone()),
        state_serial: state.serial,
        resource_changes: changes,
        caller_grants,
        output_changes,
        warnings,
        api_calls: provider.call_counts(),
    };
    let state_stale = state_is_stale(input, state, &options, &known);
    Ok(Planned {
        plan,
        context,
        live,
        options,
        steps,
        desired: known.into_desired(),
        graph,
        grant_modes,
        state_stale,
    })
}

/// Listed objects by (listing kind, name), in listing order (what
/// [`LiveIndex::unclaimed_named`] finds, before the claimed are left out).
fn names_index(live: &LiveIndex) -> FxHashMap<(Kind, &str), Vec<&LiveObject>> {
    let mut index: FxHashMap<(Kind, &str), Vec<&LiveObject>> = FxHashMap::default();
    for (kind, listing) in &live.listings {
        for o in &listing.objects {
            index.entry((*kind, o.name.as_str())).or_default().push(o);
        }
    }
    index
}

/// The attributes after apply of an object that stays (updated in place,
/// or left as it is).
fn kept_after(inst: &DesiredInstance, live: &LiveObject) -> Attrs {
    let mut a = planned_after(inst.kind, &inst.attrs, &live.attrs);
    if inst.kind == Kind::RoleGrant {
        a.insert(
            "role".into(),
            inst.attrs.get("role").cloned().unwrap_or_default(),
        );
    }
    a
}

/// The `before` and `after` of a no-op the plan keeps without attributes,
/// as [`Builder::plan_existing`] would have computed them: the live object,
/// and the live object with the manifest's keys laid over it. A
/// `role_grant` no-op is kept without them only when the two are alike.
pub(crate) fn no_op_detail<'p>(planned: &'p Planned, rc: &ResourceChange) -> Option<NoOpSides<'p>> {
    let inst = planned.desired.get(&rc.address)?;
    let live = planned.live.managed.get(&rc.address)?.as_ref()?;
    // The usual no-op: the manifest's keys hold the live values, nothing
    // to redact; both sides are the live object, borrowed.
    if lays_over_unchanged(inst.kind, &inst.attrs, &live.attrs)
        && !rc.sensitive_keys.iter().any(|k| live.attrs.contains_key(k))
    {
        return Some(NoOpSides {
            before: Cow::Borrowed(&live.attrs),
            after: Cow::Borrowed(&live.attrs),
        });
    }
    let after = redacted(kept_after(inst, live), &rc.sensitive_keys);
    let before = if inst.kind == Kind::RoleGrant {
        after.clone()
    } else {
        redacted(live.attrs.clone(), &rc.sensitive_keys)
    };
    Some(NoOpSides {
        before: Cow::Owned(before),
        after: Cow::Owned(after),
    })
}

/// `attrs` with the values of `sensitive_keys` replaced by the placeholder
/// ([`redact`] without copying the map).
fn redacted(mut attrs: Attrs, sensitive_keys: &[String]) -> Attrs {
    for key in sensitive_keys {
        if let Some(v) = attrs.get_mut(key) {
            *v = Value::string(SENSITIVE_PLACEHOLDER);
        }
    }
    attrs
}

/// The desired instances (none for `--destroy`), each as first evaluated,
/// and their graph.
fn desired_state(
    input: PlanInput<'_>,
    state: &State,
    context: &Context,
    cache: &EvalCache,
    destroy: bool,
) -> Result<(Known, ResourceGraph), EngineError> {
    if destroy {
        return Ok((Known::default(), ResourceGraph::new()));
    }
    let from_state = |a: &Address, attr: &str| state_value(state, a, attr);
    let ctx = EvalContext::new(input.variables, &context.data, &from_state)
        .with_emails(&context.emails)
        .with_cache(cache);
    let desired = input
        .manifest
        .desired(&ctx)
        .map_err(EngineError::Manifest)?;
    Ok((Known::new(desired.instances), desired.graph))
}

/// Read the live objects the plan compares with: every object in the
/// state, by id, and the names of the instances the state does not know.
async fn refresh<P: Provider + 'static>(
    provider: &Arc<P>,
    state: &State,
    desired: &Known,
    observer: &dyn Observer,
) -> Result<LiveIndex, EngineError> {
    // Names are looked up only for instances the state does not know yet
    // (to adopt, to find an unrecorded create, or to report a clash): an
    // instance in the state is found by its id. Looking up every name would
    // make a no-op plan in a large org read whole listings.
    // Both are sorted by address: one forward walk through the state.
    let mut recorded = state.resources.iter().peekable();
    let mut names: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    let mut keys: BTreeMap<Kind, BTreeSet<String>> = BTreeMap::new();
    for inst in desired.first_evaluations() {
        names.entry(inst.kind).or_default();
        while recorded.next_if(|r| r.address < inst.address).is_some() {}
        let unknown_to_state = recorded.peek().is_none_or(|r| r.address != inst.address);
        if let Some(n) = unknown_to_state
            .then(|| desired_name(inst.kind, &inst.attrs))
            .flatten()
        {
            names.entry(inst.kind).or_default().insert(n);
        }
        let kind_keys = keys.entry(inst.kind).or_default();
        for k in inst.attrs.keys() {
            if !kind_keys.contains(k) {
                kind_keys.insert(k.clone());
            }
        }
    }
    // Before the refresh: the provider may skip reads of keys nobody sets.
    for kind in Kind::ALL {
        provider.manage_keys(kind, keys.get(&kind).unwrap_or(&BTreeSet::new()));
    }
    read_objects(provider, state, &names, false, observer).await
}

/// Plan every desired instance in the graph's order, dependencies first.
/// An instance that references a resource is evaluated again, with what
/// the instances planned before it make known; the others are planned as
/// first evaluated ([`Manifest::resource_free_blocks`]). `cache` is the
/// one the first evaluation filled. Each instance as planned takes the
/// place of its first evaluation in `known`.
fn plan_instances(
    b: &mut Builder<'_>,
    input: PlanInput<'_>,
    graph: &ResourceGraph,
    cache: &EvalCache,
    known: &mut Known,
) {
    let free = input.manifest.resource_free_blocks();
    for node in graph.apply_order_nodes() {
        let NodeKind::Resource(address) = node else {
            continue;
        };
        let (slot, first_evaluated) = known.reach(address);
        let evaluated = if first_evaluated && free.contains(address) {
            None
        } else {
            let resolver = |a: &Address, attr: &str| known.value(a, attr, false);
            let ctx = EvalContext::new(input.variables, &b.context.data, &resolver)
                .with_emails(&b.context.emails)
                .with_cache(cache);
            match input.manifest.eval_instance(address, &ctx) {
                Ok(inst) => Some(inst),
                Err(d) => {
                    b.problems.extend(d);
                    continue;
                }
            }
        };
        let id = b.plan_instance(evaluated.as_ref().unwrap_or(&known.slots[slot].inst));
        known.plan(slot, evaluated, id);
    }
}

/// `--target`: keep the changes of the targets and of what they depend
/// on (in the graph, directly or not). Returns the plan's warnings.
fn limit_to_targets(
    b: &mut Builder<'_>,
    options: &PlanOptions,
    graph: &ResourceGraph,
    changes: &mut Vec<ResourceChange>,
    steps: &mut Vec<Step>,
) -> Vec<String> {
    if options.targets.is_empty() {
        return Vec::new();
    }
    let mut keep: BTreeSet<Address> = BTreeSet::new();
    for t in &options.targets {
        let matched: Vec<Address> = changes
            .iter()
            .map(|c| c.address.clone())
            .chain(graph.nodes().into_iter().filter_map(|n| match n {
                NodeKind::Resource(a) => Some(a),
                _ => None,
            }))
            .filter(|a| matches_target(a, t))
            .collect();
        if matched.is_empty()
            && !b
                .state
                .resources
                .iter()
                .any(|r| matches_target(&r.address, t))
        {
            b.problems.push(Diagnostic::error(format!(
                "--target {t} matches nothing in the manifest or the state"
            )));
        }
        for a in matched {
            for dep in graph.ancestors(&NodeKind::Resource(a.clone())) {
                if let NodeKind::Resource(d) = dep {
                    keep.insert(d);
                }
            }
            keep.insert(a);
        }
    }
    changes.retain(|c| keep.contains(&c.address));
    steps.retain(|s| keep.contains(&s.address));
    vec![format!(
        "this plan is limited by --target to {} and what it depends on; other changes may be pending",
        options
            .targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )]
}

/// The outputs' changes: none for `--refresh-only`, every output deleted
/// for `--destroy`, else the manifest's outputs against the state's.
fn plan_output_changes(
    b: &mut Builder<'_>,
    input: PlanInput<'_>,
    options: &PlanOptions,
    known: &Known,
) -> Vec<OutputChange> {
    if options.refresh_only {
        return Vec::new();
    }
    if options.destroy {
        return b
            .state
            .outputs
            .iter()
            .map(|(name, o)| OutputChange {
                name: name.clone(),
                actions: vec![Action::Delete],
                before: o.value.clone(),
                after: None,
                sensitive: o.sensitive,
            })
            .collect();
    }
    let resolver = |a: &Address, attr: &str| known.value(a, attr, true);
    let ctx = EvalContext::new(input.variables, &b.context.data, &resolver)
        .with_emails(&b.context.emails);
    match input.manifest.outputs(&ctx) {
        Ok(outputs) => plan_outputs(b.state, &outputs),
        Err(d) => {
            b.problems.extend(d);
            Vec::new()
        }
    }
}

/// True when the state should be written even without API changes: what
/// it records about the manifest is out of date.
fn state_is_stale(
    input: PlanInput<'_>,
    state: &State,
    options: &PlanOptions,
    planned: &Known,
) -> bool {
    !options.refresh_only
        && !options.destroy
        && options.targets.is_empty()
        && (state.manifest_sha256 != input.manifest_sha256
            || state.org_id.is_none()
            || planned.planned().any(|i| {
                state.resource(&i.address).is_some_and(|r| {
                    r.dependencies != i.depends_on
                        || r.prevent_destroy != i.prevent_destroy
                        || r.sensitive_keys != i.sensitive_keys
                })
            }))
}

fn plan_refresh_only(b: &mut Builder<'_>) {
    for record in &b.state.resources {
        match b.live.managed.get(&record.address).cloned().flatten() {
            None => b.record(
                &record.address,
                record.kind,
                vec![Action::Delete],
                Some(record.read().clone()),
                None,
                Some(record.id.clone()),
                &AttrDiff::default(),
                &record.sensitive_keys,
                None,
                Some(format!(
                    "{} ({}) was deleted outside gcrecon; apply removes it from the state",
                    record.address, record.id
                )),
                Some(StepOp::Forget),
            ),
            Some(live) => {
                let read = redact(&live.attrs, &record.sensitive_keys);
                let same = plain_equal(
                    &Value::Map(read.clone()),
                    &Value::Map(record.read().clone()),
                ) && live.version == record.version;
                let changed_keys: Vec<String> = read
                    .keys()
                    .chain(record.read().keys())
                    .filter(|k| {
                        !plain_equal(
                            read.get(*k).unwrap_or(&Value::Null),
                            record.read().get(*k).unwrap_or(&Value::Null),
                        )
                    })
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (actions, note, op) = if same {
                    (vec![Action::NoOp], None, None)
                } else {
                    (
                        vec![Action::Read],
                        Some(
                            "changed outside gcrecon; apply records the new values in the state"
                                .to_owned(),
                        ),
                        Some(StepOp::Refresh),
                    )
                };
                b.record(
                    &record.address,
                    record.kind,
                    actions,
                    Some(record.read().clone()),
                    Some(read),
                    Some(record.id.clone()),
                    &AttrDiff {
                        changed_keys,
                        replace_because: Vec::new(),
                    },
                    &record.sensitive_keys,
                    Some(&live),
                    note,
                    op,
                );
            }
        }
    }
}

/// The address of the role with this id: managed, a data source, or (for a
/// literal id in the manifest) a synthetic `data.role.id_...` address.
/// Looked up in an index of every role by id, built on first use (most
/// plans never need it), so that many lookups do not each scan the state.
struct RoleNames<'a> {
    state: &'a State,
    known: &'a Known,
    data: &'a BTreeMap<Address, Attrs>,
    by_id: std::cell::OnceCell<HashMap<&'a str, (&'a Address, &'a str)>>,
}

impl<'a> RoleNames<'a> {
    fn new(state: &'a State, known: &'a Known, data: &'a BTreeMap<Address, Attrs>) -> Self {
        RoleNames {
            state,
            known,
            data,
            by_id: std::cell::OnceCell::new(),
        }
    }

    fn get(&self, id: &str) -> (Address, String) {
        let by_id = self.by_id.get_or_init(|| {
            // First found wins: managed roles, then those planned, then data sources.
            let mut by_id: HashMap<&str, (&Address, &str)> = HashMap::new();
            for r in self.state.resources.iter().filter(|r| r.kind == Kind::Role) {
                by_id
                    .entry(r.id.as_str())
                    .or_insert((&r.address, r.name.as_str()));
            }
            // In address order, as the instances are kept.
            for (inst, id) in self.known.planned_ids() {
                if let Some(i) = id.filter(|_| inst.kind == Kind::Role) {
                    let name = inst.attrs.get("name").and_then(Value::as_str);
                    by_id
                        .entry(i.as_str())
                        .or_insert((&inst.address, name.unwrap_or(i.as_str())));
                }
            }
            for (a, attrs) in self.data {
                if a.target != gcrecon_core::address::Target::Data(DataKind::Role) {
                    continue;
                }
                if let Some(i) = attrs.get("id").and_then(Value::as_str) {
                    let name = attrs.get("name").and_then(Value::as_str).unwrap_or(i);
                    by_id.entry(i).or_insert((a, name));
                }
            }
            by_id
        });
        match by_id.get(id) {
            Some((address, name)) => ((*address).clone(), (*name).to_owned()),
            None => (literal_role_address(id), id.to_owned()),
        }
    }
}

/// The address a role is shown under when the manifest names it by a
/// literal id (neither managed nor a data source): `data.role.id_<id>`.
pub(crate) fn literal_role_address(id: &str) -> Address {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    Address::data(DataKind::Role, format!("id_{safe}"))
}

const UNKNOWN_DIVISION: &str = "(known after apply)";

/// The plan's caller grants: what the caller must be granted for the
/// OAuth clients this plan creates, updates or deletes (the rule is
/// [`missing_grants`]), and the grants an interrupted apply left behind,
/// to remove.
fn plan_caller_grants(
    b: &mut Builder<'_>,
    graph: &ResourceGraph,
    changes: &[ResourceChange],
    modes: &BTreeMap<Address, GrantMode>,
    known: &Known,
    state: &State,
) -> Vec<CallerGrantChange> {
    let desired = known;
    struct Need {
        name: String,
        divisions: BTreeSet<String>,
        needed_by: BTreeSet<Address>,
    }
    let home = b.context.home_division().to_owned();
    let grants = b.context.caller.grants.clone();
    let context = b.context;
    let roles = RoleNames::new(b.state, known, &context.data);
    let mut needs: BTreeMap<Address, Need> = BTreeMap::new();
    let mut need = |role: (Address, String), division: String, client: &Address| {
        let entry = needs.entry(role.0).or_insert_with(|| Need {
            name: role.1,
            divisions: BTreeSet::new(),
            needed_by: BTreeSet::new(),
        });
        entry.divisions.insert(division);
        entry.needed_by.insert(client.clone());
    };
    for rc in changes.iter().filter(|c| c.kind == Kind::OauthClient) {
        // Deleting a client first sets it inactive with a PUT that carries
        // its roles: the caller must hold those too.
        if rc.actions.contains(&Action::Delete) {
            let before = rc.before.clone().unwrap_or_default();
            for missing in missing_grants(&before, &home, &grants) {
                if let (Some(id), Some(d)) = (missing.role_id, missing.division) {
                    need(roles.get(&id), d, &rc.address);
                }
            }
        }
        let writes = rc.actions.contains(&Action::Create)
            || (rc.actions == [Action::Update] && !rc.changed_keys.is_empty());
        let Some(inst) = desired.get(&rc.address).filter(|_| writes) else {
            continue;
        };
        // A role id not known yet stands for each role the client is given
        // that this plan creates or replaces.
        let new_roles: Vec<Address> = roles_given(graph, &rc.address)
            .into_iter()
            .filter(|a| a.kind() == Some(Kind::Role) && known.is_new(a))
            .collect();
        for missing in missing_grants(&inst.attrs, &home, &grants) {
            let division = missing
                .division
                .unwrap_or_else(|| UNKNOWN_DIVISION.to_owned());
            match missing.role_id {
                Some(id) => need(roles.get(&id), division, &rc.address),
                None => {
                    for a in &new_roles {
                        let name = known.name(a).unwrap_or(&a.name).to_owned();
                        need((a.clone(), name), division.clone(), &rc.address);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (role, need) in needs {
        let mode = modes.get(&role).copied().unwrap_or(GrantMode::Auto);
        if mode == GrantMode::Never {
            let divisions: Vec<String> = need.divisions.iter().cloned().collect();
            for client in &need.needed_by {
                let (message, hint) = refusal(
                    client,
                    &role,
                    &need.name,
                    &divisions,
                    &b.context.caller.name,
                );
                b.problem(client, Some("roles"), message, Some(hint));
            }
            continue;
        }
        out.push(CallerGrantChange {
            role,
            role_name: need.name,
            divisions: need.divisions.into_iter().collect(),
            action: CallerGrantAction::Grant,
            temporary: mode == GrantMode::Auto,
            needed_by: need.needed_by.into_iter().collect(),
        });
    }
    // Grants an interrupted apply left behind are removed by this one.
    let mut leftovers: BTreeMap<&Address, (String, BTreeSet<String>)> = BTreeMap::new();
    for g in &state.caller_grants {
        let entry = leftovers
            .entry(&g.role)
            .or_insert_with(|| (g.role_id.to_string(), BTreeSet::new()));
        entry.1.insert(g.division_id.to_string());
    }
    for (role, (role_id, divisions)) in leftovers {
        let name = roles.get(&role_id).1;
        out.push(CallerGrantChange {
            role: role.clone(),
            role_name: name,
            divisions: divisions.into_iter().collect(),
            action: CallerGrantAction::Revoke,
            temporary: true,
            needed_by: Vec::new(),
        });
    }
    out
}

fn check_caller_demotion(
    b: &mut Builder<'_>,
    changes: &[ResourceChange],
    desired: &Known,
    state: &State,
) {
    let caller = b.context.caller.id.to_string();
    let home = b.context.home_division().to_owned();
    for rc in changes
        .iter()
        .filter(|c| c.kind == Kind::RoleGrant && c.is_change())
    {
        let Some(record) = state.resource(&rc.address) else {
            continue;
        };
        let before =
            diff::role_grant_desired_pairs(&record.applied, Some(&home)).unwrap_or_default();
        let after = if rc.actions.contains(&Action::Delete) {
            BTreeSet::new()
        } else {
            desired
                .get(&rc.address)
                .and_then(|i| diff::role_grant_desired_pairs(&i.attrs, Some(&home)))
                .unwrap_or_default()
        };
        let lost: Vec<String> = before
            .difference(&after)
            .filter(|(s, _)| *s == caller)
            .map(|(_, d)| d.clone())
            .collect();
        if !lost.is_empty() {
            b.problem(
                &rc.address,
                Some("subjects"),
                format!(
                    "{} would take its role away from the caller itself (`{}`, divisions {})",
                    rc.address,
                    b.context.caller.name,
                    lost.join(", ")
                ),
                Some("if that is intended, plan again with --allow-caller-demotion".into()),
            );
        }
    }
}

/// The permissions the Platform API asks for to carry out `action` on an
/// object of `kind` (from the kind's spec); each entry is satisfied by any
/// of its alternatives.
fn needed_for(kind: Kind, action: Action) -> Vec<&'static [&'static str]> {
    let permissions = &kind.spec().permissions;
    match action {
        Action::Create => permissions.create.to_vec(),
        Action::Update => permissions.update.to_vec(),
        Action::Delete => permissions.delete.to_vec(),
        Action::NoOp | Action::Read => Vec::new(),
    }
}

/// True when a caller holding `held` has `permission` (`*` in a held
/// permission covers any entity or action).
fn holds(held: &BTreeSet<String>, permission: &str) -> bool {
    held.contains("*") || permission_exists(permission, held)
}

/// Refuse a plan the caller lacks the permissions for, before any change
/// is made, naming the permission and what needs it.
fn check_caller_permissions(
    b: &mut Builder<'_>,
    changes: &[ResourceChange],
    caller_grants: &[CallerGrantChange],
    state: &State,
) {
    let held = b.context.caller.permissions.clone();
    if held.is_empty() {
        // The provider could not tell: the service will say at apply time.
        return;
    }
    let home = b.context.home_division().to_owned();
    let mut missing: BTreeMap<&'static [&'static str], Vec<(Address, &'static str)>> =
        BTreeMap::new();
    let mut need =
        |alternatives: &'static [&'static str], address: &Address, verb: &'static str| {
            if !alternatives.iter().any(|p| holds(&held, p)) {
                missing
                    .entry(alternatives)
                    .or_default()
                    .push((address.clone(), verb));
            }
        };
    for rc in changes {
        for action in &rc.actions {
            let verb = match action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
                Action::NoOp | Action::Read => continue,
            };
            for alternatives in needed_for(rc.kind, *action) {
                need(alternatives, &rc.address, verb);
            }
        }
        // A role_grant update that drops pairs it applied removes grants.
        if rc.kind == Kind::RoleGrant && rc.actions == [Action::Update] {
            let applied = state
                .resource(&rc.address)
                .and_then(|r| diff::role_grant_desired_pairs(&r.applied, Some(&home)))
                .unwrap_or_default();
            let wanted = rc
                .after
                .as_ref()
                .and_then(|a| diff::role_grant_desired_pairs(a, Some(&home)))
                .unwrap_or_default();
            if !applied.is_subset(&wanted) {
                need(&["authorization:grant:delete"], &rc.address, "update");
            }
        }
    }
    for g in caller_grants {
        match g.action {
            CallerGrantAction::Grant => {
                need(&["authorization:grant:add"], &g.role, "grant to the caller");
            }
            CallerGrantAction::Revoke => need(
                &["authorization:grant:delete"],
                &g.role,
                "remove from the caller",
            ),
        }
    }
    for (alternatives, users) in missing {
        let (first, _) = users[0].clone();
        let what: Vec<String> = users
            .iter()
            .take(5)
            .map(|(a, verb)| format!("{verb} {a}"))
            .collect();
        let more = if users.len() > 5 {
            format!(" and {} more", users.len() - 5)
        } else {
            String::new()
        };
        let permission = alternatives
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        b.problem(
            &first,
            None,
            format!(
                "the caller `{}` lacks the permission {permission}, needed to {}{more}; nothing was changed",
                b.context.caller.name,
                what.join(", ")
            ),
            Some(format!(
                "give the caller a role holding {permission} (Admin > Roles / Permissions), or run gcrecon as a caller that has it"
            )),
        );
    }
}

/// True when `permission` (with `*` for entity or action) names something
/// in the catalog.
pub fn permission_exists(permission: &str, catalog: &BTreeSet<String>) -> bool {
    if catalog.contains(permission) {
        return true;
    }
    let want: Vec<&str> = permission.split(':').collect();
    want.len() == 3
        && catalog.iter().any(|c| {
            let have: Vec<&str> = c.split(':').collect();
            have.len() == 3
                && want
                    .iter()
                    .zip(&have)
                    .all(|(w, h)| *w == "*" || *h == "*" || w == h)
        })
}

async fn check_permissions<P: Provider>(
    provider: &P,
    b: &mut Builder<'_>,
    changes: &[ResourceChange],
    desired: &Known,
) -> Result<(), EngineError> {
    let roles: Vec<&DesiredInstance> = changes
        .iter()
        .filter(|c| {
            c.kind == Kind::Role
                && (c.actions.contains(&Action::Create)
                    || c.changed_keys.iter().any(|k| k == "permissions"))
        })
        .filter_map(|c| desired.get(&c.address))
        .collect();
    if roles.is_empty() {
        return Ok(());
    }
    let catalog = provider
        .permission_catalog()
        .await
        .map_err(|e| EngineError::provider("cannot read the permission catalog", e))?;
    for role in roles {
        for p in role
            .attrs
            .get("permissions")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            let Some(p) = p.as_str() else { continue };
            if permission_exists(p, &catalog) {
                continue;
            }
            let suggestions =
                gcrecon_core::suggest::closest_n(p, catalog.iter().map(String::as_str), 3);
            let hint = if suggestions.is_empty() {
                "check the spelling against the organization's permissions (Admin > Roles/Permissions); some need a licensed product".to_owned()
            } else {
                format!(
                    "did you mean {}?",
                    suggestions
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            b.problem(
                &role.address,
                Some("permissions"),
                format!(
                    "{}: permission `{p}` is not in the organization's permission catalog",
                    role.address
                ),
                Some(hint),
            );
        }
    }
    Ok(())
}

fn plan_outputs(
    state: &State,
    outputs: &[gcrecon_core::manifest::OutputValue],
) -> Vec<OutputChange> {
    let mut changes = Vec::new();
    for o in outputs {
        let before = state.outputs.get(&o.name);
        let action = match before {
            None => Action::Create,
            Some(b) if o.sensitive && b.sensitive => {
                if o.value.is_known() {
                    Action::NoOp
                } else {
                    Action::Update
                }
            }
            Some(b) => match &b.value {
                Some(v) if !o.sensitive && o.value.is_known() && plain_equal(v, &o.value) => {
                    Action::NoOp
                }
                _ => Action::Update,
            },
        };
        changes.push(OutputChange {
            name: o.name.clone(),
            actions: vec![action],
            before: before.and_then(|b| b.value.clone()),
            after: (!o.sensitive).then(|| o.value.clone()),
            sensitive: o.sensitive,
        });
    }
    for (name, o) in &state.outputs {
        if !outputs.iter().any(|x| &x.name == name) {
            changes.push(OutputChange {
                name: name.clone(),
                actions: vec![Action::Delete],
                before: o.value.clone(),
                after: None,
                sensitive: o.sensitive,
            });
        }
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    changes
}

#[cfg(test)]
mod tests {

    use crate::error::EngineError;

    use crate::planner::PlanOptions;

    use crate::testkit::*;

    use gcrecon_core::plan::{Action, SENSITIVE_PLACEHOLDER};
    use gcrecon_core::provider::CallerKind;

    use gcrecon_core::value::Value;
    use gcrecon_core::Kind;

    use std::sync::Arc;

    #[tokio::test]
    async fn permission_order_and_server_defaults_never_diff() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        // The fake adds `visibility` to groups; reorder the permissions live.
        let role = h.provider.objects_of(Kind::Role).remove(0);
        h.provider.mutate(Kind::Role, role.id.as_str(), |o| {
            o.attrs.insert(
                "permissions".into(),
                Value::strings(["analytics:conversationDetail:view", "routing:queue:view"]),
            );
        });
        h.assert_clean(&m).await;
    }

    /// Only the instances the state does not know are looked up by name,
    /// whichever side of the recorded ones they sort on.
    /// In the order of the slots (one comparison each), out of order (a
    /// search), after a jump back, and for an address the first evaluation
    /// did not have (a slot made in its place).
    #[test]
    fn instances_are_reached_in_and_out_of_order() {
        use super::Known;
        use gcrecon_core::address::Address;
        use gcrecon_core::manifest::DesiredInstance;
        let instance =
            |name: &str| DesiredInstance::placeholder(&Address::resource(Kind::Group, name));
        let mut known = Known::new(["d", "b", "a", "c"].map(instance).to_vec());
        for name in ["a", "b", "d", "a", "b", "c", "c"] {
            let address = Address::resource(Kind::Group, name);
            let (i, first_evaluated) = known.reach(&address);
            assert!(first_evaluated, "{name}");
            assert_eq!(known.slots[i].address, address, "{name}");
            assert_eq!(known.slots[i].inst.address, address, "{name}");
        }
        let (i, first_evaluated) = known.reach(&Address::resource(Kind::Group, "bb"));
        assert!(!first_evaluated);
        assert_eq!(i, 2);
        let order: Vec<&str> = known.addresses().map(|a| a.name.as_str()).collect();
        assert_eq!(order, ["a", "b", "bb", "c", "d"]);
    }

    #[test]
    fn known_instances_are_those_planned_in_place_of_their_first_evaluation() {
        use super::Known;
        use gcrecon_core::address::Address;
        use gcrecon_core::manifest::DesiredInstance;
        let address = |name: &str| Address::resource(Kind::Group, name);
        let named = |name: &str, value: &str| {
            let mut inst = DesiredInstance::placeholder(&address(name));
            inst.attrs.insert("name".into(), Value::from(value));
            inst
        };
        let mut known = Known::new(
            ["a", "b", "c", "d", "e"]
                .map(|n| named(n, "first"))
                .to_vec(),
        );
        let answers = |k: &Known| {
            ["a", "b", "c", "d", "e"].map(|n| {
                (
                    k.name(&address(n)).map(str::to_owned),
                    k.value(&address(n), "id", false),
                    k.is_new(&address(n)),
                )
            })
        };
        // Nothing is known before the walk plans it.
        assert!(answers(&known).iter().all(|a| *a == (None, None, false)));
        // Walked out of address order; "b" stays the same object and keeps
        // its first evaluation, the others are new and evaluated again;
        // "e" is never planned (its evaluation failed).
        for name in ["c", "a", "d", "b"] {
            let (i, _) = known.reach(&address(name));
            let again = (name != "b").then(|| named(name, &name.to_uppercase()));
            let id = (name == "b").then(|| gcrecon_core::provider::GenesysId::from("id-b"));
            known.plan(i, again, id);
        }
        let after = answers(&known);
        assert_eq!(after[0], (Some("A".into()), None, true));
        assert_eq!(
            after[1],
            (Some("first".into()), Some(Value::from("id-b")), false)
        );
        assert_eq!(after[4], (None, None, false));
        assert_eq!(
            known.value(&address("b"), "secret", true),
            Some(Value::from(SENSITIVE_PLACEHOLDER))
        );
        assert_eq!(known.value(&address("a"), "secret", true), None);
        let addresses: Vec<&str> = known.addresses().map(|a| a.name.as_str()).collect();
        assert_eq!(
            addresses,
            ["a", "b", "c", "d", "e"],
            "failed ones keep their address"
        );
        let desired = known.into_desired();
        let planned: Vec<(&str, Option<&str>)> = desired
            .iter()
            .map(|(a, i)| (a.name.as_str(), i.attrs.get("name").and_then(Value::as_str)))
            .collect();
        assert_eq!(
            planned,
            [
                ("a", Some("A")),
                ("b", Some("first")),
                ("c", Some("C")),
                ("d", Some("D"))
            ]
        );
    }

    #[tokio::test]
    async fn names_are_asked_only_for_instances_the_state_does_not_know() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let grown = load_manifest(&format!(
            "{BASIC}\n[group.alpha]\nname = \"Alpha\"\n\n[group.zulu]\nname = \"Zulu\"\n\n[role.aardvark]\nname = \"Aardvark\"\npermissions = []\n"
        ));
        h.provider.with(|o| o.names_asked.clear());
        let p = h.plan(&grown).await;
        let asked = h.provider.with(|o| o.names_asked.clone());
        let names = |kind: Kind| -> Vec<String> {
            asked
                .get(&kind)
                .map(|n| n.iter().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(names(Kind::Group), ["Alpha", "Zulu"], "{asked:?}");
        assert_eq!(names(Kind::Role), ["Aardvark"], "{asked:?}");
        assert_eq!(names(Kind::Division), Vec::<String>::new(), "{asked:?}");
        let creates: Vec<String> = p
            .plan
            .resource_changes
            .iter()
            .filter(|c| c.actions == [Action::Create])
            .map(|c| c.address.to_string())
            .collect();
        assert_eq!(creates, ["role.aardvark", "group.alpha", "group.zulu"]);
    }

    #[tokio::test]
    async fn an_object_is_adopted_once_and_never_from_the_state() {
        let h = Harness::new(CallerKind::User);
        h.converge(&load_manifest(BASIC)).await;
        let ops_id = h.provider.objects_of(Kind::Group)[0].id.clone();
        let action = |p: &super::Planned, address: &str| {
            let c = p
                .plan
                .resource_changes
                .iter()
                .find(|c| c.address.to_string() == address)
                .unwrap();
            (c.actions.clone(), c.id.clone())
        };
        // The state's object is taken: a new block of the same name creates.
        let twin = "[group.twin]\nadopt = true\nname = \"Ops\"\n";
        let p = h.plan(&load_manifest(&format!("{BASIC}\n{twin}"))).await;
        assert_eq!(action(&p, "group.twin"), (vec![Action::Create], None));
        assert_eq!(
            action(&p, "group.ops"),
            (vec![Action::NoOp], Some(ops_id.clone()))
        );

        // With no state, the first block in walk order adopts it, the second creates.
        let other = Harness {
            provider: Arc::clone(&h.provider),
            ..Harness::new(CallerKind::User)
        };
        let both = ["[group.ops]\n", "[role.reader]\n", "[division.sales]\n"]
            .iter()
            .fold(BASIC.to_owned(), |m, h| {
                m.replace(h, &format!("{h}adopt = true\n"))
            });
        let p = other.plan(&load_manifest(&format!("{both}\n{twin}"))).await;
        assert_eq!(
            action(&p, "group.ops"),
            (vec![Action::Update], Some(ops_id))
        );
        assert_eq!(action(&p, "group.twin"), (vec![Action::Create], None));
    }

    #[tokio::test]
    async fn a_name_clash_needs_import_or_adopt() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        // A second state (another checkout) plans the same manifest.
        let other = Harness {
            provider: Arc::clone(&h.provider),
            ..Harness::new(CallerKind::User)
        };
        let err = other
            .plan_with(&m, PlanOptions::default())
            .await
            .unwrap_err();
        let EngineError::Manifest(d) = err else {
            panic!("{err}")
        };
        let text = d.render(&m.manifest.sources(), false);
        let role_id = h.provider.objects_of(Kind::Role)[0].id.clone();
        assert!(
            text.contains(&format!("gcrecon import role.reader {role_id}")),
            "{text}"
        );
        assert!(
            text.contains("gcrecon.toml:"),
            "errors carry file:line:col: {text}"
        );

        let adopting = load_manifest(
            &BASIC
                .replace("[role.reader]\n", "[role.reader]\nadopt = true\n")
                .replace(
                    "[group.ops]\nname = \"Ops\"\n",
                    "[group.ops]\nadopt = true\nname = \"Ops\"\n",
                )
                .replace("[division.sales]\n", "[division.sales]\nadopt = true\n"),
        );
        let p = other.plan(&adopting).await;
        let role = p
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == "role.reader")
            .unwrap();
        assert_eq!(role.actions, [Action::Update]);
        assert!(role.note.as_deref().unwrap().contains("adopt"), "{role:?}");
        other.converge(&adopting).await;
        assert_eq!(
            h.provider.objects_of(Kind::Role).len(),
            1,
            "adopted, not duplicated"
        );
        assert_eq!(
            other
                .state()
                .resource(&"role.reader".parse().unwrap())
                .unwrap()
                .id,
            role_id
        );
        other.assert_clean(&adopting).await;
    }

    #[tokio::test]
    async fn a_caller_without_a_permission_is_stopped_before_any_change() {
        let h = Harness::new(CallerKind::Client);
        h.provider.with(|o| {
            if let Some(c) = o.caller.as_mut() {
                c.permissions = [
                    "authorization:role:*",
                    "authorization:grant:add",
                    "authorization:grant:delete",
                ]
                .into_iter()
                .map(str::to_owned)
                .collect();
            }
        });
        let m = load_manifest(CLIENT);
        let err = h.plan_with(&m, PlanOptions::default()).await.unwrap_err();
        let EngineError::Manifest(d) = err else {
            panic!("{err}")
        };
        let text = d.render(&m.manifest.sources(), false);
        assert!(
            text.contains("`oauth:client:add`") && text.contains("create oauth_client.api"),
            "{text}"
        );
        assert!(
            !text.contains("authorization:role:add"),
            "wildcards count: {text}"
        );
        assert!(h.provider.objects_of(Kind::Role).is_empty());
    }

    #[tokio::test]
    async fn objects_deleted_outside_are_planned_again_with_a_note() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let group = h.provider.objects_of(Kind::Group).remove(0);
        h.provider
            .with(|o| o.objects.remove(&(Kind::Group, group.id.clone())));
        let p = h.plan(&m).await;
        let g = p
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == "group.ops")
            .unwrap();
        assert_eq!(g.actions, [Action::Create]);
        assert!(g
            .note
            .as_deref()
            .unwrap()
            .contains("deleted outside gcrecon"));
        h.converge(&m).await;
        h.assert_clean(&m).await;
    }

    #[tokio::test]
    async fn replacement_and_prevent_destroy() {
        let h = Harness::new(CallerKind::Client);
        let m = load_manifest(CLIENT);
        h.converge(&m).await;
        let old = h.provider.objects_of(Kind::OauthClient)[0].id.clone();
        let code = load_manifest(&CLIENT.replace("client_credentials", "code"));
        let p = h.plan(&code).await;
        let c = p
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == "oauth_client.api")
            .unwrap();
        assert_eq!(c.actions, [Action::Delete, Action::Create]);
        assert_eq!(c.replace_because, ["grant_type"]);
        h.converge(&code).await;
        let clients = h.provider.objects_of(Kind::OauthClient);
        assert_eq!(clients.len(), 1);
        assert_ne!(clients[0].id, old);
        h.assert_clean(&code).await;

        let protected_text = CLIENT
            .replace(
                "[oauth_client.api]\n",
                "[oauth_client.api]\nprevent_destroy = true\n",
            )
            .replace("client_credentials", "code");
        let protected = load_manifest(&protected_text);
        h.converge(&protected).await;
        assert!(
            h.state()
                .resource(&"oauth_client.api".parse().unwrap())
                .unwrap()
                .prevent_destroy
        );
        let err = h
            .plan_with(
                &load_manifest(&protected_text.replace("\"code\"", "\"client_credentials\"")),
                PlanOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Manifest(_)), "{err}");
        // Removing the block does not lift the protection recorded in the state.
        let without = load_manifest("[gcrecon]\nversion = 1\nname = \"t\"\n");
        assert!(h.plan_with(&without, PlanOptions::default()).await.is_err());
        let err = h
            .plan_with(
                &without,
                PlanOptions {
                    destroy: true,
                    ..PlanOptions::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::Manifest(_)));
    }

    #[tokio::test]
    async fn unknown_permissions_are_refused_with_suggestions() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(&BASIC.replace("routing:queue:view", "routing:queue:veiw"));
        let err = h.plan_with(&m, PlanOptions::default()).await.unwrap_err();
        let EngineError::Manifest(d) = err else {
            panic!("{err}")
        };
        let text = d.render(&m.manifest.sources(), false);
        assert!(text.contains("routing:queue:veiw"), "{text}");
        assert!(text.contains("routing:queue:view"), "a suggestion: {text}");
        // Wildcards match.
        let ok = load_manifest(&BASIC.replace("routing:queue:view", "integration:presence:*"));
        h.plan(&ok).await;
    }

    #[tokio::test]
    async fn targets_limit_the_plan_to_an_address_and_its_dependencies() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(&format!("{CLIENT}\n[group.ops]\nname = \"Ops\"\n"));
        let p = h
            .plan_with(
                &m,
                PlanOptions {
                    targets: vec!["oauth_client.api".parse().unwrap()],
                    ..PlanOptions::default()
                },
            )
            .await
            .unwrap();
        let addresses: Vec<String> = p
            .plan
            .resource_changes
            .iter()
            .map(|c| c.address.to_string())
            .collect();
        assert_eq!(addresses, ["role.reader", "oauth_client.api"]);
        assert!(!p.plan.warnings.is_empty());
    }

    #[tokio::test]
    async fn refresh_only_records_what_changed_outside() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.converge(&m).await;
        let group = h.provider.objects_of(Kind::Group).remove(0);
        h.provider.mutate(Kind::Group, group.id.as_str(), |o| {
            o.attrs.insert("description".into(), Value::from("edited"));
        });
        let refresh_only = PlanOptions {
            refresh_only: true,
            ..PlanOptions::default()
        };
        let p = h.plan_with(&m, refresh_only.clone()).await.unwrap();
        assert!(p.has_changes());
        assert_eq!(actions_of(&p)["group.ops"], [Action::Read]);
        let report = h.apply_planned(&m, p).await;
        assert!(report.succeeded(), "{report:?}");
        let state = h.state();
        let read = state
            .resource(&"group.ops".parse().unwrap())
            .unwrap()
            .read()
            .clone();
        assert_eq!(read["description"], Value::from("edited"));
        assert!(!h.plan_with(&m, refresh_only).await.unwrap().has_changes());
        // The normal plan still wants its description back.
        assert_eq!(actions_of(&h.plan(&m).await)["group.ops"], [Action::Update]);
    }

    #[tokio::test]
    async fn a_state_from_another_org_is_refused() {
        let h = Harness::new(CallerKind::User);
        let mut store = h.store();
        store
            .write(|s| s.org_id = Some("someone-else".into()))
            .unwrap();
        let err = h
            .plan_with(&load_manifest(BASIC), PlanOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::OtherOrg { .. }), "{err}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A manifest from a random selection of blocks with random values.
        fn manifest_text(
            groups: &[(String, Option<String>)],
            perms: &[&str],
            with_client: bool,
        ) -> String {
            let mut s = String::from(
                "[gcrecon]\nversion = 1\nname = \"t\"\n\n[role.r]\nname = \"R\"\npermissions = [",
            );
            s.push_str(
                &perms
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            s.push_str("]\n");
            for (i, (name, description)) in groups.iter().enumerate() {
                s.push_str(&format!("\n[group.g{i}]\nname = \"{name}\"\n"));
                if let Some(d) = description {
                    s.push_str(&format!("description = \"{d}\"\n"));
                }
            }
            if with_client {
                s.push_str("\n[oauth_client.c]\nname = \"C\"\ngrant_type = \"client_credentials\"\nroles = [{ role = \"${role.r.id}\" }]\n");
            }
            s
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]
            #[test]
            fn applying_a_plan_then_planning_again_is_empty(
                first in prop::collection::vec(("[A-Z][a-z]{2,6}", prop::option::of("[a-z ]{0,8}")), 0..4),
                second in prop::collection::vec(("[A-Z][a-z]{2,6}", prop::option::of("[a-z ]{0,8}")), 0..4),
                perms in prop::sample::subsequence(vec!["routing:queue:view", "directory:user:view", "analytics:conversationDetail:view"], 1..3),
                client in any::<bool>(),
            ) {
                let unique = |v: Vec<(String, Option<String>)>| {
                    let mut seen = std::collections::BTreeSet::new();
                    v.into_iter().filter(|(n, _)| seen.insert(n.clone())).collect::<Vec<_>>()
                };
                let (first, second) = (unique(first), unique(second));
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let h = Harness::new(CallerKind::User);
                    for groups in [&first, &second] {
                        let m = load_manifest(&manifest_text(groups, &perms, client));
                        h.converge(&m).await;
                        h.assert_clean(&m).await;
                        let names: std::collections::BTreeSet<String> = h.provider.objects_of(Kind::Group).into_iter().map(|g| g.name).collect();
                        let want: std::collections::BTreeSet<String> = groups.iter().map(|(n, _)| n.clone()).collect();
                        assert_eq!(names, want);
                    }
                });
            }
        }
    }
}
