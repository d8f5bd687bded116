//! The fixture: a TOML file that seeds the simulated org.
//!
//! Every key is optional; an unknown key is an error naming it (serde's
//! `deny_unknown_fields`). See `docs/simulator.md` for the format.

use serde::Deserialize;
use std::path::Path;

/// A parsed fixture.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// The org itself.
    #[serde(default)]
    pub org: OrgFixture,
    /// Extra divisions ("Home" always exists).
    #[serde(default)]
    pub divisions: Vec<DivisionFixture>,
    /// Users.
    #[serde(default)]
    pub users: Vec<UserFixture>,
    /// OAuth clients (client-credentials).
    #[serde(default)]
    pub oauth_clients: Vec<ClientFixture>,
    /// Routing queues.
    #[serde(default)]
    pub queues: Vec<QueueFixture>,
    /// Extra unmanaged roles.
    #[serde(default)]
    pub roles: Vec<RoleFixture>,
    /// Existing groups.
    #[serde(default)]
    pub groups: Vec<GroupFixture>,
    /// Catalog additions.
    #[serde(default)]
    pub catalog: CatalogFixture,
    /// Extra integration types.
    #[serde(default)]
    pub integration_types: Vec<IntegrationTypeFixture>,
}

/// `[org]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFixture {
    /// Org id (generated otherwise).
    pub id: Option<String>,
    /// Org name.
    pub name: Option<String>,
    /// Short name (`thirdPartyOrgName`).
    pub short_name: Option<String>,
    /// AWS region, e.g. `ap-southeast-2`.
    pub region: Option<String>,
}

/// `[[divisions]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DivisionFixture {
    /// Division name.
    pub name: String,
}

/// `[[users]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFixture {
    /// Email (also the username).
    pub email: String,
    /// Full name (defaults to the email).
    pub name: Option<String>,
    /// Division name (default Home).
    pub division: Option<String>,
    /// Role names, granted in the home division.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[[oauth_clients]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFixture {
    /// Client name.
    pub name: String,
    /// Client id (generated otherwise).
    pub client_id: Option<String>,
    /// Client secret (generated otherwise).
    pub client_secret: Option<String>,
    /// Role names, granted in the home division.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `[[queues]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFixture {
    /// Queue name.
    pub name: String,
    /// Division name (default Home).
    pub division: Option<String>,
    /// Member users (emails or ids): the queue's agents.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `[[roles]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFixture {
    /// Role name.
    pub name: String,
    /// Permissions (must be in the catalog).
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// `[[groups]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFixture {
    /// Group name.
    pub name: String,
    /// Member emails.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `[catalog]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFixture {
    /// Permissions added to the catalog (and to the `admin` role).
    #[serde(default)]
    pub extra_permissions: Vec<String>,
}

/// `[[integration_types]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationTypeFixture {
    /// Type id.
    pub id: String,
    /// Display name (defaults to the id).
    pub name: Option<String>,
    /// Config property names it accepts (all optional, any JSON type).
    #[serde(default)]
    pub properties: Vec<String>,
}

/// A fixture that could not be read or parsed.
#[derive(Debug)]
pub struct FixtureError(pub String);

impl std::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixtureError {}

impl Fixture {
    /// Parses fixture TOML text.
    pub fn parse(text: &str) -> Result<Fixture, FixtureError> {
        toml::from_str(text).map_err(|e| FixtureError(format!("invalid fixture: {e}")))
    }

    /// Reads and parses a fixture file.
    pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FixtureError(format!("cannot read fixture {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| FixtureError(format!("{}: {}", path.display(), e.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example() {
        let f = Fixture::parse(
            r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"
[[divisions]]
name = "Sales"
[[users]]
email = "admin@acme.example"
name = "Ada Admin"
division = "Home"
roles = ["admin"]
[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
[[queues]]
name = "Support"
division = "Home"
members = ["admin@acme.example"]
[[roles]]
name = "Legacy"
permissions = ["routing:queue:view"]
[[groups]]
name = "Supervisors"
members = ["admin@acme.example"]
[catalog]
extra_permissions = ["integration:emiteApps:view"]
[[integration_types]]
id = "acme-presence"
name = "Acme Presence"
properties = ["apiKey", "region"]
"#,
        )
        .unwrap();
        assert_eq!(f.org.short_name.as_deref(), Some("acme"));
        assert_eq!(f.oauth_clients[0].client_id.as_deref(), Some("ci-client"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Fixture::parse("[org]\nnmae = \"x\"\n").unwrap_err();
        assert!(e.0.contains("nmae"), "{e}");
        let e = Fixture::parse("[[users]]\nemail = \"a@b\"\nrole = []\n").unwrap_err();
        assert!(e.0.contains("role"), "{e}");
        let e = Fixture::parse("bogus = 1\n").unwrap_err();
        assert!(e.0.contains("bogus"), "{e}");
    }
}
