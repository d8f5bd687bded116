//! The fleet phase: `gcrecon fleet drift` over many organizations, each its
//! own gcsim process with its own fixture, at several `--parallelism`
//! values: wall time, CPU, peak memory of the one gcrecon process, and the
//! API calls each organization answered (its `/_sim/stats`).
//!
//! The organizations differ: org `i` holds `i % 5` unmanaged roles and
//! `i % 3` unmanaged groups from its fixture; every fourth has a managed
//! role renamed behind gcrecon's back, every seventh a managed group
//! deleted. Each is applied once (as workspace `org-NN`, at latency 0, not
//! measured); then the fleet drift runs at the measured latency and rate
//! limit, and its summary must name exactly the organizations given drift
//! (the unmanaged ones count too) and no failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;
use serde_json::{json, Value};

use super::gcrecon::{Gcrecon, RunFigures};
use super::measure::{measured, Run, Spread};
use super::sim::{Credentials, Sim, SimOptions};
use super::Ctx;

/// Managed roles and groups per organization.
const ROLES: usize = 6;
const GROUPS: usize = 4;

/// What the fleet phase measured.
#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub orgs: usize,
    /// Managed objects per organization.
    pub managed_per_org: usize,
    /// Organizations the set-up gave drift (changed, missing or unmanaged objects).
    pub orgs_with_drift: usize,
    pub runs: Vec<FleetRun>,
}

/// One `gcrecon fleet drift` run.
#[derive(Debug, Serialize)]
pub struct FleetRun {
    pub parallelism: usize,
    pub run: RunFigures,
    /// API calls each organization answered (login included): spread over
    /// the organizations, and the total.
    pub calls_per_org: Spread,
    pub calls_total: u64,
    /// Requests answered 429 over all organizations.
    pub rate_limited: u64,
    /// Wall time of each workspace inside the run (`elapsed_ms` of its row).
    pub workspace_ms: Spread,
    /// Calls by route summed over all organizations.
    pub by_route: BTreeMap<String, u64>,
}

/// The manifest every organization is applied with.
fn manifest() -> String {
    let mut m = String::from(
        "[gcrecon]\nversion = 1\nname = \"fleet\"\n\n[variables.team]\ndescription = \"The organization's team name\"\n",
    );
    for r in 0..ROLES {
        let _ = write!(
            m,
            "\n[role.r{r}]\nname = \"${{var.team}} role {r}\"\npermissions = [\"routing:queue:view\"]\n"
        );
    }
    for g in 0..GROUPS {
        let _ = write!(m, "\n[group.g{g}]\nname = \"${{var.team}} group {g}\"\n");
    }
    m
}

fn workspace(i: usize) -> String {
    format!("org-{i:02}")
}

fn team(i: usize) -> String {
    format!("T{i:02}")
}

/// Org `i`'s fixture: its own name and client, `i % 5` unmanaged roles and
/// `i % 3` unmanaged groups.
fn fixture(i: usize) -> String {
    let mut f = format!(
        "[org]\nname = \"Org {i:02}\"\nshort_name = \"org{i:02}\"\nregion = \"eu-central-1\"\n\n[[users]]\nemail = \"admin@org{i:02}.example\"\nname = \"Ada Admin\"\ndivision = \"Home\"\nroles = [\"admin\"]\n\n[[oauth_clients]]\nname = \"gcrecon-ci\"\nclient_id = \"org{i:02}-client\"\nclient_secret = \"org{i:02}-secret\"\nroles = [\"admin\"]\n"
    );
    for r in 0..i % 5 {
        let _ = write!(
            f,
            "\n[[roles]]\nname = \"Legacy {r}\"\npermissions = [\"routing:queue:view\"]\n"
        );
    }
    for g in 0..i % 3 {
        let _ = write!(
            f,
            "\n[[groups]]\nname = \"Old group {g}\"\nmembers = [\"admin@org{i:02}.example\"]\n"
        );
    }
    f
}

/// The changes made behind gcrecon's back in org `i`.
fn mutations(i: usize) -> Vec<Value> {
    let mut ops = Vec::new();
    if i.is_multiple_of(4) {
        ops.push(json!({"kind": "role", "name": format!("{} role 0", team(i)), "set": {"name": format!("{} renamed", team(i))}}));
    }
    if i.is_multiple_of(7) {
        ops.push(json!({"kind": "group", "name": format!("{} group 0", team(i)), "delete": true}));
    }
    ops
}

fn has_drift(i: usize) -> bool {
    !mutations(i).is_empty() || !i.is_multiple_of(5) || !i.is_multiple_of(3)
}

/// The environment variable names of org `i`'s credentials.
fn env_names(i: usize) -> (String, String) {
    (format!("ORG{i:02}_ID"), format!("ORG{i:02}_SECRET"))
}

/// Run the phase.
pub async fn run(ctx: &Ctx<'_>) -> Result<FleetReport> {
    let n = ctx.opts.fleet_orgs;
    let dir = ctx.work.join("fleet");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let manifest_path = dir.join("gcrecon.toml");
    std::fs::write(&manifest_path, manifest())?;
    ctx.step(&format!(
        "fleet: starting {n} gcsim organizations and applying the manifest to each"
    ));
    let mut sims = Vec::with_capacity(n);
    for i in 0..n {
        let fixture_path = dir.join(format!("fixture-{i:02}.toml"));
        std::fs::write(&fixture_path, fixture(i))?;
        let sim = Sim::start(
            &ctx.bins.gcsim,
            &SimOptions {
                latency_ms: 0,
                rate_limit: ctx.opts.rate_limit,
                fixture: Some(&fixture_path),
                log: &logs.join(format!("gcsim-{i:02}.log")),
            },
        )?;
        let creds = Credentials {
            client_id: format!("org{i:02}-client"),
            client_secret: format!("org{i:02}-secret"),
        };
        let gc = Gcrecon {
            bin: &ctx.bins.gcrecon,
            measurer: &ctx.bins.measurer,
            url: sim.url.clone(),
            creds,
            logs: logs.clone(),
            env: vec![("GCRECON_VAR_team".to_owned(), team(i))],
        };
        let state = dir
            .join("state")
            .join(format!("fleet.{}.gcstate.json", workspace(i)));
        gc.apply(&format!("apply-{i:02}"), &manifest_path, &state, 10)?;
        for op in mutations(i) {
            sim.mutate(&op).await?;
        }
        sims.push(sim);
    }
    let fleet_path = dir.join("fleet.toml");
    let mut fleet = String::from("manifest = \"gcrecon.toml\"\n");
    let mut env = vec![("NO_COLOR".to_owned(), "1".to_owned())];
    for (i, sim) in sims.iter().enumerate() {
        let (id_var, secret_var) = env_names(i);
        let _ = write!(
            fleet,
            "\n[workspace.{}]\napi_url = \"{}\"\nclient_id_env = \"{id_var}\"\nclient_secret_env = \"{secret_var}\"\nvars = {{ team = \"{}\" }}\n",
            workspace(i),
            sim.url,
            team(i)
        );
        env.push((id_var, format!("org{i:02}-client")));
        env.push((secret_var, format!("org{i:02}-secret")));
    }
    std::fs::write(&fleet_path, fleet)?;
    let expected: Vec<String> = (0..n).filter(|i| has_drift(*i)).map(workspace).collect();

    let mut runs = Vec::new();
    for &parallelism in &ctx.opts.fleet_parallelism {
        for sim in &sims {
            sim.set_limits(ctx.opts.latency_ms, ctx.opts.rate_limit)
                .await?;
            sim.reset_stats().await?;
        }
        ctx.step(&format!(
            "fleet: gcrecon fleet drift over {n} organizations, --parallelism {parallelism}"
        ));
        let p = parallelism.to_string();
        let outcome = measured(
            &ctx.bins.measurer,
            &Run {
                program: &ctx.bins.gcrecon,
                args: [
                    "fleet",
                    "drift",
                    "-f",
                    &fleet_path.display().to_string(),
                    "--format",
                    "json",
                    "--parallelism",
                    &p,
                ]
                .map(str::to_owned)
                .to_vec(),
                env: env.clone(),
                capture: logs.join(format!("fleet-drift-p{parallelism}")),
            },
        )?;
        if outcome.usage.code != 2 {
            bail!(
                "gcrecon fleet drift exited {} (expected 2: drift in some organizations):\n{}",
                outcome.usage.code,
                outcome.stderr_tail()
            );
        }
        let summary: Value = serde_json::from_str(&outcome.stdout)
            .context("gcrecon fleet drift --format json printed no JSON")?;
        check_summary(&summary, &expected, n)?;
        let mut calls = Vec::with_capacity(n);
        let mut by_route: BTreeMap<String, u64> = BTreeMap::new();
        let mut rate_limited = 0;
        for sim in &sims {
            let stats = sim.stats().await?;
            calls.push(stats.total as f64);
            rate_limited += stats.rate_limited;
            for (route, count) in stats.by_route {
                *by_route.entry(route).or_default() += count;
            }
        }
        let workspace_ms: Vec<f64> = summary["workspaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["elapsed_ms"].as_f64())
            .collect();
        runs.push(FleetRun {
            parallelism,
            run: RunFigures::from(&outcome.usage),
            calls_total: calls.iter().sum::<f64>() as u64,
            calls_per_org: Spread::of(&calls),
            rate_limited,
            workspace_ms: Spread::of(&workspace_ms),
            by_route,
        });
    }
    Ok(FleetReport {
        orgs: n,
        managed_per_org: ROLES + GROUPS,
        orgs_with_drift: expected.len(),
        runs,
    })
}

/// The summary names exactly the organizations with drift, every org by
/// its own name, and no failure.
fn check_summary(summary: &Value, expected: &[String], n: usize) -> Result<()> {
    let rows = summary["workspaces"]
        .as_array()
        .context("the fleet summary has no workspaces")?;
    if rows.len() != n {
        bail!(
            "the fleet summary has {} rows for {n} organizations",
            rows.len()
        );
    }
    let mut drifted = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let ws = row["workspace"].as_str().unwrap_or("?");
        match row["status"].as_str() {
            Some("drift") => drifted.push(ws.to_owned()),
            Some("clean") => {}
            _ => bail!("workspace {ws} failed: {}", row["error"]),
        }
        let org = row["org"]["name"].as_str().unwrap_or("");
        if ws != workspace(i) || org != format!("Org {i:02}") {
            bail!(
                "row {i} is {ws} for org `{org}`, expected {} for Org {i:02}",
                workspace(i)
            );
        }
    }
    if drifted != expected {
        bail!("the fleet reported drift in {drifted:?}, the set-up made it in {expected:?}");
    }
    Ok(())
}

/// The fleet section of the bench's table.
pub fn table(s: &mut String, r: &FleetReport, latency_ms: u64, rate_limit: u64) {
    let _ = writeln!(
        s,
        "\nFleet drift: {} organizations (one gcsim each, {} ms latency, {rate_limit}/min per token), {} managed objects each, {} with drift",
        r.orgs, latency_ms, r.managed_per_org, r.orgs_with_drift
    );
    let _ = writeln!(
        s,
        "  {:>11}  {:>9}  {:>8}  {:>9}  {:>22}  {:>11}  {:>5}",
        "parallelism",
        "wall s",
        "CPU s",
        "peak MiB",
        "calls/org min/med/max",
        "calls total",
        "429s"
    );
    for run in &r.runs {
        let c = &run.calls_per_org;
        let _ = writeln!(
            s,
            "  {:>11}  {:>9.2}  {:>8.2}  {:>9.1}  {:>22}  {:>11}  {:>5}",
            run.parallelism,
            run.run.wall_ms / 1e3,
            run.run.cpu_ms / 1e3,
            run.run.max_rss_kb as f64 / 1024.0,
            format!("{:.0} / {:.0} / {:.0}", c.min, c.median, c.max),
            run.calls_total,
            run.rate_limited
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizations_differ_and_drift_is_predicted() {
        assert_eq!(
            mutations(0).len(),
            2,
            "org 0: a renamed role and a deleted group"
        );
        // Org 15: no unmanaged objects (15 % 5 == 0, 15 % 3 == 0), no mutation.
        assert!(!has_drift(15));
        assert!(has_drift(1));
        assert!(has_drift(4), "a renamed role");
        assert_ne!(fixture(1), fixture(2));
        assert!(manifest().contains("[group.g3]"));
    }
}
