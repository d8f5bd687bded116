//! The state format: what gcrecon remembers between runs.
//!
//! A [`State`] records, per managed address, the Genesys id of the object,
//! the attributes gcrecon last applied and last read, and the live version
//! seen; plus operations that were started but not yet confirmed (a create
//! whose answer may have been lost in a crash), role grants gcrecon gave the
//! caller, the data source values and the non-sensitive outputs of the last
//! apply. It never holds a secret: sensitive attribute values are replaced by
//! [`crate::plan::SENSITIVE_PLACEHOLDER`] before they get here.
//!
//! This module is pure: [`State::from_json`] and [`State::to_json`] convert
//! text; reading, locking and atomic writes are the engine's job.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::kind::Kind;
use crate::plan::SENSITIVE_PLACEHOLDER;
use crate::provider::GenesysId;
use crate::value::{Attrs, Value};

/// The state format version this build reads and writes.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// A whole state file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Always [`STATE_FORMAT_VERSION`] when written by this build.
    pub format_version: u32,
    /// A uuid fixed when the state is first created; a saved plan made
    /// against one lineage is never applied to another.
    pub lineage: String,
    /// Incremented on every write.
    pub serial: u64,
    /// The manifest's `[gcrecon] name`.
    #[serde(default)]
    pub manifest_name: String,
    /// sha256 of the manifest sources last applied.
    #[serde(default)]
    pub manifest_sha256: String,
    /// The organization this state belongs to; a state from another
    /// organization is refused. `None` until the first apply.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Managed objects, sorted by address (an invariant: [`State::from_json`]
    /// sorts, [`State::upsert_resource`] inserts in order), so that
    /// [`State::resource`] is a binary search, not a scan per instance.
    #[serde(default)]
    pub resources: Vec<ResourceState>,
    /// Operations started but not confirmed (written before the API call).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingOperation>,
    /// Roles gcrecon granted to the caller and has not removed yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caller_grants: Vec<CallerGrantRecord>,
    /// Data source values of the last apply (ids and names, never secrets),
    /// so `gcrecon output` can evaluate outputs offline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<Address, Attrs>,
    /// Outputs of the last apply; sensitive ones without their value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, OutputState>,
}

/// One managed object.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(from = "ResourceStateFile")]
pub struct ResourceState {
    pub address: Address,
    pub kind: Kind,
    /// The Genesys id.
    pub id: GenesysId,
    /// The display name when last seen.
    pub name: String,
    /// The attributes gcrecon last applied (manifest keys, ids resolved).
    pub applied: Attrs,
    /// The attributes last read from the organization, when they differ
    /// from `applied` (`None`: as applied, the usual case, kept once in
    /// memory). The state file always holds both; see
    /// [`ResourceState::read`] and [`read_differing`].
    pub read: Option<Attrs>,
    /// The live version last seen.
    pub version: String,
    /// Addresses this object depended on when last applied, so that it is
    /// deleted before them even once it has left the manifest.
    pub dependencies: Vec<Address>,
    /// `prevent_destroy` as last applied; kept so that removing the block
    /// from the manifest does not silently allow the delete.
    pub prevent_destroy: bool,
    /// Keys whose values are sensitive (stored as a placeholder).
    pub sensitive_keys: Vec<String>,
}

impl ResourceState {
    /// The attributes last read from the organization.
    pub fn read(&self) -> &Attrs {
        self.read.as_ref().unwrap_or(&self.applied)
    }
}

/// The `read` of a [`ResourceState`] whose `applied` is `applied`.
pub fn read_differing(applied: &Attrs, read: Attrs) -> Option<Attrs> {
    (read != *applied).then_some(read)
}

/// The `format_version` of a state document that starts with it
/// (`{ "format_version": 1, ...`, as gcrecon writes it); `None` for any
/// other start, which is then read the long way.
fn leading_format_version(text: &str) -> Option<u64> {
    let rest = text.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix("\"format_version\"")?.trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let after = rest[digits..].trim_start();
    if digits == 0 || !(after.starts_with(',') || after.starts_with('}')) {
        return None;
    }
    rest[..digits].parse().ok()
}

/// A [`ResourceState`] as the state file holds it (read).
#[derive(Deserialize)]
struct ResourceStateFile {
    address: Address,
    kind: Kind,
    id: GenesysId,
    name: String,
    #[serde(default)]
    applied: Attrs,
    #[serde(default)]
    read: Attrs,
    #[serde(default)]
    version: String,
    #[serde(default)]
    dependencies: Vec<Address>,
    #[serde(default)]
    prevent_destroy: bool,
    #[serde(default)]
    sensitive_keys: Vec<String>,
}

/// A [`ResourceState`] as the state file holds it (written).
#[derive(Serialize)]
struct ResourceStateOut<'a> {
    address: &'a Address,
    kind: Kind,
    id: &'a GenesysId,
    name: &'a str,
    applied: &'a Attrs,
    read: &'a Attrs,
    version: &'a str,
    #[serde(skip_serializing_if = "<[Address]>::is_empty")]
    dependencies: &'a [Address],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    prevent_destroy: bool,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    sensitive_keys: &'a [String],
}

impl From<ResourceStateFile> for ResourceState {
    fn from(f: ResourceStateFile) -> Self {
        ResourceState {
            read: read_differing(&f.applied, f.read),
            address: f.address,
            kind: f.kind,
            id: f.id,
            name: f.name,
            applied: f.applied,
            version: f.version,
            dependencies: f.dependencies,
            prevent_destroy: f.prevent_destroy,
            sensitive_keys: f.sensitive_keys,
        }
    }
}

impl Serialize for ResourceState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ResourceStateOut {
            address: &self.address,
            kind: self.kind,
            id: &self.id,
            name: &self.name,
            applied: &self.applied,
            read: self.read(),
            version: &self.version,
            dependencies: &self.dependencies,
            prevent_destroy: self.prevent_destroy,
            sensitive_keys: &self.sensitive_keys,
        }
        .serialize(serializer)
    }
}

/// What kind of operation is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// A create was sent; if its answer was lost, the object is found again
    /// by name on the next refresh and adopted, not duplicated.
    Create,
    /// A delete was sent.
    Delete,
}

/// An operation written to state before its API call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOperation {
    pub address: Address,
    pub kind: Kind,
    pub operation: PendingKind,
    /// The name the object was created with.
    pub name: String,
    /// The id, for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<GenesysId>,
    /// When the operation started (RFC 3339).
    pub started: String,
}

/// Whether a caller grant is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerGrantStatus {
    /// Written before the grant call: the caller may or may not hold it.
    Granting,
    /// The caller holds it because gcrecon granted it.
    Held,
    /// Written before the revoke call.
    Revoking,
}

/// A role gcrecon granted to the caller, to be removed once nothing needs it
/// (`grant_to_caller = "auto"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerGrantRecord {
    /// The role's address (`role.adapter`, `data.role.x`).
    pub role: Address,
    pub role_id: GenesysId,
    /// A division id, or `*`.
    pub division_id: GenesysId,
    /// The caller it was granted to (user or OAuth client id).
    pub caller_id: GenesysId,
    pub status: CallerGrantStatus,
}

/// An output as of the last apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputState {
    /// The value; absent when sensitive or not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Why a text is not a state this build can use. The file is never
/// overwritten in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum StateFormatError {
    #[error("the state is not valid JSON (truncated or corrupted?): {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the state is not a JSON object")]
    NotAnObject,
    #[error("the state has no numeric `format_version`")]
    NoFormatVersion,
    #[error("the state has format_version {found}, but this gcrecon reads only format_version {supported}")]
    UnsupportedVersion { found: u64, supported: u32 },
    #[error("the state does not match format_version {version}: {source}")]
    Invalid {
        version: u32,
        #[source]
        source: serde_json::Error,
    },
    #[error("the state has two entries for {0}")]
    DuplicateAddress(Address),
}

impl State {
    /// An empty state with a new lineage.
    pub fn new(lineage: impl Into<String>, manifest_name: impl Into<String>) -> Self {
        State {
            format_version: STATE_FORMAT_VERSION,
            lineage: lineage.into(),
            serial: 0,
            manifest_name: manifest_name.into(),
            manifest_sha256: String::new(),
            org_id: None,
            resources: Vec::new(),
            pending: Vec::new(),
            caller_grants: Vec::new(),
            data: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Parse a state file's text, checking the format version first so that
    /// a newer format is reported as such and not as a parse error.
    pub fn from_json(text: &str) -> Result<State, StateFormatError> {
        // The version first, read without building the document (a state
        // of many resources is large): the rest is decoded straight into
        // the `State` of that version.
        #[derive(Deserialize)]
        struct Header {
            format_version: Option<serde_json::Value>,
        }
        // gcrecon writes `format_version` first: read it off the start
        // rather than scanning the whole document for it.
        let found = match leading_format_version(text) {
            Some(found) => found,
            None => {
                let header: Header = match serde_json::from_str(text) {
                    Ok(h) => h,
                    Err(e) if e.is_data() => {
                        return match serde_json::from_str::<serde_json::Value>(text) {
                            Err(e) => Err(StateFormatError::NotJson(e)),
                            Ok(_) => Err(StateFormatError::NotAnObject),
                        }
                    }
                    Err(e) => return Err(StateFormatError::NotJson(e)),
                };
                header
                    .format_version
                    .as_ref()
                    .and_then(serde_json::Value::as_u64)
                    .ok_or(StateFormatError::NoFormatVersion)?
            }
        };
        if found != u64::from(STATE_FORMAT_VERSION) {
            return Err(StateFormatError::UnsupportedVersion {
                found,
                supported: STATE_FORMAT_VERSION,
            });
        }
        let mut state: State = serde_json::from_str(text).map_err(|source| {
            if source.is_data() {
                StateFormatError::Invalid {
                    version: STATE_FORMAT_VERSION,
                    source,
                }
            } else {
                StateFormatError::NotJson(source)
            }
        })?;
        // A file written by hand (or by another tool) may not be sorted.
        state.resources.sort_by(|a, b| a.address.cmp(&b.address));
        // Decoding grew the list by doubling: give the rest back.
        state.resources.shrink_to_fit();
        if let Some(pair) = state
            .resources
            .windows(2)
            .find(|w| w[0].address == w[1].address)
        {
            return Err(StateFormatError::DuplicateAddress(pair[0].address.clone()));
        }
        Ok(state)
    }

    /// The state as pretty JSON (resources sorted by address), ending in a newline.
    pub fn to_json(&self) -> String {
        let mut sorted = self.clone();
        sorted.resources.sort_by(|a, b| a.address.cmp(&b.address));
        let mut text = serde_json::to_string_pretty(&sorted).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Where `address` is (`Ok`) or would be inserted (`Err`) in the
    /// sorted `resources`: O(log n) address comparisons.
    fn position(&self, address: &Address) -> Result<usize, usize> {
        self.resources.binary_search_by(|r| r.address.cmp(address))
    }

    /// Where the record of `address` is in `resources`, looking first at
    /// `hint`: a walk in address order that passes the position after the
    /// last one found finds each record with one comparison.
    pub fn position_near(&self, address: &Address, hint: usize) -> Option<usize> {
        crate::vecmap::search_near(&self.resources, hint, address, |r| &r.address).ok()
    }

    /// The record of an address.
    pub fn resource(&self, address: &Address) -> Option<&ResourceState> {
        let index = self.position(address).ok()?;
        self.resources.get(index)
    }

    /// The record of an address, mutable. The address itself must not be
    /// changed through it (the records are kept sorted by address).
    pub fn resource_mut(&mut self, address: &Address) -> Option<&mut ResourceState> {
        let index = self.position(address).ok()?;
        self.resources.get_mut(index)
    }

    /// Insert or replace the record of `resource.address`.
    pub fn upsert_resource(&mut self, resource: ResourceState) {
        match self.position(&resource.address) {
            Ok(index) => self.resources[index] = resource,
            Err(index) => self.resources.insert(index, resource),
        }
    }

    /// Remove the record of an address; returns it.
    pub fn remove_resource(&mut self, address: &Address) -> Option<ResourceState> {
        let index = self.position(address).ok()?;
        Some(self.resources.remove(index))
    }

    /// Drop pending operations of an address.
    pub fn clear_pending(&mut self, address: &Address) {
        self.pending.retain(|p| &p.address != address);
    }
}

/// A copy of `attrs` with the values of `sensitive_keys` replaced by the
/// placeholder, fit for state and plans.
pub fn redact(attrs: &Attrs, sensitive_keys: &[String]) -> Attrs {
    attrs
        .iter()
        .map(|(k, v)| {
            if sensitive_keys.iter().any(|s| s == k) {
                (k.clone(), Value::string(SENSITIVE_PLACEHOLDER))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::new("2b1f8a4e-0000-4000-8000-000000000000", "demo");
        s.serial = 3;
        s.org_id = Some("org-1".into());
        s.upsert_resource(ResourceState {
            address: "role.b".parse().unwrap(),
            kind: Kind::Role,
            id: GenesysId::from("r2"),
            name: "B".into(),
            applied: Attrs::from([("name".to_owned(), Value::from("B"))]),
            read: Some(Attrs::new()),
            version: "1".into(),
            dependencies: vec![],
            prevent_destroy: false,
            sensitive_keys: vec![],
        });
        s.upsert_resource(ResourceState {
            address: "role.a".parse().unwrap(),
            kind: Kind::Role,
            id: GenesysId::from("r1"),
            name: "A".into(),
            applied: Attrs::new(),
            read: None,
            version: "1".into(),
            dependencies: vec!["division.d".parse().unwrap()],
            prevent_destroy: true,
            sensitive_keys: vec![],
        });
        s.data.insert(
            "data.org".parse().unwrap(),
            Attrs::from([("id".to_owned(), Value::from("org-1"))]),
        );
        s
    }

    #[test]
    fn read_like_applied_is_kept_once_and_written_in_full() {
        let mut s = sample();
        let name = Attrs::from([("name".to_owned(), Value::from("A"))]);
        let a = s.resource_mut(&"role.a".parse().unwrap()).unwrap();
        a.applied = name.clone();
        a.read = read_differing(&a.applied, name.clone());
        assert_eq!(a.read, None);
        let text = s.to_json();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let file = |address: &str| {
            json["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["address"] == address)
                .unwrap()
                .clone()
        };
        assert_eq!(file("role.a")["read"], serde_json::json!({"name": "A"}));
        assert_eq!(file("role.b")["read"], serde_json::json!({}));
        let back = State::from_json(&text).unwrap();
        assert_eq!(back, s);
        let b = back.resource(&"role.b".parse().unwrap()).unwrap();
        assert_eq!(b.read(), &Attrs::new());
        assert_eq!(
            back.resource(&"role.a".parse().unwrap()).unwrap().read(),
            &name
        );
    }

    #[test]
    fn a_record_is_found_near_a_hint_or_by_search() {
        let s = sample();
        let a: Address = "role.a".parse().unwrap();
        let b: Address = "role.b".parse().unwrap();
        assert_eq!(s.position_near(&a, 0), Some(0));
        assert_eq!(s.position_near(&b, 1), Some(1));
        // A hint at another record, or past the end: searched.
        assert_eq!(s.position_near(&b, 0), Some(1));
        assert_eq!(s.position_near(&a, 9), Some(0));
        assert_eq!(s.position_near(&"role.c".parse().unwrap(), 1), None);
    }

    #[test]
    fn state_round_trips_sorted() {
        let s = sample();
        assert_eq!(s.resources[0].address.to_string(), "role.a");
        let text = s.to_json();
        let back = State::from_json(&text).unwrap();
        assert_eq!(back, s);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn the_leading_format_version_is_read_off_the_start_only() {
        assert_eq!(
            leading_format_version("{\n  \"format_version\": 1,\n"),
            Some(1)
        );
        assert_eq!(
            leading_format_version(" {\"format_version\" : 12 }"),
            Some(12)
        );
        for other in [
            "{\"lineage\": \"x\", \"format_version\": 1}",
            "{\"format_version\": \"1\"}",
            "{\"format_version\": 1.5}",
            "{\"format_version\": -1}",
            "[\"format_version\", 1]",
            "{\"format_version\": 1",
        ] {
            assert_eq!(leading_format_version(other), None, "{other}");
        }
        let late = "{\"lineage\": \"x\", \"serial\": 0, \"format_version\": 7}";
        assert!(State::from_json(late)
            .unwrap_err()
            .to_string()
            .contains("format_version 7"));
    }

    #[test]
    fn bad_states_are_refused_with_a_reason() {
        let text = sample().to_json();
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            State::from_json(truncated),
            Err(StateFormatError::NotJson(_))
        ));
        assert!(matches!(
            State::from_json("[]"),
            Err(StateFormatError::NotAnObject)
        ));
        assert!(matches!(
            State::from_json("{}"),
            Err(StateFormatError::NoFormatVersion)
        ));
        let newer = text.replacen("\"format_version\": 1", "\"format_version\": 7", 1);
        let err = State::from_json(&newer).unwrap_err();
        assert!(err.to_string().contains("format_version 7"), "{err}");
        let broken = text.replacen("\"serial\": 3", "\"serial\": \"three\"", 1);
        assert!(matches!(
            State::from_json(&broken),
            Err(StateFormatError::Invalid { .. })
        ));
    }

    #[test]
    fn an_unsorted_file_is_sorted_on_read_and_found_by_address() {
        let s = sample();
        let mut json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        json["resources"].as_array_mut().unwrap().reverse();
        let back = State::from_json(&json.to_string()).unwrap();
        assert_eq!(back, s);
        for r in &s.resources {
            assert_eq!(back.resource(&r.address), Some(r));
        }
        assert!(back.resource(&"role.c".parse().unwrap()).is_none());
        let dup = json["resources"][0].clone();
        json["resources"].as_array_mut().unwrap().push(dup);
        assert!(matches!(
            State::from_json(&json.to_string()),
            Err(StateFormatError::DuplicateAddress(_))
        ));
    }

    #[test]
    fn upsert_and_remove_keep_the_records_sorted() {
        let mut s = sample();
        let mut extra = s.resources[0].clone();
        extra.address = "group.a".parse().unwrap();
        s.upsert_resource(extra);
        extra = s.resources[0].clone();
        extra.address = "role.aa".parse().unwrap();
        s.upsert_resource(extra);
        assert!(s.resources.windows(2).all(|w| w[0].address < w[1].address));
        assert!(s.remove_resource(&"role.aa".parse().unwrap()).is_some());
        assert!(s.remove_resource(&"role.aa".parse().unwrap()).is_none());
        assert_eq!(s.resources.len(), 3);
        assert!(s.resource(&"group.a".parse().unwrap()).is_some());
    }

    #[test]
    fn redact_hides_sensitive_values() {
        let attrs = Attrs::from([
            ("config".to_owned(), Value::from("secret-ish")),
            ("name".to_owned(), Value::from("n")),
        ]);
        let r = redact(&attrs, &["config".to_owned()]);
        assert_eq!(r["config"], Value::from(SENSITIVE_PLACEHOLDER));
        assert_eq!(r["name"], Value::from("n"));
    }
}
