//! Snapshot tests of the rendered diagnostics (color off) for bad
//! manifests: every error names file:line:col, the address and a hint, and
//! all errors of a manifest come out together.

use std::collections::BTreeMap;

use gcrecon_core::manifest::{self, nothing_known, EvalContext, Source, Variables};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, DataKind, Value};

/// Load files that must fail, and render what comes out.
fn errors(files: &[(&str, &str)]) -> String {
    let sources: Vec<Source> = files.iter().map(|(p, t)| Source::new(*p, *t)).collect();
    match manifest::load(&sources) {
        Ok(_) => panic!("the manifest loaded, but errors were expected"),
        Err(d) => {
            let text = d.render(&sources, false);
            // Every diagnostic has a place, an address or a hint.
            for diag in d.iter() {
                assert!(!diag.hints.is_empty(), "no hint in:\n{text}");
            }
            text
        }
    }
}

fn one(text: &str) -> String {
    errors(&[("gcrecon.toml", text)])
}

const H: &str = "[gcrecon]\nversion = 1\n";

macro_rules! snap {
    ($name:ident, $text:expr) => {
        #[test]
        fn $name() {
            let text: String = $text;
            insta::assert_snapshot!(one(&text));
        }
    };
}

snap!(
    syntax_error,
    format!("{H}\n[role.adapter]\nname = \npermissions = []\n")
);
snap!(
    unterminated_table_header,
    format!("{H}\n[role.adapter\nname = \"x\"\n")
);
snap!(
    unknown_kind,
    format!("{H}\n[roles.adapter]\nname = \"Adapter\"\n")
);
snap!(
    unknown_kind_without_suggestion,
    format!("{H}\n[wrapup_code.support]\nname = \"Support\"\n")
);
snap!(
    unknown_key,
    format!("{H}\n[role.adapter]\nnmae = \"Adapter\"\nname = \"Adapter\"\npermissions = [\"routing:queue:view\"]\n")
);
snap!(
    wrong_types,
    format!("{H}\n[division.d]\nname = 42\n\n[integration.i]\ntype = \"embedded-client-app\"\nname = \"App\"\nenabled = \"true\"\nconfig = \"url\"\n\n[oauth_client.c]\nname = \"C\"\ngrant_type = \"code\"\ntoken_ttl_seconds = \"600\"\nscopes = \"admin\"\n")
);
snap!(
    missing_required_key,
    format!("{H}\n[role.adapter]\nname = \"Adapter\"\n")
);
snap!(
    unknown_reference,
    format!("{H}\n[role.adapter]\nname = \"Adapter\"\npermissions = [\"a:b:c\"]\n\n[oauth_client.api]\nname = \"API\"\ngrant_type = \"client_credentials\"\nroles = [{{ role = \"${{role.adaptr.id}}\" }}]\n")
);
snap!(
    missing_attribute,
    format!("{H}\n[role.adapter]\nname = \"Adapter\"\npermissions = [\"a:b:c\"]\n\n[group.g]\nname = \"G\"\ndescription = \"role ${{role.adapter.idd}} in ${{data.org.shortname}}\"\n")
);
snap!(
    reference_without_attribute,
    format!("{H}\n[group.g]\nname = \"G\"\ndescription = \"${{role.adapter}}\"\n")
);
snap!(
    cycle,
    format!("{H}\n[role.a]\nname = \"A\"\npermissions = [\"a:b:c\"]\ndescription = \"${{group.b.id}}\"\n\n[group.b]\nname = \"B\"\ndescription = \"${{division.c.id}}\"\n\n[division.c]\nname = \"C\"\ndescription = \"${{role.a.name}}\"\n")
);
snap!(
    cycle_through_a_local_and_depends_on,
    format!("{H}\n[locals]\nrole_name = \"x-${{role.a.name}}\"\n\n[role.a]\nname = \"A\"\npermissions = [\"a:b:c\"]\ndepends_on = [\"group.b\"]\n\n[group.b]\nname = \"${{local.role_name}}\"\n")
);
snap!(
    bad_permission_syntax,
    format!("{H}\n[role.r]\nname = \"R\"\npermissions = [\"presence:*\", \"analytics:conversation detail:view\", \"routing:queue:view\", \"a:b:c:d\"]\n")
);
snap!(
    ui_label_as_permission,
    format!("{H}\n[role.r]\nname = \"R\"\npermissions = [\n  \"Analytics > Conversation Detail > View\",\n  \"Outbound > Wrap up code mapping > All Permissions\",\n]\n")
);
snap!(
    for_each_over_non_list,
    format!("{H}\n[role.a]\nfor_each = 3\nname = \"A\"\npermissions = [\"a:b:c\"]\n\n[role.b]\nfor_each = \"Home\"\nname = \"B\"\npermissions = [\"a:b:c\"]\n\n[role.c]\nfor_each = [\"Home\", 2, \"Home\"]\nname = \"C ${{each.value}}\"\npermissions = [\"a:b:c\"]\n")
);
snap!(
    secret_leaks_into_output,
    format!("{H}\n[oauth_client.sso]\nname = \"SSO\"\ngrant_type = \"implicit\"\n\n[output.sso_secret]\nvalue = \"${{oauth_client.sso.secret}}\"\n\n[output.ok]\nvalue = \"${{oauth_client.sso.secret}}\"\nsensitive = true\n")
);
snap!(
    secret_leaks_through_local_and_sensitive_variable,
    format!("{H}\n[variables.token]\nsensitive = true\ndefault = \"t\"\n\n[locals]\ncreds = {{ id = \"${{oauth_client.sso.client_id}}\", secret = \"${{oauth_client.sso.secret}}\" }}\n\n[oauth_client.sso]\nname = \"SSO\"\ngrant_type = \"implicit\"\n\n[output.creds]\nvalue = \"${{local.creds}}\"\n\n[output.token]\nvalue = \"Bearer ${{var.token}}\"\n")
);
snap!(
    bad_version,
    "[gcrecon]\nversion = 2\nname = \"x\"\n".to_owned()
);
snap!(
    version_as_string_and_unknown_header_key,
    "[gcrecon]\nversion = \"1\"\nnmae = \"x\"\n".to_owned()
);
snap!(missing_header, "[division.d]\nname = \"D\"\n".to_owned());
snap!(
    bad_names,
    format!("{H}\n[role.Adapter]\nname = \"A\"\npermissions = [\"a:b:c\"]\n\n[locals]\nRegion-Code = \"au\"\n\n[oauth_client.\"my client\"]\nname = \"c\"\ngrant_type = \"code\"\n")
);
snap!(
    bad_enums,
    format!("{H}\n[oauth_client.c]\nname = \"C\"\ngrant_type = \"client-credentials\"\nstate = \"enabled\"\nroles = []\n\n[group.g]\nname = \"G\"\nvisibility = \"private\"\n\n[role.r]\nname = \"R\"\npermissions = []\ngrant_to_caller = \"always\"\n\n[identity_provider.pe]\nprovider = \"okta\"\n")
);
snap!(
    client_credentials_without_roles,
    format!("{H}\n[oauth_client.api]\nname = \"API\"\ngrant_type = \"client_credentials\"\ndescription = \"polls the analytics API\"\n")
);
snap!(
    unknown_variable_and_local,
    format!("{H}\n[variables.region]\n\n[locals]\ncode = \"au\"\n\n[division.d]\nname = \"${{var.regoin}}-${{local.cdoe}}-${{var.missing}}\"\n")
);
snap!(
    each_outside_for_each,
    format!("{H}\n[locals]\nx = \"${{each.key}}\"\n\n[role.r]\nname = \"R ${{each.value}}\"\npermissions = [\"a:b:c\"]\n\n[role.s]\nfor_each = \"${{each.value}}\"\nname = \"S\"\npermissions = [\"a:b:c\"]\n\n[output.o]\nvalue = \"${{each.value}}\"\n")
);
snap!(
    depends_on_unknown,
    format!("{H}\n[division.d]\nname = \"D\"\n\n[group.g]\nname = \"G\"\ndepends_on = [\"division.e\", \"role.nope\", \"not an address\", \"division.d[\\\"x\\\"]\", \"group.g\"]\n")
);
snap!(
    when_not_a_bool,
    format!("{H}\n[division.a]\nwhen = \"yes\"\nname = \"A\"\n\n[division.b]\nwhen = \"true\"\nname = \"B\"\n\n[division.c]\nwhen = 1\nname = \"C\"\n")
);
snap!(
    integration_without_type,
    format!("{H}\n[integration.app]\nname = \"eMite\"\nconfig = {{ url = \"https://example.com\" }}\n\n[integration.both]\ntype = \"embedded-client-app\"\ntype_name = \"Custom Client Application\"\nname = \"Both\"\n")
);
snap!(
    several_errors_in_one_file,
    format!("{H}\n[role.adapter]\nname = \"Adapter\"\npermissions = [\"Analytics > User Detail > View\"]\ndescripton = \"x\"\n\n[oauth_client.api]\nname = 7\ngrant_type = \"client_credentials\"\n\n[group.g]\nname = \"G\"\nowners = [\"${{data.user.boss.id}}\"]\n\n[output.o]\nvalue = \"${{oauth_client.api.secret}}\"\n")
);
snap!(
    instance_keys_must_match_for_each,
    format!("{H}\n[role.per_div]\nfor_each = [\"Home\", \"Sales\"]\nname = \"R ${{each.value}}\"\npermissions = [\"a:b:c\"]\n\n[role.single]\nname = \"S\"\npermissions = [\"a:b:c\"]\n\n[group.g]\nname = \"G\"\ndescription = \"${{role.per_div.id}} ${{role.per_div[\\\"Hom\\\"].id}} ${{role.single[\\\"x\\\"].id}}\"\n")
);
snap!(
    data_source_mistakes,
    format!("{H}\n[data.divison.home]\nhome = true\n\n[data.org]\nname = \"x\"\n\n[data.division.none]\n\n[data.division.both]\nname = \"Home\"\nhome = true\n\n[data.user.boss]\nemail = \"boss@example.com\"\ndepends_on = [\"data.division.none\"]\n\n[data.role.r]\nname = \"${{role.mine.name}}\"\n\n[role.mine]\nname = \"Mine\"\npermissions = [\"a:b:c\"]\n")
);
snap!(
    bad_templates,
    format!("{H}\n[division.a]\nname = \"${{role.x.id\"\n\n[division.b]\nname = \"${{}}\"\n\n[division.c]\nname = \"${{foo.bar}}\"\n\n[division.d]\nname = \"${{data.divison.x.id}}\"\n\n[division.e]\nname = \"ok $${{literal}}\"\ndescription = \"${{each.item}}\"\n")
);
snap!(
    variable_declarations,
    format!("{H}\n[variables.a]\ntype = \"integer\"\n\n[variables.b]\ntype = \"bool\"\ndefault = \"yes\"\n\n[variables.c]\ndefault = \"${{var.a}}\"\n\n[variables.d]\nsensitiv = true\n")
);
snap!(
    outputs_and_lifecycle,
    format!("{H}\n[output.nothing]\ndescription = \"no value\"\n\n[output.extra]\nvalue = \"x\"\nsensitive = \"yes\"\nformat = \"json\"\n\n[group.g]\nname = \"G\"\nprevent_destroy = \"true\"\nignore_changes = [\"membrs\"]\nadopt = 1\n")
);
snap!(
    oauth_roles_entries,
    format!("{H}\n[role.r]\nname = \"R\"\npermissions = [\"a:b:c\"]\n\n[oauth_client.c]\nname = \"C\"\ngrant_type = \"client_credentials\"\nroles = [{{ role = \"${{role.r.id}}\", division = [\"*\"] }}, {{ divisions = [\"*\"] }}, \"${{role.r.id}}x\"]\n")
);

#[test]
fn duplicate_addresses_across_files() {
    insta::assert_snapshot!(errors(&[
        ("a/main.toml", "[gcrecon]\nversion = 1\n\n[role.adapter]\nname = \"A\"\npermissions = [\"a:b:c\"]\n\n[locals]\ncode = \"au\"\n"),
        ("a/more.toml", "[gcrecon]\nversion = 1\n\n[role.adapter]\nname = \"B\"\npermissions = [\"a:b:c\"]\n\n[locals]\ncode = \"jp\"\n\n[output.x]\nvalue = \"1\"\n"),
        ("a/zzz.toml", "[output.x]\nvalue = \"2\"\n"),
    ]));
}

#[test]
fn errors_in_two_files_come_out_together() {
    insta::assert_snapshot!(errors(&[
        ("one.toml", "[gcrecon]\nversion = 1\n\n[role.r]\nname = \n"),
        (
            "two.toml",
            "[group.g]\nname = \"G\"\nvisibilty = \"public\"\n"
        ),
    ]));
}

/// Errors only evaluation can find (values from data sources and variables).
#[test]
fn evaluation_errors_are_placed_too() {
    let text = format!(
        "{H}
[variables.perms]
type = \"list\"

[variables.flag]
type = \"string\"
default = \"yes\"

[locals]
codes = {{ \"ap-southeast-2\" = \"au\", \"us-east-1\" = \"useast\" }}
code = \"${{local.codes[data.org.region]}}\"

[role.r]
name = \"R ${{local.code}}\"
permissions = \"${{var.perms}}\"

[role.per]
for_each = \"${{role.r.id}}\"
name = \"P\"
permissions = [\"a:b:c\"]

[division.d]
when = \"${{var.flag}}\"
name = \"D\"
"
    );
    let sources = [Source::new("gcrecon.toml", text)];
    let m = manifest::load(&sources).unwrap_or_else(|d| panic!("{}", d.render(&sources, false)));
    let cli: BTreeMap<String, String> = [(
        "perms".to_owned(),
        "Analytics > Queue Observation > View".to_owned(),
    )]
    .into();
    let vars: Variables = m.resolve_variables(&cli, &BTreeMap::new()).unwrap();
    let mut org = Attrs::new();
    org.insert("region".into(), Value::from("eu-west-2"));
    let data: BTreeMap<Address, Attrs> = [(Address::data(DataKind::Org, ""), org)].into();
    let err = m
        .desired(&EvalContext::new(&vars, &data, &nothing_known))
        .unwrap_err();
    insta::assert_snapshot!(err.render(&sources, false));
}

#[test]
fn display_without_sources_still_names_the_place() {
    let sources = [Source::new(
        "m.toml",
        format!("{H}\n[role.r]\nname = \"R\"\n"),
    )];
    let err = manifest::load(&sources).unwrap_err();
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn color_output_uses_ansi_codes() {
    let sources = [Source::new("m.toml", format!("{H}\n[rol.r]\n"))];
    let err = manifest::load(&sources).unwrap_err();
    let colored = err.render(&sources, true);
    assert!(
        colored.contains("\u{1b}[1;31merror:\u{1b}[0m"),
        "{colored:?}"
    );
    assert!(!err.render(&sources, false).contains('\u{1b}'));
}

#[test]
fn engine_side_errors_without_span_render() {
    let d = manifest::Diagnostic::error(
        "the permission `wfm:agent:edt` does not exist in this organization",
    )
    .with_address("role.adapter")
    .with_hint("did you mean `wfm:agent:edit`?");
    insta::assert_snapshot!(manifest::Diagnostics::from(d).render(&[], false));
}
