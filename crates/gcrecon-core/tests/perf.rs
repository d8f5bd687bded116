//! Performance check (ignored by default; run in release):
//! `cargo test --release -p gcrecon-core --test perf -- --ignored --nocapture`.
//! Target: parse + validate + graph of 10,000 resources in under 100 ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use gcrecon_core::manifest::{self, nothing_known, synthetic, EvalContext, Source};
use gcrecon_core::value::Attrs;
use gcrecon_core::{Address, DataKind, Value};

/// Time this thread spent on a CPU (Linux), so that other processes
/// competing for the machine do not count; `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The best wall-clock and on-CPU times of `runs` runs.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let cpu = thread_cpu_time();
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        if let (Some(a), Some(b)) = (cpu, thread_cpu_time()) {
            best_cpu = best_cpu.min(b.saturating_sub(a));
        }
        last = Some(v);
    }
    if best_cpu != Duration::MAX {
        println!("  (best on-CPU time {best_cpu:?})");
    }
    (best, last.expect("at least one run"))
}

#[test]
#[ignore = "timing; run in release with --ignored"]
fn ten_thousand_resources_parse_validate_and_graph_fast() {
    let text = synthetic::generate(10_000);
    let sources = [Source::new("big.toml", text)];
    let (parse, graph) = best_of(10, || {
        synthetic::validate_and_graph(&sources).unwrap_or_else(|d| panic!("{d}"))
    });
    println!(
        "10,000 resources ({} bytes): parse + validate + block graph: {parse:?} ({} nodes)",
        sources[0].text.len(),
        graph.len()
    );

    let m = manifest::load(&sources).unwrap_or_else(|d| panic!("{d}"));
    let vars = m
        .resolve_variables(&BTreeMap::new(), &BTreeMap::new())
        .unwrap_or_else(|d| panic!("{d}"));
    let mut org = Attrs::new();
    org.insert("region".into(), Value::from("ap-southeast-2"));
    let data: BTreeMap<Address, Attrs> = [
        (Address::data(DataKind::Org, ""), org),
        (
            Address::data(DataKind::Role, "admin"),
            [("id".to_owned(), Value::from("r-admin"))].into(),
        ),
    ]
    .into();
    let ctx = EvalContext::new(&vars, &data, &nothing_known);
    let (desired, d) = best_of(3, || m.desired(&ctx).unwrap_or_else(|e| panic!("{e}")));
    println!(
        "10,000 resources: desired state + instance graph: {desired:?} ({} instances)",
        d.instances.len()
    );
    let (order, n) = best_of(3, || d.graph.apply_order().len());
    println!("10,000 resources: apply order: {order:?} ({n} nodes)");
    if cfg!(debug_assertions) {
        println!("(debug build: timings are not meaningful; use --release)");
    } else {
        assert!(
            parse < Duration::from_millis(100),
            "parse + validate + graph took {parse:?}"
        );
    }
}

#[test]
#[ignore]
fn phases() {
    let text = synthetic::generate(10_000);
    let sources = [Source::new("big.toml", text)];
    let n: usize = std::env::var("PHASES_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for _ in 0..n {
        let g = synthetic::validate_and_graph(&sources).unwrap();
        assert!(g.len() > 10_000);
    }
}
