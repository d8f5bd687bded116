//! `.gcreconignore`: unmanaged objects that `gcrecon drift` should not
//! report.
//!
//! The file lives beside the manifest (in the manifest's directory, or in
//! the manifest directory itself when `-m` names a directory). Each line is
//! one glob over `KIND.NAME`, where `KIND` is a managed kind (`role`,
//! `group`, ...) and `NAME` the object's display name as the organization
//! shows it (or its id):
//!
//! ```text
//! # hand-made roles from before gcrecon
//! role.Legacy*
//! group.*            # every group: membership is managed in the UI
//! !group.Admins      # ...except this one, which must be reported
//! oauth_client.3f1c9a2e-*
//! ```
//!
//! - `*` matches any run of characters (dots and slashes included), `?` one
//!   character, `[abc]` / `[!abc]` one of (or none of) a set; matching is
//!   case-sensitive, as display names are.
//! - `#` starts a comment at the beginning of a line or after whitespace.
//! - A line starting with `!` un-ignores what an earlier line ignored; the
//!   last matching line wins, as in `.gitignore`.
//! - A kind that does not exist is an error (with the closest kind as a
//!   hint), so a typo never silently ignores nothing.
//!
//! Only *unmanaged* objects are silenced: a managed object that changed or
//! disappeared is always reported.

use std::path::{Path, PathBuf};

use gcrecon_core::provider::GenesysId;
use gcrecon_core::Kind;

/// The file name looked for beside the manifest.
pub const IGNORE_FILE: &str = ".gcreconignore";

/// Why an ignore file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// A line is not a `KIND.NAME` glob.
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
        hint: Option<String>,
    },
    /// The file exists but cannot be read.
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl IgnoreError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            IgnoreError::Syntax { hint, .. } => hint.clone(),
            IgnoreError::Read { .. } => None,
        }
    }
}

/// One line of the file.
#[derive(Clone, Debug)]
struct Rule {
    /// The line as written (comment removed), for reports.
    text: String,
    negated: bool,
    kind: glob::Pattern,
    name: glob::Pattern,
}

/// The parsed rules of an ignore file (empty when there is none).
#[derive(Clone, Debug, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
    /// Where the rules came from, when from a file.
    path: Option<PathBuf>,
}

const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

/// The line without its comment and surrounding whitespace.
fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim();
    if trimmed.starts_with('#') {
        return "";
    }
    let mut previous_space = false;
    for (i, c) in trimmed.char_indices() {
        if c == '#' && previous_space {
            return trimmed[..i].trim_end();
        }
        previous_space = c.is_whitespace();
    }
    trimmed
}

impl IgnoreRules {
    /// Parse the text of an ignore file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<IgnoreRules, IgnoreError> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = strip_comment(raw);
            if line.is_empty() {
                continue;
            }
            let syntax = |message: String, hint: Option<String>| IgnoreError::Syntax {
                path: path.to_owned(),
                line: index + 1,
                message,
                hint,
            };
            let (negated, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, line),
            };
            let Some((kind_text, name_text)) = body.split_once('.') else {
                return Err(syntax(
                    format!("`{line}` is not a KIND.NAME pattern"),
                    Some("write one pattern per line, e.g. `role.Legacy*` or `group.*`".into()),
                ));
            };
            let is_glob = |s: &str| s.contains(['*', '?', '[']);
            if !is_glob(kind_text) && kind_text.parse::<Kind>().is_err() {
                let kinds = Kind::ALL.map(Kind::as_str);
                let hint = gcrecon_core::suggest::closest(kind_text, kinds).map_or_else(
                    || format!("the kinds are {}", kinds.join(", ")),
                    |k| format!("did you mean `{k}.{name_text}`?"),
                );
                return Err(syntax(
                    format!("`{kind_text}` in `{line}` is not a kind gcrecon manages"),
                    Some(hint),
                ));
            }
            if name_text.is_empty() {
                return Err(syntax(
                    format!("`{line}` has no name after the dot"),
                    Some(format!("use `{kind_text}.*` for every object of the kind")),
                ));
            }
            let pattern = |s: &str| {
                glob::Pattern::new(s).map_err(|e| {
                    syntax(
                        format!("`{line}` is not a valid glob: {}", e.msg),
                        Some("`*` matches any text, `?` one character, `[abc]` one of a set; put a literal `[` inside brackets: `[[]`".into()),
                    )
                })
            };
            rules.push(Rule {
                text: line.to_owned(),
                negated,
                kind: pattern(kind_text)?,
                name: pattern(name_text)?,
            });
        }
        Ok(IgnoreRules {
            rules,
            path: Some(path.to_owned()),
        })
    }

    /// Read `path`; a missing file means no rules.
    pub fn load(path: &Path) -> Result<IgnoreRules, IgnoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => IgnoreRules::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IgnoreRules::default()),
            Err(source) => Err(IgnoreError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The ignore file beside a manifest path (a file or a directory).
    pub fn path_for_manifest(manifest: &Path) -> PathBuf {
        if manifest.is_dir() {
            manifest.join(IGNORE_FILE)
        } else {
            manifest
                .parent()
                .map_or_else(|| PathBuf::from(IGNORE_FILE), |p| p.join(IGNORE_FILE))
        }
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The file the rules came from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The rule that decides about an object (the last matching one), if it
    /// ignores the object.
    pub fn ignoring_rule(&self, kind: Kind, name: &str, id: &GenesysId) -> Option<&str> {
        let last = self.rules.iter().rev().find(|r| {
            r.kind.matches_with(kind.as_str(), OPTIONS)
                && (r.name.matches_with(name, OPTIONS) || r.name.matches_with(id.as_str(), OPTIONS))
        })?;
        (!last.negated).then_some(last.text.as_str())
    }

    /// True when the object is silenced.
    pub fn ignores(&self, kind: Kind, name: &str, id: &GenesysId) -> bool {
        self.ignoring_rule(kind, name, id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text, Path::new(".gcreconignore")).unwrap()
    }

    fn id(s: &str) -> GenesysId {
        GenesysId::from(s)
    }

    #[test]
    fn globs_match_kind_and_display_name() {
        let r = rules("# legacy\nrole.Legacy*\n\n  group.*   # all groups\n");
        assert!(r.ignores(Kind::Role, "Legacy", &id("r1")));
        assert!(r.ignores(Kind::Role, "Legacy Reports", &id("r1")));
        assert!(
            !r.ignores(Kind::Role, "legacy", &id("r1")),
            "case-sensitive"
        );
        assert!(!r.ignores(Kind::Role, "Old Legacy", &id("r1")));
        assert!(r.ignores(Kind::Group, "Sales.EMEA / North", &id("g1")));
        assert!(!r.ignores(Kind::OauthClient, "Legacy", &id("c1")));
        assert_eq!(r.ignoring_rule(Kind::Group, "x", &id("g")), Some("group.*"));
    }

    #[test]
    fn ids_kind_globs_and_negation() {
        let r = rules("oauth_client.3f1c*\n*.Temp?\ngroup.*\n!group.Admins\n");
        assert!(r.ignores(Kind::OauthClient, "Some client", &id("3f1c9a2e")));
        assert!(r.ignores(Kind::Integration, "Temp1", &id("i")));
        assert!(!r.ignores(Kind::Integration, "Temp12", &id("i")));
        assert!(r.ignores(Kind::Group, "Sales", &id("g")));
        assert!(!r.ignores(Kind::Group, "Admins", &id("g")));
        let sets = rules("role.[A-C]*\nrole.[!A-Z]x\n");
        assert!(sets.ignores(Kind::Role, "Bravo", &id("r")));
        assert!(!sets.ignores(Kind::Role, "Delta", &id("r")));
        assert!(sets.ignores(Kind::Role, "1x", &id("r")));
    }

    #[test]
    fn a_hash_inside_a_name_is_kept() {
        let r = rules("role.C#*\n");
        assert!(r.ignores(Kind::Role, "C# developers", &id("r")));
    }

    #[test]
    fn mistakes_name_the_line_and_suggest_a_fix() {
        let err = IgnoreRules::parse("role.A\nroles.Legacy*\n", Path::new("m/.gcreconignore"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "m/.gcreconignore:2: `roles` in `roles.Legacy*` is not a kind gcrecon manages"
        );
        assert_eq!(err.hint().as_deref(), Some("did you mean `role.Legacy*`?"));
        let err = IgnoreRules::parse("Legacy\n", Path::new("i")).unwrap_err();
        assert!(err.to_string().contains("not a KIND.NAME pattern"), "{err}");
        let err = IgnoreRules::parse("role.\n", Path::new("i")).unwrap_err();
        assert!(err.hint().unwrap().contains("role.*"));
        let err = IgnoreRules::parse("role.[abc\n", Path::new("i")).unwrap_err();
        assert!(err.to_string().contains("not a valid glob"), "{err}");
    }

    #[test]
    fn a_missing_file_is_no_rules() {
        let dir = tempfile::tempdir().unwrap();
        let r = IgnoreRules::load(&dir.path().join(IGNORE_FILE)).unwrap();
        assert!(r.is_empty());
        std::fs::write(dir.path().join(IGNORE_FILE), "group.*\n").unwrap();
        let manifest = dir.path().join("gcrecon.toml");
        let path = IgnoreRules::path_for_manifest(&manifest);
        assert_eq!(path, dir.path().join(IGNORE_FILE));
        assert!(IgnoreRules::load(&path)
            .unwrap()
            .ignores(Kind::Group, "g", &id("1")));
        assert_eq!(IgnoreRules::path_for_manifest(dir.path()), path);
    }
}
