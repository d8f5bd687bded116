//! The Genesys provider against gcsim: every kind's round trip, caller
//! grants, rate-limit and fault storms, permission errors, call counts at
//! scale, and that no secret reaches a log line or an error.
//!
//! `test_support::Sim` talks to gcsim with a blocking client, so tests are
//! plain `#[test]`s that drive the provider through [`run`] on a shared
//! runtime and call the sim's hooks outside it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use gcrecon_core::provider::{
    GenesysId, ListScope, LiveObject, Provider, ProviderError, RoleDivision,
};
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::{DataKind, Kind, Secret};
use gcrecon_genesys::{Connection, GenesysProvider, ProviderOptions, RetryPolicy};
use serde_json::{json, Value as Json};
use test_support::Sim;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Run a future to completion on the shared runtime.
fn run<F: Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// Fast retries: the storms should not take long.
fn fast_options() -> ProviderOptions {
    ProviderOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(500),
            ..RetryPolicy::default()
        },
        grant_wait: Duration::from_secs(20),
        ..ProviderOptions::default()
    }
}

fn admin(sim: &Sim) -> GenesysProvider {
    admin_with(sim, fast_options())
}

fn admin_with(sim: &Sim, opts: ProviderOptions) -> GenesysProvider {
    let conn = Connection::with_client_credentials(
        sim.url(),
        sim.admin_client_id(),
        Secret::new(sim.admin_client_secret()),
    )
    .unwrap();
    run(GenesysProvider::connect(conn, opts)).unwrap()
}

fn with_token(sim: &Sim, token: &str) -> GenesysProvider {
    let conn = Connection::with_access_token(sim.url(), Secret::new(token)).unwrap();
    run(GenesysProvider::connect(conn, fast_options())).unwrap()
}

/// Attributes from JSON.
#[allow(clippy::needless_pass_by_value)] // callers pass `json!(...)` directly
fn attrs(j: Json) -> Attrs {
    match Value::from_json(&j) {
        Value::Map(m) => m,
        other => panic!("not a table: {other}"),
    }
}

/// `Provider::update` with the changed keys the plan's diff would give
/// (`live` against `desired`), as the engine passes them.
async fn update(
    p: &GenesysProvider,
    kind: Kind,
    live: &LiveObject,
    previous: Option<&Attrs>,
    desired: &Attrs,
) -> Result<LiveObject, ProviderError> {
    let changed = gcrecon_core::diff::diff(&gcrecon_core::diff::DiffInput {
        kind,
        desired,
        live: &live.attrs,
        applied: previous,
        ignore_changes: &[],
        home_division_id: None,
    })
    .changed_keys;
    p.update(kind, live, previous, desired, &changed).await
}

fn strings(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn only<'a>(ids: &'a [GenesysId], names: &'a [String]) -> ListScope<'a> {
    ListScope::Only { ids, names }
}

/// Calls of one route in `/_sim/stats`.
fn route_calls(stats: &Json, route: &str) -> u64 {
    stats["by_route"][route].as_u64().unwrap_or(0)
}

const FIXTURE: &str = r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[divisions]]
name = "Sales"

[[users]]
email = "ada@acme.example"
name = "Ada Admin"
roles = ["admin"]

[[users]]
email = "bob@acme.example"
name = "Bob Agent"
roles = ["employee"]

[[users]]
email = "carol@acme.example"
name = "Carol Agent"
division = "Sales"
roles = ["employee"]

[[users]]
email = "dan@acme.example"
name = "Dan Agent"
roles = ["employee"]

[[queues]]
name = "Support"
members = ["bob@acme.example", "dan@acme.example"]

[[groups]]
name = "Supervisors"
members = ["bob@acme.example", "carol@acme.example"]
"#;

fn acme() -> Sim {
    Sim::builder().fixture_toml(FIXTURE).start()
}

/// User ids by email, from the dump.
fn user_ids(sim: &Sim) -> BTreeMap<String, String> {
    let dump = sim.dump();
    dump["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["email"].as_str().unwrap().to_owned(),
                u["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

mod kinds {
    use super::*;

    #[test]
    fn division_round_trip() {
        let sim = acme();
        let p = admin(&sim);
        let created = run(p.create(
            Kind::Division,
            &attrs(json!({"name": "EMEA", "description": "Europe"})),
        ))
        .unwrap();
        let d = created.object;
        assert_eq!((d.name.as_str(), d.builtin), ("EMEA", false));
        let read = run(p.read(Kind::Division, &d.id)).unwrap().unwrap();
        assert_eq!(read.attrs, d.attrs);
        let listed = run(p.list(Kind::Division, only(&[], &["EMEA".into()]))).unwrap();
        assert_eq!(listed.objects.len(), 1);
        let all = run(p.list(Kind::Division, ListScope::All)).unwrap();
        assert!(all.complete && all.objects.iter().any(|o| o.builtin && o.name == "Home"));
        let updated = run(update(
            &p,
            Kind::Division,
            &d,
            None,
            &attrs(json!({"name": "EMEA", "description": "Europe & Africa"})),
        ))
        .unwrap();
        assert_eq!(updated.attrs["description"], Value::from("Europe & Africa"));
        assert_ne!(updated.version, d.version);
        run(p.delete(Kind::Division, &d.id, None)).unwrap();
        assert!(run(p.read(Kind::Division, &d.id)).unwrap().is_none());
        // A listing by id no longer finds it, and says so by leaving it out.
        let gone = run(p.list(Kind::Division, only(std::slice::from_ref(&d.id), &[]))).unwrap();
        assert!(gone.objects.is_empty());
    }

    /// A queue: created with its division and settings, found by name and
    /// id, updated in place by a `PUT` that keeps what gcrecon does not
    /// manage (the fixture queue's agents, settings set by hand), deleted.
    #[test]
    fn queue_round_trip() {
        let sim = acme();
        let p = admin(&sim);
        let sales = sim.dump()["divisions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == "Sales")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let desired = attrs(json!({
            "name": "Claims", "division": sales, "description": "Motor claims",
            "acw_wrapup_prompt": "MANDATORY_TIMEOUT", "acw_timeout_ms": 60000,
            "skill_evaluation_method": "BEST", "scoring_method": "TimestampAndPriority",
            "auto_answer_only": true, "enable_transcription": false,
            "enable_manual_assignment": false, "suppress_in_queue_call_recording": true,
            "enable_audio_monitoring": false,
        }));
        let q = run(p.create(Kind::Queue, &desired)).unwrap().object;
        assert_eq!(q.attrs, desired, "the queue reads back as created");
        let read = run(p.read(Kind::Queue, &q.id)).unwrap().unwrap();
        assert_eq!(read.attrs, desired);
        let listed = run(p.list(Kind::Queue, only(&[], &["Claims".into()]))).unwrap();
        assert_eq!(listed.objects.len(), 1);
        let all = run(p.list(Kind::Queue, ListScope::All)).unwrap();
        assert_eq!(all.objects.len(), 2, "the fixture's Support and Claims");

        // Set by hand: a setting gcrecon does not manage.
        sim.mutate(
            json!({"kind": "queue", "name": "Claims", "set": {"callingPartyName": "Acme Claims"}}),
        );
        let mut changed = desired.clone();
        changed.insert("acw_wrapup_prompt".into(), Value::from("OPTIONAL"));
        let updated = run(update(&p, Kind::Queue, &read, Some(&desired), &changed)).unwrap();
        assert_eq!(updated.id, q.id, "updated in place");
        assert_eq!(updated.attrs["acw_wrapup_prompt"], Value::from("OPTIONAL"));
        assert_eq!(updated.attrs["acw_timeout_ms"], Value::from(60_000_i64));
        assert_eq!(updated.attrs["division"], Value::from(sales.as_str()));
        assert_eq!(
            updated.attrs["calling_party_name"],
            Value::from("Acme Claims")
        );
        assert_ne!(updated.version, q.version);

        run(p.delete(Kind::Queue, &q.id, None)).unwrap();
        assert!(run(p.read(Kind::Queue, &q.id)).unwrap().is_none());
        run(p.delete(Kind::Queue, &q.id, None)).unwrap();
    }

    #[test]
    fn role_round_trip() {
        let sim = acme();
        let p = admin(&sim);
        let desired = attrs(
            json!({"name": "Adapter", "description": "d", "permissions": ["routing:queue:view", "analytics:conversationDetail:view"]}),
        );
        let r = run(p.create(Kind::Role, &desired)).unwrap().object;
        assert_eq!(strings(r.attrs.get("permissions")).len(), 2);
        let read = run(p.read(Kind::Role, &r.id)).unwrap().unwrap();
        assert_eq!(read.attrs, r.attrs);
        let desired = attrs(json!({"name": "Adapter 2", "permissions": ["routing:queue:view"]}));
        let u = run(update(&p, Kind::Role, &r, None, &desired)).unwrap();
        assert_eq!(u.name, "Adapter 2");
        assert_eq!(
            strings(u.attrs.get("permissions")),
            BTreeSet::from(["routing:queue:view".to_owned()])
        );
        let dump = sim.dump();
        let role = dump["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(r.id.as_str()))
            .unwrap()
            .clone();
        assert_eq!(role["name"], json!("Adapter 2"));
        // Built-in roles are built in.
        let all = run(p.list(Kind::Role, ListScope::All)).unwrap();
        assert!(all
            .objects
            .iter()
            .any(|o| o.builtin && o.name == "employee"));
        run(p.delete(Kind::Role, &r.id, None)).unwrap();
        assert!(run(p.read(Kind::Role, &r.id)).unwrap().is_none());
        // A refused create carries the Genesys message.
        let bad = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "employee", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap_err();
        assert!(
            matches!(
                bad,
                ProviderError::Api {
                    status: 400 | 409,
                    ..
                }
            ),
            "{bad}"
        );
    }

    #[test]
    fn group_round_trip_with_members_in_batches() {
        let sim = acme();
        sim.populate(json!({"users": 120}));
        let users = user_ids(&sim);
        let many: Vec<String> = users
            .iter()
            .filter(|(e, _)| !e.ends_with("acme.example"))
            .map(|(_, id)| id.clone())
            .take(110)
            .collect();
        assert_eq!(many.len(), 110);
        let ada = users["ada@acme.example"].clone();
        let p = admin(&sim);
        let desired = attrs(json!({
            "name": "Agents", "description": "all agents", "type": "official", "visibility": "public",
            "rules_visible": true, "roles_enabled": true, "owners": [ada], "members": many,
        }));
        let g = run(p.create(Kind::Group, &desired)).unwrap().object;
        assert_eq!(strings(g.attrs.get("members")).len(), 110);
        assert_eq!(
            strings(g.attrs.get("owners")),
            BTreeSet::from([ada.clone()])
        );
        let read = run(p.read(Kind::Group, &g.id)).unwrap().unwrap();
        assert_eq!(read.attrs, g.attrs);
        // 110 members: three POSTs of at most 50.
        assert_eq!(
            run(async { p.call_counts() })["POST /api/v2/groups/{groupId}/members"],
            3
        );
        // Drop 60, add 2, rename.
        let mut next: Vec<String> = many[60..].to_vec();
        next.push(users["bob@acme.example"].clone());
        next.push(users["dan@acme.example"].clone());
        let desired = attrs(json!({"name": "Agents (all)", "members": next, "owners": [ada]}));
        let u = run(update(&p, Kind::Group, &read, None, &desired)).unwrap();
        assert_eq!(u.name, "Agents (all)");
        assert_eq!(
            strings(u.attrs.get("members")),
            next.iter().cloned().collect()
        );
        let again = run(p.read(Kind::Group, &g.id)).unwrap().unwrap();
        assert_eq!(strings(again.attrs.get("members")).len(), 52);
        assert_eq!(again.attrs.get("visibility"), Some(&Value::from("public")));
        // Found by name as well.
        let by_name = run(p.list(Kind::Group, only(&[], &["Agents (all)".into()]))).unwrap();
        assert_eq!(by_name.objects.len(), 1);
        run(p.delete(Kind::Group, &g.id, None)).unwrap();
        assert!(run(p.read(Kind::Group, &g.id)).unwrap().is_none());
    }

    #[test]
    fn oauth_client_round_trip() {
        let sim = acme();
        let p = admin(&sim);
        let desired = attrs(json!({
            "name": "portal", "description": "login", "grant_type": "code",
            "redirect_uris": ["https://portal.example/cb"], "scopes": ["users:readonly"], "token_ttl_seconds": 3600,
        }));
        let created = run(p.create(Kind::OauthClient, &desired)).unwrap();
        let secret = created.secret.expect("a secret on create");
        assert!(!secret.expose().is_empty());
        let c = created.object;
        assert_eq!(c.attrs["grant_type"], Value::from("code"));
        assert_eq!(c.attrs["state"], Value::from("active"));
        assert!(!format!("{:?}", c).contains(secret.expose()));
        let read = run(p.read(Kind::OauthClient, &c.id)).unwrap().unwrap();
        assert_eq!(read.attrs, c.attrs);
        let listed =
            run(p.list(Kind::OauthClient, only(std::slice::from_ref(&c.id), &[]))).unwrap();
        assert_eq!(listed.objects.len(), 1);
        let u = run(update(&p, Kind::OauthClient, &read, None, &attrs(json!({"name": "portal", "grant_type": "code", "token_ttl_seconds": 7200, "state": "inactive"})))).unwrap();
        assert_eq!(u.attrs["token_ttl_seconds"], Value::from(7200));
        assert_eq!(u.attrs["state"], Value::from("inactive"));
        // Keys the manifest leaves out keep their live values.
        assert_eq!(
            strings(u.attrs.get("scopes")),
            BTreeSet::from(["users:readonly".to_owned()])
        );
        let rotated = run(p.rotate_secret(&c.id)).unwrap();
        assert_ne!(rotated.expose(), secret.expose());
        // An active client is made inactive before the delete.
        let other = run(p.create(Kind::OauthClient, &attrs(json!({"name": "other", "grant_type": "implicit", "redirect_uris": ["https://x.example"]})))).unwrap().object;
        assert_eq!(other.attrs["grant_type"], Value::from("implicit"));
        run(p.delete(Kind::OauthClient, &other.id, None)).unwrap();
        run(p.delete(Kind::OauthClient, &c.id, None)).unwrap();
        assert!(run(p.read(Kind::OauthClient, &c.id)).unwrap().is_none());
        assert!(run(p.read(Kind::OauthClient, &other.id)).unwrap().is_none());
    }

    #[test]
    fn integration_round_trip() {
        let sim = acme();
        let p = admin(&sim);
        let desired = attrs(json!({
            "type": "embedded-client-app", "name": "Emite", "enabled": true, "notes": "managed",
            "config": {"url": "https://app.example/x", "displayType": "standalone"},
        }));
        let i = run(p.create(Kind::Integration, &desired)).unwrap().object;
        assert_eq!(i.attrs["enabled"], Value::Bool(true));
        assert_eq!(i.attrs["type"], Value::from("embedded-client-app"));
        assert_eq!(
            i.attrs["config"].as_map().unwrap()["url"],
            Value::from("https://app.example/x")
        );
        let read = run(p.read(Kind::Integration, &i.id)).unwrap().unwrap();
        assert_eq!(read.attrs, i.attrs);
        let dump = sim.dump();
        let wire = dump["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(i.id.as_str()))
            .unwrap()
            .clone();
        assert_eq!(wire["intendedState"], json!("ENABLED"), "{wire}");
        let desired = attrs(
            json!({"type": "embedded-client-app", "name": "Emite 2", "enabled": false, "config": {"url": "https://app.example/y"}}),
        );
        let u = run(update(&p, Kind::Integration, &read, None, &desired)).unwrap();
        assert_eq!(u.name, "Emite 2");
        assert_eq!(u.attrs["enabled"], Value::Bool(false));
        let config = u.attrs["config"].as_map().unwrap();
        assert_eq!(config["url"], Value::from("https://app.example/y"));
        // A property the manifest leaves out keeps its value.
        assert_eq!(config["displayType"], Value::from("standalone"));
        // Listing reads the configuration without a call per integration.
        let before = run(async { p.call_counts() });
        let listed =
            run(p.list(Kind::Integration, only(std::slice::from_ref(&i.id), &[]))).unwrap();
        assert_eq!(
            listed.objects[0].attrs,
            run(p.read(Kind::Integration, &i.id))
                .unwrap()
                .unwrap()
                .attrs
        );
        let after = run(async { p.call_counts() });
        let config_calls = |c: &BTreeMap<String, u64>| {
            c.get("GET /api/v2/integrations/{integrationId}/config/current")
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(config_calls(&before), config_calls(&after));
        run(p.delete(Kind::Integration, &i.id, None)).unwrap();
        assert!(run(p.read(Kind::Integration, &i.id)).unwrap().is_none());
    }

    #[test]
    fn identity_provider_round_trip() {
        let sim = acme();
        let p = admin(&sim);
        let id = GenesysId::from("pureengage");
        assert!(run(p.read(Kind::IdentityProvider, &id)).unwrap().is_none());
        let desired = attrs(json!({
            "provider": "pureengage", "issuerURI": "https://idp.example/issuer",
            "ssoTargetURI": "https://idp.example/sso", "disabled": false,
        }));
        let created = run(p.create(Kind::IdentityProvider, &desired))
            .unwrap()
            .object;
        assert_eq!(created.id, id);
        assert_eq!(
            created.attrs["issuerURI"],
            Value::from("https://idp.example/issuer")
        );
        let listed = run(p.list(Kind::IdentityProvider, ListScope::All)).unwrap();
        assert_eq!(listed.objects.len(), 1);
        let u = run(update(
            &p,
            Kind::IdentityProvider,
            &created,
            None,
            &attrs(json!({"provider": "pureengage", "disabled": true})),
        ))
        .unwrap();
        assert_eq!(u.attrs["disabled"], Value::Bool(true));
        assert_eq!(
            u.attrs["ssoTargetURI"],
            Value::from("https://idp.example/sso")
        );
        run(p.delete(Kind::IdentityProvider, &id, None)).unwrap();
        assert!(run(p.read(Kind::IdentityProvider, &id)).unwrap().is_none());
    }

    #[test]
    fn role_grant_round_trip_touches_only_its_own_pairs() {
        let sim = acme();
        let users = user_ids(&sim);
        let (bob, carol, dan) = (
            users["bob@acme.example"].clone(),
            users["carol@acme.example"].clone(),
            users["dan@acme.example"].clone(),
        );
        let p = admin(&sim);
        let home = run(p.home_division()).unwrap();
        let role = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Agent", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap()
        .object;
        let group = run(p.create(
            Kind::Group,
            &attrs(json!({"name": "Team", "roles_enabled": true})),
        ))
        .unwrap()
        .object;
        // A grant someone else made: never touched.
        let outside = attrs(
            json!({"role": role.id.as_str(), "subjects": [dan], "divisions": [home.as_str()]}),
        );
        run(p.create(Kind::RoleGrant, &outside)).unwrap();

        let desired =
            attrs(json!({"role": role.id.as_str(), "subjects": [bob, group.id.as_str()]}));
        let g = run(p.create(Kind::RoleGrant, &desired)).unwrap().object;
        assert_eq!(g.id, role.id);
        let read = run(p.read(Kind::RoleGrant, &role.id)).unwrap().unwrap();
        let pairs = |o: &LiveObject| -> BTreeSet<(String, String)> {
            o.attrs["grants"]
                .as_list()
                .unwrap()
                .iter()
                .map(|m| {
                    let m = m.as_map().unwrap();
                    (
                        m["subject"].as_str().unwrap().to_owned(),
                        m["division"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        let h = home.as_str().to_owned();
        assert_eq!(
            pairs(&read),
            BTreeSet::from([
                (bob.clone(), h.clone()),
                (dan.clone(), h.clone()),
                (group.id.0.to_string(), h.clone())
            ])
        );
        assert_eq!(pairs(&read), pairs(&g));
        // The group was granted as a group.
        let dump = sim.dump();
        let group_grant = dump["grants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["subjectId"] == json!(group.id.as_str()))
            .cloned();
        assert_eq!(group_grant.unwrap()["subjectType"], json!("PC_GROUP"));

        // Replace bob by carol, in every division.
        let next = attrs(
            json!({"role": role.id.as_str(), "subjects": [carol, group.id.as_str()], "divisions": ["*"]}),
        );
        let u = run(update(&p, Kind::RoleGrant, &read, Some(&desired), &next)).unwrap();
        let now = run(p.read(Kind::RoleGrant, &role.id)).unwrap().unwrap();
        assert_eq!(pairs(&u), pairs(&now));
        let live = pairs(&now);
        assert!(
            !live.contains(&(bob, h.clone())),
            "bob's grant was ours to remove"
        );
        assert!(live.contains(&(carol, "*".to_owned())));
        assert!(
            live.contains(&(dan.clone(), h.clone())),
            "dan's grant is not ours"
        );
        // The group's home grant was ours but is no longer desired; its * grant is.
        assert!(live.contains(&(group.id.0.to_string(), "*".to_owned())));

        run(p.delete(Kind::RoleGrant, &role.id, Some(&next))).unwrap();
        let after = pairs(&run(p.read(Kind::RoleGrant, &role.id)).unwrap().unwrap());
        assert_eq!(after, BTreeSet::from([(dan, h)]));
        let listed =
            run(p.list(Kind::RoleGrant, only(std::slice::from_ref(&role.id), &[]))).unwrap();
        assert_eq!(listed.objects.len(), 1);
    }

    #[test]
    fn data_sources_and_catalog() {
        let sim = acme();
        let p = admin(&sim);
        let q = |j: Json| attrs(j);
        let org = run(p.data(DataKind::Org, &Attrs::new())).unwrap();
        assert_eq!(org[0]["short_name"], Value::from("acme"));
        assert_eq!(org[0]["api_url"], Value::from(sim.url()));
        let caller = run(p.data(DataKind::Caller, &Attrs::new())).unwrap();
        assert_eq!(caller[0]["kind"], Value::from("client"));
        assert_eq!(caller[0]["id"], Value::from(sim.admin_client_id()));
        let home = run(p.data(DataKind::Division, &q(json!({"home": true})))).unwrap();
        assert_eq!(home[0]["name"], Value::from("Home"));
        let sales = run(p.data(DataKind::Division, &q(json!({"name": "Sales"})))).unwrap();
        assert_eq!(sales.len(), 1);
        let divisions =
            run(p.data(DataKind::Divisions, &q(json!({"names": ["Sales", "Home"]})))).unwrap();
        assert_eq!(divisions[0]["names"], Value::strings(["Sales", "Home"]));
        assert!(run(p.data(DataKind::Divisions, &q(json!({"names": ["Nope"]})))).is_err());
        let user = run(p.data(DataKind::User, &q(json!({"email": "bob@acme.example"})))).unwrap();
        assert_eq!(user.len(), 1);
        assert_eq!(user[0]["name"], Value::from("Bob Agent"));
        let users = user_ids(&sim);
        let in_sales = run(p.data(DataKind::Users, &q(json!({"division": "Sales"})))).unwrap();
        assert_eq!(
            in_sales[0]["ids"],
            Value::strings([users["carol@acme.example"].clone()])
        );
        let supervisors =
            run(p.data(DataKind::Users, &q(json!({"group": "Supervisors"})))).unwrap();
        assert_eq!(strings(supervisors[0].get("ids")).len(), 2);
        let both = run(p.data(
            DataKind::Users,
            &q(json!({"group": "Supervisors", "division": "Sales"})),
        ))
        .unwrap();
        assert_eq!(
            both[0]["ids"],
            Value::strings([users["carol@acme.example"].clone()])
        );
        // A queue's agents, by name or id, combined with other filters (AND);
        // `emails[i]` belongs to `ids[i]`.
        let agents = run(p.data(DataKind::Users, &q(json!({"queue": "Support"})))).unwrap();
        let mut want = [
            (users["bob@acme.example"].clone(), "bob@acme.example"),
            (users["dan@acme.example"].clone(), "dan@acme.example"),
        ];
        want.sort();
        assert_eq!(
            agents[0]["ids"],
            Value::strings(want.iter().map(|(id, _)| id.clone()))
        );
        assert_eq!(
            agents[0]["emails"],
            Value::strings(want.iter().map(|(_, e)| *e))
        );
        let queue = run(p.data(DataKind::Queue, &q(json!({"name": "Support"})))).unwrap();
        let queue_id = queue[0]["id"].as_str().unwrap().to_owned();
        let by_id = run(p.data(DataKind::Users, &q(json!({"queue": queue_id})))).unwrap();
        assert_eq!(by_id[0]["ids"], agents[0]["ids"]);
        let supervising_agents = run(p.data(
            DataKind::Users,
            &q(json!({"queue": "Support", "group": "Supervisors"})),
        ))
        .unwrap();
        assert_eq!(
            supervising_agents[0]["emails"],
            Value::strings(["bob@acme.example"])
        );
        let admins = run(p.data(DataKind::Users, &q(json!({"role": "admin"})))).unwrap();
        assert_eq!(admins[0]["emails"], Value::strings(["ada@acme.example"]));
        let employee = run(p.data(DataKind::Role, &q(json!({"name": "employee"})))).unwrap();
        let employee_id = employee[0]["id"].as_str().unwrap().to_owned();
        let employed_agents = run(p.data(
            DataKind::Users,
            &q(json!({"role": employee_id, "queue": "Support", "division": "Home"})),
        ))
        .unwrap();
        assert_eq!(employed_agents[0]["ids"], agents[0]["ids"]);
        let nowhere = run(p.data(DataKind::Users, &q(json!({"queue": "Nope"})))).unwrap();
        assert!(nowhere.is_empty());
        assert!(run(p.data(DataKind::Users, &Attrs::new())).is_err());
        assert_eq!(queue.len(), 1);
        assert!(queue[0]["division_id"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        let role = run(p.data(DataKind::Role, &q(json!({"name": "employee"})))).unwrap();
        assert_eq!(role.len(), 1);
        let by_name = run(p.data(
            DataKind::IntegrationType,
            &q(json!({"name": "Client Application"})),
        ))
        .unwrap();
        assert_eq!(by_name[0]["id"], Value::from("embedded-client-app"));
        let by_id = run(p.data(
            DataKind::IntegrationType,
            &q(json!({"id": "embedded-client-app"})),
        ))
        .unwrap();
        assert_eq!(by_id.len(), 1);
        assert!(
            run(p.data(DataKind::IntegrationType, &q(json!({"id": "no-such-type"}))))
                .unwrap()
                .is_empty()
        );
        let catalog = run(p.permission_catalog()).unwrap();
        assert!(
            catalog.contains("routing:queue:view") && catalog.len() > 100,
            "{}",
            catalog.len()
        );
    }
}

mod caller {
    use super::*;

    /// Create a role, try to give it to a client (refused: the caller lacks
    /// it), grant it to the caller, create the client, revoke.
    fn grant_then_create_client(sim: &Sim, p: &GenesysProvider, expected_kind: &str) {
        let caller = run(p.caller()).unwrap();
        let kind = run(p.data(DataKind::Caller, &Attrs::new())).unwrap()[0]["kind"].clone();
        assert_eq!(kind, Value::from(expected_kind));
        let home = run(p.home_division()).unwrap();
        let role = run(p.create(Kind::Role, &attrs(json!({"name": format!("Adapter {expected_kind}"), "permissions": ["routing:queue:view"]})))).unwrap().object;
        let client = attrs(json!({
            "name": format!("adapter-{expected_kind}"), "grant_type": "client_credentials",
            "roles": [{"role": role.id.as_str(), "divisions": [home.as_str()]}],
        }));
        let refused = run(p.create(Kind::OauthClient, &client)).unwrap_err();
        assert!(
            matches!(refused, ProviderError::Api { status: 400, .. }),
            "{refused}"
        );
        let grant = RoleDivision {
            role_id: role.id.clone(),
            division_id: home.clone(),
        };
        assert!(!caller.grants.contains(&grant));
        run(p.grant_to_caller(std::slice::from_ref(&grant))).unwrap();
        assert!(run(p.caller()).unwrap().grants.contains(&grant));
        let created = run(p.create(Kind::OauthClient, &client)).unwrap();
        assert!(created.secret.is_some());
        let roles = created.object.attrs["roles"].to_json().unwrap();
        assert_eq!(
            roles,
            json!([{"role": role.id.as_str(), "divisions": [home.as_str()]}])
        );
        run(p.revoke_from_caller(std::slice::from_ref(&grant))).unwrap();
        assert!(!run(p.caller()).unwrap().grants.contains(&grant));
        let _ = sim;
    }

    #[test]
    fn client_credentials_caller_grants_itself_then_creates_a_client() {
        // A grant reaches the current token only after 30 s here: logging in
        // again is what makes it usable at once.
        let sim = Sim::builder()
            .fixture_toml(FIXTURE)
            .grant_delay_ms(30_000)
            .start();
        let p = admin(&sim);
        let me = run(p.caller()).unwrap();
        assert_eq!(me.id.as_str(), sim.admin_client_id());
        assert!(
            me.permissions.contains("authorization:role:add"),
            "{:?}",
            me.permissions
        );
        grant_then_create_client(&sim, &p, "client");
    }

    #[test]
    fn user_caller_grants_itself_then_creates_a_client() {
        let sim = acme();
        let token = sim.user_token("ada@acme.example");
        let p = with_token(&sim, &token);
        let me = run(p.caller()).unwrap();
        assert_eq!(me.name, "Ada Admin");
        assert_eq!(me.id.as_str(), user_ids(&sim)["ada@acme.example"]);
        grant_then_create_client(&sim, &p, "user");
    }

    #[test]
    fn a_given_client_token_waits_until_the_grant_takes_effect() {
        // Not our token to renew: the provider polls until the service
        // shows the grant for this token (1.5 s here).
        let sim = Sim::builder()
            .fixture_toml(FIXTURE)
            .grant_delay_ms(1500)
            .start();
        let token = sim.client_token(sim.admin_client_id());
        let p = with_token(&sim, &token);
        assert_eq!(run(p.caller()).unwrap().id.as_str(), sim.admin_client_id());
        let started = std::time::Instant::now();
        grant_then_create_client(&sim, &p, "client");
        assert!(started.elapsed() >= Duration::from_millis(1500));
    }

    #[test]
    fn forbidden_names_the_missing_permission() {
        let sim = acme();
        let token = sim.user_token("bob@acme.example");
        let p = with_token(&sim, &token);
        let err = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Nope", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap_err();
        let ProviderError::Forbidden {
            permissions,
            correlation_id,
            ..
        } = &err
        else {
            panic!("expected Forbidden, got {err}")
        };
        assert!(
            permissions.iter().any(|p| p == "authorization:role:add"),
            "{permissions:?}"
        );
        assert!(correlation_id.is_some());
        assert!(err.to_string().contains("authorization:role:add"), "{err}");
    }

    #[test]
    fn a_bad_secret_fails_at_connect() {
        let sim = acme();
        let conn = Connection::with_client_credentials(
            sim.url(),
            sim.admin_client_id(),
            Secret::new("wrong-secret-123"),
        )
        .unwrap();
        let err = run(GenesysProvider::connect(conn, fast_options())).unwrap_err();
        assert!(matches!(err, ProviderError::Auth(_)), "{err}");
        assert!(!err.to_string().contains("wrong-secret-123"));
    }

    /// What `read_ahead` read, the first `org` and `caller` do not read
    /// again, for a client and for a user; a later `caller` reads the
    /// grants anew.
    #[test]
    fn the_org_and_the_caller_read_ahead_are_not_read_again() {
        let sim = acme();
        let token = sim.user_token("ada@acme.example");
        for (p, first_grants) in [(admin(&sim), 0), (with_token(&sim, &token), 1)] {
            sim.reset_stats();
            run(p.read_ahead());
            let ahead = sim.stats();
            assert_eq!(
                route_calls(&ahead, "GET /api/v2/organizations/me"),
                1,
                "{ahead}"
            );
            let total = ahead["total"].as_u64().unwrap();
            assert!(total >= 2, "{ahead}");
            let (org, caller) = run(async { tokio::join!(p.org(), p.caller()) });
            assert!(!org.unwrap().id.is_empty());
            assert!(!caller.unwrap().grants.is_empty());
            let after = sim.stats();
            assert_eq!(
                after["total"].as_u64().unwrap(),
                total + first_grants,
                "only a user's grants are read after its identity: {after}"
            );
            run(p.caller()).unwrap();
            let again = sim.stats();
            assert_eq!(
                route_calls(&again, "GET /api/v2/authorization/subjects/me"),
                route_calls(&after, "GET /api/v2/authorization/subjects/me") + 1,
                "{again}"
            );
            assert_eq!(
                route_calls(&again, "GET /api/v2/organizations/me"),
                1,
                "{again}"
            );
        }
    }
}

mod resilience {
    use super::*;

    #[test]
    fn a_rate_limit_storm_still_succeeds() {
        let sim = acme();
        let p = admin(&sim);
        // 30 requests a minute per token: the 31st waits for Retry-After.
        sim.faults(json!({"rate_limit": 30}));
        let home = run(p.home_division()).unwrap();
        for _ in 0..36 {
            run(p.read(Kind::Division, &home)).unwrap().unwrap();
        }
        let stats = sim.stats();
        assert!(stats["rate_limited"].as_u64().unwrap() >= 1, "{stats}");
    }

    #[test]
    fn a_lagging_listing_never_makes_an_object_gone() {
        // New objects are missing from listings for 10 s, readable by id at once.
        let sim = Sim::builder()
            .fixture_toml(FIXTURE)
            .eventual_ms(10_000)
            .start();
        let p = admin(&sim);
        let role = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Fresh", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap()
        .object;
        let group = run(p.create(Kind::Group, &attrs(json!({"name": "Fresh"}))))
            .unwrap()
            .object;
        let roles = run(p.list(Kind::Role, only(std::slice::from_ref(&role.id), &[]))).unwrap();
        assert_eq!(roles.objects.len(), 1);
        let groups = run(p.list(Kind::Group, only(std::slice::from_ref(&group.id), &[]))).unwrap();
        assert_eq!(groups.objects.len(), 1);
    }

    #[test]
    fn a_fault_storm_still_succeeds() {
        let sim = Sim::builder().fixture_toml(FIXTURE).seed(7).start();
        let p = admin(&sim);
        sim.faults(json!({"fault_rate": 0.3}));
        let mut ids = Vec::new();
        for n in 0..8 {
            let r = run(p.create(
                Kind::Role,
                &attrs(
                    json!({"name": format!("Storm {n}"), "permissions": ["routing:queue:view"]}),
                ),
            ))
            .unwrap();
            ids.push(r.object.id);
        }
        let listed = run(p.list(Kind::Role, only(&ids, &[]))).unwrap();
        assert_eq!(listed.objects.len(), 8);
        let all = run(p.list(Kind::Role, ListScope::All)).unwrap();
        assert!(all.objects.len() >= 8);
        for id in &ids {
            run(p.delete(Kind::Role, id, None)).unwrap();
        }
        sim.faults(json!({"fault_rate": 0.0}));
        let stats = sim.stats();
        assert!(stats["faults"].as_u64().unwrap() >= 3, "{stats}");
        let roles = sim.dump()["roles"].to_string();
        assert!(!roles.contains("Storm "), "every role was deleted once");
    }

    /// The objects of one dump section whose name starts with `prefix`, by name.
    fn named(dump: &Json, section: &str, prefix: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for o in dump[section].as_array().unwrap() {
            if let Some(n) = o["name"].as_str().filter(|n| n.starts_with(prefix)) {
                *counts.entry(n.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }

    #[test]
    fn lost_responses_never_duplicate_a_create() {
        const N: usize = 6;
        // Half of all requests (the logins included) are applied and then
        // lose their answer: a dropped connection or a 504.
        let sim = Sim::builder()
            .fixture_toml(FIXTURE)
            .lost_response_rate(0.5)
            .seed(7)
            .rate_limit(0)
            .start();
        // At 0.5, eight answers in a row lost is a matter of time over a
        // few hundred requests: allow more attempts (this test is about
        // duplicates, not the bound).
        let mut opts = fast_options();
        opts.retry.max_transient_attempts = 20;
        opts.requests_per_minute = 6000;
        let p = admin_with(&sim, opts);
        let home = run(p.home_division()).unwrap();
        let mut clients = Vec::new();
        for n in 0..N {
            let role = run(p.create(
                Kind::Role,
                &attrs(json!({"name": format!("Lost role {n}"), "permissions": ["routing:queue:view"]})),
            ))
            .unwrap()
            .object;
            // A client gets only roles its creator holds (an idempotent bulkadd).
            run(p.grant_to_caller(&[RoleDivision {
                role_id: role.id.clone(),
                division_id: home.clone(),
            }]))
            .unwrap();
            run(p.create(
                Kind::Group,
                &attrs(json!({"name": format!("Lost group {n}"), "description": "d"})),
            ))
            .unwrap();
            let created = run(p.create(
                Kind::OauthClient,
                &attrs(json!({
                    "name": format!("Lost client {n}"), "grant_type": "client_credentials",
                    "roles": [{"role": role.id.as_str(), "divisions": [home.as_str()]}],
                })),
            ))
            .unwrap();
            let secret = created
                .secret
                .expect("every client create delivers a secret");
            clients.push((created.object.id, secret));
            run(p.create(
                Kind::Integration,
                &attrs(json!({"type": "embedded-client-app", "name": format!("Lost app {n}"), "enabled": true})),
            ))
            .unwrap();
        }
        sim.faults(json!({"lost_response_rate": 0.0}));
        let stats = sim.stats();
        let lost = stats["lost_responses"].as_u64().unwrap();
        let regenerated = route_calls(&stats, "POST /api/v2/oauth/clients/{clientId}/secret");
        eprintln!(
            "lost responses: {lost}; client secrets regenerated after a lost create: {regenerated}"
        );
        assert!(lost >= 10, "{stats}");
        let dump = sim.dump();
        let mut duplicates = 0;
        for (section, prefix) in [
            ("roles", "Lost role "),
            ("groups", "Lost group "),
            ("oauth_clients", "Lost client "),
            ("integrations", "Lost app "),
        ] {
            let counts = named(&dump, section, prefix);
            assert_eq!(counts.len(), N, "{section}: {counts:?}");
            duplicates += counts.values().map(|c| c - 1).sum::<usize>();
        }
        eprintln!("duplicates: {duplicates}");
        assert_eq!(duplicates, 0);
        // Every secret handed back works, whether the create's answer
        // arrived or the secret was regenerated.
        for (id, secret) in &clients {
            assert!(!sim.login(id.as_str(), secret.expose()).is_empty());
        }
    }
}

mod scale {
    use super::*;

    #[test]
    fn refreshing_2500_roles_takes_one_call_per_page() {
        let t = std::time::Instant::now();
        let sim = acme();
        sim.populate(json!({"roles": 2500}));
        eprintln!("started and populated in {:?}", t.elapsed());
        let p = admin(&sim);
        sim.reset_stats();
        let t = std::time::Instant::now();
        let all = run(p.list(Kind::Role, ListScope::All)).unwrap();
        eprintln!("listed in {:?}", t.elapsed());
        assert!(all.objects.len() >= 2500);
        let stats = sim.stats();
        let calls = route_calls(&stats, "GET /api/v2/authorization/roles");
        eprintln!("2,500 roles: {calls} list calls, {} in all", stats["total"]);
        assert!(calls <= 2500u64.div_ceil(100) + 2, "{calls} calls: {stats}");
        // Managing all of them: pages, not id batches plus a probe.
        let ids: Vec<GenesysId> = all
            .objects
            .iter()
            .filter(|o| !o.builtin)
            .map(|o| o.id.clone())
            .collect();
        sim.reset_stats();
        let managed = run(p.list(Kind::Role, only(&ids, &[]))).unwrap();
        assert_eq!(managed.objects.len(), ids.len());
        let stats = sim.stats();
        let calls = stats["total"].as_u64().unwrap();
        eprintln!("2,500 managed roles: {calls} calls");
        assert!(calls <= 2500u64.div_ceil(100) + 2, "{calls} calls: {stats}");
    }

    #[test]
    fn ten_managed_among_ten_thousand_take_a_handful_of_calls() {
        let sim = acme();
        sim.populate(json!({"roles": 10000, "groups": 10000}));
        let dump = sim.dump();
        let pick = |kind: &str| -> Vec<GenesysId> {
            dump[kind]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["name"].as_str().is_some_and(|n| n.starts_with("sim-")))
                .step_by(997)
                .take(10)
                .map(|o| GenesysId::from(o["id"].as_str().unwrap()))
                .collect()
        };
        let (roles, groups) = (pick("roles"), pick("groups"));
        assert_eq!((roles.len(), groups.len()), (10, 10));
        let p = admin(&sim);
        sim.reset_stats();
        let names = vec!["Not created yet".to_owned()];
        let r = run(p.list(Kind::Role, only(&roles, &names))).unwrap();
        assert_eq!(r.objects.len(), 10);
        let g = run(p.list(Kind::Group, only(&groups, &[]))).unwrap();
        assert_eq!(g.objects.len(), 10);
        let stats = sim.stats();
        let total = stats["total"].as_u64().unwrap();
        eprintln!(
            "10 roles + 1 name + 10 groups among 10,000 each: {total} calls: {}",
            stats["by_route"]
        );
        assert!(total <= 3, "{stats}");
    }
}

mod secrets {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    #[test]
    fn no_log_line_or_error_holds_a_secret() {
        let sim = acme();
        let admin_token = sim.admin_token();
        let user_token = sim.user_token("ada@acme.example");
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(capture.clone())
            .with_ansi(false)
            .finish();
        // A runtime on this thread only, so every poll sees the subscriber.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut errors = Vec::new();
        let mut secrets = vec![
            sim.admin_client_secret().to_owned(),
            admin_token,
            user_token.clone(),
        ];
        tracing::subscriber::with_default(subscriber, || {
            rt.block_on(async {
                let conn = Connection::with_client_credentials(sim.url(), sim.admin_client_id(), Secret::new(sim.admin_client_secret())).unwrap();
                let p = GenesysProvider::connect(conn, fast_options()).await.unwrap();
                let created = p
                    .create(Kind::OauthClient, &attrs(json!({"name": "leaky", "grant_type": "code", "redirect_uris": ["https://x.example"]})))
                    .await
                    .unwrap();
                secrets.push(created.secret.unwrap().expose().to_owned());
                secrets.push(p.rotate_secret(&created.object.id).await.unwrap().expose().to_owned());
                errors.push(p.create(Kind::Role, &attrs(json!({"name": "admin", "permissions": ["routing:queue:view"]}))).await.unwrap_err().to_string());
                let q = GenesysProvider::connect(Connection::with_access_token(sim.url(), Secret::new(user_token.as_str())).unwrap(), fast_options()).await.unwrap();
                q.caller().await.unwrap();
                let bad = Connection::with_client_credentials(sim.url(), sim.admin_client_id(), Secret::new("not-the-secret-42")).unwrap();
                errors.push(GenesysProvider::connect(bad, fast_options()).await.unwrap_err().to_string());
                let expired = GenesysProvider::connect(Connection::with_access_token(sim.url(), Secret::new("expired-token-77")).unwrap(), fast_options()).await.unwrap();
                errors.push(expired.caller().await.unwrap_err().to_string());
            });
        });
        secrets.push("not-the-secret-42".into());
        secrets.push("expired-token-77".into());
        let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        assert!(
            logs.contains("genesys_request"),
            "the capture saw the request spans:\n{logs}"
        );
        for s in &secrets {
            assert!(!logs.contains(s.as_str()), "a secret reached the logs");
            for e in &errors {
                assert!(!e.contains(s.as_str()), "a secret reached an error: {e}");
            }
        }
    }
}

/// The corrections to the first reading of the API (docs/simulator.md,
/// "Corrections"): how the provider handles each.
mod corrections {
    use super::*;

    fn dump_role(sim: &Sim, id: &GenesysId) -> Json {
        sim.dump()["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == json!(id.as_str()))
            .cloned()
            .unwrap()
    }

    /// Correction 1: Permissions travel as policies and are read back from them; an
    /// update keeps the role's general permissions and policy conditions.
    /// Correction 2: A permission the org does not have is stored (and grants nothing).
    #[test]
    fn roles_are_policies_and_keep_what_gcrecon_does_not_manage() {
        let sim = acme();
        let p = admin(&sim);
        let created = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Adapter", "permissions": [
                "routing:queue:view", "routing:queue:join", "integration:presence:*"]})),
        ))
        .unwrap()
        .object;
        let role = dump_role(&sim, &created.id);
        assert_eq!(role["permissions"], json!([]));
        assert_eq!(
            role["permissionPolicies"],
            json!([
                {"domain": "integration", "entityName": "presence", "actionSet": ["*"]},
                {"domain": "routing", "entityName": "queue", "actionSet": ["join", "view"]},
            ])
        );
        assert_eq!(
            role["grantedPermissions"],
            json!([
                "integration:presence:*",
                "routing:queue:join",
                "routing:queue:view"
            ])
        );

        // A role someone made with a general permission and a conditional policy.
        sim.mutate(json!([{"kind": "role", "create": {"name": "Legacy",
            "permissions": ["group_creation", "routing:queue:view"]}}]));
        sim.mutate(json!([{"kind": "role", "name": "Legacy", "set": {"permissionPolicies": [
            {"domain": "routing", "entityName": "queue", "actionSet": ["view"],
             "allowConditions": true, "resourceConditionNode": {"variableName": "queue.id", "operator": "EQ"}}]}}]));
        let listed = run(p.list(Kind::Role, ListScope::All)).unwrap();
        let legacy = listed
            .objects
            .iter()
            .find(|o| o.name == "Legacy")
            .unwrap()
            .clone();
        assert_eq!(
            strings(legacy.attrs.get("permissions")),
            BTreeSet::from(["routing:queue:view".to_owned()]),
            "the general permission is not read as a domain permission"
        );
        run(update(
            &p,
            Kind::Role,
            &legacy,
            None,
            &attrs(json!({"name": "Legacy", "permissions": [
                "routing:queue:view", "routing:queue:join", "no:such:permission"]})),
        ))
        .unwrap();
        let role = dump_role(&sim, &legacy.id);
        assert_eq!(role["permissions"], json!(["group_creation"]));
        let routing = role["permissionPolicies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["domain"] == "routing")
            .unwrap();
        assert_eq!(routing["actionSet"], json!(["join", "view"]));
        assert_eq!(routing["allowConditions"], true);
        assert_eq!(routing["resourceConditionNode"]["variableName"], "queue.id");
        // Stored, read back, and granting nothing.
        assert_eq!(
            role["grantedPermissions"],
            json!(["routing:queue:join", "routing:queue:view"])
        );
        let read = run(p.read(Kind::Role, &legacy.id)).unwrap().unwrap();
        assert!(strings(read.attrs.get("permissions")).contains("no:such:permission"));
    }

    /// Correction 3: The description the create drops is set by a PUT at once.
    #[test]
    fn group_description_is_set_after_create() {
        let sim = acme();
        let p = admin(&sim);
        sim.reset_stats();
        let g = run(p.create(
            Kind::Group,
            &attrs(json!({"name": "Described", "description": "what it is for", "type": "official", "visibility": "public"})),
        ))
        .unwrap()
        .object;
        assert_eq!(g.attrs["description"], Value::from("what it is for"));
        let stats = sim.stats();
        assert_eq!(route_calls(&stats, "POST /api/v2/groups"), 1);
        assert_eq!(route_calls(&stats, "PUT /api/v2/groups/{groupId}"), 1);
        let dump = sim.dump();
        let group = dump["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "Described")
            .unwrap();
        assert_eq!(group["description"], "what it is for");
        // Without a description there is no PUT.
        sim.reset_stats();
        run(p.create(
            Kind::Group,
            &attrs(json!({"name": "Plain", "type": "official", "visibility": "public"})),
        ))
        .unwrap();
        assert_eq!(route_calls(&sim.stats(), "PUT /api/v2/groups/{groupId}"), 0);
    }

    /// Correction 4: A group changed behind gcrecon's back answers the stale version
    /// with 400 "does not match the current version": read again, retry.
    #[test]
    fn a_stale_group_version_400_is_a_conflict() {
        let sim = acme();
        let p = admin(&sim);
        let g = run(p.create(
            Kind::Group,
            &attrs(json!({"name": "Raced", "type": "official", "visibility": "public"})),
        ))
        .unwrap()
        .object;
        sim.mutate(
            json!([{"kind": "group", "name": "Raced", "set": {"description": "someone else"}}]),
        );
        sim.reset_stats();
        let u = run(update(
            &p,
            Kind::Group,
            &g,
            None,
            &attrs(json!({"name": "Raced", "description": "ours"})),
        ))
        .unwrap();
        assert_eq!(u.attrs["description"], Value::from("ours"));
        assert_eq!(
            route_calls(&sim.stats(), "PUT /api/v2/groups/{groupId}"),
            2,
            "the stale PUT, then one at the version read again"
        );
    }

    /// Correction 5: Grants naming a role or division created moments ago are retried
    /// while the authorization service answers 404; removals go one grant
    /// at a time and a grant already gone is fine.
    #[test]
    fn grants_wait_for_the_authorization_service() {
        let sim = Sim::builder()
            .fixture_toml(FIXTURE)
            .eventual_ms(1500)
            .start();
        let p = admin(&sim);
        let home = GenesysId::from(
            run(p.data(DataKind::Division, &attrs(json!({"home": true})))).unwrap()[0]["id"]
                .as_str()
                .unwrap(),
        );
        let role = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Fresh", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap()
        .object;
        let doomed = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Doomed", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap()
        .object;
        sim.reset_stats();
        let grants = [
            RoleDivision {
                role_id: role.id.clone(),
                division_id: home.clone(),
            },
            RoleDivision {
                role_id: doomed.id.clone(),
                division_id: home,
            },
        ];
        run(p.grant_to_caller(&grants)).unwrap();
        let bulkadds = route_calls(
            &sim.stats(),
            "POST /api/v2/authorization/subjects/{subjectId}/bulkadd",
        );
        assert!(bulkadds >= 2, "retried while lagging: {bulkadds}");
        let users = user_ids(&sim);
        run(p.create(
            Kind::RoleGrant,
            &attrs(json!({"role": role.id.as_str(), "subjects": [users["bob@acme.example"]]})),
        ))
        .unwrap();
        assert!(sim.dump()["grants"].as_array().unwrap().iter().any(|g| {
            g["subjectId"] == json!(users["bob@acme.example"])
                && g["roleId"] == json!(role.id.as_str())
        }));
        // A role deleted meanwhile: bulkremove would fail whole; one at a time
        // works, the vanished grant being already gone.
        run(p.delete(Kind::Role, &doomed.id, None)).unwrap();
        sim.reset_stats();
        run(p.revoke_from_caller(&grants)).unwrap();
        let stats = sim.stats();
        assert_eq!(
            route_calls(
                &stats,
                "POST /api/v2/authorization/subjects/{subjectId}/bulkremove"
            ),
            0
        );
        assert_eq!(
            route_calls(
                &stats,
                "DELETE /api/v2/authorization/subjects/{subjectId}/divisions/{divisionId}/roles/{roleId}"
            ),
            2
        );
        let held = run(p.caller()).unwrap().grants;
        assert!(!held.contains(&grants[0]));
    }

    /// Correction 6: Deleted objects read back `state: "deleted"` for a while: gone for
    /// the provider. A division refusing its delete while they drain is
    /// retried until it goes.
    #[test]
    fn deleted_objects_are_gone_and_divisions_wait_for_the_drain() {
        let sim = Sim::builder()
            .fixture_toml(FIXTURE)
            .eventual_ms(1500)
            .start();
        let p = admin(&sim);
        let division = run(p.create(Kind::Division, &attrs(json!({"name": "Drained"}))))
            .unwrap()
            .object;
        let role = run(p.create(
            Kind::Role,
            &attrs(json!({"name": "Drain", "permissions": ["routing:queue:view"]})),
        ))
        .unwrap()
        .object;
        let grant = RoleDivision {
            role_id: role.id.clone(),
            division_id: division.id.clone(),
        };
        run(p.grant_to_caller(std::slice::from_ref(&grant))).unwrap();
        let client = run(p.create(
            Kind::OauthClient,
            &attrs(
                json!({"name": "drained", "grant_type": "client_credentials",
                "roles": [{"role": role.id.as_str(), "divisions": [division.id.as_str()]}]}),
            ),
        ))
        .unwrap()
        .object;
        let group = run(p.create(
            Kind::Group,
            &attrs(json!({"name": "Gone soon", "type": "official", "visibility": "public"})),
        ))
        .unwrap()
        .object;
        run(p.delete(Kind::OauthClient, &client.id, None)).unwrap();
        run(p.delete(Kind::Group, &group.id, None)).unwrap();
        assert!(run(p.read(Kind::OauthClient, &client.id))
            .unwrap()
            .is_none());
        assert!(run(p.read(Kind::Group, &group.id)).unwrap().is_none());
        for kind in [Kind::OauthClient, Kind::Group] {
            let all = run(p.list(kind, ListScope::All)).unwrap();
            assert!(all
                .objects
                .iter()
                .all(|o| o.id != client.id && o.id != group.id));
        }
        run(p.revoke_from_caller(std::slice::from_ref(&grant))).unwrap();
        sim.reset_stats();
        run(p.delete(Kind::Division, &division.id, None)).unwrap();
        assert!(
            route_calls(
                &sim.stats(),
                "DELETE /api/v2/authorization/divisions/{divisionId}"
            ) >= 2,
            "refused while draining, then deleted"
        );
        assert!(!sim.dump()["divisions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == "Drained"));
    }

    /// Correction 7: A client app's `permissions` (iframe features) and `sandbox` are
    /// comma-separated strings and `groups` a list of ids; a disabled
    /// integration's config saves without its required properties.
    #[test]
    fn client_app_config_as_the_service_takes_it() {
        let sim = acme();
        let p = admin(&sim);
        let disabled = run(p.create(
            Kind::Integration,
            &attrs(json!({"type": "embedded-client-app", "name": "Later", "enabled": false, "config": {}})),
        ))
        .unwrap()
        .object;
        assert_eq!(disabled.attrs["enabled"], Value::Bool(false));
        let app = run(p.create(
            Kind::Integration,
            &attrs(
                json!({"type": "embedded-client-app", "name": "Video", "enabled": true, "config": {
                "url": "https://app.example/v", "displayType": "standalone",
                "permissions": "camera,microphone", "sandbox": "allow-scripts,allow-forms",
                "groups": ["g-1", "g-2"]}}),
            ),
        ))
        .unwrap()
        .object;
        let dump = sim.dump();
        let wire = dump["integrations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(app.id.as_str()))
            .unwrap()
            .clone();
        assert_eq!(
            wire["config"]["properties"]["permissions"],
            "camera,microphone"
        );
        assert_eq!(
            wire["config"]["properties"]["groups"],
            json!(["g-1", "g-2"])
        );
        let read = run(p.read(Kind::Integration, &app.id)).unwrap().unwrap();
        assert_eq!(read.attrs["config"], app.attrs["config"]);
    }

    /// Correction 8: Users are listed 500 a page.
    #[test]
    fn users_are_listed_500_a_page() {
        let sim = acme();
        sim.populate(json!({"users": 700}));
        let p = admin(&sim);
        sim.reset_stats();
        let all = run(p.data(DataKind::Users, &attrs(json!({"division": "Home"})))).unwrap();
        assert!(strings(all[0].get("ids")).len() >= 700);
        assert_eq!(route_calls(&sim.stats(), "GET /api/v2/users"), 2);
    }
}
