//! Measuring one run of a program: wall time, CPU time and peak resident
//! memory, exactly.
//!
//! The kernel keeps a child's peak RSS and CPU time until its parent reaps
//! it, and `getrusage(RUSAGE_CHILDREN)` then reports them. To get them for
//! one program alone, the bench starts a small measuring process (the
//! release `xtask` binary, `xtask bench __measure --out FILE -- PROGRAM
//! ARGS...`) whose only child is that program; the measurer waits for it,
//! reads its own children's usage and writes it to FILE as JSON. The wall
//! time is taken around spawn and wait inside the measurer, so it includes
//! the program's process start and exit, as a user waiting for it sees.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use nix::sys::resource::{getrusage, UsageWho};
use serde::{Deserialize, Serialize};

/// A `getrusage` time in milliseconds.
pub fn timeval_ms(tv: nix::sys::time::TimeVal) -> f64 {
    tv.tv_sec() as f64 * 1e3 + tv.tv_usec() as f64 / 1e3
}

/// One measured run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Usage {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    pub wall_ms: f64,
    /// User plus system CPU time.
    pub cpu_ms: f64,
    pub max_rss_kb: u64,
}

/// The measurer's entry point: `__measure --out FILE -- PROGRAM ARGS...`.
pub fn measurer_main(args: &[String]) -> Result<()> {
    let mut out = None;
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--out" => out = rest.next().map(PathBuf::from),
            "--" => break,
            other => bail!("__measure: unexpected argument {other}"),
        }
    }
    let out = out.context("__measure needs --out FILE")?;
    let mut program = rest;
    let bin = program.next().context("__measure needs a program")?;
    let started = Instant::now();
    let status = Command::new(bin)
        .args(program)
        .status()
        .with_context(|| format!("cannot start {bin}"))?;
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let result = Usage {
        code: status.code().unwrap_or(-1),
        wall_ms: wall.as_secs_f64() * 1e3,
        cpu_ms: timeval_ms(usage.user_time()) + timeval_ms(usage.system_time()),
        // Linux reports ru_maxrss in kilobytes.
        max_rss_kb: usage.max_rss().max(0) as u64,
    };
    std::fs::write(&out, serde_json::to_vec(&result)?)?;
    Ok(())
}

/// A program to run under the measurer.
pub struct Run<'a> {
    pub program: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Where its stdout and stderr go (`NAME.stdout`, `NAME.stderr`).
    pub capture: PathBuf,
}

/// What a measured run left behind.
pub struct Outcome {
    pub usage: Usage,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// The last lines of stderr, to quote in an error.
    pub fn stderr_tail(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// Run `run` under the measurer binary `measurer`.
pub fn measured(measurer: &Path, run: &Run<'_>) -> Result<Outcome> {
    let out_json = run.capture.with_extension("usage.json");
    let stdout_path = run.capture.with_extension("stdout");
    let stderr_path = run.capture.with_extension("stderr");
    let mut cmd = Command::new(measurer);
    cmd.args(["bench", "__measure", "--out"])
        .arg(&out_json)
        .arg("--")
        .arg(run.program)
        .args(&run.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&stdout_path)?))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path)?));
    // Only the credentials the bench hands over, never ones from the shell.
    cmd.env_remove("GENESYSCLOUD_ACCESS_TOKEN")
        .env_remove("GENESYSCLOUD_REGION");
    for (k, v) in &run.env {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot start the measurer {}", measurer.display()))?;
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    if !status.success() {
        bail!("the measurer failed ({status}): {stderr}");
    }
    let usage: Usage = serde_json::from_slice(&std::fs::read(&out_json)?)
        .context("the measurer wrote no usage")?;
    Ok(Outcome {
        usage,
        stdout: std::fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr,
    })
}

/// Minimum and median of some figures.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub runs: usize,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Spread {
            min: v.first().copied().unwrap_or(f64::NAN),
            median,
            max: v.last().copied().unwrap_or(f64::NAN),
            runs: n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_min_and_median() {
        let s = Spread::of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.min, s.median, s.max, s.runs), (1.0, 3.0, 5.0, 3));
        assert_eq!(Spread::of(&[4.0, 2.0]).median, 3.0);
    }
}
