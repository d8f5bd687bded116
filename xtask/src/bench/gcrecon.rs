//! Running the real `gcrecon` binary against a simulator, under the
//! measurer, as a CI pipeline would: credentials and the API URL in the
//! environment, the manifest and state as paths.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Serialize;
use serde_json::Value;

use super::measure::{measured, Outcome, Run, Usage};
use super::sim::Credentials;

/// How to run gcrecon against one org.
pub struct Gcrecon<'a> {
    pub bin: &'a Path,
    pub measurer: &'a Path,
    pub url: String,
    pub creds: Credentials,
    /// Where captured output goes.
    pub logs: PathBuf,
    /// More environment (`GCRECON_VAR_*` values of a manifest's variables).
    pub env: Vec<(String, String)>,
}

/// A finished gcrecon run, with its measurements.
pub struct GcRun {
    pub outcome: Outcome,
}

impl GcRun {
    pub fn usage(&self) -> &Usage {
        &self.outcome.usage
    }

    /// Fail unless the exit code is one of `codes`, quoting stderr.
    pub fn expect(self, what: &str, codes: &[i32]) -> Result<GcRun> {
        let code = self.outcome.usage.code;
        if !codes.contains(&code) {
            bail!(
                "{what} exited with {code} (expected {codes:?}):\n{}",
                self.outcome.stderr_tail()
            );
        }
        Ok(self)
    }
}

impl Gcrecon<'_> {
    /// `gcrecon ARGS -m MANIFEST --state STATE`, its output captured under
    /// `logs/NAME.*`.
    pub fn run(&self, name: &str, args: &[&str], manifest: &Path, state: &Path) -> Result<GcRun> {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend([
            "-m".to_owned(),
            manifest.display().to_string(),
            "--state".to_owned(),
            state.display().to_string(),
        ]);
        let run = Run {
            program: self.bin,
            args: all,
            env: [
                ("GENESYSCLOUD_API_REGION", self.url.clone()),
                ("GENESYSCLOUD_OAUTHCLIENT_ID", self.creds.client_id.clone()),
                (
                    "GENESYSCLOUD_OAUTHCLIENT_SECRET",
                    self.creds.client_secret.clone(),
                ),
                ("NO_COLOR", "1".to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain(self.env.iter().cloned())
            .collect(),
            capture: self.logs.join(name),
        };
        Ok(GcRun {
            outcome: measured(self.measurer, &run)?,
        })
    }

    /// `gcrecon apply --auto-approve --parallelism P`.
    pub fn apply(
        &self,
        name: &str,
        manifest: &Path,
        state: &Path,
        parallelism: usize,
    ) -> Result<GcRun> {
        let secrets = self.logs.join(format!("{name}.secrets.json"));
        let secrets = secrets.display().to_string();
        let p = parallelism.to_string();
        self.run(
            name,
            &[
                "apply",
                "--auto-approve",
                "--parallelism",
                &p,
                "--secrets-out",
                &secrets,
            ],
            manifest,
            state,
        )?
        .expect(&format!("gcrecon apply ({name})"), &[0])
    }

    /// `gcrecon plan --format json --detailed-exitcode`: exit 0 means no
    /// changes, 2 changes; anything else is an error.
    pub fn plan(&self, name: &str, manifest: &Path, state: &Path) -> Result<PlanRun> {
        let run = self
            .run(
                name,
                &["plan", "--format", "json", "--detailed-exitcode"],
                manifest,
                state,
            )?
            .expect(&format!("gcrecon plan ({name})"), &[0, 2])?;
        let json: Value = serde_json::from_str(run.outcome.stdout.trim()).unwrap_or(Value::Null);
        Ok(PlanRun {
            changes: changes(&json),
            api_calls: json.get("api_calls").cloned(),
            run,
        })
    }
}

/// A plan run and what its JSON said.
pub struct PlanRun {
    pub run: GcRun,
    /// Addresses whose action is not `no-op` (or `read`).
    pub changes: Vec<String>,
    /// The plan's own `api_calls` figure, if it reports one.
    pub api_calls: Option<Value>,
}

impl PlanRun {
    /// Exit code 0 under `--detailed-exitcode`, and no changed address.
    pub fn is_noop(&self) -> bool {
        self.run.usage().code == 0 && self.changes.is_empty()
    }
}

/// Changed addresses in a plan's JSON (`resource_changes[].change.actions`).
fn changes(plan: &Value) -> Vec<String> {
    plan.get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rc| {
            rc.pointer("/change/actions")
                .and_then(Value::as_array)
                .is_some_and(|a| {
                    a.iter()
                        .any(|x| !matches!(x.as_str(), Some("no-op" | "read")))
                })
        })
        .map(|rc| {
            rc.get("address")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

/// What the bench records of one gcrecon run.
#[derive(Clone, Debug, Serialize)]
pub struct RunFigures {
    pub exit_code: i32,
    pub wall_ms: f64,
    pub cpu_ms: f64,
    pub max_rss_kb: u64,
}

impl From<&Usage> for RunFigures {
    fn from(u: &Usage) -> Self {
        RunFigures {
            exit_code: u.code,
            wall_ms: u.wall_ms,
            cpu_ms: u.cpu_ms,
            max_rss_kb: u.max_rss_kb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_addresses_are_found() {
        let plan = json!({"resource_changes": [
            {"address": "role.a", "change": {"actions": ["no-op"]}},
            {"address": "role.b", "change": {"actions": ["update"]}},
            {"address": "data.role.c", "change": {"actions": ["read"]}},
            {"address": "group.d", "change": {"actions": ["delete", "create"]}}
        ]});
        assert_eq!(changes(&plan), ["role.b", "group.d"]);
        assert!(changes(&Value::Null).is_empty());
    }
}
