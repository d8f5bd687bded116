//! The scale phases, all against one simulated org:
//!
//! 1. apply: a fresh org, a generated manifest of `apply` objects applied
//!    at the measured latency and rate limit, `--parallelism` 10;
//! 2. for each size N: the org is grown to N managed objects (see
//!    [`grow`]), then a no-op `gcrecon plan` is measured against the
//!    list-page bound, then the per-object baseline reads the same objects;
//! 3. CPU: on the largest org, `gcrecon validate` and a no-op plan at zero
//!    latency, repeated, for CPU time and peak memory.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use super::baseline::{read_each, read_path, BaselineRun};
use super::bounds::{self, time_bound, CallBound, TimeBound};
use super::cpu::Shape;
use super::gcrecon::{Gcrecon, RunFigures};
use super::manifest::{self, managed_in_state};
use super::measure::Spread;
use super::sim::{Sim, SimOptions, Stats};
use super::{Ctx, SetupMethod};

/// A rate limit high enough never to be reached, for set-up work that is
/// not being measured.
pub const UNLIMITED: u64 = 1_000_000;

/// Kinds the generated manifests manage.
const KINDS: &[&str] = &["role", "group", "division"];

/// Routes that create one generated object each.
const CREATE_ROUTES: &[&str] = &[
    "POST /api/v2/authorization/roles",
    "POST /api/v2/groups",
    "POST /api/v2/authorization/divisions",
];

#[derive(Debug, Default, Serialize)]
pub struct ScaleReport {
    pub apply: Option<ApplyFigures>,
    pub plans: Vec<PlanFigures>,
    pub cpu: Option<CpuFigures>,
}

#[derive(Debug, Serialize)]
pub struct ApplyFigures {
    pub creates: usize,
    pub parallelism: usize,
    pub run: RunFigures,
    /// Every call the apply made (login, plan reads, creates, retries).
    pub calls: u64,
    pub create_calls: u64,
    pub rate_limited: u64,
    pub by_route: BTreeMap<String, u64>,
    /// The fewest API calls: the no-op plan reads of the org before the
    /// apply plus one create per object.
    pub bound_api_calls: u64,
    pub bound: TimeBound,
    pub wall_ratio: f64,
}

#[derive(Debug, Serialize)]
pub struct PlanFigures {
    pub n: usize,
    /// Managed objects per kind.
    pub managed: BTreeMap<String, usize>,
    /// How the org got its N managed objects.
    pub setup: Option<Setup>,
    /// Objects in the org per listed kind (managed, unmanaged and built-in),
    /// and the catalog's size under `permission`.
    pub org_objects: BTreeMap<String, u64>,
    pub run: RunFigures,
    pub no_op: bool,
    /// The first changed addresses when the plan was not a no-op.
    pub changes: Vec<String>,
    /// The plan JSON's own `api_calls`, as gcrecon reports it.
    pub plan_reported_api_calls: Option<Value>,
    pub calls: u64,
    pub rate_limited: u64,
    pub by_route: BTreeMap<String, u64>,
    pub per_object: Vec<PerObject>,
    pub bound: CallBound,
    pub time_bound: TimeBound,
    pub calls_ratio: f64,
    pub wall_ratio: f64,
    pub baseline: BaselineFigures,
}

#[derive(Debug, Serialize)]
pub struct PerObject {
    pub route: String,
    pub calls: u64,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Setup {
    pub method: String,
    pub creates: usize,
    pub wall_ms: f64,
    pub calls: u64,
}

#[derive(Debug, Serialize)]
pub struct BaselineFigures {
    pub objects: usize,
    /// The rate limit in force while it was measured.
    pub measured_at_rate_limit: u64,
    pub measured: BaselineRun,
    /// Calls the simulator counted, 429s excluded.
    pub calls: u64,
    /// Wall time at the real rate limit: measured, or computed.
    pub at_limit_wall_ms: f64,
    pub at_limit_how: String,
    /// Baseline calls / gcrecon calls.
    pub calls_advantage: f64,
    /// Baseline wall at the real limit / gcrecon wall.
    pub wall_advantage: f64,
    /// Baseline wall with the limit raised / gcrecon wall, when measured so.
    pub wall_advantage_limit_raised: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CpuFigures {
    pub n: usize,
    pub manifest_bytes: u64,
    /// In-process: parse + validate + graph + plan against an in-memory
    /// org, no network (see `cpu.rs`), one process per run.
    pub in_process: InProcess,
    /// The same at ten times the size (`n_large`): a linear plan costs at
    /// most ten times as much.
    pub n_large: usize,
    pub in_process_large: InProcess,
    /// In-process, the same sizes written as one `for_each` block whose
    /// instances each reference a resource (`cpu::Shape::ForEach`).
    pub in_process_for_each: InProcess,
    pub in_process_for_each_large: InProcess,
    /// The instructions the in-process figures' timed part executes, at N
    /// and 10 N: blind to caches, page faults and the machine's load, so
    /// their ratio says whether the work itself grows linearly.
    pub instructions: Instructions,
    pub validate: Figures3,
    /// A no-op plan at zero latency with the limit raised: gcrecon's own
    /// process (the simulator runs in another).
    pub noop_plan_latency0: Figures3,
}

/// Instructions counted by valgrind's callgrind in what the in-process
/// figure times (`manifest::load` and `planner::plan`), one run each:
/// the count is the same from run to run.
#[derive(Debug, Default, Serialize)]
pub struct Instructions {
    pub blocks: Option<u64>,
    pub blocks_large: Option<u64>,
    pub for_each: Option<u64>,
    pub for_each_large: Option<u64>,
    /// Why they were not counted.
    pub not_counted: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct InProcess {
    /// Parse, validate and graph.
    pub load_ms: Spread,
    /// Refresh from the in-memory org and diff.
    pub plan_ms: Spread,
    pub total_ms: Spread,
    /// The same part's user CPU time, and its system CPU time (the kernel
    /// zeroing the pages it touches first, mostly).
    pub user_ms: Spread,
    pub sys_ms: Spread,
    pub vm_hwm_kb: Spread,
}

#[derive(Debug, Serialize)]
pub struct Figures3 {
    pub wall_ms: Spread,
    pub cpu_ms: Spread,
    pub max_rss_kb: Spread,
}

impl Figures3 {
    fn of(runs: &[RunFigures]) -> Figures3 {
        let pick = |f: fn(&RunFigures) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>());
        Figures3 {
            wall_ms: pick(|r| r.wall_ms),
            cpu_ms: pick(|r| r.cpu_ms),
            max_rss_kb: pick(|r| r.max_rss_kb as f64),
        }
    }
}

pub async fn run(ctx: &Ctx<'_>) -> Result<ScaleReport> {
    let opts = ctx.opts;
    let dir = ctx.work.join("scale");
    std::fs::create_dir_all(&dir)?;
    let sim = Sim::start(
        &ctx.bins.gcsim,
        &SimOptions {
            latency_ms: opts.latency_ms,
            rate_limit: opts.rate_limit,
            fixture: None,
            log: &dir.join("gcsim.log"),
        },
    )?;
    let gc = Gcrecon {
        bin: &ctx.bins.gcrecon,
        measurer: &ctx.bins.measurer,
        url: sim.url.clone(),
        creds: sim.admin.clone(),
        logs: dir.clone(),
        env: Vec::new(),
    };
    let manifest_path = dir.join("gcrecon.toml");
    let state = dir.join("bench.gcstate.json");
    let limits = ctx.limits();
    let mut report = ScaleReport::default();
    let mut applied = 0;

    // 1. Apply at the measured settings.
    if opts.apply > 0 {
        ctx.step(&format!(
            "apply: {} creates at {} ms latency, {}/min, parallelism {}",
            opts.apply, opts.latency_ms, opts.rate_limit, opts.parallelism
        ));
        let before = org_objects(&sim).await?;
        let reads = bounds::noop_plan_calls(&as_pairs(&before));
        std::fs::write(&manifest_path, manifest::generate("bench", opts.apply))?;
        sim.reset_stats().await?;
        let run = gc.apply("apply", &manifest_path, &state, opts.parallelism)?;
        let stats = sim.stats().await?;
        let create_calls = CREATE_ROUTES
            .iter()
            .filter_map(|r| stats.by_route.get(*r))
            .sum();
        let bound_api_calls = reads.api_calls + opts.apply as u64;
        let bound = time_bound(bound_api_calls, limits);
        let figures = RunFigures::from(run.usage());
        report.apply = Some(ApplyFigures {
            creates: opts.apply,
            parallelism: opts.parallelism,
            wall_ratio: figures.wall_ms / bound.total_ms.max(1) as f64,
            run: figures,
            calls: stats.total,
            create_calls,
            rate_limited: stats.rate_limited,
            by_route: stats.by_route,
            bound_api_calls,
            bound,
        });
        applied = opts.apply;
    }

    // 2. No-op plans at each size, and the baseline beside them.
    for &n in &opts.sizes {
        if n < applied {
            bail!("sizes must not be smaller than --apply or an earlier size ({n} < {applied})");
        }
        let setup = if n > applied {
            Some(grow(ctx, &sim, &gc, &manifest_path, &state, applied, n).await?)
        } else {
            std::fs::write(&manifest_path, manifest::generate("bench", n))?;
            None
        };
        applied = n;
        let managed = managed_in_state(&std::fs::read_to_string(&state)?)?;
        if managed.len() != n {
            bail!(
                "the state holds {} managed objects after applying {n}",
                managed.len()
            );
        }
        ctx.step(&format!("no-op plan of {n} managed objects"));
        let org = org_objects(&sim).await?;
        let bound = bounds::noop_plan_calls(&as_pairs(&org));
        let tbound = time_bound(bound.api_calls, limits);
        sim.reset_stats().await?;
        let plan = gc.plan(&format!("plan-{n}"), &manifest_path, &state)?;
        let stats = sim.stats().await?;
        let figures = RunFigures::from(plan.run.usage());
        let per_object = per_object(&stats);

        ctx.step(&format!("baseline: {n} per-object reads"));
        let baseline = baseline(ctx, &sim, &managed, stats.total, figures.wall_ms).await?;
        report.plans.push(PlanFigures {
            n,
            managed: manifest::counts(n)
                .iter()
                .map(|(k, c)| ((*k).to_owned(), *c))
                .collect(),
            setup,
            org_objects: org,
            no_op: plan.is_noop(),
            changes: plan.changes.iter().take(10).cloned().collect(),
            plan_reported_api_calls: plan.api_calls.clone(),
            calls_ratio: stats.total as f64 / bound.total as f64,
            wall_ratio: figures.wall_ms / tbound.total_ms.max(1) as f64,
            run: figures,
            calls: stats.total,
            rate_limited: stats.rate_limited,
            by_route: stats.by_route,
            per_object,
            bound,
            time_bound: tbound,
            baseline,
        });
    }

    if opts.serve {
        serve(ctx, &sim, &manifest_path, &state).await?;
        return Ok(report);
    }

    // 3. CPU and memory on the largest org.
    if applied > 0 {
        report.cpu = Some(cpu(ctx, &sim, &gc, &manifest_path, &state, applied).await?);
    }
    Ok(report)
}

/// `--serve`: keep the simulator of the largest org running, with the
/// environment that points gcrecon at it in `target/bench/serve.env`
/// (mode 0600: it holds the simulator's admin client), until Ctrl-C.
async fn serve(ctx: &Ctx<'_>, sim: &Sim, manifest: &Path, state: &Path) -> Result<()> {
    let env = ctx.root.join("target/bench/serve.env");
    let text = format!(
        "# gcrecon against the bench's simulator ({}); its org matches:\n\
         #   -m {} --state {}\n\
         export GENESYSCLOUD_API_REGION={}\n\
         export GENESYSCLOUD_OAUTHCLIENT_ID={}\n\
         export GENESYSCLOUD_OAUTHCLIENT_SECRET={}\n",
        sim.url,
        manifest.display(),
        state.display(),
        sim.url,
        sim.admin.client_id,
        sim.admin.client_secret,
    );
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&env)?;
        f.write_all(text.as_bytes())?;
    }
    ctx.step(&format!(
        "serving the org at {} until Ctrl-C; for example:\n  . {} && {} plan -m {} --state {}",
        sim.url,
        env.display(),
        ctx.bins.gcrecon.display(),
        manifest.display(),
        state.display(),
    ));
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Grow the org from `from` to `to` managed objects. This is set-up, not
/// measurement, so it runs with latency 0 and the simulator's rate limit
/// raised (10,000 creates at 300/min would take 33 minutes); the measured
/// settings are restored after. Two honest ways, chosen by `--setup`:
///
/// - `apply`: `gcrecon apply` of the larger generated manifest: gcrecon
///   creates the objects itself (at its own client-side pace);
/// - `adopt`: the bench creates the objects through the API exactly as the
///   manifest describes them, then `gcrecon apply` of the manifest with
///   `adopt = true` on the new ones takes them under management.
///
/// Either way the state and org afterwards are what a user who applied the
/// manifest would have, and the measured plan uses the plain manifest.
async fn grow(
    ctx: &Ctx<'_>,
    sim: &Sim,
    gc: &Gcrecon<'_>,
    manifest_path: &Path,
    state: &Path,
    from: usize,
    to: usize,
) -> Result<Setup> {
    let adopt = ctx.opts.setup == SetupMethod::Adopt;
    ctx.step(&format!(
        "set-up: growing the org from {from} to {to} managed objects by {} (latency 0, rate limit raised)",
        if adopt { "API creates + gcrecon adoption" } else { "gcrecon apply" }
    ));
    sim.set_limits(0, UNLIMITED).await?;
    let result = async {
        sim.reset_stats().await?;
        if adopt {
            let items = (from..to).map(manifest::wire_create).collect();
            sim.create_all(items, ctx.opts.parallelism).await?;
            std::fs::write(
                manifest_path,
                manifest::generate_adopting("bench", to, from),
            )?;
        } else {
            std::fs::write(manifest_path, manifest::generate("bench", to))?;
        }
        let run = gc.apply(
            &format!("grow-{to}"),
            manifest_path,
            state,
            ctx.opts.parallelism,
        )?;
        std::fs::write(manifest_path, manifest::generate("bench", to))?;
        let stats = sim.stats().await?;
        Ok::<_, anyhow::Error>((run, stats))
    }
    .await;
    sim.set_limits(ctx.opts.latency_ms, ctx.opts.rate_limit)
        .await?;
    let (run, stats) = result?;
    Ok(Setup {
        method: if adopt {
            "objects created through the API as the manifest describes them, then `gcrecon apply` with `adopt = true` on them; latency 0, rate limit raised".to_owned()
        } else {
            "`gcrecon apply` of the generated manifest; latency 0, rate limit raised".to_owned()
        },
        creates: to - from,
        wall_ms: run.usage().wall_ms,
        calls: stats.total,
    })
}

/// Objects in the org per kind the generated manifests manage, and the
/// catalog size, read through the API with the admin client.
async fn org_objects(sim: &Sim) -> Result<BTreeMap<String, u64>> {
    let token = sim.login().await?;
    let mut out = BTreeMap::new();
    for kind in KINDS.iter().chain(&["permission"]) {
        let ep = bounds::endpoint(kind).context("no list endpoint")?;
        out.insert((*kind).to_owned(), sim.count(&token, &ep.route).await?);
    }
    Ok(out)
}

fn as_pairs(m: &BTreeMap<String, u64>) -> Vec<(&str, u64)> {
    m.iter().map(|(k, v)| (k.as_str(), *v)).collect()
}

fn per_object(stats: &Stats) -> Vec<PerObject> {
    stats
        .by_route
        .iter()
        .filter(|(route, _)| bounds::is_per_object(route))
        .map(|(route, calls)| PerObject {
            route: route.clone(),
            calls: *calls,
            reason: bounds::per_object_reason(route).to_owned(),
        })
        .collect()
}

/// The per-object reader over the same managed objects. Up to
/// `baseline_at_limit_max` objects it runs at the real rate limit; above,
/// it runs with the limit raised and its time at the real limit is
/// computed (a lower bound for it, so the advantage is understated).
async fn baseline(
    ctx: &Ctx<'_>,
    sim: &Sim,
    managed: &[manifest::Managed],
    gcrecon_calls: u64,
    gcrecon_wall_ms: f64,
) -> Result<BaselineFigures> {
    let opts = ctx.opts;
    let paths: Vec<String> = managed
        .iter()
        .filter_map(|m| read_path(&m.kind, &m.id))
        .collect();
    let at_limit = paths.len() <= opts.baseline_at_limit_max;
    let rate = if at_limit { opts.rate_limit } else { UNLIMITED };
    if !at_limit {
        sim.set_limits(opts.latency_ms, UNLIMITED).await?;
    }
    sim.reset_stats().await?;
    let measured = read_each(&sim.url, &sim.admin, paths.clone(), opts.parallelism).await;
    let stats = sim.stats().await;
    if !at_limit {
        sim.set_limits(opts.latency_ms, opts.rate_limit).await?;
    }
    let (measured, stats) = (measured?, stats?);
    let calls = stats.total - stats.rate_limited;
    let (at_limit_wall_ms, at_limit_how, raised) = if at_limit {
        (
            measured.wall_ms as f64,
            format!("measured at the real rate limit ({}/min)", opts.rate_limit),
            None,
        )
    } else {
        let computed = time_bound(paths.len() as u64, ctx.limits()).total_ms as f64;
        (
            computed,
            format!(
                "computed from the rate limit: {} reads at {}/min need at least {:.1} min (a lower bound for the baseline); measured with the limit raised: {:.1} s",
                paths.len(),
                opts.rate_limit,
                computed / 60_000.0,
                measured.wall_ms as f64 / 1e3
            ),
            Some(measured.wall_ms as f64 / gcrecon_wall_ms),
        )
    };
    Ok(BaselineFigures {
        objects: paths.len(),
        measured_at_rate_limit: rate,
        calls,
        calls_advantage: calls as f64 / gcrecon_calls.max(1) as f64,
        wall_advantage: at_limit_wall_ms / gcrecon_wall_ms,
        wall_advantage_limit_raised: raised,
        at_limit_wall_ms,
        at_limit_how,
        measured,
    })
}

/// `gcrecon validate` of the largest manifest, and a no-op plan of it at
/// zero latency with the limit raised, each repeated `cpu_runs` times.
async fn cpu(
    ctx: &Ctx<'_>,
    sim: &Sim,
    gc: &Gcrecon<'_>,
    manifest_path: &Path,
    state: &Path,
    n: usize,
) -> Result<CpuFigures> {
    let runs = ctx.opts.cpu_runs;
    ctx.step(&format!(
        "CPU: in-process parse+validate+graph+plan, gcrecon validate and a latency-0 no-op plan of {n} objects, {runs} runs each"
    ));
    let in_process = measure_in_process(ctx, n, runs, Shape::Blocks)?;
    // As many runs at 10 N and for `for_each` as at N: a ratio near 10x
    // is only placed on one side of the line by medians of several runs.
    let n_large = 10 * n;
    ctx.step(&format!(
        "CPU: in-process parse+validate+graph+plan of {n_large} objects (10 N), {runs} runs"
    ));
    let in_process_large = measure_in_process(ctx, n_large, runs, Shape::Blocks)?;
    ctx.step(&format!(
        "CPU: in-process plan of one for_each block of {n} and of {n_large} instances, {runs} runs each"
    ));
    let in_process_for_each = measure_in_process(ctx, n, runs, Shape::ForEach)?;
    let in_process_for_each_large = measure_in_process(ctx, n_large, runs, Shape::ForEach)?;
    let instructions = count_instructions(ctx, n, n_large)?;
    let mut validate = Vec::new();
    for i in 0..runs {
        let run = gc
            .run(
                &format!("validate-{i}"),
                &["validate"],
                manifest_path,
                state,
            )?
            .expect("gcrecon validate", &[0])?;
        validate.push(RunFigures::from(run.usage()));
    }
    sim.set_limits(0, UNLIMITED).await?;
    let mut plans = Vec::new();
    let mut failure = None;
    for i in 0..runs {
        match gc.plan(&format!("cpu-plan-{i}"), manifest_path, state) {
            Ok(p) if p.is_noop() => plans.push(RunFigures::from(p.run.usage())),
            Ok(p) => {
                failure = Some(format!("the plan was not a no-op: {:?}", p.changes));
                break;
            }
            Err(e) => {
                failure = Some(format!("{e:#}"));
                break;
            }
        }
    }
    sim.set_limits(ctx.opts.latency_ms, ctx.opts.rate_limit)
        .await?;
    if let Some(f) = failure {
        bail!("CPU phase: {f}");
    }
    Ok(CpuFigures {
        n,
        manifest_bytes: std::fs::metadata(manifest_path)?.len(),
        in_process,
        n_large,
        in_process_large,
        in_process_for_each,
        in_process_for_each_large,
        instructions,
        validate: Figures3::of(&validate),
        noop_plan_latency0: Figures3::of(&plans),
    })
}

/// `runs` in-process measurements of `n` objects written as `shape`
/// (`xtask bench __cpu`), one process each.
fn measure_in_process(ctx: &Ctx<'_>, n: usize, runs: usize, shape: Shape) -> Result<InProcess> {
    let mut in_process = Vec::new();
    for i in 0..runs {
        let out = ctx
            .work
            .join(format!("cpu-{}-{n}-{i}.json", shape.as_str()));
        crate::run_checked(
            std::process::Command::new(&ctx.bins.measurer)
                .args(["bench", "__cpu", "--n", &n.to_string(), "--shape"])
                .arg(shape.as_str())
                .arg("--out")
                .arg(&out),
        )?;
        let run: super::cpu::CpuRun = serde_json::from_slice(&std::fs::read(&out)?)?;
        if run.changes != 0 {
            bail!(
                "the in-process plan of {n} objects found {} changes",
                run.changes
            );
        }
        in_process.push(run);
    }
    let pick = |f: fn(&super::cpu::CpuRun) -> f64| {
        Spread::of(&in_process.iter().map(f).collect::<Vec<_>>())
    };
    Ok(InProcess {
        load_ms: pick(|r| r.load_ms),
        plan_ms: pick(|r| r.plan_ms),
        total_ms: pick(|r| r.total_ms),
        user_ms: pick(|r| r.user_ms),
        sys_ms: pick(|r| r.sys_ms),
        vm_hwm_kb: pick(|r| r.vm_hwm_kb as f64),
    })
}

/// [`Instructions`] at `n` and `n_large`, both shapes, when asked for and
/// valgrind is installed.
fn count_instructions(ctx: &Ctx<'_>, n: usize, n_large: usize) -> Result<Instructions> {
    let skipped = |why: &str| {
        Ok(Instructions {
            not_counted: Some(why.to_owned()),
            ..Instructions::default()
        })
    };
    if !ctx.opts.instructions {
        return skipped("not asked for (--quick or --no-instructions)");
    }
    if ctx.opts.debug_bins {
        return skipped("debug binaries");
    }
    let found = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        return skipped("valgrind is not installed");
    }
    ctx.step(&format!(
        "CPU: instructions of the in-process plan at {n} and {n_large}, both shapes (callgrind, one run each)"
    ));
    let count = |n: usize, shape: Shape| callgrind_count(ctx, n, shape).map(Some);
    Ok(Instructions {
        blocks: count(n, Shape::Blocks)?,
        blocks_large: count(n_large, Shape::Blocks)?,
        for_each: count(n, Shape::ForEach)?,
        for_each_large: count(n_large, Shape::ForEach)?,
        not_counted: None,
    })
}

/// One `xtask bench __cpu` run under callgrind, counting only inside the
/// two calls it times.
fn callgrind_count(ctx: &Ctx<'_>, n: usize, shape: Shape) -> Result<u64> {
    let name = format!("callgrind-{}-{n}", shape.as_str());
    let output = std::process::Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            ctx.work.join(format!("{name}.out")).display()
        ))
        .args([
            "--collect-atstart=no",
            "--toggle-collect=gcrecon_core::manifest::load*",
            "--toggle-collect=gcrecon_engine::planner::plan::{{closure}}*",
        ])
        .arg(&ctx.bins.measurer)
        .args(["bench", "__cpu", "--n", &n.to_string(), "--shape"])
        .arg(shape.as_str())
        .arg("--out")
        .arg(ctx.work.join(format!("{name}.json")))
        .output()
        .context("cannot start valgrind")?;
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("callgrind of {n} ({}) failed: {log}", shape.as_str());
    }
    collected(&log).with_context(|| {
        format!(
            "callgrind of {n} ({}) counted nothing: were `manifest::load` and `planner::plan` inlined away?\n{log}",
            shape.as_str()
        )
    })
}

/// The count callgrind reports as `==PID== Collected : N`, when not zero.
fn collected(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse().ok())
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn callgrinds_count_is_read_from_its_log() {
        let log = "==41== Events    : Ir\n==41== Collected : 284139503\n==41==\n";
        assert_eq!(super::collected(log), Some(284_139_503));
        assert_eq!(super::collected("==41== Collected : 0\n"), None);
        assert_eq!(super::collected("valgrind: no such tool\n"), None);
    }
}
