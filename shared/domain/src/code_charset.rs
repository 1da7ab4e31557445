//! The shared rule for free-form identifiers: school codes and teacher numbers.

/// Longest accepted school code or teacher number, in characters.
pub(crate) const MAX_CODE_LEN: usize = 32;

/// Checks `code` is 1–32 characters of `[0-9A-Za-z-]` not starting with `-`.
///
/// `what_zh` / `what_en` name the field in the error message (e.g. "学校代码" / "school code").
pub(crate) fn validate_code(code: &str, what_zh: &str, what_en: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err(format!("{what_zh}不能为空 ({what_en} must not be empty)"));
    }
    let len = code.chars().count();
    if len > MAX_CODE_LEN {
        return Err(format!(
            "{what_zh}最长{MAX_CODE_LEN}个字符，实为{len}个 ({what_en} must be at most {MAX_CODE_LEN} characters, got {len})"
        ));
    }
    if code.starts_with('-') {
        return Err(format!(
            "{what_zh}不能以“-”开头 ({what_en} must not start with '-')"
        ));
    }
    if let Some((index, c)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let position = index + 1;
        let shown = if c.is_control() || c.is_whitespace() {
            format!("U+{:04X}", u32::from(c))
        } else {
            c.to_string()
        };
        return Err(format!(
            "{what_zh}第{position}个字符“{shown}”无效，只允许数字、英文字母和“-” ({what_en}: character {position} '{shown}' is not allowed; use digits, ASCII letters and '-')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_letters_and_inner_hyphens_are_accepted() {
        assert!(validate_code("3413241234", "学校代码", "school code").is_ok());
        assert!(validate_code("YC-kg-01", "学校代码", "school code").is_ok());
        assert!(validate_code("a", "学校代码", "school code").is_ok());
        assert!(validate_code(&"9".repeat(32), "学校代码", "school code").is_ok());
    }

    #[test]
    fn empty_too_long_leading_hyphen_and_other_characters_are_refused() {
        assert!(validate_code("", "学校代码", "school code").is_err());
        assert!(validate_code(&"9".repeat(33), "学校代码", "school code").is_err());
        assert!(validate_code("-12", "学校代码", "school code").is_err());
        for bad in ["12 34", "12/34", "12_34", "１２", "学校", "12\t"] {
            assert!(
                validate_code(bad, "学校代码", "school code").is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_message_names_the_field_and_the_one_based_position() {
        let message = validate_code("12/4", "教师编号", "teacher number").unwrap_err();
        assert!(message.contains("教师编号"), "{message}");
        assert!(message.contains("teacher number"), "{message}");
        assert!(message.contains("character 3"), "{message}");
    }
}
