//! test-support: start the `gcsim` simulator for a test and talk to its
//! `/_sim` hooks, plus small fixtures (temp dirs, binary paths).
//!
//! ```no_run
//! let sim = test_support::Sim::builder()
//!     .fixture_toml("[org]\nname = \"Acme\"\n")
//!     .grant_delay_ms(200)
//!     .start();
//! let token = sim.admin_token();
//! let dump = sim.dump();
//! assert_eq!(dump["org"]["name"], "Acme");
//! # let _ = token;
//! ```
//!
//! The first [`bin_path`]/[`Sim`] call in a test process runs
//! `cargo build -q -p gcsim -p gcrecon-cli --bins` once, so the binaries a
//! test runs are fresh (set `GCSIM_BIN` to use a prebuilt gcsim and skip the
//! build). A [`Sim`] kills its child process when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

/// How long to wait for gcsim to print its two startup lines.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The profile directory of the running test (`…/target/debug`), derived
/// from the test executable (`…/target/debug/deps/name-hash`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("cannot locate the test executable");
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.pop();
    }
    dir
}

fn build_once() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if std::env::var_os("GCSIM_BIN").is_some() {
            return;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let profile = profile_dir();
        let release = profile.file_name().is_some_and(|n| n == "release");
        let run = |packages: &[&str]| {
            let mut cmd = Command::new(&cargo);
            cmd.args(["build", "-q", "--bins"]);
            for p in packages {
                cmd.args(["-p", p]);
            }
            if release {
                cmd.arg("--release");
            }
            if let Some(target) = profile.parent() {
                cmd.arg("--target-dir").arg(target);
            }
            cmd.output()
        };
        match run(&["gcsim", "gcrecon-cli"]) {
            Ok(out) if out.status.success() => {}
            first => {
                // gcrecon-cli may be mid-edit; gcsim alone must still build.
                let out = run(&["gcsim"]).expect("cannot run cargo build");
                if !out.status.success() {
                    panic!(
                        "cargo build -p gcsim failed:\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                if let Ok(o) = first {
                    eprintln!(
                        "test-support: building gcrecon-cli failed, using gcsim only:\n{}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            }
        }
    });
}

/// Path of a workspace binary (`gcsim`, `gcrecon`) in the running test's
/// target directory, building the binaries first (once per process).
/// `GCSIM_BIN` overrides the path of `gcsim`.
pub fn bin_path(name: &str) -> PathBuf {
    if name == "gcsim" {
        if let Some(p) = std::env::var_os("GCSIM_BIN") {
            return PathBuf::from(p);
        }
    }
    build_once();
    let mut p = profile_dir().join(name);
    if cfg!(windows) {
        p.set_extension("exe");
    }
    p
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gcrecon-test-")
        .tempdir()
        .expect("cannot create a temporary directory")
}

/// Options for starting a simulator; see [`Sim::builder`].
#[derive(Debug, Clone, Default)]
pub struct SimBuilder {
    fixture: Option<String>,
    args: Vec<(String, String)>,
}

impl SimBuilder {
    /// Seeds the org from fixture TOML text (written to a temp file).
    pub fn fixture_toml(mut self, toml: &str) -> Self {
        self.fixture = Some(toml.to_string());
        self
    }

    fn arg(mut self, flag: &str, value: String) -> Self {
        self.args.push((flag.to_string(), value));
        self
    }

    /// `--latency-ms`.
    pub fn latency_ms(self, ms: u64) -> Self {
        self.arg("--latency-ms", ms.to_string())
    }

    /// `--jitter-ms`.
    pub fn jitter_ms(self, ms: u64) -> Self {
        self.arg("--jitter-ms", ms.to_string())
    }

    /// `--rate-limit` (requests per minute per token; 0 = unlimited).
    pub fn rate_limit(self, per_minute: u64) -> Self {
        self.arg("--rate-limit", per_minute.to_string())
    }

    /// `--eventual-ms`.
    pub fn eventual_ms(self, ms: u64) -> Self {
        self.arg("--eventual-ms", ms.to_string())
    }

    /// `--grant-delay-ms`.
    pub fn grant_delay_ms(self, ms: u64) -> Self {
        self.arg("--grant-delay-ms", ms.to_string())
    }

    /// `--fault-rate` (0.0..=1.0).
    pub fn fault_rate(self, rate: f64) -> Self {
        self.arg("--fault-rate", rate.to_string())
    }

    /// `--lost-response-rate` (0.0..=1.0): requests applied whose answer is
    /// then lost (alternately a dropped connection and a 504).
    pub fn lost_response_rate(self, rate: f64) -> Self {
        self.arg("--lost-response-rate", rate.to_string())
    }

    /// `--seed`.
    pub fn seed(self, seed: u64) -> Self {
        self.arg("--seed", seed.to_string())
    }

    /// Starts gcsim; panics with gcsim's stderr if it does not start.
    pub fn start(self) -> Sim {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts gcsim, or answers why it did not start (its stderr included).
    pub fn try_start(self) -> Result<Sim, String> {
        let fixture_dir = temp_dir();
        let mut cmd = Command::new(bin_path("gcsim"));
        cmd.args(["serve", "--port", "0"]);
        if let Some(text) = &self.fixture {
            let path = fixture_dir.path().join("fixture.toml");
            std::fs::write(&path, text).map_err(|e| format!("cannot write fixture: {e}"))?;
            cmd.arg("--fixture").arg(path);
        }
        for (flag, value) in &self.args {
            cmd.arg(flag).arg(value);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin_path("gcsim").display()))?;
        let stderr_buf = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let buf = stderr_buf.clone();
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = err.read_to_string(&mut s);
                if let Ok(mut b) = buf.lock() {
                    b.push_str(&s);
                }
            });
        }
        let stdout = child.stdout.take().ok_or("gcsim has no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for _ in 0..2 {
                match lines.next() {
                    Some(Ok(l)) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
            // Keep draining so gcsim never blocks on a full pipe.
            for _ in lines {}
        });
        let read_line = |what: &str, child: &mut Child| -> Result<String, String> {
            rx.recv_timeout(STARTUP_TIMEOUT).map_err(|_| {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(50));
                format!(
                    "gcsim did not print its {what} line; stderr:\n{}",
                    stderr_buf.lock().map(|s| s.clone()).unwrap_or_default()
                )
            })
        };
        let first = read_line("first (listening)", &mut child)?;
        let url = first
            .strip_prefix("gcsim listening on ")
            .ok_or_else(|| format!("unexpected first line: {first}"))?
            .trim()
            .to_string();
        let second = read_line("second (admin)", &mut child)?;
        let rest = second
            .strip_prefix("gcsim admin ")
            .ok_or_else(|| "unexpected second line (not `gcsim admin ...`)".to_string())?;
        let mut client_id = String::new();
        let mut client_secret = String::new();
        for part in rest.split_whitespace() {
            if let Some(v) = part.strip_prefix("client_id=") {
                client_id = v.to_string();
            } else if let Some(v) = part.strip_prefix("client_secret=") {
                client_secret = v.to_string();
            }
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Sim {
            child,
            url,
            admin_client_id: client_id,
            admin_client_secret: client_secret,
            http,
            _fixture_dir: fixture_dir,
        })
    }
}

/// A running `gcsim serve` child process on a free loopback port.
pub struct Sim {
    child: Child,
    url: String,
    admin_client_id: String,
    admin_client_secret: String,
    http: reqwest::blocking::Client,
    _fixture_dir: tempfile::TempDir,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("url", &self.url)
            .field("pid", &self.child.id())
            .field("admin_client_id", &self.admin_client_id)
            .field("admin_client_secret", &"(sensitive)")
            .finish()
    }
}

impl Sim {
    /// Starts gcsim with the default org and settings.
    pub fn start() -> Sim {
        Sim::builder().start()
    }

    /// Options for starting gcsim.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// Base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Process id of the gcsim child.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Client id of the admin OAuth client (second startup line).
    pub fn admin_client_id(&self) -> &str {
        &self.admin_client_id
    }

    /// Client secret of the admin OAuth client (second startup line).
    pub fn admin_client_secret(&self) -> &str {
        &self.admin_client_secret
    }

    /// Logs in with client credentials (`POST /oauth/token`) and answers the
    /// access token; panics if the login fails.
    pub fn login(&self, client_id: &str, client_secret: &str) -> String {
        let resp = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth(client_id, Some(client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .expect("POST /oauth/token failed");
        let status = resp.status();
        let body: Value = resp.json().expect("/oauth/token answered non-JSON");
        assert!(status.is_success(), "login failed: {status} {body}");
        body["access_token"]
            .as_str()
            .expect("no access_token")
            .to_string()
    }

    /// An access token of the admin OAuth client.
    pub fn admin_token(&self) -> String {
        self.login(&self.admin_client_id, &self.admin_client_secret)
    }

    /// A Platform API request as the admin client (a change made behind
    /// gcrecon's back the way a person would make it); panics unless it
    /// succeeds. An empty answer is `""`.
    pub fn api_as_admin(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("{method} is not an HTTP method: {e}"));
        self.request(&method, path, body, Some(&self.admin_token()))
    }

    fn hook(&self, method: &reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        self.request(method, path, body, None)
    }

    fn request(
        &self,
        method: &reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    /// `GET /_sim/dump`: the whole org (no secrets).
    pub fn dump(&self) -> Value {
        self.hook(&reqwest::Method::GET, "/_sim/dump", None)
    }

    /// `GET /_sim/stats`: `{total, by_route, rate_limited, faults,
    /// lost_responses, latency_ms_total}`.
    pub fn stats(&self) -> Value {
        self.hook(&reqwest::Method::GET, "/_sim/stats", None)
    }

    /// `POST /_sim/reset-stats`.
    pub fn reset_stats(&self) {
        self.hook(&reqwest::Method::POST, "/_sim/reset-stats", None);
    }

    /// `POST /_sim/faults` with a partial settings object; answers the
    /// settings now in force.
    #[allow(clippy::needless_pass_by_value)] // callers pass `json!(...)` directly
    pub fn faults(&self, settings: Value) -> Value {
        self.hook(&reqwest::Method::POST, "/_sim/faults", Some(&settings))
    }

    /// `POST /_sim/mutate` with one op or a list of ops; answers
    /// `{"results": [...]}`. Panics if gcsim refuses the ops.
    #[allow(clippy::needless_pass_by_value)] // callers pass `json!(...)` directly
    pub fn mutate(&self, ops: Value) -> Value {
        self.hook(&reqwest::Method::POST, "/_sim/mutate", Some(&ops))
    }

    /// `POST /_sim/token {"user": email}`: a user access token.
    pub fn user_token(&self, email: &str) -> String {
        let v = self.hook(
            &reqwest::Method::POST,
            "/_sim/token",
            Some(&serde_json::json!({ "user": email })),
        );
        v["access_token"]
            .as_str()
            .expect("no access_token")
            .to_string()
    }

    /// `POST /_sim/token {"client": id}`: a token for an OAuth client without
    /// a login request (so it is neither counted nor subject to faults).
    pub fn client_token(&self, client_id: &str) -> String {
        let v = self.hook(
            &reqwest::Method::POST,
            "/_sim/token",
            Some(&serde_json::json!({ "client": client_id })),
        );
        v["access_token"]
            .as_str()
            .expect("no access_token")
            .to_string()
    }

    /// `POST /_sim/populate` with counts per kind; answers
    /// `{"created": {...}, "elapsed_ms": N}`.
    #[allow(clippy::needless_pass_by_value)] // callers pass `json!(...)` directly
    pub fn populate(&self, counts: Value) -> Value {
        self.hook(&reqwest::Method::POST, "/_sim/populate", Some(&counts))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `gcrecon` run gave.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both outputs unless the run exited `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// A gcsim org and a scratch directory that the real `gcrecon` runs in,
/// logged in as the fixtures' CI client (`ci-client` / `ci-secret`), with
/// nothing else of the environment but `PATH`.
pub struct Workdir {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
}

impl Workdir {
    /// gcsim started with `fixture`, and `gcrecon.toml` = `manifest`.
    pub fn new(fixture: &str, manifest: &str) -> Workdir {
        let w = Workdir {
            sim: Sim::builder().fixture_toml(fixture).start(),
            dir: temp_dir(),
        };
        w.write("gcrecon.toml", manifest);
        w
    }

    /// A path inside the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file of the directory, making its parents.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    /// `gcrecon ARGS` in the directory, with `env` added.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = Command::new(bin_path("gcrecon"))
            .current_dir(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GENESYSCLOUD_API_REGION", self.sim.url())
            .env("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client")
            .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("cannot run gcrecon");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `gcrecon ARGS` in the directory.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }
}
