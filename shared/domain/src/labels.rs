//! Matching of spreadsheet cells against an enum's Chinese labels, English keys and aliases.

/// Lower-cases ASCII and maps `-` and spaces to `_`, for matching English keys.
pub(crate) fn normalise_key(label: &str) -> String {
    label
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// Finds the value whose label, key (case-insensitive) or an alias equals the trimmed `input`.
pub(crate) fn match_label<T: Copy>(
    all: &[T],
    input: &str,
    label_zh: fn(T) -> &'static str,
    key: fn(T) -> &'static str,
    aliases: fn(T) -> &'static [&'static str],
) -> Option<T> {
    let label = input.trim();
    if label.is_empty() {
        return None;
    }
    let normalised = normalise_key(label);
    all.iter().copied().find(|&value| {
        label == label_zh(value)
            || normalised == key(value)
            || aliases(value)
                .iter()
                .any(|alias| label == *alias || normalised == *alias)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_case_insensitively_with_hyphens_and_spaces_as_underscores() {
        assert_eq!(normalise_key(" Junior-Secondary "), "junior_secondary");
        assert_eq!(normalise_key("Teaching Researcher"), "teaching_researcher");
        assert_eq!(normalise_key("初中"), "初中");
    }
}
