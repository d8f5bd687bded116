//! The five seed examples (`examples/<vendor>/gcrecon.toml`) end to end:
//! each validates offline, then against gcsim seeded with the example's own
//! `gcsim/fixture.toml` (and its `gcsim/vars.env` test values) it plans,
//! applies, re-plans to no changes, finds no drift, prints its outputs, and
//! leaves the org as the guide wants it (asserted on `/_sim/dump`). Finally
//! `destroy` removes everything it created.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use test_support::{bin_path, temp_dir, Sim};

const VENDORS: [&str; 5] = ["emite", "pureengage", "nectar", "eightbyeight", "cognigy"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}

fn example_dir(vendor: &str) -> PathBuf {
    repo_root().join("examples").join(vendor)
}

/// `GCRECON_VAR_*` lines of `gcsim/vars.env` (values optionally double-quoted).
fn test_vars(vendor: &str) -> Vec<(String, String)> {
    let path = example_dir(vendor).join("gcsim").join("vars.env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: not NAME=VALUE: {l}", path.display()));
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_owned(), v.to_owned())
        })
        .collect()
}

/// One example running against one simulator, with its own state files.
/// API calls a no-op plan of a vendor example may make: login, caller (one
/// `subjects/me`) and org, data sources, one listing per managed kind and
/// one grant listing per role grant. eMite, the richest, needs 15: login,
/// org, caller, the listings of divisions (which also name the home
/// division), roles, groups, integrations, OAuth clients, queues (one page
/// serves both agent queues' look-ups) and users, three role-grant listings
/// (a role per division) and a member listing per agent queue.
const NO_OP_PLAN_CALL_BUDGET: u64 = 15;

struct Run {
    vendor: &'static str,
    sim: Sim,
    work: tempfile::TempDir,
    /// The fixture org's region: given as `GENESYSCLOUD_REGION` beside the
    /// simulator's URL, it names `data.org.region` and `data.org.domain`.
    region: String,
    /// Run as this user's access token instead of the admin OAuth client.
    user_token: Option<String>,
    /// API calls a no-op plan right after apply may make.
    plan_call_budget: u64,
    /// Variables given beside (and over) `gcsim/vars.env`.
    vars: Vec<(String, String)>,
}

impl Run {
    fn start(vendor: &'static str) -> Run {
        Run::start_with(vendor, |b| b)
    }

    /// As [`Run::start`], with gcsim's settings changed by `sim`.
    fn start_with(
        vendor: &'static str,
        sim: impl FnOnce(test_support::SimBuilder) -> test_support::SimBuilder,
    ) -> Run {
        let fixture =
            std::fs::read_to_string(example_dir(vendor).join("gcsim").join("fixture.toml"))
                .unwrap_or_else(|e| panic!("examples/{vendor}/gcsim/fixture.toml: {e}"));
        let region = fixture
            .lines()
            .find_map(|l| {
                let v = l
                    .trim()
                    .strip_prefix("region")?
                    .trim_start()
                    .strip_prefix('=')?;
                Some(v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("examples/{vendor}/gcsim/fixture.toml names no org region"));
        Run {
            vendor,
            sim: sim(Sim::builder().fixture_toml(&fixture)).start(),
            work: temp_dir(),
            region,
            user_token: None,
            plan_call_budget: NO_OP_PLAN_CALL_BUDGET,
            vars: Vec::new(),
        }
    }

    /// The same org, with gcrecon running as the fixture's first user (an
    /// administrator, as a person running gcrecon from a laptop would be).
    fn start_as_user(vendor: &'static str) -> (Run, String) {
        let mut run = Run::start(vendor);
        let users = run.sim.dump()["users"].clone();
        let user = users
            .as_array()
            .and_then(|u| u.first())
            .unwrap_or_else(|| panic!("examples/{vendor}: the fixture has no user"));
        let email = user["email"].as_str().unwrap_or_default().to_owned();
        let id = user["id"].as_str().unwrap_or_default().to_owned();
        run.user_token = Some(run.sim.user_token(&email));
        // A user caller is named by `users/me`; a client-credentials caller
        // by the `subjects/me` its grants come from anyway.
        run.plan_call_budget = NO_OP_PLAN_CALL_BUDGET + 1;
        (run, id)
    }

    fn gcrecon(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin_path("gcrecon"));
        cmd.args(args)
            .arg("--no-color")
            .arg("-m")
            .arg(example_dir(self.vendor))
            .arg("--state")
            .arg(self.work.path().join("state.json"))
            .env("GENESYSCLOUD_API_REGION", self.sim.url())
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", self.sim.admin_client_id())
            .env(
                "GENESYSCLOUD_OAUTHCLIENT_SECRET",
                self.sim.admin_client_secret(),
            )
            .env("GENESYSCLOUD_REGION", &self.region)
            .env_remove("GENESYSCLOUD_ACCESS_TOKEN");
        if let Some(token) = &self.user_token {
            cmd.env("GENESYSCLOUD_ACCESS_TOKEN", token)
                .env_remove("GENESYSCLOUD_OAUTHCLIENT_ID")
                .env_remove("GENESYSCLOUD_OAUTHCLIENT_SECRET");
        }
        for (k, v) in test_vars(self.vendor).into_iter().chain(self.vars.clone()) {
            cmd.env(k, v);
        }
        cmd.output().expect("cannot run gcrecon")
    }

    /// Runs gcrecon and insists on an exit code.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.gcrecon(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "examples/{}: `gcrecon {}` exited {:?}, expected {code}\n--- stdout\n{stdout}\n--- stderr\n{}",
            self.vendor,
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn secrets_arg(&self) -> String {
        self.work.path().join("secrets.json").display().to_string()
    }

    /// plan, apply, a clean re-plan, no drift, outputs as JSON.
    fn converge(&self) -> Value {
        let before = self.sim.dump();
        self.expect(&["validate"], 0);
        self.expect(&["plan"], 0);
        self.expect(
            &[
                "apply",
                "--auto-approve",
                "--secrets-out",
                &self.secrets_arg(),
            ],
            0,
        );
        self.sim.reset_stats();
        self.expect(&["plan", "--detailed-exitcode"], 0);
        let calls = self.sim.stats()["total"].as_u64().unwrap_or(u64::MAX);
        let budget = self.plan_call_budget;
        assert!(
            calls <= budget,
            "examples/{}: a no-op plan made {calls} API calls (budget {budget}): {:#}",
            self.vendor,
            self.sim.stats()["by_route"]
        );
        self.drift_is_clean(&before);
        queues_kept_their_ids(&before, &self.sim.dump(), self.vendor);
        let json = self.expect(&["output", "--json"], 0);
        serde_json::from_str(&json).unwrap_or_else(|e| {
            panic!(
                "examples/{}: `gcrecon output --json` is not JSON ({e}):\n{json}",
                self.vendor
            )
        })
    }

    /// `drift` finds nothing changed or missing. Objects the fixture org
    /// already had (the CI client, built-in roles, ...) are unmanaged by
    /// design; nothing apply created may show up as unmanaged.
    fn drift_is_clean(&self, before: &Value) {
        let out = self.gcrecon(&["drift", "--format", "json"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "examples/{}: `gcrecon drift` failed\n{stdout}\n{stderr}",
            self.vendor
        );
        let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "examples/{}: `drift --format json` is not JSON ({e}):\n{stdout}",
                self.vendor
            )
        });
        for key in ["drifted", "missing"] {
            assert_eq!(
                doc[key],
                Value::Array(Vec::new()),
                "examples/{}: drift right after apply: {key}\n{stdout}",
                self.vendor
            );
        }
        let preexisting: BTreeSet<String> = [
            "roles",
            "groups",
            "oauth_clients",
            "integrations",
            "divisions",
            "queues",
        ]
        .iter()
        .flat_map(|kind| names(before, kind))
        .collect();
        for object in doc["unmanaged"].as_array().into_iter().flatten() {
            let name = object["name"].as_str().unwrap_or_default();
            assert!(
                preexisting.contains(name),
                "examples/{}: `{name}` was created by apply but drift calls it unmanaged\n{stdout}",
                self.vendor
            );
        }
    }

    /// destroy removes every object apply created; the fixture's own objects stay.
    fn destroy_restores(&self, before: &Value) {
        // A user caller may hold a role through the manifest's own role
        // grants (eMite grants its per-division role to every user of the
        // division): taking it away again is what destroy is asked to do.
        let mut args = vec!["destroy", "--auto-approve"];
        if self.user_token.is_some() {
            args.push("--allow-caller-demotion");
        }
        self.expect(&args, 0);
        let after = self.sim.dump();
        for kind in ["roles", "groups", "oauth_clients", "integrations"] {
            assert_eq!(
                names(&after, kind),
                names(before, kind),
                "examples/{}: {kind} after destroy differ from the fixture org",
                self.vendor
            );
        }
        // Queues it created are gone; a queue it adopted is deleted too
        // (it was managed), unless `gcrecon state rm` let it go first.
        let created: BTreeSet<String> = names(&after, "queues")
            .difference(&names(before, "queues"))
            .cloned()
            .collect();
        assert!(
            created.is_empty(),
            "examples/{}: queues left after destroy: {created:?}",
            self.vendor
        );
        assert_eq!(
            after["identity_providers"], before["identity_providers"],
            "examples/{}: identity providers after destroy",
            self.vendor
        );
        assert_eq!(
            after["grants"], before["grants"],
            "examples/{}: role grants after destroy",
            self.vendor
        );
    }
}

/// Every queue the org had before apply is there once, with its id (an
/// adopted queue is taken over, never duplicated), and no queue name is
/// used twice.
fn queues_kept_their_ids(before: &Value, after: &Value, vendor: &str) {
    let queues = after["queues"].as_array().cloned().unwrap_or_default();
    for name in names(after, "queues") {
        let n = queues.iter().filter(|q| q["name"] == name.as_str()).count();
        assert_eq!(n, 1, "examples/{vendor}: {n} queues named {name:?}");
    }
    for name in names(before, "queues") {
        assert_eq!(
            id_of(after, "queues", &name),
            id_of(before, "queues", &name),
            "examples/{vendor}: the fixture's queue {name:?} was replaced"
        );
    }
}

fn names(dump: &Value, kind: &str) -> BTreeSet<String> {
    dump[kind]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect()
}

fn find<'a>(dump: &'a Value, kind: &str, name: &str) -> &'a Value {
    dump[kind]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} named {name:?} in the org"))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn id_of(dump: &Value, kind: &str, name: &str) -> String {
    find(dump, kind, name)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// (role name, division id) pairs of an OAuth client's `roleDivisions`.
fn client_roles(dump: &Value, client: &str) -> BTreeSet<(String, String)> {
    let role_names: BTreeMap<&str, &str> = dump["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["id"].as_str()?, r["name"].as_str()?)))
        .collect();
    find(dump, "oauth_clients", client)["roleDivisions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rd| {
            let role = rd["roleId"].as_str().unwrap_or_default();
            (
                role_names.get(role).copied().unwrap_or(role).to_owned(),
                rd["divisionId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Role names granted to a subject (user, group or client id), with division ids.
fn grants_of(dump: &Value, subject: &str) -> BTreeSet<(String, String)> {
    let role_names: BTreeMap<&str, &str> = dump["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["id"].as_str()?, r["name"].as_str()?)))
        .collect();
    dump["grants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["subjectId"] == subject)
        .map(|g| {
            let role = g["roleId"].as_str().unwrap_or_default();
            (
                role_names.get(role).copied().unwrap_or(role).to_owned(),
                g["divisionId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// An output's value from `gcrecon output --json` (`{ name: { value, sensitive } }`).
fn output(outputs: &Value, name: &str) -> Value {
    let o = &outputs[name];
    assert!(o.is_object(), "no output `{name}` in {outputs}");
    o["value"].clone()
}

/// The caller's temporary grants are gone again: the CI client holds only
/// what the fixture gave it.
fn caller_grants_are_back(before: &Value, after: &Value, caller: &str) {
    assert_eq!(
        grants_of(after, caller),
        grants_of(before, caller),
        "the caller's own role grants changed"
    );
}

#[test]
fn every_example_validates_offline() {
    for vendor in VENDORS {
        let out = Command::new(bin_path("gcrecon"))
            .args(["validate", "--no-color", "-m"])
            .arg(example_dir(vendor))
            .output()
            .expect("cannot run gcrecon");
        assert!(
            out.status.success(),
            "examples/{vendor} does not validate:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_example_has_a_readme_and_a_fixture() {
    for vendor in VENDORS {
        let dir = example_dir(vendor);
        for file in ["gcrecon.toml", "README.md", "gcsim/fixture.toml"] {
            assert!(
                dir.join(file).is_file(),
                "examples/{vendor}/{file} is missing"
            );
        }
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
        for section in [
            "## Guide step",
            "## UI label",
            "## Variables",
            "## Outputs",
            "## How to run",
        ] {
            assert!(
                readme.contains(section),
                "examples/{vendor}/README.md has no `{section}` section"
            );
        }
    }
}

#[test]
fn emite_end_to_end() {
    let run = Run::start("emite");
    let before = run.sim.dump();
    let outputs = run.converge();
    let org = run.sim.dump();

    assert_eq!(output(&outputs, "organization_short_name"), "koalacc");
    assert_eq!(output(&outputs, "region_code"), "au");
    let url = "https://au-cloud.emite.com/emite/koalacc/Auth/OAuthPureCloud";
    assert_eq!(output(&outputs, "application_redirect_url"), url);

    // Application integration: the client app, filtered to emite_Access.
    let app = find(&org, "integrations", "eMite");
    assert_eq!(app["intendedState"], "ENABLED");
    let props = &app["config"]["properties"];
    assert_eq!(props["url"], format!("{url}?org=koalacc"));
    assert_eq!(props["displayType"], "standalone");
    assert_eq!(
        props["sandbox"],
        "allow-scripts,allow-same-origin,allow-forms,allow-modals,allow-popups,allow-downloads"
    );
    assert_eq!(
        strings(&props["groups"]),
        set(&[&id_of(&org, "groups", "emite_Access")])
    );
    let sso = find(&org, "oauth_clients", "emite_SSO");
    assert_eq!(sso["authorizedGrantType"], "CODE");
    assert_eq!(strings(&sso["registeredRedirectUri"]), set(&[url]));

    // Data integration: the adapter role with 34 permissions, on both clients.
    let adapter = find(&org, "roles", "eMite Data Integration");
    assert_eq!(strings(&adapter["grantedPermissions"]).len(), 34);
    for client in ["emite_APIdata", "emite_RealtimeData"] {
        assert_eq!(
            client_roles(&org, client),
            BTreeSet::from([("eMite Data Integration".to_owned(), "*".to_owned())]),
            "{client}"
        );
    }
    assert!(names(&org, "oauth_clients")
        .iter()
        .all(|n| !n.starts_with("emite_WFM")));

    // User integration: the dashboard groups.
    for group in [
        "emite_Access",
        "emite_DashboardViewer",
        "emite_DashboardCreator",
    ] {
        let g = find(&org, "groups", group);
        assert_eq!(g["type"], "official", "{group}");
        assert_eq!(g["visibility"], "public", "{group}");
    }

    // Licence compliance: eMite_<Division> granted, in the division, to the
    // division's agents (members of the agent queues) and to nobody else:
    // not to Ada Admin nor to Sid Supervisor, who take no queue work.
    for division in org["divisions"].as_array().into_iter().flatten() {
        let (div_id, div_name) = (
            division["id"].as_str().unwrap_or_default(),
            division["name"].as_str().unwrap_or_default(),
        );
        let role = format!("eMite_{div_name}");
        assert_eq!(
            strings(&find(&org, "roles", &role)["grantedPermissions"]),
            set(&["integration:emiteApps:view"])
        );
        for user in org["users"].as_array().into_iter().flatten() {
            if user["division"]["id"] == div_id {
                let uid = user["id"].as_str().unwrap_or_default();
                let email = user["email"].as_str().unwrap_or_default();
                assert_eq!(
                    grants_of(&org, uid).contains(&(role.clone(), div_id.to_owned())),
                    EMITE_AGENTS.contains(&email),
                    "{email}: {role} in {div_name} should go to agents only"
                );
            }
        }
    }
    caller_grants_are_back(&before, &org, run.sim.admin_client_id());

    // The optional WFM clients come and go with the variable, nothing else changes.
    run.expect(
        &[
            "apply",
            "--auto-approve",
            "--var",
            "enable_wfm=true",
            "--secrets-out",
            &run.secrets_arg(),
        ],
        0,
    );
    let org = run.sim.dump();
    for client in ["emite_WFMLookback", "emite_WFMActivity"] {
        assert_eq!(
            client_roles(&org, client),
            BTreeSet::from([("eMite Data Integration".to_owned(), "*".to_owned())]),
            "{client}"
        );
    }
    run.expect(
        &["plan", "--detailed-exitcode", "--var", "enable_wfm=true"],
        0,
    );
    run.expect(&["apply", "--auto-approve"], 0);
    assert!(names(&run.sim.dump(), "oauth_clients")
        .iter()
        .all(|n| !n.starts_with("emite_WFM")));

    run.destroy_restores(&before);
}

/// The members of the eMite fixture's agent queues.
const EMITE_AGENTS: [&str; 4] = [
    "sam.sales@koalacc.example",
    "sue.sales@koalacc.example",
    "tom.support@koalacc.example",
    "hannah.home@koalacc.example",
];

/// The changed keys of a drift report: (address, key, expected, actual).
fn drifted(report: &Value) -> Vec<(String, String, Value, Value)> {
    let mut out = Vec::new();
    for object in report["drifted"].as_array().into_iter().flatten() {
        for c in object["changes"].as_array().into_iter().flatten() {
            out.push((
                object["address"].as_str().unwrap_or_default().to_owned(),
                c["key"].as_str().unwrap_or_default().to_owned(),
                c["expected"].clone(),
                c["actual"].clone(),
            ));
        }
    }
    out
}

/// eMite's licence role follows queue membership: a user added to a queue
/// behind gcrecon's back is reported by `drift` as lacking the grant, and
/// one removed as still holding it; the next apply settles both.
#[test]
fn emite_agents_follow_queue_membership() {
    let run = Run::start("emite");
    run.converge();
    let org = run.sim.dump();
    let user = |email: &str| {
        org["users"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| u["email"] == email)
            .and_then(|u| {
                Some((
                    u["id"].as_str()?.to_owned(),
                    u["division"]["id"].as_str()?.to_owned(),
                ))
            })
            .unwrap_or_else(|| panic!("no user {email}"))
    };
    let (sid, support) = user("sid.supervisor@koalacc.example");
    let (hannah, home) = user("hannah.home@koalacc.example");
    assert!(!grants_of(&org, &sid).contains(&("eMite_Support".to_owned(), support.clone())));

    run.sim.mutate(serde_json::json!({
        "kind": "queue",
        "name": "Support",
        "add_members": ["sid.supervisor@koalacc.example"],
        "remove_members": ["hannah.home@koalacc.example"],
    }));
    let out = run.gcrecon(&["drift", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("drift --format json");
    let changes = drifted(&report);
    let subjects = |address: &str| {
        changes
            .iter()
            .find(|(a, k, _, _)| a == address && k == "subjects")
            .map(|(_, _, want, have)| {
                let set = |v: &Value| -> BTreeSet<String> {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                };
                (set(want), set(have))
            })
            .unwrap_or_else(|| panic!("no subjects change of {address} in {changes:?}"))
    };
    let (want, have) = subjects("role_grant.division[\"Support\"]");
    assert!(
        want.contains(&sid) && !have.contains(&sid),
        "{want:?} {have:?}"
    );
    let (want, have) = subjects("role_grant.division[\"Home\"]");
    assert!(
        !want.contains(&hannah) && have.contains(&hannah),
        "{want:?} {have:?}"
    );
    assert_eq!(changes.len(), 2, "{changes:?}");

    run.expect(&["apply", "--auto-approve"], 0);
    let org = run.sim.dump();
    assert!(grants_of(&org, &sid).contains(&("eMite_Support".to_owned(), support)));
    assert!(!grants_of(&org, &hannah).contains(&("eMite_Home".to_owned(), home)));
    let out = run.gcrecon(&["drift", "--format", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("drift --format json");
    assert!(drifted(&report).is_empty(), "{report:#}");
}

#[test]
fn pureengage_end_to_end() {
    let run = Run::start("pureengage");
    let before = run.sim.dump();
    let outputs = run.converge();
    let org = run.sim.dump();

    for client in ["PureEngage saml_auth", "PureEngage ewt"] {
        let c = find(&org, "oauth_clients", client);
        assert_eq!(c["authorizedGrantType"], "CLIENT-CREDENTIALS", "{client}");
        assert_eq!(
            client_roles(&org, client),
            BTreeSet::from([("PureEngage Hybrid Services".to_owned(), "*".to_owned())]),
            "{client}"
        );
    }
    let idp = &org["identity_providers"]["pureengage"];
    assert_eq!(idp["name"], "PureEngage");
    assert_eq!(idp["autoProvisionUsers"], true);
    assert_eq!(idp["issuerURI"], "http://www.genesys.com/pureengage");
    assert_eq!(
        idp["ssoTargetURI"],
        "https://sso.engagehybrid.example/pureengage/target"
    );
    assert_eq!(idp["disabled"], false);

    // The hybrid_integration values.
    assert_eq!(
        output(&outputs, "general_organization_sname"),
        "engagehybrid"
    );
    assert_eq!(
        output(&outputs, "general_organization_id"),
        org["org"]["id"]
    );
    assert_eq!(output(&outputs, "general_default_agent_role_name"), "user");
    assert_eq!(
        output(&outputs, "general_base_auth_url"),
        format!("{}/oauth/token", run.sim.url()).as_str()
    );
    assert_eq!(
        output(&outputs, "general_base_service_url"),
        format!("{}/api/", run.sim.url()).as_str()
    );
    // One output per service section, from one `for_each` output.
    for service in ["saml_auth", "ewt"] {
        assert_eq!(
            output(&outputs, &format!("client_id[\"{service}\"]")),
            find(&org, "oauth_clients", &format!("PureEngage {service}"))["id"]
        );
        let secret = format!("password[\"{service}\"]");
        assert_eq!(
            outputs[&secret]["sensitive"], true,
            "{secret} must be sensitive"
        );
    }
    let names: BTreeSet<&str> = outputs
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("client_id") || k.starts_with("password"))
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "client_id[\"ewt\"]",
            "client_id[\"saml_auth\"]",
            "password[\"ewt\"]",
            "password[\"saml_auth\"]"
        ])
    );
    caller_grants_are_back(&before, &org, run.sim.admin_client_id());

    run.destroy_restores(&before);
}

#[test]
fn nectar_end_to_end() {
    let run = Run::start("nectar");
    let before = run.sim.dump();
    let outputs = run.converge();
    let org = run.sim.dump();

    assert_eq!(
        strings(&find(&org, "roles", "Nectar DXP - ReadOnly")["grantedPermissions"]),
        set(&[
            "analytics:conversationDetail:view",
            "directory:group:view",
            "directory:user:view"
        ])
    );
    assert_eq!(
        client_roles(&org, "Nectar DXP API Access"),
        BTreeSet::from([("Nectar DXP - ReadOnly".to_owned(), "*".to_owned())])
    );
    let eb = find(&org, "integrations", "Nectar DXP EventBridge");
    assert_eq!(eb["intendedState"], "ENABLED");
    assert_eq!(eb["integrationType"]["id"], "amazon-eventbridge-source");
    let props = &eb["config"]["properties"];
    assert_eq!(props["awsAccountId"], "123456789012");
    assert_eq!(props["awsAccountRegion"], "us-west-2");
    assert_eq!(props["eventSourceSuffix"], "Genesys-NectarDXP");
    assert_eq!(
        strings(&props["eventFilter"]),
        set(&[
            "v2.users.{id}.tokens",
            "v2.operations.events.{id}",
            "v2.detail.events.conversation.{id}.customer.end",
        ])
    );
    assert_eq!(
        output(&outputs, "client_id"),
        find(&org, "oauth_clients", "Nectar DXP API Access")["id"]
    );
    caller_grants_are_back(&before, &org, run.sim.admin_client_id());

    run.destroy_restores(&before);
}

#[test]
fn nectar_future_permissions_update_the_role_in_place() {
    let run = Run::start("nectar");
    run.converge();
    let client_before =
        find(&run.sim.dump(), "oauth_clients", "Nectar DXP API Access")["id"].clone();
    let on = ["--var", "enable_future_permissions=true"];
    run.expect(&[&["apply", "--auto-approve"][..], &on[..]].concat(), 0);
    run.expect(&[&["plan", "--detailed-exitcode"][..], &on[..]].concat(), 0);
    let org = run.sim.dump();
    assert_eq!(
        strings(&find(&org, "roles", "Nectar DXP - ReadOnly")["grantedPermissions"]).len(),
        9
    );
    assert_eq!(
        find(&org, "oauth_clients", "Nectar DXP API Access")["id"],
        client_before
    );
}

#[test]
fn eightbyeight_end_to_end() {
    let run = Run::start("eightbyeight");
    let before = run.sim.dump();
    let outputs = run.converge();
    let org = run.sim.dump();

    let integration = find(&org, "integrations", "8x8");
    assert_eq!(integration["integrationType"]["id"], "eight-by-eight");
    assert_eq!(integration["intendedState"], "ENABLED");
    assert_eq!(
        strings(&find(&org, "roles", "8x8 Integration User")["grantedPermissions"]),
        set(&[
            "integration:8x8:view",
            "integration:unifiedCommunications:view"
        ])
    );
    let group = id_of(&org, "groups", "8x8 Integration Users");
    assert_eq!(
        grants_of(&org, &group),
        BTreeSet::from([("8x8 Integration User".to_owned(), "*".to_owned())])
    );
    assert_eq!(
        strings(&find(&org, "roles", "8x8 Presence Sync")["grantedPermissions"]),
        set(&["integration:presence:*", "presence:*:*"])
    );
    assert_eq!(
        client_roles(&org, "8x8 Presence Sync"),
        BTreeSet::from([("8x8 Presence Sync".to_owned(), "*".to_owned())])
    );
    assert_eq!(
        output(&outputs, "client_id"),
        find(&org, "oauth_clients", "8x8 Presence Sync")["id"]
    );
    caller_grants_are_back(&before, &org, run.sim.admin_client_id());

    run.destroy_restores(&before);
}

#[test]
fn cognigy_end_to_end() {
    let run = Run::start("cognigy");
    let before = run.sim.dump();
    let outputs = run.converge();
    let org = run.sim.dump();

    // "Select an existing queue": the fixture's queue is adopted, in its
    // division, its routing settings untouched.
    let queue = find(&org, "queues", "Cognigy HQ Queue");
    let fixture_queue = find(&before, "queues", "Cognigy HQ Queue");
    assert_eq!(queue["id"], fixture_queue["id"], "adopted, not created");
    assert_eq!(
        queue["division"]["id"],
        id_of(&org, "divisions", "Customer Service").as_str()
    );
    for setting in ["acwSettings", "skillEvaluationMethod", "scoringMethod"] {
        assert_eq!(queue[setting], fixture_queue[setting], "{setting}");
    }
    let queue_division = queue["division"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        strings(&find(&org, "roles", "Query Queue Status")["grantedPermissions"]),
        set(&["routing:queue:view", "routing:queue:readonly"])
    );
    // The client holds the role in the queue's division only.
    assert_eq!(
        client_roles(&org, "Cognigy Handover"),
        BTreeSet::from([("Query Queue Status".to_owned(), queue_division)])
    );
    assert_eq!(output(&outputs, "queue_id"), queue["id"]);
    assert_eq!(output(&outputs, "queue_name"), "Cognigy HQ Queue");
    assert_eq!(output(&outputs, "organization_id"), org["org"]["id"]);
    assert_eq!(
        output(&outputs, "oauth_url"),
        format!("{}/oauth/token", run.sim.url()).as_str()
    );
    assert_eq!(
        output(&outputs, "deployment_id"),
        "0f4e6c2a-5b7d-4e1f-9a3c-8d2b1e0f7a65"
    );
    caller_grants_are_back(&before, &org, run.sim.admin_client_id());

    // The README's way to keep an adopted queue: let go of it, then destroy.
    run.expect(&["state", "rm", "queue.handover"], 0);
    run.destroy_restores(&before);
    assert_eq!(
        find(&run.sim.dump(), "queues", "Cognigy HQ Queue")["id"],
        fixture_queue["id"],
        "the adopted queue stays after `state rm` and destroy"
    );
}

/// "... or create a new Queue": without a queue of that name, the example
/// creates it in the queue division with gcrecon's defaults, and destroy
/// removes it.
#[test]
fn cognigy_creates_the_queue_when_none_exists() {
    let mut run = Run::start("cognigy");
    run.vars.push((
        "GCRECON_VAR_queue_name".into(),
        "Cognigy Bot Handover".into(),
    ));
    let before = run.sim.dump();
    let outputs = run.converge();
    let org = run.sim.dump();
    let queue = find(&org, "queues", "Cognigy Bot Handover");
    assert!(!names(&before, "queues").contains("Cognigy Bot Handover"));
    assert_eq!(
        queue["division"]["id"],
        id_of(&org, "divisions", "Customer Service").as_str()
    );
    assert_eq!(queue["acwSettings"]["wrapupPrompt"], "MANDATORY_TIMEOUT");
    assert_eq!(queue["skillEvaluationMethod"], "ALL");
    assert_eq!(queue["autoAnswerOnly"], true);
    assert_eq!(output(&outputs, "queue_id"), queue["id"]);
    assert_eq!(
        client_roles(&org, "Cognigy Handover"),
        BTreeSet::from([(
            "Query Queue Status".to_owned(),
            queue["division"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        )])
    );
    run.destroy_restores(&before);
    assert!(
        !names(&run.sim.dump(), "queues").contains("Cognigy Bot Handover"),
        "destroy removes the queue it created"
    );
}

/// Every example also converges when a person runs it with their own
/// (user) token: the caller role grant goes to the user, the OAuth clients
/// get their roles, the user's own grants are as before afterwards, and
/// destroy leaves the fixture org.
#[test]
fn every_example_converges_as_a_user_caller() {
    for vendor in ["emite", "pureengage", "nectar", "eightbyeight", "cognigy"] {
        let (run, user_id) = Run::start_as_user(vendor);
        let before = run.sim.dump();
        run.converge();
        let org = run.sim.dump();
        // Roles the new OAuth clients hold: the ones the user needed a
        // temporary grant of.
        let mut client_role_names = BTreeSet::new();
        for client in org["oauth_clients"].as_array().into_iter().flatten() {
            let name = client["name"].as_str().unwrap_or_default();
            if names(&before, "oauth_clients").contains(name) {
                continue;
            }
            let roles = client_roles(&org, name);
            if client["authorizedGrantType"] == "CLIENT-CREDENTIALS" {
                assert!(
                    !roles.is_empty(),
                    "examples/{vendor}: client `{name}` created by a user caller has no roles"
                );
            }
            client_role_names.extend(roles.into_iter().map(|(role, _)| role));
        }
        // The temporary grants are gone again. (Grants a manifest's own
        // role_grant gives the user, as eMite's per-division role to every
        // user of the division, stay: they are the manifest's.)
        let of_clients = |dump: &Value| -> BTreeSet<(String, String)> {
            grants_of(dump, &user_id)
                .into_iter()
                .filter(|(role, _)| client_role_names.contains(role))
                .collect()
        };
        assert_eq!(
            of_clients(&org),
            of_clients(&before),
            "examples/{vendor}: the user's temporary grants of the clients' roles were not removed"
        );
        run.destroy_restores(&before);
    }
}

/// Every example converges, re-plans clean, shows no drift and is destroyed
/// against a service that lags as the real one does (gcsim
/// `--eventual-ms 2000`): listings miss new objects, the authorization
/// service refuses grants of new roles and divisions with 404, deleted
/// objects read back `state: "deleted"` and divisions refuse their delete
/// while those drain.
#[test]
fn every_example_converges_against_a_lagging_service() {
    for vendor in ["emite", "pureengage", "nectar", "eightbyeight", "cognigy"] {
        let mut run = Run::start_with(vendor, |b| b.eventual_ms(2000));
        // Objects created moments ago are missing from listings: each costs
        // a read by id to confirm it is there.
        run.plan_call_budget = NO_OP_PLAN_CALL_BUDGET + 20;
        let before = run.sim.dump();
        run.converge();
        let org = run.sim.dump();
        for role in org["roles"].as_array().into_iter().flatten() {
            let name = role["name"].as_str().unwrap_or_default();
            if names(&before, "roles").contains(name) {
                continue;
            }
            assert!(
                !strings(&role["grantedPermissions"]).is_empty(),
                "examples/{vendor}: role `{name}` grants nothing: {role}"
            );
        }
        run.destroy_restores(&before);
    }
}
