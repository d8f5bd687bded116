//! The per-object baseline: how a per-resource provider (Terraform's
//! Genesys Cloud provider reads each resource in its state by id) refreshes
//! the same managed objects. It logs in once, then sends one `GET` per
//! managed object by id, `parallelism` at a time, with its own reqwest
//! client; a 429 is waited out for its `Retry-After` and retried, as that
//! provider's SDK does. Nothing is cached or batched.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::sim::{login, Credentials};

/// What the baseline did.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineRun {
    /// Objects read.
    pub objects: usize,
    /// Requests sent, the login and every retry included.
    pub requests: u64,
    /// 429 answers waited out.
    pub rate_limited: u64,
    pub wall_ms: u64,
}

/// The path that reads one managed object of `kind` by id, or `None` for a
/// kind the baseline does not read.
pub fn read_path(kind: &str, id: &str) -> Option<String> {
    let base = match kind {
        "role" => "/api/v2/authorization/roles",
        "division" => "/api/v2/authorization/divisions",
        "group" => "/api/v2/groups",
        "oauth_client" => "/api/v2/oauth/clients",
        "integration" => "/api/v2/integrations",
        _ => return None,
    };
    Some(format!("{base}/{id}"))
}

/// Read every path once, `parallelism` at a time.
pub async fn read_each(
    base: &str,
    creds: &Credentials,
    paths: Vec<String>,
    parallelism: usize,
) -> Result<BaselineRun> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(parallelism)
        .build()?;
    let started = Instant::now();
    let token = login(&http, base, creds).await?;
    let requests = Arc::new(AtomicU64::new(1));
    let rate_limited = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(paths);
    let mut workers = Vec::new();
    for _ in 0..parallelism.max(1) {
        let (http, token, base) = (http.clone(), token.clone(), base.to_owned());
        let (requests, rate_limited, next, paths) = (
            requests.clone(),
            rate_limited.clone(),
            next.clone(),
            paths.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                loop {
                    requests.fetch_add(1, Ordering::Relaxed);
                    let resp = http
                        .get(format!("{base}{path}"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .with_context(|| format!("GET {path}"))?;
                    let status = resp.status();
                    if status.as_u16() == 429 {
                        rate_limited.fetch_add(1, Ordering::Relaxed);
                        let wait = resp
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .unwrap_or(1);
                        tokio::time::sleep(Duration::from_secs(wait)).await;
                        continue;
                    }
                    if !status.is_success() {
                        let body = resp.text().await.unwrap_or_default();
                        bail!("GET {path} answered {status}: {body}");
                    }
                    // Read the body, as a provider decoding the object does.
                    resp.bytes().await?;
                    break;
                }
            }
        }));
    }
    for w in workers {
        w.await.context("a baseline worker panicked")??;
    }
    Ok(BaselineRun {
        objects: paths.len(),
        requests: requests.load(Ordering::Relaxed),
        rate_limited: rate_limited.load(Ordering::Relaxed),
        wall_ms: started.elapsed().as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_paths_follow_the_contract() {
        assert_eq!(
            read_path("role", "r1").unwrap(),
            "/api/v2/authorization/roles/r1"
        );
        assert_eq!(read_path("group", "g").unwrap(), "/api/v2/groups/g");
        assert!(read_path("role_grant", "x").is_none());
    }
}
