//! Generated manifests of any size, for benchmarks (`cargo xtask bench`)
//! and tests: a realistic mix of divisions, roles, groups, OAuth clients
//! holding roles, role grants and integrations, with variables, locals, data
//! sources and references between them.

use std::fmt::Write as _;

use crate::graph::ResourceGraph;

use super::{load, Diagnostics, Source};

/// A valid manifest with exactly `resources` resource blocks.
pub fn generate(resources: usize) -> String {
    let mut s = String::with_capacity(resources * 160 + 1024);
    s.push_str(
        r#"[gcrecon]
version = 1
name = "synthetic"

[variables.prefix]
type = "string"
default = "syn"

[variables.enable_extra]
type = "bool"
default = true

[locals]
codes = { "ap-southeast-2" = "au", "us-east-1" = "useast" }
code = "${local.codes[data.org.region]}"

[data.division.home]
home = true

[data.divisions.all]

[data.role.admin]
name = "Master Admin"
"#,
    );
    // Cycle through six kinds, each referencing earlier blocks of the group.
    for i in 0..resources {
        let g = i / 6;
        let _ = match i % 6 {
            0 => write!(s, "\n[division.d{g}]\nname = \"${{var.prefix}} division {g}\"\ndescription = \"region ${{local.code}}\"\n"),
            1 => write!(
                s,
                "\n[role.r{g}]\nname = \"${{var.prefix}} role {g}\"\npermissions = [\"analytics:conversationDetail:view\", \"routing:queue:view\", \"integration:presence:*\"]\n"
            ),
            2 => write!(
                s,
                "\n[group.g{g}]\nname = \"${{var.prefix}} group {g}\"\nvisibility = \"public\"\nroles_enabled = true\n"
            ),
            3 => write!(
                s,
                "\n[role_grant.rg{g}]\nrole = \"${{role.r{g}.id}}\"\nsubjects = [\"${{group.g{g}.id}}\"]\ndivisions = [\"${{division.d{g}.id}}\"]\n"
            ),
            4 => write!(
                s,
                "\n[oauth_client.c{g}]\nname = \"${{var.prefix}} client {g}\"\ngrant_type = \"client_credentials\"\nroles = [{{ role = \"${{role.r{g}.id}}\", divisions = [\"*\"] }}, {{ role = \"${{data.role.admin.id}}\" }}]\nwhen = \"${{var.enable_extra}}\"\n"
            ),
            _ => write!(
                s,
                "\n[integration.i{g}]\ntype = \"embedded-client-app\"\nname = \"${{var.prefix}} app {g}\"\nconfig = {{ url = \"https://${{local.code}}.example.com/{g}\", groups = [\"${{group.g{g}.id}}\"] }}\n"
            ),
        };
    }
    s
}

/// What `gcrecon validate` and `gcrecon graph` do offline: parse, validate
/// and build the block graph.
pub fn validate_and_graph(sources: &[Source]) -> Result<ResourceGraph, Diagnostics> {
    let m = load(sources)?;
    Ok(m.block_graph())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_manifests_are_valid() {
        let text = generate(60);
        let g =
            validate_and_graph(&[Source::new("syn.toml", text)]).unwrap_or_else(|d| panic!("{d}"));
        // 60 resources, 3 data blocks + data.org, 10 caller grants.
        assert_eq!(g.len(), 60 + 4 + 10 + 1);
    }
}
