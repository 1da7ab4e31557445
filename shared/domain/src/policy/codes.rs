//! Micro-competency code lists for people: `A1、A8–A13、B1–B10、C1–C7` rather than twenty
//! codes one by one.

use crate::micro_competency::{self, MICRO_COMPETENCIES};

/// The canonical spelling of a code (`" b10 "` → `"B10"`), or `None` if it is not one of the
/// 30 (《安徽指导意见》§四(一)).
pub fn canonical_code(code: &str) -> Option<&'static str> {
    micro_competency::by_code(code).map(|mc| mc.code)
}

/// Collapses a list of codes into runs, in table order (A1..A13, B1..B10, C1..C7):
/// three or more consecutive codes of one environment become `A8–A13` (en dash), shorter runs
/// stay code by code. Repeats are dropped; codes that are not micro-competencies follow at the
/// end as written (trimmed).
///
/// `["B2", "A1", "B1", "B3", "C1", "C2"]` gives `["A1", "B1–B3", "C1", "C2"]`.
pub fn compact_codes<S: AsRef<str>>(codes: &[S]) -> Vec<String> {
    let mut indices: Vec<usize> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for code in codes {
        let code = code.as_ref().trim();
        match MICRO_COMPETENCIES
            .iter()
            .position(|mc| mc.code.eq_ignore_ascii_case(code))
        {
            Some(index) => indices.push(index),
            None => {
                if !unknown.iter().any(|seen| seen == code) {
                    unknown.push(code.to_string());
                }
            }
        }
    }
    indices.sort_unstable();
    indices.dedup();

    let mut runs: Vec<String> = Vec::new();
    let mut start = 0;
    while start < indices.len() {
        let mut end = start;
        while end + 1 < indices.len()
            && indices[end + 1] == indices[end] + 1
            && MICRO_COMPETENCIES[indices[end + 1]].environment
                == MICRO_COMPETENCIES[indices[start]].environment
        {
            end += 1;
        }
        if end - start >= 2 {
            runs.push(format!(
                "{}–{}",
                MICRO_COMPETENCIES[indices[start]].code, MICRO_COMPETENCIES[indices[end]].code
            ));
        } else {
            runs.extend(
                indices[start..=end]
                    .iter()
                    .map(|&index| MICRO_COMPETENCIES[index].code.to_string()),
            );
        }
        start = end + 1;
    }
    runs.extend(unknown);
    runs
}

/// [`compact_codes`] joined with `separator`, e.g. `"、"` or `" 或 "`.
pub fn compact_codes_joined<S: AsRef<str>>(codes: &[S], separator: &str) -> String {
    compact_codes(codes).join(separator)
}

/// The codes of one environment from `from` to `to` inclusive, e.g. `code_range('B', 1, 10)`
/// gives B1..B10 one by one (the form the proto stores).
pub fn code_range(letter: char, from: u8, to: u8) -> Vec<String> {
    (from..=to).map(|n| format!("{letter}{n}")).collect()
}
