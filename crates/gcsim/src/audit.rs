//! The audit log: one `AuditLogMessage` per change gcsim applies, through
//! the API or through `/_sim/mutate`, and the two audit queries
//! (`POST /api/v2/audits/query/realtime`,
//! `GET /api/v2/audits/query/servicemapping`).
//!
//! Messages are written in one place: after each request (and each
//! `/_sim/mutate` op), [`Org::record_changes`] drains the journals of the
//! org's tables ([`crate::model::Table::take_journal`]) and of its grants,
//! compares each touched object's value before with its value now, and
//! appends a `Create`, `Update` or `Delete` (`Add` or `Remove` for role
//! grants) with the properties that differ. Handlers know nothing of it.
//! Secrets (client secrets, credential fields) are never recorded.

use crate::api::{ok, Call, Reply};
use crate::error::{ApiError, ApiResult};
use crate::model::{
    Division, Group, Integration, Named, OAuthClient, Org, Queue, Role, SubjectType, Table, User,
};
use crate::wire::{iso, new_id};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

/// The services gcsim records, with the entity types and actions of each.
/// The names are gcsim's own: clients must read them from the service
/// mapping.
pub const SERVICES: &[(&str, &[EntityActions])] = &[
    (
        "PeoplePermissions",
        &[
            ("Role", CRUD),
            ("Division", CRUD),
            ("RoleGrant", &["Add", "Remove"]),
        ],
    ),
    ("Directory", &[("Group", CRUD), ("User", CRUD)]),
    ("OAuth", &[("OAuthClient", CRUD)]),
    ("Integrations", &[("Integration", CRUD)]),
    ("Routing", &[("Queue", CRUD)]),
];

const CRUD: &[&str] = &["Create", "Update", "Delete"];

/// An entity type and the actions recorded for it.
pub type EntityActions = (&'static str, &'static [&'static str]);

/// The realtime query looks back at most this far.
pub const MAX_INTERVAL: Duration = Duration::from_secs(14 * 86_400);

/// The largest `pageSize` of the realtime query.
pub const MAX_PAGE_SIZE: usize = 500;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user, and the OAuth client its token came from.
    User {
        /// User id.
        id: String,
        /// Client id of the token, if any.
        client_id: Option<String>,
    },
    /// An OAuth client acting as itself (client credentials).
    Client(String),
}

/// One property's values before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChange {
    /// Wire name of the property.
    pub property: String,
    /// Values before.
    pub old: Vec<String>,
    /// Values after.
    pub new: Vec<String>,
}

/// One audit message.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    id: String,
    user: Option<(String, String)>,
    client_id: Option<String>,
    service: &'static str,
    at: SystemTime,
    action: &'static str,
    entity_id: String,
    entity_name: String,
    entity_type: &'static str,
    changes: Vec<PropertyChange>,
}

/// A grant added or removed since the last [`Org::record_changes`].
#[derive(Debug, Clone)]
pub struct GrantChange {
    /// Subject id.
    pub subject: String,
    /// Subject kind.
    pub subject_type: SubjectType,
    /// Role id.
    pub role_id: String,
    /// Division id or `*`.
    pub division_id: String,
    /// Added (true) or removed.
    pub added: bool,
}

/// The org's audit log.
#[derive(Debug, Default)]
pub struct AuditLog {
    records: Vec<AuditRecord>,
    /// Grants changed since the last [`Org::record_changes`].
    pub grant_journal: Vec<GrantChange>,
    /// Who `/_sim/mutate` acts as when an op names no actor.
    pub default_actor: Option<Actor>,
}

impl AuditLog {
    /// Number of messages.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// An object type the audit log records: its entity type and the
/// properties compared between before and after.
trait Audited: Named {
    const ENTITY_TYPE: &'static str;
    fn properties(&self, org: &Org) -> BTreeMap<String, Vec<String>>;
    /// Changes not visible as property values (a regenerated secret).
    fn hidden_changes(_old: &Self, _new: &Self) -> Vec<PropertyChange> {
        Vec::new()
    }
}

fn text(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec![],
        Value::String(s) => vec![s.clone()],
        Value::Array(a) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        other => vec![other.to_string()],
    }
}

fn doc_props(doc: &Map<String, Value>, out: &mut BTreeMap<String, Vec<String>>) {
    for (k, v) in doc {
        out.insert(k.clone(), text(v));
    }
}

fn opt(v: &Option<String>) -> Vec<String> {
    v.iter().cloned().collect()
}

fn props<const N: usize>(pairs: [(&str, Vec<String>); N]) -> BTreeMap<String, Vec<String>> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl Audited for Division {
    const ENTITY_TYPE: &'static str = "Division";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        props([
            ("name", vec![self.name.clone()]),
            ("description", opt(&self.description)),
        ])
    }
}

impl Audited for Role {
    const ENTITY_TYPE: &'static str = "Role";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        props([
            ("name", vec![self.name.clone()]),
            ("description", opt(&self.description)),
            ("permissions", self.permissions.clone()),
            // Domain permissions live in the policies: one value per
            // `domain:entity:action`.
            ("permissionPolicies", self.policy_strings()),
        ])
    }
}

impl Audited for User {
    const ENTITY_TYPE: &'static str = "User";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        let mut p = props([
            ("name", vec![self.name.clone()]),
            ("email", vec![self.email.clone()]),
            ("divisionId", vec![self.division_id.clone()]),
            ("state", vec![self.state.clone()]),
        ]);
        doc_props(&self.doc, &mut p);
        p
    }
}

impl Audited for Group {
    const ENTITY_TYPE: &'static str = "Group";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        let mut p = props([
            ("name", vec![self.name.clone()]),
            ("owners", self.owner_ids.clone()),
            ("members", self.members.iter().cloned().collect()),
        ]);
        doc_props(&self.doc, &mut p);
        p
    }
}

impl Audited for OAuthClient {
    const ENTITY_TYPE: &'static str = "OAuthClient";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        let mut p = props([("name", vec![self.name.clone()])]);
        doc_props(&self.doc, &mut p);
        p
    }
    fn hidden_changes(old: &Self, new: &Self) -> Vec<PropertyChange> {
        if old.secret == new.secret {
            return Vec::new();
        }
        vec![PropertyChange {
            property: "secret".into(),
            old: vec![],
            new: vec!["(regenerated)".into()],
        }]
    }
}

impl Audited for Integration {
    const ENTITY_TYPE: &'static str = "Integration";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        let mut p = props([
            ("name", vec![self.name.clone()]),
            ("intendedState", vec![self.intended_state.clone()]),
            ("integrationType", vec![self.type_id.clone()]),
            ("notes", opt(&self.config.notes)),
            ("advanced", text(&self.config.advanced)),
        ]);
        for (k, v) in &self.config.properties {
            p.insert(format!("properties.{k}"), text(v));
        }
        p
    }
}

impl Audited for Queue {
    const ENTITY_TYPE: &'static str = "Queue";
    fn properties(&self, _: &Org) -> BTreeMap<String, Vec<String>> {
        let mut p = props([
            ("name", vec![self.name.clone()]),
            ("divisionId", vec![self.division_id.clone()]),
        ]);
        doc_props(&self.doc, &mut p);
        p
    }
}

fn service_of(entity_type: &str) -> &'static str {
    SERVICES
        .iter()
        .find(|(_, types)| types.iter().any(|(t, _)| *t == entity_type))
        .map(|(s, _)| *s)
        .unwrap_or("PeoplePermissions")
}

/// The property changes between two property maps (every property of the
/// side that exists when the other does not).
fn differences(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<PropertyChange> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let old = before.get(k).cloned().unwrap_or_default();
            let new = after.get(k).cloned().unwrap_or_default();
            (old != new).then(|| PropertyChange {
                property: k.clone(),
                old,
                new,
            })
        })
        .collect()
}

/// What one actor's request did to one table, as pending messages.
fn table_changes<T: Audited + Clone>(
    org: &Org,
    journal: BTreeMap<String, Option<T>>,
    table: impl Fn(&Org) -> &Table<T>,
    out: &mut Vec<(
        &'static str,
        &'static str,
        String,
        String,
        Vec<PropertyChange>,
    )>,
) {
    let empty = BTreeMap::new();
    for (id, before) in journal {
        let now = table(org).get(&id);
        let (action, name, changes) = match (&before, now) {
            (None, None) => continue,
            (None, Some(n)) => ("Create", n.name(), differences(&empty, &n.properties(org))),
            (Some(b), None) => ("Delete", b.name(), differences(&b.properties(org), &empty)),
            (Some(b), Some(n)) => {
                let mut c = differences(&b.properties(org), &n.properties(org));
                c.extend(T::hidden_changes(b, n));
                if c.is_empty() {
                    continue;
                }
                ("Update", n.name(), c)
            }
        };
        out.push((T::ENTITY_TYPE, action, id, name.to_string(), changes));
    }
}

impl Org {
    /// Records every change since the last call as made by `actor` (see
    /// the module documentation).
    pub fn record_changes(&mut self, actor: &Actor) {
        let mut pending = Vec::new();
        let j = self.divisions.take_journal();
        table_changes(self, j, |o| &o.divisions, &mut pending);
        let j = self.roles.take_journal();
        table_changes(self, j, |o| &o.roles, &mut pending);
        let j = self.users.take_journal();
        table_changes(self, j, |o| &o.users, &mut pending);
        let j = self.groups.take_journal();
        table_changes(self, j, |o| &o.groups, &mut pending);
        let j = self.clients.take_journal();
        table_changes(self, j, |o| &o.clients, &mut pending);
        let j = self.integrations.take_journal();
        table_changes(self, j, |o| &o.integrations, &mut pending);
        let j = self.queues.take_journal();
        table_changes(self, j, |o| &o.queues, &mut pending);
        // Credentials are secrets: never audited.
        self.credentials.take_journal();
        for g in std::mem::take(&mut self.audit.grant_journal) {
            let role_name = self
                .roles
                .get(&g.role_id)
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let subject_name = self.subject_name(&g.subject).unwrap_or_default();
            let division_name = if g.division_id == "*" {
                "All divisions".to_string()
            } else {
                self.divisions
                    .get(&g.division_id)
                    .map(|d| d.name.clone())
                    .unwrap_or_default()
            };
            let values = [
                ("subjectType", g.subject_type.wire().to_string()),
                ("subjectId", g.subject.clone()),
                ("subjectName", subject_name),
                ("divisionId", g.division_id.clone()),
                ("divisionName", division_name),
            ];
            let changes = values
                .into_iter()
                .map(|(k, v)| {
                    let (old, new) = if g.added {
                        (vec![], vec![v])
                    } else {
                        (vec![v], vec![])
                    };
                    PropertyChange {
                        property: k.into(),
                        old,
                        new,
                    }
                })
                .collect();
            let action = if g.added { "Add" } else { "Remove" };
            pending.push(("RoleGrant", action, g.role_id, role_name, changes));
        }
        if pending.is_empty() {
            return;
        }
        let (user, client_id) = match actor {
            Actor::User { id, client_id } => {
                let name = self
                    .users
                    .get(id)
                    .map(|u| u.name.clone())
                    .unwrap_or_default();
                (Some((id.clone(), name)), client_id.clone())
            }
            Actor::Client(id) => (None, Some(id.clone())),
        };
        let at = SystemTime::now();
        for (entity_type, action, entity_id, entity_name, changes) in pending {
            self.audit.records.push(AuditRecord {
                id: new_id(),
                user: user.clone(),
                client_id: client_id.clone(),
                service: service_of(entity_type),
                at,
                action,
                entity_id,
                entity_name,
                entity_type,
                changes,
            });
        }
    }

    /// Forgets changes without recording them (fixture seeding, bulk
    /// population).
    pub fn discard_changes(&mut self) {
        self.divisions.take_journal();
        self.roles.take_journal();
        self.users.take_journal();
        self.groups.take_journal();
        self.clients.take_journal();
        self.integrations.take_journal();
        self.queues.take_journal();
        self.credentials.take_journal();
        self.audit.grant_journal.clear();
    }

    /// Resolves the `actor` of a `/_sim/mutate` op: a user email or id, or
    /// `client:<client id>`; `None` gives the default actor.
    pub fn actor_by_ref(&self, r: Option<&str>) -> Result<Actor, String> {
        let Some(r) = r else {
            return self
                .audit
                .default_actor
                .clone()
                .ok_or_else(|| "the org has no user; name an \"actor\"".to_string());
        };
        if let Some(id) = r.strip_prefix("client:") {
            return if self.clients.contains(id) {
                Ok(Actor::Client(id.to_string()))
            } else {
                Err(format!("actor: no OAuth client with id \"{id}\""))
            };
        }
        self.user_id_by_ref(r)
            .map(|id| Actor::User {
                id,
                client_id: None,
            })
            .ok_or_else(|| {
                format!("actor: no user \"{r}\" (a user email or id, or client:<client id>)")
            })
    }
}

fn render(org: &Org, r: &AuditRecord) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("userHomeOrgId".into(), json!(org.info.id));
    if let Some((id, name)) = &r.user {
        m.insert(
            "user".into(),
            json!({"id": id, "name": name, "selfUri": format!("/api/v2/users/{id}")}),
        );
    }
    if let Some(id) = &r.client_id {
        m.insert(
            "client".into(),
            json!({"id": id, "selfUri": format!("/api/v2/oauth/clients/{id}")}),
        );
    }
    m.insert("serviceName".into(), json!(r.service));
    m.insert("level".into(), json!("USER"));
    m.insert("eventDate".into(), json!(iso(r.at)));
    m.insert("action".into(), json!(r.action));
    m.insert(
        "entity".into(),
        json!({"id": r.entity_id, "name": r.entity_name}),
    );
    m.insert("entityType".into(), json!(r.entity_type));
    m.insert("status".into(), json!("SUCCESS"));
    m.insert(
        "propertyChanges".into(),
        Value::Array(
            r.changes
                .iter()
                .map(|c| json!({"property": c.property, "oldValues": c.old, "newValues": c.new}))
                .collect(),
        ),
    );
    Value::Object(m)
}

/// Parses `yyyy-MM-ddTHH:mm:ss[.fff](Z|±hh:mm)`.
fn parse_time(s: &str) -> Option<SystemTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    let d = Duration::from_nanos(u64::try_from(nanos).ok()?);
    Some(SystemTime::UNIX_EPOCH + d)
}

fn parse_interval(s: &str) -> ApiResult<(SystemTime, SystemTime)> {
    let bad = || {
        ApiError::invalid(
            "interval",
            format!("The interval \"{s}\" is not start/end in ISO-8601 (YYYY-MM-DDThh:mm:ssZ/YYYY-MM-DDThh:mm:ssZ)"),
        )
    };
    let (a, b) = s.split_once('/').ok_or_else(bad)?;
    let (start, end) = (
        parse_time(a).ok_or_else(bad)?,
        parse_time(b).ok_or_else(bad)?,
    );
    if end < start {
        return Err(ApiError::invalid(
            "interval",
            "The interval ends before it starts",
        ));
    }
    Ok((start, end))
}

/// `POST /api/v2/audits/query/realtime`.
/// The `interval` (as sent and parsed) and the `serviceName` of an audit
/// query: both required, the service one of the mapping's.
fn interval_and_service(body: &Value) -> ApiResult<(&str, (SystemTime, SystemTime), &str)> {
    let interval = body
        .get("interval")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("interval", "The field \"interval\" is required"))?;
    let parsed = parse_interval(interval)?;
    let service = body
        .get("serviceName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("serviceName", "The field \"serviceName\" is required"))?;
    if !SERVICES.iter().any(|(s, _)| *s == service) {
        return Err(ApiError::invalid(
            "serviceName",
            format!("\"{service}\" is not an audited service (see GET /api/v2/audits/query/servicemapping)"),
        ));
    }
    Ok((interval, parsed, service))
}

/// `POST /api/v2/audits/query`: the asynchronous query for older audits.
/// The request is checked as the service checks it (`interval` parsed,
/// `serviceName` one of the mapping's) and answered with a queued
/// execution; the endpoints that fetch its results are not part of the API
/// slice gcsim serves, so it never runs.
pub fn query_async(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["audits:audit:view"])?;
    let body = call.require_body(&["AuditQueryRequest"])?;
    let (interval, _, service) = interval_and_service(body)?;
    let mut answer = json!({
        "id": new_id(),
        "state": "Queued",
        "startDate": iso(SystemTime::now()),
        "interval": interval,
        "serviceName": service,
    });
    for key in ["filters", "sort"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            answer[key] = v.clone();
        }
    }
    ok(answer)
}

pub fn query_realtime(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["audits:audit:view"])?;
    let body = call.require_body(&["AuditRealtimeQueryRequest"])?;
    let (_, (start, end), service) = interval_and_service(body)?;
    let oldest = SystemTime::now() - MAX_INTERVAL - Duration::from_secs(60);
    if start < oldest {
        return Err(ApiError::invalid(
            "interval",
            "The realtime query covers the last 14 days at most; use POST /api/v2/audits/query for older audits",
        ));
    }
    let mut filters: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for f in body
        .get("filters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let property = f.get("property").and_then(Value::as_str).unwrap_or("");
        let value = f.get("value").and_then(Value::as_str).ok_or_else(|| {
            ApiError::invalid(
                "filters",
                "Every filter needs a \"property\" and a \"value\"",
            )
        })?;
        if property == "TrusteeOrganizationId" {
            return Err(ApiError::invalid(
                "filters",
                "gcsim does not model trustee organizations",
            ));
        }
        filters
            .entry(property.to_string())
            .or_default()
            .insert(value.to_string());
    }
    let ascending = match body
        .get("sort")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
    {
        None => false,
        Some(s) => s.get("sortOrder").and_then(Value::as_str) == Some("ascending"),
    };
    let page_size = match body.get("pageSize") {
        None => 25,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_PAGE_SIZE as u64).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    "pageSize",
                    format!("pageSize must be between 1 and {MAX_PAGE_SIZE}"),
                )
            })? as usize,
    };
    let page_number = match body.get("pageNumber") {
        None => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::invalid("pageNumber", "pageNumber must be 1 or more"))?
            as usize,
    };
    let matches = |r: &AuditRecord| -> bool {
        filters.iter().all(|(property, values)| {
            let have: Option<&str> = match property.as_str() {
                "EntityId" => Some(&r.entity_id),
                "EntityType" => Some(r.entity_type),
                "UserId" => r.user.as_ref().map(|u| u.0.as_str()),
                "ClientId" => r.client_id.as_deref(),
                "Action" => Some(r.action),
                _ => None,
            };
            have.is_some_and(|h| values.contains(h))
        })
    };
    let mut hits: Vec<&AuditRecord> = org
        .audit
        .records
        .iter()
        .filter(|r| r.service == service && r.at >= start && r.at <= end && matches(r))
        .collect();
    if !ascending {
        hits.reverse();
    }
    let total = hits.len();
    let entities: Vec<Value> = hits
        .into_iter()
        .skip((page_number - 1) * page_size)
        .take(page_size)
        .map(|r| render(org, r))
        .collect();
    ok(json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "pageCount": total.div_ceil(page_size),
    }))
}

/// `GET /api/v2/audits/query/servicemapping`.
pub fn service_mapping(org: &mut Org, call: &Call) -> ApiResult<Reply> {
    call.require(org, &["audits:audit:view"])?;
    let services: Vec<Value> = SERVICES
        .iter()
        .map(|(name, types)| {
            json!({
                "name": name,
                "entities": types
                    .iter()
                    .map(|(t, actions)| json!({"name": t, "actions": actions}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    ok(json!({ "services": services }))
}
