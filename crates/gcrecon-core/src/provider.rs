//! The [`Provider`] trait: everything the engine asks of Genesys Cloud.
//!
//! The engine talks to the organization only through this trait, in the
//! manifest's vocabulary: objects are [`LiveObject`]s whose `attrs` use
//! manifest keys (`permissions`, `grant_type`, `roles`), with references
//! already resolved to Genesys ids. The mapping to wire fields lives in the
//! provider, one module per kind. The trait is async through plain
//! `impl Future` return types, so this crate needs no async runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::address::Name;
use crate::kind::{DataKind, Kind};
use crate::secret::Secret;
use crate::value::Attrs;

/// A Genesys Cloud object id (a UUID for most kinds; the provider name for
/// identity providers; the role id for a `role_grant`).
#[derive(Clone, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(
    not(feature = "count-comparisons"),
    derive(PartialEq, Eq, PartialOrd, Ord)
)]
#[cfg_attr(
    feature = "count-comparisons",
    allow(clippy::derived_hash_with_manual_eq)
)]
#[serde(transparent)]
pub struct GenesysId(pub Name);

/// The derived comparisons, each counted (see [`crate::comparisons`]).
#[cfg(feature = "count-comparisons")]
mod counted_id {
    use super::GenesysId;
    use std::cmp::Ordering;

    impl PartialEq for GenesysId {
        fn eq(&self, other: &Self) -> bool {
            crate::comparisons::tick();
            self.0 == other.0
        }
    }

    impl Eq for GenesysId {}

    impl PartialOrd for GenesysId {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for GenesysId {
        fn cmp(&self, other: &Self) -> Ordering {
            crate::comparisons::tick();
            self.0.cmp(&other.0)
        }
    }
}

impl GenesysId {
    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GenesysId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for GenesysId {
    fn from(s: &str) -> Self {
        GenesysId(s.into())
    }
}

impl From<String> for GenesysId {
    fn from(s: String) -> Self {
        GenesysId(s.into())
    }
}

/// An object as it exists in the organization, in manifest vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveObject {
    pub kind: Kind,
    pub id: GenesysId,
    /// The display name, used to find an object again after a crash and to
    /// adopt existing objects.
    pub name: String,
    /// Manifest keys to values as read. Keys gcrecon does not manage are
    /// left out; ids stay ids.
    pub attrs: Attrs,
    /// A fingerprint of the object's server-side version (the `version`
    /// field where the kind has one, else a hash of the attrs), recorded in
    /// saved plans to detect changes between plan and apply.
    pub version: String,
    /// Built-in objects (default roles, the home division) are never managed
    /// or reported as unmanaged.
    pub builtin: bool,
}

/// The result of a create.
#[derive(Debug)]
pub struct Created {
    pub object: LiveObject,
    /// A secret returned only at creation (an OAuth client's secret).
    pub secret: Option<Secret>,
}

/// Which objects of a kind a refresh needs.
#[derive(Clone, Copy, Debug)]
pub enum ListScope<'a> {
    /// Every object of the kind (drift, export, coverage figures).
    All,
    /// At least the objects with these ids, and those with these names
    /// (to adopt or to find a create that was not recorded). The provider
    /// picks the cheapest way: all list pages, or id-filtered batches, or
    /// by-id reads; objects beyond these may be returned too.
    Only {
        ids: &'a [GenesysId],
        names: &'a [String],
    },
}

/// What a refresh of one kind found.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub objects: Vec<LiveObject>,
    /// True when `objects` is every object of the kind the caller can see.
    pub complete: bool,
}

/// Audit-log entries by object (see [`Provider::audit_log`]).
pub type AuditLog = BTreeMap<(Kind, GenesysId), Vec<crate::drift::AuditEntry>>;

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    User,
    Client,
}

/// A role granted in a division (`division_id` may be `*`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoleDivision {
    pub role_id: GenesysId,
    pub division_id: GenesysId,
}

/// The caller behind the token and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub kind: CallerKind,
    /// The user id, or the OAuth client id.
    pub id: GenesysId,
    pub name: String,
    /// Roles the caller holds, per division.
    pub grants: BTreeSet<RoleDivision>,
    /// The permissions those roles give.
    pub permissions: BTreeSet<String>,
}

/// The organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub short_name: String,
    /// AWS region name (`ap-southeast-2`), or empty when unknown.
    pub region: String,
    /// Public domain (`mypurecloud.com.au`), or empty when unknown.
    pub domain: String,
    pub api_url: String,
    pub login_url: String,
}

/// Why a provider call failed. The engine decides from the variant whether
/// a failure means "gone" ([`ProviderError::NotFound`]) or must abort.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The object does not exist (a 404 on a by-id read).
    #[error("{kind} {id} was not found")]
    NotFound { kind: Kind, id: GenesysId },
    /// The caller lacks a permission.
    #[error("permission denied: {message}")]
    Forbidden {
        message: String,
        /// The permissions named by the service.
        permissions: Vec<String>,
        correlation_id: Option<String>,
    },
    /// Any other refusal by the API (after the retry policy gave up).
    #[error("{method} {path} failed with {status}: {message} (code {code}{})", correlation_id.as_ref().map(|c| format!(", correlation id {c}")).unwrap_or_default())]
    Api {
        method: String,
        path: String,
        status: u16,
        code: String,
        message: String,
        correlation_id: Option<String>,
    },
    /// Login failed or no credentials were given.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The network failed after all retries.
    #[error("{0}")]
    Transport(String),
    /// The request could not be built from the attributes given.
    #[error("{0}")]
    Invalid(String),
}

/// Everything the engine needs from Genesys Cloud.
pub trait Provider: Send + Sync {
    /// The organization behind the connection.
    fn org(&self) -> impl Future<Output = Result<Org, ProviderError>> + Send;

    /// The organization's home division. Separate from [`Provider::org`]:
    /// nothing evaluated from the manifest needs it, so a plan reads it
    /// alongside the live objects rather than before them.
    fn home_division(&self) -> impl Future<Output = Result<GenesysId, ProviderError>> + Send;

    /// The caller behind the token, with its current grants.
    fn caller(&self) -> impl Future<Output = Result<Caller, ProviderError>> + Send;

    /// Every permission in the organization's catalog.
    fn permission_catalog(
        &self,
    ) -> impl Future<Output = Result<BTreeSet<String>, ProviderError>> + Send;

    /// Look up a data source; returns every match (the engine reports none
    /// or several as an error). `query` holds the data block's keys.
    fn data(
        &self,
        kind: DataKind,
        query: &Attrs,
    ) -> impl Future<Output = Result<Vec<Attrs>, ProviderError>> + Send;

    /// The keys of `kind` the caller will use: those of its manifest (plan)
    /// or those it writes (export). A provider may then skip per-object
    /// reads of keys nobody uses (a call per object); before it is told,
    /// it reads them for [`ListScope::Only`] and [`Provider::read`], and
    /// not for [`ListScope::All`]. The default ignores the hint.
    fn manage_keys(&self, kind: Kind, keys: &BTreeSet<String>) {
        let _ = (kind, keys);
    }

    /// List objects of a kind. A failed read is an error, never an empty list.
    fn list(
        &self,
        kind: Kind,
        scope: ListScope<'_>,
    ) -> impl Future<Output = Result<Listing, ProviderError>> + Send;

    /// Read one object; `Ok(None)` only when the service says it is gone.
    fn read(
        &self,
        kind: Kind,
        id: &GenesysId,
    ) -> impl Future<Output = Result<Option<LiveObject>, ProviderError>> + Send;

    /// Create an object from fully known attributes.
    fn create(
        &self,
        kind: Kind,
        desired: &Attrs,
    ) -> impl Future<Output = Result<Created, ProviderError>> + Send;

    /// Update an object in place. `live` is what the refresh saw; `previous`
    /// the attributes gcrecon last applied (a `role_grant` removes only
    /// grants it applied itself); `changed` the keys of `desired` that the
    /// plan's diff found different from `live`, sorted. A provider sends
    /// only the requests those keys need and never diffs again.
    fn update(
        &self,
        kind: Kind,
        live: &LiveObject,
        previous: Option<&Attrs>,
        desired: &Attrs,
        changed: &[String],
    ) -> impl Future<Output = Result<LiveObject, ProviderError>> + Send;

    /// Delete an object. `previous` as for [`Provider::update`].
    fn delete(
        &self,
        kind: Kind,
        id: &GenesysId,
        previous: Option<&Attrs>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Grant roles to the caller itself and return once the current
    /// credentials can use them.
    fn grant_to_caller(
        &self,
        grants: &[RoleDivision],
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Remove grants from the caller itself.
    fn revoke_from_caller(
        &self,
        grants: &[RoleDivision],
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Regenerate an OAuth client's secret.
    fn rotate_secret(
        &self,
        id: &GenesysId,
    ) -> impl Future<Output = Result<Secret, ProviderError>> + Send;

    /// The latest audit-log entries (at most `per_object` each, newest
    /// first) about each of `targets`, from the last 14 days, by kind and
    /// id; objects without entries are left out. Queries are batched: no
    /// request per object. A caller without the audit permission gets
    /// [`ProviderError::Forbidden`].
    fn audit_log(
        &self,
        targets: &[(Kind, GenesysId)],
        per_object: usize,
    ) -> impl Future<Output = Result<AuditLog, ProviderError>> + Send;

    /// API calls made so far, by `METHOD /path/{template}`.
    fn call_counts(&self) -> BTreeMap<String, u64>;
}
