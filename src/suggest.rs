//! "Did you mean" suggestions for misspelt names.

/// The known name closest to `given`: one that differs only by letter case, or
/// else the nearest within two edits. Ties go to the earlier entry of `known`.
/// Known names (fields, settings, feature gates) are ASCII, so case is
/// compared as ASCII: Unicode's case tables would add 17 KB to the module.
pub fn nearest<'a>(given: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in known {
        if candidate == given {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(given) {
            0
        } else {
            edit_distance(given, candidate)
        };
        if distance <= 2 && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// Levenshtein distance over chars, with an early exit once it exceeds 2:
/// only near misses matter and names may be long.
fn edit_distance(a: &str, b: &str) -> usize {
    const LIMIT: usize = 3;
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) >= LIMIT {
        return LIMIT;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        if current.iter().all(|&d| d >= LIMIT) {
            return LIMIT;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()].min(LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const KNOWN: [&str; 4] = ["restartPolicy", "volumeMounts", "mode", "model"];

    #[rstest]
    #[case::case_only_difference_wins("restartpolicy", Some("restartPolicy"))]
    #[case::missing_letter("volumeMount", Some("volumeMounts"))]
    #[case::two_edits_still_close("restrtPolicx", Some("restartPolicy"))]
    #[case::three_edits_is_too_far("rstrtPolicx", None)]
    #[case::closest_of_two_near_names("modes", Some("mode"))]
    #[case::the_given_name_itself_is_skipped("mode", Some("model"))]
    #[case::unrelated_name("image", None)]
    fn suggestions_name_the_nearest_known_field(
        #[case] given: &str,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(nearest(given, KNOWN), expected, "suggestion for {given:?}");
    }
}
