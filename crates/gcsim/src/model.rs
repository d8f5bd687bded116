//! The in-memory org: every object gcsim serves, with name indexes, and the
//! grants that tie subjects (users, groups, OAuth clients) to roles in
//! divisions.
//!
//! Objects keep typed core fields plus a `doc` of other wire fields the
//! client set (already validated against the contract), so round trips keep
//! everything a client sent.

use crate::catalog::{self, IntegrationTypeSpec, PropSpec, PropType};
use crate::fixture::{Fixture, FixtureError};
use crate::wire::{new_id, random_token};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Instant, SystemTime};

/// Something stored in a [`Table`]: it has an id and a name.
pub trait Named {
    /// The object's id.
    fn id(&self) -> &str;
    /// The object's name (the sort key of listings).
    fn name(&self) -> &str;
}

/// Objects ordered by lower-cased name then id (so listings page in a
/// stable order without sorting or hashing per item), with an id index.
///
/// Every change through [`Table::insert`], [`Table::update`] and
/// [`Table::remove`] is journaled: the first time an id is touched, its
/// value before (or `None` for a new object) is kept until
/// [`Table::take_journal`], so the audit log ([`crate::audit`]) is written
/// in one place from what really changed.
#[derive(Debug)]
pub struct Table<T> {
    items: BTreeMap<(String, String), T>,
    keys: HashMap<String, String>,
    journal: BTreeMap<String, Option<T>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            items: BTreeMap::new(),
            keys: HashMap::new(),
            journal: BTreeMap::new(),
        }
    }
}

fn key_of<T: Named>(t: &T) -> (String, String) {
    (t.name().to_lowercase(), t.id().to_string())
}

impl<T: Named + Clone> Table<T> {
    fn key(&self, id: &str) -> Option<(String, String)> {
        self.keys.get(id).map(|n| (n.clone(), id.to_string()))
    }

    /// Remembers the value of `id` before its first change since the last
    /// [`Table::take_journal`].
    fn journal_before(&mut self, id: &str, before: Option<&T>) {
        if !self.journal.contains_key(id) {
            self.journal.insert(id.to_string(), before.cloned());
        }
    }

    /// The objects changed since the last call, each with its value before
    /// the first change (`None`: created); clears the journal.
    pub fn take_journal(&mut self) -> BTreeMap<String, Option<T>> {
        std::mem::take(&mut self.journal)
    }

    /// Inserts (or replaces) an object.
    pub fn insert(&mut self, t: T) {
        let old = self.key(t.id());
        if !self.journal.contains_key(t.id()) {
            let before = old.as_ref().and_then(|k| self.items.get(k)).cloned();
            self.journal.insert(t.id().to_string(), before);
        }
        if let Some(old) = old {
            self.items.remove(&old);
        }
        let key = key_of(&t);
        self.keys.insert(key.1.clone(), key.0.clone());
        self.items.insert(key, t);
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.items.get(&self.key(id)?)
    }

    /// Whether an object has this id.
    pub fn contains(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// Changes an object in place, keeping the name order right.
    pub fn update<R>(&mut self, id: &str, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let key = self.key(id)?;
        let mut t = self.items.remove(&key)?;
        self.journal_before(id, Some(&t));
        let r = f(&mut t);
        self.insert(t);
        Some(r)
    }

    /// Removes an object.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let key = self.key(id)?;
        self.keys.remove(id);
        let t = self.items.remove(&key)?;
        self.journal_before(id, Some(&t));
        Some(t)
    }

    /// Every object, ordered by name.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.items.values()
    }

    /// Objects whose name equals `name`, ignoring case.
    pub fn by_name<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a T> + 'a {
        let lower = name.to_lowercase();
        self.items
            .range((lower.clone(), String::new())..)
            .take_while(move |((n, _), _)| *n == lower)
            .map(|(_, t)| t)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

macro_rules! named {
    ($t:ty) => {
        impl Named for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
        }
    };
}

/// The org's own settings.
#[derive(Debug, Clone)]
pub struct OrgInfo {
    /// Org id.
    pub id: String,
    /// Org name.
    pub name: String,
    /// Short name (`thirdPartyOrgName`).
    pub short_name: String,
    /// AWS region.
    pub region: String,
    /// Version, bumped by `PUT /api/v2/organizations/me`.
    pub version: i64,
    /// Other writable wire fields.
    pub doc: Map<String, Value>,
}

/// A division.
#[derive(Debug, Clone)]
pub struct Division {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Whether this is the home division.
    pub home: bool,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(Division);

/// A role.
#[derive(Debug, Clone)]
pub struct Role {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// `defaultRoleId` of built-in roles.
    pub default_role_id: Option<String>,
    /// General permissions (`permissions` on the wire, such as
    /// `group_creation`), stored and returned as sent. A domain string put
    /// here grants nothing: only `policies` do.
    pub permissions: Vec<String>,
    /// `permissionPolicies`: where a role's domain permissions live.
    pub policies: Vec<Policy>,
    /// `roleNeedsUpdate`.
    pub role_needs_update: bool,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(Role);

/// A permission policy of a role (`DomainPermissionPolicy`): a domain, an
/// entity (or `*`) and the actions granted on it (`*` allowed), plus fields
/// stored and returned but not evaluated (conditions, named resources).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `domain`.
    pub domain: String,
    /// `entityName`.
    pub entity_name: String,
    /// `actionSet`.
    pub action_set: Vec<String>,
    /// `allowConditions`, `resourceConditionNode`, `namedResources`,
    /// `policyName`, ... as sent.
    pub extra: Map<String, Value>,
}

impl Policy {
    /// The `domain:entity:action` strings this policy spells.
    pub fn strings(&self) -> impl Iterator<Item = String> + '_ {
        self.action_set
            .iter()
            .map(move |a| format!("{}:{}:{a}", self.domain, self.entity_name))
    }
}

/// Policies for domain permission strings (`domain:entity:action`, with
/// `*`): one per domain and entity, its actions merged and sorted.
pub fn policies_from_strings<S: AsRef<str>>(permissions: &[S]) -> Vec<Policy> {
    let mut by: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for p in permissions {
        let parts: Vec<&str> = p.as_ref().splitn(3, ':').collect();
        let (d, e, a) = match parts.as_slice() {
            [d, e, a] => (*d, *e, *a),
            [d, e] => (*d, *e, "*"),
            [d] => (*d, "*", "*"),
            _ => continue,
        };
        by.entry((d.to_string(), e.to_string()))
            .or_default()
            .insert(a.to_string());
    }
    by.into_iter()
        .map(|((domain, entity_name), actions)| Policy {
            domain,
            entity_name,
            action_set: actions.into_iter().collect(),
            extra: Map::new(),
        })
        .collect()
}

impl Role {
    /// The domain permission strings of the role's policies, sorted: what
    /// the role grants (entries unknown to the catalog grant nothing; see
    /// [`Org::granted_permissions`]).
    pub fn policy_strings(&self) -> Vec<String> {
        sorted(self.policies.iter().flat_map(Policy::strings).collect())
    }
}

/// A user.
#[derive(Debug, Clone)]
pub struct User {
    /// Id.
    pub id: String,
    /// Full name.
    pub name: String,
    /// Email (and username).
    pub email: String,
    /// Division id.
    pub division_id: String,
    /// `active`, `inactive` or `deleted`.
    pub state: String,
    /// Version.
    pub version: i64,
    /// Other wire fields (title, department, addresses...).
    pub doc: Map<String, Value>,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(User);

/// A group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Other wire fields (description, type, visibility, ...).
    pub doc: Map<String, Value>,
    /// Owner user ids.
    pub owner_ids: Vec<String>,
    /// Member user ids.
    pub members: BTreeSet<String>,
    /// Version.
    pub version: i64,
    /// Last modification.
    pub date_modified: SystemTime,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(Group);

/// An OAuth client. Its roles are the grants of the subject with its id.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// Id (= client id).
    pub id: String,
    /// Name.
    pub name: String,
    /// Secret; never in an answer but create and `/secret`.
    pub secret: String,
    /// Other wire fields (description, authorizedGrantType, state, ...).
    pub doc: Map<String, Value>,
    /// Creation time.
    pub date_created: SystemTime,
    /// Last modification.
    pub date_modified: SystemTime,
    /// Subject id of the creator.
    pub created_by: Option<String>,
    /// Subject id of the last modifier.
    pub modified_by: Option<String>,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(OAuthClient);

impl OAuthClient {
    /// `state` (default `active`).
    pub fn state(&self) -> &str {
        self.doc
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("active")
    }
}

/// The current configuration of an integration.
#[derive(Debug, Clone)]
pub struct IntegrationConfig {
    /// Version, bumped on every update.
    pub version: i64,
    /// Key-value properties.
    pub properties: Map<String, Value>,
    /// Advanced JSON document.
    pub advanced: Value,
    /// Notes (also the integration's `notes`: one field in the real service).
    pub notes: Option<String>,
    /// Credentials by name.
    pub credentials: Map<String, Value>,
}

/// An integration instance.
#[derive(Debug, Clone)]
pub struct Integration {
    /// Id.
    pub id: String,
    /// Name (also the config's name).
    pub name: String,
    /// Integration type id.
    pub type_id: String,
    /// `ENABLED`, `DISABLED`, ...
    pub intended_state: String,
    /// Current config.
    pub config: IntegrationConfig,
    /// Last state change.
    pub state_changed: SystemTime,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(Integration);

/// A set of integration credentials.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Credential type name (`basicAuth`, `userDefined`, ...).
    pub type_name: String,
    /// Fields (sensitive; never answered).
    pub fields: Map<String, Value>,
    /// Creation time.
    pub created: SystemTime,
    /// Last modification.
    pub modified: SystemTime,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(Credential);

/// A routing queue.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Division id.
    pub division_id: String,
    /// Member user ids (`memberBy` user), the queue's agents, and whether
    /// each has joined the queue.
    pub members: BTreeMap<String, bool>,
    /// Other wire fields.
    pub doc: Map<String, Value>,
    /// Creation time.
    pub date_created: SystemTime,
    /// Last modification.
    pub date_modified: SystemTime,
    /// Creator subject id.
    pub created_by: Option<String>,
    /// Modifier subject id.
    pub modified_by: Option<String>,
    /// When it starts showing in listings.
    pub visible_at: Instant,
}
named!(Queue);

/// Kind of authorization subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectType {
    /// `PC_USER`.
    User,
    /// `PC_GROUP`.
    Group,
    /// `PC_OAUTH_CLIENT`.
    Client,
}

impl SubjectType {
    /// The wire name.
    pub fn wire(self) -> &'static str {
        match self {
            SubjectType::User => "PC_USER",
            SubjectType::Group => "PC_GROUP",
            SubjectType::Client => "PC_OAUTH_CLIENT",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<SubjectType> {
        match s {
            "PC_USER" => Some(SubjectType::User),
            "PC_GROUP" => Some(SubjectType::Group),
            "PC_OAUTH_CLIENT" => Some(SubjectType::Client),
            _ => None,
        }
    }
}

/// A role granted in a division (`*` = all divisions).
#[derive(Debug, Clone)]
pub struct Grant {
    /// Role id.
    pub role_id: String,
    /// Division id or `*`.
    pub division_id: String,
    /// When it was made (monotonic), for the grant delay.
    pub granted_at: Instant,
    /// When it was made (wall clock), for `grantMadeAt`.
    pub made_at: SystemTime,
}

/// The grants of one subject.
#[derive(Debug, Clone)]
pub struct SubjectGrants {
    /// Subject kind.
    pub subject_type: SubjectType,
    /// Grants.
    pub grants: Vec<Grant>,
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A user (user token).
    User(String),
    /// An OAuth client (client-credentials token).
    Client(String),
}

impl Subject {
    /// The subject id.
    pub fn id(&self) -> &str {
        match self {
            Subject::User(id) | Subject::Client(id) => id,
        }
    }
}

/// An access token.
#[derive(Debug, Clone)]
pub struct Token {
    /// Who it acts for.
    pub subject: Subject,
    /// The OAuth client that issued it.
    pub client_id: Option<String>,
    /// Issue time.
    pub issued_at: Instant,
    /// Expiry.
    pub expires_at: Instant,
    /// Issue time (wall clock).
    pub issued_wall: SystemTime,
}

/// An object deleted moments ago, as the real service shows it while the
/// delete propagates.
#[derive(Debug, Clone)]
pub struct Tombstone {
    /// `group` or `client`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Its wire shape at deletion, with `state: "deleted"`.
    pub view: Value,
    /// Divisions its grants named.
    pub divisions: Vec<String>,
    /// When it is gone for good.
    pub until: Instant,
}

/// Credentials printed on the second startup line.
#[derive(Debug, Clone)]
pub struct AdminCredentials {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// The whole simulated org.
#[derive(Debug)]
pub struct Org {
    /// Org settings.
    pub info: OrgInfo,
    /// Permission catalog.
    pub permissions: BTreeSet<String>,
    /// Integration types.
    pub integration_types: Vec<IntegrationTypeSpec>,
    /// Divisions.
    pub divisions: Table<Division>,
    /// Id of the home division.
    pub home_division_id: String,
    /// Roles.
    pub roles: Table<Role>,
    /// Users.
    pub users: Table<User>,
    /// Lower-cased email → user id.
    pub users_by_email: HashMap<String, String>,
    /// Groups.
    pub groups: Table<Group>,
    /// OAuth clients.
    pub clients: Table<OAuthClient>,
    /// Integrations.
    pub integrations: Table<Integration>,
    /// Integration credentials.
    pub credentials: Table<Credential>,
    /// Routing queues.
    pub queues: Table<Queue>,
    /// Objects deleted within the last `--eventual-ms`.
    pub tombstones: Vec<Tombstone>,
    /// Identity providers by kind (`pureengage`, `okta`, ..., or a custom id).
    pub identity_providers: BTreeMap<String, Map<String, Value>>,
    /// Grants by subject id.
    pub grants: HashMap<String, SubjectGrants>,
    /// Access tokens.
    pub tokens: HashMap<String, Token>,
    /// Id of the synthetic client that user tokens come from.
    pub browser_client_id: String,
    /// The audit log.
    pub audit: crate::audit::AuditLog,
}

impl Org {
    /// Builds an org from a fixture (or the default org for `None`), and
    /// returns it with the admin client to print.
    pub fn build(fixture: Option<&Fixture>) -> Result<(Org, AdminCredentials), FixtureError> {
        let now = Instant::now();
        let default = Fixture::default();
        let fx = fixture.unwrap_or(&default);
        let region = fx
            .org
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_string());
        if !catalog::REGIONS.iter().any(|(r, _)| *r == region) {
            let known: Vec<&str> = catalog::REGIONS.iter().map(|(r, _)| *r).collect();
            return Err(FixtureError(format!(
                "invalid fixture: org.region \"{region}\" is not a Genesys Cloud region (one of {})",
                known.join(", ")
            )));
        }
        let name = fx.org.name.clone().unwrap_or_else(|| "gcsim".to_string());
        let short_name = fx.org.short_name.clone().unwrap_or_else(|| {
            name.to_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        });
        let info = OrgInfo {
            id: fx.org.id.clone().unwrap_or_else(new_id),
            name,
            short_name,
            region,
            version: 1,
            doc: Map::new(),
        };
        let mut permissions = catalog::default_permissions();
        permissions.extend(fx.catalog.extra_permissions.iter().cloned());
        let mut integration_types = catalog::builtin_integration_types();
        for t in &fx.integration_types {
            if integration_types.iter().any(|x| x.id == t.id) {
                return Err(FixtureError(format!(
                    "invalid fixture: integration type \"{}\" already exists",
                    t.id
                )));
            }
            integration_types.push(IntegrationTypeSpec {
                id: t.id.clone(),
                name: t.name.clone().unwrap_or_else(|| t.id.clone()),
                description: format!("Fixture integration type {}", t.id),
                provider: "fixture".into(),
                category: "Fixture".into(),
                properties: t
                    .properties
                    .iter()
                    .map(|p| PropSpec {
                        name: p.clone(),
                        ty: PropType::Any,
                        required: false,
                        allowed: None,
                        title: p.clone(),
                    })
                    .collect(),
                credentials: Value::Object(Map::new()),
                max_instances: None,
                user_permissions: vec![],
            });
        }
        let mut org = Org {
            info,
            permissions,
            integration_types,
            divisions: Table::default(),
            home_division_id: new_id(),
            roles: Table::default(),
            users: Table::default(),
            users_by_email: HashMap::new(),
            groups: Table::default(),
            clients: Table::default(),
            integrations: Table::default(),
            credentials: Table::default(),
            queues: Table::default(),
            identity_providers: BTreeMap::new(),
            tombstones: Vec::new(),
            grants: HashMap::new(),
            tokens: HashMap::new(),
            browser_client_id: new_id(),
            audit: crate::audit::AuditLog::default(),
        };
        org.divisions.insert(Division {
            id: org.home_division_id.clone(),
            name: "Home".into(),
            description: Some("The home division".into()),
            home: true,
            visible_at: now,
        });
        for d in &fx.divisions {
            if org.divisions.by_name(&d.name).next().is_some() {
                return Err(FixtureError(format!(
                    "invalid fixture: duplicate division \"{}\"",
                    d.name
                )));
            }
            org.divisions.insert(Division {
                id: new_id(),
                name: d.name.clone(),
                description: None,
                home: false,
                visible_at: now,
            });
        }
        let all: Vec<String> = org.permissions.iter().cloned().collect();
        for b in catalog::BUILTIN_ROLES {
            let perms = match b.permissions {
                None => all.clone(),
                Some(p) => p.iter().map(|s| s.to_string()).collect(),
            };
            org.roles.insert(Role {
                id: new_id(),
                name: b.name.into(),
                description: Some(b.description.into()),
                default_role_id: Some(b.name.into()),
                permissions: vec![],
                policies: policies_from_strings(&perms),
                role_needs_update: false,
                visible_at: now,
            });
        }
        for r in &fx.roles {
            if org.roles.by_name(&r.name).next().is_some() {
                return Err(FixtureError(format!(
                    "invalid fixture: duplicate role \"{}\"",
                    r.name
                )));
            }
            if let Some(bad) = r
                .permissions
                .iter()
                .find(|p| !catalog::permission_is_known(&org.permissions, p))
            {
                return Err(FixtureError(format!(
                    "invalid fixture: role \"{}\": permission \"{bad}\" is not in the catalog (add it with [catalog] extra_permissions)",
                    r.name
                )));
            }
            org.roles.insert(Role {
                id: new_id(),
                name: r.name.clone(),
                description: None,
                default_role_id: None,
                permissions: vec![],
                policies: policies_from_strings(&r.permissions),
                role_needs_update: false,
                visible_at: now,
            });
        }
        let users: Vec<(String, String, Option<String>, Vec<String>)> = if fixture.is_some() {
            fx.users
                .iter()
                .map(|u| {
                    (
                        u.email.clone(),
                        u.name.clone().unwrap_or_else(|| u.email.clone()),
                        u.division.clone(),
                        u.roles.clone(),
                    )
                })
                .collect()
        } else {
            vec![(
                "admin@gcsim.example".into(),
                "Sim Admin".into(),
                None,
                vec!["admin".into()],
            )]
        };
        for (email, name, division, roles) in users {
            if org.users_by_email.contains_key(&email.to_lowercase()) {
                return Err(FixtureError(format!(
                    "invalid fixture: duplicate user \"{email}\""
                )));
            }
            let division_id = org.fixture_division(division.as_deref())?;
            let id = new_id();
            org.users_by_email.insert(email.to_lowercase(), id.clone());
            org.users.insert(User {
                id: id.clone(),
                name,
                email: email.clone(),
                division_id,
                state: "active".into(),
                version: 1,
                doc: Map::new(),
                visible_at: now,
            });
            org.fixture_grants(&id, SubjectType::User, &roles, &format!("user {email}"))?;
        }
        let mut admin = None;
        for c in &fx.oauth_clients {
            let id = c.client_id.clone().unwrap_or_else(new_id);
            if org.clients.contains(&id) {
                return Err(FixtureError(format!(
                    "invalid fixture: duplicate client id \"{id}\""
                )));
            }
            let secret = c.client_secret.clone().unwrap_or_else(|| random_token(43));
            org.insert_client(&id, &c.name, &secret, now);
            org.fixture_grants(
                &id,
                SubjectType::Client,
                &c.roles,
                &format!("oauth client {}", c.name),
            )?;
            if admin.is_none() {
                admin = Some(AdminCredentials {
                    client_id: id,
                    client_secret: secret,
                });
            }
        }
        let admin = match admin {
            Some(a) => a,
            None => {
                let id = new_id();
                let secret = random_token(43);
                org.insert_client(&id, "gcsim-admin", &secret, now);
                org.fixture_grants(
                    &id,
                    SubjectType::Client,
                    &["admin".to_string()],
                    "gcsim-admin",
                )?;
                AdminCredentials {
                    client_id: id,
                    client_secret: secret,
                }
            }
        };
        for q in &fx.queues {
            let division_id = org.fixture_division(q.division.as_deref())?;
            let t = SystemTime::now();
            let mut members = BTreeMap::new();
            for m in &q.members {
                let uid = org.user_id_by_ref(m).ok_or_else(|| {
                    FixtureError(format!(
                        "invalid fixture: queue \"{}\": member \"{m}\" is not a fixture user",
                        q.name
                    ))
                })?;
                members.insert(uid, true);
            }
            org.queues.insert(Queue {
                id: new_id(),
                name: q.name.clone(),
                division_id,
                members,
                doc: Map::new(),
                date_created: t,
                date_modified: t,
                created_by: None,
                modified_by: None,
                visible_at: now,
            });
        }
        for g in &fx.groups {
            let mut members = BTreeSet::new();
            for m in &g.members {
                let Some(uid) = org.users_by_email.get(&m.to_lowercase()) else {
                    return Err(FixtureError(format!(
                        "invalid fixture: group \"{}\": member \"{m}\" is not a fixture user",
                        g.name
                    )));
                };
                members.insert(uid.clone());
            }
            let mut doc = Map::new();
            doc.insert("type".into(), Value::from("official"));
            doc.insert("visibility".into(), Value::from("public"));
            doc.insert("rulesVisible".into(), Value::from(true));
            org.groups.insert(Group {
                id: new_id(),
                name: g.name.clone(),
                doc,
                owner_ids: vec![],
                members,
                version: 1,
                date_modified: SystemTime::now(),
                visible_at: now,
            });
        }
        org.discard_changes();
        let first_user = fx
            .users
            .first()
            .and_then(|u| org.user_id_by_ref(&u.email))
            .or_else(|| {
                org.user_id_by_ref("admin@gcsim.example")
                    .filter(|_| fixture.is_none())
            });
        org.audit.default_actor = Some(match first_user {
            Some(id) => crate::audit::Actor::User {
                id,
                client_id: None,
            },
            None => crate::audit::Actor::Client(admin.client_id.clone()),
        });
        Ok((org, admin))
    }

    fn fixture_division(&self, name: Option<&str>) -> Result<String, FixtureError> {
        match name {
            None => Ok(self.home_division_id.clone()),
            Some(n) => self
                .divisions
                .by_name(n)
                .next()
                .map(|d| d.id.clone())
                .ok_or_else(|| FixtureError(format!("invalid fixture: unknown division \"{n}\""))),
        }
    }

    fn fixture_grants(
        &mut self,
        subject: &str,
        ty: SubjectType,
        roles: &[String],
        who: &str,
    ) -> Result<(), FixtureError> {
        let home = self.home_division_id.clone();
        for r in roles {
            let Some(role) = self.roles.by_name(r).next() else {
                return Err(FixtureError(format!(
                    "invalid fixture: {who}: unknown role \"{r}\""
                )));
            };
            let role_id = role.id.clone();
            self.add_grant(subject, ty, &role_id, &home, Instant::now());
        }
        Ok(())
    }

    /// Inserts a client-credentials OAuth client (fixture, populate).
    pub fn insert_client(&mut self, id: &str, name: &str, secret: &str, visible_at: Instant) {
        let t = SystemTime::now();
        let mut doc = Map::new();
        doc.insert(
            "authorizedGrantType".into(),
            Value::from("CLIENT-CREDENTIALS"),
        );
        doc.insert("state".into(), Value::from("active"));
        self.clients.insert(OAuthClient {
            id: id.to_string(),
            name: name.to_string(),
            secret: secret.to_string(),
            doc,
            date_created: t,
            date_modified: t,
            created_by: None,
            modified_by: None,
            visible_at,
        });
    }

    /// Adds a grant unless the subject already has it.
    pub fn add_grant(
        &mut self,
        subject: &str,
        ty: SubjectType,
        role_id: &str,
        division_id: &str,
        now: Instant,
    ) {
        let entry = self
            .grants
            .entry(subject.to_string())
            .or_insert_with(|| SubjectGrants {
                subject_type: ty,
                grants: vec![],
            });
        if entry
            .grants
            .iter()
            .any(|g| g.role_id == role_id && g.division_id == division_id)
        {
            return;
        }
        entry.grants.push(Grant {
            role_id: role_id.to_string(),
            division_id: division_id.to_string(),
            granted_at: now,
            made_at: SystemTime::now(),
        });
        self.audit.grant_journal.push(crate::audit::GrantChange {
            subject: subject.to_string(),
            subject_type: ty,
            role_id: role_id.to_string(),
            division_id: division_id.to_string(),
            added: true,
        });
    }

    /// Removes a grant; whether it existed.
    pub fn remove_grant(&mut self, subject: &str, role_id: &str, division_id: &str) -> bool {
        let Some(entry) = self.grants.get_mut(subject) else {
            return false;
        };
        let before = entry.grants.len();
        entry
            .grants
            .retain(|g| !(g.role_id == role_id && g.division_id == division_id));
        let removed = entry.grants.len() != before;
        let subject_type = entry.subject_type;
        if entry.grants.is_empty() {
            self.grants.remove(subject);
        }
        if removed {
            self.audit.grant_journal.push(crate::audit::GrantChange {
                subject: subject.to_string(),
                subject_type,
                role_id: role_id.to_string(),
                division_id: division_id.to_string(),
                added: false,
            });
        }
        removed
    }

    /// The stored grants of a subject.
    pub fn grants_of(&self, subject: &str) -> &[Grant] {
        self.grants
            .get(subject)
            .map(|g| g.grants.as_slice())
            .unwrap_or(&[])
    }

    /// The kind of an existing subject id, if any.
    pub fn subject_type_of(&self, id: &str) -> Option<SubjectType> {
        if self.users.contains(id) {
            Some(SubjectType::User)
        } else if self.groups.contains(id) {
            Some(SubjectType::Group)
        } else if self.clients.contains(id) {
            Some(SubjectType::Client)
        } else {
            None
        }
    }

    /// Display name of a subject.
    pub fn subject_name(&self, id: &str) -> Option<String> {
        self.users
            .get(id)
            .map(|u| u.name.clone())
            .or_else(|| self.groups.get(id).map(|g| g.name.clone()))
            .or_else(|| self.clients.get(id).map(|c| c.name.clone()))
    }

    /// Drops every grant of a subject (it was deleted).
    pub fn drop_subject(&mut self, id: &str) {
        self.grants.remove(id);
    }

    /// Drops every grant of a role (it was deleted).
    pub fn drop_role_grants(&mut self, role_id: &str) {
        for g in self.grants.values_mut() {
            g.grants.retain(|x| x.role_id != role_id);
        }
        self.grants.retain(|_, g| !g.grants.is_empty());
    }

    /// Drops every grant in a division (it was deleted).
    pub fn drop_division_grants(&mut self, division_id: &str) {
        for g in self.grants.values_mut() {
            g.grants.retain(|x| x.division_id != division_id);
        }
        self.grants.retain(|_, g| !g.grants.is_empty());
    }

    /// What a role grants: the strings of its policies that the catalog
    /// knows (an entry, or a wildcard matching one). Its general
    /// `permissions` and policy entries the org does not have grant nothing.
    pub fn granted_permissions<'a>(&'a self, role: &'a Role) -> impl Iterator<Item = String> + 'a {
        role.policies
            .iter()
            .flat_map(Policy::strings)
            .filter(|p| catalog::permission_is_known(&self.permissions, p))
    }

    /// Records an object deleted now: for `until`, reads by id answer it
    /// with `state: "deleted"`, listings may still show it, and every
    /// division its grants named refuses its own delete.
    pub fn tombstone(&mut self, kind: &'static str, id: &str, view: Value, until: Instant) {
        let now = Instant::now();
        self.tombstones.retain(|t| t.id != id && now < t.until);
        let divisions = self
            .grants_of(id)
            .iter()
            .map(|g| g.division_id.clone())
            .collect();
        let mut view = view;
        if let Some(m) = view.as_object_mut() {
            m.insert("state".into(), Value::from("deleted"));
        }
        self.tombstones.push(Tombstone {
            kind,
            id: id.to_string(),
            view,
            divisions,
            until,
        });
    }

    /// The deleted object of this kind and id still draining at `now`.
    pub fn tombstone_of(&self, kind: &str, id: &str, now: Instant) -> Option<&Tombstone> {
        self.tombstones
            .iter()
            .find(|t| t.kind == kind && t.id == id && now < t.until)
    }

    /// Deleted objects of a kind still draining at `now`.
    pub fn tombstones_of<'a>(
        &'a self,
        kind: &'a str,
        now: Instant,
    ) -> impl Iterator<Item = &'a Tombstone> + 'a {
        self.tombstones
            .iter()
            .filter(move |t| t.kind == kind && now < t.until)
    }

    /// Whether a division still drains objects deleted from it.
    pub fn division_draining(&self, division_id: &str, now: Instant) -> bool {
        self.tombstones
            .iter()
            .any(|t| now < t.until && t.divisions.iter().any(|d| d == division_id))
    }

    /// The integration type with this id.
    pub fn integration_type(&self, id: &str) -> Option<&IntegrationTypeSpec> {
        self.integration_types.iter().find(|t| t.id == id)
    }

    /// Resolves a user by id or email.
    pub fn user_id_by_ref(&self, r: &str) -> Option<String> {
        if self.users.contains(r) {
            Some(r.to_string())
        } else {
            self.users_by_email.get(&r.to_lowercase()).cloned()
        }
    }
}

/// Sorts and dedups permissions.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
