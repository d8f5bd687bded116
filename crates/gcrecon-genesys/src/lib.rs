//! gcrecon-genesys: the Genesys Cloud [`Provider`], the only code of gcrecon
//! that speaks HTTP to Genesys Cloud.
//!
//! ```text
//! Connection::from_env_and_flags(region, api_url)   env vars and flags → where and who
//! GenesysProvider::connect(conn, ProviderOptions)    logs in, returns the Provider
//! ```
//!
//! Layout: [`connection`] and [`regions`] (where and who), `http` (the one
//! client: login, token renewal, rate limiter, concurrency, the retry loop
//! of [`retry`], call counters, tracing), `listing` (refresh with the fewest
//! calls), `kinds` (the operations every kind implements, their defaults
//! over a listing spec, and the one registry the [`Provider`] methods
//! dispatch through), one module per kind holding its mapping between
//! manifest keys and wire fields and what it does differently from the
//! defaults: `division`, `role`, `role_grant`, `group`, `oauth_client`,
//! `integration`, `identity_provider`; and `caller`, `org`, `data` for the
//! data sources.
//! `audit` reads the audit log for drift attribution.
//! `recover` makes creates safe when an answer is lost: it looks the object
//! up by name before sending a create again.
//!
//! Secrets (client secret, tokens, created client secrets) live in
//! [`Secret`]; nothing here logs a body, a token or a secret.

// `ProviderError` is the Provider trait's error type (core's); every
// function here returns it, and boxing it would change the trait.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use gcrecon_core::provider::{
    AuditLog, Caller, Created, GenesysId, ListScope, Listing, LiveObject, Org, Provider,
    ProviderError, RoleDivision,
};
use gcrecon_core::value::Attrs;
use gcrecon_core::{DataKind, Kind, Secret};
use tokio::sync::OnceCell;
use tracing::Instrument as _;

pub mod connection;
pub mod regions;
pub mod retry;

mod audit;
mod caller;
mod data;
mod http;
mod kinds;
mod listing;
mod org;
mod ratelimit;
mod recover;
mod wire;

/// Page size of `GET /api/v2/users` (the service's maximum for users).
pub(crate) const USER_PAGE: u32 = 500;

// The kind modules live under `kinds/`; these names keep their paths short.
use kinds::{division, group, oauth_client, role};

pub use connection::{Connection, ConnectionError, Credentials};
pub use kinds::{list_endpoints, ListEndpoint};
pub use retry::{RetryNotice, RetryPolicy, RetryReporter};

/// Tuning of the provider.
#[derive(Clone, Debug)]
pub struct ProviderOptions {
    /// Requests in flight at once (default 10).
    pub concurrency: usize,
    /// The per-token rate limit to stay under (default 300, the Genesys
    /// Platform API's limit per token).
    pub requests_per_minute: u32,
    /// Timeout of one HTTP request (default 30 s).
    pub timeout: Duration,
    /// Retry limits and back-off.
    pub retry: RetryPolicy,
    /// How long to wait for a role granted to the caller to take effect
    /// when the caller's token is not ours to renew (default 60 s).
    pub grant_wait: Duration,
    /// Told before each retry of a request that got no answer or a
    /// 502/503/504 (the CLI says so on stderr).
    pub on_retry: Option<RetryReporter>,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions {
            concurrency: 10,
            requests_per_minute: 300,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            grant_wait: Duration::from_secs(60),
            on_retry: None,
        }
    }
}

/// What the kind modules share.
pub(crate) struct Ctx {
    pub api: http::Api,
    pub connection: Connection,
    pub options: ProviderOptions,
    pub org: OnceCell<Org>,
    /// The home division as read (see [`org::home_division_entry`]).
    pub home: OnceCell<serde_json::Value>,
    pub identity: OnceCell<caller::Identity>,
    /// The `subjects/me` answer that named a client-credentials caller,
    /// kept for the grants read that follows it (see [`caller::identity`]).
    pub subject_me: std::sync::Mutex<Option<serde_json::Value>>,
    /// Keys the manifest manages, per kind, when the engine said so.
    managed_keys: Mutex<BTreeMap<Kind, BTreeSet<String>>>,
    /// Listings that several data sources of one run read (see [`data::DataCache`]).
    pub data_cache: tokio::sync::Mutex<data::DataCache>,
}

impl Ctx {
    /// A 404 on an object being changed becomes [`ProviderError::NotFound`].
    pub fn gone(&self, err: ProviderError, kind: Kind, id: &GenesysId) -> ProviderError {
        if http::is_not_found(&err) {
            ProviderError::NotFound {
                kind,
                id: id.clone(),
            }
        } else {
            err
        }
    }

    /// Whether the manifest manages `key` of `kind`; `None` when unknown.
    pub fn managed_key(&self, kind: Kind, key: &str) -> Option<bool> {
        let keys = self
            .managed_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        keys.get(&kind).map(|k| k.contains(key))
    }

    pub async fn home_division(&self) -> Result<GenesysId, ProviderError> {
        org::home_division(self).await
    }
}

/// The Genesys Cloud provider.
pub struct GenesysProvider {
    ctx: Ctx,
}

impl std::fmt::Debug for GenesysProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysProvider")
            .field("api_url", &self.ctx.connection.api_url)
            .finish_non_exhaustive()
    }
}

impl GenesysProvider {
    /// Connect: build the HTTP client and, for client credentials, log in
    /// (wrong credentials fail here).
    pub async fn connect(
        conn: Connection,
        opts: ProviderOptions,
    ) -> Result<GenesysProvider, ProviderError> {
        let settings = http::HttpSettings {
            concurrency: opts.concurrency,
            requests_per_minute: opts.requests_per_minute,
            timeout: opts.timeout,
            retry: opts.retry.clone(),
            on_retry: opts.on_retry.clone(),
        };
        let api = http::Api::connect(&conn, &settings).await?;
        Ok(GenesysProvider {
            ctx: Ctx {
                api,
                connection: conn,
                options: opts,
                org: OnceCell::new(),
                home: OnceCell::new(),
                identity: OnceCell::new(),
                subject_me: std::sync::Mutex::new(None),
                managed_keys: Mutex::new(BTreeMap::new()),
                data_cache: tokio::sync::Mutex::default(),
            },
        })
    }

    /// The connection in use (no secret is printable from it).
    pub fn connection(&self) -> &Connection {
        &self.ctx.connection
    }

    /// Read the organization and who the caller is, and keep them: the
    /// first [`Provider::org`] and [`Provider::caller`] then find them read
    /// (or being read). For a command that needs both, started while it
    /// still has other work to do (loading the state). A failure is not
    /// kept: the later call asks again and reports it. Call it only once
    /// the state is locked, when there is a lock: for a client, the answer
    /// that names it also holds its grants, which the next
    /// [`Provider::caller`] takes as current.
    pub async fn read_ahead(&self) {
        let (org, identity) = tokio::join!(org::org(&self.ctx), caller::identity(&self.ctx));
        if let Err(e) = org.and(identity.map(drop)) {
            tracing::debug!(error = %e, "reading ahead failed; asked again when needed");
        }
    }
}

impl Provider for GenesysProvider {
    async fn org(&self) -> Result<Org, ProviderError> {
        org::org(&self.ctx).await
    }

    async fn home_division(&self) -> Result<GenesysId, ProviderError> {
        org::home_division(&self.ctx).await
    }

    async fn caller(&self) -> Result<Caller, ProviderError> {
        caller::caller(&self.ctx).await
    }

    async fn permission_catalog(&self) -> Result<BTreeSet<String>, ProviderError> {
        data::permission_catalog(&self.ctx).await
    }

    async fn data(&self, kind: DataKind, query: &Attrs) -> Result<Vec<Attrs>, ProviderError> {
        data::data(&self.ctx, kind, query).await
    }

    /// Group `members` (a call per group) and an integration's `config`,
    /// `advanced`, `credentials` (a call per integration) are read only
    /// when one of them is in `keys`.
    fn manage_keys(&self, kind: Kind, keys: &BTreeSet<String>) {
        let mut map = self
            .ctx
            .managed_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(kind, keys.clone());
    }

    async fn list(&self, kind: Kind, scope: ListScope<'_>) -> Result<Listing, ProviderError> {
        kinds::ops(kind)
            .list(&self.ctx, scope)
            .instrument(tracing::debug_span!("list", kind = kind.as_str()))
            .await
    }

    async fn read(&self, kind: Kind, id: &GenesysId) -> Result<Option<LiveObject>, ProviderError> {
        kinds::ops(kind)
            .read(&self.ctx, id)
            .instrument(tracing::debug_span!("read", kind = kind.as_str(), id = %id))
            .await
    }

    async fn create(&self, kind: Kind, desired: &Attrs) -> Result<Created, ProviderError> {
        kinds::ops(kind)
            .create(&self.ctx, desired)
            .instrument(tracing::debug_span!("create", kind = kind.as_str()))
            .await
    }

    async fn update(
        &self,
        kind: Kind,
        live: &LiveObject,
        previous: Option<&Attrs>,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<LiveObject, ProviderError> {
        let update = kinds::Update {
            live,
            previous,
            desired,
            changed,
        };
        kinds::ops(kind)
            .update(&self.ctx, update)
            .instrument(tracing::debug_span!("update", kind = kind.as_str(), id = %live.id))
            .await
    }

    async fn delete(
        &self,
        kind: Kind,
        id: &GenesysId,
        previous: Option<&Attrs>,
    ) -> Result<(), ProviderError> {
        kinds::ops(kind)
            .delete(&self.ctx, id, previous)
            .instrument(tracing::debug_span!("delete", kind = kind.as_str(), id = %id))
            .await
    }

    async fn grant_to_caller(&self, grants: &[RoleDivision]) -> Result<(), ProviderError> {
        caller::grant_to_caller(&self.ctx, grants).await
    }

    async fn revoke_from_caller(&self, grants: &[RoleDivision]) -> Result<(), ProviderError> {
        caller::revoke_from_caller(&self.ctx, grants).await
    }

    async fn rotate_secret(&self, id: &GenesysId) -> Result<Secret, ProviderError> {
        oauth_client::rotate_secret(&self.ctx, id).await
    }

    async fn audit_log(
        &self,
        targets: &[(Kind, GenesysId)],
        per_object: usize,
    ) -> Result<AuditLog, ProviderError> {
        audit::audit_log(&self.ctx, targets, per_object)
            .instrument(tracing::debug_span!("audit_log", objects = targets.len()))
            .await
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        self.ctx.api.call_counts()
    }
}
