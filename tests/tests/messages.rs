//! End-to-end tests of what `gcrecon` says when it cannot get going: an
//! unreachable API (each retry said on stderr, then a hint), an unknown
//! region (the valid ones sorted, one per line), a refused login (said
//! once, the advice once), and a manifest error while the login retries
//! (said alone).

use std::process::{Command, Output, Stdio};

use test_support::Sim;

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "acme"

[division.support]
name = "Support"
"#;

fn run(env: &[(&str, &str)]) -> Output {
    run_with(MANIFEST, env)
}

fn run_with(manifest: &str, env: &[(&str, &str)]) -> Output {
    let dir = test_support::temp_dir();
    std::fs::write(dir.path().join("gcrecon.toml"), manifest).unwrap();
    Command::new(test_support::bin_path("gcrecon"))
        .current_dir(dir.path())
        .arg("plan")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run gcrecon")
}

fn stderr(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The URL of a port nobody listens on.
fn unreachable_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// Client credentials, and `url` as the API.
fn unreachable_env(url: &str) -> [(&str, &str); 3] {
    [
        ("GENESYSCLOUD_API_REGION", url),
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client"),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret"),
    ]
}

#[test]
fn an_unreachable_api_says_each_retry_then_gives_a_hint() {
    let url = unreachable_url();
    let err = stderr(&run(&unreachable_env(&url)));
    let lines: Vec<&str> = err.lines().collect();
    let retries: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("retrying: POST /oauth/token to 127.0.0.1 could not connect"))
        .collect();
    assert_eq!(retries.len(), 7, "attempts 2 to 8, each once: {err}");
    for (i, line) in retries.iter().enumerate() {
        assert!(
            line.contains(&format!("attempt {} of 8", i + 2)),
            "{line}\n{err}"
        );
    }
    let error_at = lines
        .iter()
        .position(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        lines[..error_at].len() >= 7,
        "retries come before the error: {err}"
    );
    assert!(lines[error_at].contains(&url), "{err}");
    let hint = lines
        .iter()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or_else(|| panic!("{err}"));
    for word in ["region", "network", "proxy"] {
        assert!(hint.contains(word), "{hint}");
    }
    assert!(!err.contains("ci-secret"), "{err}");
}

#[test]
fn a_manifest_error_comes_alone_while_the_login_retries() {
    // The login begins as the manifest is read. Nothing listens, so its
    // first retry is due within milliseconds, long before thousands of
    // blocks are read; the manifest's error must still be all that is said.
    let url = unreachable_url();
    let mut manifest = MANIFEST.to_owned();
    for i in 0..3000 {
        manifest.push_str(&format!("\n[role.r{i}]\nname = \"R{i}\"\n"));
    }
    manifest.push_str("\n[role.broken]\nname = 42\n");
    let line = manifest.lines().count();
    let err = stderr(&run_with(&manifest, &unreachable_env(&url)));
    assert!(err.contains(&format!("gcrecon.toml:{line}:")), "{err}");
    assert!(err.contains("role.broken"), "{err}");
    assert!(!err.contains("retrying"), "{err}");
    assert!(!err.contains("127.0.0.1"), "{err}");
}

#[test]
fn an_unknown_region_lists_the_regions_sorted_one_per_line() {
    let err = stderr(&run(&[
        ("GENESYSCLOUD_REGION", "mars-north-1"),
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client"),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret"),
    ]));
    assert!(
        err.contains("unknown Genesys Cloud region `mars-north-1`"),
        "{err}"
    );
    let regions: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("    ") && l.ends_with(')'))
        .map(str::trim)
        .collect();
    assert_eq!(regions.len(), 17, "{err}");
    let mut sorted = regions.clone();
    sorted.sort_unstable();
    assert_eq!(regions, sorted, "{err}");
    assert!(
        regions.contains(&"ap-southeast-2 (mypurecloud.com.au)"),
        "{err}"
    );
}

#[test]
fn a_refused_login_says_refused_and_the_advice_once() {
    let sim = Sim::start();
    let err = stderr(&run(&[
        ("GENESYSCLOUD_API_REGION", sim.url()),
        ("GENESYSCLOUD_OAUTHCLIENT_ID", sim.admin_client_id()),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-the-secret"),
    ]));
    assert_eq!(err.matches("refused").count(), 1, "{err}");
    assert_eq!(
        err.matches("GENESYSCLOUD_OAUTHCLIENT_SECRET").count(),
        1,
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("hint:") && l.contains("GENESYSCLOUD_OAUTHCLIENT_SECRET")),
        "the advice is the hint: {err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");
}
