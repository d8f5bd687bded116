//! A gcsim process for the bench: started on a free port with the measured
//! latency and rate limit, driven through its `/_sim/` hooks (stats, faults,
//! populate) and through the contract's own API where the bench needs to
//! know what the org holds. Killed when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::{json, Value};

/// What `/_sim/stats` answers.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct Stats {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub by_route: BTreeMap<String, u64>,
    #[serde(default)]
    pub rate_limited: u64,
    #[serde(default)]
    pub faults: u64,
    #[serde(default)]
    pub latency_ms_total: u64,
}

/// Credentials of an OAuth client that may do everything in the org.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

/// A running simulator.
pub struct Sim {
    child: Child,
    pub url: String,
    pub admin: Credentials,
    http: reqwest::Client,
}

/// How to start one.
pub struct SimOptions<'a> {
    pub latency_ms: u64,
    pub rate_limit: u64,
    pub fixture: Option<&'a Path>,
    /// Where gcsim's stderr goes.
    pub log: &'a Path,
}

impl Sim {
    /// Start `gcsim serve --port 0` and wait for its two startup lines.
    pub fn start(bin: &Path, opts: &SimOptions<'_>) -> Result<Sim> {
        let log = std::fs::File::create(opts.log)
            .with_context(|| format!("cannot create {}", opts.log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .args(["--port", "0"])
            .args(["--latency-ms", &opts.latency_ms.to_string()])
            .args(["--rate-limit", &opts.rate_limit.to_string()]);
        if let Some(fixture) = opts.fixture {
            cmd.arg("--fixture").arg(fixture);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("gcsim has no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        let mut second = String::new();
        reader.read_line(&mut first)?;
        if first.is_empty() {
            let _ = child.kill();
            bail!(
                "gcsim exited before it listened; its log is {}",
                opts.log.display()
            );
        }
        let url = first
            .trim()
            .strip_prefix("gcsim listening on ")
            .with_context(|| format!("unexpected first line from gcsim: {first}"))?
            .to_owned();
        reader.read_line(&mut second)?;
        // Keep draining stdout so that gcsim never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let admin = match parse_admin_line(&second) {
            Some(c) => c,
            None => match opts.fixture.and_then(fixture_admin) {
                Some(c) => c,
                None => {
                    let _ = child.kill();
                    bail!("gcsim named no admin client (second line: {second:?}) and the fixture has no client with a secret")
                }
            },
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()?;
        Ok(Sim {
            child,
            url,
            admin,
            http,
        })
    }

    fn hook(&self, path: &str) -> String {
        format!("{}/_sim/{path}", self.url)
    }

    pub async fn stats(&self) -> Result<Stats> {
        let resp = self.http.get(self.hook("stats")).send().await?;
        let resp = ok(resp, "GET /_sim/stats").await?;
        Ok(resp.json().await?)
    }

    pub async fn reset_stats(&self) -> Result<()> {
        let resp = self.http.post(self.hook("reset-stats")).send().await?;
        ok(resp, "POST /_sim/reset-stats").await?;
        Ok(())
    }

    /// Change latency and rate limit at run time; answers the settings now
    /// in force.
    pub async fn set_limits(&self, latency_ms: u64, rate_limit: u64) -> Result<Value> {
        let body = json!({ "latency_ms": latency_ms, "rate_limit": rate_limit });
        let resp = self
            .http
            .post(self.hook("faults"))
            .json(&body)
            .send()
            .await?;
        let resp = ok(resp, "POST /_sim/faults").await?;
        Ok(resp.json().await.unwrap_or(Value::Null))
    }

    /// `POST /_sim/mutate`: change the org behind the client's back.
    pub async fn mutate(&self, ops: &Value) -> Result<()> {
        let resp = self.http.post(self.hook("mutate")).json(ops).send().await?;
        ok(resp, "POST /_sim/mutate").await?;
        Ok(())
    }

    /// Bulk-create unmanaged objects (`{"roles": N, "groups": N, ...}`).
    pub async fn populate(&self, counts: &Value) -> Result<()> {
        let resp = self
            .http
            .post(self.hook("populate"))
            .json(counts)
            .send()
            .await?;
        ok(resp, "POST /_sim/populate").await?;
        Ok(())
    }

    /// Log in as the admin client.
    pub async fn login(&self) -> Result<String> {
        login(&self.http, &self.url, &self.admin).await
    }

    /// How many objects a list endpoint holds (its `total`), read through
    /// the API itself. Only `GET /api/v2/oauth/clients`, which does not
    /// page, is counted from its entities.
    pub async fn count(&self, token: &str, route: &str) -> Result<u64> {
        let path = route
            .strip_prefix("GET ")
            .with_context(|| format!("not a GET route: {route}"))?;
        let paged = !path.ends_with("/oauth/clients");
        let url = if paged {
            format!("{}{path}?pageSize=1", self.url)
        } else {
            format!("{}{path}", self.url)
        };
        let resp = self.http.get(&url).bearer_auth(token).send().await?;
        let body: Value = ok(resp, route).await?.json().await?;
        let n = if paged {
            body.get("total").and_then(Value::as_u64)
        } else {
            body.get("entities")
                .and_then(Value::as_array)
                .map(|a| a.len() as u64)
        };
        n.with_context(|| format!("{route} answered no count: {body}"))
    }
}

impl Sim {
    /// Send every `(path, body)` as a `POST` with the admin client,
    /// `parallelism` at a time; fail on the first error answer.
    pub async fn create_all(
        &self,
        items: Vec<(&'static str, Value)>,
        parallelism: usize,
    ) -> Result<()> {
        let token = self.login().await?;
        let items = std::sync::Arc::new(items);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..parallelism.max(1) {
            let (http, token, url) = (self.http.clone(), token.clone(), self.url.clone());
            let (items, next) = (items.clone(), next.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((path, body)) = items.get(i) else {
                        return Ok::<(), anyhow::Error>(());
                    };
                    let resp = http
                        .post(format!("{url}{path}"))
                        .bearer_auth(&token)
                        .json(body)
                        .send()
                        .await?;
                    ok(resp, &format!("POST {path}")).await?;
                }
            }));
        }
        for w in workers {
            w.await.context("a create worker panicked")??;
        }
        Ok(())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST /oauth/token` with HTTP Basic client id and secret.
pub async fn login(http: &reqwest::Client, base: &str, creds: &Credentials) -> Result<String> {
    let resp = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(&creds.client_id, Some(&creds.client_secret))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await?;
    let body: Value = ok(resp, "POST /oauth/token").await?.json().await?;
    body.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("the login answer has no access_token")
}

async fn ok(resp: reqwest::Response, what: &str) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    bail!("{what} answered {status}: {body}")
}

/// `gcsim admin client_id=ID client_secret=SECRET`
pub fn parse_admin_line(line: &str) -> Option<Credentials> {
    let mut id = None;
    let mut secret = None;
    for word in line.split_whitespace() {
        if let Some(v) = word.strip_prefix("client_id=") {
            id = Some(v.to_owned());
        } else if let Some(v) = word.strip_prefix("client_secret=") {
            secret = Some(v.to_owned());
        }
    }
    Some(Credentials {
        client_id: id?,
        client_secret: secret?,
    })
}

/// The first `[[oauth_clients]]` of a fixture that has a fixed secret and
/// the `admin` role, found with a line scan (the bench needs nothing else
/// from the fixture).
fn fixture_admin(fixture: &Path) -> Option<Credentials> {
    let text = std::fs::read_to_string(fixture).ok()?;
    let mut in_client = false;
    let (mut id, mut secret, mut admin) = (None, None, false);
    let value = |line: &str| {
        line.split_once('=')
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            if in_client && admin {
                if let (Some(client_id), Some(client_secret)) = (id.clone(), secret.clone()) {
                    return Some(Credentials {
                        client_id,
                        client_secret,
                    });
                }
            }
            in_client = line == "[[oauth_clients]]";
            (id, secret, admin) = (None, None, false);
        } else if in_client {
            if line.starts_with("client_id") {
                id = value(line);
            } else if line.starts_with("client_secret") {
                secret = value(line);
            } else if line.starts_with("roles") && line.contains("\"admin\"") {
                admin = true;
            }
        }
    }
    match (in_client && admin, id, secret) {
        (true, Some(client_id), Some(client_secret)) => Some(Credentials {
            client_id,
            client_secret,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_line_is_parsed() {
        let c = parse_admin_line("gcsim admin client_id=abc client_secret=s3").unwrap();
        assert_eq!(
            (c.client_id.as_str(), c.client_secret.as_str()),
            ("abc", "s3")
        );
        assert!(parse_admin_line("gcsim admin").is_none());
    }

    #[test]
    fn fixture_admin_client_is_found() {
        let dir = std::env::temp_dir().join(format!("bench-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("fixture.toml");
        std::fs::write(
            &f,
            "[org]\nname = \"x\"\n[[oauth_clients]]\nname = \"ro\"\nclient_id = \"a\"\nclient_secret = \"b\"\nroles = [\"employee\"]\n\n[[oauth_clients]]\nname = \"ci\"\nclient_id = \"ci-client\"\nclient_secret = \"ci-secret\"\nroles = [\"admin\"]\n",
        )
        .unwrap();
        let c = fixture_admin(&f).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(c.client_id, "ci-client");
        assert_eq!(c.client_secret, "ci-secret");
    }
}
