//! The expression language inside `${ }`: a reference table of Terraform's
//! documented results for operators, for-expressions, splats and every
//! function; unknown values flowing through; outputs with `for_each` and
//! map outputs built by for-expressions; misuse reported at file:line:col
//! with the address and a hint; and a property test that evaluation never
//! panics on generated expressions.

use std::collections::BTreeMap;

use gcrecon_core::manifest::{self, nothing_known, EvalContext, Manifest, Source};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, Value};
use proptest::prelude::*;

const HEADER: &str = "[gcrecon]\nversion = 1\n";

fn sources(body: &str) -> [Source; 1] {
    [Source::new("gcrecon.toml", format!("{HEADER}{body}"))]
}

fn load(body: &str) -> Manifest {
    let s = sources(body);
    manifest::load(&s).unwrap_or_else(|d| panic!("{}", d.render(&s, false)))
}

/// Every output of `body`, evaluated with nothing known about resources.
fn outputs(body: &str) -> BTreeMap<String, Value> {
    let m = load(body);
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::new();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let s = sources(body);
    m.outputs(&ctx)
        .unwrap_or_else(|d| panic!("{}", d.render(&s, false)))
        .into_iter()
        .map(|o| (o.name, o.value))
        .collect()
}

/// The value of one expression, written as TOML's literal string.
fn eval(expr: &str) -> Value {
    let body = format!("[output.v]\nvalue = '${{{expr}}}'\n");
    outputs(&body).remove("v").unwrap()
}

/// The rendered errors of evaluating the outputs of `body`.
fn eval_errors(body: &str) -> String {
    let s = sources(body);
    let m = match manifest::load(&s) {
        Ok(m) => m,
        Err(d) => return d.render(&s, false),
    };
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::new();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    match m.outputs(&ctx) {
        Ok(o) => panic!("expected an error, got {o:?}"),
        Err(d) => d.render(&s, false),
    }
}

fn json(v: &serde_json::Value) -> Value {
    Value::from_json(v)
}

/// Terraform's documented results (the examples of each function's page
/// and of the expression pages), as `expression => expected JSON`.
#[test]
fn terraform_reference_table() {
    use serde_json::json;
    let table: Vec<(&str, serde_json::Value)> = vec![
        // Operators and conditionals.
        ("1 + 2 * 3", json!(7)),
        ("(1 + 2) * 3", json!(9)),
        ("7 / 2", json!(3.5)),
        ("6 / 2", json!(3)),
        ("7 % 3", json!(1)),
        ("10 - 4 - 3", json!(3)),
        ("-5 + 2", json!(-3)),
        ("\"a\" == \"a\"", json!(true)),
        ("1 == \"1\"", json!(false)),
        ("1 == 1.0", json!(true)),
        ("[1, 2] == [1, 2]", json!(true)),
        ("2 >= 2 && 1 < 2", json!(true)),
        ("true && !false", json!(true)),
        ("false || false", json!(false)),
        ("2 > 1 ? \"y\" : \"n\"", json!("y")),
        ("null == null", json!(true)),
        ("true ? null : \"x\"", json!(null)),
        // For-expressions.
        ("[for s in [\"a\", \"b\"] : upper(s)]", json!(["A", "B"])),
        ("[for i, v in [\"x\", \"y\"] : i]", json!([0, 1])),
        (
            "[for k, v in { a = 1, b = 2 } : format(\"%s=%d\", k, v)]",
            json!(["a=1", "b=2"]),
        ),
        (
            "{for s in [\"a\", \"b\"] : s => upper(s)}",
            json!({"a": "A", "b": "B"}),
        ),
        (
            "[for s in [\"a\", \"\", \"b\"] : s if s != \"\"]",
            json!(["a", "b"]),
        ),
        (
            "{for k, v in { a = 1, b = 2, c = 3 } : k => v if v > 1}",
            json!({"b": 2, "c": 3}),
        ),
        ("[for v in { b = 2, a = 1 } : v]", json!([1, 2])),
        ("[for x in [] : x]", json!([])),
        // Splat.
        ("[{ a = 1 }, { a = 2 }][*].a", json!([1, 2])),
        ("null[*]", json!([])),
        ("\"x\"[*]", json!(["x"])),
        // Functions (the examples of Terraform's function pages).
        (
            "concat([\"a\", \"\"], [\"b\", \"c\"])",
            json!(["a", "", "b", "c"]),
        ),
        (
            "merge({ a = \"b\", c = \"d\" }, { e = \"f\", c = \"z\" })",
            json!({"a": "b", "c": "z", "e": "f"}),
        ),
        ("merge({ a = \"b\" }, null)", json!({"a": "b"})),
        (
            "flatten([[\"a\", \"b\"], [], [\"c\"]])",
            json!(["a", "b", "c"]),
        ),
        (
            "flatten([[[\"a\", \"b\"], []], [\"c\"]])",
            json!(["a", "b", "c"]),
        ),
        (
            "distinct([\"a\", \"b\", \"a\", \"c\", \"d\", \"b\"])",
            json!(["a", "b", "c", "d"]),
        ),
        ("contains([\"a\", \"b\", \"c\"], \"a\")", json!(true)),
        ("contains([\"a\", \"b\", \"c\"], \"d\")", json!(false)),
        ("length([])", json!(0)),
        ("length([\"a\", \"b\"])", json!(2)),
        ("length({ a = \"b\" })", json!(1)),
        ("length(\"hello\")", json!(5)),
        ("length(\"\u{1F47E}\u{1F579}\u{FE0F}\")", json!(2)),
        ("keys({ a = 1, c = 2, d = 3 })", json!(["a", "c", "d"])),
        ("values({ a = 3, c = 2, d = 1 })", json!([3, 2, 1])),
        (
            "lookup({ a = \"ay\", b = \"bee\" }, \"a\", \"what?\")",
            json!("ay"),
        ),
        (
            "lookup({ a = \"ay\", b = \"bee\" }, \"c\", \"what?\")",
            json!("what?"),
        ),
        ("element([\"a\", \"b\", \"c\"], 1)", json!("b")),
        ("element([\"a\", \"b\", \"c\"], 3)", json!("a")),
        (
            "join(\"-\", [\"foo\", \"bar\", \"baz\"])",
            json!("foo-bar-baz"),
        ),
        ("join(\", \", [\"foo\"])", json!("foo")),
        ("join(\"-\", [\"a\"], [\"b\", \"c\"])", json!("a-b-c")),
        (
            "split(\",\", \"foo,bar,baz\")",
            json!(["foo", "bar", "baz"]),
        ),
        ("split(\",\", \"foo\")", json!(["foo"])),
        ("split(\",\", \"\")", json!([""])),
        ("format(\"Hello, %s!\", \"Ander\")", json!("Hello, Ander!")),
        (
            "format(\"There are %d lights\", 4)",
            json!("There are 4 lights"),
        ),
        ("format(\"%.2f%%\", 3.14159)", json!("3.14%")),
        ("format(\"%q\", \"a\")", json!("\"a\"")),
        ("lower(\"HELLO\")", json!("hello")),
        ("upper(\"hello\")", json!("HELLO")),
        ("replace(\"1 + 2 + 3\", \"+\", \"-\")", json!("1 - 2 - 3")),
        ("trimspace(\"  hello\\n\\n\")", json!("hello")),
        ("coalesce(\"a\", \"b\")", json!("a")),
        ("coalesce(\"\", \"b\")", json!("b")),
        ("coalesce(1, 2)", json!(1)),
        ("coalesce(null, \"x\")", json!("x")),
        ("toset([\"a\", \"b\", \"c\"])", json!(["a", "b", "c"])),
        ("toset([\"c\", \"b\", \"b\"])", json!(["b", "c"])),
        ("toset([3, 1, 3])", json!([1, 3])),
        ("tolist([\"a\", \"b\"])", json!(["a", "b"])),
        ("tomap({ a = \"b\" })", json!({"a": "b"})),
        ("try({ a = 1 }.b, \"fallback\")", json!("fallback")),
        ("try({ a = 1 }.a, \"fallback\")", json!(1)),
        ("try(element([], 0), [\"x\"][5], null)", json!(null)),
    ];
    let mut failures = Vec::new();
    for (expr, want) in &table {
        let got = eval(expr);
        if got != json(want) {
            failures.push(format!("{expr}\n    want {want}\n    got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_values_flow_through_functions_and_conditionals() {
    let o = outputs(
        "[role.r]
name = \"R\"
permissions = [\"a:b:c\"]

[variables.full]
type = \"bool\"
default = false

[locals]
base = [\"a:b:c\"]
extra = [\"d:e:f\"]

[output.upper]
value = '${upper(role.r.id)}'

[output.length]
value = '${length(concat([role.r.id], [\"x\"]))}'

[output.cond]
value = '${role.r.id == \"\" ? \"a\" : \"b\"}'

[output.chosen]
value = '${var.full ? role.r.id : \"none\"}'

[output.for]
value = '${[for x in [role.r.id, \"y\"] : x]}'

[output.map]
value = '${ {for k in [\"k\"] : k => role.r.id} }'

[output.perms]
value = '${concat(local.base, var.full ? local.extra : [])}'

[output.known_and]
value = '${false && role.r.id == \"x\"}'
",
    );
    assert_eq!(o["upper"], Value::Unknown);
    assert_eq!(o["length"], Value::from(2));
    assert_eq!(o["cond"], Value::Unknown);
    assert_eq!(o["chosen"], Value::from("none"));
    assert_eq!(
        o["for"],
        Value::List(vec![Value::Unknown, Value::from("y")])
    );
    assert_eq!(
        o["map"],
        Value::Map([("k".to_owned(), Value::Unknown)].into())
    );
    assert_eq!(o["perms"], Value::strings(["a:b:c"]));
    assert_eq!(o["known_and"], Value::Bool(false));
}

#[test]
fn whole_blocks_splats_and_output_for_each() {
    let body = "[variables.services]
type = \"list\"
default = [\"gvp\", \"gim\"]

[role.division]
for_each = [\"Home\", \"Sales\"]
name = \"eMite ${each.value}\"
permissions = [\"a:b:c\"]

[oauth_client.service]
for_each = '${toset(var.services)}'
name = \"PureEngage ${each.value}\"
grant_type = \"client_credentials\"
roles = [{ role = '${role.division[\"Home\"].id}', divisions = [\"*\"] }]

[output.names]
value = '${role.division[*].name}'

[output.client_ids]
value = '${ {for k, c in oauth_client.service : k => c.name} }'

[output.client_name]
for_each = '${toset(var.services)}'
value = '${oauth_client.service[each.key].name}'

[output.home]
value = '${role.division[\"Home\"].permissions}'
";
    let o = outputs(body);
    assert_eq!(o["names"], Value::strings(["eMite Home", "eMite Sales"]));
    assert_eq!(
        o["client_ids"],
        json(&serde_json::json!({"gim": "PureEngage gim", "gvp": "PureEngage gvp"}))
    );
    assert_eq!(o["client_name[\"gim\"]"], Value::from("PureEngage gim"));
    assert_eq!(o["client_name[\"gvp\"]"], Value::from("PureEngage gvp"));
    assert!(!o.contains_key("client_name"));
    assert_eq!(o["home"], Value::strings(["a:b:c"]));

    // The ids are known once the resources exist; a secret is never part
    // of a whole-block value.
    let m = load(body);
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::new();
    let known = |a: &Address, attr: &str| -> Option<Value> {
        match attr {
            "id" => Some(Value::from(format!("id-of-{a}"))),
            "secret" => Some(Value::from("s3cret")),
            _ => None,
        }
    };
    let outs = m.outputs(&EvalContext::new(&vars, &data, &known)).unwrap();
    let ids = outs.iter().find(|o| o.name == "client_ids").unwrap();
    assert!(!ids.sensitive);
    assert!(!format!("{:?}", outs).contains("s3cret"));

    // Splat over every instance makes every instance a dependency.
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let d = m.desired(&ctx).unwrap();
    assert_eq!(d.instances.len(), 4);
    let _: Attrs = d.instances[0].attrs.clone();
}

#[test]
fn misuse_is_placed_and_explained() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[output.o]\nvalue = '${join(\",\", \"abc\")}'\n",
            &[
                "argument 2 of `join` must be a list, found string",
                "gcrecon.toml:4:",
                "output.o",
                "hint: call it as join(separator, list, ...)",
            ],
        ),
        (
            "[output.o]\nvalue = '${1 + \"a\"}'\n",
            &[
                "`+` needs numbers, found string",
                "gcrecon.toml:4:",
                "output.o",
                "hint: `+` adds numbers",
            ],
        ),
        (
            "[output.o]\nvalue = '${true ? \"a\" : [\"b\"]}'\n",
            &[
                "the branches of `? :` differ in type: string and list",
                "hint: make both branches the same type",
            ],
        ),
        (
            "[output.o]\nvalue = '${\"x\" ? 1 : 2}'\n",
            &["the condition of `? :` must be a bool, found string"],
        ),
        (
            "[output.o]\nvalue = '${ {for s in [\"a\", \"a\"] : s => 1} }'\n",
            &[
                "the for-expression gives the key \"a\" twice",
                "hint: make the keys distinct",
            ],
        ),
        (
            "[output.o]\nvalue = '${[for s in \"abc\" : s]}'\n",
            &["a for-expression needs a list or a map, found string"],
        ),
        (
            "[output.o]\nvalue = '${lookup({ a = 1 }, \"b\")}'\n",
            &["`lookup` found no key \"b\"", "hint: give a default"],
        ),
        (
            "[output.o]\nvalue = '${element([], 0)}'\n",
            &["`element` cannot use an empty list"],
        ),
        (
            "[output.o]\nvalue = '${coalesce(\"\", null)}'\n",
            &["`coalesce` found no argument"],
        ),
        (
            "[output.o]\nvalue = '${try([][0], {}.x)}'\n",
            &[
                "`try`: no argument evaluated without an error",
                "hint: the last argument failed with",
            ],
        ),
        (
            "[output.o]\nvalue = '${format(\"%s %s\", \"a\")}'\n",
            &["the format has more verbs"],
        ),
        (
            "[output.o]\nvalue = '${lenght([])}'\n",
            &[
                "unknown function `lenght`",
                "gcrecon.toml:4:12",
                "hint: did you mean `length`?",
            ],
        ),
        (
            "[output.o]\nvalue = '${upper(\"a\", \"b\")}'\n",
            &[
                "`upper` takes 1 argument, given 2",
                "hint: call it as upper(string)",
            ],
        ),
        (
            "[output.o]\nvalue = '${[for x in [1] : y]}'\n",
            &["unknown reference `y`", "gcrecon.toml:4:"],
        ),
        (
            "[output.o]\nvalue = '${each.key}'\n",
            &["`each.key` is used in `output.o`, which has no `for_each`"],
        ),
    ];
    for (body, wants) in cases {
        let text = eval_errors(body);
        for w in *wants {
            assert!(text.contains(w), "{body}\nwanted {w:?} in:\n{text}");
        }
        assert!(text.contains("address: output.o"), "{body}\n{text}");
    }
}

/// A generated expression: literals, references to what the manifest
/// declares, operators, calls (right or wrong arity and types),
/// conditionals, for-expressions and splats.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("1".to_owned()),
        Just("-2.5".to_owned()),
        Just("\"s\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("var.list".to_owned()),
        Just("var.map".to_owned()),
        Just("local.l".to_owned()),
        Just("role.r.id".to_owned()),
        Just("role.each[\"a\"].name".to_owned()),
        Just("role.each".to_owned()),
        Just("role.each[*].id".to_owned()),
        Just("data.org".to_owned()),
        Just("x".to_owned()),
    ];
    let funcs = [
        "concat",
        "merge",
        "flatten",
        "distinct",
        "contains",
        "length",
        "keys",
        "values",
        "lookup",
        "element",
        "join",
        "split",
        "format",
        "lower",
        "upper",
        "replace",
        "trimspace",
        "coalesce",
        "toset",
        "tolist",
        "tomap",
        "try",
    ];
    let ops = ["+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||"];
    leaf.prop_recursive(4, 40, 4, move |inner| {
        prop_oneof![
            (inner.clone(), 0..ops.len(), inner.clone())
                .prop_map(move |(a, o, b)| format!("({a} {} {b})", ops[o])),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (
                0..funcs.len(),
                proptest::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(move |(f, args)| format!(
                    "{}({})",
                    funcs[f],
                    args.join(", ")
                )),
            proptest::collection::vec(inner.clone(), 0..3)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            (inner.clone(), inner.clone())
                .prop_map(|(k, v)| format!("{{ k = {k}, (\"x\") = {v} }}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, v, f)| format!("[for x in {c} : {v} if {f}]")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, k, v)| format!("{{for i, x in {c} : format(\"%v\", {k}) => {v}}}")),
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("({e})[*].id")),
            (inner.clone(), inner).prop_map(|(a, i)| format!("{a}[{i}]")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Parsing, checking and evaluating any generated expression gives a
    /// value or diagnostics with a place, never a panic.
    #[test]
    fn evaluation_never_panics(e in expr()) {
        let body = format!(
            "[variables.list]
type = \"list\"
default = [\"a\", \"b\"]

[variables.map]
type = \"map\"
default = {{ a = \"1\" }}

[locals]
l = '${{[1, 2]}}'

[role.r]
name = \"R\"
permissions = [\"a:b:c\"]

[role.each]
for_each = [\"a\", \"b\"]
name = \"E ${{each.value}}\"
permissions = [\"a:b:c\"]

[output.v]
value = '${{{e}}}'
"
        );
        let s = sources(&body);
        if let Ok(m) = manifest::load(&s) {
            let vars = m.resolve_variables(&BTreeMap::new(), &BTreeMap::new()).unwrap();
            let data = BTreeMap::new();
            let ctx = EvalContext::new(&vars, &data, &nothing_known);
            if let Err(d) = m.outputs(&ctx) {
                let text = d.render(&s, false);
                prop_assert!(text.contains("gcrecon.toml:"), "{text}");
            }
            let _ = m.desired(&ctx);
        }
    }
}

#[test]
fn group_members_and_owners_by_email_or_id() {
    let body = "[group.g]
name = \"G\"
members = [\"Ann@Acme.example\", \"id-bob\"]
owners = '${[for e in [\"sue@acme.example\"] : e]}'
";
    let m = load(body);
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap();
    let data = BTreeMap::new();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    assert_eq!(
        m.group_member_emails(&ctx).into_iter().collect::<Vec<_>>(),
        ["ann@acme.example", "sue@acme.example"]
    );
    let emails: BTreeMap<String, String> = [
        ("ann@acme.example".to_owned(), "id-ann".to_owned()),
        ("sue@acme.example".to_owned(), "id-sue".to_owned()),
    ]
    .into();
    let d = m.desired(&ctx.with_emails(&emails)).unwrap();
    let g = &d.instances[0];
    assert_eq!(g.attrs["members"], Value::strings(["id-ann", "id-bob"]));
    assert_eq!(g.attrs["owners"], Value::strings(["id-sue"]));

    // An email that matches no user is an error naming it, at its place.
    let only_ann: BTreeMap<String, String> =
        [("ann@acme.example".to_owned(), "id-ann".to_owned())].into();
    let ctx = EvalContext::new(&vars, &data, &nothing_known).with_emails(&only_ann);
    let s = sources(body);
    let text = m.desired(&ctx).unwrap_err().render(&s, false);
    assert!(
        text.contains("`owners` of `group.g`: no user has the email \"sue@acme.example\""),
        "{text}"
    );
    assert!(text.contains("gcrecon.toml:6:10"), "{text}");
    assert!(text.contains("address: group.g"), "{text}");
    assert!(text.contains("hint: check the spelling"), "{text}");
}

/// Index and field paths read the same value whatever their root is kept
/// in: a local, `each.value`, a for-expression's variable, a computed
/// value, or an unknown one.
#[test]
fn index_and_field_paths_read_from_every_root() {
    let o = outputs(
        r#"
[locals]
teams = { a = { name = "A", members = ["x", "y"] }, b = { name = "B", members = [] } }
list = [{ n = 1 }, { n = 2 }]
unknown = '${role.r.id}'

[role.r]
name = "R"
permissions = []

[output.by_key]
value = '${local.teams["a"].name}'

[output.nested]
value = '${local.teams["a"]["members"][1]}'

[output.list]
value = '${local.list[1].n}'

[output.for]
value = '${[for k, t in local.teams : t.members]}'

[output.each]
for_each = '${local.teams}'
value = '${each.value.name}/${local.teams[each.key].name}/${length(each.value.members)}'

[output.computed]
value = '${merge(local.teams, {})["b"].name}'

[output.of_unknown]
value = '${local.unknown["x"].y}'
"#,
    );
    assert_eq!(o["by_key"], Value::from("A"));
    assert_eq!(o["nested"], Value::from("y"));
    assert_eq!(o["list"], Value::from(2));
    assert_eq!(
        o["for"],
        Value::List(vec![
            Value::strings(["x", "y"]),
            Value::strings([] as [&str; 0])
        ])
    );
    assert_eq!(o["each[\"a\"]"], Value::from("A/A/2"), "{o:?}");
    assert_eq!(o["each[\"b\"]"], Value::from("B/B/0"), "{o:?}");
    assert_eq!(o["computed"], Value::from("B"));
    assert_eq!(o["of_unknown"], Value::Unknown);

    let missing = eval_errors(
        "[locals]\nteams = { a = { name = \"A\" } }\n\n[output.v]\nvalue = '${local.teams[\"b\"].name}'\n",
    );
    assert!(missing.contains("the map has no key \"b\""), "{missing}");
    assert!(missing.contains("output.v"), "{missing}");
    let misspelt = eval_errors(
        "[locals]\nteams = { a = { name = \"A\" } }\n\n[output.v]\nvalue = '${local.teams[\"a\"].nmae}'\n",
    );
    assert!(misspelt.contains("the map has no key `nmae`"), "{misspelt}");
    assert!(misspelt.contains("did you mean `name`?"), "{misspelt}");
}
