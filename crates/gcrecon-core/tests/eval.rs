//! Evaluation tests: for_each expansion, `when`, references keeping their
//! type, map indexing, `eval_instance` with known and unknown resources,
//! variables, data queries, outputs and the instance graph, on small
//! manifests and on a realistic eMite manifest.

use std::collections::BTreeMap;

use gcrecon_core::graph::{EdgeReason, NodeKind};
use gcrecon_core::manifest::{self, nothing_known, EvalContext, Manifest, Source, Variables};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, DataKind, Kind, Value};

fn load(text: &str) -> Manifest {
    let sources = [Source::new("gcrecon.toml", text)];
    manifest::load(&sources).unwrap_or_else(|d| panic!("{}", d.render(&sources, false)))
}

fn org() -> (Address, Attrs) {
    let mut a = Attrs::new();
    a.insert("id".into(), Value::from("org-1"));
    a.insert("name".into(), Value::from("Acme"));
    a.insert("short_name".into(), Value::from("acme"));
    a.insert("region".into(), Value::from("ap-southeast-2"));
    a.insert("domain".into(), Value::from("mypurecloud.com.au"));
    (Address::data(DataKind::Org, ""), a)
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

const HEADER: &str = "[gcrecon]\nversion = 1\n";

#[test]
fn for_each_over_a_list_and_a_map() {
    let m = load(&format!(
        "{HEADER}
[role.per_list]
for_each = [\"Home\", \"Sales\"]
name = \"eMite_${{each.value}}\"
permissions = [\"integration:emiteApps:view\"]
description = \"key ${{each.key}}\"

[division.per_map]
for_each = {{ au = \"Sydney\", jp = \"Tokyo\" }}
name = \"${{each.key}}-${{each.value}}\"
"
    ));
    let vars = Variables::new();
    let data = BTreeMap::new();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let d = m.desired(&ctx).unwrap();
    let names: Vec<String> = d.instances.iter().map(|i| i.address.to_string()).collect();
    assert_eq!(
        names,
        [
            "division.per_map[\"au\"]",
            "division.per_map[\"jp\"]",
            "role.per_list[\"Home\"]",
            "role.per_list[\"Sales\"]"
        ]
    );
    let home = d.get(&"role.per_list[\"Home\"]".parse().unwrap()).unwrap();
    assert_eq!(home.attrs["name"], Value::from("eMite_Home"));
    assert_eq!(home.attrs["description"], Value::from("key Home"));
    assert_eq!(home.kind, Kind::Role);
    let jp = d.get(&"division.per_map[\"jp\"]".parse().unwrap()).unwrap();
    assert_eq!(jp.attrs["name"], Value::from("jp-Tokyo"));
}

#[test]
fn whole_string_reference_keeps_its_type_and_maps_index() {
    let m = load(&format!(
        "{HEADER}
[variables.perms]
type = \"list\"

[variables.ttl]
type = \"number\"
default = 600

[locals]
codes = {{ \"ap-southeast-2\" = \"au\", \"us-east-1\" = \"useast\" }}
code = \"${{local.codes[data.org.region]}}\"
url = \"https://${{local.code}}-cloud.example.com/${{data.org.short_name}}?ttl=${{var.ttl}}\"

[role.r]
name = \"R ${{local.code}}\"
permissions = \"${{var.perms}}\"

[oauth_client.c]
name = \"${{local.url}}\"
grant_type = \"code\"
token_ttl_seconds = \"${{var.ttl}}\"
redirect_uris = [\"${{local.url}}\"]
"
    ));
    let cli: BTreeMap<String, String> =
        [("perms".to_owned(), "[\"a:b:c\", \"d:e:*\"]".to_owned())].into();
    let vars = m.resolve_variables(&cli, &BTreeMap::new()).unwrap();
    let data: BTreeMap<Address, Attrs> = [org()].into();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let d = m.desired(&ctx).unwrap();
    let role = d.get(&"role.r".parse().unwrap()).unwrap();
    assert_eq!(
        role.attrs["permissions"],
        Value::strings(["a:b:c", "d:e:*"])
    );
    assert_eq!(role.attrs["name"], Value::from("R au"));
    let client = d.get(&"oauth_client.c".parse().unwrap()).unwrap();
    assert_eq!(client.attrs["token_ttl_seconds"], Value::from(600));
    assert_eq!(
        client.attrs["name"],
        Value::from("https://au-cloud.example.com/acme?ttl=600")
    );
}

#[test]
fn unknown_ids_stay_unknown_until_eval_instance_knows_them() {
    let m = load(&format!(
        "{HEADER}
[role.adapter]
name = \"Adapter\"
permissions = [\"routing:queue:view\"]

[oauth_client.api]
name = \"API for ${{role.adapter.name}}\"
grant_type = \"client_credentials\"
roles = [{{ role = \"${{role.adapter.id}}\", divisions = [\"*\"] }}]
description = \"role ${{role.adapter.id}}\"
"
    ));
    let vars = Variables::new();
    let data = BTreeMap::new();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let d = m.desired(&ctx).unwrap();
    let client_addr: Address = "oauth_client.api".parse().unwrap();
    let client = d.get(&client_addr).unwrap();
    assert_eq!(
        client.attrs["name"],
        Value::from("API for Adapter"),
        "manifest keys of other blocks are known"
    );
    assert_eq!(
        client.attrs["description"],
        Value::Unknown,
        "a template with an unknown part is unknown"
    );
    let roles = client.attrs["roles"].as_list().unwrap();
    assert_eq!(roles[0].as_map().unwrap()["role"], Value::Unknown);
    assert!(!client.attrs["roles"].is_known());
    assert_eq!(
        client.depends_on,
        vec!["role.adapter".parse::<Address>().unwrap()]
    );

    let known = |a: &Address, attr: &str| -> Option<Value> {
        (a.to_string() == "role.adapter" && attr == "id").then(|| Value::from("role-123"))
    };
    let ctx = EvalContext::new(&vars, &data, &known);
    let again = m.eval_instance(&client_addr, &ctx).unwrap();
    assert_eq!(again.attrs["description"], Value::from("role role-123"));
    assert_eq!(
        again.attrs["roles"].as_list().unwrap()[0].as_map().unwrap()["role"],
        Value::from("role-123")
    );
    assert!(again.attrs["roles"].is_known());

    let missing = m
        .eval_instance(&"role.nope".parse().unwrap(), &ctx)
        .unwrap_err();
    assert!(missing.to_string().contains("not a resource"), "{missing}");
}

#[test]
fn when_drops_instances_and_references_to_them_fail() {
    let text = format!(
        "{HEADER}
[variables.enable_wfm]
type = \"bool\"
default = false

[role.wfm]
when = \"${{var.enable_wfm}}\"
name = \"WFM\"
permissions = [\"wfm:agent:view\"]

[oauth_client.wfm]
when = \"${{var.enable_wfm}}\"
name = \"WFM client\"
grant_type = \"client_credentials\"
roles = [{{ role = \"${{role.wfm.id}}\" }}]

[group.g]
name = \"g\"
description = \"${{role.wfm.name}}\"
"
    );
    let m = load(&text);
    let data = BTreeMap::new();
    let off = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let err = m
        .desired(&EvalContext::new(&off, &data, &nothing_known))
        .unwrap_err();
    let rendered = err.render(&m.sources(), false);
    assert!(
        rendered.contains("`role.wfm` is switched off by its `when`"),
        "{rendered}"
    );
    assert!(rendered.contains("address: group.g"), "{rendered}");

    let env: BTreeMap<String, String> = [("ENABLE_WFM".to_owned(), "true".to_owned())].into();
    let on = m.resolve_variables(&BTreeMap::new(), &env).unwrap();
    let d = m
        .desired(&EvalContext::new(&on, &data, &nothing_known))
        .unwrap();
    assert_eq!(d.instances.len(), 3);

    // Without the reference, `when = false` simply drops both.
    let m = load(&text.replace(
        "description = \"${role.wfm.name}\"",
        "description = \"plain\"",
    ));
    let d = m
        .desired(&EvalContext::new(&off, &data, &nothing_known))
        .unwrap();
    assert_eq!(d.instances.len(), 1);
    assert_eq!(d.instances[0].address.to_string(), "group.g");
}

#[test]
fn variables_convert_and_report_every_problem() {
    let m = load(&format!(
        "{HEADER}
[variables.name]
[variables.count]
type = \"number\"
[variables.flag]
type = \"bool\"
default = true
[variables.codes]
type = \"map\"
default = {{ au = \"x\" }}
[variables.secret]
sensitive = true
default = \"s3cret\"
"
    ));
    let decls: Vec<&str> = m.variables().map(|(n, _)| n).collect();
    assert_eq!(decls, ["codes", "count", "flag", "name", "secret"]);
    let cli: BTreeMap<String, String> =
        [("count".into(), "12".into()), ("name".into(), "cli".into())].into();
    let env: BTreeMap<String, String> =
        [("name".into(), "env".into()), ("FLAG".into(), "no".into())].into();
    let v = m.resolve_variables(&cli, &env).unwrap();
    assert_eq!(
        v.get("name"),
        Some(&Value::from("cli")),
        "--var wins over the environment"
    );
    assert_eq!(v.get("count"), Some(&Value::from(12)));
    assert_eq!(
        v.get("flag"),
        Some(&Value::Bool(false)),
        "GCRECON_VAR_FLAG in upper case works"
    );
    assert_eq!(v.get("codes").unwrap().to_string(), "{au = \"x\"}");
    assert!(v.is_sensitive("secret"));

    let bad: BTreeMap<String, String> =
        [("count".into(), "many".into()), ("nmae".into(), "x".into())].into();
    let err = m.resolve_variables(&bad, &BTreeMap::new()).unwrap_err();
    let text = err.render(&m.sources(), false);
    assert_eq!(err.len(), 3, "{text}");
    assert!(text.contains("`many` is not a number"), "{text}");
    assert!(text.contains("did you mean `name`?"), "{text}");
    assert!(text.contains("variable `var.name` has no value"), "{text}");
}

#[test]
fn data_queries_expand_for_each_and_need_known_values() {
    let m = load(&format!(
        "{HEADER}
[data.divisions.all]

[data.users.agents]
for_each = \"${{data.divisions.all.names}}\"
division = \"${{each.value}}\"

[data.division.home]
home = true
"
    ));
    let order: Vec<String> = m
        .data_blocks_in_order()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        order,
        [
            "data.division.home",
            "data.divisions.all",
            "data.users.agents"
        ]
    );
    let vars = Variables::new();
    let mut data = BTreeMap::new();
    let all = Address::data(DataKind::Divisions, "all");
    let q = m
        .data_queries(&all, &EvalContext::new(&vars, &data, &nothing_known))
        .unwrap();
    assert_eq!(q.len(), 1);
    assert!(q[0].query.is_empty());
    data.insert(
        all,
        attrs(&[
            ("names", Value::strings(["Home", "Sales"])),
            ("ids", Value::strings(["d1", "d2"])),
        ]),
    );
    let agents = Address::data(DataKind::Users, "agents");
    let q = m
        .data_queries(&agents, &EvalContext::new(&vars, &data, &nothing_known))
        .unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[1].address.to_string(), "data.users.agents[\"Sales\"]");
    assert_eq!(q[1].kind, DataKind::Users);
    assert_eq!(q[1].query["division"], Value::from("Sales"));
    // Data not read yet is an error that names it.
    let err = m
        .data_queries(
            &agents,
            &EvalContext::new(&vars, &BTreeMap::new(), &nothing_known),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`data.divisions.all` has no value"),
        "{err}"
    );
}

#[test]
fn depends_on_adds_edges_and_graph_orders() {
    let m = load(&format!(
        "{HEADER}
[division.d]
name = \"D\"

[group.g]
name = \"G\"
depends_on = [\"division.d\"]

[role.r]
name = \"R\"
permissions = [\"a:b:c\"]
description = \"${{group.g.id}}\"
"
    ));
    let vars = Variables::new();
    let data = BTreeMap::new();
    let d = m
        .desired(&EvalContext::new(&vars, &data, &nothing_known))
        .unwrap();
    let g = d.get(&"group.g".parse().unwrap()).unwrap();
    assert_eq!(g.depends_on, vec!["division.d".parse::<Address>().unwrap()]);
    let order: Vec<String> = d
        .graph
        .apply_order()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(order, ["division.d", "group.g", "role.r"]);
    let edges = d.graph.edges();
    assert!(edges.contains(&(
        NodeKind::Resource("division.d".parse().unwrap()),
        NodeKind::Resource("group.g".parse().unwrap()),
        EdgeReason::DependsOn
    )));
    let destroy: Vec<String> = d
        .graph
        .destroy_order()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(destroy, ["role.r", "group.g", "division.d"]);
}

fn emite() -> (Manifest, Vec<Source>) {
    let sources = vec![Source::new(
        "emite.toml",
        include_str!("fixtures/emite.toml"),
    )];
    let m = manifest::load(&sources).unwrap_or_else(|d| panic!("{}", d.render(&sources, false)));
    (m, sources)
}

#[test]
fn emite_manifest_plans_end_to_end() {
    let (m, _) = emite();
    assert_eq!(m.name(), Some("emite"));
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();

    // Read data sources the way the engine does.
    let order: Vec<String> = m
        .data_blocks_in_order()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        order,
        [
            "data.divisions.all",
            "data.division.by_name",
            "data.users.agents"
        ]
    );
    let mut data: BTreeMap<Address, Attrs> = [org()].into();
    for block in m.data_blocks_in_order() {
        let queries = m
            .data_queries(&block, &EvalContext::new(&vars, &data, &nothing_known))
            .unwrap();
        for q in queries {
            let result = match q.kind {
                DataKind::Divisions => attrs(&[
                    ("names", Value::strings(["Home", "Sales"])),
                    ("ids", Value::strings(["d-home", "d-sales"])),
                ]),
                DataKind::Division => {
                    let name = q.query["name"].as_str().unwrap().to_owned();
                    attrs(&[
                        ("id", Value::from(format!("d-{}", name.to_lowercase()))),
                        ("name", Value::from(name)),
                    ])
                }
                DataKind::Users => {
                    let div = q.query["division"].as_str().unwrap().to_lowercase();
                    attrs(&[(
                        "ids",
                        Value::strings([format!("u1-{div}"), format!("u2-{div}")]),
                    )])
                }
                other => panic!("unexpected {other}"),
            };
            data.insert(q.address, result);
        }
    }

    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let d = m.desired(&ctx).unwrap();
    let addrs: Vec<String> = d.instances.iter().map(|i| i.address.to_string()).collect();
    assert_eq!(
        addrs,
        [
            "role.adapter",
            "role.emite_division[\"Home\"]",
            "role.emite_division[\"Sales\"]",
            "group.access",
            "group.dashboard_creator",
            "group.dashboard_viewer",
            "role_grant.emite_division[\"Home\"]",
            "role_grant.emite_division[\"Sales\"]",
            "oauth_client.apidata",
            "oauth_client.realtime",
            "oauth_client.sso",
            "integration.app",
        ],
        "WFM clients are off by default"
    );
    let app = d.get(&"integration.app".parse().unwrap()).unwrap();
    let config = app.attrs["config"].as_map().unwrap();
    assert_eq!(
        config["url"],
        Value::from("https://au-cloud.emite.com/emite/acme/Auth/OAuthPureCloud?org=acme")
    );
    assert_eq!(config["groups"], Value::List(vec![Value::Unknown]));
    let adapter = d.get(&"role.adapter".parse().unwrap()).unwrap();
    assert_eq!(adapter.attrs["permissions"].as_list().unwrap().len(), 34);

    let grant = d
        .get(&"role_grant.emite_division[\"Sales\"]".parse().unwrap())
        .unwrap();
    assert_eq!(
        grant.attrs["subjects"],
        Value::strings(["u1-sales", "u2-sales"])
    );
    assert_eq!(grant.attrs["divisions"], Value::strings(["d-sales"]));
    assert_eq!(grant.attrs["role"], Value::Unknown);
    assert_eq!(
        grant.depends_on,
        vec!["role.emite_division[\"Sales\"]".parse::<Address>().unwrap()]
    );

    // The platform's rule: the caller must hold the adapter role before a client gets it.
    let role = NodeKind::Resource("role.adapter".parse().unwrap());
    let caller_grant = NodeKind::CallerGrant {
        role: "role.adapter".parse().unwrap(),
    };
    let apidata = NodeKind::Resource("oauth_client.apidata".parse().unwrap());
    let realtime = NodeKind::Resource("oauth_client.realtime".parse().unwrap());
    assert_eq!(
        d.graph.dependents(&caller_grant),
        vec![apidata.clone(), realtime]
    );
    assert_eq!(d.graph.dependencies(&caller_grant), vec![role.clone()]);
    let order = d.graph.apply_order();
    let pos = |n: &NodeKind| order.iter().position(|x| x == n).unwrap();
    assert!(pos(&role) < pos(&caller_grant) && pos(&caller_grant) < pos(&apidata));
    assert!(d.graph.contains(&NodeKind::Data(
        "data.users.agents[\"Home\"]".parse().unwrap()
    )));

    // Outputs: unknown until apply, secrets flagged.
    let outs = m.outputs(&ctx).unwrap();
    let get = |n: &str| outs.iter().find(|o| o.name == n).unwrap();
    assert_eq!(get("org_short_name").value, Value::from("acme"));
    assert_eq!(get("region_code").value, Value::from("au"));
    assert_eq!(get("sso_client_id").value, Value::Unknown);
    assert!(get("sso_client_secret").sensitive);
    assert!(!get("sso_client_id").sensitive);
    assert_eq!(
        get("group_names").value,
        Value::strings([
            "emite_Access",
            "emite_DashboardViewer",
            "emite_DashboardCreator"
        ])
    );
    assert_eq!(
        get("group_names").description.as_deref(),
        Some("Full names of the eMite groups")
    );

    // With WFM on, two more clients hang off the same caller grant.
    let cli: BTreeMap<String, String> = [("enable_wfm".to_owned(), "true".to_owned())].into();
    let vars = m.resolve_variables(&cli, &BTreeMap::new()).unwrap();
    let d = m
        .desired(&EvalContext::new(&vars, &data, &nothing_known))
        .unwrap();
    assert_eq!(d.instances.len(), 14);
    assert_eq!(d.graph.dependents(&caller_grant).len(), 4);
}

#[test]
fn emite_block_graph_offline() {
    let (m, _) = emite();
    let g = m.block_graph();
    let text = g.to_text();
    assert!(
        text.contains("role.emite_division[*]\n  after data.divisions.all (reference)\n"),
        "{text}"
    );
    assert!(text.contains("caller_grant(role.adapter)\n  after role.adapter (caller grant: Genesys Cloud lets a caller give an OAuth client only roles it holds)"), "{text}");
    assert!(text.contains("oauth_client.wfm_activity\n  after role.adapter (reference)\n  after caller_grant(role.adapter) (caller grant"), "{text}");
    assert!(g.cycles().is_empty());
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph gcrecon {"));
    assert!(dot.contains("\"role.emite_division[*]\" -> \"role_grant.emite_division[*]\" [label = \"reference\"];"), "{dot}");
    insta::assert_snapshot!("emite_graph_text", text);
    insta::assert_snapshot!("emite_graph_dot", dot);
}

#[test]
fn span_of_points_at_blocks_and_keys() {
    let (m, _) = emite();
    let adapter: Address = "role.adapter".parse().unwrap();
    let block = m.span_of(&adapter, None).unwrap();
    assert_eq!(block.path.to_str(), Some("emite.toml"));
    assert_eq!((block.line, block.col), (45, 1));
    let perms = m.span_of(&adapter, Some("permissions")).unwrap();
    assert_eq!((perms.line, perms.col), (48, 1));
    let keyed: Address = "role.emite_division[\"Home\"]".parse().unwrap();
    assert_eq!(m.span_of(&keyed, Some("for_each")).unwrap().line, 120);
    assert!(m.span_of(&"role.nope".parse().unwrap(), None).is_none());
    let d = m
        .error_at(
            &adapter,
            Some("permissions"),
            "unknown permission `wfm:agent:edt`",
        )
        .with_hint("did you mean `wfm:agent:edit`?");
    let text = manifest::Diagnostics::from(d).render(&m.sources(), false);
    assert!(text.contains(" --> emite.toml:48:1"), "{text}");
    assert!(text.contains("48 | permissions = ["), "{text}");
}

#[test]
fn resource_free_blocks_evaluate_the_same_once_ids_are_known() {
    let m = load(&format!(
        "{HEADER}
[variables.regions]
type = \"list\"
default = [\"au\", \"jp\"]

[locals]
home_id = \"${{division.home.id}}\"

[division.home]
name = \"Home\"

[division.each]
for_each = \"${{var.regions}}\"
name = \"${{each.value}} of ${{data.org.name}}\"

[role.plain]
name = \"Plain\"
permissions = [\"a:b:c\"]

[role.direct]
name = \"Direct\"
permissions = [\"a:b:c\"]
description = \"${{division.home.id}}\"

[role.by_name]
name = \"By name of ${{role.plain.name}}\"
permissions = [\"a:b:c\"]

[role.through_local]
name = \"Local\"
permissions = [\"a:b:c\"]
description = \"${{local.home_id}}\"

[group.after]
name = \"After\"
depends_on = [\"role.plain\"]
"
    ));
    let free = m.resource_free_blocks();
    let is_free = |a: &str| free.contains(&a.parse().unwrap());
    for a in [
        "division.home",
        "division.each[\"au\"]",
        "division.each",
        "role.plain",
    ] {
        assert!(is_free(a), "{a} references no resource");
    }
    for a in [
        "role.direct",
        "role.by_name",
        "role.through_local",
        "group.after",
    ] {
        assert!(!is_free(a), "{a} references a resource");
    }

    // What the plan relies on: an instance of a free block evaluated with
    // no id known is the instance evaluated with every id known.
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::from([org()]);
    let first = m
        .desired(&EvalContext::new(&vars, &data, &nothing_known))
        .unwrap();
    let every_id = |a: &Address, attr: &str| (attr == "id").then(|| Value::from(format!("id-{a}")));
    let known = EvalContext::new(&vars, &data, &every_id);
    let mut differ = Vec::new();
    for inst in &first.instances {
        let again = m.eval_instance(&inst.address, &known).unwrap();
        if again != *inst {
            assert!(
                !free.contains(&inst.address),
                "{} is free, yet evaluates differently",
                inst.address
            );
            differ.push(inst.address.to_string());
        }
    }
    assert_eq!(differ, ["role.direct", "role.through_local"]);
}

/// A manifest with a cacheable local and `for_each` (`local.teams`,
/// `group.team`) and others that read a resource (`local.base_id`,
/// `group.named`, `group.by_id`).
fn teams_manifest() -> Manifest {
    load(&format!(
        "{HEADER}
[variables.teams]
type = \"map\"
default = {{ a = \"Alpha\", b = \"Beta\", c = \"Gamma\" }}

[locals]
teams = \"${{var.teams}}\"
base_id = \"${{role.base.id}}\"

[role.base]
name = \"Base\"
permissions = [\"a:b:c\"]

[group.team]
for_each = \"${{local.teams}}\"
name = \"${{local.teams[each.key]}} team\"
description = \"${{local.base_id}} ${{role.base.id}}\"

[group.named]
for_each = [\"${{role.base.name}}\", \"Other\"]
name = \"${{each.value}} group\"
description = \"${{local.base_id}}\"

[group.by_id]
for_each = [\"${{role.base.id}}\"]
name = \"Group of ${{each.value}}\"
"
    ))
}

#[test]
fn the_first_evaluation_fills_the_cache_the_walk_reads() {
    let m = teams_manifest();
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::new();
    let id = |a: &Address, attr: &str| {
        (a.to_string() == "role.base" && attr == "id").then(|| Value::from("r1"))
    };
    let cache = manifest::EvalCache::default();
    let ctx = EvalContext::new(&vars, &data, &id).with_cache(&cache);
    let desired = m.desired(&ctx).unwrap();
    assert_eq!(desired.instances.len(), 7);
    // Kept: `local.teams` and the expansion of `group.team`; not kept:
    // `local.base_id` and the `for_each` of `group.named` and
    // `group.by_id`, which read a resource.
    assert_eq!(format!("{cache:?}"), "EvalCache { locals: 1, blocks: 1 }");

    // The walk evaluates with the same cache.
    let a = m
        .eval_instance(&"group.team[\"a\"]".parse().unwrap(), &ctx)
        .unwrap();
    assert_eq!(a.attrs["name"], Value::from("Alpha team"));
    assert_eq!(a.attrs["description"], Value::from("r1 r1"));
    assert_eq!(format!("{cache:?}"), "EvalCache { locals: 1, blocks: 1 }");

    // What the walk reads is the first evaluation's: given other variables
    // (which a cache must not be), the kept expansion still answers, where
    // a fresh evaluation no longer has the instance.
    let cli: BTreeMap<String, String> =
        [("teams".to_owned(), r#"{"z": "Zeta"}"#.to_owned())].into();
    let other = m.resolve_variables(&cli, &BTreeMap::new()).unwrap();
    let kept = EvalContext::new(&other, &data, &id).with_cache(&cache);
    let b = m
        .eval_instance(&"group.team[\"b\"]".parse().unwrap(), &kept)
        .unwrap();
    assert_eq!(b.attrs["name"], Value::from("Beta team"));
    let fresh = EvalContext::new(&other, &data, &id);
    let gone = m
        .eval_instance(&"group.team[\"b\"]".parse().unwrap(), &fresh)
        .unwrap_err();
    assert!(
        gone.to_string().contains("not one of the instances"),
        "{gone}"
    );
}

#[test]
fn a_cache_keeps_only_what_references_no_resource() {
    let m = teams_manifest();
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::new();
    let id_is = |id: &'static str| {
        move |a: &Address, attr: &str| {
            (a.to_string() == "role.base" && attr == "id").then(|| Value::from(id))
        }
    };
    let (first, second) = (id_is("r1"), id_is("r2"));
    let cache = manifest::EvalCache::default();
    let with_cache = |resolver: &dyn Fn(&Address, &str) -> Option<Value>, address: &str| {
        let ctx = EvalContext::new(&vars, &data, resolver).with_cache(&cache);
        m.eval_instance(&address.parse().unwrap(), &ctx).unwrap()
    };
    let without = |resolver: &dyn Fn(&Address, &str) -> Option<Value>, address: &str| {
        let ctx = EvalContext::new(&vars, &data, resolver);
        m.eval_instance(&address.parse().unwrap(), &ctx).unwrap()
    };

    // The id changes between calls (as it does when the plan learns ids
    // one instance at a time): what depends on it must follow.
    let a = with_cache(&first, "group.team[\"a\"]");
    assert_eq!(a.attrs["description"], Value::from("r1 r1"));
    let b = with_cache(&second, "group.team[\"b\"]");
    assert_eq!(b.attrs["name"], Value::from("Beta team"));
    assert_eq!(b.attrs["description"], Value::from("r2 r2"));
    let other = with_cache(&first, "group.named[\"Other\"]");
    assert_eq!(other.attrs["description"], Value::from("r1"));
    let base = with_cache(&second, "group.named[\"Base\"]");
    assert_eq!(base.attrs["description"], Value::from("r2"));
    let r1 = with_cache(&first, "group.by_id[\"r1\"]");
    assert_eq!(r1.attrs["name"], Value::from("Group of r1"));
    let r2 = with_cache(&second, "group.by_id[\"r2\"]");
    assert_eq!(r2.attrs["name"], Value::from("Group of r2"));

    // With or without the cache, every instance evaluates the same.
    for address in [
        "role.base",
        "group.team[\"a\"]",
        "group.team[\"b\"]",
        "group.team[\"c\"]",
        "group.named[\"Base\"]",
        "group.named[\"Other\"]",
    ] {
        for resolver in [&first as &dyn Fn(&Address, &str) -> Option<Value>, &second] {
            assert_eq!(
                with_cache(resolver, address),
                without(resolver, address),
                "{address}"
            );
        }
    }

    // A key the cached expansion does not have is still an error.
    let ctx = EvalContext::new(&vars, &data, &first).with_cache(&cache);
    let missing = m
        .eval_instance(&"group.team[\"zz\"]".parse().unwrap(), &ctx)
        .unwrap_err();
    assert!(
        missing.to_string().contains("not one of the instances"),
        "{missing}"
    );
    for (address, says) in [
        ("group.team", "name one instance"),
        ("role.base[\"x\"]", "has no `for_each`"),
    ] {
        let e = m
            .eval_instance(&address.parse().unwrap(), &ctx)
            .unwrap_err();
        assert!(e.to_string().contains(says), "{address}: {e}");
    }
}
