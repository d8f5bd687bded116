//! The diff: which keys of an object differ between the manifest and the
//! organization, under each key's semantics from [`crate::schema`].
//!
//! - Keys the manifest does not set are never compared (free text and
//!   collections humans manage stay untouched); a key with a default in
//!   [`crate::schema`] is always set, since evaluation fills in the default.
//! - [`DiffKind::Set`] keys compare as sets: order and duplicates never
//!   cause a diff. `oauth_client.roles` compares as a set of
//!   (role, division) pairs.
//! - [`DiffKind::Subset`] maps compare only the entries the manifest gives.
//! - [`DiffKind::ForcesReplacement`] keys that differ make the change a
//!   replacement (`[delete, create]`).
//! - `ignore_changes` keys (or `config.url`-style entries of subset maps)
//!   are skipped.
//! - A `role_grant` owns only the (subject, division) pairs it lists: it is
//!   changed when one of them is missing live, or when a pair it applied
//!   before and no longer lists is still live.
//!
//! Everything here is pure; `diff(x, x)` is empty for every `x`.

use std::collections::BTreeSet;

use crate::kind::Kind;
use crate::plan::{Action, KeyChange, SENSITIVE_PLACEHOLDER};
use crate::schema::{DiffKind, KeySpec, KeyType};
use crate::value::{Attrs, Value};

/// What the diff of one object is given.
#[derive(Clone, Copy, Debug)]
pub struct DiffInput<'a> {
    pub kind: Kind,
    /// The manifest's attributes (references resolved; may hold unknowns).
    pub desired: &'a Attrs,
    /// The attributes read from the organization.
    pub live: &'a Attrs,
    /// The attributes gcrecon last applied (from the state), if any.
    pub applied: Option<&'a Attrs>,
    /// Keys left to humans.
    pub ignore_changes: &'a [String],
    /// The home division id: the default of `divisions`.
    pub home_division_id: Option<&'a str>,
}

/// The keys that differ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrDiff {
    /// Every key that differs, sorted.
    pub changed_keys: Vec<String>,
    /// The subset of `changed_keys` that forces a replacement, sorted.
    pub replace_because: Vec<String>,
}

impl AttrDiff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.changed_keys.is_empty()
    }

    /// Whether [`AttrDiff::actions`] is `[no-op]` (without building it).
    pub fn is_no_op(&self) -> bool {
        self.replace_because.is_empty() && self.changed_keys.is_empty()
    }

    /// The plan actions this diff means: `[no-op]`, `[update]` or `[delete, create]`.
    pub fn actions(&self) -> Vec<Action> {
        if !self.replace_because.is_empty() {
            vec![Action::Delete, Action::Create]
        } else if self.is_no_op() {
            vec![Action::NoOp]
        } else {
            vec![Action::Update]
        }
    }
}

/// The schema entry of a key (identity providers accept any key as `*`).
pub fn key_spec(kind: Kind, key: &str) -> Option<&'static KeySpec> {
    kind.spec().key(key)
}

/// Compare desired and live attributes of one object.
pub fn diff(input: &DiffInput<'_>) -> AttrDiff {
    if input.kind == Kind::RoleGrant {
        return diff_role_grant(input);
    }
    let mut out = AttrDiff::default();
    for (key, desired) in input.desired {
        if input.ignore_changes.iter().any(|i| i == key) {
            continue;
        }
        let spec = key_spec(input.kind, key);
        let diff_kind = spec.map_or(DiffKind::Plain, |s| s.diff);
        let ty = spec.map_or(KeyType::Any, |s| s.ty);
        if diff_kind == DiffKind::Meta {
            continue;
        }
        let live = input.live.get(key).unwrap_or(&Value::Null);
        let equal = desired.is_known()
            && match diff_kind {
                DiffKind::Plain | DiffKind::ForcesReplacement | DiffKind::Meta => {
                    plain_equal(desired, live)
                }
                DiffKind::Set if ty == KeyType::RoleDivisionList => {
                    role_division_pairs(desired, input.home_division_id)
                        == role_division_pairs(live, input.home_division_id)
                }
                DiffKind::Set => set_equal(desired, live),
                DiffKind::Subset => {
                    let ignored: Vec<&str> = input
                        .ignore_changes
                        .iter()
                        .filter_map(|i| i.strip_prefix(key.as_str())?.strip_prefix('.'))
                        .collect();
                    subset_equal(desired, live, &ignored)
                }
            };
        if !equal {
            out.changed_keys.push(key.clone());
            if diff_kind == DiffKind::ForcesReplacement {
                out.replace_because.push(key.clone());
            }
        }
    }
    out
}

/// The per-key results a plan carries for `diff`: one [`KeyChange`] per
/// changed key (and per key whose new value is known only after apply,
/// `id` excepted: the plan carries it apart), with its values taken from
/// the plan's `before` and `after` (already redacted), sorted by key. A key
/// is sensitive when `sensitive` names it or the kind's spec says it holds
/// a secret.
pub fn key_changes(
    kind: Kind,
    diff: &AttrDiff,
    before: Option<&Attrs>,
    after: Option<&Attrs>,
    sensitive: &[String],
) -> Vec<KeyChange> {
    let spec = kind.spec();
    let mut keys: BTreeSet<&str> = diff
        .changed_keys
        .iter()
        .chain(&diff.replace_because)
        .map(String::as_str)
        .collect();
    keys.extend(
        after
            .into_iter()
            .flatten()
            .filter(|(k, a)| {
                !a.is_known() && k.as_str() != "id" && before.and_then(|b| b.get(*k)) != Some(*a)
            })
            .map(|(k, _)| k.as_str()),
    );
    keys.into_iter()
        .map(|key| {
            let sensitive = sensitive.iter().any(|s| s == key) || spec.sensitive.contains(&key);
            // A sensitive value that reached the attributes unredacted
            // still never reaches the plan.
            let shown = |v: Option<&Value>| match v {
                Some(v) if sensitive && v.is_known() && *v != Value::Null => {
                    Some(Value::string(SENSITIVE_PLACEHOLDER))
                }
                v => v.cloned(),
            };
            KeyChange {
                key: key.to_owned(),
                before: shown(before.and_then(|b| b.get(key))),
                after: shown(after.and_then(|a| a.get(key))),
                sensitive,
                forces_replacement: diff.replace_because.iter().any(|k| k == key),
            }
        })
        .collect()
}

/// Attributes after an update, for display: the live object with the
/// manifest's keys laid over it (subset maps merged entry by entry).
pub fn planned_after(kind: Kind, desired: &Attrs, live: &Attrs) -> Attrs {
    if kind == Kind::RoleGrant {
        return without_meta(kind, desired);
    }
    let mut after = live.clone();
    for (key, value) in without_meta(kind, desired) {
        let merged = match (key_spec(kind, &key).map(|s| s.diff), &value, live.get(&key)) {
            (Some(DiffKind::Subset), Value::Map(d), Some(Value::Map(l))) => {
                let mut m = l.clone();
                m.extend(d.clone());
                Value::Map(m)
            }
            _ => value,
        };
        after.insert(key, merged);
    }
    after
}

/// True when [`planned_after`] is `live` as it is: every desired key
/// (gcrecon's own settings aside) holds the live value already. Checked
/// without building anything.
pub fn lays_over_unchanged(kind: Kind, desired: &Attrs, live: &Attrs) -> bool {
    kind != Kind::RoleGrant
        && desired.iter().all(|(key, value)| {
            key_spec(kind, key).is_some_and(|s| s.diff == DiffKind::Meta)
                || live.get(key) == Some(value)
        })
}

/// The desired attributes without gcrecon's own settings (`grant_to_caller`).
pub fn without_meta(kind: Kind, desired: &Attrs) -> Attrs {
    desired
        .iter()
        .filter(|(k, _)| key_spec(kind, k).is_none_or(|s| s.diff != DiffKind::Meta))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The live attributes in the manifest's vocabulary, for display. For a
/// `role_grant` the live `grants` pairs become `subjects` and `divisions`,
/// restricted to the subjects the grant manages (desired or applied).
pub fn comparable_before(
    kind: Kind,
    live: &Attrs,
    desired: Option<&Attrs>,
    applied: Option<&Attrs>,
    home_division_id: Option<&str>,
) -> Attrs {
    if kind != Kind::RoleGrant {
        return live.clone();
    }
    let mut owned: BTreeSet<(String, String)> = BTreeSet::new();
    for attrs in [desired, applied].into_iter().flatten() {
        owned.extend(role_grant_desired_pairs(attrs, home_division_id).unwrap_or_default());
    }
    let live_pairs = role_grant_live_pairs(live);
    let kept: BTreeSet<&(String, String)> = if desired.is_none() && applied.is_none() {
        live_pairs.iter().collect()
    } else {
        live_pairs.intersection(&owned).collect()
    };
    let subjects: BTreeSet<&str> = kept.iter().map(|(s, _)| s.as_str()).collect();
    let divisions: BTreeSet<&str> = kept.iter().map(|(_, d)| d.as_str()).collect();
    let mut before = Attrs::new();
    if let Some(role) = live.get("role") {
        before.insert("role".into(), role.clone());
    }
    before.insert("subjects".into(), Value::strings(subjects));
    before.insert("divisions".into(), Value::strings(divisions));
    before
}

/// The (subject, division) pairs a `role_grant`'s manifest attributes stand
/// for; `None` when the subjects or divisions are not known yet.
pub fn role_grant_desired_pairs(
    attrs: &Attrs,
    home_division_id: Option<&str>,
) -> Option<BTreeSet<(String, String)>> {
    let subjects = string_items(attrs.get("subjects")?)?;
    let divisions = match attrs.get("divisions") {
        None | Some(Value::Null) => vec![home_division_id.unwrap_or_default().to_owned()],
        Some(v) => {
            let d = string_items(v)?;
            if d.is_empty() {
                vec![home_division_id.unwrap_or_default().to_owned()]
            } else {
                d
            }
        }
    };
    Some(
        subjects
            .iter()
            .flat_map(|s| divisions.iter().map(move |d| (s.clone(), d.clone())))
            .collect(),
    )
}

/// The (subject, division) pairs of a live `role_grant` (`grants` = `[{subject, division}]`).
pub fn role_grant_live_pairs(live: &Attrs) -> BTreeSet<(String, String)> {
    live.get("grants")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|g| {
            let m = g.as_map()?;
            Some((
                m.get("subject")?.as_str()?.to_owned(),
                m.get("division")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn diff_role_grant(input: &DiffInput<'_>) -> AttrDiff {
    let mut out = AttrDiff::default();
    let ignored = |k: &str| input.ignore_changes.iter().any(|i| i == k);
    if let Some(role) = input.desired.get("role") {
        let live_role = input.live.get("role").unwrap_or(&Value::Null);
        let same = role.is_known() && plain_equal(role, live_role);
        if !ignored("role") && !same {
            out.changed_keys.push("role".into());
            out.replace_because.push("role".into());
        }
    }
    if ignored("subjects") {
        return out;
    }
    let live = role_grant_live_pairs(input.live);
    let Some(desired) = role_grant_desired_pairs(input.desired, input.home_division_id) else {
        out.changed_keys.push("subjects".into());
        out.changed_keys.sort();
        return out;
    };
    let previous = input
        .applied
        .and_then(|a| role_grant_desired_pairs(a, input.home_division_id))
        .unwrap_or_default();
    let owned_live: BTreeSet<&(String, String)> = live
        .iter()
        .filter(|p| desired.contains(*p) || previous.contains(*p))
        .collect();
    if desired.iter().collect::<BTreeSet<_>>() == owned_live {
        return out;
    }
    // Name the key whose set differs; when both sets match but the pairs do
    // not (a subject lost one of its divisions), it is the subjects.
    let subjects = |pairs: &mut dyn Iterator<Item = &(String, String)>| {
        pairs.map(|(s, _)| s.clone()).collect::<BTreeSet<_>>()
    };
    let divisions = |pairs: &mut dyn Iterator<Item = &(String, String)>| {
        pairs.map(|(_, d)| d.clone()).collect::<BTreeSet<_>>()
    };
    let subjects_differ =
        subjects(&mut desired.iter()) != subjects(&mut owned_live.iter().copied());
    let divisions_differ =
        divisions(&mut desired.iter()) != divisions(&mut owned_live.iter().copied());
    if subjects_differ || !divisions_differ {
        out.changed_keys.push("subjects".into());
    }
    // With no subjects there are no pairs to carry the divisions: only the
    // subjects differ (a rule that now selects nobody).
    if divisions_differ && !desired.is_empty() {
        out.changed_keys.push("divisions".into());
    }
    out.changed_keys.sort();
    out
}

/// Equality of two values as the organization means them: numbers by value,
/// an absent value equal to an empty string, list or map.
pub fn plain_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Null, other) | (other, Value::Null) => is_empty(other),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| plain_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => x.keys().chain(y.keys()).all(|k| {
            plain_equal(
                x.get(k).unwrap_or(&Value::Null),
                y.get(k).unwrap_or(&Value::Null),
            )
        }),
        _ => a == b,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// Entries of `desired` (recursively for nested maps) equal their live
/// counterparts; other live entries are ignored.
fn subset_equal(desired: &Value, live: &Value, ignored: &[&str]) -> bool {
    match (desired, live) {
        (Value::Map(d), Value::Map(l)) => d.iter().all(|(k, dv)| {
            if ignored.contains(&k.as_str()) {
                return true;
            }
            let nested: Vec<&str> = ignored
                .iter()
                .filter_map(|i| i.strip_prefix(k.as_str())?.strip_prefix('.'))
                .collect();
            subset_equal(dv, l.get(k).unwrap_or(&Value::Null), &nested)
        }),
        (Value::Map(d), Value::Null) => d.is_empty(),
        _ => plain_equal(desired, live),
    }
}

/// A value as an order-free set of canonical element texts.
/// `a` and `b` are equal as sets ([`canonical_set`]). Lists of strings,
/// the common case, are compared without building the canonical texts.
fn set_equal(a: &Value, b: &Value) -> bool {
    // The same values in the same order are the same set: no sorting.
    if a == b {
        return true;
    }
    match (sorted_strings(a), sorted_strings(b)) {
        (Some(a), Some(b)) => a == b,
        _ => canonical_set(a) == canonical_set(b),
    }
}

/// The distinct strings of a set made of strings only, sorted; `None` for
/// a set holding anything else.
fn sorted_strings(v: &Value) -> Option<Vec<&str>> {
    let mut items = match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.as_str()],
        Value::List(items) => items.iter().map(Value::as_str).collect::<Option<_>>()?,
        _ => return None,
    };
    items.sort_unstable();
    items.dedup();
    Some(items)
}

fn canonical_set(v: &Value) -> BTreeSet<String> {
    match v {
        Value::Null => BTreeSet::new(),
        Value::List(items) => items.iter().map(canonical_text).collect(),
        other => BTreeSet::from([canonical_text(other)]),
    }
}

/// A deterministic text for a value, with numbers normalised and nested
/// lists treated as sets.
fn canonical_text(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| format!("{f}")),
        Value::List(items) => {
            let set: BTreeSet<String> = items.iter().map(canonical_text).collect();
            format!("[{}]", set.into_iter().collect::<Vec<_>>().join(","))
        }
        Value::Map(m) => {
            let entries: Vec<String> = m
                .iter()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| format!("{k:?}:{}", canonical_text(v)))
                .collect();
            format!("{{{}}}", entries.join(","))
        }
        other => other.to_string(),
    }
}

/// `oauth_client.roles` as a set of (role id, division id) pairs; an entry
/// without `divisions` stands for the home division.
pub fn role_division_pairs(
    v: &Value,
    home_division_id: Option<&str>,
) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for entry in v.as_list().unwrap_or_default() {
        let Some(m) = entry.as_map() else { continue };
        let role = m
            .get("role")
            .map(|r| r.as_str().map_or_else(|| r.to_string(), str::to_owned))
            .unwrap_or_default();
        let divisions = m
            .get("divisions")
            .and_then(string_items)
            .unwrap_or_default();
        if divisions.is_empty() {
            pairs.insert((role, home_division_id.unwrap_or_default().to_owned()));
        } else {
            pairs.extend(divisions.into_iter().map(|d| (role.clone(), d)));
        }
    }
    pairs
}

/// The strings of a list (or a single string); `None` when anything is unknown
/// or not a string.
fn string_items(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::List(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::resource_keys;
    use proptest::prelude::*;

    #[allow(clippy::needless_pass_by_value)]
    fn attrs(json: serde_json::Value) -> Attrs {
        match Value::from_json(&json) {
            Value::Map(m) => m,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn lays_over_unchanged_exactly_when_planned_after_is_live() {
        let live = attrs(serde_json::json!({
            "name": "R", "description": "d", "permissions": ["a:b:c", "d:e:f"],
        }));
        let cases = [
            (serde_json::json!({"name": "R"}), true),
            (
                serde_json::json!({"name": "R", "grant_to_caller": "keep"}),
                true,
            ),
            (
                serde_json::json!({"name": "R", "permissions": ["a:b:c", "d:e:f"]}),
                true,
            ),
            // Alike for the diff (a set), laid over in another order.
            (
                serde_json::json!({"name": "R", "permissions": ["d:e:f", "a:b:c"]}),
                false,
            ),
            (serde_json::json!({"name": "R", "description": null}), false),
            (serde_json::json!({"name": "S"}), false),
        ];
        for (desired, unchanged) in cases {
            let desired = attrs(desired);
            assert_eq!(
                lays_over_unchanged(Kind::Role, &desired, &live),
                unchanged,
                "{desired:?}"
            );
            if unchanged {
                assert_eq!(planned_after(Kind::Role, &desired, &live), live);
            } else {
                assert_ne!(planned_after(Kind::Role, &desired, &live), live);
            }
        }
        let grant = attrs(serde_json::json!({"role": "r"}));
        assert!(!lays_over_unchanged(Kind::RoleGrant, &grant, &grant));
    }

    #[test]
    fn is_no_op_agrees_with_actions() {
        let keys = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for (changed, replace) in [
            (keys(&[]), keys(&[])),
            (keys(&["description"]), keys(&[])),
            (keys(&["name", "type"]), keys(&["type"])),
        ] {
            let d = AttrDiff {
                changed_keys: changed,
                replace_because: replace,
            };
            assert_eq!(d.is_no_op(), d.actions() == [Action::NoOp], "{d:?}");
        }
    }

    fn run(kind: Kind, desired: &Attrs, live: &Attrs) -> AttrDiff {
        diff(&DiffInput {
            kind,
            desired,
            live,
            applied: None,
            ignore_changes: &[],
            home_division_id: Some("home"),
        })
    }

    #[test]
    fn sets_of_strings_compare_as_their_canonical_texts_do() {
        let s = |items: &[&str]| Value::strings(items.iter().copied());
        let values = [
            Value::Null,
            s(&[]),
            s(&["a"]),
            Value::from("a"),
            s(&["b", "a", "a"]),
            s(&["a", "b"]),
            s(&["1"]),
            Value::List(vec![Value::from(1)]),
            Value::List(vec![Value::from("a"), Value::from(1)]),
            Value::List(vec![Value::from(1), Value::from("a")]),
            Value::from(1),
        ];
        for a in &values {
            for b in &values {
                assert_eq!(
                    set_equal(a, b),
                    canonical_set(a) == canonical_set(b),
                    "{a} against {b}"
                );
            }
        }
        assert!(set_equal(&s(&["b", "a", "a"]), &s(&["a", "b"])));
        assert!(!set_equal(&s(&["1"]), &Value::List(vec![Value::from(1)])));
    }

    #[test]
    fn permission_order_never_diffs() {
        let d = attrs(serde_json::json!({"name": "R", "permissions": ["a:b:c", "x:y:z", "a:b:c"]}));
        let l = attrs(
            serde_json::json!({"name": "R", "permissions": ["x:y:z", "a:b:c"], "description": "server"}),
        );
        assert!(run(Kind::Role, &d, &l).is_empty());
        let l2 = attrs(serde_json::json!({"name": "R", "permissions": ["x:y:z"]}));
        assert_eq!(run(Kind::Role, &d, &l2).changed_keys, ["permissions"]);
    }

    #[test]
    fn unset_keys_and_meta_keys_are_ignored() {
        let d = attrs(serde_json::json!({"name": "G"}));
        let l = attrs(serde_json::json!({"name": "G", "visibility": "public", "members": ["u1"]}));
        assert!(run(Kind::Group, &d, &l).is_empty());
        let d = attrs(serde_json::json!({"name": "R", "grant_to_caller": "keep"}));
        let l = attrs(serde_json::json!({"name": "R", "permissions": ["a:b:c"]}));
        assert!(run(Kind::Role, &d, &l).is_empty());
    }

    #[test]
    fn subset_maps_compare_only_given_entries() {
        let d = attrs(serde_json::json!({"name": "I", "config": {"url": "https://x"}}));
        let l = attrs(
            serde_json::json!({"name": "I", "config": {"url": "https://x", "sandbox": "allow-scripts"}}),
        );
        assert!(run(Kind::Integration, &d, &l).is_empty());
        let l2 = attrs(serde_json::json!({"name": "I", "config": {"url": "https://y"}}));
        assert_eq!(run(Kind::Integration, &d, &l2).changed_keys, ["config"]);
        let ignore = vec!["config.url".to_owned()];
        let r = diff(&DiffInput {
            kind: Kind::Integration,
            desired: &d,
            live: &l2,
            applied: None,
            ignore_changes: &ignore,
            home_division_id: None,
        });
        assert!(r.is_empty());
    }

    #[test]
    fn forces_replacement_and_ignore_changes() {
        let d = attrs(
            serde_json::json!({"name": "C", "grant_type": "client_credentials", "description": "new"}),
        );
        let l = attrs(serde_json::json!({"name": "C", "grant_type": "code", "description": "old"}));
        let r = run(Kind::OauthClient, &d, &l);
        assert_eq!(r.changed_keys, ["description", "grant_type"]);
        assert_eq!(r.replace_because, ["grant_type"]);
        assert_eq!(r.actions(), [Action::Delete, Action::Create]);
        let ignore = vec!["description".to_owned(), "grant_type".to_owned()];
        let r = diff(&DiffInput {
            kind: Kind::OauthClient,
            desired: &d,
            live: &l,
            applied: None,
            ignore_changes: &ignore,
            home_division_id: None,
        });
        assert!(r.is_empty());
    }

    #[test]
    fn unknown_values_are_changes() {
        let mut d = attrs(serde_json::json!({"name": "C", "grant_type": "client_credentials"}));
        d.insert(
            "roles".into(),
            Value::List(vec![Value::Map(
                [
                    ("role".to_owned(), Value::Unknown),
                    ("divisions".to_owned(), Value::strings(["*"])),
                ]
                .into(),
            )]),
        );
        let l = attrs(
            serde_json::json!({"name": "C", "grant_type": "client_credentials", "roles": []}),
        );
        assert_eq!(run(Kind::OauthClient, &d, &l).actions(), [Action::Update]);
    }

    #[test]
    fn oauth_roles_compare_as_pairs() {
        let d = attrs(
            serde_json::json!({"roles": [{"role": "r1", "divisions": ["*"]}, {"role": "r2"}]}),
        );
        let l = attrs(
            serde_json::json!({"roles": [{"role": "r2", "divisions": ["home"]}, {"role": "r1", "divisions": ["*"]}]}),
        );
        assert!(run(Kind::OauthClient, &d, &l).is_empty());
        let l2 = attrs(
            serde_json::json!({"roles": [{"role": "r1", "divisions": ["*", "home"]}, {"role": "r2", "divisions": ["home"]}]}),
        );
        assert_eq!(run(Kind::OauthClient, &d, &l2).changed_keys, ["roles"]);
    }

    #[test]
    fn role_grants_compare_pairs_they_own() {
        let d = attrs(serde_json::json!({"role": "r1", "subjects": ["u1", "u2"]}));
        let live_ok = attrs(serde_json::json!({"role": "r1", "grants": [
            {"subject": "u1", "division": "home"}, {"subject": "u2", "division": "home"},
            {"subject": "someone-else", "division": "d9"}]}));
        assert!(run(Kind::RoleGrant, &d, &live_ok).is_empty());
        let live_missing = attrs(
            serde_json::json!({"role": "r1", "grants": [{"subject": "u1", "division": "home"}]}),
        );
        assert_eq!(
            run(Kind::RoleGrant, &d, &live_missing).changed_keys,
            ["subjects"]
        );
        // A subject removed from the manifest but still granted: update.
        let applied = attrs(serde_json::json!({"role": "r1", "subjects": ["u1", "u2", "u3"]}));
        let live_extra = attrs(serde_json::json!({"role": "r1", "grants": [
            {"subject": "u1", "division": "home"}, {"subject": "u2", "division": "home"}, {"subject": "u3", "division": "home"}]}));
        let r = diff(&DiffInput {
            kind: Kind::RoleGrant,
            desired: &d,
            live: &live_extra,
            applied: Some(&applied),
            ignore_changes: &[],
            home_division_id: Some("home"),
        });
        assert_eq!(r.changed_keys, ["subjects"]);
        // The division moved: all subjects stay.
        let d2 =
            attrs(serde_json::json!({"role": "r1", "subjects": ["u1", "u2"], "divisions": ["*"]}));
        let r = diff(&DiffInput {
            kind: Kind::RoleGrant,
            desired: &d2,
            live: &live_ok,
            applied: Some(&d),
            ignore_changes: &[],
            home_division_id: Some("home"),
        });
        assert_eq!(r.changed_keys, ["divisions"]);
        let d3 = attrs(serde_json::json!({"role": "r2", "subjects": ["u1", "u2"]}));
        assert_eq!(
            run(Kind::RoleGrant, &d3, &live_ok).replace_because,
            ["role"]
        );
        let before = comparable_before(Kind::RoleGrant, &live_ok, Some(&d), None, Some("home"));
        assert_eq!(before["subjects"], Value::strings(["u1", "u2"]));
    }

    #[test]
    fn key_changes_carry_each_changed_key_once() {
        let live = attrs(serde_json::json!({"name": "C", "grant_type": "code", "secret": "x"}));
        let desired = attrs(
            serde_json::json!({"name": "C2", "grant_type": "client_credentials", "roles": []}),
        );
        let d = run(Kind::OauthClient, &desired, &live);
        assert_eq!(d.replace_because, ["grant_type"]);
        let mut after = without_meta(Kind::OauthClient, &desired);
        after.insert("id".into(), Value::Unknown);
        after.insert("secret".into(), Value::Unknown);
        after.insert("client_id".into(), Value::Unknown);
        let before = live.clone();
        let keys = key_changes(Kind::OauthClient, &d, Some(&before), Some(&after), &[]);
        let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
        // `roles = []` equals no roles; `id` is carried by the plan itself.
        assert_eq!(names, ["client_id", "grant_type", "name", "secret"]);
        let grant = &keys[1];
        assert!(grant.forces_replacement && !grant.sensitive);
        assert_eq!(grant.before, Some(Value::from("code")));
        assert_eq!(grant.after, Some(Value::from("client_credentials")));
        assert!(!keys[2].forces_replacement);
        let secret = &keys[3];
        assert!(secret.sensitive);
        assert_eq!(secret.before, Some(Value::from(SENSITIVE_PLACEHOLDER)));
        assert_eq!(secret.after, Some(Value::Unknown));
        // A key the plan marks sensitive is masked too.
        let keys = key_changes(
            Kind::OauthClient,
            &d,
            Some(&before),
            Some(&after),
            &["name".into()],
        );
        let name = keys.iter().find(|k| k.key == "name").unwrap();
        assert!(name.sensitive);
        assert_eq!(name.after, Some(Value::from(SENSITIVE_PLACEHOLDER)));
        // Nothing changed: no per-key results.
        let same = run(Kind::OauthClient, &live, &live);
        assert!(key_changes(Kind::OauthClient, &same, Some(&live), Some(&live), &[]).is_empty());
    }

    #[test]
    fn planned_after_merges_subset_maps() {
        let d = attrs(serde_json::json!({"name": "I", "config": {"url": "https://x"}}));
        let l = attrs(
            serde_json::json!({"name": "I", "config": {"url": "https://old", "sandbox": "s"}, "enabled": true}),
        );
        let after = planned_after(Kind::Integration, &d, &l);
        assert_eq!(
            Value::Map(after).to_json().unwrap(),
            serde_json::json!({"name": "I", "config": {"url": "https://x", "sandbox": "s"}, "enabled": true})
        );
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| Value::from(i64::from(n))),
            "[a-z:*]{0,12}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..5)
                    .prop_map(|m| Value::Map(m.into())),
            ]
        })
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop::sample::select(
            Kind::ALL
                .iter()
                .copied()
                .filter(|k| *k != Kind::RoleGrant)
                .collect::<Vec<_>>(),
        )
    }

    fn object(kind: Kind) -> impl Strategy<Value = Attrs> {
        let names: Vec<String> = resource_keys(kind)
            .iter()
            .map(|k| {
                if k.name == "*" {
                    "issuerURI".to_owned()
                } else {
                    k.name.to_owned()
                }
            })
            .collect();
        prop::collection::btree_map(prop::sample::select(names), value(), 0..8)
            .prop_map(Attrs::from)
    }

    proptest! {
        #[test]
        fn diff_of_an_object_with_itself_is_empty((k, x) in kind().prop_flat_map(|k| (Just(k), object(k)))) {
            prop_assert!(run(k, &x, &x).is_empty());
            prop_assert_eq!(planned_after(k, &x, &x), without_meta(k, &x).into_iter().chain(x.clone()).collect::<Attrs>());
        }

        #[test]
        fn set_keys_ignore_order(mut perms in prop::collection::vec("[a-z]{1,4}:[a-z*]{1,4}:[a-z*]{1,4}", 0..10), seed in any::<u64>()) {
            let d = Attrs::from([("permissions".to_owned(), Value::strings(perms.clone()))]);
            let n = perms.len().max(1);
            perms.rotate_left(usize::try_from(seed).unwrap_or(0) % n);
            perms.reverse();
            let l = Attrs::from([("permissions".to_owned(), Value::strings(perms))]);
            prop_assert!(run(Kind::Role, &d, &l).is_empty());
        }

        #[test]
        fn keys_the_manifest_omits_never_diff((k, x, y) in kind().prop_flat_map(|k| (Just(k), object(k), object(k)))) {
            let r = run(k, &x, &y);
            for key in &r.changed_keys {
                prop_assert!(x.contains_key(key));
            }
        }

        #[test]
        fn role_grant_matching_its_live_pairs_is_empty(subjects in prop::collection::btree_set("[a-z0-9]{1,6}", 1..6), divisions in prop::collection::btree_set("[a-z0-9*]{1,4}", 0..3)) {
            let mut d = Attrs::from([("role".to_owned(), Value::from("r")), ("subjects".to_owned(), Value::strings(subjects))]);
            if !divisions.is_empty() {
                d.insert("divisions".into(), Value::strings(divisions));
            }
            let pairs = role_grant_desired_pairs(&d, Some("home")).unwrap();
            let grants: Vec<Value> = pairs.iter().map(|(s, dv)| Value::Map([("subject".to_owned(), Value::from(s.as_str())), ("division".to_owned(), Value::from(dv.as_str()))].into())).collect();
            let live = Attrs::from([("role".to_owned(), Value::from("r")), ("grants".to_owned(), Value::List(grants))]);
            prop_assert!(run(Kind::RoleGrant, &d, &live).is_empty());
        }
    }
}
