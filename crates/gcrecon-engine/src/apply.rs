//! The apply walk: carry out a [`Planned`] plan over the dependency graph
//! with bounded parallelism, recording every completed API change in the
//! state before anything else happens.
//!
//! - The walk is [`gcrecon_core::graph::Walk`] over the plan's graph plus a
//!   [`NodeKind::Destroy`] node per delete (`apply_graph`). A replacement
//!   is two nodes, delete then create. Creates and updates wait for what
//!   they depend on; deletes wait for what depended on them, per the
//!   dependencies the state recorded. Data sources, caller-grant nodes and
//!   unchanged instances pass straight through.
//! - Each instance is evaluated again right before its call, with the ids
//!   created so far; a value still unknown then fails the node.
//! - A create is written to the state as pending before the call, so a
//!   crash after the call is found by name on the next refresh.
//! - Before an OAuth client is given a role the caller lacks (the rule is
//!   [`crate::caller_grant`]), the role is granted to the caller (recorded
//!   in the state before and after); with `grant_to_caller = "auto"` those
//!   grants are removed after the walk.
//! - A failed node skips its dependents; independent branches finish.
//! - A client secret goes to the secrets file only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use gcrecon_core::diff::{self, without_meta, DiffInput};
use gcrecon_core::graph::{EdgeReason, NodeKind, ResourceGraph, Walk};
use gcrecon_core::manifest::{DesiredInstance, EvalContext, Manifest, Variables};
use gcrecon_core::plan::{Action, SENSITIVE_PLACEHOLDER};
use gcrecon_core::provider::{GenesysId, LiveObject, Provider, ProviderError, RoleDivision};
use gcrecon_core::state::{
    read_differing, redact, CallerGrantRecord, CallerGrantStatus, OutputState, PendingKind,
    PendingOperation, ResourceState, State,
};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::vecmap::VecMap;
use gcrecon_core::{Address, Kind};

use crate::caller_grant::{missing_grants, refusal, GrantMode};
use crate::error::{provider_hint, EngineError};
use crate::events::{Cancel, Event, Observer};
use crate::lock::now_rfc3339;
use crate::planner::{
    desired_name, literal_role_address, state_value, PlanOptions, Planned, Step, StepOp,
};
use crate::secrets::SecretsFile;
use crate::store::StateStore;

/// How an apply runs.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Changes in flight at once (at least 1).
    pub parallelism: usize,
    /// Where secrets go.
    pub secrets: SecretsFile,
    /// Stop starting new changes when triggered.
    pub cancel: Cancel,
}

/// The manifest side of an apply.
#[derive(Clone, Copy)]
pub struct ApplyInput<'a> {
    pub manifest: &'a Manifest,
    pub variables: &'a Variables,
    pub name: &'a str,
    pub manifest_sha256: &'a str,
}

/// What became of one planned change.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Done,
    Failed {
        message: String,
        hint: Option<String>,
    },
    /// Not attempted: something it depends on failed.
    Skipped {
        because: Address,
    },
    /// Not attempted: the apply was interrupted.
    NotStarted,
}

/// One planned change and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub address: Address,
    pub actions: Vec<Action>,
    pub status: Status,
    /// The object's id afterwards (or the deleted object's id).
    pub id: Option<GenesysId>,
}

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct ApplyReport {
    pub outcomes: Vec<Outcome>,
    /// Addresses whose secret went to `secrets_path`.
    pub secrets_written: Vec<Address>,
    pub secrets_path: Option<PathBuf>,
    /// Roles granted to the caller, and whether each was removed again.
    pub caller_grants: Vec<(Address, RoleDivision)>,
    pub caller_grants_revoked: Vec<RoleDivision>,
    /// Problems after the walk (removing caller grants, recording outputs).
    pub errors: Vec<String>,
    pub interrupted: bool,
    /// Why the walk stopped starting changes: the state could not be
    /// written (what the write said).
    pub state_failure: Option<String>,
    /// The state serial at the end.
    pub serial: u64,
}

impl ApplyReport {
    /// True when every change was made and nothing went wrong afterwards.
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty()
            && !self.interrupted
            && self.state_failure.is_none()
            && self.outcomes.iter().all(|o| o.status == Status::Done)
    }

    /// Completed (added, changed, destroyed), as in the plan summary.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for o in self.outcomes.iter().filter(|o| o.status == Status::Done) {
            for a in &o.actions {
                match a {
                    Action::Create => c.0 += 1,
                    Action::Update => c.1 += 1,
                    Action::Delete => c.2 += 1,
                    Action::NoOp | Action::Read => {}
                }
            }
        }
        c
    }
}

/// An error of one node.
#[derive(Debug)]
struct NodeError {
    message: String,
    hint: Option<String>,
}

impl NodeError {
    fn new(message: impl Into<String>) -> Self {
        NodeError {
            message: message.into(),
            hint: None,
        }
    }

    fn provider(what: &str, e: &ProviderError) -> Self {
        NodeError {
            message: format!("{what}: {e}"),
            hint: provider_hint(e),
        }
    }

    /// The API change `done` (`created`, `updated`, `deleted`, ...) of the
    /// object `id` at `address` was made, but the state write after it
    /// failed: say which object, so the operator can record it by hand.
    fn unrecorded(address: &Address, done: &str, id: &GenesysId, e: &EngineError) -> Self {
        let hint = if matches!(done, "created" | "adopted") {
            format!(
                "fix the problem (disk full? a read-only directory?), then record it with `gcrecon import {address} {id}`; or run `gcrecon apply` again, which finds it by name"
            )
        } else if done == "deleted" {
            "fix the problem (disk full? a read-only directory?) and run `gcrecon plan` again: the object is gone and the state forgets it".to_owned()
        } else {
            "fix the problem (disk full? a read-only directory?) and run `gcrecon plan` again: the state still names the object by its id".to_owned()
        };
        NodeError {
            message: format!(
                "{address} [id={id}] was {done} in Genesys Cloud, but the state could not be written, so the change is not recorded: {e}{}",
                source_text(e)
            ),
            hint: Some(hint),
        }
    }
}

/// The chain of causes of an error, as `: cause: cause`.
fn source_text(e: &EngineError) -> String {
    let mut out = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Delete or forget the old object.
    Destroy,
    /// Create, update or record the new one.
    Write,
}

/// What the walk shares with its tasks.
struct Shared<P> {
    provider: Arc<P>,
    store: Mutex<StateStore>,
    secrets: SecretsFile,
    observer: Arc<dyn Observer>,
    grants: tokio::sync::Mutex<GrantBook>,
    home: String,
    modes: BTreeMap<Address, GrantMode>,
    /// Role data sources by id: address and name.
    data_roles: BTreeMap<String, (Address, String)>,
    written_secrets: Mutex<Vec<Address>>,
    /// The first failed state write: no new change starts after it, since
    /// none could be recorded.
    state_failure: Mutex<Option<String>>,
}

struct GrantBook {
    caller_id: GenesysId,
    caller_name: String,
    held: BTreeSet<RoleDivision>,
    granted: Vec<(Address, RoleDivision)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<P: Provider> Shared<P> {
    fn new(
        provider: &Arc<P>,
        store: StateStore,
        options: &ApplyOptions,
        observer: &Arc<dyn Observer>,
        context: &crate::refresh::Context,
        modes: BTreeMap<Address, GrantMode>,
    ) -> Self {
        let data_roles: BTreeMap<String, (Address, String)> = context
            .data
            .iter()
            .filter(|(a, _)| {
                a.target == gcrecon_core::address::Target::Data(gcrecon_core::DataKind::Role)
            })
            .filter_map(|(a, attrs)| {
                let id = attrs.get("id")?.as_str()?;
                let name = attrs.get("name").and_then(Value::as_str).unwrap_or(id);
                Some((id.to_owned(), (a.clone(), name.to_owned())))
            })
            .collect();
        Shared {
            provider: Arc::clone(provider),
            store: Mutex::new(store),
            secrets: options.secrets.clone(),
            observer: Arc::clone(observer),
            grants: tokio::sync::Mutex::new(GrantBook {
                caller_id: context.caller.id.clone(),
                caller_name: context.caller.name.clone(),
                held: context.caller.grants.clone(),
                granted: Vec::new(),
            }),
            home: context.home_division().to_owned(),
            modes,
            data_roles,
            written_secrets: Mutex::new(Vec::new()),
            state_failure: Mutex::new(None),
        }
    }

    fn write_state(&self, change: impl FnOnce(&mut State)) -> Result<u64, EngineError> {
        let written = lock(&self.store).write(change);
        if let Err(e) = &written {
            lock(&self.state_failure).get_or_insert_with(|| format!("{e}{}", source_text(e)));
        }
        written
    }

    fn record_of(&self, address: &Address) -> Option<ResourceState> {
        lock(&self.store).state().resource(address).cloned()
    }

    /// The address and name of the role with this id: managed, a data
    /// source, or a literal id in the manifest.
    fn role_address(&self, role_id: &str) -> (Address, String) {
        if let Some(r) = lock(&self.store)
            .state()
            .resources
            .iter()
            .find(|r| r.kind == Kind::Role && r.id.as_str() == role_id)
        {
            return (r.address.clone(), r.name.clone());
        }
        self.data_roles
            .get(role_id)
            .cloned()
            .unwrap_or_else(|| (literal_role_address(role_id), role_id.to_owned()))
    }

    /// Write a client's secret to the secrets file (and nowhere else).
    fn deliver_secret(
        &self,
        address: &Address,
        id: &GenesysId,
        secret: &gcrecon_core::Secret,
    ) -> Result<(), EngineError> {
        if let Err(e) = self.secrets.store(address, id.as_str(), secret) {
            // No further secret could be written down either: stop.
            lock(&self.state_failure).get_or_insert_with(|| format!("{e}{}", source_text(&e)));
            return Err(e);
        }
        lock(&self.written_secrets).push(address.clone());
        self.observer.event(&Event::SecretWritten {
            address: address.clone(),
            path: self.secrets.path().to_owned(),
        });
        Ok(())
    }

    /// After adopting a client an interrupted apply created: unless the
    /// secrets file already holds its secret, generate a new one, since the
    /// first was lost with the interrupted run.
    async fn recover_secret(&self, address: &Address, id: &GenesysId) -> Result<(), NodeError> {
        let delivered = self
            .secrets
            .client_id(address)
            .map_err(|e| NodeError::new(format!("cannot read the secrets file: {e}")))?;
        if delivered.as_deref() == Some(id.as_str()) {
            return Ok(());
        }
        let secret = self.provider.rotate_secret(id).await.map_err(|e| {
            NodeError::provider(&format!("{address}: cannot generate a new secret"), &e)
        })?;
        self.deliver_secret(address, id, &secret)
            .map_err(|e| NodeError {
                message: format!(
                    "{address}: a new secret was generated but could not be written: {e}"
                ),
                hint: Some(format!(
                    "fix the secrets file, then run `gcrecon rotate {address}`"
                )),
            })
    }

    /// Make sure the caller holds every role `client`'s roles name, granting
    /// what is missing (recorded in the state before and after the call).
    async fn ensure_caller_grants(&self, client: &Address, attrs: &Attrs) -> Result<(), NodeError> {
        let mut book = self.grants.lock().await;
        let mut missing: Vec<(Address, GrantMode, RoleDivision)> = Vec::new();
        for grant in missing_grants(attrs, &self.home, &book.held) {
            // Evaluated just before the call, every id is known by now.
            let (Some(role), Some(division)) = (grant.role_id, grant.division) else {
                continue;
            };
            let (address, name) = self.role_address(&role);
            let mode = self.modes.get(&address).copied().unwrap_or(GrantMode::Auto);
            if mode == GrantMode::Never {
                let (message, hint) =
                    refusal(client, &address, &name, &[division], &book.caller_name);
                return Err(NodeError {
                    message,
                    hint: Some(hint),
                });
            }
            let grant = RoleDivision {
                role_id: GenesysId::from(role.as_str()),
                division_id: GenesysId::from(division.as_str()),
            };
            missing.push((address, mode, grant));
        }
        if missing.is_empty() {
            return Ok(());
        }
        let caller_id = book.caller_id.clone();
        let records: Vec<CallerGrantRecord> = missing
            .iter()
            .map(|(address, _, g)| CallerGrantRecord {
                role: address.clone(),
                role_id: g.role_id.clone(),
                division_id: g.division_id.clone(),
                caller_id: caller_id.clone(),
                status: CallerGrantStatus::Granting,
            })
            .collect();
        self.write_state(|s| s.caller_grants.extend(records.iter().cloned()))
            .map_err(|e| {
                NodeError::new(format!(
                    "cannot record the caller grant before making it: {e}"
                ))
            })?;
        let grants: Vec<RoleDivision> = missing.iter().map(|(_, _, g)| g.clone()).collect();
        let result = self.provider.grant_to_caller(&grants).await;
        let keep_grants: Vec<RoleDivision> = missing
            .iter()
            .filter(|(_, m, _)| *m == GrantMode::Keep)
            .map(|(_, _, g)| g.clone())
            .collect();
        let is_mine = |r: &CallerGrantRecord, g: &RoleDivision| {
            r.role_id == g.role_id && r.division_id == g.division_id
        };
        if let Err(e) = result {
            let _ = self.write_state(|s| {
                s.caller_grants
                    .retain(|r| !grants.iter().any(|g| is_mine(r, g)));
            });
            return Err(NodeError::provider(
                &format!("{client}: cannot grant the roles it needs to the caller"),
                &e,
            ));
        }
        self.write_state(|s| {
            // `keep` grants are the caller's from now on; `auto` ones are removed after the walk.
            s.caller_grants
                .retain(|r| !keep_grants.iter().any(|g| is_mine(r, g)));
            for r in &mut s.caller_grants {
                if grants.iter().any(|g| is_mine(r, g)) {
                    r.status = CallerGrantStatus::Held;
                }
            }
        })
        .map_err(|e| NodeError {
            message: format!("{client}: the roles it needs were granted to the caller, but the state could not be written, so the grant is not recorded: {e}{}", source_text(&e)),
            hint: Some("fix the problem (disk full? a read-only directory?); the grant is recorded as pending and removed by the next apply".into()),
        })?;
        for (address, _, g) in missing {
            self.observer.event(&Event::CallerGrant {
                role: address.clone(),
                divisions: vec![g.division_id.to_string()],
                granted: true,
            });
            book.held.insert(g.clone());
            book.granted.push((address, g));
        }
        Ok(())
    }
}

/// A ready-to-run node.
struct Job {
    address: Address,
    kind: Kind,
    op: StepOp,
    phase: Phase,
    live: Option<LiveObject>,
    desired: Option<DesiredInstance>,
    recover_secret: bool,
}

fn verb(op: &StepOp, phase: Phase) -> &'static str {
    match (op, phase) {
        (StepOp::Replace, Phase::Destroy) | (StepOp::Delete, _) => "deleting",
        (StepOp::Replace, Phase::Write) | (StepOp::Create, _) => "creating",
        (StepOp::Update, _) => "updating",
        (StepOp::Record, _) => "adopting",
        (StepOp::Forget, _) => "forgetting",
        (StepOp::Refresh, _) => "recording",
    }
}

/// Warn when the object the service returned still differs from the
/// manifest: the next plan would show the same change again.
fn warn_if_unconverged<P>(
    shared: &Shared<P>,
    address: &Address,
    desired: &DesiredInstance,
    object: &LiveObject,
) {
    let left = diff::diff(&DiffInput {
        kind: desired.kind,
        desired: &desired.attrs,
        live: &object.attrs,
        applied: Some(&desired.attrs),
        ignore_changes: &desired.ignore_changes,
        home_division_id: Some(&shared.home),
    });
    if !left.is_empty() {
        shared.observer.event(&Event::Warning(format!(
            "{address}: Genesys Cloud accepted the change but still reports a different {}; the next plan will show it again",
            left.changed_keys.join(", ")
        )));
    }
}

fn new_record(
    job_address: &Address,
    kind: Kind,
    desired: &DesiredInstance,
    object: &LiveObject,
) -> ResourceState {
    let sensitive = &desired.sensitive_keys;
    let applied = redact(&without_meta(kind, &desired.attrs), sensitive);
    ResourceState {
        address: job_address.clone(),
        kind,
        id: object.id.clone(),
        name: object.name.clone(),
        read: read_differing(&applied, redact(&object.attrs, sensitive)),
        applied,
        version: object.version.clone(),
        dependencies: desired.depends_on.clone(),
        prevent_destroy: desired.prevent_destroy,
        sensitive_keys: sensitive.clone(),
    }
}

/// Carry out one node's API change and record it in the state.
async fn run_job<P: Provider>(
    shared: Arc<Shared<P>>,
    job: Job,
) -> Result<Option<GenesysId>, NodeError> {
    let previous = shared.record_of(&job.address);
    match (&job.op, job.phase) {
        (StepOp::Delete | StepOp::Replace, Phase::Destroy) => {
            delete_object(&shared, job, previous).await
        }
        (StepOp::Forget, _) => forget(&shared, job, previous).await,
        (StepOp::Refresh, _) => record_read(&shared, job).await,
        (StepOp::Record, _) => adopt(&shared, job).await,
        (StepOp::Update, _) => update_object(&shared, job, previous).await,
        (StepOp::Create | StepOp::Replace, _) | (StepOp::Delete, Phase::Write) => {
            create_object(&shared, job).await
        }
    }
}

/// Delete the old object (a delete, or the first half of a replacement); a client is first set inactive, with its roles, so the caller must hold them.
async fn delete_object<P: Provider>(
    shared: &Shared<P>,
    job: Job,
    previous: Option<ResourceState>,
) -> Result<Option<GenesysId>, NodeError> {
    let address = job.address.clone();
    let kind = job.kind;
    let record =
        previous.ok_or_else(|| NodeError::new(format!("{address} is no longer in the state")))?;
    if kind == Kind::OauthClient {
        // The delete first sets the client inactive, with its roles.
        let live_attrs = job.live.as_ref().map_or(record.read(), |l| &l.attrs);
        shared.ensure_caller_grants(&address, live_attrs).await?;
    }
    match shared
        .provider
        .delete(kind, &record.id, Some(&record.applied))
        .await
    {
        Ok(()) | Err(ProviderError::NotFound { .. }) => {}
        Err(e) => {
            return Err(NodeError::provider(
                &format!("cannot delete {address} ({})", record.id),
                &e,
            ))
        }
    }
    shared
        .write_state(|s| {
            s.remove_resource(&address);
        })
        .map_err(|e| NodeError::unrecorded(&address, "deleted", &record.id, &e))?;
    Ok(Some(record.id))
}

/// Remove the state entry of an object already gone.
async fn forget<P: Provider>(
    shared: &Shared<P>,
    job: Job,
    previous: Option<ResourceState>,
) -> Result<Option<GenesysId>, NodeError> {
    let address = job.address;
    shared
        .write_state(|s| {
            s.remove_resource(&address);
        })
        .map_err(|e| {
            NodeError::new(format!(
                "cannot record that {address} is no longer managed: {e}{}",
                source_text(&e)
            ))
        })?;
    Ok(previous.map(|r| r.id))
}

/// `--refresh-only`: record what was read.
async fn record_read<P: Provider>(
    shared: &Shared<P>,
    job: Job,
) -> Result<Option<GenesysId>, NodeError> {
    let address = job.address.clone();
    let live = job.live.ok_or_else(|| NodeError::new("nothing was read"))?;
    shared
        .write_state(|s| {
            if let Some(r) = s.resource_mut(&address) {
                r.read = read_differing(&r.applied, redact(&live.attrs, &r.sensitive_keys));
                r.version = live.version.clone();
                r.name = live.name.clone();
            }
        })
        .map_err(|e| NodeError::unrecorded(&address, "read", &live.id, &e))?;
    Ok(Some(live.id))
}

/// Record an adopted object that needs no change.
async fn adopt<P: Provider>(
    shared: &Shared<P>,
    mut job: Job,
) -> Result<Option<GenesysId>, NodeError> {
    let desired = job
        .desired
        .take()
        .ok_or_else(|| NodeError::new("no desired attributes"))?;
    let live = job
        .live
        .take()
        .ok_or_else(|| NodeError::new("nothing to adopt"))?;
    record_object(shared, &job, &desired, live, "adopted").await
}

/// Record `live` as the object at an address, `what` ("adopted",
/// "updated") saying how it came to be, and clear its pending operation.
/// The secret first: until the record is written, the pending create lets a
/// rerun find the client (and its secret) again.
async fn record_object<P: Provider>(
    shared: &Shared<P>,
    job: &Job,
    desired: &DesiredInstance,
    live: LiveObject,
    what: &str,
) -> Result<Option<GenesysId>, NodeError> {
    let address = &job.address;
    if job.recover_secret {
        shared.recover_secret(address, &live.id).await?;
    }
    let record = new_record(address, job.kind, desired, &live);
    let change = |s: &mut State| {
        s.upsert_resource(record);
        s.clear_pending(address);
    };
    // An adoption that changed nothing made no API call: it is saved with
    // the next write (a rerun would adopt the object again by name).
    if job.op == StepOp::Record && !job.recover_secret {
        lock(&shared.store).stage(change);
        return Ok(Some(live.id));
    }
    shared
        .write_state(change)
        .map_err(|e| NodeError::unrecorded(address, what, &live.id, &e))?;
    Ok(Some(live.id))
}

/// Update an object in place.
async fn update_object<P: Provider>(
    shared: &Shared<P>,
    mut job: Job,
    previous: Option<ResourceState>,
) -> Result<Option<GenesysId>, NodeError> {
    let address = job.address.clone();
    let kind = job.kind;
    let desired = job
        .desired
        .take()
        .ok_or_else(|| NodeError::new("no desired attributes"))?;
    let live = job
        .live
        .take()
        .ok_or_else(|| NodeError::new("no live object to update"))?;
    if kind == Kind::OauthClient {
        shared
            .ensure_caller_grants(&address, &desired.attrs)
            .await?;
    }
    let applied = previous.as_ref().map(|r| &r.applied);
    let changed = diff::diff(&DiffInput {
        kind,
        desired: &desired.attrs,
        live: &live.attrs,
        applied,
        ignore_changes: &desired.ignore_changes,
        home_division_id: Some(&shared.home),
    })
    .changed_keys;
    let updated = shared
        .provider
        .update(kind, &live, applied, &desired.attrs, &changed)
        .await
        .map_err(|e| NodeError::provider(&format!("cannot update {address} ({})", live.id), &e))?;
    warn_if_unconverged(shared, &address, &desired, &updated);
    record_object(shared, &job, &desired, updated, "updated").await
}

/// Create an object (or the new half of a replacement), recorded as pending before the call.
async fn create_object<P: Provider>(
    shared: &Shared<P>,
    job: Job,
) -> Result<Option<GenesysId>, NodeError> {
    let address = job.address.clone();
    let kind = job.kind;
    let desired = job
        .desired
        .ok_or_else(|| NodeError::new("no desired attributes"))?;
    if kind == Kind::OauthClient {
        shared
            .ensure_caller_grants(&address, &desired.attrs)
            .await?;
    }
    let name = desired_name(kind, &desired.attrs);
    if let Some(name) = &name {
        let pending = PendingOperation {
            address: address.clone(),
            kind,
            operation: PendingKind::Create,
            name: name.clone(),
            id: None,
            started: now_rfc3339(),
        };
        shared
            .write_state(|s| {
                s.clear_pending(&address);
                s.pending.push(pending);
            })
            .map_err(|e| {
                NodeError::new(format!("cannot record the create before making it: {e}"))
            })?;
    }
    let created = match shared.provider.create(kind, &desired.attrs).await {
        Ok(c) => c,
        Err(e) => {
            let mut err = NodeError::provider(&format!("cannot create {address}"), &e);
            if matches!(e, ProviderError::Transport(_)) && name.is_some() {
                // The create may have happened: keep the pending entry so the
                // next plan finds the object by name instead of duplicating it.
                err.hint = Some(
                    "run plan again: if the object was created, it is found by name and adopted"
                        .into(),
                );
            } else {
                let _ = shared.write_state(|s| s.clear_pending(&address));
            }
            return Err(err);
        }
    };
    let secret_error = created.secret.as_ref().and_then(|secret| {
        shared
            .deliver_secret(&address, &created.object.id, secret)
            .err()
    });
    warn_if_unconverged(shared, &address, &desired, &created.object);
    let record = new_record(&address, kind, &desired, &created.object);
    shared
        .write_state(|s| {
            s.upsert_resource(record);
            s.clear_pending(&address);
        })
        .map_err(|e| {
            let mut err = NodeError::unrecorded(&address, "created", &created.object.id, &e);
            if secret_error.is_some() {
                err.message.push_str("; its secret could not be written either");
                err.hint = Some(format!(
                    "fix the problem (disk full? a read-only directory?), then record it with `gcrecon import {address} {}` and give it a new secret with `gcrecon rotate {address}`",
                    created.object.id
                ));
            }
            err
        })?;
    if let Some(e) = secret_error {
        return Err(NodeError {
            message: format!("{address} was created, but its secret could not be written: {e}"),
            hint: Some(format!(
                "fix the secrets file, then run `gcrecon rotate {address}` for a new secret"
            )),
        });
    }
    Ok(Some(created.object.id))
}

/// Carry out a plan. The state store is written after every API change and
/// returned at the end, also when some changes failed (see the report).
pub async fn apply<P: Provider + 'static>(
    provider: Arc<P>,
    input: ApplyInput<'_>,
    store: StateStore,
    planned: Planned,
    options: ApplyOptions,
    observer: Arc<dyn Observer>,
) -> Result<(ApplyReport, StateStore), EngineError> {
    options.secrets.check()?;
    // A run that may deliver a secret must be able to store it where it
    // belongs (encrypted, when the store holds encrypted secrets).
    if planned.steps.iter().any(|s| {
        s.kind == Kind::OauthClient
            && (matches!(s.op, StepOp::Create | StepOp::Replace) || s.recover_secret)
    }) {
        options.secrets.check_can_store()?;
    }
    let Planned {
        plan,
        context,
        options: plan_options,
        steps,
        desired,
        graph,
        grant_modes,
        ..
    } = planned;
    let (graph, jobs) = apply_graph(graph, &steps, store.state());
    let shared = Arc::new(Shared::new(
        &provider,
        store,
        &options,
        &observer,
        &context,
        grant_modes,
    ));
    let walked = walk(&shared, input, &context, &graph, &jobs, &options).await?;

    let mut report = ApplyReport {
        interrupted: walked.interrupted,
        state_failure: lock(&shared.state_failure).clone(),
        secrets_path: Some(options.secrets.path().to_owned()),
        outcomes: outcomes(&plan, &walked.results),
        ..ApplyReport::default()
    };
    report.secrets_written = lock(&shared.written_secrets).clone();
    remove_caller_grants(&shared, &walked.results, &mut report).await;
    report.caller_grants = shared.grants.lock().await.granted.clone();

    let all_done = report.outcomes.iter().all(|o| o.status == Status::Done) && !walked.interrupted;
    let outputs = output_states(&shared, input, &context, &plan_options, &mut report);
    let store = Arc::try_unwrap(shared)
        .map_err(|_| EngineError::Usage {
            message: "an apply task outlived the walk".into(),
            hint: None,
        })?
        .store
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let finish = Finish {
        input,
        context: &context,
        options: &plan_options,
        desired: &desired,
        outputs,
        all_done,
    };
    let store = record_manifest(store, &finish, &mut report);
    Ok((report, store))
}

/// The graph the apply walks, and the step of each node that has one.
///
/// It is the plan's graph of desired instances (data sources and caller
/// grants included; a node without a step passes straight through), plus a
/// [`NodeKind::Destroy`] node for every delete, forget and the old half of
/// every replacement. A replacement's new object waits for the old one's
/// delete. A delete waits, per the dependencies the state recorded, for
/// the delete of every object that depended on it, and for the update of
/// every object that depended on it and no longer does.
fn apply_graph(
    mut graph: ResourceGraph,
    steps: &[Step],
    state: &State,
) -> (ResourceGraph, BTreeMap<NodeKind, Step>) {
    let desired = graph.clone();
    let mut jobs: BTreeMap<NodeKind, Step> = BTreeMap::new();
    for s in steps {
        let write = NodeKind::Resource(s.address.clone());
        let destroy = NodeKind::Destroy(s.address.clone());
        match s.op {
            StepOp::Replace => {
                graph.add_edge(destroy.clone(), write.clone(), EdgeReason::Replace);
                jobs.insert(destroy, s.clone());
                jobs.insert(write, s.clone());
            }
            StepOp::Delete | StepOp::Forget => {
                graph.add_node(destroy.clone());
                jobs.insert(destroy, s.clone());
            }
            _ => {
                graph.add_node(write.clone());
                jobs.insert(write, s.clone());
            }
        }
    }
    let mut state_dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for r in &state.resources {
        for d in r.dependencies.iter().filter(|d| **d != r.address) {
            state_dependents.entry(d).or_default().push(&r.address);
        }
    }
    let destroyed: Vec<Address> = jobs
        .keys()
        .filter_map(|n| match n {
            NodeKind::Destroy(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    for a in destroyed {
        let me = NodeKind::Destroy(a.clone());
        for x in state_dependents.get(&a).into_iter().flatten() {
            let x_destroy = NodeKind::Destroy((*x).clone());
            let x_write = NodeKind::Resource((*x).clone());
            if jobs.contains_key(&x_destroy) {
                graph.add_edge(x_destroy, me.clone(), EdgeReason::Reference);
            } else if jobs.contains_key(&x_write)
                && !desired.depends_on(&x_write, &NodeKind::Resource(a.clone()))
            {
                graph.add_edge(x_write, me.clone(), EdgeReason::Reference);
            }
        }
    }
    (graph, jobs)
}

/// The outcome of every node with a step, and whether the walk was interrupted.
struct Walked {
    results: BTreeMap<NodeKind, (Status, Option<GenesysId>)>,
    interrupted: bool,
}

/// Walk the apply graph: at most `parallelism` API changes in flight; a
/// failed node skips its dependents, independent branches finish. No new
/// change starts once cancelled or once a state write failed.
async fn walk<P: Provider + 'static>(
    shared: &Arc<Shared<P>>,
    input: ApplyInput<'_>,
    context: &crate::refresh::Context,
    graph: &ResourceGraph,
    jobs: &BTreeMap<NodeKind, Step>,
    options: &ApplyOptions,
) -> Result<Walked, EngineError> {
    let parallelism = options.parallelism.max(1);
    let observer = shared.observer.as_ref();
    let sources = input.manifest.sources();
    let mut walk = Walk::new(graph);
    let mut results = BTreeMap::new();
    let mut running = tokio::task::JoinSet::new();
    let (mut interrupted, mut halted) = (false, false);
    loop {
        while running.len() < parallelism && !interrupted && !halted {
            if options.cancel.is_cancelled() {
                interrupted = true;
                break;
            }
            if lock(&shared.state_failure).is_some() {
                halted = true;
                break;
            }
            let Some(node) = walk.next_ready() else { break };
            let Some(step) = jobs.get(&node) else {
                // Data sources, caller grants and unchanged instances.
                walk.complete(&node, true);
                continue;
            };
            let job = match prepare_job(shared, input, context, &sources, &node, step) {
                Ok(job) => job,
                Err(e) => {
                    fail(&mut walk, &mut results, jobs, &node, e, observer);
                    continue;
                }
            };
            let v = verb(&job.op, job.phase);
            observer.event(&Event::Started {
                address: job.address.clone(),
                verb: v,
            });
            let shared = Arc::clone(shared);
            running.spawn(async move {
                let started = Instant::now();
                let result = run_job(shared, job).await;
                (node, v, started.elapsed(), result)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (node, v, elapsed, result) = joined.map_err(|e| EngineError::Usage {
            message: format!("an apply task failed: {e}"),
            hint: None,
        })?;
        match result {
            Ok(id) => {
                observer.event(&Event::Finished {
                    address: node.address().clone(),
                    verb: v,
                    id: id.clone(),
                    elapsed,
                });
                results.insert(node.clone(), (Status::Done, id));
                walk.complete(&node, true);
            }
            Err(e) => fail(&mut walk, &mut results, jobs, &node, e, observer),
        }
    }
    // Nodes never reached: interrupted, or waiting in a cycle.
    for node in jobs.keys() {
        results.entry(node.clone()).or_insert_with(|| {
            if interrupted || halted {
                (Status::NotStarted, None)
            } else {
                (
                    Status::Failed {
                        message: "waits on itself through a dependency cycle".into(),
                        hint: None,
                    },
                    None,
                )
            }
        });
    }
    Ok(Walked {
        results,
        interrupted,
    })
}

/// The job of a ready node: a create, update, replacement or adoption is
/// evaluated again now, with the ids recorded so far.
fn prepare_job<P: Provider>(
    shared: &Shared<P>,
    input: ApplyInput<'_>,
    context: &crate::refresh::Context,
    sources: &[gcrecon_core::manifest::Source],
    node: &NodeKind,
    step: &Step,
) -> Result<Job, NodeError> {
    let phase = match node {
        NodeKind::Destroy(_) => Phase::Destroy,
        _ => Phase::Write,
    };
    let address = step.address.clone();
    let evaluates = phase == Phase::Write
        && matches!(
            step.op,
            StepOp::Create | StepOp::Update | StepOp::Replace | StepOp::Record
        );
    let desired = if evaluates {
        Some(evaluate(shared, input, context, &address, sources)?)
    } else {
        None
    };
    Ok(Job {
        address,
        kind: step.kind,
        op: step.op.clone(),
        phase,
        live: step.live.clone(),
        desired,
        recover_secret: step.recover_secret,
    })
}

/// A node failed: record it, and skip (with an event each) the nodes with
/// a step that wait on it.
fn fail(
    walk: &mut Walk<'_>,
    results: &mut BTreeMap<NodeKind, (Status, Option<GenesysId>)>,
    jobs: &BTreeMap<NodeKind, Step>,
    node: &NodeKind,
    e: NodeError,
    observer: &dyn Observer,
) {
    let address = node.address().clone();
    observer.event(&Event::Failed {
        address: address.clone(),
        message: e.message.clone(),
    });
    results.insert(
        node.clone(),
        (
            Status::Failed {
                message: e.message,
                hint: e.hint,
            },
            None,
        ),
    );
    for skipped in walk.complete(node, false) {
        if !jobs.contains_key(&skipped) || results.contains_key(&skipped) {
            continue;
        }
        observer.event(&Event::Skipped {
            address: skipped.address().clone(),
            because: address.clone(),
        });
        results.insert(
            skipped,
            (
                Status::Skipped {
                    because: address.clone(),
                },
                None,
            ),
        );
    }
}

/// One outcome per planned change (a replacement's two nodes make one).
fn outcomes(
    plan: &gcrecon_core::plan::Plan,
    results: &BTreeMap<NodeKind, (Status, Option<GenesysId>)>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for rc in plan
        .resource_changes
        .iter()
        .filter(|c| c.is_change() || c.actions == [Action::Read])
    {
        let phases: Vec<(Status, Option<GenesysId>)> = [
            NodeKind::Destroy(rc.address.clone()),
            NodeKind::Resource(rc.address.clone()),
        ]
        .iter()
        .filter_map(|n| results.get(n).cloned())
        .collect();
        if phases.is_empty() {
            continue;
        }
        let status = phases
            .iter()
            .map(|(s, _)| s.clone())
            .find(|s| *s != Status::Done)
            .unwrap_or(Status::Done);
        let id = phases.iter().rev().find_map(|(_, id)| id.clone());
        outcomes.push(Outcome {
            address: rc.address.clone(),
            actions: rc.actions.clone(),
            status,
            id,
        });
    }
    outcomes
}

/// Remove the caller grants nothing needs any more: this walk's `auto`
/// grants and any an interrupted run left behind.
async fn remove_caller_grants<P: Provider>(
    shared: &Shared<P>,
    results: &BTreeMap<NodeKind, (Status, Option<GenesysId>)>,
    report: &mut ApplyReport,
) {
    // A grant of a role this walk deleted went away with the role.
    let deleted_roles: BTreeSet<GenesysId> = results
        .iter()
        .filter(|(node, (status, _))| {
            matches!(node, NodeKind::Destroy(a) if a.kind() == Some(Kind::Role))
                && *status == Status::Done
        })
        .filter_map(|(_, (_, id))| id.clone())
        .collect();
    if !deleted_roles.is_empty() {
        let gone = |r: &CallerGrantRecord| deleted_roles.contains(&r.role_id);
        if lock(&shared.store).state().caller_grants.iter().any(gone) {
            if let Err(e) = shared.write_state(|s| s.caller_grants.retain(|r| !gone(r))) {
                report.errors.push(format!(
                    "cannot record the caller grants of deleted roles as gone: {e}"
                ));
            }
        }
    }
    // A grant the caller no longer holds (its role is gone, or someone removed
    // it) needs no revoke.
    let held = shared.grants.lock().await.held.clone();
    let not_held = |r: &CallerGrantRecord| {
        !held.contains(&RoleDivision {
            role_id: r.role_id.clone(),
            division_id: r.division_id.clone(),
        })
    };
    if lock(&shared.store)
        .state()
        .caller_grants
        .iter()
        .any(not_held)
    {
        if let Err(e) = shared.write_state(|s| s.caller_grants.retain(|r| !not_held(r))) {
            report
                .errors
                .push(format!("cannot record the caller grants as gone: {e}"));
        }
    }
    let leftovers: Vec<CallerGrantRecord> = lock(&shared.store).state().caller_grants.clone();
    if leftovers.is_empty() {
        return;
    }
    let grants: Vec<RoleDivision> = leftovers
        .iter()
        .map(|r| RoleDivision {
            role_id: r.role_id.clone(),
            division_id: r.division_id.clone(),
        })
        .collect();
    if let Err(e) = shared.write_state(|s| {
        for r in &mut s.caller_grants {
            r.status = CallerGrantStatus::Revoking;
        }
    }) {
        report.errors.push(format!(
            "cannot record the removal of the caller grants: {e}"
        ));
        return;
    }
    match shared.provider.revoke_from_caller(&grants).await {
        Ok(()) => {
            for r in &leftovers {
                shared.observer.event(&Event::CallerGrant {
                    role: r.role.clone(),
                    divisions: vec![r.division_id.to_string()],
                    granted: false,
                });
            }
            if let Err(e) = shared.write_state(|s| s.caller_grants.clear()) {
                report.errors.push(format!(
                    "the caller grants were removed but the state could not be written: {e}"
                ));
            }
            report.caller_grants_revoked = grants;
        }
        Err(e) => report.errors.push(format!(
            "cannot remove the roles granted to the caller for this apply ({}): {e}; the next apply tries again",
            leftovers
                .iter()
                .map(|r| r.role.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The outputs to record: none for `--destroy`, unchanged (`None`) for
/// `--refresh-only` and `--target`, else the manifest's outputs evaluated
/// against the state.
fn output_states<P: Provider>(
    shared: &Shared<P>,
    input: ApplyInput<'_>,
    context: &crate::refresh::Context,
    plan_options: &PlanOptions,
    report: &mut ApplyReport,
) -> Option<BTreeMap<String, OutputState>> {
    if plan_options.destroy {
        return Some(BTreeMap::new());
    }
    if plan_options.refresh_only || !plan_options.targets.is_empty() {
        return None;
    }
    let state_now = lock(&shared.store).state().clone();
    let resolver = |a: &Address, attr: &str| -> Option<Value> {
        if attr == "secret" {
            return state_now
                .resource(a)
                .map(|_| Value::from(SENSITIVE_PLACEHOLDER));
        }
        state_value(&state_now, a, attr)
    };
    let ctx =
        EvalContext::new(input.variables, &context.data, &resolver).with_emails(&context.emails);
    match input.manifest.outputs(&ctx) {
        Ok(values) => Some(
            values
                .into_iter()
                .map(|o| {
                    let value = (!o.sensitive && o.value.is_known()).then_some(o.value);
                    (
                        o.name,
                        OutputState {
                            value,
                            sensitive: o.sensitive,
                            description: o.description,
                        },
                    )
                })
                .collect(),
        ),
        Err(d) => {
            report.errors.push(format!(
                "cannot record the outputs: {}",
                d.render(&input.manifest.sources(), false)
            ));
            None
        }
    }
}

/// What the state records after the walk, besides the resources.
struct Finish<'a> {
    input: ApplyInput<'a>,
    context: &'a crate::refresh::Context,
    options: &'a PlanOptions,
    desired: &'a VecMap<Address, Box<DesiredInstance>>,
    outputs: Option<BTreeMap<String, OutputState>>,
    /// Every change was made: the state now matches this manifest.
    all_done: bool,
}

/// Record the manifest, the organization, the data sources and the
/// outputs (one write, when anything differs).
fn record_manifest(
    mut store: StateStore,
    finish: &Finish<'_>,
    report: &mut ApplyReport,
) -> StateStore {
    let Finish {
        input,
        context,
        options,
        desired,
        ..
    } = finish;
    let mut next = store.state().clone();
    next.manifest_name = input.name.to_owned();
    if finish.all_done && !options.destroy {
        next.manifest_sha256 = input.manifest_sha256.to_owned();
    }
    next.org_id = Some(context.org.id.clone());
    if !options.destroy && !options.refresh_only {
        next.data = context.data.clone();
    } else if options.destroy {
        next.data.clear();
    }
    if let Some(outputs) = &finish.outputs {
        next.outputs.clone_from(outputs);
    }
    for inst in desired.values() {
        if let Some(r) = next.resource_mut(&inst.address) {
            r.dependencies.clone_from(&inst.depends_on);
            r.prevent_destroy = inst.prevent_destroy;
            r.sensitive_keys.clone_from(&inst.sensitive_keys);
        }
    }
    let current = store.state().clone();
    next.serial = current.serial;
    if next != current || !store.is_on_disk() || store.has_staged() {
        if let Err(e) = store.write(|s| *s = next) {
            if report.state_failure.is_none() {
                report.state_failure = Some(format!("{e}{}", source_text(&e)));
            }
            report.errors.push(format!(
                "cannot record the manifest, data sources and outputs in the state: {e}{}",
                source_text(&e)
            ));
        }
    }
    report.serial = store.state().serial;
    store
}

/// Evaluate an instance with the ids recorded so far; every value must be known.
fn evaluate<P: Provider>(
    shared: &Shared<P>,
    input: ApplyInput<'_>,
    context: &crate::refresh::Context,
    address: &Address,
    sources: &[gcrecon_core::manifest::Source],
) -> Result<DesiredInstance, NodeError> {
    // Each value looked up under the lock, not a copy of the whole state per
    // instance (which made an apply of N creates copy N² resources).
    let resolver = |a: &Address, attr: &str| state_value(lock(&shared.store).state(), a, attr);
    let ctx =
        EvalContext::new(input.variables, &context.data, &resolver).with_emails(&context.emails);
    let inst = input.manifest.eval_instance(address, &ctx).map_err(|d| {
        NodeError::new(format!(
            "cannot evaluate {address}:\n{}",
            d.render(sources, false)
        ))
    })?;
    let unknown: Vec<&str> = inst
        .attrs
        .iter()
        .filter(|(_, v)| !v.is_known())
        .map(|(k, _)| k.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(NodeError::new(format!(
            "{address}: {} still unknown after everything it depends on was applied",
            unknown.join(", ")
        )));
    }
    Ok(inst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcrecon_core::graph::WalkOutcome;

    fn addr(s: &str) -> Address {
        s.parse().expect("an address")
    }

    fn step(address: &str, op: StepOp) -> Step {
        let address = addr(address);
        Step {
            kind: address.kind().expect("a resource address"),
            address,
            op,
            live: None,
            recover_secret: false,
        }
    }

    fn state(records: &[(&str, &[&str])]) -> State {
        let mut s = State::new("lineage", "test");
        for (address, deps) in records {
            let address = addr(address);
            s.upsert_resource(ResourceState {
                kind: address.kind().expect("a resource address"),
                id: GenesysId::from(address.name.as_str()),
                name: address.name.to_string(),
                address,
                applied: Attrs::new(),
                read: None,
                version: String::new(),
                dependencies: deps.iter().map(|d| addr(d)).collect(),
                prevent_destroy: false,
                sensitive_keys: Vec::new(),
            });
        }
        s
    }

    /// The nodes with a step, in the order a one-at-a-time walk runs them.
    fn order(graph: &ResourceGraph, jobs: &BTreeMap<NodeKind, Step>) -> Vec<String> {
        let mut walk = Walk::new(graph);
        let mut order = Vec::new();
        while let Some(node) = walk.next_ready() {
            walk.complete(&node, true);
            if jobs.contains_key(&node) {
                order.push(node.to_string());
            }
        }
        assert!(walk.unreached().is_empty(), "{:?}", walk.unreached());
        order
    }

    #[test]
    fn resources_left_in_the_state_are_deleted_after_their_dependents() {
        let state = state(&[
            ("role.r", &[]),
            ("oauth_client.c", &["role.r"]),
            ("role_grant.g", &["role.r", "group.x"]),
            ("group.x", &[]),
        ]);
        let steps = [
            step("role.r", StepOp::Delete),
            step("oauth_client.c", StepOp::Delete),
            step("role_grant.g", StepOp::Forget),
            step("group.x", StepOp::Delete),
        ];
        let (graph, jobs) = apply_graph(ResourceGraph::new(), &steps, &state);
        let order = order(&graph, &jobs);
        let pos = |n: &str| order.iter().position(|x| x == n).expect(n);
        assert_eq!(order.len(), 4);
        assert!(pos("destroy(oauth_client.c)") < pos("destroy(role.r)"));
        assert!(pos("destroy(role_grant.g)") < pos("destroy(role.r)"));
        assert!(pos("destroy(role_grant.g)") < pos("destroy(group.x)"));
        // A failed delete keeps what its dependents still need.
        let mut walk = Walk::new(&graph);
        let mut failed = Vec::new();
        while let Some(node) = walk.next_ready() {
            if node == NodeKind::Destroy(addr("oauth_client.c")) {
                failed = walk.complete(&node, false);
            } else {
                walk.complete(&node, true);
            }
        }
        assert_eq!(failed, vec![NodeKind::Destroy(addr("role.r"))]);
        assert_eq!(
            walk.outcome(&NodeKind::Destroy(addr("group.x"))),
            Some(&WalkOutcome::Done)
        );
    }

    #[test]
    fn a_replacement_deletes_first_and_a_dropped_reference_goes_before_the_delete() {
        // group.g referenced role.old and now references role.new; role.r
        // is replaced, and oauth_client.c still references it.
        let mut desired = ResourceGraph::new();
        desired.add_edge(
            NodeKind::Resource(addr("role.new")),
            NodeKind::Resource(addr("group.g")),
            EdgeReason::Reference,
        );
        desired.add_edge(
            NodeKind::Resource(addr("role.r")),
            NodeKind::Resource(addr("oauth_client.c")),
            EdgeReason::Reference,
        );
        let state = state(&[
            ("role.old", &[]),
            ("group.g", &["role.old"]),
            ("role.r", &[]),
            ("oauth_client.c", &["role.r"]),
        ]);
        let steps = [
            step("role.old", StepOp::Delete),
            step("group.g", StepOp::Update),
            step("role.new", StepOp::Create),
            step("role.r", StepOp::Replace),
            step("oauth_client.c", StepOp::Update),
        ];
        let (graph, jobs) = apply_graph(desired, &steps, &state);
        let order = order(&graph, &jobs);
        let pos = |n: &str| order.iter().position(|x| x == n).expect(n);
        assert_eq!(order.len(), 6, "{order:?}");
        assert!(pos("role.new") < pos("group.g"));
        assert!(pos("group.g") < pos("destroy(role.old)"));
        assert!(pos("destroy(role.r)") < pos("role.r"));
        assert!(pos("role.r") < pos("oauth_client.c"));
        assert!(graph.edges().contains(&(
            NodeKind::Destroy(addr("role.r")),
            NodeKind::Resource(addr("role.r")),
            EdgeReason::Replace
        )));
        // The client still needs role.r: its update does not go before the
        // old role's delete (which would make a cycle), it follows the new role.
        assert!(!graph.depends_on(
            &NodeKind::Destroy(addr("role.r")),
            &NodeKind::Resource(addr("oauth_client.c"))
        ));
    }

    use crate::apply::{apply, ApplyInput, ApplyOptions, Status};

    use crate::events::{Cancel, Recorder, Silent};

    use crate::planner::PlanOptions;

    use crate::secrets::SecretsFile;

    use crate::testkit::*;

    use gcrecon_core::plan::Action;
    use gcrecon_core::provider::CallerKind;
    use gcrecon_core::state::{PendingKind, State};
    use gcrecon_core::value::Value;
    use gcrecon_core::{Address, Kind};
    use std::collections::BTreeMap;

    use std::sync::Arc;

    #[tokio::test]
    async fn create_update_delete_cycle() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        let p = h.plan(&m).await;
        assert_eq!(
            p.plan.summary().to_string(),
            "Plan: 3 to add, 0 to change, 0 to destroy."
        );
        let outputs: Vec<_> = p
            .plan
            .output_changes
            .iter()
            .map(|o| (o.name.clone(), o.actions.clone()))
            .collect();
        assert_eq!(outputs, [("reader_id".to_owned(), vec![Action::Create])]);
        h.converge(&m).await;
        assert_eq!(h.provider.objects_of(Kind::Role).len(), 1);
        let state = h.state();
        assert_eq!(state.resources.len(), 3);
        assert!(state.pending.is_empty());
        assert_eq!(state.org_id.as_deref(), Some("org-fake"));
        let role_id = state
            .resource(&"role.reader".parse().unwrap())
            .unwrap()
            .id
            .clone();
        assert_eq!(
            state.outputs["reader_id"].value,
            Some(Value::from(role_id.as_str()))
        );
        h.assert_clean(&m).await;

        // Change one key: only that object is updated.
        let m2 = load_manifest(
            &BASIC.replace("description = \"operators\"", "description = \"on call\""),
        );
        let p = h.plan(&m2).await;
        let changed: Vec<_> = p
            .plan
            .resource_changes
            .iter()
            .filter(|c| c.is_change())
            .collect();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].address.to_string(), "group.ops");
        assert_eq!(changed[0].actions, [Action::Update]);
        assert_eq!(changed[0].changed_keys, ["description"]);
        h.converge(&m2).await;
        assert_eq!(
            h.provider.objects_of(Kind::Group)[0].attrs["description"],
            Value::from("on call")
        );
        h.assert_clean(&m2).await;

        // Remove a block: it is deleted.
        let m3 = load_manifest(&m2_without_group(
            &BASIC.replace("description = \"operators\"", "description = \"on call\""),
        ));
        let p = h.plan(&m3).await;
        assert_eq!(actions_of(&p)["group.ops"], [Action::Delete]);
        h.converge(&m3).await;
        assert!(h.provider.objects_of(Kind::Group).is_empty());
        assert!(h.state().resource(&"group.ops".parse().unwrap()).is_none());
        h.assert_clean(&m3).await;
    }

    #[tokio::test]
    async fn objects_adopted_as_they_are_are_saved_in_one_write() {
        let h = Harness::new(CallerKind::User);
        let text: String = std::iter::once("[gcrecon]\nversion = 1\nname = \"t\"\n".to_owned())
            .chain((0..20).map(|i| format!("[group.g{i}]\nname = \"G{i}\"\nadopt = true\n")))
            .collect();
        let m = load_manifest(&text);
        h.converge(&m).await;
        // Each create writes its intent, then its record; one write to finish.
        assert_eq!(h.state().serial, 41);
        // The same objects, unknown to a new state: adopted without a change.
        std::fs::remove_file(&h.state_path).unwrap();
        let p = h.plan(&m).await;
        assert!(
            p.steps.iter().all(|s| s.op == StepOp::Record),
            "{:?}",
            p.steps
        );
        h.converge(&m).await;
        let state = h.state();
        assert_eq!(
            state.serial, 1,
            "the adoptions are written once, at the end"
        );
        assert_eq!(state.resources.len(), 20);
        assert_eq!(h.provider.objects_of(Kind::Group).len(), 20);
        h.assert_clean(&m).await;
    }

    #[tokio::test]
    async fn a_create_whose_answer_was_lost_is_adopted_not_duplicated() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(BASIC);
        h.provider
            .with(|o| o.lose_create_answer.insert("Reader".into()));
        let p = h.plan(&m).await;
        let report = h.apply_planned(&m, p).await;
        assert!(!report.succeeded());
        let state = h.state();
        assert!(state
            .pending
            .iter()
            .any(|p| p.operation == PendingKind::Create && p.name == "Reader"));
        assert!(state.resource(&"role.reader".parse().unwrap()).is_none());
        let p = h.plan(&m).await;
        let role = p
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == "role.reader")
            .unwrap();
        assert!(
            role.note.as_deref().unwrap().contains("interrupted"),
            "{role:?}"
        );
        h.converge(&m).await;
        assert_eq!(h.provider.objects_of(Kind::Role).len(), 1);
        assert!(h.state().pending.is_empty());
        h.assert_clean(&m).await;
    }

    #[tokio::test]
    async fn a_client_created_by_an_interrupted_apply_gets_a_new_secret() {
        let h = Harness::new(CallerKind::Client);
        let m = load_manifest(CLIENT);
        h.provider
            .with(|o| o.lose_create_answer.insert("API".into()));
        let p = h.plan(&m).await;
        assert!(!h.apply_planned(&m, p).await.succeeded());
        let secrets = SecretsFile::new(&h.secrets_path);
        let address: Address = "oauth_client.api".parse().unwrap();
        assert!(
            secrets.secret(&address).unwrap().is_none(),
            "the first secret was lost"
        );
        let p = h.plan(&m).await;
        let c = p
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address == address)
            .unwrap();
        assert!(c.note.as_deref().unwrap().contains("new secret"), "{c:?}");
        h.apply_planned(&m, p).await;
        let clients = h.provider.objects_of(Kind::OauthClient);
        assert_eq!(clients.len(), 1, "adopted, not duplicated");
        let latest = h.provider.with(|o| o.secrets.last().cloned().unwrap());
        assert!(latest.starts_with("rotated-"), "{latest}");
        assert_eq!(secrets.secret(&address).unwrap().unwrap().expose(), latest);
        assert_eq!(
            secrets.client_id(&address).unwrap().as_deref(),
            Some(clients[0].id.as_str())
        );
        h.assert_clean(&m).await;
    }

    #[tokio::test]
    async fn secrets_go_to_the_secrets_file_only() {
        let h = Harness::new(CallerKind::Client);
        let m = load_manifest(CLIENT);
        let p = h.plan(&m).await;
        let plan_json = serde_json::to_string(&p.plan).unwrap();
        let report = h.converge(&m).await;
        let _ = p;
        assert_eq!(report.secrets_written.len(), 1);
        let secret = h.provider.with(|o| o.secrets[0].clone());
        let state_text = std::fs::read_to_string(&h.state_path).unwrap();
        assert!(!state_text.contains(&secret));
        assert!(!plan_json.contains(&secret));
        let secrets: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&h.secrets_path).unwrap()).unwrap();
        assert_eq!(
            secrets["oauth_client.api"]["client_secret"],
            secret.as_str()
        );
        let state = h.state();
        assert!(state.outputs["secret"].sensitive);
        assert!(state.outputs["secret"].value.is_none());
        assert!(state.outputs["client_id"].value.is_some());
    }

    #[tokio::test]
    async fn a_failure_skips_dependents_and_independent_branches_finish() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(&format!("{CLIENT}\n[group.ops]\nname = \"Ops\"\n"));
        h.provider.with(|o| o.fail_create.insert("Reader".into()));
        let p = h.plan(&m).await;
        let report = h.apply_planned(&m, p).await;
        let status: BTreeMap<String, Status> = report
            .outcomes
            .iter()
            .map(|o| (o.address.to_string(), o.status.clone()))
            .collect();
        assert!(
            matches!(status["role.reader"], Status::Failed { .. }),
            "{status:?}"
        );
        assert_eq!(
            status["oauth_client.api"],
            Status::Skipped {
                because: "role.reader".parse().unwrap()
            }
        );
        assert_eq!(status["group.ops"], Status::Done);
        assert!(
            h.state().pending.is_empty(),
            "a refused create leaves no pending entry"
        );
        h.provider.with(|o| o.fail_create.clear());
        h.converge(&m).await;
        h.assert_clean(&m).await;
    }

    #[tokio::test]
    async fn a_metadata_only_change_is_recorded_without_api_calls() {
        let h = Harness::new(CallerKind::User);
        h.converge(&load_manifest(BASIC)).await;
        let protected =
            load_manifest(&BASIC.replace("[group.ops]\n", "[group.ops]\nprevent_destroy = true\n"));
        let p = h.plan(&protected).await;
        assert!(!p.has_changes(), "no change to show or count");
        assert!(
            p.needs_apply(),
            "but the state must learn about prevent_destroy"
        );
        let calls = h.provider.call_counts();
        h.apply_planned(&protected, p).await;
        let writes: u64 = h
            .provider
            .call_counts()
            .iter()
            .filter(|(k, _)| !k.starts_with("GET"))
            .map(|(k, v)| v - calls.get(k).copied().unwrap_or(0))
            .sum();
        assert_eq!(writes, 0);
        assert!(
            h.state()
                .resource(&"group.ops".parse().unwrap())
                .unwrap()
                .prevent_destroy
        );
        assert!(!h.plan(&protected).await.needs_apply());
    }

    #[tokio::test]
    async fn role_grants_own_only_their_pairs() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(GRANT);
        h.converge(&m).await;
        h.assert_clean(&m).await;
        let fewer = load_manifest(&GRANT.replace(", \"user-2\"", ""));
        let p = h.plan(&fewer).await;
        let g = p
            .plan
            .resource_changes
            .iter()
            .find(|c| c.address.to_string() == "role_grant.readers")
            .unwrap();
        assert_eq!(g.actions, [Action::Update]);
        assert_eq!(g.changed_keys, ["subjects"]);
        h.converge(&fewer).await;
        h.assert_clean(&fewer).await;
        let role = h.provider.objects_of(Kind::Role)[0].id.clone();
        let grants = h
            .provider
            .with(|o| o.objects[&(Kind::RoleGrant, role.clone())].attrs["grants"].clone());
        assert_eq!(grants.as_list().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn destroy_deletes_everything_in_reverse_order() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(CLIENT);
        h.converge(&m).await;
        let p = h
            .plan_with(
                &m,
                PlanOptions {
                    destroy: true,
                    ..PlanOptions::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            p.plan.summary().to_string(),
            "Plan: 0 to add, 0 to change, 2 to destroy."
        );
        let recorder = Arc::new(Recorder::default());
        let (report, store) = apply(
            Arc::clone(&h.provider),
            ApplyInput {
                manifest: &m.manifest,
                variables: &m.variables,
                name: "t",
                manifest_sha256: &m.sha,
            },
            h.store(),
            p,
            ApplyOptions {
                parallelism: 10,
                secrets: SecretsFile::new(&h.secrets_path),
                cancel: Cancel::new(),
            },
            recorder.clone(),
        )
        .await
        .unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert!(store.state().resources.is_empty());
        assert!(store.state().outputs.is_empty());
        let order: Vec<String> = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                crate::events::Event::Finished { address, .. } => Some(address.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            order,
            ["oauth_client.api", "role.reader"],
            "the client goes before its role"
        );
        assert!(h.provider.objects_of(Kind::Role).is_empty());
    }

    #[tokio::test]
    async fn a_state_that_cannot_be_written_stops_the_walk_before_the_next_change() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(&format!("{CLIENT}\n[group.ops]\nname = \"Ops\"\n"));
        let p = h.plan(&m).await;
        let store = h.store();
        // A directory where the state file goes: every write's rename fails.
        std::fs::create_dir_all(&h.state_path).unwrap();
        let (report, _) = apply(
            Arc::clone(&h.provider),
            ApplyInput {
                manifest: &m.manifest,
                variables: &m.variables,
                name: "t",
                manifest_sha256: &m.sha,
            },
            store,
            p,
            ApplyOptions {
                parallelism: 1,
                secrets: SecretsFile::new(&h.secrets_path),
                cancel: Cancel::new(),
            },
            Arc::new(Silent),
        )
        .await
        .expect("the walk reports a failed write, it does not end in an error");
        assert!(!report.succeeded());
        let failure = report.state_failure.as_deref().unwrap_or_default();
        assert!(failure.contains("t.gcstate.json"), "{failure}");
        assert!(
            report
                .outcomes
                .iter()
                .any(|o| o.status == Status::NotStarted),
            "no change after the first failed write: {report:#?}"
        );
        let names = |kind| -> Vec<String> {
            h.provider
                .objects_of(kind)
                .into_iter()
                .map(|o| o.name)
                .collect()
        };
        for (kind, name) in [
            (Kind::Group, "Ops"),
            (Kind::Role, "Reader"),
            (Kind::OauthClient, "API"),
        ] {
            assert!(
                !names(kind).iter().any(|n| n == name),
                "{name} was created although its create could not be announced in the state"
            );
        }
    }

    #[tokio::test]
    async fn a_damaged_secrets_file_stops_apply_before_any_change() {
        let h = Harness::new(CallerKind::User);
        let m = load_manifest(CLIENT);
        let p = h.plan(&m).await;
        std::fs::create_dir_all(h.secrets_path.parent().unwrap()).unwrap();
        std::fs::write(&h.secrets_path, b"{\"oauth_client.api\": 5}").unwrap();
        let result = apply(
            Arc::clone(&h.provider),
            ApplyInput {
                manifest: &m.manifest,
                variables: &m.variables,
                name: "t",
                manifest_sha256: &m.sha,
            },
            h.store(),
            p,
            ApplyOptions {
                parallelism: 4,
                secrets: SecretsFile::new(&h.secrets_path),
                cancel: Cancel::new(),
            },
            Arc::new(Silent),
        )
        .await;
        let err = result.expect_err("a damaged secrets file is refused");
        assert!(err.to_string().contains("t.secrets.json"), "{err}");
        for (kind, name) in [(Kind::Role, "Reader"), (Kind::OauthClient, "API")] {
            assert!(
                h.provider.objects_of(kind).iter().all(|o| o.name != name),
                "{name} was created before the secrets file was checked"
            );
        }
        assert_eq!(
            std::fs::read(&h.secrets_path).unwrap(),
            b"{\"oauth_client.api\": 5}",
            "the file is left as it was"
        );
    }

    mod schema {
        //! Real state files against `state/schema.json`, with a validator for
        //! the subset of JSON Schema the file uses (type, const, enum, required,
        //! properties, additionalProperties, items, $ref; patterns are not checked).

        use super::*;
        use gcrecon_core::state::{CallerGrantRecord, CallerGrantStatus, PendingOperation};
        use serde_json::Value as Json;

        fn resolve<'a>(root: &'a Json, schema: &'a Json) -> &'a Json {
            match schema.get("$ref").and_then(Json::as_str) {
                Some(r) => {
                    let name = r.strip_prefix("#/$defs/").expect("only local $refs");
                    resolve(root, &root["$defs"][name])
                }
                None => schema,
            }
        }

        fn type_matches(ty: &str, value: &Json) -> bool {
            match ty {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "integer" => value.is_u64() || value.is_i64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                other => panic!("unsupported type {other}"),
            }
        }

        fn validate(
            root: &Json,
            schema: &Json,
            value: &Json,
            path: &str,
            errors: &mut Vec<String>,
        ) {
            let schema = resolve(root, schema);
            if let Some(t) = schema.get("type") {
                let ok = match t {
                    Json::String(t) => type_matches(t, value),
                    Json::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap(), value)),
                    _ => true,
                };
                if !ok {
                    errors.push(format!("{path}: {value} is not of type {t}"));
                    return;
                }
            }
            if let Some(c) = schema.get("const") {
                if c != value {
                    errors.push(format!("{path}: {value} is not {c}"));
                }
            }
            if let Some(e) = schema.get("enum").and_then(Json::as_array) {
                if !e.contains(value) {
                    errors.push(format!("{path}: {value} is not one of {e:?}"));
                }
            }
            if let Some(obj) = value.as_object() {
                for r in schema
                    .get("required")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !obj.contains_key(r.as_str().unwrap()) {
                        errors.push(format!("{path}: missing {r}"));
                    }
                }
                let props = schema.get("properties").and_then(Json::as_object);
                for (k, v) in obj {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => validate(root, s, v, &format!("{path}.{k}"), errors),
                        None => match schema.get("additionalProperties") {
                            Some(Json::Bool(false)) => {
                                errors.push(format!("{path}: unexpected key {k}"));
                            }
                            Some(s @ Json::Object(_)) => {
                                validate(root, s, v, &format!("{path}.{k}"), errors);
                            }
                            _ => {}
                        },
                    }
                }
            }
            if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
                for (i, v) in arr.iter().enumerate() {
                    validate(root, items, v, &format!("{path}[{i}]"), errors);
                }
            }
        }

        #[tokio::test]
        async fn state_files_match_the_published_schema() {
            let schema_path =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../state/schema.json");
            let schema: Json =
                serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
            let h = Harness::new(CallerKind::Client);
            let m = load_manifest(&format!(
            "{CLIENT}\n[data.user.ada]\nemail = \"ada@example.com\"\n\n[role_grant.readers]\nrole = \"${{role.reader.id}}\"\nsubjects = [\"${{data.user.ada.id}}\"]\n"
        ));
            h.converge(&m).await;
            // Fill the sections a clean apply leaves empty.
            let mut store = h.store();
            store
                .write(|s| {
                    s.pending.push(PendingOperation {
                        address: "group.g".parse().unwrap(),
                        kind: Kind::Group,
                        operation: PendingKind::Create,
                        name: "G".into(),
                        id: None,
                        started: crate::lock::now_rfc3339(),
                    });
                    s.caller_grants.push(CallerGrantRecord {
                        role: "role.reader".parse().unwrap(),
                        role_id: "r".into(),
                        division_id: "*".into(),
                        caller_id: "client-ci".into(),
                        status: CallerGrantStatus::Held,
                    });
                })
                .unwrap();
            let state: Json =
                serde_json::from_str(&std::fs::read_to_string(&h.state_path).unwrap()).unwrap();
            for section in ["resources", "pending", "caller_grants", "data", "outputs"] {
                assert!(!state[section].is_null(), "the sample has {section}");
            }
            let mut errors = Vec::new();
            validate(&schema, &schema, &state, "$", &mut errors);
            assert!(errors.is_empty(), "{errors:#?}");
            // Every kind is a kind of the schema, in its enum and in its
            // address pattern (which the validator above does not check).
            let kinds: Vec<&str> = schema["$defs"]["kind"]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Json::as_str)
                .collect();
            let pattern = schema["$defs"]["address"]["pattern"].as_str().unwrap();
            for kind in Kind::ALL {
                assert!(
                    kinds.contains(&kind.as_str()),
                    "{kind} is not in the schema's kinds"
                );
                assert!(
                    pattern.contains(&format!("|{kind}|"))
                        || pattern.contains(&format!("({kind}|"))
                        || pattern.contains(&format!("|{kind})")),
                    "{kind} is not in the schema's address pattern"
                );
            }
            assert_eq!(
                kinds.len(),
                Kind::ALL.len(),
                "the schema's kinds: {kinds:?}"
            );
            // The validator does catch a stray key.
            let mut bad = state.clone();
            bad["resources"][0]["secret"] = Json::from("x");
            let mut errors = Vec::new();
            validate(&schema, &schema, &bad, "$", &mut errors);
            assert_eq!(errors.len(), 1, "{errors:?}");
        }
    }
}
