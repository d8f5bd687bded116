//! The CI kit (`examples/ci/`) cannot rot silently: this test reads the
//! GitHub Actions workflows and the GitLab CI file, extracts every
//! `gcrecon ...` command line in the order the platform runs them, and runs
//! exactly those (words, quotes, `$VARIABLE`s and `> FILE` redirections as
//! the shell would) against gcsim, with the environment each workflow sets:
//! its `env:` / `variables:` blocks, `${{ secrets.X }}` and `${{ vars.X }}`
//! taken from the repository settings the set-up guide (docs/ci.md) asks
//! for. The outcome is checked in gcsim through `/_sim/dump`: the plan
//! changes nothing, applying the saved plan creates the objects with the
//! client secret encrypted to the age recipient (decrypted, it logs in), and
//! the nightly drift is clean, then exits 2 with a report after a change
//! behind gcrecon's back. The `gh` / `glab` lines around them cannot run
//! here (no GitHub or GitLab); the commands they consume (plan.md,
//! drift.md, the saved plan) are checked to exist.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use age::secrecy::ExposeSecret;
use serde_json::json;
use test_support::{bin_path, Run, Workdir};
use yaml_rust2::{Yaml, YamlLoader};

const FIXTURE: &str = r#"
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]
"#;

const MANIFEST: &str = r#"
[gcrecon]
version = 1
name = "acme"

[role.reader]
name = "Queue Reader"
permissions = ["routing:queue:view"]

[group.ops]
name = "Ops"
description = "operators"

[oauth_client.api]
name = "Acme API"
grant_type = "client_credentials"
roles = [{ role = "${role.reader.id}", divisions = ["*"] }]
"#;

/// A shell script of a workflow step or job, with the environment the
/// platform gives it.
struct Script {
    origin: String,
    text: String,
    env: BTreeMap<String, String>,
}

/// One `gcrecon` command line as the shell would run it.
#[derive(Debug)]
struct GcreconLine {
    origin: String,
    line: String,
    args: Vec<String>,
    stdout_to: Option<String>,
    env: BTreeMap<String, String>,
}

fn kit(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/ci")
        .join(rel)
}

fn load(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(kit(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert_eq!(docs.len(), 1, "{rel}: one YAML document");
    docs.remove(0)
}

/// Resolve an `env:` value as GitHub would: `${{ secrets.X }}` and
/// `${{ vars.X }}` from the repository settings (unset when not set there),
/// anything else literally.
fn github_value(value: &Yaml, settings: &BTreeMap<&str, String>) -> Option<String> {
    let text = match value {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("unexpected env value {other:?}"),
    };
    let Some(expr) = text
        .trim()
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
    else {
        assert!(
            !text.contains("${{"),
            "an expression inside a value: {text}"
        );
        return Some(text);
    };
    let expr = expr.trim();
    let name = expr
        .strip_prefix("secrets.")
        .or_else(|| expr.strip_prefix("vars."));
    match name {
        Some(n) => settings.get(n).cloned(),
        // github.token and the event's fields serve only gh.
        None => None,
    }
}

fn merge_env(into: &mut BTreeMap<String, String>, block: &Yaml, settings: &BTreeMap<&str, String>) {
    if let Some(hash) = block.as_hash() {
        for (k, v) in hash {
            let k = k.as_str().expect("env names are strings").to_owned();
            match github_value(v, settings) {
                Some(v) => into.insert(k, v),
                None => into.remove(&k),
            };
        }
    }
}

/// Every `run:` of a GitHub workflow, in order, with its environment.
fn github_scripts(rel: &str, settings: &BTreeMap<&str, String>) -> Vec<Script> {
    let doc = load(rel);
    assert!(!doc["on"].is_badvalue(), "{rel}: no `on:`");
    let mut workflow_env = BTreeMap::new();
    merge_env(&mut workflow_env, &doc["env"], settings);
    let mut scripts = Vec::new();
    for (job_name, job) in doc["jobs"].as_hash().expect("jobs") {
        let mut job_env = workflow_env.clone();
        merge_env(&mut job_env, &job["env"], settings);
        for (n, step) in job["steps"].as_vec().expect("steps").iter().enumerate() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let mut env = job_env.clone();
            merge_env(&mut env, &step["env"], settings);
            scripts.push(Script {
                origin: format!(
                    "{rel}: job {} step {}",
                    job_name.as_str().unwrap_or("?"),
                    n + 1
                ),
                text: run.to_owned(),
                env,
            });
        }
    }
    scripts
}

/// The `script:` of every GitLab job, in stage order, with the file's
/// `variables:` over the project's CI/CD variables.
fn gitlab_scripts(rel: &str, project_variables: &BTreeMap<&str, String>) -> Vec<(String, Script)> {
    let doc = load(rel);
    let stages: Vec<String> = doc["stages"]
        .as_vec()
        .expect("stages")
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let mut base: BTreeMap<String, String> = project_variables
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    for (k, v) in doc["variables"].as_hash().into_iter().flatten() {
        base.insert(
            k.as_str().unwrap().to_owned(),
            v.as_str().unwrap().to_owned(),
        );
    }
    let mut jobs: Vec<(usize, String, Script)> = Vec::new();
    for (name, job) in doc.as_hash().unwrap() {
        let Some(stage) = job["stage"].as_str() else {
            continue;
        };
        let name = name.as_str().unwrap().to_owned();
        let order = stages
            .iter()
            .position(|s| s == stage)
            .unwrap_or_else(|| panic!("{rel}: job {name} has an unknown stage {stage}"));
        let mut env = base.clone();
        for (k, v) in job["variables"].as_hash().into_iter().flatten() {
            env.insert(
                k.as_str().unwrap().to_owned(),
                v.as_str().unwrap().to_owned(),
            );
        }
        let text: Vec<&str> = job["script"]
            .as_vec()
            .unwrap_or_else(|| panic!("{rel}: job {name} has no script"))
            .iter()
            .map(|l| l.as_str().expect("script lines are strings"))
            .collect();
        jobs.push((
            order,
            stage.to_owned(),
            Script {
                origin: format!("{rel}: job {name}"),
                text: text.join("\n"),
                env,
            },
        ));
    }
    jobs.sort_by_key(|(order, _, _)| *order);
    jobs.into_iter().map(|(_, stage, s)| (stage, s)).collect()
}

/// Fails unless bash accepts the script's syntax (`bash -n`).
fn assert_bash_syntax(script: &Script) {
    let out = Command::new("bash")
        .args(["-n", "-c", &script.text])
        .output()
        .expect("cannot run bash");
    assert!(
        out.status.success(),
        "{}: bash rejects the script: {}",
        script.origin,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `gcrecon` command lines of a script, in order.
fn gcrecon_lines(script: &Script) -> Vec<GcreconLine> {
    assert_bash_syntax(script);
    let mut lines = Vec::new();
    let mut joined = String::new();
    for raw in script.text.lines() {
        let raw = raw.trim();
        if let Some(head) = raw.strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        if line.starts_with("gcrecon ") {
            let (words, stdout_to) = shell_words(&line, &script.env);
            lines.push(GcreconLine {
                origin: script.origin.clone(),
                line: line.clone(),
                args: words[1..].to_vec(),
                stdout_to,
                env: script.env.clone(),
            });
        }
    }
    lines
}

/// Split a simple command as the shell would: quotes, `$NAME` / `${NAME}`
/// (not in single quotes), up to the first `|`, `&` or `;`; a `> FILE`
/// redirection of stdout is returned apart.
fn shell_words(line: &str, env: &BTreeMap<String, String>) -> (Vec<String>, Option<String>) {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut redirect = None;
    let mut word = String::new();
    let mut started = false;
    let mut to_redirect = false;
    let (mut single, mut double) = (false, false);
    let mut i = 0;
    let mut finish = |word: &mut String, started: &mut bool, to_redirect: &mut bool| {
        if *started {
            if *to_redirect {
                redirect = Some(std::mem::take(word));
                *to_redirect = false;
            } else {
                words.push(std::mem::take(word));
            }
            *started = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' if !double => {
                single = !single;
                started = true;
            }
            '"' if !single => {
                double = !double;
                started = true;
            }
            '$' if !single => {
                let rest: String = chars[i + 1..].iter().collect();
                let (name, used) = if let Some(braced) = rest.strip_prefix('{') {
                    let end = braced.find('}').expect("unclosed ${");
                    (braced[..end].to_owned(), end + 2)
                } else {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let n = name.len();
                    (name, n)
                };
                assert!(!name.is_empty(), "a `$` that is not a variable in: {line}");
                word.push_str(env.get(&name).map_or("", String::as_str));
                started = true;
                i += used;
            }
            c if single || double => {
                word.push(c);
                started = true;
            }
            ' ' | '\t' => finish(&mut word, &mut started, &mut to_redirect),
            '>' => {
                finish(&mut word, &mut started, &mut to_redirect);
                to_redirect = true;
            }
            '|' | '&' | ';' => break,
            c => {
                word.push(c);
                started = true;
            }
        }
        i += 1;
    }
    assert!(!single && !double, "unbalanced quotes in: {line}");
    finish(&mut word, &mut started, &mut to_redirect);
    (words, redirect)
}

/// Run one extracted line in the work dir: its environment only (plus
/// `PATH` and the simulator's address, which stands in for the region).
fn run_line(w: &Workdir, l: &GcreconLine) -> Run {
    let mut cmd = Command::new(bin_path("gcrecon"));
    cmd.current_dir(w.dir.path())
        .args(&l.args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&l.env)
        .env("GENESYSCLOUD_API_REGION", w.sim.url())
        .env_remove("GENESYSCLOUD_REGION")
        .stdin(Stdio::null());
    let out = cmd.output().expect("cannot run gcrecon");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if let Some(file) = &l.stdout_to {
        std::fs::write(w.path(file), &stdout).unwrap();
    }
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run the lines, each expected to exit `code`.
fn run_all(w: &Workdir, lines: &[GcreconLine], code: i32) {
    for l in lines {
        let run = run_line(w, l);
        assert_eq!(
            run.code, code,
            "{}: `{}` exited {}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            l.origin, l.line, run.code, run.stdout, run.stderr
        );
    }
}

fn subcommands(lines: &[GcreconLine]) -> Vec<&str> {
    lines.iter().map(|l| l.args[0].as_str()).collect()
}

/// The settings docs/ci.md asks for, with an age key pair; the identity
/// file is outside the work dir.
struct Settings {
    values: BTreeMap<&'static str, String>,
    identity_file: PathBuf,
    _keys: tempfile::TempDir,
}

fn settings() -> Settings {
    let identity = age::x25519::Identity::generate();
    let keys = test_support::temp_dir();
    let identity_file = keys.path().join("gcrecon-secrets.key");
    std::fs::write(
        &identity_file,
        format!("{}\n", identity.to_string().expose_secret()),
    )
    .unwrap();
    let values = BTreeMap::from([
        ("GENESYSCLOUD_OAUTHCLIENT_ID", "ci-client".to_owned()),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "ci-secret".to_owned()),
        (
            "GCRECON_SECRETS_RECIPIENTS",
            identity.to_public().to_string(),
        ),
        (
            "GCRECON_GIT",
            "https://example.invalid/gcrecon.git".to_owned(),
        ),
    ]);
    Settings {
        values,
        identity_file,
        _keys: keys,
    }
}

fn named<'a>(
    dump: &'a serde_json::Value,
    collection: &str,
    name: &str,
) -> Option<&'a serde_json::Value> {
    dump[collection]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
}

/// The whole life cycle with the kit's commands: plan on the pull request,
/// apply of the saved plan on merge, nightly drift clean and then found.
fn life_cycle(
    w: &Workdir,
    s: &Settings,
    plan: &[GcreconLine],
    apply: &[GcreconLine],
    drift: &[GcreconLine],
) {
    assert_eq!(subcommands(plan), ["validate", "plan"], "{plan:#?}");
    assert_eq!(subcommands(apply), ["apply"], "{apply:#?}");
    assert_eq!(subcommands(drift), ["drift"], "{drift:#?}");

    run_all(w, plan, 0);
    let comment = std::fs::read_to_string(w.path("plan.md")).expect("plan.md for the comment");
    assert!(
        comment.contains("Plan: 3 to add, 0 to change, 0 to destroy."),
        "{comment}"
    );
    assert!(
        w.path("gcrecon.plan").exists(),
        "the saved plan for the artifact"
    );
    let dump = w.sim.dump();
    assert!(
        named(&dump, "oauth_clients", "Acme API").is_none(),
        "plan changed the org"
    );

    run_all(w, apply, 0);
    let dump = w.sim.dump();
    assert!(named(&dump, "roles", "Queue Reader").is_some(), "{dump}");
    assert_eq!(
        named(&dump, "groups", "Ops").expect("group Ops")["description"],
        "operators"
    );
    let client = named(&dump, "oauth_clients", "Acme API").expect("client Acme API");
    let client_id = client["id"].as_str().unwrap();

    // The secret was encrypted to the recipient: the identity decrypts it,
    // it logs in, and it is in no file of the work dir.
    let shown = w
        .run(&[
            "secrets",
            "show",
            "oauth_client.api",
            "--identity",
            s.identity_file.to_str().unwrap(),
        ])
        .expect(0)
        .json();
    assert_eq!(shown["client_id"], client_id);
    let secret = shown["client_secret"].as_str().unwrap();
    w.sim.login(client_id, secret);
    let mut todo = vec![w.dir.path().to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                let bytes = std::fs::read(e.path()).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains(secret),
                    "{} holds the secret in clear",
                    e.path().display()
                );
            }
        }
    }

    run_all(w, drift, 0);
    w.sim
        .mutate(json!({"kind": "group", "name": "Ops", "set": {"description": "changed by hand"}}));
    run_all(w, drift, 2);
    let report = std::fs::read_to_string(w.path("drift.md")).expect("drift.md for the issue");
    assert!(report.contains("group.ops"), "{report}");
}

#[test]
fn github_workflows_run_against_gcsim() {
    let s = settings();
    let lines = |file: &str| -> Vec<GcreconLine> {
        github_scripts(file, &s.values)
            .iter()
            .flat_map(gcrecon_lines)
            .collect()
    };
    let plan = lines(".github/workflows/plan.yml");
    let apply = lines(".github/workflows/apply.yml");
    let drift = lines(".github/workflows/drift.yml");
    // The apply job names the recipients; plan and drift never see them.
    assert!(apply[0].env.contains_key("GCRECON_SECRETS_RECIPIENTS"));
    assert!(!plan[1].env.contains_key("GCRECON_SECRETS_RECIPIENTS"));
    assert_eq!(plan[1].stdout_to.as_deref(), Some("plan.md"));
    let w = Workdir::new(FIXTURE, MANIFEST);
    life_cycle(&w, &s, &plan, &apply, &drift);
}

#[test]
fn gitlab_pipeline_runs_against_gcsim() {
    let s = settings();
    let jobs = gitlab_scripts(".gitlab-ci.yml", &s.values);
    let stage = |name: &str| -> Vec<GcreconLine> {
        jobs.iter()
            .filter(|(stage, _)| stage == name)
            .flat_map(|(_, script)| gcrecon_lines(script))
            .collect()
    };
    let (plan, apply, drift) = (stage("plan"), stage("apply"), stage("drift"));
    assert_eq!(drift[0].stdout_to.as_deref(), Some("drift.md"));
    let w = Workdir::new(FIXTURE, MANIFEST);
    life_cycle(&w, &s, &plan, &apply, &drift);
}

#[test]
fn the_shell_splitting_matches_the_shell() {
    let env = BTreeMap::from([("M".to_owned(), "a b.toml".to_owned())]);
    let (words, to) = shell_words(
        r#"gcrecon plan -m "$M" --x '$M' ${M}x > out.md || status=$?"#,
        &env,
    );
    assert_eq!(
        words,
        [
            "gcrecon",
            "plan",
            "-m",
            "a b.toml",
            "--x",
            "$M",
            "a b.tomlx"
        ]
    );
    assert_eq!(to.as_deref(), Some("out.md"));
    let (words, to) = shell_words(r#"gcrecon apply "" x; echo"#, &env);
    assert_eq!(words, ["gcrecon", "apply", "", "x"]);
    assert_eq!(to, None);
}
