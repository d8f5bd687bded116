//! `cargo xtask demo [EXAMPLE]`: the whole gcrecon loop against a local gcsim.
//!
//! Builds the binaries (showing cargo's progress, finding them where cargo
//! says it put them, so `CARGO_TARGET_DIR` and `build.target-dir` work),
//! starts gcsim with the example's fixture, then runs the real `gcrecon`
//! commands one after another and shows what each printed: validate, plan
//! (saved), apply of that plan, a clean re-plan, then real drift: one
//! object is changed behind gcrecon's back through gcsim, `gcrecon drift`
//! reports it and exits 2, `gcrecon apply` repairs it and drift is clean
//! again; last the outputs. Nothing is faked: every line comes from a real
//! run. gcsim is stopped at the end, also when a step fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Kills the simulator when the demo ends, however it ends.
struct SimGuard(Child);

impl Drop for SimGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(root: &Path) -> Result<()> {
    let example = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "emite".to_owned());
    let example_dir = root.join("examples").join(&example);
    if !example_dir.join("gcrecon.toml").exists() {
        bail!(
            "no example `{example}` (looked for {})",
            example_dir.join("gcrecon.toml").display()
        );
    }

    step("Building gcrecon and gcsim (a fresh clone takes a few minutes)");
    let (gcsim, gcrecon) = build(root)?;
    let work = std::env::temp_dir().join(format!("gcrecon-demo-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let state = work.join("demo.gcstate.json");
    let secrets = work.join("demo.secrets.json");

    step("Starting gcsim");
    let mut sim = Command::new(&gcsim);
    sim.arg("serve").args(["--port", "0"]);
    let fixture = example_dir.join("gcsim").join("fixture.toml");
    if fixture.exists() {
        sim.arg("--fixture").arg(&fixture);
    }
    let mut child = sim
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", gcsim.display()))?;
    let stdout = child.stdout.take().context("gcsim has no stdout")?;
    let guard = SimGuard(child);
    let mut lines = BufReader::new(stdout).lines();
    let listening = lines.next().context("gcsim exited before it listened")??;
    let url = listening
        .strip_prefix("gcsim listening on ")
        .with_context(|| format!("unexpected first line from gcsim: {listening}"))?
        .to_owned();
    let admin = lines.next().context("gcsim printed no admin client")??;
    let (client_id, client_secret) = parse_admin_line(&admin)?;
    println!("{listening}");

    let manifest = example_dir.join("gcrecon.toml");
    let vars = example_vars(&example_dir.join("gcsim").join("vars.env"))?;
    // gcsim serves any region from one base URL; the region the fixture's org
    // lives in is given as GENESYSCLOUD_REGION, as for a real org.
    let region = fixture_region(&fixture)?;
    let gcrecon_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&gcrecon);
        cmd.envs(vars.iter().map(|(k, v)| (k, v)));
        cmd.args(args)
            .arg("-m")
            .arg(&manifest)
            .arg("--state")
            .arg(&state)
            .env("GENESYSCLOUD_API_REGION", &url)
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", &client_id)
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", &client_secret)
            .env_remove("GENESYSCLOUD_ACCESS_TOKEN")
            .env_remove("GENESYSCLOUD_REGION");
        if let Some(region) = &region {
            cmd.env("GENESYSCLOUD_REGION", region);
        }
        cmd
    };

    step(&format!("gcrecon validate -m examples/{example}"));
    expect_code(&mut gcrecon_cmd(&["validate"]), &[0])?;
    let plan_file = work.join("demo.plan.json");
    let plan_arg = plan_file.display().to_string();
    step(&format!(
        "gcrecon plan -m examples/{example} --out demo.plan.json"
    ));
    expect_code(&mut gcrecon_cmd(&["plan", "--out", &plan_arg]), &[0])?;
    step("gcrecon apply demo.plan.json   (exactly the plan above)");
    let secrets_arg = secrets.display().to_string();
    expect_code(
        &mut gcrecon_cmd(&["apply", &plan_arg, "--secrets-out", &secrets_arg]),
        &[0],
    )?;
    step("gcrecon plan --detailed-exitcode   (a clean re-plan: exit 0, no changes)");
    expect_code(&mut gcrecon_cmd(&["plan", "--detailed-exitcode"]), &[0])?;
    step("gcrecon drift   (exit 0: the organization matches)");
    expect_code(&mut gcrecon_cmd(&["drift"]), &[0])?;

    let (what, op) = change_behind_the_back(&state)?;
    step(&format!(
        "Someone {what} in the organization (through gcsim's /_sim/mutate)"
    ));
    mutate(&url, &op)?;
    step("gcrecon drift   (exit 2: drift found)");
    expect_code(&mut gcrecon_cmd(&["drift"]), &[2])?;
    step("gcrecon apply --auto-approve   (puts it back)");
    expect_code(
        &mut gcrecon_cmd(&["apply", "--auto-approve", "--secrets-out", &secrets_arg]),
        &[0],
    )?;
    step("gcrecon drift   (exit 0: clean again)");
    expect_code(&mut gcrecon_cmd(&["drift"]), &[0])?;

    step("gcrecon output");
    let mut output = Command::new(&gcrecon);
    output
        .args(["output", "--state"])
        .arg(&state)
        .arg("-m")
        .arg(&manifest);
    expect_code(&mut output, &[0])?;

    drop(guard);
    std::fs::remove_dir_all(&work).ok();
    step("Demo finished; gcsim stopped");
    Ok(())
}

/// Build gcsim and gcrecon with cargo's progress on the terminal, and
/// return their paths as cargo reports them (whatever the target
/// directory).
fn build(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let mut child = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "-p",
            "gcsim",
            "-p",
            "gcrecon-cli",
            "--bins",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot run cargo build")?;
    let stdout = child.stdout.take().context("cargo build has no stdout")?;
    let mut gcsim = None;
    let mut gcrecon = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if let Some((name, path)) = built_executable(&line) {
            match name.as_str() {
                "gcsim" => gcsim = Some(path),
                "gcrecon" => gcrecon = Some(path),
                _ => {}
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build failed with {status}");
    }
    match (gcsim, gcrecon) {
        (Some(s), Some(r)) => Ok((s, r)),
        _ => bail!("cargo build did not report the gcsim and gcrecon executables"),
    }
}

/// The binary name and executable path of one `compiler-artifact` message
/// of `cargo build --message-format=json`.
fn built_executable(line: &str) -> Option<(String, PathBuf)> {
    let msg: Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" {
        return None;
    }
    let path = msg["executable"].as_str()?;
    let name = msg["target"]["name"].as_str()?;
    Some((name.to_owned(), PathBuf::from(path)))
}

/// A change to make behind gcrecon's back, from what the state holds:
/// disable an integration (its `enabled` defaults to true), else take a
/// permission away from a role. Returns what it does, in words, and the
/// `/_sim/mutate` operation.
fn change_behind_the_back(state: &Path) -> Result<(String, Value)> {
    let text = std::fs::read_to_string(state)
        .with_context(|| format!("cannot read {}", state.display()))?;
    let state: Value = serde_json::from_str(&text)?;
    let resources = state["resources"].as_array().cloned().unwrap_or_default();
    if let Some(r) = resources.iter().find(|r| r["kind"] == "integration") {
        return Ok((
            format!(
                "disables the integration {}",
                r["address"].as_str().unwrap_or("?")
            ),
            json!({"kind": "integration", "id": r["id"], "set": {"intendedState": "DISABLED"}}),
        ));
    }
    for r in resources.iter().filter(|r| r["kind"] == "role") {
        if let Some(p) = r["applied"]["permissions"].get(0).and_then(Value::as_str) {
            return Ok((
                format!(
                    "takes `{p}` away from the role {}",
                    r["address"].as_str().unwrap_or("?")
                ),
                json!({"kind": "role", "id": r["id"], "remove_permissions": [p]}),
            ));
        }
    }
    bail!("the example manages no integration and no role to change behind its back")
}

/// `POST /_sim/mutate`.
fn mutate(url: &str, op: &Value) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let resp = reqwest::Client::new()
            .post(format!("{url}/_sim/mutate"))
            .json(op)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            bail!("gcsim refused the change: {status} {}", resp.text().await?);
        }
        Ok(())
    })
}

/// `NAME=VALUE` lines of the example's `gcsim/vars.env` (test values of
/// required variables), if the example has one.
fn example_vars(path: &Path) -> Result<Vec<(String, String)>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// The `[org] region` of a gcsim fixture, if the example has a fixture that names one.
fn fixture_region(fixture: &Path) -> Result<Option<String>> {
    if !fixture.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(fixture)
        .with_context(|| format!("cannot read {}", fixture.display()))?;
    let doc: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", fixture.display()))?;
    Ok(doc
        .get("org")
        .and_then(|org| org.get("region"))
        .and_then(|r| r.as_str())
        .map(str::to_owned))
}

fn step(title: &str) {
    println!("\n=== {title}");
}

fn expect_code(cmd: &mut Command, codes: &[i32]) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    match status.code() {
        Some(code) if codes.contains(&code) => Ok(()),
        _ => bail!("`{}` ended with {status}", describe(cmd)),
    }
}

fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    format!("gcrecon {}", args.join(" "))
}

/// `gcsim admin client_id=ID client_secret=SECRET`
fn parse_admin_line(line: &str) -> Result<(String, String)> {
    let mut id = None;
    let mut secret = None;
    for word in line.split_whitespace() {
        if let Some(v) = word.strip_prefix("client_id=") {
            id = Some(v.to_owned());
        } else if let Some(v) = word.strip_prefix("client_secret=") {
            secret = Some(v.to_owned());
        }
    }
    match (id, secret) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => bail!("gcsim's second line does not name the admin client"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_line_is_parsed() {
        let (id, secret) = parse_admin_line("gcsim admin client_id=abc client_secret=s3").unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("abc", "s3"));
        assert!(parse_admin_line("gcsim admin").is_err());
    }

    #[test]
    fn executables_are_taken_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"gcsim","kind":["bin"]},"executable":"/t/debug/gcsim","fresh":true}"#;
        assert_eq!(
            built_executable(line),
            Some(("gcsim".to_owned(), PathBuf::from("/t/debug/gcsim")))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"gcsim","kind":["lib"]},"executable":null}"#;
        assert_eq!(built_executable(lib), None);
        assert_eq!(built_executable("Compiling x"), None);
    }
}
