//! Permission strings: the offline syntax check of `domain:entity:action`
//! and the translation of admin-UI labels ("Analytics > Conversation Detail >
//! View") into API names (`analytics:conversationDetail:view`).
//!
//! Whether a permission exists is decided at plan time against the
//! organization's catalog (the engine's job); this module only knows the
//! shape.

use std::fmt;

/// Why a string is not a permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionError {
    pub message: String,
    /// The API name the user probably meant, when one can be guessed.
    pub suggestion: Option<String>,
}

impl fmt::Display for PermissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

fn is_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What a byte of a permission is: part of a name, a separator, a `*`, or
/// something a permission never holds.
const NAME: u8 = 1;
const COLON: u8 = 2;
const STAR: u8 = 3;
const CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        class[b] = if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            NAME
        } else if c == b':' {
            COLON
        } else if c == b'*' {
            STAR
        } else {
            0
        };
        b += 1;
    }
    class
};

/// Whether `permission` has the shape `domain:entity:action`, in one pass
/// over its bytes: every permission of every role is checked at load, and
/// nearly all of them are well formed.
fn is_well_formed(permission: &str) -> bool {
    // A part is a non-empty name, or (after the domain) a lone `*`.
    let part_ok = |part: usize, len: usize, stars: usize| {
        len > 0 && (stars == 0 || (part > 0 && stars == 1 && len == 1))
    };
    let (mut part, mut len, mut stars) = (0usize, 0usize, 0usize);
    for &b in permission.as_bytes() {
        match CLASS[usize::from(b)] {
            NAME => len += 1,
            STAR => {
                stars += 1;
                len += 1;
            }
            COLON if part < 2 && part_ok(part, len, stars) => {
                part += 1;
                len = 0;
                stars = 0;
            }
            _ => return false,
        }
    }
    part == 2 && part_ok(part, len, stars)
}

/// Check the shape `domain:entity:action`; `*` is allowed for entity and action.
pub fn check_syntax(permission: &str) -> Result<(), PermissionError> {
    if is_well_formed(permission) {
        return Ok(());
    }
    diagnose(permission)
}

/// The part-by-part check behind [`check_syntax`], which says what is wrong.
fn diagnose(permission: &str) -> Result<(), PermissionError> {
    if permission.contains('>') {
        return Err(PermissionError {
            message: format!("`{permission}` is an admin-UI label, not a permission"),
            suggestion: from_ui_label(permission),
        });
    }
    // The first three parts and how many there are, without a vector:
    // every permission of every role is checked at load.
    let mut parts = [""; 3];
    let mut count = 0;
    for part in permission.split(':') {
        if let Some(slot) = parts.get_mut(count) {
            *slot = part;
        }
        count += 1;
    }
    let [domain, entity, action] = parts;
    match count {
        3 if is_part(domain)
            && (entity == "*" || is_part(entity))
            && (action == "*" || is_part(action)) =>
        {
            Ok(())
        }
        1 | 2 if is_part(domain) => Err(PermissionError {
            message: format!("`{permission}` is not a permission: it has {count} part(s), a permission has three (`domain:entity:action`)"),
            suggestion: Some(if count == 1 || entity.is_empty() || entity == "*" {
                format!("{domain}:*:*")
            } else {
                format!("{domain}:{entity}:*")
            }),
        }),
        _ => Err(PermissionError {
            message: format!(
                "`{permission}` is not a permission: expected `domain:entity:action` (letters, digits, `_`; `*` for entity or action)"
            ),
            suggestion: None,
        }),
    }
}

/// Translate an admin-UI label (`Analytics > Conversation Detail > View`,
/// `Outbound > Wrap up code mapping > All Permissions`) into an API name
/// (`analytics:conversationDetail:view`, `outbound:wrapUpCodeMapping:*`).
/// `None` when the label does not have three parts.
pub fn from_ui_label(label: &str) -> Option<String> {
    let parts: Vec<&str> = label.split('>').map(str::trim).collect();
    let [domain, entity, action] = parts.as_slice() else {
        return None;
    };
    let conv = |s: &str| -> Option<String> {
        let lower = s.to_lowercase();
        if lower == "all permissions" || lower == "all" || s == "*" {
            return Some("*".to_owned());
        }
        let out = camel_case(s);
        (!out.is_empty()).then_some(out)
    };
    Some(format!(
        "{}:{}:{}",
        camel_case(domain),
        conv(entity)?,
        conv(action)?
    ))
    .filter(|p| !p.starts_with(':'))
}

/// `Conversation Detail` → `conversationDetail`, `WFM` → `wfm`.
fn camel_case(s: &str) -> String {
    let mut out = String::new();
    for (i, word) in s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        if i == 0 {
            out.push_str(&word.to_lowercase());
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(&chars.as_str().to_lowercase());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_permissions_pass() {
        for p in [
            "analytics:conversationDetail:view",
            "integration:presence:*",
            "presence:*:*",
            "wfm:agentSchedule:view",
        ] {
            check_syntax(p).unwrap();
        }
    }

    /// The one-pass check accepts exactly what the part-by-part check
    /// accepts, over every string of up to five characters drawn from the
    /// characters that matter (separators, `*`, a space, a non-ASCII letter).
    #[test]
    fn the_one_pass_check_agrees_with_the_part_by_part_check() {
        let alphabet = ['a', 'Z', '0', '_', '-', ':', '*', '>', ' ', 'é'];
        let mut words = vec![String::new()];
        let mut checked = 0;
        for _ in 0..5 {
            let mut longer = Vec::with_capacity(words.len() * alphabet.len());
            for w in &words {
                for c in alphabet {
                    let mut s = w.clone();
                    s.push(c);
                    longer.push(s);
                }
            }
            for w in &longer {
                assert_eq!(is_well_formed(w), diagnose(w).is_ok(), "{w:?}");
                checked += 1;
            }
            words = longer;
        }
        assert_eq!(checked, (1..=5).map(|n| 10usize.pow(n)).sum::<usize>());
        assert!(is_well_formed("a:*:*") && !is_well_formed("a:**:b"));
    }

    #[test]
    fn ui_labels_become_api_names() {
        assert_eq!(
            from_ui_label("Analytics > Conversation Detail > View").as_deref(),
            Some("analytics:conversationDetail:view")
        );
        assert_eq!(
            from_ui_label("Outbound > Wrap up code mapping > All Permissions").as_deref(),
            Some("outbound:wrapUpCodeMapping:*")
        );
        assert_eq!(
            from_ui_label("WFM > Agent Schedule > View").as_deref(),
            Some("wfm:agentSchedule:view")
        );
        let e = check_syntax("Analytics > Conversation Detail > View").unwrap_err();
        assert_eq!(
            e.suggestion.as_deref(),
            Some("analytics:conversationDetail:view")
        );
    }

    #[test]
    fn malformed_permissions_fail() {
        assert_eq!(
            check_syntax("presence:*")
                .unwrap_err()
                .suggestion
                .as_deref(),
            Some("presence:*:*")
        );
        for (p, parts, suggestion) in [
            ("presence", 1, "presence:*:*"),
            ("routing:", 2, "routing:*:*"),
            ("routing:queue", 2, "routing:queue:*"),
        ] {
            let e = check_syntax(p).unwrap_err();
            assert!(
                e.message.contains(&format!("it has {parts} part(s)")),
                "{}",
                e.message
            );
            assert_eq!(e.suggestion.as_deref(), Some(suggestion), "{p}");
        }
        for p in ["", "a:b:c:d", "*:x:y", "a b:c:d", "a::c", "a:b:c:"] {
            let e = check_syntax(p).unwrap_err();
            assert_eq!(e.suggestion, None, "{p}");
        }
    }
}
