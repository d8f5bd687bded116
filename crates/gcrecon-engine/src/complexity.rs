//! Complexity guards: a plan of N instances must cost about N times a
//! constant, not N × N. Counted, not timed: the comparisons of addresses
//! and ids ([`gcrecon_core::comparisons`]) made while planning N and 10 N
//! instances. Lookups in sorted vectors and B-trees cost log N each, so
//! ten times the instances may cost up to about 14 times the comparisons;
//! a scan of the state or of a listing per instance costs a hundred times.

use std::sync::Arc;

use gcrecon_core::comparisons;
use gcrecon_core::manifest::{load, Source, Variables};
use gcrecon_core::provider::{CallerKind, GenesysId};
use gcrecon_core::state::State;
use gcrecon_core::value::{Attrs, Value};
use gcrecon_core::Kind;

use crate::events::Silent;
use crate::fake::FakeProvider;
use crate::planner::{plan, PlanInput, PlanOptions};

/// Comparisons per instance may grow by this factor from N to 10 N
/// (log 10 N / log N is about 1.4 here; a linear scan per instance gives 10).
const MAX_GROWTH_PER_INSTANCE: f64 = 2.5;

/// How the org and the state hold the generated objects.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// In the org and in the state: a no-op plan.
    Managed,
    /// In the org, not in the state, `adopt = true`: matched by name.
    Adopted,
    /// Neither: every instance is a create.
    New,
}

fn object(i: usize) -> (Kind, String, String, Attrs) {
    // A group in ten, the rest roles.
    if i % 10 < 1 {
        let name = format!("group {i:06}");
        let mut attrs = Attrs::from([
            ("name".to_owned(), Value::from(name.as_str())),
            ("type".to_owned(), Value::from("official")),
            ("visibility".to_owned(), Value::from("public")),
        ]);
        gcrecon_core::schema::fill_defaults(Kind::Group, &mut attrs);
        (Kind::Group, format!("g{i:06}"), name, attrs)
    } else {
        let name = format!("role {i:06}");
        let mut attrs = Attrs::from([
            ("name".to_owned(), Value::from(name.as_str())),
            ("description".to_owned(), Value::from("generated")),
            (
                "permissions".to_owned(),
                Value::strings(["routing:queue:view"]),
            ),
        ]);
        gcrecon_core::schema::fill_defaults(Kind::Role, &mut attrs);
        (Kind::Role, format!("r{i:06}"), name, attrs)
    }
}

fn manifest_text(n: usize, adopt: bool) -> String {
    let mut out = String::from("[gcrecon]\nversion = 1\nname = \"t\"\n");
    let adopt = if adopt { "adopt = true\n" } else { "" };
    for i in 0..n {
        let (kind, block, name, _) = object(i);
        let body = match kind {
            Kind::Group => "type = \"official\"\nvisibility = \"public\"\n",
            _ => "description = \"generated\"\npermissions = [\"routing:queue:view\"]\n",
        };
        out.push_str(&format!(
            "\n[{kind}.{block}]\nname = \"{name}\"\n{body}{adopt}"
        ));
    }
    out
}

/// Address and id comparisons made by one plan of `n` instances, and the
/// number of changes it found.
async fn comparisons_of_plan(n: usize, setup: Setup) -> (u64, usize) {
    let provider = Arc::new(FakeProvider::new(CallerKind::Client));
    let mut state = State::new("00000000-0000-4000-8000-000000000000", "t");
    provider.with(|org| {
        for i in 0..n {
            let (kind, block, name, attrs) = object(i);
            if matches!(setup, Setup::New) {
                continue;
            }
            let id = GenesysId::from(format!("id-{i:06}"));
            let managed = matches!(setup, Setup::Managed).then_some(&mut state);
            org.insert_object(managed, kind, block, id, name, attrs);
        }
    });
    state.resources.sort_by(|a, b| a.address.cmp(&b.address));
    let text = manifest_text(n, matches!(setup, Setup::Adopted));
    let manifest = load(&[Source::new("gcrecon.toml", text)]).expect("the manifest loads");
    let variables = Variables::new();
    comparisons::reset();
    let planned = plan(
        &provider,
        PlanInput {
            manifest: &manifest,
            variables: &variables,
            name: "t",
            manifest_sha256: "",
        },
        &state,
        true,
        PlanOptions::default(),
        &Silent,
    )
    .await
    .expect("the plan succeeds");
    let counted = comparisons::count();
    let changes = planned
        .plan
        .resource_changes
        .iter()
        .filter(|c| c.is_change())
        .count();
    (counted, changes)
}

async fn assert_about_linear(setup: Setup, expected_changes: impl Fn(usize) -> usize) {
    let small = 400;
    let large = 10 * small;
    let (at_small, changes_small) = comparisons_of_plan(small, setup).await;
    let (at_large, changes_large) = comparisons_of_plan(large, setup).await;
    assert_eq!(changes_small, expected_changes(small), "{setup:?}");
    assert_eq!(changes_large, expected_changes(large), "{setup:?}");
    let per_small = at_small as f64 / small as f64;
    let per_large = at_large as f64 / large as f64;
    assert!(
        per_large <= per_small * MAX_GROWTH_PER_INSTANCE,
        "{setup:?}: {at_small} comparisons for {small} instances ({per_small:.1} each), \
         {at_large} for {large} ({per_large:.1} each): a per-instance scan somewhere in the plan"
    );
}

#[tokio::test]
async fn a_no_op_plan_costs_about_linear_comparisons() {
    assert_about_linear(Setup::Managed, |_| 0).await;
}

#[tokio::test]
async fn adopting_by_name_costs_about_linear_comparisons() {
    assert_about_linear(Setup::Adopted, |n| n).await;
}

#[tokio::test]
async fn a_plan_of_creates_costs_about_linear_comparisons() {
    assert_about_linear(Setup::New, |n| n).await;
}
