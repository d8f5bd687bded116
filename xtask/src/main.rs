//! `cargo xtask`: project automation.
//!
//! - `cargo xtask demo`: build, start gcsim, plan an example and apply the
//!   saved plan, show a clean re-plan, real drift made through gcsim and its
//!   repair, the outputs, stop gcsim.
//! - `cargo xtask bench [--quick]`: API calls, time and memory against
//!   their lower bounds and a per-object baseline (see `bench.rs`).
//! - `cargo xtask tidy`: repository checks (also run by the test suite).
//! - `cargo xtask reliability` / `cargo xtask fuzz [--inputs N]`: crash,
//!   fault, lock, bad-state and secret checks; manifest fuzzing (see
//!   `docs/reliability.md`).
//! - `GCRECON_LIVE=1 cargo xtask live`: validate, plan, apply, re-plan,
//!   drift and destroy of a small sandbox in a real organization, each step
//!   checked through the API (see `docs/live.md`).
//! - `cargo xtask codegen [--check]`: regenerate (or check) generated files.
//! - `cargo xtask man [--out DIR]`: the man pages, generated from the CLI's
//!   own definition (clap_mangen, through the hidden `gcrecon man`).

mod bench;
mod demo;
mod fuzz;
mod fuzz_files;
mod live;
mod reliability;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context, Result};

const USAGE: &str =
    "usage: cargo xtask <demo | bench | tidy | reliability | fuzz | live | codegen [--check] | man [--out DIR]>

  demo      build gcrecon and gcsim, start gcsim with the eMite fixture, then run
            validate, plan --out, apply of that plan, a clean re-plan, a change behind
            gcrecon's back (drift exits 2, apply repairs it, drift is clean) and output
  bench     measure API calls, wall time, CPU and memory of gcrecon against their
            lower bounds and a per-object baseline (--quick: tiny sizes; --help)
  tidy      check the repository: no todo!/unimplemented!, every crate documented,
            every docs page that architecture.md links exists, no path outside it
  reliability  kill apply after every mutating call, faults, locks, bad state, secrets
  fuzz      mutated manifests into the core parser (--inputs N, default 1,000,000), then
            damaged state, saved-plan and secrets files (--file-inputs N per format, default 100,000)
  live      with GCRECON_LIVE=1: create a small gcrecon-live-* sandbox in the organization
            of the GENESYSCLOUD_* variables, check every step through the API, destroy it
  codegen   regenerate docs/manifest.schema.json (--check: fail if out of date)
  man       build gcrecon and write its man pages (gcrecon.1, gcrecon-<command>.1) into
            DIR (default: `man/` in the target directory); view with `man -l DIR/gcrecon.1`";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("bench") => bench::run(&project_root(), &args[1..]),
        Some("demo") => demo::run(&project_root()),
        Some("tidy") => tidy::run(&project_root()),
        Some("fuzz") => fuzz::run(&project_root(), &args[1..]).map_err(anyhow::Error::msg),
        Some("reliability") => {
            reliability::run(&project_root(), &args[1..]).map_err(anyhow::Error::msg)
        }
        Some("live") => live::run(&project_root(), &args[1..]),
        Some("codegen") => codegen(&project_root(), args.iter().any(|a| a == "--check")),
        Some("man") => man(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Run a command, failing with its command line when it does not succeed.
pub fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// `cargo xtask man [--out DIR]`: build gcrecon and let it write its man
/// pages (`gcrecon man --out DIR`), so they always match the flags.
fn man(args: &[String]) -> Result<()> {
    let gcrecon = test_support::bin_path("gcrecon");
    let out = match args {
        [] => gcrecon
            .parent()
            .and_then(Path::parent)
            .context("the gcrecon binary is not in a target directory")?
            .join("man"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask man [--out DIR]"),
    };
    run_checked(Command::new(gcrecon).arg("man").arg("--out").arg(&out))
}

/// The manifest JSON Schema is generated by gcrecon-core's schema test;
/// `codegen` runs that test in write mode, `--check` in compare mode.
fn codegen(root: &Path, check: bool) -> Result<()> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root).args([
        "test",
        "-q",
        "-p",
        "gcrecon-core",
        "--lib",
        "schema_file_is_up_to_date",
    ]);
    if !check {
        cmd.env("UPDATE_SCHEMA", "1");
    }
    run_checked(&mut cmd)
}
