//! "Did you mean ...?": the closest of a set of valid names to a wrong one.

/// The candidate closest to `wrong`, if any is close enough to be a
/// plausible typo (Jaro-Winkler similarity, or a case-insensitive match).
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = wrong.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        if c.to_lowercase() == lower {
            return Some(c);
        }
        let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Up to `n` candidates closest to `wrong`, best first.
pub fn closest_n<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let lower = wrong.to_lowercase();
    let mut scored: Vec<(f64, &'a str)> = candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        assert_eq!(closest("nmae", ["name", "description"]), Some("name"));
        assert_eq!(closest("roles", ["role", "group"]), Some("role"));
        assert_eq!(closest("zzz", ["name", "description"]), None);
        assert_eq!(closest("Name", ["name"]), Some("name"));
        assert_eq!(
            closest_n("adaptr", ["adapter", "adapted", "zebra"], 2),
            vec!["adapter", "adapted"]
        );
    }
}
