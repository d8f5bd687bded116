//! The bench's report: everything measured, the targets judged against it,
//! the machine it ran on; printed as a table and written as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::scale::{InProcess, ScaleReport};
use super::seeds::SeedFigures;
use super::Options;

#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub mode: &'static str,
    /// Seconds since the Unix epoch when the run started.
    pub started_at: u64,
    pub total_wall_s: f64,
    pub commit: String,
    pub machine: Machine,
    pub settings: Options,
    pub scale: Option<ScaleReport>,
    pub seeds: Option<Vec<SeedFigures>>,
    pub fleet: Option<super::fleet::FleetReport>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub mem_total_mib: u64,
    pub cpu_model: String,
    pub kernel: String,
}

impl Machine {
    pub fn probe() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let meminfo = read("/proc/meminfo");
        let mem_kb = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_total_mib: mem_kb / 1024,
            cpu_model,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }
}

/// A target and how the run did against it.
#[derive(Debug, Serialize)]
pub struct Target {
    pub name: String,
    pub limit: String,
    pub figure: String,
    /// `None` when the run did not measure it.
    pub met: Option<bool>,
}

impl Target {
    fn new(name: &str, limit: &str, figure: String, met: Option<bool>) -> Target {
        Target {
            name: name.to_owned(),
            limit: limit.to_owned(),
            figure,
            met,
        }
    }
}

/// The seed target: at most this many calls per no-op plan.
pub const SEED_CALLS_MAX: u64 = 12;

/// Judge the targets against what was measured.
pub fn targets(scale: Option<&ScaleReport>, seeds: Option<&[SeedFigures]>) -> Vec<Target> {
    let mut out = Vec::new();
    let largest = scale.and_then(|s| s.plans.iter().max_by_key(|p| p.n));
    let missing = |name: &str, limit: &str| Target::new(name, limit, "not measured".into(), None);
    match largest {
        Some(p) => {
            let n = int(p.n as u64);
            let detail: u64 = p.per_object.iter().map(|d| d.calls).sum();
            out.push(Target::new(
                &format!("no-op plan calls, N={n}"),
                "≤ 1.2 × list-page bound",
                format!(
                    "{} calls / bound {} = {}{}",
                    int(p.calls),
                    int(p.bound.total),
                    ratio(p.calls_ratio),
                    if detail > 0 {
                        format!(" ({} per-object)", int(detail))
                    } else {
                        String::new()
                    }
                ),
                Some(p.no_op && p.calls_ratio <= 1.2),
            ));
            out.push(Target::new(
                &format!("no-op plan wall time, N={n}"),
                "≤ 1.5 × lower bound",
                format!(
                    "{} / bound {} = {}",
                    ms(p.run.wall_ms),
                    ms(p.time_bound.total_ms as f64),
                    ratio(p.wall_ratio)
                ),
                Some(p.no_op && p.wall_ratio <= 1.5),
            ));
            out.push(Target::new(
                &format!("fewer calls than the per-object baseline, N={n}"),
                "≥ 20×",
                format!(
                    "{} vs {} = {}",
                    int(p.calls),
                    int(p.baseline.calls),
                    ratio(p.baseline.calls_advantage)
                ),
                Some(p.baseline.calls_advantage >= 20.0),
            ));
        }
        None => {
            out.push(missing("no-op plan calls", "≤ 1.2 × list-page bound"));
            out.push(missing("no-op plan wall time", "≤ 1.5 × lower bound"));
            out.push(missing("fewer calls than the per-object baseline", "≥ 20×"));
        }
    }
    match scale.and_then(|s| s.apply.as_ref()) {
        Some(a) => out.push(Target::new(
            &format!("apply of {} creates, wall time", int(a.creates as u64)),
            "≤ 1.1 × rate-limit bound",
            format!(
                "{} / bound {} = {}",
                ms(a.run.wall_ms),
                ms(a.bound.total_ms as f64),
                ratio(a.wall_ratio)
            ),
            Some(a.wall_ratio <= 1.1),
        )),
        None => out.push(missing("apply wall time", "≤ 1.1 × rate-limit bound")),
    }
    match scale.and_then(|s| s.cpu.as_ref()) {
        Some(c) => {
            let n = int(c.n as u64);
            let ip = &c.in_process;
            out.push(Target::new(
                &format!("CPU: parse+validate+graph+diff of {n} resources"),
                "< 100 ms",
                format!(
                    "{} median (load {} + plan {}), min {}; in-process, in-memory org",
                    ms(ip.total_ms.median),
                    ms(ip.load_ms.median),
                    ms(ip.plan_ms.median),
                    ms(ip.total_ms.min)
                ),
                Some(ip.total_ms.median < 100.0),
            ));
            out.push(Target::new(
                &format!("memory: peak RSS for {n} resources"),
                "< 100 MB",
                format!(
                    "{} in-process (in-memory org and state included); gcrecon no-op plan {}, validate {}",
                    mb(ip.vm_hwm_kb.max),
                    mb(c.noop_plan_latency0.max_rss_kb.max),
                    mb(c.validate.max_rss_kb.max)
                ),
                Some(ip.vm_hwm_kb.max < 100.0 * 1000.0),
            ));
            let real = &c.noop_plan_latency0;
            out.push(Target::new(
                &format!("gcrecon no-op plan of {n} resources, latency 0: CPU"),
                "≤ 300 ms",
                format!(
                    "{} median, min {}",
                    ms(real.cpu_ms.median),
                    ms(real.cpu_ms.min)
                ),
                Some(real.cpu_ms.median <= 300.0),
            ));
            out.push(Target::new(
                &format!("gcrecon no-op plan of {n} resources: peak RSS"),
                "≤ 100 MB",
                format!("{} max", mb(real.max_rss_kb.max)),
                Some(real.max_rss_kb.max <= 100.0 * 1000.0),
            ));
            // The figure at 10 N against the one at N: within 10x is linear.
            let linear = |what: String,
                          n: &InProcess,
                          large: &InProcess,
                          counted: (Option<u64>, Option<u64>)| {
                let growth = large.total_ms.median / n.total_ms.median.max(0.001);
                let user = large.user_ms.median / n.user_ms.median.max(0.001);
                let instructions = match counted {
                    (Some(n), Some(large)) => format!(
                        "; instructions {} M vs {} M = {}",
                        int(large / 1_000_000),
                        int(n / 1_000_000),
                        ratio(large as f64 / n.max(1) as f64)
                    ),
                    _ => String::new(),
                };
                Target::new(
                    &format!("CPU grows linearly: {what} in-process"),
                    "≤ 10 × the figure of N",
                    format!(
                        "{} median vs {} = {} (user CPU {} vs {} = {}; system {} vs {}{instructions})",
                        ms(large.total_ms.median),
                        ms(n.total_ms.median),
                        ratio(growth),
                        ms(large.user_ms.median),
                        ms(n.user_ms.median),
                        ratio(user),
                        ms(large.sys_ms.median),
                        ms(n.sys_ms.median)
                    ),
                    Some(growth <= 10.0),
                )
            };
            let large = int(c.n_large as u64);
            let i = &c.instructions;
            out.push(linear(
                format!("{large} resources"),
                ip,
                &c.in_process_large,
                (i.blocks, i.blocks_large),
            ));
            out.push(linear(
                format!("one for_each block of {large} instances"),
                &c.in_process_for_each,
                &c.in_process_for_each_large,
                (i.for_each, i.for_each_large),
            ));
        }
        None => {
            out.push(missing("CPU", "< 100 ms"));
            out.push(missing("memory", "< 100 MB"));
            out.push(missing("gcrecon no-op plan: CPU", "≤ 300 ms"));
            out.push(missing("gcrecon no-op plan: peak RSS", "≤ 100 MB"));
        }
    }
    match seeds {
        Some(seeds) if !seeds.is_empty() => {
            let figure = seeds
                .iter()
                .map(|s| {
                    let f = |p: &Option<super::seeds::SeedPlan>| {
                        p.as_ref().map_or("—".to_owned(), |p| p.calls.to_string())
                    };
                    format!("{} {}/{}", s.example, f(&s.fresh), f(&s.populated))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let met = seeds.iter().all(|s| {
                s.error.is_none()
                    && [&s.fresh, &s.populated].iter().all(|p| {
                        p.as_ref()
                            .is_some_and(|p| p.no_op && p.calls <= SEED_CALLS_MAX)
                    })
            });
            out.push(Target::new(
                "seed no-op plans, fresh / populated org",
                "≤ 12 calls each",
                figure,
                Some(met),
            ));
        }
        _ => out.push(missing("seed no-op plans", "≤ 12 calls each")),
    }
    out
}

/// The report as a table for the terminal.
pub fn table(r: &Report) -> String {
    let mut s = String::new();
    let o = &r.settings;
    let _ = writeln!(
        s,
        "gcrecon bench ({}): latency {} ms, rate limit {}/min, parallelism {}",
        r.mode, o.latency_ms, o.rate_limit, o.parallelism
    );
    let _ = writeln!(
        s,
        "machine: {} CPUs ({}), {:.1} GiB RAM, Linux {}; commit {}; total {:.0} s",
        r.machine.nproc,
        r.machine.cpu_model,
        r.machine.mem_total_mib as f64 / 1024.0,
        r.machine.kernel,
        r.commit,
        r.total_wall_s
    );
    if let Some(scale) = &r.scale {
        scale_table(&mut s, scale, o);
    }
    if let Some(seeds) = &r.seeds {
        seeds_table(&mut s, seeds, o);
    }
    if let Some(fleet) = &r.fleet {
        super::fleet::table(&mut s, fleet, o.latency_ms, o.rate_limit);
    }
    let _ = writeln!(s, "\nTargets");
    if r.mode == "quick" {
        let _ = writeln!(
            s,
            "  (--quick: at these sizes process start-up dominates; the targets are meant for a full run)"
        );
    }
    let rows: Vec<Vec<String>> = r
        .targets
        .iter()
        .map(|t| {
            vec![
                match t.met {
                    Some(true) => "met".to_owned(),
                    Some(false) => "NOT MET".to_owned(),
                    None => "—".to_owned(),
                },
                t.name.clone(),
                t.limit.clone(),
                t.figure.clone(),
            ]
        })
        .collect();
    grid(&mut s, &rows);
    s
}

fn scale_table(s: &mut String, scale: &ScaleReport, o: &Options) {
    if !scale.plans.is_empty() {
        let _ = writeln!(s, "\nNo-op plan (gcrecon plan --detailed-exitcode)");
        let mut rows = vec![{
            let mut h = vec![String::new()];
            h.extend(scale.plans.iter().map(|p| format!("N={}", int(p.n as u64))));
            h
        }];
        let mut row = |label: &str, f: &dyn Fn(&super::scale::PlanFigures) -> String| {
            let mut r = vec![label.to_owned()];
            r.extend(scale.plans.iter().map(f));
            rows.push(r);
        };
        row("managed (roles/groups/divisions)", &|p| {
            let g = |k: &str| int(p.managed.get(k).copied().unwrap_or(0) as u64);
            format!("{}/{}/{}", g("role"), g("group"), g("division"))
        });
        row("in org, listed (roles/groups/divisions/catalog)", &|p| {
            let g = |k: &str| int(p.org_objects.get(k).copied().unwrap_or(0));
            format!(
                "{}/{}/{}/{}",
                g("role"),
                g("group"),
                g("division"),
                g("permission")
            )
        });
        row("no-op", &|p| {
            if p.no_op {
                "yes".to_owned()
            } else {
                format!("NO: {} changed", p.changes.len())
            }
        });
        row("API calls (gcrecon)", &|p| int(p.calls));
        row("  of which per-object", &|p| {
            int(p.per_object.iter().map(|d| d.calls).sum())
        });
        row("  as gcrecon reports them", &|p| {
            p.plan_reported_api_calls
                .as_ref()
                .map_or("—".to_owned(), |v| match (v.as_u64(), v.as_object()) {
                    (Some(n), _) => int(n),
                    (None, Some(by_route)) => {
                        int(by_route.values().filter_map(|c| c.as_u64()).sum())
                    }
                    _ => v.to_string(),
                })
        });
        row("list-page bound (calls)", &|p| int(p.bound.total));
        row("calls / bound", &|p| ratio(p.calls_ratio));
        row("wall (gcrecon)", &|p| ms(p.run.wall_ms));
        row("time bound", &|p| ms(p.time_bound.total_ms as f64));
        row("wall / bound", &|p| ratio(p.wall_ratio));
        row("gcrecon CPU, peak RSS", &|p| {
            format!("{}, {}", ms(p.run.cpu_ms), mb(p.run.max_rss_kb as f64))
        });
        row("429 answers", &|p| int(p.rate_limited));
        row("baseline calls (1 GET per object)", &|p| {
            int(p.baseline.calls)
        });
        row("baseline wall at the real limit", &|p| {
            let how = if p.baseline.measured_at_rate_limit == o.rate_limit {
                "measured"
            } else {
                "computed lower bound"
            };
            format!("{} ({how})", ms(p.baseline.at_limit_wall_ms))
        });
        row("baseline wall, limit raised", &|p| {
            if p.baseline.measured_at_rate_limit == o.rate_limit {
                "—".to_owned()
            } else {
                ms(p.baseline.measured.wall_ms as f64)
            }
        });
        row("advantage: calls", &|p| ratio(p.baseline.calls_advantage));
        row("advantage: wall at the limit", &|p| {
            ratio(p.baseline.wall_advantage)
        });
        row("advantage: wall, limit raised", &|p| {
            p.baseline
                .wall_advantage_limit_raised
                .map_or("—".to_owned(), ratio)
        });
        row("set-up (not measured)", &|p| {
            p.setup
                .as_ref()
                .map_or("by the apply phase".to_owned(), |su| {
                    let how = match o.setup {
                        super::SetupMethod::Apply => "gcrecon apply",
                        super::SetupMethod::Adopt => "API + adopt",
                    };
                    format!(
                        "{} objects in {} ({how})",
                        int(su.creates as u64),
                        ms(su.wall_ms)
                    )
                })
        });
        grid(s, &rows);
        if let Some(p) = scale.plans.iter().max_by_key(|p| p.n) {
            let _ = writeln!(
                s,
                "\nCalls by route, no-op plan of N={} (bound in brackets)",
                int(p.n as u64)
            );
            let mut rows = Vec::new();
            for (route, calls) in &p.by_route {
                let bound = p
                    .bound
                    .lines
                    .iter()
                    .find(|l| &l.route == route)
                    .map_or(String::new(), |l| format!("[{}: {}]", l.calls, l.why));
                let why = if super::bounds::is_per_object(route) {
                    super::bounds::per_object_reason(route).to_owned()
                } else {
                    bound
                };
                rows.push(vec![format!("  {route}"), int(*calls), why]);
            }
            for l in &p.bound.lines {
                if !p.by_route.contains_key(&l.route) {
                    rows.push(vec![
                        format!("  {}", l.route),
                        "0".to_owned(),
                        format!("[{}: {}]", l.calls, l.why),
                    ]);
                }
            }
            grid(s, &rows);
        }
    }
    if let Some(a) = &scale.apply {
        let _ = writeln!(
            s,
            "\nApply: {} creates, parallelism {}",
            int(a.creates as u64),
            a.parallelism
        );
        let rows = vec![
            vec![
                "API calls (creates)".to_owned(),
                format!("{} ({})", int(a.calls), int(a.create_calls)),
            ],
            vec!["429 answers".to_owned(), int(a.rate_limited)],
            vec!["wall".to_owned(), ms(a.run.wall_ms)],
            vec![
                "rate-limit bound".to_owned(),
                format!(
                    "{} ({} API calls; latency part {})",
                    ms(a.bound.total_ms as f64),
                    int(a.bound_api_calls),
                    ms(a.bound.latency_ms as f64)
                ),
            ],
            vec!["wall / bound".to_owned(), ratio(a.wall_ratio)],
            vec![
                "gcrecon CPU, peak RSS".to_owned(),
                format!("{}, {}", ms(a.run.cpu_ms), mb(a.run.max_rss_kb as f64)),
            ],
        ];
        grid(s, &rows);
    }
    if let Some(c) = &scale.cpu {
        let _ = writeln!(
            s,
            "\nCPU and memory, {} resources ({} KiB manifest), min / median of {} runs",
            int(c.n as u64),
            c.manifest_bytes / 1024,
            c.validate.wall_ms.runs
        );
        let f = |x: &super::measure::Spread, unit: fn(f64) -> String| {
            format!("{} / {}", unit(x.min), unit(x.median))
        };
        // An in-process row: its wall, load and plan, peak RSS.
        let in_process = |label: String, ip: &InProcess| {
            vec![
                label,
                f(&ip.total_ms, ms),
                format!(
                    "user {} + sys {}; load {} + plan {} (medians)",
                    ms(ip.user_ms.median),
                    ms(ip.sys_ms.median),
                    ms(ip.load_ms.median),
                    ms(ip.plan_ms.median)
                ),
                f(&ip.vm_hwm_kb, mb),
            ]
        };
        let rows = vec![
            vec![
                String::new(),
                "wall".to_owned(),
                "CPU (user+sys)".to_owned(),
                "peak RSS".to_owned(),
            ],
            in_process(
                "in-process parse+validate+graph+plan, in-memory org".to_owned(),
                &c.in_process,
            ),
            in_process(
                format!(
                    "the same, {} resources (10 N; {} runs)",
                    int(c.n_large as u64),
                    c.in_process_large.total_ms.runs
                ),
                &c.in_process_large,
            ),
            in_process(
                format!(
                    "in-process, one for_each block of {} instances ({} runs)",
                    int(c.n as u64),
                    c.in_process_for_each.total_ms.runs
                ),
                &c.in_process_for_each,
            ),
            in_process(
                format!(
                    "the same, {} instances ({} runs)",
                    int(c.n_large as u64),
                    c.in_process_for_each_large.total_ms.runs
                ),
                &c.in_process_for_each_large,
            ),
            vec![
                "gcrecon validate (parse, validate, graph)".to_owned(),
                f(&c.validate.wall_ms, ms),
                f(&c.validate.cpu_ms, ms),
                f(&c.validate.max_rss_kb, mb),
            ],
            vec![
                "gcrecon plan, no-op, latency 0 (+ refresh, diff)".to_owned(),
                f(&c.noop_plan_latency0.wall_ms, ms),
                f(&c.noop_plan_latency0.cpu_ms, ms),
                f(&c.noop_plan_latency0.max_rss_kb, mb),
            ],
        ];
        grid(s, &rows);
        let i = &c.instructions;
        match (i.blocks, i.blocks_large, i.for_each, i.for_each_large) {
            (Some(b), Some(bl), Some(f), Some(fl)) => {
                let m = |n: u64| format!("{} M", int(n / 1_000_000));
                let _ = writeln!(
                    s,
                    "Instructions of the in-process figure's timed part (callgrind, one run each): {} resources {}, {} resources {}; for_each {} {}, {} {}",
                    int(c.n as u64),
                    m(b),
                    int(c.n_large as u64),
                    m(bl),
                    int(c.n as u64),
                    m(f),
                    int(c.n_large as u64),
                    m(fl)
                );
            }
            _ => {
                let why = i.not_counted.as_deref().unwrap_or("not reported");
                let _ = writeln!(s, "Instructions not counted: {why}");
            }
        }
    }
}

fn seeds_table(s: &mut String, seeds: &[SeedFigures], o: &Options) {
    let _ = writeln!(
        s,
        "\nSeed examples: no-op plan calls, fresh org / after populating {} unmanaged objects",
        int(o.seed_population)
    );
    let mut rows = vec![vec![
        "example".to_owned(),
        "fresh".to_owned(),
        "populated".to_owned(),
        "note".to_owned(),
    ]];
    for sd in seeds {
        let f = |p: &Option<super::seeds::SeedPlan>| {
            p.as_ref().map_or("—".to_owned(), |p| {
                format!("{}{}", p.calls, if p.no_op { "" } else { " (NOT no-op)" })
            })
        };
        rows.push(vec![
            sd.example.clone(),
            f(&sd.fresh),
            f(&sd.populated),
            sd.error
                .as_deref()
                .map(|e| e.lines().next().unwrap_or("").chars().take(90).collect())
                .unwrap_or_default(),
        ]);
    }
    if seeds.is_empty() {
        rows.push(vec!["(no examples/*/gcrecon.toml yet)".to_owned()]);
    }
    grid(s, &rows);
}

/// Left-aligned columns, two spaces apart.
fn grid(s: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|x| x.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
}

/// `12,345`
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let head = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..head].to_owned();
    for group in digits.as_bytes()[head..].chunks(3) {
        out.push(',');
        out.push_str(std::str::from_utf8(group).unwrap_or(""));
    }
    out
}

/// Milliseconds, in the unit that reads best.
pub fn ms(v: f64) -> String {
    if !v.is_finite() {
        "—".to_owned()
    } else if v < 10.0 {
        format!("{v:.1} ms")
    } else if v < 1_000.0 {
        format!("{v:.0} ms")
    } else if v < 120_000.0 {
        format!("{:.2} s", v / 1e3)
    } else {
        format!("{:.1} min", v / 60e3)
    }
}

/// Kilobytes as megabytes.
pub fn mb(kb: f64) -> String {
    if kb.is_finite() {
        format!("{:.1} MB", kb / 1000.0)
    } else {
        "—".to_owned()
    }
}

/// `1.08×`
pub fn ratio(r: f64) -> String {
    if !r.is_finite() {
        "—".to_owned()
    } else if r < 10.0 {
        format!("{r:.2}×")
    } else {
        format!("{}×", int(r.round() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1,000");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(ms(5.25), "5.2 ms");
        assert_eq!(ms(250.0), "250 ms");
        assert_eq!(ms(1_500.0), "1.50 s");
        assert_eq!(ms(1_980_000.0), "33.0 min");
        assert_eq!(ratio(1.084), "1.08×");
        assert_eq!(ratio(88.4), "88×");
        assert_eq!(mb(51_200.0), "51.2 MB");
    }

    #[test]
    fn nothing_measured_judges_nothing() {
        let t = targets(None, None);
        assert!(t.iter().all(|t| t.met.is_none()));
        assert_eq!(t.len(), 9);
    }

    #[test]
    fn grid_aligns_columns() {
        let mut s = String::new();
        grid(
            &mut s,
            &[
                vec!["a".into(), "bb".into()],
                vec!["ccc".into(), "d".into()],
            ],
        );
        assert_eq!(s, "  a    bb\n  ccc  d\n");
    }
}
