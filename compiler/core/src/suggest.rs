//! "Did you mean" suggestions.

/// The candidate closest to `word`, if it is close enough to be a likely misspelling:
/// at most a third of the word's length in edits (transpositions count once), and at
/// least one. Case differences alone always qualify.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = if candidate.eq_ignore_ascii_case(word) {
            0
        } else {
            strsim::damerau_levenshtein(&lower, &candidate.to_ascii_lowercase())
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_misspellings_only() {
        let words = ["syscalls", "filesystem", "resources", "process", "network"];
        assert_eq!(closest("sycalls", words), Some("syscalls"));
        assert_eq!(closest("proccess", words), Some("process"));
        assert_eq!(closest("NETWORK", words), Some("network"));
        assert_eq!(closest("banana", words), None);
        assert_eq!(closest("syscalls", words), None);
    }
}
