//! The seed systems: API calls of a no-op plan of each
//! `examples/*/gcrecon.toml` (with its `fixture.toml`), in a fresh org and
//! again after `/_sim/populate` has added many unmanaged objects. A plan
//! that lists every object of a kind pays for the unmanaged ones too; one
//! that asks only for what it manages does not.
//!
//! Calls do not depend on latency, so these run at latency 0 (at the
//! measured rate limit). Each example runs in its own org, seeded with its
//! fixture (`examples/<vendor>/gcsim/fixture.toml`), with the test values of
//! its required variables (`gcsim/vars.env`), and is applied once before its
//! plans are counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use super::gcrecon::{Gcrecon, RunFigures};
use super::sim::{Sim, SimOptions};
use super::Ctx;

#[derive(Debug, Serialize)]
pub struct SeedFigures {
    pub example: String,
    pub fresh: Option<SeedPlan>,
    pub populated: Option<SeedPlan>,
    /// What stopped the measurement, if anything did.
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SeedPlan {
    pub calls: u64,
    pub no_op: bool,
    pub run: RunFigures,
    pub by_route: BTreeMap<String, u64>,
}

/// The unmanaged objects added before the second plan: `total` split
/// 40% roles, 20% each groups, OAuth clients and integrations.
pub fn population(total: u64) -> serde_json::Value {
    let fifth = total / 5;
    json!({
        "roles": total - 3 * fifth,
        "groups": fifth,
        "oauth_clients": fifth,
        "integrations": fifth,
    })
}

/// The example's test values for its required variables:
/// `gcsim/vars.env` (`NAME=VALUE` lines, `#` comments, values optionally
/// double-quoted), handed to gcrecon as environment.
pub fn vars_env(dir: &Path) -> Result<Vec<(String, String)>> {
    let path = dir.join("gcsim").join("vars.env");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    Ok(parse_env(&std::fs::read_to_string(path)?))
}

/// `region` of the fixture's `[org]` table.
fn fixture_region(fixture: &Path) -> Option<String> {
    let text = std::fs::read_to_string(fixture).ok()?;
    let mut in_org = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_org = line == "[org]";
        } else if in_org {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "region" {
                    let v = v.split('#').next().unwrap_or("").trim();
                    return Some(v.trim_matches('"').to_owned());
                }
            }
        }
    }
    None
}

fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_owned(), v.to_owned())
        })
        .collect()
}

/// Every example directory with a manifest, sorted.
pub fn examples(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let dir = root.join("examples");
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.join("gcrecon.toml").is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub async fn run(ctx: &Ctx<'_>) -> Result<Vec<SeedFigures>> {
    let mut out = Vec::new();
    for dir in examples(ctx.root)? {
        let example = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ctx.step(&format!("seed example `{example}`: no-op plan calls"));
        let mut fig = SeedFigures {
            example: example.clone(),
            fresh: None,
            populated: None,
            error: None,
        };
        if let Err(e) = one(ctx, &dir, &example, &mut fig).await {
            eprintln!("bench: example `{example}`: {e:#}");
            fig.error = Some(format!("{e:#}"));
        }
        out.push(fig);
    }
    Ok(out)
}

async fn one(ctx: &Ctx<'_>, dir: &Path, example: &str, fig: &mut SeedFigures) -> Result<()> {
    let work = ctx.work.join("seeds").join(example);
    std::fs::create_dir_all(&work)?;
    let fixture = ["gcsim/fixture.toml", "fixture.toml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.is_file());
    let sim = Sim::start(
        &ctx.bins.gcsim,
        &SimOptions {
            latency_ms: 0,
            rate_limit: ctx.opts.rate_limit,
            fixture: fixture.as_deref(),
            log: &work.join("gcsim.log"),
        },
    )?;
    let gc = Gcrecon {
        bin: &ctx.bins.gcrecon,
        measurer: &ctx.bins.measurer,
        url: sim.url.clone(),
        creds: sim.admin.clone(),
        logs: work.clone(),
        env: {
            let mut env = vars_env(dir)?;
            // gcsim serves any region from one base URL; the region the
            // fixture's org lives in is given as for a real org.
            if let Some(region) = fixture.as_deref().and_then(fixture_region) {
                env.push(("GENESYSCLOUD_REGION".to_owned(), region));
            }
            env
        },
    };
    let manifest = dir.join("gcrecon.toml");
    let state = work.join(format!("{example}.gcstate.json"));
    gc.apply("apply", &manifest, &state, ctx.opts.parallelism)?;

    sim.reset_stats().await?;
    let plan = gc.plan("plan-fresh", &manifest, &state)?;
    let stats = sim.stats().await?;
    fig.fresh = Some(SeedPlan {
        calls: stats.total,
        no_op: plan.is_noop(),
        run: RunFigures::from(plan.run.usage()),
        by_route: stats.by_route,
    });

    sim.populate(&population(ctx.opts.seed_population)).await?;
    sim.reset_stats().await?;
    let plan = gc.plan("plan-populated", &manifest, &state)?;
    let stats = sim.stats().await?;
    fig.populated = Some(SeedPlan {
        calls: stats.total,
        no_op: plan.is_noop(),
        run: RunFigures::from(plan.run.usage()),
        by_route: stats.by_route,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_env_lines_are_parsed() {
        let v = parse_env("# c\nA=1\n\nB=\"x y\"\nexport C=z\n");
        assert_eq!(
            v,
            [
                ("A".into(), "1".into()),
                ("B".into(), "x y".into()),
                ("C".into(), "z".into())
            ]
        );
    }

    #[test]
    fn fixture_region_is_read() {
        let dir = std::env::temp_dir().join(format!("bench-seeds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("fixture.toml");
        std::fs::write(&f, "# x\n[org]\nname = \"A\"\nregion = \"ap-southeast-2\"  # Sydney\n[[users]]\nregion = \"no\"\n").unwrap();
        let r = fixture_region(&f);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(r.as_deref(), Some("ap-southeast-2"));
    }

    #[test]
    fn population_adds_up() {
        let p = population(10_000);
        let sum: u64 = ["roles", "groups", "oauth_clients", "integrations"]
            .iter()
            .map(|k| p[*k].as_u64().unwrap())
            .sum();
        assert_eq!(sum, 10_000);
        assert_eq!(p["roles"], 4_000);
    }
}
