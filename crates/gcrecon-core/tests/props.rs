//! Property tests: loading, rendering, graphing and evaluating never panic,
//! whatever the input — arbitrary text, TOML-looking noise, and valid
//! manifests with random edits.

use std::collections::BTreeMap;

use gcrecon_core::manifest::{self, nothing_known, synthetic, EvalContext, Source};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, DataKind, Value};
use proptest::prelude::*;

const EMITE: &str = include_str!("fixtures/emite.toml");

/// Exercise everything that takes a loaded manifest or its diagnostics.
fn exercise(texts: &[String]) {
    let sources: Vec<Source> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| Source::new(format!("f{i}.toml"), t.clone()))
        .collect();
    match manifest::load(&sources) {
        Err(d) => {
            assert!(!d.is_empty());
            let _ = d.render(&sources, true);
            let _ = d.render(&sources, false);
            let _ = d.to_string();
        }
        Ok(m) => {
            let g = m.block_graph();
            let _ = g.to_dot();
            let _ = g.to_text();
            assert!(g.cycles().is_empty(), "a loaded manifest has no cycles");
            let vars = m
                .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
                .unwrap_or_default();
            let mut org = Attrs::new();
            org.insert("region".into(), Value::from("ap-southeast-2"));
            org.insert("short_name".into(), Value::from("acme"));
            let mut data: BTreeMap<Address, Attrs> =
                [(Address::data(DataKind::Org, ""), org)].into();
            for block in m.data_blocks_in_order() {
                let ctx = EvalContext::new(&vars, &data, &nothing_known);
                if let Ok(queries) = m.data_queries(&block, &ctx) {
                    for q in queries {
                        let mut a = Attrs::new();
                        a.insert("names".into(), Value::strings(["Home", "Sales"]));
                        a.insert("ids".into(), Value::strings(["d1", "d2"]));
                        a.insert("id".into(), Value::from("x"));
                        data.insert(q.address, a);
                    }
                }
            }
            let ctx = EvalContext::new(&vars, &data, &nothing_known);
            match m.desired(&ctx) {
                Ok(d) => {
                    let _ = d.graph.apply_order();
                    for i in &d.instances {
                        let _ = m.eval_instance(&i.address, &ctx);
                        let _ = m.span_of(&i.address, Some("name"));
                    }
                }
                Err(e) => {
                    let _ = e.render(&sources, false);
                }
            }
            let _ = m.outputs(&ctx);
        }
    }
}

/// Random edits of a text, at character boundaries.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    DuplicateLine(usize),
    DeleteLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just("${".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("=".to_owned()),
        Just("\n".to_owned()),
        Just("$${".to_owned()),
        Just("${role.adapter.id}".to_owned()),
        Just("${each.value}".to_owned()),
        Just("${local.region_codes[data.org.region]}".to_owned()),
        Just("\n[role.adapter]\n".to_owned()),
        Just("\nfor_each = 3\n".to_owned()),
        Just("\nwhen = \"${var.enable_wfm}\"\n".to_owned()),
        Just("\ndepends_on = [\"group.access\"]\n".to_owned()),
        "\\PC{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), snippet).prop_map(|(a, s)| Edit::Insert(a, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::DeleteLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(chars.len());
                if at < end {
                    chars.drain(at..end);
                }
            }
            Edit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::DuplicateLine(n) | Edit::DeleteLine(n) => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.lines().collect();
                if lines.is_empty() {
                    continue;
                }
                let i = n % lines.len();
                if matches!(e, Edit::DuplicateLine(_)) {
                    lines.insert(i, lines[i]);
                } else {
                    lines.remove(i);
                }
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        exercise(&[text]);
    }

    #[test]
    fn toml_looking_noise_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("[gcrecon]".to_owned()),
                Just("version = 1".to_owned()),
                "\\[(role|group|data\\.division|output|variables|locals|oauth_client)\\.[a-zA-Z_]{1,6}\\]",
                "[a-z_]{1,10} = \"[a-z${}.\\[\\]\"_ ]{0,30}\"",
                "[a-z_]{1,10} = (true|false|[0-9]{1,3}|\\[\\]|\\{\\})",
            ],
            0..20,
        )
    ) {
        exercise(&[lines.join("\n")]);
    }

    #[test]
    fn edited_emite_manifest_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        exercise(&[apply(EMITE, &edits)]);
    }

    #[test]
    fn edited_multi_file_manifests_never_panic(
        edits in proptest::collection::vec(edit(), 0..4),
        n in 0usize..40,
    ) {
        let generated = synthetic::generate(n);
        exercise(&[apply(&generated, &edits), EMITE.replace("[gcrecon]\nversion = 1\nname = \"emite\"\n", "")]);
    }

    #[test]
    fn generated_manifests_always_load(n in 0usize..120) {
        let sources = [Source::new("gen.toml", synthetic::generate(n))];
        let m = manifest::load(&sources);
        prop_assert!(m.is_ok(), "{}", m.err().map(|d| d.render(&sources, false)).unwrap_or_default());
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep_array = format!(
        "[gcrecon]\nversion = 1\n[locals]\nx = {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    exercise(&[deep_array]);
    let deep_table = format!(
        "[gcrecon]\nversion = 1\n[locals]\nx = {}{}\n",
        "{ a = ".repeat(3000),
        "}".repeat(3000)
    );
    exercise(&[deep_table]);
    let deep_ref = format!(
        "[gcrecon]\nversion = 1\n[locals]\nx = \"${{local.y{}0{}}}\"\ny = 1\n",
        "[local.y".repeat(5000),
        "]".repeat(5000)
    );
    exercise(&[deep_ref]);
}
