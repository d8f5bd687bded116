//! Fleet files (`gcrecon fleet plan|drift -f FLEET.toml`): one manifest,
//! many workspaces, each an organization with its own login, state and
//! variables. This module reads and checks the file; `commands::fleet`
//! runs the workspaces, and [`Summary`] is what they found, rendered as
//! a table (human), a pull-request comment (markdown) or one JSON document.
//!
//! ```toml
//! manifest = "gcrecon.toml"        # relative to the fleet file
//!
//! [workspace.acme-prod]
//! region = "eu-central-1"
//! client_id_env = "ACME_PROD_CLIENT_ID"
//! client_secret_env = "ACME_PROD_CLIENT_SECRET"
//! api_url = "https://..."          # optional, instead of region
//! vars = { aws_account_id = "123456789012" }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gcrecon_genesys::connection::env as genesys_env;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use toml::Spanned;

use crate::failure::{Explained, Hinted};

/// The fleet file's own format version in the JSON summary.
pub const FLEET_FORMAT_VERSION: &str = "1";

/// The manifest a fleet file names when it names none.
pub const DEFAULT_MANIFEST: &str = "gcrecon.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    manifest: Option<Spanned<String>>,
    #[serde(default)]
    workspace: BTreeMap<String, Spanned<WorkspaceModel>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceModel {
    region: Option<Spanned<String>>,
    client_id_env: Option<Spanned<String>>,
    client_secret_env: Option<Spanned<String>>,
    api_url: Option<Spanned<String>>,
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
}

/// A parsed fleet file.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// The fleet file, as given.
    pub path: PathBuf,
    /// The manifest, resolved against the fleet file's directory.
    pub manifest: PathBuf,
    /// The workspaces, by name.
    pub workspaces: Vec<Workspace>,
}

/// One `[workspace.NAME]` table.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub name: String,
    /// `FILE:LINE:COL` of the table, for messages.
    pub at: String,
    pub region: Option<String>,
    pub api_url: Option<String>,
    /// The environment variable holding the OAuth client id, and where it is named.
    pub client_id_env: Option<(String, String)>,
    /// The environment variable holding the OAuth client secret, and where it is named.
    pub client_secret_env: Option<(String, String)>,
    /// `vars`, as `--var NAME=VALUE` texts (strings as they are, other values as JSON).
    pub vars: Vec<String>,
}

/// `FILE:LINE:COL` of byte `offset` in `text` (1-based line and column).
pub fn location(path: &Path, text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    format!("{}:{line}:{col}", path.display())
}

const FILE_HINT: &str = "a fleet file has `manifest = \"gcrecon.toml\"` and one `[workspace.NAME]` table per organization with `region` or `api_url`, `client_id_env`, `client_secret_env` and `vars` (see docs/cli.md, Fleets)";

/// A workspace name that also works as part of a state file name and a
/// PostgreSQL row key.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// An environment variable's name as `client_id_env` gives it.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Fleet {
    /// Read and check the fleet file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Fleet> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Hinted::new(
                format!("cannot read the fleet file {}: {e}", path.display()),
                "pass the fleet file with -f FLEET.toml",
            )
        })?;
        Fleet::parse(path, &text)
    }

    /// Check the text of a fleet file read from `path`.
    pub fn parse(path: &Path, text: &str) -> anyhow::Result<Fleet> {
        let model: FileModel = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or_else(
                || path.display().to_string(),
                |s| location(path, text, s.start),
            );
            Hinted::new(
                format!("{at}: invalid fleet file: {}", e.message().trim_end()),
                FILE_HINT,
            )
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let manifest = match &model.manifest {
            Some(m) if m.get_ref().trim().is_empty() => {
                return Err(Hinted::new(
                    format!(
                        "{}: `manifest` is empty",
                        location(path, text, m.span().start)
                    ),
                    "name the manifest file or directory, relative to the fleet file",
                ))
            }
            Some(m) => dir.join(m.get_ref()),
            None => dir.join(DEFAULT_MANIFEST),
        };
        if model.workspace.is_empty() {
            return Err(Hinted::new(
                format!("{}: the fleet file has no workspace", path.display()),
                FILE_HINT,
            ));
        }
        let mut workspaces = Vec::new();
        for (name, table) in &model.workspace {
            let at = location(path, text, table.span().start);
            if !valid_name(name) {
                return Err(Hinted::new(
                    format!("{at}: `{name}` is not a valid workspace name"),
                    "use letters, digits, `-`, `_` and `.`: the name becomes part of the state's file name (state/<manifest>.<workspace>.gcstate.json)",
                ));
            }
            let ws = table.get_ref();
            let env_name = |key: &str, v: &Option<Spanned<String>>| -> anyhow::Result<_> {
                let Some(v) = v else { return Ok(None) };
                let where_ = location(path, text, v.span().start);
                let var = v.get_ref().trim().to_owned();
                if !valid_env_name(&var) {
                    return Err(Hinted::new(
                        // The value is not shown: it may be a secret pasted in by mistake.
                        format!("{where_}: workspace `{name}`: the value of `{key}` is not an environment variable name (not shown, in case it is a secret)"),
                        format!("`{key}` names the environment variable that holds the value (e.g. \"ACME_PROD_CLIENT_ID\"), never the value itself"),
                    ));
                }
                Ok(Some((var, where_)))
            };
            let client_id_env = env_name("client_id_env", &ws.client_id_env)?;
            let client_secret_env = env_name("client_secret_env", &ws.client_secret_env)?;
            if client_id_env.is_some() != client_secret_env.is_some() {
                let (given, missing) = if client_id_env.is_some() {
                    ("client_id_env", "client_secret_env")
                } else {
                    ("client_secret_env", "client_id_env")
                };
                return Err(Hinted::new(
                    format!("{at}: workspace `{name}` has `{given}` but no `{missing}`"),
                    format!(
                        "give both, or neither to log in with {} and {}",
                        genesys_env::CLIENT_ID,
                        genesys_env::CLIENT_SECRET
                    ),
                ));
            }
            let text_of = |v: &Option<Spanned<String>>| {
                v.as_ref()
                    .map(|s| s.get_ref().trim().to_owned())
                    .filter(|s| !s.is_empty())
            };
            let vars = ws
                .vars
                .iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => format!("{k}={s}"),
                    other => format!("{k}={}", serde_json::to_value(other).unwrap_or(Json::Null)),
                })
                .collect();
            workspaces.push(Workspace {
                name: name.clone(),
                at,
                region: text_of(&ws.region),
                api_url: text_of(&ws.api_url),
                client_id_env,
                client_secret_env,
                vars,
            });
        }
        Ok(Fleet {
            path: path.to_owned(),
            manifest,
            workspaces,
        })
    }
}

impl Workspace {
    /// The environment lookup of this workspace's connection: the standard
    /// `GENESYSCLOUD_*` names answer from the variables `client_id_env` and
    /// `client_secret_env` name (and no access token is taken from the
    /// environment then). A variable the file names that is not set is an
    /// error naming the workspace, the variable and where the file names it.
    pub fn credential_lookup(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<BTreeMap<&'static str, String>> {
        let mut map = BTreeMap::new();
        let named = [
            (genesys_env::CLIENT_ID, "client_id_env", &self.client_id_env),
            (
                genesys_env::CLIENT_SECRET,
                "client_secret_env",
                &self.client_secret_env,
            ),
        ];
        if self.client_id_env.is_some() {
            for (standard, key, given) in named {
                let Some((var, at)) = given else { continue };
                match env(var).filter(|v| !v.trim().is_empty()) {
                    Some(value) => {
                        map.insert(standard, value);
                    }
                    None => {
                        return Err(Hinted::new(
                            format!(
                                "workspace `{}`: the environment variable {var} is not set ({key} at {at})",
                                self.name
                            ),
                            format!("export {var} with this organization's OAuth client {}, or correct `{key}` in the fleet file", if standard == genesys_env::CLIENT_ID { "id" } else { "secret" }),
                        ))
                    }
                }
            }
        } else {
            for standard in [
                genesys_env::CLIENT_ID,
                genesys_env::CLIENT_SECRET,
                genesys_env::ACCESS_TOKEN,
            ] {
                if let Some(v) = env(standard) {
                    map.insert(standard, v);
                }
            }
        }
        for standard in [genesys_env::REGION, genesys_env::API_REGION] {
            if let Some(v) = env(standard) {
                map.insert(standard, v);
            }
        }
        Ok(map)
    }
}

/// Which fleet command ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Drift,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plan => "plan",
            Mode::Drift => "drift",
        }
    }
}

/// What one workspace's run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// `fleet plan`: the plan's counts; `changes` also counts changes to
    /// outputs, caller grants and state-only corrections.
    Plan {
        add: usize,
        change: usize,
        destroy: usize,
        changes: bool,
    },
    /// `fleet drift`: the report's counts.
    Drift {
        drifted: usize,
        missing: usize,
        unmanaged: usize,
    },
}

impl Found {
    /// True when the workspace makes the fleet exit 2.
    pub fn has_changes(&self) -> bool {
        match self {
            Found::Plan { changes, .. } => *changes,
            Found::Drift {
                drifted,
                missing,
                unmanaged,
            } => drifted + missing + unmanaged > 0,
        }
    }
}

/// Why a workspace failed: the error as the single-workspace commands
/// print it (`error: ...`, `Caused by: ...`, `hint: ...`).
pub type RowError = Explained;

/// The message and its causes on one line, for a table cell.
pub fn one_line(e: &RowError) -> String {
    if e.rendered {
        // Rendered diagnostics: their first line, without its `error: ` label.
        let first = first_line(&e.message);
        return first
            .strip_prefix("error: ")
            .map_or(first.clone(), str::to_owned);
    }
    let mut parts = vec![first_line(&e.message)];
    parts.extend(e.causes.iter().map(|c| first_line(c)));
    parts.join(": ")
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// The organization a workspace reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgCell {
    pub id: String,
    pub name: String,
}

/// One workspace's line of the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub workspace: String,
    pub org: Option<OrgCell>,
    pub outcome: Result<Found, RowError>,
    /// Where the workspace's state lives (a file, or a redacted database address).
    pub state: String,
    /// API calls gcrecon made for the workspace, the login included.
    pub api_calls: u64,
    pub elapsed_ms: u64,
}

impl Row {
    fn status(&self, mode: Mode) -> &'static str {
        match (&self.outcome, mode) {
            (Err(_), _) => "failed",
            (Ok(f), Mode::Plan) if f.has_changes() => "changes",
            (Ok(f), Mode::Drift) if f.has_changes() => "drift",
            (Ok(_), _) => "clean",
        }
    }
}

/// Every workspace's row, sorted by workspace name.
#[derive(Clone, Debug)]
pub struct Summary {
    pub mode: Mode,
    pub fleet: PathBuf,
    pub manifest: PathBuf,
    pub parallelism: usize,
    pub rows: Vec<Row>,
    pub elapsed_ms: u64,
}

impl Summary {
    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.outcome.is_err()).count()
    }

    pub fn with_changes(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.outcome.as_ref().is_ok_and(Found::has_changes))
            .count()
    }

    /// `Fleet drift: 3 workspaces, 1 clean, 1 with drift, 1 failed.`
    pub fn headline(&self) -> String {
        let n = self.rows.len();
        let failed = self.failed();
        let changed = self.with_changes();
        let what = match self.mode {
            Mode::Plan => "with changes",
            Mode::Drift => "with drift",
        };
        format!(
            "Fleet {}: {n} workspace{}, {} clean, {changed} {what}, {failed} failed.",
            self.mode.name(),
            if n == 1 { "" } else { "s" },
            n - failed - changed
        )
    }

    fn count_headers(&self) -> [&'static str; 3] {
        match self.mode {
            Mode::Plan => ["add", "change", "destroy"],
            Mode::Drift => ["drifted", "missing", "unmanaged"],
        }
    }

    fn counts(row: &Row) -> [String; 3] {
        match &row.outcome {
            Ok(Found::Plan {
                add,
                change,
                destroy,
                ..
            }) => [add.to_string(), change.to_string(), destroy.to_string()],
            Ok(Found::Drift {
                drifted,
                missing,
                unmanaged,
            }) => [
                drifted.to_string(),
                missing.to_string(),
                unmanaged.to_string(),
            ],
            Err(_) => ["-".into(), "-".into(), "-".into()],
        }
    }

    fn cells(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let [a, b, c] = self.count_headers();
        let headers = vec!["workspace", "org", "status", a, b, c, "error"];
        let rows = self
            .rows
            .iter()
            .map(|r| {
                let [x, y, z] = Self::counts(r);
                vec![
                    r.workspace.clone(),
                    r.org
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |o| o.name.clone()),
                    r.status(self.mode).to_owned(),
                    x,
                    y,
                    z,
                    r.outcome.as_ref().err().map(one_line).unwrap_or_default(),
                ]
            })
            .collect();
        (headers, rows)
    }

    /// A table for a terminal, then the headline.
    pub fn human(&self) -> String {
        let (headers, rows) = self.cells();
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: Vec<String>| {
            let last = cells.len() - 1;
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i == last {
                    l.push_str(cell);
                } else if (3..6).contains(&i) {
                    let _ = write!(l, "{cell:>w$}  ");
                } else {
                    let _ = write!(l, "{cell:<w$}  ");
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(headers.iter().map(|h| h.to_uppercase()).collect());
        for row in rows {
            line(row);
        }
        out.push('\n');
        out.push_str(&self.headline());
        out.push('\n');
        out
    }

    /// A pull-request comment (or `$GITHUB_STEP_SUMMARY`): the headline, a
    /// table, and each failure's full error in a collapsible block.
    pub fn markdown(&self) -> String {
        let (headers, rows) = self.cells();
        let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut out = format!("### gcrecon fleet {}\n\n", self.mode.name());
        out.push_str(&format!("**{}**\n\n", self.headline()));
        out.push_str(&format!("| {} |\n", headers.join(" | ")));
        let aligns: Vec<&str> = (0..headers.len())
            .map(|i| if (3..6).contains(&i) { "---:" } else { "---" })
            .collect();
        out.push_str(&format!("|{}|\n", aligns.join("|")));
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| match i {
                    0 => format!("`{}`", esc(c)),
                    _ => esc(c),
                })
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        for row in &self.rows {
            if let Err(e) = &row.outcome {
                out.push_str(&format!(
                    "\n<details><summary><code>{}</code> failed</summary>\n\n```text\n{}```\n\n</details>\n",
                    row.workspace,
                    error_text(e)
                ));
            }
        }
        out
    }

    /// One JSON document (see docs/cli.md, "Fleets").
    pub fn json(&self) -> String {
        let rows: Vec<Json> = self
            .rows
            .iter()
            .map(|r| {
                let mut o = json!({
                    "workspace": r.workspace,
                    "org": r.org.as_ref().map(|o| json!({"id": o.id, "name": o.name})),
                    "status": r.status(self.mode),
                    "state": r.state,
                    "api_calls": r.api_calls,
                    "elapsed_ms": r.elapsed_ms,
                    "error": r.outcome.as_ref().err().map(|e| json!({
                        "message": e.message,
                        "causes": e.causes,
                        "hint": e.hint,
                    })),
                });
                match &r.outcome {
                    Ok(Found::Plan {
                        add,
                        change,
                        destroy,
                        changes,
                    }) => {
                        o["changes"] = json!({"add": add, "change": change, "destroy": destroy, "any": changes});
                    }
                    Ok(Found::Drift {
                        drifted,
                        missing,
                        unmanaged,
                    }) => {
                        o["drift"] = json!({"drifted": drifted, "missing": missing, "unmanaged": unmanaged});
                    }
                    Err(_) => {}
                }
                o
            })
            .collect();
        let failed = self.failed();
        let changed = self.with_changes();
        let doc = json!({
            "format_version": FLEET_FORMAT_VERSION,
            "command": self.mode.name(),
            "fleet": self.fleet.display().to_string(),
            "manifest": self.manifest.display().to_string(),
            "parallelism": self.parallelism,
            "elapsed_ms": self.elapsed_ms,
            "summary": {
                "workspaces": self.rows.len(),
                "clean": self.rows.len() - failed - changed,
                "with_changes": changed,
                "failed": failed,
            },
            "workspaces": rows,
        });
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// An error as the single-workspace commands print it, without colors.
pub fn error_text(e: &RowError) -> String {
    if e.rendered {
        return format!("{}\n", e.message.trim_end());
    }
    let mut s = format!("error: {}\n", e.message.trim_end());
    for c in &e.causes {
        let _ = writeln!(s, "  Caused by: {c}");
    }
    if let Some(h) = &e.hint {
        let _ = writeln!(s, "hint: {h}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Fleet> {
        Fleet::parse(Path::new("ops/fleet.toml"), text)
    }

    fn err(text: &str) -> String {
        let e = parse(text).unwrap_err();
        let hint = e
            .downcast_ref::<Hinted>()
            .map(|h| h.hint.clone())
            .unwrap_or_default();
        format!("{e}\nhint: {hint}")
    }

    const GOOD: &str = r#"manifest = "gcrecon.toml"

[workspace.acme-prod]
region = "eu-central-1"
client_id_env = "ACME_PROD_CLIENT_ID"
client_secret_env = "ACME_PROD_CLIENT_SECRET"
vars = { aws_account_id = "123456789012", retries = 3 }

[workspace.beta]
api_url = "http://127.0.0.1:9"
"#;

    #[test]
    fn a_fleet_file_is_read() {
        let f = parse(GOOD).unwrap();
        assert_eq!(f.manifest, Path::new("ops/gcrecon.toml"));
        let names: Vec<&str> = f.workspaces.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["acme-prod", "beta"]);
        let prod = &f.workspaces[0];
        assert_eq!(prod.region.as_deref(), Some("eu-central-1"));
        assert_eq!(
            prod.client_id_env,
            Some((
                "ACME_PROD_CLIENT_ID".to_owned(),
                "ops/fleet.toml:5:17".to_owned()
            ))
        );
        assert_eq!(prod.vars, ["aws_account_id=123456789012", "retries=3"]);
        assert_eq!(
            f.workspaces[1].api_url.as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert!(f.workspaces[1].client_id_env.is_none());
    }

    #[test]
    fn the_manifest_defaults_to_gcrecon_toml_beside_the_fleet_file() {
        let f = parse("[workspace.a]\nregion = \"us-east-1\"\n").unwrap();
        assert_eq!(f.manifest, Path::new("ops/gcrecon.toml"));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let e = err("[workspace.a]\nregion = \"us-east-1\"\nclient_secret = \"s3cret\"\n");
        assert!(
            e.starts_with("ops/fleet.toml:3:1: invalid fleet file: unknown field `client_secret`"),
            "{e}"
        );
        assert!(e.contains("client_secret_env"), "{e}");
        let e = err("manifests = \"x.toml\"\n[workspace.a]\n");
        assert!(
            e.starts_with("ops/fleet.toml:1:1: invalid fleet file: unknown field `manifests`"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let e = err("[workspace.a]\nregion = \n");
        assert!(e.starts_with("ops/fleet.toml:2:"), "{e}");
    }

    #[test]
    fn a_fleet_needs_workspaces_and_paired_credentials() {
        assert!(err("manifest = \"m.toml\"\n").contains("has no workspace"));
        let e = err("[workspace.a]\nclient_id_env = \"A_ID\"\n");
        assert!(
            e.contains(
                "ops/fleet.toml:1:1: workspace `a` has `client_id_env` but no `client_secret_env`"
            ),
            "{e}"
        );
        let e = err("[workspace.a]\nclient_id_env = \"my id\"\nclient_secret_env = \"A_SECRET\"\n");
        assert!(e.contains("ops/fleet.toml:2:17: workspace `a`: the value of `client_id_env` is not an environment variable name"), "{e}");
        assert!(!e.contains("my id"), "the value may be a secret: {e}");
        let e = err("[workspace.\"a/b\"]\n");
        assert!(e.contains("`a/b` is not a valid workspace name"), "{e}");
    }

    #[test]
    fn a_missing_credential_variable_names_workspace_variable_and_place() {
        let f = parse(GOOD).unwrap();
        let env = |name: &str| (name == "ACME_PROD_CLIENT_ID").then(|| "id-1".to_owned());
        let e = f.workspaces[0].credential_lookup(&env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "workspace `acme-prod`: the environment variable ACME_PROD_CLIENT_SECRET is not set (client_secret_env at ops/fleet.toml:6:21)"
        );
        let env = |name: &str| Some(format!("value of {name}"));
        let map = f.workspaces[0].credential_lookup(&env).unwrap();
        assert_eq!(map[genesys_env::CLIENT_ID], "value of ACME_PROD_CLIENT_ID");
        assert_eq!(
            map[genesys_env::CLIENT_SECRET],
            "value of ACME_PROD_CLIENT_SECRET"
        );
        assert!(
            !map.contains_key(genesys_env::ACCESS_TOKEN),
            "a named client wins over a token"
        );
        // Without names, the standard variables.
        let map = f.workspaces[1].credential_lookup(&env).unwrap();
        assert_eq!(
            map[genesys_env::CLIENT_ID],
            "value of GENESYSCLOUD_OAUTHCLIENT_ID"
        );
    }

    fn summary(mode: Mode, rows: Vec<Row>) -> Summary {
        Summary {
            mode,
            fleet: PathBuf::from("fleet.toml"),
            manifest: PathBuf::from("gcrecon.toml"),
            parallelism: 4,
            rows,
            elapsed_ms: 12,
        }
    }

    fn row(name: &str, outcome: Result<Found, RowError>) -> Row {
        Row {
            workspace: name.to_owned(),
            org: outcome.is_ok().then(|| OrgCell {
                id: format!("{name}-id"),
                name: format!("Org {name}"),
            }),
            outcome,
            state: format!("state/m.{name}.gcstate.json"),
            api_calls: 7,
            elapsed_ms: 3,
        }
    }

    fn drift_rows() -> Vec<Row> {
        let failure = RowError {
            message: "cannot connect to Genesys Cloud (http://x)".into(),
            causes: vec!["login refused: 401 | bad".into()],
            hint: Some("check the client".into()),
            locked: false,
            rendered: false,
        };
        vec![
            row(
                "a",
                Ok(Found::Drift {
                    drifted: 0,
                    missing: 0,
                    unmanaged: 0,
                }),
            ),
            row(
                "b",
                Ok(Found::Drift {
                    drifted: 1,
                    missing: 0,
                    unmanaged: 2,
                }),
            ),
            row("c", Err(failure)),
        ]
    }

    #[test]
    fn the_human_summary_is_a_table() {
        let s = summary(Mode::Drift, drift_rows());
        insta::assert_snapshot!(s.human(), @r"
        WORKSPACE  ORG    STATUS  DRIFTED  MISSING  UNMANAGED  ERROR
        a          Org a  clean         0        0          0
        b          Org b  drift         1        0          2
        c          -      failed        -        -          -  cannot connect to Genesys Cloud (http://x): login refused: 401 | bad

        Fleet drift: 3 workspaces, 1 clean, 1 with drift, 1 failed.
        ");
    }

    #[test]
    fn the_markdown_summary_escapes_cells_and_details_failures() {
        let s = summary(Mode::Drift, drift_rows());
        let md = s.markdown();
        assert!(
            md.contains("| workspace | org | status | drifted | missing | unmanaged | error |"),
            "{md}"
        );
        assert!(
            md.contains("| `b` | Org b | drift | 1 | 0 | 2 |  |"),
            "{md}"
        );
        assert!(md.contains("login refused: 401 \\| bad"), "{md}");
        assert!(
            md.contains("<details><summary><code>c</code> failed</summary>"),
            "{md}"
        );
        assert!(md.contains("hint: check the client"), "{md}");
    }

    #[test]
    fn the_json_summary_has_counts_and_errors() {
        let s = summary(
            Mode::Plan,
            vec![row(
                "a",
                Ok(Found::Plan {
                    add: 2,
                    change: 1,
                    destroy: 0,
                    changes: true,
                }),
            )],
        );
        let v: Json = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(v["command"], "plan");
        assert_eq!(
            v["summary"],
            json!({"workspaces": 1, "clean": 0, "with_changes": 1, "failed": 0})
        );
        let a = &v["workspaces"][0];
        assert_eq!(
            a["changes"],
            json!({"add": 2, "change": 1, "destroy": 0, "any": true})
        );
        assert_eq!(a["org"], json!({"id": "a-id", "name": "Org a"}));
        assert_eq!(a["status"], "changes");
        assert_eq!(a["error"], Json::Null);
        let d: Json = serde_json::from_str(&summary(Mode::Drift, drift_rows()).json()).unwrap();
        assert_eq!(d["workspaces"][2]["error"]["hint"], "check the client");
        assert_eq!(d["workspaces"][2]["status"], "failed");
        assert_eq!(
            d["workspaces"][1]["drift"],
            json!({"drifted": 1, "missing": 0, "unmanaged": 2})
        );
    }
}
