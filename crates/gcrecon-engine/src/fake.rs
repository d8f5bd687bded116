//! An in-memory [`Provider`] for tests: a tiny organization that keeps
//! objects in manifest vocabulary, enforces the rules the engine must cope
//! with (the caller may give an OAuth client only roles it holds; stale
//! versions are refused; unknown permissions are refused) and can be told to
//! fail or to lose the answer of a create, as a crash would.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

use gcrecon_core::diff::{role_division_pairs, role_grant_desired_pairs};
use gcrecon_core::provider::{
    AuditLog, Caller, CallerKind, Created, GenesysId, ListScope, Listing, LiveObject, Org,
    Provider, ProviderError, RoleDivision,
};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::{DataKind, Kind, Secret};

/// The home division's id in the fake org.
pub const HOME: &str = "home-div";

/// The fake organization's mutable insides.
#[derive(Debug, Default)]
pub struct FakeOrg {
    pub objects: BTreeMap<(Kind, GenesysId), LiveObject>,
    pub caller: Option<Caller>,
    pub catalog: BTreeSet<String>,
    pub users: Vec<(String, String, String)>,
    pub next_id: u64,
    pub calls: BTreeMap<String, u64>,
    /// The names each kind's listings were asked for (`ListScope::Only`).
    pub names_asked: BTreeMap<Kind, BTreeSet<String>>,
    /// Creates of objects with these names fail.
    pub fail_create: BTreeSet<String>,
    /// Creates of objects with these names succeed but report a transport
    /// error, as if the process died before reading the answer.
    pub lose_create_answer: BTreeSet<String>,
    /// Every secret handed out, to check none leaks.
    pub secrets: Vec<String>,
    /// Grants the caller received through `grant_to_caller`, in order.
    pub granted_to_caller: Vec<RoleDivision>,
    pub revoked_from_caller: Vec<RoleDivision>,
    /// The audit log, newest entry first per object.
    pub audit: AuditLog,
}

/// An in-memory organization implementing [`Provider`].
#[derive(Debug)]
pub struct FakeProvider {
    pub org: Mutex<FakeOrg>,
}

impl Default for FakeProvider {
    fn default() -> Self {
        Self::new(CallerKind::User)
    }
}

impl FakeProvider {
    /// An org with a home division, an admin role held by the caller in the
    /// home division only, and a small permission catalog.
    pub fn new(caller_kind: CallerKind) -> Self {
        let mut org = FakeOrg {
            catalog: [
                "analytics:conversationDetail:view",
                "routing:queue:view",
                "directory:user:view",
                "integration:presence:view",
                "integration:presence:edit",
                "presence:userPresence:view",
                "authorization:role:view",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
            users: vec![("user-1".into(), "Ada".into(), "ada@example.com".into())],
            ..FakeOrg::default()
        };
        let home = LiveObject {
            kind: Kind::Division,
            id: GenesysId::from(HOME),
            name: "Home".into(),
            attrs: Attrs::from([("name".to_owned(), Value::from("Home"))]),
            version: "1".into(),
            builtin: true,
        };
        org.objects.insert((Kind::Division, home.id.clone()), home);
        let admin = LiveObject {
            kind: Kind::Role,
            id: GenesysId::from("role-admin"),
            name: "admin".into(),
            attrs: Attrs::from([
                ("name".to_owned(), Value::from("admin")),
                ("permissions".to_owned(), Value::strings(["*:*:*"])),
            ]),
            version: "1".into(),
            builtin: true,
        };
        org.objects.insert((Kind::Role, admin.id.clone()), admin);
        org.caller = Some(Caller {
            kind: caller_kind,
            id: GenesysId::from(match caller_kind {
                CallerKind::User => "user-admin",
                CallerKind::Client => "client-ci",
            }),
            name: "CI".into(),
            grants: BTreeSet::from([RoleDivision {
                role_id: GenesysId::from("role-admin"),
                division_id: GenesysId::from(HOME),
            }]),
            permissions: BTreeSet::from(["*:*:*".to_owned()]),
        });
        FakeProvider {
            org: Mutex::new(org),
        }
    }

    /// Run `f` on the org's insides.
    pub fn with<T>(&self, f: impl FnOnce(&mut FakeOrg) -> T) -> T {
        let mut org = self
            .org
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut org)
    }

    /// Managed (non-built-in) objects of a kind, by name.
    pub fn objects_of(&self, kind: Kind) -> Vec<LiveObject> {
        self.with(|o| {
            o.objects
                .values()
                .filter(|x| x.kind == kind && !x.builtin)
                .cloned()
                .collect()
        })
    }

    /// Change an object behind the engine's back.
    pub fn mutate(&self, kind: Kind, id: &str, f: impl FnOnce(&mut LiveObject)) {
        self.with(|o| {
            if let Some(obj) = o.objects.get_mut(&(kind, GenesysId::from(id))) {
                f(obj);
                bump(obj);
            }
        });
    }

    fn count(&self, call: &str) {
        self.with(|o| *o.calls.entry(call.to_owned()).or_default() += 1);
    }
}

fn bump(obj: &mut LiveObject) {
    let v: u64 = obj.version.parse().unwrap_or(0);
    obj.version = (v + 1).to_string();
}

fn api_error(status: u16, message: impl Into<String>) -> ProviderError {
    ProviderError::Api {
        method: "POST".into(),
        path: "/fake".into(),
        status,
        code: "bad.request".into(),
        message: message.into(),
        correlation_id: None,
    }
}

fn name_of(kind: Kind, attrs: &Attrs) -> String {
    let key = kind.spec().label_key;
    attrs
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn grants_value(pairs: &BTreeSet<(String, String)>) -> Value {
    Value::List(
        pairs
            .iter()
            .map(|(s, d)| {
                Value::Map(
                    [
                        ("subject".to_owned(), Value::from(s.as_str())),
                        ("division".to_owned(), Value::from(d.as_str())),
                    ]
                    .into(),
                )
            })
            .collect(),
    )
}

impl FakeOrg {
    /// Put an object in the org as the service lists it (version 1), and
    /// when `state` is given record it there as managed at `block`, applied
    /// and read with the same attributes: the set-up of a no-op plan over a
    /// synthetic org (benchmarks and complexity tests). The caller sorts the
    /// state's resources once it has added them all.
    pub fn insert_object(
        &mut self,
        state: Option<&mut gcrecon_core::state::State>,
        kind: Kind,
        block: String,
        id: GenesysId,
        name: String,
        attrs: Attrs,
    ) {
        if let Some(state) = state {
            state.resources.push(gcrecon_core::state::ResourceState {
                address: gcrecon_core::Address::resource(kind, block),
                kind,
                id: id.clone(),
                name: name.clone(),
                applied: attrs.clone(),
                read: None,
                version: "1".to_owned(),
                dependencies: Vec::new(),
                prevent_destroy: false,
                sensitive_keys: Vec::new(),
            });
        }
        self.objects.insert(
            (kind, id.clone()),
            LiveObject {
                kind,
                id,
                name,
                attrs,
                version: "1".to_owned(),
                builtin: false,
            },
        );
    }

    fn caller_holds(&self, role: &str, division: &str) -> bool {
        self.caller.as_ref().is_some_and(|c| {
            c.grants.iter().any(|g| {
                g.role_id.as_str() == role
                    && (g.division_id.as_str() == "*" || g.division_id.as_str() == division)
            })
        })
    }

    fn check(&self, kind: Kind, attrs: &Attrs) -> Result<(), ProviderError> {
        if attrs.values().any(|v| !v.is_known()) {
            return Err(ProviderError::Invalid("attributes not known".into()));
        }
        if kind == Kind::Role {
            for p in attrs
                .get("permissions")
                .and_then(Value::as_list)
                .unwrap_or_default()
            {
                let p = p.as_str().unwrap_or_default();
                if !self.catalog.contains(p) {
                    return Err(api_error(400, format!("unknown permission {p}")));
                }
            }
        }
        if kind == Kind::OauthClient {
            for (role, division) in
                role_division_pairs(attrs.get("roles").unwrap_or(&Value::Null), Some(HOME))
            {
                if !self.caller_holds(&role, &division) {
                    return Err(api_error(
                        400,
                        format!("the caller does not hold role {role} in division {division} and cannot give it"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Provider for FakeProvider {
    async fn org(&self) -> Result<Org, ProviderError> {
        self.count("GET /api/v2/organizations/me");
        Ok(Org {
            id: "org-fake".into(),
            name: "Fake".into(),
            short_name: "fake".into(),
            region: "ap-southeast-2".into(),
            domain: "mypurecloud.com.au".into(),
            api_url: "https://api.mypurecloud.com.au".into(),
            login_url: "https://login.mypurecloud.com.au".into(),
        })
    }

    async fn home_division(&self) -> Result<GenesysId, ProviderError> {
        self.count("GET /api/v2/authorization/divisions/home");
        Ok(GenesysId::from(HOME))
    }

    async fn caller(&self) -> Result<Caller, ProviderError> {
        self.count("GET /api/v2/tokens/me");
        self.with(|o| o.caller.clone())
            .ok_or_else(|| ProviderError::Auth("no caller".into()))
    }

    async fn permission_catalog(&self) -> Result<BTreeSet<String>, ProviderError> {
        self.count("GET /api/v2/authorization/permissions");
        Ok(self.with(|o| o.catalog.clone()))
    }

    async fn data(&self, kind: DataKind, query: &Attrs) -> Result<Vec<Attrs>, ProviderError> {
        self.count(&format!("GET data.{kind}"));
        let q = |k: &str| query.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(self.with(|o| match kind {
            DataKind::Division => o
                .objects
                .values()
                .filter(|x| x.kind == Kind::Division)
                .filter(|x| {
                    q("name").is_some_and(|n| n == x.name)
                        || query.get("home") == Some(&Value::Bool(true)) && x.id.as_str() == HOME
                })
                .map(|x| {
                    Attrs::from([
                        ("id".to_owned(), Value::from(x.id.as_str())),
                        ("name".to_owned(), Value::from(x.name.as_str())),
                    ])
                })
                .collect(),
            DataKind::Role => o
                .objects
                .values()
                .filter(|x| x.kind == Kind::Role && q("name").is_some_and(|n| n == x.name))
                .map(|x| {
                    Attrs::from([
                        ("id".to_owned(), Value::from(x.id.as_str())),
                        ("name".to_owned(), Value::from(x.name.as_str())),
                    ])
                })
                .collect(),
            DataKind::User => o
                .users
                .iter()
                .filter(|(_, _, email)| q("email").is_some_and(|e| &e == email))
                .map(|(id, name, email)| {
                    Attrs::from([
                        ("id".to_owned(), Value::from(id.as_str())),
                        ("name".to_owned(), Value::from(name.as_str())),
                        ("email".to_owned(), Value::from(email.as_str())),
                    ])
                })
                .collect(),
            DataKind::Users => vec![Attrs::from([
                (
                    "ids".to_owned(),
                    Value::strings(o.users.iter().map(|(id, _, _)| id.clone())),
                ),
                (
                    "emails".to_owned(),
                    Value::strings(o.users.iter().map(|(_, _, email)| email.clone())),
                ),
            ])],
            _ => Vec::new(),
        }))
    }

    async fn list(&self, kind: Kind, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
        self.count(&format!("GET list {kind}"));
        // Sets, not slices: a scan of the scope per object would make the
        // in-memory org quadratic in the number of managed objects.
        let wanted = match scope {
            ListScope::All => None,
            ListScope::Only { ids, names } => {
                self.with(|o| {
                    o.names_asked
                        .entry(kind)
                        .or_default()
                        .extend(names.iter().cloned());
                });
                Some((
                    ids.iter().collect::<HashSet<_>>(),
                    names.iter().map(String::as_str).collect::<HashSet<_>>(),
                ))
            }
        };
        let objects = self.with(|o| {
            // Keyed by kind first: the objects of one kind are one range.
            o.objects
                .range((kind, GenesysId::from(String::new()))..)
                .take_while(|((k, _), _)| *k == kind)
                .map(|(_, x)| x)
                .filter(|x| match &wanted {
                    None => true,
                    Some((ids, names)) => ids.contains(&x.id) || names.contains(x.name.as_str()),
                })
                .cloned()
                .collect()
        });
        Ok(Listing {
            objects,
            complete: matches!(scope, ListScope::All),
        })
    }

    async fn read(&self, kind: Kind, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
        self.count(&format!("GET {kind}"));
        Ok(self.with(|o| o.objects.get(&(kind, id.clone())).cloned()))
    }

    async fn create(&self, kind: Kind, desired: &Attrs) -> Result<Created, ProviderError> {
        self.count(&format!("POST {kind}"));
        self.with(|o| {
            o.check(kind, desired)?;
            let name = name_of(kind, desired);
            if o.fail_create.contains(&name) {
                return Err(api_error(500, format!("injected failure creating {name}")));
            }
            // gcrecon's own settings (meta keys) never reach the organization.
            let mut attrs = gcrecon_core::diff::without_meta(kind, desired);
            let id = if kind == Kind::RoleGrant {
                let pairs = role_grant_desired_pairs(desired, Some(HOME)).unwrap_or_default();
                let role = GenesysId::from(name.as_str());
                let mut existing = o
                    .objects
                    .get(&(kind, GenesysId::from(name.as_str())))
                    .map(|x| gcrecon_core::diff::role_grant_live_pairs(&x.attrs))
                    .unwrap_or_default();
                existing.extend(pairs);
                attrs = Attrs::from([
                    ("role".to_owned(), Value::from(role.as_str())),
                    ("grants".to_owned(), grants_value(&existing)),
                ]);
                role
            } else if kind == Kind::IdentityProvider {
                GenesysId::from(name.as_str())
            } else {
                o.next_id += 1;
                GenesysId::from(format!("{kind}-{}", o.next_id))
            };
            if kind == Kind::Group {
                attrs.get_or_insert_with("visibility".into(), || Value::from("public"));
            }
            let object = LiveObject {
                kind,
                id: id.clone(),
                name: name.clone(),
                attrs,
                version: "1".into(),
                builtin: false,
            };
            o.objects.insert((kind, id.clone()), object.clone());
            // A kind with a sensitive `secret` is given one at creation.
            let secret = kind.spec().sensitive.contains(&"secret").then(|| {
                let s = format!("s3cr3t-{}-{}", id, o.secrets.len());
                o.secrets.push(s.clone());
                Secret::new(s)
            });
            if o.lose_create_answer.remove(&name) {
                return Err(ProviderError::Transport(
                    "connection reset while reading the answer".into(),
                ));
            }
            Ok(Created { object, secret })
        })
    }

    async fn update(
        &self,
        kind: Kind,
        live: &LiveObject,
        previous: Option<&Attrs>,
        desired: &Attrs,
        _changed: &[String],
    ) -> Result<LiveObject, ProviderError> {
        self.count(&format!("PUT {kind}"));
        self.with(|o| {
            o.check(kind, desired)?;
            let current = o
                .objects
                .get(&(kind, live.id.clone()))
                .ok_or_else(|| ProviderError::NotFound { kind, id: live.id.clone() })?
                .clone();
            if current.version != live.version {
                return Err(api_error(409, "The version number of the modified resource must match the version number in the database."));
            }
            let mut next = current;
            if kind == Kind::RoleGrant {
                let mut pairs = gcrecon_core::diff::role_grant_live_pairs(&next.attrs);
                let want = role_grant_desired_pairs(desired, Some(HOME)).unwrap_or_default();
                if let Some(prev) = previous.and_then(|p| role_grant_desired_pairs(p, Some(HOME))) {
                    for p in prev.difference(&want) {
                        pairs.remove(p);
                    }
                }
                pairs.extend(want);
                next.attrs.insert("grants".into(), grants_value(&pairs));
            } else {
                next.attrs.extend(gcrecon_core::diff::without_meta(kind, desired));
                next.name = name_of(kind, &next.attrs);
            }
            bump(&mut next);
            o.objects.insert((kind, next.id.clone()), next.clone());
            Ok(next)
        })
    }

    async fn delete(
        &self,
        kind: Kind,
        id: &GenesysId,
        previous: Option<&Attrs>,
    ) -> Result<(), ProviderError> {
        self.count(&format!("DELETE {kind}"));
        self.with(|o| {
            if kind == Kind::RoleGrant {
                let Some(obj) = o.objects.get_mut(&(kind, id.clone())) else {
                    return Ok(());
                };
                let mut pairs = gcrecon_core::diff::role_grant_live_pairs(&obj.attrs);
                for p in previous
                    .and_then(|p| role_grant_desired_pairs(p, Some(HOME)))
                    .unwrap_or_default()
                {
                    pairs.remove(&p);
                }
                obj.attrs.insert("grants".into(), grants_value(&pairs));
                return Ok(());
            }
            o.objects
                .remove(&(kind, id.clone()))
                .map(|_| ())
                .ok_or_else(|| ProviderError::NotFound {
                    kind,
                    id: id.clone(),
                })
        })
    }

    async fn grant_to_caller(&self, grants: &[RoleDivision]) -> Result<(), ProviderError> {
        self.count("POST bulkadd");
        self.with(|o| {
            o.granted_to_caller.extend(grants.iter().cloned());
            if let Some(c) = o.caller.as_mut() {
                c.grants.extend(grants.iter().cloned());
            }
        });
        Ok(())
    }

    async fn revoke_from_caller(&self, grants: &[RoleDivision]) -> Result<(), ProviderError> {
        self.count("POST bulkremove");
        self.with(|o| {
            o.revoked_from_caller.extend(grants.iter().cloned());
            if let Some(c) = o.caller.as_mut() {
                for g in grants {
                    c.grants.remove(g);
                }
            }
        });
        Ok(())
    }

    async fn rotate_secret(&self, id: &GenesysId) -> Result<Secret, ProviderError> {
        self.count("POST secret");
        self.with(|o| {
            if !o.objects.contains_key(&(Kind::OauthClient, id.clone())) {
                return Err(ProviderError::NotFound {
                    kind: Kind::OauthClient,
                    id: id.clone(),
                });
            }
            let s = format!("rotated-{}-{}", id, o.secrets.len());
            o.secrets.push(s.clone());
            Ok(Secret::new(s))
        })
    }

    async fn audit_log(
        &self,
        targets: &[(Kind, GenesysId)],
        per_object: usize,
    ) -> Result<AuditLog, ProviderError> {
        self.count("POST /api/v2/audits/query/realtime");
        self.with(|o| {
            Ok(targets
                .iter()
                .filter_map(|t| {
                    let entries: Vec<_> =
                        o.audit.get(t)?.iter().take(per_object).cloned().collect();
                    Some((t.clone(), entries))
                })
                .collect())
        })
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        self.with(|o| o.calls.clone())
    }
}
