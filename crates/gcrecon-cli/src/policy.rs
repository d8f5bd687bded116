//! Policy checks on the plan (`gcrecon plan --policy DIR`, `gcrecon policy
//! test DIR`), as conftest and `opa test` do them, with the Rego engine
//! embedded (the `regorus` crate): no external binary.
//!
//! Every `*.rego` file of DIR (sorted, not recursive) is loaded. The plan
//! JSON ([`gcrecon_core::plan_json`]) is the `input`; the rules `deny` and
//! `warn` of `package main` and `package gcrecon` are sets of message
//! strings. A `deny` message blocks the plan, a `warn` message is printed.
//! `test_*` rules are the policies' own tests: [`run_tests`] evaluates each
//! and reports it passed when it is `true`.
//!
//! Nothing fails silently: a file that does not parse, a `deny` that is not
//! a set of strings, a rule whose evaluation fails, or a DIR without a
//! `*.rego` file is a [`PolicyError`] naming the file (and line where the
//! engine gives one).

use std::path::{Path, PathBuf};

use regorus::{Engine, Value as Rego};
use serde::Serialize;
use serde_json::Value as Json;

/// The packages whose `deny` and `warn` rules count, as conftest's default
/// `main` plus gcrecon's own namespace.
pub const PACKAGES: [&str; 2] = ["main", "gcrecon"];

/// A policy problem that stops the command: never read as a pass.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read the policy directory {dir}: {source}")]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the policy directory {dir} holds no *.rego file")]
    Empty { dir: PathBuf },
    #[error("cannot read the policy {file}: {source}")]
    ReadFile {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("the policy {location} does not parse: {message}")]
    Syntax { location: String, message: String },
    #[error("the policy rule {rule} ({location}) did not evaluate: {message}")]
    Eval {
        rule: String,
        location: String,
        message: String,
    },
    #[error("the policy rule {rule} ({location}) is {found}, not a set of message strings")]
    NotMessages {
        rule: String,
        location: String,
        found: String,
    },
}

impl PolicyError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            PolicyError::ReadDir { .. } | PolicyError::ReadFile { .. } => {
                "check the path given to --policy (or GCRECON_POLICY)"
            }
            PolicyError::Empty { .. } => {
                "point --policy at the directory holding the *.rego files (e.g. examples/policies)"
            }
            PolicyError::Syntax { .. } => {
                "fix the Rego at that line; rules use Rego v1 syntax: `deny contains msg if { ... }`"
            }
            PolicyError::Eval { .. } => {
                "fix the rule at that line; `gcrecon policy test DIR` runs the policies' own tests"
            }
            PolicyError::NotMessages { .. } => {
                "write the rule as a set of strings: `deny contains msg if { ...; msg := \"...\" }`"
            }
        }
    }
}

/// One message of a `deny` or `warn` rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule, `data.main.deny`.
    pub rule: String,
    pub message: String,
}

/// What the policies said about one plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyReport {
    /// The directory given.
    pub dir: String,
    /// The files evaluated, by name.
    pub files: Vec<String>,
    pub deny: Vec<Violation>,
    pub warn: Vec<Violation>,
}

impl PolicyReport {
    /// True when no `deny` message was raised.
    pub fn passed(&self) -> bool {
        self.deny.is_empty()
    }

    /// The JSON `policy` section of the plan document.
    pub fn to_json(&self) -> Json {
        serde_json::json!({
            "dir": self.dir,
            "files": self.files,
            "passed": self.passed(),
            "deny": self.deny,
            "warn": self.warn,
        })
    }
}

/// The loaded policy files of one directory.
pub struct PolicySet {
    dir: PathBuf,
    files: Vec<PolicyFile>,
    engine: Engine,
}

struct PolicyFile {
    path: PathBuf,
    text: String,
    /// `data.main`, as the engine names the file's package.
    package: String,
}

impl PolicySet {
    /// Load every `*.rego` file of `dir`.
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        let entries = std::fs::read_dir(dir).map_err(|source| PolicyError::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "rego"))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(PolicyError::Empty {
                dir: dir.to_owned(),
            });
        }
        let mut engine = Engine::new();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::ReadFile {
                file: path.clone(),
                source,
            })?;
            let package = engine
                .add_policy(path.display().to_string(), text.clone())
                .map_err(|e| syntax_error(&path, &e.to_string()))?;
            files.push(PolicyFile {
                path,
                text,
                package,
            });
        }
        Ok(PolicySet {
            dir: dir.to_owned(),
            files,
            engine,
        })
    }

    /// Evaluate `deny` and `warn` of the packages in [`PACKAGES`] with the
    /// plan JSON as `input`.
    pub fn evaluate(&self, plan: &Json) -> Result<PolicyReport, PolicyError> {
        let mut engine = self.engine.clone();
        engine.set_input(Rego::from(plan.clone()));
        let mut report = PolicyReport {
            dir: self.dir.display().to_string(),
            files: self
                .files
                .iter()
                .map(|f| {
                    f.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                })
                .collect(),
            deny: Vec::new(),
            warn: Vec::new(),
        };
        for package in PACKAGES {
            let package = format!("data.{package}");
            for (name, into) in [("deny", &mut report.deny), ("warn", &mut report.warn)] {
                let Some(location) = self.rule_location(&package, name) else {
                    continue;
                };
                let rule = format!("{package}.{name}");
                let value = engine
                    .eval_rule(rule.clone())
                    .map_err(|e| PolicyError::Eval {
                        rule: rule.clone(),
                        location: location.clone(),
                        message: one_line(&e.to_string()),
                    })?;
                into.extend(messages(&rule, &location, &value)?);
            }
        }
        Ok(report)
    }

    /// `file:line` of the first definition of `rule` in `package` (the
    /// file alone when the head is not at the start of a line), when one of
    /// the files declares it. The engine decides what is declared, so an
    /// indented or unusual rule head is evaluated all the same.
    fn rule_location(&self, package: &str, rule: &str) -> Option<String> {
        self.files
            .iter()
            .filter(|f| f.package == package)
            .find_map(|f| {
                let line = rule_lines(&f.text)
                    .find(|(_, name)| *name == rule)
                    .map(|(line, _)| line);
                let declared = self
                    .engine
                    .has_declared_rule_rooted_at(&f.path.display().to_string(), rule)
                    .unwrap_or(line.is_some());
                match (declared, line) {
                    (true, Some(line)) => Some(format!("{}:{line}", f.path.display())),
                    (true, None) => Some(f.path.display().to_string()),
                    (false, _) => None,
                }
            })
    }

    /// Run every `test_*` rule, as `opa test` does.
    pub fn run_tests(&self) -> Vec<TestOutcome> {
        let mut outcomes = Vec::new();
        for file in &self.files {
            let mut seen = std::collections::BTreeSet::new();
            for (line, name) in rule_lines(&file.text) {
                if !name.starts_with("test_") || !seen.insert(name) {
                    continue;
                }
                let rule = format!("{}.{name}", file.package);
                let location = format!("{}:{line}", file.path.display());
                let mut engine = self.engine.clone();
                let result = match engine.eval_rule(rule.clone()) {
                    Ok(Rego::Bool(true)) => TestResult::Pass,
                    Ok(Rego::Undefined) | Ok(Rego::Bool(false)) => TestResult::Fail,
                    Ok(other) => {
                        TestResult::Error(format!("is {}, not true or false", describe(&other)))
                    }
                    Err(e) => TestResult::Error(one_line(&e.to_string())),
                };
                outcomes.push(TestOutcome {
                    rule,
                    location,
                    result,
                });
            }
        }
        outcomes
    }
}

/// The outcome of one `test_*` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    /// `data.main.test_wildcard_denied`.
    pub rule: String,
    /// `file:line`.
    pub location: String,
    pub result: TestResult,
}

/// Pass (`true`), fail (`false` or undefined) or error (it did not evaluate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestResult {
    Pass,
    Fail,
    Error(String),
}

/// The rule heads that start a line: `(line number, name)`, e.g.
/// `deny contains msg if {` gives `deny`.
fn rule_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let first = line.chars().next()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let name = &line[..end];
        (!matches!(name, "package" | "import" | "default")).then_some((i + 1, name))
    })
}

fn messages(rule: &str, location: &str, value: &Rego) -> Result<Vec<Violation>, PolicyError> {
    let not_messages = || PolicyError::NotMessages {
        rule: rule.to_owned(),
        location: location.to_owned(),
        found: describe(value),
    };
    let items: Vec<&Rego> = match value {
        Rego::Undefined => return Ok(Vec::new()),
        Rego::Set(set) => set.iter().collect(),
        Rego::Array(items) => items.iter().collect(),
        _ => return Err(not_messages()),
    };
    items
        .into_iter()
        .map(|item| match item {
            Rego::String(s) => Ok(Violation {
                rule: rule.to_owned(),
                message: s.to_string(),
            }),
            // conftest's structured form: `{"msg": "..."}`.
            Rego::Object(fields) => match fields.get(&Rego::from("msg")) {
                Some(Rego::String(s)) => Ok(Violation {
                    rule: rule.to_owned(),
                    message: s.to_string(),
                }),
                _ => Err(not_messages()),
            },
            _ => Err(not_messages()),
        })
        .collect()
}

fn describe(value: &Rego) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

/// The engine's message on one line (it spreads a source excerpt over several).
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A parse error as `file:line:col` and the engine's message, which reads
/// `--> file:line:col`, the line with a caret, then `error: ...`.
fn syntax_error(path: &Path, message: &str) -> PolicyError {
    let location = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("--> "))
        .map_or_else(|| path.display().to_string(), str::to_owned);
    let text = message
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(|| one_line(message), str::to_owned);
    PolicyError::Syntax {
        location,
        message: text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<PolicySet, PolicyError>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let loaded = PolicySet::load(dir.path());
        (dir, loaded)
    }

    const WILDCARD: &str = r#"package main

deny contains msg if {
    some rc in input.resource_changes
    rc.type == "role"
    some p in rc.change.after.permissions
    p == "*:*:*"
    msg := sprintf("%s grants *:*:*", [rc.address])
}

warn contains msg if {
    some rc in input.resource_changes
    "delete" in rc.change.actions
    msg := sprintf("%s is deleted", [rc.address])
}

test_wildcard_denied if {
    count(deny) == 1 with input as {"resource_changes": [{"address": "role.x", "type": "role", "change": {"actions": ["create"], "after": {"permissions": ["*:*:*"]}}}]}
}

test_fails if {
    count(deny) == 1 with input as {"resource_changes": []}
}
"#;

    fn plan(permissions: &[&str], actions: &[&str]) -> Json {
        serde_json::json!({"resource_changes": [{
            "address": "role.x", "type": "role",
            "change": {"actions": actions, "after": {"permissions": permissions}}
        }]})
    }

    #[test]
    fn deny_and_warn_messages_are_collected() {
        let (_dir, loaded) = set(&[("roles.rego", WILDCARD)]);
        let policies = loaded.unwrap();
        let report = policies
            .evaluate(&plan(&["*:*:*"], &["delete", "create"]))
            .unwrap();
        assert!(!report.passed());
        assert_eq!(report.deny[0].message, "role.x grants *:*:*");
        assert_eq!(report.deny[0].rule, "data.main.deny");
        assert_eq!(report.warn[0].message, "role.x is deleted");
        let clean = policies
            .evaluate(&plan(&["routing:queue:view"], &["create"]))
            .unwrap();
        assert!(clean.passed() && clean.warn.is_empty(), "{clean:?}");
    }

    #[test]
    fn tests_pass_and_fail() {
        let (_dir, loaded) = set(&[("roles.rego", WILDCARD)]);
        let outcomes = loaded.unwrap().run_tests();
        let results: Vec<(&str, &TestResult)> = outcomes
            .iter()
            .map(|o| (o.rule.as_str(), &o.result))
            .collect();
        assert_eq!(
            results,
            [
                ("data.main.test_wildcard_denied", &TestResult::Pass),
                ("data.main.test_fails", &TestResult::Fail)
            ]
        );
        assert!(
            outcomes[0].location.ends_with("roles.rego:17"),
            "{outcomes:?}"
        );
    }

    #[test]
    fn a_syntax_error_names_file_and_line() {
        let (_dir, loaded) = set(&[(
            "bad.rego",
            "package main\n\ndeny contains msg if {\n  msg := \n}\n",
        )]);
        let err = loaded.err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, PolicyError::Syntax { .. }), "{text}");
        assert!(text.contains("bad.rego:"), "{text}");
    }

    #[test]
    fn a_deny_that_is_not_messages_is_an_error() {
        let (_dir, loaded) = set(&[("odd.rego", "package gcrecon\n\ndeny := 3\n")]);
        let err = loaded
            .unwrap()
            .evaluate(&plan(&[], &["create"]))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("data.gcrecon.deny") && text.contains("odd.rego:3"),
            "{text}"
        );
    }

    #[test]
    fn an_indented_rule_head_is_evaluated_too() {
        let text = "package main\n\n  deny contains \"indented\" if { true }\n";
        let (_dir, loaded) = set(&[("indented.rego", text)]);
        let report = loaded.unwrap().evaluate(&plan(&[], &["create"])).unwrap();
        assert_eq!(report.deny.len(), 1, "{report:?}");
    }

    #[test]
    fn an_empty_directory_is_an_error() {
        let (_dir, loaded) = set(&[("README.md", "no policies")]);
        assert!(matches!(loaded, Err(PolicyError::Empty { .. })));
    }
}
