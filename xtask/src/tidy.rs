//! `cargo xtask tidy`: checks of the repository itself, run by the test
//! suite too, so that the rules hold without anyone remembering them.
//!
//! - no unfinished-code macros (todo, unimplemented) in Rust sources;
//! - every crate's root file starts with a `//!` doc comment;
//! - every Rust module file starts with a `//!` doc comment;
//! - every `docs/` page linked from `docs/architecture.md` exists;
//! - the dependency rules of the architecture hold: gcsim depends on no
//!   gcrecon crate, gcrecon-core on no async runtime or network crate;
//! - the repository stands alone: no file points at the specification
//!   tree outside it (the paths in `OUTSIDE`); what code and tests need of
//!   it is copied in.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Run every check; print each problem; fail if there was any.
pub fn run(root: &Path) -> Result<()> {
    let problems = check(root)?;
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("{} tidy problem(s)", problems.len())
}

/// Every problem found, as a sentence naming the file.
pub fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        collect_rs(&root.join(dir), &mut files)?;
    }
    let forbidden = [concat!("todo", "!("), concat!("unimplemented", "!(")];
    for file in &files {
        let text = fs::read_to_string(file)?;
        let rel = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for (n, line) in text.lines().enumerate() {
            if forbidden.iter().any(|f| line.contains(f)) {
                problems.push(format!(
                    "{rel}:{}: unfinished code (todo/unimplemented)",
                    n + 1
                ));
            }
        }
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("#!"));
        let is_test_data = rel.contains("/snapshots/") || rel.contains("/fixtures/");
        if !is_test_data && !first.is_some_and(|l| l.starts_with("//!")) {
            problems.push(format!(
                "{rel}: does not start with a `//!` doc comment saying what it is for"
            ));
        }
    }
    problems.extend(dependency_rule_problems(root)?);
    problems.extend(outside_reference_problems(root)?);
    let arch = root.join("docs/architecture.md");
    if arch.exists() {
        let text = fs::read_to_string(&arch)?;
        for link in doc_links(&text) {
            if !root.join(&link).exists() {
                problems.push(format!(
                    "docs/architecture.md links `{link}`, which does not exist"
                ));
            }
        }
    } else {
        problems.push("docs/architecture.md is missing".to_owned());
    }
    Ok(problems)
}

/// Paths outside the repository that nothing in it may point at (spelled
/// in pieces so that this file does not name them itself).
const OUTSIDE: &[&str] = &[
    concat!("shared", "/spec"),
    concat!("shared", "/genesys-api"),
    concat!("shared", "/seeds"),
    concat!("../", "shared"),
];

/// Text files that mention a path outside the repository.
fn outside_reference_problems(root: &Path) -> Result<Vec<String>> {
    let mut files = vec![root.join("README.md"), root.join(".ci/run")];
    for dir in [
        "crates", "xtask", "tests", "docs", "examples", "state", ".ci",
    ] {
        collect_files(&root.join(dir), &mut files, &|name| {
            [".rs", ".md", ".toml", ".py", ".sh", ".json", ".txt"]
                .iter()
                .any(|e| name.ends_with(e))
        })?;
    }
    files.sort();
    files.dedup();
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| f.is_file()) {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        let rel = file.strip_prefix(root).unwrap_or(file).display();
        for (n, line) in text.lines().enumerate() {
            if let Some(p) = OUTSIDE.iter().find(|p| line.contains(*p)) {
                problems.push(format!(
                    "{rel}:{}: points at `{p}`, which is not part of the repository; copy what is needed in, or describe it",
                    n + 1
                ));
            }
        }
    }
    Ok(problems)
}

/// Crates that a crate must not depend on, and why.
const DEPENDENCY_RULES: &[(&str, &[&str], &str)] = &[
    (
        "crates/gcsim/Cargo.toml",
        &[
            "gcrecon-core",
            "gcrecon-engine",
            "gcrecon-genesys",
            "gcrecon-cli",
        ],
        "gcsim is an independent model of the service, not a mirror of the client",
    ),
    (
        "crates/gcrecon-core/Cargo.toml",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "axum",
            "async-std",
            "futures",
            "gcrecon-genesys",
            "gcrecon-engine",
        ],
        "gcrecon-core is pure logic: no I/O, no async runtime, no network",
    ),
];

fn dependency_rule_problems(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (manifest, forbidden, why) in DEPENDENCY_RULES {
        let path = root.join(manifest);
        if !path.exists() {
            continue;
        }
        let text = fs::read_to_string(&path)?;
        let mut section = String::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.to_owned();
                continue;
            }
            let normal_deps = section == "[dependencies]" || section.starts_with("[dependencies.");
            let name = line.split(['=', ' ', '.']).next().unwrap_or("");
            if normal_deps && forbidden.contains(&name) {
                problems.push(format!("{manifest}: depends on `{name}`, but {why}"));
            }
        }
    }
    Ok(problems)
}

/// Docs pages a text refers to: paths like `docs/cli.md`, and relative
/// markdown links like `[cli](cli.md)` (resolved against `docs/`).
fn doc_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for piece in text.split(['`', '(', ')', ' ', '\n']) {
        let piece = piece.trim_matches(|c: char| c == ',' || c == '.' || c == ';');
        if piece.starts_with("docs/") && piece.ends_with(".md") {
            links.push(piece.to_owned());
        }
    }
    for (i, _) in text.match_indices("](") {
        let rest = &text[i + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].split('#').next().unwrap_or("");
        let is_relative_page =
            target.ends_with(".md") && !target.contains("://") && !target.starts_with('/');
        if is_relative_page && !target.starts_with("docs/") {
            links.push(format!("docs/{}", target.trim_start_matches("./")));
        }
    }
    links.sort();
    links.dedup();
    links
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    collect_files(dir, out, &|name| name.ends_with(".rs"))?;
    out.sort();
    Ok(())
}

/// The files under `dir` whose name `wanted` accepts (build output and
/// hidden directories skipped).
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, wanted: &dyn Fn(&str) -> bool) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_files(&path, out, wanted)?;
            }
        } else if wanted(name) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_is_tidy() {
        let problems = check(&crate::project_root()).unwrap();
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn doc_links_are_found() {
        let links =
            doc_links("see `docs/cli.md`, [state](docs/state.md) and [drift](drift.md#ignore).");
        assert_eq!(links, ["docs/cli.md", "docs/drift.md", "docs/state.md"]);
    }

    #[test]
    fn unfinished_code_is_reported() {
        let dir = std::env::temp_dir().join(format!("tidy-test-{}", std::process::id()));
        let crates = dir.join("crates/x/src");
        fs::create_dir_all(&crates).unwrap();
        fs::write(
            crates.join("lib.rs"),
            format!("//! x\nfn f() {{ {}) }}\n", concat!("todo", "!(")),
        )
        .unwrap();
        fs::write(crates.join("bare.rs"), "fn g() {}\n").unwrap();
        fs::create_dir_all(dir.join("docs")).unwrap();
        fs::write(
            dir.join("docs/cli.md"),
            format!("# x\n\nsee `{}/cli.md`\n", concat!("shared", "/spec")),
        )
        .unwrap();
        fs::create_dir_all(dir.join("crates/gcsim")).unwrap();
        fs::write(
            dir.join("crates/gcsim/Cargo.toml"),
            "[package]\nname = \"gcsim\"\n[dependencies]\ngcrecon-core.workspace = true\n[dev-dependencies]\ngcrecon-engine = \"1\"\n",
        )
        .unwrap();
        let problems = check(&dir).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("docs/cli.md:3: points at")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("lib.rs:2: unfinished")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("bare.rs: does not start")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("architecture.md is missing")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("depends on `gcrecon-core`")),
            "{problems:?}"
        );
        assert!(
            !problems.iter().any(|p| p.contains("`gcrecon-engine`")),
            "dev-dependencies are allowed: {problems:?}"
        );
    }
}
