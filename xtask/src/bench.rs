//! `cargo xtask bench [--quick] [--latency-ms N] [--rate-limit N]`: API
//! calls, wall time, CPU and memory of the real `gcrecon` binary against a
//! local gcsim, each beside its lower bound and beside a per-object
//! baseline, in one run.
//!
//! Builds release binaries of gcsim, gcrecon and xtask (the measurer) into
//! `target/bench` (its own target directory, so a long bench never holds
//! the build lock of `target/`), then measures:
//!
//! 1. apply: creates at the measured latency and rate limit, against the
//!    rate-limit bound ([`scale`]);
//! 2. no-op plans at N managed objects: calls by route and wall time
//!    against the list-page bound ([`bounds`]), beside a per-object reader
//!    ([`baseline`]) over the same objects;
//! 3. CPU and peak memory of `gcrecon validate` and a zero-latency no-op
//!    plan of the largest manifest ([`measure`]);
//! 4. no-op plan calls of every `examples/*` seed system, fresh and after
//!    populating many unmanaged objects ([`seeds`]);
//! 5. `gcrecon fleet drift` over many organizations, one gcsim process
//!    each, at several `--parallelism` values ([`fleet`]).
//!
//! Prints a table ([`report`]) and writes everything as JSON to
//! `target/bench/latest.json` (and `latest-full.json` or
//! `latest-quick.json`, so a quick run does not hide the last full one).
//! Fails when a step fails; a target not met is a finding, not a failure.

mod baseline;
mod bounds;
mod cpu;
mod fleet;
mod gcrecon;
mod manifest;
mod measure;
mod report;
mod scale;
mod seeds;
mod sim;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::run_checked;

pub const USAGE: &str = "usage: cargo xtask bench [--quick] [--latency-ms N] [--rate-limit N]
                         [--sizes N,N] [--apply N] [--runs N] [--populate N]
                         [--only scale|seeds|fleet] [--setup apply|adopt] [--debug-bins]
                         [--orgs N] [--fleet-parallelism N,N] [--serve]

  --quick          tiny sizes (N=100, 20 creates, 5 ms latency): well under a minute
  --latency-ms N   simulator latency per response (default 100)
  --rate-limit N   requests per minute per token (default 300)
  --sizes N,N      managed objects of the no-op plans (default 1000,10000)
  --apply N        creates measured in the apply phase (default 1000)
  --runs N         repetitions of the CPU measurements (default 7)
  --populate N     unmanaged objects added before the second seed plan (default 10000)
  --only PHASE     run only `scale` (apply, plans, baseline, CPU), `seeds` or `fleet`
  --serve          after the scale phase's set-up and no-op plan of the largest size,
                   keep its simulator running (until Ctrl-C) and write the environment
                   that points gcrecon at it to target/bench/serve.env, for profiling
                   the real binary (see docs/performance.md)
  --orgs N         organizations (gcsim processes) of the fleet phase (default 50)
  --fleet-parallelism N,N
                   `gcrecon fleet drift --parallelism` values measured (default 4,16)
  --setup HOW      how the org is grown to each size, not measured (default adopt):
                   `apply` = gcrecon apply creates the objects; `adopt` = the bench
                   creates them through the API, gcrecon apply adopts them
  --no-instructions
                   skip counting the in-process plan's instructions (valgrind's
                   callgrind, about 4 minutes; skipped anyway where valgrind is
                   not installed, and by --quick)
  --debug-bins     run the debug binaries of target/debug (a smoke test, as the
                   test suite does; its figures are not performance numbers)";

/// What to measure and at which settings.
#[derive(Clone, Debug, Serialize)]
pub struct Options {
    pub quick: bool,
    pub latency_ms: u64,
    pub rate_limit: u64,
    /// gcrecon's `--parallelism` for apply, and the baseline's.
    pub parallelism: usize,
    pub sizes: Vec<usize>,
    pub apply: usize,
    pub cpu_runs: usize,
    pub seed_population: u64,
    /// The baseline reads up to this many objects at the real rate limit;
    /// above, with the limit raised, its time at the limit computed.
    pub baseline_at_limit_max: usize,
    pub scale: bool,
    pub seeds: bool,
    pub fleet: bool,
    /// Organizations of the fleet phase.
    pub fleet_orgs: usize,
    /// `--parallelism` values of the fleet drift runs.
    pub fleet_parallelism: Vec<usize>,
    /// How the org is grown to each size before its plan is measured.
    pub setup: SetupMethod,
    /// Run the debug binaries of the workspace's own target directory
    /// instead of a release build in `target/bench`: what the test suite
    /// uses, so `cargo test` never compiles a second, optimized copy of
    /// everything. Figures from such a run are not performance numbers.
    pub debug_bins: bool,
    /// Keep the scale phase's simulator running after its no-op plans.
    pub serve: bool,
    /// Count the instructions of the in-process plan at N and 10 N (under
    /// callgrind, when valgrind is installed).
    pub instructions: bool,
}

/// How the scale phase grows the org between sizes (see `scale::grow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SetupMethod {
    /// `gcrecon apply` creates the objects.
    Apply,
    /// The bench creates them through the API; `gcrecon apply` adopts them.
    Adopt,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut o = if quick {
            Options {
                quick,
                latency_ms: 5,
                rate_limit: 300,
                parallelism: 10,
                sizes: vec![100],
                apply: 20,
                cpu_runs: 3,
                seed_population: 1_000,
                baseline_at_limit_max: 100,
                scale: true,
                seeds: true,
                fleet: true,
                fleet_orgs: 5,
                fleet_parallelism: vec![4],
                setup: SetupMethod::Adopt,
                debug_bins: false,
                serve: false,
                instructions: false,
            }
        } else {
            Options {
                quick,
                latency_ms: 100,
                rate_limit: 300,
                parallelism: 10,
                sizes: vec![1_000, 10_000],
                apply: 1_000,
                cpu_runs: 7,
                seed_population: 10_000,
                baseline_at_limit_max: 1_000,
                scale: true,
                seeds: true,
                fleet: true,
                fleet_orgs: 50,
                fleet_parallelism: vec![4, 16],
                setup: SetupMethod::Adopt,
                debug_bins: false,
                serve: false,
                instructions: true,
            }
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            let num = |v: &String, name: &str| {
                v.replace('_', "")
                    .parse::<u64>()
                    .with_context(|| format!("{name}: `{v}` is not a number"))
            };
            match a.as_str() {
                "--quick" => {}
                "--debug-bins" => o.debug_bins = true,
                "--no-instructions" => o.instructions = false,
                "--serve" => o.serve = true,
                "--latency-ms" => o.latency_ms = num(value(a)?, a)?,
                "--rate-limit" => o.rate_limit = num(value(a)?, a)?,
                "--apply" => o.apply = num(value(a)?, a)? as usize,
                "--runs" => o.cpu_runs = num(value(a)?, a)?.max(1) as usize,
                "--populate" => o.seed_population = num(value(a)?, a)?,
                "--sizes" => {
                    let v = value(a)?;
                    o.sizes = v
                        .split(',')
                        .map(|s| num(&s.trim().to_owned(), a).map(|n| n as usize))
                        .collect::<Result<_>>()?;
                    o.sizes.sort_unstable();
                }
                "--setup" => match value(a)?.as_str() {
                    "apply" => o.setup = SetupMethod::Apply,
                    "adopt" => o.setup = SetupMethod::Adopt,
                    other => bail!("--setup takes `apply` or `adopt`, not `{other}`"),
                },
                "--only" => {
                    let only = value(a)?;
                    if !["scale", "seeds", "fleet"].contains(&only.as_str()) {
                        bail!("--only takes `scale`, `seeds` or `fleet`, not `{only}`");
                    }
                    o.scale = only == "scale";
                    o.seeds = only == "seeds";
                    o.fleet = only == "fleet";
                }
                "--orgs" => o.fleet_orgs = num(value(a)?, a)?.max(1) as usize,
                "--fleet-parallelism" => {
                    let v = value(a)?;
                    o.fleet_parallelism = v
                        .split(',')
                        .map(|s| num(&s.trim().to_owned(), a).map(|n| n.max(1) as usize))
                        .collect::<Result<_>>()?;
                }
                other => bail!("unknown argument `{other}`\n\n{USAGE}"),
            }
        }
        if o.rate_limit == 0 {
            bail!("--rate-limit must be at least 1");
        }
        Ok(o)
    }
}

/// The release binaries the bench runs.
pub struct Bins {
    pub gcsim: PathBuf,
    pub gcrecon: PathBuf,
    /// The release xtask binary, used as the measurer.
    pub measurer: PathBuf,
}

/// What every phase needs.
pub struct Ctx<'a> {
    pub root: &'a Path,
    pub bins: &'a Bins,
    pub opts: &'a Options,
    /// Scratch space for manifests, states and captured output.
    pub work: PathBuf,
}

impl Ctx<'_> {
    pub fn limits(&self) -> bounds::Limits {
        bounds::Limits {
            latency_ms: self.opts.latency_ms,
            rate_per_min: self.opts.rate_limit,
            parallelism: self.opts.parallelism as u64,
        }
    }

    /// Progress, on stderr.
    pub fn step(&self, what: &str) {
        eprintln!("bench: {what}");
    }
}

/// `cargo xtask bench ...` (and the measurer, `bench __measure ...`).
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("__measure") => return measure::measurer_main(&args[1..]),
        Some("__cpu") => return cpu::cpu_main(&args[1..]),
        _ => {}
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    let report = bench(root, &opts)?;
    print!("{}", report::table(&report));
    let failed: Vec<&str> = report
        .seeds
        .iter()
        .flatten()
        .filter(|s| s.error.is_some())
        .map(|s| s.example.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "the seed example(s) {} could not be measured (see above)",
            failed.join(", ")
        );
    }
    Ok(())
}

/// Build, measure, judge, write the JSON; the report.
pub fn bench(root: &Path, opts: &Options) -> Result<Report> {
    let started = Instant::now();
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let target = root.join("target").join("bench");
    let bins = if opts.debug_bins {
        build_debug(root)?
    } else {
        build(root, &target)?
    };
    let mode = if opts.quick { "quick" } else { "full" };
    let work = target
        .join("work")
        .join(format!("{mode}-{}", std::process::id()));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let ctx = Ctx {
        root,
        bins: &bins,
        opts,
        work: work.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let scale = if opts.scale {
        Some(rt.block_on(scale::run(&ctx))?)
    } else {
        None
    };
    let seeds = if opts.seeds {
        Some(rt.block_on(seeds::run(&ctx))?)
    } else {
        None
    };
    let fleet = if opts.fleet {
        Some(rt.block_on(fleet::run(&ctx))?)
    } else {
        None
    };
    let targets = report::targets(scale.as_ref(), seeds.as_deref());
    let report = Report {
        tool: "cargo xtask bench",
        mode,
        started_at,
        total_wall_s: started.elapsed().as_secs_f64(),
        commit: commit(root),
        machine: report::Machine::probe(),
        settings: opts.clone(),
        scale,
        seeds,
        fleet,
        targets,
    };
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(target.join("latest.json"), &json)?;
    std::fs::write(target.join(format!("latest-{mode}.json")), &json)?;
    eprintln!(
        "bench: wrote {} (scratch files in {})",
        target.join("latest.json").display(),
        work.display()
    );
    Ok(report)
}

pub use report::Report;

/// `cargo build --release -p gcsim -p gcrecon-cli`, then `-p xtask`, into
/// `target/bench` (no-ops when they are fresh). Two builds, so that the
/// engine's test provider, which xtask enables, is not compiled into the
/// measured gcrecon.
fn build(root: &Path, target: &Path) -> Result<Bins> {
    eprintln!(
        "bench: building release gcsim, gcrecon and the measurer in {}",
        target.display()
    );
    for packages in [&["-p", "gcsim", "-p", "gcrecon-cli"][..], &["-p", "xtask"]] {
        run_checked(
            Command::new(env!("CARGO"))
                .current_dir(root)
                .env("CARGO_TARGET_DIR", target)
                .args(["build", "--release", "-q"])
                .args(packages),
        )?;
    }
    let release = target.join("release");
    let bins = Bins {
        gcsim: release.join("gcsim"),
        gcrecon: release.join("gcrecon"),
        measurer: release.join("xtask"),
    };
    for b in [&bins.gcsim, &bins.gcrecon, &bins.measurer] {
        if !b.is_file() {
            bail!("the build left no {}", b.display());
        }
    }
    Ok(bins)
}

/// The debug binaries of the workspace's target directory (`target/`, or
/// `CARGO_TARGET_DIR`), built the way the end-to-end tests build them
/// (cargo's no-op when fresh).
fn build_debug(root: &Path) -> Result<Bins> {
    for packages in [
        &["-p", "gcsim", "-p", "gcrecon-cli", "--bins"][..],
        &["-p", "xtask"],
    ] {
        run_checked(
            Command::new(env!("CARGO"))
                .current_dir(root)
                .args(["build", "-q"])
                .args(packages),
        )?;
    }
    // Where cargo just built them: `CARGO_TARGET_DIR` when set.
    let target = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let debug = target.join("debug");
    let bins = Bins {
        gcsim: debug.join("gcsim"),
        gcrecon: debug.join("gcrecon"),
        measurer: debug.join("xtask"),
    };
    for b in [&bins.gcsim, &bins.gcrecon, &bins.measurer] {
        if !b.is_file() {
            bail!("the build left no {}", b.display());
        }
    }
    Ok(bins)
}

/// The commit measured, `+dirty` when the tree has changes.
fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let head = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    format!("{head}{}", if dirty { "+dirty" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    /// `cargo xtask bench --quick`, end to end: builds the release binaries
    /// in `target/bench` when they are missing or stale (cargo's no-op when
    /// fresh), runs every phase at tiny sizes and fails when any step fails.
    /// Targets are not judged here: at these sizes they measure process
    /// start-up more than gcrecon.
    #[test]
    fn quick_bench_runs_end_to_end() {
        let root = crate::project_root();
        let mut opts = Options::parse(&args("--quick")).unwrap();
        opts.debug_bins = true;
        let report = bench(&root, &opts).unwrap_or_else(|e| panic!("bench --quick failed: {e:#}"));
        let scale = report.scale.as_ref().expect("the scale phase ran");
        let apply = scale.apply.as_ref().expect("the apply phase ran");
        assert_eq!(
            apply.create_calls, opts.apply as u64,
            "one create per object"
        );
        let plan = &scale.plans[0];
        assert!(
            plan.no_op,
            "a plan right after apply changes {:?}",
            plan.changes
        );
        assert!(plan.calls >= plan.bound.total.min(3), "{plan:?}");
        assert_eq!(plan.baseline.objects, opts.sizes[0]);
        assert!(plan.baseline.calls > plan.baseline.objects as u64);
        let cpu = scale.cpu.as_ref().expect("the CPU phase ran");
        assert!(cpu.in_process.total_ms.median > 0.0);
        let seeds = report.seeds.as_ref().expect("the seed phase ran");
        assert!(!seeds.is_empty(), "no examples/*/gcrecon.toml found");
        for s in seeds {
            assert!(s.error.is_none(), "example {}: {:?}", s.example, s.error);
        }
        let fleet = report.fleet.as_ref().expect("the fleet phase ran");
        assert_eq!(fleet.orgs, opts.fleet_orgs);
        assert_eq!(fleet.runs.len(), opts.fleet_parallelism.len());
        for run in &fleet.runs {
            assert!(
                run.calls_per_org.min > 0.0,
                "an org answered no call: {run:?}"
            );
        }
        // Eleven targets, and the in-process figures at 10 N (blocks and
        // one for_each block) within 10x of N's.
        assert_eq!(report.targets.len(), 11);
        assert!(cpu.in_process_large.total_ms.median > 0.0);
        assert!(cpu.in_process_for_each.total_ms.median > 0.0);
        assert!(cpu.in_process_for_each_large.total_ms.median > 0.0);
        assert!(root.join("target/bench/latest-quick.json").is_file());
    }

    #[test]
    fn options_default_to_the_full_run() {
        let o = Options::parse(&[]).unwrap();
        assert_eq!((o.latency_ms, o.rate_limit), (100, 300));
        assert_eq!(o.sizes, [1_000, 10_000]);
        assert_eq!(o.apply, 1_000);
    }

    #[test]
    fn quick_and_flags_combine() {
        let o =
            Options::parse(&args("--quick --latency-ms 0 --sizes 300,200 --only scale")).unwrap();
        assert!(o.quick && o.scale && !o.seeds);
        assert_eq!(o.latency_ms, 0);
        assert_eq!(o.sizes, [200, 300]);
        assert!(Options::parse(&args("--frob")).is_err());
        assert!(Options::parse(&args("--rate-limit")).is_err());
        assert!(Options::parse(&args("--only nothing")).is_err());
        let o = Options::parse(&args("--only fleet --orgs 7 --fleet-parallelism 2,8")).unwrap();
        assert!(o.fleet && !o.scale && !o.seeds);
        assert_eq!((o.fleet_orgs, o.fleet_parallelism), (7, vec![2, 8]));
    }
}
