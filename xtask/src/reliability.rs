//! `cargo xtask reliability`: gcrecon's reliability and security suite,
//! run against the real `gcrecon` binary and a real `gcsim` process.
//!
//! - **Crash at every step**: for each example and every k from 1 to the
//!   number of mutating API calls of its clean apply, `apply --auto-approve`
//!   runs through a loopback [`Proxy`] that SIGKILLs it right after the k-th
//!   mutating response has been delivered (nothing else is delivered after
//!   that), then `apply` runs again to completion. The org must equal the
//!   clean-apply result, hold no duplicates, match the state, and re-plan
//!   clean.
//! - **Kill points in the other commands**: `destroy` after every mutating
//!   call (the state never forgets an object still in the org), `rotate`
//!   with the new secret issued and undelivered, `import` after every
//!   request, `state rm` / `force-unlock` from every on-disk image a kill
//!   leaves; each command run again finishes the job.
//! - **Read-only state directory** mid-apply: every change that could not
//!   be recorded is reported by address and id, and imported afterwards.
//! - **Damaged secrets file**: apply refuses before any change.
//! - **Faults**: injected 5xx and dropped connections (`--fault-rate`), a
//!   429 storm (`--rate-limit 30`, or 10 where a run makes fewer than 30
//!   requests per token): apply and plan converge, and no plan
//!   made under faults ever deletes, re-creates or creates what exists.
//! - **Eventual consistency** (`--eventual-ms`): apply then an immediate
//!   plan and apply create nothing twice.
//! - **Concurrency**: two applies at once on one state; a lock left by a
//!   killed process (broken automatically) and one whose holder may still
//!   run (reported with exit 3, removed with `force-unlock`).
//! - **Bad state**: truncated, invalid JSON, future format, another org,
//!   another lineage under a saved plan: refused, file bytes untouched.
//! - **Least privilege**: a caller without `oauth:client:add` is stopped
//!   before any change.
//! - **Secrets**: every file, stdout and stderr a scenario produced (logs at
//!   debug level) is searched for every secret and token gcsim issued.
//!
//! The same code runs, on one small example and with fewer repetitions, in
//! `cargo test` (`tests/tests/reliability.rs` includes this file with
//! `#[path]`). The proxy is part of the test, not of gcrecon: gcrecon has no
//! code path for being killed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use test_support::{bin_path, Sim, SimBuilder};

/// The example manifests, smallest first.
pub const EXAMPLES: [&str; 5] = ["nectar", "cognigy", "eightbyeight", "pureengage", "emite"];

/// How long one gcrecon run may take before the suite gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Lock a mutex, ignoring poisoning (a panicking test thread must not hide
/// the original failure behind a poison error).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// The killing proxy
// ---------------------------------------------------------------------------

/// A running child process that the proxy may kill.
type Slot = Arc<Mutex<Option<Child>>>;

#[derive(Default)]
struct Gate {
    /// Kill the armed child right after this many mutating responses.
    kill_after: Option<u32>,
    /// Mutating requests forwarded to gcsim since the proxy was armed.
    forwarded_mutating: u32,
    /// The armed child has been killed: nothing more is delivered.
    killed: bool,
    /// The child to kill.
    target: Option<Slot>,
    /// Count every request, reads and logins too (for commands whose only
    /// change is a local file, such as `import`), not only mutating ones.
    count_all: bool,
    /// Instead of killing: run this right before the k-th answer is
    /// delivered, then go on forwarding everything.
    hook: Option<Hook>,
    /// Kill before the k-th answer is delivered (gcsim made the change,
    /// gcrecon never hears of it), not right after.
    kill_before_answer: bool,
}

/// Something to do to the world at a chosen moment of a run.
pub type Hook = Arc<dyn Fn() + Send + Sync>;

/// What the proxy does at the k-th answer, besides killing right after
/// delivering it.
pub enum AtAnswer {
    /// Run the hook before delivering it, then forward everything.
    Hook(Hook),
    /// Kill before delivering it: gcsim made the change, gcrecon never
    /// hears of it.
    KillBefore,
}

/// [`AtAnswer::KillBefore`].
pub const KILL_BEFORE_ANSWER: AtAnswer = AtAnswer::KillBefore;

struct Shared {
    upstream: SocketAddr,
    gate: Mutex<Gate>,
    wake: Condvar,
    /// Tokens and secrets seen in answers (`access_token`, `secret`).
    secrets: Mutex<BTreeSet<String>>,
    /// `METHOD /path` of every mutating request forwarded, in order.
    mutating_log: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// A loopback HTTP/1.1 proxy in front of gcsim. Every gcrecon run of the
/// suite goes through one, so that it sees every token and secret gcsim
/// hands out; armed with [`Proxy::arm`], it kills a child process right
/// after the k-th mutating response (any method but GET, except
/// `POST /oauth/token` and `POST .../search`) has been written to it, and from then on delivers
/// nothing: requests already at gcsim complete there, but their answers are
/// lost, exactly as in a crash.
///
/// Each request is forwarded on a fresh upstream connection with
/// `Connection: close` and answered with `Connection: close`, so request and
/// answer boundaries are plain.
pub struct Proxy {
    url: String,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Proxy {
        let addr: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("gcsim's URL is http://127.0.0.1:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind the proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: addr,
            gate: Mutex::new(Gate::default()),
            wake: Condvar::new(),
            secrets: Mutex::new(BTreeSet::new()),
            mutating_log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(conn) = conn {
                    let s = s.clone();
                    std::thread::spawn(move || handle(&s, conn));
                }
            }
        });
        Proxy { url, shared }
    }

    /// The URL to give gcrecon as `--api-url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kill `target` right after the `k`-th mutating response from now
    /// (`None`: count only). Resets the counters.
    fn arm(&self, k: Option<u32>, target: Option<Slot>) {
        self.arm_counting(k, target, false);
    }

    /// As [`Proxy::arm`]; with `all`, every request counts, not only
    /// mutating ones.
    fn arm_counting(&self, k: Option<u32>, target: Option<Slot>, all: bool) {
        let mut g = lock(&self.shared.gate);
        *g = Gate {
            kill_after: k,
            target,
            count_all: all,
            ..Gate::default()
        };
        lock(&self.shared.mutating_log).clear();
        self.shared.wake.notify_all();
    }

    /// Mutating requests forwarded since the last [`Proxy::arm`].
    pub fn mutating(&self) -> u32 {
        lock(&self.shared.gate).forwarded_mutating
    }

    /// `METHOD /path` of the mutating requests since the last arm.
    pub fn mutating_log(&self) -> Vec<String> {
        lock(&self.shared.mutating_log).clone()
    }

    /// Every access token and client secret gcsim answered through here.
    pub fn secrets_seen(&self) -> BTreeSet<String> {
        lock(&self.shared.secrets).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        let mut g = lock(&self.shared.gate);
        g.killed = true;
        self.shared.wake.notify_all();
    }
}

/// A parsed request or response head: the first line and the headers.
struct Head {
    first: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn read(r: &mut impl BufRead) -> Option<Head> {
        let mut first = String::new();
        if r.read_line(&mut first).ok()? == 0 {
            return None;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':')?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        Some(Head {
            first: first.trim_end().to_string(),
            headers,
        })
    }

    /// The head with `Connection: close` and without the headers named.
    fn write(&self, drop: &[&str], extra: &[(&str, String)]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.first);
        for (k, v) in &self.headers {
            if k.eq_ignore_ascii_case("connection")
                || k.eq_ignore_ascii_case("keep-alive")
                || drop.iter().any(|d| k.eq_ignore_ascii_case(d))
            {
                continue;
            }
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        for (k, v) in extra {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("connection: close\r\n\r\n");
        out.into_bytes()
    }
}

/// Reads a chunked body (already past the head) and answers it decoded.
fn read_chunked(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).ok()?;
        let n = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if n == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).ok()? == 0 || l.trim().is_empty() {
                    return Some(body);
                }
            }
        }
        let mut chunk = vec![0; n];
        r.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk);
        let mut crlf = [0; 2];
        r.read_exact(&mut crlf).ok()?;
    }
}

/// Any method but GET changes something, except logins and searches
/// (`POST .../search` reads).
fn is_mutating(request_line: &str) -> bool {
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
        && !path.starts_with("/oauth/token")
        && !path.ends_with("/search")
}

/// Serves one request of one client connection (every answer closes it).
fn handle(s: &Shared, client: TcpStream) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(read_half) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let Some(head) = Head::read(&mut reader) else {
        return;
    };
    let body = if head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        match read_chunked(&mut reader) {
            Some(b) => b,
            None => return,
        }
    } else {
        let n: usize = head
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut b = vec![0; n];
        if reader.read_exact(&mut b).is_err() {
            return;
        }
        b
    };
    let mut mutating = is_mutating(&head.first);
    let mut my_index = 0;
    {
        let mut g = lock(&s.gate);
        mutating |= g.count_all;
        loop {
            if g.killed {
                return;
            }
            if !mutating {
                break;
            }
            if g.kill_after.is_none_or(|k| g.forwarded_mutating < k) {
                g.forwarded_mutating += 1;
                my_index = g.forwarded_mutating;
                lock(&s.mutating_log).push(
                    head.first
                        .rsplit_once(' ')
                        .map_or(head.first.clone(), |(l, _)| l.to_string()),
                );
                break;
            }
            // Past the k-th: hold it until the kill, then drop it.
            g = s
                .wake
                .wait_timeout(g, Duration::from_secs(1))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
    // Forward on a fresh connection; read the whole answer.
    let Ok(mut up) = TcpStream::connect(s.upstream) else {
        return;
    };
    let _ = up.set_read_timeout(Some(Duration::from_secs(120)));
    let mut req = head.write(
        &["content-length", "transfer-encoding", "accept-encoding"],
        &[("content-length", body.len().to_string())],
    );
    req.extend_from_slice(&body);
    if up.write_all(&req).is_err() {
        return;
    }
    let mut up_reader = BufReader::new(up);
    let Some(resp_head) = Head::read(&mut up_reader) else {
        return; // gcsim dropped the connection (a fault): drop the client's too
    };
    let resp_body = if resp_head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(&mut up_reader)
    } else if let Some(n) = resp_head
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut b = vec![0; n];
        up_reader.read_exact(&mut b).ok().map(|()| b)
    } else {
        let mut b = Vec::new();
        up_reader.read_to_end(&mut b).ok().map(|_| b)
    };
    let Some(resp_body) = resp_body else {
        return;
    };
    if let Ok(v) = serde_json::from_slice::<Value>(&resp_body) {
        let mut found = lock(&s.secrets);
        for key in ["access_token", "secret", "client_secret"] {
            if let Some(t) = v.get(key).and_then(Value::as_str) {
                found.insert(t.to_string());
            }
        }
    }
    let mut answer = resp_head.write(
        &["content-length", "transfer-encoding"],
        &[("content-length", resp_body.len().to_string())],
    );
    answer.extend_from_slice(&resp_body);
    // Deliver under the gate, so nothing slips out between the k-th answer
    // and the kill.
    let mut g = lock(&s.gate);
    if g.killed {
        return;
    }
    let mut client = client;
    if mutating && g.kill_after == Some(my_index) && g.kill_before_answer {
        if let Some(target) = &g.target {
            if let Some(child) = lock(target).as_mut() {
                let _ = child.kill(); // SIGKILL
            }
        }
        g.killed = true;
        s.wake.notify_all();
        return;
    }
    if mutating && g.kill_after == Some(my_index) {
        if let Some(hook) = g.hook.take() {
            hook();
            g.kill_after = None;
            s.wake.notify_all();
        }
    }
    let _ = client.write_all(&answer);
    let _ = client.flush();
    let _ = client.shutdown(Shutdown::Write);
    if mutating && g.kill_after == Some(my_index) {
        if let Some(target) = &g.target {
            if let Some(child) = lock(target).as_mut() {
                let _ = child.kill(); // SIGKILL
            }
        }
        g.killed = true;
        s.wake.notify_all();
    }
}

// ---------------------------------------------------------------------------
// Examples, work directories and gcrecon runs
// ---------------------------------------------------------------------------

/// One example: its manifest, gcsim fixture and test variables.
#[derive(Clone, Debug)]
pub struct Example {
    pub vendor: String,
    pub manifest: String,
    pub fixture: String,
    pub vars: Vec<(String, String)>,
}

impl Example {
    /// Reads `examples/<vendor>`.
    pub fn load(root: &Path, vendor: &str) -> Result<Example, String> {
        let dir = root.join("examples").join(vendor);
        let read = |p: PathBuf| fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()));
        let manifest = read(dir.join("gcrecon.toml"))?;
        let fixture = read(dir.join("gcsim").join("fixture.toml"))?;
        let vars = fs::read_to_string(dir.join("gcsim").join("vars.env"))
            .map(|t| {
                t.lines()
                    .filter(|l| l.trim_start().starts_with("GCRECON_VAR_"))
                    .filter_map(|l| l.trim().split_once('='))
                    .map(|(k, v)| {
                        let v = v.trim();
                        let v = v
                            .strip_prefix('"')
                            .and_then(|s| s.strip_suffix('"'))
                            .unwrap_or(v);
                        (k.to_string(), v.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Example {
            vendor: vendor.to_string(),
            manifest,
            fixture,
            vars,
        })
    }

    /// `client_secret = "..."` values of the fixture: secrets too.
    fn fixture_secrets(&self) -> Vec<String> {
        quoted_values(&self.fixture, "client_secret")
    }
}

/// The quoted values of `key = "..."` lines of a TOML text.
fn quoted_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// What one gcrecon run did.
#[derive(Clone, Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// The exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub killed: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "gcrecon {} -> {:?}{} after {} ms\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.code,
            if self.killed { " (killed)" } else { "" },
            self.elapsed.as_millis(),
            tail(&self.stdout, 4000),
            tail(&self.stderr, 6000)
        )
    }

    /// Fails unless the exit code is `code`.
    pub fn expect(&self, code: i32) -> Result<&Run, String> {
        if self.code == Some(code) {
            Ok(self)
        } else {
            Err(format!("expected exit {code}: {}", self.describe()))
        }
    }
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut at = s.len() - n;
    while !s.is_char_boundary(at) {
        at += 1;
    }
    &s[at..]
}

/// A started gcrecon process.
pub struct Running {
    slot: Slot,
    pid: u32,
    args: Vec<String>,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the process (killing it after `timeout`).
    pub fn wait(self, timeout: Duration) -> Run {
        let status = loop {
            if let Some(child) = lock(&self.slot).as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    break Some(status);
                }
                if self.started.elapsed() > timeout {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        lock(&self.slot).take();
        let killed = status.is_some_and(|s| s.code().is_none());
        Run {
            args: self.args,
            code: status.and_then(|s| s.code()),
            killed,
            stdout: fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: fs::read_to_string(&self.err).unwrap_or_default(),
            elapsed: self.started.elapsed(),
        }
    }
}

/// Counters over a whole suite (both the test and the xtask print them).
#[derive(Debug, Default)]
pub struct Totals {
    pub runs: AtomicU64,
    pub kills: AtomicU64,
    pub faults: AtomicU64,
    pub rate_limited: AtomicU64,
    pub secrets_checked: AtomicU64,
    pub files_scanned: AtomicU64,
    pub secret_hits: AtomicU64,
}

/// The suite's counters.
pub static TOTALS: Totals = Totals {
    runs: AtomicU64::new(0),
    kills: AtomicU64::new(0),
    faults: AtomicU64::new(0),
    rate_limited: AtomicU64::new(0),
    secrets_checked: AtomicU64::new(0),
    files_scanned: AtomicU64::new(0),
    secret_hits: AtomicU64::new(0),
};

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// An example copied into a temporary directory, a gcsim seeded with its
/// fixture, and a proxy in front of it.
pub struct Work {
    pub example: Example,
    pub dir: tempfile::TempDir,
    pub manifest: PathBuf,
    pub sim: Sim,
    pub proxy: Proxy,
    /// Credentials gcrecon logs in with.
    pub client: (String, String),
    /// Extra environment for every run (e.g. an access token).
    pub env: Vec<(String, String)>,
    runs: AtomicU64,
    /// Tokens from `/_sim/token`.
    user_tokens: Mutex<Vec<String>>,
    /// The org before gcrecon touched it.
    pub baseline: Value,
}

impl Work {
    /// Starts gcsim (configured by `sim`) with the example's fixture.
    pub fn new(
        root: &Path,
        vendor: &str,
        sim: impl FnOnce(SimBuilder) -> SimBuilder,
    ) -> Result<Work, String> {
        let example = Example::load(root, vendor)?;
        Work::with_example(example, sim)
    }

    /// As [`Work::new`], from an [`Example`] (whose fixture may be edited).
    pub fn with_example(
        example: Example,
        sim: impl FnOnce(SimBuilder) -> SimBuilder,
    ) -> Result<Work, String> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gcrecon-rel-{}-", example.vendor))
            .tempdir()
            .map_err(|e| e.to_string())?;
        let manifest = dir.path().join("gcrecon.toml");
        fs::write(&manifest, &example.manifest).map_err(|e| e.to_string())?;
        fs::create_dir_all(dir.path().join("logs")).map_err(|e| e.to_string())?;
        let sim = sim(Sim::builder().fixture_toml(&example.fixture)).try_start()?;
        let proxy = Proxy::start(sim.url());
        let client = (
            sim.admin_client_id().to_string(),
            sim.admin_client_secret().to_string(),
        );
        let baseline = sim.dump();
        Ok(Work {
            example,
            dir,
            manifest,
            sim,
            proxy,
            client,
            env: Vec::new(),
            runs: AtomicU64::new(0),
            user_tokens: Mutex::new(Vec::new()),
            baseline,
        })
    }

    /// The default state file.
    pub fn state_path(&self) -> PathBuf {
        self.dir
            .path()
            .join("state")
            .join(format!("{}.gcstate.json", self.manifest_name()))
    }

    /// The default secrets file (of the workspace `GCRECON_WORKSPACE` in
    /// [`Work::env`] names, if any).
    pub fn secrets_path(&self) -> PathBuf {
        let workspace = self
            .env
            .iter()
            .find(|(k, _)| k == "GCRECON_WORKSPACE")
            .map(|(_, v)| v.as_str())
            .filter(|w| !w.is_empty() && *w != "default");
        let stem = match workspace {
            Some(w) => format!("{}.{w}", self.manifest_name()),
            None => self.manifest_name(),
        };
        self.dir
            .path()
            .join("state")
            .join(format!("{stem}.secrets.json"))
    }

    fn manifest_name(&self) -> String {
        quoted_values(&self.example.manifest, "name")
            .into_iter()
            .next()
            .unwrap_or_else(|| self.example.vendor.clone())
    }

    /// A user access token from `/_sim/token` (remembered as a secret).
    pub fn user_token(&self, email: &str) -> String {
        let t = self.sim.user_token(email);
        lock(&self.user_tokens).push(t.clone());
        t
    }

    fn command(&self, args: &[&str]) -> (Command, Vec<String>) {
        let mut cmd = Command::new(bin_path("gcrecon"));
        let mut all: Vec<String> = vec![
            "-m".into(),
            self.manifest.display().to_string(),
            "--api-url".into(),
            self.proxy.url().to_string(),
            "--no-color".into(),
            "-v".into(),
        ];
        all.extend(args.iter().map(|a| (*a).to_string()));
        cmd.args(&all).current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("GENESYSCLOUD_") || k.starts_with("GCRECON_") {
                cmd.env_remove(k);
            }
        }
        if !self.client.0.is_empty() {
            cmd.env("GENESYSCLOUD_OAUTHCLIENT_ID", &self.client.0)
                .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", &self.client.1);
        }
        // gcsim serves every region from one URL: name the fixture org's
        // region, as the examples' READMEs do, for `data.org.region`.
        if let Some(region) = quoted_values(&self.example.fixture, "region").first() {
            cmd.env("GENESYSCLOUD_REGION", region);
        }
        cmd.env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE");
        for (k, v) in self.example.vars.iter().chain(&self.env) {
            cmd.env(k, v);
        }
        (cmd, all)
    }

    /// Starts gcrecon with `args` (after `-m`, `--api-url` and `-v`); the
    /// proxy kills it after `kill_after` mutating calls when given.
    pub fn spawn(&self, args: &[&str], kill_after: Option<u32>) -> Result<Running, String> {
        self.spawn_with(args, kill_after, false, None)
    }

    /// As [`Work::spawn`]; with `count_all`, every request counts towards
    /// `kill_after` (reads and logins too); with a `hook`, the k-th answer
    /// runs it instead of killing.
    pub fn spawn_with(
        &self,
        args: &[&str],
        kill_after: Option<u32>,
        count_all: bool,
        at_answer: Option<AtAnswer>,
    ) -> Result<Running, String> {
        let (mut cmd, all) = self.command(args);
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let logs = self.dir.path().join("logs");
        let out = logs.join(format!("{n:04}.stdout"));
        let err = logs.join(format!("{n:04}.stderr"));
        let file = |p: &Path| fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
        cmd.stdin(Stdio::null())
            .stdout(file(&out)?)
            .stderr(file(&err)?);
        let slot: Slot = Arc::new(Mutex::new(None));
        // Hold the slot while arming and spawning, so a kill waits for the child.
        let mut s = lock(&slot);
        if kill_after.is_some() {
            self.proxy
                .arm_counting(kill_after, Some(slot.clone()), count_all);
            let mut g = lock(&self.proxy.shared.gate);
            match at_answer {
                Some(AtAnswer::Hook(h)) => g.hook = Some(h),
                Some(AtAnswer::KillBefore) => g.kill_before_answer = true,
                None => {}
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start gcrecon: {e}"))?;
        let pid = child.id();
        *s = Some(child);
        drop(s);
        bump(&TOTALS.runs, 1);
        Ok(Running {
            slot,
            pid,
            args: all,
            out,
            err,
            started: Instant::now(),
        })
    }

    /// Runs gcrecon to its end.
    pub fn run(&self, args: &[&str]) -> Result<Run, String> {
        self.proxy.arm(None, None);
        Ok(self.spawn(args, None)?.wait(RUN_TIMEOUT))
    }

    /// Runs gcrecon, expecting exit `code`.
    pub fn run_expect(&self, args: &[&str], code: i32) -> Result<Run, String> {
        let r = self.run(args)?;
        r.expect(code)?;
        Ok(r)
    }

    /// The state file as JSON.
    pub fn state(&self) -> Result<Value, String> {
        let text = fs::read_to_string(self.state_path())
            .map_err(|e| format!("{}: {e}", self.state_path().display()))?;
        serde_json::from_str(&text).map_err(|e| format!("state is not JSON: {e}"))
    }

    /// Mutating calls gcsim counted (`/_sim/stats`, every route but GETs,
    /// `POST /oauth/token` and searches), and faults and 429s it injected.
    pub fn sim_counts(&self) -> (u64, u64, u64) {
        let st = self.sim.stats();
        let mutating = st["by_route"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(route, _)| is_mutating(route))
                    .map(|(_, n)| n.as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0);
        (
            mutating,
            st["faults"].as_u64().unwrap_or(0),
            st["rate_limited"].as_u64().unwrap_or(0),
        )
    }

    /// Adds gcsim's injected faults and 429s to the totals.
    fn count_faults(&self) {
        let (_, faults, limited) = self.sim_counts();
        bump(&TOTALS.faults, faults);
        bump(&TOTALS.rate_limited, limited);
    }

    /// Every secret and token gcsim issued in this work: the login client
    /// secret, the fixture's client secrets, the secrets file's, tokens
    /// from `/_sim/token` and every token and secret gcsim answered.
    pub fn secrets(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.proxy.secrets_seen();
        all.insert(self.client.1.clone());
        all.insert(self.sim.admin_client_secret().to_string());
        all.extend(self.example.fixture_secrets());
        all.extend(lock(&self.user_tokens).iter().cloned());
        if let Ok(text) = fs::read_to_string(self.secrets_path()) {
            if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&text) {
                for v in m.values() {
                    if let Some(s) = v["client_secret"].as_str() {
                        all.insert(s.to_string());
                    }
                }
            }
        }
        all.retain(|s| s.len() >= 8);
        all
    }

    /// Searches every file this work produced (state, plans, locks, temp
    /// files, every run's stdout and stderr) except the secrets file itself
    /// for every secret; answers the hits as `file: secret prefix`.
    pub fn scan_secrets(&self) -> Vec<String> {
        let secrets = self.secrets();
        let skip = self.secrets_path();
        let mut hits = Vec::new();
        let mut files = 0;
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p == skip || p.to_string_lossy().contains(".secrets.json") {
                    continue;
                }
                let Ok(bytes) = fs::read(&p) else { continue };
                files += 1;
                let text = String::from_utf8_lossy(&bytes);
                for s in &secrets {
                    if text.contains(s.as_str()) {
                        hits.push(format!(
                            "{}: {}…",
                            p.strip_prefix(self.dir.path()).unwrap_or(&p).display(),
                            &s[..4]
                        ));
                    }
                }
            }
        }
        bump(&TOTALS.files_scanned, files);
        bump(&TOTALS.secrets_checked, secrets.len() as u64);
        bump(&TOTALS.secret_hits, hits.len() as u64);
        hits
    }

    /// Counts faults and fails if any secret leaked: call at the end of
    /// every scenario.
    pub fn finish(&self) -> Result<(), String> {
        self.count_faults();
        let hits = self.scan_secrets();
        if hits.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{}: secrets found in files gcrecon wrote: {hits:?}",
                self.example.vendor
            ))
        }
    }
}

// ---------------------------------------------------------------------------
// Comparing orgs
// ---------------------------------------------------------------------------

/// Label of every object id in a dump: `kind:name` (the org is `org`).
fn id_labels(dump: &Value) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let Some(top) = dump.as_object() else {
        return labels;
    };
    for (kind, v) in top {
        let objects: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::Object(o) if kind != "org" => o.values().collect(),
            Value::Object(_) => vec![v],
            _ => Vec::new(),
        };
        for o in objects {
            let Some(id) = o.get("id").and_then(Value::as_str) else {
                continue;
            };
            let name = ["name", "email"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str))
                .unwrap_or("?");
            let label = if kind == "org" {
                "org".to_string()
            } else {
                format!("{kind}:{name}")
            };
            labels.insert(id.to_string(), label);
        }
    }
    labels
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        })
}

/// An RFC 3339 date-time (`2026-11-23T12:32:20.915Z`).
fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
}

fn normalize_value(v: &Value, labels: &BTreeMap<String, String>) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !(k.as_str() == "version"
                        || k.as_str() == "selfUri"
                        || k.starts_with("date")
                        || k.as_str() == "contextId")
                })
                .map(|(k, v)| (k.clone(), normalize_value(v, labels)))
                .collect(),
        ),
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(|x| normalize_value(x, labels)).collect();
            items.sort_by_key(Value::to_string);
            Value::Array(items)
        }
        Value::String(s) => {
            if let Some(l) = labels.get(s) {
                return Value::String(l.clone());
            }
            let mut out = s.clone();
            for (id, label) in labels {
                if id.len() >= 8 && out.contains(id.as_str()) {
                    out = out.replace(id.as_str(), label);
                }
            }
            if looks_like_uuid(&out) {
                out = "<id>".into();
            } else if looks_like_time(&out) {
                out = "<time>".into();
            }
            Value::String(out)
        }
        other => other.clone(),
    }
}

/// A dump with ids replaced by `kind:name`, and versions, dates and self
/// URIs left out, lists sorted: equal for equal orgs made at other times.
pub fn normalize(dump: &Value) -> Value {
    normalize_value(dump, &id_labels(dump))
}

/// Names that appear more than once in a kind of object (where the
/// baseline had them once or not at all), and repeated grants.
pub fn duplicates(dump: &Value, baseline: &Value) -> Vec<String> {
    let count = |d: &Value| {
        let mut c: BTreeMap<String, usize> = BTreeMap::new();
        if let Some(top) = d.as_object() {
            for (kind, v) in top {
                let Some(a) = v.as_array() else { continue };
                for o in a {
                    let key = match o.get("name").and_then(Value::as_str) {
                        Some(n) => format!("{kind}: {n}"),
                        None if kind == "grants" => format!("{kind}: {o}"),
                        None => continue,
                    };
                    *c.entry(key).or_default() += 1;
                }
            }
        }
        c
    };
    let before = count(baseline);
    count(dump)
        .into_iter()
        .filter(|(k, n)| *n > 1 && *n > before.get(k).copied().unwrap_or(0))
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect()
}

/// A line diff of two JSON values, for failure messages.
fn json_diff(want: &Value, got: &Value) -> String {
    let a = serde_json::to_string_pretty(want).unwrap_or_default();
    let b = serde_json::to_string_pretty(got).unwrap_or_default();
    let a: BTreeSet<&str> = a.lines().collect();
    let b: BTreeSet<&str> = b.lines().collect();
    let mut out = String::new();
    for l in a.difference(&b).take(40) {
        out.push_str(&format!("- {l}\n"));
    }
    for l in b.difference(&a).take(40) {
        out.push_str(&format!("+ {l}\n"));
    }
    out
}

/// Every state resource's id exists in the org, every object gcrecon
/// created is in the state, and nothing is left pending.
pub fn state_matches_org(state: &Value, dump: &Value, baseline: &Value) -> Result<(), String> {
    let dump_text = dump.to_string();
    let mut problems = Vec::new();
    for r in state["resources"].as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or("");
        if id.is_empty() || !dump_text.contains(&format!("\"{id}\"")) {
            problems.push(format!(
                "{} (id {id}) is in the state but not in the org",
                r["address"]
            ));
        }
    }
    problems.extend(unrecorded_objects(state, dump, baseline));
    if state["pending"].as_array().is_some_and(|p| !p.is_empty()) {
        problems.push(format!("operations left pending: {}", state["pending"]));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Objects in the org that were not in `baseline` and that the state does
/// not name: changes gcrecon made and forgot.
pub fn unrecorded_objects(state: &Value, dump: &Value, baseline: &Value) -> Vec<String> {
    let state_text = state.to_string();
    let mut problems = Vec::new();
    let before = id_labels(baseline);
    for (id, label) in id_labels(dump) {
        // An identity provider's id in the state is its name (`pureengage`).
        let idp = label
            .strip_prefix("identity_providers:")
            .map(|_| dump["identity_providers"].as_object())
            .and_then(|m| {
                m?.iter()
                    .find(|(_, v)| v["id"] == json!(id))
                    .map(|(k, _)| k.clone())
            });
        if let Some(key) = idp {
            if !state_text.contains(&format!("\"{key}\"")) {
                problems.push(format!(
                    "{label} ({key}) is in the org but not in the state"
                ));
            }
            continue;
        }
        if !before.contains_key(&id) && !state_text.contains(&id) {
            problems.push(format!(
                "{label} (id {id}) is in the org but not in the state"
            ));
        }
    }
    problems
}

/// Every OAuth client in the state has its credentials in the secrets file
/// (a secret is returned only when a client is created or rotated: one that
/// is not written down is lost), and client-credentials ones log in with them.
pub fn secrets_delivered(w: &Work, state: &Value, dump: &Value) -> Result<(), String> {
    let file: Value = match fs::read_to_string(w.secrets_path()) {
        Ok(t) => {
            serde_json::from_str(&t).map_err(|e| format!("the secrets file is not JSON: {e}"))?
        }
        Err(_) => json!({}),
    };
    let mut problems = Vec::new();
    for r in state["resources"].as_array().into_iter().flatten() {
        if r["kind"] != "oauth_client" {
            continue;
        }
        let address = r["address"].as_str().unwrap_or("?");
        let entry = &file[address];
        let (Some(id), Some(secret)) =
            (entry["client_id"].as_str(), entry["client_secret"].as_str())
        else {
            problems.push(format!("{address}: no credentials in the secrets file"));
            continue;
        };
        let live = dump["oauth_clients"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["id"] == json!(id));
        match live {
            None => problems.push(format!(
                "{address}: client id {id} of the secrets file is not in the org"
            )),
            Some(c) if c["authorizedGrantType"] == "CLIENT-CREDENTIALS" => {
                if !can_log_in(w.sim.url(), id, secret) {
                    problems.push(format!(
                        "{address}: the secret in the secrets file does not log in"
                    ));
                }
            }
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `POST /oauth/token` with client credentials straight to gcsim.
fn can_log_in(url: &str, id: &str, secret: &str) -> bool {
    let Ok(mut conn) = TcpStream::connect(url.trim_start_matches("http://")) else {
        return false;
    };
    let body = "grant_type=client_credentials";
    let req = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        base64(format!("{id}:{secret}").as_bytes()),
        body.len()
    );
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    if conn.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut first = String::new();
    let _ = BufReader::new(conn).read_line(&mut first);
    first.split_whitespace().nth(1) == Some("200")
}

/// Asserts the converged outcome: the org equals `reference` (normalized),
/// no duplicates, the state matches, and `plan --detailed-exitcode` is 0.
pub fn assert_converged(w: &Work, reference: &Value, what: &str) -> Result<(), String> {
    converged_org(w, reference, what)?;
    secrets_delivered(w, &w.state()?, &w.sim.dump()).map_err(|e| format!("{what}: {e}"))
}

/// [`assert_converged`] but for the secrets file.
fn converged_org(w: &Work, reference: &Value, what: &str) -> Result<(), String> {
    let dump = w.sim.dump();
    let dups = duplicates(&dump, &w.baseline);
    if !dups.is_empty() {
        return Err(format!("{what}: duplicates in the org: {dups:?}"));
    }
    let got = normalize(&dump);
    if &got != reference {
        return Err(format!(
            "{what}: the org differs from the clean apply:\n{}",
            json_diff(reference, &got)
        ));
    }
    let state = w.state()?;
    state_matches_org(&state, &dump, &w.baseline).map_err(|e| format!("{what}: {e}"))?;
    let plan = w.run(&["plan", "--detailed-exitcode"])?;
    plan.expect(0)
        .map_err(|e| format!("{what}: re-plan not clean: {e}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// The org after a clean apply of `vendor`, normalized, and the number of
/// mutating calls that apply made (counted by the proxy, checked against
/// gcsim's stats).
pub fn clean_apply(root: &Path, vendor: &str) -> Result<(Value, u32), String> {
    static CACHE: Mutex<BTreeMap<String, (Value, u32)>> = Mutex::new(BTreeMap::new());
    if let Some(hit) = lock(&CACHE).get(vendor) {
        return Ok(hit.clone());
    }
    let fresh = clean_apply_uncached(root, vendor)?;
    lock(&CACHE).insert(vendor.to_string(), fresh.clone());
    Ok(fresh)
}

/// [`clean_apply`] without its per-process cache.
fn clean_apply_uncached(root: &Path, vendor: &str) -> Result<(Value, u32), String> {
    let w = Work::new(root, vendor, |b| b)?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    let calls = w.proxy.mutating();
    let (sim_calls, _, _) = w.sim_counts();
    if u64::from(calls) != sim_calls {
        return Err(format!(
            "{vendor}: the proxy counted {calls} mutating calls, gcsim {sim_calls}"
        ));
    }
    let reference = normalize(&w.sim.dump());
    assert_converged(&w, &reference, &format!("{vendor} clean apply"))?;
    w.finish()?;
    Ok((reference, calls))
}

/// What the crash loop saw.
#[derive(Clone, Debug, Default)]
pub struct CrashReport {
    /// Mutating calls of a clean apply.
    pub calls: u32,
    /// Applies killed (one per k).
    pub kills: u32,
    /// Runs of gcrecon.
    pub runs: u64,
    /// Kills after which an OAuth client's secret was lost (the client
    /// exists, the secrets file has no credentials for it), recovered with
    /// `gcrecon rotate` under [`LostSecrets::Rotate`].
    pub lost_secrets: Vec<String>,
}

/// What to do when a crash loses an OAuth client's secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostSecrets {
    /// It is a failure.
    Fail,
    /// Record it, recover with `gcrecon rotate ADDR`, and go on.
    Rotate,
}

/// Kill `apply` after its k-th mutating call for every k in `ks` (all of
/// 1..=calls when `None`), re-apply, and check convergence each time.
pub fn crash_every_step(
    root: &Path,
    vendor: &str,
    ks: Option<Vec<u32>>,
    lost: LostSecrets,
) -> Result<CrashReport, String> {
    let runs_before = TOTALS.runs.load(Ordering::Relaxed);
    let (reference, calls) = clean_apply(root, vendor)?;
    if calls == 0 {
        return Err(format!("{vendor}: the clean apply made no mutating call"));
    }
    let ks = ks.unwrap_or_else(|| (1..=calls).collect());
    let mut report = CrashReport {
        calls,
        ..CrashReport::default()
    };
    for k in ks {
        let w = Work::new(root, vendor, |b| b)?;
        let run = w
            .spawn(&["apply", "--auto-approve"], Some(k))?
            .wait(RUN_TIMEOUT);
        if !run.killed {
            return Err(format!(
                "{vendor} k={k}: apply was not killed after its {k}-th mutating call (made {}): {}",
                w.proxy.mutating(),
                run.describe()
            ));
        }
        report.kills += 1;
        bump(&TOTALS.kills, 1);
        let killed_at = w.proxy.mutating_log().last().cloned().unwrap_or_default();
        let again = w.run(&["apply", "--auto-approve"])?;
        again.expect(0).map_err(|e| {
            format!("{vendor} k={k} (killed after {killed_at}): re-apply failed: {e}")
        })?;
        let what = format!("{vendor} k={k} (killed after {killed_at})");
        converged_org(&w, &reference, &what)?;
        let state = w.state()?;
        if let Err(e) = secrets_delivered(&w, &state, &w.sim.dump()) {
            if lost == LostSecrets::Fail {
                return Err(format!("{what}: {e}"));
            }
            report.lost_secrets.push(format!("{what}: {e}"));
            let file: Value = fs::read_to_string(w.secrets_path())
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            for r in state["resources"].as_array().into_iter().flatten() {
                let address = r["address"].as_str().unwrap_or("?");
                if r["kind"] == "oauth_client" && file[address]["client_secret"].is_null() {
                    w.run_expect(&["rotate", address], 0)
                        .map_err(|e| format!("{what}: rotate {address}: {e}"))?;
                }
            }
            secrets_delivered(&w, &w.state()?, &w.sim.dump())
                .map_err(|e| format!("{what}: even after rotate: {e}"))?;
        }
        w.finish()?;
    }
    report.runs = TOTALS.runs.load(Ordering::Relaxed) - runs_before;
    Ok(report)
}

/// Resource changes of a `plan --format json` answer that are not no-ops.
fn plan_changes(stdout: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let v: Value = serde_json::from_str(stdout).map_err(|e| {
        format!(
            "plan --format json printed no JSON ({e}): {}",
            tail(stdout, 2000)
        )
    })?;
    Ok(v["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let actions: Vec<String> = c["change"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            (!actions.iter().all(|a| a == "no-op" || a == "read"))
                .then(|| (c["address"].as_str().unwrap_or("?").to_string(), actions))
        })
        .collect())
}

/// What a fault scenario saw.
#[derive(Clone, Debug, Default)]
pub struct FaultReport {
    pub applies: u32,
    pub plans: u32,
    /// Plans that failed (exit 1) under faults, as allowed.
    pub failed_plans: u32,
    pub faults: u64,
    pub rate_limited: u64,
}

/// Runs `args` until it exits 0 (at most `tries` times). Exit codes other
/// than 0 and 1 are failures.
fn until_ok(w: &Work, args: &[&str], tries: u32) -> Result<u32, String> {
    for n in 1..=tries {
        let r = w.run(args)?;
        match r.code {
            Some(0) => return Ok(n),
            Some(1) => {}
            _ => return Err(format!("unexpected exit: {}", r.describe())),
        }
        if n == tries {
            return Err(format!("no success after {tries} tries: {}", r.describe()));
        }
    }
    Ok(tries)
}

/// `--fault-rate rate --seed seed`: apply converges (retried while it
/// exits 1), then `plans` plans under faults never plan a change, then the
/// faults stop and the org equals the clean apply.
pub fn faults(
    root: &Path,
    vendor: &str,
    rate: f64,
    seed: u64,
    plans: u32,
) -> Result<FaultReport, String> {
    let (reference, _) = clean_apply(root, vendor)?;
    let w = Work::new(root, vendor, |b| b.fault_rate(rate).seed(seed))?;
    let mut rep = FaultReport {
        ..FaultReport::default()
    };
    rep.applies = until_ok(&w, &["apply", "--auto-approve"], 10)
        .map_err(|e| format!("{vendor}: apply under {rate} faults: {e}"))?;
    for _ in 0..plans {
        let r = w.run(&["plan", "--format", "json", "--detailed-exitcode"])?;
        rep.plans += 1;
        match r.code {
            Some(0) => {}
            Some(1) => rep.failed_plans += 1,
            Some(2) => {
                let changes = plan_changes(&r.stdout)?;
                return Err(format!(
                    "{vendor}: a plan under faults planned changes to a converged org: {changes:?}\n{}",
                    r.describe()
                ));
            }
            _ => return Err(format!("{vendor}: plan under faults: {}", r.describe())),
        }
    }
    let (_, f, l) = w.sim_counts();
    rep.faults = f;
    rep.rate_limited = l;
    w.sim.faults(json!({ "fault_rate": 0.0 }));
    assert_converged(&w, &reference, &format!("{vendor} under faults"))?;
    w.finish()?;
    Ok(rep)
}

/// Faults during refresh after a clean apply: every plan made while reads
/// fail either fails (exit 1) or plans nothing; never a delete, a
/// re-create or a create of something that exists; and applies made under
/// the same faults make no mutating call at all.
pub fn faulty_reads_never_plan_changes(
    root: &Path,
    vendor: &str,
    rate: f64,
    plans: u32,
) -> Result<FaultReport, String> {
    let w = Work::new(root, vendor, |b| b.seed(7))?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    w.sim.faults(json!({ "fault_rate": rate }));
    let mut rep = FaultReport {
        applies: 1,
        ..FaultReport::default()
    };
    for _ in 0..plans {
        let r = w.run(&["plan", "--format", "json", "--detailed-exitcode"])?;
        rep.plans += 1;
        match r.code {
            Some(0) => {}
            Some(1) => rep.failed_plans += 1,
            Some(2) => {
                let changes = plan_changes(&r.stdout)?;
                return Err(format!(
                    "{vendor}: failed reads became planned changes: {changes:?}\n{}",
                    r.describe()
                ));
            }
            _ => return Err(format!("{vendor}: plan: {}", r.describe())),
        }
    }
    // Applies to the converged org under the same faults change nothing:
    // not one mutating call, the same objects (ids) afterwards.
    let ids_before: BTreeSet<String> = id_labels(&w.sim.dump()).into_keys().collect();
    for _ in 0..plans.div_ceil(5) {
        let r = w.run(&["apply", "--auto-approve"])?;
        rep.applies += 1;
        if !matches!(r.code, Some(0 | 1)) || w.proxy.mutating() != 0 {
            return Err(format!(
                "{vendor}: an apply to a converged org under faults changed it: {:?}\n{}",
                w.proxy.mutating_log(),
                r.describe()
            ));
        }
    }
    let ids_after: BTreeSet<String> = id_labels(&w.sim.dump()).into_keys().collect();
    if ids_after != ids_before {
        return Err(format!(
            "{vendor}: objects changed under faults: gone {:?}, new {:?}",
            ids_before.difference(&ids_after).collect::<Vec<_>>(),
            ids_after.difference(&ids_before).collect::<Vec<_>>()
        ));
    }
    let (_, f, l) = w.sim_counts();
    rep.faults = f;
    rep.rate_limited = l;
    w.sim.faults(json!({ "fault_rate": 0.0 }));
    w.run_expect(&["plan", "--detailed-exitcode"], 0)?;
    w.finish()?;
    Ok(rep)
}

/// `--rate-limit per_minute`: apply completes (waiting out 429s) and the
/// org equals the clean apply.
pub fn rate_limit_storm(root: &Path, vendor: &str, per_minute: u64) -> Result<FaultReport, String> {
    let (reference, _) = clean_apply(root, vendor)?;
    let w = Work::new(root, vendor, |b| b.rate_limit(per_minute))?;
    let mut rep = FaultReport {
        ..FaultReport::default()
    };
    rep.applies = until_ok(&w, &["apply", "--auto-approve"], 3)
        .map_err(|e| format!("{vendor}: apply under --rate-limit {per_minute}: {e}"))?;
    let r = w.run(&["plan", "--format", "json", "--detailed-exitcode"])?;
    rep.plans = 1;
    if r.code != Some(0) {
        return Err(format!(
            "{vendor}: plan under a 429 storm: {}",
            r.describe()
        ));
    }
    let (_, f, l) = w.sim_counts();
    rep.faults = f;
    rep.rate_limited = l;
    w.sim.faults(json!({ "rate_limit": 0 }));
    assert_converged(
        &w,
        &reference,
        &format!("{vendor} under --rate-limit {per_minute}"),
    )?;
    w.finish()?;
    Ok(rep)
}

/// `--eventual-ms`: apply, then at once a plan (no creates) and another
/// apply (no duplicates).
pub fn eventual(root: &Path, vendor: &str, ms: u64) -> Result<(), String> {
    let (reference, _) = clean_apply(root, vendor)?;
    let w = Work::new(root, vendor, |b| b.eventual_ms(ms))?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    let r = w.run(&["plan", "--format", "json", "--detailed-exitcode"])?;
    let changes = plan_changes(&r.stdout)?;
    let creates: Vec<_> = changes
        .iter()
        .filter(|(_, a)| a.iter().any(|x| x == "create" || x == "delete"))
        .collect();
    if !creates.is_empty() || r.code != Some(0) {
        return Err(format!(
            "{vendor}: a plan right after apply (objects not yet listed) wants: {changes:?}\n{}",
            r.describe()
        ));
    }
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    let dups = duplicates(&w.sim.dump(), &w.baseline);
    if !dups.is_empty() {
        return Err(format!(
            "{vendor}: duplicates after apply under --eventual-ms {ms}: {dups:?}"
        ));
    }
    std::thread::sleep(Duration::from_millis(ms));
    assert_converged(
        &w,
        &reference,
        &format!("{vendor} under --eventual-ms {ms}"),
    )?;
    w.finish()
}

/// Two applies at once on one state: one applies, the other exits 3
/// naming the holder; the org equals the clean apply.
pub fn concurrent_applies(root: &Path, vendor: &str) -> Result<(), String> {
    let (reference, _) = clean_apply(root, vendor)?;
    let w = Work::new(root, vendor, |b| b.latency_ms(40))?;
    let a = w.spawn(&["apply", "--auto-approve"], None)?;
    let b = w.spawn(&["apply", "--auto-approve"], None)?;
    let (pa, pb) = (a.pid(), b.pid());
    let (ra, rb) = (a.wait(RUN_TIMEOUT), b.wait(RUN_TIMEOUT));
    let (winner, loser, winner_pid) = match (ra.code, rb.code) {
        (Some(0), Some(3)) => (&ra, &rb, pa),
        (Some(3), Some(0)) => (&rb, &ra, pb),
        _ => {
            return Err(format!(
                "{vendor}: two applies at once: want one 0 and one 3, got\n{}\n{}",
                ra.describe(),
                rb.describe()
            ))
        }
    };
    let _ = winner;
    if !loser.stderr.contains(&format!("pid {winner_pid}")) || !loser.stderr.contains("apply") {
        return Err(format!(
            "{vendor}: the locked-out apply does not name the holder (pid {winner_pid}, apply): {}",
            loser.describe()
        ));
    }
    if lock_path(&w.state_path()).exists() {
        return Err(format!("{vendor}: the lock remains after apply"));
    }
    assert_converged(&w, &reference, &format!("{vendor} two applies at once"))?;
    w.finish()
}

fn lock_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// A lock left by a killed apply is broken automatically (its pid is gone
/// on this host) with a warning; a lock whose holder cannot be proven gone
/// (another host, or a live pid) is reported with exit 3 and removed by
/// `force-unlock ID`.
pub fn stale_locks(root: &Path, vendor: &str) -> Result<(), String> {
    let w = Work::new(root, vendor, |b| b.latency_ms(20))?;
    // A killed apply leaves its lock.
    let run = w
        .spawn(&["apply", "--auto-approve"], Some(1))?
        .wait(RUN_TIMEOUT);
    if !run.killed {
        return Err(format!(
            "{vendor}: apply was not killed: {}",
            run.describe()
        ));
    }
    bump(&TOTALS.kills, 1);
    let lock_file = lock_path(&w.state_path());
    let left = fs::read_to_string(&lock_file)
        .map_err(|e| format!("{vendor}: a killed apply left no lock file ({e})"))?;
    let info: Value = serde_json::from_str(&left).map_err(|e| format!("lock file: {e}"))?;
    // Its pid is gone: the next run breaks it, with a warning, and applies.
    let r = w.run_expect(&["apply", "--auto-approve"], 0)?;
    let id = info["id"].as_str().unwrap_or("?");
    if !r.stderr.contains("stale lock") && !r.stderr.contains(id) {
        return Err(format!(
            "{vendor}: a dead holder's lock was broken without a warning naming it: {}",
            r.describe()
        ));
    }
    // A lock held by a live process on this host (this very process).
    let mut live = info.clone();
    live["pid"] = json!(std::process::id());
    live["id"] = json!("11111111-1111-4111-8111-111111111111");
    fs::write(&lock_file, live.to_string()).map_err(|e| e.to_string())?;
    let r = w.run_expect(&["plan"], 3)?;
    if !r.stderr.contains("11111111-1111-4111-8111-111111111111") {
        return Err(format!(
            "{vendor}: exit 3 without the lock id: {}",
            r.describe()
        ));
    }
    // A lock from another host: cannot be proven gone.
    let mut other = info.clone();
    other["host"] = json!("ci-runner-elsewhere");
    other["who"] = json!("ci@ci-runner-elsewhere");
    other["pid"] = json!(1);
    other["id"] = json!("22222222-2222-4222-8222-222222222222");
    fs::write(&lock_file, other.to_string()).map_err(|e| e.to_string())?;
    let r = w.run_expect(&["apply", "--auto-approve"], 3)?;
    for want in [
        "22222222-2222-4222-8222-222222222222",
        "ci@ci-runner-elsewhere",
        "force-unlock",
    ] {
        if !r.stderr.contains(want) {
            return Err(format!(
                "{vendor}: exit 3 without `{want}`: {}",
                r.describe()
            ));
        }
    }
    // force-unlock with a wrong id keeps it; with the right id removes it.
    let r = w.run(&["force-unlock", "33333333-3333-4333-8333-333333333333"])?;
    if r.code == Some(0) || !lock_file.exists() {
        return Err(format!(
            "{vendor}: force-unlock with a wrong id removed the lock: {}",
            r.describe()
        ));
    }
    w.run_expect(&["force-unlock", "22222222-2222-4222-8222-222222222222"], 0)?;
    if lock_file.exists() {
        return Err(format!("{vendor}: force-unlock left the lock file"));
    }
    w.run_expect(&["plan", "--detailed-exitcode"], 0)?;
    w.finish()
}

/// A bad state is refused with a clear error, its bytes untouched, the
/// org untouched.
pub fn bad_states(root: &Path, vendor: &str) -> Result<u32, String> {
    let w = Work::new(root, vendor, |b| b)?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    let path = w.state_path();
    let good = fs::read(&path).map_err(|e| e.to_string())?;
    let state: Value = serde_json::from_slice(&good).map_err(|e| e.to_string())?;
    let mut cases: Vec<(&str, Vec<u8>, &[&str])> = Vec::new();
    cases.push(("truncated", good[..good.len() / 2].to_vec(), &["state"]));
    cases.push((
        "invalid JSON",
        b"{\"format_version\": 1, lineage: }".to_vec(),
        &["state"],
    ));
    cases.push(("empty", Vec::new(), &["state"]));
    let mut future = state.clone();
    future["format_version"] = json!(99);
    cases.push((
        "future format version",
        serde_json::to_vec_pretty(&future).unwrap(),
        &["99"],
    ));
    let mut other_org = state.clone();
    other_org["org_id"] = json!("99999999-9999-4999-8999-999999999999");
    cases.push((
        "another org",
        serde_json::to_vec_pretty(&other_org).unwrap(),
        &["99999999-9999-4999-8999-999999999999"],
    ));
    let mut checked = 0;
    let mutating_before = w.sim_counts().0;
    let dump_before = normalize(&w.sim.dump());
    for (what, bytes, words) in &cases {
        fs::write(&path, bytes).map_err(|e| e.to_string())?;
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"][..],
            &["destroy", "--auto-approve"][..],
        ] {
            let r = w.run(args)?;
            checked += 1;
            let after = fs::read(&path).map_err(|e| e.to_string())?;
            if r.code != Some(1) {
                return Err(format!(
                    "{vendor}: {what} state: want exit 1: {}",
                    r.describe()
                ));
            }
            if &after != bytes {
                return Err(format!(
                    "{vendor}: {what} state: `{}` changed the file",
                    args.join(" ")
                ));
            }
            let err = r.stderr.to_lowercase();
            if !err.contains("error")
                || !words.iter().all(|word| err.contains(&word.to_lowercase()))
            {
                return Err(format!(
                    "{vendor}: {what} state: the error does not say {words:?}: {}",
                    r.describe()
                ));
            }
            if lock_path(&path).exists() {
                return Err(format!("{vendor}: {what} state: the lock was left behind"));
            }
        }
    }
    // A saved plan against a state of another lineage.
    fs::write(&path, &good).map_err(|e| e.to_string())?;
    let plan_file = w.dir.path().join("change.gcplan");
    let plan_arg = plan_file.display().to_string();
    w.run_expect(&["plan", "--out", &plan_arg], 0)?;
    let plan_bytes = fs::read(&plan_file).map_err(|e| e.to_string())?;
    let mut relined = state;
    relined["lineage"] = json!("44444444-4444-4444-8444-444444444444");
    let relined = serde_json::to_vec_pretty(&relined).unwrap();
    fs::write(&path, &relined).map_err(|e| e.to_string())?;
    let r = w.run(&["apply", &plan_arg])?;
    checked += 1;
    if r.code != Some(1)
        || !r.stderr.to_lowercase().contains("lineage")
        || fs::read(&path).map_err(|e| e.to_string())? != relined
        || fs::read(&plan_file).map_err(|e| e.to_string())? != plan_bytes
    {
        return Err(format!(
            "{vendor}: a saved plan applied to another lineage: want exit 1 naming the lineage, files untouched: {}",
            r.describe()
        ));
    }
    fs::write(&path, &good).map_err(|e| e.to_string())?;
    if w.sim_counts().0 != mutating_before || normalize(&w.sim.dump()) != dump_before {
        return Err(format!("{vendor}: a refused state still changed the org"));
    }
    w.run_expect(&["plan", "--detailed-exitcode"], 0)?;
    w.finish()?;
    Ok(checked)
}

/// A damaged secrets file (truncated, an entry that is not credentials)
/// stops `apply` before any API change, with an error naming the file,
/// whose bytes stay as they were; answers the runs refused.
pub fn bad_secrets_file(root: &Path, vendor: &str) -> Result<u32, String> {
    let w = Work::new(root, vendor, |b| b)?;
    let path = w.secrets_path();
    fs::create_dir_all(path.parent().ok_or("no state dir")?).map_err(|e| e.to_string())?;
    let cases: [&[u8]; 3] = [
        b"{\"oauth_client.api\": {\"client_id\": \"x\", \"client_se",
        b"{\"oauth_client.api\": 5}",
        b"[]",
    ];
    let mut refused = 0;
    for bytes in cases {
        fs::write(&path, bytes).map_err(|e| e.to_string())?;
        let r = w.run(&["apply", "--auto-approve"])?;
        let shown = path.display().to_string();
        if r.code != Some(1) || !r.stderr.contains(&shown) {
            return Err(format!(
                "{vendor}: a damaged secrets file: want exit 1 naming {shown}: {}",
                r.describe()
            ));
        }
        if fs::read(&path).map_err(|e| e.to_string())? != bytes {
            return Err(format!("{vendor}: the damaged secrets file was rewritten"));
        }
        if w.sim_counts().0 != 0 {
            return Err(format!(
                "{vendor}: an apply with a damaged secrets file changed the org: {:?}",
                w.proxy.mutating_log()
            ));
        }
        refused += 1;
    }
    fs::remove_file(&path).map_err(|e| e.to_string())?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    w.finish()?;
    Ok(refused)
}

/// A caller whose role lacks `oauth:client:add` gets a plan-time error
/// naming it, and the org is unchanged.
pub fn least_privilege(root: &Path, vendor: &str, missing: &str) -> Result<(), String> {
    let mut example = Example::load(root, vendor)?;
    // Every permission the admin role has, but one.
    let probe = Sim::builder().fixture_toml(&example.fixture).try_start()?;
    let admin = probe.dump()["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["defaultRoleId"] == "admin")
        .cloned()
        .ok_or("no admin role in the fixture's org")?;
    drop(probe);
    let perms: Vec<String> = admin["grantedPermissions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .filter(|p| *p != missing)
        .map(|p| format!("\"{p}\""))
        .collect();
    example.fixture.push_str(&format!(
        "\n[[roles]]\nname = \"Almost Admin\"\npermissions = [{}]\n\n[[oauth_clients]]\nname = \"limited-ci\"\nclient_id = \"limited-ci\"\nclient_secret = \"limited-ci-secret-0123456789\"\nroles = [\"Almost Admin\"]\n",
        perms.join(", ")
    ));
    let mut w = Work::with_example(example, |b| b)?;
    w.client = ("limited-ci".into(), "limited-ci-secret-0123456789".into());
    let before = w.sim.dump();
    let mut problems = Vec::new();
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let r = w.run(args)?;
        if r.code != Some(1) || !r.stderr.contains(missing) {
            let last_error: Vec<&str> = r
                .stderr
                .lines()
                .filter(|l| {
                    l.starts_with("error") || l.starts_with("hint") || l.contains("Caused by")
                })
                .collect();
            problems.push(format!(
                "`{}` exited {:?} (want 1 naming `{missing}` before any change); its errors: {last_error:?}",
                args.join(" "),
                r.code
            ));
        }
        if w.proxy.mutating() != 0 || normalize(&w.sim.dump()) != normalize(&before) {
            problems.push(format!(
                "`{}` changed the org before stopping: {:?}",
                args.join(" "),
                w.proxy.mutating_log()
            ));
            break;
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{vendor}: a caller without `{missing}`:\n{}",
            problems.join("\n")
        ));
    }
    w.finish()
}

/// Every command that touches secrets, run with debug logs, as the admin
/// client and as a user with a `/_sim/token` token: no secret or token in
/// any file, stdout or stderr. Answers `(secrets checked, files scanned)`.
pub fn secrets(root: &Path, vendor: &str) -> Result<(usize, u64), String> {
    let mut w = Work::new(root, vendor, |b| b)?;
    let plan_file = w.dir.path().join("first.gcplan");
    let plan_arg = plan_file.display().to_string();
    w.run_expect(&["plan", "--out", &plan_arg], 0)?;
    w.run_expect(&["plan", "--format", "json"], 0)?;
    w.run_expect(&["plan", "--format", "markdown"], 0)?;
    w.run_expect(&["apply", &plan_arg], 0)?;
    w.run_expect(&["output"], 0)?;
    w.run_expect(&["output", "--json"], 0)?;
    w.run_expect(&["state", "list"], 0)?;
    // `state show` of every address.
    let state = w.state()?;
    for r in state["resources"].as_array().into_iter().flatten() {
        if let Some(a) = r["address"].as_str() {
            w.run_expect(&["state", "show", a], 0)?;
            if a.starts_with("oauth_client.") {
                w.run_expect(&["rotate", a], 0)?;
            }
        }
    }
    let drift = w.run(&["drift"])?;
    if !matches!(drift.code, Some(0 | 2)) {
        return Err(format!("{vendor}: drift failed: {}", drift.describe()));
    }
    w.run_expect(&["plan", "--detailed-exitcode", "--format", "json"], 0)?;
    // The secrets file: mode 0600, and it holds every created secret.
    let sp = w.secrets_path();
    if sp.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&sp)
                .map_err(|e| e.to_string())?
                .permissions()
                .mode()
                & 0o777;
            if mode != 0o600 {
                return Err(format!(
                    "{vendor}: the secrets file has mode {mode:o}, not 600"
                ));
            }
        }
    }
    // As a user with a browser-login token.
    let admin_email = quoted_values(&w.example.fixture, "email")
        .into_iter()
        .next()
        .ok_or("no user in the fixture")?;
    let token = w.user_token(&admin_email);
    let client = std::mem::take(&mut w.client);
    w.env.push(("GENESYSCLOUD_ACCESS_TOKEN".into(), token));
    w.run_expect(&["plan", "--detailed-exitcode"], 0)?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    let drift = w.run(&["drift", "--format", "json"])?;
    if !matches!(drift.code, Some(0 | 2)) {
        return Err(format!("{vendor}: drift as a user: {}", drift.describe()));
    }
    // Destroy as the client: a user who is a subject of a managed role
    // grant cannot destroy it (its own role would go, and `destroy` has no
    // --allow-caller-demotion).
    w.env.clear();
    w.client = client;
    w.run_expect(&["destroy", "--auto-approve"], 0)?;
    let hits = w.scan_secrets();
    let n = w.secrets().len();
    if !hits.is_empty() {
        return Err(format!("{vendor}: secrets found: {hits:?}"));
    }
    w.count_faults();
    Ok((n, TOTALS.files_scanned.load(Ordering::Relaxed)))
}

// ---------------------------------------------------------------------------
// Kill points in the other commands
// ---------------------------------------------------------------------------

/// What a kill-point loop over one command saw.
#[derive(Clone, Debug, Default)]
pub struct KillReport {
    /// Calls a clean run makes that count as kill points (mutating ones;
    /// every request for `import`, whose only change is the state file).
    pub calls: u32,
    /// Runs killed, each followed by a re-run that finished the job.
    pub kills: u32,
    /// Crash images of a local state write re-run (see [`crash_local_writes`]).
    pub images: u32,
}

/// A fresh gcsim with the example applied cleanly.
fn applied(root: &Path, vendor: &str) -> Result<Work, String> {
    let w = Work::new(root, vendor, |b| b)?;
    w.run_expect(&["apply", "--auto-approve"], 0)?;
    Ok(w)
}

/// The addresses and ids of the state's resources.
fn state_resources(state: &Value) -> Vec<(String, String, String)> {
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r["address"].as_str()?.to_string(),
                r["id"].as_str()?.to_string(),
                r["kind"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// The org after a clean apply and a clean destroy (normalized), and the
/// number of mutating calls of that destroy.
pub fn clean_destroy(root: &Path, vendor: &str) -> Result<(Value, u32), String> {
    static CACHE: Mutex<BTreeMap<String, (Value, u32)>> = Mutex::new(BTreeMap::new());
    if let Some(hit) = lock(&CACHE).get(vendor) {
        return Ok(hit.clone());
    }
    let fresh = clean_destroy_uncached(root, vendor)?;
    lock(&CACHE).insert(vendor.to_string(), fresh.clone());
    Ok(fresh)
}

/// [`clean_destroy`] without its per-process cache.
fn clean_destroy_uncached(root: &Path, vendor: &str) -> Result<(Value, u32), String> {
    let w = applied(root, vendor)?;
    w.run_expect(&["destroy", "--auto-approve"], 0)?;
    let calls = w.proxy.mutating();
    let state = w.state()?;
    if !state_resources(&state).is_empty() {
        return Err(format!(
            "{vendor}: a clean destroy left resources in the state"
        ));
    }
    let reference = normalize(&w.sim.dump());
    w.finish()?;
    Ok((reference, calls))
}

/// `destroy` killed right after its k-th mutating call, for every k in `ks`
/// (all when `None`): right after the kill, every object gcrecon made that
/// is still in the org is still in the state; `destroy` run again exits 0,
/// the org equals a clean destroy's, the state holds no resource and
/// nothing pending, and a third `destroy` makes no mutating call.
pub fn crash_destroy(
    root: &Path,
    vendor: &str,
    ks: Option<Vec<u32>>,
) -> Result<KillReport, String> {
    let (reference, calls) = clean_destroy(root, vendor)?;
    if calls == 0 {
        return Err(format!("{vendor}: the clean destroy made no mutating call"));
    }
    let mut rep = KillReport {
        calls,
        ..KillReport::default()
    };
    for k in ks.unwrap_or_else(|| (1..=calls).collect()) {
        let w = applied(root, vendor)?;
        let run = w
            .spawn(&["destroy", "--auto-approve"], Some(k))?
            .wait(RUN_TIMEOUT);
        if !run.killed {
            return Err(format!(
                "{vendor}: destroy was not killed after its {k}-th mutating call: {}",
                run.describe()
            ));
        }
        rep.kills += 1;
        bump(&TOTALS.kills, 1);
        let killed_at = w.proxy.mutating_log().last().cloned().unwrap_or_default();
        let what = format!("{vendor} destroy k={k} (killed after {killed_at})");
        let forgotten = unrecorded_objects(&w.state()?, &w.sim.dump(), &w.baseline);
        if !forgotten.is_empty() {
            return Err(format!(
                "{what}: the state forgot objects still in the org:\n{}",
                forgotten.join("\n")
            ));
        }
        w.run(&["destroy", "--auto-approve"])?
            .expect(0)
            .map_err(|e| format!("{what}: destroy again: {e}"))?;
        let got = normalize(&w.sim.dump());
        if got != reference {
            return Err(format!(
                "{what}: the org differs from a clean destroy's:\n{}",
                json_diff(&reference, &got)
            ));
        }
        let state = w.state()?;
        if !state_resources(&state).is_empty()
            || state["pending"].as_array().is_some_and(|p| !p.is_empty())
        {
            return Err(format!(
                "{what}: the state still holds resources or pending operations: {state}"
            ));
        }
        w.run_expect(&["destroy", "--auto-approve"], 0)?;
        if w.proxy.mutating() != 0 {
            return Err(format!(
                "{what}: a destroy of a destroyed org still changed it: {:?}",
                w.proxy.mutating_log()
            ));
        }
        w.finish()?;
    }
    Ok(rep)
}

/// `rotate` of every OAuth client, killed right after each of its mutating
/// calls (after the new secret was issued, before it reached the secrets
/// file): the secret on file no longer logs in, `rotate` run again exits
/// 0 and delivers a secret that does, and the org is otherwise the clean
/// apply's, with a clean plan.
pub fn crash_rotate(root: &Path, vendor: &str) -> Result<KillReport, String> {
    let (reference, _) = clean_apply(root, vendor)?;
    let w = applied(root, vendor)?;
    let clients: Vec<String> = state_resources(&w.state()?)
        .into_iter()
        .filter(|(_, _, kind)| kind == "oauth_client")
        .map(|(a, _, _)| a)
        .collect();
    if clients.is_empty() {
        return Err(format!("{vendor}: no OAuth client to rotate"));
    }
    let mut rep = KillReport::default();
    for address in &clients {
        w.run_expect(&["rotate", address], 0)?;
        let calls = w.proxy.mutating();
        if calls == 0 {
            return Err(format!("{vendor}: rotate {address} made no mutating call"));
        }
        rep.calls += calls;
        for k in 1..=calls {
            // Killed with the new secret issued and its answer undelivered
            // (a kill right after delivery may land after the secret was
            // written down).
            let run = w
                .spawn_with(
                    &["rotate", address],
                    Some(k),
                    false,
                    Some(KILL_BEFORE_ANSWER),
                )?
                .wait(RUN_TIMEOUT);
            if !run.killed {
                return Err(format!(
                    "{vendor}: rotate {address} was not killed after call {k}: {}",
                    run.describe()
                ));
            }
            rep.kills += 1;
            bump(&TOTALS.kills, 1);
            let what = format!("{vendor} rotate {address} k={k}");
            let live = w.sim.dump();
            let client_credentials =
                live["oauth_clients"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| {
                        c["authorizedGrantType"] == "CLIENT-CREDENTIALS"
                            && w.state().is_ok_and(|s| {
                                state_resources(&s)
                                    .iter()
                                    .any(|(a, id, _)| a == address && c["id"] == json!(id))
                            })
                    });
            if client_credentials && secrets_delivered(&w, &w.state()?, &live).is_ok() {
                return Err(format!(
                    "{what}: the secret on file still logs in: the kill came before the rotation"
                ));
            }
            w.run(&["rotate", address])?
                .expect(0)
                .map_err(|e| format!("{what}: rotate again: {e}"))?;
            secrets_delivered(&w, &w.state()?, &w.sim.dump())
                .map_err(|e| format!("{what}: {e}"))?;
            converged_org(&w, &reference, &what)?;
        }
    }
    w.finish()?;
    Ok(rep)
}

/// `import` of every resource (`limit`: the first ones) after `state rm`,
/// killed right after each of its requests (logins and reads included:
/// its only change is the state file): `import` run again exits 0, the
/// state names the object by its id, the org saw no mutating call, and
/// the plan is clean.
pub fn crash_import(root: &Path, vendor: &str, limit: Option<usize>) -> Result<KillReport, String> {
    let w = applied(root, vendor)?;
    let mut resources = state_resources(&w.state()?);
    resources.truncate(limit.unwrap_or(usize::MAX));
    let (mutating_before, _, _) = w.sim_counts();
    let mut rep = KillReport::default();
    for (address, id, _) in &resources {
        w.run_expect(&["state", "rm", address], 0)?;
        // A clean import, counting every request.
        let run = w
            .spawn_with(&["import", address, id], Some(u32::MAX), true, None)?
            .wait(RUN_TIMEOUT);
        run.expect(0)?;
        let calls = w.proxy.mutating();
        rep.calls += calls;
        for k in 1..=calls {
            w.run_expect(&["state", "rm", address], 0)?;
            let run = w
                .spawn_with(&["import", address, id], Some(k), true, None)?
                .wait(RUN_TIMEOUT);
            if !run.killed {
                return Err(format!(
                    "{vendor}: import {address} was not killed after request {k}: {}",
                    run.describe()
                ));
            }
            rep.kills += 1;
            bump(&TOTALS.kills, 1);
            let what = format!("{vendor} import {address} k={k} of {calls}");
            w.run(&["import", address, id])?
                .expect(0)
                .map_err(|e| format!("{what}: import again: {e}"))?;
            let state = w.state()?;
            if !state_resources(&state)
                .iter()
                .any(|(a, i, _)| a == address && i == id)
            {
                return Err(format!(
                    "{what}: the state does not name {address} [id={id}]"
                ));
            }
        }
    }
    if w.sim_counts().0 != mutating_before {
        return Err(format!("{vendor}: import changed the org"));
    }
    w.run_expect(&["plan", "--detailed-exitcode"], 0)?;
    w.finish()?;
    Ok(rep)
}

/// This host's name, as gcrecon's lock records it.
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The pid of a process that has exited.
fn dead_pid() -> Result<u32, String> {
    let mut child = Command::new("true").spawn().map_err(|e| e.to_string())?;
    let pid = child.id();
    child.wait().map_err(|e| e.to_string())?;
    Ok(pid)
}

/// `state rm` and `force-unlock` make no API call: their one change is a
/// local file, written as every state write is (lock; hard link of the
/// current state as `<state>.backup.<pid>`, renamed to `<state>.backup`;
/// the new state into `.<name>.<pid>.XXXX.tmp`, fsync, rename; unlock).
/// A SIGKILL leaves one of a few images on disk; each is made here as a
/// killed process would leave it (its pid dead), and the command is run
/// again: it exits 0, or 1 saying the job is already done (`not in the
/// state`, `not locked`), and afterwards the state parses, the address is
/// gone, and no lock, temp file or backup staging file of the dead
/// process is left.
pub fn crash_local_writes(root: &Path, vendor: &str) -> Result<KillReport, String> {
    let w = applied(root, vendor)?;
    let state_path = w.state_path();
    let dir = state_path
        .parent()
        .ok_or("no state directory")?
        .to_path_buf();
    let name = state_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let good = fs::read(&state_path).map_err(|e| e.to_string())?;
    let mut rep = KillReport::default();
    let images = [
        "lock taken",
        "backup staged",
        "backup renamed",
        "half the new state in a temp file",
        "the new state in a temp file",
        "the new state renamed into place",
    ];
    let (address, id, _) = state_resources(&w.state()?)
        .into_iter()
        .next()
        .ok_or("an empty state")?;
    for (n, image) in images.iter().enumerate() {
        fs::write(&state_path, &good).map_err(|e| e.to_string())?;
        let mut next: Value = serde_json::from_slice(&good).map_err(|e| e.to_string())?;
        next["serial"] = json!(next["serial"].as_u64().unwrap_or(0) + 1);
        if let Some(rs) = next["resources"].as_array_mut() {
            rs.retain(|r| r["address"] != json!(address));
        }
        let next = serde_json::to_vec_pretty(&next).map_err(|e| e.to_string())?;
        let pid = dead_pid()?;
        let lock = json!({
            "id": format!("00000000-0000-4000-8000-{n:012}"),
            "who": "killed@here",
            "pid": pid,
            "host": host_name(),
            "operation": "state rm",
            "created": "2026-11-23T12:00:00Z",
        });
        fs::write(lock_path(&state_path), lock.to_string()).map_err(|e| e.to_string())?;
        let staging = dir.join(format!("{name}.backup.{pid}"));
        let temp = dir.join(format!(".{name}.{pid}.Xk3Tq9.tmp"));
        if n >= 1 {
            fs::write(&staging, &good).map_err(|e| e.to_string())?;
        }
        if n >= 2 {
            fs::rename(&staging, dir.join(format!("{name}.backup"))).map_err(|e| e.to_string())?;
        }
        match n {
            3 => fs::write(&temp, &next[..next.len() / 2]).map_err(|e| e.to_string())?,
            4 => fs::write(&temp, &next).map_err(|e| e.to_string())?,
            5 => fs::write(&state_path, &next).map_err(|e| e.to_string())?,
            _ => {}
        }
        let what = format!("{vendor} state rm killed with {image}");
        let r = w.run(&["state", "rm", &address])?;
        let done_already = n == 5 && r.code == Some(1) && r.stderr.contains("not in the state");
        if r.code != Some(0) && !done_already {
            return Err(format!("{what}: state rm again: {}", r.describe()));
        }
        rep.images += 1;
        let state = w.state()?;
        if state_resources(&state)
            .iter()
            .any(|(a, _, _)| *a == address)
        {
            return Err(format!("{what}: {address} is still in the state"));
        }
        let left: Vec<String> = fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.contains(&pid.to_string()) || f.ends_with(".lock"))
            .collect();
        if !left.is_empty() {
            return Err(format!(
                "{what}: files of the killed run left behind: {left:?}"
            ));
        }
    }
    // force-unlock's one change is removing the lock file: killed before,
    // the lock is there and the re-run removes it; killed after, the
    // re-run says there is no lock.
    let lock_id = "00000000-0000-4000-8000-00000000f0f0";
    let lock = json!({
        "id": lock_id, "who": "ci@elsewhere", "pid": 1, "host": "elsewhere",
        "operation": "apply", "created": "2026-11-23T12:00:00Z",
    });
    fs::write(lock_path(&state_path), lock.to_string()).map_err(|e| e.to_string())?;
    w.run_expect(&["force-unlock", lock_id], 0)?;
    let r = w.run(&["force-unlock", lock_id])?;
    if r.code != Some(1) || lock_path(&state_path).exists() || !r.stderr.contains("not locked") {
        return Err(format!(
            "{vendor}: force-unlock after its change: {}",
            r.describe()
        ));
    }
    rep.images += 2;
    // The object itself was left alone: import it back, and nothing is to do.
    w.run_expect(&["import", &address, &id], 0)?;
    w.run_expect(&["plan", "--detailed-exitcode"], 0)?;
    w.finish()?;
    Ok(rep)
}

/// Makes `dir` read-only (for root too: `chattr +i` where permission bits
/// do not stop it) and answers how to undo it; fails when neither works.
fn make_read_only(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).map_err(|e| e.to_string())?;
    let probe = dir.join(".write-probe");
    if fs::write(&probe, b"x").is_ok() {
        let _ = fs::remove_file(&probe);
        let status = Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .map_err(|e| format!("cannot run chattr: {e}"))?;
        if !status.success() || fs::write(&probe, b"x").is_ok() {
            let _ = fs::remove_file(&probe);
            return Err(format!("cannot make {} read-only here", dir.display()));
        }
    }
    Ok(())
}

/// Undoes [`make_read_only`].
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = Command::new("chattr")
        .arg("-i")
        .arg(dir)
        .stderr(Stdio::null())
        .status();
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
}

/// `ADDRESS [id=ID] was created` (or `adopted`) changes an apply reported
/// as not recorded.
pub fn unrecorded_reports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| l.contains("but the state could not be written"))
        .filter(|l| l.contains("] was created") || l.contains("] was adopted"))
        .filter_map(|l| {
            let l = l.trim_start_matches("error: ").trim();
            let (address, rest) = l.split_once(" [id=")?;
            let (id, _) = rest.split_once(']')?;
            Some((address.to_string(), id.to_string()))
        })
        .collect()
}

/// The state directory turns read-only right before the k-th mutating
/// answer of an apply reaches gcrecon (for every k in `ks`, all when
/// `None`): the apply exits 1, reports every object it made but could
/// not record with its address and id (each one the org holds and the
/// state lacks), and leaves the state file as it was before the failure
/// (still usable). Once the directory is writable again, `gcrecon import`
/// of each reported object (and `rotate` of a client whose secret could
/// not be written) and an apply converge on the clean apply's org.
/// Answers the number of changes reported as not recorded.
pub fn read_only_state_dir(root: &Path, vendor: &str, ks: Option<Vec<u32>>) -> Result<u32, String> {
    let (reference, calls) = clean_apply(root, vendor)?;
    let mut reported = 0;
    for k in ks.unwrap_or_else(|| (1..=calls).collect()) {
        let w = Work::new(root, vendor, |b| b)?;
        let dir = w.state_path().parent().ok_or("no state dir")?.to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let (d, f) = (dir.clone(), failure.clone());
        let hook: Hook = Arc::new(move || {
            if let Err(e) = make_read_only(&d) {
                *lock(&f) = Some(e);
            }
        });
        let run = w
            .spawn_with(
                &["apply", "--auto-approve"],
                Some(k),
                false,
                Some(AtAnswer::Hook(hook)),
            )?
            .wait(RUN_TIMEOUT);
        let state_then = fs::read_to_string(w.state_path()).unwrap_or_default();
        make_writable(&dir);
        if let Some(e) = lock(&failure).take() {
            return Err(e);
        }
        let what = format!("{vendor} state dir read-only before answer {k}");
        if run.code != Some(1) {
            return Err(format!("{what}: want exit 1: {}", run.describe()));
        }
        let said = format!("{}\n{}", run.stdout, run.stderr);
        if !said.contains("cannot record what was done") {
            return Err(format!(
                "{what}: no error about the state: {}",
                run.describe()
            ));
        }
        let state: Value = serde_json::from_str(&state_then)
            .map_err(|e| format!("{what}: the state left is not JSON ({e})"))?;
        let dump = w.sim.dump();
        let lost = unrecorded_objects(&state, &dump, &w.baseline);
        let reports = unrecorded_reports(&said);
        for l in &lost {
            if !reports.iter().any(|(_, id)| l.contains(id.as_str())) {
                return Err(format!(
                    "{what}: {l}, and the apply did not report it: {}",
                    run.describe()
                ));
            }
        }
        reported += reports.len() as u32;
        for (address, id) in &reports {
            w.run_expect(&["import", address, id], 0)
                .map_err(|e| format!("{what}: import {address} {id}: {e}"))?;
            if address.starts_with("oauth_client.") {
                w.run_expect(&["rotate", address], 0)?;
            }
        }
        w.run(&["apply", "--auto-approve"])?
            .expect(0)
            .map_err(|e| format!("{what}: apply afterwards: {e}"))?;
        assert_converged(&w, &reference, &what)?;
        w.finish()?;
    }
    Ok(reported)
}

// ---------------------------------------------------------------------------
// cargo xtask reliability
// ---------------------------------------------------------------------------

/// `cargo xtask reliability [--examples a,b] [--quick]`.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let mut vendors: Vec<String> = EXAMPLES.iter().map(|s| (*s).to_string()).collect();
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--examples" => {
                vendors = it
                    .next()
                    .ok_or("--examples needs a list")?
                    .split(',')
                    .map(str::to_string)
                    .collect();
            }
            "--quick" => quick = true,
            "--only" => only = Some(it.next().ok_or("--only needs a word")?.clone()),
            "-h" | "--help" => {
                println!(
                    "usage: cargo xtask reliability [--examples nectar,cognigy,...] [--quick] [--only WORD,WORD (steps whose name contains one)]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut lines = Vec::new();
    let mut step = |name: String, f: &mut dyn FnMut() -> Result<String, String>| {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|w| name.contains(w)))
        {
            return;
        }
        let t = Instant::now();
        println!("reliability: {name} ...");
        match f() {
            Ok(s) => {
                let l = format!("ok   {name}: {s} ({:.0} s)", t.elapsed().as_secs_f64());
                println!("  {l}");
                lines.push(l);
            }
            Err(e) => {
                println!("  FAIL {name}: {e}");
                lines.push(format!("FAIL {name}"));
                failures.push(format!("{name}: {e}"));
            }
        }
    };
    for v in &vendors {
        step(format!("crash at every step: {v}"), &mut || {
            let r = crash_every_step(root, v, None, LostSecrets::Rotate)?;
            if !r.lost_secrets.is_empty() {
                return Err(format!(
                    "{} mutating calls, {} kills: the org converged every time, but {} kills lost an OAuth client secret (recovered only by `gcrecon rotate`):\n{}",
                    r.calls,
                    r.kills,
                    r.lost_secrets.len(),
                    r.lost_secrets.join("\n")
                ));
            }
            Ok(format!(
                "{} mutating calls, {} kills survived, {} gcrecon runs",
                r.calls, r.kills, r.runs
            ))
        });
    }
    for v in &vendors {
        step(format!("destroy killed at every step: {v}"), &mut || {
            let r = crash_destroy(root, v, None)?;
            Ok(format!(
                "{} mutating calls, {} kills survived",
                r.calls, r.kills
            ))
        });
        step(format!("rotate killed at every step: {v}"), &mut || {
            let r = crash_rotate(root, v)?;
            Ok(format!(
                "{} mutating calls, {} kills survived",
                r.calls, r.kills
            ))
        });
        step(format!("import killed at every request: {v}"), &mut || {
            let r = crash_import(root, v, if quick { Some(2) } else { None })?;
            Ok(format!("{} requests, {} kills survived", r.calls, r.kills))
        });
        step(format!("state dir read-only mid-apply: {v}"), &mut || {
            let n = read_only_state_dir(root, v, None)?;
            Ok(format!(
                "{n} changes reported as not recorded, imported, converged"
            ))
        });
    }
    for v in vendors.iter().take(1) {
        step(
            format!("state rm / force-unlock crash images: {v}"),
            &mut || {
                let r = crash_local_writes(root, v)?;
                Ok(format!("{} crash images finished by a re-run", r.images))
            },
        );
    }
    let fault_seeds: &[u64] = if quick { &[1] } else { &[1, 2, 3] };
    for v in &vendors {
        for &seed in fault_seeds {
            step(format!("20% faults, seed {seed}: {v}"), &mut || {
                let r = faults(root, v, 0.2, seed, if quick { 3 } else { 10 })?;
                Ok(format!(
                    "apply converged in {} runs; {} plans ({} failed cleanly); {} faults injected",
                    r.applies, r.plans, r.failed_plans, r.faults
                ))
            });
        }
        step(
            format!("failed reads never plan a change: {v}"),
            &mut || {
                let r = faulty_reads_never_plan_changes(root, v, 0.2, if quick { 5 } else { 30 })?;
                Ok(format!(
                    "{} plans ({} failed cleanly, none planned a change), {} applies without a mutating call; {} faults injected",
                    r.plans, r.failed_plans, r.applies - 1, r.faults
                ))
            },
        );
        step(format!("eventual consistency 3000 ms: {v}"), &mut || {
            eventual(root, v, 3000).map(|()| "no duplicate creates".into())
        });
    }
    for v in vendors.iter().take(if quick { 1 } else { vendors.len() }) {
        step(format!("429 storm --rate-limit 30: {v}"), &mut || {
            let r = rate_limit_storm(root, v, 30)?;
            if r.rate_limited > 0 {
                return Ok(format!(
                    "converged; {} requests answered 429",
                    r.rate_limited
                ));
            }
            // One run's token never made 30 requests a minute: no storm.
            // Make one with a lower limit.
            let r = rate_limit_storm(root, v, 10)?;
            Ok(format!(
                "no 429 at 30/min (fewer requests per token); at 10/min converged with {} requests answered 429",
                r.rate_limited
            ))
        });
    }
    let first = vendors.first().cloned().unwrap_or_else(|| "nectar".into());
    step(format!("two applies at once: {first}"), &mut || {
        concurrent_applies(root, &first).map(|()| "one applied, one exit 3".into())
    });
    step(format!("stale locks: {first}"), &mut || {
        stale_locks(root, &first)
            .map(|()| "dead holder broken, live/remote reported, force-unlock".into())
    });
    for v in &vendors {
        step(format!("bad state: {v}"), &mut || {
            bad_states(root, v).map(|n| format!("{n} refused runs, files untouched"))
        });
    }
    for v in &vendors {
        step(format!("bad secrets file: {v}"), &mut || {
            bad_secrets_file(root, v).map(|n| format!("{n} applies refused before any change"))
        });
    }
    step(format!("least privilege: {first}"), &mut || {
        least_privilege(root, &first, "oauth:client:add").map(|()| "plan-time error".into())
    });
    for v in &vendors {
        step(format!("secrets: {v}"), &mut || {
            secrets(root, v).map(|(n, _)| format!("{n} secrets and tokens searched for"))
        });
    }
    let t = &TOTALS;
    let summary = format!(
        "reliability: {} gcrecon runs, {} kills survived, {} faults and {} 429s injected, {} files scanned for secrets, {} secret hits; {:.0} s",
        t.runs.load(Ordering::Relaxed),
        t.kills.load(Ordering::Relaxed),
        t.faults.load(Ordering::Relaxed),
        t.rate_limited.load(Ordering::Relaxed),
        t.files_scanned.load(Ordering::Relaxed),
        t.secret_hits.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    println!("\n{}\n{summary}", lines.join("\n"));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n\n")
        ))
    }
}
