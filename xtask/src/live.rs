//! `cargo xtask live`: the whole gcrecon loop against a real Genesys Cloud
//! organization, checked through the Platform API itself.
//!
//! A small sandbox ([`sandbox`]: a division, a role, a group, a role grant,
//! a client-credentials OAuth client holding the role and a disabled Client
//! Application integration, every name starting `gcrecon-live-<random>-`)
//! goes through the real `gcrecon` binary: validate, plan (changes), apply,
//! an empty re-plan, drift (none) and destroy. After apply each object is
//! read back through the API ([`api`]) and compared with what was asked for:
//! the role's `permissionPolicies` hold its permissions, the group has its
//! description, the role grant is in place, the client logs in with the
//! secret gcrecon delivered and its token is allowed what the role grants.
//! After destroy each object is read again by id and looked for by name: it
//! must be gone.
//!
//! It refuses to run unless `GCRECON_LIVE=1` is set, and says what it will
//! create before it starts. Destroy always runs once apply has started, also
//! when a step or a check failed (and, from `Drop`, when one panicked); the
//! first failure is reported after it. See `docs/live.md`.

mod api;
mod sandbox;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use gcrecon_core::Secret;
use gcrecon_genesys::{Connection, Credentials};
use serde_json::Value;

use api::{str_of, Api, Found};
use sandbox::Sandbox;

pub const USAGE: &str = "usage: GCRECON_LIVE=1 cargo xtask live [--gcrecon PATH] [--no-integration]

Creates a small sandbox (every name starting `gcrecon-live-<random>-`) in the
organization named by GENESYSCLOUD_REGION or GENESYSCLOUD_API_REGION and the
GENESYSCLOUD_OAUTHCLIENT_ID/SECRET credentials (or GENESYSCLOUD_ACCESS_TOKEN),
runs validate, plan, apply, a re-plan, drift and destroy on it with the real
gcrecon binary, and checks every step through the API. Destroys what it
created, also when a step fails.

  --gcrecon PATH     the gcrecon binary to drive (default: build target/debug/gcrecon)
  --no-integration   leave out the Client Application integration";

/// How long an object may take to read back after its create, and to
/// disappear from reads and listings after destroy.
const READ_BACK_WAIT: Duration = Duration::from_secs(30);
const GONE_WAIT: Duration = Duration::from_secs(90);
/// How long the new client's token may take to be allowed what its role
/// grants (the authorization service lags behind a new role and grant).
const PROBE_WAIT: Duration = Duration::from_secs(120);
/// Destroy attempts before the leftovers are reported.
const DESTROY_ATTEMPTS: u32 = 3;

/// The kinds of the sandbox: state kind, path of one object by id, listing.
const KINDS: &[(&str, &str, &str)] = &[
    (
        "division",
        "/api/v2/authorization/divisions/",
        "/api/v2/authorization/divisions",
    ),
    (
        "role",
        "/api/v2/authorization/roles/",
        "/api/v2/authorization/roles",
    ),
    ("group", "/api/v2/groups/", "/api/v2/groups"),
    (
        "oauth_client",
        "/api/v2/oauth/clients/",
        "/api/v2/oauth/clients",
    ),
    (
        "integration",
        "/api/v2/integrations/",
        "/api/v2/integrations",
    ),
];

#[derive(Debug)]
struct Options {
    gcrecon: Option<PathBuf>,
    with_integration: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut opts = Options {
            gcrecon: None,
            with_integration: true,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--gcrecon" => {
                    let path = it.next().context("--gcrecon needs a path")?;
                    opts.gcrecon = Some(PathBuf::from(path));
                }
                "--no-integration" => opts.with_integration = false,
                other => bail!("unknown argument `{other}`\n\n{USAGE}"),
            }
        }
        Ok(opts)
    }
}

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    let sandbox = Sandbox::new(opts.with_integration);
    if std::env::var("GCRECON_LIVE").ok().as_deref() != Some("1") {
        bail!("{}", refusal(&sandbox));
    }
    let conn = Connection::from_env_and_flags(None, None)
        .context("cannot tell which organization to check")?;

    println!("gcrecon live check {}", sandbox.run);
    println!(
        "API: {}{}",
        conn.api_url,
        if conn.region.is_empty() {
            String::new()
        } else {
            format!(" (region {})", conn.region)
        }
    );
    let api = match &conn.credentials {
        Credentials::ClientCredentials {
            client_id,
            client_secret,
        } => Api::login(&conn.api_url, &conn.login_url, client_id, client_secret)
            .context("cannot log in with GENESYSCLOUD_OAUTHCLIENT_ID/SECRET")?,
        Credentials::AccessToken(token) => Api::with_token(&conn.api_url, token.clone())?,
    };
    let org = api
        .get("/api/v2/organizations/me")
        .context("cannot read the organization")?;
    println!(
        "organization: {} (id {})",
        str_of(&org, "name"),
        str_of(&org, "id")
    );
    println!("It will create, check and then delete again:");
    for line in sandbox.summary() {
        println!("  {line}");
    }

    let gcrecon = match opts.gcrecon {
        Some(path) => path,
        None => build_gcrecon(root)?,
    };
    let work = tempfile::Builder::new()
        .prefix("gcrecon-live-check.")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let manifest = work.path().join("gcrecon.toml");
    std::fs::write(&manifest, sandbox.manifest())
        .with_context(|| format!("cannot write {}", manifest.display()))?;
    println!("manifest and state: {}", work.path().display());

    let mut run = Run {
        gcrecon,
        manifest,
        state: work.path().join("live.gcstate.json"),
        secrets: work.path().join("live.secrets.json"),
        api,
        login_url: conn.login_url,
        sandbox,
        ids: BTreeMap::new(),
        needs_destroy: false,
    };
    let steps = run.steps();
    let applied = run.needs_destroy;
    if let Err(e) = &steps {
        if applied {
            println!("\nFAILED: {e:#}\n(destroying what was created before reporting it)");
        } else {
            println!("\nFAILED: {e:#}\n(before apply: nothing was created)");
        }
    }
    let cleanup = run.cleanup();
    if cleanup.is_err() {
        // Keep the manifest and state for a `gcrecon destroy` by hand.
        let kept = work.keep();
        println!(
            "\nThe manifest and state are kept in {}: destroy what is left with\n  gcrecon destroy -m {} --state {}",
            kept.display(),
            run.manifest.display(),
            run.state.display()
        );
    }
    match (steps, cleanup) {
        (Ok(()), Ok(())) => {
            println!("\nlive check passed: every step and check succeeded, and nothing is left");
            Ok(())
        }
        (Err(e), Ok(())) if !applied => Err(e.context("live check failed before apply")),
        (Err(e), Ok(())) => {
            Err(e.context("live check failed (everything it created was destroyed)"))
        }
        (Ok(()), Err(c)) => Err(c.context("live check failed while cleaning up")),
        (Err(e), Err(c)) => Err(anyhow!(
            "live check failed: {e:#}\nand cleaning up failed too: {c:#}"
        )),
    }
}

/// Why the check does not run without `GCRECON_LIVE=1`, and what it would do.
fn refusal(sandbox: &Sandbox) -> String {
    let mut s = String::from(
        "refusing to run: `cargo xtask live` creates real objects in the Genesys Cloud organization \
         named by GENESYSCLOUD_REGION or GENESYSCLOUD_API_REGION (logging in with \
         GENESYSCLOUD_OAUTHCLIENT_ID/SECRET or GENESYSCLOUD_ACCESS_TOKEN), checks them through \
         the API and deletes them again. It would create:\n",
    );
    for line in sandbox.summary() {
        s.push_str(&format!("  {line}\n"));
    }
    s.push_str(
        "hint: point it at a sandbox organization and set GCRECON_LIVE=1 to confirm (see docs/live.md)",
    );
    s
}

fn build_gcrecon(root: &Path) -> Result<PathBuf> {
    step("Building gcrecon");
    crate::run_checked(Command::new(env!("CARGO")).current_dir(root).args([
        "build",
        "-q",
        "-p",
        "gcrecon-cli",
        "--bin",
        "gcrecon",
    ]))?;
    Ok(root.join("target").join("debug").join("gcrecon"))
}

fn step(title: &str) {
    println!("\n=== {title}");
}

/// One run: the sandbox, where its files are and what was created.
struct Run {
    gcrecon: PathBuf,
    manifest: PathBuf,
    state: PathBuf,
    secrets: PathBuf,
    api: Api,
    login_url: String,
    sandbox: Sandbox,
    /// State kind → id of every object the state has recorded so far.
    ids: BTreeMap<String, String>,
    /// Set when apply starts, cleared once destroy has run.
    needs_destroy: bool,
}

impl Drop for Run {
    /// A panic between apply and the cleanup still destroys the sandbox.
    fn drop(&mut self) {
        if self.needs_destroy {
            eprintln!("live check: interrupted; destroying the sandbox");
            if let Err(e) = self.cleanup() {
                eprintln!("live check: cleaning up failed: {e:#}");
            }
        }
    }
}

impl Run {
    fn steps(&mut self) -> Result<()> {
        step("gcrecon validate");
        self.gcrecon(&["validate"], 0)?;
        step("gcrecon plan --detailed-exitcode   (exit 2: everything to create)");
        self.gcrecon(&["plan", "--detailed-exitcode"], 2)?;

        self.needs_destroy = true;
        step("gcrecon apply --auto-approve");
        let secrets = self.secrets.display().to_string();
        self.gcrecon(&["apply", "--auto-approve", "--secrets-out", &secrets], 0)?;

        step("Checking what apply did, through the API");
        self.read_state_ids()?;
        self.check_applied()?;

        step("gcrecon plan --detailed-exitcode   (exit 0: nothing left to change)");
        self.gcrecon(&["plan", "--detailed-exitcode"], 0)?;
        step("gcrecon drift   (exit 0: the organization matches)");
        self.gcrecon(&["drift"], 0)?;
        Ok(())
    }

    /// Destroy (again on failure, a bounded number of times), then check
    /// through the API that every object is gone.
    fn cleanup(&mut self) -> Result<()> {
        if !self.needs_destroy {
            return Ok(());
        }
        self.needs_destroy = false;
        // Whatever the state recorded, also after a failed apply.
        let _ = self.read_state_ids();
        step("gcrecon destroy --auto-approve");
        let mut destroyed = Ok(());
        if self.state.exists() {
            for attempt in 1..=DESTROY_ATTEMPTS {
                destroyed = self.gcrecon(&["destroy", "--auto-approve"], 0);
                match &destroyed {
                    Ok(()) => break,
                    Err(e) if attempt < DESTROY_ATTEMPTS => {
                        println!("destroy failed ({e:#}); trying again in 10 s");
                        std::thread::sleep(Duration::from_secs(10));
                    }
                    Err(_) => {}
                }
            }
        } else {
            println!("(no state was written: apply created nothing)");
        }
        step("Checking through the API that everything is gone");
        let gone = self.check_gone();
        match (destroyed, gone) {
            (Ok(()), gone) => gone,
            (Err(d), Ok(())) => Err(d.context("gcrecon destroy failed (though nothing is left)")),
            (Err(d), Err(g)) => Err(anyhow!("gcrecon destroy failed: {d:#}\n{g:#}")),
        }
    }

    /// Runs `gcrecon ARGS -m MANIFEST --state STATE`, which must exit `code`.
    fn gcrecon(&self, args: &[&str], code: i32) -> Result<()> {
        let mut cmd = Command::new(&self.gcrecon);
        cmd.args(args)
            .arg("-m")
            .arg(&self.manifest)
            .arg("--state")
            .arg(&self.state)
            // The state is the temporary file above, never a shared backend.
            .env_remove("GCRECON_BACKEND")
            .env_remove("GCRECON_WORKSPACE")
            .stdin(Stdio::null());
        let status = cmd
            .status()
            .with_context(|| format!("cannot start {}", self.gcrecon.display()))?;
        if status.code() != Some(code) {
            bail!(
                "`gcrecon {}` ended with {status}, expected exit code {code}",
                args.join(" ")
            );
        }
        Ok(())
    }

    /// Kind → id of every object recorded in the state (a role grant's id
    /// is its role's; it is checked through the group).
    fn read_state_ids(&mut self) -> Result<()> {
        let text = std::fs::read_to_string(&self.state)
            .with_context(|| format!("cannot read {}", self.state.display()))?;
        let state: Value = serde_json::from_str(&text).context("the state is not JSON")?;
        for r in state
            .get("resources")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let (kind, id) = (str_of(r, "kind"), str_of(r, "id"));
            if KINDS.iter().any(|(k, _, _)| *k == kind) && !id.is_empty() {
                self.ids.insert(kind.to_owned(), id.to_owned());
            }
        }
        Ok(())
    }

    /// The kinds this run creates (the integration only when asked for).
    fn kinds(&self) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
        let with_integration = self.sandbox.with_integration;
        KINDS
            .iter()
            .filter(move |(k, _, _)| with_integration || *k != "integration")
    }

    fn id(&self, kind: &str) -> Result<&str> {
        self.ids
            .get(kind)
            .map(String::as_str)
            .with_context(|| format!("the state records no {kind}"))
    }

    /// Every check of the applied sandbox; all run, the first failure is
    /// returned with the count.
    fn check_applied(&self) -> Result<()> {
        let mut checks: Vec<(&str, Result<String>)> = vec![
            ("division", self.check_division()),
            ("role", self.check_role()),
            ("group", self.check_group()),
            ("role grant", self.check_role_grant()),
            ("OAuth client", self.check_client()),
            ("client login", self.check_client_login()),
        ];
        if self.sandbox.with_integration {
            checks.push(("integration", self.check_integration()));
        }
        let mut failures = Vec::new();
        for (what, result) in checks {
            match result {
                Ok(detail) => println!("  ok    {what}: {detail}"),
                Err(e) => {
                    println!("  FAIL  {what}: {e:#}");
                    failures.push(format!("{what}: {e:#}"));
                }
            }
        }
        match failures.first() {
            None => Ok(()),
            Some(first) => bail!(
                "{} of the API checks after apply failed; the first: {first}",
                failures.len()
            ),
        }
    }

    fn read_back(&self, kind: &str) -> Result<Value> {
        let (_, by_id, _) = KINDS
            .iter()
            .find(|(k, _, _)| *k == kind)
            .expect("a sandbox kind");
        self.api
            .read_existing(&format!("{by_id}{}", self.id(kind)?), READ_BACK_WAIT)
    }

    fn check_division(&self) -> Result<String> {
        let d = self.read_back("division")?;
        expect_eq("name", str_of(&d, "name"), &self.sandbox.division_name())?;
        expect_eq(
            "description",
            str_of(&d, "description"),
            self.sandbox.description(),
        )?;
        Ok(format!(
            "{} with its description",
            self.sandbox.division_name()
        ))
    }

    fn check_role(&self) -> Result<String> {
        let r = self.read_back("role")?;
        expect_eq("name", str_of(&r, "name"), &self.sandbox.role_name())?;
        expect_eq(
            "description",
            str_of(&r, "description"),
            self.sandbox.description(),
        )?;
        let want = self.sandbox.permissions();
        let got = api::policy_permissions(&r);
        if got != want {
            let missing: Vec<&String> = want.difference(&got).collect();
            let extra: Vec<&String> = got.difference(&want).collect();
            bail!("permissionPolicies grant {got:?}: missing {missing:?}, not asked for {extra:?}");
        }
        Ok(format!(
            "permissionPolicies grant exactly the {} permissions",
            want.len()
        ))
    }

    fn check_group(&self) -> Result<String> {
        let g = self.read_back("group")?;
        expect_eq("name", str_of(&g, "name"), &self.sandbox.group_name())?;
        expect_eq(
            "description",
            str_of(&g, "description"),
            self.sandbox.description(),
        )?;
        expect_eq("type", str_of(&g, "type"), "official")?;
        expect_eq("visibility", str_of(&g, "visibility"), "public")?;
        if g.get("rolesEnabled").and_then(Value::as_bool) != Some(true) {
            bail!("rolesEnabled is not true");
        }
        Ok("description, type, visibility and rolesEnabled as asked".to_owned())
    }

    fn check_role_grant(&self) -> Result<String> {
        let (group, role, division) = (self.id("group")?, self.id("role")?, self.id("division")?);
        let subject = self
            .api
            .get(&format!("/api/v2/authorization/subjects/{group}"))?;
        let held = subject
            .get("grants")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .any(|g| {
                g.pointer("/role/id").and_then(Value::as_str) == Some(role)
                    && g.pointer("/division/id").and_then(Value::as_str) == Some(division)
            });
        if !held {
            bail!("the group's grants do not hold the role in the division");
        }
        Ok("the group holds the role in the division".to_owned())
    }

    fn check_client(&self) -> Result<String> {
        let c = self.read_back("oauth_client")?;
        expect_eq("name", str_of(&c, "name"), &self.sandbox.client_name())?;
        expect_eq(
            "authorizedGrantType",
            str_of(&c, "authorizedGrantType"),
            "CLIENT-CREDENTIALS",
        )?;
        let pairs: Vec<(&str, &str)> = c
            .get("roleDivisions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|rd| (str_of(rd, "roleId"), str_of(rd, "divisionId")))
            .collect();
        let want = (self.id("role")?, self.id("division")?);
        if pairs != [want] {
            bail!("roleDivisions are {pairs:?}, expected only the role in the division");
        }
        Ok("client credentials, holding the role in the division".to_owned())
    }

    /// The delivered secret logs in, and the token is allowed what the role
    /// grants (retried while the authorization service catches up).
    fn check_client_login(&self) -> Result<String> {
        let text = std::fs::read_to_string(&self.secrets)
            .with_context(|| format!("no secrets file at {}", self.secrets.display()))?;
        let doc: Value = serde_json::from_str(&text).context("the secrets file is not JSON")?;
        let entry = doc
            .get("oauth_client.live")
            .context("the secrets file has no entry for oauth_client.live")?;
        let client_id = str_of(entry, "client_id");
        let secret = Secret::new(str_of(entry, "client_secret"));
        if secret.expose().is_empty() {
            bail!("the secrets file holds no client_secret for oauth_client.live");
        }
        expect_eq("delivered client_id", client_id, self.id("oauth_client")?)?;
        let http = api::login_client()?;
        let deadline = Instant::now() + PROBE_WAIT;
        loop {
            // A client may be refused for a moment after its create.
            let token = match api::token(&http, &self.login_url, client_id, &secret) {
                Ok(token) => token,
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context(format!(
                        "the delivered secret does not log in after {}s",
                        PROBE_WAIT.as_secs()
                    )))
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_secs(3));
                    continue;
                }
            };
            let client_api = Api::with_token(self.api.base_url(), token)?;
            let (status, _) = client_api.get_status(sandbox::PROBE_PATH)?;
            if status.is_success() {
                return Ok(format!(
                    "logs in with the delivered secret; its token is allowed {} (GET {})",
                    sandbox::PROBE_PERMISSION,
                    sandbox::PROBE_PATH
                ));
            }
            if Instant::now() >= deadline {
                bail!(
                    "logs in, but GET {} still answers {status} after {}s: the role grants the client nothing",
                    sandbox::PROBE_PATH,
                    PROBE_WAIT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    }

    fn check_integration(&self) -> Result<String> {
        let i = self.read_back("integration")?;
        let id = self.id("integration")?;
        expect_eq("name", str_of(&i, "name"), &self.sandbox.integration_name())?;
        expect_eq(
            "integrationType.id",
            i.pointer("/integrationType/id")
                .and_then(Value::as_str)
                .unwrap_or(""),
            sandbox::INTEGRATION_TYPE,
        )?;
        expect_eq("intendedState", str_of(&i, "intendedState"), "DISABLED")?;
        let config = self
            .api
            .get(&format!("/api/v2/integrations/{id}/config/current"))?;
        let props = config.get("properties").cloned().unwrap_or(Value::Null);
        expect_eq(
            "config url",
            str_of(&props, "url"),
            sandbox::INTEGRATION_URL,
        )?;
        expect_eq(
            "config displayType",
            str_of(&props, "displayType"),
            "standalone",
        )?;
        let groups: Vec<&str> = props
            .get("groups")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        if groups != [self.id("group")?] {
            bail!("config groups are {groups:?}, expected only the sandbox group");
        }
        Ok("disabled Client Application with its url, type and group filter".to_owned())
    }

    /// Each recorded object reads as gone by id, and no object of any kind
    /// is listed under the run's names; waits up to [`GONE_WAIT`] for
    /// listings that lag behind deletes.
    fn check_gone(&self) -> Result<()> {
        let deadline = Instant::now() + GONE_WAIT;
        loop {
            let left = self.leftovers()?;
            if left.is_empty() {
                println!(
                    "  ok    no object named {}-* is left ({} read by id, {} listings searched)",
                    self.sandbox.run,
                    self.ids.len(),
                    self.kinds().count()
                );
                return Ok(());
            }
            if Instant::now() >= deadline {
                for l in &left {
                    println!("  FAIL  still there: {l}");
                }
                bail!(
                    "{} object(s) of this run are still in the organization after destroy: {}",
                    left.len(),
                    left.join("; ")
                );
            }
            std::thread::sleep(Duration::from_secs(3));
        }
    }

    fn leftovers(&self) -> Result<Vec<String>> {
        let mut left = Vec::new();
        for (kind, by_id, listing) in self.kinds() {
            if let Some(id) = self.ids.get(*kind) {
                if let Found::Object(v) = self.api.read(&format!("{by_id}{id}"))? {
                    left.push(format!(
                        "{kind} {} (id {id}, read by id)",
                        str_of(&v, "name")
                    ));
                }
            }
            for e in self.api.list_all(listing)? {
                let name = str_of(&e, "name");
                let id = str_of(&e, "id");
                if name.starts_with(&self.sandbox.run)
                    && self.ids.get(*kind).map(String::as_str) != Some(id)
                {
                    left.push(format!("{kind} {name} (id {id}, listed)"));
                }
            }
        }
        Ok(left)
    }
}

fn expect_eq(field: &str, got: &str, want: &str) -> Result<()> {
    if got != want {
        bail!("{field} is {got:?}, expected {want:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_parse() {
        let o = Options::parse(&args("--gcrecon /x/gcrecon --no-integration")).unwrap();
        assert_eq!(o.gcrecon, Some(PathBuf::from("/x/gcrecon")));
        assert!(!o.with_integration);
        assert!(Options::parse(&[]).unwrap().with_integration);
        assert!(Options::parse(&args("--gcrecon")).is_err());
        assert!(Options::parse(&args("--frob")).is_err());
    }

    #[test]
    fn the_refusal_says_why_what_and_how() {
        let s = Sandbox::new(true);
        let text = refusal(&s);
        assert!(text.contains("GCRECON_LIVE=1"), "{text}");
        assert!(text.contains(&s.role_name()) && text.contains(&s.integration_name()));
        assert!(!refusal(&Sandbox::new(false)).contains("integration "));
    }
}
