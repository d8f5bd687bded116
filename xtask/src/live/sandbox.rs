//! The sandbox `cargo xtask live` creates: one object of each kind gcrecon
//! manages, every name starting `gcrecon-live-<random>-`, and the manifest
//! that describes them.
//!
//! The expected values live here once: the manifest is written from them and
//! the API checks compare against them.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};

/// Every name of every run starts with this.
pub const PREFIX: &str = "gcrecon-live-";

/// Permissions of the sandbox role: two domains, two entities of one
/// domain (so policies are merged per domain and entity), all read-only.
/// `routing:queue:view` is also what the client's own token is tried with.
pub const ROLE_PERMISSIONS: &[&str] = &[
    "analytics:conversationAggregate:view",
    "analytics:conversationDetail:view",
    "directory:group:view",
    "routing:queue:view",
];

/// The permission the sandbox client's token is tried with, and the request
/// that needs it.
pub const PROBE_PERMISSION: &str = "routing:queue:view";
pub const PROBE_PATH: &str = "/api/v2/routing/queues?pageSize=1";

/// The integration type of the sandbox integration (a Client Application,
/// created disabled).
pub const INTEGRATION_TYPE: &str = "embedded-client-app";
pub const INTEGRATION_URL: &str = "https://example.com/gcrecon-live-check";

const DESCRIPTION: &str = "gcrecon live check; deleted again at the end of the run";

/// The names of one run's objects.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// `gcrecon-live-<8 hex digits>`
    pub run: String,
    pub with_integration: bool,
}

impl Sandbox {
    /// A sandbox with a fresh random run name.
    pub fn new(with_integration: bool) -> Sandbox {
        Sandbox {
            run: format!("{PREFIX}{:08x}", random_u32()),
            with_integration,
        }
    }

    pub fn division_name(&self) -> String {
        format!("{}-division", self.run)
    }
    pub fn role_name(&self) -> String {
        format!("{}-role", self.run)
    }
    pub fn group_name(&self) -> String {
        format!("{}-group", self.run)
    }
    pub fn client_name(&self) -> String {
        format!("{}-client", self.run)
    }
    pub fn integration_name(&self) -> String {
        format!("{}-integration", self.run)
    }

    pub fn description(&self) -> &'static str {
        DESCRIPTION
    }

    pub fn permissions(&self) -> BTreeSet<String> {
        ROLE_PERMISSIONS.iter().map(|p| (*p).to_owned()).collect()
    }

    /// What the run creates, one line each, for the announcement.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![
            format!("division      {}", self.division_name()),
            format!(
                "role          {}  ({})",
                self.role_name(),
                ROLE_PERMISSIONS.join(", ")
            ),
            format!(
                "group         {}  (official, public, roles enabled)",
                self.group_name()
            ),
            format!(
                "role grant    the role to the group, in the division {}",
                self.division_name()
            ),
            format!(
                "OAuth client  {}  (client credentials, holding the role in that division)",
                self.client_name()
            ),
        ];
        if self.with_integration {
            lines.push(format!(
                "integration   {}  ({INTEGRATION_TYPE}, disabled)",
                self.integration_name()
            ));
        }
        lines
    }

    /// The manifest (`gcrecon.toml`) of the run.
    pub fn manifest(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let permissions = ROLE_PERMISSIONS
            .iter()
            .map(|p| q(p))
            .collect::<Vec<_>>()
            .join(", ");
        let mut m = format!(
            r#"# The sandbox of `cargo xtask live`: created, checked and destroyed again.

[gcrecon]
version = 1
name = "gcrecon-live"

[division.live]
name = {division}
description = {description}

[role.live]
name = {role}
description = {description}
permissions = [{permissions}]
grant_to_caller = "auto"

[group.live]
name = {group}
description = {description}
type = "official"
visibility = "public"
roles_enabled = true

[role_grant.live]
role = "${{role.live.id}}"
subjects = ["${{group.live.id}}"]
divisions = ["${{division.live.id}}"]

[oauth_client.live]
name = {client}
description = {description}
grant_type = "client_credentials"
roles = [{{ role = "${{role.live.id}}", divisions = ["${{division.live.id}}"] }}]

"#,
            division = q(&self.division_name()),
            role = q(&self.role_name()),
            group = q(&self.group_name()),
            client = q(&self.client_name()),
            description = q(DESCRIPTION),
        );
        if self.with_integration {
            m.push_str(&format!(
                r#"
[integration.live]
type = {itype}
name = {name}
enabled = false
notes = {description}

[integration.live.config]
url = {url}
displayType = "standalone"
groups = ["${{group.live.id}}"]
"#,
                itype = q(INTEGRATION_TYPE),
                name = q(&self.integration_name()),
                description = q(DESCRIPTION),
                url = q(INTEGRATION_URL),
            ));
        }
        m
    }
}

/// 32 random bits from the standard library's per-process random hash keys
/// and the clock.
fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    let v = h.finish();
    (v ^ (v >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_carries_the_run_prefix_and_runs_differ() {
        let a = Sandbox::new(true);
        let b = Sandbox::new(true);
        assert_ne!(a.run, b.run);
        assert!(a.run.starts_with(PREFIX) && a.run.len() == PREFIX.len() + 8);
        for name in [
            a.division_name(),
            a.role_name(),
            a.group_name(),
            a.client_name(),
            a.integration_name(),
        ] {
            assert!(name.starts_with(&format!("{}-", a.run)), "{name}");
        }
        assert!(!DESCRIPTION.contains(PREFIX));
    }

    #[test]
    fn the_manifest_validates_offline_with_and_without_the_integration() {
        for with in [true, false] {
            let s = Sandbox::new(with);
            let text = s.manifest();
            let sources = [gcrecon_core::manifest::Source::new(
                "gcrecon.toml",
                text.as_str(),
            )];
            if let Err(d) = gcrecon_core::manifest::load(&sources) {
                panic!("{}\n{text}", d.render(&sources, false));
            }
            assert_eq!(text.contains("[integration.live]"), with);
            assert!(text.contains(&format!("name = \"{}\"", s.role_name())));
        }
    }
}
