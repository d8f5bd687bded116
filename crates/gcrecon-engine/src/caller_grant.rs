//! The caller-grant rule, once for plan and apply: Genesys Cloud lets a
//! caller give an OAuth client only roles the caller itself holds, in the
//! same divisions.
//!
//! The resource graph carries the rule as caller-grant nodes
//! (`role -> caller_grant(role) -> oauth_client`, see
//! [`gcrecon_core::graph`]): `roles_given` reads which roles a client is
//! given from them. `missing_grants` says which (role, division) pairs of
//! a client's `roles` the caller lacks; the planner lists those as the
//! plan's caller grants, and the apply walk grants them just before the
//! client's call (its create or update, or the update that deactivates it
//! before a delete). `refusal` is the one wording for a role that sets
//! `grant_to_caller = "never"`.

use std::collections::BTreeSet;

use gcrecon_core::graph::{NodeKind, ResourceGraph};
use gcrecon_core::provider::RoleDivision;
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Address;

/// `grant_to_caller` of a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantMode {
    /// Granted for the apply, removed afterwards.
    Auto,
    /// Granted and left with the caller.
    Keep,
    /// Never granted: a plan that needs it fails.
    Never,
}

impl GrantMode {
    /// The mode a role's attributes ask for (`auto` when unset).
    pub(crate) fn of(attrs: Option<&Attrs>) -> GrantMode {
        match attrs
            .and_then(|a| a.get("grant_to_caller"))
            .and_then(Value::as_str)
        {
            Some("keep") => GrantMode::Keep,
            Some("never") => GrantMode::Never,
            _ => GrantMode::Auto,
        }
    }
}

/// Pairs (role, division) an OAuth client's `roles` asks for; a role entry
/// without divisions means the home division. Values may be unknown at
/// plan time.
pub(crate) fn client_role_pairs(attrs: &Attrs, home: &str) -> Vec<(Value, Value)> {
    let mut pairs = Vec::new();
    for entry in attrs
        .get("roles")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        let Some(m) = entry.as_map() else { continue };
        let role = m.get("role").cloned().unwrap_or_default();
        let divisions: Vec<Value> = match m.get("divisions") {
            Some(Value::List(d)) if !d.is_empty() => d.clone(),
            Some(Value::Unknown) => vec![Value::Unknown],
            Some(Value::String(s)) => vec![Value::from(s.as_str())],
            _ => vec![Value::from(home)],
        };
        for d in divisions {
            pairs.push((role.clone(), d));
        }
    }
    pairs
}

/// True when the caller's grants cover `role` in `division`.
pub(crate) fn covers(grants: &BTreeSet<RoleDivision>, role: &str, division: &str) -> bool {
    grants.iter().any(|g| {
        g.role_id.as_str() == role
            && (g.division_id.as_str() == "*" || g.division_id.as_str() == division)
    })
}

/// One grant the caller lacks before a client may be given a role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MissingGrant {
    /// The role's id; `None` while the role is still to be created.
    pub role_id: Option<String>,
    /// The division's id; `None` while it is known only after apply.
    pub division: Option<String>,
}

/// The rule: the (role, division) pairs of a client's `roles` that the
/// caller, holding `held`, must be granted first. A pair with an unknown
/// role or division counts as missing. Each pair once, in order.
pub(crate) fn missing_grants(
    attrs: &Attrs,
    home: &str,
    held: &BTreeSet<RoleDivision>,
) -> Vec<MissingGrant> {
    let mut missing: Vec<MissingGrant> = Vec::new();
    for (role, division) in client_role_pairs(attrs, home) {
        let (role, division) = (role.as_str(), division.as_str());
        if let (Some(r), Some(d)) = (role, division) {
            if covers(held, r, d) {
                continue;
            }
        }
        let grant = MissingGrant {
            role_id: role.map(str::to_owned),
            division: division.map(str::to_owned),
        };
        if !missing.contains(&grant) {
            missing.push(grant);
        }
    }
    missing
}

/// The roles a client's `roles` gives it: the roles behind its
/// caller-grant nodes in the graph (managed roles and role data sources).
pub(crate) fn roles_given(graph: &ResourceGraph, client: &Address) -> Vec<Address> {
    graph
        .dependencies(&NodeKind::Resource(client.clone()))
        .into_iter()
        .filter_map(|n| match n {
            NodeKind::CallerGrant { role } => Some(role),
            _ => None,
        })
        .collect()
}

/// The error (message, hint) when `client` needs the caller to hold `role`
/// in `divisions` and the role sets `grant_to_caller = "never"`.
pub(crate) fn refusal(
    client: &Address,
    role: &Address,
    role_name: &str,
    divisions: &[String],
    caller_name: &str,
) -> (String, String) {
    (
        format!(
            "{client} gives {role} (`{role_name}`) to an OAuth client, which Genesys Cloud allows only to a caller holding that role in the same divisions ({}); the caller `{caller_name}` does not, and {role} sets grant_to_caller = \"never\"",
            divisions.join(", ")
        ),
        format!(
            "grant {role} to the caller yourself, or set grant_to_caller = \"auto\" (granted for the apply, removed afterwards) or \"keep\" on {role}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcrecon_core::graph::EdgeReason;
    use gcrecon_core::provider::GenesysId;

    fn roles(entries: Vec<(Value, Option<Vec<&str>>)>) -> Attrs {
        let list = entries
            .into_iter()
            .map(|(role, divisions)| {
                let mut m = Attrs::new();
                m.insert("role".into(), role);
                if let Some(d) = divisions {
                    m.insert(
                        "divisions".into(),
                        Value::List(d.into_iter().map(Value::from).collect()),
                    );
                }
                Value::Map(m)
            })
            .collect();
        let mut a = Attrs::new();
        a.insert("roles".into(), Value::List(list));
        a
    }

    fn held(pairs: &[(&str, &str)]) -> BTreeSet<RoleDivision> {
        pairs
            .iter()
            .map(|(r, d)| RoleDivision {
                role_id: GenesysId::from(*r),
                division_id: GenesysId::from(*d),
            })
            .collect()
    }

    #[test]
    fn only_pairs_the_caller_lacks_are_missing_and_unknowns_count() {
        let attrs = roles(vec![
            (Value::from("r1"), None),
            (Value::from("r2"), Some(vec!["d1", "d2"])),
            (Value::from("r3"), Some(vec!["d9"])),
            (Value::Unknown, None),
            (Value::from("r2"), Some(vec!["d2"])),
        ]);
        let caller = held(&[("r1", "home"), ("r2", "d1"), ("r3", "*")]);
        let missing = missing_grants(&attrs, "home", &caller);
        let grant = |r: Option<&str>, d: Option<&str>| MissingGrant {
            role_id: r.map(str::to_owned),
            division: d.map(str::to_owned),
        };
        assert_eq!(
            missing,
            vec![grant(Some("r2"), Some("d2")), grant(None, Some("home"))],
            "r1 is held in the home division, r3 everywhere, r2 in d2 only once"
        );
        let mut unknown_division = Attrs::new();
        let mut entry = Attrs::new();
        entry.insert("role".into(), Value::from("r1"));
        entry.insert("divisions".into(), Value::Unknown);
        unknown_division.insert("roles".into(), Value::List(vec![Value::Map(entry)]));
        assert_eq!(
            missing_grants(&unknown_division, "home", &caller),
            vec![grant(Some("r1"), None)]
        );
    }

    #[test]
    fn the_roles_given_are_those_behind_the_clients_caller_grant_nodes() {
        let client = Address::resource(Kind::OauthClient, "api");
        let given = Address::resource(Kind::Role, "given");
        let referenced = Address::resource(Kind::Role, "referenced");
        let mut g = ResourceGraph::new();
        let grant = NodeKind::CallerGrant {
            role: given.clone(),
        };
        g.add_edge(
            NodeKind::Resource(given.clone()),
            grant.clone(),
            EdgeReason::CallerGrant,
        );
        g.add_edge(
            grant,
            NodeKind::Resource(client.clone()),
            EdgeReason::CallerGrant,
        );
        g.add_edge(
            NodeKind::Resource(referenced),
            NodeKind::Resource(client.clone()),
            EdgeReason::Reference,
        );
        assert_eq!(roles_given(&g, &client), vec![given]);
    }

    #[test]
    fn a_refusal_names_the_client_the_role_and_the_way_out() {
        let client = Address::resource(Kind::OauthClient, "api");
        let role = Address::resource(Kind::Role, "admin");
        let (message, hint) = refusal(&client, &role, "Admin", &["d1".into()], "ci");
        assert!(message.contains("oauth_client.api gives role.admin (`Admin`)"));
        assert!(message.contains("(d1)") && message.contains("`ci`"));
        assert!(message.contains("grant_to_caller = \"never\""));
        assert!(hint.contains("grant role.admin to the caller yourself"));
    }

    use crate::error::EngineError;

    use crate::planner::PlanOptions;

    use crate::testkit::*;

    use gcrecon_core::plan::CallerGrantAction;
    use gcrecon_core::provider::CallerKind;

    use gcrecon_core::value::Value;
    use gcrecon_core::{Address, Kind};

    #[tokio::test]
    async fn the_caller_is_granted_a_role_before_a_client_gets_it_and_loses_it_after() {
        for caller in [CallerKind::User, CallerKind::Client] {
            let h = Harness::new(caller);
            let m = load_manifest(CLIENT);
            let p = h.plan(&m).await;
            assert_eq!(p.plan.caller_grants.len(), 1, "{:?}", p.plan.caller_grants);
            let g = &p.plan.caller_grants[0];
            assert_eq!(g.role.to_string(), "role.reader");
            assert_eq!(g.action, CallerGrantAction::Grant);
            assert!(g.temporary);
            assert_eq!(g.divisions, ["*"]);
            assert_eq!(g.needed_by[0].to_string(), "oauth_client.api");
            let report = h.apply_planned(&m, p).await;
            assert!(report.succeeded(), "{report:#?}");
            let (granted, revoked) = h
                .provider
                .with(|o| (o.granted_to_caller.clone(), o.revoked_from_caller.clone()));
            assert_eq!(granted.len(), 1);
            assert_eq!(revoked, granted, "auto grants are removed after the walk");
            assert!(h.state().caller_grants.is_empty());
            assert_eq!(h.provider.objects_of(Kind::OauthClient).len(), 1);
            h.assert_clean(&m).await;
        }
    }

    #[tokio::test]
    async fn grant_to_caller_never_fails_the_plan_and_keep_keeps_it() {
        let h = Harness::new(CallerKind::User);
        let never = load_manifest(&CLIENT.replace(
            "permissions = [\"routing:queue:view\"]",
            "permissions = [\"routing:queue:view\"]\ngrant_to_caller = \"never\"",
        ));
        let err = h
            .plan_with(&never, PlanOptions::default())
            .await
            .unwrap_err();
        let EngineError::Manifest(d) = err else {
            panic!("{err}")
        };
        let text = d.render(&never.manifest.sources(), false);
        assert!(text.contains("grant_to_caller = \"never\""), "{text}");

        let keep = load_manifest(&CLIENT.replace(
            "permissions = [\"routing:queue:view\"]",
            "permissions = [\"routing:queue:view\"]\ngrant_to_caller = \"keep\"",
        ));
        let p = h.plan(&keep).await;
        assert!(!p.plan.caller_grants[0].temporary);
        h.converge(&keep).await;
        assert!(h.provider.with(|o| o.revoked_from_caller.is_empty()));
        assert!(
            h.state().caller_grants.is_empty(),
            "kept grants are the caller's, not gcrecon's"
        );
        h.assert_clean(&keep).await;
    }
}
