//! Mapping a file's header row onto the columns an import knows.

use super::FileError;

/// A column an import reads.
#[derive(Debug)]
pub struct ColumnSpec {
    /// Stable key, also the English header (`id_number`).
    pub key: &'static str,
    /// The Chinese header written on export (`身份证号`).
    pub header_zh: &'static str,
    /// Other headers accepted on import (normalised: no spaces, lowercase).
    pub aliases: &'static [&'static str],
    /// Whether a file without this column is refused.
    pub required: bool,
}

/// Where each known column sits in a file, and what the file calls it.
#[derive(Clone, Debug)]
pub struct HeaderMap {
    positions: Vec<Option<usize>>,
    names: Vec<String>,
    width: usize,
}

/// Normalises a header cell: drops a BOM, spaces, `*` markers and parenthesised remarks
/// ("姓名（必填）", "身份证号*"), and lowercases ASCII.
pub fn normalise_header(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0u32;
    for c in text.trim_start_matches('\u{feff}').chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '*' | '＊' => {}
            c if c.is_whitespace() => {}
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

impl HeaderMap {
    /// Maps `header` onto `specs`; refuses a file missing required columns or naming one
    /// column twice.
    pub fn new(header: &[String], specs: &[ColumnSpec]) -> Result<HeaderMap, FileError> {
        let mut positions = vec![None; specs.len()];
        let mut names = vec![String::new(); specs.len()];
        for (column, text) in header.iter().enumerate() {
            let normalised = normalise_header(text);
            if normalised.is_empty() {
                continue;
            }
            let found = specs.iter().position(|spec| {
                normalised == spec.key
                    || normalised == normalise_header(spec.header_zh)
                    || spec.aliases.contains(&normalised.as_str())
            });
            if let Some(index) = found {
                if let Some(previous) = positions[index] {
                    return Err(FileError(format!(
                        "表头中“{}”出现了两次（第 {} 列和第 {} 列）(column {} appears twice: columns {} and {})",
                        specs[index].header_zh,
                        previous + 1,
                        column + 1,
                        specs[index].key,
                        previous + 1,
                        column + 1
                    )));
                }
                positions[index] = Some(column);
                names[index] = text.trim().trim_start_matches('\u{feff}').to_owned();
            }
        }
        let missing: Vec<&ColumnSpec> = specs
            .iter()
            .zip(&positions)
            .filter(|(spec, pos)| spec.required && pos.is_none())
            .map(|(s, _)| s)
            .collect();
        if !missing.is_empty() {
            let zh: Vec<&str> = missing.iter().map(|s| s.header_zh).collect();
            let en: Vec<&str> = missing.iter().map(|s| s.key).collect();
            let all: Vec<String> = specs
                .iter()
                .map(|s| format!("{} ({})", s.header_zh, s.key))
                .collect();
            return Err(FileError(format!(
                "缺少必需的列：{} (missing required columns: {}). 可识别的列 (known columns): {}",
                zh.join("、"),
                en.join(", "),
                all.join(", ")
            )));
        }
        Ok(HeaderMap {
            positions,
            names,
            width: header.len(),
        })
    }

    /// The file column holding spec `index`, if present.
    pub fn column_of(&self, index: usize) -> Option<usize> {
        self.positions[index]
    }

    /// The header text the file uses for spec `index` (its Chinese name if absent).
    pub fn name(&self, index: usize, specs: &[ColumnSpec]) -> String {
        if self.names[index].is_empty() {
            specs[index].header_zh.to_owned()
        } else {
            self.names[index].clone()
        }
    }

    /// Whether the file has the column of spec `index`.
    pub fn has(&self, index: usize) -> bool {
        self.positions[index].is_some()
    }

    /// Columns in the header row.
    pub fn width(&self) -> usize {
        self.width
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPECS: [ColumnSpec; 2] = [
        ColumnSpec {
            key: "name",
            header_zh: "姓名",
            aliases: &["教师姓名"],
            required: true,
        },
        ColumnSpec {
            key: "subject",
            header_zh: "任教学科",
            aliases: &["学科"],
            required: false,
        },
    ];

    fn header(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_match_in_chinese_english_or_alias_with_remarks_stripped() {
        let map = HeaderMap::new(
            &header(&["\u{feff}序号", "教师姓名（必填）", " Subject "]),
            &SPECS,
        )
        .unwrap();
        assert_eq!(map.column_of(0), Some(1));
        assert_eq!(map.column_of(1), Some(2));
        assert_eq!(map.name(0, &SPECS), "教师姓名（必填）");
    }

    #[test]
    fn a_missing_required_column_is_named_in_both_languages() {
        let err = HeaderMap::new(&header(&["学科"]), &SPECS).unwrap_err();
        assert!(
            err.0.contains("姓名") && err.0.contains("name"),
            "{}",
            err.0
        );
    }

    #[test]
    fn a_column_named_twice_is_refused() {
        let err = HeaderMap::new(&header(&["姓名", "name"]), &SPECS).unwrap_err();
        assert!(err.0.contains("twice"), "{}", err.0);
    }
}
