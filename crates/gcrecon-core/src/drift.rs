//! The drift model: how the live organization differs from what gcrecon
//! manages (`gcrecon drift`).
//!
//! The engine builds a [`DriftReport`] by comparing live objects with the
//! state and the manifest; the CLI renders it (human, markdown, JSON). Like a
//! plan, a report never holds a secret: the renderers also mask every key that
//! [`crate::schema::sensitive_attributes`] names.
//!
//! Each finding carries the latest audit-log entries about its object
//! ([`AuditEntry`]): who changed it (a named user or OAuth client, gcrecon's
//! own client marked as such), when, the action and each property's old and
//! new values, as the organization's audit log recorded them.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::kind::Kind;
use crate::provider::GenesysId;
use crate::value::Value;

/// The JSON format version of drift reports (`format_version`).
pub const DRIFT_FORMAT_VERSION: u32 = 1;

/// Everything `gcrecon drift` found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Managed objects whose live values differ from the expected ones.
    #[serde(default)]
    pub drifted: Vec<DriftedObject>,
    /// Managed objects recorded in the state that no longer exist live.
    #[serde(default)]
    pub missing: Vec<MissingObject>,
    /// Live objects of managed kinds that gcrecon does not manage (built-in
    /// objects excluded).
    #[serde(default)]
    pub unmanaged: Vec<UnmanagedObject>,
    /// Per kind, how many of the organization's objects gcrecon manages.
    #[serde(default)]
    pub coverage: Vec<Coverage>,
    /// Why findings carry no audit entries, when attribution was not done
    /// (skipped, or the caller may not read the audit log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_note: Option<String>,
}

/// Who made an audited change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Client,
}

/// The author of an audited change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditActor {
    pub kind: ActorKind,
    /// The user id or OAuth client id.
    pub id: String,
    /// The user's or client's name, when the organization tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// True when the change was made by the OAuth client gcrecon runs as.
    #[serde(default)]
    pub gcrecon: bool,
}

impl std::fmt::Display for AuditActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ActorKind::User => "user",
            ActorKind::Client => "OAuth client",
        };
        match &self.name {
            Some(name) => write!(f, "{what} {name} ({})", self.id)?,
            None => write!(f, "{what} {}", self.id)?,
        }
        if self.gcrecon {
            f.write_str(" [gcrecon's own client]")?;
        }
        Ok(())
    }
}

/// One property of an audited change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChange {
    pub property: String,
    #[serde(default)]
    pub old: Vec<String>,
    #[serde(default)]
    pub new: Vec<String>,
}

/// One audit-log entry about a finding's object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When (ISO-8601, as the audit log wrote it).
    pub at: String,
    /// `Create`, `Update`, `Delete`, `Add`, `Remove`, ...
    pub action: String,
    pub actor: AuditActor,
    /// The audit service that recorded it.
    pub service: String,
    #[serde(default)]
    pub changes: Vec<AuditChange>,
}

/// A managed object changed outside gcrecon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftedObject {
    pub address: Address,
    pub kind: Kind,
    pub id: GenesysId,
    /// The keys that differ, sorted by key.
    pub changes: Vec<KeyChange>,
    /// The latest audit entries about the object, newest first.
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
}

/// One key whose live value differs from the expected one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key: String,
    /// What the manifest (as last applied) says.
    pub expected: Value,
    /// What the organization holds now.
    pub actual: Value,
}

/// A managed object that is gone from the organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingObject {
    pub address: Address,
    pub kind: Kind,
    /// The id the state recorded.
    pub id: GenesysId,
    /// The latest audit entries about the object, newest first.
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
}

/// A live object that no manifest block manages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmanagedObject {
    pub kind: Kind,
    pub id: GenesysId,
    /// The display name.
    pub name: String,
    /// The latest audit entries about the object, newest first.
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
}

/// How much of one kind gcrecon manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub kind: Kind,
    /// Objects of the kind under management.
    pub managed: usize,
    /// Objects of the kind in the organization (built-in objects excluded).
    pub total: usize,
}

/// Counts for the drift summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftSummary {
    pub drifted: usize,
    pub missing: usize,
    pub unmanaged: usize,
}

impl DriftReport {
    /// True when a managed object changed or disappeared: what `apply`
    /// would have to repair. Unmanaged objects alone are not drift.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty() || !self.missing.is_empty()
    }

    /// True when anything at all was found, unmanaged objects included.
    pub fn has_findings(&self) -> bool {
        self.has_drift() || !self.unmanaged.is_empty()
    }

    /// Counts of drifted, missing and unmanaged objects.
    pub fn summary(&self) -> DriftSummary {
        DriftSummary {
            drifted: self.drifted.len(),
            missing: self.missing.len(),
            unmanaged: self.unmanaged.len(),
        }
    }
}

impl std::fmt::Display for DriftSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Drift: {} changed, {} missing, {} unmanaged.",
            self.drifted, self.missing, self.unmanaged
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_is_changed_or_missing_objects() {
        let mut report = DriftReport::default();
        assert!(!report.has_findings());
        report.unmanaged.push(UnmanagedObject {
            kind: Kind::Group,
            id: GenesysId::from("g1"),
            name: "Sales".into(),
            audit: vec![],
        });
        assert!(report.has_findings());
        assert!(!report.has_drift());
        report.missing.push(MissingObject {
            address: Address::resource(Kind::Role, "r"),
            kind: Kind::Role,
            id: GenesysId::from("r1"),
            audit: vec![],
        });
        assert!(report.has_drift());
        assert_eq!(
            report.summary().to_string(),
            "Drift: 0 changed, 1 missing, 1 unmanaged."
        );
        let json = serde_json::to_string(&report).unwrap();
        let back: DriftReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, report);
    }
}
